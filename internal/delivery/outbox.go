// Package delivery delivers what the pay center's state changes report,
// after they commit: the merchants' webhooks and the host's after-commit
// hooks, from a transactional outbox (table deliveries).
//
// A state change writes its outbox rows in its own transaction (Write).
// When this process delivers (Start was called), the rows are written
// already leased to it and handed over after the commit (Dispatch): the
// common case costs one write after the commit, the attempt's record.
// Everything else — retries, rows of a process that died, rows written in
// a host's transaction — is claimed in batches by the workers (RunDue),
// with SELECT ... FOR UPDATE SKIP LOCKED where the database has it, each
// claim re-checking that a row is due at the attempt count it has.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/clip"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Config configures an Outbox.
type Config struct {
	DB      *store.DB
	Tables  models.Tables
	Hooks   *hooks.Registry
	Webhook WebhookOptions
	// App returns the key and secret that sign app appID's webhooks.
	App func(appID string) (key, secret string, ok bool)
	// Concurrency bounds the attempts in flight in this process.
	Concurrency int
	// BatchSize bounds the rows one claim takes.
	BatchSize int
	Now       func() time.Time
	// Logger returns the logger of ctx.
	Logger func(ctx context.Context) *slog.Logger
	// RunHook runs after-commit hooks through f, logging a panic's stack.
	RunHook func(ctx context.Context, f func() error) error
	// Telemetry records the attempts and the workers' runs.
	Telemetry *telemetry.Telemetry
}

// Outbox writes, dispatches and attempts deliveries.
type Outbox struct {
	cfg    Config
	client *http.Client
	jobs   chan *job     // written leased to this process, to attempt
	slots  chan struct{} // one per attempt in flight (Concurrency)
	// running: Start has been called and Stop not yet; rows are then
	// written leased to this process.
	running  atomic.Bool
	loop     sync.WaitGroup // the dispatch loop
	inflight sync.WaitGroup // attempts
	// stopLoop ends the dispatch loop; cutOff cancels the attempts in
	// flight (Stop's deadline passed).
	stopLoop, cutOff context.CancelFunc
	attempts         context.Context
	done             doneBatch
}

// doneBatch collects the deliveries that succeeded, to record them with
// one update per batch: under load every update records what all the
// attempts finished meanwhile had to say (as group commit does).
type doneBatch struct {
	mu      sync.Mutex
	pending []delivered
	signal  chan struct{}
	flusher sync.WaitGroup
}

// delivered is one successful attempt to record.
type delivered struct {
	id     int64
	token  string
	status int
}

// New returns an Outbox; it delivers nothing until Start.
func New(cfg Config) *Outbox {
	o := &Outbox{cfg: cfg, client: webhookClient(cfg.Webhook), jobs: make(chan *job, 4096),
		slots: make(chan struct{}, cfg.Concurrency)}
	o.done.signal = make(chan struct{}, 1)
	return o
}

// Event is one state change to report: its type (hooks.ChargeSucceeded,
// ...), the charge and refund as they are after the change, and the data
// of its webhook.
type Event struct {
	Type   string
	Charge *models.Charge
	Refund *models.Refund // refund events only
	Data   any
	// Span is the span of the change: the parent of the spans of the
	// attempts this process makes right after the commit.
	Span trace.SpanContext
}

// job is one delivery to attempt: its row as it is in the database, the
// lease this process holds on it, and, for rows written by this process,
// the event in memory (no re-read for the after-commit hooks).
type job struct {
	row    models.Delivery
	lease  store.Lease
	event  *hooks.Event
	parent trace.SpanContext // the span of the change that wrote it (Event.Span)
}

// Pending are the deliveries a transaction wrote leased to this process,
// for Dispatch once it has committed.
type Pending []*job

// body is the JSON body of a webhook (SPEC 5).
type body struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"` // ms
	Data    any    `json:"data"`
}

