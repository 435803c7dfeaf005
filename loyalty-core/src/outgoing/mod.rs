//! Signed outgoing webhooks: the events a program's admin — or a partner, for
//! its own — can receive at an HTTPS endpoint, how each delivery is signed and
//! how a receiver checks it.
//!
//! A delivery is a `POST` of a JSON body
//! (`{"id": "…", "type": "points.credited", "created_at": 1700000000, "data": {…}}`)
//! with the header [`SIGNATURE_HEADER`]: `t=<unix seconds>,v1=<hex>`, where
//! the hex is HMAC-SHA256, keyed with the endpoint's secret, of
//! `"<t>.<body>"` — the scheme Stripe uses, so its receivers' code fits. A
//! receiver recomputes it over the raw body, compares in constant time and
//! refuses a timestamp older than a few minutes ([`verify`] does all three),
//! and keeps the ids it has seen to ignore a delivery sent again.
//!
//! The endpoints are registered in the store ([`Webhook`](crate::ports::Webhook)); their URLs and
//! events are checked here ([`check_url`], [`check_events`]), once for
//! every store.

mod event;

pub use event::{OutgoingEvent, USER_AGENT, WebhookDelivery};

use crate::domain::Timestamp;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The header carrying a delivery's signature.
pub const SIGNATURE_HEADER: &str = "Loyalty-Signature";

/// How old a delivery's timestamp [`verify`] accepts by default, in seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Most endpoints an owner (the program, or one partner) may register.
pub const MAX_WEBHOOKS: usize = 10;

/// Longest endpoint URL, in bytes.
pub const MAX_URL_LEN: usize = 500;

/// A delivery that keeps failing is retried for this long after its first
/// attempt (a day), then given up.
pub const RETRY_WINDOW_SECS: i64 = 86_400;

/// What happened, as a webhook's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A customer signed up.
    #[serde(rename = "customer.joined")]
    CustomerJoined,
    /// A partner credited points for a purchase.
    #[serde(rename = "points.credited")]
    PointsCredited,
    /// A customer paid with points (a confirmed redemption).
    #[serde(rename = "points.redeemed")]
    PointsRedeemed,
    /// A partner reversed one of its entries.
    #[serde(rename = "points.reversed")]
    PointsReversed,
    /// Points expired.
    #[serde(rename = "points.expired")]
    PointsExpired,
    /// A customer's tier changed.
    #[serde(rename = "tier.changed")]
    TierChanged,
    /// A customer claimed a reward (paid for a voucher).
    #[serde(rename = "reward.claimed")]
    RewardClaimed,
    /// A stamp filled a customer's card.
    #[serde(rename = "stamps.completed")]
    StampsCompleted,
}

impl WebhookEvent {
    /// Every event, in the order of the docs.
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::CustomerJoined,
        WebhookEvent::PointsCredited,
        WebhookEvent::PointsRedeemed,
        WebhookEvent::PointsReversed,
        WebhookEvent::PointsExpired,
        WebhookEvent::TierChanged,
        WebhookEvent::RewardClaimed,
        WebhookEvent::StampsCompleted,
    ];

    /// Its name (`points.credited`).
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::CustomerJoined => "customer.joined",
            WebhookEvent::PointsCredited => "points.credited",
            WebhookEvent::PointsRedeemed => "points.redeemed",
            WebhookEvent::PointsReversed => "points.reversed",
            WebhookEvent::PointsExpired => "points.expired",
            WebhookEvent::TierChanged => "tier.changed",
            WebhookEvent::RewardClaimed => "reward.claimed",
            WebhookEvent::StampsCompleted => "stamps.completed",
        }
    }

    /// The event named `name`, if any.
    pub fn parse(name: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `t` to an endpoint
/// whose secret is `secret`: `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn sign(secret: &str, t: Timestamp, body: &[u8]) -> String {
    format!("t={},v1={}", t.0, hex::encode(mac(secret, t.0, body).finalize().into_bytes()))
}

/// The HMAC of `"<t>.<body>"` keyed with `secret`, ready to finish.
fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// Why [`verify`] refused a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t=` or no `v1=` in the header, or not numbers / hex.
    #[error("malformed signature header")]
    Malformed,
    /// No `v1` signature matches the body (altered, or another secret).
    #[error("signature does not match")]
    Mismatch,
    /// The timestamp is further from now than the tolerance (a replay).
    #[error("timestamp outside the tolerance")]
    Stale,
}

