// Package client is the Go SDK for merchants of a paycenter pay center: the
// Go counterpart of the pay center document's Java PayCenterClient(key,
// secret). It signs and sends requests to the pay center HTTP API, decodes
// the answers into typed values, and verifies the webhooks the pay center
// sends. It depends on the standard library and on this module's leaf
// packages (paytype and what it names), never on Gin or GORM.
//
// # Quick start
//
//	c := client.New("app-key", "app-secret",
//		client.WithBaseURL("https://shop.example.com/pay")) // scheme://host[:port] + BasePath
//
//	ch, err := c.CreateCharge(ctx, client.ChargeParams{
//		Channel:    client.WxNative,
//		OutTradeNo: "order20240001",
//		TotalFee:   100, // fen
//		ClientIP:   "127.0.0.1",
//		Subject:    "Gift pack",
//		Body:       "1 x gift pack",
//		TimeExpire: 7200, // seconds
//	})
//	if err != nil {
//		var pe *client.Error
//		if errors.As(err, &pe) {
//			log.Printf("pay center refused: %d %s (requestId %d)", pe.Code, pe.Msg, pe.RequestID)
//		}
//		return err
//	}
//	showQRCode(ch.WxNative.CodeURL)
//
//	res, err := c.GetPayResult(ctx, client.WxNative, "order20240001")
//	if err == nil && res.HasPay { ... }
//
//	_, err = c.Refund(ctx, client.RefundParams{
//		OutTradeNo: "order20240001", OutRefundNo: "refund20240001", RefundFee: 100,
//		RefundDesc: "returned",
//	})
//
// The methods are [Client.CreateCharge], [Client.GetPayResult],
// [Client.Refund], [Client.RefundResult] and [Client.Close]; each answers a
// typed result (Close only an error) or an [*Error].
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
// # Channel params
//
// [Client.CreateCharge] decodes the answer's channelParams into the field
// of [ChargeResult] named for the channel: WxNative ([WxNativeParams]),
// WxJsapi, WxApp, WxMweb, or Alipay ([AliParams]) for the three Alipay
// codes. ChargeResult.ChannelParams keeps the object as sent.
//
// # Document-shaped helpers
//
// WxNativePay, WxAppPay, WxJsapiPay, WxMwebPay, AliWebPay, AliAppPay and
// AliWapPay are thin wrappers over [Client.CreateCharge], shaped like the
// document's Java client: they take its positional arguments in the order
// of its examples and return its PayInfo<T> as [PayInfo]:
//
//	(ctx, outTradeNo, totalFee, clientIp, subject, body, created, returnUrl,
//	 timeExpire, attach, analysis, description)   // WxJsapiPay: + openid
//
// The examples read, e.g., wxNativePay("test903289329", 100, "127.0.0.1",
// "超级大礼包", "xxxxx", System.currentTimeMillis(), "http://www.163.com",
// 7200, "", "", ""), which fixes every position up to timeExpire; the three
// trailing strings are all "" there, so their order is this package's
// choice (attach, analysis, description). Prefer [ChargeParams], whose
// named fields cannot be swapped. The Java client's refund(outTradeNo,
// outRefundNo, refundFee) is [Client.Refund] with a [RefundParams].
//
// # Retries
//
// The client does not retry. Charge creation is idempotent on outTradeNo
// and refunds on outRefundNo, so a caller may safely repeat a request with
// the same numbers and parameters after a timeout or a [paytype.CodeInProgress]
// answer.
//
// # Errors
//
// The pay center answers HTTP 200 with {"requestId", "errorCode",
// "errorMsg"} on failure; the client returns it as an [*Error] (the
// server's [paytype.Error]) whose Code is one of paytype's Code constants,
// shared with the server: errors.Is(err, paytype.CodeOverLimit). An answer
// that is not HTTP 200 or not a JSON envelope is also an [*Error], with
// Code 0 and HTTPStatus set.
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
