//! Outgoing webhooks on the model store with a stepped clock: an event goes
//! through the outbox to every endpoint subscribed to it, signed with each
//! endpoint's secret, once; a failing endpoint is retried on the schedule for
//! a day and then given up; a removed one gets nothing more; an update whose
//! deferred work died publishes its events when processed again, under the
//! same event id.

use loyalty_core::Task;
use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::domain::{PartnerId, TelegramUserId};
use loyalty_core::outbox::STALE_UPDATE_SECS;
use loyalty_core::outgoing::{self, SIGNATURE_HEADER, WebhookEvent};
use loyalty_core::ports::{
    Clock, PartnerRef, RemoveWebhook, Webhook, WebhookOwner, WebhookPost, WebhookPostError, WebhookTargets,
};
use loyalty_core::stores::memory::MemoryStore;
use loyalty_core::usecases;
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, FaultyStore, TestEnv, TgUser, test_config};
use serde_json::Value;
use std::sync::Arc;

fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}

fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}

/// Anna signed up, Linh an approved partner; the recorded calls and posts cleared.
async fn program() -> (Harness, PartnerId) {
    program_in(TestEnv::new()).await
}

/// [`program`] in `env`.
async fn program_in(env: TestEnv) -> (Harness, PartnerId) {
    let h = Harness::new(env);
    h.say(Client, &anna(), "/start").await;
    h.say(Partner, &linh(), "/apply Pho 24; cafe").await;
    let id = h.engine().storage().list_partners(None).await.unwrap()[0].id;
    h.press(Admin, &TgUser::new(ADMIN_CHAT, "Admin"), &format!("pa:{id}")).await;
    h.env.telegram.take();
    h.env.webhooks.take();
    (h, id)
}

/// Registers `url` for `events` of `owner`, each call under a key of its own.
async fn add(h: &Harness, owner: WebhookOwner, url: &str, events: &[WebhookEvent]) -> Webhook {
    static KEYS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let key = format!("test-hook-{}", KEYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let added = usecases::add_webhook(h.engine().context(), owner, url, events.to_vec(), key).await.unwrap();
    assert!(!added.replayed, "a fresh key");
    added.webhook
}

fn linh_owner() -> WebhookOwner {
    WebhookOwner::Partner(PartnerRef::Telegram(TelegramUserId(linh().id)))
}

async fn credit(h: &Harness, amount: i64) {
    let code = h.code(&anna()).await.unwrap();
    h.say(Partner, &linh(), &format!("/credit {code} {amount}")).await;
}

fn header<'a>(post: &'a WebhookPost, name: &str) -> &'a str {
    post.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or("")
}

fn body(post: &WebhookPost) -> Value {
    serde_json::from_slice(&post.body).unwrap()
}

async fn program_endpoint(h: &Harness, id: loyalty_core::domain::WebhookId) -> Webhook {
    let all = h.engine().storage().webhooks(WebhookOwner::Program).await.unwrap();
    all.into_iter().find(|w| w.id == id).expect("the endpoint is listed")
}

