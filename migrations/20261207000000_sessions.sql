-- MPP Lightning sessions: a deposit paid once (its payment row), calls drawn from it, and the close with
-- what the API says it returned and what reached the wallet. `session_id` is the deposit's payment hash;
-- `preimage` proves the session to its API (a secret, like a kept credential). The return invoice's hash
-- is written before the API hears of it, so a refund that arrives is always accounted for.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    origin TEXT NOT NULL,
    host TEXT NOT NULL,
    -- The path the session was opened on: a person's close goes there.
    path TEXT NOT NULL,
    session_id TEXT NOT NULL UNIQUE,
    payment_id INTEGER NOT NULL REFERENCES payments(id),
    deposit_msat INTEGER NOT NULL,
    unit_msat INTEGER NOT NULL,
    drawn_msat INTEGER NOT NULL DEFAULT 0,
    draws INTEGER NOT NULL DEFAULT 0,
    preimage TEXT NOT NULL,
    return_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closing', 'closed', 'ended')),
    refund_claimed_msat INTEGER,
    refund_status TEXT,
    refund_msat INTEGER,
    refund_state TEXT NOT NULL DEFAULT 'none' CHECK (refund_state IN ('none', 'waiting', 'received', 'missing')),
    opened_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER
);
CREATE INDEX sessions_open ON sessions(agent_id, origin, state);
