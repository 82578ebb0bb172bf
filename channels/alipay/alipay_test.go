package alipay_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
)

var beijing = time.FixedZone("CST", 8*3600)

func setup(t *testing.T, mode alipaytest.Mode) (*alipaytest.Fake, *alipay.Channel) {
	t.Helper()
	fake := alipaytest.New(t, alipaytest.NewKeys(t, mode))
	return fake, fake.Channel(t)
}

func createReq(code channels.Code, no string, fee int64) *channels.CreateRequest {
	return &channels.CreateRequest{
		AppID:       "11",
		Code:        code,
		OutTradeNo:  no,
		TotalFee:    fee,
		Subject:     `Tea & "biscuits" <b>x</b>`,
		Body:        "two boxes",
		ClientIP:    "203.0.113.9",
		ReturnURL:   "https://shop.example.com/return?order=" + no,
		ExpireAt:    time.Now().Add(2 * time.Hour),
		CallbackURL: "https://pay.example.com/callbacks/11/alipay",
		Marker:      "m" + no,
	}
}

func checkSigned(t *testing.T, keys *alipaytest.Keys, v url.Values) {
	t.Helper()
	if v.Get("sign") == "" {
		t.Fatal("no sign parameter")
	}
	// The fake verifies the signature; this only checks it covers the
	// parameters we see (a stray unsigned parameter would break it there).
	if v.Get("app_id") != keys.AppID || v.Get("sign_type") != "RSA2" || v.Get("charset") != "utf-8" {
		t.Errorf("common params: app_id=%q sign_type=%q charset=%q", v.Get("app_id"), v.Get("sign_type"), v.Get("charset"))
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04:05", v.Get("timestamp"), beijing)
	if err != nil {
		t.Fatalf("timestamp %q: %v", v.Get("timestamp"), err)
	}
	if d := time.Since(ts); d > time.Minute || d < -time.Minute {
		t.Errorf("timestamp %q is not Beijing time (off by %v)", v.Get("timestamp"), d)
	}
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		code      channels.Code
		method    string
		suffix    string
		product   string
		hasReturn bool
	}{
		{channels.AliWeb, alipaytest.MethodPagePay, "/web/paynotify", "FAST_INSTANT_TRADE_PAY", true},
		{channels.AliWap, alipaytest.MethodWapPay, "/wap/paynotify", "QUICK_WAP_WAY", true},
		{channels.AliApp, alipaytest.MethodAppPay, "/app/paynotify", "QUICK_MSECURITY_PAY", false},
	}
	for _, mode := range alipaytest.Modes {
		for _, tc := range cases {
			t.Run(string(mode)+"/"+string(tc.code), func(t *testing.T) {
				fake, ch := setup(t, mode)
				req := createReq(tc.code, "T"+strings.ReplaceAll(string(tc.code), "_", "")+"0001", 12345)
				params, err := ch.Create(ctx, req)
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				var signed url.Values
				if tc.code == channels.AliApp {
					if len(params) != 1 || params["body"] == "" {
						t.Fatalf("ALI_APP params = %v, want only body", params)
					}
					if signed, err = url.ParseQuery(params["body"]); err != nil {
						t.Fatalf("order string: %v", err)
					}
					if _, err := fake.SubmitOrderString(ctx, params["body"]); err != nil {
						t.Fatalf("fake refused the order string: %v", err)
					}
				} else {
					action, method, formValues, err := alipaytest.ParseForm(params["body"])
					if err != nil {
						t.Fatalf("form: %v", err)
					}
					if method != "POST" || action != fake.URL+"?charset=utf-8" {
						t.Errorf("form %s %s, want POST %s?charset=utf-8", method, action, fake.URL)
					}
					if !strings.Contains(params["body"], "document.forms[") || !strings.Contains(params["body"], ".submit()") {
						t.Error("form does not auto-submit")
					}
					if strings.Contains(params["body"], "<b>x</b>") {
						t.Error("subject is not HTML-escaped in the form")
					}
					u, err := url.Parse(params["url"])
					if err != nil {
						t.Fatalf("url: %v", err)
					}
					if got := u.Scheme + "://" + u.Host + u.Path; got != fake.URL {
						t.Errorf("url points at %s, want %s", got, fake.URL)
					}
					signed = u.Query()
					// The form posts every signed parameter, and nothing else.
					if formValues.Encode() != signed.Encode() {
						t.Errorf("form and url differ:\nform %s\nurl  %s", formValues.Encode(), signed.Encode())
					}
					if _, err := fake.SubmitForm(ctx, params["body"]); err != nil {
						t.Fatalf("fake refused the form: %v", err)
					}
					if _, err := fake.SubmitURL(ctx, params["url"]); err != nil {
						t.Fatalf("fake refused the url: %v", err)
					}
				}
				checkSigned(t, fake.Keys, signed)
				if got := signed.Get("method"); got != tc.method {
					t.Errorf("method = %q, want %q", got, tc.method)
				}
				if got := signed.Get("notify_url"); got != req.CallbackURL+tc.suffix {
					t.Errorf("notify_url = %q", got)
				}
				if got := signed.Get("return_url"); tc.hasReturn != (got == req.ReturnURL) || (!tc.hasReturn && got != "") {
					t.Errorf("return_url = %q", got)
				}
				if fake.Rejected() != 0 {
					t.Fatalf("fake rejected %d requests", fake.Rejected())
				}
				tr, ok := fake.Trade(req.OutTradeNo)
				if !ok {
					t.Fatal("fake has no trade")
				}
				if tr.Total != 12345 || tr.ProductCode != tc.product || tr.Subject != req.Subject || tr.Status != alipaytest.WaitBuyerPay {
					t.Errorf("trade = %+v", tr)
				}
				wantExpire := req.ExpireAt.In(beijing).Format("2006-01-02 15:04:05")
				if tc.code == channels.AliWap {
					wantExpire = req.ExpireAt.In(beijing).Format("2006-01-02 15:04")
				}
				if tr.TimeExpire != wantExpire {
					t.Errorf("time_expire = %q, want %q (Beijing)", tr.TimeExpire, wantExpire)
				}
				pb, _ := url.QueryUnescape(tr.PassbackParams)
				if pb != "appId=11&marker=m"+req.OutTradeNo {
					t.Errorf("passback_params = %q", tr.PassbackParams)
				}
				for _, secret := range []string{"PRIVATE KEY", fake.Keys.AppPrivateKeyBase64[:40]} {
					if strings.Contains(params["body"]+params["url"], secret) {
						t.Error("channel params carry key material")
					}
				}
			})
		}
	}
}

