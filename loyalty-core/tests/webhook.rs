//! The webhook pipeline end to end: HTTP request in, status, body and deferred
//! work out, over the in-memory store and the testkit fakes.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::stores::memory::MemoryStore;
use loyalty_core::webhook::{MAX_BODY_BYTES, SECRET_TOKEN_HEADER, WebhookResponse, webhook_secret};
use loyalty_core::{Config, Task};
use loyalty_testkit::{FaultyStore, TEST_START, TestEnv, TgUser, test_config, text_json};
use serde_json::{Value, json};
use std::sync::Arc;

/// The in-memory store behind the testkit's fault injector.
type FlakyStore = FaultyStore<MemoryStore>;

// ---------------------------------------------------------------------------
// Helpers.

fn env_with(config: Config) -> (TestEnv, Arc<FlakyStore>) {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    (TestEnv::with(store.clone(), config), store)
}

fn env() -> (TestEnv, Arc<FlakyStore>) {
    env_with(test_config())
}

fn anna() -> TgUser {
    TgUser::new(4242, "Anna")
}

/// A request as Telegram sends it: POST, the right secret, JSON, Content-Length.
fn telegram_request(env: &TestEnv, bot: BotKind, body: impl Into<Bytes>) -> Request<Bytes> {
    let body = body.into();
    let secret = webhook_secret(env.engine.config(), bot).expect("bot configured");
    Request::builder()
        .method(Method::POST)
        .uri(format!("/webhook/{}", bot.as_str()))
        .header(SECRET_TOKEN_HEADER, secret.expose())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(body)
        .unwrap()
}

fn json_body(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap())
}

/// The `error.code` of a refusal (and checks its shape).
fn error_code(res: &WebhookResponse) -> String {
    assert_eq!(res.response.headers()[http::header::CONTENT_TYPE], "application/json");
    let v: Value = serde_json::from_slice(res.response.body()).expect("error body is JSON");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    v["error"]["code"].as_str().expect("error.code").to_string()
}

/// Whether `(bot, update_id)` is still unclaimed (claims it as a side effect).
async fn unclaimed(store: &FlakyStore, bot: BotKind, update_id: i64) -> bool {
    let claim =
        UpdateClaim { bot: test_config().bot_id(bot), update_id, now: TEST_START, body: None, finished: Vec::new() };
    store.inner().claim_update(claim).await.unwrap()
}

/// Everything an update caused, comparable across environments: the response
/// status and body, the deferred work and the customer's stored summary.
/// `body` delivered to the client bot's webhook of `env`.
async fn deliver(env: &TestEnv, body: impl Into<Bytes>) -> WebhookResponse {
    env.engine.handle_webhook(BotKind::Client, telegram_request(env, BotKind::Client, body)).await
}

/// What one delivery of `body` does for `user` on a fresh engine: the
/// reference a repeated delivery is held to.
async fn effects_of_one_delivery(body: &Bytes, user: &TgUser) -> (StatusCode, Bytes, String, String) {
    let (reference, _) = env();
    let once = deliver(&reference, body.clone()).await;
    effects(&reference, &once, user).await
}

async fn effects(env: &TestEnv, res: &WebhookResponse, user: &TgUser) -> (StatusCode, Bytes, String, String) {
    let summary = env.storage.customer_summary(CustomerRef::Telegram(TelegramUserId(user.id)), 10).await;
    (res.response.status(), res.response.body().clone(), format!("{:?}", res.deferred), format!("{summary:?}"))
}

// ---------------------------------------------------------------------------
// Refusals.

