package wechat_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/internal/billtest"
	"github.com/gopaycenter/paycenter/channels/wechat"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
)

// sell places and pays a WX_NATIVE order and moves its payment to at.
func sell(t *testing.T, srv *wechattest.Server, ch *wechat.Channel, no, subject, attach string, fee int64, at time.Time) {
	t.Helper()
	req := createReq(channels.WxNative, no, fee)
	// attach carries the marker: the bill echoes whatever was sent.
	req.Subject, req.Marker = subject, attach
	if _, err := ch.Create(context.Background(), req); err != nil {
		t.Fatalf("Create %s: %v", no, err)
	}
	if _, err := srv.Pay(no); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPaidAt(no, at); err != nil {
		t.Fatal(err)
	}
}

// TestBillRoundTrip builds a day of business at the fake (payments of
// 0.01 and 1,234,567.89 yuan, partial and full refunds, one still
// processing, a refund made by hand in the merchant platform, a foreign
// order, a payment the bill shows with another amount, and business just
// outside the day) and reads the bill back through the real parser. It is
// long on purpose: one day, one bill, every row checked against one list.
func TestBillRoundTrip(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			tmp := billtest.TempDir(t)
			ctx := context.Background()
			srv := wechattest.NewServer(t)
			ch := newChannel(t, srv, mode)
			day := channels.DayOf(time.Now()).AddDays(-1)
			at := func(h, m, s int) time.Time { return day.Start().Add(time.Duration(h*3600+m*60+s) * time.Second) }

			const tea, box = "龙井茶，明前：特级（250g）", "礼盒, 含加急"
			const data = `{"order":42,"note":"a, b"}`
			sell(t, srv, ch, "W-MIN", tea, "", 1, at(0, 0, 0))
			sell(t, srv, ch, "W-MAX", "大额订单", data, 123456789, at(9, 30, 0))
			sell(t, srv, ch, "W-REF", box, "order=7", 10000, at(10, 0, 0))
			sell(t, srv, ch, "W-HAND", "茶具", "", 5000, at(11, 0, 0))
			sell(t, srv, ch, "W-DIFF", "茶叶", "", 2000, at(12, 0, 0))
			sell(t, srv, ch, "W-LATE", "明天的订单", "", 700, day.End())
			sell(t, srv, ch, "W-EARLY", "昨天的订单", "", 600, day.Start().Add(-time.Second))

			refund := func(no string, fee int64, when time.Time, settle bool) wechattest.Refund {
				t.Helper()
				req := &channels.RefundRequest{AppID: "11", Code: channels.WxNative, OutTradeNo: "W-REF", OutRefundNo: no, RefundFee: fee, TotalFee: 10000}
				if _, err := ch.Refund(ctx, req); err != nil {
					t.Fatalf("Refund %s: %v", no, err)
				}
				if settle {
					if _, err := srv.SettleRefund(no, wechattest.RefundSuccess); err != nil {
						t.Fatal(err)
					}
				}
				if err := srv.SetRefundAt(no, when); err != nil {
					t.Fatal(err)
				}
				r, _ := srv.Refund(no)
				return r
			}
			part := refund("R-PART", 3000, at(13, 0, 0), true)
			rest := refund("R-REST", 7000, at(23, 59, 59), false) // still processing
			hand, err := srv.RefundByHand("W-HAND", 500)
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.SetRefundAt(hand.OutRefundNo, at(14, 0, 0)); err != nil {
				t.Fatal(err)
			}
			hand, _ = srv.Refund(hand.OutRefundNo)
			if _, err := srv.PayForeign("FOREIGN-1", 888, "别人的订单"); err != nil {
				t.Fatal(err)
			}
			if err := srv.SetPaidAt("FOREIGN-1", at(15, 0, 0)); err != nil {
				t.Fatal(err)
			}
			srv.SetBillAmount("W-DIFF", "", 1999)

			r, err := ch.DownloadBill(ctx, day)
			if err != nil {
				t.Fatalf("DownloadBill: %v", err)
			}
			rows := billtest.ReadAll(t, r)

			tx := func(no string) string { o, _ := srv.Order(no); return o.TransactionID }
			pay := func(no, name, attach string, fen int64, when time.Time) channels.BillRow {
				return channels.BillRow{Kind: channels.BillPayment, OutTradeNo: no, TransactionID: tx(no), Amount: fen,
					Time: when, Status: "SUCCESS", TradeType: "NATIVE", AppID: srv.AppID, MchID: srv.MchID,
					Attach: attach, ProductName: name}
			}
			ref := func(no string, rf wechattest.Refund, name, attach, status string) channels.BillRow {
				return channels.BillRow{Kind: channels.BillRefund, OutTradeNo: no, OutRefundNo: rf.OutRefundNo,
					TransactionID: tx(no), RefundID: rf.RefundID, Amount: rf.Refund, Time: rf.CreateTime, Status: status,
					TradeType: "NATIVE", AppID: srv.AppID, MchID: srv.MchID, Attach: attach, ProductName: name}
			}
			want := []channels.BillRow{
				pay("W-MIN", tea, "", 1, at(0, 0, 0)),
				pay("W-MAX", "大额订单", data, 123456789, at(9, 30, 0)),
				pay("W-REF", box, "order=7", 10000, at(10, 0, 0)),
				pay("W-HAND", "茶具", "", 5000, at(11, 0, 0)),
				pay("W-DIFF", "茶叶", "", 1999, at(12, 0, 0)),
				ref("W-REF", part, box, "order=7", "SUCCESS"),
				ref("W-HAND", hand, "茶具", "", "SUCCESS"),
				pay("FOREIGN-1", "别人的订单", "", 888, at(15, 0, 0)),
				ref("W-REF", rest, box, "order=7", "PROCESSING"),
			}
			billtest.AssertRows(t, rows, want, 2) // after the header

			s := r.Summary()
			tally := billtest.Tally(rows)
			if err := s.Check(tally); err != nil {
				t.Errorf("summary disagrees with the rows: %v", err)
			}
			paid, refunded := int64(1+123456789+10000+5000+1999+888), int64(3000+500+7000)
			if s.Rows != (channels.Figure{Value: 9, Stated: true}) ||
				s.PaymentAmount != (channels.Figure{Value: paid, Stated: true}) ||
				s.RefundAmount != (channels.Figure{Value: refunded, Stated: true}) ||
				s.NetAmount != (channels.Figure{Value: paid - refunded, Stated: true}) ||
				s.Payments.Stated || s.Refunds.Stated {
				t.Errorf("summary = %+v", *s)
			}
			tally.RefundAmount--
			if s.Check(tally) == nil {
				t.Error("Check accepted a tally a fen short")
			}

			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			billtest.AssertNoFiles(t, tmp)
			calls := srv.Calls()
			if !slices.Contains(calls, "GET "+wechattest.BillDownloadPath) || srv.Rejected() != 0 {
				t.Errorf("the download was not a signed call the fake accepted: calls %v, rejected %d", calls, srv.Rejected())
			}
		})
	}
}

