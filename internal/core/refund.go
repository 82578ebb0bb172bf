package core

import (
	"context"
	"errors"
	"fmt"
	"github.com/gopaycenter/paycenter/paytype"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/models"
)

// Refund refunds part or all of a paid charge (SPEC 2.5), idempotent on
// (app, outRefundNo). The amount is reserved on the charge by a conditional
// update (refund_reserved + fee ≤ total_fee) in the same transaction that
// inserts the refund, so no interleaving of requests on any database can
// refund more than was paid. The channel is called after that commits,
// under a lease, with outRefundNo as the channel's refund number.
func (s *Service) Refund(ctx context.Context, appID string, p paytype.RefundParams) (*paytype.RefundResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	if err := validateRefund(&p); err != nil {
		return nil, err
	}
	r, err := s.reserveRefund(ctx, s.db, e, &p, s.inTx)
	if err != nil {
		return nil, err
	}
	return s.driveRefund(ctx, e, r, true)
}

// RefundTx reserves the refund inside the host's transaction tx, with every
// rule of Refund, but calls no channel: the refund is PROCESSING until
// Refund is called again with the same parameters after tx commits (or the
// refund-result endpoint or a worker sends it).
func (s *Service) RefundTx(ctx context.Context, tx *gorm.DB, appID string, p paytype.RefundParams) (*paytype.RefundResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	if err := validateRefund(&p); err != nil {
		return nil, err
	}
	r, err := s.reserveRefund(ctx, tx, e, &p, func(ctx context.Context, fn func(*gorm.DB) error) error {
		return inHostTx(ctx, tx, fn)
	})
	if err != nil {
		return nil, err
	}
	return refundResult(r), nil
}

// reserveRefund inserts the PROCESSING refund and reserves its amount, or
// returns the earlier refund with the same outRefundNo when it is the same
// request.
func (s *Service) reserveRefund(ctx context.Context, db *gorm.DB, e *appEntry, p *paytype.RefundParams,
	run func(context.Context, func(*gorm.DB) error) error) (*models.Refund, error) {
	c, err := s.findCharge(ctx, db, e.ID, p.OutTradeNo)
	if err != nil {
		return nil, err
	}
	if r, err := s.findRefund(ctx, db, e.ID, p.OutRefundNo); err == nil {
		return r, sameRefund(r, p)
	} else if !errors.Is(err, paytype.CodeNotFound) {
		return nil, err
	}
	now := s.utcNow()
	check := now.Add(queryDelay(0)) // the refund worker's first look, if still PROCESSING
	r := &models.Refund{
		AppID: e.ID, OutRefundNo: p.OutRefundNo, Account: c.Account, ChargeID: c.ID, OutTradeNo: c.OutTradeNo,
		RefundFee: p.RefundFee, RefundDesc: p.RefundDesc, Status: models.RefundProcessing,
		NextCheckAt: &check, CreatedAt: now, UpdatedAt: now,
	}
	errDuplicate := errors.New("duplicate outRefundNo")
	err = run(ctx, func(tx *gorm.DB) error {
		if err := s.refunds(tx).Create(r).Error; err != nil {
			if duplicateKey(err) {
				return errDuplicate
			}
			return err
		}
		upd := s.charges(tx).
			Where("id = ? AND status = ? AND refund_reserved + ? <= total_fee", c.ID, models.ChargePaid, p.RefundFee).
			Updates(map[string]any{"refund_reserved": gorm.Expr("refund_reserved + ?", p.RefundFee), "updated_at": now})
		if upd.Error != nil {
			return upd.Error
		}
		if upd.RowsAffected == 0 {
			return s.refusal(ctx, tx, c.ID, p)
		}
		return nil
	})
	switch {
	case errors.Is(err, errDuplicate): // a concurrent request with the same number won
		// A locking read sees it even from a MySQL REPEATABLE READ snapshot.
		r, err := s.findRefund(ctx, db.Clauses(clause.Locking{Strength: "UPDATE"}), e.ID, p.OutRefundNo)
		if errors.Is(err, paytype.CodeNotFound) { // the account's number belongs to another app
			return nil, newErr(paytype.CodeExists, "outRefundNo %s is already used by another app on the same channel merchant account "+
				"(numbers are unique per channel account); use another outRefundNo", p.OutRefundNo)
		}
		if err != nil {
			return nil, err
		}
		return r, sameRefund(r, p)
	case err != nil:
		return nil, internal(err)
	}
	return r, nil
}

