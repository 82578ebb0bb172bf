package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// RefundOption sets an optional parameter of [Client.Refund].
type RefundOption func(url.Values)

// WithRefundDesc sets the refund reason ("refundDesc", ≤ 80 characters),
// shown to the payer by the channel.
func WithRefundDesc(desc string) RefundOption {
	return func(f url.Values) {
		if desc != "" {
			f.Set("refundDesc", desc)
		}
	}
}

// Refund refunds refundFee fen of a paid charge (POST /api/refunds).
// outRefundNo (1–64 letters/digits) identifies the refund: repeating a
// request with the same outRefundNo and parameters refunds only once.
//
// The document answers only {requestId}; a pay center with the extension
// also answers the refund's state. When it does not, the result echoes the
// request's numbers and Status is "". A PROCESSING refund is settled later;
// follow it with [Client.RefundResult] or the refund webhooks.
func (c *Client) Refund(ctx context.Context, outTradeNo, outRefundNo string, refundFee int64, opts ...RefundOption) (*RefundResult, error) {
	f := url.Values{}
	f.Set("outTradeNo", outTradeNo)
	f.Set("outRefundNo", outRefundNo)
	f.Set("refundFee", strconv.FormatInt(refundFee, 10))
	for _, o := range opts {
		o(f)
	}
	r := RefundResult{OutTradeNo: outTradeNo, OutRefundNo: outRefundNo, RefundFee: refundFee}
	id, err := c.call(ctx, http.MethodPost, pathRefunds, f, &r)
	if err != nil {
		return nil, err
	}
	r.RequestID = id
	return &r, nil
}

// RefundResult returns the state of a refund (GET /api/refunds/result,
// extension). An unknown outRefundNo is an [*Error] with [paytype.CodeNotFound].
func (c *Client) RefundResult(ctx context.Context, outRefundNo string) (*RefundResult, error) {
	q := url.Values{}
	q.Set("outRefundNo", outRefundNo)
	var r RefundResult
	id, err := c.call(ctx, http.MethodGet, pathRefundRes, q, &r)
	if err != nil {
		return nil, err
	}
	r.RequestID = id
	return &r, nil
}
