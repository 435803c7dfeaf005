//! The database's share of an update: PostgreSQL's CPU time per update kind,
//! next to the native server's own, with `loyalty serve`'s router in process
//! on the Postgres-direct store (`PgStore`, one `select loyalty.call_claimed($1)`
//! per update on the response path).
//!
//! For each update kind — a customer's `/balance` (client bot) and a partner's
//! `/credit <code> 1500` (partner bot) — and each connection count (8 and 32):
//! a fresh copy of the migrated test database, 200 customers signed up through
//! the client bot's webhook and one approved partner per connection, the store's
//! pool opened to as many connections as the load has (a fixed pool: the same
//! backends from start to end), then that many HTTP/1.1 connections POST fresh
//! updates for `PG_CPU_WARM_UP` seconds, not measured (a backend's first calls
//! compile the functions and fill its caches, once in its life), and again for
//! `LOAD_SECONDS`, measured. Reported per run: updates, updates/s, latency,
//! statements per update, and CPU time (user + system) per update of
//!
//! - **pool backends**: the PostgreSQL backends of the store's pool, found in
//!   `pg_stat_activity` for the test database from a connection of their own and
//!   sampled in `/proc/<pid>/stat` before and after the run;
//! - **all of PostgreSQL**: the postmaster, its live children and the children
//!   it reaped during the run (walwriter, checkpointer, autovacuum workers and any
//!   other database's backends on the same server), from the same files, also
//!   listed by kind of process;
//! - **native**: this process without the load generator, which runs on a thread
//!   of its own and is measured apart (**load generator**).
//!
//! A partner's credits add up over a run: the later ones scan a longer day
//! (the daily limit) and history (visits, tiers), as they would in production.
//!
//! Then the split of one call on a backend, on a fresh database set up the same
//! way: the bodies the store sent for one `/balance` and one credit are taken as
//! they went to `loyalty.call_claimed`, and each statement below runs
//! `PG_CPU_CALLS` times on one connection, with fresh update ids and
//! idempotency keys, the partners and customers taken in turn and each partner
//! crediting once a day (the fixed cost of a call, its history kept short).
//! Reported per call: the backend's CPU time from `/proc/<pid>/schedstat`
//! (nanoseconds), the wall time and the WAL the server wrote (the whole
//! server's). The statements: an empty one with the body as its parameter, sent
//! as the store sends it (an unnamed statement) and prepared once; the use
//! case's function alone; the claim alone with and without the update's body;
//! `call_claimed` as the store calls it, prepared once, and without the body;
//! the same wrapper with a static call instead of `EXECUTE format(…)`, and
//! without its exception block (session-local functions in `pg_temp`, the
//! migrations untouched); `call_claimed` with `synchronous_commit = off` (for
//! comparison only). Last, one more pass of `call_claimed` per kind with
//! `track_functions = 'all'` in that session lists the functions it ran, by
//! their own time per update (`pg_stat_user_functions`; the timing adds to it).
//!
//! Run: `cargo bench -p loyalty-benches --bench pg_cpu`
//! Needs PostgreSQL on 127.0.0.1:5432 (`LOYALTY_TEST_DATABASE_URL`, user
//! `postgres`, trust authentication) and Linux's `/proc`. A commit's WAL flush
//! is part of every update's cost, so a server busy with other databases (test
//! suites creating and dropping theirs, each drop a checkpoint) inflates the
//! figures: a server of its own gives steadier ones.
//! Environment: `LOAD_SECONDS` (default 10), `PG_CPU_WARM_UP` (default 3),
//! `PG_CPU_CONNECTIONS` (default `8,32`), `PG_CPU_CALLS` (default 1000; 0 skips
//! the split).
//! Traffic goes to 127.0.0.1 only; every database it creates is dropped.
#![allow(clippy::print_stdout)]

use loyalty_benches::{FIRST_CUSTOMER, Run, deliver, env_u64, sign_up};
use loyalty_core::Config;
use loyalty_core::domain::{BotKind, Language, PartnerTerms, TelegramUserId, Timestamp};
use loyalty_core::ports::{
    CustomerRef, DecidePartner, PartnerApplication, PartnerDecision, Storage, StoreError, StoreResult,
};
use loyalty_core::stores::rpc::RpcBackend;
use loyalty_core::webhook::webhook_secret;
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::runtime;
use loyalty_native::server::{App, serve};
use loyalty_native::store::postgres::{PgOptions, PgStore};
use loyalty_native::telegram::HttpTelegram;
use loyalty_testkit::services::postgres::{Database, connect};
use loyalty_testkit::test_config;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_postgres::types::Type;

