//! The test side of the Mini App's browser tests: [`Browser`] runs
//! `loyalty-app/e2e/driver.cjs` (headless Chromium through playwright-core)
//! and sends it one command per JSON line; the answers come back in order.
//! The commands are listed at the top of `driver.cjs`.
//!
//! Included with `#[path]` by the tests that drive the page
//! (`loyalty-native/tests/mini_app_browser.rs`, `loyalty-edge/tests/browser.rs`).
//! They need `CHROMIUM_BIN` and `LOYALTY_E2E_DIR` from `scripts/browser.sh env`
//! (`NODE_BIN` and `LOYALTY_E2E_DRIVER` are optional).

#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest a single command may take before the test gives up on the browser.
const CALL_TIMEOUT: Duration = Duration::from_secs(180);

/// How a page is opened: the URL, the Telegram user's signed `initData`, and
/// how Telegram shows it.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    /// The page's URL (`…/app/?mode=partner`).
    pub(crate) url: String,
    /// What `Telegram.WebApp.initData` holds (empty: opened outside Telegram).
    pub(crate) init_data: String,
    /// `light` or `dark`.
    pub(crate) theme: &'static str,
    /// The browser's clock, ms since the epoch (`None`: the machine's).
    pub(crate) now_ms: Option<i64>,
    /// The viewport (a phone: 390 × 760).
    pub(crate) viewport: (u32, u32),
}

impl Open {
    /// `url` with `init_data`, light, at the machine's time, on a phone-sized viewport.
    pub(crate) fn new(url: impl Into<String>, init_data: impl Into<String>) -> Open {
        Open { url: url.into(), init_data: init_data.into(), theme: "light", now_ms: None, viewport: (390, 760) }
    }

    /// The same in `theme`.
    pub(crate) fn theme(mut self, theme: &'static str) -> Open {
        self.theme = theme;
        self
    }

    /// The same with the browser's clock fixed at `secs` (Unix seconds).
    pub(crate) fn at(mut self, secs: i64) -> Open {
        self.now_ms = Some(secs * 1000);
        self
    }
}

struct Io {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

/// A headless Chromium driven by `driver.cjs`; stopped when dropped.
pub(crate) struct Browser {
    io: Arc<Mutex<Io>>,
    child: Child,
    /// The browser's version, as it reported it.
    pub(crate) version: String,
}

/// The repository's root (this file is `loyalty-app/e2e/driver.rs`).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn env_or_panic(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `eval \"$(scripts/browser.sh env)\"` first (scripts/test.sh does)")
    })
}

