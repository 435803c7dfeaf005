//! The storage port: one method per use case, each one atomic round trip.
//!
//! A backend such as Postgres implements every method as a single function call
//! (or a single transaction); the in-memory store holds one lock per call. No
//! method expects the caller to read, decide and write back: the decision is
//! made inside the call, from the inputs given here (including `now` and the
//! day boundaries, which the core computes from its [`Clock`](super::Clock)).
//!
//! Every money-moving request carries an `idempotency_key`. Applying the same
//! key again returns the first result with `replayed = true`; the same key with
//! different parameters is [`Rejection::IdempotencyConflict`].

use super::import::{ImportApplied, ImportBatch};
use crate::domain::*;
use crate::maybe_send::{MaybeSend, MaybeSync};
use crate::outgoing::WebhookEvent;
pub use crate::program::ExpiringPoints;
use crate::program::RulesVersion;
use crate::program::campaigns::{Award, Birthday, Campaign, CampaignStatus, CampaignTerms};
use crate::program::rewards::{Reward, RewardOffer, RewardStatus, Voucher, VoucherStatus};
pub use crate::program::stamps::{StampCard, StampProgress};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Why a storage call did not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A rule of the program refused the operation; nothing changed. Permanent.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The backend could not be reached or asked to retry (connection lost,
    /// serialization failure, pool timeout, 5xx). Nothing was applied, or the
    /// operation was applied and a retry with the same idempotency key is safe.
    #[error("storage temporarily unavailable: {0}")]
    Unavailable(String),
    /// The backend failed in a way a retry will not fix (bad schema, bug).
    #[error("storage failure: {0}")]
    Backend(String),
    /// The call was to claim an update as well ([`Storage::fold_claim`]) and
    /// the update had been claimed before: a duplicate delivery. Nothing was
    /// applied; the engine drops the update.
    #[error("the update was claimed before (a duplicate delivery)")]
    DuplicateUpdate,
}

impl StoreError {
    /// Whether retrying the same call later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<Rejection> for StoreError {
    fn from(r: Rejection) -> Self {
        StoreError::Rejected(r)
    }
}

/// A rule of the program that refused an operation. Bots turn each into a
/// helpful message; the API into a 4xx error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rejection {
    /// No such customer.
    #[error("unknown customer")]
    UnknownCustomer,
    /// No such partner.
    #[error("unknown partner")]
    UnknownPartner,
    /// No such ledger entry (or not one this partner may touch).
    #[error("unknown entry")]
    UnknownEntry,
    /// No such redemption request.
    #[error("unknown redemption request")]
    UnknownRedemption,
    /// The customer is blocked.
    #[error("customer is blocked")]
    CustomerBlocked,
    /// The partner is not approved (applied, rejected or suspended).
    #[error("partner is not approved ({status:?})")]
    PartnerNotApproved {
        /// Where the partner stands, so a refusal can say so without
        /// another lookup.
        status: PartnerStatus,
    },
    /// The balance does not cover the debit.
    #[error("insufficient balance: {balance} < {requested}")]
    InsufficientBalance {
        /// Current balance.
        balance: Points,
        /// Points the operation needs.
        requested: Points,
    },
    /// More points than the partner's maximum share of the purchase.
    #[error("at most {max} points may pay for this purchase")]
    ExceedsMaxShare {
        /// Largest payable amount.
        max: Points,
    },
    /// The partner's daily credit limit would be exceeded.
    #[error("daily credit limit reached; {remaining} points left today")]
    DailyLimitExceeded {
        /// Points the partner may still credit today.
        remaining: Points,
    },
    /// Zero, negative or absurdly large amount.
    #[error("invalid amount")]
    InvalidAmount,
    /// The entry has already been reversed.
    #[error("entry already reversed")]
    AlreadyReversed,
    /// Only accruals and redemptions can be reversed.
    #[error("this entry cannot be reversed")]
    NotReversible,
    /// The reversal window (24 h) has passed.
    #[error("reversal window has passed")]
    ReversalWindowClosed,
    /// The redemption request expired before it was answered.
    #[error("redemption request expired")]
    RedemptionExpired,
    /// The redemption request was already answered.
    #[error("redemption request is already {status:?}")]
    RedemptionClosed {
        /// Its current status.
        status: RedemptionStatus,
    },
    /// The request belongs to another customer.
    #[error("this redemption request belongs to someone else")]
    NotYourRedemption,
    /// The idempotency key was used before with different parameters.
    #[error("idempotency key reused with different parameters")]
    IdempotencyConflict,
    /// The generated customer code is taken; the caller retries with another.
    #[error("customer code already taken")]
    CodeTaken,
    /// The partner's status does not allow this transition.
    #[error("partner status does not allow this")]
    InvalidTransition,
    /// This Telegram user is already registered as a partner.
    #[error("already a partner")]
    AlreadyPartner,
    /// An import batch breaks a rule of [`ImportBatch`] (a repeated Telegram
    /// id or history id, an amount out of range, a bad source name).
    #[error("invalid import batch")]
    InvalidImport,
    /// A rules document breaks a rule of [`ProgramRules::check`](crate::program::ProgramRules::check).
    #[error("invalid rules: {reason}")]
    InvalidRules {
        /// What is wrong, in English.
        reason: String,
    },
    /// Campaign terms break a rule of [`CampaignTerms::check`].
    #[error("invalid campaign: {reason}")]
    InvalidCampaign {
        /// What is wrong, in English.
        reason: String,
    },
    /// No such campaign (or not one this partner may touch).
    #[error("unknown campaign")]
    UnknownCampaign,
    /// The campaign's status does not allow this (approving an active one,
    /// ending a rejected one, a partner approving its own).
    #[error("the campaign is {status:?}")]
    CampaignClosed {
        /// Its status.
        status: CampaignStatus,
    },
    /// The rules do not let partners run campaigns (`campaigns.partners: off`).
    #[error("partners may not run campaigns")]
    PartnerCampaignsOff,
    /// The customer's birthday is set already (it is set once).
    #[error("birthday already set")]
    BirthdayAlreadySet {
        /// The birthday on record.
        birthday: Birthday,
    },
    /// A reward's offer breaks a rule of [`RewardOffer::check`].
    #[error("invalid reward: {reason}")]
    InvalidReward {
        /// What is wrong, in English.
        reason: String,
    },
    /// No such reward (or not one this partner may touch).
    #[error("unknown reward")]
    UnknownReward,
    /// The reward cannot be claimed now: not active, outside its window, or
    /// its partner is not approved.
    #[error("reward not available")]
    RewardUnavailable,
    /// The reward's stock is all claimed.
    #[error("reward out of stock")]
    OutOfStock,
    /// The reward's status does not allow this decision.
    #[error("the reward is {status:?}")]
    RewardClosed {
        /// Its status.
        status: RewardStatus,
    },
    /// No such voucher (or not one this partner or customer may touch).
    #[error("unknown voucher")]
    UnknownVoucher,
    /// The voucher was used or cancelled already.
    #[error("the voucher is {status:?}")]
    VoucherClosed {
        /// Its status.
        status: VoucherStatus,
    },
    /// The stamp card's terms are not acceptable (see
    /// [`check_card`](crate::program::stamps::check_card)).
    #[error("invalid stamp card: {reason}")]
    InvalidStampCard {
        /// What is wrong, in English.
        reason: String,
    },
    /// The partner runs no stamp card.
    #[error("no stamp card at this partner")]
    NoStampCard,
    /// A staff invitation that is unknown, expired, revoked or used by
    /// someone else.
    #[error("invalid or expired staff invitation")]
    InvalidInvite,
    /// The partner has [`rules::MAX_STAFF`] cashiers and open invitations.
    #[error("at most {max} staff")]
    StaffLimit {
        /// The limit.
        max: i64,
    },
    /// This Telegram user is a cashier already (of this partner or another).
    #[error("already a cashier")]
    AlreadyStaff,
    /// No such staff member of this partner.
    #[error("unknown staff member")]
    UnknownStaff,
    /// An endpoint's URL or events break a rule of
    /// [`check_url`](crate::outgoing::check_url) or
    /// [`check_events`](crate::outgoing::check_events).
    #[error("invalid webhook: {reason}")]
    InvalidWebhook {
        /// What is wrong, in English.
        reason: String,
    },
    /// The owner has [`MAX_WEBHOOKS`](crate::outgoing::MAX_WEBHOOKS) endpoints.
    #[error("at most {max} webhook endpoints")]
    WebhookLimit {
        /// The limit.
        max: i64,
    },
    /// No such endpoint of this owner.
    #[error("unknown webhook endpoint")]
    UnknownWebhook,
}

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Identifies a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum CustomerRef {
    /// By internal id.
    Id(CustomerId),
    /// By Telegram user id.
    Telegram(TelegramUserId),
    /// By public code.
    Code(CustomerCode),
}

/// Identifies a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum PartnerRef {
    /// By internal id.
    Id(PartnerId),
    /// By the Telegram id of the user operating it (its owner's account).
    Telegram(TelegramUserId),
    /// By the Telegram id of someone at its till: the owner's account, or one
    /// of its active cashiers ([`Staff`]). Only the till's calls take it —
    /// [`Storage::partner`], [`Storage::look_up_customer`],
    /// [`Storage::credit_purchase`], [`Storage::open_redemption`],
    /// [`Storage::redemption`], [`Storage::add_stamp`] and
    /// [`Storage::use_voucher`] — and those that write record the cashier on
    /// what they write; every other call answers it as an unknown partner, so
    /// a cashier never sees the figures ([`Storage::partner_stats`],
    /// [`Storage::daily_figures`]) or the keys, nor manages staff.
    Till(TelegramUserId),
}

/// Sign-up of a Telegram user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCustomer {
    /// The user.
    pub telegram_id: TelegramUserId,
    /// A fresh random code (used only if the customer is new).
    pub code: CustomerCode,
    /// First name.
    pub first_name: String,
    /// Username.
    pub username: Option<String>,
    /// Initial language.
    pub language: Language,
    /// Code from a `ref_<code>` deep link. Unknown codes and self-referrals are
    /// ignored (the sign-up still succeeds, without referral bonus).
    pub referrer: Option<CustomerCode>,
    /// The other system's referral code from a `ref_<code>` link that is not
    /// one of ours (links printed before an import, see
    /// [`ImportedCustomer::referral_code`](crate::ports::ImportedCustomer::referral_code)):
    /// the referrer is the imported customer with that code (the lowest id if
    /// two sources share it), under the same conditions as `referrer`, which
    /// is tried first.
    #[serde(default)]
    pub legacy_referrer: Option<String>,
    /// The partner whose link the user followed (`/start partner_<id>`, the
    /// links printed on partners' counters), by Telegram id: the answer names
    /// it ([`Registration::partner`]) when it is approved. Changes nothing.
    #[serde(default)]
    pub via_partner: Option<TelegramUserId>,
    /// Welcome bonus to credit, once per customer (`WELCOME_BONUS_AMOUNT`); 0 for none.
    pub welcome_bonus: Points,
    /// Bonus to credit to the referrer, once per referred customer; 0 for none.
    pub referral_bonus: Points,
    /// Current time.
    pub now: Timestamp,
}

