package paycenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// adminEnv is a pay center whose app 11 sells on the sandbox (WeChat
// codes) and a fake Alipay, with the operator API mounted under /admin.
type adminEnv struct {
	t    *testing.T
	pc   *paycenter.PayCenter
	ali  aliGateway
	base string
}

func newAdminEnv(t *testing.T, kind testdb.Kind) *adminEnv {
	t.Helper()
	ali := aliGateway{alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))}
	pc, err := paycenter.New(paycenter.Config{
		DB: testdb.Open(t, kind), PublicURL: "http://127.0.0.1:1", Sandbox: paycenter.SandboxOn,
		Apps: []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret, NotifyURL: "http://127.0.0.1:1/webhook",
			Channels: []channels.Channel{ali.channel(t)}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers: paycenter.WorkersConfig{Disabled: true},
	})
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	srv := httptest.NewServer(http.StripPrefix("/admin", pc.Admin()))
	t.Cleanup(srv.Close)
	return &adminEnv{t: t, pc: pc, ali: ali, base: srv.URL + "/admin"}
}

// call sends method path with a JSON body (nil: none) and decodes the
// answer into a map.
func (e *adminEnv) call(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	assert.Equal(e.t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"), "%s %s", method, path)
	var out map[string]any
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&out), "%s %s", method, path)
	return resp.StatusCode, out
}

// ok calls and requires 200.
func (e *adminEnv) ok(method, path string, body any) map[string]any {
	e.t.Helper()
	status, out := e.call(method, path, body)
	require.Equal(e.t, http.StatusOK, status, "%s %s: %v", method, path, out)
	return out
}

// refused calls and checks the error answer: status, code and words of
// the message.
func (e *adminEnv) refused(method, path string, body any, status int, code string, words ...string) map[string]any {
	e.t.Helper()
	got, out := e.call(method, path, body)
	assert.Equal(e.t, status, got, "%s %s: %v", method, path, out)
	assert.Equal(e.t, code, out["error"], "%s %s: %v", method, path, out)
	for _, w := range words {
		assert.Contains(e.t, out["message"], w, "%s %s", method, path)
	}
	return out
}

// items is a list answer's items.
func items(out map[string]any) []map[string]any { return toMaps(out["items"]) }

func field[T any](list []map[string]any, name string) []T {
	var out []T
	for _, it := range list {
		out = append(out, it[name].(T))
	}
	return out
}

