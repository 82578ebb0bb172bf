package paycenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/paytype"
)

// TestDocumentClientFlow drives every channel the way a client written from
// the document does: form POST with key and sign headers, pay-result before
// and after a sandbox payment, partial refunds and their results.
func TestDocumentClientFlow(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind)
			for i, ch := range channels.Codes {
				no := fmt.Sprintf("flow%04d%s", i, strings.ReplaceAll(string(ch), "_", ""))
				t.Run(string(ch), func(t *testing.T) {
					r := e.do(http.MethodPost, "/api/charges", chargeParams(ch, no, 1000), testSecret)
					require.Zero(t, r.ErrorCode, r.ErrorMsg)
					assert.Equal(t, http.StatusOK, r.Status)
					assert.Equal(t, r.RequestID.String(), r.RequestIDHdr)
					assert.Equal(t, string(ch), r.str("channel"))
					var cp map[string]string
					require.NoError(t, json.Unmarshal(r.ResponseParams["channelParams"], &cp))
					for _, k := range channelParamKeys[ch] {
						assert.NotEmpty(t, cp[k], "channelParams.%s", k)
					}

					q := map[string]string{"channel": string(ch), "outTradeNo": no}
					before := e.do(http.MethodGet, "/api/charges/pay-result", q, testSecret)
					require.Zero(t, before.ErrorCode, before.ErrorMsg)
					assert.Equal(t, "false", string(before.ResponseParams["hasPay"]))
					assert.Equal(t, "null", string(before.ResponseParams["payTime"]))
					assert.Equal(t, "null", string(before.ResponseParams["returnUrl"]))
					assert.Equal(t, "order=42", before.str("attach"))
					assert.Equal(t, no, before.str("outTradeNo"))

					require.Equal(t, http.StatusOK, e.sandboxPay(no, "success"))

					after := e.do(http.MethodPost, "/api/charges/pay-result", q, testSecret)
					require.Zero(t, after.ErrorCode, after.ErrorMsg)
					assert.Equal(t, "true", string(after.ResponseParams["hasPay"]))
					payTime, err := strconv.ParseInt(string(after.ResponseParams["payTime"]), 10, 64)
					require.NoError(t, err, "payTime is ms")
					assert.InDelta(t, e.clock.Now().UnixMilli(), payTime, 1000)
					assert.Equal(t, "http://shop.example.com/return", after.str("returnUrl"))
					assert.Equal(t, "order=42", after.str("attach"))
					assert.Equal(t, "PAID", after.str("status"))

					for j, fee := range []string{"300", "200"} {
						rf := e.do(http.MethodPost, "/api/refunds", map[string]string{
							"outTradeNo": no, "outRefundNo": fmt.Sprintf("%sr%d", no, j), "refundFee": fee,
						}, testSecret)
						require.Zero(t, rf.ErrorCode, rf.ErrorMsg)
						assert.Equal(t, rf.RequestID.String(), rf.RequestIDHdr)
						assert.Equal(t, "SUCCESS", rf.str("status"))
					}
					res := e.do(http.MethodGet, "/api/refunds/result", map[string]string{"outRefundNo": no + "r1"}, testSecret)
					require.Zero(t, res.ErrorCode, res.ErrorMsg)
					assert.Equal(t, "200", string(res.ResponseParams["refundFee"]))
					assert.Equal(t, "SUCCESS", res.str("status"))
					final := e.do(http.MethodGet, "/api/charges/pay-result", q, testSecret)
					assert.Equal(t, "500", string(final.ResponseParams["refundedFee"]))
				})
			}
			assert.EqualValues(t, len(channels.Codes), e.paid.Load())
			assert.EqualValues(t, 2*len(channels.Codes), e.refund.Load())
		})
	}
}

