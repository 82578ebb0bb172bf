package paycenter_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
)

// Order is the host's own table, in the pay center's database.
type Order struct {
	No     string `gorm:"primaryKey"`
	Status string
}

// Hooks write the host's order in the pay center's transaction: OnPaid
// runs inside the transaction that marks the charge paid, so the order
// and the charge commit together or not at all (an error from the hook
// rolls the payment back and refuses the channel's notification, which
// the channel then sends again). AfterPaid runs after the commit, at least
// once, for what cannot be rolled back, such as an e-mail.
func Example_hooks() {
	db, done := tempSQLite() // your *gorm.DB; here SQLite in a temporary directory
	defer done()
	if err := db.AutoMigrate(&Order{}); err != nil {
		log.Fatal(err)
	}

	pc, err := paycenter.New(paycenter.Config{
		DB:   db,
		Apps: []paycenter.App{{ID: "shop", Key: "shop-key", Secret: "shop-secret"}},
		Hooks: []hooks.Hook{
			hooks.OnPaidFunc(func(ctx context.Context, ev *hooks.Paid) error {
				res := ev.Tx.Model(&Order{}).Where("no = ? AND status = ?", ev.Charge.OutTradeNo, "unpaid").
					Update("status", "paid")
				if res.Error == nil && res.RowsAffected == 0 {
					return fmt.Errorf("order %s is not waiting for a payment", ev.Charge.OutTradeNo)
				}
				return res.Error
			}),
			hooks.AfterPaidFunc(func(ctx context.Context, ev *hooks.Event) error {
				fmt.Println("receipt sent for", ev.Charge.OutTradeNo)
				return nil
			}),
		},
		Workers: paycenter.WorkersConfig{Disabled: true}, // RunDue below does their work
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()

	ctx := context.Background()
	if err := db.Create(&Order{No: "order00000002", Status: "unpaid"}).Error; err != nil {
		log.Fatal(err)
	}
	_, err = pc.CreateCharge(ctx, "shop", paycenter.CreateChargeParams{
		Channel: channels.WxNative, OutTradeNo: "order00000002", TotalFee: 1999, ClientIP: "127.0.0.1",
		Subject: "Tea", Body: "Longjing, 50 g", Created: time.Now().UnixMilli(),
	})
	if err != nil {
		log.Fatal(err)
	}

	// The buyer pays: here the sandbox cashier's Pay button, which goes
	// through the same path as a channel's notification.
	if _, err := pc.SandboxPay(ctx, "shop", "order00000002", "success"); err != nil {
		log.Fatal(err)
	}
	var o Order
	if err := db.First(&o, "no = ?", "order00000002").Error; err != nil {
		log.Fatal(err)
	}
	fmt.Println(o.No, o.Status)

	pc.RunDue(ctx) // the workers' job: after-commit hooks and webhooks
	// Output:
	// order00000002 paid
	// receipt sent for order00000002
}
