-- Two roles for a team's logins (roles belong to the whole server, so a second ledger database on it finds
-- them made): `purser_serving` for the instances that serve agents, which reserve and record payments and
-- may not change policy, keys or allowances, nor decide approvals; `purser_supervisor` for the people's
-- desktops and command lines, which may do everything. A login is made a member of one:
--   CREATE ROLE build_box LOGIN PASSWORD '…' IN ROLE purser_serving;
DO $$
BEGIN
    BEGIN
        CREATE ROLE purser_serving NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE purser_supervisor NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
END $$;

GRANT USAGE ON SCHEMA public TO purser_serving, purser_supervisor;
-- Supervisors also bring the schema up to date when a newer Purser first connects.
GRANT CREATE ON SCHEMA public TO purser_supervisor;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO purser_supervisor;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO purser_supervisor;

-- Serving instances read everything a decision reads, and write only what serving writes: new payment rows
-- and their outcome (not their amount, agent, time or allowance), tunnels, kept proofs, alerts, breakers,
-- published prices, and allowances as an agent may (checked row by row below).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO purser_serving;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO purser_serving;
GRANT INSERT ON payments TO purser_serving;
GRANT UPDATE (status, failure_reason, preimage, fee_msat, updated_at_ms, upstream_status, delivered, receipt,
    wallet_asked_at_ms) ON payments TO purser_serving;
GRANT INSERT, UPDATE ON uninspected TO purser_serving;
GRANT INSERT, UPDATE, DELETE ON credentials TO purser_serving;
GRANT INSERT ON alerts TO purser_serving;
GRANT INSERT, UPDATE ON breakers TO purser_serving;
GRANT INSERT, DELETE ON prices TO purser_serving;
GRANT INSERT, UPDATE ON allowances TO purser_serving;

-- What the triggers keep (running totals, an allowance's use, the policy's generation) is written with the
-- schema owner's rights, so serving instances need none on those tables or columns themselves. Every
-- function names its search path, temporary objects last, so a session cannot put its own in their way.
ALTER FUNCTION payment_rollup_change() SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION allowance_use_change() SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION policy_generation_bump() SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION notify_change() SET search_path = pg_catalog, public, pg_temp;

-- Whether the session may do what only a person may: a supervisor, or the schema's owner (who made it, and
-- whose rights the triggers above run with).
CREATE FUNCTION purser_is_supervisor() RETURNS BOOLEAN LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_catalog.pg_has_role(current_user, 'purser_supervisor', 'MEMBER')
        OR current_user = (SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class
                           WHERE oid = 'public.allowances'::pg_catalog.regclass)
$$;

-- A serving login asks for an allowance (as requested, nothing used) and closes one; nothing else.
CREATE FUNCTION allowances_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF purser_is_supervisor() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' AND (NEW.state <> 'requested' OR NEW.confirmed <> 0 OR NEW.used_msat <> 0
        OR NEW.max_msat <> NEW.asked_max_msat OR NEW.max_micros IS DISTINCT FROM NEW.asked_max_micros
        OR NEW.decided_at_ms IS NOT NULL) THEN
        RAISE EXCEPTION 'only a supervisor opens an active allowance' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND (
        (NEW.state IS DISTINCT FROM OLD.state AND NEW.state <> 'closed')
        OR NEW.expires_at_ms > OLD.expires_at_ms
        OR ROW(NEW.agent_id, NEW.purpose, NEW.asked_max_msat, NEW.max_msat, NEW.per_payment_max_msat, NEW.scopes,
               NEW.asked_duration_ms, NEW.plan, NEW.confirmed, NEW.opened_by, NEW.created_at_ms, NEW.decided_at_ms,
               NEW.used_msat, NEW.currency, NEW.asked_max_micros, NEW.max_micros, NEW.per_payment_max_micros)
           IS DISTINCT FROM
           ROW(OLD.agent_id, OLD.purpose, OLD.asked_max_msat, OLD.max_msat, OLD.per_payment_max_msat, OLD.scopes,
               OLD.asked_duration_ms, OLD.plan, OLD.confirmed, OLD.opened_by, OLD.created_at_ms, OLD.decided_at_ms,
               OLD.used_msat, OLD.currency, OLD.asked_max_micros, OLD.max_micros, OLD.per_payment_max_micros)
    ) THEN
        RAISE EXCEPTION 'only a supervisor approves, denies or raises an allowance'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER allowances_guard BEFORE INSERT OR UPDATE ON allowances
    FOR EACH ROW EXECUTE FUNCTION allowances_guard();

-- A serving login writes a payment as reserved or refused, with no negative amount, and moves it only
-- forward (reserved → paid, failed or in doubt; in doubt → paid or failed; failed → paid, when the wallet
-- shows it paid after all): it cannot free a budget by rewriting what was spent.
CREATE FUNCTION payments_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF purser_is_supervisor() THEN
        RETURN NEW;
    END IF;
    IF COALESCE(NEW.amount_msat, 0) < 0 OR COALESCE(NEW.fee_msat, 0) < 0 OR NEW.fee_reserve_msat < 0 THEN
        RAISE EXCEPTION 'a payment has no negative amount' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' AND NEW.status NOT IN ('pending', 'refused') THEN
        RAISE EXCEPTION 'a payment starts reserved or refused' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'pending' AND NEW.status IN ('settled', 'failed', 'unknown', 'bad_preimage'))
        OR (OLD.status = 'unknown' AND NEW.status IN ('settled', 'failed', 'bad_preimage'))
        OR (OLD.status = 'failed' AND NEW.status IN ('settled', 'bad_preimage'))
    ) THEN
        RAISE EXCEPTION 'a payment''s outcome only moves forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payments_guard BEFORE INSERT OR UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_guard();
