package paycenter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/delivery"
	"github.com/gopaycenter/paycenter/internal/reconcile"
)

// Config configures a PayCenter. Every field is optional; the zero Config
// runs a development pay center (SQLite file paycenter.db, sandbox
// channels, a generated app) so that a demo needs no set-up.
type Config struct {
	// DB is the host's database (SQLite, PostgreSQL 13+, MySQL 8 or
	// MariaDB 10.6+). Default: the SQLite file "paycenter.db" in the
	// working directory, opened with OpenSQLite and closed by Close.
	//
	// A MySQL DSN must carry parseTime=true. An SQLite database of your
	// own should be opened as OpenSQLite does (WAL, synchronous=FULL,
	// busy timeout, immediate write transactions, one connection).
	DB *gorm.DB

	// ReadDB, optional, serves the pay center's reads that need not see a
	// transaction's own writes (pay-result, the workers' scans). For
	// SQLite, give OpenSQLiteReader on the same file: WAL readers then
	// never queue behind the one writer. Default: DB (with the default
	// SQLite file, a reader pool is opened for it).
	ReadDB *gorm.DB

	// TablePrefix prefixes every table name. Default "pay_".
	TablePrefix string

	// SkipMigrate stops New from creating or updating the tables; call
	// PayCenter.Migrate yourself. Default false.
	SkipMigrate bool

	// Apps are the merchant applications. Default: none, which in sandbox
	// mode makes New use a development app (ID "dev", Development set):
	// generated with a random key and secret on the first start, stored in
	// the settings table and read back on later starts; New logs its key
	// and secret. With real channels no apps is an error.
	Apps []App

	// DevNotifyURL is the NotifyURL (webhook target) of the generated
	// development app; it is used only when Apps is empty. The app's key
	// and secret are stored in the pay center's settings table, so they
	// stay the same across restarts; this URL is taken from each start's
	// Config. Default "" (no webhooks).
	DevNotifyURL string

	// Channels are the channel accounts shared by every app, e.g.
	// alipay.New(...) and wechat.New(...). For the codes it serves, an
	// App's own Channels take precedence. Default: none.
	Channels []channels.Channel

	// Sandbox selects sandbox mode. Default SandboxAuto: on when no real
	// channel is configured anywhere, off otherwise — the sandbox is never
	// silently enabled beside real credentials.
	Sandbox SandboxMode

	// SandboxRefundDelay keeps sandbox refunds PROCESSING for this long
	// before they succeed. Default 0 (they succeed at once).
	SandboxRefundDelay time.Duration

	// BasePath prefixes every route, e.g. "/pay". Default "" (routes at
	// the router's root). It is part of the signed path.
	BasePath string

	// PublicURL is the external scheme://host[:port] of the host app,
	// without BasePath. Notify URLs given to channels are PublicURL +
	// BasePath + "/callbacks/...". Required with real channels; without it
	// the sandbox's URLs are relative to the host.
	PublicURL string

	// Hooks run inside the transaction of each state change; see package
	// hooks. Default none.
	Hooks []hooks.Hook

	// Logger receives the pay center's logs. Default slog.Default(). Every
	// record is logged with the context of its request or worker (the
	// ...Context methods), so a handler that reads the context (trace and
	// span ids) sees them; a request's lines also carry its requestId.
	Logger *slog.Logger

	// MeterProvider receives the pay center's metrics (README,
	// "Observability"): instruments of the meter named
	// "github.com/gopaycenter/paycenter", made once in New. Default
	// otel.GetMeterProvider(): nothing is recorded until the host installs a
	// provider with otel.SetMeterProvider (before or after New).
	MeterProvider metric.MeterProvider

	// TracerProvider receives the pay center's spans: API requests (the
	// children of the host's span or of the request's traceparent), channel
	// calls with their HTTP requests, status moves and delivery attempts.
	// Default otel.GetTracerProvider(): no spans until the host installs a
	// provider with otel.SetTracerProvider. Spans carry no order number,
	// secret, signature or body.
	TracerProvider trace.TracerProvider

	// Now is the clock. Default time.Now. Tests set it.
	Now func() time.Time

	// ChannelTimeout bounds each create, close and refund call to a
	// channel. Default 10s.
	ChannelTimeout time.Duration

	// QueryTimeout bounds each active query made while answering
	// pay-result or refund-result, and by the workers. Default 3s.
	QueryTimeout time.Duration

	// Webhook configures the delivery of webhooks to App.NotifyURL.
	Webhook WebhookConfig

	// Workers configures the background workers (webhooks and after-commit
	// hooks, expiry, active queries, refund sync).
	Workers WorkersConfig

	// Reconcile configures the daily reconciliation of the channels' bills
	// (README, "Reconciliation").
	Reconcile ReconcileConfig

	// LatePayment says what to do with a payment that arrives for a closed
	// or expired charge: LatePaymentAccept (default) records it (PAID,
	// LatePaid set, hooks fire); LatePaymentRefund does that too and then
	// refunds it in full automatically (refund number "LATE_" + outTradeNo).
	LatePayment LatePaymentPolicy
}

