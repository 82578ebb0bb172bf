package handlers

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/gopaycenter/paycenter/channels/sandbox"
	"github.com/gopaycenter/paycenter/internal/core"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// cashier renders the sandbox cashier page of a charge: its amount and
// state, Pay / Fail / Close buttons that post to /sandbox/pay, what the last
// button did, and a link back to the merchant (the charge's own returnUrl,
// never one from the request).
func (h *handler) cashier(c *gin.Context) {
	ch, err := h.svc.SandboxCharge(c.Request.Context(), c.Param("appId"), c.Param("outTradeNo"))
	if err != nil {
		c.String(http.StatusNotFound, core.AsError(err).Msg)
		return
	}
	data := map[string]any{
		"Charge":  ch,
		"Amount":  yuanPrinter.Sprintf("%d.%02d", ch.TotalFee/100, ch.TotalFee%100),
		"PayPath": h.svc.Path("/sandbox/pay"),
		"Message": cashierMessages[c.Query("done")],
		"Open":    ch.Status == models.ChargeCreated,
		"Return":  ch.ReturnURL,
		"Results": []string{sandbox.ResultSuccess, sandbox.ResultFail, sandbox.ResultClose},
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	if err := cashierTmpl.Execute(c.Writer, data); err != nil {
		h.logger(c).ErrorContext(c.Request.Context(), "paycenter: render sandbox cashier", "err", err)
	}
}

// yuanPrinter groups thousands in the cashier's amount (¥1,000,000,000.00).
var yuanPrinter = message.NewPrinter(language.English)

// cashierMessages say what the last button did (?done=...). Fixed texts: the
// page never shows text taken from the request.
var cashierMessages = map[string]string{
	sandbox.ResultSuccess: "Paid. The merchant has been notified.",
	sandbox.ResultFail:    "The payment failed. The charge stays open: you can pay again.",
	sandbox.ResultClose:   "The charge is closed: it can no longer be paid.",
	"refused":             "The pay center refused the notification (see its log); nothing changed. Try again.",
	"error":               "That did not work; see the pay center's log.",
}

// sandboxPay applies a cashier outcome through the notification path. A
// browser form (back=1) is redirected back to the cashier, which says what
// happened; any other client gets JSON: 200 when the notification was
// accepted, 404 for an unknown charge, 400 for a bad result, 502 when it was
// refused (as a channel would see it refused; post again to redeliver).
func (h *handler) sandboxPay(c *gin.Context) {
	appID, outTradeNo, result := c.PostForm("appId"), c.PostForm("outTradeNo"), c.PostForm("result")
	ch, err := h.svc.SandboxPay(c.Request.Context(), appID, outTradeNo, result)
	if c.PostForm("back") == "1" {
		done := result
		if errors.Is(err, core.ErrNotificationRefused) {
			done = "refused"
		} else if err != nil {
			done = "error"
		}
		c.Redirect(http.StatusSeeOther, h.svc.Path("/sandbox/cashier/"+url.PathEscape(appID)+"/"+url.PathEscape(outTradeNo))+"?done="+done)
		return
	}
	if err != nil {
		status, msg := http.StatusBadGateway, core.ErrNotificationRefused.Error()
		if !errors.Is(err, core.ErrNotificationRefused) {
			e := core.AsError(err)
			switch e.Code {
			case paytype.CodeNotFound, paytype.CodeInvalidKey:
				status = http.StatusNotFound
			case paytype.CodeInvalid:
				status = http.StatusBadRequest
			default:
				status = http.StatusInternalServerError
				h.logger(c).ErrorContext(c.Request.Context(), "paycenter: sandbox pay failed", "err", err)
			}
			msg = e.Msg // never the internal cause
		}
		c.JSON(status, gin.H{"ok": false, "error": msg})
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true, "appId": appID, "outTradeNo": outTradeNo, "result": result, "status": ch.Status})
}

var cashierTmpl = template.Must(template.New("cashier").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox cashier · {{.Charge.OutTradeNo}}</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem 1rem}
main{max-width:28rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 2px 12px #0001}
h1{font-size:1.1rem;color:#555;margin:0 0 1rem}.amount{font-size:clamp(1.4rem,7vw,2.2rem);font-weight:600;margin:.5rem 0;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:auto minmax(0,1fr);gap:.3rem 1rem;color:#333}dt{color:#888}dd{margin:0;overflow-wrap:anywhere}
.buttons{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1.5rem}button{flex:1;padding:.7rem;border:0;border-radius:8px;font-size:1rem;cursor:pointer}
.pay{background:#1aad19;color:#fff}.fail{background:#e9a100;color:#fff}.close{background:#ccc}
.msg{background:#fff4e5;border-radius:8px;padding:.6rem;margin-top:1rem}.status{font-weight:600}
</style></head><body><main>
<h1>Sandbox cashier — no real money moves</h1>
<div class="amount">¥{{.Amount}}</div>
<dl><dt>Order</dt><dd id="outTradeNo">{{.Charge.OutTradeNo}}</dd>
<dt>Subject</dt><dd>{{.Charge.Subject}}</dd>
<dt>Channel</dt><dd>{{.Charge.Channel}}</dd>
<dt>Status</dt><dd class="status" id="status">{{.Charge.Status}}</dd></dl>
{{if .Message}}<p class="msg" id="message">{{.Message}}</p>{{end}}
{{if .Open}}<div class="buttons">
{{range $r := .Results}}<form method="post" action="{{$.PayPath}}" style="flex:1;display:flex">
<input type="hidden" name="appId" value="{{$.Charge.AppID}}"><input type="hidden" name="outTradeNo" value="{{$.Charge.OutTradeNo}}">
<input type="hidden" name="result" value="{{$r}}"><input type="hidden" name="back" value="1">
<button id="{{$r}}" class="{{if eq $r "success"}}pay{{else}}{{$r}}{{end}}">{{if eq $r "success"}}Pay{{else if eq $r "fail"}}Fail{{else}}Close{{end}}</button></form>{{end}}
</div>{{end}}
{{if .Return}}<p><a id="return" href="{{.Return}}">Back to the merchant</a></p>{{end}}
</main></body></html>`))
