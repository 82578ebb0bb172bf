package core

// The core's side of the daily bill reconciliation (package
// internal/reconcile, which declares the interface as reconcile.Books): the
// lookups a bill is matched with, and the changes a bill proves, made
// through the same paths as a notification. Kept thin on purpose: every
// rule lives in the functions it calls.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/models"
)

// sourceBill marks what a channel's daily bill said (Discrepancy.Source).
const sourceBill = "bill"

// Books is the core as the reconciliation of daily bills sees it.
type Books struct{ s *Service }

// Books returns the core's books for the reconciliation of daily bills.
func (s *Service) Books() Books { return Books{s} }

// BillAccounts returns, by account name ("alipay:<app_id>",
// "wechat:<mchid>"), the channel accounts of provider whose adapter
// downloads daily bills. Apps sharing an account share its bill; the
// sandbox has none.
func (b Books) BillAccounts(provider string) map[string]channels.BillDownloader {
	out := map[string]channels.BillDownloader{}
	for id, e := range b.s.apps {
		for _, ch := range e.byCode {
			bd, ok := ch.(channels.BillDownloader)
			if !ok || ch == b.s.sandbox || ch.Provider() != provider || ch.Account() == "" {
				continue
			}
			if acct := account(id, ch); out[acct] == nil {
				out[acct] = bd
			}
		}
	}
	return out
}

// Charges returns the charges of account numbered outTradeNos.
func (b Books) Charges(ctx context.Context, account string, outTradeNos []string) ([]models.Charge, error) {
	var out []models.Charge
	err := b.s.charges(b.s.db.R.WithContext(ctx)).Where("account = ? AND out_trade_no IN ?", account, outTradeNos).Find(&out).Error
	return out, internal0(err)
}

// Refunds returns the refunds of account numbered outRefundNos.
func (b Books) Refunds(ctx context.Context, account string, outRefundNos []string) ([]models.Refund, error) {
	var out []models.Refund
	err := b.s.refunds(b.s.db.R.WithContext(ctx)).Where("account = ? AND out_refund_no IN ?", account, outRefundNos).Find(&out).Error
	return out, internal0(err)
}

// PaidCharges returns up to limit charges of account paid (by the channel's
// payment time) in [from, to), with ids above afterID, by id.
func (b Books) PaidCharges(ctx context.Context, account string, from, to time.Time, afterID int64, limit int) ([]models.Charge, error) {
	var out []models.Charge
	err := b.s.charges(b.s.db.R.WithContext(ctx)).
		Where("account = ? AND status = ? AND paid_at >= ? AND paid_at < ? AND id > ?", account, models.ChargePaid, from.UTC(), to.UTC(), afterID).
		Order("id").Limit(limit).Find(&out).Error
	return out, internal0(err)
}

// SucceededRefunds returns up to limit refunds of account that succeeded
// (by the channel's refund time) in [from, to), with ids above afterID, by
// id.
func (b Books) SucceededRefunds(ctx context.Context, account string, from, to time.Time, afterID int64, limit int) ([]models.Refund, error) {
	var out []models.Refund
	err := b.s.refunds(b.s.db.R.WithContext(ctx)).
		Where("account = ? AND status = ? AND refunded_at >= ? AND refunded_at < ? AND id > ?", account, models.RefundSucceeded, from.UTC(), to.UTC(), afterID).
		Order("id").Limit(limit).Find(&out).Error
	return out, internal0(err)
}

// Tally counts and sums what account has in [from, to): charges paid and
// refunds succeeded then.
func (b Books) Tally(ctx context.Context, account string, from, to time.Time) (channels.BillTally, error) {
	var t channels.BillTally
	var row struct{ N, Sum int64 }
	db := b.s.db.R.WithContext(ctx)
	err := b.s.charges(db).Select("COUNT(*) AS n, COALESCE(SUM(total_fee), 0) AS sum").
		Where("account = ? AND status = ? AND paid_at >= ? AND paid_at < ?", account, models.ChargePaid, from.UTC(), to.UTC()).
		Scan(&row).Error
	if err != nil {
		return t, internal(err)
	}
	t.Payments, t.PaymentAmount = row.N, row.Sum
	err = b.s.refunds(db).Select("COUNT(*) AS n, COALESCE(SUM(refund_fee), 0) AS sum").
		Where("account = ? AND status = ? AND refunded_at >= ? AND refunded_at < ?", account, models.RefundSucceeded, from.UTC(), to.UTC()).
		Scan(&row).Error
	t.Refunds, t.RefundAmount = row.N, row.Sum
	return t, internal0(err)
}

