package telemetry

import (
	"context"
	"errors"
	"net"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/gopaycenter/paycenter/channels"
)

// Reason is why a channel notification was refused; Accepted: it was not.
type Reason uint8

// The reasons of a refused notification.
const (
	Accepted        Reason = iota
	BadSignature           // the signature did not verify (channels.ErrBadSignature)
	BadBody                // the body was unreadable or not a notification
	TooLarge               // the body was over the size limit
	UnknownCallback        // the path names no app, or no channel of the app
	UnknownOrder           // verified, but for a number the pay center has no charge or refund for
	Mismatch               // verified, but it does not match the records (amount, account, marker, status)
	Internal               // the database or a hook failed
	nReasons
)

var reasonNames = [nReasons]string{"", "bad_signature", "bad_body", "too_large", "unknown_callback", "unknown_order", "mismatch", "internal"}

// Notification counts a notification to provider accepted, or refused for
// reason. The provider of an UnknownCallback is recorded as "unknown": it
// comes from the request's path.
func (t *Telemetry) Notification(ctx context.Context, provider string, reason Reason) {
	if reason == UnknownCallback {
		provider = "unknown"
	}
	t.notifications.Add(ctx, 1, t.provider(provider).notify[reason].add...)
}

// Op is a kind of call to a channel.
type Op uint8

// The channel operations.
const (
	OpCreate Op = iota
	OpQuery
	OpClose
	OpRefund
	OpRefundQuery
	OpBill
	nOps
)

var (
	opNames     = [nOps]string{"create", "query", "close", "refund", "refund_query", "bill"}
	opSpanNames = [nOps]string{"paycenter.channel.create", "paycenter.channel.query", "paycenter.channel.close",
		"paycenter.channel.refund", "paycenter.channel.refund_query", "paycenter.channel.bill"}
)

// The outcomes of a channel call.
const (
	callOK = iota
	callError
	callTimeout
	nCallOutcomes
)

var callOutcomeNames = [nCallOutcomes]string{"ok", "error", "timeout"}

// Call is a channel call in progress, from StartCall; End it once.
type Call struct {
	t     *Telemetry
	ctx   context.Context
	span  trace.Span
	sets  *[nCallOutcomes]set
	start time.Time
}

// StartCall starts the span and the clock of a call of operation op to
// provider's channel, for a charge on channel code ("" for a bill). ctx
// should carry the call's deadline, which tells a timeout apart. The
// returned context carries the span: pass it to the adapter, whose HTTP
// client's spans are then its children.
func (t *Telemetry) StartCall(ctx context.Context, provider string, op Op, code channels.Code) (context.Context, Call) {
	ctx, span := t.tracer.Start(ctx, opSpanNames[op])
	if span.IsRecording() {
		span.SetAttributes(spanProvider.String(provider), spanOp.String(opNames[op]), spanChannel.String(string(code)))
	}
	return ctx, Call{t: t, ctx: ctx, span: span, sets: &t.provider(provider).calls[op], start: time.Now()}
}

