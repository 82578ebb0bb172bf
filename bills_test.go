package paycenter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/reconcile"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// The daily bill reconciliation against the fake gateways, which serve
// real-format bills of their own trades through the real adapters.

// gateway is one fake channel as a reconciliation test drives it.
type gateway interface {
	provider() string
	code() channels.Code
	channel(t testing.TB) channels.Channel
	// open makes the charge's order payable at the channel (Alipay: the
	// buyer opens the cashier).
	open(t testing.TB, res *paycenter.ChargeResult)
	// pay is the buyer paying, moved to the channel's time at.
	pay(t testing.TB, no string, at time.Time)
	// movePayment moves a payment's time at the channel.
	movePayment(t testing.TB, no string, at time.Time)
	// settle makes a refund the pay center asked for succeed at the
	// channel (WeChat Pay refunds are asynchronous).
	settle(t testing.TB, refundNo string)
	payForeign(t testing.TB, no string, fen int64, at time.Time)
	// refundByHand refunds in the merchant console at at and returns the
	// refund's number, which the channel made up.
	refundByHand(t testing.TB, no string, fen int64, at time.Time) string
	// moveRefund moves a refund's time at the channel.
	moveRefund(t testing.TB, no, refundNo string, at time.Time)
	billAmount(no, refundNo string, fen int64)
	notReady(day channels.Day)
	spoil(t testing.TB) // the next bill is refused (bad hash, truncated zip)
	billCalls() int
	queryCalls() int
}

type aliGateway struct{ f *alipaytest.Fake }

func (g aliGateway) provider() string                      { return channels.ProviderAlipay }
func (g aliGateway) code() channels.Code                   { return channels.AliWeb }
func (g aliGateway) channel(t testing.TB) channels.Channel { return g.f.Channel(t) }
func (g aliGateway) open(t testing.TB, res *paycenter.ChargeResult) {
	g.f.MustSubmit(t, res.ChannelParams)
}
func (g aliGateway) pay(t testing.TB, no string, at time.Time) {
	require.NoError(t, g.f.Pay(no))
	g.movePayment(t, no, at)
}
func (g aliGateway) movePayment(t testing.TB, no string, at time.Time) {
	require.NoError(t, g.f.SetPaidAt(no, at))
}
func (g aliGateway) settle(testing.TB, string) {}
func (g aliGateway) payForeign(t testing.TB, no string, fen int64, at time.Time) {
	require.NoError(t, g.f.PayForeign(no, fen, "别人的订单"))
	require.NoError(t, g.f.SetPaidAt(no, at))
}
func (g aliGateway) refundByHand(t testing.TB, no string, fen int64, at time.Time) string {
	rno, err := g.f.RefundByHand(no, fen)
	require.NoError(t, err)
	g.moveRefund(t, no, rno, at)
	return rno
}
func (g aliGateway) moveRefund(t testing.TB, no, refundNo string, at time.Time) {
	require.NoError(t, g.f.SetRefundedAt(no, refundNo, at))
}
func (g aliGateway) billAmount(no, refundNo string, fen int64) { g.f.SetBillAmount(no, refundNo, fen) }
func (g aliGateway) notReady(day channels.Day)                 { g.f.SetBillNotReady(day, true) }
func (g aliGateway) spoil(testing.TB)                          { g.f.FailNextBill(alipaytest.BillTruncated) }
func (g aliGateway) billCalls() int                            { return g.f.Calls(alipaytest.MethodBillDownloadURL) }
func (g aliGateway) queryCalls() int                           { return g.f.Calls("alipay.trade.query") }

type wxGateway struct{ s *wechattest.Server }

