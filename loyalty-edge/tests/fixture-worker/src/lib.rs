//! A test fixture for `loyalty-edge/tests/workerd.rs`: every loyalty-edge
//! route ([`loyalty_edge::Service::ALL`]), plus two test-only routes:
//!
//! * `GET /__panic` panics inside the wasm instance, to show that a panic
//!   fails only its own request;
//! * `POST /__conformance/<check>` runs one check of loyalty-core's storage
//!   conformance suite inside workerd, and answers
//!   `{"check":…,"ok":…,"error":…,"requests":…}`: against `SupabaseStore` at
//!   the Supabase URL in the `x-supabase-url` header (a fresh database per
//!   check, prepared by the test) with the Worker's `SUPABASE_KEY`; or, with
//!   `x-store: d1`, against `D1Store` on the Worker's D1 binding, emptied first
//!   (its tables dropped, so the check also creates the schema on first use).
//!   `GET /__conformance` lists the checks.
//! * `POST /__panic_after_claim/<bot>` claims the update in the body as the
//!   webhook would (storage and `loyalty_edge::JsClaimHook`, with a duplicate
//!   delivery coming and going meanwhile), then panics: processing that dies
//!   after the claim;
//! * `POST /__round_trips` plays one update of every kind through an engine
//!   on `D1Store` (emptied first) inside workerd and answers what each cost in
//!   D1 batches (`loyalty_testkit::round_trips::requests_per_update`);
//! * `POST /__history_rows` plays the same updates for a customer with two
//!   entries and again after many more (`loyalty_testkit::history`) through
//!   an engine on a metered `D1Store` (emptied first) inside workerd, and
//!   answers the rows D1 said each read and wrote;
//! * `POST /__cafe_month` plays a month of a café's program
//!   (`loyalty_testkit::cafe_month`) through an engine with a stepped clock on
//!   `D1Store` (emptied first) inside workerd, and answers its report (or
//!   `{"error": …}`);
//! * `POST /__rpc/<use case>` calls one use case of `D1Store` on the Worker's
//!   D1 binding with the request JSON in the body, and answers its JSON (a
//!   rejection as `{"rejected": …}`; other errors as 500): the tests' view of
//!   the D1 database the Workers share.
//!
//! It also registers an extension (`loyalty_edge::extend`): `/ping` in the
//! client bot answers `pong`, and a sign-up sends the newcomer a message of
//! the extension's own.
#![cfg(target_arch = "wasm32")]

use loyalty_core::ports::{StoreError, UpdateClaim};
use loyalty_core::telegram::{BotCall, Command, Update, UpdateKind};
use loyalty_core::{ClaimHook, Event, Extension, Outbox, Secret};
use std::sync::Arc;

use loyalty_core::domain::BotKind;
use loyalty_core::stores::d1;
use loyalty_core::stores::rest::RestEndpoint;
use loyalty_core::stores::rpc::RpcBackend;
use loyalty_edge::store::d1::{BINDING, D1Store};
use loyalty_edge::store::supabase::SupabaseStore;
use loyalty_edge::{JsClaimHook, Service};
use loyalty_testkit::conformance::{Check, Params, checks};
use worker::{Context, Env, Request, Response, event};

/// `/ping` → `pong` in the client bot; a word of welcome on sign-up.
#[derive(Debug)]
struct Ping;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Extension for Ping {
    async fn on_unclaimed(
        &self,
        _cx: &loyalty_core::Context,
        bot: BotKind,
        update: &Update,
    ) -> loyalty_core::Result<Option<Outbox>> {
        let UpdateKind::Message(m) = update.kind() else { return Ok(None) };
        let ping = m.text.as_deref().and_then(Command::parse).is_some_and(|c| c.name == "ping");
        Ok((bot == BotKind::Client && ping).then(|| Outbox::one(BotCall::send_message(bot, m.chat.id, "pong", None))))
    }

