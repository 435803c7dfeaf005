-- loyalty-rs D1 schema change: the rewards catalogue, its vouchers, and indexes of a partner's entries
-- by id and of the quota windows by start, generated from loyalty_core::stores::d1::SCHEMA (do not edit).
-- Apply with `wrangler d1 migrations apply <database>` after 0006; a Worker also creates the tables by
-- itself on first use (not the indexes: apply the migration).

CREATE INDEX IF NOT EXISTS loyalty_entries_by_partner ON loyalty_entries (partner, id) WHERE partner IS NOT NULL;

CREATE TABLE IF NOT EXISTS loyalty_rewards (
    id              INTEGER PRIMARY KEY,
    partner         INTEGER NOT NULL REFERENCES loyalty_partners (id),
    offer           TEXT    NOT NULL CHECK (json_valid(offer)),
    category        TEXT,
    price           INTEGER NOT NULL CHECK (price BETWEEN 1 AND 1000000000),
    stock           INTEGER CHECK (stock BETWEEN 0 AND 1000000),
    claimed         INTEGER NOT NULL DEFAULT 0 CHECK (claimed >= 0 AND (stock IS NULL OR claimed <= stock)),
    available_from  INTEGER,
    available_until INTEGER,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'rejected', 'withdrawn')),
    idempotency_key TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_rewards_by_partner ON loyalty_rewards (partner, id);

CREATE INDEX IF NOT EXISTS loyalty_rewards_by_category ON loyalty_rewards (category, id) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS loyalty_vouchers (
    id         INTEGER PRIMARY KEY,
    code       TEXT    NOT NULL UNIQUE,
    reward     INTEGER NOT NULL REFERENCES loyalty_rewards (id),
    customer   INTEGER NOT NULL REFERENCES loyalty_customers (id),
    partner    INTEGER NOT NULL REFERENCES loyalty_partners (id),
    points     INTEGER NOT NULL CHECK (points > 0),
    status     TEXT    NOT NULL CHECK (status IN ('issued', 'used', 'cancelled')),
    entry      INTEGER NOT NULL UNIQUE REFERENCES loyalty_entries (id),
    refund     INTEGER REFERENCES loyalty_entries (id),
    created_at INTEGER NOT NULL,
    closed_at  INTEGER
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_vouchers_by_customer ON loyalty_vouchers (customer, id);

CREATE INDEX IF NOT EXISTS loyalty_quotas_by_day ON loyalty_quotas (day);
