//! Outgoing webhooks over real HTTPS on loopback: the engine on a SQLite
//! store posts its events with [`HttpWebhookSender`] to a receiver with a
//! certificate made here, which checks every delivery as a program's
//! receiver should — the signature over the raw body, the timestamp, the
//! event id not seen before — and answers `200`, or `4xx` for a replayed or
//! altered delivery. A receiver answering `500` gets the delivery again on the
//! retry schedule; a redirect is not followed; a host that resolves to
//! loopback is refused unless the sender was told to connect there.
//!
//! The engine's clock is stepped ([`FakeClock`]); the receiver verifies with
//! the same clock, so the signature's tolerance is exercised on purpose.

use loyalty_core::Engine;
use loyalty_core::Ports;
use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::domain::{Timestamp, WebhookId};
use loyalty_core::outgoing::{DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER, SignatureError, WebhookEvent, verify};
use loyalty_core::ports::{Clock, Webhook, WebhookOwner, WebhookPost, WebhookPostError, WebhookSender};
use loyalty_core::usecases;
use loyalty_native::outgoing::HttpWebhookSender;
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{
    ADMIN_CHAT, FakeAssistant, FakeClock, RecordingReporter, RecordingTelegram, RecordingWebhooks, SeqRandom,
    TEST_START, TestEnv, TgUser, test_config,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

mod common;
use common::Scratch;

/// The name the receiver's certificate is for; the sender is told to
/// connect to the receiver for it.
const HOST: &str = "hooks.example.test";

fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}

fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A self-signed certificate for [`HOST`] and `localhost`: its PEM (what
/// the sender trusts), its DER and its key.
struct Certificate {
    pem: String,
    der: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Certificate {
    fn new() -> Certificate {
        let made = rcgen::generate_simple_self_signed(vec![HOST.to_string(), "localhost".to_string()]).unwrap();
        Certificate { pem: made.cert.pem(), der: made.cert.der().clone(), key: made.signing_key.serialize_der() }
    }

    fn acceptor(&self) -> TlsAcceptor {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone()], key)
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }

    fn connector(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

/// One request the receiver read, with its answer.
#[derive(Debug, Clone)]
struct Received {
    /// The request exactly as read: head and body.
    raw: Vec<u8>,
    /// Its body.
    body: Vec<u8>,
    /// The status answered.
    status: u16,
    /// Why: `ok`, `signature`, `stale`, `replay`, `failing`, `redirect`, `bad request`.
    why: &'static str,
    /// The event's type and id, when the body had them.
    event: Option<(String, String)>,
}

/// What the receiver knows and does.
#[derive(Debug, Default)]
struct ReceiverState {
    /// The endpoint's signing secret (known once registered).
    secret: String,
    /// The event ids handled.
    seen: HashSet<String>,
    /// Answer this status to valid new deliveries instead of handling them
    /// (`500`: the receiver's own failure; `307`: a redirect).
    answer: Option<u16>,
    /// Every request, in order.
    log: Vec<Received>,
}

/// A program's webhook receiver: HTTPS on 127.0.0.1, one request per
/// connection, a minimal HTTP/1.1 parser (so the raw request is kept).
struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(cert: &Certificate, clock: Arc<FakeClock>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let acceptor = cert.acceptor();
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, state, clock) = (acceptor.clone(), shared.clone(), clock.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Some((raw, head_len)) = read_request(&mut tls).await else { return };
                    let received = handle(&state, &raw, head_len, clock.now());
                    let status = received.status;
                    let location = if status == 307 { "Location: /elsewhere\r\n" } else { "" };
                    let answer = format!(
                        "HTTP/1.1 {status} {}\r\n{location}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        reason(status),
                        received.why.len(),
                        received.why
                    );
                    lock(&state).log.push(received);
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Receiver { addr, state, task }
    }

    fn state(&self) -> MutexGuard<'_, ReceiverState> {
        lock(&self.state)
    }

    fn log(&self) -> Vec<Received> {
        self.state().log.clone()
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/hook", self.addr.port())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        409 => "Conflict",
        _ => "Internal Server Error",
    }
}

/// One request's bytes (head and `Content-Length` body) and the head's
/// length, or `None` when the peer stopped first.
async fn read_request(tls: &mut (impl AsyncReadExt + Unpin)) -> Option<(Vec<u8>, usize)> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tls.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_len]).to_string();
    let length: usize = head_value(&head, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while raw.len() < head_len + length {
        let n = tls.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        raw.extend_from_slice(&chunk[..n]);
    }
    raw.truncate(head_len + length);
    Some((raw, head_len))
}

