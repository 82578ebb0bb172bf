package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"gorm.io/gorm"
)

// Lease is a claim on one row: only its holder may call the channel about
// it (a charge, a refund) or attempt it (a delivery) until Until, and only
// the holder's Token may record the outcome.
type Lease struct {
	Token string
	Until time.Time
}

// NewLease returns a lease with a fresh token, held until until.
func NewLease(until time.Time) Lease { return Lease{Token: NewToken(), Until: until} }

// NewToken returns 24 random hex characters: lease tokens, event ids,
// charge markers.
func NewToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Claim takes a lease on the row id of table, when it is free (never
// leased, or its lease ended before now) and matches where/args (extra
// conditions; "" for none), setting set too: one conditional update. It
// reports whether this caller got it. Every lease of the pay center is
// taken here.
func Claim(ctx context.Context, d *DB, table string, id int64, now time.Time, l Lease, where string, args []any, set map[string]any) (bool, error) {
	upd := map[string]any{"lease_until": l.Until, "lease_token": l.Token}
	for k, v := range set {
		upd[k] = v
	}
	var n int64
	err := d.Single(ctx, func(db *gorm.DB) error {
		q := Free(db.Table(table).Where("id = ?", id), now)
		if where != "" {
			q = q.Where(where, args...)
		}
		res := q.Updates(upd)
		n = res.RowsAffected
		return res.Error
	})
	return n == 1, err
}

// Free restricts q to rows no lease holds at now (never leased, or the
// lease ended): the condition of every claim, single (Claim) or batched.
func Free(q *gorm.DB, now time.Time) *gorm.DB {
	return q.Where("lease_until IS NULL OR lease_until < ?", now)
}

// Settle records the outcome of the lease holder's work on row id of
// table: it applies set and frees the lease, only if the lease is still
// this one. It reports whether it was.
func Settle(ctx context.Context, d *DB, table string, id int64, l Lease, set map[string]any) (bool, error) {
	var ok bool
	err := d.Single(ctx, func(db *gorm.DB) error {
		var err error
		ok, err = SettleTx(db, table, id, l, set)
		return err
	})
	return ok, err
}

// SettleTx is Settle inside transaction tx (the outcome is recorded with
// the rest of a write).
func SettleTx(tx *gorm.DB, table string, id int64, l Lease, set map[string]any) (bool, error) {
	upd := map[string]any{"lease_until": nil, "lease_token": ""}
	for k, v := range set {
		upd[k] = v
	}
	res := tx.Table(table).Where("id = ? AND lease_token = ?", id, l.Token).Updates(upd)
	return res.RowsAffected == 1, res.Error
}

// Renew extends lease l on row id of table until until, for work longer
// than one lease (a bill download), and reports whether l still holds the
// row (false: another holder took it over after l ended).
func Renew(ctx context.Context, d *DB, table string, id int64, l Lease, until time.Time) (bool, error) {
	var n int64
	err := d.Single(ctx, func(db *gorm.DB) error {
		res := db.Table(table).Where("id = ? AND lease_token = ?", id, l.Token).Update("lease_until", until)
		n = res.RowsAffected
		return res.Error
	})
	if err != nil || n == 1 {
		return true, err
	}
	// MySQL counts a row whose value did not change (a stopped clock in a
	// test) as unaffected: ask who holds it.
	var holder []string
	err = d.W.WithContext(ctx).Table(table).Where("id = ?", id).Pluck("lease_token", &holder).Error
	return err != nil || (len(holder) == 1 && holder[0] == l.Token), err
}
