package wechat

import (
	"errors"
	"strings"
	"testing"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/internal/billtest"
)

const (
	testHeader  = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
	testPayment = "`2026-03-14 10:00:00,`wx1f343894d9cce45d,`1230000109,`0,`,`4200000001,`A1,`oUpF8,`JSAPI,`SUCCESS,`OTHERS,`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`茶,`,`0.07000,`0.60%,`12.34,`0.00,`"
	testRefund  = "`2026-03-14 11:00:00,`wx1f343894d9cce45d,`1230000109,`0,`,`4200000001,`A1,`oUpF8,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5030001,`R1,`1.00,`0.00,`ORIGINAL,`SUCCESS,`茶,`,`-0.00600,`0.60%,`0.00,`1.00,`"
	testSumHead = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
	testSum     = "`2,`12.34,`1.00,`0.00,`0.06400,`12.34,`1.00"
)

func parseBill(t *testing.T, text string) ([]channels.BillRow, *channels.BillSummary, error) {
	t.Helper()
	return billtest.Parse(t, strings.NewReader(text), openTradeBill)
}

func TestParseTradeBill(t *testing.T) {
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	// A BOM, LF line endings and a trailing blank line are accepted.
	rows, sum, err := parseBill(t, "\ufeff"+lines(testHeader, testPayment, testRefund, testSumHead, testSum, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Amount != 1234 || rows[0].Kind != channels.BillPayment || rows[0].OutRefundNo != "" ||
		rows[1].Amount != 100 || rows[1].Kind != channels.BillRefund || rows[1].OutRefundNo != "R1" || rows[1].RefundID != "5030001" ||
		rows[1].Line != 3 {
		t.Fatalf("rows = %+v", rows)
	}
	if sum.Rows.Value != 2 || sum.PaymentAmount.Value != 1234 || sum.RefundAmount.Value != 100 || sum.NetAmount.Value != 1134 {
		t.Fatalf("summary = %+v", *sum)
	}

	for _, c := range []struct{ name, text, want string }{
		{"no summary", lines(testHeader, testPayment), "without its summary"},
		{"summary header only", lines(testHeader, testPayment, testSumHead), "without its summary"},
		{"empty", "", "without its summary"},
		{"missing column", lines(strings.Replace(testHeader, ",申请退款金额", "", 1), testPayment, testSumHead, testSum), "no column 申请退款金额"},
		{"short row", lines(testHeader, strings.TrimSuffix(testPayment, ",`"), testSumHead, testSum), "line 2: 26 fields"},
		{"three decimals", lines(testHeader, strings.Replace(testPayment, "`0.60%,`12.34,", "`0.60%,`12.345,", 1), testSumHead, testSum), "line 2: 订单金额"},
		{"bad amount", lines(testHeader, strings.Replace(testRefund, "`1.00,`", "`-1.00,`", 2), testSumHead, testSum), "申请退款金额"},
		{"bad time", lines(testHeader, strings.Replace(testPayment, "2026-03-14 10:00:00", "2026/03/14 10:00", 1), testSumHead, testSum), "交易时间"},
		{"stray line", lines(testHeader, testPayment, "合计", testSumHead, testSum), "line 3: neither a row"},
		{"after summary", lines(testHeader, testPayment, testSumHead, testSum, testPayment), "line 5: text after the summary"},
		{"bad count", lines(testHeader, testPayment, testSumHead, strings.Replace(testSum, "`2,", "`two,", 1)), "总交易单数"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, _, err := parseBill(t, c.text)
			if !errors.Is(err, channels.ErrBillInvalid) || rows != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrBillInvalid naming %q", err, c.want)
			}
		})
	}
}

func TestFen(t *testing.T) {
	for s, want := range map[string]int64{"0.00": 0, "0.01": 1, "12.34": 1234, "1234567.89": 123456789} {
		if got, err := fen(s); err != nil || got != want {
			t.Errorf("fen(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "1", "1.2", "1.234", "-1.00", "+1.00", ".50", "1.-5", "1e2.00", " 1.00", "12345678901234567.00"} {
		if _, err := fen(bad); err == nil {
			t.Errorf("fen(%q) accepted", bad)
		}
	}
}
