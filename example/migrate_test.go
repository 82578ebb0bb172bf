package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/internal/schemacheck"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// TestMigrateCommand: "migrate -config FILE" migrates the configured
// database, says what it applied and returns; run again, it applies
// nothing.
func TestMigrateCommand(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			db, database := migrateTarget(t, kind)
			cfg := writeConfig(t, database)

			var out bytes.Buffer
			require.NoError(t, dispatch(context.Background(), []string{"migrate", "-config", cfg}, &out))
			assert.Regexp(t, `^applied 0001_initial\.sql \(version 1\) in \S+\n(applied \d+_\w+\.sql \(version \d+\) in \S+\n)*`+
				string(kind)+` database at version \d+ \(table prefix pay_, versions in pay_schema_migrations\)\n$`, out.String())
			require.NoError(t, schemacheck.Check(db, models.NewTables("pay_")))
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")

			out.Reset()
			require.NoError(t, dispatch(context.Background(), []string{"migrate", "-config", cfg}, &out))
			assert.Equal(t, "nothing to apply; "+lines[len(lines)-1]+"\n", out.String())
		})
	}
}

// migrateTarget returns an empty database of kind and the YAML database
// block that names it.
func migrateTarget(t *testing.T, kind testdb.Kind) (*gorm.DB, string) {
	t.Helper()
	switch kind {
	case testdb.Postgres:
		db := testdb.Open(t, kind)
		var schema string
		require.NoError(t, db.Raw("SELECT current_schema()").Scan(&schema).Error)
		dsn := os.Getenv(testdb.PostgresEnv) + " search_path=" + schema
		return db, fmt.Sprintf("database: {driver: postgres, dsn: %q}\n", dsn)
	case testdb.MySQL:
		db := testdb.Open(t, kind)
		mc, err := mysql.ParseDSN(os.Getenv(testdb.MySQLEnv))
		require.NoError(t, err)
		require.NoError(t, db.Raw("SELECT DATABASE()").Scan(&mc.DBName).Error)
		return db, fmt.Sprintf("database: {driver: mysql, dsn: %q}\n", mc.FormatDSN())
	}
	path := filepath.Join(t.TempDir(), "pay.db")
	db, err := paycenter.OpenSQLite(path)
	require.NoError(t, err)
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db, fmt.Sprintf("database: {driver: sqlite, dsn: %q}\n", path)
}

func TestMigrateCommandErrors(t *testing.T) {
	err := dispatch(context.Background(), []string{"migrate", "-config", "x.yaml", "now"}, &bytes.Buffer{})
	assert.ErrorContains(t, err, `migrate: unexpected argument "now"`)
	cfg := writeConfig(t, "database: {driver: oracle}\n")
	err = dispatch(context.Background(), []string{"migrate", "-config", cfg}, &bytes.Buffer{})
	assert.ErrorContains(t, err, `database.driver must be sqlite, postgres, mysql, not "oracle"`)
}
