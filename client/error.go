package client

import (
	"errors"
	"fmt"
)

// Error codes of the pay center (SPEC 2.2; the document's appendix §3.1).
// They are the values of [Error.Code].
const (
	// CodeInternal (10001): internal server error.
	CodeInternal = 10001
	// CodeMethodNotAllowed (10002): wrong request method (GET/POST).
	CodeMethodNotAllowed = 10002
	// CodeInvalidKey (10003): the application key is unknown.
	CodeInvalidKey = 10003
	// CodeInvalidSign (10004): the signature check failed, or the app
	// requires signature v2 and the request was signed with v1.
	CodeInvalidSign = 10004
	// CodeExpired (10005): the request has expired (timestamp + expires is
	// past, or the timestamp is too far in the future), or a v2 nonce was
	// replayed.
	CodeExpired = 10005
	// CodeMissingParam (10006): a required parameter is missing; the message
	// names it.
	CodeMissingParam = 10006
	// CodeInvalidParam (10007): a parameter is invalid; the message names
	// it and the rule.
	CodeInvalidParam = 10007
	// CodeNotFound (10008): the resource (charge, refund) does not exist.
	CodeNotFound = 10008
	// CodeOverThreshold (10009): data over threshold, e.g. a refund larger
	// than the refundable balance of the charge.
	CodeOverThreshold = 10009

	// CodeChannelNotSupported (20001): the channel is not supported or not
	// configured for the application.
	CodeChannelNotSupported = 20001
	// CodeInsufficientBalance (20002): insufficient balance.
	CodeInsufficientBalance = 20002
	// CodeOrderExists (20003): the order already exists with different
	// parameters, or is already paid or closed (the message says which).
	CodeOrderExists = 20003
	// CodeInProgress (20004, extension): another request with the same
	// outTradeNo (create) or outRefundNo (refund) is still being processed;
	// retry later with the same parameters.
	CodeInProgress = 20004
	// CodeNotPaid (20005, extension): the order is not paid (e.g. a refund
	// of an unpaid order).
	CodeNotPaid = 20005
	// CodeOrderClosed (20006, extension): the order expired unpaid (a create
	// resubmitted after its expiry); use a new outTradeNo.
	CodeOrderClosed = 20006

	// CodeWxCreateFailed (30001): WeChat Pay's unified order failed; the
	// message carries the channel's reason.
	CodeWxCreateFailed = 30001
	// CodeWxQueryFailed (30002): WeChat Pay's order query failed.
	CodeWxQueryFailed = 30002
	// CodeWxRefundFailed (30003): WeChat Pay refused the refund.
	CodeWxRefundFailed = 30003
	// CodeWxNotifyFailed (30004): WeChat Pay's payment notification failed.
	CodeWxNotifyFailed = 30004

	// CodeAliCreateFailed (30101): Alipay's order creation failed.
	CodeAliCreateFailed = 30101
	// CodeAliQueryFailed (30102): Alipay's order query failed.
	CodeAliQueryFailed = 30102
	// CodeAliRefundFailed (30103): Alipay refused the refund.
	CodeAliRefundFailed = 30103
	// CodeAliNotifyFailed (30104): Alipay's payment notification failed.
	CodeAliNotifyFailed = 30104
)

// Error is a failure answered by the pay center, or an answer the client
// could not understand.
//
// For an error envelope ({"requestId","errorCode","errorMsg"}) Code is the
// errorCode (one of the Code... constants), Msg the errorMsg and RequestID
// the requestId. For an answer that is not HTTP 200 or not a valid envelope,
// Code is 0, HTTPStatus is the HTTP status, Msg says what was wrong, and
// RequestID is taken from the X-Request-Id header when present.
//
// Use [errors.As] to get it:
//
//	var pe *client.Error
//	if errors.As(err, &pe) && pe.Code == client.CodeOrderExists { ... }
type Error struct {
	// Code is the pay center's errorCode, or 0 when the answer was not an
	// error envelope.
	Code int
	// Msg is the pay center's errorMsg, or the client's description of an
	// unusable answer.
	Msg string
	// RequestID is the server's requestId (0 when unknown); quote it when
	// reporting a problem.
	RequestID int64
	// HTTPStatus is the HTTP status of the answer (200 for error envelopes).
	HTTPStatus int
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("paycenter: %s (HTTP %d, requestId %d)", e.Msg, e.HTTPStatus, e.RequestID)
	}
	return fmt.Sprintf("paycenter: errorCode %d: %s (requestId %d)", e.Code, e.Msg, e.RequestID)
}

// IsCode reports whether err is (or wraps) an [*Error] with the given code.
func IsCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
