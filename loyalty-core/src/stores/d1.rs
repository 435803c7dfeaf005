//! The D1 protocol: the use cases of [`Storage`](crate::ports::Storage) as
//! SQLite statements, without a database client. They are the SQLite rules of
//! every SQLite store: Cloudflare D1 (`loyalty-edge`'s `D1Store`) and the
//! embedded store of `loyalty-native` (`SqliteStore`, on rusqlite) run the
//! same batches on the same [`SCHEMA`].
//!
//! D1 has no interactive transactions: a Worker cannot read, decide and write
//! back inside one. What it has is `batch()`: a list of statements that run in
//! order as **one transaction**, all or nothing, in one request. So every use
//! case here is one batch in which SQL makes every decision:
//!
//! * [`batch`] gives the statements of a use case — the names are those of
//!   [`rpc`](super::rpc), and the request is the same serde JSON, bound as `?1`
//!   to every statement;
//! * the statements work through a one-row scratch table (`loyalty_op`): the
//!   first rule that refuses records its [`Rejection`](crate::ports::Rejection) and the rest do
//!   nothing, a replay records the earlier answer, and the last statement
//!   deletes the row, returning the answer;
//! * [`decode`] turns that returned row into the answer's JSON, which
//!   [`rpc`](super::rpc) turns into the Rust type — so a D1 backend implements
//!   [`RpcBackend`](super::rpc::RpcBackend) with one `batch()` per call and
//!   gets `Storage` from it.
//!
//! A D1 database runs one transaction at a time, so nothing interleaves with a
//! batch: two confirmations of requests against one balance, or two credits
//! near a partner's daily limit, are decided one after the other. A SQLite
//! file gets the same from `BEGIN IMMEDIATE` around a batch that may write.
//!
//! # Schema
//!
//! [`SCHEMA`] creates the tables (all prefixed `loyalty_`, so the database can
//! hold other tables too) if they are missing; it is also shipped as the D1
//! migrations `loyalty-edge/migrations/0001_loyalty.sql` (the schema as of
//! version 12) and the later ones, for `wrangler d1 migrations apply`. A backend may apply it on first use: when a
//! batch fails because a table is missing ([`is_missing_schema`]), apply
//! [`SCHEMA`] as one batch and run the call again.
//!
//! Balances are kept by a trigger on the append-only ledger (`CHECK (balance
//! >= 0)` as a second line of defence). An API key hash identifies one partner
//! (`UNIQUE`, as in Postgres).

use crate::ports::{StoreError, StoreResult};
use serde::Deserialize;
use serde_json::Value;

/// The rules in force as the row `r`: the newest version (no row before any change).
macro_rules! current_rules {
    () => {
        "loyalty_rules r WHERE r.version = (SELECT max(version) FROM loyalty_rules)"
    };
}

/// The rules document in force (NULL before any change).
macro_rules! rules_doc {
    () => {
        concat!("(SELECT r.doc FROM ", current_rules!(), ")")
    };
}

/// The rule of tiers (`program::next_tier`, the model's), for the customer
/// `$c` at time `$now` (SQL expressions; `$from` a FROM clause they may
/// need): recomputes the qualifying points — the customer's accruals not
/// reversed, after `$now − tiers.window_days` — and the tier: reached ones at
/// once, lower ones after `tiers.grace_days` below. One upsert of
/// `loyalty_tiers` per customer.
macro_rules! tier_refresh {
    ($c:expr, $now:expr, $from:expr) => {
        concat!(
            "INSERT INTO loyalty_tiers (customer, tier, below_since, checked_at, qualifying)
SELECT c, iif(l >= t OR n - coalesce(b, n) >= g * 86400, l, t),
       iif(l >= t OR n - coalesce(b, n) >= g * 86400, NULL, coalesce(b, n)), n, q
  FROM (SELECT c, n, q, t, b, g,
               (SELECT count(*) FROM json_each(d, '$.tiers.levels') WHERE json_extract(value, '$.threshold') <= q) AS l
          FROM (SELECT c, n, d, t, b, coalesce(json_extract(d, '$.tiers.grace_days'), 0) AS g,
                       (SELECT coalesce(sum(iif(json_extract(d, '$.tiers.qualify_by') = 'purchases',
                                                e.purchase, e.amount)), 0) FROM loyalty_entries e
                         WHERE e.customer = c AND e.kind = 'accrual'
                           AND e.created_at > n - 86400 * json_extract(d, '$.tiers.window_days')
                           AND NOT EXISTS (SELECT 1 FROM loyalty_entries x WHERE x.reverses = e.id)) AS q
                  FROM (SELECT ",
            $c,
            " AS c, ",
            $now,
            " AS n, ",
            rules_doc!(),
            " AS d, coalesce((SELECT tier FROM loyalty_tiers WHERE customer = ",
            $c,
            "), 0) AS t, (SELECT below_since FROM loyalty_tiers WHERE customer = ",
            $c,
            ") AS b ",
            $from,
            ")))
 WHERE true
ON CONFLICT (customer) DO UPDATE SET tier = excluded.tier, below_since = excluded.below_since,
    checked_at = excluded.checked_at, qualifying = excluded.qualifying"
        )
    };
}

#[path = "d1_sql.rs"]
mod sql;

/// The tables of the schema, children before parents (the order to drop them in).
pub const TABLES: &[&str] = &[
    "loyalty_op",
    "loyalty_partner_days",
    "loyalty_webhooks",
    "loyalty_entry_cashiers",
    "loyalty_redemption_cashiers",
    "loyalty_staff",
    "loyalty_campaign_keys",
    "loyalty_stamp_visits",
    "loyalty_stamps",
    "loyalty_stamp_cards",
    "loyalty_audit_log",
    "loyalty_redemptions",
    "loyalty_vouchers",
    "loyalty_rewards",
    "loyalty_broadcasts",
    "loyalty_quotas",
    "loyalty_job_state",
    "loyalty_outbox",
    "loyalty_update_bodies",
    "loyalty_bot_updates",
    "loyalty_import_rows",
    "loyalty_imports",
    "loyalty_campaign_awards",
    "loyalty_campaigns",
    "loyalty_birthdays",
    "loyalty_tiers",
    "loyalty_lot_uses",
    "loyalty_lots",
    "loyalty_rules",
    "loyalty_entries",
    "loyalty_partners",
    "loyalty_customers",
];

/// The one-row scratch table of a call (`loyalty_op`), created with `$create`.
macro_rules! scratch_table {
    ($create:literal) => {
        concat!(
            $create,
            " loyalty_op (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    cid   INTEGER,
    pid   INTEGER,
    ref   INTEGER,
    eid   INTEGER,
    rid   INTEGER,
    n     INTEGER,
    m     INTEGER,
    s     TEXT,
    err   TEXT,
    res   TEXT,
    fault TEXT
) STRICT"
        )
    };
}

/// The scratch table of [`SCHEMA`] as a connection's own `TEMP` table, which
/// SQLite finds before the database's table of the same name. A backend that
/// keeps its connections (`loyalty-native`'s SQLite store) creates it on each
/// one: a call then writes to the database only what its use case changes,
/// and the [read-only](is_read_only) use cases run on read-only connections.
pub const TEMP_SCRATCH: &str = scratch_table!("CREATE TEMP TABLE IF NOT EXISTS");

/// The schema, one statement per item; each is idempotent (`IF NOT EXISTS`).
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS loyalty_customers (
    id          INTEGER PRIMARY KEY,
    telegram_id INTEGER NOT NULL UNIQUE,
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) = 8),
    first_name  TEXT    NOT NULL,
    username    TEXT,
    language    TEXT    NOT NULL CHECK (language IN ('ru', 'en', 'vi')),
    referrer    INTEGER REFERENCES loyalty_customers (id),
    balance     INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    blocked     INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    created_at  INTEGER NOT NULL
) STRICT",
    "CREATE TABLE IF NOT EXISTS loyalty_partners (
    id                   INTEGER PRIMARY KEY,
    telegram_id          INTEGER NOT NULL UNIQUE,
    name                 TEXT    NOT NULL,
    category             TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
    earn_rate_bps        INTEGER NOT NULL CHECK (earn_rate_bps BETWEEN 0 AND 4294967295),
    max_redeem_share_bps INTEGER NOT NULL CHECK (max_redeem_share_bps BETWEEN 0 AND 4294967295),
    daily_credit_limit   INTEGER NOT NULL,
    language             TEXT    NOT NULL CHECK (language IN ('ru', 'en', 'vi')),
    api_key_sha256       TEXT    UNIQUE,
    created_at           INTEGER NOT NULL
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_partners_by_status ON loyalty_partners (status, created_at, id)",
    "CREATE TABLE IF NOT EXISTS loyalty_entries (
    id              INTEGER PRIMARY KEY,
    customer        INTEGER NOT NULL REFERENCES loyalty_customers (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('welcome_bonus', 'referral_bonus', 'accrual', 'redemption',
                    'reversal', 'adjustment', 'import', 'legacy', 'expiry')),
    amount          INTEGER NOT NULL,
    partner         INTEGER REFERENCES loyalty_partners (id),
    purchase        INTEGER,
    idempotency_key TEXT    NOT NULL UNIQUE,
    author_type     TEXT    NOT NULL CHECK (author_type IN ('system', 'customer', 'partner', 'admin')),
    author_id       INTEGER,
    reverses        INTEGER UNIQUE REFERENCES loyalty_entries (id),
    reason          TEXT,
    created_at      INTEGER NOT NULL,
    rules_version   INTEGER NOT NULL DEFAULT 0 CHECK (rules_version >= 0),
    CHECK ((author_type = 'system') = (author_id IS NULL)),
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    CHECK (kind = 'legacy' OR (kind IN ('accrual', 'redemption', 'reversal')) = (partner IS NOT NULL))
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_entries_by_customer ON loyalty_entries (customer, id)",
    "CREATE INDEX IF NOT EXISTS loyalty_entries_by_partner_time ON loyalty_entries \
     (partner, created_at, kind, amount, customer) WHERE partner IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS loyalty_entries_by_time ON loyalty_entries (created_at, kind, amount, customer)",
    "CREATE INDEX IF NOT EXISTS loyalty_entries_by_partner ON loyalty_entries (partner, id) WHERE partner IS NOT NULL",
    "CREATE TRIGGER IF NOT EXISTS loyalty_entries_apply AFTER INSERT ON loyalty_entries WHEN NEW.kind <> 'legacy'
