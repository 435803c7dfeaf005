// The SQL of the D1 protocol, as string literals built with `concat!`.
//
// Every use case is a list of statements that run in order inside one
// transaction (a D1 `batch()`), each with `?1` bound to the request's JSON.
// The statements share a one-row scratch table, `loyalty_op`, inserted before
// the first and deleted (returning the answer) after the last:
//
// * `cid`, `pid`, `ref`, `eid`, `rid`, `n`, `m`, `s` hold what earlier
//   statements found (ids, amounts, a status);
// * `err` holds the JSON of the first `Rejection` (a rule refused the call),
//   `res` the JSON of the answer once known, `fault` a backend failure.
//
// A statement does its work only while the row is "live" (none of the three
// set), so the first rule that refuses stops the rest, and a replay stops the
// rest after writing its answer. Rules are checked before anything is
// written, so a refusal leaves nothing behind (the transaction commits only
// the scratch row, which the last statement deletes). The one refusal that
// writes — answering a redemption request past its expiry marks it expired —
// answers `{"rejected": …}` in `res`, as the Postgres functions do.

/// `json_extract(?1, <path>)`: a field of the request.
macro_rules! arg {
    ($path:literal) => {
        concat!("json_extract(?1, '", $path, "')")
    };
}

/// A condition that holds while no rule refused and no answer is known yet.
macro_rules! live {
    () => {
        "(SELECT err IS NULL AND res IS NULL AND fault IS NULL FROM loyalty_op)"
    };
}

/// A column of the scratch row, from any statement.
macro_rules! op {
    ($col:literal) => {
        concat!("(SELECT ", $col, " FROM loyalty_op)")
    };
}

/// The newest ledger entry of the partner `partner` (an SQL expression): what
/// a partner's running total of the day (`loyalty_partner_days.through`) is
/// checked against and recorded with.
macro_rules! newest_entry_of {
    ($partner:expr) => {
        concat!("(SELECT max(e.id) FROM loyalty_entries e WHERE e.partner = ", $partner, ")")
    };
}

/// Refuses with `{"code": <code>}` when `cond` holds (and the call is live).
macro_rules! reject {
    ($code:literal, $cond:expr) => {
        concat!("UPDATE loyalty_op SET err = '{\"code\":\"", $code, "\"}' WHERE ", live!(), " AND (", $cond, ")")
    };
}

/// Refuses with the JSON `rejection` when `cond` holds (and the call is live).
macro_rules! reject_with {
    ($rejection:expr, $cond:expr) => {
        concat!("UPDATE loyalty_op SET err = ", $rejection, " WHERE ", live!(), " AND (", $cond, ")")
    };
}

/// Refuses with `partner_not_approved` and the partner's status when the
/// status (an SQL expression, NULL for no partner) is not `approved`.
macro_rules! reject_unapproved {
    ($status:expr) => {
        reject_with!(
            concat!("json_object('code', 'partner_not_approved', 'status', ", $status, ")"),
            concat!($status, " IS NOT 'approved'")
        )
    };
}

/// Sets a scratch column while the call is live.
macro_rules! set {
    ($col:literal, $value:expr) => {
        concat!("UPDATE loyalty_op SET ", $col, " = ", $value, " WHERE ", live!())
    };
}

/// Sets the answer while the call is live.
macro_rules! answer {
    ($value:expr) => {
        concat!("UPDATE loyalty_op SET res = ", $value, " WHERE ", live!())
    };
}

/// A JSON boolean from an SQL condition.
macro_rules! boolean {
    ($cond:expr) => {
        concat!("json(iif(", $cond, ", 'true', 'false'))")
    };
}

/// The id of the customer a `CustomerRef` at `path` names, or NULL.
macro_rules! customer_ref {
    ($path:literal) => {
        concat!(
            "(SELECT id FROM loyalty_customers WHERE id = iif(",
            arg!($path),
            " ->> '$.by' = 'id', ",
            arg!($path),
            " ->> '$.value', NULL) UNION ALL SELECT id FROM loyalty_customers WHERE telegram_id = iif(",
            arg!($path),
            " ->> '$.by' = 'telegram', ",
            arg!($path),
            " ->> '$.value', NULL) UNION ALL SELECT id FROM loyalty_customers WHERE code = iif(",
            arg!($path),
            " ->> '$.by' = 'code', ",
            arg!($path),
            " ->> '$.value', NULL))"
        )
    };
}

/// The id of the partner a `PartnerRef` at `path` names, or NULL.
macro_rules! partner_ref {
    ($path:literal) => {
        concat!(
            "(SELECT id FROM loyalty_partners WHERE id = iif(",
            arg!($path),
            " ->> '$.by' = 'id', ",
            arg!($path),
            " ->> '$.value', NULL) UNION ALL SELECT id FROM loyalty_partners WHERE telegram_id = iif(",
            arg!($path),
            " ->> '$.by' = 'telegram', ",
            arg!($path),
            " ->> '$.value', NULL))"
        )
    };
}

/// The active cashier a `PartnerRef::Till` at `path` names (NULL for any other
/// reference, for a partner's owner, and for no one).
macro_rules! cashier_ref {
    ($path:literal) => {
        concat!(
            "(SELECT s.id FROM loyalty_staff s WHERE s.telegram_id = iif(",
            arg!($path),
            " ->> '$.by' = 'till', ",
            arg!($path),
            " ->> '$.value', NULL) AND s.revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM loyalty_partners o ",
            "WHERE o.telegram_id = s.telegram_id))"
        )
    };
}

/// The id of the partner a reference at the till (`PartnerRef` at `path`)
/// names: a `Till`'s owner account first, then its active cashier's partner;
/// an owner's reference as [`partner_ref`]. NULL for no one.
macro_rules! till_ref {
    ($path:literal) => {
        concat!(
            "(SELECT id FROM loyalty_partners WHERE telegram_id = iif(",
            arg!($path),
            " ->> '$.by' = 'till', ",
            arg!($path),
            " ->> '$.value', NULL) UNION ALL SELECT partner FROM loyalty_staff WHERE id = ",
            cashier_ref!($path),
            " UNION ALL SELECT ",
            partner_ref!($path),
            " WHERE ",
            arg!($path),
            " ->> '$.by' <> 'till')"
        )
    };
}

/// The JSON of `Staff` for the row aliased `s`.
macro_rules! staff_json {
    () => {
        concat!(
            "json_object('id', s.id, 'partner', s.partner, 'telegram_id', s.telegram_id, 'name', s.name, ",
            "'invited_at', s.invited_at, 'expires_at', s.expires_at, 'joined_at', s.joined_at, ",
            "'revoked_at', s.revoked_at)"
        )
    };
}

/// The JSON of the staff member with id `id` now (NULL if none).
macro_rules! staff_now {
    ($id:expr) => {
        concat!("json((SELECT ", staff_json!(), " FROM loyalty_staff s WHERE s.id = ", $id, "))")
    };
}

/// `$text` trimmed as Rust's `str::trim` does: every character with the
/// Unicode White_Space property, at both ends (SQLite's `trim` takes spaces only).
macro_rules! rust_trim {
    ($text:expr) => {
        concat!(
            "trim(",
            $text,
            ", char(9, 10, 11, 12, 13, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, ",
            "8202, 8232, 8233, 8239, 8287, 12288))"
        )
    };
}

/// The JSON of `Customer` for the row aliased `c`.
macro_rules! customer_json {
    () => {
        concat!(
            "json_object('id', c.id, 'telegram_id', c.telegram_id, 'code', c.code, 'first_name', c.first_name, ",
            "'username', c.username, 'language', c.language, 'referrer', c.referrer, 'balance', c.balance, ",
            "'blocked', ",
            boolean!("c.blocked"),
            ", 'created_at', c.created_at, 'tier', coalesce((SELECT t.tier FROM loyalty_tiers t WHERE t.customer = c.id), 0))"
        )
    };
}

/// The JSON of the customer with id `id` now (NULL if none).
macro_rules! customer_now {
    ($id:expr) => {
        concat!("json((SELECT ", customer_json!(), " FROM loyalty_customers c WHERE c.id = ", $id, "))")
    };
}

/// The JSON of `Partner` for the row aliased `p`.
macro_rules! partner_json {
    () => {
        concat!(
            "json_object('id', p.id, 'telegram_id', p.telegram_id, 'name', p.name, 'category', p.category, ",
            "'status', p.status, 'terms', json_object('earn_rate_bps', p.earn_rate_bps, ",
            "'max_redeem_share_bps', p.max_redeem_share_bps, 'daily_credit_limit', p.daily_credit_limit), ",
            "'language', p.language, 'has_api_key', ",
            boolean!("p.api_key_sha256 IS NOT NULL"),
            ", 'created_at', p.created_at)"
        )
    };
}

/// The JSON of the partner with id `id` now (NULL if none).
macro_rules! partner_now {
    ($id:expr) => {
        concat!("json((SELECT ", partner_json!(), " FROM loyalty_partners p WHERE p.id = ", $id, "))")
    };
}

/// The JSON of `LedgerEntry` for the row aliased `e`.
macro_rules! entry_json {
    () => {
        concat!(
            "json_object('id', e.id, 'customer', e.customer, 'kind', e.kind, 'amount', e.amount, ",
            "'partner', e.partner, 'purchase', e.purchase, 'idempotency_key', e.idempotency_key, ",
            "'author', iif(e.author_type = 'system', json_object('type', 'system'), ",
            "json_object('type', e.author_type, 'id', e.author_id)), ",
            "'reverses', e.reverses, 'reason', e.reason, 'created_at', e.created_at, 'rules_version', e.rules_version, ",
            "'cashier', (SELECT x.staff FROM loyalty_entry_cashiers x WHERE x.entry = e.id))"
        )
    };
}

/// The JSON of the entry with id `id` (NULL if none).
macro_rules! entry_now {
    ($id:expr) => {
        concat!("json((SELECT ", entry_json!(), " FROM loyalty_entries e WHERE e.id = ", $id, "))")
    };
}

/// The JSON of `RedemptionRequest` for the row aliased `r`, with `status`.
macro_rules! request_json {
    ($status:expr) => {
        concat!(
            "json_object('id', r.id, 'customer', r.customer, 'partner', r.partner, 'points', r.points, ",
            "'purchase', r.purchase, 'status', ",
            $status,
            ", 'created_at', r.created_at, 'expires_at', r.expires_at, 'entry', r.entry, ",
            "'cashier', (SELECT x.staff FROM loyalty_redemption_cashiers x WHERE x.redemption = r.id))"
        )
    };
}

/// The `RedemptionView` of the request in `loyalty_op.rid`, as it is now.
macro_rules! redemption_view {
    ($replayed:literal) => {
        concat!(
            "(SELECT json_object('request', ",
            request_json!("r.status"),
            ", 'customer', ",
            customer_now!("r.customer"),
            ", 'partner', ",
            partner_now!("r.partner"),
            ", 'entry', ",
            entry_now!("r.entry"),
            ", 'cashier', ",
            staff_now!("(SELECT x.staff FROM loyalty_redemption_cashiers x WHERE x.redemption = r.id)"),
            ", 'replayed', json('",
            $replayed,
            "')) FROM loyalty_redemptions r WHERE r.id = ",
            op!("rid"),
            ")"
        )
    };
}

/// The JSON of `BroadcastJob` for the row aliased `j`.
macro_rules! job_json {
    () => {
        concat!(
            "json_object('id', j.id, 'audience', j.audience, 'text', j.text, 'admin_chat', j.admin_chat, ",
            "'total', j.total, 'sent', j.sent, 'failed', j.failed, 'cursor', j.cursor, 'done', ",
            boolean!("j.done"),
            ", 'created_at', j.created_at)"
        )
    };
}

/// Refusals of a balance change of `amount` for customer `customer` (both
/// expressions over `loyalty_op`): below zero, or past the 64-bit range.
macro_rules! balance_rules {
    ($customer:expr, $amount:expr) => {
        [
            reject_with!(
                concat!(
                    "json_object('code', 'insufficient_balance', 'balance', (SELECT balance FROM loyalty_customers ",
                    "WHERE id = ",
                    $customer,
                    "), 'requested', -(",
                    $amount,
                    "))"
                ),
                concat!("(SELECT balance FROM loyalty_customers WHERE id = ", $customer, ") + (", $amount, ") < 0")
            ),
            reject!(
                "invalid_amount",
                concat!(
                    "(",
                    $amount,
                    ") > 0 AND (SELECT balance FROM loyalty_customers WHERE id = ",
                    $customer,
                    ") > 9223372036854775807 - (",
                    $amount,
                    ")"
                )
            ),
        ]
    };
}

/// The version of the program's rules in force (0 before any change).
macro_rules! rules_version {
    () => {
        "(SELECT coalesce(max(version), 0) FROM loyalty_rules)"
    };
}

/// The tier of customer `$c` (0 without one).
macro_rules! tier_of {
    ($c:expr) => {
        concat!("coalesce((SELECT tier FROM loyalty_tiers WHERE customer = ", $c, "), 0)")
    };
}

/// The JSON of the `RulesVersion` of the row aliased `r`.
macro_rules! rules_json {
    () => {
        "json_object('version', r.version, 'rules', json(r.doc), 'admin', r.admin, 'created_at', r.created_at)"
    };
}

/// Appends a ledger entry (the `entries_apply` trigger moves the balance)
/// while the call is live and `cond` holds. The other arguments are SQL
/// expressions over `loyalty_op` and the request.
macro_rules! append {
    ($customer:expr, $kind:literal, $amount:expr, $partner:expr, $purchase:expr, $key:expr, $author_type:literal,
     $author_id:expr, $reverses:expr, $reason:expr, $cond:expr) => {
        concat!(
            "INSERT INTO loyalty_entries (rules_version, customer, kind, amount, partner, purchase, idempotency_key, ",
            "author_type, author_id, reverses, reason, created_at) SELECT ",
            rules_version!(),
            ", ",
            $customer,
            ", '",
            $kind,
            "', ",
            $amount,
            ", ",
            $partner,
            ", ",
            $purchase,
            ", ",
            $key,
            ", '",
            $author_type,
            "', ",
            $author_id,
            ", ",
            $reverses,
            ", ",
            $reason,
            ", ",
            arg!("$.now"),
            " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL AND (",
            $cond,
            ")"
        )
    };
}

/// `floor(purchase × bps / 10 000)` without leaving 64 bits (purchase ≤ 10¹²,
/// bps < 2³²).
macro_rules! share {
    ($purchase:expr, $bps:expr) => {
        concat!("((", $purchase, ") / 10000 * (", $bps, ") + (", $purchase, ") % 10000 * (", $bps, ") / 10000)")
    };
}

/// A caller-supplied key with a reserved prefix (see `ports::is_reserved_key`).
macro_rules! reserved_key {
    () => {
        concat!(
            "substr(",
            arg!("$.idempotency_key"),
            ", 1, 8) = 'welcome:' OR substr(",
            arg!("$.idempotency_key"),
            ", 1, 9) = 'referral:' OR substr(",
            arg!("$.idempotency_key"),
            ", 1, 11) = 'redemption:' OR substr(",
            arg!("$.idempotency_key"),
            ", 1, 7) = 'import:' OR substr(",
            arg!("$.idempotency_key"),
            ", 1, 7) = 'expiry:'"
        )
    };
}

/// The sum of the non-negative `x` over the rows, capped at `i64::MAX` as the
/// model store's saturating sums are (an aggregate expression). SQLite's `sum`
/// fails with `integer overflow` past 64 bits, so this adds the high and the
/// low 32 bits of `x` apart — neither sum can overflow below 2³¹ rows — and
/// puts them together only when the total fits.
macro_rules! saturating_sum {
    ($x:expr) => {
        concat!(
            "iif(coalesce(sum((",
            $x,
            ") >> 32), 0) > (9223372036854775807 - coalesce(sum((",
            $x,
            ") & 4294967295), 0)) / 4294967296, 9223372036854775807, coalesce(sum((",
            $x,
            ") >> 32), 0) * 4294967296 + coalesce(sum((",
            $x,
            ") & 4294967295), 0))"
        )
    };
}

/// `PeriodStats` of the accruals and redemptions matching `filter` (over `x`).
macro_rules! period_stats {
    ($filter:expr) => {
        concat!(
            "(SELECT json_object('customers', count(DISTINCT s.customer), ",
            "'purchases', coalesce(sum(s.kind = 'accrual' AND NOT s.rev), 0), ",
            "'issued', ",
            saturating_sum!("iif(s.kind = 'accrual' AND NOT s.rev, s.amount, 0)"),
            ", 'redeemed', ",
            saturating_sum!("iif(s.kind = 'redemption' AND NOT s.rev, -s.amount, 0)"),
            ") ",
            "FROM (SELECT x.customer, x.kind, x.amount, ",
            "EXISTS (SELECT 1 FROM loyalty_entries y WHERE y.reverses = x.id) AS rev ",
            "FROM loyalty_entries x WHERE x.kind IN ('accrual', 'redemption') AND ",
            $filter,
            ") s)"
        )
    };
}

/// The audience of a broadcast after cursor `after`, at most `limit`
/// (`-1`: all), in cursor order: `(pos, chat_id, language)`.
macro_rules! audience {
    ($audience:expr, $after:expr, $limit:expr) => {
        concat!(
            "SELECT id AS pos, telegram_id AS chat_id, language FROM loyalty_customers WHERE ",
            $audience,
            " = 'customers' AND NOT blocked AND id > ",
            $after,
            " UNION ALL SELECT id, telegram_id, language FROM loyalty_partners WHERE ",
            $audience,
            " = 'partners' AND status = 'approved' AND id > ",
            $after,
            " ORDER BY 1 LIMIT ",
            $limit
        )
    };
}

/// The first statement of every call: a fresh scratch row.
pub(super) const BEGIN: &str = "INSERT OR REPLACE INTO loyalty_op (id) VALUES (1)";

/// The last statement of every call: the answer, and the scratch row gone.
pub(super) const END: &str = "DELETE FROM loyalty_op RETURNING \
     iif(err IS NOT NULL, json_object('rejected', json(err)), res) AS answer, fault";

