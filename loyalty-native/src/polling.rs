//! Long polling: fetch updates with `getUpdates` instead of receiving
//! webhooks — for development, and for hosts that cannot accept HTTPS.
//!
//! [`poll`] runs one loop per configured bot. Each loop asks for updates
//! (`timeout` 25 s, [`ALLOWED_UPDATES`] as for webhooks) and
//! handles them one at a time, in order, with [`Engine::process_update`] — the
//! same de-duplicated entry point webhooks use:
//!
//! - on success the update's calls are written to the outbox (finishing the
//!   update) and sent in order ([`Engine::finish_update`]),
//!   its other tasks (assistant answers, broadcasts) go to the [`TaskRunner`],
//!   and only then the offset moves past it (`update_id + 1`), so an update is
//!   never skipped because the process stopped half-way;
//! - a temporary failure (storage unreachable, Telegram unreachable) backs off
//!   and fetches again from the same offset, so the same update is retried;
//! - a permanent failure is reported and the update skipped (retrying would
//!   fail the same way), as a webhook answers `200` to it;
//! - `409 Conflict` means a webhook is set for the bot: Telegram refuses
//!   `getUpdates` then, and the loop stops with [`PollError::WebhookActive`],
//!   whose message suggests `loyalty webhooks delete`.
//!
//! Telegram keeps unconfirmed updates for 24 hours, and the next `getUpdates`
//! with a higher offset confirms them; an update handled just before a stop
//! may be fetched again by the next run, where
//! [`Storage::claim_update`](loyalty_core::ports::Storage::claim_update)
//! recognises it.

use crate::tasks::TaskRunner;
use crate::telegram::{HttpTelegram, UpdateBatch};
use crate::webhooks::ALLOWED_UPDATES;
use async_trait::async_trait;
use futures::FutureExt;
use loyalty_core::ports::{ErrorReport, TelegramError};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::Update;
use loyalty_core::{Engine, Task};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where updates come from: Telegram's `getUpdates`, as implemented by
/// [`HttpTelegram`] (with [`ALLOWED_UPDATES`]).
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait UpdateSource: Send + Sync {
    /// Returns the updates of `bot` with `update_id >= offset`, waiting up to
    /// `timeout_secs` for one to arrive.
    async fn fetch_updates(&self, bot: BotKind, offset: i64, timeout_secs: u32) -> Result<UpdateBatch, TelegramError>;
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl UpdateSource for HttpTelegram {
    async fn fetch_updates(&self, bot: BotKind, offset: i64, timeout_secs: u32) -> Result<UpdateBatch, TelegramError> {
        self.get_updates(bot, offset, timeout_secs, ALLOWED_UPDATES).await
    }
}

/// Timings of the polling loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollOptions {
    /// The long-polling `timeout` given to `getUpdates`, in seconds (25).
    pub timeout_secs: u32,
    /// The first wait after a temporary failure (1 s); it doubles up to
    /// `max_backoff` while failures continue.
    pub initial_backoff: Duration,
    /// The longest wait between retries (30 s).
    pub max_backoff: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions { timeout_secs: 25, initial_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(30) }
    }
}

/// Why polling stopped before it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// No bot is configured, so there is nothing to poll.
    #[error(
        "no bot is configured: set TOKEN_CLIENT, TOKEN_PARTNER and/or ADMIN_BOT_TOKEN (with ADMIN_CHAT_ID) to poll"
    )]
    NoBots,
    /// Telegram refused `getUpdates` with 409 because a webhook is set.
    #[error(
        "the {bot} bot has a webhook set, and Telegram refuses getUpdates while it is (409 Conflict); \
         run `loyalty webhooks delete` to switch this bot to polling, or keep the webhook and run `loyalty serve`"
    )]
    WebhookActive {
        /// The bot (`client`, `partner`, `admin`).
        bot: &'static str,
    },
    /// Telegram ended this `getUpdates` because another one for the same bot
    /// started (409 Conflict): two processes are polling with one token.
    #[error(
        "another process is polling the {bot} bot with the same token (409 Conflict: terminated by other \
         getUpdates request); run a single `loyalty poll` per bot"
    )]
    OtherPoller {
        /// The bot.
        bot: &'static str,
    },
    /// Telegram refused `getUpdates` for a reason retrying will not fix
    /// (e.g. 401: the token is wrong or was revoked).
    #[error("Telegram refused getUpdates for the {bot} bot ({error}); check {variable}")]
    Refused {
        /// The bot.
        bot: &'static str,
        /// The variable holding its token.
        variable: &'static str,
        /// What Telegram said.
        error: TelegramError,
    },
}

