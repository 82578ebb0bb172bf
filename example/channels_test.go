package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/client"
)

// channelsConfig writes a configuration with the alipay: and wechat:
// blocks pointing at the fakes, keys as files, and the database block.
func channelsConfig(t *testing.T, ali *alipaytest.Fake, wx *wechattest.Server, database string) string {
	t.Helper()
	wxc := wx.ChannelConfig(wechattest.PublicKeyMode)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	return file("config.yaml", fmt.Sprintf(`addr: 127.0.0.1:0
%sapps:
  - id: "11"
    key: e3327bcd-2681-4a2a-a321-c75ekl433ff81
    secret: 52ewc-c675-4944-af44-f4fdsww332d88
alipay:
  appID: %q
  privateKeyFile: %q
  alipayPublicKeyFile: %q
  production: false
  gatewayURL: %q
wechat:
  mchID: %q
  appID: %q
  mchCertSerial: %q
  mchPrivateKeyFile: %q
  apiV3Key: %q
  platformPublicKeyID: %q
  platformPublicKeyFile: %q
  apiBaseURL: %q
`, database, ali.Keys.AppID, file("app.pem", ali.Keys.AppPrivateKey), file("alipay.pem", ali.Keys.AlipayPublicKey), ali.URL,
		wxc.MchID, wxc.AppID, wxc.MchCertSerial, file("apiclient_key.pem", wxc.MchPrivateKey), wxc.APIv3Key,
		wxc.PlatformPublicKeyID, file("pub_key.pem", wxc.PlatformPublicKey), wxc.APIBaseURL))
}

// TestConfiguredChannels runs the example with the alipay: and wechat:
// blocks of the documented config pointing at local fake gateways, keys
// given as files, exactly as an operator would, and pays on both.
func TestConfiguredChannels(t *testing.T) {
	ali := alipaytest.New(t, alipaytest.NewKeys(t, alipaytest.PublicKeyMode))
	wx := wechattest.NewServer(t)
	cfg := channelsConfig(t, ali, wx, fmt.Sprintf("database: {driver: sqlite, dsn: %q}\n", filepath.Join(t.TempDir(), "pc.db")))
	addr, banner := start(t, "-config", cfg)
	assert.NotContains(t, banner, "sandbox mode", "real credentials turn the sandbox off")

	c := client.New("e3327bcd-2681-4a2a-a321-c75ekl433ff81", "52ewc-c675-4944-af44-f4fdsww332d88", client.WithBaseURL("http://"+addr))
	ctx := context.Background()

	// Alipay: the form goes to the fake gateway; the buyer pays; the fake
	// posts its signed notification to the notify_url we gave it.
	info, err := c.AliWebPay(ctx, "cfgali000001", 1999, "127.0.0.1", "tea", "tea", time.Now().UnixMilli(), "", 0, "", "", "")
	require.NoError(t, err)
	ali.MustSubmit(t, channels.Params{"body": info.ChannelParams.Body, "url": info.ChannelParams.URL})
	require.NoError(t, ali.Pay("cfgali000001"))
	target := ali.NotifyURL("cfgali000001")
	assert.Equal(t, "http://"+addr+"/callbacks/11/alipay/web/paynotify", target)
	status, body, err := ali.Post(ctx, target, ali.PaymentNotification(t, "cfgali000001"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "success", body)
	pr, err := c.GetPayResult(ctx, client.AliWeb, "cfgali000001")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)

	// WeChat Pay: Native code URL from the fake; the payment notification is
	// encrypted with the APIv3 key and signed with the platform key.
	wxInfo, err := c.WxNativePay(ctx, "cfgwx0000001", 500, "127.0.0.1", "mug", "mug", time.Now().UnixMilli(), "", 0, "", "", "")
	require.NoError(t, err)
	assert.NotEmpty(t, wxInfo.ChannelParams.CodeURL)
	o, err := wx.Pay("cfgwx0000001")
	require.NoError(t, err)
	assert.Equal(t, "http://"+addr+"/callbacks/11/wechat/paynotify", o.NotifyURL)
	resp, err := http.DefaultClient.Do(wx.NotificationRequest(o.NotifyURL, wx.PaymentNotification("cfgwx0000001", wechattest.PublicKeyMode)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	pr, err = c.GetPayResult(ctx, client.WxNative, "cfgwx0000001")
	require.NoError(t, err)
	assert.True(t, pr.HasPay)

	// Refunds reach both channels.
	rr, err := c.Refund(ctx, client.RefundParams{OutTradeNo: "cfgali000001", OutRefundNo: "cfgalir1", RefundFee: 999})
	require.NoError(t, err)
	assert.Equal(t, client.RefundSuccess, rr.Status)
	rr, err = c.Refund(ctx, client.RefundParams{OutTradeNo: "cfgwx0000001", OutRefundNo: "cfgwxr1", RefundFee: 100})
	require.NoError(t, err)
	raw, _ := json.Marshal(rr)
	assert.Contains(t, []client.RefundStatus{client.RefundProcessing, client.RefundSuccess}, rr.Status, "%s", raw)
}
