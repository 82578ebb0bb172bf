package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// leaseTTL is how long a run's lease lasts without renewal; a running
// run renews it every leaseTTL/3, so a crashed process's day is taken over
// within a minute.
const leaseTTL = time.Minute

// errLostLease: another process took the run's lease (this one stalled
// for longer than leaseTTL).
var errLostLease = errors.New("reconcile: lost the lease of the run to another process")

func (r *Reconciler) reports(ctx context.Context) *gorm.DB {
	return r.o.DB.WithContext(ctx).Table(r.o.Tables.Reconciliations)
}

func (r *Reconciler) now() time.Time { return r.o.Now().UTC() }

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claim takes the lease of the report of (account, day), creating the
// report first. due restricts it to a report the worker should run: new,
// interrupted, waiting for a retry whose time has come, or done before the
// day was over.
func (r *Reconciler) claim(ctx context.Context, provider, account string, day channels.Day, due bool) (id int64, token string, err error) {
	now := r.now()
	row := models.Reconciliation{Provider: provider, Account: account, BillDay: day.String(),
		Status: models.ReconciliationRunning, CreatedAt: now, UpdatedAt: now}
	// The row may exist (or be inserted by another process right now):
	// then nothing happens, and the conditional update below decides.
	if err := r.reports(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return 0, "", err
	}
	token = newToken()
	q := r.reports(ctx).Where("account = ? AND bill_day = ?", account, day.String()).
		Where("lease_until IS NULL OR lease_until < ?", now)
	if due {
		q = q.Where("status = ? OR (status IN ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)) OR (status = ? AND partial = ?)",
			models.ReconciliationRunning, []models.ReconciliationStatus{models.ReconciliationNotReady, models.ReconciliationFailed}, now,
			models.ReconciliationDone, true)
	}
	res := q.Updates(map[string]any{
		"status": models.ReconciliationRunning, "lease_until": now.Add(leaseTTL), "lease_token": token,
		"attempts": gorm.Expr("attempts + 1"), "started_at": now, "error": "", "updated_at": now,
	})
	if res.Error != nil || res.RowsAffected == 0 {
		return 0, "", res.Error
	}
	err = r.reports(ctx).Select("id").Where("account = ? AND bill_day = ? AND lease_token = ?", account, day.String(), token).
		Scan(&id).Error
	return id, token, err
}

// hold renews the lease of report id every leaseTTL/3 until the returned
// stop is called. When the lease is lost it cancels the run's context
// with errLostLease.
func (r *Reconciler) hold(ctx context.Context, id int64, token string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !r.renew(ctx, id, token) {
				cancel(errLostLease)
				return
			}
		}
	}()
	return ctx, func() { cancel(nil); <-done }
}

// renew extends the lease; it reports false only when another process
// holds it now (a failed statement is retried at the next tick).
func (r *Reconciler) renew(ctx context.Context, id int64, token string) bool {
	res := r.reports(ctx).Where("id = ? AND lease_token = ?", id, token).Update("lease_until", r.now().Add(leaseTTL))
	if res.Error != nil || res.RowsAffected == 1 {
		return true
	}
	// MySQL counts a row whose values did not change (a stopped clock in
	// a test) as unaffected: ask who holds it.
	var holder string
	err := r.reports(ctx).Select("lease_token").Where("id = ?", id).Scan(&holder).Error
	return err != nil || holder == token
}
