package core

import (
	"context"
	"errors"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Refund refunds part or all of a paid charge (SPEC 2.5), idempotent on
// (app, outRefundNo). The amount is reserved on the charge by a conditional
// update (refund_reserved + fee ≤ total_fee) in the same transaction that
// inserts the refund, so no interleaving of requests on any database can
// refund more than was paid. The channel is called after that commits,
// under a lease, with outRefundNo as the channel's refund number; a
// definite refusal is answered 30003/30103.
func (s *Service) Refund(ctx context.Context, appID string, p paytype.RefundParams) (*paytype.RefundResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	if err := validateRefund(&p); err != nil {
		return nil, err
	}
	c, r, err := s.reserveRefund(ctx, s.db.W, e, &p, func(ctx context.Context, fn func(*gorm.DB) error) error {
		return s.write(ctx, func(t *txn) error { return fn(t.DB) })
	})
	if err != nil {
		return nil, err
	}
	if !r.Status.Final() {
		if r.Submitted {
			r, err = s.queryRefund(ctx, e, c, r)
		} else {
			r, err = s.submitRefund(ctx, e, c, r)
		}
		if err != nil && !errors.Is(err, errNotApplied) {
			return nil, err
		}
	}
	if r.Status == models.RefundFailed {
		return nil, newErr(paytype.CodeWechatRefund.Channel(c.Channel.Provider()), "the channel refused refund %s: %s", r.OutRefundNo, r.FailReason)
	}
	return refundResult(r), nil
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
	_, r, err := s.reserveRefund(ctx, tx, e, &p, func(ctx context.Context, fn func(*gorm.DB) error) error {
		return s.inHost(ctx, tx, func(t *txn) error { return fn(t.DB) })
	})
	if err != nil {
		return nil, err
	}
	return refundResult(r), nil
}

// reserveRefund inserts the PROCESSING refund and reserves its amount, or
// returns the earlier refund with the same outRefundNo when it is the same
// request; with the charge.
func (s *Service) reserveRefund(ctx context.Context, db *gorm.DB, e *appEntry, p *paytype.RefundParams,
	run func(context.Context, func(*gorm.DB) error) error) (*models.Charge, *models.Refund, error) {
	c, err := s.findCharge(ctx, db, e.ID, p.OutTradeNo)
	if err != nil {
		return nil, nil, err
	}
	if r, err := s.findRefund(ctx, db, e.ID, p.OutRefundNo); err == nil {
		return c, r, sameRefund(r, p)
	} else if !errors.Is(err, paytype.CodeNotFound) {
		return nil, nil, err
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
			if store.Duplicate(err) {
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
			return s.refusal(tx, c.ID, p)
		}
		return nil
	})
	switch {
	case errors.Is(err, errDuplicate): // a concurrent request with the same number won
		// A locking read sees it even from a MySQL REPEATABLE READ snapshot.
		r, err := s.findRefund(ctx, db.Clauses(clause.Locking{Strength: "UPDATE"}), e.ID, p.OutRefundNo)
		if errors.Is(err, paytype.CodeNotFound) { // the account's number belongs to another app
			return nil, nil, newErr(paytype.CodeExists, "outRefundNo %s is already used by another app on the same channel merchant account "+
				"(numbers are unique per channel account); use another outRefundNo", p.OutRefundNo)
		}
		if err != nil {
			return nil, nil, err
		}
		return c, r, sameRefund(r, p)
	case err != nil:
		return nil, nil, internal(err)
	}
	return c, r, nil
}

