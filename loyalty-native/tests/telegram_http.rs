//! `HttpTelegram` against `FakeBotApi` over real loopback HTTP, and the rate limiter.

use bytes::Bytes;
use loyalty_core::config::{Config, Secret};
use loyalty_core::ports::{TelegramApi, TelegramError};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::{BotCall, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};
use loyalty_native::fake_bot_api::{Failure, FakeBotApi};
use loyalty_native::telegram::{HttpTelegram, RateLimiter, RateLimits};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::time::Instant;

const CLIENT: &str = "1001:client-SECRET-token";
const PARTNER: &str = "1002:partner-SECRET-token";

fn config(api: &FakeBotApi) -> Config {
    Config {
        token_client: Some(Secret::new(CLIENT)),
        token_partner: Some(Secret::new(PARTNER)),
        telegram_api_url: api.url(),
        ..Config::default()
    }
}

/// A client without rate limits (tests that are not about them send freely).
fn client(api: &FakeBotApi) -> HttpTelegram {
    HttpTelegram::new(&config(api)).unwrap().with_rate_limits(None)
}

fn call(bot: BotKind, method: &'static str, params: Value) -> BotCall {
    let Value::Object(params) = params else { panic!("params must be an object") };
    BotCall { bot, method, params, file: None }
}

fn assert_no_token(e: &TelegramError) {
    let text = format!("{e} {e:?}");
    for secret in ["client-SECRET-token", "partner-SECRET-token", CLIENT, PARTNER] {
        assert!(!text.contains(secret), "token leaked in {text}");
    }
}

#[tokio::test]
async fn json_call_reaches_the_server_and_returns_the_result() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    let markup = ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![InlineKeyboardButton::callback("Balance", "balance")]],
    });
    let sent = tg.call(&BotCall::send_message(BotKind::Client, 42, "Hello <b>you</b>", Some(markup))).await.unwrap();
    assert_eq!(sent["chat"]["id"], 42);
    assert_eq!(sent["text"], "Hello <b>you</b>");
    // The result is a Message as the core reads it.
    let parsed: loyalty_core::telegram::Message = serde_json::from_value(sent.clone()).unwrap();
    assert_eq!((parsed.chat.id, parsed.chat.kind.as_str()), (42, "private"));
    assert!(parsed.from.is_some_and(|u| u.is_bot));
    let first_id = sent["message_id"].as_i64().unwrap();
    let again = tg.call(&BotCall::send_message(BotKind::Partner, 43, "next", None)).await.unwrap();
    assert!(again["message_id"].as_i64().unwrap() > first_id);

    let calls = api.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].token, CLIENT);
    assert_eq!(calls[0].method, "sendMessage");
    assert_eq!(calls[0].params["chat_id"], 42);
    assert_eq!(calls[0].params["parse_mode"], "HTML");
    assert_eq!(calls[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "balance");
    assert!(calls[0].files.is_empty());
    assert_eq!(api.calls_for(PARTNER).len(), 1);
    assert_eq!(api.calls_for(PARTNER)[0].text(), Some("next"));

    let me = tg.call(&call(BotKind::Client, "getMe", json!({}))).await.unwrap();
    assert_eq!(me["id"], 1001);
    assert_eq!(me["username"], "test1001_bot");
    api.set_username(CLIENT, "acme_loyalty_bot");
    let me = tg.call(&call(BotKind::Client, "getMe", json!({}))).await.unwrap();
    assert_eq!(me["username"], "acme_loyalty_bot");

    let answered = tg.call(&BotCall::answer_callback(BotKind::Client, "cb-1", Some("Done".into()))).await.unwrap();
    assert_eq!(answered, Value::Bool(true));
    let edited = tg.call(&BotCall::edit_message_text(BotKind::Client, 42, first_id, "edited", None)).await.unwrap();
    assert_eq!(edited["message_id"], first_id);
    assert_eq!(edited["text"], "edited");
}

