//! HTTP adapters shared by both runtimes, each behind its own feature.
//!
//! | Module | Feature | Implements |
//! |---|---|---|
//! | [`chat`] | — | nothing by itself: the chat-completions protocol (prompt, request, answer), without an HTTP client |
//! | [`openai`] | `openai` | [`Assistant`](crate::ports::Assistant) over an OpenAI-compatible chat completions API |
//! | [`sentry`] | `sentry` | [`ErrorReporter`](crate::ports::ErrorReporter) posting Sentry envelopes |
//!
//! Both use `reqwest` (the version `async-openai` depends on, so one HTTP client
//! stack serves both) and build for native targets as well as
//! `wasm32-unknown-unknown`, where `reqwest` runs on the `fetch` API of the
//! Workers runtime. They read no clock and draw no randomness of their own:
//! what they need comes through the [`Clock`](crate::ports::Clock) and
//! [`Randomness`](crate::ports::Randomness) ports.

pub mod chat;
#[cfg(feature = "openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub mod openai;
#[cfg(feature = "sentry")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
pub mod sentry;

/// Whether `error` happened while connecting (not known on `wasm32`, where
/// `fetch` does not say).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn is_connect(error: &reqwest::Error) -> bool {
    error.is_connect()
}

/// Whether `error` happened while connecting (not known on `wasm32`, where
/// `fetch` does not say).
#[cfg(target_arch = "wasm32")]
pub(crate) fn is_connect(_error: &reqwest::Error) -> bool {
    false
}
