//! A bounded loopback load run of the native server (`loyalty serve`) on the
//! SQLite store: many customers asking for their balance at once, every
//! update a fresh one. Reports updates/s and latency percentiles.
//!
//! Run: `cargo bench -p loyalty-benches --bench native_load`
//! (environment: `LOAD_SECONDS`, default 10; `LOAD_CONNECTIONS`, default 16;
//! `LOAD_OBSERVE=1` runs it as `loyalty serve` does in production: the JSON log
//! line of every update at `info` — send stderr to `/dev/null` — and the
//! Prometheus recorder behind `/metrics`).
//! Traffic goes to 127.0.0.1 only, and the run stops by itself.
#![allow(clippy::print_stdout)]

use loyalty_benches::{balance_load, env_u64, sign_up};
use loyalty_core::domain::BotKind;
use loyalty_core::webhook::webhook_secret;
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::runtime;
use loyalty_native::server::{App, serve};
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_native::telegram::HttpTelegram;
use loyalty_testkit::test_config;
use std::sync::Arc;

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
    // The runtime's engine: the system clock and randomness; no assistant or Sentry in this configuration.
    let engine = runtime::engine(config.clone(), Arc::new(store), Arc::new(telegram)).expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let observe = env_u64("LOAD_OBSERVE", 0) == 1;
    let metrics = if observe {
        runtime::init_logging_as("info", loyalty_core::config::LogFormat::Json);
        loyalty_native::metrics::install()
    } else {
        None
    };
    let app = App::new(engine).with_maintenance_interval(None).with_metrics(metrics);
    let server = tokio::spawn(serve(listener, app, async move {
        let _ = stop_rx.await;
    }));

    let url = format!("http://{addr}/webhook/client");
    let secret = webhook_secret(&config, BotKind::Client).expect("secret").expose().to_string();
    sign_up(&url, &secret, customers).await;
    let run = balance_load(&url, &secret, customers, connections, seconds).await;
    let observed = if observe { "logs + metrics" } else { "no logs, no metrics" };
    println!("native serve + SQLite ({observed}), {connections} connections, {seconds} s: {}", run.summary());
    let _ = stop_tx.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
}
