package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/paytype"
)

const (
	testKey    = "e3047bcd-2w81-4a2a-a321-c75e64329381"
	testSecret = "52ewc-c675-4944-af44-f4fdsww332d88"
	basePath   = "/pay"
)

var fixedNow = time.UnixMilli(1508739061000)

// seenRequest is what the fake pay center received.
type seenRequest struct {
	Method      string
	Path        string // full path, base path included
	ContentType string
	Params      map[string]string // query and form parameters
	Header      http.Header
	RawQuery    string
}

// fakePayCenter is a pay center stand-in that checks the signature of every
// request with the reference implementation of the rule (refSign, not the
// client's Sign) and answers canned envelopes.
type fakePayCenter struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	seen   []seenRequest
	answer func(r seenRequest) (status int, body string)
}

func newFake(t *testing.T, answer func(r seenRequest) (int, string)) *fakePayCenter {
	t.Helper()
	f := &fakePayCenter{t: t, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePayCenter) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("parse form: %v", err)
	}
	req := seenRequest{
		Method:      r.Method,
		Path:        r.URL.Path,
		ContentType: r.Header.Get("Content-Type"),
		Params:      map[string]string{},
		Header:      r.Header.Clone(),
		RawQuery:    r.URL.RawQuery,
	}
	signed := map[string]string{}
	for k, v := range r.Form { // query and form body
		req.Params[k] = v[0]
		signed[k] = v[0]
	}
	for _, h := range []string{"key", "timestamp", "expires", "version", "nonce"} {
		if v := r.Header.Get(h); v != "" {
			signed[h] = v
		}
	}
	f.mu.Lock()
	f.seen = append(f.seen, req)
	f.mu.Unlock()

	if r.Header.Get("key") != testKey {
		f.t.Errorf("%s %s: key header = %q", r.Method, r.URL.Path, r.Header.Get("key"))
	}
	if r.Header.Get("timestamp") == "" {
		f.t.Errorf("%s %s: no timestamp header", r.Method, r.URL.Path)
	}
	v2 := r.Header.Get("version") == "v2" || r.Header.Get("version") == "v2.0"
	want := refSign(v2, r.Method, r.URL.Path, signed, testSecret)
	if got := r.Header.Get("sign"); got != want {
		f.t.Errorf("%s %s: sign = %q, reference verifier computes %q (v2=%v)", r.Method, r.URL.Path, got, want, v2)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"requestId":1,"errorCode":10004,"errorMsg":"sign mismatch"}`)
		return
	}
	status, body := f.answer(req)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("X-Request-Id", "777")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakePayCenter) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

func (f *fakePayCenter) client(opts ...Option) *Client {
	all := append([]Option{WithBaseURL(f.srv.URL + basePath), WithClock(func() time.Time { return fixedNow })}, opts...)
	return New(testKey, testSecret, all...)
}

func ok(params string) (int, string) {
	return 200, `{"requestId":1508401457368,"responseParams":` + params + `}`
}

// payCase is one channel of the charge tests: the canned channelParams,
// what they decode to, and the document-shaped helper of the channel.
type payCase struct {
	channel    Channel
	params     string
	wantParams any
	openid     string
	helper     func(c *Client, a javaCall) helperResult
}

// javaCall holds the positional arguments of the document-shaped helpers.
type javaCall struct {
	ctx                                   context.Context
	outTradeNo                            string
	totalFee                              int64
	clientIP, subject, body               string
	created                               int64
	returnURL                             string
	timeExpire                            int
	attach, analysis, description, openID string
}

// args are the arguments every helper takes, in the Java client's order.
func (a javaCall) args() (context.Context, string, int64, string, string, string, int64, string, int, string, string, string) {
	return a.ctx, a.outTradeNo, a.totalFee, a.clientIP, a.subject, a.body, a.created, a.returnURL, a.timeExpire,
		a.attach, a.analysis, a.description
}

// helperResult is a helper's answer with its channel params untyped.
type helperResult struct {
	params           any
	channel          Channel
	outTradeNo       string
	totalFee, expire int64
	reqID            int64
	err              error
}

func helperOf[T any](info *PayInfo[T], err error) helperResult {
	if err != nil {
		return helperResult{err: err}
	}
	return helperResult{info.ChannelParams, info.Channel, info.OutTradeNo, info.TotalFee, info.ExpireTime, info.RequestID, nil}
}

var payCases = []payCase{
	{
		channel:    WxNative,
		params:     `{"codeUrl":"weixin://wxpay/bizpayurl?pr=kzQ1mz8"}`,
		wantParams: WxNativeParams{CodeURL: "weixin://wxpay/bizpayurl?pr=kzQ1mz8"},
		helper:     func(c *Client, a javaCall) helperResult { return helperOf(c.WxNativePay(a.args())) },
	},
	{
		channel:    WxApp,
		params:     `{"timeStamp":"1507803453","partnerid":"1230000109","package":"Sign=WXPay","sign":"D939","appId":"wx1f","prepayid":"wx2017","nonceStr":"5e06"}`,
		wantParams: WxAppParams{AppID: "wx1f", PartnerID: "1230000109", PrepayID: "wx2017", Package: "Sign=WXPay", NonceStr: "5e06", TimeStamp: "1507803453", Sign: "D939"},
		helper:     func(c *Client, a javaCall) helperResult { return helperOf(c.WxAppPay(a.args())) },
	},
	{
		channel:    WxJsapi,
		openid:     "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		params:     `{"timeStamp":"1507803453","package":"prepay_id=wx2017","paySign":"D939","appId":"wx1f","signType":"MD5","nonceStr":"5e06"}`,
		wantParams: WxJsapiParams{AppID: "wx1f", TimeStamp: "1507803453", NonceStr: "5e06", Package: "prepay_id=wx2017", SignType: "MD5", PaySign: "D939"},
		helper: func(c *Client, a javaCall) helperResult {
			ctx, no, fee, ip, subject, body, created, ret, expire, attach, analysis, desc := a.args()
			return helperOf(c.WxJsapiPay(ctx, no, fee, ip, subject, body, created, ret, expire, attach, analysis, desc, a.openID))
		},
	},
	{
		channel:    WxMweb,
		params:     `{"mwebUrl":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2017&package=1707153875"}`,
		wantParams: WxMwebParams{MwebURL: "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2017&package=1707153875"},
		helper:     func(c *Client, a javaCall) helperResult { return helperOf(c.WxMwebPay(a.args())) },
	},
	{
		channel:    AliWeb,
		params:     `{"body":"<form name=\"punchout_form\"></form>","url":"https://openapi.alipay.com/gateway.do?x=1"}`,
		wantParams: AliParams{Body: `<form name="punchout_form"></form>`, URL: "https://openapi.alipay.com/gateway.do?x=1"},
		helper:     func(c *Client, a javaCall) helperResult { return helperOf(c.AliWebPay(a.args())) },
	},
	{
		channel:    AliApp,
		params:     `{"body":"app_id=2016&biz_content=%7B%7D&sign=abc"}`,
		wantParams: AliParams{Body: "app_id=2016&biz_content=%7B%7D&sign=abc"},
		helper:     func(c *Client, a javaCall) helperResult { return helperOf(c.AliAppPay(a.args())) },
	},
	{
		channel:    AliWap,
		params:     `{"body":"<form id=\"wap\"></form>","url":"https://openapi.alipay.com/gateway.do?wap=1"}`,
		wantParams: AliParams{Body: `<form id="wap"></form>`, URL: "https://openapi.alipay.com/gateway.do?wap=1"},
		helper:     func(c *Client, a javaCall) helperResult { return helperOf(c.AliWapPay(a.args())) },
	},
}

