//! The webhook watchdog (`jobs::watch_webhooks`) against the fake Bot API
//! over loopback, with its state in a real SQLite file: an alert when a
//! webhook falls behind or fails to deliver, once, and once again when it is
//! healthy — also with two servers checking at the same time.

use loyalty_core::Engine;
use loyalty_core::config::{Config, Secret};
use loyalty_core::domain::BotKind;
use loyalty_core::jobs::watch_webhooks;
use loyalty_core::ports::Storage;
use loyalty_core::telegram::BotCall;
use loyalty_native::fake_bot_api::{Failure, FakeBotApi, RecordedCall};
use loyalty_native::runtime;
use loyalty_native::store::sqlite::SqliteStore;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::Scratch;

const CLIENT: &str = "3001:client-token";
const ADMIN: &str = "3003:admin-token";
const ALERTS: &str = "3004:alerts-token";
const ALERT_CHAT: i64 = -100777;

fn config(api: &FakeBotApi, alerts: bool) -> Config {
    Config {
        token_client: Some(Secret::new(CLIENT)),
        admin_bot_token: Some(Secret::new(ADMIN)),
        admin_chat_id: Some(-100500),
        sentry_alert_telegram_token: alerts.then(|| Secret::new(ALERTS)),
        sentry_alert_chat_id: alerts.then_some(ALERT_CHAT),
        telegram_api_url: api.url(),
        webhook_backlog_alert: 3,
        ..Config::default()
    }
}

fn engine(config: Config, store: Arc<dyn Storage>) -> Engine {
    let telegram = Arc::new(runtime::telegram(&config).unwrap());
    runtime::engine(config, store, telegram).unwrap()
}

async fn call(engine: &Engine, bot: BotKind, method: &'static str, params: Value) -> Value {
    let params: Map<String, Value> = serde_json::from_value(params).unwrap();
    engine.send(&BotCall { bot, method, params, file: None }).await.unwrap()
}

/// The messages the alert chat got so far.
fn alerts(api: &FakeBotApi) -> Vec<String> {
    let told = |c: &RecordedCall| c.method == "sendMessage" && c.chat_id() == Some(ALERT_CHAT) && c.succeeded();
    api.calls_for(ALERTS).iter().filter(|c| told(c)).filter_map(|c| c.text().map(str::to_owned)).collect()
}

fn update(id: i64) -> Value {
    json!({ "update_id": id, "message": { "message_id": id, "date": 0, "chat": { "id": 5, "type": "private" }, "text": "hi" } })
}

#[tokio::test]
async fn the_watchdog_alerts_once_per_change_in_a_webhooks_health() {
    let api = FakeBotApi::start().await;
    let scratch = Scratch::new("watchdog");
    let store: Arc<dyn Storage> = Arc::new(scratch.store().await.unwrap());
    let engine = engine(config(&api, true), store.clone());

    // No webhook set (long polling): nothing to watch.
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 0);
    // A webhook nobody answers at, with a backlog above the threshold (3).
    let dead = "http://127.0.0.1:9/webhook/client";
    call(&engine, BotKind::Client, "setWebhook", json!({ "url": dead })).await;
    for id in 1..=4 {
        api.push_update(CLIENT, update(id));
    }
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 1, "the backlog is told");
    let told = alerts(&api);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("<b>client</b>") && told[0].contains("<b>4</b>"), "{}", told[0]);
    assert!(!told[0].contains("error"), "no delivery error yet: {}", told[0]);
    // Still behind, and then failing too: told already.
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 0);
    let failed = api.deliver_webhook(CLIENT).await;
    assert_eq!(failed[0].status, None, "{failed:?}");
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 0);
    assert_eq!(alerts(&api).len(), 1);
    // The backlog dropped, the old error is not news: all clear, once.
    call(&engine, BotKind::Client, "setWebhook", json!({ "url": dead, "drop_pending_updates": true })).await;
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 1);
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 0);
    let told = alerts(&api);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[1].contains("healthy again"), "{}", told[1]);
    // A new delivery error (a later second) is news even without a backlog; the
    // next check, with no newer error, clears it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.push_update(CLIENT, update(5));
    api.deliver_webhook(CLIENT).await;
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 1);
    let told = alerts(&api);
    assert!(told[2].contains("Connection failed") && told[2].contains("<b>1</b>"), "{}", told[2]);
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 1);
    assert!(alerts(&api)[3].contains("healthy again"));
    assert_eq!(alerts(&api).len(), 4);
}

#[tokio::test]
async fn two_servers_checking_together_tell_each_change_once() {
    let api = FakeBotApi::start().await;
    let scratch = Scratch::new("watchdog-two");
    // Two stores on one file, as two processes would have.
    let path = scratch.db();
    let open = || -> Arc<dyn Storage> { Arc::new(SqliteStore::open(&path).unwrap()) };
    let (one, two) = (engine(config(&api, true), open()), engine(config(&api, true), open()));
    call(&one, BotKind::Client, "setWebhook", json!({ "url": "http://127.0.0.1:9/webhook/client" })).await;
    for id in 1..=10 {
        api.push_update(CLIENT, update(id));
    }
    for _ in 0..5 {
        let (a, b) = tokio::join!(watch_webhooks(&one), watch_webhooks(&two));
        assert!(a.unwrap() + b.unwrap() <= 1);
    }
    assert_eq!(alerts(&api).len(), 1, "{:?}", alerts(&api));
}

#[tokio::test]
async fn without_an_alert_bot_the_admin_chat_is_told_and_a_failed_message_is_retried() {
    let api = FakeBotApi::start().await;
    let scratch = Scratch::new("watchdog-admin");
    let store: Arc<dyn Storage> = Arc::new(scratch.store().await.unwrap());
    let engine = engine(config(&api, false), store);
    call(&engine, BotKind::Client, "setWebhook", json!({ "url": "http://127.0.0.1:9/webhook/client" })).await;
    for id in 1..=4 {
        api.push_update(CLIENT, update(id));
    }
    // The message is refused (the chat is not found): the alert is not marked told…
    api.fail_method("sendMessage", 1, Failure::Status(400, "Bad Request: chat not found".into()));
    assert!(watch_webhooks(&engine).await.is_err());
    let to_admin = |api: &FakeBotApi| -> Vec<String> {
        let told = |c: &&RecordedCall| c.method == "sendMessage" && c.chat_id() == Some(-100500) && c.succeeded();
        api.calls_for(ADMIN).iter().filter(told).filter_map(|c| c.text().map(str::to_owned)).collect()
    };
    assert!(to_admin(&api).is_empty());
    // …so the next check sends it, through the admin bot, once.
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 1);
    assert_eq!(watch_webhooks(&engine).await.unwrap(), 0);
    let told = to_admin(&api);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("falling behind"), "{}", told[0]);
}
