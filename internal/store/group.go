package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

// maxGroup bounds the transactions committed together: enough to share an
// fsync among all the requests a busy server has waiting, few enough that
// the first waits little for the last.
const maxGroup = 64

// groupCommit serialises SQLite's write transactions through one
// goroutine, which commits whatever has queued up as one transaction, each
// caller's work in a savepoint of its own.
type groupCommit struct {
	db   *gorm.DB
	reqs chan *groupReq
	wg   sync.WaitGroup
	once sync.Once
	mu   sync.RWMutex // held for reading while sending on reqs
	done bool
}

type groupReq struct {
	ctx  context.Context
	fn   func(tx *gorm.DB) error
	err  error
	done chan struct{}
}

func newGroupCommit(db *gorm.DB) *groupCommit {
	g := &groupCommit{db: db, reqs: make(chan *groupReq, maxGroup)}
	g.wg.Add(1)
	go g.loop()
	return g
}

// run queues fn and waits until its group has committed (or its ctx ends
// before it started: once started, fn runs to its end whatever ctx).
func (g *groupCommit) run(ctx context.Context, fn func(tx *gorm.DB) error) error {
	r := &groupReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.RLock()
	if g.done {
		g.mu.RUnlock()
		return ErrClosed
	}
	g.reqs <- r
	g.mu.RUnlock()
	<-r.done // no select on ctx: once queued, fn may run, and its outcome must be known
	return r.err
}

func (g *groupCommit) close() {
	g.once.Do(func() {
		g.mu.Lock()
		g.done = true
		close(g.reqs)
		g.mu.Unlock()
		g.wg.Wait()
	})
}

func (g *groupCommit) loop() {
	defer g.wg.Done()
	for first := range g.reqs {
		group := []*groupReq{first}
	gather:
		for len(group) < maxGroup {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break gather
				}
				group = append(group, r)
			default:
				break gather
			}
		}
		g.commit(group)
	}
}

// commit runs the group in one transaction and tells each caller its
// outcome. When the transaction itself fails (busy, disk), or a savepoint
// cannot be rolled back or released (the database rolled the transaction
// back under it), every caller's work is rolled back: each is run again
// alone, with retries, so that one bad moment does not fail them all.
func (g *groupCommit) commit(group []*groupReq) {
	live := group[:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := g.db.Transaction(func(tx *gorm.DB) error {
		for _, r := range live {
			// Once started, fn runs to its end whatever its caller's ctx:
			// a statement cancelled mid-way makes SQLite roll back the
			// whole transaction (sqlite3_interrupt), the other callers'
			// work with it, and a statement refused for a cancelled ctx
			// would leave fn half done.
			r.err = Savepoint(tx.WithContext(context.WithoutCancel(r.ctx)), "pc_op", r.fn)
			if errors.Is(r.err, ErrSavepoint) {
				return r.err // the transaction is not as fn found it: run each alone
			}
		}
		return nil
	})
	for _, r := range live {
		if err != nil {
			r.err = Retrying(r.ctx, func() error {
				return g.db.WithContext(r.ctx).Transaction(r.fn)
			})
		}
		close(r.done)
	}
}

// ErrSavepoint marks a failure of Savepoint's own statements: the
// transaction may then hold part of fn's work, or none of anything (the
// database rolled it back), and must not be committed as it is.
var ErrSavepoint = errors.New("store: savepoint")

// Savepoint runs fn inside a savepoint of the transaction tx, named name:
// a failure of fn rolls back fn's work and leaves the rest of tx as it was.
// When the savepoint itself cannot be taken, rolled back or released, the
// error wraps ErrSavepoint. Its own statements run whatever tx's context:
// a rollback refused for a cancelled context would leave fn's first
// statements in the transaction.
func Savepoint(tx *gorm.DB, name string, fn func(tx *gorm.DB) error) error {
	ctl := tx.WithContext(context.WithoutCancel(tx.Statement.Context))
	if err := ctl.Exec("SAVEPOINT " + name).Error; err != nil {
		return fmt.Errorf("%w %s: %w", ErrSavepoint, name, err)
	}
	if err := fn(tx); err != nil {
		if rb := ctl.Exec("ROLLBACK TO SAVEPOINT " + name).Error; rb != nil {
			return fmt.Errorf("%w %s: roll back after %v: %w", ErrSavepoint, name, err, rb)
		}
		ctl.Exec("RELEASE SAVEPOINT " + name)
		return err
	}
	if err := ctl.Exec("RELEASE SAVEPOINT " + name).Error; err != nil {
		return fmt.Errorf("%w %s: release: %w", ErrSavepoint, name, err)
	}
	return nil
}
