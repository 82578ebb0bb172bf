package alipay

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	sdk "github.com/smartwalle/alipay/v3"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/gopaycenter/paycenter/channels"
)

var _ channels.BillDownloader = (*Channel)(nil)

// billNotReady lists the sub codes with which Alipay says it has no bill
// for the day: isp.bill_not_exist is what the gateway answers; BILL_NOT_EXIST
// is the spelling of Alipay's published error list.
var billNotReady = map[string]bool{"isp.bill_not_exist": true, "BILL_NOT_EXIST": true}

// DownloadBill downloads the trade bill of day (alipay.data.dataservice.
// bill.downloadurl.query, bill_type=trade, then the archive at the URL it
// answers) and checks it whole: the zip's directory and checksums, every row
// of the detail file (…_业务明细.csv) and the total row of the summary file
// (…_业务明细(汇总).csv). See the package documentation for how rows are
// read. The archive is downloaded with the adapter's HTTP client, allowed at
// least channels.BillTimeout.
func (c *Channel) DownloadBill(ctx context.Context, day channels.Day) (channels.BillReader, error) {
	if day.IsZero() {
		return nil, invalid("day is required")
	}
	const op = "bill.downloadurl.query"
	rsp, err := c.client.BillDownloadURLQuery(ctx, sdk.BillDownloadURLQuery{BillType: "trade", BillDate: day.String()})
	if err != nil {
		return nil, fmt.Errorf("alipay: %s: %w", op, sanitize(err))
	}
	if rsp == nil {
		return nil, fmt.Errorf("alipay: %s: empty response", op)
	}
	if !rsp.IsSuccess() {
		if billNotReady[rsp.SubCode] {
			return nil, fmt.Errorf("alipay: bill of %s: %w (%s)", day, channels.ErrBillNotReady, safe(rsp.SubCode))
		}
		return nil, refusal(op, rsp.Error)
	}
	u, err := url.Parse(rsp.BillDownloadURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alipay: %s: answer has no usable bill_download_url", op)
	}
	file, err := c.fetchBill(ctx, u.String())
	if err != nil {
		return nil, err
	}
	return channels.OpenBill(file, func(f *channels.BillFile) (channels.BillReader, error) {
		return openTradeBill(f, day)
	})
}

// fetchBill downloads the archive to a temporary file. The URL carries a
// token, so errors name only its host and path.
func (c *Channel) fetchBill(ctx context.Context, rawURL string) (*channels.BillFile, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, errors.New("alipay: bill download: bad URL")
	}
	rsp, err := channels.BillHTTPClient(c.cfg.HTTPClient).Do(req)
	if err != nil {
		return nil, fmt.Errorf("alipay: bill download: %w", sanitize(err))
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alipay: bill download: HTTP %d from %s", rsp.StatusCode, redactURL(rawURL))
	}
	// SpoolBill's errors name no URL: they are the body's read errors.
	file, err := channels.SpoolBill(rsp.Body)
	if err != nil {
		return nil, fmt.Errorf("alipay: bill download: %w", err)
	}
	return file, nil
}

// Columns of the detail file the adapter reads (the file has more).
const (
	colTradeNo    = "支付宝交易号"
	colOutTradeNo = "商户订单号"
	colKind       = "业务类型"
	colProduct    = "商品名称"
	colCreated    = "创建时间"
	colFinished   = "完成时间"
	colAmount     = "订单金额（元）"
	colRefundNo   = "退款批次号/请求号"
	colRemark     = "备注"
)

// Columns of the summary file's total row.
const (
	colSumPayments = "交易订单总笔数"
	colSumRefunds  = "退款订单总笔数"
	colSumAmount   = "订单金额（元）"
	sumTotalRow    = "合计"
)

// 业务类型 of the detail rows.
const (
	kindTrade  = "交易"
	kindRefund = "退款"
)

func badBill(format string, a ...any) error {
	return fmt.Errorf("alipay: %w: %s", channels.ErrBillInvalid, fmt.Sprintf(format, a...))
}

// tradeBill reads the detail file of a trade bill archive, row by row.
type tradeBill struct {
	entry   io.ReadCloser
	lines   *bufio.Scanner
	line    int
	account string         // 2088…, from the "#账号：[…]" line
	cols    map[string]int // header name → index
	summary *channels.BillSummary
	done    bool
}

