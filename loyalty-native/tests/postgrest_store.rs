//! [`PostgrestStore`] against a real PostgREST-compatible server, `postrust`,
//! in front of a real PostgreSQL: the storage conformance suite, races, a
//! database that goes away mid-run, one HTTP request per use case (counted by
//! a proxy in between), the anon key, and keys kept out of errors.
//!
//! `postrust` comes from `scripts/postrust.sh`: the tests use `POSTRUST_BIN`,
//! else `${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}/postrust/bin/postrust`, and
//! fail when neither exists. PostgreSQL is `LOYALTY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, with trust authentication: the
//! server logs in as the role `loyalty_test_authenticator`, created here
//! without a password). The process migrates one template database,
//! `loyalty_t_<pid>_tmpl`; every test (and every conformance check) gets a
//! copy of it and its own `postrust` on a free loopback port, configured like
//! Supabase's Data API: JWT secret, anon role `anon`, exposed schemas
//! `public,loyalty`, compatibility mode (PostgREST's paths and RPC results).
//! The service key is an HS256 JWT with `"role": "service_role"`, minted here.

use axum::body::Bytes;
use loyalty_core::Secret;
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_native::store::postgrest::PostgrestStore;
use loyalty_testkit::conformance::{self, Params};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T0: Timestamp = Timestamp(1_700_006_400 + 36_000);
const ADMIN: TelegramUserId = TelegramUserId(42);

use loyalty_testkit::services::postgres::{TestDb, connect, server_url};
use loyalty_testkit::services::postrust::{JWT_SECRET, key_for, service_key};

// ---------------------------------------------------------------------------
// Helpers