BEGIN
    UPDATE loyalty_customers SET balance = balance + NEW.amount WHERE id = NEW.customer;
END",
    "CREATE TABLE IF NOT EXISTS loyalty_rules (
    version    INTEGER PRIMARY KEY CHECK (version >= 1),
    doc        TEXT    NOT NULL CHECK (json_valid(doc)),
    admin      INTEGER,
    created_at INTEGER NOT NULL
) STRICT",
    "CREATE TABLE IF NOT EXISTS loyalty_lots (
    id         INTEGER PRIMARY KEY,
    customer   INTEGER NOT NULL REFERENCES loyalty_customers (id),
    entry      INTEGER UNIQUE REFERENCES loyalty_entries (id),
    amount     INTEGER NOT NULL CHECK (amount > 0),
    remaining  INTEGER NOT NULL CHECK (remaining BETWEEN 0 AND amount),
    expires_at INTEGER,
    reminded   INTEGER NOT NULL DEFAULT 0 CHECK (reminded IN (0, 1))
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_lots_open ON loyalty_lots (customer, expires_at) WHERE remaining > 0",
    "CREATE INDEX IF NOT EXISTS loyalty_lots_due ON loyalty_lots (expires_at, customer) \
     WHERE remaining > 0 AND expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS loyalty_lot_uses (
    entry  INTEGER NOT NULL REFERENCES loyalty_entries (id),
    lot    INTEGER NOT NULL REFERENCES loyalty_lots (id),
    points INTEGER NOT NULL CHECK (points > 0),
    PRIMARY KEY (entry, lot)
) STRICT, WITHOUT ROWID",
    // The lots (see `program` and the model store): a counted entry with a
    // positive amount makes a lot expiring by the rules in force, or — a
    // reversal of a redemption that took from lots — gives those points back;
    // one with a negative amount takes its points, the reversed entry's lot
    // first, then the soonest date (never last), then the oldest lot.
    concat!(
        "CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_new AFTER INSERT ON loyalty_entries
WHEN NEW.kind <> 'legacy' AND NEW.amount > 0
    AND NOT (NEW.kind = 'reversal' AND EXISTS (SELECT 1 FROM loyalty_lot_uses u WHERE u.entry = NEW.reverses))
BEGIN
    INSERT INTO loyalty_lots (customer, entry, amount, remaining, expires_at)
    VALUES (NEW.customer, NEW.id, NEW.amount, NEW.amount, NEW.created_at + 86400 * (
        SELECT coalesce(json_extract(r.doc, '$.expiry.partners.\"' || NEW.partner || '\"'),
                        json_extract(r.doc, '$.expiry.days'))
          FROM ",
        current_rules!(),
        "));
END"
    ),
    "CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_back AFTER INSERT ON loyalty_entries
WHEN NEW.kind = 'reversal' AND NEW.amount > 0
BEGIN
    UPDATE loyalty_lots
       SET remaining = remaining + (SELECT u.points FROM loyalty_lot_uses u
                                     WHERE u.entry = NEW.reverses AND u.lot = loyalty_lots.id)
     WHERE id IN (SELECT u.lot FROM loyalty_lot_uses u WHERE u.entry = NEW.reverses);
END",
    LOT_TAKE,
    OPENING_LOTS,
    "CREATE TABLE IF NOT EXISTS loyalty_tiers (
    customer    INTEGER PRIMARY KEY REFERENCES loyalty_customers (id),
    tier        INTEGER NOT NULL CHECK (tier BETWEEN 0 AND 10),
    below_since INTEGER,
    checked_at  INTEGER NOT NULL,
    qualifying  INTEGER NOT NULL
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_tiers_due ON loyalty_tiers (checked_at) \
     WHERE tier > 0 OR below_since IS NOT NULL",
    // The tiers (see `program::next_tier`): recomputed with each purchase and reversal.
    concat!(
        "CREATE TRIGGER IF NOT EXISTS loyalty_entries_tier AFTER INSERT ON loyalty_entries
WHEN NEW.kind IN ('accrual', 'reversal')
BEGIN
    ",
        tier_refresh!("NEW.customer", "NEW.created_at", ""),
        ";
END"
    ),
    // Campaigns (see `program::campaigns`); what each paid on which accrual;
    // customers' birthdays.
    "CREATE TABLE IF NOT EXISTS loyalty_campaigns (
    id                 INTEGER PRIMARY KEY,
    title              TEXT    NOT NULL CHECK (json_valid(title)),
    kind               TEXT    NOT NULL CHECK (kind IN ('multiplier', 'first_purchase', 'birthday', 'nth_visit')),
    multiplier_bps     INTEGER NOT NULL CHECK (multiplier_bps BETWEEN 10000 AND 100000),
    points             INTEGER NOT NULL CHECK (points >= 0),
    nth                INTEGER NOT NULL CHECK (nth >= 0),
    window_days        INTEGER NOT NULL CHECK (window_days >= 0),
    weekdays           INTEGER NOT NULL CHECK (weekdays BETWEEN 1 AND 127),
    hour_from          INTEGER NOT NULL CHECK (hour_from BETWEEN 0 AND 23),
    hour_to            INTEGER NOT NULL CHECK (hour_to BETWEEN 1 AND 24),
    utc_offset_minutes INTEGER NOT NULL CHECK (utc_offset_minutes BETWEEN -720 AND 840),
    partner            INTEGER REFERENCES loyalty_partners (id),
    tiers              INTEGER NOT NULL CHECK (tiers BETWEEN 1 AND 2047),
    cap_per_customer   INTEGER CHECK (cap_per_customer > 0),
    budget             INTEGER NOT NULL CHECK (budget > 0),
    issued             INTEGER NOT NULL DEFAULT 0 CHECK (issued BETWEEN 0 AND budget),
    starts_at          INTEGER NOT NULL,
    ends_at            INTEGER NOT NULL CHECK (ends_at > starts_at),
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'rejected', 'ended')),
    author_type        TEXT    NOT NULL CHECK (author_type IN ('admin', 'partner')),
    author_id          INTEGER NOT NULL,
    created_at         INTEGER NOT NULL
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_campaigns_running ON loyalty_campaigns (ends_at) WHERE status = 'active'",
    "CREATE INDEX IF NOT EXISTS loyalty_campaigns_by_partner ON loyalty_campaigns (partner, id)",
    "CREATE TABLE IF NOT EXISTS loyalty_campaign_awards (
    entry      INTEGER NOT NULL REFERENCES loyalty_entries (id),
    campaign   INTEGER NOT NULL REFERENCES loyalty_campaigns (id),
    customer   INTEGER NOT NULL REFERENCES loyalty_customers (id),
    points     INTEGER NOT NULL CHECK (points > 0),
    created_at INTEGER NOT NULL,
    reversed   INTEGER NOT NULL DEFAULT 0 CHECK (reversed IN (0, 1)),
    PRIMARY KEY (entry, campaign)
) STRICT, WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS loyalty_campaign_awards_by_customer ON loyalty_campaign_awards \
     (campaign, customer, created_at) WHERE reversed = 0",
    // What a campaign pays counts against its budget (the CHECK on `issued`
    // refuses an overspend); a reversed accrual gives its awards back.
    "CREATE TRIGGER IF NOT EXISTS loyalty_campaign_awards_issue AFTER INSERT ON loyalty_campaign_awards
