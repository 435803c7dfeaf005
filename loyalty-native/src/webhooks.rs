//! Registering the bots' webhooks with Telegram: `setWebhook`,
//! `getWebhookInfo` and `deleteWebhook` for every configured bot, and the
//! chat menu button that opens the Mini App (`setChatMenuButton`,
//! [`set_menu_buttons`]).
//!
//! Each bot's webhook is `<base>/webhook/<bot>` ([`webhook_url`]) unless
//! explicit URLs are given, with the `secret_token` from
//! [`webhook_secret`] (the same
//! function the server checks the `X-Telegram-Bot-Api-Secret-Token` header
//! with) and [`ALLOWED_UPDATES`]. Telegram only delivers to HTTPS URLs on
//! ports 443, 80, 88 or 8443; plain HTTP is accepted here only for
//! `127.0.0.1`, `localhost` and `[::1]`, for tests against a local fake.
//!
//! Every function returns one result per bot, so one bot's failure (e.g. a
//! revoked token) does not hide the others' outcome.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use loyalty_core::Config;
//! use loyalty_native::telegram::HttpTelegram;
//! use loyalty_native::webhooks::{self, WebhookOptions, WebhookUrls};
//!
//! let config = Config::from_lookup(|k| std::env::var(k).ok())?;
//! let telegram = HttpTelegram::new(&config)?;
//! let urls = WebhookUrls::Base("https://bots.example.com".into());
//! for (bot, result) in webhooks::set_webhooks(&telegram, &config, &urls, &WebhookOptions::default()).await? {
//!     match result {
//!         Ok(url) => println!("{}: {url}", bot.as_str()),
//!         Err(e) => eprintln!("{}: {e}", bot.as_str()),
//!     }
//! }
//! # Ok(()) }
//! ```

use loyalty_core::config::Config;
use loyalty_core::ports::{TelegramApi, TelegramError};

use loyalty_core::bots::{admin, client, partner};
use loyalty_core::domain::{BotKind, Language};
use loyalty_core::telegram::{BotCall, MenuButton};
use loyalty_core::webhook::webhook_secret;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The update kinds the bots handle, given to `setWebhook` (and to
/// `getUpdates` when polling) so Telegram sends nothing else.
pub const ALLOWED_UPDATES: &[&str] = &["message", "callback_query", "my_chat_member"];

/// Telegram's default for `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 40;

/// The ports Telegram delivers webhooks to.
pub const WEBHOOK_PORTS: &[u16] = &[443, 80, 88, 8443];

/// One result per bot, in the order client, partner, admin.
pub type PerBot<T> = Vec<(BotKind, Result<T, TelegramError>)>;

/// Where the webhooks point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookUrls {
    /// A base URL such as `https://bots.example.com`: each enabled bot gets
    /// `<base>/webhook/<bot>` ([`webhook_url`]).
    Base(String),
    /// An explicit URL per bot; only the bots listed are set.
    PerBot(Vec<(BotKind, String)>),
}

/// `setWebhook` options besides the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookOptions {
    /// Drop the updates Telegram has queued for the bot.
    pub drop_pending_updates: bool,
    /// Simultaneous HTTPS connections Telegram may open (1–100).
    pub max_connections: u32,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions { drop_pending_updates: false, max_connections: DEFAULT_MAX_CONNECTIONS }
    }
}

/// Why nothing was sent to Telegram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A webhook URL Telegram would refuse.
    #[error("invalid webhook URL for the {bot} bot: {reason}")]
    InvalidUrl {
        /// The bot (`client`, `partner`, `admin`).
        bot: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `max_connections` outside 1–100.
    #[error("max_connections must be from 1 to 100, not {0}")]
    InvalidMaxConnections(u32),
    /// No bot is configured (or, for explicit URLs, none was listed).
    #[error("no bot is configured: set TOKEN_CLIENT, TOKEN_PARTNER or ADMIN_BOT_TOKEN (with ADMIN_CHAT_ID)")]
    NoBots,
}

/// A bot's webhook as Telegram reports it (`getWebhookInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebhookInfo {
    /// The webhook URL; empty when no webhook is set (the bot polls).
    #[serde(default)]
    pub url: String,
    /// Whether a self-signed certificate was uploaded.
    #[serde(default)]
    pub has_custom_certificate: bool,
    /// Updates waiting to be delivered.
    #[serde(default)]
    pub pending_update_count: u32,
    /// The IP address Telegram resolved the host to.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Unix time of the last delivery error.
    #[serde(default)]
    pub last_error_date: Option<i64>,
    /// The last delivery error, e.g. `Wrong response from the webhook: 500 Internal Server Error`.
    #[serde(default)]
    pub last_error_message: Option<String>,
    /// Unix time of the last failure to synchronise with Telegram's datacenters.
    #[serde(default)]
    pub last_synchronization_error_date: Option<i64>,
    /// The `max_connections` in force.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// The update kinds subscribed to (`None`: Telegram's default kinds).
    #[serde(default)]
    pub allowed_updates: Option<Vec<String>>,
}

