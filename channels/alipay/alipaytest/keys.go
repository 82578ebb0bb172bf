package alipaytest

import (
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels/alipay"
)

// Mode is how the application verifies Alipay: with Alipay's public key or
// with Alipay's certificates.
type Mode string

// Verification modes.
const (
	PublicKeyMode Mode = "public-key"
	CertMode      Mode = "cert"
)

// Modes lists both modes, for table tests.
var Modes = []Mode{PublicKeyMode, CertMode}

// KeyBits is the size of the generated RSA keys.
const KeyBits = 2048

// Keys is the key material of one test Alipay application and of the fake
// Alipay that serves it, all generated in the test.
type Keys struct {
	Mode     Mode
	AppID    string // 16 digits
	SellerID string // 2088 + 12 digits

	// AppPrivateKey is the application's private key, PKCS#8 PEM.
	AppPrivateKey string
	// AppPrivateKeyPKCS1 is the same key, PKCS#1 PEM.
	AppPrivateKeyPKCS1 string
	// AppPrivateKeyBase64 is the same key as bare base64 PKCS#8 DER, the
	// format of Alipay's key tool.
	AppPrivateKeyBase64 string

	// AlipayPublicKey is the fake Alipay's public key, PKIX PEM (public-key
	// mode only).
	AlipayPublicKey string

	// Certificate mode only: the application's certificate, the root bundle
	// and Alipay's certificate, PEM, issued by a throwaway CA.
	AppCertPublicKey    string
	AlipayRootCert      string
	AlipayCertPublicKey string
	// AppCertSN, AlipayRootCertSN and AlipayCertSN are the serial numbers
	// Alipay computes for them (hex md5 of issuer + serial).
	AppCertSN, AlipayRootCertSN, AlipayCertSN string

	appKey    *rsa.PrivateKey
	alipayKey *rsa.PrivateKey
}

var idSeq atomic.Int64

// NewKeys generates a fresh application key pair and a fresh fake-Alipay key
// pair (and, in CertMode, a throwaway CA issuing a certificate for each).
// One straight sequence of key and certificate generation, long because
// certificate mode needs each certificate built in turn.
func NewKeys(t testing.TB, mode Mode) *Keys {
	t.Helper()
	n := idSeq.Add(1)
	k := &Keys{
		Mode:      mode,
		AppID:     fmt.Sprintf("2021%012d", n),
		SellerID:  fmt.Sprintf("2088%012d", 100000+n),
		appKey:    genKey(t),
		alipayKey: genKey(t),
	}
	p8, err := x509.MarshalPKCS8PrivateKey(k.appKey)
	if err != nil {
		t.Fatalf("alipaytest: marshal key: %v", err)
	}
	k.AppPrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	k.AppPrivateKeyPKCS1 = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.appKey)}))
	k.AppPrivateKeyBase64 = base64.StdEncoding.EncodeToString(p8)

	switch mode {
	case PublicKeyMode:
		der, err := x509.MarshalPKIXPublicKey(&k.alipayKey.PublicKey)
		if err != nil {
			t.Fatalf("alipaytest: marshal public key: %v", err)
		}
		k.AlipayPublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	case CertMode:
		caKey := genKey(t)
		now := time.Now()
		caTmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1000 + n),
			Subject:               pkix.Name{Organization: []string{"Fake Ant Financial"}, CommonName: "Fake Alipay Root CA"},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			SignatureAlgorithm:    x509.SHA256WithRSA,
		}
		caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		if err != nil {
			t.Fatalf("alipaytest: create CA: %v", err)
		}
		ca, _ := x509.ParseCertificate(caDER)
		issue := func(serial int64, cn string, pub *rsa.PublicKey) *x509.Certificate {
			tmpl := &x509.Certificate{
				SerialNumber:       big.NewInt(serial),
				Subject:            pkix.Name{Organization: []string{"Fake Alipay"}, CommonName: cn},
				NotBefore:          now.Add(-time.Hour),
				NotAfter:           now.Add(24 * time.Hour),
				KeyUsage:           x509.KeyUsageDigitalSignature,
				SignatureAlgorithm: x509.SHA256WithRSA,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
			if err != nil {
				t.Fatalf("alipaytest: issue %s: %v", cn, err)
			}
			c, _ := x509.ParseCertificate(der)
			return c
		}
		appCert := issue(2000+n, k.AppID, &k.appKey.PublicKey)
		aliCert := issue(3000+n, "Alipay "+k.AppID, &k.alipayKey.PublicKey)
		k.AppCertPublicKey = certPEM(appCert)
		k.AlipayRootCert = certPEM(ca)
		k.AlipayCertPublicKey = certPEM(aliCert)
		k.AppCertSN, k.AlipayRootCertSN, k.AlipayCertSN = CertSN(appCert), CertSN(ca), CertSN(aliCert)
	default:
		t.Fatalf("alipaytest: unknown mode %q", mode)
	}
	return k
}

func genKey(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		t.Fatalf("alipaytest: generate key: %v", err)
	}
	return k
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// CertSN is Alipay's serial number of a certificate: hex(md5(issuer + serial)).
func CertSN(c *x509.Certificate) string {
	sum := md5.Sum([]byte(c.Issuer.String() + c.SerialNumber.String()))
	return hex.EncodeToString(sum[:])
}

// Config returns an adapter Config for these keys talking to gatewayURL
// (sandbox, SellerID set).
func (k *Keys) Config(gatewayURL string) alipay.Config {
	cfg := alipay.Config{
		AppID:      k.AppID,
		PrivateKey: k.AppPrivateKey,
		SellerID:   k.SellerID,
		GatewayURL: gatewayURL,
	}
	if k.Mode == CertMode {
		cfg.AppCertPublicKey = k.AppCertPublicKey
		cfg.AlipayRootCert = k.AlipayRootCert
		cfg.AlipayCertPublicKey = k.AlipayCertPublicKey
	} else {
		cfg.AlipayPublicKey = k.AlipayPublicKey
	}
	return cfg
}

// AppPublicKey is the public half of the application key.
func (k *Keys) AppPublicKey() *rsa.PublicKey { return &k.appKey.PublicKey }

// SignContent is the text Alipay signs for a set of parameters: every
// "key=value" pair (raw values, empty ones kept) except the keys in skip,
// sorted, joined by "&".
func SignContent(v url.Values, skip ...string) string {
	var pairs []string
	for key, vals := range v {
		if contains(skip, key) {
			continue
		}
		for _, val := range vals {
			pairs = append(pairs, key+"="+val)
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func signRSA2(key *rsa.PrivateKey, data []byte) string {
	sum := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic("alipaytest: sign: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func verifyRSA2(pub *rsa.PublicKey, data []byte, sigB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
}

// SignNotification signs notification values as Alipay does, with this
// fake Alipay's key: it sets sign_type=RSA2 (and alipay_cert_sn in
// certificate mode) and sign over every other pair. v is modified and
// returned.
func (k *Keys) SignNotification(v url.Values) url.Values {
	v.Del("sign")
	v.Set("sign_type", "RSA2")
	if k.Mode == CertMode {
		v.Set("alipay_cert_sn", k.AlipayCertSN)
	}
	v.Set("sign", signRSA2(k.alipayKey, []byte(SignContent(v, "sign", "sign_type", "alipay_cert_sn"))))
	return v
}

// SignRequest signs request values as the application does (with the app
// private key, over every pair but sign). Tests use it to forge or replay
// requests.
func (k *Keys) SignRequest(v url.Values) url.Values {
	v.Del("sign")
	v.Set("sign", signRSA2(k.appKey, []byte(SignContent(v, "sign"))))
	return v
}
