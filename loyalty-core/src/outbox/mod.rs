//! The transactional outbox: every message an update or an API request
//! produces, but the reply that rides in the webhook response, is written to
//! the store before it is sent, and delivered from there at least once.
//!
//! - **An update** is claimed together with its body
//!   ([`UpdateClaim::body`](crate::ports::UpdateClaim::body)) in the first
//!   storage call of its processing. After the response, one call
//!   ([`Storage::enqueue_messages`](crate::ports::Storage::enqueue_messages)) writes its messages and marks it finished;
//!   the same process then sends them ([`Task::Deliver`]) and records the
//!   outcomes ([`Storage::settle_messages`](crate::ports::Storage::settle_messages)) — a write more per update, none
//!   on the response path. An update with nothing to send is only marked
//!   finished: a server groups those ([`finish_updates`]); a Worker lets the
//!   next update's claim carry them
//!   ([`Engine::with_carried_finishes`](crate::Engine::with_carried_finishes)), no write of their own. If the process dies between the claim and that
//!   call, the maintenance pass finds the claim unfinished
//!   ([`Storage::stale_updates`](crate::ports::Storage::stale_updates)) and processes the update again from its
//!   body ([`recover_updates`]): every ledger write carries an idempotency key
//!   derived from the update, so the re-run replays the first results and
//!   writes the same messages, under the same keys.
//! - **An API request** writes its notifications before it answers (a POS
//!   retry of a replayed request does not notify again, so they must be
//!   safe before the response).
//! - **Delivery**: the messages enqueued are leased to the process that wrote
//!   them for [`LEASE_SECS`]; whatever it could not send (it died, Telegram
//!   was unreachable, the lease ran out) is taken by [`drain`] — natively a
//!   task of `loyalty serve`, on Workers the Cron Trigger — on any server,
//!   without duplicates ([`Storage::take_messages`](crate::ports::Storage::take_messages) hands a message to one
//!   caller at a time, a chat's messages one by one and in order). A message
//!   Telegram refuses for good (the user blocked the bot, the chat is gone)
//!   is marked failed; one that fails temporarily is tried again with a
//!   growing pause, and marked failed after [`MAX_ATTEMPTS`].
//!
//! Telegram normally sees each message once: only a process dying between
//! sending a message and recording it (or a lease running out while a message
//! is in flight) sends it again.

mod webhooks;

use crate::context::{Context, Task};
pub use crate::context::{Delivery, Leased, decode, encode};
use crate::domain::{BotKind, Timestamp};
use crate::observe::{Counted, Scope};
use crate::ports::{
    EnqueueMessages, ErrorReport, MessageOutcome, MessageSettlement, NewMessage, OutboxMessage, SettleMessages,
    StaleUpdates, TakeMessages, TelegramError,
};
use crate::telegram::Update;

/// How long the messages a process enqueued or took stay its own, in seconds:
/// nobody else hands them out before.
pub const LEASE_SECS: i64 = 60;

/// A process stops sending its leased messages this many seconds before the
/// lease ends, leaving the rest to [`drain`].
const LEASE_MARGIN_SECS: i64 = 10;

/// An update claimed this many seconds ago and not finished is processed
/// again by [`recover_updates`] (its processing died).
pub const STALE_UPDATE_SECS: i64 = 120;

/// Messages one [`drain`] batch takes.
pub const DRAIN_BATCH: u32 = 50;

/// Attempts after which a message that keeps failing temporarily is marked failed.
pub const MAX_ATTEMPTS: u32 = 12;

/// Writes `tasks`' messages to the outbox now, under a fresh source, for work
/// that has no update to be processed again from (an API request): returns
/// what to run after the response — a [`Task::Send`] of the leased messages,
/// then the tasks that are not messages. If the store refuses, the tasks are
/// returned as they are (sent at most once) and the failure reported.
pub async fn enqueue_now(cx: &Context, what: &str, tasks: Vec<Task>) -> Vec<Task> {
    let (messages, other) = split(&tasks);
    if messages.is_empty() {
        return tasks;
    }
    let mut nonce = [0u8; 12];
    cx.ports().random.fill(&mut nonce);
    let now = cx.now();
    let lease_until = after(now, LEASE_SECS);
    let req = EnqueueMessages {
        source: format!("{what}:{}", hex::encode(nonce)),
        updates: Vec::new(),
        messages,
        now,
        lease_until,
    };
    match cx.storage().enqueue_messages(req).await {
        Ok(added) => {
            let leased = Leased { messages: added.messages, lease_until, webhooks: added.webhooks };
            std::iter::once(Task::Send(leased)).chain(other).collect()
        }
        Err(e) => {
            let message = format!("could not enqueue the messages of {what}; sending them directly: {e}");
            cx.report(ErrorReport::new(message, "outbox", e.is_temporary())).await;
            tasks
        }
    }
}

