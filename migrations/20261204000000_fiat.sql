-- Limits and figures in the person's own currency. Sats stay the unit of every payment; a payment's value
-- in a currency is a recorded view: the rate it was decided at, its currency and its source, so history
-- never drifts with the price.
ALTER TABLE payments ADD COLUMN fiat_currency TEXT;
ALTER TABLE payments ADD COLUMN fiat_per_btc REAL;
ALTER TABLE payments ADD COLUMN fiat_source TEXT;
ALTER TABLE payments ADD COLUMN fiat_rate_at_ms INTEGER;

-- A budget set in a currency: `limit_msat` is then unused (0) and the limit is `limit_micros` millionths
-- of `limit_currency`, converted when a payment is decided.
ALTER TABLE budgets ADD COLUMN limit_currency TEXT;
ALTER TABLE budgets ADD COLUMN limit_micros INTEGER;

-- A threshold set in a currency: its limits are millionths of `currency`, converted when a payment is
-- decided; the `*_msat` columns are then unused.
ALTER TABLE thresholds ADD COLUMN currency TEXT;
ALTER TABLE thresholds ADD COLUMN auto_max_micros INTEGER;
ALTER TABLE thresholds ADD COLUMN ask_max_micros INTEGER;
ALTER TABLE thresholds ADD COLUMN confirm_above_micros INTEGER;

