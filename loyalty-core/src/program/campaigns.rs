//! Campaigns: bonuses on purchases for a period, with a budget.
//!
//! A campaign is made by an admin (for all partners or one) or by a partner
//! for its own place (approved by an admin first unless the rules say
//! otherwise: [`PartnerCampaigns`]). It runs from `starts_at` (inclusive) to
//! `ends_at` (exclusive), for customers of the chosen tiers, and pays one of:
//!
//! * [`CampaignKind::Multiplier`] — the purchase's points times
//!   `multiplier_bps`, on the chosen weekdays and hours (local time at
//!   `utc_offset_minutes`). The campaign pays the difference; see
//!   [`rules::stacked`] for how it combines
//!   with the tier's multiplier. One multiplier per purchase: the one paying
//!   most (then the oldest campaign).
//! * [`CampaignKind::FirstPurchase`] — `points` on a customer's first
//!   purchase at the partner crediting.
//! * [`CampaignKind::Birthday`] — `points` on the customer's first purchase
//!   in the `window_days` days from their birthday (local date), once a year.
//!   A customer sets the birthday once (the client bot's `/birthday`).
//! * [`CampaignKind::NthVisit`] — `points` on every `nth` purchase of a
//!   customer at the partner crediting (visits counted from the first).
//!
//! **Budgets and caps.** The points a campaign paid, reversals taken back,
//! never exceed its `budget`, nor a customer's share `cap_per_customer`. An
//! award is all or nothing: when what is left cannot cover it, the purchase
//! earns without it. The bonus is part of the purchase's accrual entry (so a
//! reversal of the purchase takes it back and returns it to the budget); the
//! store keeps which campaign paid what ([`Award`]).

use super::{DAY_SECS, Localized, MAX_EXPIRY_DAYS, MAX_MULTIPLIER_BPS, MAX_TIERS};
use crate::domain::{Author, CampaignId, PartnerId, Points, Timestamp, civil_from_days, days_from_civil, rules};
use serde::{Deserialize, Serialize};

/// Every weekday (bit 0 Monday … bit 6 Sunday).
pub const ALL_WEEKDAYS: u8 = 0x7f;

/// Every tier, 0 (none) to [`MAX_TIERS`] (bit `t` for tier `t`).
pub const ALL_TIERS: u16 = (1 << (MAX_TIERS + 1)) - 1;

/// The largest fixed bonus, budget or cap a campaign may have.
pub const MAX_CAMPAIGN_POINTS: Points = 1_000_000_000_000;

/// What a campaign pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// An earn multiplier over a period, optionally on some weekdays and hours.
    Multiplier,
    /// A fixed bonus on a customer's first purchase at a partner.
    FirstPurchase,
    /// A fixed bonus once a year, in a window from the customer's birthday.
    Birthday,
    /// A fixed bonus on every n-th purchase at a partner.
    NthVisit,
}

impl CampaignKind {
    /// The kind as stored (`multiplier`, `first_purchase`, `birthday`, `nth_visit`).
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Multiplier => "multiplier",
            CampaignKind::FirstPurchase => "first_purchase",
            CampaignKind::Birthday => "birthday",
            CampaignKind::NthVisit => "nth_visit",
        }
    }
}

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// A partner's campaign waiting for an admin.
    Pending,
    /// Approved (or made by an admin): it pays within its period.
    Active,
    /// Refused by an admin.
    Rejected,
    /// Stopped before its end by an admin or its partner.
    Ended,
}

/// Whether partners may run campaigns for their own place (the rules
/// document's `campaigns.partners`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerCampaigns {
    /// Partners may not.
    Off,
    /// A partner's campaign waits for an admin's approval (the default).
    #[default]
    Approval,
    /// A partner's campaign runs at once.
    Open,
}

/// The `campaigns` section of the rules document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRules {
    /// Whether partners may run campaigns, and with approval or not.
    #[serde(default)]
    pub partners: PartnerCampaigns,
}

