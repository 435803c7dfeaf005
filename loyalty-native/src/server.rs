//! The HTTP server: Telegram webhooks, the REST API, health and readiness.
//!
//! | Route | What |
//! |---|---|
//! | `POST /webhook/{bot}` | [`Engine::handle_webhook`] for `client`, `partner` or `admin` |
//! | `/api/…`, `/hooks/sentry` (every method) | [`Engine::handle_api`] (it answers 404, 405 and `OPTIONS` itself) |
//! | `GET /health` | the process is up: `200 {"status":"ok"}` |
//! | `GET /ready` | storage answers [`Storage::ping`]: `200 {"status":"ready"}`, else `503` |
//! | `GET /app/…` (and `HEAD`) | the Mini App's page ([`loyalty_app`]): `/app/` is `index.html`, `/app/<path>` a file of it, `/app` redirects (`308`) to `/app/` with its query; an unknown path is `404` |
//! | `GET /metrics` | Prometheus text format ([`crate::metrics`]) when [`App::with_metrics`] gave a handle, else `404`; with `METRICS_TOKEN` set it asks for it as a bearer token (`401`) |
//! | anything else | `404 {"error":{"code":"not_found",…}}` |
//!
//! The server reads at most [`MAX_BODY_BYTES`] + 1 bytes of a body and hands
//! the request to the engine, which answers `413` for anything larger. The
//! deferred work of a response goes to the [`TaskRunner`] once the response
//! has been built. A panic while handling one request fails only that request
//! (`500` with a JSON error) and is reported through the engine's
//! [`ErrorReporter`](loyalty_core::ports::ErrorReporter).
//!
//! The page's files are embedded in the binary ([`loyalty_app`]); each answer
//! carries its `ETag` (`If-None-Match` → `304`), `Cache-Control` (`no-cache`
//! for `index.html`, a year and `immutable` for the hashed files under
//! `assets/`), the gzip copy when `Accept-Encoding` takes it (`Vary:
//! Accept-Encoding`), `X-Content-Type-Options: nosniff`, and for `index.html`
//! [`loyalty_app::CONTENT_SECURITY_POLICY`].
//!
//! [`Storage::ping`]: loyalty_core::ports::Storage::ping

use crate::tasks::{Drained, OUTBOX_IDLE, TaskRunner, maintenance_loop, outbox_loop};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::{Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use loyalty_core::Engine;
use loyalty_core::api::MAX_API_BODY_BYTES;
use loyalty_core::body::{declared_too_large, push_limited};
use loyalty_core::ports::{ErrorReport, route_label};

use loyalty_core::domain::BotKind;
use loyalty_core::webhook::MAX_BODY_BYTES;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long [`serve`] waits, by default, for in-flight requests and then for
/// deferred tasks after the shutdown signal.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// How often, by default, [`serve`] expires redemption requests and resumes
/// pending broadcasts.
pub const DEFAULT_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// How long `GET /ready` waits for storage.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the server shares between requests: the engine and the task runner,
/// plus timing options. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    engine: Engine,
    tasks: TaskRunner,
    storage_kind: Option<&'static str>,
    drain_timeout: Duration,
    maintenance_interval: Option<Duration>,
    metrics: Option<PrometheusHandle>,
}

impl App {
    /// An app over `engine` with a fresh [`TaskRunner`] and the default timings.
    pub fn new(engine: Engine) -> App {
        App {
            engine,
            tasks: TaskRunner::new(),
            storage_kind: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            maintenance_interval: Some(DEFAULT_MAINTENANCE_INTERVAL),
            metrics: None,
        }
    }

    /// Serves `handle`'s metrics at `GET /metrics` (see [`crate::metrics::install`]).
    pub fn with_metrics(mut self, handle: Option<PrometheusHandle>) -> App {
        self.metrics = handle;
        self
    }

    /// Sets how long shutdown waits for in-flight requests, and then for
    /// deferred tasks (each phase gets the whole timeout).
    pub fn with_drain_timeout(mut self, timeout: Duration) -> App {
        self.drain_timeout = timeout;
        self
    }

    /// Sets how often [`serve`] runs the maintenance pass (expire redemption
    /// requests, resume pending broadcasts); `None` turns it off.
    pub fn with_maintenance_interval(mut self, every: Option<Duration>) -> App {
        self.maintenance_interval = every;
        self
    }

