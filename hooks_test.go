package paycenter_test

import (
	"context"
	"errors"
	"net/http"
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

// shopOrder is a host table written by hooks in the pay center's
// transaction.
type shopOrder struct {
	No     string `gorm:"primaryKey;size:32"`
	Status string `gorm:"size:16"`
}

// TestHookErrorRollsBack: a failing OnPaid leaves the charge unpaid and the
// notification refused; the redelivery then succeeds and the hook's own
// write commits with the payment.
func TestHookErrorRollsBack(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind)
			require.NoError(t, e.pc.DB().AutoMigrate(&shopOrder{}))
			failNext := true
			e.onPaid = func(ctx context.Context, ev *hooks.Paid) error {
				if err := ev.Tx.Create(&shopOrder{No: ev.Charge.OutTradeNo, Status: "paid"}).Error; err != nil {
					return err
				}
				if failNext {
					failNext = false
					return errors.New("shop database says no")
				}
				return nil
			}
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "hook00000001", 300))
			require.NoError(t, err)

			assert.Equal(t, http.StatusBadGateway, e.sandboxPay("hook00000001", "success"), "refused notification")
			pr, err := e.pc.PayResult(ctx, testAppID, channels.WxNative, "hook00000001")
			require.NoError(t, err)
			assert.False(t, pr.HasPay)
			assert.Equal(t, models.ChargeCreated, pr.Status)
			var n int64
			require.NoError(t, e.pc.DB().Model(&shopOrder{}).Count(&n).Error)
			assert.Zero(t, n, "the hook's write rolled back with the payment")
			assert.EqualValues(t, 1, e.paid.Load())

			assert.Equal(t, http.StatusOK, e.sandboxPay("hook00000001", "success"), "redelivery")
			assert.EqualValues(t, 2, e.paid.Load(), "the redelivery called the hook once more")
			pr, err = e.pc.PayResult(ctx, testAppID, channels.WxNative, "hook00000001")
			require.NoError(t, err)
			assert.True(t, pr.HasPay)
			var o shopOrder
			require.NoError(t, e.pc.DB().Take(&o, "no = ?", "hook00000001").Error)
			assert.Equal(t, "paid", o.Status)

			assert.Equal(t, http.StatusOK, e.sandboxPay("hook00000001", "success"), "a duplicate is acknowledged")
			assert.EqualValues(t, 2, e.paid.Load(), "and calls no hook")

			// The notification audit trail kept all three deliveries.
			assert.EqualValues(t, 1, e.count(e.pc.Tables().Notifications, "out_trade_no = ? AND accepted = ?", "hook00000001", false))
			assert.EqualValues(t, 2, e.count(e.pc.Tables().Notifications, "out_trade_no = ? AND accepted = ?", "hook00000001", true))
		})
	}
}

// TestHooksFireOncePerTransition covers OnRefund and OnClosed, and a
// payment after closing (a late payment: PAID with LatePaid).
func TestHooksFireOncePerTransition(t *testing.T) {
	e := newEnv(t, testdb.SQLite)
	var late []bool
	e.onPaid = func(ctx context.Context, ev *hooks.Paid) error { late = append(late, ev.Late); return nil }
	ctx := context.Background()
	_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWap, "once00000001", 300))
	require.NoError(t, err)
	_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWap, "once00000001")
	require.NoError(t, err)
	_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWap, "once00000001")
	require.NoError(t, err, "closing twice is fine")
	assert.EqualValues(t, 1, e.closed.Load())

	e.clock.Add(time.Second) // the buyer pays after the close: late
	assert.Equal(t, http.StatusOK, e.sandboxPay("once00000001", "success"))
	pr, err := e.pc.PayResult(ctx, testAppID, channels.AliWap, "once00000001")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)
	assert.True(t, pr.Charge.LatePaid)
	assert.Equal(t, []bool{true}, late)

	_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "once00000001", OutRefundNo: "once1", RefundFee: 300})
	require.NoError(t, err)
	_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "once00000001", OutRefundNo: "once1", RefundFee: 300})
	require.NoError(t, err, "the same refund again is the same refund")
	assert.EqualValues(t, 1, e.refund.Load())

	// An expired charge that is paid is a late payment too.
	_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWap, "once00000002", 300))
	require.NoError(t, err)
	e.clock.Add(25 * time.Hour)
	assert.Equal(t, http.StatusOK, e.sandboxPay("once00000002", "success"))
	assert.Equal(t, []bool{true, true}, late)
}

