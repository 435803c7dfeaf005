//! The webhook pipeline: from an HTTP request sent by Telegram to a response
//! (which may carry the first Bot API call) plus deferred work. See
//! [`Engine::handle_webhook`](crate::Engine::handle_webhook), [`Engine::process_update`](crate::Engine::process_update) and [`webhook_secret`].

use crate::config::{Config, Secret};
use crate::context::{Outbox, Task};

use crate::domain::BotKind;
use crate::telegram::Update;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The largest request body accepted, in bytes (1 MiB). Real updates are a
/// few kilobytes; anything larger is refused with `413` before parsing.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The header in which Telegram echoes the `secret_token` given to `setWebhook`.
pub const SECRET_TOKEN_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The message authenticated by a derived webhook secret, before the bot name.
const DERIVATION_PREFIX: &str = "loyalty-rs webhook secret v1:";

/// The `secret_token` for `bot`'s webhook, or `None` when the bot has no token.
///
/// When `WEBHOOK_SECRET` ([`Config::webhook_secret`]) is set, every bot uses
/// it. Otherwise each bot's secret is derived from its own token, so that no
/// extra variable is needed and the bots' secrets differ:
///
/// ```text
/// secret = lower-case hex( HMAC-SHA256( key = token bytes,
///                                       message = "loyalty-rs webhook secret v1:" + bot ) )
/// ```
///
/// where `token` is the bot's token exactly as configured (surrounding
/// whitespace trimmed) and `bot` is [`BotKind::as_str`]: `client`, `partner`
/// or `admin`. The result is 64 characters of `0-9a-f`, within the character
/// set (`A-Z`, `a-z`, `0-9`, `_`, `-`) and length (1–256) Telegram allows.
/// The same function supplies `secret_token` to `setWebhook`, so both sides
/// always agree; rotating a bot's token rotates its secret, and `setWebhook`
/// has to be called again anyway after a token change.
///
/// An operator can reproduce it, e.g. to call `setWebhook` by hand:
///
/// ```sh
/// printf '%s' 'loyalty-rs webhook secret v1:client' \
///   | openssl dgst -sha256 -hmac "$TOKEN_CLIENT" | awk '{print $NF}'
/// ```
///
/// ```
/// use loyalty_core::{Config, Secret, domain::BotKind, webhook::webhook_secret};
///
/// let config = Config { token_client: Some(Secret::new("123456:ABC-DEF")), ..Config::default() };
/// let secret = webhook_secret(&config, BotKind::Client).unwrap();
/// assert_eq!(secret.expose(), "94781fcaf5fc773aab912f3869e464c2229190371b6f011f7de00d5345b9fd0c");
/// assert!(webhook_secret(&config, BotKind::Partner).is_none());
/// ```
pub fn webhook_secret(config: &Config, bot: BotKind) -> Option<Secret> {
    let token = config.token(bot)?;
    if let Some(shared) = &config.webhook_secret {
        return Some(shared.clone());
    }
    // HMAC accepts keys of any length, so this never fails; `?` keeps it panic-free.
    let mut mac = Hmac::<Sha256>::new_from_slice(token.expose().as_bytes()).ok()?;
    mac.update(DERIVATION_PREFIX.as_bytes());
    mac.update(bot.as_str().as_bytes());
    Some(Secret::new(hex::encode(mac.finalize().into_bytes())))
}

/// What [`Engine::handle_webhook`](crate::Engine::handle_webhook) produced: the HTTP response to return to
/// Telegram now, and work to run after it has been sent.
///
/// On Tokio an adapter spawns each deferred task; on Workers it passes them to
/// `ctx.wait_until`. Each is run with [`Engine::run_task`](crate::Engine::run_task), in order: the
/// response's call (if any) is the first of the update's calls, and the
/// deferred ones follow it.
#[derive(Debug)]
pub struct WebhookResponse {
    /// The response for Telegram. Its body is empty, a Bot API call (the
    /// method plus its parameters, `application/json`) or a small JSON error.
    pub response: Response<Bytes>,
    /// Work to run after the response: the update's remaining calls and tasks.
    pub deferred: Vec<Task>,
}

impl WebhookResponse {
    pub(crate) fn now(response: Response<Bytes>) -> WebhookResponse {
        WebhookResponse { response, deferred: Vec::new() }
    }
}

/// A webhook request refused before processing: the response, and what to
/// report (only where the body could not be read as an update).
pub(crate) struct Refusal {
    pub(crate) response: Response<Bytes>,
    pub(crate) report: Option<String>,
}

impl Refusal {
    fn new(status: StatusCode, code: &str, message: &str) -> Box<Refusal> {
        Box::new(Refusal { response: error_response(status, code, message), report: None })
    }
}

