//! The endpoints.

use super::init_data::{InitDataError, parse_query, validate_init_data};
use super::routes::{Endpoint, Routed, route};
use super::{ApiError, INIT_DATA_MAX_AGE_SECS, MAX_API_BODY_BYTES, json_response, sentry};
use crate::card::CardCodeError;
use crate::context::{Context, Task};
use crate::domain::{
    Customer, CustomerCode, EntryId, Language, LedgerEntry, Partner, PartnerId, PartnerStatus, RedemptionId,
    RedemptionStatus, RewardId, Staff, StaffId, TelegramUserId, Timestamp, VoucherId, WebhookId, rules,
};
use crate::outgoing::WebhookEvent;
use crate::ports::{
    AddStamp, AnswerRedemption, AuditPage, CampaignActor, CampaignDecision, CancelVoucher, ConsumeQuota,
    CreateCampaign, CreditPurchase, CustomerRedemptions, CustomerRef, DailyFigures, DayFigures, DecideCampaign,
    DecideReward, EntriesPage, EraseCustomer, FiguresScope, ListCampaigns, ListRewards, ListVouchers, LookUpCustomer,
    MAX_FIGURE_DAYS, OpenRedemption, PartnerEntriesPage, PartnerRef, PendingRedemption, PublishReward, QuotaKind,
    RedemptionView, Rejection, RemoveWebhook, ReverseEntry, RevokeStaff, RewardDecision, SetBirthday, SetProgramRules,
    SetStampCard, StampProgress, StoreError, UseVoucher, ViewRedemption, VoucherView, Webhook, WebhookOwner,
};
use crate::program::rewards::{
    MAX_REWARDS_LISTED, MAX_VOUCHERS_LISTED, Reward, RewardOffer, is_category, parse_voucher_code,
};

use crate::domain::BotKind;
use crate::program::ProgramRules;
use crate::program::campaigns::{Birthday, CampaignDocument, CampaignTerms};
use crate::program::stamps::check_card;
use crate::qr::QrMatrix;
use crate::telegram::BotCall;
use crate::texts::{ApiText, Esc};
use crate::usecases;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

/// A successful answer.
pub(super) struct Reply {
    pub(super) response: Response<Bytes>,
    pub(super) deferred: Vec<Task>,
}

impl Reply {
    fn json(status: StatusCode, body: &Value) -> Reply {
        Reply { response: json_response(status, body), deferred: Vec::new() }
    }

    fn ok(body: &Value) -> Reply {
        Reply::json(StatusCode::OK, body)
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn bad_request(code: &'static str, message: ApiText) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn unauthorized(code: &'static str, message: ApiText) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

fn not_configured(what: ApiText) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", what)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// A numeric id in the path (`{id}`): 1 to 18 digits.
fn path_id(param: Option<&str>) -> Option<i64> {
    param
        .filter(|p| !p.is_empty() && p.len() <= 18 && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse::<i64>().ok())
}

/// The body of a JSON request as text (its type checked, UTF-8).
fn json_text(req: &Request<Bytes>) -> ApiResult<&str> {
    require_json(req.headers())?;
    std::str::from_utf8(req.body()).map_err(|e| bad_request("invalid_body", ApiText::InvalidBody(e.to_string())))
}

/// The campaign document a request carries, as checked terms.
fn campaign_document(req: &Request<Bytes>) -> ApiResult<CampaignTerms> {
    CampaignDocument::parse(json_text(req)?)
        .map_err(|reason| ApiError::rejection(&Rejection::InvalidCampaign { reason }))
}

fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let media = header(headers, CONTENT_TYPE.as_str()).and_then(|c| c.split(';').next()).map(str::trim);
    match media {
        Some(m) if m.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            ApiText::UnsupportedMediaType,
        )),
    }
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", ApiText::PayloadTooLarge)
}

/// Routes and runs one request (not `OPTIONS`, which [`super::preflight`] answers).
pub(super) async fn handle(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let path = req.uri().path();
    let (endpoint, param) = match route(req.method(), path) {
        Routed::Found { endpoint, param } => (endpoint, param),
        Routed::MethodNotAllowed(allowed) => {
            let mut allow = allowed.clone();
            allow.push("OPTIONS");
            let mut e =
                ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", ApiText::MethodNotAllowed(allowed));
            e.allow = Some(allow.join(", "));
            return Err(e);
        }
        Routed::NotFound => return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", ApiText::NotFound)),
    };
    let declared = header(req.headers(), CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if req.body().len() > MAX_API_BODY_BYTES || declared.is_some_and(|n| n > MAX_API_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match endpoint {
        Endpoint::Health => Ok(Reply::ok(&json!({"status": "ok"}))),
        Endpoint::OpenApi => {
            let mut reply = Reply::ok(&super::openapi::document());
            reply.response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            Ok(reply)
        }
        Endpoint::Me => me(cx, req).await,
        Endpoint::MeTransactions => transactions(cx, req).await,
        Endpoint::MeCard => card(cx, req).await,
        Endpoint::MeCardCode => card_code_now(cx, req).await,
        Endpoint::MeRedemptions => my_redemptions(cx, req).await,
        Endpoint::MeLanguage => set_my_language(cx, req).await,
        Endpoint::PartnerFigures => pos_figures(cx, req).await,
        Endpoint::AdminFigures => admin_figures(cx, req).await,
        Endpoint::Partners => partners(cx, req).await,
        Endpoint::ConfirmRedemption => answer_redemption(cx, req, param, true).await,
        Endpoint::DeclineRedemption => answer_redemption(cx, req, param, false).await,
        Endpoint::PartnerCredits => credit(cx, req).await,
        Endpoint::PartnerCustomer => pos_customer(cx, req, param.unwrap_or_default()).await,
        Endpoint::PartnerReversals => pos_reverse(cx, req).await,
        Endpoint::PartnerRedemptions => pos_redeem(cx, req).await,
        Endpoint::PartnerRedemption => pos_redemption(cx, req, param).await,
        Endpoint::PartnerSummary => pos_summary(cx, req).await,
        Endpoint::PartnerCampaigns => pos_campaigns(cx, req).await,
        Endpoint::PartnerNewCampaign => pos_new_campaign(cx, req).await,
        Endpoint::MeBirthday => set_birthday(cx, req).await,
        Endpoint::AdminRules | Endpoint::AdminSetRules => {
            admin_rules(cx, req, endpoint == Endpoint::AdminSetRules).await
        }
        Endpoint::AdminCampaigns => admin_campaigns(cx, req).await,
        Endpoint::AdminNewCampaign => admin_new_campaign(cx, req).await,
        Endpoint::AdminApproveCampaign => admin_decide(cx, req, param, CampaignDecision::Approve).await,
        Endpoint::AdminRejectCampaign => admin_decide(cx, req, param, CampaignDecision::Reject).await,
        Endpoint::AdminEndCampaign => admin_decide(cx, req, param, CampaignDecision::End).await,
        Endpoint::Rewards => rewards(cx, req).await,
        Endpoint::ClaimReward => claim_reward(cx, req, param).await,
        Endpoint::MeVouchers => my_vouchers(cx, req).await,
        Endpoint::CancelVoucher => cancel_voucher(cx, req, param).await,
        Endpoint::PartnerRewards => pos_rewards(cx, req).await,
        Endpoint::PartnerNewReward => pos_new_reward(cx, req).await,
        Endpoint::PartnerWithdrawReward => pos_withdraw_reward(cx, req, param).await,
        Endpoint::PartnerUseVoucher => pos_use_voucher(cx, req, param.unwrap_or_default()).await,
        Endpoint::PartnerEntries => pos_entries(cx, req).await,
        Endpoint::PartnerRevokeKey => pos_revoke_key(cx, req).await,
        Endpoint::AdminRewards => admin_rewards(cx, req).await,
        Endpoint::AdminApproveReward => admin_decide_reward(cx, req, param, RewardDecision::Approve).await,
        Endpoint::AdminRejectReward => admin_decide_reward(cx, req, param, RewardDecision::Reject).await,
        Endpoint::AdminWithdrawReward => admin_decide_reward(cx, req, param, RewardDecision::Withdraw).await,
        Endpoint::MeData => my_data(cx, req).await,
        Endpoint::MeErase => erase_me(cx, req).await,
        Endpoint::AdminAudit => admin_audit(cx, req).await,
        Endpoint::AdminEraseCustomer => admin_erase(cx, req, param.unwrap_or_default()).await,
        Endpoint::PartnerStamp => pos_stamp(cx, req).await,
        Endpoint::PartnerStampCard => pos_stamp_card(cx, req).await,
        Endpoint::MeStamps => my_stamps(cx, req).await,
        Endpoint::PartnerStaff => pos_staff(cx, req).await,
        Endpoint::PartnerRevokeStaff => pos_revoke_staff(cx, req, param).await,
        Endpoint::PartnerWebhooks => pos_webhooks(cx, req).await,
        Endpoint::PartnerNewWebhook => pos_new_webhook(cx, req).await,
        Endpoint::PartnerRemoveWebhook => pos_remove_webhook(cx, req, param).await,
        Endpoint::SentryHook => sentry_hook(cx, req).await,
    }
}

// ---------------------------------------------------------------- customers

/// A customer's call by their Telegram id: a customer unknown to the store is
/// a user who has not signed up (`404 not_registered`).
fn registered<T>(r: crate::ports::StoreResult<T>) -> ApiResult<T> {
    r.map_err(|e| match e {
        StoreError::Rejected(Rejection::UnknownCustomer) => not_registered(),
        e => e.into(),
    })
}

/// The `<initData>` of an `Authorization: tma <initData>` header.
fn tma(headers: &HeaderMap) -> Option<&str> {
    header(headers, AUTHORIZATION.as_str())?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("tma"))
        .map(|(_, rest)| rest.trim())
}

/// The Telegram user of `init_data`, which must be signed for `bot` (the bot
/// whose button opened the Mini App). Data another of the program's bots
/// signed is refused as such (`403 wrong_bot`): a customer's `initData`
/// never reaches a partner's route, nor a partner's a customer's.
fn app_user(cx: &Context, init_data: &str, bot: BotKind) -> ApiResult<TelegramUserId> {
    let config = cx.config();
    let token = config.bot_token(bot).map_err(|e| match (bot, e) {
        (BotKind::Client, _) => not_configured(ApiText::ClientBotNotConfigured),
        (_, crate::config::ConfigError::Missing { name, .. }) => not_configured(ApiText::NotConfigured(name)),
        (other, _) => not_configured(ApiText::NotConfigured(crate::config::Config::token_variable(other))),
    })?;
    let data = validate_init_data(init_data, token.expose(), cx.now(), INIT_DATA_MAX_AGE_SECS).map_err(|e| {
        if e == InitDataError::SignatureMismatch {
            // Which bot did sign it? Asked only of data that failed, so a valid
            // request costs one HMAC, a refused one at most three more.
            let signer = [BotKind::Client, BotKind::Partner, BotKind::Admin].into_iter().find(|&other| {
                other != bot
                    && config.token(other).is_some_and(|t| {
                        validate_init_data(init_data, t.expose(), cx.now(), INIT_DATA_MAX_AGE_SECS).is_ok()
                    })
            });
            if let Some(signer) = signer {
                return ApiError::new(StatusCode::FORBIDDEN, "wrong_bot", ApiText::WrongBot { signer, wanted: bot });
            }
        }
        unauthorized("invalid_init_data", ApiText::InvalidInitData(e.to_string()))
    })?;
    let user = data.user.ok_or_else(|| unauthorized("invalid_init_data", ApiText::InitDataWithoutUser))?;
    Ok(TelegramUserId(user.id))
}

/// The customer behind a valid `Authorization: tma <initData>` signed for the
/// client bot.
fn telegram_user(cx: &Context, headers: &HeaderMap) -> ApiResult<TelegramUserId> {
    let init_data = tma(headers).ok_or_else(|| unauthorized("missing_auth", ApiText::MissingAuth))?;
    app_user(cx, init_data, BotKind::Client)
}

fn not_registered() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_registered", ApiText::NotRegistered)
}

