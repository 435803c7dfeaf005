//! What the engine tells an operator about its work: one structured log
//! event per handled update, API request and scheduled job, and — with the
//! `metrics` feature — the same figures through the [`metrics`] facade.
//!
//! # Log events
//!
//! Every event is a `tracing` event at `INFO` (a failure's at `WARN`) with
//! the target `loyalty::handled` and fields only — never a user's id, name,
//! text or a token:
//!
//! | Field | Updates | API | Jobs |
//! |---|---|---|---|
//! | `surface` | `update` | `api` | `job` |
//! | `bot` | `client`, `partner`, `admin` | — | — |
//! | `kind` | the update's kind: `message`, `callback_query`, … | the route template, e.g. `/api/v1/partner/credits` | the job: `expire_points`, … |
//! | `outcome` | `ok`, `duplicate`, `ignored`, `refused`, `failed`, `failed_temporarily` | the HTTP status | `ok`, `failed` |
//! | `duration_ms` | handling time | handling time | — |
//! | `store_calls` | storage round trips, the claim's included | storage round trips | — |
//! | `store_errors` | failed storage calls (not counting refusals) | the same | — |
//! | `use_cases` | the storage calls made, comma-separated (`credit_purchase`) | the same | — |
//! | `count` | — | — | what the job did (points expired, …) |
//!
//! Natively `loyalty_native::runtime::init_logging` writes them as text on a
//! terminal and as JSON lines otherwise; on Workers `loyalty_edge` writes each
//! as one JSON object to the console, which Workers Logs indexes by field.
//!
//! # Metrics (feature `metrics`)
//!
//! Recorded through the [`metrics`] facade, so any recorder works
//! (`loyalty serve` installs a Prometheus one and serves it at `/metrics`):
//!
//! | Name | Type | Labels |
//! |---|---|---|
//! | `loyalty_updates_total` | counter | `bot`, `kind`, `outcome` |
//! | `loyalty_update_duration_seconds` | histogram | `bot` |
//! | `loyalty_api_requests_total` | counter | `route`, `status` |
//! | `loyalty_api_duration_seconds` | histogram | `route` |
//! | `loyalty_storage_calls_total` | counter | `call`, `outcome` (`ok`, `rejected`, `duplicate`, `unavailable`, `error`) |
//! | `loyalty_jobs_total` | counter | `job`, `outcome` |
//! | `loyalty_job_items_total` | counter | `job` |
//! | `loyalty_bot_api_errors_total` | counter | `bot`, `method`, `code` (`429`, `403`, …, `transport`) |
//! | `loyalty_rate_limit_wait_seconds_total` | counter | `bot` (the `retry_after` Telegram asked for) |
//! | `loyalty_webhook_pending_updates` | gauge | `bot` (from the [watchdog](crate::jobs::watch_webhooks)) |
//! | `loyalty_outbox_messages_total` | counter | `outcome` (`sent`, `failed`, `retry`) |
//! | `loyalty_outbox_pending`, `loyalty_outbox_oldest_age_seconds`, `loyalty_outbox_failed` | gauge | — (from the maintenance pass) |
//! | `loyalty_webhook_deliveries_total` | counter | `event`, `outcome` (`ok`, `failed`) |
//!
//! The runtimes add their own (Bot API errors by code, rate-limit waits,
//! deferred work pending); see `docs/SELF_HOSTING.md`.

use crate::domain::*;
use crate::ports::*;
use crate::program::RulesVersion;
use crate::program::campaigns::{Birthday, Campaign};
use crate::program::rewards::Reward;
use crate::telegram::{BotCall, TelegramError};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// The target of every event of this module (`loyalty::handled`), for an
/// embedding program's own `tracing` filters (e.g. the `EnvFilter` directive
/// `warn,loyalty::handled=info`).
pub const TARGET: &str = "loyalty::handled";

/// The storage calls of one update or request: how many, how many failed,
/// and which use cases they were.
#[derive(Debug, Default)]
pub struct Tally {
    calls: AtomicU32,
    errors: AtomicU32,
    refused: std::sync::atomic::AtomicBool,
    trail: Mutex<Vec<(&'static str, CallOutcome)>>,
}

/// The longest trail of storage calls a [`Tally`] keeps (for the use cases
/// and the breadcrumbs; an update makes one to three).
const MAX_TRAIL: usize = 20;

impl Tally {
    /// Counts one call of `name` that ended as `outcome`.
    pub fn record(&self, name: &'static str, outcome: CallOutcome) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if matches!(outcome, CallOutcome::Unavailable | CallOutcome::Error) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut trail = self.trail.lock().unwrap_or_else(|e| e.into_inner());
        if trail.len() < MAX_TRAIL {
            trail.push((name, outcome));
        }
        #[cfg(feature = "metrics")]
        metrics::counter!("loyalty_storage_calls_total", "call" => name, "outcome" => outcome.as_str()).increment(1);
    }

