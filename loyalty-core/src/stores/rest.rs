//! The PostgREST protocol of the storage functions, without an HTTP client:
//! where a call goes, what it carries and how its answer reads. Shared by
//! `loyalty-native`'s `PostgrestStore` (the `postgrest` crate's client) and by
//! `loyalty-edge`'s `SupabaseStore` (the Workers `fetch` API).
//!
//! Every [`Storage`](crate::ports::Storage) method is exactly one HTTP request,
//! `POST <rest_url>/rpc/<method>` with the body `{"req": <request JSON>}`, where
//! `<request JSON>` is the serde JSON of the request, and the answer is the
//! serde JSON of the response. The functions, shipped as the migrations in
//! `supabase/migrations/`, do the whole use case atomically in one
//! transaction, so a call is never half-applied.
//!
//! Each request carries:
//!
//! | Header | Value |
//! |---|---|
//! | `apikey` | the key |
//! | `Authorization` | `Bearer <key>` |
//! | `Content-Profile` | `loyalty` (the schema of the functions) |
//! | `Content-Type`, `Accept` | `application/json` |
//!
//! The key must be Supabase's **service role / secret key**: only the role
//! `service_role` may execute the functions (see `docs/SUPABASE.md`). The key is
//! never part of an error or of `Debug` output.
//!
//! # Errors
//!
//! | Answer | [`StoreError`] |
//! |---|---|
//! | an error body with `"code": "LY001"` (a rule refused the call; the message is the [`Rejection`] JSON) | [`Rejected`](StoreError::Rejected) |
//! | a 2xx result `{"rejected": …}` (an expired redemption request, marked expired) | [`Rejected`](StoreError::Rejected) |
//! | no answer: connection refused or lost, timeout | [`Unavailable`](StoreError::Unavailable) (the client's concern) |
//! | 408, 429, any 5xx (PostgREST answers 503 when it cannot reach the database, 500 for serialization failures and server shutdowns, 504 when its pool times out) | [`Unavailable`](StoreError::Unavailable) |
//! | a temporary SQLSTATE or PostgREST connection code (class `08`, `53`, `40001`, `40P01`, `57P01`–`57P03`, `57014`, `PGRST000`–`PGRST003`) with any status | [`Unavailable`](StoreError::Unavailable) |
//! | any other 4xx: 401/403 (bad key, `42501` permission denied, e.g. the anon key), 404 (`PGRST202` function not found: migrations missing or schema not exposed), 409, 400 | [`Backend`](StoreError::Backend) |

use crate::config::{Config, ConfigError, Secret};
use crate::ports::{Rejection, StoreError, StoreResult};
use serde_json::Value;
use std::fmt;

/// The schema of the functions, sent as `Content-Profile`.
pub const SCHEMA: &str = "loyalty";

/// The path under `SUPABASE_URL` where Supabase serves PostgREST.
pub const REST_PATH: &str = "/rest/v1";

/// SQLSTATE of a rejection raised by the functions.
const REJECTION: &str = "LY001";

/// Longest server message repeated in an error, in characters.
pub(crate) const MAX_DETAIL_CHARS: usize = 300;

/// Where and how to call the functions: a checked PostgREST URL and key.
#[derive(Clone)]
pub struct RestEndpoint {
    rest_url: String,
    key: Secret,
}

impl fmt::Debug for RestEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestEndpoint").field("rest_url", &self.rest_url).field("key", &self.key).finish()
    }
}