/// The registered customer behind the request.
async fn customer(cx: &Context, req: &Request<Bytes>) -> ApiResult<Customer> {
    let user = telegram_user(cx, req.headers())?;
    let summary = cx.storage().customer_summary(CustomerRef::Telegram(user), 0).await?;
    summary.map(|s| s.customer).ok_or_else(not_registered)
}

fn customer_json(c: &Customer) -> Value {
    json!({
        "id": c.id.0,
        "code": c.code.as_str(),
        "first_name": c.first_name,
        "language": c.language.code(),
        "balance": c.balance,
        "blocked": c.blocked,
        "created_at": c.created_at.0,
    })
}

/// The partner bot's deep link to a card: `code` is the printed code or a
/// rotating one.
fn card_link(partner_bot: &str, code: &str) -> String {
    format!("https://t.me/{partner_bot}?start=c_{code}")
}

/// The partner bot's username, for card links (`503` while it is unknown).
async fn partner_bot(cx: &Context) -> ApiResult<String> {
    cx.bot_username(BotKind::Partner)
        .await
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", ApiText::PartnerBotUnknown))
}

/// `link` as an SVG QR code.
fn qr_svg(link: &str) -> ApiResult<String> {
    Ok(QrMatrix::encode(link)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", ApiText::CardFailed))?
        .to_svg())
}

/// The customer's tier and the next, for a progress bar: `tier_name` and
/// `tier_threshold` (null at tier 0), `next_tier` (`{tier, name, threshold}`,
/// null at the top), `qualify_by` (what `qualifying_points` count: `points`
/// or `purchases`) — all null when the rules have no tiers. Names are in the
/// customer's language.
fn tier_progress_json(body: &mut Value, c: &Customer, rules: Option<&ProgramRules>) {
    let tiers = rules.and_then(|r| r.tiers.as_ref());
    let current = tiers.and_then(|t| t.level(c.tier));
    let next = tiers.and_then(|t| t.level(c.tier.saturating_add(1)).map(|l| (c.tier.saturating_add(1), l)));
    body["tier_name"] = json!(current.map(|l| l.name.get(c.language)));
    body["tier_threshold"] = json!(current.map(|l| l.threshold));
    body["next_tier"] = next.map_or(
        Value::Null,
        |(tier, l)| json!({"tier": tier, "name": l.name.get(c.language), "threshold": l.threshold}),
    );
    body["qualify_by"] = json!(tiers.map(|t| t.qualify_by));
}

/// `GET /api/v1/me`: the customer, their balance, points expiring soon, their
/// tier and the next ([`tier_progress_json`]) and their links. The tiers are
/// those of the rules of the customer's newest entry, as the client bot's
/// `/balance` names them: read with the summary's one call, the rules
/// themselves from memory once seen ([`Context::rules`]).
async fn me(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    let summary = cx.storage().customer_summary(CustomerRef::Telegram(user), 1).await?.ok_or_else(not_registered)?;
    let rules = match summary.recent.first() {
        Some(newest) => cx.rules(newest.rules_version).await,
        None => None,
    };
    let c = summary.customer;
    let client = cx.bot_username(BotKind::Client).await;
    let partner = cx.bot_username(BotKind::Partner).await;
    let mut body = customer_json(&c);
    let until = cx.now().plus(crate::program::EXPIRING_SOON_SECS);
    body["expiring_soon"] =
        summary.expiring.iter().filter(|e| e.at <= until).map(|e| json!({"points": e.points, "at": e.at.0})).collect();
    body["tier"] = json!(c.tier);
    body["qualifying_points"] = json!(summary.qualifying);
    tier_progress_json(&mut body, &c, rules.as_deref().map(|r| &r.rules));
    body["referral_link"] = json!(client.map(|b| format!("https://t.me/{b}?start=ref_{}", c.code)));
    body["card_link"] = json!(partner.map(|b| card_link(&b, c.code.as_str())));
    Ok(Reply::ok(&body))
}

fn entry_json(e: &LedgerEntry) -> Value {
    json!({
        "id": e.id.0,
        "kind": e.kind.as_str(),
        "amount": e.amount,
        "partner_id": e.partner.map(|p| p.0),
        "purchase": e.purchase,
        "reverses": e.reverses.map(|r| r.0),
        "created_at": e.created_at.0,
    })
}

/// Default and largest page sizes of `/me/transactions`.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

fn page_params(query: Option<&str>) -> ApiResult<(u32, Option<EntryId>)> {
    let invalid = |m: ApiText| bad_request("invalid_query", m);
    let pairs = parse_query(query.unwrap_or("")).ok_or_else(|| invalid(ApiText::MalformedQuery))?;
    let mut limit = DEFAULT_LIMIT;
    let mut before = None;
    // An empty value means "not given" (`?limit=&before=`).
    for (k, v) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| invalid(ApiText::InvalidLimit))?;
            }
            "before" => {
                before = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .map(EntryId)
                        .ok_or_else(|| invalid(ApiText::InvalidBefore))?,
                );
            }
            _ => {}
        }
    }
    Ok((limit, before))
}

