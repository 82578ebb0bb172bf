package core

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/delivery"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
)

// The moves of a charge and of a refund: every status change the pay
// center makes, with the statuses it may start from and the event it
// emits. The functions below are the only code that changes a status;
// each is a conditional update on the row it has locked, runs the
// in-transaction hook and writes the event's outbox rows, in the caller's
// transaction.
//
//	charge  pay    CREATED, CLOSED → PAID      OnPaid     charge.succeeded
//	               (pay; payMatching: the same move as one statement in
//	               the transaction; payChained: as one statement that is
//	               the whole transaction, when no OnPaid hook needs one)
//	charge  close  CREATED → CLOSED            OnClosed   charge.closed
//	refund  abnormal  PROCESSING → ABNORMAL    —          refund.abnormal
//	refund  succeed   PROCESSING, ABNORMAL → SUCCESS  OnRefund  refund.succeeded
//	refund  fail      PROCESSING, ABNORMAL → FAILED   OnRefund  refund.failed
//
// A charge is created CREATED and a refund PROCESSING (charge.go,
// refund.go); a PAID charge and a SUCCESS or FAILED refund are final. Each
// move has a span, named "paycenter." + its name in the table (e.g.
// paycenter.charge.pay), and the committed moves to PAID and of refunds
// are counted in the metrics.
type chargeMove struct {
	from  []models.ChargeStatus
	to    models.ChargeStatus
	event string
	span  string
}

type refundMove struct {
	from  []models.RefundStatus
	to    models.RefundStatus
	event string
	span  string
}

var (
	movePay = chargeMove{[]models.ChargeStatus{models.ChargeCreated, models.ChargeClosed}, models.ChargePaid, hooks.ChargeSucceeded,
		"paycenter.charge.pay"}
	moveClose = chargeMove{[]models.ChargeStatus{models.ChargeCreated}, models.ChargeClosed, hooks.ChargeClosed, "paycenter.charge.close"}

	refundMoves = map[channels.RefundStatus]refundMove{
		channels.RefundAbnormal: {[]models.RefundStatus{models.RefundProcessing}, models.RefundAbnormal, hooks.RefundAbnormal,
			"paycenter.refund.abnormal"},
		channels.RefundSucceeded: {[]models.RefundStatus{models.RefundProcessing, models.RefundAbnormal}, models.RefundSucceeded, hooks.RefundSucceeded,
			"paycenter.refund.succeed"},
		channels.RefundFailed: {[]models.RefundStatus{models.RefundProcessing, models.RefundAbnormal}, models.RefundFailed, hooks.RefundFailed,
			"paycenter.refund.fail"},
	}
)

// lockCharge reads the charge where/args for update in t: the row stays as
// read until t ends (SQLite's write transaction holds the only write lock).
func (s *Service) lockCharge(t *txn, where string, args ...any) (*models.Charge, error) {
	var c models.Charge
	err := s.charges(s.forUpdate(t.DB)).Where(where, args...).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errNoRow
	}
	return &c, err
}

// lockRefund reads refund id for update in t.
func (s *Service) lockRefund(t *txn, id int64) (*models.Refund, error) {
	var r models.Refund
	err := s.refunds(s.forUpdate(t.DB)).Where("id = ?", id).Take(&r).Error
	return &r, err
}

// forUpdate adds FOR UPDATE where the database has it.
func (s *Service) forUpdate(db *gorm.DB) *gorm.DB {
	if s.db.Dialect == "sqlite" {
		return db
	}
	return db.Clauses(clause.Locking{Strength: "UPDATE"})
}

// errNoRow: the row to lock does not exist.
var errNoRow = errors.New("no such row")

