package delivery

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
	"slices"
	"strconv"
	"syscall"
	"time"

	"code.dny.dev/ssrf"

	"github.com/gopaycenter/paycenter/internal/clip"
	"github.com/gopaycenter/paycenter/internal/tracehttp"
)

// WebhookOptions configure webhook delivery.
type WebhookOptions struct {
	Schedule             []time.Duration // waits before the 2nd, 3rd, ... attempt; then DEAD
	Timeout              time.Duration   // per attempt
	AllowPrivateNetworks bool
}

// DefaultSchedule is SPEC 5's retry schedule of webhooks.
var DefaultSchedule = []time.Duration{15 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
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
// that refuses special-purpose addresses (loopback, private, link-local with
// cloud metadata, shared, documentation, ...; see forbidden) unless private
// networks are allowed.
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
	// Traced: a span per attempt's request, under the attempt's span.
	return tracehttp.Client(&http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			Proxy: nil, DialContext: d.DialContext, MaxIdleConnsPerHost: 8,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: o.Timeout, ResponseHeaderTimeout: o.Timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil)
}

// guardError is the dial guard's refusal.
type guardError struct{ ip, why string }

func (e *guardError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address (private networks are not allowed)", e.ip, e.why)
}

// guard decides which addresses webhooks may not reach: every block of
// IANA's IPv4 and IPv6 Special-Purpose Address Registries, IPv4 multicast,
// and all IPv6 outside global unicast 2000::/3, as code.dny.dev/ssrf keeps
// them (it regenerates its list from the registries). Only SafeAddr is
// used: ports and networks are not ours to restrict.
var guard = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// forbidden says why ip must not be dialled without AllowPrivateNetworks,
// or "" when it may. An IPv4-mapped address is judged as its IPv4. A
// well-known NAT64 address (64:ff9b::/96) is judged by the IPv4 in its last
// 4 bytes, so an IPv6-only host behind DNS64 still reaches public
// merchants; the ssrf guard alone would refuse them all. Everything else,
// 6to4 2002::/16 and Teredo 2001::/32 included, is the guard's decision.
func forbidden(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("") // a zone picks an interface; the address decides
	if ssrf.IPv6NAT64Prefix.Contains(ip) {
		b := ip.As16()
		if why := forbidden(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return why + " (embedded in NAT64)"
		}
		return ""
	}
	if guard.SafeAddr(ip) == nil {
		return ""
	}
	// The guard has refused ip; name the kind an operator will recognise.
	switch {
	case ip.IsLoopback():
		return "a loopback"
	case ip.IsPrivate():
		return "a private"
	case ip.IsLinkLocalUnicast():
		return "a link-local (cloud metadata)"
	case ip.IsUnspecified():
		return "an unspecified"
	case ip.IsMulticast():
		return "a multicast"
	}
	for _, p := range slices.Concat(ssrf.IPv4DeniedPrefixes, ssrf.IPv6DeniedPrefixes) {
		if p.Contains(ip) {
			return "a special-purpose (" + p.String() + ")"
		}
	}
	return "a non-global (outside " + ssrf.IPv6GlobalUnicast.String() + ")"
}

// post sends one attempt of a webhook. It returns the HTTP status (0 when
// no answer came) and nil only for a 2xx.
func post(ctx context.Context, client *http.Client, now time.Time, url, key, secret string, body []byte) (int, error) {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paycenter-webhook/1")
	req.Header.Set("key", key)
	req.Header.Set("timestamp", ts)
	req.Header.Set("sign", SignWebhook(secret, ts, body))
	resp, err := client.Do(req)
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
	return clip.Bytes(err.Error(), 300)
}
