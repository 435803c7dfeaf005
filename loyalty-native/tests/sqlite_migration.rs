//! The upgrade of schema-v1 SQLite files — the tables without the `loyalty_`
//! prefix of the store before it ran the D1 statements — to the current
//! schema version.
//!
//! `tests/fixtures/v1.db` and `v1-empty.db` were written by the schema-v1
//! store (the commit that added them says how); `v1.json` holds what that
//! store answered about `v1.db`: every customer with every entry, the
//! partners, API keys, redemption requests, claims, quotas, broadcasts, the
//! audit log, the program's stats and the rows per table.

use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::program::ProgramRules;
use loyalty_core::stores::d1;
use loyalty_native::store::sqlite::{self, APPLICATION_ID, SCHEMA_VERSION, SqliteStore};
use loyalty_testkit::conformance::{self, Params};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;
use common::Scratch;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// `v1.json`.
#[derive(Debug, Deserialize)]
struct Expected {
    day: Timestamp,
    t0: Timestamp,
    customers: Vec<CustomerSummary>,
    partners: Vec<Partner>,
    api_keys: BTreeMap<String, PartnerId>,
    redemptions: Vec<RedemptionRequest>,
    claims: Vec<Claim>,
    released: Vec<Claim>,
    quotas: Vec<Quota>,
    broadcasts: Vec<BroadcastJob>,
    pending_broadcasts: Vec<BroadcastJob>,
    audit: Vec<String>,
    program_stats: ProgramStats,
    rows: BTreeMap<String, i64>,
}

#[derive(Debug, Deserialize)]
struct Claim {
    update_id: i64,
}

#[derive(Debug, Deserialize)]
struct Quota {
    kind: QuotaKind,
    user: TelegramUserId,
    day: Timestamp,
    used: u32,
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("v1.json")).expect("read v1.json");
    serde_json::from_str(&text).expect("parse v1.json")
}

