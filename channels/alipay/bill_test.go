package alipay_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/channels/internal/billtest"
)

// sell opens and pays an ALI_WEB charge with subject, and moves its payment
// to at.
func sell(t *testing.T, fake *alipaytest.Fake, ch *alipay.Channel, no, subject string, fee int64, at time.Time) {
	t.Helper()
	req := createReq(channels.AliWeb, no, fee)
	req.Subject = subject
	params, err := ch.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("Create %s: %v", no, err)
	}
	fake.MustSubmit(t, params)
	if err := fake.Pay(no); err != nil {
		t.Fatal(err)
	}
	if err := fake.SetPaidAt(no, at); err != nil {
		t.Fatal(err)
	}
}

// TestBillRoundTrip builds a day of business at the fake (payments of
// 0.01 and 1,234,567.89 yuan, partial and full refunds, a refund made by
// hand in the console, a foreign order, a payment the bill shows with
// another amount, and business just outside the day) and reads the bill
// back through the real parser. It is long on purpose: one day, one bill,
// every row checked against one list.
func TestBillRoundTrip(t *testing.T) {
	for _, mode := range alipaytest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			tmp := billtest.TempDir(t)
			ctx := context.Background()
			fake, ch := setup(t, mode)
			day := channels.DayOf(time.Now()).AddDays(-1)
			at := func(h, m, s int) time.Time { return day.Start().Add(time.Duration(h*3600+m*60+s) * time.Second) }

			const tea = "龙井茶，明前：特级（250g）"
			sell(t, fake, ch, "B-MIN", tea, 1, at(0, 0, 0))
			sell(t, fake, ch, "B-MAX", "大额订单", 123456789, at(9, 30, 0))
			sell(t, fake, ch, "B-REF", `礼盒, 含"双"引号`, 10000, at(10, 0, 0))
			sell(t, fake, ch, "B-HAND", "茶具", 5000, at(11, 0, 0))
			sell(t, fake, ch, "B-DIFF", "茶叶", 2000, at(12, 0, 0))
			sell(t, fake, ch, "B-LATE", "明天的订单", 700, day.End())
			sell(t, fake, ch, "B-EARLY", "昨天的订单", 600, day.Start().Add(-time.Second))

			refund := func(no string, fee int64, when time.Time) {
				t.Helper()
				req := &channels.RefundRequest{AppID: "11", Code: channels.AliWeb, OutTradeNo: "B-REF", OutRefundNo: no, RefundFee: fee, TotalFee: 10000}
				if _, err := ch.Refund(ctx, req); err != nil {
					t.Fatalf("Refund %s: %v", no, err)
				}
				if err := fake.SetRefundedAt("B-REF", no, when); err != nil {
					t.Fatal(err)
				}
			}
			refund("R-PART", 3000, at(13, 0, 0))
			refund("R-REST", 7000, at(23, 59, 59))
			hand, err := fake.RefundByHand("B-HAND", 500)
			if err != nil {
				t.Fatal(err)
			}
			if err := fake.SetRefundedAt("B-HAND", hand, at(14, 0, 0)); err != nil {
				t.Fatal(err)
			}
			if err := fake.PayForeign("FOREIGN-1", 888, "别人的订单"); err != nil {
				t.Fatal(err)
			}
			if err := fake.SetPaidAt("FOREIGN-1", at(15, 0, 0)); err != nil {
				t.Fatal(err)
			}
			fake.SetBillAmount("B-DIFF", "", 1999)

			r, err := ch.DownloadBill(ctx, day)
			if err != nil {
				t.Fatalf("DownloadBill: %v", err)
			}
			rows := billtest.ReadAll(t, r)

			tx := func(no string) string { tr, _ := fake.Trade(no); return tr.TradeNo }
			pay := func(no, name string, fen int64, when time.Time, attach string) channels.BillRow {
				return channels.BillRow{Kind: channels.BillPayment, OutTradeNo: no, TransactionID: tx(no), Amount: fen,
					Time: when, Status: "交易", MchID: fake.Keys.SellerID, Attach: attach, ProductName: name}
			}
			ref := func(no, refundNo, name string, fen int64, when time.Time) channels.BillRow {
				return channels.BillRow{Kind: channels.BillRefund, OutTradeNo: no, OutRefundNo: refundNo, TransactionID: tx(no),
					Amount: fen, Time: when, Status: "退款", MchID: fake.Keys.SellerID, Attach: "appId=11&marker=m" + no, ProductName: name}
			}
			want := []channels.BillRow{
				pay("B-MIN", tea, 1, at(0, 0, 0), "appId=11&marker=mB-MIN"),
				pay("B-MAX", "大额订单", 123456789, at(9, 30, 0), "appId=11&marker=mB-MAX"),
				pay("B-REF", `礼盒, 含"双"引号`, 10000, at(10, 0, 0), "appId=11&marker=mB-REF"),
				pay("B-HAND", "茶具", 5000, at(11, 0, 0), "appId=11&marker=mB-HAND"),
				pay("B-DIFF", "茶叶", 1999, at(12, 0, 0), "appId=11&marker=mB-DIFF"),
				ref("B-REF", "R-PART", `礼盒, 含"双"引号`, 3000, at(13, 0, 0)),
				ref("B-HAND", hand, "茶具", 500, at(14, 0, 0)),
				pay("FOREIGN-1", "别人的订单", 888, at(15, 0, 0), ""),
				ref("B-REF", "R-REST", `礼盒, 含"双"引号`, 7000, at(23, 59, 59)),
			}
			billtest.AssertRows(t, rows, want, 6) // after 4 comment lines and the header

			s := r.Summary()
			tally := billtest.Tally(rows)
			if err := s.Check(tally); err != nil {
				t.Errorf("summary disagrees with the rows: %v", err)
			}
			wantNet := int64(1 + 123456789 + 10000 + 5000 + 1999 + 888 - 3000 - 500 - 7000)
			if s.Payments != (channels.Figure{Value: 6, Stated: true}) || s.Refunds != (channels.Figure{Value: 3, Stated: true}) ||
				s.Rows != (channels.Figure{Value: 9, Stated: true}) || s.NetAmount != (channels.Figure{Value: wantNet, Stated: true}) ||
				s.PaymentAmount.Stated || s.RefundAmount.Stated {
				t.Errorf("summary = %+v", *s)
			}
			tally.Payments++
			if s.Check(tally) == nil {
				t.Error("Check accepted a tally with one payment too many")
			}

			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			billtest.AssertNoFiles(t, tmp)
			if _, err := r.Next(); err == nil {
				t.Error("Next after Close returned no error")
			}
		})
	}
}

