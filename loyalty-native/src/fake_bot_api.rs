//! A local Bot API server for tests and `loyalty simulate`.
//!
//! [`FakeBotApi`] listens on `127.0.0.1` (an ephemeral port) and speaks
//! Telegram's HTTP protocol: `GET` or `POST /bot<token>/<method>` with
//! parameters in the query string, a JSON body, an
//! `application/x-www-form-urlencoded` body or a `multipart/form-data` body
//! (with files), answered with Telegram's envelopes `{"ok":true,"result":…}`
//! and `{"ok":false,"error_code":…,"description":…,"parameters":{…}}`.
//! Point a client at it by using [`FakeBotApi::url`] as `TELEGRAM_API_URL`.
//!
//! It records every call ([`RecordedCall`]) and implements the methods our
//! bots use with Telegram's semantics:
//!
//! | Method | Answer |
//! |---|---|
//! | `getMe` | a bot user whose `id` is the token's numeric prefix and whose `username` is `test<id>_bot` (or [`FakeBotApi::set_username`]) |
//! | `sendMessage`, `sendPhoto`, `sendDocument`, `copyMessage`, `forwardMessage` | a `Message` in the given chat with an increasing `message_id` |
//! | `editMessageText`, `editMessageCaption`, `editMessageReplyMarkup` | the edited `Message` (or `true` for inline messages) |
//! | `answerCallbackQuery`, `deleteMessage`, `setMyCommands`, … | `true` |
//! | `setWebhook`, `deleteWebhook`, `getWebhookInfo` | per-token webhook state, see [`FakeBotApi::webhook`] |
//! | `setChatMenuButton`, `getChatMenuButton` | per-token menu buttons, for all chats and per chat, see [`FakeBotApi::menu_button`] |
//! | `getUpdates` | the token's queued updates ([`FakeBotApi::push_update`]), honouring `offset`, `limit`, `timeout` (long poll) and `allowed_updates` |
//!
//! Errors are Telegram's: a malformed or revoked token gets `401 Unauthorized`,
//! an unknown method `404 Not Found`, missing required parameters
//! `400 Bad Request: …`, a `web_app` button (inline or menu) whose URL is not
//! `https://` `400 Bad Request: … Web App URL '…' is invalid: Only HTTPS links
//! are allowed`, `getUpdates` while a webhook is set `409 Conflict: …`,
//! and a `getUpdates` overtaken by a newer one for the same token
//! `409 Conflict: terminated by other getUpdates request…`. More failures can be
//! injected with [`FakeBotApi::fail_next`] and [`FakeBotApi::fail_method`].
//!
//! Updates reach a bot either through `getUpdates` or, once a webhook is set,
//! through [`FakeBotApi::deliver_webhook`], which POSTs them to the webhook
//! like Telegram does and executes a Bot API call found in the webhook's
//! response body. [`FakeBotApi::wait_for`] waits for calls made in the
//! background.
//!
//! Every request is processed to completion even if the client gives up
//! waiting (as on the real server, a message may be sent although the client
//! timed out). The server stops when the [`FakeBotApi`] is dropped.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use loyalty_native::fake_bot_api::FakeBotApi;
//!
//! let api = FakeBotApi::start().await;
//! api.push_update("123:abc", serde_json::json!({
//!     "message": {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"}, "text": "/start"}
//! }));
//! let url = format!("{}/bot123:abc/getUpdates", api.url());
//! // … a client reads `url` …
//! # let _ = url;
//! assert_eq!(api.webhook("123:abc"), None);
//! # }
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// The largest request body accepted (Telegram allows 50 MB uploads).
const MAX_BODY_BYTES: usize = 64 << 20;

/// The longest `getUpdates` long poll, in seconds (Telegram's own cap is 50).
const MAX_POLL_TIMEOUT: u64 = 50;

/// One request received by the fake server.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The bot token from the URL.
    pub token: String,
    /// The method name from the URL, as sent (e.g. `sendMessage`).
    pub method: String,
    /// The parameters: query string and body merged. Values sent as text
    /// (query, form or multipart fields) are parsed as JSON where they are
    /// JSON (`42`, `true`, `{"inline_keyboard":…}`), except for fields that are
    /// always strings in the Bot API (`text`, `caption`, `url`, …).
    pub params: Map<String, Value>,
    /// Uploaded files: `(field, file name, contents)`.
    pub files: Vec<(String, String, Vec<u8>)>,
    /// The HTTP status the server answered with (200 on success).
    pub status: u16,
    /// Whether the call came in a webhook response body (see
    /// [`FakeBotApi::deliver_webhook`]) rather than as a request.
    pub via_webhook_reply: bool,
}

impl RecordedCall {
    /// The `chat_id` parameter as a number, if it is one.
    pub fn chat_id(&self) -> Option<i64> {
        self.params.get("chat_id").and_then(Value::as_i64)
    }

    /// The `text` (or `caption`) parameter, if any.
    pub fn text(&self) -> Option<&str> {
        self.params.get("text").or_else(|| self.params.get("caption")).and_then(Value::as_str)
    }

    /// Whether the server answered `ok: true`.
    pub fn succeeded(&self) -> bool {
        self.status == 200
    }
}

/// A failure to inject with [`FakeBotApi::fail_next`] or [`FakeBotApi::fail_method`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// `429 Too Many Requests: retry after N` with `parameters.retry_after = N`.
    RetryAfter(u32),
    /// Any status with an `ok: false` envelope, e.g. `Status(403, "Forbidden: bot was blocked by the user")`.
    Status(u16, String),
    /// Answer normally, but only after this delay.
    Delay(Duration),
}

/// A token's webhook as set with `setWebhook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeWebhook {
    /// The webhook URL.
    pub url: String,
    /// The `secret_token`, if one was given.
    pub secret_token: Option<String>,
    /// The `allowed_updates` given with it (`None` when not given).
    pub allowed_updates: Option<Vec<String>>,
    /// `max_connections` (40 when not given).
    pub max_connections: u32,
    /// Unix time and text of the last failed delivery, as `getWebhookInfo` reports them.
    pub last_error: Option<(i64, String)>,
}

