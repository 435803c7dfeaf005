//! The SQLite backend — the D1 statements (`loyalty_core::stores::d1`) run on
//! rusqlite — against the storage conformance suite, plus one batch per call,
//! folded update claims, refused calls leaving nothing behind, and what only a
//! file-backed store has: persistence across reopen, idempotent migrations,
//! clear errors for bad files, and locking between two stores on one file.
//! The same statements run inside workerd against a real D1 binding in
//! `loyalty-edge/tests/workerd.rs`. The upgrade of schema-v1 files is in
//! `sqlite_migration.rs`.

use loyalty_core::MemoryStore;
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::stores::d1;
use loyalty_native::store::sqlite::{self, APPLICATION_ID, SCHEMA_VERSION, SqliteStore};
use loyalty_testkit::conformance::{self, Params};
use loyalty_testkit::requests::{adjust_req, credit_req, partner};
use loyalty_testkit::round_trips::{CountingBackend, assert_one_request_each, requests_per_update};
use loyalty_testkit::{TestEnv, test_config};
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

mod common;
use common::Scratch;

const T0: Timestamp = Timestamp(1_700_006_400 + 36_000);

fn new_customer(tg: i64, seed: u8) -> NewCustomer {
    NewCustomer {
        telegram_id: TelegramUserId(tg),
        code: CustomerCode::from_random([seed, 1, 2, 3, seed]),
        first_name: format!("user {tg}"),
        username: Some(format!("u{tg}")),
        language: Language::Vi,
        referrer: None,
        legacy_referrer: None,
        via_partner: None,
        welcome_bonus: 100,
        referral_bonus: 0,
        now: T0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_the_conformance_suite() {
    let scratch = Scratch::new("conformance");
    let report = conformance::run_all(|| scratch.store(), &Params::default()).await;
    assert!(report.results.len() >= 30, "suspiciously few checks: {report}");
    report.assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_with_high_concurrency() {
    let scratch = Scratch::new("concurrency");
    let params = Params::with_concurrency(64);
    let report = conformance::run_matching(|| scratch.store(), &params, |name| name.starts_with("concurrent_")).await;
    assert!(report.results.len() >= 5, "no concurrency checks ran: {report}");
    report.assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_sqlite_store_passes_the_conformance_suite() {
    let report =
        conformance::run_all(|| async { SqliteStore::open_in_memory().map_err(|e| e.to_string()) }, &Params::default())
            .await;
    report.assert_success();
}

#[tokio::test]
async fn every_call_is_one_batch_and_folds_the_claim() {
    let scratch = Scratch::new("batches");
    let store = SqliteStore::open(scratch.db()).unwrap();
    let reg = store.register_customer(new_customer(7, 7)).await.unwrap();
    assert_eq!(reg.customer.balance, 100);
    assert!(
        store
            .claim_update(UpdateClaim { bot: BotId(1), update_id: 1, now: T0, body: None, finished: Vec::new() })
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_update(UpdateClaim { bot: BotId(1), update_id: 1, now: T0, body: None, finished: Vec::new() })
            .await
            .unwrap()
    );
    let summary = store.customer_summary(CustomerRef::Id(reg.customer.id), 5).await.unwrap().unwrap();
    assert_eq!(summary.recent.len(), 1);
    assert_eq!(store.batches(), 4, "one batch per call");

    // An update's claim rides in the batch of its first call.
    let folded = std::sync::Arc::new(store.clone()).fold_claim(UpdateClaim {
        bot: BotId(1),
        update_id: 2,
        now: T0,
        body: None,
        finished: Vec::new(),
    });
    let folded = folded.expect("the SQLite store folds claims");
    folded.storage.set_language(CustomerRef::Id(reg.customer.id), Language::Ru).await.unwrap();
    assert_eq!(folded.state(), FoldState::Claimed);
    assert_eq!(store.batches(), 5, "the claim cost no batch of its own");
    let store: std::sync::Arc<dyn Storage> = std::sync::Arc::new(SqliteStore::open(scratch.db()).unwrap());
    loyalty_testkit::folding::check_fold_claim(store).await.unwrap();
}

/// Every update the bots serve — customer, partner or admin — is one batch
/// (the SQLite store runs the statements D1 runs, composed the same way).
#[tokio::test]
async fn every_update_is_one_request() {
    let scratch = Scratch::new("per-update");
    let store = SqliteStore::open(scratch.db()).unwrap();
    let counted = std::sync::Arc::new(CountingBackend::new(store.clone()));
    let env = TestEnv::with(counted.clone(), test_config());
    let costs = requests_per_update(&env, || counted.requests()).await;
    assert_one_request_each(&costs);
    // The counter agrees with the store's own count of batches.
    assert_eq!(counted.requests(), store.batches(), "requests and batches");
}

#[tokio::test]
async fn a_refused_call_leaves_nothing_behind() {
    let scratch = Scratch::new("refused");
    let path = scratch.db();
    let store = SqliteStore::open(&path).unwrap();
    let adjust = adjust_req(CustomerRef::Telegram(TelegramUserId(1)), 5, "test", "k1");
    assert_eq!(store.adjust_balance(adjust).await, Err(StoreError::Rejected(Rejection::UnknownCustomer)));
    assert_eq!(store.partner(PartnerRef::Id(PartnerId(1))).await, Ok(None));
    let raw = rusqlite::Connection::open(&path).unwrap();
    for table in d1::TABLES {
        let rows: i64 = raw.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0, "{table} after a refused call");
    }
}

#[tokio::test]
async fn sql_errors_are_permanent_and_unknown_jobs_are_faults() {
    let scratch = Scratch::new("faults");
    let path = scratch.db();
    let store = SqliteStore::open(&path).unwrap();
    assert!(
        matches!(store.claim_broadcast_batch(BroadcastId(9), 10).await, Err(StoreError::Backend(m)) if m.contains("unknown broadcast job 9"))
    );
    assert!(
        matches!(store.record_broadcast(BroadcastId(9), 1, 0).await, Err(StoreError::Backend(m)) if m.contains("unknown broadcast job 9"))
    );
    // An API key identifies one partner.
    let p = partner(&store, 5, PartnerTerms::default()).await;
    let q = partner(&store, 6, PartnerTerms::default()).await;
    store.set_partner_api_key(PartnerRef::Id(p.id), Some(rules::hash_api_key("pos"))).await.unwrap();
    let err = store.set_partner_api_key(PartnerRef::Id(q.id), Some(rules::hash_api_key("pos"))).await.unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("UNIQUE")), "{err:?}");
    // An outdated schema (a table without a column the statements use) is a
    // clear permanent error, not a retry loop.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("DROP TABLE loyalty_quotas; CREATE TABLE loyalty_quotas (x)").unwrap();
    let err = store.consume_quota(ConsumeQuota::assistant(TelegramUserId(1), Timestamp(0), 5)).await.unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("consume_quota")), "{err:?}");
}

