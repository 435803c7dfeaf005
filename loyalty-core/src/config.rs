//! Configuration, from the same variable names on every runtime: environment
//! variables natively, `[vars]` and `wrangler secret` on Workers.
//!
//! [`Config::from_lookup`] takes any `name → value` function, so adapters feed
//! it `std::env::var` or a Worker's `Env`. Every variable is optional at load
//! time; each bot asks for what it needs ([`Config::bot_token`]) and gets an
//! error naming the missing variable. Malformed values fail at load time, also
//! naming the variable. `Debug` never prints a secret.

use crate::domain::Points;
use crate::domain::{BotId, BotKind};
use std::fmt;

/// A secret value: printed as `***` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the few places that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `authorization` (an `Authorization` header's value) is
    /// `Bearer <this secret>`; the digests are compared in constant time.
    ///
    /// ```
    /// use loyalty_core::Secret;
    ///
    /// let token = Secret::new("0123456789abcdef0123456789abcdef");
    /// assert!(token.matches_bearer(Some("Bearer 0123456789abcdef0123456789abcdef")));
    /// assert!(token.matches_bearer(Some("bearer  0123456789abcdef0123456789abcdef ")));
    /// assert!(!token.matches_bearer(Some("Bearer 0123456789abcdef0123456789abcdeF")));
    /// assert!(!token.matches_bearer(Some("Basic 0123456789abcdef0123456789abcdef")));
    /// assert!(!token.matches_bearer(None));
    /// ```
    pub fn matches_bearer(&self, authorization: Option<&str>) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let Some(given) = authorization
            .and_then(|a| a.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
        else {
            return false;
        };
        let (want, got) = (Sha256::digest(self.0.as_bytes()), Sha256::digest(given.as_bytes()));
        bool::from(want.as_slice().ct_eq(got.as_slice()))
    }

    /// `text` with every occurrence of the value replaced by `***`, for error
    /// texts that a server, a proxy or an HTTP library may have made repeat it.
    ///
    /// ```
    /// use loyalty_core::Secret;
    ///
    /// assert_eq!(Secret::new("sk-123").redact("bad key sk-123"), "bad key ***");
    /// assert_eq!(Secret::new("").redact("left as it is"), "left as it is");
    /// ```
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_string() } else { text.replace(&self.0, "***") }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable needed by what was asked for is not set.
    #[error("missing configuration variable {name}: {why}")]
    Missing {
        /// Variable name.
        name: &'static str,
        /// What needs it.
        why: &'static str,
    },
    /// A variable is set but its value is not usable.
    #[error("invalid value for {name}: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// What is wrong (never the secret value itself).
        reason: String,
    },
}

/// How logs are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Text on a terminal, JSON lines otherwise.
    #[default]
    Auto,
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `auto`, `text` or `json` (any case, spaces trimmed).
    ///
    /// ```
    /// use loyalty_core::config::LogFormat;
    /// assert_eq!(LogFormat::parse(" JSON "), Some(LogFormat::Json));
    /// assert_eq!(LogFormat::parse("yaml"), None);
    /// ```
    pub fn parse(value: &str) -> Option<LogFormat> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(LogFormat::Auto),
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Every variable the program reads, for docs and for adapters that list them.
pub const VARIABLES: &[&str] = &[
    "TOKEN_CLIENT",
    "TOKEN_PARTNER",
    "ADMIN_BOT_TOKEN",
    "ADMIN_CHAT_ID",
    "SUPABASE_URL",
    "SUPABASE_KEY",
    "SENTRY_DSN",
    "SENTRY_ENVIRONMENT",
    "SENTRY_ALERT_TELEGRAM_TOKEN",
    "SENTRY_ALERT_CHAT_ID",
    "SENTRY_WEBHOOK_SECRET",
    "SENTRY_RELEASE",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "WELCOME_BONUS_AMOUNT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "FRONTEND_URL",
    "PUBLIC_URL",
    "WEBHOOK_SECRET",
    "TELEGRAM_API_URL",
    "OPENAI_BASE_URL",
    "REFERRAL_BONUS_AMOUNT",
    "ASSISTANT_DAILY_LIMIT",
    "CLIENT_BOT_USERNAME",
    "PARTNER_BOT_USERNAME",
    "ADMIN_API_TOKEN",
    "METRICS_TOKEN",
    "WEBHOOK_BACKLOG_ALERT",
    "POS_RATE_LIMIT",
];

