//! A Worker's cold start and its isolate's memory in a real `workerd`, with
//! the setup of `edge_load`: the client bot's Worker, PostgreSQL behind
//! `postrust` reached the way Supabase is (`/rest/v1/rpc/…`, through the same
//! counting proxy), the fake Bot API, 200 customers signed up first.
//!
//! 1. **Cold start**, `COLD_RUNS` times: a fresh `workerd` process with the
//!    Worker, timed from its spawn to its socket listening (process start, the
//!    wasm module's compilation and instantiation at the top of `worker.mjs`)
//!    and to the first answered `GET /health` (the first call into the wasm);
//!    then the first `/balance` update on that process (it also builds the
//!    engine from the environment, compiles the wasm functions it calls the
//!    first time and makes the isolate's first `fetch`) against the median of
//!    the next 20, one after the other. For each, also the process's CPU time
//!    (all threads, from `/proc/<pid>/task/*/schedstat`), which the machine's
//!    other work disturbs less than the wall-clock figures.
//! 2. **Memory** of one `workerd` process (one isolate serves every request in
//!    plain workerd): `VmHWM`, `VmRSS` and `RssAnon` from `/proc/<pid>/status`
//!    after startup, after the first update, after each fifth of
//!    `MEMORY_UPDATES` fresh `/balance` updates from `LOAD_CONNECTIONS`
//!    connections and 0.5 s after them. The process's memory, not the
//!    isolate's alone: it includes what V8 and workerd hold until V8's next
//!    full garbage collection (the isolate's own heap and wasm memory can be
//!    read through the inspector, `COLD_INSPECTOR`).
//!
//! The processes measured run the configuration that `loyalty_testkit`'s
//! `Workerd` writes for `edge_load` (the one of the process the sign-ups go
//! through, read from its command line), spawned the same way but timed here:
//! their `--control-fd` messages are read as they come and `/health` is polled
//! every millisecond.
//!
//! Needs what `scripts/test.sh` sets up: the built Worker
//! (`scripts/build-workers.sh client-webhook`), `WORKERD_BIN`
//! (`eval "$(scripts/edge-tools.sh env)"`), `POSTRUST_BIN`
//! (`scripts/postrust.sh`) and PostgreSQL on 127.0.0.1:5432.
//!
//! Run: `cargo bench -p loyalty-benches --bench edge_cold`
//! (environment: `COLD_RUNS`, default 10; `MEMORY_UPDATES`, default 10 000;
//! `LOAD_CONNECTIONS`, default 8; the test kit's `LOYALTY_WORKERD_V8_FLAGS`,
//! V8 flags for workerd separated by spaces, e.g. `--no-wasm-lazy-compilation`
//! — by default workerd compiles a wasm function on its first call;
//! `COLD_INSPECTOR`, an address such as `127.0.0.1:9229` on which the memory
//! run's process opens workerd's inspector — the DevTools protocol's
//! `Runtime.getHeapUsage` and the `WebAssembly.Memory` objects' sizes while
//! it runs; a client's requests there change what is measured, a full
//! garbage collection for `Runtime.queryObjects`, for one).
//! Traffic goes to 127.0.0.1 only, and each run stops by itself.
#![allow(clippy::print_stdout)]

use loyalty_benches::{FIRST_CUSTOMER, deliver, env_u64, sign_up};
use loyalty_core::Config;
use loyalty_core::domain::BotKind;
use loyalty_core::webhook::webhook_secret;
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::simulate;
use loyalty_testkit::services::postgres::TestDb;
use loyalty_testkit::services::postrust::service_key;
use loyalty_testkit::services::workerd::{Workerd, repo_root, supabase_proxy, workerd_bin};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Customers signed up before the measured runs, as in `edge_load`.
const CUSTOMERS: i64 = 200;
/// The updates after the first one on a fresh process.
const WARM_UPDATES: usize = 20;
/// How long a process may take to listen and answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an update's work after its response (`waitUntil`) is given to end.
const SETTLE: Duration = Duration::from_millis(200);
/// The memory run's load is sent in this many parts, the memory read after each.
const MEMORY_STEPS: usize = 5;

