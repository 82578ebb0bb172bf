package wechat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// flow is a pay center mounted on a Gin engine behind an httptest server,
// with one app whose WeChat account is the fake.
type flow struct {
	t       *testing.T
	srv     *wechattest.Server
	mode    wechattest.Mode
	pc      *paycenter.PayCenter
	ts      *httptest.Server
	cl      *client.Client
	paid    atomic.Int64 // OnPaid calls
	refunds atomic.Int64 // OnRefund calls
}

const (
	flowApp    = "11"
	flowKey    = "e3327bcd-2681-4a2a-a321-c75ekl433ff81"
	flowSecret = "52ewc-c675-4944-af44-f4fdsww332d88"
)

func newFlow(t *testing.T, kind testdb.Kind, mode wechattest.Mode, opts ...func(*wechat.Config)) *flow {
	t.Helper()
	db := testdb.Open(t, kind)
	f := &flow{t: t, srv: wechattest.NewServer(t), mode: mode}
	cfg := f.srv.ChannelConfig(mode)
	for _, o := range opts {
		o(&cfg)
	}
	ch, err := wechat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	f.ts = httptest.NewServer(engine)
	t.Cleanup(f.ts.Close)
	f.pc, err = paycenter.New(paycenter.Config{
		DB:        db,
		PublicURL: f.ts.URL,
		Apps:      []paycenter.App{{ID: flowApp, Key: flowKey, Secret: flowSecret, Channels: []channels.Channel{ch}}},
		Hooks: []hooks.Hook{
			hooks.OnPaidFunc(func(ctx context.Context, ev *hooks.Paid) error { f.paid.Add(1); return nil }),
			hooks.OnRefundFunc(func(ctx context.Context, ev *hooks.Refunded) error { f.refunds.Add(1); return nil }),
			// Outbox entries of refund events are written for this hook.
			hooks.AfterRefundFunc(func(context.Context, *hooks.Event) error { return nil }),
		},
		// These flows are about notifications and queries; bills have their own tests.
		Reconcile: paycenter.ReconcileConfig{Disabled: true},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("paycenter.New: %v", err)
	}
	t.Cleanup(func() { f.pc.Close() })
	f.pc.Mount(engine)
	f.cl = client.New(flowKey, flowSecret, client.WithBaseURL(f.ts.URL))
	return f
}

// post sends a built notification to url and returns the status code.
func (f *flow) post(url string, n wechattest.Notification) int {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(f.srv.NotificationRequest(url, n))
	if err != nil {
		f.t.Fatalf("post notification: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// Our adapter answers every failure on its own callback path with
	// WeChat's FAIL JSON (paths naming no app/channel are the core's).
	if resp.StatusCode >= 300 && strings.Contains(url, "/callbacks/"+flowApp+"/wechat/") {
		var fail struct{ Code string }
		if json.Unmarshal(b, &fail); fail.Code != "FAIL" {
			f.t.Errorf("failure answer is not WeChat's FAIL JSON: %d %s", resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// charge reads the charge straight from the database (no active query).
func (f *flow) charge(outTradeNo string) models.Charge {
	f.t.Helper()
	var c models.Charge
	if err := f.pc.DB().Table(f.pc.Tables().Charges).Where("app_id = ? AND out_trade_no = ?", flowApp, outTradeNo).Take(&c).Error; err != nil {
		f.t.Fatalf("read charge %s: %v", outTradeNo, err)
	}
	return c
}

func (f *flow) create(code client.Channel, no string, fee int64) *client.ChargeResult {
	f.t.Helper()
	p := client.ChargeParams{Channel: code, OutTradeNo: no, TotalFee: fee, ClientIP: "203.0.113.9",
		Subject: "subject " + no, Body: "body", Attach: "a=1"}
	if code == client.WxJsapi {
		p.OpenID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	}
	if code == client.WxMweb {
		p.ReturnURL = "https://shop.example/done"
	}
	info, err := f.cl.CreateCharge(context.Background(), p)
	if err != nil {
		f.t.Fatalf("create %s %s: %v", code, no, err)
	}
	return info
}

var flowCodes = []client.Channel{client.WxNative, client.WxJsapi, client.WxApp, client.WxMweb}

// wantParam is one key each channel's channelParams must carry.
var wantParam = map[client.Channel]string{client.WxNative: "codeUrl", client.WxJsapi: "paySign", client.WxApp: "prepayid", client.WxMweb: "mwebUrl"}

func TestFlowPayRefundClose(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFlow(t, testdb.SQLite, mode)
			ctx := context.Background()
			cbBase := f.ts.URL + "/callbacks/" + flowApp + "/wechat"
			for i, code := range flowCodes {
				no := fmt.Sprintf("FLOW%d%07d", mode, i+1)
				info := f.create(code, no, 1000)
				var params map[string]string
				if err := json.Unmarshal(info.ChannelParams, &params); err != nil || params[wantParam[code]] == "" {
					t.Fatalf("%s channelParams = %s (%v)", code, info.ChannelParams, err)
				}
				o, ok := f.srv.Order(no)
				// attach carries the pay center's marker, not the merchant's attach.
				if !ok || o.NotifyURL != cbBase+"/paynotify" || o.Total != 1000 || o.Attach != f.charge(no).Marker || o.Attach == "" {
					t.Fatalf("%s order at WeChat = %+v", code, o)
				}

				// Unpaid: pay-result asks WeChat and answers hasPay=false.
				pr, err := f.cl.GetPayResult(ctx, code, no)
				if err != nil || pr.HasPay {
					t.Fatalf("%s pay-result before paying: %+v %v", code, pr, err)
				}

				// The buyer pays; WeChat notifies.
				o, _ = f.srv.Pay(no)
				if st := f.post(o.NotifyURL, f.srv.PaymentNotification(no, mode)); st != http.StatusNoContent {
					t.Fatalf("%s payment notification answered %d", code, st)
				}
				if c := f.charge(no); c.Status != models.ChargePaid || c.TransactionID != o.TransactionID {
					t.Fatalf("%s charge after notification = %s %q", code, c.Status, c.TransactionID)
				}
				pr, err = f.cl.GetPayResult(ctx, code, no)
				if err != nil || !pr.HasPay || pr.TransactionID != o.TransactionID || pr.PayTime == nil || !pr.PayTime.Equal(o.SuccessTime) {
					t.Fatalf("%s pay-result after paying: %+v %v", code, pr, err)
				}

				// Partial refund settled by the refund notification.
				rno := no + "R1"
				rr, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: rno, RefundFee: 300})
				if err != nil || (rr.Status != "" && rr.Status != client.RefundStatus("PROCESSING")) {
					t.Fatalf("%s refund: %+v %v", code, rr, err)
				}
				fr, ok := f.srv.Refund(rno)
				if !ok || fr.Refund != 300 || fr.Total != 1000 || fr.NotifyURL != cbBase+"/refundnotify" {
					t.Fatalf("%s refund at WeChat = %+v", code, fr)
				}
				f.srv.SettleRefund(rno, wechattest.RefundSuccess)
				if st := f.post(fr.NotifyURL, f.srv.RefundNotification(rno, mode)); st != http.StatusNoContent {
					t.Fatalf("%s refund notification answered %d", code, st)
				}
				res, err := f.cl.RefundResult(ctx, rno)
				if err != nil || res.Status != client.RefundStatus("SUCCESS") || res.RefundFee != 300 || res.RefundTime == nil {
					t.Fatalf("%s refund-result after notification: %+v %v", code, res, err)
				}

				// Second partial refund settled by refund query (no notification).
				rno2 := no + "R2"
				if _, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: rno2, RefundFee: 200}); err != nil {
					t.Fatalf("%s refund 2: %v", code, err)
				}
				res, err = f.cl.RefundResult(ctx, rno2)
				if err != nil || res.Status != client.RefundStatus("PROCESSING") {
					t.Fatalf("%s refund-result while processing: %+v %v", code, res, err)
				}
				f.srv.SettleRefund(rno2, wechattest.RefundSuccess)
				res, err = f.cl.RefundResult(ctx, rno2)
				if err != nil || res.Status != client.RefundStatus("SUCCESS") || res.RefundFee != 200 {
					t.Fatalf("%s refund-result by query: %+v %v", code, res, err)
				}
				pr, err = f.cl.GetPayResult(ctx, code, no)
				if err != nil || pr.RefundedFee != 500 {
					t.Fatalf("%s refundedFee = %+v %v", code, pr, err)
				}
				// Over the balance: refused before WeChat is asked.
				if _, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: no + "R3", RefundFee: 501}); !client.IsCode(err, 10009) {
					t.Errorf("%s refund over balance: %v", code, err)
				}

				// Close an unpaid charge of the same channel.
				cno := fmt.Sprintf("CLOS%d%07d", mode, i+1)
				f.create(code, cno, 50)
				if err := f.cl.Close(ctx, code, cno); err != nil {
					t.Fatalf("%s close: %v", code, err)
				}
				if o, _ := f.srv.Order(cno); o.State != wechattest.StateClosed {
					t.Errorf("%s order at WeChat after close: %s", code, o.State)
				}
				if c := f.charge(cno); c.Status != models.ChargeClosed {
					t.Errorf("%s charge after close: %s", code, c.Status)
				}
				// Closing a paid charge is refused.
				if err := f.cl.Close(ctx, code, no); err == nil {
					t.Errorf("%s close of a paid charge succeeded", code)
				}
			}
			if got := f.paid.Load(); got != int64(len(flowCodes)) {
				t.Errorf("OnPaid ran %d times, want %d", got, len(flowCodes))
			}
			if got := f.refunds.Load(); got != int64(2*len(flowCodes)) {
				t.Errorf("OnRefund ran %d times, want %d", got, 2*len(flowCodes))
			}
			if f.srv.Rejected() != 0 {
				t.Errorf("WeChat refused %d of our signatures", f.srv.Rejected())
			}
		})
	}
}