/// A campaign's terms, as stored: what it pays, to whom, when, up to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignTerms {
    /// Its name per language, shown to partners and customers.
    pub title: Localized,
    /// What it pays.
    pub kind: CampaignKind,
    /// [`CampaignKind::Multiplier`]: the multiplier, basis points in
    /// (10 000, [`MAX_MULTIPLIER_BPS`]]; 10 000 for the other kinds.
    pub multiplier_bps: u32,
    /// The fixed bonus, 1..=[`MAX_CAMPAIGN_POINTS`]; 0 for a multiplier.
    pub points: Points,
    /// [`CampaignKind::NthVisit`]: every how many purchases, 2..=1000; else 0.
    pub nth: u32,
    /// [`CampaignKind::Birthday`]: days from the birthday, 1..=366; else 0.
    pub window_days: u32,
    /// The weekdays it pays on (bit 0 Monday … bit 6 Sunday, local time);
    /// [`ALL_WEEKDAYS`] for every day. Only a multiplier may narrow it.
    pub weekdays: u8,
    /// The hours it pays in, local time: from `hour_from` (0..=23) up to
    /// `hour_to` (1..=24), across midnight when `hour_from > hour_to`;
    /// 0 and 24 for the whole day. Only a multiplier may narrow it.
    pub hour_from: u8,
    /// See `hour_from`.
    pub hour_to: u8,
    /// Local time for weekdays, hours and birthdays: minutes east of UTC,
    /// −720..=840.
    pub utc_offset_minutes: i32,
    /// The one partner it pays at (`None`: every partner).
    pub partner: Option<PartnerId>,
    /// The customers' tiers it pays for (bit `t` for tier `t`, 0 = none);
    /// [`ALL_TIERS`] for everyone.
    pub tiers: u16,
    /// The most one customer may get from it (`None`: no cap).
    pub cap_per_customer: Option<Points>,
    /// The most it pays in all, 1..=[`MAX_CAMPAIGN_POINTS`].
    pub budget: Points,
    /// First moment it pays.
    pub starts_at: Timestamp,
    /// First moment it no longer pays (after `starts_at`, at most 10 years on).
    pub ends_at: Timestamp,
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// Its id.
    pub id: CampaignId,
    /// Its terms.
    pub terms: CampaignTerms,
    /// Where it stands.
    pub status: CampaignStatus,
    /// Points it has paid, reversed purchases taken back (≤ `budget`).
    pub issued: Points,
    /// Who made it: an admin, or a partner for its own place.
    pub created_by: Author,
    /// When it was made.
    pub created_at: Timestamp,
}

impl Campaign {
    /// Whether it pays at `now`: active and within its period.
    pub fn running(&self, now: Timestamp) -> bool {
        self.status == CampaignStatus::Active && self.terms.starts_at <= now && now < self.terms.ends_at
    }
}

/// What one campaign paid on a purchase (part of the accrual's amount).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    /// The campaign.
    pub campaign: CampaignId,
    /// What it pays.
    pub kind: CampaignKind,
    /// Its title.
    pub title: Localized,
    /// Its multiplier (10 000 for a fixed bonus).
    pub multiplier_bps: u32,
    /// Points it added, > 0.
    pub points: Points,
}

/// A customer's birthday (month and day; the year is not asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Birthday {
    /// 1..=12.
    pub month: u8,
    /// 1..=31, a day the month has (29 February allowed; in a common year
    /// the birthday is on 1 March).
    pub day: u8,
}

impl Birthday {
    /// A birthday, if the date exists in a leap year.
    pub fn new(month: u8, day: u8) -> Option<Birthday> {
        let valid = Timestamp::from_utc_date(2024, u32::from(month), u32::from(day)).is_some();
        valid.then_some(Birthday { month, day })
    }

    /// Parses `DD.MM` (also `DD/MM`, `DD-MM`, `MM-DD` after a 4-digit year:
    /// `1990-05-17`).
    pub fn parse(text: &str) -> Option<Birthday> {
        let parts: Vec<&str> = text.trim().split(['.', '/', '-']).collect();
        let num = |s: &str| s.trim().parse::<u8>().ok();
        match parts.as_slice() {
            [d, m] | [d, m, _] if d.len() <= 2 => Birthday::new(num(m)?, num(d)?),
            [y, m, d] if y.len() == 4 => Birthday::new(num(m)?, num(d)?),
            _ => None,
        }
    }
}

