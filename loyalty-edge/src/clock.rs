//! Time and randomness on Workers.

use async_trait::async_trait;
use loyalty_core::domain::Timestamp;
use loyalty_core::ports::{Clock, Randomness};
use std::time::Duration;

/// The Workers clock: `Date.now()`, and `setTimeout` for waiting.
///
/// Inside a request, Workers advance `Date.now()` only across I/O, which is
/// all the core needs (timestamps of ledger entries, day boundaries,
/// `retry_after` waits).
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerClock;

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Clock for WorkerClock {
    fn now(&self) -> Timestamp {
        let millis = worker::Date::now().as_millis();
        Timestamp(i64::try_from(millis / 1000).unwrap_or(i64::MAX))
    }

    fn now_micros(&self) -> u64 {
        worker::Date::now().as_millis().saturating_mul(1000)
    }

    async fn sleep(&self, millis: u64) {
        worker::Delay::from(Duration::from_millis(millis)).await;
    }
}

/// `crypto.getRandomValues` (through `getrandom`'s JS backend).
#[derive(Debug, Clone, Copy, Default)]
pub struct CryptoRandom;

impl Randomness for CryptoRandom {
    fn fill(&self, buf: &mut [u8]) {
        // crypto.getRandomValues does not fail for buffers this small; if it ever
        // did, continuing with predictable codes and keys would be worse than failing
        // the request (a panic fails only this request, see the crate docs).
        if let Err(e) = getrandom::fill(buf) {
            panic!("crypto.getRandomValues failed: {e}");
        }
    }
}
