//! Rows ↔ domain values: the column lists every query selects and the
//! conversions of stored text and integers back into domain types. A value
//! the schema should have prevented (an unknown status, a code that does not
//! parse) is a [`Fail::Backend`], never a panic.

use super::Fail;
use loyalty_core::domain::*;
use loyalty_core::memory::{AuditAction, AuditRecord};
use loyalty_core::ports::{PartnerDecision, QuotaKind};

use loyalty_core::domain::BotKind;
use rusqlite::Row;

/// Columns of `customers`, in the order [`customer`] reads them.
macro_rules! customer_cols {
    () => {
        "id, telegram_id, code, first_name, username, language, referrer, balance, blocked, created_at"
    };
}
pub(super) use customer_cols;

/// Columns of `partners`, in the order [`partner`] reads them.
macro_rules! partner_cols {
    () => {
        "id, telegram_id, name, category, status, earn_rate_bps, \
     max_redeem_share_bps, daily_credit_limit, language, api_key_sha256 IS NOT NULL, created_at"
    };
}
pub(super) use partner_cols;

/// Columns of `entries`, in the order [`entry`] reads them.
macro_rules! entry_cols {
    () => {
        "id, customer, kind, amount, partner, purchase, idempotency_key, author_type, author_id, reverses, reason, created_at"
    };
}
pub(super) use entry_cols;

/// Columns of `redemptions`, in the order [`redemption`] reads them.
macro_rules! redemption_cols {
    () => {
        "id, customer, partner, points, purchase, status, created_at, expires_at, entry"
    };
}
pub(super) use redemption_cols;

/// Columns of `broadcasts`, in the order [`broadcast`] reads them.
macro_rules! broadcast_cols {
    () => {
        "id, audience, text, admin_chat, total, sent, failed, cursor, done, created_at"
    };
}
pub(super) use broadcast_cols;

/// Columns of `audit_log`, in the order [`audit`] reads them.
macro_rules! audit_cols {
    () => {
        "admin, action, customer, partner, entry, amount, reason, blocked, decision, status, at"
    };
}
pub(super) use audit_cols;

fn bad(what: &str, value: impl std::fmt::Debug) -> Fail {
    Fail::Backend(format!("unexpected {what} {value:?} in the database"))
}

fn u32_col(row: &Row<'_>, i: usize, what: &str) -> Result<u32, Fail> {
    let v: i64 = row.get(i)?;
    u32::try_from(v).map_err(|_| bad(what, v))
}

pub(super) fn customer(row: &Row<'_>) -> Result<Customer, Fail> {
    let code: String = row.get(2)?;
    let language: String = row.get(5)?;
    Ok(Customer {
        id: CustomerId(row.get(0)?),
        telegram_id: TelegramUserId(row.get(1)?),
        code: CustomerCode::parse(&code).ok_or_else(|| bad("customer code", &code))?,
        first_name: row.get(3)?,
        username: row.get(4)?,
        language: Language::parse(&language).ok_or_else(|| bad("language", &language))?,
        referrer: row.get::<_, Option<i64>>(6)?.map(CustomerId),
        balance: row.get(7)?,
        blocked: row.get(8)?,
        created_at: Timestamp(row.get(9)?),
    })
}

pub(super) fn partner(row: &Row<'_>) -> Result<Partner, Fail> {
    let status: String = row.get(4)?;
    let language: String = row.get(8)?;
    Ok(Partner {
        id: PartnerId(row.get(0)?),
        telegram_id: TelegramUserId(row.get(1)?),
        name: row.get(2)?,
        category: row.get(3)?,
        status: partner_status(&status)?,
        terms: PartnerTerms {
            earn_rate_bps: u32_col(row, 5, "earn rate")?,
            max_redeem_share_bps: u32_col(row, 6, "redeem share")?,
            daily_credit_limit: row.get(7)?,
        },
        language: Language::parse(&language).ok_or_else(|| bad("language", &language))?,
        has_api_key: row.get(9)?,
        created_at: Timestamp(row.get(10)?),
    })
}

pub(super) fn entry(row: &Row<'_>) -> Result<LedgerEntry, Fail> {
    let kind: String = row.get(2)?;
    let author_type: String = row.get(7)?;
    let author_id: Option<i64> = row.get(8)?;
    let author = match (author_type.as_str(), author_id) {
        ("system", None) => Author::System,
        ("customer", Some(id)) => Author::Customer(CustomerId(id)),
        ("partner", Some(id)) => Author::Partner(PartnerId(id)),
        ("admin", Some(id)) => Author::Admin(TelegramUserId(id)),
        other => return Err(bad("author", other)),
    };
    Ok(LedgerEntry {
        id: EntryId(row.get(0)?),
        customer: CustomerId(row.get(1)?),
        kind: entry_kind(&kind)?,
        amount: row.get(3)?,
        partner: row.get::<_, Option<i64>>(4)?.map(PartnerId),
        purchase: row.get(5)?,
        idempotency_key: row.get(6)?,
        author,
        reverses: row.get::<_, Option<i64>>(9)?.map(EntryId),
        reason: row.get(10)?,
        created_at: Timestamp(row.get(11)?),
    })
}

