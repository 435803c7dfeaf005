//! The outbox on the model store with a stepped clock: an update whose
//! deferred work died is processed again from its kept body, its ledger effect
//! replayed (not doubled) and its messages delivered; messages Telegram
//! refuses for good are marked failed, temporary failures retried later; a
//! second processing never repeats a call that cannot be repeated.

use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::outbox::{LEASE_SECS, STALE_UPDATE_SECS, decode, encode};
use loyalty_core::ports::{Clock, StaleUpdates, TelegramError};
use loyalty_core::telegram::BotCall;
use loyalty_core::{Bots, Engine, Task};
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser};

fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}

fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}

/// Anna signed up, Linh an approved partner; the recorded calls cleared.
async fn program() -> Harness {
    let h = Harness::new(TestEnv::new());
    h.say(Client, &anna(), "/start").await;
    h.say(Partner, &linh(), "/apply Pho 24; cafe").await;
    let id = h.engine().storage().list_partners(None).await.unwrap()[0].id;
    h.press(Admin, &TgUser::new(ADMIN_CHAT, "Admin"), &format!("pa:{id}")).await;
    h.env.telegram.take();
    h
}

/// A credit of 50 000 to Anna by Linh, answered but with its deferred work
/// lost (the process died after the response).
async fn credit_and_die(h: &Harness, update_id: i64) -> loyalty_core::webhook::WebhookResponse {
    let code = h.code(&anna()).await.unwrap();
    let update = loyalty_testkit::text_json(update_id, &linh(), &format!("/credit {code} 50000"));
    let req = h.webhook_request(Partner, serde_json::to_vec(&update).unwrap());
    let answered = h.engine().handle_webhook(Partner, req).await;
    assert_eq!(answered.response.status(), 200);
    assert!(!answered.response.body().is_empty(), "the reply rides in the response");
    assert!(matches!(answered.deferred.as_slice(), [Task::Deliver(_)]), "{:?}", answered.deferred);
    answered
}

#[tokio::test]
async fn an_update_whose_deferred_work_died_is_processed_again_once() {
    let h = program().await;
    let balance = h.balance(&anna()).await;
    let answered = credit_and_die(&h, 9_001).await;
    let notice = answered.deferred[0].calls();
    assert_eq!(notice.iter().filter_map(BotCall::chat_id).collect::<Vec<_>>(), [anna().id], "Anna's notice");
    drop(answered);
    let credited = h.balance(&anna()).await;
    assert!(credited > balance);

    // Not before the update is stale: it may still be finishing elsewhere.
    h.advance(STALE_UPDATE_SECS - 1);
    h.engine().maintenance_pass(0).await;
    assert!(h.env.telegram.calls().iter().all(|c| c.chat_id() != Some(anna().id)), "too early");

    h.advance(2);
    h.engine().maintenance_pass(0).await;
    let to_anna: Vec<String> = h
        .env
        .telegram
        .calls()
        .iter()
        .filter(|c| c.chat_id() == Some(anna().id))
        .filter_map(|c| c.text().map(str::to_string))
        .collect();
    assert_eq!(to_anna.len(), 1, "Anna told once: {to_anna:?}");
    assert_eq!(to_anna[0], notice[0].text().unwrap(), "the same words");
    assert_eq!(h.balance(&anna()).await, credited, "the credit replayed, not doubled");
    // Finished: later passes do nothing more.
    h.advance(STALE_UPDATE_SECS * 3);
    h.engine().maintenance_pass(0).await;
    assert_eq!(h.env.telegram.calls().iter().filter(|c| c.chat_id() == Some(anna().id)).count(), 1);
    assert_eq!(h.env.storage.outbox_state(h.env.clock.now()).await.unwrap().pending, 0);
}

/// A process that does not run the partner bot (the client Worker's engine)
/// leaves a partner's unfinished update alone: not processed, not finished,
/// there for a process that runs the partner bot (the admin Worker's Cron
/// Trigger).
#[tokio::test]
async fn an_unfinished_update_of_a_bot_not_served_is_left_to_a_process_that_serves_it() {
    let h = program().await;
    let answered = credit_and_die(&h, 9_006).await;
    let notice = answered.deferred[0].calls();
    drop(answered);
    let credited = h.balance(&anna()).await;
    let client_only = Engine::serving(h.engine().config().clone(), h.engine().ports().clone(), Bots::CLIENT);

    h.advance(STALE_UPDATE_SECS + 1);
    client_only.maintenance_pass(0).await;
    assert!(h.env.telegram.calls().iter().all(|c| c.chat_id() != Some(anna().id)), "not processed there");
    let unfinished = StaleUpdates { before: h.env.clock.now().plus(1), now: h.env.clock.now(), limit: 10 };
    let listed = h.env.storage.stale_updates(unfinished).await.unwrap();
    assert_eq!(listed.iter().map(|u| u.update_id).collect::<Vec<_>>(), [9_006], "still unfinished");

    h.advance(STALE_UPDATE_SECS + 1);
    h.engine().maintenance_pass(0).await;
    let to_anna: Vec<_> = h.env.telegram.calls().into_iter().filter(|c| c.chat_id() == Some(anna().id)).collect();
    assert_eq!(to_anna.len(), 1, "recovered by a process that serves the partner bot");
    assert_eq!(to_anna[0].text(), notice[0].text());
    assert_eq!(h.balance(&anna()).await, credited, "replayed, not doubled");
}

