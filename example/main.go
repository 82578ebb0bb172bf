// Command example runs the pay center on its own Gin engine, with a demo
// shop beside it.
//
//	go run ./example                  # demo: SQLite file, sandbox channels, the development app
//	go run ./example -config FILE     # the YAML configuration of the README
//	go run ./example sign POST /api/charges name=value ...   # the sign of a request
//	go run ./example migrate -config FILE  # apply the schema migrations and exit (see migrate.go)
//	go run ./example -config FILE reconcile -provider alipay -date 2026-11-29  # a daily bill, now (see reconcile.go)
//
// It opens the database, builds and migrates the pay center, and only then
// binds its port. It prints the URL to open, the key and secret of the
// development app (an app from -config is named, never its secret), and
// the routes mounted. The shop (under /shop, see shop.go) sells through
// the first app: it creates charges and refunds with package client over
// HTTP, keeps its orders in table shop_orders of the pay center's database
// and marks them paid, closed and refunded from hooks, in the pay center's
// transaction. Its admin page lists the pay center's charges, refunds and
// deliveries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels/alipay"
	"github.com/gopaycenter/paycenter/channels/wechat"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dispatch(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "example:", err)
		}
		os.Exit(1)
	}
}

// subcommand is one word after `go run ./example`.
type subcommand struct {
	run  func(ctx context.Context, args []string, stdout io.Writer) error
	what string
}

// subcommands: `go run ./example [flags]` serves; `go run ./example NAME
// ...` runs NAME. Each lives in its own file.
var subcommands = map[string]subcommand{
	"sign":      {runSign, "sign a pay center request: prints the sign, or with -curl a ready curl command"},
	"migrate":   {migrateCmd, "apply the schema migrations to the configured database and exit"},
	"reconcile": {reconcileCmd, "reconcile a channel's daily bill now and print the report as JSON (see reconcile.go)"},
}

// dispatch runs the subcommand named by args[0], or serves.
func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	args = subcommandFirst(args)
	if len(args) > 0 {
		if c, ok := subcommands[args[0]]; ok {
			return c.run(ctx, args[1:], stdout)
		}
	}
	return run(ctx, args, stdout, runHooks{})
}

// runHooks let tests watch run; both may be nil.
type runHooks struct {
	// beforeListen runs once the database is open and migrated and the
	// routes are registered, just before the port is bound.
	beforeListen func(addr string)
	// ready receives the listening address once the server accepts
	// connections.
	ready chan<- string
}

// run serves until ctx ends. It binds its port only when everything behind
// it is ready (database open and migrated, routes registered), so that a
// request or a load balancer's probe arriving during start-up finds either
// no server or a whole one.
func run(ctx context.Context, args []string, stdout io.Writer, hooks runHooks) error {
	fc, err := serveFlags(args, stdout)
	if err != nil {
		return err
	}
	listenAddr, err := resolveAddr(fc)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, closeDB, err := payConfig(fc, log)
	if err != nil {
		return err
	}
	defer closeDB()
	meters, metrics, err := newMetrics()
	if err != nil {
		return err
	}
	defer meters.Shutdown(context.WithoutCancel(ctx))
	cfg.MeterProvider = meters

	generated := len(cfg.Apps) == 0
	if generated && len(cfg.Channels) == 0 {
		// The demo's app is the pay center's development app (stored with
		// its data, so its key and secret survive restarts), with webhooks
		// to the shop, so the admin page shows them too.
		cfg.DevNotifyURL = fc.PublicURL + shopPrefix + "/webhook"
	}

	// The demo shop's hooks write its orders in the pay center's transaction.
	shop := newShop(log, fc.PublicURL)
	cfg.Hooks = append(cfg.Hooks, shop.hooks()...)

	// The workers start once the port is bound: their first webhooks go to
	// the shop, on this very server.
	cfg.Workers.Disabled = true
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	pc, err := paycenter.Mount(r, cfg) // migrates
	if err != nil {
		return err
	}
	defer pc.Close()
	token, tokenFromEnv := adminToken()
	if err := mountDemo(ctx, r, pc, shop, fc, listenAddr, token, metrics); err != nil {
		return err
	}

	if hooks.beforeListen != nil {
		hooks.beforeListen(listenAddr)
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("addr %s: %w (is another program listening there? choose another addr in the -config file)", listenAddr, err)
	}
	defer ln.Close()
	pc.Start(context.Background()) // stopped below, after the server
	printBanner(stdout, fc, listenAddr, pc, generated)
	printAdmin(stdout, fc, token, tokenFromEnv, generated)
	err = serve(ctx, r, ln, hooks.ready)
	// The server has shut down (no request writes events any more): let
	// deliveries in flight finish, then cut them off for another instance.
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc.Stop(stopCtx)
	return err
}

