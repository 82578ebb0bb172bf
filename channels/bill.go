package channels

// The daily bill: an optional capability of an adapter, and the few helpers
// every adapter's bill reader shares (the Beijing day, the download's HTTP
// client, the temporary file a bill is downloaded to, its lines and header,
// the validating first pass).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Beijing is the zone of the channels' times (Alipay's timestamps, WeChat
// Pay's time_expire, the bills and every time in them): UTC+8 all year. A
// fixed zone needs no tzdata.
var Beijing = time.FixedZone("CST", 8*3600)

// Day is a calendar day in Beijing time, the unit of a channel's bill. Days
// compare with ==; the zero Day is no day at all.
type Day struct {
	year  int
	month time.Month
	day   int
}

// NewDay returns the day year-month-day, normalised as time.Date does
// (March 32 is April 1).
func NewDay(year int, month time.Month, day int) Day {
	return DayOf(time.Date(year, month, day, 12, 0, 0, 0, Beijing))
}

// DayOf returns the Beijing calendar day of t.
func DayOf(t time.Time) Day {
	y, m, d := t.In(Beijing).Date()
	return Day{y, m, d}
}

// ParseDay parses a day written YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, Beijing)
	if err != nil {
		return Day{}, fmt.Errorf("channels: day %q must be a date written YYYY-MM-DD", s)
	}
	return DayOf(t), nil
}

// IsZero reports whether d is the zero Day.
func (d Day) IsZero() bool { return d == Day{} }

// Date returns the year, month and day of d.
func (d Day) Date() (year int, month time.Month, day int) { return d.year, d.month, d.day }

// Start is the first instant of d: 00:00:00 Beijing time.
func (d Day) Start() time.Time { return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, Beijing) }

// End is the first instant after d: 00:00:00 Beijing time of the next day.
func (d Day) End() time.Time { return d.Start().AddDate(0, 0, 1) }

// Contains reports whether t falls on d, in Beijing time.
func (d Day) Contains(t time.Time) bool { return DayOf(t) == d }

// AddDays returns the day n days after d (before it when n is negative).
func (d Day) AddDays(n int) Day { return DayOf(d.Start().AddDate(0, 0, n)) }

// Before reports whether d is earlier than o.
func (d Day) Before(o Day) bool { return d.Start().Before(o.Start()) }

// String formats d as YYYY-MM-DD ("" for the zero Day).
func (d Day) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.year, d.month, d.day)
}