#[tokio::test]
async fn send_photo_uploads_the_png_intact_as_multipart() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    // PNG signature plus bytes that trip naive parsers: CRLFs, NULs, a fake boundary.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(b"\0\0\r\n--boundary\r\n\r\n");
    png.extend((0..=255u8).cycle().take(70_000));
    let markup = ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![InlineKeyboardButton::url("Open", "https://example.com")]],
    });
    let photo = BotCall::send_photo_png(
        BotKind::Partner,
        -1001234567890,
        Bytes::from(png.clone()),
        "card.png",
        "Your <b>card</b>",
        Some(markup),
    );
    let sent = tg.call(&photo).await.unwrap();
    assert_eq!(sent["chat"]["id"], -1001234567890_i64);
    assert_eq!(sent["caption"], "Your <b>card</b>");
    assert_eq!(sent["photo"][0]["file_size"], png.len());

    let calls = api.take_calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!((c.token.as_str(), c.method.as_str()), (PARTNER, "sendPhoto"));
    assert_eq!(c.files.len(), 1);
    assert_eq!(c.files[0].0, "photo");
    assert_eq!(c.files[0].1, "card.png");
    assert!(c.files[0].2 == png, "the PNG bytes changed in transit");
    // Text fields arrive as JSON where they are JSON.
    assert_eq!(c.params["chat_id"], -1001234567890_i64);
    assert_eq!(c.params["caption"], "Your <b>card</b>");
    assert_eq!(c.params["reply_markup"]["inline_keyboard"][0][0]["url"], "https://example.com");
    assert!(api.calls().is_empty(), "take_calls empties the record");
}

#[tokio::test]
async fn telegram_errors_map_onto_the_port_errors() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    let msg = BotCall::send_message(BotKind::Client, 7, "hi", None);

    api.fail_next(1, Failure::RetryAfter(7));
    let e = tg.call(&msg).await.unwrap_err();
    assert_eq!(e, TelegramError::RetryAfter(7));
    assert!(e.is_temporary());

    api.fail_next(1, Failure::Status(403, "Forbidden: bot was blocked by the user".into()));
    let e = tg.call(&msg).await.unwrap_err();
    assert_eq!(e, TelegramError::Api { code: 403, description: "Forbidden: bot was blocked by the user".into() });
    assert!(!e.is_temporary());

    api.fail_next(1, Failure::Status(500, "Internal Server Error".into()));
    let e = tg.call(&msg).await.unwrap_err();
    assert!(matches!(&e, TelegramError::Transport(text) if text.contains("500")), "{e:?}");
    assert!(e.is_temporary());
    assert_no_token(&e);

    api.block_chat(CLIENT, 7);
    let e = tg.call(&msg).await.unwrap_err();
    assert!(matches!(&e, TelegramError::Api { code: 403, .. }), "{e:?}");

    // A request the server rejects as malformed.
    let e = tg.call(&call(BotKind::Client, "sendMessage", json!({"chat_id": 8}))).await.unwrap_err();
    assert_eq!(e, TelegramError::Api { code: 400, description: "Bad Request: message text is empty".into() });

    let e = tg.call(&call(BotKind::Client, "noSuchMethod", json!({}))).await.unwrap_err();
    assert_eq!(e, TelegramError::Api { code: 404, description: "Not Found".into() });

    // Only the failures were injected: every call was recorded with its status.
    let statuses: Vec<u16> = api.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![429, 403, 500, 403, 400, 404]);
}

#[tokio::test]
async fn unknown_tokens_and_unconfigured_bots() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    api.revoke(CLIENT);
    let e = tg.call(&BotCall::send_message(BotKind::Client, 1, "hi", None)).await.unwrap_err();
    assert_eq!(e, TelegramError::Api { code: 401, description: "Unauthorized".into() });
    assert_no_token(&e);

    // No token configured for the admin bot: nothing is sent.
    let before = api.calls().len();
    let e = tg.call(&BotCall::send_message(BotKind::Admin, 1, "hi", None)).await.unwrap_err();
    assert_eq!(e, TelegramError::NoToken("admin"));
    assert!(!tg.has_bot(BotKind::Admin));
    assert_eq!(api.calls().len(), before);
    let debug = format!("{tg:?}");
    assert!(!debug.contains("SECRET-token"), "Debug shows a token: {debug}");
}

