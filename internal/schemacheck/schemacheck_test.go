package schemacheck

import (
	"reflect"
	"testing"

	"github.com/gopaycenter/paycenter/models"
)

// TestTablesCoverModels: every table models.Tables names is paired with a
// model, so Check cannot skip a table added later.
func TestTablesCoverModels(t *testing.T) {
	names := models.NewTables("x_")
	v := reflect.ValueOf(names)
	paired := map[string]bool{}
	for _, tb := range Tables(names) {
		paired[tb.Name] = true
	}
	for i := range v.NumField() {
		if name := v.Field(i).String(); !paired[name] {
			t.Errorf("models.Tables.%s (%s) has no model in Tables", v.Type().Field(i).Name, name)
		}
	}
	if len(paired) != v.NumField() {
		t.Errorf("Tables pairs %d tables, models.Tables names %d", len(paired), v.NumField())
	}
}
