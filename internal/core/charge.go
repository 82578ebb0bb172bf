package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/models"
)

// CreateCharge creates a charge, or returns the existing one for the same
// (app, outTradeNo) and parameters (SPEC 2.3). It runs in phases, each a
// recovery point: reserve the row, commit, call the channel under a lease,
// record its channelParams. Exactly one caller at a time calls the channel;
// a concurrent identical request gets the stored result or 20004.
func (s *Service) CreateCharge(ctx context.Context, appID string, p CreateChargeParams) (*ChargeResult, error) {
	e, ch, err := s.prepareCharge(appID, &p)
	if err != nil {
		return nil, err
	}
	if err := s.checkSharedNumber(ctx, s.db, e, ch, p.OutTradeNo); err != nil {
		return nil, err
	}
	c, err := s.reserveCharge(ctx, s.db, e, &p)
	if err != nil {
		return nil, err
	}
	return s.channelOrder(ctx, e, ch, c)
}

// checkSharedNumber refuses an outTradeNo that another app sharing the same
// channel account already uses: the channel knows one order per number, so
// its payment would be credited to both charges. (A check before the
// insert: two apps racing with one number at the same instant are not
// caught; give sharing apps distinct number prefixes.)
func (s *Service) checkSharedNumber(ctx context.Context, db *gorm.DB, e *appEntry, ch channels.Channel, outTradeNo string) error {
	others := e.sharers[ch]
	if len(others) == 0 {
		return nil
	}
	var n int64
	err := s.charges(db.WithContext(ctx)).Where("out_trade_no = ? AND app_id IN ?", outTradeNo, others).Count(&n).Error
	if err != nil {
		return internal(err)
	}
	if n > 0 {
		return newErr(CodeExists, "outTradeNo %s is already used by another app that shares this channel merchant account", outTradeNo)
	}
	return nil
}

// CreateChargeTx reserves the charge inside the host's transaction tx,
// with every rule and the idempotency of CreateCharge, but calls no
// channel (no network call happens inside a transaction): the result has
// no ChannelParams. After tx commits, call CreateCharge with the same
// parameters to open the channel order and get them.
func (s *Service) CreateChargeTx(ctx context.Context, tx *gorm.DB, appID string, p CreateChargeParams) (*ChargeResult, error) {
	e, ch, err := s.prepareCharge(appID, &p)
	if err != nil {
		return nil, err
	}
	if err := s.checkSharedNumber(ctx, tx, e, ch, p.OutTradeNo); err != nil {
		return nil, err
	}
	c, err := s.reserveCharge(ctx, tx, e, &p)
	if err != nil {
		return nil, err
	}
	var params channels.Params
	if c.ChannelParams != "" {
		_ = json.Unmarshal([]byte(c.ChannelParams), &params)
	}
	return chargeResult(c, params), nil
}

func (s *Service) prepareCharge(appID string, p *CreateChargeParams) (*appEntry, channels.Channel, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, nil, err
	}
	if err := p.normalize(&e.App); err != nil {
		return nil, nil, err
	}
	ch := e.byCode[p.Channel]
	if ch == nil {
		return nil, nil, newErr(CodeNoChannel, "channel %s is not configured for this app", p.Channel)
	}
	return e, ch, nil
}

