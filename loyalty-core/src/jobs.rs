//! Scheduled work: what the adapters run periodically (a Tokio interval
//! natively, a Cron Trigger on Workers) through
//! [`Engine::maintenance_pass`](crate::engine::Engine::maintenance_pass) —
//! forgetting old update claims, expiring overdue redemption requests,
//! expiring points and reminding of points about to expire, watching the
//! bots' webhooks, and delivering broadcasts — each a function of a [`Context`].

use crate::context::{Context, Task};
use crate::domain::{Audience, BotKind, BroadcastId, BroadcastJob, Language};
use crate::ports::{
    ErrorReport, ExpirePoints, PartnerRef, RefreshTiers, RemindExpiry, SwapJobState, TelegramError, ViewRedemption,
};
use crate::telegram::{BotCall, escape_html};
use crate::texts::Pts;

/// How many batches of a pending broadcast one maintenance pass delivers by
/// default; the rest waits for the next pass (or for the job's own task).
pub const BROADCAST_BATCHES_PER_PASS: u32 = 20;

/// How long an update's claim is kept (7 days): Telegram stops redelivering an
/// update within a day, so the maintenance pass forgets older claims.
pub const UPDATE_CLAIM_RETENTION_SECS: i64 = 7 * 86_400;

/// The language of the broadcast reports sent to the admin chat unprompted.
const ADMIN_LANGUAGE: Language = Language::En;

/// Recipients per broadcast batch.
const BROADCAST_BATCH: u32 = 25;

/// The shortest a broadcast batch may last (25 messages a second at most).
const BATCH_MILLIS: u64 = 1000;

/// The admin chat hears of a broadcast's progress every this many batches.
const PROGRESS_EVERY: u32 = 10;

/// How often one broadcast message is retried after a 429 or a transient failure.
const MAX_SEND_RETRIES: u32 = 3;

/// One maintenance pass, run periodically by the adapters (a Tokio interval
/// natively, a Cron Trigger on Workers): forgets update claims older than
/// [`UPDATE_CLAIM_RETENTION_SECS`], marks overdue redemption requests
/// expired (telling the people involved), expires points past their date,
/// refreshes the tiers time changed and reminds of points about to expire
/// (each up to [`EXPIRY_BATCHES_PER_PASS`] batches, telling the customers),
/// watches the webhooks, processes again the updates whose processing died
/// ([`crate::outbox::recover_updates`]), delivers what waits in the outbox
/// ([`crate::outbox::drain`]) and records its depth, and resumes pending broadcasts — e.g. ones interrupted by a restart —
/// delivering up to `broadcast_batches` batches of each. Failures are
/// reported, not returned.
pub async fn maintenance_pass(cx: &Context, broadcast_batches: u32) {
    let cutoff = cx.now().plus(-UPDATE_CLAIM_RETENTION_SECS);
    match cx.storage().prune_update_claims(cutoff).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, "old update claims forgotten"),
        Err(e) => {
            cx.report(ErrorReport::new(
                format!("pruning old update claims failed: {e}"),
                "maintenance",
                e.is_temporary(),
            ))
            .await;
        }
    }
    let batches = EXPIRY_BATCHES_PER_PASS;
    let expired = expire_redemptions(cx).await;
    settle_job(cx, "expire_redemptions", "redemption requests expired", "expiring redemption requests", expired).await;
    let expired = expire_points(cx, batches).await;
    settle_job(cx, "expire_points", "customers' points expired", "expiring points", expired).await;
    let refreshed = refresh_tiers(cx, batches).await;
    settle_job(cx, "refresh_tiers", "customers' tiers changed", "refreshing tiers", refreshed).await;
    let reminded = remind_expiry(cx, batches).await;
    settle_job(cx, "remind_expiry", "expiry reminders sent", "reminding of expiring points", reminded).await;
    let watched = watch_webhooks(cx).await;
    settle_job(cx, "watch_webhooks", "webhook alerts sent", "watching the webhooks", watched).await;
    let recovered = crate::outbox::recover_updates(cx, RECOVERED_UPDATES_PER_PASS).await;
    settle_job(cx, "recover_updates", "unfinished updates processed again", "recovering updates", Ok(recovered)).await;
    let drained = crate::outbox::drain(cx, OUTBOX_BATCHES_PER_PASS).await;
    settle_job(cx, "drain_outbox", "outbox messages delivered", "draining the outbox", Ok(drained.taken)).await;
    match cx.storage().outbox_state(cx.now()).await {
        Ok(state) => crate::observe::outbox_seen(&state, cx.now()),
        Err(e) => {
            let message = format!("reading the outbox's state failed: {e}");
            cx.report(ErrorReport::new(message, "maintenance", e.is_temporary())).await;
        }
    }
    match cx.storage().pending_broadcasts().await {
        Ok(jobs) => {
            for job in jobs {
                deliver_broadcast(cx, job.id, broadcast_batches).await;
            }
        }
        Err(e) => {
            cx.report(ErrorReport::new(
                format!("listing pending broadcasts failed: {e}"),
                "maintenance",
                e.is_temporary(),
            ))
            .await;
        }
    }
}

