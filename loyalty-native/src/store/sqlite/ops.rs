//! The use cases, each run inside one SQLite transaction opened by the caller
//! (`BEGIN IMMEDIATE` for writers, a deferred read transaction for readers).
//!
//! The logic mirrors [`loyalty_core::MemoryStore`] step by step — same order of
//! checks, same replays, same rejections — so that the conformance suite holds
//! both to one contract. Reading, deciding and writing inside one transaction
//! is safe: the writer holds SQLite's write lock from `BEGIN IMMEDIATE` on.

use super::Fail;
use super::rows::{self, audit_cols, broadcast_cols, customer_cols, entry_cols, partner_cols, redemption_cols};
use loyalty_core::domain::*;
use loyalty_core::memory::AuditRecord;
use loyalty_core::ports::*;
use rusqlite::{Connection, OptionalExtension, Params, Row, params};
use std::collections::HashSet;

type Res<T> = Result<T, Fail>;

fn broken(what: &str) -> Fail {
    Fail::Backend(format!("sqlite store inconsistent: {what}"))
}

/// The first row of a query, converted, if any.
fn one<T>(c: &Connection, sql: &str, params: impl Params, f: impl FnOnce(&Row<'_>) -> Res<T>) -> Res<Option<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(f(row)?)),
        None => Ok(None),
    }
}