/// `d` in milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of `values` (the mean of the middle two for an even count); 0 when empty.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The largest of `values`; 0 when empty.
fn worst(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// The smallest of `values`; 0 when empty.
fn best(values: &[f64]) -> f64 {
    values.iter().copied().reduce(f64::min).unwrap_or(0.0)
}

/// The CPU time of process `pid` so far (all its threads, on the CPU), from
/// `/proc/<pid>/task/*/schedstat`, in nanoseconds unlike `/proc/<pid>/stat`'s ticks.
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// A process's memory, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// Peak resident set size (`VmHWM`).
    hwm: u64,
    /// Resident set size now (`VmRSS`).
    rss: u64,
    /// Of it, anonymous memory (`RssAnon`: the heaps, V8's and the wasm
    /// memory included), without the pages of the `workerd` binary (`RssFile`).
    anon: u64,
}

impl Memory {
    /// The memory of process `pid`.
    fn of(pid: u32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
        };
        Memory { hwm: field("VmHWM"), rss: field("VmRSS"), anon: field("RssAnon") }
    }

    /// One line: `VmHWM`, `VmRSS`, `RssAnon` in MiB.
    fn summary(&self) -> String {
        let mib = |kib: u64| kib as f64 / 1024.0;
        format!(
            "VmHWM {:6.1} MiB   VmRSS {:6.1} MiB   RssAnon {:6.1} MiB",
            mib(self.hwm),
            mib(self.rss),
            mib(self.anon)
        )
    }
}

/// The configuration a running `workerd` (process `pid`, started by
/// [`Workerd`]) serves, copied with the links to the builds it embeds.
/// Removed on drop.
struct WorkerdConfig {
    dir: PathBuf,
    file: PathBuf,
}

impl WorkerdConfig {
    fn copy_from(pid: u32) -> WorkerdConfig {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("/proc/<pid>/cmdline");
        let args: Vec<String> = cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let source = args
            .iter()
            .position(|a| a == "serve")
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
            .expect("workerd serve <config>");
        let source_dir = source.parent().expect("the config's directory");
        let dir = std::env::temp_dir().join(format!("loyalty-edge-cold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        // The config's `embed` paths are relative to it: the same links, next to the copy.
        for entry in std::fs::read_dir(source_dir).expect("the config's directory").flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                std::os::unix::fs::symlink(target, dir.join(entry.file_name())).expect("link the build");
            }
        }
        let config = std::fs::read_to_string(&source).expect("the workerd config");
        let file = dir.join("config.capnp");
        std::fs::write(&file, config).expect("write the workerd config");
        WorkerdConfig { dir, file }
    }
}

