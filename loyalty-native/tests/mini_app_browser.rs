//! The Mini App in a real browser: headless Chromium (Debian's, driven by
//! playwright-core through `loyalty-app/e2e/driver.cjs`) opens the page that
//! `loyalty serve`'s router serves under `/app/`, on loopback, with the fake
//! Telegram Bot API, a SQLite store, and `Telegram.WebApp` stubbed with
//! `initData` signed here with the test bots' tokens, as Telegram signs it.
//! The program is made through the bots, as people would: a customer, an
//! approved partner with a reward, purchases over three weeks.
//!
//! Needs `CHROMIUM_BIN` and `LOYALTY_E2E_DIR` (`eval "$(scripts/browser.sh env)"`);
//! `scripts/test.sh` provides them. `scripts/screenshots.sh` runs
//! [`screenshots_of_every_screen`] into `docs/screenshots/`, `scripts/app-load.sh`
//! runs [`first_load`] with more runs and writes the figures.

#![cfg(feature = "sqlite")]

#[path = "../../loyalty-app/e2e/driver.rs"]
mod driver;

mod common;

use async_trait::async_trait;
use common::Scratch;
use driver::{Browser, Open};
use loyalty_core::api::init_data::sign_init_data;
use loyalty_core::domain::{BotKind, TelegramUserId, Timestamp};
use loyalty_core::ports::{Clock, CustomerRef};
use loyalty_core::telegram::build::{buttons_in, callback, forces_reply_in, reply, text_json};
use loyalty_core::webhook::webhook_secret;
use loyalty_core::{Config, Engine};
use loyalty_native::fake_bot_api::{FakeBotApi, RecordedCall};
use loyalty_native::server::{App, serve};
use loyalty_native::simulate;
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_native::telegram::HttpTelegram;
use loyalty_testkit::{SeqRandom, TEST_START, TgUser};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The admin chat of `simulate::variables`.
const ADMIN_CHAT: i64 = 900;

/// How long one update's deferred work may take.
const SETTLE: Duration = Duration::from_secs(30);

/// A clock that stands still (time moves only when the test moves it) but
/// sleeps for real: a long poll waits as long as it says, the rotating card
/// code and the figures are the same on every run, and the page's clock
/// (fixed at the same instant) agrees with the server's.
#[derive(Debug)]
struct StillClock(AtomicI64);

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Clock for StillClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
    async fn sleep(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

/// The people of the scenarios.
fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}
fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}
fn admin() -> TgUser {
    TgUser::new(ADMIN_CHAT, "Admin")
}

/// `loyalty serve`'s router on loopback with the fake Bot API (webhooks set
/// on it, so updates arrive as Telegram delivers them) and a SQLite store.
struct Rig {
    fake: FakeBotApi,
    base: String,
    app: App,
    engine: Engine,
    clock: Arc<StillClock>,
    http: reqwest::Client,
    next_update: AtomicI64,
    _db: Scratch,
    _stop: oneshot::Sender<()>,
}