BEGIN
    UPDATE loyalty_campaigns SET issued = issued + NEW.points WHERE id = NEW.campaign;
END",
    "CREATE TRIGGER IF NOT EXISTS loyalty_entries_awards_back AFTER INSERT ON loyalty_entries
WHEN NEW.kind = 'reversal'
BEGIN
    UPDATE loyalty_campaigns
       SET issued = issued - (SELECT a.points FROM loyalty_campaign_awards a
                               WHERE a.entry = NEW.reverses AND a.campaign = loyalty_campaigns.id)
     WHERE id IN (SELECT a.campaign FROM loyalty_campaign_awards a WHERE a.entry = NEW.reverses AND a.reversed = 0);
    UPDATE loyalty_campaign_awards SET reversed = 1 WHERE entry = NEW.reverses;
END",
    "CREATE TABLE IF NOT EXISTS loyalty_birthdays (
    customer   INTEGER PRIMARY KEY REFERENCES loyalty_customers (id),
    month      INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12),
    day        INTEGER NOT NULL CHECK (day BETWEEN 1 AND 31),
    created_at INTEGER NOT NULL
) STRICT",
    "CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_update BEFORE UPDATE ON loyalty_entries
BEGIN
    SELECT RAISE(ABORT, 'loyalty_entries is append-only');
END",
    "CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_delete BEFORE DELETE ON loyalty_entries
BEGIN
    SELECT RAISE(ABORT, 'loyalty_entries is append-only');
END",
    "CREATE TABLE IF NOT EXISTS loyalty_redemptions (
    id              INTEGER PRIMARY KEY,
    customer        INTEGER NOT NULL REFERENCES loyalty_customers (id),
    partner         INTEGER NOT NULL REFERENCES loyalty_partners (id),
    points          INTEGER NOT NULL CHECK (points >= 1),
    purchase        INTEGER NOT NULL CHECK (purchase >= 1),
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'confirmed', 'declined', 'expired')),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    entry           INTEGER UNIQUE REFERENCES loyalty_entries (id),
    idempotency_key TEXT    NOT NULL UNIQUE,
    CHECK ((status = 'confirmed') = (entry IS NOT NULL))
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_redemptions_pending ON loyalty_redemptions (expires_at) \
     WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS loyalty_redemptions_pending_by_customer ON loyalty_redemptions (customer) \
     WHERE status = 'pending'",
    "CREATE TABLE IF NOT EXISTS loyalty_imports (
    source        TEXT    NOT NULL,
    telegram_id   INTEGER NOT NULL,
    customer      INTEGER NOT NULL UNIQUE REFERENCES loyalty_customers (id),
    balance       INTEGER NOT NULL CHECK (balance >= 0),
    referral_code TEXT,
    birthday      TEXT,
    imported_at   INTEGER NOT NULL,
    PRIMARY KEY (source, telegram_id)
) STRICT, WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS loyalty_imports_by_code ON loyalty_imports (referral_code) \
     WHERE referral_code IS NOT NULL",
    // An imported customer's date of birth is their birthday, if it is a date
    // that exists (the model's `imported_birthday`); those imported before
    // birthdays existed get theirs here.
    "CREATE TRIGGER IF NOT EXISTS loyalty_imports_birthday AFTER INSERT ON loyalty_imports
WHEN NEW.birthday IS NOT NULL AND length(NEW.birthday) = 10 AND date(NEW.birthday) IS NEW.birthday
BEGIN
    INSERT OR IGNORE INTO loyalty_birthdays (customer, month, day, created_at)
    VALUES (NEW.customer, CAST(substr(NEW.birthday, 6, 2) AS INTEGER), CAST(substr(NEW.birthday, 9, 2) AS INTEGER),
            NEW.imported_at);
END",
    "INSERT OR IGNORE INTO loyalty_birthdays (customer, month, day, created_at)
SELECT customer, CAST(substr(birthday, 6, 2) AS INTEGER), CAST(substr(birthday, 9, 2) AS INTEGER), imported_at
  FROM loyalty_imports WHERE birthday IS NOT NULL AND length(birthday) = 10 AND date(birthday) IS birthday",
    "CREATE TABLE IF NOT EXISTS loyalty_import_rows (
    key         INTEGER PRIMARY KEY,
    telegram_id INTEGER NOT NULL UNIQUE,
    value       TEXT    NOT NULL
) STRICT",
    "CREATE TABLE IF NOT EXISTS loyalty_job_state (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS loyalty_bot_updates (
    bot        INTEGER NOT NULL,
    update_id  INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (bot, update_id)
) STRICT, WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS loyalty_bot_updates_by_time ON loyalty_bot_updates (claimed_at)",
    // The rewards catalogue (see `program::rewards`): each reward's offer as
    // published (JSON), with the columns the calls decide on; the vouchers.
    "CREATE TABLE IF NOT EXISTS loyalty_rewards (
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
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_rewards_by_partner ON loyalty_rewards (partner, id)",
    "CREATE INDEX IF NOT EXISTS loyalty_rewards_by_category ON loyalty_rewards (category, id) WHERE status = 'active'",
    "CREATE TABLE IF NOT EXISTS loyalty_vouchers (
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
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_vouchers_by_customer ON loyalty_vouchers (customer, id)",
    "CREATE TABLE IF NOT EXISTS loyalty_update_bodies (
    bot        INTEGER NOT NULL,
    update_id  INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    PRIMARY KEY (bot, update_id)
) STRICT, WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS loyalty_update_bodies_by_time ON loyalty_update_bodies (claimed_at)",
    "CREATE TABLE IF NOT EXISTS loyalty_outbox (
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
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_outbox_pending ON loyalty_outbox (chat, id) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS loyalty_outbox_due ON loyalty_outbox (next_at, id) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS loyalty_outbox_settled ON loyalty_outbox (settled_at) WHERE state <> 'pending'",
    "CREATE INDEX IF NOT EXISTS loyalty_outbox_failed ON loyalty_outbox (id) WHERE state = 'failed'",
    "CREATE TABLE IF NOT EXISTS loyalty_quotas (
    kind    TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    used    INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (kind, user_id, day)
) STRICT, WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS loyalty_quotas_by_day ON loyalty_quotas (day)",
    "CREATE TABLE IF NOT EXISTS loyalty_broadcasts (
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
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_broadcasts_pending ON loyalty_broadcasts (id) WHERE done = 0",
    // The keys campaigns were made with, and the request (terms and actor) each came with.
    "CREATE TABLE IF NOT EXISTS loyalty_campaign_keys (
    idempotency_key TEXT    PRIMARY KEY,
    campaign        INTEGER NOT NULL REFERENCES loyalty_campaigns (id),
    request         TEXT    NOT NULL
) STRICT, WITHOUT ROWID",
    // Stamp cards (see `program::stamps`): each partner's running card, each
    // customer's stamps at a partner, and each stamp by its key.
    "CREATE TABLE IF NOT EXISTS loyalty_stamp_cards (
    partner    INTEGER PRIMARY KEY REFERENCES loyalty_partners (id),
    needed     INTEGER NOT NULL CHECK (needed BETWEEN 2 AND 50),
    reward     TEXT    NOT NULL CHECK (length(reward) BETWEEN 1 AND 100),
    updated_at INTEGER NOT NULL
) STRICT",
    "CREATE TABLE IF NOT EXISTS loyalty_stamps (
    partner   INTEGER NOT NULL REFERENCES loyalty_partners (id),
    customer  INTEGER NOT NULL REFERENCES loyalty_customers (id),
    stamps    INTEGER NOT NULL CHECK (stamps >= 0),
    completed INTEGER NOT NULL CHECK (completed >= 0),
    PRIMARY KEY (partner, customer)
) STRICT, WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS loyalty_stamp_visits (
    idempotency_key TEXT    PRIMARY KEY,
    partner         INTEGER NOT NULL REFERENCES loyalty_partners (id),
    customer        INTEGER NOT NULL REFERENCES loyalty_customers (id),
    completed       INTEGER NOT NULL CHECK (completed IN (0, 1)),
    created_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID",
    // Partners' staff (cashiers and invitations; only the hash of an
    // invitation's token), and the cashier of each entry and redemption request
    // made at the till by one (none when the partner itself made it).
    "CREATE TABLE IF NOT EXISTS loyalty_staff (
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
) STRICT",
    "CREATE UNIQUE INDEX IF NOT EXISTS loyalty_staff_active ON loyalty_staff (telegram_id) \
     WHERE telegram_id IS NOT NULL AND revoked_at IS NULL",
    "CREATE INDEX IF NOT EXISTS loyalty_staff_by_partner ON loyalty_staff (partner, id)",
    "CREATE TABLE IF NOT EXISTS loyalty_entry_cashiers (
    entry INTEGER PRIMARY KEY REFERENCES loyalty_entries (id),
    staff INTEGER NOT NULL REFERENCES loyalty_staff (id)
) STRICT",
    "CREATE TABLE IF NOT EXISTS loyalty_redemption_cashiers (
    redemption INTEGER PRIMARY KEY REFERENCES loyalty_redemptions (id),
    staff      INTEGER NOT NULL REFERENCES loyalty_staff (id)
) STRICT",
    // Webhook endpoints: the program's (no partner) and partners'; `events` a JSON array of names;
    // the registration's idempotency key (none for those registered before schema 13).
    "CREATE TABLE IF NOT EXISTS loyalty_webhooks (
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
) STRICT",
    "CREATE INDEX IF NOT EXISTS loyalty_webhooks_active ON loyalty_webhooks (partner, id) WHERE removed_at IS NULL",
    // A key is an owner's: the program's endpoints (no partner) are one scope, 0.
    "CREATE UNIQUE INDEX IF NOT EXISTS loyalty_webhooks_by_key ON loyalty_webhooks (coalesce(partner, 0), idempotency_key) \
     WHERE idempotency_key IS NOT NULL",
    // A partner's running total of credits of the day (`CREDIT_PURCHASE`): valid while its newest
    // entry is `through`, so anything else than its credits makes the next credit sum the day again.
    "CREATE TABLE IF NOT EXISTS loyalty_partner_days (
    partner   INTEGER PRIMARY KEY REFERENCES loyalty_partners (id),
    day_start INTEGER NOT NULL,
    credited  INTEGER NOT NULL,
    through   INTEGER NOT NULL
) STRICT",
    // An erasure asked by the customer has no admin.
    "CREATE TABLE IF NOT EXISTS loyalty_audit_log (
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
) STRICT",
    scratch_table!("CREATE TABLE IF NOT EXISTS"),
];

