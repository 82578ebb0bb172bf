package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"

	"github.com/gopaycenter/paycenter/channels"
)

// Errors returned by ParseNotification. Their texts are short and never
// contain the request, the body or key material.
var (
	ErrNotifyPath      = errors.New("wechat: unknown notification path")
	ErrNotifySignature = channels.SignatureError("wechat: notification signature not verified") // matches channels.ErrBadSignature
	ErrNotifyMalformed = errors.New("wechat: malformed notification")
	ErrNotifyDecrypt   = errors.New("wechat: notification could not be decrypted")
	ErrNotifyMerchant  = errors.New("wechat: notification is for another merchant or app")
	ErrNotifyState     = errors.New("wechat: notification state not accepted")
)

// RefundNotice is the decrypted resource of a refund notification
// (REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED); the SDK has no type for
// it.
type RefundNotice struct {
	MchID               string `json:"mchid"`
	OutTradeNo          string `json:"out_trade_no"`
	TransactionID       string `json:"transaction_id"`
	OutRefundNo         string `json:"out_refund_no"`
	RefundID            string `json:"refund_id"`
	RefundStatus        string `json:"refund_status"` // SUCCESS, CLOSED, ABNORMAL
	SuccessTime         string `json:"success_time,omitempty"`
	UserReceivedAccount string `json:"user_received_account,omitempty"`
	Amount              struct {
		Total       int64 `json:"total"`
		Refund      int64 `json:"refund"`
		PayerTotal  int64 `json:"payer_total"`
		PayerRefund int64 `json:"payer_refund"`
	} `json:"amount"`
}

// ParseNotification verifies (signature headers, 5-minute window),
// decrypts (AES-256-GCM with the APIv3 key) and decodes a notification
// posted to CallbackURL + path, where path is "/paynotify" (payment) or
// "/refundnotify" (refund). It checks mchid (and appid for payments)
// against the config. A payment notification must say trade_state SUCCESS.
//
// It never panics on a hostile body (the SDK does on a signed body without
// resource or with a nonce that is not 12 bytes; those become errors).
func (c *Channel) ParseNotification(ctx context.Context, r *http.Request, path string) (n *channels.Notification, err error) {
	var kind channels.NotificationKind
	switch path {
	case PayNotifyPath:
		kind = channels.NotifyPayment
	case RefundNotifyPath:
		kind = channels.NotifyRefund
	default:
		return nil, ErrNotifyPath
	}
	defer func() {
		if p := recover(); p != nil {
			n, err = nil, ErrNotifyMalformed
		}
	}()

	var raw json.RawMessage
	nreq, err := c.notify.ParseNotifyRequest(ctx, r, &raw)
	if err != nil {
		return nil, classifyNotifyError(err)
	}
	if kind == channels.NotifyPayment {
		return c.paymentNotice(nreq.ID, nreq.EventType, raw)
	}
	return c.refundNotice(nreq.ID, nreq.EventType, raw)
}

// paymentNotice reads the decrypted resource of payment notification id.
func (c *Channel) paymentNotice(id, event string, raw json.RawMessage) (*channels.Notification, error) {
	if !strings.HasPrefix(event, "TRANSACTION.") {
		return nil, fmt.Errorf("%w: event_type is not a payment event", ErrNotifyState)
	}
	var tx payments.Transaction
	if err := json.Unmarshal(raw, &tx); err != nil {
		return nil, ErrNotifyMalformed
	}
	if deref(tx.Mchid) != c.mchID || deref(tx.Appid) != c.appID {
		return nil, ErrNotifyMerchant
	}
	outTradeNo := deref(tx.OutTradeNo)
	if outTradeNo == "" || tx.Amount == nil || tx.Amount.Total == nil {
		return nil, fmt.Errorf("%w: out_trade_no or amount missing", ErrNotifyMalformed)
	}
	if state := deref(tx.TradeState); state != "SUCCESS" {
		return nil, fmt.Errorf("%w: trade_state %q", ErrNotifyState, truncate(state, 32))
	}
	paidAt, err := time.Parse(time.RFC3339, deref(tx.SuccessTime))
	if err != nil {
		return nil, fmt.Errorf("%w: success_time", ErrNotifyMalformed)
	}
	return &channels.Notification{Kind: channels.NotifyPayment, ID: id, Payment: &channels.Payment{
		OutTradeNo:    outTradeNo,
		Status:        channels.PaymentPaid,
		TotalFee:      *tx.Amount.Total,
		TransactionID: deref(tx.TransactionId),
		Marker:        deref(tx.Attach),
		HasMarker:     true,
		PaidAt:        paidAt,
	}}, nil
}

