package paycenter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// merchant is a webhook endpoint that verifies every delivery and records
// what it saw per event id.
type merchant struct {
	t         testing.TB
	srv       *httptest.Server
	failFirst int           // answer 500 to the first failFirst attempts of each event
	hold      time.Duration // simulated processing time
	mu        sync.Mutex
	attempts  map[string]int
	delivered map[string]int // 2xx answers per event
	inflight  map[string]int
	overlaps  int // attempts of one event that overlapped
	late      int // attempts after the event was already delivered
	events    map[string]client.Event
	done      chan string     // receives an event id on its first 2xx
	onAttempt func(id string) // when set, sees every verified attempt
}

func newMerchant(t testing.TB, failFirst int) *merchant {
	m := &merchant{t: t, failFirst: failFirst, attempts: map[string]int{}, delivered: map[string]int{},
		inflight: map[string]int{}, events: map[string]client.Event{}, done: make(chan string, 10000)}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *merchant) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// The tolerance covers tests that move the pay center's clock ahead.
	ev, err := client.ParseWebhook(body, r.Header, testSecret, 30*24*time.Hour)
	if err != nil {
		m.t.Errorf("webhook does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.Header.Get("key") != testKey || r.Header.Get("Content-Type") != "application/json" {
		m.t.Errorf("webhook headers: key %q, content type %q", r.Header.Get("key"), r.Header.Get("Content-Type"))
	}
	if m.onAttempt != nil {
		m.onAttempt(ev.ID)
	}
	m.mu.Lock()
	m.attempts[ev.ID]++
	n := m.attempts[ev.ID]
	if m.delivered[ev.ID] > 0 {
		m.late++
	}
	m.inflight[ev.ID]++
	if m.inflight[ev.ID] > 1 {
		m.overlaps++
	}
	m.events[ev.ID] = *ev
	m.mu.Unlock()
	if m.hold > 0 {
		time.Sleep(m.hold) // simulated merchant processing time, not a wait for our work
	}
	m.mu.Lock()
	m.inflight[ev.ID]--
	ok := n > m.failFirst
	if ok {
		m.delivered[ev.ID]++
	}
	m.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	if n == m.failFirst+1 {
		m.done <- ev.ID
	}
}

// waitDelivered waits until n distinct events were delivered.
func (m *merchant) waitDelivered(n int, within time.Duration) {
	m.t.Helper()
	deadline := time.After(within)
	for got := 0; got < n; got++ {
		select {
		case <-m.done:
		case <-deadline:
			m.t.Fatalf("only %d of %d webhooks delivered within %s", got, n, within)
		}
	}
}

func withWebhooks(url string, schedule ...time.Duration) option {
	return func(c *paycenter.Config) {
		c.Apps[0].NotifyURL = url
		c.Webhook.AllowPrivateNetworks = true // the test endpoint is on 127.0.0.1
		c.Webhook.Schedule = schedule
		c.Webhook.Timeout = 5 * time.Second
	}
}

func realClock(c *paycenter.Config) {
	c.Now = time.Now
	c.Workers.PollInterval = 5 * time.Millisecond
}

func payN(t testing.TB, pc *paycenter.PayCenter, prefix string, n int, ch channels.Code) []string {
	t.Helper()
	ctx := context.Background()
	nos := make([]string, n)
	for i := range n {
		nos[i] = fmt.Sprintf("%s%06d", prefix, i)
		_, err := pc.CreateCharge(ctx, testAppID, createParams(ch, nos[i], int64(100+i)))
		require.NoError(t, err)
		_, err = pc.SandboxPay(ctx, testAppID, nos[i], "success")
		require.NoError(t, err)
	}
	return nos
}

// TestWebhooksThousandPayments: 1,000 payments, the merchant failing the
// first 3 answers of each: every charge.succeeded arrives, signed, once
// after its success.
func TestWebhooksThousandPayments(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	m := newMerchant(t, 3)
	e := newEnv(t, testdb.SQLite, withWebhooks(m.srv.URL, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond), realClock)
	nos := payN(t, e.pc, "wh", n, channels.WxNative)
	m.waitDelivered(n, 3*time.Minute)
	require.NoError(t, e.pc.Close(), "stops the workers")

	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Len(t, m.delivered, n)
	assert.Zero(t, m.late, "no event delivered again after its success")
	assert.Zero(t, m.overlaps)
	seen := map[string]bool{}
	for id, ev := range m.events {
		assert.Equal(t, client.EventChargeSucceeded, ev.Type)
		assert.Equal(t, 4, m.attempts[id])
		pr, err := (&ev).PayResult()
		require.NoError(t, err)
		assert.True(t, pr.HasPay)
		seen[pr.OutTradeNo] = true
	}
	for _, no := range nos {
		assert.True(t, seen[no], "webhook of %s", no)
	}
	assert.EqualValues(t, n, e.count(e.pc.Tables().Deliveries, "status = ? AND attempts = 4", models.DeliveryDelivered))
}

