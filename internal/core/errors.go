package core

import (
	"errors"
	"fmt"
)

// Error codes. 10001–10009, 20001–20003, 30001–30004 and 30101–30104 are the
// document's (section 3.1); 20004–20006 are extensions.
const (
	CodeInternal       = 10001 // internal server error
	CodeMethod         = 10002 // wrong request method
	CodeInvalidKey     = 10003 // invalid app key
	CodeBadSign        = 10004 // signature check failed
	CodeExpired        = 10005 // request expired (or nonce replayed)
	CodeMissing        = 10006 // required parameter missing
	CodeInvalid        = 10007 // invalid parameter
	CodeNotFound       = 10008 // resource does not exist
	CodeOverLimit      = 10009 // data over threshold (refund over the refundable balance)
	CodeNoChannel      = 20001 // channel not supported (for this app)
	CodeBalance        = 20002 // insufficient balance
	CodeExists         = 20003 // order already exists (with other parameters, or paid/closed)
	CodeInProgress     = 20004 // extension: the same outTradeNo/outRefundNo is being processed; retry
	CodeNotPaid        = 20005 // extension: the order is not paid (refund of an unpaid or closed charge)
	CodeClosed         = 20006 // extension: the order has expired (create resubmitted after expiry)
	CodeWechatOrder    = 30001 // WeChat order failed
	CodeWechatQuery    = 30002 // WeChat order query (or close) failed
	CodeWechatRefund   = 30003 // WeChat refund failed
	CodeWechatNotify   = 30004 // WeChat notification failed
	CodeAlipayOrder    = 30101 // Alipay order failed
	CodeAlipayQuery    = 30102 // Alipay order query (or close) failed
	CodeAlipayRefund   = 30103 // Alipay refund failed
	CodeAlipayNotify   = 30104 // Alipay notification failed
	codeProviderOffset = 100   // Alipay codes are WeChat's + 100
)

// Error is the error type of the pay center: a document error code and a
// message for the merchant that names the parameter and the rule. Err, when
// set, is the internal cause; it is logged, never shown.
type Error struct {
	Code int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("paycenter %d: %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("paycenter %d: %s", e.Code, e.Msg)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by code, so errors.Is(err, &Error{Code: 10009})
// works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Msg == ""
}

func newErr(code int, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func missing(param string) *Error {
	return newErr(CodeMissing, "%s is required", param)
}

func invalid(param, rule string, args ...any) *Error {
	return newErr(CodeInvalid, "%s %s", param, fmt.Sprintf(rule, args...))
}

// internal wraps an unexpected failure as 10001; the cause is logged by the
// renderer and never shown.
func internal(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Msg: "internal error; it has been logged, please retry", Err: err}
}

// AsError returns err as an *Error, wrapping anything else as 10001.
func AsError(err error) *Error { return internal(err) }

// providerCode maps a WeChat code (3000x) to the provider's own.
func providerCode(provider string, wechatCode int) int {
	if provider == "alipay" {
		return wechatCode + codeProviderOffset
	}
	return wechatCode
}
