package paycenter_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/client"
)

// Mount with an almost zero Config: no apps and no channels make a
// development pay center, with the sandbox channel for all seven codes
// and a development app "dev" whose key and secret are generated once and
// stored in the database.
func ExampleMount() {
	db, done := tempSQLite() // your *gorm.DB; here SQLite in a temporary directory
	defer done()

	r := gin.New()
	pc, err := paycenter.Mount(r, paycenter.Config{
		DB:        db,
		PublicURL: "https://shop.example.com", // the URLs the pay center hands out start here
		BasePath:  "/pay",
		Logger:    slog.New(slog.DiscardHandler), // quiet: the example prints what it shows
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close() // stops the workers Mount started

	srv := httptest.NewServer(r) // stands in for r.Run(":8080")
	defer srv.Close()

	// A merchant calls the API with the development app's key and secret.
	dev := pc.Apps()[0]
	c := client.New(dev.Key, dev.Secret, client.WithBaseURL(srv.URL+"/pay"))
	ch, err := c.CreateCharge(context.Background(), client.ChargeParams{
		Channel:    client.WxNative,
		OutTradeNo: "order00000001",
		TotalFee:   1999, // fen: ¥19.99
		ClientIP:   "127.0.0.1",
		Subject:    "Tea",
		Body:       "Longjing, 50 g",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dev.ID, pc.SandboxEnabled())
	fmt.Println(ch.WxNative.CodeURL) // in the sandbox, the QR code opens the sandbox cashier
	// Output:
	// dev true
	// https://shop.example.com/pay/sandbox/cashier/dev/order00000001
}

// tempSQLite opens an SQLite database in a new temporary directory, as a
// host opens its own; done closes it (pc.Close leaves a host's database
// open) and removes the directory.
func tempSQLite() (db *gorm.DB, done func()) {
	dir, err := os.MkdirTemp("", "paycenter-example")
	if err != nil {
		log.Fatal(err)
	}
	db, err = paycenter.OpenSQLite(filepath.Join(dir, "shop.db"))
	if err != nil {
		os.RemoveAll(dir)
		log.Fatal(err)
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		os.RemoveAll(dir)
	}
}
