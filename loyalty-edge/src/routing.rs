//! Which routes a Worker serves, and which code its engine links. Plain Rust:
//! no Workers types, so it is tested on the host.

use bytes::Bytes;
use loyalty_core::api::ApiResponse;
use loyalty_core::domain::BotKind;
use loyalty_core::maybe_send::BoxFuture;
use loyalty_core::{Bots, Engine};

/// The REST API's entry ([`Engine::handle_api`]), held by the services that
/// serve the API: a Worker that never names one of those does not link the API.
pub(crate) type ApiEntry = for<'a> fn(&'a Engine, http::Request<Bytes>) -> BoxFuture<'a, ApiResponse>;

/// What one Worker serves: its routes, and the code its engine runs. The
/// migration plan deploys four Workers, one per bot webhook and one for the
/// REST API; [`Service::ALL`] serves everything from one Worker (simpler to
/// deploy, one failure domain, but the largest).
///
/// | Service | Routes | Code linked |
/// |---|---|---|
/// | [`CLIENT_WEBHOOK`](Service::CLIENT_WEBHOOK) | `POST /webhook/client` | the client bot |
/// | [`PARTNER_WEBHOOK`](Service::PARTNER_WEBHOOK) | `POST /webhook/partner` | the partner bot |
/// | [`ADMIN_WEBHOOK`](Service::ADMIN_WEBHOOK) | `POST /webhook/admin` | the admin bot |
/// | [`API`](Service::API) | `/api/…`, `/hooks/sentry` | the REST API, no bot |
/// | [`ALL`](Service::ALL) | all of the above | the three bots and the API |
///
/// Every service also answers `GET /health` (the Worker runs) and `GET /ready`
/// (storage answers); anything else is `404`.
///
/// A Worker links only what its service names: the bots' code is reached
/// through the [`Bots`] its engine is built with ([`Engine::serving`]), the
/// API's through an entry only [`Service::API`] (and [`Service::ALL`]) hold.
/// So the client bot's Worker carries neither the other bots nor the API and
/// its OpenAPI document. Combine services with [`Service::union`]; add bots'
/// code without their routes with [`Service::with_bots`] — a Worker that
/// runs the Cron Trigger needs every bot's, since its maintenance pass
/// processes again any bot's unfinished updates (an update of a bot the
/// engine does not serve is left to a process that serves it).
#[derive(Clone, Copy)]
pub struct Service {
    /// The bots whose `POST /webhook/<bot>` this service answers.
    webhooks: Webhooks,
    /// The built-in bots its engine runs.
    bots: Bots,
    /// The REST API's entry, for a service that answers its routes.
    api: Option<ApiEntry>,
}

/// A set of webhook routes, one flag per bot.
#[derive(Clone, Copy)]
struct Webhooks {
    client: bool,
    partner: bool,
    admin: bool,
}

impl Webhooks {
    const NONE: Webhooks = Webhooks { client: false, partner: false, admin: false };

    const fn union(self, other: Webhooks) -> Webhooks {
        Webhooks {
            client: self.client || other.client,
            partner: self.partner || other.partner,
            admin: self.admin || other.admin,
        }
    }

    fn contains(self, bot: BotKind) -> bool {
        match bot {
            BotKind::Client => self.client,
            BotKind::Partner => self.partner,
            BotKind::Admin => self.admin,
            BotKind::Alerts => false,
        }
    }

    fn is_empty(self) -> bool {
        !(self.client || self.partner || self.admin)
    }
}

/// The API's entry: [`Engine::handle_api`], boxed.
fn handle_api(engine: &Engine, req: http::Request<Bytes>) -> BoxFuture<'_, ApiResponse> {
    Box::pin(engine.handle_api(req))
}

