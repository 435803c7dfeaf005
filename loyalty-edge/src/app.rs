//! The Worker's entry points: `fetch`, `scheduled`, and the panic report.

use crate::claims::JsClaimHook;
use crate::clock::{CryptoRandom, WorkerClock};
use crate::http::{IncomingRequest, json, json_error, read_request, respond};
use crate::reporter::ConsoleReporter;
use crate::routing::{Route, Service};
use crate::store::d1::D1Store;
use crate::store::supabase::SupabaseStore;
use crate::telegram::FetchTelegram;
use loyalty_core::api::MAX_API_BODY_BYTES;
use loyalty_core::jobs::BROADCAST_BATCHES_PER_PASS;
use loyalty_core::ports::{Assistant, Clock, ErrorReport, ErrorReporter, Randomness, Storage, TelegramApi};
use loyalty_core::webhook::MAX_BODY_BYTES;
use loyalty_core::{Bots, Config, ConfigError, Engine, Extension, Ports, Task};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::web_sys;
use worker::{Context, Env};

/// How long `GET /ready` waits for storage.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// The engine of this isolate, built from the Worker's environment on the
    /// first request and shared by the following ones (a Worker's variables
    /// and secrets change only with a new deployment, which starts new isolates).
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// The program's extension, registered with [`extend`].
    static EXTENSION: RefCell<Option<Arc<dyn Extension>>> = const { RefCell::new(None) };
}

/// Registers the program's [`Extension`] (see `loyalty_core::Extension`) for
/// this isolate's engine: `make` runs once, on the first call; later calls do
/// nothing. Call it at the top of the Worker's `fetch` (and `scheduled`)
/// handler, before [`fetch`]:
///
/// ```no_run
/// # use std::sync::Arc;
/// # #[derive(Debug)] struct Ping;
/// # #[async_trait::async_trait(?Send)] impl loyalty_core::Extension for Ping {}
/// use loyalty_edge::Service;
/// use loyalty_edge::web_sys::{Request, Response};
/// use worker::{Context, Env, event};
///
/// #[event(fetch)]
/// async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
///     loyalty_edge::extend(|| Arc::new(Ping));
///     loyalty_edge::fetch(req, env, ctx, Service::CLIENT_WEBHOOK).await
/// }
/// ```
// One isolate is one thread: the extension need not be `Send`/`Sync`.
#[allow(clippy::arc_with_non_send_sync)]
pub fn extend(make: impl FnOnce() -> Arc<dyn Extension>) {
    if EXTENSION.with(|e| e.borrow().is_some()) {
        return;
    }
    EXTENSION.with(|e| *e.borrow_mut() = Some(make()));
    // An engine built before the registration is built again, with it.
    ENGINE.with(|e| *e.borrow_mut() = None);
}

/// Reads the configuration from the Worker's environment: each of
/// [`loyalty_core::config::VARIABLES`] (and the optional extras `Config`
/// knows) as a secret (`wrangler secret put`) or a plain variable
/// (`[vars]` in `wrangler.toml`, `.dev.vars` locally).
///
/// # Errors
/// The variable that is missing or invalid (never its value).
pub fn config_from_env(env: &Env) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| {
        env.secret(name).ok().map(|s| s.to_string()).or_else(|| env.var(name).ok().map(|v| v.to_string()))
    })
}