// leaseFor is how long one attempt may take: longer than the webhook's
// timeout and any sane after-commit hook, so that no row is attempted
// twice at once.
func (o *Outbox) leaseFor() time.Duration { return 3*o.cfg.Webhook.Timeout + 30*time.Second }

// Write inserts the outbox rows of ev in tx, the transaction of the state
// change: one for the app's webhook (when notifyURL is set) and one for the
// after-commit hooks (when any handles ev.Type). When this process
// delivers, the rows are leased to it and returned for Dispatch after the
// commit; otherwise (workers elsewhere, or tx is a host's transaction whose
// commit we do not see: leased false) the workers claim them.
func (o *Outbox) Write(tx *gorm.DB, appID, notifyURL string, ev Event, leased bool) (Pending, error) {
	b, err := o.Prepare(appID, notifyURL, ev, leased)
	if err != nil || len(b.Rows) == 0 {
		return nil, err
	}
	if err := tx.Table(o.cfg.Tables.Deliveries).Create(&b.Rows).Error; err != nil {
		return nil, err
	}
	return b.Pending(), nil
}

// Batch is the outbox rows of one event, made by Prepare for a writer that
// inserts them itself (Write, or a store.Chain).
type Batch struct {
	// Rows are the rows to insert into the deliveries table; Pending reads
	// their IDs once inserted.
	Rows []models.Delivery
	// Span is the parent of the attempts' spans (Event.Span).
	Span   trace.SpanContext
	leased bool
	lease  store.Lease
	event  *hooks.Event
}

// Prepare makes the outbox rows of ev that Write inserts, without
// inserting them.
func (o *Outbox) Prepare(appID, notifyURL string, ev Event, leased bool) (*Batch, error) {
	hooked := o.cfg.Hooks.HasAfter(ev.Type)
	if notifyURL == "" && !hooked {
		return &Batch{}, nil
	}
	now := o.cfg.Now().UTC()
	id := "evt_" + store.NewToken()
	raw, err := json.Marshal(body{ID: id, Type: ev.Type, Created: now.UnixMilli(), Data: ev.Data})
	if err != nil {
		return nil, err
	}
	b := &Batch{leased: leased && o.running.Load(), lease: store.NewLease(now.Add(o.leaseFor())), Span: ev.Span,
		event: &hooks.Event{ID: id, Type: ev.Type, Created: time.UnixMilli(now.UnixMilli()).UTC(), Charge: ev.Charge, Refund: ev.Refund}}
	var refundID int64
	if ev.Refund != nil {
		refundID = ev.Refund.ID
	}
	row := func(target, url string) models.Delivery {
		d := models.Delivery{
			EventID: id, AppID: appID, Type: ev.Type, Target: target, ChargeID: ev.Charge.ID, RefundID: refundID,
			URL: url, Body: string(raw), Status: models.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
		if b.leased {
			// Due again when the lease ends: if this process dies before
			// attempting it, a worker takes it over then.
			d.LeaseUntil, d.LeaseToken, d.NextAttemptAt = &b.lease.Until, b.lease.Token, b.lease.Until
		}
		return d
	}
	if notifyURL != "" {
		b.Rows = append(b.Rows, row(models.TargetWebhook, notifyURL))
	}
	if hooked {
		b.Rows = append(b.Rows, row(models.TargetHooks, ""))
	}
	return b, nil
}

// Pending returns the rows of b leased to this process, for Dispatch once
// their transaction has committed (none when they were not leased).
func (b *Batch) Pending() Pending {
	if !b.leased {
		return nil
	}
	out := make(Pending, len(b.Rows))
	for i := range b.Rows {
		out[i] = &job{row: b.Rows[i], lease: b.lease, event: b.event, parent: b.Span}
	}
	return out
}

// Dispatch hands deliveries written leased to this process to its
// attempt goroutines, once their transaction has committed. When the
// queue is full (a burst beyond what the goroutines keep up with) a
// delivery waits for its lease to end and a worker claims it.
func (o *Outbox) Dispatch(p Pending) {
	for _, j := range p {
		select {
		case o.jobs <- j:
		default:
		}
	}
}

// Start starts delivering in this process: the deliveries its
// transactions write, at once, with at most Concurrency attempts in flight.
// The attempts run under ctx.
func (o *Outbox) Start(ctx context.Context) {
	var loopCtx context.Context
	loopCtx, o.stopLoop = context.WithCancel(ctx)
	o.attempts, o.cutOff = context.WithCancel(context.WithoutCancel(ctx))
	o.running.Store(true)
	o.done.flusher.Add(1)
	go func() {
		defer o.done.flusher.Done()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-o.done.signal:
				o.flushDelivered(context.WithoutCancel(ctx))
			}
		}
	}()
	o.loop.Add(1)
	go func() {
		defer o.loop.Done()
		for {
			select {
			case <-loopCtx.Done():
				return
			case j := <-o.jobs:
				select {
				case o.slots <- struct{}{}:
				case <-loopCtx.Done():
					o.release(o.attempts, j)
					return
				}
				o.spawn(o.attempts, j, nil)
			}
		}
	}()
}

