// Package alipay is the Alipay channel of the pay center: ALI_WEB (desktop
// page pay), ALI_WAP (mobile website pay) and ALI_APP (in-app pay), plus
// trade query, close, refund, refund query and asynchronous notifications.
// It wraps github.com/smartwalle/alipay/v3 and implements
// [channels.Channel], [channels.Querier], [channels.Closer],
// [channels.Refunder], [channels.RefundQuerier] and
// [channels.BillDownloader].
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
// # Daily bill
//
// [Channel.DownloadBill] asks alipay.data.dataservice.bill.downloadurl.query
// (bill_type=trade, bill_date YYYY-MM-DD) where the day's trade bill is and
// downloads it at once (the link lasts 30 seconds) with Config.HTTPClient,
// allowed at least channels.BillTimeout, into a temporary file. How the bill
// is read:
//
//   - isp.bill_not_exist (BILL_NOT_EXIST in Alipay's list) is
//     channels.ErrBillNotReady. Alipay also gives it for a day without
//     business; other refusals (isv.invalid_arguments for a day it does not
//     serve) are a *channels.Error.
//   - The bill is a zip whose entry names are GBK, without the zip's UTF-8
//     flag. The detail file is the .csv entry whose name has 业务明细 and not
//     汇总 (…_业务明细.csv), the summary file the one with 汇总
//     (…_业务明细(汇总).csv); both must be there, once. Both are GBK,
//     decoded with golang.org/x/text's simplifiedchinese.GBK.
//   - Lines starting with # are comments. "#账号：[2088…]" before the
//     header gives BillRow.MchID; the bill names no app, so AppID is "".
//     The first other line is the header: columns are found by name, so
//     added or reordered columns do no harm, but those read must be there.
//   - Fields are split on commas, honouring CSV quotes within a line, and
//     trimmed (Alipay pads numbers with a tab). A row whose field count
//     differs from the header's is refused.
//   - 业务类型 交易 is a payment and 退款 a refund; any other refuses the
//     bill. Amount is |订单金额（元）| (refunds are written negative), parsed
//     exactly by [ParseAmount]; OutRefundNo is 退款批次号/请求号 (a refund
//     made in the console carries Alipay's own number); Time is 完成时间
//     (创建时间 if empty) in Beijing time; Status is 业务类型; Attach is
//     备注, which Alipay does not document as echoing a particular trade
//     field (the fake writes passback_params there).
//   - The summary comes from the summary file's 合计 row: Payments
//     交易订单总笔数, Refunds 退款订单总笔数, NetAmount 订单金额（元）
//     (payments less refunds), Rows their sum. PaymentAmount and
//     RefundAmount are not stated: the detail file's closing comments state
//     商家实收, another measure, and are not read.
//   - A zip that does not open, a checksum that fails, a row that does not
//     parse or a summary without its 合计 row refuses the whole bill
//     (channels.ErrBillInvalid) before any row is returned: the bill is read
//     through once before the reader is handed out.
//
// Package alipaytest provides a fake Alipay gateway for tests; it serves
// real-format bills built from its trades and refunds.
package alipay
