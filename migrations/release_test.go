package migrations

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/internal/legacyschema"
	"github.com/gopaycenter/paycenter/internal/schemacheck"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// first returns the files of d up to version 1, whatever came later.
func first(t testing.TB, d Dialect) fs.FS {
	t.Helper()
	sub, err := fs.Sub(FS, string(d))
	require.NoError(t, err)
	data, err := fs.ReadFile(sub, "0001_initial.sql")
	require.NoError(t, err)
	return fstest.MapFS{"0001_initial.sql": {Data: data}}
}

// TestFreshSchemaEqualsRelease: 0001 on an empty database gives the
// tables release 1f555fd's AutoMigrate gave: same columns (type, length,
// nullability, default), same indexes.
func TestFreshSchemaEqualsRelease(t *testing.T) {
	ctx := context.Background()
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			old := testdb.Open(t, kind)
			require.NoError(t, legacyschema.Create(ctx, old, DefaultPrefix, false))
			fresh := testdb.Open(t, kind)
			_, err := up(ctx, sqlOf(t, fresh), kindDialect[kind], DefaultPrefix, first(t, kindDialect[kind]))
			require.NoError(t, err)
			for _, tb := range schemacheck.Tables(models.NewTables(DefaultPrefix)) {
				if !old.Migrator().HasTable(tb.Name) {
					continue // a table of a later migration
				}
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
