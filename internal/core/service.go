// Package core is the pay center's engine. A payment walks it forward,
// one file per step:
//
//	auth.go         the request's signature (handlers call Authenticate)
//	params.go       the parameters' rules
//	charge.go       create, pay-result and close: the charge's flows,
//	                calling the channel under a lease
//	refund.go       refund and refund-result: submitRefund, queryRefund
//	notify.go       the channels' notifications, matched to their charge
//	transitions.go  every change of a charge's or refund's status: the
//	                table of allowed moves, what each writes and emits
//	delivery        (package internal/delivery) the outbox: webhooks and
//	                after-commit hooks, after the commit
//	workers.go      expiry, active queries, refund sync: the scheduler
//
// Beside them: service.go (the Service and its apps and channel
// accounts), results.go (answers), errors.go (the answers' errors),
// devhints.go (hints for a developer's first requests), discrepancy.go
// (what a channel said that the pay center did not apply), books.go (the
// core as the reconciliation of daily bills sees it), sandbox.go (the
// sandbox cashier).
// Storage primitives — transactions, group commit, leases — are package
// internal/store.
package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/delivery"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Options configure a Service. The root package fills every field.
type Options struct {
	DB             *gorm.DB
	ReadDB         *gorm.DB // reads off the writer (SQLite WAL readers); nil: DB
	Tables         models.Tables
	Apps           []paytype.App
	Channels       []channels.Channel // config-level
	Sandbox        channels.Channel   // nil when sandbox mode is off
	Hooks          *hooks.Registry
	BasePath       string
	PublicURL      string
	Logger         *slog.Logger
	Now            func() time.Time
	ChannelTimeout time.Duration
	QueryTimeout   time.Duration
	Webhook        delivery.WebhookOptions
	Workers        WorkerOptions
	// RefundLatePayments refunds a late payment in full, automatically
	// (LatePayment "refund").
	RefundLatePayments bool
	// Telemetry records metrics and spans (the root package makes it).
	Telemetry *telemetry.Telemetry
}

// WorkerOptions configure the background workers.
type WorkerOptions struct {
	PollInterval time.Duration // how often due work is looked for, at most
	BatchSize    int           // rows claimed per look
	Concurrency  int           // deliveries in flight per process
}

// Service is the pay center engine.
type Service struct {
	db         *store.DB
	t          models.Tables
	apps       map[string]*appEntry
	byKey      map[string]*appEntry
	sandbox    channels.Channel
	hooks      *hooks.Registry
	outbox     *delivery.Outbox
	base       string                 // Config.BasePath
	prefix     atomic.Pointer[string] // the router group's path + base, set by Mount
	public     string
	log        *slog.Logger
	now        func() time.Time
	timeout    time.Duration
	qtimeout   time.Duration
	nonces     nonceJanitor
	workers    WorkerOptions
	refundLate bool
	sched      scheduler
	tel        *telemetry.Telemetry
}

// appEntry is an app with the channel serving each of its codes.
type appEntry struct {
	paytype.App
	byCode     map[channels.Code]channels.Channel
	byProvider map[string]channels.Channel
}

// account names the number space of app appID's orders on ch: the
// channel's own account at its provider (apps on one account share it), or
// one of the app's own when the channel has none (the sandbox).
func account(appID string, ch channels.Channel) string {
	if a := ch.Account(); a != "" {
		return ch.Provider() + ":" + a
	}
	return ch.Provider() + "@" + appID
}

var appIDRE = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)