#[tokio::test]
async fn a_credit_reaches_each_subscribed_endpoint_once_signed_with_its_secret() {
    let (h, partner) = program().await;
    let all = add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &WebhookEvent::ALL).await;
    let tiers = add(&h, WebhookOwner::Program, "https://tiers.example.com/hooks", &[WebhookEvent::TierChanged]).await;
    let own = add(&h, linh_owner(), "https://pho24.example.com/loyalty", &[WebhookEvent::PointsCredited]).await;
    assert_ne!(all.secret, own.secret);

    credit(&h, 50_000).await;
    let posts = h.env.webhooks.take();
    let to = |url: &str| posts.iter().filter(|p| p.url == url).count();
    assert_eq!(to(&all.url), 1, "{posts:?}");
    assert_eq!(to(&own.url), 1, "the partner's endpoint hears of its own credit");
    assert_eq!(to(&tiers.url), 0, "not subscribed to credits");
    let now = h.env.clock.now();
    for post in &posts {
        let (secret, other) = if post.url == all.url { (&all.secret, &own.secret) } else { (&own.secret, &all.secret) };
        let signed = header(post, SIGNATURE_HEADER);
        assert_eq!(outgoing::verify(secret, signed, &post.body, now, 300), Ok(now), "{signed}");
        assert!(outgoing::verify(other, signed, &post.body, now, 300).is_err(), "another endpoint's secret");
        assert_eq!(header(post, "Loyalty-Event"), "points.credited");
        let event = body(post);
        assert_eq!(event["type"], "points.credited");
        assert_eq!(header(post, "Loyalty-Event-Id"), event["id"].as_str().unwrap());
        assert_eq!(event["partner_id"], partner.0);
        assert_eq!(event["data"]["customer"]["code"], h.code(&anna()).await.unwrap().as_str());
        assert!(event["data"]["entry"]["amount"].as_i64().unwrap() > 0);
        assert_eq!(event["data"]["balance"], h.balance(&anna()).await);
        assert_eq!(event["id"], format!("evt_credited_{}", event["data"]["entry"]["id"]));
    }
    assert_eq!(body(&posts[0]), body(&posts[1]), "one event, the same body");

    let seen = program_endpoint(&h, all.id).await;
    assert_eq!((seen.last_status, seen.last_error.as_deref()), (Some(200), None));
    assert_eq!(seen.last_success_at, Some(now));
    assert_eq!(program_endpoint(&h, tiers.id).await.last_attempt_at, None);
    let state = h.env.storage.outbox_state(now).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 0), "the event and its deliveries are done");

    // Later business goes out again; a sign-up goes to the program only.
    h.say(Client, &TgUser::new(102, "Binh"), "/start").await;
    let posts = h.env.webhooks.take();
    assert_eq!(posts.iter().map(|p| p.url.as_str()).collect::<Vec<_>>(), [all.url.as_str()]);
    assert_eq!(body(&posts[0])["type"], "customer.joined");
}

#[tokio::test]
async fn a_redelivered_update_publishes_nothing_more() {
    let (h, _) = program().await;
    let h = h.deliver_twice(true);
    add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &WebhookEvent::ALL).await;
    credit(&h, 50_000).await;
    assert_eq!(h.env.webhooks.take().len(), 1, "one delivery for one credit delivered twice");
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_on_the_schedule_for_a_day_then_given_up() {
    let (h, _) = program().await;
    let w = add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &[WebhookEvent::PointsCredited]).await;
    for _ in 0..20 {
        h.env.webhooks.answer_next(Ok(503));
    }
    let first = h.env.clock.now();
    credit(&h, 50_000).await;
    assert_eq!(h.env.webhooks.take().len(), 1);
    let seen = program_endpoint(&h, w.id).await;
    assert_eq!((seen.last_status, seen.last_error.as_deref()), (Some(503), Some("HTTP 503")));
    assert_eq!(seen.last_success_at, None);
    assert_eq!(h.env.storage.outbox_state(first).await.unwrap().pending, 1, "waiting for its retry");

    // Not before a minute has passed.
    h.advance(59);
    h.engine().drain_outbox(10).await;
    assert!(h.env.webhooks.posts().is_empty(), "too early");
    h.advance(1);
    h.engine().drain_outbox(10).await;
    assert_eq!(h.env.webhooks.take().len(), 1, "the second attempt, a minute after the first");

    // Then every drain once due, until a day after the first attempt.
    let mut attempts = 2;
    for _ in 0..40 {
        h.advance(3_600);
        h.engine().drain_outbox(10).await;
        let posts = h.env.webhooks.take();
        assert!(posts.len() <= 1);
        if !posts.is_empty() {
            attempts += 1;
            assert!(h.env.clock.now().0 <= first.0 + outgoing::RETRY_WINDOW_SECS, "no attempt after a day");
            let signed = header(&posts[0], SIGNATURE_HEADER);
            let now = h.env.clock.now();
            assert_eq!(outgoing::verify(&w.secret, signed, &posts[0].body, now, 300), Ok(now), "signed anew");
        }
    }
    // 0 s, 1 min, then hourly drains: 5 min, 30 min, 2 h, 5 h, 8 h and 8 h pauses fit in a day.
    assert!((6..=9).contains(&attempts), "{attempts} attempts");
    let state = h.env.storage.outbox_state(h.env.clock.now()).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 1), "given up and kept as failed");
    let seen = program_endpoint(&h, w.id).await;
    assert_eq!(seen.last_status, Some(503));
    assert!(h.env.reporter.reports().is_empty(), "an endpoint's failure is its owner's, not an error to report");
}

