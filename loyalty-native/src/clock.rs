//! The system's clock and randomness, as the core's [`Clock`] and
//! [`Randomness`] ports.

use async_trait::async_trait;
use loyalty_core::domain::Timestamp;
use loyalty_core::ports::{Clock, Randomness};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time and Tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    fn now_micros(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    async fn sleep(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Randomness for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // The OS generator does not fail on supported platforms; if it ever
        // did, continuing with predictable codes would be worse than stopping.
        if let Err(e) = getrandom::fill(buf) {
            panic!("the operating system's random number generator failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_near_now_and_random_is_not_constant() {
        assert!(SystemClock.now().0 > 1_700_000_000);
        assert!(SystemClock.now_micros() / 1_000_000 >= 1_700_000_000);
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        OsRandom.fill(&mut a);
        OsRandom.fill(&mut b);
        assert_ne!(a, b);
    }
}
