//! Checks shared by the stores on PostgreSQL (loyalty-native's `PgStore` and
//! `PostgrestStore`), against a real [test database](super::postgres): races
//! between many tasks and connections that go away mid-run. Each check panics
//! on the first thing that is wrong; its database is dropped by the caller
//! (or, after a failure, by the next test process).

use super::postgres::{connect, server_url, url_for};
use crate::requests::{answer, credit_req, customer, open_req, partner};
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Balance, the sum of entries and their count, read straight from the tables
/// of the database `db`.
pub async fn balance_and_sum(db: &str, c: CustomerId) -> (i64, i64, i64) {
    let row = connect(&url_for(db))
        .await
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

/// `count(*)` of `from` (a table and a condition) in the database `db`.
pub async fn count(db: &str, from: &str) -> i64 {
    connect(&url_for(db))
        .await
        .query_one(&format!("select count(*) from {from}"), &[])
        .await
        .unwrap_or_else(|e| panic!("count {from}: {e:?}"))
        .get(0)
}

/// Runs `n` calls at once, each on its own task, and returns their results in order.
///
/// # Panics
/// If a task panics.
pub async fn concurrently<T, Fut>(n: usize, call: impl FnMut(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(call).map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(n);
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    results
}

/// 240 confirmations race for a balance that pays 70 of them: exactly 70 debit
/// it, the rest are refused for the balance and stay pending.
pub async fn concurrent_confirmations_never_overdraw(s: Arc<dyn Storage>, db: &str) {
    let (n, affordable, points) = (240usize, 70i64, 100i64);
    let c = customer(&*s, 1, affordable * points + 55).await;
    let p = partner(&*s, 2, PartnerTerms::default()).await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(s.open_redemption(open_req(&p, &c, points, &format!("o{i}"))).await.expect("open").request.id);
    }
    let results = concurrently(n, |i| {
        let (s, req) = (s.clone(), answer(ids[i], &c));
        async move { s.confirm_redemption(req).await }
    })
    .await;
    let mut ok = 0;
    for r in results {
        match r {
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
    let (balance, sum, entries) = balance_and_sum(db, c.id).await;
    let pending = count(db, "loyalty.redemption_requests where status = 'pending'").await;
    assert_eq!(ok, affordable, "confirmations that succeeded");
    assert_eq!(balance, 55);
    assert_eq!(balance, sum, "balance equals the sum of the entries");
    assert_eq!(entries, 1 + affordable, "welcome bonus plus one debit per confirmation");
    assert_eq!(pending, n as i64 - affordable, "refused requests stay pending");
}

/// 200 tasks credit a purchase with one idempotency key: it applies once and
/// every caller gets that entry. Returns the customer and the partner (the
/// customer's balance is then 500).
pub async fn one_credit_key_from_many_tasks_applies_once(s: &Arc<dyn Storage>, db: &str) -> (Customer, Partner) {
    let c = customer(&**s, 1, 0).await;
    let p = partner(&**s, 2, PartnerTerms::default()).await;
    let results = concurrently(200, |_| {
        let (s, req) = (s.clone(), credit_req(&p, &c, 10_000, "same-key"));
        async move { s.credit_purchase(req).await.expect("every caller gets the result") }
    })
    .await;
    assert_eq!(results.iter().filter(|r| !r.replayed).count(), 1, "applied once");
    assert!(results.iter().all(|r| r.entry == results[0].entry), "same entry for everyone");
    assert_eq!(balance_and_sum(db, c.id).await, (500, 500, 1));
    (c, p)
}

/// 200 credits race for the last 500 points of a partner's daily limit: five
/// purchases of 100 fit, the rest are refused, and no balance drifts from its entries.
pub async fn concurrent_credits_respect_the_daily_limit(s: Arc<dyn Storage>, db: &str) {
    // Many customers, so that only the partner's limit serialises the credits.
    let mut customers = Vec::new();
    for tg in 0..20 {
        customers.push(customer(&*s, 100 + tg, 0).await);
    }
    // 100 % back, 7 000 points a day, 6 500 of them used: 5 more purchases of 100 fit,
    // and the first wave of concurrent credits all start below the limit.
    let p =
        partner(&*s, 2, PartnerTerms { earn_rate_bps: 10_000, max_redeem_share_bps: 3_000, daily_credit_limit: 7_000 })
            .await;
    s.credit_purchase(credit_req(&p, &customers[0], 6_500, "used")).await.expect("first credit");
    let results = concurrently(200, |i| {
        let (s, req) = (s.clone(), credit_req(&p, &customers[i % 20], 100, &format!("near-limit-{i}")));
        async move { s.credit_purchase(req).await }
    })
    .await;
    let mut ok = 0;
    for r in results {
        match r {
            Ok(_) => ok += 1,
            Err(StoreError::Rejected(Rejection::DailyLimitExceeded { remaining: 0 })) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    let (mut balances, mut sums) = (0, 0);
    for c in &customers {
        let (balance, sum, _) = balance_and_sum(db, c.id).await;
        assert_eq!(balance, sum, "balance of {} equals the sum of its entries", c.id);
        balances += balance;
        sums += sum;
    }
    assert_eq!(ok, 5, "credits within the limit");
    assert_eq!((balances, sums), (7_000, 7_000));
}

/// Credits and reversals of one partner race: 60 credits and the reversals of
/// 60 earlier ones at once. Whatever order they commit in, the partner's
/// running total of the day (`loyalty.partner_days`), when it is still valid
/// (its `through` is the partner's newest entry), is the sum the rule defines;
/// and a credit after the race sees that sum: the partner's limit is then set
/// so that exactly 3 more purchases of 100 fit.
pub async fn concurrent_credits_and_reversals_keep_the_days_total(s: Arc<dyn Storage>, db: &str) {
    let mut customers = Vec::new();
    for tg in 0..20 {
        customers.push(customer(&*s, 100 + tg, 0).await);
    }
    let terms = PartnerTerms { earn_rate_bps: 10_000, max_redeem_share_bps: 3_000, daily_credit_limit: 1_000_000 };
    let p = partner(&*s, 2, terms).await;
    let mut earlier = Vec::new();
    for i in 0..60 {
        let credited = s.credit_purchase(credit_req(&p, &customers[i % 20], 100, &format!("before-{i}"))).await;
        earlier.push(credited.expect("an earlier credit").entry.id);
    }
    let results = concurrently(120, |i| {
        let s = s.clone();
        let (credit, entry) = (credit_req(&p, &customers[i % 20], 100, &format!("race-{i}")), earlier[i / 2]);
        let reversal = ReverseEntry {
            entry,
            partner: PartnerRef::Id(p.id),
            idempotency_key: format!("reverse-{i}"),
            not_before: crate::requests::T0.plus(-3_600),
            now: crate::requests::T0,
        };
        async move {
            if i % 2 == 0 {
                s.credit_purchase(credit).await.map(|_| ())
            } else {
                s.reverse_entry(reversal).await.map(|_| ())
            }
        }
    })
    .await;
    for r in results {
        r.expect("every credit and reversal applies");
    }
    let sum = "select coalesce(sum(e.amount), 0)::bigint from loyalty.entries e
                where e.partner_id = $1 and e.created_at >= $2 and e.kind = 'accrual'
                  and not exists (select 1 from loyalty.entries r where r.reverses = e.id)";
    let client = connect(&url_for(db)).await;
    let day = crate::requests::T0.day_start().0;
    let used: i64 = client.query_one(sum, &[&p.id.0, &day]).await.expect("the day's sum").get(0);
    // 60 earlier credits, 60 more, 60 reversed.
    assert_eq!(used, 6_000, "the day's sum");
    let total = client
        .query_opt(
            "select d.credited::bigint, d.through = (select max(e.id) from loyalty.entries e where e.partner_id = $1)
               from loyalty.partner_days d where d.partner_id = $1 and d.day_start = $2",
            &[&p.id.0, &day],
        )
        .await
        .expect("the running total");
    if let Some(row) = total
        && row.get::<_, bool>(1)
    {
        assert_eq!(row.get::<_, i64>(0), used, "a valid running total is the sum");
    }
    client
        .execute("update loyalty.partners set daily_credit_limit = $2 where id = $1", &[&p.id.0, &(used + 300)])
        .await
        .expect("set the limit");
    for (i, c) in customers.iter().take(3).enumerate() {
        s.credit_purchase(credit_req(&p, c, 100, &format!("after-{i}"))).await.expect("within the limit");
    }
    let over = s.credit_purchase(credit_req(&p, &customers[3], 100, "after-3")).await;
    assert!(
        matches!(over, Err(StoreError::Rejected(Rejection::DailyLimitExceeded { remaining: 0 }))),
        "the limit holds after the race: {over:?}"
    );
}

/// Eight tasks credit purchases while the database's connections are
/// terminated again and again: calls fail as unavailable (temporary), nothing
/// is half-applied, and afterwards retrying the failed keys applies each once.
/// A call after the outage may fail as unavailable `retries` times before it
/// goes through (a pool learns a connection is gone when it uses it); `log`
/// tells what the server said when no call failed.
pub async fn terminated_connections_fail_as_unavailable_and_recover(
    s: Arc<dyn Storage>,
    db: &str,
    retries: u32,
    log: impl Fn() -> String,
) {
    let c = customer(&*s, 1, 0).await;
    let p = partner(
        &*s,
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
                            assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
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
                &[&db],
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
    assert!(!failed_keys.is_empty(), "no call failed while the connections were terminated: {}", log());

    // Nothing half-applied: every entry moved the balance.
    let (balance, sum, entries) = balance_and_sum(db, c.id).await;
    assert_eq!(balance, sum, "balance equals the sum of the entries");
    assert!(entries as usize >= ok_keys.len() && entries as usize <= ok_keys.len() + failed_keys.len());

    // Calls work again; retrying the failed keys applies each exactly once. A
    // caller retries a call that fails as unavailable, as a webhook's 503 makes
    // Telegram do.
    let retried = |key: String| {
        let (s, p, c) = (s.clone(), p.clone(), c.clone());
        async move {
            let mut attempt = 0;
            loop {
                match s.credit_purchase(credit_req(&p, &c, 7, &key)).await {
                    Err(StoreError::Unavailable(_)) if attempt < retries => {
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
    let (balance, sum, entries) = balance_and_sum(db, c.id).await;
    let total = ok_keys.len() + failed_keys.len();
    assert_eq!(entries as usize, total, "one entry per key");
    assert_eq!((balance, sum), (7 * total as i64, 7 * total as i64));
}

/// The tests every store on PostgreSQL shares, each on a fresh database:
/// `concurrent_confirmations_never_overdraw` and
/// `concurrent_credits_respect_the_daily_limit`,
/// `concurrent_credits_and_reversals_keep_the_days_total` (the checks of
/// [`pg_checks`](crate::services::pg_checks) of those names) and
/// `folds_an_update_claim_into_its_first_call` ([`check_fold_claim`](crate::folding::check_fold_claim))
/// and `every_update_is_one_request` ([`requests_per_update`](crate::round_trips::requests_per_update)).
/// `fresh` makes a test database (with a `name` and `async fn drop_db(self)`),
/// `store` a store on it, named `db`.
///
/// ```ignore
/// loyalty_testkit::pg_store_tests!(fresh: TestDb::new(), store: |db| db.store().await);
/// ```
#[macro_export]
macro_rules! pg_store_tests {
    (fresh: $fresh:expr, store: |$db:ident| $store:expr $(,)?) => {
        $crate::pg_store_tests!(@check $fresh, $db, $store, concurrent_confirmations_never_overdraw);
        $crate::pg_store_tests!(@check $fresh, $db, $store, concurrent_credits_respect_the_daily_limit);
        $crate::pg_store_tests!(@check $fresh, $db, $store, concurrent_credits_and_reversals_keep_the_days_total);

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn folds_an_update_claim_into_its_first_call() {
            let $db = $fresh.await;
            let outcome = $crate::folding::check_fold_claim(std::sync::Arc::new($store)).await;
            $db.drop_db().await;
            outcome.unwrap();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_update_is_one_request() {
            let $db = $fresh.await;
            let counted = std::sync::Arc::new($crate::round_trips::CountingBackend::new($store));
            let env = $crate::fakes::TestEnv::with(counted.clone(), $crate::fakes::test_config());
            let costs = $crate::round_trips::requests_per_update(&env, || counted.requests()).await;
            $db.drop_db().await;
            $crate::round_trips::assert_one_request_each(&costs);
        }
    };
    (@check $fresh:expr, $db:ident, $store:expr, $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let $db = $fresh.await;
            $crate::services::pg_checks::$check(std::sync::Arc::new($store), &$db.name).await;
            $db.drop_db().await;
        }
    };
}
