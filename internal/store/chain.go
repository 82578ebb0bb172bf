package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Chained reports whether the database runs an update and the inserts that
// depend on it as one statement (Chain): PostgreSQL's data-modifying WITH.
func (d *DB) Chained() bool { return d.Dialect == "postgres" }

// Update is the conditional update that a Chain hangs on: of row ID of
// Table, if it also matches Where (e.g. "status = ?") with Args.
type Update struct {
	Table string
	ID    int64
	Where string
	Args  []any
	Set   map[string]any
}

// Insert is a row a Chain inserts: Row points to a model (its primary key
// is set once inserted), into Table.
type Insert struct {
	Table string
	Row   any
}

// errNotChained: Chain on a database without data-modifying WITH.
var errNotChained = errors.New("store: Chain needs PostgreSQL")

// Chain runs u and, only if it changed a row, the inserts, as one
// statement in autocommit mode: one round trip and one commit where a
// transaction would take BEGIN, a statement each and COMMIT. It reports
// whether u changed a row (if not, nothing was written). Concurrent Chains
// on one row serialise on its lock, and each re-checks u's condition
// against the row as the other left it (PostgreSQL's READ COMMITTED
// update): of two that start from the same status, one applies.
//
// The statement is
//
//	WITH u AS (UPDATE ... WHERE ... RETURNING 1),
//	     i0 AS (INSERT INTO t0 (...) SELECT $.. WHERE EXISTS (SELECT 1 FROM u) RETURNING id),
//	     ...
//	SELECT (SELECT count(*) FROM u), (SELECT id FROM i0), ...
//
// with the inserts' parameters typed by their target columns.
func (d *DB) Chain(ctx context.Context, u Update, rows ...Insert) (bool, error) {
	if !d.Chained() {
		return false, errNotChained
	}
	dry := d.W.Session(&gorm.Session{DryRun: true, NewDB: true})
	upd := dry.Table(u.Table).Clauses(clause.Returning{Columns: []clause.Column{{Raw: true, Name: "1"}}}).Where("id = ?", u.ID)
	if u.Where != "" {
		upd = upd.Where(u.Where, u.Args...)
	}
	if upd = upd.Updates(u.Set); upd.Error != nil {
		return false, upd.Error
	}
	var q strings.Builder
	q.WriteString("WITH u AS (?)")
	args := []any{upd}
	keys := make([]func(id int64) error, len(rows))
	returning := make([]string, len(rows))
	for i, r := range rows {
		ins := dry.Table(r.Table).Create(r.Row)
		if ins.Error != nil {
			return false, ins.Error
		}
		st := ins.Statement
		vals, ok := st.Clauses["VALUES"].Expression.(clause.Values)
		if !ok || len(vals.Values) != 1 || st.Schema.PrioritizedPrimaryField == nil {
			return false, errors.New("store: Chain inserts one row of a model with a primary key")
		}
		pk, rv := st.Schema.PrioritizedPrimaryField, st.ReflectValue
		returning[i] = st.Quote(pk.DBName)
		q.WriteString(", i" + strconv.Itoa(i) + " AS (INSERT INTO " + st.Quote(r.Table) + " (")
		for j, c := range vals.Columns {
			if j > 0 {
				q.WriteString(",")
			}
			q.WriteString(st.Quote(c.Name))
		}
		q.WriteString(") SELECT " + strings.TrimSuffix(strings.Repeat("?,", len(vals.Columns)), ",") +
			" WHERE EXISTS (SELECT 1 FROM u) RETURNING " + returning[i] + ")")
		args = append(args, vals.Values[0]...)
		keys[i] = func(id int64) error { return pk.Set(ctx, rv, id) }
	}
	q.WriteString(" SELECT (SELECT count(*) FROM u)")
	for i := range rows {
		q.WriteString(", (SELECT " + returning[i] + " FROM i" + strconv.Itoa(i) + ")")
	}
	var n int64
	ids := make([]sql.NullInt64, len(rows))
	out := []any{&n}
	for i := range ids {
		out = append(out, &ids[i])
	}
	err := Retrying(ctx, func() error { return d.W.WithContext(ctx).Raw(q.String(), args...).Row().Scan(out...) })
	if err != nil || n == 0 {
		return false, err
	}
	for i, id := range ids {
		if err := keys[i](id.Int64); err != nil {
			return true, err
		}
	}
	return true, nil
}
