//! The card's rotating code.
//!
//! A printed card carries the customer's static [`CustomerCode`]; the Mini App
//! shows instead a **rotating code**: the static code followed by a signature
//! of it and the current 30-second step, e.g. `ABCD2345-7K3M9QXZ`. A
//! screenshot of it stops working about a minute later, so a card cannot be
//! passed around as a picture. The partner bot and the POS lookup take both
//! forms ([`CardKey::read`]); only the rotating one expires.
//!
//! The signature is the first 40 bits of an HMAC-SHA256 of `card:<code>:<step>`
//! under a key derived from the client bot's token ([`CardKey::from_client_token`]),
//! which every runtime that issues or reads codes already holds (the API
//! validates the client bot's `initData` with it, the partner bot sends through
//! the client bot). Nothing is stored: any process with the token checks a
//! code on its own.
//!
//! ```
//! use loyalty_core::card::{CardCodeError, CardKey};
//! use loyalty_core::domain::{CustomerCode, Timestamp};
//!
//! let key = CardKey::from_client_token("1001:client-token");
//! let code = CustomerCode::parse("ABCD2345").unwrap();
//! let shown = key.issue(&code, Timestamp(1_000_000));
//! assert_eq!(shown.text.len(), 17);
//! assert_eq!(key.read(&shown.text, Timestamp(1_000_030)), Ok(code.clone()));
//! assert_eq!(key.read("abcd 2345", Timestamp(1_000_030)), Ok(code), "the printed code still works");
//! assert_eq!(key.read(&shown.text, Timestamp(1_000_300)), Err(CardCodeError::Expired));
//! ```

use crate::domain::{CustomerCode, Timestamp};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// An HMAC-SHA256 keyed with `key` (HMAC takes keys of every length).
fn mac(key: &[u8]) -> Hmac<Sha256> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Seconds a rotating code's step lasts: the Mini App shows a new code this often.
pub const STEP_SECS: i64 = 30;

/// Steps before the current one whose codes are still accepted: a code shown
/// just before its step ended, scanned a little later (up to 30–60 s old).
const STEPS_BEHIND: i64 = 1;
/// Steps ahead accepted: a page whose clock runs ahead of the server's.
const STEPS_AHEAD: i64 = 1;
/// How far back a code is recognised as expired rather than wrong (10 min).
const EXPIRED_STEPS: i64 = 20;

/// Characters of the signature (8 × 5 bits = 40 bits).
const SIGNATURE_LEN: usize = 8;

/// Why a scanned or typed card code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardCodeError {
    /// Neither a card's code nor a rotating code.
    #[error("not a card code")]
    Malformed,
    /// A rotating code that was valid up to a few minutes ago: the customer
    /// should show the card again.
    #[error("the card code has expired")]
    Expired,
    /// A rotating code whose signature is not the program's.
    #[error("the card code's signature does not match")]
    Forged,
}

/// A rotating code as the Mini App shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatingCode {
    /// The text: the customer's code, a dash, the signature (17 characters).
    pub text: String,
    /// When the step ends and the page should fetch the next code.
    pub refresh_at: Timestamp,
    /// When the code stops being accepted.
    pub expires_at: Timestamp,
}

/// The key that signs and checks rotating codes.
#[derive(Clone)]
pub struct CardKey([u8; 32]);

impl std::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardKey(…)")
    }
}

impl CardKey {
    /// The key derived from the client bot's token (`TOKEN_CLIENT`):
    /// HMAC-SHA256 keyed with `loyalty-rs card codes`. Changing the token
    /// invalidates the codes on screen, which are renewed within 30 s.
    pub fn from_client_token(token: &str) -> CardKey {
        let mut m = mac(b"loyalty-rs card codes");
        m.update(token.as_bytes());
        CardKey(m.finalize().into_bytes().into())
    }

    fn signature(&self, code: &CustomerCode, step: i64) -> [u8; SIGNATURE_LEN] {
        let mut m = mac(&self.0);
        m.update(format!("card:{}:{step}", code.as_str()).as_bytes());
        let digest = m.finalize().into_bytes();
        let mut n: u64 = 0;
        for b in &digest[..5] {
            n = (n << 8) | u64::from(*b);
        }
        let mut out = [0u8; SIGNATURE_LEN];
        for (i, c) in out.iter_mut().enumerate() {
            let shift = (SIGNATURE_LEN - 1 - i) * 5;
            *c = CustomerCode::ALPHABET[((n >> shift) & 31) as usize];
        }
        out
    }

    /// The rotating code of `code` at `now`.
    pub fn issue(&self, code: &CustomerCode, now: Timestamp) -> RotatingCode {
        let step = now.0.div_euclid(STEP_SECS);
        let signature = self.signature(code, step);
        let mut text = String::with_capacity(CustomerCode::LEN + 1 + SIGNATURE_LEN);
        text.push_str(code.as_str());
        text.push('-');
        text.extend(signature.iter().map(|&b| char::from(b)));
        let at = |steps: i64| Timestamp(step.saturating_add(steps).saturating_mul(STEP_SECS));
        RotatingCode { text, refresh_at: at(1), expires_at: at(1 + STEPS_BEHIND) }
    }

