//! Outgoing webhook endpoints: registered, listed and removed per owner (the
//! program, or a partner by its owner), the limit of endpoints per owner, the
//! endpoints an event goes to, delivery attempts recorded on them, adds
//! racing for the last places, and registrations' idempotency keys (replays,
//! conflicts, keys per owner, concurrent adds with one key).

use super::*;
use loyalty_core::outgoing::{MAX_URL_LEN, MAX_WEBHOOKS, WebhookEvent};

/// A partner that does not exist.
const NOBODY: PartnerRef = PartnerRef::Id(PartnerId(i64::MAX));

/// An endpoint that does not exist.
const NO_WEBHOOK: WebhookId = WebhookId(i64::MAX);

/// The rejection at the limit.
const LIMIT: Rejection = Rejection::WebhookLimit { max: MAX_WEBHOOKS as i64 };

/// A partner's endpoints, by its owner's id.
fn by_id(p: &Partner) -> WebhookOwner {
    WebhookOwner::Partner(PartnerRef::Id(p.id))
}

/// A partner's endpoints, by its owner's Telegram account.
fn by_telegram(p: &Partner) -> WebhookOwner {
    WebhookOwner::Partner(PartnerRef::Telegram(p.telegram_id))
}

/// The owners that name no partner: no such partner, the till (even the
/// owner's own account there), a user who owns nothing.
fn unknown_owners(p: &Partner) -> [(&'static str, WebhookOwner); 3] {
    [
        ("no such partner", WebhookOwner::Partner(NOBODY)),
        ("the owner at the till", WebhookOwner::Partner(PartnerRef::Till(p.telegram_id))),
        ("a user who owns no partner", WebhookOwner::Partner(PartnerRef::Telegram(TelegramUserId(4_242)))),
    ]
}

fn ids(webhooks: &[Webhook]) -> Vec<WebhookId> {
    webhooks.iter().map(|w| w.id).collect()
}

impl Ctx<'_> {
    /// A request to register `url` for `events` of `owner` at `now`, with a
    /// fresh secret and a fresh key.
    fn webhook_req(&self, owner: WebhookOwner, url: &str, events: &[WebhookEvent], now: Timestamp) -> AddWebhook {
        let n = self.next();
        AddWebhook {
            owner,
            url: url.into(),
            events: events.to_vec(),
            secret: format!("whsec_{n:032x}"),
            now,
            idempotency_key: format!("hook-{n}"),
        }
    }

    /// Registers an endpoint of `owner` for `events` at `T0` plus a second per call.
    async fn webhook(&self, owner: WebhookOwner, events: &[WebhookEvent]) -> Result<Webhook, String> {
        let n = self.next();
        let url = format!("https://hooks.example.com/{n}");
        let req = self.webhook_req(owner, &url, events, T0.plus(n));
        fresh(self.store.add_webhook(req).await, "add_webhook")
    }

    async fn webhooks_of(&self, owner: WebhookOwner) -> Result<Vec<Webhook>, String> {
        self.store.webhooks(owner).await.or_fail("webhooks")
    }

    async fn remove_webhook(&self, owner: WebhookOwner, id: WebhookId, now: Timestamp) -> Result<Webhook, String> {
        self.store.remove_webhook(RemoveWebhook { owner, id, now }).await.or_fail("remove_webhook")
    }

    async fn targets(&self, event: WebhookEvent, partner: Option<&Partner>) -> Result<Vec<WebhookId>, String> {
        let req = WebhookTargets { event, partner: partner.map(|p| p.id) };
        Ok(ids(&self.store.webhook_targets(req).await.or_fail("webhook_targets")?))
    }

    async fn record(&self, id: WebhookId, at: Timestamp, status: Option<u16>, error: Option<&str>) -> CheckResult {
        let req = RecordWebhook { id, at, status, error: error.map(Into::into) };
        self.store.record_webhook(req).await.or_fail("record_webhook")
    }
}

/// The endpoint a registration with a fresh key made (a replay is a failure).
fn fresh(added: StoreResult<WebhookAdded>, what: &str) -> Result<Webhook, String> {
    let added = added.or_fail(what)?;
    ensure!(!added.replayed, "{what}: a fresh key answered as a replay");
    Ok(added.webhook)
}

/// What a newly registered endpoint must be.
fn registered(got: &Webhook, partner: Option<PartnerId>, req: &AddWebhook) -> Webhook {
    Webhook {
        id: got.id,
        partner,
        url: req.url.clone(),
        events: req.events.clone(),
        secret: req.secret.clone(),
        created_at: req.now,
        removed_at: None,
        last_attempt_at: None,
        last_status: None,
        last_error: None,
        last_success_at: None,
    }
}

