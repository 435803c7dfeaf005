//! The scenario harness: simulated people talk to the three bots through the
//! real webhook entry point ([`Engine::handle_webhook`]) with a stepped clock,
//! and every outgoing Bot API call is captured in order — the one Telegram
//! would execute from the webhook response first, then the deferred ones.
//!
//! A [`Harness`] can deliver every update twice (as Telegram does after a
//! timeout) to show that de-duplication and idempotency keys keep the end
//! state the same, and it keeps a readable transcript of the conversation.

use super::fakes::TestEnv;
use super::inspect::{buttons, forces_reply};
use loyalty_core::domain::{Customer, CustomerCode, Points};
use loyalty_core::engine::Engine;
use loyalty_core::ports::{CustomerRef, StoreResult};
use loyalty_core::telegram::build::{TgUser, callback, reply, text_json};

use bytes::Bytes;
use http::{Request, StatusCode};
use loyalty_core::domain::BotKind;
use loyalty_core::telegram::{BotCall, Update};
use loyalty_core::webhook::webhook_secret;
use serde_json::Value;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// What one delivery produced.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// HTTP status of the webhook response.
    pub status: StatusCode,
    /// Every Bot API call made, in order (webhook-response call first).
    pub calls: Vec<BotCall>,
}

impl Delivery {
    /// Texts (or captions) of the calls sent to `chat`, in order.
    pub fn texts_to(&self, chat: i64) -> Vec<String> {
        self.calls.iter().filter(|c| c.chat_id() == Some(chat)).filter_map(|c| c.text().map(str::to_string)).collect()
    }

    /// Every text (or caption) of the delivery, to any chat, joined by `---` lines.
    pub fn all_text(&self) -> String {
        self.calls.iter().filter_map(|c| c.text()).collect::<Vec<_>>().join("\n---\n")
    }

    /// The calls sent to `chat`.
    pub fn calls_to(&self, chat: i64) -> Vec<&BotCall> {
        self.calls.iter().filter(|c| c.chat_id() == Some(chat)).collect()
    }

    /// The `callback_data` of the first inline button, sent to `chat`, whose
    /// data starts with `prefix` (e.g. `rc:` for "confirm redemption").
    pub fn button(&self, chat: i64, prefix: &str) -> Option<String> {
        self.calls_to(chat).into_iter().find_map(|c| buttons(c).into_iter().find(|d| d.starts_with(prefix)))
    }

    /// The text of the first message to `chat` that asks for a reply (`force_reply`).
    pub fn prompt(&self, chat: i64) -> Option<String> {
        self.calls_to(chat).into_iter().find(|c| forces_reply(c)).map(|c| c.text().unwrap_or_default().to_string())
    }
}

/// Drives the bots like people would. See the [module docs](self).
#[derive(Debug)]
pub struct Harness {
    /// The environment (engine, fakes).
    pub env: TestEnv,
    deliver_twice: bool,
    next_update: AtomicI64,
    transcript: Mutex<Vec<String>>,
}

impl Harness {
    /// A harness over `env`.
    pub fn new(env: TestEnv) -> Harness {
        Harness { env, deliver_twice: false, next_update: AtomicI64::new(1), transcript: Mutex::new(Vec::new()) }
    }

    /// Delivers every update twice from now on (the second delivery must be a no-op).
    pub fn deliver_twice(mut self, yes: bool) -> Harness {
        self.deliver_twice = yes;
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.env.engine
    }

    fn next_id(&self) -> i64 {
        self.next_update.fetch_add(1, Ordering::SeqCst)
    }

