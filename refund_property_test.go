package paycenter_test

import (
	"context"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// TestRefundAccountingProperty drives random sequences of refunds (new
// numbers, repeated numbers with the same or other amounts, amounts around
// the balance) against one paid charge and checks them against a model:
// the pay center accepts exactly what the model accepts, and its books
// (refunded, reserved) always equal the model's and never exceed the total.
func TestRefundAccountingProperty(t *testing.T) {
	e := newEnv(t, testdb.SQLite, noWorkers)
	ctx := context.Background()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		no := fmt.Sprintf("prop%08d", run)
		total := rapid.Int64Range(1, 10_000).Draw(rt, "total")
		if _, err := e.pc.CreateCharge(ctx, testAppID, createParams(channels.AliApp, no, total)); err != nil {
			rt.Fatal(err)
		}
		if _, err := e.pc.SandboxPay(ctx, testAppID, no, "success"); err != nil {
			rt.Fatal(err)
		}
		refunded := int64(0)
		fees := map[string]int64{} // accepted refund number → amount
		for i := range rapid.IntRange(1, 12).Draw(rt, "steps") {
			ref := fmt.Sprintf("%sr%d", no, rapid.IntRange(0, i).Draw(rt, "ref"))
			var fee int64
			if prev, ok := fees[ref]; ok && rapid.Bool().Draw(rt, "same") {
				fee = prev
			} else {
				fee = rapid.OneOf(rapid.Int64Range(1, total), rapid.Just(total-refunded), rapid.Just(total-refunded+1)).Draw(rt, "fee")
			}
			_, err := e.pc.Refund(ctx, testAppID, paycenter.RefundParams{OutTradeNo: no, OutRefundNo: ref, RefundFee: fee})
			prev, known := fees[ref]
			switch {
			case fee <= 0:
				if err == nil {
					rt.Fatalf("refund of %d accepted", fee)
				}
			case known && prev == fee:
				if err != nil {
					rt.Fatalf("resubmitting refund %s (%d): %v", ref, fee, err)
				}
			case known:
				if code(err) != paycenter.CodeExists {
					rt.Fatalf("refund %s with another amount: want 20003, got %v", ref, err)
				}
			case refunded+fee <= total:
				if err != nil {
					rt.Fatalf("refund %s of %d with %d of %d refunded: %v", ref, fee, refunded, total, err)
				}
				fees[ref], refunded = fee, refunded+fee
			default:
				if code(err) != paycenter.CodeOverLimit {
					rt.Fatalf("refund %s of %d with %d of %d refunded: want 10009, got %v", ref, fee, refunded, total, err)
				}
			}
			var c models.Charge
			if err := e.pc.DB().Table(e.pc.Tables().Charges).Where("out_trade_no = ?", no).Take(&c).Error; err != nil {
				rt.Fatal(err)
			}
			if c.RefundedFee != refunded || c.RefundReserved != refunded || c.RefundedFee > c.TotalFee {
				rt.Fatalf("books: refunded %d, reserved %d, total %d; model %d", c.RefundedFee, c.RefundReserved, c.TotalFee, refunded)
			}
		}
	})
}
