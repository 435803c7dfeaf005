//! The Sentry protocol of error reports, without an HTTP client: the DSN,
//! where envelopes go and how they authenticate, the event each
//! [`ErrorReport`] becomes and the envelope it travels in, the pause after a
//! `429`, the secret scrubber and the panic report. Shared by
//! `loyalty-native`'s `SentryReporter` (`reqwest`, as a `sentry_core::Transport`)
//! and `loyalty-edge`'s `FetchSentry` (`fetch`), so both runtimes send the
//! same envelopes.
//!
//! The wire format comes from `sentry-core`'s protocol types: each report
//! becomes an [`Event`] inside an [`Envelope`] ([`Envelopes::envelope`]),
//! posted to the DSN's envelope endpoint
//! `{scheme}://{host}{path}api/{project_id}/envelope/`
//! ([`Envelopes::envelope_url`]) with the [`CONTENT_TYPE`] and
//! `X-Sentry-Auth: Sentry sentry_version=7, sentry_key=<public key>, sentry_client=loyalty-rs/<version>`
//! ([`Envelopes::auth_header`]).
//!
//! What an event carries is exactly what the report has — a message, where it
//! happened, the kind of update, whether it was temporary — plus the
//! environment (`SENTRY_ENVIRONMENT`) and the release ([`RELEASE`]). The message
//! goes through [`scrub`] first, which removes anything shaped like a Telegram
//! bot token or an OpenAI key.
//!
//! A transport never fails its caller: every failure is logged and dropped.
//! [`RateLimit`] is the pause Sentry asks of its clients after a `429 Too Many
//! Requests` (`loyalty-native`'s transport honours it).
//!
//! Time and event ids come from the [`Clock`] and [`Randomness`] ports: nothing
//! here reads a system clock of its own (there is none on `wasm32`).

use crate::config::Config;
use crate::domain::Timestamp;
use crate::ports::{Clock, ErrorReport, Randomness};
use sentry_core::protocol::{
    Breadcrumb, ClientSdkInfo, DebugMeta, Envelope, EnvelopeHeaders, Event, Level, Map, Values,
};
use sentry_core::types::{Dsn, Uuid};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

/// The `Content-Type` of a posted envelope.
pub const CONTENT_TYPE: &str = "application/x-sentry-envelope";

/// The `release` of every event unless `SENTRY_RELEASE` names another:
/// `loyalty-rs@<loyalty-core version>`, then `+<commit>` when the build set
/// `LOYALTY_GIT_COMMIT` ([`default_release`]).
pub const RELEASE: &str = concat!("loyalty-rs@", env!("CARGO_PKG_VERSION"));

/// The commit the build came from, when its environment said
/// (`LOYALTY_GIT_COMMIT`, as `scripts/build-workers.sh` sets it).
pub const BUILD_COMMIT: Option<&str> = option_env!("LOYALTY_GIT_COMMIT");

/// [`RELEASE`], with `+<commit>` when the build knows its commit.
pub fn default_release() -> String {
    match BUILD_COMMIT.map(str::trim).filter(|c| !c.is_empty()) {
        Some(commit) => format!("{RELEASE}+{commit}"),
        None => RELEASE.to_owned(),
    }
}

/// The client named in `X-Sentry-Auth` and in the events' SDK info.
const CLIENT_NAME: &str = "loyalty-rs";
const CLIENT: &str = concat!("loyalty-rs/", env!("CARGO_PKG_VERSION"));

/// Longest message sent, in characters (Sentry truncates near 8 KiB anyway).
const MAX_MESSAGE_CHARS: usize = 2_000;

/// Sentry's own grouping.
static DEFAULT_FINGERPRINT: &[Cow<'static, str>] = &[Cow::Borrowed("{{ default }}")];

/// Pause after a 429 without `Retry-After`.
const DEFAULT_PAUSE_SECS: i64 = 60;

/// Why a `SENTRY_DSN` was refused. The DSN itself is never repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DsnError {
    /// Not of the form `https://<public_key>@<host>[/<path>]/<project_id>`.
    #[error("SENTRY_DSN is not a valid DSN (expected https://<public_key>@<host>/<project_id>)")]
    Invalid,
}

