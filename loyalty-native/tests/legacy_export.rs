//! `loyalty export legacy`, the rollback: a legacy database in real
//! PostgreSQL (the tables and awkward data of tests/legacy_import.rs) is
//! imported into a store, the program runs on it through the `Storage` port,
//! and the export writes it all back. Then the legacy balances equal ours,
//! the new customer, partners and transactions are there, a second export
//! writes nothing, a dry run writes nothing, a backup file round-trips, and
//! the binary does the same end to end. The round trip runs on SQLite,
//! PostgreSQL and (feature `postgrest`) Supabase's Data API through
//! `postrust`.
//!
//! The server is `LOYALTY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); every test makes its own
//! databases and drops them.

use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::stores::memory::MemoryStore;
use loyalty_native::clock::OsRandom;
use loyalty_native::legacy::export::{self, ExportOptions, ExportOutcome, ExportReport, Target};
use loyalty_native::legacy::{self, NoProgress, Options, Snapshot};
use loyalty_native::store::postgres::PgStore;
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_testkit::services::postgres::Database;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

mod common;
use common::Scratch;
use common::legacy::*;

/// When the program ran here: an hour after the import.
const LATER: Timestamp = Timestamp(NOW.0 + 3600);
/// The admin of the adjustments and decisions.
const ADMIN: TelegramUserId = TelegramUserId(1);
/// The customer who signs up here.
const NEWCOMER: i64 = 555_000_001;

/// Imports `legacy_url` into `store` through the library, as `loyalty import legacy` does.
async fn import(store: &dyn Storage, legacy_url: &str) -> legacy::Report {
    let snapshot = legacy::read_postgres(legacy_url, &mut NoProgress).await.expect("read the legacy database");
    let options = Options { now: NOW, ..Options::default() };
    let report = legacy::import(store, &snapshot, &options, &OsRandom, &mut NoProgress).await.expect("import");
    assert!(report.mismatches.is_empty(), "{report}");
    report
}

fn tg(id: i64) -> CustomerRef {
    CustomerRef::Telegram(TelegramUserId(id))
}

fn at(id: i64) -> PartnerRef {
    PartnerRef::Telegram(TelegramUserId(id))
}

async fn code_of(store: &dyn Storage, id: i64) -> CustomerCode {
    store.customer_summary(tg(id), 0).await.unwrap().expect("the customer").customer.code
}

/// The program at work after the switch: Anna (1001) earns 50 at 7001 and
/// spends 30 at 7002; Fay (1006) earns 10 at 7001; Bob (1002) earns 20 at 7001, which 7001 reverses; the
/// admin takes 100 from Gleb (1008); a newcomer signs up with Anna's link
/// (welcome 100, Anna's referral bonus 50); partner 7201 applies and is
/// approved, 7202 applies, 7004 is suspended.
async fn activity(store: &dyn Storage) {
    let credit = |customer: i64, partner: i64, purchase: Points, key: &str| CreditPurchase {
        partner: at(partner),
        customer: tg(customer),
        purchase,
        idempotency_key: key.into(),
        day_start: LATER.day_start(),
        now: LATER,
    };
    let anna = store.credit_purchase(credit(1001, 7001, 1000, "anna-1")).await.unwrap();
    assert_eq!(anna.entry.amount, 50);
    let open = OpenRedemption {
        partner: at(7002),
        customer: tg(1001),
        points: 30,
        purchase: 200,
        idempotency_key: "anna-redeem".into(),
        now: LATER.plus(60),
        expires_at: LATER.plus(600),
    };
    let request = store.open_redemption(open).await.unwrap().request;
    let confirmed =
        store.confirm_redemption(AnswerRedemption { id: request.id, customer: tg(1001), now: LATER.plus(120) }).await;
    assert_eq!(confirmed.unwrap().entry.map(|e| e.amount), Some(-30));
    // Fay's legacy row is `01006` (a `1006` row follows it).
    store.credit_purchase(credit(1006, 7001, 200, "fay-1")).await.unwrap();
    let bob = store.credit_purchase(credit(1002, 7001, 400, "bob-1")).await.unwrap();
    let reverse = ReverseEntry {
        entry: bob.entry.id,
        partner: at(7001),
        idempotency_key: "bob-undo".into(),
        not_before: NOW.plus(-86_400),
        now: LATER.plus(180),
    };
    store.reverse_entry(reverse).await.unwrap();
    let adjust = AdjustBalance {
        customer: tg(1008),
        amount: -100,
        reason: "double counted".into(),
        admin: ADMIN,
        idempotency_key: "gleb-fix".into(),
        now: LATER.plus(240),
    };
    store.adjust_balance(adjust).await.unwrap();
    let signup = NewCustomer {
        telegram_id: TelegramUserId(NEWCOMER),
        code: CustomerCode::from_random([9, 8, 7, 6, 5]),
        first_name: "Nina".into(),
        username: Some("nina".into()),
        language: Language::Vi,
        referrer: Some(code_of(store, 1001).await),
        legacy_referrer: None,
        via_partner: None,
        welcome_bonus: 100,
        referral_bonus: 50,
        now: LATER.plus(300),
    };
    let registered = store.register_customer(signup).await.unwrap();
    assert!(registered.welcome.is_some() && registered.referral.is_some(), "{registered:?}");
    for (id, name) in [(7201, "New Cafe"), (7202, "Waiting Salon")] {
        let apply = PartnerApplication {
            telegram_id: TelegramUserId(id),
            name: name.into(),
            category: "cafe".into(),
            terms: PartnerTerms::default(),
            language: Language::En,
            now: LATER.plus(360),
        };
        store.apply_partner(apply).await.unwrap();
    }
    for (id, decision) in [(7201, PartnerDecision::Approve), (7004, PartnerDecision::Suspend)] {
        let partner = store.partner(at(id)).await.unwrap().expect("the partner").id;
        store.decide_partner(DecidePartner { partner, decision, admin: ADMIN, now: LATER.plus(420) }).await.unwrap();
    }
}

