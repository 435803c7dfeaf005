//! The transactional outbox under `loyalty serve`: a burst of 500 credit
//! notifications, the server killed (SIGKILL) or stopped (SIGTERM) in the
//! middle of it, a new server on the same database — every notification
//! reaches the fake Bot API, none twice. On SQLite and on PostgreSQL.
//!
//! The server is stopped while Telegram refuses every message (the fake
//! answers `502` from the 100th notification on), so no message is in flight
//! at that moment: one sent and not yet recorded would be sent again, the one
//! window of at-least-once delivery, which no test could tell from a bug.
//! The burst of webhooks goes on while the server dies; the updates it did
//! not answer are delivered again to the new server, as Telegram does.

use loyalty_native::fake_bot_api::{Failure, FakeBotApi, RecordedCall};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::Scratch;

const CLIENT: &str = "2001:outbox-client";
const PARTNER: &str = "2002:outbox-partner";
const ADMIN: &str = "2003:outbox-admin";
const ADMIN_CHAT: i64 = 900;
const OWNER: i64 = 7_001;
const SECRET: &str = "outbox-test-secret";
const CUSTOMERS: i64 = 500;
/// The first customer's chat; customer `i` is `FIRST_CUSTOMER + i`.
const FIRST_CUSTOMER: i64 = 100_000;

/// How the server is stopped in the middle of the burst.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Kill,
    Terminate,
}

fn loyalty(vars: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.env_clear().env("LOG_LEVEL", "warn");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// The rest of a server's log, read as it comes (a full pipe would stop the
/// server) until it exits.
type Log = tokio::task::JoinHandle<Vec<String>>;

/// `loyalty serve` on an ephemeral port: the child, its address, its log.
async fn serve(vars: &[(String, String)]) -> (Child, String, Log) {
    let (child, addr, lines) = serve_lines(vars).await;
    (child, addr, tokio::task::spawn_blocking(move || lines.map_while(Result::ok).collect()))
}

async fn serve_lines(vars: &[(String, String)]) -> (Child, String, common::Lines) {
    let mut cmd = loyalty(vars);
    cmd.env("LOG_LEVEL", "info").args(["serve", "--listen", "127.0.0.1:0", "--maintenance-interval", "1"]);
    common::spawn_listening(cmd).await
}

fn message(update_id: i64, from: i64, text: &str) -> serde_json::Value {
    serde_json::json!({
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 1_700_000_000, "text": text,
            "chat": {"id": from, "type": "private"},
            "from": {"id": from, "is_bot": false, "first_name": format!("U{from}")}}
    })
}

/// Posts one update as Telegram does; `true` when answered `200`.
async fn post(http: &reqwest::Client, addr: &str, bot: &str, update: &serde_json::Value) -> bool {
    let sent = http
        .post(format!("http://{addr}/webhook/{bot}"))
        .header("x-telegram-bot-api-secret-token", SECRET)
        .json(update)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    matches!(sent, Ok(res) if res.status() == 200)
}

/// The credit notifications delivered so far, by customer chat.
fn notifications(fake: &FakeBotApi) -> HashMap<i64, usize> {
    let mut by_chat = HashMap::new();
    let delivered = fake.calls_for(CLIENT);
    for call in delivered.iter().filter(|c: &&RecordedCall| c.method == "sendMessage" && c.succeeded()) {
        if let Some(chat) = call.chat_id().filter(|c| (FIRST_CUSTOMER..FIRST_CUSTOMER + CUSTOMERS).contains(c)) {
            *by_chat.entry(chat).or_insert(0) += 1;
        }
    }
    by_chat
}

async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    done()
}

/// The customers' codes, read from the database by the `loyalty` binary's
/// own export (`export customers` would be heavier): through SQL.
async fn codes(store: &Store) -> HashMap<i64, String> {
    let rows: Vec<(i64, String)> = match store {
        Store::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut stmt = conn.prepare("SELECT telegram_id, code FROM loyalty_customers").unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
        }
        Store::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            let driver = tokio::spawn(connection);
            let rows = client.query("select telegram_id, code from loyalty.customers", &[]).await.unwrap();
            drop(client);
            let _ = driver.await;
            rows.iter().map(|r| (r.get(0), r.get(1))).collect()
        }
    };
    rows.into_iter().collect()
}

