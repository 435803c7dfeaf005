#![doc = include_str!("../README.md")]

pub mod assistant;
pub mod clock;
pub mod export;
pub mod fake_bot_api;
pub mod legacy;
pub mod metrics;
pub mod outgoing;
pub mod polling;
pub mod runtime;
pub mod sentry;
pub mod server;
pub mod simulate;
pub mod store;
pub mod tasks;
pub mod telegram;
pub mod webhooks;

pub use loyalty_core as core;