/// The ports of a Worker for `config`: storage on Supabase when
/// `SUPABASE_URL` is set (with `SUPABASE_KEY`), otherwise on the Worker's D1
/// binding [`DB`](crate::store::d1::BINDING) (the zero-setup default); the Bot API over
/// `fetch`; the OpenAI assistant when `OPENAI_API_KEY` is set (feature
/// `openai`, over `fetch`); error reports to the Worker's log and to Sentry
/// when `SENTRY_DSN` is set (feature `sentry`); the Workers clock and
/// `crypto.getRandomValues`; outgoing webhooks over `fetch`
/// ([`FetchWebhookSender`](crate::FetchWebhookSender)).
///
/// # Errors
/// A storage variable is missing or invalid, neither Supabase nor a D1 binding
/// is configured, or `SENTRY_DSN` is not a DSN.
// One isolate is one thread: the ports need not be `Send`/`Sync`, and the core's
// `Ports` holds `Arc`s so that one type serves both runtimes.
#[allow(clippy::arc_with_non_send_sync)]
pub fn ports(env: &Env, config: &Config) -> Result<Ports, ConfigError> {
    let clock: Arc<dyn Clock> = Arc::new(WorkerClock);
    let random: Arc<dyn Randomness> = Arc::new(CryptoRandom);
    let storage: Arc<dyn Storage> = if config.supabase_url.is_some() {
        Arc::new(SupabaseStore::from_config(config)?)
    } else if let Some(d1) = D1Store::from_env(env, crate::store::d1::BINDING) {
        Arc::new(d1)
    } else {
        return Err(ConfigError::Missing {
            name: "SUPABASE_URL",
            why: "storage: set SUPABASE_URL and SUPABASE_KEY, or bind a D1 database as DB",
        });
    };
    let telegram: Arc<dyn TelegramApi> = Arc::new(FetchTelegram::new(config));
    #[cfg(feature = "openai")]
    let assistant = crate::assistant::FetchAssistant::from_config(config).map(|a| Arc::new(a) as Arc<dyn Assistant>);
    #[cfg(not(feature = "openai"))]
    let assistant: Option<Arc<dyn Assistant>> = None;
    #[cfg(feature = "sentry")]
    let sentry: Option<Arc<dyn ErrorReporter>> =
        match loyalty_core::adapters::sentry::Envelopes::from_config(config, clock.clone(), random.clone()) {
            Ok(e) => e.map(|e| Arc::new(crate::sentry::FetchSentry::new(e)) as Arc<dyn ErrorReporter>),
            Err(e) => return Err(ConfigError::Invalid { name: "SENTRY_DSN", reason: e.to_string() }),
        };
    #[cfg(not(feature = "sentry"))]
    let sentry: Option<Arc<dyn ErrorReporter>> = None;
    let reporter: Arc<dyn ErrorReporter> = Arc::new(ConsoleReporter::new(sentry));
    let webhooks: Option<Arc<dyn loyalty_core::ports::WebhookSender>> =
        Some(Arc::new(crate::outgoing::FetchWebhookSender::new()));
    Ok(Ports { storage, telegram, assistant, reporter, clock, random, webhooks })
}

/// This isolate's engine, built on first use from `env`, running the bots of
/// `service` ([`Engine::serving`]: a Worker links only the bots its service
/// names). Pass the same service everywhere in a Worker: a cached engine
/// that lacks one of `service`'s bots is replaced by one that runs the bots
/// of both (as [`extend`] replaces one built before it).
///
/// # Errors
/// Those of [`config_from_env`] and [`ports`]; nothing is cached then, so the
/// next request tries again.
pub fn engine(env: &Env, service: Service) -> Result<Engine, ConfigError> {
    let bots = service.bots();
    let cached = ENGINE.with(|e| e.borrow().clone());
    let bots = match cached {
        Some(engine) if engine.bots().contains(bots) => return Ok(engine),
        Some(engine) => engine.bots().union(bots),
        None => bots,
    };
    let engine = build_engine(env, bots)?;
    ENGINE.with(|e| *e.borrow_mut() = Some(engine.clone()));
    Ok(engine)
}

/// A new engine running `bots`, with the claim hook, the carried finishes and
/// the program's extension.
fn build_engine(env: &Env, bots: Bots) -> Result<Engine, ConfigError> {
    let config = config_from_env(env)?;
    crate::logging::ConsoleSubscriber::install(&config.log_level);
    let ports = ports(env, &config)?;
    let mut engine = Engine::serving(config, ports, bots).with_hook(Arc::new(JsClaimHook)).with_carried_finishes();
    if let Some(extension) = EXTENSION.with(|e| e.borrow().clone()) {
        engine = engine.with_extension(extension);
    }
    Ok(engine)
}

/// How long the updates that had nothing to send wait for the next update's
/// claim to finish them before one request of their own does
/// ([`Engine::with_carried_finishes`]).
const FINISH_WAIT: Duration = Duration::from_secs(1);

