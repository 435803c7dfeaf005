#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapters;
pub mod api;
pub mod body;
pub mod bots;
pub mod card;
pub mod config;
pub mod context;
pub mod domain;
pub mod engine;
pub mod error;
pub mod jobs;
pub mod maybe_send;
pub mod observe;
pub mod outbox;
pub mod outgoing;
pub mod ports;
pub mod program;
pub mod qr;
pub mod stores;
pub mod telegram;
mod texts;
pub mod usecases;
pub mod webhook;
pub mod whatif;

pub use bots::Bots;
pub use config::{Config, ConfigError, Secret};
pub use context::{Context, Event, Extension, Outbox, Ports, Task};
pub use engine::{ClaimHook, Engine};
pub use error::{Error, Result};
pub use stores::memory::MemoryStore;
pub use texts::app_texts;
