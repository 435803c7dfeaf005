//! The mapping from [`Storage`] to the SQL functions of `supabase/migrations`,
//! shared by every backend that can call them: `loyalty.<use case>(jsonb)`
//! takes the serde JSON of the request and returns the serde JSON of the
//! answer (see `docs/SUPABASE.md`). A backend implements [`RpcBackend`] — how
//! to reach the functions (the Postgres wire protocol, PostgREST over HTTP) —
//! and gets [`Storage`] from the blanket implementation here, so the use
//! cases are mapped to functions in one place.

use crate::domain::*;
use crate::maybe_send::{MaybeSend, MaybeSync};
use crate::ports::*;
use crate::program::RulesVersion;
use crate::program::campaigns::{Birthday, Campaign};
use crate::program::rewards::Reward;
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A way to call the `loyalty.<function>(jsonb) → jsonb` SQL functions.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait RpcBackend: MaybeSend + MaybeSync {
    /// Calls `loyalty.<function>` with `request` (the request's JSON text) and
    /// returns the function's JSON result (`Null` for SQL `NULL`). Transport
    /// and database errors come back already mapped: rejections raised by the
    /// function (SQLSTATE `LY001`) as [`StoreError::Rejected`], temporary
    /// failures as [`StoreError::Unavailable`], the rest as [`StoreError::Backend`].
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value>;

    /// Claims the update `claim` and calls `loyalty.<func>` with `req` in one
    /// transaction and one round trip ([`Storage::fold_claim`]): an update
    /// claimed before gives [`StoreError::DuplicateUpdate`] with nothing
    /// applied; a rejection keeps the claim.
    ///
    /// The provided implementation calls the SQL function
    /// `loyalty.call_claimed` (migration `20261126090300`) through
    /// [`RpcBackend::call_function`], so any backend that can call the
    /// functions gets it; D1 composes its own batch instead.
    async fn call_function_claimed(&self, claim: &UpdateClaim, func: &'static str, req: String) -> StoreResult<Value> {
        let claim = encode_claim(func, claim)?;
        let body = format!(r#"{{"claim":{claim},"function":"{func}","req":{req}}}"#);
        let answer = self.call_function("call_claimed", body).await?;
        if is_duplicate_answer(&answer) {
            return Err(StoreError::DuplicateUpdate);
        }
        Ok(answer)
    }
}

/// `claim` as the JSON the SQL functions and the D1 statements take (`?2`).
pub fn encode_claim(function: &str, claim: &UpdateClaim) -> StoreResult<String> {
    serde_json::to_string(claim).map_err(|e| StoreError::Backend(format!("{function}: cannot encode the claim: {e}")))
}

/// Whether `answer` is `loyalty.call_claimed`'s `{"duplicate_update": true}`.
pub fn is_duplicate_answer(answer: &Value) -> bool {
    answer.as_object().is_some_and(|o| o.len() == 1 && o.get("duplicate_update") == Some(&Value::Bool(true)))
}

/// A store view whose first call also claims an update ([`Storage::fold_claim`]).
struct ClaimingRpc {
    inner: Arc<dyn RpcBackend>,
    claim: UpdateClaim,
    state: Arc<Mutex<FoldState>>,
}

impl ClaimingRpc {
    fn state(&self) -> std::sync::MutexGuard<'_, FoldState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl RpcBackend for ClaimingRpc {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        let state = *self.state();
        match state {
            FoldState::Duplicate => Err(StoreError::DuplicateUpdate),
            FoldState::Claimed => self.inner.call_function(function, request).await,
            FoldState::Pending => {
                let result = self.inner.call_function_claimed(&self.claim, function, request).await;
                let mut state = self.state();
                match &result {
                    Ok(_) | Err(StoreError::Rejected(_)) => *state = FoldState::Claimed,
                    Err(StoreError::DuplicateUpdate) => *state = FoldState::Duplicate,
                    Err(_) => {} // nothing was claimed: the next call tries again
                }
                result
            }
        }
    }
}

