//! The embedding example over loopback HTTP: the team's command and event
//! hook next to the built-in bots, on SQLite, through the logging store.

use loyalty_core::domain::{BotKind, PartnerTerms, TelegramUserId};
use loyalty_core::ports::CustomerRef;
use loyalty_core::telegram::build::{TgUser, text_json};
use loyalty_core::webhook::{SECRET_TOKEN_HEADER, webhook_secret};
use loyalty_embed_example::{LoggingStore, Milestones, engine};
use loyalty_native::server::App;
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_testkit::{TestEnv, test_config};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

struct Rig {
    base: String,
    http: reqwest::Client,
    env: TestEnv,
    app: App,
    store: Arc<LoggingStore<SqliteStore>>,
}

impl Rig {
    async fn start() -> Rig {
        let store = Arc::new(LoggingStore::new(SqliteStore::open_in_memory().expect("sqlite")));
        let env = TestEnv::with(store.clone(), test_config());
        let app = App::new(engine(env.engine.clone(), Milestones { every: 1000 }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = loyalty_embed_example::app(app.clone(), store.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Rig { base, http: reqwest::Client::new(), env, app, store }
    }

    /// Posts `update` to `bot`'s webhook; the reply that rides in the response.
    async fn post(&self, bot: BotKind, update: Value) -> Value {
        let secret = webhook_secret(&test_config(), bot).expect("bot configured");
        let res = self
            .http
            .post(format!("{}/webhook/{}", self.base, bot.as_str()))
            .header(SECRET_TOKEN_HEADER, secret.expose())
            .header("content-type", "application/json")
            .body(update.to_string())
            .send()
            .await
            .expect("webhook answers");
        assert_eq!(res.status(), 200);
        let body = res.bytes().await.expect("body");
        if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).expect("JSON reply") }
    }

    /// The texts the fake Bot API received for `chat`, after deferred sends finished.
    async fn sent_to(&self, chat: i64) -> Vec<String> {
        assert!(self.app.tasks().wait_idle(Duration::from_secs(10)).await, "deferred sends finish");
        self.env
            .telegram
            .calls()
            .iter()
            .filter(|c| c.chat_id() == Some(chat))
            .filter_map(|c| c.text().map(String::from))
            .collect()
    }
}

#[tokio::test]
async fn the_teams_command_and_milestone_sit_next_to_the_built_in_bots() {
    let rig = Rig::start().await;
    let anna = TgUser::new(101, "Anna");
    let welcome = rig.post(BotKind::Client, text_json(1, &anna, "/start")).await;
    assert_eq!(welcome["chat_id"], 101, "{welcome}");

    // The team's command: one storage round trip, which also claims the update (counted once the
    // sign-up's deferred work — its messages and webhook event through the outbox — is done).
    assert!(rig.app.tasks().wait_idle(Duration::from_secs(10)).await, "deferred work finishes");
    let before = rig.store.calls();
    let whoami = rig.post(BotKind::Client, text_json(2, &anna, "/whoami")).await;
    assert_eq!(rig.store.calls(), before + 1);
    let code = rig
        .env
        .storage
        .customer_summary(CustomerRef::Telegram(TelegramUserId(101)), 0)
        .await
        .unwrap()
        .unwrap()
        .customer
        .code;
    assert_eq!(whoami["text"], format!("You are card {code} with 100 points."));
    // A replay of the same update is a duplicate: no second answer.
    assert_eq!(rig.post(BotKind::Client, text_json(2, &anna, "/whoami")).await, Value::Null);
    // Built-in commands are still the built-in bot's.
    let balance = rig.post(BotKind::Client, text_json(3, &anna, "/balance")).await;
    assert!(!balance["text"].as_str().unwrap_or("").starts_with("You are card"), "{balance}");
    // The partner bot does not know /whoami and the extension leaves it: the partner bot's help.
    let stranger = rig.post(BotKind::Partner, text_json(4, &TgUser::new(300, "Stranger"), "/whoami")).await;
    assert_eq!(stranger["chat_id"], 300, "{stranger}");

    // An approved partner credits a purchase that takes Anna past 1 000 points.
    loyalty_testkit::requests::partner(rig.env.storage.as_ref(), 201, PartnerTerms::default()).await;
    let linh = TgUser::new(201, "Linh");
    let credited = rig.post(BotKind::Partner, text_json(5, &linh, &format!("/credit {code} 20000"))).await;
    assert_eq!(credited["chat_id"], 201, "{credited}");
    let to_anna = rig.sent_to(101).await;
    assert!(to_anna.iter().any(|t| t.contains("+1") && t.contains("Cafe")), "the built-in notice: {to_anna:?}");
    assert_eq!(to_anna.last().map(String::as_str), Some("🏆 1000 points! Thank you for shopping at Cafe."));

    // A smaller credit crosses no milestone.
    rig.post(BotKind::Partner, text_json(6, &linh, &format!("/credit {code} 200"))).await;
    let after = rig.sent_to(101).await;
    assert_eq!(after.iter().filter(|t| t.starts_with("🏆")).count(), 1, "{after:?}");

    // The team's own route, next to the engine's.
    let status: Value = rig.http.get(format!("{}/status", rig.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["storage_calls"], rig.store.calls());
    let health = rig.http.get(format!("{}/health", rig.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn milestones_are_crossed_once() {
    let m = Milestones { every: 1000 };
    assert_eq!(m.crossed(1100, 1000), Some(1000));
    assert_eq!(m.crossed(999, 100), None);
    assert_eq!(m.crossed(2000, 1), Some(2000));
    assert_eq!(m.crossed(3500, 2000), Some(3000));
    assert_eq!(m.crossed(1500, 0), None);
    assert_eq!(m.crossed(1500, -600), None);
    assert_eq!(Milestones { every: 0 }.crossed(5000, 5000), None);
}