/// What happened to one update in [`FakeBotApi::deliver_webhook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The update.
    pub update_id: i64,
    /// The webhook's HTTP status, or `None` when it could not be reached.
    pub status: Option<u16>,
    /// The Bot API method the webhook answered with, if any (it was executed).
    pub reply_method: Option<String>,
}

/// Per-token state.
#[derive(Debug)]
struct BotState {
    username: String,
    webhook: Option<FakeWebhook>,
    /// The last `allowed_updates` setting (shared by webhooks and `getUpdates`, as on Telegram).
    allowed_updates: Option<Vec<String>>,
    /// Updates not yet confirmed.
    queue: VecDeque<Value>,
    next_update_id: i64,
    /// Incremented by each `getUpdates`; a waiting poll that sees a newer one gives up with 409.
    poll_generation: u64,
    blocked_chats: HashSet<String>,
    /// The menu button of every private chat without a choice of its own
    /// (`None`: never set, Telegram's command list).
    menu_button: Option<Value>,
    /// The menu buttons chosen for single chats.
    chat_menu_buttons: HashMap<String, Value>,
}

impl BotState {
    fn new(token: &str) -> BotState {
        BotState {
            username: format!("test{}_bot", token_id(token).unwrap_or_default()),
            webhook: None,
            allowed_updates: None,
            queue: VecDeque::new(),
            next_update_id: 1,
            poll_generation: 0,
            blocked_chats: HashSet::new(),
            menu_button: None,
            chat_menu_buttons: HashMap::new(),
        }
    }
}

#[derive(Debug)]
struct Injected {
    method: Option<String>,
    failure: Failure,
}

#[derive(Debug, Default)]
struct Inner {
    calls: Vec<RecordedCall>,
    bots: HashMap<String, BotState>,
    revoked: HashSet<String>,
    failures: VecDeque<Injected>,
    next_message_id: i64,
    /// Set when the [`FakeBotApi`] is dropped.
    closed: bool,
}

impl Inner {
    fn bot(&mut self, token: &str) -> &mut BotState {
        self.bots.entry(token.to_string()).or_insert_with(|| BotState::new(token))
    }
}

#[derive(Debug, Default)]
struct Shared {
    inner: Mutex<Inner>,
    /// Woken when updates are pushed, a poll starts or a webhook changes.
    changed: Notify,
    /// Woken when a call is recorded.
    recorded: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock (a bug in a test) must not wedge the server.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake Bot API server. See the [module documentation](self).
#[derive(Debug)]
pub struct FakeBotApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeBotApi {
    /// Starts a server on `127.0.0.1` with an ephemeral port, on the current
    /// Tokio runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound (a broken test environment); use
    /// [`FakeBotApi::bind`] to handle that case.
    pub async fn start() -> FakeBotApi {
        match FakeBotApi::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(api) => api,
            Err(e) => panic!("FakeBotApi: cannot listen on 127.0.0.1: {e}"),
        }
    }