/// Steps 1–5 of [`Engine::handle_webhook`](crate::engine::Engine::handle_webhook):
/// the method, the bot, the secret, the size and the body, in that order.
pub(crate) fn read_update(config: &Config, bot: BotKind, req: &Request<Bytes>) -> Result<Update, Box<Refusal>> {
    if req.method() != Method::POST {
        let mut refusal =
            Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Telegram webhooks use POST");
        refusal.response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
        return Err(refusal);
    }
    let expected = match webhook_secret(config, bot) {
        Some(secret) if BotKind::WEBHOOK_BOTS.contains(&bot) && config.bot_token(bot).is_ok() => secret,
        _ => return Err(Refusal::new(StatusCode::NOT_FOUND, "unknown_bot", "this bot is not configured here")),
    };
    let given = req.headers().get(SECRET_TOKEN_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
    if !bool::from(given.ct_eq(expected.expose().as_bytes())) {
        let message = "missing or wrong X-Telegram-Bot-Api-Secret-Token";
        return Err(Refusal::new(StatusCode::UNAUTHORIZED, "unauthorized", message));
    }
    match too_large(req) {
        Ok(false) => {}
        Ok(true) => {
            return Err(Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body exceeds 1 MiB"));
        }
        Err(()) => {
            let message = "Content-Length is not a number";
            return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_content_length", message));
        }
    }
    serde_json::from_slice(req.body()).map_err(|e| {
        let (code, message) = match e.classify() {
            serde_json::error::Category::Data => ("not_an_update", "the body is JSON but not a Telegram Update"),
            _ => ("invalid_json", "the body is not valid UTF-8 JSON"),
        };
        let mut refusal = Refusal::new(StatusCode::BAD_REQUEST, code, message);
        // The position only: serde's message may quote the body.
        refusal.report = Some(format!("unreadable update ({code}) at line {}, column {}", e.line(), e.column()));
        refusal
    })
}

/// Step 6's answer: `200` with the first call in the body (the rest
/// deferred) for a processed update, an empty `200` for a duplicate or a
/// permanent failure, `503` for a temporary failure.
pub(crate) fn answer(bot: BotKind, processed: crate::error::Result<Option<Outbox>>) -> WebhookResponse {
    match processed {
        Ok(None) => WebhookResponse::now(response(StatusCode::OK, None)),
        Ok(Some(outbox)) => {
            let (first, deferred) = outbox.split_for_webhook(bot);
            let body = first.and_then(|call| serde_json::to_vec(&call.to_webhook_body()).ok());
            WebhookResponse { response: response(StatusCode::OK, body), deferred }
        }
        Err(e) if e.is_temporary() => WebhookResponse::now(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "a temporary failure; Telegram will deliver the update again",
        )),
        Err(_) => WebhookResponse::now(response(StatusCode::OK, None)),
    }
}

/// A response with `status` and a JSON body (or an empty one).
fn response(status: StatusCode, json: Option<Vec<u8>>) -> Response<Bytes> {
    let body = json.map(Bytes::from).unwrap_or_default();
    let has_body = !body.is_empty();
    let mut res = Response::new(body);
    *res.status_mut() = status;
    if has_body {
        res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    res
}

/// A refusal with `{"error":{"code":…,"message":…}}`.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Bytes> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    response(status, serde_json::to_vec(&body).ok())
}

/// The error-report context for `bot`'s webhook.
pub(crate) fn report_context(bot: BotKind) -> &'static str {
    match bot {
        BotKind::Client => "webhook.client",
        BotKind::Partner => "webhook.partner",
        BotKind::Admin => "webhook.admin",
        BotKind::Alerts => "webhook.alerts",
    }
}

/// Whether the request declares, or has, a body larger than [`MAX_BODY_BYTES`].
/// A `Content-Length` that is not a decimal number is `Err`.
fn too_large(req: &Request<Bytes>) -> std::result::Result<bool, ()> {
    if let Some(v) = req.headers().get(CONTENT_LENGTH) {
        let declared = v.to_str().map_err(|_| ())?.trim();
        if declared.is_empty() || !declared.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        // Too many digits for a u64 is certainly too large.
        if declared.parse::<u64>().map_or(true, |n| n > MAX_BODY_BYTES as u64) {
            return Ok(true);
        }
    }
    Ok(req.body().len() > MAX_BODY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_secret_wins_but_only_for_configured_bots() {
        let config = Config {
            token_client: Some(Secret::new("1:abc")),
            token_partner: Some(Secret::new("2:def")),
            ..Config::default()
        };
        let client = webhook_secret(&config, BotKind::Client).unwrap();
        let partner = webhook_secret(&config, BotKind::Partner).unwrap();
        assert_ne!(client, partner, "derived secrets differ per bot");
        for s in [&client, &partner] {
            assert_eq!(s.expose().len(), 64);
            assert!(s.expose().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
        let shared = Config { webhook_secret: Some(Secret::new("hook")), ..config };
        assert_eq!(webhook_secret(&shared, BotKind::Client).unwrap().expose(), "hook");
        assert_eq!(webhook_secret(&shared, BotKind::Partner).unwrap().expose(), "hook");
        assert_eq!(webhook_secret(&shared, BotKind::Admin), None);
    }

    #[test]
    fn content_length_checks() {
        let req = |len: Option<&str>, body: usize| {
            let mut r = Request::new(Bytes::from(vec![b' '; body]));
            if let Some(l) = len {
                r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from_str(l).unwrap());
            }
            r
        };
        assert_eq!(too_large(&req(None, 10)), Ok(false));
        assert_eq!(too_large(&req(Some("10"), 10)), Ok(false));
        assert_eq!(too_large(&req(Some("99999999999999999999999"), 10)), Ok(true));
        assert_eq!(too_large(&req(Some("ten"), 10)), Err(()));
        assert_eq!(too_large(&req(Some("1048577"), 10)), Ok(true));
        assert_eq!(too_large(&req(Some("-1"), 10)), Err(()));
        assert_eq!(too_large(&req(None, MAX_BODY_BYTES)), Ok(false));
        assert_eq!(too_large(&req(None, MAX_BODY_BYTES + 1)), Ok(true));
    }
}