// reserveCharge inserts the charge, or finds the earlier one with the same
// (app, outTradeNo) and checks that it is the same request and still payable.
func (s *Service) reserveCharge(ctx context.Context, db *gorm.DB, e *appEntry, p *CreateChargeParams) (*models.Charge, error) {
	now := s.utcNow()
	c := &models.Charge{
		AppID: e.ID, OutTradeNo: p.OutTradeNo, Channel: p.Channel, TotalFee: p.TotalFee, FeeType: p.FeeType,
		ClientIP: p.ClientIP, Subject: p.Subject, Body: p.Body, Description: p.Description, Attach: p.Attach,
		Analysis: p.Analysis, ReturnURL: p.ReturnURL, OpenID: p.OpenID, CreatedMs: p.Created,
		TimeExpire: p.TimeExpire, ExpireAt: now.Add(time.Duration(p.TimeExpire) * time.Second),
		Status: models.ChargeCreated, CreatedAt: now, UpdatedAt: now,
	}
	if ch := e.byCode[p.Channel]; ch != s.sandbox {
		if _, ok := ch.(channels.Querier); ok {
			// Notifications can be lost: the reconciliation worker asks.
			next := now.Add(queryDelay(0))
			c.NextQueryAt = &next
		}
	}
	// In a savepoint, so that a duplicate key does not abort a host's
	// PostgreSQL transaction.
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.charges(tx).Create(c).Error })
	if err == nil {
		return c, nil
	}
	if !duplicateKey(err) {
		return nil, internal(err)
	}
	// A locking read: in a host's MySQL REPEATABLE READ transaction a plain
	// read would not see the row another transaction just committed.
	c, err = s.findCharge(ctx, db.Clauses(clause.Locking{Strength: "UPDATE"}), e.ID, p.OutTradeNo)
	if err != nil {
		return nil, err
	}
	if field := p.differs(c); field != "" {
		return nil, newErr(CodeExists, "outTradeNo %s already exists with a different %s", p.OutTradeNo, field)
	}
	switch {
	case c.Status == models.ChargePaid:
		return nil, newErr(CodeExists, "outTradeNo %s already exists and is paid", p.OutTradeNo)
	case c.Status == models.ChargeClosed:
		return nil, newErr(CodeExists, "outTradeNo %s already exists and is closed", p.OutTradeNo)
	case now.After(c.ExpireAt):
		return nil, newErr(CodeClosed, "outTradeNo %s already exists and has expired unpaid; use a new outTradeNo", p.OutTradeNo)
	}
	return c, nil
}