    /// Starts a server listening on `addr` (port 0 picks a free port), on the
    /// current Tokio runtime.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<FakeBotApi> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::any(handle))
            .fallback(|| async { envelope_error(404, "Not Found") })
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("FakeBotApi stopped: {e}");
            }
        });
        Ok(FakeBotApi { addr, shared, shutdown: Some(tx) })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (use it as `TELEGRAM_API_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call received so far, in order of completion.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// Removes and returns the calls received so far.
    pub fn take_calls(&self) -> Vec<RecordedCall> {
        std::mem::take(&mut self.shared.lock().calls)
    }

    /// The calls made with `token`.
    pub fn calls_for(&self, token: &str) -> Vec<RecordedCall> {
        self.shared.lock().calls.iter().filter(|c| c.token == token).cloned().collect()
    }

    /// Queues an update for `token` and returns its `update_id`. When `update`
    /// has no `update_id`, the next one is assigned (ids start at 1 and
    /// increase); an explicit id moves the counter past it. It is then served
    /// by `getUpdates` and counted in `pending_update_count`.
    pub fn push_update(&self, token: &str, update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.lock();
            let bot = inner.bot(token);
            let mut update = match update {
                Value::Object(map) => map,
                other => {
                    let mut map = Map::new();
                    map.insert("payload".into(), other);
                    map
                }
            };
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => id,
                None => bot.next_update_id,
            };
            update.insert("update_id".into(), json!(id));
            bot.next_update_id = bot.next_update_id.max(id.saturating_add(1));
            bot.queue.push_back(Value::Object(update));
            id
        };
        self.shared.changed.notify_waiters();
        id
    }

    /// Waits until `done` holds for the calls recorded so far, or `timeout`
    /// passes; returns whether it held. For calls made in the background
    /// (e.g. deferred after a webhook response).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use loyalty_native::fake_bot_api::FakeBotApi;
    /// # use std::time::Duration;
    /// let api = FakeBotApi::start().await;
    /// // … something sends in the background …
    /// let sent = api.wait_for(Duration::from_millis(10), |calls| calls.iter().any(|c| c.method == "sendMessage")).await;
    /// assert!(!sent);
    /// # }
    /// ```
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[RecordedCall]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let recorded = self.shared.recorded.notified();
            tokio::pin!(recorded);
            recorded.as_mut().enable();
            if done(&self.shared.lock().calls) {
                return true;
            }
            if tokio::time::timeout_at(deadline, recorded).await.is_err() {
                return done(&self.shared.lock().calls);
            }
        }
    }

    /// Delivers `token`'s queued updates to its webhook, as Telegram does:
    /// one `POST` per update, in order, with the JSON update as body and the
    /// `X-Telegram-Bot-Api-Secret-Token` header when a secret was set. A 2xx
    /// answer confirms the update; if its body is a Bot API call (an object
    /// with `"method"`), that call is executed and recorded with
    /// [`RecordedCall::via_webhook_reply`]. Delivery stops at the first
    /// failure (non-2xx or unreachable), which is recorded as the webhook's
    /// last error and leaves the update queued.
    ///
    /// Nothing is delivered when no webhook is set.
    pub async fn deliver_webhook(&self, token: &str) -> Vec<Delivery> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap_or_default();
        let mut deliveries = Vec::new();
        loop {
            let next = {
                let mut inner = self.shared.lock();
                let bot = inner.bot(token);
                match (&bot.webhook, bot.queue.front()) {
                    (Some(hook), Some(update)) => Some((hook.url.clone(), hook.secret_token.clone(), update.clone())),
                    _ => None,
                }
            };
            let Some((url, secret, update)) = next else { return deliveries };
            let update_id = update.get("update_id").and_then(Value::as_i64).unwrap_or_default();
            let mut request = client.post(&url).json(&update);
            if let Some(secret) = secret {
                request = request.header("x-telegram-bot-api-secret-token", secret);
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let body = response.bytes().await.unwrap_or_default();
                    Ok((status, body))
                }
                Err(e) => Err(e.without_url().to_string()),
            };
            let failure = match &outcome {
                Ok((status, _)) if status.is_success() => None,
                Ok((status, _)) => Some(format!("Wrong response from the webhook: {status}")),
                Err(e) => Some(format!("Connection failed: {e}")),
            };
            if let Some(message) = failure {
                if let Some(hook) = self.shared.lock().bot(token).webhook.as_mut() {
                    hook.last_error = Some((unix_now(), message));
                }
                let status = outcome.ok().map(|(s, _)| s.as_u16());
                deliveries.push(Delivery { update_id, status, reply_method: None });
                return deliveries;
            }
            // Confirmed: drop it from the queue (if still there).
            {
                let mut inner = self.shared.lock();
                let queue = &mut inner.bot(token).queue;
                if queue.front().and_then(|u| u.get("update_id")).and_then(Value::as_i64) == Some(update_id) {
                    queue.pop_front();
                }
            }
            let (status, body) = match outcome {
                Ok((status, body)) => (status.as_u16(), body),
                Err(_) => (0, Default::default()),
            };
            let mut reply_method = None;
            if let Ok(Value::Object(mut params)) = serde_json::from_slice::<Value>(&body)
                && let Some(Value::String(method)) = params.remove("method")
            {
                reply_method = Some(method.clone());
                let request = Request { token: token.to_string(), method, params, files: Vec::new() };
                process(self.shared.clone(), request, true).await;
            }
            deliveries.push(Delivery { update_id, status: Some(status), reply_method });
        }
    }

    /// `token`'s webhook, if one is set.
    pub fn webhook(&self, token: &str) -> Option<FakeWebhook> {
        self.shared.lock().bots.get(token).and_then(|b| b.webhook.clone())
    }

    /// The menu button `getChatMenuButton` reports for `token`: with
    /// `chat_id`, the one chosen for that private chat (`{"type":"default"}`
    /// when none was); without, the one of every chat without a choice of its
    /// own (`{"type":"commands"}` until one is set — and a
    /// `{"type":"default"}` for all chats leaves it as it was, as on Telegram).
    pub fn menu_button(&self, token: &str, chat_id: Option<i64>) -> Value {
        let mut inner = self.shared.lock();
        menu_button_of(inner.bot(token), chat_id.map(|c| c.to_string()).as_deref())
    }

    /// The number of updates queued and not yet confirmed for `token`.
    pub fn pending_updates(&self, token: &str) -> usize {
        self.shared.lock().bots.get(token).map_or(0, |b| b.queue.len())
    }

    /// Sets the `username` that `getMe` reports for `token`.
    pub fn set_username(&self, token: &str, username: &str) {
        self.shared.lock().bot(token).username = username.to_string();
    }

    /// Makes `token` unknown: every call with it gets `401 Unauthorized`.
    pub fn revoke(&self, token: &str) {
        self.shared.lock().revoked.insert(token.to_string());
    }

    /// Makes sending to `chat_id` with `token` fail with
    /// `403 Forbidden: bot was blocked by the user`.
    pub fn block_chat(&self, token: &str, chat_id: i64) {
        self.shared.lock().bot(token).blocked_chats.insert(chat_id.to_string());
    }

    /// Makes the next `n` calls (any token, any method; `getUpdates` included)
    /// fail with `failure`. Injected failures are used first in, first out.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        let mut inner = self.shared.lock();
        for _ in 0..n {
            inner.failures.push_back(Injected { method: None, failure: failure.clone() });
        }
    }

    /// Drops every failure injected and not used yet: calls succeed again.
    pub fn clear_failures(&self) {
        self.shared.lock().failures.clear();
    }

    /// Like [`FakeBotApi::fail_next`], but only calls of `method` consume the
    /// failures (so that e.g. a background `getUpdates` loop does not).
    pub fn fail_method(&self, method: &str, n: usize, failure: Failure) {
        let mut inner = self.shared.lock();
        for _ in 0..n {
            inner.failures.push_back(Injected { method: Some(method.to_string()), failure: failure.clone() });
        }
    }
}

impl Drop for FakeBotApi {
    fn drop(&mut self) {
        // End waiting long polls (they answer with no updates), then the server.
        self.shared.lock().closed = true;
        self.shared.changed.notify_waiters();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A parsed request.
#[derive(Debug)]
struct Request {
    token: String,
    method: String,
    params: Map<String, Value>,
    files: Vec<(String, String, Vec<u8>)>,
}

/// A Bot API answer: HTTP status and JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn ok(result: Value) -> Answer {
        Answer { status: 200, body: json!({ "ok": true, "result": result }) }
    }

    fn ok_described(result: Value, description: &str) -> Answer {
        Answer { status: 200, body: json!({ "ok": true, "result": result, "description": description }) }
    }

