//! The customer assistant over an OpenAI-compatible chat completions API.
//!
//! [`OpenAiAssistant`] sends one `POST {OPENAI_BASE_URL}/chat/completions`
//! per question with `async-openai`. The request (a system message built from
//! the [`AssistantContext`] — program, language, balance, approved partners,
//! see [`chat::system_prompt`] — and the question as the user message) and the
//! reading of the answer are [`loyalty_core::adapters::chat`]'s, the same as
//! `loyalty-edge`'s `FetchAssistant` over `fetch`.
//!
//! One attempt per question, bounded by a timeout ([`DEFAULT_TIMEOUT`], applied
//! to the whole exchange including the body). A customer is waiting for the answer, so a failure is reported
//! at once as [`AssistantError::Failed`] instead of being retried. Error texts
//! name the kind of failure and the HTTP status only: never the API key, never
//! the service's response body (which may echo parts of the key).
//!
//! ```no_run
//! # async fn demo() -> Result<(), loyalty_core::ports::AssistantError> {
//! use loyalty_native::assistant::OpenAiAssistant;
//! use loyalty_core::domain::Language;
//! use loyalty_core::ports::{Assistant, AssistantContext};
//! use loyalty_core::Config;
//!
//! let config = Config::from_lookup(|name| match name {
//!     "OPENAI_API_KEY" => Some("sk-…".to_string()),
//!     _ => None,
//! })
//! .expect("valid configuration");
//! let assistant = OpenAiAssistant::from_config(&config).expect("OPENAI_API_KEY is set");
//! let context = AssistantContext {
//!     program: "Saigon Coffee Club".into(),
//!     language: Language::En,
//!     balance: 250,
//!     partners: vec!["Pho 24 (cafe): 5 %".into()],
//! };
//! let answer = assistant.answer("Where can I spend my points?", &context).await?;
//! # let _ = answer;
//! # Ok(())
//! # }
//! ```

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_trait::async_trait;
use futures::future::BoxFuture;
use loyalty_core::adapters::chat;
use loyalty_core::ports::{Assistant, AssistantContext, AssistantError};
use loyalty_core::{Config, Secret};
use serde_json::Value;
use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long one question may take, connection to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// [`Assistant`] backed by an OpenAI-compatible chat completions API.
///
/// Cheap to clone (the HTTP client is shared).
#[derive(Clone)]
pub struct OpenAiAssistant {
    client: async_openai::Client<OpenAIConfig>,
    base_url: String,
    api_key: Secret,
    model: String,
    timeout: Duration,
}

impl fmt::Debug for OpenAiAssistant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiAssistant")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiAssistant {
    /// The assistant configured by `OPENAI_API_KEY`, `OPENAI_MODEL` and
    /// `OPENAI_BASE_URL`; `None` when no API key is set (the client bot then
    /// explains that the assistant is unavailable).
    pub fn from_config(config: &Config) -> Option<OpenAiAssistant> {
        let key = config.openai_api_key.as_ref()?;
        Some(OpenAiAssistant::new(key, &config.openai_model, &config.openai_base_url))
    }

    /// An assistant using `model` at `base_url` (e.g. `https://api.openai.com/v1`;
    /// requests go to `{base_url}/chat/completions`) with `api_key` as the
    /// bearer token, and the [`DEFAULT_TIMEOUT`].
    pub fn new(api_key: &Secret, model: impl Into<String>, base_url: impl Into<String>) -> OpenAiAssistant {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        let client = client(api_key, &base_url, DEFAULT_TIMEOUT);
        OpenAiAssistant { client, base_url, api_key: api_key.clone(), model: model.into(), timeout: DEFAULT_TIMEOUT }
    }

    /// The same assistant with another timeout per question.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> OpenAiAssistant {
        self.timeout = timeout;
        self.client = client(&self.api_key, &self.base_url, timeout);
        self
    }

    /// The chat model asked.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The timeout per question.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Assistant for OpenAiAssistant {
    async fn answer(&self, question: &str, context: &AssistantContext) -> Result<String, AssistantError> {
        let request = chat::request_body(&self.model, question, context);
        let logged = |error: AssistantError| {
            tracing::warn!(model = %self.model, %error, "assistant request failed");
            error
        };
        // The key is redacted even if some layer echoed it.
        let response: Value = self
            .client
            .chat()
            .create_byot(request)
            .await
            .map_err(|e| logged(AssistantError::Failed(self.api_key.redact(&describe(&e)))))?;
        chat::answer(&response).map_err(logged)
    }
}

/// The kind of failure, with the HTTP status and the API's error code when
/// there are some ([`chat::http_failure`]); nothing the service wrote in free text.
fn describe(error: &OpenAIError) -> String {
    match error {
        OpenAIError::Reqwest(e) if e.is_timeout() => "timed out".into(),
        OpenAIError::Reqwest(e) if e.is_connect() => "could not connect".into(),
        OpenAIError::Reqwest(e) => match e.status() {
            Some(status) => format!("HTTP {}", status.as_u16()),
            None if e.is_decode() || e.is_body() => "could not read the response".into(),
            None => "request failed".into(),
        },
        OpenAIError::ApiError(e) => {
            let code = e.api_error.code.as_deref().or(e.api_error.r#type.as_deref());
            chat::http_failure(e.status_code.as_u16(), code)
        }
        OpenAIError::JSONDeserialize(..) => "invalid response".into(),
        OpenAIError::InvalidArgument(_) => "invalid request".into(),
        _ => "request failed".into(),
    }
}

fn client(api_key: &Secret, base_url: &str, timeout: Duration) -> async_openai::Client<OpenAIConfig> {
    let config = OpenAIConfig::new()
        .with_api_key(api_key.expose())
        .with_api_base(base_url)
        // OpenAIConfig::new() reads these from the process environment; everything the assistant
        // uses comes from `Config`.
        .with_org_id("")
        .with_project_id("");
    async_openai::Client::with_config(config).with_http_service(OneAttempt { http: reqwest::Client::new(), timeout })
}

/// The HTTP service under `async-openai`: one attempt with a timeout (the
/// library's default layer retries 5xx and 429 with back-off, which a waiting
/// customer cannot afford).
#[derive(Clone)]
struct OneAttempt {
    http: reqwest::Client,
    timeout: Duration,
}

impl tower::Service<HttpRequestFactory> for OneAttempt {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let http = self.http.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let mut request = factory.build().await?;
            *request.timeout_mut() = Some(timeout);
            http.execute(request).await.map_err(OpenAIError::Reqwest)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_config_needs_a_key() {
        let config = Config::default();
        assert!(OpenAiAssistant::from_config(&config).is_none());
        let config = Config { openai_api_key: Some(Secret::new("sk-test")), ..Config::default() };
        let assistant = OpenAiAssistant::from_config(&config).expect("configured");
        assert_eq!(assistant.model(), "gpt-4o-mini");
        assert_eq!(assistant.timeout(), DEFAULT_TIMEOUT);
        assert!(!format!("{assistant:?}").contains("sk-test"));
    }
}
