//! The [`Engine`]: a [`Context`] plus the entry points adapters call — a
//! webhook request ([`Engine::handle_webhook`]), an update from long polling
//! ([`Engine::process_update`]), an API request ([`Engine::handle_api`]), a
//! deferred task ([`Engine::run_task`]) and the periodic
//! [`Engine::maintenance_pass`] — and the update claims that make each update
//! processed once.
//!
//! Every method of the engine is in this module; the work itself is done by
//! the bots ([`crate::bots`]), the REST API ([`crate::api`]) and the scheduled
//! jobs ([`crate::jobs`]), each on a `&Context`.

use crate::api::{self, ApiResponse};
use crate::bots::{self, Bots};
use crate::config::Config;
use crate::context::{Context, Extension, Outbox, Ports, Task};
use crate::domain::BroadcastJob;
use crate::domain::{BotKind, BroadcastId};
use crate::error::Result;
use crate::jobs;
use crate::maybe_send::{MaybeSend, MaybeSync};
use crate::observe::{self, Counted, Scope, Tally};
use crate::ports::{ErrorReport, FoldState, MAX_MESSAGE_BATCH, Storage, UpdateClaim, UpdateRef};
use crate::telegram::Update;
use crate::webhook::{self, WebhookResponse};
use bytes::Bytes;
use http::Request;
use std::sync::{Arc, Mutex};

/// The loyalty engine: cheap to clone, shared by every request. It derefs to
/// its [`Context`] (configuration, ports, storage, clock, …).
#[derive(Clone, Debug)]
pub struct Engine {
    cx: Context,
    claims: Arc<Claims>,
}

#[derive(Debug, Default)]
struct Claims {
    /// Claims whose processing ended without settling (a panic unwound it, or
    /// its future was dropped): released by [`Engine::release_orphaned_claims`].
    orphaned: Mutex<Vec<(BotKind, i64)>>,
    hook: Option<Arc<dyn ClaimHook>>,
    /// With [`Engine::with_carried_finishes`]: updates processed with nothing
    /// left to send, to be finished by the next claim ([`UpdateClaim::finished`]).
    carried: Option<Mutex<Vec<UpdateRef>>>,
}

impl std::ops::Deref for Engine {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.cx
    }
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
            let mut orphans = self.engine.claims.orphaned.lock().unwrap_or_else(|e| e.into_inner());
            orphans.push(self.claim);
        }
        if let Some(hook) = &self.engine.claims.hook {
            hook.settled(bot, update_id);
        }
    }
}

impl Engine {
    /// Builds an engine that serves the three built-in bots ([`Bots::ALL`]).
    pub fn new(config: Config, ports: Ports) -> Engine {
        Engine::serving(config, ports, Bots::ALL)
    }

    /// Builds an engine that serves only the built-in bots of `bots`: an
    /// update to another goes to the program's [`Extension`] alone, and the
    /// maintenance pass leaves that bot's unfinished updates to a process
    /// that serves it. A program that builds its engines this way only, never
    /// naming the other bots ([`Engine::new`] names them all), does not link
    /// their code: a Worker that serves one bot carries that bot alone. See
    /// [`Bots`].
    ///
    /// ```
    /// # let env = loyalty_testkit::TestEnv::new();
    /// # let (config, ports) = (env.engine.config().clone(), env.engine.ports().clone());
    /// use loyalty_core::{Bots, Engine};
    /// use loyalty_core::domain::BotKind;
    ///
    /// let engine = Engine::serving(config, ports, Bots::CLIENT);
    /// assert!(engine.bots().serves(BotKind::Client));
    /// assert!(!engine.bots().serves(BotKind::Partner));
    /// ```
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn serving(config: Config, ports: Ports, bots: Bots) -> Engine {
        Engine { cx: Context::new(config, ports, bots), claims: Arc::default() }
    }

    /// Builds an engine that serves the three built-in bots and tells `hook`
    /// about the claims of updates being processed: [`Engine::new`] then
    /// [`Engine::with_hook`].
    pub fn with_claim_hook(config: Config, ports: Ports, hook: Arc<dyn ClaimHook>) -> Engine {
        Engine::new(config, ports).with_hook(hook)
    }

    /// This engine, telling `hook` about the claims of updates being
    /// processed (see [`ClaimHook`]; loyalty-edge uses it on Workers). Call it
    /// before the engine is cloned.
    pub fn with_hook(self, hook: Arc<dyn ClaimHook>) -> Engine {
        let carries = self.claims.carried.is_some();
        self.with_claims(Some(hook), carries)
    }