async fn transactions(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (limit, before) = page_params(req.uri().query())?;
    let c = customer(cx, req).await?;
    let entries = cx.storage().customer_entries(EntriesPage { customer: c.id, limit, before }).await?;
    let next_before = if entries.len() >= limit as usize { entries.last().map(|e| e.id.0) } else { None };
    Ok(Reply::ok(&json!({
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        "next_before": next_before,
    })))
}

async fn card(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let c = customer(cx, req).await?;
    let svg = qr_svg(&card_link(&partner_bot(cx).await?, c.code.as_str()))?;
    let mut r = Response::new(Bytes::from(svg));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(Reply { response: r, deferred: Vec::new() })
}

/// `GET /api/v1/me/card-code`: the card's rotating code for now — its text,
/// the partner bot's deep link with it and that link as an SVG QR code — and
/// when to fetch the next ([`crate::card`]). Never cached.
async fn card_code_now(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let c = customer(cx, req).await?;
    let key = cx.card_key().ok_or_else(|| not_configured(ApiText::ClientBotNotConfigured))?;
    let shown = key.issue(&c.code, cx.now());
    let link = card_link(&partner_bot(cx).await?, &shown.text);
    let mut reply = Reply::ok(&json!({
        "code": shown.text,
        "card_code": c.code.as_str(),
        "qr_svg": qr_svg(&link)?,
        "link": link,
        "refresh_at": shown.refresh_at.0,
        "expires_at": shown.expires_at.0,
    }));
    reply.response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(reply)
}

async fn partners(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    telegram_user(cx, req.headers())?;
    let list = cx.storage().list_partners(Some(PartnerStatus::Approved)).await?;
    let partners: Vec<Value> = list
        .iter()
        .map(|p| {
            json!({
                "id": p.id.0,
                "name": p.name,
                "category": p.category,
                "earn_rate_bps": p.terms.earn_rate_bps,
                "max_redeem_share_bps": p.terms.max_redeem_share_bps,
            })
        })
        .collect();
    Ok(Reply::ok(&json!({ "partners": partners })))
}

// -------------------------------------------------------------- redemptions

fn redemption_json(v: &RedemptionView) -> Value {
    let r = &v.request;
    json!({
        "redemption": {
            "id": r.id.0,
            "status": r.status.as_str(),
            "points": r.points,
            "purchase": r.purchase,
            "partner": {"id": v.partner.id.0, "name": v.partner.name},
            "created_at": r.created_at.0,
            "expires_at": r.expires_at.0,
            "entry_id": r.entry.map(|e| e.0),
        },
        "balance": v.customer.balance,
        "replayed": v.replayed,
    })
}

fn notify(bot: BotKind, chat: TelegramUserId, text: String) -> Task {
    Task::Call(BotCall::send_message(bot, chat.0, text, None))
}

async fn answer_redemption(cx: &Context, req: &Request<Bytes>, param: Option<&str>, confirm: bool) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    let id = path_id(param).map(RedemptionId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownRedemption))?;
    let answer = AnswerRedemption { id, customer: CustomerRef::Telegram(user), now: cx.now() };
    let done = registered(usecases::answer_redemption(cx, answer, confirm).await)?;
    let view = &done.outcome;
    let mut reply = Reply::ok(&redemption_json(view));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    if !view.replayed {
        // In the Mini App the customer sees no bot message change: tell them in the chat too.
        let (c, p, r) = (&view.customer, &view.partner, &view.request);
        let t = c.language.texts();
        let text = if confirm {
            t.redemption_confirmed(Esc(&p.name), r.points, c.balance)
        } else {
            t.redemption_declined(Esc(&p.name), r.points)
        };
        reply.deferred.push(notify(BotKind::Client, c.telegram_id, text));
    }
    Ok(reply)
}

/// A request waiting for the customer's answer, as the Mini App shows it.
fn pending_json(r: &PendingRedemption) -> Value {
    json!({
        "id": r.id.0,
        "partner": {"id": r.partner.0, "name": r.partner_name},
        "points": r.points,
        "purchase": r.purchase,
        "created_at": r.created_at.0,
        "expires_at": r.expires_at.0,
    })
}

/// `GET /api/v1/me/redemptions[?wait=N]`: the customer's redemption requests
/// waiting for their answer, newest first (at most
/// [`MAX_CUSTOMER_REDEMPTIONS`](crate::ports::MAX_CUSTOMER_REDEMPTIONS)); with
/// `wait`, an empty list is read again every second for up to N seconds
/// (≤ 25) until a request arrives — a long poll for the Mini App, which
/// answers them with `POST /api/v1/redemptions/{id}/confirm|decline`.
/// Never cached.
async fn my_redemptions(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    let wait = wait_secs(req.uri().query())?;
    let read = || async {
        let ask = CustomerRedemptions { customer: CustomerRef::Telegram(user), now: cx.now() };
        registered(cx.storage().customer_redemptions(ask).await)
    };
    let pending = long_poll(cx, wait, read, |pending: &Vec<_>| !pending.is_empty()).await?;
    let mut reply = Reply::ok(&json!({ "redemptions": pending.iter().map(pending_json).collect::<Vec<_>>() }));
    reply.response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(reply)
}

/// Body of `PUT /api/v1/me/language`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageBody {
    language: String,
}

/// `PUT /api/v1/me/language` (`{"language": "ru" | "en" | "vi"}`): the
/// language of the customer's bot messages and of the Mini App; setting the
/// same again is harmless. Answers `{"language"}` as set.
async fn set_my_language(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    require_json(req.headers())?;
    let body: LanguageBody = serde_json::from_slice(req.body())
        .map_err(|e| bad_request("invalid_body", ApiText::InvalidBody(e.to_string())))?;
    let language =
        Language::parse(&body.language).ok_or_else(|| bad_request("invalid_language", ApiText::InvalidLanguage))?;
    let c = registered(cx.storage().set_language(CustomerRef::Telegram(user), language).await)?;
    Ok(Reply::ok(&json!({ "language": c.language.code() })))
}

// --------------------------------------------------------------- partner POS