/// The program's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TOKEN_CLIENT`: the customers' bot.
    pub token_client: Option<Secret>,
    /// `TOKEN_PARTNER`: the merchants' bot.
    pub token_partner: Option<Secret>,
    /// `ADMIN_BOT_TOKEN`: the admins' bot.
    pub admin_bot_token: Option<Secret>,
    /// `ADMIN_CHAT_ID`: the only chat the admin bot obeys, and where alerts go.
    pub admin_chat_id: Option<i64>,
    /// `SUPABASE_URL`: the Supabase project URL (PostgREST under `/rest/v1`).
    pub supabase_url: Option<String>,
    /// `SUPABASE_KEY`: the server-side (service role / secret) key.
    pub supabase_key: Option<Secret>,
    /// `SENTRY_DSN`: where errors are reported; none disables reporting.
    pub sentry_dsn: Option<Secret>,
    /// `SENTRY_ENVIRONMENT`, default `production`.
    pub sentry_environment: String,
    /// `SENTRY_ALERT_TELEGRAM_TOKEN`: the bot that posts Sentry alerts.
    pub sentry_alert_telegram_token: Option<Secret>,
    /// `SENTRY_ALERT_CHAT_ID`: where Sentry alerts go.
    pub sentry_alert_chat_id: Option<i64>,
    /// `SENTRY_WEBHOOK_SECRET`: verifies `Sentry-Hook-Signature`.
    pub sentry_webhook_secret: Option<Secret>,
    /// `SENTRY_RELEASE`: the release events are tagged with (default:
    /// `loyalty-rs@<version>`, `+<commit>` when the build knew it).
    pub sentry_release: Option<String>,
    /// `ADMIN_API_TOKEN`: the bearer token of the admin routes of the API
    /// (`/api/v1/admin/…`: the rules, campaigns), at least 32 characters;
    /// unset, those routes answer 503.
    pub admin_api_token: Option<Secret>,
    /// `METRICS_TOKEN`: when set, `loyalty serve`'s `GET /metrics` asks for
    /// it as a bearer token (same form as `ADMIN_API_TOKEN`); unset,
    /// `/metrics` is open — keep it behind the proxy then.
    pub metrics_token: Option<Secret>,
    /// `WEBHOOK_BACKLOG_ALERT`: the webhook watchdog alerts when a bot's
    /// `pending_update_count` is above this (default 100).
    pub webhook_backlog_alert: u32,
    /// `OPENAI_API_KEY`: enables the assistant.
    pub openai_api_key: Option<Secret>,
    /// `OPENAI_MODEL`, default `gpt-4o-mini`.
    pub openai_model: String,
    /// `OPENAI_BASE_URL`, default `https://api.openai.com/v1`.
    pub openai_base_url: String,
    /// `WELCOME_BONUS_AMOUNT`, default 100 points; 0 disables it.
    pub welcome_bonus: Points,
    /// `REFERRAL_BONUS_AMOUNT`, default 50 points; 0 disables it.
    pub referral_bonus: Points,
    /// `ASSISTANT_DAILY_LIMIT`: questions per customer per day, default 20.
    pub assistant_daily_limit: u32,
    /// `POS_RATE_LIMIT`: requests per minute with one partner's POS key,
    /// default 120; 0 turns the limit off. Past it the API answers 429 with
    /// `Retry-After`.
    pub pos_rate_limit: u32,
    /// `LOG_LEVEL`, default `info` (adapters interpret it).
    pub log_level: String,
    /// `LOG_FORMAT`: `auto` (the default: text on a terminal, JSON lines
    /// otherwise), `text` or `json` (adapters interpret it; Workers always log
    /// JSON objects).
    pub log_format: LogFormat,
    /// `FRONTEND_URL`: an externally hosted copy of the Mini App / web front
    /// end, `https://` only (Telegram opens no other Mini App). It is the only
    /// CORS origin of the API, and the address the bots open when set (see
    /// [`Config::app_url`]).
    pub frontend_url: Option<String>,
    /// `PUBLIC_URL`: the public base URL, `https://` only, of `loyalty serve`
    /// or of the api Worker (e.g. `https://bots.example.com`), which serve
    /// the Mini App under `/app/`. Without `FRONTEND_URL` the bots open
    /// `<PUBLIC_URL>/app/` ([`Config::app_url`]).
    pub public_url: Option<String>,
    /// `WEBHOOK_SECRET`: one secret for every webhook; when absent each bot's
    /// secret is derived from its token (see [`crate::webhook::webhook_secret`]).
    pub webhook_secret: Option<Secret>,
    /// `TELEGRAM_API_URL`, default `https://api.telegram.org`.
    pub telegram_api_url: String,
    /// `CLIENT_BOT_USERNAME`: for referral links; asked with `getMe` when absent.
    pub client_bot_username: Option<String>,
    /// `PARTNER_BOT_USERNAME`: for card deep links; asked with `getMe` when absent.
    pub partner_bot_username: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_client: None,
            token_partner: None,
            admin_bot_token: None,
            admin_chat_id: None,
            supabase_url: None,
            supabase_key: None,
            sentry_dsn: None,
            sentry_environment: "production".into(),
            sentry_alert_telegram_token: None,
            sentry_alert_chat_id: None,
            sentry_webhook_secret: None,
            admin_api_token: None,
            metrics_token: None,
            webhook_backlog_alert: 100,
            sentry_release: None,
            openai_api_key: None,
            openai_model: "gpt-4o-mini".into(),
            openai_base_url: "https://api.openai.com/v1".into(),
            welcome_bonus: 100,
            referral_bonus: 50,
            assistant_daily_limit: 20,
            pos_rate_limit: 120,
            log_level: "info".into(),
            log_format: LogFormat::Auto,
            frontend_url: None,
            public_url: None,
            webhook_secret: None,
            telegram_api_url: "https://api.telegram.org".into(),
            client_bot_username: None,
            partner_bot_username: None,
        }
    }
}

