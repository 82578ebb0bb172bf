package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// lockWait bounds how long Up waits for another migrator's lock: long
// enough for a slow ALTER on a big table, short enough that a stuck
// deployment fails instead of hanging.
const lockWait = 15 * time.Minute

// Applied is one migration applied by [Up].
type Applied struct {
	Version  int64         // the file's number
	File     string        // e.g. "0001_initial.sql"
	Duration time.Duration // how long it ran
}

// Result is what [Up] did.
type Result struct {
	// Applied lists the migrations applied, in order; it is empty when the
	// database was up to date (or another process applied them first).
	Applied []Applied
	// Version is the database's version afterwards: the newest migration
	// applied, by this process or another.
	Version int64
}

// Up applies the pending migrations of dialect d to db, for tables
// prefixed with prefix (e.g. [DefaultPrefix]), and records them in
// [VersionTable](prefix). It holds a database-level lock while it runs, so
// concurrent callers (pods starting together) wait, then find nothing left
// to do. A database whose version is newer than the files (a newer release
// migrated it) is left alone.
//
// On SQLite the whole run is one transaction; on PostgreSQL each migration
// is one; on MySQL a failed migration may leave part of its DDL applied.
func Up(ctx context.Context, db *sql.DB, d Dialect, prefix string) (*Result, error) {
	fsys, err := ForPrefix(d, prefix)
	if err != nil {
		return nil, err
	}
	return up(ctx, db, d, prefix, fsys)
}

// up applies the migrations of fsys (tests pass files of their own).
func up(ctx context.Context, db *sql.DB, d Dialect, prefix string, fsys fs.FS) (*Result, error) {
	p, err := prepare(ctx, db, d, prefix, fsys)
	if err != nil {
		return nil, fmt.Errorf("migrations: %s, table prefix %q: %w", d, prefix, err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: %s, table prefix %q: %w", d, prefix, err)
	}
	res := &Result{}
	for _, r := range results {
		res.Applied = append(res.Applied, Applied{Version: r.Source.Version, File: path.Base(r.Source.Path), Duration: r.Duration})
	}
	if res.Version, err = p.GetDBVersion(ctx); err != nil {
		return nil, fmt.Errorf("migrations: read the version: %w", err)
	}
	return res, nil
}

// dialects holds what goose's version table store needs per dialect:
// goose's dialect, the identifier quote and a query telling whether the
// version table exists (one parameter, its name).
var dialects = map[Dialect]struct {
	goose  database.Dialect
	quote  string
	exists string
}{
	Postgres: {database.DialectPostgres, `"`,
		`SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1)`},
	MySQL: {database.DialectMySQL, "`",
		`SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?)`},
	// SQLite folds identifiers' case: so does the check.
	SQLite: {database.DialectSQLite3, `"`,
		`SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE)`},
}

// prepare builds a goose provider for one run — the files, the version
// table with its name quoted (a prefix may hold capitals, which PostgreSQL
// folds unless quoted, as GORM's tables were), the dialect's lock; Go
// migrations a host registered with goose globally are ignored — and
// creates the version table under the lock.
func prepare(ctx context.Context, db *sql.DB, d Dialect, prefix string, fsys fs.FS) (*goose.Provider, error) {
	dd, ok := dialects[d]
	if !ok {
		return nil, fmt.Errorf("dialect %q: must be sqlite, postgres or mysql", d)
	}
	table := VersionTable(prefix)
	gs, err := database.NewStore(dd.goose, dd.quote+table+dd.quote)
	if err != nil {
		return nil, err
	}
	st := &store{Store: gs, name: table, exists: dd.exists}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithStore(st)}
	var locker lock.SessionLocker
	var sqliteRun *sqliteLocker
	switch d {
	case Postgres:
		if locker, err = postgresLocker(ctx, db, table); err != nil {
			return nil, err
		}
	case MySQL:
		locker = &mysqlLocker{table: table}
	case SQLite:
		// Creating the version table is a run of its own, complete at
		// version 0; the migrations' run is complete at the newest version.
		locker = &sqliteLocker{table: dd.quote + table + dd.quote}
		sqliteRun = &sqliteLocker{table: dd.quote + table + dd.quote}
		// The locker's transaction spans the run: goose must not open its
		// own, and runs every statement on the locked connection instead.
		opts = append(opts, goose.WithIsolateDDL(true))
	}
	if err := ensureVersionTable(ctx, db, locker, st); err != nil {
		return nil, err
	}
	if sqliteRun != nil {
		locker = sqliteRun
	}
	p, err := goose.NewProvider(goose.DialectCustom, db, fsys, append(opts, goose.WithSessionLocker(locker))...)
	if err != nil {
		return nil, err
	}
	if sqliteRun != nil {
		for _, s := range p.ListSources() {
			sqliteRun.target = max(sqliteRun.target, s.Version)
		}
	}
	return p, nil
}

// ensureVersionTable creates the version table and its version 0 row
// under the lock. goose's Up would create them in HasPending, which takes
// no lock: concurrent migrators would race, and on MySQL and SQLite, where
// the two are not created atomically, one could see the table without the
// row and fail. The row is also restored if a MySQL migrator died between
// the two (its DDL commits at once).
func ensureVersionTable(ctx context.Context, db *sql.DB, l lock.SessionLocker, st *store) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := l.SessionLock(ctx, conn); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		if uerr := l.SessionUnlock(context.WithoutCancel(ctx), conn); uerr != nil {
			err = errors.Join(err, fmt.Errorf("unlock: %w", uerr))
		}
	}()
	exists, err := st.TableExists(ctx, conn)
	if err != nil {
		return fmt.Errorf("look for the version table: %w", err)
	}
	if !exists {
		if err := st.CreateVersionTable(ctx, conn); err != nil {
			return fmt.Errorf("create the version table: %w", err)
		}
	}
	if _, err = st.GetLatestVersion(ctx, conn); errors.Is(err, database.ErrVersionNotFound) {
		err = st.Insert(ctx, conn, database.InsertRequest{Version: 0})
	}
	return err
}

// store is goose's version table store for a dialect, with its own
// TableExists: goose's compares the quoted name.
type store struct {
	database.Store
	name   string // unquoted
	exists string // one parameter: name
}

var _ database.StoreExtender = (*store)(nil)

// TableExists reports whether the version table exists in the current
// schema or database.
func (s *store) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var ok bool
	err := db.QueryRowContext(ctx, s.exists, s.name).Scan(&ok)
	return ok, err
}
