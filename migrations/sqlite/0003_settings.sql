-- Named values the pay center keeps for itself, such as the generated
-- development app's key and secret (so they survive restarts).

-- +goose Up
CREATE TABLE "pay_settings" (
  "name" text,
  "value" text NOT NULL,
  "updated_at" datetime,
  PRIMARY KEY ("name")
);