enum Store {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

async fn burst_survives(store: Store, stop: Stop) {
    let fake = FakeBotApi::start().await;
    let api = fake.url();
    let mut vars: Vec<(String, String)> = [
        ("TOKEN_CLIENT", CLIENT),
        ("TOKEN_PARTNER", PARTNER),
        ("ADMIN_BOT_TOKEN", ADMIN),
        ("ADMIN_CHAT_ID", &ADMIN_CHAT.to_string()),
        ("TELEGRAM_API_URL", &api),
        ("WEBHOOK_SECRET", SECRET),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    match &store {
        Store::Sqlite(path) => vars.push(("LOYALTY_DB".into(), path.display().to_string())),
        Store::Postgres(url) => vars.push(("DATABASE_URL".into(), url.clone())),
    }
    let migrated = loyalty(&vars).arg("migrate").output().unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    let (child, addr, log) = serve(&vars).await;
    let http = reqwest::Client::new();
    let mut update_id = 0;
    let mut next = || {
        update_id += 1;
        update_id
    };

    // Five hundred customers and an approved café.
    let signups: Vec<_> = (0..CUSTOMERS).map(|i| message(next(), FIRST_CUSTOMER + i, "/start")).collect();
    for chunk in signups.chunks(25) {
        let answered = futures::future::join_all(chunk.iter().map(|u| post(&http, &addr, "client", u))).await;
        assert!(answered.iter().all(|a| *a), "sign-ups answered");
    }
    assert!(post(&http, &addr, "partner", &message(next(), OWNER, "/apply Sunrise Café; cafe")).await);
    assert!(post(&http, &addr, "admin", &message(next(), ADMIN_CHAT, "/approve 1")).await);
    let codes = codes(&store).await;
    assert_eq!(codes.len(), CUSTOMERS as usize, "every customer signed up");
    assert!(fake.wait_for(Duration::from_secs(30), |calls| calls.iter().any(|c| c.token == PARTNER)).await);
    fake.take_calls();

    // The burst: a credit for each customer, eight updates at a time. From the 100th
    // notification on, Telegram refuses every message (502); then the server stops.
    let credits: Arc<Vec<serde_json::Value>> = Arc::new(
        (0..CUSTOMERS)
            .map(|i| message(next(), OWNER, &format!("/credit {} 100", codes[&(FIRST_CUSTOMER + i)])))
            .collect(),
    );
    let unanswered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let poster = {
        let (http, addr, credits, unanswered) = (http.clone(), addr.clone(), credits.clone(), unanswered.clone());
        tokio::spawn(async move {
            // About six seconds of webhooks: the server dies while they still come.
            for chunk in credits.chunks(8) {
                let answered = futures::future::join_all(chunk.iter().map(|u| post(&http, &addr, "partner", u))).await;
                unanswered
                    .lock()
                    .unwrap()
                    .extend(chunk.iter().zip(answered).filter(|(_, a)| !a).map(|(u, _)| u.clone()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    assert!(
        wait_until(Duration::from_secs(60), || notifications(&fake).len() >= 100).await,
        "the first notifications went out"
    );
    fake.fail_method("sendMessage", 1_000_000, Failure::Status(502, "Bad Gateway".into()));
    // What was sent before the refusals is recorded within milliseconds.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = notifications(&fake);
    let mut child = child;
    match stop {
        Stop::Kill => child.kill().unwrap(),
        Stop::Terminate => {
            let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
            assert!(term.success());
        }
    }
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let _ = log.await;
    if matches!(stop, Stop::Terminate) {
        assert_eq!(status.code(), Some(0), "a graceful stop");
    }
    poster.await.unwrap();
    let missed: Vec<serde_json::Value> = std::mem::take(&mut *unanswered.lock().unwrap());
    assert!(before.len() < CUSTOMERS as usize, "stopped in the middle: {} notified", before.len());

    // A new server on the same database; Telegram accepts messages again and delivers
    // the updates that were not answered once more.
    fake.clear_failures();
    let (child, addr, log) = serve(&vars).await;
    for chunk in missed.chunks(8) {
        let answered = futures::future::join_all(chunk.iter().map(|u| post(&http, &addr, "partner", u))).await;
        assert!(answered.iter().all(|a| *a), "redeliveries answered");
    }
    let everyone = wait_until(Duration::from_secs(240), || notifications(&fake).len() == CUSTOMERS as usize).await;
    // Anything sent twice would arrive within the lease; give it a moment.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = notifications(&fake);
    let mut child = child;
    child.kill().unwrap();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let _ = log.await;
    let missing: Vec<i64> =
        (0..CUSTOMERS).map(|i| FIRST_CUSTOMER + i).filter(|c| !after.contains_key(c)).take(10).collect();
    assert!(everyone, "{} of {CUSTOMERS} notified after the restart; missing e.g. {missing:?}", after.len());
    let twice: HashSet<_> = after.iter().filter(|(_, n)| **n > 1).map(|(c, n)| (*c, *n)).collect();
    assert!(twice.is_empty(), "notified more than once: {twice:?} ({} missed updates)", missed.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_sigkill_in_a_burst_loses_and_doubles_no_notification() {
    let dir = Scratch::new("outbox-kill");
    burst_survives(Store::Sqlite(dir.dir.join("loyalty.db")), Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_sigterm_in_a_burst_drops_no_notification() {
    let dir = Scratch::new("outbox-term");
    burst_survives(Store::Sqlite(dir.dir.join("loyalty.db")), Stop::Terminate).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_sigkill_in_a_burst_loses_and_doubles_no_notification() {
    let name = format!("loyalty_outbox_{}", std::process::id());
    let admin = |sql: String| async move {
        let (client, connection) =
            tokio_postgres::connect("postgres://postgres@127.0.0.1:5432/postgres", tokio_postgres::NoTls)
                .await
                .unwrap();
        let driver = tokio::spawn(connection);
        client.batch_execute(&sql).await.unwrap();
        drop(client);
        let _ = driver.await;
    };
    admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    admin(format!("CREATE DATABASE {name}")).await;
    burst_survives(Store::Postgres(format!("postgres://postgres@127.0.0.1:5432/{name}")), Stop::Kill).await;
    admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}
