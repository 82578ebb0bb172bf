// Package admin is the pay center's operator API (PayCenter.Admin): JSON
// over plain net/http, for a person or a back office, mounted by the host
// behind its own authentication. It has no authentication of its own.
//
// Paths are relative to where the host mounts it (use http.StripPrefix):
//
//	GET  /charges                                list charges
//	GET  /charges/{appId}/{outTradeNo}           one charge, its refunds, deliveries, notifications and discrepancies
//	POST /charges/{appId}/{outTradeNo}/refund    refund it: {"outRefundNo", "refundFee", "refundDesc"}
//	POST /charges/{appId}/{outTradeNo}/close     close it (unpaid), at the channel and here
//	GET  /refunds                                list refunds
//	GET  /deliveries                             list webhook and after-commit hook deliveries
//	POST /deliveries/{id}/redeliver              send a delivery again (same event id)
//	GET  /notifications                          list the channels' notifications (audit records)
//	GET  /reconciliations                        list daily bill reconciliation reports
//	POST /reconciliations                        reconcile a day now: {"provider", "date"}
//	GET  /reconciliations/{id}                   one report with what it applied and its discrepancies
//	GET  /discrepancies                          list discrepancies with the channels
//	POST /discrepancies/{id}/resolve             mark one resolved: {"note"}
//
// Lists are newest first and take filters (query parameters named in each
// list's table, e.g. ?status=PAID&appId=11), limit (1–500, default 50) and
// cursor: an answer is {"items": [...], "nextCursor": "..."}, and the next
// page is the same query with cursor=nextCursor (absent on the last page).
// Request bodies are JSON objects (Content-Type application/json); an
// unknown field is refused. Amounts are fen, times RFC 3339 (UTC), days
// YYYY-MM-DD (Beijing).
//
// Errors are {"error": code, "message": text} with an HTTP status:
// invalid_request 400 (the message names the parameter and the rule),
// not_found 404, method_not_allowed 405, conflict 409 (the pay center
// refused: over the refundable balance, already paid, being processed...),
// bill_not_ready 409, channel_error 502 (the channel refused or did not
// answer), bill_refused 502 (a bill that failed its checks: nothing of it
// applied), reconcile_failed 500 (see the report's error), internal 500.
// When the pay center's own code applies it is there too, as errorCode
// (10009, 20003, ...).
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/reconcile"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Service is what the operator API needs from the pay center, besides
// reading its tables.
type Service interface {
	Refund(ctx context.Context, appID string, p paytype.RefundParams) (*paytype.RefundResult, error)
	CloseCharge(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*paytype.CloseResult, error)
	Redeliver(ctx context.Context, id int64) error
	ResolveDiscrepancy(ctx context.Context, id int64, note string) error
	Reconcile(ctx context.Context, provider string, day channels.Day) ([]*paytype.ReconcileReport, error)
	ReconcileReport(ctx context.Context, id int64) (*paytype.ReconcileReport, error)
}

// Options configure New.
type Options struct {
	DB      *gorm.DB
	Tables  models.Tables
	Service Service
	Logger  *slog.Logger
}

type handler struct {
	db  *gorm.DB
	t   models.Tables
	svc Service
	log *slog.Logger
}

