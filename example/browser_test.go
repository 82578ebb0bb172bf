package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	qrcode "github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The browser tests drive the demo shop in a real headless Chromium: buy,
// pay in the sandbox cashier, refund, and read the admin page. Any console
// error, failed resource or JavaScript exception on any page fails them.
//
// PAYCENTER_UPDATE_SCREENSHOTS=1 also writes the README's screenshots to
// ../docs.

const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds each browser step; a step waits on a selector or a
// condition, never on a fixed delay.
const stepTimeout = 30 * time.Second

// browser is one headless Chromium with a listener on every tab that
// records console errors and exceptions.
type browser struct {
	ctx   context.Context // the first tab
	shots string          // screenshot directory
	docs  string          // ../docs, absolute (tests change directory)

	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s is missing (%v): .ci/run installs Debian's chromium", chromiumPath, err)
		}
		t.Skipf("skipping the browser tests: %s not found; install it with `apt-get install chromium` (CI never skips)", chromiumPath)
	}
	profile, err := os.MkdirTemp("", "paycenter-chromium-")
	require.NoError(t, err)
	docs, err := filepath.Abs(filepath.Join("..", "docs"))
	require.NoError(t, err)
	b := &browser{shots: t.TempDir(), docs: docs}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		os.RemoveAll(profile)
	})
	// The first Do starts the browser and binds its life to its context, so
	// it takes the tab's own context, without a step timeout.
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	b.ctx = ctx
	return b
}

// listen runs in the tab's event loop: it only records.
func (b *browser) listen(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, fmt.Sprint(a.Value))
			}
		}
		p = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = fmt.Sprintf("exception: %s (%s:%d)", d.Text, d.URL, d.LineNumber+1)
		if d.Exception != nil {
			p += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		p = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// noConsoleErrors fails t if any page reported an error since the last
// check.
func (b *browser) noConsoleErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	problems := b.problems
	b.problems = nil
	b.mu.Unlock()
	assert.Empty(t, problems, "browser console errors or exceptions")
}

// newTab opens another tab of the same browser, with the same listener.
func (b *browser) newTab(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	tab, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(b.listen))
	// The first Do opens the tab for the life of its context: no timeout.
	require.NoError(t, chromedp.Do(tab))
	return tab, cancel
}

