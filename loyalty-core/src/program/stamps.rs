//! Stamp cards: "the 10th coffee is free".
//!
//! A partner may run a stamp card beside its points, or instead of them: the
//! cashier gives one stamp per qualifying visit ([`Storage::add_stamp`], idempotent
//! by key, so a retried request stamps once), and the stamp that fills the card
//! — the `needed`-th — completes it: the customer gets the card's reward at
//! the counter there and then, and a new card starts empty. Stamps are kept
//! per customer and partner; changing a card's size keeps what customers have
//! (a card already past the new size completes at its next stamp); ending the
//! card ([`SetStampCard::needed`] 0) keeps them too, for when it comes back.
//!
//! [`Storage::add_stamp`]: crate::ports::Storage::add_stamp
//! [`SetStampCard::needed`]: crate::ports::SetStampCard::needed

use crate::domain::{CustomerId, PartnerId, Timestamp};
use serde::{Deserialize, Serialize};

/// The fewest stamps a card may need.
pub const MIN_STAMPS: u32 = 2;
/// The most stamps a card may need.
pub const MAX_STAMPS: u32 = 50;
/// The longest reward text, in characters.
pub const MAX_STAMP_REWARD_CHARS: usize = 100;

/// A partner's stamp card, as the partner set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampCard {
    /// Whose.
    pub partner: PartnerId,
    /// Stamps that fill the card, [`MIN_STAMPS`]..=[`MAX_STAMPS`].
    pub needed: u32,
    /// What a full card gives, as the partner wrote it (e.g. "a free coffee").
    pub reward: String,
    /// When it was last set.
    pub updated_at: Timestamp,
}

/// A customer's stamps at one partner with a card running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampProgress {
    /// The customer.
    pub customer: CustomerId,
    /// The card.
    pub card: StampCard,
    /// The partner's name.
    pub partner_name: String,
    /// Stamps on the current card, `0..needed` (more only if the partner
    /// made the card smaller since: the next stamp completes it).
    pub stamps: u32,
    /// Cards filled so far.
    pub completed: u32,
}

/// Why a card's terms are not acceptable: `Err` with the reason in English.
pub fn check_card(needed: u32, reward: &str) -> Result<(), String> {
    if !(MIN_STAMPS..=MAX_STAMPS).contains(&needed) {
        return Err(format!("a card needs {MIN_STAMPS} to {MAX_STAMPS} stamps"));
    }
    let chars = reward.trim().chars().count();
    if chars == 0 || chars > MAX_STAMP_REWARD_CHARS || reward.trim() != reward {
        return Err(format!("the reward is 1 to {MAX_STAMP_REWARD_CHARS} characters, without surrounding spaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_checked() {
        assert_eq!(check_card(10, "a free coffee"), Ok(()));
        assert_eq!(check_card(MIN_STAMPS, "x"), Ok(()));
        assert!(check_card(1, "x").is_err());
        assert!(check_card(MAX_STAMPS + 1, "x").is_err());
        assert!(check_card(10, "").is_err());
        assert!(check_card(10, " padded ").is_err());
        assert!(check_card(10, &"x".repeat(MAX_STAMP_REWARD_CHARS + 1)).is_err());
        assert_eq!(check_card(10, &"☕".repeat(MAX_STAMP_REWARD_CHARS)), Ok(()));
    }
}