/// A copy of the fixture `name` in `scratch`.
fn copy(scratch: &Scratch, name: &str) -> PathBuf {
    let path = scratch.db();
    std::fs::copy(Path::new(FIXTURES).join(name), &path).expect("copy the fixture");
    path
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("open")
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn user_version(path: &Path) -> i64 {
    raw(path).pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
}

/// Every object of the schema: type, name, table and SQL.
fn schema(path: &Path) -> Vec<(String, String, String, Option<String>)> {
    let conn = raw(path);
    let mut stmt = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
}

/// Every entry of a customer, newest first, read page by page.
async fn all_entries(store: &SqliteStore, customer: CustomerId) -> Vec<LedgerEntry> {
    let mut all: Vec<LedgerEntry> = Vec::new();
    loop {
        let page =
            store.customer_entries(EntriesPage { customer, limit: 4, before: all.last().map(|e| e.id) }).await.unwrap();
        let done = page.len() < 4;
        all.extend(page);
        if done {
            return all;
        }
    }
}

#[test]
fn the_fixtures_are_schema_v1_files() {
    let scratch = Scratch::new("v1-files");
    for name in ["v1.db", "v1-empty.db"] {
        let path = copy(&scratch, name);
        assert_eq!(user_version(&path), 1, "{name}");
        let app: i32 = raw(&path).pragma_query_value(None, "application_id", |r| r.get(0)).unwrap();
        assert_eq!(app, APPLICATION_ID, "{name}");
        assert!(schema(&path).iter().any(|(t, n, ..)| t == "table" && n == "entries"), "{name}");
    }
}

#[tokio::test]
async fn every_row_of_a_v1_database_survives_the_upgrade() {
    let scratch = Scratch::new("upgrade");
    let want = expected();
    let path = copy(&scratch, "v1.db");
    assert_eq!(sqlite::migrate(&path).unwrap(), SCHEMA_VERSION);
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));

    // The tables of version 1 are gone; their rows are in the `loyalty_` ones.
    let conn = raw(&path);
    for (table, rows) in &want.rows {
        // Claims were per bot kind; schema 3 keeps them per bot id and starts empty.
        let rows = if table == "update_claims" { 0 } else { *rows };
        let table = if table == "update_claims" { "bot_updates" } else { table.as_str() };
        assert_eq!(count(&conn, &format!("SELECT count(*) FROM loyalty_{table}")), rows, "{table}");
        let left = format!("SELECT count(*) FROM sqlite_schema WHERE name = '{table}'");
        assert_eq!(count(&conn, &left), 0, "{table} still exists");
    }
    assert_eq!(count(&conn, "SELECT count(*) FROM loyalty_op"), 0);
    let unbalanced = "SELECT count(*) FROM loyalty_customers c \
                      WHERE balance <> (SELECT coalesce(sum(amount), 0) FROM loyalty_entries WHERE customer = c.id)";
    assert_eq!(count(&conn, unbalanced), 0, "a balance is not the sum of its entries");
    assert!(conn.prepare("PRAGMA foreign_key_check").unwrap().query([]).unwrap().next().unwrap().is_none());
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    drop(conn);
    // The same schema as a database created by this build.
    let fresh = scratch.store().await.unwrap();
    assert_eq!(schema(&path), schema(fresh.path()));

    // The store answers what the v1 store answered.
    let store = SqliteStore::open(&path).unwrap();
    for summary in &want.customers {
        let id = summary.customer.id;
        let got = store.customer_summary(CustomerRef::Id(id), 1_000).await.unwrap();
        assert_eq!(got.as_ref(), Some(summary), "customer {id}");
        assert_eq!(all_entries(&store, id).await, summary.recent, "entries of customer {id}");
        let sum: Points = summary.recent.iter().map(|e| e.amount).sum();
        assert_eq!(summary.customer.balance, sum, "balance of customer {id}");
    }
    assert!(want.customers.iter().map(|c| c.recent.len()).sum::<usize>() == want.rows["entries"] as usize);
    assert_eq!(store.list_partners(None).await.unwrap(), want.partners);
    for (hash, id) in &want.api_keys {
        assert_eq!(store.partner_by_api_key(hash).await.unwrap().map(|p| p.id), Some(*id), "API key of {id}");
    }
    let page = AuditPage { before: None, limit: MAX_AUDIT_PAGE };
    let audit: Vec<String> = store.audit_log(page).await.unwrap().iter().rev().map(|r| format!("{r:?}")).collect();
    assert_eq!(audit, want.audit);
    assert_eq!(store.pending_broadcasts().await.unwrap(), want.pending_broadcasts);
    assert_eq!(store.program_stats(want.day).await.unwrap(), want.program_stats);
    assert_eq!(store.expire_redemptions(want.t0).await.unwrap(), [], "nothing was due at the time of the fixture");
}

