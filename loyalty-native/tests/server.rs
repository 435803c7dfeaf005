//! The HTTP server over real loopback connections: routing, bad input,
//! de-duplication, readiness, panic isolation and graceful shutdown.

use async_trait::async_trait;
use loyalty_core::domain::{Language, PartnerTerms, TelegramUserId, Timestamp};
use loyalty_core::ports::{
    Clock, CustomerRef, DecidePartner, NewCustomer, OpenRedemption, PartnerApplication, PartnerDecision, PartnerRef,
    StoreError, TelegramApi,
};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::BotCall;
use loyalty_core::webhook::webhook_secret;
use loyalty_core::{Engine, Ports};
use loyalty_native::fake_bot_api::{Failure, FakeBotApi};
use loyalty_native::server::{App, serve};
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_native::tasks::Drained;
use loyalty_native::telegram::HttpTelegram;
use loyalty_testkit::services::http::declared_oversize;
use loyalty_testkit::{
    FakeClock, FaultyStore, RecordingReporter, RecordingTelegram, SeqRandom, TEST_START, TgUser, test_config, text_json,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod common;
use common::Scratch;

/// A clock that panics once when armed: a bug inside request handling.
#[derive(Debug)]
struct TrapClock {
    inner: FakeClock,
    armed: AtomicBool,
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Clock for TrapClock {
    fn now(&self) -> Timestamp {
        if self.armed.swap(false, Ordering::SeqCst) {
            panic!("trap clock sprung");
        }
        self.inner.now()
    }
    async fn sleep(&self, millis: u64) {
        self.inner.sleep(millis).await;
    }
}

struct Rig {
    base: String,
    http: reqwest::Client,
    store: Arc<FaultyStore<SqliteStore>>,
    _db: Scratch,
    recorded: Arc<dyn Fn() -> Vec<BotCall> + Send + Sync>,
    reporter: Arc<RecordingReporter>,
    clock: Arc<TrapClock>,
    engine: Engine,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<Drained>>>,
}

impl Rig {
    async fn start() -> Rig {
        let recording = Arc::new(RecordingTelegram::new());
        let r = recording.clone();
        Rig::start_with(recording, Arc::new(move || r.calls())).await
    }

    async fn start_with(telegram: Arc<dyn TelegramApi>, recorded: Arc<dyn Fn() -> Vec<BotCall> + Send + Sync>) -> Rig {
        Rig::start_full(telegram, recorded, None).await
    }

    async fn start_full(
        telegram: Arc<dyn TelegramApi>,
        recorded: Arc<dyn Fn() -> Vec<BotCall> + Send + Sync>,
        maintenance: Option<Duration>,
    ) -> Rig {
        let db = Scratch::new("server");
        let store = Arc::new(FaultyStore::new(SqliteStore::open(db.db()).unwrap()));
        let reporter = Arc::new(RecordingReporter::default());
        let clock = Arc::new(TrapClock { inner: FakeClock::new(TEST_START), armed: AtomicBool::new(false) });
        let ports = Ports {
            storage: store.clone(),
            telegram: telegram.clone(),
            assistant: None,
            reporter: reporter.clone(),
            clock: clock.clone(),
            random: Arc::new(SeqRandom::new(1)),
            webhooks: None,
        };
        let engine = Engine::new(test_config(), ports);
        let app =
            App::new(engine.clone()).with_maintenance_interval(maintenance).with_drain_timeout(Duration::from_secs(30));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, async move {
            let _ = rx.await;
        }));
        Rig {
            base,
            http: reqwest::Client::new(),
            store,
            _db: db,
            recorded,
            reporter,
            clock,
            engine,
            stop: Some(tx),
            server: Some(server),
        }
    }

    /// Anna (101) sends `/start` to the client bot as update `id`.
    async fn anna_starts(&self, id: i64) -> (u16, Value) {
        self.post("client", &self.secret(BotKind::Client), start_update(id, &TgUser::new(101, "Anna"))).await
    }

    fn secret(&self, bot: BotKind) -> String {
        webhook_secret(self.engine.config(), bot).unwrap().expose().to_string()
    }

    async fn post(&self, bot: &str, secret: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/webhook/{bot}", self.base))
            .header("x-telegram-bot-api-secret-token", secret)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn shutdown(mut self) -> Drained {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap()
    }
}

/// POSTs `len` bytes with `Transfer-Encoding: chunked` over a raw connection
/// and returns the response as text. Writing stops quietly if the server
/// closes the connection early.
async fn chunked_post(base: &str, path: &str, secret: &str, len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-telegram-bot-api-secret-token: {secret}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 << 10];
        for _ in 0..len / chunk.len() {
            wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            wr.write_all(&chunk).await?;
            wr.write_all(b"\r\n").await?;
        }
        wr.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(wr)
    });
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    // Read until the JSON body has arrived (or the server closed the connection).
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut piece)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&piece[..n]),
        }
        if buf.ends_with(b"}}") {
            break;
        }
    }
    writer.abort();
    String::from_utf8_lossy(&buf).into_owned()
}

