#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod routing;

pub mod logging;

pub use logging::ConsoleSubscriber;
pub use loyalty_core as core;
pub use routing::Service;
/// The `web_sys` the Workers runtime's objects come from: a Worker's
/// `#[event(fetch)]` handler takes `web_sys::Request` and answers
/// `web_sys::Response` (see [`fetch`]).
#[cfg(target_arch = "wasm32")]
pub use worker::worker_sys::web_sys;

/// Compiles every item given to it for `wasm32` only: the one place where this
/// crate separates the Workers' code from what also builds on the host
/// ([`Service`], and the host-side tests that drive the built Workers).
macro_rules! workers_only {
    ($($item:item)*) => { $( #[cfg(target_arch = "wasm32")] $item )* };
}

workers_only! {
    mod app;
    #[cfg(feature = "openai")]
    pub mod assistant;
    mod claims;
    mod clock;
    pub mod http;
    pub mod outgoing;
    mod reporter;
    #[cfg(feature = "sentry")]
    pub mod sentry;
    pub mod store;
    pub mod telegram;

    pub use app::{config_from_env, engine, extend, fetch, ports, report_panic, scheduled};
    #[cfg(feature = "openai")]
    pub use assistant::FetchAssistant;
    pub use claims::JsClaimHook;
    pub use clock::{CryptoRandom, WorkerClock};
    pub use http::IncomingRequest;
    pub use outgoing::FetchWebhookSender;
    pub use reporter::ConsoleReporter;
    #[cfg(feature = "sentry")]
    pub use sentry::FetchSentry;
    pub use store::d1::D1Store;
    pub use store::supabase::SupabaseStore;
    pub use telegram::FetchTelegram;
}
