package paycenter_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/sandbox"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// Adversarial tests of the one-statement payment (store.Chain, PostgreSQL
// with no OnPaid hook): host transactions holding the charge, replicas that
// lag or are down, the events built before the statement, late refunds,
// values that look like SQL. The races are in payment_event_test.go.

// waitBlocked waits until some backend of the cluster waits on a lock
// running a statement that starts with prefix (10 s at most).
func waitBlocked(t *testing.T, db *gorm.DB, prefix string) {
	t.Helper()
	assert.Eventually(t, func() bool {
		var n int64
		err := db.Raw("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE ?", prefix+"%").Scan(&n).Error
		return err == nil && n > 0
	}, 10*time.Second, time.Millisecond, "no statement %q ever waited on a lock", prefix)
}

// TestChainedVsHostCloseTx: a notification read the charge CREATED, then a
// host's transaction closes it with CloseChargeTx and holds the row while
// the one-statement payment waits on it. Commit: the payment must see the
// close (late, both events). Rollback: the payment is punctual, no close.
func TestChainedVsHostCloseTx(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprint("commit=", commit), func(t *testing.T) {
			ctx := context.Background()
			db := testdb.Open(t, testdb.Postgres)
			e, ch := newPaymentEnv(t, testdb.Postgres, func(c *paycenter.Config) { c.DB, c.Hooks = db, nil })
			arm := afterChargeRead(t, db, e.pc.Tables().Charges)
			no := "HTX00001"
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, no, 100))
			require.NoError(t, err)
			var wg sync.WaitGroup
			arm(func() { // on the notification's goroutine: assert, not require
				tx := db.Begin()
				if !assert.NoError(t, tx.Error) {
					return
				}
				t.Cleanup(func() { tx.Rollback() }) // never left holding the row
				_, err := e.pc.CloseChargeTx(ctx, tx, testAppID, channels.AliWeb, no)
				assert.NoError(t, err)
				wg.Add(1)
				go func() {
					defer wg.Done()
					waitBlocked(t, e.pc.DB(), "WITH u AS")
					if commit {
						assert.NoError(t, tx.Commit().Error)
					} else {
						assert.NoError(t, tx.Rollback().Error)
					}
				}()
			})
			ch.pay(t, e, no, 100)
			wg.Wait()
			c := e.chargeRow(no)
			require.Equal(t, models.ChargePaid, c.Status)
			assert.EqualValues(t, 1, e.events(no, hooks.ChargeSucceeded))
			if commit {
				assert.True(t, c.LatePaid, "paid after a committed close")
				assert.NotNil(t, c.ClosedAt)
				assert.EqualValues(t, 1, e.events(no, hooks.ChargeClosed))
			} else {
				assert.False(t, c.LatePaid)
				assert.Nil(t, c.ClosedAt)
				assert.EqualValues(t, 0, e.events(no, hooks.ChargeClosed))
			}
			assert.EqualValues(t, 1, e.count(e.pc.Tables().Notifications, "out_trade_no = ?", no), "audit records")
		})
	}
}

// lagPool is a ReadDB standing for a replica that lags: once frozen, its
// reads see the database as it was then (a REPEATABLE READ snapshot).
type lagPool struct {
	db *sql.DB
	mu sync.Mutex
	tx *sql.Tx
}

func (p *lagPool) pool() gorm.ConnPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx != nil {
		return p.tx
	}
	return p.db
}

func (p *lagPool) freeze(t *testing.T) {
	tx, err := p.db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	require.NoError(t, err)
	_, err = tx.Exec("SELECT 1")
	require.NoError(t, err)
	p.mu.Lock()
	p.tx = tx
	p.mu.Unlock()
	t.Cleanup(func() { tx.Rollback() })
}

func (p *lagPool) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return p.pool().PrepareContext(ctx, q)
}
func (p *lagPool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.pool().ExecContext(ctx, q, args...)
}
func (p *lagPool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.pool().QueryContext(ctx, q, args...)
}
func (p *lagPool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return p.pool().QueryRowContext(ctx, q, args...)
}

