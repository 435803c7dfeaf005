//! Error reports to Sentry: [`SentryReporter`] builds each report's envelope
//! with [`loyalty_core::adapters::sentry`] (the same envelopes as
//! `loyalty-edge`'s `FetchSentry`) and posts it with `reqwest` as a
//! [`sentry_core::Transport`], so it also serves `sentry_core::Client`
//! (`ClientOptions::transport`).
//!
//! Reporting never fails the caller: every failure (DSN host unreachable,
//! timeout — [`DEFAULT_TIMEOUT`] —, a non-2xx answer) is logged with `tracing`
//! and dropped. A `429 Too Many Requests` pauses posting for its `Retry-After`
//! ([`RateLimit`]). [`ErrorReporter::report`] returns once the envelope is
//! posted or dropped.

use async_trait::async_trait;
use loyalty_core::adapters::sentry::{CONTENT_TYPE, Envelopes, RateLimit, to_bytes};
use loyalty_core::ports::{ErrorReport, ErrorReporter};
use sentry_core::Transport;
use sentry_core::protocol::Envelope;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

/// How long one envelope may take to post.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// [`ErrorReporter`] and [`sentry_core::Transport`] posting Sentry envelopes
/// to the DSN of its [`Envelopes`]. Each envelope is posted by a task on the
/// current Tokio runtime (without one it is dropped). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SentryReporter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    envelopes: Envelopes,
    http: reqwest::Client,
    timeout: Duration,
    limit: RateLimit,
    tasks: TaskTracker,
}

impl SentryReporter {
    /// A reporter posting what `envelopes` builds (for `SENTRY_DSN`:
    /// [`Envelopes::from_config`]), each post bounded by `timeout`
    /// ([`DEFAULT_TIMEOUT`]).
    pub fn new(envelopes: Envelopes, timeout: Duration) -> SentryReporter {
        let tasks = TaskTracker::new();
        // Closed once and for all, so that `wait` means "until nothing is in flight".
        tasks.close();
        let inner = Inner { envelopes, http: reqwest::Client::new(), timeout, limit: RateLimit::default(), tasks };
        SentryReporter { inner: Arc::new(inner) }
    }

    /// What reports are posted as, and where.
    pub fn envelopes(&self) -> &Envelopes {
        &self.inner.envelopes
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ErrorReporter for SentryReporter {
    async fn report(&self, report: ErrorReport) {
        self.send_envelope(self.inner.envelopes.envelope(&report));
        self.inner.tasks.wait().await;
    }
}

impl Transport for SentryReporter {
    fn send_envelope(&self, envelope: Envelope) {
        let Ok(runtime) = Handle::try_current() else {
            tracing::warn!("sentry: no Tokio runtime to post the report on; dropped");
            return;
        };
        let inner = self.inner.clone();
        self.inner.tasks.spawn_on(async move { inner.post(envelope).await }, &runtime);
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.inner.tasks.is_empty() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Inner {
    async fn post(&self, envelope: Envelope) {
        let now = self.envelopes.now();
        if !self.limit.allows(now) {
            tracing::debug!("sentry: rate limited, report dropped");
            return;
        }
        let sent = self
            .http
            .post(self.envelopes.envelope_url())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("X-Sentry-Auth", self.envelopes.auth_header())
            .timeout(self.timeout)
            .body(to_bytes(&envelope))
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => tracing::debug!("sentry: report sent"),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
                match self.limit.answered(now, status, retry_after) {
                    Some(pause) => tracing::warn!(pause_secs = pause, "sentry: rate limited, pausing reports"),
                    None => tracing::warn!(status, "sentry: report rejected"),
                }
            }
            Err(e) => {
                tracing::warn!(timeout = e.is_timeout(), connect = e.is_connect(), "sentry: could not send the report")
            }
        }
    }
}
