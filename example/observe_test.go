package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter/client"
)

// TestMetricsAndHealth: after a charge and its sandbox payment through the
// demo, GET /metrics serves the pay center's counters as Prometheus text
// and GET /healthz its health as JSON; neither needs the admin token.
func TestMetricsAndHealth(t *testing.T) {
	cfg := writeConfig(t, "addr: 127.0.0.1:0\ndatabase: {dsn: "+filepath.Join(t.TempDir(), "pc.db")+"}\n")
	addr, banner := start(t, "-config", cfg)
	base := "http://" + addr
	assert.Contains(t, banner, "metrics (Prometheus): "+base+"/metrics, health: "+base+"/healthz")
	m := devAppLine.FindStringSubmatch(banner)
	require.NotNil(t, m, banner)

	c := client.New(m[1], m[2], client.WithBaseURL(base))
	_, err := c.CreateCharge(context.Background(), client.ChargeParams{Channel: client.AliWeb, OutTradeNo: "metrics00001",
		TotalFee: 1999, ClientIP: "127.0.0.1", Subject: "tea", Body: "tea", Created: time.Now().UnixMilli()})
	require.NoError(t, err)
	resp, err := http.PostForm(base+"/sandbox/pay", url.Values{"appId": {"dev"}, "outTradeNo": {"metrics00001"}, "result": {"success"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	status, body := fetchText(t, base+"/metrics")
	require.Equal(t, http.StatusOK, status)
	lines := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		`# TYPE paycenter_charges_created_total counter`,
		`paycenter_charges_created_total{channel="ALI_WEB"} 1`,
		`paycenter_charges_paid_total{channel="ALI_WEB"} 1`,
		`paycenter_notifications_total{outcome="accepted",provider="sandbox"} 1`,
		`paycenter_api_requests_total{errorCode="0",route="/api/charges"} 1`,
		`paycenter_api_requests_total{errorCode="0",route="/sandbox/pay"} 1`,
		`paycenter_api_request_duration_seconds_count{errorCode="0",route="/api/charges"} 1`,
		`paycenter_channel_calls_total{operation="create",outcome="ok",provider="sandbox"} 1`,
		`paycenter_outbox_deliveries{status="dead"} 0`,
		`# TYPE paycenter_outbox_oldest_due_age_seconds gauge`,
	} {
		assert.True(t, lines[want], "/metrics lacks the line %s", want)
	}
	assert.Contains(t, body, "go_goroutines ", "the Go runtime collector")
	assert.NotContains(t, body, "metrics00001", "no order number in a label")

	status, body = fetchText(t, base+"/healthz")
	require.Equal(t, http.StatusOK, status, body)
	var h map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &h))
	assert.Equal(t, true, h["databaseOk"])
	assert.Equal(t, "running", h["workers"])
}

// fetchText GETs u and returns the status and the body.
func fetchText(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