pub(super) async fn webhooks_are_registered_listed_and_removed(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    ensure!(ctx.webhooks_of(WebhookOwner::Program).await?.is_empty(), "a fresh store has no endpoints");
    ensure!(ctx.webhooks_of(by_id(&p)).await?.is_empty(), "a new partner has no endpoints");

    // The program's: every field as asked, the events in the order given
    // (every event's name stored and read back), the URL kept byte for byte.
    let req = ctx.webhook_req(
        WebhookOwner::Program,
        "https://hooks.example.com:8443/loyalty?token=a%20b&x=1#frag",
        &[TierChanged, CustomerJoined, PointsCredited],
        T0.plus(1),
    );
    let a = fresh(s.add_webhook(req.clone()).await, "the program's endpoint")?;
    ensure_eq!(a, registered(&a, None, &req), "the program's endpoint");
    let mut all = WebhookEvent::ALL.to_vec();
    all.reverse();
    let longest = format!("https://example.com/{}", "x".repeat(MAX_URL_LEN - "https://example.com/".len()));
    let req = ctx.webhook_req(WebhookOwner::Program, &longest, &all, T0.plus(2));
    let b = fresh(s.add_webhook(req.clone()).await, "an endpoint of the longest URL, for every event")?;
    ensure_eq!(b, registered(&b, None, &req), "the endpoint for every event, in reverse");
    ensure!(b.id > a.id, "ids grow: {} after {}", b.id, a.id);

    // A partner's, by either reference of its owner.
    let req = ctx.webhook_req(by_id(&p), "https://p.example.com/hooks", &[PointsRedeemed, PointsCredited], T0.plus(3));
    let p1 = fresh(s.add_webhook(req.clone()).await, "p's endpoint by id")?;
    ensure_eq!(p1, registered(&p1, Some(p.id), &req), "p's endpoint by id");
    let req = ctx.webhook_req(by_telegram(&p), "https://bücher.example/hooks/ü?q=ж", &[StampsCompleted], T0.plus(4));
    let p2 = fresh(s.add_webhook(req.clone()).await, "p's endpoint by owner")?;
    ensure_eq!(p2, registered(&p2, Some(p.id), &req), "p's endpoint by owner");
    // Another owner's endpoint may have the same URL and events.
    let req = ctx.webhook_req(by_telegram(&q), "https://p.example.com/hooks", &[PointsRedeemed, PointsCredited], T0);
    let q1 = fresh(s.add_webhook(req.clone()).await, "q's endpoint")?;
    ensure_eq!(q1, registered(&q1, Some(q.id), &req), "q's endpoint, the same URL as p's");
    let a2 = ctx.webhook(WebhookOwner::Program, &[CustomerJoined]).await?;
    let all_ids = [a.id, b.id, p1.id, p2.id, q1.id, a2.id];
    let mut distinct = all_ids.to_vec();
    distinct.sort();
    distinct.dedup();
    ensure_eq!(distinct.len(), all_ids.len(), "distinct ids");

    // Listed per owner, newest first, by either reference.
    ensure_eq!(ctx.webhooks_of(WebhookOwner::Program).await?, vec![a2.clone(), b.clone(), a.clone()], "the program's");
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?, vec![p2.clone(), p1.clone()], "p's by id");
    ensure_eq!(ctx.webhooks_of(by_telegram(&p)).await?, vec![p2.clone(), p1.clone()], "p's by owner");
    ensure_eq!(ctx.webhooks_of(by_id(&q)).await?, vec![q1.clone()], "q's");

    // No such partner, a till reference: unknown everywhere.
    for (who, owner) in unknown_owners(&p) {
        let url = "https://x.example.com/";
        s.add_webhook(ctx.webhook_req(owner, url, &[CustomerJoined], T0))
            .await
            .rejects(Rejection::UnknownPartner, &format!("add_webhook by {who}"))?;
        s.webhooks(owner).await.rejects(Rejection::UnknownPartner, &format!("webhooks of {who}"))?;
        for id in [p1.id, NO_WEBHOOK] {
            s.remove_webhook(RemoveWebhook { owner, id, now: T0.plus(5) })
                .await
                .rejects(Rejection::UnknownPartner, &format!("remove_webhook {id} by {who}"))?;
        }
    }

    // Invalid URLs and events, refused before anything else, store nothing.
    let too_long = format!("{longest}y");
    let bad_urls = [
        "http://example.com/hooks",
        "https:///hooks",
        "https://",
        "ftp://example.com",
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest",
        too_long.as_str(),
    ];
    let mut bad: Vec<(String, Vec<WebhookEvent>)> =
        bad_urls.iter().map(|u| (u.to_string(), vec![TierChanged])).collect();
    bad.push(("https://example.com/hooks".into(), vec![]));
    bad.push(("https://example.com/short-secret".into(), vec![TierChanged]));
    bad.push(("https://example.com/hooks".into(), vec![TierChanged, PointsCredited, TierChanged]));
    let owners = [
        ("the program", WebhookOwner::Program),
        ("p", by_telegram(&p)),
        ("no partner", WebhookOwner::Partner(NOBODY)),
        ("the till", WebhookOwner::Partner(PartnerRef::Till(p.telegram_id))),
    ];
    for (url, events) in &bad {
        for (who, owner) in owners {
            let mut req = ctx.webhook_req(owner, url, events, T0.plus(6));
            if url.ends_with("/short-secret") {
                req.secret = "whsec_short".into();
            }
            let Err(reason) = check_webhook(&req) else {
                return Err(format!("the test's premise: {url:?} for {events:?} is invalid"));
            };
            s.add_webhook(req).await.rejects(reason, &format!("{url:?} for {events:?} by {who}"))?;
        }
    }
    ensure_eq!(
        ids(&ctx.webhooks_of(WebhookOwner::Program).await?),
        vec![a2.id, b.id, a.id],
        "no program endpoint added"
    );
    ensure_eq!(ids(&ctx.webhooks_of(by_id(&p)).await?), vec![p2.id, p1.id], "no endpoint of p's added");

    // Partners not approved: refused (applied, rejected, suspended), yet
    // they list and remove what they have.
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.add_webhook(ctx.webhook_req(by_telegram(&applied), "https://a.example.com/", &[CustomerJoined], T0))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "an applied partner")?;
    ensure!(ctx.webhooks_of(by_telegram(&applied)).await?.is_empty(), "an applied partner lists none");
    let rejected = ctx.applied_partner(PartnerTerms::default()).await?;
    s.decide_partner(DecidePartner { partner: rejected.id, decision: PartnerDecision::Reject, admin: ADMIN, now: T0 })
        .await
        .or_fail("reject a partner")?;
    s.add_webhook(ctx.webhook_req(by_id(&rejected), "https://r.example.com/", &[CustomerJoined], T0))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Rejected }, "a rejected partner")?;
    ensure!(ctx.webhooks_of(by_id(&rejected)).await?.is_empty(), "a rejected partner lists none");
    let r = ctx.partner(PartnerTerms::default()).await?;
    let r1 = ctx.webhook(by_id(&r), &[PointsExpired]).await?;
    let r2 = ctx.webhook(by_id(&r), &[PointsReversed]).await?;
    ctx.suspend(&r).await?;
    s.add_webhook(ctx.webhook_req(by_telegram(&r), "https://s.example.com/", &[CustomerJoined], T0))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Suspended }, "a suspended partner")?;
    ensure_eq!(ctx.webhooks_of(by_telegram(&r)).await?, vec![r2.clone(), r1.clone()], "a suspended partner's");
    let gone = ctx.remove_webhook(by_telegram(&r), r1.id, T0.plus(7)).await?;
    ensure_eq!(gone, Webhook { removed_at: Some(T0.plus(7)), ..r1.clone() }, "removed by a suspended partner");
    ensure_eq!(ctx.webhooks_of(by_id(&r)).await?, vec![r2.clone()], "a suspended partner's after the removal");
    // Invalid is checked before the partner's status.
    let req = ctx.webhook_req(by_id(&applied), "http://a.example.com/", &[CustomerJoined], T0);
    let reason = check_webhook(&req).err().ok_or("the test's premise: plain HTTP is invalid")?;
    s.add_webhook(req).await.rejects(reason, "an invalid URL of an applied partner")?;

    // Another owner's endpoint, or none, is unknown, and stays as it was.
    let foreign = [
        ("the program removes p's", WebhookOwner::Program, p1.id),
        ("p removes the program's", by_id(&p), a.id),
        ("q removes p's", by_telegram(&q), p1.id),
        ("p removes q's", by_telegram(&p), q1.id),
        ("p removes r's", by_id(&p), r2.id),
        ("p removes r's removed one", by_id(&p), r1.id),
        ("the program removes r's removed one", WebhookOwner::Program, r1.id),
        ("the program removes none", WebhookOwner::Program, NO_WEBHOOK),
        ("p removes none", by_id(&p), NO_WEBHOOK),
        ("p removes id 0", by_id(&p), WebhookId(0)),
    ];
    for (what, owner, id) in foreign {
        s.remove_webhook(RemoveWebhook { owner, id, now: T0.plus(8) })
            .await
            .rejects(Rejection::UnknownWebhook, what)?;
    }
    ensure_eq!(
        ctx.webhooks_of(WebhookOwner::Program).await?,
        vec![a2.clone(), b.clone(), a.clone()],
        "the program's kept"
    );
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?, vec![p2.clone(), p1.clone()], "p's kept");
    ensure_eq!(ctx.webhooks_of(by_id(&q)).await?, vec![q1.clone()], "q's kept");

    // Removing: removed_at set, gone from the list; again: the row as it is.
    let removed = ctx.remove_webhook(WebhookOwner::Program, b.id, T0.plus(10)).await?;
    let b_gone = Webhook { removed_at: Some(T0.plus(10)), ..b.clone() };
    ensure_eq!(removed, b_gone, "the program's endpoint removed");
    ensure_eq!(ctx.webhooks_of(WebhookOwner::Program).await?, vec![a2.clone(), a.clone()], "the program's after");
    let again = ctx.remove_webhook(WebhookOwner::Program, b.id, T0.plus(20)).await?;
    ensure_eq!(again, b_gone, "removed again: unchanged");
    let removed = ctx.remove_webhook(by_telegram(&p), p1.id, T0.plus(11)).await?;
    let p1_gone = Webhook { removed_at: Some(T0.plus(11)), ..p1.clone() };
    ensure_eq!(removed, p1_gone, "p's endpoint removed by its owner");
    ensure_eq!(ctx.remove_webhook(by_id(&p), p1.id, T0.plus(21)).await?, p1_gone, "removed again, by id");
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?, vec![p2.clone()], "p's after");
    ensure_eq!(ctx.webhooks_of(by_id(&q)).await?, vec![q1.clone()], "q's untouched");
    s.remove_webhook(RemoveWebhook { owner: by_id(&q), id: p1.id, now: T0.plus(22) })
        .await
        .rejects(Rejection::UnknownWebhook, "q removes p's removed endpoint")?;

    // Removing every endpoint leaves empty lists.
    for w in [&a, &a2] {
        ctx.remove_webhook(WebhookOwner::Program, w.id, T0.plus(30)).await?;
    }
    ctx.remove_webhook(by_id(&p), p2.id, T0.plus(30)).await?;
    ensure!(ctx.webhooks_of(WebhookOwner::Program).await?.is_empty(), "the program's all removed");
    ensure!(ctx.webhooks_of(by_telegram(&p)).await?.is_empty(), "p's all removed");
    ensure_eq!(ctx.webhooks_of(by_id(&q)).await?, vec![q1], "q's still there");
    Ok(())
}

