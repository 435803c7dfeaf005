//! Daily figures for charts: a partner's and the program's points issued and
//! redeemed per day, counted as `partner_stats` and `program_stats` count
//! them (a reversal takes its original out of the original's day, whenever it
//! comes, and counts on no day itself), days without entries as zeros, the
//! bound on the number of days, and who may ask.

use super::rewards::offer;
use super::staff::user_of;
use super::*;

/// A partner that does not exist.
const NOBODY: PartnerRef = PartnerRef::Id(PartnerId(i64::MAX));

/// The start of day `n` relative to [`DAY0`] (negative: before it).
fn day(n: i64) -> Timestamp {
    DAY0.plus(n * DAY_SECS)
}

/// The figures of `scope` for `days` days from `from`.
fn ask(scope: FiguresScope, from: Timestamp, days: u32) -> DailyFigures {
    DailyFigures { scope, from, days }
}

/// The rows expected from `from`: `(issued, redeemed)` per day, oldest first.
fn rows(from: Timestamp, figures: &[(Points, Points)]) -> Vec<DayFigures> {
    let mut out = Vec::with_capacity(figures.len());
    for (i, (issued, redeemed)) in (0_i64..).zip(figures) {
        out.push(DayFigures { day: from.plus(i * DAY_SECS), issued: *issued, redeemed: *redeemed });
    }
    out
}

/// The sums of a run of rows: `(issued, redeemed)`.
fn totals(figures: &[DayFigures]) -> (Points, Points) {
    figures.iter().fold((0, 0), |(i, r), f| (i + f.issued, r + f.redeemed))
}

/// `c` redeems `points` at `p` at `t` (a purchase of 1 000), confirming at
/// once: the debit.
async fn redeem(
    ctx: &Ctx<'_>,
    p: &Partner,
    c: &Customer,
    points: Points,
    t: Timestamp,
    key: &str,
) -> Result<LedgerEntry, String> {
    let open = OpenRedemption { now: t, expires_at: t.plus(600), ..ctx.open_req(p, c, points, 1_000, key) };
    let opened = ctx.store.open_redemption(open).await.or_fail(key)?;
    let answer = AnswerRedemption { now: t.plus(30), ..ctx.answer(opened.request.id, c) };
    ctx.store.confirm_redemption(answer).await.or_fail(key)?.entry.ok_or_else(|| format!("{key}: no entry"))
}

