//! Signed outgoing webhooks posted with reqwest: the native
//! [`WebhookSender`] ([`HttpWebhookSender`]).
//!
//! The core signs each delivery and decides what an answer means
//! ([`loyalty_core::outgoing`]); this module only carries it out: one `POST`
//! over HTTPS, no redirects, a timeout, the status answered.
//!
//! An endpoint's URL is chosen by whoever registers it, so posting to it must
//! not reach into the server's own network (server-side request forgery).
//! [`loyalty_core::outgoing::check_url`] refuses private IP literals and
//! `localhost` when an endpoint is registered, but a public-looking name can
//! resolve to anything — and resolve differently at every delivery. So the
//! sender resolves names itself ([`PublicResolver`]) and refuses every
//! address that is not public ([`is_public_ip`]) at the moment of connecting:
//! the addresses checked are the addresses connected to. IP literals in the
//! URL, which no resolver sees, are checked before the request. No proxy is
//! used either (a proxy would resolve the name on its side, past the check).

use async_trait::async_trait;
use loyalty_core::outgoing::is_public_ip;
use loyalty_core::ports::{WebhookPost, WebhookPostError, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long one delivery may take by default, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an [`HttpWebhookSender`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SenderBuildError {
    /// A root certificate given to
    /// [`HttpWebhookSenderBuilder::root_certificates_pem`] is not PEM.
    #[error("invalid root certificate: {0}")]
    Certificate(String),
    /// The HTTP client could not be built (no TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// [`WebhookSender`] over reqwest (rustls): a `POST` with
/// `Content-Type: application/json`, the delivery's headers and body, no
/// redirects followed (a `3xx` is the status answered), given up after
/// [`DEFAULT_TIMEOUT`] (see [`HttpWebhookSenderBuilder::timeout`]).
///
/// Only `https://` URLs are posted to, and only to public addresses: a host
/// name is resolved by [`PublicResolver`], which refuses a name any of whose
/// addresses is not public, and an IP literal is checked with [`is_public_ip`];
/// both answer [`WebhookPostError::Refused`] without connecting. A failed
/// connection or a timeout is [`WebhookPostError::Unreachable`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use loyalty_core::ports::{WebhookPost, WebhookSender};
/// use loyalty_native::outgoing::HttpWebhookSender;
///
/// let sender = HttpWebhookSender::new()?;
/// let post = WebhookPost { url: "https://hooks.example.com/loyalty".into(), headers: vec![], body: "{}".into() };
/// let status = sender.post(&post).await?;
/// # let _ = status;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    timeout: Duration,
}

/// Options of an [`HttpWebhookSender`]: the timeout, extra trusted root
/// certificates and host overrides. Made by [`HttpWebhookSender::builder`].
#[derive(Debug, Clone)]
pub struct HttpWebhookSenderBuilder {
    timeout: Duration,
    roots: Vec<reqwest::Certificate>,
    overrides: Vec<(String, SocketAddr)>,
}

impl HttpWebhookSender {
    /// A sender with the default options: [`DEFAULT_TIMEOUT`], the platform's
    /// trusted roots, no host overrides.
    ///
    /// # Errors
    /// [`SenderBuildError::Client`] when the HTTP client cannot be built.
    pub fn new() -> Result<HttpWebhookSender, SenderBuildError> {
        HttpWebhookSender::builder().build()
    }

    /// The options, to set before [`HttpWebhookSenderBuilder::build`].
    pub fn builder() -> HttpWebhookSenderBuilder {
        HttpWebhookSenderBuilder { timeout: DEFAULT_TIMEOUT, roots: Vec::new(), overrides: Vec::new() }
    }

    /// How long one delivery may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl HttpWebhookSenderBuilder {
    /// Gives up on a delivery after `timeout` (connecting, sending and the
    /// answer's status line and headers) instead of [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> HttpWebhookSenderBuilder {
        self.timeout = timeout;
        self
    }

    /// Trusts the certificates in `pem` (one or more `BEGIN CERTIFICATE`
    /// blocks) as roots, besides the platform's: an endpoint behind a
    /// private CA, or a test's self-signed receiver.
    ///
    /// # Errors
    /// [`SenderBuildError::Certificate`] when `pem` holds no certificate or
    /// an unreadable one.
    pub fn root_certificates_pem(mut self, pem: &[u8]) -> Result<HttpWebhookSenderBuilder, SenderBuildError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| SenderBuildError::Certificate(error_chain(&e.without_url())))?;
        if certs.is_empty() {
            return Err(SenderBuildError::Certificate("no certificate in the PEM".into()));
        }
        self.roots.extend(certs);
        Ok(self)
    }

    /// Connects to `addr` for the host name `host` (its port is used when the
    /// URL names none), without asking DNS.
    ///
    /// An override is **not** filtered by [`is_public_ip`]: whoever builds the
    /// sender set it explicitly (an operator pointing a name at an internal
    /// receiver on purpose, or a test at its loopback one), which an
    /// endpoint's owner cannot. Every other name still goes through
    /// [`PublicResolver`].
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> HttpWebhookSenderBuilder {
        self.overrides.push((host.to_ascii_lowercase(), addr));
        self
    }

    /// The sender.
    ///
    /// # Errors
    /// [`SenderBuildError::Client`] when the HTTP client cannot be built.
    pub fn build(self) -> Result<HttpWebhookSender, SenderBuildError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(true)
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .dns_resolver(PublicResolver)
            .tls_certs_merge(self.roots);
        for (host, addr) in &self.overrides {
            builder = builder.resolve(host, *addr);
        }
        let client = builder.build().map_err(|e| SenderBuildError::Client(error_chain(&e.without_url())))?;
        Ok(HttpWebhookSender { client, timeout: self.timeout })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl WebhookSender for HttpWebhookSender {
    async fn post(&self, post: &WebhookPost) -> Result<u16, WebhookPostError> {
        let url = reqwest::Url::parse(&post.url).map_err(|e| WebhookPostError::Refused(format!("invalid URL: {e}")))?;
        if url.scheme() != "https" {
            return Err(WebhookPostError::Refused("only https:// URLs are posted to".into()));
        }
        let Some(host) = url.host_str() else { return Err(WebhookPostError::Refused("the URL has no host".into())) };
        // An IP literal (normalised by the URL parser: `0x7f.1` is 127.0.0.1)
        // never reaches the resolver: checked here.
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()
            && !is_public_ip(ip)
        {
            return Err(refused(&NotPublic { host: host.to_string(), addr: ip }));
        }
        let mut request =
            self.client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            // The body is not read: the status is the answer.
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(self.classify(e)),
        }
    }
}