// spawn attempts j in a goroutine of its own, holding a slot taken by the
// caller; wg, when not nil, is told when it is done.
func (o *Outbox) spawn(ctx context.Context, j *job, wg *sync.WaitGroup) {
	o.inflight.Add(1)
	go func() {
		defer func() {
			<-o.slots
			o.inflight.Done()
			if wg != nil {
				wg.Done()
			}
		}()
		o.attempt(ctx, j)
	}()
}

// CutOff cancels the attempts in flight at once (Stop's deadline passed);
// their leases are released.
func (o *Outbox) CutOff() {
	if o.running.Load() {
		o.cutOff()
	}
}

// Stop stops delivering: no attempt starts any more; attempts in flight
// finish (until ctx ends: then they are cut off and their leases released),
// and deliveries queued but not started have their leases released at
// once, so that another instance takes them over without waiting for the
// leases to end.
func (o *Outbox) Stop(ctx context.Context) {
	if !o.running.Swap(false) {
		return
	}
	o.stopLoop()
	o.loop.Wait()
	done := make(chan struct{})
	go func() { o.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		o.cutOff()
		<-done
	}
	o.cutOff()
	o.done.flusher.Wait()
	o.flushDelivered(context.WithoutCancel(ctx))
	for {
		select {
		case j := <-o.jobs:
			o.release(context.WithoutCancel(ctx), j)
		default:
			o.client.CloseIdleConnections() // their goroutines end with Stop too
			return
		}
	}
}

// release gives up j's lease, making it due now.
func (o *Outbox) release(ctx context.Context, j *job) {
	now := o.cfg.Now().UTC()
	if _, err := store.Settle(ctx, o.cfg.DB, o.cfg.Tables.Deliveries, j.row.ID, j.lease, map[string]any{"next_attempt_at": now}); err != nil {
		o.cfg.Logger(ctx).ErrorContext(ctx, "paycenter: release a delivery", "deliveryId", j.row.ID, "err", err)
	}
}

