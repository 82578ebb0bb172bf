package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
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
//
// A verified notification that does not match the pay center's records
// (an unknown number, another amount, account or marker) is not applied: it
// is recorded as a discrepancy for a person and answered as a failure (the
// channel's retries count as occurrences of the same discrepancy).
func (s *Service) HandleNotification(ctx context.Context, appID, provider, path string, w http.ResponseWriter, r *http.Request) {
	e, ok := s.apps[appID]
	var ch channels.Channel
	if ok {
		ch = e.byProvider[provider]
	}
	if ch == nil {
		s.logger(ctx).WarnContext(ctx, "paycenter: notification for an unknown app or channel", "appId", clean(appID, 32), "provider", clean(provider, 16))
		s.tel.Notification(ctx, "", telemetry.UnknownCallback)
		http.Error(w, "unknown callback", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotificationBytes))
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := s.auditRecord(appID, provider, path, r.Header, body)
	var n *channels.Notification
	parsed := false
	if err == nil {
		n, err = parseSafely(ctx, ch, r, path)
		parsed = err == nil
	}
	if err == nil && n != nil {
		// The audit record commits with the state change it caused.
		err = s.applyNotification(ctx, e, ch, n, rec)
	}
	if err != nil || n == nil {
		s.audit(ctx, rec, err == nil || n != nil, err)
	}
	if err != nil {
		s.logger(ctx).WarnContext(ctx, "paycenter: notification refused", "appId", appID, "provider", provider, "path", clean(path, 64), "err", err)
	}
	s.tel.Notification(ctx, ch.Provider(), refusal(err, parsed))
	ch.Ack(w, err)
}

// refusal names why a notification was refused (parsed: the channel had
// verified and decoded it), for the metrics.
func refusal(err error, parsed bool) telemetry.Reason {
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return telemetry.Accepted
	case errors.As(err, &tooLarge):
		return telemetry.TooLarge
	case errors.Is(err, channels.ErrBadSignature):
		return telemetry.BadSignature
	case !parsed:
		return telemetry.BadBody
	case errors.Is(err, errUnknownOrder):
		return telemetry.UnknownOrder
	case errors.Is(err, errNotApplied):
		return telemetry.Mismatch
	}
	return telemetry.Internal
}

// errUnknownOrder: a verified notification names a number the app has no
// charge or refund for; it was recorded as a discrepancy.
var errUnknownOrder = fmt.Errorf("%w: no such order here", errNotApplied)

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
// and applies it, with its audit record rec in the same transaction. It
// returns errNotApplied when it recorded a discrepancy instead.
func (s *Service) applyNotification(ctx context.Context, e *appEntry, ch channels.Channel, n *channels.Notification, rec *models.Notification) error {
	switch n.Kind {
	case channels.NotifyPayment:
		p := n.Payment
		if p == nil {
			return errors.New("payment notification without payment")
		}
		rec.OutTradeNo = clean(p.OutTradeNo, 32)
		_, err := s.applyPaymentTo(ctx, e, ch, nil, "app_id = ? AND out_trade_no = ?", []any{e.ID, p.OutTradeNo}, p, sourceNotification, rec)
		if !errors.Is(err, errNoRow) {
			return err
		}
		if p.Status != channels.PaymentPaid {
			return s.recordAudit(ctx, rec) // nothing to apply, nothing lost
		}
		s.recordDiscrepancy(ctx, &models.Discrepancy{
			Kind: models.DiscrepancyForeignOrder, Source: sourceNotification, AppID: e.ID, Provider: ch.Provider(),
			Account: account(e.ID, ch), OutTradeNo: p.OutTradeNo, TransactionID: p.TransactionID,
			ChannelAmount: p.TotalFee, Detail: "a verified payment for a number this app has no charge for",
		})
		return errUnknownOrder
	case channels.NotifyRefund:
		if n.Refund == nil {
			return errors.New("refund notification without refund")
		}
		return s.applyRefundNotification(ctx, e, ch, n.Refund, rec)
	}
	return fmt.Errorf("unknown notification kind %q", n.Kind)
}

// recordAudit stores rec alone (a notification that changes nothing).
func (s *Service) recordAudit(ctx context.Context, rec *models.Notification) error {
	return s.db.Single(ctx, func(db *gorm.DB) error { return db.Table(s.t.Notifications).Create(rec).Error })
}

