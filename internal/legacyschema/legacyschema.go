// Package legacyschema is a frozen copy of the models of release 1f555fd
// (the last release that created its tables with GORM AutoMigrate), for
// tests that upgrade a database written by that release.
//
// Do not edit the structs: they are what that release's AutoMigrate turned
// into tables. Typed strings of the release (channels.Code, the statuses)
// are plain strings here; GORM gives them the same columns.
package legacyschema

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Charge is the charges table of 1f555fd.
type Charge struct {
	ID          int64     `gorm:"primaryKey;autoIncrement"`
	AppID       string    `gorm:"size:32;not null;uniqueIndex:,composite:app_trade,priority:1"`
	OutTradeNo  string    `gorm:"size:32;not null;uniqueIndex:,composite:app_trade,priority:2"`
	Channel     string    `gorm:"size:16;not null"`
	TotalFee    int64     `gorm:"not null"` // fen
	FeeType     string    `gorm:"size:8;not null"`
	ClientIP    string    `gorm:"size:64;not null"`
	Subject     string    `gorm:"size:512;not null"`
	Body        string    `gorm:"size:512;not null"`
	Description string    `gorm:"size:1024;not null;default:''"`
	Attach      string    `gorm:"size:128;not null;default:''"`
	Analysis    string    `gorm:"type:text"`
	ReturnURL   string    `gorm:"size:2048;not null;default:''"`
	OpenID      string    `gorm:"size:128;not null;default:''"`
	CreatedMs   int64     `gorm:"not null"` // the merchant's "created", ms since epoch
	TimeExpire  int64     `gorm:"not null"` // seconds, as requested
	ExpireAt    time.Time `gorm:"not null;index"`

	Status   string `gorm:"size:16;not null;index"`
	LatePaid bool   `gorm:"not null;default:false"`
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

// Refund is the refunds table of 1f555fd.
type Refund struct {
	ID          int64  `gorm:"primaryKey;autoIncrement"`
	AppID       string `gorm:"size:32;not null;uniqueIndex:,composite:app_refund,priority:1"`
	OutRefundNo string `gorm:"size:64;not null;uniqueIndex:,composite:app_refund,priority:2"`
	ChargeID    int64  `gorm:"not null;index"`
	OutTradeNo  string `gorm:"size:32;not null"`
	RefundFee   int64  `gorm:"not null"` // fen
	RefundDesc  string `gorm:"size:320;not null;default:''"`
	Status      string `gorm:"size:16;not null;index"`
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

// Nonce is the nonces table of 1f555fd.
type Nonce struct {
	AppID     string    `gorm:"primaryKey;size:32"`
	Nonce     string    `gorm:"primaryKey;size:64"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// Notification is the notifications table of 1f555fd.
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

// Delivery is the deliveries table of 1f555fd.
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

	Status        string    `gorm:"size:16;not null;index:,composite:due,priority:1"`
	NextAttemptAt time.Time `gorm:"not null;index:,composite:due,priority:2"`
	Attempts      int       `gorm:"not null;default:0"`
	LeaseUntil    *time.Time
	LeaseToken    string `gorm:"size:32;not null;default:''"`
	LastStatus    int    `gorm:"not null;default:0"` // HTTP status of the last attempt (0: none)
	LastError     string `gorm:"size:512;not null;default:''"`
	LastAttemptAt *time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Create creates the tables for prefix as release 1f555fd did.
// defaultCollation leaves MySQL tables in the database's default collation,
// as releases before the binary-collation fix (1aaceee) created them and
// as 1f555fd left them ("tables created by an earlier version keep their
// collation"); false adds 1f555fd's utf8mb4_bin table options.
func Create(ctx context.Context, db *gorm.DB, prefix string, defaultCollation bool) error {
	db = db.WithContext(ctx)
	if db.Dialector.Name() == "mysql" && !defaultCollation {
		db = db.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	}
	for _, m := range []struct {
		table string
		model any
	}{
		{prefix + "charges", &Charge{}},
		{prefix + "refunds", &Refund{}},
		{prefix + "nonces", &Nonce{}},
		{prefix + "notifications", &Notification{}},
		{prefix + "deliveries", &Delivery{}},
	} {
		if err := db.Table(m.table).AutoMigrate(m.model); err != nil {
			return fmt.Errorf("automigrate %s: %w", m.table, err)
		}
	}
	return nil
}
