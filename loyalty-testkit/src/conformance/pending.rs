//! A customer's pending redemption requests, as the Mini App lists them:
//! their own only, pending and not past their time, newest first, capped;
//! none for a blocked or erased customer.

use super::*;

/// The customer's list at `now`, by their Telegram id.
async fn listed(ctx: &Ctx<'_>, c: &Customer, now: Timestamp) -> Result<Vec<PendingRedemption>, String> {
    let req = CustomerRedemptions { customer: CustomerRef::Telegram(c.telegram_id), now };
    ctx.store.customer_redemptions(req).await.or_fail("customer_redemptions")
}

/// `c` is asked for `points` of a purchase of 1 000 at `p`, opened at `at`.
async fn ask(
    ctx: &Ctx<'_>,
    p: &Partner,
    c: &Customer,
    points: Points,
    at: Timestamp,
    key: &str,
) -> Result<RedemptionId, String> {
    let open = OpenRedemption { now: at, expires_at: at.plus(600), ..ctx.open_req(p, c, points, 1_000, key) };
    Ok(ctx.store.open_redemption(open).await.or_fail(key)?.request.id)
}

pub(super) async fn customers_see_their_pending_requests(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (c, other) = (ctx.customer(1_000).await?, ctx.customer(1_000).await?);
    let p = ctx.partner(terms(1_000, 5_000, 1_000_000)).await?;
    let q = ctx.partner(terms(1_000, 5_000, 1_000_000)).await?;
    ensure_eq!(listed(ctx, &c, T0).await?, vec![], "a new customer's list");

    // Two requests for c (p's, then q's a minute later), one for another customer.
    let first = ask(ctx, &p, &c, 10, T0, "pr-1").await?;
    let second = ask(ctx, &q, &c, 20, T0.plus(60), "pr-2").await?;
    ask(ctx, &p, &other, 30, T0.plus(30), "pr-3").await?;
    let now = T0.plus(120);
    let want = vec![
        PendingRedemption {
            id: second,
            partner: q.id,
            partner_name: q.name.clone(),
            points: 20,
            purchase: 1_000,
            created_at: T0.plus(60),
            expires_at: T0.plus(660),
        },
        PendingRedemption {
            id: first,
            partner: p.id,
            partner_name: p.name.clone(),
            points: 10,
            purchase: 1_000,
            created_at: T0,
            expires_at: T0.plus(600),
        },
    ];
    ensure_eq!(listed(ctx, &c, now).await?, want, "c's requests, newest first");
    let by_id = CustomerRedemptions { customer: CustomerRef::Id(c.id), now };
    ensure_eq!(s.customer_redemptions(by_id).await.or_fail("by id")?, want, "the same by the customer's id");
    let theirs = listed(ctx, &other, now).await?;
    ensure_eq!(theirs.iter().map(|r| r.points).collect::<Vec<_>>(), vec![30], "the other customer's own only");

    // Up to its last second, then no more (it stays pending in the store).
    ensure_eq!(listed(ctx, &c, T0.plus(600)).await?.len(), 2, "at the first's last second");
    ensure_eq!(listed(ctx, &c, T0.plus(601)).await?, want[..1].to_vec(), "past the first's time");
    ensure_eq!(listed(ctx, &c, T0.plus(661)).await?, vec![], "past both");

    // Answered ones are gone: confirmed, declined.
    s.confirm_redemption(ctx.answer(first, &c)).await.or_fail("confirm")?;
    ensure_eq!(listed(ctx, &c, now).await?, want[..1].to_vec(), "after confirming the first");
    s.decline_redemption(ctx.answer(second, &c)).await.or_fail("decline")?;
    ensure_eq!(listed(ctx, &c, now).await?, vec![], "after declining the second");

    // Swept ones too.
    let late = ask(ctx, &p, &c, 5, T0.plus(200), "pr-4").await?;
    ensure_eq!(listed(ctx, &c, T0.plus(300)).await?.first().map(|r| r.id), Some(late), "a new one");
    s.expire_redemptions(T0.plus(801)).await.or_fail("expire")?;
    ensure_eq!(listed(ctx, &c, T0.plus(300)).await?, vec![], "after the sweep");

    // A request whose partner was suspended since still waits for an answer.
    let held = ask(ctx, &q, &other, 7, T0.plus(90), "pr-5").await?;
    ctx.suspend(&q).await?;
    let theirs = listed(ctx, &other, now).await?;
    ensure_eq!(theirs.first().map(|r| r.id), Some(held), "a suspended partner's request is listed");
    ctx.invariants().await
}

pub(super) async fn customer_redemptions_cap_and_refusals(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let c = ctx.customer(10_000).await?;
    let p = ctx.partner(terms(1_000, 5_000, 1_000_000)).await?;
    let cap = MAX_CUSTOMER_REDEMPTIONS as i64;
    // Two opened in the same second: the newer id first.
    for i in 0..cap + 2 {
        ask(ctx, &p, &c, 1 + i, T0.plus(i.min(cap)), &format!("cap-{i}")).await?;
    }
    let got = listed(ctx, &c, T0.plus(60)).await?;
    ensure_eq!(got.len(), MAX_CUSTOMER_REDEMPTIONS as usize, "the cap");
    let points: Vec<Points> = got.iter().map(|r| r.points).collect();
    let want: Vec<Points> = (0..cap + 2).rev().take(MAX_CUSTOMER_REDEMPTIONS as usize).map(|i| 1 + i).collect();
    ensure_eq!(points, want, "the newest, newest first");

    // A blocked customer has none listed; unblocked, they are back.
    ctx.block(&c, true).await?;
    ensure_eq!(listed(ctx, &c, T0.plus(60)).await?, vec![], "a blocked customer's list");
    ctx.block(&c, false).await?;
    ensure_eq!(listed(ctx, &c, T0.plus(60)).await?.len(), MAX_CUSTOMER_REDEMPTIONS as usize, "unblocked");

    // An erased customer: unknown by their old Telegram id, none by their id.
    let erased = ctx.customer(1_000).await?;
    ask(ctx, &p, &erased, 3, T0, "erased-1").await?;
    let erase = EraseCustomer { who: CustomerRef::Id(erased.id), admin: None, now: T0.plus(30) };
    s.erase_customer(erase).await.or_fail("erase")?;
    let by_telegram = CustomerRedemptions { customer: CustomerRef::Telegram(erased.telegram_id), now: T0.plus(60) };
    s.customer_redemptions(by_telegram).await.rejects(Rejection::UnknownCustomer, "an erased customer's old id")?;
    let by_id = CustomerRedemptions { customer: CustomerRef::Id(erased.id), now: T0.plus(60) };
    ensure_eq!(s.customer_redemptions(by_id).await.or_fail("erased by id")?, vec![], "an erased customer's list");

    // Nobody.
    let nobody = CustomerRedemptions { customer: CustomerRef::Telegram(TelegramUserId(i64::MAX)), now: T0 };
    s.customer_redemptions(nobody).await.rejects(Rejection::UnknownCustomer, "an unknown customer")?;
    let nobody = CustomerRedemptions { customer: CustomerRef::Id(CustomerId(i64::MAX)), now: T0 };
    s.customer_redemptions(nobody).await.rejects(Rejection::UnknownCustomer, "an unknown id")?;
    ctx.invariants().await
}
