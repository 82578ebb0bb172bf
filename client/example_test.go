package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/paytype"
)

// fakePayCenter answers every request with body, standing in for a pay
// center in these examples.
func fakePayCenter(body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
}

func ExampleSign() {
	// The document's worked example (testdata/sign.json, "doc example").
	params := map[string]string{
		"key":       "e3047bcd-2w81-4a2a-a321-c75e64329381",
		"expires":   "30000",
		"timestamp": "1508739061000",
		"param":     "test",
	}
	secret := "52ewc-c675-4944-af44-f4fdsww332d88"
	fmt.Println(client.BaseString("POST", "/test/echo", params))
	fmt.Println(client.Sign(client.SignV1, "POST", "/test/echo", params, secret))
	// Output:
	// POST/test/echoexpires=30000key=e3047bcd-2w81-4a2a-a321-c75e64329381param=testtimestamp=1508739061000
	// 4a1c1cefc91e2c7f7e5a37bd256254c3
}

func ExampleJavaURLEncode() {
	fmt.Println(client.JavaURLEncode("a b*c~d/e 超"))
	// Output: a+b%2Ac%7Ed%2Fe+%E8%B6%85
}

func ExampleClient_CreateCharge() {
	srv := fakePayCenter(`{"requestId":1508401457368,"responseParams":{"channel":"WX_NATIVE",` +
		`"channelParams":{"codeUrl":"weixin://wxpay/bizpayurl?pr=kzQ1mz8"},` +
		`"outTradeNo":"test903289329","totalFee":100,"expireTime":1508408609765}}`)
	defer srv.Close()

	c := client.New("app-key", "app-secret", client.WithBaseURL(srv.URL))
	ch, err := c.CreateCharge(context.Background(), client.ChargeParams{
		Channel:    client.WxNative,
		OutTradeNo: "test903289329",
		TotalFee:   100, // fen: ¥1.00
		ClientIP:   "127.0.0.1",
		Subject:    "超级大礼包",
		Body:       "xxxxx",
		ReturnURL:  "http://www.163.com",
		TimeExpire: 7200, // seconds
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	// The channel params are decoded into the field of the channel.
	fmt.Println(ch.Channel, ch.WxNative.CodeURL)
	fmt.Println(ch.TotalFee, ch.ExpireTime.UTC().Format(time.RFC3339))
	// Output:
	// WX_NATIVE weixin://wxpay/bizpayurl?pr=kzQ1mz8
	// 100 2017-10-19T10:23:29Z
}

func ExampleClient_Refund() {
	srv := fakePayCenter(`{"requestId":1508401467147,"responseParams":{"outTradeNo":"test903289329",` +
		`"outRefundNo":"ref43534534534","refundFee":100,"status":"SUCCESS","refundTime":1508401466000}}`)
	defer srv.Close()

	c := client.New("app-key", "app-secret", client.WithBaseURL(srv.URL))
	res, err := c.Refund(context.Background(), client.RefundParams{
		OutTradeNo:  "test903289329",
		OutRefundNo: "ref43534534534", // yours: the same number again is the same refund
		RefundFee:   100,
		RefundDesc:  "returned",
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(res.Status, res.RefundFee)
	// Output: SUCCESS 100
}

// The document-shaped helper: the Java client's wxNativePay, line by line.
func ExampleClient_WxNativePay() {
	srv := fakePayCenter(`{"requestId":1508401457368,"responseParams":{"channel":"WX_NATIVE",` +
		`"channelParams":{"codeUrl":"weixin://wxpay/bizpayurl?pr=kzQ1mz8"}}}`)
	defer srv.Close()

	c := client.New("app-key", "app-secret", client.WithBaseURL(srv.URL))
	info, err := c.WxNativePay(context.Background(), "test903289329", 100, "127.0.0.1", "超级大礼包",
		"xxxxx", time.Now().UnixMilli(), "http://www.163.com", 7200, "", "", "")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(info.Channel, info.ChannelParams.CodeURL)
	// Output: WX_NATIVE weixin://wxpay/bizpayurl?pr=kzQ1mz8
}

func ExampleClient_GetPayResult() {
	srv := fakePayCenter(`{"requestId":1508401467147,"responseParams":{"attach":"","channel":"WX_NATIVE",` +
		`"hasPay":true,"outTradeNo":"9769969905246398","payTime":1508401466000,"returnUrl":"http://163.com"}}`)
	defer srv.Close()

	c := client.New("app-key", "app-secret", client.WithBaseURL(srv.URL))
	res, err := c.GetPayResult(context.Background(), client.WxNative, "9769969905246398")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(res.HasPay, res.PayTime.UTC().Format(time.RFC3339), *res.ReturnURL)
	// Output: true 2017-10-19T08:24:26Z http://163.com
}

func ExampleError() {
	srv := fakePayCenter(`{"requestId":1508401467147,"errorCode":10008,"errorMsg":"no charge with outTradeNo 7965470787672540"}`)
	defer srv.Close()

	c := client.New("app-key", "app-secret", client.WithBaseURL(srv.URL))
	_, err := c.Refund(context.Background(), client.RefundParams{OutTradeNo: "7965470787672540", OutRefundNo: "ref1", RefundFee: 100})
	var pe *client.Error
	if errors.As(err, &pe) {
		fmt.Println(errors.Is(err, paytype.CodeNotFound), int(pe.Code), pe.Msg, pe.RequestID)
	}
	// Output: true 10008 no charge with outTradeNo 7965470787672540 1508401467147
}

func ExampleParseWebhook() {
	const secret = "app-secret"
	handler := func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		ev, err := client.ParseWebhook(payload, r.Header, secret, 0)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		switch ev.Type {
		case client.EventChargeSucceeded:
			pr, err := ev.PayResult()
			if err != nil {
				http.Error(w, "bad data", http.StatusBadRequest)
				return
			}
			fmt.Println("paid:", pr.OutTradeNo, pr.TotalFee)
		}
		w.WriteHeader(http.StatusNoContent)
	}

	// Test the handler with a payload signed as the pay center signs it.
	s := client.GenerateTestSignedWebhook(&client.UnsignedWebhook{
		Payload: []byte(`{"id":"evt_1","type":"charge.succeeded","created":1508401466000,` +
			`"data":{"channel":"WX_NATIVE","outTradeNo":"o20240001","hasPay":true,"totalFee":100}}`),
		Secret: secret,
	})
	req := httptest.NewRequest(http.MethodPost, "/paycenter/webhook", bytes.NewReader(s.Payload))
	req.Header = s.Header
	rec := httptest.NewRecorder()
	handler(rec, req)
	fmt.Println(rec.Code)

	// A forged one is refused.
	req = httptest.NewRequest(http.MethodPost, "/paycenter/webhook", bytes.NewReader(s.Payload))
	req.Header = s.Header.Clone()
	req.Header.Set("sign", "00")
	rec = httptest.NewRecorder()
	handler(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// paid: o20240001 100
	// 204
	// 400
}
