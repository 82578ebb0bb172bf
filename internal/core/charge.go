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
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// CreateCharge creates a charge, or returns the existing one for the same
// (app, outTradeNo) and parameters (SPEC 2.3).
//
// A channel that signs its order locally (channels.OfflineCreator: Alipay,
// the sandbox) is asked first and the charge is stored with its
// channelParams: one write. A channel that calls out (WeChat Pay's prepay)
// is called between two: the charge is stored holding the lease of the
// call (a recovery point: a crash leaves a row whose lease ends, and the
// same request then calls again with the same outTradeNo), then its
// channelParams are recorded. Exactly one caller at a time calls the
// channel; a concurrent identical request gets the stored result or 20004.
func (s *Service) CreateCharge(ctx context.Context, appID string, p paytype.CreateChargeParams) (*paytype.ChargeResult, error) {
	e, ch, err := s.prepareCharge(appID, &p)
	if err != nil {
		return nil, err
	}
	c := s.newCharge(e, ch, &p)
	offline := isOffline(ch)
	if offline {
		if err := s.openOrder(ctx, ch, c); err != nil {
			return nil, err
		}
	} else {
		l := store.NewLease(c.CreatedAt.Add(s.callLease()))
		c.LeaseUntil, c.LeaseToken = &l.Until, l.Token
	}
	err = s.db.Single(ctx, func(db *gorm.DB) error { return s.charges(db).Create(c).Error })
	if err == nil {
		s.tel.ChargeCreated(ctx, c.Channel)
	}
	switch {
	case err == nil && offline:
		return storedOrder(c)
	case err == nil:
		return s.callOrder(ctx, ch, c, store.Lease{Token: c.LeaseToken, Until: *c.LeaseUntil})
	case !store.Duplicate(err):
		return nil, internal(err)
	}
	prev, err := s.existingCharge(ctx, s.db.W, e, ch, &p)
	if err != nil {
		return nil, err
	}
	if prev.ChannelParams != "" {
		return storedOrder(prev)
	}
	// Reserved earlier (CreateChargeTx, or a channel call that failed):
	// open the channel order now, under the lease.
	l := store.NewLease(s.utcNow().Add(s.callLease()))
	ok, err := store.Claim(ctx, s.db, s.t.Charges, prev.ID, s.utcNow(), l,
		"status = ? AND (channel_params IS NULL OR channel_params = '')", []any{models.ChargeCreated}, nil)
	if err != nil {
		return nil, internal(err)
	}
	if !ok {
		return s.stored(ctx, prev)
	}
	if offline {
		if err := s.openOrder(ctx, ch, prev); err != nil {
			s.releaseCharge(ctx, prev.ID, l)
			return nil, err
		}
		return s.recordOrder(ctx, ch, prev, l)
	}
	return s.callOrder(ctx, ch, prev, l)
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
	c := s.newCharge(e, ch, &p)
	// In a savepoint, so that a duplicate key does not abort a host's
	// PostgreSQL transaction.
	err = tx.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.charges(tx).Create(c).Error })
	switch {
	case err == nil:
		s.tel.ChargeCreated(ctx, c.Channel)
		return chargeResult(c, nil), nil
	case !store.Duplicate(err):
		return nil, internal(err)
	}
	if c, err = s.existingCharge(ctx, tx, e, ch, &p); err != nil {
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

// newCharge is the CREATED charge of p, for app e on channel ch: in the
// channel account's number space, with a marker of its own, looked at by
// the worker when it expires (sooner once its order is handed out).
func (s *Service) newCharge(e *appEntry, ch channels.Channel, p *paytype.CreateChargeParams) *models.Charge {
	now := s.utcNow()
	expire := now.Add(time.Duration(p.TimeExpire) * time.Second)
	return &models.Charge{
		AppID: e.ID, OutTradeNo: p.OutTradeNo, Account: account(e.ID, ch), Channel: p.Channel,
		TotalFee: p.TotalFee, FeeType: p.FeeType,
		ClientIP: p.ClientIP, Subject: p.Subject, Body: p.Body, Description: p.Description, Attach: p.Attach,
		Analysis: p.Analysis, ReturnURL: p.ReturnURL, OpenID: p.OpenID, CreatedMs: p.Created,
		TimeExpire: p.TimeExpire, ExpireAt: expire, NextQueryAt: &expire,
		Status: models.ChargeCreated, Marker: store.NewToken()[:16], CreatedAt: now, UpdatedAt: now,
	}
}

// existingCharge is the earlier charge with p's (app, outTradeNo), which a
// create met as a duplicate: it must be the same request and still
// payable. Found with a locking read: in a host's MySQL REPEATABLE READ
// transaction a plain read would not see the row another transaction just
// committed. None for the app means the number is another app's on the
// same channel account.
func (s *Service) existingCharge(ctx context.Context, db *gorm.DB, e *appEntry, ch channels.Channel, p *paytype.CreateChargeParams) (*models.Charge, error) {
	var c *models.Charge
	err := s.retryOwn(ctx, db, func() (err error) {
		c, err = s.findCharge(ctx, db.Clauses(clause.Locking{Strength: "UPDATE"}), e.ID, p.OutTradeNo)
		if pe := AsError(err); err != nil && pe.Code == paytype.CodeInternal {
			return pe.Err // retried when transient
		}
		return err
	})
	if errors.Is(err, paytype.CodeNotFound) {
		return nil, newErr(paytype.CodeExists, "outTradeNo %s is already used by another app on the same %s merchant account "+
			"(numbers are unique per channel account); use another outTradeNo", p.OutTradeNo, ch.Provider())
	}
	if err != nil {
		return nil, internal(err)
	}
	if field := chargeDiffers(p, c); field != "" {
		return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists with a different %s", p.OutTradeNo, field)
	}
	switch {
	case c.Status == models.ChargePaid:
		return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists and is paid", p.OutTradeNo)
	case c.Status == models.ChargeClosed:
		return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists and is closed", p.OutTradeNo)
	case s.utcNow().After(c.ExpireAt):
		return nil, newErr(paytype.CodeClosed, "outTradeNo %s already exists and has expired unpaid; use a new outTradeNo", p.OutTradeNo)
	}
	return c, nil
}

// retryOwn runs fn with retrying when db is the pay center's own handle
// (fn is then its own transaction); in a host's transaction a conflict has
// already rolled the host's work back, so it is returned as it is.
func (s *Service) retryOwn(ctx context.Context, db *gorm.DB, fn func() error) error {
	if db != s.db.W {
		return fn()
	}
	return store.Retrying(ctx, fn)
}

// isOffline reports whether ch signs its orders without a network call.
func isOffline(ch channels.Channel) bool {
	o, ok := ch.(channels.OfflineCreator)
	return ok && o.CreatesOffline()
}

// leaseMargin is added to a channel call's timeout to make the lease that
// covers it: long enough that the holder has recorded the outcome, short
// enough that a request cut off by a crash is retried within seconds.
const leaseMargin = 5 * time.Second

// callLease is the lease of one channel call.
func (s *Service) callLease() time.Duration { return s.timeout + leaseMargin }

// openOrder asks ch for c's client-side parameters and puts them on c,
// with the time the worker first asks the channel about it.
func (s *Service) openOrder(ctx context.Context, ch channels.Channel, c *models.Charge) error {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	cctx, call := s.tel.StartCall(cctx, ch.Provider(), telemetry.OpCreate, c.Channel)
	params, err := ch.Create(cctx, &channels.CreateRequest{
		AppID: c.AppID, Code: c.Channel, OutTradeNo: c.OutTradeNo, TotalFee: c.TotalFee,
		Subject: c.Subject, Body: c.Body, Description: c.Description, ClientIP: c.ClientIP,
		Attach: c.Attach, ReturnURL: c.ReturnURL, OpenID: c.OpenID, ExpireAt: c.ExpireAt,
		CallbackURL: s.callbackURL(c.AppID, ch), Marker: c.Marker,
	})
	call.End(err)
	cancel()
	if err != nil {
		return channelError(ctx, s, c.Channel.Provider(), paytype.CodeWechatOrder, "create the order", err)
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return internal(err)
	}
	c.ChannelParams = string(raw)
	if s.queryable(ch) {
		// The order is handed out: from now on a lost notification is
		// found by asking the channel.
		next := earliest(s.utcNow().Add(queryDelay(0)), c.ExpireAt)
		c.NextQueryAt = &next
	}
	return nil
}

// callOrder opens c's order at ch (a network call) under lease l, taken
// by the caller, and records it.
func (s *Service) callOrder(ctx context.Context, ch channels.Channel, c *models.Charge, l store.Lease) (*paytype.ChargeResult, error) {
	if err := s.openOrder(ctx, ch, c); err != nil {
		// Release the lease so that a retry of the same request calls the
		// channel again (with the same outTradeNo).
		s.releaseCharge(context.WithoutCancel(ctx), c.ID, l)
		return nil, err
	}
	return s.recordOrder(ctx, ch, c, l)
}

// recordOrder stores the channelParams openOrder put on c and frees the
// lease l.
func (s *Service) recordOrder(ctx context.Context, ch channels.Channel, c *models.Charge, l store.Lease) (*paytype.ChargeResult, error) {
	ok, err := store.Settle(context.WithoutCancel(ctx), s.db, s.t.Charges, c.ID, l, map[string]any{
		"channel_params": c.ChannelParams, "next_query_at": c.NextQueryAt, "updated_at": s.utcNow()})
	if err != nil {
		return nil, internal(err)
	}
	if !ok {
		return nil, internal(fmt.Errorf("charge %d: lost the lease during the channel call", c.ID))
	}
	c.LeaseUntil, c.LeaseToken = nil, ""
	return storedOrder(c)
}

// stored answers a create that found the channel order being opened by
// another request: its channelParams if they are stored meanwhile,
// otherwise 20004.
func (s *Service) stored(ctx context.Context, c *models.Charge) (*paytype.ChargeResult, error) {
	cur, err := s.findCharge(ctx, s.db.W, c.AppID, c.OutTradeNo)
	if err != nil {
		return nil, err
	}
	if cur.ChannelParams != "" {
		return storedOrder(cur)
	}
	if cur.Status != models.ChargeCreated {
		return nil, newErr(paytype.CodeExists, "outTradeNo %s already exists and is %s", c.OutTradeNo, cur.Status)
	}
	return nil, newErr(paytype.CodeInProgress, "another request with outTradeNo %s is being processed; retry", c.OutTradeNo)
}

// queryable reports whether the worker asks ch about payments (real
// channels that can be queried; never the sandbox).
func (s *Service) queryable(ch channels.Channel) bool {
	_, ok := ch.(channels.Querier)
	return ok && ch != s.sandbox
}

func storedOrder(c *models.Charge) (*paytype.ChargeResult, error) {
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
	s.logger(ctx).WarnContext(ctx, "paycenter: channel call failed", "op", what, "err", err)
	return &paytype.Error{Code: code, Msg: fmt.Sprintf("the channel could not %s (no answer or an unreadable one); retry with the same parameters", what), Err: err}
}

// findCharge reads charge outTradeNo of appID on db (10008 when there is
// none).
func (s *Service) findCharge(ctx context.Context, db *gorm.DB, appID, outTradeNo string) (*models.Charge, error) {
	return findByNo[models.Charge](ctx, s.charges(db), appID, "out_trade_no", outTradeNo, "charge with outTradeNo")
}

// findByNo reads the row of appID whose column col is no (a merchant's
// number) from table q; a missing one is a 10008 naming what.
func findByNo[T any](ctx context.Context, q *gorm.DB, appID, col, no, what string) (*T, error) {
	var row T
	err := q.WithContext(ctx).Where("app_id = ? AND "+col+" = ?", appID, no).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, newErr(paytype.CodeNotFound, "no %s %s", what, no)
	}
	if err != nil {
		return nil, internal(err)
	}
	return &row, nil
}

