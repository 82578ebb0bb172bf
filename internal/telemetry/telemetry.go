// Package telemetry is the pay center's OpenTelemetry instrumentation: its
// metric instruments and its tracer, made once by New from the providers
// of paycenter.Config (the otel globals when nil, which record nothing
// until a host installs a provider). The engine records through one method
// per measurement, so that a record is one line where it happens.
//
// Attributes are low-cardinality only: channel code, provider, route,
// errorCode, operation, outcome, reason, worker, target, status; never an
// order number, an app id, an amount or a URL. The attribute sets of the
// values known at New (the channel codes, the configured providers, the
// fixed vocabularies) are made there, once, and a route's when it is
// registered: recording allocates nothing beyond what the API needs.
package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// ScopeName is the instrumentation scope of the pay center's meter and
// tracer.
const ScopeName = "github.com/gopaycenter/paycenter"

// The attribute keys. Metric attributes use the short names; span-only
// attributes are namespaced.
const (
	keyRoute     = attribute.Key("route")
	keyErrorCode = attribute.Key("errorCode")
	keyChannel   = attribute.Key("channel")
	keyProvider  = attribute.Key("provider")
	keyOperation = attribute.Key("operation")
	keyOutcome   = attribute.Key("outcome")
	keyReason    = attribute.Key("reason")
	keyWorker    = attribute.Key("worker")
	keyTarget    = attribute.Key("target")
	keyStatus    = attribute.Key("status")

	// KeyRequestID is the span attribute of an API request's requestId.
	KeyRequestID = attribute.Key("paycenter.requestId")
	spanChannel  = attribute.Key("paycenter.channel")
	spanProvider = attribute.Key("paycenter.provider")
	spanOp       = attribute.Key("paycenter.operation")
	spanFrom     = attribute.Key("paycenter.status.from")
	spanTo       = attribute.Key("paycenter.status.to")
	spanError    = attribute.Key("paycenter.errorCode")
	spanTarget   = attribute.Key("paycenter.target")
	spanEvent    = attribute.Key("paycenter.event")
	spanDelivery = attribute.Key("paycenter.delivery.id")
	spanAttempt  = attribute.Key("paycenter.delivery.attempt")
	spanOutcome  = attribute.Key("paycenter.outcome")
)

// durationBuckets are the histograms' bucket bounds, in seconds: from a
// fast API answer to a slow bill download.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// set is one attribute set as the options the instruments take, made once:
// a precomputed slice spares building the options at each record.
type set struct {
	add []metric.AddOption
	rec []metric.RecordOption
	obs []metric.ObserveOption
}

func newSet(kv ...attribute.KeyValue) set {
	o := metric.WithAttributeSet(attribute.NewSet(kv...))
	return set{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}, obs: []metric.ObserveOption{o}}
}

// Telemetry holds the instruments and the tracer. Its methods are safe for
// concurrent use.
type Telemetry struct {
	tracer trace.Tracer
	meter  metric.Meter

	apiRequests   metric.Int64Counter
	apiDuration   metric.Float64Histogram
	created       metric.Int64Counter
	paid          metric.Int64Counter
	notifications metric.Int64Counter
	calls         metric.Int64Counter
	callDuration  metric.Float64Histogram
	refunds       metric.Int64Counter
	deliveries    metric.Int64Counter
	deliveryTime  metric.Float64Histogram
	workerRuns    metric.Int64Counter
	outboxDepth   metric.Int64ObservableGauge
	outboxAge     metric.Float64ObservableGauge

	byCode     map[channels.Code]set
	byProvider map[string]*providerSets
	refundSets [nRefundOutcomes]set
	delivery   [nTargets][nDeliveryOutcomes]set
	workers    [nWorkers][nWorkerOutcomes]set
	pending    set
	dead       set

	outbox metric.Registration
}

// providerSets are the attribute sets of one provider.
type providerSets struct {
	notify [nReasons]set
	calls  [nOps][nCallOutcomes]set
}

