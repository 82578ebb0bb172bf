package paycenter_test

import (
	"context"
	"fmt"
	"sync/atomic"
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

// A payment is applied by one of two paths: in a write transaction (an
// in-transaction OnPaid hook must run in it; SQLite and MariaDB always), or
// on PostgreSQL with no such hook as one statement that pays the charge
// read before only if it is still as read (store.Chain). The tests below
// run every race on both paths: hookModes gives the options of each.
var hookModes = []struct {
	name string
	opt  option
}{
	{"in-tx-hooks", func(*paycenter.Config) {}},
	{"no-tx-hooks", func(c *paycenter.Config) { c.Hooks = nil }},
}

// newPaymentEnv is a pay center on kind whose charges a counting sandbox
// channel serves (ch.pay posts its payment notifications), with a webhook
// URL, so that every event writes an outbox row, and no workers (the rows
// stay as written); opts apply after these.
func newPaymentEnv(t *testing.T, kind testdb.Kind, opts ...option) (*env, *countingSandbox) {
	t.Helper()
	ch := newCountingSandbox()
	base := []option{noWorkers, withWebhooks("http://127.0.0.1:9/webhook"),
		func(c *paycenter.Config) { c.Channels = []channels.Channel{ch} }}
	return newEnv(t, kind, append(base, opts...)...), ch
}

// events counts the outbox rows of charge outTradeNo's events of type typ
// for the app's webhook: one per event.
func (e *env) events(outTradeNo, typ string) int64 {
	e.t.Helper()
	return e.count(e.pc.Tables().Deliveries, "charge_id = ? AND type = ? AND target = ?", e.chargeRow(outTradeNo).ID, typ, models.TargetWebhook)
}

// TestDuplicateNotificationsOneEvent: 16 copies of a payment notification
// at once make one move to PAID and one charge.succeeded, and every copy is
// acknowledged and kept in the audit.
func TestDuplicateNotificationsOneEvent(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for _, mode := range hookModes {
			t.Run(string(kind)+"/"+mode.name, func(t *testing.T) {
				e, ch := newPaymentEnv(t, kind, mode.opt)
				for trial := range trials(t) {
					no := fmt.Sprintf("dup%08d", trial)
					_, err := e.pc.CreateCharge(context.Background(), testAppID, createParams(channels.AliWeb, no, 700))
					require.NoError(t, err)
					paid := e.paid.Load()
					parallel(16, func(int) { ch.pay(t, e, no, 700) }) // each asserts the acknowledgement
					c := e.chargeRow(no)
					assert.Equal(t, models.ChargePaid, c.Status)
					assert.EqualValues(t, 1, e.events(no, hooks.ChargeSucceeded), "charge.succeeded events")
					assert.EqualValues(t, 16, e.count(e.pc.Tables().Notifications, "out_trade_no = ? AND accepted = ?", no, true),
						"audit records")
					if mode.name == "in-tx-hooks" {
						assert.EqualValues(t, 1, e.paid.Load()-paid, "OnPaid calls")
					}
				}
			})
		}
	}
}

// TestPaymentRacingClose: a payment notification and a close of the same
// charge at once. Either the close wins (CLOSED, then the payment applies
// late: charge.closed and charge.succeeded) or the payment does (the close
// is refused: charge.succeeded alone). Never two payments, never a
// payment lost, never a punctual payment of a closed charge.
func TestPaymentRacingClose(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for _, mode := range hookModes {
			t.Run(string(kind)+"/"+mode.name, func(t *testing.T) {
				e, ch := newPaymentEnv(t, kind, mode.opt)
				ctx := context.Background()
				closedFirst := 0
				for trial := range trials(t) {
					no := fmt.Sprintf("rc%08d", trial)
					_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, no, 300))
					require.NoError(t, err)
					var closeErr error
					parallel(2, func(i int) {
						if i == 0 {
							_, closeErr = e.pc.CloseCharge(ctx, testAppID, channels.AliWeb, no)
						} else {
							ch.pay(t, e, no, 300)
						}
					})
					c := e.chargeRow(no)
					require.Equal(t, models.ChargePaid, c.Status)
					assert.EqualValues(t, 1, e.events(no, hooks.ChargeSucceeded), "charge.succeeded events")
					closed := e.events(no, hooks.ChargeClosed)
					if closeErr == nil {
						closedFirst++
						assert.EqualValues(t, 1, closed, "charge.closed events")
						assert.NotNil(t, c.ClosedAt)
						assert.True(t, c.LatePaid, "a payment after the close is late")
					} else {
						assert.Zero(t, closed, "charge.closed events")
						assert.Nil(t, c.ClosedAt)
						assert.False(t, c.LatePaid)
					}
				}
				t.Logf("the close won %d of %d races", closedFirst, trials(t))
			})
		}
	}
}