pub(super) async fn daily_figures_count_each_day_once(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let at = |t: Timestamp| move |req: CreditPurchase| CreditPurchase { now: t, day_start: t.day_start(), ..req };
    let (c1, c2) = (ctx.customer(1_000).await?, ctx.customer(1_000).await?);
    let p = ctx.partner(terms(1_000, 3_000, 1_000_000)).await?;
    let q = ctx.partner(terms(1_000, 3_000, 1_000_000)).await?;
    let from = day(-6);

    // A week of figures starts empty, one row a day.
    let week = ask(FiguresScope::Partner(PartnerRef::Id(p.id)), from, 7);
    ensure_eq!(s.daily_figures(week).await.or_fail("empty")?, rows(from, &[(0, 0); 7]), "a new partner's week");

    // p: an accrual the day before the week, one at its first second, one
    // at the last second of day −1, one on day 0.
    s.credit_purchase(at(day(-7).plus(500))(ctx.credit_req(&p, &c1, 900, "df-a0"))).await.or_fail("a0")?;
    s.credit_purchase(at(from)(ctx.credit_req(&p, &c1, 1_000, "df-a1"))).await.or_fail("a1")?;
    s.credit_purchase(at(DAY0.plus(-1))(ctx.credit_req(&p, &c2, 500, "df-a2"))).await.or_fail("a2")?;
    s.credit_purchase(at(T0)(ctx.credit_req(&p, &c1, 3_000, "df-a3"))).await.or_fail("a3")?;
    // …and one on day −3, reversed the day after: on no day.
    let t = day(-3).plus(3_600);
    let reversed = s.credit_purchase(at(t)(ctx.credit_req(&p, &c2, 2_000, "df-a4"))).await.or_fail("a4")?;
    let undo = ReverseEntry {
        not_before: t.plus(-60),
        now: day(-2).plus(600),
        ..ctx.reverse_req(reversed.entry.id, &p, "df-r4")
    };
    s.reverse_entry(undo).await.or_fail("reverse a4")?;
    // p: a redemption on day −1 reversed on day 0 (on no day), one on day 0.
    let debit = redeem(ctx, &p, &c2, 30, day(-1).plus(7_200), "df-o1").await?;
    let undo = ReverseEntry { not_before: day(-2), now: DAY0.plus(60), ..ctx.reverse_req(debit.id, &p, "df-r1") };
    s.reverse_entry(undo).await.or_fail("reverse the redemption")?;
    redeem(ctx, &p, &c1, 20, T0, "df-o2").await?;
    // …a reward's voucher paid on day 0, and another paid and refunded.
    let reward = ctx.reward(&p, offer(40, None)).await?;
    ctx.claim(&c1, reward.id).await?;
    let refunded = ctx.claim(&c2, reward.id).await?;
    let cancel = CancelVoucher { customer: CustomerRef::Id(c2.id), voucher: refunded.voucher.id, now: T0.plus(120) };
    s.cancel_voucher(cancel).await.or_fail("cancel the voucher")?;
    // q: an accrual on day −1, a redemption on day 0.
    let q_credit = at(day(-1).plus(100))(ctx.credit_req(&q, &c1, 700, "df-q1"));
    s.credit_purchase(q_credit).await.or_fail("q1")?;
    redeem(ctx, &q, &c2, 10, T0, "df-q2").await?;
    // The program's own entries: no partner's, on no day.
    s.adjust_balance(ctx.adjust_req(&c1, 500, "df-adj")).await.or_fail("adjust")?;
    ctx.customer(250).await?;

    // Each partner's week, oldest first, days with nothing as zeros.
    let p_week = rows(from, &[(100, 0), (0, 0), (0, 0), (0, 0), (0, 0), (50, 0), (300, 60)]);
    for who in [PartnerRef::Id(p.id), PartnerRef::Telegram(p.telegram_id)] {
        let got = s.daily_figures(ask(FiguresScope::Partner(who), from, 7)).await.or_fail("p's week")?;
        ensure_eq!(got, p_week, "p's week by {who:?}");
    }
    let q_week = rows(from, &[(0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (70, 0), (0, 10)]);
    let got = s.daily_figures(ask(FiguresScope::Partner(PartnerRef::Id(q.id)), from, 7)).await.or_fail("q's week")?;
    ensure_eq!(got, q_week, "another partner's week: its own entries only");
    let program_week = rows(from, &[(100, 0), (0, 0), (0, 0), (0, 0), (0, 0), (120, 0), (300, 70)]);
    let got = s.daily_figures(ask(FiguresScope::Program, from, 7)).await.or_fail("the program's week")?;
    ensure_eq!(got, program_week, "the program's week: every partner's, no bonus or adjustment");

    // They add up to the stats of the same periods.
    let stats = s.partner_stats(PartnerRef::Id(p.id), DAY0, from).await.or_fail("partner_stats")?;
    ensure_eq!(totals(&p_week), (stats.week.issued, stats.week.redeemed), "p's week against partner_stats");
    ensure_eq!(totals(&p_week[6..]), (stats.today.issued, stats.today.redeemed), "p's day 0 against partner_stats");
    let today = s.program_stats(DAY0).await.or_fail("program_stats")?.today;
    ensure_eq!(totals(&program_week[6..]), (today.issued, today.redeemed), "day 0 against program_stats");

    // A window is exactly its days: one day less leaves day 0 out, one more
    // takes the day before in; a window after the entries is zeros.
    let six = s.daily_figures(ask(FiguresScope::Program, from, 6)).await.or_fail("six days")?;
    ensure_eq!(six, program_week[..6].to_vec(), "six days");
    let eight = s.daily_figures(ask(FiguresScope::Program, day(-7), 8)).await.or_fail("eight days")?;
    let mut want = rows(day(-7), &[(90, 0)]);
    want.extend(program_week.iter().copied());
    ensure_eq!(eight, want, "eight days");
    let one = s.daily_figures(ask(FiguresScope::Partner(PartnerRef::Id(p.id)), day(-1), 1)).await.or_fail("day −1")?;
    ensure_eq!(one, rows(day(-1), &[(50, 0)]), "day −1 alone");
    let later = s.daily_figures(ask(FiguresScope::Program, day(1), 3)).await.or_fail("later")?;
    ensure_eq!(later, rows(day(1), &[(0, 0); 3]), "days after the entries");

    // The longest window: 92 days, the last of them day 0.
    let first = day(1 - i64::from(MAX_FIGURE_DAYS));
    let quarter = s.daily_figures(ask(FiguresScope::Program, first, MAX_FIGURE_DAYS)).await.or_fail("92 days")?;
    let mut want = rows(first, &vec![(0, 0); MAX_FIGURE_DAYS as usize - 8]);
    want.extend(eight.iter().copied());
    ensure_eq!(quarter, want, "92 days");
    let p_quarter = ask(FiguresScope::Partner(PartnerRef::Telegram(p.telegram_id)), first, MAX_FIGURE_DAYS);
    let p_quarter = s.daily_figures(p_quarter).await.or_fail("p's 92 days")?;
    ensure_eq!(totals(&p_quarter), (90 + 450, 60), "p's 92 days");
    Ok(())
}

pub(super) async fn daily_figures_refusals(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(terms(1_000, 3_000, 1_000_000)).await?;
    let c = ctx.customer(1_000).await?;
    ctx.credit(&p, &c, 1_000, "dfr-a1").await?;
    let p_day = rows(DAY0, &[(100, 0)]);
    let by_id = FiguresScope::Partner(PartnerRef::Id(p.id));

    // The number of days, checked first: 1 to 92, never clamped.
    let invalid = Rejection::InvalidAmount;
    for scope in [by_id, FiguresScope::Program, FiguresScope::Partner(NOBODY)] {
        for days in [0, MAX_FIGURE_DAYS + 1, u32::MAX] {
            s.daily_figures(ask(scope, DAY0, days))
                .await
                .rejects(invalid.clone(), &format!("{days} days of {scope:?}"))?;
        }
    }
    for scope in [by_id, FiguresScope::Program] {
        let got = s.daily_figures(ask(scope, DAY0, 1)).await.or_fail("one day")?;
        ensure_eq!(got, p_day, "one day of {scope:?}");
    }

    // Any partner's figures, whatever its status: an applied one's are zeros.
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    let scope = FiguresScope::Partner(PartnerRef::Telegram(applied.telegram_id));
    ensure_eq!(s.daily_figures(ask(scope, DAY0, 2)).await.or_fail("applied")?, rows(DAY0, &[(0, 0); 2]), "applied");
    ctx.suspend(&p).await?;
    ensure_eq!(s.daily_figures(ask(by_id, DAY0, 1)).await.or_fail("suspended")?, p_day, "a suspended partner's");
    ctx.approve(&p).await?;

    // The owner's figures, not the till's: no cashier, revoked or not, nor
    // the owner at the till, nor anyone who owns nothing gets them.
    let (cashier, gone) = (ctx.cashier(&p).await?, ctx.cashier(&p).await?);
    s.revoke_staff(ctx.revoke_req(&p, gone.id, T0.plus(90))).await.or_fail("revoke")?;
    let (cashier, gone, stranger) = (user_of(&cashier)?, user_of(&gone)?, ctx.user());
    let unknown = [
        ("no partner", NOBODY),
        ("a cashier at the till", PartnerRef::Till(cashier)),
        ("a cashier as an owner", PartnerRef::Telegram(cashier)),
        ("a revoked cashier", PartnerRef::Till(gone)),
        ("the owner at the till", PartnerRef::Till(p.telegram_id)),
        ("a stranger at the till", PartnerRef::Till(stranger)),
        ("a stranger as an owner", PartnerRef::Telegram(stranger)),
    ];
    for (who, r) in unknown {
        let req = ask(FiguresScope::Partner(r), DAY0, 7);
        s.daily_figures(req).await.rejects(Rejection::UnknownPartner, &format!("figures asked by {who}"))?;
    }
    Ok(())
}
