//! The loyalty program's domain: customers, partners, the append-only points
//! ledger and redemption requests, plus the pure rules every backend applies.
//!
//! Amounts are integers ([`Points`]); there are no floats anywhere in the
//! ledger. One point is worth one unit of the program's currency when redeemed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A signed number of points (credits are positive, debits negative).
pub type Points = i64;

/// Seconds since the Unix epoch, UTC. The core never reads a clock itself:
/// times come from the [`Clock`](crate::ports::Clock) port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Seconds in a day.
    pub const DAY: i64 = 86_400;

    /// The start (00:00 UTC) of the day containing `self`.
    pub fn day_start(self) -> Timestamp {
        Timestamp(self.0 - self.0.rem_euclid(Self::DAY))
    }

    /// `self` moved by `secs` seconds (negative moves back).
    pub fn plus(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// `YYYY-MM-DD HH:MM`, UTC (no clock or time zone database needed).
    ///
    /// ```
    /// assert_eq!(loyalty_core::domain::Timestamp(1_795_000_000).utc_minutes(), "2026-11-18 11:06");
    /// ```
    pub fn utc_minutes(self) -> String {
        let (days, secs) = (self.0.div_euclid(Self::DAY), self.0.rem_euclid(Self::DAY));
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", secs / 3600, (secs % 3600) / 60)
    }

    /// `YYYY-MM-DD`, UTC.
    ///
    /// ```
    /// assert_eq!(loyalty_core::domain::Timestamp(1_795_000_000).utc_date(), "2026-11-18");
    /// ```
    pub fn utc_date(self) -> String {
        let (y, m, d) = civil_from_days(self.0.div_euclid(Self::DAY));
        format!("{y:04}-{m:02}-{d:02}")
    }
}

impl Timestamp {
    /// Midnight UTC of a calendar date; `None` for a date that does not exist
    /// (month 13, February 30, February 29 of a common year).
    ///
    /// ```
    /// use loyalty_core::domain::Timestamp;
    ///
    /// assert_eq!(Timestamp::from_utc_date(1970, 1, 1), Some(Timestamp(0)));
    /// assert_eq!(Timestamp::from_utc_date(2024, 2, 29).unwrap().utc_minutes(), "2024-02-29 00:00");
    /// assert_eq!(Timestamp::from_utc_date(2025, 2, 29), None);
    /// ```
    pub fn from_utc_date(year: i64, month: u32, day: u32) -> Option<Timestamp> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month[month as usize - 1];
        valid.then(|| Timestamp(days_from_civil(year, month, day) * Timestamp::DAY))
    }
}

/// Howard Hinnant's algorithm: (year, month, day) → days since 1970-01-01.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's algorithm: days since 1970-01-01 → (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// A customer's internal id, assigned by the store.
    CustomerId
);
id_type!(
    /// A partner's internal id, assigned by the store.
    PartnerId
);
id_type!(
    /// A ledger entry's id, assigned by the store; increases with time.
    EntryId
);
id_type!(
    /// A redemption request's id, assigned by the store.
    RedemptionId
);
id_type!(
    /// A broadcast job's id, assigned by the store.
    BroadcastId
);
id_type!(
    /// A campaign's id, assigned by the store.
    CampaignId
);
id_type!(
    /// A reward's id in the catalogue, assigned by the store.
    RewardId
);
id_type!(
    /// A voucher's id (a claimed reward), assigned by the store.
    VoucherId
);
id_type!(
    /// A message's id in the outbox ([`Storage::enqueue_messages`](crate::ports::Storage::enqueue_messages)),
    /// assigned by the store; increases with time.
    MessageId
);
id_type!(
    /// A partner's staff member (a cashier, or an invitation to become one),
    /// assigned by the store.
    StaffId
);
id_type!(
    /// A registered webhook endpoint's id ([`Webhook`](crate::ports::Webhook)), assigned by the store.
    WebhookId
);
id_type!(
    /// A Telegram user id (also the private chat id with that user).
    TelegramUserId
);
id_type!(
    /// A bot's own Telegram id: the number before the colon in its token.
    ///
    /// Update claims are kept per bot id, not per [`BotKind`], so two
    /// deployments sharing one database (production and staging, each with its
    /// own bots) never take each other's updates for duplicates, and the
    /// idempotency keys the bots derive from updates carry it for the same
    /// reason. An engine without a bot's token uses [`BotId::unconfigured`].
    BotId
);

