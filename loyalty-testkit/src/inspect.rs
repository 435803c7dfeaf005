//! Small readers of handler output for assertions.

use loyalty_core::context::Outbox;
use loyalty_core::domain::{Customer, Language, Points, TelegramUserId};
use loyalty_core::ports::{CustomerRef, NewCustomer};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::BotCall;
use loyalty_core::telegram::build::{buttons_in, forces_reply_in};

use super::TestEnv;

/// The `callback_data` of every inline button of `call`, row by row.
pub fn buttons(call: &BotCall) -> Vec<String> {
    buttons_in(&call.params)
}

/// Whether `call` asks the client for a reply (`force_reply`).
pub fn forces_reply(call: &BotCall) -> bool {
    forces_reply_in(&call.params)
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
            legacy_referrer: None,
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
