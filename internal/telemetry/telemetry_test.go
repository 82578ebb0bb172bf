package telemetry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// TestNoProviderAllocatesNothing: with no provider installed (the otel
// globals, untouched) or a no-op one, recording a measurement allocates
// nothing: the attribute sets were made at New.
func TestNoProviderAllocatesNothing(t *testing.T) {
	for name, mp := range map[string]metric.MeterProvider{"globals": nil, "noop": noop.NewMeterProvider()} {
		tel, err := New(mp, nil, []string{"sandbox"})
		if err != nil {
			t.Fatal(err)
		}
		route := tel.Route("/api/charges")
		ctx := context.Background()
		span := trace.SpanFromContext(ctx)
		moves := []Move{Paid(channels.WxNative), Refunded(models.RefundSucceeded)}
		start := time.Now()
		allocs := testing.AllocsPerRun(200, func() {
			tel.ChargeCreated(ctx, channels.WxNative)
			tel.Committed(ctx, moves)
			tel.Notification(ctx, "sandbox", BadSignature)
			tel.Notification(ctx, "", UnknownCallback)
			tel.WorkerRun(ctx, WorkerCharges, 1, nil)
			route.End(ctx, span, start, 0, 200)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per round of records", name, allocs)
		}
	}
}

// TestCallOutcomes: a channel call is ok, an error or a timeout, with its
// span marked as an error unless ok; the channels' answers that are not
// failures are ok.
func TestCallOutcomes(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	tel, err := New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)), []string{"wechat"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, call := tel.StartCall(ctx, "wechat", OpClose, channels.WxNative)
	call.End(channels.ErrAlreadyPaid)
	_, call = tel.StartCall(ctx, "wechat", OpQuery, channels.WxNative)
	call.End(errors.New("unreadable answer"))
	expired, cancel := context.WithDeadline(ctx, time.Now())
	defer cancel()
	<-expired.Done()
	_, call = tel.StartCall(expired, "wechat", OpRefund, channels.WxNative)
	call.End(fmt.Errorf("wechat: refund: %w", expired.Err()))
	_, call = tel.StartCall(ctx, "custom", OpBill, "") // a provider not configured at New
	call.End(nil)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "paycenter.channel.calls" {
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				got[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
			}
		}
	}
	want := map[string]int64{
		"operation=close,outcome=ok,provider=wechat":       1,
		"operation=query,outcome=error,provider=wechat":    1,
		"operation=refund,outcome=timeout,provider=wechat": 1,
		"operation=bill,outcome=ok,provider=custom":        1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	status := map[string]codes.Code{}
	for _, s := range spans.Ended() {
		status[s.Name()] = s.Status().Code
	}
	wantStatus := map[string]codes.Code{"paycenter.channel.close": codes.Unset, "paycenter.channel.query": codes.Error,
		"paycenter.channel.refund": codes.Error, "paycenter.channel.bill": codes.Unset}
	if fmt.Sprint(status) != fmt.Sprint(wantStatus) {
		t.Errorf("span status %v, want %v", status, wantStatus)
	}
}
