package wechat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/app"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/h5"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/gopaycenter/paycenter/channels"
)

// Suffixes appended to CreateRequest.CallbackURL / RefundRequest.CallbackURL
// for the notify_url given to WeChat Pay; ParseNotification accepts exactly
// these paths.
const (
	PayNotifyPath    = "/paynotify"
	RefundNotifyPath = "/refundnotify"
)

// Channel is the WeChat Pay (APIv3) adapter. It implements
// [channels.Channel], [channels.Querier], [channels.Closer],
// [channels.Refunder], [channels.RefundQuerier] and
// [channels.BillDownloader]. It is safe for concurrent use.
type Channel struct {
	mchID  string
	appID  string
	client *core.Client
	notify *notify.Handler
	http   *http.Client // the configured client (with APIBaseURL's redirect), for bill downloads
}

var (
	_ channels.Channel       = (*Channel)(nil)
	_ channels.Querier       = (*Channel)(nil)
	_ channels.Closer        = (*Channel)(nil)
	_ channels.Refunder      = (*Channel)(nil)
	_ channels.RefundQuerier = (*Channel)(nil)
)

// New validates cfg, loads its keys and returns the adapter. It does no
// network I/O (platform certificates are never downloaded). Its errors name
// the offending config keys and never contain key material.
func New(cfg Config) (*Channel, error) {
	c, err := cfg.load()
	if err != nil {
		return nil, err
	}
	signer := &signers.SHA256WithRSASigner{
		MchID:               cfg.MchID,
		CertificateSerialNo: cfg.MchCertSerial,
		PrivateKey:          c.mchKey,
	}
	client, err := core.NewClient(context.Background(),
		option.WithSigner(signer),
		option.WithVerifier(c.verifier),
		option.WithHTTPClient(c.httpClient),
	)
	if err != nil {
		return nil, errors.New("wechat: cannot build the API client")
	}
	h, err := notify.NewRSANotifyHandler(cfg.APIv3Key, c.verifier)
	if err != nil {
		return nil, errors.New("wechat: cannot build the notification handler")
	}
	return &Channel{mchID: cfg.MchID, appID: cfg.AppID, client: client, notify: h, http: c.httpClient}, nil
}

// Provider returns "wechat".
func (c *Channel) Provider() string { return channels.ProviderWechat }

// Account returns the mchid: WeChat Pay keeps out_trade_no and out_refund_no
// unique per merchant, whichever appid the order is for.
func (c *Channel) Account() string { return c.mchID }

// Supports reports whether code is one of WX_NATIVE, WX_JSAPI, WX_APP and
// WX_MWEB.
func (c *Channel) Supports(code channels.Code) bool {
	return code.Provider() == channels.ProviderWechat
}

// Create places a prepay order (native, jsapi, app or h5 by req.Code) and
// returns the client-side parameters:
//
//   - WX_NATIVE: codeUrl
//   - WX_JSAPI: appId, timeStamp, nonceStr, package, signType, paySign
//     (for wx.requestPayment; req.OpenID is required)
//   - WX_APP: appId, partnerid, prepayid, package ("Sign=WXPay"), nonceStr,
//     timeStamp, sign (for the app SDK)
//   - WX_MWEB: mwebUrl (WeChat's h5_url, with redirect_url appended when
//     req.ReturnURL is set)
//
// Calling it again with the same request is safe: WeChat Pay keys the order
// on out_trade_no and accepts a repeated prepay with the same parameters.
func (c *Channel) Create(ctx context.Context, req *channels.CreateRequest) (channels.Params, error) {
	if err := c.checkCreate(req); err != nil {
		return nil, err
	}
	var (
		description = truncate(firstNonEmpty(req.Subject, req.Body, req.Description, req.OutTradeNo), 127)
		notifyURL   = req.CallbackURL + PayNotifyPath
		expire      *time.Time
		attach      *string
	)
	if !req.ExpireAt.IsZero() {
		t := req.ExpireAt.In(channels.Beijing).Truncate(time.Second)
		expire = &t
	}
	// attach carries the pay center's marker, which WeChat Pay echoes in
	// notifications and queries; the merchant's own attach stays with the
	// charge in the pay center.
	if req.Marker != "" {
		attach = core.String(req.Marker)
	}
	o := order{appID: core.String(c.appID), mchID: core.String(c.mchID), description: core.String(description),
		outTradeNo: core.String(req.OutTradeNo), expire: expire, attach: attach, notifyURL: core.String(notifyURL),
		total: core.Int64(req.TotalFee), cny: core.String("CNY")}
	svc := services{c.client}
	switch req.Code {
	case channels.WxNative:
		return createNative(ctx, svc, o)
	case channels.WxJsapi:
		return createJsapi(ctx, svc, o, req.OpenID)
	case channels.WxApp:
		return createApp(ctx, svc, o, c.appID)
	case channels.WxMweb:
		return createMweb(ctx, svc, o, req.ClientIP, req.ReturnURL)
	}
	return nil, fmt.Errorf("wechat: unsupported channel %q", req.Code)
}