func TestCreateRejectsBadRequests(t *testing.T) {
	_, ch := setup(t, alipaytest.PublicKeyMode)
	ctx := context.Background()
	for name, mut := range map[string]func(r *channels.CreateRequest){
		"wechat code":  func(r *channels.CreateRequest) { r.Code = channels.WxNative },
		"zero fee":     func(r *channels.CreateRequest) { r.TotalFee = 0 },
		"negative fee": func(r *channels.CreateRequest) { r.TotalFee = -1 },
		"over max":     func(r *channels.CreateRequest) { r.TotalFee = alipay.MaxAmount + 1 },
		"no number":    func(r *channels.CreateRequest) { r.OutTradeNo = "" },
		"no callback":  func(r *channels.CreateRequest) { r.CallbackURL = "" },
	} {
		req := createReq(channels.AliWeb, "TBAD0001", 100)
		mut(req)
		if _, err := ch.Create(ctx, req); !channels.IsDefinite(err) {
			t.Errorf("%s: err = %v, want a *channels.Error", name, err)
		}
	}
	if !ch.Supports(channels.AliWeb) || !ch.Supports(channels.AliWap) || !ch.Supports(channels.AliApp) || ch.Supports(channels.WxNative) {
		t.Error("Supports is wrong")
	}
	if ch.Provider() != "alipay" {
		t.Errorf("Provider = %q", ch.Provider())
	}
}

// open creates an ALI_WEB charge and opens it at the fake's cashier.
func open(t *testing.T, fake *alipaytest.Fake, ch *alipay.Channel, no string, fee int64) {
	t.Helper()
	params, err := ch.Create(context.Background(), createReq(channels.AliWeb, no, fee))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	fake.MustSubmit(t, params)
}