/// The envelopes of one DSN: what each report is posted as, and where.
pub struct Envelopes {
    dsn: Dsn,
    envelope_url: String,
    auth: String,
    environment: String,
    release: String,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Randomness>,
}

impl fmt::Debug for Envelopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelopes")
            .field("host", &self.dsn.host())
            .field("project_id", &self.dsn.project_id().to_string())
            .field("environment", &self.environment)
            .field("release", &self.release)
            .finish_non_exhaustive()
    }
}

impl Envelopes {
    /// The envelopes for `SENTRY_DSN`, tagged with `SENTRY_ENVIRONMENT` and
    /// `SENTRY_RELEASE` (else [`default_release`]); `Ok(None)` when no DSN is set (reports then only go to the logs).
    ///
    /// # Errors
    /// [`DsnError`] when `SENTRY_DSN` is not a DSN.
    pub fn from_config(
        config: &Config,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Randomness>,
    ) -> Result<Option<Envelopes>, DsnError> {
        match &config.sentry_dsn {
            None => Ok(None),
            Some(dsn) => {
                let envelopes = Envelopes::new(dsn.expose(), &config.sentry_environment, clock, random)?;
                Ok(Some(match &config.sentry_release {
                    Some(release) => envelopes.with_release(release.clone()),
                    None => envelopes,
                }))
            }
        }
    }

    /// The envelopes for `dsn`, tagging events with `environment`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use loyalty_core::domain::Timestamp;
    /// # use loyalty_core::ports::{Clock, Randomness};
    /// # struct C; #[async_trait::async_trait] impl Clock for C {
    /// #     fn now(&self) -> Timestamp { Timestamp(0) } async fn sleep(&self, _: u64) {} }
    /// # struct R; impl Randomness for R { fn fill(&self, b: &mut [u8]) { b.fill(7) } }
    /// use loyalty_core::adapters::sentry::Envelopes;
    ///
    /// let envelopes = Envelopes::new("https://abc123@o1.ingest.sentry.io/42", "staging", Arc::new(C), Arc::new(R))?;
    /// assert_eq!(envelopes.envelope_url(), "https://o1.ingest.sentry.io/api/42/envelope/");
    /// assert!(envelopes.auth_header().starts_with("Sentry sentry_version=7, sentry_key=abc123, sentry_client=loyalty-rs/"));
    /// # Ok::<(), loyalty_core::adapters::sentry::DsnError>(())
    /// ```
    ///
    /// # Errors
    /// [`DsnError`] when `dsn` is not a DSN (it is never repeated).
    pub fn new(
        dsn: &str,
        environment: impl Into<String>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Randomness>,
    ) -> Result<Envelopes, DsnError> {
        let dsn: Dsn = dsn.trim().parse().map_err(|_| DsnError::Invalid)?;
        let key = dsn.public_key();
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(DsnError::Invalid);
        }
        let auth = format!("Sentry sentry_version=7, sentry_key={key}, sentry_client={CLIENT}");
        Ok(Envelopes {
            envelope_url: dsn.envelope_api_url().to_string(),
            auth,
            dsn,
            environment: environment.into(),
            release: default_release(),
            clock,
            random,
        })
    }

    /// The same envelopes, tagging events with `release` instead.
    pub fn with_release(mut self, release: impl Into<String>) -> Envelopes {
        self.release = release.into();
        self
    }

    /// Where envelopes are posted.
    pub fn envelope_url(&self) -> &str {
        &self.envelope_url
    }

    /// The `X-Sentry-Auth` header value.
    pub fn auth_header(&self) -> &str {
        &self.auth
    }

    /// The event `report` becomes, with the given id and time.
    pub fn event(&self, report: &ErrorReport, event_id: Uuid, at: Timestamp) -> Event<'static> {
        let mut tags = Map::new();
        tags.insert("context".to_string(), report.context.to_string());
        if let Some(kind) = report.update_kind {
            tags.insert("update_kind".to_string(), kind.to_string());
        }
        tags.insert("temporary".to_string(), report.temporary.to_string());
        // Every field spelled out: `Event::default()` reads the system clock, which panics on wasm32.
        Event {
            event_id,
            level: if report.temporary { Level::Warning } else { Level::Error },
            fingerprint: Cow::Borrowed(DEFAULT_FINGERPRINT),
            culprit: None,
            transaction: None,
            message: Some(truncate(&scrub(&report.message), MAX_MESSAGE_CHARS)),
            logentry: None,
            logger: Some(CLIENT_NAME.to_string()),
            modules: Map::new(),
            platform: Cow::Borrowed("other"),
            timestamp: system_time(at),
            server_name: None,
            release: Some(Cow::Owned(self.release.clone())),
            dist: None,
            environment: Some(Cow::Owned(self.environment.clone())),
            user: None,
            request: None,
            contexts: Map::new(),
            breadcrumbs: report
                .breadcrumbs
                .iter()
                .map(|b| Breadcrumb {
                    // Every field given: `Breadcrumb::default()` reads the system clock, which wasm32 lacks.
                    timestamp: system_time(at),
                    ty: "default".to_string(),
                    category: Some(b.category.to_string()),
                    level: Level::Info,
                    message: Some(truncate(&scrub(&b.message), MAX_MESSAGE_CHARS)),
                    data: Map::new(),
                })
                .collect::<Vec<_>>()
                .into(),
            exception: Values::new(),
            stacktrace: None,
            template: None,
            threads: Values::new(),
            tags,
            extra: Map::new(),
            debug_meta: Cow::Owned(DebugMeta::default()),
            sdk: Some(Cow::Owned(ClientSdkInfo {
                name: CLIENT_NAME.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                integrations: Vec::new(),
                packages: Vec::new(),
            })),
        }
    }

    /// The envelope `report` is posted as (a new event id, the clock's time):
    /// headers with `event_id`, `dsn` and `sent_at`, then one `event` item.
    /// [`to_bytes`] gives its wire form.
    pub fn envelope(&self, report: &ErrorReport) -> Envelope {
        let now = self.clock.now();
        let event_id = self.event_id();
        let headers =
            EnvelopeHeaders::new().with_event_id(event_id).with_dsn(self.dsn.clone()).with_sent_at(system_time(now));
        let mut envelope = Envelope::new().with_headers(headers);
        envelope.add_item(self.event(report, event_id, now));
        envelope
    }

    /// The time on the clock the envelopes are stamped with.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A version-4 UUID from the randomness port.
    fn event_id(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid::from_bytes(bytes)
    }
}

