//! Storage requests per update: every update the three bots serve — a
//! customer's, a partner's or an admin's — should cost exactly one request
//! to the store on its response path (the update's claim rides along with its
//! one call, [`Storage::fold_claim`](loyalty_core::ports::Storage::fold_claim)).
//!
//! [`CountingBackend`] counts the requests an [`RpcBackend`] makes;
//! [`requests_per_update`] plays one update of each kind through the engine
//! and reports what each cost.

use crate::fakes::TestEnv;
use crate::inspect::buttons;
use crate::play::{Player, customer_id, first_buttons, first_text, summary_of};
use async_trait::async_trait;
use loyalty_core::domain::{BotKind, EntryKind};
use loyalty_core::ports::{EntriesPage, PartnerRef, StoreResult, UpdateClaim};
use loyalty_core::stores::rpc::RpcBackend;
use loyalty_core::telegram::BotCall;
use loyalty_core::telegram::build::TgUser;
use serde_json::Value;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

/// An [`RpcBackend`] that counts the requests it passes on (a call, or a
/// call folded with an update's claim: one request each).
#[derive(Debug)]
pub struct CountingBackend<B> {
    inner: B,
    requests: AtomicU64,
}

impl<B> CountingBackend<B> {
    /// Counts the requests made to `inner`.
    pub fn new(inner: B) -> CountingBackend<B> {
        CountingBackend { inner, requests: AtomicU64::new(0) }
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<B: RpcBackend> RpcBackend for CountingBackend<B> {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.inner.call_function(function, request).await
    }

    async fn call_function_claimed(&self, claim: &UpdateClaim, func: &'static str, req: String) -> StoreResult<Value> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.inner.call_function_claimed(claim, func, req).await
    }
}

/// What one kind of update cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCost {
    /// The bot and what was sent, e.g. `partner: /credit <code> 500`.
    pub update: String,
    /// Requests made while the engine processed it (its response path).
    pub requests: u64,
    /// What it should cost: 1, or 2 for an application from someone who is a
    /// partner already (a second read finds where it stands, to say so).
    pub expected: u64,
}

