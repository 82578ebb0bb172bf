package core

import (
	"context"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/paytype"
	"gorm.io/gorm"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gopaycenter/paycenter/internal/sign"
	"github.com/gopaycenter/paycenter/models"
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
	var ts, expires int64 = 0, DefaultExpires
	_, hasTS := p["timestamp"]
	if hasTS {
		var err error
		if ts, err = strconv.ParseInt(p["timestamp"], 10, 64); err != nil || ts <= 0 {
			return nil, invalid("timestamp", "must be a time in milliseconds since the epoch")
		}
		if err := notSeconds("timestamp", ts); err != nil {
			return nil, err
		}
	}
	if raw, ok := p["expires"]; ok {
		var err error
		if expires, err = strconv.ParseInt(raw, 10, 64); err != nil || expires < 0 {
			return nil, invalid("expires", "must be a non-negative number of milliseconds")
		}
		// A validity under a second cannot survive clock skew and transit;
		// such a value is a number of seconds sent by mistake.
		if expires > 0 && expires < 1000 {
			return nil, invalid("expires", "must be milliseconds; %d looks like seconds (%d s is %d ms)", expires, expires, expires*1000)
		}
		expires = min(expires, MaxExpires)
	}
	nonce := p["nonce"]
	if v2 {
		if !hasTS {
			return nil, missing("timestamp (signature v2)")
		}
		if nonce == "" {
			return nil, missing("nonce (signature v2)")
		}
		if !nonceRE.MatchString(nonce) {
			return nil, invalid("nonce", "must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
		}
	}
	base := sign.BaseString(method, path, p)
	want, rule := sign.V1(base, e.Secret), "v1: MD5 of the URL-encoded METHOD + path + sorted name=value pairs + secret"
	if v2 {
		want, rule = sign.V2(base, e.Secret), "v2: HMAC-SHA256 with the secret of the URL-encoded METHOD + path + sorted name=value pairs"
	}
	if !sign.Equal(got, want) {
		return nil, s.badSign(ctx, &e.App, base, rule, v2)
	}
	now := s.utcNow()
	if hasTS {
		t := time.UnixMilli(ts)
		if now.After(t.Add(time.Duration(expires) * time.Millisecond)) {
			return nil, newErr(paytype.CodeExpired, "request expired: timestamp + expires (%d ms) is in the past", expires)
		}
		if t.After(now.Add(MaxFutureSkew)) {
			return nil, newErr(paytype.CodeExpired, "timestamp is more than 5 minutes in the future")
		}
	}
	if v2 {
		until := time.UnixMilli(ts).Add(time.Duration(expires) * time.Millisecond).UTC()
		if err := s.useNonce(ctx, e.ID, nonce, until); err != nil {
			return nil, err
		}
	}
	return &e.App, nil
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
	err := s.db.W.WithContext(ctx).Table(s.t.Nonces).Where("expires_at < ?", s.utcNow().Add(-MaxFutureSkew)).
		Delete(&models.Nonce{}).Error
	if err != nil {
		s.logger(ctx).WarnContext(ctx, "paycenter: purge expired nonces", "err", err)
	}
}