// TestFlowForgedNotifications: forged or mismatched notifications posted to
// the mounted callback change nothing, call no hook and are answered as
// failures; the genuine one then goes through.
func TestFlowForgedNotifications(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFlow(t, testdb.SQLite, mode)
			no := "FORGE0000001"
			f.create(client.WxNative, no, 1000)
			o, _ := f.srv.Pay(no)
			payURL := f.ts.URL + "/callbacks/" + flowApp + "/wechat/paynotify"
			good := func() wechattest.Notification { return f.srv.PaymentNotification(no, mode) }
			edit := func(edit func(m map[string]any)) wechattest.Notification {
				n := good()
				var m map[string]any
				json.Unmarshal(n.Plaintext, &m)
				edit(m)
				n.Plaintext, _ = json.Marshal(m)
				return n
			}
			otherMode := wechattest.CertMode
			if mode == wechattest.CertMode {
				otherMode = wechattest.PublicKeyMode
			}
			forged := map[string]struct {
				url string
				n   wechattest.Notification
			}{
				"bad signature":      {payURL, func() wechattest.Notification { n := good(); n.BadSignature = true; return n }()},
				"another key":        {payURL, func() wechattest.Notification { n := good(); n.SignWith = f.srv.Keys.Other; return n }()},
				"other mode's key":   {payURL, func() wechattest.Notification { n := good(); n.Mode = otherMode; return n }()},
				"wrong APIv3 key":    {payURL, func() wechattest.Notification { n := good(); n.APIv3Key = strings.Repeat("x", 32); return n }()},
				"missing resource":   {payURL, func() wechattest.Notification { n := good(); n.OmitResource = true; return n }()},
				"short nonce":        {payURL, func() wechattest.Notification { n := good(); n.Nonce = ptr("abc"); return n }()},
				"another mchid":      {payURL, edit(func(m map[string]any) { m["mchid"] = "1900000001" })},
				"another appid":      {payURL, edit(func(m map[string]any) { m["appid"] = "wx0000000000000000" })},
				"amount mismatch":    {payURL, edit(func(m map[string]any) { m["amount"] = map[string]any{"total": 1, "currency": "CNY"} })},
				"unknown order":      {payURL, edit(func(m map[string]any) { m["out_trade_no"] = "NOSUCHORDER1" })},
				"trade_state CLOSED": {payURL, edit(func(m map[string]any) { m["trade_state"] = "CLOSED" })},
				"unknown path":       {payURL[:len(payURL)-len("/paynotify")] + "/notify", good()},
				"another app":        {f.ts.URL + "/callbacks/12/wechat/paynotify", good()},
				"refund path":        {f.ts.URL + "/callbacks/" + flowApp + "/wechat/refundnotify", good()},
				"alipay provider":    {f.ts.URL + "/callbacks/" + flowApp + "/alipay/web/paynotify", good()},
			}
			for name, c := range forged {
				if st := f.post(c.url, c.n); st < 300 {
					t.Errorf("%s: answered %d", name, st)
				}
			}
			if c := f.charge(no); c.Status != models.ChargeCreated || c.TransactionID != "" {
				t.Fatalf("a forged notification changed the charge: %s %q", c.Status, c.TransactionID)
			}
			if f.paid.Load() != 0 {
				t.Fatalf("OnPaid ran %d times for forged notifications", f.paid.Load())
			}
			if st := f.post(payURL, good()); st != http.StatusNoContent {
				t.Fatalf("genuine notification answered %d", st)
			}
			if c := f.charge(no); c.Status != models.ChargePaid || c.TransactionID != o.TransactionID || f.paid.Load() != 1 {
				t.Fatalf("genuine notification: %s %q, OnPaid %d", c.Status, c.TransactionID, f.paid.Load())
			}
		})
	}
}

