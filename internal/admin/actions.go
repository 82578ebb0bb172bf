package admin

import (
	"errors"
	"net/http"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/reconcile"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// refund refunds the path's charge, as POST /api/refunds does (the same
// rules and idempotency on outRefundNo).
func (h *handler) refund(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		OutRefundNo string `json:"outRefundNo"`
		RefundFee   int64  `json:"refundFee"`
		RefundDesc  string `json:"refundDesc"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := h.findCharge(r)
	if err != nil {
		return err
	}
	res, err := h.svc.Refund(r.Context(), c.AppID, paytype.RefundParams{
		OutTradeNo: c.OutTradeNo, OutRefundNo: in.OutRefundNo, RefundFee: in.RefundFee, RefundDesc: in.RefundDesc})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// close closes the path's charge, at the channel and here.
func (h *handler) close(w http.ResponseWriter, r *http.Request) error {
	c, err := h.findCharge(r)
	if err != nil {
		return err
	}
	res, err := h.svc.CloseCharge(r.Context(), c.AppID, c.Channel, c.OutTradeNo)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// redeliver makes delivery {id} due now and answers it.
func (h *handler) redeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := h.svc.Redeliver(r.Context(), id); err != nil {
		return err
	}
	var d models.Delivery
	if err := h.db.WithContext(r.Context()).Table(h.t.Deliveries).Where("id = ?", id).Take(&d).Error; err != nil {
		return err
	}
	views, err := h.deliveryViews(r.Context(), []models.Delivery{d})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, views[0])
	return nil
}

// resolve marks discrepancy {id} resolved with a note and answers it.
func (h *handler) resolve(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Note string `json:"note"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := h.svc.ResolveDiscrepancy(r.Context(), id, in.Note); err != nil {
		return err
	}
	var d models.Discrepancy
	if err := h.db.WithContext(r.Context()).Table(h.t.Discrepancies).Where("id = ?", id).Take(&d).Error; err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paytype.DiscrepancyOf(&d))
	return nil
}

// reconcile reconciles a day now and answers its reports.
func (h *handler) reconcile(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Provider string `json:"provider"`
		Date     string `json:"date"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := reconcile.CheckProvider(in.Provider); err != nil {
		return badRequest("provider %q must be alipay or wechat", in.Provider)
	}
	d, err := channels.ParseDay(in.Date)
	if err != nil {
		return badRequest("date %q must be a day written YYYY-MM-DD (Beijing time)", in.Date)
	}
	reports, err := h.svc.Reconcile(r.Context(), in.Provider, d)
	if err != nil {
		return reconcileError(err, reports)
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": reports})
	return nil
}

// reconciliation answers report {id} with its lists.
func (h *handler) reconciliation(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rep, err := h.svc.ReconcileReport(r.Context(), id)
	if errors.Is(err, reconcile.ErrNoReport) {
		return notFound("no reconciliation report %d", id)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
