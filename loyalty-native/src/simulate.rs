//! `loyalty simulate`: the program's main scenarios, played over real HTTP.
//!
//! [`run`] starts a [`FakeBotApi`] (a local Bot API server) and the real
//! server ([`serve`]) on `127.0.0.1`, with a fresh temporary SQLite database
//! (a [`MemoryStore`](loyalty_core::MemoryStore) in builds without the
//! `sqlite` feature) and built-in test tokens whose `TELEGRAM_API_URL` points at the fake. Then
//! simulated people talk to the three bots: every update is POSTed to
//! `/webhook/<bot>` with the bot's secret header, exactly as Telegram would.
//! The bots' replies are read from each webhook response body (the call that
//! Telegram would execute — the simulation executes it against the fake) and
//! from the calls the fake Bot API received from the deferred tasks.
//!
//! The scenarios: a customer signs up and invites a friend (referral bonus); a
//! merchant applies through the force-reply prompt and the admin approves
//! with a button; the merchant scans the customer's card (`/start c_<code>`)
//! and credits a purchase through the 💳 prompt; the merchant requests a
//! payment with points and the customer confirms it with the `rc:` button.
//! Finally the balances are checked. Nothing leaves the machine.

use crate::fake_bot_api::{FakeBotApi, RecordedCall};
use crate::runtime;
use crate::server::{App, serve};
use crate::tasks::Drained;
use crate::telegram::HttpTelegram;
use loyalty_core::domain::TelegramUserId;
use loyalty_core::ports::{CustomerRef, ListVouchers, RecordingReporter, Storage};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::Update;
use loyalty_core::telegram::build::{TgUser, callback, reply, text_json};
use loyalty_core::webhook::webhook_secret;
use loyalty_core::{Config, Engine};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The tokens the simulation's bots use (the fake Bot API accepts any).
const TOKENS: [(&str, &str); 3] = [
    ("TOKEN_CLIENT", "1001:simulated-client"),
    ("TOKEN_PARTNER", "1002:simulated-partner"),
    ("ADMIN_BOT_TOKEN", "1003:simulated-admin"),
];

/// The admin chat of the simulation.
const ADMIN_CHAT: i64 = 900;

/// How long to wait for one update's deferred tasks.
pub const TASK_WAIT: Duration = Duration::from_secs(30);

/// What a simulation produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The conversation, one line per message, with a heading per scenario.
    pub transcript: Vec<String>,
    /// Each expectation and whether it held.
    pub checks: Vec<(String, bool)>,
}

impl Outcome {
    /// Whether every expectation held (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|(_, ok)| *ok)
    }

    /// The transcript, the checks and — when they passed — how to run the
    /// program for real, for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.transcript {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("\nChecks:\n");
        for (what, ok) in &self.checks {
            let _ = writeln!(out, "  {} {what}", if *ok { "✓" } else { "✗ FAILED:" });
        }
        if self.passed() {
            out.push_str(NEXT_STEPS);
        }
        out
    }
}

/// Printed after a successful simulation.
const NEXT_STEPS: &str = "
Every update above went over HTTP through `loyalty serve`'s own router, with
a throwaway database and a local fake of the Telegram Bot API.

Run it with your own bots (tokens from @BotFather):

  export TOKEN_CLIENT=… TOKEN_PARTNER=… ADMIN_BOT_TOKEN=… ADMIN_CHAT_ID=…
  loyalty migrate
  loyalty poll                          # no public URL needed

or, behind HTTPS, with webhooks:

  loyalty serve --listen 127.0.0.1:8080
  loyalty webhooks set --base-url https://loyalty.example.com

Back to polling at any time: `loyalty webhooks delete`, then `loyalty poll`.
See docs/SELF_HOSTING.md.
";

/// Why the simulation could not run at all (as opposed to a failed check).
#[derive(Debug, thiserror::Error)]
#[error("the simulation could not run: {0}")]
pub struct SimulateError(String);

