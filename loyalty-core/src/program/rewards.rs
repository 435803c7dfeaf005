//! The rewards catalogue: what customers spend points on.
//!
//! A partner publishes a [`Reward`] — a title and description per language, a
//! price in points, an optional stock, an optional availability window, an
//! optional photo and category. Under the rules document's
//! `rewards.moderation` (`approval`, the default, or `open`) it waits for an
//! admin or is shown at once.
//!
//! A customer who claims a reward pays its price at once (a
//! [`EntryKind::Redemption`](crate::domain::EntryKind::Redemption) entry at the
//! reward's partner) and gets a one-time [`Voucher`]: a code the cashier scans
//! or types in the partner bot (or sends to the POS API), which marks it used.
//! A customer may cancel a voucher not yet used: the price comes back (a
//! reversal of the payment) and so does the unit of stock. The store decides
//! stock and balance inside the claim's one call, so concurrent claims never
//! sell more than the stock nor spend more than the balance.

use super::{Localized, check_text, is_default};
use crate::domain::{CustomerId, EntryId, PartnerId, Points, RewardId, Timestamp, VoucherId};
use serde::{Deserialize, Serialize};

/// The highest price of a reward.
pub const MAX_REWARD_PRICE: Points = 1_000_000_000;

/// The largest stock of a reward.
pub const MAX_REWARD_STOCK: u32 = 1_000_000;

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 64;

/// The longest category name: 1 to 24 of `a-z`, `0-9`, `-` and `_` (it goes
/// into buttons' callback data and URLs as it is).
pub const MAX_CATEGORY_CHARS: usize = 24;

/// The longest photo reference (a Telegram `file_id` or an `https://` URL).
pub const MAX_PHOTO_CHARS: usize = 512;

/// The most rewards one [`Storage::rewards`](crate::ports::Storage::rewards) call lists.
pub const MAX_REWARDS_LISTED: u32 = 50;

/// The most vouchers one [`Storage::vouchers`](crate::ports::Storage::vouchers) call lists.
pub const MAX_VOUCHERS_LISTED: u32 = 50;

/// A voucher code: 10 characters of [`VOUCHER_ALPHABET`], printed `XXXXX-XXXXX`.
pub const VOUCHER_CODE_LEN: usize = 10;

/// The characters of voucher codes: no `0/O`, `1/I/L`, so a cashier cannot
/// misread one.
pub const VOUCHER_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// The `rewards` section of the rules document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardRules {
    /// Whether a partner's new reward waits for an admin.
    #[serde(default, skip_serializing_if = "is_default")]
    pub moderation: RewardModeration,
}

/// Whether a partner's new reward waits for an admin (`rewards.moderation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardModeration {
    /// It waits for an admin's approval (the default).
    #[default]
    Approval,
    /// It is shown at once.
    Open,
}

/// What a partner offers: everything of a [`Reward`] the partner chooses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardOffer {
    /// Its title per language, 1..=[`MAX_TITLE_CHARS`] characters each.
    pub title: Localized,
    /// Its description per language, 1..=200 characters each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Localized>,
    /// Its category (see [`MAX_CATEGORY_CHARS`]), to browse by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Its price in points, 1..=[`MAX_REWARD_PRICE`].
    pub price: Points,
    /// How many can be claimed in all, 0..=[`MAX_REWARD_STOCK`]; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<u32>,
    /// Claimable from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_from: Option<Timestamp>,
    /// Claimable until just before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_until: Option<Timestamp>,
    /// A photo: a Telegram `file_id` (of the client bot) or an `https://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
}

