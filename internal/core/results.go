package core

import (
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

func chargeResult(c *models.Charge, params channels.Params) *paytype.ChargeResult {
	return &paytype.ChargeResult{
		Channel: c.Channel, ChannelParams: params, OutTradeNo: c.OutTradeNo,
		TotalFee: c.TotalFee, ExpireTime: c.ExpireAt.UnixMilli(), Charge: c,
	}
}

func payResult(c *models.Charge) *paytype.PayResult {
	r := &paytype.PayResult{
		Channel: c.Channel, OutTradeNo: c.OutTradeNo, HasPay: c.Status == models.ChargePaid,
		Attach: c.Attach, Status: c.Status, TotalFee: c.TotalFee, RefundedFee: c.RefundedFee,
		LatePaid: c.LatePaid, LateRefundNo: c.LateRefundNo, Charge: c,
	}
	if r.HasPay {
		r.PayTime = millis(c.PaidAt)
		r.ReturnURL = &c.ReturnURL
		if c.TransactionID != "" {
			r.TransactionID = &c.TransactionID
		}
	}
	return r
}

func refundResult(r *models.Refund) *paytype.RefundResult {
	res := &paytype.RefundResult{
		OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo, RefundFee: r.RefundFee,
		Status: r.Status, LatePaid: r.LatePayment, Refund: r,
	}
	if r.Status == models.RefundSucceeded {
		res.RefundTime = millis(r.RefundedAt)
	}
	return res
}

func millis(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// refundEventData is the data of refund events: the refund-result fields
// plus the charge's channel and attach (SPEC 5: "attach included").
type refundEventData struct {
	*paytype.RefundResult
	Channel channels.Code `json:"channel"`
	Attach  string        `json:"attach"`
}
