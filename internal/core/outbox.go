package core

import (
	"context"
	"encoding/json"
	"github.com/gopaycenter/paycenter/paytype"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/models"
)

// webhookBody is the JSON body of a webhook (SPEC 5).
type webhookBody struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"` // ms
	Data    any    `json:"data"`
}

// emit writes the outbox entries of one event in tx, the transaction of the
// state change it reports: one for the app's webhook (when it has a
// NotifyURL) and one for the after-commit hooks (when any handles typ).
// Both are delivered by the workers after commit, at least once.
func (s *Service) emit(tx *gorm.DB, appID, typ string, chargeID, refundID int64, data any) error {
	e := s.apps[appID]
	webhook := e != nil && e.NotifyURL != ""
	if !webhook && !s.hooks.HasAfter(typ) {
		return nil
	}
	now := s.utcNow()
	id := "evt_" + token()
	body, err := json.Marshal(webhookBody{ID: id, Type: typ, Created: now.UnixMilli(), Data: data})
	if err != nil {
		return err
	}
	row := func(target, url string) models.Delivery {
		return models.Delivery{
			EventID: id, AppID: appID, Type: typ, Target: target, ChargeID: chargeID, RefundID: refundID,
			URL: url, Body: string(body), Status: models.DeliveryPending, NextAttemptAt: now,
			CreatedAt: now, UpdatedAt: now,
		}
	}
	var rows []models.Delivery
	if webhook {
		rows = append(rows, row(models.TargetWebhook, e.NotifyURL))
	}
	if s.hooks.HasAfter(typ) {
		rows = append(rows, row(models.TargetHooks, ""))
	}
	return s.deliveries(tx).Create(&rows).Error
}

func (s *Service) deliveries(db *gorm.DB) *gorm.DB { return db.Table(s.t.Deliveries) }

// refundEventData is the data of refund events: the refund-result fields
// plus the charge's channel and attach (SPEC 5: "attach included").
type refundEventData struct {
	*paytype.RefundResult
	Channel channels.Code `json:"channel"`
	Attach  string        `json:"attach"`
}

// Deliveries lists outbox entries, newest first.
func (s *Service) Deliveries(ctx context.Context, f paytype.DeliveryFilter) ([]models.Delivery, error) {
	q := s.deliveries(s.db.WithContext(ctx))
	if f.AppID != "" {
		q = q.Where("app_id = ?", f.AppID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Target != "" {
		q = q.Where("target = ?", f.Target)
	}
	if f.EventID != "" {
		q = q.Where("event_id = ?", f.EventID)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []models.Delivery
	err := q.Order("id DESC").Limit(f.Limit).Find(&out).Error
	return out, internal0(err)
}

// Redeliver makes an outbox entry due now, whatever its state (a dead or
// delivered webhook is sent again, with the same event id).
func (s *Service) Redeliver(ctx context.Context, id int64) error {
	now := s.utcNow()
	res := s.deliveries(s.db.WithContext(ctx)).Where("id = ?", id).Updates(map[string]any{
		"status": models.DeliveryPending, "next_attempt_at": now, "lease_until": nil, "lease_token": "", "updated_at": now,
	})
	if res.Error != nil {
		return internal(res.Error)
	}
	if res.RowsAffected == 0 {
		return newErr(paytype.CodeNotFound, "no delivery %d", id)
	}
	s.wakeWorkers()
	return nil
}

// hookEvent loads what an after-commit hook receives for d.
func (s *Service) hookEvent(ctx context.Context, d *models.Delivery) (*hooks.Event, error) {
	var body webhookBody
	if err := json.Unmarshal([]byte(d.Body), &body); err != nil {
		return nil, err
	}
	ev := &hooks.Event{ID: d.EventID, Type: d.Type, Created: time.UnixMilli(body.Created).UTC(), Attempt: d.Attempts + 1}
	var c models.Charge
	if err := s.charges(s.db.WithContext(ctx)).Where("id = ?", d.ChargeID).Take(&c).Error; err != nil {
		return nil, err
	}
	ev.Charge = &c
	if d.RefundID != 0 {
		var r models.Refund
		if err := s.refunds(s.db.WithContext(ctx)).Where("id = ?", d.RefundID).Take(&r).Error; err != nil {
			return nil, err
		}
		ev.Refund = &r
	}
	return ev, nil
}
