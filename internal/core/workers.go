package core

import (
	"context"
	"errors"
	"github.com/gopaycenter/paycenter/paytype"
	"math/rand/v2"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/models"
)

// WorkerOptions configure the background workers.
type WorkerOptions struct {
	PollInterval time.Duration // how often due work is looked for
	BatchSize    int           // rows claimed per look
	Concurrency  int           // deliveries in flight per process
}

// querySchedule spaces the active queries of an unpaid charge, and the
// checks of a PROCESSING refund: 15s, 30s, 1m, 2m, 5m, 10m, 30m, then hourly.
var querySchedule = []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute,
	5 * time.Minute, 10 * time.Minute, 30 * time.Minute}

// queryDelay is the wait after the n-th query (n ≥ 0: before the first).
func queryDelay(n int) time.Duration {
	if n < len(querySchedule) {
		return querySchedule[n]
	}
	return time.Hour
}

// StartWorkers runs the workers until the returned stop is called (stop
// waits for them). Work is claimed row by row with conditional updates and
// leases, so any number of processes can run workers on one database.
func (s *Service) StartWorkers() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	loop := func(step func(context.Context) int, wake <-chan struct{}) {
		defer wg.Done()
		t := time.NewTicker(s.workers.PollInterval)
		defer t.Stop()
		for {
			for step(ctx) > 0 && ctx.Err() == nil {
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-wake:
			}
		}
	}
	wg.Add(2)
	go loop(s.DeliverDue, s.wake)
	go loop(func(ctx context.Context) int {
		return s.ExpireDue(ctx) + s.ReconcileDue(ctx) + s.SyncRefundsDue(ctx)
	}, nil)
	return func() { cancel(); wg.Wait() }
}

// wakeWorkers tells the delivery worker of this process that new work was
// committed, so it need not wait for its next poll.
func (s *Service) wakeWorkers() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RunDue runs every worker once over what is due now and returns how many
// items were handled; deliveries go last, so that events the other steps
// produce go out in the same round. The workers call the same steps; RunDue
// lets tests and cron-style hosts drive them.
func (s *Service) RunDue(ctx context.Context) int {
	n := s.ExpireDue(ctx) + s.ReconcileDue(ctx) + s.SyncRefundsDue(ctx)
	return n + s.DeliverDue(ctx)
}

// DeliverDue attempts the outbox entries that are due, each under a lease
// longer than an attempt can take, so no entry is attempted twice at once.
func (s *Service) DeliverDue(ctx context.Context) int {
	now := s.utcNow()
	var due []models.Delivery
	err := s.deliveries(s.db.WithContext(ctx)).
		Where("status = ? AND next_attempt_at <= ?", models.DeliveryPending, now).
		Where("lease_until IS NULL OR lease_until < ?", now).
		Order("next_attempt_at").Limit(s.workers.BatchSize).Find(&due).Error
	if err != nil {
		s.logWorker(ctx, "deliveries", err)
		return 0
	}
	sem := make(chan struct{}, s.workers.Concurrency)
	var wg sync.WaitGroup
	handled := 0
	for i := range due {
		d := &due[i]
		sem <- struct{}{} // claim only when an attempt can start, so the lease is not spent waiting
		tok, ok := s.claimDelivery(ctx, d)
		if !ok {
			<-sem
			continue
		}
		handled++
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.attempt(context.WithoutCancel(ctx), d, tok)
		}()
	}
	wg.Wait()
	return handled
}

func (s *Service) leaseDuration() time.Duration { return 3*s.webhook.Timeout + 30*time.Second }

// claimDelivery leases d for one attempt. The claim re-checks, in the same
// conditional update, that d is still due and still at the attempt count
// read: another instance may have attempted it since (its next attempt is
// then not due yet, and its count has moved on), and the attempt number and
// the next delay must come from the row as claimed.
func (s *Service) claimDelivery(ctx context.Context, d *models.Delivery) (string, bool) {
	now := s.utcNow()
	tok := token()
	res := s.deliveries(s.db.WithContext(ctx)).
		Where("id = ? AND status = ? AND attempts = ? AND next_attempt_at <= ?", d.ID, models.DeliveryPending, d.Attempts, now).
		Where("lease_until IS NULL OR lease_until < ?", now).
		Updates(map[string]any{"lease_until": now.Add(s.leaseDuration()), "lease_token": tok})
	if res.Error != nil {
		s.logWorker(ctx, "claim delivery", res.Error)
	}
	return tok, res.Error == nil && res.RowsAffected == 1
}