// mountDemo mounts beside the pay center the demo shop, the operator API
// (behind token; the shop's admin page uses it), the OpenAPI document,
// /metrics and /healthz.
func mountDemo(ctx context.Context, r *gin.Engine, pc *paycenter.PayCenter, shop *shop, fc *fileConfig, listenAddr, token string,
	metrics http.Handler) error {
	// The shop calls the pay center over HTTP, on the address it listens on.
	if err := shop.attach(ctx, pc, "http://"+dialAddr(listenAddr)+fc.BasePath); err != nil {
		return err
	}
	mountAdmin(r, pc, token)
	shop.ops = &adminClient{base: "http://" + dialAddr(listenAddr) + adminPrefix, token: token, http: &http.Client{Timeout: 10 * time.Minute}}
	shop.register(r)
	if err := registerOpenAPI(r, fc.PublicURL+fc.BasePath); err != nil {
		return err
	}
	registerObservability(r, pc, metrics)
	return nil
}

// serveFlags parses the serving command line and reads the -config file
// (none: the zero-config demo).
func serveFlags(args []string, stdout io.Writer) (*fileConfig, error) {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stdout)
	config := configFlag(fs, "the zero-config demo")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./example [-config FILE]    serve the pay center and the demo shop\n")
		for _, name := range sortedKeys(subcommands) {
			fmt.Fprintf(fs.Output(), "       go run ./example %-4s ...           %s\n", name, subcommands[name].what)
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (subcommands: %s)", fs.Arg(0), strings.Join(sortedKeys(subcommands), ", "))
	}
	return config()
}

// configFlag defines the -config flag of fs, whose absence means none
// (what the command does without a file). The returned function reads the
// file named, once fs is parsed: a zero configuration without one.
func configFlag(fs *flag.FlagSet, none string) func() (*fileConfig, error) {
	path := fs.String("config", "", "YAML configuration `file` (see README); none: "+none)
	return func() (*fileConfig, error) {
		if *path == "" {
			return &fileConfig{}, nil
		}
		return loadConfig(*path)
	}
}

