//! Long polling against the fake Bot API over loopback HTTP, with SQLite:
//! each update is handled once, the offset moves only past handled updates,
//! a storage outage retries the same update, and a webhook stops the loop
//! with advice.

use loyalty_core::domain::TelegramUserId;
use loyalty_core::ports::{CustomerRef, ErrorReporter, StoreError, TelegramApi};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::BotCall;
use loyalty_core::{Config, Engine};
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::polling::{PollError, PollOptions, poll};
use loyalty_native::runtime;
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_native::tasks::TaskRunner;
use loyalty_native::telegram::HttpTelegram;
use loyalty_native::webhooks::ALLOWED_UPDATES;
use loyalty_testkit::{FaultyStore, RecordingReporter, TgUser, text_json};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

mod common;
use common::Scratch;

const CLIENT: &str = "1001:poll-client";
const PARTNER: &str = "1002:poll-partner";

struct Rig {
    fake: FakeBotApi,
    store: Arc<FaultyStore<SqliteStore>>,
    reporter: Arc<RecordingReporter>,
    engine: Engine,
    telegram: Arc<HttpTelegram>,
    _db: Scratch,
}

async fn rig() -> Rig {
    let fake = FakeBotApi::start().await;
    let url = fake.url();
    let config = Config::from_lookup(|k| match k {
        "TOKEN_CLIENT" => Some(CLIENT.into()),
        "TOKEN_PARTNER" => Some(PARTNER.into()),
        "TELEGRAM_API_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let db = Scratch::new("poll");
    let store = Arc::new(FaultyStore::new(SqliteStore::open(db.db()).unwrap()));
    let telegram = Arc::new(HttpTelegram::new(&config).unwrap().with_rate_limits(None));
    let reporter = Arc::new(RecordingReporter::default());
    let mut ports = runtime::ports(&config, store.clone(), telegram.clone()).unwrap();
    ports.reporter = reporter.clone() as Arc<dyn ErrorReporter>;
    let engine = Engine::new(config, ports);
    Rig { fake, store, reporter, engine, telegram, _db: db }
}

fn options() -> PollOptions {
    PollOptions { timeout_secs: 1, initial_backoff: Duration::from_millis(50), max_backoff: Duration::from_millis(200) }
}

impl Rig {
    fn start(&self) -> (CancellationToken, tokio::task::JoinHandle<Result<(), PollError>>) {
        let stop = CancellationToken::new();
        let task =
            tokio::spawn(poll(self.engine.clone(), self.telegram.clone(), TaskRunner::new(), options(), stop.clone()));
        (stop, task)
    }

    async fn registered(&self, id: i64) -> bool {
        let who = CustomerRef::Telegram(TelegramUserId(id));
        self.engine.storage().customer_summary(who, 0).await.ok().flatten().is_some()
    }

    fn replies_to(&self, chat: i64) -> usize {
        self.fake.calls_for(CLIENT).iter().filter(|c| c.method == "sendMessage" && c.chat_id() == Some(chat)).count()
    }

    /// The `offset`s of the client bot's `getUpdates` calls, in order.
    fn offsets(&self) -> Vec<i64> {
        self.fake
            .calls_for(CLIENT)
            .iter()
            .filter(|c| c.method == "getUpdates")
            .filter_map(|c| c.params.get("offset").and_then(serde_json::Value::as_i64))
            .collect()
    }
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn each_update_is_handled_once_in_order() {
    let rig = rig().await;
    let users: Vec<TgUser> = (1..=5).map(|i| TgUser::new(100 + i, &format!("User{i}"))).collect();
    for (i, u) in users.iter().enumerate() {
        rig.fake.push_update(CLIENT, text_json(i as i64 + 1, u, "/start"));
    }
    let (stop, task) = rig.start();
    eventually("all five are registered and confirmed", async || {
        rig.fake.pending_updates(CLIENT) == 0 && users.iter().all(|u| rig.replies_to(u.id) == 1)
    })
    .await;
    for u in &users {
        assert!(rig.registered(u.id).await);
    }
    // A late duplicate of an already handled update (as after a restart) has no effect.
    rig.fake.push_update(CLIENT, text_json(3, &users[2], "/start"));
    rig.fake.push_update(CLIENT, text_json(6, &TgUser::new(200, "Late"), "/start"));
    eventually("the late user is registered", async || rig.replies_to(200) == 1).await;
    stop.cancel();
    assert_eq!(task.await.unwrap(), Ok(()));
    for u in &users {
        assert_eq!(rig.replies_to(u.id), 1, "{} got exactly one reply", u.first_name);
    }
    let chats: Vec<i64> =
        rig.fake.calls_for(CLIENT).iter().filter(|c| c.method == "sendMessage").filter_map(|c| c.chat_id()).collect();
    assert_eq!(&chats[..5], &[101, 102, 103, 104, 105], "handled in order");
    let offsets = rig.offsets();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "the offset never goes back: {offsets:?}");
    assert!(rig.reporter.reports().is_empty(), "{:?}", rig.reporter.reports());
}

#[tokio::test]
async fn a_storage_outage_retries_the_same_update() {
    let rig = rig().await;
    let anna = TgUser::new(101, "Anna");
    rig.store.fail_all(Some(StoreError::Unavailable("database restarting".into())));
    rig.fake.push_update(CLIENT, text_json(1, &anna, "/start"));
    let (stop, task) = rig.start();
    eventually("the update failed a few times", async || {
        rig.reporter.reports().iter().filter(|r| r.temporary && r.context == "polling.client").count() >= 2
    })
    .await;
    assert!(!rig.registered(101).await);
    assert_eq!(rig.fake.pending_updates(CLIENT), 1, "the update is not confirmed while it fails");
    assert!(rig.offsets().iter().all(|o| *o <= 1), "the offset did not move past update 1: {:?}", rig.offsets());
    rig.store.fail_all(None);
    eventually("Anna is registered and the update confirmed", async || {
        rig.replies_to(101) == 1 && rig.fake.pending_updates(CLIENT) == 0
    })
    .await;
    stop.cancel();
    assert_eq!(task.await.unwrap(), Ok(()));
    assert!(rig.registered(101).await);
    assert_eq!(rig.replies_to(101), 1);
}

#[tokio::test]
async fn a_webhook_stops_polling_with_advice() {
    let rig = rig().await;
    let set = BotCall::new(BotKind::Partner, "setWebhook", &json!({"url": "https://example.com/webhook/partner"}));
    rig.telegram.call(&set).await.unwrap();
    let (_stop, task) = rig.start();
    let err = tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap_err();
    assert_eq!(err, PollError::WebhookActive { bot: "partner" });
    let message = err.to_string();
    assert!(message.contains("loyalty webhooks delete") && message.contains("409"), "{message}");
}

#[tokio::test]
async fn a_second_poller_is_named_as_the_problem() {
    let rig = rig().await;
    let (_stop, mut task) = rig.start();
    // Another process long-polls the client bot: Telegram ends the older request with 409.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = rig.telegram.get_updates(BotKind::Client, 0, 1, ALLOWED_UPDATES).await;
        if task.is_finished() {
            break;
        }
    }
    let err = tokio::time::timeout(Duration::from_secs(30), &mut task).await.unwrap().unwrap().unwrap_err();
    assert_eq!(err, PollError::OtherPoller { bot: "client" });
    assert!(err.to_string().contains("single `loyalty poll`"), "{err}");
}

#[tokio::test]
async fn a_polled_updates_webhook_events_wait_in_the_outbox_for_their_retries() {
    use loyalty_core::outgoing::WebhookEvent;
    use loyalty_core::ports::{Storage, WebhookOwner};
    use loyalty_testkit::RecordingWebhooks;

    let mut rig = rig().await;
    let webhooks = Arc::new(RecordingWebhooks::new());
    let mut ports = rig.engine.ports().clone();
    ports.webhooks = Some(webhooks.clone());
    rig.engine = Engine::new(rig.engine.config().clone(), ports);
    let url = "https://crm.example.com/hooks";
    let events = vec![WebhookEvent::CustomerJoined];
    loyalty_core::usecases::add_webhook(rig.engine.context(), WebhookOwner::Program, url, events, "test-1".into())
        .await
        .unwrap();
    webhooks.answer_next(Ok(500));
    rig.fake.push_update(CLIENT, text_json(1, &TgUser::new(101, "Anna"), "/start"));
    let (stop, task) = rig.start();
    eventually("the delivery was attempted", async || !webhooks.posts().is_empty()).await;
    stop.cancel();
    assert_eq!(task.await.unwrap(), Ok(()));
    let posts = webhooks.posts();
    assert_eq!(posts.len(), 1, "one attempt so far");
    let event: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(event["type"], "customer.joined");
    // Refused with a 500, the delivery waits in the outbox for its retry.
    let now = rig.engine.now();
    eventually("the attempt was recorded", async || {
        rig.store.webhooks(WebhookOwner::Program).await.unwrap()[0].last_status == Some(500)
    })
    .await;
    assert_eq!(rig.store.outbox_state(now).await.unwrap().pending, 1, "kept for the retry");
}
