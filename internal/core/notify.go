package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/models"
)

// maxNotificationBytes bounds what is read from a notification.
const maxNotificationBytes = 1 << 20

// ErrUnknownCallback is returned for a callback path naming no app or no
// channel of that app.
var ErrUnknownCallback = errors.New("unknown callback")

// HandleNotification is the one path every channel notification takes,
// the sandbox's included: read and keep the raw body, let the channel
// verify and decode it, check it against the order, apply the state change
// (committed before anything is acknowledged), store an audit record, and
// let the channel write its own answer.
func (s *Service) HandleNotification(ctx context.Context, appID, provider, path string, w http.ResponseWriter, r *http.Request) {
	e, ok := s.apps[appID]
	ch := (channels.Channel)(nil)
	if ok {
		ch = e.byProvider[provider]
	}
	if ch == nil {
		s.logger(ctx).Warn("paycenter: notification for an unknown app or channel", "appId", appID, "provider", provider)
		http.Error(w, "unknown callback", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotificationBytes))
	r.Body = io.NopCloser(bytes.NewReader(body))
	var n *channels.Notification
	if err == nil {
		n, err = parseSafely(ctx, ch, r, path)
	}
	var outTradeNo string
	if err == nil && n != nil {
		outTradeNo, err = s.applyNotification(ctx, e, ch, n)
	}
	s.audit(ctx, appID, provider, path, r.Header, body, outTradeNo, err)
	if err != nil {
		s.logger(ctx).Warn("paycenter: notification refused", "appId", appID, "provider", provider, "path", path, "err", err)
	}
	ch.Ack(w, err)
}

// parseSafely runs the adapter's parser, turning a panic (some SDKs panic
// on validly signed but malformed input) into an error.
func parseSafely(ctx context.Context, ch channels.Channel, r *http.Request, path string) (n *channels.Notification, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = nil, fmt.Errorf("notification parser panicked: %v", p)
		}
	}()
	return ch.ParseNotification(ctx, r, path)
}

// applyNotification checks a verified notification against our records
// and applies it. It returns the charge's outTradeNo for the audit record.
func (s *Service) applyNotification(ctx context.Context, e *appEntry, ch channels.Channel, n *channels.Notification) (string, error) {
	switch n.Kind {
	case channels.NotifyPayment:
		if n.Payment == nil {
			return "", errors.New("payment notification without payment")
		}
		c, err := s.findCharge(ctx, s.db, e.ID, n.Payment.OutTradeNo)
		if err != nil {
			return n.Payment.OutTradeNo, err
		}
		if e.byCode[c.Channel] != ch {
			return c.OutTradeNo, fmt.Errorf("charge %s belongs to channel %s, not to this %s notification", c.OutTradeNo, c.Channel, ch.Provider())
		}
		return c.OutTradeNo, s.applyPayment(ctx, c, n.Payment)
	case channels.NotifyRefund:
		if n.Refund == nil {
			return "", errors.New("refund notification without refund")
		}
		r, err := s.findRefund(ctx, s.db, e.ID, n.Refund.OutRefundNo)
		if err != nil {
			return n.Refund.OutTradeNo, err
		}
		if n.Refund.OutTradeNo != "" && n.Refund.OutTradeNo != r.OutTradeNo {
			return n.Refund.OutTradeNo, fmt.Errorf("refund %s belongs to charge %s, not %s", r.OutRefundNo, r.OutTradeNo, n.Refund.OutTradeNo)
		}
		c, err := s.findCharge(ctx, s.db, e.ID, r.OutTradeNo)
		if err != nil {
			return r.OutTradeNo, err
		}
		if e.byCode[c.Channel] != ch {
			return c.OutTradeNo, fmt.Errorf("refund %s belongs to channel %s, not to this %s notification", r.OutRefundNo, c.Channel, ch.Provider())
		}
		if n.Refund.RefundFee != 0 && n.Refund.RefundFee != r.RefundFee {
			return c.OutTradeNo, fmt.Errorf("refund %s: notified amount %d fen does not match %d fen", r.OutRefundNo, n.Refund.RefundFee, r.RefundFee)
		}
		return c.OutTradeNo, s.applyRefund(ctx, r.ID, n.Refund)
	}
	return "", fmt.Errorf("unknown notification kind %q", n.Kind)
}

// auditHeaders are the request headers worth keeping with a notification:
// the channels' signature headers (signatures are not secrets, they are
// what the channel published) and the content type.
var auditHeaders = []string{"Content-Type", "Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp",
	"Wechatpay-Nonce", "Wechatpay-Signature-Type", "X-Sandbox-Signature"}

func (s *Service) audit(ctx context.Context, appID, provider, path string, h http.Header, body []byte, outTradeNo string, err error) {
	kept := map[string]string{}
	for _, k := range auditHeaders {
		if v := h.Get(k); v != "" {
			kept[k] = v
		}
	}
	hj, _ := json.Marshal(kept)
	rec := &models.Notification{
		AppID: appID, Provider: provider, Path: truncate(path, 64), OutTradeNo: truncate(outTradeNo, 32),
		Headers: string(hj), Body: strings.ToValidUTF8(string(body), "\uFFFD"), Accepted: err == nil, CreatedAt: s.utcNow(),
	}
	if err != nil {
		rec.Error = truncate(err.Error(), 500)
	}
	if derr := s.db.WithContext(context.WithoutCancel(ctx)).Table(s.t.Notifications).Create(rec).Error; derr != nil {
		s.logger(ctx).Error("paycenter: store notification audit record", "err", derr)
	}
}