// refusal explains why the reservation update matched no row.
func (s *Service) refusal(ctx context.Context, tx *gorm.DB, chargeID int64, p *paytype.RefundParams) error {
	var c models.Charge
	if err := s.charges(tx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", chargeID).Take(&c).Error; err != nil {
		return err
	}
	switch c.Status {
	case models.ChargeCreated:
		return newErr(paytype.CodeNotPaid, "charge %s is not paid; only a paid charge can be refunded", p.OutTradeNo)
	case models.ChargeClosed:
		return newErr(paytype.CodeNotPaid, "charge %s is not paid (it was closed unpaid); only a paid charge can be refunded", p.OutTradeNo)
	}
	return newErr(paytype.CodeOverLimit, "refundFee %d exceeds the refundable balance of charge %s: %d of %d fen are refunded or being refunded",
		p.RefundFee, p.OutTradeNo, c.RefundReserved, c.TotalFee)
}

func sameRefund(r *models.Refund, p *paytype.RefundParams) error {
	var field string
	switch {
	case r.OutTradeNo != p.OutTradeNo:
		field = "outTradeNo"
	case r.RefundFee != p.RefundFee:
		field = "refundFee"
	case r.RefundDesc != p.RefundDesc:
		field = "refundDesc"
	default:
		return nil
	}
	return newErr(paytype.CodeExists, "outRefundNo %s already exists with a different %s", p.OutRefundNo, field)
}

// RefundResult answers a refund's state (SPEC 2.6); a PROCESSING refund is
// first driven forward with the channel (sent again if it never reached
// the channel, otherwise queried).
func (s *Service) RefundResult(ctx context.Context, appID, outRefundNo string) (*paytype.RefundResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	if err := validateRefundQuery(outRefundNo); err != nil {
		return nil, err
	}
	r, err := s.findRefund(ctx, s.db, appID, outRefundNo)
	if err != nil {
		return nil, err
	}
	return s.driveRefund(ctx, e, r, false)
}

// RefundResultTx answers from the state visible in tx, without asking the
// channel.
func (s *Service) RefundResultTx(ctx context.Context, tx *gorm.DB, appID, outRefundNo string) (*paytype.RefundResult, error) {
	if _, err := s.app(appID); err != nil {
		return nil, err
	}
	if err := validateRefundQuery(outRefundNo); err != nil {
		return nil, err
	}
	r, err := s.findRefund(ctx, tx, appID, outRefundNo)
	if err != nil {
		return nil, err
	}
	return refundResult(r), nil
}

