// Package client is the Go SDK for merchants of a paycenter pay center: the
// Go counterpart of the pay center document's Java PayCenterClient(key,
// secret). It signs and sends requests to the pay center HTTP API, decodes
// the answers into typed values, and verifies the webhooks the pay center
// sends. It depends on the standard library only.
//
// # Quick start
//
//	c := client.New("app-key", "app-secret",
//		client.WithBaseURL("https://shop.example.com/pay")) // scheme://host[:port] + BasePath
//
//	info, err := c.WxNativePay(ctx, "order20240001", 100, "127.0.0.1",
//		"Gift pack", "1 x gift pack", 0 /* created: now */, "", 7200, "", "", "")
//	if err != nil {
//		var pe *client.Error
//		if errors.As(err, &pe) {
//			log.Printf("pay center refused: %d %s (requestId %d)", pe.Code, pe.Msg, pe.RequestID)
//		}
//		return err
//	}
//	showQRCode(info.ChannelParams.CodeURL)
//
//	res, err := c.GetPayResult(ctx, client.WxNative, "order20240001")
//	if err == nil && res.HasPay { ... }
//
//	_, err = c.Refund(ctx, "order20240001", "refund20240001", 100,
//		client.WithRefundDesc("returned"))
//
// # Money and times
//
// Amounts are int64 fen (1 yuan = 100 fen). Times on the wire are ms since
// the epoch; results expose them as *time.Time (nil when the pay center
// answers null).
//
// # Requests and signatures
//
// Charge creation, refunds and closes are POST with an
// application/x-www-form-urlencoded UTF-8 body; queries are GET with query
// parameters. The common parameters key, timestamp (ms) and sign — and for
// signature v2 also version ("v2") and nonce — travel as HTTP headers, as in
// the document's curl examples, and are part of the signed parameters.
//
// The signature rule (SPEC 2.1, document §3.3) is exposed as [BaseString],
// [JavaURLEncode] and [Sign], so other code can reproduce it: v1 (the
// default) is hex(MD5(urlencode(METHOD + path + sorted k=v + secret))); v2
// ([WithSignVersion](2)) is hex(HMAC-SHA256(secret, urlencode(METHOD + path
// + sorted k=v))) with a random nonce per request. The path includes the
// base path of the mount, taken from [WithBaseURL].
//
// # Charge methods
//
// WxNativePay, WxAppPay, WxJsapiPay, WxMwebPay, AliWebPay, AliAppPay and
// AliWapPay mirror the Java client's methods and take their arguments in
// the order of the document's Java examples:
//
//	(ctx, outTradeNo, totalFee, clientIp, subject, body, created, returnUrl,
//	 timeExpire, attach, analysis, description)   // WxJsapiPay: + openid
//
// The examples read, e.g., wxNativePay("test903289329", 100, "127.0.0.1",
// "超级大礼包", "xxxxx", System.currentTimeMillis(), "http://www.163.com",
// 7200, "", "", ""), which fixes every position up to timeExpire; the three
// trailing strings are all "" there, so their order is this package's
// choice (attach, analysis, description). [Client.CreateCharge] takes named
// fields ([ChargeParams]) and is the safer call when in doubt. Optional
// parameters left empty (or 0) are not sent at all, so the pay center
// applies its defaults; created 0 means now.
//
// The client does not retry. Charge creation is idempotent on outTradeNo
// and refunds on outRefundNo, so a caller may safely repeat a request with
// the same numbers and parameters after a timeout or a [paytype.CodeInProgress]
// answer.
//
// # Errors
//
// The pay center answers HTTP 200 with {"requestId", "errorCode",
// "errorMsg"} on failure; the client returns it as an [*Error] whose Code is
// one of the Code... constants. An answer that is not HTTP 200 or not a
// JSON envelope is also an [*Error], with Code 0 and HTTPStatus set.
// Transport failures and context cancellation are returned wrapped
// (errors.Is(err, context.Canceled) works). Errors never contain the
// secret.
//
// # Webhooks
//
// The pay center POSTs events ({"id","type","created","data"}) to the
// application's NotifyURL with headers key, timestamp (ms) and sign =
// hex(HMAC-SHA256(secret, timestamp + "." + body)). Verify and decode them
// with [ParseWebhook] (or [VerifyWebhook]) on the raw body; test handlers
// with payloads from [GenerateTestSignedWebhook]. Events are delivered at
// least once: drop an [Event.ID] you have already handled.
package client
