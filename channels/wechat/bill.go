package wechat

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"

	"github.com/gopaycenter/paycenter/channels"
)

var _ channels.BillDownloader = (*Channel)(nil)

// TradeBillPath is the APIv3 endpoint that answers where a day's trade bill
// can be downloaded.
const TradeBillPath = "/v3/bill/tradebill"

// billNotReady lists the codes with which WeChat Pay says it has no bill for
// the day: NO_STATEMENT_EXIST (no bill: none yet, or no business that day)
// and STATEMENT_CREATING (being generated).
var billNotReady = map[string]bool{"NO_STATEMENT_EXIST": true, "STATEMENT_CREATING": true}

// DownloadBill downloads the trade bill of day: GET /v3/bill/tradebill
// (bill_type=ALL; the answer is signed and verified by the SDK), then the
// signed download of its download_url, whose content WeChat Pay does not
// sign: it is checked against the SHA1 hash_value the signed answer
// announced before anything in it is read. Every row and the summary are
// then checked (see the package documentation). The download uses the
// adapter's HTTP client, allowed at least channels.BillTimeout.
func (c *Channel) DownloadBill(ctx context.Context, day channels.Day) (channels.BillReader, error) {
	if day.IsZero() {
		return nil, errors.New("wechat: bill: day is required")
	}
	const op = "trade bill"
	q := url.Values{"bill_date": {day.String()}, "bill_type": {"ALL"}}
	res, err := c.client.Get(ctx, consts.WechatPayAPIServer+TradeBillPath+"?"+q.Encode())
	if res != nil && res.Response != nil {
		defer res.Response.Body.Close()
	}
	if err != nil {
		var ae *core.APIError
		if errors.As(err, &ae) && billNotReady[ae.Code] {
			return nil, fmt.Errorf("wechat: bill of %s: %w (%s)", day, channels.ErrBillNotReady, ae.Code)
		}
		return nil, apiError(op, err)
	}
	var answer struct {
		HashType    string `json:"hash_type"`
		HashValue   string `json:"hash_value"`
		DownloadURL string `json:"download_url"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Response.Body, 64<<10)).Decode(&answer); err != nil {
		return nil, unknown(op, "unreadable answer", nil)
	}
	want, err := hex.DecodeString(answer.HashValue)
	if err != nil || len(want) != sha1.Size || !strings.EqualFold(answer.HashType, "SHA1") {
		return nil, unknown(op, "answer announces no SHA1 hash of the bill", nil)
	}
	if u, err := url.Parse(answer.DownloadURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, unknown(op, "answer has no usable download_url", nil)
	}
	file, got, err := c.fetchBill(ctx, answer.DownloadURL)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		_ = file.Close()
		return nil, fmt.Errorf("wechat: %w: the bill of %s does not match the SHA1 hash WeChat Pay announced", channels.ErrBillInvalid, day)
	}
	return channels.OpenBill(file, openTradeBill)
}

// fetchBill downloads the bill to a temporary file, hashing it on the way.
// The request is signed like any API call; the answer is not verified by
// signature (WeChat Pay does not sign files) but by the caller, by hash.
func (c *Channel) fetchBill(ctx context.Context, rawURL string) (*channels.BillFile, []byte, error) {
	const op = "bill download"
	dl, err := core.NewClient(ctx,
		option.WithSigner(clientSigner{c.client}),
		option.WithoutValidator(),
		option.WithHTTPClient(channels.BillHTTPClient(c.http)),
	)
	if err != nil {
		return nil, nil, errors.New("wechat: bill download: cannot build the download client")
	}
	res, err := dl.Get(ctx, rawURL)
	if res != nil && res.Response != nil {
		defer res.Response.Body.Close()
	}
	if err != nil {
		return nil, nil, apiError(op, err)
	}
	h := sha1.New()
	file, err := channels.SpoolBill(res.Response.Body, h)
	if err != nil {
		// SpoolBill's errors are the body's read errors: no URL, no header.
		return nil, nil, fmt.Errorf("wechat: bill download: %w", err)
	}
	return file, h.Sum(nil), nil
}

// clientSigner signs with the adapter's API client, so that the download
// client signs with the same merchant key without keeping a second copy.
type clientSigner struct{ c *core.Client }

// Sign signs message with the merchant key.
func (s clientSigner) Sign(ctx context.Context, message string) (*auth.SignatureResult, error) {
	return s.c.Sign(ctx, message)
}

// Algorithm names the merchant key's algorithm, as the Authorization
// header spells it.
func (s clientSigner) Algorithm() string { return "SHA256-RSA2048" }

// Columns of the trade bill (bill_type=ALL) the adapter reads (it has more).
const (
	colTime        = "交易时间"
	colAppID       = "公众账号ID"
	colMchID       = "商户号"
	colTxID        = "微信订单号"
	colOutTradeNo  = "商户订单号"
	colTradeType   = "交易类型"
	colTradeState  = "交易状态"
	colRefundID    = "微信退款单号"
	colOutRefundNo = "商户退款单号"
	colRefundState = "退款状态"
	colProduct     = "商品名称"
	colAttach      = "商户数据包"
	colTotal       = "订单金额"
	colRefundAsked = "申请退款金额"
)

// Columns of the summary line.
const (
	colSumRows    = "总交易单数"
	colSumTotal   = "订单总金额"
	colSumRefunds = "申请退款总金额"
)

// stateRefund is the 交易状态 of a refund row.
const stateRefund = "REFUND"

func badBill(format string, a ...any) error {
	return fmt.Errorf("wechat: %w: %s", channels.ErrBillInvalid, fmt.Sprintf(format, a...))
}

// tradeBill reads a trade bill line by line.
type tradeBill struct {
	lines   *bufio.Scanner
	line    int
	cols    map[string]int // header name → index
	sumCols map[string]int // the summary header, once seen
	summary *channels.BillSummary
	done    bool
}

func openTradeBill(f *channels.BillFile) (channels.BillReader, error) {
	return &tradeBill{lines: channels.BillLines(f.Section())}, nil
}

// Next returns the next detail row.
func (b *tradeBill) Next() (*channels.BillRow, error) {
	for !b.done {
		if !b.lines.Scan() {
			b.done = true
			if err := b.lines.Err(); err != nil {
				return nil, badBill("after line %d: %v", b.line, err)
			}
			if b.summary == nil {
				return nil, badBill("the bill ends without its summary lines")
			}
			break
		}
		b.line++
		line := b.lines.Text()
		if b.line == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		var err error
		switch {
		case strings.TrimSpace(line) == "":
		case b.summary != nil:
			err = errors.New("text after the summary")
		case b.cols == nil:
			b.cols, err = header(line, colTime, colAppID, colMchID, colTxID, colOutTradeNo, colTradeType,
				colTradeState, colRefundID, colOutRefundNo, colRefundState, colProduct, colAttach, colTotal, colRefundAsked)
		case b.sumCols != nil:
			b.summary, err = b.readSummary(line)
		case strings.HasPrefix(line, "`"):
			row, err := b.row(line)
			if err != nil {
				return nil, badBill("line %d: %v", b.line, err)
			}
			return row, nil
		case strings.HasPrefix(line, colSumRows):
			b.sumCols, err = header(line, colSumRows)
		default:
			err = errors.New("neither a row (starting with a backtick) nor the summary header")
		}
		if err != nil {
			return nil, badBill("line %d: %v", b.line, err)
		}
	}
	return nil, io.EOF
}

