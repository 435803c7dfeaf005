//! A bounded loopback load run of the client bot's Worker in a real `workerd`
//! next to the native server (`loyalty serve`), side by side in one run, on
//! the same storage: PostgreSQL behind `postrust` (a PostgREST-compatible
//! server) reached the way Supabase is, `/rest/v1/rpc/…`. Every update is a
//! fresh `/balance` from a signed-up customer: claimed, answered from a
//! storage read, with the reply in the webhook response.
//!
//! Then the same for a partner's credits (`/credit <code> 100`, a ledger write
//! and a notice to the customer after the response) on the partner bot's
//! Worker in the same workerd, and natively.
//!
//! Reports, for each: updates/s, p50/p99 latency; for workerd also its
//! process CPU time per update (user + system, from `/proc`) and, for both,
//! the storage requests per update (counted by the proxy in front of postrust).
//!
//! Between them, `GET /health` on the same workerd gives the runtime's own CPU
//! per request (HTTP in and out, the JS glue, routing in the wasm; no storage),
//! and a hand-written JavaScript Worker (`benches/js-baseline/worker.mjs`)
//! answers the same `/balance` updates with the same one storage request on
//! the same database, in a workerd of its own: the floor the wasm Worker's
//! CPU per update is compared with.
//!
//! A third run puts the same Worker on D1, its zero-setup default: in
//! Miniflare (workerd with Cloudflare's local bindings), whose workerd process
//! also runs the local D1 database — its CPU time includes the SQLite work
//! that D1 does elsewhere on Cloudflare.
//!
//! Needs what `scripts/test.sh` sets up: the built Workers
//! (`scripts/build-workers.sh client-webhook`), `WORKERD_BIN`, `NODE_BIN` and
//! `LOYALTY_EDGE_NODE_DIR` (`eval "$(scripts/edge-tools.sh env)"`), `POSTRUST_BIN`
//! (`scripts/postrust.sh`) and PostgreSQL on 127.0.0.1:5432.
//!
//! Run: `cargo bench -p loyalty-benches --bench edge_load`
//! (environment: `LOAD_SECONDS`, default 10; `LOAD_CONNECTIONS`, default 8;
//! `LOYALTY_PERF_OUT`, a file for `perf record` of workerd during the
//! `/balance` run — see scripts/profile-worker.sh; `EDGE_LOG_LEVEL`, the
//! Workers' `LOG_LEVEL`).
//! Traffic goes to 127.0.0.1 only, and each run stops by itself.
#![allow(clippy::print_stdout)]

use loyalty_benches::{FIRST_CUSTOMER, PARTNER, Run, balance_load, credit_load, env_u64, get_load, sign_up};
use loyalty_core::domain::{BotKind, PartnerTerms, TelegramUserId, Timestamp};
use loyalty_core::ports::{CustomerRef, DecidePartner, PartnerDecision, Storage};
use loyalty_core::webhook::webhook_secret;
use loyalty_core::{Config, Secret};
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::runtime;
use loyalty_native::server::{App, serve};
use loyalty_native::simulate;
use loyalty_native::telegram::HttpTelegram;
use loyalty_testkit::services::postgres::TestDb;
use loyalty_testkit::services::postrust::service_key;
use loyalty_testkit::services::workerd::{Supabase, Workerd, repo_root, supabase_proxy};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const CUSTOMERS: i64 = 200;

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

/// The ids of `pid`'s descendants, from `/proc/<pid>/task/*/children`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            out.push(child);
            out.extend(descendants(child));
        }
    }
    out
}

/// With `LOYALTY_PERF_OUT` set (scripts/profile-worker.sh), `perf record`
/// of process `pid` into that file name with `suffix` (the wasm Worker's
/// without one, the JavaScript Worker's with `.js`), started now.
fn perf_record(pid: u32, suffix: &str) -> Option<std::process::Child> {
    let out = std::env::var("LOYALTY_PERF_OUT").ok()? + suffix;
    let perf = std::process::Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "1999", "-g", "-o", &out, "-p", &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("perf (Debian's linux-perf) runs");
    // perf attaches before the run starts.
    std::thread::sleep(Duration::from_millis(500));
    Some(perf)
}

