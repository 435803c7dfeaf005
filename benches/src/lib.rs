//! What the benchmarks in `benches/` share: the load generator of the
//! loopback load runs (`native_load`, `edge_load`). Benchmarks themselves live
//! in `benches/`.

use loyalty_core::telegram::build::{TgUser, text_json};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// The first customer's Telegram id; customers are `FIRST_CUSTOMER..FIRST_CUSTOMER + n`.
pub const FIRST_CUSTOMER: i64 = 10_000;

/// Update ids, fresh for the whole process (every update is a new one).
static NEXT_UPDATE: AtomicI64 = AtomicI64::new(1);

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// Updates answered with a reply.
    pub updates: usize,
    /// `updates` per second of the run.
    pub per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Requests that failed or were answered without a reply.
    pub errors: u64,
}

impl Run {
    /// One line: updates, updates/s, p50, p99, errors.
    pub fn summary(&self) -> String {
        format!(
            "{} updates, {:.0} updates/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
            self.updates,
            self.per_second,
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0,
            self.errors
        )
    }
}

/// POSTs a fresh update (a new update id each) from user `user` with `text` to
/// the webhook `url` with the bot's `secret`; `true` when it was answered `2xx`
/// with a reply in the body.
pub async fn deliver(client: &reqwest::Client, url: &str, secret: &str, user: i64, text: &str) -> bool {
    let id = NEXT_UPDATE.fetch_add(1, Ordering::Relaxed);
    let Ok(body) = serde_json::to_vec(&text_json(id, &TgUser::new(user, "Load"), text)) else { return false };
    let res = client
        .post(url)
        .header("x-telegram-bot-api-secret-token", secret)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => !r.bytes().await.unwrap_or_default().is_empty(),
        _ => false,
    }
}

/// Signs `customers` customers up through the client bot's webhook `url` (not measured).
///
/// # Panics
/// When a sign-up is not answered with a reply.
pub async fn sign_up(url: &str, secret: &str, customers: i64) {
    let client = reqwest::Client::new();
    for user in FIRST_CUSTOMER..FIRST_CUSTOMER + customers {
        assert!(deliver(&client, url, secret, user, "/start").await, "sign-up of {user} failed");
    }
}

/// `connections` tasks, each calling `request(task, n)` (its `n`-th request,
/// `true` when answered well) in a loop for `seconds`; the latencies of the
/// good answers make the [`Run`].
async fn run_load<F, Fut>(connections: usize, seconds: u64, request: F) -> Run
where
    F: Fn(usize, i64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|task| {
            let request = request.clone();
            tokio::spawn(async move {
                let (mut latencies, mut errors, mut n) = (Vec::new(), 0u64, 0i64);
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    if request(task, n).await {
                        latencies.push(t0.elapsed());
                    } else {
                        errors += 1;
                    }
                    n += 1;
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
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
    Run { updates: all.len(), per_second: all.len() as f64 / elapsed, p50: pct(0.50), p99: pct(0.99), errors }
}

/// `connections` tasks POST fresh `/balance` updates from the `customers`
/// signed-up customers to `url` for `seconds`.
///
/// # Panics
/// When a load task itself panics.
pub async fn balance_load(url: &str, secret: &str, customers: i64, connections: usize, seconds: u64) -> Run {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
    let (url, secret) = (url.to_string(), secret.to_string());
    run_load(connections, seconds, move |task, n| {
        let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
        // Task `task` takes customers task, task + connections, …
        let user = FIRST_CUSTOMER + (task as i64 + n * connections as i64) % customers;
        async move { deliver(&client, &url, &secret, user, "/balance").await }
    })
    .await
}

/// The Telegram id of the partner whose credits [`credit_load`] sends.
pub const PARTNER: i64 = 7_000;

/// `connections` tasks POST fresh `/credit <code> 100` updates from partner
/// [`PARTNER`] (approved beforehand) to the partner bot's webhook `url` for
/// `seconds`, crediting the customers of `codes` in turn. Each is a ledger
/// write and a notice to the customer (through the outbox, after the response).
///
/// # Panics
/// When a load task itself panics.
pub async fn credit_load(url: &str, secret: &str, codes: &[String], connections: usize, seconds: u64) -> Run {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
    let (url, secret) = (url.to_string(), secret.to_string());
    let codes: std::sync::Arc<[String]> = codes.into();
    run_load(connections, seconds, move |task, n| {
        let (client, url, secret, codes) = (client.clone(), url.clone(), secret.clone(), codes.clone());
        let code = codes[(task + n as usize * connections) % codes.len().max(1)].clone();
        async move { deliver(&client, &url, &secret, PARTNER, &format!("/credit {code} 100")).await }
    })
    .await
}

/// `connections` clients sending `GET url` for `seconds`: a request that
/// reaches the server's code but no storage (e.g. `/health`), for the
/// runtime's own cost per request. A non-2xx answer counts as an error.
///
/// # Panics
/// When a load task itself panics.
pub async fn get_load(url: &str, connections: usize, seconds: u64) -> Run {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
    let url = url.to_string();
    run_load(connections, seconds, move |_, _| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            match client.get(&url).send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

/// An environment variable as a number, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