pub(super) fn redemption(row: &Row<'_>) -> Result<RedemptionRequest, Fail> {
    let status: String = row.get(5)?;
    Ok(RedemptionRequest {
        id: RedemptionId(row.get(0)?),
        customer: CustomerId(row.get(1)?),
        partner: PartnerId(row.get(2)?),
        points: row.get(3)?,
        purchase: row.get(4)?,
        status: redemption_status(&status)?,
        created_at: Timestamp(row.get(6)?),
        expires_at: Timestamp(row.get(7)?),
        entry: row.get::<_, Option<i64>>(8)?.map(EntryId),
    })
}

pub(super) fn broadcast(row: &Row<'_>) -> Result<BroadcastJob, Fail> {
    let audience: String = row.get(1)?;
    Ok(BroadcastJob {
        id: BroadcastId(row.get(0)?),
        audience: match audience.as_str() {
            "customers" => Audience::Customers,
            "partners" => Audience::Partners,
            _ => return Err(bad("audience", &audience)),
        },
        text: row.get(2)?,
        admin_chat: row.get(3)?,
        total: u32_col(row, 4, "broadcast total")?,
        sent: u32_col(row, 5, "broadcast sent count")?,
        failed: u32_col(row, 6, "broadcast failed count")?,
        cursor: row.get(7)?,
        done: row.get(8)?,
        created_at: Timestamp(row.get(9)?),
    })
}

pub(super) fn audit(row: &Row<'_>) -> Result<AuditRecord, Fail> {
    let action: String = row.get(1)?;
    let action = match action.as_str() {
        "adjusted" => AuditAction::Adjusted {
            customer: CustomerId(row.get(2)?),
            entry: EntryId(row.get(4)?),
            amount: row.get(5)?,
            reason: row.get(6)?,
        },
        "blocked" => AuditAction::Blocked { customer: CustomerId(row.get(2)?), blocked: row.get(7)? },
        "partner_decided" => {
            let decision: String = row.get(8)?;
            let status: String = row.get(9)?;
            AuditAction::PartnerDecided {
                partner: PartnerId(row.get(3)?),
                decision: match decision.as_str() {
                    "approve" => PartnerDecision::Approve,
                    "reject" => PartnerDecision::Reject,
                    "suspend" => PartnerDecision::Suspend,
                    _ => return Err(bad("partner decision", &decision)),
                },
                status: partner_status(&status)?,
            }
        }
        _ => return Err(bad("audit action", &action)),
    };
    Ok(AuditRecord { admin: TelegramUserId(row.get(0)?), action, at: Timestamp(row.get(10)?) })
}

pub(super) fn partner_status(s: &str) -> Result<PartnerStatus, Fail> {
    Ok(match s {
        "applied" => PartnerStatus::Applied,
        "approved" => PartnerStatus::Approved,
        "rejected" => PartnerStatus::Rejected,
        "suspended" => PartnerStatus::Suspended,
        _ => return Err(bad("partner status", s)),
    })
}

fn redemption_status(s: &str) -> Result<RedemptionStatus, Fail> {
    Ok(match s {
        "pending" => RedemptionStatus::Pending,
        "confirmed" => RedemptionStatus::Confirmed,
        "declined" => RedemptionStatus::Declined,
        "expired" => RedemptionStatus::Expired,
        _ => return Err(bad("redemption status", s)),
    })
}

fn entry_kind(s: &str) -> Result<EntryKind, Fail> {
    Ok(match s {
        "welcome_bonus" => EntryKind::WelcomeBonus,
        "referral_bonus" => EntryKind::ReferralBonus,
        "accrual" => EntryKind::Accrual,
        "redemption" => EntryKind::Redemption,
        "reversal" => EntryKind::Reversal,
        "adjustment" => EntryKind::Adjustment,
        _ => return Err(bad("entry kind", s)),
    })
}

/// How an [`Author`] is stored: `(author_type, author_id)`.
pub(super) fn author_cols(author: Author) -> (&'static str, Option<i64>) {
    match author {
        Author::System => ("system", None),
        Author::Customer(id) => ("customer", Some(id.0)),
        Author::Partner(id) => ("partner", Some(id.0)),
        Author::Admin(id) => ("admin", Some(id.0)),
    }
}

/// How a [`PartnerDecision`] is stored in the audit log.
pub(super) fn decision_str(d: PartnerDecision) -> &'static str {
    match d {
        PartnerDecision::Approve => "approve",
        PartnerDecision::Reject => "reject",
        PartnerDecision::Suspend => "suspend",
    }
}

/// How an [`Audience`] is stored.
pub(super) fn audience_str(a: Audience) -> &'static str {
    match a {
        Audience::Customers => "customers",
        Audience::Partners => "partners",
    }
}

/// How a [`QuotaKind`] is stored.
pub(super) fn quota_str(k: QuotaKind) -> &'static str {
    match k {
        QuotaKind::Assistant => "assistant",
    }
}

/// How a [`BotKind`] is stored in the update claims.
pub(super) fn bot_str(b: BotKind) -> &'static str {
    b.as_str()
}
