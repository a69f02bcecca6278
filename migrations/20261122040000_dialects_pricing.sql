-- Prices APIs publish (/pricing, /.well-known/l402-services, /.well-known/l402.json, OpenAPI x-payment-info),
-- as last read. Each read replaces the origin's rows.
CREATE TABLE prices (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    method TEXT,
    path TEXT NOT NULL,
    price_msat INTEGER NOT NULL,
    description TEXT,
    source TEXT NOT NULL,
    read_at_ms INTEGER NOT NULL
);
CREATE INDEX prices_origin ON prices(origin);

-- What the server said after a paid retry (MPP `Payment-Receipt`, x402 `PAYMENT-RESPONSE`), decoded.
ALTER TABLE payments ADD COLUMN receipt TEXT;

-- Kept proofs get an id (to list and revoke them) and the expiry their token's caveats state.
CREATE TABLE credentials_new (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    origin TEXT NOT NULL,
    path TEXT NOT NULL,
    authorization TEXT NOT NULL,
    payment_id INTEGER REFERENCES payments(id),
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    UNIQUE (agent_id, origin, path)
);
INSERT INTO credentials_new (agent_id, origin, path, authorization, payment_id, created_at_ms)
    SELECT agent_id, origin, path, authorization, payment_id, created_at_ms FROM credentials;
DROP TABLE credentials;
ALTER TABLE credentials_new RENAME TO credentials;