/// Outcome of [`Storage::register_customer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The customer after the call.
    pub customer: Customer,
    /// `false` when the user was already registered (nothing changed).
    pub created: bool,
    /// The welcome bonus entry, when this call created it.
    pub welcome: Option<LedgerEntry>,
    /// The referrer and their bonus entry, when this call credited it.
    pub referral: Option<(Customer, LedgerEntry)>,
    /// The approved partner named by [`NewCustomer::via_partner`], new
    /// customer or not.
    #[serde(default)]
    pub partner: Option<Partner>,
}

/// A customer with their most recent entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// The customer.
    pub customer: Customer,
    /// Newest first.
    pub recent: Vec<LedgerEntry>,
    /// The customer's points that have an expiry date, by date, soonest
    /// first: up to [`EXPIRING_DATES`](crate::program::EXPIRING_DATES) dates
    /// (one already past stays listed until the expiry job takes its points).
    #[serde(default)]
    pub expiring: Vec<ExpiringPoints>,
    /// The customer's qualifying points for tiers as of the last recompute of
    /// their tier (a credit, a reversal, the daily refresh; 0 without tiers):
    /// their purchases' points, reversed ones left out, within the rules'
    /// `tiers.window_days` before it.
    #[serde(default)]
    pub qualifying: Points,
}

/// Recompute the tiers that time may change ([`Storage::refresh_tiers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTiers {
    /// Current time.
    pub now: Timestamp,
    /// Customers to check in this call, 1..=[`MAX_EXPIRY_BATCH`].
    pub limit: u32,
}

/// What [`Storage::refresh_tiers`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TiersRefreshed {
    /// Customers checked (fewer than the limit: none is left to check now).
    pub checked: u32,
    /// The customers whose tier changed, after the change, in id order.
    pub changed: Vec<TierChange>,
}

/// A customer's tier changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    /// The customer, with the new tier.
    pub customer: Customer,
    /// The tier before.
    pub from: u8,
}

/// Who makes or changes a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum CampaignActor {
    /// An admin, by Telegram id: any campaign.
    Admin(TelegramUserId),
    /// A partner (must be approved): its own place's campaigns only.
    Partner(PartnerRef),
}

/// Make a campaign ([`Storage::create_campaign`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateCampaign {
    /// The terms; they must pass [`CampaignTerms::check`]. A partner's
    /// campaign is for its own place whatever `terms.partner` says.
    pub terms: CampaignTerms,
    /// Who makes it.
    pub by: CampaignActor,
    /// Current time.
    pub now: Timestamp,
    /// Idempotency key, if any: the same key with the same terms and actor
    /// answers the campaign it made (nothing new); with other terms or
    /// another actor it is [`Rejection::IdempotencyConflict`]. Campaigns'
    /// keys are their own (a ledger entry's key does not collide with one).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What to do with a campaign ([`Storage::decide_campaign`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignDecision {
    /// An admin lets a pending campaign run.
    Approve,
    /// An admin refuses a pending campaign.
    Reject,
    /// An admin, or the campaign's partner, stops a pending or active one.
    End,
}

/// Approve, reject or end a campaign ([`Storage::decide_campaign`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideCampaign {
    /// The campaign.
    pub campaign: CampaignId,
    /// The decision.
    pub decision: CampaignDecision,
    /// Who decides.
    pub by: CampaignActor,
    /// Current time.
    pub now: Timestamp,
}

/// The campaigns to list ([`Storage::campaigns`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCampaigns {
    /// Only this partner's (made by it or for its place); `None`: all.
    pub partner: Option<PartnerRef>,
    /// At most this many, newest first, 1..=[`MAX_CAMPAIGNS_LISTED`].
    pub limit: u32,
}

/// The most campaigns one [`Storage::campaigns`] call lists.
pub const MAX_CAMPAIGNS_LISTED: u32 = 100;

/// A page of a partner's entries, newest first ([`Storage::partner_entries`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerEntriesPage {
    /// The partner (any status).
    pub partner: PartnerRef,
    /// Only entries older than this one (the last of the previous page).
    pub before: Option<EntryId>,
    /// At most this many, 1..=[`MAX_PARTNER_ENTRIES`].
    pub limit: u32,
}

/// The most entries one [`Storage::partner_entries`] call lists.
pub const MAX_PARTNER_ENTRIES: u32 = 100;

/// Publish a reward ([`Storage::publish_reward`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishReward {
    /// The partner (must be approved).
    pub partner: PartnerRef,
    /// What it offers; it must pass [`RewardOffer::check`].
    pub offer: RewardOffer,
    /// Publishing again with this key answers the first reward (same offer
    /// and partner), else [`Rejection::IdempotencyConflict`].
    pub idempotency_key: String,
    /// Current time.
    pub now: Timestamp,
}

/// What to do with a reward ([`Storage::decide_reward`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardDecision {
    /// An admin shows a pending reward.
    Approve,
    /// An admin refuses a pending reward.
    Reject,
    /// An admin, or the reward's partner, takes a pending or active reward
    /// off (its issued vouchers stay valid).
    Withdraw,
}

/// Approve, reject or withdraw a reward ([`Storage::decide_reward`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideReward {
    /// The reward.
    pub reward: RewardId,
    /// The decision.
    pub decision: RewardDecision,
    /// Who decides: an admin, or the reward's partner (approved).
    pub by: CampaignActor,
    /// Current time.
    pub now: Timestamp,
}

/// A reward decided on ([`Storage::decide_reward`]), with its partner (to tell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardDecided {
    /// The reward as it is now.
    pub reward: Reward,
    /// Its partner.
    pub partner: Partner,
}

/// Which rewards to list ([`Storage::rewards`]), by id ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRewards {
    /// Only this partner's.
    pub partner: Option<PartnerRef>,
    /// Only those of this category.
    pub category: Option<String>,
    /// Only those a customer may claim at this time ([`Reward::claimable`],
    /// their partner approved); `None`: whatever their status.
    pub claimable_at: Option<Timestamp>,
    /// Only those with this status.
    pub status: Option<RewardStatus>,
    /// Only those after this id (the last of the previous page).
    pub after: Option<RewardId>,
    /// At most this many, 1..=[`MAX_REWARDS_LISTED`](crate::program::rewards::MAX_REWARDS_LISTED).
    pub limit: u32,
}

/// Claim a reward: pay its price, get a voucher ([`Storage::claim_reward`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimReward {
    /// The customer (not blocked).
    pub customer: CustomerRef,
    /// The reward (claimable now, its partner approved).
    pub reward: RewardId,
    /// The new voucher's code ([`voucher_code`](crate::program::rewards::voucher_code));
    /// a code in use is [`Rejection::CodeTaken`] and the caller draws another.
    pub code: String,
    /// Claiming again with this key answers the first voucher (same customer
    /// and reward), else [`Rejection::IdempotencyConflict`]; a reserved key
    /// ([`is_reserved_key`]) is refused.
    pub idempotency_key: String,
    /// Current time.
    pub now: Timestamp,
}

/// Use a voucher at its partner ([`Storage::use_voucher`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseVoucher {
    /// The partner (approved); another partner's voucher is [`Rejection::UnknownVoucher`].
    pub partner: PartnerRef,
    /// The voucher's code ([`parse_voucher_code`](crate::program::rewards::parse_voucher_code)).
    pub code: String,
    /// Current time.
    pub now: Timestamp,
}

/// A customer cancels a voucher not yet used ([`Storage::cancel_voucher`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelVoucher {
    /// The customer; another customer's voucher is [`Rejection::UnknownVoucher`].
    pub customer: CustomerRef,
    /// The voucher.
    pub voucher: VoucherId,
    /// Current time.
    pub now: Timestamp,
}

/// A customer's vouchers to list ([`Storage::vouchers`]), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVouchers {
    /// The customer.
    pub customer: CustomerRef,
    /// Only those with this status.
    pub status: Option<VoucherStatus>,
    /// At most this many, 1..=[`MAX_VOUCHERS_LISTED`](crate::program::rewards::MAX_VOUCHERS_LISTED).
    pub limit: u32,
}

/// A voucher with its reward, as they are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherView {
    /// The voucher.
    pub voucher: Voucher,
    /// Its reward.
    pub reward: Reward,
    /// Its customer.
    pub customer: Customer,
    /// Its partner.
    pub partner: Partner,
    /// The call changed nothing: the voucher was claimed, used or cancelled
    /// so before by this same call.
    pub replayed: bool,
}

/// A partner's redemption request, as it is now ([`Storage::redemption`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewRedemption {
    /// The partner that opened it: by its owner's reference, or at its till
    /// ([`PartnerRef::Till`]: the owner's account or an active cashier, who
    /// sees every request of the partner's, whoever asked).
    pub partner: PartnerRef,
    /// The request.
    pub id: RedemptionId,
}

/// The most requests one [`Storage::customer_redemptions`] call lists.
pub const MAX_CUSTOMER_REDEMPTIONS: u32 = 10;

/// A customer's pending redemption requests ([`Storage::customer_redemptions`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRedemptions {
    /// Whose.
    pub customer: CustomerRef,
    /// Current time: a request past its `expires_at` is not listed.
    pub now: Timestamp,
}

/// A redemption request waiting for the customer's answer, as the customer
/// sees it ([`Storage::customer_redemptions`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRedemption {
    /// The request.
    pub id: RedemptionId,
    /// The partner asking.
    pub partner: PartnerId,
    /// The partner's name.
    pub partner_name: String,
    /// Points asked for (positive).
    pub points: Points,
    /// The purchase the points would pay for.
    pub purchase: Points,
    /// When it was opened.
    pub created_at: Timestamp,
    /// The last instant it can be confirmed.
    pub expires_at: Timestamp,
}

/// Record a scheduled job's state under `name`, returning what it was
/// ([`Storage::swap_job_state`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapJobState {
    /// The job's key, e.g. `webhook:client` (1 to 100 characters).
    pub name: String,
    /// The new state (at most [`MAX_JOB_STATE_BYTES`] bytes).
    pub value: String,
    /// When.
    pub now: Timestamp,
}

/// The longest state [`Storage::swap_job_state`] keeps, in bytes.
pub const MAX_JOB_STATE_BYTES: usize = 1000;

/// A scheduled job's state as it was recorded ([`Storage::swap_job_state`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// The state.
    pub value: String,
    /// When it was recorded.
    pub updated_at: Timestamp,
}

/// Set a customer's birthday, once ([`Storage::set_birthday`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetBirthday {
    /// The customer.
    pub customer: CustomerRef,
    /// The birthday.
    pub birthday: Birthday,
    /// Current time.
    pub now: Timestamp,
}

/// Set a new version of the program's rules ([`Storage::set_program_rules`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetProgramRules {
    /// The document; it must pass [`ProgramRules::check`](crate::program::ProgramRules::check).
    pub rules: crate::program::ProgramRules,
    /// The admin making the change (`None`: the operator's command line).
    pub admin: Option<TelegramUserId>,
    /// Current time: the version applies to entries from now on.
    pub now: Timestamp,
}

