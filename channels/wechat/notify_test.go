package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
)

func ptr(s string) *string { return &s }

// paidOrder creates and pays an order at the fake.
func paidOrder(t *testing.T, srv *wechattest.Server, ch *wechat.Channel, no string, fee int64) wechattest.Order {
	t.Helper()
	if _, err := ch.Create(context.Background(), createReq(channels.WxNative, no, fee)); err != nil {
		t.Fatal(err)
	}
	o, err := srv.Pay(no)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func parse(t *testing.T, srv *wechattest.Server, ch *wechat.Channel, path string, n wechattest.Notification) (*channels.Notification, error) {
	t.Helper()
	r := srv.NotificationRequest(callback+path, n)
	return ch.ParseNotification(context.Background(), r, path)
}

func TestParseValidNotifications(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := wechattest.NewServer(t)
			ch := newChannel(t, srv, mode)
			o := paidOrder(t, srv, ch, "V0000001", 888)

			n, err := parse(t, srv, ch, "/paynotify", srv.PaymentNotification("V0000001", mode))
			if err != nil {
				t.Fatalf("payment: %v", err)
			}
			if n.Kind != channels.NotifyPayment || n.ID == "" || n.Payment == nil {
				t.Fatalf("payment notification = %+v", n)
			}
			want := channels.Payment{OutTradeNo: "V0000001", Status: channels.PaymentPaid, TotalFee: 888, TransactionID: o.TransactionID,
				Marker: "mkV0000001", HasMarker: true}
			got := *n.Payment
			if !got.PaidAt.Equal(o.SuccessTime) {
				t.Errorf("PaidAt = %v, want %v", got.PaidAt, o.SuccessTime)
			}
			got.PaidAt = time.Time{}
			if got != want {
				t.Errorf("payment = %+v, want %+v", got, want)
			}

			// Refund notifications: SUCCESS, CLOSED, ABNORMAL.
			ctx := context.Background()
			for i, st := range []string{wechattest.RefundSuccess, wechattest.RefundClosed, wechattest.RefundAbnormal} {
				no := "VR00000" + string(rune('1'+i))
				rr := &channels.RefundRequest{OutTradeNo: "V0000001", OutRefundNo: no, RefundFee: 100, TotalFee: 888, CallbackURL: callback}
				if _, err := ch.Refund(ctx, rr); err != nil {
					t.Fatal(err)
				}
				fr, _ := srv.SettleRefund(no, st)
				n, err := parse(t, srv, ch, "/refundnotify", srv.RefundNotification(no, mode))
				if err != nil {
					t.Fatalf("refund %s: %v", st, err)
				}
				if n.Kind != channels.NotifyRefund || n.Refund == nil || n.Refund.OutRefundNo != no ||
					n.Refund.OutTradeNo != "V0000001" || n.Refund.RefundFee != 100 {
					t.Fatalf("refund notification = %+v %+v", n, n.Refund)
				}
				wantStatus := channels.RefundFailed
				if st == wechattest.RefundAbnormal {
					wantStatus = channels.RefundAbnormal
				}
				if st == wechattest.RefundSuccess {
					wantStatus = channels.RefundSucceeded
					if !n.Refund.RefundedAt.Equal(fr.SuccessTime) {
						t.Errorf("RefundedAt = %v", n.Refund.RefundedAt)
					}
				}
				if n.Refund.Status != wantStatus {
					t.Errorf("%s → %s, want %s", st, n.Refund.Status, wantStatus)
				}
			}
		})
	}
}