func TestBillWrongHashRefused(t *testing.T) {
	tmp := billtest.TempDir(t)
	srv := wechattest.NewServer(t)
	ch := newChannel(t, srv, wechattest.PublicKeyMode)
	day := channels.DayOf(time.Now()).AddDays(-1)
	sell(t, srv, ch, "H-1", "茶", "", 100, day.Start().Add(time.Hour))
	srv.FailNextBill(wechattest.BillWrongHash)
	r, err := ch.DownloadBill(context.Background(), day)
	if !errors.Is(err, channels.ErrBillInvalid) || r != nil {
		t.Fatalf("DownloadBill = %v, %v; want ErrBillInvalid and no reader", r, err)
	}
	billtest.AssertNoFiles(t, tmp)

	r, err = ch.DownloadBill(context.Background(), day)
	if err != nil {
		t.Fatalf("DownloadBill after the fault: %v", err)
	}
	defer r.Close()
	if rows := billtest.ReadAll(t, r); len(rows) != 1 || rows[0].OutTradeNo != "H-1" {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestBillNotReady(t *testing.T) {
	srv := wechattest.NewServer(t)
	ch := newChannel(t, srv, wechattest.PublicKeyMode)
	ctx := context.Background()
	day := channels.DayOf(time.Now()).AddDays(-1)
	for _, code := range []string{"NO_STATEMENT_EXIST", "STATEMENT_CREATING"} {
		srv.SetBillNotReady(day, code)
		r, err := ch.DownloadBill(ctx, day)
		if !errors.Is(err, channels.ErrBillNotReady) || r != nil || channels.IsDefinite(err) {
			t.Fatalf("%s: DownloadBill = %v, %v; want ErrBillNotReady", code, r, err)
		}
	}
	if _, err := ch.DownloadBill(ctx, channels.DayOf(time.Now()).AddDays(1)); !errors.Is(err, channels.ErrBillNotReady) {
		t.Fatalf("tomorrow: err = %v, want ErrBillNotReady", err)
	}
	srv.SetBillNotReady(day, "")
	r, err := ch.DownloadBill(ctx, day)
	if err != nil {
		t.Fatalf("DownloadBill once ready: %v", err)
	}
	_ = r.Close()
	if _, err := ch.DownloadBill(ctx, channels.Day{}); err == nil {
		t.Error("zero day: no error")
	}
}

// TestBillAnswerVerified checks the SDK's signature verification stays on
// for the bill query (nothing is downloaded after a bad answer), and how
// refusals are classified.
func TestBillAnswerVerified(t *testing.T) {
	tmp := billtest.TempDir(t)
	srv := wechattest.NewServer(t)
	ch := newChannel(t, srv, wechattest.CertMode)
	ctx := context.Background()
	day := channels.DayOf(time.Now()).AddDays(-1)

	srv.FailNext(wechattest.Fault{BadSignature: true})
	r, err := ch.DownloadBill(ctx, day)
	if err == nil || r != nil || channels.IsDefinite(err) || errors.Is(err, channels.ErrBillNotReady) {
		t.Fatalf("bad signature: DownloadBill = %v, %v; want an unknown outcome", r, err)
	}
	srv.FailNext(wechattest.Fault{Status: 400, Code: "INVALID_REQUEST", Message: "账单日期格式不正确"})
	_, err = ch.DownloadBill(ctx, day)
	var ce *channels.Error
	if !errors.As(err, &ce) || ce.Code != "INVALID_REQUEST" {
		t.Fatalf("refusal: err = %v, want *channels.Error INVALID_REQUEST", err)
	}
	srv.FailNext(wechattest.Fault{Status: 500, Code: "SYSTEM_ERROR", Message: "busy"})
	if _, err = ch.DownloadBill(ctx, day); err == nil || channels.IsDefinite(err) {
		t.Fatalf("5xx: err = %v, want an unknown outcome", err)
	}
	for _, c := range srv.Calls() {
		if c == "GET "+wechattest.BillDownloadPath {
			t.Fatal("a bill was downloaded after an answer that was not accepted")
		}
	}
	billtest.AssertNoFiles(t, tmp)
}

// BenchmarkDownloadBill downloads and reads a generated bill of a million
// rows, hashing it on the way (see billtest.Benchmark for what it reports).
func BenchmarkDownloadBill(b *testing.B) {
	const rows = 1_000_000
	b.Setenv("TMPDIR", b.TempDir())
	srv := wechattest.NewServer(b)
	ch, err := wechat.New(srv.ChannelConfig(wechattest.PublicKeyMode))
	if err != nil {
		b.Fatal(err)
	}
	day := channels.DayOf(time.Now()).AddDays(-1)
	if err := srv.SyntheticBill(day, rows); err != nil {
		b.Fatal(err)
	}
	billtest.Benchmark(b, rows,
		func() (channels.BillReader, error) { return ch.DownloadBill(context.Background(), day) },
		func(i int) (channels.BillRowKind, string, int64) { return wechattest.SyntheticRow(day, i, rows) })
}
