package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/paytype"
)

// TestAgainstPayCenter runs the document's Java examples, translated to
// this package, against a mounted pay center (sandbox channels) for all
// seven channels: pay, getPayResult, refund.
func TestAgainstPayCenter(t *testing.T) {
	gin.SetMode(gin.TestMode)
	db, err := paycenter.OpenSQLite(filepath.Join(t.TempDir(), "pc.db"))
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	srv := httptest.NewServer(r)
	defer srv.Close()
	pc, err := paycenter.Mount(r, paycenter.Config{
		DB: db, PublicURL: srv.URL, BasePath: "/pay",
		Apps:   []paycenter.App{{ID: "11", Key: "e3327bcd-2681-4a2a-a321-c75ekl433ff81", Secret: "52ewc-c675-4944-af44-f4fdsww332d88"}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	// final PayCenterClient client = new PayCenterClient(key, secret);
	c := client.New("e3327bcd-2681-4a2a-a321-c75ekl433ff81", "52ewc-c675-4944-af44-f4fdsww332d88",
		client.WithBaseURL(srv.URL+"/pay"))
	ctx := context.Background()
	now := time.Now().UnixMilli()
	pay := map[client.Channel]func(no string) (any, error){
		client.WxNative: func(no string) (any, error) {
			info, err := c.WxNativePay(ctx, no, 100, "127.0.0.1", "超级大礼包", "xxxxx", now, "http://www.163.com", 7200, "", "", "")
			if err == nil && info.ChannelParams.CodeURL == "" {
				err = fmt.Errorf("no codeUrl")
			}
			return info, err
		},
		client.WxApp: func(no string) (any, error) {
			info, err := c.WxAppPay(ctx, no, 100, "127.0.0.1", "超级大礼包", "xxxxx", now, "http://www.163.com", 7200, "", "", "")
			if err == nil && (info.ChannelParams.PrepayID == "" || info.ChannelParams.Package != "Sign=WXPay") {
				err = fmt.Errorf("app params %+v", info.ChannelParams)
			}
			return info, err
		},
		client.WxJsapi: func(no string) (any, error) {
			info, err := c.WxJsapiPay(ctx, no, 100, "127.0.0.1", "超级大礼包", "xxxxx", now, "http://www.163.com", 7200, "", "", "", "wx_lkjDODSF0DS0FWELFDSLJFS")
			if err == nil && info.ChannelParams.PaySign == "" {
				err = fmt.Errorf("jsapi params %+v", info.ChannelParams)
			}
			return info, err
		},
		client.WxMweb: func(no string) (any, error) {
			info, err := c.WxMwebPay(ctx, no, 100, "127.0.0.1", "超级大礼包", "xxxxx", now, "http://www.163.com", 7200, "", "", "")
			if err == nil && info.ChannelParams.MwebURL == "" {
				err = fmt.Errorf("no mwebUrl")
			}
			return info, err
		},
		client.AliWeb: func(no string) (any, error) {
			info, err := c.AliWebPay(ctx, no, 100, "127.0.0.1", "超级大礼包", "xxxxx", now, "http://www.163.com", 7200, "", "", "")
			if err == nil && info.ChannelParams.Body == "" {
				err = fmt.Errorf("no body")
			}
			return info, err
		},
		client.AliApp: func(no string) (any, error) {
			info, err := c.AliAppPay(ctx, no, 100, "127.0.0.1", "超级大礼包", "xxxxx", now, "http://www.163.com", 7200, "", "", "")
			if err == nil && info.ChannelParams.Body == "" {
				err = fmt.Errorf("no body")
			}
			return info, err
		},
		client.AliWap: func(no string) (any, error) {
			info, err := c.AliWapPay(ctx, no, 100, "127.0.0.1", "超级大礼包", "xxxxx", now, "http://www.163.com", 7200, "", "", "")
			if err == nil && info.ChannelParams.Body == "" {
				err = fmt.Errorf("no body")
			}
			return info, err
		},
	}
	i := 0
	for ch, create := range pay {
		i++
		no := fmt.Sprintf("test90328932%d", i)
		t.Run(string(ch), func(t *testing.T) {
			if _, err := create(no); err != nil {
				t.Fatalf("pay: %v", err)
			}
			// PayResult payResult = client.getPayResult(Channel.X, no);
			res, err := c.GetPayResult(ctx, ch, no)
			if err != nil || res.HasPay {
				t.Fatalf("before paying: %+v, %v", res, err)
			}
			resp, err := http.PostForm(srv.URL+"/pay/sandbox/pay", url.Values{"appId": {"11"}, "outTradeNo": {no}, "result": {"success"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			res, err = c.GetPayResult(ctx, ch, no)
			if err != nil || !res.HasPay || res.PayTime == nil || res.ReturnURL == nil || *res.ReturnURL != "http://www.163.com" {
				t.Fatalf("after paying: %+v, %v", res, err)
			}
			// client.refund(no, "ref43534534534", 100);
			rr, err := c.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "ref4353453453" + fmt.Sprint(i), RefundFee: 100})
			if err != nil || rr.Status != client.RefundSuccess {
				t.Fatalf("refund: %+v, %v", rr, err)
			}
			_, err = c.Refund(ctx, client.RefundParams{OutTradeNo: no, OutRefundNo: "ref9", RefundFee: 1})
			if !client.IsCode(err, paytype.CodeOverLimit) {
				t.Fatalf("refund over the balance: %v", err)
			}
		})
	}
}
