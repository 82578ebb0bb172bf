package wechat

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/gopaycenter/paycenter/internal/tracehttp"
)

// DefaultTimeout is the timeout of the HTTP client used when
// Config.HTTPClient is nil.
const DefaultTimeout = 10 * time.Second

// Config holds the credentials of one WeChat Pay merchant account (APIv3).
//
// Key material is given either as PEM text (MchPrivateKey, PlatformPublicKey,
// PlatformCertificate) or as the path of a PEM file (the ...File fields);
// setting both forms of one item is an error. The field names match the
// wechat: block of the example configuration (mchID, appID, mchCertSerial,
// mchPrivateKey, apiV3Key, ...).
//
// Responses and notifications are verified either with the WeChat Pay public
// key ("public-key mode": PlatformPublicKeyID plus PlatformPublicKey or
// PlatformPublicKeyFile) or with platform certificates ("certificate mode":
// PlatformCertificate or PlatformCertificateFile). When both are given, either
// kind of signature is accepted (the migration set-up WeChat recommends) and
// requests ask for public-key signatures. Platform certificates are never
// downloaded: New does no network I/O.
type Config struct {
	MchID         string // merchant id (商户号), e.g. "1230000109"
	AppID         string // the app id bound to the merchant (公众号/小程序/移动应用 appid)
	MchCertSerial string // serial number of the merchant API certificate

	MchPrivateKey     string // merchant API private key, PEM (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY")
	MchPrivateKeyFile string // or the path of that PEM file (apiclient_key.pem)

	APIv3Key string // the APIv3 key that encrypts notifications; exactly 32 bytes

	PlatformPublicKeyID   string // public-key mode: the key id, "PUB_KEY_ID_..."
	PlatformPublicKey     string // public-key mode: the WeChat Pay public key, PEM "PUBLIC KEY"
	PlatformPublicKeyFile string // or the path of that PEM file

	PlatformCertificate     string // certificate mode: one or more platform certificates, PEM
	PlatformCertificateFile string // or the path of that PEM file

	// APIBaseURL replaces https://api.mch.weixin.qq.com, e.g. a proxy or a
	// local fake ("http://127.0.0.1:9102"). The SDK's host is a constant, so
	// requests are redirected by the HTTP transport; a path in APIBaseURL is
	// prepended to the API path (the request signature still covers the
	// original path). Default: the real API.
	APIBaseURL string

	// HTTPClient sends the API requests. Default: a client with a
	// DefaultTimeout timeout. When APIBaseURL is set, a copy of it with a
	// redirecting transport is used; the client itself is not modified.
	HTTPClient *http.Client
}

// credentials is a validated Config.
type credentials struct {
	mchKey     *rsa.PrivateKey
	verifier   auth.Verifier
	httpClient *http.Client
}

// load validates cfg and loads its keys. Error messages name the field and
// the rule, never the key material; every problem is reported at once.
func (cfg *Config) load() (*credentials, error) {
	var pr problems
	cfg.checkFields(&pr)
	c := credentials{mchKey: cfg.mchKey(&pr)}
	pub, certs := cfg.platformKeys(&pr)
	c.httpClient = cfg.client(&pr)
	if len(pr) > 0 {
		return nil, errors.New("wechat: invalid config: " + strings.Join(pr, "; "))
	}
	switch {
	case pub != nil && certs != nil:
		c.verifier = verifiers.NewSHA256WithRSACombinedVerifier(core.NewCertificateMapWithList(certs), cfg.PlatformPublicKeyID, *pub)
	case pub != nil:
		c.verifier = verifiers.NewSHA256WithRSAPubkeyVerifier(cfg.PlatformPublicKeyID, *pub)
	default:
		c.verifier = verifiers.NewSHA256WithRSAVerifier(core.NewCertificateMapWithList(certs))
	}
	return &c, nil
}

// problems collects what is wrong with a Config.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// checkFields checks the plain fields.
func (cfg *Config) checkFields(pr *problems) {
	if strings.TrimSpace(cfg.MchID) == "" {
		pr.add("mchID is required")
	}
	if strings.TrimSpace(cfg.AppID) == "" {
		pr.add("appID is required")
	}
	if strings.TrimSpace(cfg.MchCertSerial) == "" {
		pr.add("mchCertSerial is required")
	}
	switch n := len(cfg.APIv3Key); {
	case n == 0:
		pr.add("apiV3Key is required")
	case n != 32:
		pr.add("apiV3Key must be exactly 32 bytes, got %d", n)
	}
}

// mchKey loads the merchant's private key, which signs requests.
func (cfg *Config) mchKey(pr *problems) *rsa.PrivateKey {
	mchPEM, err := pemText("mchPrivateKey", cfg.MchPrivateKey, cfg.MchPrivateKeyFile)
	switch {
	case err != nil:
		pr.add("%v", err)
	case mchPEM == "":
		pr.add("mchPrivateKey or mchPrivateKeyFile is required")
	default:
		key, err := parsePrivateKey(mchPEM)
		if err != nil {
			pr.add("mchPrivateKey: %v", err)
		}
		return key
	}
	return nil
}

