package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// fileConfig is the example's YAML configuration; see README and
// ../shared/example-config.md. Every key is optional.
type fileConfig struct {
	Addr        string        `yaml:"addr"`
	PublicURL   string        `yaml:"publicURL"`
	BasePath    string        `yaml:"basePath"`
	Database    dbConfig      `yaml:"database"`
	Sandbox     *bool         `yaml:"sandbox"`
	LatePayment string        `yaml:"latePayment"`
	Apps        []appConfig   `yaml:"apps"`
	Alipay      *alipayConfig `yaml:"alipay"`
	Wechat      *wechatConfig `yaml:"wechat"`
	Webhook     webhookConfig `yaml:"webhook"`
	Workers     workersConfig `yaml:"workers"`
}

type dbConfig struct {
	Driver       string `yaml:"driver"` // sqlite | postgres | mysql
	DSN          string `yaml:"dsn"`
	MaxOpenConns int    `yaml:"maxOpenConns"`
	MaxIdleConns int    `yaml:"maxIdleConns"`
}

type appConfig struct {
	ID             string   `yaml:"id"`
	Key            string   `yaml:"key"`
	Secret         string   `yaml:"secret"`
	NotifyURL      string   `yaml:"notifyURL"`
	MinSignVersion int      `yaml:"minSignVersion"`
	ReturnURLHosts []string `yaml:"returnURLHosts"`
}

type alipayConfig struct {
	AppID                   string `yaml:"appID"`
	PrivateKey              string `yaml:"privateKey"`
	PrivateKeyFile          string `yaml:"privateKeyFile"`
	AlipayPublicKey         string `yaml:"alipayPublicKey"`
	AlipayPublicKeyFile     string `yaml:"alipayPublicKeyFile"`
	AppCertPublicKey        string `yaml:"appCertPublicKey"`
	AppCertPublicKeyFile    string `yaml:"appCertPublicKeyFile"`
	AlipayRootCert          string `yaml:"alipayRootCert"`
	AlipayRootCertFile      string `yaml:"alipayRootCertFile"`
	AlipayCertPublicKey     string `yaml:"alipayCertPublicKey"`
	AlipayCertPublicKeyFile string `yaml:"alipayCertPublicKeyFile"`
	SellerID                string `yaml:"sellerID"`
	Production              bool   `yaml:"production"`
	GatewayURL              string `yaml:"gatewayURL"`
}

// configured reports whether the block carries credentials; the example
// file's block with an app ID and empty keys is not a channel.
func (a *alipayConfig) configured() bool {
	return a != nil && (a.PrivateKey != "" || a.PrivateKeyFile != "")
}

type wechatConfig struct {
	MchID                   string `yaml:"mchID"`
	AppID                   string `yaml:"appID"`
	MchCertSerial           string `yaml:"mchCertSerial"`
	MchPrivateKey           string `yaml:"mchPrivateKey"`
	MchPrivateKeyFile       string `yaml:"mchPrivateKeyFile"`
	APIv3Key                string `yaml:"apiV3Key"`
	PlatformPublicKeyID     string `yaml:"platformPublicKeyID"`
	PlatformPublicKey       string `yaml:"platformPublicKey"`
	PlatformPublicKeyFile   string `yaml:"platformPublicKeyFile"`
	PlatformCertificate     string `yaml:"platformCertificate"`
	PlatformCertificateFile string `yaml:"platformCertificateFile"`
	APIBaseURL              string `yaml:"apiBaseURL"`
}

func (w *wechatConfig) configured() bool {
	return w != nil && (w.MchPrivateKey != "" || w.MchPrivateKeyFile != "" || w.APIv3Key != "")
}

type webhookConfig struct {
	Schedule             []time.Duration `yaml:"schedule"`
	Timeout              time.Duration   `yaml:"timeout"`
	AllowPrivateNetworks *bool           `yaml:"allowPrivateNetworks"`
}

type workersConfig struct {
	PollInterval time.Duration `yaml:"pollInterval"`
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// loadConfig reads path: ${ENV} references in values are expanded (after
// parsing, so a value cannot change the document's structure), and an
// unknown key is an error that names it.
func loadConfig(path string) (*fileConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var missing []string
	expand(&doc, &missing)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: environment variable(s) not set: %v", path, missing)
	}
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	cfg := &fileConfig{}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file is a zero config
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func expand(n *yaml.Node, missing *[]string) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!binary" {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			v, ok := os.LookupEnv(name)
			if !ok {
				*missing = append(*missing, name)
			}
			return v
		})
	}
	for _, c := range n.Content {
		expand(c, missing)
	}
}
