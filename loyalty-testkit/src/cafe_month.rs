//! A month of a café's program, played through the three bots with a stepped
//! clock: the admin sets rules (points expire after 30 days with a reminder
//! five days ahead, two tiers) and campaigns (double points in the morning,
//! a birthday bonus), the café proposes a first-purchase bonus the admin
//! approves, five customers come on their own rhythms, one pays with points,
//! a purchase is reversed, and every night the maintenance pass runs
//! (expiry, reminders, tiers) — 35 days in all.
//!
//! [`play`] checks what must hold along the way and returns a [`CafeMonth`]
//! report; the stores' tests play it on each backend (the model store,
//! SQLite, PostgreSQL, D1 inside workerd) and compare the reports: the same
//! month ends the same everywhere. It returns `Err` instead of panicking, for
//! hosts like workerd.

use crate::fakes::TestEnv;
use crate::inspect::buttons;
use loyalty_core::domain::{BotKind, EntryKind, Points, TelegramUserId, Timestamp};
use loyalty_core::ports::{Clock, CustomerRef, EntriesPage, ListCampaigns, PartnerRef};
use loyalty_core::telegram::BotCall;
use loyalty_core::telegram::build::{TgUser, callback, text};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};

const DAY: i64 = 86_400;
/// Days played.
pub const DAYS: i64 = 35;

/// How the month ended, comparable across stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CafeMonth {
    /// Each customer's balance and tier at the end, in sign-up order.
    pub customers: Vec<(Points, u8)>,
    /// Each campaign's status and points paid, in id order.
    pub campaigns: Vec<(String, Points)>,
    /// The outstanding liability (`program_stats`).
    pub outstanding: Points,
    /// Ledger entries per kind, over all customers.
    pub entries: Vec<(String, usize)>,
    /// Messages the maintenance passes sent customers (reminders, expiries, tier changes).
    pub nightly_messages: usize,
}

struct Play<'a> {
    env: &'a TestEnv,
    update: AtomicI64,
}

impl Play<'_> {
    async fn say(&self, bot: BotKind, who: &TgUser, words: &str) -> Result<Vec<BotCall>, String> {
        let update = text(self.update.fetch_add(1, Ordering::SeqCst), who, words);
        self.deliver(bot, &update, words).await
    }

    async fn press(&self, bot: BotKind, who: &TgUser, data: &str) -> Result<Vec<BotCall>, String> {
        let id = self.update.fetch_add(1, Ordering::SeqCst);
        self.deliver(bot, &callback(id, who, id, data), data).await
    }

    async fn deliver(
        &self,
        bot: BotKind,
        update: &loyalty_core::telegram::Update,
        what: &str,
    ) -> Result<Vec<BotCall>, String> {
        match self.env.engine.process_update(bot, update).await {
            Ok(Some(outbox)) => {
                // Finished with nothing in the outbox: the month reads the calls, it does not send them.
                let engine = &self.env.engine;
                engine.run_task(engine.finish_update(bot, update.update_id, Vec::new())).await;
                Ok(outbox.calls)
            }
            Ok(None) => Err(format!("{what}: dropped as a duplicate")),
            Err(e) => Err(format!("{what}: {e}")),
        }
    }

    /// The first text of `calls`, which must contain `wanted`.
    fn expect(calls: &[BotCall], what: &str, wanted: &str) -> Result<(), String> {
        let first = calls.first().and_then(BotCall::text).unwrap_or_default();
        if first.contains(wanted) { Ok(()) } else { Err(format!("{what}: {first:?} lacks {wanted:?}")) }
    }
}

