package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// The operator API (pc.Admin()) in the example: mounted at /admin/api
// behind a bearer token, and the shop's admin page, which reads and acts
// through it over HTTP (as a back office would) rather than reading the
// pay center's tables.

// adminPrefix is where the example mounts the operator API.
const adminPrefix = "/admin/api"

// adminTokenEnv names the variable that sets the operator API's token.
const adminTokenEnv = "PAYCENTER_ADMIN_TOKEN"

// adminToken returns the operator API's bearer token: $PAYCENTER_ADMIN_TOKEN,
// or a random one for this run (the shop's admin page knows it).
func adminToken() (token string, fromEnv bool) {
	if t := os.Getenv(adminTokenEnv); t != "" {
		return t, true
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b), false
}

// mountAdmin serves pc.Admin() under adminPrefix to requests that carry
// the token ("Authorization: Bearer <token>"): the example's stand-in for
// a host's own authentication.
func mountAdmin(r *gin.Engine, pc *paycenter.PayCenter, token string) {
	api := http.StripPrefix(adminPrefix, pc.Admin())
	r.Any(adminPrefix+"/*path", func(c *gin.Context) {
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="paycenter operator API"`)
			c.JSON(http.StatusUnauthorized, gin.H{"error": "unauthorized",
				"message": "the operator API needs Authorization: Bearer <token> (see the banner, or set " + adminTokenEnv + ")"})
			return
		}
		api.ServeHTTP(c.Writer, c.Request)
	})
}

// printAdmin tells where the operator API is. Its token is shown for the
// demo's generated app only, like the app's secret; otherwise it is the
// one the operator set.
func printAdmin(w io.Writer, fc *fileConfig, token string, fromEnv, generated bool) {
	switch {
	case fromEnv:
		token = "$" + adminTokenEnv
	case !generated:
		token = "<not shown: set " + adminTokenEnv + " to choose it>"
	}
	fmt.Fprintf(w, "operator API: %s%s/charges ... (Authorization: Bearer %s; see README)\n", fc.PublicURL, adminPrefix, token)
}

// adminClient calls the operator API.
type adminClient struct {
	base  string // http://host:port/admin/api
	token string
	http  *http.Client
}

// adminError is an error answer of the operator API.
type adminError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *adminError) Error() string {
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// do sends method path with body (JSON, nil for none) and decodes the
// answer into out.
func (a *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		e := &adminError{Status: resp.StatusCode}
		if err := dec.Decode(e); err != nil || e.Message == "" {
			return fmt.Errorf("operator API: HTTP %d", resp.StatusCode)
		}
		return e
	}
	return dec.Decode(out)
}

// list reads the first page of a list.
func list[T any](ctx context.Context, a *adminClient, path string) ([]T, error) {
	var page struct {
		Items []T `json:"items"`
	}
	err := a.do(ctx, http.MethodGet, path, nil, &page)
	return page.Items, err
}

// The operator API's charges, refunds and deliveries, as the admin page
// shows them (the API's Go types for these are internal; its reports and
// discrepancies are paycenter.ReconcileReport and paytype.Discrepancy).
type (
	adminCharge struct {
		ID          int64      `json:"id"`
		AppID       string     `json:"appId"`
		OutTradeNo  string     `json:"outTradeNo"`
		Channel     string     `json:"channel"`
		TotalFee    int64      `json:"totalFee"`
		Status      string     `json:"status"`
		LatePaid    bool       `json:"latePaid"`
		RefundedFee int64      `json:"refundedFee"`
		CreatedAt   time.Time  `json:"createdAt"`
		PaidAt      *time.Time `json:"paidAt"`
	}
	adminRefund struct {
		OutRefundNo string     `json:"outRefundNo"`
		OutTradeNo  string     `json:"outTradeNo"`
		RefundFee   int64      `json:"refundFee"`
		Status      string     `json:"status"`
		FailReason  string     `json:"failReason"`
		RefundDesc  string     `json:"refundDesc"`
		RefundedAt  *time.Time `json:"refundedAt"`
	}
	adminDelivery struct {
		ID            int64      `json:"id"`
		Type          string     `json:"type"`
		Target        string     `json:"target"`
		OutTradeNo    string     `json:"outTradeNo"`
		URL           string     `json:"url"`
		Status        string     `json:"status"`
		Attempts      int        `json:"attempts"`
		NextAttemptAt time.Time  `json:"nextAttemptAt"`
		LastStatus    int        `json:"lastStatus"`
		LastError     string     `json:"lastError"`
		DeliveredAt   *time.Time `json:"deliveredAt"`
	}
)

// adminPage is what the admin page shows, each list newest first.
type adminPage struct {
	Charges       []adminCharge
	Refunds       []adminRefund
	Deliveries    []adminDelivery
	Reports       []paycenter.ReconcileReport
	Discrepancies []paytype.Discrepancy
}

// load reads the admin page's lists through the operator API.
func (a *adminClient) load(ctx context.Context) (*adminPage, error) {
	p := &adminPage{}
	var err error
	if p.Charges, err = list[adminCharge](ctx, a, "/charges?limit=100"); err != nil {
		return nil, err
	}
	if p.Refunds, err = list[adminRefund](ctx, a, "/refunds?limit=100"); err != nil {
		return nil, err
	}
	if p.Deliveries, err = list[adminDelivery](ctx, a, "/deliveries?limit=100"); err != nil {
		return nil, err
	}
	if p.Reports, err = list[paycenter.ReconcileReport](ctx, a, "/reconciliations?limit=30"); err != nil {
		return nil, err
	}
	// Open ones first: they are what a person acts on.
	if p.Discrepancies, err = list[paytype.Discrepancy](ctx, a, "/discrepancies?status=OPEN&limit=100"); err != nil {
		return nil, err
	}
	settled, err := list[paytype.Discrepancy](ctx, a, "/discrepancies?source=bill&limit=50")
	for _, d := range settled {
		if d.Status != models.DiscrepancyOpen {
			p.Discrepancies = append(p.Discrepancies, d)
		}
	}
	return p, err
}

// admin is the shop's admin page: the pay center's charges, refunds,
// deliveries, reconciliation reports and discrepancies through the
// operator API, and the shop's own orders from its table.
func (s *shop) admin(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.ops.load(ctx)
	if err != nil {
		s.fail(c, http.StatusBadGateway, "Could not read the operator API", err)
		return
	}
	var orders []shopOrder
	if err := s.db.WithContext(ctx).Order("created_at DESC").Limit(100).Find(&orders).Error; err != nil {
		s.fail(c, http.StatusInternalServerError, "Could not read shop orders", err)
		return
	}
	fresh := false // a delivery not tried yet: the page refreshes itself
	for _, d := range p.Deliveries {
		fresh = fresh || (d.Status == "PENDING" && d.Attempts == 0)
	}
	s.render(c, http.StatusOK, "admin", gin.H{"Title": "Admin", "Charges": p.Charges, "Refunds": p.Refunds,
		"Orders": orders, "Deliveries": p.Deliveries, "Reports": p.Reports, "Discrepancies": p.Discrepancies,
		"Refresh": fresh, "Wide": true, "API": adminPrefix, "Yesterday": channels.DayOf(time.Now()).AddDays(-1).String(),
		"Notice": c.Query("notice"), "Error": c.Query("error")})
}

// adminBack returns to the admin page with a notice or an error.
func adminBack(c *gin.Context, key, msg string) {
	c.Redirect(http.StatusSeeOther, shopPrefix+"/admin?"+url.Values{key: {msg}}.Encode()+"#reconciliation")
}

// reconcile runs a reconciliation from the admin page's form.
func (s *shop) reconcile(c *gin.Context) {
	var out struct {
		Reports []paycenter.ReconcileReport `json:"reports"`
	}
	err := s.ops.do(c.Request.Context(), http.MethodPost, "/reconciliations",
		map[string]string{"provider": c.PostForm("provider"), "date": c.PostForm("date")}, &out)
	if err != nil {
		adminBack(c, "error", "Reconciliation: "+err.Error())
		return
	}
	var parts []string
	for _, r := range out.Reports {
		parts = append(parts, fmt.Sprintf("%s %s: %s, %d matched, %d applied, %d open", r.Account, r.Date, r.Status,
			r.Matched, r.AppliedCount, r.OpenDiscrepancies))
	}
	adminBack(c, "notice", "Reconciled "+strings.Join(parts, "; "))
}

// resolve marks a discrepancy resolved from the admin page's form.
func (s *shop) resolve(c *gin.Context) {
	var d paytype.Discrepancy
	err := s.ops.do(c.Request.Context(), http.MethodPost, "/discrepancies/"+url.PathEscape(c.Param("id"))+"/resolve",
		map[string]string{"note": c.PostForm("note")}, &d)
	var ae *adminError
	switch {
	case errors.As(err, &ae):
		adminBack(c, "error", "Not resolved: "+ae.Message)
	case err != nil:
		adminBack(c, "error", "Not resolved: "+err.Error())
	default:
		adminBack(c, "notice", fmt.Sprintf("Discrepancy %d (%s %s) resolved", d.ID, d.Kind, d.OutTradeNo))
	}
}
