//! The Bot API over HTTP: [`HttpTelegram`] implements the core's
//! [`TelegramApi`] port with `reqwest`, and adds [`HttpTelegram::get_updates`]
//! for long polling.
//!
//! Calls go to `POST {TELEGRAM_API_URL}/bot{token}/{method}` as JSON, or as
//! `multipart/form-data` when the call uploads a file. Telegram's envelope is
//! mapped onto [`TelegramError`]: `429` becomes [`TelegramError::RetryAfter`],
//! other `ok: false` answers [`TelegramError::Api`], and network failures,
//! timeouts and `5xx` answers [`TelegramError::Transport`] (temporary).
//!
//! The token is part of every URL, so it must never reach an error message or
//! a log line: errors are built from [`reqwest::Error::without_url`] and any
//! remaining occurrence of the token is masked.
//!
//! # Rate limits
//!
//! Telegram asks bots to send at most about 30 messages per second overall
//! and at most one message per second to the same chat, and answers `429`
//! with `retry_after` beyond that. [`RateLimiter`] keeps every sending method
//! (`send*`, `editMessage*`, `copyMessage`, `forwardMessage`) within those
//! limits per bot, and after a `429` holds back all of that bot's calls for
//! `retry_after` seconds (the caller — the engine's `send` — retries the call
//! itself).
//!
//! We use our own limiter rather than teloxide-core's `Throttle` adaptor
//! because our calls are generic [`BotCall`]s (a method name plus JSON
//! parameters) produced by a core that also runs on `wasm32`: `Throttle`
//! wraps teloxide's typed requests, so every call would need converting into
//! a typed request first, and teloxide-core does not build for `wasm32`, so it
//! could not be shared with the Workers runtime anyway. The limiter here
//! implements the same published limits on the calls as we have them.

use loyalty_core::config::{Config, Secret};
use loyalty_core::ports::{TelegramApi, TelegramError};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::{BotCall, InputFile, Update};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait for a connection to the Bot API.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for a whole call (except long polls).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How much longer than its own `timeout` a `getUpdates` long poll may take.
pub const POLL_TIMEOUT_MARGIN: Duration = Duration::from_secs(10);

/// A Bot API client for the bots configured in a [`Config`].
///
/// Cloning is cheap and clones share the connection pool and the rate limiter.
///
/// ```no_run
/// # async fn demo() -> Result<(), loyalty_core::ports::TelegramError> {
/// use loyalty_core::{Config, domain::BotKind, ports::TelegramApi, telegram::BotCall};
/// use loyalty_native::telegram::HttpTelegram;
///
/// let config = Config::from_lookup(|k| std::env::var(k).ok()).expect("configuration");
/// let telegram = HttpTelegram::new(&config)?;
/// let me = telegram.call(&BotCall { bot: BotKind::Client, method: "getMe", params: Default::default(), file: None }).await?;
/// println!("{}", me["username"]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpTelegram {
    client: reqwest::Client,
    base: String,
    tokens: Vec<(BotKind, Secret)>,
    limiter: Option<Arc<RateLimiter>>,
    request_timeout: Duration,
}

/// What one `getUpdates` call returned.
///
/// Updates are parsed one by one: an update this crate cannot parse does not
/// cost the others. Its `update_id` is listed in [`UpdateBatch::skipped`] so
/// that [`UpdateBatch::next_offset`] moves past it and Telegram does not send
/// it again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateBatch {
    /// The updates that parsed, in Telegram's order.
    pub updates: Vec<Update>,
    /// `update_id`s of updates that did not parse.
    pub skipped: Vec<i64>,
}

impl UpdateBatch {
    /// The `offset` for the next `getUpdates`: one past the highest
    /// `update_id` seen (parsed or skipped), or `None` for an empty batch.
    pub fn next_offset(&self) -> Option<i64> {
        self.updates.iter().map(|u| u.update_id).chain(self.skipped.iter().copied()).max().map(|id| id + 1)
    }

    /// Whether the batch holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.skipped.is_empty()
    }
}

impl HttpTelegram {
    /// A client for `config.telegram_api_url` with the bots' tokens from
    /// `config`, [`CONNECT_TIMEOUT`], [`REQUEST_TIMEOUT`] and Telegram's
    /// [`RateLimits::TELEGRAM`].
    ///
    /// Fails only if the HTTP client cannot be built (no TLS backend).
    pub fn new(config: &Config) -> Result<HttpTelegram, TelegramError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("loyalty-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TelegramError::Transport(format!("cannot build the HTTP client: {}", e.without_url())))?;
        let tokens = [BotKind::Client, BotKind::Partner, BotKind::Admin, BotKind::Alerts]
            .into_iter()
            .filter_map(|bot| config.token(bot).map(|t| (bot, t.clone())))
            .collect();
        Ok(HttpTelegram {
            client,
            base: config.telegram_api_url.trim_end_matches('/').to_string(),
            tokens,
            limiter: Some(Arc::new(RateLimiter::new(RateLimits::TELEGRAM))),
            request_timeout: REQUEST_TIMEOUT,
        })
    }

