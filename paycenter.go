package paycenter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"sync"

	"github.com/gin-gonic/gin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/sandbox"
	"github.com/gopaycenter/paycenter/handlers"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/core"
	"github.com/gopaycenter/paycenter/internal/delivery"
	"github.com/gopaycenter/paycenter/internal/reconcile"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// The types of the API, defined (with their fields' rules) in package
// paytype and re-exported here for the quick start.
type (
	// App is a merchant application; see [paytype.App].
	App = paytype.App
	// Error is the error of every operation; see [paytype.Error].
	Error = paytype.Error
	// Code is an errorCode; see [paytype.Code].
	Code = paytype.Code
	// CreateChargeParams are the parameters of a create.
	CreateChargeParams = paytype.CreateChargeParams
	// ChargeResult is the answer to a create.
	ChargeResult = paytype.ChargeResult
	// PayResult is the answer of pay-result.
	PayResult = paytype.PayResult
	// RefundParams are the parameters of a refund.
	RefundParams = paytype.RefundParams
	// RefundResult is the answer to a refund or a refund result query.
	RefundResult = paytype.RefundResult
	// CloseResult is the answer to a close.
	CloseResult = paytype.CloseResult
	// DeliveryFilter selects outbox entries for Deliveries.
	DeliveryFilter = paytype.DeliveryFilter
	// DiscrepancyFilter selects discrepancies for Discrepancies.
	DiscrepancyFilter = paytype.DiscrepancyFilter
	// ReconcileReport is the report of a daily bill reconciliation.
	ReconcileReport = paytype.ReconcileReport
	// Health is what Health found.
	Health = paytype.Health
	// WorkerState says whether the workers run in this process.
	WorkerState = paytype.WorkerState
)

// The worker states of Health, as in package paytype.
const (
	WorkersRunning  = paytype.WorkersRunning
	WorkersStopped  = paytype.WorkersStopped
	WorkersDisabled = paytype.WorkersDisabled
)

// The error codes, as in package paytype: errors.Is(err, paycenter.CodeExists).
const (
	CodeInternal     = paytype.CodeInternal     // 10001 internal error
	CodeMethod       = paytype.CodeMethod       // 10002 wrong request method
	CodeInvalidKey   = paytype.CodeInvalidKey   // 10003 invalid app key
	CodeBadSign      = paytype.CodeBadSign      // 10004 signature check failed
	CodeExpired      = paytype.CodeExpired      // 10005 request expired or nonce replayed
	CodeMissing      = paytype.CodeMissing      // 10006 required parameter missing
	CodeInvalid      = paytype.CodeInvalid      // 10007 invalid parameter
	CodeNotFound     = paytype.CodeNotFound     // 10008 resource does not exist
	CodeOverLimit    = paytype.CodeOverLimit    // 10009 refund over the refundable balance
	CodeNoChannel    = paytype.CodeNoChannel    // 20001 channel not configured for the app
	CodeExists       = paytype.CodeExists       // 20003 order exists with other parameters, or is paid/closed
	CodeInProgress   = paytype.CodeInProgress   // 20004 same outTradeNo/outRefundNo being processed; retry
	CodeNotPaid      = paytype.CodeNotPaid      // 20005 the order is not paid
	CodeClosed       = paytype.CodeClosed       // 20006 the order expired unpaid
	CodeWechatOrder  = paytype.CodeWechatOrder  // 30001 WeChat Pay order failed
	CodeWechatQuery  = paytype.CodeWechatQuery  // 30002 WeChat Pay query or close failed
	CodeWechatRefund = paytype.CodeWechatRefund // 30003 WeChat Pay refund failed
	CodeAlipayOrder  = paytype.CodeAlipayOrder  // 30101 Alipay order failed
	CodeAlipayQuery  = paytype.CodeAlipayQuery  // 30102 Alipay query or close failed
	CodeAlipayRefund = paytype.CodeAlipayRefund // 30103 Alipay refund failed
)

var tablePrefixRE = regexp.MustCompile(`^[A-Za-z0-9_]{0,32}$`)

// PayCenter is a mounted-or-mountable pay center. Create it with New.
type PayCenter struct {
	cfg     Config
	db      *gorm.DB
	ownDB   bool
	tables  models.Tables
	svc     *core.Service
	bills   *reconcile.Reconciler
	sandbox *sandbox.Channel
	apps    []App
	tel     *telemetry.Telemetry
	once    sync.Once
	ownRead *gorm.DB // the reader pool New opened for its own SQLite file

	mu        sync.Mutex
	started   bool
	stopBills func(context.Context) // stops the reconciliation worker Start started
}