// order holds the fields every prepay request shares. wechatpay-go has one
// request type per product (native, jsapi, app, h5) with the same fields,
// so each create below copies them into its own type: the repetition is
// the SDK's shape.
type order struct {
	appID, mchID, description, outTradeNo, notifyURL, attach, cny *string
	expire                                                        *time.Time
	total                                                         *int64
}

func createNative(ctx context.Context, svc services, o order) (channels.Params, error) {
	resp, _, err := svc.native().Prepay(ctx, native.PrepayRequest{
		Appid: o.appID, Mchid: o.mchID, Description: o.description, OutTradeNo: o.outTradeNo,
		TimeExpire: o.expire, Attach: o.attach, NotifyUrl: o.notifyURL,
		Amount: &native.Amount{Total: o.total, Currency: o.cny},
	})
	if err != nil {
		return nil, apiError("create payment", err)
	}
	if resp.CodeUrl == nil || *resp.CodeUrl == "" {
		return nil, unknown("create payment", "answer has no code_url", nil)
	}
	return channels.Params{"codeUrl": *resp.CodeUrl}, nil
}

func createJsapi(ctx context.Context, svc services, o order, openID string) (channels.Params, error) {
	resp, _, err := svc.jsapi().PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
		Appid: o.appID, Mchid: o.mchID, Description: o.description, OutTradeNo: o.outTradeNo,
		TimeExpire: o.expire, Attach: o.attach, NotifyUrl: o.notifyURL,
		Amount: &jsapi.Amount{Total: o.total, Currency: o.cny},
		Payer:  &jsapi.Payer{Openid: core.String(openID)},
	})
	if err != nil {
		return nil, apiError("create payment", err)
	}
	if resp.PrepayId == nil || *resp.PrepayId == "" {
		return nil, unknown("create payment", "answer has no prepay_id", nil)
	}
	return channels.Params{
		"appId":     deref(resp.Appid),
		"timeStamp": deref(resp.TimeStamp),
		"nonceStr":  deref(resp.NonceStr),
		"package":   deref(resp.Package),
		"signType":  deref(resp.SignType),
		"paySign":   deref(resp.PaySign),
	}, nil
}

func createApp(ctx context.Context, svc services, o order, appID string) (channels.Params, error) {
	resp, _, err := svc.app().PrepayWithRequestPayment(ctx, app.PrepayRequest{
		Appid: o.appID, Mchid: o.mchID, Description: o.description, OutTradeNo: o.outTradeNo,
		TimeExpire: o.expire, Attach: o.attach, NotifyUrl: o.notifyURL,
		Amount: &app.Amount{Total: o.total, Currency: o.cny},
	})
	if err != nil {
		return nil, apiError("create payment", err)
	}
	if resp.PrepayId == nil || *resp.PrepayId == "" {
		return nil, unknown("create payment", "answer has no prepay_id", nil)
	}
	return channels.Params{
		"appId":     appID,
		"partnerid": deref(resp.PartnerId),
		"prepayid":  deref(resp.PrepayId),
		"package":   deref(resp.Package),
		"nonceStr":  deref(resp.NonceStr),
		"timeStamp": deref(resp.TimeStamp),
		"sign":      deref(resp.Sign),
	}, nil
}