/// Runs the simulation with a fresh temporary SQLite database, removed
/// afterwards. See the [module docs](self).
///
/// # Errors
/// When the environment cannot be set up (no loopback port, no temporary
/// directory); failed expectations are in the [`Outcome`] instead.
#[cfg(feature = "sqlite")]
pub async fn run() -> Result<Outcome, SimulateError> {
    use crate::store::sqlite::SqliteStore;
    let path = std::env::temp_dir().join(format!("loyalty-simulate-{}-{}.db", std::process::id(), random_suffix()));
    let opened = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || SqliteStore::open(path)).await
    };
    let outcome = match opened {
        Ok(Ok(store)) => run_with(Arc::new(store)).await,
        Ok(Err(e)) => Err(SimulateError(format!("cannot create a temporary SQLite database: {e}"))),
        Err(e) => Err(SimulateError(format!("cannot create a temporary SQLite database: {e}"))),
    };
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    outcome
}

/// Runs the simulation over a [`MemoryStore`](loyalty_core::MemoryStore), in
/// builds without the `sqlite` feature; see the other `run`.
#[cfg(not(feature = "sqlite"))]
pub async fn run() -> Result<Outcome, SimulateError> {
    run_with(Arc::new(loyalty_core::MemoryStore::new())).await
}

/// Eight random hex digits, for a temporary file name.
#[cfg(feature = "sqlite")]
fn random_suffix() -> String {
    use loyalty_core::ports::Randomness as _;
    let mut b = [0u8; 4];
    crate::clock::OsRandom.fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs the simulation over `storage`, which must be empty.
///
/// # Errors
/// As [`run`].
pub async fn run_with(storage: Arc<dyn Storage>) -> Result<Outcome, SimulateError> {
    let fake = FakeBotApi::start().await;
    let vars = variables(&fake.url());
    let config = Config::from_lookup(|k| vars.iter().find(|(name, _)| *name == k).map(|(_, v)| v.clone()))
        .map_err(|e| SimulateError(e.to_string()))?;
    let telegram = HttpTelegram::new(&config).map_err(|e| SimulateError(e.to_string()))?.with_rate_limits(None);
    let reporter = Arc::new(RecordingReporter::default());
    let mut ports = runtime::ports(&config, storage, Arc::new(telegram)).map_err(|e| SimulateError(e.to_string()))?;
    ports.reporter = reporter.clone();
    let engine = Engine::new(config, ports);
    let app = App::new(engine.clone()).with_maintenance_interval(None);
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| SimulateError(format!("bind: {e}")))?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| SimulateError(e.to_string()))?);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app.clone(), async move {
        let _ = stopped.await;
    }));

    let bases = BotKind::WEBHOOK_BOTS.into_iter().map(|b| (b, base.clone())).collect();
    let target = Target { bases, engine, settle: Settle::Tasks(app.clone()) };
    let mut sim = Sim::new(target, &fake);
    sim.play().await;
    for r in reporter.reports() {
        sim.check(false, format!("no error reported (got: {} in {})", r.message, r.context));
    }
    let _ = stop.send(());
    match server.await {
        Ok(Ok(Drained { complete: true, .. })) => {}
        other => sim.check(false, format!("the server shut down cleanly ({other:?})")),
    }
    Ok(sim.outcome)
}

/// One bot API call the bots made, as seen by the fake Bot API.
#[derive(Debug, Clone)]
struct Sent {
    bot: BotKind,
    method: String,
    params: Map<String, Value>,
}

impl Sent {
    fn chat_id(&self) -> Option<i64> {
        self.params.get("chat_id").and_then(Value::as_i64)
    }

    fn text(&self) -> Option<&str> {
        self.params.get("text").or_else(|| self.params.get("caption")).and_then(Value::as_str)
    }

    fn buttons(&self) -> Vec<String> {
        loyalty_core::telegram::build::buttons_in(&self.params)
    }

