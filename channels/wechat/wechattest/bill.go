package wechattest

// The fake's trade bills: GET /v3/bill/tradebill (a signed answer with the
// bill's SHA1 and its download_url) and the signed download, in WeChat
// Pay's format (backtick-prefixed CSV with a summary), built from the
// fake's own orders and refunds for the requested Beijing day.

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gopaycenter/paycenter/channels"
)

// BillDownloadPath is the path of the fake's download_url. The URL names
// api.mch.weixin.qq.com, as WeChat Pay's do; the adapter's redirecting
// transport (APIBaseURL) brings it to the fake. Each URL serves once.
const BillDownloadPath = "/v3/billdownload/file"

// BillFault is a way the next bill goes wrong.
type BillFault int

// Bill faults.
const (
	// BillWrongHash announces a hash_value the file does not have.
	BillWrongHash BillFault = iota + 1
)

// billBook is the fake's bill state, guarded by Server.mu.
type billBook struct {
	dir       string                        // temporary files (t.TempDir)
	notReady  map[channels.Day]string       // day → the code answered
	amounts   map[string]int64              // billKey → amount the bill shows, fen
	faults    []BillFault                   // next bills
	tokens    map[string]billSnapshot       // download token → file, single use
	synthetic map[channels.Day]billSnapshot // day → a generated bill
	handSeq   int                           // by-hand refund numbers
}

// billSnapshot is a bill written to a file, with its SHA1.
type billSnapshot struct {
	path, sha1 string
	keep       bool // synthetic: served again and again
}

func (b *billBook) init() {
	if b.tokens == nil {
		b.notReady = map[channels.Day]string{}
		b.amounts = map[string]int64{}
		b.tokens = map[string]billSnapshot{}
		b.synthetic = map[channels.Day]billSnapshot{}
	}
}

func billKey(outTradeNo, outRefundNo string) string { return outTradeNo + "\x00" + outRefundNo }

// SetBillNotReady makes the fake answer code (NO_STATEMENT_EXIST or
// STATEMENT_CREATING) for day's bill; "" serves it again. Days that have not
// begun are answered NO_STATEMENT_EXIST.
func (s *Server) SetBillNotReady(day channels.Day, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bills.init()
	s.bills.notReady[day] = code
}

// SetBillAmount makes the bill show fen for an order's payment
// (outRefundNo "") or for a refund, whatever the fake's records say: the
// channel settling an amount other than the one the pay center thinks.
func (s *Server) SetBillAmount(outTradeNo, outRefundNo string, fen int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bills.init()
	s.bills.amounts[billKey(outTradeNo, outRefundNo)] = fen
}

// FailNextBill makes the next bill query go wrong as fault says. Faults
// queue up in order.
func (s *Server) FailNextBill(fault BillFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bills.faults = append(s.bills.faults, fault)
}

// RefundByHand refunds amount fen of a paid order as the merchant does in
// the merchant platform: it succeeds at once, nobody is notified, and its
// out_refund_no is one WeChat Pay made up.
func (s *Server) RefundByHand(outTradeNo string, amount int64) (Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	switch {
	case !ok:
		return Refund{}, fmt.Errorf("wechattest: refund by hand: no order %q", outTradeNo)
	case o.State != StateSuccess && o.State != StateRefund:
		return Refund{}, fmt.Errorf("wechattest: refund by hand: order %q is %s", outTradeNo, o.State)
	case amount <= 0 || o.Refunded+amount > o.Total:
		return Refund{}, fmt.Errorf("wechattest: refund by hand: %d fen exceeds what order %q can refund", amount, outTradeNo)
	}
	s.seq++
	s.bills.handSeq++
	now := time.Now().Truncate(time.Second)
	r := &Refund{
		RefundID: fmt.Sprintf("50300000%014d", s.seq), OutRefundNo: fmt.Sprintf("MCHRF%014d", s.bills.handSeq),
		OutTradeNo: outTradeNo, TransactionID: o.TransactionID, Refund: amount, Total: o.Total,
		Reason: "商户平台退款", Status: RefundSuccess, CreateTime: now, SuccessTime: now,
	}
	s.refunds[r.OutRefundNo] = r
	o.Refunded += amount
	o.State = StateRefund
	return *r, nil
}

// PayForeign records an order paid now that no pay center placed (another
// system selling on the same merchant account).
func (s *Server) PayForeign(outTradeNo string, total int64, description string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[outTradeNo]; ok {
		return Order{}, fmt.Errorf("wechattest: pay foreign: order %q exists", outTradeNo)
	}
	s.seq++
	o := &Order{
		TradeType: "NATIVE", AppID: s.AppID, MchID: s.MchID, OutTradeNo: outTradeNo, Description: description,
		Total: total, Currency: "CNY", State: StateSuccess, TransactionID: fmt.Sprintf("42000000%014d", s.seq),
		SuccessTime: time.Now().Truncate(time.Second),
	}
	s.orders[outTradeNo] = o
	return *o, nil
}

