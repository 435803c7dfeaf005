//! Time and randomness on Workers.

use async_trait::async_trait;
use loyalty_core::domain::Timestamp;
use loyalty_core::ports::{Clock, Randomness};
use std::time::Duration;

/// The Workers clock: `Date.now()`, and `setTimeout` for waiting.
///
/// Inside a request, Workers advance `Date.now()` only across I/O, which is
/// all the core needs (timestamps of ledger entries, day boundaries,
/// `retry_after` waits).
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerClock;

#[async_trait(?Send)]
impl Clock for WorkerClock {
    fn now(&self) -> Timestamp {
        let millis = worker::Date::now().as_millis();
        Timestamp(i64::try_from(millis / 1000).unwrap_or(i64::MAX))
    }

    async fn sleep(&self, millis: u64) {
        worker::Delay::from(Duration::from_millis(millis)).await;
    }
}

/// `crypto.getRandomValues` (through `getrandom`'s JS backend).
#[derive(Debug, Clone, Copy, Default)]
pub struct CryptoRandom;

impl Randomness for CryptoRandom {
    fn fill(&self, buf: &mut [u8]) {
        // crypto.getRandomValues does not fail for buffers this small; if it ever
        // did, continuing with predictable codes and keys would be worse than failing
        // the request (a panic fails only this request, see the crate docs).
        if let Err(e) = getrandom::fill(buf) {
            panic!("crypto.getRandomValues failed: {e}");
        }
    }
}

/// Writes every error report to the Worker's log (`console.error`, seen in
/// `wrangler tail` and the dashboard), then passes it on to `next` (Sentry,
/// when `SENTRY_DSN` is set). On Workers nothing else would log it: the core's
/// `tracing` events have no subscriber there.
pub struct ConsoleReporter {
    next: Option<std::sync::Arc<dyn loyalty_core::ports::ErrorReporter>>,
}

impl ConsoleReporter {
    /// A reporter that logs, then forwards to `next` if any.
    pub fn new(next: Option<std::sync::Arc<dyn loyalty_core::ports::ErrorReporter>>) -> ConsoleReporter {
        ConsoleReporter { next }
    }
}

impl std::fmt::Debug for ConsoleReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleReporter").field("forwards", &self.next.is_some()).finish()
    }
}

#[async_trait(?Send)]
impl loyalty_core::ports::ErrorReporter for ConsoleReporter {
    async fn report(&self, report: loyalty_core::ports::ErrorReport) {
        worker::console_error!(
            "[{}{}] {}{}",
            report.context,
            report.update_kind.map(|k| format!(" {k}")).unwrap_or_default(),
            report.message,
            if report.temporary { " (temporary)" } else { "" }
        );
        if let Some(next) = &self.next {
            next.report(report).await;
        }
    }
}
