package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gopaycenter/paycenter/paytype"
)

// DefaultBaseURL is the pay center address used when [WithBaseURL] is not
// given.
const DefaultBaseURL = "http://127.0.0.1:8080"

// DefaultTimeout is the timeout of the HTTP client used when
// [WithHTTPClient] is not given.
const DefaultTimeout = 30 * time.Second

// maxResponseSize bounds the answer read from the pay center.
const maxResponseSize = 4 << 20

// Client calls the pay center HTTP API for one merchant application, signing
// every request with the application's key and secret. It is the Go
// counterpart of the document's Java PayCenterClient(key, secret).
//
// A Client is safe for concurrent use. Create it with [New].
type Client struct {
	key         string
	secret      string
	base        *url.URL
	httpClient  *http.Client
	signVersion int
	now         func() time.Time
	expires     time.Duration
	err         error // configuration error, returned by every call
}

// Option configures a [Client].
type Option func(*Client)

// WithBaseURL sets the pay center's address: scheme, host, port and the base
// path it is mounted under, e.g. "https://shop.example.com/pay". The
// default is [DefaultBaseURL]. The base path is part of every signed path.
// An invalid URL makes every call fail with a configuration error.
func WithBaseURL(baseURL string) Option {
	return func(c *Client) {
		u, err := url.Parse(baseURL)
		if err != nil {
			c.setErr(fmt.Errorf("paycenter client: invalid base URL: %w", err))
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.setErr(fmt.Errorf("paycenter client: base URL %q must be absolute http(s)", baseURL))
			return
		}
		if u.RawQuery != "" || u.Fragment != "" {
			c.setErr(fmt.Errorf("paycenter client: base URL %q must not have a query or fragment", baseURL))
			return
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		c.base = u
	}
}

// WithHTTPClient sets the HTTP client used for requests. The default is an
// [http.Client] with [DefaultTimeout]. A nil client keeps the default.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithSignVersion selects the signature version, [SignV1] (the default, the
// document's MD5 rule) or [SignV2] (HMAC-SHA256 with version=v2, timestamp
// and a fresh random nonce on every request). Any other value makes every
// call fail with a configuration error.
func WithSignVersion(v int) Option {
	return func(c *Client) {
		if v != SignV1 && v != SignV2 {
			c.setErr(fmt.Errorf("paycenter client: sign version %d is not 1 or 2", v))
			return
		}
		c.signVersion = v
	}
}

// WithClock sets the clock used for the timestamp parameter and for a zero
// "created" (tests). The default is [time.Now].
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// WithExpires sends the "expires" common parameter (the validity of each
// request, in ms; the server's default is 5 minutes and its maximum 10).
// By default it is not sent.
func WithExpires(d time.Duration) Option {
	return func(c *Client) { c.expires = d }
}

func (c *Client) setErr(err error) {
	if c.err == nil {
		c.err = err
	}
}

// New returns a client for the application with the given key and secret.
// The secret never leaves the process: only signatures are sent. New does
// no I/O; configuration errors (empty key or secret, bad options) are
// returned by every call.
func New(key, secret string, opts ...Option) *Client {
	c := &Client{
		key:         key,
		secret:      secret,
		httpClient:  &http.Client{Timeout: DefaultTimeout},
		signVersion: SignV1,
		now:         time.Now,
	}
	WithBaseURL(DefaultBaseURL)(c)
	for _, o := range opts {
		o(c)
	}
	if key == "" {
		c.setErr(errors.New("paycenter client: key is empty"))
	}
	if secret == "" {
		c.setErr(errors.New("paycenter client: secret is empty"))
	}
	return c
}

// envelope is the pay center's answer.
type envelope struct {
	RequestID      int64           `json:"requestId"`
	ErrorCode      *paytype.Code   `json:"errorCode"`
	ErrorMsg       string          `json:"errorMsg"`
	ResponseParams json.RawMessage `json:"responseParams"`
}

// newNonce returns 24 random characters of [A-Za-z0-9_-].
func newNonce() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// call signs and sends one request and decodes responseParams into out (if
// out is not nil and the server sent responseParams). It returns the
// requestId.
func (c *Client) call(ctx context.Context, method, endpoint string, params url.Values, out any) (int64, error) {
	if c.err != nil {
		return 0, c.err
	}
	if ctx == nil {
		return 0, errors.New("paycenter client: nil context")
	}
	req, err := c.newRequest(ctx, method, endpoint, params)
	if err != nil {
		return 0, err
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("paycenter client: %s %s: %w", method, endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return 0, fmt.Errorf("paycenter client: %s %s: read answer: %w", method, endpoint, err)
	}
	return decode(resp, raw, method+" "+endpoint, out)
}

// newRequest builds the signed request: the common parameters go in
// headers, the others in the query (GET) or a form body.
func (c *Client) newRequest(ctx context.Context, method, endpoint string, params url.Values) (*http.Request, error) {
	path := c.base.Path + endpoint
	common := map[string]string{
		"key":       c.key,
		"timestamp": strconv.FormatInt(c.now().UnixMilli(), 10),
	}
	if c.expires > 0 {
		common["expires"] = strconv.FormatInt(c.expires.Milliseconds(), 10)
	}
	if c.signVersion == SignV2 {
		nonce, err := newNonce()
		if err != nil {
			return nil, fmt.Errorf("paycenter client: nonce: %w", err)
		}
		common["version"] = "v2"
		common["nonce"] = nonce
	}
	signed := make(map[string]string, len(params)+len(common))
	for k, v := range params {
		if len(v) > 0 {
			signed[k] = v[0]
		}
	}
	for k, v := range common {
		signed[k] = v
	}

	u := *c.base
	u.Path = path
	var body io.Reader
	if method == http.MethodGet {
		u.RawQuery = params.Encode()
	} else {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("paycenter client: %s %s: %w", method, endpoint, err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range common {
		req.Header.Set(k, v)
	}
	req.Header.Set("sign", Sign(c.signVersion, method, path, signed, c.secret))
	return req, nil
}

// decode reads the envelope of answer raw to request what: an *Error for
// an errorCode or an answer that is not one, else responseParams decoded
// into out. It returns the requestId.
func decode(resp *http.Response, raw []byte, what string, out any) (int64, error) {
	headerID, _ := strconv.ParseInt(resp.Header.Get("X-Request-Id"), 10, 64)
	fail := func(id int64, format string, args ...any) (int64, error) {
		return id, &Error{Msg: what + ": " + fmt.Sprintf(format, args...), RequestID: id, HTTPStatus: resp.StatusCode}
	}
	if resp.StatusCode != http.StatusOK {
		return fail(headerID, "unexpected HTTP status %s", resp.Status)
	}
	if len(raw) > maxResponseSize {
		return fail(headerID, "answer larger than %d bytes", maxResponseSize)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fail(headerID, "answer is not a JSON envelope (Content-Type %q): %v", resp.Header.Get("Content-Type"), err)
	}
	if env.RequestID == 0 {
		env.RequestID = headerID
	}
	if env.ErrorCode != nil {
		return env.RequestID, &Error{Code: *env.ErrorCode, Msg: env.ErrorMsg, RequestID: env.RequestID, HTTPStatus: resp.StatusCode}
	}
	if out != nil && len(env.ResponseParams) > 0 && !bytes.Equal(env.ResponseParams, []byte("null")) {
		if err := json.Unmarshal(env.ResponseParams, out); err != nil {
			return fail(env.RequestID, "cannot decode responseParams: %v", err)
		}
	}
	return env.RequestID, nil
}
