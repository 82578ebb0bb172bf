package paycenter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// gate is a webhook endpoint that holds every attempt until the test opens
// it (answering 204) or the pay center gives the attempt up.
type gate struct {
	srv     *httptest.Server
	arrived chan struct{} // one per attempt, when it arrives
	open    chan struct{} // closed: answer
	served  atomic.Int64  // attempts answered 204
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}, 100), open: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.open:
			g.served.Add(1)
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done(): // the pay center cut the attempt off
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gate) waitArrival(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook attempt arrived")
	}
}

// stopAsync calls Stop(ctx) in a goroutine; the channel closes when Stop
// has returned.
func stopAsync(pc *paycenter.PayCenter, ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() { pc.Stop(ctx); close(done) }()
	return done
}

func deliveryOf(t *testing.T, e *env) models.Delivery {
	t.Helper()
	ds, err := e.pc.Deliveries(context.Background(), paycenter.DeliveryFilter{Target: models.TargetWebhook})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	return ds[0]
}

// TestStopLetsAttemptsFinish: Stop waits for the webhook attempt in flight,
// which is recorded delivered.
func TestStopLetsAttemptsFinish(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			g := newGate(t)
			e := newEnv(t, kind, withWebhooks(g.srv.URL, time.Minute), realClock)
			payN(t, e.pc, "stop", 1, channels.AliWeb)
			g.waitArrival(t)

			stopped := stopAsync(e.pc, context.Background())
			select {
			case <-stopped:
				t.Fatal("Stop returned while an attempt was in flight")
			default:
			}
			close(g.open)
			<-stopped
			d := deliveryOf(t, e)
			assert.Equal(t, models.DeliveryDelivered, d.Status)
			assert.EqualValues(t, 1, d.Attempts)
			assert.Nil(t, d.LeaseUntil)
			assert.Empty(t, d.LeaseToken)
			assert.EqualValues(t, 1, g.served.Load())
			assert.Equal(t, paycenter.WorkersStopped, e.pc.Health(context.Background()).Workers)
		})
	}
}

// TestStopCutsOffAndReleases: when Stop's context ends, the attempt in
// flight is cut off and its lease released at once, so another instance
// delivers it without waiting for the lease to end; the cut-off attempt is
// not counted. Both ways an attempt starts are covered: at once after the
// commit that wrote it, and by the scheduler (a redelivery).
func TestStopCutsOffAndReleases(t *testing.T) {
	for _, kind := range testdb.Kinds {
		for _, how := range []string{"after commit", "scheduled"} {
			t.Run(string(kind)+"/"+how, func(t *testing.T) {
				ctx := context.Background()
				g := newGate(t)
				e := newEnv(t, kind, withWebhooks(g.srv.URL, time.Minute), realClock)
				if how == "scheduled" {
					e.pc.Stop(ctx)
					payN(t, e.pc, "cut", 1, channels.AliWeb) // written while stopped: left to the workers
					d := deliveryOf(t, e)
					require.NoError(t, e.pc.Redeliver(ctx, d.ID))
					e.pc.Start(ctx)
				} else {
					payN(t, e.pc, "cut", 1, channels.AliWeb)
				}
				g.waitArrival(t)

				stopCtx, cutOff := context.WithCancel(ctx)
				stopped := stopAsync(e.pc, stopCtx)
				cutOff()
				<-stopped
				d := deliveryOf(t, e)
				assert.Equal(t, models.DeliveryPending, d.Status)
				assert.Nil(t, d.LeaseUntil, "the lease is released")
				assert.Empty(t, d.LeaseToken)
				assert.Zero(t, d.Attempts, "a cut-off attempt is not counted")
				assert.False(t, d.NextAttemptAt.After(time.Now()), "due now, not when the lease would have ended")
				assert.Zero(t, g.served.Load())
				assert.Empty(t, g.arrived, "no attempt after Stop")

				// Another instance on the database takes it over at once.
				close(g.open)
				other, err := paycenter.New(paycenter.Config{DB: e.pc.DB(), SkipMigrate: true, Workers: paycenter.WorkersConfig{Disabled: true},
					Apps:    []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret, NotifyURL: g.srv.URL}},
					Webhook: paycenter.WebhookConfig{AllowPrivateNetworks: true}})
				require.NoError(t, err)
				defer other.Close()
				other.RunDue(ctx)
				d = deliveryOf(t, e)
				assert.Equal(t, models.DeliveryDelivered, d.Status)
				assert.EqualValues(t, 1, d.Attempts)
				assert.Len(t, g.arrived, 1, "one more attempt, by the other instance")
			})
		}
	}
}

// TestLifecycleLeavesNoGoroutine: Start and Stop, twice, with a payment
// delivered in each run: nothing of the pay center's keeps running after
// Stop (checked with goleak against the goroutines before Start).
func TestLifecycleLeavesNoGoroutine(t *testing.T) {
	m := newMerchant(t, 0)
	e := newEnv(t, testdb.SQLite, withWebhooks(m.srv.URL, time.Minute), realClock, noWorkers)
	ctx := context.Background()
	require.Equal(t, paycenter.WorkersDisabled, e.pc.Health(ctx).Workers)
	before := goleak.IgnoreCurrent()
	for run := range 2 {
		e.pc.Start(ctx)
		assert.Equal(t, paycenter.WorkersRunning, e.pc.Health(ctx).Workers)
		payN(t, e.pc, []string{"leakA", "leakB"}[run], 1, channels.AliWeb)
		m.waitDelivered(1, 30*time.Second)
		e.pc.Stop(ctx)
	}
	m.srv.CloseClientConnections()
	goleak.VerifyNone(t, before)
}

// TestHealth: the backlog as Health reports it, and a database that does
// not answer.
func TestHealth(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, kind, withWebhooks("http://127.0.0.1:1/hook", time.Minute), noWorkers)
			h := e.pc.Health(ctx)
			assert.True(t, h.Healthy())
			assert.True(t, h.DatabaseOK)
			assert.Equal(t, paycenter.WorkersDisabled, h.Workers)
			assert.Zero(t, h.PendingDeliveries)
			assert.Zero(t, h.OldestDueDelivery)

			payN(t, e.pc, "health", 2, channels.AliWeb) // two webhooks nobody sends
			e.clock.Add(90 * time.Second)
			h = e.pc.Health(ctx)
			assert.EqualValues(t, 2, h.PendingDeliveries)
			assert.InDelta(t, 90*time.Second, h.OldestDueDelivery, float64(time.Millisecond), "stored times are rounded")
			assert.Zero(t, h.DeadDeliveries)

			ds, err := e.pc.Deliveries(ctx, paycenter.DeliveryFilter{})
			require.NoError(t, err)
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Deliveries).Where("id = ?", ds[0].ID).Update("status", models.DeliveryDead).Error)
			h = e.pc.Health(ctx)
			assert.EqualValues(t, 1, h.PendingDeliveries)
			assert.EqualValues(t, 1, h.DeadDeliveries)

			sqlDB, err := e.pc.DB().DB()
			require.NoError(t, err)
			require.NoError(t, sqlDB.Close())
			h = e.pc.Health(ctx)
			assert.False(t, h.Healthy())
			assert.False(t, h.DatabaseOK)
			assert.Error(t, h.Database)
		})
	}
}
