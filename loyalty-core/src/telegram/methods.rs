//! Outgoing Bot API calls: [`BotCall`] plus typed parameters for the methods
//! the bots use. A handler returns calls; an adapter sends them.

use crate::domain::BotKind;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A file uploaded with a call (`multipart/form-data`). Calls with a file can
/// not ride in the webhook response and are always sent through the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The form field that holds the file (`photo`, `document`).
    pub field: &'static str,
    /// File name shown to the user.
    pub file_name: String,
    /// MIME type, e.g. `image/png`.
    pub content_type: &'static str,
    /// Contents.
    pub data: Bytes,
}

/// One Bot API method call, addressed to one of our bots.
#[derive(Debug, Clone, PartialEq)]
pub struct BotCall {
    /// Whose token sends it.
    pub bot: BotKind,
    /// Method name, e.g. `sendMessage`.
    pub method: &'static str,
    /// Parameters (a JSON object).
    pub params: Map<String, Value>,
    /// A file to upload, if any.
    pub file: Option<InputFile>,
}

impl BotCall {
    /// A call with parameters from any serializable struct (must serialize to an object).
    pub fn new<P: Serialize>(bot: BotKind, method: &'static str, params: &P) -> BotCall {
        let params = match serde_json::to_value(params) {
            Ok(Value::Object(map)) => map,
            // Our parameter types are all structs; anything else is a programming error
            // that we turn into an empty call rather than a panic.
            _ => Map::new(),
        };
        BotCall { bot, method, params, file: None }
    }

    /// `sendMessage` with HTML text and optional markup.
    pub fn send_message(
        bot: BotKind,
        chat_id: i64,
        text: impl Into<String>,
        reply_markup: Option<ReplyMarkup>,
    ) -> BotCall {
        BotCall::new(
            bot,
            "sendMessage",
            &SendMessage {
                chat_id,
                text: text.into(),
                parse_mode: Some(ParseMode::Html),
                reply_markup,
                link_preview_options: Some(LinkPreviewOptions { is_disabled: true }),
            },
        )
    }

    /// `editMessageText` of a message the bot sent.
    pub fn edit_message_text(
        bot: BotKind,
        chat_id: i64,
        message_id: i64,
        text: impl Into<String>,
        reply_markup: Option<InlineKeyboardMarkup>,
    ) -> BotCall {
        BotCall::new(
            bot,
            "editMessageText",
            &EditMessageText {
                chat_id,
                message_id,
                text: text.into(),
                parse_mode: Some(ParseMode::Html),
                reply_markup,
            },
        )
    }

    /// `answerCallbackQuery`, optionally with a toast text.
    pub fn answer_callback(bot: BotKind, callback_query_id: impl Into<String>, text: Option<String>) -> BotCall {
        BotCall::new(
            bot,
            "answerCallbackQuery",
            &AnswerCallbackQuery { callback_query_id: callback_query_id.into(), text, show_alert: None },
        )
    }

    /// `sendPhoto` uploading `png` with an HTML caption.
    pub fn send_photo_png(
        bot: BotKind,
        chat_id: i64,
        png: Bytes,
        file_name: impl Into<String>,
        caption: impl Into<String>,
        reply_markup: Option<ReplyMarkup>,
    ) -> BotCall {
        let mut call = BotCall::send_photo(bot, chat_id, caption.into(), reply_markup);
        call.file =
            Some(InputFile { field: "photo", file_name: file_name.into(), content_type: "image/png", data: png });
        call
    }

    /// `sendDocument` uploading `data` as file `file_name` of type
    /// `content_type`, with an HTML caption.
    pub fn send_document(
        bot: BotKind,
        chat_id: i64,
        data: Bytes,
        file_name: impl Into<String>,
        content_type: &'static str,
        caption: impl Into<String>,
    ) -> BotCall {
        let params = SendPhotoParams {
            chat_id,
            caption: Some(caption.into()),
            parse_mode: Some(ParseMode::Html),
            reply_markup: None,
        };
        let mut call = BotCall::new(bot, "sendDocument", &params);
        call.file = Some(InputFile { field: "document", file_name: file_name.into(), content_type, data });
        call
    }

    /// `sendPhoto` with an HTML caption, the photo still to be given.
    fn send_photo(bot: BotKind, chat_id: i64, caption: String, reply_markup: Option<ReplyMarkup>) -> BotCall {
        let params =
            SendPhotoParams { chat_id, caption: Some(caption), parse_mode: Some(ParseMode::Html), reply_markup };
        BotCall::new(bot, "sendPhoto", &params)
    }

    /// `sendPhoto` of the image at `url` (Telegram fetches it) with an HTML caption.
    pub fn send_photo_url(
        bot: BotKind,
        chat_id: i64,
        url: impl Into<String>,
        caption: impl Into<String>,
        reply_markup: Option<ReplyMarkup>,
    ) -> BotCall {
        let mut call = BotCall::send_photo(bot, chat_id, caption.into(), reply_markup);
        call.params.insert("photo".into(), Value::String(url.into()));
        call
    }

