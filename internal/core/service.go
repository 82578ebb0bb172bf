// Package core is the pay center's engine: validation, idempotent charge
// and refund state machines, request authentication and notification
// handling, over GORM. The root package wires it; handlers serve it over HTTP.
package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/gopaycenter/paycenter/paytype"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/models"
)

// Options configure a Service. The root package fills every field.
type Options struct {
	DB             *gorm.DB
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
	Webhook        WebhookOptions
	Workers        WorkerOptions
	// RefundLatePayments refunds a payment that arrives for a closed or
	// expired charge in full, automatically (LatePayment "refund").
	RefundLatePayments bool
}

// Service is the pay center engine.
type Service struct {
	db       *gorm.DB
	t        models.Tables
	apps     map[string]*appEntry
	byKey    map[string]*appEntry
	sandbox  channels.Channel
	hooks    *hooks.Registry
	base     string                 // Config.BasePath
	prefix   atomic.Pointer[string] // the router group's path + base, set by Mount
	public   string
	log      *slog.Logger
	now      func() time.Time
	timeout  time.Duration
	qtimeout time.Duration
	nonces   nonceJanitor

	webhook     WebhookOptions
	webhookHTTP *http.Client
	workers     WorkerOptions
	wake        chan struct{}
	refundLate  bool
}

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
		db: o.DB, t: o.Tables, sandbox: o.Sandbox, hooks: o.Hooks,
		base: strings.TrimRight(o.BasePath, "/"), public: strings.TrimRight(o.PublicURL, "/"),
		log: o.Logger, now: o.Now, timeout: o.ChannelTimeout, qtimeout: o.QueryTimeout,
		apps: map[string]*appEntry{}, byKey: map[string]*appEntry{},
		webhook: o.Webhook, webhookHTTP: webhookClient(o.Webhook), workers: o.Workers,
		wake: make(chan struct{}, 1), refundLate: o.RefundLatePayments,
	}
	if len(o.Apps) == 0 {
		return nil, fmt.Errorf("no apps configured")
	}
	for i, a := range o.Apps {
		switch {
		case !appIDRE.MatchString(a.ID):
			return nil, fmt.Errorf("Apps[%d].ID %q must be 1 to 32 letters or digits", i, a.ID)
		case a.Key == "" || a.Secret == "":
			return nil, fmt.Errorf("Apps[%d] (%s): Key and Secret are required", i, a.ID)
		case a.MinSignVersion < 0 || a.MinSignVersion > 2:
			return nil, fmt.Errorf("Apps[%d] (%s): MinSignVersion must be 1 or 2", i, a.ID)
		case s.apps[a.ID] != nil:
			return nil, fmt.Errorf("Apps[%d]: duplicate ID %q", i, a.ID)
		case s.byKey[a.Key] != nil:
			return nil, fmt.Errorf("Apps[%d] (%s): Key is used by another app", i, a.ID)
		}
		if a.NotifyURL != "" {
			if u, err := url.Parse(a.NotifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("Apps[%d] (%s): NotifyURL must be an absolute http(s) URL", i, a.ID)
			}
		}
		e := &appEntry{App: a, byCode: map[channels.Code]channels.Channel{}, byProvider: map[string]channels.Channel{}}
		// Precedence: the app's own channels, then the config-level ones,
		// then the sandbox for whatever is left.
		for _, list := range [][]channels.Channel{a.Channels, o.Channels, {o.Sandbox}} {
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
	}
	return s, nil
}

func (s *Service) app(id string) (*appEntry, error) {
	e, ok := s.apps[id]
	if !ok {
		return nil, newErr(paytype.CodeInvalidKey, "unknown app %q", id)
	}
	return e, nil
}

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

func (s *Service) utcNow() time.Time { return s.now().UTC() }

func token() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) charges(db *gorm.DB) *gorm.DB { return db.Table(s.t.Charges) }
func (s *Service) refunds(db *gorm.DB) *gorm.DB { return db.Table(s.t.Refunds) }

// runHook runs host hooks through f. A hook that panicked comes back as a
// *hooks.PanicError (the transition rolls back, the process goes on); its
// stack is logged here, once.
func (s *Service) runHook(ctx context.Context, f func() error) error {
	err := f()
	var pe *hooks.PanicError
	if errors.As(err, &pe) {
		s.logger(ctx).Error("paycenter: a hook panicked; the change is rolled back", "hook", pe.Hook,
			"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
	return err
}
