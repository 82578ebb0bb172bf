package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/paytype"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// TestBindsWhenReady: the port is bound only after the database is open
// and migrated and the routes are registered, so the first connection
// that succeeds is served by the whole server.
func TestBindsWhenReady(t *testing.T) {
	t.Chdir(t.TempDir())
	var checked bool
	hooks := runHooks{beforeListen: func(addr string) {
		checked = true
		// Migrated: the pay center's tables (the development app among
		// them) and the shop's are there.
		db, err := paycenter.OpenSQLite("paycenter.db")
		require.NoError(t, err)
		defer func() { sqlDB, _ := db.DB(); sqlDB.Close() }()
		for _, table := range []string{"pay_charges", "pay_deliveries", "pay_settings", "shop_orders"} {
			assert.True(t, db.Migrator().HasTable(table), "table %s exists before the port is bound", table)
		}
		// Nothing listens yet: a probe finds no server, not half of one.
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "the port is not bound before the server is ready")
	}}
	addr, banner := startHooked(t, hooks, "-config", writeConfig(t, "addr: 127.0.0.1:0\n"))
	require.True(t, checked, "beforeListen ran")
	assert.Contains(t, banner, "listening on http://"+addr, "port 0 is resolved before start-up, so PublicURL names it")

	// The first connection is served.
	resp, err := http.Get("http://" + addr + "/shop/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestPortTaken: a taken port is an error that says what to do.
func TestPortTaken(t *testing.T) {
	t.Chdir(t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(context.Background(), []string{"-config", writeConfig(t, "addr: "+ln.Addr().String()+"\n")}, &syncBuffer{}, runHooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "addr "+ln.Addr().String())
	assert.Contains(t, err.Error(), "choose another addr")
}

// TestDevAppAcrossRestarts: the demo's app keeps its key and secret when
// the example starts again on the same database, and its webhooks still
// reach the shop.
func TestDevAppAcrossRestarts(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := writeConfig(t, "addr: 127.0.0.1:0\n")
	_, first := start(t, "-config", cfg)
	addr, second := start(t, "-config", cfg)
	m1, m2 := devAppLine.FindStringSubmatch(first), devAppLine.FindStringSubmatch(second)
	require.NotNil(t, m1, first)
	require.NotNil(t, m2, second)
	assert.Equal(t, m1[1:], m2[1:], "the same key and secret on the next start")

	c := client.New(m2[1], m2[2], client.WithBaseURL("http://"+addr))
	_, err := c.GetPayResult(context.Background(), client.WxNative, "restart00001")
	var pe *client.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, paytype.CodeNotFound, pe.Code, "signed with the stored secret: authenticated, no such charge")
}

// TestListenOnEveryInterface: addr 0.0.0.0 says how a phone reaches the
// demo; with publicURL set the QR code already points there.
func TestListenOnEveryInterface(t *testing.T) {
	t.Chdir(t.TempDir())
	addr, banner := start(t, "-config", writeConfig(t, "addr: 0.0.0.0:0\n"))
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	assert.Contains(t, banner, "listening on http://127.0.0.1:"+port, "the URL announced is one this machine can open")
	assert.Contains(t, banner, "a phone on this network opens http://<this machine's LAN IP>:"+port+"/shop/")
	assert.Contains(t, banner, "set publicURL: http://<LAN IP>:"+port+" so that the QR code points there")

	_, banner = start(t, "-config", writeConfig(t, "addr: 0.0.0.0:0\npublicURL: http://192.0.2.10:8080\n"))
	assert.Contains(t, banner, "listening on http://192.0.2.10:8080")
	assert.Contains(t, banner, "a phone on this network opens")
	assert.NotContains(t, banner, "set publicURL")
}
