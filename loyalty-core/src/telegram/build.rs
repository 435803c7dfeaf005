//! Building updates as Telegram sends them, and reading the calls a bot
//! made: for simulations (`loyalty simulate`), benchmarks and tests.
//!
//! ```
//! use loyalty_core::telegram::build::{TgUser, text};
//!
//! let ann = TgUser::new(42, "Ann").lang("ru");
//! let update = text(1, &ann, "/start");
//! assert_eq!(update.update_id, 1);
//! ```

use super::Update;
use serde_json::{Map, Value, json};

/// The `date` of every message built here: 2026-11-26 09:00:00 UTC.
pub const MESSAGE_DATE: i64 = 1_795_683_600;

/// A Telegram user for building updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgUser {
    /// User id (= private chat id).
    pub id: i64,
    /// First name.
    pub first_name: String,
    /// `language_code`.
    pub language_code: Option<String>,
}

impl TgUser {
    /// A user with an English client.
    pub fn new(id: i64, first_name: &str) -> TgUser {
        TgUser { id, first_name: first_name.into(), language_code: Some("en".into()) }
    }

    /// The same user with another `language_code`.
    pub fn lang(mut self, code: &str) -> TgUser {
        self.language_code = Some(code.into());
        self
    }

    fn json(&self) -> Value {
        let mut v = json!({"id": self.id, "is_bot": false, "first_name": self.first_name});
        if let Some(l) = &self.language_code {
            v["language_code"] = json!(l);
        }
        v
    }

    fn chat(&self) -> Value {
        json!({"id": self.id, "type": "private", "first_name": self.first_name})
    }
}

fn entities(text: &str) -> Value {
    if text.starts_with('/') {
        let len = text.split_whitespace().next().map(|c| c.encode_utf16().count()).unwrap_or(0);
        json!([{"type": "bot_command", "offset": 0, "length": len}])
    } else {
        Value::Null
    }
}

fn parse(v: Value) -> Update {
    // Built from fixed shapes above; a failure here is a bug in the kit.
    serde_json::from_value(v).unwrap_or_else(|e| panic!("telegram::build made an invalid update: {e}"))
}

/// A private text message (commands get a `bot_command` entity) as JSON.
pub fn text_json(update_id: i64, from: &TgUser, text: &str) -> Value {
    let mut msg =
        json!({"message_id": update_id, "from": from.json(), "chat": from.chat(), "date": MESSAGE_DATE, "text": text});
    let e = entities(text);
    if !e.is_null() {
        msg["entities"] = e;
    }
    json!({"update_id": update_id, "message": msg})
}

/// A private text message.
pub fn text(update_id: i64, from: &TgUser, text: &str) -> Update {
    parse(text_json(update_id, from, text))
}

/// A reply to a message of the bot (as with `force_reply`) whose text was `prompt`.
pub fn reply(update_id: i64, from: &TgUser, prompt: &str, text: &str) -> Update {
    let mut v = text_json(update_id, from, text);
    v["message"]["reply_to_message"] = json!({
        "message_id": update_id * 10,
        "from": {"id": 1, "is_bot": true, "first_name": "bot", "username": "test_bot"},
        "chat": from.chat(),
        "date": MESSAGE_DATE,
        "text": prompt,
    });
    parse(v)
}

/// A press of an inline button with `data` under a bot message `message_id`.
pub fn callback(update_id: i64, from: &TgUser, message_id: i64, data: &str) -> Update {
    parse(json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("cb{update_id}"),
            "from": from.json(),
            "chat_instance": "42",
            "data": data,
            "message": {"message_id": message_id, "chat": from.chat(), "date": MESSAGE_DATE, "text": "…",
                        "from": {"id": 1, "is_bot": true, "first_name": "bot"}},
        }
    }))
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

/// Whether a call's parameters ask the client for a reply (`force_reply`).
pub fn forces_reply_in(params: &Map<String, Value>) -> bool {
    params.get("reply_markup").and_then(|m| m.get("force_reply")).and_then(Value::as_bool) == Some(true)
}