// channelParamKeys are the document's channelParams fields per channel.
var channelParamKeys = map[channels.Code][]string{
	channels.WxNative: {"codeUrl"},
	channels.WxJsapi:  {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"},
	channels.WxApp:    {"appId", "partnerid", "prepayid", "package", "nonceStr", "timeStamp", "sign"},
	channels.WxMweb:   {"mwebUrl"},
	channels.AliWeb:   {"body", "url"},
	channels.AliWap:   {"body", "url"},
	channels.AliApp:   {"body"},
}

// TestGoClientFlow uses the client package, as a merchant's Go code would.
func TestGoClientFlow(t *testing.T) {
	e := newEnv(t, testdb.SQLite)
	ctx := context.Background()
	info, err := e.client.WxJsapiPay(ctx, "jsapi00000001", 100, "::1", "超级大礼包", "xxxxx",
		time.Now().UnixMilli(), "http://www.163.com", 7200, "", "", "", "wx_lkjDODSF0DS0FWELFDSLJFS")
	require.NoError(t, err)
	assert.Equal(t, "prepay_id=", info.ChannelParams.Package[:len("prepay_id=")])
	pr, err := e.client.GetPayResult(ctx, client.WxJsapi, "jsapi00000001")
	require.NoError(t, err)
	assert.False(t, pr.HasPay)
	assert.Nil(t, pr.PayTime)
	require.Equal(t, http.StatusOK, e.sandboxPay("jsapi00000001", "success"))
	pr, err = e.client.GetPayResult(ctx, client.WxJsapi, "jsapi00000001")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)
	require.NotNil(t, pr.PayTime)

	_, err = e.client.Refund(ctx, client.RefundParams{OutTradeNo: "jsapi00000001", OutRefundNo: "ref1", RefundFee: 101})
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, paytype.CodeOverLimit, ce.Code)
	assert.NotZero(t, ce.RequestID)
}