impl WebhookInfo {
    /// Whether a webhook is set.
    pub fn is_set(&self) -> bool {
        !self.url.is_empty()
    }
}

/// `<base>/webhook/<bot>`, e.g. `https://bots.example.com/webhook/client`
/// (a trailing `/` on `base` is ignored).
pub fn webhook_url(base: &str, bot: BotKind) -> String {
    format!("{}/webhook/{}", base.trim_end_matches('/'), bot.as_str())
}

/// Checks that Telegram would accept `url` as a webhook: HTTPS on one of
/// [`WEBHOOK_PORTS`], or plain HTTP to the local machine (for tests).
///
/// ```
/// use loyalty_native::webhooks::check_webhook_url;
///
/// assert!(check_webhook_url("https://bots.example.com/webhook/client").is_ok());
/// assert!(check_webhook_url("https://bots.example.com:8443/webhook/client").is_ok());
/// assert!(check_webhook_url("http://127.0.0.1:8080/webhook/client").is_ok());
/// assert!(check_webhook_url("http://bots.example.com/webhook/client").is_err());
/// assert!(check_webhook_url("https://bots.example.com:3000/webhook/client").is_err());
/// ```
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    if url.is_empty() || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("expected a URL without spaces, up to 2048 characters".into());
    }
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return Err("Telegram requires an https:// URL".into()),
    };
    if rest.contains('#') {
        return Err("a webhook URL cannot have a #fragment".into());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("a webhook URL cannot carry a user name or password".into());
    }
    let (host, port) = split_host_port(authority).ok_or_else(|| "expected host[:port]".to_string())?;
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let local = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    if !https {
        return if local {
            Ok(())
        } else {
            Err("Telegram requires an https:// URL (http is only for localhost)".into())
        };
    }
    let port = port.unwrap_or(443);
    if !local && !WEBHOOK_PORTS.contains(&port) {
        return Err(format!("Telegram delivers webhooks only to ports 443, 80, 88 and 8443, not {port}"));
    }
    Ok(())
}

/// `host[:port]` (IPv6 hosts in brackets); `None` for an unparsable port.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    match port {
        None => Some((host, None)),
        Some(p) => p.parse::<u16>().ok().map(|p| (host, Some(p))),
    }
}

/// The bots we serve: those with complete configuration.
fn served_bots(config: &Config) -> Result<Vec<BotKind>, WebhookError> {
    let bots = config.enabled_bots();
    if bots.is_empty() { Err(WebhookError::NoBots) } else { Ok(bots) }
}

/// The bots with a token, whether or not the rest of their configuration is complete.
fn bots_with_tokens(config: &Config) -> Result<Vec<BotKind>, WebhookError> {
    let bots: Vec<BotKind> = BotKind::WEBHOOK_BOTS.into_iter().filter(|b| config.token(*b).is_some()).collect();
    if bots.is_empty() { Err(WebhookError::NoBots) } else { Ok(bots) }
}

/// Calls `setWebhook` for each bot: for [`WebhookUrls::Base`] every bot whose
/// configuration is complete ([`Config::enabled_bots`]), for
/// [`WebhookUrls::PerBot`] the bots listed. Each gets its URL, its
/// `secret_token` ([`webhook_secret`]), [`ALLOWED_UPDATES`] and `options`.
///
/// Every URL is checked ([`check_webhook_url`]) before anything is sent; a
/// bad one is an `Err` and nothing is changed. Otherwise each bot's result is
/// the URL that was set, or Telegram's error.
pub async fn set_webhooks(
    telegram: &dyn TelegramApi,
    config: &Config,
    urls: &WebhookUrls,
    options: &WebhookOptions,
) -> Result<PerBot<String>, WebhookError> {
    if !(1..=100).contains(&options.max_connections) {
        return Err(WebhookError::InvalidMaxConnections(options.max_connections));
    }
    let targets: Vec<(BotKind, String)> = match urls {
        WebhookUrls::Base(base) => served_bots(config)?.into_iter().map(|bot| (bot, webhook_url(base, bot))).collect(),
        WebhookUrls::PerBot(list) if list.is_empty() => return Err(WebhookError::NoBots),
        WebhookUrls::PerBot(list) => list.clone(),
    };
    for (bot, url) in &targets {
        check_webhook_url(url).map_err(|reason| WebhookError::InvalidUrl { bot: bot.as_str(), reason })?;
    }
    let mut results = Vec::with_capacity(targets.len());
    for (bot, url) in targets {
        let result = match webhook_secret(config, bot) {
            None => Err(TelegramError::NoToken(bot.as_str())),
            Some(secret) => {
                let mut params = Map::new();
                params.insert("url".into(), json!(url));
                params.insert("secret_token".into(), json!(secret.expose()));
                params.insert("allowed_updates".into(), json!(ALLOWED_UPDATES));
                params.insert("max_connections".into(), json!(options.max_connections));
                params.insert("drop_pending_updates".into(), json!(options.drop_pending_updates));
                let call = BotCall { bot, method: "setWebhook", params, file: None };
                telegram.call(&call).await.map(|_| url)
            }
        };
        results.push((bot, result));
    }
    Ok(results)
}

