package alipay

import (
	"bytes"
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Default gateways, used when Config.GatewayURL is empty.
const (
	ProductionGateway = "https://openapi.alipay.com/gateway.do"
	SandboxGateway    = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
)

// DefaultTimeout is the timeout of the HTTP client built when
// Config.HTTPClient is nil.
const DefaultTimeout = 10 * time.Second

// Config holds the credentials of one Alipay application. Field names match
// the `alipay:` block of the example configuration (appID, privateKey,
// privateKeyFile, ...). Every key field accepts PEM text or bare base64; each
// has a ...File twin holding a path instead. Set one of the two, not both.
//
// Exactly one verification mode must be configured: public-key mode
// (AlipayPublicKey) or certificate mode (AppCertPublicKey, AlipayRootCert and
// AlipayCertPublicKey, all three).
type Config struct {
	// AppID is the Alipay application id (app_id), e.g. "2016112103063721".
	AppID string `json:"appID" yaml:"appID"`

	// PrivateKey is the application's RSA private key: PEM (PKCS#1
	// "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY") or the bare base64 DER the
	// Alipay key tool produces. Surrounding whitespace and a BOM are ignored.
	PrivateKey string `json:"privateKey" yaml:"privateKey"`
	// PrivateKeyFile is a path to a file holding PrivateKey.
	PrivateKeyFile string `json:"privateKeyFile" yaml:"privateKeyFile"`

	// AlipayPublicKey is Alipay's public key ("支付宝公钥"), PEM or bare
	// base64 (PKIX, or PKCS#1 "RSA PUBLIC KEY"). Public-key mode.
	AlipayPublicKey string `json:"alipayPublicKey" yaml:"alipayPublicKey"`
	// AlipayPublicKeyFile is a path to a file holding AlipayPublicKey.
	AlipayPublicKeyFile string `json:"alipayPublicKeyFile" yaml:"alipayPublicKeyFile"`

	// AppCertPublicKey is the application's public-key certificate
	// (appCertPublicKey_<appid>.crt). Certificate mode.
	AppCertPublicKey string `json:"appCertPublicKey" yaml:"appCertPublicKey"`
	// AppCertPublicKeyFile is a path to a file holding AppCertPublicKey.
	AppCertPublicKeyFile string `json:"appCertPublicKeyFile" yaml:"appCertPublicKeyFile"`
	// AlipayRootCert is Alipay's root certificate bundle (alipayRootCert.crt).
	// Certificate mode.
	AlipayRootCert string `json:"alipayRootCert" yaml:"alipayRootCert"`
	// AlipayRootCertFile is a path to a file holding AlipayRootCert.
	AlipayRootCertFile string `json:"alipayRootCertFile" yaml:"alipayRootCertFile"`
	// AlipayCertPublicKey is Alipay's public-key certificate
	// (alipayCertPublicKey_RSA2.crt). Certificate mode.
	AlipayCertPublicKey string `json:"alipayCertPublicKey" yaml:"alipayCertPublicKey"`
	// AlipayCertPublicKeyFile is a path to a file holding AlipayCertPublicKey.
	AlipayCertPublicKeyFile string `json:"alipayCertPublicKeyFile" yaml:"alipayCertPublicKeyFile"`

	// SellerID is the merchant's Alipay user id (2088...). Optional; when
	// set, notifications must carry the same seller_id.
	SellerID string `json:"sellerID" yaml:"sellerID"`

	// Production selects Alipay's production gateway and behaviour; false
	// means the sandbox.
	Production bool `json:"production" yaml:"production"`

	// GatewayURL overrides the gateway (sandboxes, proxies, tests). It is also
	// the action of the HTML forms built for ALI_WEB and ALI_WAP.
	GatewayURL string `json:"gatewayURL" yaml:"gatewayURL"`

	// HTTPClient carries the server-to-server calls. Nil means a client with
	// a DefaultTimeout timeout (never http.DefaultClient, which has none).
	HTTPClient *http.Client `json:"-" yaml:"-"`
}

// keyMaterial is the validated, canonicalised key material of a Config.
type keyMaterial struct {
	privateKeyPEM string
	privateKey    *rsa.PrivateKey

	// public-key mode
	alipayPublicKeyPEM string

	// certificate mode
	appCertPEM    string
	rootCertPEM   string
	alipayCertPEM string
	alipayCertSN  string // the serial Alipay names it by in alipay_cert_sn
	certMode      bool
}

// load reads one key field: the inline value or the file, trimmed of
// whitespace and a BOM. It returns "" when neither is set. Errors name the
// field and never include its content.
func load(field, inline, file string) (string, error) {
	if inline != "" && file != "" {
		return "", fmt.Errorf("alipay: set %s or %sFile, not both", field, field)
	}
	s := inline
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is in our message already
			}
			return "", fmt.Errorf("alipay: %sFile %q: %v", field, file, err)
		}
		s = string(b)
	}
	return clean(s), nil
}

