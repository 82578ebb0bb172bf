// Package testdb opens a fresh, isolated database for one test on SQLite,
// PostgreSQL or MariaDB/MySQL.
//
// SQLite always runs (a file in t.TempDir()). PostgreSQL and MySQL run when
// PAYCENTER_TEST_POSTGRES_DSN / PAYCENTER_TEST_MYSQL_DSN are set, and skip
// with a message that says so otherwise; .ci/run always sets both. Each test
// gets its own PostgreSQL schema or MySQL database, dropped at cleanup, so
// parallel tests never share a table.
package testdb

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gopaycenter/paycenter/internal/store"
)

// Kind names a database engine.
type Kind string

// The engines every store test runs against.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
	MySQL    Kind = "mysql"
)

// Kinds lists every engine, SQLite first.
var Kinds = []Kind{SQLite, Postgres, MySQL}

// Env vars holding the server DSNs.
const (
	PostgresEnv = "PAYCENTER_TEST_POSTGRES_DSN"
	MySQLEnv    = "PAYCENTER_TEST_MYSQL_DSN"
)

// Open returns a fresh database of kind for t, or skips t when the server's
// DSN is not set. One case per database, each a short recipe (create the
// schema or database, open it, drop it at cleanup): long only because
// there are three.
func Open(t testing.TB, kind Kind) *gorm.DB {
	t.Helper()
	cfg := &gorm.Config{Logger: logger.Discard}
	switch kind {
	case SQLite:
		db, err := gorm.Open(sqlite.Open(store.SQLiteDSN(filepath.Join(t.TempDir(), "test.db"))), cfg)
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(1) // one writer, as the pay center configures its own SQLite
		t.Cleanup(func() { sqlDB.Close() })
		return db
	case Postgres:
		dsn := os.Getenv(PostgresEnv)
		if dsn == "" {
			t.Skipf("PostgreSQL run skipped: set %s (e.g. host=127.0.0.1 user=postgres dbname=test sslmode=disable)", PostgresEnv)
		}
		admin, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		schema := name()
		if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
			t.Fatalf("create schema: %v", err)
		}
		db, err := gorm.Open(postgres.Open(withSearchPath(dsn, schema)), cfg)
		if err != nil {
			t.Fatalf("open postgres schema: %v", err)
		}
		t.Cleanup(func() {
			if sqlDB, err := db.DB(); err == nil {
				sqlDB.Close()
			}
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			if sqlDB, err := admin.DB(); err == nil {
				sqlDB.Close()
			}
		})
		return db
	case MySQL:
		dsn := os.Getenv(MySQLEnv)
		if dsn == "" {
			t.Skipf("MariaDB/MySQL run skipped: set %s (e.g. root@tcp(127.0.0.1:3306)/test)", MySQLEnv)
		}
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", MySQLEnv, err)
		}
		mc.ParseTime = true
		mc.InterpolateParams = true // as the README recommends: no prepare round trip per statement
		mc.Loc = time.UTC
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		mc.Params["charset"] = "utf8mb4"
		admin, err := gorm.Open(gormMySQL(mc.FormatDSN()), cfg)
		if err != nil {
			t.Fatalf("open mysql: %v", err)
		}
		dbName := name()
		// The server's default (case-insensitive) collation, as a host's
		// database would have: the pay center must not depend on ours.
		if err := admin.Exec("CREATE DATABASE " + dbName + " CHARACTER SET utf8mb4").Error; err != nil {
			t.Fatalf("create database: %v", err)
		}
		mc.DBName = dbName
		db, err := gorm.Open(gormMySQL(mc.FormatDSN()), cfg)
		if err != nil {
			t.Fatalf("open mysql database: %v", err)
		}
		t.Cleanup(func() {
			if sqlDB, err := db.DB(); err == nil {
				sqlDB.Close()
			}
			admin.Exec("DROP DATABASE " + dbName)
			if sqlDB, err := admin.DB(); err == nil {
				sqlDB.Close()
			}
		})
		return db
	}
	t.Fatalf("unknown database kind %q", kind)
	return nil
}

// name returns a fresh lower-case identifier for a schema or database.
func name() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "pc_test_" + hex.EncodeToString(b)
}

// withSearchPath adds search_path to a key=value or URL PostgreSQL DSN.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return fmt.Sprintf("%s search_path=%s", dsn, schema)
}

// ErrInjected is the error of a failure injected by FailUpdates.
var ErrInjected = errors.New("testdb: injected database failure")

// FailUpdates installs a fault on db: after arm(n), the next n UPDATE
// statements on table fail (after running, inside their transaction), as
// a database failing mid-transaction does; the transaction rolls back.
func FailUpdates(t testing.TB, db *gorm.DB, table string) (arm func(n int)) {
	t.Helper()
	var left atomic.Int64
	name := "testdb:fail_" + name()
	err := db.Callback().Update().After("gorm:update").Register(name, func(tx *gorm.DB) {
		if tx.Statement.Table == table && left.Add(-1) >= 0 {
			tx.AddError(ErrInjected)
		}
	})
	if err != nil {
		t.Fatalf("register fault: %v", err)
	}
	t.Cleanup(func() { db.Callback().Update().Remove(name) })
	return func(n int) { left.Store(int64(n)) }
}
