package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

type item struct {
	ID     int64
	Status string
	N      int64
}

type note struct {
	ID     int64
	ItemID int64
	Text   string
}

// TestChain: the update and its inserts as one statement: all of it when
// the update's condition holds, none of it otherwise, and of 16 Chains
// from the same status exactly one. Databases without data-modifying WITH
// refuse it.
func TestChain(t *testing.T) {
	ctx := context.Background()
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			gdb := testdb.Open(t, kind)
			d := store.Open(gdb, nil)
			t.Cleanup(d.Close)
			require.NoError(t, gdb.AutoMigrate(&item{}, &note{}))
			open := func() *item {
				it := &item{Status: "open"}
				require.NoError(t, gdb.Create(it).Error)
				return it
			}
			finish := func(it *item, notes ...*note) (bool, error) {
				rows := make([]store.Insert, len(notes))
				for i, n := range notes {
					rows[i] = store.Insert{Table: "notes", Row: n}
				}
				return d.Chain(ctx, store.Update{Table: "items", ID: it.ID, Where: "status = ?", Args: []any{"open"},
					Set: map[string]any{"status": "done", "n": 1}}, rows...)
			}
			countNotes := func(it *item) int64 {
				var n int64
				require.NoError(t, gdb.Model(&note{}).Where("item_id = ?", it.ID).Count(&n).Error)
				return n
			}
			if !d.Chained() {
				_, err := finish(open())
				require.Error(t, err)
				return
			}

			it := open()
			a, b := &note{ItemID: it.ID, Text: "a"}, &note{ItemID: it.ID, Text: "b"}
			ok, err := finish(it, a, b)
			require.NoError(t, err)
			require.True(t, ok)
			assert.NotZero(t, a.ID)
			assert.NotZero(t, b.ID)
			assert.NotEqual(t, a.ID, b.ID)
			var got item
			require.NoError(t, gdb.Take(&got, it.ID).Error)
			assert.Equal(t, item{ID: it.ID, Status: "done", N: 1}, got)
			assert.EqualValues(t, 2, countNotes(it))

			c := &note{ItemID: it.ID, Text: "c"}
			ok, err = finish(it, c) // no longer open
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Zero(t, c.ID)
			assert.EqualValues(t, 2, countNotes(it), "a Chain that did not update inserted")

			it = open()
			var won atomic.Int64
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := finish(it, &note{ItemID: it.ID, Text: "race"})
					assert.NoError(t, err)
					if ok {
						won.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.EqualValues(t, 1, won.Load(), "Chains that applied")
			assert.EqualValues(t, 1, countNotes(it))
		})
	}
}