/// Checks a delivery as a receiver should: `header` (the value of
/// [`SIGNATURE_HEADER`]) signs exactly `body` with `secret` (any of its `v1`
/// values, so a secret can be rolled), at a time within `tolerance_secs` of
/// `now`. Returns the signed timestamp.
///
/// ```
/// use loyalty_core::domain::Timestamp;
/// use loyalty_core::outgoing::{SignatureError, sign, verify};
/// let body = br#"{"id":"evt_1","type":"points.credited"}"#;
/// let header = sign("whsec_test", Timestamp(1_700_000_000), body);
/// assert_eq!(verify("whsec_test", &header, body, Timestamp(1_700_000_060), 300), Ok(Timestamp(1_700_000_000)));
/// assert_eq!(verify("whsec_test", &header, b"{}", Timestamp(1_700_000_060), 300), Err(SignatureError::Mismatch));
/// assert_eq!(verify("whsec_test", &header, body, Timestamp(1_700_001_000), 300), Err(SignatureError::Stale));
/// ```
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance_secs: i64,
) -> Result<Timestamp, SignatureError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            // Digits only, as written: the MAC covers the header's text.
            Some(("t", v)) if !v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()) => {
                t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
            }
            Some(("t", _)) => return Err(SignatureError::Malformed),
            Some(("v1", v)) if v.len() == 64 => {
                signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?);
            }
            Some(("v1", _)) => return Err(SignatureError::Malformed),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if !signatures.iter().any(|s| mac(secret, t, body).verify_slice(s).is_ok()) {
        return Err(SignatureError::Mismatch);
    }
    if now.0.abs_diff(t) > tolerance_secs.max(0).unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(Timestamp(t))
}

/// Checks an endpoint's URL: `https://`, a host name or a public IP address,
/// an optional port 1–65535, at most [`MAX_URL_LEN`] bytes; no credentials,
/// spaces, control or invisible formatting characters, nor backslashes (which
/// URL parsers read differently). Plain HTTP is refused (deliveries carry
/// customers' data), and so are `localhost` and loopback, private,
/// link-local and unspecified addresses: an endpoint must not reach into the
/// server's own network. (A name is checked as written; what it resolves to is
/// the HTTP client's to refuse.)
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("the URL is longer than {MAX_URL_LEN} bytes"));
    }
    let invisible =
        |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}');
    if url.chars().any(|c| c.is_whitespace() || c.is_control() || invisible(c) || c == '\\') {
        return Err("the URL contains spaces, control or invisible characters, or a backslash".into());
    }
    let Some(rest) = url.strip_prefix("https://") else { return Err("the URL must start with https://".into()) };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("the URL must not carry credentials".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or("the URL's IPv6 address is not closed")?;
            let addr: Ipv6Addr = addr.parse().map_err(|_| "the URL's IPv6 address is invalid")?;
            check_ip(IpAddr::V6(addr))?;
            (None, after.strip_prefix(':').map(Some).unwrap_or_else(|| (!after.is_empty()).then_some(after)))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        },
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || !(1..=65_535).contains(&port.parse::<u32>().unwrap_or(0)))
    {
        return Err("the URL's port must be a number from 1 to 65535".into());
    }
    let Some(host) = host else { return Ok(()) };
    // Digits a URL parser maps to ASCII ones (fullwidth, superscript, other scripts') could spell an
    // address: refused, as are fullwidth forms (`０ｘ７ｆ`).
    if host.chars().any(|c| !c.is_ascii() && (c.is_numeric() || ('\u{ff00}'..='\u{ffef}').contains(&c))) {
        return Err("the URL's host has digits or fullwidth characters outside ASCII".into());
    }
    // A host whose last label is a number is an IPv4 address to URL parsers, in every form they read
    // (`2130706433`, `0x7f.1`, `127.1`, `0177.0.0.1`).
    if let Some(ip) = ipv4_as_parsed(host) {
        let ip = ip.ok_or("the URL's host is a malformed IPv4 address")?;
        return check_ip(IpAddr::V4(ip));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return Err("the URL has no valid host name".into());
    }
    let lower = host.to_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err("the URL must not point at this server (localhost)".into());
    }
    Ok(())
}

