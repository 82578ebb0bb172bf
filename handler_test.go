package paycenter_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// TestHandlerOnServeMux serves a pay center from a plain http.ServeMux
// under the prefix "/pay", beside a page of the host's own: signed API
// calls, the sandbox cashier and its buttons, and an Alipay notification
// to the notify URL the pay center handed out all go through the prefix,
// and a signature over the path without it is refused.
func TestHandlerOnServeMux(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	fake := alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))
	var paid atomic.Int64
	pc, err := paycenter.New(paycenter.Config{
		DB:        testdb.Open(t, testdb.SQLite),
		PublicURL: srv.URL,
		BasePath:  "/pay",
		Apps:      []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret}},
		Channels:  []channels.Channel{fake.Channel(t)},
		Sandbox:   paycenter.SandboxOn, // WeChat Pay codes in the sandbox, Alipay at the fake
		Hooks: []hooks.Hook{hooks.OnPaidFunc(func(context.Context, *hooks.Paid) error {
			paid.Add(1)
			return nil
		})},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })

	mux := http.NewServeMux()
	mux.Handle("/pay/", pc.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot) // the host's own pages
	})
	srv.Config.Handler = mux
	c := client.New(testKey, testSecret, client.WithBaseURL(srv.URL+"/pay"))
	ctx := context.Background()

	t.Run("sandbox cashier and its buttons", func(t *testing.T) {
		const no = "mux000000001"
		ch, err := c.CreateCharge(ctx, client.ChargeParams{Channel: client.WxNative, OutTradeNo: no, TotalFee: 100,
			ClientIP: "127.0.0.1", Subject: "subject", Body: "body", ReturnURL: "https://shop.example.com/r"})
		require.NoError(t, err)
		require.NotNil(t, ch.WxNative)
		cashier := ch.WxNative.CodeURL
		assert.Equal(t, srv.URL+"/pay/sandbox/cashier/"+testAppID+"/"+no, cashier)

		payInCashier(t, srv.URL, cashier, "/pay")
		pr, err := c.GetPayResult(ctx, client.WxNative, no)
		require.NoError(t, err)
		assert.True(t, pr.HasPay)
	})

	t.Run("channel notification", func(t *testing.T) {
		const no = "mux000000002"
		before := paid.Load()
		ch, err := c.CreateCharge(ctx, client.ChargeParams{Channel: client.AliWeb, OutTradeNo: no, TotalFee: 2500,
			ClientIP: "203.0.113.9", Subject: "subject", Body: "body"})
		require.NoError(t, err)
		require.NotNil(t, ch.Alipay)
		fake.MustSubmit(t, channels.Params{"body": ch.Alipay.Body}) // the buyer opens Alipay's cashier
		notifyURL := srv.URL + "/pay/callbacks/" + testAppID + "/alipay/web/paynotify"
		require.Equal(t, notifyURL, fake.NotifyURL(no), "the notify URL carries the prefix")
		require.NoError(t, fake.Pay(no))
		status, body, err := fake.Post(ctx, notifyURL, fake.PaymentNotification(t, no))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "success", body)
		assert.Equal(t, before+1, paid.Load(), "OnPaid ran once")
		pr, err := c.GetPayResult(ctx, client.AliWeb, no)
		require.NoError(t, err)
		assert.True(t, pr.HasPay)
		assert.Zero(t, fake.Rejected(), "the fake gateway verified every request of ours")
	})

	t.Run("signatures cover the prefix", func(t *testing.T) {
		// No such charge: a request that passes the signature check is
		// answered 10008.
		q := map[string]string{"channel": "WX_NATIVE", "outTradeNo": "mux000000099", "key": testKey}
		query := url.Values{"channel": {"WX_NATIVE"}, "outTradeNo": {"mux000000099"}}.Encode()
		for path, wantCode := range map[string]paycenter.Code{
			"/pay/api/charges/pay-result": paycenter.CodeNotFound, // the path as sent
			"/api/charges/pay-result":     paycenter.CodeBadSign,  // signed without the prefix
		} {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/pay/api/charges/pay-result?"+query, nil)
			require.NoError(t, err)
			req.Header.Set("key", testKey)
			req.Header.Set("sign", sign.V1(sign.BaseString(http.MethodGet, path, q), testSecret))
			r := (&env{t: t}).send(req)
			assert.Equal(t, wantCode, r.ErrorCode, "signed over %s: %s", path, r.ErrorMsg)
		}
	})

	t.Run("outside the prefix", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/sandbox/cashier/" + testAppID + "/mux000000001")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusTeapot, resp.StatusCode, "the host's mux keeps its other paths")

		// Handed a path outside BasePath, the handler itself has no route.
		rec := httptest.NewRecorder()
		pc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/charges", strings.NewReader("")))
		assert.Equal(t, http.StatusNotFound, rec.Code)
	})
}