    fn log(&self, line: String) {
        self.transcript.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// The conversation so far, one line per message, for humans.
    pub fn transcript(&self) -> String {
        self.transcript.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// A webhook request for `bot` with the right secret and `body`.
    pub fn webhook_request(&self, bot: BotKind, body: impl Into<Bytes>) -> Request<Bytes> {
        let secret = webhook_secret(self.env.engine.config(), bot).map(|s| s.expose().to_string()).unwrap_or_default();
        Request::builder()
            .method("POST")
            .uri(format!("/webhook/{}", bot.as_str()))
            .header("content-type", "application/json")
            .header("x-telegram-bot-api-secret-token", secret)
            .body(body.into())
            .unwrap_or_else(|_| Request::new(Bytes::new()))
    }

    /// Sends a raw request to the webhook, runs the deferred tasks, and returns
    /// what happened. The call in the response body is executed against the
    /// recording Bot API, as Telegram would.
    pub async fn post(&self, bot: BotKind, req: Request<Bytes>) -> Delivery {
        let engine = &self.env.engine;
        let out = engine.handle_webhook(bot, req).await;
        let status = out.response.status();
        if status == StatusCode::OK
            && let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(out.response.body())
            && let Some(Value::String(method)) = body.remove("method")
        {
            let call = BotCall { bot, method: known_method(&method), params: body, file: None };
            let _ = loyalty_core::ports::TelegramApi::call(self.env.telegram.as_ref(), &call).await;
        }
        for task in out.deferred {
            engine.run_task(task).await;
        }
        let calls = self.env.telegram.take();
        for c in &calls {
            match (c.method, c.chat_id(), c.text()) {
                ("answerCallbackQuery", _, Some(t)) => {
                    self.log(format!("  {} bot (toast): {}", c.bot.as_str(), plain(t)))
                }
                (_, Some(chat), Some(t)) => self.log(format!("  {} bot → {chat}: {}", c.bot.as_str(), plain(t))),
                _ => {}
            }
        }
        Delivery { status, calls }
    }

    /// Delivers `update` (twice when so configured; the second delivery must
    /// produce no calls, or the harness panics).
    pub async fn deliver(&self, bot: BotKind, update: &Update) -> Delivery {
        let body = serde_json::to_vec(update).unwrap_or_default();
        let first = self.post(bot, self.webhook_request(bot, body.clone())).await;
        if self.deliver_twice {
            let again = self.post(bot, self.webhook_request(bot, body)).await;
            assert_eq!(again.status, StatusCode::OK, "a redelivered update must be acknowledged");
            assert!(again.calls.is_empty(), "a redelivered update must have no effect, got {:?}", again.calls);
        }
        first
    }

    /// `who` applies as partner `name` (category cafe) with `/apply`, and
    /// `admin` (in the admin chat) approves with the button of `/pending`.
    pub async fn approved_partner(&self, who: &TgUser, admin: &TgUser, name: &str) {
        self.say(BotKind::Partner, who, &format!("/apply {name}; cafe")).await;
        let pending = self.say(BotKind::Admin, admin, "/pending").await;
        if let Some(approve) = pending.button(admin.id, "pa:") {
            self.press(BotKind::Admin, admin, &approve).await;
        }
    }

    /// `who` sends `text` to `bot`.
    pub async fn say(&self, bot: BotKind, who: &TgUser, text: &str) -> Delivery {
        self.log(format!("{} → {} bot: {}", who.first_name, bot.as_str(), one_line(text)));
        let id = self.next_id();
        let update: Update =
            serde_json::from_value(text_json(id, who, text)).unwrap_or_else(|e| panic!("bad update: {e}"));
        self.deliver(bot, &update).await
    }

    /// `who` answers a `force_reply` prompt of `bot` whose text was `prompt`.
    pub async fn answer(&self, bot: BotKind, who: &TgUser, prompt: &str, text: &str) -> Delivery {
        self.log(format!("{} → {} bot (reply): {}", who.first_name, bot.as_str(), one_line(text)));
        let id = self.next_id();
        self.deliver(bot, &reply(id, who, prompt, text)).await
    }

    /// `who` presses the inline button with `data` in `bot`.
    pub async fn press(&self, bot: BotKind, who: &TgUser, data: &str) -> Delivery {
        self.log(format!("{} → {} bot [button {data}]", who.first_name, bot.as_str()));
        let id = self.next_id();
        self.deliver(bot, &callback(id, who, id * 10, data)).await
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        self.env.clock.advance(secs);
    }

    /// A customer by Telegram user.
    pub async fn customer(&self, who: &TgUser) -> StoreResult<Option<Customer>> {
        Ok(self
            .env
            .storage
            .customer_summary(CustomerRef::Telegram(loyalty_core::domain::TelegramUserId(who.id)), 0)
            .await?
            .map(|s| s.customer))
    }

    /// A customer's balance (0 when unknown).
    pub async fn balance(&self, who: &TgUser) -> Points {
        self.customer(who).await.ok().flatten().map(|c| c.balance).unwrap_or(0)
    }

    /// A customer's code.
    pub async fn code(&self, who: &TgUser) -> Option<CustomerCode> {
        self.customer(who).await.ok().flatten().map(|c| c.code)
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ⏎ ")
}

/// Telegram HTML as a person sees it, on one line.
fn plain(html: &str) -> String {
    one_line(&loyalty_core::telegram::html_to_plain(html))
}

/// Maps a method name from a webhook body to the static names [`BotCall`] uses.
fn known_method(m: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "sendMessage",
        "editMessageText",
        "answerCallbackQuery",
        "sendPhoto",
        "editMessageReplyMarkup",
        "deleteMessage",
        "sendChatAction",
    ];
    KNOWN.iter().copied().find(|k| *k == m).unwrap_or("unknown")
}
