-- Named values the pay center keeps for itself, such as the generated
-- development app's key and secret (so they survive restarts).

-- +goose Up
CREATE TABLE IF NOT EXISTS `pay_settings` (
  `name` varchar(64),
  `value` text NOT NULL,
  `updated_at` datetime(3) NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