// TestFlowConcurrentNotifications: the same valid notification delivered 16
// times at once makes one transition and one OnPaid, on every database.
func TestFlowConcurrentNotifications(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			f := newFlow(t, kind, wechattest.PublicKeyMode)
			no := "CONC00000001"
			f.create(client.WxApp, no, 1234)
			o, _ := f.srv.Pay(no)
			body, h, err := f.srv.BuildNotification(f.srv.PaymentNotification(no, wechattest.PublicKeyMode))
			if err != nil {
				t.Fatal(err)
			}
			const n = 16
			var (
				wg    sync.WaitGroup
				codes = make([]int, n)
				start = make(chan struct{})
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest(http.MethodPost, o.NotifyURL, strings.NewReader(string(body)))
					req.Header = h.Clone()
					<-start
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}()
			}
			// Pay-result calls race the notifications: each asks the fake
			// (active query) and applies a payment through the same path.
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					pr, err := f.cl.GetPayResult(context.Background(), client.WxApp, no)
					if err != nil {
						t.Error(err)
					} else if !pr.HasPay {
						t.Error("pay-result answered unpaid for an order paid at the channel")
					}
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, c := range codes {
				if c == http.StatusNoContent {
					ok++
				}
			}
			if ok != n {
				t.Errorf("%d of %d deliveries acknowledged (codes %v); an applied notification must be ACKed", ok, n, codes)
			}
			if got := f.paid.Load(); got != 1 {
				t.Errorf("OnPaid ran %d times, want 1", got)
			}
			if c := f.charge(no); c.Status != models.ChargePaid || c.TransactionID != o.TransactionID {
				t.Errorf("charge = %s %q", c.Status, c.TransactionID)
			}
		})
	}
}