// TestAdminAPI exercises every endpoint of the operator API, with its
// errors, on each database. Long: one scenario, endpoint after endpoint.
func TestAdminAPI(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newAdminEnv(t, kind)
			for _, no := range []string{"ADM00001", "ADM00002", "ADM00003"} {
				_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, no, 1000))
				require.NoError(t, err)
			}
			for _, no := range []string{"ADM00001", "ADM00002"} {
				_, err := e.pc.SandboxPay(ctx, testAppID, no, "success")
				require.NoError(t, err)
			}

			// Lists: newest first, pages, filters.
			all := items(e.ok("GET", "/charges", nil))
			assert.Equal(t, []string{"ADM00003", "ADM00002", "ADM00001"}, field[string](all, "outTradeNo"))
			first := e.ok("GET", "/charges?limit=2", nil)
			assert.Equal(t, []string{"ADM00003", "ADM00002"}, field[string](items(first), "outTradeNo"))
			rest := e.ok("GET", "/charges?limit=2&cursor="+first["nextCursor"].(string), nil)
			assert.Equal(t, []string{"ADM00001"}, field[string](items(rest), "outTradeNo"))
			assert.NotContains(t, rest, "nextCursor", "the last page")
			assert.Equal(t, []string{"ADM00002", "ADM00001"}, field[string](items(e.ok("GET", "/charges?status=PAID&appId=11", nil)), "outTradeNo"))
			assert.Len(t, items(e.ok("GET", "/charges?from=2000-01-01", nil)), 3)
			assert.Empty(t, items(e.ok("GET", "/charges?to=2000-01-01T00:00:00Z", nil)))
			assert.EqualValues(t, 1000, all[0]["totalFee"])
			e.refused("GET", "/charges?status=UNPAID", nil, 400, "invalid_request", "status", "CREATED, PAID, CLOSED")
			e.refused("GET", "/charges?colour=red", nil, 400, "invalid_request", "unknown parameter colour")
			e.refused("GET", "/charges?limit=0", nil, 400, "invalid_request", "limit", "1 to 500")
			e.refused("GET", "/charges?cursor=abc", nil, 400, "invalid_request", "cursor")
			e.refused("GET", "/charges?from=yesterday", nil, 400, "invalid_request", "from", "RFC 3339")
			e.refused("GET", "/charges?status=PAID&status=CLOSED", nil, 400, "invalid_request", "status is given 2 times")

			// One charge with its deliveries and audit records.
			one := e.ok("GET", "/charges/11/ADM00001", nil)
			assert.Equal(t, "PAID", one["charge"].(map[string]any)["status"])
			notes := one["notifications"].([]any)
			require.Len(t, notes, 1)
			assert.Equal(t, true, notes[0].(map[string]any)["accepted"])
			assert.NotEmpty(t, notes[0].(map[string]any)["body"], "the audit record's body")
			assert.Equal(t, []string{"charge.succeeded"}, field[string](toMaps(one["deliveries"]), "type"))
			e.refused("GET", "/charges/11/NOSUCH01", nil, 404, "not_found", "no charge NOSUCH01")

			// Refund and close.
			refund := e.ok("POST", "/charges/11/ADM00001/refund", map[string]any{"outRefundNo": "AR1", "refundFee": 300, "refundDesc": "damaged"})
			assert.Equal(t, "SUCCESS", refund["status"])
			assert.EqualValues(t, 300, refund["refundFee"])
			over := e.refused("POST", "/charges/11/ADM00001/refund", map[string]any{"outRefundNo": "AR2", "refundFee": 701}, 409, "conflict", "exceeds the refundable balance")
			assert.EqualValues(t, 10009, over["errorCode"])
			e.refused("POST", "/charges/11/ADM00001/refund", map[string]any{"outRefundNo": "AR3", "refundFee": "7"}, 400, "invalid_request", "refundFee must be a JSON integer")
			e.refused("POST", "/charges/11/ADM00001/refund", map[string]any{"outRefundNo": "AR3", "fee": 7}, 400, "invalid_request", `unknown field "fee"`)
			e.refused("POST", "/charges/11/ADM00001/refund", map[string]any{"refundFee": 7}, 400, "invalid_request", "outRefundNo is required")
			e.refused("POST", "/charges/11/ADM00003/refund", map[string]any{"outRefundNo": "AR4", "refundFee": 1}, 409, "conflict", "not paid")
			status, out := e.callText("POST", "/charges/11/ADM00001/refund", "outRefundNo=AR5&refundFee=1")
			assert.Equal(t, 400, status)
			assert.Contains(t, out["message"], "Content-Type application/json")
			assert.Equal(t, []string{"AR1"}, field[string](items(e.ok("GET", "/refunds?outTradeNo=ADM00001", nil)), "outRefundNo"))
			e.refused("GET", "/refunds?status=DONE", nil, 400, "invalid_request", "SUCCESS")

			closed := e.ok("POST", "/charges/11/ADM00003/close", nil)
			assert.Equal(t, "CLOSED", closed["status"])
			paidClose := e.refused("POST", "/charges/11/ADM00002/close", nil, 409, "conflict", "is paid")
			assert.EqualValues(t, 20003, paidClose["errorCode"])

			// Deliveries and redelivery.
			dels := items(e.ok("GET", "/deliveries?appId=11&target=webhook", nil))
			assert.ElementsMatch(t, []string{"charge.succeeded", "charge.succeeded", "refund.succeeded", "charge.closed"}, field[string](dels, "type"))
			assert.Equal(t, "ADM00003", dels[0]["outTradeNo"], "the delivery names its charge's order")
			id := int64(dels[0]["id"].(float64))
			re := e.ok("POST", fmt.Sprintf("/deliveries/%d/redeliver", id), nil)
			assert.Equal(t, "PENDING", re["status"])
			e.refused("POST", "/deliveries/99999/redeliver", nil, 404, "not_found", "no delivery 99999")
			e.refused("POST", "/deliveries/abc/redeliver", nil, 400, "invalid_request", "positive integer")
			e.refused("GET", "/deliveries?target=email", nil, 400, "invalid_request", "webhook, hooks")

			// Notifications (no bodies in lists).
			ns := items(e.ok("GET", "/notifications?accepted=true&appId=11", nil))
			assert.Len(t, ns, 2)
			assert.NotContains(t, ns[0], "body")
			e.refused("GET", "/notifications?accepted=maybe", nil, 400, "invalid_request", "true or false")

			// Reconciliation: a lost Alipay payment and a foreign order.
			yesterday := channels.DayOf(time.Now()).AddDays(-1)
			res, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "ADMALI01", 500))
			require.NoError(t, err)
			e.ali.open(t, res)
			e.ali.pay(t, "ADMALI01", yesterday.Start().Add(time.Hour))
			e.ali.payForeign(t, "ADMFRGN1", 77, yesterday.Start().Add(2*time.Hour))
			run := e.ok("POST", "/reconciliations", map[string]any{"provider": "alipay", "date": yesterday.String()})
			reps := run["reports"].([]any)
			require.Len(t, reps, 1)
			rep := reps[0].(map[string]any)
			assert.Equal(t, "DONE", rep["status"])
			assert.Equal(t, yesterday.String(), rep["date"])
			assert.EqualValues(t, 1, rep["appliedCount"])
			assert.Equal(t, "ADMALI01", rep["applied"].([]any)[0].(map[string]any)["outTradeNo"])
			listedReps := items(e.ok("GET", "/reconciliations?provider=alipay&date="+yesterday.String(), nil))
			require.Len(t, listedReps, 1)
			repID := int64(listedReps[0]["id"].(float64))
			again := e.ok("GET", fmt.Sprintf("/reconciliations/%d", repID), nil)
			assert.Equal(t, "foreign_order", again["discrepancies"].([]any)[0].(map[string]any)["kind"])
			e.refused("GET", "/reconciliations/99999", nil, 404, "not_found", "no reconciliation report 99999")
			e.refused("GET", "/reconciliations?status=OK", nil, 400, "invalid_request", "DONE")
			e.refused("POST", "/reconciliations", map[string]any{"provider": "paypal", "date": yesterday.String()}, 400, "invalid_request", "alipay or wechat")
			e.refused("POST", "/reconciliations", map[string]any{"provider": "alipay", "date": "yesterday"}, 400, "invalid_request", "YYYY-MM-DD")
			e.refused("POST", "/reconciliations", map[string]any{"provider": "wechat", "date": yesterday.String()}, 400, "invalid_request", "no channel account")
			earlier := yesterday.AddDays(-1)
			e.ali.notReady(earlier)
			nr := e.refused("POST", "/reconciliations", map[string]any{"provider": "alipay", "date": earlier.String()}, 409, "bill_not_ready", "no bill for that day yet")
			assert.Equal(t, "NOT_READY", nr["reports"].([]any)[0].(map[string]any)["status"])

			// Discrepancies: list, resolve.
			ds := items(e.ok("GET", "/discrepancies?status=OPEN&date="+yesterday.String(), nil))
			require.Len(t, ds, 1)
			assert.Equal(t, "ADMFRGN1", ds[0]["outTradeNo"])
			assert.EqualValues(t, 77, ds[0]["channelAmount"])
			did := int64(ds[0]["id"].(float64))
			resolved := e.ok("POST", fmt.Sprintf("/discrepancies/%d/resolve", did), map[string]any{"note": "the old shop's order"})
			assert.Equal(t, "RESOLVED", resolved["status"])
			assert.Equal(t, "the old shop's order", resolved["note"])
			e.refused("POST", fmt.Sprintf("/discrepancies/%d/resolve", did), map[string]any{"note": ""}, 400, "invalid_request", "note is required")
			e.refused("POST", "/discrepancies/99999/resolve", map[string]any{"note": "x"}, 404, "not_found", "no discrepancy 99999")
			assert.Len(t, items(e.ok("GET", "/discrepancies?status=APPLIED", nil)), 1)
			e.refused("GET", "/discrepancies?date=2026-13-01", nil, 400, "invalid_request", "YYYY-MM-DD")

			// Routes and methods.
			e.refused("DELETE", "/charges", nil, 405, "method_not_allowed", "DELETE /charges takes GET")
			req, err := http.NewRequest("PUT", e.base+"/charges/11/ADM00001/refund", nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
			assert.Equal(t, "POST", resp.Header.Get("Allow"))
			e.refused("GET", "/nothing/here", nil, 404, "not_found", "no route GET /nothing/here")
		})
	}
}

func toMaps(v any) []map[string]any {
	var out []map[string]any
	for _, it := range v.([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// callText sends a form body, as a caller who forgot the API takes JSON.
func (e *adminEnv) callText(method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}
