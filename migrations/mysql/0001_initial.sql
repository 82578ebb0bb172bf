-- The schema of release 1f555fd, which created these tables with GORM
-- AutoMigrate: same column types and index names, so a database written
-- by that release is adopted as it is (IF NOT EXISTS; MySQL 8 has no
-- CREATE INDEX IF NOT EXISTS, so the indexes are declared in the tables)
-- and nothing is lost.

-- +goose Up
CREATE TABLE IF NOT EXISTS `pay_charges` (
  `id` bigint AUTO_INCREMENT,
  `app_id` varchar(32) NOT NULL,
  `out_trade_no` varchar(32) NOT NULL,
  `channel` varchar(16) NOT NULL,
  `total_fee` bigint NOT NULL,
  `fee_type` varchar(8) NOT NULL,
  `client_ip` varchar(64) NOT NULL,
  `subject` varchar(512) NOT NULL,
  `body` varchar(512) NOT NULL,
  `description` varchar(1024) NOT NULL DEFAULT '',
  `attach` varchar(128) NOT NULL DEFAULT '',
  `analysis` text,
  `return_url` varchar(2048) NOT NULL DEFAULT '',
  `open_id` varchar(128) NOT NULL DEFAULT '',
  `created_ms` bigint NOT NULL,
  `time_expire` bigint NOT NULL,
  `expire_at` datetime(3) NOT NULL,
  `status` varchar(16) NOT NULL,
  `late_paid` boolean NOT NULL DEFAULT false,
  `channel_params` text,
  `lease_until` datetime(3) NULL,
  `lease_token` varchar(32) NOT NULL DEFAULT '',
  `transaction_id` varchar(64) NOT NULL DEFAULT '',
  `paid_at` datetime(3) NULL,
  `closed_at` datetime(3) NULL,
  `refund_reserved` bigint NOT NULL DEFAULT 0,
  `refunded_fee` bigint NOT NULL DEFAULT 0,
  `next_query_at` datetime(3) NULL,
  `query_count` bigint NOT NULL DEFAULT 0,
  `created_at` datetime(3) NULL,
  `updated_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE INDEX `idx_pay_charges_app_trade` (`app_id`, `out_trade_no`),
  INDEX `idx_pay_charges_expire_at` (`expire_at`),
  INDEX `idx_pay_charges_status` (`status`),
  INDEX `idx_pay_charges_next_query_at` (`next_query_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `pay_refunds` (
  `id` bigint AUTO_INCREMENT,
  `app_id` varchar(32) NOT NULL,
  `out_refund_no` varchar(64) NOT NULL,
  `charge_id` bigint NOT NULL,
  `out_trade_no` varchar(32) NOT NULL,
  `refund_fee` bigint NOT NULL,
  `refund_desc` varchar(320) NOT NULL DEFAULT '',
  `status` varchar(16) NOT NULL,
  `submitted` boolean NOT NULL DEFAULT false,
  `lease_until` datetime(3) NULL,
  `lease_token` varchar(32) NOT NULL DEFAULT '',
  `fail_reason` varchar(512) NOT NULL DEFAULT '',
  `refunded_at` datetime(3) NULL,
  `next_check_at` datetime(3) NULL,
  `check_count` bigint NOT NULL DEFAULT 0,
  `created_at` datetime(3) NULL,
  `updated_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE INDEX `idx_pay_refunds_app_refund` (`app_id`, `out_refund_no`),
  INDEX `idx_pay_refunds_charge_id` (`charge_id`),
  INDEX `idx_pay_refunds_status` (`status`),
  INDEX `idx_pay_refunds_next_check_at` (`next_check_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `pay_nonces` (
  `app_id` varchar(32),
  `nonce` varchar(64),
  `expires_at` datetime(3) NOT NULL,
  PRIMARY KEY (`app_id`, `nonce`),
  INDEX `idx_pay_nonces_expires_at` (`expires_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `pay_notifications` (
  `id` bigint AUTO_INCREMENT,
  `app_id` varchar(32) NOT NULL,
  `provider` varchar(16) NOT NULL,
  `path` varchar(64) NOT NULL,
  `out_trade_no` varchar(32) NOT NULL DEFAULT '',
  `headers` text,
  `body` text,
  `accepted` boolean NOT NULL,
  `error` varchar(512) NOT NULL DEFAULT '',
  `created_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  INDEX `idx_pay_notifications_app_id` (`app_id`),
  INDEX `idx_pay_notifications_out_trade_no` (`out_trade_no`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `pay_deliveries` (
  `id` bigint AUTO_INCREMENT,
  `event_id` varchar(40) NOT NULL,
  `app_id` varchar(32) NOT NULL,
  `type` varchar(32) NOT NULL,
  `target` varchar(16) NOT NULL,
  `charge_id` bigint NOT NULL,
  `refund_id` bigint NOT NULL DEFAULT 0,
  `url` varchar(2048) NOT NULL DEFAULT '',
  `body` text,
  `status` varchar(16) NOT NULL,
  `next_attempt_at` datetime(3) NOT NULL,
  `attempts` bigint NOT NULL DEFAULT 0,
  `lease_until` datetime(3) NULL,
  `lease_token` varchar(32) NOT NULL DEFAULT '',
  `last_status` bigint NOT NULL DEFAULT 0,
  `last_error` varchar(512) NOT NULL DEFAULT '',
  `last_attempt_at` datetime(3) NULL,
  `delivered_at` datetime(3) NULL,
  `created_at` datetime(3) NULL,
  `updated_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  INDEX `idx_pay_deliveries_event_id` (`event_id`),
  INDEX `idx_pay_deliveries_app_id` (`app_id`),
  INDEX `idx_pay_deliveries_due` (`status`, `next_attempt_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Order, refund and nonce numbers are case-sensitive. Tables created before
-- release 1aaceee (and kept by 1f555fd) have the database's default,
-- case-insensitive collation, under which "abcd1234" and "ABCD1234" are one
-- order: convert every table to the binary collation. No row is lost: a
-- unique key under the case-insensitive collation is also unique under the
-- binary one.
ALTER TABLE `pay_charges` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE `pay_refunds` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE `pay_nonces` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE `pay_notifications` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE `pay_deliveries` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