impl RewardOffer {
    /// Checks the offer's own rules; the error says what is wrong, in English.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn check(&self) -> Result<(), String> {
        check_text(&self.title, "title")?;
        for t in [Some(&self.title.en), self.title.ru.as_ref(), self.title.vi.as_ref()].into_iter().flatten() {
            if t.chars().count() > MAX_TITLE_CHARS {
                return Err(format!("title: a title must have at most {MAX_TITLE_CHARS} characters"));
            }
        }
        if let Some(description) = &self.description {
            check_text(description, "description")?;
        }
        if let Some(category) = &self.category
            && !is_category(category)
        {
            return Err(format!("category: 1 to {MAX_CATEGORY_CHARS} of a-z, 0-9, '-' and '_', not {category:?}"));
        }
        if !(1..=MAX_REWARD_PRICE).contains(&self.price) {
            return Err(format!("price must be between 1 and {MAX_REWARD_PRICE}, not {}", self.price));
        }
        if self.stock.is_some_and(|s| s > MAX_REWARD_STOCK) {
            return Err(format!("stock must be at most {MAX_REWARD_STOCK}"));
        }
        if let (Some(from), Some(until)) = (self.available_from, self.available_until)
            && from >= until
        {
            return Err("available_from must come before available_until".to_owned());
        }
        if let Some(photo) = &self.photo
            && (photo.is_empty()
                || photo.len() > MAX_PHOTO_CHARS
                || photo.chars().any(|c| c.is_whitespace() || c.is_control())
                || (photo.contains(':') && !photo.starts_with("https://")))
        {
            return Err(format!("photo: a Telegram file_id or an https:// URL of at most {MAX_PHOTO_CHARS} bytes"));
        }
        Ok(())
    }
}

/// Whether `name` is a valid category name (see [`MAX_CATEGORY_CHARS`]).
pub fn is_category(name: &str) -> bool {
    (1..=MAX_CATEGORY_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Where a reward stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardStatus {
    /// Waiting for an admin.
    Pending,
    /// Shown to customers (within its window, while in stock).
    Active,
    /// Refused by an admin.
    Rejected,
    /// Taken off by its partner or an admin.
    Withdrawn,
}

impl RewardStatus {
    /// Its name in the stores and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RewardStatus::Pending => "pending",
            RewardStatus::Active => "active",
            RewardStatus::Rejected => "rejected",
            RewardStatus::Withdrawn => "withdrawn",
        }
    }
}

/// A reward of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    /// Its id.
    pub id: RewardId,
    /// The partner that gives it.
    pub partner: PartnerId,
    /// The partner's name now.
    pub partner_name: String,
    /// What is offered.
    pub offer: RewardOffer,
    /// Where it stands.
    pub status: RewardStatus,
    /// Vouchers issued and not cancelled (used ones included).
    pub claimed: u32,
    /// When it was published.
    pub created_at: Timestamp,
}

impl Reward {
    /// How many can still be claimed (`None`: no limit).
    pub fn left(&self) -> Option<u32> {
        self.offer.stock.map(|s| s.saturating_sub(self.claimed))
    }

    /// Whether it is offered at `now` (its partner's approval and its stock
    /// aside): active and within its window.
    pub fn offered(&self, now: Timestamp) -> bool {
        self.status == RewardStatus::Active
            && self.offer.available_from.is_none_or(|from| from <= now)
            && self.offer.available_until.is_none_or(|until| now < until)
    }

    /// Whether a customer may claim it at `now` (its partner's approval aside):
    /// [offered](Reward::offered) and in stock.
    pub fn claimable(&self, now: Timestamp) -> bool {
        self.offered(now) && self.left() != Some(0)
    }
}

/// Where a voucher stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    /// Paid for, not yet used.
    Issued,
    /// Used at the partner.
    Used,
    /// Cancelled by the customer, the price given back.
    Cancelled,
}

/// A claimed reward: paid for, used once at its partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    /// Its id.
    pub id: VoucherId,
    /// Its one-time code (see [`VOUCHER_CODE_LEN`]).
    pub code: String,
    /// The reward.
    pub reward: RewardId,
    /// The customer who claimed it.
    pub customer: CustomerId,
    /// The reward's partner.
    pub partner: PartnerId,
    /// The price paid.
    pub points: Points,
    /// Where it stands.
    pub status: VoucherStatus,
    /// The payment (a redemption entry at the partner).
    pub entry: EntryId,
    /// The refund of a cancelled voucher (a reversal of the payment).
    pub refund: Option<EntryId>,
    /// When it was claimed.
    pub created_at: Timestamp,
    /// When it was used or cancelled.
    pub closed_at: Option<Timestamp>,
}

