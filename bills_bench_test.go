package paycenter_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// BenchmarkReconcileBill reconciles a generated Alipay bill of 1,000,000
// rows (the fake's SyntheticBill: nine payments, then a refund of the
// ninth, over and over) whose every payment and refund the pay center has,
// through the real adapter (download, GBK zip, parse) and the real
// database, and reports rows/s and the peak heap of the run. Each
// iteration is a whole run again for the same day (they all match).
//
//	go test -run '^$' -bench ReconcileBill -benchtime 1x .
//
// PAYCENTER_BENCH_BILL_ROWS changes the number of rows;
// PAYCENTER_BENCH_DB=postgres|mysql runs it there (with the DSNs of the
// tests). Seeding the pay center's side takes a while and is not timed.
func BenchmarkReconcileBill(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("PAYCENTER_BENCH_BILL_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			b.Fatalf("PAYCENTER_BENCH_BILL_ROWS=%q: want a number of rows, 10 or more", v)
		}
		rows = n
	}
	kind := testdb.SQLite
	if v := os.Getenv("PAYCENTER_BENCH_DB"); v != "" {
		kind = testdb.Kind(v)
	}
	ctx := context.Background()
	fake := alipaytest.New(b, alipaytest.NewKeys(b, alipaytest.PublicKeyMode))
	e := newBillEnv(b, testdb.Open(b, kind), aliGateway{fake})
	day := channels.DayOf(time.Now()).AddDays(-1)
	if err := fake.SyntheticBill(day, rows); err != nil {
		b.Fatal(err)
	}
	seedSynthetic(b, e, "alipay:"+fake.Keys.AppID, day, rows)

	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	for range b.N {
		stop := samplePeakHeap(&peak)
		reports, err := e.pc.Reconcile(ctx, channels.ProviderAlipay, day)
		stop()
		if err != nil {
			b.Fatal(err)
		}
		if r := reports[0]; r.BillRows != int64(rows) || r.Matched != int64(rows) || r.OpenDiscrepancies != 0 {
			b.Fatalf("report: %d rows, %d matched, %d discrepancies (%+v)", r.BillRows, r.Matched, r.OpenDiscrepancies, r.Discrepancies)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(0, "ns/op") // one op is a whole bill: rows/s says it better
}

// seedSynthetic inserts the pay center's side of a synthetic bill: a paid
// charge per payment row and a succeeded refund per refund row, in
// batches, straight into the tables.
func seedSynthetic(b testing.TB, e *billEnv, account string, day channels.Day, rows int) {
	b.Helper()
	db, t := e.pc.DB(), e.pc.Tables()
	var charges []models.Charge
	var refunds []models.Refund
	flush := func() {
		if len(charges) > 0 {
			if err := db.Table(t.Charges).CreateInBatches(charges, 500).Error; err != nil {
				b.Fatal(err)
			}
		}
		if len(refunds) > 0 {
			if err := db.Table(t.Refunds).CreateInBatches(refunds, 500).Error; err != nil {
				b.Fatal(err)
			}
		}
		charges, refunds = charges[:0], refunds[:0]
	}
	now := time.Now().UTC()
	for i := range rows {
		kind, no, fen := alipaytest.SyntheticRow(day, i, rows)
		at := day.Start().Add(time.Duration(int64(i) * int64(24*time.Hour) / int64(rows))).UTC()
		if kind == channels.BillPayment {
			charges = append(charges, models.Charge{AppID: testAppID, OutTradeNo: no, Account: account, Channel: channels.AliWeb,
				TotalFee: fen, FeeType: "CNY", ClientIP: "127.0.0.1", Subject: "s", Body: "b", CreatedMs: now.UnixMilli(),
				TimeExpire: 86400, ExpireAt: at.Add(24 * time.Hour), Status: models.ChargePaid, PaidAt: &at,
				TransactionID: fmt.Sprint("tx", i), CreatedAt: now, UpdatedAt: now})
		} else {
			// The fake numbers the refund of row i SYNRF + i.
			refunds = append(refunds, models.Refund{AppID: testAppID, OutRefundNo: fmt.Sprintf("SYNRF%010d", i), Account: account,
				OutTradeNo: no, RefundFee: fen, Status: models.RefundSucceeded, Submitted: true, RefundedAt: &at,
				CreatedAt: now, UpdatedAt: now})
		}
		if len(charges) >= 5000 {
			flush()
		}
	}
	flush()
}

// samplePeakHeap records the largest live heap seen until stop is called,
// sampling every 5 ms (a run of a large bill lasts seconds).
func samplePeakHeap(peak *uint64) (stop func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > *peak {
			*peak = v
		}
	}
	runtime.GC()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