/// Run the expiry of points ([`Storage::expire_points`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpirePoints {
    /// Points whose date is at or before this expire.
    pub now: Timestamp,
    /// Customers to handle in this call, 1..=[`MAX_EXPIRY_BATCH`].
    pub limit: u32,
}

/// The largest [`ExpirePoints::limit`] and [`RemindExpiry::limit`].
pub const MAX_EXPIRY_BATCH: u32 = 500;

/// Points of one customer that expired in one call ([`Storage::expire_points`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsExpired {
    /// The customer, after the expiry.
    pub customer: Customer,
    /// The [`EntryKind::Expiry`] entry (its amount is minus the points).
    pub entry: LedgerEntry,
}

/// Find the customers to remind of points about to expire ([`Storage::remind_expiry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindExpiry {
    /// Current time; points expiring within the rules' `remind_days_before`
    /// of it (and not yet expired) are announced.
    pub now: Timestamp,
    /// Customers to handle in this call, 1..=[`MAX_EXPIRY_BATCH`].
    pub limit: u32,
}

/// One reminder to send ([`Storage::remind_expiry`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryReminder {
    /// The customer to tell.
    pub customer: Customer,
    /// Points expiring in the reminder window, none announced before.
    pub points: Points,
    /// The soonest of their dates.
    pub at: Timestamp,
}

/// What a message of a customer's needs, read (and a quota used) in one
/// call ([`Storage::customer_view`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewCustomer {
    /// The customer.
    pub who: CustomerRef,
    /// Up to this many newest entries.
    pub recent: u32,
    /// The approved partners too (oldest first, as [`Storage::list_partners`]).
    pub partners: bool,
    /// Use one unit of this daily quota of the customer's (as
    /// [`Storage::consume_quota`] with the customer's Telegram id), unless the
    /// customer is blocked.
    pub quota: Option<QuotaUse>,
}

/// One use of a daily quota, for [`ViewCustomer::quota`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUse {
    /// Which quota.
    pub kind: QuotaKind,
    /// The day (its start).
    pub day: Timestamp,
    /// Uses allowed per day.
    pub limit: u32,
}

/// Outcome of [`Storage::customer_view`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerView {
    /// The customer.
    pub customer: Customer,
    /// Newest first.
    pub recent: Vec<LedgerEntry>,
    /// The approved partners, when asked for (else empty).
    pub partners: Vec<Partner>,
    /// Whether the quota allowed one more use (and it was counted); `None`
    /// when no quota was asked for or the customer is blocked.
    pub quota: Option<bool>,
}

/// A page of customers for an export ([`Storage::export_customers`]): the
/// way back to the system the program was imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCustomers {
    /// Only customers with a greater id (the previous page's last), if given.
    pub after: Option<CustomerId>,
    /// At most this many customers, 1..=[`MAX_EXPORT_PAGE`].
    pub limit: u32,
}

/// The largest [`ExportCustomers::limit`].
pub const MAX_EXPORT_PAGE: u32 = 1_000;

/// Which table an [`ExportPage`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportTable {
    /// The customers.
    Customers,
    /// The partners.
    Partners,
    /// The ledger's entries (every kind).
    Entries,
}

/// A page of one table, by id, for `loyalty export data` ([`Storage::export_page`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPage {
    /// The table.
    pub table: ExportTable,
    /// Only rows with a greater id (the previous page's last); 0 for the first page.
    pub after: i64,
    /// At most this many rows, 1..=[`MAX_EXPORT_PAGE`].
    pub limit: u32,
}

/// The rows of an [`ExportPage`], by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportRows {
    /// Customers.
    Customers(Vec<Customer>),
    /// Partners.
    Partners(Vec<Partner>),
    /// Ledger entries.
    Entries(Vec<LedgerEntry>),
}

impl ExportRows {
    /// The rows' ids, in order (the last is the next page's `after`).
    pub fn ids(&self) -> Vec<i64> {
        match self {
            ExportRows::Customers(v) => v.iter().map(|c| c.id.0).collect(),
            ExportRows::Partners(v) => v.iter().map(|p| p.id.0).collect(),
            ExportRows::Entries(v) => v.iter().map(|e| e.id.0).collect(),
        }
    }
}

/// A customer with the entries made in this program ([`Storage::export_customers`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerHistory {
    /// The customer as they are now.
    pub customer: Customer,
    /// Every entry of the customer's but those an import brought (kinds
    /// [`EntryKind::Import`] and [`EntryKind::Legacy`]), oldest first.
    pub entries: Vec<LedgerEntry>,
}

/// What the program holds about one customer ([`Storage::personal_data`]):
/// their copy of it, on request (`/mydata`, `GET /api/v1/me/data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    /// The customer as they are now.
    pub customer: Customer,
    /// Their birthday, if they gave it (or an import brought it).
    pub birthday: Option<Birthday>,
    /// Every entry of theirs, oldest first.
    pub entries: Vec<LedgerEntry>,
    /// Every voucher of theirs, oldest first.
    pub vouchers: Vec<Voucher>,
}

/// Erasing a customer's personal data ([`Storage::erase_customer`]).
///
/// The customer's row stays as a tombstone under its internal id, so every
/// entry, balance, partner report and export still adds up: the Telegram id
/// becomes the negative of the internal id (no Telegram user has one), the
/// name and username are emptied, the customer is blocked (no one can credit
/// or redeem on the tombstone); the birthday, the imported date of birth and
/// the messages still queued for their chat are deleted (those sent leave
/// with the outbox's pruning); a pending redemption request is declined. The points stay on the tombstone. The
/// audit log records the erasure with the admin who made it, or none when the
/// customer asked. Erasing a tombstone again changes nothing
/// ([`Erased::replayed`]); by the old Telegram id it is an unknown customer
/// (the same person signing up again becomes a new customer), by id or card
/// code it is the tombstone, blocked. Not erased here: the assistant's daily
/// quota counters and the bodies of updates still in progress, both keyed
/// by the Telegram id and pruned by the maintenance pass within days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseCustomer {
    /// The customer.
    pub who: CustomerRef,
    /// The admin erasing on the customer's request, or `None` when the
    /// customer asked themselves.
    pub admin: Option<TelegramUserId>,
    /// When.
    pub now: Timestamp,
}

/// The result of [`Storage::erase_customer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erased {
    /// The tombstone.
    pub customer: Customer,
    /// The customer had been erased before; nothing changed.
    pub replayed: bool,
}

impl Customer {
    /// Whether this is the tombstone of an erased customer
    /// ([`Storage::erase_customer`]): its Telegram id is negative.
    pub fn is_erased(&self) -> bool {
        self.telegram_id.0 < 0
    }
}

/// An audited action ([`Storage::audit_log`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its id; later records have greater ids.
    pub id: i64,
    /// The admin who acted, or `None` for a customer's own request (an erasure).
    pub admin: Option<TelegramUserId>,
    /// What changed.
    pub action: AuditAction,
    /// When (the `now` of the call).
    pub at: Timestamp,
}

/// What an audited action changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// A manual balance adjustment ([`Storage::adjust_balance`]).
    Adjusted {
        /// Whose balance.
        customer: CustomerId,
        /// The adjustment entry.
        entry: EntryId,
        /// Signed amount.
        amount: Points,
        /// The admin's reason.
        reason: String,
    },
    /// A customer was blocked or unblocked ([`Storage::set_blocked`]).
    Blocked {
        /// The customer.
        customer: CustomerId,
        /// The new state.
        blocked: bool,
    },
    /// A partner's status changed ([`Storage::decide_partner`]).
    PartnerDecided {
        /// The partner.
        partner: PartnerId,
        /// The decision.
        decision: PartnerDecision,
        /// The status after it.
        status: PartnerStatus,
    },
    /// A customer's personal data was erased ([`Storage::erase_customer`]).
    Erased {
        /// The tombstone's internal id.
        customer: CustomerId,
    },
}

/// A page of the audit log, newest first ([`Storage::audit_log`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Only records with a smaller id (the previous page's last), if given.
    pub before: Option<i64>,
    /// At most this many, 1..=[`MAX_AUDIT_PAGE`].
    pub limit: u32,
}

/// The largest [`AuditPage::limit`].
pub const MAX_AUDIT_PAGE: u32 = 100;

/// The most stamp cards [`Storage::stamp_cards`] lists.
pub const MAX_STAMP_CARDS_LISTED: u32 = 50;

/// A partner sets, changes or ends its stamp card ([`Storage::set_stamp_card`];
/// see [`program::stamps`](crate::program::stamps)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetStampCard {
    /// The partner (must be approved).
    pub partner: PartnerRef,
    /// Stamps that fill the card; 0 ends the card.
    pub needed: u32,
    /// What a full card gives (ignored when ending it).
    pub reward: String,
    /// When.
    pub now: Timestamp,
}

/// One stamp for a customer's visit ([`Storage::add_stamp`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddStamp {
    /// The partner stamping (approved, with a card running).
    pub partner: PartnerRef,
    /// The customer, usually by code (not blocked).
    pub customer: CustomerRef,
    /// Idempotency key: the same stamp retried stamps once.
    pub idempotency_key: String,
    /// When.
    pub now: Timestamp,
}

/// The result of [`Storage::add_stamp`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamped {
    /// The customer's stamps at the partner after it.
    pub progress: StampProgress,
    /// This stamp filled the card: the reward is due now.
    pub completed: bool,
    /// The customer.
    pub customer: Customer,
    /// The call changed nothing: the stamp was given before under this key.
    /// `progress` is then as it is now.
    pub replayed: bool,
}

impl Stamped {
    /// The same answer, marked as a replay.
    pub fn replay(self) -> Stamped {
        Stamped { replayed: true, ..self }
    }
}

/// Credit points for a purchase at a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditPurchase {
    /// The partner crediting (must be approved).
    pub partner: PartnerRef,
    /// The customer, usually by code.
    pub customer: CustomerRef,
    /// Purchase amount, 1..=[`rules::MAX_PURCHASE`].
    pub purchase: Points,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Start of the current UTC day, for the daily limit.
    pub day_start: Timestamp,
    /// Current time.
    pub now: Timestamp,
}

/// Outcome of [`Storage::credit_purchase`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credited {
    /// The accrual entry (amount may be 0 for tiny purchases).
    pub entry: LedgerEntry,
    /// The customer after the credit.
    pub customer: Customer,
    /// The partner.
    pub partner: Partner,
    /// `true` when the key had been applied before and this is the first result.
    pub replayed: bool,
    /// The customer's tier before the credit (`customer.tier` is after it);
    /// the tier's multiplier applied to this credit.
    #[serde(default)]
    pub tier_before: u8,
    /// What campaigns added to the entry's amount, in campaign id order
    /// (see [`program::campaigns`](crate::program::campaigns)).
    #[serde(default)]
    pub awards: Vec<Award>,
}