// openTradeBill opens the archive in f, reads its summary file and
// positions a reader at the first line of its detail file.
func openTradeBill(f *channels.BillFile, day channels.Day) (channels.BillReader, error) {
	zr, err := zip.NewReader(f, f.Size())
	if err != nil {
		return nil, badBill("bill of %s is not a readable zip archive", day)
	}
	var detail, total *zip.File
	for _, zf := range zr.File {
		name := path.Base(entryName(zf))
		if !strings.HasSuffix(name, ".csv") {
			continue
		}
		slot := &detail
		switch {
		case strings.Contains(name, "汇总"):
			slot = &total
		case !strings.Contains(name, "业务明细"):
			continue
		}
		if *slot != nil {
			return nil, badBill("the archive holds two files like %q", name)
		}
		*slot = zf
	}
	if detail == nil || total == nil {
		return nil, badBill("the archive lacks its detail (…_业务明细.csv) or summary (…_业务明细(汇总).csv) file")
	}
	summary, err := readSummary(total)
	if err != nil {
		return nil, err
	}
	entry, err := detail.Open()
	if err != nil {
		return nil, badBill("detail file: %v", err)
	}
	return &tradeBill{entry: entry, lines: gbkLines(entry), summary: summary}, nil
}

// entryName is a zip entry's name in UTF-8: Alipay writes GBK names
// without the zip's UTF-8 flag.
func entryName(zf *zip.File) string {
	if !zf.NonUTF8 {
		return zf.Name
	}
	s, err := simplifiedchinese.GBK.NewDecoder().String(zf.Name)
	if err != nil {
		return zf.Name
	}
	return s
}

// gbkLines splits a GBK text stream into UTF-8 lines.
func gbkLines(r io.Reader) *bufio.Scanner {
	return channels.BillLines(transform.NewReader(r, simplifiedchinese.GBK.NewDecoder()))
}

// scanLine returns the next line, counting it in n, and false at the end of
// the file (check sc.Err then).
func scanLine(sc *bufio.Scanner, n *int) (string, bool) {
	if !sc.Scan() {
		return "", false
	}
	*n++
	return sc.Text(), true
}

// splitFields splits a CSV line into trimmed fields. Alipay pads numbers
// with a tab so that spreadsheets keep them as text; quotes are honoured
// within the line (a quoted field spanning lines is refused).
func splitFields(line string) ([]string, error) {
	var fields []string
	if strings.IndexByte(line, '"') < 0 {
		fields = strings.Split(line, ",")
	} else {
		r := csv.NewReader(strings.NewReader(line))
		r.FieldsPerRecord = -1
		var err error
		if fields, err = r.Read(); err != nil {
			return nil, errors.New("malformed quoting")
		}
		if _, err := r.Read(); err != io.EOF {
			return nil, errors.New("malformed quoting")
		}
	}
	for i, f := range fields {
		fields[i] = strings.TrimSpace(f)
	}
	return fields, nil
}

// signedAmount parses a yuan amount that may carry a minus sign.
func signedAmount(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	v, err := ParseAmount(strings.TrimPrefix(s, "-"))
	if neg {
		v = -v
	}
	return v, err
}

// readSummary reads the total row (合计) of the summary file.
func readSummary(zf *zip.File) (*channels.BillSummary, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, badBill("summary file: %v", err)
	}
	defer rc.Close()
	sc := gbkLines(rc)
	var (
		n    int
		cols map[string]int
		sum  *channels.BillSummary
	)
	for {
		line, ok := scanLine(sc, &n)
		if !ok {
			break
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields, err := splitFields(line)
		if err != nil {
			return nil, badBill("summary file line %d: %v", n, err)
		}
		if cols == nil {
			if cols, err = channels.BillColumns(fields, colSumPayments, colSumRefunds, colSumAmount); err != nil {
				return nil, badBill("summary file: %v", err)
			}
			continue
		}
		if fields[0] != sumTotalRow {
			continue // a row per store
		}
		if len(fields) != len(cols) || sum != nil {
			return nil, badBill("summary file line %d: malformed total row", n)
		}
		if sum, err = summaryFrom(fields, cols); err != nil {
			return nil, badBill("summary file line %d: %v", n, err)
		}
	}
	// Reading to the end makes the zip check the entry's checksum.
	if err := sc.Err(); err != nil {
		return nil, badBill("summary file: %v", err)
	}
	if sum == nil {
		return nil, badBill("summary file has no total row (%s)", sumTotalRow)
	}
	return sum, nil
}