/// Marks `updates` — processed, with nothing to send — finished, up to
/// [`MAX_MESSAGE_BATCH`](crate::ports::MAX_MESSAGE_BATCH) in one storage call
/// (a server groups those of many updates: see `loyalty_native::tasks`). A
/// failure is reported; the updates then stay unfinished and are processed
/// again later (their replies sent once more).
pub async fn finish_updates(cx: &Context, updates: Vec<crate::ports::UpdateRef>) {
    for chunk in updates.chunks(crate::ports::MAX_MESSAGE_BATCH as usize) {
        let now = cx.now();
        let req = EnqueueMessages {
            source: "finished".to_string(),
            updates: chunk.to_vec(),
            messages: Vec::new(),
            now,
            lease_until: now,
        };
        if let Err(e) = cx.storage().enqueue_messages(req).await {
            let message = format!("could not mark {} updates finished: {e}", chunk.len());
            cx.report(ErrorReport::new(message, "outbox", e.is_temporary())).await;
        }
    }
}

/// Writes `tasks` (a scheduled job's notices and webhook events, after the
/// job's storage call) to the outbox and sends them now: what this process
/// cannot send waits there for the dispatcher. If the store refuses, they
/// are sent directly.
pub async fn send_now(cx: &Context, what: &str, tasks: Vec<Task>) {
    for chunk in tasks.chunks(crate::ports::MAX_MESSAGE_BATCH as usize) {
        let tasks = chunk.to_vec();
        for task in enqueue_now(cx, what, tasks).await {
            match task {
                Task::Send(leased) => send_leased(cx, leased).await,
                other => {
                    if let Err(e) = run_message(cx, other).await
                        && !e.is_unreachable_chat()
                    {
                        cx.report(ErrorReport::new(format!("{what} notice failed: {e}"), "outbox", e.is_temporary()))
                            .await;
                    }
                }
            }
        }
    }
}

/// `tasks` as outbox messages (calls, assistant answers), and the tasks that
/// are not messages (broadcasts), each in order.
fn split(tasks: &[Task]) -> (Vec<NewMessage>, Vec<Task>) {
    let mut messages = Vec::new();
    let mut other = Vec::new();
    for task in tasks {
        match encode(task) {
            Some(message) => messages.push(message),
            None => other.push(task.clone()),
        }
    }
    (messages, other)
}

/// `now` plus `secs` seconds.
fn after(now: Timestamp, secs: i64) -> Timestamp {
    Timestamp(now.0.saturating_add(secs))
}

/// Runs a [`Delivery`]: one call enqueues its messages (and finishes its
/// update), then they are sent in order and their outcomes recorded in one
/// more call. Returns the tasks that are not messages (broadcasts), for the
/// caller to run.
pub(crate) async fn deliver(cx: &Context, delivery: Delivery) -> Vec<Task> {
    let Delivery { source, update, tasks } = delivery;
    let (messages, other) = split(&tasks);
    if !messages.is_empty() || update.is_some() {
        let now = cx.now();
        let lease_until = after(now, LEASE_SECS);
        let req = EnqueueMessages { source, updates: update.into_iter().collect(), messages, now, lease_until };
        match cx.storage().enqueue_messages(req.clone()).await {
            Ok(added) => {
                send_leased(cx, Leased { messages: added.messages, lease_until, webhooks: added.webhooks }).await
            }
            Err(e) if e.is_temporary() && update.is_some() => {
                // The update stays unfinished: recover_updates processes it again.
                let message = format!("could not enqueue the messages of {}: {e}", req.source);
                cx.report(ErrorReport::new(message, "outbox", true)).await;
            }
            Err(e) => {
                // Nothing will retry this: send without the outbox (at most once).
                let message = format!("could not enqueue the messages of {}; sending them directly: {e}", req.source);
                cx.report(ErrorReport::new(message, "outbox", e.is_temporary())).await;
                if update.is_some() {
                    let finish = EnqueueMessages { messages: Vec::new(), ..req.clone() };
                    let _ = cx.storage().enqueue_messages(finish).await;
                }
                for message in req.messages {
                    if let Some(task) = decode(&message.payload) {
                        run_message(cx, task).await.ok();
                    }
                }
            }
        }
    }
    other
}

