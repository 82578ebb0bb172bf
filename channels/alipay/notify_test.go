package alipay_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
)

const notifyPath = "/web/paynotify"

func post(target, body, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	return r
}

const formType = "application/x-www-form-urlencoded; charset=utf-8"

func notifyReq(v url.Values) *http.Request {
	return post("https://pay.example.com/callbacks/11/alipay"+notifyPath, v.Encode(), formType)
}

// paidTrade returns a fake and channel with trade TPAY0001 (123.45 yuan)
// paid, refunded 10.00 as R1.
func paidTrade(t *testing.T, mode alipaytest.Mode) (*alipaytest.Fake, *alipay.Channel) {
	t.Helper()
	fake, ch := setup(t, mode)
	open(t, fake, ch, "TPAY0001", 12345)
	if err := fake.Pay("TPAY0001"); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Refund(context.Background(), &channels.RefundRequest{OutTradeNo: "TPAY0001", OutRefundNo: "R1", RefundFee: 1000}); err != nil {
		t.Fatal(err)
	}
	return fake, ch
}

func TestParseNotificationValid(t *testing.T) {
	ctx := context.Background()
	for _, mode := range alipaytest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			fake, ch := paidTrade(t, mode)
			tr, _ := fake.Trade("TPAY0001")

			v := fake.PaymentNotification(t, "TPAY0001")
			n, err := ch.ParseNotification(ctx, notifyReq(v), notifyPath)
			if err != nil {
				t.Fatalf("valid payment notification: %v", err)
			}
			want := channels.Payment{OutTradeNo: "TPAY0001", Status: channels.PaymentPaid, TotalFee: 12345, TransactionID: tr.TradeNo, PaidAt: tr.PaidAt,
				Marker: "mTPAY0001", HasMarker: true}
			if n.Kind != channels.NotifyPayment || n.Payment == nil || n.ID != v.Get("notify_id") {
				t.Fatalf("notification = %+v", n)
			}
			got := *n.Payment
			if !got.PaidAt.Equal(want.PaidAt) {
				t.Errorf("PaidAt = %v, want %v", got.PaidAt, want.PaidAt)
			}
			got.PaidAt, want.PaidAt = time.Time{}, time.Time{}
			if got != want {
				t.Fatalf("notification = %+v %+v, want %+v", n, n.Payment, want)
			}
			if _, off := n.Payment.PaidAt.Zone(); off != 8*3600 {
				t.Errorf("PaidAt zone offset %d, want Beijing", off)
			}

			// A tenant in the query string of the notify URL does not break it.
			r := post("https://pay.example.com/callbacks/11/alipay/app/paynotify?tenant=x", v.Encode(), formType)
			if _, err := ch.ParseNotification(ctx, r, "/app/paynotify"); err != nil {
				t.Fatalf("with query string: %v", err)
			}

			// TRADE_FINISHED is paid too.
			v.Set("trade_status", "TRADE_FINISHED")
			n, err = ch.ParseNotification(ctx, notifyReq(fake.Sign(v)), "/wap/paynotify")
			if err != nil || n.Payment.Status != channels.PaymentPaid {
				t.Fatalf("TRADE_FINISHED = %+v, %v", n, err)
			}

			// Refund notification (out_biz_no), gmt_refund with milliseconds.
			rv := fake.RefundNotification(t, "TPAY0001", "R1")
			n, err = ch.ParseNotification(ctx, notifyReq(rv), notifyPath)
			if err != nil {
				t.Fatalf("refund notification: %v", err)
			}
			if n.Kind != channels.NotifyRefund || n.Refund == nil || n.Refund.OutTradeNo != "TPAY0001" || n.Refund.OutRefundNo != "R1" ||
				n.Refund.Status != channels.RefundSucceeded || !n.Refund.RefundedAt.Equal(tr.Refunds["R1"].At) {
				t.Fatalf("refund notification = %+v %+v", n, n.Refund)
			}

			// Unpaid trade closed at Alipay.
			open(t, fake, ch, "TCLOSE01", 100)
			if err := fake.CloseTrade("TCLOSE01"); err != nil {
				t.Fatal(err)
			}
			n, err = ch.ParseNotification(ctx, notifyReq(fake.PaymentNotification(t, "TCLOSE01")), notifyPath)
			if err != nil || n.Kind != channels.NotifyPayment || n.Payment.Status != channels.PaymentClosed || n.Payment.OutTradeNo != "TCLOSE01" {
				t.Fatalf("closed notification = %+v, %v", n, err)
			}
		})
	}
}

