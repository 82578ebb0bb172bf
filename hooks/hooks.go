// Package hooks lets the host's business code react to payment state
// changes inside the database transaction that makes them.
//
// A hook is any value implementing one or more of [OnPaid], [OnRefund] and
// [OnClosed]; the ...Func adapters turn a function into one. Each runs exactly
// once per transition, inside the transaction that makes it, with that
// transaction in the event (Tx), so the host can write its own order state
// atomically with the pay center's:
//
//	hooks.OnPaidFunc(func(ctx context.Context, ev *hooks.Paid) error {
//		return ev.Tx.Model(&Order{}).Where("no = ?", ev.Charge.OutTradeNo).
//			Update("status", "paid").Error
//	})
//
// A hook that returns an error rolls the transition back: the charge stays
// as it was and the channel's notification is answered as a failure, so the
// channel delivers it again later. Hooks must therefore be quick and must
// not call the network; use only ev.Tx for database work (on SQLite another
// handle would wait for the very transaction the hook runs in).
//
// After-commit hooks ([AfterPaid], [AfterRefund], [AfterClosed]) run after
// the transaction commits, from the transactional outbox: at least once
// (a crash or an error means another call), retried with backoff until they
// return nil, and never able to undo the change. Use them for slow work
// (e-mails, calls to other services); make them idempotent with Event.ID.
package hooks

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/models"
)

// Hook is the common type of every hook value; see the package doc.
type Hook interface {
	// IsHook marks the value as a hook. The ...Func adapters implement it;
	// a struct can embed [Base].
	IsHook() bool
}

// Base can be embedded in a struct that implements hook methods.
type Base struct{}

// IsHook implements Hook.
func (Base) IsHook() bool { return true }

// Paid is the event of a charge becoming PAID.
type Paid struct {
	Tx     *gorm.DB       // the transaction making the change
	Charge *models.Charge // the charge as it is after the change
	// Late is true when the payment arrived after the charge was closed or
	// had expired (the money was taken all the same).
	Late bool
}

// Refunded is the event of a refund reaching a final state, SUCCESS or
// FAILED (see Refund.Status). (An ABNORMAL refund is not final and has no
// in-transaction hook; its refund.abnormal event reaches AfterRefund and
// webhooks.)
type Refunded struct {
	Tx     *gorm.DB
	Charge *models.Charge // after the change (RefundedFee includes a success)
	Refund *models.Refund // after the change
}

// Closed is the event of an unpaid charge becoming CLOSED.
type Closed struct {
	Tx     *gorm.DB
	Charge *models.Charge
}

// OnPaid is called when a charge becomes PAID.
type OnPaid interface {
	Hook
	OnPaid(ctx context.Context, ev *Paid) error
}

// OnRefund is called when a refund succeeds or fails.
type OnRefund interface {
	Hook
	OnRefund(ctx context.Context, ev *Refunded) error
}

// OnClosed is called when an unpaid charge is closed.
type OnClosed interface {
	Hook
	OnClosed(ctx context.Context, ev *Closed) error
}

// OnPaidFunc adapts a function to OnPaid.
type OnPaidFunc func(ctx context.Context, ev *Paid) error

// IsHook implements Hook.
func (OnPaidFunc) IsHook() bool { return true }

// OnPaid calls f.
func (f OnPaidFunc) OnPaid(ctx context.Context, ev *Paid) error { return f(ctx, ev) }

// OnRefundFunc adapts a function to OnRefund.
type OnRefundFunc func(ctx context.Context, ev *Refunded) error

// IsHook implements Hook.
func (OnRefundFunc) IsHook() bool { return true }

// OnRefund calls f.
func (f OnRefundFunc) OnRefund(ctx context.Context, ev *Refunded) error { return f(ctx, ev) }

// OnClosedFunc adapts a function to OnClosed.
type OnClosedFunc func(ctx context.Context, ev *Closed) error

// IsHook implements Hook.
func (OnClosedFunc) IsHook() bool { return true }

