//! The REST API: [`Engine::handle_api`](crate::Engine::handle_api) turns an `http::Request<Bytes>` into
//! an `http::Response<Bytes>` plus deferred work, with no I/O of its own, so
//! the same router serves Workers and hyper and tests call it directly.
//!
//! | Route | Auth | What |
//! |---|---|---|
//! | `GET /health` | – | liveness |
//! | `GET /api/v1/openapi.json` | – | the [OpenAPI document](openapi::document) |
//! | `GET /api/v1/me` | `tma` | the customer, referral and card links |
//! | `GET /api/v1/me/transactions` | `tma` | ledger entries, newest first, paged |
//! | `GET /api/v1/me/card` | `tma` | the card's QR code (SVG) |
//! | `GET /api/v1/partners` | `tma` | approved partners |
//! | `POST /api/v1/redemptions/{id}/confirm` | `tma` | pay with points |
//! | `POST /api/v1/redemptions/{id}/decline` | `tma` | refuse a request |
//! | `PUT /api/v1/me/birthday` | `tma` | set the birthday, once |
//! | `POST /api/v1/partner/credits` | `Bearer` POS key | credit a purchase (idempotent) |
//! | `GET /api/v1/partner/customers/{code}` | `Bearer` POS key | the customer behind a card, with the tier |
//! | `POST /api/v1/partner/reversals` | `Bearer` POS key | reverse a credit or a redemption (idempotent) |
//! | `POST /api/v1/partner/redemptions` | `Bearer` POS key | ask the customer to pay with points (idempotent) |
//! | `GET /api/v1/partner/redemptions/{id}` | `Bearer` POS key | its status; `?wait=N` long-polls up to 25 s |
//! | `GET /api/v1/partner/summary` | `Bearer` POS key | today's and the week's figures |
//! | `GET`, `POST /api/v1/partner/campaigns` | `Bearer` POS key | the partner's campaigns; propose one |
//! | `GET`, `POST /api/v1/partner/webhooks`, `DELETE …/{id}` | `Bearer` POS key | the partner's signed webhook endpoints: list (no secrets), register (the secret, once), remove |
//! | `GET`, `PUT /api/v1/admin/rules` | `Bearer` `ADMIN_API_TOKEN` | export, import the rules document |
//! | `GET`, `POST /api/v1/admin/campaigns` | `Bearer` `ADMIN_API_TOKEN` | every campaign; make one |
//! | `POST /api/v1/admin/campaigns/{id}/approve`, `…/reject`, `…/end` | `Bearer` `ADMIN_API_TOKEN` | decide a campaign |
//! | `POST /hooks/sentry` | Sentry signature | forward an alert to Telegram |
//!
//! Customers authenticate with `Authorization: tma <initData>`, the signed
//! data Telegram gives a Mini App ([`init_data`]). Partners' POS systems use
//! `Authorization: Bearer <api key>` and an `Idempotency-Key` header. Every
//! error is `{"error": {"code": "snake_case", "message": "…"}}`; the code is
//! stable, the message follows `Accept-Language` (ru, en or vi, English by
//! default). CORS is granted to `FRONTEND_URL` only ([`cors`]).

pub mod cors;
mod handlers;
pub mod init_data;
pub mod openapi;
pub mod routes;
pub mod sentry;

pub use routes::{Endpoint, ROUTES, Route};

use crate::context::{Context, Task};
use crate::ports::{ErrorReport, Rejection, StoreError};
use crate::texts::{self, ApiText, Texts};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

/// Largest request body accepted, in bytes (1 MiB); larger gets 413.
pub const MAX_API_BODY_BYTES: usize = 1024 * 1024;

/// How old a Mini App's `initData` may be (24 hours).
pub const INIT_DATA_MAX_AGE_SECS: i64 = 86_400;

/// An API answer: the response, and work to run after sending it (Telegram
/// notifications), each with [`Engine::run_task`](crate::Engine::run_task).
#[derive(Debug)]
pub struct ApiResponse {
    /// The HTTP response.
    pub response: Response<Bytes>,
    /// Deferred work.
    pub deferred: Vec<Task>,
}

