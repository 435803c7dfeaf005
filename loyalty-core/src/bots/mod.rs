//! The three bots. Each handler takes an update and returns an [`Outbox`]:
//! the calls to make. Routing is a plain `match` on commands and callback data.

pub mod admin;
mod campaigns;
pub mod client;
pub mod common;
pub mod partner;
mod rewards;
mod webhooks;

use crate::context::{Context, Outbox};
use crate::domain::BotKind;
use crate::error::Result;
use crate::telegram::{Command, Update, UpdateKind};

/// Handles one update addressed to `bot`: the program's
/// [`Extension`](crate::Extension) first when the built-in bot does not claim
/// it, else (or when the extension leaves it) the bot that serves it.
pub(crate) async fn handle(cx: &Context, bot: BotKind, update: &Update) -> Result<Outbox> {
    if let Some(extension) = cx.extension()
        && !claims(bot, update)
        && let Some(outbox) = extension.on_unclaimed(cx, bot, update).await?
    {
        return Ok(outbox);
    }
    match bot {
        BotKind::Client => client::handle(cx, update).await,
        BotKind::Partner => partner::handle(cx, update).await,
        BotKind::Admin => admin::handle(cx, update).await,
        BotKind::Alerts => Ok(Outbox::default()),
    }
}

/// Whether the built-in `bot` claims `update`: everything but a command it
/// does not know and a callback query whose data is not one of its buttons'.
fn claims(bot: BotKind, update: &Update) -> bool {
    match update.kind() {
        UpdateKind::Message(m) => m.text.as_deref().and_then(Command::parse).is_none_or(|cmd| match bot {
            BotKind::Client => client::command(&cmd) != client::Action::Unknown,
            BotKind::Partner => partner::Action::parse(&cmd).is_some(),
            BotKind::Admin => admin::Action::parse(&cmd).is_some(),
            BotKind::Alerts => false,
        }),
        UpdateKind::CallbackQuery(q) => q.data.as_deref().is_some_and(|data| match bot {
            BotKind::Client => client::Callback::parse(data).is_some(),
            BotKind::Partner => partner::claims_callback(data),
            BotKind::Admin => admin::parse_callback(data).is_some(),
            BotKind::Alerts => false,
        }),
        _ => true,
    }
}
