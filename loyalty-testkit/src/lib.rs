#![doc = include_str!("../README.md")]

pub mod cafe_month;
pub mod conformance;
pub mod fakes;
mod faults;
pub mod folding;
pub mod history;
mod inspect;
mod play;
pub mod requests;
pub mod round_trips;
pub mod scenario;
#[cfg(all(feature = "services", not(target_arch = "wasm32")))]
pub mod services;

pub use fakes::*;
pub use faults::FaultyStore;
pub use inspect::*;
pub use loyalty_core::ports::RecordingReporter;
pub use loyalty_core::telegram::build::*;
