package alipay_test

import (
	"context"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels/alipay/alipaytest"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/internal/testdb"
	"github.com/gopaycenter/paycenter/models"
)

// TestFlowCloseBeforeCashier: closing a charge whose trade Alipay does not
// know yet (the buyer never opened the cashier: ACQ.TRADE_NOT_EXIST) leaves
// the signed order handed out payable until it expires. The pay center keeps
// watching: the buyer pays the old form, the notification is lost, and
// pay-result still finds the payment — a late one.
func TestFlowCloseBeforeCashier(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			f := newFlow(t, kind, alipaytest.PublicKeyMode)
			const no = "CLOSE000001"
			form := f.create(client.AliWap, no, 800)
			if err := f.cl.Close(ctx, client.AliWap, no); err != nil {
				t.Fatalf("close: %v", err)
			}
			if c := f.charge(no); c.Status != models.ChargeClosed || c.NextQueryAt == nil {
				t.Fatalf("after close: %s, next query %v: the charge must stay watched", c.Status, c.NextQueryAt)
			}

			// The buyer still has the form; a second later they pay with it.
			f.fake.Now = func() time.Time { return time.Now().Add(2 * time.Second) }
			f.fake.MustSubmit(t, form)
			if err := f.fake.Pay(no); err != nil {
				t.Fatal(err)
			}
			// The notification is lost. pay-result asks Alipay.
			pr, err := f.cl.GetPayResult(ctx, client.AliWap, no)
			if err != nil || !pr.HasPay || pr.Status != client.StatusPaid {
				t.Fatalf("pay-result = %+v, %v; want paid", pr, err)
			}
			if c := f.charge(no); !c.LatePaid || c.NextQueryAt != nil {
				t.Fatalf("charge = late %v, next query %v; want a late payment, no longer watched", c.LatePaid, c.NextQueryAt)
			}
			if f.paid.Load() != 1 || f.closed.Load() != 1 {
				t.Fatalf("OnPaid %d, OnClosed %d; want 1 and 1", f.paid.Load(), f.closed.Load())
			}
		})
	}
}

// TestFlowMountedOnGroup: on r.Group("/pay") with BasePath "/v1", the
// notify_url inside the signed Alipay form carries both, and Alipay's
// notification posted there is applied.
func TestFlowMountedOnGroup(t *testing.T) {
	ctx := context.Background()
	f := newFlowOn(t, testdb.SQLite, alipaytest.CertMode, "/pay", "/v1")
	const no = "GROUP000001"
	f.fake.MustSubmit(t, f.create(client.AliWeb, no, 1200))
	want := f.ts.URL + "/pay/v1/callbacks/" + flowApp + "/alipay/web/paynotify"
	if got := f.fake.NotifyURL(no); got != want {
		t.Fatalf("notify_url = %q, want %q", got, want)
	}
	if err := f.fake.Pay(no); err != nil {
		t.Fatal(err)
	}
	if !f.deliver(want, f.fake.PaymentNotification(t, no)) {
		t.Fatal("the notification posted to notify_url was not acknowledged")
	}
	if pr, err := f.cl.GetPayResult(ctx, client.AliWeb, no); err != nil || !pr.HasPay {
		t.Fatalf("pay-result = %+v, %v", pr, err)
	}
}