func (g wxGateway) provider() string    { return channels.ProviderWechat }
func (g wxGateway) code() channels.Code { return channels.WxNative }
func (g wxGateway) channel(t testing.TB) channels.Channel {
	ch, err := wechat.New(g.s.ChannelConfig(wechattest.PublicKeyMode))
	require.NoError(t, err)
	return ch
}
func (g wxGateway) open(testing.TB, *paycenter.ChargeResult) {}
func (g wxGateway) pay(t testing.TB, no string, at time.Time) {
	_, err := g.s.Pay(no)
	require.NoError(t, err)
	g.movePayment(t, no, at)
}
func (g wxGateway) movePayment(t testing.TB, no string, at time.Time) {
	require.NoError(t, g.s.SetPaidAt(no, at))
}
func (g wxGateway) settle(t testing.TB, refundNo string) {
	_, err := g.s.SettleRefund(refundNo, wechattest.RefundSuccess)
	require.NoError(t, err)
}
func (g wxGateway) payForeign(t testing.TB, no string, fen int64, at time.Time) {
	_, err := g.s.PayForeign(no, fen, "别人的订单")
	require.NoError(t, err)
	require.NoError(t, g.s.SetPaidAt(no, at))
}
func (g wxGateway) refundByHand(t testing.TB, no string, fen int64, at time.Time) string {
	r, err := g.s.RefundByHand(no, fen)
	require.NoError(t, err)
	g.moveRefund(t, no, r.OutRefundNo, at)
	return r.OutRefundNo
}
func (g wxGateway) moveRefund(t testing.TB, _, refundNo string, at time.Time) {
	require.NoError(t, g.s.SetRefundAt(refundNo, at))
}
func (g wxGateway) billAmount(no, refundNo string, fen int64) { g.s.SetBillAmount(no, refundNo, fen) }
func (g wxGateway) notReady(day channels.Day)                 { g.s.SetBillNotReady(day, "NO_STATEMENT_EXIST") }
func (g wxGateway) spoil(testing.TB)                          { g.s.FailNextBill(wechattest.BillWrongHash) }
func (g wxGateway) billCalls() int                            { return g.count("GET " + wechat.TradeBillPath) }
func (g wxGateway) queryCalls() int                           { return g.count("GET /v3/pay/transactions/out-trade-no/") }

