// Command example runs the pay center on its own Gin engine, with a demo
// shop beside it.
//
//	go run ./example                  # demo: SQLite file, sandbox channels, a generated app
//	go run ./example -config FILE     # the YAML configuration of the README
//	go run ./example migrate -config FILE  # apply the schema migrations and exit (see migrate.go)
//
// It prints the URL to open, the key and secret of every app, and the
// routes mounted. The shop (under /shop, see shop.go) sells through the
// first app: it creates charges and refunds with package client over HTTP,
// keeps its orders in table shop_orders of the pay center's database and
// marks them paid and refunded from hooks, in the pay center's
// transaction. Its admin page lists the pay center's charges and refunds.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
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
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready, when not nil, receives the listening
// address once the server accepts connections (tests use it).
func run(ctx context.Context, args []string, stdout io.Writer, ready chan<- string) error {
	if len(args) > 0 && args[0] == "migrate" {
		return migrateCmd(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stdout)
	configPath := fs.String("config", "", "YAML configuration `file` (see README); none: the zero-config demo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fc := &fileConfig{}
	if *configPath != "" {
		var err error
		if fc, err = loadConfig(*configPath); err != nil {
			return err
		}
	}
	if fc.Addr == "" {
		fc.Addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", fc.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if fc.PublicURL == "" {
		fc.PublicURL = "http://" + ln.Addr().String()
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, closeDB, err := payConfig(fc, log)
	if err != nil {
		return err
	}
	defer closeDB()

	if len(cfg.Apps) == 0 && len(cfg.Channels) == 0 {
		// The demo's app: like the pay center's generated development app,
		// plus webhooks to the shop, so the admin page shows them too.
		cfg.Apps = []paycenter.App{{ID: "dev", Key: randomHex(16), Secret: randomHex(24),
			NotifyURL: fc.PublicURL + shopPrefix + "/webhook"}}
	}

	// The demo shop's hooks write its orders in the pay center's transaction.
	shop := newShop(log, fc.PublicURL)
	cfg.Hooks = append(cfg.Hooks, shop.hooks()...)

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	pc, err := paycenter.Mount(r, cfg)
	if err != nil {
		return err
	}
	defer pc.Close()
	// The shop calls the pay center over HTTP, on the address it listens on.
	if err := shop.attach(ctx, pc, "http://"+dialAddr(ln.Addr())+fc.BasePath); err != nil {
		return err
	}
	shop.register(r)

	printBanner(stdout, fc, pc)
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
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

// payConfig turns the file configuration into a paycenter.Config.
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
			MinSignVersion: a.MinSignVersion, ReturnURLHosts: a.ReturnURLHosts})
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

// openDB opens the configured database; nil means the pay center's default
// (SQLite paycenter.db).
func openDB(c dbConfig) (*gorm.DB, error) {
	gcfg := &gorm.Config{Logger: logger.Discard}
	var db *gorm.DB
	var err error
	open := 32
	switch c.Driver {
	case "", "sqlite":
		if c.DSN == "" {
			return nil, nil
		}
		db, err = paycenter.OpenSQLite(c.DSN) // a file path; WAL, synchronous=FULL, immediate writes
		open = 1
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
	if c.MaxOpenConns > 0 {
		open = c.MaxOpenConns
	}
	idle := open
	if c.MaxIdleConns > 0 {
		idle = c.MaxIdleConns
	}
	sqlDB.SetMaxOpenConns(open)
	sqlDB.SetMaxIdleConns(idle)
	return db, nil
}

func printBanner(w io.Writer, fc *fileConfig, pc *paycenter.PayCenter) {
	fmt.Fprintf(w, "paycenter example listening on %s%s\n", fc.PublicURL, fc.BasePath)
	fmt.Fprintf(w, "open the demo shop: %s%s/ (admin: %s%s/admin)\n", fc.PublicURL, shopPrefix, fc.PublicURL, shopPrefix)
	if pc.SandboxEnabled() {
		fmt.Fprintln(w, "sandbox mode: channels without credentials are simulated (no real money moves)")
	}
	for _, a := range pc.Apps() {
		fmt.Fprintf(w, "app %s: key=%s secret=%s\n", a.ID, a.Key, a.Secret)
	}
	fmt.Fprintln(w, "routes:")
	for _, rt := range pc.Routes() {
		fmt.Fprintf(w, "  %-8s %-45s %s\n", rt.Method, rt.Path, rt.What)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
