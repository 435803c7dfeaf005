//! [`TaskRunner`]: runs the deferred work of updates and API calls after the
//! response has been sent, and waits for it at shutdown.
//!
//! Each call to [`TaskRunner::spawn`] starts one Tokio task that runs the
//! given [`Task`]s one after the other with [`Engine::run_task`], so the calls
//! an update produced reach Telegram in the order the bot wrote them. Tasks of
//! different updates run concurrently.

use futures::FutureExt;
use loyalty_core::outbox::Delivery;
use loyalty_core::ports::ErrorReport;
use loyalty_core::ports::UpdateRef;
use loyalty_core::{Engine, Task};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

/// Runs deferred tasks in the background; cheap to clone (clones share the
/// same set of running tasks).
///
/// An update that had nothing to send still has to be marked finished (see
/// [`loyalty_core::outbox`]); those are grouped — every few milliseconds, up
/// to 100 in one storage call ([`Engine::finish_updates`]) — instead of one
/// write each.
#[derive(Debug, Clone, Default)]
pub struct TaskRunner {
    tracker: TaskTracker,
    finisher: Arc<OnceLock<Arc<Finisher>>>,
}

/// How long the first of a group of updates to finish waits for others.
const FINISH_GROUP_WAIT: Duration = Duration::from_millis(5);

/// The updates waiting to be marked finished, and the task that does it.
#[derive(Debug)]
struct Finisher {
    engine: Engine,
    pending: Mutex<Vec<UpdateRef>>,
    wake: Notify,
}

impl Finisher {
    /// A finisher and its task (which lives as long as the runtime).
    fn start(engine: Engine) -> Arc<Finisher> {
        let finisher = Arc::new(Finisher { engine, pending: Mutex::default(), wake: Notify::new() });
        let task = finisher.clone();
        tokio::spawn(async move {
            loop {
                task.wake.notified().await;
                tokio::time::sleep(FINISH_GROUP_WAIT).await;
                task.flush().await;
            }
        });
        finisher
    }

    fn push(&self, update: UpdateRef) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).push(update);
        self.wake.notify_one();
    }

    /// Finishes what is waiting now.
    async fn flush(&self) {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !batch.is_empty() {
            self.engine.finish_updates(batch).await;
        }
    }
}

/// Counts a group of deferred work in `loyalty_deferred_pending` until it ends (or is dropped).
struct Pending(metrics::Gauge);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// What [`TaskRunner::shutdown`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Whether every task finished within the timeout.
    pub complete: bool,
    /// How many task groups were still running when the timeout expired
    /// (they are left running; the process is about to exit).
    pub abandoned: usize,
}

impl TaskRunner {
    /// A runner with nothing running.
    pub fn new() -> TaskRunner {
        TaskRunner::default()
    }

    /// Runs `tasks` in order, in one spawned Tokio task, each with
    /// [`Engine::run_task`] (which reports its own failures). A panic in a
    /// task is caught and reported through the engine's error reporter; the
    /// remaining tasks of the group are skipped.
    ///
    /// Returns `false`, running nothing, once [`TaskRunner::shutdown`] has
    /// started (the tasks are logged as dropped). An empty list spawns nothing.
    ///
    /// Must be called from within a Tokio runtime.
    pub fn spawn(&self, engine: &Engine, tasks: Vec<Task>) -> bool {
        if tasks.is_empty() {
            return true;
        }
        if let [Task::Deliver(Delivery { update: Some(update), tasks: rest, .. })] = tasks.as_slice()
            && rest.is_empty()
            && !self.tracker.is_closed()
        {
            // Nothing to send: grouped with other updates' finishing.
            self.finisher.get_or_init(|| Finisher::start(engine.clone())).push(*update);
            return true;
        }
        if self.tracker.is_closed() {
            // An update's messages are then written by the maintenance pass of the next process
            // (the update stays unfinished); messages already in the outbox wait there.
            tracing::warn!(tasks = tasks.len(), "shutting down: deferred tasks left to the outbox");
            metrics::counter!("loyalty_deferred_dropped_total").increment(1);
            return false;
        }
        let engine = engine.clone();
        let pending = metrics::gauge!("loyalty_deferred_pending");
        pending.increment(1.0);
        self.tracker.spawn(async move {
            let _pending = Pending(pending);
            let run = async {
                for task in tasks {
                    engine.run_task(task).await;
                }
            };
            // The payload is not reported: it may quote what someone sent.
            if AssertUnwindSafe(run).catch_unwind().await.is_err() {
                engine.report(ErrorReport::new("a deferred task panicked".to_string(), "deferred", false)).await;
            }
        });
        true
    }

