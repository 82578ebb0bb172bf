package paycenter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

func init() { gin.SetMode(gin.TestMode) }

const (
	testAppID  = "11"
	testKey    = "e3327bcd-2681-4a2a-a321-c75ekl433ff81"
	testSecret = "52ewc-c675-4944-af44-f4fdsww332d88"
)

// env is one pay center mounted on an httptest server, with hook counters.
type env struct {
	t      testing.TB
	pc     *paycenter.PayCenter
	srv    *httptest.Server
	client *client.Client
	clock  *clock
	paid   atomic.Int64 // committed-or-not OnPaid calls
	refund atomic.Int64
	closed atomic.Int64
	// onPaid, when set, runs inside the OnPaid hook.
	onPaid func(ctx context.Context, ev *hooks.Paid) error
}

// lockedBuffer is a log destination shared by goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type option func(*paycenter.Config)

// testWriter sends log lines to the test's log, shown when it fails.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newEnv mounts a pay center on a fresh database of kind.
func newEnv(t testing.TB, kind testdb.Kind, opts ...option) *env {
	t.Helper()
	return newEnvOn(t, kind, "", opts...)
}

// newEnvOn is newEnv mounting on the router group at path group ("" for
// the engine itself).
func newEnvOn(t testing.TB, kind testdb.Kind, group string, opts ...option) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{now: time.Now()}}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := paycenter.Config{
		DB:        testdb.Open(t, kind),
		PublicURL: srv.URL,
		Apps:      []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret}},
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:       e.clock.Now,
		Hooks: []hooks.Hook{
			hooks.OnPaidFunc(func(ctx context.Context, ev *hooks.Paid) error {
				e.paid.Add(1)
				if e.onPaid != nil {
					return e.onPaid(ctx, ev)
				}
				return nil
			}),
			hooks.OnRefundFunc(func(ctx context.Context, ev *hooks.Refunded) error { e.refund.Add(1); return nil }),
			hooks.OnClosedFunc(func(ctx context.Context, ev *hooks.Closed) error { e.closed.Add(1); return nil }),
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	pc, err := paycenter.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	r := gin.New()
	if group == "" {
		pc.Mount(r)
	} else {
		pc.Mount(r.Group(group))
	}
	srv.Config.Handler = r
	e.pc, e.srv = pc, srv
	e.client = client.New(testKey, testSecret, client.WithBaseURL(srv.URL+group+cfg.BasePath), client.WithClock(e.clock.Now))
	return e
}

// reply is a decoded envelope plus the X-Request-Id header.
type reply struct {
	Status         int
	RequestIDHdr   string
	RequestID      json.Number                `json:"requestId"`
	ErrorCode      paycenter.Code             `json:"errorCode"`
	ErrorMsg       string                     `json:"errorMsg"`
	ResponseParams map[string]json.RawMessage `json:"responseParams"`
	raw            map[string]json.RawMessage
}

// do sends a request signed by the document's v1 rule with key and sign as
// headers; extra common params (timestamp, ...) go in params.
func (e *env) do(method, path string, params map[string]string, secret string) *reply {
	e.t.Helper()
	all := map[string]string{"key": testKey}
	for k, v := range params {
		all[k] = v
	}
	sig := sign.V1(sign.BaseString(method, path, all), secret)
	if all["version"] == "v2" {
		sig = sign.V2(sign.BaseString(method, path, all), secret)
	}
	form := url.Values{}
	for k, v := range params {
		if k != "key" {
			form.Set(k, v)
		}
	}
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, e.srv.URL+path+"?"+form.Encode(), nil)
	} else {
		req, err = http.NewRequest(method, e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	require.NoError(e.t, err)
	req.Header.Set("key", all["key"])
	req.Header.Set("sign", sig)
	return e.send(req)
}

func (e *env) send(req *http.Request) *reply {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	r := &reply{Status: resp.StatusCode, RequestIDHdr: resp.Header.Get("X-Request-Id")}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	require.NoError(e.t, dec.Decode(r), "body: %s", body)
	require.NoError(e.t, json.Unmarshal(body, &r.raw))
	return r
}

func (r *reply) str(name string) string {
	var s string
	if raw, ok := r.ResponseParams[name]; ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

// chargeParams are valid create parameters for channel.
func chargeParams(channel channels.Code, outTradeNo string, fee int64) map[string]string {
	p := map[string]string{
		"channel": string(channel), "outTradeNo": outTradeNo, "totalFee": strconv.FormatInt(fee, 10),
		"clientIp": "127.0.0.1", "subject": "超级大礼包", "body": "a gift box", "created": "1508401409765",
		"attach": "order=42", "returnUrl": "http://shop.example.com/return",
	}
	if channel == channels.WxJsapi {
		p["wx.openid"] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	}
	return p
}

// sandboxPay posts the cashier outcome like the cashier page's buttons do,
// without back=1, and returns the HTTP status.
func (e *env) sandboxPay(outTradeNo, result string) int {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/sandbox/pay", url.Values{"appId": {testAppID}, "outTradeNo": {outTradeNo}, "result": {result}})
	require.NoError(e.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// count returns the number of rows of table matching where.
func (e *env) count(table string, where string, args ...any) int64 {
	e.t.Helper()
	var n int64
	require.NoError(e.t, e.pc.DB().Table(table).Where(where, args...).Count(&n).Error)
	return n
}
