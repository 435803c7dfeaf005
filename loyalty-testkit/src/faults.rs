//! [`FaultyStore`]: a [`Storage`] wrapper that fails on demand and logs
//! every call, for testing how callers behave when storage breaks — and for
//! counting storage round trips per use case.

use async_trait::async_trait;
use loyalty_core::domain::*;
use loyalty_core::ports::*;
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

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<S: Storage> Storage for FaultyStore<S> {
    async fn register_customer(&self, req: NewCustomer) -> StoreResult<Registration> {
        self.run("register_customer", self.inner.register_customer(req)).await
    }
    async fn customer_summary(&self, who: CustomerRef, recent: u32) -> StoreResult<Option<CustomerSummary>> {
        self.run("customer_summary", self.inner.customer_summary(who, recent)).await
    }
    async fn customer_entries(
        &self,
        customer: CustomerId,
        limit: u32,
        before: Option<EntryId>,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.run("customer_entries", self.inner.customer_entries(customer, limit, before)).await
    }
    async fn set_language(&self, who: CustomerRef, language: Language) -> StoreResult<Customer> {
        self.run("set_language", self.inner.set_language(who, language)).await
    }
    async fn set_blocked(
        &self,
        who: CustomerRef,
        blocked: bool,
        admin: TelegramUserId,
        now: Timestamp,
    ) -> StoreResult<Customer> {
        self.run("set_blocked", self.inner.set_blocked(who, blocked, admin, now)).await
    }
    async fn credit_purchase(&self, req: CreditPurchase) -> StoreResult<Credited> {
        self.run("credit_purchase", self.inner.credit_purchase(req)).await
    }
    async fn open_redemption(&self, req: OpenRedemption) -> StoreResult<RedemptionView> {
        self.run("open_redemption", self.inner.open_redemption(req)).await
    }
    async fn confirm_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.run("confirm_redemption", self.inner.confirm_redemption(req)).await
    }
    async fn decline_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.run("decline_redemption", self.inner.decline_redemption(req)).await
    }
    async fn expire_redemptions(&self, now: Timestamp) -> StoreResult<Vec<RedemptionRequest>> {
        self.run("expire_redemptions", self.inner.expire_redemptions(now)).await
    }
    async fn reverse_entry(&self, req: ReverseEntry) -> StoreResult<Reversed> {
        self.run("reverse_entry", self.inner.reverse_entry(req)).await
    }
    async fn adjust_balance(&self, req: AdjustBalance) -> StoreResult<Adjusted> {
        self.run("adjust_balance", self.inner.adjust_balance(req)).await
    }
    async fn apply_partner(&self, req: PartnerApplication) -> StoreResult<Applied> {
        self.run("apply_partner", self.inner.apply_partner(req)).await
    }
    async fn decide_partner(
        &self,
        partner: PartnerId,
        decision: PartnerDecision,
        admin: TelegramUserId,
        now: Timestamp,
    ) -> StoreResult<Decided> {
        self.run("decide_partner", self.inner.decide_partner(partner, decision, admin, now)).await
    }
    async fn partner(&self, who: PartnerRef) -> StoreResult<Option<Partner>> {
        self.run("partner", self.inner.partner(who)).await
    }
    async fn list_partners(&self, status: Option<PartnerStatus>) -> StoreResult<Vec<Partner>> {
        self.run("list_partners", self.inner.list_partners(status)).await
    }
    async fn set_partner_api_key(&self, who: PartnerRef, key_sha256_hex: String) -> StoreResult<Partner> {
        self.run("set_partner_api_key", self.inner.set_partner_api_key(who, key_sha256_hex)).await
    }
    async fn partner_by_api_key(&self, key_sha256_hex: &str) -> StoreResult<Option<Partner>> {
        self.run("partner_by_api_key", self.inner.partner_by_api_key(key_sha256_hex)).await
    }
    async fn partner_stats(&self, who: PartnerRef, today: Timestamp, week: Timestamp) -> StoreResult<PartnerStats> {
        self.run("partner_stats", self.inner.partner_stats(who, today, week)).await
    }
    async fn program_stats(&self, today: Timestamp) -> StoreResult<ProgramStats> {
        self.run("program_stats", self.inner.program_stats(today)).await
    }
    async fn claim_update(&self, bot: BotKind, update_id: i64, now: Timestamp) -> StoreResult<bool> {
        let claimed = self.run("claim_update", self.inner.claim_update(bot, update_id, now)).await?;
        lock(&self.claims).push(claimed);
        Ok(claimed)
    }
    async fn release_update(&self, bot: BotKind, update_id: i64) -> StoreResult<()> {
        self.run("release_update", self.inner.release_update(bot, update_id)).await
    }
    async fn prune_update_claims(&self, before: Timestamp) -> StoreResult<u64> {
        self.run("prune_update_claims", self.inner.prune_update_claims(before)).await
    }
    async fn consume_quota(
        &self,
        kind: QuotaKind,
        user: TelegramUserId,
        day: Timestamp,
        limit: u32,
    ) -> StoreResult<bool> {
        self.run("consume_quota", self.inner.consume_quota(kind, user, day, limit)).await
    }
    async fn create_broadcast(&self, req: NewBroadcast) -> StoreResult<BroadcastJob> {
        self.run("create_broadcast", self.inner.create_broadcast(req)).await
    }
    async fn claim_broadcast_batch(&self, job: BroadcastId, limit: u32) -> StoreResult<BroadcastBatch> {
        self.run("claim_broadcast_batch", self.inner.claim_broadcast_batch(job, limit)).await
    }
    async fn record_broadcast(&self, job: BroadcastId, sent: u32, failed: u32) -> StoreResult<BroadcastJob> {
        self.run("record_broadcast", self.inner.record_broadcast(job, sent, failed)).await
    }
    async fn pending_broadcasts(&self) -> StoreResult<Vec<BroadcastJob>> {
        self.run("pending_broadcasts", self.inner.pending_broadcasts()).await
    }
}
