package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

var redirectOrder = regexp.MustCompile(`Order <span class="mono">(\w+)</span>`)

// buyOnAlipay buys product in the shop on ALI_WEB and opens the cashier
// with the form the shop's page submits; it returns the order number.
func buyOnAlipay(t *testing.T, base string, ali *alipaytest.Fake, product string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/shop/buy", url.Values{"product": {product}, "channel": {"ALI_WEB"}})
	require.NoError(t, err)
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
	m := redirectOrder.FindStringSubmatch(string(page))
	require.NotNil(t, m, "%s", page)
	_, err = ali.SubmitForm(context.Background(), string(page))
	require.NoError(t, err)
	return m[1]
}

// TestReconcileCommand: beside a serving instance on the same database,
// "example -config FILE reconcile -provider alipay -date TODAY" applies a
// payment whose notification was lost (the shop's order is paid by its
// hook), reports a foreign order and another amount, and prints the
// report as JSON; run again it prints the same; a day without a bill is a
// clear error (exit 1); WeChat Pay's bill is reconciled the same way.
// Long: one day of business, then each command.
func TestReconcileCommand(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Chdir(t.TempDir())
			ctx := context.Background()
			_, database := migrateTarget(t, kind)
			ali := alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))
			wx := wechattest.NewServer(t)
			cfg := channelsConfig(t, ali, wx, database)
			addr, _ := start(t, "-config", cfg)
			base := "http://" + addr
			today := channels.DayOf(time.Now()).String()

			lost := buyOnAlipay(t, base, ali, "tea")
			require.NoError(t, ali.Pay(lost)) // its notification is lost
			diff := buyOnAlipay(t, base, ali, "mug")
			require.NoError(t, ali.Pay(diff))
			ali.SetBillAmount(diff, "", 3989)
			require.NoError(t, ali.PayForeign("FOREIGN000001", 500, "别人的订单"))

			var out bytes.Buffer
			require.NoError(t, dispatch(ctx, []string{"-config", cfg, "reconcile", "-provider", "alipay", "-date", today}, &out))
			var rep struct {
				Date, Provider, Status string
				Channel, Local         map[string]int64
				Matched                int64
				Applied, Discrepancies []struct {
					Kind, OutTradeNo, OutRefundNo string
					LocalAmount, ChannelAmount    int64
				}
			}
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
			assert.Equal(t, today, rep.Date)
			assert.Equal(t, "alipay", rep.Provider)
			assert.Equal(t, "DONE", rep.Status)
			assert.Equal(t, map[string]int64{"payments": 3, "paymentAmount": 12800 + 3989 + 500, "refunds": 0, "refundAmount": 0}, rep.Channel)
			assert.Equal(t, map[string]int64{"payments": 1, "paymentAmount": 12800, "refunds": 0, "refundAmount": 0}, rep.Local)
			require.Len(t, rep.Applied, 1)
			assert.Equal(t, "paid_at_channel_unpaid_here", rep.Applied[0].Kind)
			assert.Equal(t, lost, rep.Applied[0].OutTradeNo)
			assert.EqualValues(t, 12800, rep.Applied[0].ChannelAmount)
			got := map[string]string{}
			for _, d := range rep.Discrepancies {
				got[d.Kind] = fmt.Sprintf("%s %d/%d", d.OutTradeNo, d.LocalAmount, d.ChannelAmount)
			}
			assert.Equal(t, map[string]string{"foreign_order": "FOREIGN000001 0/500", "amount_mismatch": diff + " 3990/3989"}, got)
			for _, key := range []string{`"outRefundNo": ""`, `"localAmount"`, `"channelAmount"`} {
				assert.Contains(t, out.String(), key)
			}

			// The shop's hook ran in the command: the order is paid.
			resp, err := http.Get(base + "/shop/orders/" + lost + "/status")
			require.NoError(t, err)
			var v orderView
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
			resp.Body.Close()
			assert.True(t, v.Paid, "the shop's OnPaid hook ran in the command's transaction")

			// Again (the migrate command's flag order): the same report.
			var again bytes.Buffer
			require.NoError(t, dispatch(ctx, []string{"reconcile", "-config", cfg, "-provider", "alipay", "-date", today}, &again))
			times := regexp.MustCompile(`"(startedAt|finishedAt)": "[^"]*"`)
			assert.Equal(t, times.ReplaceAllString(out.String(), ""), times.ReplaceAllString(again.String(), ""))

			// Not ready: a clear error, nothing printed.
			ali.SetBillNotReady(channels.DayOf(time.Now()), true)
			var none bytes.Buffer
			err = dispatch(ctx, []string{"-config", cfg, "reconcile", "-provider", "alipay", "-date", today}, &none)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "the alipay bill of "+today+" is not ready")
			assert.Contains(t, err.Error(), "try again later")
			assert.Empty(t, none.String())

			// WeChat Pay: a payment whose notification is lost.
			c := client.New("e3327bcd-2681-4a2a-a321-c75ekl433ff81", "52ewc-c675-4944-af44-f4fdsww332d88", client.WithBaseURL(base))
			_, err = c.WxNativePay(ctx, "WXLOST000001", 500, "127.0.0.1", "mug", "mug", time.Now().UnixMilli(), "", 0, "", "", "")
			require.NoError(t, err)
			_, err = wx.Pay("WXLOST000001")
			require.NoError(t, err)
			out.Reset()
			require.NoError(t, dispatch(ctx, []string{"-config", cfg, "reconcile", "-provider", "wechat", "-date", today}, &out))
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
			assert.Equal(t, "wechat", rep.Provider)
			require.Len(t, rep.Applied, 1)
			assert.Equal(t, "WXLOST000001", rep.Applied[0].OutTradeNo)
			assert.Empty(t, rep.Discrepancies)
		})
	}
}

func TestReconcileCommandErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"reconcile", "-provider", "paypal", "-date", "2026-11-29"}, "-provider must be alipay or wechat"},
		{[]string{"reconcile", "-provider", "alipay", "-date", "29/11/2026"}, "-date \"29/11/2026\" must be a day written YYYY-MM-DD"},
		{[]string{"reconcile", "-provider", "alipay", "-date", "2026-11-29", "now"}, `unexpected argument "now"`},
		{[]string{"-config", "missing.yaml", "reconcile", "-provider", "alipay", "-date", "2026-11-29"}, "missing.yaml"},
	} {
		err := dispatch(ctx, c.args, &bytes.Buffer{})
		assert.ErrorContains(t, err, c.want, strings.Join(c.args, " "))
	}
	// The demo (sandbox only) has no bills.
	t.Chdir(t.TempDir())
	cfg := writeConfig(t, "database: {driver: sqlite, dsn: pay.db}\n")
	err := dispatch(ctx, []string{"-config", cfg, "reconcile", "-provider", "alipay", "-date", "2026-11-29"}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "no channel account of this provider publishes a daily bill")
}

func TestSubcommandFirst(t *testing.T) {
	for in, want := range map[string]string{
		"-config f reconcile -date d": "reconcile -config f -date d",
		"--config=f migrate":          "migrate --config=f",
		"-config f":                   "-config f",
		"reconcile -config f":         "reconcile -config f",
		"-config f unknown":           "-config f unknown",
		"-addr x reconcile":           "-addr x reconcile",
		"":                            "",
	} {
		assert.Equal(t, want, strings.Join(subcommandFirst(strings.Fields(in)), " "), in)
	}
}

var (
	reportRow  = regexp.MustCompile(`<tr data-date="([^"]+)" data-account="([^"]+)" data-status="([^"]+)">`)
	discRow    = regexp.MustCompile(`<tr data-id="(\d+)" data-kind="([^"]+)" data-status="([^"]+)" data-order="([^"]*)">`)
	noticeLine = regexp.MustCompile(`<p class="(notice|error)" id="(?:notice|error)">([^<]*)</p>`)
)

