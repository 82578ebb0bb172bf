package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// postgresLocker returns goose's advisory-lock locker, keyed by the
// schema and the version table: advisory locks are per database, and pay
// centers in different schemas need not wait for each other. goose polls
// pg_try_advisory_lock once a second, for lockWait.
func postgresLocker(ctx context.Context, db *sql.DB, table string) (lock.SessionLocker, error) {
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("read the current schema: %w", err)
	}
	return lock.NewPostgresSessionLocker(lock.WithLockID(postgresLockID(schema, table)),
		lock.WithLockTimeout(1, uint64(lockWait/time.Second)))
}

// postgresLockID is the advisory lock key of the version table in schema.
func postgresLockID(schema, table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("paycenter migrations " + schema + "." + table))
	return int64(h.Sum64())
}

// mysqlLocker holds a named lock (GET_LOCK) for the run; goose has a
// session locker for PostgreSQL only. The server releases it if the
// session ends, so a migrator that dies leaves no stale lock.
type mysqlLocker struct {
	table string
	name  string // set by SessionLock
}

// SessionLock waits for the lock named after the database and the version
// table (lock names are server-wide; at most 64 characters).
func (l *mysqlLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	var dbName sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName); err != nil {
		return fmt.Errorf("read the current database: %w", err)
	}
	l.name = mysqlLockName(dbName.String, l.table)
	deadline := time.Now().Add(lockWait)
	for {
		// GET_LOCK waits on the server (10 s at a time), so the lock passes
		// to the next migrator as soon as it is released.
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 10)", l.name).Scan(&got); err != nil {
			return fmt.Errorf("GET_LOCK: %w", err)
		}
		switch {
		case !got.Valid:
			return errors.New("GET_LOCK failed")
		case got.Int64 == 1:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("another migrator held the lock for more than %s", lockWait)
		}
	}
}

// mysqlLockName is the name of the lock of the version table in database.
func mysqlLockName(database, table string) string {
	sum := sha256.Sum256([]byte(database + "." + table))
	return "paycenter-migrate-" + hex.EncodeToString(sum[:16])
}

// SessionUnlock releases the lock.
func (l *mysqlLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", l.name).Scan(&released); err != nil {
		return fmt.Errorf("RELEASE_LOCK: %w", err)
	}
	if released.Int64 != 1 {
		return errors.New("RELEASE_LOCK: the lock was not held")
	}
	return nil
}

// sqliteLocker serialises migrators with one immediate transaction held
// for the whole run. SQLite has no session lock; BEGIN IMMEDIATE excludes
// every other writer of the file, in this process or another, and works on
// the single connection the pay center's *sql.DB has, because goose runs
// the migrations on the connection it locked (WithIsolateDDL keeps goose
// from opening transactions of its own). The run commits or rolls back as
// a whole: SessionUnlock commits only if the version table reached the
// newest version of the files, which it does only if every migration ran.
type sqliteLocker struct {
	table  string // quoted version table
	target int64  // the newest version of the files
}

// SessionLock begins the immediate transaction, retrying while another
// writer holds the file (the driver's busy timeout, if any, waits first).
func (l *sqliteLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	deadline := time.Now().Add(lockWait)
	wait := 5 * time.Millisecond
	for {
		_, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil || !sqliteBusy(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another writer held the database for more than %s: %w", lockWait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// SessionUnlock commits the run if it completed, and rolls it back if not.
func (l *sqliteLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var v sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT MAX(version_id) FROM "+l.table).Scan(&v)
	if err == nil && v.Int64 >= l.target {
		if _, err = conn.ExecContext(ctx, "COMMIT"); err == nil {
			return nil
		}
	}
	if _, rerr := conn.ExecContext(ctx, "ROLLBACK"); rerr != nil {
		return errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("rolled back: %w", err)
	}
	return fmt.Errorf("rolled back: the database did not reach version %d", l.target)
}

// sqliteBusy reports whether err is SQLITE_BUSY, in the words of the
// mattn and modernc drivers.
func sqliteBusy(err error) bool {
	s := err.Error()
	return strings.Contains(s, "database is locked") || strings.Contains(s, "SQLITE_BUSY")
}
