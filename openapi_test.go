package paycenter_test

// The OpenAPI tests: docs/openapi.yaml (embedded as paycenter.OpenAPI) is a
// valid OpenAPI 3.1 document that agrees with the code (error codes and
// their meanings, channel codes, routes, webhook events), and the real
// answers of mounted pay centers match it: every route, with a success and
// an error answer, every error code, and every webhook event, on every
// database.
//
// kin-openapi (v0.153.0, OpenAPI 3.1 with JSON Schema 2020-12) checks the
// document's structure, references, schemas and examples, and each
// exchange's request (path, query, headers, form body) and answer (status,
// headers, content type, body). Two things it cannot check are checked
// here by hand: answers to a method the document does not list (10002),
// against the ErrorEnvelope schema; and fields an answer carries that the
// document does not declare (its schemas stay open, so that clients accept
// fields added later), by undocumented. Formats ("uri", "int64") are
// annotations in JSON Schema 2020-12 and are not asserted.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/handlers"
	"github.com/gopaycenter/paycenter/hooks"
	"github.com/gopaycenter/paycenter/internal/sign"
)

// The cashier page is HTML; kin-openapi decodes only the types registered.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) }

// loadOpenAPI loads and validates the embedded document, examples included.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(paycenter.OpenAPI))
	require.NoError(t, err)
	require.True(t, doc.IsOpenAPI31OrLater(), "openapi %s", doc.OpenAPI)
	require.NoError(t, doc.Validate(loader.Context, openapi3.EnableExamplesValidation()))
	return doc
}

// documentedCodes returns the codes of the ErrorCode schema and their titles.
func documentedCodes(t testing.TB, doc *openapi3.T) map[paycenter.Code]string {
	t.Helper()
	s := doc.Components.Schemas["ErrorCode"]
	require.NotNil(t, s)
	out := map[paycenter.Code]string{}
	for _, alt := range s.Value.OneOf {
		n, ok := alt.Value.Const.(float64) // YAML numbers load as JSON numbers
		require.True(t, ok, "ErrorCode const %v", alt.Value.Const)
		out[paycenter.Code(n)] = alt.Value.Title
	}
	return out
}

// TestOpenAPIDocument: the document is valid OpenAPI 3.1 and says what the
// code says: the same error codes with the same meanings (and each
// operation's codes among them), the same channel codes, a path for every
// route the handlers mount, and the same webhook events.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)

	// Every code the server knows (Code.String adds its meaning) is
	// documented with that meaning, and nothing else is.
	known := map[paycenter.Code]string{}
	for _, r := range [][2]int{{10000, 10100}, {20000, 20100}, {30000, 30200}} {
		for n := r[0]; n < r[1]; n++ {
			if text, ok := strings.CutPrefix(paycenter.Code(n).String(), strconv.Itoa(n)+" "); ok {
				known[paycenter.Code(n)] = text
			}
		}
	}
	require.NotEmpty(t, known)
	assert.Equal(t, known, documentedCodes(t, doc), "ErrorCode: codes and titles")

	// Each operation's error codes are documented codes.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, code := range operationCodes(t, doc, op) {
				assert.Contains(t, known, code, "%s %s", method, path)
			}
		}
	}

	var codes []string
	for _, c := range channels.Codes {
		codes = append(codes, string(c))
	}
	assert.ElementsMatch(t, codes, doc.Components.Schemas["ChannelCode"].Value.Enum)
	var titled []string
	for _, alt := range doc.Components.Schemas["ChannelParams"].Value.OneOf {
		titled = append(titled, strings.Split(alt.Value.Title, ", ")...)
	}
	assert.ElementsMatch(t, codes, titled, "a channelParams shape for every channel code")

	for _, r := range handlers.Routes(handlers.Options{Sandbox: true}) {
		prefix, generic := strings.CutSuffix(r.Path, "/{provider}/...")
		found := false
		for path, item := range doc.Paths.Map() {
			if path != r.Path && !(generic && strings.HasPrefix(path, prefix+"/")) {
				continue
			}
			found = true
			for _, m := range strings.Split(r.Method, "|") {
				assert.NotNil(t, item.GetOperation(m), "%s %s", m, path)
			}
		}
		assert.True(t, found, "route %s %s has no path in the document", r.Method, r.Path)
	}

	var events []string
	for name := range doc.Webhooks {
		events = append(events, name)
	}
	assert.ElementsMatch(t, []string{hooks.ChargeSucceeded, hooks.ChargeClosed, hooks.RefundSucceeded,
		hooks.RefundFailed, hooks.RefundAbnormal}, events)
}

