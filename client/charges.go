package client

import (
	"context"
	"encoding/json"
	"fmt"
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

// chargeResultJSON is the wire form of a create's responseParams.
type chargeResultJSON struct {
	Channel       Channel         `json:"channel"`
	ChannelParams json.RawMessage `json:"channelParams"`
	OutTradeNo    string          `json:"outTradeNo"`
	TotalFee      int64           `json:"totalFee"`
	ExpireTime    *int64          `json:"expireTime"`
}

// CreateCharge creates a charge (POST /api/charges) and returns what the
// payer's device needs to pay, decoded into the field of [ChargeResult]
// named for the charge's channel: CodeURL of r.WxNative to show as a QR
// code, r.Alipay.Body to write into the page, and so on.
//
// It is idempotent on p.OutTradeNo: creating the same order again with the
// same parameters while it is unpaid returns the same channel params, so
// after a timeout or a [paytype.CodeInProgress] answer, call it again as it
// was. Other parameters for a used outTradeNo are [paytype.CodeExists].
func (c *Client) CreateCharge(ctx context.Context, p ChargeParams) (*ChargeResult, error) {
	var w chargeResultJSON
	id, err := c.call(ctx, http.MethodPost, pathCharges, c.chargeForm(p), &w)
	if err != nil {
		return nil, err
	}
	r := &ChargeResult{Channel: w.Channel, ChannelParams: w.ChannelParams, OutTradeNo: w.OutTradeNo,
		TotalFee: w.TotalFee, ExpireTime: msTime(w.ExpireTime), RequestID: id}
	// An answer without its channel is decoded as the channel asked for.
	code := r.Channel
	if code == "" {
		code = p.Channel
	}
	if err := r.decodeParams(code); err != nil {
		return nil, &Error{Msg: fmt.Sprintf("POST %s: cannot decode channelParams of %s: %v", pathCharges, code, err), RequestID: id,
			HTTPStatus: http.StatusOK}
	}
	return r, nil
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
