-- Daily bill reconciliation: a report per channel account and Beijing day
-- (pay_reconciliations, leased by the process running it), the bill's rows
-- staged while it is compared (pay_bill_rows), the day a bill tied a
-- discrepancy to, and indexes that list an account's payments and refunds
-- of a day.

-- +goose Up
CREATE TABLE "pay_reconciliations" (
  "id" bigserial,
  "provider" varchar(16) NOT NULL,
  "account" varchar(96) NOT NULL,
  "bill_day" varchar(10) NOT NULL,
  "status" varchar(16) NOT NULL,
  "bill_rows" bigint NOT NULL DEFAULT 0,
  "bill_payments" bigint NOT NULL DEFAULT 0,
  "bill_payment_amount" bigint NOT NULL DEFAULT 0,
  "bill_refunds" bigint NOT NULL DEFAULT 0,
  "bill_refund_amount" bigint NOT NULL DEFAULT 0,
  "local_payments" bigint NOT NULL DEFAULT 0,
  "local_payment_amount" bigint NOT NULL DEFAULT 0,
  "local_refunds" bigint NOT NULL DEFAULT 0,
  "local_refund_amount" bigint NOT NULL DEFAULT 0,
  "matched" bigint NOT NULL DEFAULT 0,
  "applied" bigint NOT NULL DEFAULT 0,
  "discrepancies" bigint NOT NULL DEFAULT 0,
  "partial" boolean NOT NULL DEFAULT false,
  "error" varchar(512) NOT NULL DEFAULT '',
  "attempts" bigint NOT NULL DEFAULT 0,
  "next_attempt_at" timestamptz,
  "lease_until" timestamptz,
  "lease_token" varchar(32) NOT NULL DEFAULT '',
  "started_at" timestamptz,
  "finished_at" timestamptz,
  "created_at" timestamptz,
  "updated_at" timestamptz,
  PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "idx_pay_reconciliations_account_day" ON "pay_reconciliations" ("account", "bill_day");
CREATE INDEX "idx_pay_reconciliations_bill_day" ON "pay_reconciliations" ("bill_day");
CREATE INDEX "idx_pay_reconciliations_status" ON "pay_reconciliations" ("status");

CREATE TABLE "pay_bill_rows" (
  "id" bigserial,
  "reconciliation_id" bigint NOT NULL,
  "line" bigint NOT NULL DEFAULT 0,
  "kind" varchar(8) NOT NULL,
  "out_trade_no" varchar(64) NOT NULL DEFAULT '',
  "out_refund_no" varchar(64) NOT NULL DEFAULT '',
  "transaction_id" varchar(64) NOT NULL DEFAULT '',
  "amount" bigint NOT NULL,
  "occurred_at" timestamptz NOT NULL,
  "status" varchar(32) NOT NULL DEFAULT '',
  "settled" boolean NOT NULL DEFAULT false,
  "marker" varchar(128) NOT NULL DEFAULT '',
  "has_marker" boolean NOT NULL DEFAULT false,
  PRIMARY KEY ("id")
);
CREATE INDEX "idx_pay_bill_rows_trade" ON "pay_bill_rows" ("reconciliation_id", "out_trade_no");
CREATE INDEX "idx_pay_bill_rows_refund" ON "pay_bill_rows" ("reconciliation_id", "out_refund_no");

ALTER TABLE "pay_discrepancies" ADD COLUMN "bill_day" varchar(10) NOT NULL DEFAULT '';
CREATE INDEX "idx_pay_discrepancies_account_day" ON "pay_discrepancies" ("account", "bill_day");

CREATE INDEX "idx_pay_charges_account_paid" ON "pay_charges" ("account", "paid_at");
CREATE INDEX "idx_pay_refunds_account_refunded" ON "pay_refunds" ("account", "refunded_at");