    /// `editMessageCaption` of a media message the bot sent (its buttons removed).
    pub fn edit_message_caption(bot: BotKind, chat_id: i64, message_id: i64, caption: impl Into<String>) -> BotCall {
        let mut params = Map::new();
        params.insert("chat_id".into(), chat_id.into());
        params.insert("message_id".into(), message_id.into());
        params.insert("caption".into(), Value::String(caption.into()));
        params.insert("parse_mode".into(), Value::String("HTML".into()));
        BotCall { bot, method: "editMessageCaption", params, file: None }
    }

    /// `setChatMenuButton`: `menu_button` for the private chat `chat_id`, or
    /// with `None` the default of every private chat.
    ///
    /// ```
    /// use loyalty_core::domain::BotKind;
    /// use loyalty_core::telegram::{BotCall, MenuButton};
    ///
    /// let call = BotCall::set_chat_menu_button(BotKind::Client, None, MenuButton::Default);
    /// assert_eq!(call.method, "setChatMenuButton");
    /// assert_eq!(call.params["menu_button"], serde_json::json!({"type": "default"}));
    /// assert!(!call.params.contains_key("chat_id"));
    /// ```
    pub fn set_chat_menu_button(bot: BotKind, chat_id: Option<i64>, menu_button: MenuButton) -> BotCall {
        BotCall::new(bot, "setChatMenuButton", &SetChatMenuButton { chat_id, menu_button })
    }

    /// The chat this call writes to, when it has a `chat_id`.
    pub fn chat_id(&self) -> Option<i64> {
        self.params.get("chat_id").and_then(Value::as_i64)
    }

    /// The `text` (or `caption`) parameter, if any.
    pub fn text(&self) -> Option<&str> {
        self.params.get("text").or_else(|| self.params.get("caption")).and_then(Value::as_str)
    }

    /// Whether this call may be returned in a webhook response body: it must
    /// be for the bot that received the update and carry no file.
    pub fn fits_webhook_reply(&self, bot: BotKind) -> bool {
        self.bot == bot && self.file.is_none()
    }

    /// The webhook-response form: the parameters plus `"method"`.
    pub fn to_webhook_body(&self) -> Value {
        let mut map = self.params.clone();
        map.insert("method".into(), Value::String(self.method.into()));
        Value::Object(map)
    }

    /// Parameters encoded for a multipart form: strings stay as they are,
    /// everything else becomes its JSON text (as the Bot API expects).
    pub fn form_fields(&self) -> Vec<(String, String)> {
        self.params
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    }
}

/// Text formatting mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParseMode {
    /// Telegram's HTML subset; escape user text with [`escape_html`].
    #[serde(rename = "HTML")]
    Html,
}

/// Escapes `<`, `>`, `&` and `"` for [`ParseMode::Html`].
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Telegram HTML as a person reads it: tags dropped, the four entities of
/// [`escape_html`] decoded (for transcripts, logs and tests).
///
/// ```
/// use loyalty_core::telegram::html_to_plain;
/// assert_eq!(html_to_plain("<b>+50</b> points &amp; more"), "+50 points & more");
/// ```
pub fn html_to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// Link preview settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPreviewOptions {
    /// Disable the preview.
    pub is_disabled: bool,
}

/// `sendMessage` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    /// Target chat.
    pub chat_id: i64,
    /// Text (1–4096 characters after entity parsing).
    pub text: String,
    /// Formatting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    /// Keyboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<ReplyMarkup>,
    /// Link previews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_preview_options: Option<LinkPreviewOptions>,
}

/// `editMessageText` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditMessageText {
    /// Chat of the message.
    pub chat_id: i64,
    /// The message.
    pub message_id: i64,
    /// New text.
    pub text: String,
    /// Formatting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    /// New inline keyboard (none removes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

/// `answerCallbackQuery` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerCallbackQuery {
    /// The query.
    pub callback_query_id: String,
    /// Toast text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Show an alert instead of a toast.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_alert: Option<bool>,
}

/// `sendPhoto` (and `sendDocument`) parameters besides the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendPhotoParams {
    /// Target chat.
    pub chat_id: i64,
    /// Caption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Caption formatting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    /// Keyboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<ReplyMarkup>,
}

/// Any reply markup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReplyMarkup {
    /// Buttons under the message.
    Inline(InlineKeyboardMarkup),
    /// A custom keyboard replacing the user's.
    Keyboard(ReplyKeyboardMarkup),
    /// Removes a custom keyboard.
    Remove(ReplyKeyboardRemove),
    /// Asks the client to reply to this message.
    ForceReply(ForceReply),
}

/// Inline keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineKeyboardMarkup {
    /// Rows of buttons.
    pub inline_keyboard: Vec<Vec<InlineKeyboardButton>>,
}

/// A Mini App to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebAppInfo {
    /// HTTPS URL of the app.
    pub url: String,
}

/// An inline button: exactly one of `callback_data`, `url`, `web_app`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineKeyboardButton {
    /// Label.
    pub text: String,
    /// Data sent back in a callback query (1–64 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    /// URL to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Mini App to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app: Option<WebAppInfo>,
}

