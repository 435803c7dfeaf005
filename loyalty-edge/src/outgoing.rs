//! Signed outgoing webhooks over the Workers `fetch` API
//! ([`FetchWebhookSender`]).

use crate::http::{PostBody, PostOptions};
use async_trait::async_trait;
use loyalty_core::ports::{WebhookPost, WebhookPostError, WebhookSender};
use std::time::Duration;

/// How long one delivery may take by default, as natively.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// [`WebhookSender`] over `fetch`: a `POST` with
/// `Content-Type: application/json`, the delivery's headers and body, with
/// `redirect: "manual"` (a `3xx` is the status answered, its `Location` is
/// not followed), given up — and aborted — after [`TIMEOUT`] (the fetch
/// raced with a `Delay`). The answer's body is not read: it is cancelled.
///
/// Where it may post: the core posts only to URLs that
/// [`check_url`](loyalty_core::outgoing::check_url) accepts (`https://`, no
/// `localhost`, no private, loopback or link-local IP literal). What a name
/// resolves to is not checked here, unlike natively (`loyalty-native`'s
/// `PublicResolver`): a Worker cannot resolve names, and needs not —
/// its subrequests leave from Cloudflare's network, which has no route into
/// the operator's private networks and refuses loopback, private and
/// link-local destinations itself. (`wrangler dev`, on the operator's
/// machine, has no such limit.)
///
/// A timeout or a network error is [`WebhookPostError::Unreachable`].
#[derive(Debug, Clone)]
pub struct FetchWebhookSender {
    timeout: Duration,
}

impl Default for FetchWebhookSender {
    fn default() -> FetchWebhookSender {
        FetchWebhookSender::new()
    }
}

impl FetchWebhookSender {
    /// A sender giving up after [`TIMEOUT`].
    pub fn new() -> FetchWebhookSender {
        FetchWebhookSender { timeout: TIMEOUT }
    }

    /// Gives up on a delivery after `timeout` instead of [`TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> FetchWebhookSender {
        self.timeout = timeout;
        self
    }

    /// How long one delivery may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl WebhookSender for FetchWebhookSender {
    async fn post(&self, post: &WebhookPost) -> Result<u16, WebhookPostError> {
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        headers.extend(post.headers.iter().map(|(n, v)| (*n, v.as_str())));
        // Not read: only the status matters, and the connection is let go at once.
        let options = PostOptions { manual_redirect: true, skip_body: true };
        let answer = crate::http::post(&post.url, &headers, PostBody::Bytes(&post.body), self.timeout, options)
            .await
            .map_err(WebhookPostError::Unreachable)?;
        Ok(answer.status)
    }
}
