package paycenter_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// TestIdleCost: an instance with nothing due issues at most one query per
// idle backoff (5 poll intervals: with the default 1 s interval, one query
// every 5 s), whatever it holds that falls due later — counted at the
// driver over a window of 50 poll intervals. The window is a measurement
// of time passing with nothing to do, not a wait for work.
func TestIdleCost(t *testing.T) {
	const poll = 20 * time.Millisecond
	const window = 50 * poll
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			db, counter := testdb.Counted(t, testdb.Open(t, kind))
			e := newEnv(t, kind, func(c *paycenter.Config) {
				c.DB, c.Now = db, time.Now
				c.Workers.PollInterval = poll
			})
			// Due in a day: an open charge (its expiry).
			_, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliWeb, "IDLE0001", 100))
			require.NoError(t, err)
			// Let the loop reach its idle backoff, then count.
			<-time.After(10 * poll)
			before := counter.Statements()
			<-time.After(window)
			got := counter.Statements() - before
			t.Logf("%d statements in %s idle", got, window)
			assert.LessOrEqual(t, got, int64(window/(5*poll))+2,
				"statements in %s idle (poll interval %s)", window, poll)
		})
	}
}
