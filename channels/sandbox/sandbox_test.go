package sandbox

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/gopaycenter/paycenter/channels"
)

func TestNotificationRoundTrip(t *testing.T) {
	now := time.UnixMilli(1508401466000)
	c := New(Config{Now: func() time.Time { return now }})
	for _, result := range []string{ResultSuccess, ResultFail, ResultClose} {
		req, err := c.Notification("http://pay.example.com/callbacks/11/sandbox", "order0001", result, 1999)
		require.NoError(t, err)
		assert.Equal(t, "/callbacks/11/sandbox/notify", req.URL.Path)
		n, err := c.ParseNotification(context.Background(), req, "/notify")
		require.NoError(t, err)
		assert.Equal(t, channels.NotifyPayment, n.Kind)
		assert.Equal(t, "order0001", n.Payment.OutTradeNo)
		assert.EqualValues(t, 1999, n.Payment.TotalFee)
		want := map[string]channels.PaymentStatus{ResultSuccess: channels.PaymentPaid, ResultFail: channels.PaymentFailed, ResultClose: channels.PaymentClosed}[result]
		assert.Equal(t, want, n.Payment.Status)
		if result == ResultSuccess {
			assert.True(t, n.Payment.PaidAt.Equal(now))
		}
	}
	_, err := c.Notification("http://x", "order0001", "maybe", 1)
	assert.Error(t, err)
}

// TestForgedNotifications: another process's key, a tampered body, a
// missing signature and a wrong path are all refused.
func TestForgedNotifications(t *testing.T) {
	c, other := New(Config{}), New(Config{})
	forged, err := other.Notification("http://x", "order0001", ResultSuccess, 1)
	require.NoError(t, err)
	_, err = c.ParseNotification(context.Background(), forged, "/notify")
	assert.ErrorContains(t, err, "bad notification signature")

	req, err := c.Notification("http://x", "order0001", ResultSuccess, 1)
	require.NoError(t, err)
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(strings.NewReader(strings.Replace(string(body), "totalFee=1", "totalFee=2", 1)))
	_, err = c.ParseNotification(context.Background(), req, "/notify")
	assert.ErrorContains(t, err, "bad notification signature")

	req, _ = c.Notification("http://x", "order0001", ResultSuccess, 1)
	req.Header.Del(SignatureHeader)
	_, err = c.ParseNotification(context.Background(), req, "/notify")
	assert.Error(t, err)

	req, _ = c.Notification("http://x", "order0001", ResultSuccess, 1)
	_, err = c.ParseNotification(context.Background(), req, "/paynotify")
	assert.ErrorContains(t, err, "unknown notification path")
}

func TestCreateShapes(t *testing.T) {
	c := New(Config{CashierURL: func(app, no string) string { return "http://pay.example.com/sandbox/cashier/" + app + "/" + no }})
	want := map[channels.Code][]string{
		channels.WxNative: {"codeUrl"},
		channels.WxJsapi:  {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"},
		channels.WxApp:    {"appId", "partnerid", "prepayid", "package", "nonceStr", "timeStamp", "sign"},
		channels.WxMweb:   {"mwebUrl"},
		channels.AliWeb:   {"body", "url"},
		channels.AliWap:   {"body", "url"},
		channels.AliApp:   {"body"},
	}
	for code, keys := range want {
		p, err := c.Create(context.Background(), &channels.CreateRequest{AppID: "11", Code: code, OutTradeNo: "order0001", TotalFee: 1, ReturnURL: "https://shop.example.com/r?a=1"})
		require.NoError(t, err)
		assert.Len(t, p, len(keys), "%s: %v", code, p)
		for _, k := range keys {
			assert.NotEmpty(t, p[k], "%s.%s", code, k)
		}
	}
	p, _ := c.Create(context.Background(), &channels.CreateRequest{AppID: "11", Code: channels.WxMweb, OutTradeNo: "o1", ReturnURL: "https://shop.example.com/r?a=1"})
	assert.Equal(t, "http://pay.example.com/sandbox/cashier/11/o1?redirect_url=https%3A%2F%2Fshop.example.com%2Fr%3Fa%3D1", p["mwebUrl"])
}

func TestRefundDelay(t *testing.T) {
	now := time.Now()
	c := New(Config{RefundDelay: time.Minute, Now: func() time.Time { return now }})
	req := &channels.RefundRequest{OutTradeNo: "o1", OutRefundNo: "r1", RefundFee: 5}
	r, err := c.Refund(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, channels.RefundProcessing, r.Status)
	r, _ = c.QueryRefund(context.Background(), req)
	assert.Equal(t, channels.RefundProcessing, r.Status)
	now = now.Add(time.Minute)
	r, _ = c.QueryRefund(context.Background(), req)
	assert.Equal(t, channels.RefundSucceeded, r.Status)
}

func TestYuan(t *testing.T) {
	assert.Equal(t, "0.01", Yuan(1))
	assert.Equal(t, "1234.50", Yuan(123450))
	assert.Equal(t, "-0.05", Yuan(-5))
	rapid.Check(t, func(t *rapid.T) {
		fen := rapid.Int64Range(0, 100_000_000_000).Draw(t, "fen")
		s := Yuan(fen)
		whole, frac, ok := strings.Cut(s, ".")
		if !ok || len(frac) != 2 {
			t.Fatalf("%d → %q", fen, s)
		}
		w, _ := strconv.ParseInt(whole, 10, 64)
		f, _ := strconv.ParseInt(frac, 10, 64)
		if w*100+f != fen {
			t.Fatalf("%d → %q", fen, s)
		}
	})
}
