//! The [`Context`] every handler runs in — configuration, ports and a few
//! services built on them — and what a handler returns: an [`Outbox`] of Bot
//! API calls and deferred [`Task`]s.
//!
//! The bots ([`crate::bots`]), the REST API ([`crate::api`]) and the scheduled
//! jobs ([`crate::jobs`]) take a `&Context`; the [`Engine`](crate::engine::Engine)
//! owns one and adds the entry points adapters call (webhooks, the API,
//! deferred tasks, the maintenance pass) and the update claims.

mod extension;
mod payload;
pub(crate) mod served;

pub use extension::{Event, Extension};
pub use payload::{Delivery, Leased, decode, encode};
pub(crate) use served::{BotCode, Bots};

use crate::config::Config;
use crate::domain::{BotKind, BroadcastId, CustomerCode, CustomerId, Language, TelegramUserId, Timestamp};
use crate::observe::Scope;
use crate::outgoing::{OutgoingEvent, WebhookDelivery};
use crate::ports::{
    Assistant, Clock, ErrorReport, ErrorReporter, Randomness, Storage, TelegramApi, TelegramError, WebhookSender,
};
use crate::program::RulesVersion;
use crate::telegram::BotCall;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The adapters' implementations of the ports.
#[derive(Clone)]
pub struct Ports {
    /// Where the program's state lives.
    pub storage: Arc<dyn Storage>,
    /// Sends Bot API calls.
    pub telegram: Arc<dyn TelegramApi>,
    /// Answers questions; `None` when `OPENAI_API_KEY` is not set.
    pub assistant: Option<Arc<dyn Assistant>>,
    /// Receives error reports.
    pub reporter: Arc<dyn ErrorReporter>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Random bytes.
    pub random: Arc<dyn Randomness>,
    /// Posts signed deliveries to the program's webhook endpoints
    /// ([`crate::outgoing`]); `None` publishes no events from this process
    /// (and leaves the deliveries others published to a process with one).
    pub webhooks: Option<Arc<dyn WebhookSender>>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("assistant", &self.assistant.is_some())
            .field("webhooks", &self.webhooks.is_some())
            .finish_non_exhaustive()
    }
}

/// Work to do after a webhook has been answered: on Tokio a spawned task, on
/// Workers `ctx.wait_until`. Run each with [`Engine::run_task`](crate::engine::Engine::run_task).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Task {
    /// Send one Bot API call (retried on `retry_after`).
    Call(BotCall),
    /// Ask the assistant and send the answer to the customer.
    Answer {
        /// Chat to answer in (the customer's private chat).
        chat_id: i64,
        /// The customer asking.
        customer: CustomerId,
        /// Their language.
        language: Language,
        /// The question.
        question: String,
    },
    /// Deliver a broadcast job (see [`Engine::deliver_broadcast`](crate::engine::Engine::deliver_broadcast)).
    Broadcast(BroadcastId),
    /// Write these tasks' messages to the outbox (finishing an update), then
    /// send them: see [`crate::outbox`].
    Deliver(Delivery),
    /// Send messages already in the outbox and leased to this process, and
    /// record their outcomes: see [`crate::outbox::enqueue_now`].
    Send(Leased),
    /// Publish an event to the webhook endpoints subscribed to it: kept in
    /// the outbox, then fanned out into one [`Task::Webhook`] per endpoint
    /// ([`crate::outgoing`]).
    Event(OutgoingEvent),
    /// Deliver an event to one endpoint, signed, retried for a day.
    Webhook(WebhookDelivery),
}

impl Task {
    /// The Bot API calls this task makes, in order: its own, a
    /// [`Task::Deliver`]'s and those of the messages a [`Task::Send`] sends.
    pub fn calls(&self) -> Vec<BotCall> {
        match self {
            Task::Call(call) => vec![call.clone()],
            Task::Deliver(d) => d.tasks.iter().flat_map(Task::calls).collect(),
            Task::Send(leased) => {
                leased.messages.iter().filter_map(|m| decode(&m.payload)).flat_map(|t| t.calls()).collect()
            }
            Task::Answer { .. } | Task::Broadcast(_) | Task::Event(_) | Task::Webhook(_) => Vec::new(),
        }
    }
}

/// What a handler produced: calls to make, in order. The first one may ride in
/// the webhook response; the rest become [`Task::Call`]s, followed by `tasks`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outbox {
    /// Bot API calls, in order.
    pub calls: Vec<BotCall>,
    /// Other deferred work.
    pub tasks: Vec<Task>,
}

impl Outbox {
    /// An outbox with one call.
    pub fn one(call: BotCall) -> Outbox {
        Outbox { calls: vec![call], tasks: Vec::new() }
    }

    /// Adds a call.
    pub fn push(&mut self, call: BotCall) -> &mut Self {
        self.calls.push(call);
        self
    }

