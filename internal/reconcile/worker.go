package reconcile

import (
	"context"
	"errors"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/telemetry"
)

// RunDue reconciles, for every account whose channel publishes bills, the
// previous Beijing day once its provider's At has passed, unless it is done
// already, another process holds it, or it waits for its next retry. It
// returns how many reconciliations it ran. Start calls it every poll
// interval; tests and cron-style hosts may call it themselves.
func (r *Reconciler) RunDue(ctx context.Context) int {
	now := r.o.Now()
	day := channels.DayOf(now).AddDays(-1)
	n := 0
	var failed error // a run that failed (not a bill not ready yet), for the metrics
	defer func() { r.o.Telemetry.WorkerRun(ctx, telemetry.WorkerReconcile, n, failed) }()
	for _, provider := range Providers {
		if now.Before(day.End().Add(r.at(provider))) {
			continue
		}
		accounts := r.o.Books.BillAccounts(provider)
		for _, acct := range sortedKeys(accounts) {
			if ctx.Err() != nil {
				return n
			}
			id, err := r.runAccount(ctx, provider, acct, accounts[acct], day, true)
			if id != 0 {
				n++
			}
			if err != nil && !errors.Is(err, channels.ErrBillNotReady) {
				failed = err
			}
			if err != nil && id == 0 {
				r.o.Logger.ErrorContext(ctx, "paycenter: reconciliation worker", "account", acct, "billDay", day.String(), "err", err)
			}
		}
	}
	return n
}

// at is the time of day from which provider's bills are asked for.
func (r *Reconciler) at(provider string) time.Duration {
	if d, ok := r.o.At[provider]; ok {
		return d
	}
	return DefaultAt
}

// Start runs the worker in its own goroutine under ctx until the returned
// stop is called or ctx ends. stop lets a reconciliation in flight finish
// until its own ctx ends, then cuts it off (recorded FAILED, due again at
// once for this or another process); it returns when the goroutine is gone.
func (r *Reconciler) Start(ctx context.Context) (stop func(context.Context)) {
	runCtx, cancel := context.WithCancel(ctx)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.o.PollInterval)
		defer t.Stop()
		for {
			r.RunDue(runCtx)
			select {
			case <-runCtx.Done():
				return
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func(stopCtx context.Context) {
		close(quit)
		select {
		case <-done:
		case <-stopCtx.Done():
			cancel()
			<-done
		}
		cancel()
	}
}

// errStopped is the error of a run cut off by Stop.
var errStopped = errors.New("reconcile: interrupted: the pay center stopped")
