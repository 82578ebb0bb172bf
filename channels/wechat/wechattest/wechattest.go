// Package wechattest is a fake WeChat Pay APIv3 server for tests: an
// httptest server that checks the merchant's request signatures, keeps
// orders and refunds in memory, signs every 2xx answer (so the SDK's
// response verification stays on) and builds encrypted, signed
// notifications.
//
//	srv := wechattest.NewServer(t)
//	ch, err := wechat.New(srv.ChannelConfig(wechattest.PublicKeyMode))
//	params, err := ch.Create(ctx, &channels.CreateRequest{Code: channels.WxNative, ...})
//	srv.Pay(outTradeNo)                                      // the buyer pays
//	req := srv.NotificationRequest(callbackURL+"/paynotify",
//		srv.PaymentNotification(outTradeNo, wechattest.PublicKeyMode))
//
// Every key (merchant, WeChat Pay public key, a throwaway CA and the platform
// certificate it issues) is generated at run time; nothing is hard-coded.
// Keys are generated once per test binary and shared by the servers it
// starts, which keeps tests fast.
package wechattest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/channels/wechat"
)

// Mode selects how WeChat Pay signs: with the WeChat Pay public key or with
// the platform certificate's key.
type Mode int

// The two verification modes.
const (
	PublicKeyMode Mode = iota
	CertMode
)

// String returns "public-key" or "certificate".
func (m Mode) String() string {
	if m == CertMode {
		return "certificate"
	}
	return "public-key"
}

// Trade states and refund statuses the fake uses (WeChat Pay's words).
const (
	StateNotPay  = "NOTPAY"
	StateSuccess = "SUCCESS"
	StateRefund  = "REFUND"
	StateClosed  = "CLOSED"
	StatePayErr  = "PAYERROR"

	RefundProcessing = "PROCESSING"
	RefundSuccess    = "SUCCESS"
	RefundClosed     = "CLOSED"
	RefundAbnormal   = "ABNORMAL"
)

// Keys is the generated key material of a fake.
type Keys struct {
	Merchant     *rsa.PrivateKey   // the merchant API key (the adapter signs with it)
	PublicKey    *rsa.PrivateKey   // the "WeChat Pay public key" pair (public-key mode)
	Platform     *rsa.PrivateKey   // the platform certificate's key (certificate mode)
	CA           *rsa.PrivateKey   // the throwaway CA that issued the platform certificate
	PlatformCert *x509.Certificate // issued by CA for Platform
	Other        *rsa.PrivateKey   // an unrelated key, for forging
}

var (
	keysOnce sync.Once
	keys     *Keys
	keysErr  error
)

// GeneratedKeys returns the key material shared by the fakes of this test
// binary, generating it on first use.
func GeneratedKeys() (*Keys, error) {
	keysOnce.Do(func() {
		k := &Keys{}
		for _, p := range []**rsa.PrivateKey{&k.Merchant, &k.PublicKey, &k.Platform, &k.CA, &k.Other} {
			if *p, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
				return
			}
		}
		now := time.Now()
		caTmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "wechattest CA"},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &k.CA.PublicKey, k.CA)
		if err != nil {
			keysErr = err
			return
		}
		ca, _ := x509.ParseCertificate(caDER)
		serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 80))
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: "Tenpay.com Root CA test platform", Organization: []string{"wechattest"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.Platform.PublicKey, k.CA)
		if err != nil {
			keysErr = err
			return
		}
		k.PlatformCert, keysErr = x509.ParseCertificate(der)
		keys = k
	})
	return keys, keysErr
}