/// Unfinished updates one maintenance pass processes again
/// ([`crate::outbox::recover_updates`]).
pub const RECOVERED_UPDATES_PER_PASS: u32 = 50;

/// Batches of due outbox messages one maintenance pass delivers
/// ([`crate::outbox::drain`]; a native server also drains continuously).
pub const OUTBOX_BATCHES_PER_PASS: u32 = 20;

/// A webhook error older than this (seconds) when the watchdog first looks
/// at a bot is not news.
const FIRST_LOOK_WINDOW_SECS: i64 = 600;

/// The webhook watchdog: for each configured bot whose webhook is set, asks
/// Telegram for `getWebhookInfo` and alerts the alert chat when the webhook
/// turns unhealthy — more than `WEBHOOK_BACKLOG_ALERT` updates waiting
/// (`pending_update_count`), or a delivery error (`last_error_date`) newer
/// than the previous check — and again when it is healthy again. Each change
/// is told once, even with several servers or Workers checking: what the
/// watchdog saw and whether it is alerting are kept in storage
/// ([`Storage::swap_job_state`](crate::ports::Storage::swap_job_state) under
/// `webhook:<bot>:seen` and `webhook:<bot>:alert`), and only the check that
/// flips the alert state sends. Bots without a webhook (long polling) are
/// skipped.
///
/// The alert goes to `SENTRY_ALERT_CHAT_ID` through the alert bot when that
/// is configured, else to `ADMIN_CHAT_ID` through the admin bot; with
/// neither, it is only logged. A message that cannot be sent puts the alert
/// state back, so the next check tries again.
///
/// Returns how many alerts (and all-clears) were sent. A bot whose check
/// fails is reported and the others are still checked; the last failure is
/// returned.
pub async fn watch_webhooks(cx: &Context) -> crate::Result<usize> {
    let mut told = 0;
    let mut failure = None;
    for bot in cx.config().enabled_bots() {
        match watch_webhook(cx, bot).await {
            Ok(true) => told += 1,
            Ok(false) => {}
            Err(e) => {
                let message = format!("checking the {} bot's webhook failed: {e}", bot.as_str());
                cx.report(ErrorReport::new(message, "maintenance", e.is_temporary())).await;
                failure = Some(e);
            }
        }
    }
    match failure {
        Some(e) if told == 0 => Err(e),
        _ => Ok(told),
    }
}