// count counts the fake's calls whose "METHOD path" starts with prefix.
func (g wxGateway) count(prefix string) int {
	n := 0
	for _, c := range g.s.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// billEnv is a pay center whose app 11 sells on one fake gateway, with
// hook counters and no workers (the tests drive everything).
type billEnv struct {
	t      testing.TB
	pc     *paycenter.PayCenter
	gw     gateway
	paid   atomic.Int64
	refund atomic.Int64
}

func newBillEnv(t testing.TB, db *gorm.DB, gw gateway, opts ...option) *billEnv {
	t.Helper()
	e := &billEnv{t: t, gw: gw}
	cfg := paycenter.Config{
		DB: db, PublicURL: "http://127.0.0.1:1", Sandbox: paycenter.SandboxOff,
		Apps: []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret, NotifyURL: "http://127.0.0.1:1/webhook",
			Channels: []channels.Channel{gw.channel(t)}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers: paycenter.WorkersConfig{Disabled: true},
		Hooks: []hooks.Hook{
			hooks.OnPaidFunc(func(context.Context, *hooks.Paid) error { e.paid.Add(1); return nil }),
			hooks.OnRefundFunc(func(context.Context, *hooks.Refunded) error { e.refund.Add(1); return nil }),
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	pc, err := paycenter.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	e.pc = pc
	return e
}

// create creates a charge and opens its order at the channel.
func (e *billEnv) create(no string, fee int64) {
	e.t.Helper()
	p := createParams(e.gw.code(), no, fee)
	res, err := e.pc.CreateCharge(context.Background(), testAppID, p)
	require.NoError(e.t, err)
	e.gw.open(e.t, res)
}

func (e *billEnv) charge(no string) models.Charge {
	e.t.Helper()
	var c models.Charge
	require.NoError(e.t, e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", no).Take(&c).Error)
	return c
}

func (e *billEnv) count(table, where string, args ...any) int64 {
	e.t.Helper()
	var n int64
	require.NoError(e.t, e.pc.DB().Table(table).Where(where, args...).Count(&n).Error)
	return n
}

// state is what a second run must leave unchanged.
type billState struct {
	Charges, Refunds, Deliveries, Discrepancies []map[string]any
	Paid, Refund                                int64
}

func (e *billEnv) state() billState {
	e.t.Helper()
	t := e.pc.Tables()
	s := billState{Paid: e.paid.Load(), Refund: e.refund.Load()}
	for table, out := range map[string]*[]map[string]any{t.Charges: &s.Charges, t.Refunds: &s.Refunds,
		t.Deliveries: &s.Deliveries, t.Discrepancies: &s.Discrepancies} {
		require.NoError(e.t, e.pc.DB().Table(table).Order("id").Find(out).Error)
		for _, row := range *out {
			delete(row, "updated_at") // a link to the bill's day may touch it; the values may not change
		}
	}
	return s
}

func billGateways(t *testing.T) map[string]func(t *testing.T) gateway {
	return map[string]func(t *testing.T) gateway{
		"alipay": func(t *testing.T) gateway {
			return aliGateway{alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.CertMode))}
		},
		"wechat": func(t *testing.T) gateway { return wxGateway{wechattest.NewServer(t)} },
	}
}

// TestReconcileBill: a day of business at the fake, reconciled. A payment
// whose notification was lost (and that no query found: none is made) is
// applied; a refund made by hand at the channel becomes a recorded refund
// (balance right, OnRefund once, a webhook); an amount mismatch and a
// foreign order are reported, not applied; what the pay center has and the
// bill lacks is reported; a second run changes nothing. Long because it is
// one day's bill, checked whole.
func TestReconcileBill(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for name, newGateway := range billGateways(t) {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				ctx := context.Background()
				gw := newGateway(t)
				e := newBillEnv(t, testdb.Open(t, kind), gw)
				day := channels.DayOf(time.Now()).AddDays(-1)
				at := func(h int) time.Time { return day.Start().Add(time.Duration(h) * time.Hour) }

				// Paid and applied (the pay-result query), then refunded
				// through the pay center and by hand in the console.
				e.create("PAID0001", 1000)
				gw.pay(t, "PAID0001", at(9))
				pr, err := e.pc.PayResult(ctx, testAppID, gw.code(), "PAID0001")
				require.NoError(t, err)
				require.True(t, pr.HasPay)
				_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "PAID0001", OutRefundNo: "R1", RefundFee: 100})
				require.NoError(t, err)
				gw.settle(t, "R1")
				rr, err := e.pc.RefundResult(ctx, testAppID, "R1")
				require.NoError(t, err)
				require.Equal(t, models.RefundSucceeded, rr.Status)
				gw.moveRefund(t, "PAID0001", "R1", at(11))
				hand := gw.refundByHand(t, "PAID0001", 300, at(14))

				e.create("LOST0001", 2500) // paid, the notification lost
				gw.pay(t, "LOST0001", at(10))
				e.create("DIFF0001", 2000) // paid, the bill shows another amount
				gw.pay(t, "DIFF0001", at(12))
				gw.billAmount("DIFF0001", "", 1999)
				gw.payForeign(t, "FOREIGN1", 888, at(15))
				e.create("MISS0001", 700) // paid here on the day, the channel says the day before
				gw.pay(t, "MISS0001", at(16))
				_, err = e.pc.PayResult(ctx, testAppID, gw.code(), "MISS0001")
				require.NoError(t, err)
				gw.movePayment(t, "MISS0001", day.Start().Add(-time.Second))
				require.NoError(t, e.pc.DB().Table(e.pc.Tables().Refunds).Where("out_refund_no = ?", "R1").
					Update("refunded_at", at(11)).Error, "the refund succeeded on the day, for the pay center")
				queries := gw.queryCalls()
				paid, refunded := e.paid.Load(), e.refund.Load()

				reports, err := e.pc.Reconcile(ctx, gw.provider(), day)
				require.NoError(t, err)
				require.Len(t, reports, 1)
				rep := reports[0]
				assert.Equal(t, models.ReconciliationDone, rep.Status, rep.Error)
				assert.Equal(t, day, rep.Date)
				assert.False(t, rep.Partial)
				assert.Equal(t, gw.queryCalls(), queries, "the bill is the evidence: no query")

				// The lost payment: applied once, a charge.succeeded event.
				lost := e.charge("LOST0001")
				assert.Equal(t, models.ChargePaid, lost.Status)
				assert.True(t, lost.PaidAt.Equal(at(10)), "the channel's payment time: %v", lost.PaidAt)
				assert.EqualValues(t, paid+1, e.paid.Load(), "OnPaid ran once, for LOST0001")
				assert.EqualValues(t, 1, e.count(e.pc.Tables().Deliveries, "charge_id = ? AND type = ? AND target = ?", lost.ID, hooks.ChargeSucceeded, models.TargetWebhook))

				// The by-hand refund: recorded, the balance right, OnRefund
				// once, a refund.succeeded webhook.
				var r models.Refund
				require.NoError(t, e.pc.DB().Table(e.pc.Tables().Refunds).Where("out_refund_no = ?", hand).Take(&r).Error)
				assert.Equal(t, models.RefundSucceeded, r.Status)
				assert.EqualValues(t, 300, r.RefundFee)
				assert.True(t, r.RefundedAt.Equal(at(14)))
				p := e.charge("PAID0001")
				assert.EqualValues(t, 100+300, p.RefundReserved)
				assert.EqualValues(t, 100+300, p.RefundedFee)
				assert.EqualValues(t, refunded+1, e.refund.Load(), "OnRefund ran once, for the by-hand refund")
				assert.EqualValues(t, 1, e.count(e.pc.Tables().Deliveries, "refund_id = ? AND type = ? AND target = ?", r.ID, hooks.RefundSucceeded, models.TargetWebhook))
				_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "PAID0001", OutRefundNo: "R2", RefundFee: 601})
				assert.ErrorIs(t, err, paycenter.CodeOverLimit, "600 fen are left to refund")

				// Not applied: the other amount, the foreign order.
				assert.Equal(t, models.ChargeCreated, e.charge("DIFF0001").Status)
				assert.Zero(t, e.count(e.pc.Tables().Charges, "out_trade_no = ?", "FOREIGN1"))

				kinds := map[models.DiscrepancyKind][2]int64{} // kind → local, channel amount
				for _, d := range rep.Discrepancies {
					assert.Equal(t, models.DiscrepancyOpen, d.Status, "%+v", d)
					assert.Equal(t, day.String(), d.BillDay)
					kinds[d.Kind] = [2]int64{d.LocalAmount, d.ChannelAmount}
				}
				assert.Equal(t, map[models.DiscrepancyKind][2]int64{
					models.DiscrepancyAmount:          {2000, 1999},
					models.DiscrepancyForeignOrder:    {0, 888},
					models.DiscrepancyPaidHereMissing: {700, 0},
				}, kinds)
				var applied []string
				for _, d := range rep.Applied {
					assert.Equal(t, models.DiscrepancyApplied, d.Status)
					applied = append(applied, string(d.Kind)+" "+d.OutTradeNo+" "+d.OutRefundNo)
				}
				assert.ElementsMatch(t, []string{"paid_at_channel_unpaid_here LOST0001 ", "refund_at_channel_unknown_here PAID0001 " + hand}, applied)
				assert.EqualValues(t, 2, rep.AppliedCount)
				assert.EqualValues(t, 3, rep.OpenDiscrepancies)

				// The bill: PAID0001, LOST0001, DIFF0001 (1999), FOREIGN1;
				// refunds R1 and the hand one. Here: PAID0001, LOST0001,
				// MISS0001 paid; R1 and the hand one refunded.
				assert.Equal(t, paytype.ReconcileSide{Payments: 4, PaymentAmount: 1000 + 2500 + 1999 + 888, Refunds: 2, RefundAmount: 400}, rep.Channel)
				assert.Equal(t, paytype.ReconcileSide{Payments: 3, PaymentAmount: 1000 + 2500 + 700, Refunds: 2, RefundAmount: 400}, rep.Local)
				assert.EqualValues(t, 4, rep.Matched, "PAID0001, LOST0001 (applied), R1, the hand refund (applied)")

				// Again: the same report, nothing changed.
				before := e.state()
				again, err := e.pc.Reconcile(ctx, gw.provider(), day)
				require.NoError(t, err)
				require.Len(t, again, 1)
				assert.Equal(t, before, e.state(), "a second run changes nothing")
				rep.StartedAt, rep.FinishedAt, again[0].StartedAt, again[0].FinishedAt = nil, nil, nil, nil
				assert.Equal(t, rep, again[0])
				assert.Zero(t, e.count(e.pc.Tables().BillRows, "1 = 1"), "staged rows are deleted")
			})
		}
	}
}

