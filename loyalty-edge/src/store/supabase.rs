//! Storage on Supabase (PostgREST) over the Workers `fetch` API.

use crate::http::{PostBody, PostOptions, post};
use async_trait::async_trait;
use loyalty_core::Config;
use loyalty_core::ConfigError;
use loyalty_core::ports::{StoreError, StoreResult};
use loyalty_core::stores::rest::RestEndpoint;
use loyalty_core::stores::rpc::RpcBackend;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one storage call may take before it fails as
/// [`StoreError::Unavailable`] (the webhook then answers `503`, and Telegram
/// delivers the update again later).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// [`Storage`](loyalty_core::ports::Storage) on Supabase: the SQL functions of
/// `supabase/migrations` called through PostgREST's RPC endpoint with `fetch`,
/// one request per use case. The protocol (URL, headers, body, errors) is
/// [`loyalty_core::stores::rest`]'s, the same as `loyalty-native`'s
/// `PostgrestStore` (which uses the `postgrest` crate and `reqwest` instead:
/// this one keeps a second HTTP stack out of the Worker).
#[derive(Debug)]
pub struct SupabaseStore {
    endpoint: RestEndpoint,
    timeout: Duration,
    requests: AtomicU64,
}

impl SupabaseStore {
    /// A store for `endpoint`.
    pub fn new(endpoint: RestEndpoint) -> SupabaseStore {
        SupabaseStore { endpoint, timeout: REQUEST_TIMEOUT, requests: AtomicU64::new(0) }
    }

    /// A store for `SUPABASE_URL` and `SUPABASE_KEY`.
    ///
    /// # Errors
    /// Those of [`RestEndpoint::from_config`].
    pub fn from_config(config: &Config) -> Result<SupabaseStore, ConfigError> {
        Ok(SupabaseStore::new(RestEndpoint::from_config(config)?))
    }

    /// Requests sent so far by this store (one per storage call).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl RpcBackend for SupabaseStore {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        let failed = |what: String| StoreError::Unavailable(self.endpoint.scrub(format!("{function}: {what}")));
        let owned = self.endpoint.headers();
        let headers = owned.each_ref().map(|(n, v)| (*n, v.as_str()));
        let body = RestEndpoint::body(&request);
        let url = self.endpoint.function_url(function);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = post(&url, &headers, PostBody::Bytes(body.as_bytes()), self.timeout, PostOptions::default())
            .await
            .map_err(failed)?;
        let text = String::from_utf8_lossy(&answer.body);
        self.endpoint.decode(function, answer.status, &text)
    }
}