// header maps a header line's column names to their index and checks that
// the columns in need are there.
func header(line string, need ...string) (map[string]int, error) {
	return channels.BillColumns(strings.Split(line, ","), need...)
}

// fields splits a data line: every field starts with a backtick (so that
// spreadsheets keep numbers as text), so fields are split on ",`", which
// keeps a comma inside a product name or merchant data in its field.
func fields(line string, width int) ([]string, error) {
	f := strings.Split(strings.TrimPrefix(line, "`"), ",`")
	if len(f) != width {
		return nil, fmt.Errorf("%d fields, the header has %d", len(f), width)
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f, nil
}

// row reads one detail line.
func (b *tradeBill) row(line string) (*channels.BillRow, error) {
	f, err := fields(line, len(b.cols))
	if err != nil {
		return nil, err
	}
	get := func(col string) string { return f[b.cols[col]] }
	r := &channels.BillRow{
		Kind:          channels.BillPayment,
		OutTradeNo:    get(colOutTradeNo),
		TransactionID: get(colTxID),
		Status:        get(colTradeState),
		TradeType:     get(colTradeType),
		AppID:         get(colAppID),
		MchID:         get(colMchID),
		Attach:        get(colAttach),
		ProductName:   get(colProduct),
		Line:          b.line,
	}
	amountCol := colTotal
	if r.Status == stateRefund {
		r.Kind, r.Status = channels.BillRefund, get(colRefundState)
		r.OutRefundNo, r.RefundID = get(colOutRefundNo), get(colRefundID)
		amountCol = colRefundAsked
	}
	if r.Amount, err = fen(get(amountCol)); err != nil {
		return nil, fmt.Errorf("%s %q is not a yuan amount", amountCol, truncate(get(amountCol), 32))
	}
	if r.Time, err = time.ParseInLocation(time.DateTime, get(colTime), channels.Beijing); err != nil {
		return nil, fmt.Errorf("%s %q is not a time", colTime, truncate(get(colTime), 32))
	}
	return r, nil
}

// readSummary reads the line after the summary header.
func (b *tradeBill) readSummary(line string) (*channels.BillSummary, error) {
	f, err := fields(line, len(b.sumCols))
	if err != nil {
		return nil, fmt.Errorf("summary: %v", err)
	}
	rows, err := strconv.ParseUint(f[b.sumCols[colSumRows]], 10, 63)
	if err != nil {
		return nil, fmt.Errorf("summary: %s is not a count", colSumRows)
	}
	s := channels.BillSummary{Rows: channels.Figure{Value: int64(rows), Stated: true}}
	for _, c := range []struct {
		col string
		fig *channels.Figure
	}{{colSumTotal, &s.PaymentAmount}, {colSumRefunds, &s.RefundAmount}} {
		i, ok := b.sumCols[c.col]
		if !ok {
			continue // not stated by this bill
		}
		v, err := fen(f[i])
		if err != nil {
			return nil, fmt.Errorf("summary: %s is not a yuan amount", c.col)
		}
		*c.fig = channels.Figure{Value: v, Stated: true}
	}
	return channels.NewBillSummary(s), nil
}

// fen parses the bill's yuan text into fen, exactly: WeChat writes money
// with two decimals ("0.01", "1234567.89") and no sign.
func fen(s string) (int64, error) {
	y, c, ok := strings.Cut(s, ".")
	if !ok || len(c) != 2 || y == "" || len(y) > 16 || !digits(y) || !digits(c) {
		return 0, errors.New("not a yuan amount")
	}
	yuan, _ := strconv.ParseInt(y, 10, 64)
	cents, _ := strconv.ParseInt(c, 10, 64)
	return yuan*100 + cents, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Summary returns the figures of the summary line.
func (b *tradeBill) Summary() *channels.BillSummary { return b.summary }

// Close releases nothing: the file belongs to channels.OpenBill's reader.
func (b *tradeBill) Close() error { return nil }
