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
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/core"
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
func Register(r gin.IRouter, svc Service, o Options) {
	h := &handler{svc: svc}
	g := r.Group(o.BasePath)
	api := g.Group("/api", h.requestID)
	api.Any("/charges", h.api(post, h.createCharge))
	api.Any("/charges/pay-result", h.api(getOrPost, h.payResult))
	api.Any("/charges/close", h.api(post, h.closeCharge))
	api.Any("/refunds", h.api(post, h.refund))
	api.Any("/refunds/result", h.api(getOrPost, h.refundResult))
	g.POST("/callbacks/:appId/:provider/*path", h.requestID, h.callback)
	if o.Sandbox {
		g.GET("/sandbox/cashier/:appId/:outTradeNo", h.requestID, h.cashier)
		g.POST("/sandbox/pay", h.requestID, h.sandboxPay)
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
	l := h.svc.Logger().With("requestId", id)
	c.Request = c.Request.WithContext(core.WithLogger(c.Request.Context(), l))
	c.Next()
}

const requestIDKey = "paycenter.requestId"

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
		l := h.logger(c)
		if e.Code == paytype.CodeInternal {
			l.Error("paycenter: request failed", "path", c.Request.URL.Path, "err", e.Err)
		} else {
			l.Info("paycenter: request refused", "path", c.Request.URL.Path, "errorCode", e.Code, "errorMsg", e.Msg)
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
