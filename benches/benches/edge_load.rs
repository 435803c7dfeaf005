//! A bounded loopback load run of the client bot's Worker in a real `workerd`
//! next to the native server (`loyalty serve`), side by side in one run, on
//! the same storage: PostgreSQL behind `postrust` (a PostgREST-compatible
//! server) reached the way Supabase is, `/rest/v1/rpc/…`. Every update is a
//! fresh `/balance` from a signed-up customer: claimed, answered from a
//! storage read, with the reply in the webhook response.
//!
//! Reports, for each: updates/s, p50/p99 latency; for workerd also its
//! process CPU time per update (user + system, from `/proc`) and, for both,
//! the storage requests per update (counted by the proxy in front of postrust).
//!
//! Needs what `scripts/test.sh` sets up: the built Workers
//! (`scripts/build-workers.sh client-webhook`), `WORKERD_BIN`
//! (`eval "$(scripts/edge-tools.sh env)"`), `POSTRUST_BIN`
//! (`scripts/postrust.sh`) and PostgreSQL on 127.0.0.1:5432.
//!
//! Run: `cargo bench -p loyalty-benches --bench edge_load`
//! (environment: `LOAD_SECONDS`, default 10; `LOAD_CONNECTIONS`, default 8).
//! Traffic goes to 127.0.0.1 only, and each run stops by itself.
#![allow(clippy::print_stdout)]

use loyalty_core::ports::BotKind;
use loyalty_core::telegram::webhook_secret;
use loyalty_core::testkit::{TgUser, text_json};
use loyalty_core::{Config, Engine, Ports, Secret};
use loyalty_native::clock::{OsRandom, SystemClock};
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::server::{App, serve};
use loyalty_native::simulate;
use loyalty_native::telegram::HttpTelegram;
use loyalty_native::testsupport::postgres::TestDb;
use loyalty_native::testsupport::postrust::service_key;
use loyalty_native::testsupport::workerd::{Supabase, Workerd, repo_root, supabase_proxy};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

const CUSTOMERS: i64 = 200;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// User + system CPU time of process `pid`, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(100);
    Duration::from_micros(ticks * 1_000_000 / hz)
}

struct Run {
    updates: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    storage_requests: u64,
}

/// Signs the customers up, then POSTs fresh `/balance` updates to `url` from
/// `connections` tasks for `seconds`.
async fn load(url: &str, secret: &str, supabase: &Supabase, connections: usize, seconds: u64) -> Run {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
    static NEXT_ID: AtomicI64 = AtomicI64::new(1);
    let send = |user: i64, text: &str| {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&text_json(id, &TgUser::new(user, "Load"), text)).expect("json");
        client
            .post(url)
            .header("x-telegram-bot-api-secret-token", secret)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for user in 0..CUSTOMERS {
        let res = send(10_000 + user, "/start").await.expect("sign-up");
        assert!(res.status().is_success(), "sign-up failed: {}", res.status());
    }
    let before = supabase.requests.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|w| {
            let (client, url, secret) = (client.clone(), url.to_string(), secret.to_string());
            tokio::spawn(async move {
                let (mut latencies, mut errors, mut i) = (Vec::new(), 0u64, w as i64);
                while Instant::now() < deadline {
                    let user = 10_000 + i % CUSTOMERS;
                    i += connections as i64;
                    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                    let body =
                        serde_json::to_vec(&text_json(id, &TgUser::new(user, "Load"), "/balance")).expect("json");
                    let t0 = Instant::now();
                    let res = client
                        .post(&url)
                        .header("x-telegram-bot-api-secret-token", &secret)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    // A reply in the body means the update was handled, not skipped.
                    let answered = match res {
                        Ok(r) if r.status().is_success() => !r.bytes().await.unwrap_or_default().is_empty(),
                        _ => false,
                    };
                    if answered {
                        latencies.push(t0.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("load task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let storage_requests = supabase.requests.load(Ordering::Relaxed) - before;
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
    Run {
        updates: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
        storage_requests,
    }
}

fn show(name: &str, run: &Run) {
    println!(
        "{name}: {} updates, {:.0} updates/s, p50 {:.2} ms, p99 {:.2} ms, errors {}, storage requests/update {:.2}",
        run.updates,
        run.per_second,
        run.p50.as_secs_f64() * 1000.0,
        run.p99.as_secs_f64() * 1000.0,
        run.errors,
        run.storage_requests as f64 / (run.updates as f64 + run.errors as f64).max(1.0),
    );
}

#[tokio::main]
async fn main() {
    let seconds = env_u64("LOAD_SECONDS", 10).clamp(1, 120);
    let connections = env_u64("LOAD_CONNECTIONS", 8).clamp(1, 256) as usize;
    let fake = FakeBotApi::start().await;

    // The Worker, on its own database.
    let db = TestDb::new().await;
    let supabase = supabase_proxy(db.server.url()).await;
    let mut vars = simulate::variables(&fake.url());
    vars.push(("SUPABASE_URL", supabase.url.clone()));
    vars.push(("SUPABASE_KEY", service_key()));
    let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).expect("config");
    let secret = webhook_secret(&config, BotKind::Client).expect("secret").expose().to_string();
    let build = repo_root().join("examples/edge/client-webhook/build");
    let workerd = Workerd::start_with(&[("client-webhook", build)], &vars).await;
    let url = format!("{}/webhook/client", workerd.url("client-webhook"));
    let cpu0 = cpu_time(workerd.pid());
    let edge = load(&url, &secret, &supabase, connections, seconds).await;
    let cpu = cpu_time(workerd.pid()).saturating_sub(cpu0);
    drop(workerd);
    db.drop_db().await;

    // The native server, on a database of its own, through the same kind of proxy.
    let db = TestDb::new().await;
    let native_supabase = supabase_proxy(db.server.url()).await;
    let store = loyalty_core::stores::postgrest::PostgrestStore::new(
        format!("{}/rest/v1", native_supabase.url),
        Secret::new(service_key()),
    )
    .expect("store");
    let telegram = HttpTelegram::new(&config).expect("client").with_rate_limits(None);
    let ports = Ports {
        storage: Arc::new(store),
        telegram: Arc::new(telegram),
        assistant: None,
        reporter: Arc::new(loyalty_core::ports::NoReporter),
        clock: Arc::new(SystemClock),
        random: Arc::new(OsRandom),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = App::new(Engine::new(config.clone(), ports)).with_maintenance_interval(None);
    let server = tokio::spawn(serve(listener, app, async move {
        let _ = stop_rx.await;
    }));
    let native = load(&format!("http://{addr}/webhook/client"), &secret, &native_supabase, connections, seconds).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    db.drop_db().await;

    println!("{connections} connections, {seconds} s each, fresh /balance updates, storage: postrust + PostgreSQL");
    show("workerd (client-webhook Worker)", &edge);
    show("native (loyalty serve)        ", &native);
    let handled = edge.updates as u64 + edge.errors;
    println!(
        "workerd CPU: {:.1} ms in all, {:.3} ms per update",
        cpu.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 1000.0 / handled.max(1) as f64
    );
    println!("ratio workerd/native updates/s: {:.2}", edge.per_second / native.per_second.max(f64::MIN_POSITIVE));
}
