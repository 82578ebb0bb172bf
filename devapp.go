package paycenter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gopaycenter/paycenter/models"
)

// devAppSetting is the settings row holding the generated development app.
const devAppSetting = "dev_app"

// devAppID is the ID of the generated development app.
const devAppID = "dev"

// storedDevApp is the JSON value of the dev_app setting.
type storedDevApp struct {
	Key    string `json:"key"`
	Secret string `json:"secret"`
}

// devApp returns the development app of a pay center started without
// apps: the one stored in the settings table, or, on the first start, a
// new one with a random key and secret, stored there. created says which.
//
// Two instances starting at once on one empty database both insert with
// "on conflict do nothing" and then read the row back, so both end up with
// the row that won and one development app.
func devApp(ctx context.Context, db *gorm.DB, t models.Tables, now time.Time, notifyURL string) (app App, created bool, err error) {
	fresh, err := json.Marshal(storedDevApp{Key: randomHex(16), Secret: randomHex(24)})
	if err != nil {
		return App{}, false, err
	}
	db = db.WithContext(ctx).Table(t.Settings)
	res := db.Clauses(clause.OnConflict{DoNothing: true}).
		Create(&models.Setting{Name: devAppSetting, Value: string(fresh), UpdatedAt: now.UTC()})
	if res.Error != nil {
		return App{}, false, fmt.Errorf("paycenter: store the development app in %s: %w", t.Settings, res.Error)
	}
	var row models.Setting
	if err := db.Where("name = ?", devAppSetting).Take(&row).Error; err != nil {
		return App{}, false, fmt.Errorf("paycenter: read the development app from %s: %w", t.Settings, err)
	}
	var s storedDevApp
	if err := json.Unmarshal([]byte(row.Value), &s); err != nil || s.Key == "" || s.Secret == "" {
		return App{}, false, fmt.Errorf("paycenter: the development app stored in %s (name %q) is not valid; delete the row to generate a new one",
			t.Settings, devAppSetting)
	}
	return App{ID: devAppID, Key: s.Key, Secret: s.Secret, NotifyURL: notifyURL, Development: true}, res.RowsAffected == 1, nil
}

// loadDevApp sets pc.apps to the development app and logs its key and
// (see devAppLog) its secret: the developer signs with them. With
// SkipMigrate and no settings table yet, the app is generated but not
// stored, and a warning says that it will change on the next start.
func (pc *PayCenter) loadDevApp(ctx context.Context) error {
	cfg := pc.cfg
	if cfg.SkipMigrate && !pc.db.Migrator().HasTable(pc.tables.Settings) {
		dev := App{ID: devAppID, Key: randomHex(16), Secret: randomHex(24), NotifyURL: cfg.DevNotifyURL, Development: true}
		pc.apps = []App{dev}
		cfg.Logger.WarnContext(ctx, "paycenter: no apps configured; generated a development app (sandbox mode) that is not stored: "+
			"table "+pc.tables.Settings+" does not exist yet (SkipMigrate), so its key and secret change on the next start",
			devAppLog(cfg, dev)...)
		return nil
	}
	dev, created, err := devApp(ctx, pc.db, pc.tables, cfg.Now(), cfg.DevNotifyURL)
	if err != nil {
		return err
	}
	pc.apps = []App{dev}
	what := "using the development app stored in " + pc.tables.Settings
	if created {
		what = "generated a development app and stored it in " + pc.tables.Settings
	}
	cfg.Logger.InfoContext(ctx, "paycenter: no apps configured; "+what+" (sandbox mode)", devAppLog(cfg, dev)...)
	return nil
}

// devAppLog is what a log line says of the development app: its key, and
// its secret unless real channels are configured beside the sandbox (it
// would sign real refunds; PayCenter.Apps has it).
func devAppLog(cfg Config, dev App) []any {
	if cfg.realChannels() {
		return []any{"appId", dev.ID, "key", dev.Key, "secret", "(not logged beside real channels; see PayCenter.Apps)"}
	}
	return []any{"appId", dev.ID, "key", dev.Key, "secret", dev.Secret}
}