    /// Adds a deferred task.
    pub fn defer(&mut self, task: Task) -> &mut Self {
        self.tasks.push(task);
        self
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty() && self.tasks.is_empty()
    }

    /// Splits into the call for the webhook response (the first call that
    /// [fits](BotCall::fits_webhook_reply) `bot`, if it is the first call) and
    /// the deferred rest, in order.
    pub fn split_for_webhook(self, bot: BotKind) -> (Option<BotCall>, Vec<Task>) {
        let mut calls = self.calls.into_iter();
        let mut deferred = Vec::new();
        let mut first = None;
        if let Some(c) = calls.next() {
            if c.fits_webhook_reply(bot) {
                first = Some(c);
            } else {
                deferred.push(Task::Call(c));
            }
        }
        deferred.extend(calls.map(Task::Call));
        deferred.extend(self.tasks);
        (first, deferred)
    }
}

/// Configuration, ports and the services built on them: what a bot, an API
/// handler or a job works with. Cheap to clone (one `Arc`).
///
/// Get one from [`Engine::context`](crate::engine::Engine::context) (an
/// engine also derefs to its context).
#[derive(Clone)]
pub struct Context {
    shared: Arc<Shared>,
    /// The store view of one update's processing ([`Storage::fold_claim`]),
    /// used instead of the port's store by [`Context::storage`].
    scoped_storage: Option<Arc<dyn Storage>>,
    /// The update or request being processed, for the breadcrumbs of reports.
    scope: Option<Arc<Scope>>,
    /// An update processed again after its first processing died
    /// ([`crate::outbox::recover_updates`]): replayed use cases tell people
    /// again (their first messages may never have been written).
    reprocessing: bool,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("shared", &self.shared)
            .field("scoped_storage", &self.scoped_storage.is_some())
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Debug)]
struct Shared {
    config: Config,
    ports: Ports,
    /// The built-in bots this context runs ([`crate::bots::handle`] dispatches through it).
    bots: Bots,
    extension: Option<Arc<dyn Extension>>,
    usernames: Mutex<HashMap<BotKind, String>>,
    display_names: Mutex<HashMap<BotKind, String>>,
    /// The newest rules version seen ([`Context::rules`]).
    rules: Mutex<Option<Arc<RulesVersion>>>,
}