/// The parts of the lots' trigger that schema 15 kept: the trigger's head
/// (`head`) and, after the lots and points chosen, their uses applied and
/// checked (`tail`).
macro_rules! lot_take {
    (head) => {
        "CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_take AFTER INSERT ON loyalty_entries
WHEN NEW.kind <> 'legacy' AND NEW.amount < 0
BEGIN
    INSERT INTO loyalty_lot_uses (entry, lot, points)
    SELECT NEW.id, id, take FROM (
"
    };
    (tail) => {
        "     WHERE take > 0;
    UPDATE loyalty_lots
       SET remaining = remaining - (SELECT u.points FROM loyalty_lot_uses u
                                     WHERE u.entry = NEW.id AND u.lot = loyalty_lots.id)
     WHERE id IN (SELECT u.lot FROM loyalty_lot_uses u WHERE u.entry = NEW.id);
    SELECT RAISE(ABORT, 'loyalty_lots hold fewer points than the balance')
     WHERE coalesce((SELECT sum(u.points) FROM loyalty_lot_uses u WHERE u.entry = NEW.id), 0) <> -NEW.amount;
END"
    };
}

/// The trigger that takes a negative entry's points from the customer's lots:
/// the reversed entry's lot first, then the soonest date (never last), then
/// the oldest lot. It walks the open lots in that order, one index seek per
/// lot, and stops once the points are covered (phase −1: before the first
/// lot; 0: the reversed entry's; 1: dated; 2: without a date), so its cost
/// does not grow with the customer's unspent credits. Schema 15; the shipped
/// migrations before `0014_lots_walk.sql` keep [`LOT_TAKE_14`].
const LOT_TAKE: &str = concat!(
    lot_take!(head),
    "        WITH RECURSIVE walk (phase, at, id, take, needed) AS (
            SELECT -1, NULL, NULL, 0, -NEW.amount
            UNION ALL
            SELECT iif(l.entry IS coalesce(NEW.reverses, 0), 0, iif(l.expires_at IS NULL, 2, 1)), l.expires_at, l.id,
                   min(l.remaining, w.needed), w.needed - min(l.remaining, w.needed)
              FROM walk w JOIN loyalty_lots l ON l.id = coalesce(CASE w.phase
                  WHEN -1 THEN coalesce(
                      (SELECT r.id FROM loyalty_lots r
                        WHERE r.entry = NEW.reverses AND r.customer = NEW.customer AND r.remaining > 0),
                      (SELECT d.id FROM loyalty_lots d
                        WHERE d.customer = NEW.customer AND d.remaining > 0 AND d.expires_at IS NOT NULL
                        ORDER BY d.expires_at, d.id LIMIT 1))
                  WHEN 0 THEN (SELECT d.id FROM loyalty_lots d
                        WHERE d.customer = NEW.customer AND d.remaining > 0 AND d.expires_at IS NOT NULL
                          AND d.entry IS NOT coalesce(NEW.reverses, 0)
                        ORDER BY d.expires_at, d.id LIMIT 1)
                  WHEN 1 THEN (SELECT d.id FROM loyalty_lots d
                        WHERE d.customer = NEW.customer AND d.remaining > 0 AND d.expires_at IS NOT NULL
                          AND (d.expires_at, d.id) > (w.at, w.id) AND d.entry IS NOT coalesce(NEW.reverses, 0)
                        ORDER BY d.expires_at, d.id LIMIT 1)
                  END,
                  (SELECT n.id FROM loyalty_lots n
                    WHERE n.customer = NEW.customer AND n.remaining > 0 AND n.expires_at IS NULL
                      AND n.id > iif(w.phase = 2, w.id, 0) AND n.entry IS NOT coalesce(NEW.reverses, 0)
                    ORDER BY n.id LIMIT 1))
             WHERE w.needed > 0)
        SELECT id, take FROM walk WHERE id IS NOT NULL)
",
    lot_take!(tail)
);

/// [`LOT_TAKE`] up to schema 14: the same lots and points, from a running sum
/// over every open lot of the customer. The text of the shipped D1 migrations
/// `0001_loyalty.sql`, `0003_import_kinds.sql` and `0004_rules_and_lots.sql`.
const LOT_TAKE_14: &str = concat!(
    lot_take!(head),
    "        SELECT id, min(remaining, -NEW.amount - coalesce(sum(remaining) OVER (
                   ORDER BY iif(entry = NEW.reverses, 0, 1), expires_at IS NULL, expires_at, id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS take
          FROM loyalty_lots WHERE customer = NEW.customer AND remaining > 0)
",
    lot_take!(tail)
);

/// `statement` as the shipped migrations up to schema 14 have it.
fn as_in_schema_14(statement: &'static str) -> &'static str {
    if statement == LOT_TAKE { LOT_TAKE_14 } else { statement }
}

/// Gives each customer whose lots hold fewer points than the balance a lot of
/// the difference that never expires: the points held before lots existed
/// (an upgrade), so that the lots always sum to the balance. A no-op when
/// they do.
const OPENING_LOTS: &str = "INSERT INTO loyalty_lots (customer, entry, amount, remaining, expires_at)
SELECT id, NULL, balance - held, balance - held, NULL
  FROM (SELECT c.id, c.balance,
               (SELECT coalesce(sum(l.remaining), 0) FROM loyalty_lots l WHERE l.customer = c.id) AS held
          FROM loyalty_customers c)
 WHERE balance > held
 ORDER BY id";

/// The statements of use case `function` (a name of [`rpc`](super::rpc): `credit_purchase`,
/// …), to run in order as one batch with `?1` bound to the request's JSON in each.
/// The last returns one row, for [`decode`].
///
/// # Errors
/// [`StoreError::Backend`] for a name that is not a use case.
pub fn batch(function: &str) -> StoreResult<Vec<&'static str>> {
    let body = body(function).ok_or_else(|| StoreError::Backend(format!("{function}: no such use case")))?;
    let mut statements = Vec::with_capacity(body.len() + 2);
    statements.push(sql::BEGIN);
    statements.extend_from_slice(body);
    statements.push(sql::END);
    Ok(statements)
}

/// The statements of use case `function` preceded by the claim of an update
/// ([`Storage::fold_claim`](crate::ports::Storage::fold_claim)): one batch that
/// claims the update and does the use case, or — the update claimed before —
/// applies nothing, which [`decode`] reports as [`StoreError::DuplicateUpdate`].
/// The claim's statements take the claim's JSON as `?2` ([`bindings`]).
///
/// # Errors
/// [`StoreError::Backend`] for a name that is not a use case.
pub fn claimed_batch(function: &str) -> StoreResult<Vec<&'static str>> {
    let mut statements = batch(function)?;
    statements.splice(1..1, sql::CLAIM.iter().copied());
    Ok(statements)
}

