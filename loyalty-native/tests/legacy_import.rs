//! `loyalty import legacy` against a legacy database in real PostgreSQL: the
//! Python program's tables (its README's DDL plus the columns later
//! migrations added), filled with generated customers and every awkward case
//! the real data has, imported into a `MemoryStore` through the library API;
//! the same data as a backup file and over the Data API (`postrust` behind a
//! `/rest/v1` prefix); and through the binary, into SQLite and PostgreSQL.
//!
//! The server is `LOYALTY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); every test makes its own
//! legacy database and drops it.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::stores::memory::MemoryStore;
use loyalty_native::clock::OsRandom;
use loyalty_native::legacy::{self, LegacyError, MismatchReason, NoProgress, Options, Outcome, Report, Snapshot};
use loyalty_testkit::services::postgres::{Database, template};
use loyalty_testkit::services::postrust::{Postrust, service_key};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

mod common;
use common::Scratch;
use common::legacy::*;

fn options() -> Options {
    Options { now: NOW, ..Options::default() }
}

async fn import(store: &MemoryStore, snapshot: &Snapshot, options: &Options) -> Report {
    legacy::import(store, snapshot, options, &OsRandom, &mut NoProgress).await.expect("the import runs")
}

/// The store's content without its random codes, by Telegram id.
async fn dump(store: &MemoryStore) -> Value {
    let customers = store.customers().unwrap();
    let tg: HashMap<CustomerId, i64> = customers.iter().map(|c| (c.id, c.telegram_id.0)).collect();
    let partners = store.list_partners(None).await.unwrap();
    let ptg: HashMap<PartnerId, i64> = partners.iter().map(|p| (p.id, p.telegram_id.0)).collect();
    let mut cs: Vec<Value> = customers
        .iter()
        .map(|c| {
            json!([
                c.telegram_id.0,
                c.first_name,
                c.username,
                c.language,
                c.referrer.map(|r| tg[&r]),
                c.balance,
                c.created_at.0
            ])
        })
        .collect();
    cs.sort_by_key(|c| c[0].as_i64());
    let mut es: Vec<Value> = store
        .entries()
        .unwrap()
        .iter()
        .map(|e| {
            json!([
                tg[&e.customer],
                e.kind,
                e.amount,
                e.partner.map(|p| ptg[&p]),
                e.purchase,
                e.idempotency_key,
                e.reason,
                e.created_at.0
            ])
        })
        .collect();
    es.sort_by(|a, b| a[5].as_str().cmp(&b[5].as_str()));
    let mut ps: Vec<Value> = partners
        .iter()
        .map(|p| json!([p.telegram_id.0, p.name, p.category, p.status, p.language, p.created_at.0]))
        .collect();
    ps.sort_by_key(|p| p[0].as_i64());
    json!({"customers": cs, "entries": es, "partners": ps})
}

fn customer(store: &MemoryStore, chat_id: i64) -> Option<Customer> {
    store.customers().unwrap().into_iter().find(|c| c.telegram_id.0 == chat_id)
}

fn entries_of(store: &MemoryStore, chat_id: i64) -> Vec<LedgerEntry> {
    let c = customer(store, chat_id).expect("the customer");
    store.entries().unwrap().into_iter().filter(|e| e.customer == c.id).collect()
}

fn table<'r>(report: &'r Report, name: &str) -> &'r legacy::TableReport {
    report.tables.iter().find(|t| t.table == name).unwrap()
}

fn reasons(report: &Report, name: &str) -> Vec<String> {
    table(report, name).skipped.iter().map(|n| format!("{}: {}", n.row, n.reason)).collect()
}

/// A legacy entry as the checks compare it: amount, partner, purchase, note, key.
type HistoryRow<'a> = (Points, Option<PartnerId>, Option<Points>, Option<&'a str>, &'a str);

