package hooks

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// both implements two hook kinds at once.
type both struct {
	Base
	calls *[]string
}

func (b both) OnPaid(context.Context, *Paid) error { *b.calls = append(*b.calls, "paid"); return nil }
func (b both) AfterPaid(context.Context, *Event) error {
	*b.calls = append(*b.calls, "after")
	return nil
}

func TestRegistry(t *testing.T) {
	var calls []string
	boom := errors.New("boom")
	r, err := NewRegistry([]Hook{
		both{calls: &calls},
		OnPaidFunc(func(context.Context, *Paid) error { calls = append(calls, "second"); return boom }),
		OnPaidFunc(func(context.Context, *Paid) error { calls = append(calls, "never"); return nil }),
	})
	require.NoError(t, err)
	err = r.RunPaid(context.Background(), &Paid{})
	assert.ErrorIs(t, err, boom, "the first error stops the run")
	assert.Equal(t, []string{"paid", "second"}, calls)

	assert.True(t, r.HasAfter(ChargeSucceeded))
	assert.False(t, r.HasAfter(RefundSucceeded))
	require.NoError(t, r.RunAfter(context.Background(), &Event{Type: ChargeSucceeded}))
	assert.Equal(t, "after", calls[len(calls)-1])

	_, err = NewRegistry([]Hook{Base{}})
	assert.ErrorContains(t, err, "implements none")
}