// SetPaidAt moves a paid order's success time, e.g. to the day a test
// reconciles.
func (s *Server) SetPaidAt(outTradeNo string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok || o.TransactionID == "" {
		return fmt.Errorf("wechattest: set paid at: order %q is not paid", outTradeNo)
	}
	o.SuccessTime = at.Truncate(time.Second)
	return nil
}

// SetRefundAt moves a refund's creation (and success, if any) time.
func (s *Server) SetRefundAt(outRefundNo string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		return fmt.Errorf("wechattest: set refund at: no refund %q", outRefundNo)
	}
	r.CreateTime = at.Truncate(time.Second)
	if !r.SuccessTime.IsZero() {
		r.SuccessTime = r.CreateTime
	}
	return nil
}

// SyntheticBill makes day's bill a generated one of rows rows (nine
// payments then a partial refund of the ninth, over and over), written now
// so that a query only announces it. Benchmarks use it; SyntheticRow tells
// what row i holds.
func (s *Server) SyntheticBill(day channels.Day, rows int) error {
	snap, err := s.writeBill(func(emit func(billLine) error) error {
		for i := range rows {
			if err := emit(syntheticLine(s.AppID, s.MchID, day, i, rows)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	snap.keep = true
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bills.init()
	s.bills.synthetic[day] = snap
	return nil
}

// SyntheticRow is row i of a synthetic bill of rows rows: its kind,
// out_trade_no and amount in fen.
func SyntheticRow(day channels.Day, i, rows int) (kind channels.BillRowKind, outTradeNo string, fen int64) {
	l := syntheticLine("", "", day, i, rows)
	if l.refund {
		return channels.BillRefund, l.order.OutTradeNo, l.amount
	}
	return channels.BillPayment, l.order.OutTradeNo, l.amount
}

func syntheticLine(appID, mchID string, day channels.Day, i, rows int) billLine {
	at := day.Start().Add(time.Duration(int64(i) * int64(24*time.Hour) / int64(max(rows, 1))))
	pay := i - i%10 + min(i%10, 8) // a refund refunds the payment before it
	o := &Order{
		TradeType: "JSAPI", AppID: appID, MchID: mchID, OutTradeNo: fmt.Sprintf("SYN%010d", pay),
		Description: fmt.Sprintf("合成订单，第%d号（测试）", pay), Attach: fmt.Sprintf(`{"n":%d}`, pay),
		Total: 1 + int64(pay)*7919%100_000_00, TransactionID: fmt.Sprintf("4200%024d", pay), OpenID: "oSynthetic",
	}
	l := billLine{at: at, order: o, amount: o.Total}
	if i%10 == 9 {
		l.refund, l.amount = true, max(o.Total/2, 1)
		l.r = &Refund{RefundID: fmt.Sprintf("5030%024d", i), OutRefundNo: fmt.Sprintf("SYNRF%010d", i), Status: RefundSuccess}
	}
	return l
}

// tradeBill answers GET /v3/bill/tradebill.
func (s *Server) tradeBill(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	day, err := channels.ParseDay(q.Get("bill_date"))
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "bill_date must be YYYY-MM-DD")
		return
	case q.Get("bill_type") != "" && q.Get("bill_type") != "ALL":
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "the fake serves bill_type ALL only")
		return
	case q.Get("tar_type") != "":
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "the fake serves plain bills only")
		return
	}
	s.mu.Lock()
	s.bills.init()
	code := s.bills.notReady[day]
	if code == "" && time.Now().Before(day.Start()) {
		code = "NO_STATEMENT_EXIST"
	}
	var fault BillFault
	if code == "" && len(s.bills.faults) > 0 {
		fault, s.bills.faults = s.bills.faults[0], s.bills.faults[1:]
	}
	snap, synthetic := s.bills.synthetic[day]
	var lines []billLine
	if code == "" && !synthetic {
		lines = s.billLines(day)
	}
	s.mu.Unlock()
	if code != "" {
		writeError(w, http.StatusBadRequest, code, "账单文件不存在")
		return
	}
	if !synthetic {
		if snap, err = s.writeBill(each(lines)); err != nil {
			writeError(w, http.StatusInternalServerError, "SYSTEM_ERROR", err.Error())
			return
		}
	}
	hash := snap.sha1
	if fault == BillWrongHash {
		hash = strings.Repeat("0", len(hash))
	}
	token := randomString(32)
	s.mu.Lock()
	s.bills.tokens[token] = snap
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"hash_type": "SHA1", "hash_value": hash,
		"download_url": "https://api.mch.weixin.qq.com" + BillDownloadPath + "?token=" + token,
	})
}