#[tokio::test]
async fn updates_of_kinds_not_allowed_are_dropped() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    let chat = json!({"message_id": 1, "date": 0, "chat": {"id": 9, "type": "private"}, "text": "x"});
    api.push_update(CLIENT, json!({ "edited_message": chat }));
    let wanted = api.push_update(CLIENT, json!({ "message": chat }));
    let batch = tg.get_updates(BotKind::Client, 0, 0, &["message", "callback_query"]).await.unwrap();
    assert_eq!(batch.updates.iter().map(|u| u.update_id).collect::<Vec<_>>(), vec![wanted]);
    assert_eq!(api.pending_updates(CLIENT), 1, "the edited message was dropped, not kept for later");
}

#[tokio::test]
async fn timeouts_and_unreachable_servers_are_temporary_and_hide_the_token() {
    let api = FakeBotApi::start().await;
    let tg = client(&api).with_request_timeout(Duration::from_millis(300));
    api.fail_next(1, Failure::Delay(Duration::from_secs(3)));
    let e = tg.call(&BotCall::send_message(BotKind::Client, 5, "slow", None)).await.unwrap_err();
    assert!(matches!(&e, TelegramError::Transport(text) if text.contains("timed out")), "{e:?}");
    assert!(e.is_temporary());
    assert_no_token(&e);

    // A port nobody listens on: bind one, then free it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let tg = HttpTelegram::new(&Config { telegram_api_url: dead, ..config(&api) }).unwrap();
    let e = tg.call(&BotCall::send_message(BotKind::Partner, 5, "hi", None)).await.unwrap_err();
    assert!(matches!(&e, TelegramError::Transport(text) if text.contains("connection failed")), "{e:?}");
    assert_no_token(&e);
}

#[tokio::test]
async fn get_updates_honours_offsets_and_skips_what_does_not_parse() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    let msg = |text: &str| {
        json!({"message": {"message_id": 1, "date": 0, "chat": {"id": 9, "type": "private"},
                           "from": {"id": 9, "is_bot": false, "first_name": "A"}, "text": text}})
    };
    assert_eq!(api.push_update(CLIENT, msg("one")), 1);
    // `message` without its required `chat`: does not parse.
    assert_eq!(api.push_update(CLIENT, json!({"message": {"message_id": 2, "date": 0}})), 2);
    assert_eq!(api.push_update(CLIENT, msg("three")), 3);
    api.push_update(PARTNER, msg("for the partner bot"));

    let batch = tg.get_updates(BotKind::Client, 0, 0, &["message"]).await.unwrap();
    let ids: Vec<i64> = batch.updates.iter().map(|u| u.update_id).collect();
    assert_eq!(ids, vec![1, 3]);
    assert_eq!(batch.skipped, vec![2]);
    assert_eq!(batch.next_offset(), Some(4));
    assert_eq!(batch.updates[1].message.as_ref().and_then(|m| m.text.as_deref()), Some("three"));

    // Unconfirmed updates are served again; an offset confirms them.
    let again = tg.get_updates(BotKind::Client, 0, 0, &[]).await.unwrap();
    assert_eq!(again.updates.len() + again.skipped.len(), 3);
    let partial = tg.get_updates(BotKind::Client, 3, 0, &[]).await.unwrap();
    assert_eq!(partial.updates.iter().map(|u| u.update_id).collect::<Vec<_>>(), vec![3]);
    assert_eq!(api.pending_updates(CLIENT), 1);
    let empty = tg.get_updates(BotKind::Client, 4, 0, &[]).await.unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.next_offset(), None);
    assert_eq!(api.pending_updates(CLIENT), 0);
    assert_eq!(api.pending_updates(PARTNER), 1, "queues are per token");

    let recorded = api.calls_for(CLIENT);
    assert_eq!(recorded[0].method, "getUpdates");
    assert_eq!(recorded[0].params["allowed_updates"], json!(["message"]));
    assert_eq!(recorded[2].params["offset"], 3);
}