/// Open a redemption request (no points move until the customer confirms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRedemption {
    /// The partner asking (must be approved).
    pub partner: PartnerRef,
    /// The customer.
    pub customer: CustomerRef,
    /// Points to debit, ≥ 1, ≤ balance now, ≤ max share of `purchase`.
    pub points: Points,
    /// The purchase amount.
    pub purchase: Points,
    /// Idempotency key (a replay returns the same request).
    pub idempotency_key: String,
    /// Current time.
    pub now: Timestamp,
    /// When the request expires.
    pub expires_at: Timestamp,
}

/// A redemption request with the parties involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionView {
    /// The request after the call.
    pub request: RedemptionRequest,
    /// The customer after the call.
    pub customer: Customer,
    /// The partner.
    pub partner: Partner,
    /// The debit entry, when confirmed.
    pub entry: Option<LedgerEntry>,
    /// `true` when nothing changed because this call repeated an earlier one.
    pub replayed: bool,
    /// The cashier who asked ([`RedemptionRequest::cashier`]), who is told
    /// the answer at the till.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<Staff>,
}

impl RedemptionView {
    /// Who hears about the request at the till: the cashier who asked, unless
    /// revoked since; else the partner's owner.
    pub fn till_chat(&self) -> TelegramUserId {
        let cashier = self.cashier.as_ref().filter(|s| s.revoked_at.is_none()).and_then(|s| s.telegram_id);
        cashier.unwrap_or(self.partner.telegram_id)
    }
}

/// The customer's answer to a redemption request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRedemption {
    /// The request.
    pub id: RedemptionId,
    /// Who answers: must be the request's customer.
    pub customer: CustomerRef,
    /// Current time (a request past `expires_at` becomes expired).
    pub now: Timestamp,
}

/// Reverse one of the partner's own accruals or redemptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseEntry {
    /// The entry to reverse.
    pub entry: EntryId,
    /// The partner asking (must be the entry's partner).
    pub partner: PartnerRef,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Entries older than this cannot be reversed.
    pub not_before: Timestamp,
    /// Current time.
    pub now: Timestamp,
}

/// Outcome of [`Storage::reverse_entry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversed {
    /// The entry that was reversed.
    pub original: LedgerEntry,
    /// The reversal entry.
    pub reversal: LedgerEntry,
    /// The customer after the call.
    pub customer: Customer,
    /// The partner whose entry it was.
    pub partner: Partner,
    /// `true` when the same key had been applied before.
    pub replayed: bool,
    /// The customer's tier before the reversal (`customer.tier` is after it).
    #[serde(default)]
    pub tier_before: u8,
}

/// A partner invites a cashier ([`Storage::invite_staff`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteStaff {
    /// The partner, by its owner (approved).
    pub partner: PartnerRef,
    /// Lower-case hex SHA-256 of the invitation's token
    /// ([`rules::hash_api_key`]); the token itself is only in the link.
    pub token_sha256_hex: String,
    /// When.
    pub now: Timestamp,
    /// When the link stops working.
    pub expires_at: Timestamp,
}

/// Someone opens a staff invitation link ([`Storage::join_staff`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinStaff {
    /// Lower-case hex SHA-256 of the link's token.
    pub token_sha256_hex: String,
    /// Who opened it.
    pub telegram_id: TelegramUserId,
    /// Their first name (trimmed to 64 characters).
    pub name: String,
    /// When.
    pub now: Timestamp,
}

/// The outcome of [`Storage::join_staff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffJoined {
    /// The new cashier.
    pub staff: Staff,
    /// The partner they work for now.
    pub partner: Partner,
    /// They had joined with this link before; nothing changed.
    pub replayed: bool,
}

/// A partner revokes a cashier or an invitation ([`Storage::revoke_staff`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeStaff {
    /// The partner, by its owner.
    pub partner: PartnerRef,
    /// The staff member; another partner's is [`Rejection::UnknownStaff`].
    pub staff: StaffId,
    /// When.
    pub now: Timestamp,
}

/// The outcome of [`Storage::revoke_staff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRevoked {
    /// The staff member after it.
    pub staff: Staff,
    /// The partner.
    pub partner: Partner,
    /// They were revoked before; nothing changed.
    pub replayed: bool,
}

/// Whose webhook endpoints: the program's (the admins', for every event), or
/// a partner's (for the events of its own customers' business there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "partner", rename_all = "snake_case")]
pub enum WebhookOwner {
    /// The program's.
    Program,
    /// A partner's, by its owner.
    Partner(PartnerRef),
}

/// A registered HTTPS endpoint that receives signed deliveries of `events`
/// (see [`outgoing`](crate::outgoing)), with how its last delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Id.
    pub id: WebhookId,
    /// The partner whose endpoint it is; `None` for the program's.
    pub partner: Option<PartnerId>,
    /// Where deliveries go (`https://`).
    pub url: String,
    /// What it receives, in the order given.
    pub events: Vec<WebhookEvent>,
    /// The signing secret. Every call answers it (deliveries are signed with
    /// it); what shows it to people must show it to its owner only.
    pub secret: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it was removed (it receives nothing from then).
    pub removed_at: Option<Timestamp>,
    /// When a delivery was last attempted.
    pub last_attempt_at: Option<Timestamp>,
    /// The HTTP status of that attempt (`None`: no answer, or no attempt yet).
    pub last_status: Option<u16>,
    /// What went wrong then, when something did (at most 200 characters).
    pub last_error: Option<String>,
    /// When a delivery last succeeded (a 2xx answer).
    pub last_success_at: Option<Timestamp>,
}

/// The longest idempotency key of an endpoint's registration
/// ([`AddWebhook::idempotency_key`]), in characters.
pub const MAX_WEBHOOK_KEY_LEN: usize = 200;

/// The checks of an endpoint's URL, events, secret and idempotency key (1 to
/// [`MAX_WEBHOOK_KEY_LEN`] characters) every store makes first
/// ([`Rejection::InvalidWebhook`]).
pub fn check_webhook(req: &AddWebhook) -> Result<(), Rejection> {
    crate::outgoing::check_url(&req.url)
        .and_then(|()| crate::outgoing::check_events(&req.events))
        .and_then(|()| crate::outgoing::check_secret(&req.secret))
        .and_then(|()| {
            if (1..=MAX_WEBHOOK_KEY_LEN).contains(&req.idempotency_key.chars().count()) {
                Ok(())
            } else {
                Err(format!("the idempotency key must be 1 to {MAX_WEBHOOK_KEY_LEN} characters"))
            }
        })
        .map_err(|reason| Rejection::InvalidWebhook { reason })
}

/// Whether two lists of events subscribe to the same events (whatever their
/// order): a registration's replay ([`AddWebhook::idempotency_key`]) asks for
/// the same set.
pub fn same_events(a: &[WebhookEvent], b: &[WebhookEvent]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// Register an endpoint ([`Storage::add_webhook`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddWebhook {
    /// Whose (a partner by its owner, approved).
    pub owner: WebhookOwner,
    /// Where ([`check_url`](crate::outgoing::check_url)).
    pub url: String,
    /// What it receives ([`check_events`](crate::outgoing::check_events)).
    pub events: Vec<WebhookEvent>,
    /// A fresh signing secret ([`new_secret`](crate::outgoing::new_secret);
    /// [`check_secret`](crate::outgoing::check_secret)).
    pub secret: String,
    /// When.
    pub now: Timestamp,
    /// The registration's idempotency key (1 to [`MAX_WEBHOOK_KEY_LEN`]
    /// characters), scoped to the owner: registering again with it answers
    /// the endpoint it made (even removed since; `replayed`, nothing changes)
    /// when the URL and the events are the same — the events compared as a
    /// set, whatever their order — and is [`Rejection::IdempotencyConflict`]
    /// otherwise. Another owner's key of the same text is another key.
    pub idempotency_key: String,
}

/// The outcome of [`Storage::add_webhook`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAdded {
    /// The endpoint: the new one, or the one the key made (as it is now, with
    /// its own secret, not the request's).
    pub webhook: Webhook,
    /// The key had registered it before; nothing changed.
    pub replayed: bool,
}

/// Remove an endpoint ([`Storage::remove_webhook`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveWebhook {
    /// Whose.
    pub owner: WebhookOwner,
    /// Which.
    pub id: WebhookId,
    /// When.
    pub now: Timestamp,
}

/// The endpoints an event goes to ([`Storage::webhook_targets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTargets {
    /// The event.
    pub event: WebhookEvent,
    /// The partner it happened at, if any (its endpoints receive it too).
    pub partner: Option<PartnerId>,
}

/// How a delivery attempt went ([`Storage::record_webhook`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordWebhook {
    /// The endpoint.
    pub id: WebhookId,
    /// When.
    pub at: Timestamp,
    /// The HTTP status, if it answered.
    pub status: Option<u16>,
    /// What went wrong, if anything (cut to 200 characters).
    pub error: Option<String>,
}

/// A partner looks a customer up by the code on their card (the partner
/// bot's scan of a card, a POS system's lookup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookUpCustomer {
    /// The partner asking (must be approved).
    pub partner: PartnerRef,
    /// The customer, usually by code.
    pub customer: CustomerRef,
}

/// Outcome of [`Storage::look_up_customer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerCard {
    /// The partner who asked.
    pub partner: Partner,
    /// The customer (blocked ones too: [`Customer::blocked`] says so).
    pub customer: Customer,
    /// The customer's stamps at this partner, when it runs a stamp card
    /// (`None` otherwise; no stamps yet is `Some` with 0).
    pub stamps: Option<StampProgress>,
}

/// A manual balance correction by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustBalance {
    /// The customer.
    pub customer: CustomerRef,
    /// Signed amount, non-zero, |amount| ≤ [`rules::MAX_ADJUSTMENT`].
    pub amount: Points,
    /// Why (kept in the entry and the audit log).
    pub reason: String,
    /// The admin's Telegram id.
    pub admin: TelegramUserId,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Current time.
    pub now: Timestamp,
}

/// Outcome of [`Storage::adjust_balance`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjusted {
    /// The adjustment entry.
    pub entry: LedgerEntry,
    /// The customer after the call.
    pub customer: Customer,
    /// `true` when the same key had been applied before.
    pub replayed: bool,
}

/// A merchant's application to join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerApplication {
    /// The applicant.
    pub telegram_id: TelegramUserId,
    /// Business name (1..=100 characters).
    pub name: String,
    /// Category (1..=50 characters).
    pub category: String,
    /// Terms the partner gets if approved.
    pub terms: PartnerTerms,
    /// Language for the partner bot's messages.
    pub language: Language,
    /// Current time.
    pub now: Timestamp,
}

/// Outcome of [`Storage::apply_partner`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The partner after the call.
    pub partner: Partner,
    /// `false` when an application already existed (nothing changed), except
    /// that a rejected applicant may apply again.
    pub created: bool,
}

/// An admin's decision about a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerDecision {
    /// applied/suspended → approved.
    Approve,
    /// applied → rejected.
    Reject,
    /// approved → suspended.
    Suspend,
}

