//! [`PgStore`] against a real PostgreSQL server: the storage conformance suite,
//! migrations, races, a database that goes away mid-run, one round trip per use
//! case, and row level security.
//!
//! The server is `LOYALTY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, a role allowed to create
//! databases and terminate backends). The process migrates one template
//! database, `loyalty_t_<pid>_tmpl`, and every test gets its own copy
//! (`CREATE DATABASE … TEMPLATE …`), dropped at the end.

use futures::future::join_all;
use loyalty_core::ports::*;
use loyalty_native::store::postgres::{MIGRATIONS, PgOptions, PgStore, migrate};
use loyalty_testkit::conformance::{self, Params};
use loyalty_testkit::requests::{self, adjust_req};
use loyalty_testkit::services::pg_checks;
use loyalty_testkit::services::postgres::{Database, connect, url_for};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

/// A fresh database copied from the migrated template.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn new() -> TestDb {
        TestDb { name: Database::migrated().await.name }
    }

    /// A new, empty database (not migrated).
    async fn empty() -> TestDb {
        TestDb { name: Database::empty().await.name }
    }

    fn url(&self) -> String {
        url_for(&self.name)
    }

    /// A store with every pooled connection already open, so that concurrent calls
    /// really run at the same time instead of waiting for connections one by one.
    async fn store(&self) -> PgStore {
        let max_connections = 16;
        let options = PgOptions { max_connections, ..PgOptions::default() };
        let store = PgStore::connect_with(&self.url(), options).await.expect("connect the store");
        let warm = join_all((0..max_connections).map(|_| store.pool().get())).await;
        assert!(warm.iter().all(|c| c.is_ok()), "could not open {max_connections} connections");
        drop(warm);
        store
    }

    async fn drop_db(self) {
        Database { name: self.name }.drop_db().await;
    }
}

// ---------------------------------------------------------------------------
// Conformance

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_store_passes_the_conformance_suite() {
    let dbs = std::sync::Mutex::new(Vec::new());
    let report = conformance::run_all(
        || async {
            let db = TestDb::new().await;
            let store = db.store().await;
            dbs.lock().unwrap_or_else(|e| e.into_inner()).push(db);
            Ok(store)
        },
        &Params::with_concurrency(64),
    )
    .await;
    // Concurrently: the checkpoints the drops wait for are shared.
    join_all(dbs.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map(TestDb::drop_db)).await;
    assert_eq!(report.results.len(), conformance::checks().len(), "every check ran: {report}");
    report.assert_success();
}

// ---------------------------------------------------------------------------
// Migrations

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_to_an_empty_database_and_rerun_as_a_no_op() {
    let db = TestDb::empty().await;
    let applied = migrate(&db.url()).await.expect("first run");
    assert_eq!(applied, MIGRATIONS.iter().map(|m| m.id()).collect::<Vec<_>>());
    assert!(migrate(&db.url()).await.expect("second run").is_empty(), "second run applied something");
    // The files themselves are idempotent too (as when pasted into psql or the SQL editor again).
    let client = connect(&url_for(&db.name)).await;
    let count = "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
                  where n.nspname = 'loyalty'";
    let before: i64 = client.query_one(count, &[]).await.expect("count").get(0);
    for m in MIGRATIONS {
        client.batch_execute(m.sql).await.unwrap_or_else(|e| panic!("re-running {} failed: {e:?}", m.id()));
    }
    let after: i64 = client.query_one(count, &[]).await.expect("count").get(0);
    let recorded: i64 =
        client.query_one("select count(*) from loyalty.schema_migrations", &[]).await.expect("recorded").get(0);
    // Concurrent runs take turns.
    let runs = join_all((0..4).map(|_| {
        let url = db.url();
        async move { migrate(&url).await }
    }))
    .await;
    drop(client);
    db.drop_db().await;
    assert_eq!(before, after, "re-running the files created or dropped relations");
    assert_eq!(recorded, MIGRATIONS.len() as i64, "recorded migrations");
    for run in runs {
        assert_eq!(run.expect("concurrent run"), Vec::<String>::new());
    }
}

// ---------------------------------------------------------------------------
// Races, and an update claim folded into the first call

