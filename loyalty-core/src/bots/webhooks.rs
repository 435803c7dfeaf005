//! Outgoing webhooks in the bots ([`outgoing`](crate::outgoing)).
//!
//! The admin bot manages the program's endpoints (they receive every event
//! they subscribe to) and a partner's owner, in the partner bot, its own
//! (they receive the events of its own business), with the same commands:
//! `/webhooks` lists them with how their last delivery went,
//! `/webhook_add <url> <events>` registers one and answers its signing
//! secret — once, in that reply only; `/webhooks` never shows it — and
//! `/webhook_remove <id>` removes one. Whose endpoints a command touches is
//! the caller's [`WebhookOwner`]; the store refuses someone else's.

use super::common::{list_text, parse_id};
use crate::context::Context;
use crate::domain::{Language, WebhookId};
use crate::outgoing::parse_events;
use crate::ports::{Rejection, RemoveWebhook, StoreResult, WebhookOwner};
use crate::texts::{self, Esc};
use crate::usecases;

/// A webhook command of the admin or the partner bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookCommand<'a> {
    /// `/webhooks`: the owner's endpoints.
    List,
    /// `/webhook_add <url> <events>`.
    Add(&'a str),
    /// `/webhook_remove <id>`.
    Remove(&'a str),
}

/// `<url> <events…>` as typed: the URL and the events' list (still unparsed);
/// `None` when either is missing.
fn split_add(args: &str) -> Option<(&str, &str)> {
    let (url, events) = args.trim().split_once(char::is_whitespace)?;
    let events = events.trim();
    (!url.is_empty() && !events.is_empty()).then_some((url, events))
}

/// Runs `cmd` for `owner`, answering in `lang`: the reply; a store's refusal
/// is the caller's to word (`Err`, so that the partner bot can tell a
/// cashier that only the owner does this). Input the command cannot use is
/// answered with the usage, and changes nothing. `key` is the update's
/// idempotency key: an update processed again registers nothing more and
/// answers the endpoint (and secret) it registered.
pub(crate) async fn run(
    cx: &Context,
    lang: Language,
    owner: WebhookOwner,
    cmd: WebhookCommand<'_>,
    key: String,
) -> StoreResult<String> {
    let t = lang.texts();
    let usage = || t.webhooks_usage(&texts::webhook_event_names());
    match cmd {
        WebhookCommand::List => {
            let endpoints = cx.storage().webhooks(owner).await?;
            let listed = list_text(endpoints.iter().map(|w| texts::webhook_line(t, w)));
            let body = listed.unwrap_or_else(|| t.webhooks_none().to_owned());
            Ok(format!("{}\n\n{body}\n\n{}", t.webhooks_title(), usage()))
        }
        WebhookCommand::Add(args) => {
            let Some((url, events)) = split_add(args) else { return Ok(usage()) };
            let events = match parse_events(events) {
                Ok(events) => events,
                Err(reason) => {
                    return Ok(format!("{}\n\n{}", t.rejection(&Rejection::InvalidWebhook { reason }), usage()));
                }
            };
            let w = usecases::add_webhook(cx, owner, url, events, key).await?.webhook;
            Ok(t.webhook_added(w.id.0, Esc(&w.url), &texts::webhook_events(&w.events), &w.secret))
        }
        WebhookCommand::Remove(args) => {
            let Some(id) = parse_id(args) else { return Ok(usage()) };
            let req = RemoveWebhook { owner, id: WebhookId(id), now: cx.now() };
            let w = cx.storage().remove_webhook(req).await?;
            Ok(t.webhook_removed(w.id.0, Esc(&w.url)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_url_from_the_events() {
        assert_eq!(
            split_add(" https://a.example/h  points.credited, tier.changed "),
            Some(("https://a.example/h", "points.credited, tier.changed"))
        );
        assert_eq!(split_add("https://a.example/h\nall"), Some(("https://a.example/h", "all")));
        assert_eq!(split_add("https://a.example/h"), None);
        assert_eq!(split_add("  "), None);
    }
}
