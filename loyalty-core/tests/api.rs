//! The REST API, called in-process (`Engine::handle_api`, no sockets) over the
//! in-memory store with the test kit's fakes.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use loyalty_core::api::init_data::sign_init_data;
use loyalty_core::api::{MAX_API_BODY_BYTES, ROUTES, sentry};
use loyalty_core::domain::{BotKind, Customer, Language, Partner, PartnerTerms, RedemptionId, TelegramUserId, rules};
use loyalty_core::ports::*;
use loyalty_core::program::ProgramRules;
use loyalty_core::stores::memory::MemoryStore;
use loyalty_core::{Config, Secret, Task};
use loyalty_testkit::{ADMIN_CHAT, ALERT_CHAT, FaultyStore, TestEnv, test_config};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

const CLIENT_TOKEN: &str = "1001:client-token";
const PARTNER_TOKEN: &str = "1002:partner-token";
const ADMIN_BOT_TOKEN: &str = "1003:admin-token";
const FRONTEND: &str = "https://app.example.com";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    deferred: Vec<Task>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Asserts an error answer with `status` and `code` in the standard shape.
    fn error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{:?}", self.body);
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
        assert!(self.deferred.is_empty());
    }

    /// `(bot, chat, text)` of every deferred call.
    fn sends(&self) -> Vec<(BotKind, i64, String)> {
        self.deferred
            .iter()
            .inspect(|t| assert!(matches!(t, Task::Send(_)), "unexpected task {t:?}"))
            .flat_map(Task::calls)
            .map(|c| (c.bot, c.chat_id().unwrap_or_default(), c.text().unwrap_or_default().to_string()))
            .collect()
    }
}

async fn call(env: &TestEnv, req: Request<Bytes>) -> Answer {
    let out = env.engine.handle_api(req).await;
    let (parts, body) = out.response.into_parts();
    Answer { status: parts.status, headers: parts.headers, body, deferred: out.deferred }
}

fn request(method: Method, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Request<Bytes> {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.into()).unwrap()
}

fn user_json(id: i64) -> String {
    json!({"id": id, "first_name": "Ann", "language_code": "en", "allows_write_to_pm": true}).to_string()
}

/// `tma <initData>` as Telegram would sign it for the client bot now.
fn tma(env: &TestEnv, id: i64) -> String {
    let now = env.engine.now().0.to_string();
    format!(
        "tma {}",
        sign_init_data(&[("query_id", "AAHdF6IQ"), ("user", &user_json(id)), ("auth_date", &now)], CLIENT_TOKEN)
    )
}

/// `tma <initData>` for user `id`, signed now with `bot_token` (the bot that
/// opened the Mini App).
fn tma_of(env: &TestEnv, id: i64, bot_token: &str) -> String {
    let now = env.engine.now().0.to_string();
    format!("tma {}", sign_init_data(&[("user", &user_json(id)), ("auth_date", &now)], bot_token))
}

async fn get(env: &TestEnv, path: &str, auth: &str) -> Answer {
    call(env, request(Method::GET, path, &[("authorization", auth)], Bytes::new())).await
}

async fn register(env: &TestEnv, id: i64, language: Language) -> Customer {
    env.storage
        .register_customer(NewCustomer {
            telegram_id: TelegramUserId(id),
            code: env.engine.random_code(),
            first_name: format!("User {id}"),
            username: None,
            language,
            referrer: None,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 100,
            referral_bonus: 50,
            now: env.engine.now(),
        })
        .await
        .unwrap()
        .customer
}

/// An approved partner (earns 5 %, 30 % payable with points) with a POS key.
async fn partner(env: &TestEnv, id: i64, name: &str, language: Language) -> (Partner, String) {
    let now = env.engine.now();
    let applied = env
        .storage
        .apply_partner(PartnerApplication {
            telegram_id: TelegramUserId(id),
            name: name.into(),
            category: "cafe".into(),
            terms: PartnerTerms::default(),
            language,
            now,
        })
        .await
        .unwrap();
    let p = env
        .storage
        .decide_partner(DecidePartner {
            partner: applied.partner.id,
            decision: PartnerDecision::Approve,
            admin: TelegramUserId(900),
            now,
        })
        .await;
    let p = p.unwrap().partner;
    let key = format!("pos-key-{id}-{}", env.engine.random_hex(16));
    env.storage.set_partner_api_key(PartnerRef::Id(p.id), Some(rules::hash_api_key(&key))).await.unwrap();
    (p, key)
}

/// A fresh engine with customer 42 (English) and the approved partner 500,
/// `name`, speaking `language`; the partner's API key last.
async fn customer_and_partner(name: &str, language: Language) -> (TestEnv, Customer, Partner, String) {
    let env = TestEnv::new();
    let c = register(&env, 42, Language::En).await;
    let (p, key) = partner(&env, 500, name, language).await;
    (env, c, p, key)
}

async fn open(env: &TestEnv, p: &Partner, c: &Customer, points: i64, key: &str) -> RedemptionId {
    let now = env.engine.now();
    env.storage
        .open_redemption(OpenRedemption {
            partner: PartnerRef::Id(p.id),
            customer: CustomerRef::Id(c.id),
            points,
            purchase: 1000,
            idempotency_key: key.into(),
            now,
            expires_at: now.plus(rules::REDEMPTION_TTL_SECS),
        })
        .await
        .unwrap()
        .request
        .id
}

fn credit_req(key: &str, idem: &str, body: &str) -> Request<Bytes> {
    let auth = format!("Bearer {key}");
    request(
        Method::POST,
        "/api/v1/partner/credits",
        &[("authorization", &auth), ("idempotency-key", idem), ("content-type", "application/json")],
        body.to_string(),
    )
}

fn sentry_req(resource: &str, signature: Option<&str>, body: &str) -> Request<Bytes> {
    let mut h = vec![("content-type", "application/json"), ("sentry-hook-resource", resource)];
    if let Some(s) = signature {
        h.push(("sentry-hook-signature", s));
    }
    request(Method::POST, "/hooks/sentry", &h, body.to_string())
}

// ------------------------------------------------------------------- basics

#[tokio::test]
async fn health() {
    let env = TestEnv::new();
    let a = call(&env, request(Method::GET, "/health", &[], Bytes::new())).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"status": "ok"}));
    assert_eq!(a.headers["content-type"], "application/json");
}

#[tokio::test]
async fn unknown_route_wrong_method_too_large_wrong_type() {
    let env = TestEnv::new();
    call(&env, request(Method::GET, "/nope", &[], Bytes::new())).await.error(StatusCode::NOT_FOUND, "not_found");
    call(&env, request(Method::GET, "/api/v1/me/", &[], Bytes::new())).await.error(StatusCode::NOT_FOUND, "not_found");

    let a = call(&env, request(Method::DELETE, "/api/v1/me", &[], Bytes::new())).await;
    a.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(a.headers["allow"], "GET, OPTIONS");
    let a = call(&env, request(Method::GET, "/api/v1/redemptions/5/confirm", &[], Bytes::new())).await;
    a.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(a.headers["allow"], "POST, OPTIONS");

    let (_, key) = partner(&env, 500, "Cafe", Language::En).await;
    let big = format!("{{\"customer_code\":\"{}\",\"purchase\":1}}", " ".repeat(MAX_API_BODY_BYTES));
    call(&env, credit_req(&key, "k1", &big)).await.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let declared = request(
        Method::POST,
        "/hooks/sentry",
        &[("content-length", &(MAX_API_BODY_BYTES + 1).to_string())],
        Bytes::from_static(b"{}"),
    );
    call(&env, declared).await.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let auth = format!("Bearer {key}");
    for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut h = vec![("authorization", auth.as_str()), ("idempotency-key", "k2")];
        if let Some(ct) = ct {
            h.push(("content-type", ct));
        }
        let req = request(Method::POST, "/api/v1/partner/credits", &h, r#"{"customer_code":"x","purchase":1}"#);
        call(&env, req).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
}

#[tokio::test]
async fn openapi_document_matches_the_route_table() {
    let env = TestEnv::new();
    let a = call(&env, request(Method::GET, "/api/v1/openapi.json", &[], Bytes::new())).await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let table: BTreeSet<_> = ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(documented.difference(&table).collect::<Vec<_>>(), Vec::<&(String, String)>::new(), "undocumented");
    assert_eq!(table.difference(&documented).collect::<Vec<_>>(), Vec::<&(String, String)>::new(), "not routed");
    assert!(doc["components"]["securitySchemes"]["tma"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Error"].is_object());
}

// --------------------------------------------------------------------- CORS

#[tokio::test]
async fn cors_only_for_the_front_end() {
    let env = TestEnv::new();
    let a = call(&env, request(Method::GET, "/health", &[("origin", FRONTEND)], Bytes::new())).await;
    assert_eq!(a.headers["access-control-allow-origin"], FRONTEND);
    assert_eq!(a.headers["vary"], "Origin");
    // Errors carry CORS headers too, so the front end can read them.
    let a = call(&env, request(Method::GET, "/api/v1/me", &[("origin", FRONTEND)], Bytes::new())).await;
    a.error(StatusCode::UNAUTHORIZED, "missing_auth");
    assert_eq!(a.headers["access-control-allow-origin"], FRONTEND);

    let a = call(&env, request(Method::GET, "/health", &[("origin", "https://evil.example")], Bytes::new())).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers.keys().all(|k| !k.as_str().starts_with("access-control-")), "{:?}", a.headers);

    let preflight = |origin: &'static str| {
        request(
            Method::OPTIONS,
            "/api/v1/partner/credits",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "authorization, content-type, idempotency-key"),
            ],
            Bytes::new(),
        )
    };
    let a = call(&env, preflight(FRONTEND)).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.headers["access-control-allow-origin"], FRONTEND);
    assert!(a.headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let allowed_headers = a.headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    for h in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed_headers.contains(h), "{allowed_headers}");
    }
    assert!(a.headers.contains_key("access-control-max-age"));

    let a = call(&env, preflight("https://evil.example")).await;
    a.error(StatusCode::FORBIDDEN, "cors_forbidden");
    assert!(a.headers.keys().all(|k| !k.as_str().starts_with("access-control-")));

    // Without FRONTEND_URL there is no CORS at all.
    let config = Config { frontend_url: None, ..test_config() };
    let bare = TestEnv::with(Arc::new(MemoryStore::new()), config);
    let a = call(&bare, request(Method::GET, "/health", &[("origin", FRONTEND)], Bytes::new())).await;
    assert!(a.headers.keys().all(|k| !k.as_str().starts_with("access-control-")));
    let a = call(&bare, preflight(FRONTEND)).await;
    a.error(StatusCode::FORBIDDEN, "cors_forbidden");
    assert!(a.headers.keys().all(|k| !k.as_str().starts_with("access-control-")));
}

// ---------------------------------------------------------------- customers