/// One bot's check: whether an alert or an all-clear was sent.
async fn watch_webhook(cx: &Context, bot: BotKind) -> crate::Result<bool> {
    let call = BotCall { bot, method: "getWebhookInfo", params: serde_json::Map::new(), file: None };
    let info = cx.send(&call).await?;
    if info.get("url").and_then(|u| u.as_str()).unwrap_or_default().is_empty() {
        return Ok(false);
    }
    let pending = info.get("pending_update_count").and_then(|n| n.as_u64()).unwrap_or(0);
    let error_date = info.get("last_error_date").and_then(|d| d.as_i64()).unwrap_or(0);
    let error = info.get("last_error_message").and_then(|m| m.as_str());
    crate::observe::webhook_backlog(bot, pending);
    let now = cx.now();
    let key = |what: &str| format!("webhook:{}:{what}", bot.as_str());
    let seen = SwapJobState { name: key("seen"), value: error_date.to_string(), now };
    let new_error = error_date > 0
        && match cx.storage().swap_job_state(seen).await? {
            Some(before) => before.value != error_date.to_string(),
            None => error_date >= now.0 - FIRST_LOOK_WINDOW_SECS,
        };
    let alerting = pending > u64::from(cx.config().webhook_backlog_alert) || new_error;
    let state = |alert: bool| if alert { "alert" } else { "ok" }.to_string();
    let swap = SwapJobState { name: key("alert"), value: state(alerting), now };
    let was_alerting = cx.storage().swap_job_state(swap).await?.is_some_and(|s| s.value == "alert");
    if alerting == was_alerting {
        return Ok(false);
    }
    let t = ADMIN_LANGUAGE.texts();
    let text = if alerting {
        t.webhook_alert(bot.as_str(), pending, new_error.then_some(error).flatten())
    } else {
        t.webhook_cleared(bot.as_str(), pending)
    };
    tracing::warn!(bot = bot.as_str(), pending, alerting, "webhook watchdog: the webhook's health changed");
    let config = cx.config();
    let to = match (config.bot_token(BotKind::Alerts), config.sentry_alert_chat_id, config.admin_chat_id) {
        (Ok(_), Some(chat), _) => Some((BotKind::Alerts, chat)),
        (_, _, Some(chat)) if config.bot_token(BotKind::Admin).is_ok() => Some((BotKind::Admin, chat)),
        _ => None,
    };
    let Some((via, chat)) = to else {
        return Ok(false);
    };
    if let Err(e) = cx.send(&BotCall::send_message(via, chat, text, None)).await {
        // Not told: put the state back so that the next check tells it.
        let back = SwapJobState { name: key("alert"), value: state(was_alerting), now };
        cx.storage().swap_job_state(back).await?;
        return Err(e.into());
    }
    Ok(true)
}

/// The period of the Workers' maintenance ([`maintenance_turn`]): their Cron
/// Trigger runs every minute.
pub const MAINTENANCE_PERIOD_SECS: u32 = 60;

/// The maintenance pass as a scheduled job shared by several servers (or
/// Workers) on one store: runs [`maintenance_pass`] unless another one
/// already ran it in the current period — the `period_secs`-long window of
/// time, counted from the Unix epoch, that `now` falls in. Returns whether it
/// ran.
///
/// The first to swap the window's number into storage
/// ([`Storage::swap_job_state`](crate::ports::Storage::swap_job_state),
/// `maintenance`) runs; every later swap in the window writes the same number
/// and sees it there. So however many servers tick, and at whatever phase,
/// each window gets one pass — as long as each ticks at least once per
/// period. A store that cannot be reached is reported and the pass skipped
/// (its own calls would fail the same way); any other failure to take the
/// turn (a database without the `swap_job_state` migration yet) is reported
/// and the pass runs anyway — each of its jobs claims its work atomically, so
/// a pass too many repeats no effect.
pub async fn maintenance_turn(cx: &Context, period_secs: u32, broadcast_batches: u32) -> bool {
    let period = i64::from(period_secs.max(1));
    let now = cx.now();
    let window = format!("{period}:{}", now.0.div_euclid(period));
    let swap = SwapJobState { name: "maintenance".into(), value: window.clone(), now };
    match cx.storage().swap_job_state(swap).await {
        Ok(Some(before)) if before.value == window => {
            tracing::debug!(window, "maintenance: another server ran this period's pass");
            false
        }
        Ok(_) => {
            maintenance_pass(cx, broadcast_batches).await;
            true
        }
        Err(e) => {
            let message = format!("taking the maintenance turn failed: {e}");
            let temporary = e.is_temporary();
            cx.report(ErrorReport::new(message, "maintenance", temporary)).await;
            if temporary {
                return false;
            }
            maintenance_pass(cx, broadcast_batches).await;
            true
        }
    }
}

