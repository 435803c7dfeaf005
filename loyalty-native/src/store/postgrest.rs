//! Storage over Supabase's Data API: [`PostgrestStore`] calls the SQL functions
//! of the `loyalty` schema through PostgREST's RPC endpoint, one HTTP request
//! per [`Storage`](loyalty_core::ports::Storage) method, with the `postgrest`
//! crate (`reqwest` 0.11, rustls). The protocol — URL, headers, body, and how
//! answers map to [`StoreError`]s — is [`loyalty_core::stores::rest`]'s, shared
//! with `loyalty-edge`'s store over `fetch`; requests that get no answer
//! (refused, reset, timed out after [`DEFAULT_TIMEOUT`]) are
//! [`StoreError::Unavailable`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use loyalty_core::Secret;
//! use loyalty_core::ports::Storage;
//! use loyalty_native::store::postgrest::PostgrestStore;
//!
//! let store = PostgrestStore::new("https://abcd.supabase.co/rest/v1", Secret::new("sb_secret_…"))?;
//! let partners = store.list_partners(None).await?;
//! # let _ = partners;
//! # Ok(())
//! # }
//! ```

use async_trait::async_trait;
use loyalty_core::ports::{StoreError, StoreResult};
use loyalty_core::stores::rest::RestEndpoint;
pub use loyalty_core::stores::rest::{REST_PATH, SCHEMA};
use loyalty_core::stores::rpc::RpcBackend;
use loyalty_core::{Config, ConfigError, Secret};
use serde_json::Value;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one request may take before it fails as [`StoreError::Unavailable`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The [`Storage`](loyalty_core::ports::Storage) backend over PostgREST. Cheap to share behind an `Arc`;
/// the HTTP client inside pools its connections.
pub struct PostgrestStore {
    client: postgrest::Postgrest,
    endpoint: RestEndpoint,
    timeout: Duration,
    requests: AtomicU64,
}

impl fmt::Debug for PostgrestStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the client: its headers hold the key.
        f.debug_struct("PostgrestStore").field("endpoint", &self.endpoint).field("timeout", &self.timeout).finish()
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

    /// The same store with another request timeout.
    #[must_use]
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
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl RpcBackend for PostgrestStore {
    /// One `POST /rpc/<function>` with `{"req": <request>}` (the functions' one parameter is named `req`).
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        let request = self.client.rpc(function, RestEndpoint::body(&request)).build().timeout(self.timeout);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.map_err(|e| {
            let text = self.endpoint.scrub(format!("{function}: {e}"));
            // A request that could not even be built (a bad URL) will never work; everything
            // else (refused, reset, timed out) is the network or the server being away.
            if e.is_builder() { StoreError::Backend(text) } else { StoreError::Unavailable(text) }
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| {
            StoreError::Unavailable(self.endpoint.scrub(format!("{function}: reading the answer: {e}")))
        })?;
        self.endpoint.decode(function, status, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_checks_url_and_key_without_repeating_the_key() {
        let key = "sb_secret_abcdefghijklmnop";
        let store = PostgrestStore::new("https://x.supabase.co/rest/v1/", Secret::new(key)).unwrap();
        assert_eq!(store.rest_url(), "https://x.supabase.co/rest/v1");
        let debug = format!("{store:?}");
        assert!(!debug.contains(key) && debug.contains("rest_url"), "{debug}");
        assert!(
            PostgrestStore::new("x.supabase.co", Secret::new(key)).unwrap_err().to_string().contains("SUPABASE_URL")
        );
        assert!(
            PostgrestStore::new("https://x", Secret::new("with space"))
                .unwrap_err()
                .to_string()
                .contains("SUPABASE_KEY")
        );
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