/// Polls a future once: without a Tokio runtime the store does its work
/// inline, so every call completes on the first poll.
fn poll_once<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a call without a runtime did not complete inline"),
    }
}

#[test]
fn works_without_a_tokio_runtime() {
    let scratch = Scratch::new("no-runtime");
    let store = SqliteStore::open(scratch.db()).unwrap();
    let reg = poll_once(store.register_customer(new_customer(7, 7))).unwrap();
    assert_eq!(reg.customer.balance, 100);
    let summary = poll_once(store.customer_summary(CustomerRef::Id(reg.customer.id), 5)).unwrap().unwrap();
    assert_eq!(summary.recent.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_close_and_reopen() {
    let scratch = Scratch::new("reopen");
    let path = scratch.db();
    let (customer, partner, credited, adjusted) = {
        let s = SqliteStore::open(&path).unwrap();
        let customer = s.register_customer(new_customer(10, 1)).await.unwrap().customer;
        let partner = partner(&s, 20, PartnerTerms::default()).await;
        let credited = s.credit_purchase(credit_req(&partner, &customer, 10_000, "k1")).await.unwrap();
        let adjusted = s
            .adjust_balance(AdjustBalance {
                customer: CustomerRef::Id(customer.id),
                amount: -30,
                reason: "typo".into(),
                admin: TelegramUserId(1),
                idempotency_key: "adj".into(),
                now: T0,
            })
            .await
            .unwrap();
        s.set_partner_api_key(PartnerRef::Id(partner.id), Some(rules::hash_api_key("pos"))).await.unwrap();
        assert!(
            s.claim_update(UpdateClaim { bot: BotId(1), update_id: 5, now: T0, body: None, finished: Vec::new() })
                .await
                .unwrap()
        );
        assert!(s.consume_quota(ConsumeQuota::assistant(TelegramUserId(10), T0.day_start(), 1)).await.unwrap());
        (customer, partner, credited, adjusted)
        // `s` is dropped here: every connection closes.
    };
    assert_eq!(adjusted.customer.balance, 100 + 500 - 30);

    let wal = path.with_extension("sqlite-wal");
    assert!(!wal.exists(), "closing the store did not checkpoint the WAL into the file");

    let s = SqliteStore::open(&path).unwrap();
    let summary = s.customer_summary(CustomerRef::Telegram(customer.telegram_id), 10).await.unwrap().unwrap();
    assert_eq!(summary.customer.balance, 570);
    assert_eq!(summary.customer.code, customer.code);
    assert_eq!(summary.customer.username.as_deref(), Some("u10"));
    assert_eq!(summary.customer.language, Language::Vi);
    let kinds: Vec<EntryKind> = summary.recent.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EntryKind::Adjustment, EntryKind::Accrual, EntryKind::WelcomeBonus]);
    assert_eq!(summary.recent[1], credited.entry);
    assert_eq!(summary.recent[0], adjusted.entry);

    // Replays still see the first result; claims, quotas and keys persisted.
    let replay = s.credit_purchase(credit_req(&partner, &customer, 10_000, "k1")).await.unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.entry, credited.entry);
    assert!(
        !s.claim_update(UpdateClaim { bot: BotId(1), update_id: 5, now: T0, body: None, finished: Vec::new() })
            .await
            .unwrap(),
        "claim forgotten"
    );
    assert!(!s.consume_quota(ConsumeQuota::assistant(TelegramUserId(10), T0.day_start(), 1)).await.unwrap());
    let by_key = s.partner_by_api_key(&rules::hash_api_key("pos")).await.unwrap().unwrap();
    assert_eq!(by_key.id, partner.id);
    assert_eq!(by_key.status, PartnerStatus::Approved);
    let audit = s.audit_log(AuditPage { before: None, limit: 10 }).await.unwrap();
    assert_eq!(audit.len(), 2, "approval and adjustment: {audit:?}");
    assert!(matches!(&audit[0].action, AuditAction::Adjusted { amount: -30, reason, .. } if reason == "typo"));
    let stats = s.program_stats(T0.day_start()).await.unwrap();
    assert_eq!((stats.customers, stats.points_outstanding, stats.today.issued), (1, 570, 500));
}