// New returns the operator API. Long for its route table.
func New(o Options) http.Handler {
	h := &handler{db: o.DB, t: o.Tables, svc: o.Service, log: o.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	mux := http.NewServeMux()
	routes := []struct {
		method, pattern string
		fn              func(w http.ResponseWriter, r *http.Request) error
	}{
		{"GET", "/charges", h.listCharges},
		{"GET", "/charges/{appId}/{outTradeNo}", h.charge},
		{"POST", "/charges/{appId}/{outTradeNo}/refund", h.refund},
		{"POST", "/charges/{appId}/{outTradeNo}/close", h.close},
		{"GET", "/refunds", h.listRefunds},
		{"GET", "/deliveries", h.listDeliveries},
		{"POST", "/deliveries/{id}/redeliver", h.redeliver},
		{"GET", "/notifications", h.listNotifications},
		{"GET", "/reconciliations", h.listReconciliations},
		{"POST", "/reconciliations", h.reconcile},
		{"GET", "/reconciliations/{id}", h.reconciliation},
		{"GET", "/discrepancies", h.listDiscrepancies},
		{"POST", "/discrepancies/{id}/resolve", h.resolve},
	}
	// Patterns without a method, so that a wrong method is a JSON 405
	// rather than the mux's plain-text one.
	byPattern := map[string]map[string]func(http.ResponseWriter, *http.Request) error{}
	var order []string
	for _, rt := range routes {
		if byPattern[rt.pattern] == nil {
			byPattern[rt.pattern] = map[string]func(http.ResponseWriter, *http.Request) error{}
			order = append(order, rt.pattern)
		}
		byPattern[rt.pattern][rt.method] = rt.fn
	}
	for _, pattern := range order {
		methods := byPattern[pattern]
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			m := r.Method
			if m == http.MethodHead {
				m = http.MethodGet
			}
			fn := methods[m]
			if fn == nil {
				allowed := slices.Sorted(maps.Keys(methods))
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				h.fail(w, r, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
					msg: fmt.Sprintf("%s %s takes %s", r.Method, pattern, strings.Join(allowed, " or "))})
				return
			}
			if err := fn(w, r); err != nil {
				h.fail(w, r, err)
			}
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, &apiError{status: http.StatusNotFound, code: "not_found", msg: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// apiError is an error answer.
type apiError struct {
	status    int
	code      string
	msg       string
	errorCode paytype.Code // the pay center's, when one applies
	reports   []*paytype.ReconcileReport
	cause     error // logged, never shown
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, code: "not_found", msg: fmt.Sprintf(format, args...)}
}

// asAPIError maps an error of the pay center to its answer.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var pe *paytype.Error
	if !errors.As(err, &pe) {
		return &apiError{status: http.StatusInternalServerError, code: "internal", msg: "internal error; it has been logged", cause: err}
	}
	e := &apiError{msg: pe.Msg, errorCode: pe.Code, cause: pe.Err}
	switch c := pe.Code; {
	case c == paytype.CodeMissing || c == paytype.CodeInvalid:
		e.status, e.code = http.StatusBadRequest, "invalid_request"
	case c == paytype.CodeNotFound || c == paytype.CodeInvalidKey:
		e.status, e.code = http.StatusNotFound, "not_found"
	case c >= 30000:
		e.status, e.code = http.StatusBadGateway, "channel_error"
	case c == paytype.CodeInternal:
		e.status, e.code = http.StatusInternalServerError, "internal"
	default:
		e.status, e.code = http.StatusConflict, "conflict"
	}
	return e
}

// fail writes err as a JSON error answer.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asAPIError(err)
	if e.cause != nil || e.status >= 500 {
		h.log.ErrorContext(r.Context(), "paycenter: admin API", "method", r.Method, "path", r.URL.Path, "status", e.status, "err", err, "cause", e.cause)
	}
	body := map[string]any{"error": e.code, "message": e.msg}
	if e.errorCode != 0 {
		body["errorCode"] = e.errorCode
	}
	if e.reports != nil {
		body["reports"] = e.reports
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// maxBody bounds a request body.
const maxBody = 64 << 10

// decode reads a JSON object body into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return badRequest("the body must be a JSON object with Content-Type application/json")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body is not the expected JSON object: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("the body must hold one JSON object")
	}
	return nil
}

// jsonProblem words a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be a JSON %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	return err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "int32", "uint", "uint64":
		return "integer"
	case "bool":
		return "boolean"
	}
	return "value of another kind"
}

// pathID parses the path's {id}.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("id %q must be a positive integer", r.PathValue("id"))
	}
	return id, nil
}

// reconcileError maps an error of a reconciliation run to its answer.
func reconcileError(err error, reports []*paytype.ReconcileReport) *apiError {
	e := &apiError{status: http.StatusInternalServerError, code: "internal", msg: err.Error(), reports: reports}
	switch {
	case errors.Is(err, channels.ErrBillNotReady):
		e.status, e.code = http.StatusConflict, "bill_not_ready"
	case errors.Is(err, channels.ErrBillInvalid):
		e.status, e.code = http.StatusBadGateway, "bill_refused"
	case errors.Is(err, reconcile.ErrBusy):
		e.status, e.code = http.StatusConflict, "conflict"
	case errors.Is(err, reconcile.ErrNoBills):
		e.status, e.code = http.StatusBadRequest, "invalid_request"
	case len(reports) > 0:
		// The run failed (a channel that did not answer, a row a hook
		// refused): the report says why, and so does the message.
		e.code = "reconcile_failed"
	default:
		e.msg, e.cause = "internal error; it has been logged", err
	}
	return e
}