fn int<T: std::str::FromStr>(
    name: &'static str,
    v: String,
    check: impl Fn(&T) -> bool,
    what: &str,
) -> Result<T, ConfigError> {
    match v.trim().parse::<T>() {
        Ok(n) if check(&n) => Ok(n),
        _ => Err(ConfigError::Invalid { name, reason: format!("expected {what}") }),
    }
}

fn url(name: &'static str, v: String) -> Result<String, ConfigError> {
    let v = v.trim().trim_end_matches('/').to_string();
    let rest = v.strip_prefix("https://").or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(v),
        _ => Err(ConfigError::Invalid { name, reason: "expected an http(s) URL".into() }),
    }
}

/// What an `https://` URL variable names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HttpsUrl {
    /// A Mini App's address (`FRONTEND_URL`), kept as given: a path and a
    /// query are allowed, a `#fragment` is not (Telegram passes its launch
    /// data in the fragment).
    App,
    /// A base URL others are appended to (`PUBLIC_URL`): no query and no
    /// fragment; a trailing `/` is dropped.
    Base,
}

/// `FRONTEND_URL`, `PUBLIC_URL`: an `https://` URL with a host, since
/// Telegram opens Mini Apps over HTTPS only.
fn https_url(name: &'static str, v: String, kind: HttpsUrl) -> Result<String, ConfigError> {
    let invalid = |reason: &str| Err(ConfigError::Invalid { name, reason: reason.into() });
    let v = v.trim();
    let Some(rest) = v.strip_prefix("https://") else {
        return invalid("expected an https:// URL (Telegram opens Mini Apps over HTTPS only)");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("expected an https:// URL with a host and no spaces, like https://app.example.com");
    }
    if rest.contains('#') {
        return invalid("expected a URL without a #fragment (Telegram passes the Mini App's launch data there)");
    }
    match kind {
        HttpsUrl::App => Ok(v.to_string()),
        HttpsUrl::Base if rest.contains('?') => invalid("expected a base URL without a ?query"),
        HttpsUrl::Base => Ok(v.trim_end_matches('/').to_string()),
    }
}