/// Sends one message's task: `Err` with the outcome when it was not delivered.
async fn run_message(cx: &Context, task: Task) -> Result<(), TelegramError> {
    match task {
        Task::Call(call) => cx.send(&call).await.map(|_| ()),
        Task::Answer { chat_id, customer, language, question } => {
            // The client bot's, linked wherever messages are sent (small; see `Engine::run_task`).
            crate::bots::client::answer_question(cx, chat_id, customer, language, &question).await;
            Ok(())
        }
        // Outside the outbox (the store refused to keep them): posted once.
        task @ (Task::Event(_) | Task::Webhook(_)) => {
            post_once(cx, task).await;
            Ok(())
        }
        // Not messages: encode never writes them.
        Task::Broadcast(_) | Task::Deliver(_) | Task::Send(_) => Ok(()),
    }
}

/// The pause before attempt `attempts + 1` of a message that failed
/// temporarily: 5 s doubling up to 10 minutes.
fn backoff_secs(attempts: u32) -> i64 {
    (5_i64 << attempts.saturating_sub(1).min(7)).min(600)
}

/// Sends `messages` (leased until `lease_until`) in order and records their
/// outcomes in one call. A chat whose message could not be sent gets its later
/// messages of the batch put back too, so its order holds. An event is fanned
/// out into its endpoints' deliveries, which are posted after the batch —
/// into none, without asking the store, when `leased` says no endpoint was
/// registered as they were added.
pub(crate) async fn send_leased(cx: &Context, leased: Leased) {
    let Leased { messages, lease_until, webhooks } = leased;
    let mut batch = messages;
    let mut endpoints = if webhooks { webhooks::Endpoints::default() } else { webhooks::Endpoints::none_registered() };
    while !batch.is_empty() {
        let mut fanned = Vec::new();
        let settled = send_batch(cx, batch, lease_until, &mut endpoints, &mut fanned).await;
        for batch in settled.chunks(crate::ports::MAX_MESSAGE_BATCH as usize) {
            let req = SettleMessages { now: cx.now(), settled: batch.to_vec() };
            if let Err(e) = cx.storage().settle_messages(req).await {
                // They are sent again once the lease ends: at least once.
                let message = format!("could not record {} delivered messages: {e}", batch.len());
                cx.report(ErrorReport::new(message, "outbox", e.is_temporary())).await;
            }
        }
        batch = fanned;
    }
}

/// [`send_leased`]'s work on one batch: the outcomes to record; the
/// deliveries events were fanned out into are added to `fanned`.
async fn send_batch(
    cx: &Context,
    messages: Vec<OutboxMessage>,
    lease_until: Timestamp,
    endpoints: &mut webhooks::Endpoints,
    fanned: &mut Vec<OutboxMessage>,
) -> Vec<MessageSettlement> {
    let mut settled = Vec::with_capacity(messages.len());
    let mut held_chats: Vec<(i64, Timestamp)> = Vec::new();
    for OutboxMessage { id, chat, payload, attempts } in messages {
        let now = cx.now();
        if now.0 >= lease_until.0 - LEASE_MARGIN_SECS {
            // Past our lease (a slow Telegram): the rest is left for drain, unsent.
            break;
        }
        if let Some(&(_, at)) = chat.and_then(|c| held_chats.iter().find(|(h, _)| *h == c)) {
            settled.push(MessageSettlement { id, outcome: MessageOutcome::Retry { at } });
            continue;
        }
        let outcome = match decode(&payload) {
            None => MessageOutcome::Failed { error: "unreadable outbox payload".to_string() },
            Some(Task::Event(event)) => match webhooks::fan_out(cx, id, &event, lease_until, endpoints).await {
                Ok(added) => {
                    fanned.extend(added);
                    MessageOutcome::Sent
                }
                Err(e) if e.is_temporary() && attempts < MAX_ATTEMPTS => {
                    MessageOutcome::Retry { at: after(cx.now(), backoff_secs(attempts)) }
                }
                Err(e) => {
                    let message = format!("event {} could not be fanned out: {e}", event.id);
                    cx.report(ErrorReport::new(message, "outbox", false)).await;
                    MessageOutcome::Failed { error: e.to_string() }
                }
            },
            Some(Task::Webhook(delivery)) => webhooks::post(cx, &delivery, attempts, endpoints).await,
            Some(task) => match run_message(cx, task).await {
                Ok(()) => MessageOutcome::Sent,
                Err(e) if e.is_temporary() && attempts < MAX_ATTEMPTS => {
                    let wait = match e {
                        TelegramError::RetryAfter(secs) => i64::from(secs.max(1)),
                        _ => backoff_secs(attempts),
                    };
                    MessageOutcome::Retry { at: after(cx.now(), wait) }
                }
                Err(e) => {
                    // An unreachable chat is kept as failed, not reported.
                    if !e.is_unreachable_chat() {
                        let message = format!("message {id} refused for good: {e}");
                        cx.report(ErrorReport::new(message, "outbox", false)).await;
                    }
                    MessageOutcome::Failed { error: e.to_string() }
                }
            },
        };
        if let (Some(chat), MessageOutcome::Retry { at }) = (chat, &outcome) {
            held_chats.push((chat, *at));
        }
        crate::observe::message_settled(&outcome);
        settled.push(MessageSettlement { id, outcome });
    }
    settled
}