/// Plays one update of every kind the bots serve through `env`'s engine — a
/// sign-up, the client's menu, a partner's application and its approval, a
/// card scan, credits, a redemption with the customer's answer, a reversal, the
/// figures, a key, the admin's commands — and returns what each cost, as
/// counted by `requests` (read before and after each update). Deferred work
/// (sent after the response) is not run.
///
/// `env` must use [`test_config`](crate::fakes::test_config) (its admin chat
/// and bonuses) over an empty store.
///
/// # Panics
/// When the conversation does not go as planned (an expected button or entry
/// is missing): the harness is broken, not the store.
pub async fn requests_per_update(env: &TestEnv, requests: impl Fn() -> u64) -> Vec<UpdateCost> {
    let driver = Driver { player: Player::new(env), requests: &requests, costs: Default::default() };
    let customer = TgUser::new(5_001, "Anna");
    let friend = TgUser::new(5_002, "Binh").lang("vi");
    let partner = TgUser::new(6_001, "Cafe owner");
    let admin = TgUser::new(900, "Admin");
    let (client, shop, boss) = (BotKind::Client, BotKind::Partner, BotKind::Admin);
    // An answer is checked to be the work done, not a refusal (which costs one request too).
    let expect = |calls: &[BotCall], what: &str, ok: &dyn Fn(&str, &[String]) -> bool| {
        let (text, buttons) = (first_text(calls), first_buttons(calls));
        assert!(ok(text, &buttons), "{what}: {text:?} {buttons:?}");
    };

    // Customers.
    driver.say(client, &customer, "/start").await;
    driver.say(client, &customer, "/start").await;
    let code = summary_of(env, &customer).await.customer.code;
    driver.say(client, &friend, &format!("/start {code}")).await;
    for command in ["/balance", "/history", "/card", "/partners", "/invite", "/lang", "/app", "/help", "hello"] {
        driver.say(client, &customer, command).await;
    }
    driver.press(client, &customer, "lang:ru").await;
    driver.say(client, &customer, "/ask How do I earn points?").await;

    // Someone who is not a partner, then a partner who applies and is approved.
    let stranger = TgUser::new(6_002, "Passer-by");
    driver.say(shop, &stranger, "/credit").await;
    driver.say(shop, &partner, "/start").await;
    driver.say(shop, &partner, "/credit").await;
    driver.say(shop, &partner, "/apply Pho 24; cafe").await;
    driver.say(shop, &partner, "/stats").await;
    let waiting = driver.say(shop, &partner, "/apikey").await;
    expect(&waiting, "a partner waiting for approval is told so", &|t, _| t.starts_with('⏳'));
    driver.say(shop, &partner, &format!("/credit {code} 100")).await;
    driver.say(boss, &admin, "/pending").await;
    let id = env
        .storage
        .partner(PartnerRef::Telegram(loyalty_core::domain::TelegramUserId(partner.id)))
        .await
        .expect("partner")
        .expect("the partner applied")
        .id;
    driver.press(boss, &admin, &format!("pa:{id}")).await;

    // The partner at work.
    driver.say(shop, &partner, "/start").await;
    let card = driver.say(shop, &partner, &format!("/start c_{code}")).await;
    expect(&card, "a scan shows the card", &|_, b| b.iter().any(|b| b.starts_with("cr:")));
    let card = driver.say(shop, &partner, code.as_str()).await;
    expect(&card, "a typed code shows the card", &|_, b| b.iter().any(|b| b.starts_with("rq:")));
    let prompt = driver.press(shop, &partner, &format!("cr:{code}")).await;
    let asked = prompt.iter().any(|c| c.text().is_some_and(|t| t.starts_with("💳")));
    assert!(asked, "the credit button asks for the amount: {prompt:?}");
    let credited = driver.answer(shop, &partner, &format!("💳 {code} — ?"), "1000").await;
    expect(&credited, "the amount credits", &|t, _| t.contains('+'));
    let credited = driver.say(shop, &partner, &format!("/credit {code} 500")).await;
    expect(&credited, "/credit credits", &|t, _| t.contains('+'));
    driver.say(shop, &partner, "/credit").await;
    driver.refused(shop, &partner, "/apply Pho 25; bar").await;
    let asked = driver.say(shop, &partner, &format!("/redeem {code} 10 1000")).await;
    let confirm = asked.iter().flat_map(buttons).find(|b| b.starts_with("rc:")).expect("a confirm button");
    driver.press(client, &customer, &confirm).await;
    let asked = driver.say(shop, &partner, &format!("/redeem {code} 10 1000")).await;
    let decline = asked.iter().flat_map(buttons).find(|b| b.starts_with("rd:")).expect("a decline button");
    driver.press(client, &customer, &decline).await;
    let page = EntriesPage { customer: customer_id(env, &customer).await, limit: 20, before: None };
    let entries = env.storage.customer_entries(page).await.expect("entries");
    let accrual = entries.iter().find(|e| e.kind == EntryKind::Accrual).expect("an accrual");
    driver.say(shop, &partner, &format!("/reverse {}", accrual.id)).await;
    let stats = driver.say(shop, &partner, "/stats").await;
    let status = driver.say(shop, &stranger, "/stats").await;
    let differs = stats.first().and_then(|c| c.text()) != status.first().and_then(|c| c.text());
    assert!(differs, "an approved partner sees figures, not a status: {stats:?}");
    let key = driver.say(shop, &partner, "/apikey").await;
    expect(&key, "/apikey shows a key", &|t, _| t.contains("lk_"));
    driver.say(shop, &partner, "/help").await;
    driver.say(shop, &partner, "hello").await;

    // The admin.
    for command in [
        "/stats".to_string(),
        "/partners".to_string(),
        format!("/adjust {code} 25 goodwill"),
        format!("/block {code}"),
        format!("/unblock {code}"),
        "/broadcast customers Hello".to_string(),
        "/help".to_string(),
        "/rules".to_string(),
        r#"/rules {"expiry": {"days": 365, "remind_days_before": 14}, "tiers": {"window_days": 365,
            "levels": [{"name": {"en": "Silver"}, "threshold": 10, "multiplier_bps": 15000}]}}"#
            .to_string(),
    ] {
        driver.say(boss, &admin, &command).await;
    }

    // Under those rules: credits that reach a tier and are multiplied by it, and the balance with the tier.
    let credited = driver.say(shop, &partner, &format!("/credit {code} 1000")).await;
    expect(&credited, "a credit under the rules", &|t, _| t.contains('+'));
    let credited = driver.say(shop, &partner, &format!("/credit {code} 1000")).await;
    expect(&credited, "a credit multiplied by the tier", &|t, _| t.contains("× 1.5 Silver"));
    let balance = driver.say(client, &customer, "/balance").await;
    expect(&balance, "/balance names the tier", &|t, _| t.contains("Silver"));

    // Campaigns: the admin's, a partner's proposal and its approval, a credit they pay on, the lists, a birthday.
    let (today, later) = (env.engine.now().utc_date(), env.engine.now().plus(30 * 86_400).utc_date());
    let campaign = |kind: &str| {
        format!(
            r#"/campaign {{"title": {{"en": "Week"}}, "kind": "{kind}", "starts": "{today}", "ends": "{later}", "budget": 500,
                {}}}"#,
            if kind == "multiplier" { r#""multiplier_bps": 20000"# } else { r#""points": 5, "n": 2"# }
        )
    };
    let made = driver.say(boss, &admin, &campaign("multiplier")).await;
    expect(&made, "the admin's /campaign", &|t, _| t.contains("#1 Week"));
    let proposed = driver.say(shop, &partner, &campaign("nth_visit")).await;
    expect(&proposed, "a partner's /campaign", &|t, _| t.contains("#2 Week"));
    driver.say(boss, &admin, "/campaign_approve 2").await;
    let credited = driver.say(shop, &partner, &format!("/credit {code} 1000")).await;
    expect(&credited, "a credit the campaigns pay on", &|t, _| t.contains("× 2 Week"));
    driver.say(shop, &partner, "/campaigns").await;
    driver.say(boss, &admin, "/campaigns").await;
    driver.say(client, &customer, "/birthday 17.05").await;
    driver.costs.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Panics, listing every update, unless each cost what it should
