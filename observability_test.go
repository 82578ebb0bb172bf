package paycenter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels/sandbox"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// observed is a pay center whose metrics go to a manual reader and whose
// spans to a recorder, served behind a host middleware that opens a span
// of its own per request (as otelgin would), with a webhook endpoint.
type observed struct {
	*env
	reader   *sdkmetric.ManualReader
	spans    *tracetest.SpanRecorder
	host     trace.Tracer
	srv      *httptest.Server // the host's server: the host span, then the pay center
	merchant *merchant
	mu       sync.Mutex
	signs    []string // every sign header the clients sent
}

func newObserved(t *testing.T, kind testdb.Kind) *observed {
	o := &observed{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(), merchant: newMerchant(t, 0)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	o.host = tp.Tracer("host")
	o.env = newEnv(t, kind, withWebhooks(o.merchant.srv.URL, time.Minute), noWorkers, func(c *paycenter.Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.reader))
		c.TracerProvider = tp
	})
	engine := o.env.srv.Config.Handler
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := o.host.Start(r.Context(), "host "+r.URL.Path)
		defer span.End()
		engine.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// client signs with secret and sends through the host's server, noting
// the signs it sends.
func (o *observed) client(secret string) *client.Client {
	return client.New(testKey, secret, client.WithBaseURL(o.srv.URL), client.WithClock(o.clock.Now),
		client.WithHTTPClient(&http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			o.mu.Lock()
			o.signs = append(o.signs, r.Header.Get("sign"), r.URL.Query().Get("sign"))
			o.mu.Unlock()
			return http.DefaultTransport.RoundTrip(r)
		})}))
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// collect reads the metrics: per instrument, its points as "k=v,..." →
// value (a histogram's: its count).
func (o *observed) collect(t *testing.T) map[string]map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, o.reader.Collect(context.Background(), &rm))
	out := map[string]map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			points := map[string]float64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] = float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] = float64(p.Count)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			out[m.Name] = points
		}
	}
	return out
}