#[tokio::test]
async fn reopening_and_migrating_are_idempotent() {
    let scratch = Scratch::new("migrate");
    let path = scratch.db();
    assert_eq!(sqlite::migrate(&path).unwrap(), SCHEMA_VERSION);
    let schema = |p: &Path| {
        let conn = rusqlite::Connection::open(p).unwrap();
        let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0)).unwrap();
        let mut stmt = conn.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name").unwrap();
        let objects: Vec<(String, String, Option<String>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        (version, app, objects, mode)
    };
    let first = schema(&path);
    assert_eq!(first.0, SCHEMA_VERSION);
    assert_eq!(first.1, APPLICATION_ID);
    assert_eq!(first.3, "wal");
    assert!(first.2.iter().any(|(t, n, _)| t == "table" && n == "loyalty_entries"));

    {
        let s = SqliteStore::open(&path).unwrap();
        s.register_customer(new_customer(1, 1)).await.unwrap();
    }
    assert_eq!(sqlite::migrate(&path).unwrap(), SCHEMA_VERSION);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(schema(&path), first, "schema changed on reopen");
    assert_eq!(s.program_stats(T0).await.unwrap().customers, 1, "data lost on reopen");
}

#[test]
fn bad_paths_and_files_give_clear_errors() {
    let scratch = Scratch::new("bad");

    // A directory that does not exist.
    let missing = scratch.dir.join("no/such/dir/db.sqlite");
    let e = SqliteStore::open(&missing).unwrap_err();
    assert!(matches!(&e, StoreError::Backend(m) if m.contains("no/such/dir")), "{e:?}");
    assert!(!e.is_temporary());

    // A directory where the file should be.
    let e = SqliteStore::open(&scratch.dir).unwrap_err();
    assert!(matches!(e, StoreError::Backend(_)), "{e:?}");

    // Garbage instead of a database.
    let garbage = scratch.dir.join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x5a_u8; 8192]).unwrap();
    let e = SqliteStore::open(&garbage).unwrap_err();
    assert!(
        matches!(&e, StoreError::Backend(m) if m.contains("garbage.sqlite") && m.contains("not a database")),
        "{e:?}"
    );
    assert!(sqlite::migrate(&garbage).is_err());
    assert_eq!(std::fs::read(&garbage).unwrap(), vec![0x5a_u8; 8192], "garbage file modified");

    // Another application's database is left alone.
    let foreign = scratch.dir.join("foreign.sqlite");
    rusqlite::Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE notes (body TEXT);").unwrap();
    let e = SqliteStore::open(&foreign).unwrap_err();
    assert!(matches!(&e, StoreError::Backend(m) if m.contains("not a loyalty-rs database")), "{e:?}");

    // A schema newer than this build.
    let newer = scratch.db();
    sqlite::migrate(&newer).unwrap();
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    let e = SqliteStore::open(&newer).unwrap_err();
    assert!(matches!(&e, StoreError::Backend(m) if m.contains("newer")), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_respect_the_daily_limit() {
    // Two `SqliteStore`s on one file behave like two processes: SQLite's file
    // lock (BEGIN IMMEDIATE + busy timeout) serialises their writers.
    let scratch = Scratch::new("two-stores");
    let path = scratch.db();
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let c = a.register_customer(new_customer(1, 1)).await.unwrap().customer;
    let terms = PartnerTerms { earn_rate_bps: 10_000, max_redeem_share_bps: 3_000, daily_credit_limit: 200 };
    let p = partner(&b, 2, terms).await;
    let calls = (0..40).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let req = credit_req(&p, &c, 10, &format!("k{i}"));
        tokio::spawn(async move { store.credit_purchase(req).await })
    });
    let results = futures::future::join_all(calls).await;
    let mut ok = 0;
    for r in results {
        match r.expect("task") {
            Ok(_) => ok += 1,
            Err(StoreError::Rejected(Rejection::DailyLimitExceeded { remaining: 0 })) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 20);
    let via_b = b.customer_summary(CustomerRef::Id(c.id), 0).await.unwrap().unwrap();
    assert_eq!(via_b.customer.balance, 100 + 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_is_a_temporary_error() {
    let scratch = Scratch::new("busy");
    let path = scratch.db();
    let s = SqliteStore::open(&path).unwrap();
    let c = s.register_customer(new_customer(1, 1)).await.unwrap().customer;
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The write waits for the busy timeout, then gives up without applying anything.
    let e = s.set_language(CustomerRef::Id(c.id), Language::Ru).await.unwrap_err();
    assert!(e.is_temporary(), "{e:?}");
    // Reads still work in WAL mode while the lock is held.
    let seen = s.customer_summary(CustomerRef::Id(c.id), 1).await.unwrap().unwrap();
    assert_eq!(seen.customer.language, Language::Vi);
    blocker.execute_batch("ROLLBACK").unwrap();
    let after = s.set_language(CustomerRef::Id(c.id), Language::Ru).await.unwrap();
    assert_eq!(after.language, Language::Ru);
}

#[test]
fn the_schema_guards_the_ledger() {
    let scratch = Scratch::new("guards");
    let path = scratch.db();
    let s = SqliteStore::open(&path).unwrap();
    poll_once(s.register_customer(new_customer(1, 1))).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let fails = |sql: &str| raw.execute_batch(sql).expect_err(sql).to_string();
    assert!(fails("UPDATE loyalty_entries SET amount = 1000").contains("append-only"));
    assert!(fails("DELETE FROM loyalty_entries").contains("append-only"));
    assert!(fails("UPDATE loyalty_customers SET balance = -1").contains("CHECK"));
    // A debit the balance cannot cover fails: its lots hold too little, and the
    // balance's CHECK would fail through its trigger too.
    let overdraw = "INSERT INTO loyalty_entries (customer, kind, amount, idempotency_key, author_type, author_id, \
                    created_at) VALUES (1, 'adjustment', -101, 'x', 'admin', 1, 0)";
    let error = fails(overdraw);
    assert!(error.contains("loyalty_lots hold fewer points") || error.contains("CHECK"), "{error}");
    let duplicate = "INSERT INTO loyalty_entries (customer, kind, amount, idempotency_key, author_type, created_at) \
                     VALUES (1, 'welcome_bonus', 1, 'welcome:1', 'system', 0)";
    assert!(fails(duplicate).contains("UNIQUE"));
    let balance: i64 = raw.query_row("SELECT balance FROM loyalty_customers WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(balance, 100);
}

/// A small deterministic generator (xorshift64*), so the differential test
/// needs no extra dependency and every run does the same thing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.next() as usize % items.len()].clone()
    }
}

/// A result both stores agreed on (not `must_use`: most steps only compare).
struct Agreed<T>(T);

/// Applies `$call` to both stores and requires identical results.
macro_rules! same {
    ($mem:expr, $sql:expr, $what:expr, |$s:ident| $call:expr) => {{
        let expected = {
            let $s = &$mem;
            $call.await
        };
        let got = {
            let $s = &$sql;
            $call.await
        };
        assert_eq!(got, expected, "step {}", $what);
        Agreed(got)
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operations_match_the_memory_store() {
    let scratch = Scratch::new("differential");
    let sql = SqliteStore::open(scratch.db()).unwrap();
    let mem = MemoryStore::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let keys: Vec<String> =
        (0..25).map(|i| format!("key-{i}")).chain(["welcome:1".into(), "redemption:2".into()]).collect();
    let langs = [Language::Ru, Language::En, Language::Vi];
    for step in 0..2_000 {
        let now = T0.plus(rng.range(-2, 40) * 3_600);
        let customer = match rng.range(0, 2) {
            0 => CustomerRef::Id(CustomerId(rng.range(0, 14))),
            1 => CustomerRef::Telegram(TelegramUserId(rng.range(100, 114))),
            _ => CustomerRef::Code(CustomerCode::from_random([rng.range(0, 14) as u8, 0, 0, 0, 1])),
        };
        let partner = if rng.range(0, 1) == 0 {
            PartnerRef::Id(PartnerId(rng.range(0, 6)))
        } else {
            PartnerRef::Telegram(TelegramUserId(rng.range(200, 206)))
        };
        // Mostly fresh keys; some reused ones (replays and conflicts) and reserved ones.
        let key = if rng.range(0, 9) < 6 { format!("fresh-{step}") } else { rng.pick(&keys) };
        let what = format!("{step}");
        match rng.range(0, 17) {
            0 | 1 => {
                let n = rng.range(0, 14);
                let req = NewCustomer {
                    telegram_id: TelegramUserId(100 + n),
                    // Mostly the code of customer n; sometimes another one (CodeTaken).
                    code: CustomerCode::from_random([
                        if rng.range(0, 4) == 0 { rng.range(0, 14) } else { n } as u8,
                        0,
                        0,
                        0,
                        1,
                    ]),
                    first_name: format!("c{n}"),
                    username: None,
                    language: rng.pick(&langs),
                    referrer: Some(CustomerCode::from_random([rng.range(0, 16) as u8, 0, 0, 0, 1])),
                    legacy_referrer: None,
                    via_partner: None,
                    welcome_bonus: rng.range(0, 3) * 50,
                    referral_bonus: rng.range(0, 2) * 25,
                    now,
                };
                same!(mem, sql, what, |s| s.register_customer(req.clone()));
            }
            2 => {
                let n = rng.range(200, 206);
                let req = PartnerApplication {
                    telegram_id: TelegramUserId(n),
                    name: format!("p{n}"),
                    category: "shop".into(),
                    terms: PartnerTerms {
                        earn_rate_bps: rng.range(0, 3_000) as u32,
                        max_redeem_share_bps: rng.range(0, 10_000) as u32,
                        daily_credit_limit: rng.range(0, 5_000),
                    },
                    language: rng.pick(&langs),
                    now,
                };
                same!(mem, sql, what, |s| s.apply_partner(req.clone()));
            }
            3 => {
                let d = rng.pick(&[
                    PartnerDecision::Approve,
                    PartnerDecision::Approve,
                    PartnerDecision::Approve,
                    PartnerDecision::Approve,
                    PartnerDecision::Reject,
                    PartnerDecision::Suspend,
                ]);
                let id = PartnerId(rng.range(0, 6));
                same!(mem, sql, what, |s| s.decide_partner(DecidePartner {
                    partner: id,
                    decision: d,
                    admin: TelegramUserId(1),
                    now
                }));
            }
            4..=6 => {
                let req = CreditPurchase {
                    partner,
                    customer: customer.clone(),
                    purchase: rng.pick(&[0, 1, 99, 1_000, 1_000, 2_000, 5_000, 20_000]),
                    idempotency_key: key,
                    day_start: now.day_start(),
                    now,
                };
                same!(mem, sql, what, |s| s.credit_purchase(req.clone()));
            }
            7 | 8 => {
                let req = OpenRedemption {
                    partner,
                    customer: customer.clone(),
                    points: rng.range(0, 300),
                    purchase: rng.pick(&[0, 100, 1_000, 3_000]),
                    idempotency_key: key,
                    now,
                    expires_at: now.plus(rules::REDEMPTION_TTL_SECS),
                };
                same!(mem, sql, what, |s| s.open_redemption(req.clone()));
            }
            9 | 10 => {
                let open = mem.redemptions().unwrap();
                let req = if !open.is_empty() && rng.range(0, 2) > 0 {
                    // A real request answered by its own customer, now or too late.
                    let r = rng.pick(&open);
                    let at = if rng.range(0, 4) == 0 { r.expires_at.plus(1) } else { r.created_at.plus(60) };
                    AnswerRedemption { id: r.id, customer: CustomerRef::Id(r.customer), now: at }
                } else {
                    AnswerRedemption { id: RedemptionId(rng.range(0, 40)), customer: customer.clone(), now }
                };
                if rng.range(0, 3) == 0 {
                    same!(mem, sql, what, |s| s.decline_redemption(req.clone()));
                } else {
                    same!(mem, sql, what, |s| s.confirm_redemption(req.clone()));
                }
            }
            11 => {
                same!(mem, sql, what, |s| s.expire_redemptions(now));
            }
            12 => {
                let with_partner: Vec<LedgerEntry> =
                    mem.entries().unwrap().into_iter().filter(|e| e.partner.is_some()).collect();
                let (entry, partner) = if !with_partner.is_empty() && rng.range(0, 2) > 0 {
                    // A real entry, by its own partner.
                    let e = rng.pick(&with_partner);
                    (e.id, e.partner.map_or(partner, PartnerRef::Id))
                } else {
                    (EntryId(rng.range(0, 150)), partner)
                };
                let req = ReverseEntry {
                    entry,
                    partner,
                    idempotency_key: key,
                    not_before: now.plus(-rules::REVERSAL_WINDOW_SECS),
                    now,
                };
                same!(mem, sql, what, |s| s.reverse_entry(req.clone()));
            }
            13 => {
                let req = AdjustBalance {
                    customer: customer.clone(),
                    amount: rng.range(-150, 150),
                    reason: rng.pick(&["a".to_string(), "b".to_string()]),
                    admin: TelegramUserId(rng.range(1, 2)),
                    idempotency_key: key,
                    now,
                };
                same!(mem, sql, what, |s| s.adjust_balance(req.clone()));
            }
            14 => {
                let blocked = rng.range(0, 3) == 0;
                same!(mem, sql, what, |s| s.set_blocked(SetBlocked {
                    who: customer.clone(),
                    blocked,
                    admin: TelegramUserId(1),
                    now
                }));
                let lang = rng.pick(&langs);
                same!(mem, sql, what, |s| s.set_language(customer.clone(), lang));
            }
            15 => {
                let (kind, user, limit) =
                    (QuotaKind::Assistant, TelegramUserId(rng.range(1, 3)), rng.range(0, 3) as u32);
                same!(mem, sql, what, |s| s.consume_quota(ConsumeQuota { kind, user, day: now.day_start(), limit }));
                let (bot, update) = (BotId(rng.pick(&[1, 2, 8_000_000_001])), rng.range(1, 5));
                if rng.range(0, 2) == 0 {
                    same!(mem, sql, what, |s| s.release_update(bot, update));
                } else {
                    same!(mem, sql, what, |s| s.claim_update(UpdateClaim {
                        bot,
                        update_id: update,
                        now,
                        body: None,
                        finished: Vec::new()
                    }));
                }
            }
            _ => {
                let req = NewBroadcast {
                    audience: rng.pick(&[Audience::Customers, Audience::Partners]),
                    text: rng.pick(&["hi".to_string(), "sale".to_string()]),
                    admin_chat: 1,
                    idempotency_key: key,
                    now,
                };
                same!(mem, sql, what, |s| s.create_broadcast(req.clone()));
                let (job, n) = (BroadcastId(rng.range(1, 3)), rng.range(0, 4) as u32);
                if mem.pending_broadcasts().await.unwrap().iter().any(|j| j.id == job) {
                    same!(mem, sql, what, |s| s.claim_broadcast_batch(job, n));
                    same!(mem, sql, what, |s| s.record_broadcast(job, n, 1));
                }
            }
        }
        if step % 100 == 99 {
            same!(mem, sql, what, |s| s.program_stats(now.day_start()));
        }
    }

    // The final state, read every way.
    let entries = mem.entries().unwrap();
    assert!(entries.len() > 100, "too few entries to be a meaningful comparison: {}", entries.len());
    assert!(entries.iter().any(|e| e.kind == EntryKind::Reversal), "no reversal happened");
    assert!(entries.iter().any(|e| e.kind == EntryKind::Redemption), "no redemption happened");
    for id in 0..16 {
        let who = CustomerRef::Id(CustomerId(id));
        same!(mem, sql, "summary", |s| s.customer_summary(who.clone(), 1_000));
        same!(mem, sql, "page", |s| s.customer_entries(EntriesPage {
            customer: CustomerId(id),
            limit: 3,
            before: Some(EntryId(40))
        }));
    }
    for id in 0..8 {
        let who = PartnerRef::Id(PartnerId(id));
        same!(mem, sql, "partner", |s| s.partner(who));
        same!(mem, sql, "partner stats", |s| s.partner_stats(who, T0.day_start(), T0.day_start().plus(-6 * 86_400)));
        let days = DailyFigures { scope: FiguresScope::Partner(who), from: T0.day_start().plus(-86_400), days: 4 };
        same!(mem, sql, "partner's daily figures", |s| s.daily_figures(days));
    }
    let days = DailyFigures { scope: FiguresScope::Program, from: T0.day_start().plus(-86_400), days: 4 };
    same!(mem, sql, "program's daily figures", |s| s.daily_figures(days));
    for status in [None, Some(PartnerStatus::Applied), Some(PartnerStatus::Approved), Some(PartnerStatus::Suspended)] {
        same!(mem, sql, "partners", |s| s.list_partners(status));
    }
    same!(mem, sql, "program stats", |s| s.program_stats(T0.day_start().plus(86_400)));
    same!(mem, sql, "broadcasts", |s| s.pending_broadcasts());
    same!(mem, sql, "audit log", |s| s.audit_log(AuditPage { before: None, limit: MAX_AUDIT_PAGE }));
}

#[tokio::test]
async fn sums_past_64_bits_saturate_like_the_memory_store() {
    // Absurd but allowed terms: every accrual is ~4.3 × 10^17 points, so the
    // partner's daily total and the points outstanding pass i64::MAX after
    // about 22 purchases and SQLite's SUM would overflow.
    let scratch = Scratch::new("overflow");
    let sql = SqliteStore::open(scratch.db()).unwrap();
    let mem = MemoryStore::new();
    let terms = PartnerTerms { earn_rate_bps: u32::MAX, max_redeem_share_bps: 0, daily_credit_limit: Points::MAX };
    let apply = PartnerApplication {
        telegram_id: TelegramUserId(5),
        name: "big".into(),
        category: "big".into(),
        terms,
        language: Language::En,
        now: T0,
    };
    same!(mem, sql, "apply", |s| s.apply_partner(apply.clone()));
    same!(mem, sql, "approve", |s| s.decide_partner(DecidePartner {
        partner: PartnerId(1),
        decision: PartnerDecision::Approve,
        admin: TelegramUserId(1),
        now: T0
    }));
    for i in 0..30_u8 {
        let c = same!(mem, sql, "register", |s| s.register_customer(new_customer(1_000 + i64::from(i), i))).0.unwrap();
        let req = CreditPurchase {
            partner: PartnerRef::Id(PartnerId(1)),
            customer: CustomerRef::Id(c.customer.id),
            purchase: rules::MAX_PURCHASE,
            idempotency_key: format!("big-{i}"),
            day_start: T0.day_start(),
            now: T0,
        };
        same!(mem, sql, format!("credit {i}"), |s| s.credit_purchase(req.clone()));
    }
    let stats = same!(mem, sql, "program stats", |s| s.program_stats(T0.day_start())).0.unwrap();
    assert_eq!(stats.points_outstanding, Points::MAX, "{stats:?}");
    assert_eq!(stats.today.issued, Points::MAX, "{stats:?}");
    same!(mem, sql, "partner stats", |s| s.partner_stats(PartnerRef::Id(PartnerId(1)), T0.day_start(), T0.day_start()));
    for scope in [FiguresScope::Program, FiguresScope::Partner(PartnerRef::Id(PartnerId(1)))] {
        let days = DailyFigures { scope, from: T0.day_start(), days: 2 };
        let figures = same!(mem, sql, "daily figures", |s| s.daily_figures(days)).0.unwrap();
        assert_eq!(figures[0].issued, Points::MAX, "{figures:?}");
    }
}

#[test]
fn no_statement_scans_a_table_that_grows() {
    // The statements run with this build's SQLite; a planner that picks a
    // full scan of the ledger on a hot path (an idempotency check did, before
    // its join order was fixed) turns every call into O(rows) under the write
    // lock. Only the use cases that return a whole table may scan it.
    // (`campaigns` lists the newest up to its limit: a scan backwards by id that stops there;
    // `outbox_state` counts the pending and the failed messages, each over its partial index;
    // `stamp_cards` lists every partner's running card, at most one per partner.)
    const WHOLE_TABLE: [&str; 6] =
        ["list_partners", "pending_broadcasts", "program_stats", "campaigns", "outbox_state", "stamp_cards"];
    // A scan an EXISTS ends at its first row: `enqueue_messages` asks whether any webhook endpoint is
    // registered, over the partial index that holds only the endpoints not removed — each of its
    // entries answers.
    const FIRST_ROW_ONLY: [(&str, &str); 1] =
        [("enqueue_messages", "SCAN loyalty_webhooks USING INDEX loyalty_webhooks_active")];
    let scratch = Scratch::new("plans");
    let path = scratch.db();
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(d1::TEMP_SCRATCH).unwrap();
    // Inserting a parent row shows a scan of each table referencing it: SQLite's
    // check for pending deferred foreign key violations, which runs only when
    // there are some (never here: every key is checked immediately).
    let children = |parent: &str| -> Vec<String> {
        d1::TABLES
            .iter()
            .filter(|child| {
                let sql =
                    format!("SELECT count(*) FROM pragma_foreign_key_list('{child}') WHERE \"table\" = '{parent}'");
                conn.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap() > 0
            })
            .map(|child| format!("SCAN {child}"))
            .collect()
    };
    let mut scans = Vec::new();
    for function in d1::use_cases().filter(|f| !WHOLE_TABLE.contains(f)) {
        for sql in d1::claimed_batch(function).unwrap() {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
            let plan = stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3)).unwrap();
            let inserted = sql.strip_prefix("INSERT INTO ").and_then(|rest| rest.split_whitespace().next());
            let allowed = inserted.map(children).unwrap_or_default();
            for line in plan.map(Result::unwrap) {
                // The scratch row (`loyalty_op`, alias `o`), constants and subquery results are not tables.
                // Nor is the request's own JSON (`json_each`, a virtual table: an import's batch).
                let scratch_or_result = ["SCAN loyalty_op", "SCAN o", "SCAN CONSTANT ROW", "SCAN (subquery-", "SCAN a"]
                    .iter()
                    .any(|p| line == *p || (p.ends_with('-') && line.starts_with(p)))
                    || line.contains(" VIRTUAL TABLE INDEX ")
                    // …and an import's batch copied into `loyalty_import_rows` (alias `j`), emptied after each call.
                    || line == "SCAN j" || line.starts_with("SCAN j USING ")
                    // …and the campaigns offering an award on a credit (a CTE over the running ones).
                    || line == "SCAN offered";
                let first_row_only = FIRST_ROW_ONLY.contains(&(function, line.as_str()));
                if line.starts_with("SCAN ") && !scratch_or_result && !allowed.contains(&line) && !first_row_only {
                    scans.push(format!("{function}: {line} in {sql}"));
                }
            }
        }
    }
    assert!(scans.is_empty(), "full scans:\n{}", scans.join("\n"));
}

/// A D1 database's schema, as `wrangler d1 export` dumps it: the migrations of
/// loyalty-edge/migrations/ (the first `count`), recorded in `d1_migrations`.
fn d1_dump(count: usize) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../loyalty-edge/migrations");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    let mut dump = String::from(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE IF NOT EXISTS \"d1_migrations\"(id INTEGER PRIMARY KEY \
         AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);\n",
    );
    for name in names.iter().take(count) {
        dump.push_str(&std::fs::read_to_string(dir.join(name)).unwrap());
        dump.push_str(&format!("\nINSERT INTO \"d1_migrations\" (\"name\") VALUES('{name}');\n"));
    }
    dump
}