impl BotId {
    /// The id of `bot` when its token is not configured (an engine embedded
    /// without tokens, tests): a negative number per kind, which no real bot
    /// has.
    pub fn unconfigured(bot: BotKind) -> BotId {
        BotId(match bot {
            BotKind::Client => -1,
            BotKind::Partner => -2,
            BotKind::Admin => -3,
            BotKind::Alerts => -4,
        })
    }

    /// The id in a bot token (`123456:ABC…` → 123456); `None` when the token
    /// does not start with a number and a colon.
    pub fn from_token(token: &str) -> Option<BotId> {
        let (id, _) = token.split_once(':')?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        id.parse().ok().map(BotId)
    }
}

/// A customer's public code: 8 characters of Crockford base32 (no I, L, O, U),
/// about 40 bits of randomness. It appears in QR codes and deep links instead of
/// the Telegram id, so it must be unguessable but short enough to type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerCode(String);

impl CustomerCode {
    /// Length of a code in characters.
    pub const LEN: usize = 8;
    /// The Crockford base32 alphabet codes are written in.
    pub const ALPHABET: &'static [u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// Builds a code from 5 random bytes (40 bits, 8 × 5 bits).
    pub fn from_random(bytes: [u8; 5]) -> CustomerCode {
        let mut n: u64 = 0;
        for b in bytes {
            n = (n << 8) | u64::from(b);
        }
        let mut s = String::with_capacity(Self::LEN);
        for i in (0..Self::LEN).rev() {
            let idx = ((n >> (i * 5)) & 31) as usize;
            s.push(Self::ALPHABET[idx] as char);
        }
        CustomerCode(s)
    }

    /// Parses user input: case-insensitive, `O`→`0`, `I`/`L`→`1`, spaces and
    /// dashes ignored. Returns `None` unless exactly 8 valid characters remain.
    pub fn parse(input: &str) -> Option<CustomerCode> {
        Self::normalise(input, Self::LEN).filter(|s| s.len() == Self::LEN).map(CustomerCode)
    }

    /// `input` in the code alphabet as people type it: upper case, `O`→`0`,
    /// `I`/`L`→`1`, spaces and dashes dropped; `None` on any other character
    /// or past `max` characters (the card's rotating codes are read the same way).
    pub(crate) fn normalise(input: &str, max: usize) -> Option<String> {
        let mut s = String::with_capacity(max);
        for c in input.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !Self::ALPHABET.contains(&(c as u8)) || s.len() >= max {
                return None;
            }
            s.push(c);
        }
        Some(s)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CustomerCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        CustomerCode::parse(&s).ok_or_else(|| format!("invalid customer code {s:?}"))
    }
}

impl From<CustomerCode> for String {
    fn from(c: CustomerCode) -> String {
        c.0
    }
}

/// The languages of the bots' text catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Russian.
    Ru,
    /// English (the fallback).
    #[default]
    En,
    /// Vietnamese.
    Vi,
}

impl Language {
    /// All supported languages.
    pub const ALL: [Language; 3] = [Language::Ru, Language::En, Language::Vi];

    /// Picks a language from Telegram's `language_code` (IETF tag such as
    /// `ru`, `en-US`, `vi`); anything else falls back to English.
    pub fn from_code(code: Option<&str>) -> Language {
        let primary = code.unwrap_or("").split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "ru" | "uk" | "be" | "kk" => Language::Ru,
            "vi" => Language::Vi,
            _ => Language::En,
        }
    }

    /// The two-letter code (`ru`, `en`, `vi`).
    pub fn code(self) -> &'static str {
        match self {
            Language::Ru => "ru",
            Language::En => "en",
            Language::Vi => "vi",
        }
    }

    /// Parses exactly `ru`, `en` or `vi`.
    pub fn parse(code: &str) -> Option<Language> {
        match code {
            "ru" => Some(Language::Ru),
            "en" => Some(Language::En),
            "vi" => Some(Language::Vi),
            _ => None,
        }
    }
}