// TestReconcileAmounts: a refund the bill shows with another amount, and a
// bill refund of a charge unpaid here, are reported, not applied.
func TestReconcileAmounts(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			gw := aliGateway{alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))}
			e := newBillEnv(t, testdb.Open(t, kind), gw)
			day := channels.DayOf(time.Now()).AddDays(-1)
			e.create("REFD0001", 1000)
			gw.pay(t, "REFD0001", day.Start().Add(time.Hour))
			_, err := e.pc.PayResult(ctx, testAppID, gw.code(), "REFD0001")
			require.NoError(t, err)
			_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "REFD0001", OutRefundNo: "R9", RefundFee: 500})
			require.NoError(t, err)
			gw.moveRefund(t, "REFD0001", "R9", day.Start().Add(2*time.Hour))
			gw.billAmount("REFD0001", "R9", 499)
			// Paid and refunded by hand at the channel, the payment shown
			// with another amount: neither applied.
			e.create("HALF0001", 800)
			gw.pay(t, "HALF0001", day.Start().Add(3*time.Hour))
			hand := gw.refundByHand(t, "HALF0001", 800, day.Start().Add(4*time.Hour))
			gw.billAmount("HALF0001", "", 801)

			reports, err := e.pc.Reconcile(ctx, gw.provider(), day)
			require.NoError(t, err)
			got := map[models.DiscrepancyKind]string{}
			for _, d := range reports[0].Discrepancies {
				got[d.Kind] = fmt.Sprintf("%s %s %d/%d", d.OutTradeNo, d.OutRefundNo, d.LocalAmount, d.ChannelAmount)
			}
			assert.Equal(t, "REFD0001 R9 500/499", got[models.DiscrepancyRefundAmount])
			assert.Equal(t, "HALF0001  800/801", got[models.DiscrepancyAmount])
			assert.Equal(t, "HALF0001 "+hand+" 0/800", got[models.DiscrepancyRefundUnknown], "the charge is not paid here: nothing refundable")
			assert.Len(t, got, 3)
			assert.Empty(t, reports[0].Applied)
			assert.Equal(t, models.ChargeCreated, e.charge("HALF0001").Status)
			assert.Zero(t, e.count(e.pc.Tables().Refunds, "out_refund_no = ?", hand))
		})
	}
}

