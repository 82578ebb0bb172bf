package paycenter_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/client"
)

// Handler serves the pay center from a net/http mux (or chi, or echo)
// under its BasePath, beside the host's own pages. Unlike Mount, it starts
// no workers: Start does, once the server is up.
func ExamplePayCenter_Handler() {
	db, done := tempSQLite() // your *gorm.DB; here SQLite in a temporary directory
	defer done()
	pc, err := paycenter.New(paycenter.Config{
		DB:        db,
		PublicURL: "https://shop.example.com",
		BasePath:  "/pay",
		Apps:      []paycenter.App{{ID: "shop", Key: "shop-key", Secret: "shop-secret"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close() // stops the workers

	mux := http.NewServeMux()
	mux.Handle("/pay/", pc.Handler()) // the whole path goes through: it is signed
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the shop") })
	srv := httptest.NewServer(mux) // stands in for http.ListenAndServe(":8080", mux)
	defer srv.Close()
	ctx := context.Background()
	pc.Start(ctx)

	c := client.New("shop-key", "shop-secret", client.WithBaseURL(srv.URL+"/pay"))
	ch, err := c.CreateCharge(ctx, client.ChargeParams{Channel: client.WxNative,
		OutTradeNo: "order00000007", TotalFee: 1200, ClientIP: "127.0.0.1", Subject: "Tea", Body: "Pu'er, 100 g"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ch.WxNative.CodeURL)

	// The sandbox cashier is served under the prefix too.
	resp, err := http.Get(srv.URL + strings.TrimPrefix(ch.WxNative.CodeURL, "https://shop.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// https://shop.example.com/pay/sandbox/cashier/shop/order00000007
	// 200 OK
}