// serveBill serves the file of a download URL, once. The answer is not
// signed: WeChat Pay does not sign files.
func (s *Server) serveBill(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	s.mu.Lock()
	s.bills.init()
	snap, ok := s.bills.tokens[token]
	delete(s.bills.tokens, token)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "download_url expired: query the bill again")
		return
	}
	if !snap.keep {
		defer os.Remove(snap.path)
	}
	f, err := os.Open(snap.path)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "SYSTEM_ERROR", err.Error())
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = io.Copy(w, f)
}

// billLine is one detail row: a payment of order, or its refund r.
type billLine struct {
	at     time.Time
	order  *Order
	refund bool
	r      *Refund
	amount int64 // fen, as the bill shows it
}

// billLines lists the rows of day: each payment that succeeded that day and
// each refund applied for that day, ordered by time. Called with s.mu held.
func (s *Server) billLines(day channels.Day) []billLine {
	var out []billLine
	for _, o := range s.orders {
		if o.TransactionID == "" || !day.Contains(o.SuccessTime) {
			continue
		}
		amount := o.Total
		if v, ok := s.bills.amounts[billKey(o.OutTradeNo, "")]; ok {
			amount = v
		}
		cp := *o
		out = append(out, billLine{at: o.SuccessTime, order: &cp, amount: amount})
	}
	for _, r := range s.refunds {
		o := s.orders[r.OutTradeNo]
		if o == nil || !day.Contains(r.CreateTime) {
			continue
		}
		amount := r.Refund
		if v, ok := s.bills.amounts[billKey(r.OutTradeNo, r.OutRefundNo)]; ok {
			amount = v
		}
		oc, rc := *o, *r
		out = append(out, billLine{at: r.CreateTime, order: &oc, refund: true, r: &rc, amount: amount})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		if a.order.OutTradeNo != b.order.OutTradeNo {
			return a.order.OutTradeNo < b.order.OutTradeNo
		}
		return !a.refund && b.refund
	})
	return out
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

const (
	billHeader    = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
	summaryHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)

// yuan formats fen with two decimals.
func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// fee formats a fee in units of 0.00001 yuan with five decimals, as
// WeChat Pay writes fees.
func fee(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%05d", sign, v/100000, v%100000)
}

func row(fields ...string) string { return "`" + strings.Join(fields, ",`") }

// writeBill writes a bill to a new file, hashing it.
func (s *Server) writeBill(rows func(emit func(billLine) error) error) (snap billSnapshot, err error) {
	out, err := os.CreateTemp(s.bills.dir, "bill-*.csv")
	if err != nil {
		return snap, err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(out.Name())
		}
	}()
	h := sha1.New()
	bw := bufio.NewWriter(io.MultiWriter(out, h))
	var n, settled, refunded, fees, asked int64
	line := func(text string) { bw.WriteString(text + "\r\n") }
	line(billHeader)
	err = rows(func(l billLine) error {
		n++
		o, openID := l.order, l.order.OpenID
		if openID == "" {
			openID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
		}
		if !l.refund {
			settled += l.amount
			fees += l.amount * 6
			line(row(l.at.In(channels.Beijing).Format("2006-01-02 15:04:05"), o.AppID, o.MchID, "0", "", o.TransactionID,
				o.OutTradeNo, openID, o.TradeType, StateSuccess, "OTHERS", "CNY", yuan(l.amount), "0.00", "0", "0",
				"0.00", "0.00", "", "", o.Description, o.Attach, fee(l.amount*6), "0.60%", yuan(l.amount), "0.00", ""))
			return nil
		}
		refunded += l.amount
		asked += l.amount
		fees -= l.amount * 6
		line(row(l.at.In(channels.Beijing).Format("2006-01-02 15:04:05"), o.AppID, o.MchID, "0", "", o.TransactionID,
			o.OutTradeNo, openID, o.TradeType, StateRefund, "OTHERS", "CNY", "0.00", "0.00", l.r.RefundID, l.r.OutRefundNo,
			yuan(l.amount), "0.00", "ORIGINAL", l.r.Status, o.Description, o.Attach, fee(-l.amount*6), "0.60%", "0.00",
			yuan(l.amount), ""))
		return nil
	})
	if err != nil {
		return snap, err
	}
	line(summaryHeader)
	line(row(fmt.Sprint(n), yuan(settled), yuan(refunded), "0.00", fee(fees), yuan(settled), yuan(asked)))
	if err := bw.Flush(); err != nil {
		return snap, err
	}
	return billSnapshot{path: out.Name(), sha1: hex.EncodeToString(h.Sum(nil))}, nil
}