// TestHandlerAfterMountOnGroup: a pay center mounted on a router group
// hands out URLs under the group, which Handler would not serve: Handler
// refuses, naming both paths.
func TestHandlerAfterMountOnGroup(t *testing.T) {
	e := newEnvOn(t, testdb.SQLite, "/shop", noWorkers, func(c *paycenter.Config) { c.BasePath = "/pay" })
	defer func() {
		msg, _ := recover().(string)
		assert.Contains(t, msg, `"/pay/"`)
		assert.Contains(t, msg, `"/shop/pay/"`)
	}()
	e.pc.Handler()
	t.Error("Handler did not panic")
}

// TestHandlerBesideMountOnEngine: mounted on the engine itself, the URLs
// are those Handler serves, so a second server may serve the same pay
// center through Handler.
func TestHandlerBesideMountOnEngine(t *testing.T) {
	e := newEnv(t, testdb.SQLite, noWorkers, func(c *paycenter.Config) { c.BasePath = "/pay" })
	srv := httptest.NewServer(e.pc.Handler())
	t.Cleanup(srv.Close)
	c := client.New(testKey, testSecret, client.WithBaseURL(srv.URL+"/pay"))
	_, err := c.CreateCharge(context.Background(), client.ChargeParams{Channel: client.WxNative, OutTradeNo: "both00000001",
		TotalFee: 1, ClientIP: "127.0.0.1", Subject: "s", Body: "b"})
	require.NoError(t, err)
	pr, err := e.client.GetPayResult(context.Background(), client.WxNative, "both00000001")
	require.NoError(t, err, "the charge created through Handler is the mounted pay center's")
	assert.False(t, pr.HasPay)
}

// payInCashier opens the sandbox cashier page at cashierURL, checks that
// its forms post to prefix + "/sandbox/pay", presses Pay there and checks
// that it leads back to the cashier (under prefix), which says the charge
// is paid. It returns that page.
func payInCashier(t *testing.T, serverURL, cashierURL, prefix string) string {
	t.Helper()
	resp, err := http.Get(cashierURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	action := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(string(page))
	require.NotNil(t, action, "the cashier has forms")
	assert.Equal(t, prefix+"/sandbox/pay", action[1])

	u, err := url.Parse(cashierURL)
	require.NoError(t, err)
	parts := strings.Split(u.Path, "/") // .../sandbox/cashier/{appId}/{outTradeNo}
	appID, no := parts[len(parts)-2], parts[len(parts)-1]
	resp, err = http.PostForm(serverURL+action[1], url.Values{"appId": {appID}, "outTradeNo": {no}, "result": {"success"}, "back": {"1"}})
	require.NoError(t, err)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, prefix+"/sandbox/cashier/"+appID+"/"+no, resp.Request.URL.Path)
	assert.Contains(t, string(page), "Paid.")
	return string(page)
}

// TestRoutesListsMount: pc.Routes (the list the example prints and the
// OpenAPI test walks) is exactly what Mount registers, methods and paths,
// with and without the sandbox and under a BasePath.
func TestRoutesListsMount(t *testing.T) {
	for _, sandbox := range []paycenter.SandboxMode{paycenter.SandboxOn, paycenter.SandboxOff} {
		e := newEnv(t, testdb.SQLite, func(c *paycenter.Config) {
			c.BasePath = "/pc"
			c.Sandbox = sandbox
			if sandbox == paycenter.SandboxOff {
				c.Channels = []channels.Channel{newCountingSandbox()} // a channel of its own
			}
		})
		mounted := map[string]bool{}
		for _, rt := range e.srv.Config.Handler.(*gin.Engine).Routes() {
			mounted[rt.Method+" "+rt.Path] = true
		}
		listed := map[string]bool{}
		toGin := strings.NewReplacer("{", ":", "}", "", "...", "*path")
		for _, rt := range e.pc.Routes() {
			for _, m := range strings.Split(rt.Method, "|") {
				listed[m+" "+toGin.Replace(rt.Path)] = true
			}
		}
		for k := range listed {
			assert.True(t, mounted[k], "sandbox mode %d: %s is listed but not mounted", sandbox, k)
		}
		listedPaths := map[string]bool{}
		for k := range listed {
			_, path, _ := strings.Cut(k, " ")
			listedPaths[path] = true
		}
		for k := range mounted { // API routes are mounted for every method (10001 for the others)
			_, path, _ := strings.Cut(k, " ")
			assert.True(t, listedPaths[path], "sandbox mode %d: %s is mounted but not listed", sandbox, k)
		}
	}
}
