package paycenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/channels/sandbox"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// TestOpenAPIContract drives mounted pay centers through every route of
// docs/openapi.yaml, with success and error answers, reaching every error
// code and every webhook event, and checks each exchange against the
// document (see contract), on every database.
func TestOpenAPIContract(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			c := newContract(t)
			contractSandbox(t, c, kind)
			contractChannels(t, c, kind)
			contractSandboxNotify(t, c, kind)
			c.requireCoverage()
		})
	}
}

// contractSandbox drives a pay center in sandbox mode: the API's success
// paths on every channel code, signature v1 and v2, common parameters as
// headers and as parameters, the sandbox routes, the errors of
// contractErrors, an expired charge (20006) and a database failure (10001).
// It is a scenario: each step needs the state the one before left.
func contractSandbox(t *testing.T, c *contract, kind testdb.Kind) {
	e := newEnv(t, kind, noWorkers, withWebhooks(c.hookTo), func(cfg *paycenter.Config) {
		cfg.Apps = append(cfg.Apps, paycenter.App{ID: "22", Key: "key22", Secret: "secret22", MinSignVersion: 2})
	})
	base := e.srv.URL
	for i, code := range channels.Codes { // the sandbox's channelParams have the real shapes
		c.run(t, base, apiCase{name: "create " + string(code), method: "POST", path: "/api/charges",
			params: chargeParams(code, fmt.Sprintf("code%08d", i), 100)})
	}
	paid := map[string]string{"channel": "WX_NATIVE", "outTradeNo": "paid00000001"}
	c.run(t, base,
		apiCase{name: "create", method: "POST", path: "/api/charges", params: chargeParams(channels.WxNative, "paid00000001", 100)},
		apiCase{name: "unpaid", method: "GET", path: "/api/charges/pay-result", params: paid})
	ex := c.form(t, base+"/sandbox/pay", url.Values{"appId": {testAppID}, "outTradeNo": {"paid00000001"}, "result": {"success"}})
	require.Equal(t, http.StatusOK, ex.status, "%s", ex.body)
	c.run(t, base,
		apiCase{name: "paid (GET)", method: "GET", path: "/api/charges/pay-result", params: paid},
		apiCase{name: "paid (POST)", method: "POST", path: "/api/charges/pay-result", params: paid},
		apiCase{name: "refund", method: "POST", path: "/api/refunds",
			params: map[string]string{"outTradeNo": "paid00000001", "outRefundNo": "r1", "refundFee": "30", "refundDesc": "退货"}},
		apiCase{name: "refund result (GET)", method: "GET", path: "/api/refunds/result", params: map[string]string{"outRefundNo": "r1"}},
		apiCase{name: "refund result (POST)", method: "POST", path: "/api/refunds/result", params: map[string]string{"outRefundNo": "r1"}},
		apiCase{name: "create to close", method: "POST", path: "/api/charges", params: chargeParams(channels.AliWeb, "open00000001", 100)},
		apiCase{name: "close", method: "POST", path: "/api/charges/close", params: map[string]string{"channel": "ALI_WEB", "outTradeNo": "open00000001"}})

	// The common parameters as query parameters, timestamp and expires too.
	q := map[string]string{"channel": "WX_NATIVE", "outTradeNo": "paid00000001", "key": testKey,
		"timestamp": millisText(e.clock.Now()), "expires": "60000"}
	q["sign"] = sign.V1(sign.BaseString(http.MethodGet, "/api/charges/pay-result", q), testSecret)
	query := url.Values{}
	for k, v := range q {
		query.Set(k, v)
	}
	ex = c.get(t, base+"/api/charges/pay-result?"+query.Encode())
	assert.True(t, ex.ok, "%s", ex.body)

	// Signature v2 with the Go client: timestamp, version and nonce headers.
	v2 := client.New("key22", "secret22", client.WithBaseURL(base), client.WithHTTPClient(c.hc),
		client.WithSignVersion(client.SignV2), client.WithClock(e.clock.Now))
	ctx := context.Background()
	_, err := v2.WxNativePay(ctx, "vtwo00000001", 100, "127.0.0.1", "tea", "tea", e.clock.Now().UnixMilli(), "", 0, "", "", "")
	require.NoError(t, err)
	_, err = v2.GetPayResult(ctx, client.WxNative, "vtwo00000001")
	require.NoError(t, err)

	c.run(t, base, contractErrors(e)...)
	req, err := http.NewRequest(http.MethodPost, base+"/api/charges", strings.NewReader(`{"channel":"WX_NATIVE"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	ex = c.do(req)
	assert.Equal(t, paycenter.CodeInvalid, ex.code, "a JSON body: %s", ex.body)
	assert.Error(t, ex.reqErr, "the document describes form bodies only")

	// A charge resubmitted after its expiry.
	expiring := withParams(chargeParams(channels.WxNative, "expire000001", 100), "timeExpire", "60")
	c.run(t, base, apiCase{name: "create, 60 s", method: "POST", path: "/api/charges", params: expiring})
	e.clock.Add(61 * time.Second)
	c.run(t, base, apiCase{name: "create after the expiry", method: "POST", path: "/api/charges", params: expiring, code: 20006})

	contractSandboxRoutes(t, c, base)
	deliverAll(t, e)

	// The database fails: 10001, the cause logged, not returned.
	require.NoError(t, e.pc.DB().Migrator().DropTable(e.pc.Tables().Refunds))
	out := c.run(t, base, apiCase{name: "database failure", method: "GET", path: "/api/refunds/result",
		params: map[string]string{"outRefundNo": "r1"}, code: 10001})
	assert.NotContains(t, string(out["database failure"].body), e.pc.Tables().Refunds, "no internal cause in the answer")
}

// contractErrors are requests refused by the rules the document states,
// run after contractSandbox's charge paid00000001 (refunded 30 of 100) and
// its unpaid charges; docRejects says which of them the document's schemas
// can tell apart (the rest need the server: keys, signatures, clocks,
// stored orders, and the rules a schema cannot express).
func contractErrors(e *env) []apiCase {
	create := chargeParams(channels.WxNative, "new000000001", 100)
	now := millisText(e.clock.Now())
	refund := map[string]string{"outTradeNo": "paid00000001", "outRefundNo": "r2", "refundFee": "1"}
	const charges, payResult, refunds = "/api/charges", "/api/charges/pay-result", "/api/refunds"
	return []apiCase{
		{name: "GET on create", method: "GET", path: charges, params: create, code: 10002, docRejects: true},
		{name: "PUT on pay-result", method: "PUT", path: payResult, params: map[string]string{"channel": "WX_NATIVE", "outTradeNo": "paid00000001"}, code: 10002, docRejects: true},
		{name: "unknown key", method: "POST", path: charges, params: create, key: "nope", secret: "nope", code: 10003},
		{name: "bad sign", method: "POST", path: charges, params: create, key: testKey, secret: "wrong", code: 10004},
		{name: "v1 on a v2-only app", method: "POST", path: charges, params: create, key: "key22", secret: "secret22", code: 10004},
		{name: "expired", method: "POST", path: charges, params: withParams(create, "timestamp", "1508739061000", "expires", "30000"), code: 10005},
		{name: "future timestamp", method: "POST", path: charges, params: withParams(create, "timestamp", millisText(e.clock.Now().Add(10*time.Minute))), code: 10005},
		{name: "missing channel", method: "POST", path: charges, params: withParams(create, "channel", "<delete>"), code: 10006, docRejects: true},
		{name: "missing openid", method: "POST", path: charges, params: withParams(create, "channel", "WX_JSAPI"), code: 10006, docRejects: true},
		{name: "missing outRefundNo", method: "POST", path: refunds, params: withParams(refund, "outRefundNo", "<delete>"), code: 10006, docRejects: true},
		{name: "missing channel (POST pay-result)", method: "POST", path: payResult, params: map[string]string{"outTradeNo": "paid00000001"}, code: 10006, docRejects: true},
		{name: "v2 without nonce", method: "POST", path: charges, params: withParams(create, "version", "v2", "timestamp", now), key: "key22", secret: "secret22", code: 10006},
		{name: "bad channel", method: "POST", path: charges, params: withParams(create, "channel", "WX_FOO"), code: 10007, docRejects: true},
		{name: "short outTradeNo", method: "POST", path: charges, params: withParams(create, "outTradeNo", "abc"), code: 10007, docRejects: true},
		{name: "fee zero", method: "POST", path: charges, params: withParams(create, "totalFee", "0"), code: 10007, docRejects: true},
		{name: "fee decimal", method: "POST", path: charges, params: withParams(create, "totalFee", "1.5"), code: 10007, docRejects: true},
		{name: "fee too big", method: "POST", path: charges, params: withParams(create, "totalFee", "100000000001"), code: 10007, docRejects: true},
		{name: "feeType", method: "POST", path: charges, params: withParams(create, "feeType", "USD"), code: 10007, docRejects: true},
		{name: "clientIp (not an address)", method: "POST", path: charges, params: withParams(create, "clientIp", "300.1.1.1"), code: 10007},
		{name: "clientIp (a name)", method: "POST", path: charges, params: withParams(create, "clientIp", "localhost"), code: 10007, docRejects: true},
		{name: "subject too long", method: "POST", path: charges, params: withParams(create, "subject", strings.Repeat("长", 129)), code: 10007, docRejects: true},
		{name: "control character", method: "POST", path: charges, params: withParams(create, "body", "a\x01b"), code: 10007, docRejects: true},
		{name: "created in seconds", method: "POST", path: charges, params: withParams(create, "created", "1508401409"), code: 10007, docRejects: true},
		{name: "timeExpire", method: "POST", path: charges, params: withParams(create, "timeExpire", "59"), code: 10007, docRejects: true},
		{name: "attach too long", method: "POST", path: charges, params: withParams(create, "attach", strings.Repeat("x", 128)), code: 10007, docRejects: true},
		{name: "analysis (not an object)", method: "POST", path: charges, params: withParams(create, "analysis", "[1]"), code: 10007},
		{name: "returnUrl", method: "POST", path: charges, params: withParams(create, "returnUrl", "javascript:alert(1)"), code: 10007, docRejects: true},
		{name: "refundFee", method: "POST", path: refunds, params: withParams(refund, "refundFee", "-1"), code: 10007, docRejects: true},
		{name: "refundDesc", method: "POST", path: refunds, params: withParams(refund, "refundDesc", strings.Repeat("x", 81)), code: 10007, docRejects: true},
		{name: "timestamp (not a number)", method: "POST", path: charges, params: withParams(create, "timestamp", "yesterday"), code: 10007, docRejects: true},
		{name: "expires in seconds", method: "POST", path: charges, params: withParams(create, "timestamp", now, "expires", "300"), code: 10007, docRejects: true},
		{name: "v2 with a bad nonce", method: "POST", path: charges, params: withParams(create, "version", "v2", "timestamp", now, "nonce", "short"), key: "key22", secret: "secret22", code: 10007, docRejects: true},
		{name: "unknown order", method: "GET", path: payResult, params: map[string]string{"channel": "WX_NATIVE", "outTradeNo": "nosuch000001"}, code: 10008},
		{name: "other channel", method: "GET", path: payResult, params: map[string]string{"channel": "ALI_WEB", "outTradeNo": "paid00000001"}, code: 10008},
		{name: "unknown refund", method: "GET", path: "/api/refunds/result", params: map[string]string{"outRefundNo": "nosuch"}, code: 10008},
		{name: "unknown late refund", method: "POST", path: "/api/refunds/result", params: map[string]string{"outRefundNo": "LATE_nosuch000001"}, code: 10008},
		{name: "refund of an unknown order", method: "POST", path: refunds, params: withParams(refund, "outTradeNo", "nosuch000001"), code: 10008},
		{name: "over refund", method: "POST", path: refunds, params: withParams(refund, "refundFee", "71"), code: 10009},
		{name: "other parameters", method: "POST", path: charges, params: withParams(chargeParams(channels.WxNative, "code00000000", 100), "totalFee", "101"), code: 20003},
		{name: "paid charge again", method: "POST", path: charges, params: chargeParams(channels.WxNative, "paid00000001", 100), code: 20003},
		{name: "close a paid charge", method: "POST", path: "/api/charges/close", params: map[string]string{"channel": "WX_NATIVE", "outTradeNo": "paid00000001"}, code: 20003},
		{name: "refund an unpaid charge", method: "POST", path: refunds, params: withParams(refund, "outTradeNo", "code00000000"), code: 20005},
	}
}

// contractSandboxRoutes: the cashier page and the sandbox's outcomes, and a
// forged sandbox notification.
func contractSandboxRoutes(t *testing.T, c *contract, base string) {
	ex := c.get(t, base+"/sandbox/cashier/"+testAppID+"/code00000000?done=fail")
	assert.Equal(t, http.StatusOK, ex.status)
	assert.Contains(t, string(ex.body), "code00000000")
	ex = c.get(t, base+"/sandbox/cashier/"+testAppID+"/nosuch000001")
	assert.Equal(t, http.StatusNotFound, ex.status)

	pay := func(no, result, back string) *exchange {
		v := url.Values{"appId": {testAppID}, "outTradeNo": {no}, "result": {result}}
		if back != "" {
			v.Set("back", back)
		}
		return c.form(t, base+"/sandbox/pay", v)
	}
	assert.Equal(t, http.StatusSeeOther, pay("code00000000", "fail", "1").status)
	assert.Equal(t, http.StatusBadRequest, pay("code00000000", "maybe", "").status)
	assert.Equal(t, http.StatusNotFound, pay("nosuch000001", "success", "").status)

	req, err := http.NewRequest(http.MethodPost, base+"/callbacks/"+testAppID+"/sandbox/notify",
		strings.NewReader(url.Values{"kind": {"payment"}, "outTradeNo": {"code00000000"}, "result": {"success"},
			"totalFee": {"100"}, "paidAt": {"1508401409765"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(sandbox.SignatureHeader, "forged")
	ex = c.do(req)
	assert.Equal(t, http.StatusInternalServerError, ex.status, "a forged sandbox notification: %s", ex.body)
}

// contractChannels drives a pay center on the real adapters against the
// local fake gateways (WeChat Pay shared, Alipay as app 11's own), plus a
// scripted Alipay channel for app 33: the real channelParams shapes, the
// channels' notifications and their answers, the channel error codes,
// 20001 and 20004, and the refund webhooks (failed, abnormal).
// It is a scenario: each step needs the state the one before left.
func contractChannels(t *testing.T, c *contract, kind testdb.Kind) {
	wx := wechattest.NewServer(t)
	wxCh, err := wechat.New(wx.ChannelConfig(wechattest.PublicKeyMode))
	require.NoError(t, err)
	ali := alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))
	scripted := &scriptedAlipay{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, kind, noWorkers, withWebhooks(c.hookTo), func(cfg *paycenter.Config) {
		cfg.Channels = []channels.Channel{wxCh}
		cfg.Apps[0].Channels = []channels.Channel{ali.Channel(t)}
		cfg.Apps = append(cfg.Apps, paycenter.App{ID: "33", Key: "key33", Secret: "secret33", Channels: []channels.Channel{scripted}})
	})
	base := e.srv.URL
	for i, code := range channels.Codes {
		c.run(t, base, apiCase{name: "create " + string(code), method: "POST", path: "/api/charges",
			params: chargeParams(code, fmt.Sprintf("real%08d", i), 100)})
	}
	wx.FailNext(wechattest.Fault{Status: http.StatusBadRequest, Code: "PARAM_ERROR", Message: "商户号与appid不匹配"})
	c.run(t, base, apiCase{name: "WeChat Pay refuses the order", method: "POST", path: "/api/charges",
		params: chargeParams(channels.WxNative, "wxrefused001", 100), code: 30001})

	// WeChat Pay: a payment notification, forged and real; a refund that
	// turns ABNORMAL, then SUCCESS by notification; a refund refused.
	c.run(t, base, apiCase{name: "create", method: "POST", path: "/api/charges", params: chargeParams(channels.WxNative, "wxpaid000001", 100)})
	_, err = wx.Pay("wxpaid000001")
	require.NoError(t, err)
	payNote := wx.PaymentNotification("wxpaid000001", wechattest.PublicKeyMode)
	forged := payNote
	forged.BadSignature = true
	wxNotify := base + "/callbacks/" + testAppID + "/wechat"
	assert.Equal(t, http.StatusInternalServerError, c.do(wx.NotificationRequest(wxNotify+"/paynotify", forged)).status)
	assert.Equal(t, http.StatusNoContent, c.do(wx.NotificationRequest(wxNotify+"/paynotify", payNote)).status)
	out := c.run(t, base,
		apiCase{name: "refund", method: "POST", path: "/api/refunds", params: map[string]string{"outTradeNo": "wxpaid000001", "outRefundNo": "wxr1", "refundFee": "10"}})
	assert.Contains(t, string(out["refund"].body), `"status":"PROCESSING"`)
	_, err = wx.SettleRefund("wxr1", wechattest.RefundAbnormal)
	require.NoError(t, err)
	out = c.run(t, base, apiCase{name: "abnormal", method: "GET", path: "/api/refunds/result", params: map[string]string{"outRefundNo": "wxr1"}})
	assert.Contains(t, string(out["abnormal"].body), `"status":"ABNORMAL"`)
	_, err = wx.SettleRefund("wxr1", wechattest.RefundSuccess)
	require.NoError(t, err)
	refundNote := wx.RefundNotification("wxr1", wechattest.PublicKeyMode)
	forged = refundNote
	forged.BadSignature = true
	assert.Equal(t, http.StatusInternalServerError, c.do(wx.NotificationRequest(wxNotify+"/refundnotify", forged)).status)
	assert.Equal(t, http.StatusNoContent, c.do(wx.NotificationRequest(wxNotify+"/refundnotify", refundNote)).status)
	wx.FailNext(wechattest.Fault{Status: http.StatusForbidden, Code: "NOT_ENOUGH", Message: "基本账户余额不足"})
	c.run(t, base, apiCase{name: "WeChat Pay refuses the refund", method: "POST", path: "/api/refunds",
		params: map[string]string{"outTradeNo": "wxpaid000001", "outRefundNo": "wxr2", "refundFee": "10"}, code: 30003})
	wx.FailNext(wechattest.Fault{Status: http.StatusBadRequest, Code: "INVALID_REQUEST", Message: "订单状态不允许关闭"})
	c.run(t, base, apiCase{name: "WeChat Pay refuses the close", method: "POST", path: "/api/charges/close",
		params: map[string]string{"channel": "WX_NATIVE", "outTradeNo": "real00000000"}, code: 30002})

	contractAlipay(t, c, e, ali)

	// App 33: a refusal, a code it has no channel for, and a create in
	// progress.
	app33 := func(name, no string, code channels.Code, want paycenter.Code) apiCase {
		return apiCase{name: name, method: "POST", path: "/api/charges", params: chargeParams(code, no, 100),
			key: "key33", secret: "secret33", code: want}
	}
	c.run(t, base, app33("Alipay refuses the order", "refuse000001", channels.AliWeb, 30101),
		app33("no channel for the code", "nochannel001", channels.AliWap, 20001))
	t.Cleanup(sync.OnceFunc(func() { close(scripted.release) })) // never leave the channel call hanging
	type result struct {
		ex  *exchange
		err error
	}
	done := make(chan result, 1)
	first := signedRequest(t, base, app33("", "gate00000001", channels.AliWeb, 0))
	go func() {
		ex := &exchange{}
		resp, err := c.hc.Do(first.WithContext(context.WithValue(first.Context(), exchangeKey{}, ex)))
		if err == nil {
			resp.Body.Close()
		}
		done <- result{ex, err}
	}()
	select {
	case <-scripted.entered:
	case r := <-done:
		t.Fatalf("the create did not reach the channel: %v %s", r.err, r.ex.body)
	}
	c.run(t, base, app33("the same create meanwhile", "gate00000001", channels.AliWeb, 20004))
	scripted.release <- struct{}{}
	r := <-done
	require.NoError(t, r.err)
	assert.True(t, r.ex.ok, "the first create completes: %s", r.ex.body)

	deliverAll(t, e)
}

// contractAlipay: Alipay's notifications (real, forged, for an unknown app,
// for a refund) and its refusals of a refund (30103) and a close (30102).
func contractAlipay(t *testing.T, c *contract, e *env, ali *alipaytest.Fake) {
	base := e.srv.URL
	out := c.run(t, base, apiCase{name: "create", method: "POST", path: "/api/charges", params: chargeParams(channels.AliWeb, "alipaid00001", 100)})
	var created struct {
		ResponseParams struct {
			ChannelParams channels.Params `json:"channelParams"`
		} `json:"responseParams"`
	}
	require.NoError(t, json.Unmarshal(out["create"].body, &created))
	ali.MustSubmit(t, created.ResponseParams.ChannelParams) // the buyer opens the cashier
	require.NoError(t, ali.Pay("alipaid00001"))
	notify := func(appID string, v url.Values) *exchange {
		req, err := http.NewRequest(http.MethodPost, base+"/callbacks/"+appID+"/alipay/web/paynotify", strings.NewReader(v.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		return c.do(req)
	}
	paid := ali.PaymentNotification(t, "alipaid00001")
	tampered := url.Values{}
	for k, v := range paid {
		tampered[k] = v
	}
	tampered.Set("total_amount", "999.99")
	assert.Equal(t, http.StatusBadRequest, notify(testAppID, tampered).status, "a notification altered after signing")
	assert.Equal(t, http.StatusNotFound, notify("nosuch", paid).status, "a notification for an unknown app")
	ex := notify(testAppID, paid)
	assert.Equal(t, "success", string(ex.body))

	ali.FailNext(alipaytest.MethodRefund, alipaytest.Fault{Kind: alipaytest.FaultBusiness, SubCode: "ACQ.SELLER_BALANCE_NOT_ENOUGH", SubMsg: "卖家余额不足"})
	refund := func(no string, want paycenter.Code) apiCase {
		return apiCase{name: "refund " + no, method: "POST", path: "/api/refunds", code: want,
			params: map[string]string{"outTradeNo": "alipaid00001", "outRefundNo": no, "refundFee": "10"}}
	}
	c.run(t, base, refund("alir1", 30103), refund("alir2", 0))
	assert.Equal(t, "success", string(notify(testAppID, ali.RefundNotification(t, "alipaid00001", "alir2")).body))

	ali.FailNext(alipaytest.MethodClose, alipaytest.Fault{Kind: alipaytest.FaultBusiness, SubCode: "ACQ.SYSTEM_ERROR", SubMsg: "系统错误"})
	c.run(t, base, apiCase{name: "Alipay refuses the close", method: "POST", path: "/api/charges/close",
		params: map[string]string{"channel": "ALI_WEB", "outTradeNo": "real00000004"}, code: 30102})
}

// contractSandboxNotify: a sandbox channel configured as the app's channel
// whose key the test holds, so its notification can be posted over HTTP.
func contractSandboxNotify(t *testing.T, c *contract, kind testdb.Kind) {
	sb := sandbox.New(sandbox.Config{})
	e := newEnv(t, kind, noWorkers, func(cfg *paycenter.Config) { cfg.Channels = []channels.Channel{sb} })
	_, err := e.pc.CreateCharge(context.Background(), testAppID, createParams(channels.WxNative, "sbxnote00001", 100))
	require.NoError(t, err)
	req, err := sb.Notification(e.srv.URL+"/callbacks/"+testAppID+"/sandbox", "sbxnote00001", sandbox.ResultSuccess, 100)
	require.NoError(t, err)
	ex := c.do(req)
	assert.Equal(t, http.StatusOK, ex.status)
	assert.Equal(t, "success", string(ex.body))
}

// scriptedAlipay is an "alipay" channel serving ALI_WEB, for what the fake
// gateway cannot show (its orders are signed locally, never refused): it
// refuses orders numbered refuse*, and holds orders numbered gate* until
// release is closed, saying so on entered.
type scriptedAlipay struct {
	entered chan struct{}
	release chan struct{}
}

func (*scriptedAlipay) Provider() string              { return channels.ProviderAlipay }
func (*scriptedAlipay) Account() string               { return "2088000000000033" }
func (*scriptedAlipay) Supports(c channels.Code) bool { return c == channels.AliWeb }
func (*scriptedAlipay) Ack(w http.ResponseWriter, err error) {
	w.WriteHeader(http.StatusInternalServerError)
}
func (*scriptedAlipay) ParseNotification(context.Context, *http.Request, string) (*channels.Notification, error) {
	return nil, fmt.Errorf("scripted: no notifications")
}
func (s *scriptedAlipay) Create(ctx context.Context, req *channels.CreateRequest) (channels.Params, error) {
	switch {
	case strings.HasPrefix(req.OutTradeNo, "refuse"):
		return nil, &channels.Error{Code: "ACQ.TRADE_HAS_CLOSE", Message: "交易已经关闭"}
	case strings.HasPrefix(req.OutTradeNo, "gate"):
		s.entered <- struct{}{}
		<-s.release
	}
	return channels.Params{"body": `<form action="https://openapi.alipay.com/gateway.do"></form>`,
		"url": "https://openapi.alipay.com/gateway.do?out_trade_no=" + req.OutTradeNo}, nil
}