    fn error(status: u16, description: &str) -> Answer {
        Answer { status, body: json!({ "ok": false, "error_code": status, "description": description }) }
    }

    fn bad_request(what: &str) -> Answer {
        Answer::error(400, &format!("Bad Request: {what}"))
    }

    fn retry_after(secs: u32) -> Answer {
        Answer {
            status: 429,
            body: json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {secs}"),
                "parameters": { "retry_after": secs },
            }),
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.body)).into_response()
    }
}

fn envelope_error(status: u16, description: &str) -> Response {
    Answer::error(status, description).into_response()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(token) = bot.strip_prefix("bot").map(str::to_string) else {
        return envelope_error(404, "Not Found");
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (params, files) = match parse_params(uri.query(), &content_type, &body) {
        Ok(p) => p,
        Err(what) => return Answer::bad_request(&what).into_response(),
    };
    let request = Request { token, method, params, files };
    // Run to completion even if the client disconnects, as the real server would.
    match tokio::spawn(process(shared, request, false)).await {
        Ok(answer) => answer.into_response(),
        Err(_) => envelope_error(500, "Internal Server Error"),
    }
}

/// Processes one call and records it.
async fn process(shared: Arc<Shared>, request: Request, via_webhook_reply: bool) -> Answer {
    let answer = answer(&shared, &request).await;
    let Request { token, method, params, files } = request;
    let status = answer.status;
    shared.lock().calls.push(RecordedCall { token, method, params, files, status, via_webhook_reply });
    shared.recorded.notify_waiters();
    answer
}

async fn answer(shared: &Shared, request: &Request) -> Answer {
    if !well_formed_token(&request.token) || shared.lock().revoked.contains(&request.token) {
        return Answer::error(401, "Unauthorized");
    }
    let injected = {
        let mut inner = shared.lock();
        let pos = inner.failures.iter().position(|f| f.method.as_deref().is_none_or(|m| m == request.method));
        pos.and_then(|i| inner.failures.remove(i)).map(|f| f.failure)
    };
    match injected {
        Some(Failure::RetryAfter(secs)) => return Answer::retry_after(secs),
        Some(Failure::Status(code, description)) => return Answer::error(code, &description),
        Some(Failure::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let method = request.method.to_ascii_lowercase();
    if method == "getupdates" {
        return get_updates(shared, &request.token, &request.params).await;
    }
    let mut inner = shared.lock();
    let answer = dispatch(&mut inner, &method, request);
    drop(inner);
    if matches!(method.as_str(), "setwebhook" | "deletewebhook") {
        shared.changed.notify_waiters();
    }
    answer
}

/// Methods that answer `true` without state (beyond recording the call).
const TRUE_METHODS: &[&str] = &[
    "answercallbackquery",
    "deletemessage",
    "deletemessages",
    "sendchataction",
    "setmycommands",
    "deletemycommands",
    "setmydescription",
    "setmyshortdescription",
    "setmyname",
    "logout",
    "close",
];

/// Methods that send a new message.
const SEND_METHODS: &[&str] = &[
    "sendmessage",
    "sendphoto",
    "senddocument",
    "sendvideo",
    "sendaudio",
    "sendanimation",
    "sendvoice",
    "sendsticker",
    "sendlocation",
    "sendcontact",
    "senddice",
    "sendpoll",
    "copymessage",
    "forwardmessage",
];

fn dispatch(inner: &mut Inner, method: &str, request: &Request) -> Answer {
    let token = request.token.as_str();
    let p = &request.params;
    match method {
        "getme" => {
            let id = token_id(token).unwrap_or_default();
            let username = inner.bot(token).username.clone();
            Answer::ok(json!({
                "id": id,
                "is_bot": true,
                "first_name": format!("Test bot {id}"),
                "username": username,
                "can_join_groups": true,
                "can_read_all_group_messages": false,
                "supports_inline_queries": false,
            }))
        }
        m if SEND_METHODS.contains(&m) => send(inner, m, request),
        "editmessagetext" | "editmessagecaption" | "editmessagereplymarkup" => edit(inner, method, request),
        "answercallbackquery" if p.get("callback_query_id").is_none_or(|v| v.as_str().is_none_or(str::is_empty)) => {
            Answer::bad_request("query is too old and response timeout expired or query ID is invalid")
        }
        m if TRUE_METHODS.contains(&m) => Answer::ok(Value::Bool(true)),
        "setwebhook" => set_webhook(inner.bot(token), p),
        "setchatmenubutton" => set_chat_menu_button(inner.bot(token), p),
        "getchatmenubutton" => match menu_chat(p) {
            Ok(chat) => Answer::ok(menu_button_of(inner.bot(token), chat.as_deref())),
            Err(answer) => answer,
        },
        "deletewebhook" => {
            let bot = inner.bot(token);
            if truthy(p.get("drop_pending_updates")) {
                bot.queue.clear();
            }
            match bot.webhook.take() {
                Some(_) => Answer::ok_described(Value::Bool(true), "Webhook was deleted"),
                None => Answer::ok_described(Value::Bool(true), "Webhook is already deleted"),
            }
        }
        "getwebhookinfo" => {
            let bot = inner.bot(token);
            let pending = bot.queue.len();
            let mut info = json!({ "url": "", "has_custom_certificate": false, "pending_update_count": pending });
            if let (Some(w), Value::Object(map)) = (&bot.webhook, &mut info) {
                map.insert("url".into(), json!(w.url));
                map.insert("max_connections".into(), json!(w.max_connections));
                if let Some(a) = &w.allowed_updates {
                    map.insert("allowed_updates".into(), json!(a));
                }
                if let Some((date, message)) = &w.last_error {
                    map.insert("last_error_date".into(), json!(date));
                    map.insert("last_error_message".into(), json!(message));
                }
            }
            Answer::ok(info)
        }
        _ => Answer::error(404, "Not Found"),
    }
}

fn send(inner: &mut Inner, method: &str, request: &Request) -> Answer {
    let p = &request.params;
    let Some(chat_id) = p.get("chat_id").filter(|v| !is_blank(v)) else {
        return Answer::bad_request("chat_id is empty");
    };
    let chat_key = chat_key(chat_id);
    let text = p.get("text").and_then(Value::as_str);
    match method {
        "sendmessage" if text.is_none_or(|t| t.trim().is_empty()) => {
            return Answer::bad_request("message text is empty");
        }
        "sendphoto" | "senddocument" => {
            let field = if method == "sendphoto" { "photo" } else { "document" };
            let has_file =
                request.files.iter().any(|(f, _, _)| f == field) || p.get(field).is_some_and(|v| !is_blank(v));
            if !has_file {
                return Answer::bad_request(&format!("there is no {field} in the request"));
            }
        }
        _ => {}
    }
    if let Some(refusal) = web_app_refusal(p) {
        return refusal;
    }
    if inner.bot(&request.token).blocked_chats.contains(&chat_key) {
        return Answer::error(403, "Forbidden: bot was blocked by the user");
    }
    inner.next_message_id += 1;
    let mut message = message(inner.next_message_id, &request.token, chat_id, &inner.bot(&request.token).username);
    copy_content(&mut message, p);
    if method == "sendphoto"
        && let Some((_, _, bytes)) = request.files.iter().find(|(f, _, _)| f == "photo")
    {
        let file_id = format!("fake-photo-{}", inner.next_message_id);
        message.insert(
            "photo".into(),
            json!([{ "file_id": file_id, "file_unique_id": file_id, "width": 0, "height": 0, "file_size": bytes.len() }]),
        );
    }
    if method == "copymessage" {
        return Answer::ok(json!({ "message_id": inner.next_message_id }));
    }
    Answer::ok(Value::Object(message))
}

fn edit(inner: &mut Inner, method: &str, request: &Request) -> Answer {
    let p = &request.params;
    if method == "editmessagetext" && p.get("text").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty()) {
        return Answer::bad_request("message text is empty");
    }
    if let Some(refusal) = web_app_refusal(p) {
        return refusal;
    }
    if p.get("inline_message_id").is_some_and(|v| !is_blank(v)) {
        return Answer::ok(Value::Bool(true));
    }
    let Some(chat_id) = p.get("chat_id").filter(|v| !is_blank(v)) else {
        return Answer::bad_request("chat_id is empty");
    };
    let Some(message_id) = p.get("message_id").and_then(Value::as_i64) else {
        return Answer::bad_request("message identifier is not specified");
    };
    let username = inner.bot(&request.token).username.clone();
    let mut message = message(message_id, &request.token, chat_id, &username);
    message.insert("edit_date".into(), json!(unix_now()));
    copy_content(&mut message, p);
    Answer::ok(Value::Object(message))
}

/// A `Message` skeleton sent by the bot into `chat_id`.
fn message(message_id: i64, token: &str, chat_id: &Value, username: &str) -> Map<String, Value> {
    let id = token_id(token).unwrap_or_default();
    let chat = match chat_id {
        Value::Number(n) => {
            let id = n.as_i64().unwrap_or_default();
            if id > 0 {
                json!({ "id": id, "type": "private", "first_name": "User" })
            } else if id <= -1_000_000_000_000 {
                json!({ "id": id, "type": "supergroup", "title": "Group" })
            } else {
                json!({ "id": id, "type": "group", "title": "Group" })
            }
        }
        other => {
            let name = other.as_str().unwrap_or_default().trim_start_matches('@').to_string();
            json!({ "id": -1_000_000_000_001_i64, "type": "channel", "title": name, "username": name })
        }
    };
    let mut m = Map::new();
    m.insert("message_id".into(), json!(message_id));
    m.insert(
        "from".into(),
        json!({ "id": id, "is_bot": true, "first_name": format!("Test bot {id}"), "username": username }),
    );
    m.insert("chat".into(), chat);
    m.insert("date".into(), json!(unix_now()));
    m
}

/// Copies `text`, `caption` and an inline `reply_markup` into a sent message.
fn copy_content(message: &mut Map<String, Value>, params: &Map<String, Value>) {
    for key in ["text", "caption"] {
        if let Some(v) = params.get(key).filter(|v| v.is_string()) {
            message.insert(key.into(), v.clone());
        }
    }
    if let Some(markup) = params.get("reply_markup").filter(|v| v.get("inline_keyboard").is_some()) {
        message.insert("reply_markup".into(), markup.clone());
    }
}

fn set_webhook(bot: &mut BotState, p: &Map<String, Value>) -> Answer {
    let url = p.get("url").and_then(Value::as_str).unwrap_or("").trim().to_string();
    if truthy(p.get("drop_pending_updates")) {
        bot.queue.clear();
    }
    let allowed_updates = match p.get("allowed_updates") {
        None | Some(Value::Null) => None,
        Some(v) => match string_list(v) {
            Some(list) => Some(list),
            None => return Answer::bad_request("can't parse allowed updates list"),
        },
    };
    if allowed_updates.is_some() {
        bot.allowed_updates.clone_from(&allowed_updates);
    }
    if url.is_empty() {
        return match bot.webhook.take() {
            Some(_) => Answer::ok_described(Value::Bool(true), "Webhook was deleted"),
            None => Answer::ok_described(Value::Bool(true), "Webhook is already deleted"),
        };
    }
    if !webhook_url_allowed(&url) {
        return Answer::bad_request("bad webhook: An HTTPS URL must be provided for webhook");
    }
    let secret_token = match p.get("secret_token") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let valid =
                (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Answer::bad_request("secret token contains unallowed characters");
            }
            Some(s)
        }
    };
    let max_connections = match p.get("max_connections") {
        None | Some(Value::Null) => 40,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=100).contains(&n) => n as u32,
            _ => return Answer::bad_request("invalid max_connections specified"),
        },
    };
    let unchanged = bot.webhook.as_ref().is_some_and(|w| {
        w.url == url
            && w.secret_token == secret_token
            && w.allowed_updates == allowed_updates
            && w.max_connections == max_connections
    });
    let last_error = if unchanged { bot.webhook.as_ref().and_then(|w| w.last_error.clone()) } else { None };
    bot.webhook = Some(FakeWebhook { url, secret_token, allowed_updates, max_connections, last_error });
    let description = if unchanged { "Webhook is already set" } else { "Webhook was set" };
    Answer::ok_described(Value::Bool(true), description)
}

