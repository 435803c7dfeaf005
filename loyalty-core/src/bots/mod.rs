//! The three bots. Each handler takes an update and returns an [`Outbox`]:
//! the calls to make. Routing is a plain `match` on commands and callback data.
//! An engine runs the bots it serves ([`Bots`], whose consts name each bot's
//! code: this module fills the table the [`Context`] holds).

pub mod admin;
mod campaigns;
pub mod client;
pub mod common;
pub mod partner;
mod rewards;
mod webhooks;

pub use crate::context::served::Bots;
use crate::context::{BotCode, Context, Outbox};
use crate::domain::BotKind;
use crate::error::Result;
use crate::maybe_send::BoxFuture;
use crate::telegram::{Command, Update, UpdateKind};

/// Handles one update addressed to `bot`: the program's
/// [`Extension`](crate::Extension) first when the built-in bot does not claim
/// it, else (or when the extension leaves it) the bot that serves it. A bot
/// the context's engine does not serve ([`Bots`]) claims nothing and answers
/// nothing: the extension alone sees its updates.
pub(crate) async fn handle(cx: &Context, bot: BotKind, update: &Update) -> Result<Outbox> {
    let code = cx.bots().code(bot);
    if let Some(extension) = cx.extension()
        && !code.is_some_and(|code| (code.claims)(update))
        && let Some(outbox) = extension.on_unclaimed(cx, bot, update).await?
    {
        return Ok(outbox);
    }
    match code {
        Some(code) => (code.handle)(cx, update).await,
        None => Ok(Outbox::default()),
    }
}

impl Bots {
    /// The customers' bot.
    pub const CLIENT: Bots =
        Bots { client: Some(BotCode { handle: client_handle, claims: client_claims }), ..Bots::NONE };
    /// The merchants' bot.
    pub const PARTNER: Bots =
        Bots { partner: Some(BotCode { handle: partner_handle, claims: partner_claims }), ..Bots::NONE };
    /// The admins' bot.
    pub const ADMIN: Bots = Bots { admin: Some(BotCode { handle: admin_handle, claims: admin_claims }), ..Bots::NONE };
    /// The three bots ([`Engine::new`](crate::Engine::new) serves them).
    pub const ALL: Bots = Bots::CLIENT.union(Bots::PARTNER).union(Bots::ADMIN);
}

fn client_handle<'a>(cx: &'a Context, update: &'a Update) -> BoxFuture<'a, Result<Outbox>> {
    Box::pin(client::handle(cx, update))
}

fn partner_handle<'a>(cx: &'a Context, update: &'a Update) -> BoxFuture<'a, Result<Outbox>> {
    Box::pin(partner::handle(cx, update))
}

fn admin_handle<'a>(cx: &'a Context, update: &'a Update) -> BoxFuture<'a, Result<Outbox>> {
    Box::pin(admin::handle(cx, update))
}

fn client_claims(update: &Update) -> bool {
    claims(
        update,
        |cmd| client::command(cmd) != client::Action::Unknown,
        |data| client::Callback::parse(data).is_some(),
    )
}

fn partner_claims(update: &Update) -> bool {
    claims(update, |cmd| partner::Action::parse(cmd).is_some(), partner::claims_callback)
}

fn admin_claims(update: &Update) -> bool {
    claims(update, |cmd| admin::Action::parse(cmd).is_some(), |data| admin::parse_callback(data).is_some())
}

/// Whether a built-in bot claims `update`: everything but a command it does
/// not know (`knows` is false) and a callback query whose data is not one of
/// its buttons' (`button` is false).
fn claims(update: &Update, knows: impl Fn(&Command<'_>) -> bool, button: impl Fn(&str) -> bool) -> bool {
    match update.kind() {
        UpdateKind::Message(m) => m.text.as_deref().and_then(Command::parse).is_none_or(|cmd| knows(&cmd)),
        UpdateKind::CallbackQuery(q) => q.data.as_deref().is_some_and(button),
        _ => true,
    }
}