// TestTxTwins: the ...Tx methods join the host's transaction; rolling it
// back leaves no charge and no refund, committing keeps them.
func TestTxTwins(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind)
			require.NoError(t, e.pc.DB().AutoMigrate(&shopOrder{}))
			ctx := context.Background()
			errAbort := errors.New("abort")
			err := e.pc.DB().Transaction(func(tx *gorm.DB) error {
				require.NoError(t, tx.Create(&shopOrder{No: "tx0000000001", Status: "new"}).Error)
				res, err := e.pc.CreateChargeTx(ctx, tx, testAppID, createParams(channels.WxNative, "tx0000000001", 100))
				require.NoError(t, err)
				assert.Nil(t, res.ChannelParams, "no channel call inside a transaction")
				return errAbort
			})
			require.ErrorIs(t, err, errAbort)
			assert.EqualValues(t, 0, e.count(e.pc.Tables().Charges, "1 = 1"))

			err = e.pc.DB().Transaction(func(tx *gorm.DB) error {
				require.NoError(t, tx.Create(&shopOrder{No: "tx0000000001", Status: "new"}).Error)
				_, err := e.pc.CreateChargeTx(ctx, tx, testAppID, createParams(channels.WxNative, "tx0000000001", 100))
				require.NoError(t, err)
				// A conflicting create inside the same transaction is refused
				// without aborting the host's transaction.
				_, err = e.pc.CreateChargeTx(ctx, tx, testAppID, createParams(channels.WxNative, "tx0000000001", 101))
				assert.Equal(t, paycenter.CodeExists, code(err))
				return tx.Model(&shopOrder{}).Where("no = ?", "tx0000000001").Update("status", "charged").Error
			})
			require.NoError(t, err)
			res, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "tx0000000001", 100))
			require.NoError(t, err, "after commit the same create opens the channel order")
			assert.NotEmpty(t, res.ChannelParams["codeUrl"])
			var o shopOrder
			require.NoError(t, e.pc.DB().Take(&o, "no = ?", "tx0000000001").Error)
			assert.Equal(t, "charged", o.Status)

			require.Equal(t, http.StatusOK, e.sandboxPay("tx0000000001", "success"))
			err = e.pc.DB().Transaction(func(tx *gorm.DB) error {
				r, err := e.pc.RefundTx(ctx, tx, testAppID, paycenter.RefundParams{OutTradeNo: "tx0000000001", OutRefundNo: "txr1", RefundFee: 100})
				require.NoError(t, err)
				assert.Equal(t, models.RefundProcessing, r.Status)
				_, err = e.pc.RefundTx(ctx, tx, testAppID, paycenter.RefundParams{OutTradeNo: "tx0000000001", OutRefundNo: "txr2", RefundFee: 1})
				assert.Equal(t, paycenter.CodeOverLimit, code(err), "the reservation inside tx counts")
				return nil
			})
			require.NoError(t, err)
			rr, err := e.pc.RefundResult(ctx, testAppID, "txr1")
			require.NoError(t, err)
			assert.Equal(t, models.RefundSucceeded, rr.Status, "refund-result sends a reserved refund")
			assert.EqualValues(t, 1, e.refund.Load())
		})
	}
}

// TestExpiredAndClosedCodes: refunding a closed unpaid charge is 20005;
// resubmitting a create after expiry is 20006, after a close 20003.
func TestExpiredAndClosedCodes(t *testing.T) {
	e := newEnv(t, testdb.SQLite, noWorkers)
	ctx := context.Background()
	for _, no := range []string{"codes0000001", "codes0000002"} {
		_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, no, 100))
		require.NoError(t, err)
	}
	_, err := e.pc.CloseCharge(ctx, testAppID, channels.WxNative, "codes0000001")
	require.NoError(t, err)
	_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "codes0000001", OutRefundNo: "c1", RefundFee: 1})
	assert.Equal(t, paycenter.CodeNotPaid, code(err))
	_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "codes0000001", 100))
	assert.Equal(t, paycenter.CodeExists, code(err))
	e.clock.Add(25 * time.Hour)
	_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "codes0000002", 100))
	assert.Equal(t, paycenter.CodeClosed, code(err))
}

// TestTxTwinsSeeConcurrentCommits: a host transaction that took its
// snapshot before another request committed the same charge or refund
// still finds it (MySQL REPEATABLE READ would hide it from a plain read).
func TestTxTwinsSeeConcurrentCommits(t *testing.T) {
	for _, kind := range testdb.Kinds {
		if kind == testdb.SQLite {
			continue // one writer: the two transactions cannot overlap
		}
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind, noWorkers)
			require.NoError(t, e.pc.DB().AutoMigrate(&shopOrder{}))
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "snap00000001", 100))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, e.sandboxPay("snap00000001", "success"))

			tx := e.pc.DB().Begin()
			defer tx.Rollback()
			var n int64
			require.NoError(t, tx.Model(&shopOrder{}).Count(&n).Error) // the snapshot starts here
			_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "snap00000002", 100))
			require.NoError(t, err)
			_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "snap00000001", OutRefundNo: "snapr1", RefundFee: 10})
			require.NoError(t, err)

			res, err := e.pc.CreateChargeTx(ctx, tx, testAppID, createParams(channels.WxNative, "snap00000002", 100))
			require.NoError(t, err, "the same create, committed meanwhile")
			assert.NotEmpty(t, res.ChannelParams["codeUrl"])
			r, err := e.pc.RefundTx(ctx, tx, testAppID, paycenter.RefundParams{OutTradeNo: "snap00000001", OutRefundNo: "snapr1", RefundFee: 10})
			require.NoError(t, err, "the same refund, committed meanwhile")
			assert.Equal(t, models.RefundSucceeded, r.Status)
			require.NoError(t, tx.Commit().Error)
		})
	}
}