/// What one [`drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Messages taken (and sent or put back).
    pub taken: usize,
    /// Whether the outbox had no message due when it stopped.
    pub empty: bool,
}

/// Delivers up to `max_batches` batches of [`DRAIN_BATCH`] due messages
/// (each leased, sent, recorded). Stops early when nothing is due. A store
/// failure is reported and ends the drain.
pub async fn drain(cx: &Context, max_batches: u32) -> Drained {
    let mut drained = Drained::default();
    for _ in 0..max_batches {
        let now = cx.now();
        let lease_until = after(now, LEASE_SECS);
        let taken = match cx.storage().take_messages(TakeMessages { now, lease_until, limit: DRAIN_BATCH }).await {
            Ok(taken) => taken,
            Err(e) => {
                cx.report(ErrorReport::new(format!("could not take messages: {e}"), "outbox", e.is_temporary())).await;
                return drained;
            }
        };
        if taken.is_empty() {
            drained.empty = true;
            return drained;
        }
        drained.taken += taken.len();
        send_leased(cx, Leased { messages: taken, lease_until, webhooks: true }).await;
    }
    drained
}

/// Processes again, from their kept bodies, up to `limit` updates claimed
/// more than [`STALE_UPDATE_SECS`] ago and never finished (their processing
/// died after the claim), and delivers their messages — the reply included,
/// which may then reach the user twice. An update to a bot this process has
/// no token for, or does not serve ([`Context::bots`]), is left to one that
/// serves it. Returns how many were taken.
pub async fn recover_updates(cx: &Context, limit: u32) -> usize {
    let now = cx.now();
    let req = StaleUpdates { before: after(now, -STALE_UPDATE_SECS), now, limit };
    let stale = match cx.storage().stale_updates(req).await {
        Ok(stale) => stale,
        Err(e) => {
            cx.report(ErrorReport::new(format!("could not list unfinished updates: {e}"), "outbox", e.is_temporary()))
                .await;
            return 0;
        }
    };
    let count = stale.len();
    for update in stale {
        let bot = BotKind::WEBHOOK_BOTS.into_iter().find(|&k| cx.config().bot_id(k) == update.bot);
        let Some(bot) = bot.filter(|&k| cx.bots().serves(k)) else {
            // A bot this process has no token for (another deployment's) or whose code it does not
            // run (another Worker's): left to a process that serves it.
            continue;
        };
        let parsed = serde_json::from_str::<Update>(&update.body).ok();
        let tasks = match parsed {
            Some(parsed) => {
                let scope = Scope::update(parsed.kind_name());
                let view = Counted::replay_view(cx.ports().storage.clone(), scope.tally().clone());
                let again = cx.scoped(view, scope.clone()).reprocessing();
                let handled = crate::bots::handle(&again, bot, &parsed).await;
                match handled {
                    // A call that cannot be repeated: finished with nothing, its effect (if
                    // the first processing made it) not doubled.
                    _ if scope.tally().refused_replay() => Vec::new(),
                    Ok(outbox) => outbox
                        .calls
                        .into_iter()
                        .map(Task::Call)
                        .chain(outbox.tasks)
                        .chain(scope.take_events().into_iter().map(Task::Event))
                        .collect(),
                    // Tried again after the next lease.
                    Err(e) if e.is_temporary() => continue,
                    Err(_) => Vec::new(),
                }
            }
            // A body we cannot read: finished with nothing.
            None => Vec::new(),
        };
        // A broadcast is kept in its own table: the maintenance pass resumes it.
        deliver(cx, Delivery::for_update(update.bot, update.update_id, tasks)).await;
    }
    count
}

/// Runs a [`Task::Event`] or a [`Task::Webhook`] that is not in the outbox
/// (a caller ran it as it is): posted once, its outcome not kept.
pub(crate) async fn post_once(cx: &Context, task: Task) {
    match task {
        Task::Event(event) => webhooks::post_directly(cx, event).await,
        Task::Webhook(delivery) => {
            webhooks::post(cx, &delivery, u32::MAX, &mut Default::default()).await;
        }
        _ => {}
    }
}