// The forged-notification corpus: every case must be rejected with its own
// specific error, and every rejection is an ErrInvalidNotification that
// Ack answers with "fail".
func TestParseNotificationForged(t *testing.T) {
	ctx := context.Background()
	for _, mode := range alipaytest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			fake, ch := paidTrade(t, mode)
			other := alipaytest.NewKeys(t, mode)
			base := func() url.Values { return fake.PaymentNotification(t, "TPAY0001") }
			resign := func(edit func(v url.Values)) url.Values {
				v := base()
				edit(v)
				return fake.Sign(v)
			}
			refund := func(edit func(v url.Values)) url.Values {
				v := fake.RefundNotification(t, "TPAY0001", "R1")
				edit(v)
				return fake.Sign(v)
			}
			form := func(v url.Values) *http.Request { return notifyReq(v) }

			cases := []struct {
				name string
				req  *http.Request
				path string
				want error
			}{
				{"amount changed after signing", form(func() url.Values { v := base(); v.Set("total_amount", "0.01"); return v }()), "", alipay.ErrBadSignature},
				{"out_trade_no changed after signing", form(func() url.Values { v := base(); v.Set("out_trade_no", "TOTHER01"); return v }()), "", alipay.ErrBadSignature},
				{"unsigned parameter added", form(func() url.Values { v := base(); v.Set("extra", "1"); return v }()), "", alipay.ErrBadSignature},
				{"signed by another key", form(other.SignNotification(base())), "", alipay.ErrBadSignature},
				{"signature is not base64", form(func() url.Values { v := base(); v.Set("sign", "!!not base64!!"); return v }()), "", alipay.ErrBadSignature},
				{"signature of the app key", form(func() url.Values { v := base(); v.Del("sign"); return other.SignRequest(v) }()), "", alipay.ErrBadSignature},
				{"signature missing", form(func() url.Values { v := base(); v.Del("sign"); return v }()), "", alipay.ErrMissingField},
				{"signature in query string, fields in form", post("https://pay.example.com/n?"+url.Values{"sign": base()["sign"]}.Encode(),
					func() url.Values { v := base(); v.Del("sign"); return v }().Encode(), formType), "", alipay.ErrMissingField},
				{"everything in query string, empty body", post("https://pay.example.com/n?"+base().Encode(), "", formType), "", alipay.ErrMissingField},
				{"JSON body", post("https://pay.example.com/n", `{"sign":"x","out_trade_no":"TPAY0001"}`, "application/json"), "", alipay.ErrMissingField},
				{"empty body", post("https://pay.example.com/n", "", formType), "", alipay.ErrMissingField},
				{"garbled body", post("https://pay.example.com/n", "sign=%zz&out_trade_no=%", formType), "", alipay.ErrMalformedBody},
				{"duplicated out_trade_no", post("https://pay.example.com/n", base().Encode()+"&out_trade_no=TOTHER01", formType), "", alipay.ErrMalformedField},
				{"another app_id", form(resign(func(v url.Values) { v.Set("app_id", "2021000000009999") })), "", alipay.ErrAppIDMismatch},
				{"no app_id", form(resign(func(v url.Values) { v.Del("app_id") })), "", alipay.ErrAppIDMismatch},
				{"another seller_id", form(resign(func(v url.Values) { v.Set("seller_id", "2088999999999999") })), "", alipay.ErrSellerMismatch},
				{"no seller_id", form(resign(func(v url.Values) { v.Del("seller_id") })), "", alipay.ErrSellerMismatch},
				{"other notify_type", form(resign(func(v url.Values) { v.Set("notify_type", "trade_refund_sync") })), "", alipay.ErrNotifyType},
				{"WAIT_BUYER_PAY", form(resign(func(v url.Values) { v.Set("trade_status", "WAIT_BUYER_PAY") })), "", alipay.ErrUnexpectedState},
				{"unknown trade_status", form(resign(func(v url.Values) { v.Set("trade_status", "TRADE_PENDING") })), "", alipay.ErrUnexpectedState},
				{"no trade_status", form(resign(func(v url.Values) { v.Del("trade_status") })), "", alipay.ErrMissingField},
				{"no out_trade_no", form(resign(func(v url.Values) { v.Del("out_trade_no") })), "", alipay.ErrMissingField},
				{"no trade_no", form(resign(func(v url.Values) { v.Del("trade_no") })), "", alipay.ErrMissingField},
				{"no total_amount", form(resign(func(v url.Values) { v.Del("total_amount") })), "", alipay.ErrMissingField},
				{"amount 0.001", form(resign(func(v url.Values) { v.Set("total_amount", "0.001") })), "", alipay.ErrMalformedField},
				{"amount -1", form(resign(func(v url.Values) { v.Set("total_amount", "-1") })), "", alipay.ErrMalformedField},
				{"amount 1e3", form(resign(func(v url.Values) { v.Set("total_amount", "1e3") })), "", alipay.ErrMalformedField},
				{"amount 0.00", form(resign(func(v url.Values) { v.Set("total_amount", "0.00") })), "", alipay.ErrMalformedField},
				{"amount with space", form(resign(func(v url.Values) { v.Set("total_amount", " 123.45") })), "", alipay.ErrMalformedField},
				{"amount garbage", form(resign(func(v url.Values) { v.Set("total_amount", "123.45元") })), "", alipay.ErrMalformedField},
				{"no gmt_payment", form(resign(func(v url.Values) { v.Del("gmt_payment") })), "", alipay.ErrMissingField},
				{"garbled gmt_payment", form(resign(func(v url.Values) { v.Set("gmt_payment", "yesterday") })), "", alipay.ErrMalformedField},
				{"refund without gmt_refund", form(refund(func(v url.Values) { v.Del("gmt_refund") })), "", alipay.ErrMissingField},
				{"refund with garbled gmt_refund", form(refund(func(v url.Values) { v.Set("gmt_refund", "2025-13-40 99:00:00") })), "", alipay.ErrMalformedField},
				{"refund with bad refund_fee", form(refund(func(v url.Values) { v.Set("refund_fee", "10.001") })), "", alipay.ErrMalformedField},
				{"refund while WAIT_BUYER_PAY", form(refund(func(v url.Values) { v.Set("trade_status", "WAIT_BUYER_PAY") })), "", alipay.ErrUnexpectedState},
				{"unknown path", form(base()), "/refundnotify", alipay.ErrUnknownPath},
				{"path without channel", form(base()), "/paynotify", alipay.ErrUnknownPath},
			}
			if mode == alipaytest.CertMode {
				cases = append(cases, struct {
					name string
					req  *http.Request
					path string
					want error
				}{"unknown alipay_cert_sn", form(func() url.Values { v := base(); v.Set("alipay_cert_sn", other.AlipayCertSN); return v }()), "", alipay.ErrBadSignature})
			}
			if len(cases) < 20 {
				t.Fatalf("corpus has %d cases", len(cases))
			}
			for _, tc := range cases {
				path := tc.path
				if path == "" {
					path = notifyPath
				}
				n, err := ch.ParseNotification(ctx, tc.req, path)
				if n != nil || !errors.Is(err, tc.want) {
					t.Errorf("%s: got %+v, %v; want %v", tc.name, n, err, tc.want)
					continue
				}
				if !errors.Is(err, alipay.ErrInvalidNotification) {
					t.Errorf("%s: %v is not an ErrInvalidNotification", tc.name, err)
				}
				if errors.Is(err, channels.ErrBadSignature) != (tc.want == alipay.ErrBadSignature) {
					t.Errorf("%s: %v matches channels.ErrBadSignature: %v", tc.name, err, errors.Is(err, channels.ErrBadSignature))
				}
				w := httptest.NewRecorder()
				ch.Ack(w, err)
				if w.Body.String() != "fail" || w.Code == http.StatusOK {
					t.Errorf("%s: Ack = %d %q", tc.name, w.Code, w.Body.String())
				}
			}
			// The control: the untouched notification passes.
			if _, err := ch.ParseNotification(ctx, notifyReq(base()), notifyPath); err != nil {
				t.Fatalf("control: %v", err)
			}
		})
	}
}