/// Every customer's balance in `store`, by Telegram id, read through the port.
async fn balances(store: &dyn Storage) -> BTreeMap<i64, Points> {
    let ours = export::read_ours(store, &mut NoProgress).await.unwrap();
    ours.customers.iter().map(|h| (h.customer.telegram_id.0, h.customer.balance)).collect()
}

/// The legacy `users` balances, by chat id as a number (the first row in
/// `chat_id` order, as the import reads them).
async fn legacy_balances(db: &LegacyDb) -> BTreeMap<i64, Option<i64>> {
    let rows = db.db.client().await.query("select chat_id, balance from users order by chat_id", &[]).await.unwrap();
    let mut out = BTreeMap::new();
    for r in rows {
        let id: String = r.get(0);
        let balance: Option<i32> = r.get(1);
        if let Ok(id) = id.trim().parse::<i64>() {
            out.entry(id).or_insert(balance.map(i64::from));
        }
    }
    out
}

/// The exported transactions: (client, partner, operation, earned, spent, total).
type TxRow = (String, Option<String>, String, i32, i32, Option<String>);

async fn exported_transactions(db: &LegacyDb) -> Vec<TxRow> {
    let sql = "select client_chat_id, partner_chat_id, operation_type, earned_points, spent_points, \
               total_amount::text from transactions where description like 'loyalty-rs entry %' order by id";
    let rows = db.db.client().await.query(sql, &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect()
}

async fn count(db: &LegacyDb, sql: &str) -> i64 {
    db.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

async fn export_to(store: &dyn Storage, target: &Target, dry_run: bool) -> ExportReport {
    let options = ExportOptions { dry_run, now: LATER.plus(3600) };
    export::export(store, target, &options, &mut NoProgress).await.expect("the export runs")
}

fn written(report: &ExportReport) -> BTreeMap<String, (usize, usize)> {
    report.tables.iter().map(|t| (t.table.clone(), (t.inserted, t.updated))).collect()
}

/// The whole round trip on `store`: import, activity, dry run, export,
/// checks, a second export, and the legacy database imported again into a
/// fresh store gives our balances.
async fn round_trip(store: &dyn Storage, legacy_db: &LegacyDb, data: &Legacy) {
    import(store, &legacy_db.url()).await;
    activity(store).await;
    let ours = balances(store).await;
    assert_eq!(
        [ours[&1001], ours[&1002], ours[&1006], ours[&1008], ours[&NEWCOMER]],
        [112 + 50 - 30 + 50, 15, 40 + 10, 500 - 100, 100],
        "the activity as planned"
    );
    let target = Target::Postgres(loyalty_core::Secret::new(legacy_db.url()));
    let legacy_txs = data.transactions.len() as i64;

    // A dry run plans against the database and writes nothing.
    let before = legacy_balances(legacy_db).await;
    let dry = export_to(store, &target, true).await;
    assert_eq!(dry.outcome, ExportOutcome::DryRun);
    assert_eq!((dry.legacy_total, dry.mismatches.len()), (None, 0));
    let planned = written(&dry);
    assert_eq!(planned["transactions"], (8, 0), "{dry}");
    assert_eq!(planned["users"].0, 1, "the newcomer: {dry}");
    assert_eq!(legacy_balances(legacy_db).await, before, "a dry run writes nothing");
    assert_eq!(count(legacy_db, "select count(*) from transactions").await, legacy_txs);

    // The export.
    let report = export_to(store, &target, false).await;
    assert_eq!(report.outcome, ExportOutcome::Exported);
    assert!(report.mismatches.is_empty(), "{report}");
    assert_eq!(report.legacy_total, Some(report.ours_total));
    assert_eq!(written(&report), planned, "the dry run planned what the export wrote");
    let text = report.to_string();
    assert!(text.contains("Mismatches: none"), "{text}");

    // Every customer's legacy balance is ours.
    let legacy_now = legacy_balances(legacy_db).await;
    for (id, balance) in &ours {
        assert_eq!(legacy_now.get(id).copied().flatten(), Some(*balance), "customer {id}");
    }
    // Customers the import skipped keep their rows as they were; Fay's
    // second row too (the import reads the first, `01006`).
    assert_eq!(legacy_now[&1007], Some(-50));
    let fay: Vec<(String, Option<i32>)> = legacy_db
        .db
        .client()
        .await
        .query("select chat_id, balance from users where chat_id in ('01006', '1006') order by chat_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(fay, [("01006".to_owned(), Some(50)), ("1006".to_owned(), Some(60))]);
    // The newcomer, with our code for her links and Anna as her referrer.
    let client = legacy_db.db.client().await;
    let newcomer = client
        .query_one(
            "select name, balance, lang_code, referral_code, referred_by_chat_id, reg_date is not null, username \
             from users where chat_id = $1",
            &[&NEWCOMER.to_string()],
        )
        .await
        .unwrap();
    let code: Option<String> = newcomer.get(3);
    assert_eq!(code.as_deref(), Some(code_of(store, NEWCOMER).await.as_str()));
    assert_eq!(
        (newcomer.get::<_, Option<String>>(0), newcomer.get::<_, Option<i32>>(1), newcomer.get::<_, Option<String>>(2)),
        (Some("Nina".into()), Some(100), Some("vi".into()))
    );
    assert_eq!(newcomer.get::<_, Option<String>>(4).as_deref(), Some("1001"));
    assert!(newcomer.get::<_, bool>(5));
    // Dieter's `de` stays: he chose no other language here.
    let dieter: Option<String> =
        client.query_one("select lang_code from users where chat_id = '1004'", &[]).await.unwrap().get(0);
    assert_eq!(dieter.as_deref(), Some("de"));
    // Anna keeps her legacy code.
    let anna: Option<String> =
        client.query_one("select referral_code from users where chat_id = '1001'", &[]).await.unwrap().get(0);
    assert_eq!(anna.as_deref(), Some("ANNA1"));

    // One transaction per entry made here, in the legacy operation types.
    let s = |v: &str| v.to_owned();
    let mut got = exported_transactions(legacy_db).await;
    got.sort();
    let mut expected: Vec<TxRow> = vec![
        (s("1001"), Some(s("7001")), s("accrual"), 50, 0, Some(s("1000"))),
        (s("1001"), Some(s("7002")), s("redemption"), 0, 30, Some(s("200"))),
        (s("1001"), None, s("referral_bonus"), 50, 0, None),
        (s("1002"), Some(s("7001")), s("accrual"), 20, 0, Some(s("400"))),
        (s("01006"), Some(s("7001")), s("accrual"), 10, 0, Some(s("200"))),
        (s("1002"), Some(s("7001")), s("reversal"), 0, 20, None),
        (s("1008"), None, s("adjustment"), 0, 100, None),
        (NEWCOMER.to_string(), None, s("enrollment_bonus"), 100, 0, None),
    ];
    expected.sort();
    assert_eq!(got, expected);
    let reason: String = client
        .query_one("select description from transactions where operation_type = 'adjustment'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(reason.starts_with("loyalty-rs entry ") && reason.ends_with("adjustment: double counted"), "{reason}");

    // Partners: the approved newcomer, the suspended one, the pending application.
    let active = |id: &'static str| {
        let client = &client;
        async move {
            let rows = client.query("select is_active from partners where chat_id = $1", &[&id]).await.unwrap();
            rows.iter().map(|r| r.get::<_, Option<bool>>(0)).collect::<Vec<_>>()
        }
    };
    assert_eq!(active("7201").await, [Some(true)]);
    assert_eq!(active("7004").await, [Some(false)]);
    assert_eq!(active("7001").await, [Some(true)]);
    assert_eq!(active("7202").await, [], "an application is not a partner");
    let status: Vec<String> = client
        .query("select status from partner_applications where chat_id = '7202'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(status, ["Pending"]);

    // Again: nothing written.
    let again = export_to(store, &target, false).await;
    assert!(again.mismatches.is_empty(), "{again}");
    assert_eq!(again.written(), 0, "a second export writes nothing:\n{again}");
    assert_eq!(again.table("transactions").map(|t| t.already), Some(8));
    assert_eq!(count(legacy_db, "select count(*) from transactions").await, legacy_txs + 8);
    assert_eq!(count(legacy_db, "select count(*) from users").await, data.users.len() as i64 + 1);

    // The Python program's data, imported again into a fresh store, has our balances.
    let fresh = MemoryStore::new();
    let reimport = import(&fresh, &legacy_db.url()).await;
    let tx_table = reimport.tables.iter().find(|t| t.table == "transactions").unwrap();
    assert_eq!(tx_table.bad_rows(), 3, "only the legacy data's own bad transactions: {reimport}");
    let theirs = balances(&fresh).await;
    assert_eq!(theirs, ours, "the legacy program holds every point earned here");
    let partners: BTreeMap<i64, PartnerStatus> =
        fresh.list_partners(None).await.unwrap().iter().map(|p| (p.telegram_id.0, p.status)).collect();
    assert_eq!(
        [partners[&7201], partners[&7202], partners[&7004], partners[&7001]],
        [PartnerStatus::Approved, PartnerStatus::Applied, PartnerStatus::Suspended, PartnerStatus::Approved]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_store_goes_back_to_the_legacy_database_and_loses_nothing() {
    let data = Legacy::with_generated(60);
    let legacy_db = LegacyDb::new(FULL_DDL, &data).await;
    let dir = Scratch::new("legacy-export");
    let store = SqliteStore::open(dir.db()).unwrap();
    round_trip(&store, &legacy_db, &data).await;
    legacy_db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_store_goes_back_to_the_legacy_database_and_loses_nothing() {
    let data = Legacy::with_generated(60);
    let legacy_db = LegacyDb::new(FULL_DDL, &data).await;
    let ours = Database::migrated().await;
    let store = PgStore::connect(&ours.url()).await.unwrap();
    round_trip(&store, &legacy_db, &data).await;
    drop(store);
    legacy_db.drop_db().await;
    ours.drop_db().await;
}

#[cfg(feature = "postgrest")]
#[tokio::test(flavor = "multi_thread")]
async fn a_supabase_store_goes_back_to_the_legacy_database_and_loses_nothing() {
    let data = Legacy::with_generated(60);
    let legacy_db = LegacyDb::new(FULL_DDL, &data).await;
    let ours = loyalty_testkit::services::postgres::TestDb::new().await;
    let store = ours.server.store();
    round_trip(&store, &legacy_db, &data).await;
    drop(store);
    legacy_db.drop_db().await;
    ours.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_without_the_later_columns_gets_what_it_has_room_for() {
    let data = Legacy::with_generated(10);
    let legacy_db = LegacyDb::new(README_DDL, &data).await;
    let store = MemoryStore::new();
    import(&store, &legacy_db.url()).await;
    activity(&store).await;
    let target = Target::Postgres(loyalty_core::Secret::new(legacy_db.url()));
    let report = export_to(&store, &target, false).await;
    assert!(report.mismatches.is_empty(), "{report}");
    let ours = balances(&store).await;
    let legacy_now = legacy_balances(&legacy_db).await;
    for (id, balance) in &ours {
        assert_eq!(legacy_now.get(id).copied().flatten(), Some(*balance), "customer {id}");
    }
    // No `is_active` there: the suspension cannot be written, the new partner can.
    assert_eq!(count(&legacy_db, "select count(*) from partners where chat_id = '7201'").await, 1);
    let again = export_to(&store, &target, false).await;
    assert_eq!(again.written(), 0, "{again}");
    legacy_db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_file_round_trips_through_the_import() {
    let data = Legacy::with_generated(30);
    let legacy_db = LegacyDb::new(FULL_DDL, &data).await;
    let store = MemoryStore::new();
    import(&store, &legacy_db.url()).await;
    activity(&store).await;
    let dir = Scratch::new("legacy-export");
    let file = dir.dir.join("back.json");

    let dry = export_to(&store, &Target::Backup(file.clone()), true).await;
    assert_eq!(dry.outcome, ExportOutcome::DryRun);
    assert!(!file.exists(), "a dry run writes no file");
    let report = export_to(&store, &Target::Backup(file.clone()), false).await;
    assert!(report.mismatches.is_empty(), "{report}");
    assert_eq!(report.legacy_total, Some(report.ours_total));

    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for table in ["users", "partners", "partner_applications", "transactions"] {
        let t = &json["tables"][table];
        assert_eq!(t["count"].as_u64(), t["data"].as_array().map(|d| d.len() as u64), "{table}");
    }
    assert_eq!(json["tables"]["transactions"]["count"], 8);
    let snapshot = Snapshot::from_backup_file(&file).expect("the backup reads back");
    let fresh = MemoryStore::new();
    let options = Options { now: NOW, strict: true, ..Options::default() };
    let reimport = legacy::import(&fresh, &snapshot, &options, &OsRandom, &mut NoProgress).await.unwrap();
    assert_eq!(reimport.bad_rows(), 0, "{reimport}");
    assert_eq!(balances(&fresh).await, balances(&store).await);
    let statuses =
        |ps: Vec<Partner>| ps.into_iter().map(|p| (p.telegram_id.0, p.status.as_str())).collect::<BTreeSet<_>>();
    assert_eq!(statuses(fresh.list_partners(None).await.unwrap()), statuses(store.list_partners(None).await.unwrap()));
    // The newcomer's referral code is ours there too.
    let users = snapshot.table("users").unwrap();
    let nina = users.iter().find(|u| u["chat_id"] == json!(NEWCOMER.to_string())).unwrap();
    assert_eq!(nina["referral_code"], json!(code_of(&store, NEWCOMER).await.as_str()));
    legacy_db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_imports_then_exports_back_and_reports_a_mismatch() {
    let data = Legacy::with_generated(20);
    let legacy_db = LegacyDb::new(FULL_DDL, &data).await;
    let legacy_url = legacy_db.url();
    let dir = Scratch::new("legacy-export-cli");
    let db = dir.dir.join("loyalty.db").display().to_string();
    let vars = [("LOYALTY_DB", db.as_str())];

    // Usage and configuration errors, before anything exists.
    let out = run(loyalty(&vars, &["export", "legacy"])).await;
    assert_eq!(out.status.code(), Some(2), "a target is required");
    let out = run(loyalty(&vars, &["export", "legacy", "--to-postgres", &legacy_url])).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no such database"), "{}", text(&out.stderr));
    assert!(!std::path::Path::new(&db).exists(), "an export creates no store");

    let out = run(loyalty(&vars, &["import", "legacy", "--from-postgres", &legacy_url, "--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let store = SqliteStore::open(&db).unwrap();
    activity(&store).await;
    let ours = balances(&store).await;
    drop(store);

    let export = |more: &[&str]| {
        let mut args = vec!["export", "legacy", "--to-postgres", legacy_url.as_str()];
        args.extend_from_slice(more);
        loyalty(&vars, &args)
    };
    let out = run(export(&["--dry-run"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("dry run: nothing written"), "{}", text(&out.stdout));
    assert_ne!(legacy_balances(&legacy_db).await[&1001], Some(ours[&1001]));

    let out = run(export(&["--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(report["outcome"], "exported");
    assert_eq!(report["legacy_total"], report["ours_total"]);
    assert_eq!(report["mismatches"], json!([]));
    assert!(text(&out.stderr).contains("reading customers"), "plain progress lines: {}", text(&out.stderr));
    let legacy_now = legacy_balances(&legacy_db).await;
    for (id, balance) in &ours {
        assert_eq!(legacy_now.get(id).copied().flatten(), Some(*balance), "customer {id}");
    }

    // The legacy database changes a balance as it is written: exit 6, the customer listed.
    let client = legacy_db.db.client().await;
    client
        .batch_execute(
            "create function skew() returns trigger language plpgsql as $$ begin \
               if new.chat_id = '1002' then new.balance := new.balance + 1; end if; return new; end $$; \
             create trigger skew before update on users for each row execute function skew(); \
             update users set balance = 0 where chat_id = '1002';",
        )
        .await
        .unwrap();
    let out = run(export(&[])).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1002: ours 15, legacy 16"), "{}", text(&out.stdout));

    // The same program as a backup file.
    let file = dir.dir.join("export.json").display().to_string();
    let out = run(loyalty(&vars, &["export", "legacy", "--to-backup", &file])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(Snapshot::from_backup_file(std::path::Path::new(&file)).is_ok());
    let help = run(loyalty(&[], &["export", "legacy", "--help"])).await;
    assert!(text(&help.stdout).contains("--to-postgres"), "{}", text(&help.stdout));
    drop(client);
    legacy_db.drop_db().await;
}
