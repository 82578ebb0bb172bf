// Package alipaytest is a fake Alipay gateway for tests, usable from any
// package: an httptest server that verifies the application's request
// signatures, keeps trades in memory, answers alipay.trade.query, .close,
// .refund and .fastpay.refund.query with responses signed by a test Alipay
// key (so the SDK's response verification stays on), serves the page, wap
// and app "cashier", lets a test play the buyer ([Fake.Pay]) and builds
// correctly signed notifications. Keys are generated in the test by
// [NewKeys], in public-key or certificate mode.
//
//	keys := alipaytest.NewKeys(t, alipaytest.PublicKeyMode)
//	fake := alipaytest.New(t, keys)
//	ch, _ := alipay.New(fake.Config())
//	params, _ := ch.Create(ctx, req)            // ALI_WEB
//	fake.MustSubmit(t, params)                  // the buyer opens the cashier
//	fake.Pay(req.OutTradeNo)                    // ... and pays
//	v := fake.PaymentNotification(t, req.OutTradeNo)
//	status, body, _ := fake.Post(ctx, fake.NotifyURL(req.OutTradeNo), v)
package alipaytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay"
)

// Methods served by the fake.
const (
	MethodPagePay     = "alipay.trade.page.pay"
	MethodWapPay      = "alipay.trade.wap.pay"
	MethodAppPay      = "alipay.trade.app.pay"
	MethodQuery       = "alipay.trade.query"
	MethodClose       = "alipay.trade.close"
	MethodRefund      = "alipay.trade.refund"
	MethodRefundQuery = "alipay.trade.fastpay.refund.query"
)

// Trade statuses.
const (
	WaitBuyerPay  = "WAIT_BUYER_PAY"
	TradeSuccess  = "TRADE_SUCCESS"
	TradeFinished = "TRADE_FINISHED"
	TradeClosed   = "TRADE_CLOSED"
)

// MaxSkew is how far a request timestamp (Beijing time) may be from the
// fake's clock.
const MaxSkew = 10 * time.Minute

const timeLayout = "2006-01-02 15:04:05"

// Trade is the fake's record of one trade.
type Trade struct {
	OutTradeNo     string
	TradeNo        string
	Method         string // the cashier method that opened it
	ProductCode    string
	Subject        string
	Status         string
	Total          int64 // fen
	Refunded       int64 // fen, cumulative
	NotifyURL      string
	ReturnURL      string
	PassbackParams string
	TimeExpire     string
	CreatedAt      time.Time
	PaidAt         time.Time
	Refunds        map[string]*RefundRecord // by out_request_no
}

// RefundRecord is one refund of a trade.
type RefundRecord struct {
	OutRequestNo string
	Amount       int64 // fen
	At           time.Time
}

// FaultKind is a way the next call of a method goes wrong.
type FaultKind int

// Fault kinds.
const (
	// FaultBusiness answers a signed business error (Code, SubCode, SubMsg).
	FaultBusiness FaultKind = iota + 1
	// FaultUnsigned answers a well-formed result without a signature.
	FaultUnsigned
	// FaultGarbled answers a body that is not JSON.
	FaultGarbled
	// FaultBadSignature answers a result signed by another key.
	FaultBadSignature
	// FaultHang never answers: the request hangs until the client gives up.
	// The call has no effect.
	FaultHang
	// FaultHangAfterApply does the call's work, then hangs: the client
	// times out although the fake changed state (a refund that went through).
	FaultHangAfterApply
	// FaultHTTP500 answers HTTP 500 with an HTML body.
	FaultHTTP500
)

// Fault is injected with [Fake.FailNext].
type Fault struct {
	Kind    FaultKind
	Code    string // FaultBusiness: e.g. "40004" (default)
	SubCode string // FaultBusiness: e.g. "ACQ.SYSTEM_ERROR"
	SubMsg  string
}

