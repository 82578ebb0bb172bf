// Package store is how the pay center talks to its database: write
// transactions (group-committed on SQLite), a conditional update and the
// inserts that depend on it as one statement (Chain, PostgreSQL), reads
// (off the writer on SQLite), the one lease primitive every claim uses, and
// the classification of driver errors. It knows no table: callers name
// them.
package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"gorm.io/gorm"
)

// DB is the pay center's database: W for writes, R for reads that need not
// see the caller's own uncommitted writes.
type DB struct {
	// W runs writes, without GORM's implicit transaction around single
	// statements (an autocommit statement is one round trip).
	W *gorm.DB
	// R runs reads: a pool of its own on SQLite (WAL readers never wait
	// for the one writer), W elsewhere.
	R *gorm.DB
	// Dialect is "sqlite", "postgres" or "mysql".
	Dialect string

	group *groupCommit // SQLite only
}

// Open wraps write (and read, when the host gives a separate reader; nil
// otherwise) for the pay center. On SQLite, writes are group-committed:
// see Write.
//
// Statements are not prepared by GORM (Session.PrepareStmt): its cache
// prepares outside a transaction on a pooled connection while a
// transaction waiting for that statement holds the connection — with a
// one-connection SQLite pool, or a full server pool, a deadlock. pgx
// caches prepared statements itself; a MySQL DSN with
// interpolateParams=true saves the prepare round trip (see README).
func Open(write, read *gorm.DB) *DB {
	w := write.Session(&gorm.Session{SkipDefaultTransaction: true})
	d := &DB{W: w, R: w, Dialect: write.Dialector.Name()}
	if read != nil {
		d.R = read.Session(&gorm.Session{SkipDefaultTransaction: true})
	}
	if d.Dialect == "sqlite" {
		d.group = newGroupCommit(w)
	}
	return d
}

// Close stops the group committer (waiting for what it has accepted).
func (d *DB) Close() {
	if d.group != nil {
		d.group.close()
	}
}

// Write runs fn in a write transaction and, once it has committed, runs
// after (may be nil). A transient conflict (SQLite busy, a deadlock, a
// serialization failure) runs fn again: fn must be safe to repeat.
//
// On SQLite, where every write waits for the one writer anyway, the
// transactions of concurrent callers are group-committed: the committer
// runs each fn in a savepoint of one transaction and commits them together
// (one fsync for many payments). A failing fn rolls back to its savepoint
// and leaves the others alone. This is PostgreSQL's own group commit,
// brought to SQLite: see the README's performance section.
func (d *DB) Write(ctx context.Context, fn func(tx *gorm.DB) error, after func()) error {
	var err error
	if d.group != nil {
		err = d.group.run(ctx, fn)
	} else {
		err = Retrying(ctx, func() error { return d.W.WithContext(ctx).Transaction(fn) })
	}
	if err == nil && after != nil {
		after()
	}
	return err
}

// Single runs fn, which makes one statement on the db it is given, as a
// transaction of its own: group-committed on SQLite, in autocommit mode
// elsewhere (one round trip, no BEGIN and COMMIT). A transient conflict
// runs it again.
func (d *DB) Single(ctx context.Context, fn func(db *gorm.DB) error) error {
	if d.group != nil {
		return d.group.run(ctx, fn)
	}
	return Retrying(ctx, func() error { return fn(d.W.WithContext(ctx)) })
}

// UpdateByID applies set to row id of table as one write (Single) and
// reports whether the row exists. MySQL counts only the rows an update
// changed: when none is, the row is looked for, so that a row that already
// had the values is found.
func (d *DB) UpdateByID(ctx context.Context, table string, id int64, set map[string]any) (bool, error) {
	var n int64
	err := d.Single(ctx, func(db *gorm.DB) error {
		res := db.Table(table).Where("id = ?", id).Updates(set)
		n = res.RowsAffected
		return res.Error
	})
	if err != nil || n > 0 {
		return n > 0, err
	}
	err = d.R.WithContext(ctx).Table(table).Where("id = ?", id).Count(&n).Error
	return n > 0, err
}

// Retrying runs fn (a transaction, or one statement in autocommit mode)
// again when it fails with a transient conflict: MySQL/MariaDB report
// deadlocks even between single-row updates of one row when they also
// change indexed columns.
func Retrying(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt == 5 || !Transient(err) {
			return err
		}
		d := time.Duration(5<<attempt)*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
	}
}

// Transient reports a conflict that running again may not meet: SQLite
// busy, a PostgreSQL serialization failure or deadlock, a MySQL deadlock
// or lock wait timeout.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, s := range []string{
		"database is locked", "SQLITE_BUSY", // SQLite
		"SQLSTATE 40001", "SQLSTATE 40P01", // PostgreSQL
		"Error 1213", "Error 1205", // MySQL / MariaDB
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Duplicate reports a unique-key violation. Inserts detect duplicates
// this way rather than with ON CONFLICT DO NOTHING and rows affected,
// which MariaDB reports as 1 for a row inserted meanwhile by a concurrent
// transaction.
func Duplicate(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") || // PostgreSQL
		strings.Contains(msg, "Error 1062") // MySQL / MariaDB
}

// SQLiteDSN is the DSN the pay center opens an SQLite file with: WAL,
// synchronous=FULL (an acknowledged payment is on disk), a 10 s busy
// timeout and immediate write transactions.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=1"
}

// SQLiteReadDSN is the DSN of the read-only connections to the same file:
// WAL readers that never take the write lock.
func SQLiteReadDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_query_only=1"
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store: closed")
