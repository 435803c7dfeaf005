//! The HTTP adapters against local fake servers speaking the real protocols:
//! the real `async-openai` client (inside `OpenAiAssistant`) against a fake
//! `POST /v1/chat/completions`, and `SentryReporter` (also as the transport
//! of a `sentry_core::Client`) against a fake envelope endpoint, all over
//! loopback.

use axum::Router;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Generous bound for "returns promptly" (timeouts in these tests are well under a second).
const PROMPTLY: Duration = Duration::from_secs(10);

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    addr
}

/// A loopback port nothing listens on (bound, then released).
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

/// A server that accepts connections and never answers.
async fn black_hole() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

mod openai {
    use super::*;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use loyalty_core::adapters::chat::{MAX_ANSWER_TOKENS, system_prompt};
    use loyalty_core::domain::Language;
    use loyalty_core::ports::{Assistant, AssistantContext, AssistantError};
    use loyalty_core::{Config, Secret};
    use loyalty_native::assistant::OpenAiAssistant;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    const KEY: &str = "sk-test-0123456789abcdefghijklmnopqrstuv";

    #[derive(Clone, Copy)]
    enum Mode {
        Answer(&'static str),
        Status500,
        Unauthorized,
        Slow,
        Garbage,
    }

    #[derive(Clone)]
    struct Fake {
        mode: Mode,
        seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    }

