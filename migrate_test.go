package paycenter_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/legacyschema"
	"github.com/gopaycenter/paycenter/internal/schemacheck"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/migrations"
	"github.com/gopaycenter/paycenter/models"
)

// TestNewConcurrentOnEmptyDatabase: five pay centers starting at once on
// an empty database (the 1f555fd release lost two of three on PostgreSQL)
// all start; exactly one applies the schema.
func TestNewConcurrentOnEmptyDatabase(t *testing.T) {
	const n = 5
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			// One pool for PostgreSQL and MySQL, whose migrators take
			// connections of their own; SQLite gets a handle per instance
			// on one file, as processes would.
			db, dir := testdb.Open(t, kind), t.TempDir()
			dbs := make([]*gorm.DB, n)
			for i := range dbs {
				dbs[i] = db
				if kind == testdb.SQLite {
					var err error
					dbs[i], err = paycenter.OpenSQLite(filepath.Join(dir, "shared.db"))
					require.NoError(t, err)
					sqlDB, _ := dbs[i].DB()
					t.Cleanup(func() { sqlDB.Close() })
				}
			}
			logs := make([]lockedBuffer, n)
			errs := make([]error, n)
			parallel(n, func(i int) {
				pc, err := paycenter.New(paycenter.Config{DB: dbs[i],
					Apps:   []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret}},
					Logger: slog.New(slog.NewTextHandler(&logs[i], nil))})
				if errs[i] = err; err == nil {
					pc.Close()
				}
			})
			migrators := 0
			for i, err := range errs {
				require.NoError(t, err, "instance %d", i)
				if strings.Contains(logs[i].String(), "paycenter: applied migration") {
					migrators++
				}
			}
			assert.Equal(t, 1, migrators, "instances that applied migrations")
			var count struct{ N, Versions int64 }
			require.NoError(t, dbs[0].Raw("SELECT COUNT(*) AS n, COUNT(DISTINCT version_id) AS versions FROM "+
				migrations.VersionTable("pay_")).Scan(&count).Error)
			assert.Equal(t, count.Versions, count.N, "each version recorded once")
			assert.Greater(t, count.Versions, int64(1), "version 0 and the migrations")
			require.NoError(t, schemacheck.Check(dbs[0], models.NewTables("pay_")))
		})
	}
}

// TestSkipMigrate: with SkipMigrate, New leaves an empty database alone;
// pc.Migrate then creates the tables, and MigrateDB finds nothing to do.
func TestSkipMigrate(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t, testdb.SQLite)
	pc, err := paycenter.New(paycenter.Config{DB: db, SkipMigrate: true, TablePrefix: "shop_",
		Apps: []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret}}})
	require.NoError(t, err)
	defer pc.Close()
	assert.False(t, db.Migrator().HasTable("shop_charges"))
	require.NoError(t, pc.Migrate(ctx))
	require.NoError(t, schemacheck.Check(db, models.NewTables("shop_")))
	res, err := paycenter.MigrateDB(ctx, db, "shop_")
	require.NoError(t, err)
	assert.Empty(t, res.Applied)
	assert.GreaterOrEqual(t, res.Version, int64(1))
	assert.False(t, db.Migrator().HasTable("pay_charges"), "the default prefix was not used")

	_, err = paycenter.MigrateDB(ctx, db, "shop-")
	assert.ErrorContains(t, err, `table prefix "shop-" must be letters, digits and underscores`)
}

// legacyRows is one of each row release 1f555fd wrote.
type legacyRows struct {
	Charges       []legacyschema.Charge
	Refunds       []legacyschema.Refund
	Nonces        []legacyschema.Nonce
	Notifications []legacyschema.Notification
	Deliveries    []legacyschema.Delivery
}

