//! Reading the Bot API's answer envelope (`{"ok":…,"result":…}`), shared by
//! every HTTP client of the [`TelegramApi`](crate::ports::TelegramApi) port.

use serde::Deserialize;
use serde_json::Value;

/// Why a Bot API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TelegramError {
    /// 429 Too Many Requests: wait this many seconds, then retry.
    #[error("rate limited; retry after {0} s")]
    RetryAfter(u32),
    /// Telegram answered `ok: false` (e.g. 403 "bot was blocked by the user").
    #[error("Bot API error {code}: {description}")]
    Api {
        /// `error_code`.
        code: u16,
        /// `description`.
        description: String,
    },
    /// Network failure, timeout or 5xx: retrying may help.
    #[error("Bot API unreachable: {0}")]
    Transport(String),
    /// No token is configured for the bot the call is addressed to.
    #[error("no token configured for the {0} bot")]
    NoToken(&'static str),
}

impl TelegramError {
    /// Whether retrying later may succeed.
    pub fn is_temporary(&self) -> bool {
        match self {
            TelegramError::RetryAfter(_) | TelegramError::Transport(_) => true,
            TelegramError::Api { code, .. } => *code >= 500,
            TelegramError::NoToken(_) => false,
        }
    }

    /// Whether the chat cannot be reached for good — 403 (the user blocked the
    /// bot, the account is gone) or 400 (chat not found): no fault of ours,
    /// so neither retried nor reported.
    pub fn is_unreachable_chat(&self) -> bool {
        matches!(self, TelegramError::Api { code: 400 | 403, .. })
    }
}

/// Telegram's answer envelope.
#[derive(Debug, Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

#[derive(Debug, Deserialize)]
struct ResponseParameters {
    #[serde(default)]
    retry_after: Option<u32>,
}

/// Turns one HTTP answer of the Bot API to `method` into the call's result.
///
/// * `ok: true` → `result` (`Null` when absent);
/// * 429 (status or `error_code`) → [`TelegramError::RetryAfter`] with
///   `parameters.retry_after` (1 s when missing);
/// * 5xx, or a 2xx/5xx body that is not an envelope → [`TelegramError::Transport`] (temporary);
/// * any other `ok: false` → [`TelegramError::Api`];
/// * a 4xx body that is not an envelope → [`TelegramError::Api`] with the status.
///
/// `mask` is applied to Telegram's description before it is kept (clients pass
/// a function that removes the bot token, should an answer ever echo it).
///
/// ```
/// use loyalty_core::ports::TelegramError;
/// use loyalty_core::telegram::decode_answer;
///
/// let ok = decode_answer("sendMessage", 200, br#"{"ok":true,"result":{"message_id":7}}"#, |s| s.to_owned());
/// assert_eq!(ok.unwrap()["message_id"], 7);
/// let limited = br#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":3}}"#;
/// assert_eq!(decode_answer("sendMessage", 429, limited, |s| s.to_owned()), Err(TelegramError::RetryAfter(3)));
/// ```
pub fn decode_answer(
    method: &str,
    status: u16,
    body: &[u8],
    mask: impl Fn(&str) -> String,
) -> Result<Value, TelegramError> {
    let server_error = (500..600).contains(&status);
    let envelope = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => envelope,
        Err(_) if server_error || (200..300).contains(&status) => {
            return Err(TelegramError::Transport(format!("{method}: HTTP {status} without a Bot API answer")));
        }
        Err(_) => {
            return Err(TelegramError::Api {
                code: status,
                description: format!("HTTP {status} without a Bot API answer"),
            });
        }
    };
    if envelope.ok {
        return Ok(envelope.result.unwrap_or(Value::Null));
    }
    let code = envelope.error_code.unwrap_or(status);
    let description = mask(envelope.description.as_deref().unwrap_or("no description"));
    if code == 429 || status == 429 {
        let secs = envelope.parameters.and_then(|p| p.retry_after).unwrap_or(1);
        return Err(TelegramError::RetryAfter(secs));
    }
    if code >= 500 || server_error {
        return Err(TelegramError::Transport(format!("{method}: Bot API error {code}: {description}")));
    }
    Err(TelegramError::Api { code, description })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn envelopes_and_failures() {
        assert_eq!(decode_answer("m", 200, br#"{"ok":true}"#, plain), Ok(Value::Null));
        assert_eq!(
            decode_answer(
                "m",
                403,
                br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked"}"#,
                plain
            ),
            Err(TelegramError::Api { code: 403, description: "Forbidden: bot was blocked".into() })
        );
        assert_eq!(decode_answer("m", 429, br#"{"ok":false}"#, plain), Err(TelegramError::RetryAfter(1)));
        assert!(matches!(
            decode_answer("m", 502, b"<html>bad gateway</html>", plain),
            Err(TelegramError::Transport(_))
        ));
        assert!(matches!(decode_answer("m", 200, b"not json", plain), Err(TelegramError::Transport(_))));
        assert_eq!(
            decode_answer("m", 404, b"Not Found", plain),
            Err(TelegramError::Api { code: 404, description: "HTTP 404 without a Bot API answer".into() })
        );
        let e = decode_answer("m", 500, br#"{"ok":false,"error_code":500,"description":"x"}"#, plain).unwrap_err();
        assert!(e.is_temporary());
    }

    #[test]
    fn descriptions_are_masked() {
        let body = br#"{"ok":false,"error_code":400,"description":"bad token 123:abc"}"#;
        let e = decode_answer("m", 400, body, |s| s.replace("123:abc", "***")).unwrap_err();
        assert_eq!(e, TelegramError::Api { code: 400, description: "bad token ***".into() });
    }
}