pub(super) async fn webhook_limit(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);

    // p fills its places (by either reference), then is refused.
    let mut ps = Vec::new();
    for i in 0..MAX_WEBHOOKS {
        let owner = if i % 2 == 0 { by_id(&p) } else { by_telegram(&p) };
        ps.push(ctx.webhook(owner, &[PointsCredited]).await?);
    }
    let extra = |owner| ctx.webhook_req(owner, "https://extra.example.com/", &[CustomerJoined], T0.plus(100));
    s.add_webhook(extra(by_id(&p))).await.rejects(LIMIT, "p's 11th")?;
    s.add_webhook(extra(by_telegram(&p))).await.rejects(LIMIT, "p's 11th, by owner")?;
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?.len(), MAX_WEBHOOKS, "p's endpoints");

    // The program's and q's places are their own.
    let mut program = Vec::new();
    for _ in 0..MAX_WEBHOOKS {
        program.push(ctx.webhook(WebhookOwner::Program, &[TierChanged]).await?);
    }
    s.add_webhook(extra(WebhookOwner::Program)).await.rejects(LIMIT, "the program's 11th")?;
    let q1 = ctx.webhook(by_telegram(&q), &[PointsCredited]).await?;
    ensure_eq!(ctx.webhooks_of(by_id(&q)).await?, vec![q1], "q's one, p and the program at the limit");

    // A removed endpoint frees its place; removing it again frees no other.
    ctx.remove_webhook(by_id(&p), ps[3].id, T0.plus(200)).await?;
    ctx.remove_webhook(by_id(&p), ps[3].id, T0.plus(201)).await?;
    let back = fresh(s.add_webhook(extra(by_telegram(&p))).await, "p's 10th after a removal")?;
    ensure_eq!(back.partner, Some(p.id), "p's new endpoint");
    s.add_webhook(extra(by_id(&p))).await.rejects(LIMIT, "p's 11th after the removal")?;
    ctx.remove_webhook(by_id(&p), ps[3].id, T0.plus(202)).await?;
    s.add_webhook(extra(by_id(&p))).await.rejects(LIMIT, "a place freed twice")?;
    ctx.remove_webhook(WebhookOwner::Program, program[0].id, T0.plus(203)).await?;
    s.add_webhook(extra(by_id(&p))).await.rejects(LIMIT, "the program's freed place is not p's")?;
    fresh(s.add_webhook(extra(WebhookOwner::Program)).await, "the program's 10th after a removal")?;
    s.add_webhook(extra(WebhookOwner::Program)).await.rejects(LIMIT, "the program's 11th after the removal")?;

    // The partner's status comes before the limit; invalid before both.
    ctx.suspend(&p).await?;
    s.add_webhook(extra(by_id(&p))).await.rejects(
        Rejection::PartnerNotApproved { status: PartnerStatus::Suspended },
        "a suspended partner at the limit",
    )?;
    ctx.approve(&p).await?;
    s.add_webhook(extra(by_id(&p))).await.rejects(LIMIT, "approved again, at the limit")?;
    let invalid = AddWebhook { events: vec![], ..extra(by_id(&p)) };
    let reason = check_webhook(&invalid).err().ok_or("the test's premise: no events is invalid")?;
    s.add_webhook(invalid).await.rejects(reason, "no events, at the limit")?;

    let listed = ctx.webhooks_of(by_telegram(&p)).await?;
    ensure_eq!(listed.len(), MAX_WEBHOOKS, "p's endpoints at the end");
    ensure!(!listed.iter().any(|w| w.id == ps[3].id), "the removed one is not listed");
    ensure_eq!(listed[0], back, "the newest first");
    ensure_eq!(ctx.webhooks_of(WebhookOwner::Program).await?.len(), MAX_WEBHOOKS, "the program's at the end");
    Ok(())
}

