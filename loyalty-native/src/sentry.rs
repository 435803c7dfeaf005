//! Error reports to Sentry: [`SentryReporter`] builds each report's envelope
//! with [`loyalty_core::adapters::sentry`] (the same envelopes as
//! `loyalty-edge`'s `FetchSentry`) and hands it to [`ReqwestTransport`], a
//! [`sentry_core::Transport`] that posts envelopes with `reqwest` on the Tokio
//! runtime. The transport also serves `sentry_core::Client`
//! (`ClientOptions::transport`).
//!
//! Reporting never fails the caller: every failure (DSN host unreachable,
//! timeout — [`DEFAULT_TIMEOUT`] —, a non-2xx answer) is logged with `tracing`
//! and dropped. A `429 Too Many Requests` pauses posting for its `Retry-After`
//! ([`RateLimit`]). [`SentryReporter::report`] returns once the envelope is
//! posted or dropped.

use async_trait::async_trait;
use loyalty_core::Config;
use loyalty_core::adapters::sentry::{CONTENT_TYPE, DsnError, Envelopes, RateLimit, to_bytes};
use loyalty_core::ports::{Clock, ErrorReport, ErrorReporter, Randomness};
use sentry_core::Transport;
use sentry_core::protocol::Envelope;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

/// How long one envelope may take to post.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// [`ErrorReporter`] posting each report to Sentry as an event envelope.
pub struct SentryReporter {
    envelopes: Envelopes,
    transport: ReqwestTransport,
}

impl fmt::Debug for SentryReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryReporter")
            .field("envelopes", &self.envelopes)
            .field("transport", &self.transport)
            .finish()
    }
}

impl SentryReporter {
    /// The reporter configured by `SENTRY_DSN` and `SENTRY_ENVIRONMENT`;
    /// `Ok(None)` when no DSN is set (reports then only go to `tracing`).
    ///
    /// # Errors
    /// [`DsnError`] when `SENTRY_DSN` is not a DSN.
    pub fn from_config(
        config: &Config,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Randomness>,
    ) -> Result<Option<SentryReporter>, DsnError> {
        Ok(Envelopes::from_config(config, clock.clone(), random)?.map(|e| SentryReporter::with_envelopes(e, clock)))
    }

    /// A reporter for `dsn` tagging events with `environment`, with the
    /// [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    /// [`DsnError`] when `dsn` is not a DSN.
    pub fn new(
        dsn: &str,
        environment: impl Into<String>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Randomness>,
    ) -> Result<SentryReporter, DsnError> {
        Ok(SentryReporter::with_envelopes(Envelopes::new(dsn, environment, clock.clone(), random)?, clock))
    }

    fn with_envelopes(envelopes: Envelopes, clock: Arc<dyn Clock>) -> SentryReporter {
        let transport = ReqwestTransport::new(&envelopes, clock, DEFAULT_TIMEOUT);
        SentryReporter { envelopes, transport }
    }

    /// The same reporter with another timeout per envelope.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> SentryReporter {
        self.transport = ReqwestTransport::new(&self.envelopes, self.transport.inner.clock.clone(), timeout);
        self
    }

    /// What reports are posted as, and where.
    pub fn envelopes(&self) -> &Envelopes {
        &self.envelopes
    }

    /// The transport posting them.
    pub fn transport(&self) -> &ReqwestTransport {
        &self.transport
    }
}

#[async_trait]
impl ErrorReporter for SentryReporter {
    async fn report(&self, report: ErrorReport) {
        self.transport.send_envelope(self.envelopes.envelope(&report));
        self.transport.idle().await;
    }
}

/// A [`sentry_core::Transport`] posting envelopes with `reqwest`: each one is
/// posted by a task on the Tokio runtime (the one current when it is sent, else
/// the one current when the transport was made). Cheap to clone.
#[derive(Clone)]
pub struct ReqwestTransport {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: String,
    auth: String,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    limit: RateLimit,
    tasks: TaskTracker,
    runtime: Option<Handle>,
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport")
            .field("timeout", &self.inner.timeout)
            .field("in_flight", &self.inner.tasks.len())
            .finish_non_exhaustive()
    }
}

impl ReqwestTransport {
    /// A transport posting to the endpoint of `envelopes` with its
    /// authentication, each post bounded by `timeout`; `clock` times the pause
    /// after a `429`.
    pub fn new(envelopes: &Envelopes, clock: Arc<dyn Clock>, timeout: Duration) -> ReqwestTransport {
        let tasks = TaskTracker::new();
        // Closed once and for all, so that `wait` means "until nothing is in flight".
        tasks.close();
        ReqwestTransport {
            inner: Arc::new(Inner {
                http: reqwest::Client::new(),
                url: envelopes.envelope_url().to_string(),
                auth: envelopes.auth_header().to_string(),
                timeout,
                clock,
                limit: RateLimit::new(),
                tasks,
                runtime: Handle::try_current().ok(),
            }),
        }
    }

    /// Completes when no envelope is being posted.
    pub async fn idle(&self) {
        self.inner.tasks.wait().await;
    }
}

impl Transport for ReqwestTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let Some(runtime) = Handle::try_current().ok().or_else(|| self.inner.runtime.clone()) else {
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
        let now = self.clock.now();
        if !self.limit.allows(now) {
            tracing::debug!("sentry: rate limited, report dropped");
            return;
        }
        let sent = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("X-Sentry-Auth", &self.auth)
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
            Err(error) => {
                tracing::warn!(
                    timeout = error.is_timeout(),
                    connect = error.is_connect(),
                    "sentry: could not send the report"
                );
            }
        }
    }
}
