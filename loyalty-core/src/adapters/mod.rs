//! The protocols of the HTTP services both runtimes talk to, without an HTTP
//! client: what to send and how to read the answer. The transports live in
//! the runtimes (`loyalty-native` with `reqwest`, `loyalty-edge` with the
//! Workers `fetch` API), so each protocol is written once.
//!
//! | Module | Feature | Protocol of | Transports |
//! |---|---|---|---|
//! | [`chat`] | — | the assistant: an OpenAI-compatible chat completions API (prompt, request, answer) | `loyalty_native::assistant::OpenAiAssistant` (`async-openai`), `loyalty_edge::FetchAssistant` |
//! | [`sentry`] | `sentry` | error reports: Sentry envelopes (`sentry-core`'s protocol types), the pause after a `429`, the secret scrubber | `loyalty_native::sentry::SentryReporter` (a `sentry_core::Transport` over `reqwest`), `loyalty_edge::FetchSentry` |
//!
//! Nothing here reads a clock or draws randomness of its own: what the
//! protocols need comes through the [`Clock`](crate::ports::Clock) and
//! [`Randomness`](crate::ports::Randomness) ports.

pub mod chat;
#[cfg(feature = "sentry")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
pub mod sentry;
