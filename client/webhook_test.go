package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/hooks"
)

const webhookBody = `{"id":"evt_01","type":"charge.succeeded","created":1508401466000,"data":{"channel":"WX_NATIVE","outTradeNo":"o1","hasPay":true,"payTime":1508401466000,"returnUrl":null,"attach":"a1","status":"PAID","totalFee":100}}`

// refWebhookSign computes the webhook signature from SPEC 5 directly.
func refWebhookSign(ts string, body, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + body))
	return hex.EncodeToString(m.Sum(nil))
}

func signedHeader(ts time.Time, body, secret string) http.Header {
	h := http.Header{}
	ms := strconv.FormatInt(ts.UnixMilli(), 10)
	h.Set("key", testKey)
	h.Set("timestamp", ms)
	h.Set("sign", refWebhookSign(ms, body, secret))
	return h
}

func TestVerifyWebhook(t *testing.T) {
	now := time.Now()
	valid := signedHeader(now, webhookBody, testSecret)
	without := func(name string) http.Header {
		h := valid.Clone()
		h.Del(name)
		return h
	}
	with := func(name, v string) http.Header {
		h := valid.Clone()
		h.Set(name, v)
		return h
	}
	for _, tc := range []struct {
		name      string
		body      string
		header    http.Header
		secret    string
		tolerance time.Duration
		want      error
	}{
		{"valid", webhookBody, valid, testSecret, 0, nil},
		{"valid, key header not needed", webhookBody, without("key"), testSecret, 0, nil},
		{"valid, upper-case hex", webhookBody, with("sign", hexUpper(valid.Get("sign"))), testSecret, 0, nil},
		{"tampered body", webhookBody[:len(webhookBody)-2] + "0}}", valid, testSecret, 0, ErrInvalidSignature},
		{"wrong secret", webhookBody, valid, "another-secret", 0, ErrInvalidSignature},
		{"tampered timestamp", webhookBody, with("timestamp", strconv.FormatInt(now.UnixMilli()+1, 10)), testSecret, 0, ErrInvalidSignature},
		{"sign not hex", webhookBody, with("sign", "zz"), testSecret, 0, ErrInvalidSignature},
		{"too old", webhookBody, signedHeader(now.Add(-6*time.Minute), webhookBody, testSecret), testSecret, 0, ErrTooOld},
		{"too far in the future", webhookBody, signedHeader(now.Add(6*time.Minute), webhookBody, testSecret), testSecret, 0, ErrTooOld},
		{"old but within a larger tolerance", webhookBody, signedHeader(now.Add(-6*time.Minute), webhookBody, testSecret), testSecret, 10 * time.Minute, nil},
		{"recent but outside a smaller tolerance", webhookBody, signedHeader(now.Add(-2*time.Minute), webhookBody, testSecret), testSecret, time.Minute, ErrTooOld},
		{"missing sign", webhookBody, without("sign"), testSecret, 0, ErrNotSigned},
		{"missing timestamp", webhookBody, without("timestamp"), testSecret, 0, ErrNotSigned},
		{"no headers", webhookBody, http.Header{}, testSecret, 0, ErrNotSigned},
		{"timestamp not a number", webhookBody, with("timestamp", "yesterday"), testSecret, 0, ErrInvalidHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook([]byte(tc.body), tc.header, tc.secret, tc.tolerance)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("VerifyWebhook = %v, want %v", err, tc.want)
			}
			ev, perr := ParseWebhook([]byte(tc.body), tc.header, tc.secret, tc.tolerance)
			if tc.want != nil && (ev != nil || !errors.Is(perr, tc.want)) {
				t.Errorf("ParseWebhook = %v, %v; want nil, %v", ev, perr, tc.want)
			}
		})
	}
}

