//! Fakes of every port, and builders of incoming updates, for tests of the
//! core, of backends and of applications built on it.
//!
//! They are real implementations with test-friendly behaviour, not mocks:
//! [`FakeClock`] is a stepped clock whose `sleep` advances time instantly;
//! [`RecordingTelegram`] answers like the Bot API and records every call.

use loyalty_core::config::Config;
use loyalty_core::context::Ports;
use loyalty_core::domain::Timestamp;
use loyalty_core::engine::Engine;
use loyalty_core::ports::{
    Assistant, AssistantContext, AssistantError, Clock, Randomness, RecordingReporter, Storage, TelegramApi,
    TelegramError, WebhookPost, WebhookPostError, WebhookSender,
};

use async_trait::async_trait;
use loyalty_core::domain::BotKind;
use loyalty_core::telegram::BotCall;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock already failed; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stepped clock. `sleep` advances it instead of waiting; the total slept
/// time is kept so tests can assert on rate limiting.
#[derive(Debug)]
pub struct FakeClock {
    millis: AtomicI64,
    slept: AtomicU64,
}

impl FakeClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> FakeClock {
        FakeClock { millis: AtomicI64::new(start.0.saturating_mul(1000)), slept: AtomicU64::new(0) }
    }

    /// Moves time forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        self.millis.fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        self.millis.store(t.0.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Milliseconds spent in `sleep` so far.
    pub fn slept_millis(&self) -> u64 {
        self.slept.load(Ordering::SeqCst)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.millis.load(Ordering::SeqCst).div_euclid(1000))
    }

    async fn sleep(&self, millis: u64) {
        self.slept.fetch_add(millis, Ordering::SeqCst);
        self.millis.fetch_add(i64::try_from(millis).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

/// Deterministic "randomness" (SplitMix64): reproducible tests, never for production.
#[derive(Debug)]
pub struct SeqRandom {
    state: AtomicU64,
}

impl SeqRandom {
    /// A sequence starting from `seed`.
    pub fn new(seed: u64) -> SeqRandom {
        SeqRandom { state: AtomicU64::new(seed) }
    }
}

impl Randomness for SeqRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z =
                self.state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// A Bot API that records every call and answers like Telegram: `getMe` with a
/// username `<bot>_test_bot`, `send*` with a message (increasing `message_id`),
/// `getChatMember` with the status set by [`Self::set_member`] (else Telegram's
/// 400 "user not found"), anything else with `true`. Failures can be queued
/// with [`Self::fail_next`].
#[derive(Debug, Default)]
pub struct RecordingTelegram {
    calls: Mutex<Vec<BotCall>>,
    failures: Mutex<VecDeque<TelegramError>>,
    next_message_id: AtomicI64,
    members: Mutex<HashMap<(i64, i64), String>>,
}

impl RecordingTelegram {
    /// An empty recorder.
    pub fn new() -> RecordingTelegram {
        RecordingTelegram::default()
    }

    /// The calls so far (excluding `getMe`).
    pub fn calls(&self) -> Vec<BotCall> {
        lock(&self.calls).clone()
    }

    /// Removes and returns the calls so far (excluding `getMe`).
    pub fn take(&self) -> Vec<BotCall> {
        std::mem::take(&mut *lock(&self.calls))
    }

    /// Makes the next call fail with `error` (queued, first in first out).
    pub fn fail_next(&self, error: TelegramError) {
        lock(&self.failures).push_back(error);
    }

    /// Makes `user` a member of `chat` with `status` (`creator`,
    /// `administrator`, `member`, `restricted`, `left`, `kicked`) for
    /// `getChatMember`; a `restricted` member is still in the chat.
    pub fn set_member(&self, chat: i64, user: i64, status: &str) {
        lock(&self.members).insert((chat, user), status.to_string());
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl TelegramApi for RecordingTelegram {
    async fn call(&self, call: &BotCall) -> Result<Value, TelegramError> {
        if call.method == "getMe" {
            let id = 1000 + call.bot as i64;
            return Ok(
                json!({"id": id, "is_bot": true, "first_name": call.bot.as_str(), "username": format!("{}_test_bot", call.bot.as_str())}),
            );
        }
        if let Some(e) = lock(&self.failures).pop_front() {
            return Err(e);
        }
        lock(&self.calls).push(call.clone());
        if call.method == "getChatMember" {
            let id = |k: &str| call.params.get(k).and_then(Value::as_i64).unwrap_or_default();
            let (chat, user) = (id("chat_id"), id("user_id"));
            return match lock(&self.members).get(&(chat, user)) {
                Some(status) => Ok(json!({
                    "status": status,
                    "user": {"id": user, "is_bot": false, "first_name": "Member"},
                    "is_member": status == "restricted",
                })),
                None => Err(TelegramError::Api { code: 400, description: "Bad Request: user not found".into() }),
            };
        }
        if call.method.starts_with("send") || call.method == "editMessageText" {
            let id = self.next_message_id.fetch_add(1, Ordering::SeqCst) + 1;
            let chat_id = call.chat_id().unwrap_or_default();
            Ok(json!({"message_id": id, "date": 0, "chat": {"id": chat_id, "type": "private"}}))
        } else {
            Ok(Value::Bool(true))
        }
    }
}

/// A webhook sender that records every delivery and answers `200`, or what
/// was queued with [`RecordingWebhooks::answer_next`] (a status, or no answer).
#[derive(Debug, Default)]
pub struct RecordingWebhooks {
    posts: Mutex<Vec<WebhookPost>>,
    answers: Mutex<VecDeque<Result<u16, WebhookPostError>>>,
}

impl RecordingWebhooks {
    /// An empty recorder.
    pub fn new() -> RecordingWebhooks {
        RecordingWebhooks::default()
    }

    /// The deliveries so far (answered or not).
    pub fn posts(&self) -> Vec<WebhookPost> {
        lock(&self.posts).clone()
    }

    /// Removes and returns the deliveries so far.
    pub fn take(&self) -> Vec<WebhookPost> {
        std::mem::take(&mut *lock(&self.posts))
    }

    /// Makes the next delivery answer `answer` (queued, first in first out).
    pub fn answer_next(&self, answer: Result<u16, WebhookPostError>) {
        lock(&self.answers).push_back(answer);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl WebhookSender for RecordingWebhooks {
    async fn post(&self, post: &WebhookPost) -> Result<u16, WebhookPostError> {
        lock(&self.posts).push(post.clone());
        lock(&self.answers).pop_front().unwrap_or(Ok(200))
    }
}

/// An assistant that answers deterministically from its inputs (or fails when
/// built with [`FakeAssistant::failing`]), recording the questions.
#[derive(Debug, Default)]
pub struct FakeAssistant {
    questions: Mutex<Vec<(String, AssistantContext)>>,
    fail: bool,
}

impl FakeAssistant {
    /// An assistant that answers.
    pub fn new() -> FakeAssistant {
        FakeAssistant::default()
    }

    /// An assistant whose every answer fails (as a timed-out model would).
    pub fn failing() -> FakeAssistant {
        FakeAssistant { fail: true, ..FakeAssistant::default() }
    }

    /// The questions asked so far with their contexts.
    pub fn questions(&self) -> Vec<(String, AssistantContext)> {
        lock(&self.questions).clone()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Assistant for FakeAssistant {
    async fn answer(&self, question: &str, context: &AssistantContext) -> Result<String, AssistantError> {
        lock(&self.questions).push((question.to_string(), context.clone()));
        if self.fail {
            return Err(AssistantError::Failed("model timed out".into()));
        }
        Ok(format!("[{}] {} (balance {})", context.language.code(), question, context.balance))
    }
}

/// The start time of test environments: 2026-11-26 09:00:00 UTC.
pub const TEST_START: Timestamp = Timestamp(loyalty_core::telegram::build::MESSAGE_DATE);

/// The admin chat id in [`test_config`].
pub const ADMIN_CHAT: i64 = 900;

/// The alert chat id in [`test_config`].
pub const ALERT_CHAT: i64 = 901;

/// A configuration with every bot enabled and fixed test tokens and secrets.
pub fn test_config() -> Config {
    let vars = [
        ("TOKEN_CLIENT", "1001:client-token"),
        ("TOKEN_PARTNER", "1002:partner-token"),
        ("ADMIN_BOT_TOKEN", "1003:admin-token"),
        ("ADMIN_CHAT_ID", "900"),
        ("SENTRY_ALERT_TELEGRAM_TOKEN", "1004:alerts-token"),
        ("SENTRY_ALERT_CHAT_ID", "901"),
        ("SENTRY_WEBHOOK_SECRET", "sentry-hook-secret"),
        ("WELCOME_BONUS_AMOUNT", "100"),
        ("REFERRAL_BONUS_AMOUNT", "50"),
        ("FRONTEND_URL", "https://app.example.com"),
        ("CLIENT_BOT_USERNAME", "loyalty_client_bot"),
        ("PARTNER_BOT_USERNAME", "loyalty_partner_bot"),
        ("ASSISTANT_DAILY_LIMIT", "3"),
    ];
    // The values above are valid by construction; fall back to defaults rather than panic.
    Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap_or_default()
}

/// An engine wired to fakes, with handles to inspect them.
#[derive(Clone)]
pub struct TestEnv {
    /// The engine.
    pub engine: Engine,
    /// The storage it uses.
    pub storage: Arc<dyn Storage>,
    /// The stepped clock.
    pub clock: Arc<FakeClock>,
    /// The recording Bot API.
    pub telegram: Arc<RecordingTelegram>,
    /// The fake assistant.
    pub assistant: Arc<FakeAssistant>,
    /// The recording reporter.
    pub reporter: Arc<RecordingReporter>,
    /// The webhook endpoints' side: what was posted to them.
    pub webhooks: Arc<RecordingWebhooks>,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv").field("now", &self.clock.now()).finish_non_exhaustive()
    }
}

impl TestEnv {
    /// An environment over `storage` with `config`, starting at [`TEST_START`].
    pub fn with(storage: Arc<dyn Storage>, config: Config) -> TestEnv {
        let clock = Arc::new(FakeClock::new(TEST_START));
        let telegram = Arc::new(RecordingTelegram::new());
        let assistant = Arc::new(FakeAssistant::new());
        let reporter = Arc::new(RecordingReporter::default());
        let webhooks = Arc::new(RecordingWebhooks::new());
        let ports = Ports {
            storage: storage.clone(),
            telegram: telegram.clone(),
            assistant: Some(assistant.clone()),
            reporter: reporter.clone(),
            clock: clock.clone(),
            random: Arc::new(SeqRandom::new(7)),
            webhooks: Some(webhooks.clone()),
        };
        TestEnv { engine: Engine::new(config, ports), storage, clock, telegram, assistant, reporter, webhooks }
    }

    /// An environment over a fresh in-memory store with [`test_config`].
    pub fn new() -> TestEnv {
        TestEnv::with(Arc::new(loyalty_core::stores::memory::MemoryStore::new()), test_config())
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

/// Which bot a recorded call went through and its text, for compact asserts.
pub fn summarize(calls: &[BotCall]) -> Vec<(BotKind, &'static str, Option<i64>, String)> {
    calls.iter().map(|c| (c.bot, c.method, c.chat_id(), c.text().unwrap_or_default().to_string())).collect()
}
