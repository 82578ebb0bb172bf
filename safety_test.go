package paycenter_test

// Tests of the money-safety review (issue 9): each reproduces a way a
// merchant lost money or shipped goods for a payment taken back.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/sandbox"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// chargeRow reads a charge straight from the database.
func (e *env) chargeRow(no string) models.Charge {
	e.t.Helper()
	var c models.Charge
	require.NoError(e.t, e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", no).Take(&c).Error)
	return c
}

// TestLatenessFromPaymentTime: a payment is late when the channel's payment
// time is after the expiry or the close, never because the pay center
// processed it after the expiry.
func TestLatenessFromPaymentTime(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fake := newFakePay()
			m := newMerchant(t, 0)
			e := newEnv(t, kind, noWorkers, withWebhooks(m.srv.URL, time.Minute), func(c *paycenter.Config) {
				c.Channels = []channels.Channel{fake}
				c.Sandbox = paycenter.SandboxOn // Alipay codes in the sandbox
				c.LatePayment = paycenter.LatePaymentRefund
			})
			ctx := context.Background()

			// Paid 5 s before the expiry; the notification is lost and the
			// active query of pay-result finds it 5 s after the expiry.
			p := createParams(channels.WxNative, "intime000001", 500)
			p.TimeExpire = 60
			res, err := e.pc.CreateCharge(ctx, testAppID, p)
			require.NoError(t, err)
			expiry := time.UnixMilli(res.ExpireTime)
			fake.pay("intime000001", expiry.Add(-5*time.Second))
			e.clock.Set(expiry.Add(5 * time.Second))
			pr, err := e.pc.PayResult(ctx, testAppID, channels.WxNative, "intime000001")
			require.NoError(t, err)
			assert.True(t, pr.HasPay)
			assert.False(t, pr.LatePaid, "paid before the expiry")
			assert.Empty(t, pr.LateRefundNo)
			assert.Zero(t, e.count(e.pc.Tables().Refunds, "out_trade_no = ?", "intime000001"), "no automatic refund")
			e.pc.RunDue(ctx)
			m.mu.Lock()
			require.Len(t, m.events, 1)
			for _, ev := range m.events {
				assert.Contains(t, string(ev.Data), `"latePaid":false`)
			}
			m.mu.Unlock()

			// Paid 5 s after a close confirmed at the channel (a sandbox
			// order stays payable in the cashier): late, and refunded.
			_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWap, "after0000001", 700))
			require.NoError(t, err)
			_, err = e.pc.CloseCharge(ctx, testAppID, channels.AliWap, "after0000001")
			require.NoError(t, err)
			e.clock.Add(5 * time.Second)
			_, err = e.pc.SandboxPay(ctx, testAppID, "after0000001", "success")
			require.NoError(t, err)
			pr, err = e.pc.PayResult(ctx, testAppID, channels.AliWap, "after0000001")
			require.NoError(t, err)
			assert.True(t, pr.HasPay)
			assert.True(t, pr.LatePaid)
			assert.Equal(t, "LATE_after0000001", pr.LateRefundNo, "an HTTP merchant sees the pending automatic refund")
			e.pc.RunDue(ctx)
			rr, err := e.pc.RefundResult(ctx, testAppID, "LATE_after0000001")
			require.NoError(t, err)
			assert.Equal(t, models.RefundSucceeded, rr.Status)
			assert.True(t, rr.LatePaid)
			assert.EqualValues(t, 700, rr.RefundFee)
			m.mu.Lock()
			defer m.mu.Unlock()
			var lateEvent bool
			for _, ev := range m.events {
				if strings.Contains(string(ev.Data), `"outTradeNo":"after0000001"`) && ev.Type == hooks.ChargeSucceeded {
					lateEvent = true
					assert.Contains(t, string(ev.Data), `"latePaid":true`)
					assert.Contains(t, string(ev.Data), `"lateRefundNo":"LATE_after0000001"`)
				}
			}
			assert.True(t, lateEvent, "charge.succeeded of the late payment delivered")
		})
	}
}

