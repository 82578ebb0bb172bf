package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/internal/legacyschema"
	"github.com/gopaycenter/paycenter/internal/schemacheck"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/migrations"
	"github.com/gopaycenter/paycenter/models"
)

func dialect(kind testdb.Kind) migrations.Dialect {
	return map[testdb.Kind]migrations.Dialect{
		testdb.SQLite: migrations.SQLite, testdb.Postgres: migrations.Postgres, testdb.MySQL: migrations.MySQL,
	}[kind]
}

func sqlDB(t testing.TB, db *gorm.DB) *sql.DB {
	t.Helper()
	s, err := db.DB()
	require.NoError(t, err)
	return s
}

// versionRows counts the rows of the version table recording version.
func versionRows(t testing.TB, db *gorm.DB, prefix string, version int64) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.Table(migrations.VersionTable(prefix)).Where("version_id = ?", version).Count(&n).Error)
	return n
}

// TestUp: on an empty database Up creates every table the models need,
// for two prefixes side by side (one with capitals, which PostgreSQL keeps
// only when quoted); a second run applies nothing.
func TestUp(t *testing.T) {
	ctx := context.Background()
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			db := testdb.Open(t, kind)
			for _, prefix := range []string{migrations.DefaultPrefix, "Shop_"} {
				res, err := migrations.Up(ctx, sqlDB(t, db), dialect(kind), prefix)
				require.NoError(t, err)
				require.Len(t, res.Applied, 1)
				assert.Equal(t, migrations.Applied{Version: 1, File: "0001_initial.sql", Duration: res.Applied[0].Duration}, res.Applied[0])
				assert.EqualValues(t, 1, res.Version)
				require.NoError(t, schemacheck.Check(db, models.NewTables(prefix)))
			}
			for _, prefix := range []string{migrations.DefaultPrefix, "Shop_"} {
				res, err := migrations.Up(ctx, sqlDB(t, db), dialect(kind), prefix)
				require.NoError(t, err, "second run")
				assert.Empty(t, res.Applied, "second run")
				assert.EqualValues(t, 1, res.Version)
				assert.EqualValues(t, 1, versionRows(t, db, prefix, 1))
			}
		})
	}
}

// TestFreshSchemaEqualsRelease: 0001 on an empty database gives the
// tables release 1f555fd's AutoMigrate gave: same columns (type, length,
// nullability, default), same indexes.
func TestFreshSchemaEqualsRelease(t *testing.T) {
	ctx := context.Background()
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			old := testdb.Open(t, kind)
			require.NoError(t, legacyschema.Create(ctx, old, migrations.DefaultPrefix, false))
			fresh := testdb.Open(t, kind)
			_, err := migrations.Up(ctx, sqlDB(t, fresh), dialect(kind), migrations.DefaultPrefix)
			require.NoError(t, err)
			for _, tb := range schemacheck.Tables(models.NewTables(migrations.DefaultPrefix)) {
				want := describe(t, old, tb.Name)
				require.NotEmpty(t, want)
				assert.Equal(t, want, describe(t, fresh, tb.Name), tb.Name)
			}
		})
	}
}

// describe lists a table's columns and indexes as the database reports
// them, one line each.
func describe(t testing.TB, db *gorm.DB, table string) []string {
	t.Helper()
	m := db.Migrator()
	cols, err := m.ColumnTypes(table)
	require.NoError(t, err)
	var out []string
	for _, c := range cols {
		length, _ := c.Length()
		null, _ := c.Nullable()
		pk, _ := c.PrimaryKey()
		def, _ := c.DefaultValue()
		// GORM writes SQLite defaults as "", the files as ''.
		def = strings.Trim(def, `'"`)
		out = append(out, fmt.Sprintf("column %s %s(%d) null=%t pk=%t default=%q",
			c.Name(), strings.ToLower(c.DatabaseTypeName()), length, null, pk, def))
	}
	idx, err := m.GetIndexes(table)
	require.NoError(t, err)
	for _, ix := range idx {
		unique, _ := ix.Unique()
		pk, _ := ix.PrimaryKey()
		out = append(out, fmt.Sprintf("index %s (%s) unique=%t pk=%t", ix.Name(), strings.Join(ix.Columns(), ","), unique, pk))
	}
	slices.Sort(out)
	return out
}