/// A version-2 database (claims per bot kind, in `loyalty_update_claims`; no
/// import kinds in the ledger) upgrades to the schema of a fresh one, keeping
/// its ledger.
#[tokio::test]
async fn a_v2_database_keeps_its_rows_and_claims_per_bot_id() {
    let scratch = Scratch::new("v2");
    let store = scratch.store().await.unwrap();
    let path = store.path().to_path_buf();
    let fresh_schema = schema(&path);
    let customer = store
        .register_customer(NewCustomer {
            telegram_id: TelegramUserId(5),
            code: CustomerCode::parse("ABCD2345").unwrap(),
            first_name: "Ann".into(),
            username: None,
            language: Language::En,
            referrer: None,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 50,
            referral_bonus: 0,
            now: Timestamp(1_700_000_000),
        })
        .await
        .unwrap()
        .customer;
    drop(store);
    let conn = raw(&path);
    // Version 2's ledger: no import kinds, a trigger counting every entry.
    let entries = d1::SCHEMA.iter().find(|s| s.starts_with("CREATE TABLE IF NOT EXISTS loyalty_entries (")).unwrap();
    let v2_entries = entries
        .replace(
            ",\n                    'reversal', 'adjustment', 'import', 'legacy', 'expiry')",
            ", 'reversal', 'adjustment')",
        )
        .replace("CHECK (kind = 'legacy' OR (kind IN", "CHECK ((kind IN")
        .replace("    rules_version   INTEGER NOT NULL DEFAULT 0 CHECK (rules_version >= 0),\n", "");
    assert!(!v2_entries.contains("rules_version") && !v2_entries.contains("expiry"), "{v2_entries}");
    let columns = "id, customer, kind, amount, partner, purchase, idempotency_key, author_type, author_id, reverses, \
                   reason, created_at";
    // Nor the rules and the lots (version 5).
    conn.execute_batch(&format!(
        "DROP TABLE loyalty_lot_uses; DROP TABLE loyalty_lots; DROP TABLE loyalty_rules;
         CREATE TABLE copy AS SELECT * FROM loyalty_entries; DROP TABLE loyalty_entries; {v2_entries};
         INSERT INTO loyalty_entries ({columns}) SELECT {columns} FROM copy; DROP TABLE copy;
         CREATE TRIGGER loyalty_entries_apply AFTER INSERT ON loyalty_entries BEGIN
             UPDATE loyalty_customers SET balance = balance + NEW.amount WHERE id = NEW.customer;
         END;"
    ))
    .unwrap();
    conn.execute_batch(
        "DROP TABLE loyalty_bot_updates;
         CREATE TABLE loyalty_update_claims (
             bot TEXT NOT NULL CHECK (bot IN ('client', 'partner', 'admin', 'alerts')),
             update_id INTEGER NOT NULL, claimed_at INTEGER NOT NULL, PRIMARY KEY (bot, update_id)
         ) STRICT, WITHOUT ROWID;
         CREATE INDEX loyalty_update_claims_by_time ON loyalty_update_claims (claimed_at);
         INSERT INTO loyalty_update_claims VALUES ('client', 1, 1);
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);

    assert_eq!(sqlite::migrate(&path).unwrap(), SCHEMA_VERSION);
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));
    assert_eq!(schema(&path), fresh_schema);
    let store = SqliteStore::open(&path).unwrap();
    let summary = store.customer_summary(CustomerRef::Id(customer.id), 5).await.unwrap().unwrap();
    assert_eq!(summary.customer.balance, 50);
    assert_eq!(summary.recent[0].rules_version, 0);
    // The points held before the upgrade are an opening lot that never expires.
    let rules = ProgramRules::from_json(r#"{"expiry": {"days": 1}}"#).unwrap();
    let now = Timestamp(1_700_000_000);
    store.set_program_rules(SetProgramRules { rules, admin: None, now }).await.unwrap();
    assert_eq!(store.expire_points(ExpirePoints { now: now.plus(365 * 86_400), limit: 10 }).await.unwrap(), vec![]);
    assert_eq!(store.customer_summary(CustomerRef::Id(customer.id), 5).await.unwrap().unwrap().expiring, vec![]);
    let claim = UpdateClaim {
        bot: BotId(8_000_000_001),
        update_id: 1,
        now: Timestamp(1_700_000_001),
        body: None,
        finished: Vec::new(),
    };
    assert!(store.claim_update(claim.clone()).await.unwrap());
    assert!(store.claim_update(UpdateClaim { bot: BotId(8_000_000_002), ..claim.clone() }).await.unwrap());
    assert!(!store.claim_update(claim.clone()).await.unwrap());
    // The entries take the import kinds now; the history does not count.
    let legacy = ImportedEntry {
        source_id: "1".into(),
        partner: None,
        amount: 70,
        purchase: None,
        note: None,
        at: Timestamp(1_600_000_000),
    };
    let imported = ImportedCustomer {
        telegram_id: TelegramUserId(6),
        code: CustomerCode::parse("ABCD2346").unwrap(),
        first_name: "Bo".into(),
        username: None,
        language: Language::Ru,
        created_at: Timestamp(1_600_000_000),
        balance: 30,
        referrer: Some(TelegramUserId(5)),
        referral_code: None,
        birthday: None,
        history: vec![legacy],
    };
    let batch = ImportBatch { source: "legacy".into(), partners: vec![], customers: vec![imported], now: claim.now };
    let applied = store.import_batch(batch).await.unwrap();
    assert_eq!((applied.customers_created, applied.history_created), (1, 1));
    let bo = store.customer_summary(CustomerRef::Telegram(TelegramUserId(6)), 5).await.unwrap().unwrap();
    assert_eq!((bo.customer.balance, bo.customer.referrer, bo.recent.len()), (30, Some(customer.id), 2));
}