// driveRefund moves a PROCESSING or ABNORMAL refund forward: a refund the
// channel has not accepted yet is sent (again, with the same number) under
// a lease; an accepted one is queried. Unknown outcomes leave it as it is.
// A definite refusal fails it and, when strict, is returned as 30003/30103.
func (s *Service) driveRefund(ctx context.Context, e *appEntry, r *models.Refund, strict bool) (*paytype.RefundResult, error) {
	if r.Status.Final() {
		if r.Status == models.RefundFailed && strict {
			return nil, newErr(paytype.CodeWechatRefund.Channel(s.providerOf(ctx, e, r)), "refund %s failed: %s", r.OutRefundNo, r.FailReason)
		}
		return refundResult(r), nil
	}
	c, err := s.findCharge(ctx, s.db, e.ID, r.OutTradeNo)
	if err != nil {
		return nil, err
	}
	ch := e.byCode[c.Channel]
	req := &channels.RefundRequest{
		AppID: e.ID, Code: c.Channel, OutTradeNo: c.OutTradeNo, OutRefundNo: r.OutRefundNo,
		RefundFee: r.RefundFee, TotalFee: c.TotalFee, Reason: r.RefundDesc,
	}
	if ch != nil {
		req.CallbackURL = s.callbackURL(e.ID, ch)
	}

	var out *channels.Refund
	if !r.Submitted {
		refunder, ok := ch.(channels.Refunder)
		if !ok || ch == nil {
			return nil, newErr(paytype.CodeNoChannel, "channel %s cannot refund for this app", c.Channel)
		}
		now := s.utcNow()
		tok := token()
		lease := now.Add(s.callLease())
		// next_check_at = the lease's end: if this process dies during the
		// call, the refund worker retries as soon as the lease has passed.
		var res *gorm.DB
		if err := retrying(ctx, func() error {
			res = s.refunds(s.db.WithContext(ctx)).
				Where("id = ? AND status = ? AND submitted = ?", r.ID, models.RefundProcessing, false).
				Where("lease_until IS NULL OR lease_until < ?", now).
				Updates(map[string]any{"lease_until": lease, "lease_token": tok, "next_check_at": lease})
			return res.Error
		}); err != nil {
			return nil, internal(err)
		}
		if res.RowsAffected == 0 {
			cur, err := s.findRefund(ctx, s.db, e.ID, r.OutRefundNo)
			if err != nil {
				return nil, err
			}
			if cur.Status == models.RefundProcessing && !cur.Submitted {
				return nil, newErr(paytype.CodeInProgress, "another request with outRefundNo %s is being processed; retry", r.OutRefundNo)
			}
			return s.driveRefund(ctx, e, cur, strict)
		}
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		out, err = refunder.Refund(cctx, req)
		cancel()
		bg := context.WithoutCancel(ctx)
		if err != nil && !channels.IsDefinite(err) {
			// Unknown outcome: stay PROCESSING, not submitted; the next
			// attempt (a retry, refund-result or the worker on its
			// schedule) sends the same number again.
			s.logger(ctx).Warn("paycenter: refund outcome unknown; it stays PROCESSING", "outRefundNo", r.OutRefundNo, "err", err)
			next := s.utcNow().Add(queryDelay(r.CheckCount))
			if rel := s.refunds(s.db.WithContext(bg)).Where("id = ? AND lease_token = ?", r.ID, tok).
				Updates(map[string]any{"lease_until": nil, "lease_token": "", "next_check_at": next}); rel.Error != nil {
				s.logger(ctx).Error("paycenter: release refund lease", "outRefundNo", r.OutRefundNo, "err", rel.Error)
			}
			return refundResult(r), nil
		}
		if err != nil {
			var ce *channels.Error
			errors.As(err, &ce)
			out = &channels.Refund{Status: channels.RefundFailed, Message: ce.Message}
		}
		ctx = bg
	} else {
		rq, ok := ch.(channels.RefundQuerier)
		if !ok || ch == nil {
			return refundResult(r), nil
		}
		qctx, cancel := context.WithTimeout(ctx, s.qtimeout)
		out, err = rq.QueryRefund(qctx, req)
		cancel()
		if err != nil {
			s.logger(ctx).Warn("paycenter: refund query failed; answering from local state", "outRefundNo", r.OutRefundNo, "err", err)
			return refundResult(r), nil
		}
	}
	if err := s.applyRefund(ctx, e, r.ID, out, sourceQuery); err != nil && !errors.Is(err, errNotApplied) {
		return nil, err
	}
	cur, err := s.findRefund(ctx, s.db, e.ID, r.OutRefundNo)
	if err != nil {
		return nil, err
	}
	if cur.Status == models.RefundFailed && strict {
		return nil, newErr(paytype.CodeWechatRefund.Channel(c.Channel.Provider()), "the channel refused refund %s: %s", r.OutRefundNo, cur.FailReason)
	}
	return refundResult(cur), nil
}

func (s *Service) providerOf(ctx context.Context, e *appEntry, r *models.Refund) string {
	c, err := s.findCharge(ctx, s.db, e.ID, r.OutTradeNo)
	if err != nil {
		return ""
	}
	return c.Channel.Provider()
}

