//! A test fixture for `loyalty-edge/tests/workerd.rs`: every loyalty-edge
//! route ([`loyalty_edge::Service::All`]), plus two test-only routes:
//!
//! * `GET /__panic` panics inside the wasm instance, to show that a panic
//!   fails only its own request;
//! * `POST /__conformance/<check>` runs one check of loyalty-core's storage
//!   conformance suite inside workerd, against `SupabaseStore` at the
//!   Supabase URL in the `x-supabase-url` header (a fresh database per check,
//!   prepared by the test) with the Worker's `SUPABASE_KEY`, and answers
//!   `{"check":…,"ok":…,"error":…}`; `GET /__conformance` lists the checks.
#![cfg(target_arch = "wasm32")]

use loyalty_core::Secret;
use loyalty_core::stores::rest::RestEndpoint;
use loyalty_core::testkit::conformance::{Params, checks};
use loyalty_edge::Service;
use loyalty_edge::http::{json, json_error};
use loyalty_edge::supabase::SupabaseStore;
use worker::{Context, Env, Request, Response, event};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    if path == "/__panic" {
        // After an await point, as a panic deep in a handler would be.
        worker::Delay::from(std::time::Duration::from_millis(1)).await;
        panic!("forced by the test fixture");
    }
    if path == "/__conformance" {
        let names: Vec<&str> = checks().iter().map(|c| c.name()).collect();
        return json(200, &serde_json::json!(names));
    }
    if let Some(name) = path.strip_prefix("/__conformance/") {
        return conformance(&req, &env, name).await;
    }
    loyalty_edge::fetch(req, env, ctx, Service::All).await
}

async fn conformance(req: &Request, env: &Env, name: &str) -> worker::Result<Response> {
    let Some(check) = checks().into_iter().find(|c| c.name() == name) else {
        return json_error(404, "no_such_check", name);
    };
    let Some(url) = req.headers().get("x-supabase-url")? else {
        return json_error(400, "missing_url", "x-supabase-url");
    };
    let key = env
        .secret("SUPABASE_KEY")
        .map(|s| s.to_string())
        .or_else(|_| env.var("SUPABASE_KEY").map(|v| v.to_string()))?;
    let endpoint = match RestEndpoint::new(format!("{}/rest/v1", url.trim_end_matches('/')), Secret::new(key)) {
        Ok(endpoint) => endpoint,
        Err(e) => return json_error(400, "bad_endpoint", &e.to_string()),
    };
    let store = SupabaseStore::new(endpoint);
    let outcome = check.run(&store, &Params::default()).await;
    json(
        200,
        &serde_json::json!({
            "check": name,
            "ok": outcome.is_ok(),
            "error": outcome.err(),
            "requests": store.requests(),
        }),
    )
}