// attempt makes one delivery attempt of d and records its outcome.
func (s *Service) attempt(ctx context.Context, d *models.Delivery, tok string) {
	var status int
	var err error
	switch d.Target {
	case models.TargetWebhook:
		e := s.apps[d.AppID]
		if e == nil {
			err = errors.New("the app is no longer configured")
			break
		}
		status, err = s.postWebhook(ctx, d.URL, e.Key, e.Secret, []byte(d.Body))
	case models.TargetHooks:
		ev, lerr := s.hookEvent(ctx, d)
		if lerr != nil {
			err = lerr
			break
		}
		err = s.runAfterHooks(ctx, ev)
	default:
		err = errors.New("unknown delivery target " + d.Target)
	}
	now := s.utcNow()
	upd := map[string]any{
		"attempts": d.Attempts + 1, "last_status": status, "last_attempt_at": now,
		"lease_until": nil, "lease_token": "", "updated_at": now,
	}
	if err == nil {
		upd["status"], upd["delivered_at"], upd["last_error"] = models.DeliveryDelivered, now, ""
	} else {
		upd["last_error"] = truncate(err.Error(), 500)
		n := d.Attempts + 1 // attempts made, this one included
		if d.Target == models.TargetWebhook && n > len(s.webhook.Schedule) {
			upd["status"] = models.DeliveryDead
			s.logger(ctx).Warn("paycenter: webhook is dead after its last retry", "eventId", d.EventID, "attempts", n, "err", err)
		} else {
			upd["next_attempt_at"] = now.Add(jitter(s.retryDelay(d.Target, n)))
		}
	}
	res := s.deliveries(s.db.WithContext(ctx)).Where("id = ? AND lease_token = ?", d.ID, tok).Updates(upd)
	if res.Error != nil {
		s.logWorker(ctx, "record delivery", res.Error)
	}
}

// runAfterHooks runs the after-commit hooks; a panic is an error (a hook
// bug must not stop the worker), its stack logged.
func (s *Service) runAfterHooks(ctx context.Context, ev *hooks.Event) error {
	return s.runHook(ctx, func() error { return s.hooks.RunAfter(ctx, ev) })
}

// retryDelay is the wait after the n-th failed attempt: the webhook
// schedule, or for hooks a doubling backoff from 1 s capped at 10 min.
func (s *Service) retryDelay(target string, n int) time.Duration {
	if target == models.TargetWebhook {
		return s.webhook.Schedule[n-1]
	}
	return min(time.Second<<min(n-1, 20), 10*time.Minute)
}

// jitter adds up to 10% to d, so that retries of many deliveries that failed
// together do not arrive together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/10+1)
}

// ExpireDue closes unpaid charges past their expiry: at the channel first,
// then locally. A channel that says the charge was paid wins: it becomes
// PAID, never CLOSED.
func (s *Service) ExpireDue(ctx context.Context) int {
	now := s.utcNow()
	var due []models.Charge
	err := s.charges(s.db.WithContext(ctx)).
		Where("status = ? AND expire_at < ?", models.ChargeCreated, now).
		Where("lease_until IS NULL OR lease_until < ?", now).
		Order("expire_at").Limit(s.workers.BatchSize).Find(&due).Error
	if err != nil {
		s.logWorker(ctx, "expired charges", err)
		return 0
	}
	handled := 0
	for i := range due {
		c := &due[i]
		// The lease doubles as the back-off when the channel cannot close.
		tok, ok, err := s.claimCharge(ctx, c.ID, []models.ChargeStatus{models.ChargeCreated}, time.Minute+2*s.timeout)
		if err != nil || !ok {
			continue
		}
		handled++
		if err := s.expire(ctx, c); err != nil {
			s.logger(ctx).Warn("paycenter: expiring a charge failed; retrying later", "outTradeNo", c.OutTradeNo, "err", err)
			continue // keep the lease: it is the back-off
		}
		s.releaseCharge(ctx, c.ID, tok)
	}
	return handled
}

func (s *Service) expire(ctx context.Context, c *models.Charge) error {
	if err := s.closeCharge(ctx, c); err != nil && !errors.Is(err, errPaidAtChannel) {
		return err
	}
	return nil
}

