-- The workers find what is due from three indexed columns: a delivery's
-- next_attempt_at, a charge's next_query_at (its next look: expiry, an
-- active query, a close to confirm) and a refund's next_check_at. Rows of
-- earlier releases are brought in line: an open charge is looked at by its
-- expiry at the latest; a paid charge and a final refund never again.

-- +goose Up
UPDATE `pay_charges` SET `next_query_at` = `expire_at` WHERE `status` = 'CREATED' AND `next_query_at` IS NULL;
UPDATE `pay_charges` SET `next_query_at` = NULL WHERE `status` = 'PAID' AND `next_query_at` IS NOT NULL;
UPDATE `pay_refunds` SET `next_check_at` = NULL WHERE `status` IN ('SUCCESS', 'FAILED') AND `next_check_at` IS NOT NULL;