// serve serves h on ln until ctx ends, then shuts down gracefully. ready,
// when not nil, receives the address once connections are accepted.
func serve(ctx context.Context, h http.Handler, ln net.Listener, ready chan<- string) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// resolveAddr returns the address to listen on and fills fc.Addr and
// fc.PublicURL. Port 0 (tests) is resolved to a free port now, so that
// PublicURL (which the pay center puts in the URLs it hands out) is known
// before the port is bound. Without publicURL, a server listening on all
// interfaces is announced on 127.0.0.1; see the banner for phones.
func resolveAddr(fc *fileConfig) (string, error) {
	if fc.Addr == "" {
		fc.Addr = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(fc.Addr)
	if err != nil {
		return "", fmt.Errorf("addr %q must be host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080", fc.Addr)
	}
	if port == "0" {
		if port, err = freePort(host); err != nil {
			return "", fmt.Errorf("addr %s: find a free port: %w", fc.Addr, err)
		}
	}
	addr := net.JoinHostPort(host, port)
	fc.Addr = addr
	if fc.PublicURL == "" {
		fc.PublicURL = "http://" + dialAddr(addr)
	}
	return addr, nil
}

// freePort asks the system for a free TCP port on host and releases it at
// once (another program could take it before the example binds it; this
// is for tests, which use port 0).
func freePort(host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// payConfig turns the file configuration into a paycenter.Config. It is
// long because it maps the file's blocks one by one (apps, both channels,
// webhook and worker settings, the database); each part is a few lines.
func payConfig(fc *fileConfig, log *slog.Logger) (paycenter.Config, func(), error) {
	cfg := paycenter.Config{PublicURL: fc.PublicURL, BasePath: fc.BasePath, Logger: log}
	closeDB := func() {}
	if fc.Sandbox != nil {
		cfg.Sandbox = paycenter.SandboxOff
		if *fc.Sandbox {
			cfg.Sandbox = paycenter.SandboxOn
		}
	}
	switch fc.LatePayment {
	case "", "accept", "refund":
		cfg.LatePayment = paycenter.LatePaymentPolicy(fc.LatePayment)
	default:
		return cfg, closeDB, fmt.Errorf("latePayment must be accept or refund, not %q", fc.LatePayment)
	}
	cfg.Webhook = paycenter.WebhookConfig{Schedule: fc.Webhook.Schedule, Timeout: fc.Webhook.Timeout,
		// The demo's merchants listen on localhost, so the example allows
		// private networks unless the file says otherwise (the library's
		// default is false).
		AllowPrivateNetworks: fc.Webhook.AllowPrivateNetworks == nil || *fc.Webhook.AllowPrivateNetworks}
	cfg.Workers.PollInterval = fc.Workers.PollInterval
	for _, a := range fc.Apps {
		cfg.Apps = append(cfg.Apps, paycenter.App{ID: a.ID, Key: a.Key, Secret: a.Secret, NotifyURL: a.NotifyURL,
			MinSignVersion: a.MinSignVersion, ReturnURLHosts: a.ReturnURLHosts, Development: a.Development})
	}
	if fc.Alipay.configured() {
		a := fc.Alipay
		ch, err := alipay.New(alipay.Config{
			AppID: a.AppID, PrivateKey: a.PrivateKey, PrivateKeyFile: a.PrivateKeyFile,
			AlipayPublicKey: a.AlipayPublicKey, AlipayPublicKeyFile: a.AlipayPublicKeyFile,
			AppCertPublicKey: a.AppCertPublicKey, AppCertPublicKeyFile: a.AppCertPublicKeyFile,
			AlipayRootCert: a.AlipayRootCert, AlipayRootCertFile: a.AlipayRootCertFile,
			AlipayCertPublicKey: a.AlipayCertPublicKey, AlipayCertPublicKeyFile: a.AlipayCertPublicKeyFile,
			SellerID: a.SellerID, Production: a.Production, GatewayURL: a.GatewayURL,
		})
		if err != nil {
			return cfg, closeDB, fmt.Errorf("alipay: %w", err)
		}
		cfg.Channels = append(cfg.Channels, ch)
	}
	if fc.Wechat.configured() {
		w := fc.Wechat
		ch, err := wechat.New(wechat.Config{
			MchID: w.MchID, AppID: w.AppID, MchCertSerial: w.MchCertSerial,
			MchPrivateKey: w.MchPrivateKey, MchPrivateKeyFile: w.MchPrivateKeyFile, APIv3Key: w.APIv3Key,
			PlatformPublicKeyID: w.PlatformPublicKeyID, PlatformPublicKey: w.PlatformPublicKey, PlatformPublicKeyFile: w.PlatformPublicKeyFile,
			PlatformCertificate: w.PlatformCertificate, PlatformCertificateFile: w.PlatformCertificateFile,
			APIBaseURL: w.APIBaseURL,
		})
		if err != nil {
			return cfg, closeDB, fmt.Errorf("wechat: %w", err)
		}
		cfg.Channels = append(cfg.Channels, ch)
	}

	db, err := openDB(fc.Database)
	if err != nil {
		return cfg, closeDB, err
	}
	if db != nil {
		cfg.DB = db
		closeDB = func() {
			if sqlDB, err := db.DB(); err == nil {
				sqlDB.Close()
			}
		}
	}
	return cfg, closeDB, nil
}

// openDB opens the configured database with its connection pool (see
// pool.go); nil means the pay center's default (SQLite paycenter.db).
func openDB(c dbConfig) (*gorm.DB, error) {
	gcfg := &gorm.Config{Logger: logger.Discard}
	var db *gorm.DB
	p, err := c.pool()
	if err != nil {
		return nil, err
	}
	switch c.Driver {
	case "", "sqlite":
		if c.DSN == "" {
			return nil, nil
		}
		db, err = paycenter.OpenSQLite(c.DSN) // a file path; WAL, synchronous=FULL, immediate writes
	case "postgres":
		db, err = gorm.Open(postgres.Open(c.DSN), gcfg)
	case "mysql":
		dsn := c.DSN
		if !strings.Contains(dsn, "parseTime=") {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			dsn += sep + "parseTime=true"
		}
		db, err = gorm.Open(mysql.Open(dsn), gcfg)
	default:
		return nil, fmt.Errorf("database.driver must be sqlite, postgres or mysql, not %q", c.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", c.Driver, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	p.apply(sqlDB)
	return db, nil
}

// printBanner says where to go and how to sign. It prints the key and
// secret of the generated development app only: an app from -config is
// named, never its secret (that server may hold real credentials).
func printBanner(w io.Writer, fc *fileConfig, listenAddr string, pc *paycenter.PayCenter, generated bool) {
	fmt.Fprintf(w, "paycenter example listening on %s%s\n", fc.PublicURL, fc.BasePath)
	fmt.Fprintf(w, "open the demo shop: %s%s/ (admin: %s%s/admin)\n", fc.PublicURL, shopPrefix, fc.PublicURL, shopPrefix)
	fmt.Fprintf(w, "API description (OpenAPI 3.1): %s%s\n", fc.PublicURL, openAPIPath)
	fmt.Fprintf(w, "metrics (Prometheus): %s%s, health: %s%s\n", fc.PublicURL, metricsPath, fc.PublicURL, healthPath)
	if host, _, _ := net.SplitHostPort(listenAddr); isUnspecified(host) {
		fmt.Fprintf(w, "listening on every interface: a phone on this network opens http://<this machine's LAN IP>:%s/shop/%s\n",
			portOf(listenAddr), lanHint(fc))
	}
	if pc.SandboxEnabled() {
		fmt.Fprintln(w, "sandbox mode: channels without credentials are simulated (no real money moves)")
	}
	for _, a := range pc.Apps() {
		if generated {
			fmt.Fprintf(w, "development app %s (stored in table %s: the same after a restart); sign requests with:\n", a.ID, pc.Tables().Settings)
			fmt.Fprintf(w, "  export PAYCENTER_KEY=%s PAYCENTER_SECRET=%s\n", a.Key, a.Secret)
			fmt.Fprintf(w, "  go run ./example sign POST %s/api/charges name=value ...   # prints the sign; see README\n", fc.BasePath)
			continue
		}
		fmt.Fprintf(w, "app %s (from the -config file; its key and secret are not shown)\n", a.ID)
	}
	fmt.Fprintln(w, "routes:")
	for _, rt := range pc.Routes() {
		fmt.Fprintf(w, "  %-8s %-45s %s\n", rt.Method, rt.Path, rt.What)
	}
}

// lanHint tells how to make the QR code scannable, unless publicURL was
// set (the sandbox's codeUrl, which the QR code encodes, starts with it).
func lanHint(fc *fileConfig) string {
	if u, err := url.Parse(fc.PublicURL); err == nil && !isLoopback(u.Hostname()) {
		return ""
	}
	var ips []string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP.String())
			}
		}
	}
	hint := "; set publicURL: http://<LAN IP>:" + portOf(fc.Addr) + " so that the QR code points there"
	if len(ips) > 0 {
		hint += " (this machine: " + strings.Join(ips, ", ") + ")"
	}
	return hint
}

func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
