package alipay

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/internal/billtest"
)

const (
	testDetailHead = "#支付宝业务明细查询\n#账号：[20880000000000000156]\n#起始日期：[2026年03月14日 00:00:00]   终止日期：[2026年03月15日 00:00:00]\n#-----------------------------------------业务明细列表----------------------------------------\n"
	testColumns    = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n"
	testPay        = "2026031422001\t,A1\t,交易,茶,2026-03-14 10:00:00,2026-03-14 10:00:05,,,,,bu***@example.com,12.34,12.34,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.07,0.00,appId=11\n"
	testRef        = "2026031422001\t,A1\t,退款,茶,2026-03-14 11:00:00,2026-03-14 11:00:00,,,,,bu***@example.com,-1.00,-1.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,R1\t,0.01,0.00,appId=11\n"
	testDetailTail = "#-----------------------------------------业务明细列表结束------------------------------------\n#交易合计：1笔，商家实收共12.34元，商家优惠共0.00元\n#退款合计：1笔，商家实收退款共-1.00元，商家优惠退款共0.00元\n#导出时间：[2026年03月15日 09:12:34]\n"
	testSummary    = "#支付宝业务汇总查询\n#账号：[20880000000000000156]\n#-----------------------------------------业务汇总列表----------------------------------------\n门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）\n合计,,1,1,11.34,11.34,0.00,0.00,0.00,-0.06,0.00,11.28\n#----------------------------------------业务汇总列表结束-------------------------------------\n"
	detailName     = "20880000000000000156_20260314_业务明细.csv"
	summaryName    = "20880000000000000156_20260314_业务明细(汇总).csv"
)

// archive zips files, GBK-encoded, as Alipay does.
func archive(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		name, _ := simplifiedchinese.GBK.NewEncoder().String(files[i])
		body, err := simplifiedchinese.GBK.NewEncoder().String(files[i+1])
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, NonUTF8: true})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parseArchive(t *testing.T, raw []byte) ([]channels.BillRow, *channels.BillSummary, error) {
	t.Helper()
	day := channels.NewDay(2026, 3, 14)
	return billtest.Parse(t, bytes.NewReader(raw), func(f *channels.BillFile) (channels.BillReader, error) { return openTradeBill(f, day) })
}

func TestParseTradeBillArchive(t *testing.T) {
	detail := testDetailHead + testColumns + testPay + testRef + testDetailTail
	rows, sum, err := parseArchive(t, archive(t, detailName, strings.ReplaceAll(detail, "\n", "\r\n"), summaryName, testSummary))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Amount != 1234 || rows[0].TransactionID != "2026031422001" || rows[0].OutTradeNo != "A1" ||
		rows[0].MchID != "20880000000000000156" || rows[0].Attach != "appId=11" || rows[0].Time.Second() != 5 ||
		rows[1].Kind != channels.BillRefund || rows[1].Amount != 100 || rows[1].OutRefundNo != "R1" || rows[1].Line != 7 {
		t.Fatalf("rows = %+v", rows)
	}
	if sum.Payments.Value != 1 || sum.Refunds.Value != 1 || sum.NetAmount.Value != 1134 || sum.Rows.Value != 2 {
		t.Fatalf("summary = %+v", *sum)
	}

	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"not a zip", []byte("<html>404</html>"), "not a readable zip"},
		{"no summary file", archive(t, detailName, detail), "lacks its detail"},
		{"no detail file", archive(t, summaryName, testSummary), "lacks its detail"},
		{"two detail files", archive(t, detailName, detail, "x_业务明细.csv", detail, summaryName, testSummary), "two files"},
		{"no total row", archive(t, detailName, detail, summaryName, strings.Replace(testSummary, "合计,", "小计,", 1)), "no total row"},
		{"bad total", archive(t, detailName, detail, summaryName, strings.Replace(testSummary, ",11.34,11.34", ",11.345,11.34", 1)), "订单金额"},
		{"no header", archive(t, detailName, testDetailHead+testDetailTail, summaryName, testSummary), "no header line"},
		{"missing column", archive(t, detailName, testDetailHead+strings.Replace(testColumns, ",备注", "", 1)+testDetailTail, summaryName, testSummary), "no column 备注"},
		{"unknown kind", archive(t, detailName, testDetailHead+testColumns+strings.Replace(testPay, ",交易,", ",转账,", 1), summaryName, testSummary), "line 6: 业务类型"},
		{"negative payment", archive(t, detailName, testDetailHead+testColumns+strings.Replace(testPay, ",12.34,", ",-12.34,", 1), summaryName, testSummary), "negative"},
		{"bad amount", archive(t, detailName, testDetailHead+testColumns+strings.Replace(testPay, ",12.34,", ",12.3.4,", 1), summaryName, testSummary), "订单金额"},
		{"bad time", archive(t, detailName, testDetailHead+testColumns+strings.Replace(testPay, "2026-03-14 10:00:05", "10:00", 1), summaryName, testSummary), "完成时间"},
		{"short row", archive(t, detailName, testDetailHead+testColumns+strings.Replace(testPay, ",appId=11", "", 1), summaryName, testSummary), "24 fields"},
		{"open quote", archive(t, detailName, testDetailHead+testColumns+strings.Replace(testPay, ",茶,", `,"茶,`, 1), summaryName, testSummary), "quoting"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, _, err := parseArchive(t, c.raw)
			if !errors.Is(err, channels.ErrBillInvalid) || rows != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrBillInvalid naming %q", err, c.want)
			}
		})
	}
}
