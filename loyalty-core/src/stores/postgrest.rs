//! Storage over Supabase's Data API: [`PostgrestStore`] calls the SQL functions
//! of the `loyalty` schema through PostgREST's RPC endpoint.
//!
//! Every [`Storage`] method is exactly one HTTP request,
//! `POST <rest_url>/rpc/<method>` with the body `{"req": <request JSON>}`, where
//! `<request JSON>` is the serde JSON of the request (the same value
//! `loyalty-native`'s `PgStore` passes as `loyalty.<method>($1::jsonb)`), and
//! the answer is the serde JSON of the response. The functions, shipped as the
//! migrations in `supabase/migrations/`, do the whole use case atomically in
//! one transaction, so a call is never half-applied.
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
//! | no answer: connection refused or lost, timeout ([`DEFAULT_TIMEOUT`] on native targets) | [`Unavailable`](StoreError::Unavailable) |
//! | 408, 429, any 5xx (PostgREST answers 503 when it cannot reach the database, 500 for serialization failures and server shutdowns, 504 when its pool times out) | [`Unavailable`](StoreError::Unavailable) |
//! | a temporary SQLSTATE or PostgREST connection code (class `08`, `53`, `40001`, `40P01`, `57P01`–`57P03`, `57014`, `PGRST000`–`PGRST003`) with any status | [`Unavailable`](StoreError::Unavailable) |
//! | any other 4xx: 401/403 (bad key, `42501` permission denied, e.g. the anon key), 404 (`PGRST202` function not found: migrations missing or schema not exposed), 409, 400 | [`Backend`](StoreError::Backend) |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use loyalty_core::Secret;
//! use loyalty_core::ports::Storage;
//! use loyalty_core::stores::postgrest::PostgrestStore;
//!
//! let store = PostgrestStore::new("https://abcd.supabase.co/rest/v1", Secret::new("sb_secret_…"))?;
//! let partners = store.list_partners(None).await?;
//! # let _ = partners;
//! # Ok(())
//! # }
//! ```
//!
//! The HTTP client is the `postgrest` crate's (`reqwest` 0.11 with rustls on
//! native targets, `fetch` on `wasm32`).

use crate::config::{Config, ConfigError, Secret};
use crate::domain::*;
use crate::ports::*;
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one request may take on native targets before it fails as
/// [`StoreError::Unavailable`]. On `wasm32` the platform's own limits apply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The schema of the functions, sent as `Content-Profile`.
pub const SCHEMA: &str = "loyalty";

/// The path under `SUPABASE_URL` where Supabase serves PostgREST.
pub const REST_PATH: &str = "/rest/v1";

/// SQLSTATE of a rejection raised by the functions.
const REJECTION: &str = "LY001";

/// Longest server message repeated in an error, in characters.
const MAX_DETAIL_CHARS: usize = 300;

/// The [`Storage`] backend over PostgREST. Cheap to share behind an `Arc`;
/// the HTTP client inside pools its connections.
pub struct PostgrestStore {
    client: postgrest::Postgrest,
    rest_url: String,
    key: Secret,
    timeout: Duration,
    requests: AtomicU64,
}

impl fmt::Debug for PostgrestStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgrestStore")
            .field("rest_url", &self.rest_url)
            .field("schema", &SCHEMA)
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .field("requests", &self.requests())
            .finish()
    }
}

impl PostgrestStore {
    /// A store calling the PostgREST API at `rest_url` (for Supabase,
    /// `https://<project-ref>.supabase.co/rest/v1`) with `key`, the service
    /// role / secret key. Sends nothing yet.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `SUPABASE_URL` when `rest_url` is not an
    /// http(s) URL, or `SUPABASE_KEY` when the key is empty or holds characters
    /// an HTTP header cannot carry (the key itself is never repeated).
    pub fn new(rest_url: impl Into<String>, key: Secret) -> Result<PostgrestStore, ConfigError> {
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
        // Both values were checked above, so the client's header conversion cannot fail.
        let client = postgrest::Postgrest::new(rest_url.clone())
            .schema(SCHEMA)
            .insert_header("apikey", k)
            .insert_header("Authorization", format!("Bearer {k}"));
        Ok(PostgrestStore { client, rest_url, key, timeout: DEFAULT_TIMEOUT, requests: AtomicU64::new(0) })
    }

