package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/clip"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
)

// maxRowErrors bounds the row errors a run keeps for its report and log.
const maxRowErrors = 5

// run is one reconciliation of one account's bill of one day.
type run struct {
	r        *Reconciler
	id       int64
	provider string
	account  string
	day      channels.Day
	partial  bool // the day was not over when the run began

	rep       models.Reconciliation // the counts as they grow
	rowErrs   []error               // the first maxRowErrors
	rowErrN   int                   // every row that could not be applied
	found     []*models.Discrepancy // the first few found, for the log
	foundOpen int64                 // OPEN discrepancies found by this run
}

// runAccount claims and runs the reconciliation of one account's bill of
// day, records its outcome in the report and returns the report's id (0
// when it was not claimed: another process holds it or, for the worker, it
// is not due).
func (r *Reconciler) runAccount(ctx context.Context, provider, account string, bd channels.BillDownloader, day channels.Day, due bool) (int64, error) {
	id, lease, err := r.claim(ctx, provider, account, day, due)
	switch {
	case err != nil:
		return 0, fmt.Errorf("reconcile: claim the report: %w", err)
	case id == 0 && due:
		return 0, nil
	case id == 0:
		return 0, ErrBusy
	}
	runCtx, release := r.hold(ctx, id, lease)
	ru := &run{r: r, id: id, provider: provider, account: account, day: day, partial: r.o.Now().Before(day.End())}
	err = ru.reconcile(runCtx, bd)
	switch cause := context.Cause(runCtx); {
	case err == nil:
	case errors.Is(cause, errLostLease):
		err = cause
	case ctx.Err() != nil:
		err = errStopped
	}
	release()
	return id, r.finish(context.WithoutCancel(ctx), ru, lease, err)
}

// reconcile downloads, stages and compares the bill.
func (ru *run) reconcile(ctx context.Context, bd channels.BillDownloader) error {
	dctx, call := ru.r.o.Telemetry.StartCall(ctx, ru.provider, telemetry.OpBill, "")
	bill, err := bd.DownloadBill(dctx, ru.day)
	call.End(err)
	if err != nil {
		return err
	}
	defer bill.Close()
	defer ru.r.unstage(context.WithoutCancel(ctx), ru.id)
	if err := ru.stage(ctx, bill); err != nil {
		return err
	}
	if err := ru.compare(ctx); err != nil {
		return err
	}
	if !ru.partial {
		if err := ru.missing(ctx); err != nil {
			return err
		}
	}
	t, err := ru.r.o.Books.Tally(ctx, ru.account, ru.day.Start(), ru.day.End())
	if err != nil {
		return err
	}
	ru.rep.LocalPayments, ru.rep.LocalPaymentAmount = t.Payments, t.PaymentAmount
	ru.rep.LocalRefunds, ru.rep.LocalRefundAmount = t.Refunds, t.RefundAmount
	if ru.rowErrN > 0 {
		return fmt.Errorf("%d rows of the bill could not be applied (they will be tried again): %w", ru.rowErrN, errors.Join(ru.rowErrs...))
	}
	return nil
}

