//! The storage conformance suite: named checks that any [`Storage`] backend
//! must pass, written once here and run by every backend's tests (in-memory,
//! Postgres, PostgREST, D1 inside workerd).
//!
//! Each check gets a fresh, empty store from an async factory supplied by the
//! backend, drives it through the [`Storage`] methods with explicit timestamps
//! (so it is deterministic), and returns `Err(message)` instead of panicking,
//! which suits single-threaded hosts such as workerd where a panic aborts the
//! isolate. After a check passes, the runner verifies the ledger invariants on
//! every customer the check created: the balance equals the sum of the
//! customer's counted entries (all but [`EntryKind::Legacy`]) (read page by page through
//! [`Storage::customer_entries`]), it is never negative, no idempotency key
//! appears twice, every entry is reversed at most once, and
//! [`Storage::program_stats`] agrees on the number of customers and the points
//! outstanding.
//!
//! Concurrency checks issue many calls at once with `futures`' `join_all` (no
//! runtime is needed; a backend with real I/O makes progress on all of them at
//! the same time). Their size is [`Params::concurrency`].
//!
//! On a native target with Tokio:
//!
//! ```no_run
//! # async fn demo() {
//! use loyalty_testkit::conformance;
//! use loyalty_core::MemoryStore;
//!
//! // Panics with the name and message of every failed check.
//! conformance::assert_conformance(|| async { Ok(MemoryStore::new()) }).await;
//! # }
//! ```
//!
//! On hosts where a panic is unwelcome, call [`run_all`] and inspect the
//! [`Report`].

use futures::future::join_all;
use loyalty_core::domain::*;
use loyalty_core::maybe_send::BoxFuture;
use loyalty_core::ports::*;
use loyalty_core::program::campaigns::{Birthday, Campaign, CampaignKind, CampaignStatus, CampaignTerms};
use loyalty_core::program::{DAY_SECS, ProgramRules, RulesVersion};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::Mutex;

/// The outcome of one check: `Err` carries a description of what went wrong.
pub type CheckResult = Result<(), String>;

/// Tuning of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// How many calls the concurrency checks issue at once (at least 4 is used).
    pub concurrency: usize,
}

impl Default for Params {
    /// 24 concurrent calls: enough to provoke races, quick over a network.
    fn default() -> Self {
        Params { concurrency: 24 }
    }
}

impl Params {
    /// Parameters with the given concurrency.
    pub fn with_concurrency(concurrency: usize) -> Params {
        Params { concurrency }
    }

    fn n(&self) -> usize {
        self.concurrency.max(4)
    }
}

/// One named check of the suite.
#[derive(Clone, Copy)]
pub struct Check {
    name: &'static str,
    run: for<'a> fn(&'a Ctx<'a>) -> BoxFuture<'a, CheckResult>,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check").field("name", &self.name).finish()
    }
}

impl Check {
    /// The check's name (a snake_case identifier).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the check on `store`, which must be fresh (empty), then verifies
    /// the ledger invariants.
    pub async fn run(&self, store: &dyn Storage, params: &Params) -> CheckResult {
        let ctx = Ctx::new(store, *params);
        (self.run)(&ctx).await?;
        ctx.invariants().await.map_err(|e| format!("invariant broken after the check: {e}"))
    }
}

/// Results of a run, in the order the checks ran.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each check's name and outcome.
    pub results: Vec<(&'static str, CheckResult)>,
}

impl Report {
    /// The checks that failed, with their messages.
    pub fn failures(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.results.iter().filter_map(|(name, r)| r.as_ref().err().map(|e| (*name, e.as_str())))
    }

    /// Whether every check passed.
    pub fn is_success(&self) -> bool {
        self.results.iter().all(|(_, r)| r.is_ok())
    }

    /// Panics, listing every failure, unless every check passed (for native tests).
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(self.is_success(), "{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        write!(f, "storage conformance: {} passed, {failed} failed", self.results.len() - failed)?;
        for (name, message) in self.failures() {
            write!(f, "\n  FAILED {name}: {message}")?;
        }
        Ok(())
    }
}

/// Runs every check, each on a fresh store from `factory`.
pub async fn run_all<S, F, Fut>(factory: F, params: &Params) -> Report
where
    S: Storage,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<S, String>>,
{
    run_matching(factory, params, |_| true).await
}

/// Runs the checks whose name satisfies `filter`, each on a fresh store.
pub async fn run_matching<S, F, Fut>(mut factory: F, params: &Params, filter: impl Fn(&str) -> bool) -> Report
where
    S: Storage,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<S, String>>,
{
    let mut report = Report::default();
    for check in checks().into_iter().filter(|c| filter(c.name)) {
        let outcome = match factory().await {
            Ok(store) => check.run(&store, params).await,
            Err(e) => Err(format!("could not create a store: {e}")),
        };
        report.results.push((check.name, outcome));
    }
    report
}

/// Runs every check with default [`Params`] and panics listing the failures.
pub async fn assert_conformance<S, F, Fut>(factory: F)
where
    S: Storage,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<S, String>>,
{
    run_all(factory, &Params::default()).await.assert_success();
}

macro_rules! check_list {
    ($($name:ident),* $(,)?) => {
        vec![$(Check { name: stringify!($name), run: |ctx| Box::pin($name(ctx)) }),*]
    };
}

/// Every check of the suite, in a fixed order.
pub fn checks() -> Vec<Check> {
    check_list![
        register_new_customer,
        register_existing_is_unchanged,
        register_without_bonuses,
        register_referral,
        register_rejections,
        customer_lookup_and_paging,
        set_language_and_blocked,
        credit_purchase_applies,
        credit_purchase_rejections,
        credit_purchase_replay,
        credit_daily_limit,
        open_redemption_applies,
        open_redemption_rejections,
        open_redemption_replay,
        confirm_redemption_debits,
        confirm_redemption_rejections,
        decline_redemption,
        redemption_status_for_its_partner,
        expire_redemptions,
        reverse_entry_applies,
        reverse_entry_rejections,
        adjust_balance,
        idempotency_keys_are_global,
        partner_lifecycle,
        list_and_lookup_partners,
        partner_api_keys,
        look_up_customer,
        customer_view,
        export_customers,
        partner_and_program_stats,
        daily_figures_count_each_day_once,
        daily_figures_refusals,
        claim_and_release_updates,
        prune_update_claims,
        consume_quota,
        job_states_swap,
        concurrent_job_state_swaps,
        outbox_delivers_in_order_once,
        outbox_refusals,
        carried_finishes,
        unfinished_updates_come_back,
        concurrent_outbox_takes,
        broadcast_to_customers,
        broadcast_to_partners,
        concurrent_confirmations_against_one_balance,
        concurrent_same_key,
        concurrent_double_confirm,
        concurrent_credits_near_daily_limit,
        concurrent_claim_update,
        import_creates_customers_partners_and_history,
        import_repeats_nothing_and_brings_changes,
        import_leaves_native_customers_alone,
        import_rejections,
        concurrent_reversals,
        concurrent_registration,
        concurrent_quota,
        concurrent_broadcast_claims,
        program_rules_versions,
        expiry_takes_the_soonest_points_first,
        expiry_of_reversals_and_adjustments,
        expiry_reminders,
        concurrent_expiry_runs,
        tiers_up_at_once_down_after_grace,
        tiers_by_purchase_amount,
        campaign_lifecycle,
        campaigns_are_made_once_per_key,
        campaign_kinds_pay_by_their_terms,
        campaign_birthdays_once_a_year,
        imported_birthdays_are_set,
        campaign_caps_and_budgets,
        concurrent_credits_against_a_campaign_budget,
        reward_publishing_and_moderation,
        rewards_listing,
        claiming_a_reward_pays_for_a_voucher,
        vouchers_are_used_or_cancelled_once,
        concurrent_claims_of_a_limited_reward,
        concurrent_claims_against_one_balance,
        partner_entries_are_paged_newest_first,
        export_pages_every_row_once,
        personal_data_is_everything_held,
        erasure_keeps_the_books,
        audit_log_pages_newest_first,
        stamp_cards_are_set_and_ended,
        stamps_fill_a_card_and_start_another,
        concurrent_stamps_count_exactly,
        a_lookup_shows_the_stamps,
        staff_are_invited_joined_and_revoked,
        staff_limit,
        cashiers_work_the_till_and_are_recorded,
        cashiers_cannot_manage,
        cashiers_see_the_partners_requests,
        customers_see_their_pending_requests,
        customer_redemptions_cap_and_refusals,
        concurrent_joins,
        webhooks_are_registered_listed_and_removed,
        webhook_limit,
        webhook_targets_pick_the_subscribers,
        enqueue_says_whether_endpoints_are_registered,
        webhook_attempts_are_recorded,
        concurrent_adds_keep_the_limit,
        webhook_keys_replay_per_owner,
        concurrent_adds_with_one_key,
    ]
}

// ---------------------------------------------------------------------------
// Harness

/// Start of the day all checks happen on (00:00 UTC).
const DAY0: Timestamp = Timestamp(1_700_006_400);
// 10:00 on that day is the default `now`, `T0`; `ADMIN` approves and adjusts.
use crate::requests::{ADMIN, T0};

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($fmt:tt)+) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!("{}: expected {:?}, got {:?}", format!($($fmt)+), r, l));
        }
    }};
}

// The rewards catalogue's, the personal data's, the daily figures', the
// pending requests', the staff's and the webhooks' checks (after the macros, which they use).
mod erasure;
mod figures;
mod pending;
mod rewards;
mod staff;
mod stamps;
mod webhooks;
use erasure::{audit_log_pages_newest_first, erasure_keeps_the_books, personal_data_is_everything_held};
use figures::{daily_figures_count_each_day_once, daily_figures_refusals};
use pending::{customer_redemptions_cap_and_refusals, customers_see_their_pending_requests};
use rewards::{
    claiming_a_reward_pays_for_a_voucher, concurrent_claims_against_one_balance, concurrent_claims_of_a_limited_reward,
    export_pages_every_row_once, partner_entries_are_paged_newest_first, reward_publishing_and_moderation,
    rewards_listing, vouchers_are_used_or_cancelled_once,
};
use staff::{
    cashiers_cannot_manage, cashiers_see_the_partners_requests, cashiers_work_the_till_and_are_recorded,
    concurrent_joins, staff_are_invited_joined_and_revoked, staff_limit,
};
use stamps::{
    a_lookup_shows_the_stamps, concurrent_stamps_count_exactly, stamp_cards_are_set_and_ended,
    stamps_fill_a_card_and_start_another,
};
use webhooks::{
    concurrent_adds_keep_the_limit, concurrent_adds_with_one_key, enqueue_says_whether_endpoints_are_registered,
    webhook_attempts_are_recorded, webhook_keys_replay_per_owner, webhook_limit, webhook_targets_pick_the_subscribers,
    webhooks_are_registered_listed_and_removed,
};

/// Turns a storage result into a check result with context.
trait OrFail<T> {
    fn or_fail(self, what: &str) -> Result<T, String>;
}

impl<T> OrFail<T> for StoreResult<T> {
    fn or_fail(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: unexpected error: {e:?}"))
    }
}

/// Turns a storage lookup into a check result: missing is a failure.
trait OrMissing<T> {
    fn or_missing(self, what: &str) -> Result<T, String>;
}

impl<T> OrMissing<T> for StoreResult<Option<T>> {
    fn or_missing(self, what: &str) -> Result<T, String> {
        match self {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(format!("{what}: not found")),
            Err(e) => Err(format!("{what}: unexpected error: {e:?}")),
        }
    }
}

/// Expects exactly the rejection `want` from a storage call.
trait Rejects {
    fn rejects(self, want: Rejection, what: &str) -> CheckResult;
}

impl<T: fmt::Debug> Rejects for StoreResult<T> {
    fn rejects(self, want: Rejection, what: &str) -> CheckResult {
        match self {
            Err(StoreError::Rejected(got)) if got == want => Ok(()),
            other => Err(format!("{what}: expected rejection {want:?}, got {other:?}")),
        }
    }
}

struct CtxState {
    seq: i64,
    customers: Vec<CustomerId>,
}

/// What a check works with: the store, the parameters, and the customers
/// created so far (for the invariant checks).
struct Ctx<'a> {
    store: &'a dyn Storage,
    params: Params,
    state: Mutex<CtxState>,
}