// read reads every row of the pay center's tables, in id order.
func (r *legacyRows) read(t testing.TB, db *gorm.DB) {
	t.Helper()
	for table, dst := range map[string]any{"pay_charges": &r.Charges, "pay_refunds": &r.Refunds,
		"pay_notifications": &r.Notifications, "pay_deliveries": &r.Deliveries} {
		require.NoError(t, db.Table(table).Order("id").Find(dst).Error)
	}
	require.NoError(t, db.Table("pay_nonces").Order("nonce").Find(&r.Nonces).Error)
}

// TestUpgradeFromRelease1f555fd: a database written by release 1f555fd
// (AutoMigrate; on MySQL also in the server's case-insensitive default
// collation, as releases before 1aaceee left it) keeps every row through
// the migrations, and the pay center goes on from it: the paid charge
// answers paid and can be refunded again, the used nonce is still refused,
// and numbers differing only in case are different orders and refunds.
func TestUpgradeFromRelease1f555fd(t *testing.T) {
	variants := []struct {
		name             string
		kind             testdb.Kind
		defaultCollation bool
	}{
		{"sqlite", testdb.SQLite, false},
		{"postgres", testdb.Postgres, false},
		{"mysql", testdb.MySQL, false},
		{"mysql-default-collation", testdb.MySQL, true},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.Open(t, v.kind)
			require.NoError(t, legacyschema.Create(ctx, db, "pay_", v.defaultCollation))
			now := time.Now().UTC().Truncate(time.Millisecond)
			writeLegacyRows(t, db, now)
			if v.defaultCollation {
				// The premise: here "OLD0000001" is the same order.
				err := db.Table("pay_charges").Create(&legacyschema.Charge{AppID: testAppID, OutTradeNo: "OLD0000001",
					Channel: "WX_NATIVE", Status: "CREATED", ExpireAt: now}).Error
				require.ErrorContains(t, err, "Duplicate entry", "the case-insensitive collation refuses a second OLD0000001")
			}
			var before, after legacyRows
			before.read(t, db)

			e := newEnv(t, v.kind, noWorkers, func(c *paycenter.Config) { c.DB = db })
			// Connections that read the tables before the migration hold
			// plans of the old column types (PostgreSQL refuses to reuse
			// them); start from new ones, as a restarted host would.
			sqlDB, err := db.DB()
			require.NoError(t, err)
			sqlDB.SetMaxIdleConns(0)
			sqlDB.SetMaxIdleConns(2)
			after.read(t, db)
			assert.Equal(t, before, after)
			require.NoError(t, schemacheck.Check(db, models.NewTables("pay_")))

			assertGoesOn(t, e)
		})
	}
}

// assertGoesOn checks that the pay center of e goes on from the rows of
// writeLegacyRows: the paid charge answers paid and can be refunded again
// (the old refund still counts), the used nonce is refused, and numbers
// differing only in case are other orders, refunds and nonces.
func assertGoesOn(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	pr, err := e.pc.PayResult(ctx, testAppID, channels.WxNative, "old0000001")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)
	assert.EqualValues(t, 1000, pr.TotalFee)
	assert.EqualValues(t, 100, pr.RefundedFee)
	assert.Equal(t, "4200000000000001", *pr.TransactionID)

	rr, err := e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "old0000001", OutRefundNo: "newrefund1", RefundFee: 200})
	require.NoError(t, err)
	assert.Equal(t, models.RefundSucceeded, rr.Status)
	// The old refund's number in capitals is another refund.
	rr, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "old0000001", OutRefundNo: "OLDREFUND1", RefundFee: 300})
	require.NoError(t, err)
	assert.Equal(t, models.RefundSucceeded, rr.Status)
	pr, err = e.pc.PayResult(ctx, testAppID, channels.WxNative, "old0000001")
	require.NoError(t, err)
	assert.EqualValues(t, 600, pr.RefundedFee)
	_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "old0000001", OutRefundNo: "newrefund2", RefundFee: 401})
	assert.Equal(t, paycenter.CodeOverLimit, code(err), "the old refunds still count")

	// The old order's number in capitals is another order.
	_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "OLD0000001", 50))
	require.NoError(t, err)
	pr, err = e.pc.PayResult(ctx, testAppID, channels.WxNative, "OLD0000001")
	require.NoError(t, err)
	assert.False(t, pr.HasPay)
	assert.EqualValues(t, 50, pr.TotalFee)

	ts := strconv.FormatInt(e.clock.Now().UnixMilli(), 10)
	for nonce, want := range map[string]paycenter.Code{"old-nonce-0001": paycenter.CodeExpired, "OLD-NONCE-0001": 0, "new-nonce-0001": 0} {
		r := e.do(http.MethodGet, "/api/charges/pay-result", map[string]string{"channel": "WX_NATIVE",
			"outTradeNo": "old0000001", "version": "v2", "timestamp": ts, "nonce": nonce}, testSecret)
		assert.Equal(t, want, r.ErrorCode, "nonce %s: %s", nonce, r.ErrorMsg)
	}
}