/// Stops `perf record` (SIGINT, as Ctrl-C would) and waits for it to write its file.
fn perf_stop(mut perf: std::process::Child) {
    let _ = std::process::Command::new("kill").args(["-INT", &perf.id().to_string()]).status();
    let _ = perf.wait();
}

/// `d` in milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time `cpu` per request of `run` (answered well or not), in milliseconds.
fn ms_per(cpu: Duration, run: &Run) -> f64 {
    ms(cpu) / (run.updates as u64 + run.errors).max(1) as f64
}

/// The `workerd` process Miniflare started under `pid`.
fn workerd_under(pid: u32) -> u32 {
    descendants(pid)
        .into_iter()
        .find(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "workerd"))
        .expect("Miniflare runs a workerd process")
}

/// Signs the customers up through the webhook `url` and waits for the
/// sign-ups' own work after their responses to end.
async fn signed_up(url: &str, secret: &str) {
    sign_up(url, secret, CUSTOMERS).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// A `/balance` run (after the sign-ups): the storage requests per update it
/// caused on the response path and after it (the outbox's: finishing the
/// update) and, for a process (`pid`, the suffix of its `perf` file), that
/// process's CPU time during the run.
async fn measured(
    url: &str,
    secret: &str,
    supabase: &Supabase,
    connections: usize,
    seconds: u64,
    process: Option<(u32, &str)>,
) -> (Run, (f64, f64), Duration) {
    let pid = process.map(|(pid, _)| pid);
    let before = (supabase.requests.load(Ordering::Relaxed), supabase.outbox_requests.load(Ordering::Relaxed));
    let cpu0 = pid.map(cpu_time);
    let profile = process.and_then(|(pid, suffix)| perf_record(pid, suffix));
    let run = balance_load(url, secret, CUSTOMERS, connections, seconds).await;
    let cpu = pid.zip(cpu0).map_or(Duration::ZERO, |(pid, cpu0)| cpu_time(pid).saturating_sub(cpu0));
    if let Some(perf) = profile {
        perf_stop(perf);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outbox = supabase.outbox_requests.load(Ordering::Relaxed) - before.1;
    let requests = supabase.requests.load(Ordering::Relaxed) - before.0 - outbox;
    let updates = (run.updates as f64 + run.errors as f64).max(1.0);
    (run, (requests as f64 / updates, outbox as f64 / updates), cpu)
}

/// `GET /health` on the Worker at `base` for `seconds`, and process `pid`'s
/// CPU time during it (the runtime's own share of a request).
async fn health_run(base: &str, pid: u32, connections: usize, seconds: u64) -> (Run, Duration) {
    let cpu0 = cpu_time(pid);
    let run = get_load(&format!("{base}/health"), connections, seconds).await;
    (run, cpu_time(pid).saturating_sub(cpu0))
}

/// Approves partner [`PARTNER`] in `store` and returns the codes of the
/// signed-up customers, for the credit run.
async fn partner_and_codes(store: &dyn Storage) -> Vec<String> {
    let applied = store
        .apply_partner(loyalty_testkit::requests::application(PARTNER, PartnerTerms::default()))
        .await
        .expect("the partner applies");
    let now =
        Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64);
    let decision = PartnerDecision::Approve;
    let admin = TelegramUserId(900);
    store
        .decide_partner(DecidePartner { partner: applied.partner.id, decision, admin, now })
        .await
        .expect("the partner is approved");
    let mut codes = Vec::new();
    for user in FIRST_CUSTOMER..FIRST_CUSTOMER + CUSTOMERS {
        let summary = store.customer_summary(CustomerRef::Telegram(TelegramUserId(user)), 0).await.expect("summary");
        codes.push(summary.expect("signed up").customer.code.to_string());
    }
    codes
}

/// A credit run of `connections` for `seconds` against the partner webhook
/// `url`: the run, the storage requests per update on the response path and
/// after it, and process `pid`'s CPU time during the run.
async fn measured_credits(
    url: &str,
    secret: &str,
    codes: &[String],
    supabase: &Supabase,
    connections: usize,
    seconds: u64,
    pid: Option<u32>,
) -> (Run, (f64, f64), Duration) {
    let before = (supabase.requests.load(Ordering::Relaxed), supabase.outbox_requests.load(Ordering::Relaxed));
    let cpu0 = pid.map(cpu_time);
    let run = credit_load(url, secret, codes, connections, seconds).await;
    let cpu = pid.zip(cpu0).map_or(Duration::ZERO, |(pid, cpu0)| cpu_time(pid).saturating_sub(cpu0));
    // The notices are sent after the responses: their requests are counted once they end.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let outbox = supabase.outbox_requests.load(Ordering::Relaxed) - before.1;
    let requests = supabase.requests.load(Ordering::Relaxed) - before.0 - outbox;
    let updates = (run.updates as f64 + run.errors as f64).max(1.0);
    (run, (requests as f64 / updates, outbox as f64 / updates), cpu)
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
    // The Workers' LOG_LEVEL (default: the program's, `info`: a log object per update).
    if let Ok(level) = std::env::var("EDGE_LOG_LEVEL") {
        vars.push(("LOG_LEVEL", level));
    }
    let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).expect("config");
    let secret = webhook_secret(&config, BotKind::Client).expect("secret").expose().to_string();
    let partner_secret = webhook_secret(&config, BotKind::Partner).expect("secret").expose().to_string();
    let build = repo_root().join("examples/edge/client-webhook/build");
    let partner_build = repo_root().join("examples/edge/partner-webhook/build");
    let workerd = Workerd::start_with(&[("client-webhook", build), ("partner-webhook", partner_build)], &vars).await;
    let url = format!("{}/webhook/client", workerd.url("client-webhook"));
    signed_up(&url, &secret).await;
    let (edge, edge_requests, cpu) =
        measured(&url, &secret, &supabase, connections, seconds, Some((workerd.pid(), ""))).await;
    // The floor: a hand-written JavaScript Worker (benches/js-baseline) doing the same `/balance` — the
    // secret, the same one storage request, the reply — on the same database, in a workerd of its own,
    // right after the wasm Worker's run (before the credits add entries to the customers' histories).
    let js = Workerd::start_with(&[("js-baseline", repo_root().join("benches/js-baseline"))], &vars).await;
    let js_url = format!("{}/webhook/client", js.url("js-baseline"));
    // Unmeasured, as the wasm Worker's isolate served the sign-ups first: the customers in turn.
    let _ = balance_load(&js_url, &secret, CUSTOMERS, 1, 2).await;
    let (js_run, js_requests, js_cpu) =
        measured(&js_url, &secret, &supabase, connections, seconds, Some((js.pid(), ".js"))).await;
    let (js_health, js_health_cpu) = health_run(&js.url("js-baseline"), js.pid(), connections, seconds).await;
    drop(js);
    // A partner's credits, on the partner bot's Worker in the same workerd.
    let codes = partner_and_codes(&db.server.store()).await;
    let partner_url = format!("{}/webhook/partner", workerd.url("partner-webhook"));
    let (credits, credit_requests, credit_cpu) =
        measured_credits(&partner_url, &partner_secret, &codes, &supabase, connections, seconds, Some(workerd.pid()))
            .await;
    // The runtime's own share: `GET /health` (routing and a small JSON answer in the wasm, no storage).
    let (health, health_cpu) = health_run(&workerd.url("client-webhook"), workerd.pid(), connections, seconds).await;
    drop(workerd);
    db.drop_db().await;

    // The same Worker on D1 (no SUPABASE_URL), in Miniflare.
    let d1_vars = simulate::variables(&fake.url());
    let build = repo_root().join("examples/edge/client-webhook/build");
    let miniflare = Workerd::start_with_d1(&[("client-webhook", build)], &d1_vars).await;
    let d1_url = format!("{}/webhook/client", miniflare.url("client-webhook"));
    let d1_workerd = workerd_under(miniflare.pid());
    sign_up(&d1_url, &secret, CUSTOMERS).await;
    let d1_cpu0 = cpu_time(d1_workerd);
    let d1 = balance_load(&d1_url, &secret, CUSTOMERS, connections, seconds).await;
    let d1_cpu = cpu_time(d1_workerd).saturating_sub(d1_cpu0);
    drop(miniflare);

    // The native server, on a database of its own, through the same kind of proxy.
    let db = TestDb::new().await;
    let native_supabase = supabase_proxy(db.server.url()).await;
    let store = loyalty_native::store::postgrest::PostgrestStore::new(
        format!("{}/rest/v1", native_supabase.url),
        Secret::new(service_key()),
    )
    .expect("store");
    let telegram = HttpTelegram::new(&config).expect("client").with_rate_limits(None);
    // The runtime's engine: the system clock and randomness; no assistant or Sentry in this configuration.
    let engine = runtime::engine(config.clone(), Arc::new(store), Arc::new(telegram)).expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = App::new(engine).with_maintenance_interval(None);
    let server = tokio::spawn(serve(listener, app, async move {
        let _ = stop_rx.await;
    }));
    let native_url = format!("http://{addr}/webhook/client");
    signed_up(&native_url, &secret).await;
    let (native, native_requests, _) =
        measured(&native_url, &secret, &native_supabase, connections, seconds, None).await;
    let codes = partner_and_codes(&db.server.store()).await;
    let (native_credits, native_credit_requests, _) = measured_credits(
        &format!("http://{addr}/webhook/partner"),
        &partner_secret,
        &codes,
        &native_supabase,
        connections,
        seconds,
        None,
    )
    .await;
    let _ = stop_tx.send(());
    let _ = server.await;
    db.drop_db().await;

    println!("{connections} connections, {seconds} s each, fresh /balance updates, storage: postrust + PostgreSQL");
    println!(
        "workerd (client-webhook Worker): {}, storage requests/update {:.2} + {:.2} after the response",
        edge.summary(),
        edge_requests.0,
        edge_requests.1
    );
    println!(
        "native (loyalty serve)        : {}, storage requests/update {:.2} + {:.2} after the response",
        native.summary(),
        native_requests.0,
        native_requests.1
    );
    println!("workerd CPU: {:.1} ms in all, {:.3} ms per update", ms(cpu), ms_per(cpu, &edge));
    println!("ratio workerd/native updates/s: {:.2}", edge.per_second / native.per_second.max(f64::MIN_POSITIVE));
    println!(
        "workerd GET /health: {}; CPU {:.3} ms per request",
        health.summary().replace("updates", "requests"),
        ms_per(health_cpu, &health)
    );
    println!(
        "workerd (hand-written JavaScript Worker): {}, storage requests/update {:.2} + {:.2} after the response",
        js_run.summary(),
        js_requests.0,
        js_requests.1
    );
    println!("JavaScript Worker CPU: {:.1} ms in all, {:.3} ms per update", ms(js_cpu), ms_per(js_cpu, &js_run));
    println!(
        "JavaScript Worker GET /health: {}; CPU {:.3} ms per request",
        js_health.summary().replace("updates", "requests"),
        ms_per(js_health_cpu, &js_health)
    );
    println!(
        "ratio wasm/JavaScript CPU per /balance: {:.2}",
        ms_per(cpu, &edge) / ms_per(js_cpu, &js_run).max(f64::MIN_POSITIVE)
    );
    println!(
        "{connections} connections, {seconds} s each, a partner's /credit <code> 100 to the 200 customers in turn"
    );
    println!(
        "workerd (partner-webhook Worker): {}, storage requests/update {:.2} + {:.2} after the response",
        credits.summary(),
        credit_requests.0,
        credit_requests.1
    );
    println!(
        "native (loyalty serve)         : {}, storage requests/update {:.2} + {:.2} after the response",
        native_credits.summary(),
        native_credit_requests.0,
        native_credit_requests.1
    );
    println!("workerd CPU: {:.1} ms in all, {:.3} ms per credit", ms(credit_cpu), ms_per(credit_cpu, &credits));
    println!(
        "ratio workerd/native credits/s: {:.2}",
        credits.per_second / native_credits.per_second.max(f64::MIN_POSITIVE)
    );
    println!("Miniflare workerd on D1 (client-webhook Worker): {}", d1.summary());
    println!(
        "Miniflare workerd CPU (the Worker and the local D1): {:.1} ms in all, {:.3} ms per update",
        ms(d1_cpu),
        ms_per(d1_cpu, &d1)
    );
}