// TestBillEmptyDay reads a bill with no rows: a day the account had no
// business but Alipay still wrote a bill.
func TestBillEmptyDay(t *testing.T) {
	_, ch := setup(t, alipaytest.PublicKeyMode)
	r, err := ch.DownloadBill(context.Background(), channels.DayOf(time.Now()).AddDays(-3))
	if err != nil {
		t.Fatalf("DownloadBill: %v", err)
	}
	defer r.Close()
	if rows := billtest.ReadAll(t, r); len(rows) != 0 {
		t.Fatalf("rows = %+v, want none", rows)
	}
	if err := r.Summary().Check(channels.BillTally{}); err != nil || !r.Summary().Rows.Stated || r.Summary().Rows.Value != 0 {
		t.Fatalf("summary = %+v, %v", *r.Summary(), err)
	}
}

func TestBillRefused(t *testing.T) {
	for _, fault := range []struct {
		name  string
		fault alipaytest.BillFault
	}{{"truncated", alipaytest.BillTruncated}, {"corrupt", alipaytest.BillCorrupt}} {
		t.Run(fault.name, func(t *testing.T) {
			tmp := billtest.TempDir(t)
			fake, ch := setup(t, alipaytest.PublicKeyMode)
			day := channels.DayOf(time.Now()).AddDays(-1)
			sell(t, fake, ch, "T-1", "茶", 100, day.Start().Add(time.Hour))
			fake.FailNextBill(fault.fault)
			r, err := ch.DownloadBill(context.Background(), day)
			if !errors.Is(err, channels.ErrBillInvalid) || r != nil {
				t.Fatalf("DownloadBill = %v, %v; want ErrBillInvalid and no reader", r, err)
			}
			billtest.AssertNoFiles(t, tmp)

			// The next download (a fresh URL) is whole again.
			r, err = ch.DownloadBill(context.Background(), day)
			if err != nil {
				t.Fatalf("DownloadBill after the fault: %v", err)
			}
			defer r.Close()
			if rows := billtest.ReadAll(t, r); len(rows) != 1 || rows[0].OutTradeNo != "T-1" {
				t.Fatalf("rows = %+v", rows)
			}
		})
	}
}

func TestBillNotReady(t *testing.T) {
	fake, ch := setup(t, alipaytest.PublicKeyMode)
	ctx := context.Background()
	day := channels.DayOf(time.Now()).AddDays(-1)
	fake.SetBillNotReady(day, true)
	for _, d := range []channels.Day{day, channels.DayOf(time.Now()).AddDays(1)} {
		r, err := ch.DownloadBill(ctx, d)
		if !errors.Is(err, channels.ErrBillNotReady) || r != nil {
			t.Fatalf("DownloadBill(%s) = %v, %v; want ErrBillNotReady", d, r, err)
		}
		if channels.IsDefinite(err) {
			t.Errorf("not ready is a definite refusal: %v", err)
		}
	}
	fake.SetBillNotReady(day, false)
	r, err := ch.DownloadBill(ctx, day)
	if err != nil {
		t.Fatalf("DownloadBill once ready: %v", err)
	}
	_ = r.Close()
	if _, err := ch.DownloadBill(ctx, channels.Day{}); !channels.IsDefinite(err) {
		t.Errorf("zero day: err = %v, want a definite refusal", err)
	}
}

