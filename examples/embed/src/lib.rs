//! How another program embeds loyalty-rs — the code a team would write to run
//! the loyalty engine inside its own service:
//!
//! - [`LoggingStore`] wraps the store with the team's own logging (and a count
//!   of storage round trips), by implementing the one-method
//!   [`RpcBackend`] protocol around any backend that speaks it (SQLite here;
//!   PostgreSQL and PostgREST too);
//! - [`Milestones`] is an [`Extension`]: it adds a `/whoami` command to the
//!   client bot, next to the built-in ones, and reacts to a ledger event — a
//!   customer whose balance crosses a milestone gets a message of the team's own;
//! - [`app`] is the team's own axum app: its routes (`/status`) merged with the
//!   engine's (webhooks, REST API, health).
//!
//! `src/main.rs` runs it on an SQLite file; `tests/embed.rs` drives it over
//! loopback HTTP.

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use loyalty_core::domain::{BotKind, Points, TelegramUserId};
use loyalty_core::ports::{CustomerRef, StoreResult, UpdateClaim};
use loyalty_core::stores::rpc::RpcBackend;
use loyalty_core::telegram::{BotCall, Command, Update, UpdateKind, escape_html};
use loyalty_core::{Context, Engine, Event, Extension, Outbox, Result};
use loyalty_native::server::App;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A storage backend with the team's own logging: every round trip is logged
/// (function, duration, outcome) and counted.
#[derive(Debug, Default)]
pub struct LoggingStore<B> {
    inner: B,
    calls: AtomicU64,
}

impl<B> LoggingStore<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> LoggingStore<B> {
        LoggingStore { inner, calls: AtomicU64::new(0) }
    }

    /// How many storage round trips went through so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn log<T>(&self, function: &str, claimed: bool, started: Instant, result: &StoreResult<T>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let micros = started.elapsed().as_micros();
        match result {
            Ok(_) => tracing::info!(function, claimed, micros, "storage call"),
            Err(e) => tracing::warn!(function, claimed, micros, error = %e, "storage call failed"),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<B: RpcBackend> RpcBackend for LoggingStore<B> {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        let started = Instant::now();
        let result = self.inner.call_function(function, request).await;
        self.log(function, false, started, &result);
        result
    }

    async fn call_function_claimed(&self, claim: &UpdateClaim, func: &'static str, req: String) -> StoreResult<Value> {
        let started = Instant::now();
        let result = self.inner.call_function_claimed(claim, func, req).await;
        self.log(func, true, started, &result);
        result
    }
}

/// The team's extension: `/whoami` in the client bot, and a message when a
/// customer's balance reaches a multiple of `every` points.
#[derive(Debug, Clone, Copy)]
pub struct Milestones {
    /// The milestone step, in points.
    pub every: Points,
}

impl Default for Milestones {
    fn default() -> Milestones {
        Milestones { every: 1000 }
    }
}

impl Milestones {
    /// The milestone `balance` reached by gaining `gained`, if it crossed one.
    pub fn crossed(&self, balance: Points, gained: Points) -> Option<Points> {
        if self.every <= 0 || gained <= 0 {
            return None;
        }
        let (before, after) = ((balance - gained).div_euclid(self.every), balance.div_euclid(self.every));
        (after > before && after > 0).then(|| after * self.every)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Extension for Milestones {
    async fn on_unclaimed(&self, cx: &Context, bot: BotKind, update: &Update) -> Result<Option<Outbox>> {
        let UpdateKind::Message(m) = update.kind() else { return Ok(None) };
        let whoami = m.text.as_deref().and_then(Command::parse).is_some_and(|c| c.name == "whoami");
        let Some(from) = m.from.as_ref().filter(|_| bot == BotKind::Client && whoami) else { return Ok(None) };
        let who = CustomerRef::Telegram(TelegramUserId(from.id));
        // The extension runs inside the update's processing: this call claims the update, like a built-in one.
        let text = match cx.storage().customer_summary(who, 0).await? {
            Some(s) => format!("You are card {} with {} points.", s.customer.code, s.customer.balance),
            None => "You have no card yet: send /start.".to_string(),
        };
        Ok(Some(Outbox::one(BotCall::send_message(bot, m.chat.id, text, None))))
    }

    fn on_event(&self, _cx: &Context, event: &Event<'_>) -> Vec<BotCall> {
        let Event::Credited(c) = event else { return Vec::new() };
        let Some(milestone) = self.crossed(c.customer.balance, c.entry.amount) else { return Vec::new() };
        // Bot messages are HTML: what people typed (a partner's name) is escaped.
        let text = format!("🏆 {} points! Thank you for shopping at {}.", milestone, escape_html(&c.partner.name));
        vec![BotCall::send_message(BotKind::Client, c.customer.telegram_id.0, text, None)]
    }
}

/// The team's own axum app: `GET /status` (storage round trips so far) next
/// to the engine's routes (`/webhook/{bot}`, `/api/…`, `/health`, `/ready`).
pub fn app<B: RpcBackend + 'static>(app: App, store: Arc<LoggingStore<B>>) -> Router {
    let ours = Router::new().route("/status", get(status::<B>)).with_state(store);
    loyalty_native::server::router(app).merge(ours)
}

async fn status<B: RpcBackend + 'static>(State(store): State<Arc<LoggingStore<B>>>) -> axum::Json<Value> {
    axum::Json(json!({ "storage_calls": store.calls() }))
}

/// `engine` with the [`Milestones`] extension.
pub fn engine(engine: Engine, milestones: Milestones) -> Engine {
    engine.with_extension(Arc::new(milestones))
}