// channelOrder returns the charge's channelParams, opening the channel
// order first when there is none yet.
func (s *Service) channelOrder(ctx context.Context, e *appEntry, ch channels.Channel, c *models.Charge) (*ChargeResult, error) {
	if c.ChannelParams != "" {
		return s.storedOrder(c)
	}
	now := s.utcNow()
	tok := token()
	lease := now.Add(2*s.timeout + 5*time.Second) // outlasts the call: nobody else can close or call meanwhile
	res := s.charges(s.db.WithContext(ctx)).
		Where("id = ? AND status = ? AND (channel_params IS NULL OR channel_params = '')", c.ID, models.ChargeCreated).
		Where("lease_until IS NULL OR lease_until < ?", now).
		Updates(map[string]any{"lease_until": lease, "lease_token": tok})
	if res.Error != nil {
		return nil, internal(res.Error)
	}
	if res.RowsAffected == 0 {
		cur, err := s.findCharge(ctx, s.db, c.AppID, c.OutTradeNo)
		if err != nil {
			return nil, err
		}
		if cur.ChannelParams != "" {
			return s.storedOrder(cur)
		}
		if cur.Status != models.ChargeCreated {
			return nil, newErr(CodeExists, "outTradeNo %s already exists and is %s", c.OutTradeNo, cur.Status)
		}
		return nil, newErr(CodeInProgress, "another request with outTradeNo %s is being processed; retry", c.OutTradeNo)
	}

	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	params, err := ch.Create(cctx, &channels.CreateRequest{
		AppID: c.AppID, Code: c.Channel, OutTradeNo: c.OutTradeNo, TotalFee: c.TotalFee,
		Subject: c.Subject, Body: c.Body, Description: c.Description, ClientIP: c.ClientIP,
		Attach: c.Attach, ReturnURL: c.ReturnURL, OpenID: c.OpenID, ExpireAt: c.ExpireAt,
		CallbackURL: s.callbackURL(c.AppID, ch),
	})
	cancel()
	if err != nil {
		// Release the lease so that a retry of the same request calls the
		// channel again (with the same outTradeNo).
		s.releaseCharge(context.WithoutCancel(ctx), c.ID, tok)
		return nil, channelError(ctx, s, c.Channel.Provider(), CodeWechatOrder, "create the order", err)
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, internal(err)
	}
	res = s.charges(s.db.WithContext(context.WithoutCancel(ctx))).
		Where("id = ? AND lease_token = ? AND (channel_params IS NULL OR channel_params = '')", c.ID, tok).
		Updates(map[string]any{"channel_params": string(raw), "lease_until": nil, "lease_token": "", "updated_at": s.utcNow()})
	if res.Error != nil {
		return nil, internal(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, internal(fmt.Errorf("charge %d: lost the lease during the channel call", c.ID))
	}
	c.ChannelParams = string(raw)
	return chargeResult(c, params), nil
}

func (s *Service) storedOrder(c *models.Charge) (*ChargeResult, error) {
	var params channels.Params
	if err := json.Unmarshal([]byte(c.ChannelParams), &params); err != nil {
		return nil, internal(fmt.Errorf("charge %d: stored channel params: %w", c.ID, err))
	}
	return chargeResult(c, params), nil
}

// channelError turns an adapter error into the provider's error code with
// the channel's own message; an unknown outcome gets a generic message and
// the cause is logged.
func channelError(ctx context.Context, s *Service, provider string, wechatCode int, what string, err error) error {
	code := providerCode(provider, wechatCode)
	var ce *channels.Error
	if errors.As(err, &ce) {
		return &Error{Code: code, Msg: fmt.Sprintf("the channel refused to %s: %s", what, ce.Message), Err: err}
	}
	s.logger(ctx).Warn("paycenter: channel call failed", "op", what, "err", err)
	return &Error{Code: code, Msg: fmt.Sprintf("the channel could not %s (no answer or an unreadable one); retry with the same parameters", what), Err: err}
}

func (s *Service) findCharge(ctx context.Context, db *gorm.DB, appID, outTradeNo string) (*models.Charge, error) {
	var c models.Charge
	err := s.charges(db.WithContext(ctx)).Where("app_id = ? AND out_trade_no = ?", appID, outTradeNo).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, newErr(CodeNotFound, "no charge with outTradeNo %s", outTradeNo)
	}
	if err != nil {
		return nil, internal(err)
	}
	return &c, nil
}

func (s *Service) chargeOn(ctx context.Context, db *gorm.DB, appID string, code channels.Code, outTradeNo string) (*models.Charge, error) {
	if err := ValidateChannel(code); err != nil {
		return nil, err
	}
	if err := ValidateOutTradeNo(outTradeNo); err != nil {
		return nil, err
	}
	c, err := s.findCharge(ctx, db, appID, outTradeNo)
	if err != nil {
		return nil, err
	}
	if c.Channel != code {
		return nil, newErr(CodeNotFound, "no charge with outTradeNo %s on channel %s", outTradeNo, code)
	}
	return c, nil
}

// PayResult answers whether a charge is paid (SPEC 2.4). An unpaid charge of
// a channel that can be queried is checked with the channel first, and a
// payment found there is applied exactly as a notification would be.
func (s *Service) PayResult(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*PayResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, s.db, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	if c.Status == models.ChargeCreated && c.ChannelParams != "" {
		ch := e.byCode[c.Channel]
		if q, ok := ch.(channels.Querier); ok && ch != s.sandbox {
			qctx, cancel := context.WithTimeout(ctx, s.qtimeout)
			pay, err := q.QueryPayment(qctx, appID, c.Channel, c.OutTradeNo)
			cancel()
			if err != nil {
				s.logger(ctx).Warn("paycenter: active query failed; answering from local state", "outTradeNo", c.OutTradeNo, "err", err)
			} else if err := s.applyPayment(ctx, c, pay); err != nil {
				s.logger(ctx).Warn("paycenter: applying the active query's answer failed", "outTradeNo", c.OutTradeNo, "err", err)
			} else if c, err = s.findCharge(ctx, s.db, appID, outTradeNo); err != nil {
				return nil, err
			}
		}
	}
	return payResult(c), nil
}