// chargeOn finds the charge outTradeNo of appID on channel code.
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

// PayResult answers whether a charge is paid (SPEC 2.4), from one read. A
// charge the channel may still take money for — unpaid with its order
// handed out, or closed while the channel has not confirmed the close — is
// checked with the channel first, and a payment found there is applied
// exactly as a notification would be.
func (s *Service) PayResult(ctx context.Context, appID string, code channels.Code, outTradeNo string) (*paytype.PayResult, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, err
	}
	c, err := s.chargeOn(ctx, s.db.R, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	ch := e.byCode[c.Channel]
	if q, ok := ch.(channels.Querier); ok && s.queryable(ch) && channelMayPay(c) {
		pay, err := s.queryPayment(ctx, q, ch, c)
		if err != nil {
			s.logger(ctx).WarnContext(ctx, "paycenter: active query failed; answering from local state", "outTradeNo", c.OutTradeNo, "err", err)
		} else if after, err := s.applyPayment(ctx, e, ch, c, pay, sourceQuery, nil); err != nil {
			s.logger(ctx).WarnContext(ctx, "paycenter: the active query's answer was not applied", "outTradeNo", c.OutTradeNo, "err", err)
		} else {
			c = after
		}
	}
	return payResult(c), nil
}

// channelMayPay reports whether the channel may hold a payment for c that
// the pay center has not recorded: an unpaid charge whose order was handed
// out, or a closed one whose close the channel has not confirmed.
func channelMayPay(c *models.Charge) bool {
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
	c, err := s.chargeOn(ctx, s.db.W, appID, code, outTradeNo)
	if err != nil {
		return nil, err
	}
	paid := newErr(paytype.CodeExists, "charge %s is paid and cannot be closed; refund it instead", outTradeNo)
	if c.Status == models.ChargePaid {
		return nil, paid
	}
	l := store.NewLease(s.utcNow().Add(s.callLease()))
	ok, err := store.Claim(ctx, s.db, s.t.Charges, c.ID, s.utcNow(), l, "status IN ?",
		[]any{[]models.ChargeStatus{models.ChargeCreated, models.ChargeClosed}}, nil)
	if err != nil {
		return nil, internal(err)
	}
	if !ok {
		if cur, err := s.findCharge(ctx, s.db.W, appID, outTradeNo); err == nil && cur.Status == models.ChargePaid {
			return nil, paid
		}
		return nil, newErr(paytype.CodeInProgress, "another request on charge %s is being processed; retry", outTradeNo)
	}
	defer s.releaseCharge(context.WithoutCancel(ctx), c.ID, l)
	after, err := s.closeAtChannel(ctx, c)
	switch {
	case errors.Is(err, errPaidAtChannel):
		return nil, newErr(paytype.CodeExists, "charge %s was paid at the channel and cannot be closed; refund it instead", outTradeNo)
	case err != nil:
		return nil, channelError(ctx, s, c.Channel.Provider(), paytype.CodeWechatQuery, "close the order", err)
	}
	if after.Status == models.ChargePaid {
		return nil, newErr(paytype.CodeExists, "charge %s was paid meanwhile and cannot be closed; refund it instead", outTradeNo)
	}
	return &paytype.CloseResult{Channel: after.Channel, OutTradeNo: after.OutTradeNo, Status: after.Status}, nil
}

