#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapters;
pub mod api;
pub mod body;
pub mod bots;
pub mod config;
pub mod domain;
pub mod engine;
pub mod error;
pub mod maybe_send;
pub mod memory;
pub mod ports;
pub mod qr;
pub mod stores;
pub mod telegram;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use config::{Config, ConfigError, Secret};
pub use engine::{ClaimHook, Engine, Outbox, Ports, Task};
pub use error::{Error, Result};
pub use memory::MemoryStore;