/// Encodes `input`, calls `function` and decodes its result.
async fn call<B: RpcBackend + ?Sized, I: Serialize + ?Sized, T: DeserializeOwned>(
    backend: &B,
    function: &'static str,
    input: &I,
) -> StoreResult<T> {
    let request = serde_json::to_string(input)
        .map_err(|e| StoreError::Backend(format!("{function}: cannot encode the request: {e}")))?;
    decode_result(function, backend.call_function(function, request).await?)
}

/// Decodes a function's JSON result into the answer type. The one refusal that
/// changes something (answering an expired redemption request marks it
/// expired) is returned as `{"rejected": <Rejection>}` rather than raised, since
/// raising would roll the change back; it becomes [`StoreError::Rejected`].
pub fn decode_result<T: DeserializeOwned>(function: &str, value: Value) -> StoreResult<T> {
    if let Some(rejection) = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.get("rejected")) {
        return Err(match serde_json::from_value::<Rejection>(rejection.clone()) {
            Ok(r) => StoreError::Rejected(r),
            Err(e) => StoreError::Backend(format!("{function}: unreadable rejection: {e}")),
        });
    }
    serde_json::from_value(value).map_err(|e| StoreError::Backend(format!("{function}: unexpected result: {e}")))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<B: RpcBackend + 'static> Storage for B {
    // One isolate is one thread on wasm32: the view need not be `Send`/`Sync` there.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    fn fold_claim(self: Arc<Self>, claim: UpdateClaim) -> Option<FoldedStore> {
        let state = Arc::new(Mutex::new(FoldState::Pending));
        let view = ClaimingRpc { inner: self, claim, state: state.clone() };
        Some(FoldedStore::new(Arc::new(view), state))
    }

    async fn register_customer(&self, req: NewCustomer) -> StoreResult<Registration> {
        call(self, "register_customer", &req).await
    }

    async fn customer_summary(&self, who: CustomerRef, recent: u32) -> StoreResult<Option<CustomerSummary>> {
        #[derive(Serialize)]
        struct Args {
            who: CustomerRef,
            recent: u32,
        }
        call(self, "customer_summary", &Args { who, recent }).await
    }

    async fn customer_entries(&self, page: EntriesPage) -> StoreResult<Vec<LedgerEntry>> {
        call(self, "customer_entries", &page).await
    }

    async fn set_language(&self, who: CustomerRef, language: Language) -> StoreResult<Customer> {
        #[derive(Serialize)]
        struct Args {
            who: CustomerRef,
            language: Language,
        }
        call(self, "set_language", &Args { who, language }).await
    }

    async fn set_blocked(&self, req: SetBlocked) -> StoreResult<Customer> {
        call(self, "set_blocked", &req).await
    }

    async fn credit_purchase(&self, req: CreditPurchase) -> StoreResult<Credited> {
        call(self, "credit_purchase", &req).await
    }

    async fn open_redemption(&self, req: OpenRedemption) -> StoreResult<RedemptionView> {
        call(self, "open_redemption", &req).await
    }

    async fn confirm_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        call(self, "confirm_redemption", &req).await
    }

    async fn decline_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        call(self, "decline_redemption", &req).await
    }

    async fn expire_redemptions(&self, now: Timestamp) -> StoreResult<Vec<RedemptionRequest>> {
        #[derive(Serialize)]
        struct Args {
            now: Timestamp,
        }
        call(self, "expire_redemptions", &Args { now }).await
    }

    async fn reverse_entry(&self, req: ReverseEntry) -> StoreResult<Reversed> {
        call(self, "reverse_entry", &req).await
    }

    async fn adjust_balance(&self, req: AdjustBalance) -> StoreResult<Adjusted> {
        call(self, "adjust_balance", &req).await
    }

    async fn apply_partner(&self, req: PartnerApplication) -> StoreResult<Applied> {
        call(self, "apply_partner", &req).await
    }

    async fn decide_partner(&self, req: DecidePartner) -> StoreResult<Decided> {
        call(self, "decide_partner", &req).await
    }

    async fn partner(&self, who: PartnerRef) -> StoreResult<Option<Partner>> {
        #[derive(Serialize)]
        struct Args {
            who: PartnerRef,
        }
        call(self, "partner", &Args { who }).await
    }

    async fn list_partners(&self, status: Option<PartnerStatus>) -> StoreResult<Vec<Partner>> {
        #[derive(Serialize)]
        struct Args {
            status: Option<PartnerStatus>,
        }
        call(self, "list_partners", &Args { status }).await
    }

    async fn set_partner_api_key(&self, who: PartnerRef, key_sha256_hex: Option<String>) -> StoreResult<Partner> {
        #[derive(Serialize)]
        struct Args {
            who: PartnerRef,
            key_sha256_hex: Option<String>,
        }
        call(self, "set_partner_api_key", &Args { who, key_sha256_hex }).await
    }

    async fn partner_by_api_key(&self, key_sha256_hex: &str) -> StoreResult<Option<Partner>> {
        #[derive(Serialize)]
        struct Args<'a> {
            key_sha256_hex: &'a str,
        }
        call(self, "partner_by_api_key", &Args { key_sha256_hex }).await
    }

    async fn export_customers(&self, req: ExportCustomers) -> StoreResult<Vec<CustomerHistory>> {
        call(self, "export_customers", &req).await
    }

    async fn customer_view(&self, req: ViewCustomer) -> StoreResult<Option<CustomerView>> {
        call(self, "customer_view", &req).await
    }

    async fn look_up_customer(&self, req: LookUpCustomer) -> StoreResult<CustomerCard> {
        call(self, "look_up_customer", &req).await
    }

    async fn partner_stats(&self, who: PartnerRef, today: Timestamp, week: Timestamp) -> StoreResult<PartnerStats> {
        #[derive(Serialize)]
        struct Args {
            who: PartnerRef,
            today: Timestamp,
            week: Timestamp,
        }
        call(self, "partner_stats", &Args { who, today, week }).await
    }

    async fn program_stats(&self, today: Timestamp) -> StoreResult<ProgramStats> {
        #[derive(Serialize)]
        struct Args {
            today: Timestamp,
        }
        call(self, "program_stats", &Args { today }).await
    }

    async fn daily_figures(&self, req: DailyFigures) -> StoreResult<Vec<DayFigures>> {
        call(self, "daily_figures", &req).await
    }

    async fn claim_update(&self, claim: UpdateClaim) -> StoreResult<bool> {
        call(self, "claim_update", &claim).await
    }

    async fn release_update(&self, bot: BotId, update_id: i64) -> StoreResult<()> {
        #[derive(Serialize)]
        struct Args {
            bot: BotId,
            update_id: i64,
        }
        call(self, "release_update", &Args { bot, update_id }).await
    }

    async fn import_batch(&self, req: ImportBatch) -> StoreResult<ImportApplied> {
        call(self, "import_batch", &req).await
    }

    async fn prune_update_claims(&self, before: Timestamp) -> StoreResult<u64> {
        #[derive(Serialize)]
        struct Args {
            before: Timestamp,
        }
        call(self, "prune_update_claims", &Args { before }).await
    }

    async fn consume_quota(&self, req: ConsumeQuota) -> StoreResult<bool> {
        call(self, "consume_quota", &req).await
    }

    async fn swap_job_state(&self, req: SwapJobState) -> StoreResult<Option<JobState>> {
        call(self, "swap_job_state", &req).await
    }

    async fn enqueue_messages(&self, req: EnqueueMessages) -> StoreResult<Enqueued> {
        call(self, "enqueue_messages", &req).await
    }

    async fn take_messages(&self, req: TakeMessages) -> StoreResult<Vec<OutboxMessage>> {
        call(self, "take_messages", &req).await
    }

    async fn settle_messages(&self, req: SettleMessages) -> StoreResult<()> {
        call(self, "settle_messages", &req).await
    }

    async fn stale_updates(&self, req: StaleUpdates) -> StoreResult<Vec<StaleUpdate>> {
        call(self, "stale_updates", &req).await
    }

    async fn outbox_state(&self, now: Timestamp) -> StoreResult<OutboxState> {
        #[derive(Serialize)]
        struct Args {
            now: Timestamp,
        }
        call(self, "outbox_state", &Args { now }).await
    }

    async fn create_broadcast(&self, req: NewBroadcast) -> StoreResult<BroadcastJob> {
        call(self, "create_broadcast", &req).await
    }

    async fn claim_broadcast_batch(&self, job: BroadcastId, limit: u32) -> StoreResult<BroadcastBatch> {
        #[derive(Serialize)]
        struct Args {
            job: BroadcastId,
            limit: u32,
        }
        call(self, "claim_broadcast_batch", &Args { job, limit }).await
    }

    async fn record_broadcast(&self, job: BroadcastId, sent: u32, failed: u32) -> StoreResult<BroadcastJob> {
        #[derive(Serialize)]
        struct Args {
            job: BroadcastId,
            sent: u32,
            failed: u32,
        }
        call(self, "record_broadcast", &Args { job, sent, failed }).await
    }

    async fn pending_broadcasts(&self) -> StoreResult<Vec<BroadcastJob>> {
        #[derive(Serialize)]
        struct Args {}
        call(self, "pending_broadcasts", &Args {}).await
    }

    async fn program_rules(&self) -> StoreResult<RulesVersion> {
        #[derive(Serialize)]
        struct Args {}
        call(self, "program_rules", &Args {}).await
    }

    async fn set_program_rules(&self, req: SetProgramRules) -> StoreResult<RulesVersion> {
        // The document's ranges are checked here, once for every SQL store;
        // the SQL keeps the document as given.
        req.rules.check().map_err(|reason| Rejection::InvalidRules { reason })?;
        call(self, "set_program_rules", &req).await
    }

    async fn create_campaign(&self, req: CreateCampaign) -> StoreResult<Campaign> {
        // Checked here, once for every SQL store, like the rules document.
        req.terms.check().map_err(|reason| Rejection::InvalidCampaign { reason })?;
        call(self, "create_campaign", &req).await
    }

    async fn decide_campaign(&self, req: DecideCampaign) -> StoreResult<Campaign> {
        call(self, "decide_campaign", &req).await
    }

    async fn campaigns(&self, req: ListCampaigns) -> StoreResult<Vec<Campaign>> {
        call(self, "campaigns", &req).await
    }

    async fn publish_reward(&self, req: PublishReward) -> StoreResult<Reward> {
        // Checked here, once for every SQL store, like a campaign's terms.
        req.offer.check().map_err(|reason| Rejection::InvalidReward { reason })?;
        call(self, "publish_reward", &req).await
    }

    async fn decide_reward(&self, req: DecideReward) -> StoreResult<RewardDecided> {
        call(self, "decide_reward", &req).await
    }

    async fn rewards(&self, req: ListRewards) -> StoreResult<Vec<Reward>> {
        call(self, "rewards", &req).await
    }

    async fn claim_reward(&self, req: ClaimReward) -> StoreResult<VoucherView> {
        call(self, "claim_reward", &req).await
    }

    async fn use_voucher(&self, req: UseVoucher) -> StoreResult<VoucherView> {
        call(self, "use_voucher", &req).await
    }

    async fn cancel_voucher(&self, req: CancelVoucher) -> StoreResult<VoucherView> {
        call(self, "cancel_voucher", &req).await
    }

    async fn vouchers(&self, req: ListVouchers) -> StoreResult<Vec<VoucherView>> {
        call(self, "vouchers", &req).await
    }

    async fn personal_data(&self, who: CustomerRef) -> StoreResult<Option<PersonalData>> {
        #[derive(Serialize)]
        struct Args {
            who: CustomerRef,
        }
        call(self, "personal_data", &Args { who }).await
    }

    async fn erase_customer(&self, req: EraseCustomer) -> StoreResult<Erased> {
        call(self, "erase_customer", &req).await
    }

    async fn audit_log(&self, page: AuditPage) -> StoreResult<Vec<AuditRecord>> {
        call(self, "audit_log", &page).await
    }

    async fn set_stamp_card(&self, req: SetStampCard) -> StoreResult<Option<StampCard>> {
        call(self, "set_stamp_card", &req).await
    }

    async fn add_stamp(&self, req: AddStamp) -> StoreResult<Stamped> {
        call(self, "add_stamp", &req).await
    }

    async fn stamp_cards(&self, who: CustomerRef) -> StoreResult<Vec<StampProgress>> {
        #[derive(Serialize)]
        struct Args {
            who: CustomerRef,
        }
        call(self, "stamp_cards", &Args { who }).await
    }

    async fn invite_staff(&self, req: InviteStaff) -> StoreResult<Staff> {
        call(self, "invite_staff", &req).await
    }

    async fn join_staff(&self, req: JoinStaff) -> StoreResult<StaffJoined> {
        call(self, "join_staff", &req).await
    }

    async fn staff(&self, who: PartnerRef) -> StoreResult<Vec<Staff>> {
        #[derive(Serialize)]
        struct Args {
            who: PartnerRef,
        }
        call(self, "staff", &Args { who }).await
    }

    async fn revoke_staff(&self, req: RevokeStaff) -> StoreResult<StaffRevoked> {
        call(self, "revoke_staff", &req).await
    }

    async fn add_webhook(&self, req: AddWebhook) -> StoreResult<WebhookAdded> {
        // Checked here, once for every SQL store, like a campaign's terms.
        check_webhook(&req)?;
        call(self, "add_webhook", &req).await
    }

    async fn webhooks(&self, owner: WebhookOwner) -> StoreResult<Vec<Webhook>> {
        #[derive(Serialize)]
        struct Args {
            owner: WebhookOwner,
        }
        call(self, "webhooks", &Args { owner }).await
    }

    async fn remove_webhook(&self, req: RemoveWebhook) -> StoreResult<Webhook> {
        call(self, "remove_webhook", &req).await
    }

    async fn webhook_targets(&self, req: WebhookTargets) -> StoreResult<Vec<Webhook>> {
        call(self, "webhook_targets", &req).await
    }

    async fn record_webhook(&self, req: RecordWebhook) -> StoreResult<()> {
        let error = req.error.map(|e| e.chars().take(200).collect());
        call(self, "record_webhook", &RecordWebhook { error, ..req }).await
    }

    async fn export_page(&self, page: ExportPage) -> StoreResult<ExportRows> {
        call(self, "export_page", &page).await
    }

    async fn partner_entries(&self, page: PartnerEntriesPage) -> StoreResult<Vec<LedgerEntry>> {
        call(self, "partner_entries", &page).await
    }

    async fn redemption(&self, req: ViewRedemption) -> StoreResult<Option<RedemptionView>> {
        call(self, "redemption", &req).await
    }

    async fn customer_redemptions(&self, req: CustomerRedemptions) -> StoreResult<Vec<PendingRedemption>> {
        call(self, "customer_redemptions", &req).await
    }

    async fn set_birthday(&self, req: SetBirthday) -> StoreResult<Birthday> {
        Birthday::new(req.birthday.month, req.birthday.day).ok_or(Rejection::InvalidAmount)?;
        call(self, "set_birthday", &req).await
    }

    async fn expire_points(&self, req: ExpirePoints) -> StoreResult<Vec<PointsExpired>> {
        call(self, "expire_points", &req).await
    }

    async fn refresh_tiers(&self, req: RefreshTiers) -> StoreResult<TiersRefreshed> {
        call(self, "refresh_tiers", &req).await
    }

    async fn remind_expiry(&self, req: RemindExpiry) -> StoreResult<Vec<ExpiryReminder>> {
        call(self, "remind_expiry", &req).await
    }
}