// TestReconcileRefusedBill: a bill with a bad hash (WeChat Pay) or a
// truncated archive (Alipay) is refused and nothing is applied; the report
// says FAILED and the next run, with a good bill, applies the payment.
func TestReconcileRefusedBill(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for name, newGateway := range billGateways(t) {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				ctx := context.Background()
				gw := newGateway(t)
				e := newBillEnv(t, testdb.Open(t, kind), gw)
				day := channels.DayOf(time.Now()).AddDays(-1)
				e.create("LOST0002", 1500)
				gw.pay(t, "LOST0002", day.Start().Add(time.Hour))
				gw.payForeign(t, "FOREIGN2", 10, day.Start().Add(2*time.Hour))
				gw.spoil(t)

				reports, err := e.pc.Reconcile(ctx, gw.provider(), day)
				require.ErrorIs(t, err, channels.ErrBillInvalid)
				require.Len(t, reports, 1)
				assert.Equal(t, models.ReconciliationFailed, reports[0].Status)
				assert.Contains(t, reports[0].Error, "bill refused")
				assert.Equal(t, models.ChargeCreated, e.charge("LOST0002").Status, "nothing applied")
				assert.Zero(t, e.paid.Load())
				assert.Zero(t, e.count(e.pc.Tables().Discrepancies, "1 = 1"), "nothing reported")
				assert.Zero(t, e.count(e.pc.Tables().BillRows, "1 = 1"))

				reports, err = e.pc.Reconcile(ctx, gw.provider(), day)
				require.NoError(t, err)
				assert.Equal(t, models.ReconciliationDone, reports[0].Status)
				assert.Empty(t, reports[0].Error)
				assert.Equal(t, models.ChargePaid, e.charge("LOST0002").Status)
			})
		}
	}
}

// TestReconcileNotReady: a day the channel has no bill for is reported
// clearly, as NOT_READY, and changes nothing.
func TestReconcileNotReady(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for name, newGateway := range billGateways(t) {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				gw := newGateway(t)
				e := newBillEnv(t, testdb.Open(t, kind), gw)
				day := channels.DayOf(time.Now()).AddDays(-1)
				gw.notReady(day)
				reports, err := e.pc.Reconcile(context.Background(), gw.provider(), day)
				require.ErrorIs(t, err, channels.ErrBillNotReady)
				assert.ErrorContains(t, err, "no bill for that day yet")
				require.Len(t, reports, 1)
				assert.Equal(t, models.ReconciliationNotReady, reports[0].Status)
				assert.Contains(t, reports[0].Error, "no bill for that day yet")

				// The sandbox has no bills; an unknown provider is refused.
				_, err = e.pc.Reconcile(context.Background(), "paypal", day)
				assert.ErrorContains(t, err, `provider "paypal" must be alipay or wechat`)
				other := map[string]string{"alipay": "wechat", "wechat": "alipay"}[gw.provider()]
				_, err = e.pc.Reconcile(context.Background(), other, day)
				assert.ErrorContains(t, err, "no channel account of this provider publishes a daily bill")
			})
		}
	}
}

