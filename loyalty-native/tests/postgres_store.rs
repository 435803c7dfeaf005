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
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_native::store::postgres::{MIGRATIONS, PgOptions, PgStore, migrate};
use loyalty_testkit::conformance::{self, Params};
use loyalty_testkit::services::postgres::{Database, connect, server_url, url_for};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const T0: Timestamp = Timestamp(1_700_006_400 + 36_000);
const ADMIN: TelegramUserId = TelegramUserId(42);

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
// Helpers

async fn customer(s: &PgStore, tg: i64, welcome: Points) -> Customer {
    let code = CustomerCode::from_random([0x11, (tg >> 24) as u8, (tg >> 16) as u8, (tg >> 8) as u8, tg as u8]);
    s.register_customer(NewCustomer {
        telegram_id: TelegramUserId(tg),
        code,
        first_name: format!("c{tg}"),
        username: None,
        language: Language::En,
        referrer: None,
        welcome_bonus: welcome,
        referral_bonus: 0,
        now: T0,
    })
    .await
    .expect("register")
    .customer
}

async fn partner(s: &PgStore, tg: i64, terms: PartnerTerms) -> Partner {
    let applied = s
        .apply_partner(PartnerApplication {
            telegram_id: TelegramUserId(tg),
            name: "Cafe".into(),
            category: "cafe".into(),
            terms,
            language: Language::En,
            now: T0,
        })
        .await
        .expect("apply");
    s.decide_partner(applied.partner.id, PartnerDecision::Approve, ADMIN, T0).await.expect("approve").partner
}

fn credit_req(p: &Partner, c: &Customer, purchase: Points, key: &str) -> CreditPurchase {
    CreditPurchase {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c.id),
        purchase,
        idempotency_key: key.into(),
        day_start: T0.day_start(),
        now: T0,
    }
}

fn open_req(p: &Partner, c: &Customer, points: Points, key: &str) -> OpenRedemption {
    OpenRedemption {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c.id),
        points,
        purchase: points * 10,
        idempotency_key: key.into(),
        now: T0,
        expires_at: T0.plus(600),
    }
}

fn answer(id: RedemptionId, c: &Customer) -> AnswerRedemption {
    AnswerRedemption { id, customer: CustomerRef::Id(c.id), now: T0.plus(60) }
}

