//! The POS API against its OpenAPI document: a client that knows only the
//! document drives a partner's whole day — look a customer up, credit, ask
//! for a redemption and wait for the answer, reverse, read the statement and
//! the summary, publish a reward and accept its voucher, hit the rate limit,
//! revoke the key — and every request body it sends and every answer it gets
//! (successes and refusals) is checked against the operation's documented
//! schema for that status. An answer with an undocumented status, or a body
//! the schema does not describe, fails the test.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use loyalty_core::api::init_data::sign_init_data;
use loyalty_core::domain::{PartnerTerms, rules};
use loyalty_core::ports::*;
use loyalty_core::stores::memory::MemoryStore;
use loyalty_core::{Config, Secret};
use loyalty_testkit::{TestEnv, requests, test_config};
use serde_json::{Value, json};
use std::sync::Arc;

const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef-admin";

/// A JSON Schema check of `value` against `schema` (the keywords the document
/// uses: `$ref`, `type`, `properties`, `required`, `additionalProperties`,
/// `items`, `minItems`, `maxItems`, `enum`, `const`, `allOf`, `minimum`,
/// `maximum`, `maxLength`; `pattern` and `format` are left to the other
/// tests). Returns every mismatch, with its JSON path.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "unknown schema {r}");
        return validate(doc, target, value, at, errors);
    }
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        validate(doc, part, value, at, errors);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let fits = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| fits(t)) {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} is not {c}"));
    }
    if let Some(n) = value.as_f64() {
        if schema.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m) {
            errors.push(format!("{at}: {n} below the minimum"));
        }
        if schema.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m) {
            errors.push(format!("{at}: {n} above the maximum"));
        }
    }
    if let (Some(s), Some(max)) = (value.as_str(), schema.get("maxLength").and_then(Value::as_u64))
        && s.chars().count() as u64 > max
    {
        errors.push(format!("{at}: longer than {max}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                errors.push(format!("{at}: {name} is required"));
            }
        }
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => validate(doc, s, v, &format!("{at}.{name}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: {name} is not a documented property"));
                }
                None => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        if schema.get("minItems").and_then(Value::as_u64).is_some_and(|m| (items.len() as u64) < m) {
            errors.push(format!("{at}: fewer items than allowed"));
        }
        if schema.get("maxItems").and_then(Value::as_u64).is_some_and(|m| (items.len() as u64) > m) {
            errors.push(format!("{at}: more items than allowed"));
        }
        if let Some(item) = schema.get("items") {
            for (i, v) in items.iter().enumerate() {
                validate(doc, item, v, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

/// The document's path template that `path` (without its query) matches.
fn template<'a>(doc: &'a Value, path: &str) -> &'a str {
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len()
                && ts.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .unwrap_or_else(|| panic!("{path} is not in the document"))
}

/// A client that knows the API only through its document.
struct Client {
    env: TestEnv,
    doc: Value,
    /// Operations called, with the statuses seen.
    seen: Vec<String>,
}

impl Client {
    async fn call(
        &mut self,
        method: Method,
        uri: &str,
        auth: &str,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let path = uri.split('?').next().unwrap_or(uri);
        let template = template(&self.doc, path).to_string();
        let op = self.doc["paths"][&template][method.as_str().to_lowercase()].clone();
        assert!(op.is_object(), "{method} {template} is not documented");
        if let Some(body) = &body {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            assert!(!schema.is_null(), "{method} {template} takes no body");
            let mut errors = Vec::new();
            validate(&self.doc, schema, body, "request", &mut errors);
            assert!(errors.is_empty(), "{method} {template}: the request breaks its schema: {errors:?}");
        }
        let documented_key = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "Idempotency-Key" && p["required"] == true);
        assert_eq!(documented_key, idempotency_key.is_some(), "{method} {template}: Idempotency-Key as documented");
        let mut req = Request::builder().method(method.clone()).uri(uri).header("authorization", auth);
        if let Some(key) = idempotency_key {
            req = req.header("idempotency-key", key);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()))).unwrap();
        let out = self.env.engine.handle_api(req).await;
        let status = out.response.status();
        let answer: Value = serde_json::from_slice(out.response.body()).expect("a JSON answer");
        let documented = &op["responses"][status.as_str()];
        assert!(documented.is_object(), "{method} {template} answered an undocumented {status}: {answer}");
        let schema = &documented["content"]["application/json"]["schema"];
        let mut errors = Vec::new();
        validate(&self.doc, schema, &answer, "response", &mut errors);
        assert!(errors.is_empty(), "{method} {template} {status}: the answer breaks its schema: {errors:?}\n{answer}");
        self.seen.push(format!("{method} {template} {}", status.as_u16()));
        (status, answer)
    }
}