pub(super) async fn webhook_targets_pick_the_subscribers(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    ensure!(ctx.targets(PointsCredited, None).await?.is_empty(), "no endpoints, no targets");

    // Interleaved, so that the order by id shows.
    let a = ctx.webhook(WebhookOwner::Program, &[CustomerJoined, PointsCredited]).await?;
    let p1 = ctx.webhook(by_id(&p), &[TierChanged, PointsCredited]).await?;
    let q1 = ctx.webhook(by_telegram(&q), &[PointsCredited]).await?;
    let b = ctx.webhook(WebhookOwner::Program, &[RewardClaimed, PointsCredited]).await?;
    let p2 = ctx.webhook(by_telegram(&p), &[TierChanged]).await?;
    let gone = ctx.webhook(WebhookOwner::Program, &[PointsCredited, TierChanged]).await?;
    let p_gone = ctx.webhook(by_id(&p), &[PointsCredited, TierChanged]).await?;
    let c = ctx.webhook(WebhookOwner::Program, &WebhookEvent::ALL).await?;
    ctx.remove_webhook(WebhookOwner::Program, gone.id, T0.plus(100)).await?;
    ctx.remove_webhook(by_id(&p), p_gone.id, T0.plus(100)).await?;

    // The rows as they are.
    let req = WebhookTargets { event: PointsCredited, partner: Some(p.id) };
    let rows = ctx.store.webhook_targets(req).await.or_fail("webhook_targets")?;
    ensure_eq!(rows, vec![a.clone(), p1.clone(), b.clone(), c.clone()], "the rows of points.credited at p");

    let nobody = Partner { id: PartnerId(i64::MAX), ..p.clone() };
    let cases: [(WebhookEvent, Option<&Partner>, Vec<WebhookId>); 12] = [
        (PointsCredited, None, vec![a.id, b.id, c.id]),
        (PointsCredited, Some(&p), vec![a.id, p1.id, b.id, c.id]),
        (PointsCredited, Some(&q), vec![a.id, q1.id, b.id, c.id]),
        (PointsCredited, Some(&nobody), vec![a.id, b.id, c.id]),
        (TierChanged, None, vec![c.id]),
        (TierChanged, Some(&p), vec![p1.id, p2.id, c.id]),
        (TierChanged, Some(&q), vec![c.id]),
        (CustomerJoined, Some(&p), vec![a.id, c.id]),
        (RewardClaimed, Some(&q), vec![b.id, c.id]),
        (PointsExpired, None, vec![c.id]),
        (StampsCompleted, Some(&p), vec![c.id]),
        (PointsRedeemed, Some(&q), vec![c.id]),
    ];
    for (event, partner, want) in &cases {
        let got = ctx.targets(*event, *partner).await?;
        ensure_eq!(got, *want, "{event} at {:?}", partner.map(|p| p.id));
    }

    // A partner's endpoints only while it is approved.
    ctx.suspend(&p).await?;
    ensure_eq!(ctx.targets(PointsCredited, Some(&p)).await?, vec![a.id, b.id, c.id], "p suspended");
    ensure_eq!(ctx.targets(TierChanged, Some(&p)).await?, vec![c.id], "p suspended, tier.changed");
    ensure_eq!(ctx.targets(PointsCredited, Some(&q)).await?, vec![a.id, q1.id, b.id, c.id], "q, p suspended");
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?, vec![p2.clone(), p1.clone()], "p's still listed");
    ctx.approve(&p).await?;
    ensure_eq!(ctx.targets(PointsCredited, Some(&p)).await?, vec![a.id, p1.id, b.id, c.id], "p approved again");

    // Removed: no longer a target.
    ctx.remove_webhook(by_telegram(&q), q1.id, T0.plus(200)).await?;
    ctx.remove_webhook(WebhookOwner::Program, a.id, T0.plus(200)).await?;
    ensure_eq!(ctx.targets(PointsCredited, Some(&q)).await?, vec![b.id, c.id], "q's and a removed");
    ensure_eq!(ctx.targets(CustomerJoined, None).await?, vec![c.id], "a removed");
    Ok(())
}

