package telemetry

import (
	"context"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/gopaycenter/paycenter/paytype"
)

// Route is one route of the pay center, with its span names and attribute
// sets made when it is registered.
type Route struct {
	t       *Telemetry
	pattern string
	names   map[string]string // span name by method
	ok      set               // errorCode 0

	mu    sync.RWMutex
	codes map[paytype.Code]set // the error codes met so far (a bounded set)
}

// The span kinds of a request: a server span, or the child of a host's
// span (its own server span, e.g. otelgin's).
var (
	serverKind   = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	internalKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}
)

// Route returns the telemetry of the route registered as pattern (the
// router's pattern, e.g. "/pay/api/charges" or
// "/callbacks/:appId/:provider/*path"): the route attribute of its
// requests and the name of their spans.
func (t *Telemetry) Route(pattern string) *Route {
	r := &Route{t: t, pattern: pattern, names: map[string]string{}, ok: newSet(keyRoute.String(pattern), keyErrorCode.Int(0)),
		codes: map[paytype.Code]set{}}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace} {
		r.names[m] = m + " " + pattern
	}
	return r
}

// Start starts the span of a request with method on the route: the child
// of the span in ctx (a host's middleware made it), or else of the remote
// parent the global propagator (otel.GetTextMapPropagator) finds in header
// (W3C traceparent, with propagation.TraceContext installed), or a root.
func (r *Route) Start(ctx context.Context, method string, header http.Header) (context.Context, trace.Span) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(header))
		sc = trace.SpanContextFromContext(ctx)
	}
	kind := internalKind
	if !sc.IsValid() || sc.IsRemote() {
		kind = serverKind
	}
	name, ok := r.names[method]
	if !ok {
		name = "HTTP " + r.pattern
	}
	ctx, span := r.t.tracer.Start(ctx, name, kind...)
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPRequestMethodKey.String(method), semconv.HTTPRoute(r.pattern))
	}
	return ctx, span
}

// End records a request that began at start and was answered with
// errorCode code (0: success, or a route without the API envelope) and
// HTTP status, and ends its span: an error span for 10001 or a 5xx.
func (r *Route) End(ctx context.Context, span trace.Span, start time.Time, code paytype.Code, status int) {
	s := r.codeSet(code)
	r.t.apiRequests.Add(ctx, 1, s.add...)
	r.t.apiDuration.Record(ctx, time.Since(start).Seconds(), s.rec...)
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status), spanError.Int(int(code)))
		if code == paytype.CodeInternal || status >= 500 {
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
}

// codeSet returns the attribute set of errorCode code, made on its first
// use.
func (r *Route) codeSet(code paytype.Code) set {
	if code == 0 {
		return r.ok
	}
	r.mu.RLock()
	s, ok := r.codes[code]
	r.mu.RUnlock()
	if ok {
		return s
	}
	s = newSet(keyRoute.String(r.pattern), keyErrorCode.Int(int(code)))
	r.mu.Lock()
	r.codes[code] = s
	r.mu.Unlock()
	return s
}
