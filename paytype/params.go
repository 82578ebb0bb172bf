package paytype

import "github.com/gopaycenter/paycenter/channels"

// CreateChargeParams are the parameters of a create (POST /api/charges). A
// zero value of a required field means "missing" (CodeMissing); a value
// breaking its rule is CodeInvalid, the message naming the parameter.
type CreateChargeParams struct {
	// Channel is one of the seven channel codes (WX_NATIVE, ...).
	// Required; a code not configured for the app is CodeNoChannel.
	Channel channels.Code
	// OutTradeNo is the merchant's order number: 8 to 32 letters or
	// digits, unique per app and per channel account. Required.
	OutTradeNo string
	// FeeType is the currency: "" or "CNY".
	FeeType string
	// TotalFee is the amount in fen, 1 … 100000000000. Required.
	TotalFee int64
	// ClientIP is the buyer's IPv4 or IPv6 address. Required.
	ClientIP string
	// Subject is the order's title: at most 128 characters, no control
	// characters. Required.
	Subject string
	// Body describes the order: at most 128 characters. Required.
	Body string
	// Created is the merchant's order time in milliseconds since the epoch
	// (a value below 10^12 is refused as seconds). Required.
	Created int64
	// TimeExpire is how long the charge can be paid, in seconds, 60 …
	// 1296000, counted from when the pay center first accepts it; 0 means
	// 86400.
	TimeExpire int64
	// Analysis is a JSON object of at most 4096 bytes, stored as given.
	Analysis string
	// Attach is the merchant's own data, at most 127 bytes of text, given
	// back in pay-result and webhooks.
	Attach string
	// Description is at most 256 characters.
	Description string
	// ReturnURL is where the buyer's browser goes after paying: an absolute
	// http(s) URL whose host the app allows.
	ReturnURL string
	// OpenID is the payer's WeChat openid (wx.openid): required for
	// WX_JSAPI, at most 128 characters.
	OpenID string
}

// RefundParams are the parameters of a refund (POST /api/refunds).
type RefundParams struct {
	// OutTradeNo is the charge to refund. Required.
	OutTradeNo string
	// OutRefundNo is the merchant's refund number: 1 to 64 letters or
	// digits, unique per app and per channel account; resubmitting it with
	// the same parameters is the same refund. Required.
	OutRefundNo string
	// RefundFee is the amount in fen, > 0; the charge's succeeded and
	// pending refunds plus this one never exceed its total (CodeOverLimit).
	// Required.
	RefundFee int64
	// RefundDesc is the reason, at most 80 characters.
	RefundDesc string
}
