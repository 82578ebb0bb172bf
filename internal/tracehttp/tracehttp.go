// Package tracehttp instruments the pay center's outgoing HTTP clients
// (the channels' SDKs, the webhooks) with otelhttp: a client span per
// request, the child of the span of the call that made it (a channel call,
// a delivery attempt) and in that span's tracer provider, so that spans go
// where the pay center's own go.
//
// Only spans: a request whose parent span does not record (no provider
// installed, or not sampled) goes straight to the transport, untouched, and
// otelhttp's own metrics are off. The pay center's metrics already time
// every channel call and delivery attempt; otelhttp's per-request work (a
// clone of the request, its attribute sets) would otherwise be paid on
// every call for nothing.
//
// The spans' url.full carries no query and, where the caller templates it,
// no identifier in the path: the channels put order numbers in paths and
// tokens in the bill downloads' queries, and neither belongs in a trace.
package tracehttp

import (
	"net/http"
	"net/url"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Client returns a copy of hc whose transport is instrumented, keeping
// every setting of hc (timeout, redirect policy, cookie jar, and its
// transport underneath). hc itself is not changed. A client already
// instrumented (by this package or by the host with otelhttp) is returned
// as it is. path, when not nil, templates a URL's path for url.full (e.g.
// an order number replaced by "{id}").
func Client(hc *http.Client, path func(string) string) *http.Client {
	switch hc.Transport.(type) {
	case *transport, *otelhttp.Transport:
		return hc
	}
	c := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &transport{
		Transport: otelhttp.NewTransport(redact{next: base, path: path},
			otelhttp.WithFilter(parentRecords), otelhttp.WithMeterProvider(noop.NewMeterProvider())),
		base: base,
	}
	return &c
}

// parentRecords reports whether the request's context carries a span that
// records: its child would too (with the usual parent-based sampling).
func parentRecords(r *http.Request) bool { return trace.SpanFromContext(r.Context()).IsRecording() }

// transport is otelhttp's, which cannot close idle connections, with the
// base transport's CloseIdleConnections (http.Client.CloseIdleConnections
// calls it).
type transport struct {
	*otelhttp.Transport
	base http.RoundTripper
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// redact overwrites the url.full attribute otelhttp gave the request's
// span (a later value of a key replaces the earlier one) before sending it.
type redact struct {
	next http.RoundTripper
	path func(string) string
}

func (t redact) RoundTrip(r *http.Request) (*http.Response, error) {
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetAttributes(semconv.URLFull(SafeURL(r.URL, t.path)))
	}
	return t.next.RoundTrip(r)
}

// SafeURL is u's scheme, host and path (templated by path when not nil):
// no user information, query or fragment.
func SafeURL(u *url.URL, path func(string) string) string {
	p := u.EscapedPath()
	if path != nil {
		p = path(p)
	}
	return u.Scheme + "://" + u.Host + p
}