// TestReconcileWorkerOncePerDay: two instances on one database run the
// worker together: yesterday's bill is reconciled once, after At; a day
// the channel says is not ready is asked again after RetryInterval; the
// next day is reconciled the next morning.
func TestReconcileWorkerOncePerDay(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			fake := alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.CertMode))
			gw := aliGateway{fake}
			db := testdb.Open(t, kind)
			// The pay center's clock; the fake's is the real one (it checks
			// request timestamps), so the days are around today.
			today := channels.DayOf(time.Now())
			clk := &clock{now: today.Start().Add(9 * time.Hour)} // 09:00 Beijing
			withClock := func(c *paycenter.Config) {
				c.Now = clk.Now
				c.Reconcile.At = map[string]time.Duration{"alipay": 9*time.Hour + 30*time.Minute}
				c.Reconcile.RetryInterval = 20 * time.Minute
			}
			a := newBillEnv(t, db, gw, withClock)
			b := newBillEnv(t, db, gw, withClock)
			both := func() int {
				var wg sync.WaitGroup
				var n atomic.Int64
				for _, pc := range []*paycenter.PayCenter{a.pc, b.pc} {
					wg.Add(1)
					go func() { defer wg.Done(); n.Add(int64(pc.ReconcileDue(ctx))) }()
				}
				wg.Wait()
				return int(n.Load())
			}

			assert.Zero(t, both(), "before 09:30 nothing is due")
			assert.Zero(t, gw.billCalls())
			clk.Add(31 * time.Minute)
			assert.Equal(t, 1, both(), "one of the two runs it")
			assert.Equal(t, 1, gw.billCalls())
			assert.Zero(t, both(), "done: not again")
			clk.Add(6 * time.Hour)
			assert.Zero(t, both())
			assert.Equal(t, 1, gw.billCalls())

			// The next day: not ready at first, asked again after 20 min.
			clk.Set(today.AddDays(1).Start().Add(10 * time.Hour))
			gw.notReady(today)
			assert.Equal(t, 1, both())
			assert.Equal(t, 2, gw.billCalls())
			var rep models.Reconciliation
			require.NoError(t, db.Table(a.pc.Tables().Reconciliations).Where("bill_day = ?", today.String()).Take(&rep).Error)
			assert.Equal(t, models.ReconciliationNotReady, rep.Status)
			assert.Zero(t, both(), "waits for the retry")
			fake.SetBillNotReady(today, false)
			clk.Add(21 * time.Minute)
			assert.Equal(t, 1, both())
			assert.Equal(t, 3, gw.billCalls())
			require.NoError(t, db.Table(a.pc.Tables().Reconciliations).Where("bill_day = ?", today.String()).Take(&rep).Error)
			assert.Equal(t, models.ReconciliationDone, rep.Status)
			assert.Equal(t, 2, rep.Attempts)
			assert.EqualValues(t, 2, a.count(a.pc.Tables().Reconciliations, "status = ?", models.ReconciliationDone))
		})
	}
}

// stubBills is a WeChat Pay account whose bill is whatever the test says:
// rows, and a summary that may disagree with them.
type stubBills struct {
	rows    []channels.BillRow
	summary channels.BillSummary
}

func (s *stubBills) Provider() string              { return channels.ProviderWechat }
func (s *stubBills) Account() string               { return "1900000999" }
func (s *stubBills) Supports(c channels.Code) bool { return c == channels.WxNative }
func (s *stubBills) Ack(w http.ResponseWriter, _ error) {
	w.WriteHeader(http.StatusInternalServerError)
}
func (s *stubBills) ParseNotification(context.Context, *http.Request, string) (*channels.Notification, error) {
	return nil, errors.New("stub: no notifications")
}
func (s *stubBills) Create(_ context.Context, req *channels.CreateRequest) (channels.Params, error) {
	return channels.Params{"codeUrl": "weixin://stub/" + req.OutTradeNo}, nil
}
func (s *stubBills) DownloadBill(context.Context, channels.Day) (channels.BillReader, error) {
	return &stubReader{rows: s.rows, summary: s.summary}, nil
}

type stubReader struct {
	rows    []channels.BillRow
	summary channels.BillSummary
}

func (r *stubReader) Next() (*channels.BillRow, error) {
	if len(r.rows) == 0 {
		return nil, io.EOF
	}
	row := r.rows[0]
	r.rows = r.rows[1:]
	return &row, nil
}
func (r *stubReader) Summary() *channels.BillSummary { return &r.summary }
func (r *stubReader) Close() error                   { return nil }

