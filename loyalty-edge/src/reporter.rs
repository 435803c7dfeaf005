//! Error reports in the Worker's log.

use async_trait::async_trait;

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

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
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
