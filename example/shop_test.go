package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/client"
)

func TestParseYuan(t *testing.T) {
	for in, want := range map[string]int64{"3": 300, "3.5": 350, "3.50": 350, "0.01": 1, " ¥128.00 ": 12800, "98.01": 9801,
		"1,280.00": 128000, "1,000,000,000.00": 100_000_000_000, "1000000000": 100_000_000_000} {
		got, err := parseYuan(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, fen := range []int64{1, 10, 99, 100, 3990, 12800, 999999999, 100_000_000_000} {
		got, err := parseYuan(yuan(fen))
		require.NoError(t, err)
		assert.Equal(t, fen, got, "round trip of %s", yuan(fen))
	}
	for _, in := range []string{"", "0", "0.00", "-1", "1.234", "1.", ".5", "1e3", "abc", "1,5", "12,34", "1,2345", ",100",
		"1234567890", "1000000000.01", "99999999999999999999"} {
		_, err := parseYuan(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "-0.05", yuan(-5))
	for fen, want := range map[int64]string{0: "0.00", 99999: "999.99", 100000: "1,000.00", 12345678: "123,456.78",
		100_000_000_000: "1,000,000,000.00", -100000: "-1,000.00"} {
		assert.Equal(t, want, yuan(fen))
	}
	assert.Equal(t, "1000000000.00", plainYuan(100_000_000_000))
}

// TestShopWebhook: the shop's webhook endpoint accepts what the pay center
// signs with the app's secret and refuses anything else.
func TestShopWebhook(t *testing.T) {
	t.Chdir(t.TempDir())
	addr, banner := start(t, "-config", writeConfig(t, "addr: 127.0.0.1:0\n"))
	m := devAppLine.FindStringSubmatch(banner)
	require.NotNil(t, m, banner)
	post := func(payload []byte, h http.Header) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/shop/webhook", bytes.NewReader(payload))
		require.NoError(t, err)
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	body := []byte(`{"id":"evt_1","type":"charge.succeeded","created":1700000000000,"data":{"outTradeNo":"D1"}}`)
	signed := client.GenerateTestSignedWebhook(&client.UnsignedWebhook{Payload: body, Secret: m[2], Key: m[1]})
	assert.Equal(t, http.StatusNoContent, post(body, signed.Header))
	assert.Equal(t, http.StatusBadRequest, post(append(body[:len(body):len(body)], ' '), signed.Header), "tampered body")
	other := client.GenerateTestSignedWebhook(&client.UnsignedWebhook{Payload: body, Secret: "not-the-secret"})
	assert.Equal(t, http.StatusBadRequest, post(body, other.Header), "wrong secret")
	assert.Equal(t, http.StatusBadRequest, post(body, http.Header{"Content-Type": {"application/json"}}), "unsigned")
}

// TestShopRefusesCrossSitePosts: a POST to the shop from another site (by
// the browser's Origin or Sec-Fetch-Site headers) is 403 and changes
// nothing; the shop's own forms and non-browser clients pass. (Long for
// its helpers: a paid order to attack, its status, the order count.)
func TestShopRefusesCrossSitePosts(t *testing.T) {
	t.Chdir(t.TempDir())
	addr, _ := start(t, "-config", writeConfig(t, "addr: 127.0.0.1:0\n"))
	base := "http://" + addr
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, header http.Header) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	status := func(order string) orderView {
		t.Helper()
		resp, err := http.Get(base + "/shop/orders/" + order + "/status")
		require.NoError(t, err)
		defer resp.Body.Close()
		var v orderView
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return v
	}
	orders := func() int {
		t.Helper()
		resp, err := http.Get(base + "/shop/admin")
		require.NoError(t, err)
		defer resp.Body.Close()
		page, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return strings.Count(string(page), `<tr data-no="`)
	}

	// The shop's own form, as a browser sends it: same origin.
	own := http.Header{"Origin": {base}, "Sec-Fetch-Site": {"same-origin"}}
	resp := post("/shop/buy", url.Values{"product": {"mug"}, "channel": {"WX_NATIVE"}}, own)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	order := strings.TrimPrefix(resp.Header.Get("Location"), "/shop/orders/")
	require.NotEmpty(t, order)
	paid := post("/sandbox/pay", url.Values{"appId": {"dev"}, "outTradeNo": {order}, "result": {"success"}}, nil)
	require.Equal(t, http.StatusOK, paid.StatusCode)
	require.True(t, status(order).Paid)

	refund := url.Values{"amount": {"39.90"}, "refundNo": {"EVIL1"}}
	for name, h := range map[string]http.Header{
		"foreign Origin":                {"Origin": {"https://evil.example"}},
		"cross-site fetch":              {"Sec-Fetch-Site": {"cross-site"}},
		"same site, another origin":     {"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://127.0.0.1:1"}},
		"foreign Origin, spoofed fetch": {"Sec-Fetch-Site": {"cross-site"}, "Origin": {base}},
	} {
		t.Run(name, func(t *testing.T) {
			resp := post("/shop/orders/"+order+"/refund", refund, h)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Contains(t, string(body), "another site")
			n := orders()
			resp = post("/shop/buy", url.Values{"product": {"tea"}, "channel": {"ALI_WEB"}}, h)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Equal(t, n, orders(), "no order was made")
		})
	}
	v := status(order)
	assert.Equal(t, int64(0), v.RefundedFee, "nothing was refunded")

	// The shop's own refund form, and a client that is not a browser.
	resp = post("/shop/orders/"+order+"/refund", url.Values{"amount": {"9.90"}, "refundNo": {"OWN1"}}, own)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp = post("/shop/orders/"+order+"/refund", url.Values{"amount": {"10.00"}, "refundNo": {"CURL1"}}, nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, int64(1990), status(order).RefundedFee)
}

// TestShopOrderOfAClosedCharge: an order left UNPAID while its charge
// closed (an order made before the shop had its OnClosed hook) is closed
// by the order page's status and by "Pay now", which never shows a 502.
// (Long for its helpers: reopening an order takes the database.)
func TestShopOrderOfAClosedCharge(t *testing.T) {
	t.Chdir(t.TempDir())
	addr, _ := start(t, "-config", writeConfig(t, "addr: 127.0.0.1:0\n"))
	base := "http://" + addr
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	buy := func() string {
		t.Helper()
		resp, err := noRedirect.PostForm(base+"/shop/buy", url.Values{"product": {"mug"}, "channel": {"WX_NATIVE"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		order := strings.TrimPrefix(resp.Header.Get("Location"), "/shop/orders/")
		closed, err := http.PostForm(base+"/sandbox/pay", url.Values{"appId": {"dev"}, "outTradeNo": {order}, "result": {"close"}})
		require.NoError(t, err)
		closed.Body.Close()
		require.Equal(t, http.StatusOK, closed.StatusCode)
		return order
	}
	db, err := paycenter.OpenSQLite("paycenter.db")
	require.NoError(t, err)
	t.Cleanup(func() { sqlDB, _ := db.DB(); sqlDB.Close() })
	orderStatus := func(order string) string {
		t.Helper()
		var o shopOrder
		require.NoError(t, db.Where("no = ?", order).Take(&o).Error)
		return o.Status
	}
	reopen := func(order string) {
		t.Helper()
		require.Equal(t, orderClosed, orderStatus(order), "the OnClosed hook closed the order")
		require.NoError(t, db.Model(&shopOrder{}).Where("no = ?", order).Update("status", orderUnpaid).Error)
	}

	order := buy()
	reopen(order)
	resp, err := http.Get(base + "/shop/orders/" + order + "/status")
	require.NoError(t, err)
	var v orderView
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	resp.Body.Close()
	assert.True(t, v.Closed, "the status endpoint learns it from pay-result")
	assert.Equal(t, orderClosed, orderStatus(order))

	order = buy()
	reopen(order)
	resp, err = noRedirect.PostForm(base+"/shop/orders/"+order+"/pay", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "not a 502")
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/shop/orders/"+order, loc.Path)
	assert.Contains(t, loc.Query().Get("error"), "order again")
	assert.Equal(t, orderClosed, orderStatus(order))

	// Order again: a new number, and a charge that can be paid.
	resp, err = noRedirect.PostForm(base+"/shop/orders/"+order+"/again", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	again := strings.TrimPrefix(resp.Header.Get("Location"), "/shop/orders/")
	assert.NotEqual(t, order, again)
	paid, err := http.PostForm(base+"/sandbox/pay", url.Values{"appId": {"dev"}, "outTradeNo": {again}, "result": {"success"}})
	require.NoError(t, err)
	paid.Body.Close()
	require.Equal(t, http.StatusOK, paid.StatusCode)
	assert.Equal(t, orderPaid, orderStatus(again))
}