// MarshalText writes d as YYYY-MM-DD, so that JSON and YAML carry a day as a
// plain date.
func (d Day) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD; empty text is the zero Day.
func (d *Day) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Day{}
		return nil
	}
	v, err := ParseDay(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// BillDownloader is implemented by channels that publish a daily bill of the
// merchant account's payments and refunds (Alipay's trade bill, WeChat Pay's
// trade bill).
type BillDownloader interface {
	// DownloadBill downloads the bill of day and checks it whole before
	// returning: its integrity (a hash, a zip's checksums), every row and
	// the presence of its summary. A bill that fails is refused (an error
	// wrapping ErrBillInvalid) before the caller sees any row, so a caller
	// never acts on part of a bad bill. The bill is kept in a temporary file
	// (os.TempDir) until the reader is closed.
	//
	// When the channel says it has no bill for the day, the error wraps
	// ErrBillNotReady. A definite refusal of the request is a *Error; any
	// other error (network, timeout, an answer that cannot be verified)
	// means "try again later".
	DownloadBill(ctx context.Context, day Day) (BillReader, error)
}

// BillReader streams the rows of a downloaded bill, in the bill's order. It
// holds one row at a time, so a bill of millions of rows is read in bounded
// memory. It is not safe for concurrent use.
type BillReader interface {
	// Next returns the next row, or io.EOF after the last one. The bill was
	// checked whole by DownloadBill; an error here is a local I/O failure.
	Next() (*BillRow, error)
	// Summary returns what the bill states about its own rows. It is
	// available at any time (the bill has been read through once).
	Summary() *BillSummary
	// Close releases the reader and removes the temporary file.
	Close() error
}

// BillRowKind tells what a bill row records.
type BillRowKind string

// Bill row kinds.
const (
	BillPayment BillRowKind = "payment" // money taken for an order
	BillRefund  BillRowKind = "refund"  // money returned for an order
)

// BillRow is one row of a channel's bill as the channel wrote it: nothing in
// it has been compared with the pay center's records. Text fields are the
// bill's, trimmed; a field the bill leaves empty (or writes "0" for, as
// WeChat does for a payment's refund numbers) is "".
type BillRow struct {
	Kind BillRowKind

	OutTradeNo string // the merchant's order number (商户订单号)
	// OutRefundNo is the merchant's refund number of a refund (Alipay
	// 退款批次号/请求号, WeChat 商户退款单号). A refund made by hand in the
	// merchant console carries a number the channel made up.
	OutRefundNo   string
	TransactionID string // the channel's trade number (支付宝交易号, 微信订单号)
	RefundID      string // the channel's refund number, when the bill has one (WeChat 微信退款单号)

	// Amount is in fen and never negative: for a payment the order total,
	// for a refund this refund's amount.
	Amount int64
	// Time is the payment time of a payment, the refund time of a refund,
	// in Beijing time (see the adapter for the column it comes from).
	Time time.Time
	// Status is the channel's word for the row (WeChat 交易状态 or, for a
	// refund, 退款状态; Alipay 业务类型). A payment row whose status is not
	// the channel's success word did not take money.
	Status string
	// TradeType is the channel's product (WeChat 交易类型: NATIVE, JSAPI,
	// APP, MWEB), "" when the bill does not say.
	TradeType string

	// AppID is the channel application the row belongs to (WeChat
	// 公众账号ID), "" when the bill does not name it (Alipay).
	AppID string
	// MchID is the merchant account (WeChat 商户号; Alipay the account's
	// user id, 2088…, from the bill's header).
	MchID string

	Attach      string // merchant data echoed (WeChat 商户数据包, Alipay 备注)
	ProductName string // 商品名称

	Line int // the row's line in the bill file (1-based), for diagnostics
}

// Figure is one count or sum a bill states about itself.
type Figure struct {
	Value  int64
	Stated bool // false: this channel's bill does not state the figure
}

func stated(v int64) Figure { return Figure{Value: v, Stated: true} }

// BillSummary is what a bill states about its own rows: counts, and sums in
// fen of BillRow.Amount, for the caller to cross-check against the rows it
// read ([BillSummary.Check]). Each adapter documents where each figure comes
// from; figures its bill does not state have Stated false.
type BillSummary struct {
	Rows          Figure // payment and refund rows together
	Payments      Figure // payment rows
	Refunds       Figure // refund rows
	PaymentAmount Figure // Σ Amount of the payment rows
	RefundAmount  Figure // Σ Amount of the refund rows
	NetAmount     Figure // PaymentAmount − RefundAmount
}

// NewBillSummary completes a summary from the figures a bill states: Rows
// from Payments + Refunds and NetAmount from PaymentAmount − RefundAmount,
// where the bill states the parts but not the whole.
func NewBillSummary(s BillSummary) *BillSummary {
	if !s.Rows.Stated && s.Payments.Stated && s.Refunds.Stated {
		s.Rows = stated(s.Payments.Value + s.Refunds.Value)
	}
	if !s.NetAmount.Stated && s.PaymentAmount.Stated && s.RefundAmount.Stated {
		s.NetAmount = stated(s.PaymentAmount.Value - s.RefundAmount.Value)
	}
	return &s
}

// BillTally counts and sums rows as a caller reads them.
type BillTally struct {
	Payments, Refunds           int64
	PaymentAmount, RefundAmount int64 // fen
}

// Add counts r.
func (t *BillTally) Add(r *BillRow) {
	switch r.Kind {
	case BillPayment:
		t.Payments++
		t.PaymentAmount += r.Amount
	case BillRefund:
		t.Refunds++
		t.RefundAmount += r.Amount
	}
}

// Check compares every figure s states with the tally of the rows read and
// returns an error naming the first that differs (nil when all agree).
func (s *BillSummary) Check(t BillTally) error {
	for _, c := range []struct {
		name string
		f    Figure
		got  int64
	}{
		{"rows", s.Rows, t.Payments + t.Refunds},
		{"payment rows", s.Payments, t.Payments},
		{"refund rows", s.Refunds, t.Refunds},
		{"payment amount (fen)", s.PaymentAmount, t.PaymentAmount},
		{"refund amount (fen)", s.RefundAmount, t.RefundAmount},
		{"net amount (fen)", s.NetAmount, t.PaymentAmount - t.RefundAmount},
	} {
		if c.f.Stated && c.f.Value != c.got {
			return fmt.Errorf("channels: the bill states %s %d, its rows add up to %d", c.name, c.f.Value, c.got)
		}
	}
	return nil
}

// ErrBillNotReady means the channel says it has no bill for the day (yet).
// Both channels give the same answer for a day on which the account had no
// business at all, so a caller that still gets it long after the bill's
// usual time may treat the day as empty if it has no charge of its own that
// day.
var ErrBillNotReady = errors.New("channels: the channel has no bill for that day yet")

// ErrBillInvalid means a downloaded bill failed its integrity check or could
// not be read as the channel's format; nothing of it should be used.
var ErrBillInvalid = errors.New("channels: bill refused")

// MaxBillSize bounds a downloaded bill, in bytes as served (compressed for
// Alipay): a bill larger than this is refused rather than filling the disk.
const MaxBillSize = 4 << 30

// BillTimeout is the least time an adapter allows a bill download, however
// short the timeout of its HTTP client for API calls (a bill of a million
// rows takes longer than an API call). The context still bounds it.
const BillTimeout = 10 * time.Minute

// BillHTTPClient returns a copy of hc, the adapter's client for API calls,
// for downloading a bill: its timeout raised to BillTimeout when it is
// shorter (no timeout stays none).
func BillHTTPClient(hc *http.Client) *http.Client {
	c := *hc
	if c.Timeout != 0 && c.Timeout < BillTimeout {
		c.Timeout = BillTimeout
	}
	return &c
}

// MaxBillLine bounds one line of a bill file, in bytes: a longer line
// fails the scan (bufio.ErrTooLong) and so the bill.
const MaxBillLine = 1 << 20

// BillLines returns a scanner of r's lines, without their line endings
// ("\r\n" or "\n"), each at most MaxBillLine bytes.
func BillLines(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxBillLine)
	return sc
}