pub(crate) type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// An HMAC-SHA256 keyed with `key`.
pub(crate) fn new_mac(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as hmac::Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of every length (long ones are hashed, short ones padded).
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// An error answer: status, stable code, human message (in the request's
/// language when answered), and what to report.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: ApiText,
    pub(crate) allow: Option<String>,
    /// Seconds for a `Retry-After` header (429).
    pub(crate) retry_after: Option<i64>,
    pub(crate) report: Option<Box<ErrorReport>>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: ApiText) -> ApiError {
        ApiError { status, code, message, allow: None, retry_after: None, report: None }
    }

    pub(crate) fn into_response(self, t: &dyn Texts) -> Response<Bytes> {
        let message = t.api(&self.message);
        let mut r = json_response(self.status, &json!({"error": {"code": self.code, "message": message}}));
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            r.headers_mut().insert(http::header::ALLOW, allow);
        }
        if let Some(secs) = self.retry_after {
            r.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        r
    }

    /// The status and code for a rule rejection.
    pub(crate) fn rejection(r: &Rejection) -> ApiError {
        use Rejection::*;
        let (status, code) = match r {
            UnknownCustomer => (StatusCode::NOT_FOUND, "unknown_customer"),
            UnknownPartner => (StatusCode::NOT_FOUND, "unknown_partner"),
            UnknownEntry => (StatusCode::NOT_FOUND, "unknown_entry"),
            UnknownRedemption => (StatusCode::NOT_FOUND, "unknown_redemption"),
            CustomerBlocked => (StatusCode::FORBIDDEN, "customer_blocked"),
            PartnerNotApproved { .. } => (StatusCode::FORBIDDEN, "partner_not_approved"),
            InsufficientBalance { .. } => (StatusCode::CONFLICT, "insufficient_balance"),
            ExceedsMaxShare { .. } => (StatusCode::CONFLICT, "exceeds_max_share"),
            DailyLimitExceeded { .. } => (StatusCode::CONFLICT, "daily_limit_exceeded"),
            InvalidAmount => (StatusCode::BAD_REQUEST, "invalid_amount"),
            AlreadyReversed => (StatusCode::CONFLICT, "already_reversed"),
            NotReversible => (StatusCode::CONFLICT, "not_reversible"),
            ReversalWindowClosed => (StatusCode::CONFLICT, "reversal_window_closed"),
            RedemptionExpired => (StatusCode::GONE, "redemption_expired"),
            RedemptionClosed { .. } => (StatusCode::CONFLICT, "redemption_closed"),
            NotYourRedemption => (StatusCode::FORBIDDEN, "not_your_redemption"),
            IdempotencyConflict => (StatusCode::CONFLICT, "idempotency_conflict"),
            CodeTaken => (StatusCode::CONFLICT, "code_taken"),
            InvalidTransition => (StatusCode::CONFLICT, "invalid_transition"),
            AlreadyPartner => (StatusCode::CONFLICT, "already_partner"),
            InvalidImport => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_import"),
            InvalidRules { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_rules"),
            InvalidCampaign { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_campaign"),
            UnknownCampaign => (StatusCode::NOT_FOUND, "unknown_campaign"),
            CampaignClosed { .. } => (StatusCode::CONFLICT, "campaign_closed"),
            PartnerCampaignsOff => (StatusCode::FORBIDDEN, "partner_campaigns_off"),
            BirthdayAlreadySet { .. } => (StatusCode::CONFLICT, "birthday_already_set"),
            InvalidReward { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_reward"),
            InvalidStampCard { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_stamp_card"),
            NoStampCard => (StatusCode::CONFLICT, "no_stamp_card"),
            UnknownReward => (StatusCode::NOT_FOUND, "unknown_reward"),
            RewardUnavailable => (StatusCode::CONFLICT, "reward_unavailable"),
            OutOfStock => (StatusCode::CONFLICT, "out_of_stock"),
            RewardClosed { .. } => (StatusCode::CONFLICT, "reward_closed"),
            UnknownVoucher => (StatusCode::NOT_FOUND, "unknown_voucher"),
            VoucherClosed { .. } => (StatusCode::CONFLICT, "voucher_closed"),
            InvalidInvite => (StatusCode::NOT_FOUND, "invalid_invite"),
            StaffLimit { .. } => (StatusCode::CONFLICT, "staff_limit"),
            AlreadyStaff => (StatusCode::CONFLICT, "already_staff"),
            UnknownStaff => (StatusCode::NOT_FOUND, "unknown_staff"),
            InvalidWebhook { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_webhook"),
            WebhookLimit { .. } => (StatusCode::CONFLICT, "webhook_limit"),
            UnknownWebhook => (StatusCode::NOT_FOUND, "unknown_webhook"),
        };
        ApiError::new(status, code, ApiText::Rejected(r.clone()))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Rejected(r) => ApiError::rejection(&r),
            e => {
                let temporary = e.is_temporary();
                let mut err = if temporary {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", ApiText::Unavailable)
                } else {
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", ApiText::Internal)
                };
                err.report = Some(Box::new(ErrorReport::new(e.to_string(), "api", temporary)));
                err
            }
        }
    }
}

/// A JSON response with `Cache-Control: no-store`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = Response::new(Bytes::from(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Answers one API request (see [`Engine::handle_api`](crate::engine::Engine::handle_api)). Never fails and never panics: every problem
/// becomes a JSON error response (temporary storage failures a 503 and
/// permanent ones a 500, both reported through the reporter port).
///
/// Run every task in [`ApiResponse::deferred`] after sending the response
/// (on Workers with `wait_until`, natively in a spawned task).
pub(crate) async fn handle(cx: &Context, req: Request<Bytes>) -> ApiResponse {
    let cors = cors::Cors::evaluate(cx.config().frontend_url.as_deref(), req.headers());
    let accept = req.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let t = texts::accept_language(accept).texts();
    let (mut response, deferred) = if req.method() == Method::OPTIONS {
        (preflight(&req, &cors, t), Vec::new())
    } else {
        match handlers::handle(cx, &req).await {
            Ok(reply) => (reply.response, reply.deferred),
            Err(mut e) => {
                if let Some(report) = e.report.take() {
                    cx.report(*report).await;
                }
                (e.into_response(t), Vec::new())
            }
        }
    };
    cors.apply(&mut response);
    ApiResponse { response, deferred }
}

fn preflight(req: &Request<Bytes>, cors: &cors::Cors, t: &dyn Texts) -> Response<Bytes> {
    let path = req.uri().path();
    let mut allowed = routes::allowed_methods(path);
    let has_origin = req.headers().contains_key(http::header::ORIGIN);
    let refused = match cors {
        cors::Cors::Denied => true,
        cors::Cors::Off => has_origin,
        cors::Cors::Allowed(_) => false,
    };
    if refused {
        return ApiError::new(StatusCode::FORBIDDEN, "cors_forbidden", ApiText::CorsForbidden).into_response(t);
    }
    if allowed.is_empty() {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", ApiText::NotFound).into_response(t);
    }
    allowed.push("OPTIONS");
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        r.headers_mut().insert(http::header::ALLOW, v);
    }
    cors.apply_preflight(&mut r);
    r
}