/// Outcome of [`Storage::decide_partner`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    /// The partner after the call.
    pub partner: Partner,
    /// `false` when the partner already had the target status.
    pub changed: bool,
}

/// Figures for one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodStats {
    /// Distinct customers with an accrual or redemption.
    pub customers: u64,
    /// Number of accruals (purchases credited), net of reversed ones.
    pub purchases: u64,
    /// Points issued (accruals minus their reversals).
    pub issued: Points,
    /// Points redeemed (redemptions minus their reversals).
    pub redeemed: Points,
}

/// A partner's figures for today and the last 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerStats {
    /// The partner, as it is now (whatever its status: the caller decides
    /// whom to show the figures).
    pub partner: Partner,
    /// Since the start of today (UTC).
    pub today: PeriodStats,
    /// Since the start of the day 6 days ago (7 days including today).
    pub week: PeriodStats,
}

/// Whole-program figures for admins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramStats {
    /// All customers.
    pub customers: u64,
    /// Approved partners.
    pub partners_approved: u64,
    /// Applications waiting.
    pub partners_pending: u64,
    /// Sum of all balances: the program's outstanding liability.
    pub points_outstanding: Points,
    /// Points that expire before `today` + 30 days (those past their date but
    /// not yet taken by the expiry job included).
    #[serde(default)]
    pub expiring_30_days: Points,
    /// The same before `today` + 90 days.
    #[serde(default)]
    pub expiring_90_days: Points,
    /// Customers per tier: `[i]` holds tier `i + 1`'s (tier 0 not counted).
    #[serde(default)]
    pub customers_by_tier: [u64; crate::program::MAX_TIERS],
    /// The version of the rules in force (to name the tiers).
    #[serde(default)]
    pub rules_version: u32,
    /// Today's figures over all partners.
    pub today: PeriodStats,
}

/// Whose daily figures ([`DailyFigures::scope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "partner", rename_all = "snake_case")]
pub enum FiguresScope {
    /// One partner's (any status), by its owner's reference: a till's
    /// ([`PartnerRef::Till`]) is [`Rejection::UnknownPartner`], as a partner
    /// that does not exist is.
    Partner(PartnerRef),
    /// The whole program's: every partner's accruals and redemptions (any
    /// status), as [`ProgramStats::today`] counts them — the entries of no
    /// partner (welcome and referral bonuses, adjustments, imports, expiries)
    /// count on no day.
    Program,
}

/// The most days one [`Storage::daily_figures`] call answers (a quarter of a year).
pub const MAX_FIGURE_DAYS: u32 = 92;

/// Points issued and redeemed day by day, for a chart ([`Storage::daily_figures`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyFigures {
    /// Whose.
    pub scope: FiguresScope,
    /// The start of the first day: a UTC day's start (00:00). Day `i` is
    /// `[from + i × 24 h, from + (i + 1) × 24 h)`.
    pub from: Timestamp,
    /// How many days, 1..=[`MAX_FIGURE_DAYS`].
    pub days: u32,
}

/// One day's figures ([`Storage::daily_figures`]): `issued` and `redeemed`
/// as [`PeriodStats`] counts them, over the entries created that day.
///
/// A reversal counts on no day of its own: it takes its original out of the
/// original's day, whenever it came — so a day's figures may still go down
/// after the day, while its entries can be reversed (as [`PeriodStats`] do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// The day's start.
    pub day: Timestamp,
    /// Points issued: the accruals created that day that are not reversed.
    pub issued: Points,
    /// Points redeemed (a positive number): the redemptions created that
    /// day (confirmed requests, rewards' vouchers paid) that are not reversed.
    pub redeemed: Points,
}

/// A new broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBroadcast {
    /// Who receives it.
    pub audience: Audience,
    /// Text.
    pub text: String,
    /// Admin chat for progress.
    pub admin_chat: i64,
    /// Idempotency key (a replayed command does not create a second job).
    pub idempotency_key: String,
    /// Current time.
    pub now: Timestamp,
}

/// Recipients claimed for delivery: the job's cursor has moved past them, so
/// a concurrent deliverer never gets the same ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastBatch {
    /// The job after the claim (`done` once the audience is exhausted).
    pub job: BroadcastJob,
    /// Up to the requested number of recipients; empty when done.
    pub recipients: Vec<Recipient>,
}

/// What kind of daily quota to consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaKind {
    /// Questions to the AI assistant (per customer, per UTC day).
    Assistant,
    /// Requests with a partner's POS key (per partner, per minute).
    Pos,
}

/// An update's claim ([`Storage::claim_update`]'s arguments), to be folded
/// into the first storage call of the update's processing ([`Storage::fold_claim`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateClaim {
    /// The id of the bot the update came to (from its token): claims are
    /// kept per bot, so deployments with their own bots can share a database.
    pub bot: BotId,
    /// Telegram's update id.
    pub update_id: i64,
    /// Current time.
    pub now: Timestamp,
    /// The update itself (its JSON), kept with the claim until the update is
    /// finished ([`Storage::enqueue_messages`] naming it in `updates`), so that an
    /// update whose processing died after its response can be processed again
    /// ([`Storage::stale_updates`]). `None` claims without keeping it (such a
    /// claim counts as finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Earlier updates of the same process, processed and with nothing left to
    /// send, marked finished by this claim's call (as
    /// [`Storage::enqueue_messages`] does with its `updates`), whether the
    /// claim is taken, refused as a duplicate or its use case rejected — so a
    /// Worker need not spend a request after each response to finish its
    /// update (see [`Engine::with_carried_finishes`](crate::Engine::with_carried_finishes)).
    /// At most [`MAX_MESSAGE_BATCH`]; marking one finished twice is harmless.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finished: Vec<UpdateRef>,
}

impl UpdateClaim {
    /// The claim of `(bot, update_id)` at `now`, keeping no body.
    pub fn new(bot: BotId, update_id: i64, now: Timestamp) -> UpdateClaim {
        UpdateClaim { bot, update_id, now, body: None, finished: Vec::new() }
    }
}

/// An update, named as its claim names it, without the time ([`EnqueueMessages::updates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UpdateRef {
    /// The bot's id.
    pub bot: BotId,
    /// Telegram's update id.
    pub update_id: i64,
}

/// One message for the outbox ([`Storage::enqueue_messages`]): opaque to the
/// store but for the chat, which orders delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The chat it writes to, if any: a chat's messages are handed out one at
    /// a time, in order ([`Storage::take_messages`]).
    pub chat: Option<i64>,
    /// What to do (the engine's encoding of a deferred task, at most
    /// [`MAX_MESSAGE_BYTES`] bytes).
    pub payload: String,
}

/// The largest payload [`Storage::enqueue_messages`] keeps, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 65_536;

/// The most messages one [`Storage::enqueue_messages`] or
/// [`Storage::take_messages`] call handles.
pub const MAX_MESSAGE_BATCH: u32 = 100;

/// Put messages into the outbox ([`Storage::enqueue_messages`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueueMessages {
    /// What produced them (e.g. `update:<bot>:<update_id>`, 1 to 200
    /// characters): with each message's position, its key — the same source
    /// enqueued twice adds nothing the second time.
    pub source: String,
    /// The updates whose processing produced them (or nothing), marked
    /// finished in the same call — their kept bodies dropped (at most
    /// [`MAX_MESSAGE_BATCH`]).
    pub updates: Vec<UpdateRef>,
    /// The messages, in order (at most [`MAX_MESSAGE_BATCH`]).
    pub messages: Vec<NewMessage>,
    /// When.
    pub now: Timestamp,
    /// The messages added are leased to the caller until then (others do not
    /// take them before), so the caller sends them itself.
    pub lease_until: Timestamp,
}

/// What [`Storage::enqueue_messages`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Enqueued {
    /// The messages this call added, in order, leased to the caller.
    pub messages: Vec<OutboxMessage>,
    /// Whether any webhook endpoint (the program's or a partner's) was
    /// registered, not removed, when they were added. When none was, the
    /// events among `messages` go to no endpoint, and the caller fans them
    /// out without asking [`Storage::webhook_targets`].
    pub webhooks: bool,
}

/// A message in the outbox, leased to the caller ([`Storage::take_messages`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Its id.
    pub id: MessageId,
    /// The chat it writes to, if any.
    pub chat: Option<i64>,
    /// What to do.
    pub payload: String,
    /// Times it was handed out, this one included.
    pub attempts: u32,
}

/// Lease the next messages to deliver ([`Storage::take_messages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeMessages {
    /// When.
    pub now: Timestamp,
    /// Leased until then.
    pub lease_until: Timestamp,
    /// At most this many, 1..=[`MAX_MESSAGE_BATCH`].
    pub limit: u32,
}

/// What became of a message ([`Storage::settle_messages`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MessageOutcome {
    /// Delivered: never handed out again.
    Sent,
    /// Refused for good (the user blocked the bot, the chat is gone): kept
    /// as failed, never handed out again.
    Failed {
        /// Why (at most 500 characters are kept).
        error: String,
    },
    /// Not delivered now: hand it out again from `at`.
    Retry {
        /// When to try again.
        at: Timestamp,
    },
}

/// One message's outcome ([`SettleMessages`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSettlement {
    /// The message.
    pub id: MessageId,
    /// Its outcome.
    #[serde(flatten)]
    pub outcome: MessageOutcome,
}

/// Record what became of messages taken for delivery ([`Storage::settle_messages`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleMessages {
    /// When.
    pub now: Timestamp,
    /// The messages and their outcomes (at most [`MAX_MESSAGE_BATCH`]).
    pub settled: Vec<MessageSettlement>,
}

/// Lease the claims of updates never finished ([`Storage::stale_updates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleUpdates {
    /// Claims taken (or last leased) before this.
    pub before: Timestamp,
    /// When: the claims handed out are leased from now (their time becomes `now`).
    pub now: Timestamp,
    /// At most this many, 1..=[`MAX_MESSAGE_BATCH`].
    pub limit: u32,
}

/// A claimed update never finished, with its kept body ([`Storage::stale_updates`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleUpdate {
    /// The bot's id.
    pub bot: BotId,
    /// Telegram's update id.
    pub update_id: i64,
    /// The update's JSON, as claimed.
    pub body: String,
}

/// The outbox at a glance ([`Storage::outbox_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutboxState {
    /// Messages waiting for delivery (leased ones included).
    pub pending: u64,
    /// When the oldest of them was enqueued.
    pub oldest: Option<Timestamp>,
    /// Messages refused for good and kept as failed.
    pub failed: u64,
}

/// Where a folded claim stands ([`FoldedStore::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldState {
    /// No call through the view has claimed the update yet.
    Pending,
    /// A call claimed it, together with its own work.
    Claimed,
    /// A call found it claimed before: the update is a duplicate.
    Duplicate,
}

/// A store view for processing one update, from [`Storage::fold_claim`].
pub struct FoldedStore {
    /// Use this for every storage call of the update.
    pub storage: std::sync::Arc<dyn Storage>,
    state: std::sync::Arc<std::sync::Mutex<FoldState>>,
}

