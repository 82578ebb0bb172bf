package admin

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// The JSON of the tables' rows: camelCase names, amounts in fen, and
// nothing internal (leases, markers, the outbox's body).

type chargeView struct {
	ID             int64               `json:"id"`
	AppID          string              `json:"appId"`
	OutTradeNo     string              `json:"outTradeNo"`
	Account        string              `json:"account"`
	Channel        channels.Code       `json:"channel"`
	TotalFee       int64               `json:"totalFee"`
	Status         models.ChargeStatus `json:"status"`
	LatePaid       bool                `json:"latePaid"`
	LateRefundNo   string              `json:"lateRefundNo,omitempty"`
	TransactionID  string              `json:"transactionId,omitempty"`
	RefundReserved int64               `json:"refundReserved"`
	RefundedFee    int64               `json:"refundedFee"`
	Subject        string              `json:"subject"`
	Body           string              `json:"body"`
	Description    string              `json:"description,omitempty"`
	Attach         string              `json:"attach"`
	ReturnURL      string              `json:"returnUrl,omitempty"`
	ClientIP       string              `json:"clientIp"`
	ExpireAt       time.Time           `json:"expireAt"`
	PaidAt         *time.Time          `json:"paidAt"`
	ClosedAt       *time.Time          `json:"closedAt"`
	NextQueryAt    *time.Time          `json:"nextQueryAt"`
	CreatedAt      time.Time           `json:"createdAt"`
	UpdatedAt      time.Time           `json:"updatedAt"`
}

func chargeOf(c *models.Charge) chargeView {
	return chargeView{
		ID: c.ID, AppID: c.AppID, OutTradeNo: c.OutTradeNo, Account: c.Account, Channel: c.Channel, TotalFee: c.TotalFee,
		Status: c.Status, LatePaid: c.LatePaid, LateRefundNo: c.LateRefundNo, TransactionID: c.TransactionID,
		RefundReserved: c.RefundReserved, RefundedFee: c.RefundedFee, Subject: c.Subject, Body: c.Body,
		Description: c.Description, Attach: c.Attach, ReturnURL: c.ReturnURL, ClientIP: c.ClientIP, ExpireAt: c.ExpireAt,
		PaidAt: c.PaidAt, ClosedAt: c.ClosedAt, NextQueryAt: c.NextQueryAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

type refundView struct {
	ID          int64               `json:"id"`
	AppID       string              `json:"appId"`
	OutRefundNo string              `json:"outRefundNo"`
	OutTradeNo  string              `json:"outTradeNo"`
	ChargeID    int64               `json:"chargeId"`
	RefundFee   int64               `json:"refundFee"`
	RefundDesc  string              `json:"refundDesc"`
	Status      models.RefundStatus `json:"status"`
	LatePayment bool                `json:"latePayment"`
	Submitted   bool                `json:"submitted"`
	FailReason  string              `json:"failReason,omitempty"`
	RefundedAt  *time.Time          `json:"refundedAt"`
	NextCheckAt *time.Time          `json:"nextCheckAt"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
}

func refundOf(r *models.Refund) refundView {
	return refundView{
		ID: r.ID, AppID: r.AppID, OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, ChargeID: r.ChargeID,
		RefundFee: r.RefundFee, RefundDesc: r.RefundDesc, Status: r.Status, LatePayment: r.LatePayment,
		Submitted: r.Submitted, FailReason: r.FailReason, RefundedAt: r.RefundedAt, NextCheckAt: r.NextCheckAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

type deliveryView struct {
	ID            int64                 `json:"id"`
	EventID       string                `json:"eventId"`
	AppID         string                `json:"appId"`
	Type          string                `json:"type"`
	Target        string                `json:"target"`
	ChargeID      int64                 `json:"chargeId"`
	OutTradeNo    string                `json:"outTradeNo"`
	RefundID      int64                 `json:"refundId,omitempty"`
	URL           string                `json:"url,omitempty"`
	Status        models.DeliveryStatus `json:"status"`
	Attempts      int                   `json:"attempts"`
	NextAttemptAt time.Time             `json:"nextAttemptAt"`
	LastStatus    int                   `json:"lastStatus,omitempty"`
	LastError     string                `json:"lastError,omitempty"`
	LastAttemptAt *time.Time            `json:"lastAttemptAt"`
	DeliveredAt   *time.Time            `json:"deliveredAt"`
	CreatedAt     time.Time             `json:"createdAt"`
}

func deliveryOf(d *models.Delivery, outTradeNo string) deliveryView {
	return deliveryView{
		ID: d.ID, EventID: d.EventID, AppID: d.AppID, Type: d.Type, Target: d.Target, ChargeID: d.ChargeID,
		OutTradeNo: outTradeNo, RefundID: d.RefundID, URL: d.URL, Status: d.Status, Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError, LastAttemptAt: d.LastAttemptAt,
		DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt,
	}
}

type notificationView struct {
	ID         int64  `json:"id"`
	AppID      string `json:"appId"`
	Provider   string `json:"provider"`
	Path       string `json:"path"`
	OutTradeNo string `json:"outTradeNo"`
	Accepted   bool   `json:"accepted"`
	Error      string `json:"error,omitempty"`
	BodySize   int64  `json:"bodySize"`
	BodySHA256 string `json:"bodySha256"`
	// Headers are the channel's signature headers (JSON), Body the body as
	// stored (text, or BodyBase64 when it is not UTF-8): only in one
	// charge's audit records, not in lists.
	Headers    string    `json:"headers,omitempty"`
	Body       *string   `json:"body,omitempty"`
	BodyBase64 *string   `json:"bodyBase64,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
}

func notificationOf(n *models.Notification, withBody bool) notificationView {
	v := notificationView{
		ID: n.ID, AppID: n.AppID, Provider: n.Provider, Path: n.Path, OutTradeNo: n.OutTradeNo, Accepted: n.Accepted,
		Error: n.Error, BodySize: n.BodySize, BodySHA256: n.BodySHA256, CreatedAt: n.CreatedAt,
	}
	if withBody {
		v.Headers = n.Headers
		if s := string(n.Body); utf8.ValidString(s) {
			v.Body = &s
		} else {
			b := base64.StdEncoding.EncodeToString(n.Body)
			v.BodyBase64 = &b
		}
	}
	return v
}