/// The one finishing of updates (their kept bodies dropped): those listed at
/// `$path` of the JSON `$json` (`[{"bot", "update_id"}, …]`), when `$when`
/// holds. [`ENQUEUE_MESSAGES`] finishes its `updates` with it and a claim
/// ([`CLAIM`], [`CLAIM_UPDATE`]) the earlier updates it carries (`finished`).
macro_rules! finish_updates {
    ($json:literal, $path:literal, $when:expr) => {
        concat!(
            "DELETE FROM loyalty_update_bodies WHERE ",
            $when,
            " AND (bot, update_id) IN (SELECT json_extract(u.value, '$.bot'), json_extract(u.value, '$.update_id') ",
            "FROM json_each(",
            $json,
            ", '",
            $path,
            "') u)"
        )
    };
}

/// The finishing of the earlier updates a claim carries (`finished`; `?N` is
/// the claim's JSON), whatever follows.
macro_rules! finish_carried {
    ($claim:literal) => {
        finish_updates!($claim, "$.finished", "true")
    };
}

/// The claim of an update, folded into a use case's batch (after [`BEGIN`],
/// before the use case's statements; `?2` is the claim's JSON): the updates it
/// carries are finished whatever follows; an update claimed before stops the
/// batch with the fault [`DUPLICATE`].
pub(super) const CLAIM: &[&str] = &[
    finish_carried!("?2"),
    concat!(
        "UPDATE loyalty_op SET fault = 'duplicate update' WHERE EXISTS (SELECT 1 FROM loyalty_bot_updates ",
        "WHERE bot = json_extract(?2, '$.bot') AND update_id = json_extract(?2, '$.update_id'))"
    ),
    concat!(
        "INSERT INTO loyalty_bot_updates (bot, update_id, claimed_at) SELECT json_extract(?2, '$.bot'), ",
        "json_extract(?2, '$.update_id'), json_extract(?2, '$.now') FROM loyalty_op WHERE fault IS NULL"
    ),
    concat!(
        "INSERT INTO loyalty_update_bodies (bot, update_id, claimed_at, body) SELECT json_extract(?2, '$.bot'), ",
        "json_extract(?2, '$.update_id'), json_extract(?2, '$.now'), json_extract(?2, '$.body') FROM loyalty_op ",
        "WHERE fault IS NULL AND json_type(?2, '$.body') = 'text'"
    ),
];

/// The fault of a folded claim that found the update claimed before.
pub(super) const DUPLICATE: &str = "duplicate update";

/// The approved partner of a sign-up's `via_partner`, as JSON (or NULL).
macro_rules! via_partner {
    () => {
        concat!(
            "json((SELECT ",
            partner_json!(),
            " FROM loyalty_partners p WHERE p.telegram_id = ",
            arg!("$.via_partner"),
            " AND p.status = 'approved'))"
        )
    };
}

pub(super) const REGISTER_CUSTOMER: &[&str] = &[
    reject!(
        "invalid_amount",
        concat!(
            "NOT (",
            arg!("$.welcome_bonus"),
            " BETWEEN 0 AND 1000000000 AND ",
            arg!("$.referral_bonus"),
            " BETWEEN 0 AND 1000000000)"
        )
    ),
    answer!(concat!(
        "(SELECT json_object('customer', ",
        customer_json!(),
        ", 'created', json('false'), 'welcome', NULL, 'referral', NULL, 'partner', ",
        via_partner!(),
        ") FROM loyalty_customers c ",
        "WHERE c.telegram_id = ",
        arg!("$.telegram_id"),
        ")"
    )),
    reject!("code_taken", concat!("EXISTS (SELECT 1 FROM loyalty_customers WHERE code = ", arg!("$.code"), ")")),
    set!(
        "ref",
        concat!(
            "coalesce((SELECT id FROM loyalty_customers WHERE code = ",
            arg!("$.referrer"),
            " AND code IS NOT ",
            arg!("$.code"),
            " AND NOT blocked), (SELECT c.id FROM loyalty_imports i JOIN loyalty_customers c ON c.id = i.customer ",
            "WHERE i.referral_code = ",
            arg!("$.legacy_referrer"),
            " AND c.code IS NOT ",
            arg!("$.code"),
            " AND NOT c.blocked ORDER BY c.id LIMIT 1))"
        )
    ),
    concat!(
        "INSERT INTO loyalty_customers (telegram_id, code, first_name, username, language, referrer, created_at) ",
        "SELECT ",
        arg!("$.telegram_id"),
        ", ",
        arg!("$.code"),
        ", ",
        arg!("$.first_name"),
        ", ",
        arg!("$.username"),
        ", ",
        arg!("$.language"),
        ", ref, ",
        arg!("$.now"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    set!("cid", concat!("(SELECT id FROM loyalty_customers WHERE telegram_id = ", arg!("$.telegram_id"), ")")),
    append!(
        "cid",
        "welcome_bonus",
        arg!("$.welcome_bonus"),
        "NULL",
        "NULL",
        "'welcome:' || cid",
        "system",
        "NULL",
        "NULL",
        "NULL",
        concat!(arg!("$.welcome_bonus"), " > 0")
    ),
    append!(
        "ref",
        "referral_bonus",
        arg!("$.referral_bonus"),
        "NULL",
        "NULL",
        "'referral:' || cid",
        "system",
        "NULL",
        "NULL",
        "NULL",
        concat!(
            "ref IS NOT NULL AND ",
            arg!("$.referral_bonus"),
            " > 0 AND (SELECT balance FROM loyalty_customers WHERE id = ref) <= 9223372036854775807 - ",
            arg!("$.referral_bonus")
        )
    ),
    answer!(concat!(
        "json_object('customer', ",
        customer_now!(op!("cid")),
        ", 'created', json('true'), 'welcome', json((SELECT ",
        entry_json!(),
        " FROM loyalty_entries e WHERE e.idempotency_key = 'welcome:' || ",
        op!("cid"),
        ")), 'referral', (SELECT json_array(",
        customer_now!("e.customer"),
        ", ",
        entry_json!(),
        ") FROM loyalty_entries e WHERE e.idempotency_key = 'referral:' || ",
        op!("cid"),
        "), 'partner', ",
        via_partner!(),
        ")"
    )),
];

/// The JSON array of the newest `limit` entries of customer `customer`,
/// newest first.
macro_rules! newest_entries {
    ($customer:expr, $limit:expr) => {
        concat!(
            "json((SELECT coalesce(json_group_array(json(j) ORDER BY i DESC), '[]') FROM (SELECT e.id AS i, ",
            entry_json!(),
            " AS j FROM loyalty_entries e WHERE e.customer = ",
            $customer,
            " ORDER BY e.id DESC LIMIT ",
            $limit,
            ")))"
        )
    };
}

/// The JSON array of the partners matching `filter` (over `p`), oldest first.
macro_rules! partners_array {
    ($filter:expr) => {
        concat!(
            "(SELECT coalesce(json_group_array(json(",
            partner_json!(),
            ") ORDER BY p.created_at, p.id), '[]') FROM loyalty_partners p WHERE ",
            $filter,
            ")"
        )
    };
}

/// A daily quota: whether `user`'s counter of `kind` on `day` is below
/// `limit` (an SQL condition) …
macro_rules! quota_left {
    ($kind:expr, $user:expr, $day:expr, $limit:expr) => {
        concat!(
            "coalesce((SELECT q.used FROM loyalty_quotas q WHERE q.kind = ",
            $kind,
            " AND q.user_id = ",
            $user,
            " AND q.day = ",
            $day,
            "), 0) < ",
            $limit
        )
    };
}

/// … and the statement counting one use when the scratch column `n` (set to
/// `quota_left!`) holds.
macro_rules! use_quota {
    ($kind:expr, $user:expr, $day:expr) => {
        concat!(
            "INSERT INTO loyalty_quotas (kind, user_id, day, used) SELECT ",
            $kind,
            ", ",
            $user,
            ", ",
            $day,
            ", 1 FROM loyalty_op WHERE n ON CONFLICT (kind, user_id, day) DO UPDATE SET used = used + 1"
        )
    };
}

pub(super) const CUSTOMER_SUMMARY: &[&str] = &[
    set!("cid", customer_ref!("$.who")),
    answer!(concat!(
        "coalesce((SELECT json_object('customer', ",
        customer_json!(),
        ", 'recent', ",
        newest_entries!(op!("cid"), arg!("$.recent")),
        ", 'expiring', json((SELECT coalesce(json_group_array(json_object('points', points, 'at', at) ORDER BY at), ",
        "'[]') FROM (SELECT sum(l.remaining) AS points, l.expires_at AS at FROM loyalty_lots l WHERE l.customer = ",
        op!("cid"),
        " AND l.remaining > 0 AND l.expires_at IS NOT NULL GROUP BY l.expires_at ORDER BY l.expires_at LIMIT 3)))",
        ", 'qualifying', coalesce((SELECT t.qualifying FROM loyalty_tiers t WHERE t.customer = c.id), 0)",
        ") FROM loyalty_customers c WHERE c.id = ",
        op!("cid"),
        "), 'null')"
    )),
];

pub(super) const PROGRAM_RULES: &[&str] = &[answer!(concat!(
    "coalesce((SELECT ",
    rules_json!(),
    " FROM ",
    current_rules!(),
    "), json_object('version', 0, 'rules', json('{}'), 'admin', NULL, 'created_at', NULL))"
))];

pub(super) const SET_PROGRAM_RULES: &[&str] = &[
    concat!(
        "INSERT INTO loyalty_rules (version, doc, admin, created_at) SELECT ",
        rules_version!(),
        " + 1, json(json_extract(?1, '$.rules')), ",
        arg!("$.admin"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE ",
        live!()
    ),
    answer!(concat!("(SELECT ", rules_json!(), " FROM ", current_rules!(), ")")),
];

/// Refuses a job's `limit` outside 1..=`MAX_EXPIRY_BATCH`.
macro_rules! expiry_batch {
    () => {
        reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 500, 0)"))
    };
}

pub(super) const EXPIRE_POINTS: &[&str] = &[
    expiry_batch!(),
    set!("eid", "(SELECT coalesce(max(id), 0) FROM loyalty_entries)"),
    // One entry per customer; its `lot_take` trigger takes exactly the expired
    // points, which come first in the lots' order (soonest date first).
    concat!(
        "INSERT INTO loyalty_entries (rules_version, customer, kind, amount, idempotency_key, author_type, ",
        "created_at) SELECT ",
        rules_version!(),
        ", l.customer, 'expiry', -sum(l.remaining), 'expiry:' || l.customer || ':' || ",
        arg!("$.now"),
        ", 'system', ",
        arg!("$.now"),
        " FROM loyalty_lots l INDEXED BY loyalty_lots_due WHERE ",
        live!(),
        " AND l.remaining > 0 AND l.expires_at <= ",
        arg!("$.now"),
        " GROUP BY l.customer ORDER BY l.customer LIMIT ",
        arg!("$.limit")
    ),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json_object('customer', ",
        customer_json!(),
        ", 'entry', ",
        entry_json!(),
        ") ORDER BY e.id), '[]') FROM loyalty_entries e JOIN loyalty_customers c ON c.id = e.customer ",
        "WHERE e.id > ",
        op!("eid"),
        " AND e.kind = 'expiry')"
    )),
];

pub(super) const REFRESH_TIERS: &[&str] = &[
    expiry_batch!(),
    set!(
        "s",
        concat!(
            "(SELECT json_group_array(json_array(customer, tier)) FROM (SELECT customer, tier FROM loyalty_tiers ",
            "INDEXED BY loyalty_tiers_due WHERE (tier > 0 OR below_since IS NOT NULL) AND checked_at <= ",
            arg!("$.now"),
            " - 86400 ORDER BY customer LIMIT ",
            arg!("$.limit"),
            "))"
        )
    ),
    tier_refresh!("j.value ->> 0", arg!("$.now"), "FROM json_each((SELECT s FROM loyalty_op)) j"),
    answer!(concat!(
        "json_object('checked', coalesce(json_array_length(",
        op!("s"),
        "), 0), 'changed', json((SELECT coalesce(json_group_array(json_object('customer', ",
        customer_json!(),
        ", 'from', j.value ->> 1) ORDER BY c.id), '[]') FROM json_each(",
        op!("s"),
        ") j JOIN loyalty_customers c ON c.id = j.value ->> 0 WHERE ",
        tier_of!("c.id"),
        " <> j.value ->> 1)))"
    )),
];

/// The lots `l` whose points a reminder announces now (`n`: the rules' days before).
macro_rules! remind_due {
    () => {
        concat!(
            "l.remaining > 0 AND NOT l.reminded AND l.expires_at > ",
            arg!("$.now"),
            " AND l.expires_at <= ",
            arg!("$.now"),
            " + ",
            op!("n"),
            " * 86400"
        )
    };
}

pub(super) const REMIND_EXPIRY: &[&str] = &[
    expiry_batch!(),
    set!("n", concat!("coalesce(json_extract(", rules_doc!(), ", '$.expiry.remind_days_before'), 0)")),
    set!(
        "s",
        concat!(
            "(SELECT json_group_array(customer) FROM (SELECT DISTINCT l.customer FROM loyalty_lots l ",
            "JOIN loyalty_customers c ON c.id = l.customer AND NOT c.blocked WHERE ",
            op!("n"),
            " > 0 AND ",
            remind_due!(),
            " ORDER BY l.customer LIMIT ",
            arg!("$.limit"),
            "))"
        )
    ),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json_object('customer', ",
        customer_json!(),
        ", 'points', (SELECT sum(l.remaining) FROM loyalty_lots l WHERE l.customer = c.id AND ",
        remind_due!(),
        "), 'at', (SELECT min(l.expires_at) FROM loyalty_lots l WHERE l.customer = c.id AND ",
        remind_due!(),
        ")) ORDER BY c.id), '[]') FROM loyalty_customers c WHERE c.id IN (SELECT value FROM json_each(",
        op!("s"),
        ")))"
    )),
    concat!(
        "UPDATE loyalty_lots AS l SET reminded = 1 WHERE (SELECT err IS NULL FROM loyalty_op) AND l.customer IN ",
        "(SELECT value FROM json_each(",
        op!("s"),
        ")) AND ",
        remind_due!()
    ),
];

/// The customer's Telegram id and the quota asked for: whether one more use
/// is allowed (NULL: no quota asked for, unknown or blocked customer).
macro_rules! view_quota_allowed {
    () => {
        concat!(
            "(SELECT iif(c.blocked OR ",
            arg!("$.quota"),
            " IS NULL, NULL, ",
            quota_left!(arg!("$.quota.kind"), "c.telegram_id", arg!("$.quota.day"), arg!("$.quota.limit")),
            ") FROM loyalty_customers c WHERE c.id = ",
            op!("cid"),
            ")"
        )
    };
}

pub(super) const CUSTOMER_VIEW: &[&str] = &[
    set!("cid", customer_ref!("$.who")),
    set!("n", view_quota_allowed!()),
    use_quota!(
        arg!("$.quota.kind"),
        "(SELECT telegram_id FROM loyalty_customers WHERE id = loyalty_op.cid)",
        arg!("$.quota.day")
    ),
    answer!(concat!(
        "coalesce((SELECT json_object('customer', ",
        customer_json!(),
        ", 'recent', ",
        newest_entries!(op!("cid"), arg!("$.recent")),
        ", 'partners', json(iif(",
        arg!("$.partners"),
        ", ",
        partners_array!("p.status = 'approved'"),
        ", '[]')), 'quota', json(iif(",
        op!("n"),
        " IS NULL, 'null', iif(",
        op!("n"),
        ", 'true', 'false')))) FROM loyalty_customers c WHERE c.id = ",
        op!("cid"),
        "), 'null')"
    )),
];

pub(super) const EXPORT_CUSTOMERS: &[&str] = &[
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 1000, 0)")),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(j) ORDER BY i), '[]') FROM (SELECT c.id AS i, json_object('customer', ",
        customer_json!(),
        ", 'entries', json((SELECT coalesce(json_group_array(json(j) ORDER BY i), '[]') FROM (SELECT e.id AS i, ",
        entry_json!(),
        " AS j FROM loyalty_entries e WHERE e.customer = c.id AND e.kind NOT IN ('import', 'legacy'))))) AS j ",
        "FROM loyalty_customers c WHERE c.id > coalesce(",
        arg!("$.after"),
        ", 0) ORDER BY c.id LIMIT ",
        arg!("$.limit"),
        "))"
    )),
];

pub(super) const CUSTOMER_ENTRIES: &[&str] = &[answer!(concat!(
    "(SELECT coalesce(json_group_array(json(j) ORDER BY i DESC), '[]') FROM (SELECT e.id AS i, ",
    entry_json!(),
    " AS j FROM loyalty_entries e WHERE e.customer = ",
    arg!("$.customer"),
    " AND (",
    arg!("$.before"),
    " IS NULL OR e.id < ",
    arg!("$.before"),
    ") ORDER BY e.id DESC LIMIT ",
    arg!("$.limit"),
    "))"
))];

pub(super) const SET_LANGUAGE: &[&str] = &[
    set!("cid", customer_ref!("$.who")),
    reject!("unknown_customer", op!("cid IS NULL")),
    concat!(
        "UPDATE loyalty_customers SET language = ",
        arg!("$.language"),
        " WHERE id = ",
        op!("cid"),
        " AND ",
        live!()
    ),
    answer!(customer_now!(op!("cid"))),
];

