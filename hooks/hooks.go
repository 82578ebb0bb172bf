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
package hooks

import (
	"context"
	"fmt"

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
// FAILED (see Refund.Status).
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

// Registry holds the hooks sorted by kind and runs them in the order given.
type Registry struct {
	paid   []OnPaid
	refund []OnRefund
	closed []OnClosed
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
		if !known {
			return nil, fmt.Errorf("hooks: Hooks[%d] (%T) implements none of OnPaid, OnRefund, OnClosed", i, h)
		}
	}
	return r, nil
}

// RunPaid runs every OnPaid hook; the first error stops and is returned.
func (r *Registry) RunPaid(ctx context.Context, ev *Paid) error {
	for _, h := range r.paid {
		if err := h.OnPaid(ctx, ev); err != nil {
			return fmt.Errorf("OnPaid hook %T: %w", h, err)
		}
	}
	return nil
}

// RunRefund runs every OnRefund hook; the first error stops and is returned.
func (r *Registry) RunRefund(ctx context.Context, ev *Refunded) error {
	for _, h := range r.refund {
		if err := h.OnRefund(ctx, ev); err != nil {
			return fmt.Errorf("OnRefund hook %T: %w", h, err)
		}
	}
	return nil
}

// RunClosed runs every OnClosed hook; the first error stops and is returned.
func (r *Registry) RunClosed(ctx context.Context, ev *Closed) error {
	for _, h := range r.closed {
		if err := h.OnClosed(ctx, ev); err != nil {
			return fmt.Errorf("OnClosed hook %T: %w", h, err)
		}
	}
	return nil
}
