package handlers

import (
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/core"
	"github.com/gopaycenter/paycenter/paytype"
)

// methods allowed by an endpoint (the document, section 1.1).
type methods int

const (
	post      methods = iota // submitting calls
	getOrPost                // queries
)

// commonParams may come as HTTP headers instead of parameters (the
// document's curl examples send key and sign as headers).
var commonParams = []string{"key", "sign", "timestamp", "expires", "version", "nonce"}

// call is an authenticated API request.
type call struct {
	app    *paytype.App
	params map[string]string
}

// api wraps an endpoint: method check, parameter collection, signature,
// then the endpoint, then the envelope.
func (h *handler) api(m methods, fn func(c *gin.Context, k *call) (any, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		method := c.Request.Method
		if method != http.MethodPost && (m == post || method != http.MethodGet) {
			allowed := "POST"
			if m == getOrPost {
				allowed = "GET or POST"
			}
			h.render(c, nil, &paytype.Error{Code: paytype.CodeMethod, Msg: fmt.Sprintf("method %s is not allowed here; use %s", method, allowed)})
			return
		}
		params, err := collect(c.Writer, c.Request)
		if err != nil {
			h.render(c, nil, err)
			return
		}
		app, err := h.svc.Authenticate(c.Request.Context(), method, c.Request.URL.Path, params)
		if err != nil {
			h.render(c, nil, err)
			return
		}
		res, err := fn(c, &call{app: app, params: params})
		h.render(c, res, err)
	}
}

// maxFormBytes bounds a request body.
const maxFormBytes = 64 << 10

// collect merges query parameters, form parameters and the common
// parameters sent as headers into one map. A name given twice (twice in
// the query, in both query and form, or as a header and a parameter with
// different values) is refused: the signature could not say which one
// was meant.
func collect(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	if err := formBody(r); err != nil {
		return nil, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, &paytype.Error{Code: paytype.CodeInvalid, Msg: "the request body must be application/x-www-form-urlencoded UTF-8 of at most 64 KiB"}
	}
	params := map[string]string{}
	for _, vals := range []map[string][]string{r.URL.Query(), r.PostForm} {
		for k, vs := range vals {
			if _, dup := params[k]; dup || len(vs) > 1 {
				return nil, &paytype.Error{Code: paytype.CodeInvalid, Msg: fmt.Sprintf("%s is given more than once", k)}
			}
			if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
				return nil, &paytype.Error{Code: paytype.CodeInvalid, Msg: fmt.Sprintf("%s must be UTF-8 text", k)}
			}
			params[k] = vs[0]
		}
	}
	for _, k := range commonParams {
		hv := r.Header.Values(k)
		if len(hv) == 0 {
			continue
		}
		if len(hv) > 1 {
			return nil, &paytype.Error{Code: paytype.CodeInvalid, Msg: fmt.Sprintf("header %s is given more than once", k)}
		}
		if pv, ok := params[k]; ok && pv != hv[0] {
			return nil, &paytype.Error{Code: paytype.CodeInvalid, Msg: fmt.Sprintf("%s is given both as a header and as a parameter, with different values", k)}
		}
		params[k] = hv[0]
	}
	return params, nil
}

// formBody refuses a POST body that is not a form: JSON, multipart, plain
// text or a body without a Content-Type would otherwise look like a
// request without parameters (10006) or with a bad signature (10004).
// A POST without a body (every parameter in the query) needs no type.
func formBody(r *http.Request) error {
	if r.Method != http.MethodPost || r.ContentLength == 0 {
		return nil
	}
	const want = "application/x-www-form-urlencoded"
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return &paytype.Error{Code: paytype.CodeInvalid, Msg: "the request body has no Content-Type; send parameters as " + want + " (UTF-8)"}
	case err != nil || mt != want:
		return &paytype.Error{Code: paytype.CodeInvalid, Msg: fmt.Sprintf("Content-Type %s is not accepted; send parameters as %s (UTF-8)", clip(mt, ct), want)}
	case params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8"):
		return &paytype.Error{Code: paytype.CodeInvalid, Msg: "the form must be UTF-8 (Content-Type " + want + "; charset=utf-8)"}
	}
	return nil
}

// clip names a media type in a message: the parsed one, or the first 40
// bytes of an unparsable header.
func clip(parsed, raw string) string {
	if parsed != "" {
		return parsed
	}
	return strconv.Quote(core.Clean(raw, 40))
}

var digitsRE = regexp.MustCompile(`^[0-9]{1,18}$`)

// positive parses an optional positive integer parameter: absent is 0
// (the rule for "missing" is the Service's), anything but digits or a zero
// is 10007.
func positive(params map[string]string, name, rule string) (int64, error) {
	s, ok := params[name]
	if !ok || s == "" {
		return 0, nil
	}
	if digitsRE.MatchString(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, &paytype.Error{Code: paytype.CodeInvalid, Msg: name + " " + rule}
}

func (h *handler) createCharge(c *gin.Context, k *call) (any, error) {
	p := k.params
	totalFee, err := positive(p, "totalFee", "must be an integer number of fen from 1 to 100000000000")
	if err != nil {
		return nil, err
	}
	created, err := positive(p, "created", "must be a time in milliseconds since the epoch")
	if err != nil {
		return nil, err
	}
	timeExpire, err := positive(p, "timeExpire", "must be an integer number of seconds from 60 to 1296000")
	if err != nil {
		return nil, err
	}
	return h.svc.CreateCharge(c.Request.Context(), k.app.ID, paytype.CreateChargeParams{
		Channel: channels.Code(p["channel"]), OutTradeNo: p["outTradeNo"], FeeType: p["feeType"],
		TotalFee: totalFee, ClientIP: strings.TrimSpace(p["clientIp"]), Subject: p["subject"], Body: p["body"],
		Created: created, TimeExpire: timeExpire, Analysis: p["analysis"], Attach: p["attach"],
		Description: p["description"], ReturnURL: p["returnUrl"], OpenID: p["wx.openid"],
	})
}

func (h *handler) payResult(c *gin.Context, k *call) (any, error) {
	return h.svc.PayResult(c.Request.Context(), k.app.ID, channels.Code(k.params["channel"]), k.params["outTradeNo"])
}

func (h *handler) closeCharge(c *gin.Context, k *call) (any, error) {
	return h.svc.CloseCharge(c.Request.Context(), k.app.ID, channels.Code(k.params["channel"]), k.params["outTradeNo"])
}

func (h *handler) refund(c *gin.Context, k *call) (any, error) {
	fee, err := positive(k.params, "refundFee", "must be an integer number of fen greater than 0")
	if err != nil {
		return nil, err
	}
	return h.svc.Refund(c.Request.Context(), k.app.ID, paytype.RefundParams{
		OutTradeNo: k.params["outTradeNo"], OutRefundNo: k.params["outRefundNo"],
		RefundFee: fee, RefundDesc: k.params["refundDesc"],
	})
}

func (h *handler) refundResult(c *gin.Context, k *call) (any, error) {
	return h.svc.RefundResult(c.Request.Context(), k.app.ID, k.params["outRefundNo"])
}

// callback hands a channel notification to the Service, which answers in
// the channel's own format.
func (h *handler) callback(c *gin.Context) {
	h.svc.HandleNotification(c.Request.Context(), c.Param("appId"), c.Param("provider"), c.Param("path"), c.Writer, c.Request)
}