/// Every use case (the names of [`rpc`](super::rpc)) with the statements of its body.
const USE_CASES: &[(&str, &[&str])] = &[
    ("register_customer", sql::REGISTER_CUSTOMER),
    ("customer_summary", sql::CUSTOMER_SUMMARY),
    ("customer_view", sql::CUSTOMER_VIEW),
    ("export_customers", sql::EXPORT_CUSTOMERS),
    ("customer_entries", sql::CUSTOMER_ENTRIES),
    ("set_language", sql::SET_LANGUAGE),
    ("set_blocked", sql::SET_BLOCKED),
    ("credit_purchase", sql::CREDIT_PURCHASE),
    ("open_redemption", sql::OPEN_REDEMPTION),
    ("confirm_redemption", sql::CONFIRM_REDEMPTION),
    ("decline_redemption", sql::DECLINE_REDEMPTION),
    ("expire_redemptions", sql::EXPIRE_REDEMPTIONS),
    ("reverse_entry", sql::REVERSE_ENTRY),
    ("adjust_balance", sql::ADJUST_BALANCE),
    ("apply_partner", sql::APPLY_PARTNER),
    ("decide_partner", sql::DECIDE_PARTNER),
    ("partner", sql::PARTNER),
    ("list_partners", sql::LIST_PARTNERS),
    ("set_partner_api_key", sql::SET_PARTNER_API_KEY),
    ("partner_by_api_key", sql::PARTNER_BY_API_KEY),
    ("look_up_customer", sql::LOOK_UP_CUSTOMER),
    ("partner_stats", sql::PARTNER_STATS),
    ("program_stats", sql::PROGRAM_STATS),
    ("daily_figures", sql::DAILY_FIGURES),
    ("claim_update", sql::CLAIM_UPDATE),
    ("release_update", sql::RELEASE_UPDATE),
    ("prune_update_claims", sql::PRUNE_UPDATE_CLAIMS),
    ("consume_quota", sql::CONSUME_QUOTA),
    ("swap_job_state", sql::SWAP_JOB_STATE),
    ("enqueue_messages", sql::ENQUEUE_MESSAGES),
    ("take_messages", sql::TAKE_MESSAGES),
    ("settle_messages", sql::SETTLE_MESSAGES),
    ("stale_updates", sql::STALE_UPDATES),
    ("outbox_state", sql::OUTBOX_STATE),
    ("create_broadcast", sql::CREATE_BROADCAST),
    ("claim_broadcast_batch", sql::CLAIM_BROADCAST_BATCH),
    ("record_broadcast", sql::RECORD_BROADCAST),
    ("pending_broadcasts", sql::PENDING_BROADCASTS),
    ("import_batch", sql::IMPORT_BATCH),
    ("program_rules", sql::PROGRAM_RULES),
    ("set_program_rules", sql::SET_PROGRAM_RULES),
    ("expire_points", sql::EXPIRE_POINTS),
    ("remind_expiry", sql::REMIND_EXPIRY),
    ("refresh_tiers", sql::REFRESH_TIERS),
    ("create_campaign", sql::CREATE_CAMPAIGN),
    ("decide_campaign", sql::DECIDE_CAMPAIGN),
    ("campaigns", sql::CAMPAIGNS),
    ("set_birthday", sql::SET_BIRTHDAY),
    ("publish_reward", sql::PUBLISH_REWARD),
    ("decide_reward", sql::DECIDE_REWARD),
    ("rewards", sql::REWARDS),
    ("claim_reward", sql::CLAIM_REWARD),
    ("use_voucher", sql::USE_VOUCHER),
    ("cancel_voucher", sql::CANCEL_VOUCHER),
    ("vouchers", sql::VOUCHERS),
    ("partner_entries", sql::PARTNER_ENTRIES),
    ("export_page", sql::EXPORT_PAGE),
    ("redemption", sql::REDEMPTION),
    ("customer_redemptions", sql::CUSTOMER_REDEMPTIONS),
    ("personal_data", sql::PERSONAL_DATA),
    ("erase_customer", sql::ERASE_CUSTOMER),
    ("audit_log", sql::AUDIT_LOG),
    ("set_stamp_card", sql::SET_STAMP_CARD),
    ("add_stamp", sql::ADD_STAMP),
    ("stamp_cards", sql::STAMP_CARDS),
    ("invite_staff", sql::INVITE_STAFF),
    ("join_staff", sql::JOIN_STAFF),
    ("staff", sql::STAFF),
    ("revoke_staff", sql::REVOKE_STAFF),
    ("add_webhook", sql::ADD_WEBHOOK),
    ("webhooks", sql::WEBHOOKS),
    ("remove_webhook", sql::REMOVE_WEBHOOK),
    ("webhook_targets", sql::WEBHOOK_TARGETS),
    ("record_webhook", sql::RECORD_WEBHOOK),
];

/// The names of the use cases (those of [`rpc`](super::rpc)), each with its [`batch`].
pub fn use_cases() -> impl Iterator<Item = &'static str> {
    USE_CASES.iter().map(|(name, _)| *name)
}

/// Whether use case `function` only reads: every statement of its body writes
/// nothing but the scratch row, so with a [`TEMP_SCRATCH`] table it can run on a
/// read-only connection. `false` for a name that is not a use case.
pub fn is_read_only(function: &str) -> bool {
    body(function).is_some_and(|body| body.iter().all(|s| s.starts_with("UPDATE loyalty_op SET ")))
}

fn body(function: &str) -> Option<&'static [&'static str]> {
    USE_CASES.iter().find(|(name, _)| *name == function).map(|(_, body)| *body)
}

/// How many values `statement` (an item of a [`batch`] or [`claimed_batch`])
/// binds, in order: 0; 1 — the request's JSON as `?1`; or 2 — the request's
/// JSON, then the claim's as `?2`. (D1 refuses more values than a statement
/// has parameters.)
pub fn bindings(statement: &str) -> usize {
    if statement.contains("?2") {
        2
    } else if statement.contains("?1") {
        1
    } else {
        0
    }
}

/// `text` as a SQLite string literal: in single quotes, each quote doubled.
/// SQLite reads nothing else specially inside one (a backslash is a backslash),
/// so any UTF-8 text round-trips — except NUL, which ends a statement's text;
/// [`render`] refuses it.
pub fn sql_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for c in text.chars() {
        if c == '\'' {
            literal.push('\'');
        }
        literal.push(c);
    }
    literal.push('\'');
    literal
}

