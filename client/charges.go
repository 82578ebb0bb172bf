package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// API paths, relative to the base URL.
const (
	pathCharges   = "/api/charges"
	pathPayResult = "/api/charges/pay-result"
	pathClose     = "/api/charges/close"
	pathRefunds   = "/api/refunds"
	pathRefundRes = "/api/refunds/result"
)

// chargeForm returns the form fields of a charge creation. Optional fields at
// their zero value are left out.
func (c *Client) chargeForm(p ChargeParams) url.Values {
	f := url.Values{}
	f.Set("channel", string(p.Channel))
	f.Set("outTradeNo", p.OutTradeNo)
	f.Set("totalFee", strconv.FormatInt(p.TotalFee, 10))
	f.Set("clientIp", p.ClientIP)
	f.Set("subject", p.Subject)
	f.Set("body", p.Body)
	created := p.Created
	if created == 0 {
		created = c.now().UnixMilli()
	}
	f.Set("created", strconv.FormatInt(created, 10))
	opt := func(name, v string) {
		if v != "" {
			f.Set(name, v)
		}
	}
	opt("feeType", p.FeeType)
	if p.TimeExpire != 0 {
		f.Set("timeExpire", strconv.Itoa(p.TimeExpire))
	}
	opt("analysis", p.Analysis)
	opt("attach", p.Attach)
	opt("description", p.Description)
	opt("returnUrl", p.ReturnURL)
	opt("wx.openid", p.OpenID)
	return f
}

func createCharge[T any](ctx context.Context, c *Client, p ChargeParams) (*PayInfo[T], error) {
	var info PayInfo[T]
	id, err := c.call(ctx, http.MethodPost, pathCharges, c.chargeForm(p), &info)
	if err != nil {
		return nil, err
	}
	info.RequestID = id
	return &info, nil
}

// CreateCharge creates a charge on any channel (POST /api/charges) and
// returns the channel params undecoded; decode them with [ChannelParamsAs],
// or use the per-channel methods (WxNativePay, ...), which return them
// typed. Creating the same outTradeNo again with the same parameters while
// it is unpaid returns the same channel params.
func (c *Client) CreateCharge(ctx context.Context, p ChargeParams) (*PayInfo[json.RawMessage], error) {
	return createCharge[json.RawMessage](ctx, c, p)
}

// javaArgs builds ChargeParams from the Java client's positional arguments
// (see the package doc, "Charge methods").
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

// WxNativePay creates a WeChat Native (QR code) charge; show
// ChannelParams.CodeURL as a QR code. Arguments are those of the Java
// client's wxNativePay, in its order: outTradeNo, totalFee (fen), clientIp,
// subject, body, created (ms; 0 = now), returnUrl, timeExpire (s; 0 =
// default), attach, analysis, description.
func (c *Client) WxNativePay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[WxNativeParams], error) {
	return createCharge[WxNativeParams](ctx, c, javaArgs(WxNative, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description))
}

// WxAppPay creates a WeChat in-app charge; pass ChannelParams to the WeChat
// open SDK. Arguments as for [Client.WxNativePay].
func (c *Client) WxAppPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[WxAppParams], error) {
	return createCharge[WxAppParams](ctx, c, javaArgs(WxApp, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description))
}

// WxJsapiPay creates a WeChat JSAPI (official account) charge; pass
// ChannelParams to wx.requestPayment. Arguments as for
// [Client.WxNativePay], then the payer's openid (sent as "wx.openid"), as
// in the Java client's wxJsapiPay.
func (c *Client) WxJsapiPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description, openID string) (*PayInfo[WxJsapiParams], error) {
	p := javaArgs(WxJsapi, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description)
	p.OpenID = openID
	return createCharge[WxJsapiParams](ctx, c, p)
}

// WxMwebPay creates a WeChat H5 charge; redirect the payer's browser to
// ChannelParams.MwebURL. Arguments as for [Client.WxNativePay].
func (c *Client) WxMwebPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[WxMwebParams], error) {
	return createCharge[WxMwebParams](ctx, c, javaArgs(WxMweb, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description))
}

// AliWebPay creates an Alipay desktop-website charge; write
// ChannelParams.Body (an auto-submitting form) into the page, or redirect
// to ChannelParams.URL. Arguments as for [Client.WxNativePay].
func (c *Client) AliWebPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[AliParams], error) {
	return createCharge[AliParams](ctx, c, javaArgs(AliWeb, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description))
}

// AliAppPay creates an Alipay in-app charge; pass ChannelParams.Body (the
// signed order string) to the Alipay app SDK. Arguments as for
// [Client.WxNativePay].
func (c *Client) AliAppPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[AliParams], error) {
	return createCharge[AliParams](ctx, c, javaArgs(AliApp, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description))
}

// AliWapPay creates an Alipay mobile-website charge; use ChannelParams as
// for [Client.AliWebPay]. Arguments as for [Client.WxNativePay].
func (c *Client) AliWapPay(ctx context.Context, outTradeNo string, totalFee int64, clientIP, subject, body string,
	created int64, returnURL string, timeExpire int, attach, analysis, description string) (*PayInfo[AliParams], error) {
	return createCharge[AliParams](ctx, c, javaArgs(AliWap, outTradeNo, totalFee, clientIP, subject, body,
		created, returnURL, timeExpire, attach, analysis, description))
}

// GetPayResult asks whether a charge is paid (GET /api/charges/pay-result).
// An unknown order, or one of another channel, is an [*Error] with
// [paytype.CodeNotFound].
func (c *Client) GetPayResult(ctx context.Context, channel Channel, outTradeNo string) (*PayResult, error) {
	q := url.Values{}
	q.Set("channel", string(channel))
	q.Set("outTradeNo", outTradeNo)
	var r PayResult
	id, err := c.call(ctx, http.MethodGet, pathPayResult, q, &r)
	if err != nil {
		return nil, err
	}
	r.RequestID = id
	return &r, nil
}

// Close closes an unpaid charge at the channel and in the pay center (POST
// /api/charges/close, extension). Closing a paid charge is an [*Error] with
// [paytype.CodeExists].
func (c *Client) Close(ctx context.Context, channel Channel, outTradeNo string) error {
	f := url.Values{}
	f.Set("channel", string(channel))
	f.Set("outTradeNo", outTradeNo)
	_, err := c.call(ctx, http.MethodPost, pathClose, f, nil)
	return err
}
