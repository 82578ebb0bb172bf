package admin

import (
	"context"
	"errors"
	"net/http"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/reconcile"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Filters of each list (see the README's table).
var (
	chargeFilters = append([]filter{
		eq("appId", "app_id", text(32)),
		eq("outTradeNo", "out_trade_no", text(32)),
		eq("status", "status", oneOf(models.ChargeCreated, models.ChargePaid, models.ChargeClosed)),
		eq("channel", "channel", oneOf(channels.Codes...)),
		eq("account", "account", text(96)),
		eq("transactionId", "transaction_id", text(64)),
	}, createdRange()...)
	refundFilters = append([]filter{
		eq("appId", "app_id", text(32)),
		eq("outTradeNo", "out_trade_no", text(32)),
		eq("outRefundNo", "out_refund_no", text(64)),
		eq("status", "status", oneOf(models.RefundProcessing, models.RefundSucceeded, models.RefundFailed, models.RefundAbnormal)),
	}, createdRange()...)
	deliveryFilters = append([]filter{
		eq("appId", "app_id", text(32)),
		eq("status", "status", oneOf(models.DeliveryPending, models.DeliveryDelivered, models.DeliveryDead)),
		eq("target", "target", oneOf(models.TargetWebhook, models.TargetHooks)),
		eq("type", "type", text(32)),
		eq("eventId", "event_id", text(40)),
		eq("chargeId", "charge_id", positive),
	}, createdRange()...)
	notificationFilters = append([]filter{
		eq("appId", "app_id", text(32)),
		eq("provider", "provider", text(16)),
		eq("outTradeNo", "out_trade_no", text(32)),
		eq("accepted", "accepted", boolean),
	}, createdRange()...)
	reconciliationFilters = []filter{
		eq("provider", "provider", oneOf(reconcile.Providers...)),
		eq("account", "account", text(96)),
		eq("status", "status", oneOf(models.ReconciliationRunning, models.ReconciliationDone,
			models.ReconciliationNotReady, models.ReconciliationFailed)),
		eq("date", "bill_day", day),
		{"from", "bill_day >= ?", day},
		{"to", "bill_day <= ?", day},
	}
	discrepancyFilters = append([]filter{
		eq("status", "status", oneOf(models.DiscrepancyOpen, models.DiscrepancyResolved, models.DiscrepancyApplied)),
		eq("kind", "kind", text(48)),
		eq("source", "source", oneOf("notification", "query", "bill")),
		eq("appId", "app_id", text(32)),
		eq("outTradeNo", "out_trade_no", text(64)),
		eq("account", "account", text(96)),
		eq("date", "bill_day", day),
	}, createdRange()...)
)

func (h *handler) listCharges(w http.ResponseWriter, r *http.Request) error {
	items, next, err := page(h, r, h.t.Charges, chargeFilters, func(c *models.Charge) int64 { return c.ID })
	if err != nil {
		return err
	}
	out := make([]chargeView, len(items))
	for i := range items {
		out[i] = chargeOf(&items[i])
	}
	listed(w, out, next)
	return nil
}

func (h *handler) listRefunds(w http.ResponseWriter, r *http.Request) error {
	items, next, err := page(h, r, h.t.Refunds, refundFilters, func(x *models.Refund) int64 { return x.ID })
	if err != nil {
		return err
	}
	out := make([]refundView, len(items))
	for i := range items {
		out[i] = refundOf(&items[i])
	}
	listed(w, out, next)
	return nil
}

func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	items, next, err := page(h, r, h.t.Deliveries, deliveryFilters, func(d *models.Delivery) int64 { return d.ID })
	if err != nil {
		return err
	}
	out, err := h.deliveryViews(r.Context(), items)
	if err != nil {
		return err
	}
	listed(w, out, next)
	return nil
}

// deliveryViews names each delivery's charge by its order number (one
// query for the page).
func (h *handler) deliveryViews(ctx context.Context, items []models.Delivery) ([]deliveryView, error) {
	ids := make([]int64, 0, len(items))
	for i := range items {
		ids = append(ids, items[i].ChargeID)
	}
	var charges []models.Charge
	if len(ids) > 0 {
		err := h.db.WithContext(ctx).Table(h.t.Charges).Select("id", "out_trade_no").Where("id IN ?", ids).Find(&charges).Error
		if err != nil {
			return nil, err
		}
	}
	nos := map[int64]string{}
	for _, c := range charges {
		nos[c.ID] = c.OutTradeNo
	}
	out := make([]deliveryView, len(items))
	for i := range items {
		out[i] = deliveryOf(&items[i], nos[items[i].ChargeID])
	}
	return out, nil
}

