package core

import (
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// ChargeResult is the answer to a create: responseParams of
// POST /api/charges.
type ChargeResult struct {
	Channel       channels.Code   `json:"channel"`
	ChannelParams channels.Params `json:"channelParams"` // nil when reserved by CreateChargeTx
	OutTradeNo    string          `json:"outTradeNo"`
	TotalFee      int64           `json:"totalFee"`
	ExpireTime    int64           `json:"expireTime"` // ms since epoch
	Charge        *models.Charge  `json:"-"`
}

// PayResult is responseParams of /api/charges/pay-result.
type PayResult struct {
	Channel       channels.Code       `json:"channel"`
	OutTradeNo    string              `json:"outTradeNo"`
	HasPay        bool                `json:"hasPay"`
	PayTime       *int64              `json:"payTime"`   // ms, null when unpaid
	ReturnURL     *string             `json:"returnUrl"` // null when unpaid
	Attach        string              `json:"attach"`
	Status        models.ChargeStatus `json:"status"`
	TotalFee      int64               `json:"totalFee"`
	RefundedFee   int64               `json:"refundedFee"`
	TransactionID *string             `json:"transactionId"`
	// LatePaid: the payment came after the charge's expiry or close (the
	// money was taken; see Config.LatePayment).
	LatePaid bool `json:"latePaid"`
	// LateRefundNo is the number of the automatic refund of a late payment,
	// when one was reserved (omitted otherwise); ask refund-result about it.
	LateRefundNo string         `json:"lateRefundNo,omitempty"`
	Charge       *models.Charge `json:"-"`
}

// RefundResult is responseParams of /api/refunds and /api/refunds/result.
type RefundResult struct {
	OutTradeNo  string              `json:"outTradeNo"`
	OutRefundNo string              `json:"outRefundNo"`
	RefundFee   int64               `json:"refundFee"`
	Status      models.RefundStatus `json:"status"`
	RefundTime  *int64              `json:"refundTime"` // ms, null unless SUCCESS
	// LatePaid marks the automatic refund of a late payment.
	LatePaid bool           `json:"latePaid"`
	Refund   *models.Refund `json:"-"`
}

// CloseResult is responseParams of /api/charges/close.
type CloseResult struct {
	Channel    channels.Code       `json:"channel"`
	OutTradeNo string              `json:"outTradeNo"`
	Status     models.ChargeStatus `json:"status"`
}

func chargeResult(c *models.Charge, params channels.Params) *ChargeResult {
	return &ChargeResult{
		Channel: c.Channel, ChannelParams: params, OutTradeNo: c.OutTradeNo,
		TotalFee: c.TotalFee, ExpireTime: c.ExpireAt.UnixMilli(), Charge: c,
	}
}

func payResult(c *models.Charge) *PayResult {
	r := &PayResult{
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

func refundResult(r *models.Refund) *RefundResult {
	res := &RefundResult{
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