// New makes the instruments from mp and the tracer from tp (the otel
// globals when nil). providers are the configured channels' providers;
// another one still records, building its attributes at each record.
func New(mp metric.MeterProvider, tp trace.TracerProvider, providers []string) (*Telemetry, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Telemetry{tracer: tp.Tracer(ScopeName), meter: mp.Meter(ScopeName)}
	b := builder{m: t.meter}
	t.apiRequests = b.counter("paycenter.api.requests", "{request}", "Requests to the pay center's routes, by route and errorCode (0: success, and the routes without the API envelope).")
	t.apiDuration = b.histogram("paycenter.api.request.duration", "Time to answer a request to the pay center's routes, by route and errorCode.")
	t.created = b.counter("paycenter.charges.created", "{charge}", "Charges created (not the repeats of a create), by channel code.")
	t.paid = b.counter("paycenter.charges.paid", "{charge}", "Charges moved to PAID, by channel code; counted once their transaction has committed.")
	t.notifications = b.counter("paycenter.notifications", "{notification}", "Channel notifications, by provider and outcome (accepted, refused) with the reason of a refusal.")
	t.calls = b.counter("paycenter.channel.calls", "{call}", "Calls to the channels, by provider, operation and outcome (ok, error, timeout).")
	t.callDuration = b.histogram("paycenter.channel.call.duration", "Time of a call to a channel, by provider, operation and outcome.")
	t.refunds = b.counter("paycenter.refunds", "{refund}", "Refunds that reached SUCCESS, FAILED or ABNORMAL, by outcome (succeeded, failed, abnormal).")
	t.deliveries = b.counter("paycenter.delivery.attempts", "{attempt}", "Outbox delivery attempts, by target (webhook, hooks) and outcome (delivered, failed, dead, cut_off).")
	t.deliveryTime = b.histogram("paycenter.delivery.attempt.duration", "Time of an outbox delivery attempt, by target and outcome.")
	t.workerRuns = b.counter("paycenter.worker.runs", "{run}", "Runs of the background workers (charges, refunds, deliveries, reconcile), by outcome (ok: work done, idle: nothing due, error).")
	var err error
	t.outboxDepth, err = t.meter.Int64ObservableGauge("paycenter.outbox.deliveries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Outbox entries not delivered, by status (pending, dead); read from the database when collected."))
	b.errs = append(b.errs, err)
	t.outboxAge, err = t.meter.Float64ObservableGauge("paycenter.outbox.oldest_due.age", metric.WithUnit("s"),
		metric.WithDescription("How long the earliest due outbox entry has waited past its due time (0: none is due)."))
	b.errs = append(b.errs, err)
	if err := errors.Join(b.errs...); err != nil {
		return nil, err
	}

	t.byCode = make(map[channels.Code]set, len(channels.Codes))
	for _, c := range channels.Codes {
		t.byCode[c] = newSet(keyChannel.String(string(c)))
	}
	t.byProvider = map[string]*providerSets{"unknown": newProviderSets("unknown")}
	for _, p := range providers {
		t.byProvider[p] = newProviderSets(p)
	}
	for o := range nRefundOutcomes {
		t.refundSets[o] = newSet(keyOutcome.String(refundOutcomeNames[o]))
	}
	for tg := range nTargets {
		for o := range nDeliveryOutcomes {
			t.delivery[tg][o] = newSet(keyTarget.String(targetNames[tg]), keyOutcome.String(deliveryOutcomeNames[o]))
		}
	}
	for w := range nWorkers {
		for o := range nWorkerOutcomes {
			t.workers[w][o] = newSet(keyWorker.String(workerNames[w]), keyOutcome.String(workerOutcomeNames[o]))
		}
	}
	t.pending, t.dead = newSet(keyStatus.String("pending")), newSet(keyStatus.String("dead"))
	return t, nil
}

// builder makes instruments, collecting their errors.
type builder struct {
	m    metric.Meter
	errs []error
}

func (b *builder) counter(name, unit, desc string) metric.Int64Counter {
	c, err := b.m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.errs = append(b.errs, err)
	return c
}

func (b *builder) histogram(name, desc string) metric.Float64Histogram {
	h, err := b.m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	b.errs = append(b.errs, err)
	return h
}

