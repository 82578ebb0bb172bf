package wechat_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
)

var modes = []wechattest.Mode{wechattest.PublicKeyMode, wechattest.CertMode}

func newChannel(t *testing.T, srv *wechattest.Server, mode wechattest.Mode) *wechat.Channel {
	t.Helper()
	ch, err := wechat.New(srv.ChannelConfig(mode))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ch
}

const callback = "https://shop.example/pay/callbacks/11/wechat"

func createReq(code channels.Code, no string, fee int64) *channels.CreateRequest {
	return &channels.CreateRequest{
		AppID: "11", Code: code, OutTradeNo: no, TotalFee: fee,
		Subject: "超级大礼包", Body: "gift", ClientIP: "203.0.113.7", Attach: "order=42&x=1",
		OpenID:   "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		ExpireAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), CallbackURL: callback,
		Marker: "mk" + no,
	}
}

func TestCreateAllChannels(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := wechattest.NewServer(t)
			ch := newChannel(t, srv, mode)
			ctx := context.Background()
			mchPub := &srv.Keys.Merchant.PublicKey

			// NATIVE
			p, err := ch.Create(ctx, createReq(channels.WxNative, "N0000001", 101))
			if err != nil {
				t.Fatalf("native: %v", err)
			}
			o, _ := srv.Order("N0000001")
			if p["codeUrl"] != "weixin://wxpay/bizpayurl?pr="+o.PrepayID || len(p) != 1 {
				t.Errorf("native params = %v", p)
			}
			if o.TradeType != "NATIVE" || o.Total != 101 || o.NotifyURL != callback+"/paynotify" ||
				o.Attach != "mkN0000001" || o.Description != "超级大礼包" || o.Currency != "CNY" {
				t.Errorf("native order = %+v", o)
			}
			if o.TimeExpire != "2030-01-02T11:04:05+08:00" {
				t.Errorf("time_expire = %q, want +08:00", o.TimeExpire)
			}

			// JSAPI
			p, err = ch.Create(ctx, createReq(channels.WxJsapi, "J0000001", 102))
			if err != nil {
				t.Fatalf("jsapi: %v", err)
			}
			o, _ = srv.Order("J0000001")
			if o.TradeType != "JSAPI" || o.OpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" {
				t.Errorf("jsapi order = %+v", o)
			}
			for _, k := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
				if p[k] == "" {
					t.Errorf("jsapi param %s missing: %v", k, p)
				}
			}
			if p["appId"] != srv.AppID || p["package"] != "prepay_id="+o.PrepayID || p["signType"] != "RSA" {
				t.Errorf("jsapi params = %v", p)
			}
			msg := p["appId"] + "\n" + p["timeStamp"] + "\n" + p["nonceStr"] + "\n" + p["package"] + "\n"
			if err := wechattest.VerifySHA256WithRSA(mchPub, msg, p["paySign"]); err != nil {
				t.Errorf("jsapi paySign does not verify with the merchant key: %v", err)
			}
			if wechattest.VerifySHA256WithRSA(mchPub, msg+"x", p["paySign"]) == nil {
				t.Error("paySign verified over the wrong message")
			}

			// APP
			p, err = ch.Create(ctx, createReq(channels.WxApp, "A0000001", 103))
			if err != nil {
				t.Fatalf("app: %v", err)
			}
			o, _ = srv.Order("A0000001")
			want := map[string]string{"appId": srv.AppID, "partnerid": srv.MchID, "prepayid": o.PrepayID, "package": "Sign=WXPay"}
			for k, v := range want {
				if p[k] != v {
					t.Errorf("app %s = %q, want %q", k, p[k], v)
				}
			}
			if len(p) != 7 || p["nonceStr"] == "" || p["timeStamp"] == "" {
				t.Errorf("app params = %v", p)
			}
			msg = p["appId"] + "\n" + p["timeStamp"] + "\n" + p["nonceStr"] + "\n" + p["prepayid"] + "\n"
			if err := wechattest.VerifySHA256WithRSA(mchPub, msg, p["sign"]); err != nil {
				t.Errorf("app sign does not verify with the merchant key: %v", err)
			}

			// MWEB without and with ReturnURL
			p, err = ch.Create(ctx, createReq(channels.WxMweb, "H0000001", 104))
			if err != nil {
				t.Fatalf("h5: %v", err)
			}
			o, _ = srv.Order("H0000001")
			if o.TradeType != "MWEB" || o.PayerClientIP != "203.0.113.7" || o.H5Type != "Wap" {
				t.Errorf("h5 order = %+v", o)
			}
			if !strings.HasPrefix(p["mwebUrl"], "https://wx.tenpay.com/") || strings.Contains(p["mwebUrl"], "redirect_url") {
				t.Errorf("mwebUrl = %q", p["mwebUrl"])
			}
			req := createReq(channels.WxMweb, "H0000002", 105)
			req.ReturnURL = "https://shop.example/done?order=42&a=b c"
			p, err = ch.Create(ctx, req)
			if err != nil {
				t.Fatalf("h5 with return: %v", err)
			}
			u, err := url.Parse(p["mwebUrl"])
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Query().Get("redirect_url"); got != req.ReturnURL {
				t.Errorf("redirect_url = %q, want %q (url %s)", got, req.ReturnURL, p["mwebUrl"])
			}
			if u.Query().Get("prepay_id") == "" {
				t.Errorf("mwebUrl lost WeChat's own query: %s", p["mwebUrl"])
			}

			// Idempotent re-create: same order, no error.
			if _, err := ch.Create(ctx, createReq(channels.WxNative, "N0000001", 101)); err != nil {
				t.Errorf("re-create: %v", err)
			}
			if o, _ := srv.Order("N0000001"); o.Prepays != 2 {
				t.Errorf("prepays = %d", o.Prepays)
			}
			if srv.Rejected() != 0 {
				t.Errorf("fake rejected %d of our signatures", srv.Rejected())
			}
		})
	}
}