// BillColumns maps the column names of a bill's header line (trimmed) to
// their index, and checks that the names are distinct and that every column
// in need is there.
func BillColumns(names []string, need ...string) (map[string]int, error) {
	cols := make(map[string]int, len(names))
	for i, n := range names {
		cols[strings.TrimSpace(n)] = i
	}
	if len(cols) != len(names) {
		return nil, errors.New("a header repeats a column name")
	}
	for _, n := range need {
		if _, ok := cols[n]; !ok {
			return nil, fmt.Errorf("the header has no column %s", n)
		}
	}
	return cols, nil
}

// BillFile is a bill downloaded to a temporary file. Close removes it.
type BillFile struct {
	f    *os.File
	size int64
	once sync.Once
	err  error
}

// SpoolBill copies r, at most MaxBillSize bytes, into a new temporary file,
// writing everything it copies to each of also (a hash, say). On error no
// file is left behind.
func SpoolBill(r io.Reader, also ...io.Writer) (*BillFile, error) {
	f, err := os.CreateTemp("", "paycenter-bill-*")
	if err != nil {
		return nil, fmt.Errorf("channels: bill: temporary file: %w", err)
	}
	b := &BillFile{f: f}
	w := io.MultiWriter(append([]io.Writer{f}, also...)...)
	n, err := io.Copy(w, io.LimitReader(r, MaxBillSize+1))
	switch {
	case err != nil:
		_ = b.Close()
		return nil, fmt.Errorf("channels: bill: download: %w", err)
	case n > MaxBillSize:
		_ = b.Close()
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBillInvalid, int64(MaxBillSize))
	}
	b.size = n
	return b, nil
}

// ReadAt reads the file (io.ReaderAt), so that several readers can scan it
// independently.
func (b *BillFile) ReadAt(p []byte, off int64) (int, error) { return b.f.ReadAt(p, off) }

// Size is the file's length in bytes.
func (b *BillFile) Size() int64 { return b.size }

// Section returns a reader of the whole file from its start.
func (b *BillFile) Section() *io.SectionReader { return io.NewSectionReader(b.f, 0, b.size) }

// Close closes and removes the file. Calling it again does nothing.
func (b *BillFile) Close() error {
	b.once.Do(func() {
		b.err = errors.Join(b.f.Close(), os.Remove(b.f.Name()))
	})
	return b.err
}

// OpenBill checks a downloaded bill whole and returns a reader over it. It
// reads the bill through once with a reader from scan, so that a bill with a
// row that does not parse, or without its summary, is refused before the
// caller sees a row; the reader it returns replays the bill with a fresh
// reader from scan. The file is removed when the returned reader is closed,
// or at once when the bill is refused. scan must return independent readers
// (use file.ReadAt or file.Section) whose parse errors wrap ErrBillInvalid.
func OpenBill(file *BillFile, scan func(*BillFile) (BillReader, error)) (BillReader, error) {
	summary, err := readThrough(file, scan)
	if err == nil {
		var r BillReader
		if r, err = scan(file); err == nil {
			return &checkedBill{r: r, file: file, summary: summary}, nil
		}
	}
	_ = file.Close()
	return nil, err
}

// readThrough reads every row of the bill once and returns its summary.
func readThrough(file *BillFile, scan func(*BillFile) (BillReader, error)) (*BillSummary, error) {
	r, err := scan(file)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	s := r.Summary()
	if s == nil {
		return nil, fmt.Errorf("%w: the bill has no summary", ErrBillInvalid)
	}
	return s, nil
}

// checkedBill replays a bill that readThrough accepted.
type checkedBill struct {
	r       BillReader
	file    *BillFile
	summary *BillSummary
	closed  bool
}

func (b *checkedBill) Next() (*BillRow, error) {
	if b.closed {
		return nil, errors.New("channels: bill reader is closed")
	}
	return b.r.Next()
}

func (b *checkedBill) Summary() *BillSummary { return b.summary }

func (b *checkedBill) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return errors.Join(b.r.Close(), b.file.Close())
}