// pay moves c (locked in t) to PAID with the channel's payment p, runs
// OnPaid and emits charge.succeeded. It reports whether c moved (a PAID
// charge does not: duplicate notifications fire the hook once).
//
// The payment is late when the channel's payment time is after the
// charge's expiry, or not before the second in which the charge was closed
// (channels report payment times to the second; a payment racing a close
// within that second is treated as after it) — never judged by when the
// pay center happens to process it. A channel that gives no payment time is
// taken to have been paid now.
func (s *Service) pay(ctx context.Context, t *txn, c *models.Charge, p *channels.Payment) (_ bool, err error) {
	if !slices.Contains(movePay.from, c.Status) {
		return false, nil
	}
	ctx, span := s.tel.StartMove(ctx, movePay.span, c.Channel, string(c.Status), string(movePay.to))
	defer func() { telemetry.End(span, err) }()
	upd, after := s.paying(c, p)
	if err := s.move(t, s.t.Charges, c.ID, movePay.from, upd); err != nil {
		return false, err
	}
	*c = after
	return true, s.paid(ctx, t, c)
}

// paying is what pay writes when p pays c: the columns, and c as it is
// after.
func (s *Service) paying(c *models.Charge, p *channels.Payment) (map[string]any, models.Charge) {
	now := s.utcNow()
	paidAt := p.PaidAt.UTC()
	if p.PaidAt.IsZero() {
		paidAt = now
	}
	late := paidAt.After(c.ExpireAt) || (c.ClosedAt != nil && c.ClosedAt.Before(paidAt.Truncate(time.Second).Add(time.Second)))
	after := *c
	after.Status, after.LatePaid, after.TransactionID, after.PaidAt, after.NextQueryAt, after.UpdatedAt = movePay.to, late, p.TransactionID, &paidAt, nil, now
	return map[string]any{"status": movePay.to, "late_paid": late, "transaction_id": p.TransactionID, "paid_at": paidAt,
		"next_query_at": nil, "updated_at": now}, after
}

// payChained is pay for c read outside any transaction, in one statement
// where the database chains an update and the inserts that depend on it
// (store.Chain: PostgreSQL): the move, its outbox rows and audit (the
// notification's record, when not nil) commit together, and only if c is
// still as it was read (its status and updated_at). One round trip where
// the transaction of pay takes five.
//
// It reports false, having written nothing, when the move needs the
// transaction — an OnPaid hook runs in it, a late payment is refunded in
// it — or when c changed since it was read: the caller then takes the
// transactional path. c is checked against p (mismatch) by the caller.
func (s *Service) payChained(ctx context.Context, c *models.Charge, p *channels.Payment, audit *models.Notification) (*models.Charge, bool, error) {
	if !s.chainsPay() || !slices.Contains(movePay.from, c.Status) {
		return nil, false, nil
	}
	start := time.Now()
	upd, after := s.paying(c, p)
	if after.LatePaid && s.refundLate {
		return nil, false, nil
	}
	b, err := s.outbox.Prepare(c.AppID, s.notifyURL(c.AppID), payEvent(&after), true)
	if err != nil {
		return nil, false, err
	}
	rows := make([]store.Insert, 0, len(b.Rows)+1)
	for i := range b.Rows {
		rows = append(rows, store.Insert{Table: s.t.Deliveries, Row: &b.Rows[i]})
	}
	if audit != nil {
		rows = append(rows, store.Insert{Table: s.t.Notifications, Row: audit})
	}
	moved, err := s.db.Chain(ctx, store.Update{Table: s.t.Charges, ID: c.ID, Where: "status = ? AND updated_at = ?",
		Args: []any{c.Status, c.UpdatedAt}, Set: upd}, rows...)
	if err != nil || !moved {
		return nil, false, err
	}
	// The move's span, as payMatching's, is made once it is known to have
	// happened; it is the parent of the attempts' spans.
	ctx, span := s.tel.StartMoveAt(ctx, start, movePay.span, c.Channel, string(c.Status), string(movePay.to))
	telemetry.End(span, nil)
	b.Span = trace.SpanContextFromContext(ctx)
	s.outbox.Dispatch(b.Pending())
	s.tel.Committed(ctx, []telemetry.Move{telemetry.Paid(c.Channel)})
	return &after, true, nil
}

