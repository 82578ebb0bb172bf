// Package models holds the GORM models of the pay center's tables. The
// tables themselves are created and changed by the SQL migrations of
// package migrations: a field added here needs a migration there.
//
// Every table name carries a prefix (default "pay_") chosen by the host, so
// the models do not implement TableName: the pay center addresses them with
// [Tables]. Times are stored in UTC. Money is int64 fen. State changes are
// conditional updates on Status, never full-row saves, so concurrent
// notifications, queries and requests cannot overwrite each other.
package models

import (
	"time"

	"github.com/gopaycenter/paycenter/channels"
)

// ChargeStatus is the pay center's state of a charge.
type ChargeStatus string

// Charge states. CREATED → PAID, CREATED → CLOSED, and CLOSED → PAID when
// the channel reports a payment for a closed charge (money was taken: it is
// recorded; LatePaid says whether it came after the expiry or the close).
const (
	ChargeCreated ChargeStatus = "CREATED"
	ChargePaid    ChargeStatus = "PAID"
	ChargeClosed  ChargeStatus = "CLOSED"
)

// RefundStatus is the pay center's state of a refund, as answered on the wire.
type RefundStatus string

// Refund states. PROCESSING → SUCCESS, FAILED or ABNORMAL; ABNORMAL →
// SUCCESS or FAILED. ABNORMAL (WeChat Pay) means the money left the
// merchant's account but could not be credited to the buyer; its amount
// stays reserved until the channel settles it.
const (
	RefundProcessing RefundStatus = "PROCESSING"
	RefundSucceeded  RefundStatus = "SUCCESS"
	RefundFailed     RefundStatus = "FAILED"
	RefundAbnormal   RefundStatus = "ABNORMAL"
)

// Final reports whether s is SUCCESS or FAILED.
func (s RefundStatus) Final() bool { return s == RefundSucceeded || s == RefundFailed }

