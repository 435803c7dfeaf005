//! Helpers shared by the three bots: parsing amounts and the
//! split between "tell the user" and "let Telegram retry".

use crate::context::Context;
use crate::domain::{Language, Points};
use crate::error::{Error, Result};
use crate::ports::{ErrorReport, StoreError, StoreResult};
use crate::texts::Fixed;

/// Splits a storage result three ways:
/// - success → `Ok(Ok(value))`;
/// - a rule rejection → `Ok(Err(text))`, a helpful message for the user;
/// - a permanent backend failure → `Ok(Err(text))` as well, after reporting it;
/// - a temporary failure → `Err(_)`, so the webhook answers 5xx and Telegram retries.
pub(crate) async fn settle<T>(
    cx: &Context,
    lang: Language,
    context: &'static str,
    r: StoreResult<T>,
) -> Result<std::result::Result<T, String>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(StoreError::Rejected(rej)) => Ok(Err(lang.texts().rejection(&rej))),
        // A duplicate delivery: the engine drops the whole update.
        Err(e @ StoreError::DuplicateUpdate) => Err(Error::Store(e)),
        Err(e) if e.is_temporary() => Err(Error::Store(e)),
        Err(e) => {
            cx.report(ErrorReport::new(e.to_string(), context, false)).await;
            Ok(Err(lang.say(Fixed::InternalError).to_string()))
        }
    }
}

/// The longest list a command answers, in characters (Telegram allows 4096 in a message).
pub(crate) const MAX_LIST_CHARS: usize = 3_800;

/// `items` one after another with a blank line between, as many as fit
/// [`MAX_LIST_CHARS`] (then "…"); `None` when there are none.
pub(crate) fn list_text(items: impl IntoIterator<Item = String>) -> Option<String> {
    let mut text = String::new();
    for item in items {
        if text.chars().count() + item.chars().count() + 2 > MAX_LIST_CHARS {
            text.push_str("\n\n…");
            break;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&item);
    }
    (!text.is_empty()).then_some(text)
}

/// A positive id as typed: `42` or `#42`.
pub(crate) fn parse_id(s: &str) -> Option<i64> {
    let s = s.trim();
    s.strip_prefix('#').unwrap_or(s).parse::<i64>().ok().filter(|id| *id > 0)
}

/// Parses a positive whole amount typed by a person: digits with optional
/// spaces, dots, commas or underscores as thousands separators (`1 500`,
/// `1.500`, `1,500`). Rejects signs, decimals with other lengths, and zero.
pub(crate) fn parse_amount(s: &str) -> Option<Points> {
    let s = s.trim();
    if s.is_empty() || s.len() > 24 {
        return None;
    }
    let mut digits = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '_' | '.' | ',' | '\u{202F}' | '\u{00A0}' => {}
            _ => return None,
        }
    }
    let n: Points = digits.parse().ok()?;
    (n > 0 && n <= crate::domain::rules::MAX_PURCHASE).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts() {
        assert_eq!(parse_amount("1500"), Some(1500));
        assert_eq!(parse_amount("1 500"), Some(1500));
        assert_eq!(parse_amount("1,500"), Some(1500));
        assert_eq!(parse_amount("0"), None);
        assert_eq!(parse_amount("-5"), None);
        assert_eq!(parse_amount("abc"), None);
        assert_eq!(parse_amount("99999999999999999999"), None);
    }
}
