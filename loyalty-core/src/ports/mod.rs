//! Ports: the small traits through which the core reaches the outside world.
//!
//! The core never performs I/O, reads a clock or draws randomness by itself;
//! adapters (`loyalty-native`, `loyalty-edge`) implement these traits and tests
//! implement them with fakes (see the `loyalty-testkit` crate).
//!
//! # The storage contract
//!
//! [`Storage`] has one method per use case, each one atomic round trip.
//!
//! A backend such as Postgres implements every method as a single function call
//! (or a single transaction); the in-memory store holds one lock per call. No
//! method expects the caller to read, decide and write back: the decision is
//! made inside the call, from the inputs given here (including `now` and the
//! day boundaries, which the core computes from its [`Clock`]).
//!
//! Every money-moving request carries an `idempotency_key`. Applying the same
//! key again returns the first result with `replayed = true`; the same key with
//! different parameters is [`Rejection::IdempotencyConflict`].

pub mod import;
mod storage;

pub use import::{
    ImportApplied, ImportBatch, ImportedBalance, ImportedCustomer, ImportedEntry, ImportedPartner, RefusedChange,
};
pub use storage::*;

use crate::domain::{BotKind, Language, Timestamp};
use crate::maybe_send::{MaybeSend, MaybeSync};
use crate::telegram::BotCall;
pub use crate::telegram::TelegramError;
use async_trait::async_trait;
use std::sync::Mutex;

/// Sends one Bot API method with the token of the bot named in the call and
/// returns Telegram's `result` field.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait TelegramApi: MaybeSend + MaybeSync {
    /// Executes `call` (multipart when it carries a file).
    async fn call(&self, call: &BotCall) -> Result<serde_json::Value, TelegramError>;
}

/// One signed delivery to a webhook endpoint ([`WebhookSender::post`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPost {
    /// The endpoint's URL (`https://`, checked by
    /// [`check_url`](crate::outgoing::check_url) when it was registered).
    pub url: String,
    /// The headers to send besides `Content-Type: application/json`:
    /// [`SIGNATURE_HEADER`](crate::outgoing::SIGNATURE_HEADER), `Loyalty-Event`,
    /// `Loyalty-Event-Id` and `User-Agent`.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body, exactly as signed.
    pub body: bytes::Bytes,
}

/// Why a webhook delivery got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookPostError {
    /// The endpoint's host is not public (it resolved to a private, loopback
    /// or link-local address) and this sender does not post there.
    #[error("refused address: {0}")]
    Refused(String),
    /// No answer in time, or the connection failed.
    #[error("no answer: {0}")]
    Unreachable(String),
}

/// Posts signed webhook deliveries ([`crate::outgoing`]): natively with
/// reqwest, on Workers with `fetch`. An implementation follows no redirects,
/// gives up after a few seconds, and answers the HTTP status, whatever it is
/// (the outbox decides what a non-2xx means).
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait WebhookSender: MaybeSend + MaybeSync {
    /// Sends `post` once; the status of the answer.
    async fn post(&self, post: &WebhookPost) -> Result<u16, WebhookPostError>;
}

/// What the assistant may know about the person asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistantContext {
    /// The program's name (the client bot's display name or "loyalty program").
    pub program: String,
    /// The customer's language: answer in it.
    pub language: Language,
    /// The customer's balance.
    pub balance: i64,
    /// Approved partners with their earn rates, e.g. "Pho 24 (cafe): 5 %".
    pub partners: Vec<String>,
}

/// Why the assistant did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssistantError {
    /// Not configured (no API key).
    #[error("assistant is not configured")]
    Unavailable,
    /// The model service failed or timed out.
    #[error("assistant failed: {0}")]
    Failed(String),
}

/// Answers a customer's free-form question (an LLM in production).
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Assistant: MaybeSend + MaybeSync {
    /// Answers `question`, in `context.language`, knowing `context`.
    async fn answer(&self, question: &str, context: &AssistantContext) -> Result<String, AssistantError>;
}

/// An error worth reporting to the team (Sentry in production). Never contains
/// secrets or message texts, only what happened and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// Short description, e.g. "storage temporarily unavailable: …".
    pub message: String,
    /// Where: `webhook.client`, `api`, `deferred`, …
    pub context: &'static str,
    /// The kind of Telegram update being handled, if any (`message`, `callback_query`, …).
    pub update_kind: Option<&'static str>,
    /// Whether the failure is temporary.
    pub temporary: bool,
    /// What led up to it, oldest first: the update's kind and the storage
    /// calls of its processing with their outcomes (never ids, texts or
    /// names). The engine adds them to the reports of an update's or a
    /// request's processing ([`Context::report`](crate::Context::report));
    /// Sentry shows them as breadcrumbs.
    pub breadcrumbs: Vec<Breadcrumb>,
}