// TestFlowRefundOutcomes: a refund whose answer never comes stays
// PROCESSING and is settled by refund query with the same number; a
// definite refusal fails the refund (30003) and releases its amount.
func TestFlowRefundOutcomes(t *testing.T) {
	f := newFlow(t, testdb.SQLite, wechattest.CertMode, func(c *wechat.Config) {
		c.HTTPClient = &http.Client{Timeout: 500 * time.Millisecond}
	})
	ctx := context.Background()
	no := "OUTC00000001"
	f.create(client.WxNative, no, 1000)
	o, _ := f.srv.Pay(no)
	if st := f.post(o.NotifyURL, f.srv.PaymentNotification(no, wechattest.CertMode)); st != http.StatusNoContent {
		t.Fatalf("payment notification answered %d", st)
	}

	// WeChat takes the refund but the answer is lost.
	f.srv.FailNext(wechattest.Fault{Hang: true, AfterApply: true})
	rr, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "OUTCR1", RefundFee: 400})
	if err != nil {
		t.Fatalf("refund with a lost answer: %v (an unknown outcome is not a refusal)", err)
	}
	if rr.Status != "" && rr.Status != client.RefundStatus("PROCESSING") {
		t.Fatalf("refund with a lost answer: status %s", rr.Status)
	}
	f.srv.SettleRefund("OUTCR1", wechattest.RefundSuccess)
	res, err := f.cl.RefundResult(ctx, "OUTCR1")
	if err != nil || res.Status != client.RefundStatus("SUCCESS") || res.RefundFee != 400 {
		t.Fatalf("refund-result after a lost answer: %+v %v", res, err)
	}

	// WeChat refuses: 30003, FAILED, the amount is released.
	f.srv.FailNext(wechattest.Fault{Status: 403, Code: "NOT_ENOUGH", Message: "insufficient balance"})
	_, err = f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "OUTCR2", RefundFee: 600})
	if !client.IsCode(err, 30003) {
		t.Fatalf("refused refund: %v, want errorCode 30003", err)
	}
	if res, err := f.cl.RefundResult(ctx, "OUTCR2"); err != nil || res.Status != client.RefundStatus("FAILED") {
		t.Fatalf("refund-result of the refused refund: %+v %v", res, err)
	}
	if _, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "OUTCR3", RefundFee: 600}); err != nil {
		t.Fatalf("refund of the released amount: %v", err)
	}
	if o, _ := f.srv.Order(no); o.Refunded != 1000 {
		t.Errorf("refunded at WeChat = %d, want 1000 (one refund per number)", o.Refunded)
	}
}