fn start_update(id: i64, user: &TgUser) -> Vec<u8> {
    serde_json::to_vec(&text_json(id, user, "/start")).unwrap()
}

#[tokio::test]
async fn health_and_ready() {
    let rig = Rig::start().await;
    assert_eq!(rig.get("/health").await, (200, json!({"status": "ok"})));
    assert_eq!(rig.get("/ready").await, (200, json!({"status": "ready"})));
    rig.store.fail_all(Some(StoreError::Unavailable("database down".into())));
    let (status, body) = rig.get("/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unavailable");
    assert!(!body.to_string().contains("database down"), "no backend details leak: {body}");
    assert_eq!(rig.get("/health").await.0, 200, "liveness does not depend on storage");
    rig.store.fail_all(None);
    assert_eq!(rig.get("/ready").await.0, 200);
    rig.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_json_errors() {
    let rig = Rig::start().await;
    let anna = TgUser::new(101, "Anna");
    let secret = rig.secret(BotKind::Client);

    let (status, body) = rig.post("client", "wrong", start_update(1, &anna)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (status, body) = rig.post("client", &secret, "{not json").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_json")));
    let (status, body) = rig.post("client", &secret, "[1,2]").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("not_an_update")));

    // 2 MiB, declared by Content-Length.
    let url = format!("{}/webhook/client", rig.base);
    let (status, body) = declared_oversize(&url, &[("x-telegram-bot-api-secret-token", &secret)], 2 << 20).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    // 2 MiB streamed without Content-Length (chunked): the server stops reading past 1 MiB.
    let raw = chunked_post(&rig.base, "/webhook/client", &secret, 2 << 20).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("payload_too_large"), "{raw}");

    let (status, body) = rig.post("alerts", &secret, start_update(2, &anna)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_bot")));
    let (status, body) = rig.post("nobody", &secret, start_update(2, &anna)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_bot")));
    let (status, _) = rig.get("/webhook/client").await;
    assert_eq!(status, 405, "the engine answers other methods itself");
    let (status, body) = rig.get("/nothing/here").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, body) = rig.get("/api/v1/nothing").await;
    assert_eq!(status, 404, "the API answers its own unknown routes: {body}");
    assert!(body["error"]["code"].is_string());
    let (status, body) = rig.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(body["paths"].is_object());

    assert!((rig.recorded)().is_empty(), "nothing was sent: {:?}", (rig.recorded)());
    assert_eq!(rig.store.successful_claims(), 0);
    // The server still works.
    let (status, body) = rig.anna_starts(3).await;
    assert_eq!(status, 200);
    assert_eq!(body["method"], "sendMessage");
    rig.shutdown().await;
}

#[tokio::test]
async fn duplicates_have_one_effect_even_when_concurrent() {
    let rig = Rig::start().await;
    let secret = rig.secret(BotKind::Client);
    let (first, _) = rig.anna_starts(10).await;
    let (again, body) = rig.anna_starts(10).await;
    assert_eq!((first, again), (200, 200));
    assert_eq!(body, Value::Null, "a duplicate gets an empty 200");

    for round in 0..10 {
        let id = 100 + round;
        let user = TgUser::new(200 + round, "Twin");
        let body = start_update(id, &user);
        let (a, b) = tokio::join!(rig.post("client", &secret, body.clone()), rig.post("client", &secret, body));
        assert_eq!((a.0, b.0), (200, 200));
        let replies = [&a.1, &b.1].iter().filter(|v| v["method"] == "sendMessage").count();
        assert_eq!(replies, 1, "exactly one of two concurrent deliveries is handled: {a:?} {b:?}");
    }
    assert_eq!(rig.store.successful_claims(), 11);
    rig.shutdown().await;
}

#[tokio::test]
async fn a_panic_fails_one_request_and_is_reported() {
    let rig = Rig::start().await;
    rig.clock.armed.store(true, Ordering::SeqCst);
    let (status, body) = rig.anna_starts(1).await;
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("internal")));
    let reports = rig.reporter.reports();
    assert!(
        reports.iter().any(|r| r.context == "server" && r.message.contains("/webhook/client")),
        "reported: {reports:?}"
    );
    let (status, body) = rig.anna_starts(2).await;
    assert_eq!(status, 200);
    assert_eq!(body["method"], "sendMessage");
    assert_eq!(rig.get("/health").await.0, 200);
    rig.shutdown().await;
}