// clean trims whitespace and byte-order marks around key material.
func clean(s string) string {
	for {
		t := strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
		if t == s {
			return s
		}
		s = t
	}
}

// derBlocks returns the DER blocks of PEM text (every block) or of bare
// base64 (one block; embedded whitespace ignored).
func derBlocks(s string) [][]byte {
	if strings.HasPrefix(s, "-----") {
		var out [][]byte
		rest := []byte(s)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				return out
			}
			out = append(out, b.Bytes)
		}
	}
	compact := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	der, err := base64.StdEncoding.DecodeString(compact)
	if err != nil || len(der) == 0 {
		return nil
	}
	return [][]byte{der}
}

func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	blocks := derBlocks(s)
	if len(blocks) == 0 {
		return nil, errors.New("alipay: privateKey is neither PEM nor base64")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blocks[0]); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blocks[0])
	if err != nil {
		return nil, errors.New("alipay: privateKey is not a PKCS#1 or PKCS#8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("alipay: privateKey is not an RSA key (Alipay signs with RSA2)")
	}
	return rk, nil
}

func parsePublicKey(s string) (*rsa.PublicKey, error) {
	blocks := derBlocks(s)
	if len(blocks) == 0 {
		return nil, errors.New("alipay: alipayPublicKey is neither PEM nor base64")
	}
	if k, err := x509.ParsePKIXPublicKey(blocks[0]); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("alipay: alipayPublicKey is not an RSA key")
		}
		return rk, nil
	}
	if k, err := x509.ParsePKCS1PublicKey(blocks[0]); err == nil {
		return k, nil
	}
	return nil, errors.New("alipay: alipayPublicKey is not a PKIX or PKCS#1 public key")
}

func parseCerts(field, s string) ([]*x509.Certificate, error) {
	blocks := derBlocks(s)
	var certs []*x509.Certificate
	for _, b := range blocks {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("alipay: %s holds something that is not a certificate", field)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("alipay: %s is not a PEM or base64 certificate", field)
	}
	return certs, nil
}

func encodePEM(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// validate checks cfg and loads its key material. It does no network I/O.
func (cfg *Config) validate() (*keyMaterial, error) {
	if strings.TrimSpace(cfg.AppID) == "" {
		return nil, errors.New("alipay: appID is required")
	}
	if cfg.AppID != strings.TrimSpace(cfg.AppID) {
		return nil, errors.New("alipay: appID has surrounding whitespace")
	}
	if cfg.GatewayURL != "" {
		u, err := url.Parse(cfg.GatewayURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("alipay: gatewayURL must be an absolute http(s) URL")
		}
		if u.Fragment != "" {
			return nil, errors.New("alipay: gatewayURL must not have a fragment")
		}
	}

	var km keyMaterial
	if err := km.loadPrivateKey(cfg); err != nil {
		return nil, err
	}

	pub, err := load("alipayPublicKey", cfg.AlipayPublicKey, cfg.AlipayPublicKeyFile)
	if err != nil {
		return nil, err
	}
	appCert, err := load("appCertPublicKey", cfg.AppCertPublicKey, cfg.AppCertPublicKeyFile)
	if err != nil {
		return nil, err
	}
	root, err := load("alipayRootCert", cfg.AlipayRootCert, cfg.AlipayRootCertFile)
	if err != nil {
		return nil, err
	}
	aliCert, err := load("alipayCertPublicKey", cfg.AlipayCertPublicKey, cfg.AlipayCertPublicKeyFile)
	if err != nil {
		return nil, err
	}
	anyCert := appCert != "" || root != "" || aliCert != ""
	switch {
	case pub != "" && anyCert:
		return nil, errors.New("alipay: configure public-key mode (alipayPublicKey) or certificate mode (appCertPublicKey, alipayRootCert, alipayCertPublicKey), not both")
	case pub == "" && !anyCert:
		return nil, errors.New("alipay: alipayPublicKey (public-key mode) or appCertPublicKey + alipayRootCert + alipayCertPublicKey (certificate mode) is required")
	case pub != "":
		k, err := parsePublicKey(pub)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, errors.New("alipay: alipayPublicKey cannot be encoded")
		}
		km.alipayPublicKeyPEM = encodePEM("PUBLIC KEY", der)
		return &km, nil
	}
	return &km, km.loadCerts(appCert, root, aliCert)
}