// createMweb opens an H5 order; returnURL, when set, is appended to
// WeChat's h5_url as redirect_url.
func createMweb(ctx context.Context, svc services, o order, clientIP, returnURL string) (channels.Params, error) {
	resp, _, err := svc.h5().Prepay(ctx, h5.PrepayRequest{
		Appid: o.appID, Mchid: o.mchID, Description: o.description, OutTradeNo: o.outTradeNo,
		TimeExpire: o.expire, Attach: o.attach, NotifyUrl: o.notifyURL,
		Amount: &h5.Amount{Total: o.total, Currency: o.cny},
		SceneInfo: &h5.SceneInfo{
			PayerClientIp: core.String(clientIP),
			H5Info:        &h5.H5Info{Type: core.String("Wap")},
		},
	})
	if err != nil {
		return nil, apiError("create payment", err)
	}
	if resp.H5Url == nil || *resp.H5Url == "" {
		return nil, unknown("create payment", "answer has no h5_url", nil)
	}
	u := *resp.H5Url
	if returnURL != "" {
		sep := "&"
		if !strings.Contains(u, "?") {
			sep = "?"
		}
		u += sep + "redirect_url=" + url.QueryEscape(returnURL)
	}
	return channels.Params{"mwebUrl": u}, nil
}

func (c *Channel) checkCreate(req *channels.CreateRequest) error {
	switch {
	case req == nil:
		return errors.New("wechat: create: nil request")
	case !c.Supports(req.Code):
		return fmt.Errorf("wechat: unsupported channel %q", req.Code)
	case req.OutTradeNo == "":
		return errors.New("wechat: create: outTradeNo is required")
	case req.TotalFee <= 0:
		return errors.New("wechat: create: totalFee must be positive")
	case req.CallbackURL == "":
		return errors.New("wechat: create: callback URL is required")
	case req.Code == channels.WxJsapi && req.OpenID == "":
		return errors.New("wechat: WX_JSAPI requires the payer's openid (wx.openid)")
	case req.Code == channels.WxMweb && req.ClientIP == "":
		return errors.New("wechat: WX_MWEB requires the payer's client IP")
	}
	return nil
}

// QueryPayment asks WeChat Pay about an order by out_trade_no. The four
// WeChat channel codes share one order space and one query.
//
// NOTPAY and USERPAYING are pending; SUCCESS and REFUND are paid; CLOSED and
// REVOKED are closed; PAYERROR is failed. An order WeChat Pay does not know
// (ORDER_NOT_EXIST) is pending: the buyer never reached the cashier.
func (c *Channel) QueryPayment(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*channels.Payment, error) {
	tx, _, err := services{c.client}.native().QueryOrderByOutTradeNo(ctx, native.QueryOrderByOutTradeNoRequest{
		OutTradeNo: core.String(outTradeNo),
		Mchid:      core.String(c.mchID),
	})
	if err != nil {
		if core.IsAPIError(err, "ORDER_NOT_EXIST") {
			return &channels.Payment{OutTradeNo: outTradeNo, Status: channels.PaymentPending}, nil
		}
		return nil, apiError("query payment", err)
	}
	if got := deref(tx.OutTradeNo); got != "" && got != outTradeNo {
		return nil, unknown("query payment", "answer is about another order", nil)
	}
	if got := deref(tx.Mchid); got != "" && got != c.mchID {
		return nil, unknown("query payment", "answer is about another merchant", nil)
	}
	return paymentFrom(outTradeNo, tx, "query payment")
}