// ApplyBillPayment applies a payment the channel's bill shows for charge c
// through the notification's path (applyPayment: matching, lateness,
// hooks, outbox). When the payment does not match the charge it applies
// nothing and returns the discrepancy, for the caller to save with the
// bill's day.
func (b Books) ApplyBillPayment(ctx context.Context, c *models.Charge, p *channels.Payment) (*models.Discrepancy, error) {
	s := b.s
	e := s.apps[c.AppID]
	var ch channels.Channel
	if e != nil {
		ch = e.byCode[c.Channel]
	}
	d := &models.Discrepancy{Source: sourceBill, AppID: c.AppID, Provider: accountProvider(c.Account), Account: c.Account,
		OutTradeNo: c.OutTradeNo, TransactionID: p.TransactionID, LocalAmount: c.TotalFee, ChannelAmount: p.TotalFee}
	if ch == nil {
		d.Kind, d.Detail = models.DiscrepancyAccount, fmt.Sprintf("app %s no longer serves channel %s", c.AppID, c.Channel)
		return d, nil
	}
	// Checked here too, so that a mismatch is saved once with the bill's
	// day rather than recorded by applyPayment on every run.
	if kind, detail := mismatch(e, ch, c, p); kind != "" {
		d.Kind, d.Detail = kind, detail
		return d, nil
	}
	_, err := s.applyPayment(ctx, e, ch, c, p, sourceBill, nil)
	if errors.Is(err, errNotApplied) { // the charge changed meanwhile; recorded as a discrepancy
		err = nil
	}
	return nil, err
}