    /// Uses `timeout` instead of [`REQUEST_TIMEOUT`] for each call (long polls
    /// still get their own `timeout` plus [`POLL_TIMEOUT_MARGIN`]).
    pub fn with_request_timeout(mut self, timeout: Duration) -> HttpTelegram {
        self.request_timeout = timeout;
        self
    }

    /// Replaces the rate limits; `None` sends without any (for local fakes
    /// such as `loyalty simulate`, never for Telegram itself).
    pub fn with_rate_limits(mut self, limits: Option<RateLimits>) -> HttpTelegram {
        self.limiter = limits.map(|l| Arc::new(RateLimiter::new(l)));
        self
    }

    /// The rate limiter in use, if any.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_deref()
    }

    /// Whether a token is configured for `bot`.
    pub fn has_bot(&self, bot: BotKind) -> bool {
        self.token(bot).is_some()
    }

    fn token(&self, bot: BotKind) -> Option<&Secret> {
        self.tokens.iter().find(|(b, _)| *b == bot).map(|(_, t)| t)
    }

    /// One long poll: `getUpdates` with `offset`, waiting up to `timeout_secs`
    /// seconds for updates of the kinds in `allowed_updates` (empty: Telegram's
    /// default kinds). See [`UpdateBatch`] for updates that do not parse.
    pub async fn get_updates(
        &self,
        bot: BotKind,
        offset: i64,
        timeout_secs: u32,
        allowed_updates: &[&str],
    ) -> Result<UpdateBatch, TelegramError> {
        let mut params = Map::new();
        params.insert("offset".into(), json!(offset));
        params.insert("timeout".into(), json!(timeout_secs));
        params.insert("allowed_updates".into(), json!(allowed_updates));
        let call = BotCall { bot, method: "getUpdates", params, file: None };
        let result = self.execute(&call).await?;
        let Value::Array(items) = result else {
            return Err(TelegramError::Transport("getUpdates: the result is not an array".into()));
        };
        let mut batch = UpdateBatch::default();
        for item in items {
            let id = item.get("update_id").and_then(Value::as_i64);
            match serde_json::from_value::<Update>(item) {
                Ok(update) => batch.updates.push(update),
                Err(e) => match id {
                    Some(id) => {
                        tracing::warn!(
                            bot = bot.as_str(),
                            update_id = id,
                            "skipping an update that does not parse: {e}"
                        );
                        batch.skipped.push(id);
                    }
                    None => tracing::warn!(bot = bot.as_str(), "skipping an update without update_id: {e}"),
                },
            }
        }
        Ok(batch)
    }

    /// Waits for the rate limiter, sends, and applies a `429` pause.
    async fn execute(&self, call: &BotCall) -> Result<Value, TelegramError> {
        let token = self.token(call.bot).ok_or(TelegramError::NoToken(call.bot.as_str()))?;
        if let Some(limiter) = &self.limiter {
            limiter.acquire(call).await;
        }
        let result = self.send(call, token).await;
        if let (Err(TelegramError::RetryAfter(secs)), Some(limiter)) = (&result, &self.limiter) {
            limiter.pause(call.bot, Duration::from_secs(u64::from(*secs)));
        }
        if let Err(e) = &result {
            tracing::debug!(bot = call.bot.as_str(), method = call.method, "Bot API call failed: {e}");
        }
        result
    }

    async fn send(&self, call: &BotCall, token: &Secret) -> Result<Value, TelegramError> {
        let url = format!("{}/bot{}/{}", self.base, token.expose(), call.method);
        let timeout = if call.method == "getUpdates" {
            let poll = call.params.get("timeout").and_then(Value::as_u64).unwrap_or(0);
            Duration::from_secs(poll) + POLL_TIMEOUT_MARGIN
        } else {
            self.request_timeout
        };
        let request = self.client.post(url).timeout(timeout);
        let request = match &call.file {
            None => request.json(&call.params),
            Some(file) => request.multipart(form(call, file)),
        };
        let transport = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            TelegramError::Transport(token.redact(&format!("{}: {kind}: {}", call.method, error_chain(e))))
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        loyalty_core::telegram::decode_answer(call.method, status, &body, |text| token.redact(text))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl TelegramApi for HttpTelegram {
    async fn call(&self, call: &BotCall) -> Result<Value, TelegramError> {
        self.execute(call).await
    }
}

/// The multipart form of a call with a file.
fn form(call: &BotCall, file: &InputFile) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in call.form_fields() {
        form = form.text(name, value);
    }
    let part = reqwest::multipart::Part::bytes(file.data.to_vec()).file_name(file.file_name.clone());
    let part = match part.mime_str(file.content_type) {
        Ok(part) => part,
        // Our content types are constants; an invalid one is sent without a type.
        Err(_) => reqwest::multipart::Part::bytes(file.data.to_vec()).file_name(file.file_name.clone()),
    };
    form.part(file.field, part)
}

/// The error and its sources, without the request URL.
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Telegram's rate limits for sending messages, per bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Messages per second over all chats.
    pub per_second: u32,
    /// Minimum time between two messages to the same chat.
    pub per_chat_interval: Duration,
}

