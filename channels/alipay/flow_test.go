package alipay_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// flow is a pay center mounted on Gin behind an httptest server, with one
// app whose Alipay account is the fake gateway.
type flow struct {
	t       *testing.T
	fake    *alipaytest.Fake
	pc      *paycenter.PayCenter
	ts      *httptest.Server
	cl      *client.Client
	paid    atomic.Int64 // OnPaid calls
	refunds atomic.Int64 // OnRefund calls
	closed  atomic.Int64 // OnClosed calls
}

const (
	flowApp    = "11"
	flowKey    = "e3327bcd-2681-4a2a-a321-c75ekl433ff81"
	flowSecret = "52ewc-c675-4944-af44-f4fdsww332d88"
)

func newFlow(t *testing.T, kind testdb.Kind, mode alipaytest.Mode) *flow {
	t.Helper()
	return newFlowOn(t, kind, mode, "", "")
}

// newFlowOn is newFlow mounting on the router group at path group ("" for
// the engine), with Config.BasePath basePath.
func newFlowOn(t *testing.T, kind testdb.Kind, mode alipaytest.Mode, group, basePath string) *flow {
	t.Helper()
	db := testdb.Open(t, kind)
	f := &flow{t: t}
	f.fake = alipaytest.New(t, alipaytest.NewKeys(t, mode))
	ch := f.fake.Channel(t)
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	f.ts = httptest.NewServer(engine)
	t.Cleanup(f.ts.Close)
	var err error
	f.pc, err = paycenter.New(paycenter.Config{
		DB:        db,
		PublicURL: f.ts.URL,
		BasePath:  basePath,
		Sandbox:   paycenter.SandboxOff,
		Apps:      []paycenter.App{{ID: flowApp, Key: flowKey, Secret: flowSecret, Channels: []channels.Channel{ch}}},
		Hooks: []hooks.Hook{
			hooks.OnPaidFunc(func(ctx context.Context, ev *hooks.Paid) error { f.paid.Add(1); return nil }),
			hooks.OnRefundFunc(func(ctx context.Context, ev *hooks.Refunded) error { f.refunds.Add(1); return nil }),
			hooks.OnClosedFunc(func(ctx context.Context, ev *hooks.Closed) error { f.closed.Add(1); return nil }),
		},
		// These flows are about notifications and queries; bills have their own tests.
		Reconcile: paycenter.ReconcileConfig{Disabled: true},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("paycenter.New: %v", err)
	}
	t.Cleanup(func() { f.pc.Close() })
	if group == "" {
		f.pc.Mount(engine)
	} else {
		f.pc.Mount(engine.Group(group))
	}
	f.cl = client.New(flowKey, flowSecret, client.WithBaseURL(f.ts.URL+group+basePath))
	return f
}

// create creates a charge through the HTTP API and returns its channel params.
func (f *flow) create(code client.Channel, no string, fee int64) channels.Params {
	f.t.Helper()
	info, err := f.cl.CreateCharge(context.Background(), client.ChargeParams{
		Channel: code, OutTradeNo: no, TotalFee: fee, ClientIP: "203.0.113.9",
		Subject: "subject " + no, Body: "body", Attach: "a=1", ReturnURL: "https://shop.example.com/r",
	})
	if err != nil {
		f.t.Fatalf("create %s %s: %v", code, no, err)
	}
	var p channels.Params
	if err := json.Unmarshal(info.ChannelParams, &p); err != nil {
		f.t.Fatalf("channel params: %v", err)
	}
	if p["body"] == "" || (code != client.AliApp) != (p["url"] != "") {
		f.t.Fatalf("channel params of %s = %v", code, p)
	}
	return p
}

// charge reads the charge straight from the database (no active query).
func (f *flow) charge(no string) models.Charge {
	f.t.Helper()
	var c models.Charge
	if err := f.pc.DB().Table(f.pc.Tables().Charges).Where("app_id = ? AND out_trade_no = ?", flowApp, no).Take(&c).Error; err != nil {
		f.t.Fatalf("read charge %s: %v", no, err)
	}
	return c
}

// deliver posts notification values to our callback for the trade and
// returns Alipay's view of the answer: was it exactly "success"?
func (f *flow) deliver(target string, v url.Values) bool {
	f.t.Helper()
	status, body, err := f.fake.Post(context.Background(), target, v)
	if err != nil {
		f.t.Fatalf("post notification: %v", err)
	}
	// On our app's Alipay callback the adapter writes the answer: exactly
	// "success" or "fail" (other paths are the core's).
	if strings.Contains(target, "/callbacks/"+flowApp+"/alipay/") && body != "success" && body != "fail" {
		f.t.Errorf("callback answered %d %q: neither success nor fail", status, body)
	}
	return status == 200 && body == "success"
}

func suffixOf(code client.Channel) string {
	switch code {
	case client.AliWeb:
		return "/web/paynotify"
	case client.AliWap:
		return "/wap/paynotify"
	}
	return "/app/paynotify"
}

func TestFlow(t *testing.T) {
	for _, mode := range alipaytest.Modes {
		for _, code := range []client.Channel{client.AliWeb, client.AliWap, client.AliApp} {
			t.Run(string(mode)+"/"+string(code), func(t *testing.T) {
				ctx := context.Background()
				f := newFlow(t, testdb.SQLite, mode)
				const no = "FLOW0000001"
				p := f.create(code, no, 10000)
				f.fake.MustSubmit(t, p) // the buyer opens the cashier
				wantNotify := f.ts.URL + "/callbacks/" + flowApp + "/alipay" + suffixOf(code)
				if got := f.fake.NotifyURL(no); got != wantNotify {
					t.Fatalf("notify_url = %q, want %q", got, wantNotify)
				}

				pr, err := f.cl.GetPayResult(ctx, code, no)
				if err != nil || pr.HasPay {
					t.Fatalf("pay-result before paying = %+v, %v", pr, err)
				}

				if err := f.fake.Pay(no); err != nil {
					t.Fatal(err)
				}
				tr, _ := f.fake.Trade(no)
				if !f.deliver(wantNotify, f.fake.PaymentNotification(t, no)) {
					t.Fatal("genuine payment notification was not acknowledged")
				}
				pr, err = f.cl.GetPayResult(ctx, code, no)
				if err != nil || !pr.HasPay || pr.Status != client.StatusPaid || pr.TransactionID != tr.TradeNo ||
					pr.PayTime == nil || !pr.PayTime.Equal(tr.PaidAt) || pr.TotalFee != 10000 {
					t.Fatalf("pay-result after paying = %+v, %v (trade %+v)", pr, err, tr)
				}
				if f.paid.Load() != 1 {
					t.Fatalf("OnPaid ran %d times", f.paid.Load())
				}

				// Two partial refunds, synchronous at Alipay.
				for _, r := range []struct {
					no  string
					fee int64
				}{{"FLOWR1", 3000}, {"FLOWR2", 2000}} {
					res, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: r.no, RefundFee: r.fee})
					if err != nil || res.Status != client.RefundSuccess {
						t.Fatalf("refund %s = %+v, %v", r.no, res, err)
					}
				}
				if tr, _ := f.fake.Trade(no); tr.Refunded != 5000 || len(tr.Refunds) != 2 {
					t.Fatalf("fake refunded %d in %d refunds", tr.Refunded, len(tr.Refunds))
				}
				// Alipay's refund notification arrives after the refund is
				// final: acknowledged, nothing changes.
				if !f.deliver(wantNotify, f.fake.RefundNotification(t, no, "FLOWR1")) {
					t.Fatal("refund notification was not acknowledged")
				}
				rr, err := f.cl.RefundResult(ctx, "FLOWR1")
				if err != nil || rr.Status != client.RefundSuccess || rr.RefundFee != 3000 || rr.RefundTime == nil {
					t.Fatalf("refund result = %+v, %v", rr, err)
				}
				if f.refunds.Load() != 2 {
					t.Fatalf("OnRefund ran %d times, want 2", f.refunds.Load())
				}
				if c := f.charge(no); c.RefundedFee != 5000 || c.Status != models.ChargePaid {
					t.Fatalf("charge after refunds: refunded %d, status %s", c.RefundedFee, c.Status)
				}
				// A paid charge cannot be closed.
				if err := f.cl.Close(ctx, code, no); !client.IsCode(err, paycenter.CodeExists) {
					t.Fatalf("close of a paid charge = %v, want 20003", err)
				}

				// Close an unpaid charge: at Alipay and locally.
				const open = "FLOW0000002"
				f.fake.MustSubmit(t, f.create(code, open, 500))
				if err := f.cl.Close(ctx, code, open); err != nil {
					t.Fatalf("close: %v", err)
				}
				if tr, _ := f.fake.Trade(open); tr.Status != alipaytest.TradeClosed {
					t.Fatalf("fake trade is %s after close", tr.Status)
				}
				pr, err = f.cl.GetPayResult(ctx, code, open)
				if err != nil || pr.HasPay || pr.Status != client.StatusClosed || f.closed.Load() != 1 {
					t.Fatalf("pay-result after close = %+v, %v; OnClosed %d", pr, err, f.closed.Load())
				}
				// A charge whose cashier was never opened closes too
				// (ACQ.TRADE_NOT_EXIST at Alipay).
				f.create(code, "FLOW0000003", 500)
				if err := f.cl.Close(ctx, code, "FLOW0000003"); err != nil {
					t.Fatalf("close of a never-opened charge: %v", err)
				}
				if f.fake.Rejected() != 0 {
					t.Fatalf("the fake gateway rejected %d of our requests", f.fake.Rejected())
				}
			})
		}
	}
}

