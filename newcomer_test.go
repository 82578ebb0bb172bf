package paycenter_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// The first-time user's path (issue 12): what a 10004 tells a developer,
// times sent in seconds, and a development app that survives restarts.

// withDebugLog collects the pay center's log lines at debug level in l.
func withDebugLog(l *lockedBuffer) option {
	return func(c *paycenter.Config) {
		c.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// TestBadSignShowsBaseString: in sandbox mode a 10004 quotes the string
// the server signed (before URL-encoding, "+ secret" for v1), never the
// secret; the same string is logged at debug level with the request id.
func TestBadSignShowsBaseString(t *testing.T) {
	var log lockedBuffer
	e := newEnv(t, testdb.SQLite, withDebugLog(&log), func(c *paycenter.Config) {
		c.Apps = append(c.Apps, paycenter.App{ID: "22", Key: "key22", Secret: "secret22"})
	})
	require.True(t, e.pc.SandboxEnabled())
	params := map[string]string{"channel": "WX_NATIVE", "outTradeNo": "base00000001"}
	want := sign.BaseString(http.MethodGet, "/api/charges/pay-result",
		map[string]string{"channel": "WX_NATIVE", "outTradeNo": "base00000001", "key": testKey})
	require.Equal(t, "GET/api/charges/pay-resultchannel=WX_NATIVEkey="+testKey+"outTradeNo=base00000001", want)

	r := e.do(http.MethodGet, "/api/charges/pay-result", params, "not-the-secret")
	require.Equal(t, paycenter.CodeBadSign, r.ErrorCode, r.ErrorMsg)
	assert.Contains(t, r.ErrorMsg, `the server signed "`+want+`" + secret (before URL-encoding)`)
	assert.NotContains(t, r.ErrorMsg, testSecret)
	assert.Contains(t, log.String(), "requestId="+r.RequestIDHdr)
	assert.Contains(t, log.String(), "baseString="+strconv.Quote(want))

	// v2 is keyed with the secret: no "+ secret".
	now := strconv.FormatInt(e.clock.Now().UnixMilli(), 10)
	v2 := map[string]string{"key": "key22", "version": "v2", "timestamp": now, "nonce": "nonce0000001",
		"channel": "WX_NATIVE", "outTradeNo": "base00000001"}
	r = e.do(http.MethodGet, "/api/charges/pay-result", v2, "not-secret22")
	require.Equal(t, paycenter.CodeBadSign, r.ErrorCode, r.ErrorMsg)
	assert.Contains(t, r.ErrorMsg, `the server signed "`+sign.BaseString(http.MethodGet, "/api/charges/pay-result", v2)+`" (before URL-encoding)`)
	assert.NotContains(t, r.ErrorMsg, "secret22")

	// A right signature still works.
	ok := e.do(http.MethodGet, "/api/charges/pay-result", params, testSecret)
	assert.Equal(t, paycenter.CodeNotFound, ok.ErrorCode, ok.ErrorMsg)
}

// TestBadSignOutsideSandbox: without the sandbox only an app flagged
// Development is told the base string; the debug log has it for every app.
func TestBadSignOutsideSandbox(t *testing.T) {
	var log lockedBuffer
	e := newEnv(t, testdb.SQLite, withDebugLog(&log), func(c *paycenter.Config) {
		c.Sandbox = paycenter.SandboxOff
		c.Apps = append(c.Apps, paycenter.App{ID: "33", Key: "key33", Secret: "secret33", Development: true})
	})
	require.False(t, e.pc.SandboxEnabled())
	params := map[string]string{"channel": "WX_NATIVE", "outTradeNo": "base00000001"}

	r := e.do(http.MethodPost, "/api/charges/pay-result", params, "not-the-secret")
	require.Equal(t, paycenter.CodeBadSign, r.ErrorCode)
	assert.Equal(t, "sign does not match the request (signature v1: MD5 of the URL-encoded METHOD + path + sorted name=value pairs + secret)", r.ErrorMsg)
	base := sign.BaseString(http.MethodPost, "/api/charges/pay-result", map[string]string{"channel": "WX_NATIVE", "outTradeNo": "base00000001", "key": testKey})
	assert.Contains(t, log.String(), "baseString="+strconv.Quote(base), "logged at debug level whatever the app")
	assert.Contains(t, log.String(), "requestId="+r.RequestIDHdr)

	dev := map[string]string{"key": "key33", "channel": "WX_NATIVE", "outTradeNo": "base00000001"}
	r = e.do(http.MethodPost, "/api/charges/pay-result", dev, "not-secret33")
	require.Equal(t, paycenter.CodeBadSign, r.ErrorCode)
	assert.Contains(t, r.ErrorMsg, `the server signed "`+sign.BaseString(http.MethodPost, "/api/charges/pay-result", dev)+`" + secret`)
	assert.NotContains(t, r.ErrorMsg, "secret33")
	assert.NotContains(t, log.String(), "secret33")
	assert.NotContains(t, log.String(), testSecret)
}

// TestTimesInSeconds: created and timestamp below 10^12 ms, and expires
// below one second, are 10007 naming the unit.
func TestTimesInSeconds(t *testing.T) {
	e := newEnv(t, testdb.SQLite)
	now := e.clock.Now()
	create := chargeParams(channels.WxNative, "secs00000001", 100)
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range create {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		params map[string]string
		msg    string
	}{
		{"created", with("created", "1700000000"), "created must be milliseconds since the epoch; 1700000000 looks like seconds"},
		{"timestamp", with("timestamp", strconv.FormatInt(now.Unix(), 10)),
			fmt.Sprintf("timestamp must be milliseconds since the epoch; %d looks like seconds", now.Unix())},
		{"expires", with("timestamp", strconv.FormatInt(now.UnixMilli(), 10), "expires", "300"),
			"expires must be milliseconds; 300 looks like seconds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/api/charges", c.params, testSecret)
			assert.Equal(t, paycenter.CodeInvalid, r.ErrorCode, r.ErrorMsg)
			assert.Contains(t, r.ErrorMsg, c.msg)
		})
	}
	assert.EqualValues(t, 0, e.count(e.pc.Tables().Charges, "1 = 1"), "nothing was created")

	// The same values in milliseconds are accepted; a one-second validity is
	// the shortest one.
	r := e.do(http.MethodPost, "/api/charges", with("created", "1700000000000",
		"timestamp", strconv.FormatInt(now.UnixMilli(), 10), "expires", "1000"), testSecret)
	require.Zero(t, r.ErrorCode, r.ErrorMsg)
}

