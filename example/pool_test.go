package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/internal/testdb"
)

// TestPoolSettings: the defaults per driver, the YAML keys that replace
// them, and the mistakes the loader reports (with the file, the line and
// the key).
func TestPoolSettings(t *testing.T) {
	for _, c := range []struct {
		name string
		db   dbConfig
		want pool
	}{
		{"demo (no database block)", dbConfig{}, pool{MaxOpen: 1, MaxIdle: 1}},
		{"sqlite", dbConfig{Driver: "sqlite", DSN: "x.db"}, pool{MaxOpen: 1, MaxIdle: 1}},
		{"postgres", dbConfig{Driver: "postgres"}, pool{MaxOpen: 10, MaxIdle: 5, MaxIdleTime: 5 * time.Minute, MaxLifetime: 30 * time.Minute}},
		{"mysql", dbConfig{Driver: "mysql"}, pool{MaxOpen: 10, MaxIdle: 5, MaxIdleTime: 5 * time.Minute, MaxLifetime: 30 * time.Minute}},
		{"a smaller pool keeps fewer idle", dbConfig{Driver: "postgres", MaxOpenConns: 3},
			pool{MaxOpen: 3, MaxIdle: 3, MaxIdleTime: 5 * time.Minute, MaxLifetime: 30 * time.Minute}},
		{"every key", dbConfig{Driver: "mysql", MaxOpenConns: 20, MaxIdleConns: 2, ConnMaxIdleTime: time.Minute, ConnMaxLifetime: time.Hour},
			pool{MaxOpen: 20, MaxIdle: 2, MaxIdleTime: time.Minute, MaxLifetime: time.Hour}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.db.pool()
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}

	load := func(body string) (*fileConfig, error) { return loadConfig(writeConfig(t, body)) }
	fc, err := load("database:\n  driver: postgres\n  dsn: host=db\n  maxOpenConns: 4\n  maxIdleConns: 2\n  connMaxIdleTime: 30s\n  connMaxLifetime: 10m\n")
	require.NoError(t, err)
	p, err := fc.Database.pool()
	require.NoError(t, err)
	assert.Equal(t, pool{MaxOpen: 4, MaxIdle: 2, MaxIdleTime: 30 * time.Second, MaxLifetime: 10 * time.Minute}, p)

	for _, c := range []struct{ yaml, want string }{
		{"database:\n  driver: postgres\n  maxIdleConns: 20\n", "database.maxIdleConns (20) must not exceed database.maxOpenConns (10, the default)"},
		{"database:\n  maxOpenConns: 4\n  maxIdleConns: 5\n", "database.maxIdleConns (5) must not exceed database.maxOpenConns (4)"},
		{"database:\n  driver: mysql\n  maxOpenConns: -1\n", "line 3: database.maxOpenConns must be 0 or more, not -1"},
		{"database:\n  connMaxIdleTime: 300\n", "line 2: database.connMaxIdleTime must be a duration like 10s, 1m or 1h30m, not \"300\""},
		{"database:\n  connMaxLifetime: -1m\n", "line 2: database.connMaxLifetime must be a duration"},
	} {
		_, err := load(c.yaml)
		require.Error(t, err, c.yaml)
		assert.Contains(t, err.Error(), c.want)
	}
}

// TestPoolOnServer opens PostgreSQL and MariaDB as the example does, with a
// small pool from YAML, and watches the server's own list of connections:
// no more than maxOpenConns are opened (the next caller waits), at most
// maxIdleConns stay when the load ends, and after connMaxIdleTime none do.
// With the defaults, a handle opens at most 10.
func TestPoolOnServer(t *testing.T) {
	for _, s := range []struct {
		driver, env string
		id          string // the connection's id on the server
		count       string // how many of these ids the server still has
	}{
		{"postgres", testdb.PostgresEnv, "SELECT pg_backend_pid()", "SELECT count(*) FROM pg_stat_activity WHERE pid IN ?"},
		{"mysql", testdb.MySQLEnv, "SELECT CONNECTION_ID()", "SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID IN ?"},
	} {
		t.Run(s.driver, func(t *testing.T) {
			dsn := os.Getenv(s.env)
			if dsn == "" {
				t.Skipf("%s run skipped: set %s", s.driver, s.env)
			}
			ctx := context.Background()
			defaults, err := openDB(dbConfig{Driver: s.driver, DSN: dsn})
			require.NoError(t, err)
			sqlDB := sqlOf(t, defaults)
			assert.Equal(t, 10, sqlDB.Stats().MaxOpenConnections, "the default")

			admin, err := openDB(dbConfig{Driver: s.driver, DSN: dsn, MaxOpenConns: 1})
			require.NoError(t, err)
			sqlOf(t, admin)
			fc, err := loadConfig(writeConfig(t, fmt.Sprintf("database:\n  driver: %s\n  dsn: %q\n"+
				"  maxOpenConns: 3\n  maxIdleConns: 1\n  connMaxIdleTime: 1s\n  connMaxLifetime: 1h\n", s.driver, dsn)))
			require.NoError(t, err)
			db, err := openDB(fc.Database)
			require.NoError(t, err)
			sqlDB = sqlOf(t, db)

			var ids []int64
			var held []*sql.Conn
			for range 3 {
				conn, err := sqlDB.Conn(ctx)
				require.NoError(t, err)
				var id int64
				require.NoError(t, conn.QueryRowContext(ctx, s.id).Scan(&id))
				ids, held = append(ids, id), append(held, conn)
			}
			onServer := func() int64 {
				var n int64
				require.NoError(t, admin.Raw(s.count, ids).Scan(&n).Error)
				return n
			}
			assert.EqualValues(t, 3, onServer())
			wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err = sqlDB.Conn(wait)
			cancel()
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "a 4th connection waits: %v", err)

			for _, c := range held {
				require.NoError(t, c.Close())
			}
			assert.Equal(t, 1, sqlDB.Stats().Idle, "maxIdleConns stay idle")
			assert.Eventually(t, func() bool { return onServer() == 1 }, 10*time.Second, 20*time.Millisecond,
				"the server lets go of the others")
			assert.Eventually(t, func() bool { return onServer() == 0 && sqlDB.Stats().Idle == 0 }, 10*time.Second, 20*time.Millisecond,
				"after connMaxIdleTime no connection is kept")
			assert.EqualValues(t, 1, sqlDB.Stats().MaxIdleTimeClosed)
		})
	}
}

func sqlOf(t *testing.T, db *gorm.DB) *sql.DB {
	t.Helper()
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { sqlDB.Close() })
	return sqlDB
}