/// `code` as a voucher code: letters upper-cased, spaces and dashes dropped;
/// `None` unless [`VOUCHER_CODE_LEN`] characters of [`VOUCHER_ALPHABET`] remain.
pub fn parse_voucher_code(code: &str) -> Option<String> {
    let code: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == VOUCHER_CODE_LEN && code.bytes().all(|b| VOUCHER_ALPHABET.contains(&b))).then_some(code)
}

/// `code` (a stored voucher code) as printed: `XXXXX-XXXXX`.
pub fn print_voucher_code(code: &str) -> String {
    match (code.get(..5), code.get(5..)) {
        (Some(a), Some(b)) if !b.is_empty() => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

/// A fresh voucher code from 16 random bytes (the caller's randomness port).
pub fn voucher_code(random: [u8; 16]) -> String {
    random[..VOUCHER_CODE_LEN]
        .iter()
        .map(|b| VOUCHER_ALPHABET[usize::from(*b) % VOUCHER_ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> RewardOffer {
        RewardOffer {
            title: Localized { en: "Coffee".into(), ru: Some("Кофе".into()), vi: None },
            description: None,
            category: Some("drinks".into()),
            price: 500,
            stock: Some(10),
            available_from: None,
            available_until: None,
            photo: None,
        }
    }

    #[test]
    fn an_offer_is_checked() {
        assert_eq!(offer().check(), Ok(()));
        let bad = [
            RewardOffer { price: 0, ..offer() },
            RewardOffer { price: MAX_REWARD_PRICE + 1, ..offer() },
            RewardOffer { stock: Some(MAX_REWARD_STOCK + 1), ..offer() },
            RewardOffer { category: Some("Drinks".into()), ..offer() },
            RewardOffer { category: Some(String::new()), ..offer() },
            RewardOffer { available_from: Some(Timestamp(5)), available_until: Some(Timestamp(5)), ..offer() },
            RewardOffer { photo: Some("http://example.com/a.png".into()), ..offer() },
            RewardOffer { photo: Some("a b".into()), ..offer() },
            RewardOffer { title: Localized { en: "x".repeat(MAX_TITLE_CHARS + 1), ru: None, vi: None }, ..offer() },
            RewardOffer { title: Localized { en: " ".into(), ru: None, vi: None }, ..offer() },
        ];
        for b in bad {
            assert!(b.check().is_err(), "{b:?}");
        }
    }

    #[test]
    fn voucher_codes_read_back_however_typed() {
        let code = voucher_code([7; 16]);
        assert_eq!(code.len(), VOUCHER_CODE_LEN);
        let printed = print_voucher_code(&code);
        assert_eq!(parse_voucher_code(&printed.to_lowercase()), Some(code.clone()));
        assert_eq!(parse_voucher_code(&format!(" {printed} ")), Some(code));
        assert_eq!(parse_voucher_code("ABCDE-FGHI0"), None);
        assert_eq!(parse_voucher_code("ABCDE"), None);
        assert_eq!(parse_voucher_code("ДДДДДДДДДД"), None);
    }

    #[test]
    fn stock_and_window_decide_claimability() {
        let mut r = Reward {
            id: RewardId(1),
            partner: PartnerId(1),
            partner_name: "Pho 24".into(),
            offer: RewardOffer { available_from: Some(Timestamp(10)), available_until: Some(Timestamp(20)), ..offer() },
            status: RewardStatus::Active,
            claimed: 9,
            created_at: Timestamp(0),
        };
        assert!(!r.claimable(Timestamp(9)));
        assert!(r.claimable(Timestamp(10)));
        assert!(!r.claimable(Timestamp(20)));
        r.claimed = 10;
        assert_eq!(r.left(), Some(0));
        assert!(!r.claimable(Timestamp(15)));
    }
}