// errPaidAtChannel: the channel refused to close because the order is paid;
// the payment has been applied.
var errPaidAtChannel = errors.New("paid at the channel")

// closeWatch is how long after its expiry a charge whose order the channel
// could not close yet (channels.ErrNotOpened) is still watched: the
// handed-out order is payable until its expiry at the channel, plus this
// allowance for the two clocks.
const closeWatch = 5 * time.Minute

// closeAtChannel closes c at its channel (every adapter that can close is
// asked, even before any channel order is known: a create whose answer was
// lost may have opened one) and then locally, and returns c as it is
// after. The caller holds c's lease (no channel order can be opened
// meanwhile). A channel that says the order was paid wins: the payment is
// applied and errPaidAtChannel returned.
func (s *Service) closeAtChannel(ctx context.Context, c *models.Charge) (*models.Charge, error) {
	e := s.apps[c.AppID]
	var ch channels.Channel
	if e != nil {
		ch = e.byCode[c.Channel]
	}
	how := closedAtChannel
	if closer, ok := ch.(channels.Closer); ok && ch != nil {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		cctx, call := s.tel.StartCall(cctx, ch.Provider(), telemetry.OpClose, c.Channel)
		err := closer.ClosePayment(cctx, c.AppID, c.Channel, c.OutTradeNo)
		call.End(err)
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
			return nil, err
		}
	}
	var after *models.Charge
	err := s.write(ctx, func(t *txn) error {
		cur, err := s.lockCharge(t, "id = ?", c.ID)
		if err != nil {
			return err
		}
		after = cur
		_, err = s.close(ctx, t, cur, how)
		return err
	})
	return after, internal0(err)
}