#[tokio::test]
async fn no_answer_is_recorded_and_a_later_success_clears_the_error() {
    let (h, _) = program().await;
    let w = add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &[WebhookEvent::PointsCredited]).await;
    h.env.webhooks.answer_next(Err(WebhookPostError::Unreachable("timed out".into())));
    credit(&h, 50_000).await;
    let seen = program_endpoint(&h, w.id).await;
    assert_eq!(seen.last_status, None);
    assert!(seen.last_error.as_deref().unwrap().contains("timed out"), "{:?}", seen.last_error);
    h.advance(60);
    h.engine().drain_outbox(10).await;
    let seen = program_endpoint(&h, w.id).await;
    assert_eq!((seen.last_status, seen.last_error), (Some(200), None));
    assert_eq!(seen.last_success_at, Some(h.env.clock.now()));
    assert_eq!(h.env.webhooks.take().len(), 2);
}

#[tokio::test]
async fn a_removed_endpoint_gets_no_more_retries() {
    let (h, _) = program().await;
    let w = add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &[WebhookEvent::PointsCredited]).await;
    h.env.webhooks.answer_next(Ok(500));
    credit(&h, 50_000).await;
    assert_eq!(h.env.webhooks.take().len(), 1);
    let now = h.env.clock.now();
    h.engine().storage().remove_webhook(RemoveWebhook { owner: WebhookOwner::Program, id: w.id, now }).await.unwrap();
    h.advance(60);
    h.engine().drain_outbox(10).await;
    assert!(h.env.webhooks.posts().is_empty(), "removed: nothing more");
    let state = h.env.storage.outbox_state(h.env.clock.now()).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 1));
    let targets = WebhookTargets { event: WebhookEvent::PointsCredited, partner: None };
    assert!(h.engine().storage().webhook_targets(targets).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_update_whose_deferred_work_died_publishes_when_processed_again() {
    let (h, _) = program().await;
    let w = add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &WebhookEvent::ALL).await;
    let code = h.code(&anna()).await.unwrap();
    let update = loyalty_testkit::text_json(9_001, &linh(), &format!("/credit {code} 50000"));
    let req = h.webhook_request(Partner, serde_json::to_vec(&update).unwrap());
    let answered = h.engine().handle_webhook(Partner, req).await;
    let [Task::Deliver(delivery)] = answered.deferred.as_slice() else { panic!("{:?}", answered.deferred) };
    let published: Vec<_> = delivery
        .tasks
        .iter()
        .filter_map(|t| match t {
            Task::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(published.len(), 1, "the credit's event rides with the update's messages");
    drop(answered); // the process died before its deferred work
    assert!(h.env.webhooks.posts().is_empty());

    h.advance(STALE_UPDATE_SECS + 1);
    h.engine().maintenance_pass(0).await;
    let posts = h.env.webhooks.take();
    assert_eq!(posts.len(), 1, "published once, by the second processing");
    assert_eq!(body(&posts[0])["id"], published[0].id.as_str(), "the same event id: receivers can tell");
    assert_eq!(posts[0].url, w.url);
    h.advance(STALE_UPDATE_SECS * 3);
    h.engine().maintenance_pass(0).await;
    assert!(h.env.webhooks.posts().is_empty(), "finished");
}

fn types(posts: &[WebhookPost]) -> Vec<String> {
    posts.iter().map(|p| body(p)["type"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn redemptions_reversals_and_stamps_publish_their_events() {
    let (h, partner) = program().await;
    add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &WebhookEvent::ALL).await;
    credit(&h, 500_000).await;
    let code = h.code(&anna()).await.unwrap();
    let credited = body(&h.env.webhooks.take()[0]);

    let asked = h.say(Partner, &linh(), &format!("/redeem {code} 10 1000")).await;
    assert!(h.env.webhooks.take().is_empty(), "opening a redemption is no event");
    let yes = asked.button(anna().id, "rc:").expect("the customer is asked");
    h.press(Client, &anna(), &yes).await;
    let posts = h.env.webhooks.take();
    assert_eq!(types(&posts), ["points.redeemed"]);
    let redeemed = body(&posts[0]);
    assert_eq!(redeemed["data"]["entry"]["amount"], -10);
    assert_eq!(redeemed["partner_id"], partner.0);
    assert_eq!(redeemed["data"]["balance"], h.balance(&anna()).await);

    let entry = credited["data"]["entry"]["id"].as_i64().unwrap();
    let answer = h.say(Partner, &linh(), &format!("/reverse {entry}")).await;
    let posts = h.env.webhooks.take();
    assert!(answer.all_text().contains("reversed"), "{}", answer.all_text());
    assert_eq!(types(&posts)[0], "points.reversed", "{:?}", types(&posts));
    let reversed = body(&posts[0]);
    assert_eq!(reversed["data"]["entry"]["reverses"], entry);
    assert_eq!(reversed["data"]["entry"]["amount"], -credited["data"]["entry"]["amount"].as_i64().unwrap());

    h.say(Partner, &linh(), "/stamps 2 a free coffee").await;
    h.say(Partner, &linh(), &format!("/stamp {code}")).await;
    assert!(h.env.webhooks.take().is_empty(), "a stamp that fills no card is no event");
    h.say(Partner, &linh(), &format!("/stamp {code}")).await;
    let posts = h.env.webhooks.take();
    assert_eq!(types(&posts), ["stamps.completed"]);
    let full = body(&posts[0]);
    assert_eq!((full["data"]["needed"].as_u64(), full["data"]["cards_completed"].as_u64()), (Some(2), Some(1)));
    assert_eq!(full["data"]["reward"], "a free coffee");
    let ids: Vec<_> = [&credited, &redeemed, &reversed, &full].iter().map(|e| e["id"].to_string()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "every event its own id");
}

#[tokio::test]
async fn a_pos_credit_publishes_once_and_its_replay_nothing() {
    let (h, partner) = program().await;
    add(&h, linh_owner(), "https://pho24.example.com/loyalty", &[WebhookEvent::PointsCredited]).await;
    let key = format!("pos-key-{}", h.engine().random_hex(16));
    let hash = loyalty_core::domain::rules::hash_api_key(&key);
    h.engine().storage().set_partner_api_key(PartnerRef::Id(partner), Some(hash)).await.unwrap();
    let code = h.code(&anna()).await.unwrap();
    let credit = || {
        http::Request::builder()
            .method("POST")
            .uri("/api/v1/partner/credits")
            .header("authorization", format!("Bearer {key}"))
            .header("idempotency-key", "order-1")
            .header("content-type", "application/json")
            .body(bytes::Bytes::from(format!(r#"{{"customer_code":"{code}","purchase":1500}}"#)))
            .unwrap()
    };
    for round in 0..2 {
        let answered = h.engine().handle_api(credit()).await;
        assert_eq!(answered.response.status(), 200, "round {round}");
        for task in answered.deferred {
            h.engine().run_task(task).await;
        }
    }
    let posts = h.env.webhooks.take();
    assert_eq!(types(&posts), ["points.credited"], "the replayed request publishes nothing");
    assert_eq!(body(&posts[0])["data"]["entry"]["purchase"], 1500);
}

#[tokio::test]
async fn a_claimed_reward_and_expired_points_publish_their_events() {
    let (h, _) = program().await;
    let admin = TgUser::new(ADMIN_CHAT, "Admin");
    h.say(Admin, &admin, r#"/rules {"expiry": {"days": 30}}"#).await;
    add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &WebhookEvent::ALL).await;
    credit(&h, 50_000).await;
    h.say(Partner, &linh(), "/reward 300\nIced coffee | Large").await;
    h.say(Admin, &admin, "/reward_approve 1").await;
    h.env.webhooks.take();

    let page = h.say(Client, &anna(), "/rewards").await;
    let open = page.button(anna().id, "wv:").expect("a reward button");
    let card = h.press(Client, &anna(), &open).await;
    let claim = card.button(anna().id, "wc:").expect("the claim button");
    h.press(Client, &anna(), &claim).await;
    let posts = h.env.webhooks.take();
    assert_eq!(types(&posts), ["reward.claimed"]);
    let claimed = body(&posts[0]);
    assert_eq!(claimed["data"]["voucher"]["points"], 300);
    assert_eq!(claimed["data"]["reward"]["title"], "Iced coffee");
    assert_eq!(claimed["data"]["balance"], h.balance(&anna()).await);

    h.advance(31 * 86_400);
    let expired = loyalty_core::jobs::expire_points(h.engine().context(), 10).await.unwrap();
    assert_eq!(expired, 1);
    let posts = h.env.webhooks.take();
    assert_eq!(types(&posts), ["points.expired"]);
    let event = body(&posts[0]);
    assert_eq!(event["data"]["balance"], h.balance(&anna()).await);
    assert!(event["data"]["entry"]["amount"].as_i64().unwrap() < 0);
    assert_eq!(event["data"]["customer"]["code"], h.code(&anna()).await.unwrap().as_str());
}

#[tokio::test]
async fn an_endpoint_that_gives_no_answer_costs_a_drain_one_attempt() {
    let (h, _) = program().await;
    let w = add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &[WebhookEvent::PointsCredited]).await;
    let silent = || Err(WebhookPostError::Unreachable("timed out".into()));
    for _ in 0..3 {
        h.env.webhooks.answer_next(silent());
        credit(&h, 50_000).await;
    }
    assert_eq!(h.env.webhooks.take().len(), 3, "each update's own attempt");

    // The drain takes the three retries in one batch: the first gives no answer, the others wait unposted.
    h.advance(60);
    h.env.webhooks.answer_next(silent());
    h.engine().drain_outbox(10).await;
    assert_eq!(h.env.webhooks.take().len(), 1, "one timeout per batch, not one per delivery");
    assert_eq!(h.env.storage.outbox_state(h.env.clock.now()).await.unwrap().pending, 3);

    // Answering again, every delivery goes out at its next attempt.
    h.advance(300);
    h.engine().drain_outbox(10).await;
    assert_eq!(h.env.webhooks.take().len(), 3);
    let state = h.env.storage.outbox_state(h.env.clock.now()).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 0));
    assert_eq!(program_endpoint(&h, w.id).await.last_status, Some(200));
}

/// The storage calls `credit` makes in `h`, recorded by `store`.
async fn calls_of_a_credit(h: &Harness, store: &FaultyStore<MemoryStore>) -> Vec<&'static str> {
    let before = store.log().len();
    credit(h, 1_000).await;
    store.log()[before..].to_vec()
}

#[tokio::test]
async fn a_program_without_endpoints_is_not_asked_for_them() {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let (h, _) = program_in(TestEnv::with(store.clone(), test_config())).await;
    // No endpoint: the credit's event goes to none, settled with its notice,
    // and the store is not asked where it goes.
    let calls = calls_of_a_credit(&h, &store).await;
    assert!(calls.contains(&"enqueue_messages"), "{calls:?}");
    assert!(!calls.contains(&"webhook_targets"), "no endpoint, not asked: {calls:?}");
    let state = h.env.storage.outbox_state(h.env.clock.now()).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 0), "the notice and the event are done");
    assert!(h.env.webhooks.take().is_empty());

    // An endpoint registered: asked, and the next credit's event delivered.
    let w = add(&h, WebhookOwner::Program, "https://crm.example.com/hooks", &[WebhookEvent::PointsCredited]).await;
    let calls = calls_of_a_credit(&h, &store).await;
    assert!(calls.contains(&"webhook_targets"), "{calls:?}");
    assert_eq!(h.env.webhooks.take().len(), 1, "delivered");

    // Removed again: not asked any more.
    let now = h.env.clock.now();
    h.engine().storage().remove_webhook(RemoveWebhook { owner: WebhookOwner::Program, id: w.id, now }).await.unwrap();
    let calls = calls_of_a_credit(&h, &store).await;
    assert!(!calls.contains(&"webhook_targets"), "{calls:?}");
    assert!(h.env.webhooks.take().is_empty());
}
