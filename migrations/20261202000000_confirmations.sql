-- The confirm tier: above this many msats, a payment needs the person's passphrase (or the typed amount).
ALTER TABLE thresholds ADD COLUMN confirm_above_msat INTEGER;