// applyPaidAtChannel applies the payment of a charge the channel refused to
// close because it is paid.
func (s *Service) applyPaidAtChannel(ctx context.Context, e *appEntry, ch channels.Channel, c *models.Charge) (*models.Charge, error) {
	q, ok := ch.(channels.Querier)
	if !ok {
		return nil, errors.New("the channel says the charge was paid but cannot be queried")
	}
	pay, err := s.queryPayment(ctx, q, ch, c)
	if err != nil {
		return nil, err
	}
	if pay.Status != channels.PaymentPaid {
		return nil, errors.New("the channel refused to close an order it does not report as paid")
	}
	after, err := s.applyPayment(ctx, e, ch, c, pay, sourceQuery, nil)
	if err != nil {
		return nil, err
	}
	return after, errPaidAtChannel
}

// queryPayment asks ch (q) about charge c, within the query timeout.
func (s *Service) queryPayment(ctx context.Context, q channels.Querier, ch channels.Channel, c *models.Charge) (*channels.Payment, error) {
	qctx, cancel := context.WithTimeout(ctx, s.qtimeout)
	defer cancel()
	qctx, call := s.tel.StartCall(qctx, ch.Provider(), telemetry.OpQuery, c.Channel)
	pay, err := q.QueryPayment(qctx, c.AppID, c.Channel, c.OutTradeNo)
	call.End(err)
	return pay, err
}

