//! The three bots. Each handler takes an update and returns an [`Outbox`]:
//! the calls to make. Routing is a plain `match` on commands and callback data.

pub mod admin;
pub mod client;
pub mod common;
pub mod partner;

use crate::engine::{Engine, Outbox};
use crate::error::Result;
use crate::ports::BotKind;
use crate::telegram::Update;

impl Engine {
    /// Handles one update addressed to `bot` (no de-duplication here: see
    /// [`Engine::handle_webhook`] and the long-polling loops for that).
    ///
    /// Returns `Err` only for failures worth a retry by Telegram
    /// ([`crate::Error::is_temporary`]); user mistakes and permanent failures
    /// are answered with a message in the outbox.
    pub async fn handle_update(&self, bot: BotKind, update: &Update) -> Result<Outbox> {
        match bot {
            BotKind::Client => client::handle(self, update).await,
            BotKind::Partner => partner::handle(self, update).await,
            BotKind::Admin => admin::handle(self, update).await,
            BotKind::Alerts => Ok(Outbox::default()),
        }
    }
}