#[tokio::test]
async fn a_d1_dump_becomes_a_sqlite_store() {
    let scratch = Scratch::new("d1-dump");
    // The constant names the last D1 migration, so a new one cannot be forgotten here.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../loyalty-edge/migrations");
    let last = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).max();
    assert_eq!(last.as_deref(), Some(sqlite::D1_LATEST_MIGRATION));

    let full = format!(
        "{}\nINSERT INTO loyalty_customers (id, telegram_id, code, first_name, language, balance, blocked, created_at) \
         VALUES (7, 7007, 'ABCD2345', 'Anna', 'vi', 0, 0, 1700000000);\n",
        d1_dump(usize::MAX)
    );
    let path = scratch.dir.join("from-d1.db");
    sqlite::from_d1_dump(&full, &path).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let page = store.export_customers(ExportCustomers { after: None, limit: 10 }).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!((page[0].customer.telegram_id, page[0].customer.language), (TelegramUserId(7007), Language::Vi));
    // It is a store like any other: it takes a credit.
    let shop = partner(&store, 8008, PartnerTerms::default()).await;
    store.credit_purchase(credit_req(&shop, &page[0].customer, 1_000, "after-d1")).await.unwrap();
    let err = sqlite::from_d1_dump(&full, &path).unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");

    // Refused, leaving nothing behind: migrations missing, not a loyalty-rs database, not SQL.
    let old = scratch.dir.join("old.db");
    let err = sqlite::from_d1_dump(&d1_dump(2), &old).unwrap_err();
    assert!(err.to_string().contains(sqlite::D1_LATEST_MIGRATION), "{err}");
    assert!(!old.exists());
    let err = sqlite::from_d1_dump("CREATE TABLE t (x);", &old).unwrap_err();
    assert!(err.to_string().contains("not a dump of a loyalty-rs D1 database"), "{err}");
    let err = sqlite::from_d1_dump("this is not SQL", &old).unwrap_err();
    assert!(err.to_string().contains("does not load"), "{err}");
    assert!(!old.exists());

    // A child's rows before its parent's (a table rebuilt by a later migration comes
    // later in a dump) load; a row whose parent the dump lacks is refused.
    let lot = "INSERT INTO loyalty_lots (id, customer, entry, amount, remaining) VALUES (1, 7, NULL, 5, 5);";
    let ordered = format!("{}\n{lot}\n{}", d1_dump(usize::MAX), full.lines().last().unwrap());
    sqlite::from_d1_dump(&ordered, &scratch.dir.join("ordered.db")).unwrap();
    let dangling = format!("{}\n{lot}\n", d1_dump(usize::MAX));
    let err = sqlite::from_d1_dump(&dangling, &old).unwrap_err();
    assert!(err.to_string().contains("1 rows reference rows the dump does not hold"), "{err}");
    assert!(!old.exists());
}