// TestDevAppSurvivesRestart: a pay center without apps stores its
// development app with its data and reads it back on the next start;
// configured apps are untouched.
func TestDevAppSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			db := testdb.Open(t, kind)
			start := func(cfg paycenter.Config) *paycenter.PayCenter {
				cfg.DB = db
				cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
				pc, err := paycenter.New(cfg)
				require.NoError(t, err)
				return pc
			}
			first := start(paycenter.Config{DevNotifyURL: "http://127.0.0.1:9/first"})
			apps := first.Apps()
			require.Len(t, apps, 1)
			dev := apps[0]
			assert.Equal(t, "dev", dev.ID)
			assert.True(t, dev.Development)
			assert.Len(t, dev.Key, 32)
			assert.Len(t, dev.Secret, 48)
			assert.Equal(t, "http://127.0.0.1:9/first", dev.NotifyURL)
			_, err := first.CreateCharge(ctx, "dev", createParams(channels.WxNative, "restart00001", 1))
			require.NoError(t, err)
			require.NoError(t, first.Close())

			second := start(paycenter.Config{DevNotifyURL: "http://127.0.0.1:9/second"})
			again := second.Apps()
			require.Len(t, again, 1)
			assert.Equal(t, dev.Key, again[0].Key, "same key after a restart")
			assert.Equal(t, dev.Secret, again[0].Secret, "same secret after a restart")
			assert.Equal(t, "http://127.0.0.1:9/second", again[0].NotifyURL, "the notify URL comes from the config")
			pr, err := second.PayResult(ctx, "dev", channels.WxNative, "restart00001")
			require.NoError(t, err)
			assert.False(t, pr.HasPay)
			require.NoError(t, second.Close())

			// Configured apps: no development app, the stored one untouched.
			own := start(paycenter.Config{Apps: []paycenter.App{{ID: "11", Key: "k11", Secret: "s11"}}})
			require.Len(t, own.Apps(), 1)
			assert.Equal(t, "11", own.Apps()[0].ID)
			assert.False(t, own.Apps()[0].Development)
			require.NoError(t, own.Close())
			var n int64
			require.NoError(t, db.Table(own.Tables().Settings).Count(&n).Error)
			assert.EqualValues(t, 1, n)
		})
	}
}