/// Customers signed up before each run.
const CUSTOMERS: i64 = 200;
/// The first partner's Telegram id; partners are `FIRST_PARTNER..FIRST_PARTNER + n`.
const FIRST_PARTNER: i64 = 50_000;
/// Update ids of the measured updates, apart from the sign-ups' (which start at 1).
static NEXT_UPDATE: AtomicI64 = AtomicI64::new(1_000_000_000);

/// The update kinds measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A customer's `/balance` to the client bot.
    Balance,
    /// A partner's `/credit <code> 1500` to the partner bot.
    Credit,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Balance => "/balance",
            Kind::Credit => "/credit",
        }
    }

    fn bot(self) -> BotKind {
        match self {
            Kind::Balance => BotKind::Client,
            Kind::Credit => BotKind::Partner,
        }
    }
}

// ---------------------------------------------------------------- CPU time from /proc

/// Clock ticks per second (`getconf CLK_TCK`, 100 when it cannot be asked).
fn ticks_per_second() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|hz| *hz > 0)
            .unwrap_or(100)
    })
}

/// The fields of a `/proc/…/stat` file after the command name (which may hold
/// spaces): index 0 is the state, 1 the parent's pid, 11 utime, 12 stime,
/// 13 cutime, 14 cstime.
fn stat_fields(path: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(0)).collect())
}

/// Clock ticks as a duration.
fn ticks(n: u64) -> Duration {
    Duration::from_micros(n * 1_000_000 / ticks_per_second())
}

/// User + system time of the process or thread whose stat file is `path`
/// (with `children`, also the time of the children it has reaped); `None`
/// when it has gone.
fn cpu_of(path: &str, children: bool) -> Option<Duration> {
    let f = stat_fields(path)?;
    let own = f.get(11)? + f.get(12)?;
    let reaped = if children { f.get(13)? + f.get(14)? } else { 0 };
    Some(ticks(own + reaped))
}

/// User + system time of process `pid`.
fn cpu_of_pid(pid: u32) -> Option<Duration> {
    cpu_of(&format!("/proc/{pid}/stat"), false)
}

/// The parent of process `pid`.
fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(&format!("/proc/{pid}/stat"))?.get(1).map(|p| *p as u32)
}

/// The children of process `pid`, from `/proc/<pid>/task/*/children`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
    }
    out
}

/// PostgreSQL's processes at one moment: the postmaster's own CPU time and its
/// reaped children's, and each live child's title and CPU time.
struct Server {
    postmaster: Duration,
    reaped: Duration,
    children: HashMap<u32, (String, Duration)>,
}

/// A sample of the server whose postmaster is `postmaster`.
fn sample_server(postmaster: u32) -> Server {
    let f = stat_fields(&format!("/proc/{postmaster}/stat")).unwrap_or_default();
    let field = |i: usize| f.get(i).copied().unwrap_or(0);
    let children = children_of(postmaster)
        .into_iter()
        .filter_map(|pid| {
            let cpu = cpu_of_pid(pid)?;
            let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let title = String::from_utf8_lossy(&title).trim_end_matches('\0').replace('\0', " ");
            Some((pid, (title, cpu)))
        })
        .collect();
    Server { postmaster: ticks(field(11) + field(12)), reaped: ticks(field(13) + field(14)), children }
}

/// PostgreSQL's CPU time between two samples, in all and by kind of process:
/// the `pool` backends, the other processes of database `db` (autovacuum
/// workers, the monitor), the other databases' backends, each background
/// process, and the processes that ended in between (their time is the
/// postmaster's reaped children's).
fn server_delta(before: &Server, after: &Server, pool: &[u32], db: &str) -> (Duration, BTreeMap<String, Duration>) {
    let mut by: BTreeMap<String, Duration> = BTreeMap::new();
    for (pid, (title, cpu)) in &after.children {
        let spent = cpu.saturating_sub(before.children.get(pid).map_or(Duration::ZERO, |(_, c)| *c));
        let what = if pool.contains(pid) {
            "pool backends".to_string()
        } else if title.contains(db) {
            "this database, other processes".to_string()
        } else if title.contains("127.0.0.1(") || title.contains("[local]") {
            "other databases' backends".to_string()
        } else {
            title.rsplit(": ").next().unwrap_or(title).trim().to_string()
        };
        *by.entry(what).or_default() += spent;
    }
    let gone: Duration =
        before.children.iter().filter(|(pid, _)| !after.children.contains_key(pid)).map(|(_, (_, c))| *c).sum();
    let ended = after.reaped.saturating_sub(before.reaped).saturating_sub(gone);
    *by.entry("processes that ended during the run".into()).or_default() += ended;
    *by.entry("postmaster".into()).or_default() += after.postmaster.saturating_sub(before.postmaster);
    (by.values().sum(), by)
}