pub(super) async fn webhook_attempts_are_recorded(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let w = ctx.webhook(WebhookOwner::Program, &[PointsCredited]).await?;
    let other = ctx.webhook(WebhookOwner::Program, &[PointsCredited]).await?;
    let pw = ctx.webhook(by_id(&p), &[PointsCredited]).await?;
    let program = || async { ctx.webhooks_of(WebhookOwner::Program).await };
    let find = |list: Vec<Webhook>, id: WebhookId| {
        list.into_iter().find(|x| x.id == id).ok_or(format!("endpoint {id} not listed"))
    };

    // A success.
    ctx.record(w.id, T0.plus(10), Some(200), None).await?;
    let ok = Webhook {
        last_attempt_at: Some(T0.plus(10)),
        last_status: Some(200),
        last_success_at: Some(T0.plus(10)),
        ..w.clone()
    };
    ensure_eq!(find(program().await?, w.id)?, ok, "after a 200");
    ensure_eq!(find(program().await?, other.id)?, other, "another endpoint untouched");

    // A failure with an error: the last success stays.
    ctx.record(w.id, T0.plus(20), Some(500), Some("Internal Server Error")).await?;
    let failed = Webhook {
        last_attempt_at: Some(T0.plus(20)),
        last_status: Some(500),
        last_error: Some("Internal Server Error".into()),
        ..ok.clone()
    };
    ensure_eq!(find(program().await?, w.id)?, failed, "after a 500");

    // No answer at all.
    ctx.record(w.id, T0.plus(30), None, Some("connection refused")).await?;
    let silent = Webhook {
        last_attempt_at: Some(T0.plus(30)),
        last_status: None,
        last_error: Some("connection refused".into()),
        ..ok.clone()
    };
    ensure_eq!(find(program().await?, w.id)?, silent, "after no answer");

    // Only 2xx is a success.
    // The error is kept as given, a success's too (a slow answer, say).
    let statuses = [
        (204, true, None),
        (299, true, None),
        (300, false, None),
        (199, false, Some("redirected")),
        (404, false, None),
        (202, true, Some("slow")),
        (201, true, None),
    ];
    for (i, (status, success, error)) in statuses.into_iter().enumerate() {
        let at = T0.plus(40 + i as i64);
        let before = find(program().await?, w.id)?;
        ctx.record(w.id, at, Some(status), error).await?;
        let last_success_at = if success { Some(at) } else { before.last_success_at };
        let want = Webhook {
            last_attempt_at: Some(at),
            last_status: Some(status),
            last_error: error.map(Into::into),
            last_success_at,
            ..w.clone()
        };
        ensure_eq!(find(program().await?, w.id)?, want, "after a {status}");
    }
    let targets = ctx.store.webhook_targets(WebhookTargets { event: PointsCredited, partner: None }).await;
    let targets = targets.or_fail("webhook_targets")?;
    ensure_eq!(
        targets.first().map(|t| (t.last_status, t.last_success_at)),
        Some((Some(201), Some(T0.plus(46)))),
        "the targets show it"
    );

    // A long error is cut to 200 characters (not bytes); 200 are kept whole.
    let long: String = "Lỗi kết nối đến máy chủ — ".chars().cycle().take(300).collect();
    ensure!(long.chars().count() == 300 && long.len() > 400, "the test's premise: 300 characters, mostly multibyte");
    ctx.record(pw.id, T0.plus(50), Some(502), Some(&long)).await?;
    let want: String = long.chars().take(200).collect();
    let got = find(ctx.webhooks_of(by_telegram(&p)).await?, pw.id)?;
    ensure_eq!(got.last_error.as_deref(), Some(want.as_str()), "a 300-character error");
    ensure_eq!((got.last_status, got.last_success_at), (Some(502), None), "a partner's endpoint never succeeded");
    ctx.record(pw.id, T0.plus(51), None, Some(&want)).await?;
    let got = find(ctx.webhooks_of(by_id(&p)).await?, pw.id)?;
    ensure_eq!(got.last_error.as_deref(), Some(want.as_str()), "a 200-character error");
    let short: String = long.chars().take(201).collect();
    ctx.record(pw.id, T0.plus(52), None, Some(&short)).await?;
    let got = find(ctx.webhooks_of(by_id(&p)).await?, pw.id)?;
    ensure_eq!(got.last_error.as_deref(), Some(want.as_str()), "a 201-character error");

    // A removed endpoint records still (a delivery in flight when it was
    // removed), as its removal answered again shows.
    let removed = ctx.remove_webhook(WebhookOwner::Program, other.id, T0.plus(60)).await?;
    ctx.record(other.id, T0.plus(61), Some(200), None).await?;
    let again = ctx.remove_webhook(WebhookOwner::Program, other.id, T0.plus(62)).await?;
    let want = Webhook {
        last_attempt_at: Some(T0.plus(61)),
        last_status: Some(200),
        last_success_at: Some(T0.plus(61)),
        ..removed.clone()
    };
    ensure_eq!(again, want, "recorded on a removed endpoint");
    ensure_eq!(again.removed_at, Some(T0.plus(60)), "still removed");

    // An unknown endpoint: fine, and nothing changes.
    let before = (program().await?, ctx.webhooks_of(by_id(&p)).await?);
    for id in [NO_WEBHOOK, WebhookId(0), WebhookId(-1)] {
        ctx.record(id, T0.plus(70), Some(200), Some("nobody")).await?;
    }
    ensure_eq!((program().await?, ctx.webhooks_of(by_id(&p)).await?), before, "an unknown id changes nothing");
    Ok(())
}