// OnClosed calls f.
func (f OnClosedFunc) OnClosed(ctx context.Context, ev *Closed) error { return f(ctx, ev) }

// Event is what an after-commit hook receives: the outbox event and the
// charge (and refund) as they are when the hook runs.
type Event struct {
	ID      string // the event id, also the webhook's "id"
	Type    string // charge.succeeded, charge.closed, refund.succeeded, refund.failed
	Created time.Time
	Charge  *models.Charge
	Refund  *models.Refund // refund events only
	Attempt int            // 1 for the first call
}

// AfterPaid is called after a charge became PAID (event charge.succeeded).
type AfterPaid interface {
	Hook
	AfterPaid(ctx context.Context, ev *Event) error
}

// AfterRefund is called after a refund succeeded, failed or became
// abnormal (refund.succeeded, refund.failed, refund.abnormal: see
// Event.Type and Event.Refund.Status).
type AfterRefund interface {
	Hook
	AfterRefund(ctx context.Context, ev *Event) error
}

// AfterClosed is called after an unpaid charge was closed (charge.closed).
type AfterClosed interface {
	Hook
	AfterClosed(ctx context.Context, ev *Event) error
}

// AfterPaidFunc adapts a function to AfterPaid.
type AfterPaidFunc func(ctx context.Context, ev *Event) error

// IsHook implements Hook.
func (AfterPaidFunc) IsHook() bool { return true }

// AfterPaid calls f.
func (f AfterPaidFunc) AfterPaid(ctx context.Context, ev *Event) error { return f(ctx, ev) }

// AfterRefundFunc adapts a function to AfterRefund.
type AfterRefundFunc func(ctx context.Context, ev *Event) error

// IsHook implements Hook.
func (AfterRefundFunc) IsHook() bool { return true }

// AfterRefund calls f.
func (f AfterRefundFunc) AfterRefund(ctx context.Context, ev *Event) error { return f(ctx, ev) }

// AfterClosedFunc adapts a function to AfterClosed.
type AfterClosedFunc func(ctx context.Context, ev *Event) error

// IsHook implements Hook.
func (AfterClosedFunc) IsHook() bool { return true }

// AfterClosed calls f.
func (f AfterClosedFunc) AfterClosed(ctx context.Context, ev *Event) error { return f(ctx, ev) }

// Event types, as in webhooks.
const (
	ChargeSucceeded = "charge.succeeded"
	ChargeClosed    = "charge.closed"
	RefundSucceeded = "refund.succeeded"
	RefundFailed    = "refund.failed"
	// RefundAbnormal: WeChat Pay took the money from the merchant but could
	// not credit the buyer; the refund is not final (its amount stays
	// reserved) until the channel settles it, usually after the merchant
	// acts in the WeChat Pay merchant platform.
	RefundAbnormal = "refund.abnormal"
)

// Registry holds the hooks sorted by kind and runs them in the order given.
type Registry struct {
	paid   []OnPaid
	refund []OnRefund
	closed []OnClosed

	afterPaid   []AfterPaid
	afterRefund []AfterRefund
	afterClosed []AfterClosed
}

// NewRegistry sorts hooks by kind. A value implementing none of the hook
// interfaces is an error (it would silently never run).
func NewRegistry(hs []Hook) (*Registry, error) {
	r := &Registry{}
	for i, h := range hs {
		known := false
		if h, ok := h.(OnPaid); ok {
			r.paid, known = append(r.paid, h), true
		}
		if h, ok := h.(OnRefund); ok {
			r.refund, known = append(r.refund, h), true
		}
		if h, ok := h.(OnClosed); ok {
			r.closed, known = append(r.closed, h), true
		}
		if h, ok := h.(AfterPaid); ok {
			r.afterPaid, known = append(r.afterPaid, h), true
		}
		if h, ok := h.(AfterRefund); ok {
			r.afterRefund, known = append(r.afterRefund, h), true
		}
		if h, ok := h.(AfterClosed); ok {
			r.afterClosed, known = append(r.afterClosed, h), true
		}
		if !known {
			return nil, fmt.Errorf("hooks: Hooks[%d] (%T) implements none of OnPaid, OnRefund, OnClosed, AfterPaid, AfterRefund, AfterClosed", i, h)
		}
	}
	return r, nil
}