// TestForgedNotifications: every forged, mismatched or malformed
// notification is rejected with a short error, and none panics.
func TestForgedNotifications(t *testing.T) {
	srv := wechattest.NewServer(t)
	chPub := newChannel(t, srv, wechattest.PublicKeyMode)
	chCert := newChannel(t, srv, wechattest.CertMode)
	paidOrder(t, srv, chPub, "F0000001", 500)
	unpaid := "F0000002"
	if _, err := chPub.Create(context.Background(), createReq(channels.WxJsapi, unpaid, 600)); err != nil {
		t.Fatal(err)
	}
	if _, err := chPub.Refund(context.Background(), &channels.RefundRequest{OutTradeNo: "F0000001", OutRefundNo: "FR000001", RefundFee: 100, TotalFee: 500}); err != nil {
		t.Fatal(err)
	}
	srv.SettleRefund("FR000001", wechattest.RefundSuccess)

	pay := func() wechattest.Notification { return srv.PaymentNotification("F0000001", wechattest.PublicKeyMode) }
	refund := func() wechattest.Notification { return srv.RefundNotification("FR000001", wechattest.PublicKeyMode) }
	plain := func(n wechattest.Notification, edit func(m map[string]any)) wechattest.Notification {
		var m map[string]any
		if err := json.Unmarshal(n.Plaintext, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		n.Plaintext, _ = json.Marshal(m)
		return n
	}
	with := func(n wechattest.Notification, edit func(n *wechattest.Notification)) wechattest.Notification {
		edit(&n)
		return n
	}

	// A valid pair, to show the corpus below differs only by the forgery.
	for _, ch := range []*wechat.Channel{chPub} {
		if _, err := parse(t, srv, ch, "/paynotify", pay()); err != nil {
			t.Fatalf("control payment: %v", err)
		}
		if _, err := parse(t, srv, ch, "/refundnotify", refund()); err != nil {
			t.Fatalf("control refund: %v", err)
		}
	}

	type tc struct {
		name string
		ch   *wechat.Channel
		path string
		n    wechattest.Notification
		want error
	}
	cases := []tc{
		{"bad signature", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.BadSignature = true }), wechat.ErrNotifySignature},
		{"signed by another key", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.SignWith = srv.Keys.Other }), wechat.ErrNotifySignature},
		{"merchant key instead of WeChat's", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.SignWith = srv.Keys.Merchant }), wechat.ErrNotifySignature},
		{"stale timestamp", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Timestamp = time.Now().Add(-6 * time.Minute) }), wechat.ErrNotifySignature},
		{"future timestamp", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Timestamp = time.Now().Add(6 * time.Minute) }), wechat.ErrNotifySignature},
		{"unknown serial", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Serial = "PUB_KEY_ID_0000000000000000000000000000000000" }), wechat.ErrNotifySignature},
		{"unknown certificate serial", chCert, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Mode = wechattest.CertMode; n.Serial = "1A2B3C" }), wechat.ErrNotifySignature},
		{"public-key signature to cert-mode channel", chCert, "/paynotify", pay(), wechat.ErrNotifySignature},
		{"cert key under the public key id", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.SignWith = srv.Keys.Platform }), wechat.ErrNotifySignature},
		{"no signature headers", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.OmitHeaders = true }), wechat.ErrNotifySignature},
		{"unsupported signature type", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.SignatureType = "WECHATPAY2-SM2-WITH-SM3" }), wechat.ErrNotifySignature},
		{"wrong APIv3 key (bad GCM tag)", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.APIv3Key = strings.Repeat("k", 32) }), wechat.ErrNotifyDecrypt},
		{"tampered associated data", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.TamperAD = ptr("refund") }), wechat.ErrNotifyDecrypt},
		{"missing resource (SDK would panic)", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.OmitResource = true }), wechat.ErrNotifyMalformed},
		{"8-byte nonce (SDK would panic)", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Nonce = ptr("12345678") }), wechat.ErrNotifyMalformed},
		{"empty nonce (SDK would panic)", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Nonce = ptr("") }), wechat.ErrNotifyMalformed},
		{"wrong algorithm", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Algorithm = "AEAD_AES_128_GCM" }), wechat.ErrNotifyMalformed},
		{"garbled JSON body", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Body = []byte(`{"id":"x","resource":`) }), wechat.ErrNotifyMalformed},
		{"plaintext not JSON", chPub, "/paynotify", with(pay(), func(n *wechattest.Notification) { n.Plaintext = []byte("trade_state=SUCCESS") }), wechat.ErrNotifyMalformed},
		{"another mchid", chPub, "/paynotify", plain(pay(), func(m map[string]any) { m["mchid"] = "1900000001" }), wechat.ErrNotifyMerchant},
		{"another appid", chPub, "/paynotify", plain(pay(), func(m map[string]any) { m["appid"] = "wx0000000000000000" }), wechat.ErrNotifyMerchant},
		{"missing mchid", chPub, "/paynotify", plain(pay(), func(m map[string]any) { delete(m, "mchid") }), wechat.ErrNotifyMerchant},
		{"unknown path", chPub, "/notify", pay(), wechat.ErrNotifyPath},
		{"alipay-style path", chPub, "/web/paynotify", pay(), wechat.ErrNotifyPath},
		{"trade_state NOTPAY", chPub, "/paynotify", srv.PaymentNotification(unpaid, wechattest.PublicKeyMode), wechat.ErrNotifyState},
		{"trade_state CLOSED", chPub, "/paynotify", plain(pay(), func(m map[string]any) { m["trade_state"] = "CLOSED" }), wechat.ErrNotifyState},
		{"trade_state PAYERROR", chPub, "/paynotify", plain(pay(), func(m map[string]any) { m["trade_state"] = "PAYERROR" }), wechat.ErrNotifyState},
		{"missing amount", chPub, "/paynotify", plain(pay(), func(m map[string]any) { delete(m, "amount") }), wechat.ErrNotifyMalformed},
		{"missing out_trade_no", chPub, "/paynotify", plain(pay(), func(m map[string]any) { delete(m, "out_trade_no") }), wechat.ErrNotifyMalformed},
		{"amount as string", chPub, "/paynotify", plain(pay(), func(m map[string]any) { m["amount"] = map[string]any{"total": "500"} }), wechat.ErrNotifyMalformed},
		{"bad success_time", chPub, "/paynotify", plain(pay(), func(m map[string]any) { m["success_time"] = "yesterday" }), wechat.ErrNotifyMalformed},
		{"refund posted to paynotify", chPub, "/paynotify", refund(), wechat.ErrNotifyState},
		{"payment posted to refundnotify", chPub, "/refundnotify", pay(), wechat.ErrNotifyState},
		{"refund for another mchid", chPub, "/refundnotify", plain(refund(), func(m map[string]any) { m["mchid"] = "1900000001" }), wechat.ErrNotifyMerchant},
		{"refund status PROCESSING", chPub, "/refundnotify", plain(refund(), func(m map[string]any) { m["refund_status"] = "PROCESSING" }), wechat.ErrNotifyState},
		{"refund status unknown", chPub, "/refundnotify", plain(refund(), func(m map[string]any) { m["refund_status"] = "MAYBE" }), wechat.ErrNotifyState},
		{"refund without out_refund_no", chPub, "/refundnotify", plain(refund(), func(m map[string]any) { delete(m, "out_refund_no") }), wechat.ErrNotifyMalformed},
		{"refund bad GCM tag", chPub, "/refundnotify", with(refund(), func(n *wechattest.Notification) { n.APIv3Key = strings.Repeat("z", 32) }), wechat.ErrNotifyDecrypt},
		{"refund stale", chPub, "/refundnotify", with(refund(), func(n *wechattest.Notification) { n.Timestamp = time.Now().Add(-10 * time.Minute) }), wechat.ErrNotifySignature},
	}
	if len(cases) < 20 {
		t.Fatalf("corpus has %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var (
				n   *channels.Notification
				err error
			)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("ParseNotification panicked: %v", p)
					}
				}()
				n, err = parse(t, srv, c.ch, c.path, c.n)
			}()
			if err == nil {
				t.Fatalf("accepted: %+v", n)
			}
			if n != nil {
				t.Errorf("returned a notification with the error: %+v", n)
			}
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if errors.Is(err, channels.ErrBadSignature) != (c.want == wechat.ErrNotifySignature) {
				t.Errorf("err = %v matches channels.ErrBadSignature: %v", err, errors.Is(err, channels.ErrBadSignature))
			}
			msg := err.Error()
			if len(msg) > 120 || strings.Contains(msg, "Wechatpay") || strings.Contains(msg, "ciphertext") ||
				strings.Contains(msg, srv.APIv3Key) || strings.Contains(msg, "&{") {
				t.Errorf("error text is not short and safe: %q", msg)
			}
			// Ack of the failure: non-2xx, JSON FAIL, no error text.
			rec := httptest.NewRecorder()
			c.ch.Ack(rec, err)
			if rec.Code < 400 {
				t.Errorf("Ack status = %d", rec.Code)
			}
			var body struct{ Code, Message string }
			if e := json.Unmarshal(rec.Body.Bytes(), &body); e != nil || body.Code != "FAIL" || body.Message == "" || strings.Contains(body.Message, msg) {
				t.Errorf("Ack body = %s", rec.Body)
			}
		})
	}
}

func TestParseNotificationBodyRestored(t *testing.T) {
	// The raw bytes stay readable for the pay center's audit after parsing.
	srv := wechattest.NewServer(t)
	ch := newChannel(t, srv, wechattest.PublicKeyMode)
	paidOrder(t, srv, ch, "B0000001", 1)
	body, h, err := srv.BuildNotification(srv.PaymentNotification("B0000001", wechattest.PublicKeyMode))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodPost, callback+"/paynotify", bytes.NewReader(body))
	r.Header = h
	if _, err := ch.ParseNotification(context.Background(), r, "/paynotify"); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r.Body)
	if !bytes.Equal(rest, body) {
		t.Errorf("body after parse = %q", rest)
	}
}

func TestAckSuccess(t *testing.T) {
	srv := wechattest.NewServer(t)
	ch := newChannel(t, srv, wechattest.PublicKeyMode)
	rec := httptest.NewRecorder()
	ch.Ack(rec, nil)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("Ack(nil) = %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	ch.Ack(rec, errors.New("db down: password=hunter2"))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "hunter2") ||
		rec.Header().Get("Content-Type") == "" {
		t.Errorf("Ack(err) = %d %q", rec.Code, rec.Body)
	}
}
