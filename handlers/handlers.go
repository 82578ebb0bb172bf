// Package handlers serves the pay center over HTTP with Gin: the document's
// API under {BasePath}/api, the channels' callbacks under
// {BasePath}/callbacks, and in sandbox mode the sandbox cashier.
//
// Every API answer is HTTP 200 with the document's envelope; one function,
// render, writes it. Handlers parse the wire format into typed parameters
// and leave every rule to the Service.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/core"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Service is what the handlers need from the pay center engine.
type Service interface {
	Authenticate(ctx context.Context, method, path string, params map[string]string) (*paytype.App, error)
	CreateCharge(ctx context.Context, appID string, p paytype.CreateChargeParams) (*paytype.ChargeResult, error)
	PayResult(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*paytype.PayResult, error)
	CloseCharge(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*paytype.CloseResult, error)
	Refund(ctx context.Context, appID string, p paytype.RefundParams) (*paytype.RefundResult, error)
	RefundResult(ctx context.Context, appID, outRefundNo string) (*paytype.RefundResult, error)
	HandleNotification(ctx context.Context, appID, provider, path string, w http.ResponseWriter, r *http.Request)
	SandboxCharge(ctx context.Context, appID, outTradeNo string) (*models.Charge, error)
	SandboxPay(ctx context.Context, appID, outTradeNo, result string) (*models.Charge, error)
	Logger() *slog.Logger
	// Path is a route's path as mounted (router group + BasePath + route).
	Path(route string) string
	// Telemetry records the requests' metrics and spans.
	Telemetry() *telemetry.Telemetry
}

// Options configure Register.
type Options struct {
	BasePath string // prefix of every route ("" or "/pay", no trailing slash)
	Sandbox  bool   // mount the sandbox cashier routes
}

// Register mounts the routes on r (a *gin.Engine or a *gin.RouterGroup).
//
// The API routes accept every method and answer a wrong one with 10002,
// since the host's engine decides whether Gin itself would answer 405.
// Every route has a span and is counted (observe), and gives the request
// its id (requestID).
func Register(r gin.IRouter, svc Service, o Options) {
	h := &handler{svc: svc}
	g := r.Group(o.BasePath)
	api := g.Group("/api")
	h.handle(api, "", "/charges", h.api(post, h.createCharge))
	h.handle(api, "", "/charges/pay-result", h.api(getOrPost, h.payResult))
	h.handle(api, "", "/charges/close", h.api(post, h.closeCharge))
	h.handle(api, "", "/refunds", h.api(post, h.refund))
	h.handle(api, "", "/refunds/result", h.api(getOrPost, h.refundResult))
	h.handle(g, http.MethodPost, "/callbacks/:appId/:provider/*path", h.callback)
	if o.Sandbox {
		h.handle(g, http.MethodGet, "/sandbox/cashier/:appId/:outTradeNo", h.cashier)
		h.handle(g, http.MethodPost, "/sandbox/pay", h.sandboxPay)
	}
}

// handle registers fn for method ("": every method) at relativePath on g,
// behind observe and requestID.
func (h *handler) handle(g *gin.RouterGroup, method, relativePath string, fn gin.HandlerFunc) {
	route := h.svc.Telemetry().Route(path.Join(g.BasePath(), relativePath))
	chain := []gin.HandlerFunc{h.observe(route), h.requestID, fn}
	if method == "" {
		g.Any(relativePath, chain...)
	} else {
		g.Handle(method, relativePath, chain...)
	}
}

// observe gives the request its span (the child of the host's, or of the
// request's traceparent) for the handlers and the engine below, and
// records the request by route and errorCode.
func (h *handler) observe(route *telemetry.Route) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		ctx, span := route.Start(c.Request.Context(), c.Request.Method, c.Request.Header)
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		v, _ := c.Get(errorCodeKey) // render's
		code, _ := v.(paytype.Code)
		route.End(ctx, span, start, code, c.Writer.Status())
	}
}

