package client

import (
	"context"
	"time"
)

// This file holds the document-shaped helpers: one method per channel,
// taking the Java client's positional arguments in its order and returning
// its PayInfo<T>. Each is a thin wrapper over [Client.CreateCharge], which
// is the API; they exist so that code written after the document's Java
// examples translates line by line.

// PayInfo is the answer of the document-shaped helpers (WxNativePay, ...),
// shaped like the Java client's PayInfo<T>: the channel and its parameters,
// typed by the helper (T is [WxNativeParams], [WxJsapiParams],
// [WxAppParams], [WxMwebParams] or [AliParams]). [Client.CreateCharge]
// answers a [ChargeResult] instead.
type PayInfo[T any] struct {
	// Channel is the channel of the charge.
	Channel Channel `json:"channel"`
	// ChannelParams are the channel's payment parameters.
	ChannelParams T `json:"channelParams"`
	// OutTradeNo is the merchant's order number (extension; "" if the
	// server does not send it).
	OutTradeNo string `json:"outTradeNo,omitempty"`
	// TotalFee is the amount in fen (extension; 0 if not sent).
	TotalFee int64 `json:"totalFee,omitempty"`
	// ExpireTime is when the charge expires, in ms since the epoch
	// (extension; 0 if not sent).
	ExpireTime int64 `json:"expireTime,omitempty"`
	// RequestID is the requestId of the answer.
	RequestID int64 `json:"-"`
}

// Expires returns ExpireTime as a time, or the zero time when it is 0.
func (p *PayInfo[T]) Expires() time.Time {
	if p.ExpireTime == 0 {
		return time.Time{}
	}
	return time.UnixMilli(p.ExpireTime)
}

// javaArgs builds ChargeParams from the Java client's positional arguments
// (see the package doc, "Document-shaped helpers").
func javaArgs(ch Channel, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) ChargeParams {
	return ChargeParams{
		Channel:     ch,
		OutTradeNo:  outTradeNo,
		TotalFee:    totalFee,
		ClientIP:    clientIP,
		Subject:     subject,
		Body:        body,
		Created:     created,
		ReturnURL:   returnURL,
		TimeExpire:  timeExpire,
		Attach:      attach,
		Analysis:    analysis,
		Description: description,
	}
}

// createAs is CreateCharge answering PayInfo[T], with the params of the
// channel that pick chooses from the result (zero when absent).
func createAs[T any](ctx context.Context, c *Client, p ChargeParams, pick func(*ChargeResult) *T) (*PayInfo[T], error) {
	r, err := c.CreateCharge(ctx, p)
	if err != nil {
		return nil, err
	}
	info := &PayInfo[T]{Channel: r.Channel, OutTradeNo: r.OutTradeNo, TotalFee: r.TotalFee, RequestID: r.RequestID}
	if v := pick(r); v != nil {
		info.ChannelParams = *v
	}
	if r.ExpireTime != nil {
		info.ExpireTime = r.ExpireTime.UnixMilli()
	}
	return info, nil
}

// WxNativePay creates a WeChat Native (QR code) charge; show
// ChannelParams.CodeURL as a QR code. It is a thin wrapper over
// [Client.CreateCharge], shaped like the document's Java client's
// wxNativePay, whose arguments it takes in order: outTradeNo, totalFee
// (fen), clientIp, subject, body, created (ms; 0 = now), returnUrl,
// timeExpire (s; 0 = default), attach, analysis, description.
func (c *Client) WxNativePay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[WxNativeParams], error) {
	return createAs(ctx, c, javaArgs(WxNative, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description), func(r *ChargeResult) *WxNativeParams { return r.WxNative })
}

// WxAppPay creates a WeChat in-app charge; pass ChannelParams to the WeChat
// open SDK. A thin wrapper over [Client.CreateCharge], shaped like the
// document's Java client; arguments as for [Client.WxNativePay].
func (c *Client) WxAppPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[WxAppParams], error) {
	return createAs(ctx, c, javaArgs(WxApp, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description), func(r *ChargeResult) *WxAppParams { return r.WxApp })
}

// WxJsapiPay creates a WeChat JSAPI (official account) charge; pass
// ChannelParams to wx.requestPayment. A thin wrapper over
// [Client.CreateCharge], shaped like the document's Java client's
// wxJsapiPay: arguments as for [Client.WxNativePay], then the payer's
// openid (sent as "wx.openid").
func (c *Client) WxJsapiPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description, openID string) (*PayInfo[WxJsapiParams], error) {
	p := javaArgs(WxJsapi, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description)
	p.OpenID = openID
	return createAs(ctx, c, p, func(r *ChargeResult) *WxJsapiParams { return r.WxJsapi })
}

// WxMwebPay creates a WeChat H5 charge; redirect the payer's browser to
// ChannelParams.MwebURL. A thin wrapper over [Client.CreateCharge], shaped
// like the document's Java client; arguments as for [Client.WxNativePay].
func (c *Client) WxMwebPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[WxMwebParams], error) {
	return createAs(ctx, c, javaArgs(WxMweb, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description), func(r *ChargeResult) *WxMwebParams { return r.WxMweb })
}

// AliWebPay creates an Alipay desktop-website charge; write
// ChannelParams.Body (an auto-submitting form) into the page, or redirect
// to ChannelParams.URL. A thin wrapper over [Client.CreateCharge], shaped
// like the document's Java client; arguments as for [Client.WxNativePay].
func (c *Client) AliWebPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[AliParams], error) {
	return createAs(ctx, c, javaArgs(AliWeb, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description), alipayParams)
}

// AliAppPay creates an Alipay in-app charge; pass ChannelParams.Body (the
// signed order string) to the Alipay app SDK. A thin wrapper over
// [Client.CreateCharge], shaped like the document's Java client; arguments
// as for [Client.WxNativePay].
func (c *Client) AliAppPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[AliParams], error) {
	return createAs(ctx, c, javaArgs(AliApp, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description), alipayParams)
}

// AliWapPay creates an Alipay mobile-website charge; use ChannelParams as
// for [Client.AliWebPay]. A thin wrapper over [Client.CreateCharge], shaped
// like the document's Java client; arguments as for [Client.WxNativePay].
func (c *Client) AliWapPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[AliParams], error) {
	return createAs(ctx, c, javaArgs(AliWap, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description), alipayParams)
}

func alipayParams(r *ChargeResult) *AliParams { return r.Alipay }