// paymentFrom maps a transaction (from a query) to a Payment.
func paymentFrom(outTradeNo string, tx *payments.Transaction, op string) (*channels.Payment, error) {
	p := &channels.Payment{OutTradeNo: outTradeNo, TransactionID: deref(tx.TransactionId),
		Marker: deref(tx.Attach), HasMarker: true}
	if tx.Amount != nil && tx.Amount.Total != nil {
		p.TotalFee = *tx.Amount.Total
	}
	switch state := deref(tx.TradeState); state {
	case "NOTPAY", "USERPAYING":
		p.Status = channels.PaymentPending
	case "SUCCESS", "REFUND":
		p.Status = channels.PaymentPaid
		if tx.SuccessTime != nil && *tx.SuccessTime != "" {
			t, err := time.Parse(time.RFC3339, *tx.SuccessTime)
			if err != nil {
				return nil, unknown(op, "unreadable success_time", nil)
			}
			p.PaidAt = t
		}
	case "CLOSED", "REVOKED":
		p.Status = channels.PaymentClosed
	case "PAYERROR":
		p.Status = channels.PaymentFailed
	default:
		return nil, unknown(op, fmt.Sprintf("unknown trade_state %q", truncate(state, 32)), nil)
	}
	return p, nil
}

// ClosePayment closes an unpaid order. An order WeChat Pay never saw is not
// an error; a paid one returns [channels.ErrAlreadyPaid].
func (c *Channel) ClosePayment(ctx context.Context, appID string, code channels.Code, outTradeNo string) error {
	_, err := services{c.client}.native().CloseOrder(ctx, native.CloseOrderRequest{
		OutTradeNo: core.String(outTradeNo),
		Mchid:      core.String(c.mchID),
	})
	switch {
	case err == nil:
		return nil
	case core.IsAPIError(err, "ORDERPAID"):
		return channels.ErrAlreadyPaid
	case core.IsAPIError(err, "ORDER_NOT_EXIST"), core.IsAPIError(err, "ORDERCLOSED"), core.IsAPIError(err, "ORDER_CLOSED"):
		return nil
	}
	return apiError("close payment", err)
}

// Refund asks for a refund with out_refund_no = req.OutRefundNo. WeChat Pay
// refunds asynchronously: the usual answer is PROCESSING, settled later by
// the refund notification (CallbackURL + "/refundnotify") or QueryRefund.
// Re-sending the same OutRefundNo is idempotent at WeChat Pay.
//
// A refusal (a 4xx answer with a business code such as NOT_ENOUGH or
// INVALID_REQUEST) is a *channels.Error; any other error means the outcome
// is unknown and the refund should be retried with the same number.
func (c *Channel) Refund(ctx context.Context, req *channels.RefundRequest) (*channels.Refund, error) {
	if req == nil || req.OutTradeNo == "" || req.OutRefundNo == "" {
		return nil, errors.New("wechat: refund: outTradeNo and outRefundNo are required")
	}
	if req.RefundFee <= 0 || req.TotalFee <= 0 {
		return nil, errors.New("wechat: refund: refundFee and totalFee must be positive")
	}
	cr := refunddomestic.CreateRequest{
		OutTradeNo:  core.String(req.OutTradeNo),
		OutRefundNo: core.String(req.OutRefundNo),
		Amount: &refunddomestic.AmountReq{
			Refund:   core.Int64(req.RefundFee),
			Total:    core.Int64(req.TotalFee),
			Currency: core.String("CNY"),
		},
	}
	if req.Reason != "" {
		cr.Reason = core.String(truncate(req.Reason, 80))
	}
	if req.CallbackURL != "" {
		cr.NotifyUrl = core.String(req.CallbackURL + RefundNotifyPath)
	}
	r, _, err := services{c.client}.refunds().Create(ctx, cr)
	if err != nil {
		return nil, apiError("refund", err)
	}
	return refundFrom(req, r, "refund")
}

// QueryRefund asks WeChat Pay about a refund by out_refund_no. A refund
// WeChat Pay does not know is a *channels.Error with code
// RESOURCE_NOT_EXISTS.
func (c *Channel) QueryRefund(ctx context.Context, req *channels.RefundRequest) (*channels.Refund, error) {
	if req == nil || req.OutRefundNo == "" {
		return nil, errors.New("wechat: query refund: outRefundNo is required")
	}
	r, _, err := services{c.client}.refunds().QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{
		OutRefundNo: core.String(req.OutRefundNo),
	})
	if err != nil {
		return nil, apiError("query refund", err)
	}
	return refundFrom(req, r, "query refund")
}