impl Service {
    /// The client bot's webhook (customers).
    pub const CLIENT_WEBHOOK: Service =
        Service { webhooks: Webhooks { client: true, ..Webhooks::NONE }, bots: Bots::CLIENT, api: None };
    /// The partner bot's webhook (merchants).
    pub const PARTNER_WEBHOOK: Service =
        Service { webhooks: Webhooks { partner: true, ..Webhooks::NONE }, bots: Bots::PARTNER, api: None };
    /// The admin bot's webhook.
    pub const ADMIN_WEBHOOK: Service =
        Service { webhooks: Webhooks { admin: true, ..Webhooks::NONE }, bots: Bots::ADMIN, api: None };
    /// The REST API and the Sentry alert hook. Its engine serves no bot: the
    /// API runs the use cases, never a bot's code.
    pub const API: Service = Service { webhooks: Webhooks::NONE, bots: Bots::NONE, api: Some(handle_api) };
    /// Every webhook and the API.
    pub const ALL: Service =
        Service::CLIENT_WEBHOOK.union(Service::PARTNER_WEBHOOK).union(Service::ADMIN_WEBHOOK).union(Service::API);

    /// The routes and the code of `self` and of `other`: e.g. one Worker for
    /// the client bot and the API, `Service::CLIENT_WEBHOOK.union(Service::API)`.
    pub const fn union(self, other: Service) -> Service {
        Service {
            webhooks: self.webhooks.union(other.webhooks),
            bots: self.bots.union(other.bots),
            api: match self.api {
                Some(api) => Some(api),
                None => other.api,
            },
        }
    }

    /// This service with the code of `bots` too, without their webhook
    /// routes: for a Worker whose maintenance pass (the Cron Trigger)
    /// processes again the unfinished updates of other bots than its own.
    ///
    /// ```
    /// use loyalty_edge::Service;
    /// use loyalty_edge::core::Bots;
    ///
    /// // The admin bot's webhook, and the Cron Trigger that recovers any bot's updates.
    /// const ADMIN_AND_CRON: Service = Service::ADMIN_WEBHOOK.with_bots(Bots::ALL);
    /// # let _ = ADMIN_AND_CRON;
    /// ```
    pub const fn with_bots(self, bots: Bots) -> Service {
        Service { bots: self.bots.union(bots), ..self }
    }

    /// The built-in bots its engine runs.
    pub(crate) fn bots(self) -> Bots {
        self.bots
    }

    /// The REST API's entry, if it serves the API.
    pub(crate) fn api(self) -> Option<ApiEntry> {
        self.api
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let webhooks: Vec<&str> =
            BotKind::WEBHOOK_BOTS.into_iter().filter(|&b| self.webhooks.contains(b)).map(BotKind::as_str).collect();
        f.debug_struct("Service")
            .field("webhooks", &webhooks)
            .field("bots", &self.bots)
            .field("api", &self.api.is_some())
            .finish()
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Webhook(BotKind),
    Api,
    Health,
    Ready,
    /// `/webhook/<name>` for a bot this Worker does not serve.
    UnknownBot,
    NotFound,
}

impl Service {
    /// The route of `path` in this service.
    pub(crate) fn route(self, path: &str) -> Route {
        match path {
            "/health" => return Route::Health,
            "/ready" => return Route::Ready,
            _ => {}
        }
        if let Some(name) = path.strip_prefix("/webhook/") {
            let bot = BotKind::parse(name).filter(|b| BotKind::WEBHOOK_BOTS.contains(b));
            return match bot {
                Some(bot) if self.webhooks.contains(bot) => Route::Webhook(bot),
                // A Worker without webhooks (the API's) knows of none.
                _ if self.webhooks.is_empty() => Route::NotFound,
                _ => Route::UnknownBot,
            };
        }
        let is_api = path.starts_with("/api/") || path == "/hooks/sentry";
        if is_api && self.api.is_some() { Route::Api } else { Route::NotFound }
    }
}

/// The path of an absolute URL as the runtime serializes a request's URL:
/// from the first `/` after the host, without the query.
pub(crate) fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let Some(start) = rest.find(['/', '?', '#']).filter(|&i| rest.as_bytes()[i] == b'/') else { return "/" };
    let path = &rest[start..];
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_serves_its_routes_only() {
        let client = Service::CLIENT_WEBHOOK;
        assert_eq!(client.route("/webhook/client"), Route::Webhook(BotKind::Client));
        assert_eq!(client.route("/webhook/partner"), Route::UnknownBot);
        assert_eq!(client.route("/webhook/alerts"), Route::UnknownBot);
        assert_eq!(client.route("/api/v1/me"), Route::NotFound);
        assert_eq!(client.route("/hooks/sentry"), Route::NotFound);
        assert_eq!(client.route("/health"), Route::Health);
        assert_eq!(Service::PARTNER_WEBHOOK.route("/webhook/partner"), Route::Webhook(BotKind::Partner));
        assert_eq!(Service::PARTNER_WEBHOOK.route("/webhook/admin"), Route::UnknownBot);
        assert_eq!(Service::ADMIN_WEBHOOK.route("/webhook/admin"), Route::Webhook(BotKind::Admin));
        assert_eq!(Service::API.route("/api/v1/me"), Route::Api);
        assert_eq!(Service::API.route("/hooks/sentry"), Route::Api);
        assert_eq!(Service::API.route("/webhook/client"), Route::NotFound);
        assert_eq!(Service::API.route("/ready"), Route::Ready);
        assert_eq!(Service::API.route("/apix"), Route::NotFound);
        assert_eq!(Service::ALL.route("/webhook/admin"), Route::Webhook(BotKind::Admin));
        assert_eq!(Service::ALL.route("/webhook/client"), Route::Webhook(BotKind::Client));
        assert_eq!(Service::ALL.route("/webhook/alerts"), Route::UnknownBot);
        assert_eq!(Service::ALL.route("/api/v1/partners"), Route::Api);
        assert_eq!(Service::ALL.route("/"), Route::NotFound);
        let both = Service::CLIENT_WEBHOOK.union(Service::API);
        assert_eq!(both.route("/webhook/client"), Route::Webhook(BotKind::Client));
        assert_eq!(both.route("/webhook/admin"), Route::UnknownBot);
        assert_eq!(both.route("/api/v1/me"), Route::Api);
    }

