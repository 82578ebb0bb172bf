package paycenter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
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
	// busy timeout, immediate write transactions).
	DB *gorm.DB

	// TablePrefix prefixes every table name. Default "pay_".
	TablePrefix string

	// SkipMigrate stops New from creating or updating the tables; call
	// PayCenter.Migrate yourself. Default false.
	SkipMigrate bool

	// Apps are the merchant applications. Default: none, which in sandbox
	// mode makes New generate one development app (ID "dev") with a random
	// key and secret and log them once; with real channels it is an error.
	Apps []App

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

	// Logger receives the pay center's logs. Default slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default time.Now. Tests set it.
	Now func() time.Time

	// ChannelTimeout bounds each create, close and refund call to a
	// channel. Default 10s.
	ChannelTimeout time.Duration

	// QueryTimeout bounds each active query made while answering
	// pay-result or refund-result. Default 3s.
	QueryTimeout time.Duration
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
	c.BasePath = strings.TrimRight(c.BasePath, "/")
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c
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
	if c.Sandbox < SandboxAuto || c.Sandbox > SandboxOff {
		errs = append(errs, fmt.Errorf("Sandbox %d is not a SandboxMode", c.Sandbox))
	}
	if c.ChannelTimeout < 0 || c.QueryTimeout < 0 || c.SandboxRefundDelay < 0 {
		errs = append(errs, errors.New("timeouts and delays must not be negative"))
	}
	if !tablePrefixRE.MatchString(c.TablePrefix) {
		errs = append(errs, fmt.Errorf("TablePrefix %q must be letters, digits and underscores", c.TablePrefix))
	}
	return errors.Join(errs...)
}
