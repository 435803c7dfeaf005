//! `workerd` running built Workers (from `scripts/build-workers.sh`) on
//! loopback ports, for loyalty-edge's tests and the edge benchmark; and a
//! proxy giving `postrust` Supabase's URL layout (`/rest/v1/…`).
//!
//! The runtime binds port 0 for every Worker and reports the ports it got
//! (workerd's `--control-fd` messages; `miniflare.mjs` repeats them for
//! Miniflare): a port picked here and bound later could be taken in between by
//! another server of a test running in parallel, and then a test would talk to
//! that server instead.

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Workers of `examples/edge`.
pub const WORKERS: [&str; 4] = ["client-webhook", "partner-webhook", "admin-webhook", "api"];

/// The repository's root (this crate's parent directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// The `workerd` binary from `WORKERD_BIN`.
pub fn workerd_bin() -> PathBuf {
    let bin = std::env::var_os("WORKERD_BIN").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        panic!("set WORKERD_BIN to workerd (eval \"$(scripts/edge-tools.sh env)\"); scripts/test.sh does")
    });
    assert!(bin.is_file(), "WORKERD_BIN={} does not exist", bin.display());
    bin
}

/// A path from the environment variable `name`, which `scripts/edge-tools.sh env` sets.
fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("set {name} (eval \"$(scripts/edge-tools.sh env)\"); scripts/test.sh does"))
}

/// A fresh directory for one runtime's configuration.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "loyalty-workerd-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A runtime's report that a socket listens: a line
/// `{"event":"listen","socket":<name>,"port":<port>}` (workerd's control
/// message, repeated by `miniflare.mjs` for Miniflare's sockets).
fn listen_event(line: &str) -> Option<(String, u16)> {
    let message: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    if message.get("event")?.as_str()? != "listen" {
        return None;
    }
    let port = u16::try_from(message.get("port")?.as_u64()?).ok()?;
    Some((message.get("socket")?.as_str()?.to_string(), port))
}

/// The runtime's output so far, and the ports its sockets reported.
#[derive(Default)]
struct Output {
    log: String,
    ports: HashMap<String, u16>,
}

/// Asserts that `build` holds a built Worker: its `worker.mjs` and, unless
/// the Worker is JavaScript alone (one that never names `index_bg.wasm`, such
/// as the benches' hand-written baseline), its wasm. Returns whether it has
/// a wasm module.
fn check_build(build: &Path) -> bool {
    let entry = build.join("worker.mjs");
    let wasm = build.join("index_bg.wasm");
    let needs_wasm = std::fs::read_to_string(&entry).map_or(true, |js| js.contains("index_bg.wasm"));
    for file in if needs_wasm { vec![entry, wasm] } else { vec![entry] } {
        assert!(file.is_file(), "{} is missing: run scripts/build-workers.sh", file.display());
    }
    needs_wasm
}

/// A capnp text literal.
fn capnp_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string encodes")
}

/// `workerd serve` with the four Workers, each on its own loopback port; killed on drop.
pub struct Workerd {
    child: Child,
    ports: HashMap<&'static str, u16>,
    output: Arc<Mutex<Output>>,
    dir: PathBuf,
}

