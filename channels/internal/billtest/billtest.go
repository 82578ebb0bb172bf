// Package billtest holds what the bill tests of the channel adapters share:
// where the bill files go, reading a bill through, comparing its rows with a
// list, and the million-row benchmark. What each channel's bill holds (the
// rows, the summary's figures, the faults) stays in its own tests.
package billtest

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gopaycenter/paycenter/channels"
)

// TempDir points os.TempDir at a fresh directory for the rest of the test
// and returns it, so that the test can see the bill files left behind.
func TempDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	tb.Setenv("TMPDIR", dir)
	return dir
}

// Files lists the bill files (channels.SpoolBill's) in dir.
func Files(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "paycenter-bill-*"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// AssertNoFiles fails the test when dir holds a bill file.
func AssertNoFiles(tb testing.TB, dir string) {
	tb.Helper()
	if left := Files(tb, dir); len(left) != 0 {
		tb.Fatalf("bill files left behind: %v", left)
	}
}

// ReadAll reads r to its end.
func ReadAll(tb testing.TB, r channels.BillReader) []channels.BillRow {
	tb.Helper()
	var rows []channels.BillRow
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			tb.Fatalf("Next after %d rows: %v", len(rows), err)
		}
		rows = append(rows, *row)
	}
}

// Parse spools raw as a downloaded bill, opens it with channels.OpenBill
// and scan, and reads it through: the rows and summary of a bill accepted,
// or OpenBill's error. Either way no bill file is left behind.
func Parse(t *testing.T, raw io.Reader, scan func(*channels.BillFile) (channels.BillReader, error)) ([]channels.BillRow, *channels.BillSummary, error) {
	t.Helper()
	dir := TempDir(t)
	file, err := channels.SpoolBill(raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := channels.OpenBill(file, scan)
	if err != nil {
		AssertNoFiles(t, dir)
		return nil, nil, err
	}
	rows, summary := ReadAll(t, r), r.Summary()
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	AssertNoFiles(t, dir)
	return rows, summary, nil
}

// AssertRows compares the rows read with want, row by row: row i on line
// firstLine+i of the bill, its time in Beijing time and the same instant as
// want's, and every other field equal.
func AssertRows(t *testing.T, rows, want []channels.BillRow, firstLine int) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i := range want {
		got := rows[i]
		if got.Line != firstLine+i {
			t.Errorf("row %d: line %d, want %d", i, got.Line, firstLine+i)
		}
		if _, off := got.Time.Zone(); off != 8*3600 {
			t.Errorf("row %d: time %v is not in Beijing time", i, got.Time)
		}
		if !got.Time.Equal(want[i].Time) {
			t.Errorf("row %d: time %v, want %v", i, got.Time, want[i].Time)
		}
		got.Line, got.Time = want[i].Line, want[i].Time
		if got != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
}

// Tally counts and sums rows.
func Tally(rows []channels.BillRow) channels.BillTally {
	var t channels.BillTally
	for i := range rows {
		t.Add(&rows[i])
	}
	return t
}

// Benchmark downloads (with download) and reads a generated bill of rows
// rows, checking a payment and a refund of every 100,000 against want (the
// kind, out_trade_no and amount of row i), and reports rows per second
// (download, check and read together) and the peak heap in use while
// reading, which must not grow with the bill.
func Benchmark(b *testing.B, rows int, download func() (channels.BillReader, error),
	want func(i int) (kind channels.BillRowKind, outTradeNo string, fen int64)) {
	b.Helper()
	runtime.GC()
	var peak uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
	}
	for b.Loop() { // the first call resets the timer
		r, err := download()
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			row, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if m := n % 100_000; m == 0 || m == 9 { // a payment and a refund
				kind, no, fen := want(n)
				if row.Kind != kind || row.OutTradeNo != no || row.Amount != fen {
					b.Fatalf("row %d = %+v, want %s %s %d", n, row, kind, no, fen)
				}
			}
			if n++; n%20_000 == 0 {
				sample()
			}
		}
		if n != rows {
			b.Fatalf("read %d rows, want %d", n, rows)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