// New validates cfg, opens the default database when cfg.DB is nil,
// migrates the tables (unless cfg.SkipMigrate) and returns the pay center.
// It starts nothing and makes no network call.
func New(cfg Config) (_ *PayCenter, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("paycenter: invalid config: %w", err)
	}
	pc := &PayCenter{cfg: cfg, db: cfg.DB, tables: models.NewTables(cfg.TablePrefix), apps: cfg.Apps}

	sandboxOn := cfg.Sandbox == SandboxOn || (cfg.Sandbox == SandboxAuto && !cfg.realChannels())
	if cfg.Sandbox == SandboxOn && cfg.realChannels() {
		cfg.Logger.WarnContext(context.Background(), "paycenter: sandbox mode is on beside real channels: the codes they do not serve are simulated, "+
			"and anyone can mark those charges paid through /sandbox/pay; use this only in development")
	}
	if len(pc.apps) == 0 && !sandboxOn {
		return nil, errors.New("paycenter: invalid config: Apps is empty (a development app is generated only in sandbox mode)")
	}
	reg, err := hooks.NewRegistry(cfg.Hooks)
	if err != nil {
		return nil, fmt.Errorf("paycenter: invalid config: %w", err)
	}

	if err := pc.openDefaultDB(&cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			pc.closeDB()
		}
	}()
	var sb channels.Channel
	if sandboxOn {
		pc.sandbox = sandbox.New(sandbox.Config{RefundDelay: cfg.SandboxRefundDelay, Now: cfg.Now,
			CashierURL: func(appID, outTradeNo string) string {
				return pc.svc.URL("/sandbox/cashier/" + url.PathEscape(appID) + "/" + url.PathEscape(outTradeNo))
			}})
		sb = pc.sandbox
	}
	if !cfg.SkipMigrate {
		if err := pc.Migrate(context.Background()); err != nil {
			return nil, err
		}
	}
	// The development app is kept in the pay center's own tables, so its
	// key and secret survive restarts.
	if len(pc.apps) == 0 {
		if err := pc.loadDevApp(context.Background()); err != nil {
			return nil, err
		}
	}
	if err := pc.build(cfg, reg, sb); err != nil {
		return nil, err
	}
	return pc, nil
}

// openDefaultDB opens the default SQLite file, and its reader pool, when
// cfg has no DB.
func (pc *PayCenter) openDefaultDB(cfg *Config) error {
	if pc.db != nil {
		return nil
	}
	db, err := OpenSQLite("paycenter.db")
	if err != nil {
		return err
	}
	pc.db, pc.ownDB = db, true
	if pc.ownRead, err = OpenSQLiteReader("paycenter.db"); err != nil {
		pc.closeDB()
		return err
	}
	cfg.ReadDB = pc.ownRead
	return nil
}

// build makes the parts that run: the telemetry, the core and the
// reconciliation of bills.
func (pc *PayCenter) build(cfg Config, reg *hooks.Registry, sb channels.Channel) error {
	var err error
	if pc.tel, err = telemetry.New(cfg.MeterProvider, cfg.TracerProvider, cfg.providers(sb)); err != nil {
		return fmt.Errorf("paycenter: metrics: %w", err)
	}
	pc.svc, err = core.New(core.Options{
		DB: pc.db, ReadDB: cfg.ReadDB, Tables: pc.tables, Apps: pc.apps, Channels: cfg.Channels, Sandbox: sb, Hooks: reg,
		BasePath: cfg.BasePath, PublicURL: cfg.PublicURL, Logger: cfg.Logger, Now: cfg.Now,
		ChannelTimeout: cfg.ChannelTimeout, QueryTimeout: cfg.QueryTimeout,
		Webhook: delivery.WebhookOptions{Schedule: cfg.Webhook.Schedule, Timeout: cfg.Webhook.Timeout,
			AllowPrivateNetworks: cfg.Webhook.AllowPrivateNetworks},
		Workers: core.WorkerOptions{PollInterval: cfg.Workers.PollInterval, BatchSize: cfg.Workers.BatchSize,
			Concurrency: cfg.Workers.Concurrency},
		RefundLatePayments: cfg.LatePayment == LatePaymentRefund, Telemetry: pc.tel,
	})
	if err != nil {
		pc.tel.Close()
		return fmt.Errorf("paycenter: invalid config: %w", err)
	}
	pc.bills = reconcile.New(reconcile.Options{DB: pc.svc.Store(), Tables: pc.tables, Books: pc.svc.Books(), Logger: cfg.Logger, Telemetry: pc.tel,
		Now: cfg.Now, At: cfg.Reconcile.At, RetryInterval: cfg.Reconcile.RetryInterval, PollInterval: cfg.Reconcile.PollInterval})
	return nil
}

