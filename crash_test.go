package paycenter_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// The crash tests run a child process (this test binary, see TestMain) that pays a charge and is then killed with SIGKILL; a new
// pay center on the same database must deliver the webhook.

const crashEnv = "PAYCENTER_CRASH_CHILD"

func crashConfig(dbPath, notifyURL string) (paycenter.Config, error) {
	db, err := paycenter.OpenSQLite(dbPath)
	if err != nil {
		return paycenter.Config{}, err
	}
	return paycenter.Config{
		DB:      db,
		Apps:    []paycenter.App{{ID: testAppID, Key: testKey, Secret: testSecret, NotifyURL: notifyURL}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Webhook: paycenter.WebhookConfig{AllowPrivateNetworks: true, Timeout: 5 * time.Second, Schedule: []time.Duration{time.Second}},
		Workers: paycenter.WorkersConfig{Disabled: true, PollInterval: 10 * time.Millisecond},
	}, nil
}

// TestMain runs the crash tests' child process when asked to, and the
// tests otherwise.
func TestMain(m *testing.M) {
	if mode := os.Getenv(crashEnv); mode != "" {
		crashChild(mode)
		return
	}
	os.Exit(m.Run())
}

// crashChild pays a charge, says so on stdout, and waits to be killed.
func crashChild(mode string) {
	must := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
	}
	cfg, err := crashConfig(os.Getenv("PAYCENTER_CRASH_DB"), os.Getenv("PAYCENTER_CRASH_URL"))
	must(err)
	pc, err := paycenter.New(cfg)
	must(err)
	ctx := context.Background()
	_, err = pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "crash0000001", 100))
	must(err)
	_, err = pc.SandboxPay(ctx, testAppID, "crash0000001", "success")
	must(err)
	fmt.Println("COMMITTED")
	if mode == "deliver" {
		pc.StartWorkers()
	}
	select {} // until killed
}

// startChild runs the child in mode and waits for its payment to commit.
func startChild(t *testing.T, mode, dbPath, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"="+mode, "PAYCENTER_CRASH_DB="+dbPath, "PAYCENTER_CRASH_URL="+url)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "COMMITTED") {
			go io.Copy(io.Discard, out)
			return cmd
		}
	}
	t.Fatalf("child ended before committing the payment")
	return nil
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred code runs
	cmd.Wait()
}

// TestCrashAfterCommit: killed after the payment commits and before its
// webhook is sent; a new process on the same database delivers it.
func TestCrashAfterCommit(t *testing.T) {
	m := newMerchant(t, 0)
	dbPath := filepath.Join(t.TempDir(), "crash.db")
	child := startChild(t, "commit", dbPath, m.srv.URL)
	kill(t, child)
	m.mu.Lock()
	assert.Empty(t, m.attempts, "the child sent nothing")
	m.mu.Unlock()

	cfg, err := crashConfig(dbPath, m.srv.URL)
	require.NoError(t, err)
	cfg.Workers.Disabled = false
	pc, err := paycenter.New(cfg)
	require.NoError(t, err)
	defer pc.Close()
	pc.StartWorkers()
	m.waitDelivered(1, time.Minute)
	for _, ev := range m.events {
		pr, err := (&ev).PayResult()
		require.NoError(t, err)
		assert.Equal(t, "crash0000001", pr.OutTradeNo)
	}
}

// TestCrashMidDelivery: a process killed while its webhook attempt is in
// flight leaves the delivery leased; another process retries it once the
// lease has expired, not before.
func TestCrashMidDelivery(t *testing.T) {
	var calls atomic.Int64
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only once the body is read
		if calls.Add(1) == 1 {
			arrived <- struct{}{}
			<-r.Context().Done() // hang until the child dies
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	dbPath := filepath.Join(t.TempDir(), "crash.db")
	child := startChild(t, "deliver", dbPath, srv.URL)
	select {
	case <-arrived:
	case <-time.After(time.Minute):
		t.Fatal("the child never attempted the webhook")
	}
	kill(t, child)

	cfg, err := crashConfig(dbPath, srv.URL)
	require.NoError(t, err)
	clock := &clock{now: time.Now()}
	cfg.Now = clock.Now
	pc, err := paycenter.New(cfg)
	require.NoError(t, err)
	defer pc.Close()
	ctx := context.Background()
	assert.Equal(t, 0, pc.RunDue(ctx), "the dead process's lease still holds")
	ds, err := pc.Deliveries(ctx, paycenter.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, models.DeliveryPending, ds[0].Status)
	require.NotNil(t, ds[0].LeaseUntil)

	clock.Set(ds[0].LeaseUntil.Add(time.Second))
	assert.Equal(t, 1, pc.RunDue(ctx))
	ds, err = pc.Deliveries(ctx, paycenter.DeliveryFilter{})
	require.NoError(t, err)
	assert.Equal(t, models.DeliveryDelivered, ds[0].Status)
	assert.EqualValues(t, 2, calls.Load())
}
