package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/migrations"
)

// migrateCmd is "example migrate [-config FILE]": it opens the configured
// database, applies the pay center's schema migrations, prints what it
// applied and exits; it does not listen. A deployment pipeline runs it
// before it starts the new version, whose pay centers then find nothing to
// apply. It waits for any other migrator under the database's lock.
func migrateCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("example migrate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	config := configFlag(fs, "the demo's SQLite file paycenter.db")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", fs.Arg(0))
	}
	fc, err := config()
	if err != nil {
		return err
	}
	db, err := openDB(fc.Database)
	if err != nil {
		return err
	}
	if db == nil { // the pay center's default database
		if db, err = paycenter.OpenSQLite("paycenter.db"); err != nil {
			return err
		}
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	res, err := paycenter.MigrateDB(ctx, db, migrations.DefaultPrefix)
	if err != nil {
		return err
	}
	for _, m := range res.Applied {
		fmt.Fprintf(stdout, "applied %s (version %d) in %s\n", m.File, m.Version, m.Duration.Round(time.Millisecond))
	}
	if len(res.Applied) == 0 {
		fmt.Fprint(stdout, "nothing to apply; ")
	}
	fmt.Fprintf(stdout, "%s database at version %d (table prefix %s, versions in %s)\n", db.Dialector.Name(),
		res.Version, migrations.DefaultPrefix, migrations.VersionTable(migrations.DefaultPrefix))
	return nil
}