#[tokio::test]
async fn the_pending_work_of_a_v1_database_carries_on() {
    let scratch = Scratch::new("carry-on");
    let want = expected();
    let store = SqliteStore::open(copy(&scratch, "v1.db")).unwrap();

    // Claims were kept per bot kind and are not carried over (schema 3 keeps
    // them per bot id, which the file does not know): every update is free.
    assert!(!want.claims.is_empty() && !want.released.is_empty());
    for (n, c) in want.claims.iter().chain(&want.released).enumerate() {
        let claim = UpdateClaim {
            bot: BotId(8_000_000_000 + n as i64),
            update_id: c.update_id,
            now: want.t0,
            body: None,
            finished: Vec::new(),
        };
        assert!(store.claim_update(claim.clone()).await.unwrap(), "{c:?}");
        assert!(!store.claim_update(claim).await.unwrap(), "{c:?} claimed twice");
    }
    // Quotas keep what was used.
    for q in &want.quotas {
        assert!(
            !store.consume_quota(ConsumeQuota { kind: q.kind, user: q.user, day: q.day, limit: q.used }).await.unwrap(),
            "{q:?} forgotten"
        );
        assert!(
            store
                .consume_quota(ConsumeQuota { kind: q.kind, user: q.user, day: q.day, limit: q.used + 1 })
                .await
                .unwrap(),
            "{q:?}"
        );
    }

    // The open redemption request can be confirmed; the answered ones stay answered.
    let (open, answered): (Vec<_>, Vec<_>) =
        want.redemptions.iter().partition(|r| r.status == RedemptionStatus::Pending);
    assert_eq!(open.len(), 1);
    let request = open[0];
    let before = store.customer_summary(CustomerRef::Id(request.customer), 0).await.unwrap().unwrap();
    let answer = |r: &RedemptionRequest| AnswerRedemption {
        id: r.id,
        customer: CustomerRef::Id(r.customer),
        now: r.created_at.plus(60),
    };
    let confirmed = store.confirm_redemption(answer(request)).await.unwrap();
    assert!(!confirmed.replayed);
    assert_eq!(confirmed.request.status, RedemptionStatus::Confirmed);
    assert_eq!(confirmed.customer.balance, before.customer.balance - request.points);
    for r in answered {
        match (r.status, store.confirm_redemption(answer(r)).await) {
            (RedemptionStatus::Confirmed, Ok(view)) => assert!(view.replayed && view.request == *r, "{view:?}"),
            (status, got) => {
                assert_eq!(got, Err(StoreError::Rejected(Rejection::RedemptionClosed { status })), "{r:?}")
            }
        }
    }

    // Broadcasts go on from their cursor; a delivered one stays delivered.
    for job in want.broadcasts.iter().filter(|j| j.done) {
        let batch = store.claim_broadcast_batch(job.id, 10).await.unwrap();
        assert_eq!((&batch.job, batch.recipients.len()), (job, 0));
    }
    let halfway = &want.pending_broadcasts[0];
    let batch = store.claim_broadcast_batch(halfway.id, 10).await.unwrap();
    let partners: Vec<TelegramUserId> = want
        .partners
        .iter()
        .filter(|p| p.status == PartnerStatus::Approved && p.id.0 > halfway.cursor)
        .map(|p| p.telegram_id)
        .collect();
    assert_eq!(batch.recipients.iter().map(|r| r.chat_id).collect::<Vec<_>>(), partners);
    assert!(batch.job.done);
    let fresh = &want.pending_broadcasts[1];
    let batch = store.claim_broadcast_batch(fresh.id, 100).await.unwrap();
    assert_eq!(batch.recipients.len() as u32, fresh.total);

    // Idempotency keys and reversals are remembered.
    let first = &want.customers[0];
    let accrual = first.recent.iter().find(|e| e.kind == EntryKind::Accrual).unwrap();
    let replay = store
        .credit_purchase(CreditPurchase {
            partner: PartnerRef::Id(accrual.partner.unwrap()),
            customer: CustomerRef::Id(accrual.customer),
            purchase: accrual.purchase.unwrap(),
            idempotency_key: accrual.idempotency_key.clone(),
            day_start: want.day,
            now: want.t0,
        })
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(&replay.entry, accrual);
    let reversal = want.customers.iter().flat_map(|c| &c.recent).find(|e| e.kind == EntryKind::Reversal).unwrap();
    let again = ReverseEntry {
        entry: reversal.reverses.unwrap(),
        partner: PartnerRef::Id(reversal.partner.unwrap()),
        idempotency_key: "reverse-again".into(),
        not_before: want.t0.plus(-rules::REVERSAL_WINDOW_SECS),
        now: want.t0.plus(3_600),
    };
    assert_eq!(store.reverse_entry(again).await, Err(StoreError::Rejected(Rejection::AlreadyReversed)));

    // New rows take ids after the old ones.
    let last_customer = want.customers.iter().map(|c| c.customer.id).max().unwrap();
    let last_entry = want.customers.iter().flat_map(|c| &c.recent).map(|e| e.id).max().unwrap();
    let reg = store
        .register_customer(NewCustomer {
            telegram_id: TelegramUserId(7_999),
            code: CustomerCode::from_random([99, 0, 0, 0, 7]),
            first_name: "New".into(),
            username: None,
            language: Language::En,
            referrer: Some(first.customer.code.clone()),
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 100,
            referral_bonus: 50,
            now: want.t0,
        })
        .await
        .unwrap();
    assert_eq!(reg.customer.id.0, last_customer.0 + 1);
    assert_eq!(reg.welcome.unwrap().id.0, last_entry.0 + 2, "after the confirmation's entry");
    for c in &want.customers {
        let balance =
            store.customer_summary(CustomerRef::Id(c.customer.id), 0).await.unwrap().unwrap().customer.balance;
        let sum: Points = all_entries(&store, c.customer.id).await.iter().map(|e| e.amount).sum();
        assert_eq!(balance, sum, "customer {}", c.customer.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upgraded_v1_database_passes_the_conformance_suite() {
    let scratch = Scratch::new("conformance");
    let report = conformance::run_all(
        || {
            let path = copy(&scratch, "v1-empty.db");
            async move { SqliteStore::open(path).map_err(|e| e.to_string()) }
        },
        &Params::default(),
    )
    .await;
    assert!(report.results.len() >= 30, "suspiciously few checks: {report}");
    report.assert_success();
}

#[tokio::test]
async fn a_v1_database_whose_balances_disagree_with_its_ledger_is_left_alone() {
    let scratch = Scratch::new("disagree");
    let path = copy(&scratch, "v1.db");
    raw(&path).execute_batch("UPDATE customers SET balance = balance + 1 WHERE id = 2").unwrap();
    let before = schema(&path);
    let e = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(&e, StoreError::Backend(m) if m.contains("balances differ")), "{e:?}");
    assert!(!e.is_temporary());
    assert_eq!(user_version(&path), 1);
    assert_eq!(schema(&path), before, "the failed upgrade changed the file");
    assert_eq!(
        count(&raw(&path), "SELECT sum(balance) FROM customers"),
        expected().program_stats.points_outstanding + 1
    );
}

#[tokio::test]
async fn an_api_key_shared_in_v1_stays_with_the_partner_its_lookup_found() {
    let scratch = Scratch::new("shared-key");
    let want = expected();
    let path = copy(&scratch, "v1.db");
    let (hash, first) = want.api_keys.iter().min_by_key(|(_, id)| **id).unwrap();
    let other = want.partners.iter().map(|p| p.id).filter(|id| id != first).max().unwrap();
    raw(&path).execute("UPDATE partners SET api_key_sha256 = ?1 WHERE id = ?2", (hash, other.0)).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.partner_by_api_key(hash).await.unwrap().map(|p| p.id), Some(*first));
    assert!(!store.partner(PartnerRef::Id(other)).await.unwrap().unwrap().has_api_key);
    assert_eq!(store.list_partners(None).await.unwrap().len(), want.partners.len());
}