/// The history scenario that measures D1's rows inside workerd
/// (`loyalty_testkit::history`) plays on SQLite, each update it measures one
/// batch however long the history: here batches stand in for rows.
#[tokio::test]
async fn the_history_scenario_plays_one_batch_per_update() {
    use loyalty_testkit::history::{Rows, assert_level, costs_as_history_grows};
    let scratch = Scratch::new("history");
    let store = SqliteStore::open(scratch.db()).unwrap();
    let env = TestEnv::with(std::sync::Arc::new(store.clone()), test_config());
    let costs = costs_as_history_grows(&env, || Rows { read: store.batches(), written: store.batches() }).await;
    assert_level(&costs, &[]);
    let one = Rows { read: 1, written: 1 };
    assert!(costs.iter().all(|c| c.before == one && c.after == one), "{costs:#?}");
}

/// A month of a café (`loyalty_testkit::cafe_month`) ends on SQLite as it
/// does on the model store.
#[tokio::test]
async fn a_month_of_a_cafe_ends_as_on_the_model_store() {
    let scratch = Scratch::new("cafe-month");
    let store = SqliteStore::open(scratch.db()).unwrap();
    let on_sqlite = loyalty_testkit::cafe_month::play(&TestEnv::with(std::sync::Arc::new(store), test_config())).await;
    let on_model = loyalty_testkit::cafe_month::play(&TestEnv::new()).await;
    assert_eq!(on_sqlite, on_model);
    assert!(on_model.is_ok(), "{on_model:?}");
}