/// Longest API key accepted (keys are 64 hex digits; leave room for other formats).
const MAX_API_KEY_LEN: usize = 256;
/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// The partner behind the `Authorization: Bearer <API key>` of a route only
/// a POS system calls (rate-limited per key). The Mini App's `initData` is
/// refused here (`401 api_key_required`).
async fn pos_partner(cx: &Context, headers: &HeaderMap) -> ApiResult<Partner> {
    if tma(headers).is_some() {
        return Err(unauthorized("api_key_required", ApiText::ApiKeyRequired));
    }
    let invalid = || unauthorized("invalid_api_key", ApiText::InvalidApiKey);
    let key = header(headers, AUTHORIZATION.as_str())
        .and_then(|a| a.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|k| !k.is_empty() && k.len() <= MAX_API_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(invalid)?;
    let partner = cx.storage().partner_by_api_key(&rules::hash_api_key(key)).await?.ok_or_else(invalid)?;
    rate_limit(cx, &partner).await?;
    Ok(partner)
}

/// Who calls a route that a POS system and the partner's Mini App share.
enum PosCaller {
    /// A POS system, with the partner's API key.
    Key(Partner),
    /// A person in the Mini App opened from the partner bot (`initData`
    /// signed for the partner bot): a partner's owner or one of its cashiers.
    /// Nothing is looked up first: the use case's one storage call decides,
    /// as for the partner bot's messages ([`PartnerRef::Till`]).
    App(TelegramUserId),
}

impl PosCaller {
    /// The partner at the till: the key's, or the one this person owns or is
    /// a cashier of (the till's calls record the cashier).
    fn till(&self) -> PartnerRef {
        match self {
            PosCaller::Key(p) => PartnerRef::Id(p.id),
            PosCaller::App(user) => PartnerRef::Till(*user),
        }
    }

    /// The partner itself: the key's, or the one this person owns — a
    /// cashier is no partner here ([`Rejection::UnknownPartner`]).
    fn owner(&self) -> PartnerRef {
        match self {
            PosCaller::Key(p) => PartnerRef::Id(p.id),
            PosCaller::App(user) => PartnerRef::Telegram(*user),
        }
    }

    /// The scope of the caller's `Idempotency-Key`s: `pos:<partner>` for a
    /// POS key (as before the Mini App), `app:<telegram id>` for a person.
    fn scope(&self) -> String {
        match self {
            PosCaller::Key(p) => key_scope(p),
            PosCaller::App(user) => format!("app:{}", user.0),
        }
    }
}

/// The caller of a route the POS and the partner's Mini App share: `tma
/// <initData>` signed for the partner bot, or the partner's API key.
async fn pos_caller(cx: &Context, headers: &HeaderMap) -> ApiResult<PosCaller> {
    match tma(headers) {
        Some(init_data) => app_user(cx, init_data, BotKind::Partner).map(PosCaller::App),
        None => pos_partner(cx, headers).await.map(PosCaller::Key),
    }
}

/// Counts a request with `partner`'s key in this minute's window: past
/// `POS_RATE_LIMIT`, 429 with `Retry-After` (the seconds to the next minute).
async fn rate_limit(cx: &Context, partner: &Partner) -> ApiResult<()> {
    let limit = cx.config().pos_rate_limit;
    if limit == 0 {
        return Ok(());
    }
    let now = cx.now();
    let window = Timestamp(now.0 - now.0.rem_euclid(60));
    let quota = ConsumeQuota { kind: QuotaKind::Pos, user: partner.telegram_id, day: window, limit };
    if cx.storage().consume_quota(quota).await? {
        return Ok(());
    }
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", ApiText::RateLimited(limit));
    e.retry_after = Some(window.0 + 60 - now.0);
    Err(e)
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<&str> {
    header(headers, "idempotency-key")
        .filter(|k| {
            (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.'))
        })
        .ok_or_else(|| bad_request("invalid_idempotency_key", ApiText::InvalidIdempotencyKey))
}

/// What every POS write starts with: the caller ([`pos_caller`]), the
/// `Idempotency-Key` in its scope ([`PosCaller::scope`]), and the JSON body.
async fn pos_write<T: serde::de::DeserializeOwned>(
    cx: &Context,
    req: &Request<Bytes>,
) -> ApiResult<(PosCaller, String, T)> {
    let caller = pos_caller(cx, req.headers()).await?;
    let (key, body) = pos_body(req, &caller.scope())?;
    Ok((caller, key, body))
}

/// [`pos_write`] for the routes only a POS system calls (API key only).
async fn pos_key_write<T: serde::de::DeserializeOwned>(
    cx: &Context,
    req: &Request<Bytes>,
) -> ApiResult<(Partner, String, T)> {
    let partner = pos_partner(cx, req.headers()).await?;
    let (key, body) = pos_body(req, &key_scope(&partner))?;
    Ok((partner, key, body))
}

/// The scope of a POS key's `Idempotency-Key`s: `pos:<partner>`.
fn key_scope(partner: &Partner) -> String {
    format!("pos:{}", partner.id)
}

/// A write's scoped `Idempotency-Key` and its JSON body.
fn pos_body<T: serde::de::DeserializeOwned>(req: &Request<Bytes>, scope: &str) -> ApiResult<(String, T)> {
    let key = format!("{scope}:{}", idempotency_key(req.headers())?);
    require_json(req.headers())?;
    let body = serde_json::from_slice(req.body())
        .map_err(|e| bad_request("invalid_body", ApiText::InvalidBody(e.to_string())))?;
    Ok((key, body))
}

/// A card's code as a POS or the partner's Mini App sends it: the printed
/// code, or the Mini App's rotating code while it lasts ([`crate::card`]).
fn card_code(cx: &Context, code: &str) -> ApiResult<CustomerCode> {
    cx.read_card(code).map_err(|e| match e {
        CardCodeError::Expired => ApiError::new(StatusCode::GONE, "card_code_expired", ApiText::CardCodeExpired),
        _ => bad_request("invalid_customer_code", ApiText::InvalidCustomerCode),
    })
}

/// Body of `POST /api/v1/partner/credits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditBody {
    customer_code: String,
    purchase: i64,
}

async fn credit(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (caller, idempotency_key, body) = pos_write::<CreditBody>(cx, req).await?;
    let code = card_code(cx, &body.customer_code)?;
    let now = cx.now();
    let req = CreditPurchase {
        partner: caller.till(),
        customer: CustomerRef::Code(code),
        purchase: body.purchase,
        idempotency_key,
        day_start: now.day_start(),
        now,
    };
    let done = usecases::credit(cx, req).await?;
    let (entry, customer) = (&done.outcome.entry, &done.outcome.customer);
    let mut reply = Reply::ok(&json!({
        "entry_id": entry.id.0,
        "customer_code": customer.code.as_str(),
        "purchase": entry.purchase,
        "points": entry.amount,
        "balance": customer.balance,
        "created_at": entry.created_at.0,
        "replayed": done.outcome.replayed,
        "awards": done.outcome.awards,
    }));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// Body of `POST /api/v1/partner/stamps`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StampBody {
    customer_code: String,
}

/// A customer's stamps at one partner, as the API shows them.
fn stamps_json(p: &StampProgress) -> Value {
    json!({
        "partner_id": p.card.partner.0,
        "partner_name": p.partner_name,
        "stamps": p.stamps,
        "needed": p.card.needed,
        "reward": p.card.reward,
        "completed_cards": p.completed,
    })
}

/// `POST /api/v1/partner/stamps` (`Idempotency-Key`): a stamp for the
/// customer's visit; `completed` says the card is full and its reward is due.
async fn pos_stamp(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (caller, idempotency_key, body) = pos_write::<StampBody>(cx, req).await?;
    let code = card_code(cx, &body.customer_code)?;
    let stamp = AddStamp { partner: caller.till(), customer: CustomerRef::Code(code), idempotency_key, now: cx.now() };
    let done = usecases::stamp(cx, stamp).await?;
    let s = &done.outcome;
    let mut answer = stamps_json(&s.progress);
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("customer_code".into(), json!(s.customer.code.as_str()));
        fields.insert("completed".into(), json!(s.completed));
        fields.insert("replayed".into(), json!(s.replayed));
    }
    let mut reply = Reply::ok(&answer);
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// Body of `PUT /api/v1/partner/stamp-card`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StampCardBody {
    needed: u32,
    #[serde(default)]
    reward: String,
}

/// `PUT /api/v1/partner/stamp-card`: runs or changes the stamp card
/// (`{"needed": 10, "reward": "a free coffee"}`), or ends it (`{"needed": 0}`:
/// answers `{"card": null}`). Setting the same terms again is harmless.
async fn pos_stamp_card(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    require_json(req.headers())?;
    let body: StampCardBody = serde_json::from_slice(req.body())
        .map_err(|e| bad_request("invalid_body", ApiText::InvalidBody(e.to_string())))?;
    if body.needed != 0 {
        check_card(body.needed, &body.reward)
            .map_err(|reason| ApiError::rejection(&Rejection::InvalidStampCard { reason }))?;
    }
    let set =
        SetStampCard { partner: PartnerRef::Id(partner.id), needed: body.needed, reward: body.reward, now: cx.now() };
    Ok(Reply::ok(&json!({ "card": cx.storage().set_stamp_card(set).await? })))
}

/// `GET /api/v1/me/stamps`: the customer's stamps at every partner running a card.
async fn my_stamps(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    let found = registered(cx.storage().stamp_cards(CustomerRef::Telegram(user)).await)?;
    Ok(Reply::ok(&json!({ "cards": found.iter().map(stamps_json).collect::<Vec<_>>() })))
}

/// `GET /api/v1/partner/customers/{code}`: the customer behind a card, as the
/// POS shows it before a credit or a redemption. The partner's key is looked
/// up, then one call checks the partner and finds the customer.
async fn pos_customer(cx: &Context, req: &Request<Bytes>, code: &str) -> ApiResult<Reply> {
    let caller = pos_caller(cx, req.headers()).await?;
    let code = card_code(cx, code)?;
    let card = cx
        .storage()
        .look_up_customer(LookUpCustomer { partner: caller.till(), customer: CustomerRef::Code(code) })
        .await?;
    let c = &card.customer;
    Ok(Reply::ok(&json!({
        "customer_code": c.code.as_str(),
        "first_name": c.first_name,
        "balance": c.balance,
        "blocked": c.blocked,
        "tier": c.tier,
        "stamps": card.stamps.as_ref().map(stamps_json),
    })))
}

/// Body of `POST /api/v1/partner/reversals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReversalBody {
    entry_id: i64,
}

