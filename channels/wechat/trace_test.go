package wechat_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// TestTracedCalls: each call the pay center makes to WeChat Pay (the fake)
// has a span, the child of the caller's, and the SDK's HTTP request a
// client span under it, in the same trace, whose URL names the endpoint
// without the order number or the query.
func TestTracedCalls(t *testing.T) {
	srv := wechattest.NewServer(t)
	ch, err := wechat.New(srv.ChannelConfig(wechattest.PublicKeyMode))
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	pc, err := paycenter.New(paycenter.Config{
		DB: testdb.Open(t, testdb.SQLite), PublicURL: "https://shop.example", TracerProvider: tp,
		Apps:      []paycenter.App{{ID: flowApp, Key: flowKey, Secret: flowSecret, Channels: []channels.Channel{ch}}},
		Reconcile: paycenter.ReconcileConfig{Disabled: true}, Workers: paycenter.WorkersConfig{Disabled: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })

	const no = "trace0000000001"
	ctx, host := tp.Tracer("host").Start(context.Background(), "host")
	if _, err := pc.CreateCharge(ctx, flowApp, paycenter.CreateChargeParams{Channel: channels.WxNative, OutTradeNo: no,
		TotalFee: 100, ClientIP: "203.0.113.9", Subject: "tea", Body: "tea", Created: 1508401409765}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.PayResult(ctx, flowApp, channels.WxNative, no); err != nil { // an active query
		t.Fatal(err)
	}
	host.End()

	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	for _, c := range []struct{ call, http, url string }{
		{"paycenter.channel.create", "HTTP POST", srv.URL + "/v3/pay/transactions/native"},
		{"paycenter.channel.query", "HTTP GET", srv.URL + "/v3/pay/transactions/out-trade-no/{id}"},
	} {
		if len(byName[c.call]) != 1 {
			t.Fatalf("%d spans %s", len(byName[c.call]), c.call)
		}
		call := byName[c.call][0]
		if call.Parent().SpanID() != host.SpanContext().SpanID() {
			t.Errorf("%s: parent %s, want the host's span", c.call, call.Parent().SpanID())
		}
		var found bool
		for _, h := range byName[c.http] {
			if h.Parent().SpanID() != call.SpanContext().SpanID() {
				continue
			}
			found = true
			if h.SpanKind() != trace.SpanKindClient || h.SpanContext().TraceID() != host.SpanContext().TraceID() {
				t.Errorf("%s: kind %v, trace %s", c.http, h.SpanKind(), h.SpanContext().TraceID())
			}
			attrs := map[string]string{}
			for _, kv := range h.Attributes() {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			if attrs["url.full"] != c.url || attrs["http.response.status_code"] != "200" {
				t.Errorf("%s under %s: url.full %q status %q, want %q 200", c.http, c.call, attrs["url.full"],
					attrs["http.response.status_code"], c.url)
			}
			for k, v := range attrs {
				if strings.Contains(v, no) || strings.Contains(v, srv.MchID) {
					t.Errorf("%s: attribute %s says the order number or the mchid: %q", c.http, k, v)
				}
			}
		}
		if !found {
			t.Errorf("no %s span under %s", c.http, c.call)
		}
	}
}
