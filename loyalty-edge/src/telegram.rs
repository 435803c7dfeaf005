//! The Bot API over the Workers `fetch` API.

use crate::http::{PostBody, PostOptions, js_error, post};
use async_trait::async_trait;
use loyalty_core::Config;
use loyalty_core::Secret;
use loyalty_core::ports::{TelegramApi, TelegramError};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::{BotCall, InputFile, decode_answer};
use serde_json::Value;
use std::time::Duration;

/// How long one Bot API call may take before it fails as
/// [`TelegramError::Transport`] (and is retried by the engine).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// [`TelegramApi`] over `fetch`: `POST <TELEGRAM_API_URL>/bot<token>/<method>`
/// with a JSON body, or `multipart/form-data` for calls that upload a file
/// (the QR code). Answers are read by [`decode_answer`], so a `429` becomes
/// [`TelegramError::RetryAfter`] for the engine's retry loop.
///
/// There is no client-side rate limiter here (unlike `loyalty-native`'s):
/// a Worker handles one update per request, and Telegram's per-chat limits
/// are far above what one update produces.
pub struct FetchTelegram {
    base: String,
    tokens: Vec<(BotKind, Secret)>,
    timeout: Duration,
}

impl std::fmt::Debug for FetchTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bots: Vec<&str> = self.tokens.iter().map(|(b, _)| b.as_str()).collect();
        f.debug_struct("FetchTelegram").field("base", &self.base).field("bots", &bots).finish()
    }
}

impl FetchTelegram {
    /// A client for `config.telegram_api_url` with the bots' tokens from `config`.
    pub fn new(config: &Config) -> FetchTelegram {
        let tokens = [BotKind::Client, BotKind::Partner, BotKind::Admin, BotKind::Alerts]
            .into_iter()
            .filter_map(|bot| config.token(bot).map(|t| (bot, t.clone())))
            .collect();
        FetchTelegram {
            base: config.telegram_api_url.trim_end_matches('/').to_string(),
            tokens,
            timeout: REQUEST_TIMEOUT,
        }
    }

    fn token(&self, bot: BotKind) -> Option<&Secret> {
        self.tokens.iter().find(|(b, _)| *b == bot).map(|(_, t)| t)
    }

    async fn send(&self, call: &BotCall, token: &Secret) -> Result<Value, TelegramError> {
        let url = format!("{}/bot{}/{}", self.base, token.expose(), call.method);
        let mask = |text: &str| token.redact(text);
        let transport = |what: &str, e: worker::Error| {
            TelegramError::Transport(mask(&format!("{}: {what}: {}", call.method, js_error(&e))))
        };
        let json;
        let form_data;
        let (headers, body): (&[(&str, &str)], PostBody<'_>) = match &call.file {
            None => {
                json = serde_json::to_vec(&call.params)
                    .map_err(|e| TelegramError::Transport(format!("{}: cannot encode: {e}", call.method)))?;
                (&[("Content-Type", "application/json")], PostBody::Bytes(&json))
            }
            Some(file) => {
                form_data = form(call, file).map_err(|e| transport("building the form", e))?;
                (&[], PostBody::Form(&form_data))
            }
        };
        let answer = post(&url, headers, body, self.timeout, PostOptions::default())
            .await
            .map_err(|e| TelegramError::Transport(mask(&format!("{}: {e}", call.method))))?;
        decode_answer(call.method, answer.status, &answer.body, mask)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl TelegramApi for FetchTelegram {
    async fn call(&self, call: &BotCall) -> Result<Value, TelegramError> {
        let token = self.token(call.bot).ok_or(TelegramError::NoToken(call.bot.as_str()))?;
        self.send(call, token).await
    }
}

/// The `multipart/form-data` body of a call with a file.
fn form(call: &BotCall, file: &InputFile) -> worker::Result<web_sys::FormData> {
    let form = web_sys::FormData::new()?;
    for (name, value) in call.form_fields() {
        form.append_with_str(&name, &value)?;
    }
    let bytes = js_sys::Uint8Array::from(file.data.as_ref());
    let parts = js_sys::Array::of1(&bytes.buffer());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(file.content_type);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
    form.append_with_blob_and_filename(file.field, &blob, &file.file_name)?;
    Ok(form)
}