/// A schema-8 file (before erasures: every audit record had an admin, no
/// `erased` action) opens with its audit log kept and takes erasures.
#[tokio::test]
async fn a_schema_8_file_keeps_its_audit_log_and_takes_erasures() {
    let scratch = Scratch::new("audit-upgrade");
    let path = scratch.db();
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE loyalty_audit_log;
         CREATE TABLE loyalty_audit_log (
             id       INTEGER PRIMARY KEY,
             admin    INTEGER NOT NULL,
             action   TEXT    NOT NULL CHECK (action IN ('adjusted', 'blocked', 'partner_decided')),
             customer INTEGER REFERENCES loyalty_customers (id),
             partner  INTEGER REFERENCES loyalty_partners (id),
             entry    INTEGER REFERENCES loyalty_entries (id),
             amount   INTEGER,
             reason   TEXT,
             blocked  INTEGER CHECK (blocked IN (0, 1)),
             decision TEXT    CHECK (decision IN ('approve', 'reject', 'suspend')),
             status   TEXT    CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
             at       INTEGER NOT NULL
         ) STRICT;
         INSERT INTO loyalty_customers (id, telegram_id, code, first_name, language, balance, blocked, created_at)
         VALUES (7, 7007, 'ABCD2345', 'Anna', 'vi', 0, 1, 1700000000);
         INSERT INTO loyalty_audit_log (id, admin, action, customer, blocked, at) VALUES (4, 1, 'blocked', 7, 1, 1700000100);
         PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let page = AuditPage { before: None, limit: 10 };
    let kept = AuditRecord {
        id: 4,
        admin: Some(TelegramUserId(1)),
        action: AuditAction::Blocked { customer: CustomerId(7), blocked: true },
        at: Timestamp(1_700_000_100),
    };
    assert_eq!(store.audit_log(page).await.unwrap(), std::slice::from_ref(&kept));
    let erase = EraseCustomer { who: CustomerRef::Telegram(TelegramUserId(7007)), admin: None, now: T0 };
    let erased = store.erase_customer(erase).await.unwrap();
    assert!(erased.customer.is_erased() && erased.customer.first_name.is_empty());
    let audit = store.audit_log(page).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(
        (audit[0].id, audit[0].admin, &audit[0].action),
        (5, None, &AuditAction::Erased { customer: CustomerId(7) })
    );
    assert_eq!(audit[1], kept);
}