// chainsPay reports whether a payment can be applied by payChained: the
// database chains statements, and no OnPaid hook needs a transaction.
func (s *Service) chainsPay() bool { return s.db.Chained() && !s.hooks.HasInTx(movePay.event) }

// payMatching is pay for a charge not read yet, in one statement where the
// database returns what it updates (PostgreSQL, SQLite): the conditional
// update carries the checks of mismatch and the status as conditions,
// computes lateness from the row, and returns the row. It reports false
// (nothing done) when no charge matched — not found, already paid, or a
// mismatch: the caller then takes the general path, which tells them
// apart.
func (s *Service) payMatching(ctx context.Context, t *txn, e *appEntry, ch channels.Channel, where string, args []any,
	p *channels.Payment) (*models.Charge, bool, error) {
	if s.db.Dialect == "mysql" || p.Status != channels.PaymentPaid {
		return nil, false, nil
	}
	var served []channels.Code
	for code, c := range e.byCode {
		if c == ch {
			served = append(served, code)
		}
	}
	start, now := time.Now(), s.utcNow()
	paidAt := p.PaidAt.UTC()
	if p.PaidAt.IsZero() {
		paidAt = now
	}
	closedBefore := paidAt.Truncate(time.Second).Add(time.Second)
	q := t.Table(s.t.Charges).Clauses(clause.Returning{}).Where(where, args...).
		Where("status IN ? AND total_fee = ? AND channel IN ?", movePay.from, p.TotalFee, served).
		Where("(account IS NULL OR account = ?)", account(e.ID, ch))
	if p.HasMarker {
		q = q.Where("(marker = '' OR marker = ?)", p.Marker)
	}
	var rows []models.Charge
	res := q.Model(&rows).Updates(map[string]any{
		"status":         movePay.to,
		"late_paid":      gorm.Expr("(expire_at < ? OR (closed_at IS NOT NULL AND closed_at < ?))", paidAt, closedBefore),
		"transaction_id": p.TransactionID, "paid_at": paidAt, "next_query_at": nil, "updated_at": now,
	})
	if res.Error != nil || len(rows) != 1 {
		return nil, false, res.Error
	}
	c := &rows[0]
	from := models.ChargeCreated // the statement moved it from CREATED or CLOSED; a closed charge has closed_at
	if c.ClosedAt != nil {
		from = models.ChargeClosed
	}
	ctx, span := s.tel.StartMoveAt(ctx, start, movePay.span, c.Channel, string(from), string(movePay.to))
	err := s.paid(ctx, t, c)
	telemetry.End(span, err)
	return c, true, err
}

// paid does what follows a charge's move to PAID, in t: the automatic
// refund of a late payment, OnPaid, charge.succeeded.
func (s *Service) paid(ctx context.Context, t *txn, c *models.Charge) error {
	t.moves = append(t.moves, telemetry.Paid(c.Channel))
	if c.LatePaid && s.refundLate && !t.host {
		if err := s.refundLatePayment(ctx, t, c); err != nil {
			return err
		}
	}
	if err := s.runHook(ctx, func() error { return s.hooks.RunPaid(ctx, &hooks.Paid{Tx: t.DB, Charge: c, Late: c.LatePaid}) }); err != nil {
		return err
	}
	return s.emit(ctx, t, c.AppID, payEvent(c))
}

// payEvent is the event of c's move to PAID (its Span is set by whoever
// writes it: emit, or payChained once the move is known).
func payEvent(c *models.Charge) delivery.Event {
	return delivery.Event{Type: movePay.event, Charge: c, Data: payResult(c)}
}

// How far a close reached the channel, for close.
type closeAt int

const (
	closedLocally   closeAt = iota // CloseChargeTx: the worker closes at the channel later
	closedAtChannel                // the channel confirmed: nothing more to ask
	closeNotOpened                 // the channel has no order yet but one may still open: keep watching
)

