package paytype

import (
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// ChargeResult is the answer to a create: responseParams of
// POST /api/charges.
type ChargeResult struct {
	// Channel is the charge's channel code.
	Channel channels.Code `json:"channel"`
	// ChannelParams are what the buyer's client needs to pay (codeUrl for
	// WX_NATIVE, the signed form for ALI_WEB, ...); nil for a charge
	// reserved by CreateChargeTx.
	ChannelParams channels.Params `json:"channelParams"`
	// OutTradeNo is the merchant's order number (extension).
	OutTradeNo string `json:"outTradeNo"`
	// TotalFee is the amount in fen (extension).
	TotalFee int64 `json:"totalFee"`
	// ExpireTime is when the charge stops being payable, ms since the epoch
	// (extension).
	ExpireTime int64 `json:"expireTime"`
	// Charge is the stored charge (in-process API only).
	Charge *models.Charge `json:"-"`
}

// PayResult is the answer of pay-result (/api/charges/pay-result).
type PayResult struct {
	Channel    channels.Code `json:"channel"`
	OutTradeNo string        `json:"outTradeNo"`
	// HasPay reports whether the charge is paid.
	HasPay bool `json:"hasPay"`
	// PayTime is the channel's payment time in ms (Alipay gmt_payment,
	// WeChat success_time); null when unpaid.
	PayTime *int64 `json:"payTime"`
	// ReturnURL is the charge's returnUrl; null when unpaid.
	ReturnURL *string `json:"returnUrl"`
	// Attach is the merchant's attach of the charge.
	Attach string `json:"attach"`
	// Status is CREATED, PAID or CLOSED (extension).
	Status models.ChargeStatus `json:"status"`
	// TotalFee and RefundedFee are in fen (extensions); RefundedFee counts
	// succeeded refunds.
	TotalFee    int64 `json:"totalFee"`
	RefundedFee int64 `json:"refundedFee"`
	// TransactionID is the channel's trade number; null when unpaid
	// (extension).
	TransactionID *string `json:"transactionId"`
	// LatePaid reports a payment made after the charge's expiry or close
	// (extension; the money was taken, see Config.LatePayment).
	LatePaid bool `json:"latePaid"`
	// LateRefundNo is the number of the automatic refund of a late payment,
	// when one was reserved (extension, omitted otherwise): ask
	// refund-result about it.
	LateRefundNo string `json:"lateRefundNo,omitempty"`
	// Charge is the stored charge (in-process API only).
	Charge *models.Charge `json:"-"`
}

// RefundResult is the answer of a refund (/api/refunds) and of
// refund-result (/api/refunds/result).
type RefundResult struct {
	OutTradeNo  string `json:"outTradeNo"`
	OutRefundNo string `json:"outRefundNo"`
	// RefundFee is the refund's amount in fen.
	RefundFee int64 `json:"refundFee"`
	// Status is PROCESSING, SUCCESS, FAILED or ABNORMAL (WeChat Pay: the
	// money left the merchant but has not reached the buyer yet).
	Status models.RefundStatus `json:"status"`
	// RefundTime is the channel's refund time in ms; null unless SUCCESS.
	RefundTime *int64 `json:"refundTime"`
	// LatePaid marks the automatic refund of a late payment (extension).
	LatePaid bool `json:"latePaid"`
	// Refund is the stored refund (in-process API only).
	Refund *models.Refund `json:"-"`
}

// CloseResult is the answer of /api/charges/close (extension).
type CloseResult struct {
	Channel    channels.Code       `json:"channel"`
	OutTradeNo string              `json:"outTradeNo"`
	Status     models.ChargeStatus `json:"status"`
}

// DeliveryFilter selects outbox entries (webhooks and after-commit hook
// runs) for PayCenter.Deliveries. Zero fields select everything.
type DeliveryFilter struct {
	AppID   string
	Status  models.DeliveryStatus
	Target  string // models.TargetWebhook or models.TargetHooks
	EventID string
	Limit   int // default 100
}

// DiscrepancyFilter selects discrepancies for PayCenter.Discrepancies. Zero
// fields select everything.
type DiscrepancyFilter struct {
	Status     models.DiscrepancyStatus
	Kind       models.DiscrepancyKind
	AppID      string
	OutTradeNo string
	Limit      int // default 100
}