/// A customer of the program: one Telegram user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Internal id.
    pub id: CustomerId,
    /// The customer's Telegram user id.
    pub telegram_id: TelegramUserId,
    /// Public code shown in the QR card and used by partners.
    pub code: CustomerCode,
    /// First name as Telegram reported it at sign-up.
    pub first_name: String,
    /// Telegram username, if any.
    pub username: Option<String>,
    /// Chosen language for the bots' texts.
    pub language: Language,
    /// Who invited this customer, if anyone.
    pub referrer: Option<CustomerId>,
    /// Current balance: always the sum of the customer's ledger entries, never negative.
    pub balance: Points,
    /// A blocked customer can neither earn nor redeem.
    pub blocked: bool,
    /// When the customer signed up.
    pub created_at: Timestamp,
    /// The customer's tier: 0 none, else 1-based into the rules' `tiers.levels`
    /// (see [`program`](crate::program)).
    #[serde(default)]
    pub tier: u8,
}

/// Where a partner's application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerStatus {
    /// Applied, waiting for an admin.
    Applied,
    /// May credit and redeem points.
    Approved,
    /// Application refused.
    Rejected,
    /// Was approved, now stopped by an admin.
    Suspended,
}

impl PartnerStatus {
    /// The status as stored (`applied`, `approved`, `rejected`, `suspended`).
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerStatus::Applied => "applied",
            PartnerStatus::Approved => "approved",
            PartnerStatus::Rejected => "rejected",
            PartnerStatus::Suspended => "suspended",
        }
    }
}

/// Commercial terms of an approved partner. Rates are in basis points
/// (1 bp = 0.01 %), so every computation stays in integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerTerms {
    /// Points earned per purchase: `floor(purchase × earn_rate_bps / 10 000)`.
    pub earn_rate_bps: u32,
    /// Largest share of a purchase that may be paid with points, in bp.
    pub max_redeem_share_bps: u32,
    /// Most points the partner may credit per UTC day.
    pub daily_credit_limit: Points,
}

impl Default for PartnerTerms {
    /// 5 % back, up to 30 % of a purchase payable with points, 100 000 points a day.
    fn default() -> Self {
        PartnerTerms { earn_rate_bps: 500, max_redeem_share_bps: 3_000, daily_credit_limit: 100_000 }
    }
}

/// A merchant taking part in the program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// Internal id.
    pub id: PartnerId,
    /// The Telegram user who operates the partner bot for this merchant.
    pub telegram_id: TelegramUserId,
    /// Business name.
    pub name: String,
    /// Business category (free text, e.g. "cafe").
    pub category: String,
    /// Application status.
    pub status: PartnerStatus,
    /// Commercial terms.
    pub terms: PartnerTerms,
    /// Language for the partner bot's messages (from the application).
    pub language: Language,
    /// Whether a POS API key is set (only its hash is stored).
    pub has_api_key: bool,
    /// When the partner applied.
    pub created_at: Timestamp,
}

/// A partner's staff member: a cashier who credits and redeems for the
/// partner from their own Telegram account, or an invitation to become one.
///
/// The partner invites with a one-time link (only a hash of its token is
/// stored); the first Telegram user who opens it before `expires_at` joins.
/// A cashier may credit, ask for redemptions, stamp cards and take vouchers
/// for the partner ([`PartnerRef::Till`](crate::ports::PartnerRef::Till)),
/// never see its figures or keys or manage its staff; every entry they make
/// records them ([`LedgerEntry::cashier`]). Revoking takes effect at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    /// Id.
    pub id: StaffId,
    /// The partner they work for.
    pub partner: PartnerId,
    /// Their Telegram user, once joined.
    pub telegram_id: Option<TelegramUserId>,
    /// Their first name in Telegram when they joined (empty before).
    pub name: String,
    /// When the invitation was made.
    pub invited_at: Timestamp,
    /// The invitation cannot be used after this.
    pub expires_at: Timestamp,
    /// When they joined.
    pub joined_at: Option<Timestamp>,
    /// When the partner revoked them (or the invitation).
    pub revoked_at: Option<Timestamp>,
}

impl Staff {
    /// Where they stand at `now`.
    pub fn status(&self, now: Timestamp) -> StaffStatus {
        match (self.revoked_at, self.joined_at) {
            (Some(_), _) => StaffStatus::Revoked,
            (None, Some(_)) => StaffStatus::Active,
            (None, None) if now > self.expires_at => StaffStatus::Expired,
            (None, None) => StaffStatus::Invited,
        }
    }
}