pub(super) const SET_BLOCKED: &[&str] = &[
    set!("cid", customer_ref!("$.who")),
    reject!("unknown_customer", op!("cid IS NULL")),
    set!(
        "n",
        concat!("(SELECT blocked IS NOT ", arg!("$.blocked"), " FROM loyalty_customers WHERE id = ", op!("cid"), ")")
    ),
    concat!(
        "UPDATE loyalty_customers SET blocked = ",
        arg!("$.blocked"),
        " WHERE id = ",
        op!("cid"),
        " AND ",
        op!("n"),
        " AND ",
        live!()
    ),
    concat!(
        "INSERT INTO loyalty_audit_log (admin, action, customer, blocked, at) SELECT ",
        arg!("$.admin"),
        ", 'blocked', cid, ",
        arg!("$.blocked"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE n AND err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(customer_now!(op!("cid"))),
];

/// The JSON of `Campaign` for the row aliased `c`.
macro_rules! campaign_json {
    () => {
        concat!(
            "json_object('id', c.id, 'terms', json_object('title', json(c.title), 'kind', c.kind, ",
            "'multiplier_bps', c.multiplier_bps, 'points', c.points, 'nth', c.nth, 'window_days', c.window_days, ",
            "'weekdays', c.weekdays, 'hour_from', c.hour_from, 'hour_to', c.hour_to, ",
            "'utc_offset_minutes', c.utc_offset_minutes, 'partner', c.partner, 'tiers', c.tiers, ",
            "'cap_per_customer', c.cap_per_customer, 'budget', c.budget, 'starts_at', c.starts_at, ",
            "'ends_at', c.ends_at), 'status', c.status, 'issued', c.issued, ",
            "'created_by', json_object('type', c.author_type, 'id', c.author_id), 'created_at', c.created_at)"
        )
    };
}

/// The JSON array of the `Award`s of accrual `$entry`, in campaign id order.
macro_rules! awards_of {
    ($entry:expr) => {
        concat!(
            "json((SELECT json_group_array(json_object('campaign', c.id, 'kind', c.kind, 'title', json(c.title), ",
            "'multiplier_bps', c.multiplier_bps, 'points', a.points) ORDER BY c.id) ",
            "FROM loyalty_campaign_awards a JOIN loyalty_campaigns c ON c.id = a.campaign WHERE a.entry = ",
            $entry,
            "))"
        )
    };
}

/// The campaigns' awards on the purchase in `loyalty_op` (`cid` at `pid`,
/// tier `ref`, `n` its points before campaigns), as a JSON array of `Award`
/// in campaign id order — the model's `campaign_awards`: every running
/// campaign for the partner and tier whose weekday, hours and kind's
/// condition hold and whose budget, the customer's cap and (birthday) the
/// once-a-year rule leave room for its whole award; of the multipliers only
/// the one paying most (then the oldest). A multiplier pays
/// `floor(n × (bps − 10 000) / 10 000)`, which is `rules::stacked` less `n`.
const CAMPAIGN_AWARDS: &str = concat!(
    "UPDATE loyalty_op SET s = (
WITH o AS (
    SELECT loyalty_op.cid, loyalty_op.pid, loyalty_op.ref, loyalty_op.n, ",
    arg!("$.now"),
    " AS now,
           (SELECT count(*) FROM loyalty_entries e
             WHERE e.customer = loyalty_op.cid AND e.partner = loyalty_op.pid AND e.kind = 'accrual') AS visits,
           b.month AS bm, b.day AS bd
      FROM loyalty_op LEFT JOIN loyalty_birthdays b ON b.customer = loyalty_op.cid),
c AS (
    SELECT c.*, o.*,
           iif(c.kind = 'multiplier', ",
    share!("o.n", "c.multiplier_bps - 10000"),
    ", c.points) AS pts,
           (o.now + c.utc_offset_minutes * 60) / 86400 AS today,
           (o.now + c.utc_offset_minutes * 60) % 86400 / 3600 AS hour
      FROM loyalty_campaigns c, o
     WHERE c.status = 'active' AND c.ends_at > o.now AND c.starts_at <= o.now
       AND (c.partner IS NULL OR c.partner = o.pid) AND (c.tiers >> o.ref) & 1),
d AS (
    SELECT c.*, (SELECT iif(this <= c.today, this, prev) FROM (
               SELECT CAST(julianday(printf('%04d-%02d-01', y, c.bm)) - 2440587.5 AS INTEGER) + c.bd - 1 AS this,
                      CAST(julianday(printf('%04d-%02d-01', y - 1, c.bm)) - 2440587.5 AS INTEGER) + c.bd - 1 AS prev
                 FROM (SELECT CAST(strftime('%Y', c.today * 86400, 'unixepoch') AS INTEGER) AS y))
             WHERE c.bm IS NOT NULL) AS since
      FROM c),
offered AS (
    SELECT d.id, d.kind, d.title, d.multiplier_bps, d.pts,
           row_number() OVER (PARTITION BY d.kind = 'multiplier' ORDER BY d.pts DESC, d.id) AS rank FROM d
     WHERE d.pts > 0
       AND (d.weekdays >> ((d.today + 3) % 7)) & 1
       AND CASE WHEN d.hour_from < d.hour_to THEN d.hour >= d.hour_from AND d.hour < d.hour_to
                WHEN d.hour_from > d.hour_to THEN d.hour >= d.hour_from OR d.hour < d.hour_to
                ELSE 1 END
       AND CASE d.kind
             WHEN 'first_purchase' THEN d.visits = 0
             WHEN 'nth_visit' THEN (d.visits + 1) % d.nth = 0
             WHEN 'birthday' THEN d.since IS NOT NULL AND d.today - d.since < d.window_days
                  AND NOT EXISTS (SELECT 1 FROM loyalty_campaign_awards a
                                   WHERE a.campaign = d.id AND a.customer = d.cid AND a.reversed = 0
                                     AND a.created_at >= d.since * 86400 - d.utc_offset_minutes * 60)
             ELSE 1 END
       AND d.issued + d.pts <= d.budget
       AND (d.cap_per_customer IS NULL
            OR (SELECT coalesce(sum(a.points), 0) FROM loyalty_campaign_awards a
                 WHERE a.campaign = d.id AND a.customer = d.cid AND a.reversed = 0) + d.pts <= d.cap_per_customer))
SELECT json_group_array(json_object('campaign', id, 'kind', kind, 'title', json(title),
                                    'multiplier_bps', multiplier_bps, 'points', pts) ORDER BY id)
  FROM offered WHERE kind <> 'multiplier' OR rank = 1) WHERE ",
    live!()
);

/// Records the awards in `loyalty_op.s` on the accrual just made (the
/// `campaign_awards_issue` trigger counts them against the budgets).
const RECORD_AWARDS: &str = concat!(
    "INSERT INTO loyalty_campaign_awards (entry, campaign, customer, points, created_at) \
     SELECT (SELECT id FROM loyalty_entries WHERE idempotency_key = ",
    arg!("$.idempotency_key"),
    "), j.value ->> '$.campaign', o.cid, j.value ->> '$.points', ",
    arg!("$.now"),
    " FROM loyalty_op o, json_each(o.s) j WHERE o.err IS NULL AND o.res IS NULL AND o.fault IS NULL"
);

/// The partner acting in a `CampaignActor` at `$.by` (NULL for an admin),
/// refused unless it exists and is approved.
macro_rules! campaign_partner {
    () => {
        [
            set!("pid", concat!("iif(", arg!("$.by.by"), " = 'partner', ", partner_ref!("$.by.value"), ", NULL)")),
            reject!("unknown_partner", concat!(arg!("$.by.by"), " = 'partner' AND ", op!("pid"), " IS NULL")),
            reject_unapproved!(concat!(
                "iif(",
                arg!("$.by.by"),
                " = 'partner', (SELECT status FROM loyalty_partners WHERE id = ",
                op!("pid"),
                "), 'approved')"
            )),
        ]
    };
}

/// The request of a `create_campaign` as its key records it: the terms and
/// the actor as asked.
macro_rules! campaign_request {
    () => {
        "json_object('terms', json(?1 -> '$.terms'), 'by', json(?1 -> '$.by'))"
    };
}

pub(super) const CREATE_CAMPAIGN: &[&str] = &[
    // A key used before: the campaign it made, if asked the same way.
    reject!(
        "idempotency_conflict",
        concat!(
            "EXISTS (SELECT 1 FROM loyalty_campaign_keys k WHERE k.idempotency_key = ",
            arg!("$.idempotency_key"),
            " AND k.request IS NOT ",
            campaign_request!(),
            ")"
        )
    ),
    concat!(
        "UPDATE loyalty_op SET res = (SELECT ",
        campaign_json!(),
        " FROM loyalty_campaign_keys k JOIN loyalty_campaigns c ON c.id = k.campaign WHERE k.idempotency_key = ",
        arg!("$.idempotency_key"),
        ") WHERE ",
        live!()
    ),
    campaign_partner!()[0],
    campaign_partner!()[1],
    campaign_partner!()[2],
    reject!(
        "partner_campaigns_off",
        concat!(op!("pid"), " IS NOT NULL AND json_extract(", rules_doc!(), ", '$.campaigns.partners') = 'off'")
    ),
    concat!(
        "INSERT INTO loyalty_campaigns (title, kind, multiplier_bps, points, nth, window_days, weekdays, hour_from, ",
        "hour_to, utc_offset_minutes, partner, tiers, cap_per_customer, budget, starts_at, ends_at, status, ",
        "author_type, author_id, created_at) SELECT json(",
        arg!("$.terms.title"),
        "), ",
        arg!("$.terms.kind"),
        ", ",
        arg!("$.terms.multiplier_bps"),
        ", ",
        arg!("$.terms.points"),
        ", ",
        arg!("$.terms.nth"),
        ", ",
        arg!("$.terms.window_days"),
        ", ",
        arg!("$.terms.weekdays"),
        ", ",
        arg!("$.terms.hour_from"),
        ", ",
        arg!("$.terms.hour_to"),
        ", ",
        arg!("$.terms.utc_offset_minutes"),
        ", coalesce(pid, ",
        arg!("$.terms.partner"),
        "), ",
        arg!("$.terms.tiers"),
        ", ",
        arg!("$.terms.cap_per_customer"),
        ", ",
        arg!("$.terms.budget"),
        ", ",
        arg!("$.terms.starts_at"),
        ", ",
        arg!("$.terms.ends_at"),
        ", CASE WHEN pid IS NULL THEN 'active' WHEN coalesce(json_extract(",
        rules_doc!(),
        ", '$.campaigns.partners'), 'approval') = 'open' THEN 'active' ELSE 'pending' END, ",
        "iif(pid IS NULL, 'admin', 'partner'), coalesce(pid, ",
        arg!("$.by.value"),
        "), ",
        arg!("$.now"),
        " FROM loyalty_op WHERE ",
        live!()
    ),
    concat!(
        "INSERT INTO loyalty_campaign_keys (idempotency_key, campaign, request) SELECT ",
        arg!("$.idempotency_key"),
        ", (SELECT max(id) FROM loyalty_campaigns), ",
        campaign_request!(),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL AND ",
        arg!("$.idempotency_key"),
        " IS NOT NULL"
    ),
    answer!(concat!(
        "(SELECT ",
        campaign_json!(),
        " FROM loyalty_campaigns c WHERE c.id = (SELECT max(id) FROM loyalty_campaigns))"
    )),
];

pub(super) const DECIDE_CAMPAIGN: &[&str] = &[
    campaign_partner!()[0],
    campaign_partner!()[1],
    campaign_partner!()[2],
    set!(
        "eid",
        concat!(
            "(SELECT c.id FROM loyalty_campaigns c WHERE c.id = ",
            arg!("$.campaign"),
            " AND (",
            op!("pid"),
            " IS NULL OR (c.author_type = 'partner' AND c.author_id = ",
            op!("pid"),
            ")))"
        )
    ),
    reject!("unknown_campaign", op!("eid IS NULL")),
    reject_with!(
        "(SELECT json_object('code', 'campaign_closed', 'status', c.status) FROM loyalty_campaigns c \
         WHERE c.id = loyalty_op.eid)",
        concat!(
            "NOT (SELECT CASE ",
            arg!("$.decision"),
            " WHEN 'end' THEN c.status IN ('pending', 'active') ",
            "ELSE c.status = 'pending' AND loyalty_op.pid IS NULL END FROM loyalty_campaigns c WHERE c.id = loyalty_op.eid)"
        )
    ),
    concat!(
        "UPDATE loyalty_campaigns SET status = CASE ",
        arg!("$.decision"),
        " WHEN 'approve' THEN 'active' WHEN 'reject' THEN 'rejected' ELSE 'ended' END WHERE id = ",
        op!("eid"),
        " AND ",
        live!()
    ),
    answer!(concat!("(SELECT ", campaign_json!(), " FROM loyalty_campaigns c WHERE c.id = ", op!("eid"), ")")),
];

pub(super) const CAMPAIGNS: &[&str] = &[
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 100, 0)")),
    set!("pid", partner_ref!("$.partner")),
    reject!("unknown_partner", concat!(arg!("$.partner"), " IS NOT NULL AND ", op!("pid"), " IS NULL")),
    // All campaigns, or those at one partner (by its index), newest first.
    answer!(concat!(
        "(SELECT json_group_array(json(j) ORDER BY id DESC) FROM (SELECT c.id, ",
        campaign_json!(),
        " AS j FROM loyalty_campaigns c WHERE c.id IN (SELECT id FROM (SELECT id FROM loyalty_campaigns WHERE ",
        arg!("$.partner"),
        " IS NULL ORDER BY id DESC LIMIT ",
        arg!("$.limit"),
        ") UNION ALL SELECT id FROM (SELECT id FROM loyalty_campaigns WHERE partner = ",
        op!("pid"),
        " ORDER BY id DESC LIMIT ",
        arg!("$.limit"),
        "))))"
    )),
];

pub(super) const REDEMPTION: &[&str] = &[
    set!(
        "rid",
        concat!(
            "(SELECT id FROM loyalty_redemptions WHERE id = ",
            arg!("$.id"),
            " AND partner = ",
            till_ref!("$.partner"),
            ")"
        )
    ),
    answer!(concat!("iif(", op!("rid"), " IS NULL, 'null', ", redemption_view!("false"), ")")),
];

/// The customer's pending requests not past their time, newest first (the
/// index of pending requests by customer); none for a blocked customer.
pub(super) const CUSTOMER_REDEMPTIONS: &[&str] = &[
    set!("cid", customer_ref!("$.customer")),
    reject!("unknown_customer", op!("cid IS NULL")),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(j) ORDER BY t DESC, i DESC), '[]') FROM (SELECT r.id AS i, ",
        "r.created_at AS t, json_object('id', r.id, 'partner', r.partner, 'partner_name', p.name, 'points', ",
        "r.points, 'purchase', r.purchase, 'created_at', r.created_at, 'expires_at', r.expires_at) AS j ",
        "FROM loyalty_redemptions r JOIN loyalty_partners p ON p.id = r.partner ",
        "JOIN loyalty_customers c ON c.id = r.customer WHERE r.customer = ",
        op!("cid"),
        " AND r.status = 'pending' AND r.expires_at >= ",
        arg!("$.now"),
        // 10: storage::MAX_CUSTOMER_REDEMPTIONS.
        " AND NOT c.blocked ORDER BY r.created_at DESC, r.id DESC LIMIT 10))"
    )),
];