#[tokio::test]
async fn long_polls_wait_for_updates_beyond_the_request_timeout() {
    let api = FakeBotApi::start().await;
    // The long poll gets its own timeout plus a margin, not the short request timeout.
    let tg = client(&api).with_request_timeout(Duration::from_millis(200));

    let started = Instant::now();
    let empty = tg.get_updates(BotKind::Client, 0, 1, &[]).await.unwrap();
    assert!(empty.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900), "returned before the poll timeout");

    let poller = {
        let tg = tg.clone();
        tokio::spawn(async move { tg.get_updates(BotKind::Client, 0, 30, &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let id = api.push_update(
        CLIENT,
        json!({"callback_query": {"id": "q", "from": {"id": 1, "first_name": "A"}, "chat_instance": "c", "data": "x"}}),
    );
    let batch = poller.await.unwrap().unwrap();
    assert_eq!(batch.updates.len(), 1);
    assert_eq!(batch.updates[0].update_id, id);
    assert!(started.elapsed() < Duration::from_secs(20), "the long poll did not return on the new update");
}

#[tokio::test]
async fn a_newer_poll_terminates_the_older_one() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    let first = {
        let tg = tg.clone();
        tokio::spawn(async move { tg.get_updates(BotKind::Client, 0, 30, &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tg.get_updates(BotKind::Client, 0, 1, &[]).await.unwrap();
    assert!(second.is_empty());
    match first.await.unwrap() {
        Err(TelegramError::Api { code: 409, description }) => {
            assert!(description.contains("terminated by other getUpdates request"), "{description}")
        }
        other => panic!("expected 409, got {other:?}"),
    }

    // Dropping the server ends a waiting long poll (with no updates) instead of leaving it hanging.
    let waiting = {
        let tg = tg.clone();
        tokio::spawn(async move { tg.get_updates(BotKind::Partner, 0, 40, &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    drop(api);
    let _ = waiting.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(30), "the long poll outlived the server");
}

#[tokio::test]
async fn get_updates_conflicts_with_an_active_webhook() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    let set = call(BotKind::Client, "setWebhook", json!({"url": "https://bots.example.com/webhook/client"}));
    assert_eq!(tg.call(&set).await.unwrap(), Value::Bool(true));
    let e = tg.get_updates(BotKind::Client, 0, 0, &[]).await.unwrap_err();
    assert_eq!(
        e,
        TelegramError::Api {
            code: 409,
            description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to \
                          delete the webhook first"
                .into()
        }
    );
    tg.call(&call(BotKind::Client, "deleteWebhook", json!({}))).await.unwrap();
    assert!(tg.get_updates(BotKind::Client, 0, 0, &[]).await.is_ok());
}

#[tokio::test]
async fn form_urlencoded_and_query_parameters_are_understood() {
    let api = FakeBotApi::start().await;
    let http = reqwest::Client::new();
    let res: Value = http
        .post(format!("{}/bot{CLIENT}/sendMessage?parse_mode=HTML", api.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("chat_id=12&text=2+%2B+2&reply_markup=%7B%22remove_keyboard%22%3Atrue%7D")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["ok"], true);
    assert_eq!(res["result"]["text"], "2 + 2");
    let c = &api.calls()[0];
    assert_eq!(c.params["chat_id"], 12);
    assert_eq!(c.params["parse_mode"], "HTML");
    assert_eq!(c.params["reply_markup"], json!({"remove_keyboard": true}));

    let res: Value = http.get(format!("{}/bot{CLIENT}/getMe", api.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(res["result"]["id"], 1001);
    let res = http.get(format!("{}/bot{CLIENT}", api.url())).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = http.get(format!("{}/botnot-a-token/getMe", api.url())).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
}

// ---- rate limiting -------------------------------------------------------------------------

#[test]
fn per_chat_messages_are_spaced_by_the_interval() {
    let limiter = RateLimiter::new(RateLimits::TELEGRAM);
    let t0 = Instant::now();
    let bot = BotKind::Client;
    assert_eq!(limiter.try_acquire_at(bot, Some(1), t0), Ok(()));
    assert_eq!(limiter.try_acquire_at(bot, Some(1), t0), Err(t0 + Duration::from_secs(1)));
    assert_eq!(limiter.try_acquire_at(bot, Some(1), t0 + Duration::from_millis(999)), Err(t0 + Duration::from_secs(1)));
    // Other chats and other bots are not held back.
    assert_eq!(limiter.try_acquire_at(bot, Some(2), t0), Ok(()));
    assert_eq!(limiter.try_acquire_at(BotKind::Partner, Some(1), t0), Ok(()));
    assert_eq!(limiter.try_acquire_at(bot, Some(1), t0 + Duration::from_secs(1)), Ok(()));
    // Chats whose interval has passed are forgotten (chat 2's has, chat 1 was just granted).
    assert_eq!(limiter.tracked_chats(bot), 1);
    assert_eq!(limiter.try_acquire_at(bot, None, t0 + Duration::from_secs(5)), Ok(()));
    assert_eq!(limiter.tracked_chats(bot), 0);
}

#[test]
fn at_most_thirty_messages_per_second_per_bot() {
    let limiter = RateLimiter::new(RateLimits::TELEGRAM);
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    for i in 0..30 {
        assert_eq!(limiter.try_acquire_at(BotKind::Client, Some(i), t0 + ms(i as u64 * 10)), Ok(()), "message {i}");
    }
    // The 31st waits until the first leaves the one-second window.
    assert_eq!(limiter.try_acquire_at(BotKind::Client, Some(100), t0 + ms(300)), Err(t0 + ms(1000)));
    assert_eq!(limiter.try_acquire_at(BotKind::Admin, Some(100), t0 + ms(300)), Ok(()), "limits are per bot");
    assert_eq!(limiter.try_acquire_at(BotKind::Client, Some(100), t0 + ms(1000)), Ok(()));
    assert_eq!(limiter.try_acquire_at(BotKind::Client, Some(101), t0 + ms(1005)), Err(t0 + ms(1010)));
}

#[test]
fn a_pause_after_429_holds_back_every_chat() {
    let limiter = RateLimiter::new(RateLimits::TELEGRAM);
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(5);
    limiter.pause_until(BotKind::Client, until);
    limiter.pause_until(BotKind::Client, t0 + Duration::from_secs(1)); // never shortens
    assert_eq!(limiter.try_acquire_at(BotKind::Client, Some(1), t0), Err(until));
    assert_eq!(limiter.try_acquire_at(BotKind::Client, None, t0 + Duration::from_secs(4)), Err(until));
    assert_eq!(limiter.try_acquire_at(BotKind::Partner, Some(1), t0), Ok(()));
    assert_eq!(limiter.try_acquire_at(BotKind::Client, Some(1), until), Ok(()));
}

#[tokio::test]
async fn the_client_spaces_messages_to_one_chat_and_pauses_after_429() {
    let api = FakeBotApi::start().await;
    let tg = HttpTelegram::new(&config(&api)).unwrap();
    let started = Instant::now();
    for text in ["one", "two", "three"] {
        tg.call(&BotCall::send_message(BotKind::Client, 77, text, None)).await.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(1900), "3 messages to one chat within {:?}", started.elapsed());

    // Different chats go out without waiting for each other: spaced like one chat's, five messages would
    // take at least 4 s; unspaced they take milliseconds, so 3 s leaves a loaded machine plenty of room.
    let started = Instant::now();
    for chat in 1..=5 {
        tg.call(&BotCall::send_message(BotKind::Partner, chat, "hi", None)).await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    // A 429 pauses the bot for every caller, for any chat.
    api.fail_next(1, Failure::RetryAfter(1));
    let e = tg.call(&BotCall::send_message(BotKind::Partner, 1000, "a", None)).await.unwrap_err();
    assert_eq!(e, TelegramError::RetryAfter(1));
    let started = Instant::now();
    tg.call(&BotCall::send_message(BotKind::Partner, 2000, "b", None)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "did not wait for retry_after");
    let mut params = Map::new();
    params.insert("chat_id".into(), json!(3000));
    params.insert("text".into(), json!("c"));
    tg.call(&BotCall { bot: BotKind::Partner, method: "sendMessage", params, file: None }).await.unwrap();
}

#[tokio::test]
async fn wait_for_sees_calls_made_in_the_background() {
    let api = FakeBotApi::start().await;
    let tg = client(&api);
    let background = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tg.call(&BotCall::send_message(BotKind::Client, 3, "later", None)).await
    });
    let sent = api.wait_for(Duration::from_secs(20), |calls| calls.iter().any(|c| c.text() == Some("later"))).await;
    assert!(sent);
    background.await.unwrap().unwrap();
    assert!(!api.wait_for(Duration::from_millis(50), |calls| calls.len() > 1).await);
}