// RecordBillRefund records a refund the channel's bill shows for charge c
// that the pay center does not know (made by hand in the merchant
// console): a SUCCESS refund numbered rf.OutRefundNo that counts against
// the refundable balance (never beyond what was paid: the same conditional
// update as reserveRefund), with OnRefund in its transaction and the
// refund.succeeded event. When it cannot count (the charge is not paid
// here, or the balance is smaller) it records nothing and returns the
// discrepancy, for the caller to save with the bill's day. A refund with
// that number recorded meanwhile (another run) is not an error.
func (b Books) RecordBillRefund(ctx context.Context, c *models.Charge, rf *channels.Refund) (*models.Discrepancy, error) {
	s := b.s
	now := s.utcNow()
	r := &models.Refund{
		AppID: c.AppID, OutRefundNo: rf.OutRefundNo, Account: c.Account, ChargeID: c.ID, OutTradeNo: c.OutTradeNo,
		RefundFee: rf.RefundFee, RefundDesc: "refunded at the channel, found in its daily bill", Status: models.RefundProcessing,
		Submitted: true, CreatedAt: now, UpdatedAt: now,
	}
	errNoRoom := errors.New("the charge cannot take the refund")
	err := s.write(ctx, func(t *txn) error {
		r.ID, r.Status = 0, models.RefundProcessing // a retried transaction inserts afresh
		if err := s.refunds(t.DB).Create(r).Error; err != nil {
			return err
		}
		res := s.charges(t.DB).Where("id = ? AND status = ? AND refund_reserved + ? <= total_fee", c.ID, models.ChargePaid, r.RefundFee).
			Updates(map[string]any{"refund_reserved": gorm.Expr("refund_reserved + ?", r.RefundFee), "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errNoRoom
		}
		// Reserved, then succeeded through the transition table: the same
		// accounting, OnRefund and refund.succeeded as a refund sent here.
		_, _, err := s.moveRefund(ctx, t, r, &channels.Refund{Status: channels.RefundSucceeded, RefundedAt: rf.RefundedAt})
		return err
	})
	switch {
	case err == nil, store.Duplicate(err):
		return nil, nil
	case !errors.Is(err, errNoRoom):
		return nil, internal(err)
	}
	cur, err := s.findCharge(ctx, s.db.W, c.AppID, c.OutTradeNo)
	if err != nil {
		return nil, err
	}
	// LocalAmount: what the pay center could still refund.
	d := &models.Discrepancy{Kind: models.DiscrepancyRefundUnknown, Source: sourceBill, AppID: c.AppID,
		Provider: accountProvider(c.Account), Account: c.Account, OutTradeNo: c.OutTradeNo, OutRefundNo: rf.OutRefundNo,
		ChannelAmount: rf.RefundFee}
	if cur.Status != models.ChargePaid {
		d.Detail = fmt.Sprintf("refunded at the channel, but the charge is %s here: not recorded", cur.Status)
	} else {
		d.LocalAmount = cur.TotalFee - cur.RefundReserved
		d.Detail = fmt.Sprintf("refunded %d fen at the channel, but only %d of %d fen are refundable here: not recorded",
			rf.RefundFee, cur.TotalFee-cur.RefundReserved, cur.TotalFee)
	}
	return d, nil
}

// SaveBillDiscrepancies saves discrepancies found in a bill, each once: one
// found again (a run again for the day, or one a notification reported
// before) is not counted again, only tied to its day (BillDay). Each d's
// Status is OPEN, or APPLIED for what the bill corrected; all are of one
// BillDay (one run's). One transaction
// and a few statements per call, however many: a bill of a million foreign
// orders is saved a batch at a time. The caller logs them (a summary per
// bill rather than a line per row).
func (b Books) SaveBillDiscrepancies(ctx context.Context, ds []*models.Discrepancy) error {
	if len(ds) == 0 {
		return nil
	}
	s := b.s
	byKey := map[string]*models.Discrepancy{}
	keys := make([]string, 0, len(ds))
	now := s.utcNow()
	for _, d := range ds {
		d.Source = sourceBill
		prepareDiscrepancy(d)
		d.Occurrences, d.CreatedAt, d.UpdatedAt = 1, now, now
		if byKey[d.DedupeKey] == nil {
			byKey[d.DedupeKey] = d
			keys = append(keys, d.DedupeKey)
		}
	}
	err := s.write(ctx, func(t *txn) error {
		tx := t.DB
		var have []string
		if err := tx.Table(s.t.Discrepancies).Where("dedupe_key IN ?", keys).Pluck("dedupe_key", &have).Error; err != nil {
			return err
		}
		if len(have) > 0 {
			err := tx.Table(s.t.Discrepancies).Where("dedupe_key IN ? AND bill_day = ''", have).
				Updates(map[string]any{"bill_day": ds[0].BillDay, "updated_at": now}).Error
			if err != nil {
				return err
			}
		}
		known := make(map[string]bool, len(have))
		for _, k := range have {
			known[k] = true
		}
		var fresh []*models.Discrepancy
		for _, k := range keys {
			if !known[k] {
				d := byKey[k]
				d.ID = 0 // a retried transaction inserts afresh
				fresh = append(fresh, d)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		return tx.Table(s.t.Discrepancies).CreateInBatches(fresh, 500).Error
	})
	if !store.Duplicate(err) {
		return internal0(err)
	}
	return b.saveOneByOne(ctx, byKey)
}

// saveOneByOne saves discrepancies one at a time, as any source does: the
// way out when another run saved one of a batch meanwhile.
func (b Books) saveOneByOne(ctx context.Context, byKey map[string]*models.Discrepancy) error {
	s := b.s
	for _, d := range byKey {
		status := d.Status
		if err := s.saveDiscrepancy(ctx, d); err != nil {
			return internal(err)
		}
		if status != models.DiscrepancyOpen {
			err := s.db.Single(ctx, func(db *gorm.DB) error {
				return db.Table(s.t.Discrepancies).Where("dedupe_key = ? AND status = ?", d.DedupeKey, models.DiscrepancyOpen).
					Update("status", status).Error
			})
			if err != nil {
				return internal(err)
			}
		}
	}
	return nil
}
