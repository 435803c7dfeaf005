//! Telegram Mini App `initData`: validation (what this server does for every
//! customer request) and signing (what Telegram does when it opens the Mini
//! App; used by tests and the scenario harness).
//!
//! The algorithm is the one in Telegram's "Validating data received via the
//! Mini App": the data-check-string is every received `key=value` pair except
//! `hash`, sorted by key and joined with `\n`; the secret key is
//! `HMAC-SHA256(key = "WebAppData", message = bot token)`; the hash is the hex
//! `HMAC-SHA256(key = secret key, message = data-check-string)`.

use crate::domain::Timestamp;
use hmac::Mac;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// How far in the future `auth_date` may lie (clock skew), in seconds.
pub const MAX_FUTURE_SKEW_SECS: i64 = 300;

/// Longest `initData` accepted, in bytes (Telegram's are well under 4 KiB).
pub const MAX_INIT_DATA_LEN: usize = 16 * 1024;

/// The Telegram user who opened the Mini App (`user` field of `initData`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebAppUser {
    /// Telegram user id.
    pub id: i64,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name, if any.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Username, if any.
    #[serde(default)]
    pub username: Option<String>,
    /// IETF language tag of the user's Telegram client.
    #[serde(default)]
    pub language_code: Option<String>,
}

/// Validated `initData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitData {
    /// The user, when Telegram sent one (always, for Mini Apps opened from a private chat).
    pub user: Option<WebAppUser>,
    /// When Telegram signed the data.
    pub auth_date: Timestamp,
    /// `query_id`, for answering inline Mini App queries.
    pub query_id: Option<String>,
    /// `start_param` from a `startapp` link.
    pub start_param: Option<String>,
}

/// Why `initData` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitDataError {
    /// Not a query string of `key=value` pairs (bad escapes, duplicate keys, too long).
    #[error("initData is malformed")]
    Malformed,
    /// No `hash` field.
    #[error("initData has no hash")]
    MissingHash,
    /// `hash` is not 64 hex digits.
    #[error("initData hash is not hex SHA-256")]
    BadHash,
    /// The hash does not match: forged, tampered with, or signed for another bot.
    #[error("initData signature does not match")]
    SignatureMismatch,
    /// No valid `auth_date` field.
    #[error("initData has no valid auth_date")]
    MissingAuthDate,
    /// `auth_date` is older than allowed.
    #[error("initData has expired")]
    Expired,
    /// `auth_date` lies too far in the future.
    #[error("initData auth_date is in the future")]
    FromFuture,
    /// The `user` field is not valid JSON with an `id`.
    #[error("initData user is malformed")]
    BadUser,
}

/// Decodes one query-string component: `+` is a space, then `%XX` escapes;
/// the result must be UTF-8.
pub(crate) fn decode_component(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8().ok().map(|c| c.into_owned())
}

/// Splits a query string into decoded pairs (empty pieces between `&` are
/// skipped; a piece without `=` has an empty value).
pub(crate) fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|piece| {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            Some((decode_component(k)?, decode_component(v)?))
        })
        .collect()
}

fn secret_key(bot_token: &str) -> super::HmacSha256 {
    let mut mac = super::new_mac(b"WebAppData");
    mac.update(bot_token.as_bytes());
    super::new_mac(&mac.finalize().into_bytes())
}

fn data_check_string(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "hash").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

fn signature(pairs: &[(String, String)], bot_token: &str) -> [u8; 32] {
    let mut mac = secret_key(bot_token);
    mac.update(data_check_string(pairs).as_bytes());
    mac.finalize().into_bytes().into()
}