// Order is an order as the fake holds it.
type Order struct {
	TradeType     string // NATIVE, JSAPI, APP, MWEB
	AppID, MchID  string
	OutTradeNo    string
	Description   string
	NotifyURL     string
	TimeExpire    string // as sent (RFC 3339)
	Attach        string
	Total         int64 // fen
	Currency      string
	OpenID        string // JSAPI payer
	PayerClientIP string // H5 scene_info
	H5Type        string // H5 scene_info.h5_info.type
	PrepayID      string
	State         string // NOTPAY, SUCCESS, REFUND, CLOSED, PAYERROR
	TransactionID string
	SuccessTime   time.Time
	Refunded      int64 // sum of refunds not CLOSED/ABNORMAL
	Prepays       int   // prepay calls seen for this order
}

// Refund is a refund as the fake holds it.
type Refund struct {
	RefundID      string
	OutRefundNo   string
	OutTradeNo    string
	TransactionID string
	Refund, Total int64
	Reason        string
	NotifyURL     string
	Status        string // PROCESSING, SUCCESS, CLOSED, ABNORMAL
	CreateTime    time.Time
	SuccessTime   time.Time
	Creates       int // create calls seen for this refund
}

// Fault makes the next API call misbehave (see Server.FailNext).
type Fault struct {
	// Status and Code: answer with this HTTP status and {"code","message"}
	// instead of serving the call (when Status != 0).
	Status  int
	Code    string
	Message string
	// Hang: do not answer until the client gives up (its timeout or context)
	// or the server closes. No sleeping: the handler waits on the request's
	// context.
	Hang bool
	// AfterApply: serve the call (create the order/refund, close, ...) and
	// only then fail/hang, so the outcome is applied but unknown to the
	// caller.
	AfterApply bool
	// BadSignature: answer normally but with a signature that does not
	// verify.
	BadSignature bool
}

// Server is the fake. Create it with NewServer.
type Server struct {
	*httptest.Server

	MchID         string // the merchant id the fake accepts
	AppID         string // the app id the fake accepts
	MchCertSerial string // the merchant certificate serial our Authorization must name
	APIv3Key      string // random, 32 bytes; encrypts notifications
	PublicKeyID   string // the WeChat Pay public key id (public-key mode)
	CertSerial    string // platform certificate serial, %X (certificate mode)
	Keys          *Keys  // all key material

	mu       sync.Mutex
	orders   map[string]*Order
	refunds  map[string]*Refund
	faults   []Fault
	calls    []string // "METHOD path" of each authenticated call
	rejected int      // calls refused for their signature
	seq      int
	bills    billBook // bill.go
}