// TestBillAnswerVerified checks the SDK's signature verification stays on
// for the download-URL query, and how refusals are classified.
func TestBillAnswerVerified(t *testing.T) {
	tmp := billtest.TempDir(t)
	fake, ch := setup(t, alipaytest.CertMode)
	ctx := context.Background()
	day := channels.DayOf(time.Now()).AddDays(-1)
	for _, kind := range []alipaytest.FaultKind{alipaytest.FaultBadSignature, alipaytest.FaultUnsigned, alipaytest.FaultGarbled} {
		fake.FailNext(alipaytest.MethodBillDownloadURL, alipaytest.Fault{Kind: kind})
		r, err := ch.DownloadBill(ctx, day)
		if r != nil || errors.Is(err, channels.ErrBillNotReady) {
			t.Fatalf("fault %d: DownloadBill = %v, %v", kind, r, err)
		}
		assertUnknown(t, fake, err)
	}
	fake.FailNext(alipaytest.MethodBillDownloadURL, alipaytest.Fault{Kind: alipaytest.FaultBusiness, Code: "40004", SubCode: "isv.invalid_arguments", SubMsg: "入参不合法"})
	_, err := ch.DownloadBill(ctx, day)
	var ce *channels.Error
	if !errors.As(err, &ce) || ce.Code != "isv.invalid_arguments" {
		t.Fatalf("refusal: err = %v, want *channels.Error isv.invalid_arguments", err)
	}
	if n := fake.Calls(alipaytest.MethodBillDownloadURL); n != 4 {
		t.Errorf("gateway saw %d queries, want 4", n)
	}
	billtest.AssertNoFiles(t, tmp)
}

// BenchmarkDownloadBill downloads and reads a generated bill of a million
// rows (see billtest.Benchmark for what it reports).
func BenchmarkDownloadBill(b *testing.B) {
	const rows = 1_000_000
	b.Setenv("TMPDIR", b.TempDir())
	fake := alipaytest.New(b, alipaytest.NewKeys(b, alipaytest.PublicKeyMode))
	ch := fake.Channel(b)
	day := channels.DayOf(time.Now()).AddDays(-1)
	if err := fake.SyntheticBill(day, rows); err != nil {
		b.Fatal(err)
	}
	billtest.Benchmark(b, rows,
		func() (channels.BillReader, error) { return ch.DownloadBill(context.Background(), day) },
		func(i int) (channels.BillRowKind, string, int64) { return alipaytest.SyntheticRow(day, i, rows) })
}

// TestBillArchiveIsGBK looks at the raw archive the fake serves: GBK file
// names without the zip's UTF-8 flag and GBK content, checked against
// bytes written down independently of the encoder ("支付宝交易号" and
// "（" in GBK).
func TestBillArchiveIsGBK(t *testing.T) {
	fake, ch := setup(t, alipaytest.PublicKeyMode)
	day := channels.DayOf(time.Now()).AddDays(-1)
	sell(t, fake, ch, "G-1", "特级（250g）", 100, day.Start().Add(time.Hour))
	raw, err := fake.BillArchive(day)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 2 {
		t.Fatalf("%d files in the archive, want 2", len(zr.File))
	}
	header := []byte{0xd6, 0xa7, 0xb8, 0xb6, 0xb1, 0xa6, 0xbd, 0xbb, 0xd2, 0xd7, 0xba, 0xc5} // 支付宝交易号
	paren := []byte{0xa3, 0xa8}                                                              // （
	details := 0
	for _, zf := range zr.File {
		if !zf.NonUTF8 || zf.Flags&0x800 != 0 || utf8.ValidString(zf.Name) {
			t.Errorf("entry name %q: want GBK without the UTF-8 flag", zf.Name)
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if utf8.Valid(b) || !bytes.Contains(b, paren) {
			t.Errorf("entry %q is not GBK text with a full-width parenthesis", zf.Name)
		}
		if bytes.HasSuffix([]byte(zf.Name), []byte{0xc3, 0xf7, 0xcf, 0xb8, 0x2e, 'c', 's', 'v'}) { // 明细.csv
			details++
			if !bytes.Contains(b, header) {
				t.Errorf("detail file lacks the GBK header 支付宝交易号")
			}
		}
	}
	if details != 1 {
		t.Errorf("found %d detail files (…明细.csv), want 1", details)
	}
}
