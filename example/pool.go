package main

import (
	"database/sql"
	"fmt"
	"time"
)

// pool is the connection pool of the example's database handle.
//
// The defaults suit several instances on one database server: with
// PostgreSQL's default max_connections of 100 (3 of them reserved for
// superusers), six instances at 10 connections each leave a third of the
// server to migrations, psql and other programs, and the idle ones are
// closed after 5 minutes, so a fleet that served a burst gives the
// connections back instead of holding 2 × 32 idle each as before. SQLite
// keeps its one connection: one writer at a time, and no server to spare.
type pool struct {
	MaxOpen     int           // database.maxOpenConns
	MaxIdle     int           // database.maxIdleConns
	MaxIdleTime time.Duration // database.connMaxIdleTime; 0: kept until closed
	MaxLifetime time.Duration // database.connMaxLifetime; 0: no limit
}

// Defaults of the pool per driver (database.driver).
var (
	sqlitePool = pool{MaxOpen: 1, MaxIdle: 1}
	serverPool = pool{MaxOpen: 10, MaxIdle: 5, MaxIdleTime: 5 * time.Minute, MaxLifetime: 30 * time.Minute}
)

// pool returns the pool the configuration asks for: each setting given (not
// 0) replaces the driver's default. More idle connections than open ones is
// an error (database/sql would silently lower it).
func (c dbConfig) pool() (pool, error) {
	p := serverPool
	if c.Driver == "" || c.Driver == "sqlite" {
		p = sqlitePool
	}
	defOpen := p.MaxOpen
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&p.MaxOpen, c.MaxOpenConns)
	set(&p.MaxIdle, c.MaxIdleConns)
	if c.ConnMaxIdleTime > 0 {
		p.MaxIdleTime = c.ConnMaxIdleTime
	}
	if c.ConnMaxLifetime > 0 {
		p.MaxLifetime = c.ConnMaxLifetime
	}
	if c.MaxOpenConns > 0 && c.MaxIdleConns == 0 {
		p.MaxIdle = min(p.MaxIdle, p.MaxOpen) // a smaller pool keeps fewer idle
	}
	if p.MaxIdle > p.MaxOpen {
		open := fmt.Sprintf("%d", p.MaxOpen)
		if c.MaxOpenConns == 0 {
			open = fmt.Sprintf("%d, the default", defOpen)
		}
		return p, fmt.Errorf("database.maxIdleConns (%d) must not exceed database.maxOpenConns (%s)", p.MaxIdle, open)
	}
	return p, nil
}

// apply sets the pool of db.
func (p pool) apply(db *sql.DB) {
	db.SetMaxOpenConns(p.MaxOpen)
	db.SetMaxIdleConns(p.MaxIdle)
	db.SetConnMaxIdleTime(p.MaxIdleTime)
	db.SetConnMaxLifetime(p.MaxLifetime)
}
