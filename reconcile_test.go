package paycenter_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// fakePay is a real (non-sandbox) channel whose notifications never arrive:
// the only way to learn of a payment is to ask it.
type fakePay struct {
	account      string // the merchant account (default "1900000001")
	mu           sync.Mutex
	refuseCreate bool // Create answers a definite refusal
	orders       map[string]*channels.Payment
	queries      int
	closes       int
}

func newFakePay() *fakePay { return &fakePay{orders: map[string]*channels.Payment{}} }

func (f *fakePay) Provider() string { return "fakepay" }
func (f *fakePay) Account() string {
	if f.account == "" {
		return "1900000001"
	}
	return f.account
}
func (f *fakePay) Supports(c channels.Code) bool { return c == channels.WxNative }
func (f *fakePay) Ack(w http.ResponseWriter, err error) {
	w.WriteHeader(http.StatusInternalServerError)
}
func (f *fakePay) ParseNotification(context.Context, *http.Request, string) (*channels.Notification, error) {
	return nil, errors.New("fakepay: notifications are dropped")
}
func (f *fakePay) Create(_ context.Context, req *channels.CreateRequest) (channels.Params, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuseCreate {
		return nil, &channels.Error{Code: "OUT_TRADE_NO_USED", Message: "商户订单号重复"}
	}
	f.orders[req.OutTradeNo] = &channels.Payment{OutTradeNo: req.OutTradeNo, Status: channels.PaymentPending, TotalFee: req.TotalFee,
		Marker: req.Marker, HasMarker: true}
	return channels.Params{"codeUrl": "weixin://fake/" + req.OutTradeNo}, nil
}

// pay is the buyer paying at the channel.
func (f *fakePay) pay(no string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orders[no]
	o.Status, o.TransactionID, o.PaidAt = channels.PaymentPaid, "fake"+no, at
}

func (f *fakePay) QueryPayment(_ context.Context, _ string, _ channels.Code, no string) (*channels.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	o, ok := f.orders[no]
	if !ok {
		return &channels.Payment{OutTradeNo: no, Status: channels.PaymentPending}, nil
	}
	cp := *o
	return &cp, nil
}

func (f *fakePay) ClosePayment(_ context.Context, _ string, _ channels.Code, no string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	if o, ok := f.orders[no]; ok {
		if o.Status == channels.PaymentPaid {
			return channels.ErrAlreadyPaid
		}
		o.Status = channels.PaymentClosed
	}
	return nil
}

func (f *fakePay) counts() (queries, closes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries, f.closes
}

// TestActiveQueries: with every notification dropped, a charge paid at the
// channel becomes PAID through the reconciliation worker, on its schedule,
// and its hooks and webhook fire once.
func TestActiveQueries(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fake := newFakePay()
			m := newMerchant(t, 0)
			var after int
			e := newEnv(t, kind, noWorkers, withWebhooks(m.srv.URL, time.Minute), func(c *paycenter.Config) {
				c.Channels = []channels.Channel{fake}
				c.Hooks = append(c.Hooks, hooks.AfterPaidFunc(func(context.Context, *hooks.Event) error { after++; return nil }))
			})
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "query0000001", 100))
			require.NoError(t, err)

			assert.Equal(t, 0, e.pc.RunDue(ctx), "the first query is 15 s after the charge")
			e.clock.Add(15 * time.Second)
			assert.Equal(t, 1, e.pc.RunDue(ctx))
			e.clock.Add(20 * time.Second)
			assert.Equal(t, 0, e.pc.RunDue(ctx), "the second query is 30 s after the first")
			fake.pay("query0000001", e.clock.Now())
			e.clock.Add(10 * time.Second)
			assert.Equal(t, 3, e.pc.RunDue(ctx), "query, then the webhook and the AfterPaid hook")
			q, _ := fake.counts()
			assert.Equal(t, 2, q)

			var c models.Charge
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", "query0000001").Take(&c).Error)
			assert.Equal(t, models.ChargePaid, c.Status)
			assert.Equal(t, "fakequery0000001", c.TransactionID)
			assert.EqualValues(t, 1, e.paid.Load())
			assert.Equal(t, 1, after)
			e.clock.Add(2 * time.Hour)
			assert.Equal(t, 0, e.pc.RunDue(ctx), "a paid charge is not queried again")
			assert.EqualValues(t, 1, e.paid.Load())
			m.mu.Lock()
			assert.Len(t, m.delivered, 1)
			m.mu.Unlock()
		})
	}
}

