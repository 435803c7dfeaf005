//! The POS routes with any body and `Idempotency-Key`, authenticated with a
//! real key of an approved partner, on the model store: never a panic and
//! never a 500 (bad input is a 4xx with a JSON error), and no customer's
//! balance ever below zero.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use loyalty_core::domain::{PartnerTerms, rules};
use loyalty_core::ports::{CustomerRef, PartnerRef};
use loyalty_testkit::TestEnv;
use loyalty_testkit::requests::{customer, partner};

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/partner/credits"),
    ("POST", "/api/v1/partner/redemptions"),
    ("POST", "/api/v1/partner/reversals"),
    ("POST", "/api/v1/partner/campaigns"),
    ("GET", "/api/v1/partner/customers/"),
    ("GET", "/api/v1/partner/redemptions/"),
    ("GET", "/api/v1/partner/summary"),
    ("GET", "/api/v1/partner/campaigns"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (method, path) = ROUTES[usize::from(selector) % ROUTES.len()];
    // The body, then (after the first newline) the key and the path's tail.
    let text = String::from_utf8_lossy(rest);
    let (body, tail) = text.split_once('\n').unwrap_or((&text, ""));
    let env = TestEnv::new();
    futures::executor::block_on(async {
        let shop = partner(env.storage.as_ref(), 501, PartnerTerms::default()).await;
        env.storage.set_partner_api_key(PartnerRef::Id(shop.id), Some(rules::hash_api_key("pos-key"))).await.unwrap();
        let anna = customer(env.storage.as_ref(), 101, 500).await;
        let uri = if path.ends_with('/') { format!("{path}{}", anna.code.as_str()) } else { path.to_string() };
        let uri = if tail.is_empty() { uri } else { format!("{path}{}", tail.replace(['#', ' '], "")) };
        let Ok(req) = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Bearer pos-key")
            .header("content-type", "application/json")
            .header("idempotency-key", if selector & 1 == 0 { "key-1" } else { tail })
            .body(Bytes::from(body.to_string()))
        else {
            return;
        };
        let answer = env.engine.handle_api(req).await;
        let status = answer.response.status().as_u16();
        assert!(status < 500, "{method} {path}: status {status}");
        let after = env.storage.customer_summary(CustomerRef::Id(anna.id), 0).await.unwrap();
        assert!(after.is_some_and(|s| s.customer.balance >= 0), "a balance below zero");
    });
});
