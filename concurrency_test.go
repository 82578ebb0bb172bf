package paycenter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/sandbox"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// trials is how many times each race runs per database: a few by default,
// PAYCENTER_TEST_TRIALS in CI (50).
func trials(t *testing.T) int {
	if s := os.Getenv("PAYCENTER_TEST_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		return n
	}
	if testing.Short() {
		return 1
	}
	return 3
}

// countingSandbox is the sandbox channel configured as a real channel,
// counting the calls that would cost money or open orders at a channel.
type countingSandbox struct {
	*sandbox.Channel
	mu      sync.Mutex
	creates map[string]int // outTradeNo → Create calls
	refunds map[string]int // outRefundNo → Refund calls
	sent    map[string]*http.Request
}

// CreatesOffline: the counting sandbox stands for a channel whose Create
// opens an order at the channel (a network call, like WeChat Pay's prepay).
func (c *countingSandbox) CreatesOffline() bool { return false }

func newCountingSandbox() *countingSandbox {
	return &countingSandbox{Channel: sandbox.New(sandbox.Config{}), creates: map[string]int{}, refunds: map[string]int{}}
}

func (c *countingSandbox) Create(ctx context.Context, req *channels.CreateRequest) (channels.Params, error) {
	c.mu.Lock()
	c.creates[req.OutTradeNo]++
	c.mu.Unlock()
	return c.Channel.Create(ctx, req)
}

func (c *countingSandbox) Refund(ctx context.Context, req *channels.RefundRequest) (*channels.Refund, error) {
	c.mu.Lock()
	c.refunds[req.OutRefundNo]++
	c.mu.Unlock()
	return c.Channel.Refund(ctx, req)
}

func (c *countingSandbox) calls(m map[string]int, k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[k]
}

// pay posts the channel's signed payment notification to our callback.
func (c *countingSandbox) pay(t testing.TB, e *env, outTradeNo string, fee int64) {
	t.Helper()
	req, err := c.Notification(e.srv.URL+"/callbacks/"+testAppID+"/sandbox", outTradeNo, sandbox.ResultSuccess, fee)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func createParams(ch channels.Code, no string, fee int64) paycenter.CreateChargeParams {
	return paycenter.CreateChargeParams{Channel: ch, OutTradeNo: no, TotalFee: fee, ClientIP: "127.0.0.1",
		Subject: "race", Body: "race", Created: 1508401409765, Attach: "no=" + no}
}

func code(err error) paycenter.Code {
	var pe *paycenter.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return -1
}

// TestConcurrency runs the races of the core issue on every database.
func TestConcurrency(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ch := newCountingSandbox()
			e := newEnv(t, kind, func(c *paycenter.Config) { c.Channels = []channels.Channel{ch} })
			ctx := context.Background()
			for trial := range trials(t) {
				// 50 identical creates: one charge row, one channel order, every
				// answer the same channelParams or 20004.
				no := fmt.Sprintf("race%08d", trial)
				results := make([]*paycenter.ChargeResult, 50)
				errs := make([]error, 50)
				parallel(50, func(i int) {
					results[i], errs[i] = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, no, 1000))
				})
				var first string
				busy := 0
				for i := range results {
					if errs[i] != nil {
						require.Equal(t, paycenter.CodeInProgress, code(errs[i]), "%v", errs[i])
						busy++
						continue
					}
					if first == "" {
						first = results[i].ChannelParams["codeUrl"]
					}
					assert.Equal(t, first, results[i].ChannelParams["codeUrl"])
				}
				require.NotEmpty(t, first, "no create succeeded")
				assert.EqualValues(t, 1, e.count(e.pc.Tables().Charges, "out_trade_no = ?", no))
				assert.Equal(t, 1, ch.calls(ch.creates, no), "channel orders")
				t.Logf("trial %d: %d of 50 creates answered 20004", trial, busy)

				ch.pay(t, e, no, 1000)

				// 32 refunds of 60% with distinct numbers: exactly one wins.
				errs = make([]error, 32)
				parallel(32, func(i int) {
					_, errs[i] = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{
						OutTradeNo: no, OutRefundNo: fmt.Sprintf("%sr%02d", no, i), RefundFee: 600})
				})
				won := 0
				for _, err := range errs {
					if err == nil {
						won++
					} else {
						require.Equal(t, paycenter.CodeOverLimit, code(err), "%v", err)
					}
				}
				assert.Equal(t, 1, won)
				var c models.Charge
				require.NoError(t, e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", no).Take(&c).Error)
				assert.EqualValues(t, 600, c.RefundedFee)
				assert.LessOrEqual(t, c.RefundReserved, c.TotalFee)

				// The same outRefundNo 20 times: one refund row, one channel refund.
				same := no + "same"
				errs = make([]error, 20)
				parallel(20, func(i int) {
					_, errs[i] = e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: no, OutRefundNo: same, RefundFee: 100})
				})
				for _, err := range errs {
					if err != nil {
						require.Equal(t, paycenter.CodeInProgress, code(err), "%v", err)
					}
				}
				assert.EqualValues(t, 1, e.count(e.pc.Tables().Refunds, "out_refund_no = ?", same))
				assert.Equal(t, 1, ch.calls(ch.refunds, same), "channel refunds")
				var sum int64
				require.NoError(t, e.pc.DB().Table(e.pc.Tables().Refunds).Where("out_trade_no = ? AND status = ?", no, models.RefundSucceeded).
					Select("COALESCE(SUM(refund_fee), 0)").Scan(&sum).Error)
				assert.EqualValues(t, 700, sum)
				assert.LessOrEqual(t, sum, int64(1000))
			}
		})
	}
}