    /// What each Worker's engine links: only the bots (and the API) it names.
    #[test]
    fn each_service_runs_its_own_code_only() {
        let served = |s: Service| BotKind::WEBHOOK_BOTS.into_iter().filter(|&b| s.bots().serves(b)).collect::<Vec<_>>();
        assert_eq!(served(Service::CLIENT_WEBHOOK), [BotKind::Client]);
        assert_eq!(served(Service::PARTNER_WEBHOOK), [BotKind::Partner]);
        assert_eq!(served(Service::ADMIN_WEBHOOK), [BotKind::Admin]);
        assert_eq!(served(Service::API), []);
        assert_eq!(served(Service::ALL), BotKind::WEBHOOK_BOTS);
        for webhook in [Service::CLIENT_WEBHOOK, Service::PARTNER_WEBHOOK, Service::ADMIN_WEBHOOK] {
            assert!(webhook.api().is_none(), "{webhook:?} links no API");
        }
        assert!(Service::API.api().is_some());
        assert!(Service::ALL.api().is_some());
        assert_eq!(format!("{:?}", Service::API), "Service { webhooks: [], bots: Bots[], api: true }");
    }

    /// The admin Worker runs the Cron Trigger: every bot's code, its own route only.
    #[test]
    fn with_bots_adds_code_not_routes() {
        let admin = Service::ADMIN_WEBHOOK.with_bots(Bots::ALL);
        assert!(BotKind::WEBHOOK_BOTS.into_iter().all(|b| admin.bots().serves(b)));
        assert_eq!(admin.route("/webhook/admin"), Route::Webhook(BotKind::Admin));
        assert_eq!(admin.route("/webhook/client"), Route::UnknownBot);
        assert_eq!(admin.route("/api/v1/me"), Route::NotFound);
        assert!(admin.api().is_none());
        assert_eq!(
            format!("{admin:?}"),
            "Service { webhooks: [\"admin\"], bots: Bots[client, partner, admin], api: false }"
        );
    }

    #[test]
    fn the_path_of_a_url() {
        assert_eq!(path_of("https://w.example/webhook/client"), "/webhook/client");
        assert_eq!(path_of("https://w.example/api/v1/me?wait=25"), "/api/v1/me");
        assert_eq!(path_of("http://127.0.0.1:8787/health#x"), "/health");
        assert_eq!(path_of("https://w.example"), "/");
        assert_eq!(path_of("https://w.example?x=/y"), "/");
    }
}