#[tokio::test]
async fn a_panic_after_the_claim_leaves_the_update_to_telegrams_retry() {
    let rig = Rig::start().await;
    rig.store.panic_on("register_customer");
    let (status, _) = rig.anna_starts(1).await;
    assert_eq!(status, 500, "the panicking request fails");
    // Telegram delivers the update again after the 500: it is processed, not taken for a duplicate.
    let (status, body) = rig.anna_starts(1).await;
    assert_eq!((status, body["method"].as_str()), (200, Some("sendMessage")), "{body}");
    let who = CustomerRef::Telegram(TelegramUserId(101));
    let summary = rig.engine.storage().customer_summary(who, 0).await.unwrap().expect("registered");
    assert_eq!(summary.customer.balance, 100, "one welcome bonus");
    rig.shutdown().await;
}

#[tokio::test]
async fn shutdown_waits_for_deferred_calls() {
    let fake = FakeBotApi::start().await;
    let mut config = test_config();
    config.telegram_api_url = fake.url();
    let telegram = Arc::new(HttpTelegram::new(&config).unwrap().with_rate_limits(None));
    let rig = Rig::start_with(telegram, Arc::new(Vec::new)).await;
    // A referral sign-up: the reply rides in the response, the referrer's notification is deferred.
    let secret = rig.secret(BotKind::Client);
    let anna = TgUser::new(101, "Anna");
    let boris = TgUser::new(102, "Boris");
    rig.post("client", &secret, start_update(1, &anna)).await;
    let who = CustomerRef::Telegram(TelegramUserId(101));
    let code = rig.engine.storage().customer_summary(who, 0).await.unwrap().unwrap().customer.code;
    fake.fail_method("sendMessage", 1, Failure::Delay(Duration::from_millis(1500)));
    let body = serde_json::to_vec(&text_json(2, &boris, &format!("/start ref_{code}"))).unwrap();
    let (status, reply) = rig.post("client", &secret, body).await;
    assert_eq!((status, reply["chat_id"].as_i64()), (200, Some(102)), "Boris's welcome rides in the response");
    let to_anna = || fake.calls().iter().filter(|c| c.method == "sendMessage" && c.chat_id() == Some(101)).count();
    assert_eq!(to_anna(), 0, "the notification is still on its way");
    let drained = rig.shutdown().await;
    assert_eq!(drained, Drained { complete: true, abandoned: 0 });
    assert_eq!(to_anna(), 1, "shutdown waited for the referrer's notification");
}

#[tokio::test]
async fn the_scenarios_over_http_with_sqlite_and_the_fake_bot_api() {
    let outcome = loyalty_native::simulate::run().await.unwrap();
    assert!(outcome.passed(), "{}", outcome.render());
    assert!(outcome.checks.len() >= 10);
    let transcript = outcome.transcript.join("\n");
    assert!(transcript.contains("client bot → Anna: ✅ You paid 100 points"), "{transcript}");
}

#[tokio::test]
async fn maintenance_expires_overdue_redemption_requests() {
    let recording = Arc::new(RecordingTelegram::new());
    let r = recording.clone();
    let rig = Rig::start_full(recording, Arc::new(move || r.calls()), Some(Duration::from_millis(50))).await;
    let storage = rig.engine.storage();
    let now = rig.engine.now();
    let anna = NewCustomer {
        telegram_id: TelegramUserId(101),
        code: rig.engine.random_code(),
        first_name: "Anna".into(),
        username: None,
        language: Language::En,
        referrer: None,
        legacy_referrer: None,
        via_partner: None,
        welcome_bonus: 100,
        referral_bonus: 0,
        now,
    };
    let anna = storage.register_customer(anna).await.unwrap().customer;
    let application = PartnerApplication {
        telegram_id: TelegramUserId(201),
        name: "Cafe".into(),
        category: "cafe".into(),
        terms: PartnerTerms::default(),
        language: Language::En,
        now,
    };
    let partner = storage.apply_partner(application).await.unwrap().partner;
    storage
        .decide_partner(DecidePartner {
            partner: partner.id,
            decision: PartnerDecision::Approve,
            admin: TelegramUserId(900),
            now,
        })
        .await
        .unwrap();
    let request = OpenRedemption {
        partner: PartnerRef::Id(partner.id),
        customer: CustomerRef::Id(anna.id),
        points: 10,
        purchase: 1000,
        idempotency_key: "maintenance-test".into(),
        now,
        expires_at: Timestamp(now.0 + 600),
    };
    storage.open_redemption(request).await.unwrap();
    // The maintenance pass also asks for the webhooks' state (the watchdog); only messages count here.
    let messages = || (rig.recorded)().into_iter().filter(|c| c.method != "getWebhookInfo").collect::<Vec<_>>();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(messages().is_empty(), "nothing expires early: {:?}", messages());
    rig.clock.inner.advance(601);
    let mut told = Vec::new();
    for _ in 0..400 {
        told = messages().iter().filter_map(|c| c.chat_id()).collect();
        if told.contains(&201) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(told, vec![201], "the partner is told that the request expired");
    assert!(storage.expire_redemptions(rig.engine.now()).await.unwrap().is_empty(), "already expired");
    rig.shutdown().await;
}