pub(super) async fn concurrent_adds_keep_the_limit(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    let n = 16.max(MAX_WEBHOOKS + 2);

    // Sorts the results of racing adds: (the endpoints added, refusals).
    let sort = |results: Vec<StoreResult<WebhookAdded>>, who: &str| -> Result<(Vec<Webhook>, usize), String> {
        let mut added = Vec::new();
        let mut refused = 0;
        for r in results {
            match r {
                Ok(w) if !w.replayed => added.push(w.webhook),
                Err(StoreError::Rejected(got)) if got == LIMIT => refused += 1,
                other => return Err(format!("{who}: unexpected {other:?}")),
            }
        }
        Ok((added, refused))
    };
    let reqs = |owner: WebhookOwner| -> Vec<AddWebhook> {
        (0..n)
            .map(|i| {
                ctx.webhook_req(owner, &format!("https://race.example.com/{i}"), &[PointsCredited], T0.plus(i as i64))
            })
            .collect()
    };

    // One partner, 16 at once (by either reference).
    let mut racing = reqs(by_id(&p));
    for r in racing.iter_mut().skip(1).step_by(2) {
        r.owner = by_telegram(&p);
    }
    let (added, refused) = sort(join_all(racing.into_iter().map(|r| s.add_webhook(r))).await, "p")?;
    ensure_eq!((added.len(), refused), (MAX_WEBHOOKS, n - MAX_WEBHOOKS), "p's adds that won, and were refused");
    let mut listed = ids(&ctx.webhooks_of(by_id(&p)).await?);
    listed.reverse();
    let mut want = ids(&added);
    want.sort();
    ensure_eq!(listed, want, "p's endpoints: those that won, each once");

    // The program's and q's at once: each owner's own limit.
    let racing = reqs(WebhookOwner::Program).into_iter().chain(reqs(by_telegram(&q)));
    let mut results = join_all(racing.map(|r| s.add_webhook(r))).await;
    let theirs = results.split_off(n);
    let (program, program_refused) = sort(results, "the program")?;
    let (theirs, q_refused) = sort(theirs, "q")?;
    ensure_eq!((program.len(), program_refused), (MAX_WEBHOOKS, n - MAX_WEBHOOKS), "the program's adds");
    ensure_eq!((theirs.len(), q_refused), (MAX_WEBHOOKS, n - MAX_WEBHOOKS), "q's adds");
    ensure!(program.iter().all(|w| w.partner.is_none()), "the program's endpoints");
    ensure!(theirs.iter().all(|w| w.partner == Some(q.id)), "q's endpoints");
    for (who, owner, added) in [("the program", WebhookOwner::Program, &program), ("q", by_id(&q), &theirs)] {
        let mut listed = ids(&ctx.webhooks_of(owner).await?);
        listed.reverse();
        let mut want = ids(added);
        want.sort();
        ensure_eq!(listed, want, "{who}'s endpoints: those that won, each once");
    }
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?.len(), MAX_WEBHOOKS, "p's untouched");
    Ok(())
}

/// A registration again: `req` with another secret and time, as a retry
/// makes them (the key, the owner, the URL and the events as given).
fn again(ctx: &Ctx<'_>, req: &AddWebhook, now: Timestamp) -> AddWebhook {
    AddWebhook { secret: format!("whsec_retry_{:032x}", ctx.next()), now, ..req.clone() }
}

/// Expects a replay of `first`: the same endpoint (as `want`), `replayed`.
fn replays(got: StoreResult<WebhookAdded>, want: &Webhook, what: &str) -> CheckResult {
    let got = got.or_fail(what)?;
    ensure_eq!(got, WebhookAdded { webhook: want.clone(), replayed: true }, "{what}");
    Ok(())
}