#[tokio::test]
async fn a_finished_update_is_not_processed_again() {
    let h = program().await;
    let answered = credit_and_die(&h, 9_002).await;
    for task in answered.deferred {
        h.engine().run_task(task).await;
    }
    assert_eq!(h.env.telegram.calls().iter().filter(|c| c.chat_id() == Some(anna().id)).count(), 1);
    h.advance(STALE_UPDATE_SECS * 2);
    h.engine().maintenance_pass(0).await;
    assert_eq!(h.env.telegram.calls().iter().filter(|c| c.chat_id() == Some(anna().id)).count(), 1, "once");
}

#[tokio::test]
async fn refused_messages_fail_and_unreachable_ones_wait() {
    let h = program().await;
    // Anna blocked the bot: her notice fails for good, once.
    h.env.telegram.fail_next(TelegramError::Api { code: 403, description: "Forbidden: bot was blocked".into() });
    for task in credit_and_die(&h, 9_003).await.deferred {
        h.engine().run_task(task).await;
    }
    let now = h.env.clock.now();
    let state = h.env.storage.outbox_state(now).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 1), "{state:?}");
    // Telegram unreachable: the notice waits and goes out on a later pass.
    for _ in 0..4 {
        h.env.telegram.fail_next(TelegramError::Transport("connection refused".into()));
    }
    for task in credit_and_die(&h, 9_004).await.deferred {
        h.engine().run_task(task).await;
    }
    let state = h.env.storage.outbox_state(h.env.clock.now()).await.unwrap();
    assert_eq!(state.pending, 1, "{state:?}");
    assert!(h.env.telegram.calls().iter().all(|c| c.chat_id() != Some(anna().id)), "not delivered yet");
    h.advance(LEASE_SECS);
    h.engine().maintenance_pass(0).await;
    let delivered = h.env.telegram.calls().iter().filter(|c| c.chat_id() == Some(anna().id)).count();
    assert_eq!(delivered, 1, "delivered by the pass");
    assert_eq!(h.env.storage.outbox_state(h.env.clock.now()).await.unwrap().pending, 0);
}

#[tokio::test]
async fn a_second_processing_makes_no_second_api_key() {
    let h = program().await;
    let update = loyalty_testkit::text_json(9_005, &linh(), "/apikey");
    let req = h.webhook_request(Partner, serde_json::to_vec(&update).unwrap());
    let answered = h.engine().handle_webhook(Partner, req).await;
    assert_eq!(answered.response.status(), 200);
    let reply = String::from_utf8_lossy(answered.response.body()).into_owned();
    let key = reply.split(['<', '>']).find(|w| w.starts_with("lk_")).expect("the key in the reply").to_string();
    drop(answered); // died before finishing
    let summary = || async {
        let req = http::Request::get("/api/v1/partner/summary")
            .header("authorization", format!("Bearer {key}"))
            .body(bytes::Bytes::new())
            .unwrap();
        h.engine().handle_api(req).await.response.status()
    };
    assert_eq!(summary().await, 200, "the key works");
    h.advance(STALE_UPDATE_SECS + 1);
    h.engine().maintenance_pass(0).await;
    assert_eq!(summary().await, 200, "the key the partner was shown still works");
    assert!(h.env.telegram.calls().iter().all(|c| c.chat_id() != Some(linh().id)), "nothing re-sent");
    let stale = StaleUpdates { before: h.env.clock.now().plus(1_000), now: h.env.clock.now(), limit: 10 };
    assert!(h.env.storage.stale_updates(stale).await.unwrap().is_empty(), "finished with nothing");
}

#[test]
fn payloads_round_trip_calls_photos_and_answers() {
    let photo =
        BotCall::send_photo_png(Client, 5, bytes::Bytes::from_static(b"\x89PNG..."), "card.png", "<b>Card</b>", None);
    let answer = Task::Answer {
        chat_id: 5,
        customer: loyalty_core::domain::CustomerId(3),
        language: loyalty_core::domain::Language::Vi,
        question: "Điểm của tôi?".into(),
    };
    for task in [Task::Call(BotCall::send_message(Partner, -100, "hi ✓", None)), Task::Call(photo), answer] {
        let message = encode(&task).expect("a message");
        assert_eq!(decode(&message.payload), Some(task));
    }
    assert_eq!(encode(&Task::Broadcast(loyalty_core::domain::BroadcastId(1))), None);
    for bad in [
        "",
        "{}",
        "[1]",
        r#"{"call":{"bot":"client","method":"launchRockets","params":{}}}"#,
        r#"{"call":{"bot":"nobody","method":"sendMessage","params":{}}}"#,
        r#"{"call":{"bot":"client","method":"sendPhoto","params":{},"file":{"field":"photo","file_name":"a","content_type":"image/png","hex":"zz"}}}"#,
    ] {
        assert_eq!(decode(bad), None, "{bad}");
    }
}