/// Validates `init_data` (the raw query string the Mini App got from
/// `Telegram.WebApp.initData`) against `bot_token`, the token of the bot that
/// opened the Mini App, at time `now`, accepting data signed at most
/// `max_age_secs` ago (and at most [`MAX_FUTURE_SKEW_SECS`] ahead).
///
/// ```
/// use loyalty_core::api::init_data::{sign_init_data, validate_init_data};
/// use loyalty_core::domain::Timestamp;
///
/// let raw = sign_init_data(&[("auth_date", "1000"), ("user", r#"{"id":42,"first_name":"Ann"}"#)], "1:token");
/// let data = validate_init_data(&raw, "1:token", Timestamp(1060), 86_400).unwrap();
/// assert_eq!(data.user.unwrap().id, 42);
/// assert!(validate_init_data(&raw, "2:other", Timestamp(1060), 86_400).is_err());
/// ```
pub fn validate_init_data(
    init_data: &str,
    bot_token: &str,
    now: Timestamp,
    max_age_secs: i64,
) -> Result<InitData, InitDataError> {
    if init_data.len() > MAX_INIT_DATA_LEN {
        return Err(InitDataError::Malformed);
    }
    let pairs = parse_query(init_data).ok_or(InitDataError::Malformed)?;
    let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(InitDataError::Malformed);
    }
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());

    let hash = get("hash").ok_or(InitDataError::MissingHash)?;
    let given = hex::decode(hash).map_err(|_| InitDataError::BadHash)?;
    if given.len() != 32 {
        return Err(InitDataError::BadHash);
    }
    let expected = signature(&pairs, bot_token);
    if !bool::from(expected.as_slice().ct_eq(given.as_slice())) {
        return Err(InitDataError::SignatureMismatch);
    }

    let auth_date =
        get("auth_date").and_then(|v| v.parse::<i64>().ok()).map(Timestamp).ok_or(InitDataError::MissingAuthDate)?;
    if now.0.saturating_sub(auth_date.0) > max_age_secs {
        return Err(InitDataError::Expired);
    }
    if auth_date.0.saturating_sub(now.0) > MAX_FUTURE_SKEW_SECS {
        return Err(InitDataError::FromFuture);
    }
    let user =
        get("user").map(|u| serde_json::from_str::<WebAppUser>(u).map_err(|_| InitDataError::BadUser)).transpose()?;
    Ok(InitData {
        user,
        auth_date,
        query_id: get("query_id").map(str::to_string),
        start_param: get("start_param").map(str::to_string),
    })
}