pub(super) async fn webhook_keys_replay_per_owner(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);

    // The program's: the same key, URL and events again — the events in
    // another order, a new secret and time — answer the first endpoint.
    let url = "https://hooks.example.com/keyed?a=1";
    let first = AddWebhook {
        idempotency_key: "tg:42:1001".into(),
        ..ctx.webhook_req(WebhookOwner::Program, url, &[TierChanged, PointsCredited, CustomerJoined], T0.plus(1))
    };
    let a = fresh(s.add_webhook(first.clone()).await, "the program's first registration")?;
    ensure_eq!(a, registered(&a, None, &first), "the program's endpoint");
    replays(s.add_webhook(again(ctx, &first, T0.plus(2))).await, &a, "the same registration again")?;
    let reordered = AddWebhook { events: vec![CustomerJoined, TierChanged, PointsCredited], ..again(ctx, &first, T0) };
    replays(s.add_webhook(reordered).await, &a, "the events in another order")?;
    ensure_eq!(ctx.webhooks_of(WebhookOwner::Program).await?, vec![a.clone()], "one endpoint of the program's");

    // The same key for another URL or other events: a conflict, nothing added.
    let conflicts = [
        ("another URL", AddWebhook { url: "https://hooks.example.com/keyed?a=2".into(), ..again(ctx, &first, T0) }),
        (
            "the URL with a slash",
            AddWebhook { url: "https://hooks.example.com/keyed/?a=1".into(), ..again(ctx, &first, T0) },
        ),
        ("fewer events", AddWebhook { events: vec![TierChanged, PointsCredited], ..again(ctx, &first, T0) }),
        (
            "more events",
            AddWebhook {
                events: vec![TierChanged, PointsCredited, CustomerJoined, RewardClaimed],
                ..again(ctx, &first, T0)
            },
        ),
        (
            "other events",
            AddWebhook { events: vec![TierChanged, PointsCredited, RewardClaimed], ..again(ctx, &first, T0) },
        ),
    ];
    for (what, req) in &conflicts {
        ensure!(check_webhook(req).is_ok(), "the test's premise: {what} is valid");
        s.add_webhook(req.clone()).await.rejects(Rejection::IdempotencyConflict, what)?;
    }
    ensure_eq!(ctx.webhooks_of(WebhookOwner::Program).await?, vec![a.clone()], "no endpoint added by a conflict");

    // A key is its owner's: p, then q, may use the program's key, each for its own endpoint.
    let p_req = AddWebhook { owner: by_id(&p), ..again(ctx, &first, T0.plus(3)) };
    let p1 = fresh(s.add_webhook(p_req.clone()).await, "p with the program's key")?;
    ensure_eq!(p1, registered(&p1, Some(p.id), &p_req), "p's endpoint of the program's key");
    let q_req = AddWebhook { owner: by_telegram(&q), url: "https://q.example.com/".into(), ..again(ctx, &first, T0) };
    let q1 = fresh(s.add_webhook(q_req.clone()).await, "q with the program's key, another URL")?;
    ensure_eq!(q1, registered(&q1, Some(q.id), &q_req), "q's endpoint of the program's key");
    ensure!(p1.id != a.id && q1.id != a.id && q1.id != p1.id, "three endpoints: {} {} {}", a.id, p1.id, q1.id);
    // p's key, by either reference of its owner.
    replays(s.add_webhook(AddWebhook { owner: by_telegram(&p), ..again(ctx, &p_req, T0) }).await, &p1, "p's by owner")?;
    replays(s.add_webhook(again(ctx, &first, T0)).await, &a, "the program's still")?;
    let q_conflict = AddWebhook { owner: by_id(&q), ..again(ctx, &first, T0) };
    s.add_webhook(q_conflict).await.rejects(Rejection::IdempotencyConflict, "q's key with the program's URL")?;

    // Keys of any text, up to 200 characters (not bytes); none or longer is invalid.
    let long: String = "ключ-🔑'\"".chars().cycle().take(MAX_WEBHOOK_KEY_LEN).collect();
    let odd_req = AddWebhook {
        idempotency_key: long.clone(),
        ..ctx.webhook_req(by_id(&p), "https://o.example.com/", &[PointsExpired], T0)
    };
    let odd = fresh(s.add_webhook(odd_req.clone()).await, "a 200-character key")?;
    replays(s.add_webhook(again(ctx, &odd_req, T0)).await, &odd, "a 200-character key again")?;
    let longer: String = long.chars().chain(['x']).collect();
    for (what, key) in [("no key", String::new()), ("a 201-character key", longer)] {
        let req = AddWebhook {
            idempotency_key: key,
            ..ctx.webhook_req(by_id(&p), "https://o.example.com/", &[PointsExpired], T0)
        };
        let reason = check_webhook(&req).err().ok_or(format!("the test's premise: {what} is invalid"))?;
        ensure!(matches!(reason, Rejection::InvalidWebhook { .. }), "{what}: {reason:?}");
        s.add_webhook(req).await.rejects(reason, what)?;
    }
    // An owner naming no partner is unknown, whatever the key.
    for (who, owner) in unknown_owners(&p) {
        let req = AddWebhook { owner, ..again(ctx, &p_req, T0) };
        s.add_webhook(req).await.rejects(Rejection::UnknownPartner, &format!("p's key by {who}"))?;
    }
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?, vec![odd.clone(), p1.clone()], "p's endpoints");

    // A removed endpoint's key answers it as it is now (removed); nothing comes back.
    let removed = ctx.remove_webhook(WebhookOwner::Program, a.id, T0.plus(10)).await?;
    ctx.record(a.id, T0.plus(11), Some(500), Some("down")).await?;
    let a_now = Webhook {
        last_attempt_at: Some(T0.plus(11)),
        last_status: Some(500),
        last_error: Some("down".into()),
        ..removed
    };
    replays(s.add_webhook(again(ctx, &first, T0.plus(12))).await, &a_now, "the key of a removed endpoint")?;
    ensure!(ctx.webhooks_of(WebhookOwner::Program).await?.is_empty(), "the removed endpoint is not back");
    let other = AddWebhook { events: vec![TierChanged], ..again(ctx, &first, T0) };
    s.add_webhook(other)
        .await
        .rejects(Rejection::IdempotencyConflict, "the key of a removed endpoint, other events")?;

    // At the limit a key replays; only a fresh key is refused.
    let mut program = Vec::new();
    for _ in 0..MAX_WEBHOOKS {
        program.push(ctx.webhook(WebhookOwner::Program, &[PointsCredited]).await?);
    }
    let fill = AddWebhook {
        idempotency_key: "fill-1".into(),
        ..ctx.webhook_req(by_id(&p), "https://f.example.com/", &[TierChanged], T0)
    };
    let mut ps = vec![fresh(s.add_webhook(fill.clone()).await, "p's third")?];
    while ctx.webhooks_of(by_id(&p)).await?.len() < MAX_WEBHOOKS {
        ps.push(ctx.webhook(by_id(&p), &[TierChanged]).await?);
    }
    let extra = ctx.webhook_req(WebhookOwner::Program, "https://extra.example.com/", &[TierChanged], T0);
    s.add_webhook(extra).await.rejects(LIMIT, "the program's 11th, a fresh key")?;
    replays(s.add_webhook(again(ctx, &first, T0)).await, &a_now, "the program's removed one, at the limit")?;
    let tenth = program.last().ok_or("the program's endpoints")?.clone();
    let listed = ctx.webhooks_of(WebhookOwner::Program).await?;
    ensure_eq!(listed.len(), MAX_WEBHOOKS, "the program's at the limit");
    ensure_eq!(listed[0], tenth, "the newest first");
    replays(s.add_webhook(again(ctx, &fill, T0)).await, &ps[0], "p's key at the limit")?;
    replays(s.add_webhook(again(ctx, &p_req, T0)).await, &p1, "p's first key at the limit")?;
    ensure_eq!(ctx.webhooks_of(by_id(&p)).await?.len(), MAX_WEBHOOKS, "p's count unchanged");
    s.add_webhook(AddWebhook { url: "https://g.example.com/".into(), ..again(ctx, &fill, T0) })
        .await
        .rejects(Rejection::IdempotencyConflict, "a conflict at the limit is a conflict")?;

    // A suspended partner's key replays (nothing changes); a fresh key is refused for the status.
    ctx.suspend(&p).await?;
    replays(s.add_webhook(again(ctx, &p_req, T0)).await, &p1, "a suspended partner's key")?;
    let fresh_key = ctx.webhook_req(by_id(&p), "https://s.example.com/", &[TierChanged], T0);
    s.add_webhook(fresh_key).await.rejects(
        Rejection::PartnerNotApproved { status: PartnerStatus::Suspended },
        "a suspended partner's fresh key",
    )?;
    ensure_eq!(ctx.webhooks_of(by_id(&q)).await?, vec![q1], "q's untouched");
    Ok(())
}

