package alipay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Without Config.HTTPClient the adapter gets its own client with a timeout,
// never http.DefaultClient (which has none); a given client keeps its
// settings and its transport (wrapped for tracing), and is not changed.
func TestDefaultHTTPClient(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	cfg := Config{
		AppID:           "2021000000000001",
		PrivateKey:      string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		AlipayPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}
	ch, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ch.client.Client == http.DefaultClient || ch.client.Client.Timeout != DefaultTimeout {
		t.Fatalf("default client: %p timeout %v", ch.client.Client, ch.client.Client.Timeout)
	}
	if ch.Gateway() != SandboxGateway {
		t.Fatalf("gateway %q", ch.Gateway())
	}
	hostTransport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("the host's transport was reached for " + r.URL.Host)
	})
	own := &http.Client{Timeout: 7 * time.Second, Transport: hostTransport}
	cfg.HTTPClient, cfg.Production = own, true
	if ch, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if ch.Gateway() != ProductionGateway {
		t.Fatalf("gateway %q", ch.Gateway())
	}
	hc := ch.client.Client
	if hc.Timeout != 7*time.Second || own.Transport == nil || hc.Transport == own.Transport {
		t.Fatalf("given client: timeout %v, host transport %T, adapter transport %T", hc.Timeout, own.Transport, hc.Transport)
	}
	if _, err := hc.Get("http://gateway.test/"); err == nil || !strings.Contains(err.Error(), "the host's transport was reached for gateway.test") {
		t.Fatalf("the host's transport was not used: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