func newProviderSets(p string) *providerSets {
	s := &providerSets{}
	s.notify[Accepted] = newSet(keyProvider.String(p), keyOutcome.String("accepted"))
	for r := Accepted + 1; r < nReasons; r++ {
		s.notify[r] = newSet(keyProvider.String(p), keyOutcome.String("refused"), keyReason.String(reasonNames[r]))
	}
	for op := range nOps {
		for o := range nCallOutcomes {
			s.calls[op][o] = newSet(keyProvider.String(p), keyOperation.String(opNames[op]), keyOutcome.String(callOutcomeNames[o]))
		}
	}
	return s
}

// provider returns p's sets: made at New, or now for a provider not
// configured then.
func (t *Telemetry) provider(p string) *providerSets {
	if s := t.byProvider[p]; s != nil {
		return s
	}
	return newProviderSets(p)
}

// Tracer is the pay center's tracer.
func (t *Telemetry) Tracer() trace.Tracer { return t.tracer }

// Close unregisters the outbox gauges' callback (the database it reads may
// be closed next).
func (t *Telemetry) Close() {
	if t.outbox != nil {
		_ = t.outbox.Unregister()
		t.outbox = nil
	}
}

// ChargeCreated counts a charge created on channel code.
func (t *Telemetry) ChargeCreated(ctx context.Context, code channels.Code) {
	t.created.Add(ctx, 1, t.codeSet(code).add...)
}

func (t *Telemetry) codeSet(code channels.Code) set {
	if s, ok := t.byCode[code]; ok {
		return s
	}
	return newSet(keyChannel.String(string(code)))
}

// Move is a status move to count once its transaction has committed: a
// charge paid, or a refund that reached a status of the refund outcomes.
type Move struct {
	paid   channels.Code
	refund models.RefundStatus
}

// Paid is the move of a charge on channel code to PAID.
func Paid(code channels.Code) Move { return Move{paid: code} }

// Refunded is the move of a refund to status.
func Refunded(status models.RefundStatus) Move { return Move{refund: status} }

// Committed counts the moves of a transaction that has committed.
func (t *Telemetry) Committed(ctx context.Context, moves []Move) {
	for _, m := range moves {
		if m.paid != "" {
			t.paid.Add(ctx, 1, t.codeSet(m.paid).add...)
			continue
		}
		if o, ok := refundOutcomes[m.refund]; ok {
			t.refunds.Add(ctx, 1, t.refundSets[o].add...)
		}
	}
}

// The refund outcomes.
const (
	refundSucceeded = iota
	refundFailed
	refundAbnormal
	nRefundOutcomes
)

var (
	refundOutcomeNames = [nRefundOutcomes]string{"succeeded", "failed", "abnormal"}
	refundOutcomes     = map[models.RefundStatus]int{
		models.RefundSucceeded: refundSucceeded, models.RefundFailed: refundFailed, models.RefundAbnormal: refundAbnormal}
)

// StartMove starts the span of a status move, name e.g.
// "paycenter.charge.pay", of a charge on channel code from status from to
// status to. End it with End.
func (t *Telemetry) StartMove(ctx context.Context, name string, code channels.Code, from, to string) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, name)
	if span.IsRecording() {
		span.SetAttributes(spanChannel.String(string(code)), spanFrom.String(from), spanTo.String(to))
	}
	return ctx, span
}

// StartMoveAt is StartMove for a move that began at start (a move made by
// one statement, known to have happened only once it has).
func (t *Telemetry) StartMoveAt(ctx context.Context, start time.Time, name string, code channels.Code, from, to string) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, name, trace.WithTimestamp(start))
	if span.IsRecording() {
		span.SetAttributes(spanChannel.String(string(code)), spanFrom.String(from), spanTo.String(to))
	}
	return ctx, span
}

// SetChannel sets the channel code of a move's span started without it.
func SetChannel(span trace.Span, code channels.Code) {
	if span.IsRecording() {
		span.SetAttributes(spanChannel.String(string(code)))
	}
}

// End ends span, recording err (when not nil) as its error.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "")
	}
	span.End()
}
