//! The route table and the router.
//!
//! Dispatch is a plain `match` on the method and the path segments
//! ([`route`]); [`ROUTES`] lists the same routes as data, for `405 Method Not
//! Allowed` answers (with `Allow`), CORS preflights and the OpenAPI document.
//! A test checks that the two agree.

use http::Method;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /health`.
    Health,
    /// `GET /api/v1/openapi.json`.
    OpenApi,
    /// `GET /api/v1/me`.
    Me,
    /// `GET /api/v1/me/transactions`.
    MeTransactions,
    /// `GET /api/v1/me/card`.
    MeCard,
    /// `GET /api/v1/me/card-code`.
    MeCardCode,
    /// `GET /api/v1/me/redemptions`: the customer's requests waiting for an answer (a long poll).
    MeRedemptions,
    /// `PUT /api/v1/me/language`: the customer's language.
    MeLanguage,
    /// `GET /api/v1/partner/figures`.
    PartnerFigures,
    /// `GET /api/v1/admin/figures`.
    AdminFigures,
    /// `GET /api/v1/partners`.
    Partners,
    /// `POST /api/v1/redemptions/{id}/confirm`.
    ConfirmRedemption,
    /// `POST /api/v1/redemptions/{id}/decline`.
    DeclineRedemption,
    /// `POST /api/v1/partner/credits`.
    PartnerCredits,
    /// `GET /api/v1/partner/customers/{code}`.
    PartnerCustomer,
    /// `POST /api/v1/partner/reversals`.
    PartnerReversals,
    /// `POST /api/v1/partner/redemptions`.
    PartnerRedemptions,
    /// `GET /api/v1/partner/redemptions/{id}`.
    PartnerRedemption,
    /// `GET /api/v1/partner/summary`.
    PartnerSummary,
    /// `GET /api/v1/partner/campaigns`.
    PartnerCampaigns,
    /// `POST /api/v1/partner/campaigns`.
    PartnerNewCampaign,
    /// `PUT /api/v1/me/birthday`.
    MeBirthday,
    /// `GET /api/v1/admin/rules`.
    AdminRules,
    /// `PUT /api/v1/admin/rules`.
    AdminSetRules,
    /// `GET /api/v1/admin/campaigns`.
    AdminCampaigns,
    /// `POST /api/v1/admin/campaigns`.
    AdminNewCampaign,
    /// `POST /api/v1/admin/campaigns/{id}/approve`.
    AdminApproveCampaign,
    /// `POST /api/v1/admin/campaigns/{id}/reject`.
    AdminRejectCampaign,
    /// `POST /api/v1/admin/campaigns/{id}/end`.
    AdminEndCampaign,
    /// `GET /api/v1/rewards`: what the customer may claim now.
    Rewards,
    /// `POST /api/v1/rewards/{id}/claim`: pay for a voucher.
    ClaimReward,
    /// `GET /api/v1/me/vouchers`: the customer's vouchers.
    MeVouchers,
    /// `POST /api/v1/me/vouchers/{id}/cancel`: the points back.
    CancelVoucher,
    /// `GET /api/v1/partner/rewards`: the partner's rewards (POS).
    PartnerRewards,
    /// `POST /api/v1/partner/rewards`: publish a reward (POS).
    PartnerNewReward,
    /// `POST /api/v1/partner/rewards/{id}/withdraw` (POS).
    PartnerWithdrawReward,
    /// `POST /api/v1/partner/vouchers/{code}/use`: accept a customer's voucher (POS).
    PartnerUseVoucher,
    /// `GET /api/v1/partner/entries`: the partner's statement, page by page (POS).
    PartnerEntries,
    /// `DELETE /api/v1/partner/key`: revoke the POS key in use.
    PartnerRevokeKey,
    /// `GET /api/v1/admin/rewards`: every reward.
    AdminRewards,
    /// `POST /api/v1/admin/rewards/{id}/approve`.
    AdminApproveReward,
    /// `POST /api/v1/admin/rewards/{id}/reject`.
    AdminRejectReward,
    /// `POST /api/v1/admin/rewards/{id}/withdraw`.
    AdminWithdrawReward,
    /// `GET /api/v1/me/data`: everything held about the customer.
    MeData,
    /// `POST /api/v1/me/erase`: erase the customer's personal data.
    MeErase,
    /// `GET /api/v1/admin/audit`: the audit log, newest first.
    AdminAudit,
    /// `POST /api/v1/admin/customers/{code}/erase`: erase a customer's personal data on request.
    AdminEraseCustomer,
    /// `POST /api/v1/partner/stamps`: a stamp for a customer's visit (POS).
    PartnerStamp,
    /// `PUT /api/v1/partner/stamp-card`: run, change or end the stamp card (POS).
    PartnerStampCard,
    /// `GET /api/v1/me/stamps`: the customer's stamp cards.
    MeStamps,
    /// `GET /api/v1/partner/staff`: the partner's cashiers and invitations (POS).
    PartnerStaff,
    /// `DELETE /api/v1/partner/staff/{id}`: revoke a cashier or an invitation (POS).
    PartnerRevokeStaff,
    /// `GET /api/v1/partner/webhooks`: the partner's webhook endpoints, without their secrets (POS).
    PartnerWebhooks,
    /// `POST /api/v1/partner/webhooks`: register an endpoint; the answer carries its secret, once (POS).
    PartnerNewWebhook,
    /// `DELETE /api/v1/partner/webhooks/{id}`: remove an endpoint (POS).
    PartnerRemoveWebhook,
    /// `POST /hooks/sentry`.
    SentryHook,
}

/// One row of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template; `{name}` stands for one path segment.
    pub path: &'static str,
    /// What it does.
    pub endpoint: Endpoint,
}

const fn r(method: &'static str, path: &'static str, endpoint: Endpoint) -> Route {
    Route { method, path, endpoint }
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    r("GET", "/health", Endpoint::Health),
    r("GET", "/api/v1/openapi.json", Endpoint::OpenApi),
    r("GET", "/api/v1/me", Endpoint::Me),
    r("GET", "/api/v1/me/transactions", Endpoint::MeTransactions),
    r("GET", "/api/v1/me/card", Endpoint::MeCard),
    r("GET", "/api/v1/me/card-code", Endpoint::MeCardCode),
    r("GET", "/api/v1/me/redemptions", Endpoint::MeRedemptions),
    r("PUT", "/api/v1/me/language", Endpoint::MeLanguage),
    r("GET", "/api/v1/partner/figures", Endpoint::PartnerFigures),
    r("GET", "/api/v1/admin/figures", Endpoint::AdminFigures),
    r("PUT", "/api/v1/me/birthday", Endpoint::MeBirthday),
    r("GET", "/api/v1/partners", Endpoint::Partners),
    r("POST", "/api/v1/redemptions/{id}/confirm", Endpoint::ConfirmRedemption),
    r("POST", "/api/v1/redemptions/{id}/decline", Endpoint::DeclineRedemption),
    r("POST", "/api/v1/partner/credits", Endpoint::PartnerCredits),
    r("GET", "/api/v1/partner/customers/{code}", Endpoint::PartnerCustomer),
    r("POST", "/api/v1/partner/reversals", Endpoint::PartnerReversals),
    r("POST", "/api/v1/partner/redemptions", Endpoint::PartnerRedemptions),
    r("GET", "/api/v1/partner/redemptions/{id}", Endpoint::PartnerRedemption),
    r("GET", "/api/v1/partner/summary", Endpoint::PartnerSummary),
    r("GET", "/api/v1/partner/campaigns", Endpoint::PartnerCampaigns),
    r("POST", "/api/v1/partner/campaigns", Endpoint::PartnerNewCampaign),
    r("GET", "/api/v1/admin/rules", Endpoint::AdminRules),
    r("PUT", "/api/v1/admin/rules", Endpoint::AdminSetRules),
    r("GET", "/api/v1/admin/campaigns", Endpoint::AdminCampaigns),
    r("POST", "/api/v1/admin/campaigns", Endpoint::AdminNewCampaign),
    r("POST", "/api/v1/admin/campaigns/{id}/approve", Endpoint::AdminApproveCampaign),
    r("POST", "/api/v1/admin/campaigns/{id}/reject", Endpoint::AdminRejectCampaign),
    r("POST", "/api/v1/admin/campaigns/{id}/end", Endpoint::AdminEndCampaign),
    r("GET", "/api/v1/rewards", Endpoint::Rewards),
    r("POST", "/api/v1/rewards/{id}/claim", Endpoint::ClaimReward),
    r("GET", "/api/v1/me/vouchers", Endpoint::MeVouchers),
    r("POST", "/api/v1/me/vouchers/{id}/cancel", Endpoint::CancelVoucher),
    r("GET", "/api/v1/partner/rewards", Endpoint::PartnerRewards),
    r("POST", "/api/v1/partner/rewards", Endpoint::PartnerNewReward),
    r("POST", "/api/v1/partner/rewards/{id}/withdraw", Endpoint::PartnerWithdrawReward),
    r("POST", "/api/v1/partner/vouchers/{code}/use", Endpoint::PartnerUseVoucher),
    r("GET", "/api/v1/partner/entries", Endpoint::PartnerEntries),
    r("DELETE", "/api/v1/partner/key", Endpoint::PartnerRevokeKey),
    r("GET", "/api/v1/admin/rewards", Endpoint::AdminRewards),
    r("POST", "/api/v1/admin/rewards/{id}/approve", Endpoint::AdminApproveReward),
    r("POST", "/api/v1/admin/rewards/{id}/reject", Endpoint::AdminRejectReward),
    r("POST", "/api/v1/admin/rewards/{id}/withdraw", Endpoint::AdminWithdrawReward),
    r("GET", "/api/v1/me/data", Endpoint::MeData),
    r("POST", "/api/v1/me/erase", Endpoint::MeErase),
    r("GET", "/api/v1/admin/audit", Endpoint::AdminAudit),
    r("POST", "/api/v1/admin/customers/{code}/erase", Endpoint::AdminEraseCustomer),
    r("POST", "/api/v1/partner/stamps", Endpoint::PartnerStamp),
    r("PUT", "/api/v1/partner/stamp-card", Endpoint::PartnerStampCard),
    r("GET", "/api/v1/me/stamps", Endpoint::MeStamps),
    r("GET", "/api/v1/partner/staff", Endpoint::PartnerStaff),
    r("DELETE", "/api/v1/partner/staff/{id}", Endpoint::PartnerRevokeStaff),
    r("GET", "/api/v1/partner/webhooks", Endpoint::PartnerWebhooks),
    r("POST", "/api/v1/partner/webhooks", Endpoint::PartnerNewWebhook),
    r("DELETE", "/api/v1/partner/webhooks/{id}", Endpoint::PartnerRemoveWebhook),
    r("POST", "/hooks/sentry", Endpoint::SentryHook),
];

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed<'a> {
    /// A route matched; `param` is the `{…}` segment, if the route has one.
    Found {
        /// The endpoint.
        endpoint: Endpoint,
        /// The path parameter (still percent-encoded).
        param: Option<&'a str>,
    },
    /// The path exists, but not with this method; these methods are allowed.
    MethodNotAllowed(Vec<&'static str>),
    /// No route has this path.
    NotFound,
}

fn segments(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

fn dispatch<'a>(method: &Method, segs: &[&'a str]) -> Option<(Endpoint, Option<&'a str>)> {
    use Endpoint::*;
    Some(match (method.as_str(), segs) {
        ("GET", ["health"]) => (Health, None),
        ("GET", ["api", "v1", "openapi.json"]) => (OpenApi, None),
        ("GET", ["api", "v1", "me"]) => (Me, None),
        ("GET", ["api", "v1", "me", "transactions"]) => (MeTransactions, None),
        ("GET", ["api", "v1", "me", "card"]) => (MeCard, None),
        ("GET", ["api", "v1", "me", "card-code"]) => (MeCardCode, None),
        ("GET", ["api", "v1", "me", "redemptions"]) => (MeRedemptions, None),
        ("PUT", ["api", "v1", "me", "language"]) => (MeLanguage, None),
        ("GET", ["api", "v1", "partner", "figures"]) => (PartnerFigures, None),
        ("GET", ["api", "v1", "admin", "figures"]) => (AdminFigures, None),
        ("PUT", ["api", "v1", "me", "birthday"]) => (MeBirthday, None),
        ("GET", ["api", "v1", "partners"]) => (Partners, None),
        ("POST", ["api", "v1", "redemptions", id, "confirm"]) if !id.is_empty() => (ConfirmRedemption, Some(*id)),
        ("POST", ["api", "v1", "redemptions", id, "decline"]) if !id.is_empty() => (DeclineRedemption, Some(*id)),
        ("POST", ["api", "v1", "partner", "credits"]) => (PartnerCredits, None),
        ("GET", ["api", "v1", "partner", "customers", code]) if !code.is_empty() => (PartnerCustomer, Some(*code)),
        ("POST", ["api", "v1", "partner", "reversals"]) => (PartnerReversals, None),
        ("POST", ["api", "v1", "partner", "redemptions"]) => (PartnerRedemptions, None),
        ("GET", ["api", "v1", "partner", "redemptions", id]) if !id.is_empty() => (PartnerRedemption, Some(*id)),
        ("GET", ["api", "v1", "partner", "summary"]) => (PartnerSummary, None),
        ("GET", ["api", "v1", "partner", "campaigns"]) => (PartnerCampaigns, None),
        ("POST", ["api", "v1", "partner", "campaigns"]) => (PartnerNewCampaign, None),
        ("GET", ["api", "v1", "admin", "rules"]) => (AdminRules, None),
        ("PUT", ["api", "v1", "admin", "rules"]) => (AdminSetRules, None),
        ("GET", ["api", "v1", "admin", "campaigns"]) => (AdminCampaigns, None),
        ("POST", ["api", "v1", "admin", "campaigns"]) => (AdminNewCampaign, None),
        ("POST", ["api", "v1", "admin", "campaigns", id, "approve"]) if !id.is_empty() => {
            (AdminApproveCampaign, Some(*id))
        }
        ("POST", ["api", "v1", "admin", "campaigns", id, "reject"]) if !id.is_empty() => {
            (AdminRejectCampaign, Some(*id))
        }
        ("POST", ["api", "v1", "admin", "campaigns", id, "end"]) if !id.is_empty() => (AdminEndCampaign, Some(*id)),
        ("GET", ["api", "v1", "rewards"]) => (Rewards, None),
        ("POST", ["api", "v1", "rewards", id, "claim"]) if !id.is_empty() => (ClaimReward, Some(*id)),
        ("GET", ["api", "v1", "me", "vouchers"]) => (MeVouchers, None),
        ("POST", ["api", "v1", "me", "vouchers", id, "cancel"]) if !id.is_empty() => (CancelVoucher, Some(*id)),
        ("GET", ["api", "v1", "partner", "rewards"]) => (PartnerRewards, None),
        ("POST", ["api", "v1", "partner", "rewards"]) => (PartnerNewReward, None),
        ("POST", ["api", "v1", "partner", "rewards", id, "withdraw"]) if !id.is_empty() => {
            (PartnerWithdrawReward, Some(*id))
        }
        ("POST", ["api", "v1", "partner", "vouchers", code, "use"]) if !code.is_empty() => {
            (PartnerUseVoucher, Some(*code))
        }
        ("GET", ["api", "v1", "partner", "entries"]) => (PartnerEntries, None),
        ("DELETE", ["api", "v1", "partner", "key"]) => (PartnerRevokeKey, None),
        ("GET", ["api", "v1", "admin", "rewards"]) => (AdminRewards, None),
        ("POST", ["api", "v1", "admin", "rewards", id, "approve"]) if !id.is_empty() => (AdminApproveReward, Some(*id)),
        ("POST", ["api", "v1", "admin", "rewards", id, "reject"]) if !id.is_empty() => (AdminRejectReward, Some(*id)),
        ("POST", ["api", "v1", "admin", "rewards", id, "withdraw"]) if !id.is_empty() => {
            (AdminWithdrawReward, Some(*id))
        }
        ("GET", ["api", "v1", "me", "data"]) => (MeData, None),
        ("POST", ["api", "v1", "me", "erase"]) => (MeErase, None),
        ("GET", ["api", "v1", "admin", "audit"]) => (AdminAudit, None),
        ("POST", ["api", "v1", "admin", "customers", code, "erase"]) if !code.is_empty() => {
            (AdminEraseCustomer, Some(*code))
        }
        ("POST", ["api", "v1", "partner", "stamps"]) => (PartnerStamp, None),
        ("PUT", ["api", "v1", "partner", "stamp-card"]) => (PartnerStampCard, None),
        ("GET", ["api", "v1", "me", "stamps"]) => (MeStamps, None),
        ("GET", ["api", "v1", "partner", "staff"]) => (PartnerStaff, None),
        ("DELETE", ["api", "v1", "partner", "staff", id]) if !id.is_empty() => (PartnerRevokeStaff, Some(*id)),
        ("GET", ["api", "v1", "partner", "webhooks"]) => (PartnerWebhooks, None),
        ("POST", ["api", "v1", "partner", "webhooks"]) => (PartnerNewWebhook, None),
        ("DELETE", ["api", "v1", "partner", "webhooks", id]) if !id.is_empty() => (PartnerRemoveWebhook, Some(*id)),
        ("POST", ["hooks", "sentry"]) => (SentryHook, None),
        _ => return None,
    })
}

/// Whether `path` fits the `template` of a [`Route`].
pub fn template_matches(template: &str, path: &str) -> bool {
    let (t, p) = (segments(template), segments(path));
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| if t.starts_with('{') && t.ends_with('}') { !p.is_empty() } else { t == p })
}

/// The methods [`ROUTES`] allows on `path` (empty when the path is unknown).
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut m: Vec<&'static str> = ROUTES.iter().filter(|r| template_matches(r.path, path)).map(|r| r.method).collect();
    m.dedup();
    m
}

/// Routes a request by method and path.
pub fn route<'a>(method: &Method, path: &'a str) -> Routed<'a> {
    if let Some((endpoint, param)) = dispatch(method, &segments(path)) {
        return Routed::Found { endpoint, param };
    }
    let allowed = allowed_methods(path);
    if allowed.is_empty() { Routed::NotFound } else { Routed::MethodNotAllowed(allowed) }
}

/// The template of the route `method` and `path` match, for logs and
/// metrics (never the path itself, which may hold ids and codes):
/// `(preflight)` for `OPTIONS`, `(unmatched)` when no route matches.
///
/// ```
/// use http::Method;
/// use loyalty_core::api::routes::template;
///
/// assert_eq!(template(&Method::POST, "/api/v1/redemptions/42/confirm"), "/api/v1/redemptions/{id}/confirm");
/// assert_eq!(template(&Method::GET, "/api/v1/partner/customers/AB12CD"), "/api/v1/partner/customers/{code}");
/// assert_eq!(template(&Method::DELETE, "/api/v1/me"), "(unmatched)");
/// ```
pub fn template(method: &Method, path: &str) -> &'static str {
    if method == Method::OPTIONS {
        return "(preflight)";
    }
    match route(method, path) {
        Routed::Found { endpoint, .. } => ROUTES
            .iter()
            .find(|r| r.endpoint == endpoint && r.method == method.as_str())
            .map_or("(unmatched)", |r| r.path),
        _ => "(unmatched)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(template: &str) -> String {
        template.split('/').map(|s| if s.starts_with('{') { "17" } else { s }).collect::<Vec<_>>().join("/")
    }

    /// The `match` and the table describe the same routes.
    #[test]
    fn table_and_match_agree() {
        for r in ROUTES {
            let path = example(r.path);
            let method = Method::from_bytes(r.method.as_bytes()).unwrap();
            match route(&method, &path) {
                Routed::Found { endpoint, param } => {
                    assert_eq!(endpoint, r.endpoint, "{} {}", r.method, r.path);
                    assert_eq!(param.is_some(), r.path.contains('{'));
                }
                other => panic!("{} {} → {other:?}", r.method, r.path),
            }
            for m in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
                // Other methods of the path: not allowed (unless the table routes them too).
                if !ROUTES.iter().any(|o| o.path == r.path && o.method == m.as_str()) {
                    assert!(
                        matches!(route(&m, &path), Routed::MethodNotAllowed(ref a) if a.contains(&r.method)),
                        "{m} {path}"
                    );
                }
            }
        }
        let endpoints: std::collections::HashSet<_> = ROUTES.iter().map(|r| r.endpoint).collect();
        assert_eq!(endpoints.len(), ROUTES.len(), "each endpoint appears once");
    }

    #[test]
    fn unknown_paths() {
        for p in ["/", "", "/health/", "/api/v1", "/api/v1/me/x", "/api/v1/redemptions//confirm", "//health", "/HEALTH"]
        {
            assert_eq!(route(&Method::GET, p), Routed::NotFound, "{p}");
            assert_eq!(route(&Method::POST, p), Routed::NotFound, "{p}");
        }
        assert_eq!(route(&Method::DELETE, "/health"), Routed::MethodNotAllowed(vec!["GET"]));
    }
}
