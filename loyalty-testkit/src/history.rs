//! What an update costs the store as a customer's history grows: the same
//! updates played for a regular customer and again after many more visits,
//! measured by the caller (for D1, the rows its statements read and wrote:
//! what Cloudflare bills). A use case whose statements walk a customer's or a
//! partner's history reads more rows with every visit; one that reads running
//! totals and bounded pages stays level.

use crate::fakes::TestEnv;
use crate::inspect::buttons;
use crate::play::{Player, customer_id, first_buttons, first_text, summary_of};
use loyalty_core::domain::{BotKind, EntryKind, TelegramUserId};
use loyalty_core::ports::{EntriesPage, PartnerRef};
use loyalty_core::telegram::BotCall;
use loyalty_core::telegram::build::TgUser;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Rows read and written so far, as a store counts them (D1's `meta.rows_read`
/// and `meta.rows_written`, summed over its statements).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    /// Rows read.
    pub read: u64,
    /// Rows written.
    pub written: u64,
}

impl Rows {
    fn since(self, start: Rows) -> Rows {
        Rows { read: self.read.saturating_sub(start.read), written: self.written.saturating_sub(start.written) }
    }
}

/// One update's cost early in the customer's history and after it grew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryCost {
    /// The bot and what was sent, e.g. `partner: /credit <code> 1000`.
    pub update: String,
    /// After [`REGULAR`] credits at the partner (every page the bots show full).
    pub before: Rows,
    /// After [`HISTORY`] more credits at the same partner, over as many hours.
    pub after: Rows,
}

/// The credits before the first measure: enough to fill every page the bots
/// show (a history of ten, the three newest on the balance), so that what
/// grows between the two measures is only what walks the history.
pub const REGULAR: u32 = 20;

/// The credits added between the two measures. Every credit comes an hour
/// after the last, so that they span several of the partner's days and stay
/// inside the tiers' window.
pub const HISTORY: u32 = 60;

/// Rows an update may read more with the longer history and still count as
/// level: a B-tree that grew a level, a group of the expiring points more.
pub const SLACK: u64 = 4;

/// Plays, on `env` (over an empty store, with
/// [`test_config`](crate::fakes::test_config)), a program with tiers, expiry
/// and an n-th-visit campaign at a partner; then the updates measured — the
/// customer's balance, history and card, the partner's scan of the card, a
/// credit, a redemption with the customer's confirmation, a reversal and
/// the partner's figures — once after [`REGULAR`] credits and once after
/// [`HISTORY`] more. `rows` reads the store's running count.
///
/// # Panics
/// When the conversation does not go as planned: the harness is broken, not the store.
pub async fn costs_as_history_grows(env: &TestEnv, rows: impl Fn() -> Rows) -> Vec<HistoryCost> {
    let play = Player::new(env);
    let customer = TgUser::new(5_101, "Chi");
    let partner = TgUser::new(6_101, "Bakery owner");
    let admin = TgUser::new(900, "Admin");
    let (client, shop, boss) = (BotKind::Client, BotKind::Partner, BotKind::Admin);

    play.say(client, &customer, "/start").await;
    let code = summary_of(env, &customer).await.customer.code;
    play.say(shop, &partner, "/start").await;
    play.say(shop, &partner, "/apply Banh Mi 1; bakery").await;
    let id = env
        .storage
        .partner(PartnerRef::Telegram(TelegramUserId(partner.id)))
        .await
        .expect("partner")
        .expect("the partner applied")
        .id;
    play.press(boss, &admin, &format!("pa:{id}")).await;
    play.say(
        boss,
        &admin,
        r#"/rules {"expiry": {"days": 365, "remind_days_before": 14}, "tiers": {"window_days": 365,
            "levels": [{"name": {"en": "Silver"}, "threshold": 10, "multiplier_bps": 15000}]}}"#,
    )
    .await;
    let (today, later) = (env.engine.now().utc_date(), env.engine.now().plus(365 * 86_400).utc_date());
    let campaign = format!(
        r#"/campaign {{"title": {{"en": "Fifth"}}, "kind": "nth_visit", "starts": "{today}", "ends": "{later}",
            "budget": 1000000, "points": 5, "n": 5}}"#
    );
    let made = play.say(boss, &admin, &campaign).await;
    assert!(first_text(&made).contains("#1"), "the campaign: {made:?}");

    let measure = |label: &'static str| {
        let (play, customer, partner, code) = (&play, &customer, &partner, &code);
        let mut costs = Costs { rows: &rows, costs: Vec::new() };
        async move {
            costs.of("client: /balance", play.say(client, customer, "/balance")).await;
            costs.of("client: /history", play.say(client, customer, "/history")).await;
            costs.of("client: /card", play.say(client, customer, "/card")).await;
            let card = costs.of("partner: a scanned card", play.say(shop, partner, &format!("/start c_{code}"))).await;
            let scanned = first_buttons(&card).iter().any(|b| b.starts_with("cr:"));
            assert!(scanned, "{label}: the scan shows the card: {card:?}");
            let credit = format!("/credit {code} 1000");
            let credited = costs.of("partner: /credit <code> 1000", play.say(shop, partner, &credit)).await;
            assert!(first_text(&credited).contains('+'), "{label}: the credit: {credited:?}");
            let redeem = format!("/redeem {code} 10 1000");
            let asked = costs.of("partner: /redeem <code> 10 1000", play.say(shop, partner, &redeem)).await;
            let confirm = asked.iter().flat_map(buttons).find(|b| b.starts_with("rc:"));
            let confirm = confirm.unwrap_or_else(|| panic!("{label}: a confirm button: {asked:?}"));
            costs.of("client: the redemption confirmed", play.press(client, customer, &confirm)).await;
            let reverse = format!("/reverse {}", newest_accrual(play.env, customer).await);
            let reversed = costs.of("partner: /reverse <entry>", play.say(shop, partner, &reverse)).await;
            assert!(first_text(&reversed).contains('↩'), "{label}: the reversal: {reversed:?}");
            costs.of("partner: /stats", play.say(shop, partner, "/stats")).await;
            costs.costs
        }
    };

    let visits = |count: u32| {
        let (play, partner, code) = (&play, &partner, &code);
        async move {
            for _ in 0..count {
                env.clock.advance(3_600);
                let credited = play.say(shop, partner, &format!("/credit {code} 1000")).await;
                assert!(first_text(&credited).contains('+'), "a credit of the history: {credited:?}");
            }
        }
    };
    visits(REGULAR).await;
    let before = measure("before").await;
    visits(HISTORY).await;
    let after = measure("after").await;
    before.into_iter().zip(after).map(|((update, before), (_, after))| HistoryCost { update, before, after }).collect()
}

