package core

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/delivery"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// querySchedule spaces the active queries of an unpaid charge, and the
// checks of a pending refund: 15s, 30s, 1m, 2m, 5m, 10m, 30m, then hourly.
var querySchedule = []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute,
	5 * time.Minute, 10 * time.Minute, 30 * time.Minute}

// queryDelay is the wait after the n-th query (n ≥ 0: before the first).
func queryDelay(n int) time.Duration {
	if n < len(querySchedule) {
		return querySchedule[n]
	}
	return time.Hour
}

// expireBackoff is the wait before an expiry that failed (the channel did
// not answer the close) is tried again.
const expireBackoff = time.Minute

// idleBackoff caps how long the workers' loop sleeps, in poll intervals,
// while nothing is due: work another instance makes due (a lease of a
// process that died) is found within that.
const idleBackoff = 5

// scheduler is the workers' loop of this process: it sleeps until the
// next due time the database knows (one query), the poll interval (longer
// while idle) or a wake-up from this process.
type scheduler struct {
	wakeCh chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func (sc *scheduler) init() { sc.wakeCh = make(chan struct{}, 1) }

// wake makes the loop look for due work now.
func (sc *scheduler) wake() {
	select {
	case sc.wakeCh <- struct{}{}:
	default:
	}
}

// Start starts the workers of this process under ctx: delivery (the
// deliveries this process's transactions write go out at once) and the
// loop that runs what is due (RunDue). Stop stops them.
func (s *Service) Start(ctx context.Context) {
	s.outbox.Start(ctx)
	loopCtx, cancel := context.WithCancel(ctx)
	s.sched.cancel, s.sched.done = cancel, make(chan struct{})
	go func() {
		defer close(s.sched.done)
		s.loop(loopCtx)
	}()
}

// Stop stops the workers: the loop at once (a channel call it is making is
// cancelled: the charge or refund is looked at again on its schedule;
// deliveries it is attempting finish until ctx ends), then delivery (see
// delivery.Outbox.Stop). Nothing of the workers runs after Stop returns.
func (s *Service) Stop(ctx context.Context) {
	if s.sched.cancel == nil {
		return
	}
	s.sched.cancel()
	select {
	case <-s.sched.done:
	case <-ctx.Done(): // deliveries the loop is attempting: cut off, leases released
		s.outbox.CutOff()
		<-s.sched.done
	}
	s.sched.cancel = nil
	s.outbox.Stop(ctx)
}

// loop runs what is due, then sleeps until more is (see scheduler).
func (s *Service) loop(ctx context.Context) {
	idle := s.workers.PollInterval
	woken := true
	for ctx.Err() == nil {
		next, ok, err := s.nextDue(ctx)
		if err != nil {
			s.logWorker(ctx, "next due time", err)
		}
		now := s.utcNow()
		if woken || (ok && !next.After(now)) {
			if s.RunDue(ctx) > 0 {
				idle, woken = s.workers.PollInterval, false
				continue // more may be due
			}
		}
		wait := idle
		if ok && next.After(now) {
			wait = min(wait, next.Sub(now))
		}
		idle = min(idle*2, idleBackoff*s.workers.PollInterval)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
			woken = false
		case <-s.sched.wakeCh:
			woken, idle = true, s.workers.PollInterval
		}
		t.Stop()
	}
}

// nextDue is the earliest time any worker has something to do: a
// delivery's next attempt, a charge's next look, a refund's next check
// (ok false: nothing is scheduled). One query.
func (s *Service) nextDue(ctx context.Context) (time.Time, bool, error) {
	// Each part reads its column through its index (ORDER BY ... LIMIT 1
	// rather than MIN, whose result SQLite does not type as a time).
	var times []*time.Time
	err := s.db.R.WithContext(ctx).Raw(
		"SELECT t FROM (SELECT next_attempt_at AS t FROM "+s.t.Deliveries+" WHERE status = ? ORDER BY next_attempt_at LIMIT 1) d "+
			"UNION ALL SELECT t FROM (SELECT next_query_at AS t FROM "+s.t.Charges+" WHERE next_query_at IS NOT NULL ORDER BY next_query_at LIMIT 1) c "+
			"UNION ALL SELECT t FROM (SELECT next_check_at AS t FROM "+s.t.Refunds+" WHERE next_check_at IS NOT NULL ORDER BY next_check_at LIMIT 1) r",
		models.DeliveryPending).Scan(&times).Error
	var first time.Time
	for _, t := range times {
		if t != nil && (first.IsZero() || t.Before(first)) {
			first = *t
		}
	}
	return first, !first.IsZero(), err
}

