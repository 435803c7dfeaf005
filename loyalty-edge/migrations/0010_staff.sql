-- loyalty-rs D1 schema change: partners' staff (cashiers) and who made each entry at the till, generated
-- from loyalty_core::stores::d1::SCHEMA (do not edit).
-- Apply with `wrangler d1 migrations apply <database>` after 0009; a Worker also creates the tables by
-- itself on first use.

CREATE TABLE IF NOT EXISTS loyalty_staff (
    id           INTEGER PRIMARY KEY,
    partner      INTEGER NOT NULL REFERENCES loyalty_partners (id),
    token_sha256 TEXT    NOT NULL UNIQUE,
    telegram_id  INTEGER,
    name         TEXT    NOT NULL DEFAULT '' CHECK (length(name) <= 64),
    invited_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    joined_at    INTEGER,
    revoked_at   INTEGER,
    CHECK ((telegram_id IS NULL) = (joined_at IS NULL))
) STRICT;

CREATE UNIQUE INDEX IF NOT EXISTS loyalty_staff_active ON loyalty_staff (telegram_id) WHERE telegram_id IS NOT NULL AND revoked_at IS NULL;

CREATE INDEX IF NOT EXISTS loyalty_staff_by_partner ON loyalty_staff (partner, id);

CREATE TABLE IF NOT EXISTS loyalty_entry_cashiers (
    entry INTEGER PRIMARY KEY REFERENCES loyalty_entries (id),
    staff INTEGER NOT NULL REFERENCES loyalty_staff (id)
) STRICT;

CREATE TABLE IF NOT EXISTS loyalty_redemption_cashiers (
    redemption INTEGER PRIMARY KEY REFERENCES loyalty_redemptions (id),
    staff      INTEGER NOT NULL REFERENCES loyalty_staff (id)
) STRICT;
