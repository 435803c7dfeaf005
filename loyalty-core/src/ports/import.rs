//! Bringing customers, partners and history from another system
//! ([`Storage::import_batch`](super::Storage::import_batch)), as
//! `loyalty import legacy` does from the Python program's Supabase tables.
//!
//! The caller reads the other system, checks its rows and sends them in
//! batches of whole customers (each with all its history); the store decides
//! everything else inside one atomic call, so a batch lands entirely or not at
//! all, a run can be repeated (nothing lands twice) and a later run brings
//! only what changed.
//!
//! # The rule (every store)
//!
//! A batch breaking [`ImportBatch::check`] is [`Rejection::InvalidImport`](super::Rejection::InvalidImport)
//! and changes nothing. Otherwise, in order:
//!
//! 1. **Partners** whose Telegram id is new are created with the given status,
//!    terms and dates; known ones are left as they are.
//! 2. **Customers** whose Telegram id is new are created with the given code
//!    (taken: [`Rejection::CodeTaken`](super::Rejection::CodeTaken), nothing changes), name, language and
//!    sign-up date, and remembered as imported from `source` with their
//!    balance, code and birthday. Then each created customer whose
//!    `referrer` is another customer's Telegram id gets that referrer.
//! 3. **Opening balance**: each created customer with a positive balance gets
//!    one [`EntryKind::Import`] entry of that amount (author system, key
//!    `import:<source>:<telegram id>`, at `now`).
//! 4. **Balance changes**: a customer imported before from the same source
//!    whose balance in the other system changed since gets an
//!    [`EntryKind::Import`] entry of the difference (key
//!    `import:<source>:<telegram id>:<n>`, `n` counting that customer's
//!    import entries so far), unless it would make the balance negative —
//!    then nothing changes for that customer and the batch reports it in
//!    [`ImportApplied::refused`]. The remembered balance follows what applied.
//! 5. **History**: every history item not seen before (key
//!    `import:<source>:tx:<source id>`) of a customer imported from `source`
//!    becomes an [`EntryKind::Legacy`] entry: the partner when its Telegram id
//!    is a partner (else none), the amount, purchase and note as given, at its
//!    own time. Legacy entries do not count in the balance.
//! 6. A customer who was already ours without having been imported from
//!    `source` (signed up in the bots) is left alone and listed in
//!    [`ImportApplied::not_imported`].
//!
//! The answer gives every batch customer's balance after the call, so the
//! caller can reconcile it with the other system without another read.

use crate::domain::*;
use serde::{Deserialize, Serialize};

/// Customers and partners from another system, for [`Storage::import_batch`](super::Storage::import_batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportBatch {
    /// The system imported from (`legacy`): the namespace of the entries'
    /// keys and of what is remembered per customer. 1–32 characters of
    /// `a-z`, `0-9`, `_` and `-`.
    pub source: String,
    /// Partners, created before the customers (the history names them).
    pub partners: Vec<ImportedPartner>,
    /// Customers, each with all of its history.
    pub customers: Vec<ImportedCustomer>,
    /// Current time: the time of the opening and change entries.
    pub now: Timestamp,
}

/// A partner of the other system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedPartner {
    /// The Telegram user operating it.
    pub telegram_id: TelegramUserId,
    /// Business name.
    pub name: String,
    /// Category (the other system's business type, or `other`).
    pub category: String,
    /// `Approved` for an active partner, `Applied` for a pending application,
    /// `Rejected` or `Suspended` otherwise.
    pub status: PartnerStatus,
    /// Earn rate, redemption share and daily limit.
    pub terms: PartnerTerms,
    /// Language of the partner bot's texts.
    pub language: Language,
    /// When it joined the other system.
    pub created_at: Timestamp,
}

/// A customer of the other system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedCustomer {
    /// The customer's Telegram user id (the other system's `chat_id`).
    pub telegram_id: TelegramUserId,
    /// A fresh code for the card, used only when the customer is created.
    pub code: CustomerCode,
    /// Display name.
    pub first_name: String,
    /// Telegram username, if the other system knew it.
    pub username: Option<String>,
    /// Language of the bots' texts.
    pub language: Language,
    /// When the customer signed up in the other system.
    pub created_at: Timestamp,
    /// The balance the other system showed the customer (never negative).
    pub balance: Points,
    /// Telegram id of the customer who invited this one, if any.
    pub referrer: Option<TelegramUserId>,
    /// The customer's own referral code in the other system (its `ref_<code>`
    /// links keep working), if any.
    pub referral_code: Option<String>,
    /// Birthday as `YYYY-MM-DD`, if known.
    pub birthday: Option<String>,
    /// The customer's history in the other system, oldest first.
    pub history: Vec<ImportedEntry>,
}

