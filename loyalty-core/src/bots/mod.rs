//! The three bots. Each handler takes an update and returns an [`Outbox`]:
//! the calls to make. Routing is a plain `match` on commands and callback data.

pub mod admin;
pub mod client;
pub mod common;
pub mod partner;

use crate::context::{Context, Outbox};
use crate::domain::BotKind;
use crate::error::Result;
use crate::telegram::Update;

/// Handles one update addressed to `bot` with the bot that serves it.
pub(crate) async fn handle(cx: &Context, bot: BotKind, update: &Update) -> Result<Outbox> {
    match bot {
        BotKind::Client => client::handle(cx, update).await,
        BotKind::Partner => partner::handle(cx, update).await,
        BotKind::Admin => admin::handle(cx, update).await,
        BotKind::Alerts => Ok(Outbox::default()),
    }
}