/// Characters escaped in values: everything except `A–Z a–z 0–9 - _ . ~`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Builds a signed `initData` query string from `pairs` (without `hash`) for
/// the bot with `bot_token`: exactly what Telegram does server-side before it
/// hands `initData` to a Mini App. Values are percent-encoded; the `hash` pair
/// comes last. A `hash` among `pairs` is ignored.
///
/// Only tests and tools need this: a real Mini App receives signed data
/// from Telegram.
pub fn sign_init_data(pairs: &[(&str, &str)], bot_token: &str) -> String {
    let owned: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| *k != "hash").map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let hash = hex::encode(signature(&owned, bot_token));
    let mut out = String::new();
    for (k, v) in &owned {
        out.push_str(&utf8_percent_encode(k, COMPONENT).to_string());
        out.push('=');
        out.push_str(&utf8_percent_encode(v, COMPONENT).to_string());
        out.push('&');
    }
    out.push_str("hash=");
    out.push_str(&hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Hmac;
    use sha2::Sha256;
    type HmacSha256 = Hmac<Sha256>;

    const TOKEN: &str = "1001:client-token";
    const USER: &str = r#"{"id":4242,"first_name":"Ann & Bob","language_code":"ru","username":"ann"}"#;

    fn signed(auth_date: &str) -> String {
        sign_init_data(&[("query_id", "AAE-x1"), ("user", USER), ("auth_date", auth_date)], TOKEN)
    }

    /// The signature computed independently, step by step, from the documented algorithm.
    #[test]
    fn matches_the_documented_algorithm() {
        let dcs = format!("auth_date=1700000000\nquery_id=AAE-x1\nuser={USER}");
        let mut k = HmacSha256::new_from_slice(b"WebAppData").unwrap();
        k.update(TOKEN.as_bytes());
        let secret = k.finalize().into_bytes();
        let mut m = HmacSha256::new_from_slice(&secret).unwrap();
        m.update(dcs.as_bytes());
        let expected = hex::encode(m.finalize().into_bytes());

        let raw = signed("1700000000");
        assert!(raw.ends_with(&format!("hash={expected}")), "{raw}");
        // Spaces and & in the user JSON are escaped, so the string round-trips.
        assert!(raw.contains("Ann%20%26%20Bob"));
        let d = validate_init_data(&raw, TOKEN, Timestamp(1_700_000_100), 86_400).unwrap();
        let user = d.user.unwrap();
        assert_eq!((user.id, user.first_name.as_str()), (4242, "Ann & Bob"));
        assert_eq!(user.language_code.as_deref(), Some("ru"));
        assert_eq!(d.auth_date, Timestamp(1_700_000_000));
        assert_eq!(d.query_id.as_deref(), Some("AAE-x1"));
    }

    #[test]
    fn plus_decodes_to_space_and_order_does_not_matter() {
        let raw = signed("1700000000");
        let plus = raw.replace("%20", "+");
        assert!(validate_init_data(&plus, TOKEN, Timestamp(1_700_000_000), 86_400).is_ok());
        let mut parts: Vec<&str> = raw.split('&').collect();
        parts.reverse();
        assert!(validate_init_data(&parts.join("&"), TOKEN, Timestamp(1_700_000_000), 86_400).is_ok());
    }

    #[test]
    fn refuses_forgeries() {
        let now = Timestamp(1_700_000_000);
        let raw = signed("1700000000");
        assert_eq!(validate_init_data(&raw, "1001:other", now, 86_400), Err(InitDataError::SignatureMismatch));
        let tampered = raw.replace("4242", "4243");
        assert_eq!(validate_init_data(&tampered, TOKEN, now, 86_400), Err(InitDataError::SignatureMismatch));
        let added = format!("{raw}&start_param=x");
        assert_eq!(validate_init_data(&added, TOKEN, now, 86_400), Err(InitDataError::SignatureMismatch));
        let no_hash = raw.split("&hash=").next().unwrap().to_string();
        assert_eq!(validate_init_data(&no_hash, TOKEN, now, 86_400), Err(InitDataError::MissingHash));
        let bad_hex = format!("{no_hash}&hash=zz");
        assert_eq!(validate_init_data(&bad_hex, TOKEN, now, 86_400), Err(InitDataError::BadHash));
        let short = format!("{no_hash}&hash=abcd");
        assert_eq!(validate_init_data(&short, TOKEN, now, 86_400), Err(InitDataError::BadHash));
        let dup = format!("{raw}&user=x");
        assert_eq!(validate_init_data(&dup, TOKEN, now, 86_400), Err(InitDataError::Malformed));
        assert_eq!(validate_init_data("a=%ZZ", TOKEN, now, 86_400), Err(InitDataError::MissingHash));
        assert_eq!(validate_init_data("a=%FF&hash=00", TOKEN, now, 86_400), Err(InitDataError::Malformed));
        assert_eq!(validate_init_data("", TOKEN, now, 86_400), Err(InitDataError::MissingHash));
    }

    #[test]
    fn checks_auth_date() {
        let raw = signed("1700000000");
        let t = |s| validate_init_data(&raw, TOKEN, Timestamp(s), 86_400).map(|d| d.auth_date);
        assert_eq!(t(1_700_086_400), Ok(Timestamp(1_700_000_000)));
        assert_eq!(t(1_700_086_401), Err(InitDataError::Expired));
        assert_eq!(t(1_700_000_000 - 300), Ok(Timestamp(1_700_000_000)));
        assert_eq!(t(1_700_000_000 - 301), Err(InitDataError::FromFuture));
        let none = sign_init_data(&[("user", USER)], TOKEN);
        assert_eq!(validate_init_data(&none, TOKEN, Timestamp(0), 86_400), Err(InitDataError::MissingAuthDate));
        let garbage = sign_init_data(&[("auth_date", "soon")], TOKEN);
        assert_eq!(validate_init_data(&garbage, TOKEN, Timestamp(0), 86_400), Err(InitDataError::MissingAuthDate));
        let huge = sign_init_data(&[("auth_date", "-9223372036854775808")], TOKEN);
        assert_eq!(validate_init_data(&huge, TOKEN, Timestamp(i64::MAX), 86_400), Err(InitDataError::Expired));
    }

    #[test]
    fn checks_user() {
        let bad = sign_init_data(&[("auth_date", "10"), ("user", "{\"name\":1}")], TOKEN);
        assert_eq!(validate_init_data(&bad, TOKEN, Timestamp(10), 86_400), Err(InitDataError::BadUser));
        let none = sign_init_data(&[("auth_date", "10")], TOKEN);
        assert_eq!(validate_init_data(&none, TOKEN, Timestamp(10), 86_400).map(|d| d.user), Ok(None));
    }
}
