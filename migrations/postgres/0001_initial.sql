-- The schema of release 1f555fd, which created these tables with GORM
-- AutoMigrate: same column types and index names, so a database written
-- by that release is adopted as it is (IF NOT EXISTS) and nothing is lost.

-- +goose Up
CREATE TABLE IF NOT EXISTS "pay_charges" (
  "id" bigserial,
  "app_id" varchar(32) NOT NULL,
  "out_trade_no" varchar(32) NOT NULL,
  "channel" varchar(16) NOT NULL,
  "total_fee" bigint NOT NULL,
  "fee_type" varchar(8) NOT NULL,
  "client_ip" varchar(64) NOT NULL,
  "subject" varchar(512) NOT NULL,
  "body" varchar(512) NOT NULL,
  "description" varchar(1024) NOT NULL DEFAULT '',
  "attach" varchar(128) NOT NULL DEFAULT '',
  "analysis" text,
  "return_url" varchar(2048) NOT NULL DEFAULT '',
  "open_id" varchar(128) NOT NULL DEFAULT '',
  "created_ms" bigint NOT NULL,
  "time_expire" bigint NOT NULL,
  "expire_at" timestamptz NOT NULL,
  "status" varchar(16) NOT NULL,
  "late_paid" boolean NOT NULL DEFAULT false,
  "channel_params" text,
  "lease_until" timestamptz,
  "lease_token" varchar(32) NOT NULL DEFAULT '',
  "transaction_id" varchar(64) NOT NULL DEFAULT '',
  "paid_at" timestamptz,
  "closed_at" timestamptz,
  "refund_reserved" bigint NOT NULL DEFAULT 0,
  "refunded_fee" bigint NOT NULL DEFAULT 0,
  "next_query_at" timestamptz,
  "query_count" bigint NOT NULL DEFAULT 0,
  "created_at" timestamptz,
  "updated_at" timestamptz,
  PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "idx_pay_charges_next_query_at" ON "pay_charges" ("next_query_at");
CREATE INDEX IF NOT EXISTS "idx_pay_charges_status" ON "pay_charges" ("status");
CREATE INDEX IF NOT EXISTS "idx_pay_charges_expire_at" ON "pay_charges" ("expire_at");
CREATE UNIQUE INDEX IF NOT EXISTS "idx_pay_charges_app_trade" ON "pay_charges" ("app_id", "out_trade_no");

CREATE TABLE IF NOT EXISTS "pay_refunds" (
  "id" bigserial,
  "app_id" varchar(32) NOT NULL,
  "out_refund_no" varchar(64) NOT NULL,
  "charge_id" bigint NOT NULL,
  "out_trade_no" varchar(32) NOT NULL,
  "refund_fee" bigint NOT NULL,
  "refund_desc" varchar(320) NOT NULL DEFAULT '',
  "status" varchar(16) NOT NULL,
  "submitted" boolean NOT NULL DEFAULT false,
  "lease_until" timestamptz,
  "lease_token" varchar(32) NOT NULL DEFAULT '',
  "fail_reason" varchar(512) NOT NULL DEFAULT '',
  "refunded_at" timestamptz,
  "next_check_at" timestamptz,
  "check_count" bigint NOT NULL DEFAULT 0,
  "created_at" timestamptz,
  "updated_at" timestamptz,
  PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "idx_pay_refunds_next_check_at" ON "pay_refunds" ("next_check_at");
CREATE INDEX IF NOT EXISTS "idx_pay_refunds_status" ON "pay_refunds" ("status");
CREATE INDEX IF NOT EXISTS "idx_pay_refunds_charge_id" ON "pay_refunds" ("charge_id");
CREATE UNIQUE INDEX IF NOT EXISTS "idx_pay_refunds_app_refund" ON "pay_refunds" ("app_id", "out_refund_no");

CREATE TABLE IF NOT EXISTS "pay_nonces" (
  "app_id" varchar(32),
  "nonce" varchar(64),
  "expires_at" timestamptz NOT NULL,
  PRIMARY KEY ("app_id", "nonce")
);
CREATE INDEX IF NOT EXISTS "idx_pay_nonces_expires_at" ON "pay_nonces" ("expires_at");

CREATE TABLE IF NOT EXISTS "pay_notifications" (
  "id" bigserial,
  "app_id" varchar(32) NOT NULL,
  "provider" varchar(16) NOT NULL,
  "path" varchar(64) NOT NULL,
  "out_trade_no" varchar(32) NOT NULL DEFAULT '',
  "headers" text,
  "body" text,
  "accepted" boolean NOT NULL,
  "error" varchar(512) NOT NULL DEFAULT '',
  "created_at" timestamptz,
  PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "idx_pay_notifications_out_trade_no" ON "pay_notifications" ("out_trade_no");
CREATE INDEX IF NOT EXISTS "idx_pay_notifications_app_id" ON "pay_notifications" ("app_id");

CREATE TABLE IF NOT EXISTS "pay_deliveries" (
  "id" bigserial,
  "event_id" varchar(40) NOT NULL,
  "app_id" varchar(32) NOT NULL,
  "type" varchar(32) NOT NULL,
  "target" varchar(16) NOT NULL,
  "charge_id" bigint NOT NULL,
  "refund_id" bigint NOT NULL DEFAULT 0,
  "url" varchar(2048) NOT NULL DEFAULT '',
  "body" text,
  "status" varchar(16) NOT NULL,
  "next_attempt_at" timestamptz NOT NULL,
  "attempts" bigint NOT NULL DEFAULT 0,
  "lease_until" timestamptz,
  "lease_token" varchar(32) NOT NULL DEFAULT '',
  "last_status" bigint NOT NULL DEFAULT 0,
  "last_error" varchar(512) NOT NULL DEFAULT '',
  "last_attempt_at" timestamptz,
  "delivered_at" timestamptz,
  "created_at" timestamptz,
  "updated_at" timestamptz,
  PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "idx_pay_deliveries_due" ON "pay_deliveries" ("status", "next_attempt_at");
CREATE INDEX IF NOT EXISTS "idx_pay_deliveries_app_id" ON "pay_deliveries" ("app_id");
CREATE INDEX IF NOT EXISTS "idx_pay_deliveries_event_id" ON "pay_deliveries" ("event_id");
