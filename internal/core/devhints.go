package core

import (
	"context"
	"strconv"

	"github.com/gopaycenter/paycenter/paytype"
)

// Hints for a developer's first requests: what the server signed, and
// times sent in seconds where milliseconds are expected.

// badSign is the 10004 of a signature that does not match. The base string
// the server signed (before URL-encoding; never the secret) is logged at
// debug level, and told to the caller in sandbox mode or for a development
// app, so that a developer can diff it against the string they signed.
func (s *Service) badSign(ctx context.Context, app *paytype.App, base, rule string, v2 bool) *paytype.Error {
	s.logger(ctx).DebugContext(ctx, "paycenter: sign does not match", "appId", app.ID, "baseString", base, "v2", v2)
	msg := "sign does not match the request (signature " + rule + ")"
	if s.sandbox == nil && !app.Development {
		return newErr(paytype.CodeBadSign, "%s", msg)
	}
	signed := strconv.Quote(base)
	if !v2 {
		signed += " + secret"
	}
	return newErr(paytype.CodeBadSign, "%s; the server signed %s (before URL-encoding)", msg, signed)
}

// notSeconds refuses a time in ms that is below 10^12 (before September
// 2001): it is a time in seconds sent by mistake.
func notSeconds(param string, ms int64) error {
	if ms < 1_000_000_000_000 {
		return invalid(param, "must be milliseconds since the epoch; %d looks like seconds", ms)
	}
	return nil
}
