package alipaytest

// The fake's trade bills: alipay.data.dataservice.bill.downloadurl.query
// and the archive behind the URL it answers, in Alipay's format (a zip of
// GBK-encoded CSV files with # comment lines), built from the fake's own
// trades and refunds for the requested Beijing day.

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay"
)

// MethodBillDownloadURL answers where a day's bill can be downloaded.
const MethodBillDownloadURL = "alipay.data.dataservice.bill.downloadurl.query"

// BillPath is the path of the fake's bill download URLs (Alipay's own are
// on dwbillcenter.alipay.com, with the same path). Each URL serves once.
const BillPath = "/downloadBillFile.resource"

// BillFault is a way the next bill download goes wrong.
type BillFault int

// Bill faults.
const (
	// BillTruncated serves the first half of the archive only.
	BillTruncated BillFault = iota + 1
	// BillCorrupt flips a byte in the middle of the detail file's
	// compressed data, so that it fails to inflate or its checksum fails.
	BillCorrupt
)

// billBook is the fake's bill state, guarded by Fake.mu.
type billBook struct {
	dir       string                  // temporary files (t.TempDir)
	notReady  map[channels.Day]bool   // days answered isp.bill_not_exist
	amounts   map[string]int64        // billKey → amount the bill shows, fen
	faults    []BillFault             // next downloads
	tokens    map[string]channels.Day // download URL tokens, single use
	synthetic map[channels.Day]string // day → a generated archive
	handSeq   int                     // by-hand refund numbers
}

func (b *billBook) init() {
	if b.tokens == nil {
		b.notReady = map[channels.Day]bool{}
		b.amounts = map[string]int64{}
		b.tokens = map[string]channels.Day{}
		b.synthetic = map[channels.Day]string{}
	}
}

func billKey(outTradeNo, outRequestNo string) string { return outTradeNo + "\x00" + outRequestNo }

// SetBillNotReady makes the fake answer isp.bill_not_exist for day (or
// stop doing so). Days that have not begun on the fake's clock are never
// ready.
func (f *Fake) SetBillNotReady(day channels.Day, notReady bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bills.init()
	f.bills.notReady[day] = notReady
}

// SetBillAmount makes the bill show fen for a trade's payment
// (outRequestNo "") or for one of its refunds, whatever the trade says: the
// channel settling an amount other than the one the pay center thinks.
func (f *Fake) SetBillAmount(outTradeNo, outRequestNo string, fen int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bills.init()
	f.bills.amounts[billKey(outTradeNo, outRequestNo)] = fen
}

// FailNextBill makes the next bill download go wrong as fault says.
// Faults queue up in order.
func (f *Fake) FailNextBill(fault BillFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bills.faults = append(f.bills.faults, fault)
}

// RefundByHand refunds amount fen of a paid trade as the merchant does in
// the Alipay console: the pay center is not told, and the refund's number
// (returned) is one Alipay made up.
func (f *Fake) RefundByHand(outTradeNo string, amount int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr, ok := f.trades[outTradeNo]
	switch {
	case !ok:
		return "", fmt.Errorf("alipaytest: refund by hand: no trade %q", outTradeNo)
	case tr.Status != TradeSuccess:
		return "", fmt.Errorf("alipaytest: refund by hand: trade %q is %s", outTradeNo, tr.Status)
	case amount <= 0 || tr.Refunded+amount > tr.Total:
		return "", fmt.Errorf("alipaytest: refund by hand: %d fen exceeds what trade %q can refund", amount, outTradeNo)
	}
	f.bills.handSeq++
	no := fmt.Sprintf("HZ01RF%014d", f.bills.handSeq)
	tr.Refunds[no] = &RefundRecord{OutRequestNo: no, Amount: amount, At: f.Now().In(channels.Beijing).Truncate(time.Second)}
	tr.Refunded += amount
	if tr.Refunded == tr.Total {
		tr.Status = TradeClosed
	}
	return no, nil
}

// PayForeign records a trade paid now that no pay center opened (another
// system selling on the same Alipay account).
func (f *Fake) PayForeign(outTradeNo string, total int64, subject string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.trades[outTradeNo]; ok {
		return fmt.Errorf("alipaytest: pay foreign: trade %q exists", outTradeNo)
	}
	now := f.Now().In(channels.Beijing).Truncate(time.Second)
	f.seq++
	f.trades[outTradeNo] = &Trade{
		OutTradeNo: outTradeNo, TradeNo: fmt.Sprintf("2025%016d", f.seq), Subject: subject,
		Status: TradeSuccess, Total: total, CreatedAt: now, PaidAt: now, Refunds: map[string]*RefundRecord{},
	}
	return nil
}