/// One operation of a customer's history in the other system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedEntry {
    /// Its id in the other system, unique there (1–64 characters).
    pub source_id: String,
    /// The partner involved, by Telegram id, if any.
    pub partner: Option<TelegramUserId>,
    /// Points, signed: earned minus spent.
    pub amount: Points,
    /// Purchase amount, if recorded.
    pub purchase: Option<Points>,
    /// The other system's operation type and description.
    pub note: Option<String>,
    /// When it happened.
    pub at: Timestamp,
}

/// What [`Storage::import_batch`](super::Storage::import_batch) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportApplied {
    /// Partners created by this call.
    pub partners_created: u64,
    /// Customers created by this call.
    pub customers_created: u64,
    /// Customers imported before whose balance changed by this call.
    pub balances_changed: u64,
    /// History entries created by this call.
    pub history_created: u64,
    /// Customers of the batch that were ours already without having been
    /// imported from this source: left alone.
    pub not_imported: Vec<TelegramUserId>,
    /// Balance changes refused (they would make the balance negative).
    pub refused: Vec<RefusedChange>,
    /// Every batch customer's balance here after the call (those left alone
    /// included), in batch order.
    pub balances: Vec<ImportedBalance>,
}

/// A balance change an import could not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedChange {
    /// The customer.
    pub telegram_id: TelegramUserId,
    /// The change the other system's balance asked for.
    pub change: Points,
    /// The customer's balance here, which the change would make negative.
    pub balance: Points,
}

/// A customer's balance after an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedBalance {
    /// The customer.
    pub telegram_id: TelegramUserId,
    /// Balance here.
    pub balance: Points,
}

impl ImportBatch {
    /// Largest balance or history amount an import accepts, either sign (10¹²).
    pub const MAX_POINTS: Points = 1_000_000_000_000;

    /// Whether the batch keeps the rules every store relies on: a valid
    /// source name; no Telegram id twice among the partners or among the
    /// customers; no history id twice; balances in `0..=MAX_POINTS`, history
    /// amounts and purchases within `±MAX_POINTS`; names, codes and notes of
    /// sane length. The stores check the same and refuse with
    /// [`Rejection::InvalidImport`](super::Rejection::InvalidImport).
    pub fn check(&self) -> bool {
        use std::collections::HashSet;
        let name_ok = |s: &str| !s.is_empty() && s.chars().count() <= 256;
        let source_ok = (1..=32).contains(&self.source.len())
            && self.source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        let mut partners = HashSet::new();
        let partners_ok =
            self.partners.iter().all(|p| partners.insert(p.telegram_id) && name_ok(&p.name) && name_ok(&p.category));
        let mut customers = HashSet::new();
        let mut history = HashSet::new();
        let customers_ok = self.customers.iter().all(|c| {
            customers.insert(c.telegram_id)
                && name_ok(&c.first_name)
                && (0..=Self::MAX_POINTS).contains(&c.balance)
                && c.referral_code.as_deref().is_none_or(|r| (1..=64).contains(&r.len()))
                && c.birthday.as_deref().is_none_or(|b| b.len() == 10)
                && c.history.iter().all(|h| {
                    (1..=64).contains(&h.source_id.len())
                        && history.insert(h.source_id.as_str())
                        && (-Self::MAX_POINTS..=Self::MAX_POINTS).contains(&h.amount)
                        && h.purchase.is_none_or(|p| (-Self::MAX_POINTS..=Self::MAX_POINTS).contains(&p))
                        && h.note.as_deref().is_none_or(|n| n.chars().count() <= 1024)
                })
        });
        source_ok && partners_ok && customers_ok
    }
}

/// The key of a customer's opening entry.
pub fn import_key(source: &str, telegram_id: TelegramUserId) -> String {
    format!("import:{source}:{telegram_id}")
}

/// The key of a customer's balance change, `n` being the number of that
/// customer's [`EntryKind::Import`] entries before it (the opening one included).
pub fn import_change_key(source: &str, telegram_id: TelegramUserId, n: u64) -> String {
    format!("import:{source}:{telegram_id}:{n}")
}

/// The key of a history entry.
pub fn import_history_key(source: &str, source_id: &str) -> String {
    format!("import:{source}:tx:{source_id}")
}
