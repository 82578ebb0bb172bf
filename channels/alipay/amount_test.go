package alipay_test

import (
	"errors"
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/gopaycenter/paycenter/channels/alipay"
)

func TestFormatAmount(t *testing.T) {
	for fen, want := range map[int64]string{
		0: "0.00", 1: "0.01", 10: "0.10", 99: "0.99", 100: "1.00", 101: "1.01",
		8888: "88.88", 123456789: "1234567.89", alipay.MaxAmount: "100000000.00",
	} {
		if got := alipay.FormatAmount(fen); got != want {
			t.Errorf("FormatAmount(%d) = %q, want %q", fen, got, want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	good := map[string]int64{
		"0": 0, "0.0": 0, "0.01": 1, "0.1": 10, "0.10": 10, "1": 100, "1.5": 150, "1.05": 105,
		"88.88": 8888, "100000000.00": alipay.MaxAmount, "9999999999999999.99": 999999999999999999,
	}
	for s, want := range good {
		got, err := alipay.ParseAmount(s)
		if err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	bad := []string{
		"", ".", "1.", ".5", "0.001", "1.234", "-1", "+1", "-0.01", "1e3", "1E2", "0x10",
		" 1", "1 ", "1,00", "1.0.0", "01", "00.01", "NaN", "Inf", "１", "1.-1", "1.+1",
		"10000000000000000", "99999999999999999999", "\x00", "1\n",
	}
	for _, s := range bad {
		if got, err := alipay.ParseAmount(s); !errors.Is(err, alipay.ErrBadAmount) {
			t.Errorf("ParseAmount(%q) = %d, %v; want ErrBadAmount", s, got, err)
		}
	}
}

// Every non-negative fen amount survives fen → yuan text → fen exactly, and
// the text always has exactly two decimals.
func TestAmountRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		fen := rapid.OneOf(
			rapid.Int64Range(0, 10_000),
			rapid.Int64Range(0, alipay.MaxAmount),
			rapid.Int64Range(0, math.MaxInt64/100),
		).Draw(t, "fen")
		s := alipay.FormatAmount(fen)
		if len(s) < 4 || s[len(s)-3] != '.' {
			t.Fatalf("FormatAmount(%d) = %q: not two decimals", fen, s)
		}
		back, err := alipay.ParseAmount(s)
		if err != nil {
			t.Fatalf("ParseAmount(FormatAmount(%d) = %q): %v", fen, s, err)
		}
		if back != fen {
			t.Fatalf("round trip %d → %q → %d", fen, s, back)
		}
	})
}

// Any text ParseAmount accepts is canonical up to trailing zeros: it formats
// back to the same value.
func TestParseAmountAcceptsOnlyExactProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringMatching(`[-+0-9.eE ]{1,12}`).Draw(t, "s")
		fen, err := alipay.ParseAmount(s)
		if err != nil {
			return
		}
		if fen < 0 {
			t.Fatalf("ParseAmount(%q) = %d: negative", s, fen)
		}
		back, err := alipay.ParseAmount(alipay.FormatAmount(fen))
		if err != nil || back != fen {
			t.Fatalf("ParseAmount(%q) = %d does not round-trip", s, fen)
		}
	})
}
