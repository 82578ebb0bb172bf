-- Daily bill reconciliation: a report per channel account and Beijing day
-- (pay_reconciliations, leased by the process running it), the bill's rows
-- staged while it is compared (pay_bill_rows), the day a bill tied a
-- discrepancy to, and indexes that list an account's payments and refunds
-- of a day.

-- +goose Up
CREATE TABLE "pay_reconciliations" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "provider" text NOT NULL,
  "account" text NOT NULL,
  "bill_day" text NOT NULL,
  "status" text NOT NULL,
  "bill_rows" integer NOT NULL DEFAULT 0,
  "bill_payments" integer NOT NULL DEFAULT 0,
  "bill_payment_amount" integer NOT NULL DEFAULT 0,
  "bill_refunds" integer NOT NULL DEFAULT 0,
  "bill_refund_amount" integer NOT NULL DEFAULT 0,
  "local_payments" integer NOT NULL DEFAULT 0,
  "local_payment_amount" integer NOT NULL DEFAULT 0,
  "local_refunds" integer NOT NULL DEFAULT 0,
  "local_refund_amount" integer NOT NULL DEFAULT 0,
  "matched" integer NOT NULL DEFAULT 0,
  "applied" integer NOT NULL DEFAULT 0,
  "discrepancies" integer NOT NULL DEFAULT 0,
  "partial" numeric NOT NULL DEFAULT false,
  "error" text NOT NULL DEFAULT '',
  "attempts" integer NOT NULL DEFAULT 0,
  "next_attempt_at" datetime,
  "lease_until" datetime,
  "lease_token" text NOT NULL DEFAULT '',
  "started_at" datetime,
  "finished_at" datetime,
  "created_at" datetime,
  "updated_at" datetime
);
CREATE UNIQUE INDEX "idx_pay_reconciliations_account_day" ON "pay_reconciliations" ("account", "bill_day");
CREATE INDEX "idx_pay_reconciliations_bill_day" ON "pay_reconciliations" ("bill_day");
CREATE INDEX "idx_pay_reconciliations_status" ON "pay_reconciliations" ("status");

CREATE TABLE "pay_bill_rows" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "reconciliation_id" integer NOT NULL,
  "line" integer NOT NULL DEFAULT 0,
  "kind" text NOT NULL,
  "out_trade_no" text NOT NULL DEFAULT '',
  "out_refund_no" text NOT NULL DEFAULT '',
  "transaction_id" text NOT NULL DEFAULT '',
  "amount" integer NOT NULL,
  "occurred_at" datetime NOT NULL,
  "status" text NOT NULL DEFAULT '',
  "settled" numeric NOT NULL DEFAULT false,
  "marker" text NOT NULL DEFAULT '',
  "has_marker" numeric NOT NULL DEFAULT false
);
CREATE INDEX "idx_pay_bill_rows_trade" ON "pay_bill_rows" ("reconciliation_id", "out_trade_no");
CREATE INDEX "idx_pay_bill_rows_refund" ON "pay_bill_rows" ("reconciliation_id", "out_refund_no");

ALTER TABLE "pay_discrepancies" ADD COLUMN "bill_day" text NOT NULL DEFAULT '';
CREATE INDEX "idx_pay_discrepancies_account_day" ON "pay_discrepancies" ("account", "bill_day");

CREATE INDEX "idx_pay_charges_account_paid" ON "pay_charges" ("account", "paid_at");
CREATE INDEX "idx_pay_refunds_account_refunded" ON "pay_refunds" ("account", "refunded_at");
