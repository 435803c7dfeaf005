//! Error reports to Sentry over the Workers `fetch` API.

use crate::http::{PostBody, PostOptions, post};
use async_trait::async_trait;
use loyalty_core::adapters::sentry::{CONTENT_TYPE, Envelopes, RateLimit, to_bytes};
use loyalty_core::ports::{ErrorReport, ErrorReporter};
use std::time::Duration;

/// How long posting one envelope may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// [`ErrorReporter`] posting Sentry envelopes with `fetch`. The envelope —
/// event, tags, scrubbing, ids — is `loyalty-core`'s [`Envelopes`], exactly
/// as natively; only the transport differs. After a `429` it posts nothing
/// for the `Retry-After` Sentry gave ([`RateLimit`], kept per isolate).
/// Reports that cannot be sent are dropped (they were already written to the
/// Worker's log by [`ConsoleReporter`](crate::ConsoleReporter)).
#[derive(Debug)]
pub struct FetchSentry {
    envelopes: Envelopes,
    limit: RateLimit,
}

impl FetchSentry {
    /// Posts the envelopes `envelopes` builds to its DSN's endpoint.
    pub fn new(envelopes: Envelopes) -> FetchSentry {
        FetchSentry { envelopes, limit: RateLimit::default() }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ErrorReporter for FetchSentry {
    async fn report(&self, report: ErrorReport) {
        let now = self.envelopes.now();
        if !self.limit.allows(now) {
            return;
        }
        let body = to_bytes(&self.envelopes.envelope(&report));
        let headers = [("Content-Type", CONTENT_TYPE), ("X-Sentry-Auth", self.envelopes.auth_header())];
        let options = PostOptions { skip_body: true, ..PostOptions::default() };
        match post(self.envelopes.envelope_url(), &headers, PostBody::Bytes(&body), TIMEOUT, options).await {
            Ok(answer) if (200..300).contains(&answer.status) => {}
            Ok(answer) => {
                let status = answer.status;
                match self.limit.answered(now, status, answer.retry_after.as_deref()) {
                    Some(pause) => worker::console_warn!("sentry: rate limited, pausing reports for {pause} s"),
                    None => worker::console_warn!("sentry: report rejected (HTTP {status})"),
                }
            }
            Err(e) => worker::console_warn!("sentry: could not send the report: {e}"),
        }
    }
}