/// `SENTRY_RELEASE`: 1 to 200 printable characters, no spaces (Sentry's rule
/// for release names, e.g. `loyalty@1.4.0+abc1234`).
fn sentry_release(v: String) -> Result<String, ConfigError> {
    let v = v.trim();
    if v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()) && v != "." && v != ".." {
        Ok(v.to_owned())
    } else {
        let reason = "expected 1 to 200 printable characters without spaces".into();
        Err(ConfigError::Invalid { name: "SENTRY_RELEASE", reason })
    }
}

/// `ADMIN_API_TOKEN`, `METRICS_TOKEN`: 32 to 256 printable characters
/// without spaces (a random token, e.g. `openssl rand -hex 32`).
fn bearer_token(name: &'static str, v: String) -> Result<Secret, ConfigError> {
    let v = v.trim();
    if (32..=256).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Secret::new(v))
    } else {
        let reason = "expected 32 to 256 printable characters without spaces (openssl rand -hex 32)".into();
        Err(ConfigError::Invalid { name, reason })
    }
}

fn token(name: &'static str, v: String) -> Result<Secret, ConfigError> {
    let v = v.trim();
    // Bot tokens look like `123456:ABC-DEF…`.
    let ok = BotId::from_token(v).is_some_and(|id| id.0 > 0)
        && v.split_once(':').is_some_and(|(_, rest)| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(Secret::new(v))
    } else {
        Err(ConfigError::Invalid { name, reason: "expected a bot token like 123456:ABC-DEF…".into() })
    }
}

fn username(name: &'static str, v: String) -> Result<String, ConfigError> {
    let v = v.trim().trim_start_matches('@').to_string();
    if (5..=32).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(v)
    } else {
        Err(ConfigError::Invalid { name, reason: "expected a bot username (5–32 letters, digits, _)".into() })
    }
}

