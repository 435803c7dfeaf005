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

pub mod campaigns;
pub mod lots;
pub mod rewards;
pub mod stamps;

use crate::domain::{Language, PartnerId, Points, TelegramUserId, Timestamp};
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
    /// Customer tiers (none: every customer earns at the base rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<TierRules>,
    /// Who may run [campaigns] (they are kept apart from the
    /// document, each with its own budget).
    #[serde(default, skip_serializing_if = "is_default")]
    pub campaigns: campaigns::CampaignRules,
    /// Whether partners' [rewards] wait for an admin.
    #[serde(default, skip_serializing_if = "is_default")]
    pub rewards: rewards::RewardRules,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The most tiers a document may have.
pub const MAX_TIERS: usize = 10;

/// The largest tier multiplier (10×), in basis points.
pub const MAX_MULTIPLIER_BPS: u32 = 100_000;

/// Customer tiers (the `tiers` section): a customer's tier is the highest
/// whose `threshold` their qualifying points reach — the points of their
/// purchases (accruals, reversed ones left out) earned within the last
/// `window_days`. A customer who falls below their tier keeps it for
/// `grace_days` before going down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRules {
    /// The rolling window of qualifying points, 1..=[`MAX_EXPIRY_DAYS`] days.
    pub window_days: u32,
    /// Days below a tier before going down, 0..=[`MAX_EXPIRY_DAYS`].
    #[serde(default)]
    pub grace_days: u32,
    /// The tiers, lowest first: 1..=[`MAX_TIERS`], thresholds strictly increasing.
    pub levels: Vec<TierLevel>,
    /// What the thresholds count: the purchases' points (the default) or
    /// their amounts.
    #[serde(default, skip_serializing_if = "is_default")]
    pub qualify_by: QualifyBy,
}

/// What tier thresholds count (`tiers.qualify_by`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualifyBy {
    /// The points of the purchases (`points`).
    #[default]
    Points,
    /// The purchase amounts (`purchases`).
    Purchases,
}

impl QualifyBy {
    /// What accrual `e` counts toward a tier.
    pub fn of(self, e: &crate::domain::LedgerEntry) -> Points {
        match self {
            QualifyBy::Points => e.amount,
            QualifyBy::Purchases => e.purchase.unwrap_or(0),
        }
    }
}

/// One tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLevel {
    /// Its name per language.
    pub name: Localized,
    /// Qualifying points needed, ≥ 1.
    pub threshold: Points,
    /// Points earned on a purchase are multiplied by this (basis points,
    /// 10 000 = 1×, up to [`MAX_MULTIPLIER_BPS`]).
    pub multiplier_bps: u32,
    /// What the tier gives besides points, per language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perks: Option<Localized>,
}

/// A text per language; Russian and Vietnamese fall back to English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// English (required).
    pub en: String,
    /// Russian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ru: Option<String>,
    /// Vietnamese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vi: Option<String>,
}

impl Localized {
    /// The text in `language`, or the English one.
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Ru => self.ru.as_deref(),
            Language::Vi => self.vi.as_deref(),
            Language::En => None,
        }
        .unwrap_or(&self.en)
    }
}

impl TierRules {
    /// The tier (0: none, else 1-based) that `qualifying` points reach.
    pub fn level_for(&self, qualifying: Points) -> u8 {
        self.levels.iter().take_while(|l| l.threshold <= qualifying).count() as u8
    }

    /// Tier `tier` (1-based), if the document has it.
    pub fn level(&self, tier: u8) -> Option<&TierLevel> {
        (tier as usize).checked_sub(1).and_then(|i| self.levels.get(i))
    }
}

/// A customer's tier and the time they fell below it (`None`: they have not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierState {
    /// 0: none; else the 1-based tier.
    pub tier: u8,
    /// Since when the qualifying points have been below the tier's threshold.
    pub below_since: Option<Timestamp>,
}

/// The rule of tiers, recomputed at `now` with the customer's `qualifying`
/// points (their purchases' points, reversed ones left out, earned after
/// `now − window_days`): a tier reached is taken at once; a customer below
/// their tier keeps it until they have been below for `grace_days`, then
/// takes the tier their points reach. Without a `tiers` section every
/// customer goes to tier 0 (no grace).
pub fn next_tier(tiers: Option<&TierRules>, state: TierState, qualifying: Points, now: Timestamp) -> TierState {
    let (reached, grace) = tiers.map_or((0, 0), |t| (t.level_for(qualifying), t.grace_days));
    if reached >= state.tier {
        return TierState { tier: reached, below_since: None };
    }
    let since = state.below_since.unwrap_or(now);
    if now.0.saturating_sub(since.0) >= i64::from(grace) * DAY_SECS {
        TierState { tier: reached, below_since: None }
    } else {
        TierState { tier: state.tier, below_since: Some(since) }
    }
}