/// The wire form of `envelope`, as posted with the [`CONTENT_TYPE`].
pub fn to_bytes(envelope: &Envelope) -> Vec<u8> {
    let mut body = Vec::with_capacity(1024);
    if let Err(error) = envelope.to_writer(&mut body) {
        // Writing JSON into a Vec cannot fail; keep whatever was written.
        tracing::warn!(%error, "sentry: could not serialize the envelope");
    }
    body
}

/// Sentry's rate limit as its clients honour it: after a `429 Too Many
/// Requests`, nothing is posted for `Retry-After` seconds (60 when absent,
/// at most a day). Times are the [`Clock`] port's.
///
/// ```
/// use loyalty_core::adapters::sentry::RateLimit;
/// use loyalty_core::domain::Timestamp;
///
/// let limit = RateLimit::default();
/// assert_eq!(limit.answered(Timestamp(1_000), 429, Some("30")), Some(30));
/// assert!(!limit.allows(Timestamp(1_029)) && limit.allows(Timestamp(1_030)));
/// ```
#[derive(Debug, Default)]
pub struct RateLimit {
    /// Unix seconds before which nothing is posted.
    paused_until: AtomicI64,
}

impl RateLimit {
    /// Whether an envelope may be posted at `now`.
    pub fn allows(&self, now: Timestamp) -> bool {
        now.0 >= self.paused_until.load(Ordering::Relaxed)
    }