/// What every source of [`Legacy::generate`]'s data must import.
async fn check_first_import(store: &MemoryStore, report: &Report, data: &Legacy) {
    assert_eq!(report.outcome, Outcome::Imported);
    // Users: 11 hand-made rows + the generated; 3 bad (abc_user, duplicate 1006, negative 1007).
    let users = table(report, "users");
    assert_eq!((users.read, users.imported, users.skipped.len()), (data.users.len(), data.users.len() - 3, 3));
    let skipped = reasons(report, "users").join("\n");
    assert!(skipped.contains("chat id \"abc_user\" is not a positive number"), "{skipped}");
    assert!(skipped.contains("duplicate chat id 1006 (row 1 kept)"), "{skipped}");
    assert!(skipped.contains("negative balance -50"), "{skipped}");
    assert!(users.skipped.iter().all(|n| n.bad));
    let warnings: Vec<&str> = users.warnings.iter().map(|n| n.reason.as_str()).collect();
    assert_eq!(warnings, ["referral_source ref_NOSUCH: no customer has that code"]);

    let partners = table(report, "partners");
    assert_eq!((partners.read, partners.imported), (6, 5));
    assert_eq!(reasons(report, "partners"), ["6: chat id \"partner_nail_001\" is not a positive number"]);
    let apps = table(report, "partner_applications");
    assert_eq!((apps.read, apps.imported, apps.bad_rows()), (4, 3, 0));
    assert_eq!(reasons(report, "partner_applications"), ["1: already in partners (row 1): imported from there"]);
    let services = table(report, "services");
    assert_eq!((services.read, services.imported, services.bad_rows()), (2, 0, 0));
    assert!(services.skipped.iter().all(|n| n.reason == "no rewards catalogue yet"));
    let txs = table(report, "transactions");
    assert_eq!(txs.imported + txs.skipped.len(), data.transactions.len());
    assert_eq!(
        reasons(report, "transactions"),
        [
            "8: names an unknown customer \"VIA_PARTNER_79834276355\"",
            "9: names an unknown partner \"partner_nail_001\"",
            "10: names customer \"1007\", whose users row 8 is skipped",
        ]
    );
    assert_eq!(report.bad_rows(), 3 + 1 + 3);

    // Balances: every imported customer's is the legacy one.
    let legacy_total: i64 = data
        .users
        .iter()
        .filter(|u| !["abc_user", "1006", "1007"].contains(&u["chat_id"].as_str().unwrap()))
        .map(|u| u["balance"].as_i64().unwrap())
        .sum();
    assert_eq!(report.legacy_total, legacy_total);
    assert_eq!(report.ours_total, Some(legacy_total));
    assert_eq!(report.skipped_total, 10 + 60);
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(
        report.inconsistent,
        [legacy::Inconsistency {
            telegram_id: TelegramUserId(1008),
            balance: 500,
            transactions_sum: 300,
            transactions: 1
        }]
    );
    let applied = report.applied.unwrap();
    assert_eq!(applied.partners_created, 8);
    assert_eq!(applied.customers_created as usize, users.imported);
    assert_eq!(applied.history_created as usize, txs.imported);
    assert_eq!(report.plan.batches, 3);

    // Customers.
    assert_eq!(store.customers().unwrap().len(), users.imported);
    let anna = customer(store, 1001).unwrap();
    assert_eq!((anna.first_name.as_str(), anna.language, anna.balance), ("Anna", Language::Ru, 112));
    assert_eq!(anna.created_at, legacy::parse_timestamp("2025-10-20T22:34:13").unwrap());
    let last_generated = customer(store, FIRST_GENERATED + GENERATED - 1).unwrap();
    assert_eq!(anna.referrer, Some(last_generated.id), "a referrer from a later batch");
    let bob = customer(store, 1002).unwrap();
    assert_eq!((bob.referrer, bob.language, bob.username.as_deref()), (Some(anna.id), Language::En, Some("bob")));
    let chau = customer(store, 1003).unwrap();
    assert_eq!((chau.referrer, chau.language), (Some(anna.id), Language::Vi));
    let dieter = customer(store, 1004).unwrap();
    assert_eq!((dieter.referrer, dieter.language), (None, Language::En));
    let nameless = customer(store, 1005).unwrap();
    assert_eq!((nameless.first_name.as_str(), nameless.language, nameless.created_at), ("Customer", Language::En, NOW));
    let fay = customer(store, 1006).unwrap();
    assert_eq!((fay.first_name.as_str(), fay.balance), ("Fay (old)", 40));
    assert!(customer(store, 1007).is_none());
    assert_eq!(customer(store, 1008).unwrap().balance, 500);
    for (i, lang) in [Language::Ru, Language::En, Language::Vi, Language::En, Language::En].into_iter().enumerate() {
        assert_eq!(customer(store, FIRST_GENERATED + i as i64).unwrap().language, lang);
    }
    let tenth = customer(store, FIRST_GENERATED + 9).unwrap();
    assert_eq!(tenth.referrer, Some(customer(store, FIRST_GENERATED + 8).unwrap().id));

    // History: Anna's three transactions as legacy entries, plus her opening balance.
    let partners = store.list_partners(None).await.unwrap();
    let partner = |tg: i64| partners.iter().find(|p| p.telegram_id.0 == tg).unwrap();
    let entries = entries_of(store, 1001);
    let opening: Vec<&LedgerEntry> = entries.iter().filter(|e| e.kind == EntryKind::Import).collect();
    assert_eq!(opening.len(), 1);
    assert_eq!(
        (opening[0].amount, opening[0].idempotency_key.as_str(), opening[0].created_at),
        (112, "import:legacy:1001", NOW)
    );
    let history: Vec<HistoryRow<'_>> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Legacy)
        .map(|e| (e.amount, e.partner, e.purchase, e.reason.as_deref(), e.idempotency_key.as_str()))
        .collect();
    assert_eq!(
        history,
        [
            (80, None, Some(0), Some("enrollment_bonus: enrollment_bonus #1"), "import:legacy:tx:1"),
            (62, Some(partner(7001).id), Some(1235), Some("accrual: accrual #2"), "import:legacy:tx:2"),
            (-30, Some(partner(7002).id), Some(100), Some("redemption: redemption #3"), "import:legacy:tx:3"),
        ]
    );
    let bob_history: Vec<Option<PartnerId>> =
        entries_of(store, 1002).iter().filter(|e| e.kind == EntryKind::Legacy).map(|e| e.partner).collect();
    assert_eq!(bob_history, [Some(partner(7102).id), None]);

    // Partners.
    let p = partner(7001);
    assert_eq!((p.name.as_str(), p.category.as_str(), p.status), ("Nail Studio", "nail_care", PartnerStatus::Approved));
    assert_eq!(p.created_at, legacy::parse_timestamp("2025-11-07T09:23:55Z").unwrap());
    assert_eq!(p.terms, PartnerTerms::default());
    let hair = partner(7002);
    assert_eq!((hair.name.as_str(), hair.category.as_str()), ("Hair", "other"));
    assert_eq!(partner(7003).status, PartnerStatus::Suspended);
    assert_eq!((partner(7101).status, partner(7101).category.as_str()), (PartnerStatus::Applied, "yoga"));
    assert_eq!((partner(7102).status, partner(7102).name.as_str()), (PartnerStatus::Approved, "Approved Al"));
    assert_eq!(partner(7103).status, PartnerStatus::Rejected);
    assert_eq!(partners.len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_database_imports_the_same_as_its_backup_and_twice_changes_nothing() {
    let data = Legacy::generate();
    let db = LegacyDb::new(FULL_DDL, &data).await;
    let snapshot = legacy::read_postgres(&db.url(), &mut NoProgress).await.expect("read the legacy database");
    let store = MemoryStore::new();
    let report = import(&store, &snapshot, &options()).await;
    check_first_import(&store, &report, &data).await;
    let text = report.to_string();
    for needle in ["users", "Bad rows, skipped (7)", "no rewards catalogue yet (rows 1–2)", "Mismatches: none", "1008"]
    {
        assert!(text.contains(needle), "the text report shows {needle:?}:\n{text}");
    }

    // The same data as a backup file: the same store, the same report.
    let backup = Snapshot::from_backup_json(&data.backup_json(), "the backup").unwrap();
    let from_backup = MemoryStore::new();
    let backup_report = import(&from_backup, &backup, &options()).await;
    assert_eq!(dump(&from_backup).await, dump(&store).await);
    assert_eq!(backup_report, report);

    // Again: nothing changes.
    let before = dump(&store).await;
    let again = import(&store, &snapshot, &Options { now: NOW.plus(3600), ..options() }).await;
    assert_eq!(again.applied, Some(legacy::AppliedSummary::default()));
    assert!(again.mismatches.is_empty());
    assert_eq!(again.ours_total, report.ours_total);
    assert_eq!(dump(&store).await, before);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_later_run_brings_only_what_changed_and_reports_what_it_cannot() {
    let mut data = Legacy::generate();
    let db = LegacyDb::new(FULL_DDL, &data).await;
    let store = MemoryStore::new();
    // Someone who signed up in our bots before the import, and is in the legacy data too.
    let ours_first = FIRST_GENERATED + 5;
    let code = CustomerCode::from_random([1, 2, 3, 4, 5]);
    let signup = NewCustomer {
        telegram_id: TelegramUserId(ours_first),
        code,
        first_name: "Signed up here".into(),
        username: None,
        language: Language::En,
        referrer: None,
        legacy_referrer: None,
        via_partner: None,
        welcome_bonus: 0,
        referral_bonus: 0,
        now: NOW,
    };
    store.register_customer(signup).await.unwrap();
    let snapshot = legacy::read_postgres(&db.url(), &mut NoProgress).await.unwrap();
    let first = import(&store, &snapshot, &options()).await;
    let ours_first_id = ours_first.to_string();
    let legacy_balance = data.users.iter().find(|u| u["chat_id"] == ours_first_id).unwrap()["balance"].clone();
    let expected = legacy::Mismatch {
        telegram_id: TelegramUserId(ours_first),
        legacy: legacy_balance.as_i64().unwrap(),
        ours: 0,
        reason: MismatchReason::NotImported,
    };
    if expected.legacy == 0 {
        assert!(first.mismatches.is_empty());
    } else {
        assert_eq!(first.mismatches, [expected]);
    }
    assert_eq!(customer(&store, ours_first).unwrap().first_name, "Signed up here");

    // Hana (1009) has 5, then 150 in the legacy program; she spends 100 of it here; then the legacy program takes 120 from her.
    // Meanwhile: a new customer, Anna's balance up (with a new transaction), Gleb's down.
    data.user_mut("1009")["balance"] = json!(150);
    db.fill(&data).await;
    let snapshot = legacy::read_postgres(&db.url(), &mut NoProgress).await.unwrap();
    let second = import(&store, &snapshot, &options()).await;
    assert_eq!(second.applied.unwrap().balances_changed, 1);
    let adjust = AdjustBalance {
        customer: CustomerRef::Telegram(TelegramUserId(1009)),
        amount: -100,
        reason: "spent here".into(),
        admin: TelegramUserId(1),
        idempotency_key: "test-spend".into(),
        now: NOW,
    };
    store.adjust_balance(adjust).await.unwrap();

    data.user_mut("1009")["balance"] = json!(30);
    data.user_mut("1001")["balance"] = json!(112 + 25);
    data.user_mut("1008")["balance"] = json!(450);
    data.users.push(json!({"chat_id": "1010", "name": "Newcomer", "balance": 70, "lang_code": "vi",
                           "reg_date": "2025-11-20T10:00:00", "referred_by_chat_id": "1001"}));
    let next = data.transactions.len() as i64 + 1;
    data.transactions.push(tx(next, "1001", json!("7004"), "2025-11-20T09:00:00", json!(500), (25, 0), "accrual"));
    data.transactions.push(tx(next + 1, "1010", json!("7001"), "2025-11-20T10:00:00", json!(1400), (70, 0), "accrual"));
    db.fill(&data).await;
    let before = store.entries().unwrap().len();
    let snapshot = legacy::read_postgres(&db.url(), &mut NoProgress).await.unwrap();
    let third = import(&store, &snapshot, &Options { now: NOW.plus(86_400), ..options() }).await;
    let applied = third.applied.unwrap();
    assert_eq!((applied.customers_created, applied.balances_changed, applied.history_created), (1, 2, 2));
    assert_eq!(applied.partners_created, 0);
    // New entries: the newcomer's opening balance, two changes, two history entries.
    assert_eq!(store.entries().unwrap().len(), before + 5);
    let anna = entries_of(&store, 1001);
    let change = anna.iter().find(|e| e.idempotency_key == "import:legacy:1001:1").expect("Anna's change");
    assert_eq!((change.kind, change.amount, change.created_at), (EntryKind::Import, 25, NOW.plus(86_400)));
    assert_eq!(customer(&store, 1001).unwrap().balance, 137);
    assert_eq!(customer(&store, 1008).unwrap().balance, 450);
    let newcomer = customer(&store, 1010).unwrap();
    assert_eq!((newcomer.balance, newcomer.language), (70, Language::Vi));
    assert_eq!(newcomer.referrer, Some(customer(&store, 1001).unwrap().id));
    // Hana: the legacy −120 would take her 50 below zero: refused, reported.
    assert_eq!(customer(&store, 1009).unwrap().balance, 50);
    let hana = third.mismatches.iter().find(|m| m.telegram_id.0 == 1009).expect("Hana's mismatch");
    assert_eq!((hana.legacy, hana.ours, hana.reason), (30, 50, MismatchReason::Refused { change: -120 }));
    assert!(third.to_string().contains("would make ours negative: refused"), "{third}");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_without_the_later_columns_imports_with_defaults() {
    let data = Legacy::generate();
    let db = LegacyDb::new(README_DDL, &data).await;
    let snapshot = legacy::read_postgres(&db.url(), &mut NoProgress).await.unwrap();
    assert!(!snapshot.table("users").unwrap()[0].contains_key("lang_code"));
    let store = MemoryStore::new();
    let report = import(&store, &snapshot, &options()).await;
    assert!(report.mismatches.is_empty());
    assert_eq!(report.ours_total, Some(report.legacy_total));
    assert_eq!(table(&report, "users").imported, data.users.len() - 3);
    let anna = customer(&store, 1001).unwrap();
    assert_eq!((anna.language, anna.referrer), (Language::En, None));
    // `ref_<code>` links cannot be followed without the codes.
    assert!(table(&report, "users").warnings.iter().any(|w| w.reason.contains("ref_ANNA1: no customer has that code")));
    let partners = store.list_partners(None).await.unwrap();
    let nail = partners.iter().find(|p| p.telegram_id.0 == 7001).unwrap();
    assert_eq!((nail.status, nail.category.as_str(), nail.created_at), (PartnerStatus::Approved, "other", NOW));
    assert_eq!(partners.iter().find(|p| p.telegram_id.0 == 7003).unwrap().status, PartnerStatus::Approved);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_refuses_bad_rows_before_writing_and_broken_json_fails_cleanly() {
    let data = Legacy::generate();
    let snapshot = Snapshot::from_backup_json(&data.backup_json(), "the backup").unwrap();
    let store = MemoryStore::new();
    let report = import(&store, &snapshot, &Options { strict: true, ..options() }).await;
    assert_eq!(report.outcome, Outcome::Refused);
    assert_eq!(report.bad_rows(), 7);
    assert!(store.customers().unwrap().is_empty() && store.list_partners(None).await.unwrap().is_empty());
    // Without bad rows, --strict imports.
    let clean = json!({"tables": {
        "users": {"data": [{"chat_id": "5", "balance": 7}]}, "partners": {"data": []}, "transactions": {"data": []}
    }});
    let clean = Snapshot::from_backup_json(&clean.to_string(), "clean").unwrap();
    let report = import(&store, &clean, &Options { strict: true, ..options() }).await;
    assert_eq!((report.outcome, report.ours_total), (Outcome::Imported, Some(7)));

    // Dry run: the plan, nothing written.
    let dry = MemoryStore::new();
    let report = import(&dry, &snapshot, &Options { dry_run: true, ..options() }).await;
    assert_eq!(report.outcome, Outcome::DryRun);
    assert_eq!(report.plan.customers, data.users.len() - 3);
    assert_eq!(report.batches.as_ref().unwrap().len(), 3);
    assert!(dry.customers().unwrap().is_empty());

    let broken = data.backup_json();
    let broken = &broken[..broken.len() / 2];
    let e = Snapshot::from_backup_json(broken, "the backup x.json").unwrap_err();
    assert!(matches!(e, LegacyError::Json { .. }), "{e:?}");
    assert!(e.to_string().starts_with("the backup x.json is not valid JSON: EOF while parsing"), "{e}");
    for (json, says) in [
        (r#"{"users": []}"#, "no \"tables\" object"),
        (r#"{"tables": {"users": {"data": []}, "partners": {"data": []}}}"#, "no table transactions"),
        (r#"{"tables": {"users": {"error": "permission denied", "data": []}}}"#, "could not read table users"),
        (
            r#"{"tables": {"users": {"data": [{"chat_id": "1"}]}, "partners": {"data": []}, "transactions": {"data": []}}}"#,
            "table users has no column balance",
        ),
    ] {
        let e = Snapshot::from_backup_json(json, "b").unwrap_err();
        assert!(e.to_string().contains(says), "{json}: {e}");
    }
    let missing = Snapshot::from_backup_file(std::path::Path::new("/no/such/backup.json")).unwrap_err();
    assert!(matches!(missing, LegacyError::Io { .. }) && missing.to_string().contains("/no/such/backup.json"));
}

#[tokio::test]
async fn values_only_a_backup_can_hold_are_checked_too() {
    let backup = json!({"tables": {
        "users": {"data": [
            {"chat_id": 11, "balance": "80"},
            {"chat_id": "12", "balance": 80.5},
            {"chat_id": "13", "balance": 5, "reg_date": "20.10.2025"},
            {"chat_id": "14", "balance": 5, "birthday": "5 December", "name": "  "},
            {"chat_id": "15", "balance": null, "birthday": "1984-12-05T00:00:00"},
        ]},
        "partners": {"data": [{"chat_id": 406631153, "created_at": "yesterday"}]},
        "transactions": {"data": [
            {"id": 1, "client_chat_id": "11", "partner_chat_id": null, "date_time": "not a date", "earned_points": 1, "spent_points": 0},
            {"id": 2, "client_chat_id": "11", "partner_chat_id": null, "date_time": null, "earned_points": 1, "spent_points": 0},
            {"id": 3, "client_chat_id": "11", "partner_chat_id": null, "date_time": "2025-10-01", "earned_points": "x", "spent_points": 0},
            {"id": 3, "client_chat_id": "11", "partner_chat_id": null, "date_time": "2025-10-01", "earned_points": 1, "spent_points": 0},
            {"id": 4, "client_chat_id": 11, "partner_chat_id": 406631153, "date_time": "2025-10-01", "total_amount": "abc", "earned_points": 1, "spent_points": 0},
            {"id": 5, "client_chat_id": 11, "date_time": "2025-10-02", "earned_points": 1, "spent_points": null},
        ]},
    }});
    let snapshot = Snapshot::from_backup_json(&backup.to_string(), "b").unwrap();
    let store = MemoryStore::new();
    let report = import(&store, &snapshot, &options()).await;
    assert_eq!(
        reasons(&report, "users"),
        ["2: balance 80.5 is not an integer", "3: reg_date \"20.10.2025\" is not a timestamp"]
    );
    assert_eq!(reasons(&report, "partners"), ["1: created_at \"yesterday\" is not a timestamp"]);
    assert_eq!(
        reasons(&report, "transactions"),
        [
            "1: date_time \"not a date\" is not a timestamp",
            "2: no date_time",
            "3: earned_points \"x\" is not an integer",
            "4: duplicate id 3 (row 3 kept)",
            "5: names an unknown partner \"406631153\"",
        ]
    );
    assert_eq!(table(&report, "users").warnings[0].reason, "birthday \"5 December\" is not a date: left out");
    assert_eq!(customer(&store, 11).unwrap().balance, 80);
    assert_eq!(customer(&store, 14).unwrap().first_name, "Customer");
    assert_eq!(customer(&store, 15).unwrap().balance, 0);
    assert_eq!(entries_of(&store, 11).iter().filter(|e| e.kind == EntryKind::Legacy).count(), 1);
    assert!(!table(&report, "partner_applications").present);
    assert!(report.to_string().contains("partner_applications") && report.to_string().contains("not in the source"));
}

/// Requests seen by the `/rest/v1` proxy: path and query, `apikey`, `Authorization`.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// Supabase's `/rest/v1/<table>` in front of `postrust` (which serves the tables at `/<table>`).
async fn rest_v1(State((upstream, seen)): State<(String, Seen)>, req: Request) -> Response {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let headers = req.headers().clone();
    drop(req);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    seen.lock().unwrap().push((path.clone(), header("apikey"), header("authorization")));
    let Some(rest) = path.strip_prefix("/rest/v1") else {
        return (http::StatusCode::NOT_FOUND, "not under /rest/v1").into_response();
    };
    let mut forward = reqwest::Client::new().get(format!("{upstream}{rest}"));
    for name in ["apikey", "authorization", "prefer", "accept"] {
        if let Some(v) = headers.get(name) {
            forward = forward.header(name, v.as_bytes());
        }
    }
    let answer = forward.send().await.unwrap();
    let mut response = Response::builder().status(answer.status().as_u16());
    for name in ["content-range", "content-type"] {
        if let Some(v) = answer.headers().get(name) {
            response = response.header(name, v.as_bytes());
        }
    }
    response.body(axum::body::Body::from(answer.bytes().await.unwrap())).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_api_pages_through_the_same_tables() {
    template().await; // the roles postrust switches to
    let data = Legacy::generate();
    let db = LegacyDb::new(FULL_DDL, &data).await;
    db.db
        .client()
        .await
        .batch_execute(
            "create schema if not exists loyalty; grant select on all tables in schema public to service_role",
        )
        .await
        .unwrap();
    let postrust = Postrust::start(&db.db.name).await;
    let seen: Seen = Arc::default();
    let app = axum::Router::new().fallback(rest_v1).with_state((postrust.url(), seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let key = service_key();
    let source =
        legacy::SupabaseSource { page_size: 400, ..legacy::SupabaseSource::new(&url, loyalty_core::Secret::new(&key)) };
    let snapshot = legacy::read_supabase(&source, &mut NoProgress).await.expect("read over the Data API");
    let from_pg = legacy::read_postgres(&db.url(), &mut NoProgress).await.unwrap();
    for t in legacy::TABLES {
        assert_eq!(snapshot.table(t).map(<[_]>::len), from_pg.table(t).map(<[_]>::len), "{t}");
    }
    let (over_http, direct) = (MemoryStore::new(), MemoryStore::new());
    let report = import(&over_http, &snapshot, &options()).await;
    check_first_import(&over_http, &report, &data).await;
    import(&direct, &from_pg, &options()).await;
    assert_eq!(dump(&over_http).await, dump(&direct).await);

    let seen = seen.lock().unwrap().clone();
    let users: Vec<&str> =
        seen.iter().map(|(p, _, _)| p.as_str()).filter(|p| p.starts_with("/rest/v1/users?")).collect();
    assert_eq!(users.len(), data.users.len().div_ceil(400), "{users:?}");
    assert!(users[1].contains("select=*") && users[1].contains("order=chat_id") && users[1].contains("offset=400"));
    assert!(seen.iter().all(|(_, apikey, auth)| *apikey == key && *auth == format!("Bearer {key}")));

    // A wrong key: an error that names the API but not the key.
    let wrong = legacy::SupabaseSource::new(&url, loyalty_core::Secret::new("not-a-jwt-secret-value"));
    let e = legacy::read_supabase(&wrong, &mut NoProgress).await.unwrap_err();
    assert!(matches!(e, LegacyError::Source(_)), "{e:?}");
    assert!(e.to_string().contains("Supabase Data API") && !e.to_string().contains("not-a-jwt-secret-value"), "{e}");
    server.abort();
    postrust.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_plans_a_dry_run_and_fails_cleanly() {
    let dir = Scratch::new("legacy-cli");
    let backup = dir.dir.join("backup.json");
    std::fs::write(&backup, Legacy::generate().backup_json()).unwrap();
    let db = dir.dir.join("loyalty.db").display().to_string();
    let backup = backup.display().to_string();
    let vars = [("LOYALTY_DB", db.as_str())];

    let out = run(loyalty(&vars, &["import", "legacy", "--from-backup", &backup, "--dry-run", "--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(report["outcome"], "dry_run");
    assert_eq!(report["plan"]["batches"], 3);
    assert_eq!(report["batches"].as_array().unwrap().len(), 3);
    assert!(text(&out.stderr).contains("reading backup"), "plain progress lines off a terminal: {}", text(&out.stderr));
    assert!(!std::path::Path::new(&db).exists(), "a dry run opens no store");
    let out = run(loyalty(&vars, &["import", "legacy", "--from-backup", &backup, "--dry-run"])).await;
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("dry run: nothing written") && stdout.contains("To send: 3 batches"), "{stdout}");
    let out = run(loyalty(&vars, &["import", "legacy", "--from-backup", &backup, "--strict", "--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--strict") && !std::path::Path::new(&db).exists());

    // Usage, configuration and I/O errors.
    let out = run(loyalty(&vars, &["import", "legacy"])).await;
    assert_eq!(out.status.code(), Some(2), "a source is required");
    let out =
        run(loyalty(&vars, &["import", "legacy", "--from-backup", &backup, "--from-supabase", "https://x"])).await;
    assert_eq!(out.status.code(), Some(2), "one source at a time");
    let out = run(loyalty(&vars, &["import", "legacy", "--from-supabase", "https://x.supabase.co"])).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("LEGACY_SUPABASE_KEY"), "{}", text(&out.stderr));
    let broken = dir.dir.join("broken.json");
    std::fs::write(&broken, "{\"tables\": {\"users\": ").unwrap();
    let out = run(loyalty(&vars, &["import", "legacy", "--from-backup", &broken.display().to_string()])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not valid JSON: EOF while parsing"), "{}", text(&out.stderr));
    let out = run(loyalty(&vars, &["import", "legacy", "--from-postgres", "postgres://u:hunter2@127.0.0.1:9/x"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--from-postgres") && !text(&out.stderr).contains("hunter2"));
    let help = run(loyalty(&[], &["--help"])).await;
    assert!(text(&help.stdout).contains("6  import or export: the reconciliation found balances that differ"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_imports_a_backup_into_sqlite() {
    let dir = Scratch::new("legacy-cli");
    // Fewer customers in smaller batches: several batches, a quick test.
    let mut data = Legacy::with_generated(120);
    let backup = dir.dir.join("backup.json");
    std::fs::write(&backup, data.backup_json()).unwrap();
    let db = dir.dir.join("loyalty.db").display().to_string();
    let backup = backup.display().to_string();
    let vars = [("LOYALTY_DB", db.as_str())];
    let import = |more: &[&str]| {
        let mut args = vec!["import", "legacy", "--from-backup", backup.as_str(), "--batch-size", "50"];
        args.extend_from_slice(more);
        loyalty(&vars, &args)
    };

    let out = run(import(&["--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "imported");
    assert_eq!(report["ours_total"], report["legacy_total"]);
    assert_eq!(report["applied"]["customers_created"].as_u64(), Some(data.users.len() as u64 - 3));
    assert_eq!(report["mismatches"], json!([]));
    assert_eq!(report["plan"]["batches"], 3);
    let again = run(import(&[])).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("Applied: 0 partners created, 0 customers created"),
        "{}",
        text(&again.stdout)
    );

    // Someone spends here, then the legacy program takes more than is left: exit 6.
    let store = loyalty_native::store::sqlite::SqliteStore::open(&db).unwrap();
    let adjust = AdjustBalance {
        customer: CustomerRef::Telegram(TelegramUserId(1001)),
        amount: -100,
        reason: "spent here".into(),
        admin: TelegramUserId(1),
        idempotency_key: "test-spend".into(),
        now: NOW,
    };
    store.adjust_balance(adjust).await.unwrap();
    drop(store);
    data.user_mut("1001")["balance"] = json!(0);
    std::fs::write(&backup, data.backup_json()).unwrap();
    let out = run(import(&[])).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1001: legacy 0, ours 12"), "{}", text(&out.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_imports_from_the_legacy_database_into_postgres() {
    let data = Legacy::with_generated(120);
    let legacy = LegacyDb::new(FULL_DDL, &data).await;
    let ours = Database::migrated().await;
    let url = ours.url();
    let vars = [("DATABASE_URL", url.as_str())];
    let legacy_url = legacy.url();
    let args = ["import", "legacy", "--from-postgres", legacy_url.as_str(), "--batch-size", "50", "--json"];

    let out = run(loyalty(&vars, &args)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["outcome"].as_str(), report["plan"]["batches"].as_u64()), (Some("imported"), Some(3)));
    assert_eq!(report["ours_total"], report["legacy_total"]);
    assert_eq!(report["applied"]["customers_created"].as_u64(), Some(data.users.len() as u64 - 3));
    assert_eq!(report["applied"]["partners_created"], 8);
    assert_eq!(report["mismatches"], json!([]));
    assert_eq!(report["inconsistent"][0]["telegram_id"], 1008);

    let again = run(loyalty(&vars, &args)).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    let nothing = json!({"partners_created": 0, "customers_created": 0, "balances_changed": 0, "history_created": 0});
    assert_eq!(again["applied"], nothing);
    legacy.drop_db().await;
    ours.drop_db().await;
}

// ---------------------------------------------------------------------------
// Cloudflare D1, through a SQL file and wrangler's answers

/// Runs a SQL file on the SQLite database at `db` as `wrangler d1 execute
/// --local --file F --json` does on D1 (one transaction, foreign keys on):
/// statement by statement, and returns wrangler's output, one result object
/// per statement with its rows.
fn wrangler_local(db: &str, sql: &str) -> Value {
    use rusqlite::fallible_iterator::FallibleIterator as _;
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let tx = conn.transaction().unwrap();
    let mut results = Vec::new();
    let mut batch = rusqlite::Batch::new(&tx, sql);
    while let Some(mut statement) = batch.next().unwrap() {
        let names: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
        let mut rows = statement.query([]).unwrap();
        let mut objects = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let mut object = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(n) => json!(n),
                    rusqlite::types::ValueRef::Real(x) => json!(x),
                    rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8(t.to_vec()).unwrap()),
                    rusqlite::types::ValueRef::Blob(_) => panic!("no blobs"),
                };
                object.insert(name.clone(), value);
            }
            objects.push(Value::Object(object));
        }
        results.push(json!({"results": objects, "success": true, "meta": {"duration": 0.1}}));
    }
    tx.commit().unwrap();
    Value::Array(results)
}

/// What wrangler prints for `--remote --json --command QUERY`: one result object.
fn wrangler_query(db: &str, query: &str) -> Value {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn.prepare(query).unwrap();
    let rows: Vec<Value> = statement
        .query_map([], |r| {
            Ok(json!({"run": r.get::<_, String>(0)?, "batch": r.get::<_, i64>(1)?,
                      "answer": r.get::<_, Option<String>>(2)?, "fault": r.get::<_, Option<String>>(3)?}))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    json!([{"results": rows, "success": true, "meta": {"served_by": "v3-prod", "duration": 0.2, "changes": 0}}])
}

/// The imported content of the SQLite database at `db`, without codes and sign-up times of this run.
fn sqlite_content(db: &str) -> Value {
    let conn = rusqlite::Connection::open(db).unwrap();
    let query = |sql: &str| -> Vec<Value> {
        let mut statement = conn.prepare(sql).unwrap();
        let n = statement.column_count();
        statement
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Integer(v) => json!(v),
                            rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                            _ => Value::Null,
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()
                    .map(Value::Array)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    json!({
        "customers": query("SELECT c.telegram_id, c.first_name, c.username, c.language, c.balance, c.blocked, \
                            r.telegram_id FROM loyalty_customers c LEFT JOIN loyalty_customers r ON r.id = c.referrer \
                            ORDER BY c.telegram_id"),
        "partners": query("SELECT telegram_id, name, category, status, earn_rate_bps, language FROM loyalty_partners \
                           ORDER BY telegram_id"),
        "entries": query("SELECT c.telegram_id, e.kind, e.amount, p.telegram_id, e.purchase, e.idempotency_key, \
                          e.author_type, e.reason FROM loyalty_entries e JOIN loyalty_customers c ON c.id = e.customer \
                          LEFT JOIN loyalty_partners p ON p.id = e.partner ORDER BY e.idempotency_key"),
        "imports": query("SELECT i.source, i.telegram_id, c.telegram_id, i.balance, i.referral_code, i.birthday \
                          FROM loyalty_imports i JOIN loyalty_customers c ON c.id = i.customer ORDER BY 2"),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_writes_sql_for_d1_and_reconciles_wranglers_answers() {
    let dir = Scratch::new("legacy-d1");
    let mut data = Legacy::with_generated(120);
    let backup = dir.dir.join("backup.json");
    std::fs::write(&backup, data.backup_json()).unwrap();
    let (direct, d1) = (dir.dir.join("direct.db"), dir.dir.join("d1.db"));
    let (direct, d1) = (direct.display().to_string(), d1.display().to_string());
    let (sql, results) = (dir.dir.join("import.sql"), dir.dir.join("results.json"));
    let (sql, results) = (sql.display().to_string(), results.display().to_string());
    let backup = backup.display().to_string();
    let import = |db: &str, more: &[&str]| {
        let mut args = vec!["import", "legacy", "--from-backup", backup.as_str(), "--batch-size", "20", "--json"];
        args.extend_from_slice(more);
        loyalty(&[("LOYALTY_DB", db)], &args)
    };
    let report = |out: &std::process::Output| -> Value {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };

    // The direct import into SQLite is the reference.
    let reference = report(&run(import(&direct, &[])).await);
    assert_eq!(reference["mismatches"], json!([]));

    // The SQL file: nothing written to a store; its header says how to run it.
    let written = report(&run(import(&d1, &["--d1-sql", &sql])).await);
    // Batches small enough for D1's longest statement are the same as the direct import's.
    assert_eq!((written["outcome"].as_str(), &written["plan"]), (Some("d1_sql"), &reference["plan"]));
    let batches = reference["plan"]["batches"].as_u64().unwrap() as usize;
    assert!(batches > 1);
    assert!(written["applied"].is_null() && written.get("batches").is_none());
    assert!(!std::path::Path::new(&d1).exists(), "--d1-sql opens no store");
    let file = std::fs::read_to_string(&sql).unwrap();
    assert!(file.contains("wrangler d1 migrations apply <database> --remote"), "{file}");
    assert!(file.contains("wrangler d1 execute <database> --remote --file"), "{file}");
    assert!(file.contains("--json --command \"SELECT run, batch, answer, fault FROM loyalty_import_answers WHERE run"));
    assert_eq!(file.matches("DELETE FROM loyalty_op RETURNING").count(), batches);
    assert!(file.split(";\n").all(|s| s.len() <= legacy::D1_MAX_STATEMENT));
    assert!(!file.contains("?1"), "nothing is left to bind");

    // Run on a fresh database with the D1 schema, as `wrangler d1 execute --local --json` would.
    loyalty_native::store::sqlite::migrate(&d1).unwrap();
    std::fs::write(&results, wrangler_local(&d1, &file).to_string()).unwrap();
    let local = report(&run(import(&d1, &["--d1-results", &results])).await);
    assert_eq!(local, reference, "the same report as the direct import");
    assert_eq!(sqlite_content(&d1), sqlite_content(&direct), "the same store as the direct import");

    // After a remote run, the answers come from the query in the header: the same report.
    let query =
        file.lines().find_map(|l| l.split_once("--command \"")).unwrap().1.trim_end_matches("\" > results.json");
    std::fs::write(&results, wrangler_query(&d1, query).to_string()).unwrap();
    assert_eq!(report(&run(import(&d1, &["--d1-results", &results])).await), reference);

    // A remote --file run's own output carries no answers: said so, with the query to run.
    let summary = json!([{"results": [{"Total queries executed": 400, "Rows read": 1, "Rows written": 1,
        "Database size (MB)": "0.10"}], "success": true, "finalBookmark": "x", "meta": {}}]);
    std::fs::write(&results, summary.to_string()).unwrap();
    let out = run(import(&d1, &["--d1-results", &results])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("carries no answers") && text(&out.stderr).contains(query));

    // A refused batch fails as the store's refusal would.
    let mut refused = wrangler_query(&d1, query);
    refused[0]["results"][1]["answer"] = json!(r#"{"rejected":"code_taken"}"#);
    std::fs::write(&results, refused.to_string()).unwrap();
    let out = run(import(&d1, &["--d1-results", &results])).await;
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains(&format!("batch 2 of {batches}")), "{}", text(&out.stderr));

    // Running the file again changes nothing.
    std::fs::write(&results, wrangler_local(&d1, &file).to_string()).unwrap();
    let again = report(&run(import(&d1, &["--d1-results", &results])).await);
    let nothing = json!({"partners_created": 0, "customers_created": 0, "balances_changed": 0, "history_created": 0});
    assert_eq!((&again["applied"], &again["mismatches"]), (&nothing, &json!([])));
    assert_eq!(sqlite_content(&d1), sqlite_content(&direct));

    // Someone spends here, then the legacy program takes more than is left: exit 6, as directly.
    let store = loyalty_native::store::sqlite::SqliteStore::open(&d1).unwrap();
    let adjust = AdjustBalance {
        customer: CustomerRef::Telegram(TelegramUserId(1001)),
        amount: -100,
        reason: "spent here".into(),
        admin: TelegramUserId(1),
        idempotency_key: "test-spend".into(),
        now: NOW,
    };
    store.adjust_balance(adjust).await.unwrap();
    drop(store);
    data.user_mut("1001")["balance"] = json!(0);
    std::fs::write(&backup, data.backup_json()).unwrap();
    // The answers of the earlier plan are not this plan's.
    std::fs::write(&results, wrangler_query(&d1, query).to_string()).unwrap();
    let out = run(import(&d1, &["--d1-results", &results])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("was the SQL file made from this source"), "{}", text(&out.stderr));
    report(&run(import(&d1, &["--d1-sql", &sql])).await);
    let file = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(&results, wrangler_local(&d1, &file).to_string()).unwrap();
    let out = run(loyalty(
        &[],
        &["import", "legacy", "--from-backup", &backup, "--batch-size", "20", "--d1-results", &results],
    ))
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1001: legacy 0, ours 12"), "{}", text(&out.stdout));
}

/// Runs the real wrangler (from `scripts/edge-tools.sh`, whose `env` the test
/// command exports) in `dir`, offline, and returns its output.
fn wrangler(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let bin = std::env::var("LOYALTY_EDGE_BIN").expect("LOYALTY_EDGE_BIN (eval \"$(scripts/edge-tools.sh env)\")");
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new(format!("{bin}/wrangler"))
        .args(args)
        .current_dir(dir)
        // wrangler runs on the Node the tools brought (it needs a newer one than Debian's).
        .env("PATH", path)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("CI", "true")
        .output()
        .expect("run wrangler");
    assert!(out.status.success(), "wrangler {args:?}: {}\n{}", text(&out.stdout), text(&out.stderr));
    out
}

/// The operator's D1 steps of docs/IMPORT.md with the real wrangler on a local
/// D1 (Miniflare's, as `--local` keeps it): the migrations, the SQL file with
/// `wrangler d1 execute --file`, the answers with `--json --command`, and
/// `--d1-results` — the same report and the same store as a direct import.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs wrangler from scripts/edge-tools.sh (scripts/test.sh runs it)"]
async fn the_d1_sql_file_runs_on_a_local_d1_with_wrangler() {
    let dir = Scratch::new("legacy-wrangler");
    let backup = dir.dir.join("backup.json");
    std::fs::write(&backup, Legacy::with_generated(80).backup_json()).unwrap();
    let backup = backup.display().to_string();
    let direct = dir.dir.join("direct.db").display().to_string();
    let (sql, results) = (dir.dir.join("import.sql"), dir.dir.join("results.json"));
    let (sql, results) = (sql.display().to_string(), results.display().to_string());
    let import = |more: &[&str]| {
        let mut args = vec!["import", "legacy", "--from-backup", backup.as_str(), "--batch-size", "20", "--json"];
        args.extend_from_slice(more);
        loyalty(&[("LOYALTY_DB", direct.as_str())], &args)
    };
    let report = |out: &std::process::Output| -> Value {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let reference = report(&run(import(&[])).await);
    report(&run(import(&["--d1-sql", &sql])).await);
    let file = std::fs::read_to_string(&sql).unwrap();
    let query =
        file.lines().find_map(|l| l.split_once("--command \"")).unwrap().1.trim_end_matches("\" > results.json");

    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../loyalty-edge/migrations");
    let config = format!(
        "name = \"import-check\"\ncompatibility_date = \"2026-11-01\"\n\n[[d1_databases]]\nbinding = \"DB\"\n\
         database_name = \"loyalty\"\ndatabase_id = \"00000000-0000-0000-0000-000000000000\"\n\
         migrations_dir = \"{}\"\n",
        migrations.canonicalize().unwrap().display()
    );
    std::fs::write(dir.dir.join("wrangler.toml"), config).unwrap();
    let d = dir.dir.as_path();
    wrangler(d, &["d1", "migrations", "apply", "loyalty", "--local"]);
    wrangler(d, &["d1", "execute", "loyalty", "--local", "--file", &sql]);
    let answers = wrangler(d, &["d1", "execute", "loyalty", "--local", "--json", "--command", query]);
    std::fs::write(&results, &answers.stdout).unwrap();
    let local = report(&run(import(&["--d1-results", &results])).await);
    assert_eq!(local, reference, "the same report as the direct import");

    // The local D1 is a SQLite file under .wrangler: the same store as the direct import.
    let state = dir.dir.join(".wrangler/state/v3/d1");
    let databases: Vec<std::path::PathBuf> = walk(&state).into_iter().filter(|p| is_database(p)).collect();
    assert_eq!(databases.len(), 1, "one local D1 database: {databases:?}");
    let d1 = databases[0].display().to_string();
    assert_eq!(sqlite_content(&d1), sqlite_content(&direct), "the local D1 holds what the direct import wrote");

    // The way back from D1 (docs/IMPORT.md): its dump exports as the store the direct import wrote.
    let dump = dir.dir.join("d1.sql").display().to_string();
    wrangler(d, &["d1", "export", "loyalty", "--local", "--output", &dump]);
    let (from_d1, from_direct) = (dir.dir.join("back-d1.json"), dir.dir.join("back-direct.json"));
    let (from_d1, from_direct) = (from_d1.display().to_string(), from_direct.display().to_string());
    let out =
        run(loyalty(&[], &["export", "legacy", "--from-d1-dump", &dump, "--to-backup", &from_d1, "--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let direct_vars = [("LOYALTY_DB", direct.as_str())];
    let out = run(loyalty(&direct_vars, &["export", "legacy", "--to-backup", &from_direct, "--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Codes are drawn at random by each import, and a customer without a legacy sign-up date gets the
    // import's time (the two imports ran seconds apart): the rest is the same.
    let tables = |file: &str| -> Value {
        let mut t = serde_json::from_str::<Value>(&std::fs::read_to_string(file).unwrap()).unwrap()["tables"].take();
        for table in t.as_object_mut().unwrap().values_mut() {
            table.as_object_mut().unwrap().remove("timestamp");
        }
        for user in t["users"]["data"].as_array_mut().unwrap() {
            let user = user.as_object_mut().unwrap();
            user.remove("referral_code");
            user.remove("reg_date");
        }
        t
    };
    let back = tables(&from_d1);
    assert!(back["users"]["count"].as_u64().is_some_and(|n| n > 50), "{}", back["users"]["count"]);
    assert_eq!(back, tables(&from_direct), "the D1 dump exports what the direct store exports");

    // The file again, on the same local D1: nothing changes. Locally, `--file --json` answers directly.
    let answers = wrangler(d, &["d1", "execute", "loyalty", "--local", "--json", "--file", &sql]);
    std::fs::write(&results, &answers.stdout).unwrap();
    let again = report(&run(import(&["--d1-results", &results])).await);
    let nothing = json!({"partners_created": 0, "customers_created": 0, "balances_changed": 0, "history_created": 0});
    assert_eq!((&again["applied"], &again["mismatches"]), (&nothing, &json!([])));
    assert_eq!(sqlite_content(&d1), sqlite_content(&direct));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

fn is_database(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "sqlite") && path.file_name().is_none_or(|n| n != "metadata.sqlite")
}
