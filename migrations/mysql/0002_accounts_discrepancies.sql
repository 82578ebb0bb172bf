-- Money safety: charges and refunds belong to a channel account whose
-- number space the database enforces; charges carry their echoed marker and
-- the number of a late payment's automatic refund; notification bodies are
-- bytes (LONGBLOB: an accepted notification is kept whole, over TEXT's
-- 64 KiB) with their size and SHA-256; discrepancies with the channels are
-- recorded for a person. Rows of earlier releases keep a NULL account.
-- Each table changes in one ALTER statement.

-- +goose Up
ALTER TABLE `pay_charges`
  ADD COLUMN `account` varchar(96) NULL,
  ADD COLUMN `late_refund_no` varchar(64) NOT NULL DEFAULT '',
  ADD COLUMN `marker` varchar(32) NOT NULL DEFAULT '',
  ADD UNIQUE INDEX `idx_pay_charges_account_trade` (`account`, `out_trade_no`);

ALTER TABLE `pay_refunds`
  ADD COLUMN `account` varchar(96) NULL,
  ADD COLUMN `late_payment` boolean NOT NULL DEFAULT false,
  ADD UNIQUE INDEX `idx_pay_refunds_account_refund` (`account`, `out_refund_no`);

ALTER TABLE `pay_notifications`
  MODIFY COLUMN `body` longblob,
  ADD COLUMN `body_size` bigint NOT NULL DEFAULT 0,
  ADD COLUMN `body_sha256` varchar(64) NOT NULL DEFAULT '';
UPDATE `pay_notifications` SET `body_size` = LENGTH(`body`), `body_sha256` = SHA2(`body`, 256)
  WHERE `body` IS NOT NULL;

CREATE TABLE IF NOT EXISTS `pay_discrepancies` (
  `id` bigint AUTO_INCREMENT,
  `dedupe_key` varchar(64) NOT NULL,
  `kind` varchar(48) NOT NULL,
  `source` varchar(16) NOT NULL,
  `app_id` varchar(32) NOT NULL DEFAULT '',
  `provider` varchar(16) NOT NULL,
  `account` varchar(96) NOT NULL DEFAULT '',
  `out_trade_no` varchar(64) NOT NULL DEFAULT '',
  `out_refund_no` varchar(64) NOT NULL DEFAULT '',
  `transaction_id` varchar(64) NOT NULL DEFAULT '',
  `local_amount` bigint NOT NULL DEFAULT 0,
  `channel_amount` bigint NOT NULL DEFAULT 0,
  `detail` varchar(512) NOT NULL DEFAULT '',
  `status` varchar(16) NOT NULL,
  `note` varchar(1024) NOT NULL DEFAULT '',
  `occurrences` bigint NOT NULL DEFAULT 1,
  `resolved_at` datetime(3) NULL,
  `created_at` datetime(3) NULL,
  `updated_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE INDEX `idx_pay_discrepancies_dedupe_key` (`dedupe_key`),
  INDEX `idx_pay_discrepancies_kind` (`kind`),
  INDEX `idx_pay_discrepancies_status` (`status`),
  INDEX `idx_pay_discrepancies_out_trade_no` (`out_trade_no`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
