package migrations

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	pcstore "github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

var kindDialect = map[testdb.Kind]Dialect{testdb.SQLite: SQLite, testdb.Postgres: Postgres, testdb.MySQL: MySQL}

func sqlOf(t testing.TB, db *gorm.DB) *sql.DB {
	t.Helper()
	s, err := db.DB()
	require.NoError(t, err)
	return s
}

func openSQLite(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	s := sqlOf(t, db)
	s.SetMaxOpenConns(1)
	t.Cleanup(func() { s.Close() })
	return db
}

// holdLock takes the lock Up takes, as another migrator would, on its own
// connection, and returns its release.
func holdLock(t *testing.T, kind testdb.Kind, db *gorm.DB) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := sqlOf(t, db).Conn(ctx)
	require.NoError(t, err)
	table := VersionTable(DefaultPrefix)
	var query string
	switch kind {
	case testdb.SQLite:
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		require.NoError(t, err)
		query = "COMMIT"
	case testdb.Postgres:
		var schema string
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema))
		_, err = conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", postgresLockID(schema, table))
		require.NoError(t, err)
		query = "SELECT pg_advisory_unlock_all()"
	case testdb.MySQL:
		var dbName string
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName))
		var got int
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", mysqlLockName(dbName, table)).Scan(&got))
		require.Equal(t, 1, got)
		query = "SELECT RELEASE_ALL_LOCKS()"
	}
	return func() {
		_, err := conn.ExecContext(ctx, query)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
}

// TestUpWaitsForTheLock: while another migrator holds the lock, Up applies
// nothing and gives up when its context ends; once released, Up runs.
func TestUpWaitsForTheLock(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			db := testdb.Open(t, kind)
			holder := db
			if kind == testdb.SQLite {
				// Two handles on one file, as two processes. The migrator's
				// DSN has no busy timeout, so it retries in Up's own loop,
				// which watches the context.
				path := filepath.Join(t.TempDir(), "lock.db")
				holder = openSQLite(t, pcstore.SQLiteDSN(path))
				db = openSQLite(t, "file:"+path+"?_busy_timeout=0")
			}
			release := holdLock(t, kind, holder)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := Up(ctx, sqlOf(t, db), kindDialect[kind], DefaultPrefix)
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			release()
			assert.False(t, db.Migrator().HasTable("pay_charges"), "applied without the lock")

			res, err := Up(context.Background(), sqlOf(t, db), kindDialect[kind], DefaultPrefix)
			require.NoError(t, err)
			files, err := fs.Glob(FS, string(kindDialect[kind])+"/*.sql")
			require.NoError(t, err)
			assert.Len(t, res.Applied, len(files), "every migration, once the lock is free")
			assert.True(t, db.Migrator().HasTable("pay_charges"))
		})
	}
}

// TestFailedRun: a migration that fails is not recorded and can be fixed
// and run again. SQLite rolls the whole run back (the version table, made
// beforehand, stays at version 0); PostgreSQL the failed migration; MySQL
// keeps the DDL that ran before the failure.
func TestFailedRun(t *testing.T) {
	ctx := context.Background()
	first := &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE pay_a (id integer);\n")}
	broken := fstest.MapFS{"0001_a.sql": first, "0002_b.sql": {
		Data: []byte("-- +goose Up\nCREATE TABLE pay_b (id integer);\nCREATE TABLE pay_a (id integer);\n")}}
	fixed := fstest.MapFS{"0001_a.sql": first, "0002_b.sql": {
		Data: []byte("-- +goose Up\nCREATE TABLE IF NOT EXISTS pay_b (id integer);\n")}}
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			db := testdb.Open(t, kind)
			_, err := up(ctx, sqlOf(t, db), kindDialect[kind], DefaultPrefix, broken)
			require.Error(t, err)
			m := db.Migrator()
			switch kind {
			case testdb.SQLite:
				assert.False(t, m.HasTable("pay_a"))
				assert.False(t, m.HasTable("pay_b"))
			case testdb.Postgres:
				assert.True(t, m.HasTable("pay_a"))
				assert.False(t, m.HasTable("pay_b"))
			case testdb.MySQL:
				assert.True(t, m.HasTable("pay_a"))
				assert.True(t, m.HasTable("pay_b"))
			}
			want := []int64{0, 1}
			if kind == testdb.SQLite {
				want = []int64{0}
			}
			var versions []int64
			require.NoError(t, db.Table(VersionTable(DefaultPrefix)).Order("version_id").Pluck("version_id", &versions).Error)
			assert.Equal(t, want, versions)

			res, err := up(ctx, sqlOf(t, db), kindDialect[kind], DefaultPrefix, fixed)
			require.NoError(t, err)
			assert.EqualValues(t, 2, res.Version)
			assert.True(t, m.HasTable("pay_b"))
		})
	}
}
