package paycenter_test

// The benchmarks of issue 10: every write path, and pay-result, against a
// floor measured in the same run on the same database: a bare Gin handler
// that parses a form and makes one GORM insert. 32 clients over loopback
// HTTP, only correct answers counted. Each reports our rate and the floor's,
// their ratio (x-floor), our p99 latency and the database statements and
// transactions per operation, counted at the driver; and, for a database
// server on this machine, the CPU its processes spent per operation, ours
// and the floor's (db-cpu-µs/op, from /proc).
//
//	go test -run '^$' -bench Paths -benchtime 3000x .
//
// With PAYCENTER_TEST_POSTGRES_DSN / PAYCENTER_TEST_MYSQL_DSN set, PostgreSQL
// and MariaDB run too (ANALYZE is run on PostgreSQL before measuring). With
// PAYCENTER_BENCH_CPUPROFILE=dir, each path writes the CPU profile of its
// measured part to dir.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// benchClients is how many requests are in flight at once.
const benchClients = 32

// load is n prepared requests against one server and the test of a
// correct answer.
type load struct {
	url  string
	reqs []func() *http.Request
	ok   func(status int, body []byte) bool
}

// result is what one timed run measured.
type result struct {
	elapsed time.Duration
	p99     time.Duration
}

// fire sends every request of l from benchClients goroutines and fails b
// on any incorrect answer.
func fire(b *testing.B, l *load) result {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	var next atomic.Int64
	lat := make([]time.Duration, len(l.reqs))
	var bad atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(l.reqs) || bad.Load() != nil {
					return
				}
				t0 := time.Now()
				resp, err := hc.Do(l.reqs[i]())
				if err != nil {
					bad.Store(err.Error())
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if !l.ok(resp.StatusCode, body) {
					bad.Store(fmt.Sprintf("request %d: HTTP %d %s", i, resp.StatusCode, body))
					return
				}
			}
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start)}
	if msg := bad.Load(); msg != nil {
		b.Fatalf("incorrect answer: %s", msg)
	}
	slices.Sort(lat)
	r.p99 = lat[len(lat)*99/100]
	return r
}

// floor is the bare Gin + GORM server of the kind: one insert per request.
func floor(b *testing.B, kind testdb.Kind, n int) *load {
	type floorRow struct {
		ID         int64 `gorm:"primaryKey"`
		OutTradeNo string
		TotalFee   int64
		Subject    string
	}
	db := testdb.Open(b, kind)
	poolFor(b, db, kind)
	require.NoError(b, db.AutoMigrate(&floorRow{}))
	r := gin.New()
	r.POST("/api/charges", func(c *gin.Context) {
		fee, _ := strconv.ParseInt(c.PostForm("totalFee"), 10, 64)
		if err := db.Create(&floorRow{OutTradeNo: c.PostForm("outTradeNo"), TotalFee: fee, Subject: c.PostForm("subject")}).Error; err != nil {
			c.JSON(http.StatusOK, gin.H{"errorCode": 10001})
			return
		}
		c.JSON(http.StatusOK, gin.H{"requestId": 1, "responseParams": gin.H{"channel": c.PostForm("channel")}})
	})
	srv := httptest.NewServer(r)
	b.Cleanup(srv.Close)
	l := &load{url: srv.URL, ok: envelopeOK}
	for i := range n {
		l.reqs = append(l.reqs, func() *http.Request {
			return signedForm(srv.URL, "/api/charges", createForm(channels.WxNative, "floor", i), "")
		})
	}
	return l
}

// poolFor sizes db's pool as the harness did: one connection for
// SQLite (one writer), 32 for the servers.
func poolFor(b *testing.B, db *gorm.DB, kind testdb.Kind) {
	sqlDB, err := db.DB()
	require.NoError(b, err)
	if kind != testdb.SQLite {
		sqlDB.SetMaxOpenConns(benchClients)
		sqlDB.SetMaxIdleConns(benchClients)
	}
}

func envelopeOK(status int, body []byte) bool {
	return status == http.StatusOK && strings.Contains(string(body), `"responseParams"`) && !strings.Contains(string(body), `"errorCode"`)
}

func createForm(ch channels.Code, prefix string, i int) map[string]string {
	return chargeParams(ch, fmt.Sprintf("%s%010d", prefix, i), 100)
}

