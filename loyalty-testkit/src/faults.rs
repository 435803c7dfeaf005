//! [`FaultyStore`]: a [`Storage`] wrapper that fails on demand and logs
//! every call, for testing how callers behave when storage breaks — and for
//! counting storage round trips per use case.

use async_trait::async_trait;
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::program::RulesVersion;
use loyalty_core::program::campaigns::{Birthday, Campaign};
use loyalty_core::program::rewards::Reward;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wraps a store, numbering every call from 1 and logging its method name.
///
/// Three ways to break it:
/// - [`FaultyStore::fail_call`]: call number `n` fails with
///   [`StoreError::Unavailable`], either without reaching the store or after
///   the store applied it (as when a connection drops before the commit is
///   acknowledged);
/// - [`FaultyStore::fail_all`]: every call fails with the given error while it
///   is set (an outage, or a permanent backend failure);
/// - [`FaultyStore::panic_on`]: the next call of a method panics (a bug).
#[derive(Debug, Default)]
pub struct FaultyStore<S> {
    inner: S,
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    apply_first: AtomicBool,
    fail_all: Mutex<Option<StoreError>>,
    log: Mutex<Vec<&'static str>>,
    claims: Mutex<Vec<bool>>,
    panic_on: Mutex<Option<&'static str>>,
}

impl<S: Storage> FaultyStore<S> {
    /// Wraps `inner`; nothing fails until told to.
    pub fn new(inner: S) -> FaultyStore<S> {
        FaultyStore {
            inner,
            calls: AtomicUsize::new(0),
            fail_at: AtomicUsize::new(0),
            apply_first: AtomicBool::new(false),
            fail_all: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            claims: Mutex::new(Vec::new()),
            panic_on: Mutex::new(None),
        }
    }

    /// Makes the next call of `method` (e.g. `"register_customer"`) panic,
    /// once, without reaching the store: a bug half-way through a use case.
    pub fn panic_on(&self, method: &'static str) {
        *lock(&self.panic_on) = Some(method);
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Makes call number `n` (counting from 1 over the wrapper's life) fail;
    /// when `applied`, the store carries it out before the failure is returned.
    pub fn fail_call(&self, n: usize, applied: bool) {
        self.apply_first.store(applied, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// Fails every call with `error` (without reaching the store) until set back to `None`.
    pub fn fail_all(&self, error: Option<StoreError>) {
        *lock(&self.fail_all) = error;
    }

    /// Number of calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Method names of the calls so far, in order.
    pub fn log(&self) -> Vec<&'static str> {
        lock(&self.log).clone()
    }

    /// How many `claim_update` calls returned `true`.
    pub fn successful_claims(&self) -> usize {
        lock(&self.claims).iter().filter(|c| **c).count()
    }

    async fn run<T>(&self, method: &'static str, op: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        lock(&self.log).push(method);
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let panic_now = {
            let mut panic_on = lock(&self.panic_on);
            let now = *panic_on == Some(method);
            if now {
                *panic_on = None;
            }
            now
        };
        if panic_now {
            panic!("FaultyStore: injected panic in call {n} ({method})");
        }
        if let Some(e) = lock(&self.fail_all).clone() {
            return Err(e);
        }
        let fail = n == self.fail_at.load(Ordering::SeqCst);
        let injected = || StoreError::Unavailable(format!("injected failure of call {n} ({method})"));
        if fail && !self.apply_first.load(Ordering::SeqCst) {
            return Err(injected());
        }
        let result = op.await;
        if fail { Err(injected()) } else { result }
    }
}

/// The `Storage` impl of [`FaultyStore`]: each listed method goes to the
/// wrapped store through `FaultyStore::run`; `claim_update` also records
/// what it returned.
macro_rules! faulty_storage {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
        impl<S: Storage> Storage for FaultyStore<S> {
            $(
                async fn $method(&self, $($arg: $ty),*) -> StoreResult<$out> {
                    self.run(stringify!($method), self.inner.$method($($arg),*)).await
                }
            )*
            async fn claim_update(&self, claim: UpdateClaim) -> StoreResult<bool> {
                let claimed = self.run("claim_update", self.inner.claim_update(claim)).await?;
                lock(&self.claims).push(claimed);
                Ok(claimed)
            }
            async fn ping(&self) -> StoreResult<()> {
                self.run("ping", self.inner.ping()).await
            }
        }
    };
}

loyalty_core::storage_calls!(faulty_storage);