// TestAdminPageReconciliation: the shop's admin page reads the pay
// center through the operator API (which wants its token), runs a
// reconciliation from its form, shows the report and the discrepancies,
// and resolves one with a note. Long: one page, its forms one after the
// other, then the API's token.
func TestAdminPageReconciliation(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(adminTokenEnv, "s3cret-operator-token")
	ali := alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))
	cfg := channelsConfig(t, ali, wechattest.NewServer(t), fmt.Sprintf("database: {driver: sqlite, dsn: %q}\n", filepath.Join(t.TempDir(), "pc.db")))
	addr, banner := start(t, "-config", cfg)
	base := "http://" + addr
	assert.Contains(t, banner, "operator API: "+base+"/admin/api/charges ... (Authorization: Bearer $PAYCENTER_ADMIN_TOKEN")
	today := channels.DayOf(time.Now()).String()

	lost := buyOnAlipay(t, base, ali, "sample")
	require.NoError(t, ali.Pay(lost))
	require.NoError(t, ali.PayForeign("FOREIGN000002", 42, "别人的订单"))

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) string {
		t.Helper()
		resp, err := noRedirect.PostForm(base+path, form)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		return resp.Header.Get("Location")
	}
	page := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		return string(b)
	}

	p := page(post("/shop/admin/reconcile", url.Values{"provider": {"alipay"}, "date": {today}}))
	m := noticeLine.FindStringSubmatch(p)
	require.NotNil(t, m, p)
	assert.Equal(t, "notice", m[1])
	assert.Contains(t, m[2], today+": DONE, 1 matched, 1 applied, 1 open")
	var reports []string // the server's worker has reconciled yesterday's bills too
	for _, r := range reportRow.FindAllStringSubmatch(p, -1) {
		reports = append(reports, strings.Join(r[1:], " "))
	}
	assert.Contains(t, reports, today+" alipay:"+ali.Keys.AppID+" DONE")
	discs := map[string][]string{}
	for _, d := range discRow.FindAllStringSubmatch(p, -1) {
		discs[d[2]] = d[1:]
	}
	require.Contains(t, discs, "foreign_order", p)
	assert.Equal(t, "OPEN", discs["foreign_order"][2])
	assert.Equal(t, "FOREIGN000002", discs["foreign_order"][3])
	assert.Equal(t, []string{"paid_at_channel_unpaid_here", "APPLIED", lost}, discs["paid_at_channel_unpaid_here"][1:])

	p = page(post("/shop/admin/discrepancies/"+discs["foreign_order"][0]+"/resolve", url.Values{"note": {"sold by the old till"}}))
	assert.Contains(t, p, "resolved")
	assert.Contains(t, p, "sold by the old till")
	assert.Regexp(t, `data-kind="foreign_order" data-status="RESOLVED"`, p)
	p = page(post("/shop/admin/discrepancies/"+discs["foreign_order"][0]+"/resolve", url.Values{"note": {""}}))
	assert.Contains(t, p, "Not resolved: note is required")
	p = page(post("/shop/admin/reconcile", url.Values{"provider": {"wechat"}, "date": {"30/11"}}))
	assert.Contains(t, p, "Reconciliation: date &#34;30/11&#34; must be a day written YYYY-MM-DD")

	// The operator API itself wants the token.
	for _, auth := range []string{"", "Bearer wrong", "s3cret-operator-token"} {
		req, err := http.NewRequest(http.MethodGet, base+"/admin/api/charges", nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, auth)
	}
	req, err := http.NewRequest(http.MethodGet, base+"/admin/api/charges?outTradeNo="+lost, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret-operator-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var list struct {
		Items []struct{ OutTradeNo, Status string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	require.Len(t, list.Items, 1)
	assert.Equal(t, "PAID", list.Items[0].Status)
}
