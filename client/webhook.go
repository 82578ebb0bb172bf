package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// EventType is the type of a webhook event.
type EventType string

// Webhook event types (SPEC 5).
const (
	// EventChargeSucceeded: a charge was paid; Data holds pay-result fields
	// (see [Event.PayResult]).
	EventChargeSucceeded EventType = "charge.succeeded"
	// EventChargeClosed: an unpaid charge was closed or expired; Data holds
	// pay-result fields.
	EventChargeClosed EventType = "charge.closed"
	// EventRefundSucceeded: a refund succeeded; Data holds refund-result
	// fields (see [Event.RefundResult]).
	EventRefundSucceeded EventType = "refund.succeeded"
	// EventRefundFailed: the channel refused a refund; Data holds
	// refund-result fields.
	EventRefundFailed EventType = "refund.failed"
	// EventRefundAbnormal: WeChat Pay could not pay a refund to the buyer
	// (status ABNORMAL; the money left the merchant's account). It is not
	// final: a person settles it in the merchant platform, then
	// EventRefundSucceeded or EventRefundFailed follows. Data holds
	// refund-result fields.
	EventRefundAbnormal EventType = "refund.abnormal"
)

// Webhook header names.
const (
	// WebhookKeyHeader carries the application's key; a server hosting
	// several applications uses it to choose the secret.
	WebhookKeyHeader = "key"
	// WebhookTimestampHeader carries the signing time in ms since the epoch.
	WebhookTimestampHeader = "timestamp"
	// WebhookSignHeader carries hex(HMAC-SHA256(secret, timestamp + "." + body)).
	WebhookSignHeader = "sign"
)

// DefaultTolerance is the largest accepted difference between a webhook's
// timestamp and the local clock when [VerifyWebhook] is given a tolerance
// of 0 or less.
const DefaultTolerance = 5 * time.Minute

// Errors of [VerifyWebhook] and [ParseWebhook]; compare with [errors.Is].
var (
	// ErrNotSigned: the timestamp or sign header is missing.
	ErrNotSigned = errors.New("paycenter webhook: missing timestamp or sign header")
	// ErrInvalidHeader: the timestamp header is not an integer number of
	// milliseconds.
	ErrInvalidHeader = errors.New("paycenter webhook: invalid timestamp header")
	// ErrInvalidSignature: the signature does not match the body, timestamp
	// and secret.
	ErrInvalidSignature = errors.New("paycenter webhook: signature does not match")
	// ErrTooOld: the timestamp is further from the local clock than the
	// tolerance (a replay, or a badly skewed clock).
	ErrTooOld = errors.New("paycenter webhook: timestamp outside the tolerance")
)

// Event is a webhook delivered by the pay center: POST, Content-Type
// application/json, body {"id","type","created","data"}.
type Event struct {
	// ID identifies the event; it stays the same on every retry of the
	// delivery, so drop events whose ID you have already handled.
	ID string `json:"id"`
	// Type is the kind of event.
	Type EventType `json:"type"`
	// Created is when the event happened, in ms since the epoch.
	Created int64 `json:"created"`
	// Data is the event's object: pay-result fields for charge events,
	// refund-result fields for refund events, attach included.
	Data json.RawMessage `json:"data"`
}

// PayResult decodes Data of a charge event.
func (e *Event) PayResult() (*PayResult, error) {
	var r PayResult
	if err := json.Unmarshal(e.Data, &r); err != nil {
		return nil, fmt.Errorf("paycenter webhook: decode %s data: %w", e.Type, err)
	}
	return &r, nil
}

// RefundResult decodes Data of a refund event.
func (e *Event) RefundResult() (*RefundResult, error) {
	var r RefundResult
	if err := json.Unmarshal(e.Data, &r); err != nil {
		return nil, fmt.Errorf("paycenter webhook: decode %s data: %w", e.Type, err)
	}
	return &r, nil
}

