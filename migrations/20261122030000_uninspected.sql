-- Connections Purser could not look inside: `CONNECT` tunnels to hosts in the `pass_through` setting, and
-- tunnels whose agent refused Purser's certificate (it does not trust Purser's CA), and tunnels carrying
-- neither TLS nor HTTP. No payment can happen
-- in them; the ledger keeps them so a person can see what traffic went unsupervised.
-- kind: pass_through | certificate_rejected | not_http
CREATE TABLE uninspected (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pass_through', 'certificate_rejected', 'not_http')),
    opened_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER,
    bytes_to_upstream INTEGER NOT NULL DEFAULT 0,
    bytes_to_agent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX uninspected_by_host ON uninspected (host, port, kind);
