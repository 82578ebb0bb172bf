package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/clip"
	"github.com/gopaycenter/paycenter/models"
)

// maxLogged bounds the discrepancies a run logs one by one.
const maxLogged = 20

// staged turns a bill row into its staging row.
func (ru *run) staged(row *channels.BillRow) models.StagedBillRow {
	s := models.StagedBillRow{
		ReconciliationID: ru.id, Line: int64(row.Line), Kind: row.Kind, OutTradeNo: text(row.OutTradeNo, 64),
		OutRefundNo: text(row.OutRefundNo, 64), TransactionID: text(row.TransactionID, 64), Amount: row.Amount,
		OccurredAt: row.Time.UTC(), Status: text(row.Status, 32), Settled: settled(ru.provider, row),
	}
	// WeChat Pay's bill echoes attach (商户数据包), which carries the pay
	// center's marker: a different one is another order. An empty one is
	// no evidence either way. Alipay's 备注 is not documented as an echo.
	if ru.provider == channels.ProviderWechat && row.Attach != "" {
		s.Marker, s.HasMarker = text(row.Attach, 128), true
	}
	return s
}

// settled reports whether a row moved money: every row of Alipay's trade
// bill (交易 and 退款 are completed business); WeChat Pay's rows whose
// state is SUCCESS (a REVOKED payment took none, a PROCESSING refund has not
// returned any yet).
func settled(provider string, row *channels.BillRow) bool {
	return provider == channels.ProviderAlipay || row.Status == "SUCCESS"
}

// text makes bill text storable: valid UTF-8 without control characters,
// at most n bytes.
func text(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return clip.Bytes(s, n)
}

// compare reads the staged rows back in batches and classifies each.
func (ru *run) compare(ctx context.Context) error {
	var last int64
	for {
		var rows []models.StagedBillRow
		err := ru.r.o.DB.W.WithContext(ctx).Table(ru.r.o.Tables.BillRows).
			Where("reconciliation_id = ? AND id > ?", ru.id, last).Order("id").Limit(ru.r.o.BatchSize).Find(&rows).Error
		if err != nil || len(rows) == 0 {
			return err
		}
		last = rows[len(rows)-1].ID
		if err := ru.compareBatch(ctx, rows); err != nil {
			return err
		}
	}
}

// batch holds what one batch of rows is compared with.
type batch struct {
	charges map[string]*models.Charge // by outTradeNo
	refunds map[string]*models.Refund // by outRefundNo
	save    []*models.Discrepancy
}

// compareBatch looks up the batch's numbers (one query for charges, one
// for refunds), classifies the rows in the bill's order (a payment before
// its refund) and saves what they found in one go.
func (ru *run) compareBatch(ctx context.Context, rows []models.StagedBillRow) error {
	var tradeNos, refundNos []string
	for i := range rows {
		tradeNos = append(tradeNos, rows[i].OutTradeNo)
		if rows[i].Kind == channels.BillRefund {
			refundNos = append(refundNos, ru.refundNo(&rows[i]))
		}
	}
	b := &batch{charges: map[string]*models.Charge{}, refunds: map[string]*models.Refund{}}
	charges, err := ru.r.o.Books.Charges(ctx, ru.account, tradeNos)
	if err != nil {
		return err
	}
	for i := range charges {
		b.charges[charges[i].OutTradeNo] = &charges[i]
	}
	if len(refundNos) > 0 {
		refunds, err := ru.r.o.Books.Refunds(ctx, ru.account, refundNos)
		if err != nil {
			return err
		}
		for i := range refunds {
			b.refunds[refunds[i].OutRefundNo] = &refunds[i]
		}
	}
	for i := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if rows[i].Kind == channels.BillPayment {
			ru.payment(ctx, b, &rows[i])
		} else {
			ru.refund(ctx, b, &rows[i])
		}
	}
	return ru.r.o.Books.SaveBillDiscrepancies(ctx, b.save)
}

// discrepancy starts a discrepancy of this run's day about row.
func (ru *run) discrepancy(kind models.DiscrepancyKind, row *models.StagedBillRow, detail string, args ...any) *models.Discrepancy {
	return &models.Discrepancy{
		Kind: kind, Status: models.DiscrepancyOpen, Provider: ru.provider, Account: ru.account, BillDay: ru.day.String(),
		OutTradeNo: row.OutTradeNo, OutRefundNo: row.OutRefundNo, TransactionID: row.TransactionID,
		ChannelAmount: row.Amount, Detail: fmt.Sprintf(detail, args...),
	}
}

// note queues d to be saved (with its batch): OPEN discrepancies count
// (and the first few are logged), APPLIED ones count as matched.
func (ru *run) note(save *[]*models.Discrepancy, d *models.Discrepancy) {
	d.BillDay = ru.day.String()
	*save = append(*save, d)
	if d.Status == models.DiscrepancyApplied {
		ru.rep.Matched++
		return
	}
	ru.foundOpen++
	if len(ru.found) < maxLogged {
		ru.found = append(ru.found, d)
	}
}

// rowFailed records a row that could not be applied now (a hook refused,
// the database failed): the run goes on and ends FAILED, so that a later
// run tries the row again.
func (ru *run) rowFailed(row *models.StagedBillRow, err error) {
	ru.rowErrN++
	if len(ru.rowErrs) < maxRowErrors {
		ru.rowErrs = append(ru.rowErrs, fmt.Errorf("line %d (%s %s): %w", row.Line, row.Kind, row.OutTradeNo, err))
	}
}

