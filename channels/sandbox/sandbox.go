// Package sandbox is a simulated payment channel serving all seven channel
// codes, for development, demos and tests.
//
// Its channelParams have the real shapes (codeUrl, the JSAPI and APP
// parameter sets, mwebUrl, an auto-submitting form), but every URL leads to
// the pay center's sandbox cashier, a page with Pay / Fail / Close buttons.
// Pressing one makes the sandbox post a signed notification that the pay
// center handles exactly as it handles a real channel's. Refunds succeed,
// at once or, with Config.RefundDelay, after a delay (to exercise the
// PROCESSING path).
package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopaycenter/paycenter/channels"
)

// Provider is the sandbox's name in callback paths.
const Provider = "sandbox"

// SignatureHeader carries the sandbox's notification signature.
const SignatureHeader = "X-Sandbox-Signature"

// Payment outcomes a sandbox notification can carry.
const (
	ResultSuccess = "success"
	ResultFail    = "fail"
	ResultClose   = "close"
)

// Config configures the sandbox. The pay center fills CashierURL.
type Config struct {
	// CashierURL returns the cashier page of a charge.
	CashierURL func(appID, outTradeNo string) string
	// RefundDelay keeps refunds PROCESSING for this long (default 0: they
	// succeed at once).
	RefundDelay time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Channel is the sandbox channel.
type Channel struct {
	cfg     Config
	key     []byte // signs notifications; new for every process
	mu      sync.Mutex
	refunds map[string]time.Time // outRefundNo → when it was requested
}

// New returns a sandbox channel.
func New(cfg Config) *Channel {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CashierURL == nil {
		cfg.CashierURL = func(appID, outTradeNo string) string {
			return "/sandbox/cashier/" + url.PathEscape(appID) + "/" + url.PathEscape(outTradeNo)
		}
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &Channel{cfg: cfg, key: key, refunds: map[string]time.Time{}}
}

// Provider implements channels.Channel.
func (*Channel) Provider() string { return Provider }

// CreatesOffline implements channels.OfflineCreator: no call is made.
func (*Channel) CreatesOffline() bool { return true }

// Account implements channels.Channel: "", each app has its own numbers.
func (*Channel) Account() string { return "" }

// Supports implements channels.Channel: every code.
func (*Channel) Supports(code channels.Code) bool { return code.Valid() }

// Create implements channels.Channel.
func (c *Channel) Create(_ context.Context, req *channels.CreateRequest) (channels.Params, error) {
	cashier := c.cfg.CashierURL(req.AppID, req.OutTradeNo)
	ts := strconv.FormatInt(c.cfg.Now().Unix(), 10)
	nonce := randomHex(16)
	prepay := "sbx" + randomHex(12)
	switch req.Code {
	case channels.WxNative:
		return channels.Params{"codeUrl": cashier}, nil
	case channels.WxJsapi:
		pkg := "prepay_id=" + prepay
		return channels.Params{
			"appId": "wxsandbox", "timeStamp": ts, "nonceStr": nonce, "package": pkg, "signType": "RSA",
			"paySign": c.mac64("wxsandbox\n" + ts + "\n" + nonce + "\n" + pkg + "\n"),
		}, nil
	case channels.WxApp:
		return channels.Params{
			"appId": "wxsandbox", "partnerid": "1900000000", "prepayid": prepay, "package": "Sign=WXPay",
			"nonceStr": nonce, "timeStamp": ts,
			"sign": c.mac64("wxsandbox\n" + ts + "\n" + nonce + "\n" + prepay + "\n"),
		}, nil
	case channels.WxMweb:
		u := cashier
		if req.ReturnURL != "" {
			u += "?redirect_url=" + url.QueryEscape(req.ReturnURL)
		}
		return channels.Params{"mwebUrl": u}, nil
	case channels.AliWeb, channels.AliWap:
		var b strings.Builder
		err := formTmpl.Execute(&b, map[string]string{"Action": cashier, "OutTradeNo": req.OutTradeNo})
		return channels.Params{"body": b.String(), "url": cashier}, err
	case channels.AliApp:
		v := url.Values{
			"app_id": {"sandbox"}, "method": {"alipay.trade.app.pay"}, "charset": {"utf-8"},
			"out_trade_no": {req.OutTradeNo}, "total_amount": {Yuan(req.TotalFee)}, "timestamp": {ts},
		}
		v.Set("sign", c.mac64(v.Encode()))
		return channels.Params{"body": v.Encode()}, nil
	}
	return nil, &channels.Error{Code: "UNSUPPORTED", Message: fmt.Sprintf("channel %s is not simulated", req.Code)}
}

var formTmpl = template.Must(template.New("form").Parse(
	`<form name="punchout_form" method="get" action="{{.Action}}">` +
		`<input type="submit" value="Pay {{.OutTradeNo}}" style="display:none">` +
		`</form><script>document.forms[0].submit();</script>`))

// Notification builds the signed notification the sandbox posts for a
// cashier outcome (ResultSuccess, ResultFail or ResultClose) to
// callbackURL + "/notify".
func (c *Channel) Notification(callbackURL, outTradeNo, result string, totalFee int64) (*http.Request, error) {
	switch result {
	case ResultSuccess, ResultFail, ResultClose:
	default:
		return nil, fmt.Errorf("result must be %s, %s or %s", ResultSuccess, ResultFail, ResultClose)
	}
	v := url.Values{
		"kind": {"payment"}, "outTradeNo": {outTradeNo}, "result": {result},
		"totalFee": {strconv.FormatInt(totalFee, 10)}, "notifyId": {randomHex(12)},
		"paidAt": {strconv.FormatInt(c.cfg.Now().UnixMilli(), 10)}, "transactionId": {"sbx" + randomHex(14)},
	}
	body := v.Encode()
	req, err := http.NewRequest(http.MethodPost, callbackURL+"/notify", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(SignatureHeader, c.mac(body))
	return req, nil
}

// ParseNotification implements channels.Channel.
func (c *Channel) ParseNotification(_ context.Context, r *http.Request, path string) (*channels.Notification, error) {
	if path != "/notify" {
		return nil, fmt.Errorf("sandbox: unknown notification path %q", path)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !hmac.Equal([]byte(r.Header.Get(SignatureHeader)), []byte(c.mac(string(body)))) {
		return nil, channels.SignatureError("sandbox: bad notification signature")
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	fee, err := strconv.ParseInt(v.Get("totalFee"), 10, 64)
	if err != nil {
		return nil, errors.New("sandbox: bad totalFee")
	}
	ms, err := strconv.ParseInt(v.Get("paidAt"), 10, 64)
	if err != nil {
		return nil, errors.New("sandbox: bad paidAt")
	}
	p := &channels.Payment{OutTradeNo: v.Get("outTradeNo"), TotalFee: fee}
	switch v.Get("result") {
	case ResultSuccess:
		p.Status, p.TransactionID, p.PaidAt = channels.PaymentPaid, v.Get("transactionId"), time.UnixMilli(ms)
	case ResultFail:
		p.Status = channels.PaymentFailed
	case ResultClose:
		p.Status = channels.PaymentClosed
	default:
		return nil, errors.New("sandbox: bad result")
	}
	return &channels.Notification{Kind: channels.NotifyPayment, ID: v.Get("notifyId"), Payment: p}, nil
}

// Ack implements channels.Channel: 200 "success", or 500 "fail".
func (*Channel) Ack(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "fail")
		return
	}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "success")
}

// ClosePayment implements channels.Closer; the sandbox has nothing to close.
func (*Channel) ClosePayment(context.Context, string, channels.Code, string) error { return nil }

// Refund implements channels.Refunder: SUCCESS at once, or PROCESSING for
// RefundDelay.
func (c *Channel) Refund(_ context.Context, req *channels.RefundRequest) (*channels.Refund, error) {
	out := &channels.Refund{OutTradeNo: req.OutTradeNo, OutRefundNo: req.OutRefundNo, RefundFee: req.RefundFee}
	if c.cfg.RefundDelay <= 0 {
		out.Status, out.RefundedAt = channels.RefundSucceeded, c.cfg.Now()
		return out, nil
	}
	c.mu.Lock()
	if _, ok := c.refunds[req.OutRefundNo]; !ok {
		c.refunds[req.OutRefundNo] = c.cfg.Now()
	}
	c.mu.Unlock()
	out.Status = channels.RefundProcessing
	return out, nil
}

// QueryRefund implements channels.RefundQuerier: SUCCESS once RefundDelay
// has passed since the refund was requested (or for a refund this process
// never saw).
func (c *Channel) QueryRefund(_ context.Context, req *channels.RefundRequest) (*channels.Refund, error) {
	out := &channels.Refund{OutTradeNo: req.OutTradeNo, OutRefundNo: req.OutRefundNo, RefundFee: req.RefundFee}
	c.mu.Lock()
	at, ok := c.refunds[req.OutRefundNo]
	c.mu.Unlock()
	now := c.cfg.Now()
	if ok && now.Before(at.Add(c.cfg.RefundDelay)) {
		out.Status = channels.RefundProcessing
		return out, nil
	}
	out.Status, out.RefundedAt = channels.RefundSucceeded, now
	return out, nil
}

// Yuan formats fen as a yuan amount with two decimals ("12.34").
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func (c *Channel) mac(s string) string {
	m := hmac.New(sha256.New, c.key)
	io.WriteString(m, s)
	return hex.EncodeToString(m.Sum(nil))
}

func (c *Channel) mac64(s string) string {
	m := hmac.New(sha256.New, c.key)
	io.WriteString(m, s)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