impl Rig {
    async fn start() -> Rig {
        let fake = FakeBotApi::start().await;
        let vars = simulate::variables(&fake.url());
        let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
        let telegram = HttpTelegram::new(&config).unwrap().with_rate_limits(None);
        let db = Scratch::new("mini-app-browser");
        let store = SqliteStore::open(db.db()).unwrap();
        let mut ports = loyalty_native::runtime::ports(&config, Arc::new(store), Arc::new(telegram)).unwrap();
        let clock = Arc::new(StillClock(AtomicI64::new(TEST_START.0)));
        ports.clock = clock.clone();
        // The same card codes on every run (the screenshots show them).
        ports.random = Arc::new(SeqRandom::new(7));
        let engine = Engine::new(config, ports);
        let app = App::new(engine.clone()).with_maintenance_interval(None);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app.clone(), async move {
            let _ = stopped.await;
        }));
        let rig = Rig {
            fake,
            base,
            app,
            engine,
            clock,
            http: reqwest::Client::new(),
            next_update: AtomicI64::new(1),
            _db: db,
            _stop: stop,
        };
        for bot in BotKind::WEBHOOK_BOTS {
            let secret = webhook_secret(rig.engine.config(), bot).unwrap().expose().to_string();
            let url = format!("{}/webhook/{}", rig.base, bot.as_str());
            let set = rig
                .http
                .post(format!("{}/bot{}/setWebhook", rig.fake.url(), rig.token(bot)))
                .json(&json!({ "url": url, "secret_token": secret }))
                .send()
                .await
                .unwrap();
            assert!(set.status().is_success(), "setWebhook for {}", bot.as_str());
        }
        rig
    }

    fn token(&self, bot: BotKind) -> String {
        self.engine.config().token(bot).unwrap().expose().to_string()
    }

    fn now(&self) -> i64 {
        self.clock.now().0
    }

    fn set_time(&self, secs: i64) {
        self.clock.0.store(secs, Ordering::SeqCst);
    }

    /// Delivers `update` to `bot` through the fake Bot API's webhook, waits
    /// for its deferred work; the calls the bots made meanwhile.
    async fn deliver(&self, bot: BotKind, mut update: Value) -> Vec<RecordedCall> {
        update["update_id"] = json!(self.next_update.fetch_add(1, Ordering::SeqCst));
        let before = self.fake.calls().len();
        let token = self.token(bot);
        self.fake.push_update(&token, update);
        let deliveries = self.fake.deliver_webhook(&token).await;
        assert!(deliveries.iter().all(|d| d.status == Some(200)), "the webhook took the update: {deliveries:?}");
        assert!(self.app.tasks().wait_idle(SETTLE).await, "the update's deferred work finished");
        self.fake.calls()[before..].iter().filter(|c| c.method != "getMe").cloned().collect()
    }

    async fn say(&self, bot: BotKind, who: &TgUser, text: &str) -> Vec<RecordedCall> {
        self.deliver(bot, text_json(0, who, text)).await
    }

    async fn answer(&self, bot: BotKind, who: &TgUser, prompt: &str, text: &str) -> Vec<RecordedCall> {
        self.deliver(bot, serde_json::to_value(reply(0, who, prompt, text)).unwrap()).await
    }

    async fn press(&self, bot: BotKind, who: &TgUser, data: &str) -> Vec<RecordedCall> {
        self.deliver(bot, serde_json::to_value(callback(0, who, 77, data)).unwrap()).await
    }

    /// `initData` as Telegram hands it to a Mini App opened from `bot` by
    /// `user` at `auth_date`, signed with `token`.
    fn init_data_signed(&self, token: &str, user: &TgUser, auth_date: i64) -> String {
        let user = json!({
            "id": user.id,
            "first_name": user.first_name,
            "language_code": user.language_code.clone().unwrap_or_else(|| "en".into()),
            "allows_write_to_pm": true,
        })
        .to_string();
        let auth_date = auth_date.to_string();
        let query_id = format!("AAE{}q", user.len());
        sign_init_data(&[("query_id", &query_id), ("user", &user), ("auth_date", &auth_date)], token)
    }

    /// Fresh `initData` of `user` opening the app from `bot`.
    fn init_data(&self, bot: BotKind, user: &TgUser) -> String {
        self.init_data_signed(&self.token(bot), user, self.now() - 5)
    }

    /// The page's URL in `mode` (`None`: the customer's).
    fn page(&self, mode: Option<&str>) -> String {
        match mode {
            Some(mode) => format!("{}/app/?mode={mode}", self.base),
            None => format!("{}/app/", self.base),
        }
    }

    /// `GET` an API path with `initData`: status and JSON.
    async fn api(&self, path: &str, init_data: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}/api/v1{path}", self.base))
            .header("authorization", format!("tma {init_data}"))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `PUT` an API path with `initData` and a fresh `Idempotency-Key`: status and JSON.
    async fn api_put(&self, path: &str, init_data: &str, body: Value) -> (u16, Value) {
        let key = format!("test-{}", self.next_update.fetch_add(1, Ordering::SeqCst));
        let res = self
            .http
            .put(format!("{}/api/v1{path}", self.base))
            .header("authorization", format!("tma {init_data}"))
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Anna's balance as the API tells her.
    async fn balance(&self, who: &TgUser) -> i64 {
        let (status, me) = self.api("/me", &self.init_data(BotKind::Client, who)).await;
        assert_eq!(status, 200, "GET /me: {me}");
        me["balance"].as_i64().unwrap()
    }

    /// The customer's printed card code.
    async fn card_code(&self, who: &TgUser) -> String {
        let who = CustomerRef::Telegram(TelegramUserId(who.id));
        self.engine.storage().customer_summary(who, 0).await.unwrap().unwrap().customer.code.to_string()
    }

    /// The program the scenarios play in: Anna (customer), Linh's café
    /// (approved, with an approved reward), and five purchases of Anna's
    /// over three weeks, one of them today. Ends at [`TEST_START`].
    async fn seed(&self) -> String {
        let day = 86_400;
        self.set_time(TEST_START.0 - 21 * day);
        self.say(BotKind::Client, &anna(), "/start").await;
        let code = self.card_code(&anna()).await;

        let asked = self.say(BotKind::Partner, &linh(), "/start").await;
        let prompt = asked
            .iter()
            .find(|c| c.chat_id() == Some(linh().id) && forces_reply_in(&c.params))
            .and_then(|c| c.text().map(str::to_string))
            .expect("the partner bot asks Linh to apply");
        self.answer(BotKind::Partner, &linh(), &prompt, "Café Linh; cafe").await;
        let pending = self.say(BotKind::Admin, &admin(), "/pending").await;
        let approve = button(&pending, ADMIN_CHAT, "pa:").expect("the admin bot offers to approve Linh");
        self.press(BotKind::Admin, &admin(), &approve).await;
        self.say(
            BotKind::Partner,
            &linh(),
            "/reward 50 stock=10 category=drinks\nIced coffee | Any size\nru: Холодный кофе",
        )
        .await;
        self.say(BotKind::Admin, &admin(), "/reward_approve 1").await;

        for (days_ago, purchase) in [(20, 120_000), (14, 56_000), (9, 90_000), (4, 34_000), (0, 48_000)] {
            self.set_time(TEST_START.0 - days_ago * day);
            let credited = self.say(BotKind::Partner, &linh(), &format!("/credit {code} {purchase}")).await;
            assert!(!texts_to(&credited, anna().id).is_empty(), "Anna hears of her purchase of {purchase}");
        }
        self.set_time(TEST_START.0);
        code
    }
}