func TestQueryCloseRefund(t *testing.T) {
	for _, mode := range alipaytest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			fake, ch := setup(t, mode)

			// Never opened at the cashier: Alipay does not know it.
			p, err := ch.QueryPayment(ctx, "11", channels.AliWeb, "TNEVER01")
			if err != nil || p.Status != channels.PaymentPending || p.OutTradeNo != "TNEVER01" {
				t.Fatalf("query unknown = %+v, %v; want pending", p, err)
			}
			// The signed order can still open the trade: not closed.
			if err := ch.ClosePayment(ctx, "11", channels.AliWeb, "TNEVER01"); !errors.Is(err, channels.ErrNotOpened) {
				t.Fatalf("close unknown = %v, want ErrNotOpened", err)
			}

			open(t, fake, ch, "TPAY0001", 10000)
			p, err = ch.QueryPayment(ctx, "11", channels.AliWeb, "TPAY0001")
			if err != nil || p.Status != channels.PaymentPending || p.TotalFee != 10000 {
				t.Fatalf("query open = %+v, %v", p, err)
			}
			if err := fake.Pay("TPAY0001"); err != nil {
				t.Fatal(err)
			}
			tr, _ := fake.Trade("TPAY0001")
			p, err = ch.QueryPayment(ctx, "11", channels.AliWeb, "TPAY0001")
			if err != nil {
				t.Fatalf("query paid: %v", err)
			}
			if p.Status != channels.PaymentPaid || p.TotalFee != 10000 || p.TransactionID != tr.TradeNo || !p.PaidAt.Equal(tr.PaidAt) {
				t.Fatalf("query paid = %+v, trade %+v", p, tr)
			}
			if err := ch.ClosePayment(ctx, "11", channels.AliWeb, "TPAY0001"); !errors.Is(err, channels.ErrAlreadyPaid) {
				t.Fatalf("close paid = %v, want ErrAlreadyPaid", err)
			}

			// Two partial refunds, an idempotent retry, an over-refund.
			rr := func(no string, fee int64) *channels.RefundRequest {
				return &channels.RefundRequest{AppID: "11", Code: channels.AliWeb, OutTradeNo: "TPAY0001", OutRefundNo: no, RefundFee: fee, TotalFee: 10000, Reason: "return"}
			}
			r, err := ch.Refund(ctx, rr("R1", 3000))
			if err != nil || r.Status != channels.RefundSucceeded || r.RefundFee != 3000 || r.OutRefundNo != "R1" || r.RefundedAt.IsZero() {
				t.Fatalf("refund R1 = %+v, %v", r, err)
			}
			if r, err := ch.Refund(ctx, rr("R1", 3000)); err != nil || r.Status != channels.RefundSucceeded {
				t.Fatalf("refund R1 retry = %+v, %v (fund_change N is success)", r, err)
			}
			if r, err := ch.Refund(ctx, rr("R2", 2000)); err != nil || r.Status != channels.RefundSucceeded {
				t.Fatalf("refund R2 = %+v, %v", r, err)
			}
			if tr, _ := fake.Trade("TPAY0001"); tr.Refunded != 5000 {
				t.Fatalf("fake refunded %d, want 5000 (a retry must not refund twice)", tr.Refunded)
			}
			_, err = ch.Refund(ctx, rr("R3", 5001))
			var ce *channels.Error
			if !errors.As(err, &ce) || ce.Code != "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" || ce.Message == "" {
				t.Fatalf("over-refund = %v, want definite ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", err)
			}
			_, err = ch.Refund(ctx, rr("R1", 100)) // same number, other amount
			if !errors.As(err, &ce) || ce.Code != "ACQ.DISCORDANT_REPEAT_REQUEST" {
				t.Fatalf("discordant retry = %v", err)
			}

			q, err := ch.QueryRefund(ctx, rr("R2", 2000))
			tr, _ = fake.Trade("TPAY0001")
			if err != nil || q.Status != channels.RefundSucceeded || q.RefundFee != 2000 || !q.RefundedAt.Equal(tr.Refunds["R2"].At) {
				t.Fatalf("query R2 = %+v, %v", q, err)
			}
			if q, err := ch.QueryRefund(ctx, rr("R9", 100)); err != nil || q.Status != channels.RefundProcessing {
				t.Fatalf("query unknown refund = %+v, %v; want processing", q, err)
			}
			if _, err := ch.QueryRefund(ctx, &channels.RefundRequest{OutTradeNo: "TNEVER01", OutRefundNo: "R1"}); !channels.IsDefinite(err) {
				t.Fatalf("query refund of unknown trade = %v, want definite", err)
			}

			// Close an open trade; closing it again is fine; it queries closed.
			open(t, fake, ch, "TCLOSE01", 500)
			if err := ch.ClosePayment(ctx, "11", channels.AliWeb, "TCLOSE01"); err != nil {
				t.Fatalf("close open: %v", err)
			}
			if tr, _ := fake.Trade("TCLOSE01"); tr.Status != alipaytest.TradeClosed {
				t.Fatalf("fake trade is %s after close", tr.Status)
			}
			if err := ch.ClosePayment(ctx, "11", channels.AliWeb, "TCLOSE01"); err != nil {
				t.Fatalf("close closed: %v", err)
			}
			if p, err := ch.QueryPayment(ctx, "11", channels.AliWeb, "TCLOSE01"); err != nil || p.Status != channels.PaymentClosed {
				t.Fatalf("query closed = %+v, %v", p, err)
			}
			if _, err := ch.Refund(ctx, &channels.RefundRequest{OutTradeNo: "TCLOSE01", OutRefundNo: "R1", RefundFee: 1}); !channels.IsDefinite(err) {
				t.Fatalf("refund of closed trade = %v, want definite", err)
			}
			if fake.Rejected() != 0 {
				t.Fatalf("fake rejected %d of our requests", fake.Rejected())
			}
		})
	}
}