impl<'a> Ctx<'a> {
    fn new(store: &'a dyn Storage, params: Params) -> Ctx<'a> {
        Ctx { store, params, state: Mutex::new(CtxState { seq: 0, customers: Vec::new() }) }
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut CtxState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    fn next(&self) -> i64 {
        self.with_state(|s| {
            s.seq += 1;
            s.seq
        })
    }

    /// Remembers a customer for the invariant checks.
    fn track(&self, id: CustomerId) {
        self.with_state(|s| {
            if !s.customers.contains(&id) {
                s.customers.push(id);
            }
        });
    }

    /// A fresh, unused customer code.
    fn code(&self) -> CustomerCode {
        let n = self.next().to_be_bytes();
        CustomerCode::from_random([0x5a, n[4], n[5], n[6], n[7]])
    }

    /// A sign-up request for a new user, with the given welcome bonus.
    fn new_customer(&self, welcome: Points) -> NewCustomer {
        let n = self.next();
        self.new_customer_with(TelegramUserId(500_000 + n), welcome)
    }

    /// A sign-up request of Telegram user `telegram_id`, with the given welcome bonus.
    fn new_customer_with(&self, telegram_id: TelegramUserId, welcome: Points) -> NewCustomer {
        let n = self.next();
        NewCustomer {
            telegram_id,
            code: self.code(),
            first_name: format!("Customer {n}"),
            username: Some(format!("customer{n}")),
            language: Language::Vi,
            referrer: None,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: welcome,
            referral_bonus: 0,
            now: T0,
        }
    }

    /// Registers a sign-up and tracks the customer.
    async fn register(&self, req: NewCustomer) -> StoreResult<Registration> {
        let r = self.store.register_customer(req).await?;
        self.track(r.customer.id);
        if let Some((referrer, _)) = &r.referral {
            self.track(referrer.id);
        }
        Ok(r)
    }

    /// A new customer with `welcome` points.
    async fn customer(&self, welcome: Points) -> Result<Customer, String> {
        Ok(self.register(self.new_customer(welcome)).await.or_fail("register customer")?.customer)
    }

    fn application(&self, terms: PartnerTerms) -> PartnerApplication {
        let n = self.next();
        PartnerApplication {
            telegram_id: TelegramUserId(900_000 + n),
            name: format!("Partner {n}"),
            category: "cafe".into(),
            terms,
            language: Language::Ru,
            now: T0.plus(n),
        }
    }

    /// A new partner that has applied and is waiting.
    async fn applied_partner(&self, terms: PartnerTerms) -> Result<Partner, String> {
        Ok(self.store.apply_partner(self.application(terms)).await.or_fail("apply partner")?.partner)
    }

    /// A new approved partner.
    async fn partner(&self, terms: PartnerTerms) -> Result<Partner, String> {
        let p = self.applied_partner(terms).await?;
        let d = self
            .store
            .decide_partner(DecidePartner { partner: p.id, decision: PartnerDecision::Approve, admin: ADMIN, now: T0 })
            .await
            .or_fail("approve")?;
        Ok(d.partner)
    }

    async fn suspend(&self, p: &Partner) -> CheckResult {
        self.store
            .decide_partner(DecidePartner { partner: p.id, decision: PartnerDecision::Suspend, admin: ADMIN, now: T0 })
            .await
            .or_fail("suspend partner")?;
        Ok(())
    }

    async fn approve(&self, p: &Partner) -> CheckResult {
        self.store
            .decide_partner(DecidePartner { partner: p.id, decision: PartnerDecision::Approve, admin: ADMIN, now: T0 })
            .await
            .or_fail("approve partner")?;
        Ok(())
    }

    async fn block(&self, c: &Customer, blocked: bool) -> CheckResult {
        self.store
            .set_blocked(SetBlocked { who: CustomerRef::Id(c.id), blocked, admin: ADMIN, now: T0 })
            .await
            .or_fail("set_blocked")?;
        Ok(())
    }

    /// A customer as stored now, with up to 1000 recent entries.
    async fn summary(&self, id: CustomerId) -> Result<CustomerSummary, String> {
        self.store.customer_summary(CustomerRef::Id(id), 1000).await.or_missing("customer_summary")
    }

    async fn balance(&self, id: CustomerId) -> Result<Points, String> {
        Ok(self.summary(id).await?.customer.balance)
    }

    fn credit_req(&self, p: &Partner, c: &Customer, purchase: Points, key: &str) -> CreditPurchase {
        crate::requests::credit_req(p, c, purchase, key)
    }

    async fn credit(&self, p: &Partner, c: &Customer, purchase: Points, key: &str) -> Result<Credited, String> {
        self.store.credit_purchase(self.credit_req(p, c, purchase, key)).await.or_fail("credit_purchase")
    }

    fn open_req(&self, p: &Partner, c: &Customer, points: Points, purchase: Points, key: &str) -> OpenRedemption {
        OpenRedemption {
            partner: PartnerRef::Telegram(p.telegram_id),
            customer: CustomerRef::Code(c.code.clone()),
            points,
            purchase,
            idempotency_key: key.into(),
            now: T0,
            expires_at: T0.plus(rules::REDEMPTION_TTL_SECS),
        }
    }

    async fn open(&self, p: &Partner, c: &Customer, points: Points, purchase: Points) -> Result<RedemptionId, String> {
        let key = format!("open-{}", self.next());
        let v = self.store.open_redemption(self.open_req(p, c, points, purchase, &key)).await.or_fail("open")?;
        Ok(v.request.id)
    }

    fn answer(&self, id: RedemptionId, c: &Customer) -> AnswerRedemption {
        AnswerRedemption { id, customer: CustomerRef::Telegram(c.telegram_id), now: T0.plus(60) }
    }

    fn reverse_req(&self, entry: EntryId, p: &Partner, key: &str) -> ReverseEntry {
        ReverseEntry {
            entry,
            partner: PartnerRef::Id(p.id),
            idempotency_key: key.into(),
            not_before: T0.plus(-rules::REVERSAL_WINDOW_SECS),
            now: T0.plus(120),
        }
    }

    fn adjust_req(&self, c: &Customer, amount: Points, key: &str) -> AdjustBalance {
        crate::requests::adjust_req(CustomerRef::Id(c.id), amount, "correction", key)
    }

    /// Every entry of a customer, newest first, read in small pages.
    async fn all_entries(&self, id: CustomerId) -> Result<Vec<LedgerEntry>, String> {
        let mut all: Vec<LedgerEntry> = Vec::new();
        loop {
            let before = all.last().map(|e| e.id);
            let page = self
                .store
                .customer_entries(EntriesPage { customer: id, limit: 7, before })
                .await
                .or_fail("customer_entries")?;
            ensure!(page.len() <= 7, "customer_entries returned {} entries for limit 7", page.len());
            let done = page.len() < 7;
            for e in page {
                if let Some(prev) = all.last() {
                    ensure!(e.id < prev.id, "customer_entries not newest first: {} after {}", e.id, prev.id);
                }
                ensure_eq!(e.customer, id, "entry {} listed for the wrong customer", e.id);
                all.push(e);
            }
            if done {
                return Ok(all);
            }
        }
    }

    /// The ledger invariants over every tracked customer.
    async fn invariants(&self) -> CheckResult {
        let customers = self.with_state(|s| s.customers.clone());
        let mut keys = HashSet::new();
        let mut reversed: HashMap<EntryId, EntryId> = HashMap::new();
        let mut by_id: HashMap<EntryId, LedgerEntry> = HashMap::new();
        let mut outstanding: Points = 0;
        for id in &customers {
            let customer = self.summary(*id).await?.customer;
            let entries = self.all_entries(*id).await?;
            let sum: Points = entries.iter().filter(|e| e.kind.counts()).map(|e| e.amount).sum();
            ensure_eq!(customer.balance, sum, "balance of customer {id} vs the sum of its counted entries");
            ensure!(customer.balance >= 0, "customer {id} has a negative balance {}", customer.balance);
            let expiring: Points = self.summary(*id).await?.expiring.iter().map(|e| e.points).sum();
            ensure!(expiring <= customer.balance, "customer {id}: {expiring} points expiring of {}", customer.balance);
            outstanding += customer.balance;
            for e in entries {
                ensure!(keys.insert(e.idempotency_key.clone()), "idempotency key {:?} used twice", e.idempotency_key);
                if let Some(original) = e.reverses {
                    ensure!(reversed.insert(original, e.id).is_none(), "entry {original} reversed more than once");
                }
                by_id.insert(e.id, e);
            }
        }
        for (original, reversal) in &reversed {
            let (Some(o), Some(r)) = (by_id.get(original), by_id.get(reversal)) else {
                return Err(format!("reversal {reversal} of an unknown entry {original}"));
            };
            ensure_eq!(r.amount, -o.amount, "reversal {reversal} amount");
            ensure_eq!(r.customer, o.customer, "reversal {reversal} customer");
        }
        let stats = self.store.program_stats(DAY0).await.or_fail("program_stats")?;
        ensure_eq!(stats.customers, customers.len() as u64, "program_stats.customers");
        ensure_eq!(stats.points_outstanding, outstanding, "program_stats.points_outstanding");
        Ok(())
    }
}

/// Sets a rules document (JSON) at `T0`.
async fn set_rules(ctx: &Ctx<'_>, json: &str) -> Result<RulesVersion, String> {
    let rules = ProgramRules::from_json(json).map_err(|e| format!("rules {json}: {e}"))?;
    ctx.store.set_program_rules(SetProgramRules { rules, admin: Some(ADMIN), now: T0 }).await.or_fail("set rules")
}

/// The expiry job at `now`, run until nothing is left: the (customer, points) expired.
async fn expire_all(ctx: &Ctx<'_>, now: Timestamp) -> Result<Vec<(CustomerId, Points)>, String> {
    let mut out = Vec::new();
    loop {
        let batch = ctx.store.expire_points(ExpirePoints { now, limit: 2 }).await.or_fail("expire_points")?;
        if batch.is_empty() {
            return Ok(out);
        }
        for e in batch {
            ensure_eq!(e.entry.kind, EntryKind::Expiry, "expiry entry kind");
            ensure_eq!(e.entry.customer, e.customer.id, "expiry entry's customer");
            ensure_eq!(e.entry.author, Author::System, "expiry entry's author");
            ensure_eq!(e.entry.created_at, now, "expiry entry's time");
            ensure_eq!(e.entry.idempotency_key, format!("expiry:{}:{}", e.customer.id, now.0), "expiry key");
            ensure_eq!(e.customer.balance, ctx.balance(e.customer.id).await?, "balance in the answer");
            out.push((e.customer.id, -e.entry.amount));
        }
    }
}

/// A customer's expiring points as (points, days after `T0`).
async fn expiring(ctx: &Ctx<'_>, c: &Customer) -> Result<Vec<(Points, i64)>, String> {
    let summary = ctx.summary(c.id).await?;
    Ok(summary.expiring.iter().map(|e| (e.points, (e.at.0 - T0.0) / DAY_SECS)).collect())
}

async fn program_rules_versions(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    ensure_eq!(s.program_rules().await.or_fail("rules")?, RulesVersion::initial(), "before any change");
    let c = ctx.customer(100).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let welcome = ctx.all_entries(c.id).await?;
    ensure_eq!(welcome[0].rules_version, 0, "an entry before any change");
    let json = format!(r#"{{"expiry": {{"days": 30, "remind_days_before": 7, "partners": {{"{}": 10}}}}}}"#, p.id);
    let rules = ProgramRules::from_json(&json).map_err(|e| e.to_string())?;
    let v1 = s
        .set_program_rules(SetProgramRules { rules: rules.clone(), admin: Some(ADMIN), now: T0.plus(5) })
        .await
        .or_fail("set v1")?;
    let want = RulesVersion { version: 1, rules: rules.clone(), admin: Some(ADMIN), created_at: Some(T0.plus(5)) };
    ensure_eq!(v1, want, "version 1");
    ensure_eq!(s.program_rules().await.or_fail("rules")?, want, "version 1 in force");

    let mut bad = rules.clone();
    bad.expiry.remind_days_before = 30;
    let reason = bad.check().expect_err("a reminder as long as the period is refused");
    s.set_program_rules(SetProgramRules { rules: bad, admin: Some(ADMIN), now: T0.plus(6) })
        .await
        .rejects(Rejection::InvalidRules { reason }, "a bad document")?;
    ensure_eq!(s.program_rules().await.or_fail("rules")?.version, 1, "a refused document makes no version");

    let credited = ctx.credit(&p, &c, 2_000, "rules-credit").await?.entry;
    ensure_eq!(credited.rules_version, 1, "an entry under version 1");
    let v2 = s
        .set_program_rules(SetProgramRules { rules: ProgramRules::default(), admin: None, now: T0.plus(7) })
        .await
        .or_fail("set v2")?;
    ensure_eq!((v2.version, v2.admin, v2.rules), (2, None, ProgramRules::default()), "version 2");
    let adjusted = s.adjust_balance(ctx.adjust_req(&c, 5, "rules-adjust")).await.or_fail("adjust")?.entry;
    ensure_eq!(adjusted.rules_version, 2, "an entry under version 2");
    let listed = ctx.all_entries(c.id).await?;
    ensure_eq!(
        listed.iter().map(|e| e.rules_version).collect::<Vec<_>>(),
        vec![2, 1, 0],
        "the versions as listed, newest first"
    );
    ensure_eq!(
        expiring(ctx, &c).await?,
        vec![(100, 10)],
        "only the credit under version 1 expires (its partner's 10 days)"
    );
    ctx.invariants().await
}

async fn expiry_takes_the_soonest_points_first(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (p1, p2) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    set_rules(ctx, &format!(r#"{{"expiry": {{"days": 30, "partners": {{"{}": 10}}}}}}"#, p2.id)).await?;
    let c = ctx.customer(100).await?;
    ctx.credit(&p1, &c, 2_000, "fifo-1").await?;
    ctx.credit(&p2, &c, 2_000, "fifo-2").await?;
    ensure_eq!(expiring(ctx, &c).await?, vec![(100, 10), (200, 30)], "expiring before spending");
    let stats = s.program_stats(DAY0).await.or_fail("program_stats")?;
    ensure_eq!((stats.expiring_30_days, stats.expiring_90_days), (100, 300), "expiring within 30 and 90 days");

    // 150 points: the 100 of the soonest date, then 50 of the oldest lot.
    let id = ctx.open(&p1, &c, 150, 1_000).await?;
    let debit = s.confirm_redemption(ctx.answer(id, &c)).await.or_fail("confirm")?.entry.ok_or("no debit")?;
    ensure_eq!(expiring(ctx, &c).await?, vec![(150, 30)], "after spending 150");
    ensure_eq!(expire_all(ctx, T0.plus(10 * DAY_SECS)).await?, vec![], "nothing left to expire at day 10");

    // The reversal gives the lots back with their own dates.
    s.reverse_entry(ctx.reverse_req(debit.id, &p1, "fifo-back")).await.or_fail("reverse")?;
    ensure_eq!(expiring(ctx, &c).await?, vec![(100, 10), (200, 30)], "after the reversal");
    ensure_eq!(expire_all(ctx, T0.plus(10 * DAY_SECS - 1)).await?, vec![], "a second early");
    ensure_eq!(expire_all(ctx, T0.plus(10 * DAY_SECS)).await?, vec![(c.id, 100)], "day 10");
    ensure_eq!(expire_all(ctx, T0.plus(10 * DAY_SECS)).await?, vec![], "the same run again");
    ensure_eq!(ctx.balance(c.id).await?, 200, "balance after day 10");
    ensure_eq!(expiring(ctx, &c).await?, vec![(200, 30)], "after day 10");
    ensure_eq!(expire_all(ctx, T0.plus(40 * DAY_SECS)).await?, vec![(c.id, 200)], "day 40");
    ensure_eq!(ctx.balance(c.id).await?, 0, "all expired");
    ensure_eq!(expiring(ctx, &c).await?, vec![], "nothing left");
    let kinds: Vec<(EntryKind, Points)> = ctx.all_entries(c.id).await?.iter().map(|e| (e.kind, e.amount)).collect();
    ensure_eq!(&kinds[..2], &[(EntryKind::Expiry, -200), (EntryKind::Expiry, -100)], "the expiry entries");
    for limit in [0, MAX_EXPIRY_BATCH + 1] {
        s.expire_points(ExpirePoints { now: T0, limit }).await.rejects(Rejection::InvalidAmount, "bad limit")?;
        s.remind_expiry(RemindExpiry { now: T0, limit }).await.rejects(Rejection::InvalidAmount, "bad limit")?;
    }
    s.adjust_balance(ctx.adjust_req(&c, 5, "expiry:1:2")).await.rejects(Rejection::IdempotencyConflict, "key")?;
    ctx.invariants().await
}

async fn expiry_of_reversals_and_adjustments(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (p1, p2) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    // Points held before expiry was switched on never expire.
    let old = ctx.customer(70).await?;
    set_rules(ctx, &format!(r#"{{"expiry": {{"days": 30, "partners": {{"{}": 10}}}}}}"#, p2.id)).await?;
    let c = ctx.customer(100).await?;
    ctx.credit(&p2, &c, 2_000, "rev-soon").await?;
    let late = ctx.credit(&p1, &c, 2_000, "rev-late").await?.entry;
    ensure_eq!(expiring(ctx, &c).await?, vec![(100, 10), (200, 30)], "before");
    // Reversing a credit takes its own points first, not the soonest.
    s.reverse_entry(ctx.reverse_req(late.id, &p1, "rev-1")).await.or_fail("reverse credit")?;
    ensure_eq!(expiring(ctx, &c).await?, vec![(100, 10), (100, 30)], "after reversing the later credit");
    // A debit by an admin takes the soonest.
    s.adjust_balance(ctx.adjust_req(&c, -60, "rev-adj")).await.or_fail("adjust")?;
    ensure_eq!(expiring(ctx, &c).await?, vec![(40, 10), (100, 30)], "after the adjustment");
    // A credit by an admin is a lot of its own, by the program-wide period.
    s.adjust_balance(ctx.adjust_req(&old, 30, "rev-adj-old")).await.or_fail("adjust old")?;
    ensure_eq!(expiring(ctx, &old).await?, vec![(30, 30)], "the old customer's new points");
    let blocked = ctx.customer(10).await?;
    ctx.block(&blocked, true).await?;
    let mut expired = expire_all(ctx, T0.plus(365 * DAY_SECS)).await?;
    expired.sort();
    let mut want = vec![(old.id, 30), (c.id, 140), (blocked.id, 10)];
    want.sort();
    ensure_eq!(expired, want, "everything dated expires, a blocked customer's too");
    ensure_eq!(ctx.balance(old.id).await?, 70, "what the old customer held before stays");
    ensure_eq!(ctx.balance(c.id).await?, 0, "balance");
    ctx.invariants().await
}

async fn expiry_reminders(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let remind = |now: Timestamp| s.remind_expiry(RemindExpiry { now, limit: 100 });
    set_rules(ctx, r#"{"expiry": {"days": 30}}"#).await?;
    let c = ctx.customer(100).await?;
    ensure_eq!(remind(T0.plus(29 * DAY_SECS)).await.or_fail("remind")?, vec![], "reminders off");
    set_rules(ctx, r#"{"expiry": {"days": 30, "remind_days_before": 7}}"#).await?;
    let b = ctx.customer(50).await?;
    ctx.block(&b, true).await?;
    ensure_eq!(remind(T0).await.or_fail("remind")?, vec![], "too early");
    ensure_eq!(remind(T0.plus(23 * DAY_SECS - 1)).await.or_fail("remind")?, vec![], "a second too early");
    let sent = remind(T0.plus(23 * DAY_SECS)).await.or_fail("remind")?;
    let c_now = ctx.summary(c.id).await?.customer;
    let want = ExpiryReminder { customer: c_now.clone(), points: 100, at: T0.plus(30 * DAY_SECS) };
    ensure_eq!(sent, vec![want], "the reminder (a blocked customer is not told)");
    ensure_eq!(remind(T0.plus(24 * DAY_SECS)).await.or_fail("remind")?, vec![], "told once");
    ctx.block(&b, false).await?;
    let b_sent = remind(T0.plus(24 * DAY_SECS)).await.or_fail("remind")?;
    ensure_eq!(b_sent.len(), 1, "the unblocked customer is told");
    ensure_eq!((b_sent[0].customer.id, b_sent[0].points), (b.id, 50), "the unblocked customer's reminder");
    ensure_eq!(remind(T0.plus(30 * DAY_SECS)).await.or_fail("remind")?, vec![], "nothing new");
    let d = ctx.customer(20).await?;
    ensure_eq!(remind(T0.plus(31 * DAY_SECS)).await.or_fail("remind")?, vec![], "past the date: expired, not reminded");
    ensure_eq!(expiring(ctx, &d).await?, vec![(20, 30)], "past the date but not yet taken");
    ctx.invariants().await
}

const TIERS: &str = r#"{"tiers": {"window_days": 30, "grace_days": 5, "levels": [
    {"name": {"en": "Silver", "ru": "Серебро"}, "threshold": 100, "multiplier_bps": 15000},
    {"name": {"en": "Gold"}, "threshold": 300, "multiplier_bps": 20000, "perks": {"en": "Free coffee"}}]}}"#;

async fn tiers_up_at_once_down_after_grace(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(0).await?;
    let plain = ctx.credit(&p, &c, 2_000, "tier-0").await?;
    ensure_eq!((plain.entry.amount, plain.tier_before, plain.customer.tier), (100, 0, 0), "no tiers: 1×, no tier");
    set_rules(ctx, TIERS).await?;
    let refresh = |now: Timestamp| s.refresh_tiers(RefreshTiers { now, limit: 10 });
    // The credit before the rules counts once a credit recomputes: 100 + 100 reach Silver.
    let first = ctx.credit(&p, &c, 2_000, "tier-1").await?;
    ensure_eq!((first.entry.amount, first.tier_before, first.customer.tier), (100, 0, 1), "Silver reached at once");
    let second = ctx.credit(&p, &c, 1_000, "tier-2").await?;
    ensure_eq!((second.entry.amount, second.tier_before, second.customer.tier), (75, 1, 1), "50 base × 1.5");
    let gold = ctx.credit(&p, &c, 500, "tier-3").await?;
    ensure_eq!((gold.entry.amount, gold.tier_before, gold.customer.tier), (37, 1, 2), "25 × 1.5 reaches 312: Gold");
    ensure_eq!(ctx.summary(c.id).await?.qualifying, 312, "qualifying points");
    let stats = s.program_stats(DAY0).await.or_fail("program_stats")?;
    ensure_eq!(
        (stats.customers_by_tier, stats.rules_version),
        ([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], 1),
        "customers per tier"
    );
    let replay = ctx.credit(&p, &c, 500, "tier-3").await?;
    ensure!(replay.replayed && replay.tier_before == 2 && replay.customer.tier == 2, "a replay: {replay:?}");

    // Below Gold after a reversal: kept through the grace period.
    let back = s.reverse_entry(ctx.reverse_req(second.entry.id, &p, "tier-back")).await.or_fail("reverse")?;
    ensure_eq!((back.tier_before, back.customer.tier), (2, 2), "kept in grace");
    ensure_eq!(ctx.summary(c.id).await?.qualifying, 237, "qualifying after the reversal");
    let reversed_at = T0.plus(120);
    ensure_eq!(refresh(reversed_at.plus(DAY_SECS - 1)).await.or_fail("refresh")?.checked, 0, "checked today");
    let early = refresh(reversed_at.plus(2 * DAY_SECS)).await.or_fail("refresh")?;
    ensure_eq!((early.checked, early.changed.len()), (1, 0), "in grace after 2 days");
    let down = refresh(reversed_at.plus(5 * DAY_SECS)).await.or_fail("refresh")?;
    ensure_eq!(down.changed.len(), 1, "down after 5 days");
    ensure_eq!((down.changed[0].from, down.changed[0].customer.tier), (2, 1), "Gold → Silver");
    ensure_eq!(refresh(reversed_at.plus(5 * DAY_SECS)).await.or_fail("refresh")?.checked, 0, "checked today");

    // The window slides past the purchases (all on day 0): below Silver on day 31, down 5 days later.
    let slid = refresh(T0.plus(31 * DAY_SECS)).await.or_fail("refresh")?;
    ensure_eq!((slid.checked, slid.changed.len()), (1, 0), "grace starts on day 31");
    ensure_eq!(ctx.summary(c.id).await?.qualifying, 0, "nothing qualifies after 30 days");
    let gone = refresh(T0.plus(36 * DAY_SECS)).await.or_fail("refresh")?;
    ensure_eq!(gone.changed.len(), 1, "down on day 36");
    ensure_eq!((gone.changed[0].from, gone.changed[0].customer.tier), (1, 0), "Silver → none");
    ensure_eq!(refresh(T0.plus(60 * DAY_SECS)).await.or_fail("refresh")?.checked, 0, "no tier, nothing to check");
    for limit in [0, MAX_EXPIRY_BATCH + 1] {
        s.refresh_tiers(RefreshTiers { now: T0, limit }).await.rejects(Rejection::InvalidAmount, "bad limit")?;
    }
    let mut bad = ProgramRules::from_json(TIERS).map_err(|e| e.to_string())?;
    if let Some(t) = bad.tiers.as_mut() {
        t.levels[1].threshold = 100;
    }
    let reason = bad.check().expect_err("thresholds must increase");
    s.set_program_rules(SetProgramRules { rules: bad, admin: None, now: T0 })
        .await
        .rejects(Rejection::InvalidRules { reason }, "thresholds that do not increase")?;
    ctx.invariants().await
}

async fn tiers_by_purchase_amount(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(0).await?;
    set_rules(
        ctx,
        r#"{"tiers": {"window_days": 30, "grace_days": 0, "qualify_by": "purchases", "levels": [
            {"name": {"en": "Silver"}, "threshold": 5000, "multiplier_bps": 15000}]}}"#,
    )
    .await?;
    let first = ctx.credit(&p, &c, 3_000, "spend-1").await?;
    ensure_eq!((first.entry.amount, first.customer.tier), (150, 0), "3 000 spent: no tier yet");
    ensure_eq!(ctx.summary(c.id).await?.qualifying, 3_000, "qualifying: the amount spent");
    let second = ctx.credit(&p, &c, 2_500, "spend-2").await?;
    ensure_eq!((second.entry.amount, second.customer.tier), (125, 1), "5 500 spent: Silver (earned at 1×)");
    let third = ctx.credit(&p, &c, 1_000, "spend-3").await?;
    ensure_eq!(third.entry.amount, 75, "50 base × 1.5");
    let back = s.reverse_entry(ctx.reverse_req(second.entry.id, &p, "spend-back")).await.or_fail("reverse")?;
    ensure_eq!((back.tier_before, back.customer.tier), (1, 0), "4 000 spent after the reversal: down (no grace)");
    ensure_eq!(ctx.summary(c.id).await?.qualifying, 4_000, "qualifying after the reversal");
    ctx.invariants().await
}

async fn concurrent_expiry_runs(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    set_rules(ctx, r#"{"expiry": {"days": 1}}"#).await?;
    let mut customers = Vec::new();
    for _ in 0..n.min(20) {
        customers.push(ctx.customer(10).await?.id);
    }
    let now = T0.plus(DAY_SECS);
    let runs = join_all((0..n).map(|_| ctx.store.expire_points(ExpirePoints { now, limit: 7 }))).await;
    let mut seen: HashMap<CustomerId, Points> = HashMap::new();
    for run in runs {
        for e in run.or_fail("an overlapping run")? {
            ensure!(seen.insert(e.customer.id, -e.entry.amount).is_none(), "customer {} expired twice", e.customer.id);
        }
    }
    for rest in expire_all(ctx, now).await? {
        ensure!(seen.insert(rest.0, rest.1).is_none(), "customer {} expired twice", rest.0);
    }
    ensure_eq!(seen.len(), customers.len(), "customers expired");
    ensure!(seen.values().all(|p| *p == 10), "each expired its 10 points once: {seen:?}");
    for c in customers {
        ensure_eq!(ctx.balance(c).await?, 0, "balance");
    }
    ctx.invariants().await
}

// ---------------------------------------------------------------------------
// Campaigns

/// A campaign's terms: `kind` paying `points` (or 2× for a multiplier) from
/// `DAY0` for 400 days, with a budget of 1 000 and no cap.
fn campaign(kind: CampaignKind) -> CampaignTerms {
    crate::requests::campaign_terms(kind, DAY0, 400)
}

impl Ctx<'_> {
    /// An admin's campaign (running at once).
    async fn campaign(&self, terms: CampaignTerms) -> Result<Campaign, String> {
        let req = CreateCampaign { terms, by: CampaignActor::Admin(ADMIN), now: T0, idempotency_key: None };
        self.store.create_campaign(req).await.or_fail("create_campaign")
    }

    /// A credit at `now`.
    async fn credit_at(
        &self,
        p: &Partner,
        c: &Customer,
        purchase: Points,
        key: &str,
        now: Timestamp,
    ) -> Result<Credited, String> {
        let req = CreditPurchase { now, day_start: now.day_start(), ..self.credit_req(p, c, purchase, key) };
        self.store.credit_purchase(req).await.or_fail("credit_purchase")
    }

    /// The campaign as listed now.
    async fn listed(&self, id: CampaignId) -> Result<Campaign, String> {
        let all = self
            .store
            .campaigns(ListCampaigns { partner: None, limit: MAX_CAMPAIGNS_LISTED })
            .await
            .or_fail("campaigns")?;
        all.into_iter().find(|c| c.id == id).ok_or_else(|| format!("campaign {id} not listed"))
    }
}

/// Campaign ids and points of a credit's awards.
fn paid(c: &Credited) -> Vec<(CampaignId, Points)> {
    c.awards.iter().map(|a| (a.campaign, a.points)).collect()
}

async fn campaigns_are_made_once_per_key(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let admin = |terms: CampaignTerms, key: Option<&str>| CreateCampaign {
        terms,
        by: CampaignActor::Admin(ADMIN),
        now: T0,
        idempotency_key: key.map(str::to_string),
    };
    let first = s.create_campaign(admin(campaign(CampaignKind::Birthday), Some("camp-1"))).await.or_fail("first")?;
    let again = s.create_campaign(admin(campaign(CampaignKind::Birthday), Some("camp-1"))).await.or_fail("again")?;
    ensure_eq!(again, first, "the same key answers the campaign it made");
    s.create_campaign(admin(campaign(CampaignKind::NthVisit), Some("camp-1")))
        .await
        .rejects(Rejection::IdempotencyConflict, "the key with other terms")?;
    let by_partner = CreateCampaign {
        by: CampaignActor::Partner(PartnerRef::Telegram(p.telegram_id)),
        ..admin(campaign(CampaignKind::Birthday), Some("camp-1"))
    };
    s.create_campaign(by_partner.clone()).await.rejects(Rejection::IdempotencyConflict, "the key, another actor")?;
    let own = s.create_campaign(CreateCampaign { idempotency_key: Some("camp-2".into()), ..by_partner.clone() });
    let own = own.await.or_fail("a partner's campaign with a key")?;
    let own_again = s.create_campaign(CreateCampaign { idempotency_key: Some("camp-2".into()), ..by_partner }).await;
    ensure_eq!(own_again.or_fail("the partner's again")?, own, "a partner's too");
    let plain = || admin(campaign(CampaignKind::FirstPurchase), None);
    let (a, b) =
        (s.create_campaign(plain()).await.or_fail("no key")?, s.create_campaign(plain()).await.or_fail("no key")?);
    ensure!(a.id != b.id, "without a key every call makes one");
    let listed =
        s.campaigns(ListCampaigns { partner: None, limit: MAX_CAMPAIGNS_LISTED }).await.or_fail("campaigns")?;
    ensure_eq!(listed.len(), 4, "two keyed, two plain");
    Ok(())
}

async fn campaign_lifecycle(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let other = ctx.partner(PartnerTerms::default()).await?;
    let admin = ctx.campaign(campaign(CampaignKind::FirstPurchase)).await?;
    ensure_eq!(
        (admin.status, admin.issued, admin.created_by),
        (CampaignStatus::Active, 0, Author::Admin(ADMIN)),
        "an admin's campaign runs"
    );
    ensure_eq!(admin.terms, campaign(CampaignKind::FirstPurchase), "terms as given");
    let by_partner = |who: &Partner, terms: CampaignTerms| {
        s.create_campaign(CreateCampaign {
            terms,
            by: CampaignActor::Partner(PartnerRef::Telegram(who.telegram_id)),
            now: T0,
            idempotency_key: None,
        })
    };
    // A partner's campaign is for its own place and waits for approval (the default).
    let mut elsewhere = campaign(CampaignKind::NthVisit);
    elsewhere.partner = Some(other.id);
    let own = by_partner(&p, elsewhere).await.or_fail("a partner's campaign")?;
    ensure_eq!(
        (own.status, own.terms.partner, own.created_by),
        (CampaignStatus::Pending, Some(p.id), Author::Partner(p.id)),
        "pending, at its place"
    );
    let decide = |id: CampaignId, decision: CampaignDecision, by: CampaignActor| {
        s.decide_campaign(DecideCampaign { campaign: id, decision, by, now: T0 })
    };
    let as_partner = |who: &Partner| CampaignActor::Partner(PartnerRef::Id(who.id));
    decide(own.id, CampaignDecision::Approve, as_partner(&p))
        .await
        .rejects(Rejection::CampaignClosed { status: CampaignStatus::Pending }, "a partner approving")?;
    decide(own.id, CampaignDecision::End, as_partner(&other))
        .await
        .rejects(Rejection::UnknownCampaign, "another partner's")?;
    decide(admin.id, CampaignDecision::End, as_partner(&p))
        .await
        .rejects(Rejection::UnknownCampaign, "an admin's, by a partner")?;
    decide(CampaignId(999_999), CampaignDecision::Approve, CampaignActor::Admin(ADMIN))
        .await
        .rejects(Rejection::UnknownCampaign, "no such")?;
    let approved = decide(own.id, CampaignDecision::Approve, CampaignActor::Admin(ADMIN)).await.or_fail("approve")?;
    ensure_eq!(approved.status, CampaignStatus::Active, "approved");
    decide(own.id, CampaignDecision::Reject, CampaignActor::Admin(ADMIN))
        .await
        .rejects(Rejection::CampaignClosed { status: CampaignStatus::Active }, "rejecting an active one")?;
    let ended = decide(own.id, CampaignDecision::End, as_partner(&p)).await.or_fail("the partner ends its own")?;
    ensure_eq!(ended.status, CampaignStatus::Ended, "ended");
    decide(own.id, CampaignDecision::End, CampaignActor::Admin(ADMIN))
        .await
        .rejects(Rejection::CampaignClosed { status: CampaignStatus::Ended }, "ending twice")?;
    let refused = by_partner(&p, campaign(CampaignKind::Birthday)).await.or_fail("another")?;
    let refused = decide(refused.id, CampaignDecision::Reject, CampaignActor::Admin(ADMIN)).await.or_fail("reject")?;
    ensure_eq!(refused.status, CampaignStatus::Rejected, "rejected");

    // The rules decide whether partners may, and with approval or not.
    set_rules(ctx, r#"{"campaigns": {"partners": "open"}}"#).await?;
    let open = by_partner(&p, campaign(CampaignKind::Multiplier)).await.or_fail("open")?;
    ensure_eq!(open.status, CampaignStatus::Active, "runs at once when open");
    set_rules(ctx, r#"{"campaigns": {"partners": "off"}}"#).await?;
    by_partner(&p, campaign(CampaignKind::Multiplier)).await.rejects(Rejection::PartnerCampaignsOff, "partners off")?;
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    set_rules(ctx, "{}").await?;
    by_partner(&applied, campaign(CampaignKind::Multiplier))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "not approved")?;
    let mut bad = campaign(CampaignKind::Multiplier);
    bad.budget = 0;
    let reason = bad.check().expect_err("a budget of 0");
    s.create_campaign(CreateCampaign { terms: bad, by: CampaignActor::Admin(ADMIN), now: T0, idempotency_key: None })
        .await
        .rejects(Rejection::InvalidCampaign { reason }, "bad terms")?;

    // Listed newest first, with a partner's filter (its place's campaigns).
    let all = s.campaigns(ListCampaigns { partner: None, limit: 10 }).await.or_fail("campaigns")?;
    let ids: Vec<CampaignId> = all.iter().map(|c| c.id).collect();
    ensure_eq!(ids, vec![open.id, refused.id, own.id, admin.id], "all, newest first");
    ensure_eq!(all[2], ended, "as decided");
    let mine = s.campaigns(ListCampaigns { partner: Some(PartnerRef::Id(p.id)), limit: 2 }).await.or_fail("mine")?;
    ensure_eq!(mine.iter().map(|c| c.id).collect::<Vec<_>>(), vec![open.id, refused.id], "the partner's, limited");
    let none =
        s.campaigns(ListCampaigns { partner: Some(PartnerRef::Id(other.id)), limit: 10 }).await.or_fail("other")?;
    ensure!(none.is_empty(), "none at the other partner: {none:?}");
    for limit in [0, MAX_CAMPAIGNS_LISTED + 1] {
        s.campaigns(ListCampaigns { partner: None, limit }).await.rejects(Rejection::InvalidAmount, "bad limit")?;
    }
    s.campaigns(ListCampaigns { partner: Some(PartnerRef::Id(PartnerId(999_999))), limit: 1 })
        .await
        .rejects(Rejection::UnknownPartner, "unknown partner")?;

    // Birthdays are set once.
    let c = ctx.customer(0).await?;
    let who = CustomerRef::Id(c.id);
    let may17 = Birthday::new(5, 17).ok_or("a date")?;
    let set = |birthday: Birthday| s.set_birthday(SetBirthday { customer: who.clone(), birthday, now: T0 });
    ensure_eq!(set(may17).await.or_fail("set_birthday")?, may17, "set");
    set(Birthday::new(6, 1).ok_or("a date")?)
        .await
        .rejects(Rejection::BirthdayAlreadySet { birthday: may17 }, "twice")?;
    let stranger = SetBirthday { customer: CustomerRef::Id(CustomerId(999_999)), birthday: may17, now: T0 };
    s.set_birthday(stranger).await.rejects(Rejection::UnknownCustomer, "no such customer")?;
    let c2 = ctx.customer(0).await?;
    let feb30 = SetBirthday { customer: CustomerRef::Id(c2.id), birthday: Birthday { month: 2, day: 30 }, now: T0 };
    s.set_birthday(feb30).await.rejects(Rejection::InvalidAmount, "30 February")?;
    ctx.invariants().await
}

async fn campaign_kinds_pay_by_their_terms(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?; // 5%: 2 000 earns 100
    let q = ctx.partner(PartnerTerms::default()).await?;
    // T0 is Wednesday 10:00 UTC. Mornings 8–11 on Wednesdays pay 2×; all week 1.5×.
    let mut mornings = campaign(CampaignKind::Multiplier);
    (mornings.weekdays, mornings.hour_from, mornings.hour_to) = (1 << 2, 8, 11);
    let mornings = ctx.campaign(mornings).await?;
    let mut week = campaign(CampaignKind::Multiplier);
    week.multiplier_bps = 15_000;
    let week = ctx.campaign(week).await?;
    let mut first = campaign(CampaignKind::FirstPurchase);
    first.partner = Some(p.id);
    let first = ctx.campaign(first).await?;
    let third = ctx.campaign(campaign(CampaignKind::NthVisit)).await?;
    let c = ctx.customer(0).await?;

    let one = ctx.credit(&p, &c, 2_000, "kinds-1").await?;
    ensure_eq!(paid(&one), vec![(mornings.id, 100), (first.id, 50)], "the best multiplier and the first purchase");
    ensure_eq!(one.entry.amount, 250, "100 × 2 + 50");
    ensure_eq!(
        (one.awards[0].kind, one.awards[0].multiplier_bps, one.awards[1].title.en.as_str()),
        (CampaignKind::Multiplier, 20_000, "first_purchase campaign"),
        "awards describe the campaigns"
    );
    let replay = ctx.credit(&p, &c, 2_000, "kinds-1").await?;
    ensure!(replay.replayed && replay.awards == one.awards, "a replay shows the same awards: {replay:?}");
    let noon = ctx.credit_at(&p, &c, 2_000, "kinds-2", T0.plus(2 * 3600)).await?;
    ensure_eq!(paid(&noon), vec![(week.id, 50)], "at noon only the week's 1.5×");
    let third_visit = ctx.credit_at(&p, &c, 2_000, "kinds-3", T0.plus(3 * 3600)).await?;
    ensure_eq!(paid(&third_visit), vec![(week.id, 50), (third.id, 50)], "the third visit");
    let at_q = ctx.credit_at(&q, &c, 2_000, "kinds-4", T0.plus(3 * 3600)).await?;
    ensure_eq!(paid(&at_q), vec![(week.id, 50)], "the first purchase campaign is p's; visits count per partner");
    ensure_eq!(ctx.listed(week.id).await?.issued, 150, "issued");
    ensure_eq!(ctx.listed(third.id).await?.issued, 50, "issued");

    // Outside the period, and ended campaigns, pay nothing.
    let later = ctx.credit_at(&q, &c, 2_000, "kinds-5", DAY0.plus(401 * DAY_SECS)).await?;
    ensure_eq!((paid(&later), later.entry.amount), (vec![], 100), "after the end");
    s.decide_campaign(DecideCampaign {
        campaign: week.id,
        decision: CampaignDecision::End,
        by: CampaignActor::Admin(ADMIN),
        now: T0,
    })
    .await
    .or_fail("end")?;
    let ended = ctx.credit_at(&q, &c, 2_000, "kinds-6", T0.plus(4 * 3600)).await?;
    ensure_eq!(paid(&ended), vec![(third.id, 50)], "the week has ended; q's third visit pays");

    // Tiers: the campaign multiplies the tier's points (rules::stacked); a
    // campaign for Gold only passes Silver by.
    set_rules(ctx, TIERS).await?;
    let mut gold_only = campaign(CampaignKind::NthVisit);
    (gold_only.nth, gold_only.tiers) = (2, 1 << 2);
    ctx.campaign(gold_only).await?;
    let t = ctx.customer(0).await?;
    ctx.credit_at(&q, &t, 2_000, "kinds-7", T0.plus(5 * 3600)).await?; // Silver after it
    let silver = ctx.credit_at(&p, &t, 700, "kinds-8", T0).await?; // 35 × 1.5 = 52, then × 2 = 104
    ensure_eq!(
        (silver.tier_before, silver.entry.amount, paid(&silver)),
        (1, 154, vec![(mornings.id, 52), (first.id, 50)]),
        "Silver in the mornings"
    );
    ensure_eq!(silver.entry.amount, rules::stacked(35, 15_000, 20_000) + 50, "the stacking rule");
    ctx.invariants().await
}

async fn campaign_birthdays_once_a_year(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let mut birthday = campaign(CampaignKind::Birthday);
    birthday.utc_offset_minutes = 7 * 60;
    let b = ctx.campaign(birthday).await?;
    let c = ctx.customer(0).await?;
    // 2023-11-15 is T0's date; the birthday is the 16th (local, UTC+7).
    let day = |d: i64| DAY0.plus(d * DAY_SECS + 12 * 3600);
    ensure_eq!(paid(&ctx.credit_at(&p, &c, 2_000, "bd-0", day(1)).await?), vec![], "no birthday set");
    let nov16 = Birthday::new(11, 16).ok_or("a date")?;
    s.set_birthday(SetBirthday { customer: CustomerRef::Id(c.id), birthday: nov16, now: T0 }).await.or_fail("set")?;
    ensure_eq!(paid(&ctx.credit_at(&p, &c, 2_000, "bd-1", day(0)).await?), vec![], "the day before");
    // 16 Nov 00:30 local is 15 Nov 17:30 UTC: the window has opened.
    let opened = ctx.credit_at(&p, &c, 2_000, "bd-2", DAY0.plus(17 * 3600 + 1800)).await?;
    ensure_eq!(paid(&opened), vec![(b.id, 50)], "on the birthday, local time");
    ensure_eq!(paid(&ctx.credit_at(&p, &c, 2_000, "bd-3", day(3)).await?), vec![], "once in the window");
    // A reversed purchase gives the bonus back to be earned again in the window.
    s.reverse_entry(ReverseEntry {
        now: day(3),
        not_before: day(-1),
        ..ctx.reverse_req(opened.entry.id, &p, "bd-back")
    })
    .await
    .or_fail("reverse")?;
    ensure_eq!(ctx.listed(b.id).await?.issued, 0, "back in the budget");
    ensure_eq!(
        paid(&ctx.credit_at(&p, &c, 2_000, "bd-4", day(4)).await?),
        vec![(b.id, 50)],
        "again after the reversal"
    );
    ensure_eq!(paid(&ctx.credit_at(&p, &c, 2_000, "bd-5", day(8)).await?), vec![], "the window has closed");
    ensure_eq!(paid(&ctx.credit_at(&p, &c, 2_000, "bd-6", day(367)).await?), vec![(b.id, 50)], "a year on");
    ctx.invariants().await
}

async fn imported_birthdays_are_set(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    // A date of birth that exists becomes the birthday; one that does not, or none, leaves it unset.
    let born = ImportedCustomer { birthday: Some("1990-11-16".into()), ..ctx.imported(721, 10, vec![]) };
    let leap = ImportedCustomer { birthday: Some("1992-02-29".into()), ..ctx.imported(722, 10, vec![]) };
    let bogus = ImportedCustomer { birthday: Some("2023-02-29".into()), ..ctx.imported(723, 10, vec![]) };
    let none = ImportedCustomer { birthday: None, ..ctx.imported(724, 10, vec![]) };
    ctx.import(vec![], vec![born, leap, bogus, none]).await.or_fail("import")?;
    let set = |tg: i64, month: u8, day: u8| {
        let birthday = Birthday { month, day };
        s.set_birthday(SetBirthday { customer: CustomerRef::Telegram(TelegramUserId(tg)), birthday, now: T0 })
    };
    let (nov16, feb29) = (Birthday::new(11, 16).ok_or("a date")?, Birthday::new(2, 29).ok_or("a date")?);
    set(721, 1, 1).await.rejects(Rejection::BirthdayAlreadySet { birthday: nov16 }, "imported")?;
    set(722, 1, 1).await.rejects(Rejection::BirthdayAlreadySet { birthday: feb29 }, "imported, 29 February")?;
    ensure_eq!(set(723, 3, 1).await.or_fail("not a date: unset")?, Birthday { month: 3, day: 1 }, "set");
    ensure_eq!(set(724, 5, 17).await.or_fail("none: unset")?, Birthday { month: 5, day: 17 }, "set");
    ctx.invariants().await
}

async fn campaign_caps_and_budgets(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let mut capped = campaign(CampaignKind::Multiplier); // +100 on a 2 000 purchase
    (capped.cap_per_customer, capped.budget) = (Some(250), 300);
    let capped = ctx.campaign(capped).await?;
    let (a, b) = (ctx.customer(0).await?, ctx.customer(0).await?);
    let at = |i: i64| T0.plus(i);
    let award = |c: &Credited| c.awards.first().map_or(0, |a| a.points);
    ensure_eq!(award(&ctx.credit_at(&p, &a, 2_000, "cap-1", at(1)).await?), 100, "a: 100");
    let second = ctx.credit_at(&p, &a, 2_000, "cap-2", at(2)).await?;
    ensure_eq!(award(&second), 100, "a: 200");
    ensure_eq!(award(&ctx.credit_at(&p, &a, 2_000, "cap-3", at(3)).await?), 0, "a: 300 would pass the cap of 250");
    ensure_eq!(award(&ctx.credit_at(&p, &a, 1_000, "cap-4", at(4)).await?), 50, "a: 50 more fits the cap exactly");
    let b1 = ctx.credit_at(&p, &b, 2_000, "cap-5", at(5)).await?;
    ensure_eq!(award(&b1), 0, "b: 100 would pass the budget (250 of 300 paid)");
    ensure_eq!(ctx.listed(capped.id).await?.issued, 250, "issued");
    let b2 = ctx.credit_at(&p, &b, 2_000, "cap-6", at(6)).await?;
    ensure_eq!((award(&b2), b2.entry.amount), (0, 100), "the purchase still earns its own points");
    // A reversal returns the award to the budget and to the customer's cap.
    s.reverse_entry(ReverseEntry { now: at(7), ..ctx.reverse_req(second.entry.id, &p, "cap-back") })
        .await
        .or_fail("reverse")?;
    ensure_eq!(ctx.listed(capped.id).await?.issued, 150, "the reversed award is back in the budget");
    ensure_eq!(award(&ctx.credit_at(&p, &b, 2_000, "cap-7", at(8)).await?), 100, "b: now fits");
    ensure_eq!(award(&ctx.credit_at(&p, &a, 2_000, "cap-8", at(9)).await?), 0, "a: 100 would pass the budget");
    ensure_eq!(award(&ctx.credit_at(&p, &a, 1_000, "cap-9", at(10)).await?), 50, "a: 50 fits both");
    ensure_eq!(ctx.listed(capped.id).await?.issued, 300, "the budget, spent exactly");
    ctx.invariants().await
}

async fn concurrent_credits_against_a_campaign_budget(ctx: &Ctx<'_>) -> CheckResult {
    // At least 200 credits at once, each a first purchase worth a bonus of 10,
    // against a budget for 73 of them: exactly 73 get it.
    let n = ctx.params.n().max(200);
    let mut partners = Vec::new();
    for _ in 0..5 {
        partners.push(ctx.partner(terms(500, 3_000, 1_000_000)).await?);
    }
    let mut customers = Vec::new();
    for _ in 0..n.div_ceil(partners.len()) {
        customers.push(ctx.customer(0).await?);
    }
    let mut bonus = campaign(CampaignKind::FirstPurchase);
    (bonus.points, bonus.budget) = (10, 730);
    let bonus = ctx.campaign(bonus).await?;
    let keys: Vec<String> = (0..n).map(|i| format!("budget-{i}")).collect();
    let results = join_all(keys.iter().enumerate().map(|(i, k)| {
        let (p, c) = (&partners[i % partners.len()], &customers[i / partners.len()]);
        ctx.store.credit_purchase(ctx.credit_req(p, c, 2_000, k))
    }))
    .await;
    let mut awarded = 0;
    for r in results {
        let credited = r.or_fail("a concurrent credit")?;
        ensure!(
            credited.entry.amount == 100 + credited.awards.iter().map(|a| a.points).sum::<Points>(),
            "amount {credited:?}"
        );
        awarded += credited.awards.len();
    }
    ensure_eq!(awarded, 73, "bonuses paid");
    ensure_eq!(ctx.listed(bonus.id).await?.issued, 730, "issued");
    ctx.invariants().await
}

fn terms(earn_rate_bps: u32, max_redeem_share_bps: u32, daily_credit_limit: Points) -> PartnerTerms {
    PartnerTerms { earn_rate_bps, max_redeem_share_bps, daily_credit_limit }
}

// ---------------------------------------------------------------------------
// Customers

async fn register_new_customer(ctx: &Ctx<'_>) -> CheckResult {
    let req = ctx.new_customer(150);
    let r = ctx.register(req.clone()).await.or_fail("register")?;
    ensure!(r.created, "created should be true");
    ensure!(r.referral.is_none(), "no referral expected");
    let c = &r.customer;
    ensure_eq!(c.telegram_id, req.telegram_id, "telegram_id");
    ensure_eq!(c.code, req.code, "code");
    ensure_eq!(c.first_name, req.first_name, "first_name");
    ensure_eq!(c.username, req.username, "username");
    ensure_eq!(c.language, req.language, "language");
    ensure_eq!(c.referrer, None, "referrer");
    ensure_eq!(c.balance, 150, "balance");
    ensure!(!c.blocked, "new customer blocked");
    ensure_eq!(c.created_at, T0, "created_at");
    let w = r.welcome.ok_or("no welcome entry")?;
    ensure_eq!(w.customer, c.id, "welcome.customer");
    ensure_eq!(w.kind, EntryKind::WelcomeBonus, "welcome.kind");
    ensure_eq!(w.amount, 150, "welcome.amount");
    ensure_eq!(w.idempotency_key, welcome_key(c.id), "welcome key");
    ensure_eq!(w.author, Author::System, "welcome.author");
    ensure_eq!((w.partner, w.purchase, w.reverses), (None, None, None), "welcome optional fields");
    ensure_eq!(w.created_at, T0, "welcome.created_at");
    let again = ctx.summary(c.id).await?;
    ensure_eq!(&again.customer, c, "stored customer");
    ensure_eq!(again.recent, vec![w], "stored entries");
    Ok(())
}

async fn register_existing_is_unchanged(ctx: &Ctx<'_>) -> CheckResult {
    let referrer = ctx.customer(0).await?;
    let req = ctx.new_customer(100);
    let first = ctx.register(req.clone()).await.or_fail("first")?;
    let again = NewCustomer {
        code: ctx.code(),
        first_name: "Changed".into(),
        language: Language::Ru,
        referrer: Some(referrer.code.clone()),
        welcome_bonus: 500,
        referral_bonus: 500,
        now: T0.plus(1000),
        ..req
    };
    let second = ctx.register(again).await.or_fail("second")?;
    ensure!(!second.created, "second registration created");
    ensure!(second.welcome.is_none() && second.referral.is_none(), "second registration credited bonuses");
    ensure_eq!(second.customer, first.customer, "customer after second registration");
    ensure_eq!(ctx.balance(referrer.id).await?, 0, "referrer balance");
    ensure_eq!(ctx.summary(first.customer.id).await?.recent.len(), 1, "entries");
    Ok(())
}

async fn register_without_bonuses(ctx: &Ctx<'_>) -> CheckResult {
    let referrer = ctx.customer(0).await?;
    let req = NewCustomer { referrer: Some(referrer.code.clone()), referral_bonus: 0, ..ctx.new_customer(0) };
    let r = ctx.register(req).await.or_fail("register")?;
    ensure!(r.created, "created");
    ensure!(r.welcome.is_none(), "welcome entry for a zero bonus");
    ensure!(r.referral.is_none(), "referral entry for a zero bonus");
    ensure_eq!(r.customer.referrer, Some(referrer.id), "referrer is still recorded");
    ensure_eq!(r.customer.balance, 0, "balance");
    ensure!(ctx.summary(r.customer.id).await?.recent.is_empty(), "entries for a zero bonus");
    ensure!(ctx.summary(referrer.id).await?.recent.is_empty(), "referrer entries for a zero bonus");
    Ok(())
}

async fn register_referral(ctx: &Ctx<'_>) -> CheckResult {
    let referrer = ctx.customer(10).await?;
    let req = NewCustomer { referrer: Some(referrer.code.clone()), referral_bonus: 70, ..ctx.new_customer(20) };
    let r = ctx.register(req).await.or_fail("register")?;
    ensure_eq!(r.customer.referrer, Some(referrer.id), "referrer");
    let (after, entry) = r.referral.ok_or("no referral")?;
    ensure_eq!(after.id, referrer.id, "referral goes to the referrer");
    ensure_eq!(after.balance, 80, "referrer balance");
    ensure_eq!(entry.customer, referrer.id, "referral entry customer");
    ensure_eq!(entry.kind, EntryKind::ReferralBonus, "referral kind");
    ensure_eq!(entry.amount, 70, "referral amount");
    ensure_eq!(entry.idempotency_key, referral_key(r.customer.id), "referral key");
    ensure_eq!(entry.author, Author::System, "referral author");
    ensure_eq!(r.customer.balance, 20, "new customer balance");

    // Unknown code, self-referral and a blocked referrer: sign-up without referral.
    let unknown = NewCustomer { referrer: Some(ctx.code()), referral_bonus: 70, ..ctx.new_customer(0) };
    let mut own = NewCustomer { referral_bonus: 70, ..ctx.new_customer(0) };
    own.referrer = Some(own.code.clone());
    let blocked = ctx.customer(0).await?;
    ctx.block(&blocked, true).await?;
    let via_blocked = NewCustomer { referrer: Some(blocked.code.clone()), referral_bonus: 70, ..ctx.new_customer(0) };
    for (what, req) in [("unknown code", unknown), ("self-referral", own), ("blocked referrer", via_blocked)] {
        let r = ctx.register(req).await.or_fail(what)?;
        ensure!(r.created, "{what}: not created");
        ensure!(r.referral.is_none(), "{what}: referral credited");
        ensure_eq!(r.customer.referrer, None, "{what}: referrer");
    }
    ensure_eq!(ctx.balance(blocked.id).await?, 0, "blocked referrer balance");
    Ok(())
}

async fn register_rejections(ctx: &Ctx<'_>) -> CheckResult {
    let taken = ctx.customer(5).await?;
    let req = NewCustomer { code: taken.code.clone(), ..ctx.new_customer(5) };
    let tg = req.telegram_id;
    ctx.store.register_customer(req).await.rejects(Rejection::CodeTaken, "taken code")?;
    let lookup = ctx.store.customer_summary(CustomerRef::Telegram(tg), 1).await.or_fail("lookup")?;
    ensure!(lookup.is_none(), "customer stored despite CodeTaken");
    let negative = ctx.new_customer(-1);
    ctx.store.register_customer(negative).await.rejects(Rejection::InvalidAmount, "negative welcome bonus")?;
    let huge = NewCustomer { referral_bonus: rules::MAX_ADJUSTMENT + 1, ..ctx.new_customer(0) };
    ctx.store.register_customer(huge).await.rejects(Rejection::InvalidAmount, "huge referral bonus")?;
    Ok(())
}

async fn customer_lookup_and_paging(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(1).await?;
    let p = ctx.partner(terms(10_000, 3_000, 1_000_000)).await?;
    for i in 0..16 {
        ctx.credit(&p, &c, 10 + i, &format!("page-{i}")).await?;
    }
    for (what, who) in [
        ("by id", CustomerRef::Id(c.id)),
        ("by telegram", CustomerRef::Telegram(c.telegram_id)),
        ("by code", CustomerRef::Code(c.code.clone())),
    ] {
        let found = s.customer_summary(who, 3).await.or_missing(what)?;
        ensure_eq!(found.customer.id, c.id, "{what}");
        ensure_eq!(found.recent.len(), 3, "{what}: recent entries");
        ensure_eq!(found.recent[0].amount, 25, "{what}: newest entry first");
    }
    let none = s.customer_summary(CustomerRef::Telegram(TelegramUserId(1)), 3).await.or_fail("unknown")?;
    ensure!(none.is_none(), "unknown telegram id found");
    let none = s.customer_summary(CustomerRef::Id(CustomerId(987_654_321)), 3).await.or_fail("unknown id")?;
    ensure!(none.is_none(), "unknown id found");
    let none = s.customer_summary(CustomerRef::Code(ctx.code()), 3).await.or_fail("unknown code")?;
    ensure!(none.is_none(), "unknown code found");
    let zero = s.customer_summary(CustomerRef::Id(c.id), 0).await.or_fail("recent 0")?;
    ensure!(zero.is_some_and(|z| z.recent.is_empty()), "recent = 0 should give no entries");

    let all = ctx.all_entries(c.id).await?;
    ensure_eq!(all.len(), 17, "entries");
    let page =
        s.customer_entries(EntriesPage { customer: c.id, limit: 5, before: Some(all[3].id) }).await.or_fail("page")?;
    ensure_eq!(page, all[4..9].to_vec(), "page strictly before an entry");
    let last = s
        .customer_entries(EntriesPage { customer: c.id, limit: 5, before: Some(all[16].id) })
        .await
        .or_fail("past the end")?;
    ensure!(last.is_empty(), "entries before the oldest one");
    let unknown = s
        .customer_entries(EntriesPage { customer: CustomerId(987_654_321), limit: 5, before: None })
        .await
        .or_fail("unknown customer")?;
    ensure!(unknown.is_empty(), "entries of an unknown customer");
    Ok(())
}

async fn set_language_and_blocked(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(0).await?;
    let updated = s.set_language(CustomerRef::Telegram(c.telegram_id), Language::En).await.or_fail("language")?;
    ensure_eq!(updated.language, Language::En, "language");
    ensure_eq!(ctx.summary(c.id).await?.customer.language, Language::En, "stored language");
    s.set_language(CustomerRef::Id(CustomerId(987_654_321)), Language::Ru)
        .await
        .rejects(Rejection::UnknownCustomer, "language of an unknown customer")?;
    let blocked = s
        .set_blocked(SetBlocked { who: CustomerRef::Code(c.code.clone()), blocked: true, admin: ADMIN, now: T0 })
        .await
        .or_fail("block")?;
    ensure!(blocked.blocked, "not blocked");
    ensure!(ctx.summary(c.id).await?.customer.blocked, "stored blocked flag");
    let again = s
        .set_blocked(SetBlocked { who: CustomerRef::Id(c.id), blocked: true, admin: ADMIN, now: T0 })
        .await
        .or_fail("block twice")?;
    ensure!(again.blocked, "blocking twice");
    let unblocked = s
        .set_blocked(SetBlocked { who: CustomerRef::Id(c.id), blocked: false, admin: ADMIN, now: T0 })
        .await
        .or_fail("unblock")?;
    ensure!(!unblocked.blocked, "still blocked");
    s.set_blocked(SetBlocked { who: CustomerRef::Telegram(TelegramUserId(3)), blocked: true, admin: ADMIN, now: T0 })
        .await
        .rejects(Rejection::UnknownCustomer, "blocking an unknown customer")?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Credits

async fn credit_purchase_applies(ctx: &Ctx<'_>) -> CheckResult {
    let c = ctx.customer(3).await?;
    let p = ctx.partner(terms(750, 3_000, 1_000_000)).await?;
    let r = ctx.credit(&p, &c, 1_999, "credit-1").await?;
    ensure!(!r.replayed, "first credit replayed");
    let e = &r.entry;
    ensure_eq!(e.amount, 149, "floor(1999 × 7.5 %)");
    ensure_eq!(e.amount, rules::accrual(1_999, 750), "rules::accrual");
    ensure_eq!(e.customer, c.id, "entry.customer");
    ensure_eq!(e.kind, EntryKind::Accrual, "entry.kind");
    ensure_eq!(e.partner, Some(p.id), "entry.partner");
    ensure_eq!(e.purchase, Some(1_999), "entry.purchase");
    ensure_eq!(e.idempotency_key, "credit-1", "entry.idempotency_key");
    ensure_eq!(e.author, Author::Partner(p.id), "entry.author");
    ensure_eq!((e.reverses, e.reason.clone()), (None, None), "entry optional fields");
    ensure_eq!(e.created_at, T0, "entry.created_at");
    ensure_eq!(r.customer.balance, 152, "balance after credit");
    ensure_eq!(r.partner.id, p.id, "partner in the result");
    ensure_eq!(ctx.balance(c.id).await?, 152, "stored balance");

    let tiny = ctx.credit(&p, &c, 13, "credit-tiny").await?;
    ensure_eq!(tiny.entry.amount, 0, "tiny purchase earns 0");
    ensure!(tiny.entry.id > e.id, "entry ids increase");
    let max = ctx.store.credit_purchase(ctx.credit_req(&p, &c, rules::MAX_PURCHASE, "credit-max")).await;
    max.rejects(Rejection::DailyLimitExceeded { remaining: 1_000_000 - 149 }, "largest purchase")?;
    let big = ctx.partner(terms(1, 3_000, Points::MAX)).await?;
    let max = ctx.credit(&big, &c, rules::MAX_PURCHASE, "credit-max-2").await?;
    ensure_eq!(max.entry.amount, rules::MAX_PURCHASE / 10_000, "largest purchase at 0.01 %");
    Ok(())
}

async fn credit_purchase_rejections(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(0).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    for purchase in [0, -5, rules::MAX_PURCHASE + 1] {
        let r = s.credit_purchase(ctx.credit_req(&p, &c, purchase, &format!("bad-{purchase}"))).await;
        r.rejects(Rejection::InvalidAmount, &format!("purchase {purchase}"))?;
    }
    let unknown =
        CreditPurchase { partner: PartnerRef::Id(PartnerId(987_654_321)), ..ctx.credit_req(&p, &c, 100, "x1") };
    s.credit_purchase(unknown).await.rejects(Rejection::UnknownPartner, "unknown partner")?;
    let unknown =
        CreditPurchase { partner: PartnerRef::Telegram(TelegramUserId(5)), ..ctx.credit_req(&p, &c, 100, "x2") };
    s.credit_purchase(unknown).await.rejects(Rejection::UnknownPartner, "unknown partner telegram id")?;
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.credit_purchase(ctx.credit_req(&applied, &c, 100, "x3"))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "applied partner")?;
    let suspended = ctx.partner(PartnerTerms::default()).await?;
    ctx.suspend(&suspended).await?;
    s.credit_purchase(ctx.credit_req(&suspended, &c, 100, "x4"))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "suspended partner")?;
    let nobody = CreditPurchase { customer: CustomerRef::Code(ctx.code()), ..ctx.credit_req(&p, &c, 100, "x5") };
    s.credit_purchase(nobody).await.rejects(Rejection::UnknownCustomer, "unknown customer")?;
    ctx.block(&c, true).await?;
    s.credit_purchase(ctx.credit_req(&p, &c, 100, "x6")).await.rejects(Rejection::CustomerBlocked, "blocked")?;
    ensure!(ctx.summary(c.id).await?.recent.is_empty(), "a rejected credit left an entry");
    // A rejected key was not consumed.
    ctx.block(&c, false).await?;
    let ok = ctx.credit(&p, &c, 100, "x6").await?;
    ensure!(!ok.replayed, "key of a rejected call treated as used");
    Ok(())
}

async fn credit_purchase_replay(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(0).await?;
    let other = ctx.customer(0).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    let first = ctx.credit(&p, &c, 1_000, "replay-1").await?;
    let replay = ctx.credit(&p, &c, 1_000, "replay-1").await?;
    ensure!(replay.replayed, "replay not flagged");
    ensure_eq!(replay.entry, first.entry, "replayed entry");
    ensure_eq!(replay.customer.balance, 50, "balance after replay");
    // The same customer by id rather than code is the same request.
    let by_id = CreditPurchase { customer: CustomerRef::Id(c.id), ..ctx.credit_req(&p, &c, 1_000, "replay-1") };
    ensure!(s.credit_purchase(by_id).await.or_fail("replay by id")?.replayed, "replay by id");
    // Replays still work after the state changed.
    ctx.suspend(&p).await?;
    ctx.block(&c, true).await?;
    let late = CreditPurchase {
        now: T0.plus(7 * 86_400),
        day_start: DAY0.plus(7 * 86_400),
        ..ctx.credit_req(&p, &c, 1_000, "replay-1")
    };
    let late = s.credit_purchase(late).await.or_fail("replay after suspension and block")?;
    ensure!(late.replayed, "late replay flag");
    ensure_eq!(late.entry, first.entry, "late replay entry");
    ensure!(late.customer.blocked, "replay returns the customer's current state");
    ensure_eq!(late.partner.status, PartnerStatus::Suspended, "replay returns the partner's current state");
    // Different parameters under the same key.
    for (what, req) in [
        ("purchase", ctx.credit_req(&p, &c, 1_001, "replay-1")),
        ("customer", ctx.credit_req(&p, &other, 1_000, "replay-1")),
        ("partner", ctx.credit_req(&q, &c, 1_000, "replay-1")),
    ] {
        s.credit_purchase(req).await.rejects(Rejection::IdempotencyConflict, &format!("different {what}"))?;
    }
    ensure_eq!(ctx.balance(c.id).await?, 50, "balance after replays");
    ensure_eq!(ctx.summary(c.id).await?.recent.len(), 1, "entries after replays");
    Ok(())
}

async fn credit_daily_limit(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(0).await?;
    let p = ctx.partner(terms(10_000, 3_000, 100)).await?;
    // Yesterday's credit does not count today.
    let yesterday = CreditPurchase {
        now: DAY0.plus(-3_600),
        day_start: DAY0.plus(-86_400),
        ..ctx.credit_req(&p, &c, 90, "limit-0")
    };
    s.credit_purchase(yesterday).await.or_fail("yesterday")?;
    let first = ctx.credit(&p, &c, 60, "limit-1").await?;
    s.credit_purchase(ctx.credit_req(&p, &c, 50, "limit-2"))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 40 }, "over the limit")?;
    ctx.credit(&p, &c, 40, "limit-3").await?;
    s.credit_purchase(ctx.credit_req(&p, &c, 1, "limit-4"))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 0 }, "at the limit")?;
    // Another partner has its own limit.
    let q = ctx.partner(terms(10_000, 3_000, 100)).await?;
    ctx.credit(&q, &c, 100, "limit-q").await?;
    // A reversed accrual frees its part of the limit.
    s.reverse_entry(ctx.reverse_req(first.entry.id, &p, "limit-rev")).await.or_fail("reverse")?;
    ctx.credit(&p, &c, 60, "limit-5").await?;
    s.credit_purchase(ctx.credit_req(&p, &c, 1, "limit-6"))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 0 }, "at the limit again")?;
    // The next day starts afresh.
    let tomorrow =
        CreditPurchase { now: T0.plus(86_400), day_start: DAY0.plus(86_400), ..ctx.credit_req(&p, &c, 100, "limit-7") };
    let tomorrow = s.credit_purchase(tomorrow).await.or_fail("tomorrow")?;
    ensure_eq!(ctx.balance(c.id).await?, 90 + 40 + 100 + 60 + 100, "balance");
    // Whatever a store keeps to answer faster, the answer is the sum's: a day asked again
    // later, a reversal of another day's accrual, a reversal of the day's, the credits after.
    let at = |key: &str, purchase, day_start: Timestamp, now: Timestamp| CreditPurchase {
        now,
        day_start,
        ..ctx.credit_req(&p, &c, purchase, key)
    };
    let next_day = (DAY0.plus(86_400), T0.plus(86_400));
    s.credit_purchase(at("limit-8", 1, next_day.0, next_day.1))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 0 }, "tomorrow at the limit")?;
    s.credit_purchase(at("limit-9", 1, DAY0, T0.plus(60)))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 0 }, "today asked again")?;
    let today_40 = ctx.summary(c.id).await?.recent.iter().find(|e| e.amount == 40).map(|e| e.id);
    let today_40 = today_40.ok_or("the credit of 40 is among the recent entries")?;
    s.reverse_entry(ctx.reverse_req(today_40, &p, "limit-rev-2")).await.or_fail("reverse today's 40")?;
    s.credit_purchase(at("limit-10", 1, next_day.0, next_day.1))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 0 }, "tomorrow still at the limit")?;
    s.reverse_entry(ctx.reverse_req(tomorrow.entry.id, &p, "limit-rev-3")).await.or_fail("reverse tomorrow's")?;
    s.credit_purchase(at("limit-11", 30, next_day.0, next_day.1)).await.or_fail("tomorrow after the reversal")?;
    s.credit_purchase(at("limit-12", 80, next_day.0, next_day.1))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 70 }, "tomorrow's own credits count")?;
    s.credit_purchase(at("limit-13", 70, next_day.0, next_day.1)).await.or_fail("tomorrow up to the limit")?;
    s.credit_purchase(at("limit-14", 1, next_day.0, next_day.1))
        .await
        .rejects(Rejection::DailyLimitExceeded { remaining: 0 }, "tomorrow at the limit again")?;
    ensure_eq!(ctx.balance(c.id).await?, 90 + 40 + 100 + 60 + 100 - 40 - 100 + 30 + 70, "balance at the end");
    Ok(())
}