/// The callback data of the first button starting with `prefix` sent to `chat`.
fn button(calls: &[RecordedCall], chat: i64, prefix: &str) -> Option<String> {
    calls
        .iter()
        .filter(|c| c.chat_id() == Some(chat))
        .find_map(|c| buttons_in(&c.params).into_iter().find(|d| d.starts_with(prefix)))
}

/// The texts sent to `chat`.
fn texts_to(calls: &[RecordedCall], chat: i64) -> Vec<String> {
    calls.iter().filter(|c| c.chat_id() == Some(chat)).filter_map(|c| c.text().map(str::to_string)).collect()
}

/// The digits of `s` (the page may group thousands).
fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Opens the customer's page as `who` and waits for the card with its balance.
async fn open_card(rig: &Rig, browser: &Browser, who: &TgUser, theme: &'static str) {
    let page = Open::new(rig.page(None), rig.init_data(BotKind::Client, who)).theme(theme).at(rig.now());
    assert_eq!(browser.open(&page).await, 200, "the page is served");
    browser.wait_for("screen-card").await;
    browser.wait_for("balance").await;
}

/// No script error, nothing asked of another host.
async fn assert_clean(browser: &Browser) {
    let state = browser.state().await;
    assert_eq!(state["pageErrors"], json!([]), "no script error in the page: {state:#}");
    assert_eq!(state["refused"], json!([]), "the page asks nothing of other hosts: {state:#}");
    assert_eq!(
        state["cspViolations"],
        json!([]),
        "the Content-Security-Policy blocks nothing the page does: {state:#}"
    );
}

