//! The D1 protocol (`loyalty_core::stores::d1`) on SQLite, run the way D1
//! runs a batch — every statement of a use case in order inside one
//! transaction, `?1` bound to the request — against the storage conformance
//! suite. The same statements run inside workerd against a real D1 binding in
//! `loyalty-edge/tests/workerd.rs`; this test gives the quick loop and the
//! error paths that need a database under the test's control.

use async_trait::async_trait;
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::stores::d1::{self, Outcome};
use loyalty_core::stores::rpc::RpcBackend;
use loyalty_testkit::conformance::{self, Params};
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A SQLite database reached one batch at a time, as a Worker reaches D1.
struct SqliteBatches {
    conn: Mutex<Connection>,
    batches: AtomicU64,
}

impl SqliteBatches {
    /// An in-memory database without the schema (the first call creates it).
    fn empty() -> SqliteBatches {
        let conn = Connection::open_in_memory().expect("open");
        // D1 enforces foreign keys.
        conn.execute_batch("PRAGMA foreign_keys = ON").expect("pragma");
        SqliteBatches { conn: Mutex::new(conn), batches: AtomicU64::new(0) }
    }

    fn run(&self, statements: &[&str], request: &str, claim: &str) -> rusqlite::Result<Option<Outcome>> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.conn.lock().expect("lock");
        let tx = conn.transaction()?;
        let mut outcome = None;
        for statement in statements {
            let mut stmt = tx.prepare_cached(statement)?;
            let bound = &[request, claim][..d1::bindings(statement)];
            let mut rows = stmt.query(params_from_iter(bound))?;
            while let Some(row) = rows.next()? {
                outcome = Some(Outcome { answer: row.get(0)?, fault: row.get(1)? });
            }
        }
        tx.commit()?;
        Ok(outcome)
    }
}

impl SqliteBatches {
    fn call(&self, function: &str, statements: &[&str], request: &str, claim: &str) -> StoreResult<Value> {
        let outcome = match self.run(statements, request, claim) {
            Err(e) if d1::is_missing_schema(&e.to_string()) => {
                self.run(d1::SCHEMA, "", "").map_err(|e| d1::classify_error("schema", &e.to_string()))?;
                self.run(statements, request, claim)
            }
            other => other,
        };
        d1::decode(function, outcome.map_err(|e| d1::classify_error(function, &e.to_string()))?)
    }
}

#[async_trait]
impl RpcBackend for SqliteBatches {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        self.call(function, &d1::batch(function)?, &request, "")
    }

    async fn call_function_claimed(
        &self,
        claim: &UpdateClaim,
        function: &'static str,
        request: String,
    ) -> StoreResult<Value> {
        let claim = serde_json::to_string(claim).expect("a claim encodes");
        self.call(function, &d1::claimed_batch(function)?, &request, &claim)
    }
}

#[tokio::test]
async fn the_d1_statements_pass_the_conformance_suite_on_sqlite() {
    let report = conformance::run_all(|| async { Ok(SqliteBatches::empty()) }, &Params::default()).await;
    assert!(report.results.len() >= 30, "suspiciously few checks: {report}");
    report.assert_success();
}

#[tokio::test]
async fn every_use_case_is_one_batch() {
    let store = SqliteBatches::empty();
    store.ping().await.expect("first call creates the schema");
    let before = store.batches.load(Ordering::Relaxed);
    let now = Timestamp(1_700_000_000);
    let reg = store
        .register_customer(NewCustomer {
            telegram_id: TelegramUserId(7),
            code: CustomerCode::parse("ABCDEFGH").unwrap(),
            first_name: "Ann".into(),
            username: None,
            language: Language::En,
            referrer: None,
            welcome_bonus: 100,
            referral_bonus: 0,
            now,
        })
        .await
        .unwrap();
    assert_eq!(reg.customer.balance, 100);
    assert!(store.claim_update(BotKind::Client, 1, now).await.unwrap());
    assert!(!store.claim_update(BotKind::Client, 1, now).await.unwrap());
    let summary = store.customer_summary(CustomerRef::Id(reg.customer.id), 5).await.unwrap().unwrap();
    assert_eq!(summary.recent.len(), 1);
    assert_eq!(store.batches.load(Ordering::Relaxed) - before, 4, "one batch per call");
}

#[tokio::test]
async fn a_refused_call_leaves_nothing_behind() {
    let store = SqliteBatches::empty();
    store.ping().await.unwrap();
    let adjust = |amount: Points, key: &str| AdjustBalance {
        customer: CustomerRef::Telegram(TelegramUserId(1)),
        amount,
        reason: "test".into(),
        admin: TelegramUserId(42),
        idempotency_key: key.into(),
        now: Timestamp(1_700_000_000),
    };
    assert_eq!(store.adjust_balance(adjust(5, "k1")).await, Err(StoreError::Rejected(Rejection::UnknownCustomer)));
    let conn = store.conn.lock().unwrap();
    for table in d1::TABLES {
        let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0, "{table} after a refused call");
    }
}

#[tokio::test]
async fn sql_errors_are_permanent_and_unknown_jobs_are_faults() {
    let store = SqliteBatches::empty();
    store.ping().await.unwrap();
    assert!(
        matches!(store.claim_broadcast_batch(BroadcastId(9), 10).await, Err(StoreError::Backend(m)) if m.contains("unknown broadcast job 9"))
    );
    assert!(
        matches!(store.record_broadcast(BroadcastId(9), 1, 0).await, Err(StoreError::Backend(m)) if m.contains("unknown broadcast job 9"))
    );
    // An outdated schema (a table without a column the statements use) is a
    // clear permanent error, not a retry loop.
    store.conn.lock().unwrap().execute_batch("DROP TABLE loyalty_quotas; CREATE TABLE loyalty_quotas (x)").unwrap();
    let err = store.consume_quota(QuotaKind::Assistant, TelegramUserId(1), Timestamp(0), 5).await.unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("consume_quota")), "{err:?}");
}

#[tokio::test]
async fn the_d1_statements_fold_an_update_claim_into_the_first_call() {
    let store: std::sync::Arc<dyn Storage> = std::sync::Arc::new(SqliteBatches::empty());
    loyalty_testkit::folding::check_fold_claim(store).await.unwrap();
}