// applyRefundNotification checks a verified refund notification against
// the refund it names and applies it.
func (s *Service) applyRefundNotification(ctx context.Context, e *appEntry, ch channels.Channel, rf *channels.Refund, rec *models.Notification) error {
	rec.OutTradeNo = clean(rf.OutTradeNo, 32)
	d := &models.Discrepancy{Source: sourceNotification, AppID: e.ID, Provider: ch.Provider(), Account: account(e.ID, ch),
		OutTradeNo: rf.OutTradeNo, OutRefundNo: rf.OutRefundNo, ChannelAmount: rf.RefundFee}
	r, err := s.findRefund(ctx, s.db.R, e.ID, rf.OutRefundNo)
	switch {
	case errors.Is(err, paytype.CodeNotFound):
		d.Kind, d.Detail = models.DiscrepancyRefundUnknown, "a verified refund with a number this app has no refund for"
	case err != nil:
		return err
	case rf.OutTradeNo != "" && rf.OutTradeNo != r.OutTradeNo:
		d.Kind, d.Detail = models.DiscrepancyRefundUnknown, fmt.Sprintf("refund %s belongs to charge %s here", r.OutRefundNo, r.OutTradeNo)
	}
	if d.Kind == "" {
		c, err := s.findCharge(ctx, s.db.R, e.ID, r.OutTradeNo)
		if err != nil {
			return err
		}
		d.Account, d.LocalAmount = c.Account, r.RefundFee
		switch {
		case e.byCode[c.Channel] != ch || (c.Account != "" && c.Account != account(e.ID, ch)):
			d.Kind, d.Detail = models.DiscrepancyAccount, fmt.Sprintf("the refund's charge is on %s, the notification comes from %s", c.Account, account(e.ID, ch))
		case rf.RefundFee != 0 && rf.RefundFee != r.RefundFee:
			d.Kind, d.Detail = models.DiscrepancyRefundAmount, fmt.Sprintf("refunded %d fen, the refund is %d fen", rf.RefundFee, r.RefundFee)
		default:
			rec.OutTradeNo = clean(c.OutTradeNo, 32)
			_, err := s.applyRefund(ctx, r, rf, sourceNotification, nil, func(t *txn) error { return t.Table(s.t.Notifications).Create(rec).Error })
			return err
		}
	}
	s.recordDiscrepancy(ctx, d)
	if d.Kind == models.DiscrepancyRefundUnknown {
		return errUnknownOrder
	}
	return errNotApplied
}

// auditHeaders are the request headers worth keeping with a notification:
// the channels' signature headers (signatures are not secrets, they are
// what the channel published) and the content type.
var auditHeaders = []string{"Content-Type", "Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp",
	"Wechatpay-Nonce", "Wechatpay-Signature-Type", "X-Sandbox-Signature"}

// auditRecord is the audit record of a notification: the body as received
// (whole; audit keeps only the first models.MaxRefusedBodyBytes of one
// whose signature did not verify, since anyone can post those), its size
// and SHA-256, and the channel's signature headers.
func (s *Service) auditRecord(appID, provider, path string, h http.Header, body []byte) *models.Notification {
	kept := map[string]string{}
	for _, k := range auditHeaders {
		if v := h.Get(k); v != "" {
			kept[k] = v
		}
	}
	hj, _ := json.Marshal(kept)
	sum := sha256.Sum256(body)
	return &models.Notification{
		AppID: appID, Provider: provider, Path: clean(path, 64), Headers: string(hj), Body: body,
		BodySize: int64(len(body)), BodySHA256: hex.EncodeToString(sum[:]), Accepted: true, CreatedAt: s.utcNow(),
	}
}

// audit stores the record of a notification refused (err) or changing
// nothing, on its own. A record that cannot be stored is logged with the
// body's hash, so the body can be matched later.
func (s *Service) audit(ctx context.Context, rec *models.Notification, verified bool, err error) {
	if !verified && len(rec.Body) > models.MaxRefusedBodyBytes {
		rec.Body = rec.Body[:models.MaxRefusedBodyBytes]
	}
	if err != nil {
		rec.Accepted, rec.Error = false, clean(err.Error(), 500)
	}
	if derr := s.recordAudit(context.WithoutCancel(ctx), rec); derr != nil {
		s.logger(ctx).ErrorContext(ctx, "paycenter: store notification audit record", "appId", rec.AppID, "provider", rec.Provider,
			"accepted", rec.Accepted, "bodySize", rec.BodySize, "bodySha256", rec.BodySHA256, "err", derr)
	}
}