// PayResultTx answers from the state visible in tx, without asking the
// channel.
func (s *Service) PayResultTx(ctx context.Context, tx *gorm.DB, appID string, code channels.Code, outTradeNo string) (*PayResult, error) {
	if _, err := s.app(appID); err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, tx, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	return payResult(c), nil
}

// CloseCharge closes an unpaid charge at the channel, then locally (OnClosed
// runs). Closing a closed charge closes it at the channel again and succeeds;
// a paid charge is 20003, and a charge whose channel order is being opened
// right now is 20004 (closing it locally then would leave the new order
// payable at the channel).
func (s *Service) CloseCharge(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*CloseResult, error) {
	if _, err := s.app(appID); err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, s.db, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	paid := newErr(CodeExists, "charge %s is paid and cannot be closed; refund it instead", outTradeNo)
	if c.Status == models.ChargePaid {
		return nil, paid
	}
	tok, ok, err := s.claimCharge(ctx, c.ID, []models.ChargeStatus{models.ChargeCreated, models.ChargeClosed}, 2*s.timeout+5*time.Second)
	if err != nil {
		return nil, err
	}
	if !ok {
		if cur, err := s.findCharge(ctx, s.db, appID, outTradeNo); err == nil && cur.Status == models.ChargePaid {
			return nil, paid
		}
		return nil, newErr(CodeInProgress, "another request on charge %s is being processed; retry", outTradeNo)
	}
	defer s.releaseCharge(context.WithoutCancel(ctx), c.ID, tok)
	switch err := s.closeCharge(ctx, c); {
	case errors.Is(err, errPaidAtChannel):
		return nil, newErr(CodeExists, "charge %s was paid at the channel and cannot be closed; refund it instead", outTradeNo)
	case err != nil:
		return nil, channelError(ctx, s, c.Channel.Provider(), CodeWechatQuery, "close the order", err)
	}
	if c, err = s.findCharge(ctx, s.db, appID, outTradeNo); err != nil {
		return nil, err
	}
	if c.Status == models.ChargePaid {
		return nil, newErr(CodeExists, "charge %s was paid meanwhile and cannot be closed; refund it instead", outTradeNo)
	}
	return &CloseResult{Channel: c.Channel, OutTradeNo: c.OutTradeNo, Status: c.Status}, nil
}

// errPaidAtChannel: the channel refused to close because the order is paid;
// the payment has been applied.
var errPaidAtChannel = errors.New("paid at the channel")

// closeCharge closes c at its channel (every adapter that can close is
// asked, even before any channel order is known: a create whose answer was
// lost may have opened one) and then locally. The caller holds c's lease
// (no channel order can be opened meanwhile), or c is already CLOSED.
// A channel that says the order was paid wins: the payment is applied and
// errPaidAtChannel returned.
func (s *Service) closeCharge(ctx context.Context, c *models.Charge) error {
	var ch channels.Channel
	if e := s.apps[c.AppID]; e != nil {
		ch = e.byCode[c.Channel]
	}
	if closer, ok := ch.(channels.Closer); ok && ch != nil {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := closer.ClosePayment(cctx, c.AppID, c.Channel, c.OutTradeNo)
		cancel()
		if errors.Is(err, channels.ErrAlreadyPaid) {
			q, ok := ch.(channels.Querier)
			if !ok {
				return errors.New("the channel says the charge was paid but cannot be queried")
			}
			qctx, cancel := context.WithTimeout(ctx, s.qtimeout)
			pay, err := q.QueryPayment(qctx, c.AppID, c.Channel, c.OutTradeNo)
			cancel()
			if err != nil {
				return err
			}
			if pay.Status != channels.PaymentPaid {
				return errors.New("the channel refused to close an order it does not report as paid")
			}
			if err := s.applyPayment(ctx, c, pay); err != nil {
				return err
			}
			return errPaidAtChannel
		}
		if err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx *gorm.DB) error { return s.markClosed(ctx, tx, c.ID, true) })
}

