package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gopaycenter/paycenter/paytype"
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
func (s *Service) CreateCharge(ctx context.Context, appID string, p paytype.CreateChargeParams) (*paytype.ChargeResult, error) {
	e, ch, err := s.prepareCharge(appID, &p)
	if err != nil {
		return nil, err
	}
	c, err := s.reserveCharge(ctx, s.db, e, ch, &p)
	if err != nil {
		return nil, err
	}
	return s.channelOrder(ctx, e, ch, c)
}

// CreateChargeTx reserves the charge inside the host's transaction tx,
// with every rule and the idempotency of CreateCharge, but calls no
// channel (no network call happens inside a transaction): the result has
// no ChannelParams. After tx commits, call CreateCharge with the same
// parameters to open the channel order and get them.
func (s *Service) CreateChargeTx(ctx context.Context, tx *gorm.DB, appID string, p paytype.CreateChargeParams) (*paytype.ChargeResult, error) {
	e, ch, err := s.prepareCharge(appID, &p)
	if err != nil {
		return nil, err
	}
	c, err := s.reserveCharge(ctx, tx, e, ch, &p)
	if err != nil {
		return nil, err
	}
	var params channels.Params
	if c.ChannelParams != "" {
		_ = json.Unmarshal([]byte(c.ChannelParams), &params)
	}
	return chargeResult(c, params), nil
}

func (s *Service) prepareCharge(appID string, p *paytype.CreateChargeParams) (*appEntry, channels.Channel, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, nil, err
	}
	if err := normalizeCharge(p, &e.App); err != nil {
		return nil, nil, err
	}
	ch := e.byCode[p.Channel]
	if ch == nil {
		return nil, nil, newErr(paytype.CodeNoChannel, "channel %s is not configured for this app", p.Channel)
	}
	return e, ch, nil
}

// reserveCharge inserts the charge, or finds the earlier one with the same
// (app, outTradeNo) and checks that it is the same request and still
// payable. The number is unique per app and per channel account (apps on
// one account share its numbers), both enforced by unique indexes.
func (s *Service) reserveCharge(ctx context.Context, db *gorm.DB, e *appEntry, ch channels.Channel, p *paytype.CreateChargeParams) (*models.Charge, error) {
	now := s.utcNow()
	c := &models.Charge{
		AppID: e.ID, OutTradeNo: p.OutTradeNo, Account: account(e.ID, ch), Channel: p.Channel,
		TotalFee: p.TotalFee, FeeType: p.FeeType,
		ClientIP: p.ClientIP, Subject: p.Subject, Body: p.Body, Description: p.Description, Attach: p.Attach,
		Analysis: p.Analysis, ReturnURL: p.ReturnURL, OpenID: p.OpenID, CreatedMs: p.Created,
		TimeExpire: p.TimeExpire, ExpireAt: now.Add(time.Duration(p.TimeExpire) * time.Second),
		Status: models.ChargeCreated, Marker: token()[:16], CreatedAt: now, UpdatedAt: now,
	}
	// In a savepoint, so that a duplicate key does not abort a host's
	// PostgreSQL transaction.
	err := s.retryOwn(ctx, db, func() error {
		return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.charges(tx).Create(c).Error })
	})
	if err == nil {
		return c, nil
	}
	if !duplicateKey(err) {
		return nil, internal(err)
	}
	// A locking read: in a host's MySQL REPEATABLE READ transaction a plain
	// read would not see the row another transaction just committed.
	err = s.retryOwn(ctx, db, func() (err error) {
		c, err = s.findCharge(ctx, db.Clauses(clause.Locking{Strength: "UPDATE"}), e.ID, p.OutTradeNo)
		if errors.Is(err, paytype.CodeInternal) {
			return AsError(err).Err
		}
		return err
	})
	if errors.Is(err, paytype.CodeNotFound) { // the account's number belongs to another app
		return nil, newErr(paytype.CodeExists, "outTradeNo %s is already used by another app on the same %s merchant account "+
			"(numbers are unique per channel account); use another outTradeNo", p.OutTradeNo, ch.Provider())
	}
	if err != nil {
		return nil, err
	}
	if field := chargeDiffers(p, c); field != "" {
		return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists with a different %s", p.OutTradeNo, field)
	}
	switch {
	case c.Status == models.ChargePaid:
		return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists and is paid", p.OutTradeNo)
	case c.Status == models.ChargeClosed:
		return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists and is closed", p.OutTradeNo)
	case now.After(c.ExpireAt):
		return nil, newErr(paytype.CodeClosed, "outTradeNo %s already exists and has expired unpaid; use a new outTradeNo", p.OutTradeNo)
	}
	return c, nil
}