func TestCreateErrors(t *testing.T) {
	srv := wechattest.NewServer(t)
	ch := newChannel(t, srv, wechattest.PublicKeyMode)
	ctx := context.Background()

	req := createReq(channels.WxJsapi, "J0000009", 100)
	req.OpenID = ""
	_, err := ch.Create(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "openid") {
		t.Errorf("jsapi without openid: %v", err)
	}
	if len(srv.Calls()) != 0 {
		t.Errorf("a request was sent: %v", srv.Calls())
	}
	if _, err := ch.Create(ctx, createReq(channels.AliWeb, "X0000001", 100)); err == nil {
		t.Error("ALI_WEB accepted")
	}

	// A business refusal is definite and carries WeChat's code and message.
	srv.FailNext(wechattest.Fault{Status: 400, Code: "PARAM_ERROR", Message: "description too long"})
	_, err = ch.Create(ctx, createReq(channels.WxNative, "N0000009", 100))
	var ce *channels.Error
	if !errors.As(err, &ce) || ce.Code != "PARAM_ERROR" || ce.Message != "description too long" {
		t.Errorf("4xx: %#v", err)
	}
	// A 5xx is not.
	srv.FailNext(wechattest.Fault{Status: 500, Code: "SYSTEM_ERROR", Message: "busy"})
	_, err = ch.Create(ctx, createReq(channels.WxNative, "N0000009", 100))
	if err == nil || channels.IsDefinite(err) {
		t.Errorf("5xx: %v", err)
	}
	// The fake refuses a request signed with a key that is not the merchant's.
	bad := srv.ChannelConfig(wechattest.PublicKeyMode)
	bad.MchPrivateKey = wechattest.PrivateKeyPEM(srv.Keys.Other)
	chBad, err := wechat.New(bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = chBad.Create(ctx, createReq(channels.WxNative, "N0000011", 100))
	if !errors.As(err, &ce) || ce.Code != "SIGN_ERROR" || srv.Rejected() != 1 {
		t.Errorf("request signed with another key: %v (rejected %d)", err, srv.Rejected())
	}
	if _, ok := srv.Order("N0000011"); ok {
		t.Error("order created despite a bad request signature")
	}
	// An answer signed with another key is not trusted.
	srv.FailNext(wechattest.Fault{BadSignature: true})
	_, err = ch.Create(ctx, createReq(channels.WxNative, "N0000010", 100))
	if err == nil || channels.IsDefinite(err) || !strings.Contains(err.Error(), "outcome unknown") {
		t.Errorf("bad response signature: %v", err)
	}
}

func TestQueryAndClose(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := wechattest.NewServer(t)
			ch := newChannel(t, srv, mode)
			ctx := context.Background()

			// Unknown order: pending.
			p, err := ch.QueryPayment(ctx, "11", channels.WxNative, "Q0000000")
			if err != nil || p.Status != channels.PaymentPending {
				t.Fatalf("unknown order: %+v %v", p, err)
			}
			for i, code := range []channels.Code{channels.WxNative, channels.WxJsapi, channels.WxApp, channels.WxMweb} {
				no := "Q000000" + string(rune('1'+i))
				if _, err := ch.Create(ctx, createReq(code, no, 200+int64(i))); err != nil {
					t.Fatal(err)
				}
				p, err := ch.QueryPayment(ctx, "11", code, no)
				if err != nil || p.Status != channels.PaymentPending || p.TotalFee != 200+int64(i) {
					t.Fatalf("%s unpaid: %+v %v", code, p, err)
				}
				o, _ := srv.Pay(no)
				p, err = ch.QueryPayment(ctx, "11", code, no)
				if err != nil || p.Status != channels.PaymentPaid || p.TransactionID != o.TransactionID ||
					!p.PaidAt.Equal(o.SuccessTime) || p.OutTradeNo != no {
					t.Fatalf("%s paid: %+v %v (order %+v)", code, p, err, o)
				}
				if err := ch.ClosePayment(ctx, "11", code, no); !errors.Is(err, channels.ErrAlreadyPaid) {
					t.Errorf("%s close paid: %v", code, err)
				}
			}
			states := map[string]channels.PaymentStatus{
				"NOTPAY": channels.PaymentPending, "USERPAYING": channels.PaymentPending,
				"REFUND": channels.PaymentPaid, "CLOSED": channels.PaymentClosed,
				"REVOKED": channels.PaymentClosed, "PAYERROR": channels.PaymentFailed,
			}
			for state, want := range states {
				srv.SetState("Q0000001", state)
				p, err := ch.QueryPayment(ctx, "11", channels.WxNative, "Q0000001")
				if err != nil || p.Status != want {
					t.Errorf("%s: %+v %v, want %s", state, p, err, want)
				}
			}
			srv.SetState("Q0000001", "WEIRD")
			if _, err := ch.QueryPayment(ctx, "11", channels.WxNative, "Q0000001"); err == nil || channels.IsDefinite(err) {
				t.Errorf("unknown trade_state: %v", err)
			}

			// Close: unpaid order closes; unknown order is fine; close twice is fine.
			if _, err := ch.Create(ctx, createReq(channels.WxMweb, "C0000001", 300)); err != nil {
				t.Fatal(err)
			}
			if err := ch.ClosePayment(ctx, "11", channels.WxMweb, "C0000001"); err != nil {
				t.Fatalf("close: %v", err)
			}
			if o, _ := srv.Order("C0000001"); o.State != wechattest.StateClosed {
				t.Errorf("state after close = %s", o.State)
			}
			if err := ch.ClosePayment(ctx, "11", channels.WxMweb, "C0000001"); err != nil {
				t.Errorf("close again: %v", err)
			}
			if err := ch.ClosePayment(ctx, "11", channels.WxNative, "C0000404"); err != nil {
				t.Errorf("close unknown: %v", err)
			}
			p, _ = ch.QueryPayment(ctx, "11", channels.WxMweb, "C0000001")
			if p.Status != channels.PaymentClosed {
				t.Errorf("closed query: %+v", p)
			}
			// The 204 of close is signed too: a bad signature is an unknown outcome.
			if _, err := ch.Create(ctx, createReq(channels.WxNative, "C0000002", 300)); err != nil {
				t.Fatal(err)
			}
			srv.FailNext(wechattest.Fault{BadSignature: true})
			if err := ch.ClosePayment(ctx, "11", channels.WxNative, "C0000002"); err == nil || channels.IsDefinite(err) {
				t.Errorf("close with unverifiable 204: %v", err)
			}
			if srv.Rejected() != 0 {
				t.Errorf("fake rejected %d of our signatures", srv.Rejected())
			}
		})
	}
}