// RunDue claims the deliveries that are due, as many at a time as there
// are attempt slots free (so that no lease is spent waiting), attempts
// them and waits for the attempts. It returns how many it attempted.
func (o *Outbox) RunDue(ctx context.Context) int {
	handled := 0
	for ctx.Err() == nil {
		n := o.takeSlots(ctx)
		if n == 0 {
			break
		}
		jobs, err := o.claim(ctx, n)
		for range n - len(jobs) {
			<-o.slots
		}
		if err != nil {
			if ctx.Err() == nil {
				o.cfg.Logger(ctx).ErrorContext(ctx, "paycenter: worker: claim deliveries", "err", err)
				o.cfg.Telemetry.WorkerRun(ctx, telemetry.WorkerDeliveries, handled, err)
			}
			return handled
		}
		if len(jobs) == 0 {
			break
		}
		handled += len(jobs)
		// The attempts outlive ctx (the scheduler's, cancelled first by
		// Stop): they finish, or Stop's deadline cuts them off.
		actx := context.WithoutCancel(ctx)
		if o.running.Load() {
			actx = o.attempts
		}
		var wg sync.WaitGroup
		wg.Add(len(jobs))
		for _, j := range jobs {
			o.spawn(actx, j, &wg)
		}
		wg.Wait()
		if !o.running.Load() {
			o.flushDelivered(context.WithoutCancel(ctx)) // nobody else will
		}
	}
	o.cfg.Telemetry.WorkerRun(ctx, telemetry.WorkerDeliveries, handled, nil)
	return handled
}