// signedForm is a POST of params signed v1 with secret ("" for none).
func signedForm(base, path string, params map[string]string, secret string) *http.Request {
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	if secret != "" {
		form.Set("key", testKey)
		form.Set("sign", sign.V1(sign.BaseString(http.MethodPost, path, withKey(params)), secret))
	}
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func withKey(p map[string]string) map[string]string {
	all := map[string]string{"key": testKey}
	for k, v := range p {
		all[k] = v
	}
	return all
}

// benchEnv is our pay center on a counted database of kind.
type benchEnv struct {
	*env
	counter *testdb.Counter
}

func newBenchEnv(b *testing.B, kind testdb.Kind, opts ...option) *benchEnv {
	b.Helper()
	db, counter := testdb.Counted(b, testdb.Open(b, kind))
	poolFor(b, db, kind)
	all := append([]option{noWorkers, realClock, func(c *paycenter.Config) {
		c.DB = db
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		c.Hooks = nil
	}}, opts...)
	return &benchEnv{env: newEnv(b, kind, all...), counter: counter}
}

// analyze refreshes PostgreSQL's statistics (autovacuum is off here).
func analyze(b *testing.B, db *gorm.DB) {
	if db.Dialector.Name() == "postgres" {
		require.NoError(b, db.Exec("ANALYZE").Error)
	}
}

// measure runs the floor and ours with n requests each and reports.
func measure(b *testing.B, kind testdb.Kind, e *benchEnv, ours *load) {
	b.Helper()
	n := len(ours.reqs)
	fl := floor(b, kind, n)
	analyze(b, e.pc.DB())
	b.ResetTimer()
	fcpu0 := serverCPU()
	f := fire(b, fl)
	fcpu := serverCPU() - fcpu0
	s0, t0, cpu0 := e.counter.Statements(), e.counter.Begins(), serverCPU()
	stop := profile(b)
	o := fire(b, ours)
	stop()
	stmts, txs, cpu := e.counter.Statements()-s0, e.counter.Begins()-t0, serverCPU()-cpu0
	b.StopTimer()
	rate := func(r result) float64 { return float64(n) / r.elapsed.Seconds() }
	b.ReportMetric(rate(o), "ops/s")
	b.ReportMetric(rate(f), "floor-ops/s")
	b.ReportMetric(rate(o)/rate(f), "x-floor")
	b.ReportMetric(float64(o.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(stmts)/float64(n), "stmts/op")
	b.ReportMetric(float64(txs)/float64(n), "tx/op")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "db-cpu-µs/op")
		b.ReportMetric(float64(fcpu.Microseconds())/float64(n), "floor-db-cpu-µs/op")
	}
	b.ReportMetric(0, "ns/op") // wall time per op is not the measure here
}