func TestRefund(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := wechattest.NewServer(t)
			ch := newChannel(t, srv, mode)
			ctx := context.Background()
			if _, err := ch.Create(ctx, createReq(channels.WxApp, "R0000001", 1000)); err != nil {
				t.Fatal(err)
			}
			srv.Pay("R0000001")
			rr := &channels.RefundRequest{AppID: "11", Code: channels.WxApp, OutTradeNo: "R0000001",
				OutRefundNo: "RF000001", RefundFee: 300, TotalFee: 1000, Reason: "too big", CallbackURL: callback}
			r, err := ch.Refund(ctx, rr)
			if err != nil || r.Status != channels.RefundProcessing || r.RefundFee != 300 || r.OutRefundNo != "RF000001" || r.OutTradeNo != "R0000001" {
				t.Fatalf("refund: %+v %v", r, err)
			}
			fr, _ := srv.Refund("RF000001")
			if fr.NotifyURL != callback+"/refundnotify" || fr.Reason != "too big" || fr.Total != 1000 {
				t.Errorf("fake refund = %+v", fr)
			}
			// Idempotent on out_refund_no.
			if r, err := ch.Refund(ctx, rr); err != nil || r.Status != channels.RefundProcessing {
				t.Errorf("refund retry: %+v %v", r, err)
			}
			if fr, _ := srv.Refund("RF000001"); fr.Creates != 2 {
				t.Errorf("creates = %d", fr.Creates)
			}
			// Query: processing, then success.
			r, err = ch.QueryRefund(ctx, rr)
			if err != nil || r.Status != channels.RefundProcessing {
				t.Fatalf("query processing: %+v %v", r, err)
			}
			fr, _ = srv.SettleRefund("RF000001", wechattest.RefundSuccess)
			r, err = ch.QueryRefund(ctx, rr)
			if err != nil || r.Status != channels.RefundSucceeded || !r.RefundedAt.Equal(fr.SuccessTime) || r.RefundFee != 300 {
				t.Fatalf("query success: %+v %v", r, err)
			}
			// SUCCESS straight from create (retry after settlement).
			if r, err := ch.Refund(ctx, rr); err != nil || r.Status != channels.RefundSucceeded {
				t.Errorf("refund after success: %+v %v", r, err)
			}
			// CLOSED is a failure; ABNORMAL is not final (the money left).
			for i, st := range []string{wechattest.RefundClosed, wechattest.RefundAbnormal} {
				want := map[string]channels.RefundStatus{wechattest.RefundClosed: channels.RefundFailed,
					wechattest.RefundAbnormal: channels.RefundAbnormal}[st]
				rr2 := *rr
				rr2.OutRefundNo = "RF00000" + string(rune('2'+i))
				rr2.RefundFee = 100
				if _, err := ch.Refund(ctx, &rr2); err != nil {
					t.Fatal(err)
				}
				srv.SettleRefund(rr2.OutRefundNo, st)
				r, err := ch.QueryRefund(ctx, &rr2)
				if err != nil || r.Status != want || r.Message == "" {
					t.Errorf("%s: %+v %v", st, r, err)
				}
			}
			// Refund over the balance: definite refusal with WeChat's words.
			rr3 := *rr
			rr3.OutRefundNo, rr3.RefundFee = "RF000009", 800
			_, err = ch.Refund(ctx, &rr3)
			var ce *channels.Error
			if !errors.As(err, &ce) || ce.Code != "INVALID_REQUEST" || ce.Message == "" {
				t.Errorf("over balance: %v", err)
			}
			srv.FailNext(wechattest.Fault{Status: 403, Code: "NOT_ENOUGH", Message: "基本账户余额不足"})
			rr3.RefundFee = 10
			_, err = ch.Refund(ctx, &rr3)
			if !errors.As(err, &ce) || ce.Code != "NOT_ENOUGH" || ce.Message != "基本账户余额不足" {
				t.Errorf("NOT_ENOUGH: %v", err)
			}
			// Unknown refund on query: definite RESOURCE_NOT_EXISTS.
			rr4 := *rr
			rr4.OutRefundNo = "RF000404"
			_, err = ch.QueryRefund(ctx, &rr4)
			if !errors.As(err, &ce) || ce.Code != "RESOURCE_NOT_EXISTS" {
				t.Errorf("query unknown: %v", err)
			}
		})
	}
}

