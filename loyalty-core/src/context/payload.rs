//! Deferred work that goes through the outbox ([`Delivery`], [`Leased`]) and
//! the payload a task is kept as there ([`encode`], [`decode`]); the outbox
//! itself is [`crate::outbox`].

use super::Task;
use crate::domain::{BotId, BotKind, CustomerId, Language, Timestamp};
use crate::ports::{NewMessage, OutboxMessage, UpdateRef};
use crate::telegram::{BotCall, InputFile};
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// Deferred work whose messages go through the outbox ([`Task::Deliver`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// What produced the messages: their key in the outbox, with each one's
    /// position (see [`Storage::enqueue_messages`](crate::ports::Storage::enqueue_messages)).
    pub source: String,
    /// The update to mark finished in the same call, if any.
    pub update: Option<UpdateRef>,
    /// The work, in order: calls and assistant answers go through the
    /// outbox; broadcasts (kept in their own table) run after. (A delivery
    /// inside a delivery is not run.)
    pub tasks: Vec<Task>,
}

impl Delivery {
    /// The deferred work of update `update_id` to the bot with id `bot`.
    pub fn for_update(bot: BotId, update_id: i64, tasks: Vec<Task>) -> Delivery {
        Delivery { source: format!("update:{bot}:{update_id}"), update: Some(UpdateRef { bot, update_id }), tasks }
    }
}

/// Messages already in the outbox, leased to this process: what
/// [`Task::Send`] sends (see [`enqueue_now`](crate::outbox::enqueue_now)).
#[derive(Debug, Clone, PartialEq)]
pub struct Leased {
    /// The messages, in order.
    pub messages: Vec<OutboxMessage>,
    /// Until when they are this process's to send.
    pub lease_until: Timestamp,
    /// Whether webhook endpoints may receive their events: `false` when the
    /// store said none was registered as it added them
    /// ([`Enqueued::webhooks`](crate::ports::Enqueued::webhooks)), so they
    /// are fanned out without asking the store for the endpoints.
    pub webhooks: bool,
}

/// The outbox payload of `task`: a Bot API call, an assistant answer, a
/// webhook event or one endpoint's delivery of it. `None` for the other tasks
/// (broadcasts, deliveries), which are not messages.
pub fn encode(task: &Task) -> Option<NewMessage> {
    let (chat, value) = match task {
        Task::Call(call) => {
            let mut v = json!({"bot": call.bot, "method": call.method, "params": call.params});
            if let Some(file) = &call.file {
                v["file"] = json!({
                    "field": file.field,
                    "file_name": file.file_name,
                    "content_type": file.content_type,
                    "hex": hex::encode(&file.data),
                });
            }
            (call.chat_id(), json!({ "call": v }))
        }
        Task::Answer { chat_id, customer, language, question } => (
            Some(*chat_id),
            json!({"answer": {"chat_id": chat_id, "customer": customer, "language": language, "question": question}}),
        ),
        Task::Event(event) => (None, json!({ "event": event })),
        Task::Webhook(delivery) => (None, json!({ "webhook": delivery })),
        Task::Broadcast(_) | Task::Deliver(_) | Task::Send(_) => return None,
    };
    Some(NewMessage { chat, payload: value.to_string() })
}

/// The methods, form fields and content types [`decode`] accepts (a
/// [`BotCall`] names them with `&'static str`).
const METHODS: &[&str] = &[
    "sendMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "sendPhoto",
    "sendDocument",
    "deleteMessage",
    "setMyCommands",
];
const FIELDS: &[&str] = &["photo", "document"];
const CONTENT_TYPES: &[&str] = &["image/png", "text/csv", "application/json"];

fn known(list: &'static [&'static str], name: &str) -> Option<&'static str> {
    list.iter().copied().find(|m| *m == name)
}

/// The task an outbox payload ([`encode`]) stands for; `None` when the payload
/// is not one (then the message is marked failed).
pub fn decode(payload: &str) -> Option<Task> {
    let value: Value = serde_json::from_str(payload).ok()?;
    if let Some(call) = value.get("call") {
        let bot: BotKind = serde_json::from_value(call.get("bot")?.clone()).ok()?;
        let method = known(METHODS, call.get("method")?.as_str()?)?;
        let params: Map<String, Value> = call.get("params")?.as_object()?.clone();
        let file = match call.get("file") {
            None | Some(Value::Null) => None,
            Some(f) => Some(InputFile {
                field: known(FIELDS, f.get("field")?.as_str()?)?,
                file_name: f.get("file_name")?.as_str()?.to_string(),
                content_type: known(CONTENT_TYPES, f.get("content_type")?.as_str()?)?,
                data: Bytes::from(hex::decode(f.get("hex")?.as_str()?).ok()?),
            }),
        };
        return Some(Task::Call(BotCall { bot, method, params, file }));
    }
    if let Some(event) = value.get("event") {
        return serde_json::from_value(event.clone()).ok().map(Task::Event);
    }
    if let Some(delivery) = value.get("webhook") {
        return serde_json::from_value(delivery.clone()).ok().map(Task::Webhook);
    }
    let answer = value.get("answer")?;
    Some(Task::Answer {
        chat_id: answer.get("chat_id")?.as_i64()?,
        customer: CustomerId(answer.get("customer")?.as_i64()?),
        language: serde_json::from_value::<Language>(answer.get("language")?.clone()).ok()?,
        question: answer.get("question")?.as_str()?.to_string(),
    })
}
