package tracehttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// base is a transport that answers 204 and remembers the last request it
// saw and whether its idle connections were closed.
type base struct {
	seen   *http.Request
	closed bool
}

func (b *base) RoundTrip(r *http.Request) (*http.Response, error) {
	b.seen = r
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
}

func (b *base) CloseIdleConnections() { b.closed = true }

// TestClient: a span under a recording parent, with url.full cut to the
// scheme, host and templated path; nothing at all under a parent that does
// not record; the given client's settings kept and the client itself
// unchanged; idle connections still closable; no second wrapping.
func TestClient(t *testing.T) {
	b := &base{}
	own := &http.Client{Transport: b, Timeout: 3 * time.Second}
	hc := Client(own, func(p string) string { return p[:len("/orders/")] + "{id}" })
	if own.Transport != b || hc.Timeout != 3*time.Second || hc == own {
		t.Fatalf("the given client changed or its settings were lost: %+v", hc)
	}
	if Client(hc, nil) != hc {
		t.Error("an instrumented client was wrapped again")
	}

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "call")
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "https://user:pw@api.example/orders/ORDER123?token=s3cr3t#f", nil)
	req.RequestURI = ""
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()
	var client sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() == "HTTP GET" {
			client = s
		}
	}
	if client == nil || client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("no client span under the parent: %v", spans.Ended())
	}
	var urls []string
	for _, kv := range client.Attributes() {
		if kv.Key == "url.full" {
			urls = append(urls, kv.Value.AsString())
		}
	}
	if len(urls) != 1 || urls[0] != "https://api.example/orders/{id}" {
		t.Errorf("url.full %q, want the one redacted URL", urls)
	}

	plain := httptest.NewRequest(http.MethodGet, "https://api.example/orders/ORDER124", nil)
	plain.RequestURI = ""
	resp, err = hc.Transport.RoundTrip(plain) // the transport itself: http.Client copies a request with a deadline
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if b.seen != plain || len(plain.Header) != 0 {
		t.Errorf("a request without a recording parent was not passed through as it is")
	}
	if len(spans.Ended()) != 2 {
		t.Errorf("%d spans, want the parent and one client span", len(spans.Ended()))
	}

	hc.CloseIdleConnections()
	if !b.closed {
		t.Error("CloseIdleConnections did not reach the base transport")
	}
}
