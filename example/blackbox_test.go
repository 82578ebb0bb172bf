package main_test

// Black-box contract test of the example binary.
//
// Everything here is written from the documents only (SPEC.md §2–3,
// reference/api-section1-3-summary.md, reference/api-section2-endpoints.md,
// example-config.md, testdata/sign.json): the test builds ./example, runs it
// as a child process with its own YAML config and talks to it over HTTP with
// its own signer. It imports nothing from this module.

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Signer (reference/api-section1-3-summary.md §3.3, SPEC §2.1)

// javaURLEncode is Java's URLEncoder.encode(s, "UTF-8") with "*" → "%2A":
// letters, digits and ".-_" stay, space becomes "+", every other byte %XX.
func javaURLEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// bbBase is METHOD + path + k1=v1k2=v2... sorted by name.
func bbBase(method, path string, params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k == "sign" {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(strings.ToUpper(method))
	b.WriteString(path)
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

func bbSignV1(method, path string, params map[string]string, secret string) string {
	sum := md5.Sum([]byte(javaURLEncode(bbBase(method, path, params) + secret)))
	return hex.EncodeToString(sum[:])
}

func bbSignV2(method, path string, params map[string]string, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(javaURLEncode(bbBase(method, path, params))))
	return hex.EncodeToString(m.Sum(nil))
}

func TestBlackboxSignVectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "sign.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name, Method, Path  string
		Params              map[string]string
		Secret              string
		BaseString, Encoded string
		SignV1, SignV2      string
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vectors {
		if got := bbBase(v.Method, v.Path, v.Params); got != v.BaseString {
			t.Errorf("%s: base\n got %q\nwant %q", v.Name, got, v.BaseString)
		}
		if got := javaURLEncode(bbBase(v.Method, v.Path, v.Params) + v.Secret); got != v.Encoded {
			t.Errorf("%s: encoded\n got %q\nwant %q", v.Name, got, v.Encoded)
		}
		if got := bbSignV1(v.Method, v.Path, v.Params, v.Secret); got != v.SignV1 {
			t.Errorf("%s: v1 got %s want %s", v.Name, got, v.SignV1)
		}
		if got := bbSignV2(v.Method, v.Path, v.Params, v.Secret); got != v.SignV2 {
			t.Errorf("%s: v2 got %s want %s", v.Name, got, v.SignV2)
		}
	}
}

// ---------------------------------------------------------------------------
// Child process

type bbBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *bbBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *bbBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	bbBuildOnce sync.Once
	bbBinary    string
	bbBuildErr  error
	bbBuildDir  string
)