    fn forces_reply(&self) -> bool {
        loyalty_core::telegram::build::forces_reply_in(&self.params)
    }
}

/// What one update produced.
#[derive(Debug, Default)]
struct Delivery {
    status: u16,
    sent: Vec<Sent>,
}

impl Delivery {
    fn button(&self, chat: i64, prefix: &str) -> Option<String> {
        self.sent
            .iter()
            .filter(|s| s.chat_id() == Some(chat))
            .find_map(|s| s.buttons().into_iter().find(|d| d.starts_with(prefix)))
    }

    fn prompt(&self, chat: i64) -> Option<String> {
        self.sent
            .iter()
            .find(|s| s.chat_id() == Some(chat) && s.forces_reply())
            .and_then(|s| s.text())
            .map(str::to_string)
    }

    fn texts_to(&self, chat: i64) -> Vec<&str> {
        self.sent.iter().filter(|s| s.chat_id() == Some(chat)).filter_map(Sent::text).collect()
    }
}

/// The variables of a simulation whose Bot API is `telegram_api_url`: the
/// built-in test tokens, the admin chat, the bonuses. A server under
/// [`play`] must run with these.
pub fn variables(telegram_api_url: &str) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("TELEGRAM_API_URL", telegram_api_url.to_string()),
        ("ADMIN_CHAT_ID", ADMIN_CHAT.to_string()),
        ("WELCOME_BONUS_AMOUNT", "100".into()),
        ("REFERRAL_BONUS_AMOUNT", "50".into()),
    ];
    vars.extend(TOKENS.iter().map(|(name, token)| (*name, (*token).to_string())));
    vars
}

/// A server the scenarios can be played against (see [`play`]).
#[derive(Debug)]
pub struct Target {
    /// Where each bot's webhook is served: updates go to `POST <base>/webhook/<bot>`.
    pub bases: HashMap<BotKind, String>,
    /// An engine with the server's configuration and storage: the checks read
    /// balances through its storage.
    pub engine: Engine,
    /// How to tell that an update's deferred work is done.
    pub settle: Settle,
}

/// How [`play`] waits for the work a server does after answering a webhook.
#[derive(Debug)]
#[non_exhaustive]
pub enum Settle {
    /// An in-process server: wait until its task runner is idle.
    Tasks(App),
    /// A server in another process: wait until the fake Bot API has received
    /// no call for this long (at most [`TASK_WAIT`] in all).
    Quiet(Duration),
}

/// Plays the scenarios against `target`, whose Bot API is `fake` and whose
/// configuration is [`variables`]`(fake.url())`; its storage must be empty.
pub async fn play(target: Target, fake: &FakeBotApi) -> Outcome {
    let mut sim = Sim::new(target, fake);
    sim.play().await;
    sim.outcome
}

struct Sim<'a> {
    http: reqwest::Client,
    bases: HashMap<BotKind, String>,
    fake: &'a FakeBotApi,
    engine: Engine,
    settle: Settle,
    next_update: i64,
    names: HashMap<i64, String>,
    outcome: Outcome,
}

