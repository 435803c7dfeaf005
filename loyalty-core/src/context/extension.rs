//! Extension points for a program that embeds the engine: an [`Extension`]
//! answers the commands and buttons the built-in bots do not know, and hears
//! of every use case that changed the ledger ([`Event`]).
//!
//! ```
//! use loyalty_core::{Event, Extension};
//! use loyalty_core::telegram::{BotCall, Command, Update, UpdateKind};
//! use loyalty_core::domain::BotKind;
//! use loyalty_core::{Context, Outbox, Result};
//!
//! /// Adds `/ping` to the client bot and thanks every customer who earns points.
//! #[derive(Debug)]
//! struct Ping;
//!
//! #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
//! #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
//! impl Extension for Ping {
//!     async fn on_unclaimed(&self, _cx: &Context, bot: BotKind, update: &Update) -> Result<Option<Outbox>> {
//!         let UpdateKind::Message(m) = update.kind() else { return Ok(None) };
//!         let ping = m.text.as_deref().and_then(Command::parse).is_some_and(|c| c.name == "ping");
//!         Ok((bot == BotKind::Client && ping)
//!             .then(|| Outbox::one(BotCall::send_message(bot, m.chat.id, "pong", None))))
//!     }
//!
//!     fn on_event(&self, _cx: &Context, event: &Event<'_>) -> Vec<BotCall> {
//!         match event {
//!             Event::Credited(c) => {
//!                 vec![BotCall::send_message(BotKind::Client, c.customer.telegram_id.0, "Thank you!", None)]
//!             }
//!             _ => Vec::new(),
//!         }
//!     }
//! }
//! ```
//!
//! Register it with [`Engine::with_extension`](crate::Engine::with_extension).

use super::{Context, Outbox};
use crate::domain::BotKind;
use crate::error::Result;
use crate::maybe_send::{MaybeSend, MaybeSync};
use crate::ports::{Adjusted, Applied, Credited, Decided, RedemptionView, Registration, Reversed, Stamped};
use crate::telegram::{BotCall, Update};
use async_trait::async_trait;

/// What a use case did, told to the [`Extension`] right after its storage
/// call committed. Never told for a replay (a retried update or API request
/// that found its first result), so each change is told once per process
/// that made it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A person started the client bot for the first time (with the welcome
    /// and referral bonuses it gave).
    SignedUp(&'a Registration),
    /// A partner credited points for a purchase (bot or POS API).
    Credited(&'a Credited),
    /// A partner asked a customer to pay with points.
    RedemptionOpened(&'a RedemptionView),
    /// The customer answered a redemption request (bot or Mini App).
    RedemptionAnswered {
        /// The request after the answer.
        view: &'a RedemptionView,
        /// Whether the customer paid.
        confirmed: bool,
    },
    /// A partner reversed one of its operations.
    Reversed(&'a Reversed),
    /// An admin adjusted a customer's balance.
    Adjusted(&'a Adjusted),
    /// A merchant applied to join.
    PartnerApplied(&'a Applied),
    /// An admin approved, rejected or suspended a partner (a change of status).
    PartnerDecided(&'a Decided),
    /// A partner gave a customer a stamp (bot or POS API); `completed` says
    /// whether it filled the card.
    Stamped(&'a Stamped),
}

/// A program's own behaviour next to the built-in bots. Both methods have
/// defaults that do nothing, so an extension implements what it needs.
///
/// An extension runs inside the update's processing: its storage calls go
/// through [`Context::storage`] and the update is still processed once
/// (see [`Engine::process_update`](crate::Engine::process_update)).
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Extension: MaybeSend + MaybeSync + std::fmt::Debug {
    /// An update `bot` does not claim: a command it does not know, or a
    /// callback query whose data is not one of its buttons'. `Ok(Some(_))`
    /// answers it; `Ok(None)` leaves it to the built-in bot (which shows its
    /// help, or answers the callback silently). `Err` is treated like a bot's
    /// error: a temporary one makes Telegram deliver the update again.
    async fn on_unclaimed(&self, cx: &Context, bot: BotKind, update: &Update) -> Result<Option<Outbox>> {
        let _ = (cx, bot, update);
        Ok(None)
    }

    /// A use case committed `event`. The calls returned are sent after the
    /// built-in answer, like the built-in notifications (on Workers within
    /// the request's `waitUntil`, natively by the runtime's task).
    /// [`BotCall::send_message`] sends HTML: escape what people typed (names)
    /// with [`escape_html`](crate::telegram::escape_html).
    fn on_event(&self, cx: &Context, event: &Event<'_>) -> Vec<BotCall> {
        let _ = (cx, event);
        Vec::new()
    }
}
