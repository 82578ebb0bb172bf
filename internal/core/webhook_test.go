package core

import (
	"net/netip"
	"testing"
)

func TestForbidden(t *testing.T) {
	for addr, blocked := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "0.0.0.0": true, "198.18.0.1": true, "240.0.0.1": true, "224.0.0.1": true,
		"::1": true, "fc00::1": true, "fe80::1": true, "fec0::1": true, "::": true,
		"::ffff:127.0.0.1": true, "64:ff9b::a00:5": true, "64:ff9b::7f00:1": true, "2002:a00:5::1": true,
		"2001:0:4136:e378::1": true, "64:ff9b:1::1": true,
		"93.184.216.34": false, "2606:2800:220:1::1": false, "64:ff9b::5db8:d822": false, "::ffff:93.184.216.34": false,
	} {
		got := forbidden(netip.MustParseAddr(addr)) != ""
		if got != blocked {
			t.Errorf("forbidden(%s) = %v, want %v", addr, got, blocked)
		}
	}
}