// Charge is one payment order of one application, unique on
// (AppID, OutTradeNo).
type Charge struct {
	ID         int64  `gorm:"primaryKey;autoIncrement"`
	AppID      string `gorm:"size:32;not null;uniqueIndex:,composite:app_trade,priority:1"`
	OutTradeNo string `gorm:"size:32;not null;uniqueIndex:,composite:app_trade,priority:2;uniqueIndex:,composite:account_trade,priority:2"`
	// Account is the channel account whose number space OutTradeNo lives
	// in ("alipay:<app_id>", "wechat:<mchid>", "sandbox@<app>"); unique
	// with OutTradeNo. NULL for charges created before accounts existed.
	Account     string        `gorm:"size:96;default:null;uniqueIndex:,composite:account_trade,priority:1;index:,composite:account_paid,priority:1"`
	Channel     channels.Code `gorm:"size:16;not null"`
	TotalFee    int64         `gorm:"not null"` // fen
	FeeType     string        `gorm:"size:8;not null"`
	ClientIP    string        `gorm:"size:64;not null"`
	Subject     string        `gorm:"size:512;not null"`
	Body        string        `gorm:"size:512;not null"`
	Description string        `gorm:"size:1024;not null;default:''"`
	Attach      string        `gorm:"size:128;not null;default:''"`
	Analysis    string        `gorm:"type:text"`
	ReturnURL   string        `gorm:"size:2048;not null;default:''"`
	OpenID      string        `gorm:"size:128;not null;default:''"`
	CreatedMs   int64         `gorm:"not null"` // the merchant's "created", ms since epoch
	TimeExpire  int64         `gorm:"not null"` // seconds, as requested
	ExpireAt    time.Time     `gorm:"not null;index"`

	Status ChargeStatus `gorm:"size:16;not null;index"`
	// LatePaid: the channel's payment time is after ExpireAt, or after the
	// charge was closed (ClosedAt).
	LatePaid bool `gorm:"not null;default:false"`
	// LateRefundNo is the number of the automatic refund of a late payment
	// (LatePayment "refund"), once reserved.
	LateRefundNo string `gorm:"size:64;not null;default:''"`
	// Marker is the pay center's own token for the charge, sent to the
	// channel where it is echoed back (Alipay passback_params, WeChat Pay
	// attach) and checked on every notification and query answer.
	Marker string `gorm:"size:32;not null;default:''"`
	// ChannelParams is the JSON channelParams once the channel order exists;
	// empty while it does not (reserved, or the channel call failed).
	ChannelParams string `gorm:"type:text"`
	// LeaseUntil/LeaseToken guard the channel call: one caller at a time.
	LeaseUntil    *time.Time
	LeaseToken    string     `gorm:"size:32;not null;default:''"`
	TransactionID string     `gorm:"size:64;not null;default:''"`
	PaidAt        *time.Time `gorm:"index:,composite:account_paid,priority:2"` // the channel's payment time
	ClosedAt      *time.Time
	// RefundReserved is the sum of succeeded and processing refunds;
	// RefundedFee the sum of succeeded ones. RefundReserved ≤ TotalFee is
	// kept by a conditional update, whatever the concurrency.
	RefundReserved int64 `gorm:"not null;default:0"`
	RefundedFee    int64 `gorm:"not null;default:0"`
	// NextQueryAt is when the workers next look at this charge: at its
	// expiry (to close it) until its order is handed out on a channel that
	// can be queried, then on the active-query schedule, in case its
	// notification was lost; nil once nothing is left to do (paid, or
	// closed and confirmed by the channel). QueryCount counts the queries
	// made, which picks the next interval. A CLOSED charge keeps it while
	// its close is not confirmed by the channel.
	NextQueryAt *time.Time `gorm:"index"`
	QueryCount  int        `gorm:"not null;default:0"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Refund is one refund of a charge, unique on (AppID, OutRefundNo).
type Refund struct {
	ID          int64  `gorm:"primaryKey;autoIncrement"`
	AppID       string `gorm:"size:32;not null;uniqueIndex:,composite:app_refund,priority:1"`
	OutRefundNo string `gorm:"size:64;not null;uniqueIndex:,composite:app_refund,priority:2;uniqueIndex:,composite:account_refund,priority:2"`
	// Account is the charge's channel account: out_refund_no is unique in
	// it. NULL for refunds created before accounts existed.
	Account    string       `gorm:"size:96;default:null;uniqueIndex:,composite:account_refund,priority:1;index:,composite:account_refunded,priority:1"`
	ChargeID   int64        `gorm:"not null;index"`
	OutTradeNo string       `gorm:"size:32;not null"`
	RefundFee  int64        `gorm:"not null"` // fen
	RefundDesc string       `gorm:"size:320;not null;default:''"`
	Status     RefundStatus `gorm:"size:16;not null;index"`
	// LatePayment marks the automatic refund of a late payment.
	LatePayment bool `gorm:"not null;default:false"`
	// Submitted is set once the channel has accepted the refund request;
	// until then a retry sends it again with the same OutRefundNo.
	Submitted  bool `gorm:"not null;default:false"`
	LeaseUntil *time.Time
	LeaseToken string     `gorm:"size:32;not null;default:''"`
	FailReason string     `gorm:"size:512;not null;default:''"`
	RefundedAt *time.Time `gorm:"index:,composite:account_refunded,priority:2"` // the channel's refund time
	// NextCheckAt is when the refund worker next sends or queries this
	// PROCESSING refund; CheckCount counts the checks made.
	NextCheckAt *time.Time `gorm:"index"`
	CheckCount  int        `gorm:"not null;default:0"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Nonce is a used v2 request nonce, kept until its request could no longer
// be accepted anyway.
type Nonce struct {
	AppID     string    `gorm:"primaryKey;size:32"`
	Nonce     string    `gorm:"primaryKey;size:64"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// Notification is the audit record of one channel notification, kept
// whether or not it was accepted. The body is stored as bytes, exactly as
// received: whole when the channel's signature verified, its first
// MaxRefusedBodyBytes otherwise (anyone can post those), with the size and
// SHA-256 of the whole body either way.
type Notification struct {
	ID         int64  `gorm:"primaryKey;autoIncrement"`
	AppID      string `gorm:"size:32;not null;index"`
	Provider   string `gorm:"size:16;not null"`
	Path       string `gorm:"size:64;not null"`
	OutTradeNo string `gorm:"size:32;not null;default:'';index"`
	Headers    string `gorm:"type:text"` // the channel's signature headers, JSON
	Body       []byte
	BodySize   int64  `gorm:"not null;default:0"`
	BodySHA256 string `gorm:"size:64;not null;default:''"` // hex
	Accepted   bool   `gorm:"not null"`
	Error      string `gorm:"size:512;not null;default:''"`
	CreatedAt  time.Time
}

// MaxRefusedBodyBytes is how much of an unverified notification's body is
// kept.
const MaxRefusedBodyBytes = 4 << 10

// DiscrepancyKind says how the channel's view of a charge or refund differs
// from the pay center's.
type DiscrepancyKind string

// Discrepancy kinds.
const (
	// A verified payment for a number no charge of this account has.
	DiscrepancyForeignOrder DiscrepancyKind = "foreign_order"
	// The channel reports another amount than the charge's.
	DiscrepancyAmount DiscrepancyKind = "amount_mismatch"
	// The payment belongs to another channel account than the charge's.
	DiscrepancyAccount DiscrepancyKind = "account_mismatch"
	// The channel echoes another marker than the charge's: the order at the
	// channel is not the one the pay center opened.
	DiscrepancyMarker DiscrepancyKind = "marker_mismatch"
	// The channel reports a refund amount other than the refund's.
	DiscrepancyRefundAmount DiscrepancyKind = "refund_amount_mismatch"
	// The channel reports a final refund differently than recorded.
	DiscrepancyRefundStatus DiscrepancyKind = "refund_status_mismatch"
	// The channel reports a refund the pay center does not know (e.g. made
	// by hand in the merchant console), or one of another charge.
	DiscrepancyRefundUnknown DiscrepancyKind = "refund_at_channel_unknown_here"
	// The channel's bill shows a payment for a charge unpaid here (its
	// notification was lost): applied from the bill, recorded as APPLIED.
	DiscrepancyPaidAtChannel DiscrepancyKind = "paid_at_channel_unpaid_here"
	// A charge paid here on the bill's day that the channel's bill does
	// not show.
	DiscrepancyPaidHereMissing DiscrepancyKind = "paid_here_missing_at_channel"
	// A refund that succeeded here on the bill's day that the channel's
	// bill does not show.
	DiscrepancyRefundHereMissing DiscrepancyKind = "refund_here_missing_at_channel"
)

// DiscrepancyStatus is OPEN until a person resolves it. APPLIED records a
// difference the reconciliation of a bill corrected by itself (a payment or
// a refund the bill proves, applied as a notification would be): listed for
// the record, nothing to do.
type DiscrepancyStatus string

// Discrepancy states.
const (
	DiscrepancyOpen     DiscrepancyStatus = "OPEN"
	DiscrepancyResolved DiscrepancyStatus = "RESOLVED"
	DiscrepancyApplied  DiscrepancyStatus = "APPLIED"
)

// Discrepancy is something the channel said that the pay center did not
// apply because it does not match its records: for a person to look at.
// The same discrepancy seen again (a channel resending a notification) is
// one row, its Occurrences counted.
type Discrepancy struct {
	ID            int64             `gorm:"primaryKey;autoIncrement"`
	DedupeKey     string            `gorm:"size:64;not null;uniqueIndex"` // hash of what identifies it
	Kind          DiscrepancyKind   `gorm:"size:48;not null;index"`
	Source        string            `gorm:"size:16;not null"` // notification, query, bill
	AppID         string            `gorm:"size:32;not null;default:''"`
	Provider      string            `gorm:"size:16;not null"`
	Account       string            `gorm:"size:96;not null;default:'';index:,composite:account_day,priority:1"`
	OutTradeNo    string            `gorm:"size:64;not null;default:'';index"`
	OutRefundNo   string            `gorm:"size:64;not null;default:''"`
	TransactionID string            `gorm:"size:64;not null;default:''"`
	LocalAmount   int64             `gorm:"not null;default:0"` // fen; 0 when unknown here
	ChannelAmount int64             `gorm:"not null;default:0"` // fen
	Detail        string            `gorm:"size:512;not null;default:''"`
	Status        DiscrepancyStatus `gorm:"size:16;not null;index"`
	Note          string            `gorm:"size:1024;not null;default:''"`
	Occurrences   int               `gorm:"not null;default:1"`
	// BillDay is the Beijing day (YYYY-MM-DD) of the channel bill whose
	// reconciliation found it, "" when no bill did (a notification, a
	// query). With Account it ties the discrepancy to a Reconciliation.
	BillDay    string `gorm:"size:10;not null;default:'';index:,composite:account_day,priority:2"`
	ResolvedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DeliveryStatus is the state of an outbox entry.
type DeliveryStatus string

// Delivery states. PENDING → DELIVERED, or PENDING → DEAD once the retry
// schedule is exhausted (a dead delivery can be sent again by hand).
const (
	DeliveryPending   DeliveryStatus = "PENDING"
	DeliveryDelivered DeliveryStatus = "DELIVERED"
	DeliveryDead      DeliveryStatus = "DEAD"
)

// Delivery targets.
const (
	TargetWebhook = "webhook" // the app's NotifyURL
	TargetHooks   = "hooks"   // the After... hooks of the host process
)

// Delivery is the transactional outbox: one row per event and target,
// inserted in the transaction of the state change it reports, then
// delivered at least once by the workers.
type Delivery struct {
	ID       int64  `gorm:"primaryKey;autoIncrement"`
	EventID  string `gorm:"size:40;not null;index"` // the webhook's "id"; the same on every retry
	AppID    string `gorm:"size:32;not null;index"`
	Type     string `gorm:"size:32;not null"` // charge.succeeded, charge.closed, refund.succeeded, refund.failed, refund.abnormal
	Target   string `gorm:"size:16;not null"` // TargetWebhook or TargetHooks
	ChargeID int64  `gorm:"not null"`
	RefundID int64  `gorm:"not null;default:0"`
	URL      string `gorm:"size:2048;not null;default:''"` // webhook target at the time of the event
	Body     string `gorm:"type:text"`                     // the webhook body, {"id","type","created","data"}

	Status        DeliveryStatus `gorm:"size:16;not null;index:,composite:due,priority:1"`
	NextAttemptAt time.Time      `gorm:"not null;index:,composite:due,priority:2"`
	Attempts      int            `gorm:"not null;default:0"`
	LeaseUntil    *time.Time
	LeaseToken    string `gorm:"size:32;not null;default:''"`
	LastStatus    int    `gorm:"not null;default:0"` // HTTP status of the last attempt (0: none)
	LastError     string `gorm:"size:512;not null;default:''"`
	LastAttemptAt *time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Setting is one named value the pay center keeps for itself, such as the
// generated development app's key and secret (so they survive restarts).
// Name is unique: concurrent writers insert-or-read, never overwrite.
type Setting struct {
	Name      string `gorm:"primaryKey;size:64"`
	Value     string `gorm:"type:text;not null"`
	UpdatedAt time.Time
}

// Tables names the pay center's tables for one prefix.
type Tables struct {
	Charges       string
	Refunds       string
	Nonces        string
	Notifications string
	Deliveries    string
	Discrepancies string
	Settings      string
	// Reconciliations holds the daily bill reconciliation reports and
	// BillRows the rows of the bill being reconciled (see Reconciliation).
	Reconciliations string
	BillRows        string
}

// NewTables returns the table names for prefix (e.g. "pay_").
func NewTables(prefix string) Tables {
	return Tables{
		Charges:       prefix + "charges",
		Refunds:       prefix + "refunds",
		Nonces:        prefix + "nonces",
		Notifications: prefix + "notifications",
		Deliveries:    prefix + "deliveries",
		Discrepancies: prefix + "discrepancies",
		Settings:      prefix + "settings",

		Reconciliations: prefix + "reconciliations",
		BillRows:        prefix + "bill_rows",
	}
}

// ReconciliationStatus is the state of one reconciliation of a bill.
type ReconciliationStatus string

// Reconciliation states. RUNNING while a process holds its lease; DONE once
// the whole bill was compared; NOT_READY when the channel had no bill for
// the day (yet); FAILED when the bill could not be downloaded, was refused
// (a bad hash, a truncated archive, rows that disagree with its summary:
// nothing of it was applied) or the run broke off.
const (
	ReconciliationRunning  ReconciliationStatus = "RUNNING"
	ReconciliationDone     ReconciliationStatus = "DONE"
	ReconciliationNotReady ReconciliationStatus = "NOT_READY"
	ReconciliationFailed   ReconciliationStatus = "FAILED"
)

// Reconciliation is the report of the daily bill reconciliation of one
// channel account for one Beijing day, unique on (Account, BillDay). A run
// again for the same day updates it. The counts and sums (fen) are those of
// the last run; Applied and Discrepancies count the discrepancies tied to
// the day (Discrepancy.BillDay) when it ended.
type Reconciliation struct {
	ID       int64  `gorm:"primaryKey;autoIncrement"`
	Provider string `gorm:"size:16;not null"`
	Account  string `gorm:"size:96;not null;uniqueIndex:,composite:account_day,priority:1"`
	BillDay  string `gorm:"size:10;not null;uniqueIndex:,composite:account_day,priority:2;index"`

	Status ReconciliationStatus `gorm:"size:16;not null;index"`
	// BillRows counts every row of the bill; the others count rows that
	// moved money (a WeChat Pay payment row other than SUCCESS did not).
	BillRows           int64 `gorm:"not null;default:0"`
	BillPayments       int64 `gorm:"not null;default:0"`
	BillPaymentAmount  int64 `gorm:"not null;default:0"`
	BillRefunds        int64 `gorm:"not null;default:0"`
	BillRefundAmount   int64 `gorm:"not null;default:0"`
	LocalPayments      int64 `gorm:"not null;default:0"` // charges of the account paid that day (channel's time)
	LocalPaymentAmount int64 `gorm:"not null;default:0"`
	LocalRefunds       int64 `gorm:"not null;default:0"` // refunds that succeeded that day
	LocalRefundAmount  int64 `gorm:"not null;default:0"`
	// Matched counts the bill's rows that agree with the pay center's
	// records after the run (those it applied included).
	Matched       int64 `gorm:"not null;default:0"`
	Applied       int64 `gorm:"not null;default:0"`
	Discrepancies int64 `gorm:"not null;default:0"` // open ones
	// Partial: the bill was taken before the day was over, so what the
	// bill lacks was not looked for.
	Partial bool   `gorm:"not null;default:false"`
	Error   string `gorm:"size:512;not null;default:''"`

	Attempts      int `gorm:"not null;default:0"`
	NextAttemptAt *time.Time
	// LeaseUntil/LeaseToken: one process at a time runs it.
	LeaseUntil *time.Time
	LeaseToken string `gorm:"size:32;not null;default:''"`
	StartedAt  *time.Time
	FinishedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// StagedBillRow is one row of a bill being reconciled, copied from the
// downloaded file before anything is compared, so that a bill of millions
// of rows is matched in bounded memory and the bill's own summary is
// checked before anything is applied. A run deletes its rows when it ends.
type StagedBillRow struct {
	ID               int64                `gorm:"primaryKey;autoIncrement"`
	ReconciliationID int64                `gorm:"not null;index:,composite:trade,priority:1;index:,composite:refund,priority:1"`
	Line             int64                `gorm:"not null;default:0"`
	Kind             channels.BillRowKind `gorm:"size:8;not null"`
	OutTradeNo       string               `gorm:"size:64;not null;default:'';index:,composite:trade,priority:2"`
	OutRefundNo      string               `gorm:"size:64;not null;default:'';index:,composite:refund,priority:2"`
	TransactionID    string               `gorm:"size:64;not null;default:''"`
	Amount           int64                `gorm:"not null"` // fen
	OccurredAt       time.Time            `gorm:"not null"` // the row's time (payment or refund)
	Status           string               `gorm:"size:32;not null;default:''"`
	// Settled: the row moved money (the channel's success word).
	Settled bool `gorm:"not null;default:false"`
	// Marker is the pay center's marker echoed in the row, when the
	// channel's bill carries it (WeChat Pay 商户数据包).
	Marker    string `gorm:"size:128;not null;default:''"`
	HasMarker bool   `gorm:"not null;default:false"`
}
