//! Small readers of handler output for assertions.

use crate::context::Outbox;
use crate::domain::{Customer, Language, Points, TelegramUserId};
use crate::ports::{CustomerRef, NewCustomer};

use crate::domain::BotKind;
use crate::telegram::BotCall;
use serde_json::{Map, Value};

use super::TestEnv;

/// The `callback_data` of every inline button of `call`, row by row.
pub fn buttons(call: &BotCall) -> Vec<String> {
    buttons_in(&call.params)
}

/// The `callback_data` of every inline button in a call's parameters (a
/// `BotCall`'s, or a call recorded by a fake Bot API), row by row.
pub fn buttons_in(params: &Map<String, Value>) -> Vec<String> {
    params
        .get("reply_markup")
        .and_then(|m| m.get("inline_keyboard"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|b| b.get("callback_data")?.as_str().map(str::to_string))
        .collect()
}

/// Whether `call` asks the client for a reply (`force_reply`).
pub fn forces_reply(call: &BotCall) -> bool {
    forces_reply_in(&call.params)
}

/// Whether a call's parameters ask the client for a reply (`force_reply`).
pub fn forces_reply_in(params: &Map<String, Value>) -> bool {
    params.get("reply_markup").and_then(|m| m.get("force_reply")).and_then(Value::as_bool) == Some(true)
}

/// The text of the first call (the direct reply), or `""`.
pub fn first_text(out: &Outbox) -> String {
    out.calls.first().and_then(BotCall::text).unwrap_or_default().to_string()
}

/// Texts of the `sendMessage` calls through `bot` to `chat`, in order.
pub fn texts_to(out: &Outbox, bot: BotKind, chat: i64) -> Vec<String> {
    out.calls
        .iter()
        .filter(|c| c.bot == bot && c.chat_id() == Some(chat) && c.method == "sendMessage")
        .filter_map(|c| c.text().map(str::to_string))
        .collect()
}

impl TestEnv {
    /// Registers a customer directly in storage (100 points welcome bonus, no referral).
    ///
    /// # Panics
    /// If the store refuses: a test set-up error.
    pub async fn customer(&self, telegram_id: i64, name: &str, language: Language) -> Customer {
        let req = NewCustomer {
            telegram_id: TelegramUserId(telegram_id),
            code: self.engine.random_code(),
            first_name: name.into(),
            username: None,
            language,
            referrer: None,
            welcome_bonus: 100,
            referral_bonus: 0,
            now: self.engine.now(),
        };
        match self.storage.register_customer(req).await {
            Ok(r) => r.customer,
            Err(e) => panic!("test set-up: registering {name} failed: {e}"),
        }
    }

    /// A customer's current balance (0 when unknown).
    pub async fn balance(&self, customer: &Customer) -> Points {
        match self.storage.customer_summary(CustomerRef::Id(customer.id), 0).await {
            Ok(Some(s)) => s.customer.balance,
            _ => 0,
        }
    }
}
