-- Agents that may use the proxy. Only a hash of each key is kept.
CREATE TABLE agents (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_sha256 TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);

-- One row per payment attempt Purser decided on. A row is written before the wallet is asked.
-- status: pending (reserved, wallet asked or about to be), settled, failed (the wallet said no),
-- unknown (asked, no answer: still counted against limits), bad_preimage (paid, proof invalid),
-- refused (Purser did not pay: failure_reason says why).
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    method TEXT NOT NULL,
    scheme TEXT NOT NULL,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    challenge_kind TEXT NOT NULL,
    amount_msat INTEGER,
    fee_msat INTEGER,
    fee_reserve_msat INTEGER NOT NULL DEFAULT 0,
    payment_hash TEXT,
    invoice TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'settled', 'failed', 'unknown', 'bad_preimage', 'refused')),
    failure_reason TEXT,
    decision TEXT NOT NULL,
    preimage TEXT,
    upstream_status INTEGER,
    delivered INTEGER,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

-- The same invoice is never in flight or paid twice.
CREATE UNIQUE INDEX payments_live_hash ON payments(payment_hash)
    WHERE status IN ('pending', 'settled', 'unknown', 'bad_preimage');
CREATE INDEX payments_agent ON payments(agent_id, status);
CREATE INDEX payments_created ON payments(created_at_ms);
CREATE INDEX payments_request ON payments(request_id);

-- Proofs of payment kept for reuse, per agent and origin, until the server rejects them. `path` is where
-- the proof was earned: a later request prefers the proof earned on its own path.
CREATE TABLE credentials (
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    origin TEXT NOT NULL,
    path TEXT NOT NULL,
    authorization TEXT NOT NULL,
    payment_id INTEGER REFERENCES payments(id),
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (agent_id, origin, path)
);