// TestDevAppConcurrentStarts: instances starting at once on one empty
// database end up with one development app.
func TestDevAppConcurrentStarts(t *testing.T) {
	const instances = 4
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			db := testdb.Open(t, kind)
			// The tables exist (as after a deployment's migration step); the
			// race is the development app's insert-or-read.
			_, err := paycenter.MigrateDB(context.Background(), db, "pay_")
			require.NoError(t, err)
			keys := make([]string, instances)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range instances {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					pc, err := paycenter.New(paycenter.Config{DB: db, SkipMigrate: true,
						Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
					if !assert.NoError(t, err) {
						return
					}
					keys[i] = pc.Apps()[0].Key + "/" + pc.Apps()[0].Secret
					pc.Close()
				}()
			}
			close(start)
			wg.Wait()
			for i := 1; i < instances; i++ {
				assert.Equal(t, keys[0], keys[i], "instance %d", i)
			}
			assert.NotEmpty(t, keys[0])
			var rows []models.Setting
			require.NoError(t, db.Table("pay_settings").Find(&rows).Error)
			require.Len(t, rows, 1)
		})
	}
}

// TestDevAppSkipMigrate: with SkipMigrate and no settings table, New still
// starts with a development app (not stored) instead of failing.
func TestDevAppSkipMigrate(t *testing.T) {
	var log lockedBuffer
	db := testdb.Open(t, testdb.SQLite)
	pc, err := paycenter.New(paycenter.Config{DB: db, SkipMigrate: true,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	defer pc.Close()
	require.Len(t, pc.Apps(), 1)
	assert.Equal(t, "dev", pc.Apps()[0].ID)
	assert.Contains(t, log.String(), "not stored")
	assert.False(t, db.Migrator().HasTable("pay_settings"))
}

// TestDevAppSecretLogged: the development app's secret is logged in a pure
// sandbox (the developer signs with it), never beside a real channel,
// where it would sign real refunds.
func TestDevAppSecretLogged(t *testing.T) {
	keys := alipaytest.NewKeys(t, alipaytest.PublicKeyMode)
	ali, err := alipay.New(keys.Config("http://127.0.0.1:9/gateway.do"))
	require.NoError(t, err)
	for name, cfg := range map[string]paycenter.Config{
		"sandbox":             {},
		"beside real channel": {Sandbox: paycenter.SandboxOn, Channels: []channels.Channel{ali}, PublicURL: "https://shop.example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			var log lockedBuffer
			cfg.DB = testdb.Open(t, testdb.SQLite)
			cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
			pc, err := paycenter.New(cfg)
			require.NoError(t, err)
			defer pc.Close()
			dev := pc.Apps()[0]
			assert.Contains(t, log.String(), dev.Key)
			if name == "sandbox" {
				assert.Contains(t, log.String(), dev.Secret)
			} else {
				assert.NotContains(t, log.String(), dev.Secret)
			}
		})
	}
}

// TestDevNotifyURLChecked: a bad DevNotifyURL is a config error naming it.
func TestDevNotifyURLChecked(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := paycenter.New(paycenter.Config{DevNotifyURL: "localhost:8080/hook"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DevNotifyURL")
}
