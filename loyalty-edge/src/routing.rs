//! Which routes a Worker serves. Plain Rust: no Workers types, so it is
//! tested on the host.

use loyalty_core::domain::BotKind;

/// What one Worker serves. The migration plan deploys four Workers, one per
/// bot webhook and one for the REST API; [`Service::All`] serves everything
/// from one Worker (simpler to deploy, one failure domain).
///
/// | Service | Routes |
/// |---|---|
/// | [`Webhook(bot)`](Service::Webhook) | `POST /webhook/<bot>` for that bot |
/// | [`Api`](Service::Api) | `/api/…`, `/hooks/sentry` |
/// | [`All`](Service::All) | all of the above, for the three bots |
///
/// Every service also answers `GET /health` (the Worker runs) and `GET /ready`
/// (storage answers); anything else is `404`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// One bot's webhook.
    Webhook(BotKind),
    /// The REST API and the Sentry alert hook.
    Api,
    /// Every webhook and the API.
    All,
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
            return match (self, bot) {
                (Service::All, Some(bot)) => Route::Webhook(bot),
                (Service::Webhook(mine), Some(bot)) if mine == bot => Route::Webhook(bot),
                (Service::Api, _) => Route::NotFound,
                _ => Route::UnknownBot,
            };
        }
        let is_api = path.starts_with("/api/") || path == "/hooks/sentry";
        match self {
            Service::Api | Service::All if is_api => Route::Api,
            _ => Route::NotFound,
        }
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
        let client = Service::Webhook(BotKind::Client);
        assert_eq!(client.route("/webhook/client"), Route::Webhook(BotKind::Client));
        assert_eq!(client.route("/webhook/partner"), Route::UnknownBot);
        assert_eq!(client.route("/webhook/alerts"), Route::UnknownBot);
        assert_eq!(client.route("/api/v1/me"), Route::NotFound);
        assert_eq!(client.route("/health"), Route::Health);
        assert_eq!(Service::Api.route("/api/v1/me"), Route::Api);
        assert_eq!(Service::Api.route("/hooks/sentry"), Route::Api);
        assert_eq!(Service::Api.route("/webhook/client"), Route::NotFound);
        assert_eq!(Service::Api.route("/ready"), Route::Ready);
        assert_eq!(Service::Api.route("/apix"), Route::NotFound);
        assert_eq!(Service::All.route("/webhook/admin"), Route::Webhook(BotKind::Admin));
        assert_eq!(Service::All.route("/api/v1/partners"), Route::Api);
        assert_eq!(Service::All.route("/"), Route::NotFound);
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
