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

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/sandbox"
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

// crashChild pays a charge, says so on stdout, and waits to be killed. In
// mode "refund" it then refunds it through a channel whose refund call never
// returns, and says REFUNDING once the call is under way.
func crashChild(mode string) {
	must := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
	}
	cfg, err := crashConfig(os.Getenv("PAYCENTER_CRASH_DB"), os.Getenv("PAYCENTER_CRASH_URL"))
	must(err)
	hanging := hangingRefunds{sandbox.New(sandbox.Config{})}
	if mode == "refund" {
		cfg.Channels, cfg.PublicURL = []channels.Channel{hanging}, "http://127.0.0.1"
	}
	pc, err := paycenter.New(cfg)
	must(err)
	ctx := context.Background()
	_, err = pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "crash0000001", 100))
	must(err)
	if mode == "refund" { // the channel's notification, through the routes
		r := gin.New()
		pc.Mount(r)
		req, err := hanging.Notification("/callbacks/"+testAppID+"/sandbox", "crash0000001", sandbox.ResultSuccess, 100)
		must(err)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			must(fmt.Errorf("notification answered %d", w.Code))
		}
	} else {
		_, err = pc.SandboxPay(ctx, testAppID, "crash0000001", "success")
		must(err)
	}
	fmt.Println("COMMITTED")
	switch mode {
	case "deliver":
		pc.StartWorkers()
	case "refund":
		_, err := pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: "crash0000001", OutRefundNo: "crashr1", RefundFee: 100})
		must(fmt.Errorf("the hanging refund returned: %v", err))
	}
	select {} // until killed
}

// hangingRefunds is the sandbox whose refund calls never return: the
// process is killed in the middle of one.
type hangingRefunds struct{ *sandbox.Channel }

func (hangingRefunds) Refund(ctx context.Context, req *channels.RefundRequest) (*channels.Refund, error) {
	fmt.Println("REFUNDING")
	select {}
}

// startChild runs the child in mode and waits for its payment to commit.
func startChild(t *testing.T, mode, dbPath, url string) *exec.Cmd {
	t.Helper()
	return startChildUntil(t, mode, dbPath, url, "COMMITTED")
}

// startChildUntil runs the child in mode and waits until it prints marker.
func startChildUntil(t *testing.T, mode, dbPath, url, marker string) *exec.Cmd {
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
		if strings.Contains(lines.Text(), marker) {
			go io.Copy(io.Discard, out)
			return cmd
		}
	}
	t.Fatalf("child ended before printing %s", marker)
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

// TestCrashMidRefund: a process killed while its refund call is in flight
// leaves the refund leased for no longer than the call's timeout plus a
// margin; then the refund worker sends it again (same number) at once.
func TestCrashMidRefund(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "crash.db")
	started := time.Now()
	child := startChildUntil(t, "refund", dbPath, "", "REFUNDING")
	kill(t, child)

	cfg, err := crashConfig(dbPath, "")
	require.NoError(t, err)
	clock := &clock{now: time.Now()}
	cfg.Now = clock.Now
	pc, err := paycenter.New(cfg)
	require.NoError(t, err)
	defer pc.Close()
	ctx := context.Background()
	again := paycenter.RefundParams{OutTradeNo: "crash0000001", OutRefundNo: "crashr1", RefundFee: 100}
	_, err = pc.Refund(ctx, testAppID, again)
	assert.Equal(t, paycenter.CodeInProgress, code(err), "the dead process's lease still holds: %v", err)

	// The lease covers the call's timeout (ChannelTimeout, 10 s) and a
	// 5 s margin, counted from before the call started.
	clock.Set(started.Add(10*time.Second + 5*time.Second + time.Second))
	assert.Equal(t, 1, pc.RunDue(ctx), "the worker retries the refund as soon as the lease has passed")
	r, err := pc.RefundResult(ctx, testAppID, "crashr1")
	require.NoError(t, err)
	assert.Equal(t, models.RefundSucceeded, r.Status)
}