// TestReconcileStubBill: a bill whose rows disagree with its own summary
// is refused before anything is applied; a WeChat Pay row echoing another
// marker is another order (not applied); a payment a hook refuses is tried
// again by the next run. Long: three runs of one bill.
func TestReconcileStubBill(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			stub := &stubBills{}
			var refuse atomic.Bool
			var paid atomic.Int64
			pc, err := paycenter.New(paycenter.Config{
				DB: testdb.Open(t, kind), PublicURL: "http://127.0.0.1:1", Sandbox: paycenter.SandboxOff,
				Apps:    []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret, Channels: []channels.Channel{stub}}},
				Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
				Workers: paycenter.WorkersConfig{Disabled: true},
				Hooks: []hooks.Hook{hooks.OnPaidFunc(func(context.Context, *hooks.Paid) error {
					if refuse.Load() {
						return errors.New("the shop's database is read-only")
					}
					paid.Add(1)
					return nil
				})},
			})
			require.NoError(t, err)
			t.Cleanup(func() { pc.Close() })
			charge := func(no string) models.Charge {
				var c models.Charge
				require.NoError(t, pc.DB().Table(pc.Tables().Charges).Where("out_trade_no = ?", no).Take(&c).Error)
				return c
			}
			for _, no := range []string{"STUB0001", "STUB0002"} {
				_, err := pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, no, 100))
				require.NoError(t, err)
			}
			day := channels.DayOf(time.Now()).AddDays(-1)
			row := func(no, attach string) channels.BillRow {
				return channels.BillRow{Kind: channels.BillPayment, OutTradeNo: no, TransactionID: "4200" + no, Amount: 100,
					Time: day.Start().Add(time.Hour), Status: "SUCCESS", Attach: attach}
			}
			stub.rows = []channels.BillRow{row("STUB0001", charge("STUB0001").Marker), row("STUB0002", "not-our-marker")}
			stub.summary = channels.BillSummary{Payments: channels.Figure{Value: 3, Stated: true}}

			reports, err := pc.Reconcile(ctx, channels.ProviderWechat, day)
			require.ErrorIs(t, err, channels.ErrBillInvalid)
			assert.ErrorContains(t, err, "the bill states payment rows 3, its rows add up to 2")
			assert.Equal(t, models.ReconciliationFailed, reports[0].Status)
			assert.Equal(t, models.ChargeCreated, charge("STUB0001").Status, "nothing applied")

			stub.summary = channels.BillSummary{Payments: channels.Figure{Value: 2, Stated: true}}
			refuse.Store(true)
			reports, err = pc.Reconcile(ctx, channels.ProviderWechat, day)
			require.ErrorContains(t, err, "1 rows of the bill could not be applied")
			assert.ErrorContains(t, err, "read-only")
			assert.Equal(t, models.ReconciliationFailed, reports[0].Status)
			assert.Equal(t, models.ChargeCreated, charge("STUB0001").Status, "the hook rolled it back")
			require.Len(t, reports[0].Discrepancies, 1)
			d := reports[0].Discrepancies[0]
			assert.Equal(t, models.DiscrepancyMarker, d.Kind, "another order at the channel")
			assert.Equal(t, "STUB0002", d.OutTradeNo)
			assert.Equal(t, models.ChargeCreated, charge("STUB0002").Status)

			refuse.Store(false)
			reports, err = pc.Reconcile(ctx, channels.ProviderWechat, day)
			require.NoError(t, err)
			assert.Equal(t, models.ReconciliationDone, reports[0].Status)
			assert.Equal(t, models.ChargePaid, charge("STUB0001").Status)
			assert.EqualValues(t, 1, paid.Load())
			assert.Len(t, reports[0].Discrepancies, 1, "the marker mismatch, once")
			assert.EqualValues(t, 1, reports[0].AppliedCount)
		})
	}
}

// TestReconcileConfig: Config.Reconcile is checked by New.
func TestReconcileConfig(t *testing.T) {
	for at, want := range map[string]string{
		"paypal": `Reconcile.At: provider "paypal" must be alipay or wechat`,
		"alipay": `Reconcile.At["alipay"] 25h0m0s must be a time of day: 0 or more, under 24h`,
	} {
		d := 25 * time.Hour
		if at == "paypal" {
			d = time.Hour
		}
		_, err := paycenter.New(paycenter.Config{DB: testdb.Open(t, testdb.SQLite), Reconcile: paycenter.ReconcileConfig{At: map[string]time.Duration{at: d}}})
		assert.ErrorContains(t, err, want)
	}
	_, err := paycenter.New(paycenter.Config{DB: testdb.Open(t, testdb.SQLite), Reconcile: paycenter.ReconcileConfig{RetryInterval: -time.Second}})
	assert.ErrorContains(t, err, "Reconcile.RetryInterval and Reconcile.PollInterval must not be negative")
}