// Mount is New followed by (*PayCenter).Mount: the one-line set-up.
func Mount(r gin.IRouter, cfg Config) (*PayCenter, error) {
	pc, err := New(cfg)
	if err != nil {
		return nil, err
	}
	pc.Mount(r)
	return pc, nil
}

// Mount registers the routes on r, a *gin.Engine or a *gin.RouterGroup:
//
//	POST     {BasePath}/api/charges
//	GET|POST {BasePath}/api/charges/pay-result
//	POST     {BasePath}/api/charges/close
//	POST     {BasePath}/api/refunds
//	GET|POST {BasePath}/api/refunds/result
//	POST     {BasePath}/callbacks/{appId}/{provider}/...
//	GET      {BasePath}/sandbox/cashier/{appId}/{outTradeNo}   (sandbox mode)
//	POST     {BasePath}/sandbox/pay                            (sandbox mode)
//
// On a *gin.RouterGroup the routes live under the group's path, and so does
// every URL the pay center hands out: the channels' notify URLs and the
// sandbox cashier are PublicURL + group path + BasePath + route. Mount a
// pay center once.
//
// Unless Config.Workers.Disabled, Mount also starts the background workers
// (Start with context.Background()); Close stops them. Hosts on other
// routers use Handler.
func (pc *PayCenter) Mount(r gin.IRouter) {
	if g, ok := r.(interface{ BasePath() string }); ok {
		pc.svc.SetMountPath(g.BasePath())
	}
	handlers.Register(r, pc.svc, handlers.Options{BasePath: pc.cfg.BasePath, Sandbox: pc.sandbox != nil})
	if !pc.cfg.Workers.Disabled {
		pc.Start(context.Background())
	}
}

// Start starts the background workers of this process under ctx (Mount
// does it unless Config.Workers.Disabled): delivery of webhooks and
// after-commit hooks (the events of this process's own commits go out at
// once), expiry of unpaid charges, active queries of charges whose
// notification has not come, the sync of pending refunds and (unless
// Config.Reconcile.Disabled) the daily bill reconciliation. Any number of
// processes may run them on one database. Calling it again is a no-op.
func (pc *PayCenter) Start(ctx context.Context) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if !pc.started {
		pc.started = true
		pc.svc.Start(ctx)
		if !pc.cfg.Reconcile.Disabled {
			pc.stopBills = pc.bills.Start(ctx)
		}
	}
}

// Stop stops the background workers gracefully: no new work starts;
// deliveries in flight finish, until ctx ends — then they are cut off and
// their leases released at once, as are those of deliveries queued but not
// started, so that another instance takes them over without waiting.
// Nothing of the workers runs after Stop returns. Start may be called
// again.
func (pc *PayCenter) Stop(ctx context.Context) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.started {
		pc.started = false
		if pc.stopBills != nil {
			pc.stopBills(ctx)
			pc.stopBills = nil
		}
		pc.svc.Stop(ctx)
	}
}

// StartWorkers is Start(context.Background()).
func (pc *PayCenter) StartWorkers() { pc.Start(context.Background()) }

// Health checks the database (a ping) and reads the outbox's backlog (the
// age of the oldest due delivery, the pending and dead counts: two indexed
// queries), and says whether the workers run in this process. For a
// readiness probe (Health.Healthy) and alerts on the backlog; the example
// serves it at GET /healthz.
func (pc *PayCenter) Health(ctx context.Context) Health {
	h := pc.svc.Health(ctx)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch {
	case pc.started:
		h.Workers = WorkersRunning
	case pc.cfg.Workers.Disabled:
		h.Workers = WorkersDisabled
	default:
		h.Workers = WorkersStopped
	}
	return h
}

// RunDue runs every worker once over the work that is due now, in the
// calling goroutine, and returns how many items it handled. It is for tests
// (with Config.Now) and for hosts that prefer a cron to Start.
func (pc *PayCenter) RunDue(ctx context.Context) int { return pc.svc.RunDue(ctx) }

// Deliveries lists outbox entries (webhooks and after-commit hook runs),
// newest first.
func (pc *PayCenter) Deliveries(ctx context.Context, f DeliveryFilter) ([]models.Delivery, error) {
	return pc.svc.Deliveries(ctx, f)
}

// Redeliver makes an outbox entry due now, whatever its state: a dead or
// delivered webhook is sent again with the same event id.
func (pc *PayCenter) Redeliver(ctx context.Context, id int64) error { return pc.svc.Redeliver(ctx, id) }

