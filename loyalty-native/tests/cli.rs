//! The `loyalty` binary as people run it: exit codes, configuration errors,
//! migrations, webhook management against the fake Bot API, `serve` with a
//! graceful stop, and `simulate`.

use loyalty_native::fake_bot_api::FakeBotApi;
use std::process::{Command, Output};
use std::time::Duration;

const CLIENT: &str = "1001:cli-client";
const PARTNER: &str = "1002:cli-partner";

mod common;
use common::Scratch;

/// The database file `loyalty.db` in `dir`.
fn db_in(dir: &Scratch) -> String {
    dir.dir.join("loyalty.db").display().to_string()
}

/// The binary with a clean environment plus `vars`.
fn loyalty(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.env_clear().env("LOG_LEVEL", "warn");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

async fn run(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[tokio::test]
async fn usage_help_and_configuration_errors() {
    let dir = Scratch::new("cli");
    let out = run(loyalty(&[]), &["--help"]).await;
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in ["serve", "poll", "webhooks", "migrate", "simulate", "Exit codes", "3  configuration error"] {
        assert!(help.contains(needle), "--help mentions {needle}: {help}");
    }
    assert_eq!(run(loyalty(&[]), &["frobnicate"]).await.status.code(), Some(2));
    assert_eq!(run(loyalty(&[]), &["serve", "--listen", "not-an-address"]).await.status.code(), Some(2));

    let out = run(loyalty(&[("ADMIN_CHAT_ID", "abc"), ("LOYALTY_DB", &db_in(&dir))]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("ADMIN_CHAT_ID"), "{}", text(&out.stderr));
    let out = run(loyalty(&[("TOKEN_CLIENT", "no-colon-secret"), ("LOYALTY_DB", &db_in(&dir))]), &["serve"]).await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("TOKEN_CLIENT") && !stderr.contains("no-colon-secret"), "{stderr}");
    let out = run(loyalty(&[("DATABASE_URL", "mysql://u:hunter2@h/db")]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("DATABASE_URL") && !text(&out.stderr).contains("hunter2"));
    let out = run(loyalty(&[("SUPABASE_URL", "https://x.supabase.co"), ("SUPABASE_KEY", "k")]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("PostgREST"), "{}", text(&out.stderr));
    assert!(help.contains("SUPABASE_URL") && help.contains("SUPABASE_KEY"), "--help names Supabase: {help}");
}

#[tokio::test]
async fn half_a_configuration_stops_instead_of_falling_back() {
    let dir = Scratch::new("cli");
    let db = db_in(&dir);
    // Half of Supabase's pair: no silent SQLite.
    for (set, value, missing) in [
        ("SUPABASE_URL", "https://x.supabase.co", "SUPABASE_KEY"),
        ("SUPABASE_KEY", "sb_secret_hunter2", "SUPABASE_URL"),
    ] {
        let out = run(loyalty(&[(set, value), ("LOYALTY_DB", &db)]), &["migrate"]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{set} alone: {stderr}");
        assert!(stderr.contains(missing) && !stderr.contains("hunter2"), "{stderr}");
    }
    assert!(!std::path::Path::new(&db).exists(), "no SQLite file was made");
    // A bot without the chat it needs.
    let out = run(loyalty(&[("ADMIN_BOT_TOKEN", "1003:admin-secret"), ("LOYALTY_DB", &db)]), &["serve"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("ADMIN_CHAT_ID") && !stderr.contains("admin-secret"), "{stderr}");
    let vars = [("SENTRY_ALERT_TELEGRAM_TOKEN", "1004:alerts"), ("LOYALTY_DB", db.as_str())];
    let out = run(loyalty(&vars), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("SENTRY_ALERT_CHAT_ID"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn the_sqlite_file_in_use_is_named_in_full() {
    let dir = Scratch::new("cli");
    let mut cmd = loyalty(&[]);
    cmd.current_dir(&dir.dir);
    let out = run(cmd, &["migrate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let full = dir.dir.join("loyalty.db");
    assert!(full.exists());
    assert!(text(&out.stdout).contains(&full.display().to_string()), "{}", text(&out.stdout));
}

#[tokio::test]
async fn migrate_creates_sqlite_and_storage_errors_exit_4() {
    let dir = Scratch::new("cli");
    let out = run(loyalty(&[("LOYALTY_DB", &db_in(&dir))]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::path::Path::new(&db_in(&dir)).exists());
    assert!(text(&out.stdout).contains("up to date"));
    let again = run(loyalty(&[("LOYALTY_DB", &db_in(&dir))]), &["migrate"]).await;
    assert_eq!(again.status.code(), Some(0), "migrating twice is fine");

    let missing = dir.dir.join("no/such/dir/x.db").display().to_string();
    let out = run(loyalty(&[("LOYALTY_DB", &missing)]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let not_sqlite = dir.dir.join("text.db");
    std::fs::write(&not_sqlite, "this is not a database, just some text that is long enough").unwrap();
    let out = run(loyalty(&[("LOYALTY_DB", &not_sqlite.display().to_string())]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_set_info_delete_against_the_fake_bot_api() {
    let fake = FakeBotApi::start().await;
    let url = fake.url();
    let vars = [("TOKEN_CLIENT", CLIENT), ("TOKEN_PARTNER", PARTNER), ("TELEGRAM_API_URL", url.as_str())];

    let out = run(loyalty(&vars), &["webhooks", "set", "--base-url", "http://bots.example.com"]).await;
    assert_eq!(out.status.code(), Some(3), "plain HTTP is refused before calling Telegram: {}", text(&out.stderr));
    assert_eq!(fake.webhook(CLIENT), None);
    let zero = run(loyalty(&vars), &["webhooks", "set", "--base-url", "https://x.example", "--max-connections", "0"]);
    assert_eq!(zero.await.status.code(), Some(2));

    let out =
        run(loyalty(&vars), &["webhooks", "set", "--base-url", "https://bots.example.com", "--max-connections", "10"])
            .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let client = fake.webhook(CLIENT).expect("client webhook set");
    assert_eq!(client.url, "https://bots.example.com/webhook/client");
    assert_eq!(client.max_connections, 10);
    let secret = client.secret_token.expect("a secret token");
    assert!(!text(&out.stdout).contains(&secret), "the secret is not printed");
    assert_eq!(fake.webhook(PARTNER).unwrap().url, "https://bots.example.com/webhook/partner");
    assert!(text(&out.stdout).contains("client: menu button shows the commands"), "{}", text(&out.stdout));
    assert_eq!(fake.menu_button(CLIENT, None), serde_json::json!({"type": "commands"}));

    // With PUBLIC_URL the menu buttons open the Mini App, labelled in --menu-language.
    let mut app_vars = vars.to_vec();
    app_vars.push(("PUBLIC_URL", "https://bots.example.com"));
    let set = ["webhooks", "set", "--base-url", "https://bots.example.com", "--menu-language", "vi"];
    let out = run(loyalty(&app_vars), &set).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("partner: menu button opens https://bots.example.com/app/?mode=partner"), "{report}");
    let app = |url: &str| serde_json::json!({"type": "web_app", "text": "📱 Mở ứng dụng", "web_app": {"url": url}});
    assert_eq!(fake.menu_button(CLIENT, None), app("https://bots.example.com/app/"));
    assert_eq!(fake.menu_button(PARTNER, None), app("https://bots.example.com/app/?mode=partner"));
    let bad_language =
        run(loyalty(&app_vars), &["webhooks", "set", "--base-url", "https://x.example", "--menu-language", "de"]);
    assert_eq!(bad_language.await.status.code(), Some(2));
    app_vars.pop();
    app_vars.push(("PUBLIC_URL", "http://bots.example.com"));
    let out = run(loyalty(&app_vars), &["webhooks", "set", "--base-url", "https://bots.example.com"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("PUBLIC_URL"), "{}", text(&out.stderr));

    let out = run(loyalty(&vars), &["webhooks", "info"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let info = text(&out.stdout);
    assert!(info.contains("https://bots.example.com/webhook/client"), "{info}");
    assert!(!info.contains(CLIENT) && !info.contains(PARTNER), "no tokens in the output: {info}");

    // Polling is refused while a webhook is set: exit 5 with advice.
    let dir = Scratch::new("cli");
    let mut poll_vars = vars.to_vec();
    let db = db_in(&dir);
    poll_vars.push(("LOYALTY_DB", &db));
    let out = run(loyalty(&poll_vars), &["poll"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("loyalty webhooks delete"), "{}", text(&out.stderr));

    let out = run(loyalty(&vars), &["webhooks", "delete", "--drop-pending"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(fake.webhook(CLIENT), None);
    assert_eq!(fake.webhook(PARTNER), None);

    // Telegram unreachable: exit 5.
    let vars = [("TOKEN_CLIENT", CLIENT), ("TELEGRAM_API_URL", "http://127.0.0.1:9")];
    let out = run(loyalty(&vars), &["webhooks", "info"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}

use common::Lines;

/// Starts `loyalty serve` on an ephemeral port; returns the child, its
/// address and the rest of its log.
async fn spawn_serve(vars: &[(&str, &str)]) -> (std::process::Child, String, Lines) {
    spawn_serve_with(vars, &[]).await
}

/// [`spawn_serve`] with more arguments to `serve`.
async fn spawn_serve_with(vars: &[(&str, &str)], args: &[&str]) -> (std::process::Child, String, Lines) {
    let mut cmd = loyalty(vars);
    cmd.env("LOG_LEVEL", "info").args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    common::spawn_listening(cmd).await
}

/// SIGTERM, then the exit status and the remaining log lines.
async fn terminate(child: std::process::Child, rest: Lines) -> (std::process::ExitStatus, Vec<String>) {
    let mut child = child;
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let waited = tokio::task::spawn_blocking(move || {
        let logs: Vec<String> = rest.map_while(Result::ok).collect();
        (child.wait().unwrap(), logs)
    });
    tokio::time::timeout(Duration::from_secs(60), waited).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_and_stops_gracefully_on_sigterm() {
    let dir = Scratch::new("cli");
    let db = db_in(&dir);
    let (child, addr, rest) = spawn_serve(&[("TOKEN_CLIENT", CLIENT), ("LOYALTY_DB", &db)]).await;
    let http = reqwest::Client::new();
    let health = http.get(format!("http://{addr}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = http.get(format!("http://{addr}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready, serde_json::json!({"status": "ready", "storage": "sqlite"}));
    // One API request and one metrics scrape: the request has its log line and its counter.
    let me = http.get(format!("http://{addr}/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let metrics = http.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains(r#"loyalty_api_requests_total{route="/api/v1/me",status="401"} 1"#),
        "the request is counted:\n{metrics}"
    );
    let (status, logs) = terminate(child, rest).await;
    assert_eq!(status.code(), Some(0), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("shutdown signal received")), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(CLIENT)), "no token in the logs: {logs:?}");
    // stderr is not a terminal: every line is one JSON object, the request's among them.
    let events: Vec<serde_json::Value> =
        logs.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let request = events.iter().find(|e| e["surface"] == "api").unwrap_or_else(|| panic!("no API event: {logs:?}"));
    assert_eq!(request["kind"], "/api/v1/me", "{request}");
    assert_eq!(request["outcome"], 401, "{request}");
    assert_eq!(request["level"], "INFO", "{request}");
    assert!(request["duration_ms"].as_f64().is_some() && request["store_calls"].as_u64().is_some(), "{request}");
    assert!(logs.iter().all(|l| !l.contains("\u{1b}[")), "no colour codes off a terminal: {logs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_ask_for_the_metrics_token_when_one_is_set() {
    let dir = Scratch::new("cli");
    let db = db_in(&dir);
    let token = "m".repeat(40);
    let vars = [("TOKEN_CLIENT", CLIENT), ("LOYALTY_DB", &db), ("METRICS_TOKEN", &token), ("LOG_FORMAT", "text")];
    let (child, addr, rest) = spawn_serve(&vars).await;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    let wrong = http.get(&url).bearer_auth("m".repeat(39)).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let scraped = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let (status, logs) = terminate(child, rest).await;
    assert_eq!(status.code(), Some(0), "{logs:?}");
    // LOG_FORMAT=text: plain lines, still without colours off a terminal.
    assert!(logs.iter().all(|l| !l.starts_with('{') && !l.contains("\u{1b}[")), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(&token)), "no token in the logs");
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_plays_the_scenarios() {
    let out = run(loyalty(&[]), &["simulate"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    for needle in [
        "Anna → client bot: /start",
        "partner bot",
        "admin bot",
        "✓ Anna's balance is 12 000",
        "Anna is told her voucher was used",
        "✓ Anna's card is filled once and a new one started",
        "✓ Boris is erased; his 100 points stay on an anonymised record",
        "✓ the admin's /audit shows the erasure",
        "✓ Minh's credit is recorded as his",
        "✓ Minh, revoked, can no longer credit",
        "loyalty serve",
    ] {
        assert!(stdout.contains(needle), "the transcript shows {needle:?}:\n{stdout}");
    }
    assert!(!stdout.contains("✗"), "{stdout}");
}

/// A fresh database on the local test server, dropped on [`TempPg::drop_now`].
struct TempPg {
    name: String,
}

const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

impl TempPg {
    async fn new() -> TempPg {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("loyalty_cli_{}_{nanos}", std::process::id());
        TempPg::admin(&format!("CREATE DATABASE {name}")).await;
        TempPg { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    async fn admin(sql: &str) {
        let (client, connection) = tokio_postgres::connect(PG_SERVER, tokio_postgres::NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = driver.await;
    }

    async fn drop_now(self) {
        TempPg::admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_and_serve_with_postgres() {
    let pg = TempPg::new().await;
    let url = pg.url();
    let out = run(loyalty(&[("DATABASE_URL", &url)]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("applied"), "{}", text(&out.stdout));
    let again = run(loyalty(&[("DATABASE_URL", &url)]), &["migrate"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("up to date") && !text(&again.stdout).contains("applied"));

    let (child, addr, rest) = spawn_serve(&[("TOKEN_CLIENT", CLIENT), ("DATABASE_URL", &url)]).await;
    let ready = reqwest::get(format!("http://{addr}/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["storage"], "postgres");
    let (status, logs) = terminate(child, rest).await;
    assert_eq!(status.code(), Some(0), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(CLIENT)), "no token in the logs: {logs:?}");

    // Unreachable: exit 4, naming the variable, without the password.
    let out = run(loyalty(&[("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:9/x")]), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("DATABASE_URL") && !text(&out.stderr).contains("hunter2"));
    pg.drop_now().await;
}

#[tokio::test]
async fn rules_are_shown_set_from_a_file_and_bad_documents_change_nothing() {
    let dir = Scratch::new("cli");
    let vars = [("LOYALTY_DB", db_in(&dir))];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(loyalty(&vars), &["rules", "show"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("rules version 0 (the defaults)"), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON document");
    assert_eq!(shown, serde_json::json!({"expiry": {"days": null, "remind_days_before": 0}}));

    let file = dir.dir.join("rules.json");
    std::fs::write(&file, r#"{"expiry": {"days": 90, "remind_days_before": 7}}"#).unwrap();
    let out = run(loyalty(&vars), &["rules", "set", &file.display().to_string()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("rules version 1 (20"), "{}", text(&out.stderr));
    let out = run(loyalty(&vars), &["rules", "show"]).await;
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["expiry"]["days"], 90, "the document as set");

    for (doc, says) in [
        (r#"{"expiry": {"days": 90, "remind_days_before": 90}}"#, "must be less than expiry.days"),
        (r#"{"expiry": {"days": 9}, "campaign": {}}"#, "unknown field `campaign`"),
        ("{not json", "key must be a string"),
    ] {
        std::fs::write(&file, doc).unwrap();
        let out = run(loyalty(&vars), &["rules", "set", &file.display().to_string()]).await;
        assert_eq!(out.status.code(), Some(3), "{doc}");
        assert!(text(&out.stderr).contains(says), "{doc}: {}", text(&out.stderr));
    }
    let out = run(loyalty(&vars), &["rules", "set", "/nonexistent/rules.json"]).await;
    assert_eq!(out.status.code(), Some(3));
    let out = run(loyalty(&vars), &["rules", "show"]).await;
    assert!(text(&out.stderr).contains("rules version 1 "), "nothing changed: {}", text(&out.stderr));
}

#[tokio::test]
async fn whatif_replays_the_ledger_read_only() {
    let dir = Scratch::new("cli");
    let vars = [("LOYALTY_DB", db_in(&dir))];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Two customers with 100 welcome points each, made a year ago.
    let store = loyalty_native::store::sqlite::SqliteStore::open(std::path::Path::new(&db_in(&dir))).unwrap();
    let year_ago = loyalty_core::domain::Timestamp(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - 365 * 86_400,
    );
    for i in 0..2u8 {
        let req = loyalty_core::ports::NewCustomer {
            telegram_id: loyalty_core::domain::TelegramUserId(10 + i64::from(i)),
            code: loyalty_core::domain::CustomerCode::from_random([1, 2, 3, 4, i]),
            first_name: "C".into(),
            username: None,
            language: loyalty_core::domain::Language::En,
            referrer: None,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 100,
            referral_bonus: 0,
            now: year_ago,
        };
        loyalty_core::ports::Storage::register_customer(&store, req).await.unwrap();
    }
    drop(store);
    let file = dir.dir.join("proposed.json");
    std::fs::write(&file, r#"{"expiry": {"days": 180}}"#).unwrap();
    let out = run(loyalty(&vars), &["whatif", "--rules", &file.display().to_string(), "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((v["actual"]["outstanding"].as_i64(), v["proposed"]["outstanding"].as_i64()), (Some(200), Some(0)));
    assert_eq!(v["proposed"]["expired"], 200);
    let out = run(loyalty(&vars), &["whatif", "--rules", &file.display().to_string()]).await;
    let table = text(&out.stdout);
    assert!(table.contains("outstanding liability") && table.contains("-200"), "{table}");
    // Read only: nothing expired for real, the rules did not change.
    let out = run(loyalty(&vars), &["rules", "show"]).await;
    assert!(text(&out.stderr).contains("rules version 0"), "{}", text(&out.stderr));
    std::fs::write(&file, r#"{"expiry": {"days": 0}}"#).unwrap();
    let out = run(loyalty(&vars), &["whatif", "--rules", &file.display().to_string()]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("expiry.days must be between"), "{}", text(&out.stderr));
}

/// Three `loyalty serve` processes on one PostgreSQL database behind a
/// round-robin, each update also delivered to a second one: every update is
/// handled once, and the maintenance pass (ticking every second on each) runs
/// once per second among the three, not three times.
#[tokio::test(flavor = "multi_thread")]
async fn three_servers_on_one_database_handle_each_update_and_each_maintenance_period_once() {
    let pg = TempPg::new().await;
    let url = pg.url();
    let fake = FakeBotApi::start().await;
    let api = fake.url();
    let secret = "three-servers-secret";
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("TOKEN_CLIENT", CLIENT),
        ("TELEGRAM_API_URL", &api),
        ("WEBHOOK_SECRET", secret),
    ];
    let out = run(loyalty(&vars), &["migrate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let started = std::time::Instant::now();
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(spawn_serve_with(&vars, &["--maintenance-interval", "1"]).await);
    }
    let http = reqwest::Client::new();
    let deliver = |addr: String, id: i64| {
        let http = http.clone();
        async move {
            let update = serde_json::json!({
                "update_id": id,
                "message": {"message_id": id, "date": 1_700_000_000, "text": "/start",
                    "chat": {"id": 5000 + id, "type": "private"},
                    "from": {"id": 5000 + id, "is_bot": false, "first_name": "Guest"}}
            });
            let res = http
                .post(format!("http://{addr}/webhook/client"))
                .header("x-telegram-bot-api-secret-token", secret)
                .json(&update)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            !res.bytes().await.unwrap().is_empty()
        }
    };
    let addrs: Vec<String> = servers.iter().map(|(_, addr, _)| addr.clone()).collect();
    let mut answered = Vec::new();
    for id in 1..=30 {
        // The update to one server and, at the same time, its redelivery to the next.
        let (a, b) = (addrs[id as usize % 3].clone(), addrs[(id as usize + 1) % 3].clone());
        let (first, second) = tokio::join!(deliver(a, id), deliver(b, id));
        answered.push(usize::from(first) + usize::from(second));
    }
    assert!(answered.iter().all(|n| *n == 1), "each update answered with a reply once: {answered:?}");
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let elapsed = started.elapsed().as_secs();
    let mut logs = Vec::new();
    for (child, _, rest) in servers {
        let (status, lines) = terminate(child, rest).await;
        assert_eq!(status.code(), Some(0), "{lines:?}");
        logs.extend(lines);
    }
    // Each pass asks for the client bot's webhook once (the watchdog).
    let passes = fake.calls_for(CLIENT).iter().filter(|c| c.method == "getWebhookInfo").count();
    let periods = usize::try_from(elapsed).unwrap() + 2;
    assert!((1..=periods).contains(&passes), "{passes} passes in {elapsed} s on three servers (at most {periods})");
    // Every server's updates were logged once, as handled or as duplicates.
    let handled = logs.iter().filter(|l| l.contains(r#""surface":"update""#)).count();
    let duplicates = logs.iter().filter(|l| l.contains(r#""outcome":"duplicate""#)).count();
    assert_eq!((handled, duplicates), (60, 30), "{logs:?}");
    pg.drop_now().await;
}