    /// Takes note of the answer to a post made at `now`: a `429` pauses
    /// posting for its `Retry-After` value (the delta-seconds form Sentry
    /// sends). Returns the pause, in seconds, when there is one.
    pub fn answered(&self, now: Timestamp, status: u16, retry_after: Option<&str>) -> Option<i64> {
        if status != 429 {
            return None;
        }
        let pause = retry_after.and_then(retry_after_secs).unwrap_or(DEFAULT_PAUSE_SECS);
        self.paused_until.store(now.0.saturating_add(pause), Ordering::Relaxed);
        Some(pause)
    }
}

/// The report for a panic, for a runtime's panic hook: where it happened and
/// nothing else (the payload may quote user data).
///
/// ```
/// use loyalty_core::adapters::sentry::panic_report;
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(None));
/// let sink = seen.clone();
/// let previous = std::panic::take_hook();
/// std::panic::set_hook(Box::new(move |info| {
///     *sink.lock().unwrap() = Some(panic_report(info));
/// }));
/// let _ = std::panic::catch_unwind(|| panic!("secret customer text"));
/// std::panic::set_hook(previous);
///
/// let report = seen.lock().unwrap().take().unwrap();
/// assert_eq!(report.context, "panic");
/// assert!(report.message.starts_with("panic at "));
/// assert!(!report.message.contains("secret"));
/// ```
pub fn panic_report(info: &std::panic::PanicHookInfo<'_>) -> ErrorReport {
    let message = match info.location() {
        Some(at) => format!("panic at {}:{}:{}", at.file(), at.line(), at.column()),
        None => "panic (location unknown)".to_string(),
    };
    ErrorReport::new(message, "panic", false)
}

/// What replaces a token or key in [`scrub`]'s output.
pub const REDACTED: &str = "[redacted]";