// payment classifies a payment row: a number not the account's is a
// foreign order; another amount is a mismatch; a charge paid here
// matches; an unpaid (or closed) one is paid by the bill, through the
// notification's path.
func (ru *run) payment(ctx context.Context, b *batch, row *models.StagedBillRow) {
	if !row.Settled {
		return // took no money
	}
	c := b.charges[row.OutTradeNo]
	switch {
	case c == nil:
		ru.note(&b.save, ru.discrepancy(models.DiscrepancyForeignOrder, row, "the bill shows a payment for a number the account has no charge for"))
		return
	case c.TotalFee != row.Amount:
		d := ru.discrepancy(models.DiscrepancyAmount, row, "the bill shows %d fen paid, the charge is %d fen: not applied", row.Amount, c.TotalFee)
		d.AppID, d.LocalAmount = c.AppID, c.TotalFee
		ru.note(&b.save, d)
		return
	case c.Status == models.ChargePaid:
		ru.rep.Matched++
		return
	}
	p := &channels.Payment{OutTradeNo: row.OutTradeNo, Status: channels.PaymentPaid, TotalFee: row.Amount,
		TransactionID: row.TransactionID, PaidAt: row.OccurredAt, Marker: row.Marker, HasMarker: row.HasMarker}
	d, err := ru.r.o.Books.ApplyBillPayment(ctx, c, p)
	ru.outcome(b, row, d, err, func() *models.Discrepancy {
		d := ru.discrepancy(models.DiscrepancyPaidAtChannel, row, "paid at the channel, %s here: applied from the bill", c.Status)
		d.Status, d.AppID, d.LocalAmount = models.DiscrepancyApplied, c.AppID, c.TotalFee
		c.Status = models.ChargePaid // a refund of it later in the batch
		return d
	})
}

// outcome notes what applying row did: a failure, the discrepancy the
// core found instead, or the APPLIED record applied makes.
func (ru *run) outcome(b *batch, row *models.StagedBillRow, d *models.Discrepancy, err error, applied func() *models.Discrepancy) {
	switch {
	case err != nil:
		ru.rowFailed(row, err)
	case d != nil:
		ru.note(&b.save, d)
	default:
		ru.note(&b.save, applied())
	}
}

// refund classifies a refund row: of a number not the account's, a foreign
// order; a refund known here matches unless its amount (or a FAILED state)
// differs; an unknown one that moved money is recorded as a refund.
func (ru *run) refund(ctx context.Context, b *batch, row *models.StagedBillRow) {
	c := b.charges[row.OutTradeNo]
	if c == nil {
		ru.note(&b.save, ru.discrepancy(models.DiscrepancyForeignOrder, row, "the bill shows a refund of a number the account has no charge for"))
		return
	}
	no := ru.refundNo(row)
	if r := b.refunds[no]; r != nil {
		ru.knownRefund(b, row, c, r)
		return
	}
	if !row.Settled {
		d := ru.discrepancy(models.DiscrepancyRefundUnknown, row, "a refund unknown here is %s at the channel: not recorded until it succeeds", row.Status)
		d.AppID = c.AppID
		ru.note(&b.save, d)
		return
	}
	rf := &channels.Refund{OutTradeNo: row.OutTradeNo, OutRefundNo: no, Status: channels.RefundSucceeded,
		RefundFee: row.Amount, RefundedAt: row.OccurredAt}
	d, err := ru.r.o.Books.RecordBillRefund(ctx, c, rf)
	ru.outcome(b, row, d, err, func() *models.Discrepancy {
		d := ru.discrepancy(models.DiscrepancyRefundUnknown, row, "refunded at the channel (e.g. by hand in its console), unknown here: recorded as refund %s", rf.OutRefundNo)
		d.Status, d.AppID, d.OutRefundNo = models.DiscrepancyApplied, c.AppID, rf.OutRefundNo
		return d
	})
}

// knownRefund compares a refund row with the refund of that number.
func (ru *run) knownRefund(b *batch, row *models.StagedBillRow, c *models.Charge, r *models.Refund) {
	var d *models.Discrepancy
	switch {
	case r.OutTradeNo != c.OutTradeNo:
		d = ru.discrepancy(models.DiscrepancyRefundUnknown, row, "the bill's refund %s is of charge %s, here of charge %s", r.OutRefundNo, row.OutTradeNo, r.OutTradeNo)
	case r.RefundFee != row.Amount:
		d = ru.discrepancy(models.DiscrepancyRefundAmount, row, "the bill shows %d fen refunded, the refund is %d fen", row.Amount, r.RefundFee)
	case row.Settled && r.Status == models.RefundFailed:
		d = ru.discrepancy(models.DiscrepancyRefundStatus, row, "the bill shows the refund made, it is FAILED here")
	default:
		// PROCESSING or ABNORMAL here: the refund worker asks the channel.
		ru.rep.Matched++
		return
	}
	d.AppID, d.LocalAmount = r.AppID, r.RefundFee
	ru.note(&b.save, d)
}

// refundNo is the number a refund unknown here is recorded under: the
// bill's (a refund made in the merchant console carries one the channel
// made up), or, when the bill has none, one derived from the row's facts,
// the same on every run.
func (ru *run) refundNo(row *models.StagedBillRow) string {
	if row.OutRefundNo != "" {
		return row.OutRefundNo
	}
	h := sha256.Sum256([]byte(strings.Join([]string{ru.account, row.OutTradeNo, row.TransactionID,
		row.OccurredAt.UTC().Format("20060102150405"), fmt.Sprint(row.Amount)}, "\x1f")))
	return "BILL_" + hex.EncodeToString(h[:])[:24]
}
