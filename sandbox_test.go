package paycenter_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// TestSandboxOutcomes: fail leaves the charge payable, close closes it
// (OnClosed once), and the cashier page shows the charge.
func TestSandboxOutcomes(t *testing.T) {
	e := newEnv(t, testdb.SQLite)
	ctx := context.Background()
	_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxMweb, "cashier00001", 1234))
	require.NoError(t, err)

	resp, err := http.Get(e.srv.URL + "/sandbox/cashier/" + testAppID + "/cashier00001")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(page), "¥12.34")
	assert.Contains(t, string(page), `id="success"`)

	assert.Equal(t, http.StatusOK, e.sandboxPay("cashier00001", "fail"))
	pr, err := e.pc.PayResult(ctx, testAppID, channels.WxMweb, "cashier00001")
	require.NoError(t, err)
	assert.Equal(t, models.ChargeCreated, pr.Status, "a failed attempt changes nothing")

	assert.Equal(t, http.StatusOK, e.sandboxPay("cashier00001", "close"))
	assert.Equal(t, http.StatusOK, e.sandboxPay("cashier00001", "close"))
	pr, err = e.pc.PayResult(ctx, testAppID, channels.WxMweb, "cashier00001")
	require.NoError(t, err)
	assert.Equal(t, models.ChargeClosed, pr.Status)
	assert.EqualValues(t, 1, e.closed.Load())

	assert.Equal(t, http.StatusBadRequest, e.sandboxPay("cashier00001", "maybe"))
	assert.Equal(t, http.StatusNotFound, e.sandboxPay("nosuch000001", "success"))

	// The browser form (back=1) is sent back to the cashier.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.PostForm(e.srv.URL+"/sandbox/pay", url.Values{"appId": {testAppID}, "outTradeNo": {"cashier00001"}, "result": {"success"}, "back": {"1"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/sandbox/cashier/"+testAppID+"/cashier00001?done=success", resp.Header.Get("Location"),
		"back to the cashier, which says what the button did")
}

// TestSandboxRefundDelay exercises the PROCESSING path: a delayed sandbox
// refund is PROCESSING until the clock passes the delay, then refund-result
// settles it (OnRefund once).
func TestSandboxRefundDelay(t *testing.T) {
	e := newEnv(t, testdb.SQLite, func(c *paycenter.Config) { c.SandboxRefundDelay = time.Minute })
	ctx := context.Background()
	_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliApp, "delay0000001", 100))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.sandboxPay("delay0000001", "success"))
	r, err := e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "delay0000001", OutRefundNo: "d1", RefundFee: 100})
	require.NoError(t, err)
	assert.Equal(t, models.RefundProcessing, r.Status)
	assert.Nil(t, r.RefundTime)
	_, err = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "delay0000001", OutRefundNo: "d2", RefundFee: 1})
	assert.Equal(t, paycenter.CodeOverLimit, code(err), "a processing refund holds its amount")

	r, err = e.pc.RefundResult(ctx, testAppID, "d1")
	require.NoError(t, err)
	assert.Equal(t, models.RefundProcessing, r.Status)
	e.clock.Add(61 * time.Second)
	r, err = e.pc.RefundResult(ctx, testAppID, "d1")
	require.NoError(t, err)
	assert.Equal(t, models.RefundSucceeded, r.Status)
	assert.NotNil(t, r.RefundTime)
	r, err = e.pc.RefundResult(ctx, testAppID, "d1")
	require.NoError(t, err)
	assert.Equal(t, models.RefundSucceeded, r.Status)
	assert.EqualValues(t, 1, e.refund.Load())
}

// TestCommonParamsAsParameters: key, sign, timestamp and expires may be
// form or query parameters instead of headers; a value given both ways
// must agree.
func TestCommonParamsAsParameters(t *testing.T) {
	e := newEnv(t, testdb.SQLite)
	params := chargeParams(channels.WxNative, "params000001", 100)
	params["key"] = testKey
	params["timestamp"] = "1508739061000"
	params["expires"] = "600000"
	e.clock.Set(time.UnixMilli(1508739061000 + 1000))
	params["sign"] = sign.V1(sign.BaseString("POST", "/api/charges", params), testSecret)
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/charges", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := e.send(req)
	require.Zero(t, r.ErrorCode, r.ErrorMsg)

	req, err = http.NewRequest(http.MethodGet, e.srv.URL+"/api/charges/pay-result?channel=WX_NATIVE&outTradeNo=params000001&key="+url.QueryEscape(testKey), nil)
	require.NoError(t, err)
	req.Header.Set("key", "another-key")
	req.Header.Set("sign", "x")
	r = e.send(req)
	assert.Equal(t, paycenter.CodeInvalid, r.ErrorCode)
	assert.Contains(t, r.ErrorMsg, "key is given both as a header and as a parameter")
}
