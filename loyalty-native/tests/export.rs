//! `loyalty export data`: the program's customers, partners and entries as CSV
//! and JSON Lines, from a real SQLite store through the `loyalty` binary —
//! a million entries streamed without being held in memory (the process's
//! peak resident size is watched while it runs), text a spreadsheet would
//! take for a formula neutralised, bad arguments refused.

use loyalty_core::domain::{Language, PartnerTerms, TelegramUserId};
use loyalty_core::ports::*;
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_testkit::requests::{self, T0};
use std::process::Command;
use std::time::Duration;

mod common;
use common::Scratch;

/// Entries the big export streams.
const MILLION: i64 = 1_000_000;

/// A store with two customers (one named like a formula), a partner and a
/// credit; returns its path.
async fn program(dir: &Scratch) -> String {
    let path = dir.dir.join("loyalty.db");
    let store = SqliteStore::open(&path).expect("open");
    let s: &dyn Storage = &store;
    let p = requests::partner(s, 900, PartnerTerms::default()).await;
    let anna = requests::customer(s, 101, 100).await;
    requests::customer(s, 102, 0).await;
    let named = NewCustomer {
        telegram_id: TelegramUserId(103),
        code: loyalty_core::domain::CustomerCode::from_random([1, 2, 3, 4, 5]),
        first_name: "=HYPERLINK(\"http://x\"), \"quoted\"".into(),
        username: None,
        language: Language::Ru,
        referrer: None,
        legacy_referrer: None,
        via_partner: None,
        welcome_bonus: 0,
        referral_bonus: 0,
        now: T0,
    };
    s.register_customer(named).await.expect("register");
    s.credit_purchase(requests::credit_req(&p, &anna, 2_000, "ex-1")).await.expect("credit");
    path.display().to_string()
}

fn loyalty(db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.env_clear().env("LOG_LEVEL", "warn").env("LOYALTY_DB", db).args(args);
    cmd
}

#[tokio::test]
async fn the_data_comes_out_as_csv_and_json_lines() {
    let dir = Scratch::new("export-data");
    let db = program(&dir).await;
    let out_dir = dir.dir.join("csv");
    let out = loyalty(&db, &["export", "data", "--out", out_dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("customers: 3 rows") && said.contains("partners: 1 rows"), "{said}");
    let customers = std::fs::read_to_string(out_dir.join("customers.csv")).unwrap();
    let mut lines = customers.lines();
    assert_eq!(
        lines.next(),
        Some("id,telegram_id,code,first_name,username,language,referrer,balance,tier,blocked,created_at")
    );
    assert!(customers.contains(r#","'=HYPERLINK(""http://x""), ""quoted""","#), "quoted and neutralised: {customers}");
    assert!(customers.contains(",en,,200,0,false,"), "Anna's balance after the credit: {customers}");
    let entries = std::fs::read_to_string(out_dir.join("entries.csv")).unwrap();
    assert_eq!(entries.lines().count(), 1 + 2, "a header, the welcome bonus and the credit: {entries}");
    assert!(entries.contains(",accrual,100,1,2000,partner,1,,,ex-1,0,"), "{entries}");

    let json_dir = dir.dir.join("jsonl");
    let out =
        loyalty(&db, &["export", "data", "--format", "jsonl", "--out", json_dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let partners = std::fs::read_to_string(json_dir.join("partners.jsonl")).unwrap();
    let partner: serde_json::Value = serde_json::from_str(partners.lines().next().unwrap()).unwrap();
    assert_eq!((partner["telegram_id"].as_i64(), partner["status"].as_str()), (Some(900), Some("approved")));
    let customers = std::fs::read_to_string(json_dir.join("customers.jsonl")).unwrap();
    let parsed: Vec<loyalty_core::domain::Customer> =
        customers.lines().map(|l| serde_json::from_str(l).expect("a customer per line")).collect();
    assert_eq!(parsed.iter().map(|c| c.telegram_id.0).collect::<Vec<_>>(), vec![101, 102, 103]);
}

#[tokio::test]
async fn bad_export_arguments_are_refused_and_write_nothing() {
    let dir = Scratch::new("export-bad");
    let db = program(&dir).await;
    let target = dir.dir.join("out");
    for args in [
        vec!["export", "data"],
        vec!["export", "data", "--out", target.to_str().unwrap(), "--format", "xlsx"],
        vec!["export", "data", "--out"],
    ] {
        let out = loyalty(&db, &args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: a usage error");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
    assert!(!target.exists(), "nothing written");
    let missing = dir.dir.join("nowhere.db");
    let out =
        loyalty(missing.to_str().unwrap(), &["export", "data", "--out", target.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such database"));
    assert!(!missing.exists(), "no database created by an export");
}

/// The peak resident size (`VmHWM`, kB) of process `pid`, while it lives.
fn peak_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_entries_stream_out_in_bounded_memory() {
    let dir = Scratch::new("export-million");
    let db = program(&dir).await;
    // A million history rows, written straight into the file (imported history: not in any balance).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO loyalty_entries (rules_version, customer, kind, amount, partner, purchase, idempotency_key, \
         author_type, author_id, reverses, reason, created_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MILLION}) \
         SELECT 0, 1, 'legacy', 10, NULL, NULL, 'import:test:tx:' || i, 'system', NULL, NULL, \
         'a history row with some text, number ' || i, 1700000000 + i FROM n"
    ))
    .unwrap();
    drop(conn);
    let out_dir = dir.dir.join("big");
    let mut child = loyalty(&db, &["export", "data", "--format", "jsonl", "--out", out_dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = peak_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success());
    let said = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert!(said.contains(&format!("entries: {} rows", MILLION + 2)), "{said}");
    let file = std::fs::File::open(out_dir.join("entries.jsonl")).unwrap();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(file)).count() as i64;
    assert_eq!(lines, MILLION + 2);
    // The file is well over 100 MB; the process never held more than a fraction of it.
    let size = std::fs::metadata(out_dir.join("entries.jsonl")).unwrap().len();
    assert!(size > 150_000_000, "{size} bytes");
    assert!(peak > 0 && peak < 96 * 1024, "peak resident size {peak} kB for a {size}-byte export");
}