// Without a configured SellerID, seller_id is not checked.
func TestParseNotificationWithoutSellerID(t *testing.T) {
	fake, _ := paidTrade(t, alipaytest.PublicKeyMode)
	cfg := fake.Config()
	cfg.SellerID = ""
	ch, err := alipay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := fake.PaymentNotification(t, "TPAY0001")
	v.Set("seller_id", "2088999999999999")
	if _, err := ch.ParseNotification(context.Background(), notifyReq(fake.Sign(v)), notifyPath); err != nil {
		t.Fatalf("seller_id checked although not configured: %v", err)
	}
}

// The PaidAt of a notification is Beijing time, whatever the zone of the
// value printed by the fake's clock.
func TestParseNotificationBeijingTime(t *testing.T) {
	fake, ch := setup(t, alipaytest.PublicKeyMode)
	fixed := time.Date(2025, 3, 1, 1, 30, 0, 0, time.UTC) // 09:30 in Beijing
	open(t, fake, ch, "TTIME001", 100)
	fake.Now = func() time.Time { return fixed }
	if err := fake.Pay("TTIME001"); err != nil {
		t.Fatal(err)
	}
	v := fake.PaymentNotification(t, "TTIME001")
	if v.Get("gmt_payment") != "2025-03-01 09:30:00" {
		t.Fatalf("gmt_payment = %q", v.Get("gmt_payment"))
	}
	n, err := ch.ParseNotification(context.Background(), notifyReq(v), notifyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !n.Payment.PaidAt.Equal(fixed) {
		t.Fatalf("PaidAt = %v, want %v", n.Payment.PaidAt, fixed)
	}
}