/// A purchase as the campaigns see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    /// When.
    pub now: Timestamp,
    /// Where.
    pub partner: PartnerId,
    /// The customer's tier before it.
    pub tier: u8,
    /// Its points before campaigns: the base times the tier's multiplier.
    pub accrual: Points,
    /// The customer's purchases at this partner before this one.
    pub earlier_visits: u64,
    /// The customer's birthday, if set.
    pub birthday: Option<Birthday>,
}

impl CampaignTerms {
    /// What the campaign would pay on `visit` by its terms alone — period,
    /// partner, tier, weekday and hour, the kind's condition — before its
    /// budget, the customer's cap and (birthday) the once-a-year rule.
    /// `None` when it does not apply or would pay nothing. The status is the
    /// caller's ([`Campaign::running`]).
    pub fn offer(&self, visit: &Visit) -> Option<Points> {
        let targeted = self.starts_at <= visit.now
            && visit.now < self.ends_at
            && self.partner.is_none_or(|p| p == visit.partner)
            && self.tiers & (1 << visit.tier.min(MAX_TIERS as u8)) != 0;
        if !targeted || !self.in_hours(visit.now) {
            return None;
        }
        let points = match self.kind {
            CampaignKind::Multiplier => rules::accrual(visit.accrual, self.multiplier_bps) - visit.accrual,
            CampaignKind::FirstPurchase => (visit.earlier_visits == 0).then_some(self.points)?,
            CampaignKind::NthVisit => {
                (visit.earlier_visits + 1).is_multiple_of(u64::from(self.nth.max(1))).then_some(self.points)?
            }
            CampaignKind::Birthday => self.birthday_since(visit.now, visit.birthday?).map(|_| self.points)?,
        };
        (points > 0).then_some(points)
    }

    /// The local time of `now` as (days since 1970-01-01, seconds into the day).
    fn local(&self, now: Timestamp) -> (i64, i64) {
        let local = now.0.saturating_add(i64::from(self.utc_offset_minutes) * 60);
        (local.div_euclid(DAY_SECS), local.rem_euclid(DAY_SECS))
    }

    /// Whether `now` falls on one of the weekdays and in the hours.
    fn in_hours(&self, now: Timestamp) -> bool {
        let (day, secs) = self.local(now);
        let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday (3 with Monday 0)
        let hour = (secs / 3600) as u8;
        let hours = if self.hour_from < self.hour_to {
            self.hour_from <= hour && hour < self.hour_to
        } else if self.hour_from > self.hour_to {
            hour >= self.hour_from || hour < self.hour_to
        } else {
            true
        };
        self.weekdays & (1 << weekday) != 0 && hours
    }

    /// The start (local midnight, as a UTC time) of the birthday window that
    /// holds `now`, if one does: the latest birthday on or before the local
    /// date of `now`, when `now` is fewer than `window_days` days after it.
    pub fn birthday_since(&self, now: Timestamp, birthday: Birthday) -> Option<Timestamp> {
        let (today, _) = self.local(now);
        let (year, _, _) = civil_from_days(today);
        let on = |y: i64| days_from_civil(y, u32::from(birthday.month), 1) + i64::from(birthday.day) - 1;
        let start = [on(year), on(year - 1)].into_iter().find(|d| *d <= today)?;
        (today - start < i64::from(self.window_days))
            .then(|| Timestamp(start * DAY_SECS - i64::from(self.utc_offset_minutes) * 60))
    }