impl HttpWebhookSender {
    /// What a failed request was: refused by [`PublicResolver`], or no
    /// answer (described without the URL, which may carry a token).
    fn classify(&self, e: reqwest::Error) -> WebhookPostError {
        if let Some(not_public) = refusal(&e) {
            return refused(not_public);
        }
        let e = e.without_url();
        let detail = error_chain(&e);
        if e.is_timeout() {
            WebhookPostError::Unreachable(format!("timed out after {} ms: {detail}", self.timeout.as_millis()))
        } else if e.is_connect() {
            WebhookPostError::Unreachable(format!("connection failed: {detail}"))
        } else {
            WebhookPostError::Unreachable(format!("request failed: {detail}"))
        }
    }
}

/// The [`NotPublic`] refusal somewhere in `e`'s chain of sources, if any.
fn refusal<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a NotPublic> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(refused) = e.downcast_ref::<NotPublic>() {
            return Some(refused);
        }
        next = e.source();
    }
    None
}

/// The error and its sources, each once.
fn error_chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// A host name resolved to an address that is not public ([`is_public_ip`]):
/// why [`PublicResolver`] refused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to {addr}, which is not a public address")]
pub struct NotPublic {
    /// The name resolved (or the IP literal).
    pub host: String,
    /// Its first address that is not public.
    pub addr: IpAddr,
}