/// The value of header `name` in an HTTP head.
fn head_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// What a careful receiver does with one request: the signature over the
/// raw body (and within the tolerance of `now`), then the event id not seen
/// before; only then is the event handled.
fn handle(state: &Mutex<ReceiverState>, raw: &[u8], head_len: usize, now: Timestamp) -> Received {
    let head = String::from_utf8_lossy(&raw[..head_len]).to_string();
    let body = raw[head_len..].to_vec();
    let event = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| Some((v["type"].as_str()?.to_string(), v["id"].as_str()?.to_string())));
    let answer = |status: u16, why: &'static str| Received {
        raw: raw.to_vec(),
        body: body.clone(),
        status,
        why,
        event: event.clone(),
    };
    let json = head_value(&head, "content-type") == Some("application/json");
    if !head.starts_with("POST /hook HTTP/1.1\r\n") || !json {
        return answer(400, "bad request");
    }
    let mut state = lock(state);
    let signature = head_value(&head, SIGNATURE_HEADER).unwrap_or_default();
    match verify(&state.secret, signature, &body, now, DEFAULT_TOLERANCE_SECS) {
        Ok(_) => {}
        Err(SignatureError::Stale) => return answer(400, "stale"),
        Err(_) => return answer(400, "signature"),
    }
    let Some((_, id)) = &event else { return answer(400, "bad request") };
    if head_value(&head, "loyalty-event-id") != Some(id.as_str()) {
        return answer(400, "bad request");
    }
    if state.seen.contains(id) {
        return answer(409, "replay");
    }
    match state.answer {
        Some(500) => answer(500, "failing"),
        Some(307) => answer(307, "redirect"),
        _ => {
            state.seen.insert(id.clone());
            answer(200, "ok")
        }
    }
}