    /// Checks what the types cannot: ranges, and fields that only one kind may set.
    ///
    /// # Errors
    /// The first broken rule, in English.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind.as_str();
        super::check_text(&self.title, "title")?;
        let multiplier = self.kind == CampaignKind::Multiplier;
        if multiplier != (self.multiplier_bps != 10_000)
            || !(10_000..=MAX_MULTIPLIER_BPS).contains(&self.multiplier_bps)
        {
            return Err(format!(
                "multiplier_bps must be above 10000 and at most {MAX_MULTIPLIER_BPS} for a multiplier, \
                 and 10000 for a {kind} campaign, not {}",
                self.multiplier_bps
            ));
        }
        if multiplier != (self.points == 0) || !(0..=MAX_CAMPAIGN_POINTS).contains(&self.points) {
            return Err(format!(
                "points must be between 1 and {MAX_CAMPAIGN_POINTS} for a {kind} campaign (0 for a multiplier), not {}",
                self.points
            ));
        }
        let nth = self.kind == CampaignKind::NthVisit;
        if (nth && !(2..=1000).contains(&self.nth)) || (!nth && self.nth != 0) {
            return Err(format!("n must be between 2 and 1000 for an nth_visit campaign (else 0), not {}", self.nth));
        }
        let birthday = self.kind == CampaignKind::Birthday;
        if (birthday && !(1..=366).contains(&self.window_days)) || (!birthday && self.window_days != 0) {
            return Err(format!(
                "window_days must be between 1 and 366 for a birthday campaign (else 0), not {}",
                self.window_days
            ));
        }
        if self.weekdays & !ALL_WEEKDAYS != 0
            || self.weekdays == 0
            || self.hour_from > 23
            || !(1..=24).contains(&self.hour_to)
        {
            return Err("weekdays must name at least one day, and hours lie in 0..24".to_owned());
        }
        let narrowed = self.weekdays != ALL_WEEKDAYS || !(self.hour_from == 0 && self.hour_to == 24);
        if narrowed && !multiplier {
            return Err(format!("only a multiplier may be limited to weekdays or hours, not a {kind} campaign"));
        }
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(format!("utc_offset_minutes must be between -720 and 840, not {}", self.utc_offset_minutes));
        }
        if self.tiers & !ALL_TIERS != 0 || self.tiers == 0 {
            return Err(format!("tiers must name at least one tier between 0 and {MAX_TIERS}"));
        }
        if !(1..=MAX_CAMPAIGN_POINTS).contains(&self.budget) {
            return Err(format!("budget must be between 1 and {MAX_CAMPAIGN_POINTS}, not {}", self.budget));
        }
        if let Some(cap) = self.cap_per_customer
            && !(1..=MAX_CAMPAIGN_POINTS).contains(&cap)
        {
            return Err(format!("cap_per_customer must be between 1 and {MAX_CAMPAIGN_POINTS}, not {cap}"));
        }
        let longest = i64::from(MAX_EXPIRY_DAYS) * DAY_SECS;
        if self.ends_at <= self.starts_at || self.ends_at.0 - self.starts_at.0 > longest || self.starts_at.0 < 0 {
            return Err("the campaign must end after it starts, within 10 years".to_owned());
        }
        Ok(())
    }
}

/// The campaign document an admin or partner writes (`/campaign {…}`): the
/// [`CampaignTerms`] in friendlier units. Dates are local (at
/// `utc_offset_minutes`), both inclusive.
///
/// ```json
/// {"title": {"en": "Double points mornings", "ru": "Двойные баллы по утрам"},
///  "kind": "multiplier", "multiplier_bps": 20000,
///  "weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [8, 11],
///  "utc_offset_minutes": 420, "starts": "2027-01-01", "ends": "2027-01-31",
///  "partner": 7, "tiers": [0, 1], "cap_per_customer": 500, "budget": 20000}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignDocument {
    /// Its name per language.
    pub title: Localized,
    /// What it pays.
    pub kind: CampaignKind,
    /// A multiplier's multiplier (basis points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier_bps: Option<u32>,
    /// A fixed bonus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<Points>,
    /// An n-th visit campaign's n.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// A birthday campaign's window in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// Weekdays (`mon` … `sun`; absent: every day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<String>>,
    /// Hours `[from, to)` (absent: all day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<[u8; 2]>,
    /// Local time, minutes east of UTC (default 0).
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// First day (`YYYY-MM-DD`).
    pub starts: String,
    /// Last day (`YYYY-MM-DD`).
    pub ends: String,
    /// The one partner (absent: all; a partner's own campaign is always its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<PartnerId>,
    /// Tiers (absent: everyone; 0 = customers without a tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<u8>>,
    /// The most per customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_per_customer: Option<Points>,
    /// The most in all.
    pub budget: Points,
}