// claimCharge takes the lease of charge id (in one of statuses) for d: one
// holder at a time calls the channel about a charge.
func (s *Service) claimCharge(ctx context.Context, id int64, statuses []models.ChargeStatus, d time.Duration) (string, bool, error) {
	now := s.utcNow()
	tok := token()
	res := s.charges(s.db.WithContext(ctx)).Where("id = ? AND status IN ?", id, statuses).
		Where("lease_until IS NULL OR lease_until < ?", now).
		Updates(map[string]any{"lease_until": now.Add(d), "lease_token": tok})
	if res.Error != nil {
		return "", false, internal(res.Error)
	}
	return tok, res.RowsAffected == 1, nil
}

// releaseCharge gives up the lease tok of charge id, if still held.
func (s *Service) releaseCharge(ctx context.Context, id int64, tok string) {
	err := s.charges(s.db.WithContext(ctx)).Where("id = ? AND lease_token = ?", id, tok).
		Updates(map[string]any{"lease_until": nil, "lease_token": ""}).Error
	if err != nil {
		s.logger(ctx).Error("paycenter: release charge lease", "chargeId", id, "err", err)
	}
}

// CloseChargeTx closes an unpaid charge locally inside the host's
// transaction (OnClosed runs in it). It does not call the channel; call
// CloseCharge after tx commits to close the channel order too. Until the
// channel has confirmed the close, the reconciliation worker keeps asking
// it to close, and a payment made meanwhile is recorded as a late payment.
func (s *Service) CloseChargeTx(ctx context.Context, tx *gorm.DB, appID string, code channels.Code, outTradeNo string) (*CloseResult, error) {
	if _, err := s.app(appID); err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, tx, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	if c.Status == models.ChargePaid {
		return nil, newErr(CodeExists, "charge %s is paid and cannot be closed; refund it instead", outTradeNo)
	}
	if err := inHostTx(ctx, tx, func(tx *gorm.DB) error { return s.markClosed(ctx, tx, c.ID, false) }); err != nil {
		return nil, err
	}
	return &CloseResult{Channel: c.Channel, OutTradeNo: c.OutTradeNo, Status: models.ChargeClosed}, nil
}