// leaseMargin is added to a channel call's timeout to make the lease that
// covers it: long enough that the holder has recorded the outcome, short
// enough that a request cut off by a crash is retried within seconds.
const leaseMargin = 5 * time.Second

// callLease is the lease of one channel call.
func (s *Service) callLease() time.Duration { return s.timeout + leaseMargin }

// channelOrder returns the charge's channelParams, opening the channel
// order first when there is none yet.
func (s *Service) channelOrder(ctx context.Context, e *appEntry, ch channels.Channel, c *models.Charge) (*paytype.ChargeResult, error) {
	if c.ChannelParams != "" {
		return s.storedOrder(c)
	}
	now := s.utcNow()
	tok := token()
	lease := now.Add(s.callLease()) // outlasts the call: nobody else can close or call meanwhile
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
			return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists and is %s", c.OutTradeNo, cur.Status)
		}
		return nil, newErr(paytype.CodeInProgress, "another request with outTradeNo %s is being processed; retry", c.OutTradeNo)
	}

	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	params, err := ch.Create(cctx, &channels.CreateRequest{
		AppID: c.AppID, Code: c.Channel, OutTradeNo: c.OutTradeNo, TotalFee: c.TotalFee,
		Subject: c.Subject, Body: c.Body, Description: c.Description, ClientIP: c.ClientIP,
		Attach: c.Attach, ReturnURL: c.ReturnURL, OpenID: c.OpenID, ExpireAt: c.ExpireAt,
		CallbackURL: s.callbackURL(c.AppID, ch), Marker: c.Marker,
	})
	cancel()
	if err != nil {
		// Release the lease so that a retry of the same request calls the
		// channel again (with the same outTradeNo).
		s.releaseCharge(context.WithoutCancel(ctx), c.ID, tok)
		return nil, channelError(ctx, s, c.Channel.Provider(), paytype.CodeWechatOrder, "create the order", err)
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, internal(err)
	}
	upd := map[string]any{"channel_params": string(raw), "lease_until": nil, "lease_token": "", "updated_at": s.utcNow()}
	if s.queryable(ch) {
		// The order is handed out: from now on a lost notification is
		// found by asking the channel.
		upd["next_query_at"] = s.utcNow().Add(queryDelay(0))
	}
	res = s.charges(s.db.WithContext(context.WithoutCancel(ctx))).
		Where("id = ? AND lease_token = ? AND (channel_params IS NULL OR channel_params = '')", c.ID, tok).
		Updates(upd)
	if res.Error != nil {
		return nil, internal(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, internal(fmt.Errorf("charge %d: lost the lease during the channel call", c.ID))
	}
	c.ChannelParams = string(raw)
	return chargeResult(c, params), nil
}

// queryable reports whether the reconciliation worker asks ch about
// payments (real channels that can be queried; never the sandbox).
func (s *Service) queryable(ch channels.Channel) bool {
	_, ok := ch.(channels.Querier)
	return ok && ch != s.sandbox
}

func (s *Service) storedOrder(c *models.Charge) (*paytype.ChargeResult, error) {
	var params channels.Params
	if err := json.Unmarshal([]byte(c.ChannelParams), &params); err != nil {
		return nil, internal(fmt.Errorf("charge %d: stored channel params: %w", c.ID, err))
	}
	return chargeResult(c, params), nil
}