// paid returns a fake with one paid trade "TPAY0001" of 100.00 yuan.
func paid(t *testing.T, mode alipaytest.Mode) (*alipaytest.Fake, *alipay.Channel) {
	t.Helper()
	fake, ch := setup(t, mode)
	open(t, fake, ch, "TPAY0001", 10000)
	if err := fake.Pay("TPAY0001"); err != nil {
		t.Fatal(err)
	}
	return fake, ch
}

func refundReq(no string, fee int64) *channels.RefundRequest {
	return &channels.RefundRequest{AppID: "11", Code: channels.AliWeb, OutTradeNo: "TPAY0001", OutRefundNo: no, RefundFee: fee, TotalFee: 10000}
}

// assertUnknown checks err means "outcome unknown": not a *channels.Error,
// and free of response bodies and key material.
func assertUnknown(t *testing.T, fake *alipaytest.Fake, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want an unknown-outcome error")
	}
	if channels.IsDefinite(err) {
		t.Fatalf("err = %v is definite, want unknown outcome", err)
	}
	msg := err.Error()
	for _, bad := range []string{"<html", "_response", "{", "PRIVATE", fake.Keys.AppPrivateKeyBase64[:24], "sign="} {
		if strings.Contains(msg, bad) {
			t.Fatalf("error text %q carries %q", msg, bad)
		}
	}
}

func TestRefundOutcomes(t *testing.T) {
	for _, mode := range alipaytest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			unknown := map[string]alipaytest.Fault{
				"system error": {Kind: alipaytest.FaultBusiness, Code: "20000", SubCode: "ACQ.SYSTEM_ERROR", SubMsg: "系统错误"},
				"isp unknown":  {Kind: alipaytest.FaultBusiness, Code: "20000", SubCode: "isp.unknow-error", SubMsg: "服务暂不可用"},
				"unsigned":     {Kind: alipaytest.FaultUnsigned},
				"garbled":      {Kind: alipaytest.FaultGarbled},
				"bad sign":     {Kind: alipaytest.FaultBadSignature},
				"http 500":     {Kind: alipaytest.FaultHTTP500},
			}
			for name, fault := range unknown {
				fake, ch := paid(t, mode)
				fake.FailNext(alipaytest.MethodRefund, fault)
				_, err := ch.Refund(ctx, refundReq("R1", 100))
				assertUnknown(t, fake, err)
				// The retry with the same number settles it.
				r, err := ch.Refund(ctx, refundReq("R1", 100))
				if err != nil || r.Status != channels.RefundSucceeded {
					t.Fatalf("%s: retry = %+v, %v", name, r, err)
				}
			}

			// A signed refusal is definite and carries Alipay's code and message.
			fake, ch := paid(t, mode)
			fake.FailNext(alipaytest.MethodRefund, alipaytest.Fault{Kind: alipaytest.FaultBusiness, SubCode: "ACQ.SELLER_BALANCE_NOT_ENOUGH", SubMsg: "卖家余额不足"})
			_, err := ch.Refund(ctx, refundReq("R1", 100))
			var ce *channels.Error
			if !errors.As(err, &ce) || ce.Code != "ACQ.SELLER_BALANCE_NOT_ENOUGH" || ce.Message != "卖家余额不足" {
				t.Fatalf("refusal = %v", err)
			}

			// Timeout before Alipay acted, then a timeout after it did: both
			// unknown; the retry with the same number refunds exactly once.
			fake.FailNext(alipaytest.MethodRefund, alipaytest.Fault{Kind: alipaytest.FaultHang})
			tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err = ch.Refund(tctx, refundReq("R2", 700))
			cancel()
			assertUnknown(t, fake, err)
			fake.FailNext(alipaytest.MethodRefund, alipaytest.Fault{Kind: alipaytest.FaultHangAfterApply})
			tctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
			_, err = ch.Refund(tctx, refundReq("R2", 700))
			cancel()
			assertUnknown(t, fake, err)
			if q, err := ch.QueryRefund(ctx, refundReq("R2", 700)); err != nil || q.Status != channels.RefundSucceeded {
				t.Fatalf("refund query after timeout = %+v, %v", q, err)
			}
			if r, err := ch.Refund(ctx, refundReq("R2", 700)); err != nil || r.Status != channels.RefundSucceeded {
				t.Fatalf("retry after timeout = %+v, %v", r, err)
			}
			if tr, _ := fake.Trade("TPAY0001"); tr.Refunded != 700 {
				t.Fatalf("refunded %d, want 700 exactly once", tr.Refunded)
			}
		})
	}
}