impl FoldedStore {
    /// A view and the shared state its calls update (for backends implementing
    /// [`Storage::fold_claim`]).
    pub fn new(
        storage: std::sync::Arc<dyn Storage>,
        state: std::sync::Arc<std::sync::Mutex<FoldState>>,
    ) -> FoldedStore {
        FoldedStore { storage, state }
    }

    /// Where the claim stands now.
    pub fn state(&self) -> FoldState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for FoldedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoldedStore").field("state", &self.state()).finish_non_exhaustive()
    }
}

/// A page of a customer's ledger entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntriesPage {
    /// Whose entries.
    pub customer: CustomerId,
    /// At most this many.
    pub limit: u32,
    /// Only entries older than this one (the previous page's last), if given.
    pub before: Option<EntryId>,
}

/// Blocking or unblocking a customer (audited with the admin's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetBlocked {
    /// The customer.
    pub who: CustomerRef,
    /// Block (`true`) or unblock.
    pub blocked: bool,
    /// The admin deciding.
    pub admin: TelegramUserId,
    /// When.
    pub now: Timestamp,
}

/// An admin's decision on a partner (audited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidePartner {
    /// The partner.
    pub partner: PartnerId,
    /// Approve, reject or suspend.
    pub decision: PartnerDecision,
    /// The admin deciding.
    pub admin: TelegramUserId,
    /// When.
    pub now: Timestamp,
}

/// One use of a per-user daily quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumeQuota {
    /// Which quota.
    pub kind: QuotaKind,
    /// Whose (a customer's or a partner's Telegram id).
    pub user: TelegramUserId,
    /// The window's start: a UTC day for the assistant, a minute for POS keys.
    /// Windows older than [`Storage::prune_update_claims`]'s horizon are dropped.
    pub day: Timestamp,
    /// Uses allowed in the window.
    pub limit: u32,
}

impl ConsumeQuota {
    /// One question to the assistant by `user` on `day`, of `limit` a day.
    pub fn assistant(user: TelegramUserId, day: Timestamp, limit: u32) -> ConsumeQuota {
        ConsumeQuota { kind: QuotaKind::Assistant, user, day, limit }
    }
}

/// Calls `$callback! { name(arg: Type, …) -> Answer; … }` with every
/// [`Storage`] method but `claim_update`, `fold_claim` and `ping`: the one list
/// the wrappers of a store (the engine's counting view, the test kit's
/// fault-injecting store) implement the port from, each adding those few by
/// hand. The types are named as `loyalty_core::ports` and
/// `loyalty_core::domain` export them; import both where the callback expands.
#[doc(hidden)]
#[macro_export]
macro_rules! storage_calls {
    ($callback:ident) => {
        $callback! {
            register_customer(req: NewCustomer) -> Registration;
            customer_summary(who: CustomerRef, recent: u32) -> Option<CustomerSummary>;
            customer_view(req: ViewCustomer) -> Option<CustomerView>;
            customer_entries(page: EntriesPage) -> Vec<LedgerEntry>;
            set_language(who: CustomerRef, language: Language) -> Customer;
            set_blocked(req: SetBlocked) -> Customer;
            credit_purchase(req: CreditPurchase) -> Credited;
            open_redemption(req: OpenRedemption) -> RedemptionView;
            confirm_redemption(req: AnswerRedemption) -> RedemptionView;
            decline_redemption(req: AnswerRedemption) -> RedemptionView;
            expire_redemptions(now: Timestamp) -> Vec<RedemptionRequest>;
            reverse_entry(req: ReverseEntry) -> Reversed;
            adjust_balance(req: AdjustBalance) -> Adjusted;
            apply_partner(req: PartnerApplication) -> Applied;
            decide_partner(req: DecidePartner) -> Decided;
            partner(who: PartnerRef) -> Option<Partner>;
            list_partners(status: Option<PartnerStatus>) -> Vec<Partner>;
            set_partner_api_key(who: PartnerRef, key_sha256_hex: Option<String>) -> Partner;
            partner_by_api_key(key_sha256_hex: &str) -> Option<Partner>;
            look_up_customer(req: LookUpCustomer) -> CustomerCard;
            partner_stats(who: PartnerRef, today: Timestamp, week: Timestamp) -> PartnerStats;
            program_stats(today: Timestamp) -> ProgramStats;
            daily_figures(req: DailyFigures) -> Vec<DayFigures>;
            release_update(bot: BotId, update_id: i64) -> ();
            import_batch(req: ImportBatch) -> ImportApplied;
            export_customers(req: ExportCustomers) -> Vec<CustomerHistory>;
            prune_update_claims(before: Timestamp) -> u64;
            consume_quota(req: ConsumeQuota) -> bool;
            create_broadcast(req: NewBroadcast) -> BroadcastJob;
            claim_broadcast_batch(job: BroadcastId, limit: u32) -> BroadcastBatch;
            record_broadcast(job: BroadcastId, sent: u32, failed: u32) -> BroadcastJob;
            pending_broadcasts() -> Vec<BroadcastJob>;
            program_rules() -> RulesVersion;
            set_program_rules(req: SetProgramRules) -> RulesVersion;
            expire_points(req: ExpirePoints) -> Vec<PointsExpired>;
            refresh_tiers(req: RefreshTiers) -> TiersRefreshed;
            create_campaign(req: CreateCampaign) -> Campaign;
            decide_campaign(req: DecideCampaign) -> Campaign;
            campaigns(req: ListCampaigns) -> Vec<Campaign>;
            redemption(req: ViewRedemption) -> Option<RedemptionView>;
            customer_redemptions(req: CustomerRedemptions) -> Vec<PendingRedemption>;
            set_birthday(req: SetBirthday) -> Birthday;
            publish_reward(req: PublishReward) -> Reward;
            decide_reward(req: DecideReward) -> RewardDecided;
            rewards(req: ListRewards) -> Vec<Reward>;
            claim_reward(req: ClaimReward) -> VoucherView;
            use_voucher(req: UseVoucher) -> VoucherView;
            cancel_voucher(req: CancelVoucher) -> VoucherView;
            vouchers(req: ListVouchers) -> Vec<VoucherView>;
            partner_entries(page: PartnerEntriesPage) -> Vec<LedgerEntry>;
            export_page(page: ExportPage) -> ExportRows;
            remind_expiry(req: RemindExpiry) -> Vec<ExpiryReminder>;
            swap_job_state(req: SwapJobState) -> Option<JobState>;
            enqueue_messages(req: EnqueueMessages) -> Enqueued;
            take_messages(req: TakeMessages) -> Vec<OutboxMessage>;
            settle_messages(req: SettleMessages) -> ();
            stale_updates(req: StaleUpdates) -> Vec<StaleUpdate>;
            outbox_state(now: Timestamp) -> OutboxState;
            personal_data(who: CustomerRef) -> Option<PersonalData>;
            erase_customer(req: EraseCustomer) -> Erased;
            audit_log(page: AuditPage) -> Vec<AuditRecord>;
            set_stamp_card(req: SetStampCard) -> Option<StampCard>;
            add_stamp(req: AddStamp) -> Stamped;
            stamp_cards(who: CustomerRef) -> Vec<StampProgress>;
            invite_staff(req: InviteStaff) -> Staff;
            join_staff(req: JoinStaff) -> StaffJoined;
            staff(who: PartnerRef) -> Vec<Staff>;
            revoke_staff(req: RevokeStaff) -> StaffRevoked;
            add_webhook(req: AddWebhook) -> WebhookAdded;
            webhooks(owner: WebhookOwner) -> Vec<Webhook>;
            remove_webhook(req: RemoveWebhook) -> Webhook;
            webhook_targets(req: WebhookTargets) -> Vec<Webhook>;
            record_webhook(req: RecordWebhook) -> ();
        }
    };
}