// channelError turns an adapter error into the provider's error code with
// the channel's own message; an unknown outcome gets a generic message and
// the cause is logged.
func channelError(ctx context.Context, s *Service, provider string, wechatCode paytype.Code, what string, err error) error {
	code := wechatCode.Channel(provider)
	var ce *channels.Error
	if errors.As(err, &ce) {
		return &paytype.Error{Code: code, Msg: fmt.Sprintf("the channel refused to %s: %s", what, ce.Message), Err: err}
	}
	s.logger(ctx).Warn("paycenter: channel call failed", "op", what, "err", err)
	return &paytype.Error{Code: code, Msg: fmt.Sprintf("the channel could not %s (no answer or an unreadable one); retry with the same parameters", what), Err: err}
}

func (s *Service) findCharge(ctx context.Context, db *gorm.DB, appID, outTradeNo string) (*models.Charge, error) {
	var c models.Charge
	err := s.charges(db.WithContext(ctx)).Where("app_id = ? AND out_trade_no = ?", appID, outTradeNo).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, newErr(paytype.CodeNotFound, "no charge with outTradeNo %s", outTradeNo)
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
		return nil, newErr(paytype.CodeNotFound, "no charge with outTradeNo %s on channel %s", outTradeNo, code)
	}
	return c, nil
}

// PayResult answers whether a charge is paid (SPEC 2.4). A charge the
// channel may still take money for — unpaid with its order handed out, or
// closed while the channel has not confirmed the close — is checked with
// the channel first, and a payment found there is applied exactly as a
// notification would be.
func (s *Service) PayResult(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*paytype.PayResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, s.db, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	ch := e.byCode[c.Channel]
	if q, ok := ch.(channels.Querier); ok && s.queryable(ch) && s.channelMayPay(c) {
		qctx, cancel := context.WithTimeout(ctx, s.qtimeout)
		pay, err := q.QueryPayment(qctx, appID, c.Channel, c.OutTradeNo)
		cancel()
		if err != nil {
			s.logger(ctx).Warn("paycenter: active query failed; answering from local state", "outTradeNo", c.OutTradeNo, "err", err)
		} else if err := s.applyPayment(ctx, e, ch, c, pay, sourceQuery); err != nil {
			s.logger(ctx).Warn("paycenter: the active query's answer was not applied", "outTradeNo", c.OutTradeNo, "err", err)
		} else if c, err = s.findCharge(ctx, s.db, appID, outTradeNo); err != nil {
			return nil, err
		}
	}
	return payResult(c), nil
}

// channelMayPay reports whether the channel may hold a payment for c that
// the pay center has not recorded: an unpaid charge whose order was handed
// out, or a closed one whose close the channel has not confirmed.
func (s *Service) channelMayPay(c *models.Charge) bool {
	switch c.Status {
	case models.ChargeCreated:
		return c.ChannelParams != ""
	case models.ChargeClosed:
		return c.NextQueryAt != nil
	}
	return false
}

