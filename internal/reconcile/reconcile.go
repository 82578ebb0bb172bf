package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/gopaycenter/paycenter/channels"
	"github.com/gopaycenter/paycenter/internal/store"
	"github.com/gopaycenter/paycenter/internal/telemetry"
	"github.com/gopaycenter/paycenter/models"
	"github.com/gopaycenter/paycenter/paytype"
)

// Books is what a reconciliation needs from the pay center's core: lookups
// by channel account and number, the day's payments and refunds, and the
// changes a bill proves, made through the same paths as a notification.
// internal/core implements it (core.Books).
type Books interface {
	// BillAccounts returns the accounts of provider whose channel
	// publishes a daily bill, by account name (alipay:<app_id>, ...).
	BillAccounts(provider string) map[string]channels.BillDownloader
	// Charges and Refunds return the account's charges (refunds) with
	// those numbers.
	Charges(ctx context.Context, account string, outTradeNos []string) ([]models.Charge, error)
	Refunds(ctx context.Context, account string, outRefundNos []string) ([]models.Refund, error)
	// PaidCharges and SucceededRefunds page, by id above afterID, through
	// the account's charges paid (refunds succeeded) in [from, to).
	PaidCharges(ctx context.Context, account string, from, to time.Time, afterID int64, limit int) ([]models.Charge, error)
	SucceededRefunds(ctx context.Context, account string, from, to time.Time, afterID int64, limit int) ([]models.Refund, error)
	// Tally counts and sums those payments and refunds.
	Tally(ctx context.Context, account string, from, to time.Time) (channels.BillTally, error)
	// ApplyBillPayment applies a payment the bill shows for c as a
	// notification would; a payment that does not match c is not applied
	// and comes back as a discrepancy to save.
	ApplyBillPayment(ctx context.Context, c *models.Charge, p *channels.Payment) (*models.Discrepancy, error)
	// RecordBillRefund records a refund the bill shows for c that the pay
	// center did not know (a SUCCESS refund, OnRefund, refund.succeeded);
	// one that cannot count comes back as a discrepancy to save.
	RecordBillRefund(ctx context.Context, c *models.Charge, rf *channels.Refund) (*models.Discrepancy, error)
	// SaveBillDiscrepancies saves discrepancies found in a bill (OPEN, or
	// APPLIED for what it corrected) once each, tied to their BillDay.
	SaveBillDiscrepancies(ctx context.Context, ds []*models.Discrepancy) error
}

// Providers are the providers whose bills can be reconciled.
var Providers = []string{channels.ProviderAlipay, channels.ProviderWechat}

// Defaults of Options.
const (
	DefaultAt            = 10 * time.Hour // 10:00 Beijing time
	DefaultRetryInterval = 30 * time.Minute
	DefaultPollInterval  = time.Minute
	DefaultBatchSize     = 1000
)

// Options configure a Reconciler.
type Options struct {
	// DB is the pay center's database (the core's: on SQLite its writes
	// join the core's group commit).
	DB     *store.DB
	Tables models.Tables
	Books  Books
	Logger *slog.Logger
	Now    func() time.Time
	// At is, per provider, the Beijing time of day (0 to 24h) from which
	// the worker asks for the previous day's bill; DefaultAt when absent.
	At map[string]time.Duration
	// RetryInterval is the wait before the worker asks again for a bill
	// the channel said was not ready, or after a run failed.
	RetryInterval time.Duration
	// PollInterval is how often the worker looks for a day to reconcile.
	PollInterval time.Duration
	// BatchSize is how many bill rows are staged, looked up and checked
	// at a time: the bound of a run's memory.
	BatchSize int
	// Telemetry records the bill downloads and the worker's runs.
	Telemetry *telemetry.Telemetry
}

// Reconciler reconciles the pay center's books with the channels' daily
// bills.
type Reconciler struct {
	o Options
}

// New returns a Reconciler; zero Options fields take their defaults.
func New(o Options) *Reconciler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	return &Reconciler{o: o}
}

// Errors of Run.
var (
	// ErrBusy: another process is reconciling that account and day.
	ErrBusy = errors.New("reconcile: that day's bill is being reconciled by another process; try again when it is done")
	// ErrNoBills: no channel account of the provider publishes a bill.
	ErrNoBills = errors.New("reconcile: no channel account of this provider publishes a daily bill")
)

// CheckProvider returns an error naming provider unless it is one of
// Providers.
func CheckProvider(provider string) error {
	if !slices.Contains(Providers, provider) {
		return fmt.Errorf("reconcile: provider %q must be alipay or wechat", provider)
	}
	return nil
}

// Run reconciles now the bill of day of every account of provider (the
// example's command, the operator API) and returns their reports. A day
// whose bill the channel has not got yet is a NOT_READY report and an
// error wrapping channels.ErrBillNotReady; a refused bill a FAILED report
// and an error wrapping channels.ErrBillInvalid, with nothing applied.
func (r *Reconciler) Run(ctx context.Context, provider string, day channels.Day) ([]*paytype.ReconcileReport, error) {
	if err := CheckProvider(provider); err != nil {
		return nil, err
	}
	if day.IsZero() {
		return nil, errors.New("reconcile: a day is required")
	}
	accounts := r.o.Books.BillAccounts(provider)
	if len(accounts) == 0 {
		return nil, fmt.Errorf("%w: %s (the sandbox has no bills; configure the real %s channel)", ErrNoBills, provider, provider)
	}
	var reports []*paytype.ReconcileReport
	var errs []error
	for _, acct := range sortedKeys(accounts) {
		id, err := r.runAccount(ctx, provider, acct, accounts[acct], day, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s, bill of %s: %w", acct, day, err))
		}
		if id == 0 {
			continue
		}
		rep, rerr := r.Report(ctx, id)
		if rerr != nil {
			return reports, errors.Join(append(errs, rerr)...)
		}
		reports = append(reports, rep)
	}
	return reports, errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