// stage copies the bill's rows into the staging table in batches, tallying
// them, and checks the tally against the bill's own summary: a bill that
// disagrees with itself is refused before anything is applied.
func (ru *run) stage(ctx context.Context, bill channels.BillReader) error {
	ru.r.unstage(ctx, ru.id) // rows of an interrupted run
	var tally channels.BillTally
	batch := make([]models.StagedBillRow, 0, ru.r.o.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := ru.r.o.DB.W.WithContext(ctx).Table(ru.r.o.Tables.BillRows).Create(&batch).Error
		batch = batch[:0]
		return err
	}
	for {
		row, err := bill.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		tally.Add(row)
		s := ru.staged(row)
		ru.count(&s)
		if batch = append(batch, s); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := bill.Summary().Check(tally); err != nil {
		return fmt.Errorf("%w: %v", channels.ErrBillInvalid, err)
	}
	return nil
}

// count adds a staged row to the bill's side of the report.
func (ru *run) count(s *models.StagedBillRow) {
	ru.rep.BillRows++
	if !s.Settled {
		return
	}
	if s.Kind == channels.BillPayment {
		ru.rep.BillPayments++
		ru.rep.BillPaymentAmount += s.Amount
	} else {
		ru.rep.BillRefunds++
		ru.rep.BillRefundAmount += s.Amount
	}
}

// unstage deletes the staged rows of report id.
func (r *Reconciler) unstage(ctx context.Context, id int64) {
	err := r.o.DB.W.WithContext(ctx).Table(r.o.Tables.BillRows).Where("reconciliation_id = ?", id).
		Delete(&models.StagedBillRow{}).Error
	if err != nil {
		r.o.Logger.ErrorContext(ctx, "paycenter: reconciliation: delete staged bill rows", "reconciliation", id, "err", err)
	}
}

// finish records the run's outcome in its report and releases the lease.
func (r *Reconciler) finish(ctx context.Context, ru *run, l store.Lease, runErr error) error {
	now := r.now()
	upd := map[string]any{
		"finished_at": now, "updated_at": now, "partial": ru.partial,
		"bill_rows": ru.rep.BillRows, "bill_payments": ru.rep.BillPayments, "bill_payment_amount": ru.rep.BillPaymentAmount,
		"bill_refunds": ru.rep.BillRefunds, "bill_refund_amount": ru.rep.BillRefundAmount,
		"local_payments": ru.rep.LocalPayments, "local_payment_amount": ru.rep.LocalPaymentAmount,
		"local_refunds": ru.rep.LocalRefunds, "local_refund_amount": ru.rep.LocalRefundAmount, "matched": ru.rep.Matched,
	}
	applied, open, err := r.countItems(ctx, ru.account, ru.day)
	if err == nil {
		upd["applied"], upd["discrepancies"] = applied, open
	}
	status := models.ReconciliationDone
	switch {
	case runErr == nil:
		upd["error"], upd["next_attempt_at"] = "", nil
	case errors.Is(runErr, channels.ErrBillNotReady):
		status = models.ReconciliationNotReady
	default:
		status = models.ReconciliationFailed
	}
	upd["status"] = status
	if runErr != nil {
		upd["error"] = clip.Bytes(runErr.Error(), 500)
		upd["next_attempt_at"] = now.Add(r.o.RetryInterval)
		if errors.Is(runErr, errStopped) {
			upd["next_attempt_at"] = now
		}
	}
	if _, serr := store.Settle(ctx, r.o.DB, r.o.Tables.Reconciliations, ru.id, l, upd); serr != nil {
		err = errors.Join(err, serr)
	}
	ru.log(ctx, status, runErr)
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("reconcile: record the report: %w", err))
	}
	return runErr
}

// countItems counts the applied and the open discrepancies tied to the
// account's day.
func (r *Reconciler) countItems(ctx context.Context, account string, day channels.Day) (applied, open int64, err error) {
	var rows []struct {
		Status models.DiscrepancyStatus
		N      int64
	}
	err = r.o.DB.W.WithContext(ctx).Table(r.o.Tables.Discrepancies).Select("status, COUNT(*) AS n").
		Where("account = ? AND bill_day = ?", account, day.String()).Group("status").Scan(&rows).Error
	for _, row := range rows {
		switch row.Status {
		case models.DiscrepancyApplied:
			applied = row.N
		case models.DiscrepancyOpen:
			open = row.N
		}
	}
	return applied, open, err
}

// log writes the run's outcome: one line, and the first discrepancies it
// found (a bill of a million foreign orders is not a million log lines).
func (ru *run) log(ctx context.Context, status models.ReconciliationStatus, err error) {
	l := ru.r.o.Logger.With("account", ru.account, "billDay", ru.day.String(), "status", status)
	switch {
	case errors.Is(err, channels.ErrBillNotReady):
		l.InfoContext(ctx, "paycenter: reconciliation: the channel has no bill for the day yet", "err", err)
		return
	case err != nil:
		l.ErrorContext(ctx, "paycenter: reconciliation failed", "err", err)
	default:
		l.InfoContext(ctx, "paycenter: reconciliation done", "billRows", ru.rep.BillRows, "matched", ru.rep.Matched, "partial", ru.partial)
	}
	for _, d := range ru.found {
		l.WarnContext(ctx, "paycenter: reconciliation: the bill differs from the books; see PayCenter.Discrepancies", "kind", d.Kind,
			"outTradeNo", d.OutTradeNo, "outRefundNo", d.OutRefundNo, "localAmount", d.LocalAmount, "channelAmount", d.ChannelAmount, "detail", d.Detail)
	}
	if more := ru.foundOpen - int64(len(ru.found)); more > 0 {
		l.WarnContext(ctx, "paycenter: reconciliation: more discrepancies not logged", "count", more)
	}
}
