-- Credit bought at an API by a top-up offer (a payment recorded as `l402_top_up`) is held there until the
-- API asks to be paid again, which says it is used up. Only that moment is stored: what is held is read from
-- the payments.
CREATE TABLE credits_used_up (
    payment_id BIGINT PRIMARY KEY REFERENCES payments(id),
    at_ms BIGINT NOT NULL
);
GRANT SELECT, INSERT ON credits_used_up TO purser_serving;
GRANT SELECT, INSERT, DELETE ON credits_used_up TO purser_supervisor;
