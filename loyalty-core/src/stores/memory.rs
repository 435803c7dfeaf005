//! [`MemoryStore`]: the reference implementation of the [`Storage`] port,
//! holding everything in memory behind one lock.
//!
//! It serves tests, examples and single-process demos, and it is the model the
//! other backends (Postgres, PostgREST, D1) copy: the storage conformance suite
//! (`loyalty_testkit::conformance`) checks every backend against the semantics written
//! down here.

use crate::domain::*;
use crate::ports::import::{import_change_key, import_history_key, import_key};
use crate::ports::*;
use crate::program::campaigns::{
    Award, Birthday, Campaign, CampaignKind, CampaignStatus, CampaignTerms, PartnerCampaigns, Visit,
};
use crate::program::lots::{Lot, Lots};
use crate::program::rewards::{MAX_REWARDS_LISTED, MAX_VOUCHERS_LISTED};
use crate::program::rewards::{Reward, RewardModeration, RewardStatus, Voucher, VoucherStatus};
use crate::program::stamps::check_card;
use crate::program::{DAY_SECS, ProgramRules, RulesVersion, TierState, next_tier};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

/// The in-memory [`Storage`] backend.
///
/// All state sits in one [`std::sync::Mutex`] that every method locks exactly
/// once, so each call is atomic and calls are serialised. No lock is held
/// across an `.await` (the methods never await). The store is `Send + Sync` on
/// native targets and compiles on `wasm32-unknown-unknown`. A poisoned lock
/// (a panic in another thread while it held the lock) turns every later call
/// into [`StoreError::Backend`].
///
/// # Semantics (the contract every backend follows)
///
/// **Order of checks.** Where a method takes an idempotency key, the key is
/// looked up *first*: a known key with the same parameters is a replay that
/// returns the first result with `replayed = true` even if the state changed
/// since (partner suspended, customer blocked, balance spent); a known key with
/// different parameters is [`Rejection::IdempotencyConflict`]. Only then are
/// the rules checked, in the order listed per method below. A rejection never
/// changes anything, with one exception: answering a pending redemption request
/// after its `expires_at` marks it expired (and returns
/// [`Rejection::RedemptionExpired`]).
///
/// **Ledger.** Entries are append-only with increasing ids assigned by the
/// store; a customer's `balance` is always the sum of their entries and never
/// negative. Every entry has an idempotency key, unique over *all* entries.
/// System entries use derived keys ([`welcome_key`], [`referral_key`],
/// [`redemption_key`]); a caller-supplied key with one of those reserved
/// prefixes ([`is_reserved_key`]) is [`Rejection::IdempotencyConflict`]. The
/// keys of redemption requests and of broadcasts are separate namespaces (they
/// identify requests and jobs, not entries).
///
/// **Replayed results.** A replay returns the first call's entry (or request,
/// or job) together with the customer and partner *as they are now*; a replayed
/// [`Storage::open_redemption`] returns the request in its current status
/// (with its debit entry if it has been confirmed since).
///
/// **Parameters compared on replay.** `credit_purchase`: partner, customer,
/// purchase. `reverse_entry`: partner and reversed entry. `adjust_balance`:
/// customer, amount, reason, admin. `open_redemption`: partner, customer,
/// points, purchase (not the times). `create_broadcast`: audience, text, admin
/// chat. `add_webhook` (keys per owner): URL, and the events as a set (not the
/// secret or the time). References are compared after resolution (a customer by code equals
/// the same customer by id).
///
/// **Per method:**
///
/// - `register_customer`: bonuses must be in `0..=`[`rules::MAX_ADJUSTMENT`]
///   (else `InvalidAmount`). A known Telegram id returns the customer unchanged
///   (`created = false`, no entries). Otherwise the code must be free
///   (`CodeTaken`); the customer is inserted; a welcome entry is credited when
///   `welcome_bonus > 0`. The referrer code counts when it belongs to another,
///   unblocked customer: then `customer.referrer` is set and, when
///   `referral_bonus > 0`, the referrer gets a referral entry. Any other
///   referrer code is ignored silently.
/// - `credit_purchase`: purchase in `1..=`[`rules::MAX_PURCHASE`]
///   (`InvalidAmount`); partner exists (`UnknownPartner`) and is approved
///   (`PartnerNotApproved`); customer exists (`UnknownCustomer`) and is not
///   blocked (`CustomerBlocked`); amount = [`rules::accrual`] (may be 0); the
///   partner's accruals created at or after `day_start` that are not reversed,
///   plus this amount, must not exceed `daily_credit_limit`
///   (`DailyLimitExceeded { remaining }`, `remaining` never negative).
/// - `open_redemption`: `points ≥ 1` and purchase in range (`InvalidAmount`);
///   partner exists and is approved; customer exists and is not blocked;
///   `points ≤` [`rules::max_redeemable`] (`ExceedsMaxShare { max }`);
///   `points ≤ balance` (`InsufficientBalance`). Creates a pending request.
/// - `confirm_redemption` / `decline_redemption`: unknown request
///   (`UnknownRedemption`); unknown customer (`UnknownCustomer`); another
///   customer's request (`NotYourRedemption`). Confirming a confirmed request
///   (or declining a declined one) is a replay; any other closed status is
///   `RedemptionClosed { status }`. A pending request answered when
///   `now > expires_at` becomes expired (`RedemptionExpired`). Confirming then
///   checks partner approved, customer not blocked and `points ≤ balance`
///   (the request stays pending when one fails), and debits `-points` with key
///   [`redemption_key`], author the customer. Declining needs no such checks.
/// - `expire_redemptions`: every pending request with `expires_at < now`.
/// - `reverse_entry`: partner exists and is approved; the entry exists and has
///   this partner (`UnknownEntry`); it is an accrual or redemption
///   (`NotReversible`); `created_at ≥ not_before` (`ReversalWindowClosed`); not
///   reversed yet (`AlreadyReversed`); the customer can afford the reversal
///   (`InsufficientBalance`). The reversal has the opposite amount, `reverses`
///   and `partner` set, author the partner. Blocked customers may be reversed.
///   The outcome carries the entry's partner.
/// - `look_up_customer`: partner exists (`UnknownPartner`) and is approved
///   (`PartnerNotApproved`); customer exists (`UnknownCustomer`; blocked ones
///   are returned). Nothing changes.
/// - `set_partner_api_key`: partner exists and is approved.
/// - `adjust_balance`: amount non-zero with `|amount| ≤`
///   [`rules::MAX_ADJUSTMENT`]; customer exists (blocked ones too); balance
///   stays `≥ 0`. Entry kind adjustment, author the admin, reason kept; audited.
/// - `set_blocked`, `decide_partner`: audited when they change something.
///   `decide_partner`: approve from applied or suspended, reject from applied,
///   suspend from approved; already in the target status gives
///   `changed = false`; anything else `InvalidTransition`.
/// - `apply_partner`: a new Telegram id creates an applied partner; an
///   application that is still `applied` is returned unchanged
///   (`created = false`); a `rejected` partner applies again (status `applied`,
///   new name, category, terms, language and `created_at`, `created = true`);
///   an approved or suspended partner gets `AlreadyPartner`. Name and category
///   lengths are the caller's to check.
/// - `list_partners`: ordered by `created_at`, then id.
/// - `partner_stats`: partner exists (any status, returned with the figures).
/// - `partner_stats` / `program_stats`: a period is `created_at ≥ since` of
///   the *original* entry. `customers` counts distinct customers with an
///   accrual or redemption in the period (reversed or not); `purchases` and
///   `issued` count accruals in the period that are not reversed; `redeemed`
///   sums redemptions in the period that are not reversed (a positive number).
/// - `daily_figures`: `days` in `1..=`[`MAX_FIGURE_DAYS`] (`InvalidAmount`),
///   then a partner's scope must name a partner by its owner's reference, any
///   status (`UnknownPartner`). Day `i` holds `issued` and `redeemed` as
///   `partner_stats` counts them, over the entries created in `[from + i
///   days, from + i + 1 days)`: the partner's, or every entry for the
///   program's scope (only accruals and redemptions count, and they always
///   have a partner). A reversed entry counts on no day, whenever it was
///   reversed, and the reversal itself on none either.
/// - `redemption`: the partner by its owner's reference or at the till (the
///   owner's account or an active cashier); `None` otherwise.
/// - `customer_redemptions`: the customer must exist (`UnknownCustomer`); a
///   blocked one has none. The customer's pending requests with `now ≤
///   expires_at`, newest first by `created_at` then id, the first
///   [`MAX_CUSTOMER_REDEMPTIONS`].
/// - `consume_quota`: one counter per kind, user and day; `true` and +1 while
///   the counter is below `limit`.
/// - `export_customers`: `limit` in `1..=`[`MAX_EXPORT_PAGE`]
///   (`InvalidAmount`); customers with id greater than `after`, in id order,
///   each with their entries of every kind but import and legacy, oldest first.
/// - **Lots** (the rule of [`program`](crate::program)'s expiry): every
///   counted entry with a positive amount makes a lot of that many points,
///   expiring at `created_at` + the days of the rules in force (the
///   partner's own period for an entry with a partner listed in
///   `expiry.partners`, else `expiry.days`; none: never) — except a reversal
///   of a redemption, which gives back to each lot what the redemption took
///   (a redemption that took from no lot, older than the lots, makes a lot as
///   above). Every counted entry with a negative amount takes its points from
///   the customer's lots with points left, in the order: the lot of the
///   entry it reverses first, then the soonest expiry date (lots that never
///   expire last), then the oldest lot. The points left in a customer's lots
///   always sum to the balance. Every entry records the current rules version.
/// - **Tiers**: every accrual and reversal recomputes the customer's tier at
///   its `created_at` with [`next_tier`] over the
///   qualifying points (accruals not reversed created after `created_at −
///   window_days`), kept with the time of the recompute and the points.
///   `credit_purchase` earns [`rules::earned`] with the multiplier of the
///   tier held before the credit; it and `reverse_entry` answer that tier as
///   `tier_before` (a replay: the tier now).
/// - `refresh_tiers`: `limit` as for `expire_points`; the customers with a
///   tier or below theirs since some time, last recomputed at or before
///   `now − 1 day`, in id order: recomputed at `now`; `checked` counts them,
///   `changed` lists those whose tier changed.
/// - `set_program_rules`: the document must pass `check` (`InvalidRules`);
///   the new version is the current + 1, with `admin` and `created_at = now`.
/// - `expire_points`: `limit` in `1..=`[`MAX_EXPIRY_BATCH`] (`InvalidAmount`);
///   the customers, in id order, with points left in lots expiring at or
///   before `now`: one entry each, kind expiry, author system, amount minus
///   those points, key `expiry:<customer id>:<now>` (the lots order puts
///   exactly those points first). Blocked customers' points expire too.
/// - `remind_expiry`: `limit` as above; reminders off (`remind_days_before`
///   0) gives nothing. Else the unblocked customers, in id order, with
///   unannounced points left in lots expiring in `(now, now + remind days]`:
///   the sum and the soonest date; those lots become announced.
/// - `program_stats`: `expiring_30_days` / `expiring_90_days` sum the points
///   left in lots expiring before `today` + 30 / 90 days (saturating);
///   `customers_by_tier` counts customers per tier above 0; `rules_version`
///   is the version in force.
/// - `customer_summary`: `expiring` sums the points left by expiry date over
///   the customer's lots, soonest first, [`EXPIRING_DATES`](crate::program::EXPIRING_DATES) dates at most.
/// - `customer_view`: `customer_summary`, plus `list_partners(approved)` when
///   asked, plus `consume_quota` with the customer's Telegram id when asked
///   and the customer is not blocked (`quota: None` otherwise).
/// - Broadcasts: `total` is the audience size at creation (unblocked customers
///   or approved partners). Recipients are ordered by customer or partner id,
///   which is the cursor; a claim returns up to `limit` recipients with id
///   greater than the cursor, as the audience is *at claim time*, moves the
///   cursor to the last one and sets `done` once no recipient remains beyond
///   it. An unknown job id is [`StoreError::Backend`] (ids come from the store).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    customers: Vec<CustomerRow>,
    customer_by_telegram: HashMap<TelegramUserId, CustomerId>,
    customer_by_code: HashMap<CustomerCode, CustomerId>,
    partners: Vec<PartnerRow>,
    partner_by_telegram: HashMap<TelegramUserId, PartnerId>,
    entries: Vec<LedgerEntry>,
    entry_by_key: HashMap<String, EntryId>,
    reversal_of: HashMap<EntryId, EntryId>,
    redemptions: Vec<RedemptionRow>,
    redemption_by_key: HashMap<String, RedemptionId>,
    /// Update claims: when taken (or last leased) and the body kept until the update is finished.
    updates: HashMap<(BotId, i64), ClaimRow>,
    /// The outbox, message n at n - 1.
    outbox: Vec<OutboxRow>,
    /// The outbox's keys: source and position.
    outbox_keys: HashMap<(String, usize), MessageId>,
    quotas: HashMap<(QuotaKind, TelegramUserId, Timestamp), u32>,
    /// Scheduled jobs' states by name ([`Storage::swap_job_state`]).
    job_states: HashMap<String, JobState>,
    broadcasts: Vec<BroadcastRow>,
    broadcast_by_key: HashMap<String, BroadcastId>,
    audit: Vec<AuditRecord>,
    imports: HashMap<(String, TelegramUserId), ImportRow>,
    /// Every version of the rules set so far (version n at n - 1).
    rules: Vec<RulesVersion>,
    lots: Lots,
    /// Campaigns, campaign n at n - 1.
    campaigns: Vec<Campaign>,
    /// What campaigns paid, in the order paid.
    awards: Vec<AwardRecord>,
    birthdays: HashMap<CustomerId, Birthday>,
    /// The rewards catalogue, reward n at n - 1, each with its publishing key.
    rewards: Vec<(Reward, String)>,
    reward_by_key: HashMap<String, RewardId>,
    /// Vouchers, voucher n at n - 1.
    vouchers: Vec<Voucher>,
    voucher_by_code: HashMap<String, VoucherId>,
    voucher_by_entry: HashMap<EntryId, VoucherId>,
    /// Running stamp cards by partner.
    stamp_cards: HashMap<PartnerId, StampCard>,
    /// Stamps on the current card and cards completed, by partner and customer.
    stamps: HashMap<(PartnerId, CustomerId), (u32, u32)>,
    /// Each stamp's key: where it went and whether it completed a card.
    stamp_keys: HashMap<String, (PartnerId, CustomerId, bool)>,
    /// Campaigns made with a key: the campaign, and the terms and actor asked for.
    campaign_keys: HashMap<String, (CampaignId, CampaignTerms, CampaignActor)>,
    /// Partners' staff, staff n at n - 1, each with its invitation's token hash.
    staff: Vec<Staff>,
    staff_by_token: HashMap<String, StaffId>,
    /// Webhook endpoints, endpoint n at n - 1.
    webhooks: Vec<Webhook>,
    /// The endpoint each registration's key made, by owner (`None`: the program) and key.
    webhook_keys: HashMap<(Option<PartnerId>, String), WebhookId>,
}

/// An update's claim.
#[derive(Debug, Clone)]
struct ClaimRow {
    at: Timestamp,
    /// Kept until the update is finished.
    body: Option<String>,
}

/// Where an outbox message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Delivery {
    Pending,
    Sent,
    Failed,
    /// Settled and pruned: the row stays (ids are positions), nothing else.
    Pruned,
}

/// A message in the outbox.
#[derive(Debug, Clone)]
struct OutboxRow {
    message: OutboxMessage,
    delivery: Delivery,
    /// Not handed out before this (a lease or a retry time).
    next_at: Timestamp,
    created_at: Timestamp,
    settled_at: Option<Timestamp>,
}

