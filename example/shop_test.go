package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter/client"
)

func TestParseYuan(t *testing.T) {
	for in, want := range map[string]int64{"3": 300, "3.5": 350, "3.50": 350, "0.01": 1, " ¥128.00 ": 12800, "98.01": 9801} {
		got, err := parseYuan(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, fen := range []int64{1, 10, 99, 100, 3990, 12800, 999999999} {
		got, err := parseYuan(yuan(fen))
		require.NoError(t, err)
		assert.Equal(t, fen, got, "round trip of %s", yuan(fen))
	}
	for _, in := range []string{"", "0", "0.00", "-1", "1.234", "1.", ".5", "1e3", "abc", "1,5", "1234567890"} {
		_, err := parseYuan(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "-0.05", yuan(-5))
}

// TestShopWebhook: the shop's webhook endpoint accepts what the pay center
// signs with the app's secret and refuses anything else.
func TestShopWebhook(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("addr: 127.0.0.1:0\n"), 0o600))
	addr, banner := start(t, "-config", cfg)
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
