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

-- Serving instances read everything a decision reads, and write only what serving writes.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO purser_serving;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO purser_serving;
GRANT INSERT, UPDATE ON payments, uninspected TO purser_serving;
GRANT INSERT, UPDATE, DELETE ON credentials TO purser_serving;
GRANT INSERT ON alerts TO purser_serving;
GRANT INSERT, UPDATE ON breakers TO purser_serving;
GRANT INSERT, DELETE ON prices TO purser_serving;
-- An agent may ask for a task allowance and close its own; only a supervisor approves, raises or confirms
-- one (checked below, row by row).
GRANT INSERT, UPDATE ON allowances TO purser_serving;

-- What the triggers keep (running totals, an allowance's use, the policy's generation) is written with the
-- schema owner's rights, so serving instances need none on those tables or columns themselves.
ALTER FUNCTION payment_rollup_change() SECURITY DEFINER SET search_path = public;
ALTER FUNCTION allowance_use_change() SECURITY DEFINER SET search_path = public;
ALTER FUNCTION policy_generation_bump() SECURITY DEFINER SET search_path = public;

-- Whether the session may do what only a person may: a supervisor (or the schema's owner, who made it).
CREATE FUNCTION purser_is_supervisor() RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(current_user, 'purser_supervisor', 'MEMBER')
        OR current_user = (SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'allowances')
$$;

CREATE FUNCTION allowances_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF purser_is_supervisor() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' AND (NEW.state <> 'requested' OR NEW.confirmed <> 0) THEN
        RAISE EXCEPTION 'only a supervisor opens an active allowance' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND (
        (NEW.state IN ('active', 'denied') AND NEW.state IS DISTINCT FROM OLD.state)
        OR NEW.max_msat > OLD.max_msat OR NEW.max_micros > OLD.max_micros
        OR NEW.per_payment_max_msat IS DISTINCT FROM OLD.per_payment_max_msat
        OR NEW.confirmed <> OLD.confirmed OR NEW.expires_at_ms > OLD.expires_at_ms
        OR NEW.agent_id <> OLD.agent_id OR NEW.scopes <> OLD.scopes OR NEW.currency IS DISTINCT FROM OLD.currency
    ) THEN
        RAISE EXCEPTION 'only a supervisor approves, denies or raises an allowance'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER allowances_guard BEFORE INSERT OR UPDATE ON allowances
    FOR EACH ROW EXECUTE FUNCTION allowances_guard();
