package core

import (
	"context"
	"errors"
	"net/http"

	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// sandboxNotifier is what the sandbox channel offers beyond the contract.
type sandboxNotifier interface {
	Notification(callbackURL, outTradeNo, result string, totalFee int64) (*http.Request, error)
}

// ErrNotificationRefused is SandboxPay's answer when the notification was
// refused, as a channel would see it (a hook failed, the database failed):
// nothing changed, and it can be sent again.
var ErrNotificationRefused = errors.New("the pay center refused the sandbox notification (see its log); nothing changed, retry")

// SandboxCharge returns a charge served by the sandbox, for the cashier.
func (s *Service) SandboxCharge(ctx context.Context, appID, outTradeNo string) (*models.Charge, error) {
	e, err := s.app(appID)
	if err != nil {
		return nil, newErr(paytype.CodeNotFound, "unknown app %q", appID)
	}
	c, err := s.findCharge(ctx, s.db.R, appID, outTradeNo)
	if err != nil {
		return nil, err
	}
	if s.sandbox == nil || e.byCode[c.Channel] != s.sandbox {
		return nil, newErr(paytype.CodeNotFound, "charge %s is not served by the sandbox", outTradeNo)
	}
	return c, nil
}

// SandboxPay applies a cashier outcome ("success", "fail" or "close") by
// having the sandbox channel sign a notification and handling it through
// HandleNotification, the path every real channel's notification takes.
// It returns the charge as it is afterwards; an error means the
// notification was refused (and, as with a real channel, can be sent again).
func (s *Service) SandboxPay(ctx context.Context, appID, outTradeNo, result string) (*models.Charge, error) {
	c, err := s.SandboxCharge(ctx, appID, outTradeNo)
	if err != nil {
		return nil, err
	}
	sb := s.sandbox.(sandboxNotifier)
	req, err := sb.Notification(s.callbackURL(appID, s.sandbox), outTradeNo, result, c.TotalFee)
	if err != nil {
		return nil, invalid("result", "must be success, fail or close")
	}
	w := &statusWriter{header: http.Header{}}
	s.HandleNotification(ctx, appID, s.sandbox.Provider(), "/notify", w, req.WithContext(ctx))
	if w.status != http.StatusOK {
		return nil, ErrNotificationRefused
	}
	return s.findCharge(ctx, s.db.R, appID, outTradeNo)
}

// statusWriter records the status a channel's Ack writes.
type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header { return w.header }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
