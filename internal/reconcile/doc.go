// Package reconcile checks the pay center's books against the channels'
// daily bills: one channel account (Alipay app_id, WeChat Pay mchid) for
// one Beijing calendar day at a time.
//
// # One run
//
// A run holds the lease of the day's report (table pay_reconciliations,
// one row per account and day), so that one process at a time reconciles a
// day, whichever started it (the worker, the operator API, the example's
// command beside a serving instance). It then
//
//  1. downloads the bill (channels.BillDownloader; the adapter refuses a
//     bill whose hash, archive or rows do not check out before returning a
//     row) and copies its rows into the staging table pay_bill_rows in
//     batches, tallying them; a bill whose rows disagree with its own
//     summary is refused there, before anything is applied;
//  2. reads the staged rows back in batches, looks their numbers up in the
//     pay center's records (one query per batch for charges, one for
//     refunds) and classifies each row: it agrees (matched); it proves a
//     payment or a refund the pay center does not have, which is applied
//     through the notification's path and listed as APPLIED; or it differs
//     and is saved as an OPEN discrepancy for a person;
//  3. once the day is over, lists the account's payments and refunds of the
//     day in batches and looks each up among the staged rows (the other
//     direction of the anti-join): what the bill lacks is a discrepancy;
//  4. writes the report's counts and sums and deletes its staged rows.
//
// Memory is bounded by the batch size whatever the bill's length: the bill
// is a temporary file, its rows a table. Everything is idempotent: a run
// again for the same day applies nothing twice (what was applied now
// matches) and finds the same discrepancies, which are stored once
// (Discrepancy.DedupeKey) and tied to the day (Discrepancy.BillDay).
//
// # The worker
//
// [Reconciler.Start] runs [Reconciler.RunDue] every poll interval: from
// Options.At (Beijing time, per provider; default 10:00) it reconciles the
// previous day of every account once, retrying every RetryInterval while
// the channel says the bill is not ready or a run failed, until that day
// is no longer the previous one. A day reconciled by hand before it was
// over (a partial report) is run again for the whole day.
//
// The package talks to the core only through [Books].
package reconcile
