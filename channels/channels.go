// Package channels defines the provider-neutral contract between the pay
// center and a payment channel (WeChat Pay, Alipay, the sandbox).
//
// A channel adapter is one package per provider (channels/alipay,
// channels/wechat, channels/sandbox) whose constructor takes a Config, does no
// network I/O and returns a value implementing [Channel]. Capabilities that
// not every provider has (active query, close, refund, refund query) are
// optional interfaces, checked when the pay center is built.
//
// The pay center never trusts an adapter with state: adapters translate
// between the wire formats of a provider and the types below, verify what the
// provider signed, and report outcomes. Deciding what an outcome means for a
// charge (and doing it exactly once) is the pay center's job.
package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a channel code of the pay center document (section 3.2).
type Code string

// The seven channel codes of the document.
const (
	WxNative Code = "WX_NATIVE" // WeChat Pay, scan a QR code (Native)
	WxJsapi  Code = "WX_JSAPI"  // WeChat Pay in the WeChat browser (JSAPI)
	WxApp    Code = "WX_APP"    // WeChat Pay in a mobile app
	WxMweb   Code = "WX_MWEB"   // WeChat Pay from a mobile browser (H5)
	AliWeb   Code = "ALI_WEB"   // Alipay, desktop website (page pay)
	AliApp   Code = "ALI_APP"   // Alipay in a mobile app
	AliWap   Code = "ALI_WAP"   // Alipay, mobile website (wap pay)
)

// Codes lists every channel code, WeChat first, in the document's order.
var Codes = []Code{WxNative, WxJsapi, WxApp, WxMweb, AliWeb, AliApp, AliWap}

// Valid reports whether c is one of the document's channel codes.
func (c Code) Valid() bool {
	for _, k := range Codes {
		if c == k {
			return true
		}
	}
	return false
}

// Provider is the family of the code: "wechat" or "alipay" ("" for an
// unknown code). Error codes 3000x belong to "wechat", 3010x to "alipay".
func (c Code) Provider() string {
	switch c {
	case WxNative, WxJsapi, WxApp, WxMweb:
		return ProviderWechat
	case AliWeb, AliApp, AliWap:
		return ProviderAlipay
	}
	return ""
}

// Provider names as they appear in callback paths.
const (
	ProviderWechat = "wechat"
	ProviderAlipay = "alipay"
)

// Params is the channelParams object returned to the merchant: the
// client-side payment parameters, with the field names of the document's
// JSON examples (codeUrl, appId, timeStamp, body, ...).
type Params map[string]string

// CreateRequest asks the channel to open an order for a charge.
type CreateRequest struct {
	AppID       string // the pay center application (not the channel's app id)
	Code        Code
	OutTradeNo  string
	TotalFee    int64 // fen
	Subject     string
	Body        string
	Description string
	ClientIP    string
	Attach      string
	ReturnURL   string    // may be empty
	OpenID      string    // WX_JSAPI payer
	ExpireAt    time.Time // absolute expiry of the charge
	// CallbackURL is PublicURL + BasePath + "/callbacks/{appId}/{provider}";
	// the adapter appends its own suffix (e.g. "/paynotify").
	CallbackURL string
	// Marker is the pay center's own token for this charge (at most 32
	// letters and digits). Adapters send it where the channel echoes a
	// value back (Alipay passback_params, WeChat Pay attach) and report the
	// echo in Payment.Marker, so that a payment is credited only to the
	// charge that was really paid.
	Marker string
}

// Payment is what a channel says about a charge, from a notification or an
// active query.
type Payment struct {
	OutTradeNo    string
	Status        PaymentStatus
	TotalFee      int64     // the amount the channel says was ordered/paid, fen
	TransactionID string    // the channel's trade number
	PaidAt        time.Time // the channel's payment time (zero when unpaid)
	// Marker is what the channel echoed of CreateRequest.Marker, valid when
	// HasMarker: answers that carry no echo (e.g. an Alipay query that does
	// not return passback_params) leave HasMarker false and the marker is
	// not checked.
	Marker    string
	HasMarker bool
}

// PaymentStatus is a normalised channel-side payment state.
type PaymentStatus string

// Channel-side payment states.
const (
	PaymentPending PaymentStatus = "PENDING" // not paid (yet)
	PaymentPaid    PaymentStatus = "PAID"    // money taken
	PaymentFailed  PaymentStatus = "FAILED"  // this attempt failed; the buyer may try again
	PaymentClosed  PaymentStatus = "CLOSED"  // closed at the channel, can no longer be paid
)

// RefundRequest asks the channel to refund part or all of a paid charge.
type RefundRequest struct {
	AppID       string
	Code        Code
	OutTradeNo  string
	OutRefundNo string // also the channel's refund number (out_request_no / out_refund_no)
	RefundFee   int64  // fen
	TotalFee    int64  // fen, the charge's total
	Reason      string
	CallbackURL string // as in CreateRequest
}

// Refund is what a channel says about a refund.
type Refund struct {
	OutTradeNo  string
	OutRefundNo string
	Status      RefundStatus
	RefundFee   int64     // fen, this refund's amount when the channel says it
	RefundedAt  time.Time // zero unless succeeded
	Message     string    // the channel's words for a failure
}

// RefundStatus is a normalised channel-side refund state.
type RefundStatus string