/// Sends `raw` byte for byte to the receiver over a new TLS connection for
/// [`HOST`]; the status answered.
async fn send_raw(receiver: &Receiver, cert: &Certificate, raw: &[u8]) -> u16 {
    let tcp = TcpStream::connect(receiver.addr).await.unwrap();
    let mut tls = cert.connector().connect(ServerName::try_from(HOST).unwrap(), tcp).await.unwrap();
    tls.write_all(raw).await.unwrap();
    let mut answer = Vec::new();
    // The receiver closes the connection after its answer.
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// The engine on a fresh SQLite file with the real sender, told to reach
/// [`HOST`] at the receiver and to trust its certificate; the scenario
/// harness over it.
struct Rig {
    h: Harness,
    receiver: Receiver,
    cert: Certificate,
    _db: Scratch,
}

impl Rig {
    async fn start() -> Rig {
        let cert = Certificate::new();
        let clock = Arc::new(FakeClock::new(TEST_START));
        let receiver = Receiver::start(&cert, clock.clone()).await;
        let sender = HttpWebhookSender::builder()
            .root_certificates_pem(cert.pem.as_bytes())
            .unwrap()
            .resolve(HOST, receiver.addr)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let db = Scratch::new("outgoing-webhooks");
        let storage = Arc::new(SqliteStore::open(db.db()).unwrap());
        let telegram = Arc::new(RecordingTelegram::new());
        let assistant = Arc::new(FakeAssistant::new());
        let reporter = Arc::new(RecordingReporter::default());
        let ports = Ports {
            storage: storage.clone(),
            telegram: telegram.clone(),
            assistant: Some(assistant.clone()),
            reporter: reporter.clone(),
            clock: clock.clone(),
            random: Arc::new(SeqRandom::new(7)),
            webhooks: Some(Arc::new(sender)),
        };
        let engine = Engine::new(test_config(), ports);
        // `webhooks` is the harness's recorder, unused here: the engine posts through the real sender.
        let env = TestEnv {
            engine,
            storage,
            clock,
            telegram,
            assistant,
            reporter,
            webhooks: Arc::new(RecordingWebhooks::new()),
        };
        Rig { h: Harness::new(env), receiver, cert, _db: db }
    }

    /// Registers the receiver as the program's endpoint for every event.
    async fn register(&self) -> Webhook {
        let url = self.receiver.url(HOST);
        let ctx = self.h.engine().context();
        let hook = usecases::add_webhook(ctx, WebhookOwner::Program, &url, WebhookEvent::ALL.to_vec(), "rig".into())
            .await
            .unwrap()
            .webhook;
        self.receiver.state().secret = hook.secret.clone();
        hook
    }

    /// Anna signs up; Linh applies as a partner and the admin approves.
    async fn program(&self) {
        self.h.say(Client, &anna(), "/start").await;
        self.h.say(Partner, &linh(), "/apply Pho 24; cafe").await;
        let id = self.h.engine().storage().list_partners(None).await.unwrap()[0].id;
        self.h.press(Admin, &TgUser::new(ADMIN_CHAT, "Admin"), &format!("pa:{id}")).await;
    }

    /// Linh credits Anna for a purchase of `amount`.
    async fn credit(&self, amount: i64) {
        let code = self.h.code(&anna()).await.unwrap();
        let done = self.h.say(Partner, &linh(), &format!("/credit {code} {amount}")).await;
        assert!(!done.calls.is_empty(), "the partner bot answered the credit");
    }

    async fn endpoint(&self, id: WebhookId) -> Webhook {
        let all = self.h.engine().storage().webhooks(WebhookOwner::Program).await.unwrap();
        all.into_iter().find(|w| w.id == id).expect("the endpoint is listed")
    }

    fn now(&self) -> Timestamp {
        self.h.env.clock.now()
    }
}

/// The accepted deliveries' event types, in order.
fn accepted(log: &[Received]) -> Vec<String> {
    log.iter().filter(|r| r.status == 200).filter_map(|r| r.event.as_ref().map(|(t, _)| t.clone())).collect()
}

#[tokio::test]
async fn a_credit_reaches_the_receiver_once_verified_and_a_replay_or_an_altered_body_is_rejected() {
    let rig = Rig::start().await;
    let hook = rig.register().await;
    rig.program().await;
    rig.credit(50_000).await;
    // Whatever is left in the outbox goes now; nothing is posted twice.
    rig.h.engine().drain_outbox(10).await;

    let log = rig.receiver.log();
    assert_eq!(accepted(&log), ["customer.joined", "points.credited"], "{log:#?}");
    assert!(log.iter().all(|r| r.status == 200), "every delivery verified: {log:#?}");
    let credited = log.iter().find(|r| r.event.as_ref().is_some_and(|(t, _)| t == "points.credited")).unwrap();
    let head = String::from_utf8_lossy(&credited.raw).to_string();
    assert_eq!(head_value(&head, "loyalty-event"), Some("points.credited"));
    assert!(head_value(&head, "user-agent").is_some_and(|ua| ua.starts_with("loyalty-rs/")), "{head}");
    let event: serde_json::Value = serde_json::from_slice(&credited.body).unwrap();
    assert_eq!(event["data"]["customer"]["code"], rig.h.code(&anna()).await.unwrap().as_str());
    assert_eq!(event["data"]["balance"], rig.h.balance(&anna()).await);

    let seen = rig.endpoint(hook.id).await;
    assert_eq!((seen.last_status, seen.last_error.as_deref()), (Some(200), None));
    assert_eq!(seen.last_success_at, Some(rig.now()));
    let state = rig.h.env.storage.outbox_state(rig.now()).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 0), "the events and their deliveries are done");

    // The captured request again, byte for byte: the id was handled.
    assert_eq!(send_raw(&rig.receiver, &rig.cert, &credited.raw).await, 409);
    // One byte of the body changed (a digit of the amount): the signature no longer matches.
    let mut altered = credited.raw.clone();
    let body_at = altered.len() - credited.body.len();
    let amount = format!("\"amount\":{}", event["data"]["entry"]["amount"]);
    let at = body_at + String::from_utf8_lossy(&credited.body).find(&amount).expect("the amount in the body");
    let digit = at + "\"amount\":".len();
    altered[digit] = if altered[digit] == b'9' { b'1' } else { altered[digit] + 1 };
    assert_eq!(send_raw(&rig.receiver, &rig.cert, &altered).await, 400);
    // Later, the same request is also too old, whatever ids the receiver still keeps.
    rig.h.env.clock.advance(DEFAULT_TOLERANCE_SECS + 1);
    rig.receiver.state().seen.clear();
    assert_eq!(send_raw(&rig.receiver, &rig.cert, &credited.raw).await, 400);

    let log = rig.receiver.log();
    let why: Vec<_> = log.iter().map(|r| r.why).collect();
    assert_eq!(why, ["ok", "ok", "replay", "signature", "stale"]);
    assert_eq!(accepted(&log).len(), 2, "nothing more was handled");
}