// Discrepancies lists what the channels reported that the pay center did
// not apply because it does not match its records (another amount,
// account or marker, a number no charge has, a refund reported otherwise),
// newest first. Each is also logged when first seen.
func (pc *PayCenter) Discrepancies(ctx context.Context, f DiscrepancyFilter) ([]models.Discrepancy, error) {
	return pc.svc.Discrepancies(ctx, f)
}

// ResolveDiscrepancy marks a discrepancy resolved, with a note saying what
// a person did about it.
func (pc *PayCenter) ResolveDiscrepancy(ctx context.Context, id int64, note string) error {
	return pc.svc.ResolveDiscrepancy(ctx, id, note)
}

// Reconcile reconciles now the daily bill of day (a Beijing calendar day)
// of every channel account of provider ("alipay" or "wechat") with the pay
// center's records and returns a report per account; see the README's
// "Reconciliation". It runs beside the worker and other instances (one
// process at a time per account and day). A day the channel has no bill for
// yet is a NOT_READY report and an error wrapping channels.ErrBillNotReady;
// a bill refused (bad hash, truncated archive, rows that disagree with its
// summary) a FAILED report and an error wrapping channels.ErrBillInvalid,
// nothing applied.
func (pc *PayCenter) Reconcile(ctx context.Context, provider string, day channels.Day) ([]*ReconcileReport, error) {
	return pc.bills.Run(ctx, provider, day)
}

// ReconcileReport returns reconciliation report id with what its bill
// applied and the discrepancies it found.
func (pc *PayCenter) ReconcileReport(ctx context.Context, id int64) (*ReconcileReport, error) {
	return pc.bills.Report(ctx, id)
}

// ReconcileDue runs the reconciliation worker once, in the calling
// goroutine: the previous day of every account whose bill is due (see
// ReconcileConfig). It returns how many reconciliations ran. For tests
// (with Config.Now) and cron-style hosts; RunDue does not include it (a
// bill download can take minutes).
func (pc *PayCenter) ReconcileDue(ctx context.Context) int { return pc.bills.RunDue(ctx) }

// Close stops the workers (Stop, waiting for attempts in flight) and
// releases what New opened: the default SQLite database. A host's own
// Config.DB is left open. Close is safe to call more than once.
func (pc *PayCenter) Close() error {
	var err error
	pc.once.Do(func() {
		pc.Stop(context.Background())
		if pc.svc != nil {
			pc.svc.Close()
		}
		if pc.tel != nil {
			pc.tel.Close()
		}
		err = pc.closeDB()
	})
	return err
}