// typedParams returns the typed channel params CreateCharge filled in, and
// how many of the typed fields are set.
func typedParams(r *ChargeResult) (got any, set int) {
	if r.WxNative != nil {
		got, set = *r.WxNative, set+1
	}
	if r.WxJsapi != nil {
		got, set = *r.WxJsapi, set+1
	}
	if r.WxApp != nil {
		got, set = *r.WxApp, set+1
	}
	if r.WxMweb != nil {
		got, set = *r.WxMweb, set+1
	}
	if r.Alipay != nil {
		got, set = *r.Alipay, set+1
	}
	return got, set
}

// TestCreateCharge: for every channel, CreateCharge sends every parameter
// of ChargeParams and decodes the channel params into the channel's own
// field; the document-shaped helper sends the same request and answers
// the same params.
func TestCreateCharge(t *testing.T) {
	const created = int64(1508401409765)
	for _, tc := range payCases {
		t.Run(string(tc.channel), func(t *testing.T) {
			f := newFake(t, func(r seenRequest) (int, string) {
				return ok(`{"channel":"` + r.Params["channel"] + `","channelParams":` + tc.params +
					`,"outTradeNo":"test903289329","totalFee":100,"expireTime":1508408609765}`)
			})
			c := f.client()
			a := javaCall{context.Background(), "test903289329", 100, "127.0.0.1", "超级大礼包", "a b*c~d/e", created,
				"http://www.163.com/?a=1&b=2", 7200, "att&1", `{"os_name":"iOS"}`, "desc 1", tc.openid}
			r, err := c.CreateCharge(a.ctx, ChargeParams{Channel: tc.channel, OutTradeNo: a.outTradeNo, TotalFee: a.totalFee,
				ClientIP: a.clientIP, Subject: a.subject, Body: a.body, Created: a.created, ReturnURL: a.returnURL,
				TimeExpire: a.timeExpire, Attach: a.attach, Analysis: a.analysis, Description: a.description, OpenID: a.openID})
			if err != nil {
				t.Fatalf("CreateCharge: %v", err)
			}
			if got, set := typedParams(r); set != 1 || !reflect.DeepEqual(got, tc.wantParams) {
				t.Errorf("typed params = %+v (%d fields set), want %+v in the channel's field only", got, set, tc.wantParams)
			}
			if r.Channel != tc.channel || string(r.ChannelParams) != tc.params || r.OutTradeNo != "test903289329" || r.TotalFee != 100 ||
				r.ExpireTime == nil || r.ExpireTime.UnixMilli() != 1508408609765 || r.RequestID != 1508401457368 {
				t.Errorf("ChargeResult = %+v", r)
			}

			h := tc.helper(c, a)
			if h.err != nil {
				t.Fatalf("helper: %v", h.err)
			}
			if h.channel != tc.channel || !reflect.DeepEqual(h.params, tc.wantParams) {
				t.Errorf("helper answered %s %+v, want %s %+v", h.channel, h.params, tc.channel, tc.wantParams)
			}
			if h.outTradeNo != "test903289329" || h.totalFee != 100 || h.expire != 1508408609765 || h.reqID != 1508401457368 {
				t.Errorf("helper's extension fields = %q %d %d, requestId %d", h.outTradeNo, h.totalFee, h.expire, h.reqID)
			}

			reqs := f.requests()
			if len(reqs) != 2 {
				t.Fatalf("server saw %d requests, want 2", len(reqs))
			}
			want := map[string]string{
				"channel":     string(tc.channel),
				"outTradeNo":  "test903289329",
				"totalFee":    "100",
				"clientIp":    "127.0.0.1",
				"subject":     "超级大礼包",
				"body":        "a b*c~d/e",
				"created":     "1508401409765",
				"returnUrl":   "http://www.163.com/?a=1&b=2",
				"timeExpire":  "7200",
				"attach":      "att&1",
				"analysis":    `{"os_name":"iOS"}`,
				"description": "desc 1",
			}
			if tc.openid != "" {
				want["wx.openid"] = tc.openid
			}
			for i, r := range reqs {
				if r.Method != "POST" || r.Path != basePath+"/api/charges" {
					t.Errorf("request %d = %s %s, want POST %s/api/charges", i, r.Method, r.Path, basePath)
				}
				if r.ContentType != "application/x-www-form-urlencoded; charset=UTF-8" {
					t.Errorf("request %d: Content-Type = %q", i, r.ContentType)
				}
				if r.RawQuery != "" {
					t.Errorf("request %d: POST has a query string %q", i, r.RawQuery)
				}
				if !reflect.DeepEqual(r.Params, want) {
					t.Errorf("request %d: form fields:\n got %v\nwant %v", i, r.Params, want)
				}
				for _, h := range []string{"version", "nonce"} {
					if v := r.Header.Get(h); v != "" {
						t.Errorf("request %d: v1 request carries %s header %q", i, h, v)
					}
				}
				if got := r.Header.Get("timestamp"); got != "1508739061000" {
					t.Errorf("request %d: timestamp header = %q, want the clock's 1508739061000", i, got)
				}
			}
		})
	}
}

