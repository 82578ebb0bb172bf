package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/internal/clip"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// recordDiscrepancy stores what a channel said that does not match the
// pay center's records, for a person to look at, and logs it. Seen again
// (a channel resending the same notification), it is the same row with one
// more occurrence. It is its own transaction: the caller applies nothing.
func (s *Service) recordDiscrepancy(ctx context.Context, d *models.Discrepancy) {
	prepareDiscrepancy(d)
	s.logger(ctx).ErrorContext(ctx, "paycenter: discrepancy with the channel, not applied; see PayCenter.Discrepancies",
		"kind", d.Kind, "source", d.Source, "appId", d.AppID, "account", d.Account, "outTradeNo", d.OutTradeNo,
		"outRefundNo", d.OutRefundNo, "localAmount", d.LocalAmount, "channelAmount", d.ChannelAmount, "detail", d.Detail)
	if err := s.saveDiscrepancy(context.WithoutCancel(ctx), d); err != nil {
		s.logger(ctx).ErrorContext(ctx, "paycenter: store discrepancy", "kind", d.Kind, "outTradeNo", d.OutTradeNo, "err", err)
	}
}

// saveDiscrepancy inserts d, or counts one more occurrence of the
// discrepancy with the same key.
func (s *Service) saveDiscrepancy(ctx context.Context, d *models.Discrepancy) error {
	now := s.utcNow()
	d.Status, d.Occurrences, d.CreatedAt, d.UpdatedAt = models.DiscrepancyOpen, 1, now, now
	err := s.db.Single(ctx, func(db *gorm.DB) error { return db.Table(s.t.Discrepancies).Create(d).Error })
	if !store.Duplicate(err) {
		return err
	}
	return s.db.Single(ctx, func(db *gorm.DB) error {
		return db.Table(s.t.Discrepancies).Where("dedupe_key = ?", d.DedupeKey).
			Updates(map[string]any{"occurrences": gorm.Expr("occurrences + 1"), "updated_at": now}).Error
	})
}

// prepareDiscrepancy makes d's text from outside storable and sets its
// dedupe key.
func prepareDiscrepancy(d *models.Discrepancy) {
	d.OutTradeNo, d.OutRefundNo = clean(d.OutTradeNo, 64), clean(d.OutRefundNo, 64)
	d.TransactionID, d.Detail = clean(d.TransactionID, 64), clean(d.Detail, 500)
	d.DedupeKey = discrepancyKey(d)
}

// discrepancyKey identifies a discrepancy whatever its source.
func discrepancyKey(d *models.Discrepancy) string {
	h := sha256.Sum256([]byte(strings.Join([]string{string(d.Kind), d.Account, d.AppID, d.OutTradeNo,
		d.OutRefundNo, d.TransactionID, fmt.Sprint(d.ChannelAmount)}, "\x1f")))
	return hex.EncodeToString(h[:])
}

// Discrepancies lists discrepancies, newest first.
func (s *Service) Discrepancies(ctx context.Context, f paytype.DiscrepancyFilter) ([]models.Discrepancy, error) {
	q := s.db.R.WithContext(ctx).Table(s.t.Discrepancies)
	for col, v := range map[string]string{"status": string(f.Status), "kind": string(f.Kind), "app_id": f.AppID, "out_trade_no": f.OutTradeNo} {
		if v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []models.Discrepancy
	return out, internal0(q.Order("id DESC").Limit(f.Limit).Find(&out).Error)
}

// ResolveDiscrepancy marks discrepancy id resolved, with a person's note.
func (s *Service) ResolveDiscrepancy(ctx context.Context, id int64, note string) error {
	if err := text("note", note, true, 1000); err != nil {
		return err
	}
	now := s.utcNow()
	found, err := s.db.UpdateByID(ctx, s.t.Discrepancies, id, map[string]any{
		"status": models.DiscrepancyResolved, "note": note, "resolved_at": now, "updated_at": now})
	if err != nil {
		return internal(err)
	}
	if !found {
		return newErr(paytype.CodeNotFound, "no discrepancy %d", id)
	}
	return nil
}

// clean makes text from outside (a channel's answer, a notification)
// storable in any database: valid UTF-8 without control characters (NUL is
// refused by PostgreSQL), at most n bytes.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
	return clip.Bytes(s, n)
}

// Clean is clean for other packages: text from outside made safe to store
// and to show (valid UTF-8, no control characters, at most n bytes).
func Clean(s string, n int) string { return clean(s, n) }