/// Logs how many things a job of the maintenance pass did (`done`), or
/// reports its failure (`doing` failed); either way one [`observe`](crate::observe)
/// event for `job`.
async fn settle_job(
    cx: &Context,
    job: &'static str,
    done: &'static str,
    doing: &'static str,
    outcome: crate::Result<usize>,
) {
    crate::observe::job_ran(job, outcome.as_ref().ok().copied());
    match outcome {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "{done}"),
        Err(e) => {
            let (message, temporary) = (format!("{doing} failed: {e}"), e.is_temporary());
            cx.report(ErrorReport::new(message, "maintenance", temporary)).await;
        }
    }
}

/// Expires every pending redemption request past its deadline and tells
/// each partner which of its requests expired. Run it every minute or so
/// (a cron trigger on Workers, an interval on Tokio).
///
/// Returns how many requests expired. A storage failure is returned; a
/// notification that cannot be delivered is reported, not returned (the
/// requests are expired either way).
pub async fn expire_redemptions(cx: &Context) -> crate::Result<usize> {
    let expired = cx.storage().expire_redemptions(cx.now()).await?;
    let mut notices = Vec::new();
    for r in &expired {
        // The request with its partner and the cashier who asked, in one read.
        let view = ViewRedemption { partner: PartnerRef::Id(r.partner), id: r.id };
        let v = match cx.storage().redemption(view).await {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                let temporary = e.is_temporary();
                let message = format!("partner {} of expired request {}: {e}", r.partner, r.id);
                cx.report(ErrorReport::new(message, "expire_redemptions", temporary)).await;
                continue;
            }
        };
        let text = v.partner.language.texts().redemption_expired(r.id, Pts(r.points), Pts(r.purchase));
        notices.push(BotCall::send_message(BotKind::Partner, v.till_chat().0, text, None));
    }
    crate::outbox::send_now(cx, "job:expire_redemptions", notices.into_iter().map(Task::Call).collect()).await;
    Ok(expired.len())
}

/// Customers per call of the expiry job's storage calls.
const EXPIRY_BATCH: u32 = 100;

/// How many batches of 100 customers one maintenance pass
/// expires and reminds; the rest waits for the next pass.
pub const EXPIRY_BATCHES_PER_PASS: u32 = 10;

/// Expires the points whose date has come (see [`program`](crate::program)),
/// up to `max_batches` batches of 100 customers, and tells each customer how
/// many points expired (through the client bot; blocked customers are not
/// told). Runs that overlap — two servers, a cron and a manual run — expire
/// each point once. Returns how many customers lost points; a storage
/// failure is returned, an undeliverable notice reported.
pub async fn expire_points(cx: &Context, max_batches: u32) -> crate::Result<usize> {
    let mut total = 0;
    for _ in 0..max_batches {
        let expired = cx.storage().expire_points(ExpirePoints { now: cx.now(), limit: EXPIRY_BATCH }).await?;
        if expired.is_empty() {
            break;
        }
        total += expired.len();
        let mut tasks = Vec::new();
        for e in expired.iter().filter(|e| !e.customer.blocked) {
            let c = &e.customer;
            let text = c.language.texts().points_expired(e.entry.amount.saturating_neg(), c.balance);
            tasks.push(Task::Call(to_customer(c.telegram_id.0, text)));
        }
        if cx.publishes() {
            tasks.extend(expired.iter().map(|e| Task::Event(crate::usecases::events::expired(e))));
        }
        crate::outbox::send_now(cx, "job:expire_points", tasks).await;
    }
    Ok(total)
}

/// Tells customers, once, of points about to expire (the rules'
/// `expiry.remind_days_before`), up to `max_batches` batches of 100
/// customers. Returns how many were told (or could not be reached).
pub async fn remind_expiry(cx: &Context, max_batches: u32) -> crate::Result<usize> {
    let mut total = 0;
    for _ in 0..max_batches {
        let due = cx.storage().remind_expiry(RemindExpiry { now: cx.now(), limit: EXPIRY_BATCH }).await?;
        if due.is_empty() {
            break;
        }
        total += due.len();
        let notices = due
            .iter()
            .map(|r| {
                let c = &r.customer;
                Task::Call(to_customer(c.telegram_id.0, c.language.texts().expiry_reminder(r.points, &r.at.utc_date())))
            })
            .collect();
        crate::outbox::send_now(cx, "job:remind_expiry", notices).await;
    }
    Ok(total)
}