// releaseCharge gives up the lease l of charge id, if still held.
func (s *Service) releaseCharge(ctx context.Context, id int64, l store.Lease) {
	if _, err := store.Settle(ctx, s.db, s.t.Charges, id, l, nil); err != nil {
		s.logger(ctx).ErrorContext(ctx, "paycenter: release charge lease", "chargeId", id, "err", err)
	}
}

// CloseChargeTx closes an unpaid charge locally inside the host's
// transaction (OnClosed runs in it). It does not call the channel; call
// CloseCharge after tx commits to close the channel order too. Until the
// channel has confirmed the close, the worker keeps asking it to close,
// and a payment made after the close is recorded as a late payment.
func (s *Service) CloseChargeTx(ctx context.Context, tx *gorm.DB, appID string, code channels.Code, outTradeNo string) (*paytype.CloseResult, error) {
	if _, err := s.app(appID); err != nil {
		return nil, err
	}
	if _, err := s.chargeOn(ctx, tx, appID, code, outTradeNo); err != nil {
		return nil, err
	}
	err := s.inHost(ctx, tx, func(t *txn) error {
		c, err := s.lockCharge(t, "app_id = ? AND out_trade_no = ?", appID, outTradeNo)
		if err != nil {
			return err
		}
		if c.Status == models.ChargePaid {
			return newErr(paytype.CodeExists, "charge %s is paid and cannot be closed; refund it instead", outTradeNo)
		}
		_, err = s.close(ctx, t, c, closedLocally)
		return err
	})
	if err != nil {
		return nil, internal(err)
	}
	return &paytype.CloseResult{Channel: code, OutTradeNo: outTradeNo, Status: models.ChargeClosed}, nil
}