// A payment found by the active query of pay-result (no notification) is
// applied once; the late notification is acknowledged and changes nothing.
func TestFlowPaidByQuery(t *testing.T) {
	ctx := context.Background()
	f := newFlow(t, testdb.SQLite, alipaytest.CertMode)
	const no = "FLOWQ000001"
	f.fake.MustSubmit(t, f.create(client.AliWeb, no, 1234))
	if err := f.fake.Pay(no); err != nil {
		t.Fatal(err)
	}
	pr, err := f.cl.GetPayResult(ctx, client.AliWeb, no)
	if err != nil || !pr.HasPay {
		t.Fatalf("pay-result = %+v, %v", pr, err)
	}
	if !f.deliver(f.fake.NotifyURL(no), f.fake.PaymentNotification(t, no)) {
		t.Fatal("late duplicate notification not acknowledged")
	}
	if f.paid.Load() != 1 {
		t.Fatalf("OnPaid ran %d times", f.paid.Load())
	}
}

// A refund whose answer is lost stays PROCESSING and is settled later with
// the same out_request_no; Alipay refunds once.
func TestFlowRefundTimeout(t *testing.T) {
	ctx := context.Background()
	f := newFlow(t, testdb.SQLite, alipaytest.PublicKeyMode)
	const no = "FLOWT000001"
	f.fake.MustSubmit(t, f.create(client.AliWeb, no, 1000))
	if err := f.fake.Pay(no); err != nil {
		t.Fatal(err)
	}
	if !f.deliver(f.fake.NotifyURL(no), f.fake.PaymentNotification(t, no)) {
		t.Fatal("payment notification not acknowledged")
	}
	// Alipay refunds, but its answer comes back unsigned (unknown outcome).
	f.fake.FailNext(alipaytest.MethodRefund, alipaytest.Fault{Kind: alipaytest.FaultUnsigned})
	res, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "FLOWTR1", RefundFee: 400})
	if err != nil || res.Status != client.RefundProcessing {
		t.Fatalf("refund with a lost answer = %+v, %v; want PROCESSING", res, err)
	}
	rr, err := f.cl.RefundResult(ctx, "FLOWTR1")
	if err != nil || rr.Status != client.RefundSuccess {
		t.Fatalf("refund result = %+v, %v", rr, err)
	}
	if tr, _ := f.fake.Trade(no); tr.Refunded != 400 || f.fake.Calls(alipaytest.MethodRefund) != 2 {
		t.Fatalf("fake refunded %d in %d calls", tr.Refunded, f.fake.Calls(alipaytest.MethodRefund))
	}
	// A definite refusal fails the refund with 30103 and releases its amount.
	f.fake.FailNext(alipaytest.MethodRefund, alipaytest.Fault{Kind: alipaytest.FaultBusiness, SubCode: "ACQ.SELLER_BALANCE_NOT_ENOUGH", SubMsg: "卖家余额不足"})
	if _, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "FLOWTR2", RefundFee: 600}); !client.IsCode(err, paycenter.CodeAlipayRefund) {
		t.Fatalf("refused refund = %v, want 30103", err)
	}
	if c := f.charge(no); c.RefundReserved != 400 || c.RefundedFee != 400 {
		t.Fatalf("charge reserved %d refunded %d, want 400/400", c.RefundReserved, c.RefundedFee)
	}
}