/// The IPv4 address URL parsers read `host` as (the WHATWG URL standard:
/// a host whose last label is a decimal number or `0x` hex is an IPv4
/// address of one to four parts, each decimal, octal with a leading `0`, or
/// hex, the last filling the remaining bytes): `None` when `host` is a name,
/// `Some(None)` when it is an address they refuse.
fn ipv4_as_parsed(host: &str) -> Option<Option<Ipv4Addr>> {
    let number = |part: &str| -> Option<u64> {
        let (digits, radix) = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            Some(hex) => (hex, 16),
            None if part.len() > 1 && part.starts_with('0') => (&part[1..], 8),
            None => (part, 10),
        };
        if digits.is_empty() {
            return (radix == 16 || radix == 8).then_some(0);
        }
        if digits.len() > 12 {
            return Some(u64::MAX);
        }
        u64::from_str_radix(digits, radix).ok()
    };
    let last = host.rsplit('.').next().unwrap_or_default();
    let numeric = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .or_else(|| last.strip_prefix("0X"))
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())));
    if !numeric {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return Some(None);
    }
    let Some(numbers) = parts.iter().map(|p| number(p)).collect::<Option<Vec<u64>>>() else { return Some(None) };
    let (init, last) = numbers.split_at(numbers.len() - 1);
    if init.iter().any(|n| *n > 255) || last[0] >= 1u64 << (8 * (5 - numbers.len())) {
        return Some(None);
    }
    let mut ip = last[0];
    for (i, n) in init.iter().enumerate() {
        ip += n << (8 * (3 - i));
    }
    Some(u32::try_from(ip).ok().map(Ipv4Addr::from))
}

/// Whether `ip` is a public unicast address a webhook may be posted to.
///
/// Not public: unspecified and "this network" (`0.0.0.0/8`, `::`), loopback
/// (`127/8`, `::1`), private (`10/8`, `172.16/12`, `192.168/16`), shared
/// (CGNAT, `100.64/10`), link-local (`169.254/16`, `fe80::/10`), the IETF's
/// protocol assignments (`192.0.0/24`, `2001::/23`), documentation
/// (`192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`,
/// `3fff::/20`), benchmarking (`198.18/15`), multicast (`224/4`, `ff00::/8`),
/// reserved and broadcast (`240/4`), IPv6 unique-local (`fc00::/7`) and
/// everything outside global unicast (`2000::/3`); and the IPv6 forms that
/// carry an IPv4 address — mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`)
/// and 6to4 (`2002::/16`) — when that address is not public (the
/// deprecated compatible form `::/96` and local NAT64 `64:ff9b:1::/48`
/// always).
///
/// ```
/// use loyalty_core::outgoing::is_public_ip;
///
/// assert!(is_public_ip("93.184.215.14".parse().unwrap()));
/// assert!(is_public_ip("2606:4700::6810:84e5".parse().unwrap()));
/// for private in ["127.0.0.1", "10.0.0.1", "100.64.1.1", "169.254.169.254", "::1", "fd00::1", "::ffff:10.0.0.1"] {
///     assert!(!is_public_ip(private.parse().unwrap()), "{private}");
/// }
/// ```
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let not_public = a == 0 // this network, unspecified
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // shared (CGNAT)
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation (TEST-NET-1)
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113) // documentation (TEST-NET-3)
        || a >= 224; // multicast, reserved, broadcast
    !not_public
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // ::/96: unspecified, loopback and the deprecated IPv4-compatible form.
    if s[..6] == [0; 6] {
        return false;
    }
    // NAT64's well-known prefix carries the IPv4 address it reaches.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 6to4 carries its relay's IPv4 address.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    let ietf = (s[0] == 0x2001) && s[1] < 0x0200; // 2001::/23, Teredo included
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000); // 3fff::/20
    global_unicast && !ietf && !documentation
}

fn check_ip(ip: IpAddr) -> Result<(), String> {
    if is_public_ip(ip) {
        Ok(())
    } else {
        Err("the URL must point at a public address, not a private or local one".into())
    }
}