// ---------------------------------------------------------------------------
// Redemptions

async fn open_redemption_applies(ctx: &Ctx<'_>) -> CheckResult {
    let c = ctx.customer(500).await?;
    let p = ctx.partner(terms(500, 2_500, 100_000)).await?;
    let v = ctx.store.open_redemption(ctx.open_req(&p, &c, 250, 1_000, "open-1")).await.or_fail("open")?;
    ensure!(!v.replayed, "replayed");
    let r = &v.request;
    ensure_eq!(r.customer, c.id, "request.customer");
    ensure_eq!(r.partner, p.id, "request.partner");
    ensure_eq!((r.points, r.purchase), (250, 1_000), "points and purchase");
    ensure_eq!(r.status, RedemptionStatus::Pending, "status");
    ensure_eq!(r.created_at, T0, "created_at");
    ensure_eq!(r.expires_at, T0.plus(rules::REDEMPTION_TTL_SECS), "expires_at");
    ensure_eq!(r.entry, None, "entry");
    ensure!(v.entry.is_none(), "view entry");
    ensure_eq!(v.customer.balance, 500, "no points move when opening");
    ensure_eq!(v.partner.id, p.id, "view partner");
    ensure_eq!(ctx.balance(c.id).await?, 500, "stored balance");
    Ok(())
}