func (h *handler) listNotifications(w http.ResponseWriter, r *http.Request) error {
	// The bodies stay out of lists: they can be large.
	items, next, err := page(h, r, h.t.Notifications, notificationFilters, func(n *models.Notification) int64 { return n.ID })
	if err != nil {
		return err
	}
	out := make([]notificationView, len(items))
	for i := range items {
		out[i] = notificationOf(&items[i], false)
	}
	listed(w, out, next)
	return nil
}

func (h *handler) listReconciliations(w http.ResponseWriter, r *http.Request) error {
	items, next, err := page(h, r, h.t.Reconciliations, reconciliationFilters, func(x *models.Reconciliation) int64 { return x.ID })
	if err != nil {
		return err
	}
	out := make([]*paytype.ReconcileReport, len(items))
	for i := range items {
		out[i] = paytype.ReconcileReportOf(&items[i])
	}
	listed(w, out, next)
	return nil
}

func (h *handler) listDiscrepancies(w http.ResponseWriter, r *http.Request) error {
	items, next, err := page(h, r, h.t.Discrepancies, discrepancyFilters, func(d *models.Discrepancy) int64 { return d.ID })
	if err != nil {
		return err
	}
	out := make([]paytype.Discrepancy, len(items))
	for i := range items {
		out[i] = paytype.DiscrepancyOf(&items[i])
	}
	listed(w, out, next)
	return nil
}

// findCharge reads the charge of the path's {appId} and {outTradeNo}.
func (h *handler) findCharge(r *http.Request) (*models.Charge, error) {
	var c models.Charge
	app, no := r.PathValue("appId"), r.PathValue("outTradeNo")
	err := h.db.WithContext(r.Context()).Table(h.t.Charges).Where("app_id = ? AND out_trade_no = ?", app, no).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound("app %s has no charge %s", app, no)
	}
	return &c, err
}

// charge answers one charge with its refunds, deliveries, the
// notifications about it (audit records, with their bodies) and the
// discrepancies found about it.
func (h *handler) charge(w http.ResponseWriter, r *http.Request) error {
	c, err := h.findCharge(r)
	if err != nil {
		return err
	}
	db := h.db.WithContext(r.Context())
	var refunds []models.Refund
	var deliveries []models.Delivery
	var notes []models.Notification
	var discs []models.Discrepancy
	for _, q := range []struct {
		table string
		out   any
		where string
		args  []any
	}{
		{h.t.Refunds, &refunds, "charge_id = ?", []any{c.ID}},
		{h.t.Deliveries, &deliveries, "charge_id = ?", []any{c.ID}},
		{h.t.Notifications, &notes, "app_id = ? AND out_trade_no = ?", []any{c.AppID, c.OutTradeNo}},
		{h.t.Discrepancies, &discs, "out_trade_no = ? AND (app_id = ? OR account = ?)", []any{c.OutTradeNo, c.AppID, c.Account}},
	} {
		if err := db.Table(q.table).Where(q.where, q.args...).Order("id").Limit(maxLimit).Find(q.out).Error; err != nil {
			return err
		}
	}
	body := struct {
		Charge        chargeView            `json:"charge"`
		Refunds       []refundView          `json:"refunds"`
		Deliveries    []deliveryView        `json:"deliveries"`
		Notifications []notificationView    `json:"notifications"`
		Discrepancies []paytype.Discrepancy `json:"discrepancies"`
	}{Charge: chargeOf(c), Refunds: []refundView{}, Notifications: []notificationView{}, Discrepancies: []paytype.Discrepancy{}}
	for i := range refunds {
		body.Refunds = append(body.Refunds, refundOf(&refunds[i]))
	}
	if body.Deliveries, err = h.deliveryViews(r.Context(), deliveries); err != nil {
		return err
	}
	for i := range notes {
		body.Notifications = append(body.Notifications, notificationOf(&notes[i], true))
	}
	for i := range discs {
		body.Discrepancies = append(body.Discrepancies, paytype.DiscrepancyOf(&discs[i]))
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}