impl Workerd {
    /// Starts the four Workers of `examples/edge` with `vars` as their text
    /// bindings and waits until each answers `/health`.
    pub async fn start(vars: &[(&str, String)]) -> Workerd {
        let workers: Vec<(&'static str, PathBuf)> =
            WORKERS.iter().map(|name| (*name, repo_root().join("examples/edge").join(name).join("build"))).collect();
        Workerd::start_with(&workers, vars).await
    }

    /// The workerd process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `workers` (name, build directory) with `vars` as their text bindings.
    pub async fn start_with(workers_to_run: &[(&'static str, PathBuf)], vars: &[(&str, String)]) -> Workerd {
        let dir = scratch_dir();
        let mut services = Vec::new();
        let mut sockets = Vec::new();
        let mut workers = String::new();
        let bindings: Vec<String> =
            vars.iter().map(|(k, v)| format!("(name = {}, text = {})", capnp_str(k), capnp_str(v))).collect();
        for (name, build) in workers_to_run {
            let (name, build) = (*name, build.clone());
            let has_wasm = check_build(&build);
            // capnp names are camelCase; `embed` paths are relative to the config file.
            let id: String = name
                .split('-')
                .enumerate()
                .map(|(i, w)| if i == 0 { w.to_string() } else { w[..1].to_uppercase() + &w[1..] })
                .collect();
            std::os::unix::fs::symlink(&build, dir.join(&id)).expect("link the build");
            services.push(format!("(name = {}, worker = .{id})", capnp_str(name)));
            sockets.push(format!(
                "(name = {}, address = \"127.0.0.1:0\", http = (), service = {})",
                capnp_str(name),
                capnp_str(name)
            ));
            let path = |f: &str| capnp_str(&format!("{id}/{f}"));
            let mut modules = vec![format!("(name = \"worker.mjs\", esModule = embed {})", path("worker.mjs"))];
            if has_wasm {
                modules.push(format!("(name = \"index_bg.wasm\", wasm = embed {})", path("index_bg.wasm")));
            }
            workers.push_str(&format!(
                "const {id} :Workerd.Worker = (\n  modules = [\n    {},\n  ],\n  compatibilityDate = \"2026-11-01\",\n  \
                 bindings = [\n    {}\n  ],\n  globalOutbound = \"internet\",\n);\n\n",
                modules.join(",\n    "),
                bindings.join(",\n    ")
            ));
        }
        services.push(
            "(name = \"internet\", network = (allow = [\"public\", \"private\", \"local\"], tlsOptions = (trustBrowserCas = true)))"
                .into(),
        );
        // V8 flags for profiling (scripts/profile-worker.sh: `--perf-basic-prof`), space-separated.
        let v8_flags: Vec<String> =
            std::env::var("LOYALTY_WORKERD_V8_FLAGS").unwrap_or_default().split_whitespace().map(capnp_str).collect();
        let config = format!(
            "using Workerd = import \"/workerd/workerd.capnp\";\n\nconst config :Workerd.Config = (\n  services = [\n    {}\n  ],\n  \
             sockets = [\n    {}\n  ],\n  v8Flags = [{}],\n);\n\n{workers}",
            services.join(",\n    "),
            sockets.join(",\n    "),
            v8_flags.join(", ")
        );
        let config_path = dir.join("config.capnp");
        std::fs::write(&config_path, config).expect("write the workerd config");
        // The control messages (the ports) on stdout, workerd's own stdout with its log on stderr; `exec`
        // keeps the process id workerd's.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3>&1 1>&2"#)
            .arg(workerd_bin())
            .arg("serve")
            .arg(&config_path)
            .arg("--verbose")
            .arg("--control-fd=3")
            .stdin(Stdio::null());
        Workerd::launch(command, dir, workers_to_run).await
    }

    /// Starts `workers` (name, build directory) with `vars` as their text
    /// bindings and one D1 database bound as `DB` to all of them, in
    /// Miniflare: workerd as `wrangler dev --local` runs it, with Cloudflare's
    /// local bindings (D1 is SQLite inside workerd). A Worker whose
    /// `wrangler.toml` (next to its build directory) has `[assets]` serves them
    /// as Cloudflare does (the api Worker: the Mini App under `/app/`); plain
    /// [`Workerd::start_with`] serves none. Needs `NODE_BIN` and
    /// `LOYALTY_EDGE_NODE_DIR` (from `scripts/edge-tools.sh env`).
    pub async fn start_with_d1(workers_to_run: &[(&'static str, PathBuf)], vars: &[(&str, String)]) -> Workerd {
        Workerd::start_with_d1_outbound(workers_to_run, vars, &[]).await
    }

    /// [`Workerd::start_with_d1`], the Workers' fetches to the hosts of
    /// `outbound` (`host[:port]`, `http://127.0.0.1:<port>`) sent to those
    /// loopback addresses instead — an https URL served by a local fake
    /// (Miniflare's `outboundService`); every other fetch goes out as it is.
    pub async fn start_with_d1_outbound(
        workers_to_run: &[(&'static str, PathBuf)],
        vars: &[(&str, String)],
        outbound: &[(&str, String)],
    ) -> Workerd {
        let dir = scratch_dir();
        let node_dir = env_path("LOYALTY_EDGE_NODE_DIR");
        let mut workers = Vec::new();
        for (name, build) in workers_to_run {
            check_build(build);
            let mut worker = serde_json::json!({ "name": name, "build": build });
            // The Worker's own wrangler.toml (next to its build/): its `[assets]`, if any, are served.
            if let Some(wrangler) = build.parent().map(|dir| dir.join("wrangler.toml")).filter(|f| f.is_file()) {
                worker["wrangler"] = serde_json::json!(wrangler);
            }
            workers.push(worker);
        }
        let vars: serde_json::Map<String, serde_json::Value> =
            vars.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
        let outbound: serde_json::Map<String, serde_json::Value> =
            outbound.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
        let config = serde_json::json!({ "nodeDir": node_dir, "workers": workers, "vars": vars, "outbound": outbound });
        std::fs::write(dir.join("miniflare.json"), config.to_string()).expect("write the Miniflare config");
        std::fs::write(dir.join("miniflare.mjs"), include_str!("miniflare.mjs")).expect("write the Miniflare script");
        let mut command = Command::new(env_path("NODE_BIN"));
        command.arg(dir.join("miniflare.mjs")).arg(dir.join("miniflare.json")).stdin(Stdio::piped());
        Workerd::launch(command, dir, workers_to_run).await
    }

    /// Spawns `command`, collects its output, waits for the port of every
    /// worker's socket (named after the worker) and then until each answers
    /// `/health`. Panics with the log when the runtime stops or takes longer
    /// than a minute.
    async fn launch(mut command: Command, dir: PathBuf, workers_to_run: &[(&'static str, PathBuf)]) -> Workerd {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run the Workers runtime");
        let output = Arc::new(Mutex::new(Output::default()));
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                let mut line = Vec::new();
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut output = output.lock().unwrap_or_else(|e| e.into_inner());
                    output.log.push_str(&String::from_utf8_lossy(&buf[..n]));
                    for &b in &buf[..n] {
                        if b != b'\n' {
                            line.push(b);
                            continue;
                        }
                        if let Some((socket, port)) = listen_event(&String::from_utf8_lossy(&line)) {
                            output.ports.insert(socket, port);
                        }
                        line.clear();
                    }
                }
            });
        }
        let mut w = Workerd { child, ports: HashMap::new(), output, dir };
        let started = Instant::now();
        let running = |w: &mut Workerd, waiting_for: &str| {
            let exited = w.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && started.elapsed() < Duration::from_secs(60),
                "the Workers runtime did not start ({exited:?}, waiting for {waiting_for}): {}",
                w.log()
            );
        };
        while w.ports.len() < workers_to_run.len() {
            let reported = w.output.lock().unwrap_or_else(|e| e.into_inner()).ports.clone();
            for (name, _) in workers_to_run {
                if let Some(port) = reported.get(*name) {
                    w.ports.insert(name, *port);
                }
            }
            if w.ports.len() < workers_to_run.len() {
                running(&mut w, "its ports");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // The runtime itself bound these ports (and holds them while it runs): the answers are its own.
        let http = reqwest::Client::new();
        for (name, _) in workers_to_run {
            loop {
                if let Ok(r) = http.get(format!("{}/health", w.url(name))).send().await
                    && r.status().is_success()
                {
                    break;
                }
                running(&mut w, &format!("{name}'s /health"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        w
    }

    pub fn url(&self, worker: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[worker])
    }

    pub fn log(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).log.clone()
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        // Miniflare stops its own workerd when its stdin closes; give it a moment.
        if self.child.stdin.take().is_some() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Supabase's URL layout in front of `postrust`: `/rest/v1/<path>` is passed on
/// to `<postrust>/<path>`. Counts the storage requests.
#[derive(Clone)]
pub struct Supabase {
    /// Use as `SUPABASE_URL`.
    pub url: String,
    /// Requests passed on so far.
    pub requests: Arc<AtomicU64>,
    /// Of them, the outbox's (`/rpc/enqueue_messages`, `settle_messages`,
    /// `take_messages`, `stale_updates`, `outbox_state`, and the webhook
    /// deliveries' `webhook_targets` and `record_webhook`): made after a response.
    pub outbox_requests: Arc<AtomicU64>,
}

/// The storage calls of the outbox, which run after a response.
const OUTBOX_CALLS: [&str; 7] = [
    "enqueue_messages",
    "settle_messages",
    "take_messages",
    "stale_updates",
    "outbox_state",
    "webhook_targets",
    "record_webhook",
];

pub async fn supabase_proxy(postrust: String) -> Supabase {
    #[derive(Clone)]
    struct Upstream {
        base: String,
        http: reqwest::Client,
        requests: Arc<AtomicU64>,
        outbox_requests: Arc<AtomicU64>,
    }
    async fn forward(State(up): State<Upstream>, req: Request) -> Response {
        up.requests.fetch_add(1, Ordering::Relaxed);
        if OUTBOX_CALLS.iter().any(|call| req.uri().path().ends_with(&format!("/rpc/{call}"))) {
            up.outbox_requests.fetch_add(1, Ordering::Relaxed);
        }
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
        let path = path.strip_prefix("/rest/v1").unwrap_or(&path).to_string();
        let method = req.method().clone();
        let headers = req.headers().clone();
        let body = axum::body::to_bytes(req.into_body(), 4 << 20).await.unwrap_or_default();
        let mut out = up.http.request(method, format!("{}{path}", up.base));
        for (k, v) in &headers {
            if k != "host" && k != "content-length" {
                out = out.header(k, v);
            }
        }
        match out.body(body).send().await {
            Ok(r) => {
                let mut res = Response::builder().status(r.status().as_u16());
                for (k, v) in r.headers() {
                    if k != "content-length" && k != "transfer-encoding" {
                        res = res.header(k, v);
                    }
                }
                res.body(axum::body::Body::from(r.bytes().await.unwrap_or_default())).expect("response")
            }
            Err(_) => Response::builder().status(502).body(axum::body::Body::empty()).expect("response"),
        }
    }
    let requests = Arc::new(AtomicU64::new(0));
    // A new connection per request: a pooled one the upstream closes while idle would fail the next
    // request (a 502 here), a race of keep-alive timing, not of the code under test.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let outbox_requests = Arc::new(AtomicU64::new(0));
    let up = Upstream { base: postrust, http, requests: requests.clone(), outbox_requests: outbox_requests.clone() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(forward).with_state(up)).await });
    Supabase { url, requests, outbox_requests }
}