/// `POST /api/v1/partner/reversals`: reverses one of the partner's own
/// credits or redemptions, within the reversal window; idempotent by key.
async fn pos_reverse(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (caller, idempotency_key, body) = pos_write::<ReversalBody>(cx, req).await?;
    let now = cx.now();
    let reverse = ReverseEntry {
        entry: EntryId(body.entry_id),
        partner: caller.owner(),
        idempotency_key,
        not_before: now.plus(-rules::REVERSAL_WINDOW_SECS),
        now,
    };
    let done = usecases::reverse(cx, reverse).await?;
    let r = &done.outcome;
    let mut reply = Reply::ok(&json!({
        "entry_id": r.reversal.id.0,
        "reverses": r.original.id.0,
        "customer_code": r.customer.code.as_str(),
        "points": r.reversal.amount,
        "balance": r.customer.balance,
        "created_at": r.reversal.created_at.0,
        "replayed": r.replayed,
    }));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// Body of `POST /api/v1/partner/redemptions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedemptionBody {
    customer_code: String,
    points: i64,
    purchase: i64,
}

/// `POST /api/v1/partner/redemptions`: asks the customer (in the client bot)
/// to pay `points` of a purchase; nothing moves until they confirm. Idempotent
/// by key: a replay answers the request as it is now.
async fn pos_redeem(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (caller, idempotency_key, body) = pos_write::<RedemptionBody>(cx, req).await?;
    let code = card_code(cx, &body.customer_code)?;
    let now = cx.now();
    let open = OpenRedemption {
        partner: caller.till(),
        customer: CustomerRef::Code(code),
        points: body.points,
        purchase: body.purchase,
        idempotency_key,
        now,
        expires_at: now.plus(rules::REDEMPTION_TTL_SECS),
    };
    let done = usecases::open_redemption(cx, open).await?;
    let mut reply = Reply::ok(&redemption_json(&done.outcome));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// The longest `?wait=` of a long poll (`GET /api/v1/partner/redemptions/{id}`,
/// `GET /api/v1/me/redemptions`), in seconds.
const MAX_WAIT_SECS: u32 = 25;

/// A long poll's `?wait=N`: 0 to [`MAX_WAIT_SECS`] seconds (0 when absent or
/// empty); anything else is `400 invalid_query`.
fn wait_secs(query: Option<&str>) -> ApiResult<u32> {
    let pairs =
        parse_query(query.unwrap_or("")).ok_or_else(|| bad_request("invalid_query", ApiText::MalformedQuery))?;
    match pairs.iter().find(|(k, v)| k == "wait" && !v.is_empty()) {
        Some((_, v)) => v.parse::<u32>().ok().filter(|n| *n <= MAX_WAIT_SECS).ok_or_else(|| {
            bad_request("invalid_query", ApiText::InvalidParameter("wait", "a whole number of seconds from 0 to 25"))
        }),
        None => Ok(0),
    }
}

/// `GET /api/v1/partner/redemptions/{id}[?wait=N]`: the partner's request as
/// it is now; with `wait`, a pending one is read again every second for up to
/// N seconds (≤ 25) until the customer answers — a long poll for the POS. A
/// pending request past its time reads as `expired`.
async fn pos_redemption(cx: &Context, req: &Request<Bytes>, param: Option<&str>) -> ApiResult<Reply> {
    let caller = pos_caller(cx, req.headers()).await?;
    let id = path_id(param).map(RedemptionId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownRedemption))?;
    let wait = wait_secs(req.uri().query())?;
    let view = ViewRedemption { partner: caller.till(), id };
    let read = || async {
        let mut found = cx
            .storage()
            .redemption(view.clone())
            .await?
            .ok_or_else(|| ApiError::rejection(&Rejection::UnknownRedemption))?;
        let pending = found.request.status == RedemptionStatus::Pending;
        if pending && cx.now() > found.request.expires_at {
            found.request.status = RedemptionStatus::Expired;
        }
        Ok(found)
    };
    let answered = |found: &RedemptionView| found.request.status != RedemptionStatus::Pending;
    Ok(Reply::ok(&redemption_json(&long_poll(cx, wait, read, answered).await?)))
}

/// The long polls' loop: `read` now and then once a second until `done` holds
/// of what it read or `wait` seconds have passed; answers the last reading.
async fn long_poll<T, Read, Reading>(cx: &Context, wait: u32, read: Read, done: impl Fn(&T) -> bool) -> ApiResult<T>
where
    Read: Fn() -> Reading,
    Reading: std::future::Future<Output = ApiResult<T>>,
{
    let mut polls = 0;
    loop {
        let found = read().await?;
        if done(&found) || polls >= wait {
            return Ok(found);
        }
        polls += 1;
        cx.sleep_millis(1_000).await;
    }
}

/// `GET /api/v1/partner/entries?before=&limit=`: the entries made at the
/// partner, newest first, page after page (`next_before`): credits,
/// redemptions, reversals, vouchers' payments and refunds.
async fn pos_entries(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (limit, before) = page_params(req.uri().query())?;
    let caller = pos_caller(cx, req.headers()).await?;
    let page = PartnerEntriesPage { partner: caller.owner(), before, limit };
    let entries = cx.storage().partner_entries(page).await?;
    let next_before = if entries.len() >= limit as usize { entries.last().map(|e| e.id.0) } else { None };
    let with_customer = |e: &LedgerEntry| {
        let mut v = entry_json(e);
        v["customer_id"] = json!(e.customer.0);
        v["cashier_id"] = json!(e.cashier.map(|s| s.0));
        v
    };
    Ok(Reply::ok(&json!({
        "entries": entries.iter().map(with_customer).collect::<Vec<_>>(),
        "next_before": next_before,
    })))
}

/// `DELETE /api/v1/partner/key`: the key in use stops working (a leaked key
/// is killed by whoever holds it); the partner bot's `/apikey` makes a new one.
async fn pos_revoke_key(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let p = cx.storage().set_partner_api_key(PartnerRef::Id(partner.id), None).await?;
    Ok(Reply::ok(&json!({ "revoked": !p.has_api_key })))
}

/// A staff member as the API shows them (never their invitation's token).
fn staff_json(s: &Staff, now: Timestamp) -> Value {
    json!({
        "id": s.id.0,
        "name": s.name,
        "telegram_id": s.telegram_id.map(|t| t.0),
        "status": s.status(now),
        "invited_at": s.invited_at.0,
        "expires_at": s.expires_at.0,
        "joined_at": s.joined_at.map(|t| t.0),
        "revoked_at": s.revoked_at.map(|t| t.0),
    })
}

/// `GET /api/v1/partner/staff`: the partner's active cashiers first, then
/// invitations and revoked cashiers, each newest first (the ids that entries'
/// `cashier_id` name). Invitations are made in the partner bot (`/staff invite`).
async fn pos_staff(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let staff = cx.storage().staff(PartnerRef::Id(partner.id)).await?;
    let now = cx.now();
    Ok(Reply::ok(&json!({ "staff": staff.iter().map(|s| staff_json(s, now)).collect::<Vec<_>>() })))
}

/// `DELETE /api/v1/partner/staff/{id}`: the cashier (or invitation) loses
/// access at once; revoking again answers the same. The cashier is told.
async fn pos_revoke_staff(cx: &Context, req: &Request<Bytes>, param: Option<&str>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let id = path_id(param).map(StaffId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownStaff))?;
    let revoke = RevokeStaff { partner: PartnerRef::Id(partner.id), staff: id, now: cx.now() };
    let done = usecases::revoke_staff(cx, revoke).await?;
    let mut reply = Reply::ok(&json!({
        "staff": staff_json(&done.outcome.staff, cx.now()),
        "replayed": done.outcome.replayed,
    }));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// An endpoint as the API shows it: never its secret ([`webhook_with_secret`]
/// adds it to the answer that registers it).
fn webhook_json(w: &Webhook) -> Value {
    json!({
        "id": w.id.0,
        "url": w.url,
        "events": w.events,
        "created_at": w.created_at.0,
        "removed_at": w.removed_at.map(|t| t.0),
        "last_attempt_at": w.last_attempt_at.map(|t| t.0),
        "last_status": w.last_status,
        "last_error": w.last_error,
        "last_success_at": w.last_success_at.map(|t| t.0),
    })
}

/// [`webhook_json`] with the signing secret: only for the answer to its registration.
fn webhook_with_secret(w: &Webhook) -> Value {
    let mut v = webhook_json(w);
    v["secret"] = json!(w.secret);
    v
}

/// The partner behind the POS key, as a webhook owner.
fn pos_webhook_owner(partner: &Partner) -> WebhookOwner {
    WebhookOwner::Partner(PartnerRef::Id(partner.id))
}