    /// Whether a call was refused because the update was being processed
    /// again and the call cannot be repeated safely.
    pub fn refused_replay(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// Storage calls counted.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Of those, the ones that failed (unreachable store or a backend error; a
    /// rule's refusal is an answer, not a failure).
    pub fn errors(&self) -> u32 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The use cases called (of the first 20 calls), in first-call order,
    /// each once, comma-separated.
    pub fn use_cases(&self) -> String {
        let trail = self.trail.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&str> = Vec::with_capacity(trail.len());
        for (name, _) in trail.iter() {
            if !names.contains(name) {
                names.push(name);
            }
        }
        names.join(",")
    }

    /// The calls so far (the first 20) as breadcrumbs: `credit_purchase: ok`.
    pub fn breadcrumbs(&self) -> Vec<Breadcrumb> {
        let trail = self.trail.lock().unwrap_or_else(|e| e.into_inner());
        trail
            .iter()
            .map(|(name, outcome)| Breadcrumb { category: "storage", message: format!("{name}: {}", outcome.as_str()) })
            .collect()
    }
}

/// What one update or request is doing, for the breadcrumbs of the reports
/// made while it is processed: what it is (the update's kind, the route)
/// and its storage calls — and the webhook events its use cases published,
/// which go to the outbox with its messages.
#[derive(Debug)]
pub struct Scope {
    what: Breadcrumb,
    tally: Arc<Tally>,
    events: Mutex<Vec<crate::outgoing::OutgoingEvent>>,
}

impl Scope {
    /// An update of `kind`.
    pub fn update(kind: &'static str) -> Arc<Scope> {
        Scope::new(Breadcrumb { category: "update", message: kind.to_string() })
    }

    /// A request to the route `template`.
    pub fn api(template: &'static str) -> Arc<Scope> {
        Scope::new(Breadcrumb { category: "api", message: template.to_string() })
    }

    fn new(what: Breadcrumb) -> Arc<Scope> {
        Arc::new(Scope { what, tally: Arc::default(), events: Mutex::default() })
    }

    /// Keeps `events` to be written with the processing's messages.
    pub(crate) fn publish(&self, events: Vec<crate::outgoing::OutgoingEvent>) {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).extend(events);
    }

    /// The events published so far (taking them).
    pub(crate) fn take_events(&self) -> Vec<crate::outgoing::OutgoingEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The calls counted so far.
    pub fn tally(&self) -> &Arc<Tally> {
        &self.tally
    }

    /// The breadcrumbs: what it is, then its storage calls.
    pub fn breadcrumbs(&self) -> Vec<Breadcrumb> {
        let mut crumbs = vec![self.what.clone()];
        crumbs.extend(self.tally.breadcrumbs());
        crumbs
    }
}

/// How one storage call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallOutcome {
    /// It answered.
    Ok,
    /// A rule refused it.
    Rejected,
    /// It found its update claimed before.
    Duplicate,
    /// The store could not be reached.
    Unavailable,
    /// The store failed otherwise.
    Error,
}

impl CallOutcome {
    /// How `result` ended.
    pub fn of<T>(result: &StoreResult<T>) -> CallOutcome {
        match result {
            Ok(_) => CallOutcome::Ok,
            Err(StoreError::Rejected(_)) => CallOutcome::Rejected,
            Err(StoreError::DuplicateUpdate) => CallOutcome::Duplicate,
            Err(StoreError::Unavailable(_)) => CallOutcome::Unavailable,
            Err(_) => CallOutcome::Error,
        }
    }

    /// The label: `ok`, `rejected`, `duplicate`, `unavailable` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Rejected => "rejected",
            CallOutcome::Duplicate => "duplicate",
            CallOutcome::Unavailable => "unavailable",
            CallOutcome::Error => "error",
        }
    }
}

/// A store view that counts its calls into a [`Tally`]: the engine puts one
/// in front of the store (or the update's folded view) for each update and
/// request.
pub(crate) struct Counted {
    inner: Arc<dyn Storage>,
    tally: Arc<Tally>,
    /// Refuse the calls an update's second processing must not repeat
    /// ([`NOT_REPLAYABLE`]).
    replay: bool,
}

/// The storage calls that carry no idempotency key tied to the update: a
/// second processing of an update ([`crate::outbox::recover_updates`]) must
/// not make them again (a second campaign, rules version or API key).
pub(crate) const NOT_REPLAYABLE: &[&str] = &["create_campaign", "set_program_rules", "set_partner_api_key"];