#[tokio::test]
async fn a_failing_receiver_gets_the_delivery_again_on_the_retry_schedule() {
    let rig = Rig::start().await;
    rig.program().await;
    let hook = rig.register().await;
    rig.receiver.state().answer = Some(500);
    rig.credit(50_000).await;

    let log = rig.receiver.log();
    assert_eq!(log.iter().map(|r| (r.status, r.why)).collect::<Vec<_>>(), [(500, "failing")], "{log:#?}");
    let seen = rig.endpoint(hook.id).await;
    assert_eq!(seen.last_status, Some(500));
    assert_eq!(seen.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(seen.last_success_at, None);
    assert_eq!(rig.h.env.storage.outbox_state(rig.now()).await.unwrap().pending, 1, "kept for a retry");

    // Not before its time (a minute), and then once.
    rig.receiver.state().answer = None;
    rig.h.env.clock.advance(59);
    rig.h.engine().drain_outbox(10).await;
    assert_eq!(rig.receiver.log().len(), 1, "too early for the retry");
    rig.h.env.clock.advance(1);
    rig.h.engine().drain_outbox(10).await;
    let log = rig.receiver.log();
    assert_eq!(log.iter().map(|r| (r.status, r.why)).collect::<Vec<_>>(), [(500, "failing"), (200, "ok")]);
    assert_eq!(log[0].event, log[1].event, "the same event again");
    assert_ne!(log[0].raw, log[1].raw, "signed anew at the retry");
    let seen = rig.endpoint(hook.id).await;
    assert_eq!((seen.last_status, seen.last_error), (Some(200), None));
    assert_eq!(seen.last_success_at, Some(rig.now()));
    let state = rig.h.env.storage.outbox_state(rig.now()).await.unwrap();
    assert_eq!((state.pending, state.failed), (0, 0));
}

fn unsigned(url: String) -> WebhookPost {
    WebhookPost {
        url,
        headers: vec![("Loyalty-Event-Id", "evt_test".into())],
        body: br#"{"id":"evt_test"}"#[..].into(),
    }
}

#[tokio::test]
async fn a_host_resolving_to_loopback_is_refused_unless_the_sender_was_told_to_go_there() {
    let cert = Certificate::new();
    let receiver = Receiver::start(&cert, Arc::new(FakeClock::new(TEST_START))).await;
    let filtered = HttpWebhookSender::builder().root_certificates_pem(cert.pem.as_bytes()).unwrap().build().unwrap();
    // `localhost` resolves to loopback (through /etc/hosts): refused before connecting.
    for url in [receiver.url("localhost"), receiver.url("127.0.0.1"), receiver.url("[::ffff:127.0.0.1]")] {
        let answer = filtered.post(&unsigned(url.clone())).await;
        let Err(WebhookPostError::Refused(why)) = &answer else { panic!("{url}: {answer:?}") };
        assert!(why.contains("not public"), "{why}");
        assert!(!why.contains("127.0.0.1"), "the owner is not told what the name resolves to: {why}");
    }
    assert!(receiver.log().is_empty(), "nothing reached the receiver");

    // The same name set explicitly by whoever built the sender is reached (and
    // answered: the receiver refuses an unsigned delivery).
    let told = HttpWebhookSender::builder()
        .root_certificates_pem(cert.pem.as_bytes())
        .unwrap()
        .resolve("localhost", receiver.addr)
        .build()
        .unwrap();
    assert_eq!(told.post(&unsigned(receiver.url("localhost"))).await, Ok(400));
    assert_eq!(receiver.log().len(), 1);
}

#[tokio::test]
async fn a_redirect_is_answered_not_followed() {
    let cert = Certificate::new();
    let receiver = Receiver::start(&cert, Arc::new(FakeClock::new(TEST_START))).await;
    let secret = "whsec_redirect-test-secret-0123456789";
    {
        let mut state = receiver.state();
        state.secret = secret.to_string();
        state.answer = Some(307);
    }
    let sender = HttpWebhookSender::builder()
        .root_certificates_pem(cert.pem.as_bytes())
        .unwrap()
        .resolve(HOST, receiver.addr)
        .build()
        .unwrap();
    let body = br#"{"id":"evt_redirect","type":"points.credited"}"#;
    let post = WebhookPost {
        url: receiver.url(HOST),
        headers: vec![
            (SIGNATURE_HEADER, loyalty_core::outgoing::sign(secret, TEST_START, body)),
            ("Loyalty-Event-Id", "evt_redirect".into()),
        ],
        body: body[..].into(),
    };
    assert_eq!(sender.post(&post).await, Ok(307));
    let log = receiver.log();
    assert_eq!(log.iter().map(|r| r.why).collect::<Vec<_>>(), ["redirect"], "one request, /elsewhere not asked for");
}

#[tokio::test]
async fn no_answer_in_time_is_unreachable() {
    // Accepts connections and never says anything (not even the TLS handshake).
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            open.push(tcp);
        }
    });
    let sender = HttpWebhookSender::builder().resolve(HOST, addr).timeout(Duration::from_millis(300)).build().unwrap();
    let started = std::time::Instant::now();
    let answer = sender.post(&unsigned(format!("https://{HOST}:{}/hook", addr.port()))).await;
    let Err(WebhookPostError::Unreachable(why)) = &answer else { panic!("{answer:?}") };
    assert!(why.contains("timed out"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(5), "gave up after {:?}", started.elapsed());

    // A closed port: the connection fails.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let sender = HttpWebhookSender::builder().resolve(HOST, closed).build().unwrap();
    let answer = sender.post(&unsigned(format!("https://{HOST}:{}/hook", closed.port()))).await;
    assert!(
        matches!(&answer, Err(WebhookPostError::Unreachable(why)) if why.contains("connection failed")),
        "{answer:?}"
    );
    held.abort();
}
