package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"
	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/client"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// The demo shop: a merchant app living next to the pay center. It creates
// charges and refunds through the client package over HTTP (the documented
// API), keeps its own orders in table shop_orders of the pay center's
// database, and learns about payments and refunds from hooks that write in
// the pay center's own transaction.

// shopPrefix is where the shop is mounted; the pay center's routes stay
// under BasePath.
const shopPrefix = "/shop"

// Shop order states. An order is CLOSED when its charge closed unpaid
// (the cashier's Close, the close API, or expiry): it cannot be paid any
// more, and the order page offers the same purchase under a new number.
const (
	orderUnpaid = "UNPAID"
	orderPaid   = "PAID"
	orderClosed = "CLOSED"
)

//go:embed templates/*.html
var templateFS embed.FS

// shopOrder is the shop's own order, table shop_orders.
type shopOrder struct {
	No          string `gorm:"primaryKey;size:32"`
	Product     string `gorm:"size:32;not null"`
	Subject     string `gorm:"size:128;not null"`
	Amount      int64  `gorm:"not null"` // fen
	Channel     string `gorm:"size:16;not null"`
	Status      string `gorm:"size:16;not null"`
	RefundedFee int64  `gorm:"not null;default:0"` // fen, set by the OnRefund hook
	PaidAt      *time.Time
	CodeURL     string `gorm:"size:2048;not null;default:''"` // WX_NATIVE: what the QR code encodes
	// ReceiptSentAt is when the AfterPaid hook "e-mailed" the receipt
	// (after the commit, from the pay center's outbox).
	ReceiptSentAt *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName implements gorm's tabler.
func (shopOrder) TableName() string { return "shop_orders" }

// product is an item of the catalog.
type product struct {
	ID, Name, Blurb string
	Price           int64 // fen
}

var catalog = []product{
	{ID: "tea", Name: "Longjing green tea, 250 g", Blurb: "Spring harvest from the hills of Hangzhou.", Price: 12800},
	{ID: "mug", Name: "Celadon tea mug", Blurb: "Hand-glazed, 300 ml, dishwasher safe.", Price: 3990},
	{ID: "sample", Name: "Sample sachet", Blurb: "One fen: the cheapest way to try a real channel.", Price: 1},
	{ID: "garden", Name: "Tea garden, 50 mu", Blurb: "The largest amount one charge can carry.", Price: 100_000_000_000},
}

func findProduct(id string) (product, bool) {
	for _, p := range catalog {
		if p.ID == id {
			return p, true
		}
	}
	return product{}, false
}

// payChannel is a channel the shop offers in a browser.
type payChannel struct {
	Code  client.Channel
	Label string
}

var shopChannels = []payChannel{
	{client.WxNative, "WeChat Pay (QR code)"},
	{client.AliWeb, "Alipay (desktop)"},
	{client.AliWap, "Alipay (mobile web)"},
}

func offered(code string) bool {
	for _, c := range shopChannels {
		if string(c.Code) == code {
			return true
		}
	}
	return false
}

// shop is the demo shop. Create it with newShop, pass hooks() in the pay
// center's Config, then attach the mounted pay center and register routes.
type shop struct {
	log       *slog.Logger
	publicURL string // where the payer's browser reaches the shop (return URLs)
	pages     map[string]*template.Template
	favicon   []byte

	// Set by attach, before the server serves; read-only afterwards.
	pc     *paycenter.PayCenter
	db     *gorm.DB
	app    paycenter.App
	client *client.Client
	ops    *adminClient // the operator API, for the admin page (admin.go)
}

func newShop(log *slog.Logger, publicURL string) *shop {
	funcs := template.FuncMap{"yuan": yuan, "plainYuan": plainYuan, "when": when}
	pages := map[string]*template.Template{}
	for _, name := range []string{"products", "order", "redirect", "admin", "error"} {
		pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return &shop{log: log, publicURL: publicURL, pages: pages, favicon: faviconPNG()}
}

// hooks returns the shop's hooks. OnPaid, OnClosed and OnRefund mark its
// order paid or closed and record the refunded amount in the pay center's
// transaction (ev.Tx), so the shop's order and the pay center's charge can
// never disagree.
// AfterPaid and AfterRefund run after the commit, from the pay center's
// outbox (they are the "hooks" deliveries of the admin page): the slow,
// retryable work, here a simulated e-mail.
func (s *shop) hooks() []hooks.Hook {
	return []hooks.Hook{
		hooks.AfterPaidFunc(func(ctx context.Context, ev *hooks.Event) error {
			if ev.Charge.AppID != s.app.ID {
				return nil
			}
			// At least once: the condition makes a second call a no-op.
			res := s.db.WithContext(ctx).Model(&shopOrder{}).
				Where("no = ? AND receipt_sent_at IS NULL", ev.Charge.OutTradeNo).
				Update("receipt_sent_at", time.Now().UTC())
			if res.Error == nil && res.RowsAffected == 1 {
				s.log.InfoContext(ctx, "shop: e-mailed the receipt", "order", ev.Charge.OutTradeNo, "event", ev.ID)
			}
			return res.Error
		}),
		hooks.AfterRefundFunc(func(ctx context.Context, ev *hooks.Event) error {
			if ev.Charge.AppID == s.app.ID {
				s.log.InfoContext(ctx, "shop: e-mailed the refund notice", "order", ev.Charge.OutTradeNo,
					"refund", ev.Refund.OutRefundNo, "status", ev.Refund.Status, "event", ev.ID)
			}
			return nil
		}),
		hooks.OnPaidFunc(func(ctx context.Context, ev *hooks.Paid) error {
			if ev.Charge.AppID != s.app.ID {
				return nil
			}
			paidAt := time.Now().UTC()
			if ev.Charge.PaidAt != nil {
				paidAt = *ev.Charge.PaidAt
			}
			return ev.Tx.WithContext(ctx).Model(&shopOrder{}).
				Where("no = ? AND status = ?", ev.Charge.OutTradeNo, orderUnpaid).
				Updates(map[string]any{"status": orderPaid, "paid_at": paidAt, "updated_at": time.Now().UTC()}).Error
		}),
		hooks.OnClosedFunc(func(ctx context.Context, ev *hooks.Closed) error {
			if ev.Charge.AppID != s.app.ID {
				return nil
			}
			return s.closeOrder(ev.Tx.WithContext(ctx), ev.Charge.OutTradeNo)
		}),
		hooks.OnRefundFunc(func(ctx context.Context, ev *hooks.Refunded) error {
			if ev.Charge.AppID != s.app.ID || ev.Refund.Status != models.RefundSucceeded {
				return nil
			}
			return ev.Tx.WithContext(ctx).Model(&shopOrder{}).Where("no = ?", ev.Charge.OutTradeNo).
				Updates(map[string]any{"refunded_fee": ev.Charge.RefundedFee, "updated_at": time.Now().UTC()}).Error
		}),
	}
}

// attach connects the shop to the mounted pay center: it migrates
// shop_orders in the pay center's database and signs its API calls with
// the first app (the generated dev app without -config). apiBase is the
// pay center's address for the shop's own HTTP calls, BasePath included.
func (s *shop) attach(ctx context.Context, pc *paycenter.PayCenter, apiBase string) error {
	apps := pc.Apps()
	if len(apps) == 0 {
		return errors.New("shop: the pay center has no app")
	}
	s.pc, s.db, s.app = pc, pc.DB(), apps[0]
	s.client = client.New(s.app.Key, s.app.Secret, client.WithBaseURL(apiBase))
	if err := s.db.WithContext(ctx).AutoMigrate(&shopOrder{}); err != nil {
		return fmt.Errorf("shop: migrate shop_orders: %w", err)
	}
	return nil
}

// register adds the shop's routes: /shop/... and a redirect from /. Its
// POSTs refuse cross-site requests (see sameOrigin).
func (s *shop) register(r *gin.Engine) {
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, shopPrefix+"/") })
	r.GET("/favicon.ico", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=86400")
		c.Data(http.StatusOK, "image/png", s.favicon)
	})
	g := r.Group(shopPrefix, s.sameOrigin(http.NewCrossOriginProtection()))
	g.GET("/", s.products)
	g.POST("/buy", s.buy)
	g.GET("/orders/:no", s.order)
	g.GET("/orders/:no/status", s.status)
	g.POST("/orders/:no/pay", s.repay)
	g.POST("/orders/:no/again", s.again)
	g.POST("/orders/:no/refund", s.refund)
	g.GET("/admin", s.admin)
	g.POST("/admin/reconcile", s.reconcile)
	g.POST("/admin/discrepancies/:id/resolve", s.resolve)
	g.POST("/webhook", s.webhook)
}

