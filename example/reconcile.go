package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
)

// reconcileCmd is "example [-config FILE] reconcile -provider alipay|wechat
// -date YYYY-MM-DD": it reconciles the configured channel account's daily
// bill of that day with the pay center's records now and prints the report
// as JSON; it does not listen. It runs beside a serving instance on the
// same database (one process at a time reconciles a day: the other waits
// for nothing and is told). Any day the channel serves a bill for, today
// included; a bill the channel has not got yet is a clear error (exit 1).
// The shop's hooks run for what it applies, as in the server.
func reconcileCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("example reconcile", flag.ContinueOnError)
	fs.SetOutput(stdout)
	config := configFlag(fs, "the demo, whose sandbox has no bills")
	provider := fs.String("provider", "", "the channel whose bill to reconcile: alipay or wechat")
	date := fs.String("date", "", "the bill's day, YYYY-MM-DD (Beijing time)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./example -config FILE reconcile -provider alipay|wechat -date YYYY-MM-DD")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("reconcile: unexpected argument %q", fs.Arg(0))
	case *provider != channels.ProviderAlipay && *provider != channels.ProviderWechat:
		return fmt.Errorf("reconcile: -provider must be alipay or wechat, not %q", *provider)
	}
	day, err := channels.ParseDay(*date)
	if err != nil {
		return fmt.Errorf("reconcile: -date %q must be a day written YYYY-MM-DD (Beijing time)", *date)
	}
	fc, err := config()
	if err != nil {
		return err
	}
	pc, closeDB, err := commandPayCenter(ctx, fc)
	if err != nil {
		return err
	}
	defer closeDB()
	defer pc.Close()

	reports, err := pc.Reconcile(ctx, *provider, day)
	switch {
	case errors.Is(err, channels.ErrBillNotReady):
		return fmt.Errorf("reconcile: the %s bill of %s is not ready: the channel has no bill for that day yet "+
			"(it publishes a day's bill the next morning; a day without business has none); try again later\n(%v)", *provider, day, err)
	case errors.Is(err, channels.ErrBillInvalid):
		return fmt.Errorf("reconcile: the %s bill of %s was refused and nothing of it was applied: %v", *provider, day, err)
	case err != nil:
		return fmt.Errorf("reconcile: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if len(reports) == 1 { // one account per provider in this configuration
		return enc.Encode(reports[0])
	}
	return enc.Encode(reports)
}

// commandPayCenter builds the pay center of a one-off command from the
// file configuration: its channels, apps and database, the shop's hooks,
// no workers and no listener. It logs warnings and errors to stderr, so
// that stdout is the command's own output.
func commandPayCenter(ctx context.Context, fc *fileConfig) (*paycenter.PayCenter, func(), error) {
	if fc.PublicURL == "" {
		// Required with real channels; nothing is created here, so no URL
		// the pay center hands out is used.
		fc.PublicURL = "http://" + dialAddr(orDefault(fc.Addr, "127.0.0.1:8080"))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, closeDB, err := payConfig(fc, log)
	if err != nil {
		return nil, closeDB, err
	}
	cfg.Workers.Disabled, cfg.Reconcile.Disabled = true, true
	shop := newShop(log, fc.PublicURL)
	cfg.Hooks = append(cfg.Hooks, shop.hooks()...)
	pc, err := paycenter.New(cfg)
	if err != nil {
		return nil, closeDB, err
	}
	if err := shop.attach(ctx, pc, fc.PublicURL+fc.BasePath); err != nil {
		pc.Close()
		return nil, closeDB, err
	}
	return pc, closeDB, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// subcommandFirst lets the -config flag come before a subcommand's name:
// "example -config FILE reconcile ..." runs as "example reconcile -config
// FILE ...". Serving arguments are returned as they are.
func subcommandFirst(args []string) []string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if name != "config" {
			return args
		}
		if !hasValue {
			i++ // the value is the next argument
		}
		i++
	}
	if i == 0 || i >= len(args) {
		return args
	}
	if _, ok := subcommands[args[i]]; !ok {
		return args
	}
	return slices.Concat(args[i:i+1], args[:i], args[i+1:])
}