async fn open_redemption_rejections(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(100).await?;
    let p = ctx.partner(terms(500, 3_000, 100_000)).await?;
    for (points, purchase) in [(0, 100), (-1, 100), (1, 0), (1, rules::MAX_PURCHASE + 1)] {
        let r = s.open_redemption(ctx.open_req(&p, &c, points, purchase, "bad")).await;
        r.rejects(Rejection::InvalidAmount, &format!("points {points}, purchase {purchase}"))?;
    }
    // floor(105 × 30 %) = 31: exactly the max share is fine.
    s.open_redemption(ctx.open_req(&p, &c, 31, 105, "share")).await.or_fail("exactly the max share")?;
    s.open_redemption(ctx.open_req(&p, &c, 32, 105, "share-2"))
        .await
        .rejects(Rejection::ExceedsMaxShare { max: 31 }, "over the max share")?;
    s.open_redemption(ctx.open_req(&p, &c, 101, 1_000, "balance"))
        .await
        .rejects(Rejection::InsufficientBalance { balance: 100, requested: 101 }, "over the balance")?;
    let unknown =
        OpenRedemption { partner: PartnerRef::Id(PartnerId(987_654_321)), ..ctx.open_req(&p, &c, 10, 100, "u1") };
    s.open_redemption(unknown).await.rejects(Rejection::UnknownPartner, "unknown partner")?;
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.open_redemption(ctx.open_req(&applied, &c, 10, 100, "u2"))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "applied partner")?;
    let nobody = OpenRedemption { customer: CustomerRef::Code(ctx.code()), ..ctx.open_req(&p, &c, 10, 100, "u3") };
    s.open_redemption(nobody).await.rejects(Rejection::UnknownCustomer, "unknown customer")?;
    ctx.block(&c, true).await?;
    s.open_redemption(ctx.open_req(&p, &c, 10, 100, "u4")).await.rejects(Rejection::CustomerBlocked, "blocked")?;
    Ok(())
}

