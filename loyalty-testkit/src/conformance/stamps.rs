//! Stamp cards: setting and ending a card, stamps filling it (and the next),
//! refusals, replays, and concurrent stamps counted exactly.

use super::*;
use loyalty_core::program::stamps::{MAX_STAMP_REWARD_CHARS, MAX_STAMPS, StampCard, StampProgress};

impl Ctx<'_> {
    fn card_req(&self, p: &Partner, needed: u32, reward: &str) -> SetStampCard {
        SetStampCard { partner: PartnerRef::Telegram(p.telegram_id), needed, reward: reward.into(), now: T0 }
    }

    async fn stamp_card(&self, p: &Partner, needed: u32) -> Result<StampCard, String> {
        let set =
            self.store.set_stamp_card(self.card_req(p, needed, "a free coffee")).await.or_fail("set_stamp_card")?;
        set.ok_or_else(|| "a card was set".to_string())
    }

    fn stamp_req(&self, p: &Partner, c: &Customer, key: &str) -> AddStamp {
        AddStamp {
            partner: PartnerRef::Telegram(p.telegram_id),
            customer: CustomerRef::Code(c.code.clone()),
            idempotency_key: key.into(),
            now: T0.plus(30),
        }
    }

    async fn stamp(&self, p: &Partner, c: &Customer) -> Result<Stamped, String> {
        let key = format!("stamp-{}", self.next());
        self.store.add_stamp(self.stamp_req(p, c, &key)).await.or_fail("add_stamp")
    }

    async fn cards_of(&self, c: &Customer) -> Result<Vec<StampProgress>, String> {
        self.store.stamp_cards(CustomerRef::Telegram(c.telegram_id)).await.or_fail("stamp_cards")
    }
}

pub(super) async fn stamp_cards_are_set_and_ended(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(0).await?;
    let long = "x".repeat(MAX_STAMP_REWARD_CHARS + 1);
    let bad =
        [(1, "coffee"), (MAX_STAMPS + 1, "coffee"), (10, ""), (10, " coffee"), (10, "coffee\u{a0}"), (10, "\u{3000}x")];
    for (needed, reward) in bad.into_iter().chain([(10, long.as_str())]) {
        let refused = s.set_stamp_card(ctx.card_req(&p, needed, reward)).await;
        ensure!(
            matches!(refused, Err(StoreError::Rejected(Rejection::InvalidStampCard { .. }))),
            "{needed} stamps for {reward:?}: {refused:?}"
        );
    }
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.set_stamp_card(ctx.card_req(&applied, 10, "coffee"))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "a partner not approved")?;
    let nobody = SetStampCard { partner: PartnerRef::Id(PartnerId(i64::MAX)), ..ctx.card_req(&p, 10, "coffee") };
    s.set_stamp_card(nobody).await.rejects(Rejection::UnknownPartner, "no such partner")?;
    ensure!(ctx.cards_of(&c).await?.is_empty(), "no card runs yet");
    s.add_stamp(ctx.stamp_req(&p, &c, "no-card")).await.rejects(Rejection::NoStampCard, "a stamp without a card")?;

    let card = ctx.stamp_card(&p, 10).await?;
    ensure_eq!(
        (card.partner, card.needed, card.reward.as_str(), card.updated_at),
        (p.id, 10, "a free coffee", T0),
        "set"
    );
    let listed = ctx.cards_of(&c).await?;
    let want =
        StampProgress { customer: c.id, card: card.clone(), partner_name: p.name.clone(), stamps: 0, completed: 0 };
    ensure_eq!(listed, vec![want], "listed with no stamps yet");
    ctx.stamp(&p, &c).await?;
    ctx.stamp(&p, &c).await?;

    // Ended, the card is gone and stamps are refused; set again, the stamps are there.
    let ended = s.set_stamp_card(ctx.card_req(&p, 0, "")).await.or_fail("end the card")?;
    ensure_eq!(ended, None, "ended");
    ensure!(ctx.cards_of(&c).await?.is_empty(), "an ended card is not listed");
    s.add_stamp(ctx.stamp_req(&p, &c, "ended")).await.rejects(Rejection::NoStampCard, "a stamp on an ended card")?;
    let again = s.set_stamp_card(ctx.card_req(&p, 8, "a cake")).await.or_fail("set again")?;
    ensure_eq!(again.as_ref().map(|c| (c.needed, c.reward.as_str())), Some((8, "a cake")), "new terms");
    let kept = ctx.cards_of(&c).await?;
    ensure_eq!(kept.iter().map(|k| (k.stamps, k.card.needed)).collect::<Vec<_>>(), vec![(2, 8)], "the stamps kept");

    // A suspended partner's card is not shown, nor can it stamp.
    ctx.suspend(&p).await?;
    ensure!(ctx.cards_of(&c).await?.is_empty(), "a suspended partner's card is not listed");
    s.add_stamp(ctx.stamp_req(&p, &c, "suspended"))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "a suspended partner")?;
    let unknown = s.stamp_cards(CustomerRef::Telegram(TelegramUserId(42))).await;
    unknown.rejects(Rejection::UnknownCustomer, "the cards of no one")
}