// TestRefundUnknownOutcome: 5xx, SYSTEM_ERROR, timeouts and unverifiable
// answers are plain errors (not *channels.Error), and a retry with the same
// number finds the one refund.
func TestRefundUnknownOutcome(t *testing.T) {
	srv := wechattest.NewServer(t)
	cfg := srv.ChannelConfig(wechattest.PublicKeyMode)
	cfg.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
	ch, err := wechat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := ch.Create(ctx, createReq(channels.WxNative, "U0000001", 500)); err != nil {
		t.Fatal(err)
	}
	srv.Pay("U0000001")
	rr := &channels.RefundRequest{OutTradeNo: "U0000001", OutRefundNo: "UR000001", RefundFee: 500, TotalFee: 500, CallbackURL: callback}
	faults := []wechattest.Fault{
		{Status: 500, Code: "SYSTEM_ERROR", Message: "系统错误"},
		{Status: 400, Code: "SYSTEM_ERROR", Message: "系统超时"},
		{Status: 429, Code: "FREQUENCY_LIMITED", Message: "slow down"},
		{Status: 502, Message: "<html>bad gateway</html>"},
		{Hang: true},
		{Hang: true, AfterApply: true},
		{BadSignature: true, AfterApply: true},
	}
	for _, f := range faults {
		srv.FailNext(f)
		_, err := ch.Refund(ctx, rr)
		if err == nil || channels.IsDefinite(err) {
			t.Errorf("fault %+v: err = %v, want an unknown-outcome error", f, err)
			continue
		}
		if strings.Contains(err.Error(), "html") || strings.Contains(err.Error(), "系统") {
			t.Errorf("fault %+v: error leaks the body: %v", f, err)
		}
	}
	// Timeout with a context deadline too.
	srv.FailNext(wechattest.Fault{Hang: true})
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = ch.Refund(dctx, rr)
	cancel()
	if err == nil || channels.IsDefinite(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx deadline: %v", err)
	}
	// The retry with the same number returns the single refund.
	r, err := ch.Refund(ctx, rr)
	if err != nil || r.Status != channels.RefundProcessing || r.RefundFee != 500 {
		t.Fatalf("retry: %+v %v", r, err)
	}
	if o, _ := srv.Order("U0000001"); o.Refunded != 500 {
		t.Errorf("refunded = %d, want one refund of 500", o.Refunded)
	}
}