/// `setChatMenuButton`: the Bot API server's checks of `menu_button` (an
/// object whose `type` is `default`, `commands` or `web_app`, the last with a
/// `text` and a `web_app.url`), then Telegram's (a non-empty text, an
/// `https://` URL). With `chat_id`, the choice of that private chat; without,
/// the button of every chat without one, which a `default` leaves unchanged
/// (Telegram ignores it for all chats).
fn set_chat_menu_button(bot: &mut BotState, p: &Map<String, Value>) -> Answer {
    let chat = match menu_chat(p) {
        Ok(chat) => chat,
        Err(answer) => return answer,
    };
    let button = match p.get("menu_button") {
        None | Some(Value::Null) => json!({"type": "default"}),
        Some(Value::String(s)) if s.is_empty() => json!({"type": "default"}),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v) => v,
            Err(_) => return Answer::bad_request("can't parse menu button JSON object"),
        },
        Some(v) => v.clone(),
    };
    let cannot = |why: &str| Answer::bad_request(&format!("can't parse menu button: {why}"));
    let Some(object) = button.as_object() else { return cannot("MenuButton must be an Object") };
    let string = |field: &str| match object.get(field) {
        None => Err(cannot(&format!("Can't find field \"{field}\""))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(cannot(&format!("Field \"{field}\" must be of type String"))),
    };
    let kind = match string("type") {
        Ok(kind) => kind,
        Err(answer) => return answer,
    };
    let stored = match kind.as_str() {
        "default" => None,
        "commands" => Some(json!({"type": "commands"})),
        "web_app" => {
            let text = match string("text") {
                Ok(text) => text,
                Err(answer) => return answer,
            };
            let url = match object.get("web_app") {
                None => return cannot("Can't find field \"web_app\""),
                Some(Value::Object(app)) => match app.get("url") {
                    None => return cannot("Can't find field \"url\""),
                    Some(Value::String(url)) => url.clone(),
                    Some(_) => return cannot("Field \"url\" must be of type String"),
                },
                Some(_) => return cannot("Field \"web_app\" must be of type Object"),
            };
            if text.trim().is_empty() {
                return Answer::bad_request("menu button text can't be empty");
            }
            if !web_app_url_allowed(&url) {
                return Answer::bad_request(&format!(
                    "menu button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
                ));
            }
            Some(json!({"type": "web_app", "text": text, "web_app": {"url": url}}))
        }
        _ => return cannot("MenuButton has unsupported type"),
    };
    match (chat, stored) {
        (Some(chat), Some(button)) => {
            bot.chat_menu_buttons.insert(chat, button);
        }
        (Some(chat), None) => {
            bot.chat_menu_buttons.remove(&chat);
        }
        (None, Some(button)) => bot.menu_button = Some(button),
        // `botMenuButtonDefault` for all users "has no effect, keeping the
        // previously set menu button" (core.telegram.org/api/bots/menu).
        (None, None) => {}
    }
    Answer::ok(Value::Bool(true))
}

