-- Daily bill reconciliation: a report per channel account and Beijing day
-- (pay_reconciliations, leased by the process running it), the bill's rows
-- staged while it is compared (pay_bill_rows), the day a bill tied a
-- discrepancy to, and indexes that list an account's payments and refunds
-- of a day. Each table changes in one statement.

-- +goose Up
CREATE TABLE IF NOT EXISTS `pay_reconciliations` (
  `id` bigint AUTO_INCREMENT,
  `provider` varchar(16) NOT NULL,
  `account` varchar(96) NOT NULL,
  `bill_day` varchar(10) NOT NULL,
  `status` varchar(16) NOT NULL,
  `bill_rows` bigint NOT NULL DEFAULT 0,
  `bill_payments` bigint NOT NULL DEFAULT 0,
  `bill_payment_amount` bigint NOT NULL DEFAULT 0,
  `bill_refunds` bigint NOT NULL DEFAULT 0,
  `bill_refund_amount` bigint NOT NULL DEFAULT 0,
  `local_payments` bigint NOT NULL DEFAULT 0,
  `local_payment_amount` bigint NOT NULL DEFAULT 0,
  `local_refunds` bigint NOT NULL DEFAULT 0,
  `local_refund_amount` bigint NOT NULL DEFAULT 0,
  `matched` bigint NOT NULL DEFAULT 0,
  `applied` bigint NOT NULL DEFAULT 0,
  `discrepancies` bigint NOT NULL DEFAULT 0,
  `partial` boolean NOT NULL DEFAULT false,
  `error` varchar(512) NOT NULL DEFAULT '',
  `attempts` bigint NOT NULL DEFAULT 0,
  `next_attempt_at` datetime(3) NULL,
  `lease_until` datetime(3) NULL,
  `lease_token` varchar(32) NOT NULL DEFAULT '',
  `started_at` datetime(3) NULL,
  `finished_at` datetime(3) NULL,
  `created_at` datetime(3) NULL,
  `updated_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE INDEX `idx_pay_reconciliations_account_day` (`account`, `bill_day`),
  INDEX `idx_pay_reconciliations_bill_day` (`bill_day`),
  INDEX `idx_pay_reconciliations_status` (`status`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `pay_bill_rows` (
  `id` bigint AUTO_INCREMENT,
  `reconciliation_id` bigint NOT NULL,
  `line` bigint NOT NULL DEFAULT 0,
  `kind` varchar(8) NOT NULL,
  `out_trade_no` varchar(64) NOT NULL DEFAULT '',
  `out_refund_no` varchar(64) NOT NULL DEFAULT '',
  `transaction_id` varchar(64) NOT NULL DEFAULT '',
  `amount` bigint NOT NULL,
  `occurred_at` datetime(3) NOT NULL,
  `status` varchar(32) NOT NULL DEFAULT '',
  `settled` boolean NOT NULL DEFAULT false,
  `marker` varchar(128) NOT NULL DEFAULT '',
  `has_marker` boolean NOT NULL DEFAULT false,
  PRIMARY KEY (`id`),
  INDEX `idx_pay_bill_rows_trade` (`reconciliation_id`, `out_trade_no`),
  INDEX `idx_pay_bill_rows_refund` (`reconciliation_id`, `out_refund_no`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE `pay_discrepancies`
  ADD COLUMN `bill_day` varchar(10) NOT NULL DEFAULT '',
  ADD INDEX `idx_pay_discrepancies_account_day` (`account`, `bill_day`);

ALTER TABLE `pay_charges` ADD INDEX `idx_pay_charges_account_paid` (`account`, `paid_at`);

ALTER TABLE `pay_refunds` ADD INDEX `idx_pay_refunds_account_refunded` (`account`, `refunded_at`);
