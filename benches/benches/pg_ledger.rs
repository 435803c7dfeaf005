//! Ledger operations per second through the Postgres-direct store
//! (`loyalty_native::store::postgres::PgStore`) against `pgbench` running the
//! same SQL function with the same concurrency, side by side in one run.
//!
//! Run: `cargo bench -p loyalty-benches --bench pg_ledger`
//! Needs PostgreSQL on 127.0.0.1:5432 (user `postgres`, trust auth) and
//! `pgbench` (Debian: /usr/lib/postgresql/<version>/bin/pgbench).
//! Environment: `BENCH_SECONDS` (default 10), `BENCH_CLIENTS` (default 8),
//! `PG_ADMIN_URL` (default postgres://postgres@127.0.0.1:5432/postgres).
//! It creates and drops its own database.
#![allow(clippy::print_stdout)]

use loyalty_core::domain::{Language, PartnerTerms, TelegramUserId, Timestamp};
use loyalty_core::ports::{
    CreditPurchase, CustomerRef, DecidePartner, NewCustomer, PartnerApplication, PartnerDecision, PartnerRef, Storage,
};
use loyalty_native::store::postgres::{PgOptions, PgStore, migrate};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CUSTOMERS: i64 = 1000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pgbench() -> String {
    if let Ok(p) = std::env::var("PGBENCH") {
        return p;
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().map(|p| p.display().to_string()).unwrap_or_else(|| "pgbench".into())
}

/// Runs each statement on its own (`CREATE/DROP DATABASE` refuse transaction blocks).
async fn admin(url: &str, statements: &[&str]) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect as admin");
    tokio::spawn(conn);
    for sql in statements {
        client.simple_query(sql).await.expect("admin statement");
    }
}

#[tokio::main]
async fn main() {
    let seconds = env_u64("BENCH_SECONDS", 10).clamp(1, 120);
    let clients = env_u64("BENCH_CLIENTS", 8).clamp(1, 64) as usize;
    let admin_url =
        std::env::var("PG_ADMIN_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("loyalty_bench_{}", std::process::id());
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    admin(&admin_url, &[&format!("drop database if exists {db}"), &format!("create database {db}")]).await;
    migrate(&url).await.expect("migrate");

    let options = PgOptions { max_connections: clients, ..PgOptions::default() };
    let store = Arc::new(PgStore::connect_with(&url, options).await.expect("store"));
    let now = Timestamp(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64));
    let terms = PartnerTerms { earn_rate_bps: 500, max_redeem_share_bps: 3000, daily_credit_limit: i64::MAX / 4 };
    let partner = store
        .apply_partner(PartnerApplication {
            telegram_id: TelegramUserId(1),
            name: "Bench".into(),
            category: "cafe".into(),
            terms,
            language: Language::En,
            now,
        })
        .await
        .expect("apply")
        .partner;
    store
        .decide_partner(DecidePartner {
            partner: partner.id,
            decision: PartnerDecision::Approve,
            admin: TelegramUserId(2),
            now,
        })
        .await
        .expect("approve");
    let mut first_customer = None;
    for i in 0..CUSTOMERS {
        let mut code = [0u8; 5];
        code.copy_from_slice(&(i as u64 * 2_654_435_761 + 7).to_le_bytes()[..5]);
        let r = store
            .register_customer(NewCustomer {
                telegram_id: TelegramUserId(100_000 + i),
                code: loyalty_core::domain::CustomerCode::from_random(code),
                first_name: "C".into(),
                username: None,
                language: Language::En,
                referrer: None,
                legacy_referrer: None,
                welcome_bonus: 0,
                referral_bonus: 0,
                now,
            })
            .await
            .expect("register");
        first_customer.get_or_insert(r.customer.id.0);
    }
    let first = first_customer.expect("customers");

    // 1. Through PgStore: `clients` tasks, each awaiting one credit at a time.
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let customer = first + ((c as i64 * 7919 + n as i64) % CUSTOMERS);
                let req = CreditPurchase {
                    partner: PartnerRef::Id(partner.id),
                    customer: CustomerRef::Id(loyalty_core::domain::CustomerId(customer)),
                    purchase: 1000,
                    idempotency_key: format!("bench:store:{c}:{n}"),
                    day_start: now.day_start(),
                    now,
                };
                store.credit_purchase(req).await.expect("credit");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let store_ops = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();

    // 2. pgbench calling the same function with the same concurrency.
    let script = std::env::temp_dir().join(format!("{db}.sql"));
    std::fs::write(
        &script,
        format!(
            "\\set c random({first}, {last})\n\
             \\set k random(1, 1000000000000)\n\
             select loyalty.credit_purchase(jsonb_build_object(\
             'partner', jsonb_build_object('by', 'id', 'value', {pid}), \
             'customer', jsonb_build_object('by', 'id', 'value', :c), \
             'purchase', 1000, \
             'idempotency_key', 'bench:pgbench:' || :client_id || ':' || :k, \
             'day_start', {day}, 'now', {now}));\n",
            last = first + CUSTOMERS - 1,
            pid = partner.id.0,
            day = now.day_start().0,
            now = now.0,
        ),
    )
    .expect("script");
    let out = Command::new(pgbench())
        .args(["-n", "-h", "127.0.0.1", "-U", "postgres", "-c"])
        .arg(clients.to_string())
        .args(["-j", "2", "-T"])
        .arg(seconds.to_string())
        .arg("-f")
        .arg(&script)
        .arg(&db)
        .output()
        .expect("run pgbench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
    let pgbench_tps = stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("pgbench tps line");
    let failed = stdout.lines().find(|l| l.contains("failed transactions")).unwrap_or("").trim().to_string();

    println!("credit_purchase, {clients} concurrent clients, {seconds} s each, 127.0.0.1:");
    println!("  PgStore (tokio-postgres pool):  {store_ops:.0} ops/s");
    println!("  pgbench (same function):        {pgbench_tps:.0} tps   {failed}");
    println!("  PgStore / pgbench:              {:.2}", store_ops / pgbench_tps);

    drop(store);
    let _ = std::fs::remove_file(&script);
    admin(&admin_url, &[&format!("drop database if exists {db} with (force)")]).await;
}
