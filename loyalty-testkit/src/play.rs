//! Playing a conversation through a [`TestEnv`]'s engine, update by update,
//! as the scenarios that measure what updates cost ([`crate::round_trips`],
//! [`crate::history`]) do.

use crate::fakes::TestEnv;
use crate::inspect::buttons;
use loyalty_core::domain::{BotKind, CustomerId, TelegramUserId};
use loyalty_core::ports::{CustomerRef, CustomerSummary};
use loyalty_core::telegram::build::{TgUser, callback, reply, text};
use loyalty_core::telegram::{BotCall, Update};
use std::sync::atomic::{AtomicI64, Ordering};

/// Sends updates with increasing ids to an engine and returns what it
/// answered; panics on an update dropped as a duplicate or refused with an error.
pub(crate) struct Player<'a> {
    pub(crate) env: &'a TestEnv,
    next_update: AtomicI64,
}

impl<'a> Player<'a> {
    pub(crate) fn new(env: &'a TestEnv) -> Player<'a> {
        Player { env, next_update: AtomicI64::new(1) }
    }

    fn id(&self) -> i64 {
        self.next_update.fetch_add(1, Ordering::SeqCst)
    }

    /// `who` writes `words` to `bot`.
    pub(crate) async fn say(&self, bot: BotKind, who: &TgUser, words: &str) -> Vec<BotCall> {
        self.process(bot, &text(self.id(), who, words), words).await
    }

    /// `who` answers the bot's message `prompt` with `words`.
    pub(crate) async fn reply(&self, bot: BotKind, who: &TgUser, prompt: &str, words: &str) -> Vec<BotCall> {
        self.process(bot, &reply(self.id(), who, prompt, words), &format!("{words} (answering {prompt})")).await
    }

    /// `who` presses the button with callback data `data`.
    pub(crate) async fn press(&self, bot: BotKind, who: &TgUser, data: &str) -> Vec<BotCall> {
        let id = self.id();
        self.process(bot, &callback(id, who, id, data), &format!("button {data}")).await
    }

    async fn process(&self, bot: BotKind, update: &Update, what: &str) -> Vec<BotCall> {
        match self.env.engine.process_update(bot, update).await {
            Ok(Some(outbox)) => outbox.calls,
            Ok(None) => panic!("{bot:?} {what}: dropped as a duplicate"),
            Err(e) => panic!("{bot:?} {what}: {e}"),
        }
    }
}

/// The text of the first call of an answer ("" without one).
pub(crate) fn first_text(calls: &[BotCall]) -> &str {
    calls.first().and_then(|c| c.text()).unwrap_or_default()
}

/// The buttons of the first call of an answer.
pub(crate) fn first_buttons(calls: &[BotCall]) -> Vec<String> {
    calls.first().map(buttons).unwrap_or_default()
}

/// The summary of the customer `who` is, who must have signed up.
pub(crate) async fn summary_of(env: &TestEnv, who: &TgUser) -> CustomerSummary {
    let summary = env.storage.customer_summary(CustomerRef::Telegram(TelegramUserId(who.id)), 0).await;
    summary.expect("summary").expect("the customer signed up")
}

/// The id of the customer `who` is.
pub(crate) async fn customer_id(env: &TestEnv, who: &TgUser) -> CustomerId {
    summary_of(env, who).await.customer.id
}
