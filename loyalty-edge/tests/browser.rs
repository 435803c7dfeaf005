//! The Mini App in a real browser against the api Worker: the four Workers of
//! `examples/edge` in Miniflare (workerd with Cloudflare's local bindings, one
//! D1 database), the api Worker serving the page from its `[assets]` under
//! `/app/`, the fake Bot API of `loyalty-native` as Telegram, and headless
//! Chromium driven through `loyalty-app/e2e/driver.cjs` with `Telegram.WebApp`
//! stubbed and `initData` signed with the client bot's token. The same core
//! scenario as `loyalty-native/tests/mini_app_browser.rs`: the page renders,
//! its balance is the API's, a redemption requested in the partner bot is
//! confirmed in the page and the partner's chat hears of it.
//!
//! Needs the built Workers, `NODE_BIN` and `LOYALTY_EDGE_NODE_DIR` (from
//! `scripts/edge-tools.sh env`), and `CHROMIUM_BIN` and `LOYALTY_E2E_DIR`
//! (from `scripts/browser.sh env`); `scripts/test.sh` provides them all.

#[path = "../../loyalty-app/e2e/driver.rs"]
mod driver;

use driver::{Browser, Open};
use loyalty_core::Config;
use loyalty_core::api::init_data::sign_init_data;
use loyalty_core::domain::BotKind;
use loyalty_core::telegram::build::{TgUser, buttons_in, callback, forces_reply_in, reply, text_json};
use loyalty_core::webhook::webhook_secret;
use loyalty_native::fake_bot_api::{FakeBotApi, RecordedCall};
use loyalty_native::simulate;
use loyalty_testkit::services::workerd::{WORKERS, Workerd, repo_root};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The admin chat of `simulate::variables`.
const ADMIN_CHAT: i64 = 900;

/// How long the Workers' work after a webhook answer may take in all.
const SETTLE: Duration = Duration::from_secs(30);

fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}
fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}
fn admin() -> TgUser {
    TgUser::new(ADMIN_CHAT, "Admin")
}

/// The Workers in Miniflare with the fake Bot API, its webhooks set to them.
struct Edge {
    fake: FakeBotApi,
    workerd: Workerd,
    config: Config,
    http: reqwest::Client,
    next_update: AtomicI64,
}

