package testdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// Counter counts what the database driver is asked to do: every statement
// (queries, execs, prepared-statement runs) and every transaction begun.
// Benchmarks read it to report statements per operation.
type Counter struct {
	statements atomic.Int64
	begins     atomic.Int64
}

// Statements is the number of statements run so far (BEGIN and COMMIT not
// included; see Begins).
func (c *Counter) Statements() int64 { return c.statements.Load() }

// Begins is the number of transactions begun so far.
func (c *Counter) Begins() int64 { return c.begins.Load() }

// Counted reopens db (a database from Open) on a connection pool that
// counts at the driver, with the same DSN, pool size and dialect.
func Counted(t testing.TB, db *gorm.DB) (*gorm.DB, *Counter) {
	t.Helper()
	inner, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	c := &Counter{}
	pool := sql.OpenDB(&countingConnector{driver: inner.Driver(), dsn: dsnOf(db), c: c})
	pool.SetMaxOpenConns(inner.Stats().MaxOpenConnections)
	t.Cleanup(func() { pool.Close() })
	var d gorm.Dialector
	switch db.Dialector.Name() {
	case "sqlite":
		d = &sqlite.Dialector{Conn: pool}
	case "postgres":
		d = postgres.New(postgres.Config{Conn: pool})
	case "mysql":
		d = mysql.New(mysql.Config{Conn: pool, SkipInitializeWithVersion: false})
	default:
		t.Fatalf("testdb: cannot count %s", db.Dialector.Name())
	}
	counted, err := gorm.Open(d, db.Config)
	if err != nil {
		t.Fatal(err)
	}
	return counted, c
}

// dsnOf is the DSN db was opened with.
func dsnOf(db *gorm.DB) string {
	switch d := db.Dialector.(type) {
	case *sqlite.Dialector:
		return d.DSN
	case *postgres.Dialector:
		return d.DSN
	case *mysql.Dialector:
		return d.DSN
	}
	return ""
}

// countingConnector opens connections of driver that count into c.
type countingConnector struct {
	driver driver.Driver
	dsn    string
	c      *Counter
}

func (k *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	var err error
	if dc, ok := k.driver.(driver.DriverContext); ok {
		var cn driver.Connector
		if cn, err = dc.OpenConnector(k.dsn); err == nil {
			conn, err = cn.Connect(ctx)
		}
	} else {
		conn, err = k.driver.Open(k.dsn)
	}
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: k.c}, nil
}

func (k *countingConnector) Driver() driver.Driver { return k.driver }

// countingConn counts the statements and transactions of one connection.
// It implements the context interfaces database/sql prefers and forwards
// them to the driver's connection, which all three drivers implement.
type countingConn struct {
	driver.Conn
	c *Counter
}

var (
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
)

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.c.statements.Add(1)
	return e.ExecContext(ctx, q, args)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.c.statements.Add(1)
	return qc.QueryContext(ctx, q, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, q)
	} else {
		st, err = c.Conn.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, c: c.c}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.c.begins.Add(1)
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	//lint:ignore SA1019 the fallback for drivers without BeginTx
	return c.Conn.Begin()
}

func (c *countingConn) CheckNamedValue(v *driver.NamedValue) error {
	if nc, ok := c.Conn.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// countingStmt counts each run of a prepared statement.
type countingStmt struct {
	driver.Stmt
	c *Counter
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.statements.Add(1)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, driver.ErrSkip
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.statements.Add(1)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, driver.ErrSkip
}

func (s *countingStmt) CheckNamedValue(v *driver.NamedValue) error {
	if nc, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(v)
	}
	return driver.ErrSkip
}