// TestExpiryPaidAtChannelWins: a charge paid at the channel just as it
// expires ends PAID, not CLOSED; an unpaid one is closed at the channel
// and locally.
func TestExpiryPaidAtChannelWins(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fake := newFakePay()
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) { c.Channels = []channels.Channel{fake} })
			ctx := context.Background()
			for _, no := range []string{"expire000001", "expire000002"} {
				p := createParams(channels.WxNative, no, 100)
				p.TimeExpire = 60
				_, err := e.pc.CreateCharge(ctx, testAppID, p)
				require.NoError(t, err)
			}
			e.clock.Add(60 * time.Second)
			fake.pay("expire000001", e.clock.Now()) // at the last moment
			e.clock.Add(time.Second)
			e.pc.RunDue(ctx)
			status := func(no string) models.ChargeStatus {
				var c models.Charge
				require.NoError(t, e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", no).Take(&c).Error)
				return c.Status
			}
			assert.Equal(t, models.ChargePaid, status("expire000001"))
			assert.Equal(t, models.ChargeClosed, status("expire000002"))
			_, closes := fake.counts()
			assert.Equal(t, 2, closes, "both were closed at the channel first")
			assert.EqualValues(t, 1, e.paid.Load())
			assert.EqualValues(t, 1, e.closed.Load())
			assert.Equal(t, 0, e.pc.RunDue(ctx))
		})
	}
}

// TestLatePaymentRefund: with LatePayment "refund", a payment for a closed
// charge is recorded and then refunded in full by the refund worker.
func TestLatePaymentRefund(t *testing.T) {
	e := newEnv(t, testdb.SQLite, noWorkers, func(c *paycenter.Config) { c.LatePayment = paycenter.LatePaymentRefund })
	ctx := context.Background()
	_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "late00000001", 250))
	require.NoError(t, err)
	_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWeb, "late00000001")
	require.NoError(t, err)
	e.clock.Add(time.Second) // paid after the close
	_, err = e.pc.SandboxPay(ctx, testAppID, "late00000001", "success")
	require.NoError(t, err)
	require.Equal(t, 1, e.pc.RunDue(ctx))
	r, err := e.pc.RefundResult(ctx, testAppID, "LATE_late00000001")
	require.NoError(t, err)
	assert.Equal(t, models.RefundSucceeded, r.Status)
	assert.EqualValues(t, 250, r.RefundFee)
	pr, err := e.pc.PayResult(ctx, testAppID, channels.AliWeb, "late00000001")
	require.NoError(t, err)
	assert.True(t, pr.Charge.LatePaid)
	assert.EqualValues(t, 250, pr.RefundedFee)
	assert.EqualValues(t, 1, e.refund.Load())
}

// gatedPay holds Create until released, to close a charge while its
// channel order is being opened.
type gatedPay struct {
	*fakePay
	entered, release chan struct{}
}

func (g *gatedPay) Create(ctx context.Context, req *channels.CreateRequest) (channels.Params, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.fakePay.Create(ctx, req)
}

// TestCloseDuringCreate: a close while the channel order is being opened is
// 20004 (closing locally then would leave the new order payable); once the
// create is done, the close reaches the channel and the charge.
func TestCloseDuringCreate(t *testing.T) {
	g := &gatedPay{fakePay: newFakePay(), entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, testdb.SQLite, noWorkers, func(c *paycenter.Config) { c.Channels = []channels.Channel{g} })
	ctx := context.Background()
	created := make(chan error, 1)
	go func() {
		_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "gate00000001", 100))
		created <- err
	}()
	<-g.entered
	_, err := e.pc.CloseCharge(ctx, testAppID, channels.WxNative, "gate00000001")
	assert.Equal(t, paycenter.CodeInProgress, code(err), "%v", err)
	close(g.release)
	require.NoError(t, <-created)

	_, err = e.pc.CloseCharge(ctx, testAppID, channels.WxNative, "gate00000001")
	require.NoError(t, err)
	_, closes := g.counts()
	assert.Equal(t, 1, closes)
	p, _ := g.QueryPayment(ctx, testAppID, channels.WxNative, "gate00000001")
	assert.Equal(t, channels.PaymentClosed, p.Status, "closed at the channel too")
	assert.EqualValues(t, 1, e.closed.Load())
}