// LatePaymentPolicy is the policy for payments that arrive late.
type LatePaymentPolicy string

// Late payment policies.
const (
	LatePaymentAccept LatePaymentPolicy = "accept"
	LatePaymentRefund LatePaymentPolicy = "refund"
)

// WebhookConfig configures webhook delivery (SPEC 5).
type WebhookConfig struct {
	// Schedule is the wait before each retry; after the last one the
	// delivery is DEAD (PayCenter.Redeliver sends it again). A random
	// 0–10% is added to each wait. Default 15s, 1m, 5m, 15m, 1h, 2h, 6h,
	// 12h, 24h.
	Schedule []time.Duration
	// Timeout bounds each attempt: a 2xx must arrive within it. Default 10s.
	Timeout time.Duration
	// AllowPrivateNetworks lets webhooks reach loopback, private and
	// link-local addresses. Default false: such addresses are refused when
	// dialled (after DNS), which keeps a merchant's NotifyURL from reaching
	// the host's internal services or a cloud metadata endpoint.
	AllowPrivateNetworks bool
}

// WorkersConfig configures the background workers.
type WorkersConfig struct {
	// Disabled keeps Mount from starting the workers in this process (run
	// them elsewhere with PayCenter.Start). Default false.
	Disabled bool
	// PollInterval is how often each worker looks for due work; committed
	// changes of this process also wake the delivery worker at once.
	// Default 1s.
	PollInterval time.Duration
	// BatchSize is how many rows a worker claims per look. Default 100.
	BatchSize int
	// Concurrency is how many deliveries one process attempts at once.
	// Default 8.
	Concurrency int
}

// ReconcileConfig configures the daily reconciliation of the channels'
// bills: a worker that PayCenter.Start (and so Mount) runs beside the
// others.
type ReconcileConfig struct {
	// Disabled keeps Start from running the reconciliation worker in this
	// process; PayCenter.Reconcile still runs one by hand.
	// Default false.
	Disabled bool
	// At is, per provider ("alipay", "wechat"), the Beijing time of day
	// from which the worker reconciles the previous day, as a duration
	// after midnight (10*time.Hour is 10:00). The channels publish the
	// previous day's bill in the morning (Alipay from 09:00, WeChat Pay
	// from 10:00). Default 10:00 for both.
	At map[string]time.Duration
	// RetryInterval is the wait before the worker asks again for a bill
	// the channel said was not ready yet, or runs a failed day again (until
	// the day is no longer the previous one). Default 30m.
	RetryInterval time.Duration
	// PollInterval is how often the worker looks for a day to reconcile.
	// Default 1m.
	PollInterval time.Duration
}

// SandboxMode selects whether the sandbox channel runs.
type SandboxMode int

// Sandbox modes.
const (
	// SandboxAuto enables the sandbox when no real channel is configured.
	SandboxAuto SandboxMode = iota
	// SandboxOn simulates every channel code no real channel serves.
	SandboxOn
	// SandboxOff never simulates: a code no real channel serves is 20001.
	SandboxOff
)