// TestReconcileLease: a day another process is reconciling (its lease
// live) is refused by hand and skipped by the worker; once the lease has
// run out (the process died) the worker takes the day over.
func TestReconcileLease(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			gw := aliGateway{alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.CertMode))}
			today := channels.DayOf(time.Now())
			clk := &clock{now: today.Start().Add(11 * time.Hour)}
			e := newBillEnv(t, testdb.Open(t, kind), gw, func(c *paycenter.Config) { c.Now = clk.Now })
			yesterday := today.AddDays(-1)
			e.create("LEASE001", 300)
			gw.pay(t, "LEASE001", yesterday.Start().Add(time.Hour))
			until := clk.Now().Add(time.Minute).UTC()
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Reconciliations).Create(&models.Reconciliation{
				Provider: "alipay", Account: "alipay:" + gw.f.Keys.AppID, BillDay: yesterday.String(),
				Status: models.ReconciliationRunning, LeaseUntil: &until, LeaseToken: "another-process",
			}).Error)

			_, err := e.pc.Reconcile(ctx, "alipay", yesterday)
			assert.ErrorContains(t, err, "being reconciled by another process")
			assert.Zero(t, e.pc.ReconcileDue(ctx))
			assert.Zero(t, gw.billCalls())
			assert.Equal(t, models.ChargeCreated, e.charge("LEASE001").Status)

			clk.Add(2 * time.Minute) // that process died; its lease ran out
			assert.Equal(t, 1, e.pc.ReconcileDue(ctx))
			assert.Equal(t, models.ChargePaid, e.charge("LEASE001").Status)
			var rep models.Reconciliation
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Reconciliations).Where("bill_day = ?", yesterday.String()).Take(&rep).Error)
			assert.Equal(t, models.ReconciliationDone, rep.Status)
			assert.Empty(t, rep.LeaseToken)
			assert.Nil(t, rep.LeaseUntil)
		})
	}
}

// TestReconcileManyBatches: a bill longer than two batches (a generated
// one, as the benchmark's) is staged, compared and looked for batch by
// batch: every row matches once, and what the pay center has beyond the
// bill, in the last page of its records, is reported.
func TestReconcileManyBatches(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			rows := 2*reconcile.DefaultBatchSize + 345
			fake := alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))
			e := newBillEnv(t, testdb.Open(t, kind), aliGateway{fake})
			day := channels.DayOf(time.Now()).AddDays(-1)
			account := "alipay:" + fake.Keys.AppID
			require.NoError(t, fake.SyntheticBill(day, rows))
			seedSynthetic(t, e, account, day, rows)
			var bill paytype.ReconcileSide
			for i := range rows {
				if k, _, fen := alipaytest.SyntheticRow(day, i, rows); k == channels.BillPayment {
					bill.Payments, bill.PaymentAmount = bill.Payments+1, bill.PaymentAmount+fen
				} else {
					bill.Refunds, bill.RefundAmount = bill.Refunds+1, bill.RefundAmount+fen
				}
			}
			// Paid and refunded here on the day, not in the bill: the
			// highest ids, so the last page of each look.
			at := day.Start().Add(23 * time.Hour).UTC()
			now := time.Now().UTC()
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Charges).Create(&models.Charge{AppID: testAppID, OutTradeNo: "EXTRA0001",
				Account: account, Channel: channels.AliWeb, TotalFee: 600, FeeType: "CNY", ClientIP: "127.0.0.1", Subject: "s", Body: "b",
				CreatedMs: now.UnixMilli(), TimeExpire: 86400, ExpireAt: at.Add(24 * time.Hour), Status: models.ChargePaid, PaidAt: &at,
				CreatedAt: now, UpdatedAt: now}).Error)
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Refunds).Create(&models.Refund{AppID: testAppID, OutRefundNo: "EXTRARF1",
				Account: account, OutTradeNo: "EXTRA0001", RefundFee: 200, Status: models.RefundSucceeded, Submitted: true, RefundedAt: &at,
				CreatedAt: now, UpdatedAt: now}).Error)

			reports, err := e.pc.Reconcile(ctx, channels.ProviderAlipay, day)
			require.NoError(t, err)
			require.Len(t, reports, 1)
			rep := reports[0]
			assert.Equal(t, models.ReconciliationDone, rep.Status, rep.Error)
			assert.EqualValues(t, rows, rep.BillRows)
			assert.EqualValues(t, rows, rep.Matched, "every row compared once")
			assert.Equal(t, bill, rep.Channel)
			assert.Equal(t, paytype.ReconcileSide{Payments: bill.Payments + 1, PaymentAmount: bill.PaymentAmount + 600,
				Refunds: bill.Refunds + 1, RefundAmount: bill.RefundAmount + 200}, rep.Local)
			got := map[models.DiscrepancyKind]string{}
			for _, d := range rep.Discrepancies {
				got[d.Kind] = d.OutTradeNo + " " + d.OutRefundNo
			}
			assert.Equal(t, map[models.DiscrepancyKind]string{
				models.DiscrepancyPaidHereMissing:   "EXTRA0001 ",
				models.DiscrepancyRefundHereMissing: "EXTRA0001 EXTRARF1",
			}, got)
			assert.Empty(t, rep.Applied)
			assert.Zero(t, e.count(e.pc.Tables().BillRows, "1 = 1"), "staged rows are deleted")
		})
	}
}