/// `GET /api/v1/partner/webhooks`: the partner's endpoints not removed,
/// newest first, with how their last delivery went — without their secrets.
async fn pos_webhooks(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let endpoints = cx.storage().webhooks(pos_webhook_owner(&partner)).await?;
    Ok(Reply::ok(&json!({ "webhooks": endpoints.iter().map(webhook_json).collect::<Vec<_>>() })))
}

/// Body of `POST /api/v1/partner/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    events: Vec<String>,
}

/// `POST /api/v1/partner/webhooks` (`Idempotency-Key`, required as for every
/// POS write): registers an endpoint for events of the partner's own
/// business; `201` with the endpoint and its signing secret — the answer
/// that shows it.
///
/// The key is the partner's (as every POS write's): the same key again with
/// the same URL and the same events (in any order) answers the endpoint it
/// registered — even removed since — with its secret and `replayed: true`,
/// adding nothing (concurrent retries too); with another URL or other events
/// it is `409 idempotency_conflict`. Only a new key is checked against the
/// limit.
async fn pos_new_webhook(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (partner, key, body) = pos_key_write::<WebhookBody>(cx, req).await?;
    let events = body
        .events
        .iter()
        .map(|name| {
            WebhookEvent::parse(name).ok_or_else(|| {
                ApiError::rejection(&Rejection::InvalidWebhook { reason: format!("unknown event: {name}") })
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let added = usecases::add_webhook(cx, pos_webhook_owner(&partner), &body.url, events, key).await?;
    Ok(Reply::json(
        StatusCode::CREATED,
        &json!({ "webhook": webhook_with_secret(&added.webhook), "replayed": added.replayed }),
    ))
}

/// `DELETE /api/v1/partner/webhooks/{id}`: the endpoint receives nothing
/// more (what is being retried to it is given up); removing again answers it
/// as it is. Another partner's is `404 unknown_webhook`.
async fn pos_remove_webhook(cx: &Context, req: &Request<Bytes>, param: Option<&str>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let id = path_id(param).map(WebhookId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownWebhook))?;
    let remove = RemoveWebhook { owner: pos_webhook_owner(&partner), id, now: cx.now() };
    let removed = cx.storage().remove_webhook(remove).await?;
    Ok(Reply::ok(&json!({ "webhook": webhook_json(&removed) })))
}

/// The days of a chart: `?days=N` (1 to [`MAX_FIGURE_DAYS`], default 30),
/// ending today (UTC).
fn figure_days(cx: &Context, query: Option<&str>) -> ApiResult<(Timestamp, u32)> {
    let invalid = || bad_request("invalid_query", ApiText::InvalidParameter("days", "a whole number from 1 to 92"));
    let pairs =
        parse_query(query.unwrap_or("")).ok_or_else(|| bad_request("invalid_query", ApiText::MalformedQuery))?;
    let days = match pairs.iter().find(|(k, v)| k == "days" && !v.is_empty()) {
        Some((_, v)) => v.parse::<u32>().ok().filter(|n| (1..=MAX_FIGURE_DAYS).contains(n)).ok_or_else(invalid)?,
        None => DEFAULT_FIGURE_DAYS,
    };
    let today = cx.now().day_start();
    Ok((today.plus(-(i64::from(days) - 1) * 86_400), days))
}

/// Days of a chart when `?days=` is not given.
const DEFAULT_FIGURE_DAYS: u32 = 30;

fn days_json(days: &[DayFigures]) -> Value {
    days.iter().map(|d| json!({"day": d.day.0, "issued": d.issued, "redeemed": d.redeemed})).collect()
}

/// `GET /api/v1/partner/figures?days=30`: points issued and redeemed at the
/// partner day by day, oldest first, today last (the owner's chart; one
/// storage call).
async fn pos_figures(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let caller = pos_caller(cx, req.headers()).await?;
    let (from, days) = figure_days(cx, req.uri().query())?;
    let figures = DailyFigures { scope: FiguresScope::Partner(caller.owner()), from, days };
    let found = cx.storage().daily_figures(figures).await?;
    Ok(Reply::ok(&json!({ "days": days_json(&found) })))
}

/// `GET /api/v1/admin/figures?days=30`: the program's figures now — the
/// outstanding liability, what expires within 30 and 90 days, customers,
/// partners, today's figures — and points issued and redeemed over all
/// partners day by day (the admin's chart). The admin's Mini App may call it.
async fn admin_figures(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    admin_or_app(cx, req.headers()).await?;
    let (from, days) = figure_days(cx, req.uri().query())?;
    let stats = cx.storage().program_stats(cx.now().day_start()).await?;
    let found = cx.storage().daily_figures(DailyFigures { scope: FiguresScope::Program, from, days }).await?;
    Ok(Reply::ok(&json!({ "program": stats, "days": days_json(&found) })))
}

/// `GET /api/v1/partner/summary`: the partner's figures for today and the
/// last 7 days (UTC), as the partner bot's `/stats` shows them.
async fn pos_summary(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let caller = pos_caller(cx, req.headers()).await?;
    let today = cx.now().day_start();
    let stats = cx.storage().partner_stats(caller.owner(), today, today.plus(-6 * 86_400)).await?;
    Ok(Reply::ok(&json!({ "today": stats.today, "week": stats.week })))
}

/// `GET /api/v1/partner/campaigns`: the partner's campaigns, newest first,
/// with what each paid of its budget.
async fn pos_campaigns(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let list = ListCampaigns { partner: Some(PartnerRef::Id(partner.id)), limit: crate::ports::MAX_CAMPAIGNS_LISTED };
    let campaigns = cx.storage().campaigns(list).await?;
    Ok(Reply::ok(&json!({ "campaigns": campaigns })))
}

/// `POST /api/v1/partner/campaigns` (`Idempotency-Key`): a campaign at the
/// partner's place (a campaign document, as the partner bot's `/campaign`
/// takes); it waits for an admin unless the rules say otherwise. The same key
/// again answers the campaign it made.
async fn pos_new_campaign(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let key = format!("{}:{}", key_scope(&partner), idempotency_key(req.headers())?);
    let terms = campaign_document(req)?;
    let by = CampaignActor::Partner(PartnerRef::Id(partner.id));
    let create = CreateCampaign { terms, by, now: cx.now(), idempotency_key: Some(key) };
    let done = usecases::create_campaign(cx, create).await?;
    let mut reply = Reply::json(StatusCode::CREATED, &json!(done.outcome));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

// ---------------------------------------------------------------- birthdays

/// Body of `PUT /api/v1/me/birthday`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BirthdayBody {
    month: u8,
    day: u8,
}

/// `PUT /api/v1/me/birthday`: the customer's birthday, set once.
async fn set_birthday(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    require_json(req.headers())?;
    let body: BirthdayBody = serde_json::from_slice(req.body())
        .map_err(|e| bad_request("invalid_body", ApiText::InvalidBody(e.to_string())))?;
    let birthday = Birthday::new(body.month, body.day).ok_or_else(|| ApiError::rejection(&Rejection::InvalidAmount))?;
    let set = SetBirthday { customer: CustomerRef::Telegram(user), birthday, now: cx.now() };
    let b = registered(cx.storage().set_birthday(set).await)?;
    Ok(Reply::ok(&json!(b)))
}

/// `GET /api/v1/me/data`: everything the program holds about the customer
/// (the storage's `PersonalData`, as is).
async fn my_data(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    match cx.storage().personal_data(CustomerRef::Telegram(user)).await? {
        Some(data) => Ok(Reply::ok(&json!(data))),
        None => Err(not_registered()),
    }
}

/// Body of `POST /api/v1/me/erase` and `POST /api/v1/admin/customers/{code}/erase`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseBody {
    /// Must be `true`: erasure cannot be undone.
    confirm: bool,
}

/// The body of an erasure: `{"confirm": true}`, or a 400.
fn erase_confirmed(req: &Request<Bytes>) -> ApiResult<()> {
    require_json(req.headers())?;
    let body: EraseBody = serde_json::from_slice(req.body())
        .map_err(|e| bad_request("invalid_body", ApiText::InvalidBody(e.to_string())))?;
    if body.confirm {
        Ok(())
    } else {
        Err(bad_request("invalid_body", ApiText::InvalidBody("confirm must be true: erasure cannot be undone".into())))
    }
}

/// `POST /api/v1/me/erase` with `{"confirm": true}`: erases the customer's
/// personal data, keeping an anonymised record of the points. Afterwards the
/// same Telegram user is not registered (404), so a retry answers that.
async fn erase_me(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    erase_confirmed(req)?;
    let erase = EraseCustomer { who: CustomerRef::Telegram(user), admin: None, now: cx.now() };
    let erased = registered(cx.storage().erase_customer(erase).await)?;
    Ok(Reply::ok(&json!({ "erased": true, "tombstone": erased.customer.id })))
}

// --------------------------------------------------------------------- admin

/// The actor of the admin routes: the operator's token, not a Telegram user (id 0).
const API_ADMIN: TelegramUserId = TelegramUserId(0);

/// Checks `Authorization: Bearer <ADMIN_API_TOKEN>` ([`Secret::matches_bearer`](crate::Secret::matches_bearer)).
fn admin(cx: &Context, headers: &HeaderMap) -> ApiResult<()> {
    let token = cx
        .config()
        .admin_api_token
        .as_ref()
        .ok_or_else(|| not_configured(ApiText::NotConfigured("ADMIN_API_TOKEN")))?;
    if token.matches_bearer(header(headers, AUTHORIZATION.as_str())) {
        Ok(())
    } else {
        Err(unauthorized("invalid_admin_token", ApiText::InvalidAdminToken))
    }
}

/// An admin route the admin's Mini App may call too: the `ADMIN_API_TOKEN`,
/// or `tma <initData>` signed for the admin bot by one of the program's
/// admins ([`Context::is_admin`]; `403 not_admin` for anyone else).
async fn admin_or_app(cx: &Context, headers: &HeaderMap) -> ApiResult<()> {
    let Some(init_data) = tma(headers) else { return admin(cx, headers) };
    let user = app_user(cx, init_data, BotKind::Admin)?;
    match cx.is_admin(user).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::new(StatusCode::FORBIDDEN, "not_admin", ApiText::NotAdmin)),
        Err(_) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", ApiText::Unavailable)),
    }
}