// writeLegacyRows writes, as release 1f555fd did, a paid charge with a
// succeeded refund and its webhook delivery, a used nonce and the
// channel's notification.
func writeLegacyRows(t testing.TB, db *gorm.DB, now time.Time) {
	t.Helper()
	paidAt := now.Add(-time.Hour)
	charge := legacyschema.Charge{AppID: testAppID, OutTradeNo: "old0000001", Channel: "WX_NATIVE", TotalFee: 1000,
		FeeType: "CNY", ClientIP: "127.0.0.1", Subject: "超级大礼包", Body: "a gift box", Attach: "order=7",
		ReturnURL: "http://shop.example.com/return", CreatedMs: paidAt.UnixMilli() - 60000, TimeExpire: 7200,
		ExpireAt: paidAt.Add(time.Hour), Status: "PAID", ChannelParams: `{"codeUrl":"weixin://wxpay/bizpayurl?pr=old"}`,
		TransactionID: "4200000000000001", PaidAt: &paidAt, RefundReserved: 100, RefundedFee: 100,
		CreatedAt: paidAt, UpdatedAt: paidAt}
	require.NoError(t, db.Table("pay_charges").Create(&charge).Error)
	refundedAt := paidAt.Add(10 * time.Minute)
	require.NoError(t, db.Table("pay_refunds").Create(&legacyschema.Refund{AppID: testAppID, OutRefundNo: "oldrefund1",
		ChargeID: charge.ID, OutTradeNo: "old0000001", RefundFee: 100, RefundDesc: "broken box", Status: "SUCCESS",
		Submitted: true, RefundedAt: &refundedAt, CreatedAt: paidAt, UpdatedAt: refundedAt}).Error)
	require.NoError(t, db.Table("pay_nonces").Create(&legacyschema.Nonce{AppID: testAppID, Nonce: "old-nonce-0001",
		ExpiresAt: now.Add(10 * time.Minute)}).Error)
	require.NoError(t, db.Table("pay_notifications").Create(&legacyschema.Notification{AppID: testAppID, Provider: "wechat",
		Path: "/callbacks/11/wechat", OutTradeNo: "old0000001", Headers: `{"Wechatpay-Serial":["PUB_KEY_ID_1"]}`,
		Body: `{"id":"EV-1"}`, Accepted: true, CreatedAt: paidAt}).Error)
	require.NoError(t, db.Table("pay_deliveries").Create(&legacyschema.Delivery{EventID: "evt_old_1", AppID: testAppID,
		Type: "charge.succeeded", Target: "webhook", ChargeID: charge.ID, URL: "http://shop.example.com/webhook",
		Body: `{"id":"evt_old_1"}`, Status: "DELIVERED", NextAttemptAt: paidAt, Attempts: 1, LastStatus: 200,
		LastAttemptAt: &paidAt, DeliveredAt: &paidAt, CreatedAt: paidAt, UpdatedAt: paidAt}).Error)
}
