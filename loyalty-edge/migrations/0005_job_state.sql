-- loyalty-rs D1 schema change: the scheduled jobs' states (the webhook watchdog's), generated from
-- loyalty_core::stores::d1::SCHEMA (do not edit). Apply with `wrangler d1 migrations apply <database>`
-- after 0004; a Worker also creates the table by itself on first use.

CREATE TABLE IF NOT EXISTS loyalty_job_state (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
