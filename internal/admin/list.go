package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gopaycenter/paycenter/channels"
)

// Lists: limit and cursor.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// filter is a query parameter a list takes: a condition on a column.
type filter struct {
	param string
	cond  string                    // e.g. "status = ?", "created_at >= ?"
	parse func(string) (any, error) // the value for the condition, or why not
}

// eq filters column = value, value checked by parse.
func eq(param, column string, parse func(string) (any, error)) filter {
	return filter{param, column + " = ?", parse}
}

// page reads one page of table, newest first: the filters of the query,
// limit and cursor (an id: rows below it). It returns the items and the
// cursor of the next page ("" on the last).
func page[T any](h *handler, r *http.Request, table string, filters []filter, id func(*T) int64) ([]T, string, error) {
	q := r.URL.Query()
	known := []string{"limit", "cursor"}
	db := h.db.WithContext(r.Context()).Table(table)
	for _, f := range filters {
		known = append(known, f.param)
		v := q.Get(f.param)
		if v == "" {
			continue
		}
		val, err := f.parse(v)
		if err != nil {
			return nil, "", badRequest("%s %q: %v", f.param, v, err)
		}
		db = db.Where(f.cond, val)
	}
	for k, vs := range q {
		if !slices.Contains(known, k) {
			return nil, "", badRequest("unknown parameter %s; this list takes %s", k, strings.Join(known, ", "))
		}
		if len(vs) > 1 {
			return nil, "", badRequest("%s is given %d times; give it once", k, len(vs))
		}
	}
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return nil, "", badRequest("limit %q must be a whole number from 1 to %d", v, maxLimit)
		}
		limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := strconv.ParseInt(v, 10, 64)
		if err != nil || c <= 0 {
			return nil, "", badRequest("cursor %q is not a cursor this API returned (nextCursor)", v)
		}
		db = db.Where("id < ?", c)
	}
	var items []T
	if err := db.Order("id DESC").Limit(limit + 1).Find(&items).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = strconv.FormatInt(id(&items[limit-1]), 10)
	}
	return items, next, nil
}

// listed writes a page.
func listed(w http.ResponseWriter, items any, next string) {
	body := map[string]any{"items": items}
	if next != "" {
		body["nextCursor"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// Value parsers.

// text accepts printable text of at most n bytes.
func text(n int) func(string) (any, error) {
	return func(s string) (any, error) {
		if len(s) > n || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("must be text of at most %d bytes", n)
		}
		return s, nil
	}
}

// oneOf accepts the listed values.
func oneOf[S ~string](values ...S) func(string) (any, error) {
	return func(s string) (any, error) {
		for _, v := range values {
			if string(v) == s {
				return s, nil
			}
		}
		names := make([]string, len(values))
		for i, v := range values {
			names[i] = string(v)
		}
		return nil, fmt.Errorf("must be one of %s", strings.Join(names, ", "))
	}
}

// boolean accepts true or false.
func boolean(s string) (any, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return nil, errors.New("must be true or false")
}

// positive accepts a positive integer.
func positive(s string) (any, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return nil, errors.New("must be a positive integer")
	}
	return n, nil
}

// instant accepts an RFC 3339 time, or a day YYYY-MM-DD (its start,
// Beijing time).
func instant(s string) (any, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := channels.ParseDay(s); err == nil {
		return d.Start().UTC(), nil
	}
	return nil, errors.New("must be an RFC 3339 time (2026-11-30T08:00:00Z) or a day (2026-11-30, Beijing time)")
}

// day accepts a day YYYY-MM-DD.
func day(s string) (any, error) {
	d, err := channels.ParseDay(s)
	if err != nil {
		return nil, errors.New("must be a day written YYYY-MM-DD")
	}
	return d.String(), nil
}

// createdRange filters created_at by from (inclusive) and to (exclusive).
func createdRange() []filter {
	return []filter{{"from", "created_at >= ?", instant}, {"to", "created_at < ?", instant}}
}