async fn open_redemption_replay(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(100).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let first = s.open_redemption(ctx.open_req(&p, &c, 20, 100, "o-1")).await.or_fail("open")?;
    let again = OpenRedemption { now: T0.plus(5), expires_at: T0.plus(605), ..ctx.open_req(&p, &c, 20, 100, "o-1") };
    let again = s.open_redemption(again).await.or_fail("replay")?;
    ensure!(again.replayed, "replay flag");
    ensure_eq!(again.request, first.request, "replayed request");
    s.open_redemption(ctx.open_req(&p, &c, 21, 100, "o-1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "different points")?;
    let other = ctx.customer(100).await?;
    s.open_redemption(ctx.open_req(&p, &other, 20, 100, "o-1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "different customer")?;
    s.confirm_redemption(ctx.answer(first.request.id, &c)).await.or_fail("confirm")?;
    ctx.suspend(&p).await?;
    let after = s.open_redemption(ctx.open_req(&p, &c, 20, 100, "o-1")).await.or_fail("replay after confirm")?;
    ensure!(after.replayed, "replay after confirm flag");
    ensure_eq!(after.request.id, first.request.id, "same request");
    ensure_eq!(after.request.status, RedemptionStatus::Confirmed, "current status");
    ensure!(after.entry.is_some(), "replay after confirm shows the debit");
    ensure_eq!(ctx.balance(c.id).await?, 80, "balance");
    Ok(())
}

async fn confirm_redemption_debits(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(300).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let id = ctx.open(&p, &c, 120, 1_000).await?;
    let v = s.confirm_redemption(ctx.answer(id, &c)).await.or_fail("confirm")?;
    ensure!(!v.replayed, "replayed");
    let e = v.entry.clone().ok_or("no entry")?;
    ensure_eq!(e.kind, EntryKind::Redemption, "kind");
    ensure_eq!(e.amount, -120, "amount");
    ensure_eq!(e.customer, c.id, "customer");
    ensure_eq!(e.partner, Some(p.id), "partner");
    ensure_eq!(e.purchase, Some(1_000), "purchase");
    ensure_eq!(e.idempotency_key, redemption_key(id), "key");
    ensure_eq!(e.author, Author::Customer(c.id), "author");
    ensure_eq!(e.created_at, T0.plus(60), "created_at");
    ensure_eq!(v.request.status, RedemptionStatus::Confirmed, "status");
    ensure_eq!(v.request.entry, Some(e.id), "request.entry");
    ensure_eq!(v.customer.balance, 180, "balance");
    // Confirming again is a replay, even later and by code.
    let again =
        AnswerRedemption { customer: CustomerRef::Code(c.code.clone()), now: T0.plus(10_000), ..ctx.answer(id, &c) };
    let again = s.confirm_redemption(again).await.or_fail("confirm again")?;
    ensure!(again.replayed, "replay flag");
    ensure_eq!(again.entry, Some(e), "replayed entry");
    ensure_eq!(again.request, v.request, "replayed request");
    s.decline_redemption(ctx.answer(id, &c))
        .await
        .rejects(Rejection::RedemptionClosed { status: RedemptionStatus::Confirmed }, "decline after confirm")?;
    ensure_eq!(ctx.balance(c.id).await?, 180, "balance after replays");
    Ok(())
}

async fn confirm_redemption_rejections(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(300).await?;
    let stranger = ctx.customer(300).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    s.confirm_redemption(ctx.answer(RedemptionId(987_654_321), &c))
        .await
        .rejects(Rejection::UnknownRedemption, "unknown request")?;
    let id = ctx.open(&p, &c, 100, 1_000).await?;
    s.confirm_redemption(ctx.answer(id, &stranger)).await.rejects(Rejection::NotYourRedemption, "stranger")?;
    let nobody = AnswerRedemption { customer: CustomerRef::Code(ctx.code()), ..ctx.answer(id, &c) };
    s.confirm_redemption(nobody).await.rejects(Rejection::UnknownCustomer, "unknown customer")?;
    // Partner suspended meanwhile: refused, the request stays pending.
    ctx.suspend(&p).await?;
    s.confirm_redemption(ctx.answer(id, &c))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "suspended")?;
    ctx.approve(&p).await?;
    // Customer blocked meanwhile.
    ctx.block(&c, true).await?;
    s.confirm_redemption(ctx.answer(id, &c)).await.rejects(Rejection::CustomerBlocked, "blocked")?;
    ctx.block(&c, false).await?;
    // Balance spent meanwhile.
    let other = ctx.open(&p, &c, 250, 1_000).await?;
    s.confirm_redemption(ctx.answer(other, &c)).await.or_fail("spend")?;
    s.confirm_redemption(ctx.answer(id, &c))
        .await
        .rejects(Rejection::InsufficientBalance { balance: 50, requested: 100 }, "balance spent")?;
    s.adjust_balance(ctx.adjust_req(&c, 50, "refill")).await.or_fail("refill")?;
    let v = s.confirm_redemption(ctx.answer(id, &c)).await.or_fail("confirm once affordable")?;
    ensure_eq!(v.customer.balance, 0, "balance");

    // Exactly at expires_at it can still be confirmed; after it, it expires.
    let in_time = ctx.open(&p, &stranger, 10, 100).await?;
    let at = AnswerRedemption { now: T0.plus(rules::REDEMPTION_TTL_SECS), ..ctx.answer(in_time, &stranger) };
    s.confirm_redemption(at).await.or_fail("confirm at expires_at")?;
    let late = ctx.open(&p, &stranger, 10, 100).await?;
    let after = AnswerRedemption { now: T0.plus(rules::REDEMPTION_TTL_SECS + 1), ..ctx.answer(late, &stranger) };
    s.confirm_redemption(after.clone()).await.rejects(Rejection::RedemptionExpired, "after expires_at")?;
    s.confirm_redemption(ctx.answer(late, &stranger))
        .await
        .rejects(Rejection::RedemptionClosed { status: RedemptionStatus::Expired }, "confirm an expired request")?;
    ensure_eq!(ctx.balance(stranger.id).await?, 290, "stranger balance");
    Ok(())
}

async fn decline_redemption(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(300).await?;
    let stranger = ctx.customer(0).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let id = ctx.open(&p, &c, 100, 1_000).await?;
    s.decline_redemption(ctx.answer(id, &stranger)).await.rejects(Rejection::NotYourRedemption, "stranger")?;
    s.decline_redemption(ctx.answer(RedemptionId(987_654_321), &c))
        .await
        .rejects(Rejection::UnknownRedemption, "unknown request")?;
    let v = s.decline_redemption(ctx.answer(id, &c)).await.or_fail("decline")?;
    ensure!(!v.replayed, "replayed");
    ensure_eq!(v.request.status, RedemptionStatus::Declined, "status");
    ensure!(v.entry.is_none() && v.request.entry.is_none(), "declining left an entry");
    let again = s.decline_redemption(ctx.answer(id, &c)).await.or_fail("decline again")?;
    ensure!(again.replayed, "second decline is a replay");
    ensure_eq!(again.request, v.request, "replayed request");
    s.confirm_redemption(ctx.answer(id, &c))
        .await
        .rejects(Rejection::RedemptionClosed { status: RedemptionStatus::Declined }, "confirm after decline")?;
    let late = ctx.open(&p, &c, 100, 1_000).await?;
    let after = AnswerRedemption { now: T0.plus(rules::REDEMPTION_TTL_SECS + 1), ..ctx.answer(late, &c) };
    s.decline_redemption(after).await.rejects(Rejection::RedemptionExpired, "decline after expires_at")?;
    s.decline_redemption(ctx.answer(late, &c))
        .await
        .rejects(Rejection::RedemptionClosed { status: RedemptionStatus::Expired }, "decline an expired request")?;
    ensure_eq!(ctx.balance(c.id).await?, 300, "balance");
    Ok(())
}

async fn redemption_status_for_its_partner(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(terms(500, 3_000, 1_000_000)).await?;
    let other = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(100).await?;
    let opened = s.open_redemption(ctx.open_req(&p, &c, 30, 1_000, "view-1")).await.or_fail("open")?;
    let view = |who: &Partner, id: RedemptionId| s.redemption(ViewRedemption { partner: PartnerRef::Id(who.id), id });
    let pending = view(&p, opened.request.id).await.or_fail("view")?.ok_or("the partner sees its request")?;
    ensure_eq!(
        (pending.request.status, pending.replayed, pending.entry.clone()),
        (RedemptionStatus::Pending, false, None),
        "pending"
    );
    ensure_eq!(pending.request, opened.request, "as opened");
    ensure!(view(&other, opened.request.id).await.or_fail("other")?.is_none(), "another partner sees nothing");
    ensure!(view(&p, RedemptionId(999_999)).await.or_fail("unknown")?.is_none(), "no such request");
    let stranger = ViewRedemption { partner: PartnerRef::Telegram(TelegramUserId(1)), id: opened.request.id };
    ensure!(s.redemption(stranger).await.or_fail("stranger")?.is_none(), "not a partner");
    let answer = AnswerRedemption { id: opened.request.id, customer: CustomerRef::Id(c.id), now: T0.plus(30) };
    s.confirm_redemption(answer).await.or_fail("confirm")?;
    let done = view(&p, opened.request.id).await.or_fail("view")?.ok_or("still there")?;
    ensure_eq!((done.request.status, done.customer.balance), (RedemptionStatus::Confirmed, 70), "confirmed");
    ensure!(done.entry.as_ref().is_some_and(|e| e.amount == -30), "with its entry: {done:?}");
    ctx.invariants().await
}

async fn expire_redemptions(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(1_000).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let mut ids = Vec::new();
    for ttl in [100, 200, 300] {
        let req = OpenRedemption { expires_at: T0.plus(ttl), ..ctx.open_req(&p, &c, 10, 100, &format!("exp-{ttl}")) };
        ids.push(s.open_redemption(req).await.or_fail("open")?.request.id);
    }
    let confirmed = ctx.open(&p, &c, 10, 100).await?;
    s.confirm_redemption(ctx.answer(confirmed, &c)).await.or_fail("confirm")?;
    let declined = ctx.open(&p, &c, 10, 100).await?;
    s.decline_redemption(ctx.answer(declined, &c)).await.or_fail("decline")?;

    let none = s.expire_redemptions(T0.plus(100)).await.or_fail("expire at 100")?;
    ensure!(none.is_empty(), "expires_at == now must not expire: {none:?}");
    let first = s.expire_redemptions(T0.plus(201)).await.or_fail("expire at 201")?;
    let mut got: Vec<RedemptionId> = first.iter().map(|r| r.id).collect();
    got.sort();
    ensure_eq!(got, ids[..2].to_vec(), "expired requests");
    ensure!(first.iter().all(|r| r.status == RedemptionStatus::Expired), "returned with status expired");
    ensure!(s.expire_redemptions(T0.plus(201)).await.or_fail("again")?.is_empty(), "expired twice");
    s.confirm_redemption(ctx.answer(ids[0], &c))
        .await
        .rejects(Rejection::RedemptionClosed { status: RedemptionStatus::Expired }, "confirm a swept request")?;
    let v = s.confirm_redemption(ctx.answer(ids[2], &c)).await.or_fail("the third is still pending")?;
    ensure_eq!(v.customer.balance, 980, "balance");
    let later = s.expire_redemptions(T0.plus(100_000)).await.or_fail("much later")?;
    ensure!(later.is_empty(), "answered requests expired: {later:?}");
    Ok(())
}

// ---------------------------------------------------------------------------
// Reversals and adjustments

async fn customer_view(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(100).await?;
    let other = ctx.customer(100).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    ctx.applied_partner(PartnerTerms::default()).await?;
    ctx.credit(&p, &c, 1_000, "view-credit").await?;
    let day = DAY0;
    let quota = |limit| Some(QuotaUse { kind: QuotaKind::Assistant, day, limit });
    let view = |who: CustomerRef, recent, partners, quota| ViewCustomer { who, recent, partners, quota };

    let plain = s.customer_view(view(CustomerRef::Id(c.id), 5, false, None)).await.or_missing("plain")?;
    let summary = ctx.summary(c.id).await?;
    ensure_eq!(plain.customer, summary.customer, "the customer");
    let entries = s.customer_summary(CustomerRef::Id(c.id), 5).await.or_missing("summary")?.recent;
    ensure_eq!(plain.recent, entries, "the newest entries, as customer_summary");
    ensure!(plain.partners.is_empty(), "partners only when asked");
    ensure_eq!(plain.quota, None, "no quota asked for");
    let one = s.customer_view(view(CustomerRef::Code(c.code.clone()), 1, true, None)).await.or_missing("by code")?;
    ensure_eq!(one.recent.len(), 1, "recent is a limit");
    let approved = s.list_partners(Some(PartnerStatus::Approved)).await.or_fail("list")?;
    ensure_eq!(one.partners, approved, "the approved partners, as list_partners");
    ensure!(one.partners.iter().any(|x| x.id == q.id), "every approved partner");

    // The quota: two uses of two, then refused; per customer; none for blocked or unknown customers.
    let tg = CustomerRef::Telegram(c.telegram_id);
    for n in 1..=2 {
        let v = s.customer_view(view(tg.clone(), 0, false, quota(2))).await.or_missing("quota")?;
        ensure_eq!(v.quota, Some(true), "use {n} of 2");
    }
    let v = s.customer_view(view(tg.clone(), 0, false, quota(2))).await.or_missing("quota")?;
    ensure_eq!(v.quota, Some(false), "the third use of two");
    let used = ConsumeQuota::assistant(c.telegram_id, day, 3);
    ensure!(s.consume_quota(used.clone()).await.or_fail("shared")?, "the same counter as consume_quota");
    ensure!(!s.consume_quota(used).await.or_fail("shared")?, "the view's uses were counted");
    let v = s.customer_view(view(CustomerRef::Id(other.id), 0, false, quota(1))).await.or_missing("other")?;
    ensure_eq!(v.quota, Some(true), "another customer's own quota");
    ctx.block(&other, true).await?;
    let v = s.customer_view(view(CustomerRef::Id(other.id), 0, false, quota(5))).await.or_missing("blocked")?;
    ensure_eq!(v.quota, None, "a blocked customer uses no quota");
    ctx.block(&other, false).await?;
    let v = s.customer_view(view(CustomerRef::Id(other.id), 0, false, quota(2))).await.or_missing("unblocked")?;
    ensure_eq!(v.quota, Some(true), "the blocked customer's view used nothing");
    let nobody = CustomerRef::Telegram(TelegramUserId(77_777));
    ensure!(s.customer_view(view(nobody, 5, true, quota(1))).await.or_fail("unknown")?.is_none(), "unknown");
    ensure!(
        s.consume_quota(ConsumeQuota::assistant(TelegramUserId(77_777), day, 1)).await.or_fail("after unknown")?,
        "an unknown customer's view used nothing"
    );
    Ok(())
}

async fn look_up_customer(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(250).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let ask = |partner: PartnerRef, customer: CustomerRef| LookUpCustomer { partner, customer };
    let by_code = ask(PartnerRef::Telegram(p.telegram_id), CustomerRef::Code(c.code.clone()));
    let card = s.look_up_customer(by_code.clone()).await.or_fail("by code")?;
    ensure_eq!(card.customer, c, "the customer");
    ensure_eq!(card.partner, p, "the partner asking");
    let by_id = s.look_up_customer(ask(PartnerRef::Id(p.id), CustomerRef::Id(c.id))).await.or_fail("by id")?;
    ensure_eq!(by_id, card, "by ids");
    ctx.block(&c, true).await?;
    let blocked = s.look_up_customer(by_code.clone()).await.or_fail("blocked")?;
    ensure!(blocked.customer.blocked, "a blocked customer is shown as blocked");
    let unknown = CustomerRef::Code(CustomerCode::parse("ZZZZ9999").ok_or("code")?);
    s.look_up_customer(ask(PartnerRef::Id(p.id), unknown.clone()))
        .await
        .rejects(Rejection::UnknownCustomer, "unknown customer")?;
    // Who asks is checked before whom they ask about.
    s.look_up_customer(ask(PartnerRef::Telegram(TelegramUserId(7)), unknown))
        .await
        .rejects(Rejection::UnknownPartner, "unknown partner")?;
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.look_up_customer(ask(PartnerRef::Id(applied.id), CustomerRef::Id(c.id)))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "applied partner")?;
    ctx.suspend(&p).await?;
    s.look_up_customer(by_code)
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "suspended partner")?;
    Ok(())
}

async fn reverse_entry_applies(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(100).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let accrual = ctx.credit(&p, &c, 2_000, "rv-credit").await?.entry;
    let r = s.reverse_entry(ctx.reverse_req(accrual.id, &p, "rv-1")).await.or_fail("reverse accrual")?;
    ensure!(!r.replayed, "replayed");
    ensure_eq!(r.original, accrual, "original");
    let e = &r.reversal;
    ensure_eq!(e.kind, EntryKind::Reversal, "kind");
    ensure_eq!(e.amount, -100, "amount");
    ensure_eq!(e.customer, c.id, "customer");
    ensure_eq!(e.partner, Some(p.id), "partner");
    ensure_eq!(e.reverses, Some(accrual.id), "reverses");
    ensure_eq!(e.author, Author::Partner(p.id), "author");
    ensure_eq!(e.idempotency_key, "rv-1", "key");
    ensure_eq!(e.created_at, T0.plus(120), "created_at");
    ensure_eq!(r.customer.balance, 100, "balance");
    ensure_eq!(r.partner, p, "the entry's partner");

    let id = ctx.open(&p, &c, 30, 1_000).await?;
    let debit = s.confirm_redemption(ctx.answer(id, &c)).await.or_fail("confirm")?.entry.ok_or("no debit")?;
    let r2 = s.reverse_entry(ctx.reverse_req(debit.id, &p, "rv-2")).await.or_fail("reverse redemption")?;
    ensure_eq!(r2.reversal.amount, 30, "redemption reversal gives the points back");
    ensure_eq!(r2.customer.balance, 100, "balance after redemption reversal");

    // Replays, also after the state changed.
    ctx.suspend(&p).await?;
    let again = s.reverse_entry(ctx.reverse_req(accrual.id, &p, "rv-1")).await.or_fail("replay")?;
    ensure!(again.replayed, "replay flag");
    ensure_eq!(again.reversal, r.reversal, "replayed reversal");
    ensure_eq!(again.partner.id, p.id, "replayed reversal's partner");
    ensure_eq!(again.partner.status, PartnerStatus::Suspended, "the partner as it is now");
    ensure_eq!(again.original, accrual, "replayed original");
    ctx.approve(&p).await?;
    s.reverse_entry(ctx.reverse_req(accrual.id, &p, "rv-3"))
        .await
        .rejects(Rejection::AlreadyReversed, "second reversal with a new key")?;
    s.reverse_entry(ctx.reverse_req(debit.id, &p, "rv-1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "key of another reversal")?;
    s.reverse_entry(ctx.reverse_req(r.reversal.id, &p, "rv-4"))
        .await
        .rejects(Rejection::NotReversible, "reversing a reversal")?;
    ensure_eq!(ctx.balance(c.id).await?, 100, "balance after replays");
    Ok(())
}

async fn reverse_entry_rejections(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(10).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    let accrual = ctx.credit(&p, &c, 2_000, "rr-credit").await?.entry;
    s.reverse_entry(ctx.reverse_req(EntryId(987_654_321), &p, "rr-1"))
        .await
        .rejects(Rejection::UnknownEntry, "unknown entry")?;
    s.reverse_entry(ctx.reverse_req(accrual.id, &q, "rr-2")).await.rejects(Rejection::UnknownEntry, "other partner")?;
    let welcome = ctx.summary(c.id).await?.recent.into_iter().find(|e| e.kind == EntryKind::WelcomeBonus);
    let welcome = welcome.ok_or("no welcome entry")?;
    s.reverse_entry(ctx.reverse_req(welcome.id, &p, "rr-3")).await.rejects(Rejection::UnknownEntry, "welcome")?;
    let unknown =
        ReverseEntry { partner: PartnerRef::Id(PartnerId(987_654_321)), ..ctx.reverse_req(accrual.id, &p, "rr-4") };
    s.reverse_entry(unknown).await.rejects(Rejection::UnknownPartner, "unknown partner")?;
    let window = ReverseEntry { not_before: T0.plus(1), ..ctx.reverse_req(accrual.id, &p, "rr-5") };
    s.reverse_entry(window).await.rejects(Rejection::ReversalWindowClosed, "outside the window")?;
    ctx.suspend(&p).await?;
    s.reverse_entry(ctx.reverse_req(accrual.id, &p, "rr-6"))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "suspended partner")?;
    ctx.approve(&p).await?;
    let id = ctx.open(&p, &c, 100, 1_000).await?;
    s.confirm_redemption(ctx.answer(id, &c)).await.or_fail("spend")?;
    s.reverse_entry(ctx.reverse_req(accrual.id, &p, "rr-7")).await.rejects(
        Rejection::InsufficientBalance { balance: 10, requested: 100 },
        "reversal the customer cannot afford",
    )?;
    // Blocked customers can still be reversed once they can afford it.
    ctx.block(&c, true).await?;
    s.adjust_balance(ctx.adjust_req(&c, 90, "rr-refill")).await.or_fail("refill")?;
    let r = s.reverse_entry(ctx.reverse_req(accrual.id, &p, "rr-7")).await.or_fail("reverse")?;
    ensure!(!r.replayed, "the rejected key was not consumed");
    ensure_eq!(r.customer.balance, 0, "balance");
    Ok(())
}

async fn adjust_balance(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(10).await?;
    let a = s.adjust_balance(ctx.adjust_req(&c, 25, "adj-1")).await.or_fail("credit adjustment")?;
    ensure!(!a.replayed, "replayed");
    let e = &a.entry;
    ensure_eq!(e.kind, EntryKind::Adjustment, "kind");
    ensure_eq!(e.amount, 25, "amount");
    ensure_eq!(e.reason.as_deref(), Some("correction"), "reason");
    ensure_eq!(e.author, Author::Admin(ADMIN), "author");
    ensure_eq!((e.partner, e.purchase, e.reverses), (None, None, None), "optional fields");
    ensure_eq!(e.idempotency_key, "adj-1", "key");
    ensure_eq!(a.customer.balance, 35, "balance");
    let d = s.adjust_balance(ctx.adjust_req(&c, -35, "adj-2")).await.or_fail("debit adjustment")?;
    ensure_eq!(d.customer.balance, 0, "balance after debit");
    s.adjust_balance(ctx.adjust_req(&c, -1, "adj-3"))
        .await
        .rejects(Rejection::InsufficientBalance { balance: 0, requested: 1 }, "below zero")?;
    for amount in [0, rules::MAX_ADJUSTMENT + 1, -rules::MAX_ADJUSTMENT - 1, Points::MIN] {
        s.adjust_balance(ctx.adjust_req(&c, amount, "adj-4"))
            .await
            .rejects(Rejection::InvalidAmount, &format!("amount {amount}"))?;
    }
    let max = s.adjust_balance(ctx.adjust_req(&c, rules::MAX_ADJUSTMENT, "adj-5")).await.or_fail("max")?;
    ensure_eq!(max.customer.balance, rules::MAX_ADJUSTMENT, "balance after the largest adjustment");
    let nobody = AdjustBalance { customer: CustomerRef::Code(ctx.code()), ..ctx.adjust_req(&c, 1, "adj-6") };
    s.adjust_balance(nobody).await.rejects(Rejection::UnknownCustomer, "unknown customer")?;
    // Blocked customers can be adjusted; replays and conflicts.
    ctx.block(&c, true).await?;
    s.adjust_balance(ctx.adjust_req(&c, -rules::MAX_ADJUSTMENT, "adj-7")).await.or_fail("blocked customer")?;
    let again = s.adjust_balance(ctx.adjust_req(&c, 25, "adj-1")).await.or_fail("replay")?;
    ensure!(again.replayed, "replay flag");
    ensure_eq!(again.entry, a.entry, "replayed entry");
    ensure_eq!(again.customer.balance, 0, "replay returns the current balance");
    s.adjust_balance(ctx.adjust_req(&c, 26, "adj-1")).await.rejects(Rejection::IdempotencyConflict, "amount")?;
    let reason = AdjustBalance { reason: "other".into(), ..ctx.adjust_req(&c, 25, "adj-1") };
    s.adjust_balance(reason).await.rejects(Rejection::IdempotencyConflict, "reason")?;
    let other = ctx.customer(0).await?;
    s.adjust_balance(ctx.adjust_req(&other, 25, "adj-1")).await.rejects(Rejection::IdempotencyConflict, "customer")?;
    ensure_eq!(ctx.balance(c.id).await?, 0, "balance");
    Ok(())
}

async fn idempotency_keys_are_global(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(1_000).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let credit = ctx.credit(&p, &c, 1_000, "shared-key").await?;
    s.adjust_balance(ctx.adjust_req(&c, 50, "shared-key")).await.rejects(Rejection::IdempotencyConflict, "adjust")?;
    s.reverse_entry(ctx.reverse_req(credit.entry.id, &p, "shared-key"))
        .await
        .rejects(Rejection::IdempotencyConflict, "reverse")?;
    s.adjust_balance(ctx.adjust_req(&c, 5, "adjust-key")).await.or_fail("adjust")?;
    s.credit_purchase(ctx.credit_req(&p, &c, 1_000, "adjust-key"))
        .await
        .rejects(Rejection::IdempotencyConflict, "credit with an adjustment's key")?;
    // Keys the store derives for its own entries are reserved.
    let welcome = welcome_key(c.id);
    let fresh = ctx.customer(0).await?;
    let id = ctx.open(&p, &c, 10, 100).await?;
    for key in [welcome.clone(), referral_key(fresh.id), redemption_key(id), "welcome:x".into()] {
        s.credit_purchase(ctx.credit_req(&p, &c, 1_000, &key))
            .await
            .rejects(Rejection::IdempotencyConflict, &format!("credit with reserved key {key}"))?;
        s.adjust_balance(ctx.adjust_req(&c, 1, &key))
            .await
            .rejects(Rejection::IdempotencyConflict, &format!("adjust with reserved key {key}"))?;
        s.reverse_entry(ctx.reverse_req(credit.entry.id, &p, &key))
            .await
            .rejects(Rejection::IdempotencyConflict, &format!("reverse with reserved key {key}"))?;
    }
    let v = s.confirm_redemption(ctx.answer(id, &c)).await.or_fail("confirm")?;
    ensure_eq!(v.entry.map(|e| e.idempotency_key), Some(redemption_key(id)), "debit key");
    // Redemption request keys are their own namespace.
    let v = s.open_redemption(ctx.open_req(&p, &c, 10, 100, "shared-key")).await.or_fail("request key")?;
    ensure!(!v.replayed, "request key collided with an entry key");
    Ok(())
}

// ---------------------------------------------------------------------------
// Partners

async fn partner_lifecycle(ctx: &Ctx<'_>) -> CheckResult {
    use PartnerDecision::*;
    use PartnerStatus::*;
    let s = ctx.store;
    let app = ctx.application(terms(700, 2_000, 5_000));
    let a = s.apply_partner(app.clone()).await.or_fail("apply")?;
    ensure!(a.created, "created");
    let p = &a.partner;
    ensure_eq!(p.telegram_id, app.telegram_id, "telegram_id");
    ensure_eq!((&p.name, &p.category), (&app.name, &app.category), "name and category");
    ensure_eq!(p.status, Applied, "status");
    ensure_eq!(p.terms, app.terms, "terms");
    ensure_eq!(p.language, app.language, "language");
    ensure!(!p.has_api_key, "has_api_key");
    ensure_eq!(p.created_at, app.now, "created_at");
    let dup = PartnerApplication { name: "Other".into(), ..app.clone() };
    let dup = s.apply_partner(dup).await.or_fail("apply again while applied")?;
    ensure!(!dup.created, "second application created");
    ensure_eq!(&dup.partner, p, "pending application unchanged");

    let id = p.id;
    let decide = |d| s.decide_partner(DecidePartner { partner: id, decision: d, admin: ADMIN, now: T0 });
    decide(Suspend).await.rejects(Rejection::InvalidTransition, "suspend an applicant")?;
    let r = decide(Reject).await.or_fail("reject")?;
    ensure!(r.changed && r.partner.status == Rejected, "reject: {r:?}");
    let r = decide(Reject).await.or_fail("reject twice")?;
    ensure!(!r.changed && r.partner.status == Rejected, "reject twice: {r:?}");
    decide(Approve).await.rejects(Rejection::InvalidTransition, "approve a rejected partner")?;
    decide(Suspend).await.rejects(Rejection::InvalidTransition, "suspend a rejected partner")?;
    // A rejected applicant may apply again.
    let again =
        PartnerApplication { name: "Renamed".into(), category: "bakery".into(), now: T0.plus(50), ..app.clone() };
    let again = s.apply_partner(again).await.or_fail("re-apply")?;
    ensure!(again.created, "re-application created");
    ensure_eq!(again.partner.id, id, "same partner");
    ensure_eq!(again.partner.status, Applied, "status after re-applying");
    ensure_eq!((again.partner.name.as_str(), again.partner.category.as_str()), ("Renamed", "bakery"), "new name");
    let r = decide(Approve).await.or_fail("approve")?;
    ensure!(r.changed && r.partner.status == Approved, "approve: {r:?}");
    let r = decide(Approve).await.or_fail("approve twice")?;
    ensure!(!r.changed && r.partner.status == Approved, "approve twice: {r:?}");
    decide(Reject).await.rejects(Rejection::InvalidTransition, "reject an approved partner")?;
    s.apply_partner(app.clone()).await.rejects(Rejection::AlreadyPartner, "apply when approved")?;
    let r = decide(Suspend).await.or_fail("suspend")?;
    ensure!(r.changed && r.partner.status == Suspended, "suspend: {r:?}");
    let r = decide(Suspend).await.or_fail("suspend twice")?;
    ensure!(!r.changed && r.partner.status == Suspended, "suspend twice: {r:?}");
    decide(Reject).await.rejects(Rejection::InvalidTransition, "reject a suspended partner")?;
    s.apply_partner(app).await.rejects(Rejection::AlreadyPartner, "apply when suspended")?;
    let r = decide(Approve).await.or_fail("re-approve")?;
    ensure!(r.changed && r.partner.status == Approved, "re-approve: {r:?}");
    s.decide_partner(DecidePartner { partner: PartnerId(987_654_321), decision: Approve, admin: ADMIN, now: T0 })
        .await
        .rejects(Rejection::UnknownPartner, "unknown partner")?;
    let stored = s.partner(PartnerRef::Id(id)).await.or_missing("partner")?;
    ensure_eq!(stored, r.partner, "stored partner");
    Ok(())
}

async fn list_and_lookup_partners(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let a = ctx.partner(PartnerTerms::default()).await?;
    let b = ctx.applied_partner(PartnerTerms::default()).await?;
    let c = ctx.partner(PartnerTerms::default()).await?;
    let d = ctx.applied_partner(PartnerTerms::default()).await?;
    s.decide_partner(DecidePartner { partner: d.id, decision: PartnerDecision::Reject, admin: ADMIN, now: T0 })
        .await
        .or_fail("reject")?;
    let ids = |v: Vec<Partner>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    ensure_eq!(ids(s.list_partners(None).await.or_fail("all")?), vec![a.id, b.id, c.id, d.id], "all partners");
    let approved = ids(s.list_partners(Some(PartnerStatus::Approved)).await.or_fail("approved")?);
    ensure_eq!(approved, vec![a.id, c.id], "approved");
    ensure_eq!(ids(s.list_partners(Some(PartnerStatus::Applied)).await.or_fail("applied")?), vec![b.id], "applied");
    ensure_eq!(ids(s.list_partners(Some(PartnerStatus::Rejected)).await.or_fail("rejected")?), vec![d.id], "rejected");
    ensure!(s.list_partners(Some(PartnerStatus::Suspended)).await.or_fail("suspended")?.is_empty(), "suspended");
    let by_tg = s.partner(PartnerRef::Telegram(c.telegram_id)).await.or_missing("by telegram")?;
    ensure_eq!(by_tg, c, "partner by telegram id");
    let by_id = s.partner(PartnerRef::Id(b.id)).await.or_missing("by id")?;
    ensure_eq!(by_id, b, "partner by id");
    ensure!(s.partner(PartnerRef::Id(PartnerId(987_654_321))).await.or_fail("unknown")?.is_none(), "unknown id");
    ensure!(s.partner(PartnerRef::Telegram(TelegramUserId(7))).await.or_fail("unknown")?.is_none(), "unknown tg");
    Ok(())
}

async fn partner_api_keys(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    let (k1, k2, k3) = (rules::hash_api_key("key-1"), rules::hash_api_key("key-2"), rules::hash_api_key("key-3"));
    ensure!(s.partner_by_api_key(&k1).await.or_fail("lookup")?.is_none(), "key found before it was set");
    let set = s.set_partner_api_key(PartnerRef::Id(p.id), Some(k1.clone())).await.or_fail("set")?;
    ensure!(set.has_api_key, "has_api_key after set");
    s.set_partner_api_key(PartnerRef::Telegram(q.telegram_id), Some(k3.clone())).await.or_fail("set q")?;
    let found = s.partner_by_api_key(&k1).await.or_missing("lookup k1")?;
    ensure_eq!(found.id, p.id, "partner by key");
    ensure!(found.has_api_key, "has_api_key in lookup");
    s.set_partner_api_key(PartnerRef::Id(p.id), Some(k2.clone())).await.or_fail("replace")?;
    ensure!(s.partner_by_api_key(&k1).await.or_fail("old key")?.is_none(), "old key still works");
    ensure_eq!(s.partner_by_api_key(&k2).await.or_missing("new key")?.id, p.id, "new key");
    ensure_eq!(s.partner_by_api_key(&k3).await.or_missing("q key")?.id, q.id, "other partner's key");
    s.set_partner_api_key(PartnerRef::Id(PartnerId(987_654_321)), Some(k1.clone()))
        .await
        .rejects(Rejection::UnknownPartner, "unknown partner")?;
    // Only an approved partner gets a key, and a refusal leaves the old one.
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.set_partner_api_key(PartnerRef::Telegram(applied.telegram_id), Some(k1.clone()))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "an applied partner")?;
    ctx.suspend(&p).await?;
    s.set_partner_api_key(PartnerRef::Id(p.id), Some(k1.clone()))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "suspended")?;
    ensure!(s.partner_by_api_key(&k1).await.or_fail("refused key")?.is_none(), "a refused key was stored");
    ensure_eq!(s.partner_by_api_key(&k2).await.or_missing("kept key")?.id, p.id, "the key before the refusal");
    // Revoked: no key works.
    let revoked = s.set_partner_api_key(PartnerRef::Id(q.id), None).await.or_fail("revoke")?;
    ensure!(!revoked.has_api_key, "has_api_key after revoking");
    ensure!(s.partner_by_api_key(&k3).await.or_fail("revoked key")?.is_none(), "a revoked key still works");
    s.set_partner_api_key(PartnerRef::Id(q.id), Some(k3.clone())).await.or_fail("a new key after revoking")?;
    ensure_eq!(s.partner_by_api_key(&k3).await.or_missing("key again")?.id, q.id, "a key after revoking");
    Ok(())
}