// Forged, mismatched and unparseable notifications posted to the callback
// are answered "fail", change nothing and run no hook; the genuine one
// then works.
func TestFlowForgedNotifications(t *testing.T) {
	for _, mode := range alipaytest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			f := newFlow(t, testdb.SQLite, mode)
			const no = "FORGE000001"
			f.fake.MustSubmit(t, f.create(client.AliWeb, no, 8888))
			if err := f.fake.Pay(no); err != nil {
				t.Fatal(err)
			}
			target := f.fake.NotifyURL(no)
			other := alipaytest.NewKeys(t, mode)
			genuine := func() url.Values { return f.fake.PaymentNotification(t, no) }
			resigned := func(edit func(url.Values)) url.Values {
				v := genuine()
				edit(v)
				return f.fake.Sign(v)
			}
			forged := map[string]struct {
				target string
				v      url.Values
			}{
				"tampered amount":       {target, func() url.Values { v := genuine(); v.Set("total_amount", "0.01"); return v }()},
				"signed by another key": {target, other.SignNotification(genuine())},
				"no signature":          {target, func() url.Values { v := genuine(); v.Del("sign"); return v }()},
				"another app_id":        {target, resigned(func(v url.Values) { v.Set("app_id", other.AppID) })},
				"another seller_id":     {target, resigned(func(v url.Values) { v.Set("seller_id", other.SellerID) })},
				// Validly signed, but not the charge's amount: the core refuses it.
				"signed, wrong amount": {target, resigned(func(v url.Values) { v.Set("total_amount", "88.87") })},
				"WAIT_BUYER_PAY":       {target, resigned(func(v url.Values) { v.Set("trade_status", "WAIT_BUYER_PAY") })},
				"amount 1e3":           {target, resigned(func(v url.Values) { v.Set("total_amount", "1e3") })},
				"unknown order":        {target, resigned(func(v url.Values) { v.Set("out_trade_no", "NOSUCH0001") })},
				"unknown refund":       {target, resigned(func(v url.Values) { v.Set("out_biz_no", "NOSUCHR1"); v.Set("gmt_refund", "2025-01-01 00:00:00") })},
				"other app's callback": {f.ts.URL + "/callbacks/12/alipay/web/paynotify", genuine()},
				"unknown path":         {f.ts.URL + "/callbacks/" + flowApp + "/alipay/notify", genuine()},
				"garbled body":         {target, url.Values{"%zz": {"\xff"}}},
			}
			for name, tc := range forged {
				if f.deliver(tc.target, tc.v) {
					t.Errorf("%s: acknowledged with success", name)
				}
			}
			if c := f.charge(no); c.Status != models.ChargeCreated || c.TransactionID != "" || c.PaidAt != nil {
				t.Fatalf("a forged notification changed the charge: %+v", c)
			}
			if f.paid.Load()+f.refunds.Load()+f.closed.Load() != 0 {
				t.Fatalf("hooks ran: paid %d refund %d closed %d", f.paid.Load(), f.refunds.Load(), f.closed.Load())
			}
			var refused int64
			if err := f.pc.DB().Table(f.pc.Tables().Notifications).Where("accepted = ?", false).Count(&refused).Error; err != nil {
				t.Fatal(err)
			}
			if refused < int64(len(forged))-2 { // the two wrong-route posts never reach the audit
				t.Errorf("%d refused notifications audited, want at least %d", refused, len(forged)-2)
			}
			if !f.deliver(target, genuine()) {
				t.Fatal("genuine notification refused after the forged ones")
			}
			if c := f.charge(no); c.Status != models.ChargePaid || f.paid.Load() != 1 {
				t.Fatalf("after the genuine notification: %s, OnPaid %d", c.Status, f.paid.Load())
			}
		})
	}
}