async fn setup() -> (Rig, String, Browser) {
    let rig = Rig::start().await;
    let code = rig.seed().await;
    let browser = Browser::start().await;
    (rig, code, browser)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn every_customer_screen_renders_the_apis_figures() {
    let (rig, code, browser) = setup().await;
    // More entries than the history's first page holds (the page asks for 20): it has to scroll for the rest.
    for purchase in 0..20 {
        rig.say(BotKind::Partner, &linh(), &format!("/credit {code} {}", 10_000 + purchase * 1_000)).await;
    }
    let who = anna();
    let init = rig.init_data(BotKind::Client, &who);
    open_card(&rig, &browser, &who, "light").await;

    // The card: the balance is the API's, the code on screen is the rotating code of now, the QR is drawn.
    let (_, me) = rig.api("/me", &init).await;
    assert_eq!(browser.text("balance").await, me["balance"].to_string(), "the balance is GET /me's");
    let (_, card) = rig.api("/me/card-code", &init).await;
    browser.wait_for("card-code").await;
    assert_eq!(browser.text("card-code").await, card["code"].as_str().unwrap(), "the card shows the rotating code");
    assert_eq!(browser.eval("document.querySelectorAll('[data-testid=card-qr] svg').length").await, json!(1));
    browser.wait_for("tier").await;
    let calls = browser.telegram_calls().await;
    assert!(calls.iter().any(|c| c == "ready") && calls.iter().any(|c| c == "expand"), "ready and expand: {calls:?}");

    // History: every entry of the API's, scrolling down for more.
    let mut total = 0;
    let mut before = String::new();
    loop {
        let (status, page) = rig.api(&format!("/me/transactions?limit=100{before}"), &init).await;
        assert_eq!(status, 200);
        total += page["entries"].as_array().unwrap().len();
        match page["next_before"].as_i64() {
            Some(next) => before = format!("&before={next}"),
            None => break,
        }
    }
    browser.click("nav-history").await;
    browser.wait_for("screen-history").await;
    browser.wait_for("history-item").await;
    let mut shown = 0;
    for _ in 0..20 {
        shown = browser.count("history-item").await;
        if shown as usize >= total {
            break;
        }
        browser
            .eval("(() => { const i = document.querySelectorAll('[data-testid=history-item]'); i[i.length - 1].scrollIntoView(); })()")
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(total > 20, "more than a page of entries: {total}");
    assert_eq!(shown as usize, total, "the history lists every entry of the API's");

    // Partners and their rewards.
    let (_, partners) = rig.api("/partners", &init).await;
    browser.click("nav-partners").await;
    browser.wait_for("screen-partners").await;
    browser.wait_for("partner-item").await;
    assert_eq!(browser.count("partner-item").await as usize, partners["partners"].as_array().unwrap().len());
    browser.wait_for("reward-item").await;
    assert!(browser.text("screen-partners").await.contains("Iced coffee"), "the approved reward is listed");

    // Settings: the language switches the wording; the birthday is saved.
    browser.click("nav-settings").await;
    browser.wait_for("screen-settings").await;
    let english = browser.text("screen-settings").await;
    browser.set("settings-language", "ru").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let russian = browser.text("screen-settings").await;
    assert_ne!(english, russian, "choosing Russian changes the page's wording");
    browser.set("settings-birthday-day", "14").await;
    browser.set("settings-birthday-month", "3").await;
    browser.click("settings-save").await;
    let mut saved = None;
    for _ in 0..50 {
        let data = rig.engine.storage().personal_data(CustomerRef::Telegram(TelegramUserId(who.id))).await.unwrap();
        saved = data.and_then(|d| d.birthday).map(|b| (b.day, b.month));
        if saved.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(saved, Some((14, 3)), "the birthday is stored");
    assert_clean(&browser).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn a_redemption_requested_in_the_partner_bot_is_confirmed_in_the_page() {
    let (rig, code, browser) = setup().await;
    let who = anna();
    open_card(&rig, &browser, &who, "light").await;
    let before = rig.balance(&who).await;
    assert_eq!(browser.text("balance").await, before.to_string());

    let requested = rig.say(BotKind::Partner, &linh(), &format!("/redeem {code} 100 50000")).await;
    let confirm = button(&requested, who.id, "rc:").expect("Anna is asked in her chat too");
    let id = confirm.split(':').nth(1).unwrap().to_string();

    // The page shows the request while it is open, and it is confirmed there.
    browser.must("waitFor", json!({"testid": "redemption-pending", "timeout": 40_000})).await;
    assert_eq!(browser.attr("redemption-pending", "data-redemption-id").await.as_deref(), Some(id.as_str()));
    // The bot's own "request sent" message names the request and the card too: count the new ones.
    let partner_token = rig.token(BotKind::Partner);
    let about = |calls: &[RecordedCall], id: &str, word: &str| {
        calls
            .iter()
            .filter(|c| c.token == partner_token && c.chat_id() == Some(linh().id))
            .filter(|c| c.text().is_some_and(|t| t.contains(&format!("#{id}")) && t.contains(word)))
            .count()
    };
    let heard = about(&rig.fake.calls(), &id, &code);
    browser.click("redemption-confirm").await;
    browser.wait_for("redemption-done").await;

    // Linh's chat hears that Anna paid; the balance dropped by the points, in the API and on the page.
    let told =
        rig.fake.wait_for(SETTLE, |calls| about(calls, &id, "paid") > 0 && about(calls, &id, &code) > heard).await;
    assert!(told, "the partner's chat shows the confirmation");
    let after = rig.balance(&who).await;
    assert_eq!(after, before - 100, "100 points were paid");
    browser.wait_for_text("balance", &after.to_string()).await;
    assert_eq!(browser.text("balance").await, after.to_string());

    // A second request is declined in the page: no points move, the partner is told.
    let requested = rig.say(BotKind::Partner, &linh(), &format!("/redeem {code} 40 20000")).await;
    let second = button(&requested, who.id, "rc:").unwrap().split(':').nth(1).unwrap().to_string();
    browser.must("waitFor", json!({"testid": "redemption-pending", "timeout": 40_000})).await;
    assert_eq!(browser.attr("redemption-pending", "data-redemption-id").await.as_deref(), Some(second.as_str()));
    browser.click("redemption-decline").await;
    let declined = rig.fake.wait_for(SETTLE, |calls| about(calls, &second, "declined") > 0).await;
    assert!(declined, "the partner's chat shows the refusal");
    assert_eq!(rig.balance(&who).await, after, "a declined request takes nothing");
    assert_clean(&browser).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn expired_forged_or_missing_init_data_shows_a_clear_message_and_no_data() {
    let rig = Rig::start().await;
    rig.seed().await;
    let browser = Browser::start().await;
    let who = anna();
    let token = rig.token(BotKind::Client);
    let cases = [
        ("expired", rig.init_data_signed(&token, &who, rig.now() - 25 * 3600)),
        ("forged", rig.init_data_signed("1001:not-the-client-bots-token", &who, rig.now() - 5)),
        ("tampered", rig.init_data(BotKind::Client, &who).replace("%22id%22%3A101", "%22id%22%3A102")),
        ("another bot's", rig.init_data(BotKind::Partner, &who)),
        ("outside Telegram", String::new()),
    ];
    for (what, init) in cases {
        if what == "tampered" {
            assert!(init.contains("%22id%22%3A102"), "the tampered initData changed the user");
        }
        let page = Open::new(rig.page(None), init.clone()).at(rig.now());
        browser.open(&page).await;
        browser.wait_for("auth-error").await;
        let message = browser.text("auth-error").await;
        assert!(message.split_whitespace().count() >= 4, "{what} initData: a sentence, not a code: {message:?}");
        // Give late answers time to (wrongly) fill the page.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(browser.count("balance").await, 0, "{what} initData: no balance");
        assert_eq!(browser.count("card-code").await, 0, "{what} initData: no card code");
        assert_eq!(browser.count("card-qr").await, 0, "{what} initData: no QR");
        let state = browser.state().await;
        let api: Vec<u64> = state["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["url"].as_str().is_some_and(|u| u.contains("/api/")))
            .filter_map(|r| r["status"].as_u64())
            .collect();
        // 0: a call the page gave up (aborted) once it knew.
        assert!(
            api.iter().all(|s| matches!(s, 0 | 401 | 403)) && (init.is_empty() || api.iter().any(|s| *s != 0)),
            "{what} initData: the API refused every call: {api:?}"
        );
        if !init.is_empty() {
            let (status, _) = rig.api("/me", &init).await;
            assert!(matches!(status, 401 | 403), "{what} initData is refused by the API itself ({status})");
        }
    }
    assert_clean(&browser).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn the_qr_in_the_page_decodes_to_a_code_the_partner_bot_accepts() {
    let (rig, code, browser) = setup().await;
    let who = anna();
    open_card(&rig, &browser, &who, "dark").await;
    browser.wait_for("card-qr").await;
    let read = browser.decode_qr("card-qr").await;
    let (_, card) = rig.api("/me/card-code", &rig.init_data(BotKind::Client, &who)).await;
    assert_eq!(read, card["link"].as_str().unwrap(), "the QR holds the card's link");
    let rotating = read.split("start=c_").nth(1).expect("a partner-bot deep link with the card's code");
    assert!(rotating.starts_with(&code) && rotating.len() > code.len(), "a rotating code: {rotating}");

    let scanned = rig.say(BotKind::Partner, &linh(), &format!("/start c_{rotating}")).await;
    let shown = texts_to(&scanned, linh().id).join("\n");
    assert!(shown.contains(&code) && shown.contains("Anna"), "the partner bot shows Anna's card: {shown}");
    assert!(button(&scanned, linh().id, "cr:").is_some(), "and offers to credit her");
    assert_clean(&browser).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn the_partner_scans_a_card_and_credits_a_purchase_in_the_page() {
    let (rig, _code, browser) = setup().await;
    let who = anna();
    let (_, card) = rig.api("/me/card-code", &rig.init_data(BotKind::Client, &who)).await;
    let before = rig.balance(&who).await;

    let page = Open::new(rig.page(Some("partner")), rig.init_data(BotKind::Partner, &linh())).at(rig.now());
    browser.open(&page).await;
    browser.wait_for("screen-partner").await;
    browser.wait_for("figures-today-issued").await;
    browser.wait_for("figures-today-redeemed").await;
    browser.wait_for("figures-chart").await;
    let (_, figures) = rig.api("/partner/figures?days=30", &rig.init_data(BotKind::Partner, &linh())).await;
    let today = figures["days"].as_array().and_then(|d| d.last()).cloned().unwrap_or(Value::Null);
    assert!(!today.is_null(), "the figures have today: {figures}");

    // A printed code typed as people type it (lower case, a dash, a space) is read as the partner bot reads it.
    let printed = card["card_code"].as_str().unwrap().to_lowercase();
    browser.set("partner-code", &format!("{}-{} ", &printed[..4], &printed[4..])).await;
    browser.click("partner-open").await;
    browser.wait_for("partner-customer").await;
    let shown = browser.text("partner-customer").await;
    assert!(shown.contains("Anna"), "the typed code opens Anna's card: {shown}");

    // Telegram's scanner reads Anna's card link.
    browser.scan(card["link"].as_str().unwrap()).await;
    browser.click("partner-scan").await;
    browser.wait_for("partner-customer").await;
    let shown = browser.text("partner-customer").await;
    assert!(shown.contains("Anna") && digits(&shown).contains(&before.to_string()), "Anna and her balance: {shown}");
    let calls = browser.telegram_calls().await;
    assert!(calls.iter().any(|c| c == "showScanQrPopup"), "the scan used Telegram's scanner: {calls:?}");

    browser.set("partner-amount", "50000").await;
    browser.click("partner-credit").await;
    browser.wait_for("partner-result").await;
    let mut after = before;
    for _ in 0..50 {
        after = rig.balance(&who).await;
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(after > before, "the credit raised Anna's balance ({before} → {after})");
    let anna_told = rig
        .fake
        .wait_for(SETTLE, |calls| {
            calls.iter().any(|c| c.chat_id() == Some(who.id) && c.text().is_some_and(|t| t.contains("Café Linh")))
        })
        .await;
    assert!(anna_told, "Anna hears of the points in her chat");
    assert_clean(&browser).await;
}

/// The page's `fetch` loses the answer of the first credit — the server has made it, the page never hears —
/// as a dropped mobile connection would; the page's later calls go through.
const LOSE_FIRST_CREDIT_ANSWER: &str = r#"(() => {
    const send = window.fetch.bind(window);
    window.__creditKeys = [];
    window.fetch = async (url, init) => {
        if (!String(url).endsWith("/api/v1/partner/credits")) return send(url, init);
        window.__creditKeys.push(init.headers["Idempotency-Key"]);
        const answer = await send(url, init);
        if (window.__creditKeys.length === 1) throw new TypeError("the connection dropped");
        return answer;
    };
    return true;
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn a_credit_whose_answer_was_lost_is_not_made_twice_when_tried_again() {
    let (rig, _code, browser) = setup().await;
    let who = anna();
    let (_, card) = rig.api("/me/card-code", &rig.init_data(BotKind::Client, &who)).await;
    let entries = |page: &Value| page["entries"].as_array().map_or(0, Vec::len);
    let (_, history) = rig.api("/me/transactions?limit=100", &rig.init_data(BotKind::Client, &who)).await;
    let (before, entries_before) = (rig.balance(&who).await, entries(&history));

    let page = Open::new(rig.page(Some("partner")), rig.init_data(BotKind::Partner, &linh())).at(rig.now());
    browser.open(&page).await;
    browser.wait_for("screen-partner").await;
    browser.scan(card["link"].as_str().unwrap()).await;
    browser.click("partner-scan").await;
    browser.wait_for("partner-customer").await;
    assert_eq!(browser.eval(LOSE_FIRST_CREDIT_ANSWER).await, json!(true));

    browser.set("partner-amount", "30000").await;
    browser.click("partner-credit").await;
    let mut sent = 0;
    for _ in 0..100 {
        sent = browser.eval("window.__creditKeys.length").await.as_u64().unwrap_or(0);
        if sent == 1
            && !browser
                .eval("document.querySelector('[data-testid=partner-credit]').disabled")
                .await
                .as_bool()
                .unwrap_or(true)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent, 1, "the first credit went out");
    let credited = rig.balance(&who).await;
    assert!(credited > before, "the server made the credit whose answer was lost ({before} → {credited})");

    // The cashier, seeing no answer, taps again: the same Idempotency-Key, so the API answers the first credit.
    browser.click("partner-credit").await;
    browser.wait_for("partner-result").await;
    let keys = browser.eval("window.__creditKeys").await;
    let keys = keys.as_array().expect("the keys sent");
    assert_eq!(keys.len(), 2, "tried twice: {keys:?}");
    assert_eq!(keys[0], keys[1], "the second try repeats the first one's Idempotency-Key");
    assert_eq!(rig.balance(&who).await, credited, "the purchase is credited once");
    let (_, history) = rig.api("/me/transactions?limit=100", &rig.init_data(BotKind::Client, &who)).await;
    assert_eq!(entries(&history), entries_before + 1, "one new entry: {history:#}");

    // Settled: the next purchase of the same amount is a new credit.
    browser.set("partner-amount", "30000").await;
    browser.click("partner-credit").await;
    for _ in 0..50 {
        if rig.balance(&who).await > credited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(rig.balance(&who).await > credited, "a second purchase of the same amount is credited");
    let keys = browser.eval("window.__creditKeys").await;
    assert_ne!(keys[2], keys[1], "with a new key: {keys}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn the_admin_sees_the_programs_liability() {
    let (rig, _code, browser) = setup().await;
    let init = rig.init_data(BotKind::Admin, &admin());
    let (status, figures) = rig.api("/admin/figures?days=30", &init).await;
    assert_eq!(status, 200, "{figures}");
    let outstanding = figures["program"]["points_outstanding"].as_i64().expect("the liability");
    assert!(outstanding > 0);

    browser.open(&Open::new(rig.page(Some("admin")), init).theme("dark").at(rig.now())).await;
    browser.wait_for("screen-admin").await;
    browser.wait_for("admin-liability").await;
    assert_eq!(digits(&browser.text("admin-liability").await), outstanding.to_string(), "the liability is the API's");
    browser.wait_for("figures-chart").await;
    assert_clean(&browser).await;
}

/// Where the screenshots go: `LOYALTY_SCREENSHOTS_DIR` (scripts/screenshots.sh
/// sets `docs/screenshots`), else a directory under the system's temp dir.
fn screenshots_dir() -> PathBuf {
    match std::env::var_os("LOYALTY_SCREENSHOTS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("loyalty-screenshots-{}", std::process::id())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn screenshots_of_every_screen() {
    let (rig, _code, browser) = setup().await;
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (_, card) = rig.api("/me/card-code", &rig.init_data(BotKind::Client, &anna())).await;
    let mut taken = Vec::new();
    for lang in ["en", "ru"] {
        for theme in ["light", "dark"] {
            let shot = |name: &str| dir.join(format!("{name}-{lang}-{theme}.png"));
            let customer = anna().lang(lang);
            // The page speaks the language the customer chose in the bot, as the bots do.
            let init = rig.init_data(BotKind::Client, &customer);
            let (status, _) = rig.api_put("/me/language", &init, json!({ "language": lang })).await;
            assert!((200..300).contains(&status), "PUT /me/language: {status}");
            let page = Open::new(rig.page(None), rig.init_data(BotKind::Client, &customer)).theme(theme).at(rig.now());
            browser.open(&page).await;
            browser.wait_for("balance").await;
            browser.wait_for("card-qr").await;
            taken.push(browser.screenshot(None, &shot("card")).await);
            for (nav, screen, item, name) in [
                ("nav-history", "screen-history", "history-item", "history"),
                ("nav-partners", "screen-partners", "reward-item", "partners"),
                ("nav-settings", "screen-settings", "settings-language", "settings"),
            ] {
                browser.click(nav).await;
                browser.wait_for(screen).await;
                browser.wait_for(item).await;
                taken.push(browser.screenshot(None, &shot(name)).await);
            }
            assert_clean(&browser).await;

            let partner = linh().lang(lang);
            let page = Open::new(rig.page(Some("partner")), rig.init_data(BotKind::Partner, &partner))
                .theme(theme)
                .at(rig.now());
            browser.open(&page).await;
            browser.wait_for("figures-chart").await;
            browser.scan(card["link"].as_str().unwrap()).await;
            browser.click("partner-scan").await;
            browser.wait_for("partner-customer").await;
            taken.push(browser.screenshot(None, &shot("partner")).await);

            let page = Open::new(rig.page(Some("admin")), rig.init_data(BotKind::Admin, &admin().lang(lang)))
                .theme(theme)
                .at(rig.now());
            browser.open(&page).await;
            browser.wait_for("admin-liability").await;
            browser.wait_for("figures-chart").await;
            taken.push(browser.screenshot(None, &shot("admin")).await);
            assert_clean(&browser).await;
        }
    }
    assert_eq!(taken.len(), 24);
    assert!(taken.iter().all(|&bytes| bytes > 2_000), "every screenshot shows something: {taken:?}");
}

/// The first load's budget: HTML, JS and CSS together, gzip.
const FIRST_LOAD_BUDGET_GZIP: u64 = 100 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node (scripts/test.sh runs it)"]
async fn first_load() {
    let rig = Rig::start().await;
    rig.seed().await;
    let browser = Browser::start().await;
    let runs: u64 = std::env::var("LOYALTY_APP_LOAD_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    let args = json!({
        "url": rig.page(None),
        "initData": rig.init_data(BotKind::Client, &anna()),
        "runs": runs,
        "cpuRate": 4,
        "latencyMs": 150,
        "downKbps": 1600,
        "upKbps": 750,
        "ready": ["balance", "card-qr"],
        "timeout": 60_000,
    });
    let measured = browser.must("measureLoad", args).await;
    let runs = measured["runs"].as_array().unwrap();
    let mut report = Vec::new();
    for run in runs {
        assert!(run["interactiveMs"].as_f64().is_some(), "the card became interactive: {run}");
        assert_eq!(run["refused"], json!([]), "nothing asked of other hosts: {run}");
        let files = run["files"].as_array().unwrap();
        let assets: Vec<&Value> = files.iter().filter(|f| f["kind"] == "asset").collect();
        let gzip: u64 = assets.iter().map(|f| f["gzipBytes"].as_u64().unwrap_or_default()).sum();
        let wire: u64 = files.iter().map(|f| f["wireBytes"].as_u64().unwrap_or_default()).sum();
        assert!(assets.len() >= 2, "the page and its script were loaded: {files:?}");
        assert!(gzip <= FIRST_LOAD_BUDGET_GZIP, "the page's files are {gzip} bytes gzip, over the budget");
        report.push(json!({
            "interactive_ms": run["interactiveMs"],
            "fcp_ms": run["fcpMs"],
            "assets_gzip_bytes": gzip,
            "wire_bytes": wire,
            "files": files,
        }));
    }
    if let Some(path) = std::env::var_os("LOYALTY_APP_LOAD_REPORT") {
        let report = json!({ "browser": browser.version, "runs": report });
        std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    }
}
