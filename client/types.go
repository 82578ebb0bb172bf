package client

import (
	"encoding/json"
	"time"

	"github.com/gopaycenter/paycenter/paytype"
)

// Channel is a payment channel code (the document's appendix §3.2).
type Channel string

// The seven channels of the pay center.
const (
	// WxNative is WeChat Pay by scanning a QR code (Native); channel
	// params [WxNativeParams].
	WxNative Channel = "WX_NATIVE"
	// WxApp is WeChat Pay inside a mobile app; channel params [WxAppParams].
	WxApp Channel = "WX_APP"
	// WxJsapi is WeChat Pay inside the WeChat browser (official account,
	// JSAPI); channel params [WxJsapiParams]. It needs the payer's openid.
	WxJsapi Channel = "WX_JSAPI"
	// WxMweb is WeChat Pay from a mobile browser (H5); channel params
	// [WxMwebParams].
	WxMweb Channel = "WX_MWEB"
	// AliWeb is Alipay on a desktop website (page pay); channel params
	// [AliParams].
	AliWeb Channel = "ALI_WEB"
	// AliApp is Alipay inside a mobile app; channel params [AliParams].
	AliApp Channel = "ALI_APP"
	// AliWap is Alipay on a mobile website; channel params [AliParams].
	AliWap Channel = "ALI_WAP"
)

// ChargeStatus is the pay center's state of a charge (extension field
// "status" of the pay result).
type ChargeStatus string

// Charge states.
const (
	// StatusCreated: the charge exists and is not paid.
	StatusCreated ChargeStatus = "CREATED"
	// StatusPaid: the charge is paid.
	StatusPaid ChargeStatus = "PAID"
	// StatusClosed: the charge was closed or has expired unpaid.
	StatusClosed ChargeStatus = "CLOSED"
)

// RefundStatus is the state of a refund.
type RefundStatus string

// Refund states.
const (
	// RefundProcessing: the refund is accepted and not settled yet; ask
	// again with [Client.RefundResult] or wait for the webhook.
	RefundProcessing RefundStatus = "PROCESSING"
	// RefundSuccess: the money was returned.
	RefundSuccess RefundStatus = "SUCCESS"
	// RefundFailed: the channel refused the refund; its amount is released.
	RefundFailed RefundStatus = "FAILED"
)

// ChargeResult is the answer of [Client.CreateCharge]: the channel and the
// parameters the payer's device needs to pay, decoded into the one field
// named for the charge's channel (the others are nil).
type ChargeResult struct {
	// Channel is the channel of the charge.
	Channel Channel
	// ChannelParams is the answer's channelParams object as sent; the
	// typed field of the channel below holds it decoded.
	ChannelParams json.RawMessage
	// WxNative is set for [WxNative]: the QR code's URL.
	WxNative *WxNativeParams
	// WxJsapi is set for [WxJsapi]: the arguments of wx.requestPayment.
	WxJsapi *WxJsapiParams
	// WxApp is set for [WxApp]: the WeChat open SDK's PayReq.
	WxApp *WxAppParams
	// WxMweb is set for [WxMweb]: WeChat's H5 cashier URL.
	WxMweb *WxMwebParams
	// Alipay is set for [AliWeb], [AliWap] and [AliApp]: the signed form
	// or order string.
	Alipay *AliParams
	// OutTradeNo is the merchant's order number (extension; "" if the
	// server does not send it).
	OutTradeNo string
	// TotalFee is the amount in fen (extension; 0 if not sent).
	TotalFee int64
	// ExpireTime is when the charge stops being payable (extension; nil if
	// not sent).
	ExpireTime *time.Time
	// RequestID is the requestId of the answer.
	RequestID int64
}