impl<'a> Sim<'a> {
    fn new(target: Target, fake: &'a FakeBotApi) -> Sim<'a> {
        Sim {
            http: reqwest::Client::new(),
            bases: target.bases,
            fake,
            engine: target.engine,
            settle: target.settle,
            next_update: 1,
            names: HashMap::new(),
            outcome: Outcome::default(),
        }
    }

    /// Waits for the deferred work of the last update; `false` when it did not finish in time.
    async fn settled(&self) -> bool {
        match &self.settle {
            Settle::Tasks(app) => app.tasks().wait_idle(TASK_WAIT).await,
            Settle::Quiet(window) => {
                let started = tokio::time::Instant::now();
                let mut seen = self.fake.calls().len();
                loop {
                    tokio::time::sleep(*window).await;
                    let now = self.fake.calls().len();
                    if now == seen {
                        return true;
                    }
                    if started.elapsed() > TASK_WAIT {
                        return false;
                    }
                    seen = now;
                }
            }
        }
    }

    fn line(&mut self, line: String) {
        self.outcome.transcript.push(line);
    }

    fn check(&mut self, ok: bool, what: impl Into<String>) {
        self.outcome.checks.push((what.into(), ok));
    }

    fn bot_of(&self, token: &str) -> Option<BotKind> {
        BotKind::WEBHOOK_BOTS.into_iter().find(|b| self.engine.config().token(*b).is_some_and(|t| t.expose() == token))
    }

    fn token(&self, bot: BotKind) -> String {
        self.engine.config().token(bot).map(|t| t.expose().to_string()).unwrap_or_default()
    }

    /// The calls the fake Bot API received since the last look (but `getMe`).
    fn take_sent(&self) -> Vec<Sent> {
        self.fake
            .take_calls()
            .into_iter()
            .filter(|c: &RecordedCall| c.method != "getMe")
            .filter_map(|c| Some(Sent { bot: self.bot_of(&c.token)?, method: c.method, params: c.params }))
            .collect()
    }

    /// POSTs `update` to `bot`'s webhook as Telegram would, executes the call
    /// in the response against the fake Bot API, waits for deferred tasks, and
    /// logs every message.
    async fn deliver(&mut self, bot: BotKind, update: &Update) -> Delivery {
        let secret = webhook_secret(self.engine.config(), bot).map(|s| s.expose().to_string()).unwrap_or_default();
        let body = serde_json::to_vec(update).unwrap_or_default();
        let res = self
            .http
            .post(format!("{}/webhook/{}", self.bases.get(&bot).map_or("", String::as_str), bot.as_str()))
            .header("content-type", "application/json")
            .header(loyalty_core::webhook::SECRET_TOKEN_HEADER, secret)
            .body(body)
            .send()
            .await;
        let (status, reply) = match res {
            Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap_or_default()),
            Err(e) => {
                self.check(false, format!("update {} reached the server ({e})", update.update_id));
                return Delivery::default();
            }
        };
        if status != 200 {
            self.check(false, format!("update {} was answered 200 (got {status})", update.update_id));
        }
        if !self.settled().await {
            self.check(false, format!("the deferred tasks of update {} finished", update.update_id));
        }
        let mut sent = self.take_sent();
        // Telegram executes the call in the webhook response; so do we, first.
        if let Ok(Value::Object(mut call)) = serde_json::from_slice::<Value>(&reply)
            && let Some(Value::String(method)) = call.remove("method")
        {
            let url = format!("{}/bot{}/{method}", self.fake.url(), self.token(bot));
            if let Err(e) = self.http.post(url).json(&call).send().await {
                self.check(false, format!("the webhook reply reached the Bot API ({e})"));
            }
            let mut first = self.take_sent();
            first.append(&mut sent);
            sent = first;
        }
        for s in &sent {
            let who = s.chat_id().map(|c| self.names.get(&c).cloned().unwrap_or_else(|| c.to_string()));
            let line = match (s.method.as_str(), who, s.text()) {
                ("answerCallbackQuery", _, Some(t)) => format!("  {} bot (toast): {}", s.bot.as_str(), plain(t)),
                (_, Some(who), Some(t)) => format!("  {} bot → {who}: {}", s.bot.as_str(), plain(t)),
                _ => continue,
            };
            self.line(line);
        }
        Delivery { status, sent }
    }

    fn next_id(&mut self) -> i64 {
        self.next_update += 1;
        self.next_update
    }

    fn meet(&mut self, user: &TgUser) {
        self.names.insert(user.id, user.first_name.clone());
    }

    async fn say(&mut self, bot: BotKind, who: &TgUser, text: &str) -> Delivery {
        self.line(format!("{} → {} bot: {}", who.first_name, bot.as_str(), one_line(text)));
        let id = self.next_id();
        match serde_json::from_value::<Update>(text_json(id, who, text)) {
            Ok(update) => self.deliver(bot, &update).await,
            Err(e) => {
                self.check(false, format!("a text update could be built ({e})"));
                Delivery::default()
            }
        }
    }