pub(super) async fn concurrent_adds_with_one_key(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let n = 8;

    // 8 retries of one registration at once, for p (by either reference) and
    // for the program: one endpoint each, every answer it, with its secret.
    for (who, owners) in [("p", [by_id(&p), by_telegram(&p)]), ("the program", [WebhookOwner::Program; 2])] {
        let first = AddWebhook {
            idempotency_key: "race-key".into(),
            ..ctx.webhook_req(owners[0], "https://race.example.com/", &[PointsCredited, TierChanged], T0)
        };
        let racing: Vec<AddWebhook> =
            (0..n).map(|i| AddWebhook { owner: owners[i % 2], ..again(ctx, &first, T0.plus(i as i64)) }).collect();
        let results = join_all(racing.into_iter().map(|r| s.add_webhook(r))).await;
        let mut answers = Vec::new();
        for r in results {
            answers.push(r.or_fail(&format!("{who}'s racing retry"))?);
        }
        let made: Vec<&WebhookAdded> = answers.iter().filter(|a| !a.replayed).collect();
        ensure_eq!(made.len(), 1, "{who}: one retry made the endpoint");
        let made = made[0].webhook.clone();
        ensure!(answers.iter().all(|a| a.webhook == made), "{who}: every retry answers it: {answers:?}");
        ensure_eq!(ctx.webhooks_of(owners[0]).await?, vec![made], "{who}: one endpoint");
    }

    // One key, 8 different URLs at once: one endpoint, the rest conflicts.
    let base = AddWebhook {
        idempotency_key: "race-urls".into(),
        ..ctx.webhook_req(by_id(&p), "https://u.example.com/", &[CustomerJoined], T0)
    };
    let racing: Vec<AddWebhook> =
        (0..n).map(|i| AddWebhook { url: format!("https://u.example.com/{i}"), ..again(ctx, &base, T0) }).collect();
    let mut made = Vec::new();
    let mut conflicts = 0;
    for r in join_all(racing.into_iter().map(|r| s.add_webhook(r))).await {
        match r {
            Ok(a) if !a.replayed => made.push(a.webhook),
            Err(StoreError::Rejected(Rejection::IdempotencyConflict)) => conflicts += 1,
            other => return Err(format!("one key, other URLs: unexpected {other:?}")),
        }
    }
    ensure_eq!((made.len(), conflicts), (1, n - 1), "one key, other URLs: made and conflicts");
    let listed = ctx.webhooks_of(by_id(&p)).await?;
    ensure_eq!(listed.len(), 2, "p's endpoints: one per key");
    ensure_eq!(listed[0], made[0], "the one made");
    Ok(())
}

/// Whether `enqueue_messages` (source `source`, one message) says an endpoint is registered.
async fn enqueue_says(ctx: &Ctx<'_>, source: &str, now: Timestamp) -> Result<bool, String> {
    let req = enqueue(source, None, vec![message(None, "event")], now);
    Ok(ctx.store.enqueue_messages(req).await.or_fail(source)?.webhooks)
}

/// `enqueue_messages` says whether any endpoint is registered and not removed
/// — the program's or a partner's, whatever it receives — so that the events
/// it adds in a program without endpoints are fanned out without asking.
pub(super) async fn enqueue_says_whether_endpoints_are_registered(ctx: &Ctx<'_>) -> CheckResult {
    use WebhookEvent::*;
    let p = ctx.partner(PartnerTerms::default()).await?;
    ensure!(!enqueue_says(ctx, "hooks:1", T0).await?, "a fresh store has no endpoints");
    let theirs = ctx.webhook(by_id(&p), &[PointsRedeemed]).await?;
    ensure!(enqueue_says(ctx, "hooks:2", T0.plus(10)).await?, "a partner's endpoint, for another event");
    ensure!(enqueue_says(ctx, "hooks:2", T0.plus(11)).await?, "said when the call adds nothing too");
    let ours = ctx.webhook(WebhookOwner::Program, &[PointsCredited]).await?;
    ctx.remove_webhook(by_id(&p), theirs.id, T0.plus(20)).await?;
    ensure!(enqueue_says(ctx, "hooks:3", T0.plus(21)).await?, "the program's endpoint is left");
    ctx.remove_webhook(WebhookOwner::Program, ours.id, T0.plus(30)).await?;
    ensure!(!enqueue_says(ctx, "hooks:4", T0.plus(31)).await?, "every endpoint removed");
    let finishing = EnqueueMessages {
        updates: vec![UpdateRef { bot: BotId(1), update_id: 1 }],
        ..enqueue("hooks:5", None, vec![], T0.plus(32))
    };
    ensure!(
        !ctx.store.enqueue_messages(finishing).await.or_fail("finishing")?.webhooks,
        "a finishing call says it too"
    );
    Ok(())
}