// span returns the one ended span named name.
func (o *observed) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range o.spans.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %s", name)
	return found[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// TestObservability: after a create, a sandbox payment, a refund, a
// refused API request, a notification with a bad signature and the
// webhooks' delivery, every counter holds exactly what happened, with its
// attributes; the histograms count the same events; the outbox gauges read
// the backlog; and the spans of a request are the children of the host's
// span, with the channel call and the status move under the request's.
func TestObservability(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			o := newObserved(t, kind)
			o.clock.Set(time.Now().Truncate(time.Second)) // stored exactly by every database
			ctx := context.Background()
			c := o.client(testSecret)
			const no, refundNo = "obs000000001", "obsR00000001"
			_, err := c.CreateCharge(ctx, client.ChargeParams{Channel: client.WxNative, OutTradeNo: no, TotalFee: 300,
				ClientIP: "127.0.0.1", Subject: "tea", Body: "tea"})
			require.NoError(t, err)
			resp, err := http.PostForm(o.srv.URL+"/sandbox/pay", url.Values{"appId": {testAppID}, "outTradeNo": {no}, "result": {"success"}})
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			_, err = c.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: refundNo, RefundFee: 100})
			require.NoError(t, err)
			_, err = o.client("not the secret").GetPayResult(ctx, client.WxNative, no)
			require.ErrorIs(t, err, paycenter.CodeBadSign)
			const forged = "0123456789abcdef0123456789abcdef"
			req, err := http.NewRequest(http.MethodPost, o.srv.URL+"/callbacks/"+testAppID+"/sandbox/notify",
				strings.NewReader("outTradeNo="+no+"&result=success&totalFee=300&paidAt=1"))
			require.NoError(t, err)
			req.Header.Set(sandbox.SignatureHeader, forged)
			resp, err = http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode, "the sandbox's failure answer")

			// Two webhooks wait: charge.succeeded and refund.succeeded.
			o.clock.Add(30 * time.Second)
			m := o.collect(t)
			assert.Equal(t, map[string]float64{"status=pending": 2, "status=dead": 0}, m["paycenter.outbox.deliveries"])
			assert.Equal(t, map[string]float64{"": 30}, m["paycenter.outbox.oldest_due.age"], "due when written, 30 s ago")
			o.pc.RunDue(ctx)
			o.merchant.mu.Lock()
			require.Len(t, o.merchant.events, 2)
			o.merchant.mu.Unlock()

			m = o.collect(t)
			requests := map[string]float64{
				"errorCode=0,route=/api/charges":                      1,
				"errorCode=0,route=/sandbox/pay":                      1,
				"errorCode=0,route=/api/refunds":                      1,
				"errorCode=10004,route=/api/charges/pay-result":       1,
				"errorCode=0,route=/callbacks/:appId/:provider/*path": 1,
			}
			assert.Equal(t, requests, m["paycenter.api.requests"])
			assert.Equal(t, requests, m["paycenter.api.request.duration"], "one duration per request")
			assert.Equal(t, map[string]float64{"channel=WX_NATIVE": 1}, m["paycenter.charges.created"])
			assert.Equal(t, map[string]float64{"channel=WX_NATIVE": 1}, m["paycenter.charges.paid"])
			assert.Equal(t, map[string]float64{
				"outcome=accepted,provider=sandbox":                     1,
				"outcome=refused,provider=sandbox,reason=bad_signature": 1,
			}, m["paycenter.notifications"])
			calls := map[string]float64{
				"operation=create,outcome=ok,provider=sandbox": 1,
				"operation=refund,outcome=ok,provider=sandbox": 1,
			}
			assert.Equal(t, calls, m["paycenter.channel.calls"])
			assert.Equal(t, calls, m["paycenter.channel.call.duration"])
			assert.Equal(t, map[string]float64{"outcome=succeeded": 1}, m["paycenter.refunds"])
			deliveries := map[string]float64{"outcome=delivered,target=webhook": 2}
			assert.Equal(t, deliveries, m["paycenter.delivery.attempts"])
			assert.Equal(t, deliveries, m["paycenter.delivery.attempt.duration"])
			assert.Equal(t, map[string]float64{
				"outcome=idle,worker=charges": 1, "outcome=idle,worker=refunds": 1, "outcome=ok,worker=deliveries": 1,
			}, m["paycenter.worker.runs"])
			assert.Equal(t, map[string]float64{"status=pending": 0, "status=dead": 0}, m["paycenter.outbox.deliveries"])
			assert.Equal(t, map[string]float64{"": 0}, m["paycenter.outbox.oldest_due.age"])

			// The refund request's span is the child of the host's, in its
			// trace; the channel call and the move are its children.
			refund := o.span(t, "POST /api/refunds")
			host := o.span(t, "host /api/refunds")
			assert.Equal(t, host.SpanContext().TraceID(), refund.SpanContext().TraceID())
			assert.Equal(t, host.SpanContext().SpanID(), refund.Parent().SpanID())
			assert.Equal(t, trace.SpanKindInternal, refund.SpanKind(), "the host's span is the server span")
			assert.NotEmpty(t, attrs(refund)["paycenter.requestId"])
			assert.Equal(t, map[string]string{"http.request.method": "POST", "http.route": "/api/refunds",
				"http.response.status_code": "200", "paycenter.errorCode": "0", "paycenter.requestId": attrs(refund)["paycenter.requestId"]},
				attrs(refund))
			for _, name := range []string{"paycenter.channel.refund", "paycenter.refund.succeed"} {
				child := o.span(t, name)
				assert.Equal(t, refund.SpanContext().TraceID(), child.SpanContext().TraceID(), name)
				assert.Equal(t, refund.SpanContext().SpanID(), child.Parent().SpanID(), name)
			}
			assert.Equal(t, map[string]string{"paycenter.channel": "WX_NATIVE", "paycenter.status.from": "PROCESSING",
				"paycenter.status.to": "SUCCESS"}, attrs(o.span(t, "paycenter.refund.succeed")))
			assert.Equal(t, map[string]string{"paycenter.provider": "sandbox", "paycenter.operation": "refund",
				"paycenter.channel": "WX_NATIVE", "paycenter.outcome": "ok"}, attrs(o.span(t, "paycenter.channel.refund")))
			pay := o.span(t, "paycenter.charge.pay")
			assert.Equal(t, o.span(t, "POST /sandbox/pay").SpanContext().SpanID(), pay.Parent().SpanID())
			assert.Equal(t, map[string]string{"paycenter.channel": "WX_NATIVE", "paycenter.status.from": "CREATED",
				"paycenter.status.to": "PAID"}, attrs(pay))
			assert.Equal(t, o.span(t, "POST /api/charges").SpanContext().SpanID(), o.span(t, "paycenter.channel.create").Parent().SpanID())
			assert.Equal(t, "10004", attrs(o.span(t, "GET /api/charges/pay-result"))["paycenter.errorCode"])
			// Each webhook attempt's span has its HTTP request's span as child.
			attempts := map[trace.SpanID]bool{}
			for _, s := range o.spans.Ended() {
				if s.Name() == "paycenter.delivery.webhook" {
					attempts[s.SpanContext().SpanID()] = true
					assert.Equal(t, "delivered", attrs(s)["paycenter.outcome"])
				}
			}
			assert.Len(t, attempts, 2)
			var posts int
			for _, s := range o.spans.Ended() {
				if s.Name() == "HTTP POST" {
					posts++
					assert.True(t, attempts[s.Parent().SpanID()], "the HTTP span's parent is an attempt's")
					assert.Equal(t, o.merchant.srv.URL, attrs(s)["url.full"])
				}
			}
			assert.Equal(t, 2, posts)

			// No span says an order number or a signature.
			o.mu.Lock()
			secrets := append([]string{no, refundNo, forged, testSecret}, o.signs...)
			o.mu.Unlock()
			for _, s := range o.spans.Ended() {
				var said []string
				for _, kv := range s.Attributes() {
					said = append(said, kv.Value.String())
				}
				for _, ev := range s.Events() {
					for _, kv := range ev.Attributes {
						said = append(said, kv.Value.String())
					}
				}
				said = append(said, s.Name(), s.Status().Description)
				for _, v := range said {
					for _, secret := range secrets {
						if secret != "" {
							assert.NotContains(t, v, secret, "span %s", s.Name())
						}
					}
				}
			}
		})
	}
}