/// Balance and the sum of entries, read straight from the tables.
async fn balance_and_sum(db: &TestDb, c: CustomerId) -> (i64, i64, i64) {
    let client = connect(&url_for(&db.name)).await;
    let row = client
        .query_one(
            "select c.balance, coalesce(sum(e.amount), 0)::bigint, count(e.id)
               from loyalty.customers c left join loyalty.entries e on e.customer_id = c.id
              where c.id = $1 group by c.id",
            &[&c.0],
        )
        .await
        .expect("read balance");
    (row.get(0), row.get(1), row.get(2))
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
async fn pg_store_folds_an_update_claim_into_the_first_call() {
    let db = TestDb::new().await;
    let store: Arc<dyn Storage> = Arc::new(db.store().await);
    let outcome = loyalty_testkit::folding::check_fold_claim(store).await;
    db.drop_db().await;
    outcome.unwrap();
}

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
// Races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirmations_never_overdraw() {
    let db = TestDb::new().await;
    let s = Arc::new(db.store().await);
    let (n, affordable, points) = (240usize, 70i64, 100i64);
    let c = customer(&s, 1, affordable * points + 55).await;
    let p = partner(&s, 2, PartnerTerms::default()).await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(s.open_redemption(open_req(&p, &c, points, &format!("o{i}"))).await.expect("open").request.id);
    }
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (s, req) = (s.clone(), answer(*id, &c));
            tokio::spawn(async move { s.confirm_redemption(req).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(v) => {
                assert!(!v.replayed);
                assert!(v.customer.balance >= 0);
                ok += 1;
            }
            Err(StoreError::Rejected(Rejection::InsufficientBalance { balance, requested })) => {
                assert!(balance < requested && requested == points, "{balance} {requested}");
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    let (balance, sum, entries) = balance_and_sum(&db, c.id).await;
    let pending: i64 = connect(&url_for(&db.name))
        .await
        .query_one("select count(*) from loyalty.redemption_requests where status = 'pending'", &[])
        .await
        .expect("pending")
        .get(0);
    db.drop_db().await;
    assert_eq!(ok, affordable, "confirmations that succeeded");
    assert_eq!(balance, 55);
    assert_eq!(balance, sum, "balance equals the sum of the entries");
    assert_eq!(entries, 1 + affordable, "welcome bonus plus one debit per confirmation");
    assert_eq!(pending, n as i64 - affordable, "refused requests stay pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_from_many_tasks_applies_once() {
    let db = TestDb::new().await;
    let s = Arc::new(db.store().await);
    let c = customer(&s, 1, 0).await;
    let p = partner(&s, 2, PartnerTerms::default()).await;
    let n = 200;
    let credits: Vec<_> = (0..n)
        .map(|_| {
            let (s, req) = (s.clone(), credit_req(&p, &c, 10_000, "same-key"));
            tokio::spawn(async move { s.credit_purchase(req).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in credits {
        results.push(t.await.expect("task").expect("every caller gets the result"));
    }
    let adjusts: Vec<_> = (0..n)
        .map(|_| {
            let s = s.clone();
            let req = AdjustBalance {
                customer: CustomerRef::Id(c.id),
                amount: -100,
                reason: "fix".into(),
                admin: ADMIN,
                idempotency_key: "same-adjust".into(),
                now: T0,
            };
            tokio::spawn(async move { s.adjust_balance(req).await })
        })
        .collect();
    let mut adjusted = Vec::new();
    for t in adjusts {
        adjusted.push(t.await.expect("task").expect("every caller gets the result"));
    }
    let (balance, sum, entries) = balance_and_sum(&db, c.id).await;
    db.drop_db().await;
    assert_eq!(results.iter().filter(|r| !r.replayed).count(), 1, "applied once");
    assert!(results.iter().all(|r| r.entry == results[0].entry), "same entry for everyone");
    assert_eq!(adjusted.iter().filter(|r| !r.replayed).count(), 1, "adjusted once");
    assert!(adjusted.iter().all(|r| r.entry == adjusted[0].entry), "same adjustment for everyone");
    assert_eq!((balance, sum, entries), (400, 400, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_credits_respect_the_daily_limit() {
    let db = TestDb::new().await;
    let s = Arc::new(db.store().await);
    // Many customers, so that only the partner's limit serialises the credits.
    let mut customers = Vec::new();
    for tg in 0..20 {
        customers.push(customer(&s, 100 + tg, 0).await);
    }
    // 100 % back, 7 000 points a day, 6 500 of them used: 5 more purchases of 100 fit,
    // and the first wave of concurrent credits all start below the limit.
    let p =
        partner(&s, 2, PartnerTerms { earn_rate_bps: 10_000, max_redeem_share_bps: 3_000, daily_credit_limit: 7_000 })
            .await;
    s.credit_purchase(credit_req(&p, &customers[0], 6_500, "used")).await.expect("first credit");
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (s, req) = (s.clone(), credit_req(&p, &customers[i % 20], 100, &format!("near-limit-{i}")));
            tokio::spawn(async move { s.credit_purchase(req).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(StoreError::Rejected(Rejection::DailyLimitExceeded { remaining: 0 })) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    let (mut balances, mut sums) = (0, 0);
    for c in &customers {
        let (balance, sum, _) = balance_and_sum(&db, c.id).await;
        assert_eq!(balance, sum, "balance of {} equals the sum of its entries", c.id);
        balances += balance;
        sums += sum;
    }
    db.drop_db().await;
    assert_eq!(ok, 5, "credits within the limit");
    assert_eq!((balances, sums), (7_000, 7_000));
}

// ---------------------------------------------------------------------------
// The database goes away

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_connections_fail_as_unavailable_and_recover() {
    let db = TestDb::new().await;
    let options = PgOptions { max_connections: 8, acquire_timeout: Duration::from_secs(20), ..PgOptions::default() };
    let s = Arc::new(PgStore::connect_with(&db.url(), options).await.expect("connect"));
    let c = customer(&s, 1, 0).await;
    let p = partner(
        &s,
        2,
        PartnerTerms { earn_rate_bps: 10_000, max_redeem_share_bps: 3_000, daily_credit_limit: i64::MAX },
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (s, stop, unavailable, p, c) = (s.clone(), stop.clone(), unavailable.clone(), p.clone(), c.clone());
            tokio::spawn(async move {
                let mut failed_keys = Vec::new();
                let mut ok_keys = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("w{w}-{i}");
                    i += 1;
                    match s.credit_purchase(credit_req(&p, &c, 7, &key)).await {
                        Ok(r) => {
                            assert!(!r.replayed);
                            ok_keys.push(key);
                        }
                        Err(e) => {
                            assert!(e.is_temporary(), "a lost connection must be temporary: {e:?}");
                            assert!(matches!(e, StoreError::Unavailable(_)));
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            failed_keys.push(key);
                        }
                    }
                }
                (ok_keys, failed_keys)
            })
        })
        .collect();

    let admin = connect(&server_url()).await;
    let started = Instant::now();
    let mut kills = 0;
    while (kills < 5 || unavailable.load(Ordering::Relaxed) == 0) && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(40)).await;
        admin
            .execute(
                "select pg_terminate_backend(pid) from pg_stat_activity
                  where datname = $1 and pid <> pg_backend_pid()",
                &[&db.name],
            )
            .await
            .expect("terminate backends");
        kills += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let mut ok_keys = Vec::new();
    let mut failed_keys = Vec::new();
    for w in workers {
        let (ok, failed) = w.await.expect("worker");
        ok_keys.extend(ok);
        failed_keys.extend(failed);
    }
    assert!(!failed_keys.is_empty(), "no call failed while the connections were terminated");

    // Nothing half-applied: every entry moved the balance.
    let (balance, sum, entries) = balance_and_sum(&db, c.id).await;
    assert_eq!(balance, sum, "balance equals the sum of the entries");
    assert!(entries as usize >= ok_keys.len() && entries as usize <= ok_keys.len() + failed_keys.len());

    // Calls work again; retrying the failed keys applies each exactly once. A pooled
    // connection that the last kill closed may fail one more call as unavailable (the pool
    // learns it is gone when it is used), so a caller retries, as a webhook's 503 makes
    // Telegram do.
    let retried = |key: String| {
        let (s, p, c) = (s.clone(), p.clone(), c.clone());
        async move {
            let mut attempt = 0;
            loop {
                match s.credit_purchase(credit_req(&p, &c, 7, &key)).await {
                    Err(StoreError::Unavailable(_)) if attempt < 10 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => return other,
                }
            }
        }
    };
    for key in &failed_keys {
        retried(key.clone()).await.expect("retry after the outage");
    }
    for key in &ok_keys {
        assert!(retried(key.clone()).await.expect("replay").replayed);
    }
    let (balance, sum, entries) = balance_and_sum(&db, c.id).await;
    db.drop_db().await;
    let total = ok_keys.len() + failed_keys.len();
    assert_eq!(entries as usize, total, "one entry per key");
    assert_eq!((balance, sum), (7 * total as i64, 7 * total as i64));
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
    let mut counts = Vec::new();
    macro_rules! once {
        ($name:literal, $call:expr) => {{
            let before = s.round_trips();
            let out = $call.await;
            counts.push(($name, s.round_trips() - before));
            out
        }};
    }
    let c = once!(
        "register_customer",
        s.register_customer(NewCustomer {
            telegram_id: TelegramUserId(1),
            code: CustomerCode::from_random([1, 2, 3, 4, 5]),
            first_name: "A".into(),
            username: None,
            language: Language::En,
            referrer: None,
            welcome_bonus: 1_000,
            referral_bonus: 0,
            now: T0,
        })
    )
    .expect("register")
    .customer;
    let applied = once!(
        "apply_partner",
        s.apply_partner(PartnerApplication {
            telegram_id: TelegramUserId(2),
            name: "Cafe".into(),
            category: "cafe".into(),
            terms: PartnerTerms::default(),
            language: Language::En,
            now: T0,
        })
    )
    .expect("apply");
    let p = once!("decide_partner", s.decide_partner(applied.partner.id, PartnerDecision::Approve, ADMIN, T0))
        .expect("approve")
        .partner;
    once!("customer_summary", s.customer_summary(CustomerRef::Id(c.id), 5)).expect("summary");
    once!("customer_entries", s.customer_entries(c.id, 5, None)).expect("entries");
    once!("set_language", s.set_language(CustomerRef::Id(c.id), Language::Ru)).expect("language");
    once!("set_blocked", s.set_blocked(CustomerRef::Id(c.id), false, ADMIN, T0)).expect("blocked");
    let credited = once!("credit_purchase", s.credit_purchase(credit_req(&p, &c, 1_000, "k1"))).expect("credit");
    let opened = once!("open_redemption", s.open_redemption(open_req(&p, &c, 10, "o1"))).expect("open");
    once!("confirm_redemption", s.confirm_redemption(answer(opened.request.id, &c))).expect("confirm");
    let other = s.open_redemption(open_req(&p, &c, 10, "o2")).await.expect("open");
    once!("decline_redemption", s.decline_redemption(answer(other.request.id, &c))).expect("decline");
    once!("expire_redemptions", s.expire_redemptions(T0)).expect("expire");
    let reverse = ReverseEntry {
        entry: credited.entry.id,
        partner: PartnerRef::Id(p.id),
        idempotency_key: "r1".into(),
        not_before: T0.plus(-86_400),
        now: T0,
    };
    once!("reverse_entry", s.reverse_entry(reverse)).expect("reverse");
    let adjust = AdjustBalance {
        customer: CustomerRef::Id(c.id),
        amount: 5,
        reason: "x".into(),
        admin: ADMIN,
        idempotency_key: "a1".into(),
        now: T0,
    };
    once!("adjust_balance", s.adjust_balance(adjust)).expect("adjust");
    once!("partner", s.partner(PartnerRef::Id(p.id))).expect("partner");
    once!("list_partners", s.list_partners(None)).expect("list");
    let hash = rules::hash_api_key("k");
    once!("set_partner_api_key", s.set_partner_api_key(PartnerRef::Id(p.id), hash.clone())).expect("set key");
    once!("partner_by_api_key", s.partner_by_api_key(&hash)).expect("by key");
    once!("partner_stats", s.partner_stats(PartnerRef::Id(p.id), T0.day_start(), T0.day_start())).expect("stats");
    once!("program_stats", s.program_stats(T0.day_start())).expect("program stats");
    once!("claim_update", s.claim_update(BotKind::Client, 1, T0)).expect("claim");
    once!("release_update", s.release_update(BotKind::Client, 1)).expect("release");
    once!("consume_quota", s.consume_quota(QuotaKind::Assistant, TelegramUserId(1), T0.day_start(), 3)).expect("quota");
    let job = once!(
        "create_broadcast",
        s.create_broadcast(NewBroadcast {
            audience: Audience::Customers,
            text: "hi".into(),
            admin_chat: 1,
            idempotency_key: "b1".into(),
            now: T0,
        })
    )
    .expect("broadcast");
    once!("claim_broadcast_batch", s.claim_broadcast_batch(job.id, 10)).expect("batch");
    once!("record_broadcast", s.record_broadcast(job.id, 1, 0)).expect("record");
    once!("pending_broadcasts", s.pending_broadcasts()).expect("pending");
    // Rejections are one round trip too.
    let refused = once!("refused credit", s.credit_purchase(credit_req(&p, &c, 0, "k2")));
    db.drop_db().await;
    assert!(matches!(refused, Err(StoreError::Rejected(Rejection::InvalidAmount))));
    assert_eq!(counts.len(), 28, "every Storage method once, plus a rejection");
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
            "insert into loyalty.processed_updates values ('client', 1, 1)".to_string(),
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