// applyRefund records what the channel said about refund id: accepted
// (submitted, still PROCESSING), ABNORMAL (not final: its amount stays
// reserved), SUCCESS or FAILED. Each move is conditional on the refund's
// current status and emits its event once; OnRefund runs, in the
// transaction, when the refund becomes final. A channel that reports a
// final refund differently than recorded is recorded as a discrepancy.
func (s *Service) applyRefund(ctx context.Context, e *appEntry, id int64, out *channels.Refund, source string) error {
	if out == nil {
		return nil
	}
	now := s.utcNow()
	var from []models.RefundStatus
	upd := map[string]any{"submitted": true, "lease_until": nil, "lease_token": "", "updated_at": now}
	switch out.Status {
	case channels.RefundProcessing:
		err := s.refunds(s.db.WithContext(ctx)).Where("id = ? AND status = ?", id, models.RefundProcessing).Updates(upd).Error
		return internal0(err)
	case channels.RefundAbnormal:
		from = []models.RefundStatus{models.RefundProcessing}
		upd["status"], upd["fail_reason"] = models.RefundAbnormal, truncate(clean(out.Message, 500), 500)
	case channels.RefundSucceeded:
		at := out.RefundedAt.UTC()
		if out.RefundedAt.IsZero() {
			at = now
		}
		from = []models.RefundStatus{models.RefundProcessing, models.RefundAbnormal}
		upd["status"], upd["refunded_at"] = models.RefundSucceeded, at
	case channels.RefundFailed:
		from = []models.RefundStatus{models.RefundProcessing, models.RefundAbnormal}
		upd["status"], upd["fail_reason"] = models.RefundFailed, truncate(clean(out.Message, 500), 500)
	default:
		return nil
	}
	var contradiction *models.Refund
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		contradiction = nil
		res := s.refunds(tx).Where("id = ? AND status IN ?", id, from).Updates(upd)
		if res.Error != nil {
			return res.Error
		}
		var r models.Refund
		if err := s.refunds(tx).Where("id = ?", id).Take(&r).Error; err != nil {
			return err
		}
		if res.RowsAffected == 0 { // a duplicate, out of order, or a contradiction
			if r.Status.Final() && out.Status != channels.RefundAbnormal && string(r.Status) != string(out.Status) {
				contradiction = &r
			}
			return nil
		}
		return s.refundMoved(ctx, tx, &r)
	})
	if err != nil {
		return internal(err)
	}
	if r := contradiction; r != nil {
		// E.g. a refund the channel refused, later pushed through by hand:
		// the money moved, the books say otherwise. A person must decide.
		s.recordDiscrepancy(ctx, &models.Discrepancy{
			Kind: models.DiscrepancyRefundStatus, Source: source, AppID: r.AppID, Provider: accountProvider(r.Account),
			Account: r.Account, OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo,
			LocalAmount: r.RefundFee, ChannelAmount: out.RefundFee,
			Detail: fmt.Sprintf("the refund is %s here, the channel says %s", r.Status, out.Status),
		})
		return errNotApplied
	}
	return nil
}

// refundMoved does what follows a refund's move to r.Status, in tx: the
// charge's accounting and OnRefund for a final status, and the event.
func (s *Service) refundMoved(ctx context.Context, tx *gorm.DB, r *models.Refund) error {
	var c models.Charge
	if r.Status.Final() {
		change := map[string]any{"updated_at": s.utcNow()}
		if r.Status == models.RefundSucceeded {
			change["refunded_fee"] = gorm.Expr("refunded_fee + ?", r.RefundFee)
		} else {
			change["refund_reserved"] = gorm.Expr("refund_reserved - ?", r.RefundFee)
		}
		if err := s.charges(tx).Where("id = ?", r.ChargeID).Updates(change).Error; err != nil {
			return err
		}
	}
	if err := s.charges(tx).Where("id = ?", r.ChargeID).Take(&c).Error; err != nil {
		return err
	}
	if r.Status.Final() {
		if err := s.runHook(ctx, func() error { return s.hooks.RunRefund(ctx, &hooks.Refunded{Tx: tx, Charge: &c, Refund: r}) }); err != nil {
			return err
		}
	}
	typ := map[models.RefundStatus]string{models.RefundSucceeded: hooks.RefundSucceeded,
		models.RefundFailed: hooks.RefundFailed, models.RefundAbnormal: hooks.RefundAbnormal}[r.Status]
	return s.emit(tx, c.AppID, typ, c.ID, r.ID, refundEventData{RefundResult: refundResult(r), Channel: c.Channel, Attach: c.Attach})
}

// accountProvider is the provider part of an account name (see account).
func accountProvider(acct string) string {
	if i := strings.IndexAny(acct, ":@"); i > 0 {
		return acct[:i]
	}
	return ""
}

func (s *Service) findRefund(ctx context.Context, db *gorm.DB, appID, outRefundNo string) (*models.Refund, error) {
	var r models.Refund
	err := s.refunds(db.WithContext(ctx)).Where("app_id = ? AND out_refund_no = ?", appID, outRefundNo).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, newErr(paytype.CodeNotFound, "no refund with outRefundNo %s", outRefundNo)
	}
	if err != nil {
		return nil, internal(err)
	}
	return &r, nil
}

// validateRefundQuery accepts a merchant's outRefundNo or the number of an
// automatic late-payment refund.
func validateRefundQuery(outRefundNo string) error {
	if no, ok := strings.CutPrefix(outRefundNo, LateRefundPrefix); ok && outTradeNoRE.MatchString(no) {
		return nil
	}
	return ValidateOutRefundNo(outRefundNo)
}

// internal0 is internal for a possibly nil error.
func internal0(err error) error {
	if err == nil {
		return nil
	}
	return internal(err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