    /// A chat completion as the API returns it.
    fn completion(content: &str) -> Value {
        json!({
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion",
            "created": 1741569952,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content, "refusal": null, "annotations": [] },
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 182, "completion_tokens": 21, "total_tokens": 203,
                "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
                "completion_tokens_details": {
                    "reasoning_tokens": 0, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
                }
            },
            "service_tier": "default",
            "system_fingerprint": "fp_06737a9306"
        })
    }

    async fn completions(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        fake.seen.lock().expect("lock").push((headers, json));
        match fake.mode {
            Mode::Answer(text) => axum::Json(completion(text)).into_response(),
            // Error bodies that quote the key, as some services do.
            Mode::Status500 => {
                (StatusCode::INTERNAL_SERVER_ERROR, format!("upstream failed for key {KEY}")).into_response()
            }
            Mode::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({ "error": {
                    "message": format!("Incorrect API key provided: {KEY}."),
                    "type": "invalid_request_error", "param": null, "code": "invalid_api_key"
                }})),
            )
                .into_response(),
            Mode::Slow => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                axum::Json(completion("too late")).into_response()
            }
            Mode::Garbage => {
                ([("content-type", "application/json")], format!("{{\"id\": <html> {KEY}")).into_response()
            }
        }
    }

    async fn fake(mode: Mode) -> (String, Fake) {
        let fake = Fake { mode, seen: Arc::default() };
        let router = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
        let addr = serve(router).await;
        (format!("http://{addr}/v1"), fake)
    }

    fn assistant(base_url: &str) -> OpenAiAssistant {
        OpenAiAssistant::new(&Secret::new(KEY), "test-model", base_url)
    }

    fn context() -> AssistantContext {
        AssistantContext {
            program: "Saigon Coffee Club".into(),
            language: Language::Vi,
            balance: 1_250,
            partners: vec!["Pho 24 (cafe): 5 %".into(), "Book Corner (books): 3 %".into()],
        }
    }

    fn assert_failed_without_key(result: Result<String, AssistantError>) -> String {
        match result {
            Err(AssistantError::Failed(text)) => {
                assert!(!text.contains(KEY) && !text.contains("sk-test"), "key leaked: {text}");
                text
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn asks_the_model_with_context_and_returns_the_answer() {
        let (base, fake) = fake(Mode::Answer("  Bạn có 1250 điểm.  ")).await;
        let question = "Tôi có bao nhiêu điểm?";
        let answer = assistant(&base).answer(question, &context()).await.expect("answer");
        assert_eq!(answer, "Bạn có 1250 điểm.");

        let seen = fake.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 1, "one attempt");
        let (headers, body) = &seen[0];
        assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some(format!("Bearer {KEY}").as_str()));
        assert_eq!(body["model"], "test-model");
        assert_eq!(body["max_completion_tokens"], MAX_ANSWER_TOKENS);
        assert!(body.get("stream").is_none_or(|s| s == false));
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["role"], "system");
        let system = messages[0]["content"].as_str().expect("system text");
        assert_eq!(system, system_prompt(&context()));
        for needle in ["Saigon Coffee Club", "Vietnamese", "\"vi\"", "1250 points", "Pho 24 (cafe): 5 %", "Book Corner"]
        {
            assert!(system.contains(needle), "system prompt lacks {needle:?}: {system}");
        }
        assert_eq!(messages[1]["role"], "user");
        assert_eq!(messages[1]["content"], question);
    }

    #[tokio::test]
    async fn from_config_uses_model_and_base_url() {
        let (base, fake) = fake(Mode::Answer("ok")).await;
        let config = Config::from_lookup(|name| match name {
            "OPENAI_API_KEY" => Some(KEY.to_string()),
            "OPENAI_MODEL" => Some("gpt-test".to_string()),
            "OPENAI_BASE_URL" => Some(format!("{base}/")),
            _ => None,
        })
        .expect("config");
        let assistant = OpenAiAssistant::from_config(&config).expect("configured");
        assert_eq!(assistant.answer("hi", &context()).await.expect("answer"), "ok");
        let seen = fake.seen.lock().expect("lock").clone();
        assert_eq!(seen[0].1["model"], "gpt-test");
    }

    #[tokio::test]
    async fn server_error_fails_once_without_the_key() {
        let (base, fake) = fake(Mode::Status500).await;
        let text = assert_failed_without_key(assistant(&base).answer("hi", &context()).await);
        assert!(text.contains("500"), "{text}");
        assert_eq!(fake.seen.lock().expect("lock").len(), 1, "no retries");
    }

    #[tokio::test]
    async fn api_error_names_the_code_not_the_message() {
        let (base, _fake) = fake(Mode::Unauthorized).await;
        let text = assert_failed_without_key(assistant(&base).answer("hi", &context()).await);
        assert_eq!(text, "HTTP 401 (invalid_api_key)");
    }

    #[tokio::test]
    async fn garbage_fails() {
        let (base, _fake) = fake(Mode::Garbage).await;
        let text = assert_failed_without_key(assistant(&base).answer("hi", &context()).await);
        assert_eq!(text, "invalid response");
    }

    #[tokio::test]
    async fn empty_answer_fails() {
        let (base, _fake) = fake(Mode::Answer(" \n ")).await;
        let text = assert_failed_without_key(assistant(&base).answer("hi", &context()).await);
        assert_eq!(text, "empty answer");
    }

    #[tokio::test]
    async fn slow_answer_times_out() {
        let (base, fake) = fake(Mode::Slow).await;
        let assistant = assistant(&base).with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let text = assert_failed_without_key(assistant.answer("hi", &context()).await);
        assert_eq!(text, "timed out");
        assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
        assert_eq!(fake.seen.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn unreachable_service_fails() {
        let addr = closed_port().await;
        let text = assert_failed_without_key(assistant(&format!("http://{addr}/v1")).answer("hi", &context()).await);
        assert_eq!(text, "could not connect");
    }

    #[tokio::test]
    async fn silent_service_times_out() {
        let addr = black_hole().await;
        let assistant = assistant(&format!("http://{addr}/v1")).with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let text = assert_failed_without_key(assistant.answer("hi", &context()).await);
        assert_eq!(text, "timed out");
        assert!(started.elapsed() < PROMPTLY);
    }
}

mod sentry {
    use super::*;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use loyalty_core::adapters::sentry::{Envelopes, RELEASE, panic_report};
    use loyalty_core::domain::Timestamp;
    use loyalty_core::ports::{Clock, ErrorReport, ErrorReporter, Randomness};
    use loyalty_core::{Config, Secret};
    use loyalty_native::sentry::{DEFAULT_TIMEOUT, SentryReporter};
    use sentry_core::protocol::{Envelope, EnvelopeItem, Level};
    use sentry_core::types::Dsn;
    use serde_json::Value;
    use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU16, Ordering};
    use std::sync::{Arc, Mutex};

    const PUBLIC_KEY: &str = "0123456789abcdef0123456789abcdef";
    const BOT_TOKEN: &str = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0";
    const OPENAI_KEY: &str = "sk-proj-abcdefghijklmnopqrstuvwxyz012345";

    struct TestClock(AtomicI64);

    #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
    #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
    impl Clock for TestClock {
        fn now(&self) -> Timestamp {
            Timestamp(self.0.load(Ordering::SeqCst))
        }
        async fn sleep(&self, millis: u64) {
            self.0.fetch_add(i64::try_from(millis / 1000).unwrap_or(0), Ordering::SeqCst);
        }
    }

    struct CountingRandom(AtomicU8);

    impl Randomness for CountingRandom {
        fn fill(&self, buf: &mut [u8]) {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            buf.iter_mut().enumerate().for_each(|(i, b)| *b = n.wrapping_add(u8::try_from(i).unwrap_or(0)));
        }
    }

    /// The requests a fake received: headers and body.
    type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

    #[derive(Clone)]
    struct Fake {
        /// Status to answer with.
        status: Arc<AtomicU16>,
        seen: Seen,
    }

    async fn envelope(State(fake): State<Fake>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
        fake.seen.lock().expect("lock").push((headers, body.to_vec()));
        let status = StatusCode::from_u16(fake.status.load(Ordering::SeqCst)).expect("status");
        if status == StatusCode::TOO_MANY_REQUESTS {
            return (status, [("retry-after", "60")], "").into_response();
        }
        (status, axum::Json(serde_json::json!({ "id": "0" }))).into_response()
    }

    async fn fake() -> (SocketAddr, Fake) {
        let fake = Fake { status: Arc::new(AtomicU16::new(200)), seen: Arc::default() };
        let router = Router::new().route("/api/42/envelope/", post(envelope)).with_state(fake.clone());
        (serve(router).await, fake)
    }

    fn clock(at: i64) -> Arc<TestClock> {
        Arc::new(TestClock(AtomicI64::new(at)))
    }

    fn reporter(dsn: &str, clock: Arc<TestClock>) -> SentryReporter {
        reporter_with(dsn, clock, DEFAULT_TIMEOUT)
    }

    fn reporter_with(dsn: &str, clock: Arc<TestClock>, timeout: Duration) -> SentryReporter {
        let envelopes = Envelopes::new(dsn, "staging", clock, Arc::new(CountingRandom(AtomicU8::new(1)))).expect("dsn");
        SentryReporter::new(envelopes, timeout)
    }

    fn report(message: &str, temporary: bool) -> ErrorReport {
        ErrorReport {
            message: message.into(),
            context: "webhook.client",
            update_kind: Some("message"),
            temporary,
            breadcrumbs: Vec::new(),
        }
    }

    /// Splits an envelope into its header, item header and item JSON, checking the item length.
    fn parts(body: &[u8]) -> (Value, Value, Value) {
        let header_end = body.iter().position(|b| *b == b'\n').expect("header line");
        let header: Value = serde_json::from_slice(&body[..header_end]).expect("header json");
        let rest = &body[header_end + 1..];
        let item_end = rest.iter().position(|b| *b == b'\n').expect("item header line");
        let item: Value = serde_json::from_slice(&rest[..item_end]).expect("item header json");
        let payload = &rest[item_end + 1..];
        let length = usize::try_from(item["length"].as_u64().expect("length")).expect("usize");
        let event: Value = serde_json::from_slice(&payload[..length]).expect("event json");
        (header, item, event)
    }

    #[tokio::test]
    async fn posts_an_event_envelope() {
        let (addr, fake) = fake().await;
        let dsn = format!("http://{PUBLIC_KEY}@{addr}/42");
        let reporter = reporter(&dsn, clock(1_700_000_000));
        let message =
            format!("Bot API unreachable: POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage with {OPENAI_KEY}");
        reporter.report(report(&message, true)).await;

        let seen = fake.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 1);
        let (headers, body) = &seen[0];
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(
            header("x-sentry-auth").as_deref(),
            Some(
                format!(
                    "Sentry sentry_version=7, sentry_key={PUBLIC_KEY}, sentry_client=loyalty-rs/{}",
                    env!("CARGO_PKG_VERSION")
                )
                .as_str()
            )
        );
        assert_eq!(header("content-type").as_deref(), Some("application/x-sentry-envelope"));

        let (env_header, item, event) = parts(body);
        let sent_dsn: Dsn = env_header["dsn"].as_str().expect("dsn").parse().expect("a DSN");
        assert_eq!(sent_dsn, dsn.parse::<Dsn>().expect("a DSN"));
        let event_id = env_header["event_id"].as_str().expect("event_id");
        assert_eq!(event_id.replace('-', ""), event["event_id"].as_str().expect("event's id"));
        assert_eq!(env_header["sent_at"], "2023-11-14T22:13:20Z");
        assert_eq!(item["type"], "event");
        assert_eq!(event["level"], "warning");
        assert_eq!(event["environment"], "staging");
        assert_eq!(event["release"], loyalty_core::adapters::sentry::default_release());
        assert!(event["release"].as_str().is_some_and(|r| r.starts_with(RELEASE)));
        assert_eq!(event["timestamp"].as_f64(), Some(1_700_000_000.0));
        assert_eq!(event["tags"]["context"], "webhook.client");
        assert_eq!(event["tags"]["update_kind"], "message");
        assert_eq!(event["tags"]["temporary"], "true");
        assert_eq!(
            event["message"],
            "Bot API unreachable: POST https://api.telegram.org/bot[redacted]/sendMessage with [redacted]"
        );
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains(BOT_TOKEN) && !text.contains("AAHdqTcvCH1v") && !text.contains(OPENAI_KEY));

        // Sentry's own parser reads it back.
        let parsed = Envelope::from_slice(body).expect("valid envelope");
        let event = parsed.event().expect("event item");
        assert_eq!(event.level, Level::Warning);
        assert_eq!(parsed.uuid(), Some(&event.event_id));
        assert_eq!(event.event_id.get_version_num(), 4);
        assert_eq!(event.platform, "other");
    }

    #[tokio::test]
    async fn permanent_failures_are_errors() {
        let (addr, fake) = fake().await;
        let reporter = reporter(&format!("http://{PUBLIC_KEY}@{addr}/42"), clock(1_700_000_000));
        let mut r = report("storage unavailable", false);
        r.update_kind = None;
        reporter.report(r).await;
        reporter.report(report("again", false)).await;

        let seen = fake.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 2);
        let (_, _, event) = parts(&seen[0].1);
        // Sentry's default level is error, which the protocol leaves out.
        assert!(event.get("level").is_none());
        assert_eq!(event["tags"]["temporary"], "false");
        assert!(event["tags"].get("update_kind").is_none());
        let parsed = Envelope::from_slice(&seen[0].1).expect("valid envelope");
        let items: Vec<_> = parsed.items().collect();
        assert!(matches!(items.as_slice(), [EnvelopeItem::Event(e)] if e.level == Level::Error));
        // Distinct ids.
        let (a, _, _) = parts(&seen[0].1);
        let (b, _, _) = parts(&seen[1].1);
        assert_ne!(a["event_id"], b["event_id"]);
    }

    #[tokio::test]
    async fn dsn_with_a_path_prefix() {
        let fake = Fake { status: Arc::new(AtomicU16::new(200)), seen: Arc::default() };
        let router = Router::new().route("/sentry/api/42/envelope/", post(envelope)).with_state(fake.clone());
        let addr = serve(router).await;
        let reporter = reporter(&format!("http://{PUBLIC_KEY}@{addr}/sentry/42"), clock(0));
        assert_eq!(reporter.envelopes().envelope_url(), format!("http://{addr}/sentry/api/42/envelope/"));
        reporter.report(report("x", true)).await;
        assert_eq!(fake.seen.lock().expect("lock").len(), 1);
    }

    #[test]
    fn from_config() {
        let none = Envelopes::from_config(&Config::default(), clock(0), Arc::new(CountingRandom(AtomicU8::new(0))));
        assert!(none.expect("no dsn is fine").is_none());

        let config = Config {
            sentry_dsn: Some(Secret::new("https://abc@o1.ingest.sentry.io/42")),
            sentry_environment: "production".into(),
            ..Config::default()
        };
        let reporter = Envelopes::from_config(&config, clock(0), Arc::new(CountingRandom(AtomicU8::new(0))))
            .expect("valid")
            .expect("configured");
        assert_eq!(reporter.envelope_url(), "https://o1.ingest.sentry.io/api/42/envelope/");

        for bad in ["https://o1.ingest.sentry.io/42", "https://abc@o1.ingest.sentry.io/", "ftp://abc@host/42", "nope"] {
            let config = Config { sentry_dsn: Some(Secret::new(bad)), ..Config::default() };
            let error =
                Envelopes::from_config(&config, clock(0), Arc::new(CountingRandom(AtomicU8::new(0)))).expect_err(bad);
            assert!(!error.to_string().contains(bad), "DSN repeated in {error}");
        }
    }

    #[tokio::test]
    async fn unreachable_sentry_neither_fails_nor_hangs() {
        let closed = closed_port().await;
        let refused = reporter(&format!("http://{PUBLIC_KEY}@{closed}/42"), clock(0));
        let started = Instant::now();
        refused.report(report("x", false)).await;
        assert!(started.elapsed() < PROMPTLY);

        let silent = black_hole().await;
        let stalled = reporter_with(&format!("http://{PUBLIC_KEY}@{silent}/42"), clock(0), Duration::from_millis(300));
        let started = Instant::now();
        stalled.report(report("x", false)).await;
        assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn rejected_reports_are_swallowed() {
        let (addr, fake) = fake().await;
        fake.status.store(500, Ordering::SeqCst);
        let reporter = reporter(&format!("http://{PUBLIC_KEY}@{addr}/42"), clock(0));
        reporter.report(report("x", false)).await;
        reporter.report(report("y", false)).await;
        // Both tried: a 5xx does not pause reporting.
        assert_eq!(fake.seen.lock().expect("lock").len(), 2);
    }

    #[tokio::test]
    async fn rate_limit_pauses_reporting() {
        let (addr, fake) = fake().await;
        fake.status.store(429, Ordering::SeqCst);
        let clock = clock(1_000);
        let reporter = reporter(&format!("http://{PUBLIC_KEY}@{addr}/42"), clock.clone());
        reporter.report(report("x", false)).await;
        assert_eq!(fake.seen.lock().expect("lock").len(), 1);

        fake.status.store(200, Ordering::SeqCst);
        clock.0.store(1_059, Ordering::SeqCst);
        reporter.report(report("dropped", false)).await;
        assert_eq!(fake.seen.lock().expect("lock").len(), 1, "paused for Retry-After: 60");

        clock.0.store(1_060, Ordering::SeqCst);
        reporter.report(report("sent", false)).await;
        assert_eq!(fake.seen.lock().expect("lock").len(), 2);
    }

    /// `SentryReporter` is a real `sentry_core::Transport`: `sentry_core::Client` sends through it,
    /// and `Client::flush` waits for its posts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_transport_serves_sentry_core_s_client() {
        let (addr, fake) = fake().await;
        let dsn = format!("http://{PUBLIC_KEY}@{addr}/42");
        let reporter = reporter(&dsn, clock(1_700_000_000));
        let options = sentry_core::ClientOptions::new().transport(Arc::new(reporter.clone()));
        let client = sentry_core::Client::from((dsn.as_str(), options));
        let event = reporter.envelopes().event(
            &report("through sentry-core", false),
            sentry_core::types::Uuid::from_bytes([7; 16]),
            Timestamp(1_700_000_000),
        );
        client.capture_event(event, None);
        let flushed =
            tokio::task::spawn_blocking(move || client.flush(Some(Duration::from_secs(10)))).await.expect("flush");
        assert!(flushed);

        let seen = fake.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 1);
        let header = |name: &str| seen[0].0.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        assert!(header("x-sentry-auth").is_some_and(|a| a.contains(PUBLIC_KEY)));
        let parsed = Envelope::from_slice(&seen[0].1).expect("valid envelope");
        assert_eq!(parsed.event().expect("event").message.as_deref(), Some("through sentry-core"));
    }

    #[test]
    fn panic_reports_carry_the_location_only() {
        let seen = Arc::new(Mutex::new(None));
        let sink = seen.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            *sink.lock().expect("lock") = Some(panic_report(info));
        }));
        let line = line!() + 1;
        let result = std::panic::catch_unwind(|| panic!("customer said {BOT_TOKEN}"));
        std::panic::set_hook(previous);
        assert!(result.is_err());

        let report = seen.lock().expect("lock").take().expect("hook ran");
        assert_eq!(report.context, "panic");
        assert!(!report.temporary);
        assert!(report.message.starts_with(&format!("panic at {}:{line}:", file!())), "{}", report.message);
        assert!(!report.message.contains("customer"));
    }

    #[tokio::test]
    async fn sentry_release_names_the_events_release() {
        let (addr, fake) = fake().await;
        let dsn = format!("http://{PUBLIC_KEY}@{addr}/42");
        let vars = [("SENTRY_DSN", dsn.as_str()), ("SENTRY_RELEASE", "cafe-bot@2.1.0+abc123")];
        let config =
            loyalty_core::Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
                .expect("config");
        let random = Arc::new(CountingRandom(AtomicU8::new(1)));
        let envelopes = Envelopes::from_config(&config, clock(1_700_000_000), random).expect("dsn").expect("a DSN");
        SentryReporter::new(envelopes, DEFAULT_TIMEOUT).report(report("boom", false)).await;
        let seen = fake.seen.lock().expect("lock").clone();
        let (_, _, event) = parts(&seen[0].1);
        assert_eq!(event["release"], "cafe-bot@2.1.0+abc123");
        let spaced = loyalty_core::Config::from_lookup(|k| (k == "SENTRY_RELEASE").then(|| "a b".to_string()));
        assert!(spaced.unwrap_err().to_string().contains("SENTRY_RELEASE"));
    }
}