/// The optional `chat_id` of `setChatMenuButton` / `getChatMenuButton`: a
/// private chat, i.e. a positive user id.
fn menu_chat(p: &Map<String, Value>) -> Result<Option<String>, Answer> {
    match p.get("chat_id") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
            Some(id) if id > 0 => Ok(Some(id.to_string())),
            _ => Err(Answer::bad_request("invalid chat_id specified")),
        },
    }
}

/// What `getChatMenuButton` answers (see [`FakeBotApi::menu_button`]).
fn menu_button_of(bot: &BotState, chat: Option<&str>) -> Value {
    match chat {
        Some(chat) => bot.chat_menu_buttons.get(chat).cloned().unwrap_or_else(|| json!({"type": "default"})),
        None => bot.menu_button.clone().unwrap_or_else(|| json!({"type": "commands"})),
    }
}

/// Whether Telegram opens `url` as a Mini App: `https://` with a host.
fn web_app_url_allowed(url: &str) -> bool {
    let url = url.trim();
    url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        && url[8..].split(['/', '?', '#']).next().is_some_and(|host| !host.is_empty())
}

/// Telegram's refusal of a message whose inline keyboard has a `web_app`
/// button that is not `https://`.
fn web_app_refusal(p: &Map<String, Value>) -> Option<Answer> {
    let rows = p.get("reply_markup")?.get("inline_keyboard")?.as_array()?;
    let url = rows
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|b| b.get("web_app")?.get("url"))
        .map(|u| u.as_str().unwrap_or_default())
        .find(|u| !web_app_url_allowed(u))?;
    Some(Answer::bad_request(&format!(
        "inline keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
    )))
}