// TestNotificationStatements: what a payment notification costs the
// database, counted at the driver: one commit, and on PostgreSQL with no
// in-transaction hook two statements and no transaction (the charge's read,
// then the payment, its event and its audit record as one statement).
func TestNotificationStatements(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for _, mode := range hookModes {
			t.Run(string(kind)+"/"+mode.name, func(t *testing.T) {
				db, counter := testdb.Counted(t, testdb.Open(t, kind))
				e, ch := newPaymentEnv(t, kind, mode.opt, func(c *paycenter.Config) { c.DB = db })
				_, err := e.pc.CreateCharge(context.Background(), testAppID, createParams(channels.AliWeb, "STMT0001", 100))
				require.NoError(t, err)
				stmts, begins := counter.Statements(), counter.Begins()
				ch.pay(t, e, "STMT0001", 100)
				stmts, begins = counter.Statements()-stmts, counter.Begins()-begins
				t.Logf("%d statements, %d transactions", stmts, begins)
				require.Equal(t, models.ChargePaid, e.chargeRow("STMT0001").Status)
				if kind == testdb.Postgres && mode.name == "no-tx-hooks" {
					assert.EqualValues(t, 2, stmts, "statements")
					assert.Zero(t, begins, "transactions")
				} else {
					assert.LessOrEqual(t, begins, int64(1), "transactions")
				}
			})
		}
	}
}

// TestDuplicateNotificationAfterPaid: a copy of a notification that
// arrives once the charge is PAID is acknowledged, audited, and changes
// nothing (on PostgreSQL with no in-transaction hook it takes the
// transactional path: the read shows PAID).
func TestDuplicateNotificationAfterPaid(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for _, mode := range hookModes {
			t.Run(string(kind)+"/"+mode.name, func(t *testing.T) {
				e, ch := newPaymentEnv(t, kind, mode.opt)
				_, err := e.pc.CreateCharge(context.Background(), testAppID, createParams(channels.AliWeb, "DUP00001", 100))
				require.NoError(t, err)
				ch.pay(t, e, "DUP00001", 100)
				before := e.chargeRow("DUP00001")
				e.clock.Add(time.Second)
				ch.pay(t, e, "DUP00001", 100)
				after := e.chargeRow("DUP00001")
				assert.Equal(t, before.UpdatedAt, after.UpdatedAt, "the copy changed the charge")
				assert.EqualValues(t, 1, e.events("DUP00001", hooks.ChargeSucceeded))
				assert.EqualValues(t, 2, e.count(e.pc.Tables().Notifications, "out_trade_no = ?", "DUP00001"))
			})
		}
	}
}

// afterChargeRead returns arm: once armed with fn, fn runs right after the
// next query of the charges table on db, the first thing a notification
// does on PostgreSQL with no in-transaction hook (it reads the charge
// outside any transaction). fn is what another request does at that very
// moment.
func afterChargeRead(t *testing.T, db *gorm.DB, table string) (arm func(fn func())) {
	var next atomic.Pointer[func()]
	require.NoError(t, db.Callback().Query().After("gorm:query").Register("test:after_charge_read", func(tx *gorm.DB) {
		if tx.Statement.Table != table {
			return
		}
		if fn := next.Swap(nil); fn != nil {
			(*fn)()
		}
	}))
	return func(fn func()) { next.Store(&fn) }
}

// TestChargeChangedAfterRead: on the one-statement path, the charge changes
// between the notification's read and its payment. The payment must see the
// change: a close makes it late, a concurrent copy of the notification
// leaves it nothing to do — never a second event, never a punctual payment
// of a closed charge.
func TestChargeChangedAfterRead(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t, testdb.Postgres)
	e, ch := newPaymentEnv(t, testdb.Postgres, func(c *paycenter.Config) { c.DB, c.Hooks = db, nil })
	arm := afterChargeRead(t, db, e.pc.Tables().Charges)

	t.Run("closed", func(t *testing.T) {
		_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "CHG00001", 100))
		require.NoError(t, err)
		arm(func() {
			_, err := e.pc.CloseCharge(ctx, testAppID, channels.AliWeb, "CHG00001")
			assert.NoError(t, err)
		})
		ch.pay(t, e, "CHG00001", 100)
		c := e.chargeRow("CHG00001")
		assert.Equal(t, models.ChargePaid, c.Status)
		assert.True(t, c.LatePaid, "the payment of a charge closed before it is late")
		assert.EqualValues(t, 1, e.events("CHG00001", hooks.ChargeClosed))
		assert.EqualValues(t, 1, e.events("CHG00001", hooks.ChargeSucceeded))
	})
	t.Run("paid", func(t *testing.T) {
		_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "CHG00002", 100))
		require.NoError(t, err)
		arm(func() { ch.pay(t, e, "CHG00002", 100) }) // the copy's own read finds nothing armed
		ch.pay(t, e, "CHG00002", 100)
		c := e.chargeRow("CHG00002")
		assert.Equal(t, models.ChargePaid, c.Status)
		assert.False(t, c.LatePaid)
		assert.EqualValues(t, 1, e.events("CHG00002", hooks.ChargeSucceeded))
		assert.EqualValues(t, 2, e.count(e.pc.Tables().Notifications, "out_trade_no = ? AND accepted = ?", "CHG00002", true))
	})
}