// Where what a channel said about a charge or refund came from.
const (
	sourceNotification = "notification"
	sourceQuery        = "query"
)

// errNotApplied: what the channel said does not match the charge or refund;
// it was recorded as a discrepancy for a person, not applied.
var errNotApplied = errors.New("not applied: recorded as a discrepancy")

// applyPayment applies what channel ch said about charge c (as read
// before, outside any transaction): a payment, a closure, or nothing. See
// applyPaymentTo.
func (s *Service) applyPayment(ctx context.Context, e *appEntry, ch channels.Channel, c *models.Charge, p *channels.Payment,
	source string, audit *models.Notification) (*models.Charge, error) {
	after, err := s.applyPaymentTo(ctx, e, ch, c, "id = ?", []any{c.ID}, p, source, audit)
	if after == nil {
		after = c
	}
	return after, err
}

// applyPaymentTo applies what channel ch said about the charge where/args
// (read is that charge as read outside any transaction; nil when the
// caller has not read it): a payment, a closure, or nothing, with the
// notification's audit record when audit is not nil.
//
// A payment of a charge that can take it is one statement where the
// database chains them (payChained, from read — the charge is read first if
// need be); otherwise, or if the charge changed since read, everything
// happens in one write transaction, where the charge is read locked (its
// one read in the request on the other databases). A payment that does
// not match the charge (amount, channel account, the echoed marker) is not
// applied: it is recorded as a discrepancy and errNotApplied returned; a
// charge that does not exist is errNoRow. It returns the charge as it is
// after (nil if not read).
func (s *Service) applyPaymentTo(ctx context.Context, e *appEntry, ch channels.Channel, read *models.Charge, where string, args []any,
	p *channels.Payment, source string, audit *models.Notification) (*models.Charge, error) {
	if p != nil && p.Status == channels.PaymentPaid && s.chainsPay() {
		if read == nil {
			// Read on the primary: the statement that follows is a write
			// there anyway, and a payment must not depend on the host's
			// ReadDB (a replica down or lagging). If the read fails, the
			// transactional path below decides.
			var c models.Charge
			if err := s.charges(s.db.W.WithContext(ctx)).Where(where, args...).Take(&c).Error; err == nil {
				read = &c
			}
		}
		if read != nil {
			if kind, _ := mismatch(e, ch, read, p); kind == "" {
				after, done, err := s.payChained(ctx, read, p, audit)
				if err != nil || done {
					return after, err
				}
			}
		}
	}
	inTx := func(t *txn) error {
		if audit == nil {
			return nil
		}
		return t.Table(s.t.Notifications).Create(audit).Error
	}
	act := p != nil && (p.Status == channels.PaymentPaid || p.Status == channels.PaymentClosed)
	var after *models.Charge
	var mis *models.Discrepancy
	err := s.write(ctx, func(t *txn) error {
		after, mis = nil, nil
		if act {
			cur, done, err := s.payMatching(ctx, t, e, ch, where, args, p)
			if err != nil {
				return err
			}
			if done { // the common case: one statement
				after = cur
				return inTx(t)
			}
			cur, err = s.lockCharge(t, where, args...)
			if err != nil {
				return err
			}
			after = cur
			if kind, detail := mismatch(e, ch, cur, p); kind != "" {
				mis = &models.Discrepancy{
					Kind: kind, Source: source, AppID: cur.AppID, Provider: ch.Provider(), Account: account(cur.AppID, ch),
					OutTradeNo: cur.OutTradeNo, TransactionID: p.TransactionID,
					LocalAmount: cur.TotalFee, ChannelAmount: p.TotalFee, Detail: detail,
				}
				return errNotApplied
			}
			if p.Status == channels.PaymentClosed {
				_, err = s.close(ctx, t, cur, closedAtChannel)
			} else {
				_, err = s.pay(ctx, t, cur, p)
			}
			if err != nil {
				return err
			}
		}
		return inTx(t)
	})
	if mis != nil {
		s.recordDiscrepancy(ctx, mis)
	}
	return after, err
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

// earliest is the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