    /// The customer behind `input`, a card's static code or a rotating code
    /// (as typed: any case, `O` for `0`, `I`/`L` for `1`, spaces and dashes
    /// ignored), at `now`.
    pub fn read(&self, input: &str, now: Timestamp) -> Result<CustomerCode, CardCodeError> {
        let normal =
            CustomerCode::normalise(input, CustomerCode::LEN + SIGNATURE_LEN).ok_or(CardCodeError::Malformed)?;
        match normal.len() {
            CustomerCode::LEN => CustomerCode::parse(&normal).ok_or(CardCodeError::Malformed),
            n if n == CustomerCode::LEN + SIGNATURE_LEN => {
                let (code, given) = normal.split_at(CustomerCode::LEN);
                let code = CustomerCode::parse(code).ok_or(CardCodeError::Malformed)?;
                let step = now.0.div_euclid(STEP_SECS);
                let matches = |s: i64| bool::from(self.signature(&code, s).ct_eq(given.as_bytes()));
                if (step - STEPS_BEHIND..=step + STEPS_AHEAD).any(matches) {
                    Ok(code)
                } else if (step - EXPIRED_STEPS..step - STEPS_BEHIND).any(matches) {
                    Err(CardCodeError::Expired)
                } else {
                    Err(CardCodeError::Forged)
                }
            }
            _ => Err(CardCodeError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> CustomerCode {
        CustomerCode::parse("ABCD2345").unwrap()
    }

    #[test]
    fn a_code_lives_for_its_step_and_the_next() {
        let key = CardKey::from_client_token("1:t");
        let at = Timestamp(1_700_000_020); // 10 s into a step
        let shown = key.issue(&code(), at);
        assert_eq!(shown.refresh_at, Timestamp(1_700_000_020 - 10 + STEP_SECS));
        assert_eq!(shown.expires_at, Timestamp(shown.refresh_at.0 + STEP_SECS));
        assert!(shown.text.starts_with("ABCD2345-"), "{}", shown.text);
        for later in [0, 19, 20, 49] {
            assert_eq!(key.read(&shown.text, Timestamp(at.0 + later)), Ok(code()), "{later} s later");
        }
        for later in [50, 90, 599] {
            assert_eq!(key.read(&shown.text, Timestamp(at.0 + later)), Err(CardCodeError::Expired), "{later} s later");
        }
        assert_eq!(key.read(&shown.text, Timestamp(at.0 + 700)), Err(CardCodeError::Forged), "long gone");
        assert_eq!(key.read(&shown.text, Timestamp(at.0 - 30)), Ok(code()), "a page clock 30 s ahead");
        assert_eq!(key.read(&shown.text, Timestamp(at.0 - 60)), Err(CardCodeError::Forged));
    }

    #[test]
    fn codes_change_every_step_and_with_the_key_or_the_customer() {
        let key = CardKey::from_client_token("1:t");
        let a = key.issue(&code(), Timestamp(0)).text;
        let b = key.issue(&code(), Timestamp(STEP_SECS)).text;
        assert_ne!(a, b);
        assert_eq!(a, key.issue(&code(), Timestamp(STEP_SECS - 1)).text, "one code per step");
        let other_key = CardKey::from_client_token("1:u");
        assert_eq!(other_key.read(&a, Timestamp(0)), Err(CardCodeError::Forged));
        // Another customer's code with this signature is no code at all.
        let swapped = format!("ZZZZ2345{}", &a[8..]);
        assert_eq!(key.read(&swapped, Timestamp(0)), Err(CardCodeError::Forged));
    }

    #[test]
    fn typed_forms_and_garbage() {
        let key = CardKey::from_client_token("1:t");
        let shown = key.issue(&code(), Timestamp(0)).text;
        let typed = shown.to_lowercase().replace('-', " ").replace('0', "o").replace('1', "l");
        assert_eq!(key.read(&typed, Timestamp(0)), Ok(code()));
        assert_eq!(key.read(" abcd-2345 ", Timestamp(0)), Ok(code()));
        for bad in [
            "",
            "ABCD234",
            "ABCD23456",
            "ABCD2345-",
            "ABCD2345-1234567",
            "ABCD2345-123456789",
            "ABCD2345-ÄBCDEFGH",
            "ABCDU345",
        ] {
            let r = key.read(bad, Timestamp(0));
            if bad == "ABCD2345-" {
                assert_eq!(r, Ok(code()), "a trailing dash is ignored");
            } else {
                assert_eq!(r, Err(CardCodeError::Malformed), "{bad:?}");
            }
        }
        let long = "A".repeat(10_000);
        assert_eq!(key.read(&long, Timestamp(0)), Err(CardCodeError::Malformed));
        assert_eq!(key.read(&shown, Timestamp(i64::MIN)), Err(CardCodeError::Forged), "no overflow");
        assert_eq!(key.read(&shown, Timestamp(i64::MAX)), Err(CardCodeError::Forged), "no overflow");
    }

    #[test]
    fn the_key_does_not_print() {
        assert_eq!(format!("{:?}", CardKey::from_client_token("1:secret")), "CardKey(…)");
    }
}
