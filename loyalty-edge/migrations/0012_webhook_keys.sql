-- loyalty-rs D1 schema change: an idempotency key per webhook endpoint's registration, unique per
-- owner, generated from loyalty_core::stores::d1::webhook_keys_upgrade (do not edit).
-- Apply with `wrangler d1 migrations apply <database>` after 0011, before deploying this version.
-- It rebuilds loyalty_webhooks keeping every endpoint (those registered before it have no key).

CREATE TABLE loyalty_webhooks_before_keys AS SELECT * FROM loyalty_webhooks;

DROP TABLE loyalty_webhooks;

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
    last_success_at INTEGER,
    idempotency_key TEXT    CHECK (length(idempotency_key) BETWEEN 1 AND 200)
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_webhooks_active ON loyalty_webhooks (partner, id) WHERE removed_at IS NULL;

CREATE UNIQUE INDEX IF NOT EXISTS loyalty_webhooks_by_key ON loyalty_webhooks (coalesce(partner, 0), idempotency_key) WHERE idempotency_key IS NOT NULL;

INSERT INTO loyalty_webhooks (id, partner, url, events, secret, created_at, removed_at, last_attempt_at, last_status, last_error, last_success_at) SELECT id, partner, url, events, secret, created_at, removed_at, last_attempt_at, last_status, last_error, last_success_at FROM loyalty_webhooks_before_keys ORDER BY id;

DROP TABLE loyalty_webhooks_before_keys;