// NewServer starts a fake for t and closes it at cleanup.
func NewServer(t testing.TB) *Server {
	t.Helper()
	k, err := GeneratedKeys()
	if err != nil {
		t.Fatalf("wechattest: generating keys: %v", err)
	}
	s := &Server{
		MchID:         "1230000109",
		AppID:         "wx1f343894d9cce45d",
		MchCertSerial: "3775B6A45ACD588826D15E583A95F5DD00000001",
		APIv3Key:      randomString(32),
		PublicKeyID:   "PUB_KEY_ID_0112300001092025000000000000000001",
		CertSerial:    fmt.Sprintf("%X", k.PlatformCert.SerialNumber.Bytes()),
		Keys:          k,
		orders:        map[string]*Order{},
		refunds:       map[string]*Refund{},
	}
	s.bills.dir = t.TempDir()
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// ChannelConfig returns a wechat.Config for the adapter pointing at the fake, in
// the given mode, with key material as PEM text.
func (s *Server) ChannelConfig(mode Mode) wechat.Config {
	cfg := wechat.Config{
		MchID:         s.MchID,
		AppID:         s.AppID,
		MchCertSerial: s.MchCertSerial,
		MchPrivateKey: PrivateKeyPEM(s.Keys.Merchant),
		APIv3Key:      s.APIv3Key,
		APIBaseURL:    s.URL,
	}
	if mode == CertMode {
		cfg.PlatformCertificate = CertificatePEM(s.Keys.PlatformCert)
	} else {
		cfg.PlatformPublicKeyID = s.PublicKeyID
		cfg.PlatformPublicKey = PublicKeyPEM(&s.Keys.PublicKey.PublicKey)
	}
	return cfg
}

// PrivateKeyPEM encodes k as PKCS#8 "PRIVATE KEY" PEM.
func PrivateKeyPEM(k *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// PublicKeyPEM encodes k as PKIX "PUBLIC KEY" PEM.
func PublicKeyPEM(k *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// CertificatePEM encodes c as "CERTIFICATE" PEM.
func CertificatePEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// FailNext queues faults; each applies to one API call, in order.
func (s *Server) FailNext(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// Order returns a copy of the order, and whether it exists.
func (s *Server) Order(outTradeNo string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Refund returns a copy of the refund, and whether it exists.
func (s *Server) Refund(outRefundNo string) (Refund, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		return Refund{}, false
	}
	return *r, true
}

// Calls returns "METHOD path" of every call whose signature verified.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Rejected returns how many calls were refused (401) for their signature.
func (s *Server) Rejected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Pay simulates the buyer paying the order: state SUCCESS, a transaction id
// and a success time.
func (s *Server) Pay(outTradeNo string) (Order, error) {
	return s.SetState(outTradeNo, StateSuccess)
}

// SetState sets the order's trade state (NOTPAY, SUCCESS, CLOSED, PAYERROR,
// USERPAYING, ...). SUCCESS also assigns a transaction id and success time.
func (s *Server) SetState(outTradeNo, state string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return Order{}, fmt.Errorf("wechattest: no order %q", outTradeNo)
	}
	o.State = state
	if state == StateSuccess && o.TransactionID == "" {
		s.seq++
		o.TransactionID = fmt.Sprintf("42000000%014d", s.seq)
		o.SuccessTime = time.Now().Truncate(time.Second)
	}
	return *o, nil
}

// SettleRefund sets a refund's final status: SUCCESS, CLOSED or ABNORMAL.
func (s *Server) SettleRefund(outRefundNo, status string) (Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		return Refund{}, fmt.Errorf("wechattest: no refund %q", outRefundNo)
	}
	// Only CLOSED gives the money back; ABNORMAL means it left the
	// merchant's account but did not reach the buyer.
	if r.Status != RefundClosed && status == RefundClosed {
		if o := s.orders[r.OutTradeNo]; o != nil {
			o.Refunded -= r.Refund
		}
	}
	r.Status = status
	if status == RefundSuccess {
		r.SuccessTime = time.Now().Truncate(time.Second)
	}
	return *r, nil
}

// --- HTTP --------------------------------------------------------------

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "unreadable body")
		return
	}
	if !s.checkAuth(r, body) {
		s.mu.Lock()
		s.rejected++
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "SIGN_ERROR", "signature verification failed")
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path)
	var f *Fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()

	if f != nil && !f.AfterApply {
		if f.Hang {
			<-r.Context().Done()
			return
		}
		if f.Status != 0 {
			writeError(w, f.Status, f.Code, f.Message)
			return
		}
	}
	if r.URL.Path == BillDownloadPath { // streamed, and not signed
		s.serveBill(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.route(rec, r, body)
	if f != nil && f.AfterApply {
		if f.Hang {
			<-r.Context().Done()
			return
		}
		if f.Status != 0 {
			writeError(w, f.Status, f.Code, f.Message)
			return
		}
	}
	res := rec.Result()
	out := rec.Body.Bytes()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		s.signResponse(w.Header(), r.Header.Get("Wechatpay-Serial"), out, f != nil && f.BadSignature)
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(out)
}

// checkAuth verifies the merchant's Authorization header.
func (s *Server) checkAuth(r *http.Request, body []byte) bool {
	const prefix = "WECHATPAY2-SHA256-RSA2048 "
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, prefix) {
		return false
	}
	fields := map[string]string{}
	for _, part := range strings.Split(h[len(prefix):], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return false
		}
		uq, err := strconv.Unquote(v)
		if err != nil {
			return false
		}
		fields[k] = uq
	}
	if fields["mchid"] != s.MchID || fields["serial_no"] != s.MchCertSerial || fields["nonce_str"] == "" {
		return false
	}
	ts, err := strconv.ParseInt(fields["timestamp"], 10, 64)
	if err != nil || abs(time.Now().Unix()-ts) > 300 {
		return false
	}
	msg := fmt.Sprintf("%s\n%s\n%s\n%s\n%s\n", r.Method, r.URL.RequestURI(), fields["timestamp"], fields["nonce_str"], body)
	sig, err := base64.StdEncoding.DecodeString(fields["signature"])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(&s.Keys.Merchant.PublicKey, crypto.SHA256, sum[:], sig) == nil
}