func refundFrom(req *channels.RefundRequest, r *refunddomestic.Refund, op string) (*channels.Refund, error) {
	if got := deref(r.OutRefundNo); got != "" && got != req.OutRefundNo {
		return nil, unknown(op, "answer is about another refund", nil)
	}
	out := &channels.Refund{OutTradeNo: req.OutTradeNo, OutRefundNo: req.OutRefundNo}
	if v := deref(r.OutTradeNo); v != "" {
		out.OutTradeNo = v
	}
	if r.Amount != nil && r.Amount.Refund != nil {
		out.RefundFee = *r.Amount.Refund
	}
	var status string
	if r.Status != nil {
		status = string(*r.Status)
	}
	s, msg, ok := refundStatus(status)
	if !ok {
		return nil, unknown(op, fmt.Sprintf("unknown refund status %q", truncate(status, 32)), nil)
	}
	out.Status, out.Message = s, msg
	if s == channels.RefundSucceeded && r.SuccessTime != nil {
		out.RefundedAt = *r.SuccessTime
	}
	return out, nil
}

// refundStatus maps WeChat's refund status to ours.
func refundStatus(s string) (channels.RefundStatus, string, bool) {
	switch s {
	case "PROCESSING":
		return channels.RefundProcessing, "", true
	case "SUCCESS":
		return channels.RefundSucceeded, "", true
	case "CLOSED":
		return channels.RefundFailed, "refund closed by WeChat Pay", true
	case "ABNORMAL":
		return channels.RefundAbnormal, "refund abnormal: the money left the merchant account but the buyer's account cannot receive it", true
	}
	return "", "", false
}

// services groups the SDK's per-product services over one client. Query and
// close use the native service for every channel code: the endpoints are
// identical.
type services struct{ c *core.Client }

func (s services) native() *native.NativeApiService { return &native.NativeApiService{Client: s.c} }
func (s services) jsapi() *jsapi.JsapiApiService    { return &jsapi.JsapiApiService{Client: s.c} }
func (s services) app() *app.AppApiService          { return &app.AppApiService{Client: s.c} }
func (s services) h5() *h5.H5ApiService             { return &h5.H5ApiService{Client: s.c} }
func (s services) refunds() *refunddomestic.RefundsApiService {
	return &refunddomestic.RefundsApiService{Client: s.c}
}

// unknownError is an error whose outcome is unknown (network, timeout, a 5xx
// or an answer that could not be verified or read). Its text is short and
// safe; it unwraps only to context and network errors, never to the SDK's
// errors (which carry raw bodies and headers).
type unknownError struct {
	op, reason string
	cause      error
}

func (e *unknownError) Error() string {
	return "wechat: " + e.op + ": " + e.reason + " (outcome unknown)"
}

func (e *unknownError) Unwrap() error { return e.cause }

func unknown(op, reason string, cause error) error {
	return &unknownError{op: op, reason: reason, cause: cause}
}

// apiError classifies an SDK error: a 4xx answer with a business code is a
// definite *channels.Error; everything else is an unknown outcome.
func apiError(op string, err error) error {
	var ae *core.APIError
	if errors.As(err, &ae) {
		switch {
		case ae.StatusCode >= 500, ae.StatusCode == 429, ae.Code == "", ae.Code == "SYSTEM_ERROR", ae.Code == "FREQUENCY_LIMITED":
			reason := fmt.Sprintf("HTTP %d", ae.StatusCode)
			if ae.Code != "" {
				reason += " " + truncate(ae.Code, 64)
			}
			return unknown(op, reason, nil)
		}
		msg := truncate(ae.Message, 256)
		if msg == "" {
			msg = op + " refused"
		}
		return &channels.Error{Code: truncate(ae.Code, 64), Message: msg}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return unknown(op, "timed out", context.DeadlineExceeded)
	}
	if errors.Is(err, context.Canceled) {
		return unknown(op, "canceled", context.Canceled)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return unknown(op, "timed out", context.DeadlineExceeded)
		}
		return unknown(op, "network error", nil)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return unknown(op, "network error", nil)
	}
	// Response validation (signature, timestamp) or decoding failed.
	return unknown(op, "answer could not be verified or read", nil)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// truncate shortens s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