// TestChainedStaleReadDB: the host's ReadDB is a replica that lags. A
// notification's read there shows the charge CREATED although it was
// closed on the primary: the payment must still be late.
func TestChainedStaleReadDB(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t, testdb.Postgres)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	lag := &lagPool{db: sqlDB}
	read, err := gorm.Open(postgres.New(postgres.Config{Conn: lag}), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	e, ch := newPaymentEnv(t, testdb.Postgres, func(c *paycenter.Config) { c.DB, c.ReadDB, c.Hooks = db, read, nil })
	_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "LAG00001", 100))
	require.NoError(t, err)
	lag.freeze(t)
	_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "LAG00002", 100)) // not on the replica
	require.NoError(t, err)
	_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWeb, "LAG00001")
	require.NoError(t, err)
	e.clock.Add(time.Second)

	ch.pay(t, e, "LAG00001", 100)
	c := e.chargeRow("LAG00001")
	require.Equal(t, models.ChargePaid, c.Status)
	assert.True(t, c.LatePaid, "a payment of a closed charge read stale")
	assert.EqualValues(t, 1, e.events("LAG00001", hooks.ChargeSucceeded))

	ch.pay(t, e, "LAG00002", 100)
	c = e.chargeRow("LAG00002")
	require.Equal(t, models.ChargePaid, c.Status)
	assert.False(t, c.LatePaid)
	assert.EqualValues(t, 1, e.events("LAG00002", hooks.ChargeSucceeded))
}

// TestChainedEventMatchesCommitted: the charge.succeeded webhook body and
// the after-commit hook's charge, built before the statement from the
// charge as read, say what was committed: for a punctual payment, a late
// one after a close, a late one after the expiry; on both paths.
func TestChainedEventMatchesCommitted(t *testing.T) {
	ctx := context.Background()
	for _, mode := range hookModes {
		t.Run(mode.name, func(t *testing.T) {
			var mu sync.Mutex
			got := map[string]*models.Charge{}
			done := make(chan string, 16)
			e, ch := newPaymentEnv(t, testdb.Postgres, mode.opt,
				func(c *paycenter.Config) {
					c.Hooks = append(c.Hooks, hooks.AfterPaidFunc(func(ctx context.Context, ev *hooks.Event) error {
						mu.Lock()
						cp := *ev.Charge
						got[cp.OutTradeNo] = &cp
						mu.Unlock()
						done <- ev.Charge.OutTradeNo
						return nil
					}))
				})
			e.pc.Start(ctx)
			t.Cleanup(func() { e.pc.Stop(ctx) })
			for i, how := range []string{"punctual", "closed", "expired"} {
				no := fmt.Sprintf("EVT%05d", i)
				p := createParams(channels.AliWeb, no, 100+int64(i))
				p.TimeExpire = 60
				if how == "expired" { // the sandbox pays on the real clock
					e.clock.Add(-2 * time.Minute)
				}
				_, err := e.pc.CreateCharge(ctx, testAppID, p)
				require.NoError(t, err)
				switch how {
				case "closed":
					_, err := e.pc.CloseCharge(ctx, testAppID, channels.AliWeb, no)
					require.NoError(t, err)
					e.clock.Add(2 * time.Second)
				case "expired":
					e.clock.Add(2 * time.Minute)
				}
				ch.pay(t, e, no, 100+int64(i))
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					t.Fatal("AfterPaid never ran")
				}
				c := e.chargeRow(no)
				require.Equal(t, models.ChargePaid, c.Status)
				assert.Equal(t, how != "punctual", c.LatePaid, how)
				mu.Lock()
				ev := got[no]
				mu.Unlock()
				assert.Equal(t, c.Status, ev.Status, how)
				assert.Equal(t, c.LatePaid, ev.LatePaid, how)
				assert.Equal(t, c.TransactionID, ev.TransactionID, how)
				assert.Equal(t, c.TotalFee, ev.TotalFee, how)
				assert.Equal(t, c.RefundedFee, ev.RefundedFee, how)
				assert.Equal(t, c.RefundReserved, ev.RefundReserved, how)
				assert.Equal(t, c.LateRefundNo, ev.LateRefundNo, how)
				require.NotNil(t, ev.PaidAt)
				assert.WithinDuration(t, *c.PaidAt, *ev.PaidAt, time.Microsecond, how)
				assert.Equal(t, c.ClosedAt == nil, ev.ClosedAt == nil, how)

				var ds []models.Delivery
				require.NoError(t, e.pc.DB().Table(e.pc.Tables().Deliveries).
					Where("charge_id = ? AND type = ? AND target = ?", c.ID, hooks.ChargeSucceeded, models.TargetWebhook).Find(&ds).Error)
				require.Len(t, ds, 1)
				var b struct{ Data map[string]any }
				require.NoError(t, json.Unmarshal([]byte(ds[0].Body), &b))
				want, err := e.pc.PayResultTx(ctx, e.pc.DB(), testAppID, channels.AliWeb, no)
				require.NoError(t, err)
				raw, _ := json.Marshal(want)
				var w map[string]any
				require.NoError(t, json.Unmarshal(raw, &w))
				assert.Equal(t, w, b.Data, how)
			}
		})
	}
}