func (pc *PayCenter) closeDB() error {
	var errs []error
	for _, db := range []*gorm.DB{pc.ownRead, pc.db} {
		if db == nil || (db == pc.db && !pc.ownDB) {
			continue
		}
		sqlDB, err := db.DB()
		if err == nil {
			err = sqlDB.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Migrate applies the pending schema migrations to the pay center's
// database (see MigrateDB), logging each one applied. New calls it unless
// Config.SkipMigrate.
func (pc *PayCenter) Migrate(ctx context.Context) error {
	res, err := MigrateDB(ctx, pc.db, pc.cfg.TablePrefix)
	if err != nil {
		return err
	}
	for _, m := range res.Applied {
		pc.cfg.Logger.InfoContext(ctx, "paycenter: applied migration", "version", m.Version, "file", m.File,
			"duration", m.Duration, "tablePrefix", pc.cfg.TablePrefix)
	}
	return nil
}

// DB returns the database the pay center uses.
func (pc *PayCenter) DB() *gorm.DB { return pc.db }

// Tables returns the names of the pay center's tables.
func (pc *PayCenter) Tables() models.Tables { return pc.tables }

// Apps returns the apps, including a generated development app.
func (pc *PayCenter) Apps() []App { return append([]App(nil), pc.apps...) }

// Routes lists the routes Mount registers.
func (pc *PayCenter) Routes() []handlers.Route {
	return handlers.Routes(handlers.Options{BasePath: pc.cfg.BasePath, Sandbox: pc.sandbox != nil})
}

// SandboxEnabled reports whether the sandbox channel runs.
func (pc *PayCenter) SandboxEnabled() bool { return pc.sandbox != nil }

// CreateCharge creates a charge for app appID, as POST /api/charges does.
func (pc *PayCenter) CreateCharge(ctx context.Context, appID string, p CreateChargeParams) (*ChargeResult, error) {
	return pc.svc.CreateCharge(ctx, appID, p)
}

// CreateChargeTx reserves a charge inside the host's transaction tx; see
// the package doc ("Transactions"). The result has no ChannelParams: call
// CreateCharge with the same parameters after tx commits.
func (pc *PayCenter) CreateChargeTx(ctx context.Context, tx *gorm.DB, appID string, p CreateChargeParams) (*ChargeResult, error) {
	return pc.svc.CreateChargeTx(ctx, tx, appID, p)
}

// PayResult answers whether a charge is paid, as /api/charges/pay-result.
func (pc *PayCenter) PayResult(ctx context.Context, appID string, channel channels.Code, outTradeNo string) (*PayResult, error) {
	return pc.svc.PayResult(ctx, appID, channel, outTradeNo)
}

// PayResultTx answers from the state visible in tx, without asking the channel.
func (pc *PayCenter) PayResultTx(ctx context.Context, tx *gorm.DB, appID string, channel channels.Code, outTradeNo string) (*PayResult, error) {
	return pc.svc.PayResultTx(ctx, tx, appID, channel, outTradeNo)
}

// Refund refunds part or all of a paid charge, as POST /api/refunds.
func (pc *PayCenter) Refund(ctx context.Context, appID string, p RefundParams) (*RefundResult, error) {
	return pc.svc.Refund(ctx, appID, p)
}

// RefundTx reserves a refund inside the host's transaction tx; it stays
// PROCESSING until Refund is called with the same parameters after tx
// commits.
func (pc *PayCenter) RefundTx(ctx context.Context, tx *gorm.DB, appID string, p RefundParams) (*RefundResult, error) {
	return pc.svc.RefundTx(ctx, tx, appID, p)
}

// RefundResult answers a refund's state, as /api/refunds/result.
func (pc *PayCenter) RefundResult(ctx context.Context, appID, outRefundNo string) (*RefundResult, error) {
	return pc.svc.RefundResult(ctx, appID, outRefundNo)
}

// RefundResultTx answers from the state visible in tx, without asking the channel.
func (pc *PayCenter) RefundResultTx(ctx context.Context, tx *gorm.DB, appID, outRefundNo string) (*RefundResult, error) {
	return pc.svc.RefundResultTx(ctx, tx, appID, outRefundNo)
}

// CloseCharge closes an unpaid charge at the channel and locally, as
// POST /api/charges/close.
func (pc *PayCenter) CloseCharge(ctx context.Context, appID string, channel channels.Code, outTradeNo string) (*CloseResult, error) {
	return pc.svc.CloseCharge(ctx, appID, channel, outTradeNo)
}

// CloseChargeTx closes an unpaid charge locally inside the host's
// transaction tx; call CloseCharge after tx commits to close it at the
// channel too.
func (pc *PayCenter) CloseChargeTx(ctx context.Context, tx *gorm.DB, appID string, channel channels.Code, outTradeNo string) (*CloseResult, error) {
	return pc.svc.CloseChargeTx(ctx, tx, appID, channel, outTradeNo)
}

// SandboxPay applies a sandbox cashier outcome ("success", "fail" or
// "close") to a sandbox charge through the notification path, as
// POST /sandbox/pay does.
func (pc *PayCenter) SandboxPay(ctx context.Context, appID, outTradeNo, result string) (*models.Charge, error) {
	if pc.sandbox == nil {
		return nil, errors.New("paycenter: sandbox mode is off")
	}
	return pc.svc.SandboxPay(ctx, appID, outTradeNo, result)
}

// OpenSQLite opens (creating if needed) an SQLite database file the way the
// pay center needs it: WAL journal, synchronous=FULL (an acknowledged
// payment is on disk), a 10 s busy timeout, immediate write transactions,
// and one open connection (SQLite has one writer anyway; this keeps
// writers from failing with "database is locked").
func OpenSQLite(path string) (*gorm.DB, error) {
	return openSQLite(store.SQLiteDSN(path), path, 1)
}

// OpenSQLiteReader opens read-only connections to the SQLite file of
// OpenSQLite, for Config.ReadDB: in WAL mode readers never wait for the
// writer, so pay-result and the workers' scans do not queue behind writes.
func OpenSQLiteReader(path string) (*gorm.DB, error) {
	return openSQLite(store.SQLiteReadDSN(path), path+" for reading", runtime.GOMAXPROCS(0)*2)
}

// openSQLite opens dsn (what names it in errors) with at most conns
// connections.
func openSQLite(dsn, what string, conns int) (*gorm.DB, error) {
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("paycenter: open SQLite %s: %w", what, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(conns)
	return db, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