// do runs steps on tab with a step timeout.
func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// get runs one action that returns a value.
func get[T any](t *testing.T, tab context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// shot saves a full-page PNG screenshot of tab as name, checks it, and
// with PAYCENTER_UPDATE_SCREENSHOTS=1 copies it to ../docs/docName.
func (b *browser) shot(t *testing.T, tab context.Context, name, docName string) {
	t.Helper()
	png := get(t, tab, chromedp.FullScreenshot(100))
	path := filepath.Join(b.shots, name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.NotZero(t, fi.Size(), "screenshot %s is empty", name)
	require.True(t, strings.HasPrefix(string(png), "\x89PNG\r\n\x1a\n"), "screenshot %s is a PNG", name)
	if docName != "" && os.Getenv("PAYCENTER_UPDATE_SCREENSHOTS") != "" {
		require.NoError(t, os.WriteFile(filepath.Join(b.docs, docName), png, 0o644))
		t.Logf("updated docs/%s", docName)
	}
}

// viewport is a window size the layout is checked at.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

// The layout is checked on a laptop and on a phone.
var (
	laptop = viewport{"1280 px laptop", 1280, 900, false}
	phone  = viewport{"390 px phone", 390, 844, true}
)

func (b *browser) resize(t *testing.T, tab context.Context, vp viewport) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	do(t, tab, chromedp.EmulateViewport(vp.width, vp.height, opts...))
}

// overflowJS lists the elements that overflow horizontally: the page
// scrolling sideways; an element whose content is wider than its box
// (scrollWidth > clientWidth) unless it is a scroll container, which at
// the laptop width must not need to scroll either; and an element whose
// edges pass its parent's, unless it sits in a scroll container.
const overflowJS = `((strict) => {
  const out = [];
  const root = document.documentElement;
  const vw = root.clientWidth;
  if (root.scrollWidth > vw + 1) out.push("the page scrolls sideways: " + root.scrollWidth + " > " + vw + " px");
  const scroller = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const inScroller = (el) => { for (let p = el.parentElement; p; p = p.parentElement) if (scroller(p)) return true; return false; };
  const name = (el) => {
    let n = el.tagName.toLowerCase();
    if (el.id) n += "#" + el.id;
    if (typeof el.className === "string" && el.className.trim()) n += "." + el.className.trim().split(/\s+/).join(".");
    const text = (el.textContent || "").trim().replace(/\s+/g, " ");
    return n + (text ? " «" + text.slice(0, 40) + "»" : "");
  };
  for (const el of document.body.querySelectorAll("*")) {
    const cs = getComputedStyle(el);
    if (cs.display === "none" || cs.visibility === "hidden" || el.closest("[hidden]")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && (strict || !scroller(el))) {
      out.push(name(el) + ": content " + el.scrollWidth + " px wide in a box of " + el.clientWidth + " px");
    }
    if (inScroller(el)) continue;
    const p = el.parentElement.getBoundingClientRect();
    if (r.right > p.right + 1 || r.left < p.left - 1) {
      out.push(name(el) + ": spans " + Math.round(r.left) + "–" + Math.round(r.right) + " px, its parent " + Math.round(p.left) + "–" + Math.round(p.right) + " px");
    }
  }
  return {width: window.innerWidth, problems: out};
})`

type overflowReport struct {
	Width    int64    `json:"width"`
	Problems []string `json:"problems"`
}

// checkLayout asserts that nothing on tab's page overflows horizontally,
// on a laptop and on a phone, and leaves the tab at the laptop size.
// docPhone, when set, is the docs/ screenshot of the phone view.
func (b *browser) checkLayout(t *testing.T, tab context.Context, page, docPhone string) {
	t.Helper()
	for _, vp := range []viewport{laptop, phone} {
		b.resize(t, tab, vp)
		rep := get(t, tab, chromedp.Evaluate[overflowReport](fmt.Sprintf("%s(%t)", overflowJS, vp == laptop)))
		require.Equal(t, vp.width, rep.Width, "the %s viewport applies", vp.name)
		assert.Empty(t, rep.Problems, "%s overflows on a %s", page, vp.name)
		if vp == phone {
			b.shot(t, tab, strings.ReplaceAll(page, " ", "-")+"-phone.png", docPhone)
		}
	}
	b.resize(t, tab, laptop)
}

// submit clicks the button with id and waits until the page its form
// leads to has loaded.
func submit(t *testing.T, tab context.Context, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id)))
	require.NoError(t, err)
	require.Equal(t, int64(http.StatusOK), resp.Status, "%s leads to %s", id, resp.URL)
}

var shopLine = regexp.MustCompile(`open the demo shop: (\S+)`)