// TestChainedLateRefund: with LatePayment refund and no OnPaid hook, a
// late payment still reserves its automatic refund (it takes the
// transaction), and its webhook names it.
func TestChainedLateRefund(t *testing.T) {
	ctx := context.Background()
	e, ch := newPaymentEnv(t, testdb.Postgres, func(c *paycenter.Config) { c.Hooks, c.LatePayment = nil, paycenter.LatePaymentRefund })
	_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "LRF00001", 100))
	require.NoError(t, err)
	_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWeb, "LRF00001")
	require.NoError(t, err)
	e.clock.Add(2 * time.Second)
	ch.pay(t, e, "LRF00001", 100)
	c := e.chargeRow("LRF00001")
	require.Equal(t, models.ChargePaid, c.Status)
	assert.True(t, c.LatePaid)
	assert.EqualValues(t, 100, c.RefundReserved)
	assert.Equal(t, "LATE_LRF00001", c.LateRefundNo)
	var body string
	require.NoError(t, e.pc.DB().Table(e.pc.Tables().Deliveries).Where("charge_id = ? AND type = ? AND target = ?",
		c.ID, hooks.ChargeSucceeded, models.TargetWebhook).Select("body").Scan(&body).Error)
	assert.Contains(t, body, `"lateRefundNo":"LATE_LRF00001"`)
}

// TestChainedAuditBytes: the notification's audit record, inserted by the
// one statement, keeps header values that look like SQL placeholders
// (?, $1, @name, quotes, backslashes) byte for byte, on the driver's
// default mode and on the simple protocol (PgBouncer setups).
func TestChainedAuditBytes(t *testing.T) {
	for _, simple := range []bool{false, true} {
		t.Run(fmt.Sprint("simple=", simple), func(t *testing.T) {
			base := testdb.Open(t, testdb.Postgres)
			db := base
			if simple {
				// PgBouncer setups: pgx interpolates the arguments itself.
				dsn := base.Dialector.(*postgres.Dialector).DSN + " default_query_exec_mode=simple_protocol"
				var err error
				db, err = gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
				require.NoError(t, err)
				t.Cleanup(func() {
					if s, err := db.DB(); err == nil {
						s.Close()
					}
				})
			}
			e, ch := newPaymentEnv(t, testdb.Postgres, withWebhooks("http://127.0.0.1:9/we?b@hook$1"),
				func(c *paycenter.Config) { c.DB, c.Hooks = db, nil })
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "AUD00001", 100))
			require.NoError(t, err)
			req, err := ch.Notification(e.srv.URL+"/callbacks/"+testAppID+"/sandbox", "AUD00001", sandbox.ResultSuccess, 100)
			require.NoError(t, err)
			odd := `?$1 @a :b '' \' \x00 ?::text`
			req.Header.Set("Wechatpay-Serial", odd)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			c := e.chargeRow("AUD00001")
			require.Equal(t, models.ChargePaid, c.Status)
			var n models.Notification
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Notifications).Where("out_trade_no = ?", "AUD00001").Take(&n).Error)
			var h map[string]string
			require.NoError(t, json.Unmarshal([]byte(n.Headers), &h))
			assert.Equal(t, odd, h["Wechatpay-Serial"])
			assert.True(t, n.Accepted)
			var d models.Delivery
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Deliveries).Where("charge_id = ?", c.ID).Take(&d).Error)
			assert.Equal(t, "http://127.0.0.1:9/we?b@hook$1", d.URL)
		})
	}
}

// downPool is a ReadDB whose server is down.
type downPool struct{}

var errReplicaDown = errors.New("replica down")

func (downPool) PrepareContext(context.Context, string) (*sql.Stmt, error) {
	return nil, errReplicaDown
}
func (downPool) ExecContext(context.Context, string, ...any) (sql.Result, error) {
	return nil, errReplicaDown
}
func (downPool) QueryContext(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errReplicaDown
}
func (downPool) QueryRowContext(context.Context, string, ...any) *sql.Row { return nil }

// TestChainedReadDBDown: a payment notification needs only the primary
// (as it did before the one-statement path): with the host's ReadDB
// unreachable it is still applied and acknowledged.
func TestChainedReadDBDown(t *testing.T) {
	ctx := context.Background()
	read, err := gorm.Open(postgres.New(postgres.Config{Conn: downPool{}}), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	for _, mode := range hookModes {
		t.Run(mode.name, func(t *testing.T) {
			e, ch := newPaymentEnv(t, testdb.Postgres, mode.opt, func(c *paycenter.Config) { c.ReadDB = read })
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "DWN00001", 100))
			require.NoError(t, err)
			req, err := ch.Notification(e.srv.URL+"/callbacks/"+testAppID+"/sandbox", "DWN00001", sandbox.ResultSuccess, 100)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "acknowledged")
			assert.Equal(t, models.ChargePaid, e.chargeRow("DWN00001").Status)
		})
	}
}