// signResponse signs ts\nnonce\nbody\n with the key the client asked for
// (Wechatpay-Serial of the request: the platform certificate serial or the
// public key id).
func (s *Server) signResponse(h http.Header, accept string, body []byte, corrupt bool) {
	key, serial := s.Keys.PublicKey, s.PublicKeyID
	if accept == s.CertSerial {
		key, serial = s.Keys.Platform, s.CertSerial
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := randomString(32)
	sig := sign(key, ts+"\n"+nonce+"\n"+string(body)+"\n")
	if corrupt {
		sig = sign(s.Keys.Other, ts+"\n"+nonce+"\n"+string(body)+"\n")
	}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
	h.Set("Request-Id", randomString(16))
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/v3/pay/transactions/") && strings.Count(p, "/") == 4:
		s.prepay(w, strings.TrimPrefix(p, "/v3/pay/transactions/"), body)
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/v3/pay/transactions/out-trade-no/") && strings.HasSuffix(p, "/close"):
		no := strings.TrimSuffix(strings.TrimPrefix(p, "/v3/pay/transactions/out-trade-no/"), "/close")
		s.close(w, no, body)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v3/pay/transactions/out-trade-no/"):
		s.query(w, strings.TrimPrefix(p, "/v3/pay/transactions/out-trade-no/"), r.URL.Query().Get("mchid"))
	case r.Method == http.MethodPost && p == "/v3/refund/domestic/refunds":
		s.createRefund(w, body)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v3/refund/domestic/refunds/"):
		s.queryRefund(w, strings.TrimPrefix(p, "/v3/refund/domestic/refunds/"))
	case r.Method == http.MethodGet && p == wechat.TradeBillPath:
		s.tradeBill(w, r)
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such API")
	}
}

type prepayBody struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire"`
	Attach      string `json:"attach"`
	NotifyURL   string `json:"notify_url"`
	Amount      struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer *struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
	SceneInfo *struct {
		PayerClientIP string `json:"payer_client_ip"`
		H5Info        *struct {
			Type string `json:"type"`
		} `json:"h5_info"`
	} `json:"scene_info"`
}