/// The weekday names of [`CampaignDocument::weekdays`], Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl CampaignDocument {
    /// Parses a document into checked terms.
    ///
    /// # Errors
    /// The reason, in English.
    pub fn parse(text: &str) -> Result<CampaignTerms, String> {
        let doc: CampaignDocument = serde_json::from_str(text).map_err(|e| e.to_string())?;
        doc.terms()
    }

    /// The checked terms of the document.
    ///
    /// # Errors
    /// The reason, in English.
    pub fn terms(&self) -> Result<CampaignTerms, String> {
        let date = |field: &str, text: &str| {
            let mut it = text.split('-').map(|p| p.parse::<i64>().ok());
            let (y, m, d) = (it.next().flatten(), it.next().flatten(), it.next().flatten());
            let day = match (y, m, d, it.next()) {
                (Some(y), Some(m), Some(d), None) if (1970..=9999).contains(&y) => {
                    Timestamp::from_utc_date(y, m.clamp(0, 99) as u32, d.clamp(0, 99) as u32)
                }
                _ => None,
            };
            day.ok_or_else(|| format!("{field} must be a date like 2027-01-31, not {text:?}"))
        };
        let offset = i64::from(self.utc_offset_minutes) * 60;
        let weekdays = match &self.weekdays {
            None => ALL_WEEKDAYS,
            Some(names) => names.iter().try_fold(0u8, |mask, name| {
                let i = WEEKDAYS.iter().position(|w| w.eq_ignore_ascii_case(name.trim()));
                i.map(|i| mask | 1 << i).ok_or_else(|| format!("weekdays: {name:?} is not one of {WEEKDAYS:?}"))
            })?,
        };
        let tiers = match &self.tiers {
            None => ALL_TIERS,
            Some(list) => list.iter().try_fold(0u16, |mask, t| {
                (usize::from(*t) <= MAX_TIERS)
                    .then(|| mask | 1 << t)
                    .ok_or_else(|| format!("tiers: {t} is not a tier between 0 and {MAX_TIERS}"))
            })?,
        };
        let [hour_from, hour_to] = self.hours.unwrap_or([0, 24]);
        let terms = CampaignTerms {
            title: self.title.clone(),
            kind: self.kind,
            multiplier_bps: self.multiplier_bps.unwrap_or(10_000),
            points: self.points.unwrap_or(0),
            nth: self.n.unwrap_or(0),
            window_days: self.window_days.unwrap_or(0),
            weekdays,
            hour_from,
            hour_to,
            utc_offset_minutes: self.utc_offset_minutes,
            partner: self.partner,
            tiers,
            cap_per_customer: self.cap_per_customer,
            budget: self.budget,
            starts_at: date("starts", &self.starts)?.plus(-offset),
            ends_at: date("ends", &self.ends)?.plus(DAY_SECS - offset),
        };
        terms.check()?;
        Ok(terms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(kind: CampaignKind) -> CampaignTerms {
        CampaignTerms {
            title: Localized { en: "Test".into(), ru: None, vi: None },
            kind,
            multiplier_bps: if kind == CampaignKind::Multiplier { 20_000 } else { 10_000 },
            points: if kind == CampaignKind::Multiplier { 0 } else { 50 },
            nth: if kind == CampaignKind::NthVisit { 3 } else { 0 },
            window_days: if kind == CampaignKind::Birthday { 7 } else { 0 },
            weekdays: ALL_WEEKDAYS,
            hour_from: 0,
            hour_to: 24,
            utc_offset_minutes: 0,
            partner: None,
            tiers: ALL_TIERS,
            cap_per_customer: None,
            budget: 1000,
            starts_at: Timestamp(0),
            ends_at: Timestamp(400 * DAY_SECS),
        }
    }

    fn visit(now: Timestamp) -> Visit {
        Visit { now, partner: PartnerId(1), tier: 0, accrual: 100, earlier_visits: 0, birthday: None }
    }

    #[test]
    fn weekdays_and_hours_are_local() {
        // 1970-01-05 was a Monday.
        let monday_9 = Timestamp(4 * DAY_SECS + 9 * 3600);
        let mut t = terms(CampaignKind::Multiplier);
        t.weekdays = 1; // Monday only
        t.hour_from = 8;
        t.hour_to = 11;
        assert_eq!(t.offer(&visit(monday_9)), Some(100));
        assert_eq!(t.offer(&visit(monday_9.plus(2 * 3600))), None, "11:00 is past the hours");
        assert_eq!(t.offer(&visit(monday_9.plus(DAY_SECS))), None, "Tuesday");
        t.utc_offset_minutes = 7 * 60; // 09:00 UTC is 16:00 at UTC+7
        assert_eq!(t.offer(&visit(monday_9)), None);
        assert_eq!(t.offer(&visit(monday_9.plus(-7 * 3600))), Some(100), "02:00 UTC is 09:00 local");
        t.utc_offset_minutes = 0;
        (t.hour_from, t.hour_to) = (22, 2); // across midnight
        assert_eq!(t.offer(&visit(Timestamp(4 * DAY_SECS + 23 * 3600))), Some(100));
        assert_eq!(t.offer(&visit(Timestamp(4 * DAY_SECS + 12 * 3600))), None);
    }

    #[test]
    fn kinds_and_targets() {
        let now = Timestamp(10 * DAY_SECS);
        let mut v = visit(now);
        let first = terms(CampaignKind::FirstPurchase);
        assert_eq!(first.offer(&v), Some(50));
        v.earlier_visits = 1;
        assert_eq!(first.offer(&v), None);
        let nth = terms(CampaignKind::NthVisit);
        assert_eq!(nth.offer(&v), None, "the second visit");
        v.earlier_visits = 2;
        assert_eq!(nth.offer(&v), Some(50), "the third visit");
        v.earlier_visits = 5;
        assert_eq!(nth.offer(&v), Some(50), "the sixth visit");
        let mut only_gold = terms(CampaignKind::FirstPurchase);
        only_gold.tiers = 1 << 2;
        v.earlier_visits = 0;
        assert_eq!(only_gold.offer(&v), None);
        v.tier = 2;
        assert_eq!(only_gold.offer(&v), Some(50));
        let mut elsewhere = terms(CampaignKind::FirstPurchase);
        elsewhere.partner = Some(PartnerId(2));
        assert_eq!(elsewhere.offer(&v), None);
        assert_eq!(first.offer(&visit(Timestamp(400 * DAY_SECS))), None, "ended");
    }

    #[test]
    fn birthdays_open_a_window_once_a_year_and_across_new_year() {
        let at = |y, m, d| Timestamp::from_utc_date(y, m, d).unwrap().plus(12 * 3600);
        let mut b = terms(CampaignKind::Birthday);
        (b.starts_at, b.ends_at) = (at(2026, 1, 1), at(2029, 1, 1));
        let dec30 = Birthday::new(12, 30).unwrap();
        assert_eq!(b.birthday_since(at(2026, 12, 30), dec30), Timestamp::from_utc_date(2026, 12, 30));
        assert_eq!(b.birthday_since(at(2027, 1, 4), dec30), Timestamp::from_utc_date(2026, 12, 30));
        assert_eq!(b.birthday_since(at(2027, 1, 6), dec30), None, "7 days have passed");
        assert_eq!(b.birthday_since(at(2026, 12, 29), dec30), None, "the day before");
        let leap = Birthday::new(2, 29).unwrap();
        assert_eq!(b.birthday_since(at(2027, 3, 1), leap), Timestamp::from_utc_date(2027, 3, 1));
        assert_eq!(b.birthday_since(at(2028, 2, 29), leap), Timestamp::from_utc_date(2028, 2, 29));
        let mut v = visit(at(2026, 12, 31));
        assert_eq!(b.offer(&v), None, "no birthday set");
        v.birthday = Some(dec30);
        assert_eq!(b.offer(&v), Some(50));
    }

    #[test]
    fn documents_become_checked_terms() {
        let t = CampaignDocument::parse(
            r#"{"title": {"en": "Mornings"}, "kind": "multiplier", "multiplier_bps": 20000,
                "weekdays": ["mon", "Fri"], "hours": [8, 11], "utc_offset_minutes": 420,
                "starts": "2027-01-01", "ends": "2027-01-31", "tiers": [0, 2], "budget": 500}"#,
        )
        .unwrap();
        assert_eq!(t.weekdays, 0b1_0001);
        assert_eq!(t.tiers, 0b101);
        assert_eq!(t.starts_at, Timestamp::from_utc_date(2027, 1, 1).unwrap().plus(-7 * 3600));
        assert_eq!(t.ends_at, Timestamp::from_utc_date(2027, 2, 1).unwrap().plus(-7 * 3600));
        for (text, says) in [
            (
                r#"{"title": {"en": "B"}, "kind": "birthday", "points": 5, "starts": "2027-01-01", "ends": "2027-01-31", "budget": 9}"#,
                "window_days must be between 1 and 366",
            ),
            (
                r#"{"title": {"en": "F"}, "kind": "first_purchase", "starts": "2027-01-01", "ends": "2027-01-31", "budget": 9}"#,
                "points must be between 1",
            ),
            (
                r#"{"title": {"en": "F"}, "kind": "first_purchase", "points": 5, "hours": [8, 9], "starts": "2027-01-01", "ends": "2027-01-31", "budget": 9}"#,
                "only a multiplier may be limited",
            ),
            (
                r#"{"title": {"en": "M"}, "kind": "multiplier", "multiplier_bps": 20000, "starts": "2027-02-01", "ends": "2027-01-31", "budget": 9}"#,
                "must end after it starts",
            ),
            (
                r#"{"title": {"en": "M"}, "kind": "multiplier", "multiplier_bps": 20000, "starts": "2027-02-30", "ends": "2027-03-31", "budget": 9}"#,
                "starts must be a date",
            ),
            (
                r#"{"title": {"en": "M"}, "kind": "multiplier", "multiplier_bps": 20000, "weekdays": ["xyz"], "starts": "2027-01-01", "ends": "2027-03-31", "budget": 9}"#,
                "is not one of",
            ),
            (
                r#"{"title": {"en": "M"}, "kind": "multiplier", "multiplier_bps": 20000, "starts": "2027-01-01", "ends": "2027-03-31", "budget": 0}"#,
                "budget must be between 1",
            ),
            (
                r#"{"title": {"en": "N"}, "kind": "nth_visit", "points": 5, "n": 1, "starts": "2027-01-01", "ends": "2027-03-31", "budget": 9}"#,
                "n must be between 2 and 1000",
            ),
            (
                r#"{"title": {"en": "M"}, "kind": "multiplier", "multiplier_bps": 20000, "tiers": [11], "starts": "2027-01-01", "ends": "2027-03-31", "budget": 9}"#,
                "tiers: 11 is not a tier",
            ),
            (
                r#"{"title": {"en": "M"}, "kind": "bogus", "starts": "2027-01-01", "ends": "2027-03-31", "budget": 9}"#,
                "unknown variant",
            ),
        ] {
            let err = CampaignDocument::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn birthdays_parse() {
        assert_eq!(Birthday::parse("17.05"), Birthday::new(5, 17));
        assert_eq!(Birthday::parse("1990-05-17"), Birthday::new(5, 17));
        assert_eq!(Birthday::parse("29/02"), Birthday::new(2, 29));
        assert_eq!(Birthday::parse("31.04"), None);
        assert_eq!(Birthday::parse("hello"), None);
    }
}