// Fake is a fake Alipay gateway. Create it with [New].
type Fake struct {
	// Keys are the keys of the one application the fake serves.
	Keys *Keys
	// URL is the gateway URL (…/gateway.do).
	URL string
	// Server is the underlying test server.
	Server *httptest.Server
	// Now is the fake's clock (default time.Now). Set it before use.
	Now func() time.Time
	// OnRequest, when set, sees every verified request's method and
	// parameters (after verification, before handling).
	OnRequest func(method string, params url.Values)

	client  *http.Client
	closing chan struct{}

	mu       sync.Mutex
	trades   map[string]*Trade
	faults   map[string][]Fault
	calls    map[string]int
	rejected int
	seq      int
	bills    billBook // bill.go
}

// New starts a fake gateway for keys; it is closed when the test ends.
func New(t testing.TB, keys *Keys) *Fake {
	t.Helper()
	f := &Fake{
		Keys:    keys,
		Now:     time.Now,
		client:  &http.Client{Timeout: 10 * time.Second},
		closing: make(chan struct{}),
		trades:  map[string]*Trade{},
		faults:  map[string][]Fault{},
		calls:   map[string]int{},
	}
	f.bills.dir = t.TempDir()
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.Server.URL + "/gateway.do"
	t.Cleanup(f.Server.Close)
	t.Cleanup(func() { close(f.closing) }) // runs first: releases hung handlers
	return f
}

// Config returns an adapter Config pointing at the fake, with these keys.
func (f *Fake) Config() alipay.Config {
	cfg := f.Keys.Config(f.URL)
	cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	return cfg
}

// Channel builds an adapter for the fake, failing t on error.
func (f *Fake) Channel(t testing.TB) *alipay.Channel {
	t.Helper()
	ch, err := alipay.New(f.Config())
	if err != nil {
		t.Fatalf("alipaytest: alipay.New: %v", err)
	}
	return ch
}

// FailNext makes the next call of method fail as fault says. Faults queue
// up in order.
func (f *Fake) FailNext(method string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = append(f.faults[method], fault)
}

// Calls reports how many verified requests of method the fake received.
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// Rejected reports how many requests the fake refused for a bad signature,
// a bad app or certificate, or bad common parameters.
func (f *Fake) Rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

// Trade returns a copy of the trade, if the fake knows it.
func (f *Fake) Trade(outTradeNo string) (Trade, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr, ok := f.trades[outTradeNo]
	if !ok {
		return Trade{}, false
	}
	cp := *tr
	cp.Refunds = map[string]*RefundRecord{}
	for k, v := range tr.Refunds {
		r := *v
		cp.Refunds[k] = &r
	}
	return cp, true
}

// NotifyURL is the notify_url the trade was opened with ("" if unknown).
func (f *Fake) NotifyURL(outTradeNo string) string {
	tr, _ := f.Trade(outTradeNo)
	return tr.NotifyURL
}

// Pay plays the buyer: the trade, opened at the cashier, becomes
// TRADE_SUCCESS with a trade_no and gmt_payment.
func (f *Fake) Pay(outTradeNo string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr, ok := f.trades[outTradeNo]
	if !ok {
		return fmt.Errorf("alipaytest: pay: no trade %q (submit the channel params first)", outTradeNo)
	}
	if tr.Status != WaitBuyerPay {
		return fmt.Errorf("alipaytest: pay: trade %q is %s", outTradeNo, tr.Status)
	}
	tr.Status = TradeSuccess
	tr.PaidAt = f.Now().In(channels.Beijing).Truncate(time.Second)
	return nil
}

// CloseTrade closes an unpaid trade as Alipay does at time_expire.
func (f *Fake) CloseTrade(outTradeNo string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr, ok := f.trades[outTradeNo]
	if !ok || tr.Status != WaitBuyerPay {
		return fmt.Errorf("alipaytest: close: trade %q is not open", outTradeNo)
	}
	tr.Status = TradeClosed
	return nil
}

// ---- cashier submission ----

