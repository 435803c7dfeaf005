//! The [`Engine`]: configuration plus ports, and the entry points adapters call.

use crate::config::Config;
use crate::domain::{BroadcastId, CustomerCode, CustomerId, Language, Timestamp};
use crate::maybe_send::{MaybeSend, MaybeSync};
use crate::ports::{
    Assistant, BotKind, Clock, ErrorReport, ErrorReporter, Randomness, Storage, TelegramApi, TelegramError,
};
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
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").field("assistant", &self.assistant.is_some()).finish_non_exhaustive()
    }
}

/// The route a request path belongs to, without ids or other data: what an
/// adapter may put in an error report (a path can quote what someone sent).
///
/// ```
/// use loyalty_core::engine::route_label;
/// assert_eq!(route_label("/webhook/client"), "/webhook/client");
/// assert_eq!(route_label("/api/v1/redemptions/42/confirm"), "/api/…");
/// assert_eq!(route_label("/anything-else"), "(other)");
/// ```
pub fn route_label(path: &str) -> &'static str {
    if let Some(bot) = path.strip_prefix("/webhook/") {
        match BotKind::parse(bot) {
            Some(BotKind::Client) => "/webhook/client",
            Some(BotKind::Partner) => "/webhook/partner",
            Some(BotKind::Admin) => "/webhook/admin",
            _ => "/webhook/…",
        }
    } else if path.starts_with("/api/") {
        "/api/…"
    } else {
        match path {
            "/hooks/sentry" => "/hooks/sentry",
            "/ready" => "/ready",
            "/health" => "/health",
            "(scheduled)" => "(scheduled)",
            _ => "(other)",
        }
    }
}

/// How many batches of a pending broadcast one maintenance pass delivers by
/// default; the rest waits for the next pass (or for the job's own task).
pub const BROADCAST_BATCHES_PER_PASS: u32 = 20;

/// How long an update's claim is kept (7 days): Telegram stops redelivering an
/// update within a day, so the maintenance pass forgets older claims.
pub const UPDATE_CLAIM_RETENTION_SECS: i64 = 7 * 86_400;

/// Work to do after a webhook has been answered: on Tokio a spawned task, on
/// Workers `ctx.wait_until`. Run each with [`Engine::run_task`].
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
    /// Deliver a broadcast job (see [`Engine::deliver_broadcast`]).
    Broadcast(BroadcastId),
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

/// The loyalty engine: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    /// The store view of one update's processing ([`Storage::fold_claim`]),
    /// used instead of the port's store by [`Engine::storage`].
    scoped_storage: Option<Arc<dyn Storage>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("inner", &self.inner)
            .field("scoped_storage", &self.scoped_storage.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct Inner {
    config: Config,
    ports: Ports,
    usernames: Mutex<HashMap<BotKind, String>>,
    display_names: Mutex<HashMap<BotKind, String>>,
    /// Claims whose processing ended without settling (a panic unwound it, or
    /// its future was dropped): released by [`Engine::release_orphaned_claims`].
    orphaned_claims: Mutex<Vec<(BotKind, i64)>>,
    claim_hook: Option<Arc<dyn ClaimHook>>,
}

/// Told when an update's claim is taken and when its processing has ended,
/// for runtimes where a panic aborts instead of unwinding (wasm32): there, a
/// claim taken and never settled belonged to processing that died with the
/// instance, and the adapter gives it to [`Engine::release_claims`] so that
/// Telegram's retry of the update is processed instead of being taken for a
/// duplicate. (Where panics unwind, the engine does this itself: see
/// [`Engine::release_orphaned_claims`].) The hook must keep its record outside
/// the state a panic destroys — on Workers, in a JavaScript global. A
/// duplicate delivery processed at the same time is announced too, so the
/// hook should count: the update stays recorded until its last `settled`.
pub trait ClaimHook: MaybeSend + MaybeSync + std::fmt::Debug {
    /// `(bot, update_id)` was claimed and is about to be processed.
    fn claimed(&self, bot: BotKind, update_id: i64);
    /// The processing of `(bot, update_id)` ended (successfully or not).
    fn settled(&self, bot: BotKind, update_id: i64);
}

/// An update's claim while it is processed. Settled when processing returns;
/// dropped unsettled (a panic unwinding through it, or the future dropped),
/// it records the claim as orphaned.
pub(crate) struct ClaimGuard<'a> {
    engine: &'a Engine,
    claim: (BotKind, i64),
    settled: bool,
}

impl ClaimGuard<'_> {
    /// Processing ended: the claim stays (success, permanent failure) or the
    /// caller released it (temporary failure).
    pub(crate) fn settle(mut self) {
        self.settled = true;
    }
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        let (bot, update_id) = self.claim;
        if !self.settled {
            let mut orphans = self.engine.inner.orphaned_claims.lock().unwrap_or_else(|e| e.into_inner());
            orphans.push(self.claim);
        }
        if let Some(hook) = &self.engine.inner.claim_hook {
            hook.settled(bot, update_id);
        }
    }
}