// close moves c (locked in t) to CLOSED, runs OnClosed and emits
// charge.closed; and records how far the close reached the channel in
// next_query_at: confirmed (the worker stops asking), not opened yet (it
// keeps watching until the expiry has passed) or local only (it goes on
// closing at the channel). A charge already CLOSED only has that recorded.
func (s *Service) close(ctx context.Context, t *txn, c *models.Charge, how closeAt) (_ bool, err error) {
	now := s.utcNow()
	var next *time.Time
	switch how {
	case closeNotOpened:
		n := now.Add(queryDelay(0))
		next = &n
	case closedLocally:
		if c.ChannelParams != "" {
			next = &now // an order was handed out: the worker closes it at the channel
		}
	}
	if !slices.Contains(moveClose.from, c.Status) {
		if c.Status == models.ChargeClosed && how != closedLocally {
			err := s.charges(t.DB).Where("id = ? AND status = ?", c.ID, models.ChargeClosed).Update("next_query_at", next).Error
			c.NextQueryAt = next
			return false, err
		}
		return false, nil
	}
	ctx, span := s.tel.StartMove(ctx, moveClose.span, c.Channel, string(c.Status), string(moveClose.to))
	defer func() { telemetry.End(span, err) }()
	if err := s.move(t, s.t.Charges, c.ID, moveClose.from, map[string]any{
		"status": moveClose.to, "closed_at": now, "next_query_at": next, "updated_at": now}); err != nil {
		return false, err
	}
	c.Status, c.ClosedAt, c.NextQueryAt, c.UpdatedAt = moveClose.to, &now, next, now
	if err := s.runHook(ctx, func() error { return s.hooks.RunClosed(ctx, &hooks.Closed{Tx: t.DB, Charge: c}) }); err != nil {
		return false, err
	}
	return true, s.emit(ctx, t, c.AppID, delivery.Event{Type: moveClose.event, Charge: c, Data: payResult(c)})
}

// errMoved: the row was not in a status the move starts from although it
// was read locked so; something outside the pay center changed it.
var errMoved = errors.New("the row changed under its lock")

// move applies upd to row id of table, conditional on its status being one
// of from.
func (s *Service) move(t *txn, table string, id int64, from any, upd map[string]any) error {
	res := t.Table(table).Where("id = ? AND status IN ?", id, from).Updates(upd)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return errMoved
	}
	return nil
}

