package core

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// WebhookOptions configure webhook delivery.
type WebhookOptions struct {
	Schedule             []time.Duration // waits before the 2nd, 3rd, ... attempt; then DEAD
	Timeout              time.Duration   // per attempt
	AllowPrivateNetworks bool
}

// DefaultWebhookSchedule is SPEC 5's retry schedule.
var DefaultWebhookSchedule = []time.Duration{15 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// SignWebhook returns hex(HMAC-SHA256(secret, timestamp + "." + body)).
func SignWebhook(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// webhookClient returns the HTTP client of webhook delivery: no proxy, no
// redirects followed, the timeout on every attempt, and a dial-time guard
// that refuses loopback, private, link-local (cloud metadata included),
// shared and unspecified addresses unless private networks are allowed.
// The guard looks at the address actually dialled, after DNS, so a public
// name resolving to 127.0.0.1 is refused too.
func webhookClient(o WebhookOptions) *http.Client {
	d := &net.Dialer{Timeout: o.Timeout}
	if !o.AllowPrivateNetworks {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			if why := forbidden(ip.Unmap()); why != "" {
				return &guardError{ip: ip.Unmap().String(), why: why}
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			Proxy: nil, DialContext: d.DialContext, MaxIdleConnsPerHost: 8,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: o.Timeout, ResponseHeaderTimeout: o.Timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// guardError is the dial guard's refusal.
type guardError struct{ ip, why string }

func (e *guardError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address (private networks are not allowed)", e.ip, e.why)
}

// Special-purpose ranges that are not private in netip's sense but reach
// no public merchant either.
var reservedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001::/32"),      // Teredo (embeds an IPv4 of either side)
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64: the IPv4 is the last 4 bytes
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4: the IPv4 is bytes 2–5
)

// forbidden says why ip must not be dialled without AllowPrivateNetworks,
// or "" when it may. IPv6 addresses that embed an IPv4 one (NAT64, 6to4)
// are judged by that IPv4.
func forbidden(ip netip.Addr) string {
	ip = ip.Unmap()
	if b := ip.As16(); nat64.Contains(ip) || sixToFour.Contains(ip) {
		v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if sixToFour.Contains(ip) {
			v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if why := forbidden(v4); why != "" {
			return why + " (embedded in an IPv6)"
		}
		return ""
	}
	switch {
	case ip.IsLoopback():
		return "a loopback"
	case ip.IsPrivate():
		return "a private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local (cloud metadata)"
	case ip.IsUnspecified():
		return "an unspecified"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast"
	}
	for _, p := range reservedRanges {
		if p.Contains(ip) {
			return "a reserved"
		}
	}
	if !ip.IsGlobalUnicast() {
		return "a non-global"
	}
	return ""
}

// postWebhook sends one attempt. It returns the HTTP status (0 when no
// answer came) and nil only for a 2xx.
func (s *Service) postWebhook(ctx context.Context, url, key, secret string, body []byte) (int, error) {
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paycenter-webhook/1")
	req.Header.Set("key", key)
	req.Header.Set("timestamp", ts)
	req.Header.Set("sign", SignWebhook(secret, ts, body))
	resp, err := s.webhookHTTP.Do(req)
	if err != nil {
		var ge *guardError
		if errors.As(err, &ge) {
			return 0, ge
		}
		return 0, errors.New(shortHTTPError(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d (a 2xx is required; redirects are not followed)", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// shortHTTPError keeps the useful part of a transport error.
func shortHTTPError(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no answer within the timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Error()
	}
	return truncate(err.Error(), 300)
}
