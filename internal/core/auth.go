package core

import (
	"context"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Request validity (SPEC 2.1).
const (
	DefaultExpires = 300_000 // ms
	MaxExpires     = 600_000 // ms
	MaxFutureSkew  = 5 * time.Minute
)

var nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Authenticate checks the signature of a request — its method, its path as
// the server received it, and every parameter p (query, form and the common
// parameters, whether sent as headers or parameters; sign included) — and
// returns the calling app. The order of the checks: key, sign, version,
// timestamp/expires/nonce syntax, signature, freshness, nonce replay — so
// that only an authentic request can use up a nonce.
func (s *Service) Authenticate(ctx context.Context, method, path string, p map[string]string) (*paytype.App, error) {
	key := p["key"]
	if key == "" {
		return nil, missing("key")
	}
	e, ok := s.byKey[key]
	if !ok {
		return nil, newErr(paytype.CodeInvalidKey, "key is not the key of any app")
	}
	got := p["sign"]
	if got == "" {
		return nil, missing("sign")
	}
	v2 := p["version"] == "v2" || p["version"] == "v2.0"
	if !v2 && e.MinSignVersion == 2 {
		return nil, newErr(paytype.CodeBadSign, "this app accepts only signature version v2 (version=v2 with timestamp and nonce)")
	}
	w, err := parseWindow(p, v2)
	if err != nil {
		return nil, err
	}
	base := sign.BaseString(method, path, p)
	want, rule := sign.V1(base, e.Secret), "v1: MD5 of the URL-encoded METHOD + path + sorted name=value pairs + secret"
	if v2 {
		want, rule = sign.V2(base, e.Secret), "v2: HMAC-SHA256 with the secret of the URL-encoded METHOD + path + sorted name=value pairs"
	}
	if !sign.Equal(got, want) {
		return nil, s.badSign(ctx, &e.App, base, rule, v2)
	}
	if err := w.fresh(s.utcNow()); err != nil {
		return nil, err
	}
	if v2 {
		if err := s.useNonce(ctx, e.ID, w.nonce, w.until()); err != nil {
			return nil, err
		}
	}
	return &e.App, nil
}

// window is when a signed request may be accepted: from its timestamp
// (ms; none for a v1 request without one) for expires ms, with its nonce.
type window struct {
	ts, expires int64
	hasTS       bool
	nonce       string
}

// parseWindow reads and checks the syntax of timestamp, expires and (v2)
// nonce.
func parseWindow(p map[string]string, v2 bool) (window, error) {
	w := window{expires: DefaultExpires, nonce: p["nonce"]}
	_, w.hasTS = p["timestamp"]
	if w.hasTS {
		var err error
		if w.ts, err = strconv.ParseInt(p["timestamp"], 10, 64); err != nil || w.ts <= 0 {
			return w, invalid("timestamp", "must be a time in milliseconds since the epoch")
		}
		if err := notSeconds("timestamp", w.ts); err != nil {
			return w, err
		}
	}
	if raw, ok := p["expires"]; ok {
		var err error
		if w.expires, err = strconv.ParseInt(raw, 10, 64); err != nil || w.expires < 0 {
			return w, invalid("expires", "must be a non-negative number of milliseconds")
		}
		// A validity under a second cannot survive clock skew and transit;
		// such a value is a number of seconds sent by mistake.
		if w.expires > 0 && w.expires < 1000 {
			return w, invalid("expires", "must be milliseconds; %d looks like seconds (%d s is %d ms)", w.expires, w.expires, w.expires*1000)
		}
		w.expires = min(w.expires, MaxExpires)
	}
	if !v2 {
		return w, nil
	}
	switch {
	case !w.hasTS:
		return w, missing("timestamp (signature v2)")
	case w.nonce == "":
		return w, missing("nonce (signature v2)")
	case !nonceRE.MatchString(w.nonce):
		return w, invalid("nonce", "must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
	}
	return w, nil
}

// until is when the request stops being acceptable.
func (w window) until() time.Time {
	return time.UnixMilli(w.ts).Add(time.Duration(w.expires) * time.Millisecond).UTC()
}

// fresh checks the window against now: not expired, not from the future.
func (w window) fresh(now time.Time) error {
	if !w.hasTS {
		return nil
	}
	if now.After(w.until()) {
		return newErr(paytype.CodeExpired, "request expired: timestamp + expires (%d ms) is in the past", w.expires)
	}
	if time.UnixMilli(w.ts).After(now.Add(MaxFutureSkew)) {
		return newErr(paytype.CodeExpired, "timestamp is more than 5 minutes in the future")
	}
	return nil
}

// useNonce records nonce as used until the request carrying it could no
// longer be accepted; a second use within that window is 10005.
func (s *Service) useNonce(ctx context.Context, appID, nonce string, until time.Time) error {
	err := s.db.Single(ctx, func(db *gorm.DB) error {
		return db.Table(s.t.Nonces).Create(&models.Nonce{AppID: appID, Nonce: nonce, ExpiresAt: until}).Error
	})
	if store.Duplicate(err) {
		return newErr(paytype.CodeExpired, "nonce has already been used")
	}
	if err != nil {
		return internal(err)
	}
	s.nonces.maybePurge(ctx, s)
	return nil
}

// nonceJanitor deletes expired nonces every purgeEvery uses.
type nonceJanitor struct{ n atomic.Int64 }

const purgeEvery = 512

func (j *nonceJanitor) maybePurge(ctx context.Context, s *Service) {
	if j.n.Add(1)%purgeEvery != 0 {
		return
	}
	err := s.db.Single(ctx, func(db *gorm.DB) error { // group-committed on SQLite, retried on a transient conflict
		return db.Table(s.t.Nonces).Where("expires_at < ?", s.utcNow().Add(-MaxFutureSkew)).Delete(&models.Nonce{}).Error
	})
	if err != nil {
		s.logger(ctx).WarnContext(ctx, "paycenter: purge expired nonces", "err", err)
	}
}
