package paycenter

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/migrations"
)

// MigrateDB applies the pay center's schema migrations (package
// migrations) to db for tables prefixed with prefix ("" means "pay_", as
// Config.TablePrefix), without building a PayCenter: for a deployment
// pipeline that migrates before it starts the new version, or a host that
// sets Config.SkipMigrate. Concurrent callers, in any process, wait for
// each other under a database-level lock; the schema is applied once.
func MigrateDB(ctx context.Context, db *gorm.DB, prefix string) (*migrations.Result, error) {
	if prefix == "" {
		prefix = migrations.DefaultPrefix
	}
	if !tablePrefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("paycenter: table prefix %q must be letters, digits and underscores (at most 32)", prefix)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("paycenter: %w", err)
	}
	// The dialects are named as GORM's dialectors; Up refuses another.
	res, err := migrations.Up(ctx, sqlDB, migrations.Dialect(db.Dialector.Name()), prefix)
	if err != nil {
		return nil, fmt.Errorf("paycenter: %w", err)
	}
	return res, nil
}