pub(super) async fn stamps_fill_a_card_and_start_another(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    let (c, d) = (ctx.customer(100).await?, ctx.customer(0).await?);
    ctx.stamp_card(&p, 3).await?;
    ctx.stamp_card(&q, 5).await?;
    let first = s.add_stamp(ctx.stamp_req(&p, &c, "visit-1")).await.or_fail("first stamp")?;
    ensure_eq!((first.progress.stamps, first.progress.completed, first.completed), (1, 0, false), "one stamp");
    ensure_eq!((first.customer.id, first.replayed), (c.id, false), "the customer, applied");
    let replay = s.add_stamp(ctx.stamp_req(&p, &c, "visit-1")).await.or_fail("the same stamp again")?;
    ensure_eq!(
        (replay.progress.stamps, replay.completed, replay.replayed),
        (1, false, true),
        "a replay stamps nothing"
    );
    s.add_stamp(ctx.stamp_req(&p, &d, "visit-1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "the key, another customer")?;
    s.add_stamp(ctx.stamp_req(&q, &c, "visit-1"))
        .await
        .rejects(Rejection::IdempotencyConflict, "the key, another partner")?;
    ctx.stamp(&p, &c).await?;
    let full = s.add_stamp(ctx.stamp_req(&p, &c, "visit-3")).await.or_fail("the third stamp")?;
    ensure_eq!((full.progress.stamps, full.progress.completed, full.completed), (0, 1, true), "the card filled");
    let replay = s.add_stamp(ctx.stamp_req(&p, &c, "visit-3")).await.or_fail("the filling stamp again")?;
    ensure_eq!(
        (replay.completed, replay.replayed, replay.progress.completed),
        (true, true, 1),
        "still the one that filled"
    );
    let next = ctx.stamp(&p, &c).await?;
    ensure_eq!((next.progress.stamps, next.progress.completed, next.completed), (1, 1, false), "a new card");

    // Stamps are per partner; points do not move.
    ctx.stamp(&q, &c).await?;
    let cards = ctx.cards_of(&c).await?;
    let seen: Vec<_> = cards.iter().map(|k| (k.card.partner, k.stamps, k.completed)).collect();
    ensure_eq!(seen, vec![(p.id, 1, 1), (q.id, 1, 0)], "by partner id");
    ensure_eq!(ctx.balance(c.id).await?, 100, "stamps are not points");

    // A smaller card completes at the next stamp.
    ctx.stamp(&q, &c).await?;
    ctx.stamp(&q, &c).await?;
    ctx.stamp_card(&q, 2).await?;
    let shrunk = ctx.stamp(&q, &c).await?;
    ensure_eq!(
        (shrunk.completed, shrunk.progress.stamps, shrunk.progress.completed),
        (true, 0, 1),
        "past a smaller card"
    );

    // Refusals change nothing.
    ctx.block(&d, true).await?;
    s.add_stamp(ctx.stamp_req(&p, &d, "blocked")).await.rejects(Rejection::CustomerBlocked, "a blocked customer")?;
    let ghost = AddStamp { customer: CustomerRef::Telegram(TelegramUserId(42)), ..ctx.stamp_req(&p, &c, "ghost") };
    s.add_stamp(ghost).await.rejects(Rejection::UnknownCustomer, "no such customer")?;
    ctx.block(&d, false).await?;
    let theirs = ctx.cards_of(&d).await?;
    ensure!(theirs.iter().all(|k| k.stamps == 0 && k.completed == 0), "nothing stamped for d: {theirs:?}");
    Ok(())
}

pub(super) async fn concurrent_stamps_count_exactly(ctx: &Ctx<'_>) -> CheckResult {
    // Many stamps at once for one customer on a card of 10: each counts once,
    // the cards they fill are exact; the same stamp sent many times counts once.
    let n = ctx.params.n().max(40);
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(0).await?;
    ctx.stamp_card(&p, 10).await?;
    let reqs: Vec<AddStamp> = (0..n).map(|i| ctx.stamp_req(&p, &c, &format!("rush-{i}"))).collect();
    let results = join_all(reqs.into_iter().map(|r| ctx.store.add_stamp(r))).await;
    let mut filled = 0;
    for r in results {
        filled += u32::from(r.map_err(|e| format!("a concurrent stamp: {e:?}"))?.completed);
    }
    let n = n as u32;
    ensure_eq!(filled, n / 10, "cards filled by the rush");
    let cards = ctx.cards_of(&c).await?;
    ensure_eq!(cards.iter().map(|k| (k.stamps, k.completed)).collect::<Vec<_>>(), vec![(n % 10, n / 10)], "stamps");
    let same: Vec<AddStamp> = (0..n).map(|_| ctx.stamp_req(&p, &c, "one-visit")).collect();
    let results = join_all(same.into_iter().map(|r| ctx.store.add_stamp(r))).await;
    let applied = results.iter().filter(|r| r.as_ref().is_ok_and(|s| !s.replayed)).count();
    ensure_eq!(applied, 1, "one visit, one stamp: {results:?}");
    let after = ctx.cards_of(&c).await?;
    ensure_eq!(after.iter().map(|k| k.stamps + 10 * k.completed).sum::<u32>(), n + 1, "every stamp once");
    Ok(())
}

pub(super) async fn a_lookup_shows_the_stamps(ctx: &Ctx<'_>) -> CheckResult {
    // The cashier's lookup answers the customer's stamps at the partner who
    // looks them up, when it runs a card; never another partner's.
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    let c = ctx.customer(0).await?;
    let look = |partner: &Partner| LookUpCustomer {
        partner: PartnerRef::Telegram(partner.telegram_id),
        customer: CustomerRef::Code(c.code.clone()),
    };
    let before = s.look_up_customer(look(&p)).await.or_fail("look up, no card")?;
    ensure_eq!(before.stamps, None, "no card, no stamps");

    let theirs = ctx.stamp_card(&q, 5).await?;
    ctx.stamp(&q, &c).await?;
    let elsewhere = s.look_up_customer(look(&p)).await.or_fail("look up, a card elsewhere")?;
    ensure_eq!(elsewhere.stamps, None, "another partner's card is not this one's");

    let card = ctx.stamp_card(&p, 3).await?;
    let empty = s.look_up_customer(look(&p)).await.or_fail("look up, no stamps yet")?;
    let mut want =
        StampProgress { customer: c.id, card: card.clone(), partner_name: p.name.clone(), stamps: 0, completed: 0 };
    ensure_eq!(empty.stamps, Some(want.clone()), "a card, no stamps yet");
    for _ in 0..4 {
        ctx.stamp(&p, &c).await?;
    }
    let stamped = s.look_up_customer(look(&p)).await.or_fail("look up, stamped")?;
    (want.stamps, want.completed) = (1, 1);
    ensure_eq!(stamped.stamps, Some(want), "four stamps on a card of three");
    ensure_eq!((stamped.customer.id, stamped.partner.id), (c.id, p.id), "the customer and the partner");
    let at_q = s.look_up_customer(look(&q)).await.or_fail("look up at the other partner")?;
    let want_q = StampProgress { customer: c.id, card: theirs, partner_name: q.name.clone(), stamps: 1, completed: 0 };
    ensure_eq!(at_q.stamps, Some(want_q), "the other partner sees its own card");

    let ended = s.set_stamp_card(ctx.card_req(&p, 0, "")).await.or_fail("end the card")?;
    ensure_eq!(ended, None, "ended");
    let after = s.look_up_customer(look(&p)).await.or_fail("look up, card ended")?;
    ensure_eq!(after.stamps, None, "an ended card shows no stamps");
    Ok(())
}