func TestAPIBaseURLWithPath(t *testing.T) {
	srv := wechattest.NewServer(t)
	// A proxy that strips /wxproxy and hands the request to the fake.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/wxproxy/v3/") {
			http.NotFound(w, r)
			return
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/wxproxy")
		r.URL.RawPath = ""
		srv.Server.Config.Handler.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	cfg := srv.ChannelConfig(wechattest.PublicKeyMode)
	cfg.APIBaseURL = proxy.URL + "/wxproxy/"
	ch, err := wechat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Create(context.Background(), createReq(channels.WxNative, "P0000001", 1)); err != nil {
		t.Fatalf("create through a path prefix: %v", err)
	}
	if _, ok := srv.Order("P0000001"); !ok {
		t.Error("order did not reach the fake")
	}
}

func pkcs1(t *testing.T, srv *wechattest.Server) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(srv.Keys.Merchant)}))
}

func TestNewValidation(t *testing.T) {
	srv := wechattest.NewServer(t)
	good := srv.ChannelConfig(wechattest.PublicKeyMode)
	secrets := []string{good.APIv3Key, pemBody(good.MchPrivateKey), pemBody(good.PlatformPublicKey)}

	cases := []struct {
		name string
		mut  func(c *wechat.Config)
		want string
	}{
		{"16-byte key", func(c *wechat.Config) { c.APIv3Key = c.APIv3Key[:16] }, "apiV3Key must be exactly 32 bytes, got 16"},
		{"24-byte key", func(c *wechat.Config) { c.APIv3Key = c.APIv3Key[:24] }, "apiV3Key must be exactly 32 bytes, got 24"},
		{"31-byte key", func(c *wechat.Config) { c.APIv3Key = c.APIv3Key[:31] }, "apiV3Key must be exactly 32 bytes, got 31"},
		{"no key", func(c *wechat.Config) { c.APIv3Key = "" }, "apiV3Key is required"},
		{"no mchid", func(c *wechat.Config) { c.MchID = "" }, "mchID is required"},
		{"no appid", func(c *wechat.Config) { c.AppID = "" }, "appID is required"},
		{"no serial", func(c *wechat.Config) { c.MchCertSerial = "" }, "mchCertSerial is required"},
		{"no private key", func(c *wechat.Config) { c.MchPrivateKey = "" }, "mchPrivateKey or mchPrivateKeyFile is required"},
		{"garbled private key", func(c *wechat.Config) { c.MchPrivateKey = c.MchPrivateKey[:200] }, "mchPrivateKey: not PEM text"},
		{"public key as private", func(c *wechat.Config) { c.MchPrivateKey = c.PlatformPublicKey }, "is not a private key"},
		{"both key forms", func(c *wechat.Config) { c.MchPrivateKeyFile = "/nonexistent" }, "set only one of mchPrivateKey and mchPrivateKeyFile"},
		{"missing key file", func(c *wechat.Config) { c.MchPrivateKey, c.MchPrivateKeyFile = "", "/nonexistent/k.pem" }, "mchPrivateKeyFile: cannot read"},
		{"no verification key", func(c *wechat.Config) { c.PlatformPublicKey, c.PlatformPublicKeyID = "", "" }, "a WeChat Pay public key"},
		{"key id without key", func(c *wechat.Config) { c.PlatformPublicKey = "" }, "platformPublicKey or platformPublicKeyFile is required"},
		{"key without id", func(c *wechat.Config) { c.PlatformPublicKeyID = "" }, "platformPublicKeyID is required"},
		{"garbled public key", func(c *wechat.Config) {
			c.PlatformPublicKey = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
		}, "platformPublicKey: malformed public key"},
		{"garbled cert", func(c *wechat.Config) {
			c.PlatformCertificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "platformCertificate: malformed certificate"},
		{"bad base URL", func(c *wechat.Config) { c.APIBaseURL = "ftp://x" }, "apiBaseURL must be an absolute http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mut(&c)
			ch, err := wechat.New(c)
			if err == nil || ch != nil {
				t.Fatalf("New accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, s := range secrets {
				if s != "" && strings.Contains(err.Error(), s[len(s)/2:len(s)/2+16]) {
					t.Errorf("error contains key material: %q", err)
				}
			}
		})
	}

	// PKCS#1 private key, key files and certificate mode with several certs.
	dir := t.TempDir()
	kf := filepath.Join(dir, "apiclient_key.pem")
	pf := filepath.Join(dir, "pub_key.pem")
	cf := filepath.Join(dir, "certs.pem")
	os.WriteFile(kf, []byte(pkcs1(t, srv)), 0o600)
	os.WriteFile(pf, []byte(good.PlatformPublicKey), 0o600)
	cert := wechattest.CertificatePEM(srv.Keys.PlatformCert)
	os.WriteFile(cf, []byte(cert+cert), 0o600)
	c := good
	c.MchPrivateKey, c.MchPrivateKeyFile = "", kf
	c.PlatformPublicKey, c.PlatformPublicKeyFile = "", pf
	ch, err := wechat.New(c)
	if err != nil {
		t.Fatalf("files + PKCS#1: %v", err)
	}
	if _, err := ch.Create(context.Background(), createReq(channels.WxNative, "F0000001", 1)); err != nil {
		t.Errorf("create with PKCS#1 key from file: %v", err)
	}
	c2 := srv.ChannelConfig(wechattest.CertMode)
	c2.PlatformCertificate, c2.PlatformCertificateFile = "", cf
	ch2, err := wechat.New(c2)
	if err != nil {
		t.Fatalf("cert file: %v", err)
	}
	if _, err := ch2.QueryPayment(context.Background(), "11", channels.WxNative, "F0000001"); err != nil {
		t.Errorf("query in cert mode from file: %v", err)
	}
	// Both modes at once: either signature verifies.
	c3 := good
	c3.PlatformCertificate = cert
	if _, err := wechat.New(c3); err != nil {
		t.Errorf("combined mode: %v", err)
	}
}

func pemBody(p string) string {
	lines := strings.Split(strings.TrimSpace(p), "\n")
	if len(lines) < 3 {
		return ""
	}
	return strings.Join(lines[1:len(lines)-1], "")
}
