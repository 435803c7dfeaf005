-- loyalty-rs SQLite schema, version 1 (PRAGMA user_version = 1).
--
-- Applied once, inside a transaction, by SqliteStore::open / sqlite::migrate.
-- The Rust code makes every decision (see loyalty_core::MemoryStore for the
-- semantics); the constraints and triggers below are a second line of defence
-- that turn a bug into an error instead of a corrupted ledger.

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    telegram_id INTEGER NOT NULL UNIQUE,
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) = 8),
    first_name  TEXT    NOT NULL,
    username    TEXT,
    language    TEXT    NOT NULL CHECK (language IN ('ru', 'en', 'vi')),
    referrer    INTEGER REFERENCES customers (id),
    -- Always the sum of the customer's entries (maintained by entries_apply).
    balance     INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    blocked     INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE partners (
    id                   INTEGER PRIMARY KEY,
    telegram_id          INTEGER NOT NULL UNIQUE,
    name                 TEXT    NOT NULL,
    category             TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
    earn_rate_bps        INTEGER NOT NULL CHECK (earn_rate_bps BETWEEN 0 AND 4294967295),
    max_redeem_share_bps INTEGER NOT NULL CHECK (max_redeem_share_bps BETWEEN 0 AND 4294967295),
    daily_credit_limit   INTEGER NOT NULL,
    language             TEXT    NOT NULL CHECK (language IN ('ru', 'en', 'vi')),
    -- Lower-case hex SHA-256 of the POS API key; never the key itself.
    api_key_sha256       TEXT,
    created_at           INTEGER NOT NULL
) STRICT;

CREATE INDEX partners_by_status ON partners (status, created_at, id);
CREATE INDEX partners_by_api_key ON partners (api_key_sha256) WHERE api_key_sha256 IS NOT NULL;

-- The append-only points ledger.
CREATE TABLE entries (
    id              INTEGER PRIMARY KEY,
    customer        INTEGER NOT NULL REFERENCES customers (id),
    kind            TEXT    NOT NULL
                    CHECK (kind IN ('welcome_bonus', 'referral_bonus', 'accrual', 'redemption', 'reversal', 'adjustment')),
    amount          INTEGER NOT NULL,
    partner         INTEGER REFERENCES partners (id),
    purchase        INTEGER,
    -- Unique over all entries: the same key is never applied twice.
    idempotency_key TEXT    NOT NULL UNIQUE,
    author_type     TEXT    NOT NULL CHECK (author_type IN ('system', 'customer', 'partner', 'admin')),
    author_id       INTEGER,
    -- Each entry is reversed at most once.
    reverses        INTEGER UNIQUE REFERENCES entries (id),
    reason          TEXT,
    created_at      INTEGER NOT NULL,
    CHECK ((author_type = 'system') = (author_id IS NULL)),
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    CHECK (kind NOT IN ('accrual', 'redemption', 'reversal') OR partner IS NOT NULL)
) STRICT;

-- A customer's history, newest first (ids increase with time).
CREATE INDEX entries_by_customer ON entries (customer, id);
-- A partner's entries since a time (daily limit, partner stats); covering.
CREATE INDEX entries_by_partner_time ON entries (partner, created_at, kind, amount, customer) WHERE partner IS NOT NULL;
-- All entries since a time (program stats); covering.
CREATE INDEX entries_by_time ON entries (created_at, kind, amount, customer);

CREATE TRIGGER entries_apply AFTER INSERT ON entries
BEGIN
    UPDATE customers SET balance = balance + NEW.amount WHERE id = NEW.customer;
END;

CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

CREATE TABLE redemptions (
    id              INTEGER PRIMARY KEY,
    customer        INTEGER NOT NULL REFERENCES customers (id),
    partner         INTEGER NOT NULL REFERENCES partners (id),
    points          INTEGER NOT NULL CHECK (points >= 1),
    purchase        INTEGER NOT NULL CHECK (purchase >= 1),
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'confirmed', 'declined', 'expired')),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    entry           INTEGER UNIQUE REFERENCES entries (id),
    idempotency_key TEXT    NOT NULL UNIQUE,
    CHECK ((status = 'confirmed') = (entry IS NOT NULL))
) STRICT;

CREATE INDEX redemptions_pending ON redemptions (expires_at) WHERE status = 'pending';

CREATE TABLE update_claims (
    bot        TEXT    NOT NULL CHECK (bot IN ('client', 'partner', 'admin', 'alerts')),
    update_id  INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (bot, update_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX update_claims_by_time ON update_claims (claimed_at);

CREATE TABLE quotas (
    kind    TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    used    INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (kind, user_id, day)
) STRICT, WITHOUT ROWID;

CREATE TABLE broadcasts (
    id              INTEGER PRIMARY KEY,
    audience        TEXT    NOT NULL CHECK (audience IN ('customers', 'partners')),
    text            TEXT    NOT NULL,
    admin_chat      INTEGER NOT NULL,
    total           INTEGER NOT NULL CHECK (total BETWEEN 0 AND 4294967295),
    sent            INTEGER NOT NULL DEFAULT 0 CHECK (sent BETWEEN 0 AND 4294967295),
    failed          INTEGER NOT NULL DEFAULT 0 CHECK (failed BETWEEN 0 AND 4294967295),
    cursor          INTEGER NOT NULL DEFAULT 0,
    done            INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    created_at      INTEGER NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE
) STRICT;

CREATE INDEX broadcasts_pending ON broadcasts (id) WHERE done = 0;

-- Admin actions: adjustments, and block and partner decisions that changed something.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    admin    INTEGER NOT NULL,
    action   TEXT    NOT NULL CHECK (action IN ('adjusted', 'blocked', 'partner_decided')),
    customer INTEGER REFERENCES customers (id),
    partner  INTEGER REFERENCES partners (id),
    entry    INTEGER REFERENCES entries (id),
    amount   INTEGER,
    reason   TEXT,
    blocked  INTEGER CHECK (blocked IN (0, 1)),
    decision TEXT    CHECK (decision IN ('approve', 'reject', 'suspend')),
    status   TEXT    CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
    at       INTEGER NOT NULL
) STRICT;