/// One step before an error ([`ErrorReport::breadcrumbs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breadcrumb {
    /// `update`, `api` or `storage`.
    pub category: &'static str,
    /// What: `message`, `/api/v1/partner/credits`, `credit_purchase: unavailable`.
    pub message: String,
}

impl ErrorReport {
    /// A report of `message` in `context`, about no update in particular and
    /// without breadcrumbs (the engine adds those of the update or request
    /// being processed: [`Context::report`](crate::Context::report)).
    ///
    /// ```
    /// use loyalty_core::ports::ErrorReport;
    ///
    /// let r = ErrorReport::new("pruning old update claims failed: timeout", "maintenance", true);
    /// assert_eq!((r.context, r.update_kind, r.temporary), ("maintenance", None, true));
    /// assert!(r.breadcrumbs.is_empty());
    /// ```
    pub fn new(message: impl Into<String>, context: &'static str, temporary: bool) -> ErrorReport {
        ErrorReport { message: message.into(), context, update_kind: None, temporary, breadcrumbs: Vec::new() }
    }

    /// The report for a panic that failed the request to `path`: the route
    /// only ([`route_label`]), never the path's ids
    /// or the panic's payload, which may quote what someone sent.
    ///
    /// ```
    /// use loyalty_core::ports::ErrorReport;
    ///
    /// let r = ErrorReport::panic_in_request("/api/v1/redemptions/42/confirm", "server");
    /// assert_eq!(r.message, "panic while handling /api/…");
    /// assert!(!r.temporary);
    /// ```
    pub fn panic_in_request(path: &str, context: &'static str) -> ErrorReport {
        ErrorReport::new(format!("panic while handling {}", route_label(path)), context, false)
    }
}

/// Receives error reports. Must not fail or block for long.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait ErrorReporter: MaybeSend + MaybeSync {
    /// Records one report.
    async fn report(&self, report: ErrorReport);
}

/// An [`ErrorReporter`] that drops everything (reports still go to `tracing`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ErrorReporter for NoReporter {
    async fn report(&self, _report: ErrorReport) {}
}

/// Time: what time it is, and waiting (for rate limits and `retry_after`).
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Clock: MaybeSend + MaybeSync {
    /// Current time.
    fn now(&self) -> Timestamp;
    /// Current time in microseconds since the Unix epoch, for measuring how
    /// long something took (the log events of [`observe`](crate::observe)).
    /// The provided implementation has [`now`](Clock::now)'s resolution, a
    /// second; the runtimes' clocks give the system's (natively) or
    /// `Date.now()`'s (Workers: milliseconds, advancing across I/O only).
    fn now_micros(&self) -> u64 {
        u64::try_from(self.now().0).unwrap_or(0).saturating_mul(1_000_000)
    }
    /// Waits `millis` milliseconds (a stepped test clock advances instead).
    async fn sleep(&self, millis: u64);
}

/// A source of unpredictable bytes (customer codes, API keys, ids).
pub trait Randomness: MaybeSend + MaybeSync {
    /// Fills `buf` with random bytes from a cryptographically secure source.
    fn fill(&self, buf: &mut [u8]);
}

/// An [`ErrorReporter`] that keeps every report in memory: for simulations
/// (`loyalty simulate` checks that none was made) and tests.
#[derive(Debug, Default)]
pub struct RecordingReporter {
    reports: Mutex<Vec<ErrorReport>>,
}

impl RecordingReporter {
    /// The reports so far.
    pub fn reports(&self) -> Vec<ErrorReport> {
        self.reports.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ErrorReporter for RecordingReporter {
    async fn report(&self, report: ErrorReport) {
        self.reports.lock().unwrap_or_else(|e| e.into_inner()).push(report);
    }
}

/// The route a request path belongs to, without ids or other data: what an
/// adapter may put in an error report (a path can quote what someone sent).
///
/// ```
/// use loyalty_core::ports::route_label;
/// assert_eq!(route_label("/webhook/client"), "/webhook/client");
/// assert_eq!(route_label("/api/v1/redemptions/42/confirm"), "/api/…");
/// assert_eq!(route_label("/anything-else"), "(other)");
/// ```
pub fn route_label(path: &str) -> &'static str {
    if let Some(bot) = path.strip_prefix("/webhook/") {
        match BotKind::parse(bot) {
            Some(BotKind::Client) => "/webhook/client",
            Some(BotKind::Partner) => "/webhook/partner",
            Some(BotKind::Admin) => "/webhook/admin",
            _ => "/webhook/…",
        }
    } else if path.starts_with("/api/") {
        "/api/…"
    } else {
        match path {
            "/hooks/sentry" => "/hooks/sentry",
            "/ready" => "/ready",
            "/health" => "/health",
            "(scheduled)" => "(scheduled)",
            _ => "(other)",
        }
    }
}