// RunDue runs every worker once over what is due now and returns how many
// items were handled; deliveries go last, so that events the other steps
// produce go out in the same round. The loop of Start calls it; tests (with
// Config.Now) and cron-style hosts may call it directly.
func (s *Service) RunDue(ctx context.Context) int {
	n := s.chargesDue(ctx) + s.refundsDue(ctx)
	return n + s.outbox.RunDue(ctx)
}

// chargesDue looks at the charges whose next look is due: it expires the
// unpaid ones past their expiry (closed at the channel, then locally; a
// channel that says the charge was paid wins), asks the channel about the
// unpaid ones whose order was handed out and whose notification has not
// come, and goes on closing at the channel the closed ones whose close the
// channel has not confirmed (a payment found is applied — late, if after
// the close). Each charge is claimed by moving its next look on from the
// value read, to when it is looked at again if this attempt changes nothing.
func (s *Service) chargesDue(ctx context.Context) int {
	now := s.utcNow()
	var due []models.Charge
	err := s.charges(s.db.R.WithContext(ctx)).Where("next_query_at <= ?", now).
		Order("next_query_at").Limit(s.workers.BatchSize).Find(&due).Error
	if err != nil {
		s.logWorker(ctx, "charges due", err)
		s.tel.WorkerRun(ctx, telemetry.WorkerCharges, 0, err)
		return 0
	}
	handled := 0
	for i := range due {
		c := &due[i]
		next := s.nextLook(c, now)
		if ok, err := s.claimDue(ctx, s.t.Charges, c.ID, "next_query_at", *c.NextQueryAt, next, "query_count"); err != nil || !ok {
			continue
		}
		c.NextQueryAt = next
		handled++
		if err := s.look(ctx, c, now); err != nil {
			s.logger(ctx).WarnContext(ctx, "paycenter: worker: a charge could not be settled; it is looked at again later", "outTradeNo", c.OutTradeNo, "err", err)
		}
	}
	s.tel.WorkerRun(ctx, telemetry.WorkerCharges, handled, nil)
	return handled
}

// claimDue claims row id of table for this worker's look: one conditional
// update moving its due time (column col, read as was) on to next and
// counting the look in column count, only if no other worker moved it
// since it was read. It reports whether this caller got the row.
func (s *Service) claimDue(ctx context.Context, table string, id int64, col string, was time.Time, next any, count string) (bool, error) {
	var n int64
	err := s.db.Single(ctx, func(db *gorm.DB) error {
		res := db.Table(table).Where("id = ? AND "+col+" = ?", id, was).
			Updates(map[string]any{col: next, count: gorm.Expr(count + " + 1")})
		n = res.RowsAffected
		return res.Error
	})
	return n == 1, err
}

// nextLook is when the worker looks at c again after looking now, unless
// what it finds changes that.
func (s *Service) nextLook(c *models.Charge, now time.Time) *time.Time {
	var t time.Time
	switch {
	case c.Status == models.ChargeCreated && now.After(c.ExpireAt):
		t = now.Add(expireBackoff) // if the expiry fails
	case c.Status == models.ChargeCreated && c.ChannelParams != "":
		t = earliest(now.Add(queryDelay(c.QueryCount+1)), c.ExpireAt)
	case c.Status == models.ChargeCreated:
		t = c.ExpireAt
	case c.Status == models.ChargeClosed:
		t = now.Add(queryDelay(c.QueryCount + 1))
	default:
		return nil // paid: nothing to do
	}
	return &t
}