// TestConcurrentSandboxPayments: 16 concurrent sandbox payments of one
// charge make one transition and one OnPaid call.
func TestConcurrentSandboxPayments(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind)
			ctx := context.Background()
			for trial := range trials(t) {
				no := fmt.Sprintf("sbx%08d", trial)
				_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, no, 500))
				require.NoError(t, err)
				before := e.paid.Load()
				statuses := make([]int, 16)
				parallel(16, func(i int) { statuses[i] = e.sandboxPay(no, "success") })
				for _, s := range statuses {
					assert.Equal(t, http.StatusOK, s, "an already-applied payment is acknowledged")
				}
				assert.EqualValues(t, 1, e.paid.Load()-before, "OnPaid calls")
				assert.EqualValues(t, 1, e.count(e.pc.Tables().Charges, "out_trade_no = ? AND status = ?", no, models.ChargePaid))
			}
		})
	}
}

// TestConcurrentNonceReplay: 16 concurrent v2 requests with one nonce,
// exactly one accepted.
func TestConcurrentNonceReplay(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind)
			_, err := e.pc.CreateCharge(context.Background(), testAppID, createParams(channels.WxNative, "nonce0000001", 100))
			require.NoError(t, err)
			for trial := range trials(t) {
				params := map[string]string{
					"channel": "WX_NATIVE", "outTradeNo": "nonce0000001", "version": "v2",
					"timestamp": strconv.FormatInt(e.clock.Now().UnixMilli(), 10), "nonce": fmt.Sprintf("nonce-%d-abcdef", trial),
				}
				var ok, replay atomic.Int64
				parallel(16, func(int) {
					r := e.do(http.MethodGet, "/api/charges/pay-result", params, testSecret)
					switch r.ErrorCode {
					case 0:
						ok.Add(1)
					case paycenter.CodeExpired:
						assert.Contains(t, r.ErrorMsg, "nonce has already been used")
						replay.Add(1)
					default:
						t.Errorf("unexpected answer %d %s", r.ErrorCode, r.ErrorMsg)
					}
				})
				assert.EqualValues(t, 1, ok.Load())
				assert.EqualValues(t, 15, replay.Load())
			}
		})
	}
}

// parallel runs fn(0..n-1) in n goroutines released together.
func parallel(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			start.Wait()
			fn(i)
		}()
	}
	start.Done()
	done.Wait()
}

// TestNoncePurge: every 512th use of a nonce deletes the nonces that have
// expired (the requests carrying them could no longer be accepted), and
// only those.
func TestNoncePurge(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind)
			_, err := e.pc.CreateCharge(context.Background(), testAppID, createParams(channels.WxNative, "purge0000001", 100))
			require.NoError(t, err)
			use := func(batch int) {
				for i := range 512 {
					r := e.do(http.MethodGet, "/api/charges/pay-result", map[string]string{
						"channel": "WX_NATIVE", "outTradeNo": "purge0000001", "version": "v2",
						"timestamp": strconv.FormatInt(e.clock.Now().UnixMilli(), 10), "nonce": fmt.Sprintf("purge-%d-%04d", batch, i),
					}, testSecret)
					require.Zero(t, r.ErrorCode, r.ErrorMsg)
				}
			}
			use(1)
			assert.EqualValues(t, 512, e.count(e.pc.Tables().Nonces, "1 = 1"), "nothing had expired at the first purge")
			e.clock.Add(24 * time.Hour)
			use(2)
			assert.EqualValues(t, 512, e.count(e.pc.Tables().Nonces, "1 = 1"), "the first 512 expired and were purged")
			assert.Zero(t, e.count(e.pc.Tables().Nonces, "nonce LIKE ?", "purge-1-%"))
		})
	}
}
