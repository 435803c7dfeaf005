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
use loyalty_testkit::requests::{self, T0, customer, open_req};
use loyalty_testkit::services::pg_checks;
use loyalty_testkit::services::postgres::TestDb;
use loyalty_testkit::services::postrust::{JWT_SECRET, key_for, service_key};
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

// ---------------------------------------------------------------------------
// Races, and an update claim folded into the first call

loyalty_testkit::pg_store_tests!(fresh: TestDb::new(), store: |db| db.server.store());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_from_many_tasks_applies_once() {
    let db = TestDb::new().await;
    let s: Arc<dyn Storage> = Arc::new(db.server.store());
    let (c, p) = pg_checks::one_credit_key_from_many_tasks_applies_once(&s, &db.name).await;
    let opened = pg_checks::concurrently(200, |_| {
        let (s, req) = (s.clone(), open_req(&p, &c, 100, "same-open"));
        async move { s.open_redemption(req).await.expect("every caller gets the request") }
    })
    .await;
    let (balance, sum, entries) = pg_checks::balance_and_sum(&db.name, c.id).await;
    let requests = pg_checks::count(&db.name, "loyalty.redemption_requests").await;
    db.drop_db().await;
    assert_eq!(opened.iter().filter(|r| !r.replayed).count(), 1, "opened once");
    assert!(opened.iter().all(|r| r.request.id == opened[0].request.id), "same request for everyone");
    assert_eq!((balance, sum, entries, requests), (500, 500, 1, 1));
}

// ---------------------------------------------------------------------------
// Imports: a large body through the Data API, answered like the reference

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_batch_goes_through_like_the_memory_store() {
    let db = TestDb::new().await;
    let s = db.server.store();
    let mem = loyalty_core::MemoryStore::new();
    let native = customer(&s, 900, 10).await;
    customer(&mem, 900, 10).await;
    let imported = |tg: i64, balance: Points| ImportedCustomer {
        telegram_id: TelegramUserId(tg),
        code: CustomerCode::from_random([0x33, 0, 0, (tg >> 8) as u8, tg as u8]),
        first_name: format!("Имя {tg}"),
        username: None,
        language: Language::Ru,
        created_at: T0,
        balance,
        referrer: Some(TelegramUserId(tg - 1)),
        referral_code: Some(format!("ref{tg}")),
        birthday: None,
        history: (0..5)
            .map(|n| ImportedEntry {
                source_id: format!("{tg}/{n}"),
                partner: None,
                amount: n - 2,
                purchase: None,
                note: Some("«начислено»".into()),
                at: T0.plus(n),
            })
            .collect(),
    };
    let mut customers: Vec<_> = (1..=100).map(|tg| imported(tg, tg)).collect();
    customers.push(imported(900, 5));
    let first = ImportBatch { source: "legacy".into(), partners: vec![], customers, now: T0 };
    let mut later = first.clone();
    later.customers[0].balance = 0;
    later.customers[1].balance = 10;
    let mut taken = first.clone();
    taken.customers.push(ImportedCustomer { code: native.code.clone(), ..imported(901, 1) });
    let invalid = ImportBatch { source: "Legacy".into(), ..first.clone() };
    let mut answers = Vec::new();
    for batch in [&first, &first, &later, &taken, &invalid] {
        answers.push((s.import_batch(batch.clone()).await, mem.import_batch(batch.clone()).await));
    }
    db.drop_db().await;
    for (got, expected) in &answers {
        assert_eq!(got, expected);
    }
    assert_eq!(answers[0].0.as_ref().map(|a| (a.customers_created, a.history_created)), Ok((100, 500)));
    assert_eq!(answers[2].0.as_ref().map(|a| a.balances_changed), Ok(2));
    assert_eq!(answers[3].0, Err(StoreError::Rejected(Rejection::CodeTaken)));
    assert_eq!(answers[4].0, Err(StoreError::Rejected(Rejection::InvalidImport)));
}

// ---------------------------------------------------------------------------
// The database goes away

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_connections_fail_as_unavailable_and_recover() {
    let db = TestDb::new().await;
    let s = Arc::new(db.server.store());
    pg_checks::terminated_connections_fail_as_unavailable_and_recover(s, &db.name, 0, || db.server.log()).await;
    db.drop_db().await;
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
    let before = Cell::new((0, 0));
    let mut counts = Vec::new();
    let outcome = requests::every_use_case(
        &s,
        || before.set((seen().len(), s.requests())),
        |name| {
            let (seen_before, sent) = before.get();
            counts.push((name, seen()[seen_before..].to_vec(), s.requests() - sent));
        },
    )
    .await;
    db.drop_db().await;
    outcome.unwrap();
    assert_eq!(counts.len(), requests::USE_CASES, "every Storage method once, plus two refusals");

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
        legacy_referrer: None,
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
