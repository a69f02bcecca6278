-- The `paying` step: when the wallet was asked to pay a reserved (`pending`) row. A `pending` row without it
-- was never sent; one with it may have been paid, and is resolved with the wallet after a restart.
ALTER TABLE payments ADD COLUMN wallet_asked_at_ms INTEGER;
-- Rows reserved before this step existed were sent to the wallet right away: they may have been paid.
UPDATE payments SET wallet_asked_at_ms = updated_at_ms WHERE status = 'pending';
-- `L402 <token>` (or `LSAT …`) for token proofs, so a payment resolved after a restart still yields its
-- credential for reuse.
ALTER TABLE payments ADD COLUMN proof_prefix TEXT;
CREATE INDEX payments_unresolved ON payments(status) WHERE status IN ('pending', 'unknown');
