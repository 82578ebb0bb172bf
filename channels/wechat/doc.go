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
//
// # Daily bill
//
// [Channel.DownloadBill] implements [channels.BillDownloader]:
//
//   - GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL through the
//     SDK's client, whose signature check of the answer stays on.
//     NO_STATEMENT_EXIST and STATEMENT_CREATING are channels.ErrBillNotReady
//     (WeChat Pay also answers NO_STATEMENT_EXIST for a day without business).
//   - The answer's download_url is fetched with a request signed by the
//     merchant key, by a second SDK client with the same signer and no
//     response validator: WeChat Pay does not sign files. It goes through
//     Config.HTTPClient (and APIBaseURL's redirect), allowed at least
//     channels.BillTimeout. The file is hashed while it is written to a
//     temporary file, and its SHA1 must equal the hash_value of the signed
//     answer before anything in it is read. Bills are asked for uncompressed
//     (no tar_type), so the hash covers exactly the bytes received.
//   - The file is UTF-8 (a leading BOM is ignored), lines end in CRLF or LF.
//     The first line is the header; columns are found by name, so added or
//     reordered columns do no harm, but those read must be there. Every
//     field of a data line starts with a backtick, so fields are split on
//     ",`": a comma inside 商品名称 or 商户数据包 stays in its field. Fields
//     are trimmed; a row whose field count differs from the header's is
//     refused. The line starting with 总交易单数 is the summary header, the
//     next line the summary; anything after it refuses the bill.
//   - 交易状态 REFUND is a refund: Amount 申请退款金额, OutRefundNo
//     商户退款单号, RefundID 微信退款单号, Status 退款状态 (SUCCESS,
//     PROCESSING, ...). Any other row is a payment: Amount 订单金额, Status
//     交易状态 (SUCCESS; REVOKED took no money). Time is 交易时间 in
//     Beijing time; for a refund WeChat Pay does not document whether that
//     is when it was asked for or when it succeeded (the fake writes when it
//     was asked for). AppID 公众账号ID, MchID 商户号, TradeType 交易类型,
//     Attach 商户数据包, ProductName 商品名称. Money is two-decimal yuan,
//     parsed exactly; fees (手续费, five decimals) are not read.
//   - The summary: Rows 总交易单数, PaymentAmount 订单总金额, RefundAmount
//     申请退款总金额 (the columns the rows' amounts come from), NetAmount
//     their difference; counts per kind are not stated.
//   - A hash that differs, a row that does not parse or a missing summary
//     refuses the whole bill (channels.ErrBillInvalid) before any row is
//     returned: the bill is read through once before the reader is handed
//     out. Package wechattest serves real-format bills built from its orders
//     and refunds.
package wechat