// ReconcileDue asks the channel about unpaid charges whose order was handed
// out and whose notification has not come, on the query schedule, and
// applies a payment found there through the notification path. It also
// goes on closing, at the channel, charges whose close the channel has not
// confirmed (closed locally only by CloseChargeTx, or whose order did not
// exist yet at the channel) until it confirms or the order can no longer
// open; a payment made meanwhile is applied (late, if after the close).
func (s *Service) ReconcileDue(ctx context.Context) int {
	now := s.utcNow()
	var due []models.Charge
	err := s.charges(s.db.WithContext(ctx)).
		Where("next_query_at IS NOT NULL AND next_query_at <= ?", now).
		Where("(status = ? AND expire_at >= ?) OR status = ?", models.ChargeCreated, now, models.ChargeClosed).
		Order("next_query_at").Limit(s.workers.BatchSize).Find(&due).Error
	if err != nil {
		s.logWorker(ctx, "charges to reconcile", err)
		return 0
	}
	handled := 0
	for i := range due {
		c := &due[i]
		// Claim this round by moving next_query_at on from the value read.
		res := s.charges(s.db.WithContext(ctx)).
			Where("id = ? AND status = ? AND next_query_at = ?", c.ID, c.Status, *c.NextQueryAt).
			Updates(map[string]any{"next_query_at": now.Add(queryDelay(c.QueryCount + 1)), "query_count": gorm.Expr("query_count + 1")})
		if res.Error != nil || res.RowsAffected == 0 {
			continue
		}
		handled++
		if err := s.reconcile(ctx, c); err != nil {
			s.logger(ctx).Warn("paycenter: reconciling a charge failed; retrying later", "outTradeNo", c.OutTradeNo, "err", err)
		}
	}
	return handled
}

func (s *Service) reconcile(ctx context.Context, c *models.Charge) error {
	e := s.apps[c.AppID]
	if e == nil {
		return nil
	}
	if c.Status == models.ChargeClosed {
		if err := s.closeCharge(ctx, c); err != nil && !errors.Is(err, errPaidAtChannel) {
			return err
		}
		return nil
	}
	ch := e.byCode[c.Channel]
	q, ok := ch.(channels.Querier)
	if !ok || c.ChannelParams == "" {
		return nil
	}
	qctx, cancel := context.WithTimeout(ctx, s.qtimeout)
	pay, err := q.QueryPayment(qctx, c.AppID, c.Channel, c.OutTradeNo)
	cancel()
	if err != nil {
		return err
	}
	return s.applyPayment(ctx, e, ch, c, pay, sourceQuery)
}

// SyncRefundsDue moves PROCESSING and ABNORMAL refunds forward on the query
// schedule: a refund the channel never accepted is sent again with the same
// number, an accepted one is queried.
func (s *Service) SyncRefundsDue(ctx context.Context) int {
	now := s.utcNow()
	var due []models.Refund
	pending := []models.RefundStatus{models.RefundProcessing, models.RefundAbnormal}
	err := s.refunds(s.db.WithContext(ctx)).
		Where("status IN ? AND next_check_at IS NOT NULL AND next_check_at <= ?", pending, now).
		Order("next_check_at").Limit(s.workers.BatchSize).Find(&due).Error
	if err != nil {
		s.logWorker(ctx, "refunds to sync", err)
		return 0
	}
	handled := 0
	for i := range due {
		r := &due[i]
		res := s.refunds(s.db.WithContext(ctx)).
			Where("id = ? AND status = ? AND next_check_at = ?", r.ID, r.Status, *r.NextCheckAt).
			Updates(map[string]any{"next_check_at": now.Add(queryDelay(r.CheckCount + 1)), "check_count": gorm.Expr("check_count + 1")})
		if res.Error != nil || res.RowsAffected == 0 {
			continue
		}
		handled++
		e := s.apps[r.AppID]
		if e == nil {
			continue
		}
		if _, err := s.driveRefund(ctx, e, r, false); err != nil && !errors.Is(err, paytype.CodeInProgress) {
			s.logger(ctx).Warn("paycenter: refund sync failed", "outRefundNo", r.OutRefundNo, "err", err)
		}
	}
	return handled
}

func (s *Service) logWorker(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		s.logger(ctx).Error("paycenter: worker: "+what, "err", err)
	}
}
