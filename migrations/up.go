package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// lockWait bounds how long Up waits for another migrator's lock: long
// enough for a slow ALTER on a big table, short enough that a stuck
// deployment fails instead of hanging.
const lockWait = 15 * time.Minute

// Applied is one migration applied by [Up].
type Applied struct {
	Version  int64
	File     string // e.g. "0001_initial.sql"
	Duration time.Duration
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
	p, err := newProvider(ctx, db, d, prefix, fsys)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
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

// newProvider builds a goose provider for one run: the files, the version
// table with its name quoted (a prefix may hold capitals, which PostgreSQL
// folds unless quoted, as GORM's tables were), and the dialect's lock.
// Go migrations a host registered with goose globally are ignored.
func newProvider(ctx context.Context, db *sql.DB, d Dialect, prefix string, fsys fs.FS) (*goose.Provider, error) {
	dd, ok := dialects[d]
	if !ok {
		return nil, fmt.Errorf("dialect %q: must be sqlite, postgres or mysql", d)
	}
	table := VersionTable(prefix)
	st, err := database.NewStore(dd.goose, dd.quote+table+dd.quote)
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true),
		goose.WithStore(&store{Store: st, name: table, exists: dd.exists})}
	var sqliteLock *sqliteLocker
	switch d {
	case Postgres:
		l, err := postgresLocker(ctx, db, table)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(l))
	case MySQL:
		opts = append(opts, goose.WithSessionLocker(&mysqlLocker{table: table}))
	case SQLite:
		sqliteLock = &sqliteLocker{table: dd.quote + table + dd.quote}
		// The locker's transaction spans the run: goose must not open its
		// own, and runs every statement on the locked connection instead.
		opts = append(opts, goose.WithSessionLocker(sqliteLock), goose.WithIsolateDDL(true))
	}
	p, err := goose.NewProvider(goose.DialectCustom, db, fsys, opts...)
	if err != nil {
		return nil, err
	}
	if sqliteLock != nil {
		for _, s := range p.ListSources() {
			sqliteLock.target = max(sqliteLock.target, s.Version)
		}
	}
	return p, nil
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