// TestLatePaymentRefundNumberIsReserved: a merchant cannot take the
// automatic refund's number, and a payment is recorded even if its
// automatic refund cannot be reserved.
func TestLatePaymentRefundNumberIsReserved(t *testing.T) {
	e := newEnv(t, testdb.SQLite, noWorkers, func(c *paycenter.Config) { c.LatePayment = paycenter.LatePaymentRefund })
	ctx := context.Background()
	_, err := e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "late00000001", OutRefundNo: "LATE_late00000002", RefundFee: 1})
	assert.Equal(t, paycenter.CodeInvalid, code(err), "underscores are not merchant refund numbers")
	r := e.do(http.MethodGet, "/api/refunds/result", map[string]string{"outRefundNo": "LATE_late00000002"}, testSecret)
	assert.Equal(t, paycenter.CodeNotFound, r.ErrorCode, "but refund-result accepts the automatic ones: %s", r.ErrorMsg)

	// The number taken anyway (by hand, in the database): the payment still
	// commits; only its automatic refund is left to a person.
	require.NoError(t, e.pc.DB().Table(e.pc.Tables().Refunds).Create(&models.Refund{AppID: testAppID,
		OutRefundNo: "LATE_late00000003", OutTradeNo: "other0000001", RefundFee: 1, Status: models.RefundSucceeded}).Error)
	_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "late00000003", 250))
	require.NoError(t, err)
	_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWeb, "late00000003")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, e.sandboxPay("late00000003", "success"))
	pr, err := e.pc.PayResult(ctx, testAppID, channels.AliWeb, "late00000003")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)
	assert.Zero(t, pr.Charge.RefundReserved)
}

// TestSharedChannelAccount: two apps on one channel account share its
// number space, so an outTradeNo one of them uses is refused to the other
// (the channel would credit one payment to both charges). The account is
// the channel's own identity, not the Go value: two adapters built from
// the same credentials are one account.
func TestSharedChannelAccount(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fake, own := newFakePay(), newFakePay()
			own.account = "1900000333"
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) {
				c.Channels = []channels.Channel{fake}
				c.Apps = append(c.Apps, paycenter.App{ID: "22", Key: "key22", Secret: "secret22"},
					paycenter.App{ID: "33", Key: "key33", Secret: "secret33", Channels: []channels.Channel{own}},
					paycenter.App{ID: "44", Key: "key44", Secret: "secret44", Channels: []channels.Channel{newFakePay()}})
			})
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "shared000001", 100))
			require.NoError(t, err)
			_, err = e.pc.CreateCharge(ctx, "22", createParams(channels.WxNative, "shared000001", 100))
			assert.Equal(t, paycenter.CodeExists, code(err))
			assert.ErrorContains(t, err, "another app on the same fakepay merchant account")
			_, err = e.pc.CreateCharge(ctx, "44", createParams(channels.WxNative, "shared000001", 100))
			assert.Equal(t, paycenter.CodeExists, code(err), "another adapter value on the same account shares its numbers")
			_, err = e.pc.CreateCharge(ctx, "33", createParams(channels.WxNative, "shared000001", 100))
			assert.NoError(t, err, "an app with its own account has its own numbers")
			_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "shared000001", 100))
			assert.NoError(t, err, "the owner's own resubmission is fine")
		})
	}
}

// TestLocalCloseIsConfirmedAtChannel: a charge closed only locally
// (CloseChargeTx, and the host never calls CloseCharge) is closed at the
// channel by the reconciliation worker; if the buyer paid meanwhile and the
// notification was lost, the payment is found and recorded (late).
func TestLocalCloseIsConfirmedAtChannel(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fake := newFakePay()
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) { c.Channels = []channels.Channel{fake} })
			ctx := context.Background()
			for _, no := range []string{"local0000001", "local0000002"} {
				_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, no, 100))
				require.NoError(t, err)
				require.NoError(t, e.pc.DB().Transaction(func(tx *gorm.DB) error {
					_, err := e.pc.CloseChargeTx(ctx, tx, testAppID, channels.WxNative, no)
					return err
				}))
			}
			_, closes := fake.counts()
			require.Zero(t, closes, "CloseChargeTx calls no channel")
			fake.pay("local0000001", e.clock.Now().Add(time.Second)) // the buyer still had the QR code

			e.clock.Add(15 * time.Second)
			assert.Equal(t, 2, e.pc.RunDue(ctx))
			var c1, c2 models.Charge
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", "local0000001").Take(&c1).Error)
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", "local0000002").Take(&c2).Error)
			assert.Equal(t, models.ChargePaid, c1.Status)
			assert.True(t, c1.LatePaid)
			assert.Equal(t, models.ChargeClosed, c2.Status)
			assert.Nil(t, c2.NextQueryAt, "the channel confirmed the close: no more questions")
			assert.EqualValues(t, 1, e.paid.Load())
			e.clock.Add(2 * time.Hour)
			assert.Equal(t, 0, e.pc.RunDue(ctx))
		})
	}
}