#[tokio::test]
async fn wrong_or_missing_secret_is_401_and_changes_nothing() {
    let (env, store) = env();
    let body = json_body(&text_json(10, &anna(), "/start"));
    let partner_secret = webhook_secret(env.engine.config(), BotKind::Partner).unwrap();
    let client_secret = webhook_secret(env.engine.config(), BotKind::Client).unwrap();
    let almost = format!("{}x", &client_secret.expose()[..63]);
    let candidates: [Option<&[u8]>; 5] = [
        None,
        Some(b""),
        Some(partner_secret.expose().as_bytes()),
        Some(almost.as_bytes()),
        Some(b"\xff\xfe not utf-8"),
    ];
    for secret in candidates {
        let mut req = telegram_request(&env, BotKind::Client, body.clone());
        req.headers_mut().remove(SECRET_TOKEN_HEADER);
        if let Some(s) = secret {
            req.headers_mut().insert(SECRET_TOKEN_HEADER, http::HeaderValue::from_bytes(s).unwrap());
        }
        let res = env.engine.handle_webhook(BotKind::Client, req).await;
        assert_eq!(res.response.status(), StatusCode::UNAUTHORIZED, "{secret:?}");
        assert_eq!(error_code(&res), "unauthorized");
        assert!(res.deferred.is_empty());
    }
    assert!(store.log().is_empty(), "storage untouched: {:?}", store.log());
    assert!(env.telegram.calls().is_empty());
    assert!(unclaimed(&store, BotKind::Client, 10).await);
}