// The same valid notification delivered 16 times at once makes one
// transition and runs OnPaid once, on every database.
func TestFlowConcurrentNotifications(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			f := newFlow(t, kind, alipaytest.PublicKeyMode)
			const no = "CONC0000001"
			f.fake.MustSubmit(t, f.create(client.AliWap, no, 1999))
			if err := f.fake.Pay(no); err != nil {
				t.Fatal(err)
			}
			v := f.fake.PaymentNotification(t, no)
			target := f.fake.NotifyURL(no)
			const n = 16
			start := make(chan struct{})
			var wg sync.WaitGroup
			var acked atomic.Int64
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					status, body, err := f.fake.Post(context.Background(), target, v)
					if err != nil {
						errs <- err
						return
					}
					if status == 200 && body == "success" {
						acked.Add(1)
					}
				}()
			}
			// Pay-result calls race the notifications: each asks the gateway
			// (active query) and applies what it finds through the same path.
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					pr, err := f.cl.GetPayResult(context.Background(), client.AliWap, no)
					if err != nil {
						errs <- err
					} else if !pr.HasPay {
						// It may have run before the payment was applied: then
						// the gateway query itself must have said unpaid, which
						// it cannot (the buyer paid before the race started).
						errs <- errors.New("pay-result answered unpaid for a trade paid at the gateway")
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("post: %v", err)
			}
			if acked.Load() != n {
				t.Errorf("%d of %d deliveries acknowledged; an already-applied notification must be acknowledged", acked.Load(), n)
			}
			if f.paid.Load() != 1 {
				t.Fatalf("OnPaid ran %d times, want 1", f.paid.Load())
			}
			if c := f.charge(no); c.Status != models.ChargePaid || c.TotalFee != 1999 {
				t.Fatalf("charge = %s %d", c.Status, c.TotalFee)
			}
		})
	}
}

