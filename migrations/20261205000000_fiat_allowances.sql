-- A task allowance set in a currency: its maxima are millionths of `currency` (the `*_msat` maxima then 0),
-- converted when each payment is decided; what it used counts each payment at its recorded rate.
ALTER TABLE allowances ADD COLUMN currency TEXT;
ALTER TABLE allowances ADD COLUMN asked_max_micros INTEGER;
ALTER TABLE allowances ADD COLUMN max_micros INTEGER;
ALTER TABLE allowances ADD COLUMN per_payment_max_micros INTEGER;