/// Where a [`Staff`] member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffStatus {
    /// Invited; the link still works.
    Invited,
    /// The link expired unused.
    Expired,
    /// A cashier now.
    Active,
    /// Revoked by the partner.
    Revoked,
}

/// The kind of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Sign-up bonus, once per customer.
    WelcomeBonus,
    /// Bonus to a referrer, once per referred customer.
    ReferralBonus,
    /// Points earned on a purchase at a partner.
    Accrual,
    /// Points spent at a partner (negative).
    Redemption,
    /// Cancels an earlier accrual or redemption (opposite sign).
    Reversal,
    /// Manual correction by an admin, with a reason.
    Adjustment,
    /// A balance brought from another system by an import (`loyalty import
    /// legacy`): the opening balance of an imported customer, or the change of
    /// that balance seen by a later run of the import.
    Import,
    /// A record of the other system's history, kept by an import for the
    /// customer to see. Read-only and **not counted**: its amount is what the
    /// other system recorded, and the [`EntryKind::Import`] entry already
    /// carries the balance it led to. The only kind a customer's balance does
    /// not sum.
    Legacy,
    /// Points that reached their expiry date unspent (negative; see
    /// [`program`](crate::program)). Made by the expiry job, once per lot.
    Expiry,
}

impl EntryKind {
    /// The kind as stored (`welcome_bonus`, `accrual`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::WelcomeBonus => "welcome_bonus",
            EntryKind::ReferralBonus => "referral_bonus",
            EntryKind::Accrual => "accrual",
            EntryKind::Redemption => "redemption",
            EntryKind::Reversal => "reversal",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Import => "import",
            EntryKind::Legacy => "legacy",
            EntryKind::Expiry => "expiry",
        }
    }

    /// Whether the entry's amount counts in the balance (all kinds but
    /// [`EntryKind::Legacy`]).
    pub fn counts(self) -> bool {
        self != EntryKind::Legacy
    }
}

/// Who caused a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Author {
    /// The program itself (bonuses).
    System,
    /// A customer (confirming a redemption).
    Customer(CustomerId),
    /// A partner (accruals, reversals).
    Partner(PartnerId),
    /// An admin, by Telegram user id (adjustments).
    Admin(TelegramUserId),
}

/// One append-only ledger entry. Entries are never updated or deleted; a
/// mistake is corrected by a [`EntryKind::Reversal`] or an
/// [`EntryKind::Adjustment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Entry id.
    pub id: EntryId,
    /// Whose balance the entry changes.
    pub customer: CustomerId,
    /// What kind of movement it is.
    pub kind: EntryKind,
    /// Signed amount.
    pub amount: Points,
    /// The partner involved, for accruals, redemptions and their reversals.
    pub partner: Option<PartnerId>,
    /// Purchase amount, for accruals and redemptions.
    pub purchase: Option<Points>,
    /// Unique key: the same key is never applied twice.
    pub idempotency_key: String,
    /// Who caused the entry.
    pub author: Author,
    /// The entry this one reverses, for reversals.
    pub reverses: Option<EntryId>,
    /// Free-text reason, for adjustments.
    pub reason: Option<String>,
    /// When it was applied.
    pub created_at: Timestamp,
    /// The version of the [program's rules](crate::program) in force when it
    /// was applied (0: the defaults, before any change).
    #[serde(default)]
    pub rules_version: u32,
    /// The partner's cashier who made it at the till (an accrual, or a
    /// redemption the cashier asked for); `None` when the partner itself did
    /// (its own bot account or its POS key) or for entries without a partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<StaffId>,
}

/// State of a redemption request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    /// Waiting for the customer.
    Pending,
    /// Confirmed: the points were debited.
    Confirmed,
    /// Declined by the customer.
    Declined,
    /// Not answered in time.
    Expired,
}

impl RedemptionStatus {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RedemptionStatus::Pending => "pending",
            RedemptionStatus::Confirmed => "confirmed",
            RedemptionStatus::Declined => "declined",
            RedemptionStatus::Expired => "expired",
        }
    }
}