/// An update known to walk a history, and the most rows it may read more per
/// credit added between the two measures.
#[derive(Debug, Clone, Copy)]
pub struct Growing<'a> {
    /// [`HistoryCost::update`].
    pub update: &'a str,
    /// Rows read per credit of [`HISTORY`], at most.
    pub per_visit: u64,
}

/// Panics, listing every update, unless each one read and wrote about as many
/// rows after the history grew as before it (at most [`SLACK`] rows more),
/// but for those in `growing`, which may read at most their
/// [`per_visit`](Growing::per_visit) more per credit added — a ceiling, so
/// that what still walks a history does not walk more of it unnoticed.
pub fn assert_level(costs: &[HistoryCost], growing: &[Growing<'_>]) {
    let table: Vec<String> = costs
        .iter()
        .map(|c| {
            format!(
                "read {:>4} → {:>4}, written {:>3} → {:>3}  {}",
                c.before.read, c.after.read, c.before.written, c.after.written, c.update
            )
        })
        .collect();
    let table = table.join("\n");
    assert!(costs.len() >= 9, "too few updates measured:\n{table}");
    assert!(costs.iter().all(|c| c.before.read > 0 && c.before.written > 0), "no rows counted:\n{table}");
    for g in growing {
        assert!(costs.iter().any(|c| c.update == g.update), "{} was not measured:\n{table}", g.update);
    }
    for c in costs {
        let allowed = growing.iter().find(|g| g.update == c.update).map_or(0, |g| g.per_visit * u64::from(HISTORY));
        assert!(
            c.after.read <= c.before.read + SLACK + allowed && c.after.written <= c.before.written + SLACK,
            "{}: more rows with {HISTORY} more credits in the customer's history than allowed \
             ({} more read allowed):\n{table}",
            c.update,
            SLACK + allowed
        );
    }
}

/// The rows each update measured read and wrote, by name.
struct Costs<'a, R> {
    rows: &'a R,
    costs: Vec<(String, Rows)>,
}

impl<R: Fn() -> Rows> Costs<'_, R> {
    /// Plays `update` (a future: nothing runs before it is awaited) and records its rows as `name`'s.
    async fn of(&mut self, name: &str, update: impl Future<Output = Vec<BotCall>>) -> Vec<BotCall> {
        let start = (self.rows)();
        let calls = update.await;
        self.costs.push((name.to_string(), (self.rows)().since(start)));
        calls
    }
}

async fn newest_accrual(env: &TestEnv, who: &TgUser) -> i64 {
    let id = customer_id(env, who).await;
    let entries = env.storage.customer_entries(EntriesPage { customer: id, limit: 20, before: None }).await;
    let entries = entries.expect("entries");
    // Newest first: the credit just made, never reversed yet.
    entries.iter().find(|e| e.kind == EntryKind::Accrual).expect("an accrual").id.0
}