// markClosed moves a CREATED charge to CLOSED and runs OnClosed, in tx.
// Anything else is left alone. atChannel says the channel's order is
// closed too: then the reconciliation worker stops asking about the charge
// (otherwise it goes on closing it at the channel, see ReconcileDue).
func (s *Service) markClosed(ctx context.Context, tx *gorm.DB, id int64, atChannel bool) error {
	now := s.utcNow()
	if atChannel {
		err := s.charges(tx).Where("id = ? AND status = ? AND next_query_at IS NOT NULL", id, models.ChargeClosed).
			Update("next_query_at", nil).Error
		if err != nil {
			return internal(err)
		}
	}
	upd := map[string]any{"status": models.ChargeClosed, "closed_at": now, "updated_at": now}
	if atChannel {
		upd["next_query_at"] = nil
	}
	res := s.charges(tx).Where("id = ? AND status = ?", id, models.ChargeCreated).Updates(upd)
	if res.Error != nil {
		return internal(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil
	}
	var c models.Charge
	if err := s.charges(tx).Where("id = ?", id).Take(&c).Error; err != nil {
		return internal(err)
	}
	if err := s.hooks.RunClosed(ctx, &hooks.Closed{Tx: tx, Charge: &c}); err != nil {
		return err
	}
	return s.emit(tx, c.AppID, hooks.ChargeClosed, c.ID, 0, payResult(&c))
}

// applyPayment applies what a channel said about charge c: a payment (the
// amount must be the charge's), a closure, or nothing.
func (s *Service) applyPayment(ctx context.Context, c *models.Charge, p *channels.Payment) error {
	if p == nil {
		return nil
	}
	switch p.Status {
	case channels.PaymentPaid:
		if p.TotalFee != c.TotalFee {
			return fmt.Errorf("paid amount %d fen does not match the charge's %d fen", p.TotalFee, c.TotalFee)
		}
		return s.inTx(ctx, func(tx *gorm.DB) error { return s.markPaid(ctx, tx, c.ID, p) })
	case channels.PaymentClosed:
		return s.inTx(ctx, func(tx *gorm.DB) error { return s.markClosed(ctx, tx, c.ID, true) })
	}
	return nil // pending or a failed attempt: nothing changes
}

// markPaid moves a charge to PAID (from CREATED, or from CLOSED as a late
// payment) and runs OnPaid, in tx. A charge already PAID is left alone, so
// duplicate and concurrent notifications fire the hook once.
func (s *Service) markPaid(ctx context.Context, tx *gorm.DB, id int64, p *channels.Payment) error {
	now := s.utcNow()
	paidAt := p.PaidAt.UTC()
	if p.PaidAt.IsZero() {
		paidAt = now
	}
	res := s.charges(tx).Where("id = ? AND status IN ?", id, []models.ChargeStatus{models.ChargeCreated, models.ChargeClosed}).
		Updates(map[string]any{
			"late_paid":      gorm.Expr("(status = ? OR expire_at < ?)", models.ChargeClosed, now),
			"status":         models.ChargePaid,
			"transaction_id": p.TransactionID,
			"paid_at":        paidAt,
			"updated_at":     now,
		})
	if res.Error != nil {
		return internal(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil
	}
	var c models.Charge
	if err := s.charges(tx).Where("id = ?", id).Take(&c).Error; err != nil {
		return internal(err)
	}
	if err := s.hooks.RunPaid(ctx, &hooks.Paid{Tx: tx, Charge: &c, Late: c.LatePaid}); err != nil {
		return err
	}
	if err := s.emit(tx, c.AppID, hooks.ChargeSucceeded, c.ID, 0, payResult(&c)); err != nil {
		return err
	}
	if c.LatePaid && s.refundLate {
		return s.refundLatePayment(ctx, tx, &c)
	}
	return nil
}

// LateRefundPrefix starts the refund number of an automatic late-payment
// refund: "LATE_" + outTradeNo. The underscore keeps it apart from every
// merchant number (outRefundNo is letters and digits only); both channels
// accept it.
const LateRefundPrefix = "LATE_"

// refundLatePayment reserves a full refund of a late payment (LatePayment
// "refund"); the refund worker sends it. Recording the payment matters more
// than refunding it: if the refund cannot be reserved, that is logged for a
// person to handle and the payment still commits.
func (s *Service) refundLatePayment(ctx context.Context, tx *gorm.DB, c *models.Charge) error {
	now := s.utcNow()
	r := &models.Refund{
		AppID: c.AppID, OutRefundNo: LateRefundPrefix + c.OutTradeNo, ChargeID: c.ID, OutTradeNo: c.OutTradeNo,
		RefundFee: c.TotalFee, RefundDesc: "late payment refunded automatically", Status: models.RefundProcessing,
		NextCheckAt: &now, CreatedAt: now, UpdatedAt: now,
	}
	err := tx.Transaction(func(tx *gorm.DB) error { // a savepoint: a failure here must not abort the payment
		if err := s.refunds(tx).Create(r).Error; err != nil {
			return err
		}
		res := s.charges(tx).Where("id = ? AND refund_reserved = 0", c.ID).
			Updates(map[string]any{"refund_reserved": gorm.Expr("total_fee"), "updated_at": now})
		if res.Error == nil && res.RowsAffected == 0 {
			return errors.New("the charge already has refunds reserved")
		}
		return res.Error
	})
	if err != nil {
		s.logger(ctx).Error("paycenter: late payment recorded but its automatic refund could not be reserved; refund it by hand",
			"appId", c.AppID, "outTradeNo", c.OutTradeNo, "err", err)
	}
	return nil
}