// TestPaymentOnlyToItsCharge: a payment is applied only to the charge whose
// channel order it is.
func TestPaymentOnlyToItsCharge(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fake := newFakePay()
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) { c.Channels = []channels.Channel{fake} })
			ctx := context.Background()

			// The channel refuses the order (its number is someone else's
			// there), then that other order is paid: our charge never had an
			// order at the channel and must not be asked about, let alone
			// credited.
			fake.refuseCreate = true
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "foreign00001", 100))
			require.Error(t, err)
			fake.mu.Lock()
			fake.refuseCreate = false
			fake.orders["foreign00001"] = &channels.Payment{OutTradeNo: "foreign00001", Status: channels.PaymentPaid,
				TotalFee: 100, TransactionID: "theirs", PaidAt: e.clock.Now()}
			fake.mu.Unlock()
			e.clock.Add(time.Hour)
			e.pc.RunDue(ctx)
			pr, err := e.pc.PayResult(ctx, testAppID, channels.WxNative, "foreign00001")
			require.NoError(t, err)
			assert.False(t, pr.HasPay, "credited with another order's payment")
			q, _ := fake.counts()
			assert.Zero(t, q, "a charge without a channel order is never queried")

			// Our order exists, but the paid order at the channel carries
			// another marker (the same number opened elsewhere): recorded
			// as a discrepancy, not applied.
			_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "marker000001", 100))
			require.NoError(t, err)
			fake.mu.Lock()
			fake.orders["marker000001"] = &channels.Payment{OutTradeNo: "marker000001", Status: channels.PaymentPaid,
				TotalFee: 100, TransactionID: "other", PaidAt: e.clock.Now(), Marker: "not-ours", HasMarker: true}
			fake.mu.Unlock()
			pr, err = e.pc.PayResult(ctx, testAppID, channels.WxNative, "marker000001")
			require.NoError(t, err)
			assert.False(t, pr.HasPay)
			e.clock.Add(15 * time.Second)
			e.pc.RunDue(ctx) // asked again by the worker: still not applied, the same discrepancy
			ds, err := e.pc.Discrepancies(ctx, paycenter.DiscrepancyFilter{OutTradeNo: "marker000001"})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			assert.Equal(t, models.DiscrepancyMarker, ds[0].Kind)
			assert.Equal(t, models.DiscrepancyOpen, ds[0].Status)
			assert.Equal(t, 2, ds[0].Occurrences)
			assert.Equal(t, "other", ds[0].TransactionID)
			require.NoError(t, e.pc.ResolveDiscrepancy(ctx, ds[0].ID, "their order; refunded by hand"))
			// Again, in the same instant: nothing changes, and it is no error
			// (MariaDB reports no row affected).
			require.NoError(t, e.pc.ResolveDiscrepancy(ctx, ds[0].ID, "their order; refunded by hand"))
			assert.ErrorIs(t, e.pc.ResolveDiscrepancy(ctx, ds[0].ID+1000, "no such"), paycenter.CodeNotFound)
			ds, err = e.pc.Discrepancies(ctx, paycenter.DiscrepancyFilter{Status: models.DiscrepancyResolved})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			assert.Equal(t, "their order; refunded by hand", ds[0].Note)

			// The right marker and the wrong amount: not applied either.
			_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "amount000001", 100))
			require.NoError(t, err)
			fake.mu.Lock()
			fake.orders["amount000001"] = &channels.Payment{OutTradeNo: "amount000001", Status: channels.PaymentPaid,
				TotalFee: 1, TransactionID: "cheap", PaidAt: e.clock.Now(), Marker: e.chargeRow("amount000001").Marker, HasMarker: true}
			fake.mu.Unlock()
			pr, err = e.pc.PayResult(ctx, testAppID, channels.WxNative, "amount000001")
			require.NoError(t, err)
			assert.False(t, pr.HasPay)
			ds, err = e.pc.Discrepancies(ctx, paycenter.DiscrepancyFilter{Kind: models.DiscrepancyAmount})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			assert.EqualValues(t, 100, ds[0].LocalAmount)
			assert.EqualValues(t, 1, ds[0].ChannelAmount)
			assert.Zero(t, e.paid.Load())
		})
	}
}

// TestMismatchedNotification: a signed notification with another amount is
// refused (the channel retries), changes nothing and is listed once as a
// discrepancy however often it comes; one for a number we do not have too.
func TestMismatchedNotification(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ch := newCountingSandbox()
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) { c.Channels = []channels.Channel{ch} })
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "mism00000001", 1000))
			require.NoError(t, err)
			for range 2 {
				assert.Equal(t, http.StatusInternalServerError, ch.post(t, e, "mism00000001", 999))
				assert.Equal(t, http.StatusInternalServerError, ch.post(t, e, "nosuch000001", 5))
			}
			assert.Equal(t, models.ChargeCreated, e.chargeRow("mism00000001").Status)
			assert.Zero(t, e.paid.Load())
			ds, err := e.pc.Discrepancies(ctx, paycenter.DiscrepancyFilter{})
			require.NoError(t, err)
			require.Len(t, ds, 2)
			kinds := map[models.DiscrepancyKind]models.Discrepancy{}
			for _, d := range ds {
				kinds[d.Kind] = d
				assert.Equal(t, 2, d.Occurrences)
				assert.Equal(t, "notification", d.Source)
			}
			assert.EqualValues(t, 999, kinds[models.DiscrepancyAmount].ChannelAmount)
			assert.Equal(t, "nosuch000001", kinds[models.DiscrepancyForeignOrder].OutTradeNo)
			assert.EqualValues(t, 4, e.count(e.pc.Tables().Notifications, "accepted = ?", false), "every attempt audited")
			assert.Equal(t, http.StatusOK, ch.post(t, e, "mism00000001", 1000), "the right one is applied")
			assert.EqualValues(t, 1, e.paid.Load())
		})
	}
}