impl Browser {
    /// Starts the driver with the tools `scripts/browser.sh` installed.
    pub(crate) async fn start() -> Browser {
        let chromium = env_or_panic("CHROMIUM_BIN");
        let modules = PathBuf::from(env_or_panic("LOYALTY_E2E_DIR")).join("node_modules");
        let node = std::env::var("NODE_BIN").unwrap_or_else(|_| "node".into());
        let driver = std::env::var("LOYALTY_E2E_DRIVER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("loyalty-app/e2e/driver.cjs"));
        let mut child = Command::new(&node)
            .arg(&driver)
            .env("CHROMIUM_BIN", &chromium)
            .env("NODE_PATH", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {node} {}: {e}", driver.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let first = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let read = stdout.read_line(&mut line);
            (read, line, stdout)
        });
        let (read, line, stdout) =
            tokio::time::timeout(CALL_TIMEOUT, first).await.expect("the browser started in time").expect("reader");
        read.expect("the driver's first line");
        let hello: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("the driver said {line:?}"));
        assert_eq!(hello["ready"], true, "the driver is ready: {hello}");
        let version = hello["browser"].as_str().unwrap_or_default().to_string();
        Browser { io: Arc::new(Mutex::new(Io { stdin, stdout, next: 1 })), child, version }
    }

    /// Sends `cmd` with the fields of `args` (an object); its value or its error.
    pub(crate) async fn call(&self, cmd: &str, args: Value) -> Result<Value, String> {
        let mut req = match args {
            Value::Object(map) => map,
            Value::Null => serde_json::Map::new(),
            other => panic!("command arguments must be an object, not {other}"),
        };
        req.insert("cmd".into(), json!(cmd));
        let io = self.io.clone();
        let work = tokio::task::spawn_blocking(move || {
            let mut io = io.lock().unwrap_or_else(|e| e.into_inner());
            let id = io.next;
            io.next += 1;
            req.insert("id".into(), json!(id));
            let line = serde_json::to_string(&req).expect("JSON") + "\n";
            io.stdin.write_all(line.as_bytes()).map_err(|e| format!("the driver is gone: {e}"))?;
            io.stdin.flush().map_err(|e| format!("the driver is gone: {e}"))?;
            let mut answer = String::new();
            let n = io.stdout.read_line(&mut answer).map_err(|e| format!("the driver is gone: {e}"))?;
            if n == 0 {
                return Err("the driver exited".to_string());
            }
            let answer: Value =
                serde_json::from_str(&answer).map_err(|e| format!("the driver said {answer:?}: {e}"))?;
            if answer["id"] != json!(id) {
                return Err(format!("answer out of order: {answer}"));
            }
            if answer["ok"] == true { Ok(answer["value"].clone()) } else { Err(answer["error"].to_string()) }
        });
        match tokio::time::timeout(CALL_TIMEOUT, work).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(format!("the driver's reader failed: {e}")),
            Err(_) => Err(format!("{cmd} took longer than {CALL_TIMEOUT:?}")),
        }
    }

    /// Like [`Browser::call`], but a failure fails the test, with what the page logged.
    pub(crate) async fn must(&self, cmd: &str, args: Value) -> Value {
        match self.call(cmd, args.clone()).await {
            Ok(v) => v,
            Err(e) => {
                let state = self.call("state", Value::Null).await.unwrap_or(Value::Null);
                panic!("browser: {cmd} {args} failed: {e}\npage state: {state:#}")
            }
        }
    }

    /// Opens a fresh page (new context: no cache, no storage).
    pub(crate) async fn open(&self, page: &Open) -> u16 {
        let mut args = json!({
            "url": page.url,
            "initData": page.init_data,
            "theme": page.theme,
            "viewport": {"width": page.viewport.0, "height": page.viewport.1},
        });
        if let Some(now) = page.now_ms {
            args["now"] = json!(now);
        }
        self.must("open", args).await["status"].as_u64().unwrap_or_default() as u16
    }

    /// Waits until an element with `data-testid=testid` is visible.
    pub(crate) async fn wait_for(&self, testid: &str) {
        self.must("waitFor", json!({ "testid": testid })).await;
    }

    /// Waits until no element with `data-testid=testid` is visible.
    pub(crate) async fn wait_gone(&self, testid: &str) {
        self.must("waitFor", json!({ "testid": testid, "state": "hidden" })).await;
    }

    /// Waits until the first `testid` element's text contains `text`.
    pub(crate) async fn wait_for_text(&self, testid: &str, text: &str) {
        self.must("waitForText", json!({ "testid": testid, "text": text })).await;
    }

    /// The visible text of the first `testid` element.
    pub(crate) async fn text(&self, testid: &str) -> String {
        self.must("text", json!({ "testid": testid })).await.as_str().unwrap_or_default().to_string()
    }

    /// How many `testid` elements there are.
    pub(crate) async fn count(&self, testid: &str) -> u64 {
        self.must("count", json!({ "testid": testid })).await.as_u64().unwrap_or_default()
    }

    /// The attribute `name` of the first `testid` element.
    pub(crate) async fn attr(&self, testid: &str, name: &str) -> Option<String> {
        self.must("attr", json!({ "testid": testid, "name": name })).await.as_str().map(str::to_string)
    }

    /// Clicks the first `testid` element.
    pub(crate) async fn click(&self, testid: &str) {
        self.must("click", json!({ "testid": testid })).await;
    }

    /// Sets the `testid` field to `value`: types into an input, chooses in a select.
    pub(crate) async fn set(&self, testid: &str, value: &str) {
        self.must("set", json!({ "testid": testid, "value": value })).await;
    }

    /// A PNG of the viewport (`testid: None`) or of an element, written to `path`; its size.
    pub(crate) async fn screenshot(&self, testid: Option<&str>, path: &Path) -> u64 {
        let args = json!({ "testid": testid, "path": path.to_string_lossy() });
        self.must("screenshot", args).await.as_u64().unwrap_or_default()
    }

    /// The text of the QR code the `testid` element shows, read from a screenshot.
    pub(crate) async fn decode_qr(&self, testid: &str) -> String {
        self.must("decodeQr", json!({ "testid": testid })).await.as_str().unwrap_or_default().to_string()
    }

    /// The next (or the open) QR scan reads `text`.
    pub(crate) async fn scan(&self, text: &str) {
        self.must("scan", json!({ "text": text })).await;
    }

    /// The WebApp methods the page called, by name, in order.
    pub(crate) async fn telegram_calls(&self) -> Vec<String> {
        let calls = self.must("tgCalls", Value::Null).await;
        calls.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()
    }

    /// Page errors, console errors, refused and made requests.
    pub(crate) async fn state(&self) -> Value {
        self.must("state", Value::Null).await
    }

    /// The value of a JavaScript expression in the page.
    pub(crate) async fn eval(&self, expr: &str) -> Value {
        self.must("eval", json!({ "expr": expr })).await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(mut io) = self.io.try_lock() {
            let _ = io.stdin.write_all(b"{\"id\":0,\"cmd\":\"quit\"}\n");
            let _ = io.stdin.flush();
        }
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