impl Config {
    /// Reads every variable through `lookup`. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secret = |name: &str| get(name).map(|v| Secret::new(v.trim()));
        let d = Config::default();
        Ok(Config {
            token_client: get("TOKEN_CLIENT").map(|v| token("TOKEN_CLIENT", v)).transpose()?,
            token_partner: get("TOKEN_PARTNER").map(|v| token("TOKEN_PARTNER", v)).transpose()?,
            admin_bot_token: get("ADMIN_BOT_TOKEN").map(|v| token("ADMIN_BOT_TOKEN", v)).transpose()?,
            admin_chat_id: get("ADMIN_CHAT_ID")
                .map(|v| int("ADMIN_CHAT_ID", v, |n: &i64| *n != 0, "a non-zero integer chat id"))
                .transpose()?,
            supabase_url: get("SUPABASE_URL").map(|v| url("SUPABASE_URL", v)).transpose()?,
            supabase_key: secret("SUPABASE_KEY"),
            sentry_dsn: get("SENTRY_DSN").map(|v| url("SENTRY_DSN", v).map(Secret::new)).transpose()?,
            sentry_environment: get("SENTRY_ENVIRONMENT").map(|v| v.trim().to_string()).unwrap_or(d.sentry_environment),
            sentry_alert_telegram_token: get("SENTRY_ALERT_TELEGRAM_TOKEN")
                .map(|v| token("SENTRY_ALERT_TELEGRAM_TOKEN", v))
                .transpose()?,
            sentry_alert_chat_id: get("SENTRY_ALERT_CHAT_ID")
                .map(|v| int("SENTRY_ALERT_CHAT_ID", v, |n: &i64| *n != 0, "a non-zero integer chat id"))
                .transpose()?,
            sentry_webhook_secret: secret("SENTRY_WEBHOOK_SECRET"),
            admin_api_token: get("ADMIN_API_TOKEN").map(|v| bearer_token("ADMIN_API_TOKEN", v)).transpose()?,
            metrics_token: get("METRICS_TOKEN").map(|v| bearer_token("METRICS_TOKEN", v)).transpose()?,
            webhook_backlog_alert: get("WEBHOOK_BACKLOG_ALERT")
                .map(|v| int("WEBHOOK_BACKLOG_ALERT", v, |n: &u32| *n >= 1, "a whole number ≥ 1"))
                .transpose()?
                .unwrap_or(d.webhook_backlog_alert),
            sentry_release: get("SENTRY_RELEASE").map(sentry_release).transpose()?,
            openai_api_key: secret("OPENAI_API_KEY"),
            openai_model: get("OPENAI_MODEL").map(|v| v.trim().to_string()).unwrap_or(d.openai_model),
            openai_base_url: get("OPENAI_BASE_URL")
                .map(|v| url("OPENAI_BASE_URL", v))
                .transpose()?
                .unwrap_or(d.openai_base_url),
            welcome_bonus: get("WELCOME_BONUS_AMOUNT")
                .map(|v| {
                    int(
                        "WELCOME_BONUS_AMOUNT",
                        v,
                        |n: &Points| (0..=1_000_000_000).contains(n),
                        "a whole number of points from 0 to 1000000000",
                    )
                })
                .transpose()?
                .unwrap_or(d.welcome_bonus),
            referral_bonus: get("REFERRAL_BONUS_AMOUNT")
                .map(|v| {
                    int(
                        "REFERRAL_BONUS_AMOUNT",
                        v,
                        |n: &Points| (0..=1_000_000_000).contains(n),
                        "a whole number of points from 0 to 1000000000",
                    )
                })
                .transpose()?
                .unwrap_or(d.referral_bonus),
            assistant_daily_limit: get("ASSISTANT_DAILY_LIMIT")
                .map(|v| int("ASSISTANT_DAILY_LIMIT", v, |_: &u32| true, "a whole number ≥ 0"))
                .transpose()?
                .unwrap_or(d.assistant_daily_limit),
            pos_rate_limit: get("POS_RATE_LIMIT")
                .map(|v| int("POS_RATE_LIMIT", v, |_: &u32| true, "a whole number ≥ 0"))
                .transpose()?
                .unwrap_or(d.pos_rate_limit),
            log_level: match get("LOG_LEVEL") {
                None => d.log_level,
                Some(v) => {
                    let l = v.trim().to_ascii_lowercase();
                    if ["trace", "debug", "info", "warn", "error", "off"].contains(&l.as_str()) {
                        l
                    } else {
                        return Err(ConfigError::Invalid {
                            name: "LOG_LEVEL",
                            reason: "expected one of trace, debug, info, warn, error, off".into(),
                        });
                    }
                }
            },
            log_format: match get("LOG_FORMAT") {
                None => d.log_format,
                Some(v) => LogFormat::parse(&v).ok_or_else(|| ConfigError::Invalid {
                    name: "LOG_FORMAT",
                    reason: "expected one of auto, text, json".into(),
                })?,
            },
            frontend_url: get("FRONTEND_URL").map(|v| https_url("FRONTEND_URL", v, HttpsUrl::App)).transpose()?,
            public_url: get("PUBLIC_URL").map(|v| https_url("PUBLIC_URL", v, HttpsUrl::Base)).transpose()?,
            webhook_secret: match get("WEBHOOK_SECRET") {
                None => None,
                Some(v) => {
                    let v = v.trim();
                    if (1..=256).contains(&v.len())
                        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    {
                        Some(Secret::new(v))
                    } else {
                        return Err(ConfigError::Invalid {
                            name: "WEBHOOK_SECRET",
                            reason: "expected 1–256 characters of A–Z, a–z, 0–9, _ and -".into(),
                        });
                    }
                }
            },
            telegram_api_url: get("TELEGRAM_API_URL")
                .map(|v| url("TELEGRAM_API_URL", v))
                .transpose()?
                .unwrap_or(d.telegram_api_url),
            client_bot_username: get("CLIENT_BOT_USERNAME").map(|v| username("CLIENT_BOT_USERNAME", v)).transpose()?,
            partner_bot_username: get("PARTNER_BOT_USERNAME")
                .map(|v| username("PARTNER_BOT_USERNAME", v))
                .transpose()?,
        })
    }

    /// The name of the variable that holds `bot`'s token.
    pub fn token_variable(bot: BotKind) -> &'static str {
        match bot {
            BotKind::Client => "TOKEN_CLIENT",
            BotKind::Partner => "TOKEN_PARTNER",
            BotKind::Admin => "ADMIN_BOT_TOKEN",
            BotKind::Alerts => "SENTRY_ALERT_TELEGRAM_TOKEN",
        }
    }

    /// `bot`'s token if configured.
    pub fn token(&self, bot: BotKind) -> Option<&Secret> {
        match bot {
            BotKind::Client => self.token_client.as_ref(),
            BotKind::Partner => self.token_partner.as_ref(),
            BotKind::Admin => self.admin_bot_token.as_ref(),
            BotKind::Alerts => self.sentry_alert_telegram_token.as_ref(),
        }
    }

    /// `bot`'s own Telegram id, from its token; [`BotId::unconfigured`]
    /// when the token is not set.
    pub fn bot_id(&self, bot: BotKind) -> BotId {
        self.token(bot).and_then(|t| BotId::from_token(t.expose())).unwrap_or(BotId::unconfigured(bot))
    }

    /// Checks that everything `bot` needs is set and returns its token. The
    /// admin bot also needs `ADMIN_CHAT_ID`; the alert bot `SENTRY_ALERT_CHAT_ID`.
    pub fn bot_token(&self, bot: BotKind) -> Result<&Secret, ConfigError> {
        let token =
            self.token(bot).ok_or(ConfigError::Missing { name: Self::token_variable(bot), why: "the bot's token" })?;
        match bot {
            BotKind::Admin if self.admin_chat_id.is_none() => {
                Err(ConfigError::Missing { name: "ADMIN_CHAT_ID", why: "the admin bot only obeys this chat" })
            }
            BotKind::Alerts if self.sentry_alert_chat_id.is_none() => {
                Err(ConfigError::Missing { name: "SENTRY_ALERT_CHAT_ID", why: "where Sentry alerts are posted" })
            }
            _ => Ok(token),
        }
    }

    /// Checks that no bot is half configured: a token set without the chat id
    /// its bot needs (`ADMIN_BOT_TOKEN` without `ADMIN_CHAT_ID`,
    /// `SENTRY_ALERT_TELEGRAM_TOKEN` without `SENTRY_ALERT_CHAT_ID`) is an error
    /// naming the missing variable rather than a bot that silently stays off.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] for the first such variable.
    pub fn check_complete(&self) -> Result<(), ConfigError> {
        for bot in [BotKind::Client, BotKind::Partner, BotKind::Admin, BotKind::Alerts] {
            if self.token(bot).is_some() {
                self.bot_token(bot)?;
            }
        }
        Ok(())
    }

    /// The bots whose configuration is complete, in the order client, partner, admin.
    pub fn enabled_bots(&self) -> Vec<BotKind> {
        BotKind::WEBHOOK_BOTS.into_iter().filter(|b| self.bot_token(*b).is_ok()).collect()
    }

    /// The Mini App's address: `FRONTEND_URL` when set (a copy hosted
    /// elsewhere), else `<PUBLIC_URL>/app/` (the copy `loyalty serve` or the
    /// api Worker serves), else `None` (the bots offer no app).
    ///
    /// ```
    /// use loyalty_core::Config;
    ///
    /// let ours = Config { public_url: Some("https://bots.example.com".into()), ..Config::default() };
    /// assert_eq!(ours.app_url().as_deref(), Some("https://bots.example.com/app/"));
    /// let hosted = Config { frontend_url: Some("https://app.example.com".into()), ..ours };
    /// assert_eq!(hosted.app_url().as_deref(), Some("https://app.example.com"));
    /// assert_eq!(Config::default().app_url(), None);
    /// ```
    pub fn app_url(&self) -> Option<String> {
        match (&self.frontend_url, &self.public_url) {
            (Some(frontend), _) => Some(frontend.clone()),
            (None, Some(public)) => Some(format!("{}/app/", public.trim_end_matches('/'))),
            (None, None) => None,
        }
    }

    /// Where `bot` opens the Mini App: the client bot at [`Config::app_url`],
    /// the partner bot at the same address with [`PARTNER_MODE`] added to its
    /// query (so the page knows it serves a partner or a cashier), the admin
    /// bot with [`ADMIN_MODE`] (the program's figures); the alert bot at none.
    ///
    /// ```
    /// use loyalty_core::Config;
    /// use loyalty_core::domain::BotKind;
    ///
    /// let c = Config { public_url: Some("https://bots.example.com".into()), ..Config::default() };
    /// assert_eq!(c.app_url_for(BotKind::Client).as_deref(), Some("https://bots.example.com/app/"));
    /// assert_eq!(c.app_url_for(BotKind::Partner).as_deref(), Some("https://bots.example.com/app/?mode=partner"));
    /// assert_eq!(c.app_url_for(BotKind::Admin).as_deref(), Some("https://bots.example.com/app/?mode=admin"));
    /// assert_eq!(c.app_url_for(BotKind::Alerts), None);
    /// let q = Config { frontend_url: Some("https://app.example.com/?v=2".into()), ..c };
    /// assert_eq!(q.app_url_for(BotKind::Partner).as_deref(), Some("https://app.example.com/?v=2&mode=partner"));
    /// ```
    pub fn app_url_for(&self, bot: BotKind) -> Option<String> {
        let url = self.app_url()?;
        match bot {
            BotKind::Client => Some(url),
            BotKind::Partner | BotKind::Admin => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let mode = if bot == BotKind::Partner { PARTNER_MODE } else { ADMIN_MODE };
                Some(format!("{url}{sep}{mode}"))
            }
            BotKind::Alerts => None,
        }
    }
}