// post posts the signed payment notification for outTradeNo and fee (the
// same one each time, as a channel resends it) and returns the status.
func (c *countingSandbox) post(t testing.TB, e *env, outTradeNo string, fee int64) int {
	t.Helper()
	key := fmt.Sprint(outTradeNo, fee)
	c.mu.Lock()
	if c.sent == nil {
		c.sent = map[string]*http.Request{}
	}
	req := c.sent[key]
	c.mu.Unlock()
	if req == nil {
		var err error
		req, err = c.Notification(e.srv.URL+"/callbacks/"+testAppID+"/sandbox", outTradeNo, sandbox.ResultSuccess, fee)
		require.NoError(t, err)
		c.mu.Lock()
		c.sent[key] = req
		c.mu.Unlock()
	}
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	req.Body = io.NopCloser(bytes.NewReader(body))
	again := req.Clone(context.Background())
	again.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(again)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSharedAccountRace: two apps on one account racing with one number at
// the same instant: the database's unique index lets exactly one win.
func TestSharedAccountRace(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fake := newFakePay()
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) {
				c.Channels = []channels.Channel{fake}
				c.Apps = append(c.Apps, paycenter.App{ID: "22", Key: "key22", Secret: "secret22"})
			})
			ctx := context.Background()
			for trial := range trials(t) {
				no := fmt.Sprintf("shrace%06d", trial)
				errs := make([]error, 16)
				parallel(16, func(i int) {
					app := []string{testAppID, "22"}[i%2]
					_, errs[i] = e.pc.CreateCharge(ctx, app, createParams(channels.WxNative, no, 100))
				})
				apps := map[string]bool{}
				for i, err := range errs {
					if err == nil {
						apps[[]string{testAppID, "22"}[i%2]] = true
					} else {
						assert.Contains(t, []paycenter.Code{paycenter.CodeExists, paycenter.CodeInProgress}, code(err), "%v", err)
					}
				}
				assert.Len(t, apps, 1, "one app owns the number")
				assert.EqualValues(t, 1, e.count(e.pc.Tables().Charges, "out_trade_no = ?", no))
			}
		})
	}
}

// bigNotify is a channel whose notifications are whatever is posted, taken
// as verified (the adapters' verification is tested with them): a payment
// of the charge named by the "no" query parameter. Its bodies can be large
// or hold any bytes.
type bigNotify struct{ *fakePay }

func (b bigNotify) Provider() string { return "big" }
func (b bigNotify) ParseNotification(_ context.Context, r *http.Request, _ string) (*channels.Notification, error) {
	if _, err := io.ReadAll(r.Body); err != nil {
		return nil, err
	}
	if r.URL.Query().Get("verified") != "1" {
		return nil, errors.New("big: bad signature")
	}
	return &channels.Notification{Kind: channels.NotifyPayment, Payment: &channels.Payment{
		OutTradeNo: r.URL.Query().Get("no"), Status: channels.PaymentPaid, TotalFee: 100, TransactionID: "big1", PaidAt: time.Now()}}, nil
}
func (bigNotify) Ack(w http.ResponseWriter, err error) {
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// TestNotificationAudit: unauthenticated bodies cannot fill the database
// (a few KiB kept, with size and hash), accepted ones are kept whole on
// every database (over MySQL TEXT's 64 KiB), and a NUL byte never loses a
// record or becomes 10001.
func TestNotificationAudit(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) { c.Channels = []channels.Channel{bigNotify{newFakePay()}} })
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "audit0000001", 100))
			require.NoError(t, err)
			post := func(query string, body []byte) int {
				resp, err := http.Post(e.srv.URL+"/callbacks/"+testAppID+"/big/notify?"+query, "application/octet-stream", bytes.NewReader(body))
				require.NoError(t, err)
				resp.Body.Close()
				return resp.StatusCode
			}
			junk := bytes.Repeat([]byte("forged\x00\xff"), 100_000) // 800 KB, a NUL and invalid UTF-8
			assert.Equal(t, http.StatusInternalServerError, post("", junk))
			big := append(bytes.Repeat([]byte("x"), 100_000), 0, 0xfe, '\n')
			assert.Equal(t, http.StatusOK, post("verified=1&no=audit0000001", big))

			var recs []models.Notification
			require.NoError(t, e.pc.DB().Table(e.pc.Tables().Notifications).Order("id").Find(&recs).Error)
			require.Len(t, recs, 2, "both audited")
			sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
			assert.False(t, recs[0].Accepted)
			assert.Equal(t, junk[:models.MaxRefusedBodyBytes], recs[0].Body)
			assert.EqualValues(t, len(junk), recs[0].BodySize)
			assert.Equal(t, sum(junk), recs[0].BodySHA256)
			assert.True(t, recs[1].Accepted)
			assert.Equal(t, big, recs[1].Body, "kept whole, byte for byte")
			assert.Equal(t, sum(big), recs[1].BodySHA256)
			assert.Equal(t, models.ChargePaid, e.chargeRow("audit0000001").Status)

			// A NUL in a text parameter is a clear 10007, not a 10001.
			p := chargeParams(channels.WxNative, "nul000000001", 100)
			p["attach"] = "a\x00b"
			r := e.do(http.MethodPost, "/api/charges", p, testSecret)
			assert.Equal(t, paycenter.CodeInvalid, r.ErrorCode, r.ErrorMsg)
			assert.Contains(t, r.ErrorMsg, "attach")
		})
	}
}