// TestBrowserShop runs the zero-config demo and shops in Chromium: a
// WX_NATIVE order paid by "scanning" its QR code while the order page
// watches; an ALI_WEB order paid through the submitted channel form and
// refunded in two parts (and once over the balance); an order closed in
// the cashier and bought again under a new number; a payment that fails
// and is paid again; a refund form posted from another site (refused);
// and the admin page. Every page is checked for horizontal overflow on a
// laptop and on a phone.
//
// It is one long scenario: the subtests share one browser and one server,
// and the admin subtest checks every order the others made.
func TestBrowserShop(t *testing.T) {
	b := newBrowser(t) // before Chdir: it resolves ../docs
	t.Chdir(t.TempDir())
	// Zero config but for the address (8080 may be taken on a test machine).
	addr, banner := start(t, "-config", writeConfig(t, "addr: 127.0.0.1:0\n"))
	m := shopLine.FindStringSubmatch(banner)
	require.NotNil(t, m, "the banner prints the shop's URL:\n%s", banner)
	shopURL := m[1]
	require.Equal(t, "http://"+addr+"/shop/", shopURL)
	base := "http://" + addr

	tab := b.ctx
	var wxOrder, aliOrder, closedOrder, againOrder, gardenOrder string
	orderOf := func(loc string) string {
		no, _, _ := strings.Cut(loc[strings.LastIndex(loc, "/")+1:], "?")
		return no
	}

	t.Run("WX_NATIVE QR code, cashier, live status", func(t *testing.T) {
		do(t, tab, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("buy-mug-WX_NATIVE")))
		assert.Equal(t, shopURL, get(t, tab, chromedp.Location()), "/ leads to the shop")
		assert.Equal(t, "¥1,000,000,000.00", get(t, tab, chromedp.Text(chromedp.CSS("#product-garden .price"))), "amounts are grouped")
		b.checkLayout(t, tab, "shop", "")
		b.shot(t, tab, "shop.png", "demo-shop.png")

		do(t, tab, chromedp.Click(chromedp.ID("buy-mug-WX_NATIVE")), chromedp.WaitVisible(chromedp.ID("qr")))
		loc := get(t, tab, chromedp.Location())
		require.Contains(t, loc, "/shop/orders/D")
		wxOrder = orderOf(loc)
		assert.Equal(t, "UNPAID", get(t, tab, chromedp.AttributeValue(chromedp.ID("status"), "data-status")).Value)
		assert.Equal(t, "¥39.90", get(t, tab, chromedp.Text(chromedp.ID("amount"))))

		// The image is a PNG the browser decoded, and it is exactly the QR
		// code of the charge's codeUrl, which in the sandbox is the cashier.
		loaded := get(t, tab, chromedp.Poll[bool](`(() => { const i = document.getElementById("qr"); return i.complete && i.naturalWidth === 256 })()`))
		require.True(t, loaded)
		src := get(t, tab, chromedp.AttributeValue(chromedp.ID("qr"), "src")).Value
		codeURL := get(t, tab, chromedp.AttributeValue(chromedp.ID("qr"), "data-code-url")).Value
		require.Equal(t, base+"/sandbox/cashier/dev/"+wxOrder, codeURL)
		require.True(t, strings.HasPrefix(src, "data:image/png;base64,"), src)
		img, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
		require.NoError(t, err)
		want, err := qrcode.Encode(codeURL, qrcode.Medium, 256)
		require.NoError(t, err)
		assert.Equal(t, want, img, "the QR code encodes codeUrl")
		b.checkLayout(t, tab, "order unpaid", "demo-phone-order.png")
		b.shot(t, tab, "wx-order.png", "")

		// "Scan" in another tab: the cashier, Pay.
		cashier, closeCashier := b.newTab(t)
		do(t, cashier, chromedp.Navigate(codeURL), chromedp.WaitVisible(chromedp.ID("success")))
		assert.Equal(t, "CREATED", get(t, cashier, chromedp.Text(chromedp.ID("status"))))
		b.checkLayout(t, cashier, "cashier", "")
		do(t, cashier, chromedp.Click(chromedp.ID("success")), chromedp.WaitVisible(chromedp.ID("message")))
		assert.Equal(t, "PAID", get(t, cashier, chromedp.Text(chromedp.ID("status"))))
		b.checkLayout(t, cashier, "cashier paid", "")
		closeCashier()

		// The order page, never reloaded, learns it from the shop's status
		// endpoint: shop_orders was updated by the OnPaid hook.
		do(t, tab, chromedp.WaitVisible(chromedp.CSS(`#status[data-status="PAID"]`)),
			chromedp.WaitVisible(chromedp.ID("refund-section")), chromedp.WaitNotVisible(chromedp.ID("qr")))
		assert.Equal(t, loc, get(t, tab, chromedp.Location()), "no navigation happened")
		assert.Equal(t, "Paid", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		// The AfterPaid hook runs after the commit, from the outbox.
		do(t, tab, chromedp.WaitVisible(chromedp.CSS(`#receipt[data-sent="1"]`)))
		assert.Contains(t, get(t, tab, chromedp.Text(chromedp.ID("receipt"))), "e-mailed ")
		b.checkLayout(t, tab, "order paid", "")
		b.noConsoleErrors(t)
	})

	t.Run("ALI_WEB form, pay, partial refunds", func(t *testing.T) {
		do(t, tab, chromedp.Navigate(shopURL), chromedp.WaitVisible(chromedp.ID("buy-tea-ALI_WEB")))
		// The shop renders channelParams.body, whose form submits itself to
		// the (sandbox) channel: the browser lands on the cashier.
		do(t, tab, chromedp.Click(chromedp.ID("buy-tea-ALI_WEB")), chromedp.WaitVisible(chromedp.ID("success")))
		loc := get(t, tab, chromedp.Location())
		require.Contains(t, loc, base+"/sandbox/cashier/dev/D")
		aliOrder = orderOf(loc)
		assert.Equal(t, aliOrder, get(t, tab, chromedp.Text(chromedp.ID("outTradeNo"))))

		do(t, tab, chromedp.Click(chromedp.ID("success")), chromedp.WaitVisible(chromedp.ID("message")))
		do(t, tab, chromedp.Click(chromedp.ID("return")), chromedp.WaitVisible(chromedp.CSS(`#status[data-status="PAID"]`)))
		assert.Equal(t, base+"/shop/orders/"+aliOrder, get(t, tab, chromedp.Location()), "the return URL is the shop's order page")
		assert.Equal(t, "Paid", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		assert.Equal(t, "0.00", get(t, tab, chromedp.Text(chromedp.ID("refunded"))))
		assert.Equal(t, "128.00", get(t, tab, chromedp.Value(chromedp.ID("refund-amount"))))

		// Refund part.
		do(t, tab, chromedp.SetValue(chromedp.ID("refund-amount"), "30"), chromedp.Click(chromedp.ID("refund-submit")),
			chromedp.WaitVisible(chromedp.ID("notice")))
		assert.Contains(t, get(t, tab, chromedp.Text(chromedp.ID("notice"))), "of ¥30.00: SUCCESS")
		assert.Equal(t, "30.00", get(t, tab, chromedp.Text(chromedp.ID("refunded"))))
		assert.Equal(t, "98.00", get(t, tab, chromedp.Text(chromedp.ID("refundable"))))
		assert.Equal(t, "Paid · partly refunded", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		b.checkLayout(t, tab, "order refunded in part", "")

		// More than is left: the pay center refuses (10009), nothing changes.
		do(t, tab, chromedp.SetValue(chromedp.ID("refund-amount"), "98.01"), chromedp.Click(chromedp.ID("refund-submit")),
			chromedp.WaitVisible(chromedp.ID("error")))
		assert.Contains(t, get(t, tab, chromedp.Text(chromedp.ID("error"))), "code 10009")
		assert.Equal(t, "30.00", get(t, tab, chromedp.Text(chromedp.ID("refunded"))))
		b.checkLayout(t, tab, "refund refused", "")

		// The rest.
		do(t, tab, chromedp.SetValue(chromedp.ID("refund-amount"), "98.00"), chromedp.Click(chromedp.ID("refund-submit")),
			chromedp.WaitVisible(chromedp.ID("notice")), chromedp.WaitVisible(chromedp.ID("done-section")))
		assert.Equal(t, "128.00", get(t, tab, chromedp.Text(chromedp.ID("refunded"))))
		assert.Equal(t, "Paid · fully refunded", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		do(t, tab, chromedp.WaitNotVisible(chromedp.ID("refund-section")))
		b.noConsoleErrors(t)
	})

	// backToShop leaves the cashier for the merchant by its #return link,
	// the charge's returnUrl: the shop's order page.
	backToShop := func(t *testing.T, order string) {
		t.Helper()
		do(t, tab, chromedp.WaitVisible(chromedp.ID("return")), chromedp.Click(chromedp.ID("return")),
			chromedp.WaitVisible(chromedp.ID("status")))
		assert.Equal(t, base+"/shop/orders/"+order, get(t, tab, chromedp.Location()))
	}

	t.Run("Close in the cashier: the order shows closed and starts over", func(t *testing.T) {
		do(t, tab, chromedp.Navigate(shopURL), chromedp.WaitVisible(chromedp.ID("buy-tea-ALI_WAP")),
			chromedp.Click(chromedp.ID("buy-tea-ALI_WAP")), chromedp.WaitVisible(chromedp.ID("close")))
		closedOrder = orderOf(get(t, tab, chromedp.Location()))
		submit(t, tab, "close")
		assert.Equal(t, "CLOSED", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		assert.Contains(t, strings.ToLower(get(t, tab, chromedp.Text(chromedp.ID("message")))), "closed")
		b.checkLayout(t, tab, "cashier closed", "")

		backToShop(t, closedOrder)
		do(t, tab, chromedp.WaitVisible(chromedp.CSS(`#status[data-status="CLOSED"]`)), chromedp.WaitVisible(chromedp.ID("order-again")),
			chromedp.WaitNotVisible(chromedp.ID("pay-section")), chromedp.WaitNotVisible(chromedp.ID("refund-section")))
		assert.Equal(t, "Closed unpaid", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		b.checkLayout(t, tab, "order closed", "")
		b.shot(t, tab, "order-closed.png", "demo-order-closed.png")

		// Order again: the same product on the same channel under a new
		// number, straight to the channel (the cashier) again.
		do(t, tab, chromedp.Click(chromedp.ID("order-again")), chromedp.WaitVisible(chromedp.ID("success")))
		againOrder = orderOf(get(t, tab, chromedp.Location()))
		assert.NotEqual(t, closedOrder, againOrder)
		assert.Equal(t, againOrder, get(t, tab, chromedp.Text(chromedp.ID("outTradeNo"))))
		assert.Equal(t, "CREATED", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		b.noConsoleErrors(t)
	})

	t.Run("Fail in the cashier: the charge stays open and is paid again", func(t *testing.T) {
		do(t, tab, chromedp.Navigate(shopURL), chromedp.WaitVisible(chromedp.ID("buy-garden-WX_NATIVE")),
			chromedp.Click(chromedp.ID("buy-garden-WX_NATIVE")), chromedp.WaitVisible(chromedp.ID("qr")))
		gardenOrder = orderOf(get(t, tab, chromedp.Location()))
		assert.Equal(t, "¥1,000,000,000.00", get(t, tab, chromedp.Text(chromedp.ID("amount"))))
		codeURL := get(t, tab, chromedp.AttributeValue(chromedp.ID("qr"), "data-code-url")).Value

		do(t, tab, chromedp.Navigate(codeURL), chromedp.WaitVisible(chromedp.ID("fail")))
		submit(t, tab, "fail")
		assert.Equal(t, "CREATED", get(t, tab, chromedp.Text(chromedp.ID("status"))), "a failed attempt leaves the charge open")
		assert.Contains(t, strings.ToLower(get(t, tab, chromedp.Text(chromedp.ID("message")))), "fail")
		b.checkLayout(t, tab, "cashier failed", "")

		backToShop(t, gardenOrder)
		do(t, tab, chromedp.WaitVisible(chromedp.ID("qr")), chromedp.WaitVisible(chromedp.ID("start-over")))
		assert.Equal(t, "UNPAID", get(t, tab, chromedp.AttributeValue(chromedp.ID("status"), "data-status")).Value)

		// Pay again with the same QR code.
		do(t, tab, chromedp.Navigate(codeURL), chromedp.WaitVisible(chromedp.ID("success")))
		submit(t, tab, "success")
		assert.Equal(t, "PAID", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		backToShop(t, gardenOrder)
		do(t, tab, chromedp.WaitVisible(chromedp.CSS(`#status[data-status="PAID"]`)))
		assert.Equal(t, "1,000,000,000.00", get(t, tab, chromedp.Text(chromedp.ID("refundable"))))
		b.checkLayout(t, tab, "order paid big", "")
		b.noConsoleErrors(t)
	})

	t.Run("a refund form posted from another site is refused", func(t *testing.T) {
		require.NotEmpty(t, wxOrder)
		// Another origin (another port) serving a form that refunds the
		// paid WX order, submitted as soon as it loads.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><title>prize</title><form method="post" action="%s/shop/orders/%s/refund">`+
				`<input name="amount" value="39.90"><input name="refundNo" value="EVIL1"></form>`+
				`<script>document.forms[0].submit()</script>`, base, wxOrder)
		}))
		defer evil.Close()
		do(t, tab, chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.ID("error")))
		assert.Equal(t, base+"/shop/orders/"+wxOrder+"/refund", get(t, tab, chromedp.Location()))
		assert.Contains(t, get(t, tab, chromedp.Text(chromedp.ID("error"))), "another site")
		b.checkLayout(t, tab, "cross-site refused", "")
		b.mu.Lock()
		b.problems = nil // the 403 is logged by the browser as a failed resource
		b.mu.Unlock()

		do(t, tab, chromedp.Navigate(base+"/shop/orders/"+wxOrder), chromedp.WaitVisible(chromedp.ID("refund-section")))
		assert.Equal(t, "0.00", get(t, tab, chromedp.Text(chromedp.ID("refunded"))), "nothing was refunded")
		assert.Equal(t, "Paid", get(t, tab, chromedp.Text(chromedp.ID("status"))))
		b.noConsoleErrors(t)
	})

	t.Run("admin lists charges, refunds and shop orders", func(t *testing.T) {
		require.NotEmpty(t, wxOrder)
		require.NotEmpty(t, aliOrder)
		require.NotEmpty(t, closedOrder)
		require.NotEmpty(t, gardenOrder)
		do(t, tab, chromedp.Navigate(shopURL), chromedp.WaitVisible(chromedp.ID("nav-admin")),
			chromedp.Click(chromedp.ID("nav-admin")), chromedp.WaitVisible(chromedp.ID("charges")))
		row := func(table, attr, key string) string {
			return get(t, tab, chromedp.Text(chromedp.CSS(fmt.Sprintf(`#%s tr[%s="%s"]`, table, attr, key))))
		}
		wx := row("charges", "data-out-trade-no", wxOrder)
		assert.Contains(t, wx, "WX_NATIVE")
		assert.Contains(t, wx, "¥39.90")
		assert.Contains(t, wx, "PAID")
		ali := row("charges", "data-out-trade-no", aliOrder)
		assert.Contains(t, ali, "ALI_WEB")
		assert.Contains(t, ali, "¥128.00\tPAID\t¥128.00", "amount, status, refunded")
		assert.Contains(t, row("charges", "data-out-trade-no", closedOrder), "CLOSED")
		assert.Contains(t, row("charges", "data-out-trade-no", againOrder), "CREATED")
		assert.Contains(t, row("charges", "data-out-trade-no", gardenOrder), "¥1,000,000,000.00\tPAID")

		refunds := get(t, tab, chromedp.Text(chromedp.ID("refunds")))
		n := get(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('#refunds tbody tr').length`))
		assert.Equal(t, 2, n, "two refunds (the one over the balance and the cross-site one were refused):\n%s", refunds)
		assert.Equal(t, 2, strings.Count(refunds, "\t"+aliOrder+"\t"), refunds)
		assert.Equal(t, 2, strings.Count(refunds, "SUCCESS"), refunds)
		assert.Contains(t, refunds, "¥30.00")
		assert.Contains(t, refunds, "¥98.00")

		assert.Contains(t, row("orders", "data-no", wxOrder), "PAID")
		assert.Contains(t, row("orders", "data-no", aliOrder), "¥128.00")
		assert.Contains(t, row("orders", "data-no", closedOrder), "CLOSED")
		assert.Contains(t, row("orders", "data-no", againOrder), "UNPAID")

		// The outbox: per payment and refund, one webhook (to the shop's
		// /shop/webhook, the demo app's notifyURL) and one after-commit
		// hook run, each delivered at the first attempt. The page refreshes
		// itself while a delivery has not been tried.
		delivered := func(order, typ, target string) string {
			return fmt.Sprintf(`#deliveries tr[data-order="%s"][data-type="%s"][data-target="%s"][data-status="DELIVERED"][data-attempts="1"]`, order, typ, target)
		}
		for _, target := range []string{"hooks", "webhook"} {
			do(t, tab, chromedp.WaitVisible(chromedp.CSS(delivered(wxOrder, "charge.succeeded", target))),
				chromedp.WaitVisible(chromedp.CSS(delivered(aliOrder, "charge.succeeded", target))),
				chromedp.WaitVisible(chromedp.CSS(delivered(gardenOrder, "charge.succeeded", target))),
				chromedp.WaitVisible(chromedp.CSS(delivered(aliOrder, "refund.succeeded", target))),
				chromedp.WaitNotPresent(chromedp.ID("refreshing")))
			n = get(t, tab, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('%s').length`, delivered(aliOrder, "refund.succeeded", target))))
			assert.Equal(t, 2, n, "one %s delivery per refund", target)
		}
		// The shop has no AfterClosed hook: a close is a webhook only.
		do(t, tab, chromedp.WaitVisible(chromedp.CSS(delivered(closedOrder, "charge.closed", "webhook"))))
		n = get(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('#deliveries tbody tr').length`))
		assert.Equal(t, 11, n, "three payments and two refunds, each to the webhook and the hooks, and a close to the webhook")
		b.checkLayout(t, tab, "admin", "demo-phone-admin.png")
		b.shot(t, tab, "admin.png", "demo-admin.png")
		b.noConsoleErrors(t)
	})

	t.Run("error page", func(t *testing.T) {
		do(t, tab, chromedp.Navigate(base+"/shop/orders/NOSUCHORDER1"), chromedp.WaitVisible(chromedp.ID("error")))
		assert.Contains(t, get(t, tab, chromedp.Text(chromedp.ID("error"))), "does not exist")
		b.checkLayout(t, tab, "error", "")
		b.mu.Lock()
		b.problems = nil // the 404 is logged by the browser as a failed resource
		b.mu.Unlock()
	})
}