async fn partner_and_program_stats(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let week = DAY0.plus(-6 * 86_400);
    let at = |t: Timestamp| move |req: CreditPurchase| CreditPurchase { now: t, day_start: t.day_start(), ..req };
    let c1 = ctx.customer(1_000).await?;
    let c2 = ctx.customer(1_000).await?;
    let c3 = ctx.customer(1_000).await?;
    let p = ctx.partner(terms(1_000, 3_000, 1_000_000)).await?;
    let q = ctx.partner(terms(1_000, 3_000, 1_000_000)).await?;
    let pending = ctx.applied_partner(PartnerTerms::default()).await?;
    let empty = s.partner_stats(PartnerRef::Id(p.id), DAY0, week).await.or_fail("empty stats")?;
    ensure_eq!(empty.today, PeriodStats::default(), "today's stats of a new partner");
    ensure_eq!(empty.week, PeriodStats::default(), "the week's stats of a new partner");
    ensure_eq!(empty.partner, p, "the partner comes with its figures");
    // A partner that is not approved gets its record (the caller decides what to show).
    let applied = s.partner_stats(PartnerRef::Telegram(pending.telegram_id), DAY0, week).await.or_fail("applied")?;
    ensure_eq!(applied.partner, pending, "an applied partner's record");

    s.credit_purchase(at(DAY0.plus(100))(ctx.credit_req(&p, &c1, 1_000, "st-a1"))).await.or_fail("a1")?;
    s.credit_purchase(at(DAY0.plus(-2 * 86_400))(ctx.credit_req(&p, &c2, 2_000, "st-a2"))).await.or_fail("a2")?;
    s.credit_purchase(at(DAY0.plus(-10 * 86_400))(ctx.credit_req(&p, &c3, 500, "st-a3"))).await.or_fail("a3")?;
    let a4 = s.credit_purchase(at(DAY0.plus(200))(ctx.credit_req(&p, &c1, 3_000, "st-a4"))).await.or_fail("a4")?;
    let rev = ReverseEntry { now: DAY0.plus(300), ..ctx.reverse_req(a4.entry.id, &p, "st-r4") };
    s.reverse_entry(rev).await.or_fail("reverse a4")?;
    let open_at = |t: Timestamp, c: &Customer, points, key: &str| OpenRedemption {
        now: t,
        expires_at: t.plus(600),
        ..ctx.open_req(&p, c, points, 1_000, key)
    };
    let r1 = s.open_redemption(open_at(DAY0.plus(400), &c2, 30, "st-o1")).await.or_fail("open r1")?;
    let ans = AnswerRedemption { now: DAY0.plus(400), ..ctx.answer(r1.request.id, &c2) };
    s.confirm_redemption(ans).await.or_fail("confirm r1")?;
    let r2 = s.open_redemption(open_at(DAY0.plus(-86_400), &c3, 20, "st-o2")).await.or_fail("open r2")?;
    let ans = AnswerRedemption { now: DAY0.plus(-86_400), ..ctx.answer(r2.request.id, &c3) };
    let d2 = s.confirm_redemption(ans).await.or_fail("confirm r2")?.entry.ok_or("no r2 entry")?;
    let rev =
        ReverseEntry { not_before: DAY0.plus(-2 * 86_400), now: DAY0.plus(10), ..ctx.reverse_req(d2.id, &p, "st-r2") };
    s.reverse_entry(rev).await.or_fail("reverse r2")?;
    // Another partner's accrual only shows in the program figures.
    s.credit_purchase(at(DAY0.plus(500))(ctx.credit_req(&q, &c1, 700, "st-q1"))).await.or_fail("q1")?;

    let stats = s.partner_stats(PartnerRef::Telegram(p.telegram_id), DAY0, week).await.or_fail("stats")?;
    let today = PeriodStats { customers: 2, purchases: 1, issued: 100, redeemed: 30 };
    ensure_eq!(stats.today, today, "partner stats today");
    let week_stats = PeriodStats { customers: 3, purchases: 2, issued: 300, redeemed: 30 };
    ensure_eq!(stats.week, week_stats, "partner stats for the week");
    s.partner_stats(PartnerRef::Id(PartnerId(987_654_321)), DAY0, week)
        .await
        .rejects(Rejection::UnknownPartner, "unknown partner")?;

    let program = s.program_stats(DAY0).await.or_fail("program stats")?;
    ensure_eq!(program.customers, 3, "customers");
    ensure_eq!(program.partners_approved, 2, "approved partners");
    ensure_eq!(program.partners_pending, 1, "pending partners");
    let outstanding = 3_000 + 100 + 200 + 50 - 30 + 70;
    ensure_eq!(program.points_outstanding, outstanding, "points outstanding");
    let today = PeriodStats { customers: 2, purchases: 2, issued: 170, redeemed: 30 };
    ensure_eq!(program.today, today, "program today");
    s.decide_partner(DecidePartner { partner: pending.id, decision: PartnerDecision::Reject, admin: ADMIN, now: T0 })
        .await
        .or_fail("reject")?;
    ensure_eq!(s.program_stats(DAY0).await.or_fail("again")?.partners_pending, 0, "pending after reject");
    Ok(())
}

// ---------------------------------------------------------------------------
// Imports

const SOURCE: &str = "legacy";

fn imported_partner(tg: i64, status: PartnerStatus) -> ImportedPartner {
    ImportedPartner {
        telegram_id: TelegramUserId(tg),
        name: format!("Imported {tg}"),
        category: "nail_care".into(),
        status,
        terms: terms(500, 5000, 1_000_000),
        language: Language::Ru,
        created_at: DAY0.plus(-86_400 * 30),
    }
}

fn history(id: &str, partner: Option<i64>, amount: Points, at: Timestamp) -> ImportedEntry {
    ImportedEntry {
        source_id: id.into(),
        partner: partner.map(TelegramUserId),
        amount,
        purchase: partner.map(|_| amount.abs() * 20),
        note: Some(format!("accrual: visit {id}")),
        at,
    }
}

impl Ctx<'_> {
    /// An imported customer (tracked for the invariants once imported).
    fn imported(&self, tg: i64, balance: Points, history: Vec<ImportedEntry>) -> ImportedCustomer {
        ImportedCustomer {
            telegram_id: TelegramUserId(tg),
            code: self.code(),
            first_name: format!("Legacy {tg}"),
            username: None,
            language: Language::En,
            created_at: DAY0.plus(-86_400 * 100),
            balance,
            referrer: None,
            referral_code: Some(format!("R{tg}")),
            birthday: Some("1990-05-17".into()),
            history,
        }
    }

    async fn import(
        &self,
        partners: Vec<ImportedPartner>,
        customers: Vec<ImportedCustomer>,
    ) -> StoreResult<ImportApplied> {
        let tgs: Vec<TelegramUserId> = customers.iter().map(|c| c.telegram_id).collect();
        let batch = ImportBatch { source: SOURCE.into(), partners, customers, now: T0 };
        let applied = self.store.import_batch(batch).await?;
        for tg in tgs {
            if let Ok(Some(c)) = self.store.customer_summary(CustomerRef::Telegram(tg), 0).await {
                self.track(c.customer.id);
            }
        }
        Ok(applied)
    }

    async fn by_telegram(&self, tg: i64) -> Result<CustomerSummary, String> {
        self.store
            .customer_summary(CustomerRef::Telegram(TelegramUserId(tg)), 1000)
            .await
            .or_missing("imported customer")
    }
}

fn balances(pairs: &[(i64, Points)]) -> Vec<ImportedBalance> {
    pairs.iter().map(|&(tg, balance)| ImportedBalance { telegram_id: TelegramUserId(tg), balance }).collect()
}

async fn export_customers(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let page = |after: Option<CustomerId>, limit| ExportCustomers { after, limit };
    for limit in [0, MAX_EXPORT_PAGE + 1] {
        s.export_customers(page(None, limit)).await.rejects(Rejection::InvalidAmount, "a limit out of range")?;
    }
    let p = ctx.partner(PartnerTerms::default()).await?;
    let native = ctx.customer(100).await?;
    let credited = ctx.credit(&p, &native, 1_000, "export-credit").await?.entry;
    let imported = ctx.imported(711, 300, vec![history("71", None, 50, DAY0.plus(-86_400))]);
    ctx.import(vec![], vec![imported]).await.or_fail("import")?;
    let imported = ctx.by_telegram(711).await?.customer;
    let here = ctx.credit(&p, &imported, 2_000, "export-credit-2").await?.entry;

    // Every customer, in id order, page by page.
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let got = s.export_customers(page(after, 1)).await.or_fail("page")?;
        ensure!(got.len() <= 1, "a page is at most `limit` customers");
        let Some(last) = got.last() else { break };
        after = Some(last.customer.id);
        all.extend(got);
    }
    let ids: Vec<CustomerId> = all.iter().map(|h| h.customer.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    ensure_eq!(ids, sorted, "id order, each once");
    let whole = s.export_customers(page(None, MAX_EXPORT_PAGE)).await.or_fail("one page")?;
    ensure_eq!(whole, all, "one page or many");

    let find = |id: CustomerId| all.iter().find(|h| h.customer.id == id).ok_or(format!("customer {id} missing"));
    let n = find(native.id)?;
    ensure_eq!(n.customer, ctx.summary(native.id).await?.customer, "the customer as now");
    let kinds: Vec<(EntryKind, Points)> = n.entries.iter().map(|e| (e.kind, e.amount)).collect();
    ensure_eq!(kinds, vec![(EntryKind::WelcomeBonus, 100), (EntryKind::Accrual, credited.amount)], "oldest first");
    let i = find(imported.id)?;
    ensure_eq!(i.entries, vec![here], "only what happened here: no import, no legacy history");
    ensure_eq!(i.customer.balance, 300 + 100, "the balance counts the import");
    let after_all = s.export_customers(page(Some(CustomerId(i64::MAX)), 10)).await.or_fail("past the end")?;
    ensure!(after_all.is_empty(), "nothing past the last id");
    Ok(())
}