// TestMountOnRouteGroup: mounted on r.Group("/pay") with a BasePath, every
// URL the pay center hands out carries both: the sandbox cashier, its
// buttons and where they lead. (The Alipay notify URL inside the form is
// tested with the Alipay adapter's flows.)
func TestMountOnRouteGroup(t *testing.T) {
	e := newEnvOn(t, testdb.SQLite, "/pay", noWorkers, func(c *paycenter.Config) { c.BasePath = "/v1" })
	ctx := context.Background()
	info, err := e.client.CreateCharge(ctx, client.ChargeParams{Channel: client.WxNative, OutTradeNo: "group0000001", TotalFee: 100,
		ClientIP: "127.0.0.1", Subject: "subject", Body: "body", ReturnURL: "https://shop.example.com/r"})
	require.NoError(t, err)
	var params map[string]string
	require.NoError(t, json.Unmarshal(info.ChannelParams, &params))
	cashier := params["codeUrl"]
	assert.Equal(t, e.srv.URL+"/pay/v1/sandbox/cashier/"+testAppID+"/group0000001", cashier)

	// The Pay button: back to the cashier under the group, which says so.
	page := payInCashier(t, e.srv.URL, cashier, "/pay/v1")
	assert.Contains(t, page, `href="https://shop.example.com/r"`)
	pr, err := e.client.GetPayResult(ctx, "WX_NATIVE", "group0000001")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)
}

// TestCashierNoOpenRedirect: the cashier links back only to the charge's
// own returnUrl, never to a URL from the request.
func TestCashierNoOpenRedirect(t *testing.T) {
	e := newEnv(t, testdb.SQLite, noWorkers)
	ctx := context.Background()
	_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxMweb, "redir0000001", 100))
	require.NoError(t, err)
	resp, err := http.Get(e.srv.URL + "/sandbox/cashier/" + testAppID + "/redir0000001?redirect_url=https://evil.example/&message=send+money+to+evil")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the cashier page itself")
	assert.Contains(t, string(page), "redir0000001")
	assert.NotContains(t, string(page), "evil")
	assert.NotContains(t, string(page), `id="return"`, "no returnUrl, no link")
}

// TestPanickingHook: a hook that panics rolls its transition back, is
// logged, and never takes the process down — from a request or a worker.
func TestPanickingHook(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			var panics sync.Map // hook → still panicking
			panics.Store("paid", true)
			panics.Store("closed", true)
			boom := func(name string) {
				if v, _ := panics.Load(name); v == true {
					panic("boom in " + name)
				}
			}
			e := newEnv(t, kind, noWorkers, func(c *paycenter.Config) {
				c.Hooks = append(c.Hooks,
					hooks.OnPaidFunc(func(context.Context, *hooks.Paid) error { boom("paid"); return nil }),
					hooks.OnClosedFunc(func(context.Context, *hooks.Closed) error { boom("closed"); return nil }))
			})
			ctx := context.Background()
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "panic0000001", 100))
			require.NoError(t, err)
			assert.Equal(t, http.StatusBadGateway, e.sandboxPay("panic0000001", "success"), "refused, so the channel retries")
			assert.Equal(t, models.ChargeCreated, e.chargeRow("panic0000001").Status, "rolled back")

			// An expired charge whose OnClosed panics: the worker goes on.
			_, err = e.pc.CreateCharge(ctx, testAppID, createParams(channels.WxNative, "panic0000002", 100))
			require.NoError(t, err)
			e.clock.Add(25 * time.Hour)
			e.pc.RunDue(ctx)
			assert.Equal(t, models.ChargeCreated, e.chargeRow("panic0000002").Status)
			panics.Store("closed", false)
			e.clock.Add(time.Hour) // past the failed attempt's back-off
			e.pc.RunDue(ctx)
			assert.Equal(t, models.ChargeClosed, e.chargeRow("panic0000002").Status)
			panics.Store("paid", false)
			assert.Equal(t, http.StatusOK, e.sandboxPay("panic0000001", "success"))
		})
	}
}