impl RestEndpoint {
    /// The PostgREST API at `rest_url` (for Supabase,
    /// `https://<project-ref>.supabase.co/rest/v1`) with `key`, the service
    /// role / secret key.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `SUPABASE_URL` when `rest_url` is not an
    /// http(s) URL, or `SUPABASE_KEY` when the key is empty or holds characters
    /// an HTTP header cannot carry (the key itself is never repeated).
    pub fn new(rest_url: impl Into<String>, key: Secret) -> Result<RestEndpoint, ConfigError> {
        let rest_url = rest_url.into().trim().trim_end_matches('/').to_string();
        let host = rest_url.strip_prefix("https://").or_else(|| rest_url.strip_prefix("http://"));
        if !host.is_some_and(|h| !h.is_empty() && !h.starts_with('/') && !h.contains(char::is_whitespace)) {
            return Err(ConfigError::Invalid { name: "SUPABASE_URL", reason: "expected an http(s) URL".into() });
        }
        let k = key.expose();
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Invalid {
                name: "SUPABASE_KEY",
                reason: "expected an API key of printable ASCII characters without spaces".into(),
            });
        }
        Ok(RestEndpoint { rest_url, key })
    }

    /// The endpoint for `SUPABASE_URL` (+ [`REST_PATH`]) and `SUPABASE_KEY`.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] when either is not set; the errors of [`RestEndpoint::new`].
    pub fn from_config(config: &Config) -> Result<RestEndpoint, ConfigError> {
        let url = config
            .supabase_url
            .as_deref()
            .ok_or(ConfigError::Missing { name: "SUPABASE_URL", why: "the PostgREST storage" })?;
        let key = config
            .supabase_key
            .clone()
            .ok_or(ConfigError::Missing { name: "SUPABASE_KEY", why: "the PostgREST storage" })?;
        RestEndpoint::new(format!("{}{REST_PATH}", url.trim_end_matches('/')), key)
    }

    /// The API's base URL, without a trailing `/`.
    pub fn rest_url(&self) -> &str {
        &self.rest_url
    }

    /// The key (send it only in the [`headers`](RestEndpoint::headers)).
    pub fn key(&self) -> &Secret {
        &self.key
    }

    /// `<rest_url>/rpc/<function>`.
    pub fn function_url(&self, function: &str) -> String {
        format!("{}/rpc/{function}", self.rest_url)
    }

    /// The headers of every call (see the [module docs](self)).
    pub fn headers(&self) -> [(&'static str, String); 5] {
        let k = self.key.expose();
        [
            ("apikey", k.to_owned()),
            ("Authorization", format!("Bearer {k}")),
            ("Content-Profile", SCHEMA.to_owned()),
            ("Content-Type", "application/json".to_owned()),
            ("Accept", "application/json".to_owned()),
        ]
    }

    /// The body of a call: `{"req": <request>}` (the functions' one parameter is named `req`).
    pub fn body(request: &str) -> String {
        format!("{{\"req\":{request}}}")
    }

    /// Decodes an answer with [`decode_http_answer`] and [scrubs](RestEndpoint::scrub)
    /// the messages of the errors.
    pub fn decode(&self, function: &str, status: u16, body: &str) -> StoreResult<Value> {
        match decode_http_answer(function, status, body) {
            Ok(value) => Ok(value),
            Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(self.scrub(m))),
            Err(StoreError::Backend(m)) => Err(StoreError::Backend(self.scrub(m))),
            Err(other) => Err(other),
        }
    }

    /// Removes the key from a message, should a server or proxy ever echo it.
    pub fn scrub(&self, message: String) -> String {
        // A very short key (tests) would mangle ordinary words; real keys are long.
        if self.key.expose().len() >= 8 { self.key.redact(&message) } else { message }
    }
}

/// Decodes one PostgREST answer to `POST /rpc/<function>`: a 2xx body is the
/// function's JSON result (`Null` when empty; decode it further with
/// [`decode_result`](super::rpc::decode_result)); anything else is an error,
/// classified as the table in the [module docs](self) says.
pub fn decode_http_answer(function: &str, status: u16, body: &str) -> StoreResult<Value> {
    if !(200..300).contains(&status) {
        return Err(classify(function, status, body));
    }
    if body.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(body).map_err(|e| StoreError::Backend(format!("{function}: invalid JSON result: {e}")))
}

/// Maps a non-2xx answer (a PostgREST error body `{code, message, details, hint}`,
/// or whatever a gateway in front of it sent) to a [`StoreError`].
fn classify(function: &str, status: u16, body: &str) -> StoreError {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name)).and_then(|v| v.as_str()).map(str::to_owned);
    let code = field("code");
    let message = field("message");
    if code.as_deref() == Some(REJECTION) {
        let message = message.unwrap_or_default();
        return match serde_json::from_str::<Rejection>(&message) {
            Ok(r) => StoreError::Rejected(r),
            Err(e) => StoreError::Backend(format!("{function}: unreadable rejection {}: {e}", clip(&message))),
        };
    }
    let mut text = format!("{function}: HTTP {status}");
    match (&code, &message) {
        (Some(code), Some(message)) => text.push_str(&format!(" {code}: {}", clip(message))),
        (Some(code), None) => text.push_str(&format!(" {code}")),
        (None, Some(message)) => text.push_str(&format!(": {}", clip(message))),
        (None, None) if parsed.is_none() && !body.trim().is_empty() => text.push_str(&format!(": {}", clip(body))),
        (None, None) => {}
    }
    let temporary = matches!(status, 408 | 429 | 500..=599) || code.as_deref().is_some_and(is_temporary_code);
    if temporary { StoreError::Unavailable(text) } else { StoreError::Backend(text) }
}

/// Whether an error code means "try again later": connection exceptions,
/// insufficient resources, serialization failures, deadlocks, shutdowns,
/// cancelled statements, and PostgREST's own connection and schema cache codes.
fn is_temporary_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "40001"
                | "40P01"
                | "57P01"
                | "57P02"
                | "57P03"
                | "57014"
                | "PGRST000"
                | "PGRST001"
                | "PGRST002"
                | "PGRST003"
        )
}