loyalty_testkit::pg_store_tests!(fresh: TestDb::new(), store: |db| db.store().await);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_from_many_tasks_applies_once() {
    let db = TestDb::new().await;
    let s: Arc<dyn Storage> = Arc::new(db.store().await);
    let (c, _) = pg_checks::one_credit_key_from_many_tasks_applies_once(&s, &db.name).await;
    let adjusted = pg_checks::concurrently(200, |_| {
        let (s, req) = (s.clone(), adjust_req(CustomerRef::Id(c.id), -100, "fix", "same-adjust"));
        async move { s.adjust_balance(req).await.expect("every caller gets the result") }
    })
    .await;
    let (balance, sum, entries) = pg_checks::balance_and_sum(&db.name, c.id).await;
    db.drop_db().await;
    assert_eq!(adjusted.iter().filter(|r| !r.replayed).count(), 1, "adjusted once");
    assert!(adjusted.iter().all(|r| r.entry == adjusted[0].entry), "same adjustment for everyone");
    assert_eq!((balance, sum, entries), (400, 400, 2));
}

// ---------------------------------------------------------------------------
// The database goes away

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_connections_fail_as_unavailable_and_recover() {
    let db = TestDb::new().await;
    let options = PgOptions { max_connections: 8, acquire_timeout: Duration::from_secs(20), ..PgOptions::default() };
    let s = Arc::new(PgStore::connect_with(&db.url(), options).await.expect("connect"));
    // A pooled connection that the last kill closed may fail one more call as
    // unavailable (the pool learns it is gone when it is used): up to 10 retries.
    pg_checks::terminated_connections_fail_as_unavailable_and_recover(s, &db.name, 10, String::new).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let options = PgOptions { connect_timeout: Duration::from_secs(5), ..PgOptions::default() };
    let err = PgStore::connect_with(&format!("postgres://postgres@127.0.0.1:{port}/x"), options).await.unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    let err = migrate(&format!("postgres://postgres@127.0.0.1:{port}/x")).await.unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
}

// ---------------------------------------------------------------------------
// Round trips

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_use_case_is_one_round_trip() {
    let db = TestDb::new().await;
    let s = db.store().await;
    let before = Cell::new(0);
    let mut counts = Vec::new();
    let outcome = requests::every_use_case(
        &s,
        || before.set(s.round_trips()),
        |name| counts.push((name, s.round_trips() - before.get())),
    )
    .await;
    db.drop_db().await;
    outcome.unwrap();
    assert_eq!(counts.len(), requests::USE_CASES, "every Storage method once, plus two refusals");
    for (name, n) in counts {
        assert_eq!(n, 1, "{name} took {n} round trips");
    }
}

// ---------------------------------------------------------------------------
// Row level security and privileges

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_api_roles_can_neither_read_tables_nor_call_functions() {
    let db = TestDb::new().await;
    let client = connect(&url_for(&db.name)).await;
    let tables: Vec<(String, bool, bool)> = client
        .query(
            "select c.relname, c.relrowsecurity,
                    exists (select 1 from pg_policy pol where pol.polrelid = c.oid)
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = 'loyalty' and c.relkind = 'r' order by 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut denied = Vec::new();
    let mut allowed = Vec::new();
    for role in ["anon", "authenticated"] {
        for sql in [
            "select * from loyalty.customers".to_string(),
            "select * from loyalty.entries".to_string(),
            "insert into loyalty.bot_updates values (1, 1, 1)".to_string(),
            r#"select loyalty.program_stats('{"today": 0}')"#.to_string(),
            r#"select loyalty.customer_summary('{"who": {"by": "id", "value": 1}, "recent": 1}')"#.to_string(),
        ] {
            let r = client.batch_execute(&format!("set role {role}; {sql}")).await;
            client.batch_execute("reset role").await.expect("reset role");
            denied.push((role, sql, r.err().and_then(|e| e.code().cloned())));
        }
    }
    for sql in [r#"select loyalty.program_stats('{"today": 0}')"#, "select * from loyalty.customers"] {
        let r = client.batch_execute(&format!("set role service_role; {sql}")).await;
        client.batch_execute("reset role").await.expect("reset role");
        allowed.push((sql, r.err().and_then(|e| e.code().cloned())));
    }
    drop(client);
    db.drop_db().await;

    assert!(tables.len() >= 9, "tables: {tables:?}");
    for (table, rls, has_policy) in &tables {
        assert!(rls, "row level security disabled on {table}");
        assert!(!has_policy, "{table} has a policy");
    }
    for (role, sql, code) in denied {
        assert_eq!(code, Some(tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{role}: {sql}");
    }
    // The server's role may call the functions, but not read the tables behind them.
    assert_eq!(allowed[0].1, None, "service_role calls a function");
    assert_eq!(allowed[1].1, Some(tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "service_role table read");
}