impl Counted {
    /// `inner`, counted into `tally`.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub(crate) fn view(inner: Arc<dyn Storage>, tally: Arc<Tally>) -> Arc<dyn Storage> {
        Arc::new(Counted { inner, tally, replay: false })
    }

    /// `inner`, counted into `tally`, for processing an update again: a call
    /// of [`NOT_REPLAYABLE`] is not made; it fails as unavailable and is
    /// recorded in the tally ([`Tally::refused_replay`]).
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub(crate) fn replay_view(inner: Arc<dyn Storage>, tally: Arc<Tally>) -> Arc<dyn Storage> {
        Arc::new(Counted { inner, tally, replay: true })
    }

    async fn run<T>(&self, name: &'static str, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        if self.replay && NOT_REPLAYABLE.contains(&name) {
            self.tally.refused.store(true, Ordering::Relaxed);
            return Err(StoreError::Unavailable(format!("{name} is not made again when an update is processed again")));
        }
        let result = call.await;
        self.tally.record(name, CallOutcome::of(&result));
        result
    }
}

/// The `Storage` impl of [`Counted`]: every call through `Counted::run`.
macro_rules! counted_storage {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
        impl Storage for Counted {
            $(
                async fn $method(&self, $($arg: $ty),*) -> StoreResult<$out> {
                    self.run(stringify!($method), self.inner.$method($($arg),*)).await
                }
            )*
            async fn claim_update(&self, claim: UpdateClaim) -> StoreResult<bool> {
                self.run("claim_update", self.inner.claim_update(claim)).await
            }
            async fn ping(&self) -> StoreResult<()> {
                self.run("ping", self.inner.ping()).await
            }
        }
    };
}

crate::storage_calls!(counted_storage);

/// Milliseconds between two readings of [`Clock::now_micros`], to 0.001 ms.
fn millis_between(started: u64, ended: u64) -> f64 {
    ended.saturating_sub(started) as f64 / 1000.0
}

/// One handled update: the log event and the metrics.
pub(crate) fn update_handled(
    bot: BotKind,
    kind: &'static str,
    outcome: &'static str,
    started: u64,
    ended: u64,
    tally: &Tally,
) {
    let duration_ms = millis_between(started, ended);
    let (store_calls, store_errors) = (tally.calls(), tally.errors());
    let bot = bot.as_str();
    // The fields are evaluated only when the event is enabled (`use_cases` allocates).
    macro_rules! event {
        ($level:ident) => {
            tracing::$level!(
                target: TARGET,
                surface = "update",
                bot,
                kind,
                outcome,
                duration_ms,
                store_calls,
                store_errors,
                use_cases = %tally.use_cases(),
                "update handled"
            )
        };
    }
    if outcome.starts_with("failed") {
        event!(warn);
    } else {
        event!(info);
    }
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("loyalty_updates_total", "bot" => bot, "kind" => kind, "outcome" => outcome).increment(1);
        metrics::histogram!("loyalty_update_duration_seconds", "bot" => bot).record(duration_ms / 1000.0);
    }
}

/// One answered API request (`route` is the matched template, never the path).
pub(crate) fn api_handled(route: &'static str, status: u16, started: u64, ended: u64, tally: &Tally) {
    let duration_ms = millis_between(started, ended);
    let (store_calls, store_errors) = (tally.calls(), tally.errors());
    macro_rules! event {
        ($level:ident) => {
            tracing::$level!(
                target: TARGET,
                surface = "api",
                kind = route,
                outcome = status,
                duration_ms,
                store_calls,
                store_errors,
                use_cases = %tally.use_cases(),
                "api request handled"
            )
        };
    }
    if status >= 500 {
        event!(warn);
    } else {
        event!(info);
    }
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("loyalty_api_requests_total", "route" => route, "status" => status.to_string()).increment(1);
        metrics::histogram!("loyalty_api_duration_seconds", "route" => route).record(duration_ms / 1000.0);
    }
}

/// One run of a scheduled job that did `count` things (`None`: it failed).
pub(crate) fn job_ran(job: &'static str, count: Option<usize>) {
    match count {
        Some(count) => tracing::info!(target: TARGET, surface = "job", kind = job, outcome = "ok", count, "job ran"),
        None => tracing::warn!(target: TARGET, surface = "job", kind = job, outcome = "failed", "job ran"),
    }
    #[cfg(feature = "metrics")]
    {
        let outcome = if count.is_some() { "ok" } else { "failed" };
        metrics::counter!("loyalty_jobs_total", "job" => job, "outcome" => outcome).increment(1);
        metrics::counter!("loyalty_job_items_total", "job" => job).increment(count.unwrap_or(0) as u64);
    }
}