    /// A store for `SUPABASE_URL` (+ [`REST_PATH`]) and `SUPABASE_KEY`.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] when either is not set; the errors of [`PostgrestStore::new`].
    pub fn from_config(config: &Config) -> Result<PostgrestStore, ConfigError> {
        let url = config
            .supabase_url
            .as_deref()
            .ok_or(ConfigError::Missing { name: "SUPABASE_URL", why: "the PostgREST storage" })?;
        let key = config
            .supabase_key
            .clone()
            .ok_or(ConfigError::Missing { name: "SUPABASE_KEY", why: "the PostgREST storage" })?;
        PostgrestStore::new(format!("{}{REST_PATH}", url.trim_end_matches('/')), key)
    }

    /// The same store with another request timeout (native targets only; on
    /// `wasm32` the platform's own limits apply).
    pub fn with_timeout(mut self, timeout: Duration) -> PostgrestStore {
        self.timeout = timeout;
        self
    }

    /// The PostgREST base URL, without a trailing slash.
    pub fn rest_url(&self) -> &str {
        &self.rest_url
    }

    /// HTTP requests sent so far: one per storage call.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Calls `loyalty.<function>(req => input)` and decodes its JSON result.
    async fn call<I: Serialize + ?Sized, T: DeserializeOwned>(&self, function: &str, input: &I) -> StoreResult<T> {
        #[derive(Serialize)]
        struct Body<'a, I: ?Sized> {
            req: &'a I,
        }
        let body = serde_json::to_string(&Body { req: input })
            .map_err(|e| StoreError::Backend(format!("{function}: cannot encode the request: {e}")))?;
        let request = self.client.rpc(function, body).build();
        #[cfg(not(target_arch = "wasm32"))]
        let request = request.timeout(self.timeout);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.map_err(|e| {
            let text = self.scrub(format!("{function}: {e}"));
            // A request that could not even be built (a bad URL) will never work; everything
            // else (refused, reset, timed out) is the network or the server being away.
            if e.is_builder() { StoreError::Backend(text) } else { StoreError::Unavailable(text) }
        })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| StoreError::Unavailable(self.scrub(format!("{function}: reading the answer: {e}"))))?;
        match outcome(function, status, &text) {
            Ok(value) => Ok(value),
            Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(self.scrub(m))),
            Err(StoreError::Backend(m)) => Err(StoreError::Backend(self.scrub(m))),
            Err(other) => Err(other),
        }
    }

    /// Removes the key from a message, should a server or proxy ever echo it.
    fn scrub(&self, message: String) -> String {
        let key = self.key.expose();
        // A very short key (tests) would mangle ordinary words; real keys are long.
        if key.len() >= 8 && message.contains(key) { message.replace(key, "***") } else { message }
    }
}