// moveRefund applies what the channel says of refund r (locked in t) with
// the move of refundMoves: ABNORMAL (its amount stays reserved), SUCCESS or
// FAILED (the charge's accounting moves, OnRefund runs), and emits the
// move's event. It reports whether r moved, and, when r was final already
// and the channel says another final status, that contradiction.
func (s *Service) moveRefund(ctx context.Context, t *txn, r *models.Refund, out *channels.Refund) (moved, contradiction bool, err error) {
	m, ok := refundMoves[out.Status]
	if !ok {
		return false, false, nil
	}
	if !slices.Contains(m.from, r.Status) {
		return false, r.Status.Final() && m.to.Final() && r.Status != m.to, nil
	}
	ctx, span := s.tel.StartMove(ctx, m.span, "", string(r.Status), string(m.to))
	defer func() { telemetry.End(span, err) }()
	t.moves = append(t.moves, telemetry.Refunded(m.to))
	now := s.utcNow()
	upd := map[string]any{"status": m.to, "submitted": true, "lease_until": nil, "lease_token": "", "updated_at": now}
	switch m.to {
	case models.RefundSucceeded:
		at := out.RefundedAt.UTC()
		if out.RefundedAt.IsZero() {
			at = now
		}
		upd["refunded_at"], upd["next_check_at"] = at, nil
		r.RefundedAt, r.NextCheckAt = &at, nil
	case models.RefundFailed:
		upd["fail_reason"], upd["next_check_at"] = clean(out.Message, 500), nil
		r.FailReason, r.NextCheckAt = clean(out.Message, 500), nil
	case models.RefundAbnormal:
		upd["fail_reason"] = clean(out.Message, 500)
		r.FailReason = clean(out.Message, 500)
	}
	if err := s.move(t, s.t.Refunds, r.ID, m.from, upd); err != nil {
		return false, false, err
	}
	r.Status, r.Submitted, r.LeaseUntil, r.LeaseToken, r.UpdatedAt = m.to, true, nil, "", now
	c, err := s.lockCharge(t, "id = ?", r.ChargeID)
	if err != nil {
		return false, false, err
	}
	telemetry.SetChannel(span, c.Channel)
	if m.to.Final() {
		if m.to == models.RefundSucceeded {
			c.RefundedFee += r.RefundFee
		} else {
			c.RefundReserved -= r.RefundFee
		}
		c.UpdatedAt = now
		err := s.charges(t.DB).Where("id = ?", c.ID).Updates(map[string]any{
			"refunded_fee": c.RefundedFee, "refund_reserved": c.RefundReserved, "updated_at": now}).Error
		if err != nil {
			return false, false, err
		}
		if err := s.runHook(ctx, func() error { return s.hooks.RunRefund(ctx, &hooks.Refunded{Tx: t.DB, Charge: c, Refund: r}) }); err != nil {
			return false, false, err
		}
	}
	return true, false, s.emit(ctx, t, c.AppID, delivery.Event{Type: m.event, Charge: c, Refund: r,
		Data: refundEventData{RefundResult: refundResult(r), Channel: c.Channel, Attach: c.Attach}})
}

// LateRefundPrefix starts the refund number of an automatic late-payment
// refund: "LATE_" + outTradeNo. The underscore keeps it apart from every
// merchant number (outRefundNo is letters and digits only); both channels
// accept it.
const LateRefundPrefix = "LATE_"

// refundLatePayment reserves a full refund of a late payment (LatePayment
// "refund") and records its number on c; the refund worker sends it.
// Recording the payment matters more than refunding it: if the refund
// cannot be reserved, that is logged for a person to handle and the
// payment still commits. Only a broken savepoint (the database rolled t
// back under it: store.ErrSavepoint) is returned, to fail t.
func (s *Service) refundLatePayment(ctx context.Context, t *txn, c *models.Charge) error {
	now := s.utcNow()
	r := &models.Refund{
		AppID: c.AppID, OutRefundNo: LateRefundPrefix + c.OutTradeNo, Account: c.Account, ChargeID: c.ID,
		OutTradeNo: c.OutTradeNo, RefundFee: c.TotalFee, RefundDesc: "late payment refunded automatically",
		Status: models.RefundProcessing, LatePayment: true, NextCheckAt: &now, CreatedAt: now, UpdatedAt: now,
	}
	err := store.Savepoint(t.DB, "late_refund", func(tx *gorm.DB) error { // a failure here must not abort the payment
		if c.RefundReserved != 0 {
			return errors.New("the charge already has refunds reserved")
		}
		if err := s.refunds(tx).Create(r).Error; err != nil {
			return err
		}
		return s.charges(tx).Where("id = ?", c.ID).Updates(map[string]any{
			"refund_reserved": c.TotalFee, "late_refund_no": r.OutRefundNo, "updated_at": now}).Error
	})
	if errors.Is(err, store.ErrSavepoint) {
		return err
	}
	if err != nil {
		s.logger(ctx).ErrorContext(ctx, "paycenter: late payment recorded but its automatic refund could not be reserved; refund it by hand",
			"appId", c.AppID, "outTradeNo", c.OutTradeNo, "err", err)
		return nil
	}
	c.RefundReserved, c.LateRefundNo = c.TotalFee, r.OutRefundNo
	t.wake = true // the refund worker sends it
	return nil
}
