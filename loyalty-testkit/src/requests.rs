//! Storage requests for store tests: the people and requests most tests
//! start from, all at [`T0`], and [`every_use_case`], which calls each method
//! of the `Storage` port once so a test can count what each costs a backend.

use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::program::Localized;
use loyalty_core::program::ProgramRules;
use loyalty_core::program::campaigns::{
    ALL_TIERS, ALL_WEEKDAYS, Birthday, CampaignDocument, CampaignKind, CampaignTerms,
};
use loyalty_core::program::rewards::RewardOffer;

/// 10:00 UTC on the day the tests happen on.
pub const T0: Timestamp = Timestamp(1_700_006_400 + 36_000);
/// The admin who approves partners and adjusts balances.
pub const ADMIN: TelegramUserId = TelegramUserId(42);

/// Registers the customer with Telegram id `tg` and `welcome` points.
///
/// # Panics
/// If the store refuses.
pub async fn customer(s: &dyn Storage, tg: i64, welcome: Points) -> Customer {
    let code = CustomerCode::from_random([0x11, (tg >> 24) as u8, (tg >> 16) as u8, (tg >> 8) as u8, tg as u8]);
    s.register_customer(NewCustomer {
        telegram_id: TelegramUserId(tg),
        code,
        first_name: format!("c{tg}"),
        username: None,
        language: Language::En,
        referrer: None,
        legacy_referrer: None,
        via_partner: None,
        welcome_bonus: welcome,
        referral_bonus: 0,
        now: T0,
    })
    .await
    .expect("register")
    .customer
}

/// The application of a café with Telegram id `tg`.
pub fn application(tg: i64, terms: PartnerTerms) -> PartnerApplication {
    PartnerApplication {
        telegram_id: TelegramUserId(tg),
        name: "Cafe".into(),
        category: "cafe".into(),
        terms,
        language: Language::En,
        now: T0,
    }
}

/// A partner with Telegram id `tg` that applied and was approved by [`ADMIN`].
///
/// # Panics
/// If the store refuses.
pub async fn partner(s: &dyn Storage, tg: i64, terms: PartnerTerms) -> Partner {
    let applied = s.apply_partner(application(tg, terms)).await.expect("apply");
    s.decide_partner(DecidePartner {
        partner: applied.partner.id,
        decision: PartnerDecision::Approve,
        admin: ADMIN,
        now: T0,
    })
    .await
    .expect("approve")
    .partner
}

/// `p` credits a purchase of `purchase` to `c` (named by its code).
pub fn credit_req(p: &Partner, c: &Customer, purchase: Points, key: &str) -> CreditPurchase {
    let (partner, customer, idempotency_key) = (PartnerRef::Id(p.id), CustomerRef::Code(c.code.clone()), key.into());
    CreditPurchase { partner, customer, purchase, idempotency_key, day_start: T0.day_start(), now: T0 }
}

/// `p` asks `c` to redeem `points` on a purchase of ten times as much, for ten minutes.
pub fn open_req(p: &Partner, c: &Customer, points: Points, key: &str) -> OpenRedemption {
    OpenRedemption {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c.id),
        points,
        purchase: points * 10,
        idempotency_key: key.into(),
        now: T0,
        expires_at: T0.plus(600),
    }
}

/// `c` answers the redemption request `id` a minute after [`T0`].
pub fn answer(id: RedemptionId, c: &Customer) -> AnswerRedemption {
    AnswerRedemption { id, customer: CustomerRef::Id(c.id), now: T0.plus(60) }
}

/// [`ADMIN`] adds `amount` points to the balance of `customer`.
pub fn adjust_req(customer: CustomerRef, amount: Points, reason: &str, key: &str) -> AdjustBalance {
    AdjustBalance { customer, amount, reason: reason.into(), admin: ADMIN, idempotency_key: key.into(), now: T0 }
}