    /// Names the kind of store (`sqlite`, `postgres`, `postgrest`, …) in
    /// `GET /ready`'s answer, so an operator sees which one a server runs on.
    pub fn with_storage_kind(mut self, kind: &'static str) -> App {
        self.storage_kind = Some(kind);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The runner of deferred tasks.
    pub fn tasks(&self) -> &TaskRunner {
        &self.tasks
    }
}

/// The server's routes (see the [module docs](self)), with `app` as state.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/webhook/{bot}", any(webhook))
        .route("/api/{*rest}", any(api))
        .route("/hooks/sentry", any(api))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/app", get(app_redirect))
        .route("/app/", get(app_asset))
        .route("/app/{*path}", get(app_asset))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), catch_panic))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` completes, then shuts down
/// gracefully: stops accepting connections, lets in-flight requests finish
/// (up to the drain timeout), stops the maintenance pass, and waits (again up
/// to the drain timeout) for deferred tasks.
///
/// While serving, a maintenance pass ([`crate::tasks::maintenance_loop`]: once per
/// interval among all servers on the same store) runs
/// at start-up and then every maintenance interval, and the outbox's
/// dispatcher ([`crate::tasks::outbox_loop`]) delivers what waits there. (An
/// app without a maintenance interval runs neither.)
///
/// # Errors
/// When accepting connections fails for good (an I/O error of the listener).
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Drained> {
    let stop = CancellationToken::new();
    let maintenance = app
        .maintenance_interval
        .map(|every| tokio::spawn(maintenance_loop(app.engine.clone(), every, stop.clone().cancelled_owned())));
    let dispatcher =
        app.maintenance_interval.map(|_| tokio::spawn(outbox_loop(app.engine.clone(), OUTBOX_IDLE, stop.clone())));
    let signalled = stop.clone();
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        signalled.cancel();
    };
    let server = axum::serve(listener, router(app.clone())).with_graceful_shutdown(graceful).into_future();
    let drain = app.drain_timeout;
    let overdue = async {
        stop.cancelled().await;
        tokio::time::sleep(drain).await;
    };
    let served = tokio::select! {
        r = server => r,
        () = overdue => {
            tracing::warn!(?drain, "in-flight requests did not finish in time; closing them");
            Ok(())
        }
    };
    stop.cancel();
    if let Some(task) = maintenance {
        // The loop stops at its next await point; a pass in progress finishes first.
        let _ = tokio::time::timeout(drain, task).await;
    }
    if let Some(task) = dispatcher {
        // A batch being delivered finishes first; what is left waits in the outbox.
        let _ = tokio::time::timeout(drain, task).await;
    }
    let drained = app.tasks.shutdown(drain).await;
    served.map(|()| drained)
}

/// `{"error":{"code":…,"message":…}}` with `status`.
fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": { "code": code, "message": message } }))
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut res = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Reads at most `limit + 1` bytes of `body`: enough for the engine to tell
/// that it is too large without buffering all of it.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, axum::Error> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        if push_limited(&mut buf, &chunk?, limit) {
            break;
        }
    }
    Ok(buf.freeze())
}

/// The request as the engine takes it, with at most `limit + 1` bytes of body.
async fn to_engine_request(req: Request, limit: usize) -> Result<http::Request<Bytes>, Response> {
    let content_length = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    let skip = declared_too_large(content_length, limit);
    let (parts, body) = req.into_parts();
    let bytes = if skip {
        Bytes::new()
    } else {
        read_limited(body, limit)
            .await
            .map_err(|_| json_error(StatusCode::BAD_REQUEST, "unreadable_body", "the request body could not be read"))?
    };
    Ok(http::Request::from_parts(parts, bytes))
}

fn from_engine_response(res: http::Response<Bytes>) -> Response {
    res.map(Body::from)
}

async fn webhook(State(app): State<App>, req: Request) -> Response {
    let name = req.uri().path().strip_prefix("/webhook/").unwrap_or_default();
    let bot = match BotKind::parse(name) {
        Some(bot) if BotKind::WEBHOOK_BOTS.contains(&bot) => bot,
        _ => return json_error(StatusCode::NOT_FOUND, "unknown_bot", "no such bot; use client, partner or admin"),
    };
    let req = match to_engine_request(req, MAX_BODY_BYTES).await {
        Ok(req) => req,
        Err(res) => return res,
    };
    let out = app.engine.handle_webhook(bot, req).await;
    let response = from_engine_response(out.response);
    app.tasks.spawn(&app.engine, out.deferred);
    response
}

async fn api(State(app): State<App>, req: Request) -> Response {
    let req = match to_engine_request(req, MAX_API_BODY_BYTES).await {
        Ok(req) => req,
        Err(res) => return res,
    };
    let out = app.engine.handle_api(req).await;
    let response = from_engine_response(out.response);
    app.tasks.spawn(&app.engine, out.deferred);
    response
}

async fn health() -> Response {
    json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

async fn ready(State(app): State<App>) -> Response {
    let unavailable = |why: &str| {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({ "status": "unavailable", "error": { "code": "storage_unavailable", "message": why } }),
        )
    };
    match tokio::time::timeout(READY_TIMEOUT, app.engine.storage().ping()).await {
        Ok(Ok(())) => {
            let mut body = serde_json::json!({ "status": "ready" });
            if let Some(kind) = app.storage_kind {
                body["storage"] = kind.into();
            }
            json(StatusCode::OK, &body)
        }
        Ok(Err(e)) => {
            tracing::warn!(temporary = e.is_temporary(), "readiness check failed: {e}");
            unavailable("storage did not answer the readiness check")
        }
        Err(_) => {
            tracing::warn!(?READY_TIMEOUT, "readiness check timed out");
            unavailable("storage did not answer in time")
        }
    }
}

async fn metrics(State(app): State<App>, req: Request) -> Response {
    let Some(handle) = &app.metrics else {
        return not_found().await;
    };
    if let Some(token) = &app.engine.config().metrics_token {
        let given = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !token.matches_bearer(given) {
            let mut res =
                json_error(StatusCode::UNAUTHORIZED, "invalid_metrics_token", "send METRICS_TOKEN as a bearer token");
            res.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return res;
        }
    }
    let mut res = Response::new(Body::from(crate::metrics::render(handle)));
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `/app` → `/app/` (keeping the query: `?mode=partner`), so the page's
/// relative URLs resolve under `/app/`.
async fn app_redirect(req: Request) -> Response {
    let location = match req.uri().query() {
        Some(query) => format!("/app/?{query}"),
        None => "/app/".to_string(),
    };
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(location) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(http::header::LOCATION, location);
    }
    res
}

/// A file of the Mini App: the path after `/app/`, as sent (not
/// percent-decoded), looked up among the embedded files only.
async fn app_asset(req: Request) -> Response {
    let path = req.uri().path().strip_prefix("/app/").unwrap_or_default();
    let Some(asset) = loyalty_app::asset(path) else {
        return not_found().await;
    };
    let headers = req.headers();
    let gzip = asset.gzip().zip(asset.gzip_etag()).filter(|_| {
        headers.get_all(http::header::ACCEPT_ENCODING).iter().any(|v| v.to_str().is_ok_and(loyalty_app::accepts_gzip))
    });
    let (bytes, etag) = gzip.unwrap_or((asset.bytes(), asset.etag()));
    let fresh =
        headers.get_all(http::header::IF_NONE_MATCH).iter().any(|v| v.to_str().is_ok_and(|tags| asset.matches(tags)));
    let mut res = if fresh {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let mut res = Response::new(Body::from(Bytes::from_static(bytes)));
        res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type()));
        res.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        if gzip.is_some() {
            res.headers_mut().insert(http::header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if asset.is_index() {
            res.headers_mut().insert(
                http::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(loyalty_app::CONTENT_SECURITY_POLICY),
            );
        }
        res
    };
    let h = res.headers_mut();
    h.insert(http::header::ETAG, HeaderValue::from_static(etag));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(asset.cache_control()));
    if asset.gzip().is_some() {
        h.insert(http::header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// Turns a panic in a handler into a `500` for that request alone, reported
/// through the engine's error reporter. The claim of an update whose
/// processing panicked is released, so Telegram's retry of it is processed.
async fn catch_panic(State(app): State<App>, req: Request, next: Next) -> Response {
    // The label is computed before the request is consumed (a static str: no allocation per request).
    let route = route_label(req.uri().path());
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        // The payload is not reported: it may quote what someone sent.
        Err(_panic) => {
            app.engine.report(ErrorReport::panic_in_request(route, "server")).await;
            app.engine.release_orphaned_claims().await;
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the team has been notified")
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_at_most_one_byte_over_the_limit() {
        let body = Body::from(vec![b'x'; 100]);
        assert_eq!(read_limited(body, 10).await.unwrap().len(), 11);
        let body = Body::from(vec![b'x'; 10]);
        assert_eq!(read_limited(body, 10).await.unwrap().len(), 10);
        let chunks = futures::stream::iter((0..5).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"abcd"))));
        assert_eq!(read_limited(Body::from_stream(chunks), 9).await.unwrap(), Bytes::from_static(b"abcdabcdab"));
    }
}
