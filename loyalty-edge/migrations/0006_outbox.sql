-- loyalty-rs D1 schema change: the outbox of messages and the bodies of updates being processed,
-- generated from loyalty_core::stores::d1::SCHEMA (do not edit). Apply with
-- `wrangler d1 migrations apply <database>` after 0005; a Worker also creates the tables by itself on
-- first use.

CREATE TABLE IF NOT EXISTS loyalty_update_bodies (
    bot        INTEGER NOT NULL,
    update_id  INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    PRIMARY KEY (bot, update_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS loyalty_update_bodies_by_time ON loyalty_update_bodies (claimed_at);

CREATE TABLE IF NOT EXISTS loyalty_outbox (
    id         INTEGER PRIMARY KEY,
    source     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    chat       INTEGER,
    payload    TEXT    NOT NULL,
    state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 1,
    next_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    settled_at INTEGER,
    error      TEXT,
    UNIQUE (source, seq)
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_outbox_pending ON loyalty_outbox (chat, id) WHERE state = 'pending';

CREATE INDEX IF NOT EXISTS loyalty_outbox_due ON loyalty_outbox (next_at, id) WHERE state = 'pending';

CREATE INDEX IF NOT EXISTS loyalty_outbox_settled ON loyalty_outbox (settled_at) WHERE state <> 'pending';

CREATE INDEX IF NOT EXISTS loyalty_outbox_failed ON loyalty_outbox (id) WHERE state = 'failed';