// TestErrorCodes reaches every error code of the API and checks the
// envelope: HTTP 200, requestId (= X-Request-Id), errorCode, errorMsg
// naming the parameter, and nothing else.
func TestErrorCodes(t *testing.T) {
	e := newEnv(t, testdb.SQLite, func(c *paycenter.Config) {
		c.Apps = append(c.Apps, paycenter.App{ID: "22", Key: "key22", Secret: "secret22", MinSignVersion: 2})
	})
	ok := e.do(http.MethodPost, "/api/charges", chargeParams(channels.WxNative, "paid00000001", 100), testSecret)
	require.Zero(t, ok.ErrorCode, ok.ErrorMsg)
	require.Equal(t, http.StatusOK, e.sandboxPay("paid00000001", "success"))
	unpaid := e.do(http.MethodPost, "/api/charges", chargeParams(channels.AliWeb, "unpaid000001", 100), testSecret)
	require.Zero(t, unpaid.ErrorCode, unpaid.ErrorMsg)

	now := strconv.FormatInt(e.clock.Now().UnixMilli(), 10)
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<delete>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	create := chargeParams(channels.WxNative, "new000000001", 100)
	cases := []struct {
		name, method, path string
		params             map[string]string
		secret             string
		code               paycenter.Code
		msg                string
	}{
		{"GET on create", "GET", "/api/charges", create, testSecret, 10002, "method GET"},
		{"PUT on pay-result", "PUT", "/api/charges/pay-result", map[string]string{"channel": "WX_NATIVE", "outTradeNo": "paid00000001"}, testSecret, 10002, "GET or POST"},
		{"unknown key", "POST", "/api/charges", with(create, "key", "nope"), testSecret, 10003, "key"},
		{"bad sign", "POST", "/api/charges", create, "wrong-secret", 10004, "sign"},
		{"v1 on a v2-only app", "POST", "/api/charges", with(create, "key", "key22"), "secret22", 10004, "v2"},
		{"expired", "POST", "/api/charges", with(create, "timestamp", "1508739061000", "expires", "30000"), testSecret, 10005, "expired"},
		{"future timestamp", "POST", "/api/charges", with(create, "timestamp", strconv.FormatInt(e.clock.Now().Add(10*time.Minute).UnixMilli(), 10)), testSecret, 10005, "future"},
		{"missing channel", "POST", "/api/charges", with(create, "channel", "<delete>"), testSecret, 10006, "channel is required"},
		{"missing totalFee", "POST", "/api/charges", with(create, "totalFee", "<delete>"), testSecret, 10006, "totalFee is required"},
		{"missing clientIp", "POST", "/api/charges", with(create, "clientIp", "<delete>"), testSecret, 10006, "clientIp is required"},
		{"missing subject", "POST", "/api/charges", with(create, "subject", "<delete>"), testSecret, 10006, "subject is required"},
		{"missing created", "POST", "/api/charges", with(create, "created", "<delete>"), testSecret, 10006, "created is required"},
		{"missing openid", "POST", "/api/charges", with(create, "channel", "WX_JSAPI"), testSecret, 10006, "wx.openid is required"},
		{"missing outRefundNo", "POST", "/api/refunds", map[string]string{"outTradeNo": "paid00000001", "refundFee": "1"}, testSecret, 10006, "outRefundNo is required"},
		{"bad channel", "POST", "/api/charges", with(create, "channel", "WX_FOO"), testSecret, 10007, "channel must be one of"},
		{"short outTradeNo", "POST", "/api/charges", with(create, "outTradeNo", "abc"), testSecret, 10007, "outTradeNo must be 8 to 32"},
		{"fee zero", "POST", "/api/charges", with(create, "totalFee", "0"), testSecret, 10007, "totalFee must be"},
		{"fee decimal", "POST", "/api/charges", with(create, "totalFee", "1.5"), testSecret, 10007, "totalFee must be"},
		{"fee too big", "POST", "/api/charges", with(create, "totalFee", "100000000001"), testSecret, 10007, "totalFee must be"},
		{"feeType", "POST", "/api/charges", with(create, "feeType", "USD"), testSecret, 10007, "feeType must be CNY"},
		{"clientIp", "POST", "/api/charges", with(create, "clientIp", "300.1.1.1"), testSecret, 10007, "clientIp must be"},
		{"subject too long", "POST", "/api/charges", with(create, "subject", strings.Repeat("长", 129)), testSecret, 10007, "subject must be at most 128"},
		{"timeExpire", "POST", "/api/charges", with(create, "timeExpire", "59"), testSecret, 10007, "timeExpire must be"},
		{"attach too long", "POST", "/api/charges", with(create, "attach", strings.Repeat("x", 128)), testSecret, 10007, "attach must be"},
		{"analysis", "POST", "/api/charges", with(create, "analysis", "[1]"), testSecret, 10007, "analysis must be a JSON object"},
		{"returnUrl", "POST", "/api/charges", with(create, "returnUrl", "javascript:alert(1)"), testSecret, 10007, "returnUrl must be"},
		{"refundFee", "POST", "/api/refunds", map[string]string{"outTradeNo": "paid00000001", "outRefundNo": "r1", "refundFee": "-1"}, testSecret, 10007, "refundFee must be"},
		{"refundDesc", "POST", "/api/refunds", map[string]string{"outTradeNo": "paid00000001", "outRefundNo": "r1", "refundFee": "1", "refundDesc": strings.Repeat("x", 81)}, testSecret, 10007, "refundDesc must be at most 80"},
		{"bad timestamp", "POST", "/api/charges", with(create, "timestamp", "yesterday"), testSecret, 10007, "timestamp must be"},
		{"unknown order", "GET", "/api/charges/pay-result", map[string]string{"channel": "WX_NATIVE", "outTradeNo": "nosuch000001"}, testSecret, 10008, "no charge"},
		{"other channel", "GET", "/api/charges/pay-result", map[string]string{"channel": "ALI_WEB", "outTradeNo": "paid00000001"}, testSecret, 10008, "on channel ALI_WEB"},
		{"unknown refund", "GET", "/api/refunds/result", map[string]string{"outRefundNo": "nosuch"}, testSecret, 10008, "no refund"},
		{"refund of unknown", "POST", "/api/refunds", map[string]string{"outTradeNo": "nosuch000001", "outRefundNo": "r1", "refundFee": "1"}, testSecret, 10008, "no charge"},
		{"over refund", "POST", "/api/refunds", map[string]string{"outTradeNo": "paid00000001", "outRefundNo": "r1", "refundFee": "101"}, testSecret, 10009, "exceeds the refundable balance"},
		{"v2 with a bad nonce", "POST", "/api/charges", with(create, "key", "key22", "version", "v2", "timestamp", now, "nonce", "short"), "secret22", 10007, "nonce must be 8 to 64"},
		{"v2 without nonce", "POST", "/api/charges", with(create, "key", "key22", "version", "v2", "timestamp", now), "secret22", 10006, "nonce"},
		{"other parameters", "POST", "/api/charges", with(create, "outTradeNo", "unpaid000001", "channel", "ALI_WEB", "totalFee", "101"), testSecret, 20003, "different totalFee"},
		{"paid charge again", "POST", "/api/charges", chargeParams(channels.WxNative, "paid00000001", 100), testSecret, 20003, "is paid"},
		{"close a paid charge", "POST", "/api/charges/close", map[string]string{"channel": "WX_NATIVE", "outTradeNo": "paid00000001"}, testSecret, 20003, "is paid"},
		{"refund unpaid", "POST", "/api/refunds", map[string]string{"outTradeNo": "unpaid000001", "outRefundNo": "r2", "refundFee": "1"}, testSecret, 20005, "not paid"},
	}
	seen := map[paycenter.Code]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.params, c.secret)
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, c.code, r.ErrorCode, r.ErrorMsg)
			assert.Contains(t, r.ErrorMsg, c.msg)
			assert.NotEmpty(t, r.RequestIDHdr)
			assert.Equal(t, r.RequestIDHdr, r.RequestID.String())
			assert.ElementsMatch(t, []string{"requestId", "errorCode", "errorMsg"}, keys(r.raw))
			assert.NotContains(t, r.ErrorMsg, testSecret)
			seen[r.ErrorCode] = true
		})
	}
	for _, code := range []paycenter.Code{10002, 10003, 10004, 10005, 10006, 10007, 10008, 10009, 20003, 20005} {
		assert.True(t, seen[code], "error code %d not reached", code)
	}
	// Nothing was created by the refused requests.
	assert.EqualValues(t, 2, e.count(e.pc.Tables().Charges, "1 = 1"))
	assert.EqualValues(t, 0, e.count(e.pc.Tables().Refunds, "1 = 1"))
}