#[tokio::test]
async fn me_with_links() {
    let env = TestEnv::new();
    let c = register(&env, 42, Language::Ru).await;
    let a = get(&env, "/api/v1/me", &tma(&env, 42)).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let v = a.json();
    assert_eq!(v["id"], c.id.0);
    assert_eq!(v["code"], c.code.as_str());
    assert_eq!(v["first_name"], "User 42");
    assert_eq!(v["language"], "ru");
    assert_eq!(v["balance"], 100);
    assert_eq!(v["blocked"], false);
    assert_eq!(v["created_at"], c.created_at.0);
    assert_eq!(v["referral_link"], format!("https://t.me/loyalty_client_bot?start=ref_{}", c.code));
    assert_eq!(v["card_link"], format!("https://t.me/loyalty_partner_bot?start=c_{}", c.code));
    assert_eq!(v["expiring_soon"], json!([]), "points never expire by default");
    assert_eq!((v["tier"].as_u64(), v["qualifying_points"].as_i64()), (Some(0), Some(0)), "no tiers by default");
    assert_eq!(a.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn me_shows_points_expiring_within_30_days() {
    let env = TestEnv::new();
    let rules = ProgramRules::from_json(r#"{"expiry": {"days": 40}}"#).unwrap();
    env.storage.set_program_rules(SetProgramRules { rules, admin: None, now: env.clock.now() }).await.unwrap();
    let c = register(&env, 42, Language::Ru).await;
    let at = c.created_at.plus(40 * 86_400).0;
    assert_eq!(get(&env, "/api/v1/me", &tma(&env, 42)).await.json()["expiring_soon"], json!([]), "40 days away");
    env.clock.advance(10 * 86_400);
    let v = get(&env, "/api/v1/me", &tma(&env, 42)).await.json();
    assert_eq!(v["expiring_soon"], json!([{"points": 100, "at": at}]), "30 days away");
}

#[tokio::test]
async fn unregistered_user_is_told_to_start_the_bot() {
    let env = TestEnv::new();
    for path in ["/api/v1/me", "/api/v1/me/transactions", "/api/v1/me/card"] {
        let a = get(&env, path, &tma(&env, 77)).await;
        a.error(StatusCode::NOT_FOUND, "not_registered");
        assert!(a.json()["error"]["message"].as_str().unwrap().contains("start the bot"));
    }
}

#[tokio::test]
async fn forged_init_data_is_refused() {
    let env = TestEnv::new();
    register(&env, 42, Language::En).await;
    let now = env.engine.now();
    let fresh = now.0.to_string();
    let user = user_json(42);

    let good = sign_init_data(&[("user", &user), ("auth_date", &fresh)], CLIENT_TOKEN);
    assert_eq!(get(&env, "/api/v1/me", &format!("tma {good}")).await.status, StatusCode::OK);
    // The scheme is case-insensitive.
    assert_eq!(get(&env, "/api/v1/me", &format!("TMA {good}")).await.status, StatusCode::OK);

    let bad_hash = format!("{}{}", &good[..good.len() - 4], "0000");
    let tampered = good.replace("%3A42%2C", "%3A43%2C");
    assert_ne!(tampered, good);
    let old = sign_init_data(&[("user", &user), ("auth_date", &(now.0 - 86_401).to_string())], CLIENT_TOKEN);
    let future = sign_init_data(&[("user", &user), ("auth_date", &(now.0 + 3600).to_string())], CLIENT_TOKEN);
    let other_bot = sign_init_data(&[("user", &user), ("auth_date", &fresh)], "1009:a-bot-of-another-program");
    let no_user = sign_init_data(&[("auth_date", &fresh)], CLIENT_TOKEN);
    let no_hash = good.split("&hash=").next().unwrap().to_string();
    for (what, init) in [
        ("bad hash", bad_hash.as_str()),
        ("tampered user", &tampered),
        ("old auth_date", &old),
        ("future auth_date", &future),
        ("other bot's token", &other_bot),
        ("no user", &no_user),
        ("no hash", &no_hash),
        ("malformed", "%%%&&==hash=zz"),
    ] {
        let a = get(&env, "/api/v1/me", &format!("tma {init}")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}");
        a.error(StatusCode::UNAUTHORIZED, "invalid_init_data");
    }
    call(&env, request(Method::GET, "/api/v1/me", &[], Bytes::new()))
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_auth");
    get(&env, "/api/v1/me", &format!("Bearer {good}")).await.error(StatusCode::UNAUTHORIZED, "missing_auth");
    get(&env, "/api/v1/me", "tma").await.error(StatusCode::UNAUTHORIZED, "missing_auth");
    // Non-ASCII header bytes are refused, not a panic.
    let mut req = request(Method::GET, "/api/v1/me", &[], Bytes::new());
    req.headers_mut().insert("authorization", http::HeaderValue::from_bytes(b"tma \xff\xfe").unwrap());
    call(&env, req).await.error(StatusCode::UNAUTHORIZED, "missing_auth");
}

#[tokio::test]
async fn transactions_are_paged_newest_first() {
    let (env, c, _, key) = customer_and_partner("Cafe", Language::En).await;
    for i in 1..=4 {
        env.clock.advance(10);
        let body = format!(r#"{{"customer_code":"{}","purchase":{}}}"#, c.code, i * 1000);
        assert_eq!(call(&env, credit_req(&key, &format!("t{i}"), &body)).await.status, StatusCode::OK);
    }
    let auth = tma(&env, 42);
    let first = get(&env, "/api/v1/me/transactions?limit=2", &auth).await;
    assert_eq!(first.status, StatusCode::OK);
    let v = first.json();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["kind"], "accrual");
    assert_eq!(entries[0]["amount"], 200);
    assert_eq!(entries[0]["purchase"], 4000);
    assert_eq!(entries[1]["amount"], 150);
    assert!(entries[0]["id"].as_i64() > entries[1]["id"].as_i64());
    let next = v["next_before"].as_i64().unwrap();
    assert_eq!(next, entries[1]["id"].as_i64().unwrap());

    let second = get(&env, &format!("/api/v1/me/transactions?limit=2&before={next}"), &auth).await.json();
    let amounts: Vec<i64> =
        second["entries"].as_array().unwrap().iter().map(|e| e["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![100, 50]);
    let last = get(&env, &format!("/api/v1/me/transactions?before={}", second["next_before"]), &auth).await.json();
    assert_eq!(last["entries"].as_array().unwrap().len(), 1, "the welcome bonus");
    assert_eq!(last["entries"][0]["kind"], "welcome_bonus");
    assert_eq!(last["next_before"], Value::Null);

    let all = get(&env, "/api/v1/me/transactions", &auth).await.json();
    assert_eq!(all["entries"].as_array().unwrap().len(), 5);

    for q in ["limit=0", "limit=101", "limit=abc", "limit=-3", "before=zero", "before=0", "limit=%FF"] {
        get(&env, &format!("/api/v1/me/transactions?{q}"), &auth).await.error(StatusCode::BAD_REQUEST, "invalid_query");
    }
}

#[tokio::test]
async fn card_is_an_svg_qr_code() {
    let env = TestEnv::new();
    register(&env, 42, Language::En).await;
    let a = get(&env, "/api/v1/me/card", &tma(&env, 42)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "image/svg+xml");
    let svg = std::str::from_utf8(&a.body).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    assert!(svg.contains("<path"), "has dark modules");
}

#[tokio::test]
async fn partners_lists_approved_ones() {
    let env = TestEnv::new();
    register(&env, 42, Language::En).await;
    let (p, _) = partner(&env, 500, "Phở Hà Nội", Language::Vi).await;
    env.storage
        .apply_partner(PartnerApplication {
            telegram_id: TelegramUserId(501),
            name: "Pending shop".into(),
            category: "shop".into(),
            terms: PartnerTerms::default(),
            language: Language::En,
            now: env.engine.now(),
        })
        .await
        .unwrap();
    let a = get(&env, "/api/v1/partners", &tma(&env, 42)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json(),
        json!({"partners": [{"id": p.id.0, "name": "Phở Hà Nội", "category": "cafe",
                             "earn_rate_bps": 500, "max_redeem_share_bps": 3000}]})
    );
    get(&env, "/api/v1/partners", "tma x").await.error(StatusCode::UNAUTHORIZED, "invalid_init_data");
}

// -------------------------------------------------------------- redemptions

fn post(path: &str, auth: &str) -> Request<Bytes> {
    request(Method::POST, path, &[("authorization", auth)], Bytes::new())
}

#[tokio::test]
async fn confirm_redemption_notifies_both_once() {
    let (env, c, p, _) = customer_and_partner("Cafe <Lux>", Language::Ru).await;
    let id = open(&env, &p, &c, 30, "r1").await;
    let path = format!("/api/v1/redemptions/{id}/confirm");

    let a = call(&env, post(&path, &tma(&env, 42))).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let v = a.json();
    assert_eq!(v["redemption"]["status"], "confirmed");
    assert_eq!(v["redemption"]["points"], 30);
    assert_eq!(v["balance"], 70);
    assert_eq!(v["replayed"], false);
    let sends = a.sends();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert_eq!((sends[0].0, sends[0].1), (BotKind::Partner, 500));
    assert!(sends[0].2.contains("оплатил") && sends[0].2.contains(c.code.as_str()), "partner's language: {sends:?}");
    assert_eq!((sends[1].0, sends[1].1), (BotKind::Client, 42));
    assert!(sends[1].2.contains("Cafe &lt;Lux&gt;"), "escaped: {}", sends[1].2);

    let again = call(&env, post(&path, &tma(&env, 42))).await;
    assert_eq!(again.status, StatusCode::OK);
    let w = again.json();
    assert_eq!(w["replayed"], true);
    assert_eq!(w["balance"], 70);
    assert_eq!(w["redemption"]["entry_id"], v["redemption"]["entry_id"]);
    assert!(again.deferred.is_empty(), "no second notification");

    // Declining a confirmed request is refused.
    let d = call(&env, post(&format!("/api/v1/redemptions/{id}/decline"), &tma(&env, 42))).await;
    d.error(StatusCode::CONFLICT, "redemption_closed");
}

#[tokio::test]
async fn decline_and_refusals() {
    let env = TestEnv::new();
    let c = register(&env, 42, Language::En).await;
    register(&env, 43, Language::En).await;
    let (p, _) = partner(&env, 500, "Cafe", Language::En).await;

    let id = open(&env, &p, &c, 20, "d1").await;
    let a = call(&env, post(&format!("/api/v1/redemptions/{id}/decline"), &tma(&env, 42))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["redemption"]["status"], "declined");
    assert_eq!(a.json()["balance"], 100);
    let sends = a.sends();
    assert_eq!(
        sends.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
        vec![(BotKind::Partner, 500), (BotKind::Client, 42)]
    );
    assert!(sends[0].2.contains("declined"));

    // Someone else's request.
    let id = open(&env, &p, &c, 20, "d2").await;
    call(&env, post(&format!("/api/v1/redemptions/{id}/confirm"), &tma(&env, 43)))
        .await
        .error(StatusCode::FORBIDDEN, "not_your_redemption");
    // Unknown and malformed ids.
    for bad in ["999999", "abc", "-1", "1e3", "99999999999999999999999"] {
        call(&env, post(&format!("/api/v1/redemptions/{bad}/confirm"), &tma(&env, 42)))
            .await
            .error(StatusCode::NOT_FOUND, "unknown_redemption");
    }
    // Not registered.
    call(&env, post(&format!("/api/v1/redemptions/{id}/confirm"), &tma(&env, 44)))
        .await
        .error(StatusCode::NOT_FOUND, "not_registered");
    // Expired.
    env.clock.advance(rules::REDEMPTION_TTL_SECS + 1);
    call(&env, post(&format!("/api/v1/redemptions/{id}/confirm"), &tma(&env, 42)))
        .await
        .error(StatusCode::GONE, "redemption_expired");

    // Two requests that each fit the balance, but not both.
    let one = open(&env, &p, &c, 80, "d3").await;
    let two = open(&env, &p, &c, 80, "d4").await;
    let ok = call(&env, post(&format!("/api/v1/redemptions/{one}/confirm"), &tma(&env, 42))).await;
    assert_eq!(ok.status, StatusCode::OK);
    call(&env, post(&format!("/api/v1/redemptions/{two}/confirm"), &tma(&env, 42)))
        .await
        .error(StatusCode::CONFLICT, "insufficient_balance");
}

// -------------------------------------------------------------- partner POS

#[tokio::test]
async fn pos_credit_is_idempotent() {
    let env = TestEnv::new();
    let c = register(&env, 42, Language::Vi).await;
    let (p, key) = partner(&env, 500, "Cafe", Language::En).await;
    let body = format!(r#"{{"customer_code":"{}","purchase":1500}}"#, c.code.as_str().to_lowercase());

    let a = call(&env, credit_req(&key, "order-1", &body)).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let v = a.json();
    assert_eq!(v["points"], 75);
    assert_eq!(v["purchase"], 1500);
    assert_eq!(v["balance"], 175);
    assert_eq!(v["customer_code"], c.code.as_str());
    assert_eq!(v["replayed"], false);
    let sends = a.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!((sends[0].0, sends[0].1), (BotKind::Client, 42));
    assert!(sends[0].2.contains("+75") && sends[0].2.contains("Số dư"), "{}", sends[0].2);

    let again = call(&env, credit_req(&key, "order-1", &body)).await;
    assert_eq!(again.status, StatusCode::OK);
    let w = again.json();
    assert_eq!(w["replayed"], true);
    assert_eq!(w["entry_id"], v["entry_id"]);
    assert_eq!(w["balance"], 175);
    assert!(again.deferred.is_empty());

    let other = format!(r#"{{"customer_code":"{}","purchase":1600}}"#, c.code);
    call(&env, credit_req(&key, "order-1", &other)).await.error(StatusCode::CONFLICT, "idempotency_conflict");

    // The same key from another partner is another operation.
    let (_, key2) = partner(&env, 501, "Bar", Language::En).await;
    let b = call(&env, credit_req(&key2, "order-1", &body)).await;
    assert_eq!((b.status, b.json()["replayed"].clone()), (StatusCode::OK, json!(false)));

    let entries = env.storage.customer_entries(EntriesPage { customer: c.id, limit: 100, before: None }).await.unwrap();
    assert_eq!(entries.iter().filter(|e| e.partner == Some(p.id)).count(), 1);
}

fn customer_lookup(key: &str, code: &str) -> Request<Bytes> {
    let auth = format!("Bearer {key}");
    request(Method::GET, &format!("/api/v1/partner/customers/{code}"), &[("authorization", &auth)], Bytes::new())
}

#[tokio::test]
async fn pos_looks_a_customer_up_by_card() {
    let (env, c, p, key) = customer_and_partner("Cafe", Language::En).await;
    let found = call(&env, customer_lookup(&key, &c.code.as_str().to_lowercase())).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    let want = json!({"customer_code": c.code.as_str(), "first_name": c.first_name, "balance": 100, "blocked": false, "tier": 0, "stamps": null});
    assert_eq!(found.json(), want);

    call(&env, customer_lookup(&key, "ZZZZ9999")).await.error(StatusCode::NOT_FOUND, "unknown_customer");
    call(&env, customer_lookup(&key, "x%21")).await.error(StatusCode::BAD_REQUEST, "invalid_customer_code");
    call(&env, customer_lookup("wrong-key", c.code.as_str())).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    let post = request(Method::POST, &format!("/api/v1/partner/customers/{}", c.code), &[], Bytes::new());
    assert_eq!(call(&env, post).await.status, StatusCode::METHOD_NOT_ALLOWED);

    let now = env.engine.now();
    let who = CustomerRef::Id(c.id);
    env.storage.set_blocked(SetBlocked { who, blocked: true, admin: TelegramUserId(900), now }).await.unwrap();
    assert_eq!(call(&env, customer_lookup(&key, c.code.as_str())).await.json()["blocked"], true);
    let suspend = DecidePartner { partner: p.id, decision: PartnerDecision::Suspend, admin: TelegramUserId(900), now };
    env.storage.decide_partner(suspend).await.unwrap();
    call(&env, customer_lookup(&key, c.code.as_str())).await.error(StatusCode::FORBIDDEN, "partner_not_approved");
}

#[tokio::test]
async fn pos_auth_and_validation() {
    let (env, c, _, key) = customer_and_partner("Cafe", Language::En).await;
    let body = format!(r#"{{"customer_code":"{}","purchase":1500}}"#, c.code);

    call(&env, credit_req("wrong-key", "k", &body)).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    let no_auth = request(
        Method::POST,
        "/api/v1/partner/credits",
        &[("idempotency-key", "k"), ("content-type", "application/json")],
        body.clone(),
    );
    call(&env, no_auth).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    let basic = request(
        Method::POST,
        "/api/v1/partner/credits",
        &[("authorization", &format!("Basic {key}")), ("idempotency-key", "k"), ("content-type", "application/json")],
        body.clone(),
    );
    call(&env, basic).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");

    let no_key = request(
        Method::POST,
        "/api/v1/partner/credits",
        &[("authorization", &format!("Bearer {key}")), ("content-type", "application/json")],
        body.clone(),
    );
    call(&env, no_key).await.error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    let long = "k".repeat(129);
    for bad in ["has space", "a/b", long.as_str()] {
        call(&env, credit_req(&key, bad, &body)).await.error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    }

    for bad in [
        "not json",
        "{}",
        r#"{"customer_code":"ABCD1234"}"#,
        r#"{"customer_code":"ABCD1234","purchase":15.5}"#,
        r#"{"customer_code":"ABCD1234","purchase":"1500"}"#,
        r#"{"customer_code":"ABCD1234","purchase":1500,"tip":5}"#,
        r#"{"customer_code":"ABCD1234","purchase":99999999999999999999999}"#,
        r#"[1,2]"#,
    ] {
        call(&env, credit_req(&key, "k", bad)).await.error(StatusCode::BAD_REQUEST, "invalid_body");
    }
    call(&env, credit_req(&key, "k", r#"{"customer_code":"nope!","purchase":1}"#))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_customer_code");
    call(&env, credit_req(&key, "k", r#"{"customer_code":"ZZZZZZZZ","purchase":1}"#))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_customer");
    let zero = format!(r#"{{"customer_code":"{}","purchase":0}}"#, c.code);
    call(&env, credit_req(&key, "k0", &zero)).await.error(StatusCode::BAD_REQUEST, "invalid_amount");
    let negative = format!(r#"{{"customer_code":"{}","purchase":-5}}"#, c.code);
    call(&env, credit_req(&key, "k-", &negative)).await.error(StatusCode::BAD_REQUEST, "invalid_amount");
    assert_eq!(
        env.storage.customer_entries(EntriesPage { customer: c.id, limit: 100, before: None }).await.unwrap().len(),
        1,
        "only the welcome bonus"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_same_idempotency_key_credits_once() {
    let (env, c, _, key) = customer_and_partner("Cafe", Language::En).await;
    let body = format!(r#"{{"customer_code":"{}","purchase":2000}}"#, c.code);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (env, key, body) = (env.clone(), key.clone(), body.clone());
        tasks.push(tokio::spawn(async move { call(&env, credit_req(&key, "same-key", &body)).await }));
    }
    let mut fresh = 0;
    let mut notifications = 0;
    let mut entry_ids = BTreeSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let v = a.json();
        entry_ids.insert(v["entry_id"].as_i64().unwrap());
        if v["replayed"] == false {
            fresh += 1;
        }
        notifications += a.deferred.len();
    }
    assert_eq!((fresh, notifications, entry_ids.len()), (1, 1, 1));
    let me = get(&env, "/api/v1/me", &tma(&env, 42)).await.json();
    assert_eq!(me["balance"], 200);
}

// ------------------------------------------------------------------- Sentry

const EVENT_ALERT: &str = r#"{"action":"triggered","actor":{"id":"sentry","name":"Sentry","type":"application"},
 "data":{"event":{"title":"TypeError: x is <undefined>","culprit":"app.pay","level":"error","project":7,
 "web_url":"https://sentry.io/organizations/acme/issues/1/events/abc/","issue_id":"1"},
 "triggered_rule":"Any error"},"installation":{"uuid":"u-1"}}"#;

#[tokio::test]
async fn sentry_alert_is_forwarded() {
    let env = TestEnv::new();
    let sig = sentry::sign("sentry-hook-secret", EVENT_ALERT.as_bytes());
    let a = call(&env, sentry_req("event_alert", Some(&sig), EVENT_ALERT)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let sends = a.sends();
    assert_eq!(sends.len(), 1);
    let (bot, chat, text) = &sends[0];
    assert_eq!((*bot, *chat), (BotKind::Alerts, ALERT_CHAT));
    assert!(text.contains("TypeError: x is &lt;undefined&gt;"), "{text}");
    assert!(text.contains("app.pay") && text.contains("error") && text.contains("Any error"), "{text}");
    assert!(text.contains("href=\"https://sentry.io/organizations/acme/issues/1/events/abc/\""), "{text}");

    let issue = r#"{"action":"created","data":{"issue":{"title":"Boom","shortId":"API-3","culprit":"x",
        "level":"fatal","project":{"slug":"api"},"web_url":"https://sentry.io/issues/3/"}}}"#;
    let s = sentry::sign("sentry-hook-secret", issue.as_bytes());
    let b = call(&env, sentry_req("issue", Some(&s), issue)).await;
    assert_eq!(b.status, StatusCode::ACCEPTED);
    assert!(b.sends()[0].2.contains("API-3: Boom") && b.sends()[0].2.contains("api"));

    let install = r#"{"action":"created","data":{"installation":{"uuid":"u-1"}}}"#;
    let s = sentry::sign("sentry-hook-secret", install.as_bytes());
    let c = call(&env, sentry_req("installation", Some(&s), install)).await;
    assert_eq!((c.status, c.json()), (StatusCode::OK, json!({"status": "ignored"})));
    assert!(c.deferred.is_empty());

    let junk = "not json";
    let s = sentry::sign("sentry-hook-secret", junk.as_bytes());
    call(&env, sentry_req("error", Some(&s), junk)).await.error(StatusCode::BAD_REQUEST, "invalid_body");
}

#[tokio::test]
async fn sentry_signature_is_checked() {
    let env = TestEnv::new();
    let good = sentry::sign("sentry-hook-secret", EVENT_ALERT.as_bytes());
    let wrong_secret = sentry::sign("other-secret", EVENT_ALERT.as_bytes());
    let other_body = sentry::sign("sentry-hook-secret", b"{}");
    for sig in [Some(wrong_secret.as_str()), Some(other_body.as_str()), Some("zz"), Some(""), None] {
        call(&env, sentry_req("event_alert", sig, EVENT_ALERT))
            .await
            .error(StatusCode::UNAUTHORIZED, "invalid_signature");
    }
    // A body changed after signing.
    let tampered = EVENT_ALERT.replace("TypeError", "TypeErrur");
    call(&env, sentry_req("event_alert", Some(&good), &tampered))
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_signature");
}

#[tokio::test]
async fn sentry_not_configured() {
    let no_secret = Config { sentry_webhook_secret: None, ..test_config() };
    let env = TestEnv::with(Arc::new(MemoryStore::new()), no_secret);
    let sig = sentry::sign("sentry-hook-secret", EVENT_ALERT.as_bytes());
    call(&env, sentry_req("event_alert", Some(&sig), EVENT_ALERT))
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "not_configured");

    let no_bot = Config { sentry_alert_telegram_token: None, ..test_config() };
    let env = TestEnv::with(Arc::new(MemoryStore::new()), no_bot);
    call(&env, sentry_req("event_alert", Some(&sig), EVENT_ALERT))
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "not_configured");

    let with_secret = Config { sentry_webhook_secret: Some(Secret::new("s")), ..test_config() };
    let env = TestEnv::with(Arc::new(MemoryStore::new()), with_secret);
    let sig = sentry::sign("s", EVENT_ALERT.as_bytes());
    assert_eq!(call(&env, sentry_req("event_alert", Some(&sig), EVENT_ALERT)).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn customer_endpoints_need_the_client_bot() {
    let config = Config { token_client: None, ..test_config() };
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    get(&env, "/api/v1/me", &tma(&env, 42)).await.error(StatusCode::SERVICE_UNAVAILABLE, "not_configured");
}

// ---------------------------------------------------------- storage failures

#[tokio::test]
async fn storage_failures_are_reported_not_leaked() {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let env = TestEnv::with(store.clone(), test_config());
    let c = register(&env, 42, Language::En).await;
    let (_, key) = partner(&env, 500, "Cafe", Language::En).await;
    let body = format!(r#"{{"customer_code":"{}","purchase":1500}}"#, c.code);

    store.fail_all(Some(StoreError::Unavailable("connection reset by db.internal:5432".into())));
    let a = get(&env, "/api/v1/partners", &tma(&env, 42)).await;
    a.error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let b = call(&env, credit_req(&key, "f1", &body)).await;
    b.error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    for x in [&a, &b] {
        let text = String::from_utf8_lossy(&x.body);
        assert!(!text.contains("db.internal") && !text.contains(&key), "{text}");
    }
    let reports = env.reporter.reports();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.context == "api" && r.temporary && !r.message.contains(&key)));
    // Each report says what led up to it: the route, then the storage calls and their outcomes.
    let crumbs = |r: &loyalty_core::ports::ErrorReport| -> Vec<(&str, String)> {
        r.breadcrumbs.iter().map(|b| (b.category, b.message.clone())).collect()
    };
    assert_eq!(crumbs(&reports[0])[0], ("api", "/api/v1/partners".to_string()));
    assert_eq!(
        crumbs(&reports[1]),
        vec![
            ("api", "/api/v1/partner/credits".to_string()),
            ("storage", "partner_by_api_key: unavailable".to_string())
        ]
    );

    store.fail_all(Some(StoreError::Backend("relation \"ledger\" does not exist".into())));
    let c500 = get(&env, "/api/v1/me", &tma(&env, 42)).await;
    c500.error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert!(!String::from_utf8_lossy(&c500.body).contains("ledger"));
    let reports = env.reporter.reports();
    assert_eq!(reports.len(), 3);
    assert!(!reports[2].temporary);

    // Once the store is back, the retry with the same key credits once.
    store.fail_all(None);
    let ok = call(&env, credit_req(&key, "f1", &body)).await;
    assert_eq!((ok.status, ok.json()["replayed"].clone()), (StatusCode::OK, json!(false)));
}

// ------------------------------------------------------------ never panics

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Whatever arrives, the answer is a well-formed response, and every
    /// error is the standard JSON error.
    #[test]
    fn any_request_gets_an_answer(
        method in proptest::sample::select(vec!["GET", "POST", "PUT", "OPTIONS", "DELETE", "PATCH", "HEAD"]),
        path in proptest::sample::select(ROUTES.iter().map(|r| r.path).chain(["/", "/x", "/api/v1/redemptions/1/confirm"]).collect::<Vec<_>>()),
        suffix in "[a-z0-9%/?=&.+-]{0,12}",
        auth in "(tma |Bearer |)[ -~]{0,40}",
        idem in "[ -~]{0,20}",
        content_type in proptest::sample::select(vec!["application/json", "text/plain", ""]),
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
    ) {
        let env = TestEnv::new();
        let uri = format!("{}{}", path.replace("{id}", "1"), suffix);
        let Ok(req) = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", auth)
            .header("idempotency-key", idem)
            .header("content-type", content_type)
            .header("origin", "https://app.example.com")
            .body(Bytes::from(body)) else { return Ok(()); };
        let out = futures::executor::block_on(env.engine.handle_api(req));
        let status = out.response.status();
        if status.is_client_error() || status.is_server_error() {
            let v: Value = serde_json::from_slice(out.response.body()).expect("JSON error");
            proptest::prop_assert!(v["error"]["code"].is_string());
        }
        proptest::prop_assert_eq!(&out.response.headers()["access-control-allow-origin"], "https://app.example.com");
    }
}

#[tokio::test]
async fn blocked_customer() {
    let (env, c, p, key) = customer_and_partner("Cafe", Language::En).await;
    let id = open(&env, &p, &c, 10, "b1").await;
    env.storage
        .set_blocked(SetBlocked {
            who: CustomerRef::Id(c.id),
            blocked: true,
            admin: TelegramUserId(900),
            now: env.engine.now(),
        })
        .await
        .unwrap();
    let me = get(&env, "/api/v1/me", &tma(&env, 42)).await;
    assert_eq!((me.status, me.json()["blocked"].clone()), (StatusCode::OK, json!(true)));
    let body = format!(r#"{{"customer_code":"{}","purchase":1500}}"#, c.code);
    call(&env, credit_req(&key, "b2", &body)).await.error(StatusCode::FORBIDDEN, "customer_blocked");
    call(&env, post(&format!("/api/v1/redemptions/{id}/confirm"), &tma(&env, 42)))
        .await
        .error(StatusCode::FORBIDDEN, "customer_blocked");
}

#[tokio::test]
async fn error_messages_follow_accept_language() {
    let env = TestEnv::new();
    let message = |a: &Answer| a.json()["error"]["message"].as_str().unwrap_or_default().to_string();
    let cases = [
        (None, "Send Authorization: tma <initData>."),
        (Some("ru"), "Передайте Authorization: tma <initData>."),
        (Some("vi-VN,vi;q=0.9"), "Hãy gửi Authorization: tma <initData>."),
        (Some("de, en;q=0.5"), "Send Authorization: tma <initData>."),
    ];
    for (lang, expected) in cases {
        let headers: Vec<(&str, &str)> = lang.map(|l| ("accept-language", l)).into_iter().collect();
        let a = call(&env, request(Method::GET, "/api/v1/me", &headers, "")).await;
        a.error(StatusCode::UNAUTHORIZED, "missing_auth");
        assert_eq!(message(&a), expected, "{lang:?}");
    }
    // Rule rejections read as in the bots, in the asked language, with the same code.
    register(&env, 42, Language::En).await;
    let req = |lang| {
        request(
            Method::POST,
            "/api/v1/redemptions/999/confirm",
            &[("authorization", &*tma(&env, 42)), ("accept-language", lang)],
            "",
        )
    };
    let a = call(&env, req("ru-RU")).await;
    a.error(StatusCode::NOT_FOUND, "unknown_redemption");
    assert_eq!(message(&a), "Этот запрос больше не существует.");
    let a = call(&env, req("en-GB")).await;
    a.error(StatusCode::NOT_FOUND, "unknown_redemption");
    assert_eq!(message(&a), "This request no longer exists.");
    // Unknown routes, before any authentication.
    let a = call(&env, request(Method::GET, "/api/v1/nope", &[("accept-language", "vi")], "")).await;
    a.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(message(&a), "Không có đường dẫn này.");
}

/// JSON headers with `auth` and another idempotency key than the first campaign's.
fn json_headers_2(auth: &str) -> [(&str, &str); 3] {
    [("authorization", auth), ("content-type", "application/json"), ("idempotency-key", "camp-2")]
}

#[tokio::test]
async fn a_partner_proposes_a_campaign_over_the_api_and_credits_show_its_awards() {
    let env = TestEnv::new();
    let c = register(&env, 42, Language::En).await;
    let (p, key) = partner(&env, 500, "Cafe", Language::En).await;
    let auth = format!("Bearer {key}");
    let (today, later) = (env.engine.now().utc_date(), env.engine.now().plus(30 * 86_400).utc_date());
    let doc = format!(
        r#"{{"title": {{"en": "Welcome"}}, "kind": "first_purchase", "points": 40,
            "starts": "{today}", "ends": "{later}", "budget": 400}}"#
    );
    let json_headers =
        [("authorization", auth.as_str()), ("content-type", "application/json"), ("idempotency-key", "camp-1")];
    let made = call(&env, request(Method::POST, "/api/v1/partner/campaigns", &json_headers, doc.clone())).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let v = made.json();
    assert_eq!((v["status"].as_str(), v["terms"]["partner"].as_i64()), (Some("pending"), Some(p.id.0)), "{v}");
    let to_admins = made.sends();
    assert!(to_admins.iter().any(|(bot, _, text)| *bot == BotKind::Admin && text.contains("/campaign_approve")));
    // The same key again: the same campaign, nothing new, the admins not told twice.
    let again = call(&env, request(Method::POST, "/api/v1/partner/campaigns", &json_headers, doc.clone())).await;
    assert_eq!((again.status, again.json()["id"].clone()), (StatusCode::CREATED, v["id"].clone()));
    let other = doc.replace("40", "50");
    call(&env, request(Method::POST, "/api/v1/partner/campaigns", &json_headers, other))
        .await
        .error(StatusCode::CONFLICT, "idempotency_conflict");
    let no_key = [("authorization", auth.as_str()), ("content-type", "application/json")];
    call(&env, request(Method::POST, "/api/v1/partner/campaigns", &no_key, doc.clone()))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    let bad =
        call(&env, request(Method::POST, "/api/v1/partner/campaigns", &json_headers_2(&auth), r#"{"kind": "x"}"#))
            .await;
    bad.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_campaign");
    let anonymous = request(Method::POST, "/api/v1/partner/campaigns", &[("content-type", "application/json")], doc);
    call(&env, anonymous).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");

    let id = loyalty_core::domain::CampaignId(v["id"].as_i64().unwrap());
    let approve = loyalty_core::ports::DecideCampaign {
        campaign: id,
        decision: loyalty_core::ports::CampaignDecision::Approve,
        by: loyalty_core::ports::CampaignActor::Admin(TelegramUserId(1)),
        now: env.engine.now(),
    };
    env.storage.decide_campaign(approve).await.unwrap();
    let body = format!(r#"{{"customer_code":"{}","purchase":1500}}"#, c.code);
    let credited = call(&env, credit_req(&key, "order-1", &body)).await.json();
    assert_eq!(credited["points"], 115, "75 + 40: {credited}");
    assert_eq!(
        (credited["awards"][0]["points"].as_i64(), credited["awards"][0]["kind"].as_str()),
        (Some(40), Some("first_purchase"))
    );
    let listed = get(&env, "/api/v1/partner/campaigns", &auth).await.json();
    assert_eq!(
        (listed["campaigns"][0]["issued"].as_i64(), listed["campaigns"][0]["status"].as_str()),
        (Some(40), Some("active"))
    );
}

#[tokio::test]
async fn the_mini_app_sets_a_birthday_once() {
    let env = TestEnv::new();
    register(&env, 42, Language::En).await;
    let auth = tma(&env, 42);
    let put = |body: &'static str| {
        request(
            Method::PUT,
            "/api/v1/me/birthday",
            &[("authorization", auth.as_str()), ("content-type", "application/json")],
            body,
        )
    };
    let set = call(&env, put(r#"{"month": 5, "day": 17}"#)).await;
    assert_eq!((set.status, set.json()), (StatusCode::OK, json!({"month": 5, "day": 17})));
    call(&env, put(r#"{"month": 6, "day": 1}"#)).await.error(StatusCode::CONFLICT, "birthday_already_set");
    call(&env, put(r#"{"month": 2, "day": 30}"#)).await.error(StatusCode::BAD_REQUEST, "invalid_amount");
    call(&env, put(r#"{"month": 2}"#)).await.error(StatusCode::BAD_REQUEST, "invalid_body");
    let stranger = tma(&env, 77);
    let req = request(
        Method::PUT,
        "/api/v1/me/birthday",
        &[("authorization", stranger.as_str()), ("content-type", "application/json")],
        r#"{"month": 5, "day": 17}"#,
    );
    call(&env, req).await.error(StatusCode::NOT_FOUND, "not_registered");
}

const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef-admin";

#[tokio::test]
async fn the_admin_api_exports_and_imports_the_rules_and_runs_campaigns() {
    let mut config = test_config();
    config.admin_api_token = Some(Secret::new(ADMIN_TOKEN));
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let with = |method: Method, path: &str, body: &str| {
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        request(method, path, &headers, body.to_string())
    };
    // Wrong, missing or partial tokens: 401 and nothing else.
    for bad in ["Bearer nope", "", "Basic xyz", &format!("Bearer {}", &ADMIN_TOKEN[..31])] {
        let req = request(Method::GET, "/api/v1/admin/rules", &[("authorization", bad)], Bytes::new());
        call(&env, req).await.error(StatusCode::UNAUTHORIZED, "invalid_admin_token");
    }
    let shown = call(&env, with(Method::GET, "/api/v1/admin/rules", "")).await;
    assert_eq!((shown.status, shown.json()["version"].as_i64()), (StatusCode::OK, Some(0)));
    let doc = r#"{"expiry": {"days": 90, "remind_days_before": 7}}"#;
    let set = call(&env, with(Method::PUT, "/api/v1/admin/rules", doc)).await.json();
    assert_eq!((set["version"].as_i64(), set["rules"]["expiry"]["days"].as_i64()), (Some(1), Some(90)), "{set}");
    // What was exported imports as it is: a new version, the same document.
    let exported = call(&env, with(Method::GET, "/api/v1/admin/rules", "")).await.json();
    let again = call(&env, with(Method::PUT, "/api/v1/admin/rules", &exported["rules"].to_string())).await.json();
    assert_eq!((again["version"].as_i64(), &again["rules"]), (Some(2), &exported["rules"]));
    let refused = call(&env, with(Method::PUT, "/api/v1/admin/rules", r#"{"expiry": {"days": 0}}"#)).await;
    refused.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rules");
    assert_eq!(env.storage.program_rules().await.unwrap().version, 2, "a refused document changes nothing");

    let (today, later) = (env.engine.now().utc_date(), env.engine.now().plus(10 * 86_400).utc_date());
    let campaign = format!(
        r#"{{"title": {{"en": "Spring"}}, "kind": "multiplier", "multiplier_bps": 15000, "starts": "{today}", "ends": "{later}", "budget": 100}}"#
    );
    let made = call(&env, with(Method::POST, "/api/v1/admin/campaigns", &campaign)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert_eq!(made.json()["status"], "active");
    let listed = call(&env, with(Method::GET, "/api/v1/admin/campaigns", "")).await.json();
    assert_eq!(listed["campaigns"].as_array().map(Vec::len), Some(1));
    let ended = call(&env, with(Method::POST, "/api/v1/admin/campaigns/1/end", "")).await.json();
    assert_eq!(ended["status"], "ended");
    call(&env, with(Method::POST, "/api/v1/admin/campaigns/1/approve", ""))
        .await
        .error(StatusCode::CONFLICT, "campaign_closed");
    call(&env, with(Method::POST, "/api/v1/admin/campaigns/99/end", ""))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_campaign");
    call(&env, with(Method::POST, "/api/v1/admin/campaigns/x/end", ""))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_campaign");
}

#[tokio::test]
async fn the_admin_api_is_off_without_a_token_and_refuses_weak_ones() {
    let env = TestEnv::new();
    let req = request(Method::GET, "/api/v1/admin/rules", &[("authorization", "Bearer anything")], Bytes::new());
    call(&env, req).await.error(StatusCode::SERVICE_UNAVAILABLE, "not_configured");
    let weak = Config::from_lookup(|k| (k == "ADMIN_API_TOKEN").then(|| "short".to_string()));
    assert!(weak.unwrap_err().to_string().contains("ADMIN_API_TOKEN"));
}

fn pos(key: &str, method: Method, path: &str, idem: Option<&str>, body: &str) -> Request<Bytes> {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str()), ("content-type", "application/json")];
    if let Some(idem) = idem {
        headers.push(("idempotency-key", idem));
    }
    request(method, path, &headers, body.to_string())
}

#[tokio::test]
async fn the_pos_reverses_asks_for_a_redemption_and_reads_its_summary() {
    let env = TestEnv::new();
    let c = register(&env, 42, Language::En).await;
    let (_, key) = partner(&env, 500, "Cafe", Language::En).await;
    let (_, other_key) = partner(&env, 501, "Bar", Language::En).await;
    let body = format!(r#"{{"customer_code":"{}","purchase":2000}}"#, c.code);
    let credited = call(&env, credit_req(&key, "order-1", &body)).await.json();
    assert_eq!((credited["points"].as_i64(), credited["balance"].as_i64()), (Some(100), Some(200)));
    let looked = get(&env, &format!("/api/v1/partner/customers/{}", c.code), &format!("Bearer {key}")).await.json();
    assert_eq!((looked["balance"].as_i64(), looked["tier"].as_i64()), (Some(200), Some(0)), "{looked}");

    // A reversal, its replay, another partner's attempt, a missing key.
    let entry = credited["entry_id"].as_i64().unwrap();
    let reverse_body = format!(r#"{{"entry_id":{entry}}}"#);
    let back = call(&env, pos(&key, Method::POST, "/api/v1/partner/reversals", Some("undo-1"), &reverse_body)).await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    let v = back.json();
    assert_eq!(
        (v["points"].as_i64(), v["balance"].as_i64(), v["replayed"].as_bool()),
        (Some(-100), Some(100), Some(false))
    );
    assert!(back.sends().iter().any(|(bot, chat, _)| *bot == BotKind::Client && *chat == 42), "the customer is told");
    let again = call(&env, pos(&key, Method::POST, "/api/v1/partner/reversals", Some("undo-1"), &reverse_body)).await;
    assert_eq!(
        (again.json()["replayed"].as_bool(), again.json()["entry_id"].clone()),
        (Some(true), v["entry_id"].clone())
    );
    call(&env, pos(&key, Method::POST, "/api/v1/partner/reversals", Some("undo-2"), &reverse_body))
        .await
        .error(StatusCode::CONFLICT, "already_reversed");
    call(&env, pos(&other_key, Method::POST, "/api/v1/partner/reversals", Some("undo-3"), &reverse_body))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_entry");
    call(&env, pos(&key, Method::POST, "/api/v1/partner/reversals", None, &reverse_body))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    call(&env, pos(&key, Method::POST, "/api/v1/partner/reversals", Some("undo-4"), r#"{"entry":1}"#))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_body");

    // A redemption request: pending, the customer is asked; a replay is the same request.
    let ask = format!(r#"{{"customer_code":"{}","points":30,"purchase":1000}}"#, c.code);
    let opened = call(&env, pos(&key, Method::POST, "/api/v1/partner/redemptions", Some("pay-1"), &ask)).await;
    assert_eq!(opened.status, StatusCode::OK, "{:?}", opened.body);
    let r = opened.json();
    assert_eq!((r["redemption"]["status"].as_str(), r["redemption"]["points"].as_i64()), (Some("pending"), Some(30)));
    assert!(
        opened.sends().iter().any(|(bot, chat, _)| *bot == BotKind::Client && *chat == 42),
        "the customer is asked"
    );
    let replay = call(&env, pos(&key, Method::POST, "/api/v1/partner/redemptions", Some("pay-1"), &ask)).await.json();
    assert_eq!(
        (replay["redemption"]["id"].clone(), replay["replayed"].as_bool()),
        (r["redemption"]["id"].clone(), Some(true))
    );
    let too_much = format!(r#"{{"customer_code":"{}","points":350,"purchase":1000}}"#, c.code);
    call(&env, pos(&key, Method::POST, "/api/v1/partner/redemptions", Some("pay-2"), &too_much))
        .await
        .error(StatusCode::CONFLICT, "exceeds_max_share");
    let id = r["redemption"]["id"].as_i64().unwrap();
    // The POS polls: pending after waiting 3 s (read every second); then the customer answers.
    let status = |wait: &str| pos(&key, Method::GET, &format!("/api/v1/partner/redemptions/{id}{wait}"), None, "");
    let slept = env.clock.slept_millis();
    let waited = call(&env, status("?wait=3")).await.json();
    assert_eq!((waited["redemption"]["status"].as_str(), env.clock.slept_millis() - slept), (Some("pending"), 3_000));
    call(&env, status("?wait=26")).await.error(StatusCode::BAD_REQUEST, "invalid_query");
    let elsewhere = pos(&other_key, Method::GET, &format!("/api/v1/partner/redemptions/{id}"), None, "");
    call(&env, elsewhere).await.error(StatusCode::NOT_FOUND, "unknown_redemption");
    let confirmed = call(&env, post(&format!("/api/v1/redemptions/{id}/confirm"), &tma(&env, 42))).await.json();
    assert_eq!(confirmed["redemption"]["status"], "confirmed", "{confirmed}");
    let slept = env.clock.slept_millis();
    let answered = call(&env, status("?wait=25")).await.json();
    assert_eq!(
        (answered["redemption"]["status"].as_str(), env.clock.slept_millis()),
        (Some("confirmed"), slept),
        "no wait"
    );
    assert!(answered["redemption"]["entry_id"].as_i64().is_some(), "{answered}");

    // The figures: one purchase credited and reversed, 30 points redeemed.
    let summary = get(&env, "/api/v1/partner/summary", &format!("Bearer {key}")).await.json();
    assert_eq!(
        (
            summary["today"]["purchases"].as_i64(),
            summary["today"]["issued"].as_i64(),
            summary["today"]["redeemed"].as_i64()
        ),
        (Some(0), Some(0), Some(30)),
        "{summary}"
    );
    assert_eq!(summary["week"], summary["today"]);
    let nobody = request(Method::GET, "/api/v1/partner/summary", &[], Bytes::new());
    call(&env, nobody).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");
}

#[tokio::test]
async fn a_pending_request_past_its_time_reads_as_expired() {
    let env = TestEnv::new();
    let c = register(&env, 42, Language::En).await;
    let (_, key) = partner(&env, 500, "Cafe", Language::En).await;
    let ask = format!(r#"{{"customer_code":"{}","points":30,"purchase":1000}}"#, c.code);
    let opened = call(&env, pos(&key, Method::POST, "/api/v1/partner/redemptions", Some("pay-1"), &ask)).await.json();
    let id = opened["redemption"]["id"].as_i64().unwrap();
    env.clock.advance(rules::REDEMPTION_TTL_SECS + 1);
    let read = call(&env, pos(&key, Method::GET, &format!("/api/v1/partner/redemptions/{id}?wait=5"), None, "")).await;
    assert_eq!(read.json()["redemption"]["status"], "expired");
}

#[tokio::test]
async fn rewards_over_the_api_from_publishing_to_the_counter() {
    let mut config = test_config();
    config.admin_api_token = Some(Secret::new(ADMIN_TOKEN));
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    let anna = register(&env, 42, Language::En).await;
    let (p, key) = partner(&env, 500, "Phở 24", Language::Vi).await;
    let (_, other_key) = partner(&env, 501, "Bánh mì", Language::Vi).await;
    let auth = tma(&env, 42);
    let admin = format!("Bearer {ADMIN_TOKEN}");

    // The POS publishes (idempotent by its key); the admin approves.
    let offer = r#"{"title": {"en": "Iced coffee", "vi": "Cà phê đá"}, "price": 60, "stock": 1, "category": "drinks"}"#;
    let made = call(&env, pos(&key, Method::POST, "/api/v1/partner/rewards", Some("r-1"), offer)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let reward = made.json();
    assert_eq!((reward["status"].as_str(), reward["partner_name"].as_str()), (Some("pending"), Some("Phở 24")));
    assert!(made.sends().iter().any(|(bot, _, text)| *bot == BotKind::Admin && text.contains("Iced coffee")));
    let again = call(&env, pos(&key, Method::POST, "/api/v1/partner/rewards", Some("r-1"), offer)).await;
    assert_eq!(again.json()["id"], reward["id"], "the same key, the same reward");
    call(&env, pos(&key, Method::POST, "/api/v1/partner/rewards", None, offer))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    call(
        &env,
        pos(&key, Method::POST, "/api/v1/partner/rewards", Some("r-2"), r#"{"title": {"en": "x"}, "price": 0}"#),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reward");
    call(&env, pos(&key, Method::POST, "/api/v1/partner/rewards", Some("r-3"), r#"{"price": 5, "colour": 1}"#))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_body");
    let listed = get(&env, "/api/v1/rewards", &auth).await.json();
    assert_eq!(listed["rewards"].as_array().map(Vec::len), Some(0), "not approved yet: {listed}");
    let waiting = get(&env, "/api/v1/admin/rewards?status=pending", &admin).await.json();
    assert_eq!(waiting["rewards"][0]["id"], reward["id"]);
    let approve = request(Method::POST, "/api/v1/admin/rewards/1/approve", &[("authorization", &admin)], Bytes::new());
    let approved = call(&env, approve).await;
    assert_eq!(approved.json()["status"], "active");
    assert!(approved.sends().iter().any(|(bot, chat, _)| *bot == BotKind::Partner && *chat == 500));

    // The customer browses and claims (idempotent by the Mini App's key).
    let listed = get(&env, "/api/v1/rewards?category=drinks&limit=5", &auth).await.json();
    assert_eq!(
        (listed["rewards"][0]["offer"]["title"]["vi"].as_str(), &listed["next_after"]),
        (Some("Cà phê đá"), &Value::Null)
    );
    for bad in ["limit=0", "limit=51", "category=Bad!", "after=-1", "partner=x"] {
        get(&env, &format!("/api/v1/rewards?{bad}"), &auth).await.error(StatusCode::BAD_REQUEST, "invalid_query");
    }
    get(&env, "/api/v1/rewards", "tma forged").await.error(StatusCode::UNAUTHORIZED, "invalid_init_data");
    let claim = |idem: &str| {
        request(
            Method::POST,
            "/api/v1/rewards/1/claim",
            &[("authorization", &auth), ("idempotency-key", idem)],
            Bytes::new(),
        )
    };
    let claimed = call(&env, claim("c-1")).await.json();
    assert_eq!(
        (claimed["voucher"]["status"].as_str(), claimed["balance"].as_i64()),
        (Some("issued"), Some(40)),
        "{claimed}"
    );
    let replayed = call(&env, claim("c-1")).await.json();
    assert_eq!(
        (replayed["voucher"]["id"].clone(), replayed["replayed"].as_bool()),
        (claimed["voucher"]["id"].clone(), Some(true))
    );
    call(&env, claim("c-2")).await.error(StatusCode::CONFLICT, "out_of_stock");
    call(&env, request(Method::POST, "/api/v1/rewards/1/claim", &[("authorization", &auth)], Bytes::new()))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    let unknown = request(
        Method::POST,
        "/api/v1/rewards/99/claim",
        &[("authorization", &auth), ("idempotency-key", "c-3")],
        Bytes::new(),
    );
    call(&env, unknown).await.error(StatusCode::NOT_FOUND, "unknown_reward");
    let mine = get(&env, "/api/v1/me/vouchers?status=issued", &auth).await.json();
    assert_eq!(mine["vouchers"].as_array().map(Vec::len), Some(1));
    get(&env, "/api/v1/me/vouchers?status=lost", &auth).await.error(StatusCode::BAD_REQUEST, "invalid_query");

    // The counter accepts it once; another partner does not know it.
    let code = claimed["voucher"]["code"].as_str().unwrap().to_string();
    let path = format!("/api/v1/partner/vouchers/{}-{}/use", &code[..5], &code[5..]);
    call(&env, pos(&other_key, Method::POST, &path, None, "")).await.error(StatusCode::NOT_FOUND, "unknown_voucher");
    let used = call(&env, pos(&key, Method::POST, &path, None, "")).await;
    assert_eq!(
        (used.json()["replayed"].as_bool(), used.json()["voucher"]["status"].as_str()),
        (Some(false), Some("used"))
    );
    assert!(
        used.sends()
            .iter()
            .any(|(bot, chat, text)| *bot == BotKind::Client && *chat == 42 && text.contains("was used"))
    );
    let twice = call(&env, pos(&key, Method::POST, &path, None, "")).await;
    assert_eq!(twice.json()["replayed"].as_bool(), Some(true));
    assert!(twice.deferred.is_empty(), "the customer is told once");
    call(&env, pos(&key, Method::POST, "/api/v1/partner/vouchers/not-a-code/use", None, ""))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_voucher_code");
    let cancel = request(Method::POST, "/api/v1/me/vouchers/1/cancel", &[("authorization", &auth)], Bytes::new());
    call(&env, cancel).await.error(StatusCode::CONFLICT, "voucher_closed");
    assert_eq!(env.storage.customer_summary(CustomerRef::Id(anna.id), 0).await.unwrap().unwrap().customer.balance, 40);

    // The partner withdraws it; its list shows every status.
    let withdrawn = call(&env, pos(&key, Method::POST, "/api/v1/partner/rewards/1/withdraw", None, "")).await.json();
    assert_eq!(withdrawn["status"], "withdrawn");
    call(&env, pos(&other_key, Method::POST, "/api/v1/partner/rewards/1/withdraw", None, ""))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_reward");
    let own = call(&env, pos(&key, Method::GET, "/api/v1/partner/rewards?status=withdrawn", None, "")).await.json();
    assert_eq!(own["rewards"][0]["partner"].as_i64(), Some(p.id.0));
}

#[tokio::test]
async fn the_pos_reads_its_statement_page_by_page() {
    let (env, c, p, key) = customer_and_partner("Phở 24", Language::Vi).await;
    let (_, other_key) = partner(&env, 501, "Bánh mì", Language::Vi).await;
    for i in 0..5 {
        let body = format!(r#"{{"customer_code": "{}", "purchase": {}}}"#, c.code.as_str(), 1_000 + i);
        let credited =
            call(&env, pos(&key, Method::POST, "/api/v1/partner/credits", Some(&format!("s-{i}")), &body)).await;
        assert_eq!(credited.status, StatusCode::OK, "{:?}", credited.body);
    }
    let body = format!(r#"{{"customer_code": "{}", "purchase": 9000}}"#, c.code.as_str());
    call(&env, pos(&other_key, Method::POST, "/api/v1/partner/credits", Some("other"), &body)).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/partner/entries?limit=2".to_string();
    loop {
        let page = call(&env, pos(&key, Method::GET, &path, None, "")).await.json();
        for e in page["entries"].as_array().unwrap() {
            assert_eq!((e["partner_id"].as_i64(), e["customer_id"].as_i64()), (Some(p.id.0), Some(c.id.0)), "{e}");
            seen.push(e["purchase"].as_i64().unwrap());
        }
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/api/v1/partner/entries?limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![1_004, 1_003, 1_002, 1_001, 1_000], "newest first, each once, only this partner's");
    for bad in ["limit=0", "limit=101", "before=x"] {
        call(&env, pos(&key, Method::GET, &format!("/api/v1/partner/entries?{bad}"), None, ""))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_query");
    }
    call(&env, pos("nope", Method::GET, "/api/v1/partner/entries", None, ""))
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_api_key");
}

#[tokio::test]
async fn a_pos_key_is_revoked_by_whoever_holds_it() {
    let (env, c, _, key) = customer_and_partner("Phở 24", Language::Vi).await;
    let lookup = format!("/api/v1/partner/customers/{}", c.code.as_str());
    assert_eq!(call(&env, pos(&key, Method::GET, &lookup, None, "")).await.status, StatusCode::OK);
    let revoked = call(&env, pos(&key, Method::DELETE, "/api/v1/partner/key", None, "")).await;
    assert_eq!(revoked.json()["revoked"], true);
    call(&env, pos(&key, Method::GET, &lookup, None, "")).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    call(&env, pos(&key, Method::DELETE, "/api/v1/partner/key", None, ""))
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_api_key");
}

#[tokio::test]
async fn a_pos_key_past_its_rate_limit_gets_429_with_retry_after() {
    let mut config = test_config();
    config.pos_rate_limit = 3;
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    let c = register(&env, 42, Language::En).await;
    let (_, key) = partner(&env, 500, "Phở 24", Language::Vi).await;
    let (_, other) = partner(&env, 501, "Bánh mì", Language::Vi).await;
    let lookup = format!("/api/v1/partner/customers/{}", c.code.as_str());
    // Start a minute: the window is the clock's minute.
    let now = env.engine.now().0;
    env.clock.advance(60 - now.rem_euclid(60));
    for _ in 0..3 {
        assert_eq!(call(&env, pos(&key, Method::GET, &lookup, None, "")).await.status, StatusCode::OK);
    }
    env.clock.advance(20);
    let limited = call(&env, pos(&key, Method::GET, &lookup, None, "")).await;
    assert_eq!(limited.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("40"));
    limited.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let body = format!(r#"{{"customer_code": "{}", "purchase": 1000}}"#, c.code.as_str());
    call(&env, pos(&key, Method::POST, "/api/v1/partner/credits", Some("k"), &body))
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(env.storage.customer_summary(CustomerRef::Id(c.id), 0).await.unwrap().unwrap().customer.balance, 100);
    // Another key has its own count; the next minute starts afresh.
    assert_eq!(call(&env, pos(&other, Method::GET, &lookup, None, "")).await.status, StatusCode::OK);
    env.clock.advance(40);
    assert_eq!(call(&env, pos(&key, Method::GET, &lookup, None, "")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_customer_reads_their_data_and_erases_it_once() {
    let (env, c, p, key) = customer_and_partner("Cafe", Language::En).await;
    let auth = tma(&env, c.telegram_id.0);
    let erase = |auth: &str, body: &str| {
        let headers = [("authorization", auth), ("content-type", "application/json")];
        request(Method::POST, "/api/v1/me/erase", &headers, body.to_string())
    };
    let data = get(&env, "/api/v1/me/data", &auth).await;
    assert_eq!(data.status, StatusCode::OK, "{:?}", data.body);
    let held: PersonalData = serde_json::from_slice(&data.body).unwrap();
    assert_eq!((held.customer.id, held.entries.len(), held.birthday), (c.id, 1, None));
    get(&env, "/api/v1/me/data", &tma(&env, 77)).await.error(StatusCode::NOT_FOUND, "not_registered");
    get(&env, "/api/v1/me/data", "tma forged").await.error(StatusCode::UNAUTHORIZED, "invalid_init_data");

    // Erasure must be confirmed in a JSON body; nothing changes until it is.
    for bad in ["", "{}", r#"{"confirm": false}"#, r#"{"confirm": true, "also": 1}"#, "not json"] {
        call(&env, erase(&auth, bad)).await.error(StatusCode::BAD_REQUEST, "invalid_body");
    }
    let plain = request(Method::POST, "/api/v1/me/erase", &[("authorization", auth.as_str())], r#"{"confirm":true}"#);
    call(&env, plain).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert!(env.storage.personal_data(CustomerRef::Id(c.id)).await.unwrap().is_some_and(|d| !d.customer.is_erased()));

    let done = call(&env, erase(&auth, r#"{"confirm": true}"#)).await;
    assert_eq!((done.status, done.json()), (StatusCode::OK, json!({"erased": true, "tombstone": c.id.0})));
    call(&env, erase(&auth, r#"{"confirm": true}"#)).await.error(StatusCode::NOT_FOUND, "not_registered");
    get(&env, "/api/v1/me/data", &auth).await.error(StatusCode::NOT_FOUND, "not_registered");
    // The card no longer takes points; the POS sees a blocked, nameless card.
    let looked = get(&env, &format!("/api/v1/partner/customers/{}", c.code), &format!("Bearer {key}")).await;
    assert_eq!((looked.json()["first_name"].clone(), looked.json()["blocked"].clone()), (json!(""), json!(true)));
    let _ = p;
}

#[tokio::test]
async fn the_admin_reads_the_audit_log_and_erases_on_request() {
    let mut config = test_config();
    config.admin_api_token = Some(Secret::new(ADMIN_TOKEN));
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    let c = register(&env, 31, Language::Ru).await;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let erase = |code: &str, body: &str| {
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        request(Method::POST, &format!("/api/v1/admin/customers/{code}/erase"), &headers, body.to_string())
    };
    let empty = get(&env, "/api/v1/admin/audit", &auth).await;
    assert_eq!((empty.status, empty.json()), (StatusCode::OK, json!({"records": [], "next_before": null})));
    get(&env, "/api/v1/admin/audit", "Bearer nope").await.error(StatusCode::UNAUTHORIZED, "invalid_admin_token");
    call(&env, request(Method::POST, "/api/v1/admin/customers/ABCD2345/erase", &[], "{}"))
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_admin_token");
    for bad in ["/api/v1/admin/audit?limit=0", "/api/v1/admin/audit?limit=101", "/api/v1/admin/audit?before=x"] {
        get(&env, bad, &auth).await.error(StatusCode::BAD_REQUEST, "invalid_query");
    }
    call(&env, erase("nope", r#"{"confirm": true}"#)).await.error(StatusCode::BAD_REQUEST, "invalid_customer_code");
    call(&env, erase("ABCD2345", r#"{"confirm": true}"#)).await.error(StatusCode::NOT_FOUND, "unknown_customer");
    call(&env, erase(c.code.as_str(), r#"{"confirm": false}"#)).await.error(StatusCode::BAD_REQUEST, "invalid_body");

    let done = call(&env, erase(c.code.as_str(), r#"{"confirm": true}"#)).await;
    assert_eq!((done.status, done.json()), (StatusCode::OK, json!({"tombstone": c.id.0, "replayed": false})));
    let again = call(&env, erase(c.code.as_str(), r#"{"confirm": true}"#)).await;
    assert_eq!(again.json(), json!({"tombstone": c.id.0, "replayed": true}));
    let log = get(&env, "/api/v1/admin/audit?limit=1", &auth).await.json();
    let record = &log["records"][0];
    assert_eq!(
        (record["admin"].clone(), record["action"].clone()),
        (json!(0), json!({"action": "erased", "customer": c.id.0}))
    );
    let next = log["next_before"].as_i64().expect("a full page has a next one");
    let rest = get(&env, &format!("/api/v1/admin/audit?before={next}"), &auth).await.json();
    assert_eq!(rest, json!({"records": [], "next_before": null}));
}

#[tokio::test]
async fn the_pos_runs_a_stamp_card_and_stamps_once_per_key() {
    let (env, c, _, key) = customer_and_partner("Cafe", Language::En).await;
    let stamp = |idem: &str, body: &str| pos(&key, Method::POST, "/api/v1/partner/stamps", Some(idem), body);
    let card = |body: &str| pos(&key, Method::PUT, "/api/v1/partner/stamp-card", None, body);
    let body = format!(r#"{{"customer_code": "{}"}}"#, c.code);

    call(&env, stamp("s1", &body)).await.error(StatusCode::CONFLICT, "no_stamp_card");
    for bad in [r#"{"needed": 1, "reward": "x"}"#, r#"{"needed": 51, "reward": "x"}"#, r#"{"needed": 5}"#] {
        call(&env, card(bad)).await.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_stamp_card");
    }
    call(&env, card(r#"{"needed": "5"}"#)).await.error(StatusCode::BAD_REQUEST, "invalid_body");
    let set = call(&env, card(r#"{"needed": 2, "reward": "a free coffee"}"#)).await;
    assert_eq!((set.status, set.json()["card"]["needed"].clone()), (StatusCode::OK, json!(2)));

    let first = call(&env, stamp("s1", &body)).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let v = first.json();
    assert_eq!(
        (v["stamps"].clone(), v["completed"].clone(), v["replayed"].clone()),
        (json!(1), json!(false), json!(false))
    );
    assert_eq!(first.sends().len(), 1, "the customer is told");
    let again = call(&env, stamp("s1", &body)).await.json();
    assert_eq!((again["stamps"].clone(), again["replayed"].clone()), (json!(1), json!(true)));
    let full = call(&env, stamp("s2", &body)).await.json();
    assert_eq!(
        (full["stamps"].clone(), full["completed"].clone(), full["completed_cards"].clone()),
        (json!(0), json!(true), json!(1))
    );
    call(&env, stamp("s3", r#"{"customer_code": "nope"}"#))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_customer_code");
    call(&env, stamp("s3", r#"{"customer_code": "ABCD2345"}"#)).await.error(StatusCode::NOT_FOUND, "unknown_customer");
    let no_key = pos(&key, Method::POST, "/api/v1/partner/stamps", None, &body);
    call(&env, no_key).await.error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    let forged = pos("not-a-key", Method::POST, "/api/v1/partner/stamps", Some("s4"), &body);
    call(&env, forged).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");

    let looked = call(&env, customer_lookup(&key, c.code.as_str())).await.json();
    assert_eq!((looked["stamps"]["stamps"].clone(), looked["stamps"]["needed"].clone()), (json!(0), json!(2)));
    let mine = get(&env, "/api/v1/me/stamps", &tma(&env, c.telegram_id.0)).await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    let cards = mine.json()["cards"].clone();
    assert_eq!(
        (cards[0]["stamps"].clone(), cards[0]["completed_cards"].clone(), cards[0]["reward"].clone()),
        (json!(0), json!(1), json!("a free coffee"))
    );
    get(&env, "/api/v1/me/stamps", &tma(&env, 77)).await.error(StatusCode::NOT_FOUND, "not_registered");
    let ended = call(&env, card(r#"{"needed": 0}"#)).await;
    assert_eq!((ended.status, ended.json()), (StatusCode::OK, json!({"card": null})));
    call(&env, stamp("s5", &body)).await.error(StatusCode::CONFLICT, "no_stamp_card");
}

fn pos_get(key: &str, path: &str) -> Request<Bytes> {
    request(Method::GET, path, &[("authorization", &format!("Bearer {key}"))], Bytes::new())
}

#[tokio::test]
async fn pos_lists_and_revokes_staff_and_entries_name_the_cashier() {
    let (env, c, p, key) = customer_and_partner("Cafe", Language::En).await;
    let (_, other_key) = partner(&env, 501, "Bar", Language::En).await;
    let now = env.engine.now();
    let invite = |hash: &str| InviteStaff {
        partner: PartnerRef::Id(p.id),
        token_sha256_hex: hash.into(),
        now,
        expires_at: now.plus(rules::STAFF_INVITE_TTL_SECS),
    };
    let (joined_hash, open_hash) = (rules::hash_api_key("joined-token"), rules::hash_api_key("open-token"));
    let cashier = env.storage.invite_staff(invite(&joined_hash)).await.unwrap();
    let open = env.storage.invite_staff(invite(&open_hash)).await.unwrap();
    let join =
        JoinStaff { token_sha256_hex: joined_hash.clone(), telegram_id: TelegramUserId(700), name: "Minh".into(), now };
    env.storage.join_staff(join).await.unwrap();
    let till = CreditPurchase {
        partner: PartnerRef::Till(TelegramUserId(700)),
        customer: CustomerRef::Id(c.id),
        purchase: 1000,
        idempotency_key: "till-1".into(),
        day_start: now.day_start(),
        now,
    };
    env.storage.credit_purchase(till).await.unwrap();

    let listed = call(&env, pos_get(&key, "/api/v1/partner/staff")).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let staff = listed.json()["staff"].clone();
    assert_eq!(staff[1]["id"], open.id.0, "active cashiers first: {staff}");
    assert_eq!((staff[1]["status"].clone(), staff[1]["name"].clone()), (json!("invited"), json!("")));
    assert_eq!((staff[0]["status"].clone(), staff[0]["name"].clone()), (json!("active"), json!("Minh")));
    assert_eq!(staff[0]["telegram_id"], 700);
    let body = String::from_utf8_lossy(&listed.body);
    assert!(!body.contains(&joined_hash) && !body.contains(&open_hash), "no token hash leaks: {body}");
    let entries = call(&env, pos_get(&key, "/api/v1/partner/entries")).await.json();
    assert_eq!(entries["entries"][0]["cashier_id"], cashier.id.0, "{entries}");

    // Another partner's key sees none of it and cannot revoke it.
    assert_eq!(call(&env, pos_get(&other_key, "/api/v1/partner/staff")).await.json()["staff"], json!([]));
    let revoke = |key: &str, id: &str| {
        request(
            Method::DELETE,
            &format!("/api/v1/partner/staff/{id}"),
            &[("authorization", &format!("Bearer {key}"))],
            Bytes::new(),
        )
    };
    let id = cashier.id.0.to_string();
    call(&env, revoke(&other_key, &id)).await.error(StatusCode::NOT_FOUND, "unknown_staff");
    for bad in ["0", "x", "99", "-1", "123456789012345678901"] {
        call(&env, revoke(&key, bad)).await.error(StatusCode::NOT_FOUND, "unknown_staff");
    }
    call(&env, revoke("wrong-key", &id)).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    let till = CreditPurchase {
        partner: PartnerRef::Till(TelegramUserId(700)),
        customer: CustomerRef::Id(c.id),
        purchase: 1000,
        idempotency_key: "till-2".into(),
        day_start: now.day_start(),
        now,
    };
    env.storage.credit_purchase(till.clone()).await.expect("still a cashier");

    let revoked = call(&env, revoke(&key, &id)).await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.body);
    assert_eq!(
        (revoked.json()["staff"]["status"].clone(), revoked.json()["replayed"].clone()),
        (json!("revoked"), json!(false))
    );
    let told = revoked.sends();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!((told[0].0, told[0].1), (BotKind::Partner, 700), "the cashier is told");
    let again = call(&env, revoke(&key, &id)).await;
    assert_eq!(again.json()["replayed"], true);
    assert!(again.deferred.is_empty(), "told once");
    let refused = env.storage.credit_purchase(CreditPurchase { idempotency_key: "till-3".into(), ..till }).await;
    assert_eq!(refused.unwrap_err(), StoreError::Rejected(Rejection::UnknownPartner), "access ends at once");
}

#[tokio::test]
async fn pos_registers_lists_and_removes_its_webhook_endpoints() {
    let (env, _c, p, key) = customer_and_partner("Cafe", Language::En).await;
    let (_, other_key) = partner(&env, 501, "Bar", Language::En).await;
    let path = "/api/v1/partner/webhooks";
    let body = r#"{"url": "https://cafe.example.com/loyalty", "events": ["points.credited", "points.redeemed"]}"#;

    let created = call(&env, pos(&key, Method::POST, path, Some("wh-1"), body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let answer = created.json();
    let endpoint = answer["webhook"].clone();
    assert_eq!(answer["replayed"], false, "{answer}");
    assert_eq!(endpoint["url"], "https://cafe.example.com/loyalty");
    assert_eq!(endpoint["events"], json!(["points.credited", "points.redeemed"]));
    assert_eq!((endpoint["last_status"].clone(), endpoint["last_success_at"].clone()), (Value::Null, Value::Null));
    let secret = endpoint["secret"].as_str().expect("the secret, once").to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 70, "{secret}");
    let id = endpoint["id"].as_i64().unwrap();
    let stored = env.storage.webhooks(WebhookOwner::Partner(PartnerRef::Id(p.id))).await.unwrap();
    assert_eq!(
        (stored.len(), stored[0].secret.as_str()),
        (1, secret.as_str()),
        "the secret the deliveries are signed with"
    );

    // A retry (the same key and body, the answer lost) adds nothing and answers the same endpoint.
    let again = call(&env, pos(&key, Method::POST, path, Some("wh-1"), body)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!((again.json()["replayed"].clone(), again.json()["webhook"]["id"].clone()), (json!(true), json!(id)));
    assert_eq!(again.json()["webhook"]["secret"], secret.as_str());
    assert_eq!(env.storage.webhooks(WebhookOwner::Partner(PartnerRef::Id(p.id))).await.unwrap().len(), 1);
    // The events in another order are the same registration.
    let reordered = r#"{"url": "https://cafe.example.com/loyalty", "events": ["points.redeemed", "points.credited"]}"#;
    let same = call(&env, pos(&key, Method::POST, path, Some("wh-1"), reordered)).await;
    assert_eq!((same.status, same.json()["replayed"].clone()), (StatusCode::CREATED, json!(true)), "{:?}", same.body);
    assert_eq!(
        (same.json()["webhook"]["id"].clone(), same.json()["webhook"]["secret"].clone()),
        (json!(id), json!(secret))
    );
    // The same key with another URL or other events is a conflict, and adds nothing.
    for other in [
        r#"{"url": "https://cafe.example.com/other", "events": ["points.credited", "points.redeemed"]}"#,
        r#"{"url": "https://cafe.example.com/loyalty", "events": ["points.credited"]}"#,
    ] {
        call(&env, pos(&key, Method::POST, path, Some("wh-1"), other))
            .await
            .error(StatusCode::CONFLICT, "idempotency_conflict");
    }
    assert_eq!(env.storage.webhooks(WebhookOwner::Partner(PartnerRef::Id(p.id))).await.unwrap().len(), 1);
    // Another partner's key of the same text is its own.
    let theirs = call(&env, pos(&other_key, Method::POST, path, Some("wh-1"), body)).await;
    assert_eq!((theirs.status, theirs.json()["replayed"].clone()), (StatusCode::CREATED, json!(false)));
    assert_ne!(theirs.json()["webhook"]["id"], id);
    let theirs_id = theirs.json()["webhook"]["id"].as_i64().unwrap();
    let remove_theirs = request(
        Method::DELETE,
        &format!("/api/v1/partner/webhooks/{theirs_id}"),
        &[("authorization", &format!("Bearer {other_key}"))],
        Bytes::new(),
    );
    assert_eq!(call(&env, remove_theirs).await.status, StatusCode::OK);

    let listed = call(&env, pos_get(&key, path)).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let list = listed.json()["webhooks"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], id);
    assert!(list[0].get("secret").is_none(), "no secret in the list: {list}");
    assert!(!String::from_utf8_lossy(&listed.body).contains(&secret), "the secret never leaks into the list");
    assert_eq!(call(&env, pos_get(&other_key, path)).await.json()["webhooks"], json!([]), "another partner's key");

    // Missing or bad Idempotency-Key, bad bodies, rules broken: nothing added.
    call(&env, pos(&key, Method::POST, path, None, body))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    call(&env, pos(&key, Method::POST, path, Some("bad key"), body))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    for bad in [
        "not json",
        r#"{"url": "https://cafe.example.com/h"}"#,
        r#"{"url": "https://cafe.example.com/h", "events": "points.credited"}"#,
        r#"{"url": "https://cafe.example.com/h", "events": ["points.credited"], "secret": "mine"}"#,
    ] {
        call(&env, pos(&key, Method::POST, path, Some("wh-bad"), bad))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_body");
    }
    for bad in [
        r#"{"url": "http://cafe.example.com/h", "events": ["points.credited"]}"#,
        r#"{"url": "https://localhost/h", "events": ["points.credited"]}"#,
        r#"{"url": "https://192.168.1.10/h", "events": ["points.credited"]}"#,
        r#"{"url": "https://cafe.example.com/h", "events": ["points.stolen"]}"#,
        r#"{"url": "https://cafe.example.com/h", "events": []}"#,
        r#"{"url": "https://cafe.example.com/h", "events": ["tier.changed", "tier.changed"]}"#,
    ] {
        let refused = call(&env, pos(&key, Method::POST, path, Some("wh-rule"), bad)).await;
        refused.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_webhook");
    }
    let unknown = call(
        &env,
        pos(&key, Method::POST, path, Some("wh-rule"), r#"{"url": "https://c.example/h", "events": ["x.y"]}"#),
    )
    .await;
    assert!(unknown.json()["error"]["message"].as_str().unwrap().contains("unknown event: x.y"), "{:?}", unknown.body);
    let no_type =
        request(Method::POST, path, &[("authorization", &format!("Bearer {key}")), ("idempotency-key", "k")], body);
    call(&env, no_type).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    call(&env, pos("wrong-key", Method::POST, path, Some("wh-2"), body))
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    assert_eq!(env.storage.webhooks(WebhookOwner::Partner(PartnerRef::Id(p.id))).await.unwrap().len(), 1);

    // Ten at most.
    for i in 2..=10 {
        let body = format!(r#"{{"url": "https://h{i}.example.com/x", "events": ["tier.changed"]}}"#);
        let made = call(&env, pos(&key, Method::POST, path, Some(&format!("wh-{i}")), &body)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    }
    let body11 = r#"{"url": "https://h11.example.com/x", "events": ["tier.changed"]}"#;
    call(&env, pos(&key, Method::POST, path, Some("wh-11"), body11)).await.error(StatusCode::CONFLICT, "webhook_limit");
    // At the limit a retry still answers its endpoint.
    let retried = call(&env, pos(&key, Method::POST, path, Some("wh-1"), body)).await;
    assert_eq!((retried.status, retried.json()["webhook"]["id"].clone()), (StatusCode::CREATED, json!(id)));

    // Removing: another partner's key, bad ids, then the owner's (again: the same answer).
    let remove = |key: &str, id: &str| {
        request(
            Method::DELETE,
            &format!("/api/v1/partner/webhooks/{id}"),
            &[("authorization", &format!("Bearer {key}"))],
            Bytes::new(),
        )
    };
    let id_text = id.to_string();
    call(&env, remove(&other_key, &id_text)).await.error(StatusCode::NOT_FOUND, "unknown_webhook");
    for bad in ["0", "x", "999", "-1", "123456789012345678901"] {
        call(&env, remove(&key, bad)).await.error(StatusCode::NOT_FOUND, "unknown_webhook");
    }
    call(&env, remove("wrong-key", &id_text)).await.error(StatusCode::UNAUTHORIZED, "invalid_api_key");
    let removed = call(&env, remove(&key, &id_text)).await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    assert_eq!(removed.json()["webhook"]["id"], id);
    assert!(removed.json()["webhook"]["removed_at"].is_i64(), "{:?}", removed.body);
    assert!(removed.json()["webhook"].get("secret").is_none());
    let again = call(&env, remove(&key, &id_text)).await;
    assert_eq!((again.status, again.json()["webhook"]["id"].clone()), (StatusCode::OK, json!(id)));
    let left = call(&env, pos_get(&key, path)).await.json()["webhooks"].clone();
    assert_eq!(left.as_array().map(Vec::len), Some(9), "{left}");
    assert!(left.as_array().unwrap().iter().all(|w| w["id"] != id), "{left}");
    // The first request again answers the removed endpoint as it is: nothing comes back.
    let replayed = call(&env, pos(&key, Method::POST, path, Some("wh-1"), body)).await;
    assert_eq!((replayed.status, replayed.json()["replayed"].clone()), (StatusCode::CREATED, json!(true)));
    assert_eq!(replayed.json()["webhook"]["id"], id);
    assert!(replayed.json()["webhook"]["removed_at"].is_i64(), "{:?}", replayed.body);
    assert_eq!(call(&env, pos_get(&key, path)).await.json()["webhooks"].as_array().map(Vec::len), Some(9));
    // Room for one more now; the same body under a new key makes a new endpoint.
    let remade = call(&env, pos(&key, Method::POST, path, Some("wh-12"), body)).await;
    assert_eq!((remade.status, remade.json()["replayed"].clone()), (StatusCode::CREATED, json!(false)));
    assert_ne!(remade.json()["webhook"]["id"], id);
    assert_ne!(remade.json()["webhook"]["secret"], secret.as_str(), "a fresh secret");
}

#[tokio::test]
async fn a_partner_not_approved_cannot_register_a_webhook_over_the_api() {
    let (env, _c, p, key) = customer_and_partner("Cafe", Language::En).await;
    let suspend = DecidePartner {
        partner: p.id,
        decision: PartnerDecision::Suspend,
        admin: TelegramUserId(900),
        now: env.engine.now(),
    };
    env.storage.decide_partner(suspend).await.unwrap();
    let body = r#"{"url": "https://cafe.example.com/loyalty", "events": ["points.credited"]}"#;
    call(&env, pos(&key, Method::POST, "/api/v1/partner/webhooks", Some("wh-1"), body))
        .await
        .error(StatusCode::FORBIDDEN, "partner_not_approved");
    assert_eq!(env.storage.webhooks(WebhookOwner::Partner(PartnerRef::Id(p.id))).await.unwrap(), []);
}

// ------------------------------------------------- the partner's Mini App

async fn balance(env: &TestEnv, c: &Customer) -> i64 {
    env.storage.customer_summary(CustomerRef::Id(c.id), 0).await.unwrap().unwrap().customer.balance
}

/// A request to a partner route with `auth` and, for writes, a key and a body.
fn pos_as(auth: &str, method: Method, path: &str, idem: Option<&str>, body: &str) -> Request<Bytes> {
    let mut h = vec![("authorization", auth), ("content-type", "application/json")];
    if let Some(k) = idem {
        h.push(("idempotency-key", k));
    }
    request(method, path, &h, body.to_string())
}

#[tokio::test]
async fn the_partner_mini_app_works_the_till_with_the_partner_bots_init_data() {
    let (env, c, _p, _key) = customer_and_partner("Cafe", Language::En).await;
    let owner = tma_of(&env, 500, PARTNER_TOKEN);
    let code = c.code.as_str().to_string();

    let looked = call(&env, pos_as(&owner, Method::GET, &format!("/api/v1/partner/customers/{code}"), None, "")).await;
    assert_eq!(looked.status, StatusCode::OK, "{:?}", looked.body);
    assert_eq!(looked.json()["balance"], 100);

    let body = json!({"customer_code": code, "purchase": 1000}).to_string();
    let credited = call(&env, pos_as(&owner, Method::POST, "/api/v1/partner/credits", Some("k-1"), &body)).await;
    assert_eq!(credited.status, StatusCode::OK, "{:?}", credited.body);
    assert_eq!((credited.json()["points"].clone(), credited.json()["balance"].clone()), (json!(50), json!(150)));
    let again = call(&env, pos_as(&owner, Method::POST, "/api/v1/partner/credits", Some("k-1"), &body)).await;
    assert_eq!((again.json()["replayed"].clone(), again.json()["balance"].clone()), (json!(true), json!(150)));
    assert!(again.deferred.is_empty(), "a replay tells no one again");

    let ask = json!({"customer_code": code, "points": 30, "purchase": 1000}).to_string();
    let asked = call(&env, pos_as(&owner, Method::POST, "/api/v1/partner/redemptions", Some("r-1"), &ask)).await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);
    let id = asked.json()["redemption"]["id"].as_i64().expect("a redemption id");
    let status = call(&env, pos_as(&owner, Method::GET, &format!("/api/v1/partner/redemptions/{id}"), None, "")).await;
    assert_eq!(status.json()["redemption"]["status"], "pending", "{:?}", status.body);
    let summary = call(&env, pos_as(&owner, Method::GET, "/api/v1/partner/summary", None, "")).await;
    assert_eq!(summary.json()["today"]["issued"], 50, "{:?}", summary.body);
    let entries = call(&env, pos_as(&owner, Method::GET, "/api/v1/partner/entries", None, "")).await;
    assert_eq!(entries.json()["entries"][0]["customer_id"], c.id.0, "{:?}", entries.body);
    assert_eq!(balance(&env, &c).await, 150);
}

#[tokio::test]
async fn a_cashier_in_the_mini_app_credits_but_sees_no_figures() {
    let (env, c, p, _key) = customer_and_partner("Cafe", Language::En).await;
    let now = env.engine.now();
    let hash = rules::hash_api_key("invite-token");
    let invite = InviteStaff {
        partner: PartnerRef::Id(p.id),
        token_sha256_hex: hash.clone(),
        now,
        expires_at: now.plus(rules::STAFF_INVITE_TTL_SECS),
    };
    let staff = env.storage.invite_staff(invite).await.unwrap();
    let join = JoinStaff { token_sha256_hex: hash, telegram_id: TelegramUserId(700), name: "Minh".into(), now };
    env.storage.join_staff(join).await.unwrap();
    let cashier = tma_of(&env, 700, PARTNER_TOKEN);

    let body = json!({"customer_code": c.code.as_str(), "purchase": 2000}).to_string();
    let credited = call(&env, pos_as(&cashier, Method::POST, "/api/v1/partner/credits", Some("c-1"), &body)).await;
    assert_eq!(credited.status, StatusCode::OK, "{:?}", credited.body);
    let entry = credited.json()["entry_id"].as_i64().unwrap();
    let page =
        env.storage.partner_entries(PartnerEntriesPage { partner: PartnerRef::Id(p.id), before: None, limit: 5 });
    let recorded = page.await.unwrap();
    assert_eq!((recorded[0].id.0, recorded[0].cashier), (entry, Some(staff.id)), "the entry names the cashier");

    // Figures, statements and reversals are the owner's.
    for path in ["/api/v1/partner/summary", "/api/v1/partner/entries"] {
        call(&env, pos_as(&cashier, Method::GET, path, None, "")).await.error(StatusCode::NOT_FOUND, "unknown_partner");
    }
    let reverse = json!({"entry_id": entry}).to_string();
    call(&env, pos_as(&cashier, Method::POST, "/api/v1/partner/reversals", Some("v-1"), &reverse))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_partner");
    assert_eq!(balance(&env, &c).await, 200);

    // Someone who is neither the partner nor its cashier is no partner at all.
    let stranger = tma_of(&env, 701, PARTNER_TOKEN);
    let body = json!({"customer_code": c.code.as_str(), "purchase": 2000}).to_string();
    call(&env, pos_as(&stranger, Method::POST, "/api/v1/partner/credits", Some("s-1"), &body))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_partner");
    assert_eq!(balance(&env, &c).await, 200, "nothing moved");
}

#[tokio::test]
async fn init_data_of_one_bot_never_opens_another_bots_routes() {
    let (env, c, _p, _key) = customer_and_partner("Cafe", Language::En).await;
    let body = json!({"customer_code": c.code.as_str(), "purchase": 1000}).to_string();
    // The partner (Telegram user 500) opens the client bot's app: their own
    // customer's data is signed for the client bot, and is no partner's.
    register(&env, 500, Language::En).await;
    let as_customer = tma_of(&env, 500, CLIENT_TOKEN);
    for (method, path, idem) in [
        (Method::POST, "/api/v1/partner/credits", Some("x-1")),
        (Method::GET, "/api/v1/partner/summary", None),
        (Method::GET, &*format!("/api/v1/partner/customers/{}", c.code.as_str()), None),
    ] {
        let a = call(&env, pos_as(&as_customer, method, path, idem, &body)).await;
        a.error(StatusCode::FORBIDDEN, "wrong_bot");
        let message = a.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains("client") && message.contains("partner"), "{message}");
    }
    // …nor does the partner's, or the admin's, open a customer's routes.
    for token in [PARTNER_TOKEN, ADMIN_BOT_TOKEN] {
        get(&env, "/api/v1/me", &tma_of(&env, 500, token)).await.error(StatusCode::FORBIDDEN, "wrong_bot");
    }
    // Data no bot of the program signed is simply invalid.
    let foreign = tma_of(&env, 500, "1009:a-bot-of-another-program");
    call(&env, pos_as(&foreign, Method::POST, "/api/v1/partner/credits", Some("x-2"), &body))
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_init_data");
    // Expired partner data is refused like a customer's.
    let old = (env.engine.now().0 - 86_401).to_string();
    let stale = format!("tma {}", sign_init_data(&[("user", &user_json(500)), ("auth_date", &old)], PARTNER_TOKEN));
    call(&env, pos_as(&stale, Method::POST, "/api/v1/partner/credits", Some("x-3"), &body))
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_init_data");
    assert_eq!(balance(&env, &c).await, 100, "nothing moved");
}

#[tokio::test]
async fn routes_only_a_pos_calls_refuse_the_mini_app() {
    let (env, _c, _p, key) = customer_and_partner("Cafe", Language::En).await;
    let owner = tma_of(&env, 500, PARTNER_TOKEN);
    let hook = json!({"url": "https://hooks.example.com/x", "events": ["points.credited"]}).to_string();
    for (method, path, idem, body) in [
        (Method::DELETE, "/api/v1/partner/key", None, ""),
        (Method::GET, "/api/v1/partner/staff", None, ""),
        (Method::GET, "/api/v1/partner/webhooks", None, ""),
        (Method::POST, "/api/v1/partner/webhooks", Some("w-1"), hook.as_str()),
        (Method::GET, "/api/v1/partner/campaigns", None, ""),
        (Method::GET, "/api/v1/partner/rewards", None, ""),
    ] {
        call(&env, pos_as(&owner, method.clone(), path, idem, body))
            .await
            .error(StatusCode::UNAUTHORIZED, "api_key_required");
    }
    // The key still works, and was not revoked by the refused DELETE.
    assert_eq!(call(&env, pos_get(&key, "/api/v1/partner/webhooks")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_rotating_card_code_opens_the_till_while_it_lasts() {
    let (env, c, _p, key) = customer_and_partner("Cafe", Language::En).await;
    let shown = get(&env, "/api/v1/me/card-code", &tma(&env, 42)).await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
    assert_eq!(shown.headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
    let v = shown.json();
    let code = v["code"].as_str().unwrap().to_string();
    assert!(code.starts_with(&format!("{}-", c.code.as_str())) && code.len() == 17, "{code}");
    assert_eq!(v["card_code"], c.code.as_str());
    assert!(v["link"].as_str().unwrap().ends_with(&format!("?start=c_{code}")), "{v}");
    assert!(v["qr_svg"].as_str().unwrap().starts_with("<svg"), "{v}");
    let (refresh, expires) = (v["refresh_at"].as_i64().unwrap(), v["expires_at"].as_i64().unwrap());
    let now = env.engine.now().0;
    assert!(now < refresh && refresh <= now + 30 && expires == refresh + 30, "{v}");

    // The POS (and the partner's Mini App) take it in place of the printed code.
    let look = |code: &str| customer_lookup(&key, code);
    let found = call(&env, look(&code)).await;
    assert_eq!((found.status, found.json()["customer_code"].clone()), (StatusCode::OK, json!(c.code.as_str())));
    let body = json!({"customer_code": code, "purchase": 1000}).to_string();
    let credited = call(&env, credit_req(&key, "rot-1", &body)).await;
    assert_eq!(credited.status, StatusCode::OK, "{:?}", credited.body);

    // A minute later it has expired: a clear answer, nothing credited.
    env.clock.advance(expires - now + 1);
    call(&env, look(&code)).await.error(StatusCode::GONE, "card_code_expired");
    let body2 = json!({"customer_code": code, "purchase": 1000}).to_string();
    call(&env, credit_req(&key, "rot-2", &body2)).await.error(StatusCode::GONE, "card_code_expired");
    assert_eq!(balance(&env, &c).await, 150, "only the first credit");
    // The printed code never expires; a forged signature is no code.
    assert_eq!(call(&env, look(c.code.as_str())).await.status, StatusCode::OK);
    let forged = format!("{}-ABCDEFGH", c.code.as_str());
    call(&env, look(&forged)).await.error(StatusCode::BAD_REQUEST, "invalid_customer_code");
    // Only the client bot's data gets a code.
    get(&env, "/api/v1/me/card-code", &tma_of(&env, 42, PARTNER_TOKEN)).await.error(StatusCode::FORBIDDEN, "wrong_bot");
    get(&env, "/api/v1/me/card-code", &tma(&env, 77)).await.error(StatusCode::NOT_FOUND, "not_registered");
}

#[tokio::test]
async fn the_partner_and_the_admin_read_their_charts() {
    let mut config = test_config();
    config.admin_api_token = Some(Secret::new(ADMIN_TOKEN));
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    let c = register(&env, 42, Language::En).await;
    let (_p, key) = partner(&env, 500, "Cafe", Language::En).await;
    let body = json!({"customer_code": c.code.as_str(), "purchase": 1000}).to_string();
    assert_eq!(call(&env, credit_req(&key, "day-1", &body)).await.status, StatusCode::OK);
    env.clock.advance(86_400);
    assert_eq!(call(&env, credit_req(&key, "day-2", &body)).await.status, StatusCode::OK);

    // The owner, by key or in the app: 30 days by default, today last.
    let owner = tma_of(&env, 500, PARTNER_TOKEN);
    for auth in [format!("Bearer {key}"), owner.clone()] {
        let a = call(&env, pos_as(&auth, Method::GET, "/api/v1/partner/figures", None, "")).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let days = a.json()["days"].as_array().unwrap().clone();
        assert_eq!(days.len(), 30);
        let today = env.engine.now().day_start().0;
        assert_eq!((days[29]["day"].as_i64(), days[29]["issued"].as_i64()), (Some(today), Some(50)));
        assert_eq!((days[28]["day"].as_i64(), days[28]["issued"].as_i64()), (Some(today - 86_400), Some(50)));
        assert_eq!(days[27]["issued"], 0);
    }
    let week = call(&env, pos_as(&owner, Method::GET, "/api/v1/partner/figures?days=7", None, "")).await;
    assert_eq!(week.json()["days"].as_array().map(Vec::len), Some(7));
    for bad in ["days=0", "days=93", "days=x", "days=-1"] {
        call(&env, pos_as(&owner, Method::GET, &format!("/api/v1/partner/figures?{bad}"), None, ""))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_query");
    }
    // A customer's data is no partner's.
    call(&env, pos_as(&tma(&env, 42), Method::GET, "/api/v1/partner/figures", None, ""))
        .await
        .error(StatusCode::FORBIDDEN, "wrong_bot");

    // The admin: by token, or in the app opened from the admin bot.
    let admin_app = tma_of(&env, ADMIN_CHAT, ADMIN_BOT_TOKEN);
    for auth in [format!("Bearer {ADMIN_TOKEN}"), admin_app] {
        let a = get(&env, "/api/v1/admin/figures?days=2", &auth).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let v = a.json();
        assert_eq!(v["program"]["points_outstanding"], 200, "{v}");
        assert_eq!(v["program"]["customers"], 1, "{v}");
        assert_eq!((v["days"][0]["issued"].as_i64(), v["days"][1]["issued"].as_i64()), (Some(50), Some(50)));
    }
    // Someone else opening the admin bot's app sees nothing; nor does a partner's data.
    get(&env, "/api/v1/admin/figures", &tma_of(&env, 42, ADMIN_BOT_TOKEN))
        .await
        .error(StatusCode::FORBIDDEN, "not_admin");
    get(&env, "/api/v1/admin/figures", &tma_of(&env, ADMIN_CHAT, PARTNER_TOKEN))
        .await
        .error(StatusCode::FORBIDDEN, "wrong_bot");
    get(&env, "/api/v1/admin/figures", "Bearer nope").await.error(StatusCode::UNAUTHORIZED, "invalid_admin_token");
    // The app never opens the other admin routes.
    let rules = get(&env, "/api/v1/admin/rules", &tma_of(&env, ADMIN_CHAT, ADMIN_BOT_TOKEN)).await;
    rules.error(StatusCode::UNAUTHORIZED, "invalid_admin_token");
}

#[tokio::test]
async fn an_admin_group_admits_its_members_to_the_admin_app() {
    const GROUP: i64 = -1_001_234;
    let mut config = test_config();
    config.admin_chat_id = Some(GROUP);
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    env.telegram.set_member(GROUP, 7, "member");
    env.telegram.set_member(GROUP, 8, "administrator");
    env.telegram.set_member(GROUP, 9, "restricted");
    env.telegram.set_member(GROUP, 10, "left");
    env.telegram.set_member(GROUP, 11, "kicked");
    let path = "/api/v1/admin/figures";
    for id in [7, 8, 9] {
        assert_eq!(get(&env, path, &tma_of(&env, id, ADMIN_BOT_TOKEN)).await.status, StatusCode::OK, "member {id}");
    }
    for id in [10, 11, 12] {
        get(&env, path, &tma_of(&env, id, ADMIN_BOT_TOKEN)).await.error(StatusCode::FORBIDDEN, "not_admin");
    }
    // Telegram out of reach: try again later, not "you are no admin".
    env.telegram.fail_next(loyalty_core::telegram::TelegramError::Transport("down".into()));
    let a = get(&env, path, &tma_of(&env, 7, ADMIN_BOT_TOKEN)).await;
    a.error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let asked = env.telegram.calls().iter().filter(|c| c.method == "getChatMember").count();
    assert_eq!(asked, 6, "one question per request that got that far");
}

// ------------------------------------------------- the customer's Mini App

/// A clock that steps like [`FakeClock`] and lets other futures run after
/// each sleep, so a long poll can be answered by something done meanwhile.
struct YieldingClock(Arc<loyalty_testkit::FakeClock>);

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Clock for YieldingClock {
    fn now(&self) -> loyalty_core::domain::Timestamp {
        self.0.now()
    }

    async fn sleep(&self, millis: u64) {
        self.0.sleep(millis).await;
        tokio::task::yield_now().await;
    }
}

/// [`TestEnv::new`] with a [`YieldingClock`].
fn yielding_env() -> TestEnv {
    let env = TestEnv::new();
    let ports = loyalty_core::Ports {
        storage: env.storage.clone(),
        telegram: env.telegram.clone(),
        assistant: Some(env.assistant.clone()),
        reporter: env.reporter.clone(),
        clock: Arc::new(YieldingClock(env.clock.clone())),
        random: Arc::new(loyalty_testkit::SeqRandom::new(7)),
        webhooks: Some(env.webhooks.clone()),
    };
    TestEnv { engine: loyalty_core::Engine::new(test_config(), ports), ..env }
}

fn open_body(c: &Customer, points: i64) -> String {
    json!({"customer_code": c.code.as_str(), "points": points, "purchase": 1000}).to_string()
}

#[tokio::test]
async fn the_customer_lists_pending_requests_and_answers_them() {
    let (env, c, p, key) = customer_and_partner("Cafe", Language::En).await;
    let other = register(&env, 43, Language::En).await;
    let auth = tma(&env, 42);
    let empty = get(&env, "/api/v1/me/redemptions", &auth).await;
    assert_eq!((empty.status, empty.json()), (StatusCode::OK, json!({"redemptions": []})));
    assert_eq!(empty.headers["cache-control"], "no-store");

    let opened =
        call(&env, pos(&key, Method::POST, "/api/v1/partner/redemptions", Some("pay-1"), &open_body(&c, 30))).await;
    let r = opened.json()["redemption"].clone();
    call(&env, pos(&key, Method::POST, "/api/v1/partner/redemptions", Some("pay-2"), &open_body(&other, 20))).await;
    let listed = get(&env, "/api/v1/me/redemptions", &auth).await.json();
    assert_eq!(
        listed,
        json!({"redemptions": [{
            "id": r["id"], "partner": {"id": p.id.0, "name": "Cafe"}, "points": 30, "purchase": 1000,
            "created_at": r["created_at"], "expires_at": r["expires_at"],
        }]}),
        "the customer's own request only"
    );
    let slept = env.clock.slept_millis();
    let waited = get(&env, "/api/v1/me/redemptions?wait=25", &auth).await.json();
    assert_eq!((waited, env.clock.slept_millis()), (listed, slept), "a request there: no wait");

    // Confirmed, it is gone; the other customer's stays theirs.
    let id = r["id"].as_i64().unwrap();
    let confirmed = call(&env, post(&format!("/api/v1/redemptions/{id}/confirm"), &auth)).await;
    assert_eq!(confirmed.json()["redemption"]["status"], "confirmed");
    assert_eq!(get(&env, "/api/v1/me/redemptions", &auth).await.json(), json!({"redemptions": []}));
    let theirs = get(&env, "/api/v1/me/redemptions", &tma(&env, 43)).await.json();
    assert_eq!(theirs["redemptions"][0]["points"], 20, "{theirs}");

    // Past its time, a request is no longer listed.
    env.clock.advance(rules::REDEMPTION_TTL_SECS + 1);
    assert_eq!(get(&env, "/api/v1/me/redemptions", &tma(&env, 43)).await.json(), json!({"redemptions": []}));
}

#[tokio::test]
async fn a_long_poll_answers_when_a_request_arrives_or_its_time_ends() {
    let env = yielding_env();
    let c = register(&env, 42, Language::En).await;
    let (_, key) = partner(&env, 500, "Cafe", Language::En).await;
    let auth = tma(&env, 42);

    // Nothing arrives: empty after waiting the 4 seconds asked (read every second).
    let slept = env.clock.slept_millis();
    let waited = get(&env, "/api/v1/me/redemptions?wait=4", &auth).await;
    assert_eq!((waited.status, waited.json()), (StatusCode::OK, json!({"redemptions": []})));
    assert_eq!(env.clock.slept_millis() - slept, 4_000);

    // The partner asks while the page waits: the poll answers at its next read.
    let start = env.clock.slept_millis();
    let poll = get(&env, "/api/v1/me/redemptions?wait=25", &auth);
    let ask = async {
        while env.clock.slept_millis() < start + 3_000 {
            tokio::task::yield_now().await;
        }
        call(&env, pos(&key, Method::POST, "/api/v1/partner/redemptions", Some("pay-1"), &open_body(&c, 30))).await
    };
    let (polled, opened) = tokio::join!(poll, ask);
    assert_eq!(opened.status, StatusCode::OK, "{:?}", opened.body);
    let v = polled.json();
    assert_eq!(v["redemptions"][0]["id"], opened.json()["redemption"]["id"], "{v}");
    assert_eq!(env.clock.slept_millis() - start, 3_000, "answered at the read after the request");

    // The page confirms it; the partner's poll sees it confirmed.
    let id = v["redemptions"][0]["id"].as_i64().unwrap();
    let confirmed = call(&env, post(&format!("/api/v1/redemptions/{id}/confirm"), &auth)).await.json();
    assert_eq!(confirmed["redemption"]["status"], "confirmed");
    let status = call(&env, pos(&key, Method::GET, &format!("/api/v1/partner/redemptions/{id}"), None, "")).await;
    assert_eq!(status.json()["redemption"]["status"], "confirmed");
}

#[tokio::test]
async fn pending_requests_need_the_client_bots_valid_init_data_and_a_sane_wait() {
    let (env, _c, _p, _key) = customer_and_partner("Cafe", Language::En).await;
    for token in [PARTNER_TOKEN, ADMIN_BOT_TOKEN] {
        get(&env, "/api/v1/me/redemptions", &tma_of(&env, 42, token)).await.error(StatusCode::FORBIDDEN, "wrong_bot");
    }
    let forged = tma_of(&env, 42, "1009:a-bot-of-another-program");
    get(&env, "/api/v1/me/redemptions", &forged).await.error(StatusCode::UNAUTHORIZED, "invalid_init_data");
    let old = (env.engine.now().0 - 86_401).to_string();
    let stale = format!("tma {}", sign_init_data(&[("user", &user_json(42)), ("auth_date", &old)], CLIENT_TOKEN));
    get(&env, "/api/v1/me/redemptions", &stale).await.error(StatusCode::UNAUTHORIZED, "invalid_init_data");
    call(&env, request(Method::GET, "/api/v1/me/redemptions", &[], Bytes::new()))
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_auth");
    let slept = env.clock.slept_millis();
    for wait in ["26", "-1", "1.5", "x", "99999999999"] {
        let a = get(&env, &format!("/api/v1/me/redemptions?wait={wait}"), &tma(&env, 42)).await;
        a.error(StatusCode::BAD_REQUEST, "invalid_query");
        assert!(a.json()["error"]["message"].as_str().unwrap().contains("wait"), "{wait}: {:?}", a.body);
    }
    assert_eq!(env.clock.slept_millis(), slept, "a refused poll does not wait");
    get(&env, "/api/v1/me/redemptions?wait=0", &tma(&env, 77)).await.error(StatusCode::NOT_FOUND, "not_registered");
}

#[tokio::test]
async fn the_mini_app_sets_the_language() {
    let env = TestEnv::new();
    register(&env, 42, Language::En).await;
    let put = |auth: &str, body: &'static str| {
        request(
            Method::PUT,
            "/api/v1/me/language",
            &[("authorization", auth), ("content-type", "application/json")],
            body,
        )
    };
    let auth = tma(&env, 42);
    let set = call(&env, put(&auth, r#"{"language": "vi"}"#)).await;
    assert_eq!((set.status, set.json()), (StatusCode::OK, json!({"language": "vi"})));
    assert_eq!(get(&env, "/api/v1/me", &auth).await.json()["language"], "vi");
    let again = call(&env, put(&auth, r#"{"language": "vi"}"#)).await;
    assert_eq!((again.status, again.json()), (StatusCode::OK, json!({"language": "vi"})), "harmless again");
    for bad in [r#"{"language": "de"}"#, r#"{"language": "RU"}"#, r#"{"language": ""}"#] {
        let a = call(&env, put(&auth, bad)).await;
        a.error(StatusCode::BAD_REQUEST, "invalid_language");
        assert!(a.json()["error"]["message"].as_str().unwrap().contains("\"ru\""), "{bad}: {:?}", a.body);
    }
    for bad in [r#"{"language": 1}"#, r#"{}"#, r#"{"language": "ru", "x": 1}"#, "nope"] {
        call(&env, put(&auth, bad)).await.error(StatusCode::BAD_REQUEST, "invalid_body");
    }
    assert_eq!(get(&env, "/api/v1/me", &auth).await.json()["language"], "vi", "unchanged by refusals");
    let req = request(Method::PUT, "/api/v1/me/language", &[("authorization", auth.as_str())], r#"{"language":"ru"}"#);
    assert_eq!(call(&env, req).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    call(&env, put(&tma(&env, 77), r#"{"language": "ru"}"#)).await.error(StatusCode::NOT_FOUND, "not_registered");
    let partners = tma_of(&env, 42, PARTNER_TOKEN);
    call(&env, put(&partners, r#"{"language": "ru"}"#)).await.error(StatusCode::FORBIDDEN, "wrong_bot");
}

#[tokio::test]
async fn me_shows_the_tier_and_the_next_for_a_progress_bar() {
    let env = TestEnv::new();
    // Without tiers: all null.
    register(&env, 41, Language::En).await;
    let v = get(&env, "/api/v1/me", &tma(&env, 41)).await.json();
    for field in ["tier_name", "tier_threshold", "next_tier", "qualify_by"] {
        assert_eq!(v[field], Value::Null, "{field}: {v}");
    }
    let rules = ProgramRules::from_json(
        r#"{"tiers": {"window_days": 30, "levels": [
            {"name": {"en": "Silver", "ru": "Серебро"}, "threshold": 150, "multiplier_bps": 10000},
            {"name": {"en": "Gold", "ru": "Золото"}, "threshold": 1000, "multiplier_bps": 15000}]}}"#,
    )
    .unwrap();
    env.storage.set_program_rules(SetProgramRules { rules, admin: None, now: env.clock.now() }).await.unwrap();
    let c = register(&env, 42, Language::Ru).await;
    let (_, key) = partner(&env, 500, "Cafe", Language::En).await;
    let v = get(&env, "/api/v1/me", &tma(&env, 42)).await.json();
    assert_eq!(
        (&v["tier"], &v["tier_name"], &v["tier_threshold"], &v["qualify_by"]),
        (&json!(0), &Value::Null, &Value::Null, &json!("points")),
        "{v}"
    );
    assert_eq!(v["next_tier"], json!({"tier": 1, "name": "Серебро", "threshold": 150}), "in the customer's language");

    // 200 points of purchases: Silver, Gold next.
    let body = format!(r#"{{"customer_code":"{}","purchase":4000}}"#, c.code);
    assert_eq!(call(&env, credit_req(&key, "order-1", &body)).await.json()["points"], 200);
    let v = get(&env, "/api/v1/me", &tma(&env, 42)).await.json();
    assert_eq!(
        (&v["tier"], &v["qualifying_points"], &v["tier_name"], &v["tier_threshold"]),
        (&json!(1), &json!(200), &json!("Серебро"), &json!(150)),
        "{v}"
    );
    assert_eq!(v["next_tier"], json!({"tier": 2, "name": "Золото", "threshold": 1000}));

    // At the top: no next tier.
    let body = format!(r#"{{"customer_code":"{}","purchase":20000}}"#, c.code);
    call(&env, credit_req(&key, "order-2", &body)).await;
    let v = get(&env, "/api/v1/me", &tma(&env, 42)).await.json();
    assert_eq!((&v["tier"], &v["tier_name"], &v["next_tier"]), (&json!(2), &json!("Золото"), &Value::Null), "{v}");
}