// prepay answers a prepay of kind (native, jsapi, app, h5) as WeChat Pay
// would: the rules of every kind in one flat list of cases, then the
// answer of each kind. Long because the list is read best in one place.
func (s *Server) prepay(w http.ResponseWriter, kind string, body []byte) {
	var b prepayBody
	if err := json.Unmarshal(body, &b); err != nil {
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "body is not JSON")
		return
	}
	tradeType := map[string]string{"native": "NATIVE", "jsapi": "JSAPI", "app": "APP", "h5": "MWEB"}[kind]
	switch {
	case tradeType == "":
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such API")
		return
	case b.MchID != s.MchID:
		writeError(w, http.StatusBadRequest, "MCH_NOT_EXISTS", "mchid mismatch")
		return
	case b.AppID != s.AppID:
		writeError(w, http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
		return
	case b.Description == "" || b.OutTradeNo == "" || b.NotifyURL == "" || b.Amount.Total <= 0:
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "missing description, out_trade_no, notify_url or amount")
		return
	case tradeType == "JSAPI" && (b.Payer == nil || b.Payer.OpenID == ""):
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "payer.openid is required")
		return
	case tradeType == "MWEB" && (b.SceneInfo == nil || b.SceneInfo.PayerClientIP == "" || b.SceneInfo.H5Info == nil || b.SceneInfo.H5Info.Type == ""):
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "scene_info.payer_client_ip and h5_info.type are required")
		return
	}
	if b.TimeExpire != "" {
		if _, err := time.Parse(time.RFC3339, b.TimeExpire); err != nil {
			writeError(w, http.StatusBadRequest, "PARAM_ERROR", "time_expire is not RFC 3339")
			return
		}
	}
	s.mu.Lock()
	o, ok := s.orders[b.OutTradeNo]
	if ok {
		switch {
		case o.State == StateSuccess || o.State == StateRefund:
			s.mu.Unlock()
			writeError(w, http.StatusForbidden, "ORDERPAID", "order already paid")
			return
		case o.State == StateClosed:
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "ORDER_CLOSED", "order closed")
			return
		case o.Total != b.Amount.Total || o.TradeType != tradeType:
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "out_trade_no used with other parameters")
			return
		}
	} else {
		s.seq++
		o = &Order{
			TradeType: tradeType, AppID: b.AppID, MchID: b.MchID, OutTradeNo: b.OutTradeNo,
			Description: b.Description, NotifyURL: b.NotifyURL, TimeExpire: b.TimeExpire, Attach: b.Attach,
			Total: b.Amount.Total, Currency: b.Amount.Currency, State: StateNotPay,
			PrepayID: fmt.Sprintf("wx%s%010d", time.Now().Format("20060102150405"), s.seq),
		}
		if b.Payer != nil {
			o.OpenID = b.Payer.OpenID
		}
		if b.SceneInfo != nil {
			o.PayerClientIP = b.SceneInfo.PayerClientIP
			if b.SceneInfo.H5Info != nil {
				o.H5Type = b.SceneInfo.H5Info.Type
			}
		}
		s.orders[b.OutTradeNo] = o
	}
	o.Prepays++
	prepayID := o.PrepayID
	s.mu.Unlock()

	switch tradeType {
	case "NATIVE":
		writeJSON(w, http.StatusOK, map[string]string{"code_url": "weixin://wxpay/bizpayurl?pr=" + prepayID})
	case "MWEB":
		writeJSON(w, http.StatusOK, map[string]string{"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + prepayID + "&package=1707153875"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"prepay_id": prepayID})
	}
}

func (s *Server) query(w http.ResponseWriter, outTradeNo, mchid string) {
	if mchid != s.MchID {
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "mchid mismatch")
		return
	}
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	var tx map[string]any
	if ok {
		tx = transaction(o)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "ORDER_NOT_EXIST", "order does not exist")
		return
	}
	writeJSON(w, http.StatusOK, tx)
}

// transaction is the JSON of an order as query and notifications show it.
func transaction(o *Order) map[string]any {
	tx := map[string]any{
		"appid": o.AppID, "mchid": o.MchID, "out_trade_no": o.OutTradeNo,
		"trade_type": o.TradeType, "trade_state": o.State, "trade_state_desc": o.State,
		"attach": o.Attach,
		"amount": map[string]any{"total": o.Total, "currency": "CNY"},
	}
	if o.TransactionID != "" {
		tx["transaction_id"] = o.TransactionID
		tx["success_time"] = o.SuccessTime.In(channels.Beijing).Format(time.RFC3339)
		tx["bank_type"] = "OTHERS"
		tx["amount"] = map[string]any{"total": o.Total, "payer_total": o.Total, "currency": "CNY", "payer_currency": "CNY"}
	}
	if o.OpenID != "" {
		tx["payer"] = map[string]string{"openid": o.OpenID}
	}
	return tx
}

