//! Storage over Supabase's Data API: [`PostgrestStore`] calls the SQL functions
//! of the `loyalty` schema through PostgREST's RPC endpoint, one HTTP request
//! per [`Storage`](crate::ports::Storage) method. The protocol — URL, headers, body, and how answers
//! map to [`StoreError`]s — is [`super::rest`]'s; requests that get no answer
//! (refused, reset, timed out after [`DEFAULT_TIMEOUT`] on native targets) are
//! [`StoreError::Unavailable`].
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

use super::rest::RestEndpoint;
#[cfg(test)]
use super::rest::{MAX_DETAIL_CHARS, decode_http_answer};
pub use super::rest::{REST_PATH, SCHEMA};
use super::rpc::RpcBackend;
use crate::config::{Config, ConfigError, Secret};
#[cfg(test)]
use crate::ports::*;
use crate::ports::{StoreError, StoreResult};
use async_trait::async_trait;
use serde_json::Value;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one request may take on native targets before it fails as
/// [`StoreError::Unavailable`]. On `wasm32` the platform's own limits apply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The [`Storage`](crate::ports::Storage) backend over PostgREST. Cheap to share behind an `Arc`;
/// the HTTP client inside pools its connections.
pub struct PostgrestStore {
    client: postgrest::Postgrest,
    endpoint: RestEndpoint,
    timeout: Duration,
    requests: AtomicU64,
}

impl fmt::Debug for PostgrestStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgrestStore")
            .field("rest_url", &self.endpoint.rest_url())
            .field("schema", &SCHEMA)
            .field("key", self.endpoint.key())
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
    /// Those of [`RestEndpoint::new`].
    pub fn new(rest_url: impl Into<String>, key: Secret) -> Result<PostgrestStore, ConfigError> {
        Ok(PostgrestStore::with_endpoint(RestEndpoint::new(rest_url, key)?))
    }

    /// A store for `SUPABASE_URL` (+ [`REST_PATH`]) and `SUPABASE_KEY`.
    ///
    /// # Errors
    /// Those of [`RestEndpoint::from_config`].
    pub fn from_config(config: &Config) -> Result<PostgrestStore, ConfigError> {
        Ok(PostgrestStore::with_endpoint(RestEndpoint::from_config(config)?))
    }

    fn with_endpoint(endpoint: RestEndpoint) -> PostgrestStore {
        let mut client = postgrest::Postgrest::new(endpoint.rest_url()).schema(SCHEMA);
        // The endpoint checked the key, so the client's header conversion cannot fail.
        for (name, value) in endpoint.headers() {
            if name != "Content-Profile" {
                client = client.insert_header(name, value);
            }
        }
        PostgrestStore { client, endpoint, timeout: DEFAULT_TIMEOUT, requests: AtomicU64::new(0) }
    }

    /// The same store with another request timeout (native targets only; on
    /// `wasm32` the platform's own limits apply).
    pub fn with_timeout(mut self, timeout: Duration) -> PostgrestStore {
        self.timeout = timeout;
        self
    }

    /// The PostgREST base URL, without a trailing slash.
    pub fn rest_url(&self) -> &str {
        self.endpoint.rest_url()
    }

    /// HTTP requests sent so far: one per storage call.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Calls `loyalty.<function>(req => input)` and decodes its JSON result.
    /// One `POST /rpc/<function>` with `{"req": <request>}` (the functions' one parameter is named `req`).
    async fn call(&self, function: &str, request: String) -> StoreResult<Value> {
        let request = self.client.rpc(function, RestEndpoint::body(&request)).build();
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
        self.endpoint.decode(function, status, &text)
    }

    fn scrub(&self, message: String) -> String {
        self.endpoint.scrub(message)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl RpcBackend for PostgrestStore {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        self.call(function, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::rpc::decode_result;
    use serde::de::DeserializeOwned;

    /// An answer decoded all the way, as the store does.
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