/// Recomputes the tiers time may change (a window leaving purchases behind,
/// a grace period ending; [`Storage::refresh_tiers`](crate::ports::Storage::refresh_tiers)),
/// up to `max_batches` batches of 100 customers, and tells each customer
/// whose tier changed (blocked ones are not told). Returns how many changed.
pub async fn refresh_tiers(cx: &Context, max_batches: u32) -> crate::Result<usize> {
    let mut total = 0;
    for _ in 0..max_batches {
        let done = cx.storage().refresh_tiers(RefreshTiers { now: cx.now(), limit: EXPIRY_BATCH }).await?;
        total += done.changed.len();
        if !done.changed.is_empty() {
            // The tiers' names as they are now (a job is off the updates' path: one read per batch).
            let rules = cx.storage().program_rules().await.ok();
            let mut tasks: Vec<Task> = done
                .changed
                .iter()
                .filter(|c| !c.customer.blocked)
                .map(|change| Task::Call(crate::usecases::tier_notice(&change.customer, change.from, rules.as_ref())))
                .collect();
            if cx.publishes() {
                let now = cx.now();
                tasks.extend(done.changed.iter().map(|c| Task::Event(crate::usecases::events::tier_refreshed(c, now))));
            }
            crate::outbox::send_now(cx, "job:refresh_tiers", tasks).await;
        }
        if done.checked < EXPIRY_BATCH {
            break;
        }
    }
    Ok(total)
}

/// The client bot's message of a job to a customer.
fn to_customer(chat: i64, text: String) -> BotCall {
    BotCall::send_message(BotKind::Client, chat, text, None)
}

/// What one broadcast message came to.
enum Delivery {
    Sent,
    /// The recipient cannot be reached (blocked the bot, chat gone).
    Unreachable,
    /// Anything else, after retries: worth reporting.
    Failed(TelegramError),
}

/// Delivers up to `max_batches` batches of 25 recipients
/// of a broadcast job, at most 25 messages a second, and returns the job's
/// state afterwards (`None` when the job cannot be read at all, e.g. an
/// unknown id).
///
/// Each recipient gets the text (as written, HTML-escaped) through the
/// client bot (customers) or the partner bot (partners). A `429` is waited
/// out (`retry_after`) and the same message retried, up to 3 times; a
/// recipient who blocked the bot or whose chat is gone (403, 400) counts as
/// failed. Progress goes to the job's admin chat every 10 batches and when
/// the job is done. A storage failure is reported and stops delivery; the
/// job stays resumable — the next call continues after the last claimed
/// recipient (so at most one batch can be lost to a crash, never sent twice).
pub async fn deliver_broadcast(cx: &Context, job: BroadcastId, max_batches: u32) -> Option<BroadcastJob> {
    let ports = cx.ports();
    let storage = cx.storage();
    // A job already finished must not be announced twice.
    let was_pending = match storage.pending_broadcasts().await {
        Ok(jobs) => jobs.iter().any(|j| j.id == job),
        Err(e) => {
            broadcast_storage_error(cx, job, &e.to_string(), e.is_temporary(), None).await;
            return None;
        }
    };
    let mut last: Option<BroadcastJob> = None;
    let mut batches = 0u32;
    let mut reported = false;
    while batches < max_batches {
        let started = ports.clock.now();
        let batch = match storage.claim_broadcast_batch(job, BROADCAST_BATCH).await {
            Ok(b) => b,
            Err(e) => {
                broadcast_storage_error(cx, job, &e.to_string(), e.is_temporary(), last.as_ref()).await;
                return last;
            }
        };
        batches += 1;
        let bot = match batch.job.audience {
            Audience::Customers => BotKind::Client,
            Audience::Partners => BotKind::Partner,
        };
        let text = escape_html(&batch.job.text);
        let (mut sent, mut failed) = (0u32, 0u32);
        for r in &batch.recipients {
            let call = BotCall::send_message(bot, r.chat_id.0, text.clone(), None);
            match deliver_one(cx, &call).await {
                Delivery::Sent => sent += 1,
                Delivery::Unreachable => failed += 1,
                Delivery::Failed(e) => {
                    failed += 1;
                    // One report per call is enough: a misconfigured bot fails every message.
                    if !reported {
                        reported = true;
                        let message = format!("broadcast {job} via {} bot: {e}", bot.as_str());
                        let temporary = e.is_temporary();
                        cx.report(ErrorReport::new(message, "broadcast", temporary)).await;
                    }
                }
            }
        }
        // An empty claim means nobody is left (a store that still says
        // "not done" would otherwise keep this loop spinning).
        let current = if batch.recipients.is_empty() {
            if batch.job.done && was_pending {
                tell_admin(cx, batch.job.admin_chat, ADMIN_LANGUAGE.texts().broadcast_done(&batch.job)).await;
            }
            return Some(batch.job);
        } else {
            match storage.record_broadcast(job, sent, failed).await {
                Ok(j) => j,
                Err(e) => {
                    broadcast_storage_error(cx, job, &e.to_string(), e.is_temporary(), Some(&batch.job)).await;
                    return Some(batch.job);
                }
            }
        };
        let done = current.done;
        let chat = current.admin_chat;
        if done {
            if was_pending {
                tell_admin(cx, chat, ADMIN_LANGUAGE.texts().broadcast_done(&current)).await;
            }
            return Some(current);
        }
        if batches.is_multiple_of(PROGRESS_EVERY) {
            tell_admin(cx, chat, ADMIN_LANGUAGE.texts().broadcast_progress(&current)).await;
        }
        last = Some(current);
        if batches < max_batches {
            pace(cx, started).await;
        }
    }
    last
}