impl InlineKeyboardButton {
    /// Maximum `callback_data` length in bytes.
    pub const MAX_CALLBACK_DATA: usize = 64;

    /// A callback button. `data` longer than 64 bytes is a programming error;
    /// it is truncated at a character boundary rather than rejected by Telegram.
    pub fn callback(text: impl Into<String>, data: impl Into<String>) -> Self {
        let mut data = data.into();
        if data.len() > Self::MAX_CALLBACK_DATA {
            let mut cut = Self::MAX_CALLBACK_DATA;
            while !data.is_char_boundary(cut) {
                cut -= 1;
            }
            data.truncate(cut);
        }
        InlineKeyboardButton { text: text.into(), callback_data: Some(data), url: None, web_app: None }
    }

    /// A URL button.
    pub fn url(text: impl Into<String>, url: impl Into<String>) -> Self {
        InlineKeyboardButton { text: text.into(), callback_data: None, url: Some(url.into()), web_app: None }
    }

    /// A Mini App button.
    pub fn web_app(text: impl Into<String>, url: impl Into<String>) -> Self {
        InlineKeyboardButton {
            text: text.into(),
            callback_data: None,
            url: None,
            web_app: Some(WebAppInfo { url: url.into() }),
        }
    }
}

/// A custom reply keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyKeyboardMarkup {
    /// Rows of buttons.
    pub keyboard: Vec<Vec<KeyboardButton>>,
    /// Fit the keyboard to its buttons.
    #[serde(default)]
    pub resize_keyboard: bool,
    /// Keep it shown.
    #[serde(default)]
    pub is_persistent: bool,
}

/// A reply-keyboard button: pressed, it sends its text as a message.
///
/// It has no `web_app` on purpose: a Mini App opened from a reply keyboard
/// gets `initData` without the user (it may only `sendData`), so the API
/// could not tell who is asking. The bots open the app from an inline button
/// ([`InlineKeyboardButton::web_app`]) or the chat's menu button
/// ([`MenuButton::WebApp`]) instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyboardButton {
    /// Label (sent as a message when pressed).
    pub text: String,
}

/// The button beside a private chat's message field (`setChatMenuButton`,
/// Bot API `MenuButton`).
///
/// ```
/// use loyalty_core::telegram::MenuButton;
///
/// let app = MenuButton::web_app("📱 Open app", "https://bots.example.com/app/");
/// assert_eq!(
///     serde_json::to_value(&app).unwrap(),
///     serde_json::json!({"type": "web_app", "text": "📱 Open app", "web_app": {"url": "https://bots.example.com/app/"}})
/// );
/// assert_eq!(serde_json::to_value(MenuButton::Default).unwrap(), serde_json::json!({"type": "default"}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MenuButton {
    /// No choice: a chat given it follows the button of all chats. Given for
    /// all chats, Telegram ignores it and keeps the button that was set
    /// ("has no effect", core.telegram.org/api/bots/menu); set
    /// [`MenuButton::Commands`] to take an app's button away.
    Default,
    /// Opens the bot's command list: Telegram's button before any is set.
    Commands,
    /// Opens a Mini App; its `initData` carries the user.
    WebApp {
        /// Label on the button.
        text: String,
        /// The app (an `https://` URL).
        web_app: WebAppInfo,
    },
}

impl MenuButton {
    /// A button that opens the Mini App at `url`, labelled `text`.
    pub fn web_app(text: impl Into<String>, url: impl Into<String>) -> MenuButton {
        MenuButton::WebApp { text: text.into(), web_app: WebAppInfo { url: url.into() } }
    }

    /// The app's URL, for [`MenuButton::WebApp`].
    pub fn url(&self) -> Option<&str> {
        match self {
            MenuButton::WebApp { web_app, .. } => Some(&web_app.url),
            MenuButton::Default | MenuButton::Commands => None,
        }
    }
}

/// `setChatMenuButton` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetChatMenuButton {
    /// The private chat whose button changes; none: the default of every
    /// private chat without a choice of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// The new button.
    pub menu_button: MenuButton,
}

/// Removes the custom keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyKeyboardRemove {
    /// Always `true`.
    pub remove_keyboard: bool,
}

/// Shows a reply interface to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForceReply {
    /// Always `true`.
    pub force_reply: bool,
    /// Placeholder in the input field (≤ 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_field_placeholder: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_body_has_method_and_params() {
        let call = BotCall::send_message(BotKind::Client, 42, "hi", None);
        let body = call.to_webhook_body();
        assert_eq!(body["method"], "sendMessage");
        assert_eq!(body["chat_id"], 42);
        assert_eq!(body["text"], "hi");
        assert_eq!(body["parse_mode"], "HTML");
        assert!(call.fits_webhook_reply(BotKind::Client));
        assert!(!call.fits_webhook_reply(BotKind::Partner));
    }

    #[test]
    fn callback_data_is_capped_at_64_bytes() {
        let b = InlineKeyboardButton::callback("x", "é".repeat(40));
        assert!(b.callback_data.unwrap().len() <= 64);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(escape_html("<b>&\"x\""), "&lt;b&gt;&amp;&quot;x&quot;");
    }
}