// TestNonFormBody: a body that is not a form gets 10007 naming the type to
// send, before any signature check.
func TestNonFormBody(t *testing.T) {
	e := newEnv(t, testdb.SQLite, noWorkers)
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("channel", "WX_NATIVE")
	w.Close()
	for name, c := range map[string]struct{ ct, body string }{
		"JSON":       {"application/json", `{"channel":"WX_NATIVE"}`},
		"multipart":  {w.FormDataContentType(), mp.String()},
		"plain text": {"text/plain", "channel=WX_NATIVE"},
		"no type":    {"", "channel=WX_NATIVE"},
		"not UTF-8":  {"application/x-www-form-urlencoded; charset=gbk", "channel=WX_NATIVE"},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/charges", strings.NewReader(c.body))
			require.NoError(t, err)
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			req.Header.Set("key", testKey)
			req.Header.Set("sign", "0123456789abcdef0123456789abcdef")
			r := e.send(req)
			assert.Equal(t, paycenter.CodeInvalid, r.ErrorCode, r.ErrorMsg)
			assert.Contains(t, r.ErrorMsg, "application/x-www-form-urlencoded")
		})
	}
	// Every parameter in the query, no body: fine.
	r := e.do(http.MethodGet, "/api/charges/pay-result", map[string]string{"channel": "WX_NATIVE", "outTradeNo": "nosuch000001"}, testSecret)
	assert.Equal(t, paycenter.CodeNotFound, r.ErrorCode, r.ErrorMsg)
}

// TestWebhookScheduleAcrossInstances: three instances deliver webhooks to a
// receiver that refuses the first three attempts of each event: every event
// is attempted exactly four times, each retry no sooner than the schedule
// says, and nothing goes DEAD.
func TestWebhookScheduleAcrossInstances(t *testing.T) {
	schedule := []time.Duration{150 * time.Millisecond, 300 * time.Millisecond, 450 * time.Millisecond}
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			const events = 60
			rec := &attemptLog{at: map[string][]time.Time{}}
			rx := newMerchant(t, 3)
			rx.onAttempt = rec.add
			db := testdb.Open(t, kind)
			var envs []*env
			for range 3 {
				envs = append(envs, newEnv(t, kind, func(c *paycenter.Config) {
					c.DB = db
					c.Workers.Concurrency = 2 // instances hold stale lists while waiting for a slot
					c.Workers.BatchSize = events
				}, withWebhooks(rx.srv.URL, schedule...), realClock, noWorkers))
			}
			payN(t, envs[0].pc, "sched", events, channels.WxNative)
			for _, e := range envs {
				e.pc.StartWorkers()
			}
			rx.waitDelivered(events, time.Minute)
			for _, e := range envs {
				require.NoError(t, e.pc.Close())
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			require.Len(t, rec.at, events)
			for id, at := range rec.at {
				require.Len(t, at, 4, "event %s attempted %d times", id, len(at))
				for i := 1; i < len(at); i++ {
					assert.GreaterOrEqual(t, at[i].Sub(at[i-1]), schedule[i-1], "event %s retry %d came too early", id, i)
				}
			}
			ds, err := envs[0].pc.Deliveries(context.Background(), paycenter.DeliveryFilter{Limit: 1000})
			require.NoError(t, err)
			require.Len(t, ds, events)
			for _, d := range ds {
				assert.Equal(t, models.DeliveryDelivered, d.Status)
				assert.Equal(t, 4, d.Attempts)
			}
		})
	}
}

// attemptLog records when each event's attempts arrived.
type attemptLog struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (l *attemptLog) add(id string) {
	l.mu.Lock()
	l.at[id] = append(l.at[id], time.Now())
	l.mu.Unlock()
}