// TestObservabilityTraceparent: without a span from the host, the request
// span continues the trace of the request's traceparent header, as the
// global propagator reads it.
func TestObservabilityTraceparent(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	o := newObserved(t, testdb.SQLite)
	req, err := http.NewRequest(http.MethodPost, o.env.srv.URL+"/sandbox/pay", strings.NewReader("appId=11&outTradeNo=nosuch000001&result=success"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	s := o.span(t, "POST /sandbox/pay")
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.SpanContext().TraceID().String())
	assert.Equal(t, "00f067aa0ba902b7", s.Parent().SpanID().String())
	assert.True(t, s.Parent().IsRemote())
	assert.Equal(t, trace.SpanKindServer, s.SpanKind())
	assert.Equal(t, "404", attrs(s)["http.response.status_code"])
}

// TestObservabilityOff: with no providers configured and none installed
// globally, the pay center works as ever and records nothing: the hooks
// see no span, and a host's span in the context is passed through as it
// is (the pay center makes no spans of its own).
func TestObservabilityOff(t *testing.T) {
	var seen []trace.SpanContext
	e := newEnv(t, testdb.SQLite, noWorkers)
	e.onPaid = func(ctx context.Context, ev *hooks.Paid) error {
		seen = append(seen, trace.SpanContextFromContext(ctx))
		if trace.SpanFromContext(ctx).IsRecording() {
			return errors.New("a recording span reached the hook")
		}
		return nil
	}
	ctx := context.Background()
	_, err := e.client.CreateCharge(ctx, client.ChargeParams{Channel: client.AliWeb, OutTradeNo: "off000000001", TotalFee: 100,
		ClientIP: "127.0.0.1", Subject: "tea", Body: "tea"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.sandboxPay("off000000001", "success"))
	_, err = e.client.Refund(ctx, client.RefundParams{OutTradeNo: "off000000001", OutRefundNo: "offR00000001", RefundFee: 100})
	require.NoError(t, err)
	e.pc.RunDue(ctx)

	// Through the Go API, with a host span in ctx: the hook sees that span
	// and no other.
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	_, err = e.pc.CreateCharge(trace.ContextWithSpanContext(ctx, sc), testAppID, createParams("WX_NATIVE", "off000000002", 100))
	require.NoError(t, err)
	_, err = e.pc.SandboxPay(trace.ContextWithSpanContext(ctx, sc), testAppID, "off000000002", "success")
	require.NoError(t, err)
	require.Len(t, seen, 2)
	assert.False(t, seen[0].IsValid(), "no span context was made for the HTTP request")
	assert.Equal(t, sc, seen[1], "the host's span context, untouched")
	assert.Equal(t, int64(2), e.paid.Load())
}
