package paytype

import "github.com/gopaycenter/paycenter/channels"

// App is a merchant application of the pay center: who may call the API
// (Key and Secret), where its webhooks go, and optionally channel accounts
// of its own.
type App struct {
	// ID identifies the app in callback URLs and in the database: 1 to 32
	// letters or digits. Required.
	ID string
	// Key is the document's "key": it names the app in every request.
	// Required, unique among the apps.
	Key string
	// Secret signs the app's requests and the webhooks sent to it. Required;
	// never logged.
	Secret string
	// NotifyURL receives the app's webhooks: an absolute http(s) URL.
	// Optional (no webhooks when empty).
	NotifyURL string
	// MinSignVersion is 1 (default: signature v1 and v2 accepted) or 2 (only
	// v2, with timestamp and a single-use nonce).
	MinSignVersion int
	// ReturnURLHosts, when not empty, lists the hosts allowed in returnUrl
	// (compared case-insensitively); empty allows any http(s) host.
	ReturnURLHosts []string
	// Channels are this app's own channel accounts (alipay.New,
	// wechat.New, ...); for the codes they serve they override the pay
	// center's Config.Channels.
	Channels []channels.Channel
	// Development marks an app used for development: a signature mismatch
	// (10004) then says which string the server signed (never the
	// secret), so the developer can diff it against theirs. The generated
	// development app has it; never set it for an app with real customers.
	Development bool
}