// TestTwoInstances: two pay centers on one PostgreSQL or MariaDB database
// deliver 500 events between them, never two attempts of one event at once.
func TestTwoInstances(t *testing.T) {
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MySQL} {
		t.Run(string(kind), func(t *testing.T) {
			m := newMerchant(t, 1)
			m.hold = time.Millisecond
			db := testdb.Open(t, kind)
			shared := func(c *paycenter.Config) { c.DB = db }
			a := newEnv(t, kind, shared, withWebhooks(m.srv.URL, time.Millisecond), realClock, noWorkers)
			b := newEnv(t, kind, shared, withWebhooks(m.srv.URL, time.Millisecond), realClock, noWorkers)
			payN(t, a.pc, "two", 500, channels.AliWeb)
			a.pc.StartWorkers()
			b.pc.StartWorkers()
			m.waitDelivered(500, 3*time.Minute)
			require.NoError(t, a.pc.Close())
			require.NoError(t, b.pc.Close())
			m.mu.Lock()
			defer m.mu.Unlock()
			assert.Len(t, m.delivered, 500)
			assert.Zero(t, m.overlaps, "two attempts of one event at once")
			assert.Zero(t, m.late)
		})
	}
}

func noWorkers(c *paycenter.Config) { c.Workers.Disabled = true }

// TestWebhookDeadAndRedeliver: after the schedule the delivery is dead; the
// Go API lists it and sends it again with the same event id.
func TestWebhookDeadAndRedeliver(t *testing.T) {
	m := newMerchant(t, 3)
	e := newEnv(t, testdb.SQLite, withWebhooks(m.srv.URL, time.Minute, time.Hour), noWorkers)
	ctx := context.Background()
	payN(t, e.pc, "dead", 1, channels.WxNative)
	for range 3 {
		assert.Equal(t, 1, e.pc.RunDue(ctx))
		assert.Equal(t, 0, e.pc.RunDue(ctx), "nothing is due before the next retry")
		e.clock.Add(time.Hour + 7*time.Minute) // the longest wait plus its jitter
	}
	ds, err := e.pc.Deliveries(ctx, paycenter.DeliveryFilter{Status: models.DeliveryDead})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	d := ds[0]
	assert.Equal(t, 3, d.Attempts)
	assert.Equal(t, 500, d.LastStatus)
	assert.Contains(t, d.LastError, "HTTP 500")
	assert.Equal(t, 0, e.pc.RunDue(ctx), "a dead delivery is not retried")

	require.NoError(t, e.pc.Redeliver(ctx, d.ID))
	assert.Equal(t, 1, e.pc.RunDue(ctx))
	ds, err = e.pc.Deliveries(ctx, paycenter.DeliveryFilter{EventID: d.EventID})
	require.NoError(t, err)
	assert.Equal(t, models.DeliveryDelivered, ds[0].Status)
	m.mu.Lock()
	assert.Equal(t, 4, m.attempts[d.EventID], "the same event id on every attempt")
	m.mu.Unlock()
}

// TestRedeliverTwice: Redeliver of a delivery already due now (asked twice
// in the same instant) succeeds on every database — MariaDB reports no row
// affected by an update that changes nothing — and an unknown id is a
// 10008 (CodeNotFound).
func TestRedeliverTwice(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind, withWebhooks("http://127.0.0.1:9/webhook", time.Minute), noWorkers)
			ctx := context.Background()
			payN(t, e.pc, "twice", 1, channels.WxNative)
			ds, err := e.pc.Deliveries(ctx, paycenter.DeliveryFilter{})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			require.NoError(t, e.pc.Redeliver(ctx, ds[0].ID))
			require.NoError(t, e.pc.Redeliver(ctx, ds[0].ID))
			assert.ErrorIs(t, e.pc.Redeliver(ctx, ds[0].ID+1000), paycenter.CodeNotFound)
		})
	}
}

// TestWebhookRedirectNotFollowed: a 3xx is a failed attempt.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	e := newEnv(t, testdb.SQLite, withWebhooks(redirect.URL, time.Minute), noWorkers)
	payN(t, e.pc, "redir", 1, channels.WxNative)
	require.Equal(t, 1, e.pc.RunDue(context.Background()))
	ds, err := e.pc.Deliveries(context.Background(), paycenter.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, models.DeliveryPending, ds[0].Status)
	assert.Equal(t, http.StatusFound, ds[0].LastStatus)
	assert.Zero(t, followed.Load())
}