// End records the call's outcome and ends its span with err: ok, timeout
// (the call's deadline passed), or error (a refusal included). The
// channels' answers that are not failures (channels.ErrAlreadyPaid,
// ErrNotOpened, ErrBillNotReady) are ok.
func (c Call) End(err error) {
	o := callOK
	switch {
	case err == nil || errors.Is(err, channels.ErrAlreadyPaid) || errors.Is(err, channels.ErrNotOpened) ||
		errors.Is(err, channels.ErrBillNotReady):
		err = nil
	case errors.Is(c.ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		o = callTimeout
	default:
		o = callError
	}
	s := &c.sets[o]
	c.t.calls.Add(c.ctx, 1, s.add...)
	c.t.callDuration.Record(c.ctx, time.Since(c.start).Seconds(), s.rec...)
	if c.span.IsRecording() {
		c.span.SetAttributes(spanOutcome.String(callOutcomeNames[o]))
	}
	End(c.span, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Worker is a background worker.
type Worker uint8

// The workers.
const (
	WorkerCharges Worker = iota
	WorkerRefunds
	WorkerDeliveries
	WorkerReconcile
	nWorkers
)

var workerNames = [nWorkers]string{"charges", "refunds", "deliveries", "reconcile"}

// The outcomes of a worker's run.
const (
	workerOK = iota
	workerIdle
	workerError
	nWorkerOutcomes
)

var workerOutcomeNames = [nWorkerOutcomes]string{"ok", "idle", "error"}

// WorkerRun counts a run of worker w that handled n items: error when err
// is not nil, ok when n > 0, idle otherwise.
func (t *Telemetry) WorkerRun(ctx context.Context, w Worker, n int, err error) {
	o := workerIdle
	switch {
	case err != nil:
		o = workerError
	case n > 0:
		o = workerOK
	}
	t.workerRuns.Add(ctx, 1, t.workers[w][o].add...)
}

// The delivery targets, as models.TargetWebhook and models.TargetHooks.
const (
	targetWebhook = iota
	targetHooks
	nTargets
)

var (
	targetNames     = [nTargets]string{"webhook", "hooks"}
	targetSpanNames = [nTargets]string{"paycenter.delivery.webhook", "paycenter.delivery.hooks"}
)

// DeliveryOutcome is how a delivery attempt ended.
type DeliveryOutcome uint8

// The outcomes of a delivery attempt.
const (
	Delivered DeliveryOutcome = iota // a 2xx, or the hooks returned nil
	Failed                           // a retry is scheduled
	Dead                             // the last retry failed
	CutOff                           // Stop's deadline cut it off; its lease was released
	nDeliveryOutcomes
)

var deliveryOutcomeNames = [nDeliveryOutcomes]string{"delivered", "failed", "dead", "cut_off"}

// Delivery is a delivery attempt in progress, from StartDelivery; End it
// once.
type Delivery struct {
	t      *Telemetry
	ctx    context.Context
	span   trace.Span
	target int
	start  time.Time
}

// StartDelivery starts the span and the clock of attempt number attempt
// (1 for the first) of delivery id, of an event of type event to target
// ("webhook" or "hooks"). parent, when valid, is the span of the change
// that wrote the delivery (deliveries this process dispatches after the
// commit): the attempt's span is its child.
func (t *Telemetry) StartDelivery(ctx context.Context, parent trace.SpanContext, target, event string, id int64, attempt int) (context.Context, Delivery) {
	tg := targetWebhook
	if target == targetNames[targetHooks] {
		tg = targetHooks
	}
	if parent.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	ctx, span := t.tracer.Start(ctx, targetSpanNames[tg])
	if span.IsRecording() {
		span.SetAttributes(spanTarget.String(target), spanEvent.String(event), spanDelivery.Int64(id), spanAttempt.Int(attempt))
	}
	return ctx, Delivery{t: t, ctx: ctx, span: span, target: tg, start: time.Now()}
}

// End records the attempt's outcome and ends its span with err.
func (d Delivery) End(o DeliveryOutcome, err error) {
	s := &d.t.delivery[d.target][o]
	d.t.deliveries.Add(d.ctx, 1, s.add...)
	d.t.deliveryTime.Record(d.ctx, time.Since(d.start).Seconds(), s.rec...)
	if d.span.IsRecording() {
		d.span.SetAttributes(spanOutcome.String(deliveryOutcomeNames[o]))
	}
	End(d.span, err)
}

// OutboxStats reads the outbox's backlog: the pending and dead counts and
// the due time of the earliest due delivery (zero when none is due).
type OutboxStats func(ctx context.Context) (pending, dead int64, oldestDue time.Time, err error)

// ObserveOutbox registers the outbox gauges' callback: when a reader
// collects (a scrape), stats is called once for both gauges; with no reader
// installed, never. now is the clock of the age.
func (t *Telemetry) ObserveOutbox(stats OutboxStats, now func() time.Time) error {
	reg, err := t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		pending, dead, oldest, err := stats(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(t.outboxDepth, pending, t.pending.obs...)
		o.ObserveInt64(t.outboxDepth, dead, t.dead.obs...)
		age := 0.0
		if !oldest.IsZero() {
			age = max(now().Sub(oldest).Seconds(), 0)
		}
		o.ObserveFloat64(t.outboxAge, age)
		return nil
	}, t.outboxDepth, t.outboxAge)
	t.outbox = reg
	return err
}
