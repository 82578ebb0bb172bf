package paycenter_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/testdb"
)

// BenchmarkCreateCharge measures a signed create through Gin against a bare
// Gin + GORM handler that parses the same form and inserts one row, on the
// same SQLite set-up, in the same run; it reports the ratio of the two as
// "x-baseline" (1.0 would mean the pay center costs nothing extra).
//
//	go test -run '^$' -bench CreateCharge .
func BenchmarkCreateCharge(b *testing.B) {
	type row struct {
		ID         int64 `gorm:"primaryKey"`
		OutTradeNo string
		TotalFee   int64
		Subject    string
	}
	baseline := func(n int) time.Duration {
		db := testdb.Open(b, testdb.SQLite)
		if err := db.AutoMigrate(&row{}); err != nil {
			b.Fatal(err)
		}
		r := gin.New()
		r.POST("/api/charges", func(c *gin.Context) {
			var fee int64
			fmt.Sscan(c.PostForm("totalFee"), &fee)
			if err := db.Create(&row{OutTradeNo: c.PostForm("outTradeNo"), TotalFee: fee, Subject: c.PostForm("subject")}).Error; err != nil {
				c.JSON(http.StatusOK, gin.H{"errorCode": 10001})
				return
			}
			c.JSON(http.StatusOK, gin.H{"requestId": 1, "responseParams": gin.H{"channel": c.PostForm("channel")}})
		})
		return timeRequests(b, r, n, func(i int) *http.Request { return createRequest(i, "") })
	}
	ours := func(n int) time.Duration {
		e := newEnv(b, testdb.SQLite, noWorkers)
		return timeRequests(b, e.srv.Config.Handler, n, func(i int) *http.Request { return createRequest(i, testSecret) })
	}
	b.ResetTimer()
	base := baseline(b.N)
	pc := ours(b.N)
	b.ReportMetric(float64(pc)/float64(b.N), "ns/create")
	b.ReportMetric(float64(base)/float64(b.N), "ns/baseline")
	b.ReportMetric(float64(pc)/float64(base), "x-baseline")
}

func createRequest(i int, secret string) *http.Request {
	p := chargeParams(channels.WxNative, fmt.Sprintf("bench%010d", i), 100)
	p["key"] = testKey
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	if secret != "" {
		form.Set("sign", sign.V1(sign.BaseString("POST", "/api/charges", p), secret))
	}
	req := httptest.NewRequest(http.MethodPost, "/api/charges", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func timeRequests(b *testing.B, h http.Handler, n int, req func(i int) *http.Request) time.Duration {
	b.Helper()
	start := time.Now()
	for i := range n {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req(i))
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "errorCode") {
			b.Fatalf("request %d: %d %s", i, w.Code, w.Body.String())
		}
	}
	return time.Since(start)
}
