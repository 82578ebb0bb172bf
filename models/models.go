// Package models holds the GORM models of the pay center's tables and their
// migration.
//
// Every table name carries a prefix (default "pay_") chosen by the host, so
// the models do not implement TableName: the pay center addresses them with
// [Tables]. Times are stored in UTC. Money is int64 fen. State changes are
// conditional updates on Status, never full-row saves, so concurrent
// notifications, queries and requests cannot overwrite each other.
package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
)

// ChargeStatus is the pay center's state of a charge.
type ChargeStatus string

// Charge states. CREATED → PAID, CREATED → CLOSED, and CLOSED → PAID for a
// late payment (money was taken after the charge closed; LatePaid is set).
const (
	ChargeCreated ChargeStatus = "CREATED"
	ChargePaid    ChargeStatus = "PAID"
	ChargeClosed  ChargeStatus = "CLOSED"
)

// RefundStatus is the pay center's state of a refund, as answered on the wire.
type RefundStatus string

// Refund states. PROCESSING → SUCCESS or PROCESSING → FAILED.
const (
	RefundProcessing RefundStatus = "PROCESSING"
	RefundSucceeded  RefundStatus = "SUCCESS"
	RefundFailed     RefundStatus = "FAILED"
)

// Charge is one payment order of one application, unique on
// (AppID, OutTradeNo).
type Charge struct {
	ID          int64         `gorm:"primaryKey;autoIncrement"`
	AppID       string        `gorm:"size:32;not null;uniqueIndex:,composite:app_trade,priority:1"`
	OutTradeNo  string        `gorm:"size:32;not null;uniqueIndex:,composite:app_trade,priority:2"`
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

	Status   ChargeStatus `gorm:"size:16;not null;index"`
	LatePaid bool         `gorm:"not null;default:false"`
	// ChannelParams is the JSON channelParams once the channel order exists;
	// empty while it does not (reserved, or the channel call failed).
	ChannelParams string `gorm:"type:text"`
	// LeaseUntil/LeaseToken guard the channel call: one caller at a time.
	LeaseUntil    *time.Time
	LeaseToken    string     `gorm:"size:32;not null;default:''"`
	TransactionID string     `gorm:"size:64;not null;default:''"`
	PaidAt        *time.Time // the channel's payment time
	ClosedAt      *time.Time
	// RefundReserved is the sum of succeeded and processing refunds;
	// RefundedFee the sum of succeeded ones. RefundReserved ≤ TotalFee is
	// kept by a conditional update, whatever the concurrency.
	RefundReserved int64 `gorm:"not null;default:0"`
	RefundedFee    int64 `gorm:"not null;default:0"`
	// NextQueryAt is when the reconciliation worker next asks the channel
	// about this unpaid charge (nil: never, e.g. the sandbox); QueryCount
	// counts the queries made, which picks the next interval.
	NextQueryAt *time.Time `gorm:"index"`
	QueryCount  int        `gorm:"not null;default:0"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Refund is one refund of a charge, unique on (AppID, OutRefundNo).
type Refund struct {
	ID          int64        `gorm:"primaryKey;autoIncrement"`
	AppID       string       `gorm:"size:32;not null;uniqueIndex:,composite:app_refund,priority:1"`
	OutRefundNo string       `gorm:"size:64;not null;uniqueIndex:,composite:app_refund,priority:2"`
	ChargeID    int64        `gorm:"not null;index"`
	OutTradeNo  string       `gorm:"size:32;not null"`
	RefundFee   int64        `gorm:"not null"` // fen
	RefundDesc  string       `gorm:"size:320;not null;default:''"`
	Status      RefundStatus `gorm:"size:16;not null;index"`
	// Submitted is set once the channel has accepted the refund request;
	// until then a retry sends it again with the same OutRefundNo.
	Submitted  bool `gorm:"not null;default:false"`
	LeaseUntil *time.Time
	LeaseToken string     `gorm:"size:32;not null;default:''"`
	FailReason string     `gorm:"size:512;not null;default:''"`
	RefundedAt *time.Time // the channel's refund time
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
// whether or not it was accepted.
type Notification struct {
	ID         int64  `gorm:"primaryKey;autoIncrement"`
	AppID      string `gorm:"size:32;not null;index"`
	Provider   string `gorm:"size:16;not null"`
	Path       string `gorm:"size:64;not null"`
	OutTradeNo string `gorm:"size:32;not null;default:'';index"`
	Headers    string `gorm:"type:text"` // the channel's signature headers, JSON
	Body       string `gorm:"type:text"`
	Accepted   bool   `gorm:"not null"`
	Error      string `gorm:"size:512;not null;default:''"`
	CreatedAt  time.Time
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
	Type     string `gorm:"size:32;not null"` // charge.succeeded, charge.closed, refund.succeeded, refund.failed
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
	Settings      string
}

// NewTables returns the table names for prefix (e.g. "pay_").
func NewTables(prefix string) Tables {
	return Tables{
		Charges:       prefix + "charges",
		Refunds:       prefix + "refunds",
		Nonces:        prefix + "nonces",
		Notifications: prefix + "notifications",
		Deliveries:    prefix + "deliveries",
		Settings:      prefix + "settings",
	}
}

// Migrate creates or updates the tables. It is idempotent.
//
// On MySQL and MariaDB the tables are created with the binary collation
// utf8mb4_bin: outTradeNo, outRefundNo and nonces are case-sensitive, and
// the servers' default collations would make "abcd1234" and "ABCD1234" one
// order. (Tables created by an earlier version keep their collation; alter
// them to utf8mb4_bin.)
func Migrate(ctx context.Context, db *gorm.DB, t Tables) error {
	db = db.WithContext(ctx)
	if db.Dialector.Name() == "mysql" {
		db = db.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	}
	for _, m := range []struct {
		table string
		model any
	}{
		{t.Charges, &Charge{}},
		{t.Refunds, &Refund{}},
		{t.Nonces, &Nonce{}},
		{t.Notifications, &Notification{}},
		{t.Deliveries, &Delivery{}},
		{t.Settings, &Setting{}},
	} {
		if err := db.Table(m.table).AutoMigrate(m.model); err != nil {
			return fmt.Errorf("migrate %s: %w", m.table, err)
		}
	}
	return nil
}