async fn customer(s: &dyn Storage, tg: i64, welcome: Points) -> Customer {
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

async fn partner(s: &dyn Storage, tg: i64, terms: PartnerTerms) -> Partner {
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

/// Balance, the sum of entries and their count, read straight from the tables.
async fn balance_and_sum(db: &TestDb, c: CustomerId) -> (i64, i64, i64) {
    let row = db
        .client()
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

// ---------------------------------------------------------------------------
// Conformance

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgrest_store_passes_the_conformance_suite() {
    // One database and one server per check; the previous pair goes when the next check starts.
    let current: Mutex<Option<TestDb>> = Mutex::new(None);
    let report = conformance::run_all(
        || async {
            let previous = current.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(db) = previous {
                db.drop_db().await;
            }
            let db = TestDb::new().await;
            let store = db.server.store();
            *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(db);
            Ok(store)
        },
        &Params::with_concurrency(64),
    )
    .await;
    let last = current.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(db) = last {
        db.drop_db().await;
    }
    assert_eq!(report.results.len(), conformance::checks().len(), "every check ran: {report}");
    report.assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgrest_store_folds_an_update_claim_into_one_request() {
    let db = TestDb::new().await;
    let store: Arc<dyn Storage> = Arc::new(db.server.store());
    let outcome = loyalty_testkit::folding::check_fold_claim(store).await;
    db.drop_db().await;
    outcome.unwrap();
}

// ---------------------------------------------------------------------------
// Races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirmations_never_overdraw() {
    let db = TestDb::new().await;
    let s = Arc::new(db.server.store());
    let (n, affordable, points) = (240usize, 70i64, 100i64);
    let c = customer(&*s, 1, affordable * points + 55).await;
    let p = partner(&*s, 2, PartnerTerms::default()).await;
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
    let pending: i64 = db
        .client()
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
    let s = Arc::new(db.server.store());
    let c = customer(&*s, 1, 0).await;
    let p = partner(&*s, 2, PartnerTerms::default()).await;
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
    let opens: Vec<_> = (0..n)
        .map(|_| {
            let (s, req) = (s.clone(), open_req(&p, &c, 100, "same-open"));
            tokio::spawn(async move { s.open_redemption(req).await })
        })
        .collect();
    let mut opened = Vec::new();
    for t in opens {
        opened.push(t.await.expect("task").expect("every caller gets the request"));
    }
    let (balance, sum, entries) = balance_and_sum(&db, c.id).await;
    let requests: i64 = db
        .client()
        .await
        .query_one("select count(*) from loyalty.redemption_requests", &[])
        .await
        .expect("requests")
        .get(0);
    db.drop_db().await;
    assert_eq!(results.iter().filter(|r| !r.replayed).count(), 1, "applied once");
    assert!(results.iter().all(|r| r.entry == results[0].entry), "same entry for everyone");
    assert_eq!(opened.iter().filter(|r| !r.replayed).count(), 1, "opened once");
    assert!(opened.iter().all(|r| r.request.id == opened[0].request.id), "same request for everyone");
    assert_eq!((balance, sum, entries, requests), (500, 500, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_credits_respect_the_daily_limit() {
    let db = TestDb::new().await;
    let s = Arc::new(db.server.store());
    let mut customers = Vec::new();
    for tg in 0..20 {
        customers.push(customer(&*s, 100 + tg, 0).await);
    }
    // 100 % back, 7 000 points a day, 6 500 of them used: 5 more purchases of 100 fit.
    let p =
        partner(&*s, 2, PartnerTerms { earn_rate_bps: 10_000, max_redeem_share_bps: 3_000, daily_credit_limit: 7_000 })
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
    let s = Arc::new(db.server.store());
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
                            assert!(
                                matches!(e, StoreError::Unavailable(_)),
                                "a lost connection must be temporary: {e:?}"
                            );
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
    assert!(!failed_keys.is_empty(), "no call failed while the connections were terminated: {}", db.server.log());

    // Nothing half-applied: every entry moved the balance.
    let (balance, sum, entries) = balance_and_sum(&db, c.id).await;
    assert_eq!(balance, sum, "balance equals the sum of the entries");
    assert!(entries as usize >= ok_keys.len() && entries as usize <= ok_keys.len() + failed_keys.len());

    // Calls work again; retrying the failed keys applies each exactly once.
    for key in &failed_keys {
        s.credit_purchase(credit_req(&p, &c, 7, key)).await.expect("retry after the outage");
    }
    for key in &ok_keys {
        assert!(s.credit_purchase(credit_req(&p, &c, 7, key)).await.expect("replay").replayed);
    }
    let (balance, sum, entries) = balance_and_sum(&db, c.id).await;
    db.drop_db().await;
    let total = ok_keys.len() + failed_keys.len();
    assert_eq!(entries as usize, total, "one entry per key");
    assert_eq!((balance, sum), (7 * total as i64, 7 * total as i64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_and_a_silent_server_are_unavailable() {
    let key = service_key();
    // Nothing listens on the port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let s = PostgrestStore::new(format!("http://127.0.0.1:{port}"), Secret::new(key.clone())).expect("store");
    let e = s.program_stats(T0).await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(&key));

    // A server that accepts and never answers: the request times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let s = PostgrestStore::new(format!("http://{addr}"), Secret::new(key.clone()))
        .expect("store")
        .with_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let e = s.pending_broadcasts().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "the timeout applies");
    assert!(!format!("{e} {e:?}").contains(&key));
    hold.abort();
}

// ---------------------------------------------------------------------------
// One HTTP request per use case

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    apikey: Option<String>,
    authorization: Option<String>,
    content_profile: Option<String>,
    content_type: Option<String>,
}

/// A proxy in front of `postrust` that records every request it forwards. Like
/// Supabase's gateway, it also serves PostgREST under `/rest/v1`.
struct CountingProxy {
    upstream: String,
    http: reqwest::Client,
    seen: Mutex<Vec<Seen>>,
}

async fn forward(
    axum::extract::State(proxy): axum::extract::State<Arc<CountingProxy>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20).await.unwrap_or_default();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    proxy.seen.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        apikey: header("apikey"),
        authorization: header("authorization"),
        content_profile: header("content-profile"),
        content_type: header("content-type"),
    });
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = format!("{}{}", proxy.upstream, path_and_query.strip_prefix("/rest/v1").unwrap_or(path_and_query));
    let mut upstream = proxy.http.request(parts.method.clone(), target).body(body);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    match upstream.send().await {
        Ok(r) => {
            let status = r.status();
            let content_type = r.headers().get(http::header::CONTENT_TYPE).cloned();
            let bytes: Bytes = r.bytes().await.unwrap_or_default();
            let mut response = (status, bytes).into_response();
            if let Some(ct) = content_type {
                response.headers_mut().insert(http::header::CONTENT_TYPE, ct);
            }
            response
        }
        Err(e) => (http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn counting_proxy(upstream: String) -> (Arc<CountingProxy>, String) {
    let proxy = Arc::new(CountingProxy { upstream, http: reqwest::Client::new(), seen: Mutex::new(Vec::new()) });
    let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (proxy, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_use_case_is_one_request() {
    let db = TestDb::new().await;
    let (proxy, url) = counting_proxy(db.server.url()).await;
    let key = service_key();
    let s = PostgrestStore::new(url, Secret::new(key.clone())).expect("store");
    let seen = || proxy.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut counts = Vec::new();
    macro_rules! once {
        ($name:literal, $call:expr) => {{
            let before = seen().len();
            let sent = s.requests();
            let out = $call.await;
            let requests = seen()[before..].to_vec();
            counts.push(($name, requests, s.requests() - sent));
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
    // Rejections are one request too, raised or returned.
    let refused = once!("credit_purchase", s.credit_purchase(credit_req(&p, &c, 0, "k2")));
    let late = s.open_redemption(open_req(&p, &c, 10, "o3")).await.expect("open");
    let expired = once!(
        "confirm_redemption",
        s.confirm_redemption(AnswerRedemption { now: T0.plus(10_000), ..answer(late.request.id, &c) })
    );
    db.drop_db().await;
    assert!(matches!(refused, Err(StoreError::Rejected(Rejection::InvalidAmount))), "{refused:?}");
    assert!(matches!(expired, Err(StoreError::Rejected(Rejection::RedemptionExpired))), "{expired:?}");
    assert_eq!(counts.len(), 29, "every Storage method once, plus two rejections");
    for (name, requests, counted) in counts {
        assert_eq!(requests.len(), 1, "{name} took {} requests: {requests:?}", requests.len());
        assert_eq!(counted, 1, "{name}: the store counted {counted}");
        let r = &requests[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", format!("/rpc/{name}").as_str()));
        assert_eq!(r.apikey.as_deref(), Some(key.as_str()), "{name}: apikey");
        assert_eq!(r.authorization, Some(format!("Bearer {key}")), "{name}: authorization");
        assert_eq!(r.content_profile.as_deref(), Some("loyalty"), "{name}: Content-Profile");
        assert!(r.content_type.as_deref().is_some_and(|t| t.starts_with("application/json")), "{name}: {r:?}");
    }
}

// ---------------------------------------------------------------------------
// Keys

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_service_key_may_call_and_keys_stay_out_of_errors() {
    // `program_stats` is dropped before the server starts: a missing function is a permanent error.
    let db = TestDb::prepared("drop function loyalty.program_stats(jsonb)").await;
    let url = db.server.url();
    let anon_key = key_for("anon", JWT_SECRET);
    let authenticated_key = key_for("authenticated", JWT_SECRET);
    let forged_key = key_for("service_role", "not-the-project-secret-but-as-long-as-one");
    let signup = |tg: i64| NewCustomer {
        telegram_id: TelegramUserId(tg),
        code: CustomerCode::from_random([9, 9, 9, 9, tg as u8]),
        first_name: "Mallory".into(),
        username: None,
        language: Language::En,
        referrer: None,
        welcome_bonus: 1_000_000,
        referral_bonus: 0,
        now: T0,
    };
    let mut refused = Vec::new();
    for (who, key) in [("anon", &anon_key), ("authenticated", &authenticated_key), ("forged", &forged_key)] {
        let s = PostgrestStore::new(url.clone(), Secret::new(key.clone())).expect("store");
        assert!(!format!("{s:?}").contains(key.as_str()), "Debug shows the {who} key");
        let registered = s.register_customer(signup(1)).await;
        let listed = s.list_partners(None).await;
        for r in [registered.map(|_| ()), listed.map(|_| ())] {
            refused.push((who, key.clone(), r));
        }
    }
    // No key at all: the anon role.
    let http = reqwest::Client::new();
    let bare = http
        .post(format!("{url}/rpc/list_partners"))
        .header("Content-Profile", "loyalty")
        .json(&serde_json::json!({"req": {"status": null}}))
        .send()
        .await
        .expect("post");
    let bare_status = bare.status().as_u16();
    let bare_body: serde_json::Value = bare.json().await.unwrap_or_default();

    let service = db.server.store();
    let missing = service.program_stats(T0).await;
    let registered = service.register_customer(signup(2)).await;
    let customers: i64 =
        db.client().await.query_one("select count(*) from loyalty.customers", &[]).await.expect("count").get(0);
    db.drop_db().await;

    for (who, key, result) in refused {
        match result {
            Err(StoreError::Backend(message)) => {
                assert!(!message.contains(&key), "the {who} key is in the error: {message}");
            }
            other => panic!("{who}: expected a permanent refusal, got {other:?}"),
        }
    }
    assert!(matches!(bare_status, 401 | 403), "no key: HTTP {bare_status} {bare_body}");
    assert_eq!(bare_body["code"], "42501", "no key: {bare_body}");
    match missing {
        Err(StoreError::Backend(m)) => assert!(m.contains("PGRST202") && !m.contains(&service_key()), "{m}"),
        other => panic!("a missing function: {other:?}"),
    }
    assert!(registered.expect("the service key registers").created);
    assert_eq!(customers, 1, "only the service key's call changed anything");
}

// ---------------------------------------------------------------------------
// The CLI's storage selection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supabase_variables_open_the_postgrest_store() {
    use loyalty_native::runtime::{StorageChoice, migrate as migrate_choice, open_storage};
    let db = TestDb::new().await;
    let (proxy, url) = counting_proxy(db.server.url()).await;
    let key = service_key();
    let env = |key: String| {
        let url = format!("{url}/");
        move |name: &str| match name {
            "SUPABASE_URL" => Some(url.clone()),
            "SUPABASE_KEY" => Some(key.clone()),
            _ => None,
        }
    };
    let choice = StorageChoice::from_lookup(env(key.clone())).expect("choice");
    assert!(matches!(choice, StorageChoice::PostgRest { .. }), "{choice:?}");
    let store = open_storage(&choice).await.expect("open PostgREST storage");
    let c = customer(&*store, 1, 250).await;
    let summary = store.customer_summary(CustomerRef::Id(c.id), 5).await.expect("summary").expect("known");
    let paths: Vec<String> =
        proxy.seen.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|r| r.path.clone()).collect();

    // A wrong key stops the start with a storage error (exit code 4) that does not repeat it.
    let anon = key_for("anon", JWT_SECRET);
    let refused = open_storage(&StorageChoice::from_lookup(env(anon.clone())).expect("choice")).await;
    // PostgREST cannot run the migrations: a configuration error (exit code 3).
    let migrated = migrate_choice(&choice).await;
    db.drop_db().await;

    assert_eq!(summary.customer.balance, 250);
    assert_eq!(paths[0], "/rest/v1/rpc/pending_broadcasts", "the start is checked with one call: {paths:?}");
    assert!(paths.iter().all(|p| p.starts_with("/rest/v1/rpc/")), "{paths:?}");
    let e = refused.err().expect("the anon key is refused at start");
    assert_eq!(e.exit_code(), loyalty_native::runtime::exit::STORAGE, "{e}");
    assert!(e.to_string().contains("PostgREST") && !e.to_string().contains(&anon), "{e}");
    let e = migrated.expect_err("no migrations over PostgREST");
    assert_eq!(e.exit_code(), loyalty_native::runtime::exit::CONFIG, "{e}");
}
