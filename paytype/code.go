package paytype

import "strconv"

// Code is an errorCode of the pay center API: the document's 10001–10009,
// 20001, 20003, 3000x (WeChat Pay) and 3010x (Alipay), and the extensions
// 20004–20006. A Code is also an error, so that errors.Is(err, code)
// reports whether err is an [*Error] with that code.
type Code int

// The error codes. The message of an [Error] says which parameter and rule,
// or which order, it is about.
const (
	// CodeInternal (10001): an internal error; the cause is logged by the
	// server, never returned. Retry.
	CodeInternal Code = 10001
	// CodeMethod (10002): wrong request method; creates and refunds are
	// POST, queries GET or POST.
	CodeMethod Code = 10002
	// CodeInvalidKey (10003): the key is not the key of any app.
	CodeInvalidKey Code = 10003
	// CodeBadSign (10004): the signature does not match, or the app accepts
	// only signature v2.
	CodeBadSign Code = 10004
	// CodeExpired (10005): the request expired (timestamp + expires is past,
	// or the timestamp is more than 5 minutes ahead), or its v2 nonce was
	// used before.
	CodeExpired Code = 10005
	// CodeMissing (10006): a required parameter is missing.
	CodeMissing Code = 10006
	// CodeInvalid (10007): a parameter is invalid (or the body is not a
	// UTF-8 form).
	CodeInvalid Code = 10007
	// CodeNotFound (10008): no such charge (on that channel) or refund.
	CodeNotFound Code = 10008
	// CodeOverLimit (10009): the refund exceeds the refundable balance.
	CodeOverLimit Code = 10009
	// CodeNoChannel (20001): the channel is not configured for the app.
	CodeNoChannel Code = 20001
	// CodeExists (20003): the outTradeNo or outRefundNo is already used with
	// other parameters (or by another app on the same channel account), or
	// the charge is already paid or closed.
	CodeExists Code = 20003
	// CodeInProgress (20004, extension): another request with the same
	// outTradeNo or outRefundNo is being processed; retry with the same
	// parameters.
	CodeInProgress Code = 20004
	// CodeNotPaid (20005, extension): the charge is not paid (a refund of
	// an unpaid or closed-unpaid charge).
	CodeNotPaid Code = 20005
	// CodeClosed (20006, extension): the charge expired unpaid (a create
	// resubmitted after its expiry); use a new outTradeNo.
	CodeClosed Code = 20006
	// CodeWechatOrder (30001): WeChat Pay refused or did not answer the order.
	CodeWechatOrder Code = 30001
	// CodeWechatQuery (30002): a WeChat Pay query or close failed.
	CodeWechatQuery Code = 30002
	// CodeWechatRefund (30003): WeChat Pay refused the refund (it is FAILED,
	// its amount released).
	CodeWechatRefund Code = 30003
	// CodeAlipayOrder (30101): Alipay refused or did not answer the order.
	CodeAlipayOrder Code = 30101
	// CodeAlipayQuery (30102): an Alipay query or close failed.
	CodeAlipayQuery Code = 30102
	// CodeAlipayRefund (30103): Alipay refused the refund (it is FAILED, its
	// amount released).
	CodeAlipayRefund Code = 30103
)

// codeText is the meaning of each code, as the document's appendix says it.
var codeText = map[Code]string{
	CodeInternal: "internal error", CodeMethod: "wrong request method", CodeInvalidKey: "invalid app key",
	CodeBadSign: "signature check failed", CodeExpired: "request expired", CodeMissing: "required parameter missing",
	CodeInvalid: "invalid parameter", CodeNotFound: "resource does not exist", CodeOverLimit: "over the threshold",
	CodeNoChannel: "channel not supported", CodeExists: "order already exists", CodeInProgress: "being processed, retry",
	CodeNotPaid: "order not paid", CodeClosed: "order closed or expired",
	CodeWechatOrder: "WeChat Pay order failed", CodeWechatQuery: "WeChat Pay query failed", CodeWechatRefund: "WeChat Pay refund failed",
	CodeAlipayOrder: "Alipay order failed", CodeAlipayQuery: "Alipay query failed", CodeAlipayRefund: "Alipay refund failed",
}

// String is the number and its meaning, e.g. "10009 over the threshold".
func (c Code) String() string {
	if t, ok := codeText[c]; ok {
		return strconv.Itoa(int(c)) + " " + t
	}
	return strconv.Itoa(int(c))
}

// Error makes a Code usable as the target of errors.Is.
func (c Code) Error() string { return c.String() }

// Channel returns the code of provider ("wechat" or "alipay") for the
// WeChat Pay code c (3000x): the Alipay codes are WeChat's + 100.
func (c Code) Channel(provider string) Code {
	if provider == "alipay" && c >= CodeWechatOrder && c <= CodeWechatRefund {
		return c + 100
	}
	return c
}