// serverCPU is the CPU time the database servers on this machine
// (postgres, mariadbd) have used so far, from /proc; 0 where there is no
// /proc or no server here. A backend that exits takes its time with it:
// the pools keep their connections for the whole measurement.
func serverCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, f := range stats {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(raw)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		if comm := s[open+1 : close]; comm != "postgres" && comm != "mariadbd" {
			continue
		}
		f := strings.Fields(s[close+1:]) // state is field 3: utime and stime are 14 and 15
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// profile starts a CPU profile of the measured part of b when
// PAYCENTER_BENCH_CPUPROFILE names a directory (one file per path; the
// setup's RSA signing would dominate a -cpuprofile of the whole run), and
// returns its stop.
func profile(b *testing.B) (stop func()) {
	dir := os.Getenv("PAYCENTER_BENCH_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".pprof"))
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		require.NoError(b, f.Close())
	}
}

// BenchmarkPaths runs every path on every database whose DSN is set.
func BenchmarkPaths(b *testing.B) {
	paths := []struct {
		name string
		run  func(b *testing.B, kind testdb.Kind)
	}{
		{"create-sandbox", benchCreateSandbox},
		{"create-ali-wap", benchCreateAliWap},
		{"notify-alipay", func(b *testing.B, kind testdb.Kind) { benchNotifyAlipay(b, kind, sink(b)) }},
		{"notify-wechat", func(b *testing.B, kind testdb.Kind) { benchNotifyWechat(b, kind, sink(b)) }},
		{"notify-alipay-ack", func(b *testing.B, kind testdb.Kind) { benchNotifyAlipay(b, kind) }},
		{"notify-wechat-ack", func(b *testing.B, kind testdb.Kind) { benchNotifyWechat(b, kind) }},
		{"pay-result", benchPayResult},
		{"webhook", benchWebhook},
	}
	for _, kind := range testdb.Kinds {
		for _, p := range paths {
			b.Run(string(kind)+"/"+p.name, func(b *testing.B) { p.run(b, kind) })
		}
	}
}

func benchCreateSandbox(b *testing.B, kind testdb.Kind) {
	e := newBenchEnv(b, kind)
	l := &load{ok: envelopeOK}
	for i := range b.N {
		l.reqs = append(l.reqs, func() *http.Request {
			return signedForm(e.srv.URL, "/api/charges", createForm(channels.WxNative, "sbx", i), testSecret)
		})
	}
	measure(b, kind, e, l)
}

func benchCreateAliWap(b *testing.B, kind testdb.Kind) {
	keys := alipaytest.NewKeys(b, alipaytest.PublicKeyMode)
	ch, err := alipay.New(keys.Config("http://127.0.0.1:9/gateway.do")) // Create makes no call
	require.NoError(b, err)
	e := newBenchEnv(b, kind, func(c *paycenter.Config) { c.Channels = []channels.Channel{ch} })
	l := &load{ok: envelopeOK}
	for i := range b.N {
		l.reqs = append(l.reqs, func() *http.Request {
			return signedForm(e.srv.URL, "/api/charges", createForm(channels.AliWap, "wap", i), testSecret)
		})
	}
	measure(b, kind, e, l)
}

// sink is a merchant endpoint that accepts every webhook: the notify
// benchmarks deliver one per payment, as a merchant's pay center does.
func sink(b *testing.B) option {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return func(c *paycenter.Config) {
		withWebhooks(srv.URL, time.Minute)(c)
		c.Workers.Disabled = false
	}
}

// benchNotifyAlipay measures Alipay's payment notifications: with the sink
// option, each also delivers its webhook; without (the -ack paths), the
// app has none and an operation is the notification's commit and answer.
func benchNotifyAlipay(b *testing.B, kind testdb.Kind, opts ...option) {
	keys := alipaytest.NewKeys(b, alipaytest.PublicKeyMode)
	ch, err := alipay.New(keys.Config("http://127.0.0.1:9/gateway.do"))
	require.NoError(b, err)
	e := newBenchEnv(b, kind, append(opts, func(c *paycenter.Config) { c.Channels = []channels.Channel{ch} })...)
	target := e.srv.URL + "/callbacks/" + testAppID + "/alipay/web/paynotify"
	l := &load{ok: func(status int, body []byte) bool { return status == http.StatusOK && string(body) == "success" }}
	now := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	for i, c := range createCharges(b, e, channels.AliWeb, "ali", b.N) {
		v := url.Values{
			"notify_time": {now}, "notify_type": {"trade_status_sync"}, "notify_id": {fmt.Sprint("n", i)},
			"app_id": {keys.AppID}, "charset": {"utf-8"}, "version": {"1.0"}, "trade_no": {fmt.Sprintf("2026%016d", i)},
			"out_trade_no": {c.OutTradeNo}, "seller_id": {keys.SellerID}, "trade_status": {"TRADE_SUCCESS"},
			"total_amount": {alipay.FormatAmount(c.TotalFee)}, "gmt_payment": {now},
			"passback_params": {url.QueryEscape("appId=" + testAppID + "&marker=" + c.Marker)},
		}
		body := keys.SignNotification(v).Encode()
		l.reqs = append(l.reqs, func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			return req
		})
	}
	measure(b, kind, e, l)
}

// benchNotifyWechat is benchNotifyAlipay for WeChat Pay's notifications.
func benchNotifyWechat(b *testing.B, kind testdb.Kind, opts ...option) {
	srv := wechattest.NewServer(b)
	ch, err := wechat.New(srv.ChannelConfig(wechattest.PublicKeyMode))
	require.NoError(b, err)
	e := newBenchEnv(b, kind, append(opts, func(c *paycenter.Config) { c.Channels = []channels.Channel{ch} })...)
	target := e.srv.URL + "/callbacks/" + testAppID + "/wechat/paynotify"
	l := &load{ok: func(status int, _ []byte) bool { return status == http.StatusNoContent }}
	for _, c := range createCharges(b, e, channels.WxNative, "wx", b.N) {
		_, err := srv.Pay(c.OutTradeNo)
		require.NoError(b, err)
		proto := srv.NotificationRequest(target, srv.PaymentNotification(c.OutTradeNo, wechattest.PublicKeyMode))
		body, err := io.ReadAll(proto.Body)
		require.NoError(b, err)
		l.reqs = append(l.reqs, func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
			req.Header = proto.Header.Clone()
			return req
		})
	}
	measure(b, kind, e, l)
}