func (s *Server) close(w http.ResponseWriter, outTradeNo string, body []byte) {
	var b struct {
		MchID string `json:"mchid"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.MchID != s.MchID {
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "mchid mismatch")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "ORDER_NOT_EXIST", "order does not exist")
	case o.State == StateSuccess || o.State == StateRefund:
		writeError(w, http.StatusBadRequest, "ORDERPAID", "order paid")
	default:
		o.State = StateClosed
		w.WriteHeader(http.StatusNoContent)
	}
}

type refundBody struct {
	OutTradeNo  string `json:"out_trade_no"`
	OutRefundNo string `json:"out_refund_no"`
	Reason      string `json:"reason"`
	NotifyURL   string `json:"notify_url"`
	Amount      struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

func (s *Server) createRefund(w http.ResponseWriter, body []byte) {
	var b refundBody
	if err := json.Unmarshal(body, &b); err != nil || b.OutRefundNo == "" || b.OutTradeNo == "" || b.Amount.Currency != "CNY" {
		writeError(w, http.StatusBadRequest, "PARAM_ERROR", "missing out_trade_no, out_refund_no or amount")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.refunds[b.OutRefundNo]; ok {
		if r.OutTradeNo != b.OutTradeNo || r.Refund != b.Amount.Refund {
			writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "out_refund_no used with other parameters")
			return
		}
		r.Creates++
		writeJSON(w, http.StatusOK, refundJSON(r))
		return
	}
	o, ok := s.orders[b.OutTradeNo]
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "order does not exist")
		return
	case o.State != StateSuccess && o.State != StateRefund:
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "order not paid")
		return
	case b.Amount.Total != o.Total:
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "amount.total does not match the order")
		return
	case b.Amount.Refund <= 0 || o.Refunded+b.Amount.Refund > o.Total:
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "refund exceeds the refundable amount")
		return
	}
	s.seq++
	r := &Refund{
		RefundID: fmt.Sprintf("50000000%014d", s.seq), OutRefundNo: b.OutRefundNo, OutTradeNo: b.OutTradeNo,
		TransactionID: o.TransactionID, Refund: b.Amount.Refund, Total: b.Amount.Total, Reason: b.Reason,
		NotifyURL: b.NotifyURL, Status: RefundProcessing, CreateTime: time.Now().Truncate(time.Second), Creates: 1,
	}
	s.refunds[b.OutRefundNo] = r
	o.Refunded += r.Refund
	o.State = StateRefund
	writeJSON(w, http.StatusOK, refundJSON(r))
}

func (s *Server) queryRefund(w http.ResponseWriter, outRefundNo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		writeError(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "refund does not exist")
		return
	}
	writeJSON(w, http.StatusOK, refundJSON(r))
}

func refundJSON(r *Refund) map[string]any {
	m := map[string]any{
		"refund_id": r.RefundID, "out_refund_no": r.OutRefundNo, "transaction_id": r.TransactionID,
		"out_trade_no": r.OutTradeNo, "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
		"create_time": r.CreateTime.In(channels.Beijing).Format(time.RFC3339), "status": r.Status, "funds_account": "AVAILABLE",
		"amount": map[string]any{
			"total": r.Total, "refund": r.Refund, "payer_total": r.Total, "payer_refund": r.Refund,
			"settlement_refund": r.Refund, "settlement_total": r.Total, "discount_refund": 0, "currency": "CNY",
		},
	}
	if r.Status == RefundSuccess {
		m["success_time"] = r.SuccessTime.In(channels.Beijing).Format(time.RFC3339)
	}
	return m
}

// --- notifications -----------------------------------------------------

// Notification describes a notification to build. Only Plaintext (or Body)
// is needed; every other field has a correct default, and the rest exist to
// forge.
type Notification struct {
	ID           string // default: random
	EventType    string // default: TRANSACTION.SUCCESS / REFUND.SUCCESS per ResourceKind
	ResourceKind string // "transaction" (default) or "refund": original_type and associated_data
	Plaintext    []byte // the resource, JSON
	Mode         Mode   // which key signs (default PublicKeyMode)

	Algorithm      string          // default AEAD_AES_256_GCM
	Nonce          *string         // default: 12 random characters
	AssociatedData *string         // default: ResourceKind
	TamperAD       *string         // associated_data shown in the envelope, differing from the one encrypted with
	APIv3Key       string          // default: the server's
	OmitResource   bool            // no "resource" at all
	Body           []byte          // when set, sent verbatim (and signed) instead of the envelope
	Timestamp      time.Time       // default: now
	Serial         string          // default: the serial of Mode
	SignWith       *rsa.PrivateKey // default: the key of Mode
	SignatureType  string          // Wechatpay-Signature-Type; default WECHATPAY2-SHA256-RSA2048
	BadSignature   bool            // flip the signature
	OmitHeaders    bool            // no Wechatpay-* headers
}

// PaymentNotification returns a TRANSACTION.SUCCESS notification with the
// order's current data (call Pay first; a refunded order still says SUCCESS,
// as the notification is the one sent at payment time).
func (s *Server) PaymentNotification(outTradeNo string, mode Mode) Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[outTradeNo]
	var tx map[string]any
	if o != nil {
		tx = transaction(o)
		if o.State == StateRefund {
			// The notification is sent when the buyer pays.
			tx["trade_state"], tx["trade_state_desc"] = StateSuccess, StateSuccess
		}
	} else {
		tx = map[string]any{"out_trade_no": outTradeNo}
	}
	b, _ := json.Marshal(tx)
	return Notification{EventType: "TRANSACTION.SUCCESS", ResourceKind: "transaction", Plaintext: b, Mode: mode}
}

// RefundNotification returns a REFUND.<status> notification with the
// refund's current data (call SettleRefund first).
func (s *Server) RefundNotification(outRefundNo string, mode Mode) Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.refunds[outRefundNo]
	m := map[string]any{"mchid": s.MchID, "out_refund_no": outRefundNo}
	event := "REFUND.SUCCESS"
	if r != nil {
		m = RefundPlaintext(s.MchID, r)
		event = "REFUND." + r.Status
	}
	b, _ := json.Marshal(m)
	return Notification{EventType: event, ResourceKind: "refund", Plaintext: b, Mode: mode}
}

// RefundPlaintext is the decrypted resource of a refund notification.
func RefundPlaintext(mchID string, r *Refund) map[string]any {
	m := map[string]any{
		"mchid": mchID, "out_trade_no": r.OutTradeNo, "transaction_id": r.TransactionID,
		"out_refund_no": r.OutRefundNo, "refund_id": r.RefundID, "refund_status": r.Status,
		"user_received_account": "支付用户零钱",
		"amount":                map[string]any{"total": r.Total, "refund": r.Refund, "payer_total": r.Total, "payer_refund": r.Refund},
	}
	if r.Status == RefundSuccess {
		m["success_time"] = r.SuccessTime.In(channels.Beijing).Format(time.RFC3339)
	}
	return m
}

// BuildNotification returns the body and headers of n: the plaintext
// encrypted with the APIv3 key, wrapped in the envelope, signed. Long
// because it builds the resource, encrypts it and signs the envelope in
// one straight sequence, as a reader checks it against WeChat Pay's
// documentation.
func (s *Server) BuildNotification(n Notification) ([]byte, http.Header, error) {
	body := n.Body
	if body == nil {
		kind := n.ResourceKind
		if kind == "" {
			kind = "transaction"
		}
		event := n.EventType
		if event == "" {
			event = "TRANSACTION.SUCCESS"
			if kind == "refund" {
				event = "REFUND.SUCCESS"
			}
		}
		id := n.ID
		if id == "" {
			id = uuidLike()
		}
		env := map[string]any{
			"id": id, "create_time": time.Now().In(channels.Beijing).Format(time.RFC3339),
			"event_type": event, "resource_type": "encrypt-resource", "summary": "支付成功",
		}
		if !n.OmitResource {
			key := n.APIv3Key
			if key == "" {
				key = s.APIv3Key
			}
			nonce := randomString(12)
			if n.Nonce != nil {
				nonce = *n.Nonce
			}
			ad := kind
			if n.AssociatedData != nil {
				ad = *n.AssociatedData
			}
			alg := n.Algorithm
			if alg == "" {
				alg = "AEAD_AES_256_GCM"
			}
			ct, err := Encrypt(key, nonce, ad, n.Plaintext)
			if err != nil {
				return nil, nil, err
			}
			if n.TamperAD != nil {
				ad = *n.TamperAD
			}
			env["resource"] = map[string]string{
				"algorithm": alg, "ciphertext": ct, "nonce": nonce,
				"associated_data": ad, "original_type": kind,
			}
		}
		var err error
		if body, err = json.Marshal(env); err != nil {
			return nil, nil, err
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if n.OmitHeaders {
		return body, h, nil
	}
	key, serial := s.Keys.PublicKey, s.PublicKeyID
	if n.Mode == CertMode {
		key, serial = s.Keys.Platform, s.CertSerial
	}
	if n.SignWith != nil {
		key = n.SignWith
	}
	if n.Serial != "" {
		serial = n.Serial
	}
	ts := n.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	tss := strconv.FormatInt(ts.Unix(), 10)
	nonce := randomString(32)
	sig := sign(key, tss+"\n"+nonce+"\n"+string(body)+"\n")
	if n.BadSignature {
		raw, _ := base64.StdEncoding.DecodeString(sig)
		raw[len(raw)/2] ^= 0xff
		sig = base64.StdEncoding.EncodeToString(raw)
	}
	st := n.SignatureType
	if st == "" {
		st = "WECHATPAY2-SHA256-RSA2048"
	}
	h.Set("Wechatpay-Timestamp", tss)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", st)
	h.Set("Request-Id", randomString(16))
	return body, h, nil
}

// NotificationRequest builds n as a POST to target (a full URL), ready for
// http.DefaultClient.Do or a handler's ServeHTTP. It panics if n cannot be
// built (only a bad APIv3Key override can cause that).
func (s *Server) NotificationRequest(target string, n Notification) *http.Request {
	body, h, err := s.BuildNotification(n)
	if err != nil {
		panic("wechattest: " + err.Error())
	}
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		panic("wechattest: " + err.Error())
	}
	r.Header = h
	return r
}

// Encrypt is AEAD_AES_256_GCM as WeChat Pay uses it: base64(ciphertext||tag).
func Encrypt(apiV3Key, nonce, associatedData string, plaintext []byte) (string, error) {
	block, err := aes.NewCipher([]byte(apiV3Key))
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, max(len(nonce), 1))
	if err != nil {
		return "", err
	}
	nb := []byte(nonce)
	if len(nb) == 0 {
		nb = []byte{0}
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, nb, plaintext, []byte(associatedData))), nil
}

// --- helpers -----------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"code": code, "message": msg})
}

func sign(k *rsa.PrivateKey, msg string) string {
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		panic("wechattest: sign: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func uuidLike() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// VerifySHA256WithRSA checks a base64 SHA256withRSA signature of msg with
// pub, as a merchant app or page would (JSAPI paySign, APP sign).
func VerifySHA256WithRSA(pub *rsa.PublicKey, msg, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

// CallbackURL joins the server URL of a pay center and its callback path,
// e.g. CallbackURL(ts.URL, "11") = ts.URL + "/callbacks/11/wechat".
func CallbackURL(base, appID string) string {
	return strings.TrimSuffix(base, "/") + "/callbacks/" + url.PathEscape(appID) + "/wechat"
}