/// The storage port. See the [`ports`](crate::ports) module for the contract.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Storage: MaybeSend + MaybeSync {
    /// Signs a user up (or returns the existing customer unchanged), crediting
    /// the welcome bonus once and the referral bonus once to a valid referrer.
    /// A code collision gives [`Rejection::CodeTaken`].
    async fn register_customer(&self, req: NewCustomer) -> StoreResult<Registration>;

    /// A customer with up to `recent` newest entries; `None` if unknown.
    async fn customer_summary(&self, who: CustomerRef, recent: u32) -> StoreResult<Option<CustomerSummary>>;

    /// What a customer's message needs, in one call: the customer with their
    /// newest entries and, when asked, the approved partners and one use of a
    /// daily quota; `None` (and no quota used) if the customer is unknown.
    async fn customer_view(&self, req: ViewCustomer) -> StoreResult<Option<CustomerView>>;

    /// A page of a customer's entries, newest first, strictly older than
    /// `before` when given.
    async fn customer_entries(&self, page: EntriesPage) -> StoreResult<Vec<LedgerEntry>>;

    /// Sets a customer's language; returns the updated customer.
    async fn set_language(&self, who: CustomerRef, language: Language) -> StoreResult<Customer>;

    /// Blocks or unblocks a customer (audited with the admin's id).
    async fn set_blocked(&self, req: SetBlocked) -> StoreResult<Customer>;

    /// Credits `floor(purchase × rate / 10 000)` points, within the partner's daily limit.
    async fn credit_purchase(&self, req: CreditPurchase) -> StoreResult<Credited>;

    /// Opens a redemption request after checking balance and max share.
    async fn open_redemption(&self, req: OpenRedemption) -> StoreResult<RedemptionView>;

    /// Confirms a pending request: debits the points if the balance still covers
    /// them. Confirming twice returns the first result with `replayed = true`.
    async fn confirm_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView>;

    /// Declines a pending request. Declining twice is a replay.
    async fn decline_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView>;

    /// Marks every pending request with `expires_at < now` expired; returns them.
    async fn expire_redemptions(&self, now: Timestamp) -> StoreResult<Vec<RedemptionRequest>>;

    /// Reverses a partner's own accrual or redemption, once, within the window,
    /// and only while the customer can afford it.
    async fn reverse_entry(&self, req: ReverseEntry) -> StoreResult<Reversed>;

    /// Applies an admin adjustment (never below a zero balance).
    async fn adjust_balance(&self, req: AdjustBalance) -> StoreResult<Adjusted>;

    /// Records a partner application. An active cashier ([`Staff`]) is
    /// refused with [`Rejection::AlreadyStaff`] (revoked first, they may apply).
    async fn apply_partner(&self, req: PartnerApplication) -> StoreResult<Applied>;

    /// Approves, rejects or suspends a partner (audited).
    async fn decide_partner(&self, req: DecidePartner) -> StoreResult<Decided>;

    /// One partner.
    async fn partner(&self, who: PartnerRef) -> StoreResult<Option<Partner>>;

    /// Partners with the given status (all when `None`), oldest first.
    async fn list_partners(&self, status: Option<PartnerStatus>) -> StoreResult<Vec<Partner>>;

    /// Stores the SHA-256 hash (hex) of a partner's new POS API key, replacing
    /// (rotating) any old one, which stops working at once; `None` revokes the
    /// key. Only an approved partner's key changes
    /// ([`Rejection::PartnerNotApproved`] otherwise).
    async fn set_partner_api_key(&self, who: PartnerRef, key_sha256_hex: Option<String>) -> StoreResult<Partner>;

    /// The partner whose API key hashes to `key_sha256_hex`.
    async fn partner_by_api_key(&self, key_sha256_hex: &str) -> StoreResult<Option<Partner>>;

    /// A customer as an approved partner may see them, with the partner: one
    /// call checks the caller and finds the customer
    /// ([`Rejection::UnknownPartner`], [`Rejection::PartnerNotApproved`],
    /// [`Rejection::UnknownCustomer`]).
    async fn look_up_customer(&self, req: LookUpCustomer) -> StoreResult<CustomerCard>;

    /// A partner's figures since `today` and since `week`, with the partner.
    async fn partner_stats(&self, who: PartnerRef, today: Timestamp, week: Timestamp) -> StoreResult<PartnerStats>;

    /// Whole-program figures; `today` is the start of the current day.
    async fn program_stats(&self, today: Timestamp) -> StoreResult<ProgramStats>;

    /// Points issued and redeemed on each of `req.days` days from `req.from`,
    /// oldest first, one row per day (a day without entries is zeros): a
    /// partner's or the whole program's (see [`FiguresScope`] and
    /// [`DayFigures`]). Checked in order: `days` outside
    /// 1..=[`MAX_FIGURE_DAYS`] is [`Rejection::InvalidAmount`] (never
    /// clamped); an unknown partner, or a till's reference, is
    /// [`Rejection::UnknownPartner`].
    async fn daily_figures(&self, req: DailyFigures) -> StoreResult<Vec<DayFigures>>;

    /// Claims an update for processing: `true` the first time
    /// `(claim.bot, claim.update_id)` is seen, `false` for a duplicate.
    async fn claim_update(&self, claim: UpdateClaim) -> StoreResult<bool>;

    /// A view of this store for processing one update, whose first call also
    /// claims the update — atomically, in the same round trip — so that an
    /// update costs one storage request where it makes one call, instead of
    /// two. If the update had been claimed before, that first call applies
    /// nothing and fails with [`StoreError::DuplicateUpdate`] (as does every
    /// later call through the view). A call that fails otherwise
    /// ([`Unavailable`](StoreError::Unavailable), [`Backend`](StoreError::Backend))
    /// claims nothing, and the next call tries again; a refused call
    /// ([`Rejected`](StoreError::Rejected)) still claims.
    ///
    /// `None` (the provided implementation) when the backend cannot fold: the
    /// engine then calls [`Storage::claim_update`] itself. The RPC backends
    /// ([`stores::rpc`](crate::stores::rpc): Postgres, PostgREST, D1, SQLite) fold.
    fn fold_claim(self: std::sync::Arc<Self>, claim: UpdateClaim) -> Option<FoldedStore> {
        let _ = claim;
        None
    }

    /// Forgets a claim after a temporary failure, so Telegram's retry is processed.
    async fn release_update(&self, bot: BotId, update_id: i64) -> StoreResult<()>;

    /// Brings customers, partners and history from another system, atomically
    /// (see [`ImportBatch`] and the rule in [`ports::import`](crate::ports::import)).
    async fn import_batch(&self, req: ImportBatch) -> StoreResult<ImportApplied>;

    /// A page of customers in id order, each with the entries made here (not
    /// those an import brought), for writing the program back to the system
    /// it was imported from. A limit outside 1..=[`MAX_EXPORT_PAGE`] is
    /// [`Rejection::InvalidAmount`].
    async fn export_customers(&self, req: ExportCustomers) -> StoreResult<Vec<CustomerHistory>>;

    /// Forgets the claims taken before `before` ([`Storage::claim_update`]'s
    /// `now`); returns how many. Telegram stops redelivering an update within
    /// a day, so an older claim guards against nothing: the maintenance pass
    /// prunes those older than [`UPDATE_CLAIM_RETENTION_SECS`](crate::jobs::UPDATE_CLAIM_RETENTION_SECS).
    /// The outbox's messages sent or failed before `before` go too, and the
    /// quota windows that started before it (neither is counted).
    async fn prune_update_claims(&self, before: Timestamp) -> StoreResult<u64>;

    /// Consumes one unit of a per-user daily quota; `false` when `limit` is reached.
    async fn consume_quota(&self, req: ConsumeQuota) -> StoreResult<bool>;

    /// Creates a broadcast job (a replayed key returns the existing job).
    async fn create_broadcast(&self, req: NewBroadcast) -> StoreResult<BroadcastJob>;

    /// Claims the next `limit` recipients of a job.
    async fn claim_broadcast_batch(&self, job: BroadcastId, limit: u32) -> StoreResult<BroadcastBatch>;

    /// Adds delivery results to a job's counters; returns the job.
    async fn record_broadcast(&self, job: BroadcastId, sent: u32, failed: u32) -> StoreResult<BroadcastJob>;

    /// Jobs that are not done, oldest first.
    async fn pending_broadcasts(&self) -> StoreResult<Vec<BroadcastJob>>;

    /// The rules in force: the newest version, or [`RulesVersion::initial`]
    /// (version 0) before any change.
    async fn program_rules(&self) -> StoreResult<RulesVersion>;

    /// Stores a new version of the rules (the current version + 1) and returns
    /// it; entries made from then on record it. A document that fails
    /// [`ProgramRules::check`](crate::program::ProgramRules::check) is
    /// [`Rejection::InvalidRules`].
    async fn set_program_rules(&self, req: SetProgramRules) -> StoreResult<RulesVersion>;

    /// Expires, for up to `limit` customers (in id order), what remains of
    /// their points whose date is at or before `now`: one
    /// [`EntryKind::Expiry`] entry per customer, taking exactly those points.
    /// Runs that overlap expire each point once. An empty answer means
    /// nothing is left to expire. A limit outside 1..=[`MAX_EXPIRY_BATCH`] is
    /// [`Rejection::InvalidAmount`].
    async fn expire_points(&self, req: ExpirePoints) -> StoreResult<Vec<PointsExpired>>;

    /// Recomputes, for up to `limit` customers in id order, the tiers that
    /// time may change — customers with a tier, or below theirs in grace —
    /// not checked within the last day (a credit or a reversal checks too):
    /// a rolling window leaves purchases behind, a grace period ends. A limit
    /// outside 1..=[`MAX_EXPIRY_BATCH`] is [`Rejection::InvalidAmount`].
    async fn refresh_tiers(&self, req: RefreshTiers) -> StoreResult<TiersRefreshed>;

    /// Makes a campaign. An admin's runs at once (status `active`); a
    /// partner's (it must be approved: `PartnerNotApproved`) is for its own
    /// place and waits for an admin (`pending`) unless the rules'
    /// `campaigns.partners` is `open` — or is refused, `off`
    /// ([`Rejection::PartnerCampaignsOff`]). Terms failing
    /// [`CampaignTerms::check`] are [`Rejection::InvalidCampaign`].
    async fn create_campaign(&self, req: CreateCampaign) -> StoreResult<Campaign>;

    /// Approves or rejects a pending campaign (an admin), or ends a pending or
    /// active one (an admin, or its partner). A campaign not found — or, for
    /// a partner, not its own — is [`Rejection::UnknownCampaign`]; a status
    /// that does not allow the decision (or a partner approving) is
    /// [`Rejection::CampaignClosed`].
    async fn decide_campaign(&self, req: DecideCampaign) -> StoreResult<Campaign>;

    /// Campaigns, newest first, with what each has paid (`issued`). An
    /// unknown partner is [`Rejection::UnknownPartner`]; a limit outside
    /// 1..=[`MAX_CAMPAIGNS_LISTED`] is [`Rejection::InvalidAmount`].
    async fn campaigns(&self, req: ListCampaigns) -> StoreResult<Vec<Campaign>>;

    /// A redemption request the partner opened, as it is now (a pending one
    /// past `expires_at` stays pending until answered or swept); `None` for
    /// an unknown partner, an unknown request or another partner's. At the
    /// till ([`PartnerRef::Till`]) the owner's account and every active
    /// cashier see all the partner's requests; a revoked cashier, or anyone
    /// else, sees none (`None`).
    async fn redemption(&self, req: ViewRedemption) -> StoreResult<Option<RedemptionView>>;

    /// The customer's redemption requests that wait for their answer: pending
    /// and not past `expires_at` (`now ≤ expires_at`), newest first (by
    /// `created_at`, then id), at most [`MAX_CUSTOMER_REDEMPTIONS`]. A
    /// blocked customer (an erased one too) has none listed — they cannot pay
    /// with points. An unknown customer is [`Rejection::UnknownCustomer`].
    async fn customer_redemptions(&self, req: CustomerRedemptions) -> StoreResult<Vec<PendingRedemption>>;

    /// Sets a customer's birthday, once: a second call is
    /// [`Rejection::BirthdayAlreadySet`] with the one on record. A date that
    /// does not exist is [`Rejection::InvalidAmount`].
    async fn set_birthday(&self, req: SetBirthday) -> StoreResult<Birthday>;

    /// Publishes a partner's reward: active at once, or pending an admin
    /// under the rules' `rewards.moderation`. Idempotent by its key.
    async fn publish_reward(&self, req: PublishReward) -> StoreResult<Reward>;

    /// Approves or rejects a pending reward (an admin), or withdraws one (an
    /// admin or its partner). Deciding what is decided already is
    /// [`Rejection::RewardClosed`].
    async fn decide_reward(&self, req: DecideReward) -> StoreResult<RewardDecided>;

    /// Lists rewards (see [`ListRewards`]).
    async fn rewards(&self, req: ListRewards) -> StoreResult<Vec<Reward>>;

    /// Claims a reward: in one transaction the stock goes down by one, the
    /// price leaves the balance (a redemption entry at the reward's partner,
    /// spending the points that expire first) and a voucher is issued.
    /// Idempotent by its key: a replay answers the first voucher as it is now.
    async fn claim_reward(&self, req: ClaimReward) -> StoreResult<VoucherView>;

    /// Marks an issued voucher used at its partner. Using a used voucher again
    /// answers it with `replayed`; a cancelled one is [`Rejection::VoucherClosed`].
    async fn use_voucher(&self, req: UseVoucher) -> StoreResult<VoucherView>;

    /// Cancels an issued voucher: its price comes back (a reversal of the
    /// payment) and so does its unit of stock. Cancelling a cancelled voucher
    /// answers it with `replayed`; a used one is [`Rejection::VoucherClosed`].
    async fn cancel_voucher(&self, req: CancelVoucher) -> StoreResult<VoucherView>;

    /// A customer's vouchers, newest first.
    async fn vouchers(&self, req: ListVouchers) -> StoreResult<Vec<VoucherView>>;

    /// A page of the entries made at a partner (its credits, redemptions and
    /// reversals, vouchers' payments and refunds), newest first: its POS's
    /// statement. An unknown partner is [`Rejection::UnknownPartner`].
    async fn partner_entries(&self, page: PartnerEntriesPage) -> StoreResult<Vec<LedgerEntry>>;

    /// A page of customers, partners or entries by id, after `after`: the
    /// program's data, streamed out page by page (`loyalty export data`).
    async fn export_page(&self, page: ExportPage) -> StoreResult<ExportRows>;

    /// For up to `limit` customers, the points that expire after `now` and
    /// within the rules' `expiry.remind_days_before` of it and have not been
    /// announced, marking them announced: each point is announced at most
    /// once. Empty when nothing is left to announce (or reminders are off).
    /// Blocked customers are skipped (and their points stay unannounced). A
    /// limit outside 1..=[`MAX_EXPIRY_BATCH`] is [`Rejection::InvalidAmount`].
    async fn remind_expiry(&self, req: RemindExpiry) -> StoreResult<Vec<ExpiryReminder>>;

    /// Records `req.value` as the state of the scheduled job `req.name` and
    /// returns the state it replaces (`None` the first time), atomically: of
    /// two concurrent swaps each sees the other's value or the one before
    /// both, never the same old value twice. The webhook watchdog keeps what
    /// it last saw here, so it alerts once per change on every runtime. A
    /// name outside 1..=100 characters or a value over
    /// [`MAX_JOB_STATE_BYTES`] is [`Rejection::InvalidAmount`].
    async fn swap_job_state(&self, req: SwapJobState) -> StoreResult<Option<JobState>>;

    /// Puts `req.messages` into the outbox, in order, each keyed by
    /// `req.source` and its position: a key enqueued before adds nothing (a
    /// re-run of an update enqueues its messages again harmlessly). Returns
    /// the messages this call added, leased to the caller until
    /// `req.lease_until`, and whether any webhook endpoint is registered
    /// ([`Enqueued::webhooks`]), read in the same call. Marks the claims of `req.updates` finished and
    /// drops their kept bodies in the same call — so an update's messages and
    /// its being done are one write (and a server can finish many updates
    /// that sent nothing in one). A source outside 1..=200 characters, more
    /// than [`MAX_MESSAGE_BATCH`] messages or updates, or a payload over
    /// [`MAX_MESSAGE_BYTES`] is [`Rejection::InvalidAmount`].
    async fn enqueue_messages(&self, req: EnqueueMessages) -> StoreResult<Enqueued>;

    /// Leases up to `req.limit` messages due for delivery (pending, not
    /// leased past `req.now`), oldest first, until `req.lease_until`, counting
    /// an attempt for each. Only the oldest pending message of a chat is handed
    /// out, so a chat's messages go out in order and one at a time; two
    /// concurrent calls never hand out the same message. A limit outside
    /// 1..=[`MAX_MESSAGE_BATCH`] is [`Rejection::InvalidAmount`].
    async fn take_messages(&self, req: TakeMessages) -> StoreResult<Vec<OutboxMessage>>;

    /// Records what became of messages taken for delivery: sent and failed
    /// ones are never handed out again, the others from their retry time.
    /// Unknown ids are ignored. More than [`MAX_MESSAGE_BATCH`] is
    /// [`Rejection::InvalidAmount`].
    async fn settle_messages(&self, req: SettleMessages) -> StoreResult<()>;

    /// The claims of updates that were claimed with a body and never finished
    /// (their processing died after the claim: the process was killed, the
    /// isolate evicted), taken before `req.before`, oldest first, up to
    /// `req.limit`: each is leased (its time set to `req.now`) so concurrent
    /// callers do not both process it again. A limit outside
    /// 1..=[`MAX_MESSAGE_BATCH`] is [`Rejection::InvalidAmount`].
    async fn stale_updates(&self, req: StaleUpdates) -> StoreResult<Vec<StaleUpdate>>;

    /// How many messages wait in the outbox and since when, and how many failed.
    async fn outbox_state(&self, now: Timestamp) -> StoreResult<OutboxState>;

    /// What the program holds about a customer, or `None` for no such
    /// customer (see [`PersonalData`]).
    async fn personal_data(&self, who: CustomerRef) -> StoreResult<Option<PersonalData>>;

    /// Erases a customer's personal data, keeping a tombstone (see
    /// [`EraseCustomer`]); [`Rejection::UnknownCustomer`] for no such customer.
    async fn erase_customer(&self, req: EraseCustomer) -> StoreResult<Erased>;

    /// A page of the audit log, newest first (see [`AuditPage`]);
    /// [`Rejection::InvalidAmount`] for a limit outside `1..=`[`MAX_AUDIT_PAGE`].
    async fn audit_log(&self, page: AuditPage) -> StoreResult<Vec<AuditRecord>>;

    /// Sets, changes or ends (`needed` 0) the partner's stamp card, answering
    /// it (`None` when ended): [`Rejection::InvalidStampCard`] for terms out of
    /// range, [`Rejection::UnknownPartner`], [`Rejection::PartnerNotApproved`].
    async fn set_stamp_card(&self, req: SetStampCard) -> StoreResult<Option<StampCard>>;

    /// Gives one stamp; the `needed`-th completes the card and starts a new
    /// one. Refusals: [`Rejection::UnknownPartner`], [`Rejection::PartnerNotApproved`],
    /// [`Rejection::NoStampCard`], [`Rejection::UnknownCustomer`],
    /// [`Rejection::CustomerBlocked`]; a key used before for another partner or
    /// customer is [`Rejection::IdempotencyConflict`] (stamps' keys are their own:
    /// a ledger entry's key does not collide with a stamp's).
    async fn add_stamp(&self, req: AddStamp) -> StoreResult<Stamped>;

    /// The customer's stamps at every partner running a card (none yet counts),
    /// by partner id, at most [`MAX_STAMP_CARDS_LISTED`]; [`Rejection::UnknownCustomer`].
    async fn stamp_cards(&self, who: CustomerRef) -> StoreResult<Vec<StampProgress>>;

    /// An approved partner, by its owner, invites a cashier: an invitation
    /// valid until `expires_at` whose link carries the token hashed in the
    /// request. [`Rejection::StaffLimit`] at [`rules::MAX_STAFF`] cashiers and
    /// open invitations; a hash used before is [`Rejection::InvalidInvite`].
    async fn invite_staff(&self, req: InviteStaff) -> StoreResult<Staff>;

    /// The user opening an invitation link joins its partner's staff.
    /// [`Rejection::InvalidInvite`] for an unknown, expired or revoked
    /// invitation, or one someone else used; [`Rejection::AlreadyPartner`] for
    /// a partner's owner; [`Rejection::AlreadyStaff`] for someone who is an
    /// active cashier already (here or elsewhere); the same user opening the
    /// same link again is a replay.
    async fn join_staff(&self, req: JoinStaff) -> StoreResult<StaffJoined>;

    /// A partner's staff, by its owner: its active cashiers first, then
    /// invitations and revoked cashiers (expired and revoked ones too), each
    /// newest first, at most 100 (a partner has at most
    /// [`rules::MAX_STAFF`] active, so they are always listed).
    async fn staff(&self, who: PartnerRef) -> StoreResult<Vec<Staff>>;

    /// A partner, by its owner, revokes a cashier or an invitation, at once;
    /// revoking again is a replay. Another partner's is
    /// [`Rejection::UnknownStaff`].
    async fn revoke_staff(&self, req: RevokeStaff) -> StoreResult<StaffRevoked>;

    /// Registers a webhook endpoint for the program, or for an approved
    /// partner by its owner. [`Rejection::InvalidWebhook`] for a URL, events
    /// or key [`check_webhook`] refuses (checked before the store). Then the
    /// owner is resolved ([`Rejection::UnknownPartner`]) and its key looked
    /// up: a key it used before answers that endpoint (`replayed`, even
    /// removed since, whatever the partner's status or the limit now) for the
    /// same URL and events (as a set), else [`Rejection::IdempotencyConflict`].
    /// Only a fresh key is checked further: the partner approved, and
    /// [`Rejection::WebhookLimit`] at
    /// [`MAX_WEBHOOKS`](crate::outgoing::MAX_WEBHOOKS) endpoints of that owner.
    /// Concurrent calls with one key make one endpoint.
    async fn add_webhook(&self, req: AddWebhook) -> StoreResult<WebhookAdded>;

    /// An owner's endpoints not removed, newest first (a partner by its
    /// owner, in any status).
    async fn webhooks(&self, owner: WebhookOwner) -> StoreResult<Vec<Webhook>>;

    /// Removes one of the owner's endpoints (removing again answers it as it
    /// is); another owner's is [`Rejection::UnknownWebhook`].
    async fn remove_webhook(&self, req: RemoveWebhook) -> StoreResult<Webhook>;

    /// The endpoints not removed that receive `event`: the program's, and —
    /// when it happened at an approved partner — that partner's; by id.
    async fn webhook_targets(&self, req: WebhookTargets) -> StoreResult<Vec<Webhook>>;

    /// Records a delivery attempt on its endpoint (a 2xx status is a
    /// success); an unknown id changes nothing.
    async fn record_webhook(&self, req: RecordWebhook) -> StoreResult<()>;

    /// Checks that the backend is reachable, for readiness probes (the native
    /// server's `GET /ready`). `Ok` means a round trip to the backend worked.
    ///
    /// The provided implementation makes one cheap existing call — looking up
    /// partner `0`, which never exists — and discards the answer. Backends
    /// with a cheaper probe (`SELECT 1`, a pool status check) may override it;
    /// an override must still reach the backend, not just a local cache.
    async fn ping(&self) -> StoreResult<()> {
        self.partner(PartnerRef::Id(PartnerId(0))).await.map(|_| ())
    }
}