/// HTTPS anywhere; plain HTTP only to the local machine (for tests).
fn webhook_url_allowed(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

async fn get_updates(shared: &Shared, token: &str, p: &Map<String, Value>) -> Answer {
    let offset = p.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let limit = p.get("limit").and_then(Value::as_u64).unwrap_or(100).clamp(1, 100) as usize;
    let timeout = p.get("timeout").and_then(Value::as_u64).unwrap_or(0).min(MAX_POLL_TIMEOUT);
    let allowed = match p.get("allowed_updates") {
        None | Some(Value::Null) => None,
        Some(v) => match string_list(v) {
            Some(list) => Some(list),
            None => return Answer::bad_request("can't parse allowed updates list"),
        },
    };
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let generation = {
        let mut inner = shared.lock();
        let bot = inner.bot(token);
        if bot.webhook.is_some() {
            return Answer::error(409, WEBHOOK_CONFLICT);
        }
        if allowed.is_some() {
            bot.allowed_updates = allowed;
        }
        confirm(bot, offset);
        bot.poll_generation += 1;
        bot.poll_generation
    };
    // Wake (and so terminate) any older poll for this token.
    shared.changed.notify_waiters();
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        {
            let mut inner = shared.lock();
            if inner.closed {
                return Answer::ok(Value::Array(Vec::new()));
            }
            let bot = inner.bot(token);
            if bot.poll_generation != generation {
                return Answer::error(409, POLL_CONFLICT);
            }
            if bot.webhook.is_some() {
                return Answer::error(409, WEBHOOK_CONFLICT);
            }
            let allowed = bot.allowed_updates.clone();
            // Updates of kinds the bot did not ask for are dropped, as Telegram does.
            if let Some(allowed) = allowed.filter(|a| !a.is_empty()) {
                bot.queue.retain(|u| update_kind(u).is_none_or(|k| allowed.iter().any(|a| a == k)));
            }
            if !bot.queue.is_empty() || Instant::now() >= deadline {
                let batch: Vec<Value> = bot.queue.iter().take(limit).cloned().collect();
                return Answer::ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            // Timed out: one last look happens at the top of the loop.
            continue;
        }
    }
}

const WEBHOOK_CONFLICT: &str =
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
const POLL_CONFLICT: &str =
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";

/// Forgets updates confirmed by `offset` (see `getUpdates`).
fn confirm(bot: &mut BotState, offset: i64) {
    if offset > 0 {
        bot.queue.retain(|u| u.get("update_id").and_then(Value::as_i64).is_some_and(|id| id >= offset));
    } else if offset < 0 {
        let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
        while bot.queue.len() > keep {
            bot.queue.pop_front();
        }
    }
}

/// The kind of an update: its first field other than `update_id`.
fn update_kind(update: &Value) -> Option<&str> {
    update.as_object()?.keys().map(String::as_str).find(|k| *k != "update_id")
}

/// Parameters sent as text that stay strings even when they look like JSON.
const STRING_FIELDS: &[&str] = &[
    "text",
    "caption",
    "url",
    "secret_token",
    "callback_query_id",
    "inline_message_id",
    "parse_mode",
    "description",
    "short_description",
    "name",
    "title",
    "query",
    "ip_address",
];

type Parsed = (Map<String, Value>, Vec<(String, String, Vec<u8>)>);

/// Query string plus body, by content type.
fn parse_params(query: Option<&str>, content_type: &str, body: &[u8]) -> Result<Parsed, String> {
    let mut params = Map::new();
    let mut files = Vec::new();
    if let Some(q) = query {
        for (k, v) in parse_urlencoded(q.as_bytes()) {
            params.insert(k.clone(), text_value(&k, v));
        }
    }
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        _ if body.is_empty() => {}
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => params.extend(map),
            _ => return Err("can't parse JSON object".into()),
        },
        "application/x-www-form-urlencoded" => {
            for (k, v) in parse_urlencoded(body) {
                params.insert(k.clone(), text_value(&k, v));
            }
        }
        "multipart/form-data" => {
            let Some(boundary) = boundary(content_type) else {
                return Err("can't parse multipart request: no boundary".into());
            };
            for part in parse_multipart(body, &boundary).ok_or("can't parse multipart request")? {
                match part.file_name {
                    Some(file_name) => files.push((part.name, file_name, part.data)),
                    None => {
                        let text = String::from_utf8_lossy(&part.data).into_owned();
                        params.insert(part.name.clone(), text_value(&part.name, text));
                    }
                }
            }
        }
        _ => {}
    }
    Ok((params, files))
}

/// A text field's value: JSON where it is JSON, else the string.
fn text_value(name: &str, text: String) -> Value {
    if STRING_FIELDS.contains(&name) {
        return Value::String(text);
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Object(_) | Value::Array(_))) => v,
        _ => Value::String(text),
    }
}