// Submit plays the buyer's browser or app opening the cashier with the
// channel params returned by Create: it POSTs the HTML form ("body"
// starting with '<'), or submits the app order string. It returns the
// out_trade_no the fake registered.
func (f *Fake) Submit(ctx context.Context, params channels.Params) (string, error) {
	body := params["body"]
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		return f.SubmitForm(ctx, body)
	}
	return f.SubmitOrderString(ctx, body)
}

// MustSubmit is Submit that fails t on error.
func (f *Fake) MustSubmit(t testing.TB, params channels.Params) string {
	t.Helper()
	no, err := f.Submit(context.Background(), params)
	if err != nil {
		t.Fatalf("alipaytest: submit: %v", err)
	}
	return no
}

// ParseForm extracts the action, method and inputs of the first form of
// an HTML page, as a browser would submit them.
func ParseForm(page string) (action, method string, values url.Values, err error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return "", "", nil, err
	}
	values = url.Values{}
	var form *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && form == nil {
			form = n
		}
		if n.Type == html.ElementNode && n.Data == "input" && form != nil {
			name, val, hasName := "", "", false
			for _, a := range n.Attr {
				switch a.Key {
				case "name":
					name, hasName = a.Val, true
				case "value":
					val = a.Val
				}
			}
			if hasName {
				values.Add(name, val)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if form == nil {
		return "", "", nil, errors.New("no form")
	}
	for _, a := range form.Attr {
		switch a.Key {
		case "action":
			action = a.Val
		case "method":
			method = strings.ToUpper(a.Val)
		}
	}
	return action, method, values, nil
}

// SubmitForm POSTs the HTML form of an ALI_WEB/ALI_WAP body to its action.
func (f *Fake) SubmitForm(ctx context.Context, page string) (string, error) {
	action, method, values, err := ParseForm(page)
	if err != nil {
		return "", err
	}
	if method != http.MethodPost {
		return "", fmt.Errorf("form method is %q, want POST", method)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action, strings.NewReader(values.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.cashier(req, values)
}

// SubmitURL GETs a signed ALI_WEB/ALI_WAP URL.
func (f *Fake) SubmitURL(ctx context.Context, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	return f.cashier(req, u.Query())
}

// SubmitOrderString plays the Alipay app: it sends the ALI_APP order
// string to the gateway.
func (f *Fake) SubmitOrderString(ctx context.Context, orderString string) (string, error) {
	values, err := url.ParseQuery(orderString)
	if err != nil {
		return "", fmt.Errorf("order string: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, strings.NewReader(orderString))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.cashier(req, values)
}

func (f *Fake) cashier(req *http.Request, values url.Values) (string, error) {
	rsp, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer rsp.Body.Close()
	b, _ := io.ReadAll(rsp.Body)
	if rsp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("cashier refused (HTTP %d): %s", rsp.StatusCode, strings.TrimSpace(string(b)))
	}
	var biz struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	_ = json.Unmarshal([]byte(values.Get("biz_content")), &biz)
	return biz.OutTradeNo, nil
}

// ---- notifications ----

func (f *Fake) notification(tr *Trade, status string) url.Values {
	f.seq++
	now := f.Now().In(channels.Beijing)
	v := url.Values{}
	v.Set("notify_time", now.Format(timeLayout))
	v.Set("notify_type", "trade_status_sync")
	v.Set("notify_id", fmt.Sprintf("fake-notify-%d", f.seq))
	v.Set("app_id", f.Keys.AppID)
	v.Set("auth_app_id", f.Keys.AppID)
	v.Set("charset", "utf-8")
	v.Set("version", "1.0")
	v.Set("trade_no", tr.TradeNo)
	v.Set("out_trade_no", tr.OutTradeNo)
	v.Set("buyer_id", "2088000000000001")
	v.Set("buyer_logon_id", "bu***@example.com")
	v.Set("seller_id", f.Keys.SellerID)
	v.Set("seller_email", "seller@example.com")
	v.Set("trade_status", status)
	v.Set("total_amount", alipay.FormatAmount(tr.Total))
	v.Set("subject", tr.Subject)
	v.Set("gmt_create", tr.CreatedAt.In(channels.Beijing).Format(timeLayout))
	if tr.PassbackParams != "" {
		v.Set("passback_params", tr.PassbackParams)
	}
	if !tr.PaidAt.IsZero() {
		v.Set("gmt_payment", tr.PaidAt.In(channels.Beijing).Format(timeLayout))
		v.Set("receipt_amount", alipay.FormatAmount(tr.Total))
		v.Set("buyer_pay_amount", alipay.FormatAmount(tr.Total))
		v.Set("invoice_amount", alipay.FormatAmount(tr.Total))
		v.Set("fund_bill_list", `[{"amount":"`+alipay.FormatAmount(tr.Total)+`","fundChannel":"ALIPAYACCOUNT"}]`)
	}
	return v
}

func (f *Fake) lookup(t testing.TB, outTradeNo string) *Trade {
	t.Helper()
	tr, ok := f.trades[outTradeNo]
	if !ok {
		t.Fatalf("alipaytest: no trade %q", outTradeNo)
	}
	return tr
}

// PaymentNotification returns the signed trade_status_sync notification
// for the trade's current status (TRADE_SUCCESS after Pay). Call it from
// the test goroutine (it fails t for an unknown trade).
func (f *Fake) PaymentNotification(t testing.TB, outTradeNo string) url.Values {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	tr := f.lookup(t, outTradeNo)
	return f.Keys.SignNotification(f.notification(tr, tr.Status))
}

// RefundNotification returns the signed notification Alipay sends after a
// refund: out_biz_no = outRequestNo, refund_fee = cumulative refunded
// amount, gmt_refund, trade_status TRADE_SUCCESS (TRADE_CLOSED when fully
// refunded).
func (f *Fake) RefundNotification(t testing.TB, outTradeNo, outRequestNo string) url.Values {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	tr := f.lookup(t, outTradeNo)
	r, ok := tr.Refunds[outRequestNo]
	if !ok {
		t.Fatalf("alipaytest: no refund %q of %q", outRequestNo, outTradeNo)
	}
	v := f.notification(tr, tr.Status)
	v.Set("out_biz_no", r.OutRequestNo)
	v.Set("refund_fee", alipay.FormatAmount(tr.Refunded))
	v.Set("gmt_refund", r.At.In(channels.Beijing).Format(timeLayout)+".000")
	return f.Keys.SignNotification(v)
}

// Sign signs arbitrary notification values with the fake's Alipay key (see
// Keys.SignNotification); tests use it to build notifications that are
// authentic but wrong in some other way.
func (f *Fake) Sign(v url.Values) url.Values { return f.Keys.SignNotification(v) }

// Post delivers notification values to target as Alipay does (POST,
// application/x-www-form-urlencoded; charset=utf-8) and returns the
// answer's status and body.
func (f *Fake) Post(ctx context.Context, target string, v url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(v.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	rsp, err := f.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	return rsp.StatusCode, string(b), err
}

// ---- the gateway ----

// serve is the gateway: it verifies the request's signature as Alipay does,
// then dispatches on method. It is long because it is the one place that
// lists every gateway method the fake answers, side by side; each case is a
// few lines.
func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == BillPath {
		f.serveBill(w, r)
		return
	}
	var params url.Values
	switch r.Method {
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		params = r.PostForm
	case http.MethodGet:
		params = r.URL.Query()
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	method := params.Get("method")
	if reason := f.verifyRequest(params); reason != "" {
		f.mu.Lock()
		f.rejected++
		f.mu.Unlock()
		f.reject(w, method, reason)
		return
	}
	f.mu.Lock()
	f.calls[method]++
	var fault *Fault
	if q := f.faults[method]; len(q) > 0 {
		fault = &q[0]
		f.faults[method] = q[1:]
	}
	hook := f.OnRequest
	f.mu.Unlock()
	if hook != nil {
		hook(method, params)
	}

	var biz map[string]any
	if bc := params.Get("biz_content"); bc != "" {
		if err := json.Unmarshal([]byte(bc), &biz); err != nil {
			f.reject(w, method, "biz_content is not JSON")
			return
		}
	}
	switch method {
	case MethodPagePay, MethodWapPay, MethodAppPay:
		f.serveCashier(w, method, params, biz)
		return
	}

	if fault != nil {
		switch fault.Kind {
		case FaultHang:
			f.hang(r)
			return
		case FaultGarbled:
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>502 Bad Gateway</html>")
			return
		case FaultHTTP500:
			http.Error(w, "<html>internal error</html>", http.StatusInternalServerError)
			return
		case FaultBusiness:
			code := fault.Code
			if code == "" {
				code = "40004"
			}
			f.respond(w, method, map[string]any{"code": code, "msg": "Business Failed", "sub_code": fault.SubCode, "sub_msg": fault.SubMsg}, signOK)
			return
		}
	}
	var result map[string]any
	f.mu.Lock()
	switch method {
	case MethodQuery:
		result = f.query(biz)
	case MethodClose:
		result = f.close(biz)
	case MethodRefund:
		result = f.refund(biz)
	case MethodRefundQuery:
		result = f.refundQuery(biz)
	case MethodBillDownloadURL:
		result = f.billDownloadURL(biz)
	}
	f.mu.Unlock()
	if result == nil {
		f.reject(w, method, "method not supported by the fake")
		return
	}
	mode := signOK
	if fault != nil {
		switch fault.Kind {
		case FaultHangAfterApply:
			f.hang(r)
			return
		case FaultUnsigned:
			mode = signNone
		case FaultBadSignature:
			mode = signWrong
		}
	}
	f.respond(w, method, result, mode)
}

func (f *Fake) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.closing:
	}
}

// verifyRequest checks the common parameters and the app's signature. It
// returns "" when the request is good, else the reason.
func (f *Fake) verifyRequest(p url.Values) string {
	for _, k := range []string{"app_id", "method", "format", "charset", "sign_type", "timestamp", "version", "sign"} {
		if len(p[k]) != 1 || p.Get(k) == "" {
			return "missing or repeated " + k
		}
	}
	if p.Get("app_id") != f.Keys.AppID {
		return "unknown app_id"
	}
	if p.Get("sign_type") != "RSA2" || p.Get("charset") != "utf-8" || p.Get("format") != "JSON" || p.Get("version") != "1.0" {
		return "bad common parameters"
	}
	ts, err := time.ParseInLocation(timeLayout, p.Get("timestamp"), channels.Beijing)
	if err != nil {
		return "bad timestamp"
	}
	if d := f.Now().Sub(ts); d > MaxSkew || d < -MaxSkew {
		return "timestamp too far from Beijing time"
	}
	if f.Keys.Mode == CertMode {
		if p.Get("app_cert_sn") != f.Keys.AppCertSN {
			return "bad app_cert_sn"
		}
		if p.Get("alipay_root_cert_sn") != f.Keys.AlipayRootCertSN {
			return "bad alipay_root_cert_sn"
		}
	} else if p.Get("app_cert_sn") != "" || p.Get("alipay_root_cert_sn") != "" {
		return "certificate SNs sent in public-key mode"
	}
	if !verifyRSA2(f.Keys.AppPublicKey(), []byte(SignContent(p, "sign")), p.Get("sign")) {
		return "invalid signature"
	}
	return ""
}

// reject answers an unsigned error, as Alipay does for a request it could
// not authenticate.
func (f *Fake) reject(w http.ResponseWriter, method, reason string) {
	key := "error_response"
	if method != "" {
		key = strings.ReplaceAll(method, ".", "_") + "_response"
	}
	body, _ := json.Marshal(map[string]any{key: map[string]string{
		"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": reason,
	}})
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	switch method {
	case MethodPagePay, MethodWapPay, MethodAppPay:
		w.WriteHeader(http.StatusBadRequest)
	}
	_, _ = w.Write(body)
}

type signMode int

const (
	signOK signMode = iota
	signNone
	signWrong
)

func (f *Fake) respond(w http.ResponseWriter, method string, result map[string]any, mode signMode) {
	biz, _ := json.Marshal(result)
	var b strings.Builder
	b.WriteString(`{"`)
	b.WriteString(strings.ReplaceAll(method, ".", "_"))
	b.WriteString(`_response":`)
	b.Write(biz)
	switch mode {
	case signOK:
		b.WriteString(`,"sign":"` + signRSA2(f.Keys.alipayKey, biz) + `"`)
	case signWrong:
		b.WriteString(`,"sign":"` + signRSA2(f.Keys.appKey, biz) + `"`)
	}
	if f.Keys.Mode == CertMode {
		b.WriteString(`,"alipay_cert_sn":"` + f.Keys.AlipayCertSN + `"`)
	}
	b.WriteString(`}`)
	w.Header().Set("Content-Type", "text/html;charset=utf-8") // as Alipay does
	_, _ = io.WriteString(w, b.String())
}

var amountRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$`)

// fen parses a yuan amount independently of the adapter's parser.
func fen(s string) (int64, bool) {
	m := amountRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	y, _ := strconv.ParseInt(m[1], 10, 64)
	frac := strings.TrimPrefix(m[2], ".")
	for len(frac) < 2 {
		frac += "0"
	}
	c, _ := strconv.ParseInt(frac, 10, 64)
	return y*100 + c, true
}

func str(biz map[string]any, k string) string {
	s, _ := biz[k].(string)
	return s
}

var productFor = map[string]string{
	MethodPagePay: "FAST_INSTANT_TRADE_PAY",
	MethodWapPay:  "QUICK_WAP_WAY",
	MethodAppPay:  "QUICK_MSECURITY_PAY",
}

// serveCashier answers a page, wap or app order as Alipay's cashier would:
// it checks the fields of the order (one case per rule), then opens the
// trade. Long because the rules are a flat list, read best in one place.
func (f *Fake) serveCashier(w http.ResponseWriter, method string, p url.Values, biz map[string]any) {
	no, subject := str(biz, "out_trade_no"), str(biz, "subject")
	total, ok := fen(str(biz, "total_amount"))
	switch {
	case no == "" || subject == "":
		http.Error(w, "missing out_trade_no or subject", http.StatusBadRequest)
		return
	case !ok || total <= 0 || total > alipay.MaxAmount:
		http.Error(w, "bad total_amount", http.StatusBadRequest)
		return
	case str(biz, "product_code") != productFor[method]:
		http.Error(w, "bad product_code", http.StatusBadRequest)
		return
	case p.Get("notify_url") == "":
		http.Error(w, "missing notify_url", http.StatusBadRequest)
		return
	}
	if te := str(biz, "time_expire"); te != "" {
		layout := timeLayout
		if method == MethodWapPay {
			layout = "2006-01-02 15:04"
		}
		exp, err := time.ParseInLocation(layout, te, channels.Beijing)
		if err != nil {
			http.Error(w, "bad time_expire", http.StatusBadRequest)
			return
		}
		if !exp.After(f.Now()) {
			http.Error(w, "trade expired", http.StatusBadRequest)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if tr, ok := f.trades[no]; ok {
		if tr.Total != total {
			http.Error(w, "trade information tampered", http.StatusBadRequest)
			return
		}
		if tr.Status != WaitBuyerPay {
			http.Error(w, "trade is "+tr.Status, http.StatusBadRequest)
			return
		}
	} else {
		f.seq++
		f.trades[no] = &Trade{
			OutTradeNo:     no,
			TradeNo:        fmt.Sprintf("2025%016d", f.seq),
			Method:         method,
			ProductCode:    str(biz, "product_code"),
			Subject:        subject,
			Status:         WaitBuyerPay,
			Total:          total,
			NotifyURL:      p.Get("notify_url"),
			ReturnURL:      p.Get("return_url"),
			PassbackParams: str(biz, "passback_params"),
			TimeExpire:     str(biz, "time_expire"),
			CreatedAt:      f.Now().In(channels.Beijing).Truncate(time.Second),
			Refunds:        map[string]*RefundRecord{},
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "<html><body>Fake Alipay cashier: "+html.EscapeString(no)+"</body></html>")
}

func bizErr(sub, msg string) map[string]any {
	return map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": sub, "sub_msg": msg}
}

func (f *Fake) query(biz map[string]any) map[string]any {
	tr, ok := f.trades[str(biz, "out_trade_no")]
	if !ok {
		return bizErr("ACQ.TRADE_NOT_EXIST", "交易不存在")
	}
	res := map[string]any{
		"code": "10000", "msg": "Success",
		"trade_no": tr.TradeNo, "out_trade_no": tr.OutTradeNo,
		"buyer_logon_id": "bu***@example.com", "trade_status": tr.Status,
		"total_amount": alipay.FormatAmount(tr.Total),
	}
	if !tr.PaidAt.IsZero() {
		res["send_pay_date"] = tr.PaidAt.In(channels.Beijing).Format(timeLayout)
		res["receipt_amount"] = alipay.FormatAmount(tr.Total)
		res["buyer_pay_amount"] = alipay.FormatAmount(tr.Total)
	}
	return res
}

func (f *Fake) close(biz map[string]any) map[string]any {
	tr, ok := f.trades[str(biz, "out_trade_no")]
	if !ok {
		return bizErr("ACQ.TRADE_NOT_EXIST", "交易不存在")
	}
	if tr.Status != WaitBuyerPay {
		return bizErr("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	}
	tr.Status = TradeClosed
	return map[string]any{"code": "10000", "msg": "Success", "trade_no": tr.TradeNo, "out_trade_no": tr.OutTradeNo}
}

func (f *Fake) refund(biz map[string]any) map[string]any {
	tr, ok := f.trades[str(biz, "out_trade_no")]
	if !ok {
		return bizErr("ACQ.TRADE_NOT_EXIST", "交易不存在")
	}
	no := str(biz, "out_request_no")
	amount, ok := fen(str(biz, "refund_amount"))
	if no == "" || !ok || amount <= 0 {
		return map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter", "sub_msg": "参数无效"}
	}
	success := func(change string) map[string]any {
		return map[string]any{
			"code": "10000", "msg": "Success", "trade_no": tr.TradeNo, "out_trade_no": tr.OutTradeNo,
			"buyer_logon_id": "bu***@example.com", "fund_change": change,
			"refund_fee": alipay.FormatAmount(tr.Refunded), "gmt_refund_pay": f.Now().In(channels.Beijing).Format(timeLayout),
		}
	}
	if r, ok := tr.Refunds[no]; ok {
		if r.Amount != amount {
			return bizErr("ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致")
		}
		return success("N")
	}
	if tr.Status != TradeSuccess {
		return bizErr("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	}
	if tr.Refunded+amount > tr.Total {
		return bizErr("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
	}
	tr.Refunds[no] = &RefundRecord{OutRequestNo: no, Amount: amount, At: f.Now().In(channels.Beijing).Truncate(time.Second)}
	tr.Refunded += amount
	if tr.Refunded == tr.Total {
		tr.Status = TradeClosed
	}
	return success("Y")
}

func (f *Fake) refundQuery(biz map[string]any) map[string]any {
	tr, ok := f.trades[str(biz, "out_trade_no")]
	if !ok {
		return bizErr("ACQ.TRADE_NOT_EXIST", "交易不存在")
	}
	no := str(biz, "out_request_no")
	res := map[string]any{"code": "10000", "msg": "Success", "trade_no": tr.TradeNo, "out_trade_no": tr.OutTradeNo, "out_request_no": no}
	if r, ok := tr.Refunds[no]; ok {
		res["refund_status"] = "REFUND_SUCCESS"
		res["refund_amount"] = alipay.FormatAmount(r.Amount)
		res["total_amount"] = alipay.FormatAmount(tr.Total)
		res["gmt_refund_pay"] = r.At.In(channels.Beijing).Format(timeLayout)
	}
	return res
}
