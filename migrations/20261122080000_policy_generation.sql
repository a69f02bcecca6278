-- A counter that every change to budgets, thresholds and rules bumps, by trigger in the same transaction, so
-- the payment path can keep those tables in memory and learn whether its copy is current from the one
-- statement it reads anyway (with the pause switches).
INSERT OR IGNORE INTO settings (key, value) VALUES ('policy_generation', '0');

CREATE TRIGGER budgets_generation_insert AFTER INSERT ON budgets BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER budgets_generation_update AFTER UPDATE ON budgets BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER budgets_generation_delete AFTER DELETE ON budgets BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER thresholds_generation_insert AFTER INSERT ON thresholds BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER thresholds_generation_update AFTER UPDATE ON thresholds BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER thresholds_generation_delete AFTER DELETE ON thresholds BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER rules_generation_insert AFTER INSERT ON rules BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER rules_generation_update AFTER UPDATE ON rules BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;

CREATE TRIGGER rules_generation_delete AFTER DELETE ON rules BEGIN
    UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'policy_generation';
END;
