// Package schemacheck compares a migrated database with the GORM models,
// for tests: a model field whose migration was forgotten fails them.
package schemacheck

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/gopaycenter/paycenter/models"
)

// Table is one pay center table and its model.
type Table struct {
	Name  string
	Model any
}

// Tables pairs the tables of t with their models.
func Tables(t models.Tables) []Table {
	return []Table{
		{t.Charges, &models.Charge{}},
		{t.Refunds, &models.Refund{}},
		{t.Nonces, &models.Nonce{}},
		{t.Notifications, &models.Notification{}},
		{t.Deliveries, &models.Delivery{}},
		{t.Discrepancies, &models.Discrepancy{}},
		{t.Settings, &models.Setting{}},
		{t.Reconciliations, &models.Reconciliation{}},
		{t.BillRows, &models.StagedBillRow{}},
	}
}

// Check returns nil if db has every table of t with a column for every
// model field and every index the models declare (same name, columns and
// uniqueness); otherwise an error naming each difference.
func Check(db *gorm.DB, t models.Tables) error {
	var problems []string
	for _, tb := range Tables(t) {
		problems = append(problems, checkTable(db, tb)...)
	}
	if len(problems) > 0 {
		return errors.New("schema differs from the models:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

func checkTable(db *gorm.DB, tb Table) []string {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.ParseWithSpecialTableName(tb.Model, tb.Name); err != nil {
		return []string{fmt.Sprintf("%s: parse model: %v", tb.Name, err)}
	}
	m := db.Table(tb.Name).Migrator()
	if !m.HasTable(tb.Name) {
		return []string{fmt.Sprintf("%s: table missing", tb.Name)}
	}
	var problems []string
	for _, f := range stmt.Schema.Fields {
		if f.DBName != "" && !m.HasColumn(tb.Model, f.DBName) {
			problems = append(problems, fmt.Sprintf("%s: column %s (field %s) missing", tb.Name, f.DBName, f.Name))
		}
	}
	have, err := m.GetIndexes(tb.Model)
	if err != nil {
		return append(problems, fmt.Sprintf("%s: read indexes: %v", tb.Name, err))
	}
	for _, want := range stmt.Schema.ParseIndexes() {
		problems = append(problems, checkIndex(db, tb.Name, want, have)...)
	}
	return problems
}

// indexColumns returns the columns of index ix in the index's order. GORM's
// PostgreSQL migrator lists them in the table's column order instead, so
// there they are read from the catalog.
func indexColumns(db *gorm.DB, ix gorm.Index) []string {
	if db.Dialector.Name() != "postgres" {
		return ix.Columns()
	}
	var cols []string
	err := db.Raw(`SELECT a.attname FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE c.relname = ? AND c.relnamespace = to_regnamespace(current_schema())
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, ix.Name()).Scan(&cols).Error
	if err != nil {
		return ix.Columns()
	}
	return cols
}

func checkIndex(db *gorm.DB, table string, want *schema.Index, have []gorm.Index) []string {
	var cols []string
	for _, f := range want.Fields {
		cols = append(cols, f.DBName)
	}
	i := slices.IndexFunc(have, func(ix gorm.Index) bool { return ix.Name() == want.Name })
	if i < 0 {
		return []string{fmt.Sprintf("%s: index %s (%s) missing", table, want.Name, strings.Join(cols, ", "))}
	}
	var problems []string
	if got := indexColumns(db, have[i]); !slices.Equal(got, cols) {
		problems = append(problems, fmt.Sprintf("%s: index %s on (%s), want (%s)", table, want.Name,
			strings.Join(got, ", "), strings.Join(cols, ", ")))
	}
	if unique, _ := have[i].Unique(); unique != (want.Class == "UNIQUE") {
		problems = append(problems, fmt.Sprintf("%s: index %s unique=%t, want %t", table, want.Name, unique, !unique))
	}
	return problems
}
