-- Money safety: charges and refunds belong to a channel account whose
-- number space the database enforces; charges carry their echoed marker and
-- the number of a late payment's automatic refund; notification bodies are
-- bytes with their size and SHA-256 (SQLite stores a BLOB as it is whatever
-- the column's declared type; rows of earlier releases get their size, not
-- a hash: SQLite has no SHA-256); discrepancies with the channels are
-- recorded for a person. Rows of earlier releases keep a NULL account.

-- +goose Up
ALTER TABLE "pay_charges" ADD COLUMN "account" text;
ALTER TABLE "pay_charges" ADD COLUMN "late_refund_no" text NOT NULL DEFAULT '';
ALTER TABLE "pay_charges" ADD COLUMN "marker" text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX "idx_pay_charges_account_trade" ON "pay_charges" ("account", "out_trade_no");

ALTER TABLE "pay_refunds" ADD COLUMN "account" text;
ALTER TABLE "pay_refunds" ADD COLUMN "late_payment" numeric NOT NULL DEFAULT false;
CREATE UNIQUE INDEX "idx_pay_refunds_account_refund" ON "pay_refunds" ("account", "out_refund_no");

ALTER TABLE "pay_notifications" ADD COLUMN "body_size" integer NOT NULL DEFAULT 0;
ALTER TABLE "pay_notifications" ADD COLUMN "body_sha256" text NOT NULL DEFAULT '';
UPDATE "pay_notifications" SET "body_size" = length(CAST("body" AS BLOB)) WHERE "body" IS NOT NULL;

CREATE TABLE "pay_discrepancies" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "dedupe_key" text NOT NULL,
  "kind" text NOT NULL,
  "source" text NOT NULL,
  "app_id" text NOT NULL DEFAULT '',
  "provider" text NOT NULL,
  "account" text NOT NULL DEFAULT '',
  "out_trade_no" text NOT NULL DEFAULT '',
  "out_refund_no" text NOT NULL DEFAULT '',
  "transaction_id" text NOT NULL DEFAULT '',
  "local_amount" integer NOT NULL DEFAULT 0,
  "channel_amount" integer NOT NULL DEFAULT 0,
  "detail" text NOT NULL DEFAULT '',
  "status" text NOT NULL,
  "note" text NOT NULL DEFAULT '',
  "occurrences" integer NOT NULL DEFAULT 1,
  "resolved_at" datetime,
  "created_at" datetime,
  "updated_at" datetime
);
CREATE UNIQUE INDEX "idx_pay_discrepancies_dedupe_key" ON "pay_discrepancies" ("dedupe_key");
CREATE INDEX "idx_pay_discrepancies_kind" ON "pay_discrepancies" ("kind");
CREATE INDEX "idx_pay_discrepancies_status" ON "pay_discrepancies" ("status");
CREATE INDEX "idx_pay_discrepancies_out_trade_no" ON "pay_discrepancies" ("out_trade_no");
