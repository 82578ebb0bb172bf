package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter/client"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the example with args until the test ends and returns its
// address and banner.
func start(t *testing.T, args ...string) (addr string, banner string) {
	t.Helper()
	return startHooked(t, runHooks{}, args...)
}

// startHooked is start with hooks (their ready is set here).
func startHooked(t *testing.T, hooks runHooks, args ...string) (addr string, banner string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready := make(chan string, 1)
	hooks.ready = ready
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out, hooks) }()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("example stopped: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return addr, out.String()
}

// devAppLine is the banner's line for the generated development app.
var devAppLine = regexp.MustCompile(`export PAYCENTER_KEY=(\S+) PAYCENTER_SECRET=(\S+)`)

// TestZeroConfig: with no flags the example starts on a fresh directory,
// prints the URL, key and secret, and serves a working sandbox.
func TestZeroConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	// The default address 127.0.0.1:8080 may be taken on a test machine;
	// everything else stays default.
	cfg := writeConfig(t, "addr: 127.0.0.1:0\n")
	addr, banner := start(t, "-config", cfg)
	assert.Contains(t, banner, "listening on http://"+addr)
	assert.Contains(t, banner, "sandbox mode")
	assert.Contains(t, banner, "POST     /api/charges")
	assert.Contains(t, banner, "development app dev")
	m := devAppLine.FindStringSubmatch(banner)
	require.NotNil(t, m, banner)
	_, err := os.Stat("paycenter.db")
	require.NoError(t, err, "the SQLite file is created in the working directory")

	c := client.New(m[1], m[2], client.WithBaseURL("http://"+addr))
	info, err := c.AliWebPay(context.Background(), "zero00000001", 1999, "127.0.0.1", "demo", "demo", time.Now().UnixMilli(), "", 0, "", "", "")
	require.NoError(t, err)
	assert.Contains(t, info.ChannelParams.Body, "<form")
	resp, err := http.Get(info.ChannelParams.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the cashier page")
	resp, err = http.PostForm("http://"+addr+"/sandbox/pay", url.Values{"appId": {"dev"}, "outTradeNo": {"zero00000001"}, "result": {"success"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	pr, err := c.GetPayResult(context.Background(), client.AliWeb, "zero00000001")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)
}

// TestDocumentedConfig runs the example with the configuration file of
// the documentation, unchanged but for the address and database path.
func TestDocumentedConfig(t *testing.T) {
	raw, err := os.ReadFile("testdata/example-config.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	y := strings.Replace(string(raw), "addr: 127.0.0.1:8080", "addr: 127.0.0.1:0", 1)
	y = strings.Replace(y, "publicURL: http://127.0.0.1:8080", "publicURL: ${PUBLIC_URL}", 1)
	y = strings.Replace(y, "dsn: paycenter.db", "dsn: "+filepath.Join(dir, "pc.db"), 1)
	y = strings.Replace(y, `basePath: ""`, `basePath: "/pay"`, 1)
	cfg := writeConfig(t, y)
	t.Setenv("PUBLIC_URL", "http://pay.example.com")

	addr, banner := start(t, "-config", cfg)
	assert.Contains(t, banner, "listening on http://pay.example.com/pay")
	assert.Contains(t, banner, "app 11 (from the -config file; its key and secret are not shown)")
	assert.NotContains(t, banner, "52ewc-c675-4944-af44-f4fdsww332d88", "a configured app's secret is never printed")
	assert.NotContains(t, banner, "PAYCENTER_SECRET")
	assert.Contains(t, banner, "POST     /pay/api/charges")

	c := client.New("e3327bcd-2681-4a2a-a321-c75ekl433ff81", "52ewc-c675-4944-af44-f4fdsww332d88",
		client.WithBaseURL("http://"+addr+"/pay"))
	info, err := c.WxNativePay(context.Background(), "test903289329", 100, "127.0.0.1", "超级大礼包", "xxxxx",
		time.Now().UnixMilli(), "http://www.163.com", 7200, "", "", "")
	require.NoError(t, err)
	assert.Equal(t, "http://pay.example.com/pay/sandbox/cashier/11/test903289329", info.ChannelParams.CodeURL)
}