/// A partner's request to debit a customer's points, applied only when the
/// customer confirms it before it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionRequest {
    /// Request id.
    pub id: RedemptionId,
    /// The customer asked to pay with points.
    pub customer: CustomerId,
    /// The partner asking.
    pub partner: PartnerId,
    /// Points to debit (positive).
    pub points: Points,
    /// The purchase the points pay for.
    pub purchase: Points,
    /// Current state.
    pub status: RedemptionStatus,
    /// When it was opened.
    pub created_at: Timestamp,
    /// After this instant it can no longer be confirmed.
    pub expires_at: Timestamp,
    /// The ledger entry, once confirmed.
    pub entry: Option<EntryId>,
    /// The partner's cashier who asked, when it was not the partner itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<StaffId>,
}

/// Who receives a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every customer that is not blocked.
    Customers,
    /// Every approved partner.
    Partners,
}

/// A broadcast job: a message delivered to an audience in batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastJob {
    /// Job id.
    pub id: BroadcastId,
    /// Who receives it.
    pub audience: Audience,
    /// The text to send.
    pub text: String,
    /// The admin chat that gets progress reports.
    pub admin_chat: i64,
    /// Recipients known when the job was created.
    pub total: u32,
    /// Messages delivered so far.
    pub sent: u32,
    /// Messages that failed permanently (e.g. the user blocked the bot).
    pub failed: u32,
    /// Position of the last claimed recipient (store-defined, increasing).
    pub cursor: i64,
    /// Every recipient has been claimed.
    pub done: bool,
    /// When it was created.
    pub created_at: Timestamp,
}

/// One recipient of a broadcast batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Chat to send to.
    pub chat_id: TelegramUserId,
    /// Language to mention in any prefix.
    pub language: Language,
}

/// The pure rules of the program, shared by every storage backend (the SQL
/// functions implement the same formulas; the conformance suite checks them).
pub mod rules {
    use super::Points;

    /// Basis points in 100 %.
    pub const BPS: i64 = 10_000;

    /// Points earned on a purchase — **the one formula of earning**:
    /// `base = floor(purchase × rate / 10 000)`, then
    /// `earned = floor(base × multiplier / 10 000)`, the multiplier being the
    /// customer's tier's (10 000 = 1× without one). "+120: 100 base × 1.2".
    pub fn earned(purchase: Points, rate_bps: u32, multiplier_bps: u32) -> Points {
        accrual(accrual(purchase, rate_bps), multiplier_bps)
    }

    /// **The stacking rule** of multipliers: a base of points times the
    /// customer's tier's multiplier, then times a campaign's, each step
    /// rounded down — `floor(floor(base × tier / 10 000) × campaign / 10 000)`.
    /// Multipliers multiply (a 1.5× tier in a 2× week earns 3×); the tier's
    /// applies first, so the tier part of a credit is [`earned`]'s and the
    /// campaign pays exactly the difference. At most one multiplier campaign
    /// applies to a purchase (the one paying most); fixed bonuses (first
    /// purchase, birthday, n-th visit) are added after, unmultiplied.
    ///
    /// ```
    /// use loyalty_core::domain::rules::stacked;
    /// assert_eq!(stacked(100, 12_000, 20_000), 240); // 100 × 1.2 × 2
    /// assert_eq!(stacked(7, 15_000, 15_000), 15);    // floor(floor(10.5) × 1.5)
    /// ```
    pub fn stacked(base: Points, tier_bps: u32, campaign_bps: u32) -> Points {
        accrual(accrual(base, tier_bps), campaign_bps)
    }

    /// Points earned on `purchase` at `rate_bps`: `floor(purchase × rate / 10 000)`.
    /// Computed in 128 bits so it never overflows; negative inputs give 0.
    pub fn accrual(purchase: Points, rate_bps: u32) -> Points {
        if purchase <= 0 {
            return 0;
        }
        let v = i128::from(purchase) * i128::from(rate_bps) / i128::from(BPS);
        Points::try_from(v).unwrap_or(Points::MAX)
    }

    /// Most points payable on `purchase` when at most `share_bps` of it may be
    /// paid with points: `floor(purchase × share / 10 000)`.
    pub fn max_redeemable(purchase: Points, share_bps: u32) -> Points {
        accrual(purchase, share_bps)
    }