func TestQueryAndCloseFaults(t *testing.T) {
	ctx := context.Background()
	fake, ch := paid(t, alipaytest.CertMode)
	for _, k := range []alipaytest.FaultKind{alipaytest.FaultUnsigned, alipaytest.FaultBadSignature, alipaytest.FaultGarbled} {
		fake.FailNext(alipaytest.MethodQuery, alipaytest.Fault{Kind: k})
		_, err := ch.QueryPayment(ctx, "11", channels.AliWeb, "TPAY0001")
		assertUnknown(t, fake, err)
	}
	fake.FailNext(alipaytest.MethodQuery, alipaytest.Fault{Kind: alipaytest.FaultBusiness, Code: "40006", SubCode: "isv.insufficient-isv-permissions", SubMsg: "ISV权限不足"})
	if _, err := ch.QueryPayment(ctx, "11", channels.AliWeb, "TPAY0001"); !channels.IsDefinite(err) {
		t.Fatalf("signed permission error = %v, want definite", err)
	}
	// Close answered "status error" and the confirming query fails: not
	// ErrAlreadyPaid, not nil.
	fake.FailNext(alipaytest.MethodQuery, alipaytest.Fault{Kind: alipaytest.FaultUnsigned})
	if err := ch.ClosePayment(ctx, "11", channels.AliWeb, "TPAY0001"); err == nil || errors.Is(err, channels.ErrAlreadyPaid) {
		t.Fatalf("close with failing confirmation = %v", err)
	}
	fake.FailNext(alipaytest.MethodClose, alipaytest.Fault{Kind: alipaytest.FaultHang})
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := ch.ClosePayment(tctx, "11", channels.AliWeb, "TPAY0001"); err == nil || channels.IsDefinite(err) {
		t.Fatalf("close timeout = %v", err)
	}
}

// A request signed with a key the fake does not know is refused unsigned;
// the adapter reports it as an unknown outcome, not a refusal.
func TestWrongAppKeyIsRejectedByGateway(t *testing.T) {
	fake, _ := setup(t, alipaytest.PublicKeyMode)
	cfg := fake.Config()
	cfg.PrivateKey = alipaytest.NewKeys(t, alipaytest.PublicKeyMode).AppPrivateKey
	ch, err := alipay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueryPayment(context.Background(), "11", channels.AliWeb, "TPAY0001")
	assertUnknown(t, fake, err)
	if fake.Rejected() != 1 {
		t.Fatalf("fake rejected %d requests, want 1", fake.Rejected())
	}
}