/// A Bot API call that failed (before any retry): a `DEBUG` event and the
/// metrics `loyalty_bot_api_errors_total{bot, method, code}` (`code` is the
/// Bot API's error code, `429` for rate limits, `transport` or `no_token`)
/// and, for a rate limit, `loyalty_rate_limit_wait_seconds_total{bot}`.
pub(crate) fn bot_api_failed(call: &BotCall, error: &TelegramError) {
    let code = match error {
        TelegramError::RetryAfter(_) => "429".to_string(),
        TelegramError::Api { code, .. } => code.to_string(),
        TelegramError::Transport(_) => "transport".to_string(),
        _ => "no_token".to_string(),
    };
    let bot = call.bot.as_str();
    tracing::debug!(target: TARGET, surface = "bot_api", bot, kind = call.method, outcome = code.as_str(), "Bot API call failed");
    #[cfg(feature = "metrics")]
    {
        if let TelegramError::RetryAfter(secs) = error {
            metrics::counter!("loyalty_rate_limit_wait_seconds_total", "bot" => bot).increment(u64::from(*secs));
        }
        metrics::counter!("loyalty_bot_api_errors_total", "bot" => bot, "method" => call.method, "code" => code)
            .increment(1);
    }
}

/// One outbox message's delivery outcome: the metric
/// `loyalty_outbox_messages_total{outcome}` (`sent`, `failed`, `retry`).
pub(crate) fn message_settled(outcome: &crate::ports::MessageOutcome) {
    #[cfg(feature = "metrics")]
    {
        let outcome = match outcome {
            crate::ports::MessageOutcome::Sent => "sent",
            crate::ports::MessageOutcome::Failed { .. } => "failed",
            crate::ports::MessageOutcome::Retry { .. } => "retry",
        };
        metrics::counter!("loyalty_outbox_messages_total", "outcome" => outcome).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// One webhook delivery attempt: a log event and the counter
/// `loyalty_webhook_deliveries_total{event, outcome}` (`ok` or `failed`).
pub(crate) fn webhook_posted(event: crate::outgoing::WebhookEvent, status: Option<u16>, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    tracing::info!(target: TARGET, surface = "webhook_out", event = event.as_str(), status, outcome, "webhook delivery");
    #[cfg(feature = "metrics")]
    metrics::counter!("loyalty_webhook_deliveries_total", "event" => event.as_str(), "outcome" => outcome).increment(1);
}

/// The outbox as the maintenance pass last saw it: the gauges
/// `loyalty_outbox_pending`, `loyalty_outbox_oldest_age_seconds` and
/// `loyalty_outbox_failed`.
pub(crate) fn outbox_seen(state: &crate::ports::OutboxState, now: crate::domain::Timestamp) {
    let age = state.oldest.map_or(0, |t| (now.0 - t.0).max(0));
    tracing::info!(target: TARGET, surface = "job", kind = "outbox", pending = state.pending, oldest_age_secs = age,
        failed = state.failed, "outbox");
    #[cfg(feature = "metrics")]
    {
        metrics::gauge!("loyalty_outbox_pending").set(state.pending as f64);
        metrics::gauge!("loyalty_outbox_oldest_age_seconds").set(age as f64);
        metrics::gauge!("loyalty_outbox_failed").set(state.failed as f64);
    }
}

/// The backlog of a bot's webhook as the watchdog last saw it.
pub(crate) fn webhook_backlog(bot: BotKind, pending: u64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("loyalty_webhook_pending_updates", "bot" => bot.as_str()).set(pending as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = (bot, pending);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[tokio::test]
    async fn a_counted_view_counts_calls_failures_and_use_cases() {
        let tally = Arc::new(Tally::default());
        let store = Counted::view(Arc::new(MemoryStore::new()), tally.clone());
        store.ping().await.unwrap();
        let missing = store.partner(PartnerRef::Id(PartnerId(404))).await.unwrap();
        assert!(missing.is_none());
        store.ping().await.unwrap();
        assert_eq!((tally.calls(), tally.errors()), (3, 0));
        assert_eq!(tally.use_cases(), "ping,partner");
        tally.record("credit_purchase", CallOutcome::of::<()>(&Err(StoreError::Unavailable("down".into()))));
        tally.record("credit_purchase", CallOutcome::of::<()>(&Err(StoreError::Rejected(Rejection::UnknownCustomer))));
        assert_eq!((tally.calls(), tally.errors()), (5, 1));
        assert_eq!(tally.use_cases(), "ping,partner,credit_purchase");
    }
}