// TestFlowDatabaseFailure: a notification that arrives while the database
// fails is answered "fail" and changes nothing; Alipay's redelivery then
// succeeds and OnPaid runs once.
func TestFlowDatabaseFailure(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			f := newFlow(t, kind, alipaytest.PublicKeyMode)
			arm := testdb.FailUpdates(t, f.pc.DB(), f.pc.Tables().Charges)
			const no = "DBFAIL000001"
			f.fake.MustSubmit(t, f.create(client.AliWeb, no, 880))
			if err := f.fake.Pay(no); err != nil {
				t.Fatal(err)
			}
			v := f.fake.PaymentNotification(t, no)
			arm(1)
			if f.deliver(f.fake.NotifyURL(no), v) {
				t.Fatal("a notification that could not be committed was acknowledged")
			}
			if c := f.charge(no); c.Status != models.ChargeCreated || f.paid.Load() != 0 {
				t.Fatalf("after the failure: charge %s, OnPaid %d", c.Status, f.paid.Load())
			}
			if !f.deliver(f.fake.NotifyURL(no), v) {
				t.Fatal("the redelivery was not acknowledged")
			}
			if c := f.charge(no); c.Status != models.ChargePaid || f.paid.Load() != 1 {
				t.Fatalf("after the redelivery: charge %s, OnPaid %d", c.Status, f.paid.Load())
			}
		})
	}
}
