//! Converting between the Workers request/response objects and the `http`
//! types the core takes, and `POST` with a timeout.
//!
//! Each crossing of the wasm↔JavaScript boundary costs CPU on every update
//! (wasm-bindgen's glue, and objects the runtime builds), so the hot path
//! crosses it once per step: [`read_request`] reads a request's method, path,
//! headers and body in one call, [`respond`] builds a response in one,
//! [`post`] sends a request and reads its answer in one (with the runtime's
//! `AbortSignal.timeout`). The JavaScript half is `js/boundary.mjs`.

use bytes::Bytes;
use std::time::Duration;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::web_sys;

#[wasm_bindgen(module = "/js/boundary.mjs")]
extern "C" {
    /// `{ head, body }` of a request read by `readRequest`.
    type Incoming;
    #[wasm_bindgen(method, getter)]
    fn head(this: &Incoming) -> String;
    #[wasm_bindgen(method, getter)]
    fn body(this: &Incoming) -> Option<Vec<u8>>;
    #[wasm_bindgen(catch, js_name = "readRequest")]
    async fn read_request_js(request: &web_sys::Request, limit: f64) -> Result<Incoming, JsValue>;

    #[wasm_bindgen(js_name = "respond")]
    fn respond_js(status: u16, head: &str, body: &[u8]) -> web_sys::Response;

    /// `{ status, body, retryAfter }` of an answer received by `post`.
    type Answer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Answer) -> u16;
    #[wasm_bindgen(method, getter)]
    fn body(this: &Answer) -> Option<Vec<u8>>;
    #[wasm_bindgen(method, getter, js_name = "retryAfter")]
    fn retry_after(this: &Answer) -> Option<String>;
    #[wasm_bindgen(catch, js_name = "post")]
    async fn post_js(
        url: &str,
        head: &str,
        body: &[u8],
        form: &JsValue,
        timeout_ms: f64,
        flags: u32,
    ) -> Result<Answer, JsValue>;
}

/// What [`fetch`](crate::fetch) takes: the runtime's request, as
/// `#[event(fetch)]` hands it over — `web_sys::Request` (nothing is read from
/// it before loyalty-edge does, the cheapest) or `worker::Request`.
pub trait IncomingRequest {
    /// The JavaScript `Request`.
    fn into_js(self) -> web_sys::Request;
}

impl IncomingRequest for web_sys::Request {
    fn into_js(self) -> web_sys::Request {
        self
    }
}

impl IncomingRequest for worker::Request {
    fn into_js(self) -> web_sys::Request {
        // The object itself (`Request::clone` of JavaScript would tee its body).
        Clone::clone(self.inner())
    }
}

/// `{"error":{"code":…,"message":…}}` with `status`, as every route answers errors.
pub fn json_error(status: u16, code: &str, message: &str) -> web_sys::Response {
    json(status, &serde_json::json!({ "error": { "code": code, "message": message } }))
}

/// A JSON response that is never cached.
pub fn json(status: u16, body: &serde_json::Value) -> web_sys::Response {
    let body = serde_json::to_vec(body).unwrap_or_default();
    respond_js(status, "content-type\napplication/json\ncache-control\nno-store", &body)
}

/// The request as the core takes it, read in one call, with at most
/// `limit + 1` bytes of body (a body declared larger than `limit` is not read
/// at all; the core sees the `Content-Length` and answers `413`).
///
/// # Errors
/// The body could not be read, or the method, path or a header is not one
/// `http` accepts.
pub async fn read_request(req: &web_sys::Request, limit: usize) -> Result<http::Request<Bytes>, String> {
    let incoming = read_request_js(req, limit as f64).await.map_err(|e| js_message(&e))?;
    let head = incoming.head();
    let mut parts = head.split('\n');
    let method = parts.next().unwrap_or("GET");
    let path = parts.next().unwrap_or("/");
    let mut builder = http::Request::builder().method(method).uri(path);
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        builder = builder.header(name, value);
    }
    let body = incoming.body().map(Bytes::from).unwrap_or_default();
    builder.body(body).map_err(|e| format!("unusable request: {e}"))
}

/// The core's response as a Workers response, built in one call.
pub fn respond(res: http::Response<Bytes>) -> web_sys::Response {
    let (parts, body) = res.into_parts();
    let mut head = String::new();
    for (name, value) in &parts.headers {
        // `to_str` refuses the bytes a JavaScript `Headers` would refuse as well.
        if let Ok(value) = value.to_str() {
            push_header(&mut head, name.as_str(), value);
        }
    }
    respond_js(parts.status.as_u16(), &head, &body)
}

/// Appends a header pair to `head`, the form `js/boundary.mjs` reads:
/// "name\nvalue\nname\nvalue…" (HTTP allows no line break in either).
fn push_header(head: &mut String, name: &str, value: &str) {
    if !head.is_empty() {
        head.push('\n');
    }
    head.push_str(name);
    head.push('\n');
    head.push_str(value);
}

/// The body of a [`post`].
#[derive(Debug, Clone, Copy)]
pub enum PostBody<'a> {
    /// Bytes, sent as they are.
    Bytes(&'a [u8]),
    /// A `FormData` (the runtime sets its `multipart/form-data` content type).
    Form(&'a web_sys::FormData),
}

/// What [`post`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The status code.
    pub status: u16,
    /// The body (empty when it was not read).
    pub body: Vec<u8>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

/// How [`post`] treats the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostOptions {
    /// Answer a redirect as it is instead of following it.
    pub manual_redirect: bool,
    /// Let the answer's body go unread (only the status and `Retry-After` matter).
    pub skip_body: bool,
}

/// `POST`s `body` to `url` with `headers`, giving up (and aborting the
/// request) after `timeout`, the answer's body included: one call across the
/// wasm boundary for the request and its answer.
///
/// # Errors
/// A readable description: the network error, or that the time ran out
/// (`timed out after … ms`).
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: PostBody<'_>,
    timeout: Duration,
    options: PostOptions,
) -> Result<Received, String> {
    let mut head = String::new();
    for (name, value) in headers {
        if name.contains('\n') || value.contains('\n') {
            return Err(format!("header {name}: a line break is not allowed"));
        }
        push_header(&mut head, name, value);
    }
    let (bytes, form): (&[u8], JsValue) = match body {
        PostBody::Bytes(bytes) => (bytes, JsValue::UNDEFINED),
        PostBody::Form(form) => (&[], form.into()),
    };
    let flags = u32::from(options.manual_redirect) | (u32::from(options.skip_body) << 1);
    let answer = post_js(url, &head, bytes, &form, timeout.as_millis() as f64, flags)
        .await
        .map_err(|e| js_message(&e))?;
    Ok(Received { status: answer.status(), body: answer.body().unwrap_or_default(), retry_after: answer.retry_after() })
}

/// A JavaScript exception as text: an `Error`'s message, else its string form.
pub fn js_message(e: &JsValue) -> String {
    if let Some(error) = e.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// A worker error as text (a JS error's message rather than its debug form).
pub fn js_error(e: &worker::Error) -> String {
    match e {
        worker::Error::JsError(s) | worker::Error::RustError(s) => s.clone(),
        other => other.to_string(),
    }
}