impl RateLimits {
    /// Telegram's published limits: 30 messages per second, one per second per chat.
    pub const TELEGRAM: RateLimits = RateLimits { per_second: 30, per_chat_interval: Duration::from_secs(1) };
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::TELEGRAM
    }
}

/// Whether `method` sends or edits a message (and so counts against the limits).
pub fn is_sending_method(method: &str) -> bool {
    (method.starts_with("send") && method != "sendChatAction")
        || method.starts_with("editMessage")
        || method.starts_with("copyMessage")
        || method.starts_with("forwardMessage")
}

/// Per-bot state of the limiter.
#[derive(Debug, Default)]
struct Window {
    /// No call before this instant (after a 429).
    paused_until: Option<Instant>,
    /// Grant times within the last second, oldest first.
    recent: VecDeque<Instant>,
    /// Last grant per chat, for chats granted within `per_chat_interval`.
    chats: HashMap<String, Instant>,
}

/// Keeps each bot's sending calls within [`RateLimits`] and pauses a bot after
/// a `429`. Cheap to share behind an `Arc`; the state of a chat is forgotten
/// once its interval has passed.
///
/// Waiting callers are not served in a strict order: each one checks the
/// limits again when it wakes up and the first to find them satisfied goes.
/// The limits themselves always hold, because a call is only let through
/// (and recorded) at a moment when they are satisfied.
///
/// [`RateLimiter::try_acquire_at`] is the whole decision, taking the current
/// instant as an argument, so it can be tested without waiting.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    bots: Mutex<HashMap<BotKind, Window>>,
}

impl RateLimiter {
    /// A limiter with `limits` for each bot.
    pub fn new(limits: RateLimits) -> RateLimiter {
        RateLimiter { limits, bots: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<BotKind, Window>> {
        self.bots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `call` may be sent. Sending methods wait for the bot's
    /// limits and pause; other methods wait only for a pause; `getUpdates`
    /// never waits.
    pub async fn acquire(&self, call: &BotCall) {
        if call.method == "getUpdates" {
            return;
        }
        if !is_sending_method(call.method) {
            loop {
                let until = self.lock().get(&call.bot).and_then(|w| w.paused_until);
                match until {
                    Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                    _ => return,
                }
            }
        }
        let chat = call.params.get("chat_id").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        loop {
            match self.try_acquire_key(call.bot, chat.as_deref(), Instant::now()) {
                Ok(()) => return,
                Err(at) => tokio::time::sleep_until(at).await,
            }
        }
    }

    /// Pauses every call of `bot` for `duration` from now (after a `429`).
    pub fn pause(&self, bot: BotKind, duration: Duration) {
        self.pause_until(bot, Instant::now() + duration);
    }

    /// Pauses every call of `bot` until `until` (never shortens a pause).
    pub fn pause_until(&self, bot: BotKind, until: Instant) {
        let mut bots = self.lock();
        let window = bots.entry(bot).or_default();
        window.paused_until = Some(window.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Decides at `now` whether `bot` may send a message to `chat` (`None`: a
    /// message not addressed to a chat, e.g. an inline message edit). `Ok`
    /// records the message as sent at `now`; `Err` gives the earliest instant
    /// worth asking again.
    pub fn try_acquire_at(&self, bot: BotKind, chat: Option<i64>, now: Instant) -> Result<(), Instant> {
        self.try_acquire_key(bot, chat.map(|c| c.to_string()).as_deref(), now)
    }

    fn try_acquire_key(&self, bot: BotKind, chat: Option<&str>, now: Instant) -> Result<(), Instant> {
        let second = Duration::from_secs(1);
        let interval = self.limits.per_chat_interval;
        let per_second = usize::try_from(self.limits.per_second.max(1)).unwrap_or(usize::MAX);
        let mut bots = self.lock();
        let window = bots.entry(bot).or_default();
        // Forget what no longer constrains anything.
        while window.recent.front().is_some_and(|t| *t + second <= now) {
            window.recent.pop_front();
        }
        window.chats.retain(|_, last| *last + interval > now);
        if window.paused_until.is_some_and(|p| p <= now) {
            window.paused_until = None;
        }

        let mut ready = now;
        if let Some(p) = window.paused_until {
            ready = ready.max(p);
        }
        if window.recent.len() >= per_second
            && let Some(oldest) = window.recent.get(window.recent.len() - per_second)
        {
            ready = ready.max(*oldest + second);
        }
        if let Some(last) = chat.and_then(|c| window.chats.get(c)) {
            ready = ready.max(*last + interval);
        }
        if ready > now {
            return Err(ready);
        }
        window.recent.push_back(now);
        if let Some(c) = chat {
            window.chats.insert(c.to_string(), now);
        }
        Ok(())
    }

    /// How many chats of `bot` the limiter currently remembers.
    pub fn tracked_chats(&self, bot: BotKind) -> usize {
        self.lock().get(&bot).map_or(0, |w| w.chats.len())
    }
}