// withDefaults returns a copy of c with every default filled in.
func (c Config) withDefaults() Config {
	if c.TablePrefix == "" {
		c.TablePrefix = "pay_"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ChannelTimeout == 0 {
		c.ChannelTimeout = 10 * time.Second
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 3 * time.Second
	}
	if c.Webhook.Schedule == nil {
		c.Webhook.Schedule = delivery.DefaultSchedule
	}
	if c.Webhook.Timeout == 0 {
		c.Webhook.Timeout = 10 * time.Second
	}
	if c.Workers.PollInterval == 0 {
		c.Workers.PollInterval = time.Second
	}
	if c.Workers.BatchSize == 0 {
		c.Workers.BatchSize = 100
	}
	if c.Workers.Concurrency == 0 {
		c.Workers.Concurrency = 8
	}
	if c.LatePayment == "" {
		c.LatePayment = LatePaymentAccept
	}
	c.BasePath = strings.TrimRight(c.BasePath, "/")
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c
}

// providers lists the providers of the configured channels and of the
// sandbox sb (when not nil), once each: the metrics' provider attribute.
func (c *Config) providers(sb channels.Channel) []string {
	var out []string
	add := func(ch channels.Channel) {
		if ch != nil && !slices.Contains(out, ch.Provider()) {
			out = append(out, ch.Provider())
		}
	}
	add(sb)
	for _, ch := range c.Channels {
		add(ch)
	}
	for _, a := range c.Apps {
		for _, ch := range a.Channels {
			add(ch)
		}
	}
	return out
}

// realChannels reports whether any real (non-sandbox) channel is
// configured, at the config or app level.
func (c *Config) realChannels() bool {
	if len(c.Channels) > 0 {
		return true
	}
	for _, a := range c.Apps {
		if len(a.Channels) > 0 {
			return true
		}
	}
	return false
}

func (c *Config) validate() error {
	var errs []error
	for i, ch := range c.Channels {
		if ch == nil {
			//lint:ignore ST1005 the message starts with the Config field it is about
			errs = append(errs, fmt.Errorf("Channels[%d] is nil", i))
		}
	}
	if c.BasePath != "" && (!strings.HasPrefix(c.BasePath, "/") || strings.ContainsAny(c.BasePath, "?#:* ")) {
		errs = append(errs, fmt.Errorf("BasePath %q must start with / and be a plain path", c.BasePath))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("PublicURL %q must be scheme://host[:port] with no path", c.PublicURL))
		}
	} else if c.realChannels() {
		errs = append(errs, errors.New("PublicURL is required with real channels: it is where they send their notifications"))
	}
	if c.DevNotifyURL != "" {
		if u, err := url.Parse(c.DevNotifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("DevNotifyURL %q must be an absolute http(s) URL", c.DevNotifyURL))
		}
	}
	if c.Sandbox < SandboxAuto || c.Sandbox > SandboxOff {
		//lint:ignore ST1005 the message starts with the Config field it is about
		errs = append(errs, fmt.Errorf("Sandbox %d is not a SandboxMode", c.Sandbox))
	}
	if c.LatePayment != LatePaymentAccept && c.LatePayment != LatePaymentRefund {
		errs = append(errs, fmt.Errorf("LatePayment %q must be accept or refund", c.LatePayment))
	}
	for _, d := range c.Webhook.Schedule {
		if d < 0 {
			errs = append(errs, errors.New("Webhook.Schedule must not hold negative durations"))
			break
		}
	}
	if c.Workers.PollInterval < 0 || c.Workers.BatchSize < 0 || c.Workers.Concurrency < 0 || c.Webhook.Timeout < 0 {
		//lint:ignore ST1005 the message starts with the Config fields it is about
		errs = append(errs, errors.New("Workers and Webhook settings must not be negative"))
	}
	errs = append(errs, c.Reconcile.validate()...)
	if c.ChannelTimeout < 0 || c.QueryTimeout < 0 || c.SandboxRefundDelay < 0 {
		errs = append(errs, errors.New("timeouts and delays must not be negative"))
	}
	if !tablePrefixRE.MatchString(c.TablePrefix) {
		errs = append(errs, fmt.Errorf("TablePrefix %q must be letters, digits and underscores", c.TablePrefix))
	}
	return errors.Join(errs...)
}

func (c *ReconcileConfig) validate() []error {
	var errs []error
	for p, at := range c.At {
		if err := reconcile.CheckProvider(p); err != nil {
			errs = append(errs, fmt.Errorf("Reconcile.At: provider %q must be alipay or wechat", p))
		} else if at < 0 || at >= 24*time.Hour {
			errs = append(errs, fmt.Errorf("Reconcile.At[%q] %s must be a time of day: 0 or more, under 24h", p, at))
		}
	}
	if c.RetryInterval < 0 || c.PollInterval < 0 {
		errs = append(errs, errors.New("Reconcile.RetryInterval and Reconcile.PollInterval must not be negative"))
	}
	return errs
}