// TestChannelNotConfigured: with sandbox mode off and only a WeChat Native
// account, any other channel is 20001.
func TestChannelNotConfigured(t *testing.T) {
	e := newEnv(t, testdb.SQLite, func(c *paycenter.Config) {
		c.Channels = []channels.Channel{wechatOnly{}}
	})
	assert.False(t, e.pc.SandboxEnabled(), "a real channel turns the automatic sandbox off")
	r := e.do(http.MethodPost, "/api/charges", chargeParams(channels.AliWeb, "ali000000001", 100), testSecret)
	assert.Equal(t, paycenter.CodeNoChannel, r.ErrorCode)
	assert.Contains(t, r.ErrorMsg, "channel ALI_WEB is not configured")
	r = e.do(http.MethodPost, "/api/charges", chargeParams(channels.WxNative, "wx0000000001", 100), testSecret)
	require.Zero(t, r.ErrorCode, r.ErrorMsg)
	resp, err := http.PostForm(e.srv.URL+"/sandbox/pay", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no sandbox routes beside real channels")
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// wechatOnly is a channel serving WX_NATIVE only, for the 20001 case.
type wechatOnly struct{}

func (wechatOnly) Provider() string                     { return "wechat" }
func (wechatOnly) Account() string                      { return "1230000109" }
func (wechatOnly) Supports(c channels.Code) bool        { return c == channels.WxNative }
func (wechatOnly) Ack(w http.ResponseWriter, err error) { w.WriteHeader(http.StatusNoContent) }
func (wechatOnly) Create(context.Context, *channels.CreateRequest) (channels.Params, error) {
	return channels.Params{"codeUrl": "weixin://wxpay/bizpayurl?pr=test"}, nil
}
func (wechatOnly) ParseNotification(context.Context, *http.Request, string) (*channels.Notification, error) {
	return nil, fmt.Errorf("not used")
}

// TestCaseSensitiveNumbers: outTradeNo, outRefundNo and nonces differing
// only in case are different, on every database (MySQL's default
// collations are case-insensitive).
func TestCaseSensitiveNumbers(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind, noWorkers)
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "abcd1234", 100))
			require.NoError(t, err)
			_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "ABCD1234", 200))
			require.NoError(t, err, "a different order, not a conflicting resubmission")
			require.Equal(t, http.StatusOK, e.sandboxPay("abcd1234", "success"))
			pr, err := e.pc.PayResult(ctx, testAppID, channels.WxNative, "ABCD1234")
			require.NoError(t, err)
			assert.False(t, pr.HasPay)
			assert.EqualValues(t, 200, pr.TotalFee)
			_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "abcd1234", OutRefundNo: "rr", RefundFee: 10})
			require.NoError(t, err)
			_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "abcd1234", OutRefundNo: "RR", RefundFee: 20})
			require.NoError(t, err)
			_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "ABCD1234", OutRefundNo: "Rr", RefundFee: 1})
			assert.Equal(t, paycenter.CodeNotPaid, code(err))
			pr, err = e.pc.PayResult(ctx, testAppID, channels.WxNative, "abcd1234")
			require.NoError(t, err)
			assert.EqualValues(t, 30, pr.RefundedFee)

			ts := strconv.FormatInt(e.clock.Now().UnixMilli(), 10)
			for _, nonce := range []string{"aBcDeFgH12", "AbCdEfGh12"} {
				r := e.do(http.MethodGet, "/api/charges/pay-result", map[string]string{"channel": "WX_NATIVE",
					"outTradeNo": "abcd1234", "version": "v2", "timestamp": ts, "nonce": nonce}, testSecret)
				assert.Zero(t, r.ErrorCode, r.ErrorMsg)
			}
		})
	}
}