// Route describes one mounted route, for banners and docs.
type Route struct {
	Method string // "POST", "GET|POST" or "GET"
	Path   string
	What   string
}

// Routes lists the routes Register mounts with o.
func Routes(o Options) []Route {
	b := o.BasePath
	rs := []Route{
		{"POST", b + "/api/charges", "create a charge"},
		{"GET|POST", b + "/api/charges/pay-result", "is it paid?"},
		{"POST", b + "/api/charges/close", "close an unpaid charge (extension)"},
		{"POST", b + "/api/refunds", "refund"},
		{"GET|POST", b + "/api/refunds/result", "refund state (extension)"},
		{"POST", b + "/callbacks/{appId}/{provider}/...", "channel notifications"},
	}
	if o.Sandbox {
		rs = append(rs,
			Route{"GET", b + "/sandbox/cashier/{appId}/{outTradeNo}", "sandbox cashier page"},
			Route{"POST", b + "/sandbox/pay", "sandbox payment outcome"})
	}
	return rs
}

type handler struct {
	svc Service
}

// RequestIDHeader carries the request id on every answer.
const RequestIDHeader = "X-Request-Id"

// requestID gives the request its id (header and envelope) and a logger
// that writes it on every line.
func (h *handler) requestID(c *gin.Context) {
	id := nextRequestID()
	c.Set(requestIDKey, id)
	c.Header(RequestIDHeader, strconv.FormatInt(id, 10))
	if span := trace.SpanFromContext(c.Request.Context()); span.IsRecording() {
		span.SetAttributes(telemetry.KeyRequestID.Int64(id))
	}
	l := h.svc.Logger().With("requestId", id)
	c.Request = c.Request.WithContext(core.WithLogger(c.Request.Context(), l))
	c.Next()
}

// The gin context keys of the request id and of the errorCode answered.
const (
	requestIDKey = "paycenter.requestId"
	errorCodeKey = "paycenter.errorCode"
)

var lastRequestID atomic.Int64

// nextRequestID returns a process-unique, increasing id: milliseconds since
// the epoch shifted left by 12 bits plus a counter, so ids stay below 2^53
// (exact in JavaScript) and read like the document's time-based examples.
func nextRequestID() int64 {
	for {
		last := lastRequestID.Load()
		next := max(last+1, time.Now().UnixMilli()<<12)
		if lastRequestID.CompareAndSwap(last, next) {
			return next
		}
	}
}

// envelope is the document's response body.
type envelope struct {
	RequestID      int64        `json:"requestId"`
	ResponseParams any          `json:"responseParams,omitempty"`
	ErrorCode      paytype.Code `json:"errorCode,omitempty"`
	ErrorMsg       string       `json:"errorMsg,omitempty"`
}

// render writes the envelope: always HTTP 200, the result or the error.
// Internal causes are logged, never returned.
func (h *handler) render(c *gin.Context, result any, err error) {
	id := c.GetInt64(requestIDKey)
	if err != nil {
		e := core.AsError(err)
		c.Set(errorCodeKey, e.Code)
		l, ctx := h.logger(c), c.Request.Context()
		if e.Code == paytype.CodeInternal {
			l.ErrorContext(ctx, "paycenter: request failed", "path", c.Request.URL.Path, "err", e.Err)
		} else {
			l.InfoContext(ctx, "paycenter: request refused", "path", c.Request.URL.Path, "errorCode", e.Code, "errorMsg", e.Msg)
		}
		c.JSON(http.StatusOK, envelope{RequestID: id, ErrorCode: e.Code, ErrorMsg: e.Msg})
		return
	}
	c.JSON(http.StatusOK, envelope{RequestID: id, ResponseParams: result})
}

func (h *handler) logger(c *gin.Context) *slog.Logger {
	if l := core.LoggerFrom(c.Request.Context()); l != nil {
		return l
	}
	return h.svc.Logger()
}
