package paycenter_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/client"
)

// The merchant's side of webhooks: an endpoint that verifies each event's
// signature with the app's secret (client.ParseWebhook) before acting on
// it, fed once by the pay center and once by a test-signed payload, as a
// merchant's own tests would; a payload signed with another secret is
// refused.
func Example_webhook() {
	const secret = "shop-secret"
	// The merchant's endpoint. Answer 2xx only once the event is handled:
	// anything else makes the pay center send it again later.
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read", http.StatusBadRequest)
			return
		}
		ev, err := client.ParseWebhook(payload, r.Header, secret, 0)
		if err != nil {
			fmt.Println("refused:", err)
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		if ev.Type == client.EventChargeSucceeded {
			pr, err := ev.PayResult()
			if err != nil {
				http.Error(w, "bad data", http.StatusBadRequest)
				return
			}
			fmt.Println(ev.Type, pr.OutTradeNo, pr.TotalFee)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	merchant := httptest.NewServer(endpoint)
	defer merchant.Close()

	db, done := tempSQLite() // your *gorm.DB; here SQLite in a temporary directory
	defer done()
	pc, err := paycenter.New(paycenter.Config{
		DB:      db,
		Apps:    []paycenter.App{{ID: "shop", Key: "shop-key", Secret: secret, NotifyURL: merchant.URL + "/webhook"}},
		Webhook: paycenter.WebhookConfig{AllowPrivateNetworks: true}, // the merchant listens on 127.0.0.1
		Workers: paycenter.WorkersConfig{Disabled: true},             // RunDue below does their work
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	ctx := context.Background()
	_, err = pc.CreateCharge(ctx, "shop", paycenter.CreateChargeParams{
		Channel: channels.AliWeb, OutTradeNo: "order00000005", TotalFee: 880, ClientIP: "127.0.0.1",
		Subject: "Tea", Body: "Tieguanyin, 25 g", Created: time.Now().UnixMilli(),
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := pc.SandboxPay(ctx, "shop", "order00000005", "success"); err != nil {
		log.Fatal(err)
	}
	pc.RunDue(ctx) // delivers the webhook of the payment

	// In the merchant's tests: payloads signed as the pay center signs them.
	payload := []byte(`{"id":"evt_test","type":"charge.succeeded","created":1700000000000,` +
		`"data":{"channel":"ALI_WEB","outTradeNo":"order00000006","hasPay":true,"totalFee":1}}`)
	for _, key := range []string{secret, "not-the-secret"} {
		s := client.GenerateTestSignedWebhook(&client.UnsignedWebhook{Payload: payload, Secret: key})
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(s.Payload))
		req.Header = s.Header
		rec := httptest.NewRecorder()
		endpoint.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// charge.succeeded order00000005 880
	// charge.succeeded order00000006 1
	// 204
	// refused: paycenter webhook: signature does not match
	// 400
}