// operationCodes returns the errorCode enum of an API operation's error
// answer (nil for routes without the envelope).
func operationCodes(t testing.TB, doc *openapi3.T, op *openapi3.Operation) []paycenter.Code {
	t.Helper()
	r := op.Responses.Status(http.StatusOK)
	if r == nil || r.Value.Content.Get("application/json") == nil {
		return nil
	}
	var out []paycenter.Code
	for _, alt := range r.Value.Content.Get("application/json").Schema.Value.OneOf {
		for _, part := range alt.Value.AllOf {
			if p := part.Value.Properties["errorCode"]; p != nil {
				for _, v := range p.Value.Enum {
					out = append(out, paycenter.Code(v.(float64)))
				}
			}
		}
	}
	return out
}

// contract validates every exchange of its HTTP client, and every webhook
// its merchant receives, against the document, and counts what it saw.
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
	hc     *http.Client // sends through the contract; redirects are not followed
	hookTo string       // URL of the merchant that receives webhooks

	mu     sync.Mutex
	ops    map[string]*[2]int // operationId → successes, errors
	codes  map[paycenter.Code]int
	events map[string]int
}

// exchange is what the contract saw of one request.
type exchange struct {
	op     string // operationId; "" when the document lists no such operation
	status int
	code   paycenter.Code // errorCode of an API answer
	ok     bool           // a success answer
	reqErr error          // the document's verdict on the request
	body   []byte
}

type exchangeKey struct{}

func newContract(t *testing.T) *contract {
	doc := loadOpenAPI(t)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	c := &contract{t: t, doc: doc, router: router, opts: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		ops: map[string]*[2]int{}, codes: map[paycenter.Code]int{}, events: map[string]int{}}
	c.hc = &http.Client{Transport: c, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	merchant := httptest.NewServer(http.HandlerFunc(c.webhook))
	t.Cleanup(merchant.Close)
	c.hookTo = merchant.URL
	return c
}

// do sends req through the contract and returns what it saw.
func (c *contract) do(req *http.Request) *exchange {
	c.t.Helper()
	ex := &exchange{}
	resp, err := c.hc.Do(req.WithContext(context.WithValue(req.Context(), exchangeKey{}, ex)))
	require.NoError(c.t, err)
	resp.Body.Close()
	return ex
}

// RoundTrip sends the request and checks it and its answer against the
// document.
func (c *contract) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	ex := c.check(req, reqBody, resp, respBody)
	if p, ok := req.Context().Value(exchangeKey{}).(*exchange); ok {
		*p = *ex
	}
	return resp, nil
}

// check validates one exchange and records it.
func (c *contract) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) *exchange {
	t := c.t
	ex := &exchange{status: resp.StatusCode, body: respBody, ok: resp.StatusCode < 400}
	what := fmt.Sprintf("%s %s answered %d %s", req.Method, req.URL.Path, resp.StatusCode, clipBody(respBody))
	api := strings.HasPrefix(req.URL.Path, "/api/")
	if api {
		var env struct {
			ErrorCode paycenter.Code `json:"errorCode"`
		}
		if err := json.Unmarshal(respBody, &env); err != nil {
			t.Errorf("%s: not JSON: %v", what, err)
		}
		ex.code, ex.ok = env.ErrorCode, env.ErrorCode == 0 && resp.StatusCode == http.StatusOK
	}
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, pathParams, err := c.router.FindRoute(vreq)
	if err != nil {
		ex.reqErr = err
		if api && errors.Is(err, routers.ErrMethodNotAllowed) {
			// No operation describes a wrong method; its answer is the
			// error envelope with 10002.
			c.checkJSON(what, c.doc.Components.Schemas["ErrorEnvelope"], respBody, true)
			assert.Equal(t, paycenter.Code(10002), ex.code, what)
			c.record(ex)
			return ex
		}
		t.Errorf("%s: no operation of the document: %v", what, err)
		return ex
	}
	ex.op = route.Operation.OperationID
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: pathParams, Route: route, Options: c.opts}
	ex.reqErr = openapi3filter.ValidateRequest(ctx, in)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: c.opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s: the document does not allow it: %v", what, err)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		if r := route.Operation.Responses.Status(resp.StatusCode); r != nil && r.Value.Content.Get(mt) != nil {
			c.checkJSON(what, r.Value.Content.Get(mt).Schema, respBody, false)
		}
	}
	if ex.ok && ex.reqErr != nil {
		t.Errorf("%s: the server accepted a request the document refuses: %v", what, ex.reqErr)
	}
	c.record(ex)
	return ex
}