    /// How many task groups are running now.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }

    /// Waits until no task is running (new ones may start right after), up to
    /// `timeout`; `false` on timeout. For tests and the simulation, which
    /// look at what deferred tasks sent.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        if let Some(finisher) = self.finisher.get() {
            finisher.flush().await;
        }
        while !self.tracker.is_empty() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Whether [`TaskRunner::shutdown`] has started.
    pub fn is_closed(&self) -> bool {
        self.tracker.is_closed()
    }

    /// Stops accepting new work and waits up to `timeout` for the running
    /// tasks to finish.
    pub async fn shutdown(&self, timeout: Duration) -> Drained {
        self.tracker.close();
        let finished = async {
            if let Some(finisher) = self.finisher.get() {
                finisher.flush().await;
            }
            self.tracker.wait().await;
        };
        let complete = tokio::time::timeout(timeout, finished).await.is_ok();
        let abandoned = if complete { 0 } else { self.tracker.len() };
        if !complete {
            tracing::warn!(abandoned, ?timeout, "deferred tasks still running at shutdown");
        }
        Drained { complete, abandoned }
    }
}

/// How many batches of a pending broadcast one maintenance pass delivers.
pub use loyalty_core::jobs::BROADCAST_BATCHES_PER_PASS;

/// One maintenance pass: [`Engine::maintenance_pass`] with
/// [`BROADCAST_BATCHES_PER_PASS`].
pub async fn maintenance_pass(engine: &Engine) {
    engine.maintenance_pass(BROADCAST_BATCHES_PER_PASS).await;
}

/// Ticks now and then every `every` until `stop` completes, running the
/// maintenance pass on each tick unless another server on the same store ran
/// it in the current `every`-long period ([`Engine::maintenance_turn`]): with
/// several `loyalty serve` processes on one database, each period's pass runs
/// once. A pass that is running when `stop` completes finishes first.
pub async fn maintenance_loop(engine: Engine, every: Duration, stop: impl Future<Output = ()>) {
    let period = u32::try_from(every.as_secs().max(1)).unwrap_or(u32::MAX);
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {
                engine.maintenance_turn(period, BROADCAST_BATCHES_PER_PASS).await;
            }
        }
    }
}

/// How long [`outbox_loop`] waits when the outbox has nothing due.
pub const OUTBOX_IDLE: Duration = Duration::from_millis(500);

/// The outbox's dispatcher ([`Engine::drain_outbox`]): delivers due messages
/// batch after batch, and looks again every `idle` when nothing is due, until
/// `stop` is cancelled (a batch being delivered finishes first). Messages the
/// processes that wrote them could not send — they were killed, Telegram
/// was unreachable, `retry_after` — go out from here; with several
/// `loyalty serve` processes on one database each message is handed to one
/// of them ([`Storage::take_messages`](loyalty_core::ports::Storage::take_messages)).
/// Per-chat and per-bot pacing is the Telegram client's
/// ([`RateLimiter`](crate::telegram::RateLimiter)).
pub async fn outbox_loop(engine: Engine, idle: Duration, stop: tokio_util::sync::CancellationToken) {
    while !stop.is_cancelled() {
        let drained = engine.drain_outbox(1).await;
        if drained.taken == 0 {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(idle) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loyalty_core::domain::BotKind;
    use loyalty_core::telegram::BotCall;
    use loyalty_testkit::TestEnv;

    fn call(n: i64) -> Task {
        Task::Call(BotCall::new(BotKind::Client, "sendMessage", &serde_json::json!({"chat_id": n, "text": "hi"})))
    }

    #[tokio::test]
    async fn runs_in_order_then_refuses_after_shutdown() {
        let env = TestEnv::new();
        let runner = TaskRunner::new();
        assert!(runner.spawn(&env.engine, (1..=5).map(call).collect()));
        let drained = runner.shutdown(Duration::from_secs(10)).await;
        assert_eq!(drained, Drained { complete: true, abandoned: 0 });
        let chats: Vec<_> = env.telegram.calls().iter().filter_map(BotCall::chat_id).collect();
        assert_eq!(chats, vec![1, 2, 3, 4, 5]);
        assert!(runner.is_closed());
        assert!(!runner.spawn(&env.engine, vec![call(6)]));
        tokio::task::yield_now().await;
        assert_eq!(env.telegram.calls().len(), 5, "nothing runs after shutdown");
    }
}
