package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
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

// files lists the migration files of d and their versions.
func files(t testing.TB, d migrations.Dialect) (names []string, versions []int64) {
	t.Helper()
	paths, err := fs.Glob(migrations.FS, string(d)+"/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		name := path.Base(p)
		v, err := strconv.ParseInt(name[:strings.IndexByte(name, '_')], 10, 64)
		require.NoError(t, err, name)
		names, versions = append(names, name), append(versions, v)
	}
	return names, versions
}

// TestUp: on an empty database Up applies every file and leaves every
// table the models need, for two prefixes side by side (one with capitals,
// which PostgreSQL keeps only when quoted); a second run applies nothing.
// A model field without its migration fails here.
func TestUp(t *testing.T) {
	ctx := context.Background()
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			db := testdb.Open(t, kind)
			names, versions := files(t, dialect(kind))
			latest := slices.Max(versions)
			for _, prefix := range []string{migrations.DefaultPrefix, "Shop_"} {
				res, err := migrations.Up(ctx, sqlDB(t, db), dialect(kind), prefix)
				require.NoError(t, err)
				var applied []string
				for _, a := range res.Applied {
					applied = append(applied, fmt.Sprintf("%d %s", a.Version, a.File))
				}
				var want []string
				for i := range names {
					want = append(want, fmt.Sprintf("%d %s", versions[i], names[i]))
				}
				assert.Equal(t, want, applied)
				assert.Equal(t, latest, res.Version)
				require.NoError(t, schemacheck.Check(db, models.NewTables(prefix)))
			}
			for _, prefix := range []string{migrations.DefaultPrefix, "Shop_"} {
				res, err := migrations.Up(ctx, sqlDB(t, db), dialect(kind), prefix)
				require.NoError(t, err, "second run")
				assert.Empty(t, res.Applied, "second run")
				assert.Equal(t, latest, res.Version)
				for _, v := range versions {
					assert.EqualValues(t, 1, versionRows(t, db, prefix, v), "version %d", v)
				}
			}
		})
	}
}

// TestSameVersionsEverywhere: every dialect has a file for every version:
// a schema change is one file per directory.
func TestSameVersionsEverywhere(t *testing.T) {
	_, want := files(t, migrations.SQLite)
	for _, d := range []migrations.Dialect{migrations.Postgres, migrations.MySQL} {
		_, got := files(t, d)
		assert.Equal(t, want, got, d)
	}
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
	tables := []string{"charges", "refunds", "nonces", "notifications", "deliveries", "discrepancies", "settings",
		"reconciliations", "bill_rows"}
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
			assert.Contains(t, string(rewritten), "shop_", f)
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