func bbBuild(t *testing.T) string {
	t.Helper()
	bbBuildOnce.Do(func() {
		bbBuildDir, bbBuildErr = os.MkdirTemp("", "paycenter-blackbox-")
		if bbBuildErr != nil {
			return
		}
		bbBinary = filepath.Join(bbBuildDir, "example")
		cmd := exec.Command("go", "build", "-o", bbBinary, "./")
		out, err := cmd.CombinedOutput()
		if err != nil {
			bbBuildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if bbBuildErr != nil {
		t.Fatal(bbBuildErr)
	}
	return bbBinary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bbBuildDir != "" {
		os.RemoveAll(bbBuildDir)
	}
	os.Exit(code)
}

func bbFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

type bbApp struct {
	id, key, secret string
	minV2           bool
}

type bbServer struct {
	base     string // http://127.0.0.1:port
	basePath string
	out      *bbBuffer
}

// bbStart writes the config, starts the binary and waits until the port answers.
func bbStart(t *testing.T, configYAML func(addr string, dir string) string) *bbServer {
	t.Helper()
	bin := bbBuild(t)
	dir := t.TempDir()
	port := bbFreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML(addr, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &bbBuffer{}
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("example output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	poll := time.NewTicker(50 * time.Millisecond) // the child's port is the only readiness signal
	defer poll.Stop()
	for {
		select {
		case <-done:
			t.Fatalf("example exited before listening:\n%s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("example not listening on %s after 30s:\n%s", addr, out.String())
		}
		<-poll.C
	}
	return &bbServer{base: "http://" + addr, out: out}
}

// ---------------------------------------------------------------------------
// Requests

var bbNoRedirect = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

type bbCall struct {
	method string
	path   string            // after basePath
	query  map[string]string // URL query
	form   map[string]string // form body (POST)
	// common holds timestamp/expires/version/nonce; key is added from app.
	common map[string]string
	where  string // where key/sign/common go: "header" (default), "form", "query"
	v2     bool   // add version=v2, timestamp, fresh nonce unless set in common

	key        string // overrides app.key
	noKey      bool
	noSign     bool
	signPath   string              // path used for signing (default: basePath+path)
	mutateSign func(string) string // tamper with the computed sign
	forceV1    bool                // sign with v1 even if version says v2
	ctype      string              // Content-Type override
	rawBody    string              // sent instead of the encoded form (form still signed)
	signWhere  string              // put sign elsewhere than where (mixed placement)
}

type bbResp struct {
	status    int
	header    http.Header
	raw       string
	requestID int64
	params    map[string]any // responseParams (json.Number for numbers), nil if absent
	hasParams bool
	code      int
	msg       string
}

var bbNonceSeq atomic.Int64

func bbNonce() string {
	return fmt.Sprintf("n%d_%d", time.Now().UnixNano(), bbNonceSeq.Add(1))
}

func bbNowMs() int64 { return time.Now().UnixMilli() }

type bbIDs struct {
	mu   sync.Mutex
	seen map[int64]string
}

type bbClient struct {
	srv *bbServer
	app *bbApp
	ids *bbIDs // requestIds seen, shared between clients of one server
}

func (c *bbClient) do(t *testing.T, call bbCall) *bbResp {
	t.Helper()
	if call.method == "" {
		call.method = http.MethodPost
	}
	common := map[string]string{}
	for k, v := range call.common {
		common[k] = v
	}
	if !call.noKey {
		if call.key != "" {
			common["key"] = call.key
		} else {
			common["key"] = c.app.key
		}
	}
	if call.v2 {
		if _, ok := common["version"]; !ok {
			common["version"] = "v2"
		}
		if _, ok := common["timestamp"]; !ok {
			common["timestamp"] = strconv.FormatInt(bbNowMs(), 10)
		}
		if _, ok := common["nonce"]; !ok {
			common["nonce"] = bbNonce()
		}
	}
	signed := map[string]string{}
	for k, v := range call.query {
		signed[k] = v
	}
	for k, v := range call.form {
		signed[k] = v
	}
	for k, v := range common {
		signed[k] = v
	}
	fullPath := c.srv.basePath + call.path
	signPath := fullPath
	if call.signPath != "" {
		signPath = call.signPath
	}
	ver := common["version"]
	var sign string
	if (ver == "v2" || ver == "v2.0") && !call.forceV1 {
		sign = bbSignV2(call.method, signPath, signed, c.app.secret)
	} else {
		sign = bbSignV1(call.method, signPath, signed, c.app.secret)
	}
	if call.mutateSign != nil {
		sign = call.mutateSign(sign)
	}
	signOut := ""
	if !call.noSign {
		if call.signWhere == "" {
			common["sign"] = sign
		} else {
			signOut = sign
		}
	}

	q := url.Values{}
	for k, v := range call.query {
		q.Set(k, v)
	}
	f := url.Values{}
	for k, v := range call.form {
		f.Set(k, v)
	}
	hdr := http.Header{}
	switch call.where {
	case "", "header":
		for k, v := range common {
			hdr.Set(k, v)
		}
	case "form":
		for k, v := range common {
			f.Set(k, v)
		}
	case "query":
		for k, v := range common {
			q.Set(k, v)
		}
	default:
		t.Fatalf("bad where %q", call.where)
	}
	if signOut != "" {
		switch call.signWhere {
		case "header":
			hdr.Set("sign", signOut)
		case "form":
			f.Set("sign", signOut)
		case "query":
			q.Set("sign", signOut)
		}
	}
	u := c.srv.base + fullPath
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if call.rawBody != "" {
		body = strings.NewReader(call.rawBody)
	} else if call.method != http.MethodGet && len(f) > 0 {
		body = strings.NewReader(f.Encode())
	}
	req, err := http.NewRequest(call.method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	if body != nil {
		ct := call.ctype
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	res, err := bbNoRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", call.method, u, err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	r := &bbResp{status: res.StatusCode, header: res.Header, raw: string(rb)}
	c.checkEnvelope(t, call.method+" "+fullPath, r)
	return r
}

var bbIntRe = regexp.MustCompile(`^-?[0-9]+$`)

// checkEnvelope: HTTP 200, JSON, requestId integer == X-Request-Id, and
// either responseParams or errorCode+errorMsg (api-section1-3 §1.3, SPEC §2.2).
func (c *bbClient) checkEnvelope(t *testing.T, what string, r *bbResp) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Errorf("%s: HTTP %d, want 200 always (api-section1-3 §1.3); body %s", what, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.raw), &env); err != nil {
		t.Fatalf("%s: body is not a JSON object: %v: %s", what, err, r.raw)
	}
	rid, ok := env["requestId"]
	if !ok || !bbIntRe.Match(rid) {
		t.Errorf("%s: requestId %s is not an integer: %s", what, rid, r.raw)
	} else {
		r.requestID, _ = strconv.ParseInt(string(rid), 10, 64)
		if h := r.header.Get("X-Request-Id"); h != string(rid) {
			t.Errorf("%s: X-Request-Id %q != requestId %s", what, h, rid)
		}
		c.ids.mu.Lock()
		if prev, dup := c.ids.seen[r.requestID]; dup {
			t.Errorf("%s: requestId %d already returned for %s", what, r.requestID, prev)
		}
		c.ids.seen[r.requestID] = what
		c.ids.mu.Unlock()
	}
	for k := range env {
		switch k {
		case "requestId", "responseParams", "errorCode", "errorMsg":
		default:
			t.Errorf("%s: unexpected envelope field %q: %s", what, k, r.raw)
		}
	}
	if ec, ok := env["errorCode"]; ok {
		if !bbIntRe.Match(ec) {
			t.Errorf("%s: errorCode %s not an integer", what, ec)
		}
		r.code, _ = strconv.Atoi(string(ec))
		if err := json.Unmarshal(env["errorMsg"], &r.msg); err != nil || r.msg == "" {
			t.Errorf("%s: errorCode without a non-empty errorMsg: %s", what, r.raw)
		}
		if _, ok := env["responseParams"]; ok {
			t.Errorf("%s: both errorCode and responseParams: %s", what, r.raw)
		}
		return
	}
	if _, ok := env["errorMsg"]; ok {
		t.Errorf("%s: errorMsg without errorCode: %s", what, r.raw)
	}
	if rp, ok := env["responseParams"]; ok {
		r.hasParams = true
		d := json.NewDecoder(bytes.NewReader(rp))
		d.UseNumber()
		if err := d.Decode(&r.params); err != nil {
			t.Errorf("%s: responseParams not an object: %s", what, r.raw)
		}
	}
}

// ok asserts success and returns responseParams.
func (c *bbClient) ok(t *testing.T, call bbCall) map[string]any {
	t.Helper()
	r := c.do(t, call)
	if r.code != 0 {
		t.Fatalf("%s %s: want success, got errorCode %d %q", call.method, call.path, r.code, r.msg)
	}
	if !r.hasParams {
		t.Fatalf("%s %s: no responseParams: %s", call.method, call.path, r.raw)
	}
	return r.params
}

// fail asserts one of the error codes.
func (c *bbClient) fail(t *testing.T, call bbCall, codes ...int) *bbResp {
	t.Helper()
	r := c.do(t, call)
	for _, code := range codes {
		if r.code == code {
			return r
		}
	}
	t.Errorf("%s %s %v: want errorCode %v, got %d (%s)", call.method, call.path, call.form, codes, r.code, r.raw)
	return r
}

// ---------------------------------------------------------------------------
// Value helpers

func bbStr(t *testing.T, m map[string]any, k string) string {
	t.Helper()
	v, ok := m[k]
	if !ok {
		t.Errorf("field %q missing in %v", k, m)
		return ""
	}
	s, ok := v.(string)
	if !ok {
		t.Errorf("field %q = %#v, want string", k, v)
	}
	return s
}

func bbInt(t *testing.T, m map[string]any, k string) int64 {
	t.Helper()
	v, ok := m[k]
	if !ok {
		t.Errorf("field %q missing in %v", k, m)
		return 0
	}
	n, ok := v.(json.Number)
	if !ok {
		t.Errorf("field %q = %#v, want JSON number", k, v)
		return 0
	}
	i, err := n.Int64()
	if err != nil {
		t.Errorf("field %q = %s, want integer", k, n)
	}
	return i
}

func bbNull(t *testing.T, m map[string]any, k string) {
	t.Helper()
	v, ok := m[k]
	if !ok {
		t.Errorf("field %q missing (want explicit null, api-section2 §2.2 JSON) in %v", k, m)
		return
	}
	if v != nil {
		t.Errorf("field %q = %#v, want null", k, v)
	}
}

var bbSeq atomic.Int64

// bbTradeNo: 8–32 letters/digits, unique per run.
func bbTradeNo(prefix string) string {
	return fmt.Sprintf("%s%s%d", prefix, strconv.FormatInt(time.Now().UnixNano(), 36), bbSeq.Add(1))
}

var bbChannels = []string{"WX_NATIVE", "WX_JSAPI", "WX_APP", "WX_MWEB", "ALI_WEB", "ALI_APP", "ALI_WAP"}

// channelParams field names from the JSON examples in api-section2 §2.1.
var bbChannelFields = map[string][]string{
	"WX_NATIVE": {"codeUrl"},
	"WX_JSAPI":  {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"},
	"WX_APP":    {"appId", "partnerid", "prepayid", "package", "nonceStr", "timeStamp", "sign"},
	"WX_MWEB":   {"mwebUrl"},
	"ALI_WEB":   {"body"},
	"ALI_APP":   {"body"},
	"ALI_WAP":   {"body"},
}

// extension fields SPEC §2.3 allows on top of the document's.
var bbChannelExtra = map[string][]string{
	"ALI_WEB": {"url"},
	"ALI_WAP": {"url"},
}

const bbOpenID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

func bbChargeForm(channel, outTradeNo string) map[string]string {
	f := map[string]string{
		"channel":    channel,
		"outTradeNo": outTradeNo,
		"feeType":    "CNY",
		"totalFee":   "100",
		"clientIp":   "127.0.0.1",
		"subject":    "超级大礼包 a*b~c+d",
		"body":       "a b*c~d/e+f 商品",
		"created":    strconv.FormatInt(bbNowMs(), 10),
		"timeExpire": "7200",
		"attach":     "att " + channel + " *~+&=%",
		"returnUrl":  "http://www.163.com/?a=1&b=2",
	}
	if channel == "WX_JSAPI" {
		f["wx.openid"] = bbOpenID
	}
	return f
}

// ---------------------------------------------------------------------------
// The test

type bbWebhook struct {
	mu      sync.Mutex
	events  []map[string]any
	errs    []string
	arrived chan struct{} // one value per webhook received
}

func TestBlackbox(t *testing.T) {
	app1 := &bbApp{id: "11", key: "e3327bcd-2681-4a2a-a321-c75ekl433ff81", secret: "52ewc-c675-4944-af44-f4fdsww332d88"}
	app2 := &bbApp{id: "22", key: "k2-7d1f0b7e-9a4c-4f55-b1d2", secret: "s2-0c1b2a39-e4f5-46a7-98b9", minV2: true}

	hook := &bbWebhook{arrived: make(chan struct{}, 1000)}
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hook.mu.Lock()
		defer hook.mu.Unlock()
		ts := r.Header.Get("timestamp")
		m := hmac.New(sha256.New, []byte(app1.secret))
		m.Write([]byte(ts + "." + string(body)))
		want := hex.EncodeToString(m.Sum(nil))
		switch {
		case r.Method != http.MethodPost:
			hook.errs = append(hook.errs, "webhook method "+r.Method)
		case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
			hook.errs = append(hook.errs, "webhook Content-Type "+r.Header.Get("Content-Type"))
		case r.Header.Get("key") != app1.key:
			hook.errs = append(hook.errs, "webhook key header "+r.Header.Get("key"))
		case !hmac.Equal([]byte(r.Header.Get("sign")), []byte(want)):
			hook.errs = append(hook.errs, fmt.Sprintf("webhook sign %q want %q (ts %q body %s)", r.Header.Get("sign"), want, ts, body))
		}
		var ev map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&ev); err != nil {
			hook.errs = append(hook.errs, "webhook body not JSON: "+string(body))
		} else {
			hook.events = append(hook.events, ev)
		}
		w.WriteHeader(http.StatusOK)
		hook.arrived <- struct{}{}
	}))
	t.Cleanup(hookSrv.Close)

	srv := bbStart(t, func(addr, dir string) string {
		return fmt.Sprintf(`addr: %s
publicURL: http://%s
basePath: /pay
database:
  driver: sqlite
  dsn: %s
sandbox: true
apps:
  - id: "%s"
    key: %s
    secret: %s
    notifyURL: %s/webhook
    minSignVersion: 1
  - id: "%s"
    key: %s
    secret: %s
    minSignVersion: 2
    returnURLHosts: [www.163.com]
webhook:
  schedule: [1s, 2s, 5s]
  timeout: 5s
  allowPrivateNetworks: true
workers:
  pollInterval: 200ms
`, addr, addr, filepath.Join(dir, "pay.db"), app1.id, app1.key, app1.secret, hookSrv.URL, app2.id, app2.key, app2.secret)
	})
	srv.basePath = "/pay"
	publicBase := srv.base + srv.basePath

	ids := &bbIDs{seen: map[int64]string{}}
	c1 := &bbClient{srv: srv, app: app1, ids: ids}
	c2 := &bbClient{srv: srv, app: app2, ids: ids}

	paid := map[string]string{} // channel -> paid outTradeNo with 50 fen refunded

	// ---- 1. full flow per channel -------------------------------------
	for _, ch := range bbChannels {
		ch := ch
		t.Run("flow/"+ch, func(t *testing.T) {
			no := bbTradeNo("F")
			form := bbChargeForm(ch, no)
			rp := c1.ok(t, bbCall{path: "/api/charges", form: form})
			if got := bbStr(t, rp, "channel"); got != ch {
				t.Errorf("channel %q want %q", got, ch)
			}
			// extension fields (SPEC §2.3)
			if got := bbStr(t, rp, "outTradeNo"); got != no {
				t.Errorf("outTradeNo %q want %q", got, no)
			}
			if got := bbInt(t, rp, "totalFee"); got != 100 {
				t.Errorf("totalFee %d want 100", got)
			}
			created, _ := strconv.ParseInt(form["created"], 10, 64)
			if exp := bbInt(t, rp, "expireTime"); exp < bbNowMs()+7000*1000 || exp > bbNowMs()+7300*1000 {
				t.Errorf("expireTime %d not about now+7200s (created %d)", exp, created)
			}
			cp, ok := rp["channelParams"].(map[string]any)
			if !ok {
				t.Fatalf("channelParams missing or not an object: %v", rp)
			}
			allowed := map[string]bool{}
			for _, f := range bbChannelFields[ch] {
				allowed[f] = true
				if s := bbStr(t, cp, f); s == "" {
					t.Errorf("channelParams.%s empty", f)
				}
			}
			for _, f := range bbChannelExtra[ch] {
				allowed[f] = true
			}
			for k := range cp {
				if !allowed[k] {
					t.Errorf("channelParams has field %q not in the document's JSON example for %s: %v", k, ch, cp)
				}
			}
			cashier := publicBase + "/sandbox/cashier/" + app1.id + "/" + no
			switch ch {
			case "WX_NATIVE":
				if u, _ := cp["codeUrl"].(string); !strings.HasPrefix(u, cashier) {
					t.Errorf("codeUrl %q does not point at the sandbox cashier %s (SPEC §3)", u, cashier)
				}
			case "WX_MWEB":
				u, _ := cp["mwebUrl"].(string)
				if !strings.HasPrefix(u, cashier) {
					t.Errorf("mwebUrl %q does not point at the sandbox cashier %s (SPEC §3)", u, cashier)
				}
				if pu, err := url.Parse(u); err != nil || pu.Query().Get("redirect_url") != form["returnUrl"] {
					t.Errorf("mwebUrl %q: redirect_url should be the returnUrl %q (SPEC §2.3)", u, form["returnUrl"])
				}
			case "WX_APP":
				if cp["package"] != "Sign=WXPay" {
					t.Errorf("WX_APP package = %v, want Sign=WXPay", cp["package"])
				}
			case "WX_JSAPI":
				if p, _ := cp["package"].(string); !strings.HasPrefix(p, "prepay_id=") {
					t.Errorf("WX_JSAPI package = %q, want prepay_id=...", p)
				}
			case "ALI_WEB", "ALI_WAP":
				if b, _ := cp["body"].(string); !strings.Contains(strings.ToLower(b), "<form") {
					t.Errorf("%s body is not an HTML form: %q", ch, b)
				}
			}
			// the cashier page exists in sandbox mode
			if res, err := http.Get(cashier); err != nil {
				t.Errorf("GET cashier: %v", err)
			} else {
				res.Body.Close()
				if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
					t.Errorf("GET %s: %d %s, want 200 text/html", cashier, res.StatusCode, res.Header.Get("Content-Type"))
				}
			}

			// duplicate create with the same parameters: same channelParams (SPEC §2.3)
			rp2 := c1.ok(t, bbCall{path: "/api/charges", form: form})
			if !reflect.DeepEqual(rp2["channelParams"], rp["channelParams"]) {
				t.Errorf("resubmission returned different channelParams:\n first %v\nsecond %v", rp["channelParams"], rp2["channelParams"])
			}

			// pay-result before payment (GET, query string)
			pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result",
				query: map[string]string{"channel": ch, "outTradeNo": no}})
			if pr["hasPay"] != false {
				t.Errorf("hasPay before payment = %v", pr["hasPay"])
			}
			bbNull(t, pr, "payTime")
			bbNull(t, pr, "returnUrl")
			if got := bbStr(t, pr, "attach"); got != form["attach"] {
				t.Errorf("attach %q want %q", got, form["attach"])
			}
			if bbStr(t, pr, "channel") != ch || bbStr(t, pr, "outTradeNo") != no {
				t.Errorf("pay-result echoes wrong order: %v", pr)
			}
			if s := bbStr(t, pr, "status"); s != "CREATED" {
				t.Errorf("status %q want CREATED", s)
			}

			// refund before payment: 20005
			c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{
				"outTradeNo": no, "outRefundNo": "U" + no, "refundFee": "1"}}, 20005)

			bbSandboxPay(t, srv, app1.id, no, "success")

			// pay-result after payment (POST form this time)
			before := bbNowMs()
			pr = c1.ok(t, bbCall{method: http.MethodPost, path: "/api/charges/pay-result",
				form: map[string]string{"channel": ch, "outTradeNo": no}})
			if pr["hasPay"] != true {
				t.Fatalf("hasPay after sandbox payment = %v (%v)", pr["hasPay"], pr)
			}
			if pt := bbInt(t, pr, "payTime"); pt < created-60000 || pt > before+60000 {
				t.Errorf("payTime %d not a ms timestamp near now (%d)", pt, before)
			}
			if got := bbStr(t, pr, "returnUrl"); got != form["returnUrl"] {
				t.Errorf("returnUrl %q want %q", got, form["returnUrl"])
			}
			if got := bbStr(t, pr, "attach"); got != form["attach"] {
				t.Errorf("attach %q want %q", got, form["attach"])
			}
			if s := bbStr(t, pr, "status"); s != "PAID" {
				t.Errorf("status %q want PAID", s)
			}
			if f := bbInt(t, pr, "totalFee"); f != 100 {
				t.Errorf("totalFee %d want 100", f)
			}
			if f := bbInt(t, pr, "refundedFee"); f != 0 {
				t.Errorf("refundedFee %d want 0", f)
			}
			if id, _ := pr["transactionId"].(string); id == "" {
				t.Errorf("transactionId %#v after payment, want the channel's id", pr["transactionId"])
			}

			// create again after payment: 20003 (SPEC §2.3)
			c1.fail(t, bbCall{path: "/api/charges", form: form}, 20003)

			// two partial refunds
			for i, fee := range []string{"30", "20"} {
				rno := fmt.Sprintf("R%s%d", no, i)
				r := c1.do(t, bbCall{path: "/api/refunds", form: map[string]string{
					"outTradeNo": no, "outRefundNo": rno, "refundFee": fee, "refundDesc": "商品退货 *~+"}})
				if r.code != 0 {
					t.Fatalf("refund %s: errorCode %d %s", rno, r.code, r.msg)
				}
				if r.hasParams {
					if bbStr(t, r.params, "outRefundNo") != rno || bbStr(t, r.params, "outTradeNo") != no ||
						strconv.FormatInt(bbInt(t, r.params, "refundFee"), 10) != fee {
						t.Errorf("refund responseParams %v", r.params)
					}
					if s := bbStr(t, r.params, "status"); s != "SUCCESS" && s != "PROCESSING" {
						t.Errorf("refund status %q", s)
					}
				}
				rr := bbRefundSettled(t, c1, rno)
				if bbStr(t, rr, "status") != "SUCCESS" || bbStr(t, rr, "outTradeNo") != no ||
					strconv.FormatInt(bbInt(t, rr, "refundFee"), 10) != fee {
					t.Errorf("refund result %v", rr)
				}
				if rt := bbInt(t, rr, "refundTime"); rt < created-60000 || rt > bbNowMs()+60000 {
					t.Errorf("refundTime %d not a ms timestamp near now", rt)
				}
			}
			pr = c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result",
				query: map[string]string{"channel": ch, "outTradeNo": no}})
			if f := bbInt(t, pr, "refundedFee"); f != 50 {
				t.Errorf("refundedFee %d want 50", f)
			}
			paid[ch] = no
		})
	}

	// ---- 2. refund rules -------------------------------------------------
	t.Run("refunds", func(t *testing.T) {
		no := paid["WX_NATIVE"]
		if no == "" {
			t.Skip("flow/WX_NATIVE failed")
		}
		rno := "RA" + no
		f := map[string]string{"outTradeNo": no, "outRefundNo": rno, "refundFee": "10"}
		c1.do(t, bbCall{path: "/api/refunds", form: f})
		// same outRefundNo, same params: same refund, not a second one
		r := c1.do(t, bbCall{path: "/api/refunds", form: f})
		if r.code != 0 {
			t.Errorf("idempotent refund resubmission: errorCode %d %s", r.code, r.msg)
		}
		// same outRefundNo, different fee: 20003
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": no, "outRefundNo": rno, "refundFee": "11"}}, 20003)
		pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_NATIVE", "outTradeNo": no}})
		if f := bbInt(t, pr, "refundedFee"); f != 60 {
			t.Errorf("refundedFee %d want 60 (30+20+10, resubmission must not refund twice)", f)
		}
		// balance is 40: 41 → 10009, 40 → ok, 1 → 10009
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": no, "outRefundNo": "RB" + no, "refundFee": "41"}}, 10009)
		c1.ok(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": no, "outRefundNo": "RC" + no, "refundFee": "40"}})
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": no, "outRefundNo": "RD" + no, "refundFee": "1"}}, 10009)
		// unknown charge / refund: 10008
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": "nosuch12345678", "outRefundNo": "RE" + no, "refundFee": "1"}}, 10008)
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/refunds/result", query: map[string]string{"outRefundNo": "nosuchrefund1"}}, 10008)
		// POST works for the refund result query too
		c1.ok(t, bbCall{method: http.MethodPost, path: "/api/refunds/result", form: map[string]string{"outRefundNo": rno}})
		// parameter checks
		other := paid["ALI_WEB"]
		if other == "" {
			other = no
		}
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": "RF" + other}}, 10006)
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "refundFee": "1"}}, 10006)
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": "RG" + other, "refundFee": "0"}}, 10007)
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": "RH" + other, "refundFee": "1.5"}}, 10007)
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": "R-I" + other, "refundFee": "1"}}, 10007)
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": strings.Repeat("x", 65), "refundFee": "1"}}, 10007)
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": "RJ" + other, "refundFee": "1",
			"refundDesc": strings.Repeat("退", 81)}}, 10007)
		// 80 chars (not bytes) of Chinese is valid
		c1.ok(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": "RK" + other, "refundFee": "1",
			"refundDesc": strings.Repeat("退", 80)}})
		// a 1-char outRefundNo is valid (1–64)
		c1.ok(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": other, "outRefundNo": "Z", "refundFee": "1"}})
		// wrong method: 10002
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/refunds", query: map[string]string{"outTradeNo": no, "outRefundNo": "RL" + no, "refundFee": "1"}}, 10002)
	})

	// ---- 3. charge parameter rules --------------------------------------
	t.Run("charge-params", func(t *testing.T) {
		type tc struct {
			name string
			mod  func(f map[string]string)
			code []int // nil = success
		}
		cases := []tc{
			{"missing channel", func(f map[string]string) { delete(f, "channel") }, []int{10006}},
			{"missing outTradeNo", func(f map[string]string) { delete(f, "outTradeNo") }, []int{10006}},
			{"missing totalFee", func(f map[string]string) { delete(f, "totalFee") }, []int{10006}},
			{"missing clientIp", func(f map[string]string) { delete(f, "clientIp") }, []int{10006}},
			{"missing subject", func(f map[string]string) { delete(f, "subject") }, []int{10006}},
			{"missing body", func(f map[string]string) { delete(f, "body") }, []int{10006}},
			{"missing created", func(f map[string]string) { delete(f, "created") }, []int{10006}},
			{"JSAPI without wx.openid", func(f map[string]string) { f["channel"] = "WX_JSAPI" }, []int{10006}},
			{"unknown channel", func(f map[string]string) { f["channel"] = "WX_FOO" }, []int{10007, 20001}},
			{"outTradeNo 7 chars", func(f map[string]string) { f["outTradeNo"] = "abc1234" }, []int{10007}},
			{"outTradeNo 33 chars", func(f map[string]string) { f["outTradeNo"] = strings.Repeat("a", 33) }, []int{10007}},
			{"outTradeNo with dash", func(f map[string]string) { f["outTradeNo"] = "abc-12345" }, []int{10007}},
			{"totalFee 0", func(f map[string]string) { f["totalFee"] = "0" }, []int{10007}},
			{"totalFee negative", func(f map[string]string) { f["totalFee"] = "-1" }, []int{10007}},
			{"totalFee decimal", func(f map[string]string) { f["totalFee"] = "1.5" }, []int{10007}},
			{"totalFee too big", func(f map[string]string) { f["totalFee"] = "100000000001" }, []int{10007}},
			{"feeType USD", func(f map[string]string) { f["feeType"] = "USD" }, []int{10007}},
			{"clientIp bad", func(f map[string]string) { f["clientIp"] = "999.1.1.1" }, []int{10007}},
			{"subject 129 chars", func(f map[string]string) { f["subject"] = strings.Repeat("超", 129) }, []int{10007}},
			{"body 129 chars", func(f map[string]string) { f["body"] = strings.Repeat("b", 129) }, []int{10007}},
			{"created not a number", func(f map[string]string) { f["created"] = "yesterday" }, []int{10007}},
			{"timeExpire 59", func(f map[string]string) { f["timeExpire"] = "59" }, []int{10007}},
			{"timeExpire 1296001", func(f map[string]string) { f["timeExpire"] = "1296001" }, []int{10007}},
			{"attach 128 bytes", func(f map[string]string) { f["attach"] = strings.Repeat("a", 128) }, []int{10007}},
			{"analysis not JSON", func(f map[string]string) { f["analysis"] = "os_name=iOS" }, []int{10007}},
			{"analysis JSON array", func(f map[string]string) { f["analysis"] = `["iOS"]` }, []int{10007}},
			{"returnUrl ftp", func(f map[string]string) { f["returnUrl"] = "ftp://example.com/x" }, []int{10007}},
			{"returnUrl relative", func(f map[string]string) { f["returnUrl"] = "/back" }, []int{10007}},
			// boundaries that are valid
			{"ok totalFee 1", func(f map[string]string) { f["totalFee"] = "1" }, nil},
			{"ok totalFee max", func(f map[string]string) { f["totalFee"] = "100000000000" }, nil},
			{"ok timeExpire 60", func(f map[string]string) { f["timeExpire"] = "60" }, nil},
			{"ok timeExpire 1296000", func(f map[string]string) { f["timeExpire"] = "1296000" }, nil},
			{"ok no timeExpire/feeType/attach/returnUrl", func(f map[string]string) {
				delete(f, "timeExpire")
				delete(f, "feeType")
				delete(f, "attach")
				delete(f, "returnUrl")
			}, nil},
			{"ok attach 127 bytes", func(f map[string]string) { f["attach"] = strings.Repeat("a", 127) }, nil},
			{"ok empty attach", func(f map[string]string) { f["attach"] = "" }, nil},
			{"ok subject 128 Chinese chars", func(f map[string]string) { f["subject"] = strings.Repeat("超", 128) }, nil},
			{"ok outTradeNo 8 digits", func(f map[string]string) { f["outTradeNo"] = fmt.Sprintf("%08d", time.Now().UnixNano()%1e8) }, nil},
			{"ok outTradeNo 32 chars", func(f map[string]string) { f["outTradeNo"] = (bbTradeNo("L") + strings.Repeat("x", 32))[:32] }, nil},
			{"ok IPv6 clientIp", func(f map[string]string) { f["clientIp"] = "2001:db8::1" }, nil},
			{"ok analysis object", func(f map[string]string) {
				f["analysis"] = `{"os_name":"iOS","os_version":"5.1","model":"iPhone 6","app_name":"测试"}`
			}, nil},
			{"ok description", func(f map[string]string) { f["description"] = "订单附加说明 1+1=2" }, nil},
			{"ok https returnUrl with fragment", func(f map[string]string) { f["returnUrl"] = "https://shop.example.com/done?x=1#top" }, nil},
		}
		for _, cse := range cases {
			f := bbChargeForm("WX_NATIVE", bbTradeNo("P"))
			cse.mod(f)
			if cse.code == nil {
				rp := c1.do(t, bbCall{path: "/api/charges", form: f})
				if rp.code != 0 {
					t.Errorf("%s: want success, got %d %s", cse.name, rp.code, rp.msg)
				}
				continue
			}
			r := c1.fail(t, bbCall{path: "/api/charges", form: f}, cse.code...)
			if r.code != 0 {
				t.Logf("%s → %d %s", cse.name, r.code, r.msg)
			}
		}
		// empty attach echoes as "" (not null)
		no := bbTradeNo("E")
		f := bbChargeForm("WX_NATIVE", no)
		f["attach"] = ""
		c1.ok(t, bbCall{path: "/api/charges", form: f})
		pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_NATIVE", "outTradeNo": no}})
		if pr["attach"] != "" {
			t.Errorf("empty attach echoed as %#v, want \"\" (doc JSON example shows \"attach\":\"\")", pr["attach"])
		}
		// different parameters for the same outTradeNo: 20003
		f2 := map[string]string{}
		for k, v := range f {
			f2[k] = v
		}
		f2["totalFee"] = "101"
		r := c1.fail(t, bbCall{path: "/api/charges", form: f2}, 20003)
		t.Logf("20003 message: %s", r.msg)
		// wrong method
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/charges", query: f}, 10002)
	})

	// ---- 4. queries -----------------------------------------------------
	t.Run("queries", func(t *testing.T) {
		no := paid["ALI_WAP"]
		if no == "" {
			t.Skip("flow/ALI_WAP failed")
		}
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_NATIVE", "outTradeNo": "nosuchorder1"}}, 10008)
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "ALI_WEB", "outTradeNo": no}}, 10008)
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"outTradeNo": no}}, 10006)
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "ALI_WAP"}}, 10006)
		// another app cannot see app 11's order
		c2.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", v2: true, query: map[string]string{"channel": "ALI_WAP", "outTradeNo": no}}, 10008)
		// wrong methods on query endpoints
		for _, m := range []string{http.MethodPut, http.MethodDelete} {
			r := c1.do(t, bbCall{method: m, path: "/api/charges/pay-result", query: map[string]string{"channel": "ALI_WAP", "outTradeNo": no}})
			if r.code != 10002 {
				t.Errorf("%s pay-result: want 10002 (SPEC §2.1 'A wrong method is errorCode 10002'), got %d %s", m, r.code, r.raw)
			}
		}
	})

	// ---- 5. signature & common parameters --------------------------------
	t.Run("signature", func(t *testing.T) {
		no := paid["WX_APP"]
		if no == "" {
			t.Skip("flow/WX_APP failed")
		}
		q := map[string]string{"channel": "WX_APP", "outTradeNo": no}
		get := func(mod func(*bbCall)) bbCall {
			cl := bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q}
			mod(&cl)
			return cl
		}
		// key & sign as query params (GET) and form params (POST)
		c1.ok(t, get(func(c *bbCall) { c.where = "query" }))
		c1.ok(t, bbCall{method: http.MethodPost, path: "/api/charges/pay-result", form: q, where: "form"})
		// commons in query string of a POST, business params in the form
		c1.ok(t, bbCall{method: http.MethodPost, path: "/api/charges/pay-result", form: q, where: "query"})
		// version v1.0 header, timestamp+expires headers
		c1.ok(t, get(func(c *bbCall) { c.common = map[string]string{"version": "v1.0"} }))
		c1.ok(t, get(func(c *bbCall) {
			c.common = map[string]string{"version": "v1.0", "timestamp": strconv.FormatInt(bbNowMs(), 10), "expires": "30000"}
		}))
		c1.ok(t, get(func(c *bbCall) {
			c.common = map[string]string{"timestamp": strconv.FormatInt(bbNowMs()-10000, 10), "expires": "60000"}
		}))
		// a timestamp a minute in the future is fine
		c1.ok(t, get(func(c *bbCall) {
			c.common = map[string]string{"timestamp": strconv.FormatInt(bbNowMs()+60000, 10)}
		}))
		// v2 on a v1 app is accepted
		c1.ok(t, get(func(c *bbCall) { c.v2 = true }))
		// 10003 unknown key
		c1.fail(t, get(func(c *bbCall) { c.key = "no-such-key" }), 10003)
		// missing key: 10006 (or 10003)
		r := c1.fail(t, get(func(c *bbCall) { c.noKey = true }), 10006, 10003)
		t.Logf("missing key → %d %s", r.code, r.msg)
		// 10004 bad sign, missing sign, sign computed without basePath, sign over other params
		c1.fail(t, get(func(c *bbCall) { c.mutateSign = func(s string) string { return strings.Repeat("0", len(s)) } }), 10004)
		r = c1.fail(t, get(func(c *bbCall) { c.noSign = true }), 10006, 10004)
		t.Logf("missing sign → %d %s", r.code, r.msg)
		c1.fail(t, get(func(c *bbCall) { c.signPath = "/api/charges/pay-result" }), 10004)
		c1.fail(t, get(func(c *bbCall) {
			c.mutateSign = func(string) string {
				return bbSignV1("POST", "/pay/api/charges/pay-result", map[string]string{"key": app1.key, "channel": "WX_APP", "outTradeNo": no}, app1.secret)
			}
		}), 10004)
		// a v2 header with a v1 sign
		c1.fail(t, get(func(c *bbCall) { c.v2 = true; c.forceV1 = true }), 10004)
		// 10005 expired
		now := bbNowMs()
		c1.fail(t, get(func(c *bbCall) { c.common = map[string]string{"timestamp": strconv.FormatInt(now-301000, 10)} }), 10005)
		c1.fail(t, get(func(c *bbCall) {
			c.common = map[string]string{"timestamp": strconv.FormatInt(now-10000, 10), "expires": "5000"}
		}), 10005)
		// expires is capped at 600000
		c1.fail(t, get(func(c *bbCall) {
			c.common = map[string]string{"timestamp": strconv.FormatInt(now-700000, 10), "expires": "900000"}
		}), 10005)
		// more than 5 minutes in the future
		c1.fail(t, get(func(c *bbCall) { c.common = map[string]string{"timestamp": strconv.FormatInt(now+360000, 10)} }), 10005)
		// non-numeric timestamp
		r = c1.fail(t, get(func(c *bbCall) { c.common = map[string]string{"timestamp": "yesterday"} }), 10007, 10005)
		t.Logf("timestamp=yesterday → %d %s", r.code, r.msg)
	})

	t.Run("signature-v2", func(t *testing.T) {
		// a charge of app 22 with v2, version v2.0, Chinese/odd values, params in query of a POST
		no := bbTradeNo("V")
		f := bbChargeForm("ALI_APP", no)
		qpart := map[string]string{"channel": f["channel"], "outTradeNo": f["outTradeNo"]}
		delete(f, "channel")
		delete(f, "outTradeNo")
		rp := c2.ok(t, bbCall{path: "/api/charges", query: qpart, form: f, v2: true,
			common: map[string]string{"version": "v2.0"}, ctype: "application/x-www-form-urlencoded; charset=UTF-8"})
		if cp, _ := rp["channelParams"].(map[string]any); cp == nil || cp["body"] == "" {
			t.Errorf("ALI_APP channelParams %v", rp["channelParams"])
		}
		q := map[string]string{"channel": "ALI_APP", "outTradeNo": no}
		get := func(mod func(*bbCall)) bbCall {
			cl := bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q, v2: true}
			mod(&cl)
			return cl
		}
		c2.ok(t, get(func(*bbCall) {}))
		c2.ok(t, get(func(c *bbCall) { c.where = "query" }))
		c2.ok(t, bbCall{method: http.MethodPost, path: "/api/charges/pay-result", form: q, v2: true, where: "form"})
		// app with minSignVersion 2 refuses v1: 10004
		c2.fail(t, get(func(c *bbCall) { c.v2 = false }), 10004)
		c2.fail(t, get(func(c *bbCall) { c.v2 = false; c.common = map[string]string{"version": "v1.0"} }), 10004)
		// v2 without nonce / without timestamp
		r := c2.do(t, get(func(c *bbCall) {
			c.v2 = false
			c.common = map[string]string{"version": "v2", "timestamp": strconv.FormatInt(bbNowMs(), 10)}
		}))
		if r.code != 10006 {
			t.Errorf("v2 without nonce: want 10006 (required parameter missing), got %d %s", r.code, r.raw)
		}
		r = c2.do(t, get(func(c *bbCall) { c.v2 = false; c.common = map[string]string{"version": "v2", "nonce": bbNonce()} }))
		if r.code != 10006 {
			t.Errorf("v2 without timestamp: want 10006, got %d %s", r.code, r.raw)
		}
		// bad nonce syntax (8–64 of [A-Za-z0-9_-])
		for _, n := range []string{"short", strings.Repeat("n", 65), "bad nonce!"} {
			r := c2.do(t, get(func(c *bbCall) { c.common = map[string]string{"nonce": n} }))
			if r.code != 10007 {
				t.Errorf("v2 nonce %q: want 10007, got %d %s", n, r.code, r.raw)
			}
		}
		// 8 and 64 chars are fine
		c2.ok(t, get(func(c *bbCall) { c.common = map[string]string{"nonce": bbNonce()[:8]} }))
		c2.ok(t, get(func(c *bbCall) { c.common = map[string]string{"nonce": (bbNonce() + strings.Repeat("-", 64))[:64]} }))
		// replayed nonce: 10005
		n := bbNonce()
		ts := strconv.FormatInt(bbNowMs(), 10)
		c2.ok(t, get(func(c *bbCall) { c.common = map[string]string{"nonce": n, "timestamp": ts} }))
		c2.fail(t, get(func(c *bbCall) { c.common = map[string]string{"nonce": n, "timestamp": ts} }), 10005)
		// same nonce on another endpoint is still a replay
		c2.fail(t, bbCall{method: http.MethodGet, path: "/api/refunds/result", query: map[string]string{"outRefundNo": "whatever1"}, v2: true,
			common: map[string]string{"nonce": n}}, 10005)
		// bad v2 sign
		c2.fail(t, get(func(c *bbCall) { c.mutateSign = func(s string) string { return strings.Repeat("a", len(s)) } }), 10004)
		// expired v2
		c2.fail(t, get(func(c *bbCall) { c.common = map[string]string{"timestamp": strconv.FormatInt(bbNowMs()-400000, 10)} }), 10005)
	})

	// ---- 6. close ------------------------------------------------------
	t.Run("close", func(t *testing.T) {
		no := bbTradeNo("C")
		f := bbChargeForm("WX_MWEB", no)
		c1.ok(t, bbCall{path: "/api/charges", form: f})
		c1.ok(t, bbCall{path: "/api/charges/close", form: map[string]string{"channel": "WX_MWEB", "outTradeNo": no}})
		pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_MWEB", "outTradeNo": no}})
		if pr["hasPay"] != false || pr["status"] != "CLOSED" {
			t.Errorf("closed charge pay-result %v", pr)
		}
		bbNull(t, pr, "payTime")
		// create again on a closed charge: 20003
		c1.fail(t, bbCall{path: "/api/charges", form: f}, 20003)
		// refund of a closed charge: not paid
		r := c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": no, "outRefundNo": "R" + no, "refundFee": "1"}}, 20005, 20006)
		t.Logf("refund of closed charge → %d %s", r.code, r.msg)
		// close of a paid charge: 20003
		if p := paid["WX_JSAPI"]; p != "" {
			c1.fail(t, bbCall{path: "/api/charges/close", form: map[string]string{"channel": "WX_JSAPI", "outTradeNo": p}}, 20003)
		}
		c1.fail(t, bbCall{path: "/api/charges/close", form: map[string]string{"channel": "WX_JSAPI", "outTradeNo": "nosuchorder2"}}, 10008)
		c1.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/close", query: map[string]string{"channel": "WX_JSAPI", "outTradeNo": no}}, 10002)
		// a payment that arrives after close is recorded (SPEC §2.7: PAID, latePaid)
		late := bbTradeNo("C")
		c1.ok(t, bbCall{path: "/api/charges", form: bbChargeForm("ALI_APP", late)})
		c1.ok(t, bbCall{path: "/api/charges/close", form: map[string]string{"channel": "ALI_APP", "outTradeNo": late}})
		bbSandboxPay(t, srv, app1.id, late, "success")
		pr = c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "ALI_APP", "outTradeNo": late}})
		if pr["hasPay"] != true || pr["status"] != "PAID" {
			t.Errorf("late payment after close not recorded as PAID: %v", pr)
		}
	})

	// ---- 6b. odd but valid inputs a real client sends --------------------
	t.Run("odd-inputs", func(t *testing.T) {
		no := paid["ALI_WEB"]
		if no == "" {
			t.Skip("flow/ALI_WEB failed")
		}
		// an extra query parameter with Chinese, space, *, ~, + is signed like any other
		c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result",
			query: map[string]string{"channel": "ALI_WEB", "outTradeNo": no, "note": "超级 a*b~c+d/e&f=g"}})
		// a form body encoded with %20 and %2A (as some clients do) instead of + and *
		no2 := bbTradeNo("S")
		f := bbChargeForm("WX_NATIVE", no2)
		f["subject"] = "超级 大礼包*"
		f["body"] = "a b~c"
		f["attach"] = "x+y"
		var parts []string
		for k, v := range f {
			e := url.QueryEscape(v)
			e = strings.ReplaceAll(e, "+", "%20")
			e = strings.ReplaceAll(e, "*", "%2A")
			parts = append(parts, url.QueryEscape(k)+"="+e)
		}
		c1.ok(t, bbCall{path: "/api/charges", form: f, rawBody: strings.Join(parts, "&")})
		pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_NATIVE", "outTradeNo": no2}})
		if pr["attach"] != "x+y" {
			t.Errorf("attach %#v, want \"x+y\"", pr["attach"])
		}
		// mixed placement: key in a header, sign in the query string / form
		q := map[string]string{"channel": "ALI_WEB", "outTradeNo": no}
		c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q, signWhere: "query"})
		c1.ok(t, bbCall{method: http.MethodPost, path: "/api/charges/pay-result", form: q, signWhere: "form"})
		c1.ok(t, bbCall{method: http.MethodPost, path: "/api/charges/pay-result", form: q, where: "form", signWhere: "header"})
		// POST query with the business parameters only in the query string
		c1.ok(t, bbCall{method: http.MethodPost, path: "/api/charges/pay-result", query: q})
		// expires up to the cap is honoured
		c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q,
			common: map[string]string{"timestamp": strconv.FormatInt(bbNowMs()-500000, 10), "expires": "550000"}})
		// outTradeNo is per app: app 22 may reuse app 11's number
		f6 := bbChargeForm("WX_NATIVE", no2)
		c2.ok(t, bbCall{path: "/api/charges", form: f6, v2: true})
		// the sandbox cannot pay app 11's order in the name of app 22
		if res, err := bbNoRedirect.PostForm(srv.base+srv.basePath+"/sandbox/pay", url.Values{
			"appId": {app2.id}, "outTradeNo": {no2}, "result": {"success"}}); err == nil {
			res.Body.Close()
		}
		if pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_NATIVE", "outTradeNo": no2}}); pr["hasPay"] != false {
			t.Errorf("app 22's sandbox payment paid app 11's charge %s", no2)
		}
		bbSandboxPay(t, srv, app2.id, no2, "success")
		if pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_NATIVE", "outTradeNo": no2}}); pr["hasPay"] != false {
			t.Errorf("paying app 22's %s also paid app 11's", no2)
		}
		if pr := c2.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", v2: true, query: map[string]string{"channel": "WX_NATIVE", "outTradeNo": no2}}); pr["hasPay"] != true {
			t.Errorf("app 22's %s not paid", no2)
		}
		// "V2" is not v2 ("anything else is v1", SPEC §2.1): a v1 sign is accepted
		c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q, common: map[string]string{"version": "V2"}})
		// expires alone (no timestamp) is just a signed parameter
		c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q, common: map[string]string{"expires": "30000"}})
		r := c1.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q,
			common: map[string]string{"timestamp": strconv.FormatInt(bbNowMs(), 10), "expires": "soon"}}, 10007)
		t.Logf("expires=soon → %d %s", r.code, r.msg)
		// nonces are per app: the same nonce is fresh for another app
		n := bbNonce()
		c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q, v2: true, common: map[string]string{"nonce": n}})
		c2.fail(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: q, v2: true, common: map[string]string{"nonce": n}}, 10008)
		// returnURLHosts of app 22
		f3 := bbChargeForm("WX_NATIVE", bbTradeNo("H"))
		f3["returnUrl"] = "https://evil.example.com/back"
		c2.fail(t, bbCall{path: "/api/charges", form: f3, v2: true}, 10007)
		f3["returnUrl"] = "https://www.163.com/back?x=1"
		c2.ok(t, bbCall{path: "/api/charges", form: f3, v2: true})
		// default timeExpire is one day
		f4 := bbChargeForm("ALI_WEB", bbTradeNo("D"))
		delete(f4, "timeExpire")
		rp := c1.ok(t, bbCall{path: "/api/charges", form: f4})
		if exp := bbInt(t, rp, "expireTime"); exp < bbNowMs()+86000*1000 || exp > bbNowMs()+86500*1000 {
			t.Errorf("expireTime %d with default timeExpire: want about now+86400s", exp)
		}
		// Alipay page/wap: extension url and the cashier (SPEC §2.3, §3)
		cp, _ := rp["channelParams"].(map[string]any)
		u, _ := cp["url"].(string)
		if !strings.Contains(u, "/pay/sandbox/cashier/"+app1.id+"/"+f4["outTradeNo"]) {
			t.Errorf("ALI_WEB url %q does not point at the sandbox cashier", u)
		}
		// a refund larger than the whole charge
		c1.fail(t, bbCall{path: "/api/refunds", form: map[string]string{"outTradeNo": paid["ALI_APP"], "outRefundNo": "RX" + no, "refundFee": "1000"}}, 10009)
		// resubmission with a new `created` (what a client regenerating the timestamp sends)
		f5 := bbChargeForm("WX_NATIVE", bbTradeNo("G"))
		c1.ok(t, bbCall{path: "/api/charges", form: f5})
		f5["created"] = strconv.FormatInt(bbNowMs()+1000, 10)
		r = c1.do(t, bbCall{path: "/api/charges", form: f5})
		t.Logf("resubmission with another created → code %d %s", r.code, r.msg)
	})

	// ---- 6c. sandbox outcomes ---------------------------------------------
	t.Run("sandbox-outcomes", func(t *testing.T) {
		// close from the cashier
		no := bbTradeNo("K")
		c1.ok(t, bbCall{path: "/api/charges", form: bbChargeForm("ALI_WAP", no)})
		bbSandboxPay(t, srv, app1.id, no, "close")
		pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "ALI_WAP", "outTradeNo": no}})
		if pr["hasPay"] != false || pr["status"] != "CLOSED" {
			t.Errorf("after sandbox close: %v", pr)
		}
		// fail then success
		no = bbTradeNo("K")
		c1.ok(t, bbCall{path: "/api/charges", form: bbChargeForm("WX_APP", no)})
		bbSandboxPay(t, srv, app1.id, no, "fail")
		pr = c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_APP", "outTradeNo": no}})
		if pr["hasPay"] != false {
			t.Errorf("after sandbox fail: %v", pr)
		}
		bbSandboxPay(t, srv, app1.id, no, "success")
		pr = c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_APP", "outTradeNo": no}})
		if pr["hasPay"] != true {
			t.Fatalf("after fail then success: %v", pr)
		}
		pt := pr["payTime"]
		// a duplicate success notification changes nothing
		bbSandboxPay(t, srv, app1.id, no, "success")
		pr = c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_APP", "outTradeNo": no}})
		if pr["hasPay"] != true || pr["payTime"] != pt {
			t.Errorf("duplicate sandbox success changed the charge: payTime %v → %v", pt, pr["payTime"])
		}
	})

	// ---- 6d. concurrency ----------------------------------------------------
	t.Run("concurrency", func(t *testing.T) {
		// identical creates: same channelParams, or 20004
		no := bbTradeNo("Q")
		f := bbChargeForm("WX_JSAPI", no)
		const n = 8
		var wg sync.WaitGroup
		res := make([]*bbResp, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res[i] = c1.do(t, bbCall{path: "/api/charges", form: f})
			}(i)
		}
		wg.Wait()
		var first any
		for i, r := range res {
			switch r.code {
			case 0:
				if first == nil {
					first = r.params["channelParams"]
				} else if !reflect.DeepEqual(first, r.params["channelParams"]) {
					t.Errorf("concurrent create %d: different channelParams %v vs %v", i, first, r.params["channelParams"])
				}
			case 20004:
			default:
				t.Errorf("concurrent create %d: %d %s", i, r.code, r.msg)
			}
		}
		if first == nil {
			t.Fatal("no concurrent create succeeded")
		}
		bbSandboxPay(t, srv, app1.id, no, "success")
		// refunds with different numbers: serialised, never 20004, never over totalFee
		res = make([]*bbResp, 10)
		for i := range res {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res[i] = c1.do(t, bbCall{path: "/api/refunds", form: map[string]string{
					"outTradeNo": no, "outRefundNo": fmt.Sprintf("Q%s%d", no, i), "refundFee": "15"}})
			}(i)
		}
		wg.Wait()
		okN := 0
		for i, r := range res {
			switch r.code {
			case 0:
				okN++
			case 10009:
			default:
				t.Errorf("concurrent refund %d: %d %s", i, r.code, r.msg)
			}
		}
		if okN != 6 {
			t.Errorf("%d refunds of 15 on 100 succeeded, want 6", okN)
		}
		pr := c1.ok(t, bbCall{method: http.MethodGet, path: "/api/charges/pay-result", query: map[string]string{"channel": "WX_JSAPI", "outTradeNo": no}})
		if f := bbInt(t, pr, "refundedFee"); f != 90 {
			t.Errorf("refundedFee %d want 90", f)
		}
	})

	// ---- 7. webhooks -----------------------------------------------------
	t.Run("webhook", func(t *testing.T) {
		no := paid["WX_NATIVE"]
		if no == "" {
			t.Skip("flow/WX_NATIVE failed")
		}
		find := func() map[string]any {
			hook.mu.Lock()
			defer hook.mu.Unlock()
			for _, ev := range hook.events {
				d, _ := ev["data"].(map[string]any)
				if ev["type"] == "charge.succeeded" && d != nil && d["outTradeNo"] == no {
					return ev
				}
			}
			return nil
		}
		timeout := time.After(15 * time.Second)
		got := find()
	wait:
		for got == nil {
			select {
			case <-hook.arrived:
				got = find()
			case <-timeout:
				break wait
			}
		}
		hook.mu.Lock()
		defer hook.mu.Unlock()
		for _, e := range hook.errs {
			t.Error(e)
		}
		if got == nil {
			t.Fatalf("no charge.succeeded webhook for %s within 15s; got %d events", no, len(hook.events))
		}
		if id, _ := got["id"].(string); id == "" {
			if _, isNum := got["id"].(json.Number); !isNum {
				t.Errorf("webhook id %#v", got["id"])
			}
		}
		if _, ok := got["created"]; !ok {
			t.Errorf("webhook without created: %v", got)
		}
		d := got["data"].(map[string]any)
		if d["attach"] != "att WX_NATIVE *~+&=%" {
			t.Errorf("webhook data.attach %#v", d["attach"])
		}
		if d["hasPay"] != true {
			t.Errorf("webhook data.hasPay %#v", d["hasPay"])
		}
	})
}