/// What a campaign paid on one accrual (see [`MemoryStore::awards`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardRecord {
    /// The campaign.
    pub campaign: CampaignId,
    /// The accrual it is part of.
    pub entry: EntryId,
    /// Whose accrual.
    pub customer: CustomerId,
    /// Points paid.
    pub points: Points,
    /// When.
    pub at: Timestamp,
    /// The accrual was reversed (the points went back to the budget).
    pub reversed: bool,
}

/// What an import remembers of a customer it created ([`Storage::import_batch`]).
#[derive(Debug)]
struct ImportRow {
    customer: CustomerId,
    /// The other system's balance as of the last change applied.
    balance: Points,
    /// The other system's referral code (its `ref_<code>` links).
    referral_code: Option<String>,
    /// The other system's date of birth (`YYYY-MM-DD`).
    #[allow(dead_code)]
    birthday: Option<String>,
}

/// The birthday in another system's date of birth (`YYYY-MM-DD`), if it is
/// a date that exists (the import's rule: such a birthday is set for the
/// customer it creates, as if they had sent `/birthday`).
fn imported_birthday(date: &str) -> Option<Birthday> {
    let mut parts = date.splitn(3, '-').map(str::parse::<u32>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else { return None };
    let valid = date.len() == 10 && Timestamp::from_utc_date(i64::from(y), m, d).is_some();
    valid.then(|| Birthday::new(m as u8, d as u8)).flatten()
}

#[derive(Debug)]
struct CustomerRow {
    customer: Customer,
    entries: Vec<EntryId>,
    /// Since when the customer has been below their tier.
    below_since: Option<Timestamp>,
    /// When the tier was last recomputed (`None`: never).
    tier_checked_at: Option<Timestamp>,
    /// The qualifying points then.
    qualifying: Points,
}

#[derive(Debug)]
struct PartnerRow {
    partner: Partner,
    api_key_sha256_hex: Option<String>,
    entries: Vec<EntryId>,
}

#[derive(Debug)]
struct RedemptionRow {
    request: RedemptionRequest,
}

#[derive(Debug)]
struct BroadcastRow {
    job: BroadcastJob,
}

/// A ledger entry before the store assigns its id.
struct Draft {
    customer: CustomerId,
    kind: EntryKind,
    amount: Points,
    partner: Option<PartnerId>,
    purchase: Option<Points>,
    idempotency_key: String,
    author: Author,
    reverses: Option<EntryId>,
    reason: Option<String>,
    created_at: Timestamp,
    /// The cashier at the till, when not the partner itself.
    cashier: Option<StaffId>,
}

/// The rules in force: the newest of `versions`, or the defaults.
fn rules_in_force(versions: &[RulesVersion]) -> &ProgramRules {
    static DEFAULT: ProgramRules = ProgramRules {
        expiry: crate::program::ExpiryRules::EMPTY,
        tiers: None,
        campaigns: crate::program::campaigns::CampaignRules {
            partners: crate::program::campaigns::PartnerCampaigns::Approval,
        },
        rewards: crate::program::rewards::RewardRules {
            moderation: crate::program::rewards::RewardModeration::Approval,
        },
    };
    versions.last().map_or(&DEFAULT, |v| &v.rules)
}

/// A job's batch size (`expire_points`, `remind_expiry`, `refresh_tiers`):
/// 1..=[`MAX_EXPIRY_BATCH`], else `InvalidAmount`.
fn job_batch(limit: u32) -> StoreResult<()> {
    if (1..=MAX_EXPIRY_BATCH).contains(&limit) { Ok(()) } else { rejected(Rejection::InvalidAmount) }
}

/// The award of `points` by campaign `c`.
fn award(c: &Campaign, points: Points) -> Award {
    let t = &c.terms;
    Award { campaign: c.id, kind: t.kind, title: t.title.clone(), multiplier_bps: t.multiplier_bps, points }
}

fn rejected<T>(r: Rejection) -> StoreResult<T> {
    Err(StoreError::Rejected(r))
}

fn broken(what: &str) -> StoreError {
    StoreError::Backend(format!("memory store inconsistent: {what}"))
}

/// Vector position of a store-assigned id (ids start at 1).
fn slot(id: i64) -> Option<usize> {
    usize::try_from(id.checked_sub(1)?).ok()
}

/// The id for the next row of a table holding `len` rows.
fn next_id(len: usize) -> i64 {
    i64::try_from(len).map_or(i64::MAX, |n| n.saturating_add(1))
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }

    /// Every ledger entry, oldest first (for tests and inspection).
    pub fn entries(&self) -> StoreResult<Vec<LedgerEntry>> {
        Ok(self.lock()?.entries.clone())
    }

    /// Every customer, by id (for tests and inspection).
    pub fn customers(&self) -> StoreResult<Vec<Customer>> {
        Ok(self.lock()?.customers.iter().map(|r| r.customer.clone()).collect())
    }

    /// Every redemption request, by id (for tests and inspection).
    pub fn redemptions(&self) -> StoreResult<Vec<RedemptionRequest>> {
        Ok(self.lock()?.redemptions.iter().map(|r| r.request.clone()).collect())
    }

    /// Every lot of earned points, oldest first (see the lots rule above).
    pub fn lots(&self) -> StoreResult<Vec<Lot>> {
        Ok(self.lock()?.lots.iter().copied().collect())
    }

    /// What campaigns paid, in the order paid.
    pub fn awards(&self) -> StoreResult<Vec<AwardRecord>> {
        Ok(self.lock()?.awards.clone())
    }
}

impl State {
    fn customer(&self, id: CustomerId) -> Option<&CustomerRow> {
        self.customers.get(slot(id.0)?)
    }

    fn customer_mut(&mut self, id: CustomerId) -> Option<&mut CustomerRow> {
        self.customers.get_mut(slot(id.0)?)
    }

    fn find_customer(&self, who: &CustomerRef) -> Option<CustomerId> {
        match who {
            CustomerRef::Id(id) => self.customer(*id).map(|r| r.customer.id),
            CustomerRef::Telegram(t) => self.customer_by_telegram.get(t).copied(),
            CustomerRef::Code(c) => self.customer_by_code.get(c).copied(),
        }
    }

    fn customer_clone(&self, id: CustomerId) -> StoreResult<Customer> {
        self.customer(id).map(|r| r.customer.clone()).ok_or_else(|| broken("missing customer"))
    }

    fn partner(&self, id: PartnerId) -> Option<&PartnerRow> {
        self.partners.get(slot(id.0)?)
    }

    fn partner_mut(&mut self, id: PartnerId) -> Option<&mut PartnerRow> {
        self.partners.get_mut(slot(id.0)?)
    }

    /// The partner an owner's reference names; a till's is no one here.
    fn find_partner(&self, who: PartnerRef) -> Option<PartnerId> {
        match who {
            PartnerRef::Id(id) => self.partner(id).map(|r| r.partner.id),
            PartnerRef::Telegram(t) => self.partner_by_telegram.get(&t).copied(),
            PartnerRef::Till(_) => None,
        }
    }

    /// The partner a reference at the till names, with the cashier when it is
    /// one: the owner's account first, then an active cashier's.
    fn find_till(&self, who: PartnerRef) -> Option<(PartnerId, Option<StaffId>)> {
        match who {
            PartnerRef::Till(t) => match self.partner_by_telegram.get(&t) {
                Some(id) => Some((*id, None)),
                None => self.active_staff(t).map(|s| (s.partner, Some(s.id))),
            },
            owner => self.find_partner(owner).map(|id| (id, None)),
        }
    }

    /// The partner at the till, which must exist and be approved, and the cashier.
    fn approved_till(&self, who: PartnerRef) -> StoreResult<(&Partner, Option<StaffId>)> {
        let (id, cashier) = self.find_till(who).ok_or(StoreError::Rejected(Rejection::UnknownPartner))?;
        Ok((self.approved_partner(PartnerRef::Id(id))?, cashier))
    }

    /// The staff row of `t` as an active cashier (joined, not revoked), if any.
    fn active_staff(&self, t: TelegramUserId) -> Option<&Staff> {
        self.staff.iter().find(|s| s.telegram_id == Some(t) && s.revoked_at.is_none())
    }

    fn staff_clone(&self, id: StaffId) -> StoreResult<Staff> {
        slot(id.0).and_then(|i| self.staff.get(i)).cloned().ok_or_else(|| broken("missing staff"))
    }

    fn partner_clone(&self, id: PartnerId) -> StoreResult<Partner> {
        self.partner(id).map(|r| r.partner.clone()).ok_or_else(|| broken("missing partner"))
    }

    /// A customer with up to `recent` newest entries.
    fn summary(&self, who: &CustomerRef, recent: u32) -> StoreResult<Option<CustomerSummary>> {
        let Some(row) = self.find_customer(who).and_then(|id| self.customer(id)) else {
            return Ok(None);
        };
        let recent = row
            .entries
            .iter()
            .rev()
            .take(recent as usize)
            .map(|id| self.entry_clone(*id))
            .collect::<StoreResult<Vec<_>>>()?;
        let expiring = self.lots.expiring(row.customer.id);
        Ok(Some(CustomerSummary { customer: row.customer.clone(), recent, expiring, qualifying: row.qualifying }))
    }

    /// Partners with `status` (all when `None`), oldest first.
    fn partners_with(&self, status: Option<PartnerStatus>) -> Vec<Partner> {
        let mut partners: Vec<Partner> = self
            .partners
            .iter()
            .filter(|r| status.is_none_or(|st| r.partner.status == st))
            .map(|r| r.partner.clone())
            .collect();
        partners.sort_by_key(|p| (p.created_at, p.id));
        partners
    }

    /// Uses one unit of a daily quota: `false` once `limit` is reached.
    fn consume_quota(&mut self, req: ConsumeQuota) -> bool {
        let ConsumeQuota { kind, user, day, limit } = req;
        let used = self.quotas.entry((kind, user, day)).or_insert(0);
        if *used >= limit {
            return false;
        }
        *used += 1;
        true
    }

    /// Records a job's state, returning the one it replaces.
    fn swap_job_state(&mut self, req: SwapJobState) -> StoreResult<Option<JobState>> {
        let SwapJobState { name, value, now } = req;
        if !(1..=100).contains(&name.chars().count()) || value.len() > MAX_JOB_STATE_BYTES {
            return rejected(Rejection::InvalidAmount);
        }
        Ok(self.job_states.insert(name, JobState { value, updated_at: now }))
    }

    /// Adds messages to the outbox (see [`Storage::enqueue_messages`]).
    /// Finishes `updates`: their bodies are dropped (nothing will process them again).
    fn finish_updates(&mut self, updates: Vec<UpdateRef>) {
        for UpdateRef { bot, update_id } in updates {
            if let Some(claim) = self.updates.get_mut(&(bot, update_id)) {
                claim.body = None;
            }
        }
    }

    fn enqueue_messages(&mut self, req: EnqueueMessages) -> StoreResult<Enqueued> {
        let EnqueueMessages { source, updates, messages, now, lease_until } = req;
        if !(1..=200).contains(&source.chars().count())
            || messages.len() > MAX_MESSAGE_BATCH as usize
            || updates.len() > MAX_MESSAGE_BATCH as usize
            || messages.iter().any(|m| m.payload.len() > MAX_MESSAGE_BYTES)
        {
            return rejected(Rejection::InvalidAmount);
        }
        self.finish_updates(updates);
        let mut added = Vec::new();
        for (seq, NewMessage { chat, payload }) in messages.into_iter().enumerate() {
            let key = (source.clone(), seq);
            if self.outbox_keys.contains_key(&key) {
                continue;
            }
            let id = MessageId(self.outbox.len() as i64 + 1);
            let message = OutboxMessage { id, chat, payload, attempts: 1 };
            self.outbox_keys.insert(key, id);
            self.outbox.push(OutboxRow {
                message: message.clone(),
                delivery: Delivery::Pending,
                next_at: lease_until,
                created_at: now,
                settled_at: None,
            });
            added.push(message);
        }
        let webhooks = self.webhooks.iter().any(|w| w.removed_at.is_none());
        Ok(Enqueued { messages: added, webhooks })
    }

