package wechat_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels/wechat/wechattest"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// TestFlowAbnormalRefund: WeChat's ABNORMAL (the money left the merchant
// but could not reach the buyer's card) is not a failure: the refund stays
// ABNORMAL with its amount reserved, a refund.abnormal event goes out, and
// a later query settles it.
func TestFlowAbnormalRefund(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			f := newFlow(t, kind, wechattest.PublicKeyMode)
			const no = "ABNO00000001"
			f.create(client.WxNative, no, 1000)
			o, _ := f.srv.Pay(no)
			if st := f.post(o.NotifyURL, f.srv.PaymentNotification(no, f.mode)); st != http.StatusNoContent {
				t.Fatalf("payment notification answered %d", st)
			}
			if _, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "ABNOR1", RefundFee: 400}); err != nil {
				t.Fatalf("refund: %v", err)
			}
			f.srv.SettleRefund("ABNOR1", wechattest.RefundAbnormal)
			if st := f.post(o.NotifyURL[:len(o.NotifyURL)-len("/paynotify")]+"/refundnotify", f.srv.RefundNotification("ABNOR1", f.mode)); st != http.StatusNoContent {
				t.Fatalf("REFUND.ABNORMAL notification answered %d", st)
			}
			rr, err := f.cl.RefundResult(ctx, "ABNOR1")
			if err != nil || rr.Status != client.RefundStatus("ABNORMAL") {
				t.Fatalf("refund-result = %+v, %v; want ABNORMAL", rr, err)
			}
			if f.refunds.Load() != 0 {
				t.Fatalf("OnRefund ran for a refund that is not final")
			}
			var events int64
			f.pc.DB().Table(f.pc.Tables().Deliveries).Where("type = ?", hooks.RefundAbnormal).Count(&events)
			if events != 1 {
				t.Fatalf("%d refund.abnormal events, want 1", events)
			}
			// The 400 fen stay reserved: 600 can be refunded, not a fen more.
			if _, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "ABNOR2", RefundFee: 600}); err != nil {
				t.Fatalf("refund of the rest: %v", err)
			}
			if _, err := f.cl.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "ABNOR3", RefundFee: 1}); !client.IsCode(err, paycenter.CodeOverLimit) {
				t.Fatalf("refund over the balance with an ABNORMAL refund pending = %v, want 10009", err)
			}
			// The merchant has WeChat pay it out by hand: the next query sees SUCCESS.
			f.srv.SettleRefund("ABNOR1", wechattest.RefundSuccess)
			rr, err = f.cl.RefundResult(ctx, "ABNOR1")
			if err != nil || rr.Status != client.RefundSuccess {
				t.Fatalf("refund-result after settlement = %+v, %v; want SUCCESS", rr, err)
			}
			if c := f.charge(no); c.RefundReserved != 1000 || f.refunds.Load() != 1 {
				t.Fatalf("charge reserved %d fen, OnRefund %d; want 1000 and 1", c.RefundReserved, f.refunds.Load())
			}
		})
	}
}