/// Shortest signing secret accepted, in bytes (an endpoint's secret is made
/// by the program: [`new_secret`]).
pub const MIN_SECRET_LEN: usize = 24;

/// A fresh signing secret from 32 random bytes: `whsec_` and 64 hex digits.
pub fn new_secret(random: [u8; 32]) -> String {
    format!("whsec_{}", hex::encode(random))
}

/// Checks a signing secret: at least [`MIN_SECRET_LEN`] bytes, printable ASCII.
pub fn check_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_SECRET_LEN || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("the secret must be at least {MIN_SECRET_LEN} printable characters"));
    }
    Ok(())
}

/// Checks an endpoint's events: at least one, none twice.
pub fn check_events(events: &[WebhookEvent]) -> Result<(), String> {
    if events.is_empty() {
        return Err("no events".into());
    }
    let mut sorted = events.to_vec();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err("an event is listed twice".into());
    }
    Ok(())
}

/// The events a person listed — names separated by commas or spaces, or
/// `all` (`*`) for every one — in the order given, each once.
///
/// ```
/// use loyalty_core::outgoing::{WebhookEvent, parse_events};
///
/// assert_eq!(parse_events("points.credited, tier.changed").unwrap(),
///            [WebhookEvent::PointsCredited, WebhookEvent::TierChanged]);
/// assert_eq!(parse_events("all").unwrap().len(), 8);
/// assert!(parse_events("points.credited points.stolen").is_err());
/// assert!(parse_events(" ").is_err());
/// ```
///
/// # Errors
/// The first name that is no event, or no names at all.
pub fn parse_events(list: &str) -> Result<Vec<WebhookEvent>, String> {
    let mut events = Vec::new();
    for name in list.split(|c: char| c == ',' || c.is_whitespace()).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("all") || name == "*" {
            return Ok(WebhookEvent::ALL.to_vec());
        }
        let event = WebhookEvent::parse(&name.to_ascii_lowercase()).ok_or_else(|| format!("unknown event: {name}"))?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err("no events".into());
    }
    Ok(events)
}

