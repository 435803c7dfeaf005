-- loyalty-rs D1 schema change: the registry of outgoing webhook endpoints, generated from
-- loyalty_core::stores::d1::SCHEMA (do not edit).
-- Apply with `wrangler d1 migrations apply <database>` after 0010; a Worker also creates the table by
-- itself on first use.

CREATE TABLE IF NOT EXISTS loyalty_webhooks (
    id              INTEGER PRIMARY KEY,
    partner         INTEGER REFERENCES loyalty_partners (id),
    url             TEXT    NOT NULL CHECK (length(url) <= 500),
    events          TEXT    NOT NULL CHECK (json_valid(events) AND json_type(events) = 'array'),
    secret          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    removed_at      INTEGER,
    last_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    last_success_at INTEGER
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_webhooks_active ON loyalty_webhooks (partner, id) WHERE removed_at IS NULL;
