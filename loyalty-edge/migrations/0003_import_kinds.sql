-- loyalty-rs D1 schema change: the `import` and `legacy` entry kinds (imports from another
-- system), generated from loyalty_core::stores::d1::entries_upgrade (do not edit).
-- Apply with `wrangler d1 migrations apply <database>` after 0002, before importing.

PRAGMA defer_foreign_keys = ON;

CREATE TABLE loyalty_entries_before_import AS SELECT * FROM loyalty_entries;

DROP TABLE loyalty_entries;

CREATE TABLE IF NOT EXISTS loyalty_entries (
    id              INTEGER PRIMARY KEY,
    customer        INTEGER NOT NULL REFERENCES loyalty_customers (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('welcome_bonus', 'referral_bonus', 'accrual', 'redemption',
                    'reversal', 'adjustment', 'import', 'legacy')),
    amount          INTEGER NOT NULL,
    partner         INTEGER REFERENCES loyalty_partners (id),
    purchase        INTEGER,
    idempotency_key TEXT    NOT NULL UNIQUE,
    author_type     TEXT    NOT NULL CHECK (author_type IN ('system', 'customer', 'partner', 'admin')),
    author_id       INTEGER,
    reverses        INTEGER UNIQUE REFERENCES loyalty_entries (id),
    reason          TEXT,
    created_at      INTEGER NOT NULL,
    CHECK ((author_type = 'system') = (author_id IS NULL)),
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    CHECK (kind = 'legacy' OR (kind IN ('accrual', 'redemption', 'reversal')) = (partner IS NOT NULL))
) STRICT;

INSERT INTO loyalty_entries SELECT * FROM loyalty_entries_before_import ORDER BY id;

DROP TABLE loyalty_entries_before_import;

CREATE INDEX IF NOT EXISTS loyalty_entries_by_customer ON loyalty_entries (customer, id);

CREATE INDEX IF NOT EXISTS loyalty_entries_by_partner_time ON loyalty_entries (partner, created_at, kind, amount, customer) WHERE partner IS NOT NULL;

CREATE INDEX IF NOT EXISTS loyalty_entries_by_time ON loyalty_entries (created_at, kind, amount, customer);

CREATE TRIGGER IF NOT EXISTS loyalty_entries_apply AFTER INSERT ON loyalty_entries WHEN NEW.kind <> 'legacy'
BEGIN
    UPDATE loyalty_customers SET balance = balance + NEW.amount WHERE id = NEW.customer;
END;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_update BEFORE UPDATE ON loyalty_entries
BEGIN
    SELECT RAISE(ABORT, 'loyalty_entries is append-only');
END;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_delete BEFORE DELETE ON loyalty_entries
BEGIN
    SELECT RAISE(ABORT, 'loyalty_entries is append-only');
END;

CREATE TABLE IF NOT EXISTS loyalty_imports (
    source        TEXT    NOT NULL,
    telegram_id   INTEGER NOT NULL,
    customer      INTEGER NOT NULL UNIQUE REFERENCES loyalty_customers (id),
    balance       INTEGER NOT NULL CHECK (balance >= 0),
    referral_code TEXT,
    birthday      TEXT,
    imported_at   INTEGER NOT NULL,
    PRIMARY KEY (source, telegram_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS loyalty_imports_by_code ON loyalty_imports (referral_code) WHERE referral_code IS NOT NULL;

CREATE TABLE IF NOT EXISTS loyalty_import_rows (
    key         INTEGER PRIMARY KEY,
    telegram_id INTEGER NOT NULL UNIQUE,
    value       TEXT    NOT NULL
) STRICT;