pub(super) const SET_BIRTHDAY: &[&str] = &[
    set!("cid", customer_ref!("$.customer")),
    reject!("unknown_customer", op!("cid IS NULL")),
    reject_with!(
        "(SELECT json_object('code', 'birthday_already_set', 'birthday', json_object('month', b.month, 'day', b.day)) \
         FROM loyalty_birthdays b WHERE b.customer = loyalty_op.cid)",
        "EXISTS (SELECT 1 FROM loyalty_birthdays b WHERE b.customer = loyalty_op.cid)"
    ),
    concat!(
        "INSERT INTO loyalty_birthdays (customer, month, day, created_at) SELECT cid, ",
        arg!("$.birthday.month"),
        ", ",
        arg!("$.birthday.day"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE ",
        live!()
    ),
    answer!(concat!("json_object('month', ", arg!("$.birthday.month"), ", 'day', ", arg!("$.birthday.day"), ")")),
];

pub(super) const CREDIT_PURCHASE: &[&str] = &[
    reject!("idempotency_conflict", reserved_key!()),
    set!("pid", till_ref!("$.partner")),
    set!("cid", customer_ref!("$.customer")),
    set!("eid", concat!("(SELECT id FROM loyalty_entries WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")),
    reject!(
        "idempotency_conflict",
        concat!(
            op!("eid"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_op o CROSS JOIN loyalty_entries e WHERE e.id = o.eid ",
            "AND e.kind = 'accrual' AND e.partner IS NOT NULL AND e.partner IS o.pid AND e.customer IS o.cid ",
            "AND e.purchase IS ",
            arg!("$.purchase"),
            ")"
        )
    ),
    answer!(concat!(
        "(SELECT json_object('entry', ",
        entry_json!(),
        ", 'customer', ",
        customer_now!("e.customer"),
        ", 'partner', ",
        partner_now!("e.partner"),
        ", 'replayed', json('true'), 'tier_before', ",
        tier_of!("e.customer"),
        ", 'awards', ",
        awards_of!("e.id"),
        ") FROM loyalty_entries e WHERE e.id = ",
        op!("eid"),
        ")"
    )),
    reject!("invalid_amount", concat!("NOT (", arg!("$.purchase"), " BETWEEN 1 AND 1000000000000)")),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    reject!("unknown_customer", op!("cid IS NULL")),
    reject!("customer_blocked", concat!("(SELECT blocked FROM loyalty_customers WHERE id = ", op!("cid"), ")")),
    set!("ref", concat!("coalesce((SELECT tier FROM loyalty_tiers WHERE customer = ", op!("cid"), "), 0)")),
    // The one formula of earning (`rules::earned`): the base, then the tier's multiplier.
    set!(
        "n",
        concat!(
            "(SELECT ",
            share!(
                share!(arg!("$.purchase"), "earn_rate_bps"),
                concat!(
                    "coalesce(iif(",
                    op!("ref"),
                    " > 0, json_extract(",
                    rules_doc!(),
                    ", '$.tiers.levels[' || (",
                    op!("ref"),
                    " - 1) || '].multiplier_bps'), NULL), 10000)"
                )
            ),
            " FROM loyalty_partners WHERE id = ",
            op!("pid"),
            ")"
        )
    ),
    CAMPAIGN_AWARDS,
    set!("n", "n + (SELECT coalesce(sum(j.value ->> '$.points'), 0) FROM json_each(loyalty_op.s) j)"),
    // The partner's running total of the day (`loyalty_partner_days`) when nothing but its own
    // credits came after it (its newest entry is still the one recorded); else the sum over the
    // day's entries, the rule's definition (`coalesce` evaluates it only then).
    set!(
        "m",
        concat!(
            "coalesce((SELECT d.credited FROM loyalty_partner_days d WHERE d.partner = ",
            op!("pid"),
            " AND d.day_start = ",
            arg!("$.day_start"),
            " AND d.through = ",
            newest_entry_of!(op!("pid")),
            "), (SELECT ",
            saturating_sum!("e.amount"),
            " FROM loyalty_entries e WHERE e.partner = ",
            op!("pid"),
            " AND e.created_at >= ",
            arg!("$.day_start"),
            " AND e.kind = 'accrual' AND NOT EXISTS (SELECT 1 FROM loyalty_entries r WHERE r.reverses = e.id)))"
        )
    ),
    reject_with!(
        concat!(
            "json_object('code', 'daily_limit_exceeded', 'remaining', max((SELECT daily_credit_limit ",
            "FROM loyalty_partners WHERE id = pid) - m, 0))"
        ),
        concat!(
            "min(m + n, 9223372036854775807) > (SELECT daily_credit_limit FROM loyalty_partners WHERE id = ",
            op!("pid"),
            ")"
        )
    ),
    balance_rules!("loyalty_op.cid", "loyalty_op.n")[0],
    balance_rules!("loyalty_op.cid", "loyalty_op.n")[1],
    append!(
        "cid",
        "accrual",
        "n",
        "pid",
        arg!("$.purchase"),
        arg!("$.idempotency_key"),
        "partner",
        "pid",
        "NULL",
        "NULL",
        "1"
    ),
    concat!(
        "INSERT INTO loyalty_entry_cashiers (entry, staff) SELECT e.id, ",
        cashier_ref!("$.partner"),
        " FROM loyalty_entries e WHERE e.idempotency_key = ",
        arg!("$.idempotency_key"),
        " AND ",
        cashier_ref!("$.partner"),
        " IS NOT NULL AND ",
        live!()
    ),
    RECORD_AWARDS,
    // The day's total with this credit, and the partner's newest entry (this one).
    concat!(
        "INSERT INTO loyalty_partner_days (partner, day_start, credited, through) SELECT pid, ",
        arg!("$.day_start"),
        ", min(m + n, 9223372036854775807), ",
        newest_entry_of!("loyalty_op.pid"),
        " FROM loyalty_op WHERE ",
        live!(),
        " ON CONFLICT (partner) DO UPDATE SET day_start = excluded.day_start, credited = excluded.credited, ",
        "through = excluded.through"
    ),
    answer!(concat!(
        "(SELECT json_object('entry', ",
        entry_json!(),
        ", 'customer', ",
        customer_now!("e.customer"),
        ", 'partner', ",
        partner_now!("e.partner"),
        ", 'replayed', json('false'), 'tier_before', ",
        op!("ref"),
        ", 'awards', ",
        awards_of!("e.id"),
        ") FROM loyalty_entries e WHERE e.idempotency_key = ",
        arg!("$.idempotency_key"),
        ")"
    )),
];

pub(super) const OPEN_REDEMPTION: &[&str] = &[
    set!("pid", till_ref!("$.partner")),
    set!("cid", customer_ref!("$.customer")),
    set!(
        "rid",
        concat!("(SELECT id FROM loyalty_redemptions WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")
    ),
    reject!(
        "idempotency_conflict",
        concat!(
            op!("rid"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_op o CROSS JOIN loyalty_redemptions r WHERE r.id = o.rid ",
            "AND r.partner IS o.pid AND r.customer IS o.cid AND r.points = ",
            arg!("$.points"),
            " AND r.purchase = ",
            arg!("$.purchase"),
            ")"
        )
    ),
    answer!(redemption_view!("true")),
    reject!(
        "invalid_amount",
        concat!(arg!("$.points"), " < 1 OR NOT (", arg!("$.purchase"), " BETWEEN 1 AND 1000000000000)")
    ),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    reject!("unknown_customer", op!("cid IS NULL")),
    reject!("customer_blocked", concat!("(SELECT blocked FROM loyalty_customers WHERE id = ", op!("cid"), ")")),
    set!(
        "n",
        concat!(
            "(SELECT ",
            share!(arg!("$.purchase"), "max_redeem_share_bps"),
            " FROM loyalty_partners WHERE id = ",
            op!("pid"),
            ")"
        )
    ),
    reject_with!("json_object('code', 'exceeds_max_share', 'max', n)", concat!(arg!("$.points"), " > n")),
    reject_with!(
        concat!(
            "json_object('code', 'insufficient_balance', 'balance', (SELECT balance FROM loyalty_customers ",
            "WHERE id = cid), 'requested', ",
            arg!("$.points"),
            ")"
        ),
        concat!(arg!("$.points"), " > (SELECT balance FROM loyalty_customers WHERE id = cid)")
    ),
    concat!(
        "INSERT INTO loyalty_redemptions (idempotency_key, customer, partner, points, purchase, status, created_at, ",
        "expires_at) SELECT ",
        arg!("$.idempotency_key"),
        ", cid, pid, ",
        arg!("$.points"),
        ", ",
        arg!("$.purchase"),
        ", 'pending', ",
        arg!("$.now"),
        ", ",
        arg!("$.expires_at"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    set!(
        "rid",
        concat!("(SELECT id FROM loyalty_redemptions WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")
    ),
    concat!(
        "INSERT INTO loyalty_redemption_cashiers (redemption, staff) SELECT rid, ",
        cashier_ref!("$.partner"),
        " FROM loyalty_op WHERE ",
        cashier_ref!("$.partner"),
        " IS NOT NULL AND err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(redemption_view!("false")),
];

/// The first steps of answering a redemption request: find it, check the
/// customer, and expire it when it is pending past `expires_at` (answering
/// `{"rejected": {"code": "redemption_expired"}}`).
macro_rules! answerable {
    () => {
        [
            set!("rid", concat!("(SELECT id FROM loyalty_redemptions WHERE id = ", arg!("$.id"), ")")),
            reject!("unknown_redemption", op!("rid IS NULL")),
            set!("cid", customer_ref!("$.customer")),
            reject!("unknown_customer", op!("cid IS NULL")),
            reject!(
                "not_your_redemption",
                concat!("(SELECT customer FROM loyalty_redemptions WHERE id = ", op!("rid"), ") IS NOT ", op!("cid"))
            ),
            set!(
                "n",
                concat!(
                    "(SELECT status = 'pending' AND ",
                    arg!("$.now"),
                    " > expires_at FROM loyalty_redemptions WHERE id = ",
                    op!("rid"),
                    ")"
                )
            ),
            concat!(
                "UPDATE loyalty_redemptions SET status = 'expired' WHERE id = ",
                op!("rid"),
                " AND ",
                op!("n"),
                " AND ",
                live!()
            ),
            concat!(
                "UPDATE loyalty_op SET res = '{\"rejected\":{\"code\":\"redemption_expired\"}}' WHERE n AND ",
                live!()
            ),
        ]
    };
}

/// The status of the request in `loyalty_op.rid`.
macro_rules! request_status {
    () => {
        concat!("(SELECT status FROM loyalty_redemptions WHERE id = ", op!("rid"), ")")
    };
}

/// Refuses with `redemption_closed` when the request's status is not `pending`.
macro_rules! reject_closed {
    () => {
        reject_with!(
            concat!("json_object('code', 'redemption_closed', 'status', ", request_status!(), ")"),
            concat!(request_status!(), " <> 'pending'")
        )
    };
}

const ANSWERABLE: [&str; 8] = answerable!();

pub(super) const CONFIRM_REDEMPTION: &[&str] = &[
    ANSWERABLE[0],
    ANSWERABLE[1],
    ANSWERABLE[2],
    ANSWERABLE[3],
    ANSWERABLE[4],
    ANSWERABLE[5],
    ANSWERABLE[6],
    ANSWERABLE[7],
    concat!(
        "UPDATE loyalty_op SET res = ",
        redemption_view!("true"),
        " WHERE ",
        request_status!(),
        " = 'confirmed' AND ",
        live!()
    ),
    reject_closed!(),
    reject_unapproved!(concat!(
        "(SELECT p.status FROM loyalty_partners p, loyalty_redemptions r WHERE r.id = ",
        op!("rid"),
        " AND p.id = r.partner)"
    )),
    reject!("customer_blocked", concat!("(SELECT blocked FROM loyalty_customers WHERE id = ", op!("cid"), ")")),
    set!("m", concat!("(SELECT points FROM loyalty_redemptions WHERE id = ", op!("rid"), ")")),
    balance_rules!("loyalty_op.cid", "-loyalty_op.m")[0],
    append!(
        "cid",
        "redemption",
        "-m",
        "(SELECT partner FROM loyalty_redemptions WHERE id = rid)",
        "(SELECT purchase FROM loyalty_redemptions WHERE id = rid)",
        "'redemption:' || rid",
        "customer",
        "cid",
        "NULL",
        "NULL",
        "1"
    ),
    concat!(
        "UPDATE loyalty_redemptions SET status = 'confirmed', entry = (SELECT id FROM loyalty_entries ",
        "WHERE idempotency_key = 'redemption:' || loyalty_redemptions.id) WHERE id = ",
        op!("rid"),
        " AND ",
        live!()
    ),
    concat!(
        "INSERT INTO loyalty_entry_cashiers (entry, staff) SELECT r.entry, x.staff FROM loyalty_redemptions r ",
        "JOIN loyalty_redemption_cashiers x ON x.redemption = r.id WHERE r.id = ",
        op!("rid"),
        " AND ",
        live!()
    ),
    answer!(redemption_view!("false")),
];

pub(super) const DECLINE_REDEMPTION: &[&str] = &[
    ANSWERABLE[0],
    ANSWERABLE[1],
    ANSWERABLE[2],
    ANSWERABLE[3],
    ANSWERABLE[4],
    ANSWERABLE[5],
    ANSWERABLE[6],
    ANSWERABLE[7],
    concat!(
        "UPDATE loyalty_op SET res = ",
        redemption_view!("true"),
        " WHERE ",
        request_status!(),
        " = 'declined' AND ",
        live!()
    ),
    reject_closed!(),
    concat!("UPDATE loyalty_redemptions SET status = 'declined' WHERE id = ", op!("rid"), " AND ", live!()),
    answer!(redemption_view!("false")),
];

pub(super) const EXPIRE_REDEMPTIONS: &[&str] = &[
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(j) ORDER BY i), '[]') FROM (SELECT r.id AS i, ",
        request_json!("'expired'"),
        " AS j FROM loyalty_redemptions r WHERE r.status = 'pending' AND r.expires_at < ",
        arg!("$.now"),
        "))"
    )),
    concat!(
        "UPDATE loyalty_redemptions SET status = 'expired' WHERE status = 'pending' AND expires_at < ",
        arg!("$.now")
    ),
];

pub(super) const REVERSE_ENTRY: &[&str] = &[
    reject!("idempotency_conflict", reserved_key!()),
    set!("pid", partner_ref!("$.partner")),
    set!("eid", concat!("(SELECT id FROM loyalty_entries WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")),
    reject!(
        "idempotency_conflict",
        concat!(
            op!("eid"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_op o CROSS JOIN loyalty_entries e WHERE e.id = o.eid ",
            "AND e.kind = 'reversal' AND e.reverses IS ",
            arg!("$.entry"),
            " AND e.partner IS NOT NULL AND e.partner IS o.pid)"
        )
    ),
    answer!(concat!(
        "(SELECT json_object('original', ",
        entry_now!(arg!("$.entry")),
        ", 'reversal', ",
        entry_json!(),
        ", 'customer', ",
        customer_now!("e.customer"),
        ", 'partner', ",
        partner_now!("e.partner"),
        ", 'replayed', json('true'), 'tier_before', ",
        tier_of!("e.customer"),
        ", 'awards', ",
        awards_of!("e.id"),
        ") FROM loyalty_entries e WHERE e.id = ",
        op!("eid"),
        ")"
    )),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    set!("ref", concat!("(SELECT id FROM loyalty_entries WHERE id = ", arg!("$.entry"), ")")),
    reject!(
        "unknown_entry",
        concat!(
            op!("ref"),
            " IS NULL OR (SELECT partner FROM loyalty_entries WHERE id = ",
            op!("ref"),
            ") IS NOT ",
            op!("pid")
        )
    ),
    reject!(
        "not_reversible",
        concat!("(SELECT kind FROM loyalty_entries WHERE id = ", op!("ref"), ") NOT IN ('accrual', 'redemption')")
    ),
    reject!(
        "reversal_window_closed",
        concat!("(SELECT created_at FROM loyalty_entries WHERE id = ", op!("ref"), ") < ", arg!("$.not_before"))
    ),
    reject!("already_reversed", concat!("EXISTS (SELECT 1 FROM loyalty_entries WHERE reverses = ", op!("ref"), ")")),
    set!("cid", concat!("(SELECT customer FROM loyalty_entries WHERE id = ", op!("ref"), ")")),
    set!("n", concat!("(SELECT -amount FROM loyalty_entries WHERE id = ", op!("ref"), ")")),
    balance_rules!("loyalty_op.cid", "loyalty_op.n")[0],
    balance_rules!("loyalty_op.cid", "loyalty_op.n")[1],
    set!("m", tier_of!(op!("cid"))),
    append!("cid", "reversal", "n", "pid", "NULL", arg!("$.idempotency_key"), "partner", "pid", "ref", "NULL", "1"),
    answer!(concat!(
        "(SELECT json_object('original', ",
        entry_now!(arg!("$.entry")),
        ", 'reversal', ",
        entry_json!(),
        ", 'customer', ",
        customer_now!("e.customer"),
        ", 'partner', ",
        partner_now!("e.partner"),
        ", 'replayed', json('false'), 'tier_before', ",
        op!("m"),
        ") FROM loyalty_entries e WHERE e.idempotency_key = ",
        arg!("$.idempotency_key"),
        ")"
    )),
];

pub(super) const ADJUST_BALANCE: &[&str] = &[
    reject!("idempotency_conflict", reserved_key!()),
    set!("cid", customer_ref!("$.customer")),
    set!("eid", concat!("(SELECT id FROM loyalty_entries WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")),
    reject!(
        "idempotency_conflict",
        concat!(
            op!("eid"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_op o CROSS JOIN loyalty_entries e WHERE e.id = o.eid ",
            "AND e.kind = 'adjustment' AND e.customer IS o.cid AND e.amount = ",
            arg!("$.amount"),
            " AND e.reason IS ",
            arg!("$.reason"),
            " AND e.author_type = 'admin' AND e.author_id IS ",
            arg!("$.admin"),
            ")"
        )
    ),
    answer!(concat!(
        "(SELECT json_object('entry', ",
        entry_json!(),
        ", 'customer', ",
        customer_now!("e.customer"),
        ", 'replayed', json('true')) FROM loyalty_entries e WHERE e.id = ",
        op!("eid"),
        ")"
    )),
    reject!(
        "invalid_amount",
        concat!(
            arg!("$.amount"),
            " = 0 OR ",
            arg!("$.amount"),
            " > 1000000000 OR ",
            arg!("$.amount"),
            " < -1000000000"
        )
    ),
    reject!("unknown_customer", op!("cid IS NULL")),
    balance_rules!("loyalty_op.cid", arg!("$.amount"))[0],
    balance_rules!("loyalty_op.cid", arg!("$.amount"))[1],
    append!(
        "cid",
        "adjustment",
        arg!("$.amount"),
        "NULL",
        "NULL",
        arg!("$.idempotency_key"),
        "admin",
        arg!("$.admin"),
        "NULL",
        arg!("$.reason"),
        "1"
    ),
    concat!(
        "INSERT INTO loyalty_audit_log (admin, action, customer, entry, amount, reason, at) SELECT ",
        arg!("$.admin"),
        ", 'adjusted', cid, (SELECT id FROM loyalty_entries WHERE idempotency_key = ",
        arg!("$.idempotency_key"),
        "), ",
        arg!("$.amount"),
        ", ",
        arg!("$.reason"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(concat!(
        "(SELECT json_object('entry', ",
        entry_json!(),
        ", 'customer', ",
        customer_now!("e.customer"),
        ", 'replayed', json('false')) FROM loyalty_entries e WHERE e.idempotency_key = ",
        arg!("$.idempotency_key"),
        ")"
    )),
];

pub(super) const APPLY_PARTNER: &[&str] = &[
    set!("pid", concat!("(SELECT id FROM loyalty_partners WHERE telegram_id = ", arg!("$.telegram_id"), ")")),
    set!("s", concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    answer!(concat!(
        "(SELECT json_object('partner', ",
        partner_json!(),
        ", 'created', json('false')) FROM loyalty_partners p WHERE p.id = ",
        op!("pid"),
        " AND p.status = 'applied')"
    )),
    reject!("already_partner", concat!(op!("s"), " IN ('approved', 'suspended')")),
    // An active cashier works at someone else's till: revoked first, they may apply.
    reject!(
        "already_staff",
        concat!(
            op!("pid"),
            " IS NULL AND EXISTS (SELECT 1 FROM loyalty_staff WHERE telegram_id = ",
            arg!("$.telegram_id"),
            " AND revoked_at IS NULL)"
        )
    ),
    concat!(
        "UPDATE loyalty_partners SET status = 'applied', name = ",
        arg!("$.name"),
        ", category = ",
        arg!("$.category"),
        ", earn_rate_bps = ",
        arg!("$.terms.earn_rate_bps"),
        ", max_redeem_share_bps = ",
        arg!("$.terms.max_redeem_share_bps"),
        ", daily_credit_limit = ",
        arg!("$.terms.daily_credit_limit"),
        ", language = ",
        arg!("$.language"),
        ", created_at = ",
        arg!("$.now"),
        " WHERE id = ",
        op!("pid"),
        " AND status = 'rejected' AND ",
        live!()
    ),
    concat!(
        "INSERT INTO loyalty_partners (telegram_id, name, category, status, earn_rate_bps, max_redeem_share_bps, ",
        "daily_credit_limit, language, created_at) SELECT ",
        arg!("$.telegram_id"),
        ", ",
        arg!("$.name"),
        ", ",
        arg!("$.category"),
        ", 'applied', ",
        arg!("$.terms.earn_rate_bps"),
        ", ",
        arg!("$.terms.max_redeem_share_bps"),
        ", ",
        arg!("$.terms.daily_credit_limit"),
        ", ",
        arg!("$.language"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE pid IS NULL AND err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(concat!(
        "(SELECT json_object('partner', ",
        partner_json!(),
        ", 'created', json('true')) FROM loyalty_partners p WHERE p.telegram_id = ",
        arg!("$.telegram_id"),
        ")"
    )),
];

pub(super) const DECIDE_PARTNER: &[&str] = &[
    set!("pid", concat!("(SELECT id FROM loyalty_partners WHERE id = ", arg!("$.partner"), ")")),
    reject!("unknown_partner", op!("pid IS NULL")),
    set!(
        "s",
        concat!(
            "(SELECT CASE WHEN d = 'approve' AND status IN ('approved', 'applied', 'suspended') THEN 'approved' ",
            "WHEN d = 'reject' AND status IN ('rejected', 'applied') THEN 'rejected' ",
            "WHEN d = 'suspend' AND status IN ('suspended', 'approved') THEN 'suspended' END ",
            "FROM loyalty_partners, (SELECT ",
            arg!("$.decision"),
            " AS d) WHERE id = ",
            op!("pid"),
            ")"
        )
    ),
    reject!("invalid_transition", op!("s IS NULL")),
    set!("n", concat!("(SELECT status <> ", op!("s"), " FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    concat!(
        "UPDATE loyalty_partners SET status = ",
        op!("s"),
        " WHERE id = ",
        op!("pid"),
        " AND ",
        op!("n"),
        " AND ",
        live!()
    ),
    concat!(
        "INSERT INTO loyalty_audit_log (admin, action, partner, decision, status, at) SELECT ",
        arg!("$.admin"),
        ", 'partner_decided', pid, ",
        arg!("$.decision"),
        ", s, ",
        arg!("$.now"),
        " FROM loyalty_op WHERE n AND err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(concat!("json_object('partner', ", partner_now!(op!("pid")), ", 'changed', ", boolean!(op!("n")), ")")),
];

pub(super) const PARTNER: &[&str] = &[answer!(concat!(
    "coalesce((SELECT ",
    partner_json!(),
    " FROM loyalty_partners p WHERE p.id = ",
    till_ref!("$.who"),
    "), 'null')"
))];

pub(super) const LIST_PARTNERS: &[&str] =
    &[answer!(partners_array!(concat!(arg!("$.status"), " IS NULL OR p.status = ", arg!("$.status"))))];

pub(super) const SET_PARTNER_API_KEY: &[&str] = &[
    set!("pid", partner_ref!("$.who")),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    concat!(
        "UPDATE loyalty_partners SET api_key_sha256 = ",
        arg!("$.key_sha256_hex"),
        " WHERE id = ",
        op!("pid"),
        " AND ",
        live!()
    ),
    answer!(partner_now!(op!("pid"))),
];

pub(super) const PARTNER_BY_API_KEY: &[&str] = &[answer!(concat!(
    "coalesce((SELECT ",
    partner_json!(),
    " FROM loyalty_partners p WHERE p.api_key_sha256 = ",
    arg!("$.key_sha256_hex"),
    "), 'null')"
))];

/// The JSON of `StampCard` for the row aliased `k`.
macro_rules! stamp_card_json {
    () => {
        "json_object('partner', k.partner, 'needed', k.needed, 'reward', k.reward, 'updated_at', k.updated_at)"
    };
}

/// The JSON of `StampProgress` for customer `$customer` at the card aliased
/// `k` joined with its partner `p` and the stamps `s` (left joined).
macro_rules! stamp_progress_json {
    ($customer:expr) => {
        concat!(
            "json_object('customer', ",
            $customer,
            ", 'card', ",
            stamp_card_json!(),
            ", 'partner_name', p.name, 'stamps', coalesce(s.stamps, 0), 'completed', coalesce(s.completed, 0))"
        )
    };
}

/// `FROM` the cards `k` with their partners `p` and customer `$customer`'s stamps `s`.
macro_rules! stamp_cards_from {
    ($customer:expr) => {
        concat!(
            " FROM loyalty_stamp_cards k JOIN loyalty_partners p ON p.id = k.partner LEFT JOIN loyalty_stamps s ",
            "ON s.partner = k.partner AND s.customer = ",
            $customer
        )
    };
}

pub(super) const LOOK_UP_CUSTOMER: &[&str] = &[
    set!("pid", till_ref!("$.partner")),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    set!("cid", customer_ref!("$.customer")),
    reject!("unknown_customer", op!("cid IS NULL")),
    answer!(concat!(
        "json_object('partner', ",
        partner_now!(op!("pid")),
        ", 'customer', ",
        customer_now!(op!("cid")),
        ", 'stamps', json((SELECT ",
        stamp_progress_json!(op!("cid")),
        stamp_cards_from!(op!("cid")),
        " WHERE k.partner = ",
        op!("pid"),
        ")))"
    )),
];

pub(super) const PARTNER_STATS: &[&str] = &[
    set!("pid", partner_ref!("$.who")),
    reject!("unknown_partner", op!("pid IS NULL")),
    answer!(concat!(
        "json_object('partner', ",
        partner_now!(op!("pid")),
        ", 'today', json(",
        period_stats!(concat!("x.partner = ", op!("pid"), " AND x.created_at >= ", arg!("$.today"))),
        "), 'week', json(",
        period_stats!(concat!("x.partner = ", op!("pid"), " AND x.created_at >= ", arg!("$.week"))),
        "))"
    )),
];

pub(super) const PROGRAM_STATS: &[&str] = &[answer!(concat!(
    "json_object('customers', (SELECT count(*) FROM loyalty_customers), ",
    "'partners_approved', (SELECT count(*) FROM loyalty_partners WHERE status = 'approved'), ",
    "'partners_pending', (SELECT count(*) FROM loyalty_partners WHERE status = 'applied'), ",
    "'points_outstanding', (SELECT ",
    saturating_sum!("balance"),
    " FROM loyalty_customers), 'expiring_30_days', (SELECT ",
    saturating_sum!("remaining"),
    " FROM loyalty_lots INDEXED BY loyalty_lots_due WHERE remaining > 0 AND expires_at < ",
    arg!("$.today"),
    " + 2592000), 'expiring_90_days', (SELECT ",
    saturating_sum!("remaining"),
    " FROM loyalty_lots INDEXED BY loyalty_lots_due WHERE remaining > 0 AND expires_at < ",
    arg!("$.today"),
    " + 7776000), 'customers_by_tier', json((SELECT json_group_array((SELECT count(*) FROM loyalty_tiers t ",
    "WHERE t.tier = k.value)) FROM json_each('[1,2,3,4,5,6,7,8,9,10]') k)), ",
    "'rules_version', ",
    rules_version!(),
    ", 'today', json(",
    period_stats!(concat!("x.created_at >= ", arg!("$.today"))),
    "))"
))];

/// The rows of `json_each` over an array of `$n` zeros: `key` is 0 to `$n − 1`.
macro_rules! indexes {
    ($n:expr) => {
        concat!("json_each('[' || substr(replace(hex(zeroblob(", $n, ")), '00', ',0'), 2) || ']')")
    };
}

/// The `DayFigures` (a JSON array, oldest first) of the days asked for, over
/// the accruals and redemptions matching `filter` (over `x`), those reversed
/// left out: each day one search of the entries created in it (an index on
/// `created_at`).
macro_rules! day_figures {
    ($filter:expr) => {
        concat!(
            "json((SELECT json_group_array(json((SELECT json_object('day', k.day, 'issued', ",
            saturating_sum!("iif(x.kind = 'accrual', x.amount, 0)"),
            ", 'redeemed', ",
            saturating_sum!("iif(x.kind = 'redemption', -x.amount, 0)"),
            ") FROM loyalty_entries x WHERE x.kind IN ('accrual', 'redemption') AND x.created_at >= k.day ",
            "AND x.created_at < k.day + 86400 AND ",
            $filter,
            " AND NOT EXISTS (SELECT 1 FROM loyalty_entries y WHERE y.reverses = x.id))) ORDER BY k.day) ",
            "FROM (SELECT ",
            arg!("$.from"),
            " + 86400 * key AS day FROM ",
            indexes!(arg!("$.days")),
            ") k))"
        )
    };
}

pub(super) const DAILY_FIGURES: &[&str] = &[
    // 92: storage::MAX_FIGURE_DAYS.
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.days"), " BETWEEN 1 AND 92, 0)")),
    set!("pid", partner_ref!("$.scope.partner")),
    reject!("unknown_partner", concat!(arg!("$.scope.kind"), " IS NOT 'program' AND ", op!("pid IS NULL"))),
    // A partner's: its entries (the index of a partner's by time).
    concat!(
        "UPDATE loyalty_op SET res = ",
        day_figures!(concat!("x.partner = ", op!("pid"))),
        " WHERE pid IS NOT NULL AND ",
        live!()
    ),
    // The program's: every entry (the index of all by time).
    answer!(day_figures!("true")),
];

pub(super) const CLAIM_UPDATE: &[&str] = &[
    finish_carried!("?1"),
    set!(
        "n",
        concat!(
            "EXISTS (SELECT 1 FROM loyalty_bot_updates WHERE bot = ",
            arg!("$.bot"),
            " AND update_id = ",
            arg!("$.update_id"),
            ")"
        )
    ),
    concat!(
        "INSERT OR IGNORE INTO loyalty_bot_updates (bot, update_id, claimed_at) VALUES (",
        arg!("$.bot"),
        ", ",
        arg!("$.update_id"),
        ", ",
        arg!("$.now"),
        ")"
    ),
    concat!(
        "INSERT INTO loyalty_update_bodies (bot, update_id, claimed_at, body) SELECT ",
        arg!("$.bot"),
        ", ",
        arg!("$.update_id"),
        ", ",
        arg!("$.now"),
        ", ",
        arg!("$.body"),
        " FROM loyalty_op WHERE NOT n AND json_type(?1, '$.body') = 'text'"
    ),
    answer!(concat!("iif(", op!("n"), ", 'false', 'true')")),
];

pub(super) const RELEASE_UPDATE: &[&str] = &[
    concat!("DELETE FROM loyalty_bot_updates WHERE bot = ", arg!("$.bot"), " AND update_id = ", arg!("$.update_id")),
    concat!("DELETE FROM loyalty_update_bodies WHERE bot = ", arg!("$.bot"), " AND update_id = ", arg!("$.update_id")),
    answer!("'null'"),
];

pub(super) const PRUNE_UPDATE_CLAIMS: &[&str] = &[
    set!("n", concat!("(SELECT count(*) FROM loyalty_bot_updates WHERE claimed_at < ", arg!("$.before"), ")")),
    concat!("DELETE FROM loyalty_bot_updates WHERE claimed_at < ", arg!("$.before")),
    concat!("DELETE FROM loyalty_update_bodies WHERE claimed_at < ", arg!("$.before")),
    concat!("DELETE FROM loyalty_outbox WHERE state <> 'pending' AND settled_at < ", arg!("$.before")),
    concat!("DELETE FROM loyalty_quotas WHERE day < ", arg!("$.before")),
    answer!(concat!("CAST(", op!("n"), " AS TEXT)")),
];

/// A leased outbox message as JSON (`o` the row).
macro_rules! message_json {
    () => {
        "json_object('id', o.id, 'chat', o.chat, 'payload', o.payload, 'attempts', o.attempts)"
    };
}

/// The messages are added after the largest id before them (`m`), keyed by
/// source and position; the updates are finished (their bodies dropped). The
/// answer also says whether any webhook endpoint is registered (the partial
/// index `loyalty_webhooks_active` answers it).
pub(super) const ENQUEUE_MESSAGES: &[&str] = &[
    reject!(
        "invalid_amount",
        concat!(
            "coalesce(length(",
            arg!("$.source"),
            "), 0) NOT BETWEEN 1 AND 200 OR coalesce(json_array_length(?1, '$.messages'), 0) > 100 ",
            "OR coalesce(json_array_length(?1, '$.updates'), 0) > 100 ",
            "OR EXISTS (SELECT 1 FROM json_each(?1, '$.messages') j ",
            "WHERE coalesce(length(CAST(json_extract(j.value, '$.payload') AS BLOB)), 0) > 65536 ",
            "OR json_type(j.value, '$.payload') IS NOT 'text')"
        )
    ),
    finish_updates!("?1", "$.updates", live!()),
    set!("m", "(SELECT coalesce(max(id), 0) FROM loyalty_outbox)"),
    concat!(
        "INSERT INTO loyalty_outbox (source, seq, chat, payload, next_at, created_at) SELECT ",
        arg!("$.source"),
        ", j.key, json_extract(j.value, '$.chat'), json_extract(j.value, '$.payload'), ",
        arg!("$.lease_until"),
        ", ",
        arg!("$.now"),
        " FROM json_each(?1, '$.messages') j WHERE ",
        live!(),
        " ORDER BY j.key ON CONFLICT (source, seq) DO NOTHING"
    ),
    answer!(concat!(
        "json_object('messages', json((SELECT coalesce(json_group_array(json(",
        message_json!(),
        ") ORDER BY o.id), '[]') FROM loyalty_outbox o WHERE o.id > ",
        op!("m"),
        " AND o.source = ",
        arg!("$.source"),
        ")), 'webhooks', ",
        boolean!("EXISTS (SELECT 1 FROM loyalty_webhooks WHERE removed_at IS NULL)"),
        ")"
    )),
];

/// The due messages (pending, not leased, each its chat's oldest pending)
/// are listed in `s`, then leased.
pub(super) const TAKE_MESSAGES: &[&str] = &[
    reject!("invalid_amount", concat!("coalesce(", arg!("$.limit"), ", 0) NOT BETWEEN 1 AND 100")),
    set!(
        "s",
        concat!(
            "(SELECT coalesce(json_group_array(a.id), '[]') FROM (SELECT o.id FROM loyalty_outbox o ",
            "WHERE o.state = 'pending' AND o.next_at <= ",
            arg!("$.now"),
            " AND (o.chat IS NULL OR NOT EXISTS (SELECT 1 FROM loyalty_outbox p WHERE p.state = 'pending' ",
            "AND p.chat = o.chat AND p.id < o.id)) ORDER BY o.id LIMIT ",
            arg!("$.limit"),
            ") a)"
        )
    ),
    concat!(
        "UPDATE loyalty_outbox SET next_at = ",
        arg!("$.lease_until"),
        ", attempts = attempts + 1 WHERE ",
        live!(),
        " AND id IN (SELECT value FROM json_each(",
        op!("s"),
        "))"
    ),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(",
        message_json!(),
        ") ORDER BY o.id), '[]') FROM loyalty_outbox o WHERE o.id IN (SELECT value FROM json_each(",
        op!("s"),
        ")))"
    )),
];

pub(super) const SETTLE_MESSAGES: &[&str] = &[
    reject!("invalid_amount", "coalesce(json_array_length(?1, '$.settled'), 0) > 100"),
    concat!(
        "UPDATE loyalty_outbox SET ",
        "state = CASE json_extract(j.value, '$.outcome') WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'failed' ",
        "ELSE state END, ",
        "settled_at = CASE WHEN json_extract(j.value, '$.outcome') IN ('sent', 'failed') THEN ",
        arg!("$.now"),
        " END, ",
        "error = substr(json_extract(j.value, '$.error'), 1, 500), ",
        "next_at = CASE json_extract(j.value, '$.outcome') WHEN 'retry' THEN json_extract(j.value, '$.at') ",
        "ELSE next_at END ",
        "FROM json_each(?1, '$.settled') j WHERE ",
        live!(),
        " AND loyalty_outbox.id = json_extract(j.value, '$.id') AND loyalty_outbox.state = 'pending'"
    ),
    answer!("'null'"),
];

/// The stale claims are listed in `s` (as JSON), then leased.
pub(super) const STALE_UPDATES: &[&str] = &[
    reject!("invalid_amount", concat!("coalesce(", arg!("$.limit"), ", 0) NOT BETWEEN 1 AND 100")),
    set!(
        "s",
        concat!(
            "(SELECT coalesce(json_group_array(json_object('bot', a.bot, 'update_id', a.update_id, 'body', a.body) ",
            "ORDER BY a.claimed_at, a.bot, a.update_id), '[]') FROM (SELECT * FROM loyalty_update_bodies ",
            "WHERE claimed_at < ",
            arg!("$.before"),
            " ORDER BY claimed_at, bot, update_id LIMIT ",
            arg!("$.limit"),
            ") a)"
        )
    ),
    concat!(
        "UPDATE loyalty_update_bodies SET claimed_at = ",
        arg!("$.now"),
        " WHERE ",
        live!(),
        " AND (bot, update_id) IN (SELECT json_extract(j.value, '$.bot'), json_extract(j.value, '$.update_id') ",
        "FROM json_each(",
        op!("s"),
        ") j)"
    ),
    answer!(op!("s")),
];

/// Counts the pending and the failed messages, each over its partial index.
pub(super) const OUTBOX_STATE: &[&str] = &[answer!(
    "json_object('pending', (SELECT count(*) FROM loyalty_outbox WHERE state = 'pending'), \
     'oldest', (SELECT min(created_at) FROM loyalty_outbox WHERE state = 'pending'), \
     'failed', (SELECT count(*) FROM loyalty_outbox WHERE state = 'failed'))"
)];

pub(super) const CONSUME_QUOTA: &[&str] = &[
    set!("n", quota_left!(arg!("$.kind"), arg!("$.user"), arg!("$.day"), arg!("$.limit"))),
    use_quota!(arg!("$.kind"), arg!("$.user"), arg!("$.day")),
    answer!(concat!("iif(", op!("n"), ", 'true', 'false')")),
];

/// A job's state: the one it replaces is the answer (`null` the first time).
pub(super) const SWAP_JOB_STATE: &[&str] = &[
    reject!(
        "invalid_amount",
        concat!(
            "coalesce(length(",
            arg!("$.name"),
            "), 0) NOT BETWEEN 1 AND 100 OR coalesce(length(CAST(",
            arg!("$.value"),
            " AS BLOB)), 0) > 1000 OR ",
            arg!("$.value"),
            " IS NULL"
        )
    ),
    set!(
        "s",
        concat!(
            "coalesce((SELECT json_object('value', value, 'updated_at', updated_at) FROM loyalty_job_state WHERE name = ",
            arg!("$.name"),
            "), 'null')"
        )
    ),
    concat!(
        "INSERT INTO loyalty_job_state (name, value, updated_at) SELECT ",
        arg!("$.name"),
        ", ",
        arg!("$.value"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE ",
        live!(),
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    ),
    answer!(op!("s")),
];

pub(super) const CREATE_BROADCAST: &[&str] = &[
    set!("eid", concat!("(SELECT id FROM loyalty_broadcasts WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")),
    reject!(
        "idempotency_conflict",
        concat!(
            op!("eid"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_broadcasts WHERE id = ",
            op!("eid"),
            " AND audience = ",
            arg!("$.audience"),
            " AND text = ",
            arg!("$.text"),
            " AND admin_chat = ",
            arg!("$.admin_chat"),
            ")"
        )
    ),
    concat!(
        "INSERT INTO loyalty_broadcasts (idempotency_key, audience, text, admin_chat, total, created_at) SELECT ",
        arg!("$.idempotency_key"),
        ", ",
        arg!("$.audience"),
        ", ",
        arg!("$.text"),
        ", ",
        arg!("$.admin_chat"),
        ", min((SELECT count(*) FROM (",
        audience!(arg!("$.audience"), "-9223372036854775808", "-1"),
        ")), 4294967295), ",
        arg!("$.now"),
        " FROM loyalty_op WHERE eid IS NULL AND err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(concat!(
        "(SELECT ",
        job_json!(),
        " FROM loyalty_broadcasts j WHERE j.idempotency_key = ",
        arg!("$.idempotency_key"),
        ")"
    )),
];

pub(super) const CLAIM_BROADCAST_BATCH: &[&str] = &[
    set!("eid", concat!("(SELECT id FROM loyalty_broadcasts WHERE id = ", arg!("$.job"), ")")),
    concat!(
        "UPDATE loyalty_op SET fault = 'unknown broadcast job ' || ",
        arg!("$.job"),
        " WHERE eid IS NULL AND ",
        live!()
    ),
    answer!(concat!(
        "(SELECT json_object('job', ",
        job_json!(),
        ", 'recipients', json('[]')) FROM loyalty_broadcasts j WHERE j.id = ",
        op!("eid"),
        " AND j.done)"
    )),
    set!("m", concat!("(SELECT cursor FROM loyalty_broadcasts WHERE id = ", op!("eid"), ")")),
    set!(
        "s",
        concat!(
            "(SELECT coalesce(json_group_array(json_object('chat_id', a.chat_id, 'language', a.language) ",
            "ORDER BY a.pos), '[]') FROM (",
            audience!(
                concat!("(SELECT audience FROM loyalty_broadcasts WHERE id = ", op!("eid"), ")"),
                op!("m"),
                arg!("$.limit")
            ),
            ") a)"
        )
    ),
    set!(
        "n",
        concat!(
            "coalesce((SELECT max(a.pos) FROM (",
            audience!(
                concat!("(SELECT audience FROM loyalty_broadcasts WHERE id = ", op!("eid"), ")"),
                op!("m"),
                arg!("$.limit")
            ),
            ") a), ",
            op!("m"),
            ")"
        )
    ),
    concat!(
        "UPDATE loyalty_broadcasts SET cursor = ",
        op!("n"),
        ", done = NOT EXISTS (",
        audience!("audience", op!("n"), "1"),
        ") WHERE id = ",
        op!("eid"),
        " AND ",
        live!()
    ),
    answer!(concat!(
        "(SELECT json_object('job', ",
        job_json!(),
        ", 'recipients', json(",
        op!("s"),
        ")) FROM loyalty_broadcasts j WHERE j.id = ",
        op!("eid"),
        ")"
    )),
];

pub(super) const RECORD_BROADCAST: &[&str] = &[
    set!("eid", concat!("(SELECT id FROM loyalty_broadcasts WHERE id = ", arg!("$.job"), ")")),
    concat!(
        "UPDATE loyalty_op SET fault = 'unknown broadcast job ' || ",
        arg!("$.job"),
        " WHERE eid IS NULL AND ",
        live!()
    ),
    concat!(
        "UPDATE loyalty_broadcasts SET sent = min(sent + ",
        arg!("$.sent"),
        ", 4294967295), failed = min(failed + ",
        arg!("$.failed"),
        ", 4294967295) WHERE id = ",
        op!("eid"),
        " AND ",
        live!()
    ),
    answer!(concat!("(SELECT ", job_json!(), " FROM loyalty_broadcasts j WHERE j.id = ", op!("eid"), ")")),
];

pub(super) const PENDING_BROADCASTS: &[&str] = &[answer!(concat!(
    "(SELECT coalesce(json_group_array(json(",
    job_json!(),
    ") ORDER BY j.id), '[]') FROM loyalty_broadcasts j WHERE NOT j.done)"
))];

/// A field of the batch customer `j` (its JSON in `j.value`).
macro_rules! cust {
    ($field:literal) => {
        concat!("json_extract(j.value, '$.", $field, "')")
    };
}

/// The request's customers (`j`, in batch order by `j.key`), read from the
/// JSON: only while checking the batch.
macro_rules! request_customers {
    () => {
        "json_each(?1, '$.customers') j"
    };
}

/// The batch customers (`j`, in batch order by `j.key`): the request's
/// customers copied once into `loyalty_import_rows`, indexed by Telegram id,
/// so the statements join them with the store's tables by index instead of
/// parsing the request again for every row.
macro_rules! batch_customers {
    () => {
        "loyalty_import_rows j"
    };
}

/// Batch customers imported from the batch's source before or by this call
/// (`j`, their `loyalty_imports` row `i` and their customer row `c`).
macro_rules! imported_customers {
    () => {
        concat!(
            batch_customers!(),
            " CROSS JOIN loyalty_imports i ON i.source = ",
            arg!("$.source"),
            " AND i.telegram_id = j.telegram_id CROSS JOIN loyalty_customers c ON c.id = i.customer"
        )
    };
}

/// Batch customers new to the store.
macro_rules! new_customer {
    () => {
        concat!("NOT EXISTS (SELECT 1 FROM loyalty_customers x WHERE x.telegram_id = ", "j.telegram_id", ")")
    };
}

/// The change the other system's balance asks of an imported customer.
macro_rules! change {
    () => {
        concat!("(", cust!("balance"), " - i.balance)")
    };
}

/// The key of a history item `h` of the batch.
macro_rules! history_key {
    () => {
        concat!("'import:' || ", arg!("$.source"), " || ':tx:' || json_extract(h.value, '$.source_id')")
    };
}

/// `Storage::import_batch` (the rule in `ports::import`): checks, partners,
/// customers and what the import remembers of them, referrers, opening
/// entries, balance changes, history — each phase in batch order.
pub(super) const IMPORT_BATCH: &[&str] = &[
    reject!(
        "invalid_import",
        concat!(
            "typeof(",
            arg!("$.source"),
            ") <> 'text' OR length(",
            arg!("$.source"),
            ") NOT BETWEEN 1 AND 32 OR ",
            arg!("$.source"),
            " GLOB '*[^a-z0-9_-]*'",
            " OR (SELECT count(*) <> count(DISTINCT json_extract(value, '$.telegram_id')) ",
            "FROM json_each(?1, '$.partners'))",
            " OR (SELECT count(*) <> count(DISTINCT json_extract(value, '$.telegram_id')) ",
            "FROM json_each(?1, '$.customers'))",
            " OR EXISTS (SELECT 1 FROM json_each(?1, '$.partners') WHERE ",
            "length(json_extract(value, '$.name')) NOT BETWEEN 1 AND 256 ",
            "OR length(json_extract(value, '$.category')) NOT BETWEEN 1 AND 256)",
            " OR EXISTS (SELECT 1 FROM ",
            request_customers!(),
            " WHERE length(",
            cust!("first_name"),
            ") NOT BETWEEN 1 AND 256 OR ",
            cust!("balance"),
            " NOT BETWEEN 0 AND 1000000000000 OR length(CAST(",
            cust!("referral_code"),
            " AS BLOB)) NOT BETWEEN 1 AND 64 OR length(CAST(",
            cust!("birthday"),
            " AS BLOB)) <> 10)",
            " OR EXISTS (SELECT 1 FROM ",
            request_customers!(),
            ", json_each(j.value, '$.history') h WHERE ",
            "length(CAST(json_extract(h.value, '$.source_id') AS BLOB)) NOT BETWEEN 1 AND 64 ",
            "OR json_extract(h.value, '$.amount') NOT BETWEEN -1000000000000 AND 1000000000000 ",
            "OR json_extract(h.value, '$.purchase') NOT BETWEEN -1000000000000 AND 1000000000000 ",
            "OR length(json_extract(h.value, '$.note')) > 1024)",
            " OR (SELECT count(*) <> count(DISTINCT json_extract(h.value, '$.source_id')) FROM ",
            request_customers!(),
            ", json_each(j.value, '$.history') h)"
        )
    ),
    concat!(
        "INSERT INTO loyalty_import_rows (key, telegram_id, value) SELECT key, json_extract(value, '$.telegram_id'), ",
        "value FROM json_each(?1, '$.customers') WHERE ",
        live!()
    ),
    reject!(
        "code_taken",
        concat!(
            "(SELECT count(*) <> count(DISTINCT ",
            cust!("code"),
            ") OR count(*) FILTER (WHERE EXISTS (SELECT 1 FROM loyalty_customers x WHERE x.code = ",
            cust!("code"),
            ")) > 0 FROM ",
            batch_customers!(),
            " WHERE ",
            new_customer!(),
            ")"
        )
    ),
    set!("rid", "(SELECT coalesce(max(id), 0) FROM loyalty_customers)"),
    set!(
        "pid",
        concat!(
            "(SELECT count(*) FROM json_each(?1, '$.partners') WHERE NOT EXISTS (SELECT 1 FROM loyalty_partners p ",
            "WHERE p.telegram_id = json_extract(value, '$.telegram_id')))"
        )
    ),
    concat!(
        "INSERT INTO loyalty_partners (telegram_id, name, category, status, earn_rate_bps, max_redeem_share_bps, ",
        "daily_credit_limit, language, created_at) SELECT json_extract(value, '$.telegram_id'), ",
        "json_extract(value, '$.name'), json_extract(value, '$.category'), json_extract(value, '$.status'), ",
        "json_extract(value, '$.terms.earn_rate_bps'), json_extract(value, '$.terms.max_redeem_share_bps'), ",
        "json_extract(value, '$.terms.daily_credit_limit'), json_extract(value, '$.language'), ",
        "json_extract(value, '$.created_at') FROM json_each(?1, '$.partners') WHERE ",
        live!(),
        " AND NOT EXISTS (SELECT 1 FROM loyalty_partners p WHERE p.telegram_id = json_extract(value, '$.telegram_id')) ",
        "ORDER BY key"
    ),
    set!("cid", concat!("(SELECT count(*) FROM ", batch_customers!(), " WHERE ", new_customer!(), ")")),
    concat!(
        "INSERT INTO loyalty_customers (telegram_id, code, first_name, username, language, created_at) SELECT ",
        "j.telegram_id",
        ", ",
        cust!("code"),
        ", ",
        cust!("first_name"),
        ", ",
        cust!("username"),
        ", ",
        cust!("language"),
        ", ",
        cust!("created_at"),
        " FROM ",
        batch_customers!(),
        " WHERE ",
        live!(),
        " AND ",
        new_customer!(),
        " ORDER BY j.key"
    ),
    concat!(
        "INSERT INTO loyalty_imports (source, telegram_id, customer, balance, referral_code, birthday, imported_at) ",
        "SELECT ",
        arg!("$.source"),
        ", c.telegram_id, c.id, ",
        cust!("balance"),
        ", ",
        cust!("referral_code"),
        ", ",
        cust!("birthday"),
        ", ",
        arg!("$.now"),
        " FROM ",
        batch_customers!(),
        " JOIN loyalty_customers c ON c.telegram_id = ",
        "j.telegram_id",
        " WHERE ",
        live!(),
        " AND c.id > ",
        op!("rid")
    ),
    concat!(
        "UPDATE loyalty_customers AS c SET referrer = r.id FROM ",
        batch_customers!(),
        " JOIN loyalty_customers r ON r.telegram_id = ",
        cust!("referrer"),
        " WHERE ",
        live!(),
        " AND c.id > ",
        op!("rid"),
        " AND c.telegram_id = ",
        "j.telegram_id",
        " AND r.id <> c.id"
    ),
    concat!(
        "INSERT INTO loyalty_entries (rules_version, customer, kind, amount, idempotency_key, author_type, ",
        "created_at) SELECT ",
        rules_version!(),
        ", c.id, 'import', ",
        cust!("balance"),
        ", 'import:' || ",
        arg!("$.source"),
        " || ':' || c.telegram_id, 'system', ",
        arg!("$.now"),
        " FROM ",
        batch_customers!(),
        " JOIN loyalty_customers c ON c.telegram_id = ",
        "j.telegram_id",
        " WHERE ",
        live!(),
        " AND c.id > ",
        op!("rid"),
        " AND ",
        cust!("balance"),
        " > 0 ORDER BY j.key"
    ),
    set!(
        "s",
        concat!(
            "(SELECT json_group_array(json(x)) FROM (SELECT json_object('telegram_id', c.telegram_id, 'change', ",
            change!(),
            ", 'balance', c.balance) AS x FROM ",
            imported_customers!(),
            " WHERE ",
            change!(),
            " <> 0 AND c.balance + ",
            change!(),
            " < 0 ORDER BY j.key))"
        )
    ),
    set!(
        "n",
        concat!(
            "(SELECT count(*) FROM ",
            imported_customers!(),
            " WHERE ",
            change!(),
            " <> 0 AND c.balance + ",
            change!(),
            " >= 0)"
        )
    ),
    concat!(
        "INSERT INTO loyalty_entries (rules_version, customer, kind, amount, idempotency_key, author_type, ",
        "created_at) SELECT ",
        rules_version!(),
        ", c.id, 'import', ",
        change!(),
        ", 'import:' || i.source || ':' || c.telegram_id || ':' || ",
        "(SELECT count(*) FROM loyalty_entries e WHERE e.customer = c.id AND e.kind = 'import'), 'system', ",
        arg!("$.now"),
        " FROM ",
        imported_customers!(),
        " WHERE ",
        live!(),
        " AND ",
        change!(),
        " <> 0 AND c.balance + ",
        change!(),
        " >= 0 ORDER BY j.key"
    ),
    concat!(
        "UPDATE loyalty_imports SET balance = (SELECT ",
        cust!("balance"),
        " FROM ",
        batch_customers!(),
        " WHERE j.telegram_id = loyalty_imports.telegram_id) WHERE ",
        live!(),
        " AND source = ",
        arg!("$.source"),
        " AND telegram_id IN (SELECT j.telegram_id FROM ",
        imported_customers!(),
        " WHERE i.balance <> ",
        cust!("balance"),
        ") AND telegram_id NOT IN (SELECT json_extract(value, '$.telegram_id') FROM json_each(",
        op!("s"),
        "))"
    ),
    set!(
        "m",
        concat!(
            "(SELECT count(*) FROM ",
            imported_customers!(),
            ", json_each(j.value, '$.history') h WHERE NOT EXISTS ",
            "(SELECT 1 FROM loyalty_entries e WHERE e.idempotency_key = ",
            history_key!(),
            "))"
        )
    ),
    concat!(
        "INSERT INTO loyalty_entries (rules_version, customer, kind, amount, partner, purchase, idempotency_key, ",
        "author_type, reason, created_at) SELECT ",
        rules_version!(),
        ", c.id, 'legacy', json_extract(h.value, '$.amount'), ",
        "(SELECT p.id FROM loyalty_partners p WHERE p.telegram_id = json_extract(h.value, '$.partner')), ",
        "json_extract(h.value, '$.purchase'), ",
        history_key!(),
        ", 'system', json_extract(h.value, '$.note'), json_extract(h.value, '$.at') FROM ",
        imported_customers!(),
        ", json_each(j.value, '$.history') h WHERE ",
        live!(),
        " AND NOT EXISTS (SELECT 1 FROM loyalty_entries e WHERE e.idempotency_key = ",
        history_key!(),
        ") ORDER BY j.key, h.key"
    ),
    answer!(concat!(
        "json_object('partners_created', ",
        op!("pid"),
        ", 'customers_created', ",
        op!("cid"),
        ", 'balances_changed', ",
        op!("n"),
        ", 'history_created', ",
        op!("m"),
        ", 'not_imported', (SELECT json_group_array(t) FROM (SELECT ",
        "j.telegram_id",
        " AS t FROM ",
        batch_customers!(),
        " WHERE NOT EXISTS (SELECT 1 FROM loyalty_imports i WHERE i.source = ",
        arg!("$.source"),
        " AND i.telegram_id = ",
        "j.telegram_id",
        ") ORDER BY j.key)), 'refused', json(",
        op!("s"),
        "), 'balances', (SELECT json_group_array(json(x)) FROM (SELECT json_object('telegram_id', c.telegram_id, ",
        "'balance', c.balance) AS x FROM ",
        batch_customers!(),
        " JOIN loyalty_customers c ON c.telegram_id = ",
        "j.telegram_id",
        " ORDER BY j.key)))"
    )),
    "DELETE FROM loyalty_import_rows",
];

// ------------------------------------------------------------ the rewards catalogue

/// The JSON of `Reward` for the row aliased `w`.
macro_rules! reward_json {
    () => {
        "json_object('id', w.id, 'partner', w.partner, 'partner_name', (SELECT name FROM loyalty_partners \
         WHERE id = w.partner), 'offer', json(w.offer), 'status', w.status, 'claimed', w.claimed, \
         'created_at', w.created_at)"
    };
}

/// The JSON of the reward with id `id` (NULL if none).
macro_rules! reward_now {
    ($id:expr) => {
        concat!("json((SELECT ", reward_json!(), " FROM loyalty_rewards w WHERE w.id = ", $id, "))")
    };
}

/// The JSON of `VoucherView` for the voucher row aliased `v`.
/// The JSON of `Voucher` for the row aliased `v`.
macro_rules! voucher_json {
    () => {
        concat!(
            "json_object('id', v.id, 'code', v.code, 'reward', v.reward, 'customer', v.customer, 'partner', ",
            "v.partner, 'points', v.points, 'status', v.status, 'entry', v.entry, 'refund', v.refund, ",
            "'created_at', v.created_at, 'closed_at', v.closed_at)"
        )
    };
}

macro_rules! voucher_view_of {
    ($replayed:literal) => {
        concat!(
            "json_object('voucher', ",
            voucher_json!(),
            ", 'reward', ",
            reward_now!("v.reward"),
            ", 'customer', ",
            customer_now!("v.customer"),
            ", 'partner', ",
            partner_now!("v.partner"),
            ", 'replayed', json('",
            $replayed,
            "'))"
        )
    };
}

/// The `VoucherView` of the voucher in `loyalty_op.rid`, as it is now.
macro_rules! voucher_view {
    ($replayed:literal) => {
        concat!("(SELECT ", voucher_view_of!($replayed), " FROM loyalty_vouchers v WHERE v.id = ", op!("rid"), ")")
    };
}

/// Refuses with `voucher_closed` unless the voucher in `loyalty_op.rid` is
/// issued and its payment not reversed (a reversed payment closes it as
/// cancelled).
macro_rules! reject_voucher_closed {
    () => {
        reject_with!(
            "(SELECT json_object('code', 'voucher_closed', 'status', iif(v.status = 'issued', 'cancelled', v.status)) \
             FROM loyalty_vouchers v WHERE v.id = loyalty_op.rid)",
            "NOT (SELECT v.status = 'issued' AND NOT EXISTS (SELECT 1 FROM loyalty_entries r WHERE r.reverses = v.entry) \
             FROM loyalty_vouchers v WHERE v.id = loyalty_op.rid)"
        )
    };
}

/// Answers the voucher in `loyalty_op.rid` as a replay when its status is `status`.
macro_rules! voucher_replay {
    ($status:literal) => {
        concat!(
            "UPDATE loyalty_op SET res = ",
            voucher_view!("true"),
            " WHERE (SELECT status FROM loyalty_vouchers WHERE id = ",
            op!("rid"),
            ") = '",
            $status,
            "' AND ",
            live!()
        )
    };
}

pub(super) const PUBLISH_REWARD: &[&str] = &[
    reject!("idempotency_conflict", reserved_key!()),
    set!("pid", partner_ref!("$.partner")),
    set!("ref", concat!("(SELECT id FROM loyalty_rewards WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")),
    reject!(
        "idempotency_conflict",
        concat!(
            op!("ref"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_op o CROSS JOIN loyalty_rewards w ",
            "WHERE w.id = o.ref AND w.partner IS o.pid AND w.offer = json(",
            arg!("$.offer"),
            "))"
        )
    ),
    answer!(reward_now!(op!("ref"))),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    concat!(
        "INSERT INTO loyalty_rewards (partner, offer, category, price, stock, available_from, available_until, ",
        "status, idempotency_key, created_at) SELECT pid, json(",
        arg!("$.offer"),
        "), ",
        arg!("$.offer.category"),
        ", ",
        arg!("$.offer.price"),
        ", ",
        arg!("$.offer.stock"),
        ", ",
        arg!("$.offer.available_from"),
        ", ",
        arg!("$.offer.available_until"),
        ", iif(coalesce(json_extract(",
        rules_doc!(),
        ", '$.rewards.moderation'), 'approval') = 'open', 'active', 'pending'), ",
        arg!("$.idempotency_key"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE ",
        live!()
    ),
    answer!(reward_now!(concat!(
        "(SELECT id FROM loyalty_rewards WHERE idempotency_key = ",
        arg!("$.idempotency_key"),
        ")"
    ))),
];

pub(super) const DECIDE_REWARD: &[&str] = &[
    campaign_partner!()[0],
    campaign_partner!()[1],
    campaign_partner!()[2],
    set!(
        "ref",
        concat!(
            "(SELECT w.id FROM loyalty_rewards w WHERE w.id = ",
            arg!("$.reward"),
            " AND (",
            op!("pid"),
            " IS NULL OR w.partner = ",
            op!("pid"),
            "))"
        )
    ),
    reject!("unknown_reward", op!("ref IS NULL")),
    reject_with!(
        "(SELECT json_object('code', 'reward_closed', 'status', w.status) FROM loyalty_rewards w \
         WHERE w.id = loyalty_op.ref)",
        concat!(
            "NOT (SELECT CASE ",
            arg!("$.decision"),
            " WHEN 'withdraw' THEN w.status IN ('pending', 'active') ",
            "ELSE w.status = 'pending' AND loyalty_op.pid IS NULL END FROM loyalty_rewards w WHERE w.id = loyalty_op.ref)"
        )
    ),
    concat!(
        "UPDATE loyalty_rewards SET status = CASE ",
        arg!("$.decision"),
        " WHEN 'approve' THEN 'active' WHEN 'reject' THEN 'rejected' ELSE 'withdrawn' END WHERE id = ",
        op!("ref"),
        " AND ",
        live!()
    ),
    answer!(concat!(
        "json_object('reward', ",
        reward_now!(op!("ref")),
        ", 'partner', ",
        partner_now!(concat!("(SELECT partner FROM loyalty_rewards WHERE id = ", op!("ref"), ")")),
        ")"
    )),
];

pub(super) const REWARDS: &[&str] = &[
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 50, 0)")),
    set!("pid", partner_ref!("$.partner")),
    reject!("unknown_partner", concat!(arg!("$.partner"), " IS NOT NULL AND ", op!("pid"), " IS NULL")),
    // By id after the cursor; `claimable_at` keeps what a customer may claim then (`Reward::claimable`).
    answer!(concat!(
        "(SELECT json_group_array(json(j) ORDER BY id) FROM (SELECT w.id, ",
        reward_json!(),
        " AS j FROM loyalty_rewards w JOIN loyalty_partners p ON p.id = w.partner WHERE w.id > coalesce(",
        arg!("$.after"),
        ", 0) AND (",
        arg!("$.partner"),
        " IS NULL OR w.partner = ",
        op!("pid"),
        ") AND (",
        arg!("$.category"),
        " IS NULL OR w.category = ",
        arg!("$.category"),
        ") AND (",
        arg!("$.status"),
        " IS NULL OR w.status = ",
        arg!("$.status"),
        ") AND (",
        arg!("$.claimable_at"),
        " IS NULL OR (w.status = 'active' AND p.status = 'approved' AND coalesce(w.available_from <= ",
        arg!("$.claimable_at"),
        ", 1) AND coalesce(",
        arg!("$.claimable_at"),
        " < w.available_until, 1) AND (w.stock IS NULL OR w.claimed < w.stock))) ORDER BY w.id LIMIT ",
        arg!("$.limit"),
        "))"
    )),
];

pub(super) const CLAIM_REWARD: &[&str] = &[
    reject!("idempotency_conflict", reserved_key!()),
    set!("cid", customer_ref!("$.customer")),
    set!("eid", concat!("(SELECT id FROM loyalty_entries WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")),
    set!("rid", concat!("(SELECT id FROM loyalty_vouchers WHERE entry = ", op!("eid"), ")")),
    reject!(
        "idempotency_conflict",
        concat!(
            op!("eid"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_op o CROSS JOIN loyalty_vouchers v ",
            "WHERE v.id = o.rid AND v.customer IS o.cid AND v.reward = ",
            arg!("$.reward"),
            ")"
        )
    ),
    answer!(voucher_view!("true")),
    reject!("unknown_customer", op!("cid IS NULL")),
    reject!("customer_blocked", concat!("(SELECT blocked FROM loyalty_customers WHERE id = ", op!("cid"), ")")),
    set!("ref", concat!("(SELECT id FROM loyalty_rewards WHERE id = ", arg!("$.reward"), ")")),
    reject!("unknown_reward", op!("ref IS NULL")),
    reject!(
        "reward_unavailable",
        concat!(
            "NOT (SELECT w.status = 'active' AND p.status = 'approved' AND coalesce(w.available_from <= ",
            arg!("$.now"),
            ", 1) AND coalesce(",
            arg!("$.now"),
            " < w.available_until, 1) FROM loyalty_rewards w JOIN loyalty_partners p ON p.id = w.partner ",
            "WHERE w.id = ",
            op!("ref"),
            ")"
        )
    ),
    reject!(
        "out_of_stock",
        concat!("(SELECT stock IS NOT NULL AND claimed >= stock FROM loyalty_rewards WHERE id = ", op!("ref"), ")")
    ),
    reject!("code_taken", concat!("EXISTS (SELECT 1 FROM loyalty_vouchers WHERE code = ", arg!("$.code"), ")")),
    set!("n", concat!("(SELECT price FROM loyalty_rewards WHERE id = ", op!("ref"), ")")),
    set!("pid", concat!("(SELECT partner FROM loyalty_rewards WHERE id = ", op!("ref"), ")")),
    balance_rules!("loyalty_op.cid", "-loyalty_op.n")[0],
    append!(
        "cid",
        "redemption",
        "-n",
        "pid",
        "NULL",
        arg!("$.idempotency_key"),
        "customer",
        "cid",
        "NULL",
        "NULL",
        "1"
    ),
    set!("eid", concat!("(SELECT id FROM loyalty_entries WHERE idempotency_key = ", arg!("$.idempotency_key"), ")")),
    concat!("UPDATE loyalty_rewards SET claimed = claimed + 1 WHERE id = ", op!("ref"), " AND ", live!()),
    concat!(
        "INSERT INTO loyalty_vouchers (code, reward, customer, partner, points, status, entry, created_at) SELECT ",
        arg!("$.code"),
        ", ref, cid, pid, n, 'issued', eid, ",
        arg!("$.now"),
        " FROM loyalty_op WHERE ",
        live!()
    ),
    set!("rid", concat!("(SELECT id FROM loyalty_vouchers WHERE entry = ", op!("eid"), ")")),
    answer!(voucher_view!("false")),
];

pub(super) const USE_VOUCHER: &[&str] = &[
    set!("pid", till_ref!("$.partner")),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    set!(
        "rid",
        concat!("(SELECT id FROM loyalty_vouchers WHERE code = ", arg!("$.code"), " AND partner = ", op!("pid"), ")")
    ),
    reject!("unknown_voucher", op!("rid IS NULL")),
    voucher_replay!("used"),
    reject_voucher_closed!(),
    concat!(
        "UPDATE loyalty_vouchers SET status = 'used', closed_at = ",
        arg!("$.now"),
        " WHERE id = ",
        op!("rid"),
        " AND ",
        live!()
    ),
    answer!(voucher_view!("false")),
];

pub(super) const CANCEL_VOUCHER: &[&str] = &[
    set!("cid", customer_ref!("$.customer")),
    reject!("unknown_customer", op!("cid IS NULL")),
    set!(
        "rid",
        concat!("(SELECT id FROM loyalty_vouchers WHERE id = ", arg!("$.voucher"), " AND customer = ", op!("cid"), ")")
    ),
    reject!("unknown_voucher", op!("rid IS NULL")),
    voucher_replay!("cancelled"),
    reject_voucher_closed!(),
    set!("n", concat!("(SELECT points FROM loyalty_vouchers WHERE id = ", op!("rid"), ")")),
    set!("pid", concat!("(SELECT partner FROM loyalty_vouchers WHERE id = ", op!("rid"), ")")),
    set!("eid", concat!("(SELECT entry FROM loyalty_vouchers WHERE id = ", op!("rid"), ")")),
    set!("ref", concat!("(SELECT reward FROM loyalty_vouchers WHERE id = ", op!("rid"), ")")),
    balance_rules!("loyalty_op.cid", "loyalty_op.n")[1],
    append!(
        "cid",
        "reversal",
        "n",
        "pid",
        "NULL",
        "'redemption:voucher:' || rid",
        "customer",
        "cid",
        "eid",
        "NULL",
        "1"
    ),
    concat!("UPDATE loyalty_rewards SET claimed = claimed - 1 WHERE id = ", op!("ref"), " AND ", live!()),
    concat!(
        "UPDATE loyalty_vouchers SET status = 'cancelled', closed_at = ",
        arg!("$.now"),
        ", refund = (SELECT id FROM loyalty_entries WHERE idempotency_key = 'redemption:voucher:' || ",
        "loyalty_vouchers.id) WHERE id = ",
        op!("rid"),
        " AND ",
        live!()
    ),
    answer!(voucher_view!("false")),
];

pub(super) const VOUCHERS: &[&str] = &[
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 50, 0)")),
    set!("cid", customer_ref!("$.customer")),
    reject!("unknown_customer", op!("cid IS NULL")),
    answer!(concat!(
        "(SELECT json_group_array(json(j) ORDER BY id DESC) FROM (SELECT v.id, ",
        voucher_view_of!("false"),
        " AS j FROM loyalty_vouchers v WHERE v.customer = ",
        op!("cid"),
        " AND (",
        arg!("$.status"),
        " IS NULL OR v.status = ",
        arg!("$.status"),
        ") ORDER BY v.id DESC LIMIT ",
        arg!("$.limit"),
        "))"
    )),
];

pub(super) const PARTNER_ENTRIES: &[&str] = &[
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 100, 0)")),
    set!("pid", partner_ref!("$.partner")),
    reject!("unknown_partner", op!("pid IS NULL")),
    answer!(concat!(
        "(SELECT json_group_array(json(j) ORDER BY i DESC) FROM (SELECT e.id AS i, ",
        entry_json!(),
        " AS j FROM loyalty_entries e WHERE e.partner = ",
        op!("pid"),
        " AND e.id < coalesce(",
        arg!("$.before"),
        ", 9223372036854775807) ORDER BY e.id DESC LIMIT ",
        arg!("$.limit"),
        "))"
    )),
];

/// One table's page of an export (`ExportRows`, tagged by the table), or
/// nothing when the request names another table; `$row` is the table's alias.
macro_rules! export_rows {
    ($table:literal, $json:expr, $row:literal) => {
        answer!(concat!(
            "iif(",
            arg!("$.table"),
            " = '",
            $table,
            "', (SELECT json_object('",
            $table,
            "', json(coalesce(json_group_array(json(j) ORDER BY i), '[]'))) FROM (SELECT ",
            $row,
            ".id AS i, ",
            $json,
            " AS j FROM loyalty_",
            $table,
            " ",
            $row,
            " WHERE ",
            $row,
            ".id > ",
            arg!("$.after"),
            " ORDER BY ",
            $row,
            ".id LIMIT ",
            arg!("$.limit"),
            ")), NULL)"
        ))
    };
}

pub(super) const EXPORT_PAGE: &[&str] = &[
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 1000, 0)")),
    export_rows!("customers", customer_json!(), "c"),
    export_rows!("partners", partner_json!(), "p"),
    export_rows!("entries", entry_json!(), "e"),
];

pub(super) const PERSONAL_DATA: &[&str] = &[
    set!("cid", customer_ref!("$.who")),
    answer!(concat!(
        "coalesce((SELECT json_object('customer', ",
        customer_json!(),
        ", 'birthday', json((SELECT json_object('month', b.month, 'day', b.day) FROM loyalty_birthdays b ",
        "WHERE b.customer = c.id)), 'entries', json((SELECT coalesce(json_group_array(json(j) ORDER BY i), '[]') ",
        "FROM (SELECT e.id AS i, ",
        entry_json!(),
        " AS j FROM loyalty_entries e WHERE e.customer = c.id))), 'vouchers', json((SELECT ",
        "coalesce(json_group_array(json(j) ORDER BY i), '[]') FROM (SELECT v.id AS i, ",
        voucher_json!(),
        " AS j FROM loyalty_vouchers v WHERE v.customer = c.id)))) FROM loyalty_customers c WHERE c.id = ",
        op!("cid"),
        "), 'null')"
    )),
];

/// The answer of `erase_customer` for the customer in `loyalty_op.cid`.
macro_rules! erased {
    ($replayed:literal) => {
        concat!("json_object('customer', ", customer_now!(op!("cid")), ", 'replayed', json('", $replayed, "'))")
    };
}

pub(super) const ERASE_CUSTOMER: &[&str] = &[
    set!("cid", customer_ref!("$.who")),
    reject!("unknown_customer", op!("cid IS NULL")),
    concat!(
        "UPDATE loyalty_op SET res = ",
        erased!("true"),
        " WHERE (SELECT telegram_id < 0 FROM loyalty_customers WHERE id = ",
        op!("cid"),
        ") AND ",
        live!()
    ),
    set!("m", concat!("(SELECT telegram_id FROM loyalty_customers WHERE id = ", op!("cid"), ")")),
    concat!(
        "UPDATE loyalty_customers SET telegram_id = -id, first_name = '', username = NULL, blocked = 1 WHERE id = ",
        op!("cid"),
        " AND ",
        live!()
    ),
    concat!("DELETE FROM loyalty_birthdays WHERE customer = ", op!("cid"), " AND ", live!()),
    concat!(
        "UPDATE loyalty_imports SET telegram_id = -customer, birthday = NULL WHERE customer = ",
        op!("cid"),
        " AND ",
        live!()
    ),
    concat!(
        "UPDATE loyalty_redemptions SET status = 'declined' WHERE customer = ",
        op!("cid"),
        " AND status = 'pending' AND ",
        live!()
    ),
    concat!("DELETE FROM loyalty_outbox WHERE chat = ", op!("m"), " AND state = 'pending' AND ", live!()),
    concat!(
        "INSERT INTO loyalty_audit_log (admin, action, customer, at) SELECT ",
        arg!("$.admin"),
        ", 'erased', cid, ",
        arg!("$.now"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(erased!("false")),
];

pub(super) const AUDIT_LOG: &[&str] = &[
    reject!("invalid_amount", concat!("NOT coalesce(", arg!("$.limit"), " BETWEEN 1 AND 100, 0)")),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(j) ORDER BY i DESC), '[]') FROM (SELECT a.id AS i, ",
        "json_object('id', a.id, 'admin', a.admin, 'action', json(CASE a.action ",
        "WHEN 'adjusted' THEN json_object('action', 'adjusted', 'customer', a.customer, 'entry', a.entry, ",
        "'amount', a.amount, 'reason', a.reason) ",
        "WHEN 'blocked' THEN json_object('action', 'blocked', 'customer', a.customer, 'blocked', ",
        boolean!("a.blocked"),
        ") WHEN 'partner_decided' THEN json_object('action', 'partner_decided', 'partner', a.partner, ",
        "'decision', a.decision, 'status', a.status) ",
        "ELSE json_object('action', a.action, 'customer', a.customer) END), 'at', a.at) AS j ",
        "FROM loyalty_audit_log a WHERE a.id < coalesce(",
        arg!("$.before"),
        ", 9223372036854775807) ORDER BY a.id DESC LIMIT ",
        arg!("$.limit"),
        "))"
    )),
];

pub(super) const SET_STAMP_CARD: &[&str] = &[
    reject_with!(
        "json_object('code', 'invalid_stamp_card', 'reason', 'a card needs 2 to 50 stamps and a reward of 1 to 100 \
         characters, without surrounding spaces')",
        concat!(
            arg!("$.needed"),
            " <> 0 AND (",
            arg!("$.needed"),
            " NOT BETWEEN 2 AND 50 OR length(",
            arg!("$.reward"),
            ") NOT BETWEEN 1 AND 100 OR ",
            rust_trim!(arg!("$.reward")),
            " IS NOT ",
            arg!("$.reward"),
            ")"
        )
    ),
    set!("pid", partner_ref!("$.partner")),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    concat!(
        "DELETE FROM loyalty_stamp_cards WHERE partner = ",
        op!("pid"),
        " AND ",
        arg!("$.needed"),
        " = 0 AND ",
        live!()
    ),
    concat!("UPDATE loyalty_op SET res = 'null' WHERE ", arg!("$.needed"), " = 0 AND ", live!()),
    concat!(
        "INSERT INTO loyalty_stamp_cards (partner, needed, reward, updated_at) SELECT pid, ",
        arg!("$.needed"),
        ", ",
        arg!("$.reward"),
        ", ",
        arg!("$.now"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL ON CONFLICT (partner) DO UPDATE SET ",
        "needed = excluded.needed, reward = excluded.reward, updated_at = excluded.updated_at"
    ),
    answer!(concat!("(SELECT ", stamp_card_json!(), " FROM loyalty_stamp_cards k WHERE k.partner = ", op!("pid"), ")")),
];

/// The answer of `add_stamp` for the stamp in `loyalty_op` (`pid`, `cid`),
/// `$completed` whether it filled the card.
macro_rules! stamped {
    ($completed:expr, $replayed:literal) => {
        concat!(
            "json_object('progress', (SELECT ",
            stamp_progress_json!(op!("cid")),
            stamp_cards_from!(op!("cid")),
            " WHERE k.partner = ",
            op!("pid"),
            "), 'completed', ",
            boolean!($completed),
            ", 'customer', ",
            customer_now!(op!("cid")),
            ", 'replayed', json('",
            $replayed,
            "'))"
        )
    };
}

pub(super) const ADD_STAMP: &[&str] = &[
    set!("pid", till_ref!("$.partner")),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    reject!(
        "no_stamp_card",
        concat!("NOT EXISTS (SELECT 1 FROM loyalty_stamp_cards WHERE partner = ", op!("pid"), ")")
    ),
    set!("cid", customer_ref!("$.customer")),
    reject!("unknown_customer", op!("cid IS NULL")),
    reject!("customer_blocked", concat!("(SELECT blocked FROM loyalty_customers WHERE id = ", op!("cid"), ")")),
    reject!(
        "idempotency_conflict",
        concat!(
            "EXISTS (SELECT 1 FROM loyalty_stamp_visits v WHERE v.idempotency_key = ",
            arg!("$.idempotency_key"),
            " AND (v.partner IS NOT ",
            op!("pid"),
            " OR v.customer IS NOT ",
            op!("cid"),
            "))"
        )
    ),
    concat!(
        "UPDATE loyalty_op SET res = ",
        stamped!(
            concat!(
                "(SELECT v.completed FROM loyalty_stamp_visits v WHERE v.idempotency_key = ",
                arg!("$.idempotency_key"),
                ")"
            ),
            "true"
        ),
        " WHERE EXISTS (SELECT 1 FROM loyalty_stamp_visits v WHERE v.idempotency_key = ",
        arg!("$.idempotency_key"),
        ") AND ",
        live!()
    ),
    // `n`: this stamp fills the card.
    set!(
        "n",
        concat!(
            "coalesce((SELECT stamps FROM loyalty_stamps WHERE partner = ",
            op!("pid"),
            " AND customer = ",
            op!("cid"),
            "), 0) + 1 >= (SELECT needed FROM loyalty_stamp_cards WHERE partner = ",
            op!("pid"),
            ")"
        )
    ),
    concat!(
        "INSERT INTO loyalty_stamps (partner, customer, stamps, completed) SELECT pid, cid, iif(n, 0, 1), iif(n, 1, 0) ",
        "FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL ON CONFLICT (partner, customer) DO UPDATE ",
        "SET stamps = iif(",
        op!("n"),
        ", 0, stamps + 1), completed = completed + iif(",
        op!("n"),
        ", 1, 0)"
    ),
    concat!(
        "INSERT INTO loyalty_stamp_visits (idempotency_key, partner, customer, completed, created_at) SELECT ",
        arg!("$.idempotency_key"),
        ", pid, cid, n, ",
        arg!("$.now"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(stamped!(op!("n"), "false")),
];

pub(super) const STAMP_CARDS: &[&str] = &[
    set!("cid", customer_ref!("$.who")),
    reject!("unknown_customer", op!("cid IS NULL")),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(j) ORDER BY i), '[]') FROM (SELECT k.partner AS i, ",
        stamp_progress_json!(op!("cid")),
        " AS j",
        stamp_cards_from!(op!("cid")),
        " WHERE p.status = 'approved' ORDER BY k.partner LIMIT 50))"
    )),
];

/// The staff row in `loyalty_op.rid` and its partner, `replayed` or not.
macro_rules! staff_answer {
    ($replayed:literal) => {
        concat!(
            "json_object('staff', ",
            staff_now!(op!("rid")),
            ", 'partner', ",
            partner_now!(concat!("(SELECT partner FROM loyalty_staff WHERE id = ", op!("rid"), ")")),
            ", 'replayed', json('",
            $replayed,
            "'))"
        )
    };
}

pub(super) const INVITE_STAFF: &[&str] = &[
    set!("pid", partner_ref!("$.partner")),
    reject!("unknown_partner", op!("pid IS NULL")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    reject!(
        "invalid_invite",
        concat!("EXISTS (SELECT 1 FROM loyalty_staff WHERE token_sha256 = ", arg!("$.token_sha256_hex"), ")")
    ),
    reject_with!(
        "json_object('code', 'staff_limit', 'max', 20)",
        concat!(
            "(SELECT count(*) FROM loyalty_staff WHERE partner = ",
            op!("pid"),
            " AND revoked_at IS NULL AND (joined_at IS NOT NULL OR expires_at >= ",
            arg!("$.now"),
            ")) >= 20"
        )
    ),
    concat!(
        "INSERT INTO loyalty_staff (partner, token_sha256, name, invited_at, expires_at) SELECT pid, ",
        arg!("$.token_sha256_hex"),
        ", '', ",
        arg!("$.now"),
        ", ",
        arg!("$.expires_at"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    answer!(concat!(
        "(SELECT ",
        staff_json!(),
        " FROM loyalty_staff s WHERE s.token_sha256 = ",
        arg!("$.token_sha256_hex"),
        ")"
    )),
];

pub(super) const JOIN_STAFF: &[&str] = &[
    set!("rid", concat!("(SELECT id FROM loyalty_staff WHERE token_sha256 = ", arg!("$.token_sha256_hex"), ")")),
    reject!("invalid_invite", op!("rid IS NULL")),
    concat!(
        "UPDATE loyalty_op SET res = ",
        staff_answer!("true"),
        " WHERE (SELECT telegram_id = ",
        arg!("$.telegram_id"),
        " AND revoked_at IS NULL FROM loyalty_staff WHERE id = ",
        op!("rid"),
        ") AND ",
        live!()
    ),
    reject!(
        "invalid_invite",
        concat!(
            "(SELECT revoked_at IS NOT NULL OR telegram_id IS NOT NULL OR ",
            arg!("$.now"),
            " > expires_at FROM loyalty_staff WHERE id = ",
            op!("rid"),
            ")"
        )
    ),
    set!("pid", concat!("(SELECT partner FROM loyalty_staff WHERE id = ", op!("rid"), ")")),
    reject_unapproved!(concat!("(SELECT status FROM loyalty_partners WHERE id = ", op!("pid"), ")")),
    reject!(
        "already_partner",
        concat!("EXISTS (SELECT 1 FROM loyalty_partners WHERE telegram_id = ", arg!("$.telegram_id"), ")")
    ),
    reject!(
        "already_staff",
        concat!(
            "EXISTS (SELECT 1 FROM loyalty_staff WHERE telegram_id = ",
            arg!("$.telegram_id"),
            " AND revoked_at IS NULL)"
        )
    ),
    concat!(
        "UPDATE loyalty_staff SET telegram_id = ",
        arg!("$.telegram_id"),
        ", name = substr(",
        rust_trim!(arg!("$.name")),
        ", 1, 64), joined_at = ",
        arg!("$.now"),
        " WHERE id = ",
        op!("rid"),
        " AND ",
        live!()
    ),
    answer!(staff_answer!("false")),
];

pub(super) const STAFF: &[&str] = &[
    set!("pid", partner_ref!("$.who")),
    reject!("unknown_partner", op!("pid IS NULL")),
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(j) ORDER BY a DESC, i DESC), '[]') FROM (SELECT s.id AS i, ",
        "s.joined_at IS NOT NULL AND s.revoked_at IS NULL AS a, ",
        staff_json!(),
        " AS j FROM loyalty_staff s WHERE s.partner = ",
        op!("pid"),
        " ORDER BY a DESC, s.id DESC LIMIT 100))"
    )),
];

pub(super) const REVOKE_STAFF: &[&str] = &[
    set!("pid", partner_ref!("$.partner")),
    reject!("unknown_partner", op!("pid IS NULL")),
    set!(
        "rid",
        concat!("(SELECT id FROM loyalty_staff WHERE id = ", arg!("$.staff"), " AND partner = ", op!("pid"), ")")
    ),
    reject!("unknown_staff", op!("rid IS NULL")),
    concat!(
        "UPDATE loyalty_op SET res = ",
        staff_answer!("true"),
        " WHERE (SELECT revoked_at IS NOT NULL FROM loyalty_staff WHERE id = ",
        op!("rid"),
        ") AND ",
        live!()
    ),
    concat!("UPDATE loyalty_staff SET revoked_at = ", arg!("$.now"), " WHERE id = ", op!("rid"), " AND ", live!()),
    answer!(staff_answer!("false")),
];

/// The JSON of `Webhook` for the row aliased `w`.
macro_rules! webhook_json {
    () => {
        concat!(
            "json_object('id', w.id, 'partner', w.partner, 'url', w.url, 'events', json(w.events), 'secret', w.secret, ",
            "'created_at', w.created_at, 'removed_at', w.removed_at, 'last_attempt_at', w.last_attempt_at, ",
            "'last_status', w.last_status, 'last_error', w.last_error, 'last_success_at', w.last_success_at)"
        )
    };
}

/// The endpoint in `loyalty_op.rid`, as it is now.
macro_rules! webhook_now {
    () => {
        concat!("(SELECT ", webhook_json!(), " FROM loyalty_webhooks w WHERE w.id = ", op!("rid"), ")")
    };
}

/// Sets `pid` to the partner a `WebhookOwner` at `$.owner` names (NULL for
/// the program's) and refuses an owner naming no partner.
macro_rules! webhook_owner {
    () => {
        [
            set!(
                "pid",
                concat!("iif(", arg!("$.owner.kind"), " = 'partner', ", partner_ref!("$.owner.partner"), ", NULL)")
            ),
            reject!("unknown_partner", concat!(arg!("$.owner.kind"), " IS NOT 'program' AND ", op!("pid IS NULL"))),
        ]
    };
}

const WEBHOOK_OWNER: [&str; 2] = webhook_owner!();

/// The JSON of `WebhookAdded` for the endpoint in `loyalty_op.rid`.
macro_rules! webhook_added {
    ($replayed:literal) => {
        concat!("json_object('webhook', json(", webhook_now!(), "), 'replayed', json('", $replayed, "'))")
    };
}

pub(super) const ADD_WEBHOOK: &[&str] = &[
    WEBHOOK_OWNER[0],
    WEBHOOK_OWNER[1],
    // The owner's key (the program's scope is partner 0, as in the unique index).
    set!(
        "rid",
        concat!(
            "(SELECT id FROM loyalty_webhooks WHERE coalesce(partner, 0) = coalesce(",
            op!("pid"),
            ", 0) AND idempotency_key = ",
            arg!("$.idempotency_key"),
            ")"
        )
    ),
    // Used before: the same URL and the same events (as a set; neither list repeats one), or a conflict.
    reject!(
        "idempotency_conflict",
        concat!(
            op!("rid"),
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM loyalty_webhooks w WHERE w.id = ",
            op!("rid"),
            " AND w.url = ",
            arg!("$.url"),
            " AND json_array_length(w.events) = json_array_length(",
            arg!("$.events"),
            ") AND NOT EXISTS (SELECT 1 FROM json_each(?1, '$.events') e ",
            "WHERE e.value NOT IN (SELECT x.value FROM json_each(w.events) x)))"
        )
    ),
    concat!("UPDATE loyalty_op SET res = ", webhook_added!("true"), " WHERE rid IS NOT NULL AND ", live!()),
    reject_unapproved!(concat!(
        "iif(",
        op!("pid"),
        " IS NULL, 'approved', (SELECT status FROM loyalty_partners WHERE id = ",
        op!("pid"),
        "))"
    )),
    reject_with!(
        "json_object('code', 'webhook_limit', 'max', 10)",
        concat!(
            "(SELECT count(*) FROM loyalty_webhooks WHERE partner IS ",
            op!("pid"),
            " AND removed_at IS NULL) >= 10"
        )
    ),
    concat!(
        "INSERT INTO loyalty_webhooks (partner, url, events, secret, created_at, idempotency_key) SELECT pid, ",
        arg!("$.url"),
        ", json(",
        arg!("$.events"),
        "), ",
        arg!("$.secret"),
        ", ",
        arg!("$.now"),
        ", ",
        arg!("$.idempotency_key"),
        " FROM loyalty_op WHERE err IS NULL AND res IS NULL AND fault IS NULL"
    ),
    set!("rid", "(SELECT max(id) FROM loyalty_webhooks)"),
    answer!(webhook_added!("false")),
];

pub(super) const WEBHOOKS: &[&str] = &[
    WEBHOOK_OWNER[0],
    WEBHOOK_OWNER[1],
    answer!(concat!(
        "(SELECT coalesce(json_group_array(json(j) ORDER BY i DESC), '[]') FROM (SELECT w.id AS i, ",
        webhook_json!(),
        " AS j FROM loyalty_webhooks w WHERE w.partner IS ",
        op!("pid"),
        " AND w.removed_at IS NULL))"
    )),
];

pub(super) const REMOVE_WEBHOOK: &[&str] = &[
    WEBHOOK_OWNER[0],
    WEBHOOK_OWNER[1],
    set!(
        "rid",
        concat!("(SELECT id FROM loyalty_webhooks WHERE id = ", arg!("$.id"), " AND partner IS ", op!("pid"), ")")
    ),
    reject!("unknown_webhook", op!("rid IS NULL")),
    concat!(
        "UPDATE loyalty_webhooks SET removed_at = coalesce(removed_at, ",
        arg!("$.now"),
        ") WHERE id = ",
        op!("rid"),
        " AND ",
        live!()
    ),
    answer!(webhook_now!()),
];

pub(super) const WEBHOOK_TARGETS: &[&str] = &[answer!(concat!(
    "(SELECT coalesce(json_group_array(json(j) ORDER BY i), '[]') FROM (SELECT w.id AS i, ",
    webhook_json!(),
    " AS j FROM loyalty_webhooks w WHERE w.partner IS NULL AND w.removed_at IS NULL AND EXISTS (SELECT 1 FROM ",
    "json_each(w.events) e WHERE e.value = ",
    arg!("$.event"),
    ") UNION ALL SELECT w.id AS i, ",
    webhook_json!(),
    " AS j FROM loyalty_webhooks w JOIN loyalty_partners p ON p.id = w.partner WHERE w.partner = ",
    arg!("$.partner"),
    " AND w.removed_at IS NULL AND p.status = 'approved' AND EXISTS (SELECT 1 FROM json_each(w.events) e ",
    "WHERE e.value = ",
    arg!("$.event"),
    ")))"
))];

pub(super) const RECORD_WEBHOOK: &[&str] = &[
    concat!(
        "UPDATE loyalty_webhooks SET last_attempt_at = ",
        arg!("$.at"),
        ", last_status = ",
        arg!("$.status"),
        ", last_error = substr(",
        arg!("$.error"),
        ", 1, 200), last_success_at = iif(",
        arg!("$.status"),
        " BETWEEN 200 AND 299, ",
        arg!("$.at"),
        ", last_success_at) WHERE id = ",
        arg!("$.id")
    ),
    answer!("'null'"),
];