impl Drop for WorkerdConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `workerd serve` of a [`WorkerdConfig`] with one socket; killed on drop.
struct Process {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// When a fresh process got there, from its spawn.
#[derive(Debug, Clone, Copy)]
struct Startup {
    /// Its socket listening (the `--control-fd` message).
    listening: Duration,
    /// Its first `GET /health` answered `2xx`.
    health: Duration,
    /// Its CPU time by then.
    cpu: Duration,
}

impl Process {
    /// Spawns `workerd serve` of `config` as [`Workerd`] does (its log on
    /// stderr, into `log`; its control messages on stdout), with its
    /// inspector on `inspector` (an address) when given, and waits until its
    /// socket answers `GET /health` through `client`.
    async fn start(
        config: &WorkerdConfig,
        log: PathBuf,
        inspector: Option<&str>,
        client: &reqwest::Client,
    ) -> (Process, Startup) {
        let stderr = std::fs::File::create(&log).expect("the workerd log");
        let spawned = Instant::now();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3>&1 1>&2"#)
            .arg(workerd_bin())
            .arg("serve")
            .arg(&config.file)
            .arg("--verbose")
            .arg("--control-fd=3")
            .args(inspector.map(|address| format!("--inspector-addr={address}")))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("run workerd");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stdout = child.stdout.take().expect("workerd's control messages");
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let at = Instant::now();
                let message: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
                if message["event"] == "listen"
                    && let Some(port) = message["port"].as_u64().and_then(|p| u16::try_from(p).ok())
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send((at, port));
                }
            }
        });
        let mut process = Process { child, port: 0, log };
        let (listening, port) = match tokio::time::timeout(START_TIMEOUT, rx).await {
            Ok(Ok(reported)) => reported,
            _ => panic!("workerd did not listen: {}", process.log()),
        };
        process.port = port;
        loop {
            if let Ok(r) = client.get(format!("{}/health", process.url())).send().await
                && r.status().is_success()
                && r.bytes().await.is_ok()
            {
                break;
            }
            assert!(
                spawned.elapsed() < START_TIMEOUT && matches!(process.child.try_wait(), Ok(None)),
                "workerd did not answer /health: {}",
                process.log()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let health = spawned.elapsed();
        let pid = process.pid();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert_eq!(comm.trim(), "workerd", "process {pid} is workerd");
        (process, Startup { listening: listening - spawned, health, cpu: cpu_time(pid) })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The latency of one `/balance` update from `user`.
///
/// # Panics
/// When it is not answered with a reply: the measured setup is broken.
async fn timed_balance(client: &reqwest::Client, url: &str, secret: &str, user: i64) -> Duration {
    let t0 = Instant::now();
    assert!(deliver(client, url, secret, user, "/balance").await, "/balance from {user} was not answered with a reply");
    t0.elapsed()
}

/// What one cold start measured.
struct Cold {
    startup: Startup,
    /// The memory right after the first `/health`.
    memory: Memory,
    /// The first `/balance`.
    first: Duration,
    /// The median of the next [`WARM_UPDATES`].
    warm: Duration,
    /// The process's CPU time for the first `/balance`, its work after the
    /// response included.
    first_cpu: Duration,
    /// The same per update for the next [`WARM_UPDATES`].
    warm_cpu: Duration,
}

/// Starts a fresh process of `config`, times its startup, its first `/balance`
/// and the next [`WARM_UPDATES`] (customers from `first_user` on), one after
/// the other; a pause after the first and after the last lets their work after
/// the response end, for the CPU times.
async fn cold_start(config: &WorkerdConfig, log: PathBuf, secret: &str, first_user: i64) -> Cold {
    // A client of its own: the first update rides on the connection `/health` opened.
    let client = reqwest::Client::new();
    let (process, startup) = Process::start(config, log, None, &client).await;
    let memory = Memory::of(process.pid());
    let url = format!("{}/webhook/client", process.url());
    let user = |n: i64| FIRST_CUSTOMER + (first_user + n) % CUSTOMERS;
    let first = timed_balance(&client, &url, secret, user(0)).await;
    tokio::time::sleep(SETTLE).await;
    let cpu1 = cpu_time(process.pid());
    let mut warm = Vec::with_capacity(WARM_UPDATES);
    for n in 1..=WARM_UPDATES as i64 {
        warm.push(ms(timed_balance(&client, &url, secret, user(n)).await));
    }
    tokio::time::sleep(SETTLE).await;
    let cpu2 = cpu_time(process.pid());
    drop(process);
    Cold {
        startup,
        memory,
        first,
        warm: Duration::from_secs_f64(median(&warm) / 1000.0),
        first_cpu: cpu1.saturating_sub(startup.cpu),
        warm_cpu: cpu2.saturating_sub(cpu1) / WARM_UPDATES as u32,
    }
}

/// What the memory run measured.
struct MemoryRun {
    startup: Memory,
    first: Memory,
    /// Right after each [`MEMORY_STEPS`]th of the run: the updates sent so far and the memory.
    steps: Vec<(usize, Memory)>,
    loaded: Memory,
    updates: usize,
    errors: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// `total` fresh `/balance` updates from `connections` connections to `url`,
/// customers in turn from the `skip`th on; their latencies (of the good
/// answers, unsorted) and the failures.
async fn count_load(url: &str, secret: &str, skip: usize, total: usize, connections: usize) -> (Vec<Duration>, usize) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, next, url, secret) = (client.clone(), next.clone(), url.to_string(), secret.to_string());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let t0 = Instant::now();
                    if deliver(&client, &url, &secret, FIRST_CUSTOMER + (skip + n) as i64 % CUSTOMERS, "/balance").await
                    {
                        latencies.push(t0.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::with_capacity(total), 0);
    for task in tasks {
        let (l, e) = task.await.expect("load task");
        all.extend(l);
        errors += e;
    }
    (all, errors)
}

/// One fresh process of `config`: its memory after startup, after one update
/// and after `total` more from `connections` connections.
async fn memory_run(
    config: &WorkerdConfig,
    log: PathBuf,
    secret: &str,
    total: usize,
    connections: usize,
    inspector: Option<&str>,
) -> MemoryRun {
    let client = reqwest::Client::new();
    let (process, _) = Process::start(config, log, inspector, &client).await;
    let pid = process.pid();
    let url = format!("{}/webhook/client", process.url());
    let startup = Memory::of(pid);
    timed_balance(&client, &url, secret, FIRST_CUSTOMER).await;
    // The update's work after its response (`waitUntil`) ends first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = Memory::of(pid);
    let started = Instant::now();
    let (mut latencies, mut errors, mut steps, mut sent) = (Vec::with_capacity(total), 0, Vec::new(), 0);
    for step in 1..=MEMORY_STEPS {
        let until = total * step / MEMORY_STEPS;
        let (l, e) = count_load(&url, secret, sent, until - sent, connections).await;
        latencies.extend(l);
        errors += e;
        sent = until;
        steps.push((sent, Memory::of(pid)));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = Memory::of(pid);
    drop(process);
    let pct =
        |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
    MemoryRun {
        startup,
        first,
        steps,
        loaded,
        updates: latencies.len(),
        errors,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

/// `workerd --version`, or `?`.
fn workerd_version() -> String {
    Command::new(workerd_bin())
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".into(), |v| v.trim().to_string())
}

/// The size of `file` in bytes, or 0.
fn size(file: &Path) -> u64 {
    std::fs::metadata(file).map_or(0, |m| m.len())
}

#[tokio::main]
async fn main() {
    let runs = env_u64("COLD_RUNS", 10).clamp(1, 1000) as usize;
    let total = env_u64("MEMORY_UPDATES", 10_000).clamp(1, 10_000_000) as usize;
    let connections = env_u64("LOAD_CONNECTIONS", 8).clamp(1, 256) as usize;
    // The test kit's `Workerd` writes them into the configuration copied here.
    let v8_flags = std::env::var("LOYALTY_WORKERD_V8_FLAGS").unwrap_or_default();
    let inspector = std::env::var("COLD_INSPECTOR").ok().filter(|a| !a.is_empty());
    let fake = FakeBotApi::start().await;

    // As in `edge_load`: the Worker on its own database, the customers signed up through it.
    let db = TestDb::new().await;
    let supabase = supabase_proxy(db.server.url()).await;
    let mut vars = simulate::variables(&fake.url());
    vars.push(("SUPABASE_URL", supabase.url.clone()));
    vars.push(("SUPABASE_KEY", service_key()));
    let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).expect("config");
    let secret = webhook_secret(&config, BotKind::Client).expect("secret").expose().to_string();
    let build = repo_root().join("examples/edge/client-webhook/build");
    let workerd = Workerd::start_with(&[("client-webhook", build.clone())], &vars).await;
    sign_up(&format!("{}/webhook/client", workerd.url("client-webhook")), &secret, CUSTOMERS).await;
    // The sign-ups' own work after their responses ends first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let worker_config = WorkerdConfig::copy_from(workerd.pid());
    drop(workerd);

    let mut colds = Vec::with_capacity(runs);
    for run in 0..runs {
        let log = worker_config.dir.join(format!("cold-{run}.log"));
        colds.push(cold_start(&worker_config, log, &secret, (run * (WARM_UPDATES + 1)) as i64).await);
    }
    let memory_log = worker_config.dir.join("memory.log");
    let memory = memory_run(&worker_config, memory_log, &secret, total, connections, inspector.as_deref()).await;
    drop(worker_config);
    db.drop_db().await;

    let of = |f: &dyn Fn(&Cold) -> f64| colds.iter().map(f).collect::<Vec<f64>>();
    let row = |what: &str, values: &[f64], unit: &str| {
        let cell = |v: f64| format!("{v:.1} {unit}");
        println!("  {what:<50} {:>11} {:>11} {:>11}", cell(median(values)), cell(worst(values)), cell(best(values)));
    };
    println!(
        "client-webhook Worker ({} B wasm, {} B worker.mjs) in {}, storage: postrust + PostgreSQL",
        size(&build.join("index_bg.wasm")),
        size(&build.join("worker.mjs")),
        workerd_version()
    );
    println!(
        "V8 flags: {}",
        if v8_flags.trim().is_empty() { "none (workerd's defaults: wasm compiled lazily)" } else { v8_flags.trim() }
    );
    println!();
    println!("Cold start: {runs} fresh workerd processes, one after the other");
    println!("  {:<50} {:>11} {:>11} {:>11}", "", "median", "worst", "best");
    row("spawn → socket listening (compile, instantiate)", &of(&|c| ms(c.startup.listening)), "ms");
    row("spawn → first GET /health answered", &of(&|c| ms(c.startup.health)), "ms");
    row("first /balance (builds the engine)", &of(&|c| ms(c.first)), "ms");
    row(&format!("next {WARM_UPDATES} /balance, median of each run"), &of(&|c| ms(c.warm)), "ms");
    row("ratio first / warm, per run", &of(&|c| ms(c.first) / ms(c.warm).max(f64::MIN_POSITIVE)), "x");
    row("spawn → first /balance answered", &of(&|c| ms(c.startup.health + c.first)), "ms");
    row("workerd CPU, spawn → first /health answered", &of(&|c| ms(c.startup.cpu)), "ms");
    row("CPU of the first /balance (and its waitUntil)", &of(&|c| ms(c.first_cpu)), "ms");
    row(&format!("CPU per update of the next {WARM_UPDATES}"), &of(&|c| ms(c.warm_cpu)), "ms");
    row("VmRSS after /health", &of(&|c| c.memory.rss as f64 / 1024.0), "MiB");
    let (median_first, median_warm) = (median(&of(&|c| ms(c.first))), median(&of(&|c| ms(c.warm))));
    println!(
        "  ratio of the medians, first / warm: {:.1} (the first update's overhead: {:.1} ms)",
        median_first / median_warm.max(f64::MIN_POSITIVE),
        median_first - median_warm
    );
    println!();
    println!("Memory of one workerd process (one isolate), {total} /balance updates from {connections} connections:");
    let line = |what: &str, m: &Memory| println!("  {what:<36} {}", m.summary());
    line("after startup (/health answered)", &memory.startup);
    line("after the first /balance", &memory.first);
    for (sent, m) in &memory.steps {
        line(&format!("after {sent} more"), m);
    }
    line("0.5 s after the run", &memory.loaded);
    let growth = |a: u64, b: u64| (b as f64 - a as f64) / 1024.0;
    println!(
        "  growth from the load (after the first update → after the run): VmHWM {:+.1} MiB, VmRSS {:+.1} MiB, \
         RssAnon {:+.1} MiB",
        growth(memory.first.hwm, memory.loaded.hwm),
        growth(memory.first.rss, memory.loaded.rss),
        growth(memory.first.anon, memory.loaded.anon)
    );
    println!(
        "  the run: {} updates, {:.0} updates/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
        memory.updates,
        memory.per_second,
        ms(memory.p50),
        ms(memory.p99),
        memory.errors
    );
}