// platformKeys loads what verifies WeChat Pay's answers: its public key
// (with its id), its platform certificates, or both.
func (cfg *Config) platformKeys(pr *problems) (*rsa.PublicKey, []*x509.Certificate) {
	var pub *rsa.PublicKey
	pubPEM, err := pemText("platformPublicKey", cfg.PlatformPublicKey, cfg.PlatformPublicKeyFile)
	if err != nil {
		pr.add("%v", err)
	} else if pubPEM != "" {
		if pub, err = parsePublicKey(pubPEM); err != nil {
			pr.add("platformPublicKey: %v", err)
		}
	}
	pubMode := pubPEM != "" || cfg.PlatformPublicKeyID != ""
	if pubMode {
		if strings.TrimSpace(cfg.PlatformPublicKeyID) == "" {
			pr.add("platformPublicKeyID is required with platformPublicKey")
		}
		if pubPEM == "" && err == nil {
			pr.add("platformPublicKey or platformPublicKeyFile is required with platformPublicKeyID")
		}
	}

	var certs []*x509.Certificate
	certPEM, err := pemText("platformCertificate", cfg.PlatformCertificate, cfg.PlatformCertificateFile)
	if err != nil {
		pr.add("%v", err)
	} else if certPEM != "" {
		if certs, err = parseCertificates(certPEM); err != nil {
			pr.add("platformCertificate: %v", err)
		}
	}
	if !pubMode && certPEM == "" && err == nil {
		pr.add("a WeChat Pay public key (platformPublicKeyID + platformPublicKey) or a platform certificate (platformCertificate) is required")
	}
	return pub, certs
}

// client is the HTTP client of the API calls: the host's or a default one,
// traced, and sent to APIBaseURL when set.
func (cfg *Config) client(pr *problems) *http.Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	// Traced: a span per request, under the pay center's channel call;
	// inside APIBaseURL's redirect, so that it names the host reached.
	hc = tracehttp.Client(hc, templatePath)
	if cfg.APIBaseURL == "" {
		return hc
	}
	u, err := url.Parse(cfg.APIBaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		pr.add("apiBaseURL must be an absolute http(s) URL without query, got %q", cfg.APIBaseURL)
		return hc
	}
	redirected := *hc
	redirected.Transport = &redirectTransport{base: u, next: hc.Transport}
	return &redirected
}

// pemText returns the inline text or the content of the file; name is the
// config key used in messages.
func pemText(name, inline, file string) (string, error) {
	switch {
	case inline != "" && file != "":
		return "", fmt.Errorf("set only one of %s and %sFile", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			// The path is configuration, not a secret; the OS error names it.
			return "", fmt.Errorf("%sFile: cannot read %q", name, file)
		}
		return string(b), nil
	}
	return inline, nil
}

// parsePrivateKey accepts a PKCS#8 "PRIVATE KEY" (what apiclient_key.pem
// holds) or a PKCS#1 "RSA PRIVATE KEY" holding an RSA key.
func parsePrivateKey(text string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, errors.New("not PEM text")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed PKCS#8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA private key")
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed PKCS#1 private key")
		}
		return k, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
}

// parsePublicKey accepts a PKIX "PUBLIC KEY" (as WeChat Pay publishes it) or
// a PKCS#1 "RSA PUBLIC KEY".
func parsePublicKey(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, errors.New("not PEM text")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed public key")
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("not an RSA public key")
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed public key")
		}
		return k, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
}

// parseCertificates reads every CERTIFICATE block; each must hold an RSA key.
func parseCertificates(text string) ([]*x509.Certificate, error) {
	rest := []byte(text)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errors.New("malformed certificate")
		}
		if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("certificate %s does not hold an RSA key", utils.GetCertificateSerialNumber(*c))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}

// templatePath replaces the order and refund numbers (and WeChat Pay's
// transaction ids) in an API path by "{id}", for the HTTP spans' url.full:
// /v3/pay/transactions/out-trade-no/{id}/close.
func templatePath(p string) string {
	parts := strings.Split(p, "/")
	for i := 1; i < len(parts); i++ {
		switch parts[i-1] {
		case "out-trade-no", "id", "refunds":
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

// redirectTransport sends every request to base instead of the SDK's
// constant host. The request signature covers only the method, the path and
// query, and the body, so it stays valid.
type redirectTransport struct {
	base *url.URL
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *redirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = t.base.Scheme
	r2.URL.Host = t.base.Host
	if p := strings.TrimSuffix(t.base.Path, "/"); p != "" {
		r2.URL.Path = p + r.URL.Path
		if r.URL.RawPath != "" {
			r2.URL.RawPath = strings.TrimSuffix(t.base.EscapedPath(), "/") + r.URL.RawPath
		}
	}
	r2.Host = t.base.Host
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r2)
}