// decodeParams decodes ChannelParams into the typed field of channel code.
// Codes this package does not know keep only ChannelParams.
func (r *ChargeResult) decodeParams(code Channel) error {
	if len(r.ChannelParams) == 0 || string(r.ChannelParams) == "null" {
		return nil
	}
	switch code {
	case WxNative:
		return decodeInto(r.ChannelParams, &r.WxNative)
	case WxJsapi:
		return decodeInto(r.ChannelParams, &r.WxJsapi)
	case WxApp:
		return decodeInto(r.ChannelParams, &r.WxApp)
	case WxMweb:
		return decodeInto(r.ChannelParams, &r.WxMweb)
	case AliWeb, AliWap, AliApp:
		return decodeInto(r.ChannelParams, &r.Alipay)
	}
	return nil
}

// decodeInto decodes raw into a new T and sets *field to it; on error the
// field stays nil.
func decodeInto[T any](raw json.RawMessage, field **T) error {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return err
	}
	*field = v
	return nil
}

// WxNativeParams are the channel params of [WxNative].
type WxNativeParams struct {
	// CodeURL is the weixin:// URL to show as a QR code.
	CodeURL string `json:"codeUrl"`
}

// WxJsapiParams are the channel params of [WxJsapi], ready for
// wx.requestPayment / WeixinJSBridge "getBrandWCPayRequest". Field names
// follow the document's JSON examples (its table's "noncestr"/"timestamp"
// spellings decode too: JSON field matching is case-insensitive).
type WxJsapiParams struct {
	AppID     string `json:"appId"`
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	// Package is "prepay_id=...".
	Package  string `json:"package"`
	SignType string `json:"signType"`
	PaySign  string `json:"paySign"`
}

// WxAppParams are the channel params of [WxApp], for the WeChat open SDK's
// PayReq.
type WxAppParams struct {
	AppID     string `json:"appId"`
	PartnerID string `json:"partnerid"`
	PrepayID  string `json:"prepayid"`
	// Package is "Sign=WXPay".
	Package   string `json:"package"`
	NonceStr  string `json:"nonceStr"`
	TimeStamp string `json:"timeStamp"`
	Sign      string `json:"sign"`
}

// WxMwebParams are the channel params of [WxMweb].
type WxMwebParams struct {
	// MwebURL is WeChat's H5 cashier URL (valid 5 minutes); redirect the
	// payer's browser to it.
	MwebURL string `json:"mwebUrl"`
}

// AliParams are the channel params of [AliWeb], [AliWap] and [AliApp].
type AliParams struct {
	// Body is, for ALI_WEB and ALI_WAP, an auto-submitting HTML form to
	// the Alipay gateway; for ALI_APP, the signed order string for the
	// Alipay app SDK.
	Body string `json:"body"`
	// URL is the same request as a signed GET URL (extension; ALI_WEB and
	// ALI_WAP only, "" otherwise).
	URL string `json:"url,omitempty"`
}

// ChargeParams are the parameters of [Client.CreateCharge] (SPEC 2.3),
// with the rules of the server's [paytype.CreateChargeParams]. Optional
// fields left at their zero value are not sent, so the pay center applies
// its defaults; a zero Created is the client's clock. (Unlike
// [RefundParams], it is not the server's type: Created, required there, is
// filled in here, and Channel is this package's [Channel].)
type ChargeParams struct {
	// Channel is required.
	Channel Channel
	// OutTradeNo is the merchant's order number, 8–32 letters/digits.
	OutTradeNo string
	// FeeType is the currency; optional, only "CNY" is accepted.
	FeeType string
	// TotalFee is the amount in fen (1 yuan = 100).
	TotalFee int64
	// ClientIP is the payer's IP address (for WX_NATIVE, the server's).
	ClientIP string
	// Subject is the product title (≤ 128 characters).
	Subject string
	// Body is the product description (≤ 128 characters).
	Body string
	// Created is the order time in ms since the epoch; 0 means now (the
	// client's clock).
	Created int64
	// TimeExpire is the validity of the charge in seconds; 0 leaves the
	// server's default (86400).
	TimeExpire int
	// Analysis is optional analysis data, JSON object text.
	Analysis string
	// Attach is optional merchant data (≤ 127 bytes), returned as is by
	// the pay result and webhooks.
	Attach string
	// Description is an optional note on the order.
	Description string
	// ReturnURL is the optional page the payer returns to after paying.
	ReturnURL string
	// OpenID is the payer's WeChat openid ("wx.openid"); required for
	// WX_JSAPI.
	OpenID string
}

