package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// openSQLite opens a fresh SQLite file as the pay center opens its own
// (one writer connection), with table a.
func openSQLite(t *testing.T) (*DB, *gorm.DB) {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(SQLiteDSN(filepath.Join(t.TempDir(), "t.db"))), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { sqlDB.Close() })
	if err := db.Exec("CREATE TABLE a (x INTEGER)").Error; err != nil {
		t.Fatal(err)
	}
	d := Open(db, nil)
	t.Cleanup(d.Close)
	return d, db
}

func rows(t *testing.T, db *gorm.DB) []int {
	t.Helper()
	var xs []int
	if err := db.Raw("SELECT x FROM a ORDER BY x").Scan(&xs).Error; err != nil {
		t.Fatal(err)
	}
	return xs
}

// TestWriteCancelledMidway: a caller whose context ends between two
// statements of its write (a client gone) gets all of its write or none,
// and is told which — never its first statement committed under an error.
func TestWriteCancelledMidway(t *testing.T) {
	d, db := openSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	err := d.Write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("INSERT INTO a VALUES (1)").Error; err != nil {
			return err
		}
		cancel()
		return tx.Exec("INSERT INTO a VALUES (2)").Error
	}, nil)
	got := rows(t, db)
	switch {
	case err == nil && len(got) == 2:
	case err != nil && len(got) == 0:
	default:
		t.Fatalf("Write returned %v with rows %v committed", err, got)
	}
}

// TestGroupRolledBackUnderIt: when the database rolls the group's
// transaction back under one caller's work (SQLite does on an interrupt or
// an I/O error; here the work does it), no other caller's work is
// committed outside the group, nor twice: each is run again alone, once.
func TestGroupRolledBackUnderIt(t *testing.T) {
	d, db := openSQLite(t)
	insert := func(x int) func(tx *gorm.DB) error {
		return func(tx *gorm.DB) error { return tx.Exec("INSERT INTO a VALUES (?)", x).Error }
	}
	broke := errors.New("rolled back under it")
	group := []*groupReq{
		{fn: insert(1)},
		{fn: func(tx *gorm.DB) error {
			tx.Exec("ROLLBACK")
			return broke
		}},
		{fn: insert(3)},
	}
	for _, r := range group {
		r.ctx, r.done = context.Background(), make(chan struct{})
	}
	d.group.commit(group)
	if group[0].err != nil || group[2].err != nil || !errors.Is(group[1].err, broke) {
		t.Errorf("errors %v, %v, %v; want nil, %v, nil", group[0].err, group[1].err, group[2].err, broke)
	}
	if got := rows(t, db); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("rows %v, want [1 3]: each other caller's work once", got)
	}
}