func TestNewConfig(t *testing.T) {
	pk := alipaytest.NewKeys(t, alipaytest.PublicKeyMode)
	ck := alipaytest.NewKeys(t, alipaytest.CertMode)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := map[string]func(c *alipay.Config){
		"pkcs8 pem":        func(c *alipay.Config) {},
		"pkcs1 pem":        func(c *alipay.Config) { c.PrivateKey = pk.AppPrivateKeyPKCS1 },
		"bare base64":      func(c *alipay.Config) { c.PrivateKey = pk.AppPrivateKeyBase64 },
		"bom + whitespace": func(c *alipay.Config) { c.PrivateKey = "\ufeff \n" + pk.AppPrivateKey + "\n\n" },
		"key files": func(c *alipay.Config) {
			c.PrivateKey, c.PrivateKeyFile = "", write("app.pem", "\ufeff"+pk.AppPrivateKey)
			c.AlipayPublicKey, c.AlipayPublicKeyFile = "", write("ali.pem", pk.AlipayPublicKey)
		},
		"production with gateway": func(c *alipay.Config) { c.Production = true },
	}
	for name, mut := range good {
		cfg := pk.Config("http://127.0.0.1:1/gateway.do")
		mut(&cfg)
		if _, err := alipay.New(cfg); err != nil {
			t.Errorf("%s: New: %v", name, err)
		}
	}
	certCfg := ck.Config("")
	certCfg.AppCertPublicKey, certCfg.AppCertPublicKeyFile = "", write("app.crt", ck.AppCertPublicKey)
	certCfg.AlipayRootCert, certCfg.AlipayRootCertFile = "", write("root.crt", ck.AlipayRootCert)
	certCfg.AlipayCertPublicKey, certCfg.AlipayCertPublicKeyFile = "", write("ali.crt", ck.AlipayCertPublicKey)
	if ch, err := alipay.New(certCfg); err != nil {
		t.Errorf("cert mode from files: %v", err)
	} else if ch.Gateway() != alipay.SandboxGateway {
		t.Errorf("default gateway = %q", ch.Gateway())
	}

	secret := strings.Split(pk.AppPrivateKey, "\n")[1]
	bad := map[string]func(c *alipay.Config){
		"no app id":       func(c *alipay.Config) { c.AppID = "" },
		"no private key":  func(c *alipay.Config) { c.PrivateKey = "" },
		"garbage key":     func(c *alipay.Config) { c.PrivateKey = secret[:30] + "!!" },
		"truncated key":   func(c *alipay.Config) { c.PrivateKey = pk.AppPrivateKey[:len(pk.AppPrivateKey)/2] },
		"key and file":    func(c *alipay.Config) { c.PrivateKeyFile = write("dup.pem", pk.AppPrivateKey) },
		"missing file":    func(c *alipay.Config) { c.PrivateKey, c.PrivateKeyFile = "", filepath.Join(dir, "nope.pem") },
		"no alipay key":   func(c *alipay.Config) { c.AlipayPublicKey = "" },
		"bad alipay key":  func(c *alipay.Config) { c.AlipayPublicKey = secret },
		"both modes":      func(c *alipay.Config) { c.AlipayRootCert = ck.AlipayRootCert },
		"cert incomplete": func(c *alipay.Config) { c.AlipayPublicKey, c.AppCertPublicKey = "", ck.AppCertPublicKey },
		"cert of another key": func(c *alipay.Config) {
			c.AlipayPublicKey = ""
			c.AppCertPublicKey, c.AlipayRootCert, c.AlipayCertPublicKey = ck.AppCertPublicKey, ck.AlipayRootCert, ck.AlipayCertPublicKey
		},
		"bad gateway": func(c *alipay.Config) { c.GatewayURL = "openapi.alipay.com/gateway.do" },
	}
	for name, mut := range bad {
		cfg := pk.Config("")
		mut(&cfg)
		_, err := alipay.New(cfg)
		if err == nil {
			t.Errorf("%s: New succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), secret[:20]) || strings.Contains(err.Error(), "PRIVATE KEY-----") {
			t.Errorf("%s: error carries key material: %v", name, err)
		}
	}
}

func TestAck(t *testing.T) {
	_, ch := setup(t, alipaytest.PublicKeyMode)
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{nil, 200, "success"},
		{alipay.ErrBadSignature, 400, "fail"},
		{errors.New("database is down: password=hunter2"), 500, "fail"},
	} {
		w := newRecorder()
		ch.Ack(w, tc.err)
		if w.status != tc.status || w.body.String() != tc.body {
			t.Errorf("Ack(%v) = %d %q, want %d %q", tc.err, w.status, w.body.String(), tc.status, tc.body)
		}
		if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("Ack content type %q", w.Header().Get("Content-Type"))
		}
	}
}

type recorder struct {
	h      http.Header
	status int
	body   strings.Builder
}

func newRecorder() *recorder                    { return &recorder{h: http.Header{}} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }
