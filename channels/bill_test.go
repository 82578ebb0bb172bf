package channels_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/internal/billtest"
)

func TestDay(t *testing.T) {
	d, err := channels.ParseDay("2026-03-14")
	if err != nil || d.String() != "2026-03-14" {
		t.Fatalf("ParseDay = %v, %v", d, err)
	}
	if y, m, dd := d.Date(); y != 2026 || m != time.March || dd != 14 {
		t.Errorf("Date = %d %v %d", y, m, dd)
	}
	if got := channels.NewDay(2026, time.February, 29); got != channels.NewDay(2026, time.March, 1) || got.String() != "2026-03-01" {
		t.Errorf("NewDay(2026-02-29) = %v, want 2026-03-01", got)
	}
	// Beijing midnight is 16:00 UTC the day before.
	if got := channels.DayOf(time.Date(2026, 3, 13, 16, 0, 0, 0, time.UTC)); got != d {
		t.Errorf("DayOf(16:00Z) = %v, want %v", got, d)
	}
	if got := channels.DayOf(time.Date(2026, 3, 13, 15, 59, 59, 0, time.UTC)); got != d.AddDays(-1) {
		t.Errorf("DayOf(15:59:59Z) = %v, want %v", got, d.AddDays(-1))
	}
	if !d.Start().Equal(time.Date(2026, 3, 13, 16, 0, 0, 0, time.UTC)) || !d.End().Equal(d.AddDays(1).Start()) {
		t.Errorf("Start, End = %v, %v", d.Start(), d.End())
	}
	if !d.Contains(d.Start()) || !d.Contains(d.End().Add(-time.Nanosecond)) || d.Contains(d.End()) || d.Contains(d.Start().Add(-time.Nanosecond)) {
		t.Error("Contains is not [Start, End)")
	}
	if got := channels.NewDay(2026, 12, 31).AddDays(1); got.String() != "2027-01-01" {
		t.Errorf("AddDays over a year end = %v", got)
	}
	if !d.Before(d.AddDays(1)) || d.Before(d) || d.AddDays(1).Before(d) {
		t.Error("Before is wrong")
	}
	for _, bad := range []string{"", "2026-3-14", "2026-02-30", "14/03/2026", "2026-03-14T00:00:00Z"} {
		if _, err := channels.ParseDay(bad); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
			t.Errorf("ParseDay(%q) err = %v, want a YYYY-MM-DD error", bad, err)
		}
	}
	var zero channels.Day
	if !zero.IsZero() || zero.String() != "" || d.IsZero() {
		t.Error("IsZero/String of the zero Day")
	}

	b, err := json.Marshal(struct{ Day channels.Day }{d})
	if err != nil || string(b) != `{"Day":"2026-03-14"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back struct{ Day channels.Day }
	if err := json.Unmarshal(b, &back); err != nil || back.Day != d {
		t.Fatalf("Unmarshal = %v, %v", back.Day, err)
	}
	if err := json.Unmarshal([]byte(`{"Day":"2026-13-01"}`), &back); err == nil {
		t.Error("Unmarshal accepted month 13")
	}
}

func TestBillSummaryCheck(t *testing.T) {
	fig := func(v int64) channels.Figure { return channels.Figure{Value: v, Stated: true} }
	s := channels.NewBillSummary(channels.BillSummary{
		Payments: fig(2), Refunds: fig(1), PaymentAmount: fig(300), RefundAmount: fig(50),
	})
	if s.Rows != fig(3) || s.NetAmount != fig(250) {
		t.Fatalf("NewBillSummary derived Rows %+v, NetAmount %+v", s.Rows, s.NetAmount)
	}
	var tally channels.BillTally
	for _, r := range []channels.BillRow{
		{Kind: channels.BillPayment, Amount: 100}, {Kind: channels.BillPayment, Amount: 200}, {Kind: channels.BillRefund, Amount: 50},
	} {
		tally.Add(&r)
	}
	if err := s.Check(tally); err != nil {
		t.Fatalf("Check: %v", err)
	}
	off := tally
	off.RefundAmount = 49
	if err := s.Check(off); err == nil || !strings.Contains(err.Error(), "refund amount (fen) 50") {
		t.Errorf("Check(a fen short) = %v", err)
	}

	// Figures a bill does not state are not compared.
	partial := channels.NewBillSummary(channels.BillSummary{Rows: fig(3), NetAmount: fig(250)})
	if partial.Payments.Stated || partial.PaymentAmount.Stated {
		t.Fatalf("NewBillSummary invented figures: %+v", *partial)
	}
	off = tally
	off.Payments, off.Refunds = 1, 2 // same rows and net, other split
	if err := partial.Check(off); err != nil {
		t.Errorf("Check compared figures the bill does not state: %v", err)
	}
	off.PaymentAmount++
	if err := partial.Check(off); err == nil || !strings.Contains(err.Error(), "net amount") {
		t.Errorf("Check(net off by one) = %v", err)
	}
}

// script is a bill reader that returns its rows, then err (io.EOF when
// nil), and summary.
type script struct {
	rows    []channels.BillRow
	err     error
	summary *channels.BillSummary
	closed  *int
}

func (s *script) Next() (*channels.BillRow, error) {
	if len(s.rows) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	r := s.rows[0]
	s.rows = s.rows[1:]
	return &r, nil
}

func (s *script) Summary() *channels.BillSummary { return s.summary }
func (s *script) Close() error                   { *s.closed++; return nil }

func spool(t *testing.T, text string) (*channels.BillFile, string) {
	t.Helper()
	dir := billtest.TempDir(t)
	h := sha1.New()
	f, err := channels.SpoolBill(strings.NewReader(text), h)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(text))
	if f.Size() != int64(len(text)) || hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(sum[:]) {
		t.Fatalf("SpoolBill: size %d, hash %x", f.Size(), h.Sum(nil))
	}
	b, err := io.ReadAll(f.Section())
	if err != nil || string(b) != text {
		t.Fatalf("Section = %q, %v", b, err)
	}
	return f, dir
}

func TestOpenBill(t *testing.T) {
	rows := []channels.BillRow{{Kind: channels.BillPayment, OutTradeNo: "A", Amount: 1}, {Kind: channels.BillRefund, OutTradeNo: "A", Amount: 1}}
	summary := channels.NewBillSummary(channels.BillSummary{Rows: channels.Figure{Value: 2, Stated: true}})

	t.Run("accepted", func(t *testing.T) {
		file, dir := spool(t, "bill")
		closed, scans := 0, 0
		r, err := channels.OpenBill(file, func(f *channels.BillFile) (channels.BillReader, error) {
			scans++
			return &script{rows: rows, summary: summary, closed: &closed}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if scans != 2 || closed != 1 || r.Summary() != summary {
			t.Fatalf("scans %d, closed %d, summary %p; want a checking pass then a replay", scans, closed, r.Summary())
		}
		for i := range rows {
			got, err := r.Next()
			if err != nil || *got != rows[i] {
				t.Fatalf("row %d = %+v, %v", i, got, err)
			}
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("after the rows: %v, want io.EOF", err)
		}
		if len(billtest.Files(t, dir)) != 1 {
			t.Fatal("the bill file is gone before Close")
		}
		if err := r.Close(); err != nil || closed != 2 || len(billtest.Files(t, dir)) != 0 {
			t.Fatalf("Close = %v, closed %d, files %v", err, closed, billtest.Files(t, dir))
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	for name, s := range map[string]script{
		"a bad row":  {rows: rows[:1], err: channels.ErrBillInvalid},
		"no summary": {rows: rows},
	} {
		t.Run(name, func(t *testing.T) {
			file, dir := spool(t, "bill")
			closed, scans := 0, 0
			r, err := channels.OpenBill(file, func(f *channels.BillFile) (channels.BillReader, error) {
				scans++
				cp := s
				cp.closed = &closed
				return &cp, nil
			})
			if !errors.Is(err, channels.ErrBillInvalid) || r != nil {
				t.Fatalf("OpenBill = %v, %v; want ErrBillInvalid", r, err)
			}
			if scans != 1 || closed != 1 || len(billtest.Files(t, dir)) != 0 {
				t.Fatalf("scans %d, closed %d, files %v", scans, closed, billtest.Files(t, dir))
			}
		})
	}
}

func TestSpoolBillClose(t *testing.T) {
	f, dir := spool(t, "")
	if f.Size() != 0 || len(billtest.Files(t, dir)) != 1 {
		t.Fatalf("empty bill: size %d, files %v", f.Size(), billtest.Files(t, dir))
	}
	if err := f.Close(); err != nil || len(billtest.Files(t, dir)) != 0 {
		t.Fatalf("Close = %v, files %v", err, billtest.Files(t, dir))
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}

	// A download that breaks off leaves nothing behind.
	broken := io.MultiReader(strings.NewReader("half a bill"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if f, err := channels.SpoolBill(broken); !errors.Is(err, io.ErrUnexpectedEOF) || f != nil {
		t.Fatalf("SpoolBill(broken) = %v, %v", f, err)
	}
	if len(billtest.Files(t, dir)) != 0 {
		t.Fatalf("files left: %v", billtest.Files(t, dir))
	}
}

func TestBillColumns(t *testing.T) {
	cols, err := channels.BillColumns([]string{" a", "b ", "c"}, "a", "c")
	if err != nil || len(cols) != 3 || cols["a"] != 0 || cols["b"] != 1 || cols["c"] != 2 {
		t.Fatalf("BillColumns = %v, %v", cols, err)
	}
	if _, err := channels.BillColumns([]string{"a", "b", "a "}); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Errorf("a repeated name: err = %v", err)
	}
	if _, err := channels.BillColumns([]string{"a", "b"}, "a", "金额"); err == nil || !strings.Contains(err.Error(), "no column 金额") {
		t.Errorf("a missing column: err = %v", err)
	}
}

func TestBillLines(t *testing.T) {
	sc := channels.BillLines(strings.NewReader("a,b\r\n\r\nc\nd"))
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if err := sc.Err(); err != nil || strings.Join(got, "|") != "a,b||c|d" {
		t.Fatalf("lines = %q, %v", got, err)
	}
	sc = channels.BillLines(strings.NewReader("ok\n" + strings.Repeat("x", channels.MaxBillLine+1) + "\n"))
	if !sc.Scan() || sc.Text() != "ok" || sc.Scan() || !errors.Is(sc.Err(), bufio.ErrTooLong) {
		t.Fatalf("a line over MaxBillLine: err = %v, want bufio.ErrTooLong", sc.Err())
	}
}

func TestBillHTTPClient(t *testing.T) {
	for _, c := range []struct{ api, want time.Duration }{
		{5 * time.Second, channels.BillTimeout},
		{0, 0}, // no timeout stays none: the context bounds the download
		{time.Hour, time.Hour},
	} {
		api := &http.Client{Timeout: c.api}
		got := channels.BillHTTPClient(api)
		if got.Timeout != c.want || got == api || api.Timeout != c.api {
			t.Errorf("BillHTTPClient(timeout %v): timeout %v (want %v), the API client's now %v", c.api, got.Timeout, c.want, api.Timeout)
		}
	}
}