    async fn answer(&mut self, bot: BotKind, who: &TgUser, prompt: &str, text: &str) -> Delivery {
        self.line(format!("{} → {} bot (reply): {}", who.first_name, bot.as_str(), one_line(text)));
        let id = self.next_id();
        self.deliver(bot, &reply(id, who, prompt, text)).await
    }

    async fn press(&mut self, bot: BotKind, who: &TgUser, data: &str) -> Delivery {
        self.line(format!("{} → {} bot [button {data}]", who.first_name, bot.as_str()));
        let id = self.next_id();
        self.deliver(bot, &callback(id, who, id * 10, data)).await
    }

    async fn balance(&self, who: &TgUser) -> Option<i64> {
        let who = CustomerRef::Telegram(TelegramUserId(who.id));
        self.engine.storage().customer_summary(who, 0).await.ok().flatten().map(|s| s.customer.balance)
    }

    /// The scenarios; returns early (with a failed check) when a step cannot continue.
    async fn play(&mut self) {
        use BotKind::{Admin, Client, Partner};
        let anna = TgUser::new(101, "Anna");
        let boris = TgUser::new(102, "Boris").lang("ru");
        let linh = TgUser::new(201, "Linh").lang("vi");
        let admin = TgUser::new(ADMIN_CHAT, "Admin");
        for u in [&anna, &boris, &linh, &admin] {
            self.meet(u);
        }

        self.line("1. Anna signs up".into());
        self.say(Client, &anna, "/start").await;
        let who = CustomerRef::Telegram(TelegramUserId(anna.id));
        let Some(code) = self.engine.storage().customer_summary(who, 0).await.ok().flatten().map(|s| s.customer.code)
        else {
            return self.check(false, "Anna is registered");
        };
        self.check(self.balance(&anna).await == Some(100), "Anna got the 100-point welcome bonus");

        self.line("\n2. Boris signs up with Anna's invitation link".into());
        let joined = self.say(Client, &boris, &format!("/start ref_{code}")).await;
        self.check(!joined.texts_to(anna.id).is_empty(), "Anna is told that Boris joined through her link");

        self.line("\n3. Linh applies as a partner; the admin approves".into());
        let asked = self.say(Partner, &linh, "/start").await;
        let Some(prompt) = asked.prompt(linh.id) else {
            return self.check(false, "the partner bot asks Linh to apply");
        };
        let applied = self.answer(Partner, &linh, &prompt, "Phở Hà Nội; cafe").await;
        self.check(!applied.texts_to(ADMIN_CHAT).is_empty(), "the admin chat hears about the application");
        let pending = self.say(Admin, &admin, "/pending").await;
        let Some(approve) = pending.button(admin.id, "pa:") else {
            return self.check(false, "the admin bot offers an approve button");
        };
        let approved = self.press(Admin, &admin, &approve).await;
        self.check(!approved.texts_to(linh.id).is_empty(), "Linh is told she was approved");

        self.line("\n4. Anna shows her card; Linh scans it and credits a purchase".into());
        let card = self.say(Client, &anna, "/card").await;
        self.check(card.sent.iter().any(|s| s.method == "sendPhoto"), "Anna gets her QR card as a photo");
        let scanned = self.say(Partner, &linh, &format!("/start c_{code}")).await;
        let Some(credit) = scanned.button(linh.id, "cr:") else {
            return self.check(false, "scanning the card offers a credit button");
        };
        let asked = self.press(Partner, &linh, &credit).await;
        let Some(prompt) = asked.prompt(linh.id) else {
            return self.check(false, "the partner bot asks for the amount");
        };
        let credited = self.answer(Partner, &linh, &prompt, "240000").await;
        self.check(!credited.texts_to(anna.id).is_empty(), "Anna is told about the points she earned");

        self.line("\n5. Linh asks Anna to pay with points; Anna confirms in her own chat".into());
        let requested = self.say(Partner, &linh, &format!("/redeem {code} 100 50000")).await;
        let Some(confirm) = requested.button(anna.id, "rc:") else {
            return self.check(false, "Anna gets a button to confirm the payment");
        };
        let paid = self.press(Client, &anna, &confirm).await;
        self.check(!paid.texts_to(linh.id).is_empty(), "Linh is told that Anna paid");
        let again = self.press(Client, &anna, &confirm).await;
        self.check(again.status == 200, "a second tap on the confirm button is harmless");

        self.line("\n6. Linh publishes a reward; the admin approves; Anna claims it; Linh accepts the voucher".into());
        let published = self
            .say(Partner, &linh, "/reward 50 stock=10 category=drinks\nIced coffee | Any size\nvi: Cà phê đá")
            .await;
        self.check(!published.texts_to(ADMIN_CHAT).is_empty(), "the admin chat hears about the new reward");
        let decided = self.say(Admin, &admin, "/reward_approve 1").await;
        self.check(!decided.texts_to(linh.id).is_empty(), "Linh is told her reward is approved");
        let page = self.say(Client, &anna, "/rewards").await;
        let Some(open) = page.button(anna.id, "wv:") else {
            return self.check(false, "Anna sees the reward in the catalogue");
        };
        let card = self.press(Client, &anna, &open).await;
        let Some(claim) = card.button(anna.id, "wc:") else {
            return self.check(false, "the reward's card has a claim button");
        };
        let issued = self.press(Client, &anna, &claim).await;
        self.check(issued.sent.iter().any(|s| s.method == "sendPhoto"), "Anna gets her voucher as a QR code");
        let mine = ListVouchers { customer: CustomerRef::Telegram(TelegramUserId(anna.id)), status: None, limit: 1 };
        let Some(voucher) = self.engine.storage().vouchers(mine).await.ok().and_then(|v| v.into_iter().next()) else {
            return self.check(false, "Anna's voucher is stored");
        };
        let accepted = self.say(Partner, &linh, &format!("/start v_{}", voucher.voucher.code)).await;
        self.check(!accepted.texts_to(anna.id).is_empty(), "Anna is told her voucher was used");
        let twice = self.say(Partner, &linh, &format!("/voucher {}", voucher.voucher.code)).await;
        self.check(twice.texts_to(anna.id).is_empty(), "a voucher shown twice is accepted once");
        self.say(Client, &anna, "/balance").await;

        self.line("\n7. Linh runs a stamp card; two visits fill Anna's card".into());
        let set = self.say(Partner, &linh, "/stamps 2 a free coffee").await;
        self.check(!set.texts_to(linh.id).is_empty(), "Linh's stamp card runs");
        self.say(Partner, &linh, &format!("/stamp {code}")).await;
        let full = self.say(Partner, &linh, &format!("/stamp {code}")).await;
        let told = full.texts_to(anna.id).iter().any(|t| t.contains("a free coffee"));
        self.check(told, "Anna is told her stamp card is full");
        let who = CustomerRef::Telegram(TelegramUserId(anna.id));
        let cards = self.engine.storage().stamp_cards(who).await.unwrap_or_default();
        let filled = cards.iter().map(|c| (c.stamps, c.completed)).collect::<Vec<_>>() == [(0, 1)];
        self.check(filled, "Anna's card is filled once and a new one started");

        self.line("\n8. Boris downloads his data, then erases it; the admin sees it in the audit log".into());
        let who = CustomerRef::Telegram(TelegramUserId(boris.id));
        let Some(boris_code) =
            self.engine.storage().customer_summary(who, 0).await.ok().flatten().map(|s| s.customer.code)
        else {
            return self.check(false, "Boris is registered");
        };
        let data = self.say(Client, &boris, "/mydata").await;
        self.check(data.sent.iter().any(|s| s.method == "sendDocument"), "Boris gets his data as a JSON file");
        let asked = self.say(Client, &boris, "/erase").await;
        let Some(erase) = asked.button(boris.id, "er:") else {
            return self.check(false, "the client bot asks Boris to confirm the erasure");
        };
        self.press(Client, &boris, &erase).await;
        let kept = self.engine.storage().personal_data(CustomerRef::Code(boris_code)).await.ok().flatten();
        self.check(
            self.balance(&boris).await.is_none()
                && kept.is_some_and(|d| d.customer.is_erased() && d.customer.balance == 100),
            "Boris is erased; his 100 points stay on an anonymised record",
        );
        let audit = self.say(Admin, &admin, "/audit").await;
        let audited = audit.texts_to(ADMIN_CHAT).iter().any(|t| t.contains("erased customer"));
        self.check(audited, "the admin's /audit shows the erasure");

        // 100 welcome + 50 referral + ⌊240 000 × 5 %⌋ − 100 paid with points − 50 for the reward.
        let anna_balance = self.balance(&anna).await;
        self.check(
            anna_balance == Some(12_000),
            format!("Anna's balance is 12 000 points (got {})", shown(anna_balance)),
        );

        self.line("\n9. Linh invites Minh as a cashier; Minh credits Anna's purchase; Linh revokes him".into());
        let minh = TgUser::new(301, "Minh");
        self.meet(&minh);
        let invited = self.say(Partner, &linh, "/staff invite").await;
        let link = invited.texts_to(linh.id).join("");
        let Some(token) =
            link.split("s_").nth(1).map(|t| t.chars().take_while(char::is_ascii_hexdigit).collect::<String>())
        else {
            return self.check(false, "Linh gets an invitation link");
        };
        let joined = self.say(Partner, &minh, &format!("/start s_{token}")).await;
        self.check(!joined.texts_to(linh.id).is_empty(), "Linh is told Minh joined her staff");
        self.say(Partner, &minh, &format!("/credit {code} 2000")).await;
        let who = CustomerRef::Telegram(TelegramUserId(anna.id));
        let newest =
            self.engine.storage().customer_summary(who, 1).await.ok().flatten().and_then(|s| s.recent.first().cloned());
        let linh_ref = loyalty_core::ports::PartnerRef::Telegram(TelegramUserId(linh.id));
        let staff = self.engine.storage().staff(linh_ref).await.unwrap_or_default();
        let minh_id = staff.iter().find(|s| s.telegram_id == Some(TelegramUserId(minh.id))).map(|s| s.id);
        self.check(
            minh_id.is_some()
                && newest.is_some_and(|e| e.kind == loyalty_core::domain::EntryKind::Accrual && e.cashier == minh_id),
            "Minh's credit is recorded as his",
        );
        let stats = self.say(Partner, &minh, "/stats").await;
        let refused = stats.texts_to(minh.id).iter().any(|t| t.contains("Only a partner's owner"));
        self.check(refused, "Minh cannot see Linh's figures");
        let list = self.say(Partner, &linh, "/staff").await;
        let Some(revoke) = list.button(linh.id, "sr:") else {
            return self.check(false, "Linh's /staff offers to revoke Minh");
        };
        self.press(Partner, &linh, &revoke).await;
        let before = self.balance(&anna).await;
        self.say(Partner, &minh, &format!("/credit {code} 2000")).await;
        self.check(self.balance(&anna).await == before, "Minh, revoked, can no longer credit");
    }
}

/// A balance for the checks' lines.
fn shown(balance: Option<i64>) -> String {
    balance.map_or_else(|| "no account".into(), |b| b.to_string())
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ⏎ ")
}

/// Telegram HTML as a person sees it, on one line.
fn plain(html: &str) -> String {
    one_line(&loyalty_core::telegram::html_to_plain(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text() {
        assert_eq!(plain("<b>Hi</b> &amp; bye\nnow"), "Hi & bye ⏎ now");
    }
}