// takeSlots takes at least one attempt slot (waiting for it) and as many
// more as are free, up to BatchSize, and returns how many (0 if ctx ended).
func (o *Outbox) takeSlots(ctx context.Context) int {
	select {
	case o.slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < o.cfg.BatchSize {
		select {
		case o.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

// claim leases up to n due deliveries in one transaction: the rows are
// read locked (skipping rows another instance has locked), so their
// attempt counts are the ones the attempts start from, and leased with one
// update.
func (o *Outbox) claim(ctx context.Context, n int) ([]*job, error) {
	var jobs []*job
	err := o.cfg.DB.Write(ctx, func(tx *gorm.DB) error {
		jobs = nil
		now := o.cfg.Now().UTC()
		q := store.Free(tx.Table(o.cfg.Tables.Deliveries), now).
			Where("status = ? AND next_attempt_at <= ?", models.DeliveryPending, now).
			Order("next_attempt_at").Limit(n)
		if o.cfg.DB.Dialect != "sqlite" { // SQLite's writer is alone: nothing to skip
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var rows []models.Delivery
		if err := q.Find(&rows).Error; err != nil || len(rows) == 0 {
			return err
		}
		lease := store.NewLease(now.Add(o.leaseFor()))
		ids := make([]int64, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		err := tx.Table(o.cfg.Tables.Deliveries).Where("id IN ?", ids).Updates(map[string]any{
			"lease_until": lease.Until, "lease_token": lease.Token, "next_attempt_at": lease.Until}).Error
		if err != nil {
			return err
		}
		for i := range rows {
			jobs = append(jobs, &job{row: rows[i], lease: lease})
		}
		return nil
	}, nil)
	return jobs, err
}

// attempt makes one attempt of j and records its outcome with one update
// (only while j's lease is still this process's).
func (o *Outbox) attempt(ctx context.Context, j *job) {
	d := &j.row
	ctx, tel := o.cfg.Telemetry.StartDelivery(ctx, j.parent, d.Target, d.Type, d.ID, d.Attempts+1)
	var status int
	var err error
	switch d.Target {
	case models.TargetWebhook:
		key, secret, ok := o.cfg.App(d.AppID)
		if !ok {
			err = errors.New("the app is no longer configured")
			break
		}
		status, err = post(ctx, o.client, o.cfg.Now(), d.URL, key, secret, []byte(d.Body))
	case models.TargetHooks:
		ev := j.event
		if ev == nil {
			if ev, err = o.load(ctx, d); err != nil {
				break
			}
		}
		ev.Attempt = d.Attempts + 1
		err = o.cfg.RunHook(ctx, func() error { return o.cfg.Hooks.RunAfter(ctx, ev) })
	default:
		err = errors.New("unknown delivery target " + d.Target)
	}
	if ctx.Err() != nil && err != nil {
		o.release(context.WithoutCancel(ctx), j) // cut off by Stop: another instance retries at once
		tel.End(telemetry.CutOff, err)
		return
	}
	tel.End(o.record(context.WithoutCancel(ctx), j, status, err), err)
}

// record writes the outcome of an attempt: DELIVERED, or the next attempt
// on the schedule (after the attempt count the row was claimed at), or DEAD
// after the last one; and returns which.
func (o *Outbox) record(ctx context.Context, j *job, status int, err error) telemetry.DeliveryOutcome {
	d := &j.row
	if err == nil {
		o.done.mu.Lock()
		o.done.pending = append(o.done.pending, delivered{id: d.ID, token: j.lease.Token, status: status})
		o.done.mu.Unlock()
		select {
		case o.done.signal <- struct{}{}:
		default:
		}
		return telemetry.Delivered
	}
	now := o.cfg.Now().UTC()
	n := d.Attempts + 1 // attempts made, this one included
	upd := map[string]any{"attempts": n, "last_status": status, "last_attempt_at": now, "updated_at": now,
		"last_error": clip.Bytes(err.Error(), 500)}
	outcome := telemetry.Failed
	if d.Target == models.TargetWebhook && n > len(o.cfg.Webhook.Schedule) {
		upd["status"], outcome = models.DeliveryDead, telemetry.Dead
		o.cfg.Logger(ctx).WarnContext(ctx, "paycenter: webhook is dead after its last retry", "eventId", d.EventID, "attempts", n, "err", err)
	} else {
		upd["next_attempt_at"] = now.Add(jitter(o.retryDelay(d.Target, n)))
	}
	if _, serr := store.Settle(ctx, o.cfg.DB, o.cfg.Tables.Deliveries, d.ID, j.lease, upd); serr != nil {
		o.cfg.Logger(ctx).ErrorContext(ctx, "paycenter: worker: record delivery", "deliveryId", d.ID, "err", serr)
	}
	return outcome
}

// flushDelivered records the successful attempts collected so far: one
// update per HTTP status among them (usually one), each row only while
// its lease is still this process's.
func (o *Outbox) flushDelivered(ctx context.Context) {
	o.done.mu.Lock()
	batch := o.done.pending
	o.done.pending = nil
	o.done.mu.Unlock()
	byStatus := map[int][]delivered{}
	for _, d := range batch {
		byStatus[d.status] = append(byStatus[d.status], d)
	}
	now := o.cfg.Now().UTC()
	for status, ds := range byStatus {
		ids, tokens := make([]int64, len(ds)), make([]string, len(ds))
		for i, d := range ds {
			ids[i], tokens[i] = d.id, d.token
		}
		// A row's token is the one of the lease this process holds on it,
		// so "id IN ids AND token IN tokens" selects exactly these rows.
		err := o.cfg.DB.Single(ctx, func(db *gorm.DB) error {
			return db.Table(o.cfg.Tables.Deliveries).Where("id IN ? AND lease_token IN ?", ids, tokens).Updates(map[string]any{
				"status": models.DeliveryDelivered, "attempts": gorm.Expr("attempts + 1"), "last_status": status,
				"last_attempt_at": now, "delivered_at": now, "last_error": "", "lease_until": nil, "lease_token": "", "updated_at": now,
			}).Error
		})
		if err != nil {
			o.cfg.Logger(ctx).ErrorContext(ctx, "paycenter: worker: record deliveries", "deliveries", len(ds), "err", err)
		}
	}
}

// load reads what an after-commit hook receives for a claimed row.
func (o *Outbox) load(ctx context.Context, d *models.Delivery) (*hooks.Event, error) {
	var b body
	if err := json.Unmarshal([]byte(d.Body), &b); err != nil {
		return nil, err
	}
	ev := &hooks.Event{ID: d.EventID, Type: d.Type, Created: time.UnixMilli(b.Created).UTC()}
	db := o.cfg.DB.R.WithContext(ctx)
	var c models.Charge
	if err := db.Table(o.cfg.Tables.Charges).Where("id = ?", d.ChargeID).Take(&c).Error; err != nil {
		return nil, err
	}
	ev.Charge = &c
	if d.RefundID != 0 {
		var r models.Refund
		if err := db.Table(o.cfg.Tables.Refunds).Where("id = ?", d.RefundID).Take(&r).Error; err != nil {
			return nil, err
		}
		ev.Refund = &r
	}
	return ev, nil
}

// retryDelay is the wait after the n-th failed attempt: the webhook
// schedule, or for hooks a doubling backoff from 1 s capped at 10 min.
func (o *Outbox) retryDelay(target string, n int) time.Duration {
	if target == models.TargetWebhook {
		return o.cfg.Webhook.Schedule[n-1]
	}
	return min(time.Second<<min(n-1, 20), 10*time.Minute)
}

// jitter adds up to 10% to d, so that retries of many deliveries that
// failed together do not arrive together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/10+1)
}

// Stats is the outbox's backlog at one moment.
type Stats struct {
	Pending, Dead int64
	// OldestDue is the due time of the earliest pending delivery that is
	// due (zero when none is): how far delivery lags. A leased row's due
	// time is its lease's end.
	OldestDue time.Time
}

// Stats counts the pending and dead deliveries and finds the oldest due
// one: two queries on the reader, through the index on status (delivered
// rows are not read).
func (o *Outbox) Stats(ctx context.Context) (Stats, error) {
	var rows []struct {
		Status models.DeliveryStatus
		N      int64
	}
	db := o.cfg.DB.R.WithContext(ctx).Table(o.cfg.Tables.Deliveries)
	err := db.Select("status, COUNT(*) AS n").
		Where("status IN ?", []models.DeliveryStatus{models.DeliveryPending, models.DeliveryDead}).
		Group("status").Scan(&rows).Error
	var st Stats
	for _, r := range rows {
		switch r.Status {
		case models.DeliveryPending:
			st.Pending = r.N
		case models.DeliveryDead:
			st.Dead = r.N
		}
	}
	if err != nil || st.Pending == 0 {
		return st, err
	}
	// ORDER BY ... LIMIT 1 rather than MIN, whose result SQLite does not
	// type as a time.
	var first []time.Time
	err = o.cfg.DB.R.WithContext(ctx).Table(o.cfg.Tables.Deliveries).Where("status = ?", models.DeliveryPending).
		Order("next_attempt_at").Limit(1).Pluck("next_attempt_at", &first).Error
	if len(first) == 1 && !first[0].After(o.cfg.Now()) {
		st.OldestDue = first[0].UTC()
	}
	return st, err
}

// List lists outbox entries, newest first.
func (o *Outbox) List(ctx context.Context, f paytype.DeliveryFilter) ([]models.Delivery, error) {
	q := o.cfg.DB.R.WithContext(ctx).Table(o.cfg.Tables.Deliveries)
	for col, v := range map[string]string{"app_id": f.AppID, "status": string(f.Status), "target": f.Target, "event_id": f.EventID} {
		if v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []models.Delivery
	return out, q.Order("id DESC").Limit(f.Limit).Find(&out).Error
}

// ErrNoDelivery is Redeliver's error for an unknown id.
var ErrNoDelivery = errors.New("no such delivery")

// Redeliver makes an outbox entry due now, whatever its state (a dead or
// delivered webhook is sent again, with the same event id).
func (o *Outbox) Redeliver(ctx context.Context, id int64) error {
	now := o.cfg.Now().UTC()
	found, err := o.cfg.DB.UpdateByID(ctx, o.cfg.Tables.Deliveries, id, map[string]any{
		"status": models.DeliveryPending, "next_attempt_at": now, "lease_until": nil, "lease_token": "", "updated_at": now,
	})
	if err == nil && !found {
		err = fmt.Errorf("%w %d", ErrNoDelivery, id)
	}
	return err
}