impl Engine {
    /// Builds an engine.
    // On wasm32 the ports need not be `Send`/`Sync` (one thread per isolate), and
    // one `Arc` type for both targets keeps the engine's API the same.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn new(config: Config, ports: Ports) -> Engine {
        Engine::build(config, ports, None)
    }

    /// Builds an engine that tells `hook` about the claims of updates being
    /// processed (see [`ClaimHook`]; loyalty-edge uses it on Workers).
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn with_claim_hook(config: Config, ports: Ports, hook: Arc<dyn ClaimHook>) -> Engine {
        Engine::build(config, ports, Some(hook))
    }

    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    fn build(config: Config, ports: Ports, claim_hook: Option<Arc<dyn ClaimHook>>) -> Engine {
        let mut usernames = HashMap::new();
        if let Some(u) = &config.client_bot_username {
            usernames.insert(BotKind::Client, u.clone());
        }
        if let Some(u) = &config.partner_bot_username {
            usernames.insert(BotKind::Partner, u.clone());
        }
        Engine {
            inner: Arc::new(Inner {
                config,
                ports,
                usernames: Mutex::new(usernames),
                display_names: Mutex::new(HashMap::new()),
                orphaned_claims: Mutex::new(Vec::new()),
                claim_hook,
            }),
            scoped_storage: None,
        }
    }

    /// This engine with `storage` in place of the port's store, for one update's processing.
    pub(crate) fn scoped(&self, storage: Arc<dyn Storage>) -> Engine {
        Engine { inner: self.inner.clone(), scoped_storage: Some(storage) }
    }

    /// Marks `(bot, update_id)` as claimed for the duration of its processing.
    pub(crate) fn guard_claim(&self, bot: BotKind, update_id: i64) -> ClaimGuard<'_> {
        if let Some(hook) = &self.inner.claim_hook {
            hook.claimed(bot, update_id);
        }
        ClaimGuard { engine: self, claim: (bot, update_id), settled: false }
    }

    /// Releases the claims of updates whose processing died half-way (a
    /// panic unwound it, or its future was dropped), so that Telegram's
    /// retry of each is processed. Called by [`Engine::process_update`]
    /// before each update, and by adapters right after catching a panic.
    pub async fn release_orphaned_claims(&self) {
        let orphans = {
            let mut orphans = self.inner.orphaned_claims.lock().unwrap_or_else(|e| e.into_inner());
            if orphans.is_empty() {
                return;
            }
            std::mem::take(&mut *orphans)
        };
        self.release_claims(&orphans).await;
    }

    /// Releases `claims` (best effort; a failure is reported): their updates'
    /// processing died, and Telegram's retries must be processed. Releasing
    /// the claim of an update that did finish is safe for points (every
    /// ledger write carries an idempotency key), at worst a message repeats.
    pub async fn release_claims(&self, claims: &[(BotKind, i64)]) {
        for &(bot, update_id) in claims {
            if let Err(e) = self.base_storage().release_update(bot, update_id).await {
                self.report(ErrorReport {
                    message: format!(
                        "could not release the claim of update {update_id} after its processing died: {e}"
                    ),
                    context: "webhook",
                    update_kind: None,
                    temporary: e.is_temporary(),
                })
                .await;
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The ports.
    pub fn ports(&self) -> &Ports {
        &self.inner.ports
    }

    /// The port's store itself, never an update's view (for claims and releases).
    pub(crate) fn base_storage(&self) -> &dyn Storage {
        self.inner.ports.storage.as_ref()
    }

    /// Storage.
    pub fn storage(&self) -> &dyn Storage {
        self.scoped_storage.as_deref().unwrap_or(self.inner.ports.storage.as_ref())
    }

    /// Current time from the clock port.
    pub fn now(&self) -> Timestamp {
        self.inner.ports.clock.now()
    }

    /// A fresh random customer code.
    pub fn random_code(&self) -> CustomerCode {
        let mut b = [0u8; 5];
        self.inner.ports.random.fill(&mut b);
        CustomerCode::from_random(b)
    }

    /// `n` random bytes as lower-case hex (2n characters).
    pub fn random_hex(&self, n: usize) -> String {
        let mut b = vec![0u8; n];
        self.inner.ports.random.fill(&mut b);
        hex::encode(b)
    }

    /// Reports an error to the reporter port and to `tracing`.
    pub async fn report(&self, report: ErrorReport) {
        tracing::warn!(
            context = report.context,
            update_kind = report.update_kind,
            temporary = report.temporary,
            "{}",
            report.message
        );
        self.inner.ports.reporter.report(report).await;
    }

    /// A bot's `@username` (without `@`): from configuration, else asked once
    /// with `getMe` and cached. `None` if Telegram cannot be asked now.
    pub async fn bot_username(&self, bot: BotKind) -> Option<String> {
        if let Some(u) = self.inner.usernames.lock().ok().and_then(|m| m.get(&bot).cloned()) {
            return Some(u);
        }
        let call = BotCall { bot, method: "getMe", params: Default::default(), file: None };
        let me = self.inner.ports.telegram.call(&call).await.ok()?;
        let name = me.get("username")?.as_str()?.to_string();
        if let Ok(mut m) = self.inner.usernames.lock() {
            m.insert(bot, name.clone());
        }
        Some(name)
    }

    /// A bot's display name (`first_name` from `getMe`), asked once and cached;
    /// `None` if Telegram cannot be asked now.
    pub async fn bot_display_name(&self, bot: BotKind) -> Option<String> {
        if let Some(n) = self.inner.display_names.lock().ok().and_then(|m| m.get(&bot).cloned()) {
            return Some(n);
        }
        let call = BotCall { bot, method: "getMe", params: Default::default(), file: None };
        let me = self.inner.ports.telegram.call(&call).await.ok()?;
        let name = me.get("first_name")?.as_str()?.trim().to_string();
        if name.is_empty() {
            return None;
        }
        if let Ok(mut m) = self.inner.display_names.lock() {
            m.insert(bot, name.clone());
        }
        Some(name)
    }

    /// Sends one call, waiting and retrying (up to 3 times) when Telegram
    /// answers 429 with `retry_after` or fails transiently.
    pub async fn send(&self, call: &BotCall) -> Result<serde_json::Value, TelegramError> {
        let mut attempt = 0;
        loop {
            match self.inner.ports.telegram.call(call).await {
                Err(TelegramError::RetryAfter(secs)) if attempt < 3 => {
                    self.inner.ports.clock.sleep(u64::from(secs.max(1)) * 1000).await;
                }
                Err(e) if e.is_temporary() && attempt < 3 => {
                    self.inner.ports.clock.sleep(500 << attempt).await;
                }
                other => return other,
            }
            attempt += 1;
        }
    }

    /// One maintenance pass, run periodically by the adapters (a Tokio interval
    /// natively, a Cron Trigger on Workers): forgets update claims older than
    /// [`UPDATE_CLAIM_RETENTION_SECS`], marks overdue redemption requests
    /// expired (telling the people involved) and resumes pending broadcasts —
    /// e.g. ones interrupted by a restart — delivering up to `broadcast_batches`
    /// batches of each. Failures are reported, not returned.
    pub async fn maintenance_pass(&self, broadcast_batches: u32) {
        let cutoff = self.now().plus(-UPDATE_CLAIM_RETENTION_SECS);
        match self.storage().prune_update_claims(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "old update claims forgotten"),
            Err(e) => {
                self.report(ErrorReport {
                    message: format!("pruning old update claims failed: {e}"),
                    context: "maintenance",
                    update_kind: None,
                    temporary: e.is_temporary(),
                })
                .await;
            }
        }
        match self.expire_redemptions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "redemption requests expired"),
            Err(e) => {
                self.report(ErrorReport {
                    message: format!("expiring redemption requests failed: {e}"),
                    context: "maintenance",
                    update_kind: None,
                    temporary: e.is_temporary(),
                })
                .await;
            }
        }
        match self.storage().pending_broadcasts().await {
            Ok(jobs) => {
                for job in jobs {
                    self.deliver_broadcast(job.id, broadcast_batches).await;
                }
            }
            Err(e) => {
                self.report(ErrorReport {
                    message: format!("listing pending broadcasts failed: {e}"),
                    context: "maintenance",
                    update_kind: None,
                    temporary: e.is_temporary(),
                })
                .await;
            }
        }
    }

    /// Runs one deferred task to completion. Failures are reported, not returned:
    /// by now the webhook has been answered and nobody else could act on them.
    pub async fn run_task(&self, task: Task) {
        match task {
            Task::Call(call) => {
                if let Err(e) = self.send(&call).await {
                    let temporary = e.is_temporary();
                    self.report(ErrorReport {
                        message: format!("{} via {} bot failed: {e}", call.method, call.bot.as_str()),
                        context: "deferred",
                        update_kind: None,
                        temporary,
                    })
                    .await;
                }
            }
            Task::Answer { chat_id, customer, language, question } => {
                crate::bots::client::answer_question(self, chat_id, customer, language, &question).await;
            }
            Task::Broadcast(job) => {
                self.deliver_broadcast(job, u32::MAX).await;
            }
        }
    }
}