// refusal explains why the reservation update matched no row.
func (s *Service) refusal(tx *gorm.DB, chargeID int64, p *paytype.RefundParams) error {
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

// RefundResult answers a refund's state (SPEC 2.6). A refund still pending
// is moved forward with the channel first: sent (again, with the same
// number) if the channel never accepted it, otherwise queried.
func (s *Service) RefundResult(ctx context.Context, appID, outRefundNo string) (*paytype.RefundResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	if err := validateRefundQuery(outRefundNo); err != nil {
		return nil, err
	}
	r, err := s.findRefund(ctx, s.db.R, appID, outRefundNo)
	if err != nil {
		return nil, err
	}
	if r.Status.Final() {
		return refundResult(r), nil
	}
	c, err := s.findCharge(ctx, s.db.R, appID, r.OutTradeNo)
	if err != nil {
		return nil, err
	}
	if r.Submitted {
		r, err = s.queryRefund(ctx, e, c, r)
	} else {
		r, err = s.submitRefund(ctx, e, c, r)
	}
	if errors.Is(err, paytype.CodeInProgress) || errors.Is(err, errNotApplied) {
		return refundResult(r), nil // another request is sending it right now; or the channel contradicts a final refund
	}
	if err != nil {
		return nil, err
	}
	return refundResult(r), nil
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

// refundRequest is what the channel is told of refund r of charge c.
func (s *Service) refundRequest(e *appEntry, c *models.Charge, r *models.Refund) (channels.Channel, *channels.RefundRequest) {
	ch := e.byCode[c.Channel]
	req := &channels.RefundRequest{
		AppID: e.ID, Code: c.Channel, OutTradeNo: c.OutTradeNo, OutRefundNo: r.OutRefundNo,
		RefundFee: r.RefundFee, TotalFee: c.TotalFee, Reason: r.RefundDesc,
	}
	if ch != nil {
		req.CallbackURL = s.callbackURL(e.ID, ch)
	}
	return ch, req
}

// submitRefund sends refund r (PROCESSING, not accepted by the channel
// yet) to the channel with its own number, under the refund's lease, and
// records the answer: accepted, or a final or ABNORMAL status. An unknown
// outcome leaves it PROCESSING and not submitted, for the next attempt to
// send again. It returns the refund as it is after; 20004 when another
// request holds the lease.
func (s *Service) submitRefund(ctx context.Context, e *appEntry, c *models.Charge, r *models.Refund) (*models.Refund, error) {
	ch, req := s.refundRequest(e, c, r)
	refunder, ok := ch.(channels.Refunder)
	if !ok || ch == nil {
		return r, newErr(paytype.CodeNoChannel, "channel %s cannot refund for this app", c.Channel)
	}
	now := s.utcNow()
	l := store.NewLease(now.Add(s.callLease()))
	// next_check_at = the lease's end: if this process dies during the
	// call, the refund worker retries as soon as the lease has passed.
	got, err := store.Claim(ctx, s.db, s.t.Refunds, r.ID, now, l, "status = ? AND submitted = ?",
		[]any{models.RefundProcessing, false}, map[string]any{"next_check_at": l.Until})
	if err != nil {
		return r, internal(err)
	}
	if !got {
		cur, err := s.findRefund(ctx, s.db.W, e.ID, r.OutRefundNo)
		if err != nil {
			return r, err
		}
		if cur.Status == models.RefundProcessing && !cur.Submitted {
			return cur, newErr(paytype.CodeInProgress, "another request with outRefundNo %s is being processed; retry", r.OutRefundNo)
		}
		return cur, nil
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	cctx, call := s.tel.StartCall(cctx, ch.Provider(), telemetry.OpRefund, c.Channel)
	out, err := refunder.Refund(cctx, req)
	call.End(err)
	cancel()
	ctx = context.WithoutCancel(ctx) // what the channel said must be recorded
	if err != nil && !channels.IsDefinite(err) {
		// Unknown outcome: stay PROCESSING, not submitted; the next attempt
		// (a retry, refund-result or the worker on its schedule) sends the
		// same number again.
		s.logger(ctx).WarnContext(ctx, "paycenter: refund outcome unknown; it stays PROCESSING", "outRefundNo", r.OutRefundNo, "err", err)
		if _, err := store.Settle(ctx, s.db, s.t.Refunds, r.ID, l, map[string]any{"next_check_at": s.utcNow().Add(queryDelay(r.CheckCount))}); err != nil {
			s.logger(ctx).ErrorContext(ctx, "paycenter: release refund lease", "outRefundNo", r.OutRefundNo, "err", err)
		}
		return r, nil
	}
	if err != nil {
		var ce *channels.Error
		errors.As(err, &ce)
		out = &channels.Refund{Status: channels.RefundFailed, Message: ce.Message}
	}
	return s.applyRefund(ctx, r, out, sourceQuery, &l, nil)
}

// queryRefund asks the channel about refund r (accepted by it) and records
// what it says. A failed query leaves r as it is.
func (s *Service) queryRefund(ctx context.Context, e *appEntry, c *models.Charge, r *models.Refund) (*models.Refund, error) {
	ch, req := s.refundRequest(e, c, r)
	rq, ok := ch.(channels.RefundQuerier)
	if !ok || ch == nil {
		return r, nil
	}
	qctx, cancel := context.WithTimeout(ctx, s.qtimeout)
	qctx, call := s.tel.StartCall(qctx, ch.Provider(), telemetry.OpRefundQuery, c.Channel)
	out, err := rq.QueryRefund(qctx, req)
	call.End(err)
	cancel()
	if err != nil {
		s.logger(ctx).WarnContext(ctx, "paycenter: refund query failed; answering from local state", "outRefundNo", r.OutRefundNo, "err", err)
		return r, nil
	}
	return s.applyRefund(ctx, r, out, sourceQuery, nil, nil)
}

// applyRefund records, in one write transaction, what the channel said
// about refund r: accepted (submitted, still PROCESSING) or a move of
// refundMoves. l, when not nil, is the submit lease: it is freed. inTx,
// when not nil, runs in the same transaction (a notification's audit
// record). A channel that reports a final refund differently than recorded
// is recorded as a discrepancy (errNotApplied). It returns the refund as it
// is after.
func (s *Service) applyRefund(ctx context.Context, r *models.Refund, out *channels.Refund, source string, l *store.Lease,
	inTx func(t *txn) error) (*models.Refund, error) {
	if out == nil {
		return r, nil
	}
	var after *models.Refund
	var contradiction bool
	err := s.write(ctx, func(t *txn) error {
		cur, err := s.lockRefund(t, r.ID)
		if err != nil {
			return err
		}
		after = cur
		if out.Status == channels.RefundProcessing {
			if cur.Status == models.RefundProcessing && !cur.Submitted {
				cur.Submitted = true
				err = s.refunds(t.DB).Where("id = ?", cur.ID).Updates(map[string]any{
					"submitted": true, "lease_until": nil, "lease_token": "", "updated_at": s.utcNow()}).Error
			}
		} else {
			_, contradiction, err = s.moveRefund(ctx, t, cur, out)
		}
		if err == nil && l != nil && cur.LeaseToken == l.Token {
			// Not moved (a duplicate): still give the lease up.
			_, err = store.SettleTx(t.DB, s.t.Refunds, cur.ID, *l, nil)
		}
		if err == nil && inTx != nil && !contradiction {
			err = inTx(t)
		}
		return err
	})
	if err != nil {
		return r, internal(err)
	}
	if contradiction {
		// E.g. a refund the channel refused, later pushed through by hand:
		// the money moved, the books say otherwise. A person must decide.
		s.recordDiscrepancy(ctx, &models.Discrepancy{
			Kind: models.DiscrepancyRefundStatus, Source: source, AppID: after.AppID, Provider: accountProvider(after.Account),
			Account: after.Account, OutTradeNo: after.OutTradeNo, OutRefundNo: after.OutRefundNo,
			LocalAmount: after.RefundFee, ChannelAmount: out.RefundFee,
			Detail: "the refund is " + string(after.Status) + " here, the channel says " + string(out.Status),
		})
		return after, errNotApplied
	}
	return after, nil
}

// accountProvider is the provider part of an account name (see account).
func accountProvider(acct string) string {
	if i := strings.IndexAny(acct, ":@"); i > 0 {
		return acct[:i]
	}
	return ""
}

// findRefund reads refund outRefundNo of appID on db (10008 when there is
// none).
func (s *Service) findRefund(ctx context.Context, db *gorm.DB, appID, outRefundNo string) (*models.Refund, error) {
	return findByNo[models.Refund](ctx, s.refunds(db), appID, "out_refund_no", outRefundNo, "refund with outRefundNo")
}

// validateRefundQuery accepts a merchant's outRefundNo or the number of an
// automatic late-payment refund.
func validateRefundQuery(outRefundNo string) error {
	if no, ok := strings.CutPrefix(outRefundNo, LateRefundPrefix); ok && outTradeNoRE.MatchString(no) {
		return nil
	}
	return ValidateOutRefundNo(outRefundNo)
}