// Channel-side refund states.
const (
	RefundProcessing RefundStatus = "PROCESSING" // accepted, outcome not known yet
	RefundSucceeded  RefundStatus = "SUCCESS"    // money returned
	RefundFailed     RefundStatus = "FAILED"     // definitely not refunded
	// RefundAbnormal: the money left the merchant's account but could not
	// be credited to the buyer (WeChat Pay ABNORMAL, e.g. a cancelled bank
	// card). It is not final: the channel settles it later, after the
	// merchant acts in its console, as SUCCESS (or FAILED).
	RefundAbnormal RefundStatus = "ABNORMAL"
)

// NotificationKind tells what a verified notification is about.
type NotificationKind string

// Notification kinds.
const (
	NotifyPayment NotificationKind = "payment"
	NotifyRefund  NotificationKind = "refund"
)

// Notification is a verified asynchronous message from the channel.
type Notification struct {
	Kind    NotificationKind
	ID      string   // the channel's notification id, for audit (may be empty)
	Payment *Payment // for NotifyPayment
	Refund  *Refund  // for NotifyRefund
}

// Channel is the contract every adapter implements.
type Channel interface {
	// Provider is the name used in callback paths: "wechat", "alipay" or
	// "sandbox".
	Provider() string

	// Supports reports whether the adapter serves code.
	Supports(code Code) bool

	// Account identifies the merchant account at the provider whose number
	// space the channel's orders live in (Alipay: the app_id; WeChat Pay:
	// the mchid). Channels with the same Provider and Account share
	// out_trade_no and out_refund_no: the pay center keeps each number to
	// one charge (or refund) per account. "" means a separate number space
	// per pay center app (the sandbox).
	Account() string

	// Create opens an order at the channel and returns the client-side
	// channelParams. It must be safe to call again with the same request
	// (the pay center retries after an unknown outcome, with the same
	// OutTradeNo).
	Create(ctx context.Context, req *CreateRequest) (Params, error)

	// ParseNotification verifies and decodes a notification posted to
	// CallbackURL + path (path is what follows the provider in the URL,
	// e.g. "/web/paynotify"). It reads the body it needs; body holds the
	// raw bytes already read by the pay center for audit, and r.Body is
	// positioned at their start. A nil Notification with a nil error means
	// "verified, nothing to do" (acknowledged). A signature that does not
	// verify is an error matching ErrBadSignature (see SignatureError), so
	// that the metrics count it apart from a malformed body.
	ParseNotification(ctx context.Context, r *http.Request, path string) (*Notification, error)

	// Ack writes the channel's own answer to a notification: the success
	// answer when err is nil, otherwise a failure answer that makes the
	// channel retry. It never writes err's text verbatim when that could
	// carry secrets.
	Ack(w http.ResponseWriter, err error)
}

// OfflineCreator is implemented by channels whose Create makes no network
// call: the order is signed locally (Alipay's, handed to the buyer, opens
// the trade when submitted; the sandbox's). The pay center then calls
// Create before storing the charge, so that a create is one write; the
// parameters of a call whose charge is not stored (a concurrent duplicate)
// are simply dropped.
type OfflineCreator interface {
	CreatesOffline() bool
}

// Querier is implemented by channels that can be asked about a payment
// (active query).
type Querier interface {
	QueryPayment(ctx context.Context, appID string, code Code, outTradeNo string) (*Payment, error)
}

// Closer is implemented by channels that can close an unpaid order.
type Closer interface {
	// ClosePayment closes the order. Closing an order already closed, or one
	// the channel never saw and never will (no client-side parameters can
	// open it any more), is not an error. Closing a paid order returns
	// ErrAlreadyPaid. When the channel has no order yet but the parameters
	// already handed out can still open one (an Alipay trade is created when
	// the buyer opens the cashier), it returns ErrNotOpened.
	ClosePayment(ctx context.Context, appID string, code Code, outTradeNo string) error
}

// Refunder is implemented by channels that can refund.
type Refunder interface {
	Refund(ctx context.Context, req *RefundRequest) (*Refund, error)
}

// RefundQuerier is implemented by channels that can be asked about a refund.
type RefundQuerier interface {
	QueryRefund(ctx context.Context, req *RefundRequest) (*Refund, error)
}

// ErrAlreadyPaid is returned by ClosePayment when the channel says the order
// was paid.
var ErrAlreadyPaid = errors.New("channels: order already paid")

// ErrNotOpened is returned by ClosePayment when the channel has no order to
// close yet, while the client-side parameters handed out can still open
// (and pay) one until they expire. The pay center closes the charge locally
// and keeps asking the channel until the expiry has passed.
var ErrNotOpened = errors.New("channels: no order at the channel yet; the handed-out parameters can still open one")

// ErrBadSignature is matched (errors.Is) by ParseNotification's error
// when the notification's signature did not verify.
var ErrBadSignature = errors.New("channels: notification signature not verified")

// SignatureError returns an error with text msg that matches
// ErrBadSignature.
func SignatureError(msg string) error { return &signatureError{msg} }

type signatureError struct{ msg string }

func (e *signatureError) Error() string        { return e.msg }
func (e *signatureError) Is(target error) bool { return target == ErrBadSignature }

// Error is a definite answer from a channel: it understood the request and
// refused it. Any other error from an adapter means the outcome is unknown
// (timeout, network failure, unreadable answer) and the pay center will
// retry with the same numbers.
type Error struct {
	Code    string // the channel's error code, e.g. "ACQ.TRADE_NOT_EXIST"
	Message string // the channel's message, safe to show to the merchant
}

// Error implements error: the channel's code and message.
func (e *Error) Error() string {
	if e.Code == "" {
		return "channel: " + e.Message
	}
	return fmt.Sprintf("channel: %s: %s", e.Code, e.Message)
}

// IsDefinite reports whether err is a definite refusal by the channel
// (an *Error in its chain).
func IsDefinite(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
