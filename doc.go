// Package paycenter is an embeddable payment center for Gin + GORM apps:
// WeChat Pay and Alipay charges, payment results and refunds behind the
// pay center API, the channels' notifications verified and applied, every
// charge and refund stored in the host's own database, and hooks that run
// inside the transaction of each state change.
//
// # Quick start
//
//	r := gin.Default()
//	pc, err := paycenter.Mount(r, paycenter.Config{
//		DB:        db, // your *gorm.DB; nil means SQLite paycenter.db
//		PublicURL: "https://shop.example.com",
//		Apps:      []paycenter.App{{ID: "shop", Key: key, Secret: secret}},
//		Channels:  []channels.Channel{alipayChannel, wechatChannel},
//		Hooks: []hooks.Hook{hooks.OnPaidFunc(func(ctx context.Context, ev *hooks.Paid) error {
//			return ev.Tx.Model(&Order{}).Where("no = ?", ev.Charge.OutTradeNo).Update("status", "paid").Error
//		})},
//	})
//	if err != nil { log.Fatal(err) }
//	defer pc.Close()
//	r.Run()
//
// Hosts on net/http, chi or echo serve pc.Handler() under BasePath instead
// of mounting on Gin (New, then mux.Handle("/pay/", pc.Handler()), then
// pc.Start(ctx)).
//
// A zero Config works: SQLite file paycenter.db, the sandbox channel for all
// seven channel codes, and a development app whose key and secret are
// generated on the first start, stored in the pay center's settings table
// (so they survive restarts) and logged at each start.
//
// # Wire contract
//
// The routes, parameters, envelope, error codes and signatures are those of
// the pay center document (see README): POST {BasePath}/api/charges,
// GET|POST {BasePath}/api/charges/pay-result and POST {BasePath}/api/refunds,
// plus the extensions refund result and close. Every answer is HTTP 200
// with {"requestId", "responseParams"} or {"requestId", "errorCode",
// "errorMsg"}.
//
// # Charges and refunds
//
// A charge is unique on (app, outTradeNo) and a refund on (app,
// outRefundNo); resubmitting the same parameters returns the same charge or
// refund and never opens a second channel order or refund. An operation
// that calls a channel over the network runs in phases (store the row
// holding a lease and commit, call the channel, record the outcome), so no
// network call happens inside a database transaction and a crash between
// phases leaves a row that a retry settles with the same numbers; a
// channel that signs locally (Alipay, the sandbox) is asked before the
// charge's one insert. The refundable balance is kept by a conditional
// update, so no concurrency on any supported database refunds more than was
// paid.
//
// # Transactions
//
// The ...Tx methods join the host's transaction. CreateChargeTx and
// RefundTx reserve the charge or refund there, with every rule and the
// idempotency of their twins, but call no channel: after the host's
// transaction commits, call CreateCharge (or Refund) with the same
// parameters to reach the channel. PayResultTx and RefundResultTx answer
// from what the transaction sees; CloseChargeTx closes locally (call
// CloseCharge after commit to close the channel order).
//
// # Hooks
//
// OnPaid, OnRefund and OnClosed (package hooks) run exactly once per
// transition, inside its transaction; an error rolls the transition back
// and the channel's notification is answered as a failure, so the channel
// delivers it again.
//
// # Channels
//
// Channels are values implementing channels.Channel: alipay.New,
// wechat.New, or your own. Config.Channels are shared by all apps; an
// App's Channels override them for the codes they serve. Apps that share a
// channel merchant account share its number space (out_trade_no,
// out_refund_no are the merchant's own numbers).
//
// # Reconciliation and operations
//
// Every morning a worker compares each Alipay and WeChat Pay account's
// daily bill with the pay center's records (Config.Reconcile,
// PayCenter.Reconcile): a payment the bill shows for an unpaid charge is
// applied as a notification would be, a refund made in the merchant
// console is recorded, and every other difference is a discrepancy for a
// person. PayCenter.Admin is a JSON operator API (net/http) over all of
// it, to mount behind the host's own authentication.
package paycenter