/// `a=1&b=x+y%21` → `[("a","1"),("b","x y!")]`.
fn parse_urlencoded(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(input[i + 1]), hex(input[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

struct Part {
    name: String,
    file_name: Option<String>,
    data: Vec<u8>,
}

/// Splits a `multipart/form-data` body (RFC 7578) into its parts.
fn parse_multipart(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // Treat the body as if it started with CRLF, so every delimiter looks alike.
    let mut data = Vec::with_capacity(body.len() + 2);
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(body);
    let mut pos = find(&data, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if data[pos..].starts_with(b"--") {
            return Some(parts);
        }
        // Skip transport padding and the CRLF after the delimiter.
        let line_end = find(&data, b"\r\n", pos)?;
        let headers_start = line_end + 2;
        let headers_end = find(&data, b"\r\n\r\n", headers_start)?;
        let headers = String::from_utf8_lossy(&data[headers_start..headers_end]).into_owned();
        let content_start = headers_end + 4;
        let next = find(&data, &delimiter, content_start)?;
        let (mut name, mut file_name) = (None, None);
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else { continue };
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for param in value.split(';').skip(1) {
                if let Some((k, v)) = param.trim().split_once('=') {
                    let v = v.trim().trim_matches('"').to_string();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "name" => name = Some(v),
                        "filename" => file_name = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part { name: name?, file_name, data: data[content_start..next].to_vec() });
        pos = next + delimiter.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() || needle.is_empty() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// `123:abc` → `Some(123)`; a Bot API token is `<digits>:<[A-Za-z0-9_-]+>`.
fn token_id(token: &str) -> Option<i64> {
    token.split_once(':').and_then(|(id, _)| id.parse().ok())
}

fn well_formed_token(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, rest)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

fn chat_key(chat_id: &Value) -> String {
    match chat_id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

/// A list of strings given as a JSON array or as JSON text of one.
fn string_list(v: &Value) -> Option<Vec<String>> {
    let parsed;
    let array = match v {
        Value::Array(a) => a,
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            parsed.as_array()?
        }
        _ => return None,
    };
    array.iter().map(|x| x.as_str().map(str::to_string)).collect()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_decoding() {
        assert_eq!(
            parse_urlencoded(b"a=1&b=x+y%21&c=%E2%82%AC&d=%zz&e=%4"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "€".into()),
                ("d".into(), "%zz".into()),
                ("e".into(), "%4".into()),
            ]
        );
    }

    #[test]
    fn multipart_parts() {
        let body = b"--XYZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n--XYZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\r\n--XYZ--\r\n";
        let parts = parse_multipart(body, "XYZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "chat_id");
        assert_eq!(parts[0].data, b"42");
        assert_eq!(parts[1].file_name.as_deref(), Some("a.png"));
        assert_eq!(parts[1].data, b"\x89PNG\r\n");
        assert!(parse_multipart(b"garbage", "XYZ").is_none());
    }

    #[test]
    fn text_values_become_json_where_they_are_json() {
        assert_eq!(text_value("chat_id", "42".into()), json!(42));
        assert_eq!(text_value("reply_markup", "{\"a\":1}".into()), json!({"a": 1}));
        assert_eq!(text_value("text", "42".into()), json!("42"));
        assert_eq!(text_value("chat_id", "@chan".into()), json!("@chan"));
    }

    #[test]
    fn web_app_urls_are_https_only() {
        assert!(web_app_url_allowed("https://bots.example.com/app/?mode=partner"));
        assert!(web_app_url_allowed("HTTPS://bots.example.com"));
        for bad in ["http://bots.example.com/app/", "bots.example.com", "https://", "https:///app", "", "ftp://x"] {
            assert!(!web_app_url_allowed(bad), "{bad}");
        }
        let markup = |url: &str| {
            let p = json!({"reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "x"}, {"text": "b", "web_app": {"url": url}}]]}});
            p.as_object().cloned().unwrap()
        };
        assert!(web_app_refusal(&markup("https://bots.example.com/app/")).is_none());
        let refused = web_app_refusal(&markup("http://bots.example.com/app/")).expect("refused");
        assert_eq!(refused.status, 400);
        assert_eq!(
            refused.body["description"],
            "Bad Request: inline keyboard button Web App URL 'http://bots.example.com/app/' is invalid: Only HTTPS links are allowed"
        );
    }

    #[test]
    fn menu_buttons_as_telegram_checks_and_keeps_them() {
        let mut bot = BotState::new("1:a");
        let set = |bot: &mut BotState, p: Value| set_chat_menu_button(bot, p.as_object().unwrap());
        let app = json!({"type": "web_app", "text": "Open", "web_app": {"url": "https://bots.example.com/app/"}});
        assert_eq!(menu_button_of(&bot, None), json!({"type": "commands"}));
        assert_eq!(set(&mut bot, json!({"menu_button": app})).status, 200);
        assert_eq!(menu_button_of(&bot, None), app);
        assert_eq!(menu_button_of(&bot, Some("7")), json!({"type": "default"}), "no choice for the chat");
        assert_eq!(set(&mut bot, json!({"menu_button": {"type": "default"}})).status, 200);
        assert_eq!(menu_button_of(&bot, None), app, "a default for all chats changes nothing");
        assert_eq!(set(&mut bot, json!({"menu_button": "{\"type\":\"commands\"}"})).status, 200);
        assert_eq!(menu_button_of(&bot, None), json!({"type": "commands"}));
        assert_eq!(set(&mut bot, json!({"chat_id": 7, "menu_button": app})).status, 200);
        assert_eq!(menu_button_of(&bot, Some("7")), app);
        assert_eq!(set(&mut bot, json!({"chat_id": "7"})).status, 200, "no menu_button: default");
        assert_eq!(menu_button_of(&bot, Some("7")), json!({"type": "default"}));

        for (params, description) in [
            (json!({"menu_button": []}), "Bad Request: can't parse menu button: MenuButton must be an Object"),
            (json!({"menu_button": "{"}), "Bad Request: can't parse menu button JSON object"),
            (json!({"menu_button": {"text": "x"}}), "Bad Request: can't parse menu button: Can't find field \"type\""),
            (
                json!({"menu_button": {"type": "url"}}),
                "Bad Request: can't parse menu button: MenuButton has unsupported type",
            ),
            (
                json!({"menu_button": {"type": "web_app", "text": "x"}}),
                "Bad Request: can't parse menu button: Can't find field \"web_app\"",
            ),
            (
                json!({"menu_button": {"type": "web_app", "text": "x", "web_app": {"url": 5}}}),
                "Bad Request: can't parse menu button: Field \"url\" must be of type String",
            ),
            (
                json!({"menu_button": {"type": "web_app", "text": " ", "web_app": {"url": "https://x.example"}}}),
                "Bad Request: menu button text can't be empty",
            ),
            (
                json!({"menu_button": {"type": "web_app", "text": "x", "web_app": {"url": "http://x.example/app/"}}}),
                "Bad Request: menu button Web App URL 'http://x.example/app/' is invalid: Only HTTPS links are allowed",
            ),
            (json!({"chat_id": -100, "menu_button": {"type": "commands"}}), "Bad Request: invalid chat_id specified"),
        ] {
            let answer = set(&mut bot, params.clone());
            assert_eq!((answer.status, answer.body["description"].as_str()), (400, Some(description)), "{params}");
        }
        assert_eq!(menu_button_of(&bot, None), json!({"type": "commands"}), "refusals change nothing");
    }

    #[test]
    fn webhook_urls() {
        assert!(webhook_url_allowed("https://example.com/webhook/client"));
        assert!(webhook_url_allowed("http://127.0.0.1:8080/webhook/client"));
        assert!(webhook_url_allowed("http://localhost/x"));
        assert!(!webhook_url_allowed("http://example.com/x"));
        assert!(!webhook_url_allowed("ftp://example.com"));
    }
}
