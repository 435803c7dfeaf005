//! The program's rules as data: a JSON document the operator changes without
//! a redeploy (the admin bot's `/rules`, `loyalty rules set FILE`). Each change
//! is kept as a new [`RulesVersion`]; every ledger entry records the version it
//! was computed under ([`LedgerEntry::rules_version`](crate::domain::LedgerEntry::rules_version)).
//!
//! The stores read the current document inside each use case's one call, so
//! the rules apply in the same transaction as the entry they shape. Version 0
//! is the document before any change: [`ProgramRules::default`], under which
//! points never expire.
//!
//! # The document
//!
//! ```json
//! {
//!   "expiry": {
//!     "days": 365,
//!     "remind_days_before": 14,
//!     "partners": { "7": 90 }
//!   }
//! }
//! ```
//!
//! * `expiry.days` — earned points expire this many days after they were
//!   earned (`null` or absent: never). The date is fixed when the points are
//!   earned: a later change of the rules applies to points earned from then on.
//! * `expiry.partners` — for points earned at a partner (by its id), that
//!   partner's own period instead of `days`.
//! * `expiry.remind_days_before` — a customer is told once, this many days
//!   before, how many points expire and when (0: never told).
//!
//! Spending takes the points that expire first (then the oldest); the rest of
//! a lot at its date leaves as one [`EntryKind::Expiry`](crate::domain::EntryKind::Expiry)
//! entry per customer and run of the job ([`Storage::expire_points`](crate::ports::Storage::expire_points)).

pub mod lots;
pub mod whatif;

use crate::domain::{PartnerId, TelegramUserId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest expiry period accepted (10 years), so dates stay far from overflow.
pub const MAX_EXPIRY_DAYS: u32 = 3_650;

/// Seconds in a day (the unit of the document's periods).
pub const DAY_SECS: i64 = 86_400;

/// How far ahead `/balance` and the API look for points about to expire (30 days).
pub const EXPIRING_SOON_SECS: i64 = 30 * DAY_SECS;

/// How many expiry dates a customer summary lists (the soonest first).
pub const EXPIRING_DATES: usize = 3;

/// The rules document. Unknown fields are refused, so a typo cannot pass for
/// a rule; absent sections take their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramRules {
    /// When earned points expire.
    #[serde(default)]
    pub expiry: ExpiryRules,
}

/// When earned points expire (the `expiry` section).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiryRules {
    /// Days from earning to expiry, 1..=[`MAX_EXPIRY_DAYS`]; `None`: never.
    #[serde(default)]
    pub days: Option<u32>,
    /// Days before the date a customer is told (0: never), less than every period.
    #[serde(default)]
    pub remind_days_before: u32,
    /// A partner's own period for points earned there, 1..=[`MAX_EXPIRY_DAYS`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub partners: BTreeMap<PartnerId, u32>,
}

impl ExpiryRules {
    /// No expiry and no reminders (the default), usable in a `const`.
    pub const EMPTY: ExpiryRules = ExpiryRules { days: None, remind_days_before: 0, partners: BTreeMap::new() };
}

impl ProgramRules {
    /// Parses and [checks](ProgramRules::check) a document.
    ///
    /// # Errors
    /// The reason, in English, when the text is not a valid document.
    pub fn from_json(text: &str) -> Result<ProgramRules, String> {
        let rules: ProgramRules = serde_json::from_str(text).map_err(|e| e.to_string())?;
        rules.check()?;
        Ok(rules)
    }

    /// Checks the values a document's types cannot: the ranges of the periods.
    ///
    /// # Errors
    /// The first broken rule, in English.
    pub fn check(&self) -> Result<(), String> {
        let e = &self.expiry;
        let periods = e
            .days
            .iter()
            .map(|d| ("expiry.days".to_owned(), *d))
            .chain(e.partners.iter().map(|(p, d)| (format!("expiry.partners.{}", p.0), *d)));
        for (field, days) in periods {
            if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
                return Err(format!("{field} must be between 1 and {MAX_EXPIRY_DAYS} days, not {days}"));
            }
            if e.remind_days_before >= days {
                return Err(format!(
                    "expiry.remind_days_before ({}) must be less than {field} ({days})",
                    e.remind_days_before
                ));
            }
        }
        Ok(())
    }

    /// The document as pretty JSON (what `/rules` and `loyalty rules show` print).
    pub fn to_pretty_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// One version of the rules: the document and who made it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesVersion {
    /// 0 for the defaults in force before any change, then 1, 2, …
    pub version: u32,
    /// The document.
    pub rules: ProgramRules,
    /// The admin who set it (`None` for version 0 and for the command line).
    pub admin: Option<TelegramUserId>,
    /// When it took effect (`None` for version 0).
    pub created_at: Option<Timestamp>,
}

impl RulesVersion {
    /// Version 0: the defaults, before any change.
    pub fn initial() -> RulesVersion {
        RulesVersion { version: 0, rules: ProgramRules::default(), admin: None, created_at: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_round_trips_and_defaults_fill_in() {
        let rules =
            ProgramRules::from_json(r#"{"expiry": {"days": 365, "remind_days_before": 14, "partners": {"7": 90}}}"#)
                .unwrap();
        assert_eq!(rules.expiry.days, Some(365));
        assert_eq!(rules.expiry.partners[&PartnerId(7)], 90);
        assert_eq!(ProgramRules::from_json(&rules.to_pretty_json()).unwrap(), rules);
        assert_eq!(ProgramRules::from_json("{}").unwrap(), ProgramRules::default());
        assert_eq!(ProgramRules::from_json(r#"{"expiry": {}}"#).unwrap().expiry.days, None);
    }

    #[test]
    fn bad_documents_say_why() {
        for (text, says) in [
            (r#"{"expiry": {"days": 0}}"#, "expiry.days must be between 1 and 3650"),
            (r#"{"expiry": {"days": 3651}}"#, "expiry.days must be between"),
            (r#"{"expiry": {"days": 10, "remind_days_before": 10}}"#, "must be less than expiry.days"),
            (r#"{"expiry": {"partners": {"3": 0}}}"#, "expiry.partners.3 must be between"),
            (r#"{"expiry": {"days": -1}}"#, "invalid value"),
            (r#"{"expiry": {"dayz": 30}}"#, "unknown field `dayz`"),
            (r#"{"tiers": []}"#, "unknown field `tiers`"),
            (r#"{"expiry": {"partners": {"x": 3}}}"#, "invalid"),
            ("not json", "expected"),
        ] {
            let err = ProgramRules::from_json(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
