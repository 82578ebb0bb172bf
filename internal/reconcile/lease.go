package reconcile

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/store"
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
	return r.o.DB.W.WithContext(ctx).Table(r.o.Tables.Reconciliations)
}

func (r *Reconciler) now() time.Time { return r.o.Now().UTC() }

// claim takes the lease of the report of (account, day), creating the
// report first. due restricts it to a report the worker should run: new,
// interrupted, waiting for a retry whose time has come, or done before the
// day was over. id is 0 when another process holds it (or, with due, it is
// not due).
func (r *Reconciler) claim(ctx context.Context, provider, account string, day channels.Day, due bool) (id int64, l store.Lease, err error) {
	now := r.now()
	row := models.Reconciliation{Provider: provider, Account: account, BillDay: day.String(),
		Status: models.ReconciliationRunning, CreatedAt: now, UpdatedAt: now}
	// The row may exist (or be inserted by another process right now):
	// then nothing happens, and the claim below decides.
	err = r.o.DB.Single(ctx, func(db *gorm.DB) error {
		return db.Table(r.o.Tables.Reconciliations).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	})
	if err != nil {
		return 0, l, err
	}
	var ids []int64
	if err := r.reports(ctx).Where("account = ? AND bill_day = ?", account, day.String()).Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
		return 0, l, err
	}
	var where string
	var args []any
	if due {
		where = "status = ? OR (status IN ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)) OR (status = ? AND partial = ?)"
		args = []any{models.ReconciliationRunning, []models.ReconciliationStatus{models.ReconciliationNotReady, models.ReconciliationFailed}, now,
			models.ReconciliationDone, true}
	}
	l = store.NewLease(now.Add(leaseTTL))
	ok, err := store.Claim(ctx, r.o.DB, r.o.Tables.Reconciliations, ids[0], now, l, where, args, map[string]any{
		"status": models.ReconciliationRunning, "attempts": gorm.Expr("attempts + 1"), "started_at": now, "error": "", "updated_at": now,
	})
	if err != nil || !ok {
		return 0, l, err
	}
	return ids[0], l, nil
}

// hold renews lease l of report id every leaseTTL/3 until the returned
// stop is called. When the lease is lost it cancels the run's context
// with errLostLease.
func (r *Reconciler) hold(ctx context.Context, id int64, l store.Lease) (context.Context, func()) {
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
			// A failed statement is retried at the next tick.
			if held, _ := store.Renew(ctx, r.o.DB, r.o.Tables.Reconciliations, id, l, r.now().Add(leaseTTL)); !held {
				cancel(errLostLease)
				return
			}
		}
	}()
	return ctx, func() { cancel(nil); <-done }
}