#[tokio::test]
async fn a_partners_day_through_the_pos_api_matches_the_document() {
    let mut config: Config = test_config();
    config.admin_api_token = Some(Secret::new(ADMIN_TOKEN));
    config.pos_rate_limit = 40;
    let env = TestEnv::with(Arc::new(MemoryStore::new()), config);
    let s = env.storage.clone();
    let now = env.engine.now();
    let anna = requests::customer(s.as_ref(), 42, 100).await;
    let p = requests::partner(s.as_ref(), 500, PartnerTerms::default()).await;
    s.set_partner_api_key(PartnerRef::Id(p.id), Some(rules::hash_api_key("pos-key"))).await.unwrap();
    let pos = "Bearer pos-key";
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let user = json!({"id": 42, "first_name": "Anna"}).to_string();
    let init = sign_init_data(&[("user", &user), ("auth_date", &now.0.to_string())], "1001:client-token");
    let tma = format!("tma {init}");
    let code = anna.code.as_str().to_string();
    let mut c = Client { env, doc: loyalty_core::api::openapi::document(), seen: Vec::new() };

    let (status, card) = c.call(Method::GET, &format!("/api/v1/partner/customers/{code}"), pos, None, None).await;
    assert_eq!((status, card["balance"].as_i64()), (StatusCode::OK, Some(100)));
    let credit = json!({"customer_code": code, "purchase": 200_000});
    let (status, credited) =
        c.call(Method::POST, "/api/v1/partner/credits", pos, Some("day-1"), Some(credit.clone())).await;
    assert_eq!(status, StatusCode::OK, "{credited}");
    let (_, again) = c.call(Method::POST, "/api/v1/partner/credits", pos, Some("day-1"), Some(credit)).await;
    assert_eq!(again["replayed"], true);
    let too_much = json!({"customer_code": code, "points": 99_999, "purchase": 1_000});
    let (status, _) = c.call(Method::POST, "/api/v1/partner/redemptions", pos, Some("day-2"), Some(too_much)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let ask = json!({"customer_code": code, "points": 100, "purchase": 10_000});
    let (status, asked) = c.call(Method::POST, "/api/v1/partner/redemptions", pos, Some("day-3"), Some(ask)).await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    let id = asked["redemption"]["id"].as_i64().unwrap();
    let (_, pending) = c.call(Method::GET, &format!("/api/v1/partner/redemptions/{id}?wait=0"), pos, None, None).await;
    assert_eq!(pending["redemption"]["status"], "pending");
    let (status, _) = c.call(Method::POST, &format!("/api/v1/redemptions/{id}/confirm"), &tma, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, answered) = c.call(Method::GET, &format!("/api/v1/partner/redemptions/{id}?wait=5"), pos, None, None).await;
    assert_eq!(answered["redemption"]["status"], "confirmed");
    // The payment was a mistake: the partner gives the points back.
    let undo = json!({"entry_id": answered["redemption"]["entry_id"]});
    let (status, reversed) = c.call(Method::POST, "/api/v1/partner/reversals", pos, Some("day-4"), Some(undo)).await;
    assert_eq!(status, StatusCode::OK, "{reversed}");
    let (_, statement) = c.call(Method::GET, "/api/v1/partner/entries?limit=2", pos, None, None).await;
    let before = statement["next_before"].as_i64().expect("a second page");
    let (_, rest) =
        c.call(Method::GET, &format!("/api/v1/partner/entries?limit=2&before={before}"), pos, None, None).await;
    assert_eq!(rest["entries"].as_array().map(Vec::len), Some(1), "credit, redemption, reversal");
    let (status, _) = c.call(Method::GET, "/api/v1/partner/summary", pos, None, None).await;
    assert_eq!(status, StatusCode::OK);

    // A reward, approved, claimed in the Mini App, accepted at the counter.
    let offer = json!({"title": {"en": "Iced coffee"}, "price": 50, "stock": 5});
    let (status, reward) = c.call(Method::POST, "/api/v1/partner/rewards", pos, Some("day-5"), Some(offer)).await;
    assert_eq!(status, StatusCode::CREATED, "{reward}");
    let rid = reward["id"].as_i64().unwrap();
    c.call(Method::POST, &format!("/api/v1/admin/rewards/{rid}/approve"), &admin, None, None).await;
    let (_, listed) = c.call(Method::GET, "/api/v1/rewards", &tma, None, None).await;
    assert_eq!(listed["rewards"].as_array().map(Vec::len), Some(1));
    let (status, claimed) =
        c.call(Method::POST, &format!("/api/v1/rewards/{rid}/claim"), &tma, Some("mini-1"), None).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let voucher = claimed["voucher"]["code"].as_str().unwrap().to_string();
    let (_, used) = c.call(Method::POST, &format!("/api/v1/partner/vouchers/{voucher}/use"), pos, None, None).await;
    assert_eq!(used["replayed"], false);
    let (_, twice) = c.call(Method::POST, &format!("/api/v1/partner/vouchers/{voucher}/use"), pos, None, None).await;
    assert_eq!(twice["replayed"], true);
    let (status, _) = c.call(Method::POST, "/api/v1/partner/vouchers/ABCDE-FGH23/use", pos, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = c.call(Method::GET, "/api/v1/partner/rewards", pos, None, None).await;
    assert_eq!(mine["rewards"][0]["claimed"], 1);

    // Past the rate limit: 429, documented; then the key is revoked.
    let mut limited = None;
    for _ in 0..40 {
        let (status, answer) = c.call(Method::GET, "/api/v1/partner/summary", pos, None, None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
    }
    assert_eq!(limited.expect("the limit is reached")["error"]["code"], "rate_limited");
    c.env.clock.advance(60);
    let (status, revoked) = c.call(Method::DELETE, "/api/v1/partner/key", pos, None, None).await;
    assert_eq!((status, &revoked["revoked"]), (StatusCode::OK, &json!(true)));
    let (status, _) = c.call(Method::GET, "/api/v1/partner/summary", pos, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(c.seen.len() > 20, "{:?}", c.seen);
}

#[test]
fn the_checker_refuses_what_the_document_does_not_describe() {
    let doc = loyalty_core::api::openapi::document();
    let check = |schema: &str, value: Value| {
        let mut errors = Vec::new();
        validate(&doc, &json!({"$ref": format!("#/components/schemas/{schema}")}), &value, "v", &mut errors);
        errors
    };
    assert!(check("KeyRevoked", json!({"revoked": true})).is_empty());
    assert!(!check("KeyRevoked", json!({})).is_empty(), "a missing required property");
    assert!(!check("KeyRevoked", json!({"revoked": "yes"})).is_empty(), "a wrong type");
    assert!(
        !check("Voucher", json!({"status": "lost"})).iter().all(|e| e.contains("required")),
        "an unknown enum value"
    );
    assert!(!check("CreditRequest", json!({"customer_code": "X", "purchase": 0})).is_empty(), "below the minimum");
    assert!(!check("CreditRequest", json!({"customer_code": "X", "purchase": 5, "tip": 1})).is_empty(), "undocumented");
    assert!(!check("RewardPage", json!({"rewards": [{"id": 1}], "next_after": null})).is_empty(), "an item checked");
}