/// A reqwest DNS resolver that resolves with the system's resolver
/// (`getaddrinfo`, through [`tokio::net::lookup_host`]) and refuses — with a
/// [`NotPublic`] error, and no address to connect to — a name any of whose
/// addresses is not public ([`is_public_ip`]). A name that mixes public and
/// private addresses is refused whole: it is a misconfiguration or an
/// attempt to slip past the check.
///
/// Names set with [`HttpWebhookSenderBuilder::resolve`] never reach it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver;

impl PublicResolver {
    /// The public addresses of `host` (port 0: the URL's port is used).
    ///
    /// # Errors
    /// A [`NotPublic`] when an address is not public; the resolver's error
    /// when the name does not resolve.
    pub async fn lookup(host: &str) -> Result<Vec<SocketAddr>, Box<dyn StdError + Send + Sync>> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        public_only(host, addrs).map_err(|e| Box::new(e) as Box<dyn StdError + Send + Sync>)
    }
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = PublicResolver::lookup(&host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// `addrs` of `host` when every one is public; else the first that is not.
///
/// # Errors
/// [`NotPublic`] naming the first address that is not public.
pub fn public_only(host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, NotPublic> {
    match addrs.iter().find(|a| !is_public_ip(a.ip())) {
        Some(bad) => Err(NotPublic { host: host.to_string(), addr: bad.ip() }),
        None => Ok(addrs),
    }
}

/// The refusal of `not_public`: the address goes to the server's log only —
/// the error is kept on the endpoint, where its owner reads it, and must not
/// tell them what names resolve to inside the server's network.
fn refused(not_public: &NotPublic) -> WebhookPostError {
    tracing::warn!("webhook delivery refused: {not_public}");
    WebhookPostError::Refused("the host resolves to an address that is not public".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_any_private_address_is_refused_whole() {
        let public: SocketAddr = "8.8.8.8:0".parse().unwrap();
        let private: SocketAddr = "[::1]:0".parse().unwrap();
        assert_eq!(public_only("dns.example", vec![public]), Ok(vec![public]));
        assert_eq!(
            public_only("mixed.example", vec![public, private]),
            Err(NotPublic { host: "mixed.example".into(), addr: private.ip() })
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_localhost() {
        // `localhost` resolves through /etc/hosts, without the network.
        let refused = PublicResolver::lookup("localhost").await.unwrap_err();
        let refused = refused.downcast_ref::<NotPublic>().expect("a NotPublic refusal");
        assert_eq!(refused.host, "localhost");
        assert!(refused.addr.is_loopback(), "{refused}");
        let numeric = PublicResolver::lookup("127.0.0.1").await.unwrap_err();
        assert!(numeric.downcast_ref::<NotPublic>().is_some(), "{numeric}");
    }

    #[tokio::test]
    async fn private_literals_and_plain_http_are_refused_without_a_request() {
        let sender = HttpWebhookSender::new().unwrap();
        for url in [
            "https://127.0.0.1:9/h",
            "https://[::1]:9/h",
            "https://[::ffff:127.0.0.1]:9/h",
            "https://0x7f.1:9/h",
            "https://169.254.169.254/latest",
            "https://10.0.0.1/h",
            "http://example.com/h",
            "not a url",
        ] {
            let post = WebhookPost { url: url.into(), headers: vec![], body: "{}".into() };
            let answer = sender.post(&post).await;
            assert!(matches!(answer, Err(WebhookPostError::Refused(_))), "{url}: {answer:?}");
        }
    }

    #[test]
    fn bad_root_certificates_are_refused() {
        let none = HttpWebhookSender::builder().root_certificates_pem(b"no certificate here");
        assert!(matches!(none, Err(SenderBuildError::Certificate(_))), "{none:?}");
        let broken = HttpWebhookSender::builder()
            .root_certificates_pem(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
        assert!(matches!(broken, Err(SenderBuildError::Certificate(_))), "{broken:?}");
        let sender = HttpWebhookSender::builder().timeout(Duration::from_millis(1500)).build().unwrap();
        assert_eq!(sender.timeout(), Duration::from_millis(1500));
    }
}