/// At most [`MAX_DETAIL_CHARS`] characters of `s`.
pub(crate) fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::rpc::decode_result;
    use serde::de::DeserializeOwned;

    /// An answer decoded all the way, as the stores do.
    fn decoded<T: DeserializeOwned>(function: &str, status: u16, body: &str) -> StoreResult<T> {
        decode_http_answer(function, status, body).and_then(|v| decode_result(function, v))
    }

    fn err(status: u16, body: &str) -> StoreError {
        match decoded::<serde_json::Value>("f", status, body) {
            Err(e) => e,
            Ok(v) => panic!("expected an error, got {v}"),
        }
    }

    #[test]
    fn rejections_raised_and_returned_decode() {
        let raised = r#"{"code":"LY001","message":"{\"code\": \"insufficient_balance\", \"balance\": 5, \"requested\": 7}","details":null,"hint":null}"#;
        assert_eq!(err(400, raised), StoreError::Rejected(Rejection::InsufficientBalance { balance: 5, requested: 7 }));
        let returned = r#"{"rejected": {"code": "redemption_expired"}}"#;
        assert_eq!(err(200, returned), StoreError::Rejected(Rejection::RedemptionExpired));
        assert!(matches!(
            err(400, r#"{"code":"LY001","message":"{\"code\": \"no_such_rule\"}"}"#),
            StoreError::Backend(_)
        ));
    }

    #[test]
    fn results_decode_and_null_is_none() {
        assert_eq!(decoded::<Option<u32>>("f", 200, "null").unwrap(), None);
        assert_eq!(decoded::<Option<u32>>("f", 200, "").unwrap(), None);
        assert_eq!(decoded::<()>("f", 200, "null").unwrap(), ());
        assert!(decoded::<bool>("f", 200, "true").unwrap());
        assert!(matches!(decoded::<bool>("f", 200, "<html>"), Err(StoreError::Backend(_))));
    }

    #[test]
    fn temporary_and_permanent_errors() {
        for (status, body) in [
            (503, r#"{"code":"PGRST001","message":"Database client error. Retrying the connection."}"#),
            (503, r#"{"code":"08006","message":"connection failure"}"#),
            (500, r#"{"code":"40001","message":"could not serialize access"}"#),
            (500, r#"{"code":"57P01","message":"terminating connection due to administrator command"}"#),
            (504, r#"{"code":"PGRST003","message":"Timed out acquiring connection from connection pool."}"#),
            (502, "<html>Bad Gateway</html>"),
            (429, ""),
            (408, ""),
            (400, r#"{"code":"40P01","message":"deadlock detected"}"#),
        ] {
            assert!(err(status, body).is_temporary(), "{status} {body}");
        }
        for (status, body) in [
            (
                404,
                r#"{"code":"PGRST202","message":"Could not find the function loyalty.nope(req) in the schema cache"}"#,
            ),
            (401, r#"{"code":"42501","message":"permission denied for function credit_purchase"}"#),
            (403, r#"{"code":"42501","message":"permission denied for function credit_purchase"}"#),
            (401, r#"{"code":"PGRST301","message":"JWSError JWSInvalidSignature"}"#),
            (409, r#"{"code":"23505","message":"duplicate key value violates unique constraint"}"#),
            (400, r#"{"code":"LY002","message":"unknown broadcast job 7"}"#),
            (406, r#"{"code":"PGRST106","message":"The schema must be one of the following: public"}"#),
        ] {
            let e = err(status, body);
            assert!(matches!(e, StoreError::Backend(_)), "{status} {body}: {e:?}");
        }
        let e = err(404, r#"{"code":"PGRST202","message":"Could not find the function"}"#);
        assert_eq!(e.to_string(), "storage failure: f: HTTP 404 PGRST202: Could not find the function");
    }

    #[test]
    fn long_bodies_are_clipped() {
        let body = "x".repeat(10_000);
        let StoreError::Unavailable(m) = err(502, &body) else { panic!("502 is temporary") };
        assert!(m.chars().count() < MAX_DETAIL_CHARS + 40, "{m}");
    }

    #[test]
    fn endpoint_checks_url_and_key_without_repeating_the_key() {
        let key = "sb_secret_abcdefghijklmnop";
        let endpoint = RestEndpoint::new("https://x.supabase.co/rest/v1/", Secret::new(key)).unwrap();
        assert_eq!(endpoint.rest_url(), "https://x.supabase.co/rest/v1");
        assert_eq!(endpoint.function_url("partner"), "https://x.supabase.co/rest/v1/rpc/partner");
        let debug = format!("{endpoint:?}");
        assert!(!debug.contains(key) && debug.contains("rest_url"), "{debug}");
        assert_eq!(endpoint.scrub(format!("echo {key} back")), "echo *** back");
        let e = endpoint.decode("f", 401, &format!(r#"{{"code":"PGRST301","message":"bad key {key}"}}"#)).unwrap_err();
        assert!(!e.to_string().contains(key), "{e}");

        for url in ["", "x.supabase.co", "ftp://x", "https://", "https:///x", "https://a b"] {
            let e = RestEndpoint::new(url, Secret::new(key)).unwrap_err();
            assert!(e.to_string().contains("SUPABASE_URL"), "{url}: {e}");
        }
        for bad in ["", "with space", "new\nline", "ключ"] {
            let e = RestEndpoint::new("https://x.supabase.co/rest/v1", Secret::new(bad)).unwrap_err();
            assert!(e.to_string().contains("SUPABASE_KEY"), "{e}");
            assert!(bad.is_empty() || !e.to_string().contains(bad), "{e}");
        }
    }
}