// look does what is due for charge c (claimed by chargesDue).
func (s *Service) look(ctx context.Context, c *models.Charge, now time.Time) error {
	e := s.apps[c.AppID]
	if e == nil {
		return nil
	}
	ch := e.byCode[c.Channel]
	switch {
	case c.Status == models.ChargeCreated && now.After(c.ExpireAt), c.Status == models.ChargeClosed:
		// Close at the channel, under the charge's lease: no channel order
		// may be opening meanwhile.
		l := store.NewLease(now.Add(s.callLease()))
		ok, err := store.Claim(ctx, s.db, s.t.Charges, c.ID, now, l, "", nil, nil)
		if err != nil || !ok {
			return err
		}
		defer s.releaseCharge(context.WithoutCancel(ctx), c.ID, l)
		if _, err := s.closeAtChannel(ctx, c); err != nil && !errors.Is(err, errPaidAtChannel) {
			return err
		}
	case c.Status == models.ChargeCreated && c.ChannelParams != "":
		q, ok := ch.(channels.Querier)
		if !ok || !s.queryable(ch) {
			return nil
		}
		pay, err := s.queryPayment(ctx, q, ch, c)
		if err != nil {
			return err
		}
		_, err = s.applyPayment(ctx, e, ch, c, pay, sourceQuery, nil)
		return err
	}
	return nil
}

// refundsDue moves pending refunds (PROCESSING, ABNORMAL) forward on the
// query schedule: a refund the channel never accepted is sent again with
// the same number, an accepted one is queried.
func (s *Service) refundsDue(ctx context.Context) int {
	now := s.utcNow()
	var due []models.Refund
	err := s.refunds(s.db.R.WithContext(ctx)).Where("next_check_at <= ?", now).
		Order("next_check_at").Limit(s.workers.BatchSize).Find(&due).Error
	if err != nil {
		s.logWorker(ctx, "refunds due", err)
		s.tel.WorkerRun(ctx, telemetry.WorkerRefunds, 0, err)
		return 0
	}
	handled := 0
	for i := range due {
		r := &due[i]
		var next any
		if !r.Status.Final() {
			next = now.Add(queryDelay(r.CheckCount + 1))
		}
		ok, err := s.claimDue(ctx, s.t.Refunds, r.ID, "next_check_at", *r.NextCheckAt, next, "check_count")
		if err != nil || !ok || next == nil {
			continue
		}
		handled++
		if err := s.syncRefund(ctx, r); err != nil && !errors.Is(err, paytype.CodeInProgress) && !errors.Is(err, errNotApplied) {
			s.logger(ctx).WarnContext(ctx, "paycenter: worker: refund sync failed", "outRefundNo", r.OutRefundNo, "err", err)
		}
	}
	s.tel.WorkerRun(ctx, telemetry.WorkerRefunds, handled, nil)
	return handled
}

// syncRefund sends or queries pending refund r.
func (s *Service) syncRefund(ctx context.Context, r *models.Refund) error {
	e := s.apps[r.AppID]
	if e == nil {
		return nil
	}
	var c models.Charge
	if err := s.charges(s.db.R.WithContext(ctx)).Where("id = ?", r.ChargeID).Take(&c).Error; err != nil {
		return err
	}
	var err error
	if r.Submitted {
		_, err = s.queryRefund(ctx, e, &c, r)
	} else {
		_, err = s.submitRefund(ctx, e, &c, r)
	}
	return err
}

func (s *Service) logWorker(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		s.logger(ctx).ErrorContext(ctx, "paycenter: worker: "+what, "err", err)
	}
}

// Deliveries lists outbox entries, newest first.
func (s *Service) Deliveries(ctx context.Context, f paytype.DeliveryFilter) ([]models.Delivery, error) {
	ds, err := s.outbox.List(ctx, f)
	return ds, internal0(err)
}

// Health checks the database and reads the outbox's backlog (one ping,
// two queries); Workers is the caller's to fill in.
func (s *Service) Health(ctx context.Context) paytype.Health {
	var h paytype.Health
	if db, err := s.db.W.DB(); err != nil {
		h.Database = err
	} else {
		h.Database = db.PingContext(ctx)
	}
	st, err := s.outbox.Stats(ctx)
	if h.Database == nil {
		h.Database = err
	}
	h.DatabaseOK = h.Database == nil
	h.PendingDeliveries, h.DeadDeliveries = st.Pending, st.Dead
	if !st.OldestDue.IsZero() {
		h.OldestDueDelivery = max(s.now().Sub(st.OldestDue), 0)
	}
	return h
}

// Redeliver makes an outbox entry due now, whatever its state (a dead or
// delivered webhook is sent again, with the same event id).
func (s *Service) Redeliver(ctx context.Context, id int64) error {
	err := s.outbox.Redeliver(ctx, id)
	if errors.Is(err, delivery.ErrNoDelivery) {
		return newErr(paytype.CodeNotFound, "no delivery %d", id)
	}
	if err != nil {
		return internal(err)
	}
	s.sched.wake()
	return nil
}
