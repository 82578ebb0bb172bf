// Package wechat is the WeChat Pay (APIv3) channel of the pay center: it
// serves WX_NATIVE, WX_JSAPI, WX_APP and WX_MWEB by wrapping
// github.com/wechatpay-apiv3/wechatpay-go (v0.2.21).
//
// # Quick start
//
//	ch, err := wechat.New(wechat.Config{
//		MchID:                 "1230000109",
//		AppID:                 "wx1f343894d9cce45d",
//		MchCertSerial:         "3775B6A45ACD588826D15E583A95F5DD********",
//		MchPrivateKeyFile:     "/etc/paycenter/apiclient_key.pem",
//		APIv3Key:              os.Getenv("WECHAT_APIV3_KEY"), // 32 bytes
//		PlatformPublicKeyID:   "PUB_KEY_ID_0112340000000000000000000000000000",
//		PlatformPublicKeyFile: "/etc/paycenter/pub_key.pem",
//	})
//	if err != nil {
//		log.Fatal(err) // names the bad key, never prints key material
//	}
//	pc, err := paycenter.New(paycenter.Config{Channels: []channels.Channel{ch}, ...})
//
// New does no network I/O. Responses and notifications are verified either
// with the WeChat Pay public key (public-key mode) or with platform
// certificates given in the config (certificate mode; they are never
// downloaded). The SDK's response verification is always on.
//
// # Behaviour
//
//   - notify_url is CallbackURL + "/paynotify" for payments and
//     CallbackURL + "/refundnotify" for refunds; [Channel.ParseNotification]
//     accepts exactly those two paths, and [Channel.Ack] answers 204 (or 500
//     with {"code":"FAIL",...} so that WeChat Pay retries).
//   - time_expire is sent in +08:00; amounts are int64 fen both ways.
//   - Query and close use one implementation for the four channel codes
//     (WeChat keys orders on out_trade_no). An order WeChat Pay does not know
//     is pending (query) or nothing to close (close).
//   - Refunds are asynchronous: the usual answer is PROCESSING. A refusal
//     (4xx with a business code) is a *channels.Error; a timeout, network
//     failure, 5xx, SYSTEM_ERROR or an unverifiable answer is a plain error
//     meaning "outcome unknown": retry with the same out_refund_no.
//   - Errors carry WeChat Pay's code and message only, never raw bodies,
//     request dumps or keys.
//   - APIBaseURL redirects the SDK (whose host is a constant) through the HTTP
//     transport, for proxies and local fakes. Package wechattest is such a
//     fake, for tests.
//
// The out_trade_no and out_refund_no sent to WeChat Pay are the merchant's
// own outTradeNo and outRefundNo, so apps sharing one WeChat Pay merchant
// account share those number spaces.
package wechat
