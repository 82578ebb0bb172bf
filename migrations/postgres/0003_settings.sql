-- Named values the pay center keeps for itself, such as the generated
-- development app's key and secret (so they survive restarts).

-- +goose Up
CREATE TABLE "pay_settings" (
  "name" varchar(64),
  "value" text NOT NULL,
  "updated_at" timestamptz,
  PRIMARY KEY ("name")
);
