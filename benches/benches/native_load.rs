//! A bounded loopback load run of the native server (`loyalty serve`) on the
//! SQLite store: many customers asking for their balance at once, every
//! update a fresh one. Reports updates/s and latency percentiles.
//!
//! Run: `cargo bench -p loyalty-benches --bench native_load`
//! (environment: `LOAD_SECONDS`, default 10; `LOAD_CONNECTIONS`, default 16).
//! Traffic goes to 127.0.0.1 only, and the run stops by itself.
#![allow(clippy::print_stdout)]

use loyalty_core::ports::BotKind;
use loyalty_core::telegram::webhook_secret;
use loyalty_core::testkit::{TgUser, test_config, text_json};
use loyalty_core::{Engine, Ports};
use loyalty_native::clock::{OsRandom, SystemClock};
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::server::{App, serve};
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_native::telegram::HttpTelegram;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let seconds = env_u64("LOAD_SECONDS", 10).clamp(1, 120);
    let connections = env_u64("LOAD_CONNECTIONS", 16).clamp(1, 256) as usize;
    let customers = 200i64;

    let fake = FakeBotApi::start().await;
    let mut config = test_config();
    config.telegram_api_url = fake.url();
    let dir = std::env::temp_dir().join(format!("loyalty-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(dir.join("load.db")).expect("sqlite");
    let telegram = HttpTelegram::new(&config).expect("client").with_rate_limits(None);
    let ports = Ports {
        storage: Arc::new(store),
        telegram: Arc::new(telegram),
        assistant: None,
        reporter: Arc::new(loyalty_core::ports::NoReporter),
        clock: Arc::new(SystemClock),
        random: Arc::new(OsRandom),
    };
    let engine = Engine::new(config.clone(), ports);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, App::new(engine).with_maintenance_interval(None), async move {
        let _ = stop_rx.await;
    }));

    let url = format!("http://{addr}/webhook/client");
    let secret = webhook_secret(&config, BotKind::Client).expect("secret").expose().to_string();
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
    let next_id = Arc::new(AtomicI64::new(1));
    let post = |text: String, user: i64| {
        let body =
            serde_json::to_vec(&text_json(next_id.fetch_add(1, Ordering::Relaxed), &TgUser::new(user, "Load"), &text))
                .expect("json");
        client
            .post(&url)
            .header("x-telegram-bot-api-secret-token", &secret)
            .header("content-type", "application/json")
            .body(body)
    };
    // Sign the customers up first (not measured).
    for user in 0..customers {
        let res = post("/start".into(), 10_000 + user).send().await.expect("sign-up");
        assert!(res.status().is_success(), "sign-up failed: {}", res.status());
    }

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..connections {
        let client = client.clone();
        let (url, secret, next_id) = (url.clone(), secret.clone(), next_id.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = w as i64;
            while Instant::now() < deadline {
                let user = 10_000 + i % customers;
                i += connections as i64;
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::to_vec(&text_json(id, &TgUser::new(user, "Load"), "/balance")).expect("json");
                let t0 = Instant::now();
                let res = client
                    .post(&url)
                    .header("x-telegram-bot-api-secret-token", &secret)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t0.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.expect("worker");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
    println!(
        "native serve + SQLite, {connections} connections, {seconds} s: {} updates, {:.0} updates/s, p50 {:.2} ms, p99 {:.2} ms, errors {errors}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
}