    /// This engine with the program's own [`Extension`]: it answers the
    /// commands and buttons the built-in bots do not claim and hears of every
    /// use case's [`Event`](crate::Event). See [`crate::context::Extension`].
    pub fn with_extension(self, extension: Arc<dyn Extension>) -> Engine {
        Engine { cx: self.cx.with_extension(extension), claims: self.claims }
    }

    /// This engine, finishing the updates that had nothing to send with the
    /// next update's claim instead of a storage request of their own
    /// ([`UpdateClaim::finished`]): a processed update's [`Task::Deliver`]
    /// without tasks only records it here. For runtimes that cannot group
    /// those writes across requests (Workers: one invocation per update); the
    /// adapter calls [`Engine::flush_carried_finishes`] when no update came
    /// for a moment. Until finished, an update counts as unfinished: if this
    /// process ends first, the maintenance pass processes it again after
    /// [`STALE_UPDATE_SECS`](crate::outbox::STALE_UPDATE_SECS) (its reply is
    /// sent once more; its ledger writes replay, nothing is applied twice).
    /// Call it before the engine is cloned.
    pub fn with_carried_finishes(self) -> Engine {
        let hook = self.claims.hook.clone();
        self.with_claims(hook, true)
    }

    /// This engine with `hook` and, when `carries`, the finishes carried by
    /// the next claim; the orphaned claims and the finishes waiting move over.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    fn with_claims(self, hook: Option<Arc<dyn ClaimHook>>, carries: bool) -> Engine {
        let orphaned = std::mem::take(&mut *self.claims.orphaned.lock().unwrap_or_else(|e| e.into_inner()));
        let carried = carries.then(|| Mutex::new(self.take_carried(usize::MAX)));
        let claims = Claims { orphaned: Mutex::new(orphaned), hook, carried };
        Engine { cx: self.cx, claims: Arc::new(claims) }
    }

    /// How many updates wait to be finished by the next claim
    /// ([`Engine::with_carried_finishes`]).
    pub fn carried_finishes(&self) -> usize {
        self.claims.carried.as_ref().map_or(0, |c| c.lock().unwrap_or_else(|e| e.into_inner()).len())
    }

    /// Finishes now, in one storage call per 100, the updates waiting for the
    /// next claim ([`Engine::with_carried_finishes`]). A failure is reported;
    /// those updates then stay unfinished (see [`Engine::finish_updates`]).
    pub async fn flush_carried_finishes(&self) {
        let waiting = self.take_carried(usize::MAX);
        if !waiting.is_empty() {
            crate::outbox::finish_updates(&self.cx, waiting).await;
        }
    }

    /// Up to `max` of the updates waiting to be finished.
    fn take_carried(&self, max: usize) -> Vec<UpdateRef> {
        let Some(carried) = &self.claims.carried else { return Vec::new() };
        let mut carried = carried.lock().unwrap_or_else(|e| e.into_inner());
        let n = carried.len().min(max);
        carried.drain(..n).collect()
    }

    /// Takes a deferred task that needs no work of its own: a processed
    /// update's [`Task::Deliver`] with nothing to send, on an engine that
    /// carries finishes ([`Engine::with_carried_finishes`]) — it is recorded
    /// for the next claim, as [`Engine::run_task`] would. Any other task is
    /// given back (`Some`), to be run. Lets an adapter skip scheduling work
    /// after the response when there is none (a Worker's `waitUntil`).
    #[must_use = "a task given back has work to run"]
    pub fn carry(&self, task: Task) -> Option<Task> {
        match task {
            Task::Deliver(delivery) if delivery.tasks.is_empty() && self.claims.carried.is_some() => {
                // Nothing to send: the next claim finishes the update.
                self.carry_back(delivery.update.into_iter().collect());
                None
            }
            task => Some(task),
        }
    }

    /// Puts back updates a claim carried when it is not known to have reached the store.
    fn carry_back(&self, updates: Vec<UpdateRef>) {
        if let Some(carried) = &self.claims.carried
            && !updates.is_empty()
        {
            carried.lock().unwrap_or_else(|e| e.into_inner()).extend(updates);
        }
    }

    /// The context the bots, the API and the jobs run in.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Marks `(bot, update_id)` as claimed for the duration of its processing.
    fn guard_claim(&self, bot: BotKind, update_id: i64) -> ClaimGuard<'_> {
        if let Some(hook) = &self.claims.hook {
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
            let mut orphans = self.claims.orphaned.lock().unwrap_or_else(|e| e.into_inner());
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
            if let Err(e) = self.base_storage().release_update(self.config().bot_id(bot), update_id).await {
                self.report(ErrorReport {
                    message: format!(
                        "could not release the claim of update {update_id} after its processing died: {e}"
                    ),
                    context: "webhook",
                    update_kind: None,
                    temporary: e.is_temporary(),
                    breadcrumbs: Vec::new(),
                })
                .await;
            }
        }
    }

    /// Handles one webhook request for `bot`. The adapter routes
    /// `POST /webhook/<bot>` here with the body read, at most
    /// [`MAX_BODY_BYTES`](webhook::MAX_BODY_BYTES) of it plus one byte when the body is larger.
    ///
    /// The steps, in order, each with the status it answers when it stops the
    /// request:
    ///
    /// | step | check                                                         | status |
    /// |------|---------------------------------------------------------------|--------|
    /// | 1    | method is `POST`                                              | 405 (with `Allow: POST`) |
    /// | 2    | `bot` is the client, partner or admin bot and is configured   | 404    |
    /// | 3    | `X-Telegram-Bot-Api-Secret-Token` equals [`webhook_secret`](webhook::webhook_secret) (constant-time) | 401 |
    /// | 4    | declared (`Content-Length`) and actual body ≤ [`MAX_BODY_BYTES`](webhook::MAX_BODY_BYTES) | 413 |
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
        let update = match webhook::read_update(self.config(), bot, &req) {
            Ok(update) => update,
            Err(refusal) => {
                let now = self.ports().clock.now_micros();
                observe::update_handled(bot, "(unread)", "refused", now, now, &Tally::default());
                if let Some(message) = refusal.report {
                    let context = webhook::report_context(bot);
                    self.report(ErrorReport::new(message, context, false)).await;
                }
                return WebhookResponse::now(refusal.response);
            }
        };
        let ((processed, kept), scope) = self.process_observed(bot, &update).await;
        if let Err(e) = &processed {
            self.report(ErrorReport {
                message: format!("update {} failed: {e}", update.update_id),
                context: webhook::report_context(bot),
                update_kind: Some(update.kind_name()),
                temporary: e.is_temporary(),
                breadcrumbs: scope.breadcrumbs(),
            })
            .await;
        }
        // An update whose claim kept its body is finished after the response, its deferred
        // calls going through the outbox; one claimed after its processing has its calls
        // deferred as they are.
        let finish = match &processed {
            Ok(Some(_)) => kept,
            Err(e) => kept && !e.is_temporary(),
            Ok(None) => false,
        };
        let mut answer = webhook::answer(bot, processed);
        if finish {
            let tasks = std::mem::take(&mut answer.deferred);
            answer.deferred = vec![self.finish_update(bot, update.update_id, tasks)];
        }
        answer
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
    ///    panics unwind, a [`ClaimHook`] where they
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
    ///
    /// Each update ends with one [`observe`] event (and metrics): its kind,
    /// outcome, duration and storage calls.
    pub async fn process_update(&self, bot: BotKind, update: &Update) -> Result<Option<Outbox>> {
        self.process_observed(bot, update).await.0.0
    }

    /// [`Engine::process_update`] and whether the claim kept the update's
    /// body (so the update must be finished), with the scope of its
    /// processing (for the breadcrumbs of a report about it).
    async fn process_observed(&self, bot: BotKind, update: &Update) -> ((Result<Option<Outbox>>, bool), Arc<Scope>) {
        let started = self.ports().clock.now_micros();
        let scope = Scope::update(update.kind_name());
        let (mut processed, kept) = self.process_counted(bot, update, &scope).await;
        if let Ok(Some(outbox)) = &mut processed {
            // The webhook events its use cases published go to the outbox with its messages.
            outbox.tasks.extend(scope.take_events().into_iter().map(Task::Event));
        }
        let outcome = match &processed {
            Ok(None) => "duplicate",
            Ok(Some(outbox)) if outbox.is_empty() => "ignored",
            Ok(Some(_)) => "ok",
            Err(e) if e.is_temporary() => "failed_temporarily",
            Err(_) => "failed",
        };
        let ended = self.ports().clock.now_micros();
        observe::update_handled(bot, update.kind_name(), outcome, started, ended, scope.tally());
        ((processed, kept), scope)
    }

    /// [`Engine::process_update`] with every storage call counted into
    /// `scope`, and whether the claim kept the update's body.
    async fn process_counted(
        &self,
        bot: BotKind,
        update: &Update,
        scope: &Arc<Scope>,
    ) -> (Result<Option<Outbox>>, bool) {
        self.release_orphaned_claims().await;
        let tally = scope.tally();
        let storage = Counted::view(self.ports().storage.clone(), tally.clone());
        let body = serde_json::to_string(update).ok();
        let finished = self.take_carried(MAX_MESSAGE_BATCH as usize);
        let claim = UpdateClaim {
            bot: self.config().bot_id(bot),
            update_id: update.update_id,
            now: self.now(),
            body,
            finished,
        };
        let Some(folded) = self.ports().storage.clone().fold_claim(claim.clone()) else {
            // The backend cannot fold the claim into a call: claim first.
            match storage.claim_update(claim.clone()).await {
                Ok(true) => {}
                Ok(false) => return (Ok(None), false),
                Err(e) => {
                    self.carry_back(claim.finished);
                    return (Err(e.into()), false);
                }
            }
            let guard = self.guard_claim(bot, update.update_id);
            let handled = bots::handle(&self.cx.scoped(storage.clone(), scope.clone()), bot, update).await;
            guard.settle();
            return (self.settle_claimed(bot, update, handled, storage.as_ref()).await, true);
        };
        // The first storage call of the processing claims the update in the same round trip.
        let guard = self.guard_claim(bot, update.update_id);
        let view = Counted::view(folded.storage.clone(), tally.clone());
        let handled = bots::handle(&self.cx.scoped(view, scope.clone()), bot, update).await;
        guard.settle();
        match folded.state() {
            FoldState::Duplicate => (Ok(None), false),
            FoldState::Claimed => (self.settle_claimed(bot, update, handled, storage.as_ref()).await, true),
            // No call claimed it (the update needed no storage, or its calls failed): claimed
            // now, after its processing, with nothing to keep (its calls are known).
            FoldState::Pending => match handled {
                Ok(outbox) => {
                    let claim = UpdateClaim { body: None, ..claim };
                    match storage.claim_update(claim.clone()).await {
                        Ok(claimed) => (Ok(claimed.then_some(outbox)), false),
                        Err(e) => {
                            self.carry_back(claim.finished);
                            (Err(e.into()), false)
                        }
                    }
                }
                Err(e) => {
                    // Whether a failed call reached the store is not known: finish them later.
                    self.carry_back(claim.finished);
                    (Err(e), false)
                }
            },
        }
    }

    /// The end of a claimed update's processing: its outbox, or the error
    /// after releasing the claim (through `storage`) when the failure was temporary.
    async fn settle_claimed(
        &self,
        bot: BotKind,
        update: &Update,
        handled: Result<Outbox>,
        storage: &dyn Storage,
    ) -> Result<Option<Outbox>> {
        match handled {
            Ok(outbox) => Ok(Some(outbox)),
            Err(e) => {
                if e.is_temporary()
                    && let Err(release) = storage.release_update(self.config().bot_id(bot), update.update_id).await
                {
                    self.report(ErrorReport {
                        message: format!("could not release update {} after a failure: {release}", update.update_id),
                        context: webhook::report_context(bot),
                        update_kind: Some(update.kind_name()),
                        temporary: release.is_temporary(),
                        breadcrumbs: Vec::new(),
                    })
                    .await;
                }
                Err(e)
            }
        }
    }

    /// Handles one update addressed to `bot` (no de-duplication here: see
    /// [`Engine::process_update`] for that).
    ///
    /// Returns `Err` only for failures worth a retry by Telegram
    /// ([`crate::Error::is_temporary`]); user mistakes and permanent failures
    /// are answered with a message in the outbox.
    pub async fn handle_update(&self, bot: BotKind, update: &Update) -> Result<Outbox> {
        bots::handle(&self.cx, bot, update).await
    }

    /// Answers one API request. Never fails and never panics: every problem
    /// becomes a JSON error response (temporary storage failures a 503 and
    /// permanent ones a 500, both reported through the reporter port).
    ///
    /// Run every task in [`ApiResponse::deferred`] after sending the response
    /// (on Workers with `wait_until`, natively in a spawned task).
    ///
    /// Each request ends with one [`observe`] event (and metrics): the route
    /// template, the status, the duration and the storage calls.
    pub async fn handle_api(&self, req: Request<Bytes>) -> ApiResponse {
        let started = self.ports().clock.now_micros();
        let route = api::routes::template(req.method(), req.uri().path());
        let scope = Scope::api(route);
        let cx = self.cx.scoped(Counted::view(self.ports().storage.clone(), scope.tally().clone()), scope.clone());
        let mut answered = api::handle(&cx, req).await;
        answered.deferred.extend(scope.take_events().into_iter().map(Task::Event));
        if !answered.deferred.is_empty() {
            // No update to process again: the messages are written before the response.
            answered.deferred = crate::outbox::enqueue_now(&cx, "api", std::mem::take(&mut answered.deferred)).await;
        }
        let ended = self.ports().clock.now_micros();
        observe::api_handled(route, answered.response.status().as_u16(), started, ended, scope.tally());
        answered
    }

    /// Delivers up to `max_batches` batches of a broadcast job and returns the
    /// job's state afterwards: see [`jobs::deliver_broadcast`].
    pub async fn deliver_broadcast(&self, job: BroadcastId, max_batches: u32) -> Option<BroadcastJob> {
        jobs::deliver_broadcast(&self.cx, job, max_batches).await
    }

    /// Expires every pending redemption request past its deadline, telling the
    /// partners; returns how many expired. See [`jobs::expire_redemptions`].
    pub async fn expire_redemptions(&self) -> Result<usize> {
        jobs::expire_redemptions(&self.cx).await
    }

    /// One maintenance pass, run periodically by the adapters (a Tokio interval
    /// natively, a Cron Trigger on Workers): see [`jobs::maintenance_pass`].
    pub async fn maintenance_pass(&self, broadcast_batches: u32) {
        jobs::maintenance_pass(&self.cx, broadcast_batches).await
    }

    /// The maintenance pass once per period among every server on the store:
    /// see [`jobs::maintenance_turn`]. Returns whether this one ran it.
    pub async fn maintenance_turn(&self, period_secs: u32, broadcast_batches: u32) -> bool {
        jobs::maintenance_turn(&self.cx, period_secs, broadcast_batches).await
    }

    /// Runs one deferred task to completion. Failures are reported, not returned:
    /// by now the webhook has been answered and nobody else could act on them.
    pub async fn run_task(&self, task: Task) {
        let Some(task) = self.carry(task) else {
            return; // an update with nothing to send: the next claim finishes it
        };
        match task {
            Task::Call(call) => {
                if let Err(e) = self.send(&call).await {
                    let temporary = e.is_temporary();
                    self.report(ErrorReport::new(
                        format!("{} via {} bot failed: {e}", call.method, call.bot.as_str()),
                        "deferred",
                        temporary,
                    ))
                    .await;
                }
            }
            Task::Answer { chat_id, customer, language, question } => {
                // The client bot's, but linked wherever tasks run (every engine may send an outbox's
                // messages): it is small, the rest of the client bot is not reached from here.
                bots::client::answer_question(&self.cx, chat_id, customer, language, &question).await;
            }
            Task::Broadcast(job) => {
                self.deliver_broadcast(job, u32::MAX).await;
            }
            Task::Deliver(delivery) => {
                for task in crate::outbox::deliver(&self.cx, delivery).await {
                    if let Task::Broadcast(job) = task {
                        self.deliver_broadcast(job, u32::MAX).await;
                    }
                }
            }
            Task::Send(leased) => crate::outbox::send_leased(&self.cx, leased).await,
            // Written to the outbox first wherever the engine makes them; one run alone is posted once.
            task @ (Task::Event(_) | Task::Webhook(_)) => crate::outbox::post_once(&self.cx, task).await,
        }
    }

    /// The deferred work of a processed update, to run after its response:
    /// its `tasks` go through the outbox and the update is marked finished
    /// ([`crate::outbox`]). Adapters that take updates themselves (long
    /// polling) run this after [`Engine::process_update`] returned `Ok(Some(…))`
    /// (all the outbox's calls and tasks) or a permanent error (no tasks).
    pub fn finish_update(&self, bot: BotKind, update_id: i64, tasks: Vec<Task>) -> Task {
        Task::Deliver(crate::outbox::Delivery::for_update(self.config().bot_id(bot), update_id, tasks))
    }

    /// Marks updates that had nothing to send finished, many in one storage
    /// call: see [`crate::outbox::finish_updates`]. A server that handles many
    /// updates groups the [`Task::Deliver`]s without tasks here instead of
    /// running each (one write per update).
    pub async fn finish_updates(&self, updates: Vec<crate::ports::UpdateRef>) {
        crate::outbox::finish_updates(&self.cx, updates).await
    }

    /// Delivers up to `max_batches` batches of due outbox messages: see
    /// [`crate::outbox::drain`]. A native server runs this in a loop.
    pub async fn drain_outbox(&self, max_batches: u32) -> crate::outbox::Drained {
        crate::outbox::drain(&self.cx, max_batches).await
    }
}
