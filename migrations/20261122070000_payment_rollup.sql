-- Running totals of the payments per agent, API, status and delivery, kept by triggers in the same
-- transaction as each payment write, so the UI's per-API and per-agent summaries and its page counts read a
-- few hundred rows instead of every payment. `delivered` is -1 where the payment's is NULL.
CREATE TABLE payment_rollup (
    agent_id INTEGER NOT NULL,
    host TEXT NOT NULL,
    status TEXT NOT NULL,
    delivered INTEGER NOT NULL,
    payments INTEGER NOT NULL,
    -- Sums of the payments' amount_msat and fee_msat (NULL counted as 0), and how many had an amount.
    amount_msat INTEGER NOT NULL,
    amount_count INTEGER NOT NULL,
    fee_msat INTEGER NOT NULL,
    PRIMARY KEY (agent_id, host, status, delivered)
) WITHOUT ROWID;

INSERT INTO payment_rollup
SELECT agent_id, host, status, COALESCE(delivered, -1), COUNT(*), COALESCE(SUM(amount_msat), 0), COUNT(amount_msat),
       COALESCE(SUM(fee_msat), 0)
FROM payments GROUP BY agent_id, host, status, COALESCE(delivered, -1);

CREATE TRIGGER payment_rollup_insert AFTER INSERT ON payments BEGIN
    INSERT INTO payment_rollup VALUES (NEW.agent_id, NEW.host, NEW.status, COALESCE(NEW.delivered, -1), 1,
        COALESCE(NEW.amount_msat, 0), NEW.amount_msat IS NOT NULL, COALESCE(NEW.fee_msat, 0))
    ON CONFLICT DO UPDATE SET payments = payments + 1, amount_msat = amount_msat + excluded.amount_msat,
        amount_count = amount_count + excluded.amount_count, fee_msat = fee_msat + excluded.fee_msat;
END;

CREATE TRIGGER payment_rollup_update AFTER UPDATE OF agent_id, host, status, delivered, amount_msat, fee_msat
ON payments BEGIN
    UPDATE payment_rollup SET payments = payments - 1, amount_msat = amount_msat - COALESCE(OLD.amount_msat, 0),
        amount_count = amount_count - (OLD.amount_msat IS NOT NULL), fee_msat = fee_msat - COALESCE(OLD.fee_msat, 0)
    WHERE agent_id = OLD.agent_id AND host = OLD.host AND status = OLD.status
        AND delivered = COALESCE(OLD.delivered, -1);
    INSERT INTO payment_rollup VALUES (NEW.agent_id, NEW.host, NEW.status, COALESCE(NEW.delivered, -1), 1,
        COALESCE(NEW.amount_msat, 0), NEW.amount_msat IS NOT NULL, COALESCE(NEW.fee_msat, 0))
    ON CONFLICT DO UPDATE SET payments = payments + 1, amount_msat = amount_msat + excluded.amount_msat,
        amount_count = amount_count + excluded.amount_count, fee_msat = fee_msat + excluded.fee_msat;
END;

CREATE TRIGGER payment_rollup_delete AFTER DELETE ON payments BEGIN
    UPDATE payment_rollup SET payments = payments - 1, amount_msat = amount_msat - COALESCE(OLD.amount_msat, 0),
        amount_count = amount_count - (OLD.amount_msat IS NOT NULL), fee_msat = fee_msat - COALESCE(OLD.fee_msat, 0)
    WHERE agent_id = OLD.agent_id AND host = OLD.host AND status = OLD.status
        AND delivered = COALESCE(OLD.delivered, -1);
END;