// loadPrivateKey loads the app's private key (PKCS#1 or PKCS#8) into km.
func (km *keyMaterial) loadPrivateKey(cfg *Config) error {
	priv, err := load("privateKey", cfg.PrivateKey, cfg.PrivateKeyFile)
	if err != nil {
		return err
	}
	if priv == "" {
		return errors.New("alipay: privateKey or privateKeyFile is required")
	}
	if km.privateKey, err = parsePrivateKey(priv); err != nil {
		return err
	}
	km.privateKeyPEM = encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(km.privateKey))
	return nil
}

// loadCerts loads the three certificates of certificate mode into km
// (whose private key is loaded): the app's, which must certify that key;
// Alipay's root chain, with at least one RSA-signed certificate; and
// Alipay's own, whose issuer and serial make alipay_cert_sn.
func (km *keyMaterial) loadCerts(appCert, root, aliCert string) error {
	km.certMode = true
	for _, f := range []struct{ name, v string }{
		{"appCertPublicKey", appCert}, {"alipayRootCert", root}, {"alipayCertPublicKey", aliCert},
	} {
		if f.v == "" {
			return fmt.Errorf("alipay: certificate mode needs %s (or %sFile)", f.name, f.name)
		}
	}
	appCerts, err := parseCerts("appCertPublicKey", appCert)
	if err != nil {
		return err
	}
	appPub, ok := appCerts[0].PublicKey.(*rsa.PublicKey)
	if !ok || !appPub.Equal(&km.privateKey.PublicKey) {
		return errors.New("alipay: appCertPublicKey does not certify the public half of privateKey")
	}
	km.appCertPEM = encodePEM("CERTIFICATE", appCerts[0].Raw)

	rootCerts, err := parseCerts("alipayRootCert", root)
	if err != nil {
		return err
	}
	var rootBuf bytes.Buffer
	rsaRoots := 0
	for _, c := range rootCerts {
		if c.SignatureAlgorithm == x509.SHA256WithRSA || c.SignatureAlgorithm == x509.SHA1WithRSA {
			rsaRoots++
		}
		rootBuf.WriteString(encodePEM("CERTIFICATE", c.Raw))
	}
	if rsaRoots == 0 {
		return errors.New("alipay: alipayRootCert has no RSA-signed certificate (Alipay's SN counts only those)")
	}
	km.rootCertPEM = rootBuf.String()

	aliCerts, err := parseCerts("alipayCertPublicKey", aliCert)
	if err != nil {
		return err
	}
	if _, ok := aliCerts[0].PublicKey.(*rsa.PublicKey); !ok {
		return errors.New("alipay: alipayCertPublicKey does not hold an RSA key")
	}
	km.alipayCertPEM = encodePEM("CERTIFICATE", aliCerts[0].Raw)
	sum := md5.Sum([]byte(aliCerts[0].Issuer.String() + aliCerts[0].SerialNumber.String()))
	km.alipayCertSN = hex.EncodeToString(sum[:])
	return nil
}