/// The bots whose users open the Mini App, and so get a chat menu button
/// ([`set_menu_buttons`]; the admin bot's only in a private admin chat).
pub const MENU_BUTTON_BOTS: [BotKind; 3] = [BotKind::Client, BotKind::Partner, BotKind::Admin];

/// Calls `setChatMenuButton` without a `chat_id` — the button of every
/// private chat that has no choice of its own — for each of `bots` that is in
/// [`MENU_BUTTON_BOTS`] (the others are skipped): with
/// [`Config::app_url`] set, a `web_app` button labelled in `language` that
/// opens the client bot's app at that address and the partner bot's with
/// `?mode=partner` ([`Config::app_url_for`]) — and for the admin bot, only
/// when `ADMIN_CHAT_ID` is a user (a private chat), the button of that chat
/// alone, with `?mode=admin` (a group admin chat is skipped: Telegram gives a
/// group no Mini App button; its admins open the bot's Main Mini App); without it,
/// `{"type":"commands"}`, Telegram's own default, so that removing the
/// setting takes the button away again (`{"type":"default"}` would not:
/// given for all chats, Telegram ignores it and keeps the button it has).
///
/// Each bot's result is the button that was set, or Telegram's error.
pub async fn set_menu_buttons(
    telegram: &dyn TelegramApi,
    config: &Config,
    bots: &[BotKind],
    language: Language,
) -> PerBot<MenuButton> {
    let mut results = Vec::new();
    for bot in bots.iter().copied().filter(|b| MENU_BUTTON_BOTS.contains(b)) {
        let (chat, button) = match bot {
            BotKind::Partner => (None, partner::menu_button(config, language)),
            // The admin chat's own button, when it is a private chat; a group has none.
            BotKind::Admin => match admin::menu_button(config, language) {
                Some((chat, button)) => (Some(chat), button),
                None => continue,
            },
            _ => (None, client::menu_button(config, language)),
        };
        let result = match config.token(bot) {
            None => Err(TelegramError::NoToken(bot.as_str())),
            Some(_) => {
                let call = BotCall::set_chat_menu_button(bot, chat, button.clone());
                telegram.call(&call).await.map(|_| button)
            }
        };
        results.push((bot, result));
    }
    results
}

/// `getWebhookInfo` for every bot with a token.
pub async fn webhook_info(telegram: &dyn TelegramApi, config: &Config) -> Result<PerBot<WebhookInfo>, WebhookError> {
    let mut results = Vec::new();
    for bot in bots_with_tokens(config)? {
        let call = BotCall { bot, method: "getWebhookInfo", params: Map::new(), file: None };
        let result = telegram.call(&call).await.and_then(|v| {
            serde_json::from_value::<WebhookInfo>(v)
                .map_err(|e| TelegramError::Transport(format!("getWebhookInfo: unexpected answer: {e}")))
        });
        results.push((bot, result));
    }
    Ok(results)
}

/// `deleteWebhook` for every bot with a token (switching them to polling),
/// dropping the updates Telegram holds for them when `drop_pending_updates`.
pub async fn delete_webhooks(
    telegram: &dyn TelegramApi,
    config: &Config,
    drop_pending_updates: bool,
) -> Result<PerBot<()>, WebhookError> {
    let mut results = Vec::new();
    for bot in bots_with_tokens(config)? {
        let mut params = Map::new();
        params.insert("drop_pending_updates".into(), Value::Bool(drop_pending_updates));
        let call = BotCall { bot, method: "deleteWebhook", params, file: None };
        results.push((bot, telegram.call(&call).await.map(|_| ())));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(webhook_url("https://x.example/", BotKind::Partner), "https://x.example/webhook/partner");
        for ok in [
            "https://x.example/webhook/client",
            "https://x.example:88/a?b=c",
            "https://[2001:db8::1]:8443/w",
            "http://localhost:3000/webhook/admin",
            "http://[::1]:9/w",
        ] {
            assert_eq!(check_webhook_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "x.example/webhook",
            "ftp://x.example",
            "http://x.example/w",
            "https://x.example:8080/w",
            "https://user:pw@x.example/w",
            "https://x.example/w#frag",
            "https:///w",
            "https://x.example:99999/w",
            "https://x.example/a b",
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
    }
}
