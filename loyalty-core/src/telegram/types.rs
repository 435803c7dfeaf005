//! Incoming Bot API objects: the subset of `Update` the bots read.
//!
//! Every field Telegram may omit is an `Option`; fields we do not use are
//! ignored, and update kinds we do not handle deserialize to an [`Update`] whose
//! [`Update::kind`] is [`UpdateKind::Other`] — never an error.

use serde::{Deserialize, Serialize};

/// One incoming update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// Monotonic per bot; used to de-duplicate deliveries.
    pub update_id: i64,
    /// A new message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// An edited message (ignored by the bots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_message: Option<Message>,
    /// An inline-button press.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_query: Option<CallbackQuery>,
    /// The bot was blocked, unblocked, added or removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_chat_member: Option<ChatMemberUpdated>,
}

/// What an update carries, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UpdateKind<'a> {
    /// A new message.
    Message(&'a Message),
    /// An edited message.
    EditedMessage(&'a Message),
    /// An inline-button press.
    CallbackQuery(&'a CallbackQuery),
    /// Membership change of the bot itself.
    MyChatMember(&'a ChatMemberUpdated),
    /// Any kind the bots do not handle.
    Other,
}

impl Update {
    /// The update's kind.
    pub fn kind(&self) -> UpdateKind<'_> {
        if let Some(m) = &self.message {
            UpdateKind::Message(m)
        } else if let Some(c) = &self.callback_query {
            UpdateKind::CallbackQuery(c)
        } else if let Some(m) = &self.edited_message {
            UpdateKind::EditedMessage(m)
        } else if let Some(m) = &self.my_chat_member {
            UpdateKind::MyChatMember(m)
        } else {
            UpdateKind::Other
        }
    }

    /// A short name of the kind, for logs and error reports (no content).
    pub fn kind_name(&self) -> &'static str {
        match self.kind() {
            UpdateKind::Message(_) => "message",
            UpdateKind::EditedMessage(_) => "edited_message",
            UpdateKind::CallbackQuery(_) => "callback_query",
            UpdateKind::MyChatMember(_) => "my_chat_member",
            UpdateKind::Other => "other",
        }
    }

    /// The user who caused the update, if any.
    pub fn from(&self) -> Option<&User> {
        match self.kind() {
            UpdateKind::Message(m) | UpdateKind::EditedMessage(m) => m.from.as_ref(),
            UpdateKind::CallbackQuery(c) => Some(&c.from),
            UpdateKind::MyChatMember(m) => Some(&m.from),
            UpdateKind::Other => None,
        }
    }
}

/// A Telegram user or bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: i64,
    /// Whether this is a bot.
    #[serde(default)]
    pub is_bot: bool,
    /// First name.
    pub first_name: String,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Username without `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// IETF language tag of the user's client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

/// A chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    /// Chat id (equals the user id for private chats).
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Title, for groups and channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Username, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// First name, for private chats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
}

impl Chat {
    /// Whether this is a one-to-one chat with a user.
    pub fn is_private(&self) -> bool {
        self.kind == "private"
    }
}

/// A special part of a message text (command, mention, URL, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEntity {
    /// `bot_command`, `mention`, `url`, `bold`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Offset in UTF-16 code units.
    pub offset: usize,
    /// Length in UTF-16 code units.
    pub length: usize,
}

/// Data sent from a Mini App via `Telegram.WebApp.sendData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebAppData {
    /// The data.
    pub data: String,
    /// Text of the keyboard button that opened the app.
    pub button_text: String,
}

/// A message. For an inaccessible message in a callback query Telegram sends
/// only `chat`, `message_id` and `date = 0`, which this type also accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Message id within the chat.
    pub message_id: i64,
    /// Sender (absent for channel posts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<User>,
    /// The chat.
    pub chat: Chat,
    /// Unix time it was sent.
    #[serde(default)]
    pub date: i64,
    /// Text, for text messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Entities of `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<MessageEntity>>,
    /// Caption, for media messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_message: Option<Box<Message>>,
    /// Data from a Mini App.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app_data: Option<WebAppData>,
}

/// A press of an inline keyboard button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackQuery {
    /// Id to pass to `answerCallbackQuery`.
    pub id: String,
    /// Who pressed.
    pub from: User,
    /// The message with the button, when the bot sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// Global identifier of the chat the message was in.
    #[serde(default)]
    pub chat_instance: String,
    /// The button's `callback_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// A member's status in a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMember {
    /// `creator`, `administrator`, `member`, `restricted`, `left` or `kicked`.
    pub status: String,
    /// The member.
    pub user: User,
}

/// A change of the bot's own membership (e.g. the user blocked the bot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMemberUpdated {
    /// The chat.
    pub chat: Chat,
    /// Who changed it.
    pub from: User,
    /// When.
    pub date: i64,
    /// Status before.
    pub old_chat_member: ChatMember,
    /// Status after.
    pub new_chat_member: ChatMember,
}

impl Message {
    /// The text or caption.
    pub fn text_or_caption(&self) -> Option<&str> {
        self.text.as_deref().or(self.caption.as_deref())
    }

    /// Parses a leading bot command: `/cmd@bot arg1 arg2` → `("cmd", "arg1 arg2")`.
    /// The command is lower-cased; a mention of another bot is kept in the name
    /// check by the caller via `bot_username`.
    pub fn command(&self) -> Option<Command<'_>> {
        Command::parse(self.text.as_deref()?)
    }
}

/// A parsed bot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The command without slash and without `@botname`, lower-case ASCII.
    pub name: String,
    /// The `@botname` suffix, if present.
    pub mention: Option<&'a str>,
    /// Everything after the command, trimmed.
    pub args: &'a str,
}

impl<'a> Command<'a> {
    /// Parses `/name[@bot] args`. Returns `None` if `text` is not a command.
    pub fn parse(text: &'a str) -> Option<Command<'a>> {
        let rest = text.strip_prefix('/')?;
        let (head, args) = match rest.find(char::is_whitespace) {
            Some(i) => (&rest[..i], rest[i..].trim()),
            None => (rest, ""),
        };
        let (name, mention) = match head.split_once('@') {
            Some((n, m)) => (n, Some(m)),
            None => (head, None),
        };
        if name.is_empty() || name.len() > 32 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        Some(Command { name: name.to_ascii_lowercase(), mention, args })
    }

    /// The arguments split on whitespace.
    pub fn arg_list(&self) -> Vec<&'a str> {
        self.args.split_whitespace().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        let c = Command::parse("/credit@PartnerBot  ABCD1234 1500 ").unwrap();
        assert_eq!(c.name, "credit");
        assert_eq!(c.mention, Some("PartnerBot"));
        assert_eq!(c.args, "ABCD1234 1500");
        assert_eq!(c.arg_list(), vec!["ABCD1234", "1500"]);
        assert_eq!(Command::parse("/START").unwrap().name, "start");
        assert!(Command::parse("hello").is_none());
        assert!(Command::parse("/").is_none());
        assert!(Command::parse("/кредит 5").is_none());
    }

    #[test]
    fn unknown_update_kinds_are_other() {
        let u: Update = serde_json::from_str(r#"{"update_id":7,"poll":{"id":"1"}}"#).unwrap();
        assert_eq!(u.kind(), UpdateKind::Other);
        assert_eq!(u.kind_name(), "other");
    }
}