/// A backend's CPU time in nanoseconds, from `/proc/<pid>/schedstat` (time on
/// a CPU), or from its stat file's ticks when schedstat is missing.
fn backend_ns(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .or_else(|| cpu_of_pid(pid).map(|d| d.as_nanos() as u64))
        .unwrap_or(0)
}

/// `d` in milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------- the store, as sent

/// `PgStore` with a copy of the last body it sent to `loyalty.call_claimed` for
/// each use case (what the split below replays).
struct Capturing {
    inner: Arc<PgStore>,
    bodies: Mutex<BTreeMap<String, String>>,
}

/// The use case a `call_claimed` body names (`"function":"<name>"`).
fn claimed_function(body: &str) -> Option<&str> {
    let start = body.find(r#""function":""#)? + r#""function":""#.len();
    let len = body.get(start..)?.find('"')?;
    body.get(start..start + len)
}

impl RpcBackend for Capturing {
    fn call_function<'life0, 'async_trait>(
        &'life0 self,
        function: &'static str,
        request: String,
    ) -> Pin<Box<dyn Future<Output = StoreResult<Value>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        if function == "call_claimed"
            && let Some(name) = claimed_function(&request)
        {
            let mut bodies = self.bodies.lock().unwrap_or_else(|e| e.into_inner());
            bodies.insert(name.to_string(), request.clone());
        }
        self.inner.call_function(function, request)
    }
}

// ---------------------------------------------------------------- one prepared database

/// A fresh database with customers and partners, `loyalty serve`'s router on
/// loopback over it, and a connection of its own for the samples.
struct Setup {
    db: Database,
    store: Arc<Capturing>,
    monitor: tokio_postgres::Client,
    config: Config,
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    /// The customers' codes, in Telegram id order from [`FIRST_CUSTOMER`].
    codes: Vec<String>,
}

impl Setup {
    /// Signs up [`CUSTOMERS`] customers and approves `partners` partners, with the
    /// store's pool opened to `pool` connections.
    async fn new(fake_url: &str, pool: usize, partners: usize) -> Setup {
        let db = Database::migrated().await;
        let options = PgOptions { max_connections: pool, ..PgOptions::default() };
        let inner = Arc::new(PgStore::connect_with(&db.url(), options).await.expect("store"));
        // Every connection of the pool opened now, so the backends are the same from start to end.
        let held = futures::future::try_join_all((0..pool).map(|_| inner.pool().get())).await.expect("open the pool");
        drop(held);
        let store = Arc::new(Capturing { inner, bodies: Mutex::default() });
        let mut config = test_config();
        config.telegram_api_url = fake_url.to_string();
        let telegram = HttpTelegram::new(&config).expect("client").with_rate_limits(None);
        let storage: Arc<dyn Storage> = store.clone();
        let engine = runtime::engine(config.clone(), storage, Arc::new(telegram)).expect("engine");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = App::new(engine).with_maintenance_interval(None);
        let server = tokio::spawn(async move {
            let _ = serve(listener, app, async move {
                let _ = stop_rx.await;
            })
            .await;
        });
        let setup_secret = secret(&config, BotKind::Client);
        sign_up(&format!("http://{addr}/webhook/client"), &setup_secret, CUSTOMERS).await;

        let now = Timestamp(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64));
        let terms = PartnerTerms { earn_rate_bps: 500, max_redeem_share_bps: 3000, daily_credit_limit: i64::MAX / 4 };
        for p in 0..partners as i64 {
            let partner = store
                .apply_partner(PartnerApplication {
                    telegram_id: TelegramUserId(FIRST_PARTNER + p),
                    name: format!("Shop {p}"),
                    category: "cafe".into(),
                    terms,
                    language: Language::En,
                    now,
                })
                .await
                .expect("apply")
                .partner;
            let decision = DecidePartner {
                partner: partner.id,
                decision: PartnerDecision::Approve,
                admin: TelegramUserId(loyalty_testkit::ADMIN_CHAT),
                now,
            };
            store.decide_partner(decision).await.expect("approve");
        }
        let mut codes = Vec::new();
        for user in FIRST_CUSTOMER..FIRST_CUSTOMER + CUSTOMERS {
            let summary = store.customer_summary(CustomerRef::Telegram(TelegramUserId(user)), 0).await;
            let customer = summary.expect("summary").expect("signed up").customer;
            codes.push(customer.code.as_str().to_string());
        }
        // What the sign-ups left to do after their responses ends first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let monitor = connect(&db.url()).await;
        Setup { db, store, monitor, config, addr, stop, server, codes }
    }

    /// The webhook of `bot`.
    fn url(&self, bot: BotKind) -> String {
        let path = match bot {
            BotKind::Client => "client",
            BotKind::Partner => "partner",
            _ => "admin",
        };
        format!("http://{}/webhook/{path}", self.addr)
    }

    /// The client backends of the test database but the monitor's own.
    async fn backends(&self) -> Vec<u32> {
        let rows = self
            .monitor
            .query(
                "select pid from pg_stat_activity where datname = current_database() \
                 and backend_type = 'client backend' and pid <> pg_backend_pid() order by pid",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        rows.iter().map(|r| r.get::<_, i32>(0) as u32).collect()
    }

    /// A number from one row of `sql` run by the monitor.
    async fn count(&self, sql: &str) -> i64 {
        self.monitor.query_one(sql, &[]).await.expect(sql).get(0)
    }

    /// Stops the server, closes the pool and drops the database.
    async fn finish(self) {
        let Setup { db, store, monitor, stop, server, .. } = self;
        let _ = stop.send(());
        let _ = server.await;
        drop(store);
        drop(monitor);
        db.drop_db().await;
    }
}

