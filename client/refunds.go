package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Refund refunds p.RefundFee fen of a paid charge (POST /api/refunds).
// p.OutRefundNo (1–64 letters/digits) identifies the refund: repeating a
// request with the same numbers and parameters refunds only once, so after
// a timeout or a [paytype.CodeInProgress] answer, call it again as it was.
// More than the charge's refundable balance is [paytype.CodeOverLimit].
//
// The document answers only {requestId}; a pay center with the extension
// also answers the refund's state. When it does not, the result echoes the
// request's numbers and Status is "". A PROCESSING refund is settled later;
// follow it with [Client.RefundResult] or the refund webhooks.
func (c *Client) Refund(ctx context.Context, p RefundParams) (*RefundResult, error) {
	f := url.Values{}
	f.Set("outTradeNo", p.OutTradeNo)
	f.Set("outRefundNo", p.OutRefundNo)
	f.Set("refundFee", strconv.FormatInt(p.RefundFee, 10))
	if p.RefundDesc != "" {
		f.Set("refundDesc", p.RefundDesc)
	}
	r := RefundResult{OutTradeNo: p.OutTradeNo, OutRefundNo: p.OutRefundNo, RefundFee: p.RefundFee}
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