// TestFlowDatabaseFailure: a notification that arrives while the database
// fails gets a non-2xx answer and changes nothing; WeChat's redelivery then
// succeeds and OnPaid runs once.
func TestFlowDatabaseFailure(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			f := newFlow(t, kind, wechattest.PublicKeyMode)
			arm := testdb.FailUpdates(t, f.pc.DB(), f.pc.Tables().Charges)
			no := "DBFAIL000001"
			f.create(client.WxNative, no, 990)
			o, _ := f.srv.Pay(no)
			n := f.srv.PaymentNotification(no, wechattest.PublicKeyMode)
			arm(1)
			if code := f.post(o.NotifyURL, n); code < 400 {
				t.Fatalf("a notification that could not be committed was answered %d", code)
			}
			if c := f.charge(no); c.Status != models.ChargeCreated || f.paid.Load() != 0 {
				t.Fatalf("after the failure: charge %s, OnPaid %d", c.Status, f.paid.Load())
			}
			if code := f.post(o.NotifyURL, n); code != http.StatusNoContent {
				t.Fatalf("the redelivery was answered %d", code)
			}
			if c := f.charge(no); c.Status != models.ChargePaid || f.paid.Load() != 1 {
				t.Fatalf("after the redelivery: charge %s, OnPaid %d", c.Status, f.paid.Load())
			}
		})
	}
}
