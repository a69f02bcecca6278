-- A budget may cap what is held at one API at once (`held`): session deposits the API has not drawn yet and
-- refunds still awaited. It names an API as a whole, and has no window. SQLite cannot change a CHECK in
-- place, so the table is made again with the same rows and ids; alerts that name a budget keep naming it.
CREATE TEMP TABLE alert_budgets AS SELECT id, budget_id FROM alerts WHERE budget_id IS NOT NULL;

CREATE TABLE budgets_with_held (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER REFERENCES agents(id) ON DELETE CASCADE,
    host TEXT,
    path_prefix TEXT,
    period TEXT NOT NULL CHECK (period IN ('request', 'day', 'week', 'month', 'rolling', 'lifetime', 'held')),
    rolling_hours INTEGER CHECK (rolling_hours IS NULL OR rolling_hours > 0),
    limit_msat INTEGER NOT NULL CHECK (limit_msat >= 0),
    expires_at_ms INTEGER,
    note TEXT,
    created_at_ms INTEGER NOT NULL,
    limit_currency TEXT,
    limit_micros INTEGER,
    CHECK (path_prefix IS NULL OR host IS NOT NULL),
    CHECK ((period = 'rolling') = (rolling_hours IS NOT NULL)),
    CHECK (period <> 'held' OR (host IS NOT NULL AND path_prefix IS NULL))
);
INSERT INTO budgets_with_held (id, agent_id, host, path_prefix, period, rolling_hours, limit_msat, expires_at_ms,
    note, created_at_ms, limit_currency, limit_micros)
SELECT id, agent_id, host, path_prefix, period, rolling_hours, limit_msat, expires_at_ms, note, created_at_ms,
    limit_currency, limit_micros FROM budgets;
DROP TABLE budgets;
ALTER TABLE budgets_with_held RENAME TO budgets;

UPDATE alerts SET budget_id = (SELECT a.budget_id FROM alert_budgets a WHERE a.id = alerts.id)
WHERE id IN (SELECT id FROM alert_budgets);
DROP TABLE alert_budgets;

CREATE TRIGGER budgets_generation_insert AFTER INSERT ON budgets BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER budgets_generation_update AFTER UPDATE ON budgets BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER budgets_generation_delete AFTER DELETE ON budgets BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

-- The tables changed under any copy kept in memory.
UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