impl Edge {
    async fn start() -> Edge {
        let fake = FakeBotApi::start().await;
        let vars = simulate::variables(&fake.url());
        let workers: Vec<(&'static str, std::path::PathBuf)> =
            WORKERS.iter().map(|name| (*name, repo_root().join("examples/edge").join(name).join("build"))).collect();
        let workerd = Workerd::start_with_d1(&workers, &vars).await;
        let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
        let edge = Edge { fake, workerd, config, http: reqwest::Client::new(), next_update: AtomicI64::new(1) };
        for (bot, worker) in [
            (BotKind::Client, "client-webhook"),
            (BotKind::Partner, "partner-webhook"),
            (BotKind::Admin, "admin-webhook"),
        ] {
            let url = format!("{}/webhook/{}", edge.workerd.url(worker), bot.as_str());
            let secret = webhook_secret(&edge.config, bot).unwrap().expose().to_string();
            let set = edge
                .http
                .post(format!("{}/bot{}/setWebhook", edge.fake.url(), edge.token(bot)))
                .json(&json!({ "url": url, "secret_token": secret }))
                .send()
                .await
                .unwrap();
            assert!(set.status().is_success(), "setWebhook for {}", bot.as_str());
        }
        edge
    }

    fn token(&self, bot: BotKind) -> String {
        self.config.token(bot).unwrap().expose().to_string()
    }

    /// Waits until the fake Bot API has heard nothing for 400 ms (the
    /// Workers' work after their answer, through `waitUntil`).
    async fn quiet(&self) {
        let started = Instant::now();
        let mut seen = self.fake.calls().len();
        loop {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let now = self.fake.calls().len();
            if now == seen || started.elapsed() > SETTLE {
                return;
            }
            seen = now;
        }
    }

    /// Delivers `update` to `bot`'s Worker through the fake Bot API; the calls the bots made meanwhile.
    async fn deliver(&self, bot: BotKind, mut update: Value) -> Vec<RecordedCall> {
        update["update_id"] = json!(self.next_update.fetch_add(1, Ordering::SeqCst));
        let before = self.fake.calls().len();
        let token = self.token(bot);
        self.fake.push_update(&token, update);
        let deliveries = self.fake.deliver_webhook(&token).await;
        assert!(
            deliveries.iter().all(|d| d.status == Some(200)),
            "the Worker took the update: {deliveries:?}\n{}",
            self.workerd.log()
        );
        self.quiet().await;
        self.fake.calls()[before..].iter().filter(|c| c.method != "getMe").cloned().collect()
    }

    async fn say(&self, bot: BotKind, who: &TgUser, text: &str) -> Vec<RecordedCall> {
        self.deliver(bot, text_json(0, who, text)).await
    }

    /// Fresh `initData` of `who` opening the app from `bot`.
    fn init_data(&self, bot: BotKind, who: &TgUser) -> String {
        let user = json!({"id": who.id, "first_name": who.first_name, "language_code": "en"}).to_string();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() - 5;
        sign_init_data(&[("user", &user), ("auth_date", &now.to_string())], &self.token(bot))
    }

    async fn me(&self, who: &TgUser) -> Value {
        let res = self
            .http
            .get(format!("{}/api/v1/me", self.workerd.url("api")))
            .header("authorization", format!("tma {}", self.init_data(BotKind::Client, who)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "GET /me");
        res.json().await.unwrap()
    }
}

fn button(calls: &[RecordedCall], chat: i64, prefix: &str) -> Option<String> {
    calls
        .iter()
        .filter(|c| c.chat_id() == Some(chat))
        .find_map(|c| buttons_in(&c.params).into_iter().find(|d| d.starts_with(prefix)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Miniflare (workerd), the built Workers, Chromium and Node (scripts/test.sh runs it)"]
async fn the_api_worker_serves_the_mini_app_and_a_redemption_is_confirmed_in_it() {
    let edge = Edge::start().await;
    // Anna joins; Linh's café is approved; Anna buys something there.
    edge.say(BotKind::Client, &anna(), "/start").await;
    let asked = edge.say(BotKind::Partner, &linh(), "/start").await;
    let prompt = asked
        .iter()
        .find(|c| c.chat_id() == Some(linh().id) && forces_reply_in(&c.params))
        .and_then(|c| c.text().map(str::to_string))
        .expect("the partner bot asks Linh to apply");
    edge.deliver(BotKind::Partner, serde_json::to_value(reply(0, &linh(), &prompt, "Café Linh; cafe")).unwrap()).await;
    let pending = edge.say(BotKind::Admin, &admin(), "/pending").await;
    let approve = button(&pending, ADMIN_CHAT, "pa:").expect("the admin bot offers to approve Linh");
    edge.deliver(BotKind::Admin, serde_json::to_value(callback(0, &admin(), 77, &approve)).unwrap()).await;
    let code = edge.me(&anna()).await["code"].as_str().unwrap().to_string();
    edge.say(BotKind::Partner, &linh(), &format!("/credit {code} 240000")).await;

    // The page, from the api Worker's static assets, shows the API's balance.
    let browser = Browser::start().await;
    let page = Open::new(format!("{}/app/", edge.workerd.url("api")), edge.init_data(BotKind::Client, &anna()));
    assert_eq!(browser.open(&page).await, 200, "the api Worker serves /app/");
    browser.wait_for("screen-card").await;
    browser.wait_for("balance").await;
    browser.wait_for("card-qr").await;
    let before = edge.me(&anna()).await["balance"].as_i64().unwrap();
    assert_eq!(browser.text("balance").await, before.to_string(), "the balance is GET /me's");

    // Linh asks for 100 points in the partner bot; Anna confirms in the page.
    let requested = edge.say(BotKind::Partner, &linh(), &format!("/redeem {code} 100 50000")).await;
    let id = button(&requested, anna().id, "rc:").expect("Anna is asked in her chat too");
    let id = id.split(':').nth(1).unwrap().to_string();
    browser.must("waitFor", json!({"testid": "redemption-pending", "timeout": 40_000})).await;
    assert_eq!(browser.attr("redemption-pending", "data-redemption-id").await.as_deref(), Some(id.as_str()));
    let partner_token = edge.token(BotKind::Partner);
    let paid = |calls: &[RecordedCall]| {
        calls
            .iter()
            .filter(|c| c.token == partner_token && c.chat_id() == Some(linh().id))
            .filter(|c| c.text().is_some_and(|t| t.contains(&format!("#{id}")) && t.contains("paid")))
            .count()
    };
    assert_eq!(paid(&edge.fake.calls()), 0, "nothing paid before the tap");
    browser.click("redemption-confirm").await;
    browser.wait_for("redemption-done").await;
    let told = edge.fake.wait_for(SETTLE, |calls| paid(calls) > 0).await;
    assert!(told, "the partner's chat shows the confirmation\n{}", edge.workerd.log());
    let after = edge.me(&anna()).await["balance"].as_i64().unwrap();
    assert_eq!(after, before - 100, "100 points were paid");
    browser.wait_for_text("balance", &after.to_string()).await;
    let state = browser.state().await;
    assert_eq!(state["pageErrors"], json!([]), "no script error in the page: {state:#}");
    assert_eq!(state["refused"], json!([]), "the page asks nothing of other hosts: {state:#}");
    assert_eq!(
        state["cspViolations"],
        json!([]),
        "the Content-Security-Policy blocks nothing the page does: {state:#}"
    );
}