// New builds a Service. It validates the apps and their channels.
func New(o Options) (*Service, error) {
	s := &Service{
		db: store.Open(o.DB, o.ReadDB), t: o.Tables, sandbox: o.Sandbox, hooks: o.Hooks,
		base: strings.TrimRight(o.BasePath, "/"), public: strings.TrimRight(o.PublicURL, "/"),
		log: o.Logger, now: o.Now, timeout: o.ChannelTimeout, qtimeout: o.QueryTimeout,
		apps: map[string]*appEntry{}, byKey: map[string]*appEntry{},
		workers: o.Workers, refundLate: o.RefundLatePayments, tel: o.Telemetry,
	}
	if len(o.Apps) == 0 {
		return nil, fmt.Errorf("no apps configured")
	}
	for i, a := range o.Apps {
		if err := s.addApp(i, a, o.Channels); err != nil {
			return nil, err
		}
	}
	s.outbox = delivery.New(delivery.Config{
		DB: s.db, Tables: s.t, Hooks: s.hooks, Webhook: o.Webhook, Now: s.now, Logger: s.logger, RunHook: s.runHook,
		Concurrency: o.Workers.Concurrency, BatchSize: o.Workers.BatchSize, Telemetry: s.tel,
		App: func(id string) (string, string, bool) {
			e := s.apps[id]
			if e == nil {
				return "", "", false
			}
			return e.Key, e.Secret, true
		},
	})
	s.sched.init()
	err := s.tel.ObserveOutbox(func(ctx context.Context) (int64, int64, time.Time, error) {
		st, err := s.outbox.Stats(ctx)
		return st.Pending, st.Dead, st.OldestDue, err
	}, s.now)
	return s, err
}

// addApp checks app a (Apps[i]) and records which channel serves each of
// its codes: its own channels first, then the config-level ones, then the
// sandbox for whatever is left.
func (s *Service) addApp(i int, a paytype.App, shared []channels.Channel) error {
	var problem string
	switch {
	case !appIDRE.MatchString(a.ID):
		return fmt.Errorf("Apps[%d].ID %q must be 1 to 32 letters or digits", i, a.ID)
	case a.Key == "" || a.Secret == "":
		problem = "Key and Secret are required"
	case a.MinSignVersion < 0 || a.MinSignVersion > 2:
		problem = "MinSignVersion must be 1 or 2"
	case s.apps[a.ID] != nil:
		problem = fmt.Sprintf("duplicate ID %q", a.ID)
	case s.byKey[a.Key] != nil:
		problem = "Key is used by another app"
	case a.NotifyURL != "" && !absoluteHTTP(a.NotifyURL):
		problem = "NotifyURL must be an absolute http(s) URL"
	}
	if problem != "" {
		//lint:ignore ST1005 the message starts with the Config field it is about, as the root's config errors do
		return fmt.Errorf("Apps[%d] (%s): %s", i, a.ID, problem)
	}
	e := &appEntry{App: a, byCode: map[channels.Code]channels.Channel{}, byProvider: map[string]channels.Channel{}}
	for _, list := range [][]channels.Channel{a.Channels, shared, {s.sandbox}} {
		for _, ch := range list {
			if ch == nil {
				continue
			}
			for _, code := range channels.Codes {
				if e.byCode[code] == nil && ch.Supports(code) {
					e.byCode[code] = ch
					if e.byProvider[ch.Provider()] == nil {
						e.byProvider[ch.Provider()] = ch
					}
				}
			}
		}
	}
	s.apps[a.ID] = e
	s.byKey[a.Key] = e
	return nil
}

// absoluteHTTP reports whether raw is an absolute http(s) URL.
func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (s *Service) app(id string) (*appEntry, error) {
	e, ok := s.apps[id]
	if !ok {
		return nil, newErr(paytype.CodeInvalidKey, "unknown app %q", id)
	}
	return e, nil
}

// Close releases what New started (the SQLite group committer). Stop the
// workers first.
func (s *Service) Close() { s.db.Close() }

// Store returns the core's database handle, for the parts of the pay
// center that write beside it (the reconciliation of bills).
func (s *Service) Store() *store.DB { return s.db }

// SetMountPath records the path of the router group the routes are mounted
// on: every URL the pay center hands out (notify URLs, the sandbox cashier)
// is PublicURL + that path + BasePath + the route.
func (s *Service) SetMountPath(group string) {
	p := strings.TrimRight(group, "/") + s.base
	s.prefix.Store(&p)
}

// Path is the path of a route as the router serves it: the mount path (the
// router group's, then BasePath) + route.
func (s *Service) Path(route string) string {
	if p := s.prefix.Load(); p != nil {
		return *p + route
	}
	return s.base + route
}

