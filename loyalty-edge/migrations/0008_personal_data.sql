-- loyalty-rs D1 schema change: erasures in the audit log (an `erased` action, no admin when the customer
-- asked) and the pending redemption requests by customer, generated from
-- loyalty_core::stores::d1::audit_upgrade and SCHEMA (do not edit). Apply with
-- `wrangler d1 migrations apply <database>` after 0007, before deploying this version.

CREATE TABLE loyalty_audit_log_before_erasure AS SELECT * FROM loyalty_audit_log;

DROP TABLE loyalty_audit_log;

CREATE TABLE IF NOT EXISTS loyalty_audit_log (
    id       INTEGER PRIMARY KEY,
    admin    INTEGER CHECK (admin IS NOT NULL OR action = 'erased'),
    action   TEXT    NOT NULL CHECK (action IN ('adjusted', 'blocked', 'partner_decided', 'erased')),
    customer INTEGER REFERENCES loyalty_customers (id),
    partner  INTEGER REFERENCES loyalty_partners (id),
    entry    INTEGER REFERENCES loyalty_entries (id),
    amount   INTEGER,
    reason   TEXT,
    blocked  INTEGER CHECK (blocked IN (0, 1)),
    decision TEXT    CHECK (decision IN ('approve', 'reject', 'suspend')),
    status   TEXT    CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
    at       INTEGER NOT NULL
) STRICT;

INSERT INTO loyalty_audit_log (id, admin, action, customer, partner, entry, amount, reason, blocked, decision, status, at) SELECT id, admin, action, customer, partner, entry, amount, reason, blocked, decision, status, at FROM loyalty_audit_log_before_erasure ORDER BY id;

DROP TABLE loyalty_audit_log_before_erasure;

CREATE INDEX IF NOT EXISTS loyalty_redemptions_pending_by_customer ON loyalty_redemptions (customer) WHERE status = 'pending';