/// The multiplier (basis points) of tier `tier` under `rules`: 10 000 (1×)
/// for tier 0 or a tier the document no longer has.
pub fn tier_multiplier(rules: &ProgramRules, tier: u8) -> u32 {
    rules.tiers.as_ref().and_then(|t| t.level(tier)).map_or(10_000, |l| l.multiplier_bps)
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
        if let Some(t) = &self.tiers {
            check_tiers(t)?;
        }
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

fn check_tiers(t: &TierRules) -> Result<(), String> {
    if !(1..=MAX_EXPIRY_DAYS).contains(&t.window_days) {
        return Err(format!("tiers.window_days must be between 1 and {MAX_EXPIRY_DAYS}, not {}", t.window_days));
    }
    if t.grace_days > MAX_EXPIRY_DAYS {
        return Err(format!("tiers.grace_days must be at most {MAX_EXPIRY_DAYS}, not {}", t.grace_days));
    }
    if !(1..=MAX_TIERS).contains(&t.levels.len()) {
        return Err(format!("tiers.levels must hold 1 to {MAX_TIERS} tiers, not {}", t.levels.len()));
    }
    let mut previous = 0;
    for (i, l) in t.levels.iter().enumerate() {
        let at = format!("tiers.levels[{i}]");
        if l.threshold <= previous || l.threshold > crate::domain::rules::MAX_PURCHASE {
            return Err(format!("{at}.threshold must be above the tier below's (and at least 1), not {}", l.threshold));
        }
        previous = l.threshold;
        if !(10_000..=MAX_MULTIPLIER_BPS).contains(&l.multiplier_bps) {
            return Err(format!(
                "{at}.multiplier_bps must be between 10000 (1×) and {MAX_MULTIPLIER_BPS}, not {}",
                l.multiplier_bps
            ));
        }
        check_text(&l.name, &format!("{at}.name"))?;
        if let Some(perks) = &l.perks {
            check_text(perks, &format!("{at}.perks"))?;
        }
    }
    Ok(())
}

/// Each language's text of `text` must have 1 to 200 characters.
pub(crate) fn check_text(text: &Localized, field: &str) -> Result<(), String> {
    for t in [Some(&text.en), text.ru.as_ref(), text.vi.as_ref()].into_iter().flatten() {
        if t.trim().is_empty() || t.chars().count() > 200 {
            return Err(format!("{field}: a text must have 1 to 200 characters"));
        }
    }
    Ok(())
}

/// Points of a customer's that expire at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiringPoints {
    /// How many, > 0.
    pub points: Points,
    /// When they expire.
    pub at: Timestamp,
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

    const TIERS_BY_POINTS: &str =
        r#"{"tiers": {"window_days": 30, "levels": [{"name": {"en": "A"}, "threshold": 5, "multiplier_bps": 10000}]}}"#;

    #[test]
    fn a_document_round_trips_and_defaults_fill_in() {
        let rules =
            ProgramRules::from_json(r#"{"expiry": {"days": 365, "remind_days_before": 14, "partners": {"7": 90}}}"#)
                .unwrap();
        assert_eq!(rules.expiry.days, Some(365));
        assert_eq!(rules.expiry.partners[&PartnerId(7)], 90);
        assert_eq!(ProgramRules::from_json(&rules.to_pretty_json()).unwrap(), rules);
        assert_eq!(ProgramRules::from_json("{}").unwrap(), ProgramRules::default());
        let by_spend = r#"{"tiers": {"window_days": 30, "qualify_by": "purchases",
            "levels": [{"name": {"en": "A"}, "threshold": 5000, "multiplier_bps": 10000}]}}"#;
        let spend = ProgramRules::from_json(by_spend).unwrap();
        assert_eq!(spend.tiers.as_ref().map(|t| t.qualify_by), Some(QualifyBy::Purchases));
        assert_eq!(ProgramRules::from_json(&spend.to_pretty_json()).unwrap(), spend);
        assert!(!ProgramRules::from_json(TIERS_BY_POINTS).unwrap().to_pretty_json().contains("qualify_by"));
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
            (r#"{"campaigns": {"partners": "maybe"}}"#, "unknown variant `maybe`"),
            (r#"{"campaign": {}}"#, "unknown field `campaign`"),
            (r#"{"tiers": {"window_days": 0, "levels": []}}"#, "tiers.window_days must be between 1 and 3650"),
            (r#"{"tiers": {"window_days": 30, "levels": []}}"#, "tiers.levels must hold 1 to 10 tiers, not 0"),
            (
                r#"{"tiers": {"window_days": 30, "levels": [{"name": {"en": "A"}, "threshold": 5, "multiplier_bps": 9999}]}}"#,
                "tiers.levels[0].multiplier_bps must be between 10000",
            ),
            (
                r#"{"tiers": {"window_days": 30, "levels": [{"name": {"en": "A"}, "threshold": 5, "multiplier_bps": 10000},
                    {"name": {"en": "B"}, "threshold": 5, "multiplier_bps": 10000}]}}"#,
                "tiers.levels[1].threshold must be above",
            ),
            (
                r#"{"tiers": {"window_days": 30, "levels": [{"name": {"en": " "}, "threshold": 5, "multiplier_bps": 10000}]}}"#,
                "tiers.levels[0].name: a text must have 1 to 200 characters",
            ),
            (r#"{"expiry": {"partners": {"x": 3}}}"#, "invalid"),
            ("not json", "expected"),
        ] {
            let err = ProgramRules::from_json(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