/// `GET /api/v1/admin/rules`: the rules in force; `PUT`: a new version (the
/// body is the document, as `/rules` and `loyalty rules set` take it).
async fn admin_rules(cx: &Context, req: &Request<Bytes>, set: bool) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let version = if set {
        let rules = ProgramRules::from_json(json_text(req)?)
            .map_err(|reason| ApiError::rejection(&Rejection::InvalidRules { reason }))?;
        cx.storage().set_program_rules(SetProgramRules { rules, admin: None, now: cx.now() }).await?
    } else {
        cx.storage().program_rules().await?
    };
    cx.remember_rules(&version);
    Ok(Reply::ok(&json!(version)))
}

/// `GET /api/v1/admin/campaigns`: every campaign, newest first (at most 100).
async fn admin_campaigns(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let list = ListCampaigns { partner: None, limit: crate::ports::MAX_CAMPAIGNS_LISTED };
    Ok(Reply::ok(&json!({ "campaigns": cx.storage().campaigns(list).await? })))
}

/// `POST /api/v1/admin/campaigns`: a campaign (it runs at once); with an
/// `Idempotency-Key`, the same key again answers the campaign it made.
async fn admin_new_campaign(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let key = match header(req.headers(), "idempotency-key") {
        Some(_) => Some(format!("admin:{}", idempotency_key(req.headers())?)),
        None => None,
    };
    let terms = campaign_document(req)?;
    let create = CreateCampaign { terms, by: CampaignActor::Admin(API_ADMIN), now: cx.now(), idempotency_key: key };
    let done = usecases::create_campaign(cx, create).await?;
    Ok(Reply::json(StatusCode::CREATED, &json!(done.outcome)))
}

/// `POST /api/v1/admin/campaigns/{id}/approve|reject|end`.
async fn admin_decide(
    cx: &Context,
    req: &Request<Bytes>,
    param: Option<&str>,
    decision: CampaignDecision,
) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let id = path_id(param)
        .map(crate::domain::CampaignId)
        .ok_or_else(|| ApiError::rejection(&Rejection::UnknownCampaign))?;
    let req = DecideCampaign { campaign: id, decision, by: CampaignActor::Admin(API_ADMIN), now: cx.now() };
    Ok(Reply::ok(&json!(cx.storage().decide_campaign(req).await?)))
}

// ------------------------------------------------------------------ rewards

/// Rewards per page when `limit` is not given.
const DEFAULT_REWARDS_LIMIT: u32 = 20;

/// The `?partner=&category=&status=&after=&limit=` of a rewards listing; each
/// given parameter must be valid.
fn rewards_query(query: Option<&str>, claimable_at: Option<Timestamp>) -> ApiResult<ListRewards> {
    let pairs =
        parse_query(query.unwrap_or("")).ok_or_else(|| bad_request("invalid_query", ApiText::MalformedQuery))?;
    let invalid =
        |name: &'static str, range: &'static str| bad_request("invalid_query", ApiText::InvalidParameter(name, range));
    let positive = |v: &str| v.parse::<i64>().ok().filter(|n| *n > 0);
    let mut list = ListRewards {
        partner: None,
        category: None,
        claimable_at,
        status: None,
        after: None,
        limit: DEFAULT_REWARDS_LIMIT,
    };
    for (k, v) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
        match k.as_str() {
            "partner" => {
                let id = positive(&v).ok_or_else(|| invalid("partner", "a partner id"))?;
                list.partner = Some(PartnerRef::Id(PartnerId(id)));
            }
            "category" if is_category(&v) => list.category = Some(v),
            "category" => return Err(invalid("category", "1 to 24 of a-z, 0-9, '-' and '_'")),
            "after" => list.after = Some(RewardId(positive(&v).ok_or_else(|| invalid("after", "a reward id"))?)),
            "limit" => {
                list.limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_REWARDS_LISTED).contains(n))
                    .ok_or_else(|| invalid("limit", "1 to 50"))?;
            }
            "status" if claimable_at.is_none() => {
                list.status = Some(
                    serde_json::from_value(Value::String(v))
                        .map_err(|_| invalid("status", "pending, active, rejected or withdrawn"))?,
                );
            }
            _ => {}
        }
    }
    Ok(list)
}

/// A page of rewards with the cursor of the next (`null` on the last page).
fn rewards_page(list: &[Reward], limit: u32) -> Value {
    let next_after = if list.len() >= limit as usize { list.last().map(|r| r.id.0) } else { None };
    json!({ "rewards": list, "next_after": next_after })
}

/// A voucher as the API shows it, to the customer or to the partner's POS.
fn voucher_json(v: &VoucherView) -> Value {
    json!({
        "voucher": v.voucher,
        "reward": v.reward,
        "customer": {"code": v.customer.code.as_str(), "first_name": v.customer.first_name},
        "balance": v.customer.balance,
        "replayed": v.replayed,
    })
}

/// `GET /api/v1/rewards`: what the customer may claim now, by id, by partner
/// or category, page after page (`after`).
async fn rewards(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    telegram_user(cx, req.headers())?;
    let list = rewards_query(req.uri().query(), Some(cx.now()))?;
    let limit = list.limit;
    Ok(Reply::ok(&rewards_page(&cx.storage().rewards(list).await?, limit)))
}

/// `POST /api/v1/rewards/{id}/claim`: pays the price, answers the voucher.
/// `Idempotency-Key` is required (scoped to the customer): a retry answers the
/// same voucher.
async fn claim_reward(cx: &Context, req: &Request<Bytes>, param: Option<&str>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    let key = format!("mini:{}:{}", user.0, idempotency_key(req.headers())?);
    let id = path_id(param).map(RewardId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownReward))?;
    let done = registered(usecases::claim_reward(cx, CustomerRef::Telegram(user), id, key).await)?;
    Ok(Reply::ok(&voucher_json(&done.outcome)))
}

/// `GET /api/v1/me/vouchers?status=`: the customer's vouchers, newest first.
async fn my_vouchers(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    let pairs = parse_query(req.uri().query().unwrap_or(""))
        .ok_or_else(|| bad_request("invalid_query", ApiText::MalformedQuery))?;
    let mut status = None;
    for (_, v) in pairs.into_iter().filter(|(k, v)| k == "status" && !v.is_empty()) {
        status = Some(serde_json::from_value(Value::String(v)).map_err(|_| {
            bad_request("invalid_query", ApiText::InvalidParameter("status", "issued, used or cancelled"))
        })?);
    }
    let list = ListVouchers { customer: CustomerRef::Telegram(user), status, limit: MAX_VOUCHERS_LISTED };
    let found = registered(cx.storage().vouchers(list).await)?;
    Ok(Reply::ok(&json!({ "vouchers": found.iter().map(voucher_json).collect::<Vec<_>>() })))
}

