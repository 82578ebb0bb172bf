-- Money safety: charges and refunds belong to a channel account whose
-- number space the database enforces; charges carry their echoed marker and
-- the number of a late payment's automatic refund; notification bodies are
-- bytes with their size and SHA-256; discrepancies with the channels are
-- recorded for a person. Rows of earlier releases keep a NULL account (not
-- in any account's number space).

-- +goose Up
ALTER TABLE "pay_charges"
  ADD COLUMN "account" varchar(96),
  ADD COLUMN "late_refund_no" varchar(64) NOT NULL DEFAULT '',
  ADD COLUMN "marker" varchar(32) NOT NULL DEFAULT '';
CREATE UNIQUE INDEX "idx_pay_charges_account_trade" ON "pay_charges" ("account", "out_trade_no");

ALTER TABLE "pay_refunds"
  ADD COLUMN "account" varchar(96),
  ADD COLUMN "late_payment" boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX "idx_pay_refunds_account_refund" ON "pay_refunds" ("account", "out_refund_no");

ALTER TABLE "pay_notifications"
  ALTER COLUMN "body" TYPE bytea USING convert_to("body", 'UTF8'),
  ADD COLUMN "body_size" bigint NOT NULL DEFAULT 0,
  ADD COLUMN "body_sha256" varchar(64) NOT NULL DEFAULT '';
UPDATE "pay_notifications" SET "body_size" = octet_length("body"), "body_sha256" = encode(sha256("body"), 'hex')
  WHERE "body" IS NOT NULL;

CREATE TABLE "pay_discrepancies" (
  "id" bigserial,
  "dedupe_key" varchar(64) NOT NULL,
  "kind" varchar(48) NOT NULL,
  "source" varchar(16) NOT NULL,
  "app_id" varchar(32) NOT NULL DEFAULT '',
  "provider" varchar(16) NOT NULL,
  "account" varchar(96) NOT NULL DEFAULT '',
  "out_trade_no" varchar(64) NOT NULL DEFAULT '',
  "out_refund_no" varchar(64) NOT NULL DEFAULT '',
  "transaction_id" varchar(64) NOT NULL DEFAULT '',
  "local_amount" bigint NOT NULL DEFAULT 0,
  "channel_amount" bigint NOT NULL DEFAULT 0,
  "detail" varchar(512) NOT NULL DEFAULT '',
  "status" varchar(16) NOT NULL,
  "note" varchar(1024) NOT NULL DEFAULT '',
  "occurrences" bigint NOT NULL DEFAULT 1,
  "resolved_at" timestamptz,
  "created_at" timestamptz,
  "updated_at" timestamptz,
  PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "idx_pay_discrepancies_dedupe_key" ON "pay_discrepancies" ("dedupe_key");
CREATE INDEX "idx_pay_discrepancies_kind" ON "pay_discrepancies" ("kind");
CREATE INDEX "idx_pay_discrepancies_status" ON "pay_discrepancies" ("status");
CREATE INDEX "idx_pay_discrepancies_out_trade_no" ON "pay_discrepancies" ("out_trade_no");