/// The webhook secret of `bot`.
fn secret(config: &Config, bot: BotKind) -> String {
    webhook_secret(config, bot).expect("secret").expose().to_string()
}

// ---------------------------------------------------------------- the load

/// What the load generator's thread measured: the run, and the thread's CPU time.
struct Load {
    run: Run,
    cpu: Duration,
}

/// `connections` tasks sending updates of `kind` for `seconds` from a thread of
/// their own (one current-thread runtime), so its CPU time is the generator's.
fn load(kind: Kind, url: String, secret: String, codes: Arc<Vec<String>>, connections: usize, seconds: u64) -> Load {
    let thread_cpu = || cpu_of("/proc/thread-self/stat", false).unwrap_or_default();
    let cpu0 = thread_cpu();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("load runtime");
    let run = runtime.block_on(async move {
        let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|task| {
                let (client, url, secret, codes) = (client.clone(), url.clone(), secret.clone(), codes.clone());
                tokio::spawn(async move {
                    let (mut latencies, mut errors, mut n) = (Vec::new(), 0u64, 0usize);
                    while Instant::now() < deadline {
                        // Task `task` takes customers task, task + connections, …
                        let customer = (task + n * connections) % CUSTOMERS as usize;
                        let (user, text) = match kind {
                            Kind::Balance => (FIRST_CUSTOMER + customer as i64, "/balance".to_string()),
                            Kind::Credit => (FIRST_PARTNER + task as i64, format!("/credit {} 1500", codes[customer])),
                        };
                        let t0 = Instant::now();
                        if deliver(&client, &url, &secret, user, &text).await {
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
        let (mut all, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (l, e) = t.await.expect("load task");
            all.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort();
        let pct = |p: f64| all.get(((all.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
        Run { updates: all.len(), per_second: all.len() as f64 / elapsed, p50: pct(0.50), p99: pct(0.99), errors }
    });
    drop(runtime);
    Load { run, cpu: thread_cpu().saturating_sub(cpu0) }
}

/// One row of the results.
struct Measured {
    kind: Kind,
    connections: usize,
    run: Run,
    statements: f64,
    pool: Duration,
    server: Duration,
    server_by: BTreeMap<String, Duration>,
    native: Duration,
    generator: Duration,
    backends: String,
    check: String,
}

/// One load run of `kind` with `connections` connections on a fresh database.
async fn measure(kind: Kind, connections: usize, seconds: u64, warm_up: u64, fake_url: &str) -> Measured {
    let partners = if kind == Kind::Credit { connections } else { 0 };
    let setup = Setup::new(fake_url, connections, partners).await;
    let url = setup.url(kind.bot());
    let secret = secret(&setup.config, kind.bot());
    let codes = Arc::new(setup.codes.clone());
    let accruals = "select count(*) from loyalty.entries where kind = 'accrual'";

    // Every backend of the pool compiles the functions and fills its caches on its first calls
    // (once in a backend's life): the same load first, not measured.
    if warm_up > 0 {
        let (url, secret, codes) = (url.clone(), secret.clone(), codes.clone());
        let warm = std::thread::spawn(move || load(kind, url, secret, codes, connections, warm_up));
        tokio::task::spawn_blocking(move || warm.join().expect("warm-up thread")).await.expect("join");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let pids = setup.backends().await;
    let postmaster = pids.first().and_then(|p| parent_of(*p)).expect("a backend and its postmaster");
    let entries0 = setup.count(accruals).await;
    let statements0 = setup.store.inner.round_trips();
    let pool0: HashMap<u32, Duration> = pids.iter().filter_map(|p| Some((*p, cpu_of_pid(*p)?))).collect();
    let pool_ns0: u64 = pids.iter().map(|p| backend_ns(*p)).sum();
    let server0 = sample_server(postmaster);
    let self0 = cpu_of("/proc/self/stat", false).unwrap_or_default();

    let generator = std::thread::Builder::new()
        .name("pgcpu-load".into())
        .spawn(move || load(kind, url, secret, codes, connections, seconds))
        .expect("load thread");
    let Load { run, cpu: generator_cpu } =
        tokio::task::spawn_blocking(move || generator.join().expect("load thread")).await.expect("join");
    // The work the run's updates left for after their responses (finishing them, notifications).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let self1 = cpu_of("/proc/self/stat", false).unwrap_or_default();
    let server1 = sample_server(postmaster);
    let pids1 = setup.backends().await;
    let pool: Duration = pids1
        .iter()
        .filter_map(|p| Some(cpu_of_pid(*p)?.saturating_sub(pool0.get(p).copied().unwrap_or_default())))
        .sum();
    let pool_ns = pids1.iter().map(|p| backend_ns(*p)).sum::<u64>().saturating_sub(pool_ns0);
    let statements = setup.store.inner.round_trips() - statements0;
    let entries = setup.count(accruals).await - entries0;
    let backends = if pids1 == pids {
        format!(
            "{} backends, the same before and after, {:.1} s on a CPU (schedstat)",
            pids.len(),
            pool_ns as f64 / 1e9
        )
    } else {
        format!("backends changed: {pids:?} before, {pids1:?} after (CPU of those gone is missing)")
    };
    let (server, server_by) = server_delta(&server0, &server1, &pids, &setup.db.name);
    let check = match kind {
        Kind::Credit => format!("{entries} accrual entries added"),
        Kind::Balance => format!("{entries} entries added"),
    };
    setup.finish().await;
    let answered = (run.updates as u64 + run.errors).max(1) as f64;
    Measured {
        kind,
        connections,
        statements: statements as f64 / answered,
        pool,
        server,
        server_by,
        native: self1.saturating_sub(self0).saturating_sub(generator_cpu),
        generator: generator_cpu,
        run,
        backends,
        check,
    }
}

// ---------------------------------------------------------------- the split of one call

/// Session-local variants of `loyalty.call_claimed` for the split: the same
/// checks, claim and body, the use cases `functions` called statically (no
/// `EXECUTE`), with and without the exception block that keeps the claim on a
/// rejection.
fn variants(functions: &[&str]) -> String {
    let cases: String =
        functions.iter().map(|f| format!("      when '{f}' then v_result := loyalty.{f}(req->'req');\n")).collect();
    let call = format!(
        "    case v_function\n{cases}      else execute format('select loyalty.%I($1)', v_function) \
         into v_result using req->'req';\n    end case;\n"
    );
    let wrapper = |name: &str, body: &str| {
        format!(
            r#"
create function pg_temp.{name}(req jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_function text := req->>'function';
  v_result jsonb;
begin
  if v_function is null or not exists (select 1 from loyalty.claimable_functions f where f.name = v_function) then
    raise exception 'loyalty: unknown use case %', coalesce(v_function, 'null');
  end if;
  insert into loyalty.bot_updates (bot, update_id, claimed_at)
  values ((req#>>'{{claim,bot}}')::bigint, (req#>>'{{claim,update_id}}')::bigint, (req#>>'{{claim,now}}')::bigint)
  on conflict do nothing;
  if not found then
    return '{{"duplicate_update": true}}'::jsonb;
  end if;
  perform loyalty._keep_update_body(req->'claim');
{body}  return v_result;
end
$$;
"#
        )
    };
    let blocked = format!(
        "  begin\n{call}  exception when sqlstate 'LY001' then\n    \
         return jsonb_build_object('rejected', sqlerrm::jsonb);\n  end;\n"
    );
    wrapper("claimed_static", &blocked) + &wrapper("claimed_static_no_block", &call)
}

/// A captured `call_claimed` body with fresh ids: update `n`'s.
struct Bodies {
    template: Value,
    partners: usize,
    codes: Vec<String>,
}

impl Bodies {
    /// The whole `call_claimed` body of call `n`: a fresh update id, and for a
    /// credit a fresh idempotency key, the partners and customers in turn, and
    /// a day later after each round of the partners.
    fn full(&self, n: u64, keep_body: bool) -> Value {
        let mut v = self.template.clone();
        let id = NEXT_UPDATE.fetch_add(1, Ordering::Relaxed);
        if let Some(claim) = v.get_mut("claim").and_then(Value::as_object_mut) {
            claim.insert("update_id".into(), id.into());
            if !keep_body {
                claim.remove("body");
            }
        }
        if let Some(req) = v.get_mut("req").and_then(Value::as_object_mut)
            && req.contains_key("idempotency_key")
        {
            req.insert("idempotency_key".into(), format!("pgcpu:{id}").into());
            let partners = self.partners.max(1) as u64;
            // Each partner credits once a day: the daily limit's sum and the other scans of the
            // partner's or the customer's history stay small, as on a fresh database.
            let later = (n / partners) as i64 * 86_400;
            for field in ["now", "day_start"] {
                if let Some(t) = req.get(field).and_then(Value::as_i64) {
                    req.insert(field.into(), (t + later).into());
                }
            }
            let partner = FIRST_PARTNER + (n % partners) as i64;
            if let Some(p) = req.get_mut("partner").and_then(|p| p.get_mut("value")) {
                *p = partner.into();
            }
            if let Some(c) = req.get_mut("customer").and_then(|c| c.get_mut("value"))
                && !self.codes.is_empty()
            {
                *c = self.codes[n as usize % self.codes.len()].clone().into();
            }
        }
        v
    }

    /// The use case's own request of call `n`.
    fn req(&self, n: u64) -> Value {
        self.full(n, false).get("req").cloned().unwrap_or(Value::Null)
    }

    /// The claim of call `n`, with or without the update's body.
    fn claim(&self, n: u64, keep_body: bool) -> Value {
        self.full(n, keep_body).get("claim").cloned().unwrap_or(Value::Null)
    }
}

/// One line of the split.
struct Part {
    what: String,
    cpu_us: f64,
    wall_us: f64,
    wal_bytes: f64,
}

/// The server's WAL insert position, in bytes.
async fn wal_position(client: &tokio_postgres::Client) -> f64 {
    let row = client
        .query_one("select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::float8", &[])
        .await
        .expect("wal position");
    row.get(0)
}

/// Runs `sql` (one `$1` parameter, sent as text like the store's) `calls` times
/// with `body(n)` on `client`, whose backend is `pid`, after 20 calls not
/// counted: as the store does (an unnamed statement each time), or `prepared`
/// once. The backend's CPU time and the wall time per call in µs, and the WAL
/// written per call in bytes (the whole server's).
async fn per_call(
    client: &tokio_postgres::Client,
    pid: u32,
    sql: &str,
    prepared: bool,
    calls: u64,
    body: &dyn Fn(u64) -> Value,
) -> Part {
    let text = format!("select ({sql})::text");
    let statement = if prepared { Some(client.prepare_typed(&text, &[Type::TEXT]).await.expect(sql)) } else { None };
    let call = async |param: &String| match &statement {
        Some(s) => client.query(s, &[param]).await.expect(sql),
        None => client.query_typed(&text, &[(param, Type::TEXT)]).await.expect(sql),
    };
    for n in 0..20 {
        call(&body(n).to_string()).await;
    }
    let bodies: Vec<String> = (0..calls).map(|n| body(n + 20).to_string()).collect();
    let wal0 = wal_position(client).await;
    let (cpu0, t0) = (backend_ns(pid), Instant::now());
    for param in &bodies {
        call(param).await;
    }
    let wall = t0.elapsed();
    let cpu = backend_ns(pid).saturating_sub(cpu0);
    let wal = wal_position(client).await - wal0;
    let calls = calls.max(1) as f64;
    Part {
        what: String::new(),
        cpu_us: cpu as f64 / 1000.0 / calls,
        wall_us: wall.as_secs_f64() * 1e6 / calls,
        wal_bytes: wal / calls,
    }
}

/// The split of one update whose captured `call_claimed` body is `bodies` and
/// whose use case is `function`.
async fn split(client: &tokio_postgres::Client, pid: u32, function: &str, bodies: &Bodies, calls: u64) -> Vec<Part> {
    let full = |n| bodies.full(n, true);
    let bare = |n| bodies.full(n, false);
    let req = |n| bodies.req(n);
    let claim = |n| bodies.claim(n, true);
    let claim_bare = |n| bodies.claim(n, false);
    let direct = format!("loyalty.{function}($1::jsonb)");
    let claimed = "loyalty.call_claimed($1::jsonb)";
    type Step<'a> = (String, &'a str, bool, &'a dyn Fn(u64) -> Value);
    let steps: Vec<Step<'_>> = vec![
        ("empty statement, the body as its parameter".into(), "$1", false, &full),
        ("empty statement, prepared once".into(), "$1", true, &full),
        (format!("{function} alone"), &direct, false, &req),
        ("claim_update, no body kept".into(), "loyalty.claim_update($1::jsonb)", false, &claim_bare),
        ("claim_update, body kept".into(), "loyalty.claim_update($1::jsonb)", false, &claim),
        ("call_claimed as the store calls it".into(), claimed, false, &full),
        ("call_claimed, prepared once".into(), claimed, true, &full),
        ("call_claimed, no body kept".into(), claimed, false, &bare),
        ("call_claimed, static call (no EXECUTE)".into(), "pg_temp.claimed_static($1::jsonb)", false, &full),
        (
            "call_claimed, static call, no exception block".into(),
            "pg_temp.claimed_static_no_block($1::jsonb)",
            false,
            &full,
        ),
    ];
    let mut parts = Vec::new();
    for (what, sql, prepared, body) in steps {
        parts.push(Part { what, ..per_call(client, pid, sql, prepared, calls, body).await });
    }
    client.batch_execute("set synchronous_commit = off").await.expect("synchronous_commit");
    let off = per_call(client, pid, claimed, false, calls, &full).await;
    client.batch_execute("reset synchronous_commit").await.expect("synchronous_commit");
    parts.push(Part { what: "call_claimed, synchronous_commit = off (comparison only)".into(), ..off });
    parts
}

/// The functions' calls and own time in ms (`pg_stat_user_functions`), by
/// name with their language and whether they are `security definer` and carry
/// settings (`set search_path`): such functions are never inlined.
async fn function_stats(client: &tokio_postgres::Client) -> HashMap<String, (i64, f64)> {
    client.batch_execute("select pg_stat_force_next_flush()").await.expect("flush");
    client.batch_execute("select 1").await.expect("flush");
    client.batch_execute("select pg_stat_clear_snapshot()").await.expect("snapshot");
    let rows = client
        .query(
            "select s.schemaname || '.' || s.funcname || ' (' || l.lanname \
                    || case when p.prosecdef then ', definer' else '' end \
                    || case when p.proconfig is not null then ', set' else '' end || ')', \
                    s.calls, s.self_time \
               from pg_stat_user_functions s join pg_proc p on p.oid = s.funcid \
               join pg_language l on l.oid = p.prolang",
            &[],
        )
        .await
        .expect("pg_stat_user_functions");
    rows.iter().map(|r| (r.get::<_, String>(0), (r.get::<_, i64>(1), r.get::<_, f64>(2)))).collect()
}

/// One more pass of `call_claimed` with `track_functions = 'all'`: the
/// functions it ran, by own time per update (µs), most first; and the pass's
/// wall time per update (µs), the timing's own cost included.
async fn function_profile(
    client: &tokio_postgres::Client,
    bodies: &Bodies,
    calls: u64,
) -> (Vec<(String, f64, f64)>, f64) {
    client.batch_execute("set track_functions = 'all'").await.expect("track_functions");
    let before = function_stats(client).await;
    let t0 = Instant::now();
    for n in 0..calls {
        let text = bodies.full(n, true).to_string();
        client
            .query_typed("select loyalty.call_claimed($1::jsonb)::text", &[(&text, Type::TEXT)])
            .await
            .expect("call_claimed");
    }
    let wall = t0.elapsed().as_secs_f64() * 1e6 / calls.max(1) as f64;
    client.batch_execute("reset track_functions").await.expect("track_functions");
    let after = function_stats(client).await;
    let mut out: Vec<(String, f64, f64)> = after
        .into_iter()
        .filter_map(|(name, (c1, t1))| {
            let (c0, t0) = before.get(&name).copied().unwrap_or((0, 0.0));
            (c1 > c0).then(|| (name, (c1 - c0) as f64 / calls as f64, (t1 - t0) * 1000.0 / calls as f64))
        })
        .collect();
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    (out, wall)
}

/// The split and the function profile of both kinds, on a fresh database.
async fn split_both(fake_url: &str, calls: u64) -> Result<(), StoreError> {
    const PARTNERS: usize = 32;
    let setup = Setup::new(fake_url, 2, PARTNERS).await;
    // One update of each kind through the server: the call_claimed body the store sent for it.
    let client = reqwest::Client::new();
    let mut captured = Vec::new();
    for (kind, user, text) in [
        (Kind::Balance, FIRST_CUSTOMER, "/balance".to_string()),
        (Kind::Credit, FIRST_PARTNER, format!("/credit {} 1500", setup.codes[0])),
    ] {
        setup.store.bodies.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let answered = deliver(&client, &setup.url(kind.bot()), &secret(&setup.config, kind.bot()), user, &text).await;
        let bodies = setup.store.bodies.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bodies.into_iter().next() {
            Some((function, body)) if answered => captured.push((kind, function, body)),
            _ => return Err(StoreError::Backend(format!("{} was not answered through call_claimed", kind.name()))),
        }
    }
    let session = connect(&setup.db.url()).await;
    let pid = session.query_one("select pg_backend_pid()", &[]).await.expect("pid").get::<_, i32>(0) as u32;
    let functions: Vec<&str> = captured.iter().map(|(_, f, _)| f.as_str()).collect();
    session.batch_execute(&variants(&functions)).await.expect("session-local functions");
    for (kind, function, body) in &captured {
        println!(
            "\n{} — loyalty.{function} through loyalty.call_claimed; the body the store sent ({} bytes):\n{body}",
            kind.name(),
            body.len()
        );
        let template: Value = serde_json::from_str(body).map_err(|e| StoreError::Backend(e.to_string()))?;
        let bodies = Bodies { template, partners: PARTNERS, codes: setup.codes.clone() };
        println!(
            "split, {calls} calls each on one connection: the backend's CPU (schedstat), wall time and the server's \
             WAL per call:"
        );
        for part in split(&session, pid, function, &bodies, calls).await {
            println!(
                "  {:<58} {:>8.1} µs CPU {:>9.1} µs wall {:>7.0} B WAL",
                part.what, part.cpu_us, part.wall_us, part.wal_bytes
            );
        }
        let (profile, wall) = function_profile(&session, &bodies, calls).await;
        let own: f64 = profile.iter().map(|(_, _, t)| t).sum();
        println!(
            "functions run by call_claimed, track_functions = 'all', {calls} calls: {wall:.1} µs wall per update, \
             {own:.1} µs of it in the functions; calls and own time per update:"
        );
        for (name, per, own_us) in profile.iter().take(30) {
            println!("  {name:<58} {per:>6.2} calls {own_us:>8.1} µs");
        }
    }
    drop(session);
    setup.finish().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let seconds = env_u64("LOAD_SECONDS", 10).clamp(1, 120);
    let warm_up = env_u64("PG_CPU_WARM_UP", 3).min(60);
    let calls = env_u64("PG_CPU_CALLS", 1000).min(100_000);
    let connections: Vec<usize> = std::env::var("PG_CPU_CONNECTIONS")
        .unwrap_or_else(|_| "8,32".into())
        .split(',')
        .filter_map(|c| c.trim().parse::<usize>().ok())
        .map(|c| c.clamp(1, 64))
        .collect();
    let fake = FakeBotApi::start().await;

    let mut rows = Vec::new();
    for kind in [Kind::Balance, Kind::Credit] {
        for &n in &connections {
            let m = measure(kind, n, seconds, warm_up, &fake.url()).await;
            println!(
                "{} × {} connections, {seconds} s: {}; {:.2} statements/update; {}; {}",
                m.kind.name(),
                m.connections,
                m.run.summary(),
                m.statements,
                m.backends,
                m.check
            );
            rows.push(m);
        }
    }
    println!("\nCPU time (user + system) per update, ms:");
    println!(
        "| update | connections | updates | updates/s | pool backends | all of PostgreSQL | native | load generator |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for m in &rows {
        let per = |d: Duration| ms(d) / (m.run.updates as u64 + m.run.errors).max(1) as f64;
        println!(
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.kind.name(),
            m.connections,
            m.run.updates,
            m.run.per_second,
            per(m.pool),
            per(m.server),
            per(m.native),
            per(m.generator)
        );
    }
    println!("\nAll of PostgreSQL by process, ms per update:");
    for m in &rows {
        let per = |d: &Duration| ms(*d) / (m.run.updates as u64 + m.run.errors).max(1) as f64;
        let parts: Vec<String> =
            m.server_by.iter().filter(|(_, d)| !d.is_zero()).map(|(k, d)| format!("{k} {:.3}", per(d))).collect();
        println!("  {} × {}: {}", m.kind.name(), m.connections, parts.join(", "));
    }
    if calls > 0 {
        split_both(&fake.url(), calls).await.expect("split");
    }
}
