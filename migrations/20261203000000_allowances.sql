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
    summary TEXT
);
CREATE INDEX allowances_agent ON allowances(agent_id, state);

ALTER TABLE payments ADD COLUMN allowance_id INTEGER REFERENCES allowances(id);
CREATE INDEX payments_allowance ON payments(allowance_id) WHERE allowance_id IS NOT NULL;