/// `statement` (an item of a [`batch`]) as self-contained SQL: each parameter
/// `?1` of its text replaced by the request's JSON as a [`sql_literal`]. Only
/// the statement's own text is searched — never the JSON put in, nor a
/// string literal of the statement — so a `?1` inside the request stays as
/// it is.
///
/// # Errors
/// [`StoreError::Backend`] when the statement takes another parameter (the
/// claim's `?2` of a [`claimed_batch`]: a rendered call claims no update) or
/// the request holds a NUL character.
pub fn render(statement: &str, request: &str) -> StoreResult<String> {
    if request.contains('\0') {
        return Err(StoreError::Backend("a rendered request cannot hold a NUL character".into()));
    }
    let literal = sql_literal(request);
    let mut out = String::with_capacity(statement.len() + literal.len());
    let mut rest = statement;
    while let Some(at) = rest.find(['\'', '?']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('\'') {
            // A string literal of the statement: copied as it is, to its closing quote.
            let end = rest[1..].find('\'').map_or(rest.len(), |e| e + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let digits = rest[1..].find(|c: char| !c.is_ascii_digit()).map_or(rest.len(), |d| d + 1);
        if &rest[..digits] != "?1" {
            return Err(StoreError::Backend(format!(
                "cannot render a statement with the parameter {:?}: only ?1, the request, is rendered",
                &rest[..digits]
            )));
        }
        out.push_str(&literal);
        rest = &rest[digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The statements of a [`batch`] of use case `function` with the request's
/// JSON written into them ([`render`]): one call as SQL text that needs no
/// bindings, for a database reached only through SQL files (`wrangler d1
/// execute --file`). Run in order inside one transaction, they do what the
/// bound [`batch`] does; the last returns the row for [`decode`]. Their text
/// holds no `;` outside the request's literal, so they can be joined with
/// `;` and a newline into a file.
///
/// # Errors
/// As [`batch`] and [`render`].
pub fn render_batch(function: &str, request: &str) -> StoreResult<Vec<String>> {
    batch(function)?.into_iter().map(|statement| render(statement, request)).collect()
}

/// A statement to put just before the last statement of a [`batch`]: it
/// copies the call's answer row into table `into`, as `INSERT OR REPLACE INTO
/// into SELECT key, answer, fault` — `key` being SQL values that name the
/// call (literals) — so that the answer outlives a run that returns no rows
/// (`wrangler d1 execute --remote --file` reports only counts). The answer is
/// the one the last statement returns, from the same expression.
pub fn keep_outcome(into: &str, key: &str) -> String {
    let returning = sql::END.split_once(" RETURNING ").map_or("NULL AS answer, NULL AS fault", |(_, r)| r);
    format!("INSERT OR REPLACE INTO {into} SELECT {key}, {returning} FROM loyalty_op")
}

/// The row the last statement of a [`batch`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Outcome {
    /// The answer's JSON text (`{"rejected": …}` when a rule refused).
    pub answer: Option<String>,
    /// A failure that is not a rule of the program (an unknown broadcast job).
    pub fault: Option<String>,
}

/// Turns the last statement's row into the answer's JSON, for
/// [`RpcBackend::call_function`](super::rpc::RpcBackend::call_function).
///
/// # Errors
/// [`StoreError::Backend`] when there is no row, the row holds a fault, or the
/// answer is not JSON.
pub fn decode(function: &str, outcome: Option<Outcome>) -> StoreResult<Value> {
    let outcome = outcome.ok_or_else(|| StoreError::Backend(format!("{function}: the batch returned no answer")))?;
    if let Some(fault) = outcome.fault {
        if fault == sql::DUPLICATE {
            return Err(StoreError::DuplicateUpdate);
        }
        return Err(StoreError::Backend(format!("{function}: {fault}")));
    }
    let answer = outcome.answer.ok_or_else(|| StoreError::Backend(format!("{function}: the batch left no answer")))?;
    serde_json::from_str(&answer).map_err(|e| StoreError::Backend(format!("{function}: unreadable answer: {e}")))
}

/// The statements that bring `loyalty_entries` of an older schema (before
/// imports: without the `import` and `legacy` kinds, and a balance trigger
/// counting every entry; before the program's rules: without the `expiry`
/// kind and `rules_version`) to [`SCHEMA`]'s, keeping every row: the rows are
/// copied aside, the table is created anew from [`SCHEMA`] and the rows come
/// back (before the balance trigger exists, so balances stay as they are;
/// `rules_version` 0); then the table's indexes and triggers, the tables of
/// the rules, the lots and the tiers, and a never-expiring opening lot for the points
/// each customer holds outside lots. Foreign keys are checked at commit
/// (`defer_foreign_keys`), so the references to entries hold throughout.
/// `loyalty-native` runs them when opening a schema-2, -3 or -4 SQLite file;
/// the D1 migrations `0003_import_kinds.sql` and `0004_rules_and_lots.sql`
/// hold their text.
pub fn entries_upgrade() -> Vec<&'static str> {
    // The tables as migrations 0003 and 0004 rebuilt them (a later index of
    // `loyalty_entries` comes with its own migration).
    let entries = |s: &&&str| {
        (s.contains(" ON loyalty_entries") && !s.contains(" loyalty_entries_by_partner "))
            || s.starts_with("CREATE TABLE IF NOT EXISTS loyalty_entries (")
            || s.contains(" loyalty_lot")
            || s.contains(" loyalty_rules (")
            || s.contains(" loyalty_tiers")
            || (s.contains(" loyalty_campaign") && !s.contains(" loyalty_campaign_keys"))
            || (s.contains(" loyalty_birthdays") && !s.contains("loyalty_imports"))
    };
    let mut statements = vec![
        "PRAGMA defer_foreign_keys = ON",
        "CREATE TABLE loyalty_entries_before_import AS SELECT * FROM loyalty_entries",
        "DROP TABLE loyalty_entries",
    ];
    let mut schema = SCHEMA.iter().filter(entries).map(|s| as_in_schema_14(s));
    statements.extend(schema.next());
    statements.push(
        "INSERT INTO loyalty_entries (id, customer, kind, amount, partner, purchase, idempotency_key, author_type, \
         author_id, reverses, reason, created_at) SELECT id, customer, kind, amount, partner, purchase, \
         idempotency_key, author_type, author_id, reverses, reason, created_at \
         FROM loyalty_entries_before_import ORDER BY id",
    );
    statements.push("DROP TABLE loyalty_entries_before_import");
    statements.extend(schema);
    statements
}

/// The text of the D1 migration of the program's rules and the lots of
/// expiring points: [`entries_upgrade`]
/// (`loyalty-edge/migrations/0004_rules_and_lots.sql`).
pub fn rules_upgrade_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: the program's rules (versions), the lots of expiring points, the\n\
         -- `expiry` entry kind, tiers, campaigns and birthdays (the imported customers' too), generated from\n\
         -- loyalty_core::stores::d1::entries_upgrade and the birthday statements of SCHEMA (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0003, before deploying this version.\n\
         -- It rebuilds loyalty_entries keeping every row; entries made before it record rules version 0.\n",
    );
    // …and the imported customers' birthdays (the imports' table exists since 0003).
    let birthdays = SCHEMA.iter().filter(|s| s.contains(" loyalty_birthdays") && s.contains("loyalty_imports"));
    for statement in entries_upgrade().iter().chain(birthdays) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration holding [`entries_upgrade`] and the tables
/// of imports (`loyalty-edge/migrations/0003_import_kinds.sql`).
pub fn entries_upgrade_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: the `import` and `legacy` entry kinds (imports from another\n\
         -- system), generated from loyalty_core::stores::d1::entries_upgrade (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0002, before importing.\n",
    );
    let imports = SCHEMA.iter().filter(|s| s.contains(" loyalty_import"));
    for statement in entries_upgrade().iter().chain(imports) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration of the scheduled jobs' states
/// (`loyalty-edge/migrations/0005_job_state.sql`): the statements of
/// [`SCHEMA`] that create `loyalty_job_state`.
pub fn job_state_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: the scheduled jobs' states (the webhook watchdog's), generated from\n\
         -- loyalty_core::stores::d1::SCHEMA (do not edit). Apply with `wrangler d1 migrations apply <database>`\n\
         -- after 0004; a Worker also creates the table by itself on first use.\n",
    );
    for statement in SCHEMA.iter().filter(|s| s.contains(" loyalty_job_state")) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration of the transactional outbox
/// (`loyalty-edge/migrations/0006_outbox.sql`): the statements of [`SCHEMA`]
/// that create `loyalty_update_bodies` and `loyalty_outbox`.
pub fn outbox_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: the outbox of messages and the bodies of updates being processed,\n\
         -- generated from loyalty_core::stores::d1::SCHEMA (do not edit). Apply with\n\
         -- `wrangler d1 migrations apply <database>` after 0005; a Worker also creates the tables by itself on\n\
         -- first use.\n",
    );
    for statement in SCHEMA.iter().filter(|s| s.contains(" loyalty_update_bodies") || s.contains(" loyalty_outbox")) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration of the rewards catalogue
/// (`loyalty-edge/migrations/0007_rewards.sql`): the statements of [`SCHEMA`]
/// that create `loyalty_rewards`, `loyalty_vouchers`, the index of a
/// partner's entries by id (its POS's statement) and that of the quota
/// windows by their start (pruned by the maintenance pass).
pub fn rewards_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: the rewards catalogue, its vouchers, and indexes of a partner's entries\n\
         -- by id and of the quota windows by start, generated from loyalty_core::stores::d1::SCHEMA (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0006; a Worker also creates the tables by\n\
         -- itself on first use (not the indexes: apply the migration).\n",
    );
    let ours = |s: &&&str| {
        s.contains(" loyalty_rewards")
            || s.contains(" loyalty_vouchers")
            || s.contains(" loyalty_entries_by_partner ")
            || s.contains(" loyalty_quotas_by_day ")
    };
    for statement in SCHEMA.iter().filter(ours) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The statements that bring the audit log of a database made before
/// erasures (schema 2 to 8: no `erased` action, an admin on every record) to
/// [`SCHEMA`]'s, keeping every record: the rows are copied aside, the table
/// is created anew from [`SCHEMA`] and the rows come back. `loyalty-native`
/// runs them when opening such a SQLite file; the D1 migration
/// `0008_personal_data.sql` holds their text.
pub fn audit_upgrade() -> Vec<&'static str> {
    let mut statements = vec![
        "CREATE TABLE loyalty_audit_log_before_erasure AS SELECT * FROM loyalty_audit_log",
        "DROP TABLE loyalty_audit_log",
    ];
    statements.extend(SCHEMA.iter().filter(|s| s.contains(" loyalty_audit_log (")));
    statements.push(
        "INSERT INTO loyalty_audit_log (id, admin, action, customer, partner, entry, amount, reason, blocked, \
         decision, status, at) SELECT id, admin, action, customer, partner, entry, amount, reason, blocked, decision, \
         status, at FROM loyalty_audit_log_before_erasure ORDER BY id",
    );
    statements.push("DROP TABLE loyalty_audit_log_before_erasure");
    statements
}