/// A schema-12 file (webhook endpoints without registrations' keys) opens
/// with its endpoints kept, keyless, and takes keyed registrations: a key
/// replays, another owner's key of the same text is its own.
#[tokio::test]
async fn a_schema_12_file_keeps_its_webhooks_and_takes_keys() {
    use loyalty_core::outgoing::WebhookEvent;
    let scratch = Scratch::new("webhook-keys-upgrade");
    let path = scratch.db();
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE loyalty_webhooks;
         CREATE TABLE loyalty_webhooks (
             id              INTEGER PRIMARY KEY,
             partner         INTEGER REFERENCES loyalty_partners (id),
             url             TEXT    NOT NULL CHECK (length(url) <= 500),
             events          TEXT    NOT NULL CHECK (json_valid(events) AND json_type(events) = 'array'),
             secret          TEXT    NOT NULL,
             created_at      INTEGER NOT NULL,
             removed_at      INTEGER,
             last_attempt_at INTEGER,
             last_status     INTEGER,
             last_error      TEXT,
             last_success_at INTEGER
         ) STRICT;
         CREATE INDEX loyalty_webhooks_active ON loyalty_webhooks (partner, id) WHERE removed_at IS NULL;
         INSERT INTO loyalty_webhooks (id, url, events, secret, created_at, last_status)
         VALUES (3, 'https://old.example.com/h', '[\"points.credited\"]', 'whsec_old_secret_of_24_chars', 1700000000, 200);
         PRAGMA user_version = 12;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = raw.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let keyed: i64 = raw
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'loyalty_webhooks_by_key'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keyed, 1, "the unique index of keys");
    let old = store.webhooks(WebhookOwner::Program).await.unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(
        (old[0].id, old[0].url.as_str(), old[0].last_status),
        (WebhookId(3), "https://old.example.com/h", Some(200))
    );

    let add = |owner, key: &str, secret: &str| AddWebhook {
        owner,
        url: "https://new.example.com/h".into(),
        events: vec![WebhookEvent::TierChanged],
        secret: format!("whsec_{secret:0>32}"),
        now: T0,
        idempotency_key: key.into(),
    };
    let first = store.add_webhook(add(WebhookOwner::Program, "k", "1")).await.unwrap();
    assert!(!first.replayed);
    assert_eq!(first.webhook.id, WebhookId(4), "ids go on after the kept ones");
    let again = store.add_webhook(add(WebhookOwner::Program, "k", "2")).await.unwrap();
    assert_eq!(again, WebhookAdded { webhook: first.webhook.clone(), replayed: true });
    let p = partner(&store, 8008, PartnerTerms::default()).await;
    let theirs = store.add_webhook(add(WebhookOwner::Partner(PartnerRef::Id(p.id)), "k", "3")).await.unwrap();
    assert!(!theirs.replayed && theirs.webhook.id != first.webhook.id, "{theirs:?}");
    assert_eq!(store.webhooks(WebhookOwner::Program).await.unwrap().len(), 2);
    // The index refuses a second row of one owner's key whatever the statements do.
    let dup = raw.execute(
        "INSERT INTO loyalty_webhooks (url, events, secret, created_at, idempotency_key) \
         VALUES ('https://x.example.com/', '[]', 's', 0, 'k')",
        [],
    );
    assert!(dup.is_err(), "{dup:?}");
}