thread_local! {
    /// Whether a request of this isolate is waiting to finish the carried updates.
    static FINISH_SCHEDULED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `tasks` in order after the response, with `ctx.waitUntil`. An update
/// with nothing to send is finished by the next update's claim; if none comes
/// within [`FINISH_WAIT`], one request finishes all that wait.
///
/// Updates with nothing to send (a `/balance`) are only recorded for the
/// next claim ([`Engine::carry`], as [`Engine::run_task`] would): when that
/// is all, no `waitUntil` (a promise and a call into the runtime), unless this
/// request is the one to wait for the finish.
fn defer(ctx: &Context, engine: &Engine, tasks: Vec<Task>) {
    if tasks.is_empty() {
        return;
    }
    let tasks: Vec<Task> = tasks.into_iter().filter_map(|task| engine.carry(task)).collect();
    if tasks.is_empty() {
        if takes_the_finish(engine) {
            ctx.wait_until(finish_after_wait(engine.clone()));
        }
        return;
    }
    let engine = engine.clone();
    ctx.wait_until(async move {
        for task in tasks {
            engine.run_task(task).await;
        }
        if takes_the_finish(&engine) {
            finish_after_wait(engine).await;
        }
    });
}

/// Whether the caller is to finish the carried updates after [`FINISH_WAIT`]:
/// some wait, and no request of this isolate waits to finish them yet (the
/// caller is that request from now on: it calls [`finish_after_wait`]).
fn takes_the_finish(engine: &Engine) -> bool {
    engine.carried_finishes() > 0 && !FINISH_SCHEDULED.with(|s| s.replace(true))
}

/// Waits [`FINISH_WAIT`], then finishes the updates still carried (those the
/// claims made meanwhile have not).
async fn finish_after_wait(engine: Engine) {
    worker::Delay::from(FINISH_WAIT).await;
    FINISH_SCHEDULED.with(|s| s.set(false));
    engine.flush_carried_finishes().await;
}

/// Handles one request for `service`: the whole of a Worker's `fetch` handler.
///
/// ```no_run
/// use loyalty_edge::Service;
/// use loyalty_edge::web_sys::{Request, Response};
/// use worker::{Context, Env, event};
///
/// #[event(fetch)]
/// async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
///     loyalty_edge::fetch(req, env, ctx, Service::CLIENT_WEBHOOK).await
/// }
/// ```
///
/// The Worker links the code of `service` only: the bots it names (see
/// [`engine`]) and, when it serves the API, [`Engine::handle_api`].
///
/// Take the runtime's `web_sys::Request` as above: a `worker::Request` (also
/// accepted, see [`IncomingRequest`]) reads the method, URL, headers and `cf`
/// object on its way in, which costs CPU on every request for nothing. The
/// request is then read in one call ([`read_request`](crate::http::read_request))
/// and the response built in one ([`respond`](crate::http::respond)).
///
/// The webhook's first Bot API call rides in the response body; the rest of
/// the update's work (further calls, the assistant's answer, error reports)
/// runs after the response with `ctx.waitUntil`. A configuration error is a
/// `500` naming the variable.
///
/// # Errors
/// Only when a response cannot be built at all (the Workers runtime then
/// answers `500` itself).
pub async fn fetch(
    req: impl IncomingRequest,
    env: Env,
    ctx: Context,
    service: Service,
) -> worker::Result<web_sys::Response> {
    install_panic_hook();
    let req = req.into_js();
    let route = service.route(crate::routing::path_of(&req.url()));
    match route {
        Route::Health => return Ok(json(200, &serde_json::json!({ "status": "ok" }))),
        Route::NotFound => return Ok(json_error(404, "not_found", "no such route")),
        Route::UnknownBot => {
            return Ok(json_error(404, "unknown_bot", "this Worker does not serve that bot's webhook"));
        }
        Route::Webhook(_) | Route::Api | Route::Ready => {}
    }
    let engine = match engine(&env, service) {
        Ok(engine) => engine,
        Err(e) => {
            worker::console_error!("configuration error: {e}");
            return Ok(json_error(500, "misconfigured", &e.to_string()));
        }
    };
    let limit = if matches!(route, Route::Api) { MAX_API_BODY_BYTES } else { MAX_BODY_BYTES };
    match route {
        Route::Webhook(_) | Route::Api => {
            let http = match read_request(&req, limit).await {
                Ok(http) => http,
                Err(e) => {
                    worker::console_warn!("unreadable request: {e}");
                    return Ok(json_error(400, "unreadable_body", "the request body could not be read"));
                }
            };
            let (response, deferred) = match (route, service.api()) {
                (Route::Webhook(bot), _) => {
                    let out = engine.handle_webhook(bot, http).await;
                    (out.response, out.deferred)
                }
                // The API only through the service's entry: a Worker without one does not link it.
                (_, Some(api)) => {
                    let out = api(&engine, http).await;
                    (out.response, out.deferred)
                }
                // Not reached: a service routes to the API only when it has the entry.
                (_, None) => return Ok(json_error(404, "not_found", "no such route")),
            };
            defer(&ctx, &engine, deferred);
            Ok(respond(response))
        }
        _ => Ok(ready(&engine).await),
    }
}

async fn ready(engine: &Engine) -> web_sys::Response {
    let ping = Box::pin(engine.storage().ping());
    let delay = Box::pin(worker::Delay::from(READY_TIMEOUT));
    let unavailable = |why: &str| {
        json(
            503,
            &serde_json::json!({ "status": "unavailable", "error": { "code": "storage_unavailable", "message": why } }),
        )
    };
    match futures::future::select(ping, delay).await {
        futures::future::Either::Left((Ok(()), _)) => {
            // The kind of store, never its URL.
            let storage = if engine.config().supabase_url.is_some() { "supabase" } else { "d1" };
            json(200, &serde_json::json!({ "status": "ready", "storage": storage }))
        }
        futures::future::Either::Left((Err(e), _)) => {
            worker::console_warn!("readiness check failed: {e}");
            unavailable("storage did not answer the readiness check")
        }
        futures::future::Either::Right(_) => unavailable("storage did not answer in time"),
    }
}

/// The Cron Trigger's work: one maintenance pass
/// ([`Engine::maintenance_pass`]): expire overdue redemption requests and
/// deliver pending broadcasts, [`BROADCAST_BATCHES_PER_PASS`] batches each,
/// and process again the unfinished updates of the bots `service`'s engine
/// runs (another bot's are left to a process that runs it). Give it the
/// Worker's service with every bot's code ([`Service::with_bots`]) unless
/// another Worker's Cron Trigger recovers the other bots' updates:
///
/// ```no_run
/// use loyalty_edge::Service;
/// use loyalty_edge::core::Bots;
/// use worker::{Env, ScheduleContext, ScheduledEvent, event};
///
/// #[event(scheduled)]
/// async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
///     loyalty_edge::scheduled(env, Service::ADMIN_WEBHOOK.with_bots(Bots::ALL)).await;
/// }
/// ```
pub async fn scheduled(env: Env, service: Service) {
    install_panic_hook();
    match engine(&env, service) {
        Ok(engine) => {
            engine.maintenance_turn(loyalty_core::jobs::MAINTENANCE_PERIOD_SECS, BROADCAST_BATCHES_PER_PASS).await;
        }
        Err(e) => worker::console_error!("scheduled run skipped, configuration error: {e}"),
    }
}

/// Reports a panic that failed a request (called by the Worker's JavaScript
/// entry after it has answered `500` and replaced the wasm instance). Only the
/// route is reported, never the request: it may quote what someone sent.
/// `claims` lists the updates whose processing died with the instance
/// (`"<bot>:<update id>"`, comma-separated, from [`JsClaimHook`](crate::JsClaimHook)'s
/// record): their claims are released, so Telegram's retries are processed.
/// It needs no bot's code: it uses this isolate's engine, or (in the fresh
/// instance that replaced the one that panicked) an engine that runs no bot,
/// not kept for the requests that follow.
#[wasm_bindgen(js_name = "__loyalty_report_panic")]
pub fn report_panic(path: String, env: Env, ctx: worker::worker_sys::Context, claims: String) {
    let ctx = Context::new(ctx);
    let engine = match ENGINE.with(|e| e.borrow().clone()) {
        Some(engine) => engine,
        None => match build_engine(&env, Bots::NONE) {
            Ok(engine) => engine,
            Err(_) => return,
        },
    };
    let report = ErrorReport::panic_in_request(&path, "worker");
    let claims = crate::claims::parse(&claims);
    ctx.wait_until(async move {
        engine.release_claims(&claims).await;
        engine.report(report).await;
    });
}

/// Installs, once per wasm instance, a panic hook that runs the previous hook
/// (the `worker` crate's, which logs the panic) and then tells the JavaScript
/// entry (`js/entry.mjs`) that this instance is about to abort, so that it
/// fails the requests running in it and starts a fresh instance for the next.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let global = js_sys::global();
            if let Ok(notify) = js_sys::Reflect::get(&global, &"__loyalty_on_panic".into())
                && let Some(notify) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&notify)
            {
                let _ = notify.call0(&global);
            }
        }));
    });
}