    /// Leases the messages due (see [`Storage::take_messages`]).
    fn take_messages(&mut self, req: TakeMessages) -> StoreResult<Vec<OutboxMessage>> {
        let TakeMessages { now, lease_until, limit } = req;
        if !(1..=MAX_MESSAGE_BATCH).contains(&limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let mut chats_ahead = HashSet::new();
        let mut taken = Vec::new();
        for row in self.outbox.iter_mut().filter(|r| r.delivery == Delivery::Pending) {
            // Only a chat's oldest pending message is due, whatever its lease.
            let first_of_chat = row.message.chat.is_none_or(|chat| chats_ahead.insert(chat));
            if first_of_chat && row.next_at <= now && taken.len() < limit as usize {
                row.next_at = lease_until;
                row.message.attempts += 1;
                taken.push(row.message.clone());
            }
        }
        Ok(taken)
    }

    /// Records outcomes (see [`Storage::settle_messages`]).
    fn settle_messages(&mut self, req: SettleMessages) -> StoreResult<()> {
        if req.settled.len() > MAX_MESSAGE_BATCH as usize {
            return rejected(Rejection::InvalidAmount);
        }
        for MessageSettlement { id, outcome } in req.settled {
            let Some(row) = usize::try_from(id.0 - 1).ok().and_then(|i| self.outbox.get_mut(i)) else {
                continue;
            };
            if row.delivery != Delivery::Pending {
                continue;
            }
            match outcome {
                MessageOutcome::Sent => {
                    row.delivery = Delivery::Sent;
                    row.settled_at = Some(req.now);
                }
                MessageOutcome::Failed { .. } => {
                    row.delivery = Delivery::Failed;
                    row.settled_at = Some(req.now);
                }
                MessageOutcome::Retry { at } => row.next_at = at,
            }
        }
        Ok(())
    }

    /// Leases the claims never finished (see [`Storage::stale_updates`]).
    fn stale_updates(&mut self, req: StaleUpdates) -> StoreResult<Vec<StaleUpdate>> {
        let StaleUpdates { before, now, limit } = req;
        if !(1..=MAX_MESSAGE_BATCH).contains(&limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let mut stale: Vec<_> = self
            .updates
            .iter()
            .filter(|(_, c)| c.body.is_some() && c.at < before)
            .map(|(&(bot, update_id), c)| (c.at, bot, update_id))
            .collect();
        stale.sort();
        stale.truncate(limit as usize);
        let mut leased = Vec::new();
        for (_, bot, update_id) in stale {
            if let Some(claim) = self.updates.get_mut(&(bot, update_id)) {
                claim.at = now;
                let body = claim.body.clone().unwrap_or_default();
                leased.push(StaleUpdate { bot, update_id, body });
            }
        }
        Ok(leased)
    }

    /// The outbox at a glance.
    fn outbox_state(&self) -> OutboxState {
        let pending = self.outbox.iter().filter(|r| r.delivery == Delivery::Pending);
        OutboxState {
            pending: pending.clone().count() as u64,
            oldest: pending.map(|r| r.created_at).min(),
            failed: self.outbox.iter().filter(|r| r.delivery == Delivery::Failed).count() as u64,
        }
    }

    /// The partner, which must exist and be approved.
    fn approved_partner(&self, who: PartnerRef) -> StoreResult<&Partner> {
        let id = self.find_partner(who).ok_or(StoreError::Rejected(Rejection::UnknownPartner))?;
        let p = &self.partner(id).ok_or_else(|| broken("missing partner"))?.partner;
        if p.status != PartnerStatus::Approved {
            return rejected(Rejection::PartnerNotApproved { status: p.status });
        }
        Ok(p)
    }

    /// The customer, which must exist and not be blocked.
    fn active_customer(&self, who: &CustomerRef) -> StoreResult<&Customer> {
        let id = self.find_customer(who).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let c = &self.customer(id).ok_or_else(|| broken("missing customer"))?.customer;
        if c.blocked {
            return rejected(Rejection::CustomerBlocked);
        }
        Ok(c)
    }

    fn entry(&self, id: EntryId) -> Option<&LedgerEntry> {
        self.entries.get(slot(id.0)?)
    }

    fn entry_clone(&self, id: EntryId) -> StoreResult<LedgerEntry> {
        self.entry(id).cloned().ok_or_else(|| broken("missing entry"))
    }

    /// The entry already recorded under a caller-supplied key, if any.
    /// Reserved keys are refused outright, so callers cannot occupy them.
    fn keyed_entry(&self, key: &str) -> StoreResult<Option<&LedgerEntry>> {
        if is_reserved_key(key) {
            return rejected(Rejection::IdempotencyConflict);
        }
        match self.entry_by_key.get(key) {
            Some(id) => self.entry(*id).map(Some).ok_or_else(|| broken("dangling key")),
            None => Ok(None),
        }
    }

    /// The balance of `customer` after adding `amount`, if it stays in range.
    fn balance_after(&self, customer: CustomerId, amount: Points) -> StoreResult<Points> {
        let balance = self.customer(customer).ok_or_else(|| broken("missing customer"))?.customer.balance;
        let after = balance.checked_add(amount).ok_or(StoreError::Rejected(Rejection::InvalidAmount))?;
        if after < 0 {
            return rejected(Rejection::InsufficientBalance { balance, requested: amount.saturating_neg() });
        }
        Ok(after)
    }

    /// Appends an entry, updating the balance and the indexes. Checks the
    /// balance itself, but callers validate first so that a multi-entry call
    /// never fails half-way.
    fn append(&mut self, d: Draft) -> StoreResult<LedgerEntry> {
        let after = if d.kind.counts() {
            self.balance_after(d.customer, d.amount)?
        } else {
            self.customer(d.customer).ok_or_else(|| broken("missing customer"))?.customer.balance
        };
        if self.entry_by_key.contains_key(&d.idempotency_key) {
            return Err(broken("duplicate idempotency key"));
        }
        let entry = LedgerEntry {
            id: EntryId(next_id(self.entries.len())),
            customer: d.customer,
            kind: d.kind,
            amount: d.amount,
            partner: d.partner,
            purchase: d.purchase,
            idempotency_key: d.idempotency_key,
            author: d.author,
            reverses: d.reverses,
            reason: d.reason,
            created_at: d.created_at,
            rules_version: self.rules_version(),
            cashier: d.cashier,
        };
        if let Some(p) = entry.partner
            && self.partner(p).is_none()
        {
            return Err(broken("missing partner"));
        }
        if entry.kind.counts() {
            self.move_lots(&entry)?;
        }
        let row = self.customer_mut(entry.customer).ok_or_else(|| broken("missing customer"))?;
        row.customer.balance = after;
        row.entries.push(entry.id);
        if let Some(original) = entry.reverses {
            self.reversal_of.insert(original, entry.id);
        }
        self.entry_by_key.insert(entry.idempotency_key.clone(), entry.id);
        self.entries.push(entry.clone());
        if matches!(entry.kind, EntryKind::Accrual | EntryKind::Reversal) {
            self.refresh_tier(entry.customer, entry.created_at)?;
        }
        if let Some(p) = entry.partner {
            // Kept ordered by time (then id), so "since" queries start at a binary-searched
            // position instead of scanning the partner's whole history; the clock port may
            // step backwards in tests, hence the insert rather than a plain push.
            let at = self.partner(p).map_or(0, |row| {
                row.entries.partition_point(|id| self.entry(*id).is_some_and(|e| e.created_at <= entry.created_at))
            });
            if let Some(row) = self.partner_mut(p) {
                row.entries.insert(at, entry.id);
            }
        }
        Ok(entry)
    }

    /// The lots' side of a counted entry (see the lots rule above).
    fn move_lots(&mut self, entry: &LedgerEntry) -> StoreResult<()> {
        let rules = rules_in_force(&self.rules);
        self.lots.apply(entry, rules).map_err(|_| broken("the lots hold less than the balance"))
    }

    /// The customer's qualifying points at `now` under the rules in force.
    fn qualifying(&self, customer: CustomerId, now: Timestamp) -> StoreResult<Points> {
        let Some(tiers) = self.current_rules().tiers.as_ref() else {
            return Ok(0);
        };
        let window = i64::from(tiers.window_days) * DAY_SECS;
        let row = self.customer(customer).ok_or_else(|| broken("missing customer"))?;
        Ok(row
            .entries
            .iter()
            .filter_map(|id| self.entry(*id))
            .filter(|e| e.kind == EntryKind::Accrual && e.created_at > now.plus(-window) && !self.is_reversed(e.id))
            .fold(0, |sum: Points, e| sum.saturating_add(tiers.qualify_by.of(e))))
    }

    /// Recomputes a customer's tier at `now` ([`next_tier`](crate::program::next_tier)); the tier before.
    fn refresh_tier(&mut self, customer: CustomerId, now: Timestamp) -> StoreResult<u8> {
        let qualifying = self.qualifying(customer, now)?;
        let row = self.customer(customer).ok_or_else(|| broken("missing customer"))?;
        let before = TierState { tier: row.customer.tier, below_since: row.below_since };
        let after = next_tier(self.current_rules().tiers.as_ref(), before, qualifying, now);
        let row = self.customer_mut(customer).ok_or_else(|| broken("missing customer"))?;
        (row.customer.tier, row.below_since, row.tier_checked_at) = (after.tier, after.below_since, Some(now));
        row.qualifying = qualifying;
        Ok(before.tier)
    }

    fn refresh_tiers(&mut self, req: RefreshTiers) -> StoreResult<TiersRefreshed> {
        job_batch(req.limit)?;
        let due: Vec<CustomerId> = self
            .customers
            .iter()
            .filter(|r| r.customer.tier > 0 || r.below_since.is_some())
            .filter(|r| r.tier_checked_at.is_some_and(|at| at <= req.now.plus(-DAY_SECS)))
            .map(|r| r.customer.id)
            .take(req.limit as usize)
            .collect();
        let mut changed = Vec::new();
        for id in &due {
            let from = self.refresh_tier(*id, req.now)?;
            let customer = self.customer_clone(*id)?;
            if customer.tier != from {
                changed.push(TierChange { customer, from });
            }
        }
        Ok(TiersRefreshed { checked: due.len() as u32, changed })
    }

    fn current_rules(&self) -> &ProgramRules {
        rules_in_force(&self.rules)
    }

    /// The version of the rules in force (0 before any change).
    fn rules_version(&self) -> u32 {
        self.rules.last().map_or(0, |v| v.version)
    }

    fn expire_points(&mut self, req: ExpirePoints) -> StoreResult<Vec<PointsExpired>> {
        job_batch(req.limit)?;
        let mut out = Vec::new();
        for (customer, points) in self.lots.due(req.now).into_iter().take(req.limit as usize) {
            let entry = self.append(Draft {
                customer,
                kind: EntryKind::Expiry,
                amount: -points,
                partner: None,
                purchase: None,
                idempotency_key: format!("expiry:{}:{}", customer.0, req.now.0),
                author: Author::System,
                reverses: None,
                reason: None,
                created_at: req.now,
                cashier: None,
            })?;
            out.push(PointsExpired { customer: self.customer_clone(customer)?, entry });
        }
        Ok(out)
    }

    fn remind_expiry(&mut self, req: RemindExpiry) -> StoreResult<Vec<ExpiryReminder>> {
        job_batch(req.limit)?;
        let days = self.current_rules().expiry.remind_days_before;
        if days == 0 {
            return Ok(Vec::new());
        }
        let customers = &self.customers;
        let active = |c: CustomerId| slot(c.0).and_then(|i| customers.get(i)).is_some_and(|r| !r.customer.blocked);
        let due = self.lots.remind(req.now, days, req.limit as usize, active);
        due.into_iter()
            .map(|(customer, points, at)| Ok(ExpiryReminder { customer: self.customer_clone(customer)?, points, at }))
            .collect()
    }

    fn set_program_rules(&mut self, req: SetProgramRules) -> StoreResult<RulesVersion> {
        req.rules.check().map_err(|reason| Rejection::InvalidRules { reason })?;
        let version = RulesVersion {
            version: self.rules_version() + 1,
            rules: req.rules,
            admin: req.admin,
            created_at: Some(req.now),
        };
        self.rules.push(version.clone());
        Ok(version)
    }

    fn is_reversed(&self, id: EntryId) -> bool {
        self.reversal_of.contains_key(&id)
    }

    /// Net accruals of `partner` created at or after `since`.
    fn credited_since(&self, partner: &PartnerRow, since: Timestamp) -> Points {
        self.partner_entries_since(partner, since)
            .filter(|e| e.kind == EntryKind::Accrual && !self.is_reversed(e.id))
            .fold(0, |sum: Points, e| sum.saturating_add(e.amount))
    }

    /// A partner's entries created at or after `since` (its list is ordered by time).
    fn partner_entries_since<'a>(
        &'a self,
        partner: &'a PartnerRow,
        since: Timestamp,
    ) -> impl Iterator<Item = &'a LedgerEntry> + 'a {
        let start = partner.entries.partition_point(|id| self.entry(*id).is_some_and(|e| e.created_at < since));
        partner.entries[start..].iter().filter_map(|id| self.entry(*id))
    }

    fn period_stats<'a>(&self, entries: impl Iterator<Item = &'a LedgerEntry>, since: Timestamp) -> PeriodStats {
        let mut customers = HashSet::new();
        let mut stats = PeriodStats::default();
        for e in entries.filter(|e| e.created_at >= since) {
            match e.kind {
                EntryKind::Accrual => {
                    customers.insert(e.customer);
                    if !self.is_reversed(e.id) {
                        stats.purchases += 1;
                        stats.issued = stats.issued.saturating_add(e.amount);
                    }
                }
                EntryKind::Redemption => {
                    customers.insert(e.customer);
                    if !self.is_reversed(e.id) {
                        stats.redeemed = stats.redeemed.saturating_sub(e.amount);
                    }
                }
                _ => {}
            }
        }
        stats.customers = customers.len() as u64;
        stats
    }

    fn redemption_view(&self, request: RedemptionRequest, replayed: bool) -> StoreResult<RedemptionView> {
        let entry = match request.entry {
            Some(id) => Some(self.entry_clone(id)?),
            None => None,
        };
        Ok(RedemptionView {
            customer: self.customer_clone(request.customer)?,
            partner: self.partner_clone(request.partner)?,
            cashier: request.cashier.map(|id| self.staff_clone(id)).transpose()?,
            request,
            entry,
            replayed,
        })
    }

    /// Common first steps of answering a request: find it, check the customer,
    /// and expire it if it is pending past `expires_at`. Returns its slot.
    fn answerable(&mut self, req: &AnswerRedemption) -> StoreResult<usize> {
        let i = slot(req.id.0)
            .filter(|i| *i < self.redemptions.len())
            .ok_or(StoreError::Rejected(Rejection::UnknownRedemption))?;
        let customer = self.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let row = self.redemptions.get_mut(i).ok_or_else(|| broken("missing request"))?;
        if row.request.customer != customer {
            return rejected(Rejection::NotYourRedemption);
        }
        if row.request.status == RedemptionStatus::Pending && req.now > row.request.expires_at {
            row.request.status = RedemptionStatus::Expired;
            return rejected(Rejection::RedemptionExpired);
        }
        Ok(i)
    }