// TestMySQLCollation: 0001 converts tables in the database's default,
// case-insensitive collation (as releases before 1aaceee created them) to
// utf8mb4_bin, and creates new ones so.
func TestMySQLCollation(t *testing.T) {
	ctx := context.Background()
	for _, adopt := range []bool{true, false} {
		t.Run(fmt.Sprintf("adopt=%t", adopt), func(t *testing.T) {
			db := testdb.Open(t, testdb.MySQL)
			if adopt {
				require.NoError(t, legacyschema.Create(ctx, db, migrations.DefaultPrefix, true))
				require.Contains(t, collations(t, db), "utf8mb4_general_ci", "premise: the server's default collation")
			}
			_, err := migrations.Up(ctx, sqlDB(t, db), migrations.MySQL, migrations.DefaultPrefix)
			require.NoError(t, err)
			assert.Equal(t, []string{"utf8mb4_bin"}, collations(t, db))
		})
	}
}

// collations lists the distinct collations of the pay center's tables and
// of their text columns.
func collations(t testing.TB, db *gorm.DB) []string {
	t.Helper()
	names := []string{}
	for _, tb := range schemacheck.Tables(models.NewTables(migrations.DefaultPrefix)) {
		names = append(names, tb.Name)
	}
	var out []string
	require.NoError(t, db.Raw(`SELECT table_collation FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name IN ?
		UNION SELECT collation_name FROM information_schema.columns
		WHERE table_schema = DATABASE() AND table_name IN ? AND collation_name IS NOT NULL`, names, names).
		Scan(&out).Error)
	slices.Sort(out)
	return slices.Compact(out)
}

var identRE = regexp.MustCompile(`[A-Za-z0-9_]+`)

// TestPrefixedIdentifiers: every identifier of the files that the prefix
// rewrite touches names one of the pay center's tables (or an index,
// sequence or constraint of one), so the rewrite renames nothing else; and
// ForPrefix leaves none behind.
func TestPrefixedIdentifiers(t *testing.T) {
	tables := []string{"charges", "refunds", "nonces", "notifications", "deliveries"}
	owned := func(rest string) bool {
		return slices.ContainsFunc(tables, func(tb string) bool { return rest == tb || strings.HasPrefix(rest, tb+"_") })
	}
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres, migrations.MySQL} {
		files, err := fs.Glob(migrations.FS, string(d)+"/*.sql")
		require.NoError(t, err)
		require.NotEmpty(t, files)
		shop, err := migrations.ForPrefix(d, "shop_")
		require.NoError(t, err)
		for _, f := range files {
			data, err := fs.ReadFile(migrations.FS, f)
			require.NoError(t, err)
			for _, id := range identRE.FindAllString(string(data), -1) {
				if rest, ok := strings.CutPrefix(strings.TrimPrefix(id, "idx_"), "pay_"); ok {
					assert.True(t, owned(rest), "%s: %s is not a pay center table's identifier", f, id)
				}
			}
			rewritten, err := fs.ReadFile(shop, strings.TrimPrefix(f, string(d)+"/"))
			require.NoError(t, err)
			assert.NotRegexp(t, `\b(idx_)?pay_`, string(rewritten), f)
			assert.Contains(t, string(rewritten), "shop_charges", f)
		}
	}
}

func TestForPrefixRefuses(t *testing.T) {
	for _, prefix := range []string{"", "pay-", "p ay_", strings.Repeat("a", 33), `pay"_`} {
		_, err := migrations.ForPrefix(migrations.Postgres, prefix)
		assert.ErrorContains(t, err, "must be 1 to 32 letters, digits and underscores", "%q", prefix)
	}
	_, err := migrations.ForPrefix("oracle", "pay_")
	assert.ErrorContains(t, err, `dialect "oracle": must be sqlite, postgres or mysql`)
}