/// The text of the D1 migration of personal data and erasure
/// (`loyalty-edge/migrations/0008_personal_data.sql`): [`audit_upgrade`] and
/// the index of the pending redemption requests by customer.
pub fn personal_data_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: erasures in the audit log (an `erased` action, no admin when the customer\n\
         -- asked) and the pending redemption requests by customer, generated from\n\
         -- loyalty_core::stores::d1::audit_upgrade and SCHEMA (do not edit). Apply with\n\
         -- `wrangler d1 migrations apply <database>` after 0007, before deploying this version.\n",
    );
    let index = SCHEMA.iter().filter(|s| s.contains(" loyalty_redemptions_pending_by_customer "));
    for statement in audit_upgrade().iter().chain(index) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration of stamp cards and campaigns' keys
/// (`loyalty-edge/migrations/0009_stamps.sql`): the statements of [`SCHEMA`]
/// that create `loyalty_stamp_cards`, `loyalty_stamps`, `loyalty_stamp_visits`
/// and `loyalty_campaign_keys`.
pub fn stamps_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: stamp cards and the keys campaigns are made with, generated from\n\
         -- loyalty_core::stores::d1::SCHEMA (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0008; a Worker also creates the tables by\n\
         -- itself on first use.\n",
    );
    for statement in SCHEMA.iter().filter(|s| s.contains(" loyalty_stamp") || s.contains(" loyalty_campaign_keys")) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration of partners' staff
/// (`loyalty-edge/migrations/0010_staff.sql`): the statements of [`SCHEMA`]
/// that create `loyalty_staff`, `loyalty_entry_cashiers` and
/// `loyalty_redemption_cashiers`.
pub fn staff_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: partners' staff (cashiers) and who made each entry at the till, generated\n\
         -- from loyalty_core::stores::d1::SCHEMA (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0009; a Worker also creates the tables by\n\
         -- itself on first use.\n",
    );
    for statement in SCHEMA.iter().filter(|s| s.contains(" loyalty_staff") || s.contains("_cashiers (")) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// `loyalty_webhooks` as schema 12 created it, before registrations' keys:
/// the text the shipped D1 migrations `0001_loyalty.sql` and
/// `0011_webhooks.sql` hold (a shipped migration is never rewritten; `0012`
/// brings the table to [`SCHEMA`]'s).
const WEBHOOKS_12: &str = "CREATE TABLE IF NOT EXISTS loyalty_webhooks (
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
) STRICT";

/// The statements of [`SCHEMA`] as schema 12 had them: `loyalty_webhooks`
/// without its keys ([`WEBHOOKS_12`]), and no `loyalty_partner_days` (schema 14's).
fn schema_12() -> impl Iterator<Item = &'static str> {
    SCHEMA
        .iter()
        .filter(|s| !s.contains(" loyalty_webhooks_by_key ") && !s.contains(" loyalty_partner_days "))
        .map(|s| if s.starts_with("CREATE TABLE IF NOT EXISTS loyalty_webhooks (") { WEBHOOKS_12 } else { s })
        .map(as_in_schema_14)
}

/// The text of the D1 migration of webhook endpoints
/// (`loyalty-edge/migrations/0011_webhooks.sql`): the statements of
/// schema 12 that create `loyalty_webhooks`.
pub fn webhooks_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: the registry of outgoing webhook endpoints, generated from\n\
         -- loyalty_core::stores::d1::SCHEMA (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0010; a Worker also creates the table by\n\
         -- itself on first use.\n",
    );
    for statement in schema_12().filter(|s| s.contains(" loyalty_webhooks")) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The statements that bring `loyalty_webhooks` of schema 12 (without
/// registrations' idempotency keys) to [`SCHEMA`]'s, keeping every endpoint
/// (with no key): the rows are copied aside, the table is created anew from
/// [`SCHEMA`] with its indexes (the unique one of an owner's keys among
/// them) and the rows come back. Nothing references the table, so it can be
/// dropped. `loyalty-native` runs them when opening a schema-12 SQLite file;
/// the D1 migration `0012_webhook_keys.sql` holds their text. On a table that
/// has the keys already (a database a Worker created itself) they run too,
/// and drop the keys (a registration retried across the upgrade then makes
/// a second endpoint).
pub fn webhook_keys_upgrade() -> Vec<&'static str> {
    let mut statements = vec![
        "CREATE TABLE loyalty_webhooks_before_keys AS SELECT * FROM loyalty_webhooks",
        "DROP TABLE loyalty_webhooks",
    ];
    statements.extend(SCHEMA.iter().filter(|s| s.contains(" loyalty_webhooks")));
    statements.push(
        "INSERT INTO loyalty_webhooks (id, partner, url, events, secret, created_at, removed_at, last_attempt_at, \
         last_status, last_error, last_success_at) SELECT id, partner, url, events, secret, created_at, removed_at, \
         last_attempt_at, last_status, last_error, last_success_at FROM loyalty_webhooks_before_keys ORDER BY id",
    );
    statements.push("DROP TABLE loyalty_webhooks_before_keys");
    statements
}

