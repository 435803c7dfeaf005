-- loyalty-rs D1 schema, generated from loyalty_core::stores::d1::SCHEMA (do not edit).
-- Apply with `wrangler d1 migrations apply <database>`, or let the Worker create it on first use.

CREATE TABLE IF NOT EXISTS loyalty_customers (
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
) STRICT;

CREATE TABLE IF NOT EXISTS loyalty_partners (
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
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_partners_by_status ON loyalty_partners (status, created_at, id);

CREATE TABLE IF NOT EXISTS loyalty_entries (
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
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_entries_by_customer ON loyalty_entries (customer, id);

CREATE INDEX IF NOT EXISTS loyalty_entries_by_partner_time ON loyalty_entries (partner, created_at, kind, amount, customer) WHERE partner IS NOT NULL;

CREATE INDEX IF NOT EXISTS loyalty_entries_by_time ON loyalty_entries (created_at, kind, amount, customer);

CREATE INDEX IF NOT EXISTS loyalty_entries_by_partner ON loyalty_entries (partner, id) WHERE partner IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_apply AFTER INSERT ON loyalty_entries WHEN NEW.kind <> 'legacy'
BEGIN
    UPDATE loyalty_customers SET balance = balance + NEW.amount WHERE id = NEW.customer;
END;

CREATE TABLE IF NOT EXISTS loyalty_rules (
    version    INTEGER PRIMARY KEY CHECK (version >= 1),
    doc        TEXT    NOT NULL CHECK (json_valid(doc)),
    admin      INTEGER,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS loyalty_lots (
    id         INTEGER PRIMARY KEY,
    customer   INTEGER NOT NULL REFERENCES loyalty_customers (id),
    entry      INTEGER UNIQUE REFERENCES loyalty_entries (id),
    amount     INTEGER NOT NULL CHECK (amount > 0),
    remaining  INTEGER NOT NULL CHECK (remaining BETWEEN 0 AND amount),
    expires_at INTEGER,
    reminded   INTEGER NOT NULL DEFAULT 0 CHECK (reminded IN (0, 1))
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_lots_open ON loyalty_lots (customer, expires_at) WHERE remaining > 0;

CREATE INDEX IF NOT EXISTS loyalty_lots_due ON loyalty_lots (expires_at, customer) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS loyalty_lot_uses (
    entry  INTEGER NOT NULL REFERENCES loyalty_entries (id),
    lot    INTEGER NOT NULL REFERENCES loyalty_lots (id),
    points INTEGER NOT NULL CHECK (points > 0),
    PRIMARY KEY (entry, lot)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_new AFTER INSERT ON loyalty_entries
WHEN NEW.kind <> 'legacy' AND NEW.amount > 0
    AND NOT (NEW.kind = 'reversal' AND EXISTS (SELECT 1 FROM loyalty_lot_uses u WHERE u.entry = NEW.reverses))
BEGIN
    INSERT INTO loyalty_lots (customer, entry, amount, remaining, expires_at)
    VALUES (NEW.customer, NEW.id, NEW.amount, NEW.amount, NEW.created_at + 86400 * (
        SELECT coalesce(json_extract(r.doc, '$.expiry.partners."' || NEW.partner || '"'),
                        json_extract(r.doc, '$.expiry.days'))
          FROM loyalty_rules r WHERE r.version = (SELECT max(version) FROM loyalty_rules)));
END;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_back AFTER INSERT ON loyalty_entries
WHEN NEW.kind = 'reversal' AND NEW.amount > 0
BEGIN
    UPDATE loyalty_lots
       SET remaining = remaining + (SELECT u.points FROM loyalty_lot_uses u
                                     WHERE u.entry = NEW.reverses AND u.lot = loyalty_lots.id)
     WHERE id IN (SELECT u.lot FROM loyalty_lot_uses u WHERE u.entry = NEW.reverses);
END;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_take AFTER INSERT ON loyalty_entries
WHEN NEW.kind <> 'legacy' AND NEW.amount < 0
BEGIN
    INSERT INTO loyalty_lot_uses (entry, lot, points)
    SELECT NEW.id, id, take FROM (
        SELECT id, min(remaining, -NEW.amount - coalesce(sum(remaining) OVER (
                   ORDER BY iif(entry = NEW.reverses, 0, 1), expires_at IS NULL, expires_at, id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS take
          FROM loyalty_lots WHERE customer = NEW.customer AND remaining > 0)
     WHERE take > 0;
    UPDATE loyalty_lots
       SET remaining = remaining - (SELECT u.points FROM loyalty_lot_uses u
                                     WHERE u.entry = NEW.id AND u.lot = loyalty_lots.id)
     WHERE id IN (SELECT u.lot FROM loyalty_lot_uses u WHERE u.entry = NEW.id);
    SELECT RAISE(ABORT, 'loyalty_lots hold fewer points than the balance')
     WHERE coalesce((SELECT sum(u.points) FROM loyalty_lot_uses u WHERE u.entry = NEW.id), 0) <> -NEW.amount;
END;

INSERT INTO loyalty_lots (customer, entry, amount, remaining, expires_at)
SELECT id, NULL, balance - held, balance - held, NULL
  FROM (SELECT c.id, c.balance,
               (SELECT coalesce(sum(l.remaining), 0) FROM loyalty_lots l WHERE l.customer = c.id) AS held
          FROM loyalty_customers c)
 WHERE balance > held
 ORDER BY id;

CREATE TABLE IF NOT EXISTS loyalty_tiers (
    customer    INTEGER PRIMARY KEY REFERENCES loyalty_customers (id),
    tier        INTEGER NOT NULL CHECK (tier BETWEEN 0 AND 10),
    below_since INTEGER,
    checked_at  INTEGER NOT NULL,
    qualifying  INTEGER NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_tiers_due ON loyalty_tiers (checked_at) WHERE tier > 0 OR below_since IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_tier AFTER INSERT ON loyalty_entries
WHEN NEW.kind IN ('accrual', 'reversal')
BEGIN
    INSERT INTO loyalty_tiers (customer, tier, below_since, checked_at, qualifying)
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
                  FROM (SELECT NEW.customer AS c, NEW.created_at AS n, (SELECT r.doc FROM loyalty_rules r WHERE r.version = (SELECT max(version) FROM loyalty_rules)) AS d, coalesce((SELECT tier FROM loyalty_tiers WHERE customer = NEW.customer), 0) AS t, (SELECT below_since FROM loyalty_tiers WHERE customer = NEW.customer) AS b )))
 WHERE true
ON CONFLICT (customer) DO UPDATE SET tier = excluded.tier, below_since = excluded.below_since,
    checked_at = excluded.checked_at, qualifying = excluded.qualifying;
END;

CREATE TABLE IF NOT EXISTS loyalty_campaigns (
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
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_campaigns_running ON loyalty_campaigns (ends_at) WHERE status = 'active';

CREATE INDEX IF NOT EXISTS loyalty_campaigns_by_partner ON loyalty_campaigns (partner, id);

CREATE TABLE IF NOT EXISTS loyalty_campaign_awards (
    entry      INTEGER NOT NULL REFERENCES loyalty_entries (id),
    campaign   INTEGER NOT NULL REFERENCES loyalty_campaigns (id),
    customer   INTEGER NOT NULL REFERENCES loyalty_customers (id),
    points     INTEGER NOT NULL CHECK (points > 0),
    created_at INTEGER NOT NULL,
    reversed   INTEGER NOT NULL DEFAULT 0 CHECK (reversed IN (0, 1)),
    PRIMARY KEY (entry, campaign)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS loyalty_campaign_awards_by_customer ON loyalty_campaign_awards (campaign, customer, created_at) WHERE reversed = 0;

CREATE TRIGGER IF NOT EXISTS loyalty_campaign_awards_issue AFTER INSERT ON loyalty_campaign_awards
BEGIN
    UPDATE loyalty_campaigns SET issued = issued + NEW.points WHERE id = NEW.campaign;
END;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_awards_back AFTER INSERT ON loyalty_entries
WHEN NEW.kind = 'reversal'
BEGIN
    UPDATE loyalty_campaigns
       SET issued = issued - (SELECT a.points FROM loyalty_campaign_awards a
                               WHERE a.entry = NEW.reverses AND a.campaign = loyalty_campaigns.id)
     WHERE id IN (SELECT a.campaign FROM loyalty_campaign_awards a WHERE a.entry = NEW.reverses AND a.reversed = 0);
    UPDATE loyalty_campaign_awards SET reversed = 1 WHERE entry = NEW.reverses;
END;

CREATE TABLE IF NOT EXISTS loyalty_birthdays (
    customer   INTEGER PRIMARY KEY REFERENCES loyalty_customers (id),
    month      INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12),
    day        INTEGER NOT NULL CHECK (day BETWEEN 1 AND 31),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_update BEFORE UPDATE ON loyalty_entries
BEGIN
    SELECT RAISE(ABORT, 'loyalty_entries is append-only');
END;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_delete BEFORE DELETE ON loyalty_entries
BEGIN
    SELECT RAISE(ABORT, 'loyalty_entries is append-only');
END;

CREATE TABLE IF NOT EXISTS loyalty_redemptions (
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
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_redemptions_pending ON loyalty_redemptions (expires_at) WHERE status = 'pending';

CREATE INDEX IF NOT EXISTS loyalty_redemptions_pending_by_customer ON loyalty_redemptions (customer) WHERE status = 'pending';

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

CREATE TRIGGER IF NOT EXISTS loyalty_imports_birthday AFTER INSERT ON loyalty_imports
WHEN NEW.birthday IS NOT NULL AND length(NEW.birthday) = 10 AND date(NEW.birthday) IS NEW.birthday
BEGIN
    INSERT OR IGNORE INTO loyalty_birthdays (customer, month, day, created_at)
    VALUES (NEW.customer, CAST(substr(NEW.birthday, 6, 2) AS INTEGER), CAST(substr(NEW.birthday, 9, 2) AS INTEGER),
            NEW.imported_at);
END;

INSERT OR IGNORE INTO loyalty_birthdays (customer, month, day, created_at)
SELECT customer, CAST(substr(birthday, 6, 2) AS INTEGER), CAST(substr(birthday, 9, 2) AS INTEGER), imported_at
  FROM loyalty_imports WHERE birthday IS NOT NULL AND length(birthday) = 10 AND date(birthday) IS birthday;

CREATE TABLE IF NOT EXISTS loyalty_import_rows (
    key         INTEGER PRIMARY KEY,
    telegram_id INTEGER NOT NULL UNIQUE,
    value       TEXT    NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS loyalty_job_state (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS loyalty_bot_updates (
    bot        INTEGER NOT NULL,
    update_id  INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (bot, update_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS loyalty_bot_updates_by_time ON loyalty_bot_updates (claimed_at);

CREATE TABLE IF NOT EXISTS loyalty_rewards (
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
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_rewards_by_partner ON loyalty_rewards (partner, id);

CREATE INDEX IF NOT EXISTS loyalty_rewards_by_category ON loyalty_rewards (category, id) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS loyalty_vouchers (
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
) STRICT;

CREATE INDEX IF NOT EXISTS loyalty_vouchers_by_customer ON loyalty_vouchers (customer, id);

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

CREATE TABLE IF NOT EXISTS loyalty_quotas (
    kind    TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    used    INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (kind, user_id, day)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS loyalty_quotas_by_day ON loyalty_quotas (day);

CREATE TABLE IF NOT EXISTS loyalty_broadcasts (
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

CREATE INDEX IF NOT EXISTS loyalty_broadcasts_pending ON loyalty_broadcasts (id) WHERE done = 0;

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

CREATE TABLE IF NOT EXISTS loyalty_op (
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
) STRICT;
