-- The spending policy: budgets, thresholds, remembered approvals, pauses, circuit breakers and alerts.
-- A scope is (agent_id, host, path_prefix); NULL means "any". A path prefix needs a host.

CREATE TABLE budgets (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER REFERENCES agents(id) ON DELETE CASCADE,
    host TEXT,
    path_prefix TEXT,
    period TEXT NOT NULL CHECK (period IN ('request', 'day', 'week', 'month', 'rolling', 'lifetime')),
    rolling_hours INTEGER CHECK (rolling_hours IS NULL OR rolling_hours > 0),
    limit_msat INTEGER NOT NULL CHECK (limit_msat >= 0),
    expires_at_ms INTEGER,
    note TEXT,
    created_at_ms INTEGER NOT NULL,
    CHECK (path_prefix IS NULL OR host IS NOT NULL),
    CHECK ((period = 'rolling') = (rolling_hours IS NOT NULL))
);

CREATE TABLE thresholds (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER REFERENCES agents(id) ON DELETE CASCADE,
    host TEXT,
    path_prefix TEXT,
    auto_max_msat INTEGER NOT NULL CHECK (auto_max_msat >= 0),
    ask_max_msat INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    CHECK (ask_max_msat >= auto_max_msat),
    CHECK (path_prefix IS NULL OR host IS NOT NULL)
);
CREATE UNIQUE INDEX thresholds_scope ON thresholds(COALESCE(agent_id, 0), COALESCE(host, ''), COALESCE(path_prefix, ''));

-- "Approve this API up to N sats per day for this agent", remembered from an approval or added by hand.
CREATE TABLE rules (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    path_prefix TEXT,
    max_msat_per_day INTEGER NOT NULL CHECK (max_msat_per_day > 0),
    source TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);

ALTER TABLE agents ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- An endpoint whose payments do not deliver is tripped until reset or until the cool-down passes.
CREATE TABLE breakers (
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    tripped_at_ms INTEGER NOT NULL,
    PRIMARY KEY (host, path)
);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    agent_id INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    host TEXT,
    budget_id INTEGER REFERENCES budgets(id) ON DELETE SET NULL,
    payment_id INTEGER REFERENCES payments(id),
    message TEXT NOT NULL,
    -- Makes "once per crossing" a constraint: e.g. budget 3, 80 %, window starting at T.
    dedupe_key TEXT UNIQUE,
    created_at_ms INTEGER NOT NULL
);

-- Safe first-run defaults: pay up to 10 sats at once, ask a person up to 1,000, refuse above;
-- at most 5,000 sats a day from the whole wallet.
INSERT INTO thresholds (agent_id, host, path_prefix, auto_max_msat, ask_max_msat, created_at_ms)
    VALUES (NULL, NULL, NULL, 10000, 1000000, 0);
INSERT INTO budgets (agent_id, host, path_prefix, period, limit_msat, note, created_at_ms)
    VALUES (NULL, NULL, NULL, 'day', 5000000, 'first-run default', 0);
