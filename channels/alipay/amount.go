package alipay

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopaycenter/paycenter/channels"
)

// MaxAmount is the largest amount, in fen, that Alipay accepts for one trade
// (100,000,000.00 yuan).
const MaxAmount int64 = 100_000_000_00

// ErrBadAmount is returned by [ParseAmount] for text that is not an exact
// yuan amount with at most two decimals.
var ErrBadAmount = errors.New("alipay: malformed amount")

// FormatAmount formats an amount in fen as Alipay's yuan text with exactly
// two decimals ("%d.%02d"): 1 → "0.01", 8888 → "88.88". fen must not be
// negative; the callers in this package check that first.
func FormatAmount(fen int64) string {
	if fen < 0 {
		// Not reachable from the adapter (amounts are validated first); keep
		// the output unambiguous anyway.
		return "-" + FormatAmount(-fen)
	}
	return fmt.Sprintf("%d.%02d", fen/100, fen%100)
}

// ParseAmount parses Alipay's yuan text into fen, exactly and without
// floating point. It accepts "12", "12.3" and "12.34"; it rejects signs,
// exponents, spaces, more than two decimals, leading zeros ("01.00"), an
// empty integer or fraction part ("1.", ".5") and values that overflow.
func ParseAmount(s string) (int64, error) {
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			if len(frac) == 0 || len(frac) > 2 {
				return 0, ErrBadAmount
			}
			break
		}
	}
	if len(intPart) == 0 || len(intPart) > 16 || (len(intPart) > 1 && intPart[0] == '0') {
		return 0, ErrBadAmount
	}
	var yuan int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return 0, ErrBadAmount
		}
		yuan = yuan*10 + int64(c-'0')
	}
	var cents int64
	for i := 0; i < 2; i++ {
		cents *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, ErrBadAmount
			}
			cents += int64(c - '0')
		}
	}
	// 16 digits of yuan times 100 stays far below MaxInt64 (9.2e18).
	return yuan*100 + cents, nil
}

// timeLayout is the layout of Alipay's times ("2006-01-02 15:04:05").
const timeLayout = "2006-01-02 15:04:05"

// parseTime parses an Alipay time, which is Beijing time without a zone.
func parseTime(s string) (time.Time, error) {
	return time.ParseInLocation(timeLayout, s, channels.Beijing)
}
