-- loyalty-rs D1 schema change: stamp cards and the keys campaigns are made with, generated from
-- loyalty_core::stores::d1::SCHEMA (do not edit).
-- Apply with `wrangler d1 migrations apply <database>` after 0008; a Worker also creates the tables by
-- itself on first use.

CREATE TABLE IF NOT EXISTS loyalty_campaign_keys (
    idempotency_key TEXT    PRIMARY KEY,
    campaign        INTEGER NOT NULL REFERENCES loyalty_campaigns (id),
    request         TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS loyalty_stamp_cards (
    partner    INTEGER PRIMARY KEY REFERENCES loyalty_partners (id),
    needed     INTEGER NOT NULL CHECK (needed BETWEEN 2 AND 50),
    reward     TEXT    NOT NULL CHECK (length(reward) BETWEEN 1 AND 100),
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS loyalty_stamps (
    partner   INTEGER NOT NULL REFERENCES loyalty_partners (id),
    customer  INTEGER NOT NULL REFERENCES loyalty_customers (id),
    stamps    INTEGER NOT NULL CHECK (stamps >= 0),
    completed INTEGER NOT NULL CHECK (completed >= 0),
    PRIMARY KEY (partner, customer)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS loyalty_stamp_visits (
    idempotency_key TEXT    PRIMARY KEY,
    partner         INTEGER NOT NULL REFERENCES loyalty_partners (id),
    customer        INTEGER NOT NULL REFERENCES loyalty_customers (id),
    completed       INTEGER NOT NULL CHECK (completed IN (0, 1)),
    created_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