// PanicError is the error of a hook that panicked: the panic is recovered
// (a hook bug must not take the host down) and, for an in-transaction
// hook, rolls the transition back like an error would.
type PanicError struct {
	Hook  string // "OnPaid hook *main.shop", ...
	Value any    // what the hook panicked with
	Stack []byte // the goroutine's stack at the panic
}

// Error implements error: the hook and the panic value (not the stack).
func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.Hook, e.Value) }

// call runs one hook, turning an error into "<name> hook <type>: err" and a
// panic into a *PanicError.
func call(name string, h any, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Hook: fmt.Sprintf("%s hook %T", name, h), Value: p, Stack: debug.Stack()}
		}
	}()
	if err := f(); err != nil {
		return fmt.Errorf("%s hook %T: %w", name, h, err)
	}
	return nil
}

// RunPaid runs every OnPaid hook; the first error (or panic) stops and is
// returned.
func (r *Registry) RunPaid(ctx context.Context, ev *Paid) error {
	for _, h := range r.paid {
		if err := call("OnPaid", h, func() error { return h.OnPaid(ctx, ev) }); err != nil {
			return err
		}
	}
	return nil
}

// RunRefund runs every OnRefund hook; the first error (or panic) stops and
// is returned.
func (r *Registry) RunRefund(ctx context.Context, ev *Refunded) error {
	for _, h := range r.refund {
		if err := call("OnRefund", h, func() error { return h.OnRefund(ctx, ev) }); err != nil {
			return err
		}
	}
	return nil
}

// RunClosed runs every OnClosed hook; the first error (or panic) stops and
// is returned.
func (r *Registry) RunClosed(ctx context.Context, ev *Closed) error {
	for _, h := range r.closed {
		if err := call("OnClosed", h, func() error { return h.OnClosed(ctx, ev) }); err != nil {
			return err
		}
	}
	return nil
}

// HasInTx reports whether any in-transaction hook (OnPaid, OnRefund,
// OnClosed) handles events of typ.
func (r *Registry) HasInTx(typ string) bool {
	switch typ {
	case ChargeSucceeded:
		return len(r.paid) > 0
	case ChargeClosed:
		return len(r.closed) > 0
	case RefundSucceeded, RefundFailed:
		return len(r.refund) > 0
	}
	return false
}

// HasAfter reports whether any after-commit hook handles events of typ.
func (r *Registry) HasAfter(typ string) bool {
	switch typ {
	case ChargeSucceeded:
		return len(r.afterPaid) > 0
	case ChargeClosed:
		return len(r.afterClosed) > 0
	case RefundSucceeded, RefundFailed, RefundAbnormal:
		return len(r.afterRefund) > 0
	}
	return false
}

// RunAfter runs every after-commit hook for ev.Type; the first error (or
// panic) stops and is returned (the whole set runs again on the next
// attempt).
func (r *Registry) RunAfter(ctx context.Context, ev *Event) error {
	switch ev.Type {
	case ChargeSucceeded:
		for _, h := range r.afterPaid {
			if err := call("AfterPaid", h, func() error { return h.AfterPaid(ctx, ev) }); err != nil {
				return err
			}
		}
	case ChargeClosed:
		for _, h := range r.afterClosed {
			if err := call("AfterClosed", h, func() error { return h.AfterClosed(ctx, ev) }); err != nil {
				return err
			}
		}
	case RefundSucceeded, RefundFailed, RefundAbnormal:
		for _, h := range r.afterRefund {
			if err := call("AfterRefund", h, func() error { return h.AfterRefund(ctx, ev) }); err != nil {
				return err
			}
		}
	}
	return nil
}