/// Plays the month on `env` (a fresh store) and reports how it ended.
///
/// # Errors
/// What did not go as it must, in words.
pub async fn play(env: &TestEnv) -> Result<CafeMonth, String> {
    let p = Play { env, update: AtomicI64::new(1) };
    let (client, shop, boss) = (BotKind::Client, BotKind::Partner, BotKind::Admin);
    let admin = TgUser::new(900, "Admin");
    let owner = TgUser::new(7_001, "Sunrise owner");
    let people: Vec<TgUser> = ["An", "Binh", "Chi", "Dung", "Em"]
        .iter()
        .enumerate()
        .map(|(i, name)| TgUser::new(7_100 + i as i64, name))
        .collect();
    // Day 0 starts at 00:00 UTC (07:00 at UTC+7, the café's time).
    let day0 = env.clock.now().day_start().plus(DAY);
    let at = |day: i64, utc_secs: i64| Timestamp(day0.0 + day * DAY + utc_secs);
    env.clock.set(at(0, 1_800));

    let rules = r#"/rules {"expiry": {"days": 30, "remind_days_before": 5}, "tiers": {"window_days": 30, "grace_days": 3,
        "levels": [{"name": {"en": "Regular", "ru": "Постоянный", "vi": "Thân thiết"}, "threshold": 300, "multiplier_bps": 12000},
                   {"name": {"en": "VIP"}, "threshold": 900, "multiplier_bps": 15000, "perks": {"en": "A free cake"}}]}}"#;
    Play::expect(&p.say(boss, &admin, rules).await?, "the rules", "version 1")?;
    Play::expect(&p.say(shop, &owner, "/apply Sunrise Café; cafe").await?, "the application", "Sunrise Café")?;
    let cafe = env
        .storage
        .partner(PartnerRef::Telegram(TelegramUserId(owner.id)))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the café applied")?;
    p.say(boss, &admin, &format!("/approve {}", cafe.id)).await?;

    let mut codes = Vec::new();
    for (i, who) in people.iter().enumerate() {
        let start = if i == 1 { format!("/start ref_{}", codes[0]) } else { "/start".to_string() };
        p.say(client, who, &start).await?;
        let c = env
            .storage
            .customer_summary(CustomerRef::Telegram(TelegramUserId(who.id)), 0)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("a customer signed up")?;
        codes.push(c.customer.code.as_str().to_string());
    }

    let (first, last) = (at(0, 0).utc_date(), at(DAYS, 0).utc_date());
    let mornings = format!(
        r#"/campaign {{"title": {{"en": "Good morning"}}, "kind": "multiplier", "multiplier_bps": 20000, "hours": [8, 11],
            "utc_offset_minutes": 420, "starts": "{first}", "ends": "{last}", "cap_per_customer": 150, "budget": 400}}"#
    );
    Play::expect(&p.say(boss, &admin, &mornings).await?, "the mornings", "Campaign created")?;
    let welcome = format!(
        r#"/campaign {{"title": {{"en": "First coffee"}}, "kind": "first_purchase", "points": 50,
            "starts": "{first}", "ends": "{last}", "budget": 150}}"#
    );
    Play::expect(&p.say(shop, &owner, &welcome).await?, "the café's campaign", "for approval")?;
    Play::expect(&p.say(boss, &admin, "/campaign_approve 2").await?, "approval", "running")?;
    let birthdays = format!(
        r#"/campaign {{"title": {{"en": "Happy birthday"}}, "kind": "birthday", "points": 100, "window_days": 7,
            "utc_offset_minutes": 420, "starts": "{first}", "ends": "{last}", "budget": 1000}}"#
    );
    p.say(boss, &admin, &birthdays).await?;
    // Chi's birthday is the local date of day 3.
    let birthday = at(3, 0).utc_date();
    let (month, day) = (&birthday[5..7], &birthday[8..10]);
    Play::expect(&p.say(client, &people[2], &format!("/birthday {day}.{month}")).await?, "/birthday", "saved")?;
    env.telegram.take();

    let mut nightly_messages = 0;
    for d in 0..DAYS {
        // Who comes: An every other day, Binh every third, Chi every fifth, Dung on odd days of
        // the first ten, Em on day 0 only; the even ones at 09:00 local (the mornings campaign).
        for (i, who) in people.iter().enumerate() {
            let comes = match i {
                0 => d % 2 == 0,
                1 => d % 3 == 0,
                2 => d % 5 == 0,
                3 => d < 10 && d % 2 == 1,
                _ => d == 0,
            };
            if !comes {
                continue;
            }
            let utc = if i % 2 == 0 { 2 * 3_600 } else { 8 * 3_600 } + 60 * i as i64;
            env.clock.set(at(d, utc));
            let purchase = 800 + 150 * i as i64;
            let credited = p.say(shop, &owner, &format!("/credit {} {purchase}", codes[i])).await?;
            Play::expect(&credited, "a credit", "+")?;
            if d == 12 && i == 1 {
                // The cashier typed the wrong amount: reversed at once.
                let page = EntriesPage { customer: customer_id(env, who).await?, limit: 1, before: None };
                let entries = env.storage.customer_entries(page).await.map_err(|e| e.to_string())?;
                let accrual = entries.first().ok_or("Binh's purchase")?;
                p.say(shop, &owner, &format!("/reverse {}", accrual.id)).await?;
                let page = EntriesPage { customer: accrual.customer, limit: 1, before: None };
                let newest = env.storage.customer_entries(page).await.map_err(|e| e.to_string())?;
                if newest.first().map(|e| e.reverses) != Some(Some(accrual.id)) {
                    return Err(format!("Binh's purchase was reversed: {newest:?}"));
                }
            }
        }
        if d == 12 {
            // An pays 100 points towards a purchase of 1 000 and confirms.
            env.clock.set(at(d, 4 * 3_600));
            let asked = p.say(shop, &owner, &format!("/redeem {} 100 1000", codes[0])).await?;
            let confirm = asked.iter().flat_map(buttons).find(|b| b.starts_with("rc:")).ok_or("a confirm button")?;
            p.press(client, &people[0], &confirm).await?;
        }
        // The night: the maintenance pass at 01:00 UTC.
        env.telegram.take();
        env.clock.set(at(d + 1, 3_600));
        env.engine.maintenance_pass(0).await;
        let sent = env.telegram.take();
        nightly_messages += sent.iter().filter(|c| c.bot == client).count();
    }

    // What must hold, on any store.
    let list = ListCampaigns { partner: None, limit: 10 };
    let mut campaigns = env.storage.campaigns(list).await.map_err(|e| e.to_string())?;
    campaigns.reverse();
    for c in &campaigns {
        if c.issued > c.terms.budget {
            return Err(format!("campaign {} paid {} of a budget of {}", c.id, c.issued, c.terms.budget));
        }
    }
    if campaigns.get(1).map(|c| c.issued) != Some(150) {
        return Err(format!("the first coffee pays three of five customers: {campaigns:?}"));
    }
    let mut customers = Vec::new();
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    let mut sum = 0;
    for who in &people {
        let id = customer_id(env, who).await?;
        let summary = env
            .storage
            .customer_summary(CustomerRef::Id(id), 0)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("a customer")?;
        let mut before = None;
        loop {
            let page = EntriesPage { customer: id, limit: 100, before };
            let entries = env.storage.customer_entries(page).await.map_err(|e| e.to_string())?;
            for e in &entries {
                *kinds.entry(e.kind.as_str().to_string()).or_default() += 1;
            }
            before = entries.last().map(|e| e.id);
            if entries.len() < 100 {
                break;
            }
        }
        sum += summary.customer.balance;
        customers.push((summary.customer.balance, summary.customer.tier));
    }
    let stats = env.storage.program_stats(env.clock.now().day_start()).await.map_err(|e| e.to_string())?;
    if stats.points_outstanding != sum {
        return Err(format!("outstanding {} ≠ the balances' sum {sum}", stats.points_outstanding));
    }
    if !kinds.contains_key(EntryKind::Expiry.as_str()) || customers[4].0 != 0 {
        return Err(format!("Em's points expired after 30 days: {customers:?} {kinds:?}"));
    }
    if customers[0].1 == 0 {
        return Err(format!("An, the most regular, has a tier: {customers:?}"));
    }
    Ok(CafeMonth {
        customers,
        campaigns: campaigns.iter().map(|c| (format!("{:?}", c.status), c.issued)).collect(),
        outstanding: stats.points_outstanding,
        entries: kinds.into_iter().collect(),
        nightly_messages,
    })
}

async fn customer_id(env: &TestEnv, who: &TgUser) -> Result<loyalty_core::domain::CustomerId, String> {
    let found = env.storage.customer_summary(CustomerRef::Telegram(TelegramUserId(who.id)), 0).await;
    Ok(found.map_err(|e| e.to_string())?.ok_or("a customer")?.customer.id)
}
