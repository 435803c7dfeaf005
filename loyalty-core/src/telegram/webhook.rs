//! The webhook pipeline: from an HTTP request sent by Telegram to a response
//! (which may carry the first Bot API call) plus deferred work. See
//! [`Engine::handle_webhook`], [`Engine::process_update`] and [`webhook_secret`].

use crate::config::{Config, Secret};
use crate::engine::{Engine, Outbox, Task};
use crate::error::Result;
use crate::ports::{BotKind, ErrorReport, FoldState, UpdateClaim};
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
/// use loyalty_core::{Config, Secret, ports::BotKind, telegram::webhook_secret};
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

/// What [`Engine::handle_webhook`] produced: the HTTP response to return to
/// Telegram now, and work to run after it has been sent.
///
/// On Tokio an adapter spawns each deferred task; on Workers it passes them to
/// `ctx.wait_until`. Each is run with [`Engine::run_task`], in order: the
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
    fn now(response: Response<Bytes>) -> WebhookResponse {
        WebhookResponse { response, deferred: Vec::new() }
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
fn context(bot: BotKind) -> &'static str {
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

impl Engine {
    /// Handles one webhook request for `bot`. The adapter routes
    /// `POST /webhook/<bot>` here with the body read, at most
    /// [`MAX_BODY_BYTES`] of it plus one byte when the body is larger.
    ///
    /// The steps, in order, each with the status it answers when it stops the
    /// request:
    ///
    /// | step | check                                                         | status |
    /// |------|---------------------------------------------------------------|--------|
    /// | 1    | method is `POST`                                              | 405 (with `Allow: POST`) |
    /// | 2    | `bot` is the client, partner or admin bot and is configured   | 404    |
    /// | 3    | `X-Telegram-Bot-Api-Secret-Token` equals [`webhook_secret`] (constant-time) | 401 |
    /// | 4    | declared (`Content-Length`) and actual body ≤ [`MAX_BODY_BYTES`] | 413 |
    /// | 5    | the body is a JSON [`Update`]                                 | 400    |
    /// | 6    | [`Engine::process_update`]: de-duplicate, then handle         | 200 / 503 |
    ///
    /// Refusals carry a small JSON body `{"error":{"code":"…","message":"…"}}`
    /// so that someone poking the endpoint with `curl` sees why. A body that
    /// is not an update is also reported to the [`ErrorReporter`] (only where
    /// parsing failed, never the body): past the secret check only Telegram or
    /// the operator can send one, so it means our types miss something.
    ///
    /// A processed update, a duplicate and an update the bots ignore are all
    /// answered `200`. When the update produced calls, the first one rides in
    /// the body (`application/json`, the method plus its parameters) if
    /// Telegram allows it there (see [`Outbox::split_for_webhook`]); the rest
    /// are returned as [`WebhookResponse::deferred`]. Otherwise the body is
    /// empty. A temporary failure ([`crate::Error::is_temporary`]) is reported
    /// and answered `503`, with the update's claim released, so Telegram's next
    /// delivery is processed afresh; a permanent failure is reported and
    /// answered `200` (a retry would fail the same way).
    ///
    /// Never panics, whatever the request.
    ///
    /// [`ErrorReporter`]: crate::ports::ErrorReporter
    pub async fn handle_webhook(&self, bot: BotKind, req: Request<Bytes>) -> WebhookResponse {
        if req.method() != Method::POST {
            let mut res =
                error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Telegram webhooks use POST");
            res.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
            return WebhookResponse::now(res);
        }
        let expected = match webhook_secret(self.config(), bot) {
            Some(secret) if BotKind::WEBHOOK_BOTS.contains(&bot) && self.config().bot_token(bot).is_ok() => secret,
            _ => {
                return WebhookResponse::now(error_response(
                    StatusCode::NOT_FOUND,
                    "unknown_bot",
                    "this bot is not configured here",
                ));
            }
        };
        let given = req.headers().get(SECRET_TOKEN_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
        if !bool::from(given.ct_eq(expected.expose().as_bytes())) {
            return WebhookResponse::now(error_response(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong X-Telegram-Bot-Api-Secret-Token",
            ));
        }
        match too_large(&req) {
            Ok(false) => {}
            Ok(true) => {
                return WebhookResponse::now(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body exceeds 1 MiB",
                ));
            }
            Err(()) => {
                return WebhookResponse::now(error_response(
                    StatusCode::BAD_REQUEST,
                    "bad_content_length",
                    "Content-Length is not a number",
                ));
            }
        }
        let update: Update = match serde_json::from_slice(req.body()) {
            Ok(u) => u,
            Err(e) => {
                let (code, message) = match e.classify() {
                    serde_json::error::Category::Data => {
                        ("not_an_update", "the body is JSON but not a Telegram Update")
                    }
                    _ => ("invalid_json", "the body is not valid UTF-8 JSON"),
                };
                // The position only: serde's message may quote the body.
                self.report(ErrorReport {
                    message: format!("unreadable update ({code}) at line {}, column {}", e.line(), e.column()),
                    context: context(bot),
                    update_kind: None,
                    temporary: false,
                })
                .await;
                return WebhookResponse::now(error_response(StatusCode::BAD_REQUEST, code, message));
            }
        };
        match self.process_update(bot, &update).await {
            Ok(None) => WebhookResponse::now(response(StatusCode::OK, None)),
            Ok(Some(outbox)) => {
                let (first, deferred) = outbox.split_for_webhook(bot);
                let body = first.and_then(|call| serde_json::to_vec(&call.to_webhook_body()).ok());
                WebhookResponse { response: response(StatusCode::OK, body), deferred }
            }
            Err(e) => {
                let temporary = e.is_temporary();
                self.report(ErrorReport {
                    message: format!("update {} failed: {e}", update.update_id),
                    context: context(bot),
                    update_kind: Some(update.kind_name()),
                    temporary,
                })
                .await;
                if temporary {
                    WebhookResponse::now(error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "a temporary failure; Telegram will deliver the update again",
                    ))
                } else {
                    WebhookResponse::now(response(StatusCode::OK, None))
                }
            }
        }
    }

    /// Processes one update exactly once as far as its effects go: the entry
    /// point for webhooks ([`Engine::handle_webhook`]) and long polling alike.
    ///
    /// 1. The update is claimed: `(bot, update_id)` is recorded. If it was
    ///    already claimed this is a duplicate delivery (a retry after a lost
    ///    response, a concurrent redelivery, or a poller overlapping a webhook)
    ///    and the result is `Ok(None)`: nothing happens, nothing is sent.
    ///    Where the store can ([`Storage::fold_claim`]: the RPC stores), the
    ///    claim rides with the processing's first storage call — one round
    ///    trip for both, the call applying nothing for a duplicate; an update
    ///    that makes no storage call is claimed after its processing, before
    ///    anything is sent. Otherwise [`Storage::claim_update`] comes first.
    /// 2. [`Engine::handle_update`] runs the bot and returns its [`Outbox`].
    /// 3. If it fails temporarily (storage unreachable, …) the claim is
    ///    released (best effort; a failed release is reported) and the error
    ///    returned, so that Telegram — which redelivers an update until a
    ///    webhook answers 2xx, and which long polling re-fetches until its
    ///    offset moves past it — delivers it again and the retry is processed.
    ///    A permanent failure keeps the claim: retrying would not help.
    /// 4. If the processing dies half-way — a panic, or the future dropped —
    ///    the claim is released too ([`Engine::release_orphaned_claims`] where
    ///    panics unwind, a [`ClaimHook`](crate::engine::ClaimHook) where they
    ///    abort), so that Telegram's retry is processed rather than dropped.
    ///
    /// A failure to claim is returned as it is (temporary ones make Telegram
    /// retry; nothing was done).
    ///
    /// # Delivery guarantees
    ///
    /// Telegram delivers at least once. The claim turns that into *at most
    /// once* for handling: of two deliveries, even concurrent ones, only the
    /// one whose claim succeeds runs the bot. Releasing the claim after a
    /// temporary failure brings back *at least once* for updates whose handling
    /// broke half-way — which is safe for points because every ledger write
    /// carries an idempotency key derived from the bot and the update id, so a
    /// retried credit or redemption returns the
    /// first result (`replayed = true`) instead of moving points twice. What can
    /// repeat after such a retry is only a message (a confirmation sent twice),
    /// never a ledger effect. Outgoing calls are sent after processing
    /// succeeded; a call that fails later is reported, not retried by Telegram.
    ///
    /// [`Storage::claim_update`]: crate::ports::Storage::claim_update
    /// [`Storage::fold_claim`]: crate::ports::Storage::fold_claim
    pub async fn process_update(&self, bot: BotKind, update: &Update) -> Result<Option<Outbox>> {
        self.release_orphaned_claims().await;
        let storage = self.base_storage();
        let claim = UpdateClaim { bot, update_id: update.update_id, now: self.now() };
        let Some(folded) = self.ports().storage.clone().fold_claim(claim) else {
            // The backend cannot fold the claim into a call: claim first.
            if !storage.claim_update(bot, update.update_id, claim.now).await? {
                return Ok(None);
            }
            let guard = self.guard_claim(bot, update.update_id);
            let handled = self.handle_update(bot, update).await;
            guard.settle();
            return self.settle_claimed(bot, update, handled).await;
        };
        // The first storage call of the processing claims the update in the same round trip.
        let guard = self.guard_claim(bot, update.update_id);
        let handled = self.scoped(folded.storage.clone()).handle_update(bot, update).await;
        guard.settle();
        match folded.state() {
            FoldState::Duplicate => Ok(None),
            FoldState::Claimed => self.settle_claimed(bot, update, handled).await,
            // No call claimed it (the update needed no storage, or its calls failed).
            FoldState::Pending => match handled {
                Ok(outbox) => Ok(storage.claim_update(bot, update.update_id, claim.now).await?.then_some(outbox)),
                Err(e) => Err(e),
            },
        }
    }

    /// The end of a claimed update's processing: its outbox, or the error
    /// after releasing the claim when the failure was temporary.
    async fn settle_claimed(&self, bot: BotKind, update: &Update, handled: Result<Outbox>) -> Result<Option<Outbox>> {
        match handled {
            Ok(outbox) => Ok(Some(outbox)),
            Err(e) => {
                if e.is_temporary()
                    && let Err(release) = self.base_storage().release_update(bot, update.update_id).await
                {
                    self.report(ErrorReport {
                        message: format!("could not release update {} after a failure: {release}", update.update_id),
                        context: context(bot),
                        update_kind: Some(update.kind_name()),
                        temporary: release.is_temporary(),
                    })
                    .await;
                }
                Err(e)
            }
        }
    }
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