impl Context {
    /// A context over `config` and `ports` that runs the built-in bots of
    /// `bots` ([`Bots::ALL`] for all three; see [`Engine::serving`](crate::Engine::serving)).
    /// Bot usernames given in the configuration are used as they are; the
    /// others are asked with `getMe`.
    // On wasm32 the ports need not be `Send`/`Sync` (one thread per isolate), and
    // one `Arc` type for both targets keeps the API the same.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn new(config: Config, ports: Ports, bots: Bots) -> Context {
        let mut usernames = HashMap::new();
        if let Some(u) = &config.client_bot_username {
            usernames.insert(BotKind::Client, u.clone());
        }
        if let Some(u) = &config.partner_bot_username {
            usernames.insert(BotKind::Partner, u.clone());
        }
        let shared = Shared {
            config,
            ports,
            bots,
            extension: None,
            usernames: Mutex::new(usernames),
            display_names: Mutex::default(),
            rules: Mutex::default(),
        };
        Context { shared: Arc::new(shared), scoped_storage: None, scope: None, reprocessing: false }
    }

    /// This context with `extension` consulted by the bots and told of use cases' events.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub(crate) fn with_extension(self, extension: Arc<dyn Extension>) -> Context {
        let Shared { config, ports, bots, usernames, display_names, rules, .. } = match Arc::try_unwrap(self.shared) {
            Ok(shared) => shared,
            Err(shared) => Shared {
                config: shared.config.clone(),
                ports: shared.ports.clone(),
                bots: shared.bots,
                extension: None,
                usernames: Mutex::new(shared.usernames.lock().map(|m| m.clone()).unwrap_or_default()),
                display_names: Mutex::new(shared.display_names.lock().map(|m| m.clone()).unwrap_or_default()),
                rules: Mutex::new(shared.rules.lock().ok().and_then(|r| r.clone())),
            },
        };
        let shared = Shared { config, ports, bots, extension: Some(extension), usernames, display_names, rules };
        Context { shared: Arc::new(shared), ..self }
    }

    /// The built-in bots this context runs (see [`Bots`]).
    pub fn bots(&self) -> Bots {
        self.shared.bots
    }

    /// The program's [`Extension`], if it registered one.
    pub fn extension(&self) -> Option<&dyn Extension> {
        self.shared.extension.as_deref()
    }

    /// The calls the extension adds for `event` (none without an extension).
    pub(crate) fn emit(&self, event: &Event<'_>) -> Vec<BotCall> {
        self.extension().map(|e| e.on_event(self, event)).unwrap_or_default()
    }

    /// Publishes `events` to the webhook endpoints: kept with the messages
    /// of the update or request being processed, written to the outbox with
    /// them. Nothing is kept without a [`WebhookSender`] (or outside an
    /// update's or a request's processing: jobs write theirs themselves).
    pub(crate) fn publish(&self, events: Vec<OutgoingEvent>) {
        if let Some(scope) = &self.scope
            && self.publishes()
            && !events.is_empty()
        {
            scope.publish(events);
        }
    }

    /// Whether this process publishes webhook events (it has a [`WebhookSender`]).
    pub(crate) fn publishes(&self) -> bool {
        self.shared.ports.webhooks.is_some()
    }

    /// This context with `storage` in place of the port's store, for the
    /// processing of one update or request (`scope`).
    pub(crate) fn scoped(&self, storage: Arc<dyn Storage>, scope: Arc<Scope>) -> Context {
        Context {
            shared: self.shared.clone(),
            scoped_storage: Some(storage),
            scope: Some(scope),
            reprocessing: self.reprocessing,
        }
    }

    /// This context for processing an update again (see [`Context::is_reprocessing`]).
    pub(crate) fn reprocessing(mut self) -> Context {
        self.reprocessing = true;
        self
    }

    /// Whether an update is being processed again after its first processing
    /// died before its messages were written ([`crate::outbox::recover_updates`]):
    /// a use case whose ledger write is replayed then tells the people
    /// involved again, as the first processing would have.
    pub fn is_reprocessing(&self) -> bool {
        self.reprocessing
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The ports.
    pub fn ports(&self) -> &Ports {
        &self.shared.ports
    }

    /// The port's store itself, never an update's view (for claims and releases).
    pub(crate) fn base_storage(&self) -> &dyn Storage {
        self.shared.ports.storage.as_ref()
    }

    /// Storage: the port's store, or the view of the update being processed.
    pub fn storage(&self) -> &dyn Storage {
        self.scoped_storage.as_deref().unwrap_or(self.shared.ports.storage.as_ref())
    }

    /// Current time from the clock port.
    pub fn now(&self) -> Timestamp {
        self.shared.ports.clock.now()
    }

    /// Whether `user` is one of the program's admins outside the admin chat
    /// (the Mini App opened from the admin bot): the user whose private chat
    /// is `ADMIN_CHAT_ID`, or, when that is a group, one of its members as
    /// the admin bot sees them now (`getChatMember`: creator, administrator,
    /// member, or restricted but still a member). No admin chat: nobody.
    pub async fn is_admin(&self, user: TelegramUserId) -> Result<bool, crate::telegram::TelegramError> {
        let Some(chat) = self.config().admin_chat_id else { return Ok(false) };
        if chat == user.0 {
            return Ok(true);
        }
        if chat > 0 {
            // A private chat is one person's.
            return Ok(false);
        }
        let call =
            BotCall::new(BotKind::Admin, "getChatMember", &serde_json::json!({ "chat_id": chat, "user_id": user.0 }));
        match self.shared.ports.telegram.call(&call).await {
            Ok(member) => Ok(match member.get("status").and_then(|s| s.as_str()) {
                Some("creator" | "administrator" | "member") => true,
                Some("restricted") => member.get("is_member").and_then(|m| m.as_bool()) == Some(true),
                _ => false,
            }),
            // "user not found", "chat not found" and the like: not a member.
            Err(e) if !e.is_temporary() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The key of the card's rotating codes, when the client bot has a token
    /// ([`crate::card`]).
    pub fn card_key(&self) -> Option<crate::card::CardKey> {
        self.config().token_client.as_ref().map(|t| crate::card::CardKey::from_client_token(t.expose()))
    }

    /// The customer behind a scanned or typed card code: a card's static code,
    /// or the Mini App's rotating code while it lasts ([`crate::card`]).
    /// Without a client bot's token only static codes are read.
    pub fn read_card(&self, input: &str) -> Result<crate::domain::CustomerCode, crate::card::CardCodeError> {
        match self.card_key() {
            Some(key) => key.read(input, self.now()),
            None => crate::domain::CustomerCode::parse(input).ok_or(crate::card::CardCodeError::Malformed),
        }
    }

    /// Waits `millis` milliseconds on the clock port.
    pub async fn sleep_millis(&self, millis: u64) {
        self.shared.ports.clock.sleep(millis).await;
    }

    /// A fresh random customer code.
    pub fn random_code(&self) -> CustomerCode {
        let mut b = [0u8; 5];
        self.shared.ports.random.fill(&mut b);
        CustomerCode::from_random(b)
    }

    /// Fills `buf` from the randomness port.
    pub fn fill_random(&self, buf: &mut [u8]) {
        self.shared.ports.random.fill(buf);
    }

    /// `n` random bytes as lower-case hex (2n characters).
    pub fn random_hex(&self, n: usize) -> String {
        let mut b = vec![0u8; n];
        self.shared.ports.random.fill(&mut b);
        hex::encode(b)
    }

    /// Reports an error to the reporter port and to `tracing`. Within an
    /// update's or a request's processing, a report without breadcrumbs gets
    /// the processing's: what it is and its storage calls so far.
    pub async fn report(&self, mut report: ErrorReport) {
        if let Some(scope) = &self.scope
            && report.breadcrumbs.is_empty()
        {
            report.breadcrumbs = scope.breadcrumbs();
        }
        tracing::warn!(
            context = report.context,
            update_kind = report.update_kind,
            temporary = report.temporary,
            "{}",
            report.message
        );
        self.shared.ports.reporter.report(report).await;
    }

    /// A bot's `@username` (without `@`): from configuration, else asked once
    /// with `getMe` and cached. `None` if Telegram cannot be asked now.
    pub async fn bot_username(&self, bot: BotKind) -> Option<String> {
        self.get_me_field(bot, &self.shared.usernames, "username").await
    }

    /// The rules of `version` (a ledger entry's [`rules_version`](crate::domain::LedgerEntry::rules_version)),
    /// for naming tiers in messages: version 0 is the defaults; a version seen
    /// before comes from memory; another is read once from the store (the
    /// first update after a change of the rules makes that one extra read).
    /// `None` when the store cannot be read now.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub async fn rules(&self, version: u32) -> Option<Arc<RulesVersion>> {
        if version == 0 {
            return Some(Arc::new(RulesVersion::initial()));
        }
        if let Some(known) = self.shared.rules.lock().ok().and_then(|r| r.clone()).filter(|r| r.version >= version) {
            return Some(known);
        }
        // The port's store, not the update's view: this read must not claim the update. Still one of
        // its storage calls, so it is counted.
        let read = self.base_storage().program_rules().await;
        if let Some(scope) = &self.scope {
            scope.tally().record("program_rules", crate::observe::CallOutcome::of(&read));
        }
        let fresh = Arc::new(read.ok()?);
        self.keep_rules(fresh.clone());
        Some(fresh)
    }

    /// Remembers `version` as the newest rules seen (the admin bot does on
    /// `/rules`, so a change made in this process costs no read later).
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub(crate) fn remember_rules(&self, version: &RulesVersion) {
        self.keep_rules(Arc::new(version.clone()));
    }

    /// Keeps `version` in the cache of [`Context::rules`] unless a newer one is there.
    fn keep_rules(&self, version: Arc<RulesVersion>) {
        if let Ok(mut cached) = self.shared.rules.lock()
            && cached.as_ref().is_none_or(|c| c.version <= version.version)
        {
            *cached = Some(version);
        }
    }

    /// A bot's display name (`first_name` from `getMe`), asked once and cached;
    /// `None` if Telegram cannot be asked now.
    pub async fn bot_display_name(&self, bot: BotKind) -> Option<String> {
        self.get_me_field(bot, &self.shared.display_names, "first_name").await
    }

    /// A non-empty string field of `bot`'s `getMe`, from `cache` or asked once and cached.
    async fn get_me_field(&self, bot: BotKind, cache: &Mutex<HashMap<BotKind, String>>, field: &str) -> Option<String> {
        if let Some(v) = cache.lock().ok().and_then(|m| m.get(&bot).cloned()) {
            return Some(v);
        }
        let call = BotCall { bot, method: "getMe", params: Default::default(), file: None };
        let me = self.shared.ports.telegram.call(&call).await.ok()?;
        let value = me.get(field)?.as_str()?.trim().to_string();
        if value.is_empty() {
            return None;
        }
        if let Ok(mut m) = cache.lock() {
            m.insert(bot, value.clone());
        }
        Some(value)
    }

    /// Sends one call, waiting and retrying (up to 3 times) when Telegram
    /// answers 429 with `retry_after` or fails transiently.
    pub async fn send(&self, call: &BotCall) -> Result<serde_json::Value, TelegramError> {
        let mut attempt = 0;
        loop {
            let answered = self.shared.ports.telegram.call(call).await;
            if let Err(e) = &answered {
                crate::observe::bot_api_failed(call, e);
            }
            match answered {
                Err(TelegramError::RetryAfter(secs)) if attempt < 3 => {
                    self.shared.ports.clock.sleep(u64::from(secs.max(1)) * 1000).await;
                }
                Err(e) if e.is_temporary() && attempt < 3 => {
                    self.shared.ports.clock.sleep(500 << attempt).await;
                }
                other => return other,
            }
            attempt += 1;
        }
    }
}