/// Decodes an answer: a 2xx body is the function's result (or a returned
/// rejection); anything else is an error.
fn outcome<T: DeserializeOwned>(function: &str, status: u16, body: &str) -> StoreResult<T> {
    if !(200..300).contains(&status) {
        return Err(classify(function, status, body));
    }
    let value: serde_json::Value = if body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).map_err(|e| StoreError::Backend(format!("{function}: invalid JSON result: {e}")))?
    };
    // The one refusal that changes something (an expired request) is returned, not raised.
    if let Some(rejection) = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.get("rejected")) {
        return Err(match serde_json::from_value::<Rejection>(rejection.clone()) {
            Ok(r) => StoreError::Rejected(r),
            Err(e) => {
                StoreError::Backend(format!("{function}: unreadable rejection {}: {e}", clip(&rejection.to_string())))
            }
        });
    }
    serde_json::from_value(value).map_err(|e| StoreError::Backend(format!("{function}: unexpected result: {e}")))
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
fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Storage for PostgrestStore {
    async fn register_customer(&self, req: NewCustomer) -> StoreResult<Registration> {
        self.call("register_customer", &req).await
    }

    async fn customer_summary(&self, who: CustomerRef, recent: u32) -> StoreResult<Option<CustomerSummary>> {
        #[derive(Serialize)]
        struct Args {
            who: CustomerRef,
            recent: u32,
        }
        self.call("customer_summary", &Args { who, recent }).await
    }

    async fn customer_entries(
        &self,
        customer: CustomerId,
        limit: u32,
        before: Option<EntryId>,
    ) -> StoreResult<Vec<LedgerEntry>> {
        #[derive(Serialize)]
        struct Args {
            customer: CustomerId,
            limit: u32,
            before: Option<EntryId>,
        }
        self.call("customer_entries", &Args { customer, limit, before }).await
    }

    async fn set_language(&self, who: CustomerRef, language: Language) -> StoreResult<Customer> {
        #[derive(Serialize)]
        struct Args {
            who: CustomerRef,
            language: Language,
        }
        self.call("set_language", &Args { who, language }).await
    }

    async fn set_blocked(
        &self,
        who: CustomerRef,
        blocked: bool,
        admin: TelegramUserId,
        now: Timestamp,
    ) -> StoreResult<Customer> {
        #[derive(Serialize)]
        struct Args {
            who: CustomerRef,
            blocked: bool,
            admin: TelegramUserId,
            now: Timestamp,
        }
        self.call("set_blocked", &Args { who, blocked, admin, now }).await
    }

    async fn credit_purchase(&self, req: CreditPurchase) -> StoreResult<Credited> {
        self.call("credit_purchase", &req).await
    }

    async fn open_redemption(&self, req: OpenRedemption) -> StoreResult<RedemptionView> {
        self.call("open_redemption", &req).await
    }

    async fn confirm_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.call("confirm_redemption", &req).await
    }

    async fn decline_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.call("decline_redemption", &req).await
    }

    async fn expire_redemptions(&self, now: Timestamp) -> StoreResult<Vec<RedemptionRequest>> {
        #[derive(Serialize)]
        struct Args {
            now: Timestamp,
        }
        self.call("expire_redemptions", &Args { now }).await
    }

    async fn reverse_entry(&self, req: ReverseEntry) -> StoreResult<Reversed> {
        self.call("reverse_entry", &req).await
    }

    async fn adjust_balance(&self, req: AdjustBalance) -> StoreResult<Adjusted> {
        self.call("adjust_balance", &req).await
    }

    async fn apply_partner(&self, req: PartnerApplication) -> StoreResult<Applied> {
        self.call("apply_partner", &req).await
    }

    async fn decide_partner(
        &self,
        partner: PartnerId,
        decision: PartnerDecision,
        admin: TelegramUserId,
        now: Timestamp,
    ) -> StoreResult<Decided> {
        #[derive(Serialize)]
        struct Args {
            partner: PartnerId,
            decision: PartnerDecision,
            admin: TelegramUserId,
            now: Timestamp,
        }
        self.call("decide_partner", &Args { partner, decision, admin, now }).await
    }

    async fn partner(&self, who: PartnerRef) -> StoreResult<Option<Partner>> {
        #[derive(Serialize)]
        struct Args {
            who: PartnerRef,
        }
        self.call("partner", &Args { who }).await
    }

    async fn list_partners(&self, status: Option<PartnerStatus>) -> StoreResult<Vec<Partner>> {
        #[derive(Serialize)]
        struct Args {
            status: Option<PartnerStatus>,
        }
        self.call("list_partners", &Args { status }).await
    }

    async fn set_partner_api_key(&self, who: PartnerRef, key_sha256_hex: String) -> StoreResult<Partner> {
        #[derive(Serialize)]
        struct Args {
            who: PartnerRef,
            key_sha256_hex: String,
        }
        self.call("set_partner_api_key", &Args { who, key_sha256_hex }).await
    }

    async fn partner_by_api_key(&self, key_sha256_hex: &str) -> StoreResult<Option<Partner>> {
        #[derive(Serialize)]
        struct Args<'a> {
            key_sha256_hex: &'a str,
        }
        self.call("partner_by_api_key", &Args { key_sha256_hex }).await
    }

    async fn partner_stats(&self, who: PartnerRef, today: Timestamp, week: Timestamp) -> StoreResult<PartnerStats> {
        #[derive(Serialize)]
        struct Args {
            who: PartnerRef,
            today: Timestamp,
            week: Timestamp,
        }
        self.call("partner_stats", &Args { who, today, week }).await
    }

    async fn program_stats(&self, today: Timestamp) -> StoreResult<ProgramStats> {
        #[derive(Serialize)]
        struct Args {
            today: Timestamp,
        }
        self.call("program_stats", &Args { today }).await
    }

    async fn claim_update(&self, bot: BotKind, update_id: i64, now: Timestamp) -> StoreResult<bool> {
        #[derive(Serialize)]
        struct Args {
            bot: BotKind,
            update_id: i64,
            now: Timestamp,
        }
        self.call("claim_update", &Args { bot, update_id, now }).await
    }

    async fn release_update(&self, bot: BotKind, update_id: i64) -> StoreResult<()> {
        #[derive(Serialize)]
        struct Args {
            bot: BotKind,
            update_id: i64,
        }
        self.call("release_update", &Args { bot, update_id }).await
    }

    async fn consume_quota(
        &self,
        kind: QuotaKind,
        user: TelegramUserId,
        day: Timestamp,
        limit: u32,
    ) -> StoreResult<bool> {
        #[derive(Serialize)]
        struct Args {
            kind: QuotaKind,
            user: TelegramUserId,
            day: Timestamp,
            limit: u32,
        }
        self.call("consume_quota", &Args { kind, user, day, limit }).await
    }

    async fn create_broadcast(&self, req: NewBroadcast) -> StoreResult<BroadcastJob> {
        self.call("create_broadcast", &req).await
    }

    async fn claim_broadcast_batch(&self, job: BroadcastId, limit: u32) -> StoreResult<BroadcastBatch> {
        #[derive(Serialize)]
        struct Args {
            job: BroadcastId,
            limit: u32,
        }
        self.call("claim_broadcast_batch", &Args { job, limit }).await
    }

    async fn record_broadcast(&self, job: BroadcastId, sent: u32, failed: u32) -> StoreResult<BroadcastJob> {
        #[derive(Serialize)]
        struct Args {
            job: BroadcastId,
            sent: u32,
            failed: u32,
        }
        self.call("record_broadcast", &Args { job, sent, failed }).await
    }

    async fn pending_broadcasts(&self) -> StoreResult<Vec<BroadcastJob>> {
        #[derive(Serialize)]
        struct Args {}
        self.call("pending_broadcasts", &Args {}).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> StoreError {
        match outcome::<serde_json::Value>("f", status, body) {
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
        assert_eq!(outcome::<Option<u32>>("f", 200, "null").unwrap(), None);
        assert_eq!(outcome::<Option<u32>>("f", 200, "").unwrap(), None);
        assert_eq!(outcome::<()>("f", 200, "null").unwrap(), ());
        assert!(outcome::<bool>("f", 200, "true").unwrap());
        assert!(matches!(outcome::<bool>("f", 200, "<html>"), Err(StoreError::Backend(_))));
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
    fn construction_checks_url_and_key_without_repeating_the_key() {
        let key = "sb_secret_abcdefghijklmnop";
        let store = PostgrestStore::new("https://x.supabase.co/rest/v1/", Secret::new(key)).unwrap();
        assert_eq!(store.rest_url(), "https://x.supabase.co/rest/v1");
        let debug = format!("{store:?}");
        assert!(!debug.contains(key) && debug.contains("rest_url"), "{debug}");
        assert_eq!(store.scrub(format!("echo {key} back")), "echo *** back");

        for url in ["", "x.supabase.co", "ftp://x", "https://", "https:///x", "https://a b"] {
            let e = PostgrestStore::new(url, Secret::new(key)).unwrap_err();
            assert!(e.to_string().contains("SUPABASE_URL"), "{url}: {e}");
        }
        for bad in ["", "with space", "new\nline", "ключ"] {
            let e = PostgrestStore::new("https://x.supabase.co/rest/v1", Secret::new(bad)).unwrap_err();
            assert!(e.to_string().contains("SUPABASE_KEY"), "{e}");
            assert!(bad.is_empty() || !e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn from_config_appends_the_rest_path() {
        let mut config = Config::default();
        assert!(matches!(PostgrestStore::from_config(&config), Err(ConfigError::Missing { name: "SUPABASE_URL", .. })));
        config.supabase_url = Some("https://x.supabase.co".into());
        assert!(matches!(PostgrestStore::from_config(&config), Err(ConfigError::Missing { name: "SUPABASE_KEY", .. })));
        config.supabase_key = Some(Secret::new("sb_secret_123456789"));
        assert_eq!(PostgrestStore::from_config(&config).unwrap().rest_url(), "https://x.supabase.co/rest/v1");
    }
}