    fn audience(&self, audience: Audience, after: i64) -> impl Iterator<Item = (i64, Recipient)> + '_ {
        let customers = self
            .customers
            .iter()
            .filter(move |r| audience == Audience::Customers && !r.customer.blocked && r.customer.id.0 > after)
            .map(|r| (r.customer.id.0, Recipient { chat_id: r.customer.telegram_id, language: r.customer.language }));
        let partners = self
            .partners
            .iter()
            .filter(move |r| {
                audience == Audience::Partners && r.partner.status == PartnerStatus::Approved && r.partner.id.0 > after
            })
            .map(|r| (r.partner.id.0, Recipient { chat_id: r.partner.telegram_id, language: r.partner.language }));
        customers.chain(partners)
    }

    fn broadcast_mut(&mut self, job: BroadcastId) -> StoreResult<&mut BroadcastRow> {
        slot(job.0)
            .and_then(|i| self.broadcasts.get_mut(i))
            .ok_or_else(|| StoreError::Backend(format!("unknown broadcast job {job}")))
    }

    /// The approved partner operated by `telegram_id`.
    fn via_partner(&self, telegram_id: Option<TelegramUserId>) -> Option<Partner> {
        let id = self.partner_by_telegram.get(&telegram_id?)?;
        self.partner(*id).map(|r| r.partner.clone()).filter(|p| p.status == PartnerStatus::Approved)
    }

    fn register_customer(&mut self, req: NewCustomer) -> StoreResult<Registration> {
        let bonus_range = 0..=rules::MAX_ADJUSTMENT;
        if !bonus_range.contains(&req.welcome_bonus) || !bonus_range.contains(&req.referral_bonus) {
            return rejected(Rejection::InvalidAmount);
        }
        if let Some(id) = self.customer_by_telegram.get(&req.telegram_id) {
            let customer = self.customer_clone(*id)?;
            let partner = self.via_partner(req.via_partner);
            return Ok(Registration { customer, created: false, welcome: None, referral: None, partner });
        }
        if self.customer_by_code.contains_key(&req.code) {
            return rejected(Rejection::CodeTaken);
        }
        // Another, unblocked customer: by our code, else by an imported referral code.
        let eligible =
            |id: &CustomerId| self.customer(*id).is_some_and(|r| !r.customer.blocked && r.customer.code != req.code);
        let referrer =
            req.referrer.as_ref().and_then(|code| self.customer_by_code.get(code)).copied().filter(eligible).or_else(
                || {
                    let code = req.legacy_referrer.as_deref()?;
                    let imported = self.imports.values().filter(|i| i.referral_code.as_deref() == Some(code));
                    imported.map(|i| i.customer).filter(eligible).min()
                },
            );
        if let Some(r) = referrer {
            // Checked before any change, so the call cannot fail half-way.
            self.balance_after(r, req.referral_bonus)?;
        }
        let id = CustomerId(next_id(self.customers.len()));
        self.customers.push(CustomerRow {
            below_since: None,
            tier_checked_at: None,
            qualifying: 0,
            customer: Customer {
                tier: 0,
                id,
                telegram_id: req.telegram_id,
                code: req.code.clone(),
                first_name: req.first_name,
                username: req.username,
                language: req.language,
                referrer,
                balance: 0,
                blocked: false,
                created_at: req.now,
            },
            entries: Vec::new(),
        });
        self.customer_by_telegram.insert(req.telegram_id, id);
        self.customer_by_code.insert(req.code, id);
        let welcome = if req.welcome_bonus > 0 {
            Some(self.append(Draft {
                customer: id,
                kind: EntryKind::WelcomeBonus,
                amount: req.welcome_bonus,
                partner: None,
                purchase: None,
                idempotency_key: welcome_key(id),
                author: Author::System,
                reverses: None,
                reason: None,
                created_at: req.now,
                cashier: None,
            })?)
        } else {
            None
        };
        let referral = match referrer {
            Some(r) if req.referral_bonus > 0 => {
                let entry = self.append(Draft {
                    customer: r,
                    kind: EntryKind::ReferralBonus,
                    amount: req.referral_bonus,
                    partner: None,
                    purchase: None,
                    idempotency_key: referral_key(id),
                    author: Author::System,
                    reverses: None,
                    reason: None,
                    created_at: req.now,
                    cashier: None,
                })?;
                Some((self.customer_clone(r)?, entry))
            }
            _ => None,
        };
        let partner = self.via_partner(req.via_partner);
        Ok(Registration { customer: self.customer_clone(id)?, created: true, welcome, referral, partner })
    }

    fn campaign_mut(&mut self, id: CampaignId) -> StoreResult<&mut Campaign> {
        slot(id.0).and_then(|i| self.campaigns.get_mut(i)).ok_or_else(|| broken("missing campaign"))
    }

    /// What each campaign paid on accrual `entry`, in campaign id order.
    fn awards_of(&self, entry: EntryId) -> StoreResult<Vec<Award>> {
        let mut awards = Vec::new();
        for a in self.awards.iter().filter(|a| a.entry == entry) {
            let c = slot(a.campaign.0).and_then(|i| self.campaigns.get(i)).ok_or_else(|| broken("missing campaign"))?;
            awards.push(award(c, a.points));
        }
        awards.sort_by_key(|a| a.campaign);
        Ok(awards)
    }

    /// The campaigns' awards on a purchase (see `program::campaigns`): every
    /// running campaign whose terms offer points and whose budget, the
    /// customer's cap and (birthday) the once-a-year rule leave room for all
    /// of them; of the multipliers, only the one paying most (then the oldest).
    fn campaign_awards(
        &self,
        customer: CustomerId,
        partner: PartnerId,
        tier: u8,
        accrual: Points,
        now: Timestamp,
    ) -> Vec<Award> {
        let earlier_visits =
            self.entries_of(customer).filter(|e| e.kind == EntryKind::Accrual && e.partner == Some(partner)).count()
                as u64;
        let birthday = self.birthdays.get(&customer).copied();
        let visit = Visit { now, partner, tier, accrual, earlier_visits, birthday };
        let paid = |c: &Campaign, since: Timestamp| -> Points {
            let mine = self.awards.iter().filter(|a| a.campaign == c.id && a.customer == customer && !a.reversed);
            mine.filter(|a| a.at >= since).map(|a| a.points).sum()
        };
        let mut fixed = Vec::new();
        let mut best: Option<Award> = None;
        for c in self.campaigns.iter().filter(|c| c.running(now)) {
            let Some(points) = c.terms.offer(&visit) else { continue };
            let within_cap = c.terms.cap_per_customer.is_none_or(|cap| paid(c, Timestamp(i64::MIN)) + points <= cap);
            let once = match (c.terms.kind, birthday) {
                (CampaignKind::Birthday, Some(b)) => {
                    c.terms.birthday_since(now, b).is_some_and(|since| paid(c, since) == 0)
                }
                _ => true,
            };
            if c.issued + points > c.terms.budget || !within_cap || !once {
                continue;
            }
            if c.terms.kind != CampaignKind::Multiplier {
                fixed.push(award(c, points));
            } else if best.as_ref().is_none_or(|b| points > b.points) {
                best = Some(award(c, points));
            }
        }
        fixed.extend(best);
        fixed.sort_by_key(|a| a.campaign);
        fixed
    }

    fn create_campaign(&mut self, req: CreateCampaign) -> StoreResult<Campaign> {
        // Terms that could never have been made are refused as such, key or not.
        req.terms.check().map_err(|reason| Rejection::InvalidCampaign { reason })?;
        if let Some((id, terms, by)) = req.idempotency_key.as_ref().and_then(|k| self.campaign_keys.get(k)) {
            if (terms, by) != (&req.terms, &req.by) {
                return rejected(Rejection::IdempotencyConflict);
            }
            return slot(id.0).and_then(|i| self.campaigns.get(i)).cloned().ok_or_else(|| broken("missing campaign"));
        }
        let asked = (req.terms.clone(), req.by.clone());
        let mut terms = req.terms;
        terms.check().map_err(|reason| Rejection::InvalidCampaign { reason })?;
        let (status, created_by) = match req.by {
            CampaignActor::Admin(admin) => (CampaignStatus::Active, Author::Admin(admin)),
            CampaignActor::Partner(who) => {
                let partner = self.approved_partner(who)?.id;
                terms.partner = Some(partner);
                let status = match self.current_rules().campaigns.partners {
                    PartnerCampaigns::Off => return rejected(Rejection::PartnerCampaignsOff),
                    PartnerCampaigns::Approval => CampaignStatus::Pending,
                    PartnerCampaigns::Open => CampaignStatus::Active,
                };
                (status, Author::Partner(partner))
            }
        };
        let id = CampaignId(next_id(self.campaigns.len()));
        let campaign = Campaign { id, terms, status, issued: 0, created_by, created_at: req.now };
        self.campaigns.push(campaign.clone());
        if let Some(key) = req.idempotency_key {
            self.campaign_keys.insert(key, (id, asked.0, asked.1));
        }
        Ok(campaign)
    }

    fn decide_campaign(&mut self, req: DecideCampaign) -> StoreResult<Campaign> {
        let partner = match req.by {
            CampaignActor::Admin(_) => None,
            CampaignActor::Partner(who) => Some(self.approved_partner(who)?.id),
        };
        let c = slot(req.campaign.0).and_then(|i| self.campaigns.get_mut(i));
        let c = match c {
            Some(c) if partner.is_none_or(|p| c.created_by == Author::Partner(p)) => c,
            _ => return rejected(Rejection::UnknownCampaign),
        };
        let status = match (req.decision, c.status, partner) {
            (CampaignDecision::Approve, CampaignStatus::Pending, None) => CampaignStatus::Active,
            (CampaignDecision::Reject, CampaignStatus::Pending, None) => CampaignStatus::Rejected,
            (CampaignDecision::End, CampaignStatus::Pending | CampaignStatus::Active, _) => CampaignStatus::Ended,
            (_, status, _) => return rejected(Rejection::CampaignClosed { status }),
        };
        c.status = status;
        Ok(c.clone())
    }

    fn campaigns(&self, req: &ListCampaigns) -> StoreResult<Vec<Campaign>> {
        if !(1..=MAX_CAMPAIGNS_LISTED).contains(&req.limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let partner = match req.partner {
            Some(who) => Some(self.find_partner(who).ok_or(StoreError::Rejected(Rejection::UnknownPartner))?),
            None => None,
        };
        let mine = |c: &&Campaign| partner.is_none() || c.terms.partner == partner;
        Ok(self.campaigns.iter().rev().filter(mine).take(req.limit as usize).cloned().collect())
    }

    fn reward_mut(&mut self, id: RewardId) -> Option<&mut Reward> {
        slot(id.0).and_then(|i| self.rewards.get_mut(i)).map(|(r, _)| r)
    }

    /// The reward with its partner's name as it is now.
    fn reward_clone(&self, id: RewardId) -> StoreResult<Reward> {
        let mut r = slot(id.0).and_then(|i| self.rewards.get(i)).map(|(r, _)| r.clone());
        let r = r.as_mut().ok_or_else(|| broken("missing reward"))?;
        r.partner_name = self.partner(r.partner).ok_or_else(|| broken("missing partner"))?.partner.name.clone();
        Ok(r.clone())
    }

    fn voucher_view(&self, id: VoucherId, replayed: bool) -> StoreResult<VoucherView> {
        let voucher =
            slot(id.0).and_then(|i| self.vouchers.get(i)).cloned().ok_or_else(|| broken("missing voucher"))?;
        Ok(VoucherView {
            reward: self.reward_clone(voucher.reward)?,
            customer: self.customer_clone(voucher.customer)?,
            partner: self.partner_clone(voucher.partner)?,
            voucher,
            replayed,
        })
    }

    fn publish_reward(&mut self, req: PublishReward) -> StoreResult<Reward> {
        req.offer.check().map_err(|reason| Rejection::InvalidReward { reason })?;
        if is_reserved_key(&req.idempotency_key) {
            return rejected(Rejection::IdempotencyConflict);
        }
        if let Some(id) = self.reward_by_key.get(&req.idempotency_key) {
            let reward = self.reward_clone(*id)?;
            if Some(reward.partner) != self.find_partner(req.partner) || reward.offer != req.offer {
                return rejected(Rejection::IdempotencyConflict);
            }
            return Ok(reward);
        }
        let (partner, partner_name) = {
            let p = self.approved_partner(req.partner)?;
            (p.id, p.name.clone())
        };
        let status = match self.current_rules().rewards.moderation {
            RewardModeration::Approval => RewardStatus::Pending,
            RewardModeration::Open => RewardStatus::Active,
        };
        let id = RewardId(next_id(self.rewards.len()));
        let reward = Reward { id, partner, partner_name, offer: req.offer, status, claimed: 0, created_at: req.now };
        self.reward_by_key.insert(req.idempotency_key.clone(), id);
        self.rewards.push((reward.clone(), req.idempotency_key));
        Ok(reward)
    }

    fn decide_reward(&mut self, req: DecideReward) -> StoreResult<RewardDecided> {
        let partner = match req.by {
            CampaignActor::Admin(_) => None,
            CampaignActor::Partner(who) => Some(self.approved_partner(who)?.id),
        };
        let reward = match self.reward_mut(req.reward) {
            Some(r) if partner.is_none_or(|p| r.partner == p) => r,
            _ => return rejected(Rejection::UnknownReward),
        };
        reward.status = match (req.decision, reward.status, partner) {
            (RewardDecision::Approve, RewardStatus::Pending, None) => RewardStatus::Active,
            (RewardDecision::Reject, RewardStatus::Pending, None) => RewardStatus::Rejected,
            (RewardDecision::Withdraw, RewardStatus::Pending | RewardStatus::Active, _) => RewardStatus::Withdrawn,
            (_, status, _) => return rejected(Rejection::RewardClosed { status }),
        };
        let reward = self.reward_clone(req.reward)?;
        Ok(RewardDecided { partner: self.partner_clone(reward.partner)?, reward })
    }

    fn rewards(&self, req: &ListRewards) -> StoreResult<Vec<Reward>> {
        if !(1..=MAX_REWARDS_LISTED).contains(&req.limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let partner = match req.partner {
            Some(who) => Some(self.find_partner(who).ok_or(StoreError::Rejected(Rejection::UnknownPartner))?),
            None => None,
        };
        let approved = |p: PartnerId| self.partner(p).is_some_and(|row| row.partner.status == PartnerStatus::Approved);
        let shown = |r: &&Reward| {
            partner.is_none_or(|p| r.partner == p)
                && req.category.as_ref().is_none_or(|c| r.offer.category.as_ref() == Some(c))
                && req.status.is_none_or(|s| r.status == s)
                && req.claimable_at.is_none_or(|now| r.claimable(now) && approved(r.partner))
                && req.after.is_none_or(|after| r.id > after)
        };
        self.rewards
            .iter()
            .map(|(r, _)| r)
            .filter(shown)
            .take(req.limit as usize)
            .map(|r| self.reward_clone(r.id))
            .collect()
    }

    fn claim_reward(&mut self, req: ClaimReward) -> StoreResult<VoucherView> {
        if let Some(e) = self.keyed_entry(&req.idempotency_key)? {
            let voucher = self.voucher_by_entry.get(&e.id).and_then(|v| slot(v.0)).and_then(|i| self.vouchers.get(i));
            return match voucher {
                Some(v) if Some(v.customer) == self.find_customer(&req.customer) && v.reward == req.reward => {
                    self.voucher_view(v.id, true)
                }
                _ => rejected(Rejection::IdempotencyConflict),
            };
        }
        let customer = self.active_customer(&req.customer)?.id;
        let reward = self.reward_clone(req.reward).map_err(|_| StoreError::Rejected(Rejection::UnknownReward))?;
        let approved = self.partner(reward.partner).is_some_and(|p| p.partner.status == PartnerStatus::Approved);
        if !reward.offered(req.now) || !approved {
            return rejected(Rejection::RewardUnavailable);
        }
        if reward.left() == Some(0) {
            return rejected(Rejection::OutOfStock);
        }
        if self.voucher_by_code.contains_key(&req.code) {
            return rejected(Rejection::CodeTaken);
        }
        self.balance_after(customer, reward.offer.price.saturating_neg())?;
        let entry = self.append(Draft {
            customer,
            kind: EntryKind::Redemption,
            amount: reward.offer.price.saturating_neg(),
            partner: Some(reward.partner),
            purchase: None,
            idempotency_key: req.idempotency_key,
            author: Author::Customer(customer),
            reverses: None,
            reason: None,
            created_at: req.now,
            cashier: None,
        })?;
        let id = VoucherId(next_id(self.vouchers.len()));
        self.vouchers.push(Voucher {
            id,
            code: req.code.clone(),
            reward: reward.id,
            customer,
            partner: reward.partner,
            points: reward.offer.price,
            status: VoucherStatus::Issued,
            entry: entry.id,
            refund: None,
            created_at: req.now,
            closed_at: None,
        });
        self.voucher_by_code.insert(req.code, id);
        self.voucher_by_entry.insert(entry.id, id);
        if let Some(r) = self.reward_mut(reward.id) {
            r.claimed += 1;
        }
        self.voucher_view(id, false)
    }

    /// The voucher at `i`, open unless used, cancelled, or its payment reversed
    /// by the partner (which closes it as cancelled).
    fn voucher_state(&self, v: &Voucher) -> VoucherStatus {
        match v.status {
            VoucherStatus::Issued if self.is_reversed(v.entry) => VoucherStatus::Cancelled,
            status => status,
        }
    }

    fn use_voucher(&mut self, req: UseVoucher) -> StoreResult<VoucherView> {
        let partner = self.approved_till(req.partner)?.0.id;
        let v = match self.voucher_by_code.get(&req.code).and_then(|v| slot(v.0)).and_then(|i| self.vouchers.get(i)) {
            Some(v) if v.partner == partner => v,
            _ => return rejected(Rejection::UnknownVoucher),
        };
        let id = v.id;
        match (v.status, self.voucher_state(v)) {
            (VoucherStatus::Used, _) => return self.voucher_view(id, true),
            (_, VoucherStatus::Issued) => {}
            (_, status) => return rejected(Rejection::VoucherClosed { status }),
        }
        let v = slot(id.0).and_then(|i| self.vouchers.get_mut(i)).ok_or_else(|| broken("missing voucher"))?;
        v.status = VoucherStatus::Used;
        v.closed_at = Some(req.now);
        self.voucher_view(id, false)
    }

    fn cancel_voucher(&mut self, req: CancelVoucher) -> StoreResult<VoucherView> {
        let customer = self.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let v = match slot(req.voucher.0).and_then(|i| self.vouchers.get(i)) {
            Some(v) if v.customer == customer => v.clone(),
            _ => return rejected(Rejection::UnknownVoucher),
        };
        match (v.status, self.voucher_state(&v)) {
            (VoucherStatus::Cancelled, _) => return self.voucher_view(v.id, true),
            (_, VoucherStatus::Issued) => {}
            (_, status) => return rejected(Rejection::VoucherClosed { status }),
        }
        let refund = self.append(Draft {
            customer,
            kind: EntryKind::Reversal,
            amount: v.points,
            partner: Some(v.partner),
            purchase: None,
            idempotency_key: voucher_refund_key(v.id),
            author: Author::Customer(customer),
            reverses: Some(v.entry),
            reason: None,
            created_at: req.now,
            cashier: None,
        })?;
        if let Some(r) = self.reward_mut(v.reward) {
            r.claimed -= 1;
        }
        let row = slot(v.id.0).and_then(|i| self.vouchers.get_mut(i)).ok_or_else(|| broken("missing voucher"))?;
        row.status = VoucherStatus::Cancelled;
        row.refund = Some(refund.id);
        row.closed_at = Some(req.now);
        self.voucher_view(v.id, false)
    }

    fn vouchers(&self, req: &ListVouchers) -> StoreResult<Vec<VoucherView>> {
        if !(1..=MAX_VOUCHERS_LISTED).contains(&req.limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let customer = self.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let mine = |v: &&Voucher| v.customer == customer && req.status.is_none_or(|s| v.status == s);
        self.vouchers
            .iter()
            .rev()
            .filter(mine)
            .take(req.limit as usize)
            .map(|v| self.voucher_view(v.id, false))
            .collect()
    }

    /// Records an audited action.
    fn audit(&mut self, admin: Option<TelegramUserId>, action: AuditAction, at: Timestamp) {
        let id = self.audit.len() as i64 + 1;
        self.audit.push(AuditRecord { id, admin, action, at });
    }

    fn personal_data(&self, who: &CustomerRef) -> StoreResult<Option<PersonalData>> {
        let Some(id) = self.find_customer(who) else {
            return Ok(None);
        };
        let row = self.customer(id).ok_or_else(|| broken("missing customer"))?;
        let entries = row.entries.iter().map(|e| self.entry_clone(*e)).collect::<StoreResult<_>>()?;
        Ok(Some(PersonalData {
            customer: row.customer.clone(),
            birthday: self.birthdays.get(&id).copied(),
            entries,
            vouchers: self.vouchers.iter().filter(|v| v.customer == id).cloned().collect(),
        }))
    }

    fn erase_customer(&mut self, req: EraseCustomer) -> StoreResult<Erased> {
        let id = self.find_customer(&req.who).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let row = self.customer_mut(id).ok_or_else(|| broken("missing customer"))?;
        if row.customer.is_erased() {
            return Ok(Erased { customer: row.customer.clone(), replayed: true });
        }
        let person = row.customer.telegram_id;
        row.customer.telegram_id = TelegramUserId(-id.0);
        row.customer.first_name = String::new();
        row.customer.username = None;
        row.customer.blocked = true;
        let customer = row.customer.clone();
        self.customer_by_telegram.remove(&person);
        self.customer_by_telegram.insert(customer.telegram_id, id);
        self.birthdays.remove(&id);
        let imported: Vec<_> = self.imports.keys().filter(|k| self.imports[*k].customer == id).cloned().collect();
        for (source, telegram) in imported {
            if let Some(mut import) = self.imports.remove(&(source.clone(), telegram)) {
                import.birthday = None;
                self.imports.insert((source, customer.telegram_id), import);
            }
        }
        for r in &mut self.redemptions {
            if r.request.customer == id && r.request.status == RedemptionStatus::Pending {
                r.request.status = RedemptionStatus::Declined;
            }
        }
        for m in &mut self.outbox {
            if m.message.chat == Some(person.0) && m.delivery == Delivery::Pending {
                m.message.payload.clear();
                m.message.chat = None;
                m.delivery = Delivery::Pruned;
            }
        }
        self.audit(req.admin, AuditAction::Erased { customer: id }, req.now);
        Ok(Erased { customer, replayed: false })
    }

    fn set_stamp_card(&mut self, req: SetStampCard) -> StoreResult<Option<StampCard>> {
        if req.needed != 0 {
            check_card(req.needed, &req.reward).map_err(|reason| Rejection::InvalidStampCard { reason })?;
        }
        let partner = self.approved_partner(req.partner)?.id;
        if req.needed == 0 {
            self.stamp_cards.remove(&partner);
            return Ok(None);
        }
        let card = StampCard { partner, needed: req.needed, reward: req.reward, updated_at: req.now };
        self.stamp_cards.insert(partner, card.clone());
        Ok(Some(card))
    }

    /// A customer's stamps at a partner running `card`.
    fn stamp_progress(&self, card: &StampCard, customer: CustomerId) -> StoreResult<StampProgress> {
        let (stamps, completed) = self.stamps.get(&(card.partner, customer)).copied().unwrap_or((0, 0));
        let partner_name = self.partner(card.partner).ok_or_else(|| broken("missing partner"))?.partner.name.clone();
        Ok(StampProgress { customer, card: card.clone(), partner_name, stamps, completed })
    }

    fn add_stamp(&mut self, req: AddStamp) -> StoreResult<Stamped> {
        let partner = self.approved_till(req.partner)?.0.id;
        let card = self.stamp_cards.get(&partner).cloned().ok_or(StoreError::Rejected(Rejection::NoStampCard))?;
        let customer = self.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let who = self.customer_clone(customer)?;
        if who.blocked {
            return rejected(Rejection::CustomerBlocked);
        }
        if let Some((p, c, completed)) = self.stamp_keys.get(&req.idempotency_key).copied() {
            if (p, c) != (partner, customer) {
                return rejected(Rejection::IdempotencyConflict);
            }
            let progress = self.stamp_progress(&card, customer)?;
            return Ok(Stamped { progress, completed, customer: who, replayed: false }.replay());
        }
        let (stamps, cards) = self.stamps.entry((partner, customer)).or_insert((0, 0));
        let completed = *stamps + 1 >= card.needed;
        (*stamps, *cards) = if completed { (0, *cards + 1) } else { (*stamps + 1, *cards) };
        self.stamp_keys.insert(req.idempotency_key, (partner, customer, completed));
        let progress = self.stamp_progress(&card, customer)?;
        Ok(Stamped { progress, completed, customer: who, replayed: false })
    }

    fn stamp_cards(&self, who: &CustomerRef) -> StoreResult<Vec<StampProgress>> {
        let customer = self.find_customer(who).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let mut cards: Vec<&StampCard> = self
            .stamp_cards
            .values()
            .filter(|c| self.partner(c.partner).is_some_and(|p| p.partner.status == PartnerStatus::Approved))
            .collect();
        cards.sort_by_key(|c| c.partner);
        cards.into_iter().take(MAX_STAMP_CARDS_LISTED as usize).map(|c| self.stamp_progress(c, customer)).collect()
    }

    fn invite_staff(&mut self, req: InviteStaff) -> StoreResult<Staff> {
        let partner = self.approved_partner(req.partner)?.id;
        if self.staff_by_token.contains_key(&req.token_sha256_hex) {
            return rejected(Rejection::InvalidInvite);
        }
        let open = self
            .staff
            .iter()
            .filter(|s| s.partner == partner && s.revoked_at.is_none())
            .filter(|s| s.joined_at.is_some() || s.expires_at >= req.now)
            .count();
        if open as i64 >= rules::MAX_STAFF {
            return rejected(Rejection::StaffLimit { max: rules::MAX_STAFF });
        }
        let staff = Staff {
            id: StaffId(next_id(self.staff.len())),
            partner,
            telegram_id: None,
            name: String::new(),
            invited_at: req.now,
            expires_at: req.expires_at,
            joined_at: None,
            revoked_at: None,
        };
        self.staff_by_token.insert(req.token_sha256_hex, staff.id);
        self.staff.push(staff.clone());
        Ok(staff)
    }

    fn join_staff(&mut self, req: JoinStaff) -> StoreResult<StaffJoined> {
        let id = *self.staff_by_token.get(&req.token_sha256_hex).ok_or(Rejection::InvalidInvite)?;
        let staff = self.staff_clone(id)?;
        if staff.telegram_id == Some(req.telegram_id) && staff.revoked_at.is_none() {
            return Ok(StaffJoined { partner: self.partner_clone(staff.partner)?, staff, replayed: true });
        }
        if staff.revoked_at.is_some() || staff.telegram_id.is_some() || req.now > staff.expires_at {
            return rejected(Rejection::InvalidInvite);
        }
        let partner = self.approved_partner(PartnerRef::Id(staff.partner))?.clone();
        if self.partner_by_telegram.contains_key(&req.telegram_id) {
            return rejected(Rejection::AlreadyPartner);
        }
        if self.active_staff(req.telegram_id).is_some() {
            return rejected(Rejection::AlreadyStaff);
        }
        let row = slot(id.0).and_then(|i| self.staff.get_mut(i)).ok_or_else(|| broken("missing staff"))?;
        row.telegram_id = Some(req.telegram_id);
        row.name = req.name.trim().chars().take(64).collect();
        row.joined_at = Some(req.now);
        Ok(StaffJoined { staff: row.clone(), partner, replayed: false })
    }

    fn staff_of(&self, who: PartnerRef) -> StoreResult<Vec<Staff>> {
        let partner = self.find_partner(who).ok_or(Rejection::UnknownPartner)?;
        let active = |s: &&Staff| s.joined_at.is_some() && s.revoked_at.is_none();
        let mine = || self.staff.iter().rev().filter(|s| s.partner == partner);
        Ok(mine().filter(active).chain(mine().filter(|s| !active(s))).take(100).cloned().collect())
    }

    fn revoke_staff(&mut self, req: RevokeStaff) -> StoreResult<StaffRevoked> {
        let partner_id = self.find_partner(req.partner).ok_or(Rejection::UnknownPartner)?;
        let partner = self.partner_clone(partner_id)?;
        let row = match slot(req.staff.0).and_then(|i| self.staff.get_mut(i)) {
            Some(row) if row.partner == partner_id => row,
            _ => return rejected(Rejection::UnknownStaff),
        };
        let replayed = row.revoked_at.is_some();
        if !replayed {
            row.revoked_at = Some(req.now);
        }
        Ok(StaffRevoked { staff: row.clone(), partner, replayed })
    }

    /// The partner a webhook owner names (`None` for the program's), which
    /// must exist.
    fn webhook_owner(&self, owner: WebhookOwner) -> StoreResult<Option<PartnerId>> {
        match owner {
            WebhookOwner::Program => Ok(None),
            WebhookOwner::Partner(who) => {
                self.find_partner(who).map(Some).ok_or(StoreError::Rejected(Rejection::UnknownPartner))
            }
        }
    }

    fn add_webhook(&mut self, req: AddWebhook) -> StoreResult<WebhookAdded> {
        check_webhook(&req)?;
        let partner = self.webhook_owner(req.owner)?;
        if let Some(id) = self.webhook_keys.get(&(partner, req.idempotency_key.clone())) {
            let first = slot(id.0).and_then(|i| self.webhooks.get(i)).ok_or_else(|| broken("missing webhook"))?;
            if first.url != req.url || !same_events(&first.events, &req.events) {
                return rejected(Rejection::IdempotencyConflict);
            }
            return Ok(WebhookAdded { webhook: first.clone(), replayed: true });
        }
        if let Some(p) = partner {
            self.approved_partner(PartnerRef::Id(p))?;
        }
        let active = self.webhooks.iter().filter(|w| w.partner == partner && w.removed_at.is_none()).count();
        if active >= crate::outgoing::MAX_WEBHOOKS {
            return rejected(Rejection::WebhookLimit { max: crate::outgoing::MAX_WEBHOOKS as i64 });
        }
        let webhook = Webhook {
            id: WebhookId(next_id(self.webhooks.len())),
            partner,
            url: req.url,
            events: req.events,
            secret: req.secret,
            created_at: req.now,
            removed_at: None,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            last_success_at: None,
        };
        self.webhooks.push(webhook.clone());
        self.webhook_keys.insert((partner, req.idempotency_key), webhook.id);
        Ok(WebhookAdded { webhook, replayed: false })
    }

    fn webhooks_of(&self, owner: WebhookOwner) -> StoreResult<Vec<Webhook>> {
        let partner = self.webhook_owner(owner)?;
        Ok(self.webhooks.iter().rev().filter(|w| w.partner == partner && w.removed_at.is_none()).cloned().collect())
    }

    fn remove_webhook(&mut self, req: RemoveWebhook) -> StoreResult<Webhook> {
        let partner = self.webhook_owner(req.owner)?;
        match slot(req.id.0).and_then(|i| self.webhooks.get_mut(i)) {
            Some(w) if w.partner == partner => {
                w.removed_at.get_or_insert(req.now);
                Ok(w.clone())
            }
            _ => rejected(Rejection::UnknownWebhook),
        }
    }

    fn webhook_targets(&self, req: WebhookTargets) -> Vec<Webhook> {
        let approved = |p: PartnerId| self.partner(p).is_some_and(|r| r.partner.status == PartnerStatus::Approved);
        self.webhooks
            .iter()
            .filter(|w| w.removed_at.is_none() && w.events.contains(&req.event))
            .filter(|w| match w.partner {
                None => true,
                Some(p) => Some(p) == req.partner && approved(p),
            })
            .cloned()
            .collect()
    }

    fn record_webhook(&mut self, req: RecordWebhook) {
        if let Some(w) = slot(req.id.0).and_then(|i| self.webhooks.get_mut(i)) {
            w.last_attempt_at = Some(req.at);
            w.last_status = req.status;
            w.last_error = req.error.map(|e| e.chars().take(200).collect());
            if req.status.is_some_and(|s| (200..300).contains(&s)) {
                w.last_success_at = Some(req.at);
            }
        }
    }

    fn set_birthday(&mut self, req: SetBirthday) -> StoreResult<Birthday> {
        let birthday = Birthday::new(req.birthday.month, req.birthday.day)
            .ok_or(StoreError::Rejected(Rejection::InvalidAmount))?;
        let customer = self.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        if let Some(on_record) = self.birthdays.get(&customer) {
            return rejected(Rejection::BirthdayAlreadySet { birthday: *on_record });
        }
        self.birthdays.insert(customer, birthday);
        Ok(birthday)
    }

    fn credit_purchase(&mut self, req: CreditPurchase) -> StoreResult<Credited> {
        if let Some(e) = self.keyed_entry(&req.idempotency_key)? {
            let partner = self.find_till(req.partner).map(|(id, _)| id);
            let customer = self.find_customer(&req.customer);
            let same = e.kind == EntryKind::Accrual
                && e.partner.is_some()
                && e.partner == partner
                && Some(e.customer) == customer
                && e.purchase == Some(req.purchase);
            if !same {
                return rejected(Rejection::IdempotencyConflict);
            }
            let entry = e.clone();
            let customer = self.customer_clone(entry.customer)?;
            return Ok(Credited {
                tier_before: customer.tier,
                customer,
                partner: self.partner_clone(e.partner.ok_or_else(|| broken("accrual without partner"))?)?,
                awards: self.awards_of(entry.id)?,
                entry,
                replayed: true,
            });
        }
        if !(1..=rules::MAX_PURCHASE).contains(&req.purchase) {
            return rejected(Rejection::InvalidAmount);
        }
        let (partner, cashier) = self.approved_till(req.partner)?;
        let (partner_id, terms) = (partner.id, partner.terms);
        let (customer, tier_before) = {
            let c = self.active_customer(&req.customer)?;
            (c.id, c.tier)
        };
        let multiplier = crate::program::tier_multiplier(self.current_rules(), tier_before);
        let accrual = rules::earned(req.purchase, terms.earn_rate_bps, multiplier);
        let awards = self.campaign_awards(customer, partner_id, tier_before, accrual, req.now);
        let amount = awards.iter().fold(accrual, |sum, a| sum.saturating_add(a.points));
        let row = self.partner(partner_id).ok_or_else(|| broken("missing partner"))?;
        let used = self.credited_since(row, req.day_start);
        if used.saturating_add(amount) > terms.daily_credit_limit {
            let remaining = terms.daily_credit_limit.saturating_sub(used).max(0);
            return rejected(Rejection::DailyLimitExceeded { remaining });
        }
        let entry = self.append(Draft {
            customer,
            kind: EntryKind::Accrual,
            amount,
            partner: Some(partner_id),
            purchase: Some(req.purchase),
            idempotency_key: req.idempotency_key,
            author: Author::Partner(partner_id),
            reverses: None,
            reason: None,
            created_at: req.now,
            cashier,
        })?;
        for a in &awards {
            let c = self.campaign_mut(a.campaign)?;
            c.issued += a.points;
            let row = AwardRecord {
                campaign: a.campaign,
                entry: entry.id,
                customer,
                points: a.points,
                at: req.now,
                reversed: false,
            };
            self.awards.push(row);
        }
        Ok(Credited {
            entry,
            customer: self.customer_clone(customer)?,
            partner: self.partner_clone(partner_id)?,
            replayed: false,
            tier_before,
            awards,
        })
    }

    fn open_redemption(&mut self, req: OpenRedemption) -> StoreResult<RedemptionView> {
        if let Some(id) = self.redemption_by_key.get(&req.idempotency_key) {
            let row = slot(id.0).and_then(|i| self.redemptions.get(i)).ok_or_else(|| broken("dangling key"))?;
            let r = &row.request;
            let same = Some(r.partner) == self.find_till(req.partner).map(|(id, _)| id)
                && Some(r.customer) == self.find_customer(&req.customer)
                && r.points == req.points
                && r.purchase == req.purchase;
            if !same {
                return rejected(Rejection::IdempotencyConflict);
            }
            return self.redemption_view(r.clone(), true);
        }
        if req.points < 1 || !(1..=rules::MAX_PURCHASE).contains(&req.purchase) {
            return rejected(Rejection::InvalidAmount);
        }
        let (partner, cashier) = self.approved_till(req.partner)?;
        let (partner_id, share) = (partner.id, partner.terms.max_redeem_share_bps);
        let customer = self.active_customer(&req.customer)?;
        let max = rules::max_redeemable(req.purchase, share);
        if req.points > max {
            return rejected(Rejection::ExceedsMaxShare { max });
        }
        if req.points > customer.balance {
            return rejected(Rejection::InsufficientBalance { balance: customer.balance, requested: req.points });
        }
        let request = RedemptionRequest {
            id: RedemptionId(next_id(self.redemptions.len())),
            customer: customer.id,
            partner: partner_id,
            points: req.points,
            purchase: req.purchase,
            status: RedemptionStatus::Pending,
            created_at: req.now,
            expires_at: req.expires_at,
            entry: None,
            cashier,
        };
        self.redemption_by_key.insert(req.idempotency_key, request.id);
        self.redemptions.push(RedemptionRow { request: request.clone() });
        self.redemption_view(request, false)
    }

    fn confirm_redemption(&mut self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        let i = self.answerable(&req)?;
        let request = self.redemptions.get(i).ok_or_else(|| broken("missing request"))?.request.clone();
        match request.status {
            RedemptionStatus::Confirmed => return self.redemption_view(request, true),
            RedemptionStatus::Pending => {}
            status => return rejected(Rejection::RedemptionClosed { status }),
        }
        let partner = self.partner(request.partner).ok_or_else(|| broken("missing partner"))?;
        if partner.partner.status != PartnerStatus::Approved {
            return rejected(Rejection::PartnerNotApproved { status: partner.partner.status });
        }
        self.active_customer(&CustomerRef::Id(request.customer))?;
        let entry = self.append(Draft {
            customer: request.customer,
            kind: EntryKind::Redemption,
            amount: request.points.saturating_neg(),
            partner: Some(request.partner),
            purchase: Some(request.purchase),
            idempotency_key: redemption_key(request.id),
            author: Author::Customer(request.customer),
            reverses: None,
            reason: None,
            created_at: req.now,
            cashier: request.cashier,
        })?;
        let row = self.redemptions.get_mut(i).ok_or_else(|| broken("missing request"))?;
        row.request.status = RedemptionStatus::Confirmed;
        row.request.entry = Some(entry.id);
        let request = row.request.clone();
        self.redemption_view(request, false)
    }

    fn decline_redemption(&mut self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        let i = self.answerable(&req)?;
        let row = self.redemptions.get_mut(i).ok_or_else(|| broken("missing request"))?;
        let replayed = match row.request.status {
            RedemptionStatus::Declined => true,
            RedemptionStatus::Pending => {
                row.request.status = RedemptionStatus::Declined;
                false
            }
            status => return rejected(Rejection::RedemptionClosed { status }),
        };
        let request = row.request.clone();
        self.redemption_view(request, replayed)
    }

    fn reverse_entry(&mut self, req: ReverseEntry) -> StoreResult<Reversed> {
        if let Some(e) = self.keyed_entry(&req.idempotency_key)? {
            let same = e.kind == EntryKind::Reversal
                && e.reverses == Some(req.entry)
                && e.partner.is_some()
                && e.partner == self.find_partner(req.partner);
            if !same {
                return rejected(Rejection::IdempotencyConflict);
            }
            let reversal = e.clone();
            let partner = reversal.partner.ok_or_else(|| broken("reversal without a partner"))?;
            let customer = self.customer_clone(reversal.customer)?;
            return Ok(Reversed {
                original: self.entry_clone(req.entry)?,
                tier_before: customer.tier,
                customer,
                partner: self.partner_clone(partner)?,
                reversal,
                replayed: true,
            });
        }
        let partner = self.approved_partner(req.partner)?.id;
        let original = match self.entry(req.entry) {
            Some(e) if e.partner == Some(partner) => e.clone(),
            _ => return rejected(Rejection::UnknownEntry),
        };
        if !matches!(original.kind, EntryKind::Accrual | EntryKind::Redemption) {
            return rejected(Rejection::NotReversible);
        }
        if original.created_at < req.not_before {
            return rejected(Rejection::ReversalWindowClosed);
        }
        if self.is_reversed(original.id) {
            return rejected(Rejection::AlreadyReversed);
        }
        let tier_before = self.customer(original.customer).ok_or_else(|| broken("missing customer"))?.customer.tier;
        let reversal = self.append(Draft {
            customer: original.customer,
            kind: EntryKind::Reversal,
            amount: original.amount.saturating_neg(),
            partner: Some(partner),
            purchase: None,
            idempotency_key: req.idempotency_key,
            author: Author::Partner(partner),
            reverses: Some(original.id),
            reason: None,
            created_at: req.now,
            cashier: None,
        })?;
        // A reversed purchase takes back what campaigns paid on it, for their budgets.
        let given: Vec<(CampaignId, Points)> = self
            .awards
            .iter_mut()
            .filter(|a| a.entry == original.id && !a.reversed)
            .map(|a| {
                a.reversed = true;
                (a.campaign, a.points)
            })
            .collect();
        for (campaign, points) in given {
            self.campaign_mut(campaign)?.issued -= points;
        }
        Ok(Reversed {
            customer: self.customer_clone(original.customer)?,
            partner: self.partner_clone(partner)?,
            original,
            reversal,
            replayed: false,
            tier_before,
        })
    }

    fn adjust_balance(&mut self, req: AdjustBalance) -> StoreResult<Adjusted> {
        if let Some(e) = self.keyed_entry(&req.idempotency_key)? {
            let same = e.kind == EntryKind::Adjustment
                && Some(e.customer) == self.find_customer(&req.customer)
                && e.amount == req.amount
                && e.reason.as_deref() == Some(req.reason.as_str())
                && e.author == Author::Admin(req.admin);
            if !same {
                return rejected(Rejection::IdempotencyConflict);
            }
            let entry = e.clone();
            return Ok(Adjusted { customer: self.customer_clone(entry.customer)?, entry, replayed: true });
        }
        if req.amount == 0 || req.amount.unsigned_abs() > rules::MAX_ADJUSTMENT.unsigned_abs() {
            return rejected(Rejection::InvalidAmount);
        }
        let customer = self.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let entry = self.append(Draft {
            customer,
            kind: EntryKind::Adjustment,
            amount: req.amount,
            partner: None,
            purchase: None,
            idempotency_key: req.idempotency_key,
            author: Author::Admin(req.admin),
            reverses: None,
            reason: Some(req.reason.clone()),
            created_at: req.now,
            cashier: None,
        })?;
        let action = AuditAction::Adjusted { customer, entry: entry.id, amount: req.amount, reason: req.reason };
        self.audit(Some(req.admin), action, req.now);
        Ok(Adjusted { customer: self.customer_clone(customer)?, entry, replayed: false })
    }

    fn apply_partner(&mut self, req: PartnerApplication) -> StoreResult<Applied> {
        if let Some(id) = self.partner_by_telegram.get(&req.telegram_id).copied() {
            let row = self.partner_mut(id).ok_or_else(|| broken("missing partner"))?;
            return match row.partner.status {
                PartnerStatus::Applied => Ok(Applied { partner: row.partner.clone(), created: false }),
                PartnerStatus::Approved | PartnerStatus::Suspended => rejected(Rejection::AlreadyPartner),
                PartnerStatus::Rejected => {
                    let p = &mut row.partner;
                    p.status = PartnerStatus::Applied;
                    p.name = req.name;
                    p.category = req.category;
                    p.terms = req.terms;
                    p.language = req.language;
                    p.created_at = req.now;
                    Ok(Applied { partner: p.clone(), created: true })
                }
            };
        }
        // An active cashier works at someone else's till: revoked first, they may apply.
        if self.active_staff(req.telegram_id).is_some() {
            return rejected(Rejection::AlreadyStaff);
        }
        let partner = Partner {
            id: PartnerId(next_id(self.partners.len())),
            telegram_id: req.telegram_id,
            name: req.name,
            category: req.category,
            status: PartnerStatus::Applied,
            terms: req.terms,
            language: req.language,
            has_api_key: false,
            created_at: req.now,
        };
        self.partner_by_telegram.insert(partner.telegram_id, partner.id);
        self.partners.push(PartnerRow { partner: partner.clone(), api_key_sha256_hex: None, entries: Vec::new() });
        Ok(Applied { partner, created: true })
    }

    fn import_batch(&mut self, req: ImportBatch) -> StoreResult<ImportApplied> {
        if !req.check() {
            return rejected(Rejection::InvalidImport);
        }
        let source = req.source.as_str();
        // Everything that can refuse the whole batch is checked before any change.
        let new_customers: Vec<&ImportedCustomer> =
            req.customers.iter().filter(|c| !self.customer_by_telegram.contains_key(&c.telegram_id)).collect();
        let mut codes = HashSet::new();
        if new_customers.iter().any(|c| self.customer_by_code.contains_key(&c.code) || !codes.insert(&c.code)) {
            return rejected(Rejection::CodeTaken);
        }
        // A change past the range of a balance (only near 2⁶³) refuses the batch.
        let overflows = req.customers.iter().any(|c| {
            self.imports.get(&(source.to_owned(), c.telegram_id)).is_some_and(|row| {
                self.customer(row.customer)
                    .is_some_and(|r| r.customer.balance.checked_add(c.balance - row.balance).is_none())
            })
        });
        if overflows {
            return rejected(Rejection::InvalidAmount);
        }
        let mut out = ImportApplied::default();
        for p in &req.partners {
            if self.partner_by_telegram.contains_key(&p.telegram_id) {
                continue;
            }
            let partner = Partner {
                id: PartnerId(next_id(self.partners.len())),
                telegram_id: p.telegram_id,
                name: p.name.clone(),
                category: p.category.clone(),
                status: p.status,
                terms: p.terms,
                language: p.language,
                has_api_key: false,
                created_at: p.created_at,
            };
            self.partner_by_telegram.insert(partner.telegram_id, partner.id);
            self.partners.push(PartnerRow { partner, api_key_sha256_hex: None, entries: Vec::new() });
            out.partners_created += 1;
        }
        for c in &new_customers {
            let id = CustomerId(next_id(self.customers.len()));
            self.customers.push(CustomerRow {
                below_since: None,
                tier_checked_at: None,
                qualifying: 0,
                customer: Customer {
                    tier: 0,
                    id,
                    telegram_id: c.telegram_id,
                    code: c.code.clone(),
                    first_name: c.first_name.clone(),
                    username: c.username.clone(),
                    language: c.language,
                    referrer: None,
                    balance: 0,
                    blocked: false,
                    created_at: c.created_at,
                },
                entries: Vec::new(),
            });
            self.customer_by_telegram.insert(c.telegram_id, id);
            self.customer_by_code.insert(c.code.clone(), id);
            let row = ImportRow {
                customer: id,
                balance: c.balance,
                referral_code: c.referral_code.clone(),
                birthday: c.birthday.clone(),
            };
            self.imports.insert((source.to_owned(), c.telegram_id), row);
            if let Some(b) = c.birthday.as_deref().and_then(imported_birthday) {
                self.birthdays.entry(id).or_insert(b);
            }
            out.customers_created += 1;
        }
        for c in &new_customers {
            let referrer = c.referrer.filter(|r| *r != c.telegram_id).and_then(|r| self.customer_by_telegram.get(&r));
            if let Some(&referrer) = referrer {
                let id = self.customer_by_telegram[&c.telegram_id];
                self.customer_mut(id).ok_or_else(|| broken("missing customer"))?.customer.referrer = Some(referrer);
            }
        }
        let draft = |customer, kind, amount, key, at| Draft {
            customer,
            kind,
            amount,
            partner: None,
            purchase: None,
            idempotency_key: key,
            author: Author::System,
            reverses: None,
            reason: None,
            created_at: at,
            cashier: None,
        };
        for c in &new_customers {
            if c.balance > 0 {
                let id = self.customer_by_telegram[&c.telegram_id];
                self.append(draft(id, EntryKind::Import, c.balance, import_key(source, c.telegram_id), req.now))?;
            }
        }
        // Balance changes, then history, each in batch order.
        for c in &req.customers {
            let Some(row) = self.imports.get(&(source.to_owned(), c.telegram_id)) else {
                out.not_imported.push(c.telegram_id);
                continue;
            };
            let (id, change) = (row.customer, c.balance - row.balance);
            if change == 0 {
                continue;
            }
            let balance = self.customer(id).ok_or_else(|| broken("missing customer"))?.customer.balance;
            if balance + change < 0 {
                out.refused.push(RefusedChange { telegram_id: c.telegram_id, change, balance });
                continue;
            }
            let n = self.entries_of(id).filter(|e| e.kind == EntryKind::Import).count() as u64;
            self.append(draft(id, EntryKind::Import, change, import_change_key(source, c.telegram_id, n), req.now))?;
            if let Some(row) = self.imports.get_mut(&(source.to_owned(), c.telegram_id)) {
                row.balance = c.balance;
            }
            out.balances_changed += 1;
        }
        for c in &req.customers {
            let Some(id) = self.imports.get(&(source.to_owned(), c.telegram_id)).map(|r| r.customer) else {
                continue;
            };
            for h in &c.history {
                let key = import_history_key(source, &h.source_id);
                if self.entry_by_key.contains_key(&key) {
                    continue;
                }
                let partner = h.partner.and_then(|p| self.partner_by_telegram.get(&p).copied());
                let entry = Draft {
                    partner,
                    purchase: h.purchase,
                    reason: h.note.clone(),
                    ..draft(id, EntryKind::Legacy, h.amount, key, h.at)
                };
                self.append(entry)?;
                out.history_created += 1;
            }
        }
        for c in &req.customers {
            let id = self.customer_by_telegram[&c.telegram_id];
            let balance = self.customer(id).ok_or_else(|| broken("missing customer"))?.customer.balance;
            out.balances.push(ImportedBalance { telegram_id: c.telegram_id, balance });
        }
        Ok(out)
    }

    /// The entries of `customer`, oldest first.
    fn entries_of(&self, customer: CustomerId) -> impl Iterator<Item = &LedgerEntry> + '_ {
        self.customer(customer).into_iter().flat_map(|r| r.entries.iter()).filter_map(|id| self.entry(*id))
    }

    fn decide_partner(&mut self, req: DecidePartner) -> StoreResult<Decided> {
        let DecidePartner { partner: id, decision, admin, now } = req;
        use PartnerStatus::*;
        let row = self.partner_mut(id).ok_or(StoreError::Rejected(Rejection::UnknownPartner))?;
        let from = row.partner.status;
        let to = match (decision, from) {
            (PartnerDecision::Approve, Approved) => Approved,
            (PartnerDecision::Approve, Applied | Suspended) => Approved,
            (PartnerDecision::Reject, Rejected) => Rejected,
            (PartnerDecision::Reject, Applied) => Rejected,
            (PartnerDecision::Suspend, Suspended) => Suspended,
            (PartnerDecision::Suspend, Approved) => Suspended,
            _ => return rejected(Rejection::InvalidTransition),
        };
        row.partner.status = to;
        let partner = row.partner.clone();
        let changed = from != to;
        if changed {
            self.audit(Some(admin), AuditAction::PartnerDecided { partner: id, decision, status: to }, now);
        }
        Ok(Decided { partner, changed })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Storage for MemoryStore {
    async fn register_customer(&self, req: NewCustomer) -> StoreResult<Registration> {
        self.lock()?.register_customer(req)
    }

    async fn customer_view(&self, req: ViewCustomer) -> StoreResult<Option<CustomerView>> {
        let mut s = self.lock()?;
        let Some(CustomerSummary { customer, recent, .. }) = s.summary(&req.who, req.recent)? else {
            return Ok(None);
        };
        let partners = if req.partners { s.partners_with(Some(PartnerStatus::Approved)) } else { Vec::new() };
        let quota = match req.quota {
            Some(q) if !customer.blocked => {
                let QuotaUse { kind, day, limit } = q;
                Some(s.consume_quota(ConsumeQuota { kind, user: customer.telegram_id, day, limit }))
            }
            _ => None,
        };
        Ok(Some(CustomerView { customer, recent, partners, quota }))
    }

    async fn export_customers(&self, req: ExportCustomers) -> StoreResult<Vec<CustomerHistory>> {
        if !(1..=MAX_EXPORT_PAGE).contains(&req.limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let s = self.lock()?;
        let after = req.after.map_or(0, |id| id.0);
        let mut page: Vec<&CustomerRow> = s.customers.iter().filter(|r| r.customer.id.0 > after).collect();
        page.sort_by_key(|r| r.customer.id);
        page.truncate(req.limit as usize);
        page.into_iter()
            .map(|row| {
                let entries = row
                    .entries
                    .iter()
                    .map(|id| s.entry_clone(*id))
                    .filter(|e| !matches!(e, Ok(e) if matches!(e.kind, EntryKind::Import | EntryKind::Legacy)))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(CustomerHistory { customer: row.customer.clone(), entries })
            })
            .collect()
    }

    async fn customer_summary(&self, who: CustomerRef, recent: u32) -> StoreResult<Option<CustomerSummary>> {
        self.lock()?.summary(&who, recent)
    }

    async fn customer_entries(&self, page: EntriesPage) -> StoreResult<Vec<LedgerEntry>> {
        let EntriesPage { customer, limit, before } = page;
        let s = self.lock()?;
        let Some(row) = s.customer(customer) else {
            return Ok(Vec::new());
        };
        row.entries
            .iter()
            .rev()
            .filter(|id| before.is_none_or(|b| **id < b))
            .take(limit as usize)
            .map(|id| s.entry_clone(*id))
            .collect()
    }

    async fn set_language(&self, who: CustomerRef, language: Language) -> StoreResult<Customer> {
        let mut s = self.lock()?;
        let id = s.find_customer(&who).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let row = s.customer_mut(id).ok_or_else(|| broken("missing customer"))?;
        row.customer.language = language;
        Ok(row.customer.clone())
    }

    async fn set_blocked(&self, req: SetBlocked) -> StoreResult<Customer> {
        let SetBlocked { who, blocked, admin, now } = req;
        let mut s = self.lock()?;
        let id = s.find_customer(&who).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let row = s.customer_mut(id).ok_or_else(|| broken("missing customer"))?;
        let changed = row.customer.blocked != blocked;
        row.customer.blocked = blocked;
        let customer = row.customer.clone();
        if changed {
            s.audit(Some(admin), AuditAction::Blocked { customer: id, blocked }, now);
        }
        Ok(customer)
    }

    async fn credit_purchase(&self, req: CreditPurchase) -> StoreResult<Credited> {
        self.lock()?.credit_purchase(req)
    }

    async fn open_redemption(&self, req: OpenRedemption) -> StoreResult<RedemptionView> {
        self.lock()?.open_redemption(req)
    }

    async fn confirm_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.lock()?.confirm_redemption(req)
    }

    async fn decline_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.lock()?.decline_redemption(req)
    }

    async fn expire_redemptions(&self, now: Timestamp) -> StoreResult<Vec<RedemptionRequest>> {
        let mut s = self.lock()?;
        let mut expired = Vec::new();
        for row in &mut s.redemptions {
            if row.request.status == RedemptionStatus::Pending && row.request.expires_at < now {
                row.request.status = RedemptionStatus::Expired;
                expired.push(row.request.clone());
            }
        }
        Ok(expired)
    }

    async fn reverse_entry(&self, req: ReverseEntry) -> StoreResult<Reversed> {
        self.lock()?.reverse_entry(req)
    }

    async fn create_campaign(&self, req: CreateCampaign) -> StoreResult<Campaign> {
        self.lock()?.create_campaign(req)
    }

    async fn decide_campaign(&self, req: DecideCampaign) -> StoreResult<Campaign> {
        self.lock()?.decide_campaign(req)
    }

    async fn campaigns(&self, req: ListCampaigns) -> StoreResult<Vec<Campaign>> {
        self.lock()?.campaigns(&req)
    }

    async fn set_birthday(&self, req: SetBirthday) -> StoreResult<Birthday> {
        self.lock()?.set_birthday(req)
    }

    async fn publish_reward(&self, req: PublishReward) -> StoreResult<Reward> {
        self.lock()?.publish_reward(req)
    }

    async fn decide_reward(&self, req: DecideReward) -> StoreResult<RewardDecided> {
        self.lock()?.decide_reward(req)
    }

    async fn rewards(&self, req: ListRewards) -> StoreResult<Vec<Reward>> {
        self.lock()?.rewards(&req)
    }

    async fn claim_reward(&self, req: ClaimReward) -> StoreResult<VoucherView> {
        self.lock()?.claim_reward(req)
    }

    async fn use_voucher(&self, req: UseVoucher) -> StoreResult<VoucherView> {
        self.lock()?.use_voucher(req)
    }

    async fn cancel_voucher(&self, req: CancelVoucher) -> StoreResult<VoucherView> {
        self.lock()?.cancel_voucher(req)
    }

    async fn vouchers(&self, req: ListVouchers) -> StoreResult<Vec<VoucherView>> {
        self.lock()?.vouchers(&req)
    }

    async fn export_page(&self, page: ExportPage) -> StoreResult<ExportRows> {
        if !(1..=MAX_EXPORT_PAGE).contains(&page.limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let s = self.lock()?;
        let (first, n) = (usize::try_from(page.after.max(0)).unwrap_or(usize::MAX), page.limit as usize);
        Ok(match page.table {
            ExportTable::Customers => {
                ExportRows::Customers(s.customers.iter().skip(first).take(n).map(|r| r.customer.clone()).collect())
            }
            ExportTable::Partners => {
                ExportRows::Partners(s.partners.iter().skip(first).take(n).map(|r| r.partner.clone()).collect())
            }
            ExportTable::Entries => ExportRows::Entries(s.entries.iter().skip(first).take(n).cloned().collect()),
        })
    }

    async fn partner_entries(&self, page: PartnerEntriesPage) -> StoreResult<Vec<LedgerEntry>> {
        if !(1..=MAX_PARTNER_ENTRIES).contains(&page.limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let s = self.lock()?;
        let partner = s.find_partner(page.partner).ok_or(StoreError::Rejected(Rejection::UnknownPartner))?;
        let row = s.partner(partner).ok_or_else(|| broken("missing partner"))?;
        // Kept in time order; pages go by id, newest first.
        let mut ids: Vec<EntryId> =
            row.entries.iter().copied().filter(|id| page.before.is_none_or(|b| *id < b)).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.into_iter().take(page.limit as usize).map(|id| s.entry_clone(id)).collect()
    }

    async fn redemption(&self, req: ViewRedemption) -> StoreResult<Option<RedemptionView>> {
        let s = self.lock()?;
        let Some((partner, _)) = s.find_till(req.partner) else { return Ok(None) };
        match slot(req.id.0).and_then(|i| s.redemptions.get(i)) {
            Some(row) if row.request.partner == partner => s.redemption_view(row.request.clone(), false).map(Some),
            _ => Ok(None),
        }
    }

    async fn customer_redemptions(&self, req: CustomerRedemptions) -> StoreResult<Vec<PendingRedemption>> {
        let s = self.lock()?;
        let id = s.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        if s.customer(id).ok_or_else(|| broken("missing customer"))?.customer.blocked {
            return Ok(Vec::new());
        }
        let mut pending: Vec<&RedemptionRequest> = s
            .redemptions
            .iter()
            .map(|row| &row.request)
            .filter(|r| r.customer == id && r.status == RedemptionStatus::Pending && req.now <= r.expires_at)
            .collect();
        pending.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        pending
            .into_iter()
            .take(MAX_CUSTOMER_REDEMPTIONS as usize)
            .map(|r| {
                Ok(PendingRedemption {
                    id: r.id,
                    partner: r.partner,
                    partner_name: s.partner(r.partner).ok_or_else(|| broken("missing partner"))?.partner.name.clone(),
                    points: r.points,
                    purchase: r.purchase,
                    created_at: r.created_at,
                    expires_at: r.expires_at,
                })
            })
            .collect()
    }

    async fn adjust_balance(&self, req: AdjustBalance) -> StoreResult<Adjusted> {
        self.lock()?.adjust_balance(req)
    }

    async fn apply_partner(&self, req: PartnerApplication) -> StoreResult<Applied> {
        self.lock()?.apply_partner(req)
    }

    async fn decide_partner(&self, req: DecidePartner) -> StoreResult<Decided> {
        self.lock()?.decide_partner(req)
    }

    async fn partner(&self, who: PartnerRef) -> StoreResult<Option<Partner>> {
        let s = self.lock()?;
        Ok(s.find_till(who).and_then(|(id, _)| s.partner(id)).map(|r| r.partner.clone()))
    }

    async fn list_partners(&self, status: Option<PartnerStatus>) -> StoreResult<Vec<Partner>> {
        Ok(self.lock()?.partners_with(status))
    }

    async fn set_partner_api_key(&self, who: PartnerRef, key_sha256_hex: Option<String>) -> StoreResult<Partner> {
        let mut s = self.lock()?;
        let id = s.approved_partner(who)?.id;
        let row = s.partner_mut(id).ok_or_else(|| broken("missing partner"))?;
        row.partner.has_api_key = key_sha256_hex.is_some();
        row.api_key_sha256_hex = key_sha256_hex;
        Ok(row.partner.clone())
    }

    async fn partner_by_api_key(&self, key_sha256_hex: &str) -> StoreResult<Option<Partner>> {
        let s = self.lock()?;
        Ok(s.partners
            .iter()
            .find(|r| r.api_key_sha256_hex.as_deref() == Some(key_sha256_hex))
            .map(|r| r.partner.clone()))
    }

    async fn look_up_customer(&self, req: LookUpCustomer) -> StoreResult<CustomerCard> {
        let s = self.lock()?;
        let partner = s.approved_till(req.partner)?.0.clone();
        let id = s.find_customer(&req.customer).ok_or(StoreError::Rejected(Rejection::UnknownCustomer))?;
        let stamps = s.stamp_cards.get(&partner.id).map(|card| s.stamp_progress(card, id)).transpose()?;
        Ok(CustomerCard { partner, customer: s.customer_clone(id)?, stamps })
    }

    async fn partner_stats(&self, who: PartnerRef, today: Timestamp, week: Timestamp) -> StoreResult<PartnerStats> {
        let s = self.lock()?;
        let row = s.find_partner(who).and_then(|id| s.partner(id)).ok_or(Rejection::UnknownPartner)?;
        Ok(PartnerStats {
            partner: row.partner.clone(),
            today: s.period_stats(s.partner_entries_since(row, today), today),
            week: s.period_stats(s.partner_entries_since(row, week), week),
        })
    }

    async fn program_stats(&self, today: Timestamp) -> StoreResult<ProgramStats> {
        let s = self.lock()?;
        let count = |st: PartnerStatus| s.partners.iter().filter(|r| r.partner.status == st).count() as u64;
        Ok(ProgramStats {
            customers: s.customers.len() as u64,
            partners_approved: count(PartnerStatus::Approved),
            partners_pending: count(PartnerStatus::Applied),
            points_outstanding: s.customers.iter().fold(0, |sum: Points, r| sum.saturating_add(r.customer.balance)),
            expiring_30_days: s.lots.expiring_before(today.plus(30 * DAY_SECS)),
            expiring_90_days: s.lots.expiring_before(today.plus(90 * DAY_SECS)),
            customers_by_tier: s.customers.iter().fold([0; crate::program::MAX_TIERS], |mut by, r| {
                if let Some(n) = (r.customer.tier as usize).checked_sub(1).and_then(|i| by.get_mut(i)) {
                    *n += 1;
                }
                by
            }),
            rules_version: s.rules_version(),
            today: s.period_stats(s.entries.iter(), today),
        })
    }

    async fn daily_figures(&self, req: DailyFigures) -> StoreResult<Vec<DayFigures>> {
        if !(1..=MAX_FIGURE_DAYS).contains(&req.days) {
            return rejected(Rejection::InvalidAmount);
        }
        let s = self.lock()?;
        let entries: Box<dyn Iterator<Item = &LedgerEntry>> = match req.scope {
            FiguresScope::Partner(who) => {
                let row = s.find_partner(who).and_then(|id| s.partner(id)).ok_or(Rejection::UnknownPartner)?;
                Box::new(s.partner_entries_since(row, req.from))
            }
            FiguresScope::Program => Box::new(s.entries.iter().filter(|e| e.created_at >= req.from)),
        };
        let mut figures: Vec<DayFigures> = (0..i64::from(req.days))
            .map(|i| DayFigures { day: req.from.plus(i * DAY_SECS), issued: 0, redeemed: 0 })
            .collect();
        for e in entries.filter(|e| !s.is_reversed(e.id)) {
            let day = e.created_at.0.saturating_sub(req.from.0) / DAY_SECS;
            let Some(f) = usize::try_from(day).ok().and_then(|i| figures.get_mut(i)) else { continue };
            match e.kind {
                EntryKind::Accrual => f.issued = f.issued.saturating_add(e.amount),
                EntryKind::Redemption => f.redeemed = f.redeemed.saturating_sub(e.amount),
                _ => {}
            }
        }
        Ok(figures)
    }

    async fn claim_update(&self, claim: UpdateClaim) -> StoreResult<bool> {
        let UpdateClaim { bot, update_id, now, body, finished } = claim;
        let mut s = self.lock()?;
        s.finish_updates(finished);
        if s.updates.contains_key(&(bot, update_id)) {
            return Ok(false);
        }
        s.updates.insert((bot, update_id), ClaimRow { at: now, body });
        Ok(true)
    }

    async fn import_batch(&self, req: ImportBatch) -> StoreResult<ImportApplied> {
        self.lock()?.import_batch(req)
    }

    async fn prune_update_claims(&self, before: Timestamp) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let n = s.updates.len();
        s.updates.retain(|_, claim| claim.at >= before);
        let pruned = (n - s.updates.len()) as u64;
        s.quotas.retain(|(_, _, window), _| *window >= before);
        // Settled messages are kept (their rows, so ids stay positions) but their keys go.
        let gone: HashSet<MessageId> =
            s.outbox.iter().filter(|r| r.settled_at.is_some_and(|at| at < before)).map(|r| r.message.id).collect();
        s.outbox_keys.retain(|_, id| !gone.contains(id));
        for row in s.outbox.iter_mut().filter(|r| gone.contains(&r.message.id)) {
            row.message.payload.clear();
            row.delivery = Delivery::Pruned;
        }
        Ok(pruned)
    }

    async fn release_update(&self, bot: BotId, update_id: i64) -> StoreResult<()> {
        self.lock()?.updates.remove(&(bot, update_id));
        Ok(())
    }

    async fn consume_quota(&self, req: ConsumeQuota) -> StoreResult<bool> {
        Ok(self.lock()?.consume_quota(req))
    }

    async fn swap_job_state(&self, req: SwapJobState) -> StoreResult<Option<JobState>> {
        self.lock()?.swap_job_state(req)
    }

    async fn enqueue_messages(&self, req: EnqueueMessages) -> StoreResult<Enqueued> {
        self.lock()?.enqueue_messages(req)
    }

    async fn take_messages(&self, req: TakeMessages) -> StoreResult<Vec<OutboxMessage>> {
        self.lock()?.take_messages(req)
    }

    async fn settle_messages(&self, req: SettleMessages) -> StoreResult<()> {
        self.lock()?.settle_messages(req)
    }

    async fn stale_updates(&self, req: StaleUpdates) -> StoreResult<Vec<StaleUpdate>> {
        self.lock()?.stale_updates(req)
    }

    async fn set_stamp_card(&self, req: SetStampCard) -> StoreResult<Option<StampCard>> {
        self.lock()?.set_stamp_card(req)
    }

    async fn add_stamp(&self, req: AddStamp) -> StoreResult<Stamped> {
        self.lock()?.add_stamp(req)
    }

    async fn stamp_cards(&self, who: CustomerRef) -> StoreResult<Vec<StampProgress>> {
        self.lock()?.stamp_cards(&who)
    }

    async fn invite_staff(&self, req: InviteStaff) -> StoreResult<Staff> {
        self.lock()?.invite_staff(req)
    }

    async fn join_staff(&self, req: JoinStaff) -> StoreResult<StaffJoined> {
        self.lock()?.join_staff(req)
    }

    async fn staff(&self, who: PartnerRef) -> StoreResult<Vec<Staff>> {
        self.lock()?.staff_of(who)
    }

    async fn revoke_staff(&self, req: RevokeStaff) -> StoreResult<StaffRevoked> {
        self.lock()?.revoke_staff(req)
    }

    async fn add_webhook(&self, req: AddWebhook) -> StoreResult<WebhookAdded> {
        self.lock()?.add_webhook(req)
    }

    async fn webhooks(&self, owner: WebhookOwner) -> StoreResult<Vec<Webhook>> {
        self.lock()?.webhooks_of(owner)
    }

    async fn remove_webhook(&self, req: RemoveWebhook) -> StoreResult<Webhook> {
        self.lock()?.remove_webhook(req)
    }

    async fn webhook_targets(&self, req: WebhookTargets) -> StoreResult<Vec<Webhook>> {
        Ok(self.lock()?.webhook_targets(req))
    }

    async fn record_webhook(&self, req: RecordWebhook) -> StoreResult<()> {
        self.lock()?.record_webhook(req);
        Ok(())
    }

    async fn personal_data(&self, who: CustomerRef) -> StoreResult<Option<PersonalData>> {
        self.lock()?.personal_data(&who)
    }

    async fn erase_customer(&self, req: EraseCustomer) -> StoreResult<Erased> {
        self.lock()?.erase_customer(req)
    }

    async fn audit_log(&self, page: AuditPage) -> StoreResult<Vec<AuditRecord>> {
        if !(1..=MAX_AUDIT_PAGE).contains(&page.limit) {
            return rejected(Rejection::InvalidAmount);
        }
        let s = self.lock()?;
        let older = |r: &&AuditRecord| page.before.is_none_or(|b| r.id < b);
        Ok(s.audit.iter().rev().filter(older).take(page.limit as usize).cloned().collect())
    }

    async fn outbox_state(&self, _now: Timestamp) -> StoreResult<OutboxState> {
        Ok(self.lock()?.outbox_state())
    }

    async fn create_broadcast(&self, req: NewBroadcast) -> StoreResult<BroadcastJob> {
        let mut s = self.lock()?;
        if let Some(id) = s.broadcast_by_key.get(&req.idempotency_key).copied() {
            let job = &s.broadcast_mut(id)?.job;
            if job.audience != req.audience || job.text != req.text || job.admin_chat != req.admin_chat {
                return rejected(Rejection::IdempotencyConflict);
            }
            return Ok(job.clone());
        }
        let total = u32::try_from(s.audience(req.audience, 0).count()).unwrap_or(u32::MAX);
        let job = BroadcastJob {
            id: BroadcastId(next_id(s.broadcasts.len())),
            audience: req.audience,
            text: req.text,
            admin_chat: req.admin_chat,
            total,
            sent: 0,
            failed: 0,
            cursor: 0,
            done: false,
            created_at: req.now,
        };
        s.broadcast_by_key.insert(req.idempotency_key, job.id);
        s.broadcasts.push(BroadcastRow { job: job.clone() });
        Ok(job)
    }

    async fn claim_broadcast_batch(&self, job: BroadcastId, limit: u32) -> StoreResult<BroadcastBatch> {
        let mut s = self.lock()?;
        let current = s.broadcast_mut(job)?.job.clone();
        if current.done {
            return Ok(BroadcastBatch { job: current, recipients: Vec::new() });
        }
        let batch: Vec<(i64, Recipient)> = s.audience(current.audience, current.cursor).take(limit as usize).collect();
        let cursor = batch.last().map_or(current.cursor, |(pos, _)| *pos);
        let done = s.audience(current.audience, cursor).next().is_none();
        let row = s.broadcast_mut(job)?;
        row.job.cursor = cursor;
        row.job.done = done;
        Ok(BroadcastBatch { job: row.job.clone(), recipients: batch.into_iter().map(|(_, r)| r).collect() })
    }

    async fn record_broadcast(&self, job: BroadcastId, sent: u32, failed: u32) -> StoreResult<BroadcastJob> {
        let mut s = self.lock()?;
        let row = s.broadcast_mut(job)?;
        row.job.sent = row.job.sent.saturating_add(sent);
        row.job.failed = row.job.failed.saturating_add(failed);
        Ok(row.job.clone())
    }

    async fn pending_broadcasts(&self) -> StoreResult<Vec<BroadcastJob>> {
        let s = self.lock()?;
        Ok(s.broadcasts.iter().filter(|r| !r.job.done).map(|r| r.job.clone()).collect())
    }

    async fn program_rules(&self) -> StoreResult<RulesVersion> {
        Ok(self.lock()?.rules.last().cloned().unwrap_or_else(RulesVersion::initial))
    }

    async fn set_program_rules(&self, req: SetProgramRules) -> StoreResult<RulesVersion> {
        self.lock()?.set_program_rules(req)
    }

    async fn expire_points(&self, req: ExpirePoints) -> StoreResult<Vec<PointsExpired>> {
        self.lock()?.expire_points(req)
    }

    async fn remind_expiry(&self, req: RemindExpiry) -> StoreResult<Vec<ExpiryReminder>> {
        self.lock()?.remind_expiry(req)
    }

    async fn refresh_tiers(&self, req: RefreshTiers) -> StoreResult<TiersRefreshed> {
        self.lock()?.refresh_tiers(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    const T0: Timestamp = Timestamp(1_700_000_000);

    fn code(n: u8) -> CustomerCode {
        CustomerCode::from_random([n, n, n, n, n])
    }

    fn new_customer(tg: i64, n: u8, referrer: Option<CustomerCode>) -> NewCustomer {
        NewCustomer {
            telegram_id: TelegramUserId(tg),
            code: code(n),
            first_name: format!("user{tg}"),
            username: None,
            language: Language::En,
            referrer,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 100,
            referral_bonus: 50,
            now: T0,
        }
    }

    async fn approved_partner(s: &MemoryStore, tg: i64) -> Partner {
        let applied = s
            .apply_partner(PartnerApplication {
                telegram_id: TelegramUserId(tg),
                name: "Cafe".into(),
                category: "cafe".into(),
                terms: PartnerTerms::default(),
                language: Language::En,
                now: T0,
            })
            .await
            .unwrap();
        s.decide_partner(DecidePartner {
            partner: applied.partner.id,
            decision: PartnerDecision::Approve,
            admin: TelegramUserId(1),
            now: T0,
        })
        .await
        .unwrap()
        .partner
    }

    fn credit(p: &Partner, c: &Customer, purchase: Points, key: &str) -> CreditPurchase {
        CreditPurchase {
            partner: PartnerRef::Id(p.id),
            customer: CustomerRef::Code(c.code.clone()),
            purchase,
            idempotency_key: key.into(),
            day_start: T0.day_start(),
            now: T0,
        }
    }

    #[test]
    fn registration_bonuses_and_referral() {
        block_on(async {
            let s = MemoryStore::new();
            let a = s.register_customer(new_customer(10, 1, None)).await.unwrap();
            assert!(a.created);
            assert_eq!(a.customer.balance, 100);
            assert_eq!(a.welcome.unwrap().idempotency_key, welcome_key(a.customer.id));
            let b = s.register_customer(new_customer(11, 2, Some(a.customer.code.clone()))).await.unwrap();
            let (referrer, entry) = b.referral.unwrap();
            assert_eq!(referrer.balance, 150);
            assert_eq!(entry.idempotency_key, referral_key(b.customer.id));
            assert_eq!(b.customer.referrer, Some(a.customer.id));
            // Again: unchanged, no bonus.
            let again = s.register_customer(new_customer(11, 3, Some(a.customer.code.clone()))).await.unwrap();
            assert!(!again.created && again.welcome.is_none() && again.referral.is_none());
            assert_eq!(again.customer, b.customer);
            // Self-referral is ignored, a taken code refused.
            let c = s.register_customer(new_customer(12, 4, Some(code(4)))).await.unwrap();
            assert_eq!(c.customer.referrer, None);
            assert_eq!(
                s.register_customer(new_customer(13, 1, None)).await,
                Err(StoreError::Rejected(Rejection::CodeTaken))
            );
            assert_eq!(s.entries().unwrap().len(), 4);
        });
    }

    #[test]
    fn credit_redeem_reverse_adjust() {
        block_on(async {
            let s = MemoryStore::new();
            let c = s.register_customer(new_customer(10, 1, None)).await.unwrap().customer;
            let p = approved_partner(&s, 20).await;
            let credited = s.credit_purchase(credit(&p, &c, 1_000, "k1")).await.unwrap();
            assert_eq!((credited.entry.amount, credited.customer.balance), (50, 150));
            let replay = s.credit_purchase(credit(&p, &c, 1_000, "k1")).await.unwrap();
            assert!(replay.replayed);
            assert_eq!(replay.entry, credited.entry);
            assert_eq!(
                s.credit_purchase(credit(&p, &c, 999, "k1")).await,
                Err(StoreError::Rejected(Rejection::IdempotencyConflict))
            );
            assert_eq!(
                s.credit_purchase(credit(&p, &c, 1, "welcome:99")).await,
                Err(StoreError::Rejected(Rejection::IdempotencyConflict))
            );

            let open = OpenRedemption {
                partner: PartnerRef::Id(p.id),
                customer: CustomerRef::Id(c.id),
                points: 120,
                purchase: 1_000,
                idempotency_key: "r1".into(),
                now: T0,
                expires_at: T0.plus(600),
            };
            let opened = s.open_redemption(open.clone()).await.unwrap();
            assert_eq!(opened.request.status, RedemptionStatus::Pending);
            let answer = AnswerRedemption { id: opened.request.id, customer: CustomerRef::Id(c.id), now: T0.plus(10) };
            let confirmed = s.confirm_redemption(answer.clone()).await.unwrap();
            assert_eq!(confirmed.customer.balance, 30);
            let again = s.confirm_redemption(answer.clone()).await.unwrap();
            assert!(again.replayed);
            assert_eq!(again.entry, confirmed.entry);
            assert_eq!(
                s.decline_redemption(answer).await,
                Err(StoreError::Rejected(Rejection::RedemptionClosed { status: RedemptionStatus::Confirmed }))
            );

            let reverse = ReverseEntry {
                entry: credited.entry.id,
                partner: PartnerRef::Id(p.id),
                idempotency_key: "rev1".into(),
                not_before: T0.plus(-86_400),
                now: T0.plus(20),
            };
            assert!(matches!(
                s.reverse_entry(reverse.clone()).await,
                Err(StoreError::Rejected(Rejection::InsufficientBalance { balance: 30, requested: 50 }))
            ));
            let adjust = AdjustBalance {
                customer: CustomerRef::Id(c.id),
                amount: 20,
                reason: "goodwill".into(),
                admin: TelegramUserId(1),
                idempotency_key: "adj1".into(),
                now: T0,
            };
            assert_eq!(s.adjust_balance(adjust).await.unwrap().customer.balance, 50);
            let reversed = s.reverse_entry(reverse.clone()).await.unwrap();
            assert_eq!((reversed.reversal.amount, reversed.customer.balance), (-50, 0));
            assert!(s.reverse_entry(reverse).await.unwrap().replayed);
            let twice = ReverseEntry {
                entry: credited.entry.id,
                partner: PartnerRef::Id(p.id),
                idempotency_key: "rev2".into(),
                not_before: T0,
                now: T0,
            };
            assert_eq!(s.reverse_entry(twice).await, Err(StoreError::Rejected(Rejection::AlreadyReversed)));
            let page = AuditPage { before: None, limit: 10 };
            assert_eq!(s.audit_log(page).await.unwrap().len(), 2, "approval and adjustment");
        });
    }

    #[test]
    fn expiry_on_answer_and_sweep() {
        block_on(async {
            let s = MemoryStore::new();
            let c = s.register_customer(new_customer(10, 1, None)).await.unwrap().customer;
            let p = approved_partner(&s, 20).await;
            let mut ids = Vec::new();
            for key in ["a", "b"] {
                let open = OpenRedemption {
                    partner: PartnerRef::Telegram(p.telegram_id),
                    customer: CustomerRef::Telegram(c.telegram_id),
                    points: 10,
                    purchase: 100,
                    idempotency_key: key.into(),
                    now: T0,
                    expires_at: T0.plus(600),
                };
                ids.push(s.open_redemption(open).await.unwrap().request.id);
            }
            let late = AnswerRedemption { id: ids[0], customer: CustomerRef::Id(c.id), now: T0.plus(601) };
            assert_eq!(
                s.confirm_redemption(late.clone()).await,
                Err(StoreError::Rejected(Rejection::RedemptionExpired))
            );
            assert_eq!(
                s.confirm_redemption(late).await,
                Err(StoreError::Rejected(Rejection::RedemptionClosed { status: RedemptionStatus::Expired }))
            );
            assert!(s.expire_redemptions(T0.plus(600)).await.unwrap().is_empty());
            let swept = s.expire_redemptions(T0.plus(601)).await.unwrap();
            assert_eq!(swept.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[1]]);
            assert_eq!(s.customers().unwrap()[0].balance, 100);
        });
    }

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<MemoryStore>();
    }
}