// PayResultTx answers from the state visible in tx, without asking the
// channel.
func (s *Service) PayResultTx(ctx context.Context, tx *gorm.DB, appID string, code channels.Code, outTradeNo string) (*paytype.PayResult, error) {
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
func (s *Service) CloseCharge(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*paytype.CloseResult, error) {
	if _, err := s.app(appID); err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, s.db, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	paid := newErr(paytype.CodeExists, "charge %s is paid and cannot be closed; refund it instead", outTradeNo)
	if c.Status == models.ChargePaid {
		return nil, paid
	}
	tok, ok, err := s.claimCharge(ctx, c.ID, []models.ChargeStatus{models.ChargeCreated, models.ChargeClosed}, s.callLease())
	if err != nil {
		return nil, err
	}
	if !ok {
		if cur, err := s.findCharge(ctx, s.db, appID, outTradeNo); err == nil && cur.Status == models.ChargePaid {
			return nil, paid
		}
		return nil, newErr(paytype.CodeInProgress, "another request on charge %s is being processed; retry", outTradeNo)
	}
	defer s.releaseCharge(context.WithoutCancel(ctx), c.ID, tok)
	switch err := s.closeCharge(ctx, c); {
	case errors.Is(err, errPaidAtChannel):
		return nil, newErr(paytype.CodeExists, "charge %s was paid at the channel and cannot be closed; refund it instead", outTradeNo)
	case err != nil:
		return nil, channelError(ctx, s, c.Channel.Provider(), paytype.CodeWechatQuery, "close the order", err)
	}
	if c, err = s.findCharge(ctx, s.db, appID, outTradeNo); err != nil {
		return nil, err
	}
	if c.Status == models.ChargePaid {
		return nil, newErr(paytype.CodeExists, "charge %s was paid meanwhile and cannot be closed; refund it instead", outTradeNo)
	}
	return &paytype.CloseResult{Channel: c.Channel, OutTradeNo: c.OutTradeNo, Status: c.Status}, nil
}

// errPaidAtChannel: the channel refused to close because the order is paid;
// the payment has been applied.
var errPaidAtChannel = errors.New("paid at the channel")

// closeWatch is how long after its expiry a charge whose order the channel
// could not close yet (channels.ErrNotOpened) is still watched: the
// handed-out order is payable until its expiry at the channel, plus this
// allowance for the two clocks.
const closeWatch = 5 * time.Minute

// How a close reached the channel, for markClosed.
type closeAt int

const (
	closedLocally   closeAt = iota // CloseChargeTx: the worker closes at the channel later
	closedAtChannel                // the channel confirmed: nothing more to ask
	closeNotOpened                 // the channel has no order yet but one may still open: keep watching
)

// closeCharge closes c at its channel (every adapter that can close is
// asked, even before any channel order is known: a create whose answer was
// lost may have opened one) and then locally. The caller holds c's lease
// (no channel order can be opened meanwhile), or c is already CLOSED.
// A channel that says the order was paid wins: the payment is applied and
// errPaidAtChannel returned.
func (s *Service) closeCharge(ctx context.Context, c *models.Charge) error {
	e := s.apps[c.AppID]
	var ch channels.Channel
	if e != nil {
		ch = e.byCode[c.Channel]
	}
	how := closedAtChannel
	if closer, ok := ch.(channels.Closer); ok && ch != nil {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := closer.ClosePayment(cctx, c.AppID, c.Channel, c.OutTradeNo)
		cancel()
		switch {
		case errors.Is(err, channels.ErrAlreadyPaid):
			return s.applyPaidAtChannel(ctx, e, ch, c)
		case errors.Is(err, channels.ErrNotOpened):
			how = closeNotOpened
			if s.utcNow().After(c.ExpireAt.Add(closeWatch)) {
				how = closedAtChannel // expired at the channel too: it can no longer open
			}
		case err != nil:
			return err
		}
	}
	return s.inTx(ctx, func(tx *gorm.DB) error { return s.markClosed(ctx, tx, c.ID, how) })
}

// applyPaidAtChannel applies the payment of a charge the channel refused to
// close because it is paid.
func (s *Service) applyPaidAtChannel(ctx context.Context, e *appEntry, ch channels.Channel, c *models.Charge) error {
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
	if err := s.applyPayment(ctx, e, ch, c, pay, sourceQuery); err != nil {
		return err
	}
	return errPaidAtChannel
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
// it to close, and a payment made after the close is recorded as a late
// payment.
func (s *Service) CloseChargeTx(ctx context.Context, tx *gorm.DB, appID string, code channels.Code, outTradeNo string) (*paytype.CloseResult, error) {
	if _, err := s.app(appID); err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, tx, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	if c.Status == models.ChargePaid {
		return nil, newErr(paytype.CodeExists, "charge %s is paid and cannot be closed; refund it instead", outTradeNo)
	}
	if err := inHostTx(ctx, tx, func(tx *gorm.DB) error { return s.markClosed(ctx, tx, c.ID, closedLocally) }); err != nil {
		return nil, err
	}
	return &paytype.CloseResult{Channel: c.Channel, OutTradeNo: c.OutTradeNo, Status: models.ChargeClosed}, nil
}

// markClosed moves a CREATED charge to CLOSED and runs OnClosed, in tx, and
// records how far the close reached the channel: confirmed (the
// reconciliation worker stops asking about the charge), not opened yet
// (it keeps watching until the expiry has passed) or local only (it goes on
// closing at the channel, see ReconcileDue).
func (s *Service) markClosed(ctx context.Context, tx *gorm.DB, id int64, how closeAt) error {
	now := s.utcNow()
	watch := map[closeAt]any{closedAtChannel: nil, closeNotOpened: now.Add(queryDelay(0))}
	if next, ok := watch[how]; ok { // an already CLOSED charge: update the watch
		err := s.charges(tx).Where("id = ? AND status = ?", id, models.ChargeClosed).Update("next_query_at", next).Error
		if err != nil {
			return internal(err)
		}
	}
	upd := map[string]any{"status": models.ChargeClosed, "closed_at": now, "updated_at": now}
	if next, ok := watch[how]; ok {
		upd["next_query_at"] = next
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
	if err := s.runHook(ctx, func() error { return s.hooks.RunClosed(ctx, &hooks.Closed{Tx: tx, Charge: &c}) }); err != nil {
		return err
	}
	return s.emit(tx, c.AppID, hooks.ChargeClosed, c.ID, 0, payResult(&c))
}

// Where what a channel said about a charge or refund came from.
const (
	sourceNotification = "notification"
	sourceQuery        = "query"
)

// errNotApplied: what the channel said does not match the charge or refund;
// it was recorded as a discrepancy for a person, not applied.
var errNotApplied = errors.New("not applied: recorded as a discrepancy")

// applyPayment applies what channel ch said about charge c: a payment, a
// closure, or nothing. A payment that does not match the charge (amount,
// channel account, the echoed marker) is not applied: it is recorded as a
// discrepancy and errNotApplied returned.
func (s *Service) applyPayment(ctx context.Context, e *appEntry, ch channels.Channel, c *models.Charge, p *channels.Payment, source string) error {
	if p == nil || (p.Status != channels.PaymentPaid && p.Status != channels.PaymentClosed) {
		return nil // pending or a failed attempt: nothing changes
	}
	if kind, detail := mismatch(e, ch, c, p); kind != "" {
		s.recordDiscrepancy(ctx, &models.Discrepancy{
			Kind: kind, Source: source, AppID: c.AppID, Provider: ch.Provider(), Account: account(c.AppID, ch),
			OutTradeNo: c.OutTradeNo, TransactionID: p.TransactionID,
			LocalAmount: c.TotalFee, ChannelAmount: p.TotalFee, Detail: detail,
		})
		return errNotApplied
	}
	if p.Status == channels.PaymentClosed {
		return s.inTx(ctx, func(tx *gorm.DB) error { return s.markClosed(ctx, tx, c.ID, closedAtChannel) })
	}
	return s.inTx(ctx, func(tx *gorm.DB) error { return s.markPaid(ctx, tx, c.ID, p) })
}

// mismatch says why what the channel reports about c cannot be c's, or ""
// when it can. The channel must be the one serving the charge's code for its
// app, on the account the charge was opened on; a paid amount must be the
// charge's; and where the channel echoes the marker it must be c's.
func mismatch(e *appEntry, ch channels.Channel, c *models.Charge, p *channels.Payment) (models.DiscrepancyKind, string) {
	switch {
	case e == nil || e.byCode[c.Channel] != ch:
		return models.DiscrepancyAccount, fmt.Sprintf("the charge's channel %s is not served by this %s account", c.Channel, ch.Provider())
	case c.Account != "" && c.Account != account(c.AppID, ch):
		return models.DiscrepancyAccount, fmt.Sprintf("the charge was opened on account %s, the answer comes from %s", c.Account, account(c.AppID, ch))
	case c.Marker != "" && p.HasMarker && p.Marker != c.Marker:
		return models.DiscrepancyMarker, "the order at the channel carries another marker: it is not the one the pay center opened"
	case p.Status == channels.PaymentPaid && p.TotalFee != c.TotalFee:
		return models.DiscrepancyAmount, fmt.Sprintf("paid amount %d fen, the charge is %d fen", p.TotalFee, c.TotalFee)
	}
	return "", ""
}

// markPaid moves a charge to PAID (from CREATED, or from CLOSED: money was
// taken, so it is recorded) and runs OnPaid, in tx. A charge already PAID is
// left alone, so duplicate and concurrent notifications fire the hook once.
//
// The payment is late when the channel's payment time is after the
// charge's expiry, or not before the second in which the charge was closed
// (channels report payment times to the second; a payment racing a close
// within that second is treated as after it) — never judged by when the
// pay center happens to process it. A channel that gives no payment time is
// taken to have been paid now.
func (s *Service) markPaid(ctx context.Context, tx *gorm.DB, id int64, p *channels.Payment) error {
	now := s.utcNow()
	paidAt := p.PaidAt.UTC()
	if p.PaidAt.IsZero() {
		paidAt = now
	}
	closedBefore := paidAt.Truncate(time.Second).Add(time.Second) // closed_at < this: closed in paidAt's second or before
	res := s.charges(tx).Where("id = ? AND status IN ?", id, []models.ChargeStatus{models.ChargeCreated, models.ChargeClosed}).
		Updates(map[string]any{
			"late_paid":      gorm.Expr("(expire_at < ? OR (closed_at IS NOT NULL AND closed_at < ?))", paidAt, closedBefore),
			"status":         models.ChargePaid,
			"transaction_id": p.TransactionID,
			"paid_at":        paidAt,
			"next_query_at":  nil,
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
	if c.LatePaid && s.refundLate {
		s.refundLatePayment(ctx, tx, &c)
	}
	if err := s.runHook(ctx, func() error { return s.hooks.RunPaid(ctx, &hooks.Paid{Tx: tx, Charge: &c, Late: c.LatePaid}) }); err != nil {
		return err
	}
	return s.emit(tx, c.AppID, hooks.ChargeSucceeded, c.ID, 0, payResult(&c))
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
// payment still commits.
func (s *Service) refundLatePayment(ctx context.Context, tx *gorm.DB, c *models.Charge) {
	now := s.utcNow()
	r := &models.Refund{
		AppID: c.AppID, OutRefundNo: LateRefundPrefix + c.OutTradeNo, Account: c.Account, ChargeID: c.ID,
		OutTradeNo: c.OutTradeNo, RefundFee: c.TotalFee, RefundDesc: "late payment refunded automatically",
		Status: models.RefundProcessing, LatePayment: true, NextCheckAt: &now, CreatedAt: now, UpdatedAt: now,
	}
	err := tx.Transaction(func(tx *gorm.DB) error { // a savepoint: a failure here must not abort the payment
		if err := s.refunds(tx).Create(r).Error; err != nil {
			return err
		}
		res := s.charges(tx).Where("id = ? AND refund_reserved = 0", c.ID).Updates(map[string]any{
			"refund_reserved": gorm.Expr("total_fee"), "late_refund_no": r.OutRefundNo, "updated_at": now})
		if res.Error == nil && res.RowsAffected == 0 {
			return errors.New("the charge already has refunds reserved")
		}
		return res.Error
	})
	if err != nil {
		s.logger(ctx).Error("paycenter: late payment recorded but its automatic refund could not be reserved; refund it by hand",
			"appId", c.AppID, "outTradeNo", c.OutTradeNo, "err", err)
		return
	}
	c.RefundReserved, c.LateRefundNo = c.TotalFee, r.OutRefundNo
}
