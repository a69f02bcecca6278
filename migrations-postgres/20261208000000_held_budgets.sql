-- A budget may cap what is held at one API at once (`held`): session deposits the API has not drawn yet and
-- refunds still awaited. It names an API as a whole, and has no window.
ALTER TABLE budgets DROP CONSTRAINT budgets_period_check;
ALTER TABLE budgets ADD CONSTRAINT budgets_period_check
    CHECK (period IN ('request', 'day', 'week', 'month', 'rolling', 'lifetime', 'held'));
ALTER TABLE budgets ADD CONSTRAINT budgets_held_names_an_api
    CHECK (period <> 'held' OR (host IS NOT NULL AND path_prefix IS NULL));