    fn on_event(&self, _cx: &loyalty_core::Context, event: &Event<'_>) -> Vec<BotCall> {
        let Event::SignedUp(r) = event else { return Vec::new() };
        let text = "Welcome from the extension";
        vec![BotCall::send_message(BotKind::Client, r.customer.telegram_id.0, text, None)]
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    loyalty_edge::extend(|| Arc::new(Ping));
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
    if let Some(bot) = path.strip_prefix("/__panic_after_claim/") {
        return panic_after_claim(req, &env, bot).await;
    }
    if path == "/__round_trips" {
        return round_trips(&env).await;
    }
    if path == "/__cafe_month" {
        return cafe_month(&env).await;
    }
    if path == "/__history_rows" {
        return history_rows(&env).await;
    }
    if path == "/__maintenance" {
        // What the Cron Trigger runs, without its once-a-minute turn: the tests call it at will.
        let engine = loyalty_edge::engine(&env, Service::ALL).map_err(|e| worker::Error::RustError(e.to_string()))?;
        engine.maintenance_pass(loyalty_core::jobs::BROADCAST_BATCHES_PER_PASS).await;
        return json(200, &serde_json::json!({ "ok": true }));
    }
    if let Some(function) = path.strip_prefix("/__rpc/") {
        return rpc(req, &env, function).await;
    }
    // A `worker::Request` (its path is read above): loyalty-edge takes it as well.
    loyalty_edge::fetch(req, env, ctx, Service::ALL).await.map(Into::into)
}

/// loyalty-edge's JSON answer, as this fixture's handlers return it.
fn json(status: u16, body: &serde_json::Value) -> worker::Result<Response> {
    Ok(loyalty_edge::http::json(status, body).into())
}

/// loyalty-edge's error answer, as this fixture's handlers return it.
fn json_error(status: u16, code: &str, message: &str) -> worker::Result<Response> {
    Ok(loyalty_edge::http::json_error(status, code, message).into())
}

async fn rpc(mut req: Request, env: &Env, function: &str) -> worker::Result<Response> {
    let Some(function) = d1::use_cases().find(|f| *f == function) else {
        return json_error(404, "no_such_use_case", function);
    };
    let store = D1Store::new(env.d1(BINDING)?);
    match store.call_function(function, req.text().await?).await {
        Ok(value) => json(200, &value),
        Err(StoreError::Rejected(rejection)) => json(200, &serde_json::json!({ "rejected": rejection })),
        Err(e) => json_error(500, "store", &e.to_string()),
    }
}

async fn conformance(req: &Request, env: &Env, name: &str) -> worker::Result<Response> {
    let Some(check) = checks().into_iter().find(|c| c.name() == name) else {
        return json_error(404, "no_such_check", name);
    };
    if req.headers().get("x-store")?.as_deref() == Some("d1") {
        return conformance_d1(&check, env).await;
    }
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

async fn conformance_d1(check: &Check, env: &Env) -> worker::Result<Response> {
    let db = env.d1(BINDING)?;
    let drops: Vec<_> = d1::TABLES.iter().map(|t| db.prepare(format!("DROP TABLE IF EXISTS {t}"))).collect();
    db.batch(drops).await?;
    let store = D1Store::new(db);
    let outcome = check.run(&store, &Params::default()).await;
    json(
        200,
        &serde_json::json!({
            "check": check.name(),
            "ok": outcome.is_ok(),
            "error": outcome.err(),
            "requests": store.batches(),
        }),
    )
}

// The engine takes its ports as `Arc`s; wasm32 is single-threaded (as in loyalty-edge's app).
#[allow(clippy::arc_with_non_send_sync)]
async fn round_trips(env: &Env) -> worker::Result<Response> {
    use loyalty_testkit::round_trips::{CountingBackend, requests_per_update};
    let db = env.d1(BINDING)?;
    let drops: Vec<_> = d1::TABLES.iter().map(|t| db.prepare(format!("DROP TABLE IF EXISTS {t}"))).collect();
    db.batch(drops).await?;
    let counted = Arc::new(CountingBackend::new(D1Store::new(db)));
    let test = loyalty_testkit::TestEnv::with(counted.clone(), loyalty_testkit::test_config());
    let costs = requests_per_update(&test, || counted.requests()).await;
    let costs: Vec<serde_json::Value> = costs
        .iter()
        .map(|c| serde_json::json!({"update": c.update, "requests": c.requests, "expected": c.expected}))
        .collect();
    let (requests, batches) = (counted.requests(), counted.inner().batches());
    json(200, &serde_json::json!({ "costs": costs, "requests": requests, "batches": batches }))
}

// As in `round_trips`: the engine's ports are `Arc`s on a single-threaded target.
#[allow(clippy::arc_with_non_send_sync)]
async fn history_rows(env: &Env) -> worker::Result<Response> {
    use loyalty_testkit::history::{Rows, costs_as_history_grows};
    let db = env.d1(BINDING)?;
    let drops: Vec<_> = d1::TABLES.iter().map(|t| db.prepare(format!("DROP TABLE IF EXISTS {t}"))).collect();
    db.batch(drops).await?;
    let store = Arc::new(D1Store::metered(db));
    let test = loyalty_testkit::TestEnv::with(store.clone(), loyalty_testkit::test_config());
    let rows = || store.rows().map(|r| Rows { read: r.read, written: r.written }).unwrap_or_default();
    let costs = costs_as_history_grows(&test, rows).await;
    json(200, &serde_json::json!({ "costs": costs }))
}

// As in `round_trips`: the engine's ports are `Arc`s on a single-threaded target.
#[allow(clippy::arc_with_non_send_sync)]
async fn cafe_month(env: &Env) -> worker::Result<Response> {
    let db = env.d1(BINDING)?;
    let drops: Vec<_> = d1::TABLES.iter().map(|t| db.prepare(format!("DROP TABLE IF EXISTS {t}"))).collect();
    db.batch(drops).await?;
    let test = loyalty_testkit::TestEnv::with(Arc::new(D1Store::new(db)), loyalty_testkit::test_config());
    match loyalty_testkit::cafe_month::play(&test).await {
        Ok(month) => json(200, &serde_json::json!(month)),
        Err(error) => json(200, &serde_json::json!({ "error": error })),
    }
}

async fn panic_after_claim(mut req: Request, env: &Env, bot: &str) -> worker::Result<Response> {
    let Some(bot) = BotKind::parse(bot) else { return json_error(404, "no_such_bot", bot) };
    let update: serde_json::Value = serde_json::from_str(&req.text().await?)?;
    let Some(update_id) = update["update_id"].as_i64() else { return json_error(400, "no_update_id", "update_id") };
    let engine = loyalty_edge::engine(env, Service::ALL).map_err(|e| worker::Error::RustError(e.to_string()))?;
    if !engine
        .storage()
        .claim_update(UpdateClaim {
            bot: engine.config().bot_id(bot),
            update_id,
            now: engine.now(),
            body: None,
            finished: Vec::new(),
        })
        .await
        .map_err(|e| worker::Error::RustError(e.to_string()))?
    {
        return json_error(409, "already_claimed", "the update was claimed before");
    }
    JsClaimHook.claimed(bot, update_id);
    // A duplicate delivery of the same update came and went meanwhile: its end
    // must not hide this processing's claim.
    JsClaimHook.claimed(bot, update_id);
    JsClaimHook.settled(bot, update_id);
    worker::Delay::from(std::time::Duration::from_millis(1)).await;
    panic!("forced by the test fixture after claiming update {update_id}");
}
