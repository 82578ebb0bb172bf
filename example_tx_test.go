package paycenter_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
)

// Purchase is the host's own table, in the pay center's database.
type Purchase struct {
	No     string `gorm:"primaryKey"`
	Amount int64
}

// CreateChargeTx reserves the charge in the host's transaction, beside the
// host's own row: both commit, or neither exists. It calls no channel (no
// network call inside a transaction); after the commit, CreateCharge with
// the same parameters reaches the channel and returns the channel params.
func ExamplePayCenter_CreateChargeTx() {
	db, done := tempSQLite() // your *gorm.DB; here SQLite in a temporary directory
	defer done()
	if err := db.AutoMigrate(&Purchase{}); err != nil {
		log.Fatal(err)
	}
	pc, err := paycenter.New(paycenter.Config{
		DB:        db,
		PublicURL: "https://shop.example.com",
		Apps:      []paycenter.App{{ID: "shop", Key: "shop-key", Secret: "shop-secret"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	ctx := context.Background()
	params := func(no string) paycenter.CreateChargeParams {
		return paycenter.CreateChargeParams{Channel: channels.WxNative, OutTradeNo: no, TotalFee: 4200,
			ClientIP: "127.0.0.1", Subject: "Teapot", Body: "Yixing clay", Created: time.Now().UnixMilli()}
	}

	p := params("order00000003")
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&Purchase{No: p.OutTradeNo, Amount: p.TotalFee}).Error; err != nil {
			return err
		}
		res, err := pc.CreateChargeTx(ctx, tx, "shop", p)
		if err != nil {
			return err
		}
		fmt.Println("reserved", res.OutTradeNo, "without channel params:", res.ChannelParams == nil)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := pc.CreateCharge(ctx, "shop", p) // after the commit
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pay at", res.ChannelParams["codeUrl"])

	// A transaction that rolls back takes its charge with it.
	lost := params("order00000004")
	_ = db.Transaction(func(tx *gorm.DB) error {
		if _, err := pc.CreateChargeTx(ctx, tx, "shop", lost); err != nil {
			return err
		}
		return errors.New("out of stock")
	})
	_, err = pc.PayResult(ctx, "shop", lost.Channel, lost.OutTradeNo)
	fmt.Println(errors.Is(err, paycenter.CodeNotFound))
	// Output:
	// reserved order00000003 without channel params: true
	// pay at https://shop.example.com/sandbox/cashier/shop/order00000003
	// true
}
