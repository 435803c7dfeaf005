//! The rewards catalogue's checks: publishing and moderation, listing,
//! claims (price, stock, window, refusals, replays), vouchers used and
//! cancelled, and claims racing for the stock and for one balance.

use super::*;
use loyalty_core::program::Localized;
use loyalty_core::program::rewards::{
    MAX_REWARD_PRICE, Reward, RewardOffer, RewardStatus, VOUCHER_ALPHABET, VOUCHER_CODE_LEN, Voucher, VoucherStatus,
};

/// An offer of `price` points, `stock` of them (`None`: no limit).
pub(super) fn offer(price: Points, stock: Option<u32>) -> RewardOffer {
    RewardOffer {
        title: Localized { en: "Free coffee".into(), ru: Some("Кофе в подарок".into()), vi: None },
        description: Some(Localized { en: "Any size".into(), ru: None, vi: Some("Cỡ bất kỳ".into()) }),
        category: Some("drinks".into()),
        price,
        stock,
        available_from: None,
        available_until: None,
        photo: None,
    }
}

/// A voucher code made of the sequence number `n` (distinct for distinct `n`).
fn code(n: i64) -> String {
    let base = VOUCHER_ALPHABET.len() as i64;
    let mut n = n.rem_euclid(base.pow(VOUCHER_CODE_LEN as u32 - 1));
    let mut code = vec![b'V'];
    for _ in 1..VOUCHER_CODE_LEN {
        code.push(VOUCHER_ALPHABET[(n % base) as usize]);
        n /= base;
    }
    String::from_utf8(code).unwrap_or_default()
}

impl Ctx<'_> {
    fn publish_req(&self, p: &Partner, offer: RewardOffer, key: &str) -> PublishReward {
        PublishReward { partner: PartnerRef::Telegram(p.telegram_id), offer, idempotency_key: key.into(), now: T0 }
    }

    /// A reward of `p`'s, approved by the admin.
    pub(super) async fn reward(&self, p: &Partner, offer: RewardOffer) -> Result<Reward, String> {
        let key = format!("reward-{}", self.next());
        let r = self.store.publish_reward(self.publish_req(p, offer, &key)).await.or_fail("publish_reward")?;
        self.decide_reward(r.id, RewardDecision::Approve, CampaignActor::Admin(ADMIN)).await.or_fail("approve reward")
    }

    async fn decide_reward(
        &self,
        reward: RewardId,
        decision: RewardDecision,
        by: CampaignActor,
    ) -> StoreResult<Reward> {
        let decided = self.store.decide_reward(DecideReward { reward, decision, by, now: T0 }).await?;
        if decided.partner.id != decided.reward.partner {
            return Err(StoreError::Backend(format!("decide_reward answered another partner: {decided:?}")));
        }
        Ok(decided.reward)
    }

    fn claim_req(&self, c: &Customer, reward: RewardId, key: &str) -> ClaimReward {
        ClaimReward {
            customer: CustomerRef::Telegram(c.telegram_id),
            reward,
            code: code(self.next()),
            idempotency_key: key.into(),
            now: T0.plus(60),
        }
    }

    pub(super) async fn claim(&self, c: &Customer, reward: RewardId) -> Result<VoucherView, String> {
        let key = format!("claim-{}", self.next());
        self.store.claim_reward(self.claim_req(c, reward, &key)).await.or_fail("claim_reward")
    }

    async fn listed_rewards(&self, req: ListRewards) -> Result<Vec<RewardId>, String> {
        Ok(self.store.rewards(req).await.or_fail("rewards")?.into_iter().map(|r| r.id).collect())
    }
}

fn all_rewards(limit: u32) -> ListRewards {
    ListRewards { partner: None, category: None, claimable_at: None, status: None, after: None, limit }
}