/// Polls every configured bot until `stop` is cancelled or one loop fails;
/// then stops the other loops (each finishes the update it is handling) and
/// returns. Deferred tasks go to `tasks`; drain it afterwards with
/// [`TaskRunner::shutdown`].
///
/// # Errors
/// [`PollError::NoBots`] when no bot is configured; otherwise the first error
/// that stopped a loop.
pub async fn poll(
    engine: Engine,
    source: Arc<dyn UpdateSource>,
    tasks: TaskRunner,
    options: PollOptions,
    stop: CancellationToken,
) -> Result<(), PollError> {
    let bots = engine.config().enabled_bots();
    if bots.is_empty() {
        return Err(PollError::NoBots);
    }
    let stop = stop.child_token();
    let mut loops = tokio::task::JoinSet::new();
    for bot in bots {
        let (engine, source, tasks, stop) = (engine.clone(), source.clone(), tasks.clone(), stop.clone());
        loops.spawn(async move { poll_bot(&engine, source.as_ref(), &tasks, bot, options, &stop).await });
    }
    let mut result = Ok(());
    while let Some(joined) = loops.join_next().await {
        let outcome = match joined {
            Ok(r) => r,
            Err(e) => {
                engine
                    .report(ErrorReport::new(format!("a polling loop ended abnormally: {e}"), "polling", false))
                    .await;
                Ok(())
            }
        };
        if let Err(e) = outcome {
            stop.cancel();
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    result
}

/// Polls one bot until `stop` is cancelled or Telegram refuses for good.
/// See the [module docs](self) for what happens to each update.
///
/// # Errors
/// [`PollError::WebhookActive`] on 409, [`PollError::Refused`] on any other
/// permanent refusal of `getUpdates`.
pub async fn poll_bot(
    engine: &Engine,
    source: &dyn UpdateSource,
    tasks: &TaskRunner,
    bot: BotKind,
    options: PollOptions,
    stop: &CancellationToken,
) -> Result<(), PollError> {
    let mut offset: i64 = 0;
    let mut backoff = options.initial_backoff;
    tracing::info!(bot = bot.as_str(), "polling for updates");
    while !stop.is_cancelled() {
        let fetched = tokio::select! {
            () = stop.cancelled() => break,
            r = source.fetch_updates(bot, offset, options.timeout_secs) => r,
        };
        let batch = match fetched {
            Ok(batch) => batch,
            Err(TelegramError::Api { code: 409, description }) => {
                return Err(if description.contains("getUpdates request") {
                    PollError::OtherPoller { bot: bot.as_str() }
                } else {
                    PollError::WebhookActive { bot: bot.as_str() }
                });
            }
            Err(e) if e.is_temporary() => {
                let wait = match e {
                    TelegramError::RetryAfter(secs) => Duration::from_secs(u64::from(secs.max(1))),
                    _ => backoff,
                };
                tracing::warn!(bot = bot.as_str(), ?wait, "getUpdates failed, retrying: {e}");
                if pause(stop, wait).await {
                    break;
                }
                backoff = (backoff * 2).min(options.max_backoff);
                continue;
            }
            Err(error) => {
                return Err(PollError::Refused {
                    bot: bot.as_str(),
                    variable: loyalty_core::Config::token_variable(bot),
                    error,
                });
            }
        };
        // Parsed and unparsable updates, in `update_id` order.
        let mut items: Vec<(i64, Option<Update>)> = batch.updates.into_iter().map(|u| (u.update_id, Some(u))).collect();
        items.extend(batch.skipped.into_iter().map(|id| (id, None)));
        items.sort_by_key(|(id, _)| *id);
        let mut failed = false;
        for (id, update) in items {
            if id < offset {
                continue; // already handled (Telegram does not send these, but be safe)
            }
            let Some(update) = update else {
                // Our types are lenient; this means an unexpected shape. Skip it.
                report(engine, bot, format!("unreadable update {id} skipped"), None, false).await;
                offset = id.saturating_add(1);
                continue;
            };
            let handled = AssertUnwindSafe(engine.process_update(bot, &update)).catch_unwind().await;
            let Ok(handled) = handled else {
                // A bug: reported (without the payload, which may quote the
                // update) and skipped, as retrying would panic again.
                let message = format!("panic while handling update {id}; skipped");
                report(engine, bot, message, Some(update.kind_name()), false).await;
                offset = id.saturating_add(1);
                continue;
            };
            match handled {
                Ok(outbox) => {
                    if let Some(outbox) = outbox {
                        // The calls go through the outbox and out in order before the next update
                        // (the update is finished in the same storage call); assistant answers and
                        // broadcasts run alongside.
                        // Webhook events go to the outbox with the calls (delivered from there, retried);
                        // the other tasks run alongside.
                        let (events, others): (Vec<Task>, Vec<Task>) =
                            outbox.tasks.into_iter().partition(|t| matches!(t, Task::Event(_)));
                        let nothing_to_send = outbox.calls.is_empty() && events.is_empty();
                        let kept = outbox.calls.into_iter().map(Task::Call).chain(events).collect();
                        let finish = engine.finish_update(bot, id, kept);
                        let send = async {
                            if nothing_to_send {
                                // The task runner finishes it with other updates.
                                tasks.spawn(engine, vec![finish]);
                            } else {
                                engine.run_task(finish).await;
                            }
                        };
                        if AssertUnwindSafe(send).catch_unwind().await.is_err() {
                            let message = format!("panic while sending the replies to update {id}");
                            report(engine, bot, message, Some(update.kind_name()), false).await;
                        }
                        tasks.spawn(engine, others);
                    }
                    offset = id.saturating_add(1);
                    backoff = options.initial_backoff;
                }
                Err(e) if e.is_temporary() => {
                    let message = format!("update {id} failed, will retry: {e}");
                    report(engine, bot, message, Some(update.kind_name()), true).await;
                    failed = true;
                    break;
                }
                Err(e) => {
                    let message = format!("update {id} failed: {e}");
                    report(engine, bot, message, Some(update.kind_name()), false).await;
                    // Finished with nothing to send (by the task runner, with other updates): not
                    // processed again.
                    tasks.spawn(engine, vec![engine.finish_update(bot, id, Vec::new())]);
                    offset = id.saturating_add(1);
                }
            }
            if stop.is_cancelled() {
                break;
            }
        }
        if failed {
            if pause(stop, backoff).await {
                break;
            }
            backoff = (backoff * 2).min(options.max_backoff);
        }
    }
    tracing::info!(bot = bot.as_str(), "polling stopped");
    Ok(())
}

/// Waits `wait`; `true` when `stop` was cancelled meanwhile.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(wait) => false,
    }
}

async fn report(engine: &Engine, bot: BotKind, message: String, update_kind: Option<&'static str>, temporary: bool) {
    let context = match bot {
        BotKind::Client => "polling.client",
        BotKind::Partner => "polling.partner",
        BotKind::Admin => "polling.admin",
        BotKind::Alerts => "polling.alerts",
    };
    engine.report(ErrorReport { message, context, update_kind, temporary, breadcrumbs: Vec::new() }).await;
}
