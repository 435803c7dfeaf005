//! The customer assistant over the Workers `fetch` API.

use crate::http::{PostBody, PostOptions, post};
use async_trait::async_trait;
use loyalty_core::adapters::chat::{read_answer, request_body};
use loyalty_core::ports::{Assistant, AssistantContext, AssistantError};
use loyalty_core::{Config, Secret};
use std::time::Duration;

/// How long one question may take, request to last byte.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// [`Assistant`] over an OpenAI-compatible chat completions API, with
/// `fetch`: one `POST {OPENAI_BASE_URL}/chat/completions` per question. The
/// prompt, the request and the reading of the answer are
/// [`loyalty_core::adapters::chat`]'s, the same as the native runtime's
/// `OpenAiAssistant` (which uses `async-openai`; this one keeps that client
/// and its HTTP stack out of the Worker). One attempt, bounded by [`TIMEOUT`];
/// errors never carry the key or the response body.
pub struct FetchAssistant {
    url: String,
    key: Secret,
    model: String,
}

impl std::fmt::Debug for FetchAssistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchAssistant").field("url", &self.url).field("model", &self.model).finish()
    }
}

impl FetchAssistant {
    /// The assistant configured by `OPENAI_API_KEY`, `OPENAI_MODEL` and
    /// `OPENAI_BASE_URL`; `None` without a key.
    pub fn from_config(config: &Config) -> Option<FetchAssistant> {
        let key = config.openai_api_key.clone()?;
        Some(FetchAssistant {
            url: format!("{}/chat/completions", config.openai_base_url.trim_end_matches('/')),
            key,
            model: config.openai_model.clone(),
        })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Assistant for FetchAssistant {
    async fn answer(&self, question: &str, context: &AssistantContext) -> Result<String, AssistantError> {
        let failed = |what: String| AssistantError::Failed(self.key.redact(&what));
        let bearer = format!("Bearer {}", self.key.expose());
        let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
        let body = request_body(&self.model, question, context).to_string();
        let answer = post(&self.url, &headers, PostBody::Bytes(body.as_bytes()), TIMEOUT, PostOptions::default())
            .await
            .map_err(failed)?;
        read_answer(answer.status, &answer.body)
    }
}