func summaryFrom(fields []string, cols map[string]int) (*channels.BillSummary, error) {
	var counts [2]int64
	for i, name := range []string{colSumPayments, colSumRefunds} {
		n, err := strconv.ParseInt(fields[cols[name]], 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s is not a count", name)
		}
		counts[i] = n
	}
	net, err := signedAmount(fields[cols[colSumAmount]])
	if err != nil {
		return nil, fmt.Errorf("%s is not a yuan amount", colSumAmount)
	}
	return channels.NewBillSummary(channels.BillSummary{
		Payments:  channels.Figure{Value: counts[0], Stated: true},
		Refunds:   channels.Figure{Value: counts[1], Stated: true},
		NetAmount: channels.Figure{Value: net, Stated: true},
	}), nil
}

// Next returns the next row of the detail file.
func (b *tradeBill) Next() (*channels.BillRow, error) {
	for !b.done {
		line, ok := scanLine(b.lines, &b.line)
		if !ok {
			b.done = true
			if err := b.lines.Err(); err != nil {
				return nil, badBill("detail file after line %d: %v", b.line, err)
			}
			if b.cols == nil {
				return nil, badBill("detail file has no header line")
			}
			break
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			if b.cols == nil {
				b.readComment(line)
			}
		case b.cols == nil:
			fields, err := splitFields(line)
			if err == nil {
				b.cols, err = channels.BillColumns(fields, colTradeNo, colOutTradeNo, colKind, colProduct,
					colCreated, colFinished, colAmount, colRefundNo, colRemark)
			}
			if err != nil {
				return nil, badBill("detail file line %d: %v", b.line, err)
			}
		default:
			row, err := b.row(line)
			if err != nil {
				return nil, badBill("detail file line %d: %v", b.line, err)
			}
			return row, nil
		}
	}
	return nil, io.EOF
}

// readComment picks the account out of the header comments
// ("#账号：[20880000000000000156]").
func (b *tradeBill) readComment(line string) {
	rest, ok := strings.CutPrefix(line, "#账号：")
	if !ok {
		return
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		b.account = rest[1 : len(rest)-1]
	}
}

// row reads one detail line.
func (b *tradeBill) row(line string) (*channels.BillRow, error) {
	f, err := splitFields(line)
	if err != nil {
		return nil, err
	}
	if len(f) != len(b.cols) {
		return nil, fmt.Errorf("%d fields, the header has %d", len(f), len(b.cols))
	}
	get := func(col string) string { return f[b.cols[col]] }
	r := &channels.BillRow{
		OutTradeNo:    get(colOutTradeNo),
		TransactionID: get(colTradeNo),
		Status:        get(colKind),
		MchID:         b.account,
		Attach:        get(colRemark),
		ProductName:   get(colProduct),
		Line:          b.line,
	}
	amount, err := signedAmount(get(colAmount))
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a yuan amount", colAmount, safe(get(colAmount)))
	}
	switch r.Status {
	case kindTrade:
		r.Kind = channels.BillPayment
		if amount < 0 {
			return nil, fmt.Errorf("a payment with a negative %s", colAmount)
		}
	case kindRefund:
		// Refunds are written as negative amounts.
		r.Kind, r.OutRefundNo = channels.BillRefund, get(colRefundNo)
		amount = max(amount, -amount)
	default:
		return nil, fmt.Errorf("%s %q is neither %s nor %s", colKind, safe(r.Status), kindTrade, kindRefund)
	}
	r.Amount = amount
	when := get(colFinished)
	if when == "" {
		when = get(colCreated)
	}
	if r.Time, err = parseTime(when); err != nil {
		return nil, fmt.Errorf("%s %q is not a time", colFinished, safe(when))
	}
	return r, nil
}

// Summary returns the figures of the summary file's total row.
func (b *tradeBill) Summary() *channels.BillSummary { return b.summary }

// Close closes the detail file.
func (b *tradeBill) Close() error { return b.entry.Close() }
