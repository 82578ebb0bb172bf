-- The schema of release 1f555fd, which created these tables with GORM
-- AutoMigrate: same column types and index names, so a database written
-- by that release is adopted as it is (IF NOT EXISTS) and nothing is lost.

-- +goose Up
CREATE TABLE IF NOT EXISTS "pay_charges" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "app_id" text NOT NULL,
  "out_trade_no" text NOT NULL,
  "channel" text NOT NULL,
  "total_fee" integer NOT NULL,
  "fee_type" text NOT NULL,
  "client_ip" text NOT NULL,
  "subject" text NOT NULL,
  "body" text NOT NULL,
  "description" text NOT NULL DEFAULT '',
  "attach" text NOT NULL DEFAULT '',
  "analysis" text,
  "return_url" text NOT NULL DEFAULT '',
  "open_id" text NOT NULL DEFAULT '',
  "created_ms" integer NOT NULL,
  "time_expire" integer NOT NULL,
  "expire_at" datetime NOT NULL,
  "status" text NOT NULL,
  "late_paid" numeric NOT NULL DEFAULT false,
  "channel_params" text,
  "lease_until" datetime,
  "lease_token" text NOT NULL DEFAULT '',
  "transaction_id" text NOT NULL DEFAULT '',
  "paid_at" datetime,
  "closed_at" datetime,
  "refund_reserved" integer NOT NULL DEFAULT 0,
  "refunded_fee" integer NOT NULL DEFAULT 0,
  "next_query_at" datetime,
  "query_count" integer NOT NULL DEFAULT 0,
  "created_at" datetime,
  "updated_at" datetime
);
CREATE UNIQUE INDEX IF NOT EXISTS "idx_pay_charges_app_trade" ON "pay_charges" ("app_id", "out_trade_no");
CREATE INDEX IF NOT EXISTS "idx_pay_charges_expire_at" ON "pay_charges" ("expire_at");
CREATE INDEX IF NOT EXISTS "idx_pay_charges_status" ON "pay_charges" ("status");
CREATE INDEX IF NOT EXISTS "idx_pay_charges_next_query_at" ON "pay_charges" ("next_query_at");

CREATE TABLE IF NOT EXISTS "pay_refunds" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "app_id" text NOT NULL,
  "out_refund_no" text NOT NULL,
  "charge_id" integer NOT NULL,
  "out_trade_no" text NOT NULL,
  "refund_fee" integer NOT NULL,
  "refund_desc" text NOT NULL DEFAULT '',
  "status" text NOT NULL,
  "submitted" numeric NOT NULL DEFAULT false,
  "lease_until" datetime,
  "lease_token" text NOT NULL DEFAULT '',
  "fail_reason" text NOT NULL DEFAULT '',
  "refunded_at" datetime,
  "next_check_at" datetime,
  "check_count" integer NOT NULL DEFAULT 0,
  "created_at" datetime,
  "updated_at" datetime
);
CREATE UNIQUE INDEX IF NOT EXISTS "idx_pay_refunds_app_refund" ON "pay_refunds" ("app_id", "out_refund_no");
CREATE INDEX IF NOT EXISTS "idx_pay_refunds_charge_id" ON "pay_refunds" ("charge_id");
CREATE INDEX IF NOT EXISTS "idx_pay_refunds_status" ON "pay_refunds" ("status");
CREATE INDEX IF NOT EXISTS "idx_pay_refunds_next_check_at" ON "pay_refunds" ("next_check_at");

CREATE TABLE IF NOT EXISTS "pay_nonces" (
  "app_id" text,
  "nonce" text,
  "expires_at" datetime NOT NULL,
  PRIMARY KEY ("app_id", "nonce")
);
CREATE INDEX IF NOT EXISTS "idx_pay_nonces_expires_at" ON "pay_nonces" ("expires_at");

CREATE TABLE IF NOT EXISTS "pay_notifications" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "app_id" text NOT NULL,
  "provider" text NOT NULL,
  "path" text NOT NULL,
  "out_trade_no" text NOT NULL DEFAULT '',
  "headers" text,
  "body" text,
  "accepted" numeric NOT NULL,
  "error" text NOT NULL DEFAULT '',
  "created_at" datetime
);
CREATE INDEX IF NOT EXISTS "idx_pay_notifications_app_id" ON "pay_notifications" ("app_id");
CREATE INDEX IF NOT EXISTS "idx_pay_notifications_out_trade_no" ON "pay_notifications" ("out_trade_no");

CREATE TABLE IF NOT EXISTS "pay_deliveries" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "event_id" text NOT NULL,
  "app_id" text NOT NULL,
  "type" text NOT NULL,
  "target" text NOT NULL,
  "charge_id" integer NOT NULL,
  "refund_id" integer NOT NULL DEFAULT 0,
  "url" text NOT NULL DEFAULT '',
  "body" text,
  "status" text NOT NULL,
  "next_attempt_at" datetime NOT NULL,
  "attempts" integer NOT NULL DEFAULT 0,
  "lease_until" datetime,
  "lease_token" text NOT NULL DEFAULT '',
  "last_status" integer NOT NULL DEFAULT 0,
  "last_error" text NOT NULL DEFAULT '',
  "last_attempt_at" datetime,
  "delivered_at" datetime,
  "created_at" datetime,
  "updated_at" datetime
);
CREATE INDEX IF NOT EXISTS "idx_pay_deliveries_event_id" ON "pay_deliveries" ("event_id");
CREATE INDEX IF NOT EXISTS "idx_pay_deliveries_app_id" ON "pay_deliveries" ("app_id");
CREATE INDEX IF NOT EXISTS "idx_pay_deliveries_due" ON "pay_deliveries" ("status", "next_attempt_at");