/// `POST /api/v1/me/vouchers/{id}/cancel`: the price back; cancelling again
/// answers the same (`replayed`).
async fn cancel_voucher(cx: &Context, req: &Request<Bytes>, param: Option<&str>) -> ApiResult<Reply> {
    let user = telegram_user(cx, req.headers())?;
    let id = path_id(param).map(VoucherId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownVoucher))?;
    let cancel = CancelVoucher { customer: CustomerRef::Telegram(user), voucher: id, now: cx.now() };
    let v = registered(cx.storage().cancel_voucher(cancel).await)?;
    Ok(Reply::ok(&voucher_json(&v)))
}

/// `GET /api/v1/partner/rewards`: the partner's rewards, whatever their status.
async fn pos_rewards(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let mut list = rewards_query(req.uri().query(), None)?;
    list.partner = Some(PartnerRef::Id(partner.id));
    let limit = list.limit;
    Ok(Reply::ok(&rewards_page(&cx.storage().rewards(list).await?, limit)))
}

/// `POST /api/v1/partner/rewards`: publishes a reward (the body is its offer);
/// idempotent by `Idempotency-Key`.
async fn pos_new_reward(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let (partner, idempotency_key, offer) = pos_key_write::<RewardOffer>(cx, req).await?;
    offer.check().map_err(|reason| ApiError::rejection(&Rejection::InvalidReward { reason }))?;
    let publish = PublishReward { partner: PartnerRef::Id(partner.id), offer, idempotency_key, now: cx.now() };
    let done = usecases::publish_reward(cx, publish).await?;
    let mut reply = Reply::json(StatusCode::CREATED, &json!(done.outcome));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// `POST /api/v1/partner/rewards/{id}/withdraw`: takes the partner's reward off.
async fn pos_withdraw_reward(cx: &Context, req: &Request<Bytes>, param: Option<&str>) -> ApiResult<Reply> {
    let partner = pos_partner(cx, req.headers()).await?;
    let id = path_id(param).map(RewardId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownReward))?;
    let by = CampaignActor::Partner(PartnerRef::Id(partner.id));
    let decide = DecideReward { reward: id, decision: RewardDecision::Withdraw, by, now: cx.now() };
    Ok(Reply::ok(&json!(usecases::decide_reward(cx, decide).await?.outcome.reward)))
}

/// `POST /api/v1/partner/vouchers/{code}/use`: accepts a customer's voucher
/// (the customer is told). Using it again answers it with `replayed: true`
/// and its `closed_at`: hand the reward over only when `replayed` is false.
async fn pos_use_voucher(cx: &Context, req: &Request<Bytes>, code: &str) -> ApiResult<Reply> {
    let caller = pos_caller(cx, req.headers()).await?;
    let code = parse_voucher_code(code)
        .ok_or_else(|| bad_request("invalid_voucher_code", ApiText::InvalidParameter("code", "a voucher code")))?;
    let done = usecases::use_voucher(cx, UseVoucher { partner: caller.till(), code, now: cx.now() }).await?;
    let mut reply = Reply::ok(&voucher_json(&done.outcome));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// `GET /api/v1/admin/rewards?status=`: every reward (or those with a status).
async fn admin_rewards(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let list = rewards_query(req.uri().query(), None)?;
    let limit = list.limit;
    Ok(Reply::ok(&rewards_page(&cx.storage().rewards(list).await?, limit)))
}

/// `POST /api/v1/admin/rewards/{id}/approve|reject|withdraw` (the partner is told).
async fn admin_decide_reward(
    cx: &Context,
    req: &Request<Bytes>,
    param: Option<&str>,
    decision: RewardDecision,
) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let id = path_id(param).map(RewardId).ok_or_else(|| ApiError::rejection(&Rejection::UnknownReward))?;
    let decide = DecideReward { reward: id, decision, by: CampaignActor::Admin(API_ADMIN), now: cx.now() };
    let done = usecases::decide_reward(cx, decide).await?;
    let mut reply = Reply::ok(&json!(done.outcome.reward));
    reply.deferred.extend(done.notices.into_iter().map(Task::Call));
    Ok(reply)
}

/// `GET /api/v1/admin/audit?limit=&before=`: the audit log, newest first.
async fn admin_audit(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let (limit, before) = page_params(req.uri().query())?;
    let records = cx.storage().audit_log(AuditPage { before: before.map(|e| e.0), limit }).await?;
    let next_before = if records.len() >= limit as usize { records.last().map(|r| r.id) } else { None };
    Ok(Reply::ok(&json!({ "records": records, "next_before": next_before })))
}

/// `POST /api/v1/admin/customers/{code}/erase` with `{"confirm": true}`:
/// erases a customer's personal data on their request; again, `replayed`.
async fn admin_erase(cx: &Context, req: &Request<Bytes>, code: &str) -> ApiResult<Reply> {
    admin(cx, req.headers())?;
    let code = card_code(cx, code)?;
    erase_confirmed(req)?;
    let erase = EraseCustomer { who: CustomerRef::Code(code), admin: Some(API_ADMIN), now: cx.now() };
    let erased = cx.storage().erase_customer(erase).await?;
    Ok(Reply::ok(&json!({ "tombstone": erased.customer.id, "replayed": erased.replayed })))
}

// -------------------------------------------------------------------- Sentry

async fn sentry_hook(cx: &Context, req: &Request<Bytes>) -> ApiResult<Reply> {
    let config = cx.config();
    let secret = config
        .sentry_webhook_secret
        .as_ref()
        .ok_or_else(|| not_configured(ApiText::NotConfigured("SENTRY_WEBHOOK_SECRET")))?;
    let signature = header(req.headers(), "sentry-hook-signature").unwrap_or("");
    if !sentry::verify_signature(secret.expose(), req.body(), signature) {
        return Err(unauthorized("invalid_signature", ApiText::InvalidSignature));
    }
    let resource = header(req.headers(), "sentry-hook-resource").unwrap_or("");
    if !sentry::ALERT_RESOURCES.contains(&resource) {
        return Ok(Reply::ok(&json!({"status": "ignored"})));
    }
    if config.bot_token(BotKind::Alerts).is_err() {
        return Err(not_configured(ApiText::AlertBotNotConfigured));
    }
    let Some(chat) = config.sentry_alert_chat_id else {
        return Err(not_configured(ApiText::NotConfigured("SENTRY_ALERT_CHAT_ID")));
    };
    require_json(req.headers())?;
    let payload: Value =
        serde_json::from_slice(req.body()).map_err(|_| bad_request("invalid_body", ApiText::BodyNotJson))?;
    let Some(alert) = sentry::Alert::from_payload(resource, &payload) else {
        return Ok(Reply::ok(&json!({"status": "ignored"})));
    };
    let mut reply = Reply::json(StatusCode::ACCEPTED, &json!({"status": "queued"}));
    reply.deferred.push(Task::Call(BotCall::send_message(BotKind::Alerts, chat, alert.to_html(), None)));
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_params_validate() {
        assert_eq!(page_params(None).unwrap(), (20, None));
        assert_eq!(page_params(Some("limit=&before=")).unwrap(), (20, None));
        assert_eq!(page_params(Some("limit=100&before=7&x=1")).unwrap(), (100, Some(EntryId(7))));
        for q in ["limit=0", "limit=101", "limit=abc", "limit= ", "limit=-1", "before=0", "before=x", "limit=%FF"] {
            let e = page_params(Some(q)).unwrap_err();
            assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "invalid_query"), "{q}");
        }
    }

    #[test]
    fn idempotency_keys() {
        let mut h = HeaderMap::new();
        assert!(idempotency_key(&h).is_err());
        for ok in ["a", "order-1:2.3_x", &"k".repeat(128)] {
            h.insert("idempotency-key", HeaderValue::from_str(ok).unwrap());
            assert_eq!(idempotency_key(&h).unwrap(), ok);
        }
        for bad in ["has space", "slash/", &"k".repeat(129), "ünï"] {
            h.insert("idempotency-key", HeaderValue::from_bytes(bad.as_bytes()).unwrap());
            assert!(idempotency_key(&h).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_type() {
        let mut h = HeaderMap::new();
        assert!(require_json(&h).is_err());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("Application/JSON; charset=utf-8"));
        assert!(require_json(&h).is_ok());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(require_json(&h).unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