func benchPayResult(b *testing.B, kind testdb.Kind) {
	e := newBenchEnv(b, kind)
	l := &load{ok: envelopeOK}
	for _, c := range createCharges(b, e, channels.WxNative, "pr", b.N) {
		p := withKey(map[string]string{"channel": string(c.Channel), "outTradeNo": c.OutTradeNo})
		q := url.Values{"channel": {string(c.Channel)}, "outTradeNo": {c.OutTradeNo}, "key": {testKey},
			"sign": {sign.V1(sign.BaseString(http.MethodGet, "/api/charges/pay-result", p), testSecret)}}
		u := e.srv.URL + "/api/charges/pay-result?" + q.Encode()
		l.reqs = append(l.reqs, func() *http.Request { req, _ := http.NewRequest(http.MethodGet, u, nil); return req })
	}
	measure(b, kind, e, l)
}

// benchWebhook measures the delivery of webhooks that the workers claim
// (retries, events of the host's transactions) to a local sink, against a
// floor that posts the same bodies and marks each row delivered with one
// update.
func benchWebhook(b *testing.B, kind testdb.Kind) {
	n := b.N
	arrivals := make(chan struct{}, n)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		arrivals <- struct{}{}
	}))
	b.Cleanup(sink.Close)
	waitArrivals := func() {
		deadline := time.After(5 * time.Minute)
		for i := range n {
			select {
			case <-arrivals:
			case <-deadline:
				b.Fatalf("only %d of %d webhooks arrived", i, n)
			}
		}
	}
	e := newBenchEnv(b, kind, withWebhooks(sink.URL, time.Minute))
	for _, c := range createCharges(b, e, channels.WxNative, "wh", n) {
		_, err := e.pc.SandboxPay(context.Background(), testAppID, c.OutTradeNo, "success")
		require.NoError(b, err)
	}
	deliveries := e.pc.DB().Table(e.pc.Tables().Deliveries)
	pending := map[string]any{"lease_until": nil, "lease_token": "", "status": models.DeliveryPending, "attempts": 0}
	var rows []models.Delivery
	require.NoError(b, deliveries.Find(&rows).Error)
	require.Len(b, rows, n)
	analyze(b, e.pc.DB())
	b.ResetTimer()

	// The floor: the same bodies posted by benchClients senders, one update each.
	t0 := time.Now()
	fireFloorDeliveries(e.pc.DB(), e.pc.Tables().Deliveries, rows, sink.URL)
	waitArrivals()
	floorElapsed := time.Since(t0)

	// Ours: the rows wait for a worker to claim them, as retries and the
	// events of a host's transactions do.
	require.NoError(b, e.pc.DB().Table(e.pc.Tables().Deliveries).Where("1 = 1").Updates(pending).Error)
	s0, tx0 := e.counter.Statements(), e.counter.Begins()
	t1 := time.Now()
	e.pc.StartWorkers()
	waitArrivals()
	oursElapsed := time.Since(t1)
	b.StopTimer()
	stmts, txs := e.counter.Statements()-s0, e.counter.Begins()-tx0
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	b.ReportMetric(rate(oursElapsed), "ops/s")
	b.ReportMetric(rate(floorElapsed), "floor-ops/s")
	b.ReportMetric(rate(oursElapsed)/rate(floorElapsed), "x-floor")
	b.ReportMetric(float64(stmts)/float64(n), "stmts/op")
	b.ReportMetric(float64(txs)/float64(n), "tx/op")
	b.ReportMetric(0, "ns/op")
}

// fireFloorDeliveries posts each row's body to url from benchClients
// senders and marks it delivered with one update.
func fireFloorDeliveries(db *gorm.DB, table string, rows []models.Delivery, url string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(rows) {
					return
				}
				resp, err := http.Post(url, "application/json", strings.NewReader(rows[i].Body))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				db.Table(table).Where("id = ?", rows[i].ID).Updates(map[string]any{"status": models.DeliveryDelivered, "attempts": 1})
			}
		}()
	}
	wg.Wait()
}

// createCharges creates n charges of code in-process (not timed) and
// returns them as stored.
func createCharges(b *testing.B, e *benchEnv, code channels.Code, prefix string, n int) []*models.Charge {
	b.Helper()
	out := make([]*models.Charge, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				res, err := e.pc.CreateCharge(context.Background(), testAppID, createParams(code, fmt.Sprintf("%s%010d", prefix, i), 100))
				if err != nil {
					b.Error(err)
					return
				}
				out[i] = res.Charge
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return out
}
