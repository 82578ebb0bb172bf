package reconcile

import (
	"context"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// missing looks, batch by batch, for the account's payments and refunds of
// the day among the staged rows: what the bill lacks is a discrepancy.
// Only for a day that is over (a bill taken earlier cannot be complete).
func (ru *run) missing(ctx context.Context) error {
	books := ru.r.o.Books
	err := missingOf(ctx, ru, "out_trade_no", channels.BillPayment,
		func(after int64) ([]models.Charge, error) {
			return books.PaidCharges(ctx, ru.account, ru.day.Start(), ru.day.End(), after, ru.r.o.BatchSize)
		},
		func(c *models.Charge) (int64, string) { return c.ID, c.OutTradeNo },
		func(c *models.Charge) *models.Discrepancy {
			return ru.missed(models.DiscrepancyPaidHereMissing, c.AppID, c.OutTradeNo, "", c.TransactionID, c.TotalFee, c.PaidAt,
				"paid here on the bill's day (by the channel's payment time), not in the bill")
		})
	if err != nil {
		return err
	}
	return missingOf(ctx, ru, "out_refund_no", channels.BillRefund,
		func(after int64) ([]models.Refund, error) {
			return books.SucceededRefunds(ctx, ru.account, ru.day.Start(), ru.day.End(), after, ru.r.o.BatchSize)
		},
		func(r *models.Refund) (int64, string) { return r.ID, r.OutRefundNo },
		func(r *models.Refund) *models.Discrepancy {
			return ru.missed(models.DiscrepancyRefundHereMissing, r.AppID, r.OutTradeNo, r.OutRefundNo, "", r.RefundFee, r.RefundedAt,
				"refunded here on the bill's day (by the channel's refund time), not in the bill")
		})
}

// missingOf pages through what the pay center has (page, by id), looks the
// numbers up among the staged rows of kind (column col) and saves a
// discrepancy (made by missed) for each the bill lacks.
func missingOf[T any](ctx context.Context, ru *run, col string, kind channels.BillRowKind,
	page func(after int64) ([]T, error), key func(*T) (int64, string), missed func(*T) *models.Discrepancy) error {
	for after := int64(0); ; {
		items, err := page(after)
		if err != nil || len(items) == 0 {
			return err
		}
		nos := make([]string, len(items))
		for i := range items {
			after, nos[i] = key(&items[i])
		}
		in, err := ru.inBill(ctx, col, kind, nos)
		if err != nil {
			return err
		}
		var save []*models.Discrepancy
		for i := range items {
			if !in[nos[i]] {
				ru.note(&save, missed(&items[i]))
			}
		}
		if err := ru.r.o.Books.SaveBillDiscrepancies(ctx, save); err != nil {
			return err
		}
	}
}

// inBill reports which of nos the staged rows of kind carry in column col.
// A payment counts only when it took money.
func (ru *run) inBill(ctx context.Context, col string, kind channels.BillRowKind, nos []string) (map[string]bool, error) {
	var found []string
	q := ru.r.o.DB.W.WithContext(ctx).Table(ru.r.o.Tables.BillRows).
		Where("reconciliation_id = ? AND kind = ? AND "+col+" IN ?", ru.id, kind, nos)
	if kind == channels.BillPayment {
		q = q.Where("settled = ?", true)
	}
	if err := q.Distinct(col).Pluck(col, &found).Error; err != nil {
		return nil, err
	}
	in := make(map[string]bool, len(found))
	for _, no := range found {
		in[no] = true
	}
	return in, nil
}

// missed is an OPEN discrepancy of what the pay center has (at, by the
// channel's time) and the bill lacks.
func (ru *run) missed(kind models.DiscrepancyKind, appID, outTradeNo, outRefundNo, txID string, amount int64, at *time.Time, detail string) *models.Discrepancy {
	if at != nil {
		detail += " (" + at.In(channels.Beijing).Format(time.DateTime) + " Beijing time)"
	}
	return &models.Discrepancy{Kind: kind, Status: models.DiscrepancyOpen, AppID: appID, Provider: ru.provider, Account: ru.account,
		OutTradeNo: outTradeNo, OutRefundNo: outRefundNo, TransactionID: txID, LocalAmount: amount, Detail: detail}
}
