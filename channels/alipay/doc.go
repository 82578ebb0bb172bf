// Package alipay is the Alipay channel of the pay center: ALI_WEB (desktop
// page pay), ALI_WAP (mobile website pay) and ALI_APP (in-app pay), plus
// trade query, close, refund, refund query and asynchronous notifications.
// It wraps github.com/smartwalle/alipay/v3 and implements
// [channels.Channel], [channels.Querier], [channels.Closer],
// [channels.Refunder] and [channels.RefundQuerier].
//
// # Quick start
//
//	ch, err := alipay.New(alipay.Config{
//		AppID:               "2016112103063721",
//		PrivateKeyFile:      "/etc/pay/alipay_app_private_key.pem",
//		AlipayPublicKeyFile: "/etc/pay/alipay_public_key.pem",
//		Production:          true,
//	})
//	if err != nil {
//		log.Fatal(err) // names the bad field, never prints key material
//	}
//	pc, err := paycenter.New(paycenter.Config{DB: db, PublicURL: "https://shop.example.com",
//		Channels: []channels.Channel{ch}})
//
// Certificate mode replaces AlipayPublicKey with AppCertPublicKey,
// AlipayRootCert and AlipayCertPublicKey (all three, each inline or as a
// ...File path).
//
// # Behaviour
//
//   - Create does no network I/O: it signs the request. ALI_WEB and ALI_WAP
//     return {"body": an auto-submitting HTML form POSTing every signed
//     parameter to the gateway, "url": the same request as a signed GET
//     URL}; ALI_APP returns {"body": the signed order string}. notify_url is
//     CallbackURL + "/web/paynotify" (or "/wap/paynotify", "/app/paynotify").
//   - Request timestamps, time_expire and every time read back are Beijing
//     time (UTC+8), whatever the host's zone.
//   - Money is int64 fen; Alipay's yuan strings are formatted and parsed
//     exactly by [FormatAmount] and [ParseAmount].
//   - The SDK answers err == nil for signed business errors; the adapter
//     always checks the code. A signed refusal is a *channels.Error; a
//     timeout, network error, "system busy" or an unsigned/unreadable answer
//     is a plain error meaning "outcome unknown" (retry with the same
//     numbers).
//   - Errors carry Alipay's code and message, never response bodies or keys.
//   - Alipay's out_request_no is the merchant's outRefundNo: applications that
//     share one Alipay account share that number space.
//
// Package alipaytest provides a fake Alipay gateway for tests.
package alipay