/// Every row of a query, converted.
fn all<T>(c: &Connection, sql: &str, params: impl Params, mut f: impl FnMut(&Row<'_>) -> Res<T>) -> Res<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// A single integer (`COUNT`, `EXISTS`, …).
fn int(c: &Connection, sql: &str, params: impl Params) -> Res<i64> {
    Ok(c.prepare_cached(sql)?.query_row(params, |r| r.get(0))?)
}

/// Whether SQLite refused a `SUM` because it overflowed 64 bits. The caller
/// then adds the values itself, saturating, as the in-memory store does.
fn is_overflow(e: &Fail) -> bool {
    matches!(e, Fail::Sql(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("integer overflow"))
}

fn saturating_sum(values: impl IntoIterator<Item = Points>) -> Points {
    values.into_iter().fold(0, |sum: Points, v| sum.saturating_add(v))
}

fn limit(n: u32) -> i64 {
    i64::from(n)
}

// ---------------------------------------------------------------------------
// Lookups

fn find_customer(c: &Connection, who: &CustomerRef) -> Res<Option<CustomerId>> {
    let id = match who {
        CustomerRef::Id(id) => {
            c.prepare_cached("SELECT id FROM customers WHERE id = ?1")?.query_row([id.0], |r| r.get(0))
        }
        CustomerRef::Telegram(t) => {
            c.prepare_cached("SELECT id FROM customers WHERE telegram_id = ?1")?.query_row([t.0], |r| r.get(0))
        }
        CustomerRef::Code(code) => {
            c.prepare_cached("SELECT id FROM customers WHERE code = ?1")?.query_row([code.as_str()], |r| r.get(0))
        }
    };
    Ok(id.optional()?.map(CustomerId))
}

fn customer_opt(c: &Connection, id: CustomerId) -> Res<Option<Customer>> {
    one(c, concat!("SELECT ", customer_cols!(), " FROM customers WHERE id = ?1"), [id.0], rows::customer)
}

fn customer_get(c: &Connection, id: CustomerId) -> Res<Customer> {
    customer_opt(c, id)?.ok_or_else(|| broken("missing customer"))
}

fn find_partner(c: &Connection, who: PartnerRef) -> Res<Option<PartnerId>> {
    let id = match who {
        PartnerRef::Id(id) => {
            c.prepare_cached("SELECT id FROM partners WHERE id = ?1")?.query_row([id.0], |r| r.get(0))
        }
        PartnerRef::Telegram(t) => {
            c.prepare_cached("SELECT id FROM partners WHERE telegram_id = ?1")?.query_row([t.0], |r| r.get(0))
        }
    };
    Ok(id.optional()?.map(PartnerId))
}

fn partner_opt(c: &Connection, id: PartnerId) -> Res<Option<Partner>> {
    one(c, concat!("SELECT ", partner_cols!(), " FROM partners WHERE id = ?1"), [id.0], rows::partner)
}

fn partner_get(c: &Connection, id: PartnerId) -> Res<Partner> {
    partner_opt(c, id)?.ok_or_else(|| broken("missing partner"))
}

/// The partner, which must exist and be approved.
fn approved_partner(c: &Connection, who: PartnerRef) -> Res<Partner> {
    let id = find_partner(c, who)?.ok_or(Rejection::UnknownPartner)?;
    let p = partner_get(c, id)?;
    if p.status != PartnerStatus::Approved {
        return Err(Rejection::PartnerNotApproved.into());
    }
    Ok(p)
}

/// The customer, which must exist and not be blocked.
fn active_customer(c: &Connection, who: &CustomerRef) -> Res<Customer> {
    let id = find_customer(c, who)?.ok_or(Rejection::UnknownCustomer)?;
    let customer = customer_get(c, id)?;
    if customer.blocked {
        return Err(Rejection::CustomerBlocked.into());
    }
    Ok(customer)
}

fn entry_opt(c: &Connection, id: EntryId) -> Res<Option<LedgerEntry>> {
    one(c, concat!("SELECT ", entry_cols!(), " FROM entries WHERE id = ?1"), [id.0], rows::entry)
}

fn entry_get(c: &Connection, id: EntryId) -> Res<LedgerEntry> {
    entry_opt(c, id)?.ok_or_else(|| broken("missing entry"))
}

/// The entry already recorded under a caller-supplied key, if any. Reserved
/// keys are refused outright, so callers cannot occupy them.
fn keyed_entry(c: &Connection, key: &str) -> Res<Option<LedgerEntry>> {
    if is_reserved_key(key) {
        return Err(Rejection::IdempotencyConflict.into());
    }
    one(c, concat!("SELECT ", entry_cols!(), " FROM entries WHERE idempotency_key = ?1"), [key], rows::entry)
}

fn is_reversed(c: &Connection, id: EntryId) -> Res<bool> {
    Ok(int(c, "SELECT EXISTS (SELECT 1 FROM entries WHERE reverses = ?1)", [id.0])? != 0)
}

fn redemption_opt(c: &Connection, id: RedemptionId) -> Res<Option<RedemptionRequest>> {
    one(c, concat!("SELECT ", redemption_cols!(), " FROM redemptions WHERE id = ?1"), [id.0], rows::redemption)
}

fn broadcast_get(c: &Connection, job: BroadcastId) -> Res<BroadcastJob> {
    one(c, concat!("SELECT ", broadcast_cols!(), " FROM broadcasts WHERE id = ?1"), [job.0], rows::broadcast)?
        .ok_or_else(|| Fail::Backend(format!("unknown broadcast job {job}")))
}

// ---------------------------------------------------------------------------
// Ledger

/// A ledger entry before the database assigns its id.
struct Draft {
    customer: CustomerId,
    kind: EntryKind,
    amount: Points,
    partner: Option<PartnerId>,
    purchase: Option<Points>,
    idempotency_key: String,
    author: Author,
    reverses: Option<EntryId>,
    reason: Option<String>,
    created_at: Timestamp,
}

/// The balance of `customer` after adding `amount`, if it stays in range.
fn balance_after(c: &Connection, customer: CustomerId, amount: Points) -> Res<Points> {
    let balance: Points = c
        .prepare_cached("SELECT balance FROM customers WHERE id = ?1")?
        .query_row([customer.0], |r| r.get(0))
        .optional()?
        .ok_or_else(|| broken("missing customer"))?;
    let after = balance.checked_add(amount).ok_or(Rejection::InvalidAmount)?;
    if after < 0 {
        return Err(Rejection::InsufficientBalance { balance, requested: amount.saturating_neg() }.into());
    }
    Ok(after)
}

/// Appends an entry; the `entries_apply` trigger moves the balance. Checks the
/// balance first, so a rule violation is a rejection rather than a failed
/// `CHECK`.
fn append(c: &Connection, d: Draft) -> Res<LedgerEntry> {
    balance_after(c, d.customer, d.amount)?;
    let (author_type, author_id) = rows::author_cols(d.author);
    c.prepare_cached(
        "INSERT INTO entries (customer, kind, amount, partner, purchase, idempotency_key, author_type, author_id, \
         reverses, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        d.customer.0,
        d.kind.as_str(),
        d.amount,
        d.partner.map(|p| p.0),
        d.purchase,
        d.idempotency_key,
        author_type,
        author_id,
        d.reverses.map(|e| e.0),
        d.reason,
        d.created_at.0,
    ])?;
    Ok(LedgerEntry {
        id: EntryId(c.last_insert_rowid()),
        customer: d.customer,
        kind: d.kind,
        amount: d.amount,
        partner: d.partner,
        purchase: d.purchase,
        idempotency_key: d.idempotency_key,
        author: d.author,
        reverses: d.reverses,
        reason: d.reason,
        created_at: d.created_at,
    })
}

/// The filter of a partner's unreversed accruals since a time.
macro_rules! credited_filter {
    () => {
        " FROM entries e WHERE e.partner = ?1 AND e.created_at >= ?2 AND e.kind = 'accrual' \
         AND NOT EXISTS (SELECT 1 FROM entries r WHERE r.reverses = e.id)"
    };
}

/// Sum of a partner's unreversed accruals since a time (`?1` partner, `?2` since).
const CREDITED_SUM: &str = concat!("SELECT COALESCE(SUM(e.amount), 0)", credited_filter!());
/// The same accruals one by one, for when [`CREDITED_SUM`] overflows.
const CREDITED_AMOUNTS: &str = concat!("SELECT e.amount", credited_filter!());

/// The columns [`period_stats`] folds.
macro_rules! stats_cols {
    () => {
        "SELECT e.customer, e.kind = 'accrual', e.amount, \
         EXISTS (SELECT 1 FROM entries r WHERE r.reverses = e.id) FROM entries e"
    };
}

/// A partner's accruals and redemptions since a time (`?1` partner, `?2` since).
const PARTNER_PERIOD: &str =
    concat!(stats_cols!(), " WHERE e.partner = ?1 AND e.created_at >= ?2 AND e.kind IN ('accrual', 'redemption')");
/// All accruals and redemptions since a time (`?1` since).
const PROGRAM_PERIOD: &str =
    concat!(stats_cols!(), " WHERE e.created_at >= ?1 AND e.kind IN ('accrual', 'redemption')");

/// Net accruals of `partner` created at or after `since`.
fn credited_since(c: &Connection, partner: PartnerId, since: Timestamp) -> Res<Points> {
    match int(c, CREDITED_SUM, params![partner.0, since.0]) {
        Err(e) if is_overflow(&e) => {
            let amounts = all(c, CREDITED_AMOUNTS, params![partner.0, since.0], |r| Ok(r.get(0)?))?;
            Ok(saturating_sum(amounts))
        }
        other => other,
    }
}

/// Figures of the accruals and redemptions created at or after `since`, of
/// one partner or of all.
fn period_stats(c: &Connection, partner: Option<PartnerId>, since: Timestamp) -> Res<PeriodStats> {
    let convert = |r: &Row<'_>| -> Res<(i64, bool, Points, bool)> { Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)) };
    let found = match partner {
        Some(p) => all(c, PARTNER_PERIOD, params![p.0, since.0], convert)?,
        None => all(c, PROGRAM_PERIOD, [since.0], convert)?,
    };
    let mut customers = HashSet::new();
    let mut stats = PeriodStats::default();
    for (customer, accrual, amount, reversed) in found {
        customers.insert(customer);
        if reversed {
            continue;
        }
        if accrual {
            stats.purchases += 1;
            stats.issued = stats.issued.saturating_add(amount);
        } else {
            stats.redeemed = stats.redeemed.saturating_sub(amount);
        }
    }
    stats.customers = customers.len() as u64;
    Ok(stats)
}

fn audit(c: &Connection, record: &AuditRecord) -> Res<()> {
    use loyalty_core::memory::AuditAction;
    let mut stmt = c.prepare_cached(concat!(
        "INSERT INTO audit_log (",
        audit_cols!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    let admin = record.admin.0;
    let at = record.at.0;
    match &record.action {
        AuditAction::Adjusted { customer, entry, amount, reason } => stmt.execute(params![
            admin,
            "adjusted",
            customer.0,
            None::<i64>,
            entry.0,
            amount,
            reason,
            None::<bool>,
            None::<&str>,
            None::<&str>,
            at
        ])?,
        AuditAction::Blocked { customer, blocked } => stmt.execute(params![
            admin,
            "blocked",
            customer.0,
            None::<i64>,
            None::<i64>,
            None::<i64>,
            None::<&str>,
            blocked,
            None::<&str>,
            None::<&str>,
            at
        ])?,
        AuditAction::PartnerDecided { partner, decision, status } => stmt.execute(params![
            admin,
            "partner_decided",
            None::<i64>,
            partner.0,
            None::<i64>,
            None::<i64>,
            None::<&str>,
            None::<bool>,
            rows::decision_str(*decision),
            status.as_str(),
            at
        ])?,
        other => return Err(Fail::Backend(format!("cannot store audit action {other:?}"))),
    };
    Ok(())
}

// ---------------------------------------------------------------------------
// Customers

/// A customer's newest entries (`?1` customer, `?2` limit).
const CUSTOMER_NEWEST: &str =
    concat!("SELECT ", entry_cols!(), " FROM entries WHERE customer = ?1 ORDER BY id DESC LIMIT ?2");
/// A customer's entries older than one (`?1` customer, `?2` entry id, `?3` limit).
const CUSTOMER_OLDER: &str =
    concat!("SELECT ", entry_cols!(), " FROM entries WHERE customer = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3");
/// Pending redemption requests past their expiry (`?1` now), found through
/// the partial index of pending requests (the caller sorts them by id).
const EXPIRED_PENDING: &str =
    concat!("SELECT ", redemption_cols!(), " FROM redemptions WHERE status = 'pending' AND expires_at < ?1");

pub(super) fn register_customer(c: &Connection, req: NewCustomer) -> Res<Registration> {
    let bonus_range = 0..=rules::MAX_ADJUSTMENT;
    if !bonus_range.contains(&req.welcome_bonus) || !bonus_range.contains(&req.referral_bonus) {
        return Err(Rejection::InvalidAmount.into());
    }
    if let Some(id) = find_customer(c, &CustomerRef::Telegram(req.telegram_id))? {
        let customer = customer_get(c, id)?;
        return Ok(Registration { customer, created: false, welcome: None, referral: None });
    }
    if find_customer(c, &CustomerRef::Code(req.code.clone()))?.is_some() {
        return Err(Rejection::CodeTaken.into());
    }
    let referrer = match req.referrer.as_ref().filter(|code| **code != req.code) {
        Some(code) => match find_customer(c, &CustomerRef::Code(code.clone()))? {
            Some(id) => Some(customer_get(c, id)?).filter(|r| !r.blocked).map(|r| r.id),
            None => None,
        },
        None => None,
    };
    if let Some(r) = referrer {
        // Checked before any change, so the call cannot fail half-way.
        balance_after(c, r, req.referral_bonus)?;
    }
    c.prepare_cached(
        "INSERT INTO customers (telegram_id, code, first_name, username, language, referrer, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        req.telegram_id.0,
        req.code.as_str(),
        req.first_name,
        req.username,
        req.language.code(),
        referrer.map(|r| r.0),
        req.now.0,
    ])?;
    let id = CustomerId(c.last_insert_rowid());
    let welcome = if req.welcome_bonus > 0 {
        Some(append(
            c,
            Draft {
                customer: id,
                kind: EntryKind::WelcomeBonus,
                amount: req.welcome_bonus,
                partner: None,
                purchase: None,
                idempotency_key: welcome_key(id),
                author: Author::System,
                reverses: None,
                reason: None,
                created_at: req.now,
            },
        )?)
    } else {
        None
    };
    let referral = match referrer {
        Some(r) if req.referral_bonus > 0 => {
            let entry = append(
                c,
                Draft {
                    customer: r,
                    kind: EntryKind::ReferralBonus,
                    amount: req.referral_bonus,
                    partner: None,
                    purchase: None,
                    idempotency_key: referral_key(id),
                    author: Author::System,
                    reverses: None,
                    reason: None,
                    created_at: req.now,
                },
            )?;
            Some((customer_get(c, r)?, entry))
        }
        _ => None,
    };
    Ok(Registration { customer: customer_get(c, id)?, created: true, welcome, referral })
}

pub(super) fn customer_summary(c: &Connection, who: &CustomerRef, recent: u32) -> Res<Option<CustomerSummary>> {
    let Some(id) = find_customer(c, who)? else {
        return Ok(None);
    };
    let customer = customer_get(c, id)?;
    let recent = all(c, CUSTOMER_NEWEST, params![id.0, limit(recent)], rows::entry)?;
    Ok(Some(CustomerSummary { customer, recent }))
}

pub(super) fn customer_entries(
    c: &Connection,
    customer: CustomerId,
    count: u32,
    before: Option<EntryId>,
) -> Res<Vec<LedgerEntry>> {
    match before {
        None => all(c, CUSTOMER_NEWEST, params![customer.0, limit(count)], rows::entry),
        Some(b) => all(c, CUSTOMER_OLDER, params![customer.0, b.0, limit(count)], rows::entry),
    }
}

pub(super) fn set_language(c: &Connection, who: &CustomerRef, language: Language) -> Res<Customer> {
    let id = find_customer(c, who)?.ok_or(Rejection::UnknownCustomer)?;
    c.prepare_cached("UPDATE customers SET language = ?2 WHERE id = ?1")?.execute(params![id.0, language.code()])?;
    customer_get(c, id)
}

pub(super) fn set_blocked(
    c: &Connection,
    who: &CustomerRef,
    blocked: bool,
    admin: TelegramUserId,
    now: Timestamp,
) -> Res<Customer> {
    use loyalty_core::memory::AuditAction;
    let id = find_customer(c, who)?.ok_or(Rejection::UnknownCustomer)?;
    let before = customer_get(c, id)?;
    if before.blocked == blocked {
        return Ok(before);
    }
    c.prepare_cached("UPDATE customers SET blocked = ?2 WHERE id = ?1")?.execute(params![id.0, blocked])?;
    audit(c, &AuditRecord { admin, action: AuditAction::Blocked { customer: id, blocked }, at: now })?;
    customer_get(c, id)
}

// ---------------------------------------------------------------------------
// Points

pub(super) fn credit_purchase(c: &Connection, req: CreditPurchase) -> Res<Credited> {
    if let Some(e) = keyed_entry(c, &req.idempotency_key)? {
        let partner = find_partner(c, req.partner)?;
        let customer = find_customer(c, &req.customer)?;
        let same = e.kind == EntryKind::Accrual
            && e.partner.is_some()
            && e.partner == partner
            && Some(e.customer) == customer
            && e.purchase == Some(req.purchase);
        if !same {
            return Err(Rejection::IdempotencyConflict.into());
        }
        let partner = partner_get(c, e.partner.ok_or_else(|| broken("accrual without partner"))?)?;
        return Ok(Credited { customer: customer_get(c, e.customer)?, partner, entry: e, replayed: true });
    }
    if !(1..=rules::MAX_PURCHASE).contains(&req.purchase) {
        return Err(Rejection::InvalidAmount.into());
    }
    let partner = approved_partner(c, req.partner)?;
    let customer = active_customer(c, &req.customer)?.id;
    let terms = partner.terms;
    let amount = rules::accrual(req.purchase, terms.earn_rate_bps);
    let used = credited_since(c, partner.id, req.day_start)?;
    if used.saturating_add(amount) > terms.daily_credit_limit {
        let remaining = terms.daily_credit_limit.saturating_sub(used).max(0);
        return Err(Rejection::DailyLimitExceeded { remaining }.into());
    }
    let entry = append(
        c,
        Draft {
            customer,
            kind: EntryKind::Accrual,
            amount,
            partner: Some(partner.id),
            purchase: Some(req.purchase),
            idempotency_key: req.idempotency_key,
            author: Author::Partner(partner.id),
            reverses: None,
            reason: None,
            created_at: req.now,
        },
    )?;
    Ok(Credited { entry, customer: customer_get(c, customer)?, partner, replayed: false })
}

fn redemption_view(c: &Connection, request: RedemptionRequest, replayed: bool) -> Res<RedemptionView> {
    let entry = match request.entry {
        Some(id) => Some(entry_get(c, id)?),
        None => None,
    };
    Ok(RedemptionView {
        customer: customer_get(c, request.customer)?,
        partner: partner_get(c, request.partner)?,
        request,
        entry,
        replayed,
    })
}

pub(super) fn open_redemption(c: &Connection, req: OpenRedemption) -> Res<RedemptionView> {
    let known = one(
        c,
        concat!("SELECT ", redemption_cols!(), " FROM redemptions WHERE idempotency_key = ?1"),
        [&req.idempotency_key],
        rows::redemption,
    )?;
    if let Some(r) = known {
        let same = Some(r.partner) == find_partner(c, req.partner)?
            && Some(r.customer) == find_customer(c, &req.customer)?
            && r.points == req.points
            && r.purchase == req.purchase;
        if !same {
            return Err(Rejection::IdempotencyConflict.into());
        }
        return redemption_view(c, r, true);
    }
    if req.points < 1 || !(1..=rules::MAX_PURCHASE).contains(&req.purchase) {
        return Err(Rejection::InvalidAmount.into());
    }
    let partner = approved_partner(c, req.partner)?;
    let customer = active_customer(c, &req.customer)?;
    let max = rules::max_redeemable(req.purchase, partner.terms.max_redeem_share_bps);
    if req.points > max {
        return Err(Rejection::ExceedsMaxShare { max }.into());
    }
    if req.points > customer.balance {
        return Err(Rejection::InsufficientBalance { balance: customer.balance, requested: req.points }.into());
    }
    c.prepare_cached(
        "INSERT INTO redemptions (customer, partner, points, purchase, status, created_at, expires_at, idempotency_key) \
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7)",
    )?
    .execute(params![
        customer.id.0,
        partner.id.0,
        req.points,
        req.purchase,
        req.now.0,
        req.expires_at.0,
        req.idempotency_key
    ])?;
    let request = RedemptionRequest {
        id: RedemptionId(c.last_insert_rowid()),
        customer: customer.id,
        partner: partner.id,
        points: req.points,
        purchase: req.purchase,
        status: RedemptionStatus::Pending,
        created_at: req.now,
        expires_at: req.expires_at,
        entry: None,
    };
    Ok(RedemptionView { request, customer, partner, entry: None, replayed: false })
}

/// Common first steps of answering a request: find it, check the customer,
/// and expire it if it is pending past `expires_at` (that change is kept:
/// [`Fail::Keep`]).
fn answerable(c: &Connection, req: &AnswerRedemption) -> Res<RedemptionRequest> {
    let request = redemption_opt(c, req.id)?.ok_or(Rejection::UnknownRedemption)?;
    let customer = find_customer(c, &req.customer)?.ok_or(Rejection::UnknownCustomer)?;
    if request.customer != customer {
        return Err(Rejection::NotYourRedemption.into());
    }
    if request.status == RedemptionStatus::Pending && req.now > request.expires_at {
        c.prepare_cached("UPDATE redemptions SET status = 'expired' WHERE id = ?1")?.execute([request.id.0])?;
        return Err(Fail::Keep(Rejection::RedemptionExpired));
    }
    Ok(request)
}

pub(super) fn confirm_redemption(c: &Connection, req: AnswerRedemption) -> Res<RedemptionView> {
    let mut request = answerable(c, &req)?;
    match request.status {
        RedemptionStatus::Confirmed => return redemption_view(c, request, true),
        RedemptionStatus::Pending => {}
        status => return Err(Rejection::RedemptionClosed { status }.into()),
    }
    let partner = partner_get(c, request.partner)?;
    if partner.status != PartnerStatus::Approved {
        return Err(Rejection::PartnerNotApproved.into());
    }
    active_customer(c, &CustomerRef::Id(request.customer))?;
    let entry = append(
        c,
        Draft {
            customer: request.customer,
            kind: EntryKind::Redemption,
            amount: request.points.saturating_neg(),
            partner: Some(request.partner),
            purchase: Some(request.purchase),
            idempotency_key: redemption_key(request.id),
            author: Author::Customer(request.customer),
            reverses: None,
            reason: None,
            created_at: req.now,
        },
    )?;
    c.prepare_cached("UPDATE redemptions SET status = 'confirmed', entry = ?2 WHERE id = ?1")?
        .execute(params![request.id.0, entry.id.0])?;
    request.status = RedemptionStatus::Confirmed;
    request.entry = Some(entry.id);
    Ok(RedemptionView {
        customer: customer_get(c, request.customer)?,
        partner,
        request,
        entry: Some(entry),
        replayed: false,
    })
}

pub(super) fn decline_redemption(c: &Connection, req: AnswerRedemption) -> Res<RedemptionView> {
    let mut request = answerable(c, &req)?;
    let replayed = match request.status {
        RedemptionStatus::Declined => true,
        RedemptionStatus::Pending => {
            c.prepare_cached("UPDATE redemptions SET status = 'declined' WHERE id = ?1")?.execute([request.id.0])?;
            request.status = RedemptionStatus::Declined;
            false
        }
        status => return Err(Rejection::RedemptionClosed { status }.into()),
    };
    redemption_view(c, request, replayed)
}

pub(super) fn expire_redemptions(c: &Connection, now: Timestamp) -> Res<Vec<RedemptionRequest>> {
    let mut expired = all(c, EXPIRED_PENDING, [now.0], rows::redemption)?;
    c.prepare_cached("UPDATE redemptions SET status = 'expired' WHERE status = 'pending' AND expires_at < ?1")?
        .execute([now.0])?;
    expired.sort_by_key(|r| r.id);
    for r in &mut expired {
        r.status = RedemptionStatus::Expired;
    }
    Ok(expired)
}

pub(super) fn reverse_entry(c: &Connection, req: ReverseEntry) -> Res<Reversed> {
    if let Some(e) = keyed_entry(c, &req.idempotency_key)? {
        let same = e.kind == EntryKind::Reversal
            && e.reverses == Some(req.entry)
            && e.partner.is_some()
            && e.partner == find_partner(c, req.partner)?;
        if !same {
            return Err(Rejection::IdempotencyConflict.into());
        }
        return Ok(Reversed {
            original: entry_get(c, req.entry)?,
            customer: customer_get(c, e.customer)?,
            reversal: e,
            replayed: true,
        });
    }
    let partner = approved_partner(c, req.partner)?.id;
    let original = match entry_opt(c, req.entry)? {
        Some(e) if e.partner == Some(partner) => e,
        _ => return Err(Rejection::UnknownEntry.into()),
    };
    if !matches!(original.kind, EntryKind::Accrual | EntryKind::Redemption) {
        return Err(Rejection::NotReversible.into());
    }
    if original.created_at < req.not_before {
        return Err(Rejection::ReversalWindowClosed.into());
    }
    if is_reversed(c, original.id)? {
        return Err(Rejection::AlreadyReversed.into());
    }
    let reversal = append(
        c,
        Draft {
            customer: original.customer,
            kind: EntryKind::Reversal,
            amount: original.amount.saturating_neg(),
            partner: Some(partner),
            purchase: None,
            idempotency_key: req.idempotency_key,
            author: Author::Partner(partner),
            reverses: Some(original.id),
            reason: None,
            created_at: req.now,
        },
    )?;
    Ok(Reversed { customer: customer_get(c, original.customer)?, original, reversal, replayed: false })
}

pub(super) fn adjust_balance(c: &Connection, req: AdjustBalance) -> Res<Adjusted> {
    use loyalty_core::memory::AuditAction;
    if let Some(e) = keyed_entry(c, &req.idempotency_key)? {
        let same = e.kind == EntryKind::Adjustment
            && Some(e.customer) == find_customer(c, &req.customer)?
            && e.amount == req.amount
            && e.reason.as_deref() == Some(req.reason.as_str())
            && e.author == Author::Admin(req.admin);
        if !same {
            return Err(Rejection::IdempotencyConflict.into());
        }
        return Ok(Adjusted { customer: customer_get(c, e.customer)?, entry: e, replayed: true });
    }
    if req.amount == 0 || req.amount.unsigned_abs() > rules::MAX_ADJUSTMENT.unsigned_abs() {
        return Err(Rejection::InvalidAmount.into());
    }
    let customer = find_customer(c, &req.customer)?.ok_or(Rejection::UnknownCustomer)?;
    let entry = append(
        c,
        Draft {
            customer,
            kind: EntryKind::Adjustment,
            amount: req.amount,
            partner: None,
            purchase: None,
            idempotency_key: req.idempotency_key,
            author: Author::Admin(req.admin),
            reverses: None,
            reason: Some(req.reason.clone()),
            created_at: req.now,
        },
    )?;
    audit(
        c,
        &AuditRecord {
            admin: req.admin,
            action: AuditAction::Adjusted { customer, entry: entry.id, amount: req.amount, reason: req.reason },
            at: req.now,
        },
    )?;
    Ok(Adjusted { customer: customer_get(c, customer)?, entry, replayed: false })
}

// ---------------------------------------------------------------------------
// Partners

pub(super) fn apply_partner(c: &Connection, req: PartnerApplication) -> Res<Applied> {
    if let Some(id) = find_partner(c, PartnerRef::Telegram(req.telegram_id))? {
        let partner = partner_get(c, id)?;
        return match partner.status {
            PartnerStatus::Applied => Ok(Applied { partner, created: false }),
            PartnerStatus::Approved | PartnerStatus::Suspended => Err(Rejection::AlreadyPartner.into()),
            PartnerStatus::Rejected => {
                c.prepare_cached(
                    "UPDATE partners SET status = 'applied', name = ?2, category = ?3, earn_rate_bps = ?4, \
                     max_redeem_share_bps = ?5, daily_credit_limit = ?6, language = ?7, created_at = ?8 WHERE id = ?1",
                )?
                .execute(params![
                    id.0,
                    req.name,
                    req.category,
                    req.terms.earn_rate_bps,
                    req.terms.max_redeem_share_bps,
                    req.terms.daily_credit_limit,
                    req.language.code(),
                    req.now.0,
                ])?;
                Ok(Applied { partner: partner_get(c, id)?, created: true })
            }
        };
    }
    c.prepare_cached(
        "INSERT INTO partners (telegram_id, name, category, status, earn_rate_bps, max_redeem_share_bps, \
         daily_credit_limit, language, created_at) VALUES (?1, ?2, ?3, 'applied', ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        req.telegram_id.0,
        req.name,
        req.category,
        req.terms.earn_rate_bps,
        req.terms.max_redeem_share_bps,
        req.terms.daily_credit_limit,
        req.language.code(),
        req.now.0,
    ])?;
    Ok(Applied { partner: partner_get(c, PartnerId(c.last_insert_rowid()))?, created: true })
}

pub(super) fn decide_partner(
    c: &Connection,
    id: PartnerId,
    decision: PartnerDecision,
    admin: TelegramUserId,
    now: Timestamp,
) -> Res<Decided> {
    use PartnerStatus::*;
    use loyalty_core::memory::AuditAction;
    let partner = partner_opt(c, id)?.ok_or(Rejection::UnknownPartner)?;
    let from = partner.status;
    let to = match (decision, from) {
        (PartnerDecision::Approve, Approved | Applied | Suspended) => Approved,
        (PartnerDecision::Reject, Rejected | Applied) => Rejected,
        (PartnerDecision::Suspend, Suspended | Approved) => Suspended,
        _ => return Err(Rejection::InvalidTransition.into()),
    };
    if from == to {
        return Ok(Decided { partner, changed: false });
    }
    c.prepare_cached("UPDATE partners SET status = ?2 WHERE id = ?1")?.execute(params![id.0, to.as_str()])?;
    audit(
        c,
        &AuditRecord { admin, action: AuditAction::PartnerDecided { partner: id, decision, status: to }, at: now },
    )?;
    Ok(Decided { partner: partner_get(c, id)?, changed: true })
}

pub(super) fn partner(c: &Connection, who: PartnerRef) -> Res<Option<Partner>> {
    match find_partner(c, who)? {
        Some(id) => partner_opt(c, id),
        None => Ok(None),
    }
}

pub(super) fn list_partners(c: &Connection, status: Option<PartnerStatus>) -> Res<Vec<Partner>> {
    match status {
        Some(s) => all(
            c,
            concat!("SELECT ", partner_cols!(), " FROM partners WHERE status = ?1 ORDER BY created_at, id"),
            [s.as_str()],
            rows::partner,
        ),
        None => {
            all(c, concat!("SELECT ", partner_cols!(), " FROM partners ORDER BY created_at, id"), [], rows::partner)
        }
    }
}

pub(super) fn set_partner_api_key(c: &Connection, who: PartnerRef, key_sha256_hex: &str) -> Res<Partner> {
    let id = find_partner(c, who)?.ok_or(Rejection::UnknownPartner)?;
    c.prepare_cached("UPDATE partners SET api_key_sha256 = ?2 WHERE id = ?1")?
        .execute(params![id.0, key_sha256_hex])?;
    partner_get(c, id)
}

pub(super) fn partner_by_api_key(c: &Connection, key_sha256_hex: &str) -> Res<Option<Partner>> {
    one(
        c,
        concat!("SELECT ", partner_cols!(), " FROM partners WHERE api_key_sha256 = ?1 ORDER BY id LIMIT 1"),
        [key_sha256_hex],
        rows::partner,
    )
}

pub(super) fn partner_stats(c: &Connection, who: PartnerRef, today: Timestamp, week: Timestamp) -> Res<PartnerStats> {
    let id = find_partner(c, who)?.ok_or(Rejection::UnknownPartner)?;
    Ok(PartnerStats { today: period_stats(c, Some(id), today)?, week: period_stats(c, Some(id), week)? })
}

pub(super) fn program_stats(c: &Connection, today: Timestamp) -> Res<ProgramStats> {
    let count = |sql: &str| -> Res<u64> { u64::try_from(int(c, sql, [])?).map_err(|_| broken("negative count")) };
    let outstanding = match int(c, "SELECT COALESCE(SUM(balance), 0) FROM customers", []) {
        Err(e) if is_overflow(&e) => saturating_sum(all(c, "SELECT balance FROM customers", [], |r| Ok(r.get(0)?))?),
        other => other?,
    };
    Ok(ProgramStats {
        customers: count("SELECT COUNT(*) FROM customers")?,
        partners_approved: count("SELECT COUNT(*) FROM partners WHERE status = 'approved'")?,
        partners_pending: count("SELECT COUNT(*) FROM partners WHERE status = 'applied'")?,
        points_outstanding: outstanding,
        today: period_stats(c, None, today)?,
    })
}

// ---------------------------------------------------------------------------
// Updates and quotas

pub(super) fn claim_update(c: &Connection, bot: BotKind, update_id: i64, now: Timestamp) -> Res<bool> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO update_claims (bot, update_id, claimed_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![rows::bot_str(bot), update_id, now.0])?;
    Ok(inserted == 1)
}

pub(super) fn release_update(c: &Connection, bot: BotKind, update_id: i64) -> Res<()> {
    c.prepare_cached("DELETE FROM update_claims WHERE bot = ?1 AND update_id = ?2")?
        .execute(params![rows::bot_str(bot), update_id])?;
    Ok(())
}

pub(super) fn prune_update_claims(c: &Connection, before: Timestamp) -> Res<u64> {
    let n = c.prepare_cached("DELETE FROM update_claims WHERE claimed_at < ?1")?.execute([before.0])?;
    Ok(n as u64)
}

pub(super) fn consume_quota(
    c: &Connection,
    kind: QuotaKind,
    user: TelegramUserId,
    day: Timestamp,
    limit: u32,
) -> Res<bool> {
    let kind = rows::quota_str(kind);
    let used: i64 = c
        .prepare_cached("SELECT used FROM quotas WHERE kind = ?1 AND user_id = ?2 AND day = ?3")?
        .query_row(params![kind, user.0, day.0], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    if used >= i64::from(limit) {
        return Ok(false);
    }
    c.prepare_cached(
        "INSERT INTO quotas (kind, user_id, day, used) VALUES (?1, ?2, ?3, 1) \
         ON CONFLICT (kind, user_id, day) DO UPDATE SET used = used + 1",
    )?
    .execute(params![kind, user.0, day.0])?;
    Ok(true)
}

// ---------------------------------------------------------------------------
// Broadcasts

/// Recipients of `audience` with position (id) greater than `after`, by id.
fn audience(c: &Connection, audience: Audience, after: i64, count: u32) -> Res<Vec<(i64, Recipient)>> {
    let sql = match audience {
        Audience::Customers => {
            "SELECT id, telegram_id, language FROM customers WHERE blocked = 0 AND id > ?1 ORDER BY id LIMIT ?2"
        }
        Audience::Partners => {
            "SELECT id, telegram_id, language FROM partners WHERE status = 'approved' AND id > ?1 ORDER BY id LIMIT ?2"
        }
    };
    all(c, sql, params![after, limit(count)], |r| {
        let language: String = r.get(2)?;
        let language = Language::parse(&language).ok_or_else(|| broken("language"))?;
        Ok((r.get(0)?, Recipient { chat_id: TelegramUserId(r.get(1)?), language }))
    })
}

fn audience_size(c: &Connection, audience: Audience) -> Res<i64> {
    match audience {
        Audience::Customers => int(c, "SELECT COUNT(*) FROM customers WHERE blocked = 0", []),
        Audience::Partners => int(c, "SELECT COUNT(*) FROM partners WHERE status = 'approved'", []),
    }
}

pub(super) fn create_broadcast(c: &Connection, req: NewBroadcast) -> Res<BroadcastJob> {
    let known = one(
        c,
        concat!("SELECT ", broadcast_cols!(), " FROM broadcasts WHERE idempotency_key = ?1"),
        [&req.idempotency_key],
        rows::broadcast,
    )?;
    if let Some(job) = known {
        if job.audience != req.audience || job.text != req.text || job.admin_chat != req.admin_chat {
            return Err(Rejection::IdempotencyConflict.into());
        }
        return Ok(job);
    }
    let total = u32::try_from(audience_size(c, req.audience)?).unwrap_or(u32::MAX);
    c.prepare_cached(
        "INSERT INTO broadcasts (audience, text, admin_chat, total, created_at, idempotency_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        rows::audience_str(req.audience),
        req.text,
        req.admin_chat,
        total,
        req.now.0,
        req.idempotency_key
    ])?;
    Ok(BroadcastJob {
        id: BroadcastId(c.last_insert_rowid()),
        audience: req.audience,
        text: req.text,
        admin_chat: req.admin_chat,
        total,
        sent: 0,
        failed: 0,
        cursor: 0,
        done: false,
        created_at: req.now,
    })
}

pub(super) fn claim_broadcast_batch(c: &Connection, job: BroadcastId, count: u32) -> Res<BroadcastBatch> {
    let mut current = broadcast_get(c, job)?;
    if current.done {
        return Ok(BroadcastBatch { job: current, recipients: Vec::new() });
    }
    let batch = audience(c, current.audience, current.cursor, count)?;
    let cursor = batch.last().map_or(current.cursor, |(pos, _)| *pos);
    let done = audience(c, current.audience, cursor, 1)?.is_empty();
    c.prepare_cached("UPDATE broadcasts SET cursor = ?2, done = ?3 WHERE id = ?1")?
        .execute(params![job.0, cursor, done])?;
    current.cursor = cursor;
    current.done = done;
    Ok(BroadcastBatch { job: current, recipients: batch.into_iter().map(|(_, r)| r).collect() })
}

pub(super) fn record_broadcast(c: &Connection, job: BroadcastId, sent: u32, failed: u32) -> Res<BroadcastJob> {
    let mut current = broadcast_get(c, job)?;
    current.sent = current.sent.saturating_add(sent);
    current.failed = current.failed.saturating_add(failed);
    c.prepare_cached("UPDATE broadcasts SET sent = ?2, failed = ?3 WHERE id = ?1")?.execute(params![
        job.0,
        current.sent,
        current.failed
    ])?;
    Ok(current)
}

pub(super) fn pending_broadcasts(c: &Connection) -> Res<Vec<BroadcastJob>> {
    all(c, concat!("SELECT ", broadcast_cols!(), " FROM broadcasts WHERE done = 0 ORDER BY id"), [], rows::broadcast)
}

pub(super) fn audit_log(c: &Connection) -> Res<Vec<AuditRecord>> {
    all(c, concat!("SELECT ", audit_cols!(), " FROM audit_log ORDER BY id"), [], rows::audit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `detail` lines of SQLite's query plan for `sql`.
    fn plan(c: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn hot_queries_search_an_index() {
        let c = Connection::open_in_memory().unwrap();
        for m in super::super::MIGRATIONS {
            c.execute_batch(m).unwrap();
        }
        let hot = [
            CUSTOMER_NEWEST,
            CUSTOMER_OLDER,
            CREDITED_SUM,
            CREDITED_AMOUNTS,
            PARTNER_PERIOD,
            PROGRAM_PERIOD,
            EXPIRED_PENDING,
            "SELECT id FROM customers WHERE telegram_id = ?1",
            "SELECT id FROM customers WHERE code = ?1",
            "SELECT id FROM partners WHERE telegram_id = ?1",
            concat!("SELECT ", entry_cols!(), " FROM entries WHERE idempotency_key = ?1"),
            concat!("SELECT ", redemption_cols!(), " FROM redemptions WHERE idempotency_key = ?1"),
            concat!("SELECT ", partner_cols!(), " FROM partners WHERE api_key_sha256 = ?1 ORDER BY id LIMIT 1"),
            "SELECT EXISTS (SELECT 1 FROM entries WHERE reverses = ?1)",
            "SELECT id, telegram_id, language FROM customers WHERE blocked = 0 AND id > ?1 ORDER BY id LIMIT ?2",
        ];
        for sql in hot {
            let plan = plan(&c, sql);
            assert!(!plan.is_empty(), "no plan for {sql}");
            for line in &plan {
                // Every table access is a search by key or index, never a scan.
                assert!(!line.starts_with("SCAN") || line == "SCAN CONSTANT ROW", "{sql}\nscans: {plan:#?}");
                assert!(!line.contains("TEMP B-TREE"), "{sql}\nsorts: {plan:#?}");
            }
        }
    }
}
