// Package migrations holds the pay center's schema as numbered SQL
// migrations, one directory per database, and applies them.
//
// # The files
//
// [FS] holds sqlite/, postgres/ and mysql/ (MySQL 8 and MariaDB), each with
// the same numbered files in goose format (github.com/pressly/goose/v3):
//
//	sqlite/0001_initial.sql     -- +goose Up, then the statements
//	postgres/0001_initial.sql
//	mysql/0001_initial.sql
//
// 0001 is the schema of release 1f555fd, the last one that created its
// tables with GORM AutoMigrate. It adopts tables written by that release
// without loss (CREATE ... IF NOT EXISTS, the same column types and index
// names) and, on MySQL, converts every table to utf8mb4_bin, since order,
// refund and nonce numbers are case-sensitive.
//
// A schema change is one new file per directory (0002_what.sql, ...). The
// files name tables with the default prefix "pay_": every identifier that
// starts with "pay_" or "idx_pay_" (tables, indexes, sequences, constraints)
// is rewritten for another prefix, wherever it appears, so no column or
// other word may start with "pay_". MySQL DDL is not transactional: a MySQL
// file that fails half-way is not rolled back, so write it to succeed when
// run again after a fix (one change per file helps).
//
// # Applying them
//
// [Up] applies the pending migrations under a database-level lock
// (PostgreSQL advisory lock, MySQL GET_LOCK, SQLite an immediate
// transaction), so any number of processes may call it at once, and records
// them in the version table [VersionTable] (e.g. pay_schema_migrations),
// one per prefix, so pay centers with different prefixes share a database.
// paycenter.New calls it unless Config.SkipMigrate; paycenter.MigrateDB and
// the example's "migrate" command call it from a pipeline.
//
// Hosts with their own tool (goose, atlas, ...) use [FS] directly, or
// [ForPrefix] for the files of one database with another prefix, and set
// Config.SkipMigrate. With goose, name the version table as [VersionTable]
// does to stay compatible with [Up].
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing/fstest"
)

// FS holds the migrations: sqlite/, postgres/ and mysql/ (for MySQL and
// MariaDB), each with files NNNN_name.sql in goose format, written with
// the default prefix "pay_".
//
//go:embed sqlite/*.sql postgres/*.sql mysql/*.sql
var FS embed.FS

// Dialect names a database engine and its directory in [FS].
type Dialect string

// The dialects, named as their directories in [FS].
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql" // MySQL 8 and MariaDB 10.6+
)

// DefaultPrefix is the table prefix the files are written with.
const DefaultPrefix = "pay_"

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)

// VersionTable returns the name of the table that records the migrations
// applied for prefix, e.g. "pay_schema_migrations".
func VersionTable(prefix string) string { return prefix + "schema_migrations" }

// ForPrefix returns the migrations of dialect with their tables named for
// prefix: the files of [FS]'s directory, identifiers rewritten as the
// package doc says.
func ForPrefix(d Dialect, prefix string) (fs.FS, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	switch d {
	case SQLite, Postgres, MySQL:
	default:
		return nil, fmt.Errorf("migrations: dialect %q: must be sqlite, postgres or mysql", d)
	}
	sub, err := fs.Sub(FS, string(d))
	if err != nil {
		return nil, err
	}
	if prefix == DefaultPrefix {
		return sub, nil
	}
	// An in-memory copy: fstest.MapFS is the standard library's fs.FS
	// over a map (it does not import package testing).
	out := fstest.MapFS{}
	err = fs.WalkDir(sub, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		out[path] = &fstest.MapFile{Data: []byte(Rewrite(string(data), prefix)), Mode: 0o444}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkPrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("migrations: table prefix %q: must be 1 to 32 letters, digits and underscores", prefix)
	}
	return nil
}

var identRE = regexp.MustCompile(`[A-Za-z0-9_]+`)

// Rewrite renames, in sql written with [DefaultPrefix], every identifier
// that starts with "pay_" or "idx_pay_" for prefix: "pay_charges" becomes
// prefix+"charges" and "idx_pay_charges_status" "idx_"+prefix+"charges_status",
// the names GORM gave the same tables and indexes.
func Rewrite(sql, prefix string) string {
	return identRE.ReplaceAllStringFunc(sql, func(id string) string {
		if rest, ok := strings.CutPrefix(id, "idx_"+DefaultPrefix); ok {
			return "idx_" + prefix + rest
		}
		if rest, ok := strings.CutPrefix(id, DefaultPrefix); ok {
			return prefix + rest
		}
		return id
	})
}