func hexUpper(s string) string {
	b, _ := hex.DecodeString(s)
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestParseWebhook(t *testing.T) {
	ev, err := ParseWebhook([]byte(webhookBody), signedHeader(time.Now(), webhookBody, testSecret), testSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "evt_01" || ev.Type != EventChargeSucceeded || ev.Created != 1508401466000 {
		t.Errorf("Event = %+v", ev)
	}
	pr, err := ev.PayResult()
	if err != nil {
		t.Fatal(err)
	}
	if !pr.HasPay || pr.OutTradeNo != "o1" || pr.Attach != "a1" || pr.TotalFee != 100 || pr.Status != StatusPaid ||
		pr.PayTime == nil || pr.PayTime.UnixMilli() != 1508401466000 || pr.ReturnURL != nil {
		t.Errorf("PayResult = %+v", pr)
	}

	body := `{"id":"evt_02","type":"refund.succeeded","created":1,"data":{"outTradeNo":"o1","outRefundNo":"r1","refundFee":40,"status":"SUCCESS","refundTime":1508401466000}}`
	ev, err = ParseWebhook([]byte(body), signedHeader(time.Now(), body, testSecret), testSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := ev.RefundResult()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != EventRefundSucceeded || rr.RefundFee != 40 || rr.Status != RefundSuccess || rr.RefundTime == nil {
		t.Errorf("refund event = %+v, %+v", ev, rr)
	}

	// Signed but not JSON: a decode error, not a signature error.
	junk := "not json"
	_, err = ParseWebhook([]byte(junk), signedHeader(time.Now(), junk, testSecret), testSecret, 0)
	if err == nil || errors.Is(err, ErrInvalidSignature) {
		t.Errorf("ParseWebhook(junk) = %v", err)
	}
}

func TestGenerateTestSignedWebhook(t *testing.T) {
	at := time.UnixMilli(1508401466123)
	s := GenerateTestSignedWebhook(&UnsignedWebhook{Payload: []byte(webhookBody), Secret: testSecret, Key: testKey, Timestamp: at})
	if want := refWebhookSign("1508401466123", webhookBody, testSecret); s.Signature != want || s.Header.Get("sign") != want {
		t.Errorf("signature %q / header %q, SPEC 5 rule gives %q", s.Signature, s.Header.Get("sign"), want)
	}
	if s.Header.Get("timestamp") != "1508401466123" || s.Header.Get("key") != testKey || s.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", s.Header)
	}
	// An old timestamp verifies only with a tolerance that covers it.
	if err := VerifyWebhook(s.Payload, s.Header, testSecret, 0); !errors.Is(err, ErrTooOld) {
		t.Errorf("old generated payload: %v, want ErrTooOld", err)
	}
	if err := verifyWebhookAt(s.Payload, s.Header, testSecret, time.Second, at.Add(500*time.Millisecond)); err != nil {
		t.Errorf("generated payload does not verify at its time: %v", err)
	}

	// Zero timestamp: now, so it verifies with the default tolerance.
	fresh := GenerateTestSignedWebhook(&UnsignedWebhook{Payload: []byte(webhookBody), Secret: testSecret})
	if fresh.Timestamp.IsZero() {
		t.Error("Timestamp not filled in")
	}
	if _, err := ParseWebhook(fresh.Payload, fresh.Header, testSecret, 0); err != nil {
		t.Errorf("fresh generated payload: %v", err)
	}
	if fresh.Header.Get("key") != "" {
		t.Error("key header set without Key")
	}
	if err := VerifyWebhook(fresh.Payload, fresh.Header, "other", 0); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("wrong secret: %v", err)
	}
}

// TestEventTypesAreTheServers: every event type the server emits has its
// constant here, spelled the same.
func TestEventTypesAreTheServers(t *testing.T) {
	for server, ours := range map[string]EventType{
		hooks.ChargeSucceeded: EventChargeSucceeded,
		hooks.ChargeClosed:    EventChargeClosed,
		hooks.RefundSucceeded: EventRefundSucceeded,
		hooks.RefundFailed:    EventRefundFailed,
		hooks.RefundAbnormal:  EventRefundAbnormal,
	} {
		if string(ours) != server {
			t.Errorf("client event type %q, server %q", ours, server)
		}
	}
}