async fn import_creates_customers_partners_and_history(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let day = |d: i64| DAY0.plus(-86_400 * d);
    let ann = ctx.imported(701, 100, vec![history("11", Some(801), 120, day(20)), history("12", None, -20, day(10))]);
    let ann_code = ann.code.clone();
    let bob = ImportedCustomer {
        referrer: Some(TelegramUserId(701)),
        language: Language::Vi,
        ..ctx.imported(702, 0, vec![])
    };
    let cid = ImportedCustomer { referrer: Some(TelegramUserId(799)), ..ctx.imported(703, 40, vec![]) };
    let partners = vec![imported_partner(801, PartnerStatus::Approved), imported_partner(802, PartnerStatus::Applied)];
    let applied = ctx.import(partners, vec![ann, bob, cid]).await.or_fail("import")?;
    let want = ImportApplied {
        partners_created: 2,
        customers_created: 3,
        balances_changed: 0,
        history_created: 2,
        not_imported: vec![],
        refused: vec![],
        balances: balances(&[(701, 100), (702, 0), (703, 40)]),
    };
    ensure_eq!(applied, want, "applied");

    let ann = ctx.by_telegram(701).await?;
    let c = &ann.customer;
    ensure_eq!((c.code.clone(), c.first_name.as_str(), c.language), (ann_code, "Legacy 701", Language::En), "customer");
    ensure_eq!((c.balance, c.created_at, c.referrer, c.blocked), (100, day(100), None, false), "customer state");
    let partner = s.partner(PartnerRef::Telegram(TelegramUserId(801))).await.or_missing("partner 801")?;
    ensure_eq!(
        (partner.status, partner.name.as_str(), partner.created_at),
        (PartnerStatus::Approved, "Imported 801", day(30)),
        "partner"
    );
    let pending = s.partner(PartnerRef::Telegram(TelegramUserId(802))).await.or_missing("partner 802")?;
    ensure_eq!(pending.status, PartnerStatus::Applied, "pending application");
    // Newest first: the opening entry (at the import), then the history by its own time.
    let kinds: Vec<(EntryKind, Points, Option<PartnerId>, String)> =
        ann.recent.iter().map(|e| (e.kind, e.amount, e.partner, e.idempotency_key.clone())).collect();
    let want = vec![
        (EntryKind::Import, 100, None, "import:legacy:701".to_string()),
        (EntryKind::Legacy, -20, None, "import:legacy:tx:12".to_string()),
        (EntryKind::Legacy, 120, Some(partner.id), "import:legacy:tx:11".to_string()),
    ];
    let mut got = kinds.clone();
    got.sort_by_key(|k| std::cmp::Reverse(k.3.clone()));
    ensure_eq!(got.len(), 3, "entries {kinds:?}");
    ensure!(want.iter().all(|w| kinds.contains(w)), "entries: expected {want:?}, got {kinds:?}");
    let opening = ann.recent.iter().find(|e| e.kind == EntryKind::Import).ok_or("no opening entry")?;
    ensure_eq!(
        (opening.author, opening.created_at, opening.reason.clone()),
        (Author::System, T0, None),
        "opening entry"
    );
    let visit = ann.recent.iter().find(|e| e.idempotency_key == "import:legacy:tx:11").ok_or("no history")?;
    ensure_eq!(
        (visit.purchase, visit.reason.as_deref(), visit.created_at),
        (Some(2400), Some("accrual: visit 11"), day(20)),
        "history entry"
    );

    let bob = ctx.by_telegram(702).await?;
    ensure_eq!(
        (bob.customer.referrer, bob.customer.balance, bob.recent.len()),
        (Some(c.id), 0, 0),
        "referred, no opening entry"
    );
    ensure_eq!(ctx.by_telegram(703).await?.customer.referrer, None, "unknown referrer ignored");

    // The other system's `ref_<code>` links still credit the customer who owns the code.
    let friend = NewCustomer { legacy_referrer: Some("R701".into()), referral_bonus: 25, ..ctx.new_customer(0) };
    let friend = ctx.register(friend).await.or_fail("sign up through a legacy link")?;
    ensure_eq!(friend.customer.referrer, Some(c.id), "referrer by the legacy code");
    ensure_eq!(friend.referral.map(|(r, e)| (r.id, e.amount)), Some((c.id, 25)), "referral bonus");
    let stranger = NewCustomer { legacy_referrer: Some("R9999".into()), referral_bonus: 25, ..ctx.new_customer(0) };
    ensure_eq!(ctx.register(stranger).await.or_fail("unknown legacy code")?.customer.referrer, None, "unknown code");

    // Pressing /start again changes nothing: no welcome bonus. A partner's
    // counter link (`partner_<id>`) names the partner when it is approved.
    let via = Some(TelegramUserId(801));
    let again = NewCustomer { telegram_id: TelegramUserId(701), via_partner: via, ..ctx.new_customer(150) };
    let again = ctx.register(again).await.or_fail("start")?;
    ensure!(!again.created && again.welcome.is_none(), "an imported customer signed up again: {again:?}");
    ensure_eq!(again.partner.as_ref(), Some(&partner), "the partner of the link, for a known customer");
    let walk_in = ctx.register(NewCustomer { via_partner: via, ..ctx.new_customer(0) }).await.or_fail("walk-in")?;
    ensure_eq!(walk_in.partner.as_ref(), Some(&partner), "the partner of the link, for a new customer");
    for other in [802, 899] {
        let req = NewCustomer { via_partner: Some(TelegramUserId(other)), ..ctx.new_customer(0) };
        ensure_eq!(
            ctx.register(req).await.or_fail("link")?.partner,
            None,
            "partner {other} is not approved or unknown"
        );
    }
    // Legacy history counts neither in the balance nor in the figures.
    let stats = s.program_stats(DAY0).await.or_fail("program stats")?;
    ensure_eq!(stats.points_outstanding, 165, "points outstanding (with the referral bonus)");
    let partner_stats =
        s.partner_stats(PartnerRef::Id(partner.id), DAY0, DAY0.plus(-6 * 86_400)).await.or_fail("stats")?;
    ensure_eq!(partner_stats.week, PeriodStats::default(), "partner's figures");
    Ok(())
}

async fn import_repeats_nothing_and_brings_changes(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let ann = ctx.imported(711, 100, vec![history("21", None, 100, DAY0.plus(-500))]);
    let cid = ctx.imported(712, 40, vec![]);
    ctx.import(vec![imported_partner(811, PartnerStatus::Approved)], vec![ann.clone(), cid.clone()])
        .await
        .or_fail("first")?;
    // The same batch again (with other fresh codes, as a new run makes): nothing.
    let (ann2, cid2) =
        (ImportedCustomer { code: ctx.code(), ..ann.clone() }, ImportedCustomer { code: ctx.code(), ..cid.clone() });
    let again =
        ctx.import(vec![imported_partner(811, PartnerStatus::Approved)], vec![ann2, cid2]).await.or_fail("again")?;
    ensure_eq!(
        again,
        ImportApplied { balances: balances(&[(711, 100), (712, 40)]), ..ImportApplied::default() },
        "repeat"
    );

    // The other system moved on: Ann up 30 with a new visit, Cid down 30, Dan new.
    let mut ann3 = ImportedCustomer { balance: 130, ..ann.clone() };
    ann3.history.push(history("22", Some(811), 30, DAY0.plus(-100)));
    let cid3 = ImportedCustomer { balance: 10, ..cid.clone() };
    let dan = ctx.imported(713, 5, vec![]);
    let moved = ctx.import(vec![], vec![ann3.clone(), cid3, dan]).await.or_fail("changes")?;
    let want = ImportApplied {
        customers_created: 1,
        balances_changed: 2,
        history_created: 1,
        balances: balances(&[(711, 130), (712, 10), (713, 5)]),
        ..ImportApplied::default()
    };
    ensure_eq!(moved, want, "changes");
    let ann_now = ctx.by_telegram(711).await?;
    let imports: Vec<(Points, String)> = ann_now
        .recent
        .iter()
        .filter(|e| e.kind == EntryKind::Import)
        .map(|e| (e.amount, e.idempotency_key.clone()))
        .collect();
    ensure_eq!(
        imports,
        vec![(30, "import:legacy:711:1".to_string()), (100, "import:legacy:711".to_string())],
        "Ann's import entries"
    );
    let cid_now = ctx.by_telegram(712).await?;
    ensure_eq!(cid_now.recent.first().map(|e| (e.kind, e.amount)), Some((EntryKind::Import, -30)), "Cid's change");

    // Ann spends 120 here; the other system then says 60 (−70): refused, nothing changes.
    let spend = AdjustBalance {
        customer: CustomerRef::Id(ann_now.customer.id),
        ..ctx.adjust_req(&ann_now.customer, -120, "imp-spend")
    };
    s.adjust_balance(spend).await.or_fail("spend")?;
    let down = ImportedCustomer { balance: 60, ..ann3.clone() };
    let refused = ctx.import(vec![], vec![down]).await.or_fail("refused change")?;
    let want = ImportApplied {
        refused: vec![RefusedChange { telegram_id: TelegramUserId(711), change: -70, balance: 10 }],
        balances: balances(&[(711, 10)]),
        ..ImportApplied::default()
    };
    ensure_eq!(refused, want, "a change below zero");
    // The remembered balance stayed 130: the batch of 130 is still nothing new.
    let same = ctx.import(vec![], vec![ann3]).await.or_fail("after refusal")?;
    ensure_eq!(same, ImportApplied { balances: balances(&[(711, 10)]), ..ImportApplied::default() }, "after refusal");
    Ok(())
}

async fn import_leaves_native_customers_alone(ctx: &Ctx<'_>) -> CheckResult {
    let native = ctx
        .register(NewCustomer { telegram_id: TelegramUserId(721), ..ctx.new_customer(50) })
        .await
        .or_fail("sign up")?;
    let twin = ctx.imported(721, 999, vec![history("31", None, 999, DAY0.plus(-5))]);
    let other = ctx.imported(722, 10, vec![]);
    let applied = ctx.import(vec![], vec![twin, other]).await.or_fail("import")?;
    let want = ImportApplied {
        customers_created: 1,
        not_imported: vec![TelegramUserId(721)],
        balances: balances(&[(721, 50), (722, 10)]),
        ..ImportApplied::default()
    };
    ensure_eq!(applied, want, "applied");
    let now = ctx.summary(native.customer.id).await?;
    ensure_eq!((now.customer.clone(), now.recent.len()), (native.customer, 1), "the native customer is untouched");
    Ok(())
}