/// The text of the D1 migration of registrations' idempotency keys
/// (`loyalty-edge/migrations/0012_webhook_keys.sql`): [`webhook_keys_upgrade`].
pub fn webhook_keys_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: an idempotency key per webhook endpoint's registration, unique per\n\
         -- owner, generated from loyalty_core::stores::d1::webhook_keys_upgrade (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0011, before deploying this version.\n\
         -- It rebuilds loyalty_webhooks keeping every endpoint (those registered before it have no key).\n",
    );
    for statement in webhook_keys_upgrade() {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration of the partners' running totals of the day
/// (`loyalty-edge/migrations/0013_partner_days.sql`): the statement of
/// [`SCHEMA`] that creates `loyalty_partner_days`.
pub fn partner_days_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: each partner's running total of credits of the day, generated from\n\
         -- loyalty_core::stores::d1::SCHEMA (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>` after 0012; a Worker also creates the table by\n\
         -- itself on first use.\n",
    );
    for statement in SCHEMA.iter().filter(|s| s.contains(" loyalty_partner_days ")) {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The statements that replace schema 14's trigger taking a negative entry's
/// points from the lots (a running sum over every open lot) by schema 15's
/// walk ([`SCHEMA`]'s `loyalty_entries_lot_take`): same lots and points, a cost
/// that no longer grows with the customer's open lots. `loyalty-native` runs
/// them when opening an older SQLite file; the D1 migration
/// `0014_lots_walk.sql` holds their text.
pub fn lots_walk_upgrade() -> [&'static str; 2] {
    ["DROP TRIGGER IF EXISTS loyalty_entries_lot_take", LOT_TAKE]
}

/// The text of the D1 migration of the lots' walk
/// (`loyalty-edge/migrations/0014_lots_walk.sql`): [`lots_walk_upgrade`].
pub fn lots_walk_migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema change: a negative entry walks the customer's open lots in their order and\n\
         -- stops once its points are covered, generated from loyalty_core::stores::d1::lots_walk_upgrade\n\
         -- (do not edit). Apply with `wrangler d1 migrations apply <database>` after 0013. The same lots\n\
         -- and points as before; until it is applied, a redemption reads every open lot of the customer.\n",
    );
    for statement in lots_walk_upgrade() {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// The text of the D1 migration `loyalty-edge/migrations/0001_loyalty.sql`,
/// for `wrangler d1 migrations apply`: [`SCHEMA`] as schema 12 had it (a
/// shipped migration is never rewritten; the later migrations bring a
/// database to [`SCHEMA`]).
pub fn migration() -> String {
    let mut text = String::from(
        "-- loyalty-rs D1 schema, generated from loyalty_core::stores::d1::SCHEMA (do not edit).\n\
         -- Apply with `wrangler d1 migrations apply <database>`, or let the Worker create it on first use.\n",
    );
    for statement in schema_12() {
        text.push('\n');
        text.push_str(statement);
        text.push_str(";\n");
    }
    text
}

/// Whether a failed batch's error message says that the schema is missing
/// (`no such table: loyalty_…`): apply [`SCHEMA`] and run the call again.
pub fn is_missing_schema(message: &str) -> bool {
    message.contains("no such table: loyalty_") || message.contains("no such table: main.loyalty_")
}

/// Maps the error message of a failed batch (nothing of it was applied) to a
/// [`StoreError`]: D1's temporary conditions (the database restarting,
/// overloaded, its connection lost, a timeout) are
/// [`Unavailable`](StoreError::Unavailable) — the caller retries, which is safe
/// since the batch rolled back — and SQL errors (constraints, a missing or
/// outdated schema, bad statements) are [`Backend`](StoreError::Backend).
pub fn classify_error(function: &str, message: &str) -> StoreError {
    const TEMPORARY: &[&str] = &[
        "network connection lost",
        "reset because its code was updated",
        "storage caused object to be reset",
        "cannot resolve d1 db due to transient issue",
        "d1 db is overloaded",
        "too many requests queued",
        "internal error",
        "timed out",
        "timeout",
        "sqlite_busy",
        "database is locked",
    ];
    let detail = super::rest::clip(message);
    let lower = message.to_ascii_lowercase();
    if TEMPORARY.iter().any(|t| lower.contains(t)) {
        StoreError::Unavailable(format!("{function}: {detail}"))
    } else {
        StoreError::Backend(format!("{function}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_use_case_is_a_batch_framed_by_the_scratch_row() {
        for f in use_cases() {
            let b = batch(f).unwrap();
            assert!(b.len() >= 3, "{f}");
            assert!(b[0].starts_with("INSERT OR REPLACE INTO loyalty_op"), "{f}");
            assert!(b.last().unwrap().starts_with("DELETE FROM loyalty_op RETURNING"), "{f}");
            assert!(b.iter().all(|s| !s.trim().is_empty() && !s.contains(';')), "{f}: one statement per item");
        }
        assert!(matches!(batch("drop_everything"), Err(StoreError::Backend(_))));
    }

    #[test]
    fn a_claimed_batch_claims_first_and_binds_the_claim_second() {
        for f in use_cases() {
            let (plain, claimed) = (batch(f).unwrap(), claimed_batch(f).unwrap());
            assert_eq!(claimed.len(), plain.len() + sql::CLAIM.len(), "{f}");
            assert_eq!(claimed[0], plain[0]);
            assert_eq!(&claimed[1..=sql::CLAIM.len()], sql::CLAIM);
            assert_eq!(&claimed[sql::CLAIM.len() + 1..], &plain[1..]);
            assert!(claimed[1..=sql::CLAIM.len()].iter().all(|s| bindings(s) == 2), "{f}");
            assert!(plain.iter().all(|s| bindings(s) < 2), "{f}: only the claim binds ?2");
        }
        let duplicate = Outcome { answer: None, fault: Some(sql::DUPLICATE.into()) };
        assert_eq!(decode("f", Some(duplicate)), Err(StoreError::DuplicateUpdate));
    }

    #[test]
    fn a_rendered_statement_quotes_the_request_and_nothing_else() {
        assert_eq!(sql_literal(""), "''");
        assert_eq!(sql_literal(r#"{"n":"O'Brien \\ ё ?1 ;"}"#), r#"'{"n":"O''Brien \\ ё ?1 ;"}'"#);
        let request = r#"{"a":"it's ?1 and ?2 \" \\ ☕"}"#;
        let literal = sql_literal(request);
        assert_eq!(
            render("SELECT json_extract(?1, '$.a'), ?1 || '?1', ?10", request).unwrap_err(),
            StoreError::Backend(
                "cannot render a statement with the parameter \"?10\": only ?1, the request, is rendered".into()
            )
        );
        assert_eq!(
            render("SELECT json_extract(?1, '$.a''?1'), ?1", request).unwrap(),
            format!("SELECT json_extract({literal}, '$.a''?1'), {literal}")
        );
        assert_eq!(render("SELECT 1", request).unwrap(), "SELECT 1");
        assert!(matches!(render("SELECT ?2", "{}"), Err(StoreError::Backend(_))));
        assert!(matches!(render("SELECT ?", "{}"), Err(StoreError::Backend(_))));
        assert!(matches!(render("SELECT ?1", "\"\0\""), Err(StoreError::Backend(_))));
        for statement in claimed_batch("import_batch").unwrap() {
            assert_eq!(render(statement, "{}").is_ok(), bindings(statement) < 2);
        }
    }

    #[test]
    fn tables_lists_every_table_of_the_schema_children_first() {
        let created: Vec<&str> = SCHEMA
            .iter()
            .filter_map(|s| s.strip_prefix("CREATE TABLE IF NOT EXISTS "))
            .map(|rest| rest.split_whitespace().next().unwrap_or_default())
            .collect();
        for table in &created {
            assert!(TABLES.contains(table), "{table} is created by SCHEMA but missing from TABLES");
        }
        assert_eq!(created.len(), TABLES.len(), "TABLES lists a table SCHEMA does not create");
        // A table that references another comes before it.
        for statement in SCHEMA.iter().filter(|s| s.starts_with("CREATE TABLE IF NOT EXISTS ")) {
            let table = statement["CREATE TABLE IF NOT EXISTS ".len()..].split_whitespace().next().unwrap_or_default();
            let at = TABLES.iter().position(|t| *t == table).unwrap_or_default();
            for parent in statement.split("REFERENCES ").skip(1).filter_map(|r| r.split_whitespace().next()) {
                let parent_at = TABLES.iter().position(|t| *t == parent);
                assert!(parent_at.is_some_and(|p| p > at || parent == table), "{table} references {parent}");
            }
        }
    }

    #[test]
    fn a_rendered_batch_binds_nothing() {
        let request = r#"{"source":"x'; DROP TABLE loyalty_customers; --","customers":[]}"#;
        for f in use_cases() {
            let rendered = render_batch(f, request).unwrap();
            let plain = batch(f).unwrap();
            assert_eq!(rendered.len(), plain.len(), "{f}");
            for (r, p) in rendered.iter().zip(&plain) {
                assert!(!r.contains("?1") || r.contains(&sql_literal(request)), "{f}");
                assert_eq!(r.replace(&sql_literal(request), "?1"), *p, "{f}");
            }
        }
        assert!(matches!(render_batch("drop_everything", "{}"), Err(StoreError::Backend(_))));
        let keep = keep_outcome("t", "'run', 3");
        assert!(keep.starts_with("INSERT OR REPLACE INTO t SELECT 'run', 3, iif(err IS NOT NULL"), "{keep}");
        assert!(keep.ends_with(" AS answer, fault FROM loyalty_op"), "{keep}");
    }

    #[test]
    fn the_read_only_use_cases_are_the_lookups() {
        let read_only: Vec<&str> = use_cases().filter(|f| is_read_only(f)).collect();
        assert_eq!(
            read_only,
            [
                "customer_summary",
                "export_customers",
                "customer_entries",
                "partner",
                "list_partners",
                "partner_by_api_key",
                "look_up_customer",
                "partner_stats",
                "program_stats",
                "daily_figures",
                "outbox_state",
                "pending_broadcasts",
                "program_rules",
                "campaigns",
                "rewards",
                "vouchers",
                "partner_entries",
                "export_page",
                "redemption",
                "customer_redemptions",
                "personal_data",
                "audit_log",
                "stamp_cards",
                "staff",
                "webhooks",
                "webhook_targets"
            ]
        );
        assert!(!is_read_only("drop_everything"));
        assert!(TEMP_SCRATCH.starts_with("CREATE TEMP TABLE IF NOT EXISTS loyalty_op ("));
        assert!(SCHEMA.iter().any(|s| s.replacen("CREATE TABLE", "CREATE TEMP TABLE", 1) == TEMP_SCRATCH));
    }

    #[test]
    fn decode_reads_answers_rejections_and_faults() {
        let ok = Outcome { answer: Some(r#"{"a":1}"#.into()), fault: None };
        assert_eq!(decode("f", Some(ok)).unwrap(), serde_json::json!({"a": 1}));
        let null = Outcome { answer: Some("null".into()), fault: None };
        assert_eq!(decode("f", Some(null)).unwrap(), Value::Null);
        let fault = Outcome { answer: None, fault: Some("unknown broadcast job 7".into()) };
        assert_eq!(decode("f", Some(fault)), Err(StoreError::Backend("f: unknown broadcast job 7".into())));
        assert!(matches!(decode("f", None), Err(StoreError::Backend(_))));
        assert!(matches!(decode("f", Some(Outcome::default())), Err(StoreError::Backend(_))));
        let garbage = Outcome { answer: Some("{".into()), fault: None };
        assert!(matches!(decode("f", Some(garbage)), Err(StoreError::Backend(_))));
    }

    #[test]
    fn errors_are_temporary_only_when_d1_says_so() {
        assert!(classify_error("f", "D1_ERROR: Network connection lost.").is_temporary());
        assert!(classify_error("f", "D1 DB is overloaded. Too many requests queued.").is_temporary());
        assert!(
            !classify_error("f", "D1_ERROR: UNIQUE constraint failed: loyalty_partners.api_key_sha256").is_temporary()
        );
        assert!(!classify_error("f", "D1_ERROR: no such table: loyalty_op: SQLITE_ERROR").is_temporary());
        let long = "x".repeat(10_000);
        assert!(classify_error("f", &long).to_string().len() < 400);
        assert!(is_missing_schema("D1_ERROR: no such table: loyalty_op: SQLITE_ERROR"));
        assert!(!is_missing_schema("D1_ERROR: no such table: other"));
    }
}
