package delivery

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

// specialPurpose is every row of IANA's IPv4 and IPv6 Special-Purpose
// Address Registries (iana-ipv4-special-registry and
// iana-ipv6-special-registry, revision of 2025-10-09; the IPv4 row
// "192.0.0.170/32, 192.0.0.171/32" is split in two), with the registry's
// name and an address inside the block.
var specialPurpose = []struct{ block, name, inside string }{
	{"0.0.0.0/8", `"This network"`, "0.1.2.3"},
	{"0.0.0.0/32", `"This host on this network"`, "0.0.0.0"},
	{"10.0.0.0/8", "Private-Use", "10.1.2.3"},
	{"100.64.0.0/10", "Shared Address Space", "100.64.0.1"},
	{"127.0.0.0/8", "Loopback", "127.0.0.1"},
	{"169.254.0.0/16", "Link Local", "169.254.169.254"},
	{"172.16.0.0/12", "Private-Use", "172.16.0.1"},
	{"192.0.0.0/24", "IETF Protocol Assignments", "192.0.0.100"},
	{"192.0.0.0/29", "IPv4 Service Continuity Prefix", "192.0.0.1"},
	{"192.0.0.8/32", "IPv4 dummy address", "192.0.0.8"},
	{"192.0.0.9/32", "Port Control Protocol Anycast", "192.0.0.9"},
	{"192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "192.0.0.10"},
	{"192.0.0.170/32", "NAT64/DNS64 Discovery", "192.0.0.170"},
	{"192.0.0.171/32", "NAT64/DNS64 Discovery", "192.0.0.171"},
	{"192.0.2.0/24", "Documentation (TEST-NET-1)", "192.0.2.1"},
	{"192.31.196.0/24", "AS112-v4", "192.31.196.1"},
	{"192.52.193.0/24", "AMT", "192.52.193.1"},
	{"192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "192.88.99.1"},
	{"192.88.99.2/32", "6a44-relay anycast address", "192.88.99.2"},
	{"192.168.0.0/16", "Private-Use", "192.168.1.1"},
	{"192.175.48.0/24", "Direct Delegation AS112 Service", "192.175.48.1"},
	{"198.18.0.0/15", "Benchmarking", "198.18.0.1"},
	{"198.51.100.0/24", "Documentation (TEST-NET-2)", "198.51.100.7"},
	{"203.0.113.0/24", "Documentation (TEST-NET-3)", "203.0.113.9"},
	{"240.0.0.0/4", "Reserved", "240.0.0.1"},
	{"255.255.255.255/32", "Limited Broadcast", "255.255.255.255"},

	{"::1/128", "Loopback Address", "::1"},
	{"::/128", "Unspecified Address", "::"},
	{"::ffff:0:0/96", "IPv4-mapped Address", "::ffff:127.0.0.1"}, // judged as its IPv4
	{"64:ff9b::/96", "IPv4-IPv6 Translat.", "64:ff9b::7f00:1"},   // judged by its IPv4
	{"64:ff9b:1::/48", "IPv4-IPv6 Translat.", "64:ff9b:1::808:808"},
	{"100::/64", "Discard-Only Address Block", "100::1"},
	{"100:0:0:1::/64", "Dummy IPv6 Prefix", "100:0:0:1::1"},
	{"2001::/23", "IETF Protocol Assignments", "2001:100::1"},
	{"2001::/32", "TEREDO", "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
	{"2001:1::1/128", "Port Control Protocol Anycast", "2001:1::1"},
	{"2001:1::2/128", "Traversal Using Relays around NAT Anycast", "2001:1::2"},
	{"2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "2001:1::3"},
	{"2001:2::/48", "Benchmarking", "2001:2::1"},
	{"2001:3::/32", "AMT", "2001:3::1"},
	{"2001:4:112::/48", "AS112-v6", "2001:4:112::1"},
	{"2001:10::/28", "Deprecated (previously ORCHID)", "2001:10::1"},
	{"2001:20::/28", "ORCHIDv2", "2001:20::1"},
	{"2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "2001:30::1"},
	{"2001:db8::/32", "Documentation", "2001:db8::1"},
	{"2002::/16", "6to4", "2002:7f00:1::1"},
	{"2620:4f:8000::/48", "Direct Delegation AS112 Service", "2620:4f:8000::1"},
	{"3fff::/20", "Documentation", "3fff::1"},
	{"5f00::/16", "Segment Routing (SRv6) SIDs", "5f00::1"},
	{"fc00::/7", "Unique-Local", "fc00::1"},
	{"fe80::/10", "Link-Local Unicast", "fe80::1"},
}

// TestForbiddenSpecialPurpose: the first, the last and an inner address of
// every special-purpose block are refused with a reason.
func TestForbiddenSpecialPurpose(t *testing.T) {
	var v4, v6 int
	for _, r := range specialPurpose {
		block := netip.MustParsePrefix(r.block)
		inside := netip.MustParseAddr(r.inside)
		if !block.Contains(inside) {
			t.Fatalf("table: %s is not inside %s", inside, block)
		}
		if block.Addr().Is4() {
			v4++
		} else {
			v6++
		}
		for _, a := range []netip.Addr{block.Addr(), inside, lastAddr(block)} {
			if why := forbidden(a); why == "" {
				t.Errorf("%s (%s, %s) is not refused", a, r.block, r.name)
			}
		}
	}
	// The registries' row counts at the revision named above, so that a
	// row cannot silently drop out of the table.
	if v4 != 25+1 || v6 != 25 {
		t.Errorf("table has %d IPv4 and %d IPv6 blocks, want 26 and 25", v4, v6)
	}
}

// TestForbiddenReasons: the reason names the kind of address, or the
// registry block that refuses it.
func TestForbiddenReasons(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":           "a loopback",
		"::ffff:127.0.0.1":    "a loopback",
		"::1":                 "a loopback",
		"10.1.2.3":            "a private",
		"fc00::1":             "a private",
		"169.254.169.254":     "a link-local (cloud metadata)",
		"fe80::1%eth0":        "a link-local (cloud metadata)",
		"0.0.0.0":             "an unspecified",
		"::":                  "an unspecified",
		"224.0.0.1":           "a multicast",
		"ff02::1":             "a multicast",
		"0.1.2.3":             "a special-purpose (0.0.0.0/8)",
		"100.64.0.1":          "a special-purpose (100.64.0.0/10)",
		"192.0.2.1":           "a special-purpose (192.0.2.0/24)",
		"192.88.99.1":         "a special-purpose (192.88.99.0/24)",
		"2001:db8::1":         "a special-purpose (2001:db8::/32)",
		"2001:db8::1%eth0":    "a special-purpose (2001:db8::/32)",
		"2001:0:4136:e378::1": "a special-purpose (2001::/23)",
		"2002:808:808::1":     "a special-purpose (2002::/16)", // 6to4 is refused even for a public IPv4
		"100::1":              "a non-global (outside 2000::/3)",
		"64:ff9b:1::808:808":  "a non-global (outside 2000::/3)",
		"64:ff9b::7f00:1":     "a loopback (embedded in NAT64)",
		"64:ff9b::c000:201":   "a special-purpose (192.0.2.0/24) (embedded in NAT64)",
	} {
		if got := forbidden(netip.MustParseAddr(addr)); got != want {
			t.Errorf("forbidden(%s) = %q, want %q", addr, got, want)
		}
	}
	got := (&guardError{ip: "192.0.2.1", why: forbidden(netip.MustParseAddr("192.0.2.1"))}).Error()
	if want := "refused to connect to 192.0.2.1: a special-purpose (192.0.2.0/24) address (private networks are not allowed)"; got != want {
		t.Errorf("guardError = %q, want %q", got, want)
	}
}

// TestForbiddenPublic: public addresses pass, including those right next
// to a special-purpose block and a public IPv4 through NAT64.
func TestForbiddenPublic(t *testing.T) {
	for _, addr := range []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "::ffff:8.8.8.8",
		"9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"192.0.1.255", "192.0.3.0", "198.17.255.255", "198.20.0.0", "223.255.255.255",
		"2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2001:200::1", "2003::1",
		"64:ff9b::808:808", "64:ff9b::101:101",
	} {
		if why := forbidden(netip.MustParseAddr(addr)); why != "" {
			t.Errorf("forbidden(%s) = %q, want it allowed", addr, why)
		}
	}
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
