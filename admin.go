package paycenter

import (
	"net/http"

	"github.com/gopaycenter/paycenter/internal/admin"
)

// Admin returns the operator API: JSON endpoints to list and filter
// charges, refunds, deliveries, notifications, reconciliation reports and
// discrepancies (cursor pagination), to look at one charge with its
// refunds, deliveries and audit records, to refund, close, redeliver a
// webhook, reconcile a day and resolve a discrepancy. It has no
// authentication of its own: mount it behind the host's, under a prefix
// stripped from the path, e.g.
//
//	mux.Handle("/ops/pay/", requireStaff(http.StripPrefix("/ops/pay", pc.Admin())))
//	r.Any("/ops/pay/*path", staffOnly, gin.WrapH(http.StripPrefix("/ops/pay", pc.Admin())))
//
// The README's "Operator API" lists the endpoints, their parameters and
// errors.
func (pc *PayCenter) Admin() http.Handler {
	return admin.New(admin.Options{DB: pc.db, Tables: pc.tables, Service: pc, Logger: pc.cfg.Logger})
}