// ComputeWebhookSignature returns the webhook signature of payload signed
// at t: lower-case hex HMAC-SHA256(secret, timestampMs + "." + payload).
func ComputeWebhookSignature(t time.Time, payload []byte, secret string) string {
	return computeWebhookSignature(strconv.FormatInt(t.UnixMilli(), 10), payload, secret)
}

func computeWebhookSignature(ts string, payload []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(payload)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks that payload (the raw request body, unmodified) was
// signed by the pay center with secret, using the timestamp and sign
// headers, and that the timestamp is within tolerance of the local clock
// (tolerance ≤ 0 means [DefaultTolerance]). The comparison is constant-time.
//
// It returns nil, [ErrNotSigned], [ErrInvalidHeader], [ErrTooOld] or
// [ErrInvalidSignature]. Answer 2xx only after the event is handled; any
// other answer makes the pay center retry.
func VerifyWebhook(payload []byte, header http.Header, secret string, tolerance time.Duration) error {
	return verifyWebhookAt(payload, header, secret, tolerance, time.Now())
}

func verifyWebhookAt(payload []byte, header http.Header, secret string, tolerance time.Duration, now time.Time) error {
	ts := header.Get(WebhookTimestampHeader)
	sig := header.Get(WebhookSignHeader)
	if ts == "" || sig == "" {
		return ErrNotSigned
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrInvalidHeader
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrInvalidSignature
	}
	want, _ := hex.DecodeString(computeWebhookSignature(ts, payload, secret))
	if !hmac.Equal(got, want) {
		return ErrInvalidSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.UnixMilli(ms)); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	return nil
}

// ParseWebhook verifies payload as [VerifyWebhook] does and decodes the
// event.
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		payload, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//		...
//		ev, err := client.ParseWebhook(payload, r.Header, secret, 0)
//		if err != nil {
//			http.Error(w, "bad signature", http.StatusBadRequest)
//			return
//		}
//		...
//	}
func ParseWebhook(payload []byte, header http.Header, secret string, tolerance time.Duration) (*Event, error) {
	if err := VerifyWebhook(payload, header, secret, tolerance); err != nil {
		return nil, err
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("paycenter webhook: decode event: %w", err)
	}
	return &ev, nil
}

// UnsignedWebhook describes a webhook for [GenerateTestSignedWebhook].
type UnsignedWebhook struct {
	// Payload is the body; it is signed as is.
	Payload []byte
	// Secret is the application's secret.
	Secret string
	// Key is sent in the key header (optional).
	Key string
	// Timestamp is the signing time; zero means now.
	Timestamp time.Time
}

// SignedWebhook is a webhook signed by [GenerateTestSignedWebhook].
type SignedWebhook struct {
	UnsignedWebhook
	// Signature is the sign header's value.
	Signature string
	// Header holds the key, timestamp, sign and Content-Type headers, ready
	// to be copied into a test request.
	Header http.Header
}

// GenerateTestSignedWebhook signs a webhook as the pay center does, so
// merchants can test their webhook handlers without a pay center:
//
//	s := client.GenerateTestSignedWebhook(&client.UnsignedWebhook{Payload: body, Secret: secret})
//	req := httptest.NewRequest("POST", "/paycenter/webhook", bytes.NewReader(s.Payload))
//	req.Header = s.Header
func GenerateTestSignedWebhook(w *UnsignedWebhook) *SignedWebhook {
	s := &SignedWebhook{UnsignedWebhook: *w}
	if s.Timestamp.IsZero() {
		s.Timestamp = time.Now()
	}
	s.Signature = ComputeWebhookSignature(s.Timestamp, s.Payload, s.Secret)
	s.Header = http.Header{}
	s.Header.Set("Content-Type", "application/json")
	if s.Key != "" {
		s.Header.Set(WebhookKeyHeader, s.Key)
	}
	s.Header.Set(WebhookTimestampHeader, strconv.FormatInt(s.Timestamp.UnixMilli(), 10))
	s.Header.Set(WebhookSignHeader, s.Signature)
	return s
}