// SetPaidAt moves a paid trade's payment (and creation) time, e.g. to the
// day a test reconciles.
func (f *Fake) SetPaidAt(outTradeNo string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr, ok := f.trades[outTradeNo]
	if !ok || tr.PaidAt.IsZero() {
		return fmt.Errorf("alipaytest: set paid at: trade %q is not paid", outTradeNo)
	}
	tr.PaidAt = at.In(channels.Beijing).Truncate(time.Second)
	tr.CreatedAt = tr.PaidAt
	return nil
}

// SetRefundedAt moves a refund's time.
func (f *Fake) SetRefundedAt(outTradeNo, outRequestNo string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr, ok := f.trades[outTradeNo]
	if !ok || tr.Refunds[outRequestNo] == nil {
		return fmt.Errorf("alipaytest: set refunded at: no refund %q of %q", outRequestNo, outTradeNo)
	}
	tr.Refunds[outRequestNo].At = at.In(channels.Beijing).Truncate(time.Second)
	return nil
}

// SyntheticBill makes day's bill a generated one of rows rows (nine
// payments then a partial refund of the ninth, over and over), written now
// so that a download only streams it. Benchmarks use it; SyntheticRow tells
// what row i holds.
func (f *Fake) SyntheticBill(day channels.Day, rows int) error {
	path, err := f.writeBill(day, func(emit func(billLine) error) error {
		for i := range rows {
			if err := emit(syntheticLine(day, i, rows)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bills.init()
	f.bills.synthetic[day] = path
	return nil
}

// SyntheticRow is row i of a synthetic bill of rows rows: its kind,
// out_trade_no and amount in fen.
func SyntheticRow(day channels.Day, i, rows int) (kind channels.BillRowKind, outTradeNo string, fen int64) {
	l := syntheticLine(day, i, rows)
	if l.refund {
		return channels.BillRefund, l.outTradeNo, -l.amount
	}
	return channels.BillPayment, l.outTradeNo, l.amount
}

func syntheticLine(day channels.Day, i, rows int) billLine {
	at := day.Start().Add(time.Duration(int64(i) * int64(24*time.Hour) / int64(max(rows, 1))))
	pay := i - i%10 + min(i%10, 8) // a refund refunds the payment before it
	amount := 1 + int64(pay)*7919%100_000_00
	l := billLine{
		tradeNo:    fmt.Sprintf("%s22001%015d", day.Start().Format("20060102"), pay),
		outTradeNo: fmt.Sprintf("SYN%010d", pay),
		subject:    fmt.Sprintf("合成订单，第%d号（测试）", pay),
		created:    at, finished: at, amount: amount,
	}
	if i%10 == 9 {
		l.refund, l.refundNo, l.amount = true, fmt.Sprintf("SYNRF%010d", i), -max(amount/2, 1)
	}
	return l
}

// BillArchive returns the archive the fake would serve now for day, as
// bytes, for tests that look at the raw format.
func (f *Fake) BillArchive(day channels.Day) ([]byte, error) {
	f.mu.Lock()
	lines := f.billLines(day)
	f.mu.Unlock()
	path, err := f.writeBill(day, each(lines))
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)
	return os.ReadFile(path)
}

// billDownloadURL answers alipay.data.dataservice.bill.downloadurl.query.
// Called with f.mu held.
func (f *Fake) billDownloadURL(biz map[string]any) map[string]any {
	f.bills.init()
	day, err := channels.ParseDay(str(biz, "bill_date"))
	if str(biz, "bill_type") != "trade" || err != nil {
		return map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid_arguments", "sub_msg": "入参不合法"}
	}
	if f.bills.notReady[day] || f.Now().Before(day.Start()) {
		return bizErr("isp.bill_not_exist", "账单不存在")
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	f.bills.tokens[token] = day
	q := url.Values{
		"bizType": {"trade"}, "fileType": {"csv.zip"}, "bizDates": {day.Start().Format("20060102")},
		"downloadFileName": {day.Start().Format("20060102") + ".csv.zip"}, "token": {token},
	}
	return map[string]any{"code": "10000", "msg": "Success", "bill_download_url": f.Server.URL + BillPath + "?" + q.Encode()}
}

// serveBill serves the archive of a download URL, once.
func (f *Fake) serveBill(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.bills.init()
	token := r.URL.Query().Get("token")
	day, ok := f.bills.tokens[token]
	delete(f.bills.tokens, token)
	var fault BillFault
	if ok && len(f.bills.faults) > 0 {
		fault, f.bills.faults = f.bills.faults[0], f.bills.faults[1:]
	}
	path, synthetic := f.bills.synthetic[day]
	var lines []billLine
	if ok && !synthetic {
		lines = f.billLines(day)
	}
	f.mu.Unlock()
	if !ok {
		http.Error(w, "download link expired", http.StatusNotFound)
		return
	}
	if !synthetic {
		var err error
		path, err = f.writeBill(day, each(lines))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer os.Remove(path)
	}
	if err := serveFile(w, path, fault); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// serveFile writes the archive at path, spoilt by fault.
func serveFile(w http.ResponseWriter, path string, fault BillFault) error {
	b, err := os.Open(path)
	if err != nil {
		return err
	}
	defer b.Close()
	st, err := b.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	var flip int64 = -1
	switch fault {
	case BillTruncated:
		size /= 2
	case BillCorrupt:
		zr, err := zip.NewReader(b, size)
		if err != nil {
			return err
		}
		off, err := zr.File[0].DataOffset()
		if err != nil {
			return err
		}
		flip = off + int64(zr.File[0].CompressedSize64)/2
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", fmt.Sprint(size))
	r := io.Reader(io.NewSectionReader(b, 0, size))
	if flip >= 0 {
		one := make([]byte, 1)
		if _, err := b.ReadAt(one, flip); err != nil {
			return err
		}
		one[0] ^= 0xff
		r = io.MultiReader(io.NewSectionReader(b, 0, flip), bytes.NewReader(one), io.NewSectionReader(b, flip+1, size-flip-1))
	}
	_, err = io.Copy(w, r)
	return err
}

// each emits lines in order.
func each(lines []billLine) func(emit func(billLine) error) error {
	return func(emit func(billLine) error) error {
		for _, l := range lines {
			if err := emit(l); err != nil {
				return err
			}
		}
		return nil
	}
}

// billLine is one row of the detail file. Amounts are signed fen, as the
// bill writes them (refunds negative).
type billLine struct {
	tradeNo, outTradeNo, subject string
	created, finished            time.Time
	amount                       int64
	refund                       bool
	refundNo                     string
	remark                       string
}

// billLines lists the rows of day from the trades: each payment made that
// day and each refund made that day, ordered by time. Called with f.mu held.
func (f *Fake) billLines(day channels.Day) []billLine {
	f.bills.init()
	var out []billLine
	for _, tr := range f.trades {
		remark, _ := url.QueryUnescape(tr.PassbackParams)
		if !tr.PaidAt.IsZero() && day.Contains(tr.PaidAt) {
			amount := tr.Total
			if v, ok := f.bills.amounts[billKey(tr.OutTradeNo, "")]; ok {
				amount = v
			}
			out = append(out, billLine{tradeNo: tr.TradeNo, outTradeNo: tr.OutTradeNo, subject: tr.Subject,
				created: tr.CreatedAt, finished: tr.PaidAt, amount: amount, remark: remark})
		}
		for _, rf := range tr.Refunds {
			if !day.Contains(rf.At) {
				continue
			}
			amount := rf.Amount
			if v, ok := f.bills.amounts[billKey(tr.OutTradeNo, rf.OutRequestNo)]; ok {
				amount = v
			}
			out = append(out, billLine{tradeNo: tr.TradeNo, outTradeNo: tr.OutTradeNo, subject: tr.Subject,
				created: rf.At, finished: rf.At, amount: -amount, refund: true, refundNo: rf.OutRequestNo, remark: remark})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.finished.Equal(b.finished) {
			return a.finished.Before(b.finished)
		}
		if a.tradeNo != b.tradeNo {
			return a.tradeNo < b.tradeNo
		}
		return a.refundNo < b.refundNo
	})
	return out
}

// Alipay's header of the detail file.
var detailHeader = []string{"支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间",
	"门店编号", "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）",
	"集分宝（元）", "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
	"卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注"}

// Alipay's header of the summary file.
var summaryHeader = []string{"门店编号", "门店名称", "交易订单总笔数", "退款订单总笔数", "订单金额（元）",
	"商家实收（元）", "支付宝优惠（元）", "商家优惠（元）", "卡消费金额（元）", "服务费（元）", "分润（元）", "实收净额（元）"}

// billTotals accumulates the detail rows for the trailer and summary.
type billTotals struct {
	payments, refunds        int64
	paid, refunded, net, fee int64 // fen; refunded negative, fee signed
}

// writeBill writes day's archive to a new file in the fake's directory and
// returns its path.
func (f *Fake) writeBill(day channels.Day, rows func(emit func(billLine) error) error) (path string, err error) {
	out, err := os.CreateTemp(f.bills.dir, "bill-*.zip")
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(out.Name())
		}
	}()
	prefix := f.Keys.SellerID + "_" + day.Start().Format("20060102")
	zw := zip.NewWriter(out)
	var tot billTotals
	if err := writeEntry(zw, prefix+"_业务明细.csv", func(w *csv.Writer) error {
		return writeDetail(w, f.Keys.SellerID, day, f.Now(), rows, &tot)
	}); err != nil {
		return "", err
	}
	if err := writeEntry(zw, prefix+"_业务明细(汇总).csv", func(w *csv.Writer) error {
		return writeSummary(w, f.Keys.SellerID, day, f.Now(), tot)
	}); err != nil {
		return "", err
	}
	return out.Name(), zw.Close()
}

// writeEntry adds a GBK CSV file to the archive, named in GBK without the
// zip's UTF-8 flag, as Alipay does. Characters GBK lacks become '?'.
func writeEntry(zw *zip.Writer, name string, body func(*csv.Writer) error) error {
	gbkName, err := simplifiedchinese.GBK.NewEncoder().String(name)
	if err != nil {
		return err
	}
	ew, err := zw.CreateHeader(&zip.FileHeader{Name: gbkName, Method: zip.Deflate, NonUTF8: true, Modified: time.Now()})
	if err != nil {
		return err
	}
	tw := transform.NewWriter(ew, encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder()))
	cw := csv.NewWriter(tw)
	cw.UseCRLF = true
	if err := body(cw); err != nil {
		return err
	}
	cw.Flush()
	return errors.Join(cw.Error(), tw.Close())
}

func period(account string, day channels.Day) [][]string {
	return [][]string{
		{"#账号：[" + account + "]"},
		{"#起始日期：[" + day.Start().Format("2006年01月02日 15:04:05") + "]   终止日期：[" + day.End().Format("2006年01月02日 15:04:05") + "]"},
	}
}

func writeDetail(w *csv.Writer, account string, day channels.Day, now time.Time,
	rows func(emit func(billLine) error) error, tot *billTotals) error {
	head := append([][]string{{"#支付宝业务明细查询"}}, period(account, day)...)
	head = append(head, []string{"#-----------------------------------------业务明细列表----------------------------------------"}, detailHeader)
	if err := w.WriteAll(head); err != nil {
		return err
	}
	err := rows(func(l billLine) error {
		kind, refundNo := "交易", ""
		fee := -(abs(l.amount)*6 + 500) / 1000 // 0.6%, rounded
		if l.refund {
			kind, refundNo, fee = "退款", l.refundNo+"\t", -fee
			tot.refunds++
			tot.refunded += l.amount
		} else {
			tot.payments++
			tot.paid += l.amount
		}
		tot.net += l.amount
		tot.fee += fee
		amount := alipay.FormatAmount(l.amount)
		return w.Write([]string{l.tradeNo + "\t", l.outTradeNo + "\t", kind, l.subject,
			l.created.In(channels.Beijing).Format(timeLayout), l.finished.In(channels.Beijing).Format(timeLayout),
			"", "", "", "", "bu***@example.com", amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "",
			"0.00", "0.00", refundNo, alipay.FormatAmount(fee), "0.00", l.remark})
	})
	if err != nil {
		return err
	}
	return w.WriteAll([][]string{
		{"#-----------------------------------------业务明细列表结束------------------------------------"},
		{fmt.Sprintf("#交易合计：%d笔，商家实收共%s元，商家优惠共0.00元", tot.payments, alipay.FormatAmount(tot.paid))},
		{fmt.Sprintf("#退款合计：%d笔，商家实收退款共%s元，商家优惠退款共0.00元", tot.refunds, alipay.FormatAmount(tot.refunded))},
		{"#导出时间：[" + now.In(channels.Beijing).Format("2006年01月02日 15:04:05") + "]"},
	})
}

func writeSummary(w *csv.Writer, account string, day channels.Day, now time.Time, tot billTotals) error {
	net, fee := alipay.FormatAmount(tot.net), alipay.FormatAmount(tot.fee)
	lines := append([][]string{{"#支付宝业务汇总查询"}}, period(account, day)...)
	return w.WriteAll(append(lines,
		[]string{"#-----------------------------------------业务汇总列表----------------------------------------"},
		summaryHeader,
		[]string{"合计", "", fmt.Sprint(tot.payments), fmt.Sprint(tot.refunds), net, net, "0.00", "0.00", "0.00", fee, "0.00",
			alipay.FormatAmount(tot.net + tot.fee)},
		[]string{"#----------------------------------------业务汇总列表结束-------------------------------------"},
		[]string{"#导出时间：[" + now.In(channels.Beijing).Format("2006年01月02日 15:04:05") + "]"},
	))
}

func abs(v int64) int64 { return max(v, -v) }