/// `text` with anything shaped like a secret replaced by [`REDACTED`]:
/// Telegram bot tokens (`<digits>:<30 or more of A-Z a-z 0-9 _ ->`, also inside
/// `https://api.telegram.org/bot<token>/…`) and OpenAI-style keys (`sk-`
/// followed by 16 or more of those characters, not inside a longer word).
///
/// ```
/// use loyalty_core::adapters::sentry::scrub;
///
/// assert_eq!(
///     scrub("POST https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/sendMessage failed"),
///     "POST https://api.telegram.org/bot[redacted]/sendMessage failed",
/// );
/// assert_eq!(scrub("key sk-proj-abcdefghijklmnop1234 refused"), "key [redacted] refused");
/// assert_eq!(scrub("customer 42: 150 points at 12:30"), "customer 42: 150 points at 12:30");
/// ```
pub fn scrub(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let prev = i.checked_sub(1).map(|p| bytes[p]);
        let end = if bytes[i].is_ascii_digit() && !prev.is_some_and(|p| p.is_ascii_digit()) {
            bot_token_end(bytes, i)
        } else if bytes[i..].starts_with(b"sk-") && !prev.is_some_and(|p| p.is_ascii_alphanumeric()) {
            let tail = key_chars(bytes, i + 3);
            (tail >= 16).then_some(i + 3 + tail)
        } else {
            None
        };
        match end {
            Some(end) => {
                // Matches start and end on ASCII bytes, so these are char boundaries.
                out.push_str(&text[copied..i]);
                out.push_str(REDACTED);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// End of a bot token starting with the digit run at `start`, if there is one.
fn bot_token_end(bytes: &[u8], start: usize) -> Option<usize> {
    let digits = bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    let colon = start + digits;
    if bytes.get(colon) != Some(&b':') {
        return None;
    }
    let tail = key_chars(bytes, colon + 1);
    (tail >= 30).then_some(colon + 1 + tail)
}

/// How many `[A-Za-z0-9_-]` bytes start at `from`.
fn key_chars(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .unwrap_or(&[])
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count()
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn system_time(at: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.0).unwrap_or(0))
}

/// `Retry-After` in seconds (the delta form Sentry sends, possibly with a
/// fraction), rounded up and capped at a day; other forms are `None`.
fn retry_after_secs(value: &str) -> Option<i64> {
    let (int, frac) = value.trim().split_once('.').unwrap_or((value.trim(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return None;
    }
    let whole = int.bytes().try_fold(0i64, |n, b| n.checked_mul(10)?.checked_add(i64::from(b - b'0')));
    let whole = whole.unwrap_or(i64::MAX);
    let rounded_up = if frac.bytes().any(|b| b != b'0') { whole.saturating_add(1) } else { whole };
    Some(rounded_up.min(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breadcrumbs_go_into_the_event_scrubbed() {
        struct At;
        #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
        impl Clock for At {
            fn now(&self) -> Timestamp {
                Timestamp(1_700_000_000)
            }
            async fn sleep(&self, _: u64) {}
        }
        struct Sevens;
        impl Randomness for Sevens {
            fn fill(&self, b: &mut [u8]) {
                b.fill(7);
            }
        }
        let envelopes =
            Envelopes::new("https://key@o1.ingest.sentry.io/7", "production", Arc::new(At), Arc::new(Sevens)).unwrap();
        let report = ErrorReport {
            message: "update 7 failed".into(),
            context: "webhook.client",
            update_kind: Some("message"),
            temporary: true,
            breadcrumbs: vec![
                crate::ports::Breadcrumb { category: "update", message: "message".into() },
                crate::ports::Breadcrumb {
                    category: "storage",
                    message: "bot123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678".into(),
                },
            ],
        };
        let bytes = to_bytes(&envelopes.envelope(&report));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(r#""category":"update","message":"message""#), "{text}");
        assert!(text.contains(r#""category":"storage""#), "{text}");
        assert!(!text.contains("ABCdefGHI"), "a token in a breadcrumb is scrubbed: {text}");
    }

    #[test]
    fn scrubs_bot_tokens() {
        let token = "123456789:AAF-abcdefghijklmnopqrstuvwxyz_0123";
        assert_eq!(scrub(token), REDACTED);
        assert_eq!(scrub(&format!("token={token}&x=1")), "token=[redacted]&x=1");
        assert_eq!(scrub(&format!("{token} {token}")), "[redacted] [redacted]");
        // 29 characters after the colon: not a token.
        let short = "1:abcdefghijklmnopqrstuvwxyz012";
        assert_eq!(scrub(short), short);
    }

    #[test]
    fn scrubs_openai_keys() {
        assert_eq!(scrub("sk-abcdefghijklmnop"), REDACTED);
        assert_eq!(scrub("(sk-proj-AbC_dEf-0123456789xyz)"), "([redacted])");
        // Too short, or inside a word.
        assert_eq!(scrub("sk-short"), "sk-short");
        assert_eq!(scrub("disk-abcdefghijklmnopqrstuv"), "disk-abcdefghijklmnopqrstuv");
    }

    #[test]
    fn keeps_everything_else() {
        let text = "storage temporarily unavailable: connection reset — клиент 42 · 12:30 ✓";
        assert_eq!(scrub(text), text);
        assert_eq!(scrub(""), "");
        assert_eq!(scrub("ключ sk-abcdefghijklmnopq ✓"), "ключ [redacted] ✓");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ááá", 2), "áá…");
        assert_eq!(truncate("ab", 2), "ab");
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(retry_after_secs("30"), Some(30));
        assert_eq!(retry_after_secs("1.5"), Some(2));
        assert_eq!(retry_after_secs(" 60.000 "), Some(60));
        assert_eq!(retry_after_secs("1000000000000"), Some(86_400));
        assert_eq!(retry_after_secs("99999999999999999999999"), Some(86_400), "overflow is capped");
        assert_eq!(retry_after_secs("1e12"), None, "not the delta-seconds form");
        assert_eq!(retry_after_secs(".5"), None);
        assert_eq!(retry_after_secs("-1"), None);
        assert_eq!(retry_after_secs("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        let limit = RateLimit::default();
        assert!(limit.allows(Timestamp(0)));
        assert_eq!(limit.answered(Timestamp(10), 429, Some("soon")), Some(DEFAULT_PAUSE_SECS));
        assert!(!limit.allows(Timestamp(69)) && limit.allows(Timestamp(70)));
    }
}