// checkJSON reports the fields of body that schema does not declare, and
// with validate (for answers no operation describes, which kin-openapi
// does not validate) whether body matches schema.
func (c *contract) checkJSON(what string, schema *openapi3.SchemaRef, body []byte, validate bool) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		c.t.Errorf("%s: not JSON: %v", what, err)
		return
	}
	if validate {
		if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			c.t.Errorf("%s: does not match the document: %v", what, err)
		}
	}
	if extra := undocumented([]*openapi3.SchemaRef{schema}, v, "$"); len(extra) > 0 {
		c.t.Errorf("%s: fields the document does not declare: %v", what, extra)
	}
}

func (c *contract) record(ex *exchange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.op != "" {
		if c.ops[ex.op] == nil {
			c.ops[ex.op] = &[2]int{}
		}
		if ex.ok {
			c.ops[ex.op][0]++
		} else {
			c.ops[ex.op][1]++
		}
	}
	if ex.code != 0 {
		c.codes[ex.code]++
	}
}

// webhook is the merchant: it checks each webhook against the document's
// webhooks and its signature as the document describes it. It runs on the
// server's goroutines, so it reports with t.Errorf, never FailNow.
func (c *contract) webhook(w http.ResponseWriter, r *http.Request) {
	t := c.t
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("webhook: read the body: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &ev)
	item := c.doc.Webhooks[ev.Type]
	if item == nil || item.Post == nil {
		t.Errorf("webhook of an undocumented type %q: %s", ev.Type, clipBody(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	route := &routers.Route{Spec: c.doc, Path: ev.Type, PathItem: item, Method: http.MethodPost, Operation: item.Post}
	if err := openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{Request: r, Route: route, Options: c.opts}); err != nil {
		t.Errorf("webhook %s does not match the document: %v\n%s", ev.Type, err, body)
	}
	c.checkJSON("webhook "+ev.Type, item.Post.RequestBody.Value.Content.Get("application/json").Schema, body, false)
	ts := r.Header.Get("timestamp")
	if want := webhookHMAC(testSecret, ts+"."+string(body)); r.Header.Get("sign") != want {
		t.Errorf("webhook %s: sign is not hex(HMAC-SHA256(secret, timestamp + \".\" + body))", ev.Type)
	}
	c.mu.Lock()
	c.events[ev.Type]++
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// requireCoverage: every operation answered at least once with success and
// once with an error, every documented error code and webhook event seen.
func (c *contract) requireCoverage() {
	t := c.t
	c.mu.Lock()
	defer c.mu.Unlock()
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			seen := c.ops[op.OperationID]
			if seen == nil {
				seen = &[2]int{}
			}
			assert.Positive(t, seen[0], "%s %s (%s): no success answer", method, path, op.OperationID)
			assert.Positive(t, seen[1], "%s %s (%s): no error answer", method, path, op.OperationID)
		}
	}
	for code, title := range documentedCodes(t, c.doc) {
		assert.Positive(t, c.codes[code], "error code %d (%s) not reached", code, title)
	}
	for name := range c.doc.Webhooks {
		assert.Positive(t, c.events[name], "webhook %s not received", name)
	}
}

// undocumented lists the members of v (at any depth) that none of schemas
// declares, in its properties or in those of its allOf, anyOf, oneOf, if,
// then and else branches.
func undocumented(schemas []*openapi3.SchemaRef, v any, path string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		props := map[string][]*openapi3.SchemaRef{}
		for _, s := range schemas {
			collectProperties(s, props)
		}
		for k, val := range v {
			subs, ok := props[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, undocumented(subs, val, path+"."+k)...)
		}
	case []any:
		var items []*openapi3.SchemaRef
		for _, s := range schemas {
			if s.Value != nil && s.Value.Items != nil {
				items = append(items, s.Value.Items)
			}
		}
		for i, val := range v {
			out = append(out, undocumented(items, val, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

func collectProperties(s *openapi3.SchemaRef, props map[string][]*openapi3.SchemaRef) {
	if s == nil || s.Value == nil {
		return
	}
	for name, p := range s.Value.Properties {
		props[name] = append(props[name], p)
	}
	for _, sub := range slices.Concat(s.Value.AllOf, s.Value.AnyOf, s.Value.OneOf,
		openapi3.SchemaRefs{s.Value.If, s.Value.Then, s.Value.Else}) {
		collectProperties(sub, props)
	}
}

func clipBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// apiCase is one API request and what must come of it.
type apiCase struct {
	name         string
	method, path string
	params       map[string]string
	key, secret  string         // default: app 11's
	code         paycenter.Code // 0: a success answer
	docRejects   bool           // the document itself refuses the request
}

// signedRequest builds a v1-signed API request to base: key and sign as
// headers, the other parameters as the form (POST) or the query.
func signedRequest(t testing.TB, base string, k apiCase) *http.Request {
	t.Helper()
	key, secret := k.key, k.secret
	if key == "" {
		key, secret = testKey, testSecret
	}
	all := map[string]string{"key": key}
	form := url.Values{}
	for n, v := range k.params {
		all[n] = v
		form.Set(n, v)
	}
	s := sign.V1(sign.BaseString(k.method, k.path, all), secret)
	if all["version"] == "v2" {
		s = sign.V2(sign.BaseString(k.method, k.path, all), secret)
	}
	var req *http.Request
	var err error
	if k.method == http.MethodPost {
		req, err = http.NewRequest(k.method, base+k.path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, err = http.NewRequest(k.method, base+k.path+"?"+form.Encode(), nil)
	}
	require.NoError(t, err)
	req.Header.Set("key", key)
	req.Header.Set("sign", s)
	return req
}

// run sends each case and checks its answer's code and the document's
// verdict on the request. It returns the exchanges by case name.
func (c *contract) run(t *testing.T, base string, cases ...apiCase) map[string]*exchange {
	t.Helper()
	out := map[string]*exchange{}
	for _, k := range cases {
		ex := c.do(signedRequest(t, base, k))
		out[k.name] = ex
		assert.Equal(t, k.code, ex.code, "%s: %s", k.name, ex.body)
		if k.docRejects {
			assert.Error(t, ex.reqErr, "%s: the document should refuse this request", k.name)
		} else {
			assert.NoError(t, ex.reqErr, "%s: the document should accept this request", k.name)
		}
	}
	return out
}

// withParams copies base and sets (or, with "<delete>", removes) pairs of names
// and values.
func withParams(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// form posts a plain form (the sandbox routes, which are not signed).
func (c *contract) form(t *testing.T, target string, v url.Values) *exchange {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(v.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *contract) get(t *testing.T, target string) *exchange {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	require.NoError(t, err)
	return c.do(req)
}

// deliverAll runs the workers until nothing is due: the webhooks reach the
// contract's merchant.
func deliverAll(t *testing.T, e *env) {
	t.Helper()
	for range 20 {
		if e.pc.RunDue(context.Background()) == 0 {
			return
		}
	}
	t.Fatal("the workers still had work after 20 runs")
}

func millisText(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// webhookHMAC is hex(HMAC-SHA256(secret, msg)), written out as the document says.
func webhookHMAC(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
