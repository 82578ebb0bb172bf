package core

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"gorm.io/gorm"
)

// inTx runs fn in a new transaction on s.db, retrying a few times when the
// database reports a transient conflict (SQLite busy, a PostgreSQL
// serialization failure or deadlock, a MySQL deadlock or lock wait timeout).
// fn must be safe to run again: everything it did was rolled back.
func (s *Service) inTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	err := retrying(ctx, func() error { return s.db.WithContext(ctx).Transaction(fn) })
	if err == nil {
		s.wakeWorkers() // the change may have written outbox entries
	}
	return err
}

// retrying runs fn (a transaction, or one statement in autocommit mode)
// again when it fails with a transient conflict: MySQL/MariaDB report
// deadlocks even between single-row updates of one row when they also
// change indexed columns.
func retrying(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt == 5 || !transient(err) {
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

// retryOwn runs fn with retrying when db is the pay center's own handle
// (fn is then its own transaction); in a host's transaction a conflict has
// already rolled the host's work back, so it is returned as it is.
func (s *Service) retryOwn(ctx context.Context, db *gorm.DB, fn func() error) error {
	if db != s.db {
		return fn()
	}
	return retrying(ctx, fn)
}

// inHostTx runs fn inside the host's transaction tx, in a savepoint so that
// a failure leaves the host's own work in tx untouched.
func inHostTx(ctx context.Context, tx *gorm.DB, fn func(tx *gorm.DB) error) error {
	return tx.WithContext(ctx).Transaction(fn)
}

func transient(err error) bool {
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

// duplicateKey reports whether err is a unique-key violation. Inserts
// detect duplicates this way rather than with ON CONFLICT DO NOTHING and
// rows affected, which MariaDB reports as 1 for a row inserted meanwhile by
// a concurrent transaction. The driver-neutral texts cover mattn and pure-Go
// SQLite, pgx and go-sql-driver.
func duplicateKey(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") || // PostgreSQL
		strings.Contains(msg, "Error 1062") // MySQL / MariaDB
}

// SQLiteDSN is the DSN the pay center opens an SQLite file with: WAL,
// synchronous=FULL, a 10 s busy timeout and immediate write transactions.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=1"
}