/// When to try a failing delivery again: after 1, 5 and 30 minutes, then 2,
/// 5 and 8 hours, then every 8 hours — `None` once that would be past
/// [`RETRY_WINDOW_SECS`] from `first` (give up).
pub fn next_attempt(first: Timestamp, attempts: u32, now: Timestamp) -> Option<Timestamp> {
    const PAUSES: [i64; 6] = [60, 300, 1_800, 7_200, 18_000, 28_800];
    let pause = PAUSES.get(attempts.saturating_sub(1) as usize).copied().unwrap_or(28_800);
    let at = now.plus(pause);
    (at <= first.plus(RETRY_WINDOW_SECS)).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_what_they_should() {
        let (t, body) = (Timestamp(1_700_000_000), br#"{"a":1}"#.as_slice());
        let header = sign("s3cret", t, body);
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(verify("s3cret", &header, body, t, 300), Ok(t));
        assert_eq!(verify("s3cret", &header, body, t.plus(-300), 300), Ok(t), "a clock a little behind");
        assert_eq!(verify("other", &header, body, t, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify("s3cret", &header, br#"{"a":2}"#, t, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify("s3cret", &header, body, t.plus(301), 300), Err(SignatureError::Stale));
        // A timestamp changed to pass the tolerance no longer matches.
        let moved = header.replace("t=1700000000", "t=1700000500");
        assert_eq!(verify("s3cret", &moved, body, t.plus(500), 300), Err(SignatureError::Mismatch));
        // Rolled secrets: any v1 may match.
        let both = format!("{},v1={}", sign("old", t, body), &sign("s3cret", t, body)["t=1700000000,v1=".len()..]);
        assert_eq!(verify("s3cret", &both, body, t, 300), Ok(t));
        let zeros = "0".repeat(64);
        let not_hex = "z".repeat(64);
        for bad in [
            String::new(),
            "t=1".into(),
            format!("v1={zeros}"),
            format!("t=x,v1={zeros}"),
            format!("t=1,v1={not_hex}"),
            "t=1,v1=".into(),
            "t=1,v1=00".into(),
            format!("t=+1700000000,v1={zeros}"),
            format!("t=-1,v1={zeros}"),
            "garbage".into(),
        ] {
            assert_eq!(verify("s3cret", &bad, body, t, 300), Err(SignatureError::Malformed), "{bad:?}");
        }
        // A negative tolerance is none, not its absolute value.
        assert_eq!(verify("s3cret", &header, body, t.plus(1), -300), Err(SignatureError::Stale));
        assert_eq!(verify("s3cret", &header, body, t.plus(1), i64::MIN), Err(SignatureError::Stale));
        assert_eq!(verify("s3cret", &header, body, t, -300), Ok(t));
    }

    #[test]
    fn events_have_names_and_round_trip() {
        for e in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), serde_json::json!(e.as_str()));
        }
        assert_eq!(WebhookEvent::parse("points.stolen"), None);
        assert!(check_events(&[]).is_err());
        assert!(check_events(&[WebhookEvent::TierChanged, WebhookEvent::TierChanged]).is_err());
        assert!(check_events(&WebhookEvent::ALL).is_ok());
    }

    #[test]
    fn urls_must_be_https_to_a_public_host() {
        for ok in [
            "https://example.com/hooks",
            "https://hooks.example.com:8443/x?y=1#z",
            "https://93.184.215.14/h",
            "https://[2606:4700::6810:84e5]:8443/h",
            "https://1.1.1.1/h",
            "https://0x5d.0xb8.0xd7.0x0e/h",
            "https://hooks.example.com1/h",
            "https://bücher.example/ü?q=ж",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        for bad in [
            "http://example.com",
            "https://",
            "https:///path",
            "ftp://x",
            "https://u:p@example.com/",
            "https://ex ample.com",
            "https://example.com:/",
            "https://example.com:abc/",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://[::1",
            "https://[::]/",
            "https://a.example\\b.example/",
            "https://exa\u{200b}mple.com/",
            "https://example.com/\u{202e}txt",
            "https://-bad.example/",
            "https://a..example/",
            "https://localhost/h",
            "https://2130706433/h",
            "https://0x7f.1/h",
            "https://0x7f000001/h",
            "https://127.1/h",
            "https://0177.0.0.1/h",
            "https://0251.0376.0251.0376/h",
            "https://10.0x1/h",
            "https://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/h",
            "https://1.2.3.4.5/h",
            "https://256.1.1.1/h",
            "https://1.1.1.0x100/h",
            "https://hooks.example.0x/h",
            "https://api.localhost/h",
            "https://127.0.0.1:9/h",
            "https://10.1.2.3/h",
            "https://172.16.0.1/h",
            "https://192.168.1.1/h",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/h",
            "https://0.0.0.0/h",
            "https://[::1]/h",
            "https://[fe80::1]/h",
            "https://[fd00::1]/h",
            "https://[::ffff:127.0.0.1]/h",
            &long,
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_long_and_printable() {
        assert_eq!(check_secret(&new_secret([7; 32])), Ok(()));
        assert_eq!(new_secret([0; 32]).len(), "whsec_".len() + 64);
        for bad in ["", "short", "whsec_ with a space in it ok", "ünïcödé-secret-not-ascii-at-all"] {
            assert!(check_secret(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retries_back_off_for_a_day_then_stop() {
        let first = Timestamp(1_000_000);
        let mut now = first;
        let mut attempts = 1;
        while let Some(at) = next_attempt(first, attempts, now) {
            assert!(at > now);
            now = at;
            attempts += 1;
        }
        assert!(now.0 - first.0 <= RETRY_WINDOW_SECS && now.0 - first.0 > RETRY_WINDOW_SECS - 28_800, "{now:?}");
        assert_eq!(next_attempt(first, 1, first), Some(first.plus(60)));
        assert!(attempts >= 8, "{attempts} attempts in a day");
        assert_eq!(next_attempt(Timestamp(i64::MAX - 10), 1, Timestamp(i64::MAX - 10)), Some(Timestamp(i64::MAX)));
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700::6810:84e5",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public_ip(public.parse().unwrap()), "{public} is public");
        }
        for private in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::808:808",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "100::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "3fff::1",
            "3fff:fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "4000::1",
            "5f00::1",
        ] {
            assert!(!is_public_ip(private.parse().unwrap()), "{private} is not public");
        }
    }
}
