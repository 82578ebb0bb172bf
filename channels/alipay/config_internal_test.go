package alipay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
)

// Without Config.HTTPClient the adapter gets its own client with a timeout,
// never http.DefaultClient (which has none); a given client is used as is.
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
	own := &http.Client{}
	cfg.HTTPClient, cfg.Production = own, true
	if ch, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if ch.client.Client != own || ch.Gateway() != ProductionGateway {
		t.Fatalf("given client not used, or gateway %q", ch.Gateway())
	}
}