// TestWebhookDialGuard: without AllowPrivateNetworks, a NotifyURL reaching
// loopback (directly or through DNS) or the metadata address is refused at
// dial time, and the refusal is in the delivery record.
func TestWebhookDialGuard(t *testing.T) {
	var hits atomic.Int64
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(local.Close)
	u, err := url.Parse(local.URL)
	require.NoError(t, err)
	port := u.Port()
	for _, c := range []struct{ url, want string }{
		{local.URL + "/hook", "refused to connect to 127.0.0.1: a loopback address"},
		{"http://localhost:" + port + "/hook", "a loopback address"},
		{"http://169.254.169.254/latest/meta-data/", "refused to connect to 169.254.169.254: a link-local (cloud metadata) address"},
		{"http://10.1.2.3/hook", "a private address"},
	} {
		t.Run(c.url, func(t *testing.T) {
			e := newEnv(t, testdb.SQLite, noWorkers, func(cfg *paycenter.Config) { cfg.Apps[0].NotifyURL = c.url })
			payN(t, e.pc, "guard", 1, channels.WxNative)
			require.Equal(t, 1, e.pc.RunDue(context.Background()))
			ds, err := e.pc.Deliveries(context.Background(), paycenter.DeliveryFilter{Target: models.TargetWebhook})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			assert.Equal(t, models.DeliveryPending, ds[0].Status)
			assert.Contains(t, ds[0].LastError, c.want)
		})
	}
	assert.Zero(t, hits.Load(), "nothing reached the loopback server")
}

// TestAfterPaidRetried: an AfterPaid hook that fails is retried with
// backoff until it succeeds; the payment stays committed throughout.
func TestAfterPaidRetried(t *testing.T) {
	var calls atomic.Int64
	var events []string
	e := newEnv(t, testdb.SQLite, noWorkers, func(c *paycenter.Config) {
		c.Hooks = append(c.Hooks, hooks.AfterPaidFunc(func(ctx context.Context, ev *hooks.Event) error {
			n := calls.Add(1)
			events = append(events, ev.ID)
			assert.Equal(t, int(n), ev.Attempt)
			assert.Equal(t, models.ChargePaid, ev.Charge.Status, "the payment is committed when the hook runs")
			if n <= 3 {
				return errors.New("mail server down")
			}
			return nil
		}))
	})
	ctx := context.Background()
	payN(t, e.pc, "after", 1, channels.WxApp)
	for i := range 3 {
		require.Equal(t, 1, e.pc.RunDue(ctx))
		pr, err := e.pc.PayResult(ctx, testAppID, channels.WxApp, "after000000")
		require.NoError(t, err)
		assert.True(t, pr.HasPay, "still paid after %d failures", i+1)
		assert.Equal(t, 0, e.pc.RunDue(ctx), "not retried before its backoff")
		e.clock.Add(time.Duration(2<<i) * time.Second)
	}
	require.Equal(t, 1, e.pc.RunDue(ctx))
	assert.EqualValues(t, 4, calls.Load())
	assert.Equal(t, events[0], events[3], "one event, retried")
	e.clock.Add(time.Hour)
	assert.Equal(t, 0, e.pc.RunDue(ctx), "not run again after success")
	ds, err := e.pc.Deliveries(ctx, paycenter.DeliveryFilter{Target: models.TargetHooks})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, models.DeliveryDelivered, ds[0].Status)
}

// TestEventsOfEveryTransition: closed, refund succeeded and refund failed
// produce their webhooks, with the pay-result / refund-result fields.
func TestEventsOfEveryTransition(t *testing.T) {
	m := newMerchant(t, 0)
	e := newEnv(t, testdb.SQLite, withWebhooks(m.srv.URL, time.Minute), noWorkers)
	ctx := context.Background()
	_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWap, "ev0000000001", 100))
	require.NoError(t, err)
	_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWap, "ev0000000001")
	require.NoError(t, err)
	payN(t, e.pc, "ev", 1, channels.WxNative)
	_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "ev000000", OutRefundNo: "evr1", RefundFee: 40})
	require.NoError(t, err)
	require.Equal(t, 3, e.pc.RunDue(ctx))
	m.mu.Lock()
	defer m.mu.Unlock()
	types := map[client.EventType]client.Event{}
	for _, ev := range m.events {
		types[ev.Type] = ev
	}
	require.Len(t, types, 3)
	var closed map[string]any
	require.NoError(t, json.Unmarshal(types[client.EventChargeClosed].Data, &closed))
	assert.Equal(t, "CLOSED", closed["status"])
	refunded := types[client.EventRefundSucceeded]
	rr, err := refunded.RefundResult()
	require.NoError(t, err)
	assert.Equal(t, "evr1", rr.OutRefundNo)
	assert.EqualValues(t, 40, rr.RefundFee)
	var refundData map[string]any
	require.NoError(t, json.Unmarshal(refunded.Data, &refundData))
	assert.Equal(t, "no=ev000000", refundData["attach"], "attach is included")
	assert.Equal(t, "WX_NATIVE", refundData["channel"])
	paid := types[client.EventChargeSucceeded]
	pr, err := paid.PayResult()
	require.NoError(t, err)
	assert.Equal(t, "ev000000", pr.OutTradeNo)
	assert.True(t, pr.HasPay)
	assert.Equal(t, "no=ev000000", pr.Attach)
}