// refundNotice reads the decrypted resource of refund notification id.
func (c *Channel) refundNotice(id, event string, raw json.RawMessage) (*channels.Notification, error) {
	if !strings.HasPrefix(event, "REFUND.") {
		return nil, fmt.Errorf("%w: event_type is not a refund event", ErrNotifyState)
	}
	var rn RefundNotice
	if err := json.Unmarshal(raw, &rn); err != nil {
		return nil, ErrNotifyMalformed
	}
	if rn.MchID != c.mchID {
		return nil, ErrNotifyMerchant
	}
	if rn.OutRefundNo == "" || rn.OutTradeNo == "" {
		return nil, fmt.Errorf("%w: out_trade_no or out_refund_no missing", ErrNotifyMalformed)
	}
	status, msg, ok := refundStatus(rn.RefundStatus)
	if !ok || status == channels.RefundProcessing {
		return nil, fmt.Errorf("%w: refund_status %q", ErrNotifyState, truncate(rn.RefundStatus, 32))
	}
	rf := &channels.Refund{
		OutTradeNo:  rn.OutTradeNo,
		OutRefundNo: rn.OutRefundNo,
		Status:      status,
		RefundFee:   rn.Amount.Refund,
		Message:     msg,
	}
	if status == channels.RefundSucceeded {
		t, err := time.Parse(time.RFC3339, rn.SuccessTime)
		if err != nil {
			return nil, fmt.Errorf("%w: success_time", ErrNotifyMalformed)
		}
		rf.RefundedAt = t
	}
	return &channels.Notification{Kind: channels.NotifyRefund, ID: id, Refund: rf}, nil
}

// classifyNotifyError maps the SDK's error (whose text embeds the whole
// request) to one of the short sentinel errors.
func classifyNotifyError(err error) error {
	s := err.Error()
	switch {
	case strings.HasPrefix(s, "unsupported Wechatpay-Signature-Type"):
		return fmt.Errorf("%w: unsupported signature type", ErrNotifySignature)
	case strings.HasPrefix(s, "invalid notification"):
		if strings.Contains(s, "expires") {
			return fmt.Errorf("%w: timestamp outside the 5-minute window", ErrNotifySignature)
		}
		if strings.Contains(s, "is empty in header") {
			return fmt.Errorf("%w: signature headers missing", ErrNotifySignature)
		}
		return ErrNotifySignature
	case strings.HasPrefix(s, "read request body"):
		return fmt.Errorf("%w: body unreadable", ErrNotifyMalformed)
	case strings.HasPrefix(s, "parse request body"):
		return fmt.Errorf("%w: body is not the notification envelope", ErrNotifyMalformed)
	case strings.HasPrefix(s, "possible invalid notification"):
		return fmt.Errorf("%w: unsupported resource algorithm", ErrNotifyMalformed)
	case strings.Contains(s, "decrypt error"):
		return ErrNotifyDecrypt
	case strings.HasPrefix(s, "unmarshal plaintext"):
		return fmt.Errorf("%w: plaintext is not JSON", ErrNotifyMalformed)
	}
	return ErrNotifyMalformed
}

// ackFailMessage is the only text a failure answer carries.
const ackFailMessage = "notification not accepted"

// Ack answers a notification the way WeChat Pay expects: 204 No Content
// when err is nil; otherwise 500 with {"code":"FAIL","message":...} (a
// short generic message, never err's text) so that WeChat Pay retries.
func (c *Channel) Ack(w http.ResponseWriter, err error) {
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(`{"code":"FAIL","message":"` + ackFailMessage + `"}`))
}