    /// Largest purchase amount accepted (10¹² units), so sums stay far from overflow.
    pub const MAX_PURCHASE: Points = 1_000_000_000_000;

    /// Largest single manual adjustment, either sign.
    pub const MAX_ADJUSTMENT: Points = 1_000_000_000;

    /// How long a customer has to answer a redemption request (10 minutes).
    pub const REDEMPTION_TTL_SECS: i64 = 600;

    /// How long a partner may reverse its own entry (24 hours).
    pub const REVERSAL_WINDOW_SECS: i64 = 86_400;

    /// How long a staff invitation link works (48 hours).
    pub const STAFF_INVITE_TTL_SECS: i64 = 172_800;

    /// Most staff a partner may have at once: cashiers and invitations not yet
    /// expired, together.
    pub const MAX_STAFF: i64 = 20;

    /// How a partner's POS API key is stored: lower-case hex SHA-256 of the key.
    /// Keys are 32 random bytes, so a plain hash (no salt, no stretching) is enough.
    pub fn hash_api_key(key: &str) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(key.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accrual_floors_and_never_overflows() {
        assert_eq!(rules::accrual(999, 500), 49);
        assert_eq!(rules::accrual(1000, 500), 50);
        assert_eq!(rules::accrual(0, 500), 0);
        assert_eq!(rules::accrual(-5, 500), 0);
        assert_eq!(rules::accrual(Points::MAX, u32::MAX), Points::MAX);
    }

    #[test]
    fn code_roundtrip_and_lenient_parse() {
        let c = CustomerCode::from_random([0xde, 0xad, 0xbe, 0xef, 0x01]);
        assert_eq!(c.as_str().len(), 8);
        assert_eq!(CustomerCode::parse(c.as_str()), Some(c.clone()));
        assert_eq!(CustomerCode::parse(&c.as_str().to_lowercase()), Some(c));
        assert_eq!(CustomerCode::parse("0O1IL-abc d"), None, "nine characters");
        assert_eq!(CustomerCode::parse("0o1il abc").map(String::from), Some("00111ABC".into()));
        assert_eq!(CustomerCode::parse("ab-cd 12 34").map(String::from), Some("ABCD1234".into()));
        assert_eq!(CustomerCode::parse("ABCD123U"), None);
        assert_eq!(CustomerCode::parse("ABCD12345"), None);
        assert_eq!(CustomerCode::parse("ÄBCD1234"), None);
    }

    #[test]
    fn language_from_code() {
        assert_eq!(Language::from_code(Some("ru-RU")), Language::Ru);
        assert_eq!(Language::from_code(Some("vi")), Language::Vi);
        assert_eq!(Language::from_code(Some("de")), Language::En);
        assert_eq!(Language::from_code(None), Language::En);
    }

    #[test]
    fn day_start_is_utc_midnight() {
        assert_eq!(Timestamp(86_400 * 3 + 5).day_start(), Timestamp(86_400 * 3));
        assert_eq!(Timestamp(-1).day_start(), Timestamp(-86_400));
    }
}

/// Which bot an update came to (and which token sends a call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotKind {
    /// The customers' bot (`TOKEN_CLIENT`).
    Client,
    /// The merchants' bot (`TOKEN_PARTNER`).
    Partner,
    /// The admins' bot (`ADMIN_BOT_TOKEN`).
    Admin,
    /// The bot that posts Sentry alerts (`SENTRY_ALERT_TELEGRAM_TOKEN`).
    Alerts,
}

impl BotKind {
    /// The three bots that receive updates.
    pub const WEBHOOK_BOTS: [BotKind; 3] = [BotKind::Client, BotKind::Partner, BotKind::Admin];

    /// Lower-case name (`client`, `partner`, `admin`, `alerts`), as used in routes.
    pub fn as_str(self) -> &'static str {
        match self {
            BotKind::Client => "client",
            BotKind::Partner => "partner",
            BotKind::Admin => "admin",
            BotKind::Alerts => "alerts",
        }
    }

    /// Parses [`BotKind::as_str`] output.
    pub fn parse(s: &str) -> Option<BotKind> {
        match s {
            "client" => Some(BotKind::Client),
            "partner" => Some(BotKind::Partner),
            "admin" => Some(BotKind::Admin),
            "alerts" => Some(BotKind::Alerts),
            _ => None,
        }
    }
}
