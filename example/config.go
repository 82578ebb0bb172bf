package main

import (
	"time"
)

// fileConfig is the example's YAML configuration; see README and
// testdata/example-config.yaml. Every key is optional. loadConfig checks a
// file against these yaml tags (oneof: the allowed values; min: the least
// number).
type fileConfig struct {
	Addr        string        `yaml:"addr"`
	PublicURL   string        `yaml:"publicURL"`
	BasePath    string        `yaml:"basePath"`
	Database    dbConfig      `yaml:"database"`
	Sandbox     *bool         `yaml:"sandbox"`
	LatePayment string        `yaml:"latePayment" oneof:"accept|refund"`
	Apps        []appConfig   `yaml:"apps"`
	Alipay      *alipayConfig `yaml:"alipay"`
	Wechat      *wechatConfig `yaml:"wechat"`
	Webhook     webhookConfig `yaml:"webhook"`
	Workers     workersConfig `yaml:"workers"`
}

// dbConfig is the database block. The pool settings (see pool.go) are
// optional: 0 or absent keeps the driver's default.
type dbConfig struct {
	Driver          string        `yaml:"driver" oneof:"sqlite|postgres|mysql"`
	DSN             string        `yaml:"dsn"`
	MaxOpenConns    int           `yaml:"maxOpenConns" min:"0"`
	MaxIdleConns    int           `yaml:"maxIdleConns" min:"0"`
	ConnMaxIdleTime time.Duration `yaml:"connMaxIdleTime"`
	ConnMaxLifetime time.Duration `yaml:"connMaxLifetime"`
}

type appConfig struct {
	ID             string   `yaml:"id"`
	Key            string   `yaml:"key"`
	Secret         string   `yaml:"secret"`
	NotifyURL      string   `yaml:"notifyURL"`
	MinSignVersion int      `yaml:"minSignVersion"`
	ReturnURLHosts []string `yaml:"returnURLHosts"`
	// Development: a 10004 tells this app which string the server signed.
	Development bool `yaml:"development"`
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