// sameOrigin refuses a cross-site POST (a page elsewhere submitting a
// refund form to the shop) with 403, by the browser's Sec-Fetch-Site and
// Origin headers (net/http's CrossOriginProtection). The shop sets no
// cookies, but the example can run with real credentials, and its forms
// move money. Requests with neither header (curl, the pay center's
// webhooks) are not from a browser and pass.
func (s *shop) sameOrigin(cop *http.CrossOriginProtection) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := cop.Check(c.Request); err != nil {
			s.log.WarnContext(c.Request.Context(), "shop: cross-site request refused", "method", c.Request.Method, "path", c.Request.URL.Path,
				"origin", c.GetHeader("Origin"), "secFetchSite", c.GetHeader("Sec-Fetch-Site"))
			s.fail(c, http.StatusForbidden, "Cross-site request refused",
				errors.New("this form was submitted from another site; the shop accepts its own forms only"))
			c.Abort()
			return
		}
		c.Next()
	}
}

func (s *shop) render(c *gin.Context, status int, page string, data gin.H) {
	data["Prefix"] = shopPrefix
	data["App"] = s.app.ID
	var b bytes.Buffer
	if err := s.pages[page].Execute(&b, data); err != nil {
		s.log.ErrorContext(c.Request.Context(), "shop: render", "page", page, "err", err)
		c.String(http.StatusInternalServerError, "rendering failed")
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

func (s *shop) fail(c *gin.Context, status int, title string, err error) {
	msg := err.Error()
	var pe *client.Error
	if errors.As(err, &pe) {
		msg = fmt.Sprintf("The pay center answered %d: %s (requestId %d)", pe.Code, pe.Msg, pe.RequestID)
	}
	s.render(c, status, "error", gin.H{"Title": title, "Message": msg})
}

func (s *shop) products(c *gin.Context) {
	s.render(c, http.StatusOK, "products", gin.H{"Title": "Demo shop", "Products": catalog, "Channels": shopChannels})
}

// buy creates the shop's order, then the pay center charge.
func (s *shop) buy(c *gin.Context) {
	p, ok := findProduct(c.PostForm("product"))
	ch := c.PostForm("channel")
	if !ok || !offered(ch) {
		s.fail(c, http.StatusBadRequest, "Unknown product or channel", errors.New("choose a product and a payment channel on the shop page"))
		return
	}
	s.newOrder(c, p, ch)
}

// newOrder saves a new order of p on channel ch and starts its payment.
func (s *shop) newOrder(c *gin.Context, p product, ch string) {
	o := &shopOrder{No: newOrderNo(), Product: p.ID, Subject: p.Name, Amount: p.Price, Channel: ch, Status: orderUnpaid}
	if err := s.db.WithContext(c.Request.Context()).Create(o).Error; err != nil {
		s.fail(c, http.StatusInternalServerError, "Could not save the order", err)
		return
	}
	s.pay(c, o)
}

// again starts the purchase of an unpaid or closed order over, under a new
// order number (a closed charge's number can never be paid again).
func (s *shop) again(c *gin.Context) {
	o, ok := s.load(c)
	if !ok {
		return
	}
	p, found := findProduct(o.Product)
	if o.Status == orderPaid || !found {
		c.Redirect(http.StatusSeeOther, orderPath(o.No))
		return
	}
	s.newOrder(c, p, o.Channel)
}

// repay asks for the order's charge again: the create is idempotent, so
// the pay center returns the same channel order.
func (s *shop) repay(c *gin.Context) {
	o, ok := s.load(c)
	if !ok {
		return
	}
	if o.Status != orderUnpaid {
		c.Redirect(http.StatusSeeOther, orderPath(o.No))
		return
	}
	s.pay(c, o)
}

// pay creates (or fetches again) the charge of o through the client and
// sends the payer on: WX_NATIVE to the order page with its QR code,
// Alipay to the channel's auto-submitting form.
func (s *shop) pay(c *gin.Context, o *shopOrder) {
	ctx := c.Request.Context()
	const expire = 7200 // seconds
	ret := s.publicURL + orderPath(o.No)
	body := "1 x " + o.Subject
	if !offered(o.Channel) {
		s.fail(c, http.StatusBadGateway, "Payment could not start", fmt.Errorf("channel %s is not offered by the shop", o.Channel))
		return
	}
	code := client.Channel(o.Channel)
	ip := c.ClientIP()
	if code == client.WxNative {
		ip = serverIP(c) // for Native pay the client IP is the merchant server's
	}
	info, err := s.client.CreateCharge(ctx, client.ChargeParams{Channel: code, OutTradeNo: o.No, TotalFee: o.Amount,
		ClientIP: ip, Subject: o.Subject, Body: body, ReturnURL: ret, TimeExpire: expire})
	switch {
	case err != nil:
	case info.WxNative != nil:
		if err = s.db.WithContext(ctx).Model(o).Update("code_url", info.WxNative.CodeURL).Error; err == nil {
			c.Redirect(http.StatusSeeOther, orderPath(o.No))
			return
		}
	case info.Alipay != nil:
		// channelParams.body is the channel's own HTML form, signed by the
		// pay center; the page submits it as Alipay asks.
		s.render(c, http.StatusOK, "redirect", gin.H{"Title": "Redirecting to Alipay", "Order": o,
			"Form": template.HTML(info.Alipay.Body)})
		return
	default:
		err = fmt.Errorf("the pay center answered no channel params for %s", o.Channel)
	}
	if s.closedAtPayCenter(c, o, err) {
		c.Redirect(http.StatusSeeOther, orderPath(o.No)+"?"+url.Values{"error": {
			"This order's charge is closed and can no longer be paid: order again for a new order number."}}.Encode())
		return
	}
	s.fail(c, http.StatusBadGateway, "Payment could not start", err)
}

// closedAtPayCenter reports whether err says that o's charge is closed or
// expired (20003, 20006) and the pay center confirms it; the order is then
// closed too (the OnClosed hook normally did that already).
func (s *shop) closedAtPayCenter(c *gin.Context, o *shopOrder, err error) bool {
	var pe *client.Error
	if !errors.As(err, &pe) || (pe.Code != paytype.CodeExists && pe.Code != paytype.CodeClosed) {
		return false
	}
	ctx := c.Request.Context()
	pr, qerr := s.client.GetPayResult(ctx, client.Channel(o.Channel), o.No)
	if qerr != nil || pr.HasPay || (pr.Status != client.StatusClosed && pe.Code != paytype.CodeClosed) {
		return false
	}
	if cerr := s.closeOrder(s.db.WithContext(ctx), o.No); cerr != nil {
		s.log.ErrorContext(ctx, "shop: close order", "order", o.No, "err", cerr)
		return false
	}
	return true
}

// closeOrder marks an unpaid order closed.
func (s *shop) closeOrder(db *gorm.DB, no string) error {
	return db.Model(&shopOrder{}).Where("no = ? AND status = ?", no, orderUnpaid).
		Updates(map[string]any{"status": orderClosed, "updated_at": time.Now().UTC()}).Error
}

func (s *shop) load(c *gin.Context) (*shopOrder, bool) {
	var o shopOrder
	err := s.db.WithContext(c.Request.Context()).Where("no = ?", c.Param("no")).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		s.fail(c, http.StatusNotFound, "No such order", fmt.Errorf("order %q does not exist", c.Param("no")))
		return nil, false
	}
	if err != nil {
		s.fail(c, http.StatusInternalServerError, "Could not read the order", err)
		return nil, false
	}
	return &o, true
}

// orderView is what the order page and its status endpoint show.
type orderView struct {
	Status      string `json:"status"`
	StatusText  string `json:"statusText"`
	Paid        bool   `json:"paid"`
	Closed      bool   `json:"closed"`
	RefundedFee int64  `json:"refundedFee"`
	Refunded    string `json:"refunded"`
	Refundable  string `json:"refundable"`
	// RefundableValue is Refundable without separators, for the form.
	RefundableValue string `json:"refundableValue"`
	CanRefund       bool   `json:"canRefund"`
	PaidAt          string `json:"paidAt"`
	ReceiptSent     string `json:"receiptSent"` // when the AfterPaid hook sent it; "" not yet
}

func viewOf(o *shopOrder) orderView {
	v := orderView{Status: o.Status, StatusText: "Awaiting payment", RefundedFee: o.RefundedFee,
		Refunded: yuan(o.RefundedFee), Refundable: yuan(o.Amount - o.RefundedFee),
		RefundableValue: plainYuan(o.Amount - o.RefundedFee),
		PaidAt:          when(o.PaidAt), ReceiptSent: when(o.ReceiptSentAt)}
	if o.Status == orderClosed {
		v.Closed, v.StatusText = true, "Closed unpaid"
	}
	if o.Status == orderPaid {
		v.Paid, v.StatusText = true, "Paid"
		v.CanRefund = o.RefundedFee < o.Amount
		switch {
		case o.RefundedFee == o.Amount:
			v.StatusText = "Paid · fully refunded"
		case o.RefundedFee > 0:
			v.StatusText = "Paid · partly refunded"
		}
	}
	return v
}

func (s *shop) order(c *gin.Context) {
	o, ok := s.load(c)
	if !ok {
		return
	}
	data := gin.H{"Title": "Order " + o.No, "Order": o, "View": viewOf(o), "Notice": c.Query("notice"),
		"Error": c.Query("error"), "RefundNo": newRefundNo(o.No)}
	if o.CodeURL != "" {
		img, err := qrcode.Encode(o.CodeURL, qrcode.Medium, 256)
		if err != nil {
			s.fail(c, http.StatusInternalServerError, "Could not draw the QR code", err)
			return
		}
		data["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(img))
		// The sandbox's codeUrl is the cashier page; a real one is weixin://.
		if u, err := url.Parse(o.CodeURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			data["CashierURL"] = o.CodeURL
		}
	}
	s.render(c, http.StatusOK, "order", data)
}

// status is the order page's live status (JSON). While the order is
// unpaid it first asks the pay center's pay-result, which on a real
// channel queries the channel and applies a payment found there (through
// the same OnPaid hook), and tells whether the charge has closed.
func (s *shop) status(c *gin.Context) {
	ctx := c.Request.Context()
	var o shopOrder
	if err := s.db.WithContext(ctx).Where("no = ?", c.Param("no")).Take(&o).Error; err != nil {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such order"})
		return
	}
	if o.Status == orderUnpaid {
		pr, err := s.client.GetPayResult(ctx, client.Channel(o.Channel), o.No)
		if err == nil && !pr.HasPay && pr.Status == client.StatusClosed {
			// OnClosed normally did it; an order older than the hook did not.
			err = s.closeOrder(s.db.WithContext(ctx), o.No)
		}
		if err == nil && pr.Status != client.StatusCreated {
			if err := s.db.WithContext(ctx).Where("no = ?", o.No).Take(&o).Error; err != nil {
				c.JSON(http.StatusInternalServerError, gin.H{"error": "could not read the order"})
				return
			}
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, viewOf(&o))
}

// refund refunds part of a paid order through the client. The refund
// number comes from the form, so submitting the same form twice refunds
// once.
func (s *shop) refund(c *gin.Context) {
	o, ok := s.load(c)
	if !ok {
		return
	}
	back := func(key, msg string) {
		c.Redirect(http.StatusSeeOther, orderPath(o.No)+"?"+url.Values{key: {msg}}.Encode())
	}
	fee, err := parseYuan(c.PostForm("amount"))
	if err != nil {
		back("error", err.Error())
		return
	}
	refundNo := c.PostForm("refundNo")
	if refundNo == "" {
		refundNo = newRefundNo(o.No)
	}
	res, err := s.client.Refund(c.Request.Context(), client.RefundParams{OutTradeNo: o.No, OutRefundNo: refundNo, RefundFee: fee,
		RefundDesc: "Demo shop refund"})
	if err != nil {
		var pe *client.Error
		if errors.As(err, &pe) {
			back("error", fmt.Sprintf("Refund refused: %s (code %d)", pe.Msg, pe.Code))
			return
		}
		back("error", "Refund failed: "+err.Error())
		return
	}
	state := string(res.Status)
	if state == "" {
		state = "accepted"
	}
	back("notice", fmt.Sprintf("Refund %s of ¥%s: %s", res.OutRefundNo, yuan(res.RefundFee), state))
}

// webhook receives the pay center's webhooks when an app's notifyURL is
// {publicURL}/shop/webhook (set it in the -config file; the generated dev
// app has none). It verifies the signature with the app's secret; the
// shop's state is already kept by the hooks, so it only logs the event.
func (s *shop) webhook(c *gin.Context) {
	payload, err := io.ReadAll(io.LimitReader(c.Request.Body, 1<<20))
	if err != nil {
		c.String(http.StatusBadRequest, "read body")
		return
	}
	ev, err := client.ParseWebhook(payload, c.Request.Header, s.app.Secret, client.DefaultTolerance)
	if err != nil {
		s.log.WarnContext(c.Request.Context(), "shop: webhook refused", "err", err)
		c.String(http.StatusBadRequest, "invalid webhook")
		return
	}
	s.log.InfoContext(c.Request.Context(), "shop: webhook", "id", ev.ID, "type", ev.Type)
	c.Status(http.StatusNoContent)
}

func orderPath(no string) string { return shopPrefix + "/orders/" + url.PathEscape(no) }

// newOrderNo returns a 21-character order number: D, the UTC time to the
// second and six random digits (the pay center allows 8–32 letters and
// digits).
func newOrderNo() string {
	return "D" + time.Now().UTC().Format("20060102150405") + randomDigits(6)
}

// newRefundNo returns a refund number for order no.
func newRefundNo(no string) string { return "R" + no + randomDigits(6) }

func randomDigits(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

// yuan formats fen as yuan with thousands separators, with integer math:
// 100000000000 → "1,000,000,000.00".
func yuan(fen int64) string {
	plain := plainYuan(fen)
	sign := ""
	if plain[0] == '-' {
		sign, plain = "-", plain[1:]
	}
	whole, frac, _ := strings.Cut(plain, ".")
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return sign + whole + "." + frac
}

// plainYuan formats fen as yuan without separators (for form values):
// 12800 → "128.00".
func plainYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// yuanRE is an amount in yuan: digits, or digits grouped by commas in
// threes, and at most two decimals.
var yuanRE = regexp.MustCompile(`^([0-9]+|[0-9]{1,3}(,[0-9]{3})+)(\.[0-9]{1,2})?$`)

// maxFen is the largest amount the pay center accepts (totalFee).
const maxFen = 100_000_000_000

// parseYuan parses an amount in yuan ("3", "3.5", "3.50", "1,280.00") into
// fen without floating point.
func parseYuan(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "¥"))
	if !yuanRE.MatchString(s) {
		return 0, fmt.Errorf("amount %q is not a yuan amount like 3.50", s)
	}
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", ""), ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > maxFen/100 {
		return 0, fmt.Errorf("amount %q is more than ¥%s", s, yuan(maxFen))
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	fen := w*100 + f
	if fen <= 0 {
		return 0, errors.New("the amount must be more than zero")
	}
	if fen > maxFen {
		return 0, fmt.Errorf("amount %q is more than ¥%s", s, yuan(maxFen))
	}
	return fen, nil
}

func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.Local().Format("2006-01-02 15:04:05")
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.Local().Format("2006-01-02 15:04:05")
	}
	return ""
}

// serverIP is the shop server's own address as the payer's request saw
// it (WeChat's Native pay wants the merchant server's IP).
func serverIP(c *gin.Context) string {
	if a, ok := c.Request.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if host, _, err := net.SplitHostPort(a.String()); err == nil {
			return host
		}
	}
	return "127.0.0.1"
}

// dialAddr turns a listening address into one the shop can call: an
// unspecified host ("", 0.0.0.0, ::) becomes loopback.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if isUnspecified(host) {
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}

// faviconPNG draws the shop's icon: a green coin.
func faviconPNG() []byte {
	const n = 32
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	green := color.NRGBA{R: 0x1a, G: 0xad, B: 0x19, A: 0xff}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := 2*x-n+1, 2*y-n+1
			if dx*dx+dy*dy <= (n-2)*(n-2) {
				img.Set(x, y, green)
			}
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}
