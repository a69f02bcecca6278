-- Task allowances: a maximum a person approves once for one agent's task, with a time limit. `state` is what
-- was decided (requested, active, denied, closed); expired and exhausted are read from the clock and the
-- payments that carry the allowance.
CREATE TABLE allowances (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    purpose TEXT NOT NULL,
    asked_max_msat INTEGER NOT NULL,
    max_msat INTEGER NOT NULL,
    per_payment_max_msat INTEGER,
    -- JSON list of {"host", "path_prefix"}; empty: every API.
    scopes TEXT NOT NULL DEFAULT '[]',
    asked_duration_ms INTEGER NOT NULL,
    -- JSON: the calls the agent planned and the quote the person saw; null when none.
    plan TEXT,
    state TEXT NOT NULL CHECK (state IN ('requested', 'active', 'denied', 'closed')),
    -- Approved with the passphrase (or the typed amount): it covers payments in the confirm tier.
    confirmed INTEGER NOT NULL DEFAULT 0,
    opened_by TEXT NOT NULL CHECK (opened_by IN ('agent', 'person')),
    created_at_ms INTEGER NOT NULL,
    decided_at_ms INTEGER,
    expires_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER,
    closed_by TEXT,
    -- JSON: spent, calls, APIs, delivered or not, written when it closes.
    summary TEXT,
    -- What its payments spent or hold back (amounts, fees, fee reserves in flight), kept by the triggers
    -- below in the same transaction as every payment change, so a reservation reads it in one row.
    used_msat INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX allowances_agent ON allowances(agent_id, state);

ALTER TABLE payments ADD COLUMN allowance_id INTEGER REFERENCES allowances(id);
-- What one payment row takes from its allowance, as budgets count it: amount and fee once settled (or in
-- doubt), amount and the larger of fee and fee reserve while in flight, nothing otherwise.
ALTER TABLE payments ADD COLUMN allowance_take_msat INTEGER GENERATED ALWAYS AS (
    CASE WHEN status IN ('pending', 'settled', 'unknown', 'bad_preimage') THEN COALESCE(amount_msat, 0)
        + CASE WHEN status IN ('pending', 'unknown')
            THEN MAX(COALESCE(fee_msat, 0), COALESCE(fee_reserve_msat, 0)) ELSE COALESCE(fee_msat, 0) END
    ELSE 0 END) VIRTUAL;
CREATE TRIGGER allowance_use_insert AFTER INSERT ON payments WHEN NEW.allowance_id IS NOT NULL BEGIN
    UPDATE allowances SET used_msat = used_msat + NEW.allowance_take_msat WHERE id = NEW.allowance_id;
END;
CREATE TRIGGER allowance_use_update AFTER UPDATE OF allowance_id, status, amount_msat, fee_msat, fee_reserve_msat
    ON payments WHEN OLD.allowance_id IS NOT NULL OR NEW.allowance_id IS NOT NULL BEGIN
    UPDATE allowances SET used_msat = used_msat - OLD.allowance_take_msat WHERE id = OLD.allowance_id;
    UPDATE allowances SET used_msat = used_msat + NEW.allowance_take_msat WHERE id = NEW.allowance_id;
END;
CREATE TRIGGER allowance_use_delete AFTER DELETE ON payments WHEN OLD.allowance_id IS NOT NULL BEGIN
    UPDATE allowances SET used_msat = used_msat - OLD.allowance_take_msat WHERE id = OLD.allowance_id;
END;
CREATE INDEX payments_allowance ON payments(allowance_id) WHERE allowance_id IS NOT NULL;
