//! Converting between the Workers request/response types and the `http`
//! types the core takes, and `fetch` with a timeout.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::future::{Either, select};
use loyalty_core::body::{declared_too_large, push_limited};
use std::time::Duration;

/// `{"error":{"code":…,"message":…}}` with `status`, as every route answers errors.
pub fn json_error(status: u16, code: &str, message: &str) -> worker::Result<worker::Response> {
    json(status, &serde_json::json!({ "error": { "code": code, "message": message } }))
}

/// A JSON response that is never cached.
pub fn json(status: u16, body: &serde_json::Value) -> worker::Result<worker::Response> {
    let headers = worker::Headers::new();
    headers.set("Content-Type", "application/json")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(worker::Response::from_bytes(serde_json::to_vec(body).unwrap_or_default())?
        .with_status(status)
        .with_headers(headers))
}

/// The request as the core takes it, with at most `limit + 1` bytes of body
/// (a body declared larger than `limit` is not read at all; the core sees the
/// `Content-Length` and answers `413`).
pub async fn to_http(req: &mut worker::Request, limit: usize) -> worker::Result<http::Request<Bytes>> {
    let url = req.url()?;
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    let mut builder = http::Request::builder().method(req.method().as_ref()).uri(path);
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    let content_length = req.headers().get("Content-Length")?;
    let stream = if declared_too_large(content_length.as_deref(), limit) { None } else { req.stream().ok() };
    let body = match stream {
        // No body (GET), or one too large to read.
        None => Bytes::new(),
        Some(mut stream) => {
            let mut buf = BytesMut::new();
            while let Some(chunk) = stream.next().await {
                if push_limited(&mut buf, &chunk?, limit) {
                    break;
                }
            }
            buf.freeze()
        }
    };
    builder.body(body).map_err(|e| worker::Error::RustError(format!("unusable request: {e}")))
}

/// The core's response as a Workers response.
pub fn from_http(res: http::Response<Bytes>) -> worker::Result<worker::Response> {
    let (parts, body) = res.into_parts();
    let headers = worker::Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    let response =
        if body.is_empty() { worker::Response::empty()? } else { worker::Response::from_bytes(body.to_vec())? };
    Ok(response.with_status(parts.status.as_u16()).with_headers(headers))
}

/// `fetch` that gives up (and aborts the request) after `timeout`.
///
/// # Errors
/// A readable description: the network error, or that the time ran out.
pub async fn fetch_with_timeout(request: worker::Request, timeout: Duration) -> Result<worker::Response, String> {
    let controller = worker::AbortController::default();
    let signal = controller.signal();
    let fetch = worker::Fetch::Request(request);
    let send = Box::pin(fetch.send_with_signal(&signal));
    let delay = Box::pin(worker::Delay::from(timeout));
    match select(send, delay).await {
        Either::Left((result, _)) => result.map_err(|e| js_error(&e)),
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("timed out after {} ms", timeout.as_millis()))
        }
    }
}

/// A worker error as text (a JS error's message rather than its debug form).
pub fn js_error(e: &worker::Error) -> String {
    match e {
        worker::Error::JsError(s) | worker::Error::RustError(s) => s.clone(),
        other => other.to_string(),
    }
}
