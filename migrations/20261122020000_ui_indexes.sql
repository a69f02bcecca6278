-- The desktop UI's ledger listings: newest first within one agent or one API, and by amount.
CREATE INDEX payments_agent_newest ON payments(agent_id, id);
CREATE INDEX payments_host_newest ON payments(host, id);
CREATE INDEX payments_amount ON payments(amount_msat, id);