/// The query parameter the partner bot adds to the Mini App's address
/// ([`Config::app_url_for`]): the page opened with it serves a partner's
/// owner or cashier, without it a customer. A query rather than a
/// `#fragment`, because Telegram passes its launch data in the fragment.
pub const PARTNER_MODE: &str = "mode=partner";

/// The query parameter the admin bot adds to the Mini App's address
/// ([`Config::app_url_for`]): the page opened with it shows the program's
/// figures to an admin.
pub const ADMIN_MODE: &str = "mode=admin";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_half_configured_bot_is_an_error() {
        let admin_alone = load(&[("ADMIN_BOT_TOKEN", "1:a")]).unwrap();
        assert!(matches!(admin_alone.check_complete(), Err(ConfigError::Missing { name: "ADMIN_CHAT_ID", .. })));
        let alerts_alone = load(&[("SENTRY_ALERT_TELEGRAM_TOKEN", "2:b")]).unwrap();
        let missing = alerts_alone.check_complete();
        assert!(matches!(missing, Err(ConfigError::Missing { name: "SENTRY_ALERT_CHAT_ID", .. })), "{missing:?}");
        assert_eq!(load(&[("ADMIN_BOT_TOKEN", "1:a"), ("ADMIN_CHAT_ID", "5")]).unwrap().check_complete(), Ok(()));
        assert_eq!(load(&[]).unwrap().check_complete(), Ok(()), "no bot at all is the API alone");
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_empty() {
        let c = load(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert!(c.enabled_bots().is_empty());
        assert_eq!(
            c.bot_token(BotKind::Client).unwrap_err(),
            ConfigError::Missing { name: "TOKEN_CLIENT", why: "the bot's token" }
        );
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (name, value) in [
            ("ADMIN_CHAT_ID", "abc"),
            ("WELCOME_BONUS_AMOUNT", "-5"),
            ("WELCOME_BONUS_AMOUNT", "1.5"),
            ("TOKEN_CLIENT", "nocolon"),
            ("FRONTEND_URL", "ftp://x"),
            ("FRONTEND_URL", "http://app.example.com"),
            ("PUBLIC_URL", "http://bots.example.com"),
            ("LOG_LEVEL", "loud"),
            ("LOG_FORMAT", "yaml"),
            ("WEBHOOK_SECRET", "has space"),
        ] {
            match load(&[(name, value)]) {
                Err(ConfigError::Invalid { name: n, reason }) => {
                    assert_eq!(n, name);
                    assert!(!reason.contains(value), "reason must not echo the value");
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn mini_app_urls_are_https_only() {
        for (name, value, why) in [
            ("FRONTEND_URL", "http://app.example.com", "https://"),
            ("FRONTEND_URL", "HTTP://app.example.com", "https://"),
            ("FRONTEND_URL", "app.example.com", "https://"),
            ("FRONTEND_URL", "https://", "host"),
            ("FRONTEND_URL", "https:///app", "host"),
            ("FRONTEND_URL", "https://user@app.example.com", "host"),
            ("FRONTEND_URL", "https://app.example.com/a b", "spaces"),
            ("FRONTEND_URL", "https://app.example.com/#home", "#fragment"),
            ("PUBLIC_URL", "http://bots.example.com", "https://"),
            ("PUBLIC_URL", "ws://bots.example.com", "https://"),
            ("PUBLIC_URL", "https://bots.example.com/?x=1", "?query"),
            ("PUBLIC_URL", "https://bots.example.com#x", "#fragment"),
        ] {
            match load(&[(name, value)]) {
                Err(ConfigError::Invalid { name: n, reason }) => {
                    assert_eq!(n, name, "{value}");
                    assert!(reason.contains(why), "{name}={value}: {reason}");
                    let message = ConfigError::Invalid { name: n, reason }.to_string();
                    assert!(message.starts_with(&format!("invalid value for {name}: expected")), "{message}");
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }
        let ok = load(&[
            ("FRONTEND_URL", " https://app.example.com/mini/?v=2 "),
            ("PUBLIC_URL", "https://bots.example.com/"),
        ])
        .unwrap();
        assert_eq!(ok.frontend_url.as_deref(), Some("https://app.example.com/mini/?v=2"), "kept as given");
        assert_eq!(ok.public_url.as_deref(), Some("https://bots.example.com"), "a base, without its trailing /");
    }

    #[test]
    fn the_app_url_prefers_frontend_url_then_public_url() {
        let neither = load(&[]).unwrap();
        assert_eq!((neither.app_url(), neither.app_url_for(BotKind::Client)), (None, None));
        assert_eq!(neither.app_url_for(BotKind::Partner), None);

        let public = load(&[("PUBLIC_URL", "https://bots.example.com/base/")]).unwrap();
        assert_eq!(public.app_url().as_deref(), Some("https://bots.example.com/base/app/"));
        assert_eq!(
            public.app_url_for(BotKind::Partner).as_deref(),
            Some("https://bots.example.com/base/app/?mode=partner")
        );

        let both =
            load(&[("PUBLIC_URL", "https://bots.example.com"), ("FRONTEND_URL", "https://app.example.com/")]).unwrap();
        assert_eq!(both.app_url().as_deref(), Some("https://app.example.com/"));
        assert_eq!(both.app_url_for(BotKind::Client).as_deref(), Some("https://app.example.com/"));
        assert_eq!(both.app_url_for(BotKind::Partner).as_deref(), Some("https://app.example.com/?mode=partner"));
        assert_eq!(both.app_url_for(BotKind::Admin).as_deref(), Some("https://app.example.com/?mode=admin"));
        assert_eq!(both.app_url_for(BotKind::Alerts), None, "the alert bot has no app");
        assert!(VARIABLES.contains(&"PUBLIC_URL") && VARIABLES.contains(&"FRONTEND_URL"));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let c = load(&[
            ("TOKEN_CLIENT", "123:SECRETTOKEN"),
            ("SUPABASE_KEY", "sb_secret_xyz"),
            ("OPENAI_API_KEY", "sk-live-1"),
            ("WEBHOOK_SECRET", "hook-secret"),
        ])
        .unwrap();
        let dbg = format!("{c:?}");
        for s in ["SECRETTOKEN", "sb_secret_xyz", "sk-live-1", "hook-secret"] {
            assert!(!dbg.contains(s), "{s} leaked in {dbg}");
        }
    }

    #[test]
    fn each_bot_needs_only_its_own_variables() {
        let c = load(&[("TOKEN_PARTNER", "1:abc"), ("ADMIN_BOT_TOKEN", "2:def")]).unwrap();
        assert!(c.bot_token(BotKind::Partner).is_ok());
        assert_eq!(
            c.bot_token(BotKind::Admin).unwrap_err(),
            ConfigError::Missing { name: "ADMIN_CHAT_ID", why: "the admin bot only obeys this chat" }
        );
        assert_eq!(c.enabled_bots(), vec![BotKind::Partner]);
    }
}