async fn import_rejections(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let existing = ctx.customer(0).await?;
    let batch = |partners: Vec<ImportedPartner>, customers: Vec<ImportedCustomer>| ImportBatch {
        source: SOURCE.into(),
        partners,
        customers,
        now: T0,
    };
    let bad = [
        ("source", ImportBatch { source: "Legacy!".into(), ..batch(vec![], vec![ctx.imported(731, 1, vec![])]) }),
        ("twice", batch(vec![], vec![ctx.imported(732, 1, vec![]), ctx.imported(732, 2, vec![])])),
        ("partner twice", batch(vec![imported_partner(831, PartnerStatus::Approved); 2], vec![])),
        ("negative", batch(vec![], vec![ctx.imported(733, -1, vec![])])),
        ("too much", batch(vec![], vec![ctx.imported(734, ImportBatch::MAX_POINTS + 1, vec![])])),
        (
            "history twice",
            batch(
                vec![],
                vec![
                    ctx.imported(735, 1, vec![history("41", None, 1, T0)]),
                    ctx.imported(736, 1, vec![history("41", None, 1, T0)]),
                ],
            ),
        ),
        (
            "empty name",
            batch(vec![], vec![ImportedCustomer { first_name: String::new(), ..ctx.imported(737, 1, vec![]) }]),
        ),
    ];
    for (what, b) in bad {
        s.import_batch(b).await.rejects(Rejection::InvalidImport, what)?;
    }
    // A taken code refuses the whole batch: not even the partner lands.
    let taken = ImportedCustomer { code: existing.code.clone(), ..ctx.imported(738, 5, vec![]) };
    s.import_batch(batch(
        vec![imported_partner(832, PartnerStatus::Approved)],
        vec![ctx.imported(739, 5, vec![]), taken],
    ))
    .await
    .rejects(Rejection::CodeTaken, "taken code")?;
    let same = ctx.code();
    let twins = vec![
        ImportedCustomer { code: same.clone(), ..ctx.imported(740, 1, vec![]) },
        ImportedCustomer { code: same, ..ctx.imported(741, 1, vec![]) },
    ];
    s.import_batch(batch(vec![], twins)).await.rejects(Rejection::CodeTaken, "one code twice")?;
    for tg in [731, 732, 733, 738, 739, 740] {
        let found = s.customer_summary(CustomerRef::Telegram(TelegramUserId(tg)), 0).await.or_fail("lookup")?;
        ensure!(found.is_none(), "customer {tg} was created by a refused batch");
    }
    ensure!(
        s.partner(PartnerRef::Telegram(TelegramUserId(832))).await.or_fail("lookup")?.is_none(),
        "partner of a refused batch"
    );
    // Nobody else may use the import keys.
    s.adjust_balance(ctx.adjust_req(&existing, 5, "import:legacy:1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "a caller's import: key")?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Updates, quotas, broadcasts

/// Two bots' ids above 2³² (as Telegram's newer bots have): production's
/// client bot and a staging deployment's, sharing the store.
const PRODUCTION_BOT: BotId = BotId(8_000_000_001);
const STAGING_BOT: BotId = BotId(8_000_000_002);

fn update(bot: BotId, update_id: i64, now: Timestamp) -> UpdateClaim {
    UpdateClaim { bot, update_id, now, body: None, finished: Vec::new() }
}

async fn claim_and_release_updates(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (prod, staging) = (PRODUCTION_BOT, STAGING_BOT);
    ensure!(s.claim_update(update(prod, 7, T0)).await.or_fail("claim")?, "first claim");
    ensure!(!s.claim_update(update(prod, 7, T0.plus(1))).await.or_fail("dup")?, "duplicate claim");
    ensure!(s.claim_update(update(staging, 7, T0)).await.or_fail("other bot")?, "same id, another deployment's bot");
    ensure!(s.claim_update(update(prod, 8, T0)).await.or_fail("other id")?, "other id");
    s.release_update(prod, 7).await.or_fail("release")?;
    ensure!(s.claim_update(update(prod, 7, T0.plus(2))).await.or_fail("reclaim")?, "claim after release");
    ensure!(!s.claim_update(update(staging, 7, T0)).await.or_fail("staging dup")?, "release freed another bot");
    s.release_update(BotId(123), 123).await.or_fail("release unknown")?;
    Ok(())
}

async fn prune_update_claims(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (prod, staging) = (PRODUCTION_BOT, STAGING_BOT);
    ensure_eq!(s.prune_update_claims(T0).await.or_fail("prune nothing")?, 0, "pruned from no claims");
    for (bot, id, at) in [(prod, 1, T0.plus(-100)), (staging, 1, T0.plus(-1)), (prod, 2, T0)] {
        ensure!(s.claim_update(update(bot, id, at)).await.or_fail("claim")?, "claim {bot} {id}");
    }
    ensure_eq!(s.prune_update_claims(T0).await.or_fail("prune")?, 2, "claims taken before the cutoff");
    ensure!(s.claim_update(update(prod, 1, T0)).await.or_fail("reclaim")?, "a pruned claim is claimable again");
    ensure!(s.claim_update(update(staging, 1, T0)).await.or_fail("reclaim")?, "a pruned claim is claimable again");
    ensure!(!s.claim_update(update(prod, 2, T0)).await.or_fail("kept")?, "a claim at the cutoff is kept");
    ensure_eq!(s.prune_update_claims(T0).await.or_fail("prune again")?, 0, "nothing older left");
    // Quota windows that started before the cutoff go; a used-up older window starts afresh.
    let pos = |day: Timestamp| ConsumeQuota { kind: QuotaKind::Pos, user: TelegramUserId(77), day, limit: 1 };
    for day in [T0.plus(-60), T0] {
        ensure!(s.consume_quota(pos(day)).await.or_fail("consume")?, "a first use at {day:?}");
        ensure!(!s.consume_quota(pos(day)).await.or_fail("consume")?, "a second use at {day:?}");
    }
    s.prune_update_claims(T0).await.or_fail("prune the quotas")?;
    ensure!(s.consume_quota(pos(T0.plus(-60))).await.or_fail("consume")?, "an old window, pruned, starts afresh");
    ensure!(!s.consume_quota(pos(T0)).await.or_fail("consume")?, "the window at the cutoff is kept");
    Ok(())
}

async fn consume_quota(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (u, v) = (TelegramUserId(11), TelegramUserId(12));
    for i in 0..3 {
        ensure!(s.consume_quota(ConsumeQuota::assistant(u, DAY0, 3)).await.or_fail("consume")?, "unit {i} refused");
    }
    ensure!(!s.consume_quota(ConsumeQuota::assistant(u, DAY0, 3)).await.or_fail("over")?, "fourth unit granted");
    ensure!(!s.consume_quota(ConsumeQuota::assistant(u, DAY0, 3)).await.or_fail("over")?, "fifth unit granted");
    ensure!(s.consume_quota(ConsumeQuota::assistant(u, DAY0, 4)).await.or_fail("raised")?, "raised limit refused");
    ensure!(s.consume_quota(ConsumeQuota::assistant(v, DAY0, 3)).await.or_fail("other user")?, "other user refused");
    let tomorrow = DAY0.plus(86_400);
    ensure!(s.consume_quota(ConsumeQuota::assistant(u, tomorrow, 3)).await.or_fail("next day")?, "next day refused");
    ensure!(!s.consume_quota(ConsumeQuota::assistant(v, DAY0, 0)).await.or_fail("zero")?, "limit 0 granted");
    Ok(())
}

fn job_state(name: &str, value: &str, now: Timestamp) -> SwapJobState {
    SwapJobState { name: name.into(), value: value.into(), now }
}

async fn job_states_swap(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    ensure_eq!(s.swap_job_state(job_state("webhook:client", "ok 1", T0)).await.or_fail("first")?, None, "first swap");
    let later = T0.plus(60);
    let before = s.swap_job_state(job_state("webhook:client", "alert 2", later)).await.or_fail("second")?;
    ensure_eq!(before, Some(JobState { value: "ok 1".into(), updated_at: T0 }), "second swap sees the first");
    ensure_eq!(s.swap_job_state(job_state("webhook:partner", "", T0)).await.or_fail("other")?, None, "names apart");
    let quoted = r#"{"json": "kept as text", "ünïcode": "✓"}"#;
    s.swap_job_state(job_state("webhook:partner", quoted, later)).await.or_fail("quoted")?;
    let back = s.swap_job_state(job_state("webhook:partner", "x", later)).await.or_fail("back")?;
    ensure_eq!(back, Some(JobState { value: quoted.into(), updated_at: later }), "a value comes back as it went in");
    let long_name = "n".repeat(101);
    let too_long = "v".repeat(MAX_JOB_STATE_BYTES + 1);
    s.swap_job_state(job_state("", "x", later)).await.rejects(Rejection::InvalidAmount, "empty name")?;
    s.swap_job_state(job_state(&long_name, "x", later)).await.rejects(Rejection::InvalidAmount, "long name")?;
    s.swap_job_state(job_state("webhook:client", &too_long, later)).await.rejects(Rejection::InvalidAmount, "long")?;
    let longest = "é".repeat(MAX_JOB_STATE_BYTES / 2);
    s.swap_job_state(job_state(&"ж".repeat(100), &longest, later)).await.or_fail("longest allowed")?;
    let kept = s.swap_job_state(job_state("webhook:client", "ok 3", later)).await.or_fail("after refusals")?;
    ensure_eq!(kept, Some(JobState { value: "alert 2".into(), updated_at: later }), "refusals changed nothing");
    Ok(())
}

async fn concurrent_job_state_swaps(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let swaps = (0..n).map(|i| ctx.store.swap_job_state(job_state("race", &i.to_string(), T0)));
    let results = join_all(swaps).await.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent swaps")?;
    let last = ctx.store.swap_job_state(job_state("race", "end", T0)).await.or_fail("last")?;
    // Every value but one was replaced exactly once, and the first swap saw nothing.
    let mut seen: Vec<String> = results.iter().flatten().chain(&last).map(|s| s.value.clone()).collect();
    seen.sort();
    let mut all: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    all.sort();
    ensure_eq!(results.iter().filter(|r| r.is_none()).count(), 1, "swaps that saw no state");
    ensure_eq!(seen, all, "each value replaced exactly once");
    Ok(())
}

fn message(chat: Option<i64>, payload: &str) -> NewMessage {
    NewMessage { chat, payload: payload.into() }
}

fn enqueue(source: &str, update: Option<UpdateRef>, messages: Vec<NewMessage>, now: Timestamp) -> EnqueueMessages {
    EnqueueMessages {
        source: source.into(),
        updates: update.into_iter().collect(),
        messages,
        now,
        lease_until: now.plus(60),
    }
}

fn take(now: Timestamp, limit: u32) -> TakeMessages {
    TakeMessages { now, lease_until: now.plus(60), limit }
}

fn settle(now: Timestamp, outcomes: Vec<(MessageId, MessageOutcome)>) -> SettleMessages {
    SettleMessages {
        now,
        settled: outcomes.into_iter().map(|(id, outcome)| MessageSettlement { id, outcome }).collect(),
    }
}

/// `(payload, attempts)` of each message, in order.
fn payloads(messages: &[OutboxMessage]) -> Vec<(String, u32)> {
    messages.iter().map(|m| (m.payload.clone(), m.attempts)).collect()
}

async fn outbox_delivers_in_order_once(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let three = vec![message(Some(10), "a"), message(Some(10), "b ✓ \"quoted\""), message(Some(20), "c")];
    let added = s.enqueue_messages(enqueue("update:1:1", None, three.clone(), T0)).await.or_fail("enqueue")?.messages;
    ensure_eq!(payloads(&added), [("a".into(), 1), ("b ✓ \"quoted\"".into(), 1), ("c".into(), 1)], "added, leased");
    ensure!(added.windows(2).all(|w| w[0].id < w[1].id), "ids grow: {added:?}");
    ensure_eq!(added.iter().map(|m| m.chat).collect::<Vec<_>>(), [Some(10), Some(10), Some(20)], "chats");
    let again = s.enqueue_messages(enqueue("update:1:1", None, three, T0.plus(5))).await.or_fail("again")?.messages;
    ensure!(again.is_empty(), "the same source adds nothing again: {again:?}");
    ensure!(s.take_messages(take(T0.plus(59), 10)).await.or_fail("leased")?.is_empty(), "leased to the enqueuer");
    // The lease over: each chat's oldest pending message, oldest first.
    let first = s.take_messages(take(T0.plus(60), 10)).await.or_fail("take")?;
    ensure_eq!(payloads(&first), [("a".into(), 2), ("c".into(), 2)], "one per chat");
    let (a, b, c) = (added[0].id, added[1].id, added[2].id);
    ensure!(s.take_messages(take(T0.plus(61), 10)).await.or_fail("taken")?.is_empty(), "b waits for a");
    let retry_at = T0.plus(300);
    s.settle_messages(settle(
        T0.plus(62),
        vec![(a, MessageOutcome::Sent), (c, MessageOutcome::Retry { at: retry_at })],
    ))
    .await
    .or_fail("settle")?;
    let second = s.take_messages(take(T0.plus(62), 10)).await.or_fail("second take")?;
    ensure_eq!(payloads(&second), [("b ✓ \"quoted\"".into(), 2)], "b after a; c waits for its retry time");
    let blocked = MessageOutcome::Failed { error: "Forbidden: bot was blocked by the user".into() };
    s.settle_messages(settle(T0.plus(63), vec![(b, blocked), (MessageId(999_999), MessageOutcome::Sent)]))
        .await
        .or_fail("settle b")?;
    let state = s.outbox_state(T0.plus(63)).await.or_fail("state")?;
    ensure_eq!(state, OutboxState { pending: 1, oldest: Some(T0), failed: 1 }, "c pending, b failed");
    // A settled message stays settled.
    s.settle_messages(settle(T0.plus(64), vec![(a, MessageOutcome::Retry { at: T0 })])).await.or_fail("resettle")?;
    ensure!(s.take_messages(take(T0.plus(299), 10)).await.or_fail("early")?.is_empty(), "c not before its time");
    let third = s.take_messages(take(retry_at, 10)).await.or_fail("third take")?;
    ensure_eq!(payloads(&third), [("c".into(), 3)], "c at its retry time, a never again");
    s.settle_messages(settle(retry_at, vec![(c, MessageOutcome::Sent)])).await.or_fail("settle c")?;
    // Messages without a chat go out side by side.
    let loose = vec![message(None, "x"), message(None, "y")];
    let t1 = T0.plus(1_000);
    s.enqueue_messages(EnqueueMessages { lease_until: t1, ..enqueue("api:0a", None, loose, t1) })
        .await
        .or_fail("loose")?;
    let both = s.take_messages(take(t1, 1)).await.or_fail("limit")?;
    ensure_eq!(payloads(&both), [("x".into(), 2)], "the limit holds");
    ensure_eq!(payloads(&s.take_messages(take(t1, 5)).await.or_fail("y")?), [("y".into(), 2)], "then the next");
    ensure_eq!(s.outbox_state(t1).await.or_fail("state")?.pending, 2, "x and y pending");
    // Pruning forgets the messages settled before the cut, and their keys.
    s.prune_update_claims(T0.plus(500)).await.or_fail("prune")?;
    let state = s.outbox_state(t1).await.or_fail("state after pruning")?;
    ensure_eq!(state, OutboxState { pending: 2, oldest: Some(t1), failed: 0 }, "settled ones pruned");
    Ok(())
}

async fn outbox_refusals(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let one = || vec![message(Some(1), "m")];
    s.enqueue_messages(enqueue("", None, one(), T0)).await.rejects(Rejection::InvalidAmount, "empty source")?;
    let long = "s".repeat(201);
    s.enqueue_messages(enqueue(&long, None, one(), T0)).await.rejects(Rejection::InvalidAmount, "long source")?;
    let many = (0..=MAX_MESSAGE_BATCH).map(|i| message(Some(i64::from(i)), "m")).collect();
    s.enqueue_messages(enqueue("many", None, many, T0)).await.rejects(Rejection::InvalidAmount, "too many")?;
    let updates = (0..=i64::from(MAX_MESSAGE_BATCH)).map(|update_id| UpdateRef { bot: BotId(1), update_id }).collect();
    let finishing = EnqueueMessages { updates, ..enqueue("finish", None, one(), T0) };
    s.enqueue_messages(finishing).await.rejects(Rejection::InvalidAmount, "too many updates")?;
    let huge = vec![message(Some(1), &"h".repeat(MAX_MESSAGE_BYTES + 1))];
    s.enqueue_messages(enqueue("huge", None, huge, T0)).await.rejects(Rejection::InvalidAmount, "too large")?;
    let largest = vec![message(Some(1), &"é".repeat(MAX_MESSAGE_BYTES / 2))];
    let kept = s.enqueue_messages(enqueue(&"ж".repeat(200), None, largest, T0)).await.or_fail("largest")?.messages;
    ensure_eq!(kept.len(), 1, "the largest payload and longest source are kept");
    ensure_eq!(kept[0].payload.len(), MAX_MESSAGE_BYTES, "whole");
    s.take_messages(take(T0, 0)).await.rejects(Rejection::InvalidAmount, "limit 0")?;
    s.take_messages(take(T0, MAX_MESSAGE_BATCH + 1)).await.rejects(Rejection::InvalidAmount, "limit 101")?;
    let outcomes = (0..=MAX_MESSAGE_BATCH).map(|i| (MessageId(i64::from(i)), MessageOutcome::Sent)).collect();
    s.settle_messages(settle(T0, outcomes)).await.rejects(Rejection::InvalidAmount, "settle too many")?;
    let stale = StaleUpdates { before: T0, now: T0, limit: 0 };
    s.stale_updates(stale).await.rejects(Rejection::InvalidAmount, "stale limit 0")?;
    ensure_eq!(s.outbox_state(T0).await.or_fail("state")?.pending, 1, "refusals added nothing");
    Ok(())
}

async fn unfinished_updates_come_back(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let bot = BotId(7);
    let body = |n: i64| format!(r#"{{"update_id":{n},"message":{{"text":"/start ✓"}}}}"#);
    let claim = |update_id: i64, at: Timestamp, kept: bool| UpdateClaim {
        bot,
        update_id,
        now: at,
        body: kept.then(|| body(update_id)),
        finished: Vec::new(),
    };
    ensure!(s.claim_update(claim(5, T0, true)).await.or_fail("claim 5")?, "claimed 5");
    ensure!(s.claim_update(claim(6, T0.plus(10), true)).await.or_fail("claim 6")?, "claimed 6");
    ensure!(s.claim_update(claim(7, T0, false)).await.or_fail("claim 7")?, "claimed 7, nothing kept");
    ensure!(!s.claim_update(claim(5, T0.plus(1), true)).await.or_fail("claim 5 again")?, "a duplicate");
    let stale = |before: Timestamp, now: Timestamp| StaleUpdates { before, now, limit: 10 };
    let first = s.stale_updates(stale(T0.plus(5), T0.plus(100))).await.or_fail("stale")?;
    ensure_eq!(first, [StaleUpdate { bot, update_id: 5, body: body(5) }], "5, claimed before the cut");
    let second = s.stale_updates(stale(T0.plus(50), T0.plus(100))).await.or_fail("stale again")?;
    ensure_eq!(second, [StaleUpdate { bot, update_id: 6, body: body(6) }], "5 is leased now");
    let done = UpdateRef { bot, update_id: 6 };
    s.enqueue_messages(enqueue("update:7:6", Some(done), vec![], T0.plus(101))).await.or_fail("finish 6")?;
    let third = s.stale_updates(stale(T0.plus(1_000), T0.plus(1_000))).await.or_fail("third")?;
    ensure_eq!(third, [StaleUpdate { bot, update_id: 5, body: body(5) }], "6 finished, 7 kept nothing");
    // Several updates that sent nothing, finished in one call.
    ensure!(s.claim_update(claim(8, T0.plus(20), true)).await.or_fail("claim 8")?, "claimed 8");
    ensure!(s.claim_update(claim(9, T0.plus(20), true)).await.or_fail("claim 9")?, "claimed 9");
    let both = vec![UpdateRef { bot, update_id: 8 }, UpdateRef { bot, update_id: 9 }];
    let finish = EnqueueMessages { updates: both, ..enqueue("finished:8-9", None, vec![], T0.plus(1_001)) };
    ensure!(s.enqueue_messages(finish).await.or_fail("finish 8 and 9")?.messages.is_empty(), "no messages");
    let fourth = s.stale_updates(stale(T0.plus(1_000), T0.plus(1_002))).await.or_fail("fourth")?;
    ensure!(fourth.iter().all(|u| u.update_id == 5), "8 and 9 finished: {fourth:?}");
    s.release_update(bot, 5).await.or_fail("release")?;
    ensure!(s.stale_updates(stale(T0.plus(5_000), T0.plus(5_000))).await.or_fail("last")?.is_empty(), "all gone");
    ensure!(s.claim_update(claim(5, T0.plus(6_000), true)).await.or_fail("reclaim")?, "released, claimed anew");
    s.prune_update_claims(T0.plus(7_000)).await.or_fail("prune")?;
    ensure!(s.stale_updates(stale(T0.plus(8_000), T0.plus(8_000))).await.or_fail("pruned")?.is_empty(), "pruned");
    Ok(())
}

/// A claim finishes the earlier updates it carries ([`UpdateClaim::finished`])
/// whether it is taken or found a duplicate; finishing one twice, or one never
/// claimed, changes nothing.
async fn carried_finishes(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let bot = BotId(9);
    let body = |n: i64| format!(r#"{{"update_id":{n},"message":{{"text":"/balance"}}}}"#);
    let done = |update_id: i64| UpdateRef { bot, update_id };
    let claim = |update_id: i64, finished: Vec<UpdateRef>| UpdateClaim {
        bot,
        update_id,
        now: T0,
        body: Some(body(update_id)),
        finished,
    };
    for n in 1..=3 {
        ensure!(s.claim_update(claim(n, Vec::new())).await.or_fail("claim")?, "claimed {n}");
    }
    // The next claim finishes 1 (and 1 again, and one never claimed).
    ensure!(s.claim_update(claim(4, vec![done(1), done(1), done(99)])).await.or_fail("claim 4")?, "claimed 4");
    // A duplicate claim still finishes what it carries.
    ensure!(!s.claim_update(claim(4, vec![done(2)])).await.or_fail("claim 4 again")?, "4 is a duplicate");
    let stale = StaleUpdates { before: T0.plus(1), now: T0.plus(1_000), limit: 10 };
    let mut left: Vec<i64> = s.stale_updates(stale).await.or_fail("stale")?.iter().map(|u| u.update_id).collect();
    left.sort_unstable();
    ensure_eq!(left, [3, 4], "1 and 2 finished, 3 and 4 not");
    Ok(())
}

async fn concurrent_outbox_takes(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let messages = (0..n).map(|i| message(Some(1_000 + i as i64), &format!("m{i}"))).collect();
    let req = EnqueueMessages { lease_until: T0, ..enqueue("burst", None, messages, T0) };
    let added = ctx.store.enqueue_messages(req).await.or_fail("enqueue")?.messages;
    ensure_eq!(added.len(), n, "all added");
    let takes = (0..n).map(|_| ctx.store.take_messages(take(T0.plus(1), 3)));
    let taken = join_all(takes).await.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent takes")?;
    let mut ids: Vec<MessageId> = taken.iter().flatten().map(|m| m.id).collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    ensure_eq!(ids.len(), count, "no message handed out twice");
    ensure_eq!(count, n, "every message handed out");
    Ok(())
}

fn broadcast(audience: Audience, key: &str) -> NewBroadcast {
    NewBroadcast { audience, text: "Hello!".into(), admin_chat: 42, idempotency_key: key.into(), now: T0 }
}

async fn broadcast_to_customers(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let mut customers = Vec::new();
    for _ in 0..7 {
        customers.push(ctx.customer(0).await?);
    }
    ctx.block(&customers[2], true).await?;
    ctx.partner(PartnerTerms::default()).await?;
    let job = s.create_broadcast(broadcast(Audience::Customers, "b-1")).await.or_fail("create")?;
    ensure_eq!(job.total, 6, "total: unblocked customers");
    ensure_eq!((job.sent, job.failed, job.done), (0, 0, false), "fresh counters");
    ensure_eq!((job.audience, job.text.as_str(), job.admin_chat), (Audience::Customers, "Hello!", 42), "fields");
    ensure_eq!(job.created_at, T0, "created_at");
    let again = s.create_broadcast(broadcast(Audience::Customers, "b-1")).await.or_fail("replay")?;
    ensure_eq!(again, job, "replayed job");
    let conflict = NewBroadcast { text: "Other".into(), ..broadcast(Audience::Customers, "b-1") };
    s.create_broadcast(conflict).await.rejects(Rejection::IdempotencyConflict, "same key, other text")?;
    let pending = s.pending_broadcasts().await.or_fail("pending")?;
    ensure_eq!(pending.iter().map(|j| j.id).collect::<Vec<_>>(), vec![job.id], "pending jobs");

    let expected: Vec<TelegramUserId> =
        customers.iter().filter(|c| c.id != customers[2].id).map(|c| c.telegram_id).collect();
    let mut got = Vec::new();
    let mut cursor = job.cursor;
    for round in 0..10 {
        let batch = s.claim_broadcast_batch(job.id, 4).await.or_fail("claim")?;
        ensure!(batch.recipients.len() <= 4, "batch larger than the limit");
        ensure!(batch.job.cursor >= cursor, "cursor went back");
        cursor = batch.job.cursor;
        ensure!(batch.recipients.iter().all(|r| r.language == Language::Vi), "recipient language");
        got.extend(batch.recipients.iter().map(|r| r.chat_id));
        if batch.job.done {
            break;
        }
        ensure!(round < 3, "job not done after all recipients were claimed");
        ensure!(!batch.recipients.is_empty(), "empty batch of a job that is not done");
    }
    ensure_eq!(got, expected, "recipients in order, each once");
    let after = s.claim_broadcast_batch(job.id, 4).await.or_fail("claim after done")?;
    ensure!(after.recipients.is_empty() && after.job.done, "claim after done: {after:?}");
    let rec = s.record_broadcast(job.id, 5, 1).await.or_fail("record")?;
    let rec2 = s.record_broadcast(job.id, 0, 0).await.or_fail("record zero")?;
    ensure_eq!((rec.sent, rec.failed), (5, 1), "counters");
    ensure_eq!(rec2, rec, "recording nothing");
    ensure!(s.pending_broadcasts().await.or_fail("pending")?.is_empty(), "done job still pending");
    let empty_batch = s.create_broadcast(broadcast(Audience::Customers, "b-2")).await.or_fail("second job")?;
    ensure!(empty_batch.id != job.id, "a new key creates a new job");
    let zero = s.claim_broadcast_batch(empty_batch.id, 0).await.or_fail("limit 0")?;
    ensure!(zero.recipients.is_empty(), "limit 0 returned recipients");
    ensure!(s.claim_broadcast_batch(BroadcastId(987_654_321), 5).await.is_err(), "unknown job claimed");
    Ok(())
}

async fn broadcast_to_partners(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    ctx.customer(0).await?;
    let a = ctx.partner(PartnerTerms::default()).await?;
    ctx.applied_partner(PartnerTerms::default()).await?;
    let b = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.partner(PartnerTerms::default()).await?;
    ctx.suspend(&c).await?;
    let job = s.create_broadcast(broadcast(Audience::Partners, "bp-1")).await.or_fail("create")?;
    ensure_eq!(job.total, 2, "total: approved partners");
    let batch = s.claim_broadcast_batch(job.id, 10).await.or_fail("claim")?;
    let expected = vec![
        Recipient { chat_id: a.telegram_id, language: a.language },
        Recipient { chat_id: b.telegram_id, language: b.language },
    ];
    ensure_eq!(batch.recipients, expected, "recipients");
    ensure!(batch.job.done, "done after the last recipient");
    Ok(())
}

// ---------------------------------------------------------------------------
// Concurrency

fn count_ok<T>(results: &[StoreResult<T>]) -> usize {
    results.iter().filter(|r| r.is_ok()).count()
}

async fn concurrent_confirmations_against_one_balance(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let k = (n / 3).max(1);
    let points = 100;
    let c = ctx.customer(points * k as Points + points / 2).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(ctx.open(&p, &c, points, points * 10).await?);
    }
    let results = join_all(ids.iter().map(|id| ctx.store.confirm_redemption(ctx.answer(*id, &c)))).await;
    ensure_eq!(count_ok(&results), k, "confirmations that succeeded");
    for r in &results {
        match r {
            Ok(v) => ensure!(!v.replayed, "a first confirmation flagged as replay"),
            Err(StoreError::Rejected(Rejection::InsufficientBalance { .. })) => {}
            Err(e) => return Err(format!("unexpected error {e:?}")),
        }
    }
    ensure_eq!(ctx.balance(c.id).await?, points / 2, "balance");
    Ok(())
}

async fn concurrent_same_key(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let n = ctx.params.n();
    let c = ctx.customer(1_000).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;

    let credits = join_all((0..n).map(|_| s.credit_purchase(ctx.credit_req(&p, &c, 2_000, "cc-credit")))).await;
    let credits = credits.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent credits")?;
    ensure_eq!(credits.iter().filter(|r| !r.replayed).count(), 1, "credits applied");
    ensure!(credits.iter().all(|r| r.entry == credits[0].entry), "different entries for one key");

    let adjusts = join_all((0..n).map(|_| s.adjust_balance(ctx.adjust_req(&c, -7, "cc-adjust")))).await;
    let adjusts = adjusts.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent adjustments")?;
    ensure_eq!(adjusts.iter().filter(|r| !r.replayed).count(), 1, "adjustments applied");
    ensure!(adjusts.iter().all(|r| r.entry == adjusts[0].entry), "different entries for one key");

    let entry = credits[0].entry.id;
    let reversals = join_all((0..n).map(|_| s.reverse_entry(ctx.reverse_req(entry, &p, "cc-reverse")))).await;
    let reversals = reversals.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent reversals")?;
    ensure_eq!(reversals.iter().filter(|r| !r.replayed).count(), 1, "reversals applied");
    ensure!(reversals.iter().all(|r| r.reversal == reversals[0].reversal), "different reversals for one key");

    let opens = join_all((0..n).map(|_| s.open_redemption(ctx.open_req(&p, &c, 10, 100, "cc-open")))).await;
    let opens = opens.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent opens")?;
    ensure_eq!(opens.iter().filter(|r| !r.replayed).count(), 1, "requests opened");
    ensure!(opens.iter().all(|r| r.request.id == opens[0].request.id), "different requests for one key");

    let jobs = join_all((0..n).map(|_| s.create_broadcast(broadcast(Audience::Customers, "cc-job")))).await;
    let jobs = jobs.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent broadcasts")?;
    ensure!(jobs.iter().all(|j| j.id == jobs[0].id), "different jobs for one key");
    ensure_eq!(s.pending_broadcasts().await.or_fail("pending")?.len(), 1, "jobs created");

    ensure_eq!(ctx.balance(c.id).await?, 1_000 - 7, "balance");
    Ok(())
}

async fn concurrent_double_confirm(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let c = ctx.customer(500).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let id = ctx.open(&p, &c, 200, 1_000).await?;
    let results = join_all((0..n).map(|_| ctx.store.confirm_redemption(ctx.answer(id, &c)))).await;
    let results = results.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent confirmations")?;
    ensure_eq!(results.iter().filter(|r| !r.replayed).count(), 1, "confirmations applied");
    ensure!(results.iter().all(|r| r.entry.is_some() && r.entry == results[0].entry), "different debits");
    ensure_eq!(ctx.balance(c.id).await?, 300, "balance after one debit");
    Ok(())
}

async fn concurrent_credits_near_daily_limit(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let fits = n / 2;
    // Several customers, so that nothing but the partner's limit can serialize
    // the credits (one customer's row lock would hide a missing partner lock).
    let mut customers = Vec::new();
    for _ in 0..n.clamp(1, 8) {
        customers.push(ctx.customer(0).await?);
    }
    let p = ctx.partner(terms(10_000, 3_000, 10 * fits as Points)).await?;
    let keys: Vec<String> = (0..n).map(|i| format!("near-limit-{i}")).collect();
    let results = join_all(
        keys.iter()
            .enumerate()
            .map(|(i, k)| ctx.store.credit_purchase(ctx.credit_req(&p, &customers[i % customers.len()], 10, k))),
    )
    .await;
    ensure_eq!(count_ok(&results), fits, "credits within the limit");
    for r in &results {
        if let Err(e) = r {
            ensure!(
                matches!(e, StoreError::Rejected(Rejection::DailyLimitExceeded { remaining: 0 })),
                "unexpected error {e:?}"
            );
        }
    }
    let mut total = 0;
    for c in &customers {
        total += ctx.balance(c.id).await?;
    }
    ensure_eq!(total, 10 * fits as Points, "points credited in all");
    Ok(())
}

async fn concurrent_claim_update(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let results = join_all((0..n).map(|_| ctx.store.claim_update(update(STAGING_BOT, 99, T0)))).await;
    let results = results.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent claims")?;
    ensure_eq!(results.iter().filter(|b| **b).count(), 1, "claims granted");
    Ok(())
}

async fn concurrent_reversals(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let c = ctx.customer(0).await?;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let e = ctx.credit(&p, &c, 10_000, "cr-credit").await?.entry;
    let keys: Vec<String> = (0..n).map(|i| format!("cr-{i}")).collect();
    let results = join_all(keys.iter().map(|k| ctx.store.reverse_entry(ctx.reverse_req(e.id, &p, k)))).await;
    ensure_eq!(count_ok(&results), 1, "reversals applied");
    for r in &results {
        if let Err(e) = r {
            ensure!(matches!(e, StoreError::Rejected(Rejection::AlreadyReversed)), "unexpected error {e:?}");
        }
    }
    ensure_eq!(ctx.balance(c.id).await?, 0, "balance");
    Ok(())
}

async fn concurrent_registration(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let referrer = ctx.customer(0).await?;
    let base = NewCustomer { referrer: Some(referrer.code.clone()), referral_bonus: 30, ..ctx.new_customer(100) };
    let reqs: Vec<NewCustomer> = (0..n).map(|_| NewCustomer { code: ctx.code(), ..base.clone() }).collect();
    let results = join_all(reqs.into_iter().map(|r| ctx.register(r))).await;
    let results = results.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent sign-ups")?;
    ensure_eq!(results.iter().filter(|r| r.created).count(), 1, "customers created");
    ensure!(results.iter().all(|r| r.customer.id == results[0].customer.id), "different customers");
    ensure_eq!(ctx.balance(results[0].customer.id).await?, 100, "welcome bonus once");
    ensure_eq!(ctx.balance(referrer.id).await?, 30, "referral bonus once");
    Ok(())
}

async fn concurrent_quota(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let limit = (n / 2) as u32;
    let user = TelegramUserId(77);
    let results = join_all((0..n).map(|_| ctx.store.consume_quota(ConsumeQuota::assistant(user, DAY0, limit)))).await;
    let results = results.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent quota")?;
    ensure_eq!(results.iter().filter(|b| **b).count(), limit as usize, "units granted");
    Ok(())
}

async fn concurrent_broadcast_claims(ctx: &Ctx<'_>) -> CheckResult {
    let n = ctx.params.n();
    let mut expected = Vec::new();
    for _ in 0..n {
        expected.push(ctx.customer(0).await?.telegram_id);
    }
    let job = ctx.store.create_broadcast(broadcast(Audience::Customers, "cb-1")).await.or_fail("create")?;
    ensure_eq!(job.total as usize, n, "total");
    let claims = n / 3 + 2;
    let results = join_all((0..claims).map(|_| ctx.store.claim_broadcast_batch(job.id, 3))).await;
    let results = results.into_iter().collect::<StoreResult<Vec<_>>>().or_fail("concurrent claims")?;
    let mut got: Vec<TelegramUserId> = results.iter().flat_map(|b| b.recipients.iter().map(|r| r.chat_id)).collect();
    got.sort();
    expected.sort();
    ensure_eq!(got, expected, "every recipient claimed exactly once");
    let pending = ctx.store.pending_broadcasts().await.or_fail("pending")?;
    ensure!(pending.is_empty(), "job not done after all recipients were claimed: {pending:?}");
    Ok(())
}
