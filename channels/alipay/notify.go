package alipay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/gopaycenter/paycenter/channels"
)

// ErrInvalidNotification matches (with errors.Is) every error by which
// ParseNotification rejects a notification: the more specific errors below
// all match it too.
var ErrInvalidNotification = errors.New("alipay: invalid notification")

// Specific rejections of ParseNotification. Each also matches
// ErrInvalidNotification. Wrapped errors add the name of the field (never
// its value).
var (
	ErrUnknownPath     = rejection("unknown notification path")
	ErrMalformedBody   = rejection("malformed form body")
	ErrBadSignature    = rejection("signature verification failed")
	ErrAppIDMismatch   = rejection("app_id is not this application's")
	ErrSellerMismatch  = rejection("seller_id is not this merchant's")
	ErrMissingField    = rejection("missing field")
	ErrMalformedField  = rejection("malformed field")
	ErrUnexpectedState = rejection("trade_status not acceptable")
	ErrNotifyType      = rejection("unexpected notify_type")
)

type rejectionError struct{ msg string }

func rejection(msg string) error { return &rejectionError{msg: msg} }

// Error names the rejection (never the offending value).
func (e *rejectionError) Error() string { return "alipay: invalid notification: " + e.msg }

// Is makes every rejection match ErrInvalidNotification, and
// ErrBadSignature match channels.ErrBadSignature.
func (e *rejectionError) Is(target error) bool {
	return target == ErrInvalidNotification || (target == channels.ErrBadSignature && error(e) == ErrBadSignature)
}

func fieldErr(kind error, field string) error { return fmt.Errorf("%w: %s", kind, field) }

// notifyPaths are the paths (after the provider) a notification may arrive
// on, one per channel.
var notifyPaths = map[string]bool{"/web/paynotify": true, "/wap/paynotify": true, "/app/paynotify": true}

// ParseNotification verifies and decodes an asynchronous notification
// (trade_status_sync) posted to CallbackURL + path. Only the form body is
// read and verified (a query string on the URL is ignored). After the RSA2
// signature it checks app_id and, when configured, seller_id.
//
// A notification carrying out_biz_no is a refund notification (out_biz_no is
// the refund's out_request_no); otherwise TRADE_SUCCESS / TRADE_FINISHED
// mean paid and TRADE_CLOSED means closed. Anything else, WAIT_BUYER_PAY
// included, is rejected. Whether the trade exists for the app and its amount
// is the charge's is the pay center's check, not the adapter's.
func (c *Channel) ParseNotification(ctx context.Context, r *http.Request, path string) (*channels.Notification, error) {
	if !notifyPaths[path] {
		return nil, ErrUnknownPath
	}
	values, err := c.notifyForm(r)
	if err != nil {
		return nil, err
	}
	n, err := c.client.DecodeNotification(ctx, values)
	if err != nil {
		return nil, ErrBadSignature
	}
	if n.AppId != c.cfg.AppID {
		return nil, ErrAppIDMismatch
	}
	if c.cfg.SellerID != "" && n.SellerId != c.cfg.SellerID {
		return nil, ErrSellerMismatch
	}
	if n.NotifyType != sdk.NotifyTypeTradeStatusSync {
		return nil, ErrNotifyType
	}
	if n.OutTradeNo == "" {
		return nil, fieldErr(ErrMissingField, "out_trade_no")
	}

	if n.OutBizNo != "" {
		return refundNotification(n)
	}
	switch n.TradeStatus {
	case sdk.TradeStatusSuccess, sdk.TradeStatusFinished:
		return paidNotification(n)
	case sdk.TradeStatusClosed:
		return &channels.Notification{
			Kind: channels.NotifyPayment,
			ID:   n.NotifyId,
			Payment: &channels.Payment{
				OutTradeNo:    n.OutTradeNo,
				Status:        channels.PaymentClosed,
				TransactionID: n.TradeNo,
				Marker:        passbackMarker(n.PassbackParams),
				HasMarker:     true,
			},
		}, nil
	case "":
		return nil, fieldErr(ErrMissingField, "trade_status")
	}
	return nil, ErrUnexpectedState
}