func TestCreateChargeDefaultsAndRaw(t *testing.T) {
	f := newFake(t, func(r seenRequest) (int, string) {
		switch r.Params["outTradeNo"] {
		case "order0002": // an answer without its channel
			return ok(`{"channelParams":{"codeUrl":"weixin://y"}}`)
		case "order0003": // a channel code this client does not know
			return ok(`{"channel":"WX_FUTURE","channelParams":{"codeUrl":"weixin://z"}}`)
		case "order0004": // channel params of the wrong shape
			return ok(`{"channel":"WX_NATIVE","channelParams":"str"}`)
		}
		return ok(`{"channel":"WX_NATIVE","channelParams":{"codeUrl":"weixin://x"}}`)
	})
	c := f.client()
	params := func(no string) ChargeParams {
		return ChargeParams{Channel: WxNative, OutTradeNo: no, TotalFee: 1, ClientIP: "::1", Subject: "s", Body: "b"}
	}
	info, err := c.CreateCharge(context.Background(), params("order0001"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"channel": "WX_NATIVE", "outTradeNo": "order0001", "totalFee": "1", "clientIp": "::1",
		"subject": "s", "body": "b", "created": "1508739061000", // created 0 → the clock
	}
	if got := f.requests()[0].Params; !reflect.DeepEqual(got, want) {
		t.Errorf("form fields:\n got %v\nwant %v (empty optionals must not be sent)", got, want)
	}
	if info.WxNative == nil || info.WxNative.CodeURL != "weixin://x" || info.Channel != WxNative {
		t.Errorf("ChargeResult = %+v", info)
	}
	if info.OutTradeNo != "" || info.ExpireTime != nil || info.TotalFee != 0 {
		t.Errorf("absent extension fields should be zero: %+v", info)
	}

	info, err = c.CreateCharge(context.Background(), params("order0002"))
	if err != nil || info.Channel != "" || info.WxNative == nil || info.WxNative.CodeURL != "weixin://y" {
		t.Errorf("answer without channel: %+v, %v; want the params decoded as the requested WX_NATIVE", info, err)
	}
	info, err = c.CreateCharge(context.Background(), params("order0003"))
	if got, set := typedParams(info); err != nil || set != 0 || string(info.ChannelParams) != `{"codeUrl":"weixin://z"}` {
		t.Errorf("unknown channel: %+v (typed %v), %v; want the raw params only", info, got, err)
	}
	_, err = c.CreateCharge(context.Background(), params("order0004"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != 0 || pe.RequestID != 1508401457368 || !strings.Contains(pe.Msg, "channelParams of WX_NATIVE") {
		t.Errorf("channel params of the wrong shape: %v, want an *Error naming channelParams", err)
	}
}

func TestGetPayResult(t *testing.T) {
	t.Run("paid", func(t *testing.T) {
		f := newFake(t, func(r seenRequest) (int, string) {
			return ok(`{"attach":"a1","channel":"WX_NATIVE","hasPay":true,"outTradeNo":"9769969905246398",
				"payTime":1508401466000,"returnUrl":"http://163.com","status":"PAID","totalFee":100,"refundedFee":30,"transactionId":"4200001"}`)
		})
		res, err := f.client().GetPayResult(context.Background(), WxNative, "9769969905246398")
		if err != nil {
			t.Fatal(err)
		}
		if res.PayTime == nil || !res.PayTime.Equal(time.UnixMilli(1508401466000)) {
			t.Errorf("PayTime = %v", res.PayTime)
		}
		if res.ReturnURL == nil || *res.ReturnURL != "http://163.com" {
			t.Errorf("ReturnURL = %v", res.ReturnURL)
		}
		want := PayResult{Channel: WxNative, OutTradeNo: "9769969905246398", HasPay: true, Attach: "a1",
			Status: StatusPaid, TotalFee: 100, RefundedFee: 30, TransactionID: "4200001", RequestID: 1508401457368}
		res.PayTime, res.ReturnURL = nil, nil
		if *res != want {
			t.Errorf("PayResult = %+v\nwant %+v", *res, want)
		}
		r := f.requests()[0]
		if r.Method != "GET" || r.Path != basePath+"/api/charges/pay-result" {
			t.Errorf("request = %s %s", r.Method, r.Path)
		}
		if !reflect.DeepEqual(r.Params, map[string]string{"channel": "WX_NATIVE", "outTradeNo": "9769969905246398"}) {
			t.Errorf("query = %v", r.Params)
		}
		if !strings.Contains(r.RawQuery, "outTradeNo=9769969905246398") {
			t.Errorf("parameters not in the query string: %q", r.RawQuery)
		}
	})
	t.Run("unpaid", func(t *testing.T) {
		f := newFake(t, func(r seenRequest) (int, string) {
			return ok(`{"attach":"","channel":"ALI_WEB","hasPay":false,"outTradeNo":"o1","payTime":null,"returnUrl":null,"status":"CREATED"}`)
		})
		res, err := f.client().GetPayResult(context.Background(), AliWeb, "o1")
		if err != nil {
			t.Fatal(err)
		}
		if res.HasPay || res.PayTime != nil || res.ReturnURL != nil || res.Status != StatusCreated || res.Channel != AliWeb {
			t.Errorf("PayResult = %+v", res)
		}
	})
}

func TestRefund(t *testing.T) {
	t.Run("extension answer", func(t *testing.T) {
		f := newFake(t, func(r seenRequest) (int, string) {
			return ok(`{"outTradeNo":"test903289329","outRefundNo":"ref1","refundFee":100,"status":"PROCESSING"}`)
		})
		res, err := f.client().Refund(context.Background(), RefundParams{OutTradeNo: "test903289329", OutRefundNo: "ref1", RefundFee: 100, RefundDesc: "商品退货"})
		if err != nil {
			t.Fatal(err)
		}
		want := RefundResult{OutTradeNo: "test903289329", OutRefundNo: "ref1", RefundFee: 100, Status: RefundProcessing, RequestID: 1508401457368}
		if *res != want {
			t.Errorf("RefundResult = %+v, want %+v", *res, want)
		}
		r := f.requests()[0]
		if r.Method != "POST" || r.Path != basePath+"/api/refunds" {
			t.Errorf("request = %s %s", r.Method, r.Path)
		}
		wantForm := map[string]string{"outTradeNo": "test903289329", "outRefundNo": "ref1", "refundFee": "100", "refundDesc": "商品退货"}
		if !reflect.DeepEqual(r.Params, wantForm) {
			t.Errorf("form = %v, want %v", r.Params, wantForm)
		}
	})
	t.Run("document answer", func(t *testing.T) {
		f := newFake(t, func(r seenRequest) (int, string) { return 200, `{"requestId":1508401467147}` })
		res, err := f.client().Refund(context.Background(), RefundParams{OutTradeNo: "test903289329", OutRefundNo: "ref2", RefundFee: 5})
		if err != nil {
			t.Fatal(err)
		}
		want := RefundResult{OutTradeNo: "test903289329", OutRefundNo: "ref2", RefundFee: 5, RequestID: 1508401467147}
		if *res != want {
			t.Errorf("RefundResult = %+v, want %+v", *res, want)
		}
		if _, has := f.requests()[0].Params["refundDesc"]; has {
			t.Error("refundDesc sent without RefundDesc")
		}
	})
}

func TestRefundResultAndClose(t *testing.T) {
	f := newFake(t, func(r seenRequest) (int, string) {
		switch r.Path {
		case basePath + "/api/refunds/result":
			return ok(`{"outTradeNo":"o1","outRefundNo":"ref1","refundFee":100,"status":"SUCCESS","refundTime":1508401466000}`)
		case basePath + "/api/charges/close":
			return ok(`{}`)
		}
		return 200, `{"requestId":5,"errorCode":10008,"errorMsg":"no route"}`
	})
	c := f.client()
	res, err := c.RefundResult(context.Background(), "ref1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != RefundSuccess || res.RefundFee != 100 || res.OutTradeNo != "o1" || res.OutRefundNo != "ref1" ||
		res.RefundTime == nil || !res.RefundTime.Equal(time.UnixMilli(1508401466000)) {
		t.Errorf("RefundResult = %+v", res)
	}
	if err := c.Close(context.Background(), AliWap, "o1"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	reqs := f.requests()
	if reqs[0].Method != "GET" || reqs[0].Params["outRefundNo"] != "ref1" || len(reqs[0].Params) != 1 {
		t.Errorf("refund result request = %s %v", reqs[0].Method, reqs[0].Params)
	}
	if reqs[1].Method != "POST" || reqs[1].Path != basePath+"/api/charges/close" ||
		!reflect.DeepEqual(reqs[1].Params, map[string]string{"channel": "ALI_WAP", "outTradeNo": "o1"}) {
		t.Errorf("close request = %s %s %v", reqs[1].Method, reqs[1].Path, reqs[1].Params)
	}
}

func TestErrorEnvelope(t *testing.T) {
	f := newFake(t, func(r seenRequest) (int, string) {
		return 200, `{"requestId":1508401467999,"errorCode":20003,"errorMsg":"outTradeNo test903289329 exists with a different totalFee"}`
	})
	c := f.client()
	_, err := c.WxNativePay(context.Background(), "test903289329", 100, "127.0.0.1", "s", "b", 0, "", 0, "", "", "")
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *client.Error", err, err)
	}
	if pe.Code != paytype.CodeExists || pe.RequestID != 1508401467999 || pe.HTTPStatus != 200 ||
		pe.Msg != "outTradeNo test903289329 exists with a different totalFee" {
		t.Errorf("Error = %+v", pe)
	}
	if !IsCode(err, paytype.CodeExists) || IsCode(err, paytype.CodeNotFound) || IsCode(errors.New("x"), paytype.CodeExists) {
		t.Error("IsCode disagrees with the error")
	}
	if !strings.Contains(err.Error(), "20003") || !strings.Contains(err.Error(), "1508401467999") {
		t.Errorf("Error() = %q lacks the code or request id", err.Error())
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Error("error text contains the secret")
	}
	// The other methods report errors the same way.
	if _, err := c.GetPayResult(context.Background(), WxNative, "x"); !IsCode(err, paytype.CodeExists) {
		t.Errorf("GetPayResult error = %v", err)
	}
	if _, err := c.Refund(context.Background(), RefundParams{OutTradeNo: "x", OutRefundNo: "y", RefundFee: 1}); !IsCode(err, paytype.CodeExists) {
		t.Errorf("Refund error = %v", err)
	}
	if _, err := c.RefundResult(context.Background(), "y"); !IsCode(err, paytype.CodeExists) {
		t.Errorf("RefundResult error = %v", err)
	}
	if err := c.Close(context.Background(), WxNative, "x"); !IsCode(err, paytype.CodeExists) {
		t.Errorf("Close error = %v", err)
	}
}

func TestUnusableAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		wantMsg    string
	}{
		{"bad gateway", "<html>502</html>", 502, "unexpected HTTP status"},
		{"not json", "<html>oops</html>", 200, "not a JSON envelope"},
		{"bad responseParams", `{"requestId":9,"responseParams":{"hasPay":"yes"}}`, 200, "cannot decode responseParams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(r seenRequest) (int, string) { return tc.status, tc.body })
			_, err := f.client().GetPayResult(context.Background(), WxNative, "o1")
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *client.Error", err, err)
			}
			if pe.Code != 0 || pe.HTTPStatus != tc.status || !strings.Contains(pe.Msg, tc.wantMsg) {
				t.Errorf("Error = %+v, want Code 0, HTTP %d, message with %q", pe, tc.status, tc.wantMsg)
			}
			if pe.RequestID == 0 {
				t.Errorf("RequestID not taken from the answer: %+v", pe)
			}
		})
	}
}

var nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{16,32}$`)

func TestSignV2(t *testing.T) {
	f := newFake(t, func(r seenRequest) (int, string) {
		return ok(`{"channel":"WX_NATIVE","outTradeNo":"o1","hasPay":false}`)
	})
	c := f.client(WithSignVersion(SignV2), WithExpires(30*time.Second))
	for i := 0; i < 3; i++ {
		if _, err := c.GetPayResult(context.Background(), WxNative, "o1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Refund(context.Background(), RefundParams{OutTradeNo: "o1", OutRefundNo: "r1", RefundFee: 1}); err != nil {
		t.Fatal(err)
	}
	nonces := map[string]bool{}
	for _, r := range f.requests() {
		if v := r.Header.Get("version"); v != "v2" {
			t.Errorf("version header = %q, want v2", v)
		}
		if v := r.Header.Get("expires"); v != "30000" {
			t.Errorf("expires header = %q, want 30000", v)
		}
		n := r.Header.Get("nonce")
		if !nonceRE.MatchString(n) {
			t.Errorf("nonce %q does not match %s", n, nonceRE)
		}
		if nonces[n] {
			t.Errorf("nonce %q reused", n)
		}
		nonces[n] = true
		if len(r.Header.Get("sign")) != 64 {
			t.Errorf("v2 sign %q is not a hex SHA-256", r.Header.Get("sign"))
		}
	}
	if len(nonces) != 4 {
		t.Errorf("saw %d distinct nonces, want 4", len(nonces))
	}
}

func TestContextCancellation(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		f := newFake(t, func(r seenRequest) (int, string) { return ok(`{}`) })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.client().GetPayResult(ctx, WxNative, "o1")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("server saw %d requests", n)
		}
	})
	t.Run("in flight", func(t *testing.T) {
		arrived := make(chan struct{})
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) }) // runs before srv.Close
		c := New(testKey, testSecret, WithBaseURL(srv.URL))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.Refund(ctx, RefundParams{OutTradeNo: "o1", OutRefundNo: "r1", RefundFee: 1})
			errc <- err
		}()
		<-arrived
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestConfigurationErrors(t *testing.T) {
	f := newFake(t, func(r seenRequest) (int, string) { return ok(`{}`) })
	for name, c := range map[string]*Client{
		"empty key":    New("", testSecret, WithBaseURL(f.srv.URL)),
		"empty secret": New(testKey, "", WithBaseURL(f.srv.URL)),
		"sign version": New(testKey, testSecret, WithBaseURL(f.srv.URL), WithSignVersion(3)),
		"relative URL": New(testKey, testSecret, WithBaseURL("/pay")),
		"ftp URL":      New(testKey, testSecret, WithBaseURL("ftp://example.com")),
		"query in URL": New(testKey, testSecret, WithBaseURL(f.srv.URL+"?a=1")),
	} {
		if err := c.Close(context.Background(), WxNative, "o1"); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), testSecret) {
			t.Errorf("%s: error contains the secret", name)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("misconfigured clients sent %d requests", n)
	}
}

func TestDefaults(t *testing.T) {
	c := New(testKey, testSecret)
	if c.base.String() != DefaultBaseURL || c.signVersion != SignV1 || c.httpClient.Timeout != DefaultTimeout || c.err != nil {
		t.Errorf("defaults: base %s, version %d, timeout %v, err %v", c.base, c.signVersion, c.httpClient.Timeout, c.err)
	}
	hc := &http.Client{}
	if New(testKey, testSecret, WithHTTPClient(hc)).httpClient != hc {
		t.Error("WithHTTPClient ignored")
	}
	// A trailing slash on the base URL does not double the slash in the
	// signed path (the fake would reject the signature).
	f := newFake(t, func(r seenRequest) (int, string) { return ok(`{}`) })
	if err := New(testKey, testSecret, WithBaseURL(f.srv.URL+"/pay/")).Close(context.Background(), WxApp, "o1"); err != nil {
		t.Fatal(err)
	}
	if p := f.requests()[0].Path; p != "/pay/api/charges/close" {
		t.Errorf("path = %q", p)
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newFake(t, func(r seenRequest) (int, string) {
		return ok(`{"channel":"WX_NATIVE","outTradeNo":"` + r.Params["outTradeNo"] + `","hasPay":false}`)
	})
	c := f.client(WithSignVersion(SignV2))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			no := fmt.Sprintf("order%04d", i)
			res, err := c.GetPayResult(context.Background(), WxNative, no)
			if err == nil && res.OutTradeNo != no {
				err = fmt.Errorf("answer for %s carries %s", no, res.OutTradeNo)
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	nonces := map[string]bool{}
	for _, r := range f.requests() {
		nonces[r.Header.Get("nonce")] = true
	}
	if len(nonces) != 8 {
		t.Errorf("%d distinct nonces for 8 concurrent requests", len(nonces))
	}
}