#[tokio::test]
async fn the_secret_of_each_bot_and_a_shared_secret_are_accepted() {
    let (env, _) = env();
    for (i, bot) in BotKind::WEBHOOK_BOTS.into_iter().enumerate() {
        let body = json_body(&json!({"update_id": 100 + i, "poll": {"id": "1"}}));
        let res = env.engine.handle_webhook(bot, telegram_request(&env, bot, body)).await;
        assert_eq!(res.response.status(), StatusCode::OK, "{bot:?}");
    }
    let shared = Config { webhook_secret: Some(loyalty_core::Secret::new("shared-Secret_1")), ..test_config() };
    let (env, _) = env_with(shared);
    let req = telegram_request(&env, BotKind::Partner, json_body(&json!({"update_id": 1})));
    assert_eq!(req.headers()[SECRET_TOKEN_HEADER], "shared-Secret_1");
    assert_eq!(env.engine.handle_webhook(BotKind::Partner, req).await.response.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_never_panic() {
    let (env, store) = env();
    let invalid_json: [&'static [u8]; 4] = [
        b"{\"update_id\": 1,",
        b"",
        b"\xff\xfe{\"update_id\":1}",
        b"{\"update_id\":1,\"message\":{\"text\":\"\xc3\x28\"}}",
    ];
    let not_an_update: [&'static [u8]; 9] = [
        b"[1,2,3]",
        b"42",
        b"null",
        b"{}",
        b"{\"message\":{}}",
        b"{\"update_id\":\"12\"}",
        b"{\"update_id\":99999999999999999999999999}",
        b"{\"update_id\":1.5}",
        b"{\"update_id\":1,\"message\":{\"message_id\":1}}",
    ];
    // Nested far beyond serde_json's recursion limit: refused, no stack overflow.
    let nested = format!("{{\"update_id\":1,\"message\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let cases = (invalid_json.map(|b| ("invalid_json", Bytes::from_static(b))).into_iter())
        .chain(not_an_update.map(|b| ("not_an_update", Bytes::from_static(b))))
        .chain([("not_an_update", Bytes::from(nested))]);
    for (code, body) in cases {
        let res = deliver(&env, body.clone()).await;
        let label = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        assert_eq!(res.response.status(), StatusCode::BAD_REQUEST, "{label}");
        assert_eq!(error_code(&res), code, "{label}");
        assert!(res.deferred.is_empty());
    }
    assert!(store.log().is_empty(), "nothing reaches storage: {:?}", store.log());
    // Reported without quoting the body.
    let reports = env.reporter.reports();
    assert_eq!(reports.len(), 14);
    assert!(reports.iter().all(|r| r.context == "webhook.client" && !r.temporary && !r.message.contains('"')));

    // Deep nesting inside a field we ignore is skipped without recursion: a no-op update.
    let deep = format!("{{\"update_id\":1,\"poll\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let res = deliver(&env, deep).await;
    assert_eq!(res.response.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_413_by_header_and_by_size() {
    let (env, store) = env();
    // Declared too large (the body itself is small).
    let mut req = telegram_request(&env, BotKind::Client, json_body(&json!({"update_id": 1})));
    req.headers_mut().insert(http::header::CONTENT_LENGTH, (MAX_BODY_BYTES + 1).into());
    let res = env.engine.handle_webhook(BotKind::Client, req).await;
    assert_eq!(res.response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&res), "payload_too_large");

    // Actually too large, without a Content-Length.
    let padding = " ".repeat(MAX_BODY_BYTES);
    let big = Bytes::from(format!("{{\"update_id\": 2,{padding}\"poll\":{{}}}}"));
    let mut req = telegram_request(&env, BotKind::Client, big.clone());
    req.headers_mut().remove(http::header::CONTENT_LENGTH);
    let res = env.engine.handle_webhook(BotKind::Client, req).await;
    assert_eq!(res.response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Actually too large, with a lying Content-Length.
    let mut req = telegram_request(&env, BotKind::Client, big);
    req.headers_mut().insert(http::header::CONTENT_LENGTH, 20.into());
    let res = env.engine.handle_webhook(BotKind::Client, req).await;
    assert_eq!(res.response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A Content-Length that is not a number.
    let mut req = telegram_request(&env, BotKind::Client, json_body(&json!({"update_id": 3})));
    req.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from_static("lots"));
    let res = env.engine.handle_webhook(BotKind::Client, req).await;
    assert_eq!(res.response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&res), "bad_content_length");

    // Exactly the limit is fine.
    let head = r#"{"update_id":4,"poll":{}"#;
    let exact = format!("{head}{}}}", " ".repeat(MAX_BODY_BYTES - head.len() - 1));
    assert_eq!(exact.len(), MAX_BODY_BYTES);
    let res = deliver(&env, exact).await;
    assert_eq!(res.response.status(), StatusCode::OK);

    assert_eq!(store.log(), vec!["claim_update"], "only the last request reached storage");
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let (env, store) = env();
    for method in [Method::GET, Method::PUT, Method::HEAD, Method::DELETE] {
        let mut req = telegram_request(&env, BotKind::Client, json_body(&json!({"update_id": 1})));
        *req.method_mut() = method.clone();
        let res = env.engine.handle_webhook(BotKind::Client, req).await;
        assert_eq!(res.response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(res.response.headers()[http::header::ALLOW], "POST");
        assert_eq!(error_code(&res), "method_not_allowed");
    }
    assert!(store.log().is_empty());
}

#[tokio::test]
async fn unconfigured_bots_are_404() {
    let config = Config { token_partner: None, admin_chat_id: None, ..test_config() };
    let (env, store) = env_with(config);
    let client_secret = webhook_secret(env.engine.config(), BotKind::Client).unwrap();
    for bot in [BotKind::Partner, BotKind::Admin, BotKind::Alerts] {
        let mut req = telegram_request(&env, BotKind::Client, json_body(&json!({"update_id": 1})));
        req.headers_mut().insert(SECRET_TOKEN_HEADER, client_secret.expose().parse().unwrap());
        let res = env.engine.handle_webhook(bot, req).await;
        assert_eq!(res.response.status(), StatusCode::NOT_FOUND, "{bot:?}");
        assert_eq!(error_code(&res), "unknown_bot");
    }
    assert!(store.log().is_empty());
}

// ---------------------------------------------------------------------------
// Processing.

#[tokio::test]
async fn unknown_update_kinds_are_a_200_no_op() {
    let (env, store) = env();
    let poll = json!({"update_id": 77, "poll": {"id": "5", "question": "?", "options": [], "total_voter_count": 0,
        "is_closed": true, "is_anonymous": true, "type": "regular", "allows_multiple_answers": false}});
    let res = deliver(&env, json_body(&poll)).await;
    assert_eq!(res.response.status(), StatusCode::OK);
    assert!(res.response.body().is_empty());
    assert!(res.deferred.iter().all(|t| t.calls().is_empty()), "nothing to send");
    assert!(env.telegram.calls().is_empty());
    assert!(env.reporter.reports().is_empty());
    assert_eq!(store.log(), vec!["claim_update"], "only the claim");
    // After the response: the update is finished (its kept body dropped), nothing sent.
    for task in res.deferred {
        env.engine.run_task(task).await;
    }
    assert_eq!(store.log(), vec!["claim_update", "enqueue_messages"]);
    assert!(env.telegram.calls().is_empty());
}

#[tokio::test]
async fn a_duplicate_delivery_is_a_no_op() {
    let user = anna();
    let body = json_body(&text_json(11, &user, "/start"));

    // Reference: one delivery.
    let expected = effects_of_one_delivery(&body, &user).await;

    let (env, store) = env();
    let first = deliver(&env, body.clone()).await;
    assert_eq!(effects(&env, &first, &user).await, expected, "the first delivery is processed");
    let calls_before = store.log().len();
    let second = deliver(&env, body).await;
    assert_eq!(second.response.status(), StatusCode::OK);
    assert!(second.response.body().is_empty(), "no call in the response");
    assert!(second.deferred.is_empty(), "nothing deferred");
    assert_eq!(&store.log()[calls_before..], ["claim_update"], "the duplicate only tries to claim");
    assert_eq!(effects(&env, &first, &user).await, expected, "state unchanged by the duplicate");
    assert_eq!(store.successful_claims(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_have_exactly_one_effect() {
    let user = anna();
    let body = json_body(&text_json(12, &user, "/start"));
    let expected = effects_of_one_delivery(&body, &user).await;

    for _ in 0..20 {
        let (env, store) = env();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let engine = env.engine.clone();
                let req = telegram_request(&env, BotKind::Client, body.clone());
                tokio::spawn(async move { engine.handle_webhook(BotKind::Client, req).await })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(store.successful_claims(), 1, "exactly one delivery is handled");
        assert!(results.iter().all(|r| r.response.status() == StatusCode::OK));
        let processed: Vec<_> =
            results.iter().filter(|r| !r.response.body().is_empty() || !r.deferred.is_empty()).collect();
        assert!(processed.len() <= 1, "at most one delivery produced calls");
        let winner = processed.first().copied().unwrap_or(&results[0]);
        assert_eq!(effects(&env, winner, &user).await, expected);
    }
}

#[tokio::test]
async fn a_failing_claim_is_503_and_a_retry_works() {
    let (env, store) = env();
    store.fail_call(1, false);
    let body = json_body(&json!({"update_id": 13, "poll": {"id": "1"}}));
    let res = deliver(&env, body.clone()).await;
    assert_eq!(res.response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&res), "temporarily_unavailable");
    let reports = env.reporter.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].context, reports[0].update_kind, reports[0].temporary),
        ("webhook.client", Some("other"), true)
    );
    // The report's breadcrumbs: the update's kind, then the failed claim.
    let crumbs: Vec<(&str, &str)> = reports[0].breadcrumbs.iter().map(|b| (b.category, b.message.as_str())).collect();
    assert_eq!(crumbs, [("update", "other"), ("storage", "claim_update: unavailable")]);

    let retry = deliver(&env, body).await;
    assert_eq!(retry.response.status(), StatusCode::OK);
    assert_eq!(store.successful_claims(), 1);
}

/// The stored state of a customer that matters for points: balance and the
/// kinds and amounts of their entries (codes and ids may differ between runs).
async fn points_state(env: &TestEnv, user: &TgUser) -> Option<(Points, Vec<String>)> {
    let summary = env.storage.customer_summary(CustomerRef::Telegram(TelegramUserId(user.id)), 50).await.unwrap()?;
    let entries = summary.recent.iter().map(|e| format!("{:?} {}", e.kind, e.amount)).collect();
    Some((summary.customer.balance, entries))
}

#[tokio::test]
async fn a_temporary_failure_mid_update_is_503_and_the_retry_applies_once() {
    let user = anna();
    let body = json_body(&text_json(20, &user, "/start"));

    // A healthy run, to learn which storage calls /start makes and what it leaves behind.
    let (probe, probe_store) = env();
    let ok = deliver(&probe, body.clone()).await;
    assert_eq!(ok.response.status(), StatusCode::OK);
    let calls = probe_store.log();
    assert_eq!(calls.first(), Some(&"claim_update"));
    assert!(calls.len() >= 2, "the client bot stores a new customer on /start: {calls:?}");
    let expected = points_state(&probe, &user).await;
    assert!(expected.is_some(), "/start signs the customer up");

    // Fail each call after the claim in turn, before it is applied and after
    // (a lost acknowledgement): nothing must be lost or doubled.
    for (n, applied) in (2..=calls.len()).flat_map(|n| [(n, false), (n, true)]) {
        let (env, store) = env();
        store.fail_call(n, applied);
        let res = deliver(&env, body.clone()).await;
        assert_eq!(
            res.response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "failing call {n} ({}, applied {applied})",
            calls[n - 1]
        );
        assert_eq!(error_code(&res), "temporarily_unavailable");
        assert!(res.deferred.is_empty(), "nothing is sent for a failed update");
        assert_eq!(store.log().last(), Some(&"release_update"), "the claim is released after call {n}");
        let reports = env.reporter.reports();
        let report = reports.iter().find(|r| r.context == "webhook.client").expect("reported");
        assert_eq!((report.update_kind, report.temporary), (Some("message"), true));
        assert!(!report.message.contains("/start"), "no message text in reports: {}", report.message);

        // Telegram delivers it again: processed now, and points move once.
        let retry = deliver(&env, body.clone()).await;
        assert_eq!(retry.response.status(), StatusCode::OK, "retry after failing call {n}");
        assert!(!retry.response.body().is_empty() || !retry.deferred.is_empty(), "the retry answers");
        assert_eq!(
            points_state(&env, &user).await,
            expected,
            "after failing call {n} ({}, applied {applied})",
            calls[n - 1]
        );
        assert_eq!(store.successful_claims(), 2);

        // And a third delivery is a duplicate again.
        let third = deliver(&env, body.clone()).await;
        assert!(third.response.body().is_empty() && third.deferred.is_empty());
    }
}

#[tokio::test]
async fn the_first_reply_rides_in_the_response_body() {
    let (env, _) = env();
    let user = anna();
    let req = telegram_request(&env, BotKind::Client, json_body(&text_json(30, &user, "/start")));
    let res = env.engine.handle_webhook(BotKind::Client, req).await;
    assert_eq!(res.response.status(), StatusCode::OK);
    assert_eq!(res.response.headers()[http::header::CONTENT_TYPE], "application/json");
    let call: Value = serde_json::from_slice(res.response.body()).expect("a Bot API call");
    assert!(call["method"].as_str().is_some_and(|m| m.starts_with("send")), "{call}");
    assert_eq!(call["chat_id"], user.id);
    // Nothing was sent through the port yet: the rest is deferred, in order.
    assert!(env.telegram.calls().is_empty());
    let deferred_calls = res.deferred.iter().filter(|t| matches!(t, loyalty_core::Task::Call(_))).count();
    for task in res.deferred {
        env.engine.run_task(task).await;
    }
    assert_eq!(env.telegram.calls().len(), deferred_calls);
}

// ---------------------------------------------------------------------------
// Processing that dies half-way.

/// Anna's `/start` as update `id`, delivered to a fresh engine whose store
/// panics while registering her: the delivery unwinds. Returns the engine,
/// its store and the update.
async fn a_start_that_panics(id: i64) -> (TestEnv, Arc<FlakyStore>, Bytes) {
    use futures::FutureExt;
    let (env, store) = env();
    let start = json_body(&text_json(id, &anna(), "/start"));
    store.panic_on("register_customer");
    let died = std::panic::AssertUnwindSafe(deliver(&env, start.clone())).catch_unwind().await;
    assert!(died.is_err(), "the injected panic unwound through the engine");
    (env, store, start)
}

#[tokio::test]
async fn a_panic_after_the_claim_releases_it_so_the_retry_is_processed() {
    let (env, _, start) = a_start_that_panics(8101).await;
    // The adapter releases at once after catching the panic; Telegram's retry is processed.
    env.engine.release_orphaned_claims().await;
    let retry = deliver(&env, start.clone()).await;
    assert_eq!(retry.response.status(), StatusCode::OK);
    assert!(!retry.response.body().is_empty(), "the retry ran the bot and answered with a call");
    let who = CustomerRef::Telegram(TelegramUserId(anna().id));
    let summary = env.storage.customer_summary(who, 10).await.unwrap().expect("registered");
    assert_eq!(summary.customer.balance, 100, "one welcome bonus");
    // Further deliveries are duplicates again.
    let again = deliver(&env, start).await;
    assert!(again.response.body().is_empty(), "a duplicate after success is a no-op");
}

#[tokio::test]
async fn an_orphaned_claim_is_released_before_the_next_update_even_without_the_adapter() {
    let (env, store, start) = a_start_that_panics(8102).await;
    // No explicit release: the next update's processing releases it first.
    let retry = deliver(&env, start).await;
    assert!(!retry.response.body().is_empty(), "the retry was processed");
    assert!(!unclaimed(&store, BotKind::Client, 8102).await, "and claimed again");
}

/// Records the hook's calls, as loyalty-edge's JavaScript registry does.
#[derive(Debug, Default)]
struct Hook(std::sync::Mutex<Vec<(&'static str, i64)>>);

impl loyalty_core::ClaimHook for Hook {
    fn claimed(&self, _bot: BotKind, update_id: i64) {
        self.0.lock().unwrap().push(("claimed", update_id));
    }
    fn settled(&self, _bot: BotKind, update_id: i64) {
        self.0.lock().unwrap().push(("settled", update_id));
    }
}

#[tokio::test]
async fn a_claim_hook_sees_every_claim_settle_and_release_claims_reopens_an_update() {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let plain = TestEnv::with(store.clone(), test_config());
    let hook = Arc::new(Hook::default());
    let engine = loyalty_core::Engine::with_claim_hook(test_config(), plain.engine.ports().clone(), hook.clone());
    let start = json_body(&text_json(8103, &anna(), "/start"));
    let res = engine.handle_webhook(BotKind::Client, telegram_request(&plain, BotKind::Client, start.clone())).await;
    assert!(!res.response.body().is_empty());
    let dup = engine.handle_webhook(BotKind::Client, telegram_request(&plain, BotKind::Client, start.clone())).await;
    assert!(dup.response.body().is_empty(), "a duplicate is not claimed, so the hook hears nothing of it");
    assert_eq!(*hook.0.lock().unwrap(), vec![("claimed", 8103), ("settled", 8103)]);
    // Where a panic aborts (wasm32), the adapter hands the unsettled claims to release_claims.
    engine.release_claims(&[(BotKind::Client, 8103)]).await;
    assert!(unclaimed(&store, BotKind::Client, 8103).await, "released");
}

/// Production and staging, each with its own bots, share one database: the
/// same update id arriving to each is two updates (claims are per bot id), and
/// the admins' adjustments it causes are two entries (so are the keys).
#[tokio::test]
async fn two_deployments_with_their_own_bots_share_a_store() {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let production = TestEnv::with(store.clone(), test_config());
    let staging_tokens = Config {
        token_client: Some(loyalty_core::Secret::new("2001:staging-client")),
        admin_bot_token: Some(loyalty_core::Secret::new("2003:staging-admin")),
        ..test_config()
    };
    let staging = TestEnv::with(store.clone(), staging_tokens);
    let (ann, bob) = (anna(), TgUser::new(4343, "Bob"));
    for (env, user) in [(&production, &ann), (&staging, &bob)] {
        let res = env
            .engine
            .handle_webhook(
                BotKind::Client,
                telegram_request(env, BotKind::Client, json_body(&text_json(1, user, "/start"))),
            )
            .await;
        assert_eq!(res.response.status(), StatusCode::OK);
    }
    let customer = |id| store.inner().customer_summary(CustomerRef::Telegram(TelegramUserId(id)), 10);
    let ann_now = customer(4242).await.unwrap().expect("production's update 1 signed Ann up");
    customer(4343).await.unwrap().expect("staging's update 1 signed Bob up");

    // The same admin update id on both deployments: two adjustments.
    let admin = TgUser::new(900, "Admin");
    let adjust = format!("/adjust {} +7 goodwill", ann_now.customer.code);
    for env in [&production, &staging] {
        let body = json_body(&text_json(5, &admin, &adjust));
        let res = env.engine.handle_webhook(BotKind::Admin, telegram_request(env, BotKind::Admin, body)).await;
        assert_eq!(res.response.status(), StatusCode::OK);
    }
    let after = customer(4242).await.unwrap().unwrap();
    assert_eq!(after.customer.balance, ann_now.customer.balance + 14, "{:?}", after.recent);
    // A redelivery to staging is still a duplicate.
    let body = json_body(&text_json(5, &admin, &adjust));
    staging.engine.handle_webhook(BotKind::Admin, telegram_request(&staging, BotKind::Admin, body)).await;
    assert_eq!(customer(4242).await.unwrap().unwrap().customer.balance, after.customer.balance);
}

#[tokio::test]
async fn an_update_with_nothing_to_send_is_carried_without_running_a_task() {
    let (env, store) = env();
    let user = anna();
    let carrying = env.engine.clone().with_carried_finishes();
    let handle = |id: i64, text: &str| {
        let req = telegram_request(&env, BotKind::Client, json_body(&text_json(id, &user, text)));
        carrying.handle_webhook(BotKind::Client, req)
    };
    // The sign-up sends more after its reply: a task to run.
    let signed_up = handle(1, "/start").await;
    let [task] = <[Task; 1]>::try_from(signed_up.deferred).expect("one delivery");
    let task = carrying.carry(task).expect("the sign-up's messages are to be sent");
    carrying.run_task(task).await;
    // A balance has nothing after its reply: recorded for the next claim, no storage call.
    let balance = handle(2, "/balance").await;
    let [task] = <[Task; 1]>::try_from(balance.deferred).expect("one delivery");
    let calls = store.calls();
    assert_eq!(carrying.carry(task.clone()), None);
    assert_eq!((store.calls(), carrying.carried_finishes()), (calls, 1), "carried, nothing called");
    // Without carried finishes it is a task to run, as before.
    assert_eq!(env.engine.carry(task.clone()), Some(task));
    // The next update's claim finishes it: nothing of update 2 is left unfinished.
    handle(3, "/balance").await;
    assert_eq!(carrying.carried_finishes(), 0, "taken by the claim of update 3");
    let later = Timestamp(env.clock.now().0 + 1_000);
    let stale = store.stale_updates(StaleUpdates { before: later, now: later, limit: 10 }).await.unwrap();
    assert_eq!(stale.iter().map(|u| u.update_id).collect::<Vec<_>>(), [3], "2 finished by 3's claim");
}