// bbSandboxPay posts the sandbox cashier's outcome (SPEC §3): 200 or a redirect.
func bbSandboxPay(t *testing.T, srv *bbServer, appID, outTradeNo, result string) {
	t.Helper()
	res, err := bbNoRedirect.PostForm(srv.base+srv.basePath+"/sandbox/pay", url.Values{
		"appId": {appID}, "outTradeNo": {outTradeNo}, "result": {result}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 && (res.StatusCode < 300 || res.StatusCode > 303) {
		t.Fatalf("sandbox pay %s: HTTP %d %s", outTradeNo, res.StatusCode, b)
	}
}

// bbRefundSettled polls the refund result until it is no longer PROCESSING.
func bbRefundSettled(t *testing.T, c *bbClient, outRefundNo string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for i := 0; ; i++ {
		m := http.MethodGet
		cl := bbCall{method: m, path: "/api/refunds/result", query: map[string]string{"outRefundNo": outRefundNo}}
		if i%2 == 1 {
			cl = bbCall{method: http.MethodPost, path: "/api/refunds/result", form: map[string]string{"outRefundNo": outRefundNo}}
		}
		rr := c.ok(t, cl)
		if rr["status"] != "PROCESSING" || time.Now().After(deadline) {
			if bbStr(t, rr, "outRefundNo") != outRefundNo {
				t.Errorf("refund result outRefundNo %v", rr["outRefundNo"])
			}
			return rr
		}
		<-poll.C
	}
}

// TestBlackboxNoSandbox: with sandbox off and no channel credentials no
// channel is configured, so create is 20001 and the sandbox routes are gone.
func TestBlackboxNoSandbox(t *testing.T) {
	app := &bbApp{id: "31", key: "k31-key-0001", secret: "s31-secret-0001"}
	srv := bbStart(t, func(addr, dir string) string {
		return fmt.Sprintf(`addr: %s
publicURL: http://%s
basePath: /pay
database:
  driver: sqlite
  dsn: %s
sandbox: false
apps:
  - id: "%s"
    key: %s
    secret: %s
`, addr, addr, filepath.Join(dir, "pay.db"), app.id, app.key, app.secret)
	})
	srv.basePath = "/pay"
	c := &bbClient{srv: srv, app: app, ids: &bbIDs{seen: map[int64]string{}}}
	for _, ch := range bbChannels {
		c.fail(t, bbCall{path: "/api/charges", form: bbChargeForm(ch, bbTradeNo("N"))}, 20001)
	}
	res, err := bbNoRedirect.PostForm(srv.base+"/pay/sandbox/pay", url.Values{"appId": {app.id}, "outTradeNo": {"whatever1"}, "result": {"success"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == 200 || (res.StatusCode >= 300 && res.StatusCode < 400) {
		t.Errorf("sandbox route answered %d with sandbox off (SPEC §3: sandbox routes exist only in sandbox mode)", res.StatusCode)
	}
}