pub(super) async fn reward_publishing_and_moderation(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let other = ctx.partner(PartnerTerms::default()).await?;
    let published = s.publish_reward(ctx.publish_req(&p, offer(300, Some(5)), "pub-1")).await.or_fail("publish")?;
    ensure_eq!(
        (published.partner, published.status, published.claimed, published.created_at),
        (p.id, RewardStatus::Pending, 0, T0),
        "a partner's reward waits for an admin (the default)"
    );
    ensure_eq!(published.offer, offer(300, Some(5)), "the offer as published");
    ensure_eq!(published.partner_name, p.name, "with its partner's name");
    // The same key: the same reward; another offer or partner under it: a conflict.
    let again = s.publish_reward(ctx.publish_req(&p, offer(300, Some(5)), "pub-1")).await.or_fail("replay")?;
    ensure_eq!(again, published, "a replay");
    s.publish_reward(ctx.publish_req(&p, offer(301, Some(5)), "pub-1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "another offer under the key")?;
    s.publish_reward(ctx.publish_req(&other, offer(300, Some(5)), "pub-1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "another partner under the key")?;
    s.publish_reward(ctx.publish_req(&p, offer(300, None), "redemption:7"))
        .await
        .rejects(Rejection::IdempotencyConflict, "a reserved key")?;
    s.publish_reward(ctx.publish_req(&p, offer(0, None), "pub-2")).await.rejects(
        Rejection::InvalidReward { reason: "price must be between 1 and 1000000000, not 0".into() },
        "price 0",
    )?;
    s.publish_reward(ctx.publish_req(&p, offer(MAX_REWARD_PRICE, Some(0)), "pub-3")).await.or_fail("stock 0")?;
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.publish_reward(ctx.publish_req(&applied, offer(300, None), "pub-4"))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "an applied partner")?;
    let stranger =
        PublishReward { partner: PartnerRef::Id(PartnerId(999_999)), ..ctx.publish_req(&p, offer(1, None), "pub-5") };
    s.publish_reward(stranger).await.rejects(Rejection::UnknownPartner, "no such partner")?;

    // Decisions: an admin approves or rejects a pending one; its partner or an admin withdraws.
    let as_partner = |who: &Partner| CampaignActor::Partner(PartnerRef::Id(who.id));
    ctx.decide_reward(published.id, RewardDecision::Approve, as_partner(&p))
        .await
        .rejects(Rejection::RewardClosed { status: RewardStatus::Pending }, "a partner approving")?;
    ctx.decide_reward(published.id, RewardDecision::Withdraw, as_partner(&other))
        .await
        .rejects(Rejection::UnknownReward, "another partner's")?;
    ctx.decide_reward(RewardId(999_999), RewardDecision::Approve, CampaignActor::Admin(ADMIN))
        .await
        .rejects(Rejection::UnknownReward, "no such reward")?;
    let approved = ctx
        .decide_reward(published.id, RewardDecision::Approve, CampaignActor::Admin(ADMIN))
        .await
        .or_fail("approve")?;
    ensure_eq!(approved.status, RewardStatus::Active, "approved");
    ctx.decide_reward(published.id, RewardDecision::Reject, CampaignActor::Admin(ADMIN))
        .await
        .rejects(Rejection::RewardClosed { status: RewardStatus::Active }, "rejecting an active one")?;
    let withdrawn =
        ctx.decide_reward(published.id, RewardDecision::Withdraw, as_partner(&p)).await.or_fail("withdraw")?;
    ensure_eq!(withdrawn.status, RewardStatus::Withdrawn, "withdrawn by its partner");
    ctx.decide_reward(published.id, RewardDecision::Withdraw, CampaignActor::Admin(ADMIN))
        .await
        .rejects(Rejection::RewardClosed { status: RewardStatus::Withdrawn }, "withdrawing twice")?;
    let refused = s.publish_reward(ctx.publish_req(&p, offer(10, None), "pub-6")).await.or_fail("another")?;
    let refused =
        ctx.decide_reward(refused.id, RewardDecision::Reject, CampaignActor::Admin(ADMIN)).await.or_fail("reject")?;
    ensure_eq!(refused.status, RewardStatus::Rejected, "rejected");

    // The rules decide whether a partner's reward waits.
    set_rules(ctx, r#"{"rewards": {"moderation": "open"}}"#).await?;
    let open = s.publish_reward(ctx.publish_req(&p, offer(20, None), "pub-7")).await.or_fail("open")?;
    ensure_eq!(open.status, RewardStatus::Active, "shown at once under open moderation");
    Ok(())
}

pub(super) async fn rewards_listing(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    let coffee = ctx.reward(&p, offer(100, None)).await?;
    let food = ctx.reward(&p, RewardOffer { category: Some("food".into()), ..offer(200, None) }).await?;
    let sold_out = ctx.reward(&q, offer(300, Some(0))).await?;
    let later = ctx.reward(&q, RewardOffer { available_from: Some(T0.plus(3_600)), ..offer(400, None) }).await?;
    let over = ctx.reward(&q, RewardOffer { available_until: Some(T0), ..offer(500, None) }).await?;
    let pending = s.publish_reward(ctx.publish_req(&q, offer(600, None), "list-pending")).await.or_fail("pending")?;
    let suspended = ctx.partner(PartnerTerms::default()).await?;
    let hidden = ctx.reward(&suspended, offer(700, None)).await?;
    ctx.suspend(&suspended).await?;

    let everything = ctx.listed_rewards(all_rewards(50)).await?;
    ensure_eq!(
        everything,
        vec![coffee.id, food.id, sold_out.id, later.id, over.id, pending.id, hidden.id],
        "every reward, by id"
    );
    let claimable = ListRewards { claimable_at: Some(T0), ..all_rewards(50) };
    ensure_eq!(ctx.listed_rewards(claimable.clone()).await?, vec![coffee.id, food.id], "what a customer may claim now");
    let an_hour_on = ListRewards { claimable_at: Some(T0.plus(3_600)), ..all_rewards(50) };
    ensure_eq!(ctx.listed_rewards(an_hour_on).await?, vec![coffee.id, food.id, later.id], "an hour later");
    let drinks = ListRewards { category: Some("drinks".into()), ..claimable.clone() };
    ensure_eq!(ctx.listed_rewards(drinks).await?, vec![coffee.id], "by category");
    let at_q = ListRewards { partner: Some(PartnerRef::Telegram(q.telegram_id)), ..all_rewards(50) };
    ensure_eq!(ctx.listed_rewards(at_q).await?, vec![sold_out.id, later.id, over.id, pending.id], "by partner");
    let waiting = ListRewards { status: Some(RewardStatus::Pending), ..all_rewards(50) };
    ensure_eq!(ctx.listed_rewards(waiting).await?, vec![pending.id], "pending ones, for the admin");
    // Pages of 2, each after the last id of the one before.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = ctx.listed_rewards(ListRewards { after, ..all_rewards(2) }).await?;
        ensure!(page.len() <= 2, "a page of {} for limit 2", page.len());
        let Some(last) = page.last().copied() else { break };
        after = Some(last);
        pages.push(page);
    }
    ensure_eq!(pages.concat(), everything, "the pages add up");
    ensure_eq!(pages.len(), 4, "pages");
    s.rewards(all_rewards(0)).await.rejects(Rejection::InvalidAmount, "limit 0")?;
    s.rewards(all_rewards(51)).await.rejects(Rejection::InvalidAmount, "limit 51")?;
    let stranger = ListRewards { partner: Some(PartnerRef::Id(PartnerId(999_999))), ..all_rewards(5) };
    s.rewards(stranger).await.rejects(Rejection::UnknownPartner, "no such partner")?;
    let full = s.rewards(ListRewards { after: Some(food.id), ..all_rewards(1) }).await.or_fail("one")?;
    ensure_eq!(full, vec![sold_out.clone()], "a listed reward is the reward");
    Ok(())
}

pub(super) async fn claiming_a_reward_pays_for_a_voucher(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(1_000).await?;
    let reward = ctx.reward(&p, offer(300, Some(2))).await?;
    let req = ctx.claim_req(&c, reward.id, "claim-a");
    let v = s.claim_reward(req.clone()).await.or_fail("claim")?;
    ensure_eq!(
        (v.voucher.status, v.voucher.points, v.voucher.partner, v.voucher.customer, v.voucher.reward),
        (VoucherStatus::Issued, 300, p.id, c.id, reward.id),
        "the voucher"
    );
    ensure_eq!(
        (v.voucher.code.as_str(), v.voucher.refund, v.voucher.closed_at),
        (req.code.as_str(), None, None),
        "code"
    );
    ensure_eq!((v.customer.balance, v.reward.claimed, v.reward.left(), v.replayed), (700, 1, Some(1), false), "paid");
    ensure_eq!(v.partner.id, p.id, "its partner");
    let entries = ctx.all_entries(c.id).await?;
    let paid = entries.iter().find(|e| e.id == v.voucher.entry).ok_or("the payment is not in the history")?;
    ensure_eq!(
        (paid.kind, paid.amount, paid.partner, paid.author, paid.idempotency_key.as_str()),
        (EntryKind::Redemption, -300, Some(p.id), Author::Customer(c.id), "claim-a"),
        "the payment"
    );
    // The same key again: the same voucher, nothing paid twice.
    let again = s.claim_reward(ClaimReward { code: "OTHERCODE2".into(), ..req.clone() }).await.or_fail("replay")?;
    ensure_eq!(
        (again.voucher.clone(), again.replayed, again.customer.balance),
        (v.voucher.clone(), true, 700),
        "replay"
    );
    let other = ctx.reward(&p, offer(1, None)).await?;
    s.claim_reward(ClaimReward { reward: other.id, ..req.clone() })
        .await
        .rejects(Rejection::IdempotencyConflict, "another reward under the key")?;
    let d = ctx.customer(1_000).await?;
    s.claim_reward(ClaimReward { customer: CustomerRef::Id(d.id), ..req.clone() })
        .await
        .rejects(Rejection::IdempotencyConflict, "another customer under the key")?;
    ctx.credit(&p, &c, 1_000, "claim-credit").await?;
    s.claim_reward(ctx.claim_req(&c, reward.id, "claim-credit"))
        .await
        .rejects(Rejection::IdempotencyConflict, "a credit's key")?;
    s.claim_reward(ctx.claim_req(&c, reward.id, "redemption:9"))
        .await
        .rejects(Rejection::IdempotencyConflict, "a reserved key")?;

    // Refusals change nothing.
    let before = ctx.balance(c.id).await?;
    s.claim_reward(ctx.claim_req(&c, RewardId(999_999), "claim-b"))
        .await
        .rejects(Rejection::UnknownReward, "no such reward")?;
    let pending = s.publish_reward(ctx.publish_req(&p, offer(10, None), "claim-pending")).await.or_fail("pending")?;
    s.claim_reward(ctx.claim_req(&c, pending.id, "claim-c"))
        .await
        .rejects(Rejection::RewardUnavailable, "a pending reward")?;
    let later = ctx.reward(&p, RewardOffer { available_from: Some(T0.plus(3_600)), ..offer(10, None) }).await?;
    s.claim_reward(ctx.claim_req(&c, later.id, "claim-d")).await.rejects(Rejection::RewardUnavailable, "too early")?;
    let over = ctx.reward(&p, RewardOffer { available_until: Some(T0.plus(60)), ..offer(10, None) }).await?;
    s.claim_reward(ctx.claim_req(&c, over.id, "claim-e")).await.rejects(Rejection::RewardUnavailable, "too late")?;
    let costly = ctx.reward(&p, offer(5_000, None)).await?;
    s.claim_reward(ctx.claim_req(&c, costly.id, "claim-f"))
        .await
        .rejects(Rejection::InsufficientBalance { balance: before, requested: 5_000 }, "too dear")?;
    let taken = ClaimReward { code: v.voucher.code.clone(), ..ctx.claim_req(&c, reward.id, "claim-g") };
    s.claim_reward(taken).await.rejects(Rejection::CodeTaken, "a code in use")?;
    let stranger =
        ClaimReward { customer: CustomerRef::Id(CustomerId(999_999)), ..ctx.claim_req(&c, reward.id, "claim-h") };
    s.claim_reward(stranger).await.rejects(Rejection::UnknownCustomer, "no such customer")?;
    ctx.block(&d, true).await?;
    s.claim_reward(ctx.claim_req(&d, reward.id, "claim-i")).await.rejects(Rejection::CustomerBlocked, "blocked")?;
    ensure_eq!(ctx.balance(c.id).await?, before, "nothing paid by the refusals");
    ctx.claim(&c, reward.id).await?;
    s.claim_reward(ctx.claim_req(&c, reward.id, "claim-j")).await.rejects(Rejection::OutOfStock, "the third of two")?;
    ctx.suspend(&p).await?;
    s.claim_reward(ctx.claim_req(&c, other.id, "claim-k"))
        .await
        .rejects(Rejection::RewardUnavailable, "its partner suspended")?;
    Ok(())
}

pub(super) async fn vouchers_are_used_or_cancelled_once(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(1_000).await?;
    let d = ctx.customer(1_000).await?;
    let reward = ctx.reward(&p, offer(200, Some(3))).await?;
    let first = ctx.claim(&c, reward.id).await?.voucher;
    let second = ctx.claim(&c, reward.id).await?.voucher;
    let use_req = |who: &Partner, v: &Voucher| UseVoucher {
        partner: PartnerRef::Telegram(who.telegram_id),
        code: v.code.clone(),
        now: T0.plus(600),
    };
    s.use_voucher(use_req(&q, &first)).await.rejects(Rejection::UnknownVoucher, "another partner's voucher")?;
    s.use_voucher(UseVoucher { code: "NOSUCHCODE".into(), ..use_req(&p, &first) })
        .await
        .rejects(Rejection::UnknownVoucher, "no such code")?;
    let used = s.use_voucher(use_req(&p, &first)).await.or_fail("use")?;
    ensure_eq!(
        (used.voucher.status, used.voucher.closed_at, used.replayed, used.customer.id),
        (VoucherStatus::Used, Some(T0.plus(600)), false, c.id),
        "used"
    );
    let again = s.use_voucher(UseVoucher { now: T0.plus(900), ..use_req(&p, &first) }).await.or_fail("use again")?;
    ensure_eq!((again.voucher, again.replayed), (used.voucher.clone(), true), "used once: a second use says when");

    let cancel = |who: &Customer, v: &Voucher| CancelVoucher {
        customer: CustomerRef::Telegram(who.telegram_id),
        voucher: v.id,
        now: T0.plus(1_200),
    };
    s.cancel_voucher(cancel(&c, &first))
        .await
        .rejects(Rejection::VoucherClosed { status: VoucherStatus::Used }, "cancelling a used one")?;
    s.cancel_voucher(cancel(&d, &second)).await.rejects(Rejection::UnknownVoucher, "another customer's")?;
    let cancelled = s.cancel_voucher(cancel(&c, &second)).await.or_fail("cancel")?;
    ensure_eq!(
        (cancelled.voucher.status, cancelled.customer.balance, cancelled.reward.claimed, cancelled.replayed),
        (VoucherStatus::Cancelled, 800, 1, false),
        "cancelled: price and stock back"
    );
    let refund = cancelled.voucher.refund.ok_or("no refund entry")?;
    let entries = ctx.all_entries(c.id).await?;
    let refund = entries.iter().find(|e| e.id == refund).ok_or("the refund is not in the history")?;
    ensure_eq!(
        (refund.kind, refund.amount, refund.reverses, refund.partner),
        (EntryKind::Reversal, 200, Some(second.entry), Some(p.id)),
        "the refund reverses the payment"
    );
    let twice = s.cancel_voucher(cancel(&c, &second)).await.or_fail("cancel again")?;
    ensure_eq!((twice.voucher, twice.replayed, twice.customer.balance), (cancelled.voucher.clone(), true, 800), "once");
    s.use_voucher(use_req(&p, &second))
        .await
        .rejects(Rejection::VoucherClosed { status: VoucherStatus::Cancelled }, "using a cancelled one")?;

    // A partner who reverses the payment of an issued voucher closes it.
    let third = ctx.claim(&c, reward.id).await?.voucher;
    s.reverse_entry(ctx.reverse_req(third.entry, &p, "voucher-reversal")).await.or_fail("reverse the payment")?;
    s.use_voucher(use_req(&p, &third)).await.rejects(
        Rejection::VoucherClosed { status: VoucherStatus::Cancelled },
        "using one whose payment was reversed",
    )?;
    s.cancel_voucher(cancel(&c, &third))
        .await
        .rejects(Rejection::VoucherClosed { status: VoucherStatus::Cancelled }, "cancelling it")?;
    ensure_eq!(ctx.balance(c.id).await?, 800, "paid back once");

    // The customer's vouchers, newest first.
    let list = |status: Option<VoucherStatus>, limit: u32| {
        s.vouchers(ListVouchers { customer: CustomerRef::Id(c.id), status, limit })
    };
    let ids: Vec<VoucherId> = list(None, 50).await.or_fail("vouchers")?.into_iter().map(|v| v.voucher.id).collect();
    ensure_eq!(ids, vec![third.id, second.id, first.id], "newest first");
    let mine = list(Some(VoucherStatus::Used), 50).await.or_fail("used ones")?;
    ensure_eq!(mine.len(), 1, "used ones");
    ensure_eq!((&mine[0].voucher, &mine[0].reward.id, mine[0].replayed), (&used.voucher, &reward.id, false), "a view");
    ensure_eq!(list(None, 1).await.or_fail("one")?.len(), 1, "limit");
    list(None, 0).await.rejects(Rejection::InvalidAmount, "limit 0")?;
    let none = s.vouchers(ListVouchers { customer: CustomerRef::Id(d.id), status: None, limit: 5 }).await;
    ensure_eq!(none.or_fail("none")?.len(), 0, "a customer without vouchers");
    s.vouchers(ListVouchers { customer: CustomerRef::Id(CustomerId(999_999)), status: None, limit: 5 })
        .await
        .rejects(Rejection::UnknownCustomer, "no such customer")?;
    ctx.suspend(&p).await?;
    s.use_voucher(use_req(&p, &third))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "a suspended partner")?;
    Ok(())
}

pub(super) async fn concurrent_claims_of_a_limited_reward(ctx: &Ctx<'_>) -> CheckResult {
    // At least 200 customers claim a reward with a stock of 10 at once: exactly 10 get it.
    let n = ctx.params.n().max(200);
    let p = ctx.partner(PartnerTerms::default()).await?;
    let reward = ctx.reward(&p, offer(50, Some(10))).await?;
    let mut customers = Vec::new();
    for _ in 0..n {
        customers.push(ctx.customer(100).await?);
    }
    let reqs: Vec<ClaimReward> =
        customers.iter().enumerate().map(|(i, c)| ctx.claim_req(c, reward.id, &format!("race-{i}"))).collect();
    let results = join_all(reqs.into_iter().map(|r| ctx.store.claim_reward(r))).await;
    let mut won = 0;
    for r in results {
        match r {
            Ok(v) => {
                ensure_eq!((v.voucher.status, v.customer.balance), (VoucherStatus::Issued, 50), "a winner paid");
                won += 1;
            }
            Err(StoreError::Rejected(Rejection::OutOfStock)) => {}
            Err(e) => return Err(format!("a concurrent claim: {e:?}")),
        }
    }
    ensure_eq!(won, 10, "vouchers issued");
    let listed = ctx.store.rewards(ListRewards { after: Some(RewardId(reward.id.0 - 1)), ..all_rewards(1) }).await;
    ensure_eq!(listed.or_fail("the reward")?[0].claimed, 10, "claimed");
    let mut paid = 0;
    for c in &customers {
        paid += 100 - ctx.balance(c.id).await?;
    }
    ensure_eq!(paid, 500, "points paid in all");
    Ok(())
}

pub(super) async fn concurrent_claims_against_one_balance(ctx: &Ctx<'_>) -> CheckResult {
    // One customer with 1 000 points claims a reward of 300 many times at once: three claims pay.
    let n = ctx.params.n();
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(1_000).await?;
    let reward = ctx.reward(&p, offer(300, None)).await?;
    let reqs: Vec<ClaimReward> = (0..n).map(|i| ctx.claim_req(&c, reward.id, &format!("spend-{i}"))).collect();
    let results = join_all(reqs.into_iter().map(|r| ctx.store.claim_reward(r))).await;
    let mut won = 0;
    for r in results {
        match r {
            Ok(_) => won += 1,
            Err(StoreError::Rejected(Rejection::InsufficientBalance { .. })) => {}
            Err(e) => return Err(format!("a concurrent claim: {e:?}")),
        }
    }
    ensure_eq!(won, 3, "claims paid");
    ensure_eq!(ctx.balance(c.id).await?, 100, "balance");
    Ok(())
}

pub(super) async fn partner_entries_are_paged_newest_first(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(1_000).await?;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(ctx.credit(&p, &c, 1_000 + i, &format!("pe-{i}")).await?.entry.id);
        ctx.credit(&q, &c, 1_000, &format!("pe-q-{i}")).await?;
    }
    let reward = ctx.reward(&p, offer(10, None)).await?;
    made.push(ctx.claim(&c, reward.id).await?.voucher.entry);
    let reversal = s.reverse_entry(ctx.reverse_req(made[0], &p, "pe-rev")).await.or_fail("reverse")?;
    made.push(reversal.reversal.id);
    made.sort_unstable_by(|a, b| b.cmp(a));
    let page = |before: Option<EntryId>, limit: u32| {
        s.partner_entries(PartnerEntriesPage { partner: PartnerRef::Telegram(p.telegram_id), before, limit })
    };
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let entries = page(before, 3).await.or_fail("partner_entries")?;
        ensure!(entries.len() <= 3, "a page of {} for limit 3", entries.len());
        ensure!(entries.iter().all(|e| e.partner == Some(p.id)), "only the partner's entries: {entries:?}");
        let Some(last) = entries.last() else { break };
        before = Some(last.id);
        seen.extend(entries.iter().map(|e| e.id));
    }
    ensure_eq!(seen, made, "every entry of the partner, newest first, once");
    page(None, 0).await.rejects(Rejection::InvalidAmount, "limit 0")?;
    page(None, 101).await.rejects(Rejection::InvalidAmount, "limit 101")?;
    let stranger = PartnerEntriesPage { partner: PartnerRef::Id(PartnerId(999_999)), before: None, limit: 5 };
    s.partner_entries(stranger).await.rejects(Rejection::UnknownPartner, "no such partner")?;
    Ok(())
}