/// Sleeps so that a batch started at `started` lasts at least
/// [`BATCH_MILLIS`]. The clock has whole seconds, so the time already
/// spent is counted pessimistically (one second less than it reads).
async fn pace(cx: &Context, started: crate::domain::Timestamp) {
    let elapsed_secs = cx.ports().clock.now().0.saturating_sub(started.0);
    let surely_elapsed = u64::try_from(elapsed_secs.saturating_sub(1)).unwrap_or(0).saturating_mul(1000);
    if surely_elapsed < BATCH_MILLIS {
        cx.ports().clock.sleep(BATCH_MILLIS - surely_elapsed).await;
    }
}

/// Sends one broadcast message, waiting out 429s and retrying transient
/// failures a few times.
async fn deliver_one(cx: &Context, call: &BotCall) -> Delivery {
    let ports = cx.ports();
    let mut attempt = 0;
    loop {
        let error = match ports.telegram.call(call).await {
            Ok(_) => return Delivery::Sent,
            Err(e) => e,
        };
        let wait_millis = match &error {
            TelegramError::RetryAfter(secs) => u64::from((*secs).max(1)) * 1000,
            e if e.is_temporary() => 500 << attempt,
            e if e.is_unreachable_chat() => return Delivery::Unreachable,
            _ => return Delivery::Failed(error),
        };
        if attempt >= MAX_SEND_RETRIES {
            return Delivery::Failed(error);
        }
        ports.clock.sleep(wait_millis).await;
        attempt += 1;
    }
}

async fn tell_admin(cx: &Context, chat: i64, text: String) {
    if let Err(e) = cx.send(&BotCall::send_message(BotKind::Admin, chat, text, None)).await {
        let temporary = e.is_temporary();
        let message = format!("broadcast report to the admin chat failed: {e}");
        cx.report(ErrorReport::new(message, "broadcast", temporary)).await;
    }
}

async fn broadcast_storage_error(
    cx: &Context,
    job: BroadcastId,
    error: &str,
    temporary: bool,
    known: Option<&BroadcastJob>,
) {
    let message = format!("broadcast {job} stopped: {error}");
    cx.report(ErrorReport::new(message, "broadcast", temporary)).await;
    if let Some(j) = known {
        tell_admin(cx, j.admin_chat, ADMIN_LANGUAGE.texts().broadcast_paused(job)).await;
    }
}
