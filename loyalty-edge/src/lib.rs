#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod routing;

pub use loyalty_core as core;
pub use routing::Service;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(all(target_arch = "wasm32", feature = "openai"))]
pub mod assistant;
#[cfg(target_arch = "wasm32")]
mod claims;
#[cfg(target_arch = "wasm32")]
mod clock;
#[cfg(target_arch = "wasm32")]
pub mod d1;
#[cfg(target_arch = "wasm32")]
pub mod http;
#[cfg(target_arch = "wasm32")]
mod reporter;
#[cfg(all(target_arch = "wasm32", feature = "sentry"))]
pub mod sentry;
#[cfg(target_arch = "wasm32")]
pub mod supabase;
#[cfg(target_arch = "wasm32")]
pub mod telegram;

#[cfg(target_arch = "wasm32")]
pub use app::{config_from_env, engine, fetch, ports, report_panic, scheduled};
#[cfg(all(target_arch = "wasm32", feature = "openai"))]
pub use assistant::FetchAssistant;
#[cfg(target_arch = "wasm32")]
pub use claims::JsClaimHook;
#[cfg(target_arch = "wasm32")]
pub use clock::{CryptoRandom, WorkerClock};
#[cfg(target_arch = "wasm32")]
pub use d1::D1Store;
#[cfg(target_arch = "wasm32")]
pub use reporter::ConsoleReporter;
#[cfg(all(target_arch = "wasm32", feature = "sentry"))]
pub use sentry::FetchSentry;
#[cfg(target_arch = "wasm32")]
pub use supabase::SupabaseStore;
#[cfg(target_arch = "wasm32")]
pub use telegram::FetchTelegram;