/// Idempotency key of a customer's welcome bonus entry: `welcome:<customer id>`.
pub fn welcome_key(customer: CustomerId) -> String {
    format!("welcome:{customer}")
}

/// Idempotency key of the referral bonus paid for a referred customer:
/// `referral:<referred customer id>`.
pub fn referral_key(referred: CustomerId) -> String {
    format!("referral:{referred}")
}

/// Idempotency key of the debit of a confirmed redemption request:
/// `redemption:<request id>`.
pub fn redemption_key(request: RedemptionId) -> String {
    format!("redemption:{request}")
}

/// The idempotency key of a cancelled voucher's refund (under the reserved
/// `redemption:` prefix, so no caller can occupy it).
pub fn voucher_refund_key(voucher: VoucherId) -> String {
    format!("redemption:voucher:{voucher}")
}

/// Whether `key` has the prefix of a key the store derives itself
/// ([`welcome_key`], [`referral_key`], [`redemption_key`]). A caller-supplied
/// key with such a prefix is refused with [`Rejection::IdempotencyConflict`],
/// so nobody can occupy a key a system entry will need.
pub fn is_reserved_key(key: &str) -> bool {
    ["welcome:", "referral:", "redemption:", "import:", "expiry:"].iter().any(|p| key.starts_with(p))
}