pub(super) async fn export_pages_every_row_once(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let q = ctx.partner(PartnerTerms::default()).await?;
    let mut customers = Vec::new();
    for i in 0..3 {
        let c = ctx.customer(100).await?;
        ctx.credit(if i == 0 { &p } else { &q }, &c, 2_000, &format!("ex-{i}")).await?;
        customers.push(ctx.summary(c.id).await?.customer);
    }
    let mut all: Vec<ExportRows> = Vec::new();
    for table in [ExportTable::Customers, ExportTable::Partners, ExportTable::Entries] {
        let mut after = 0;
        loop {
            let rows = s.export_page(ExportPage { table, after, limit: 2 }).await.or_fail("export_page")?;
            let of_table = match &rows {
                ExportRows::Customers(_) => ExportTable::Customers,
                ExportRows::Partners(_) => ExportTable::Partners,
                ExportRows::Entries(_) => ExportTable::Entries,
            };
            ensure_eq!(of_table, table, "the rows' table");
            let ids = rows.ids();
            ensure!(ids.len() <= 2, "{table:?}: a page of {} for limit 2", ids.len());
            ensure!(
                ids.windows(2).all(|w| w[0] < w[1]) && ids.first().is_none_or(|f| *f > after),
                "{table:?}: {ids:?}"
            );
            let Some(last) = ids.last().copied() else { break };
            after = last;
            all.push(rows);
        }
    }
    let (mut got_customers, mut got_partners, mut got_entries) = (Vec::new(), Vec::new(), Vec::new());
    for rows in all {
        match rows {
            ExportRows::Customers(v) => got_customers.extend(v),
            ExportRows::Partners(v) => got_partners.extend(v),
            ExportRows::Entries(v) => got_entries.extend(v),
        }
    }
    ensure_eq!(got_customers, customers, "every customer as stored");
    ensure_eq!(got_partners.iter().map(|x| x.id).collect::<Vec<_>>(), vec![p.id, q.id], "every partner");
    let mut expected = Vec::new();
    for c in &customers {
        expected.extend(ctx.all_entries(c.id).await?);
    }
    expected.sort_by_key(|e| e.id);
    ensure_eq!(got_entries, expected, "every entry as stored, by id");
    let bad = ExportPage { table: ExportTable::Entries, after: 0, limit: 0 };
    s.export_page(bad).await.rejects(Rejection::InvalidAmount, "limit 0")?;
    s.export_page(ExportPage { limit: 1_001, ..bad }).await.rejects(Rejection::InvalidAmount, "limit 1001")?;
    Ok(())
}