/// ([`UpdateCost::expected`]: one request, but for a partner's second
/// application).
pub fn assert_one_request_each(costs: &[UpdateCost]) {
    let table: Vec<String> =
        costs.iter().map(|c| format!("{:>2} (expected {})  {}", c.requests, c.expected, c.update)).collect();
    assert!(costs.len() > 30, "too few updates played:\n{}", table.join("\n"));
    assert!(costs.iter().filter(|c| c.expected == 1).count() > 30, "too few one-request updates");
    assert!(costs.iter().all(|c| c.requests == c.expected), "requests per update:\n{}", table.join("\n"));
}

struct Driver<'a, F> {
    player: Player<'a>,
    requests: &'a F,
    costs: std::sync::Mutex<Vec<UpdateCost>>,
}

impl<F: Fn() -> u64> Driver<'_, F> {
    async fn say(&self, bot: BotKind, who: &TgUser, words: &str) -> Vec<BotCall> {
        self.counted(bot, words.to_string(), self.player.say(bot, who, words)).await
    }

    /// An application the store refuses because the person is a partner
    /// already: a second read says where it stands.
    async fn refused(&self, bot: BotKind, who: &TgUser, words: &str) {
        self.say(bot, who, words).await;
        if let Some(last) = self.costs.lock().unwrap_or_else(|e| e.into_inner()).last_mut() {
            last.expected = 2;
            last.update.push_str(" (refused: a partner already)");
        }
    }

    async fn answer(&self, bot: BotKind, who: &TgUser, prompt: &str, words: &str) -> Vec<BotCall> {
        self.counted(bot, format!("{words} (answering {prompt})"), self.player.reply(bot, who, prompt, words)).await
    }

    async fn press(&self, bot: BotKind, who: &TgUser, data: &str) -> Vec<BotCall> {
        self.counted(bot, format!("button {data}"), self.player.press(bot, who, data)).await
    }

    /// Plays `update` and records the requests it made.
    async fn counted(&self, bot: BotKind, what: String, update: impl Future<Output = Vec<BotCall>>) -> Vec<BotCall> {
        let before = (self.requests)();
        let calls = update.await;
        let requests = (self.requests)() - before;
        let name = format!("{}: {what}", format!("{bot:?}").to_lowercase());
        self.costs.lock().unwrap_or_else(|e| e.into_inner()).push(UpdateCost { update: name, requests, expected: 1 });
        calls
    }
}
