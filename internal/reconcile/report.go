package reconcile

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// ErrNoReport: no reconciliation report has that id.
var ErrNoReport = errors.New("reconcile: no such reconciliation report")

// Report returns report id with what its day's bill applied and the
// discrepancies it found (each list at most paytype.MaxReportItems long),
// their counts as they are now.
func (r *Reconciler) Report(ctx context.Context, id int64) (*paytype.ReconcileReport, error) {
	var row models.Reconciliation
	err := r.reports(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: %d", ErrNoReport, id)
	}
	if err != nil {
		return nil, err
	}
	rep := paytype.ReconcileReportOf(&row)
	day := r.o.DB.W.WithContext(ctx).Table(r.o.Tables.Discrepancies).Where("account = ? AND bill_day = ?", row.Account, row.BillDay)
	if rep.AppliedCount, rep.OpenDiscrepancies, err = r.countItems(ctx, row.Account, rep.Date); err != nil {
		return nil, err
	}
	rep.Applied, rep.Discrepancies = []paytype.Discrepancy{}, []paytype.Discrepancy{}
	for _, list := range []struct {
		out  *[]paytype.Discrepancy
		cond string
	}{{&rep.Applied, "status = ?"}, {&rep.Discrepancies, "status <> ?"}} {
		var ds []models.Discrepancy
		err := day.Session(&gorm.Session{}).Where(list.cond, models.DiscrepancyApplied).Order("id").
			Limit(paytype.MaxReportItems + 1).Find(&ds).Error
		if err != nil {
			return nil, err
		}
		if len(ds) > paytype.MaxReportItems {
			ds, rep.Truncated = ds[:paytype.MaxReportItems], true
		}
		for i := range ds {
			*list.out = append(*list.out, paytype.DiscrepancyOf(&ds[i]))
		}
	}
	return rep, nil
}