// notifyForm reads the posted form of a notification for the SDK to
// verify: each field the pay center reads given once, and alipay_cert_sn
// (not signed) kept only when it is this app's.
func (c *Channel) notifyForm(r *http.Request) (url.Values, error) {
	if r == nil || r.Method != http.MethodPost {
		return nil, ErrMalformedBody
	}
	if err := r.ParseForm(); err != nil {
		return nil, ErrMalformedBody
	}
	values := make(url.Values, len(r.PostForm))
	for k, v := range r.PostForm {
		values[k] = v
	}
	if values.Get("sign") == "" {
		return nil, fieldErr(ErrMissingField, "sign")
	}
	for _, k := range []string{"sign", "app_id", "out_trade_no", "trade_status", "out_biz_no", "alipay_cert_sn"} {
		if len(values[k]) > 1 {
			return nil, fieldErr(ErrMalformedField, k)
		}
	}
	if !c.certMode {
		// Not part of the signed content; in public-key mode it could only
		// make the SDK look for (and, in production, download) a certificate.
		delete(values, "alipay_cert_sn")
	} else if sn := values.Get("alipay_cert_sn"); sn != "" && sn != c.certSN {
		// An unknown serial would make the SDK download a certificate from
		// the gateway (unverified, holding its lock): anyone could trigger
		// that with an unsigned post.
		return nil, ErrBadSignature
	}
	return values, nil
}

func paidNotification(n *sdk.Notification) (*channels.Notification, error) {
	if n.TradeNo == "" {
		return nil, fieldErr(ErrMissingField, "trade_no")
	}
	if n.TotalAmount == "" {
		return nil, fieldErr(ErrMissingField, "total_amount")
	}
	fee, err := ParseAmount(n.TotalAmount)
	if err != nil || fee <= 0 {
		return nil, fieldErr(ErrMalformedField, "total_amount")
	}
	if n.GmtPayment == "" {
		return nil, fieldErr(ErrMissingField, "gmt_payment")
	}
	paidAt, err := parseTime(n.GmtPayment)
	if err != nil {
		return nil, fieldErr(ErrMalformedField, "gmt_payment")
	}
	return &channels.Notification{
		Kind: channels.NotifyPayment,
		ID:   n.NotifyId,
		Payment: &channels.Payment{
			OutTradeNo:    n.OutTradeNo,
			Status:        channels.PaymentPaid,
			TotalFee:      fee,
			TransactionID: n.TradeNo,
			PaidAt:        paidAt,
			// Alipay echoes passback_params in every notification of a trade
			// opened with it, so an absent marker is a mismatch.
			Marker:    passbackMarker(n.PassbackParams),
			HasMarker: true,
		},
	}, nil
}

func refundNotification(n *sdk.Notification) (*channels.Notification, error) {
	switch n.TradeStatus {
	case sdk.TradeStatusSuccess, sdk.TradeStatusClosed, sdk.TradeStatusFinished:
	case "":
		return nil, fieldErr(ErrMissingField, "trade_status")
	default:
		return nil, ErrUnexpectedState
	}
	if n.GmtRefund == "" {
		return nil, fieldErr(ErrMissingField, "gmt_refund")
	}
	at, err := parseTime(n.GmtRefund)
	if err != nil {
		return nil, fieldErr(ErrMalformedField, "gmt_refund")
	}
	// refund_fee is the trade's cumulative refunded amount, not this
	// refund's: checked for form, not reported as RefundFee.
	if n.RefundFee != "" {
		if _, err := ParseAmount(n.RefundFee); err != nil {
			return nil, fieldErr(ErrMalformedField, "refund_fee")
		}
	}
	return &channels.Notification{
		Kind: channels.NotifyRefund,
		ID:   n.NotifyId,
		Refund: &channels.Refund{
			OutTradeNo:  n.OutTradeNo,
			OutRefundNo: n.OutBizNo,
			Status:      channels.RefundSucceeded,
			RefundedAt:  at,
		},
	}, nil
}

// Ack answers Alipay: HTTP 200 with the body exactly "success" when err is
// nil; otherwise the body "fail" (HTTP 400 for a rejected notification, 500
// for anything else), which makes Alipay retry. err's text is never written.
func (c *Channel) Ack(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err == nil {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("success"))
		return
	}
	status := http.StatusInternalServerError
	if errors.Is(err, ErrInvalidNotification) {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("fail"))
}