// URL is the absolute URL of a route (relative to the host when PublicURL
// is not set).
func (s *Service) URL(route string) string { return s.public + s.Path(route) }

// callbackURL is where a channel posts notifications for app.
func (s *Service) callbackURL(appID string, ch channels.Channel) string {
	return s.URL("/callbacks/" + appID + "/" + ch.Provider())
}

// logger returns the request's logger (carrying requestId) or the default.
func (s *Service) logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return s.log
}

type loggerKey struct{}

// WithLogger returns ctx carrying l, used for every log line of a request.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the logger WithLogger put in ctx, or nil.
func LoggerFrom(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	return l
}

// Logger returns the pay center's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Telemetry returns the pay center's metrics and tracer.
func (s *Service) Telemetry() *telemetry.Telemetry { return s.tel }

func (s *Service) utcNow() time.Time { return s.now().UTC() }

// runHook runs host hooks through f. A hook that panicked comes back as a
// *hooks.PanicError (the transition rolls back, the process goes on); its
// stack is logged here, once.
func (s *Service) runHook(ctx context.Context, f func() error) error {
	err := f()
	var pe *hooks.PanicError
	if errors.As(err, &pe) {
		s.logger(ctx).ErrorContext(ctx, "paycenter: a hook panicked; the change is rolled back", "hook", pe.Hook,
			"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
	return err
}

func (s *Service) charges(db *gorm.DB) *gorm.DB { return db.Table(s.t.Charges) }
func (s *Service) refunds(db *gorm.DB) *gorm.DB { return db.Table(s.t.Refunds) }

// txn is a write transaction of the pay center: the deliveries its state
// changes wrote leased to this process go out once it commits. host marks
// a host's transaction (the ...Tx methods): its commit is the host's, so
// its deliveries are left to the workers.
type txn struct {
	*gorm.DB
	host    bool
	pending delivery.Pending
	// wake: the transaction made work due now for the workers (a refund
	// to send); they are woken once it has committed.
	wake bool
	// moves: the moves it made, counted in the metrics once it has
	// committed (a transaction run again does not count twice).
	moves []telemetry.Move
}

// write runs fn in a write transaction of the pay center's own and, once it
// has committed, dispatches the deliveries it wrote (and wakes the workers
// if it made work due for them). fn may run more than once (a transient
// conflict).
func (s *Service) write(ctx context.Context, fn func(t *txn) error) error {
	var last *txn // the run that committed
	return s.db.Write(ctx, func(tx *gorm.DB) error {
		last = &txn{DB: tx}
		return fn(last)
	}, func() {
		s.outbox.Dispatch(last.pending)
		if last.wake {
			s.sched.wake()
		}
		s.tel.Committed(ctx, last.moves)
	})
}

// inHost runs fn inside the host's transaction tx, in a savepoint (GORM's
// nested transaction) so that a failure leaves the host's own work in tx
// untouched. Its moves are counted once the savepoint is released: the
// host's commit is not the pay center's to see.
func (s *Service) inHost(ctx context.Context, tx *gorm.DB, fn func(t *txn) error) error {
	var moves []telemetry.Move
	err := tx.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		t := &txn{DB: tx, host: true}
		err := fn(t)
		moves = t.moves
		return err
	})
	if err == nil {
		s.tel.Committed(ctx, moves)
	}
	return err
}

// emit writes the outbox rows of ev in t (see delivery.Outbox.Write); the
// span of ctx (the move's) is the parent of the attempts' spans.
func (s *Service) emit(ctx context.Context, t *txn, appID string, ev delivery.Event) error {
	ev.Span = trace.SpanContextFromContext(ctx)
	p, err := s.outbox.Write(t.DB, appID, s.notifyURL(appID), ev, !t.host)
	t.pending = append(t.pending, p...)
	return err
}

// notifyURL is where app appID's webhooks go ("" for none).
func (s *Service) notifyURL(appID string) string {
	if e := s.apps[appID]; e != nil {
		return e.NotifyURL
	}
	return ""
}