/// How many calls [`every_use_case`] measures: every `Storage` method once,
/// plus two calls the store refuses.
pub const USE_CASES: usize = 68;

/// Calls every method of the `Storage` port once on a fresh store, then two
/// calls it refuses (a credit of nothing and a confirmation after expiry).
/// Each measured call runs between `before()` and `after(name)`, `name`
/// being the method's name; a few set-up calls run outside them.
///
/// # Errors
/// When a refused call was not refused as it should be.
///
/// # Panics
/// When a call that should succeed fails.
pub async fn every_use_case(
    s: &dyn Storage,
    mut before: impl FnMut(),
    mut after: impl FnMut(&'static str),
) -> Result<(), String> {
    macro_rules! once {
        ($name:literal, $call:expr) => {{
            before();
            let out = $call.await;
            after($name);
            out
        }};
    }
    let sign_up = NewCustomer {
        telegram_id: TelegramUserId(1),
        code: CustomerCode::from_random([1, 2, 3, 4, 5]),
        first_name: "A".into(),
        username: None,
        language: Language::En,
        referrer: None,
        legacy_referrer: None,
        via_partner: None,
        welcome_bonus: 1_000,
        referral_bonus: 0,
        now: T0,
    };
    let c = once!("register_customer", s.register_customer(sign_up.clone())).expect("register").customer;
    let applied = once!("apply_partner", s.apply_partner(application(2, PartnerTerms::default()))).expect("apply");
    let p = once!(
        "decide_partner",
        s.decide_partner(DecidePartner {
            partner: applied.partner.id,
            decision: PartnerDecision::Approve,
            admin: ADMIN,
            now: T0
        })
    )
    .expect("approve")
    .partner;
    once!("customer_summary", s.customer_summary(CustomerRef::Id(c.id), 5)).expect("summary");
    let view = ViewCustomer {
        who: CustomerRef::Id(c.id),
        recent: 5,
        partners: true,
        quota: Some(QuotaUse { kind: QuotaKind::Assistant, day: T0.day_start(), limit: 3 }),
    };
    once!("customer_view", s.customer_view(view)).expect("view");
    once!("export_customers", s.export_customers(ExportCustomers { after: None, limit: 10 })).expect("export");
    once!("customer_entries", s.customer_entries(EntriesPage { customer: c.id, limit: 5, before: None }))
        .expect("entries");
    once!("set_language", s.set_language(CustomerRef::Id(c.id), Language::Ru)).expect("language");
    once!(
        "set_blocked",
        s.set_blocked(SetBlocked { who: CustomerRef::Id(c.id), blocked: false, admin: ADMIN, now: T0 })
    )
    .expect("blocked");
    let credited = once!("credit_purchase", s.credit_purchase(credit_req(&p, &c, 1_000, "k1"))).expect("credit");
    let opened = once!("open_redemption", s.open_redemption(open_req(&p, &c, 10, "o1"))).expect("open");
    once!("confirm_redemption", s.confirm_redemption(answer(opened.request.id, &c))).expect("confirm");
    let other = s.open_redemption(open_req(&p, &c, 10, "o2")).await.expect("open");
    once!("decline_redemption", s.decline_redemption(answer(other.request.id, &c))).expect("decline");
    once!("expire_redemptions", s.expire_redemptions(T0)).expect("expire");
    let reverse = ReverseEntry {
        entry: credited.entry.id,
        partner: PartnerRef::Id(p.id),
        idempotency_key: "r1".into(),
        not_before: T0.plus(-86_400),
        now: T0,
    };
    once!("reverse_entry", s.reverse_entry(reverse)).expect("reverse");
    once!("adjust_balance", s.adjust_balance(adjust_req(CustomerRef::Id(c.id), 5, "x", "a1"))).expect("adjust");
    once!("partner", s.partner(PartnerRef::Id(p.id))).expect("partner");
    once!("list_partners", s.list_partners(None)).expect("list");
    let hash = rules::hash_api_key("k");
    once!("set_partner_api_key", s.set_partner_api_key(PartnerRef::Id(p.id), Some(hash.clone()))).expect("set key");
    once!("partner_by_api_key", s.partner_by_api_key(&hash)).expect("by key");
    let look_up = LookUpCustomer { partner: PartnerRef::Id(p.id), customer: CustomerRef::Id(c.id) };
    once!("look_up_customer", s.look_up_customer(look_up)).expect("look up");
    once!("partner_stats", s.partner_stats(PartnerRef::Id(p.id), T0.day_start(), T0.day_start())).expect("stats");
    once!("program_stats", s.program_stats(T0.day_start())).expect("program stats");
    let figures = DailyFigures { scope: FiguresScope::Program, from: T0.day_start().plus(-6 * 86_400), days: 7 };
    once!("daily_figures", s.daily_figures(figures)).expect("daily figures");
    once!(
        "claim_update",
        s.claim_update(UpdateClaim { bot: BotId(1), update_id: 1, now: T0, body: None, finished: Vec::new() })
    )
    .expect("claim");
    once!("release_update", s.release_update(BotId(1), 1)).expect("release");
    once!("consume_quota", s.consume_quota(ConsumeQuota::assistant(TelegramUserId(1), T0.day_start(), 3)))
        .expect("quota");
    let job = once!(
        "create_broadcast",
        s.create_broadcast(NewBroadcast {
            audience: Audience::Customers,
            text: "hi".into(),
            admin_chat: 1,
            idempotency_key: "b1".into(),
            now: T0,
        })
    )
    .expect("broadcast");
    once!("claim_broadcast_batch", s.claim_broadcast_batch(job.id, 10)).expect("batch");
    once!("record_broadcast", s.record_broadcast(job.id, 1, 0)).expect("record");
    once!("pending_broadcasts", s.pending_broadcasts()).expect("pending");
    let rules = ProgramRules::from_json(r#"{"expiry": {"days": 1, "remind_days_before": 0}}"#).expect("rules");
    once!("set_program_rules", s.set_program_rules(SetProgramRules { rules, admin: Some(ADMIN), now: T0 }))
        .expect("set rules");
    once!("program_rules", s.program_rules()).expect("rules");
    once!("remind_expiry", s.remind_expiry(RemindExpiry { now: T0, limit: 10 })).expect("remind");
    once!("expire_points", s.expire_points(ExpirePoints { now: T0, limit: 10 })).expect("expire");
    once!("refresh_tiers", s.refresh_tiers(RefreshTiers { now: T0, limit: 10 })).expect("tiers");
    let terms = CampaignDocument::parse(
        r#"{"title": {"en": "Opening"}, "kind": "first_purchase", "points": 5, "starts": "2023-11-01",
            "ends": "2023-11-30", "budget": 100}"#,
    )
    .expect("campaign");
    let by = CampaignActor::Partner(PartnerRef::Id(p.id));
    let campaign = once!(
        "create_campaign",
        s.create_campaign(CreateCampaign { terms, by, now: T0, idempotency_key: Some("campaign-1".into()) })
    )
    .expect("campaign");
    let decide = DecideCampaign {
        campaign: campaign.id,
        decision: CampaignDecision::Approve,
        by: CampaignActor::Admin(ADMIN),
        now: T0,
    };
    once!("decide_campaign", s.decide_campaign(decide)).expect("approve");
    once!("campaigns", s.campaigns(ListCampaigns { partner: None, limit: 10 })).expect("campaigns");
    let birthday = Birthday::new(5, 17).expect("a date");
    once!("set_birthday", s.set_birthday(SetBirthday { customer: CustomerRef::Id(c.id), birthday, now: T0 }))
        .expect("birthday");
    let opened = s.open_redemption(open_req(&p, &c, 5, "o-view")).await.expect("open");
    let view = ViewRedemption { partner: PartnerRef::Id(p.id), id: opened.request.id };
    once!("redemption", s.redemption(view)).expect("redemption");
    let pending = CustomerRedemptions { customer: CustomerRef::Id(c.id), now: T0 };
    once!("customer_redemptions", s.customer_redemptions(pending)).expect("pending requests");
    let offer = RewardOffer {
        title: Localized { en: "Coffee".into(), ru: None, vi: None },
        description: None,
        category: Some("drinks".into()),
        price: 10,
        stock: Some(5),
        available_from: None,
        available_until: None,
        photo: None,
    };
    let publish = PublishReward { partner: PartnerRef::Id(p.id), offer, idempotency_key: "r1".into(), now: T0 };
    let reward = once!("publish_reward", s.publish_reward(publish)).expect("publish");
    let decide =
        DecideReward { reward: reward.id, decision: RewardDecision::Approve, by: CampaignActor::Admin(ADMIN), now: T0 };
    once!("decide_reward", s.decide_reward(decide)).expect("approve the reward");
    let list =
        ListRewards { partner: None, category: None, claimable_at: Some(T0), status: None, after: None, limit: 10 };
    once!("rewards", s.rewards(list)).expect("rewards");
    let claim = |code: &str, key: &str| ClaimReward {
        customer: CustomerRef::Id(c.id),
        reward: reward.id,
        code: code.into(),
        idempotency_key: key.into(),
        now: T0,
    };
    let used = once!("claim_reward", s.claim_reward(claim("AAAAABBBBB", "v1"))).expect("claim");
    let kept = s.claim_reward(claim("CCCCCDDDDD", "v2")).await.expect("claim another");
    let use_it = UseVoucher { partner: PartnerRef::Id(p.id), code: used.voucher.code.clone(), now: T0 };
    once!("use_voucher", s.use_voucher(use_it)).expect("use");
    let cancel = CancelVoucher { customer: CustomerRef::Id(c.id), voucher: kept.voucher.id, now: T0 };
    once!("cancel_voucher", s.cancel_voucher(cancel)).expect("cancel");
    let mine = ListVouchers { customer: CustomerRef::Id(c.id), status: None, limit: 10 };
    once!("vouchers", s.vouchers(mine)).expect("vouchers");
    let statement = PartnerEntriesPage { partner: PartnerRef::Id(p.id), before: None, limit: 10 };
    once!("partner_entries", s.partner_entries(statement)).expect("partner entries");
    let page = ExportPage { table: ExportTable::Entries, after: 0, limit: 10 };
    once!("export_page", s.export_page(page)).expect("export page");
    once!("personal_data", s.personal_data(CustomerRef::Id(c.id))).expect("personal data");
    let leaving =
        NewCustomer { telegram_id: TelegramUserId(2), code: CustomerCode::from_random([2, 2, 3, 4, 5]), ..sign_up };
    let leaving = s.register_customer(leaving).await.expect("sign up another").customer;
    let erase = EraseCustomer { who: CustomerRef::Id(leaving.id), admin: None, now: T0 };
    once!("erase_customer", s.erase_customer(erase)).expect("erase");
    once!("audit_log", s.audit_log(AuditPage { before: None, limit: 10 })).expect("audit log");
    let card = SetStampCard { partner: PartnerRef::Id(p.id), needed: 5, reward: "a coffee".into(), now: T0 };
    once!("set_stamp_card", s.set_stamp_card(card)).expect("stamp card");
    let stamp = AddStamp {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c.id),
        idempotency_key: "stamp-1".into(),
        now: T0,
    };
    once!("add_stamp", s.add_stamp(stamp)).expect("stamp");
    once!("stamp_cards", s.stamp_cards(CustomerRef::Id(c.id))).expect("stamp cards");
    let invite = InviteStaff {
        partner: PartnerRef::Id(p.id),
        token_sha256_hex: "ab".repeat(32),
        now: T0,
        expires_at: T0.plus(3_600),
    };
    let invited = once!("invite_staff", s.invite_staff(invite)).expect("invite");
    let join =
        JoinStaff { token_sha256_hex: "ab".repeat(32), telegram_id: TelegramUserId(30), name: "C".into(), now: T0 };
    once!("join_staff", s.join_staff(join)).expect("join");
    once!("staff", s.staff(PartnerRef::Id(p.id))).expect("staff");
    let revoke = RevokeStaff { partner: PartnerRef::Id(p.id), staff: invited.id, now: T0 };
    once!("revoke_staff", s.revoke_staff(revoke)).expect("revoke");
    let hook = AddWebhook {
        owner: WebhookOwner::Partner(PartnerRef::Id(p.id)),
        url: "https://hooks.example.com/loyalty".into(),
        events: vec![loyalty_core::outgoing::WebhookEvent::PointsCredited],
        secret: loyalty_core::outgoing::new_secret([7; 32]),
        now: T0,
        idempotency_key: "hook-1".into(),
    };
    let hook = once!("add_webhook", s.add_webhook(hook)).expect("add webhook").webhook;
    once!("webhooks", s.webhooks(WebhookOwner::Partner(PartnerRef::Id(p.id)))).expect("webhooks");
    let targets = WebhookTargets { event: loyalty_core::outgoing::WebhookEvent::PointsCredited, partner: Some(p.id) };
    once!("webhook_targets", s.webhook_targets(targets)).expect("webhook targets");
    let record = RecordWebhook { id: hook.id, at: T0, status: Some(200), error: None };
    once!("record_webhook", s.record_webhook(record)).expect("record webhook");
    let remove = RemoveWebhook { owner: WebhookOwner::Partner(PartnerRef::Id(p.id)), id: hook.id, now: T0 };
    once!("remove_webhook", s.remove_webhook(remove)).expect("remove webhook");
    // Refusals count too, raised or returned.
    let refused = once!("credit_purchase", s.credit_purchase(credit_req(&p, &c, 0, "k2")));
    let late = s.open_redemption(open_req(&p, &c, 10, "o3")).await.expect("open");
    let expired = once!(
        "confirm_redemption",
        s.confirm_redemption(AnswerRedemption { now: T0.plus(10_000), ..answer(late.request.id, &c) })
    );
    if !matches!(refused, Err(StoreError::Rejected(Rejection::InvalidAmount))) {
        return Err(format!("a credit of nothing: {refused:?}"));
    }
    if !matches!(expired, Err(StoreError::Rejected(Rejection::RedemptionExpired))) {
        return Err(format!("a confirmation after expiry: {expired:?}"));
    }
    Ok(())
}

/// Campaign terms of `kind` running `days` days from `starts_at`, for every
/// partner, tier, weekday and hour: 2× for a multiplier, else 50 points
/// (every 3rd visit; within 7 days of a birthday), a budget of 1 000, no cap.
pub fn campaign_terms(kind: CampaignKind, starts_at: Timestamp, days: i64) -> CampaignTerms {
    let multiplier = kind == CampaignKind::Multiplier;
    CampaignTerms {
        title: Localized { en: format!("{} campaign", kind.as_str()), ru: None, vi: None },
        kind,
        multiplier_bps: if multiplier { 20_000 } else { 10_000 },
        points: if multiplier { 0 } else { 50 },
        nth: if kind == CampaignKind::NthVisit { 3 } else { 0 },
        window_days: if kind == CampaignKind::Birthday { 7 } else { 0 },
        weekdays: ALL_WEEKDAYS,
        hour_from: 0,
        hour_to: 24,
        utc_offset_minutes: 0,
        partner: None,
        tiers: ALL_TIERS,
        cap_per_customer: None,
        budget: 1_000,
        starts_at,
        ends_at: starts_at.plus(days * 86_400),
    }
}