// RefundParams are the parameters of [Client.Refund], the server's own
// (see [paytype.RefundParams] for each field's rule): OutTradeNo,
// OutRefundNo and RefundFee are required, RefundDesc is optional and not
// sent when empty.
type RefundParams = paytype.RefundParams

// PayResult is the answer of [Client.GetPayResult].
type PayResult struct {
	Channel    Channel
	OutTradeNo string
	// HasPay reports whether the charge is paid.
	HasPay bool
	// PayTime is the channel's payment time, nil when unpaid.
	PayTime *time.Time
	// ReturnURL is the return URL of the charge, nil when unpaid (or none).
	ReturnURL *string
	// Attach is the merchant data given at creation.
	Attach string
	// Status is the charge's state (extension; "" if not sent).
	Status ChargeStatus
	// TotalFee is the amount in fen (extension).
	TotalFee int64
	// RefundedFee is the amount refunded so far, in fen (extension).
	RefundedFee int64
	// TransactionID is the channel's trade number (extension).
	TransactionID string
	// RequestID is the requestId of the answer.
	RequestID int64
}

type payResultJSON struct {
	Channel       Channel      `json:"channel"`
	OutTradeNo    string       `json:"outTradeNo"`
	HasPay        bool         `json:"hasPay"`
	PayTime       *int64       `json:"payTime"`
	ReturnURL     *string      `json:"returnUrl"`
	Attach        string       `json:"attach"`
	Status        ChargeStatus `json:"status"`
	TotalFee      int64        `json:"totalFee"`
	RefundedFee   int64        `json:"refundedFee"`
	TransactionID string       `json:"transactionId"`
}

// UnmarshalJSON decodes the wire form, where payTime is ms since the epoch
// or null.
func (p *PayResult) UnmarshalJSON(b []byte) error {
	var w payResultJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = PayResult{
		Channel:       w.Channel,
		OutTradeNo:    w.OutTradeNo,
		HasPay:        w.HasPay,
		PayTime:       msTime(w.PayTime),
		ReturnURL:     w.ReturnURL,
		Attach:        w.Attach,
		Status:        w.Status,
		TotalFee:      w.TotalFee,
		RefundedFee:   w.RefundedFee,
		TransactionID: w.TransactionID,
		RequestID:     p.RequestID,
	}
	return nil
}

// RefundResult is the answer of [Client.Refund] and [Client.RefundResult].
type RefundResult struct {
	OutTradeNo  string
	OutRefundNo string
	// RefundFee is the refund amount in fen.
	RefundFee int64
	// Status is PROCESSING, SUCCESS or FAILED; "" when the server answered
	// only {requestId} (the document's refund answer).
	Status RefundStatus
	// RefundTime is when the refund succeeded; nil otherwise (and always
	// nil for [Client.Refund]).
	RefundTime *time.Time
	// RequestID is the requestId of the answer.
	RequestID int64
}

type refundResultJSON struct {
	OutTradeNo  string       `json:"outTradeNo"`
	OutRefundNo string       `json:"outRefundNo"`
	RefundFee   int64        `json:"refundFee"`
	Status      RefundStatus `json:"status"`
	RefundTime  *int64       `json:"refundTime"`
}

// UnmarshalJSON decodes the wire form, where refundTime is ms since the
// epoch or null.
func (r *RefundResult) UnmarshalJSON(b []byte) error {
	var w refundResultJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = RefundResult{
		OutTradeNo:  w.OutTradeNo,
		OutRefundNo: w.OutRefundNo,
		RefundFee:   w.RefundFee,
		Status:      w.Status,
		RefundTime:  msTime(w.RefundTime),
		RequestID:   r.RequestID,
	}
	return nil
}

func msTime(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := time.UnixMilli(*ms)
	return &t
}
