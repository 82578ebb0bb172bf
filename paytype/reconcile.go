package paytype

import (
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// ReconcileReport is the report of the daily bill reconciliation of one
// channel account for one Beijing day: what the bill shows and what the
// pay center has, how many rows agree, what the reconciliation applied by
// itself and what it left for a person. It is the JSON of the example's
// reconcile command and of the operator API (PayCenter.Admin).
type ReconcileReport struct {
	ID       int64        `json:"id"`
	Date     channels.Day `json:"date"`     // the bill's day, YYYY-MM-DD (Beijing)
	Provider string       `json:"provider"` // alipay or wechat
	Account  string       `json:"account"`  // alipay:<app_id> or wechat:<mchid>
	// Status is DONE, NOT_READY (the channel has no bill for the day yet),
	// FAILED (see Error) or RUNNING.
	Status models.ReconciliationStatus `json:"status"`
	Error  string                      `json:"error,omitempty"`
	// Partial: the bill was taken before the day was over; what it lacks
	// was not looked for (paid_here_missing_at_channel and
	// refund_here_missing_at_channel are not reported).
	Partial bool `json:"partial"`
	// Channel is what the bill shows (rows that moved money), Local what
	// the pay center has for the account that day (by the channel's times).
	Channel  ReconcileSide `json:"channel"`
	Local    ReconcileSide `json:"local"`
	BillRows int64         `json:"billRows"` // every row of the bill
	// Matched counts the bill's rows that agree with the pay center's
	// records after the run, those it applied included.
	Matched int64 `json:"matched"`
	// AppliedCount and OpenDiscrepancies count Applied and the OPEN
	// entries of Discrepancies (the lists stop at MaxReportItems).
	AppliedCount      int64 `json:"appliedCount"`
	OpenDiscrepancies int64 `json:"openDiscrepancies"`
	// Applied lists what the bill proved and the pay center applied as a
	// notification would (paid_at_channel_unpaid_here,
	// refund_at_channel_unknown_here): status APPLIED.
	Applied []Discrepancy `json:"applied"`
	// Discrepancies lists what was not applied, OPEN until a person
	// resolves it (or RESOLVED).
	Discrepancies []Discrepancy `json:"discrepancies"`
	// Truncated: a list stopped at MaxReportItems; the operator API lists
	// them all (GET /discrepancies?account=…&date=…).
	Truncated  bool       `json:"truncated,omitempty"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
}

// MaxReportItems bounds each list of a ReconcileReport.
const MaxReportItems = 1000

// ReconcileSide counts and sums (fen) one side of a reconciliation.
type ReconcileSide struct {
	Payments      int64 `json:"payments"`
	PaymentAmount int64 `json:"paymentAmount"`
	Refunds       int64 `json:"refunds"`
	RefundAmount  int64 `json:"refundAmount"`
}

// Discrepancy is a models.Discrepancy as JSON: what a channel said
// (a notification, a query answer, a row of its bill) that differs from
// the pay center's records.
type Discrepancy struct {
	ID     int64                    `json:"id"`
	Kind   models.DiscrepancyKind   `json:"kind"`
	Status models.DiscrepancyStatus `json:"status"` // OPEN, RESOLVED or APPLIED
	Source string                   `json:"source"` // notification, query or bill
	// BillDay is the day of the bill that found it ("" if none did).
	BillDay     string `json:"billDay,omitempty"`
	AppID       string `json:"appId"`
	Provider    string `json:"provider"`
	Account     string `json:"account"`
	OutTradeNo  string `json:"outTradeNo"`
	OutRefundNo string `json:"outRefundNo"`
	// TransactionID is the channel's trade number, when known.
	TransactionID string `json:"transactionId,omitempty"`
	// LocalAmount is the pay center's amount (fen, 0 when it has none),
	// ChannelAmount the channel's.
	LocalAmount   int64      `json:"localAmount"`
	ChannelAmount int64      `json:"channelAmount"`
	Detail        string     `json:"detail"`
	Note          string     `json:"note,omitempty"` // the person's note when resolved
	Occurrences   int        `json:"occurrences"`
	CreatedAt     time.Time  `json:"createdAt"`
	ResolvedAt    *time.Time `json:"resolvedAt,omitempty"`
}

// DiscrepancyOf returns d as JSON.
func DiscrepancyOf(d *models.Discrepancy) Discrepancy {
	return Discrepancy{
		ID: d.ID, Kind: d.Kind, Status: d.Status, Source: d.Source, BillDay: d.BillDay, AppID: d.AppID,
		Provider: d.Provider, Account: d.Account, OutTradeNo: d.OutTradeNo, OutRefundNo: d.OutRefundNo,
		TransactionID: d.TransactionID, LocalAmount: d.LocalAmount, ChannelAmount: d.ChannelAmount,
		Detail: d.Detail, Note: d.Note, Occurrences: d.Occurrences, CreatedAt: d.CreatedAt, ResolvedAt: d.ResolvedAt,
	}
}

// ReconcileReportOf returns the report row r as JSON without its lists
// (Applied and Discrepancies stay nil): AppliedCount and OpenDiscrepancies
// are the counts the run left.
func ReconcileReportOf(r *models.Reconciliation) *ReconcileReport {
	day, _ := channels.ParseDay(r.BillDay)
	return &ReconcileReport{
		ID: r.ID, Date: day, Provider: r.Provider, Account: r.Account, Status: r.Status, Error: r.Error, Partial: r.Partial,
		Channel:  ReconcileSide{Payments: r.BillPayments, PaymentAmount: r.BillPaymentAmount, Refunds: r.BillRefunds, RefundAmount: r.BillRefundAmount},
		Local:    ReconcileSide{Payments: r.LocalPayments, PaymentAmount: r.LocalPaymentAmount, Refunds: r.LocalRefunds, RefundAmount: r.LocalRefundAmount},
		BillRows: r.BillRows, Matched: r.Matched, AppliedCount: r.Applied, OpenDiscrepancies: r.Discrepancies,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
}
