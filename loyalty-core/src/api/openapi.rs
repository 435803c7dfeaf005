//! The OpenAPI 3.1 description of the API, served at `GET /api/v1/openapi.json`.
//! A test checks that its paths and methods are exactly [`super::ROUTES`].

use serde_json::{Value, json};

fn error_responses(codes: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    for (status, description) in codes {
        m.insert(
            (*status).to_string(),
            json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Value::Object(m)
}

fn with(mut responses: Value, status: &str, response: Value) -> Value {
    if let Some(m) = responses.as_object_mut() {
        m.insert(status.to_string(), response);
    }
    responses
}

fn json_ok(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// Errors every customer endpoint may answer.
const CUSTOMER_ERRORS: &[(&str, &str)] = &[
    ("401", "Missing or invalid `initData` (code `missing_auth` or `invalid_init_data`)."),
    ("404", "The user has not started the bot yet (`not_registered`)."),
    ("500", "Permanent server failure (`internal`)."),
    ("503", "Temporary failure (`unavailable`) or the client bot is not configured (`not_configured`)."),
];

fn redemption_answer(summary: &str, description: &str) -> Value {
    json!({
        "summary": summary,
        "description": description,
        "tags": ["customer"],
        "security": [{"tma": []}],
        "parameters": [{"name": "id", "in": "path", "required": true, "description": "Redemption request id.",
                        "schema": {"type": "integer", "format": "int64", "minimum": 1}}],
        "responses": with(
            error_responses(&[
                ("401", "Missing or invalid `initData`."),
                ("403", "The request belongs to someone else (`not_your_redemption`) or the customer is blocked (`customer_blocked`)."),
                ("404", "Unknown request (`unknown_redemption`) or unregistered user (`not_registered`)."),
                ("409", "Already answered (`redemption_closed`) or not enough points (`insufficient_balance`)."),
                ("410", "The request expired (`redemption_expired`)."),
                ("500", "Permanent server failure."),
                ("503", "Temporary failure; retry."),
            ]),
            "200",
            json_ok("The request after the answer. Repeating an answer returns the same result with `replayed: true`.", "RedemptionAnswer"),
        ),
    })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "loyalty-core API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "REST API of the loyalty program: the customers' Mini App / web front end, partners' POS systems and the Sentry alert webhook. Every error is `{\"error\": {\"code\", \"message\"}}`.",
        },
        "tags": [
            {"name": "system"}, {"name": "customer"}, {"name": "partner"}, {"name": "hooks"}
        ],
        "paths": {
            "/health": {"get": {
                "summary": "Liveness check",
                "tags": ["system"],
                "security": [],
                "responses": {"200": json_ok("The service is up.", "Health")},
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document",
                "tags": ["system"],
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
            "/api/v1/me": {"get": {
                "summary": "The signed-in customer",
                "tags": ["customer"],
                "security": [{"tma": []}],
                "responses": with(error_responses(CUSTOMER_ERRORS), "200", json_ok("The customer with referral and card links.", "Me")),
            }},
            "/api/v1/me/transactions": {"get": {
                "summary": "The customer's ledger entries, newest first",
                "tags": ["customer"],
                "security": [{"tma": []}],
                "parameters": [
                    {"name": "limit", "in": "query", "required": false, "description": "Page size.",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "before", "in": "query", "required": false,
                     "description": "Only entries older than this entry id (the previous page's `next_before`).",
                     "schema": {"type": "integer", "format": "int64", "minimum": 1}},
                ],
                "responses": with(
                    with(error_responses(CUSTOMER_ERRORS), "400", json!({"description": "Bad `limit` or `before` (`invalid_query`).",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})),
                    "200", json_ok("A page of entries.", "TransactionPage")),
            }},
            "/api/v1/me/card": {"get": {
                "summary": "The customer's card as a QR code",
                "description": "An SVG QR code of the partner bot deep link `https://t.me/<partner bot>?start=c_<code>`.",
                "tags": ["customer"],
                "security": [{"tma": []}],
                "responses": with(error_responses(CUSTOMER_ERRORS), "200",
                    json!({"description": "The QR code.", "content": {"image/svg+xml": {"schema": {"type": "string"}}}})),
            }},
            "/api/v1/partners": {"get": {
                "summary": "Approved partners",
                "tags": ["customer"],
                "security": [{"tma": []}],
                "responses": with(error_responses(CUSTOMER_ERRORS), "200", json_ok("Approved partners.", "PartnerList")),
            }},
            "/api/v1/redemptions/{id}/confirm": {"post": redemption_answer(
                "Confirm a redemption request",
                "Pays with points: debits the customer and notifies the partner.")},
            "/api/v1/redemptions/{id}/decline": {"post": redemption_answer(
                "Decline a redemption request",
                "Refuses the request; no points move. The partner is notified.")},
            "/api/v1/partner/credits": {"post": {
                "summary": "Credit points for a purchase (POS)",
                "description": "Idempotent: the same `Idempotency-Key` with the same body returns the first result with `replayed: true`; with a different body it is a 409 `idempotency_conflict`.",
                "tags": ["partner"],
                "security": [{"bearer": []}],
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": true,
                    "description": "Unique per purchase: 1–128 characters of A–Z a–z 0–9 _ - : .",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9_\\-:.]+$"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreditRequest"}}}},
                "responses": with(error_responses(&[
                    ("400", "Bad body, customer code, amount or Idempotency-Key."),
                    ("401", "Missing or unknown API key (`invalid_api_key`)."),
                    ("403", "The partner is not approved or the customer is blocked."),
                    ("404", "Unknown customer (`unknown_customer`)."),
                    ("409", "`idempotency_conflict` or `daily_limit_exceeded`."),
                    ("413", "Body over 1 MiB."),
                    ("415", "The body is not `application/json`."),
                    ("500", "Permanent server failure."),
                    ("503", "Temporary failure; retry with the same Idempotency-Key."),
                ]), "200", json_ok("The purchase was credited (or had been, when `replayed`).", "Credit")),
            }},
            "/api/v1/partner/customers/{code}": {"get": {
                "summary": "The customer behind a card (POS)",
                "description": "What the POS shows before a credit or a redemption: the customer's name and balance, and whether they are blocked. Only an approved partner may look customers up.",
                "tags": ["partner"],
                "security": [{"bearer": []}],
                "parameters": [{"name": "code", "in": "path", "required": true,
                    "description": "The code on the customer's card (case-insensitive).", "schema": {"type": "string"}}],
                "responses": with(error_responses(&[
                    ("400", "Not a customer code (`invalid_customer_code`)."),
                    ("401", "Missing or unknown API key (`invalid_api_key`)."),
                    ("403", "The partner is not approved (`partner_not_approved`)."),
                    ("404", "Unknown customer (`unknown_customer`)."),
                    ("500", "Permanent server failure."),
                    ("503", "Temporary failure; try again."),
                ]), "200", json_ok("The customer.", "PosCustomer")),
            }},
            "/hooks/sentry": {"post": {
                "summary": "Sentry integration webhook",
                "description": "Verifies `Sentry-Hook-Signature` (hex HMAC-SHA256 of the body with `SENTRY_WEBHOOK_SECRET`) and posts `event_alert`, `error`, `issue` and `metric_alert` payloads to the alert chat. Other resources are ignored.",
                "tags": ["hooks"],
                "security": [],
                "parameters": [
                    {"name": "Sentry-Hook-Signature", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "Sentry-Hook-Resource", "in": "header", "required": true,
                     "schema": {"type": "string", "examples": ["event_alert", "issue", "metric_alert", "error", "installation"]}},
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": with(with(error_responses(&[
                    ("400", "The body is not JSON."),
                    ("401", "Missing or wrong signature (`invalid_signature`)."),
                    ("413", "Body over 1 MiB."),
                    ("415", "The body is not `application/json`."),
                    ("503", "The secret or the alert bot is not configured (`not_configured`)."),
                ]), "200", json_ok("Not an alert resource; ignored.", "Status")),
                "202", json_ok("The alert will be posted.", "Status")),
            }},
        },
        "components": {
            "securitySchemes": {
                "tma": {"type": "apiKey", "in": "header", "name": "Authorization",
                        "description": "`tma <initData>`: the Mini App's `Telegram.WebApp.initData`, signed by Telegram for the client bot, at most 24 h old."},
                "bearer": {"type": "http", "scheme": "bearer", "description": "The partner's POS API key."},
                "admin": {"type": "http", "scheme": "bearer", "description": "The server's `ADMIN_API_TOKEN` (the admin routes answer 503 without one configured)."},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string", "pattern": "^[a-z_]+$"}, "message": {"type": "string"}}}}},
                "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
                "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["queued", "ignored"]}}},
                "Customer": {"type": "object",
                    "required": ["id", "code", "first_name", "language", "balance", "blocked", "created_at"],
                    "properties": {
                        "id": {"type": "integer", "format": "int64"},
                        "code": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{8}$"},
                        "first_name": {"type": "string"},
                        "language": {"type": "string", "enum": crate::domain::Language::ALL.map(crate::domain::Language::code)},
                        "balance": {"type": "integer", "format": "int64", "minimum": 0},
                        "blocked": {"type": "boolean"},
                        "created_at": {"type": "integer", "format": "int64", "description": "Unix seconds."},
                    }},
                "Me": {"allOf": [{"$ref": "#/components/schemas/Customer"}, {"type": "object",
                    "required": ["referral_link", "card_link", "expiring_soon", "tier", "qualifying_points"],
                    "properties": {
                        "referral_link": {"type": ["string", "null"], "format": "uri"},
                        "card_link": {"type": ["string", "null"], "format": "uri"},
                        "tier": {"type": "integer", "minimum": 0, "maximum": 10,
                            "description": "0: none; else the 1-based tier of the program's rules (docs/RULES.md)."},
                        "qualifying_points": {"type": "integer", "format": "int64", "minimum": 0,
                            "description": "Points counting toward tiers, as of the last recompute."},
                        "expiring_soon": {"type": "array", "maxItems": 3,
                            "description": "Points that expire within 30 days, by date, soonest first (see docs/RULES.md).",
                            "items": {"type": "object", "required": ["points", "at"], "properties": {
                                "points": {"type": "integer", "format": "int64", "minimum": 1},
                                "at": {"type": "integer", "format": "int64", "description": "Unix seconds."},
                            }}},
                    }}]},
                "Entry": {"type": "object", "required": ["id", "kind", "amount", "created_at"], "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "kind": {"type": "string", "enum": ["welcome_bonus", "referral_bonus", "accrual", "redemption", "reversal", "adjustment", "import", "legacy", "expiry"]},
                    "amount": {"type": "integer", "format": "int64"},
                    "partner_id": {"type": ["integer", "null"], "format": "int64"},
                    "purchase": {"type": ["integer", "null"], "format": "int64"},
                    "reverses": {"type": ["integer", "null"], "format": "int64"},
                    "created_at": {"type": "integer", "format": "int64"},
                }},
                "TransactionPage": {"type": "object", "required": ["entries", "next_before"], "properties": {
                    "entries": {"type": "array", "items": {"$ref": "#/components/schemas/Entry"}},
                    "next_before": {"type": ["integer", "null"], "format": "int64",
                                    "description": "Pass as `before` for the next page; null on the last page."},
                }},
                "Partner": {"type": "object", "required": ["id", "name", "category", "earn_rate_bps", "max_redeem_share_bps"], "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "name": {"type": "string"},
                    "category": {"type": "string"},
                    "earn_rate_bps": {"type": "integer", "minimum": 0, "description": "Points per purchase in basis points."},
                    "max_redeem_share_bps": {"type": "integer", "minimum": 0, "description": "Largest share payable with points, in basis points."},
                }},
                "PartnerList": {"type": "object", "required": ["partners"], "properties": {
                    "partners": {"type": "array", "items": {"$ref": "#/components/schemas/Partner"}}}},
                "RedemptionAnswer": {"type": "object", "required": ["redemption", "balance", "replayed"], "properties": {
                    "redemption": {"type": "object", "required": ["id", "status", "points", "purchase", "partner", "expires_at"], "properties": {
                        "id": {"type": "integer", "format": "int64"},
                        "status": {"type": "string", "enum": ["pending", "confirmed", "declined", "expired"]},
                        "points": {"type": "integer", "format": "int64"},
                        "purchase": {"type": "integer", "format": "int64"},
                        "partner": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
                        "created_at": {"type": "integer", "format": "int64"},
                        "expires_at": {"type": "integer", "format": "int64"},
                        "entry_id": {"type": ["integer", "null"], "format": "int64"},
                    }},
                    "balance": {"type": "integer", "format": "int64"},
                    "replayed": {"type": "boolean"},
                }},
                "CreditRequest": {"type": "object", "additionalProperties": false, "required": ["customer_code", "purchase"], "properties": {
                    "customer_code": {"type": "string", "description": "The code on the customer's card (case-insensitive)."},
                    "purchase": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 1_000_000_000_000_i64},
                }},
                "PosCustomer": {"type": "object", "required": ["customer_code", "first_name", "balance", "blocked"], "properties": {
                    "customer_code": {"type": "string"},
                    "first_name": {"type": "string"},
                    "balance": {"type": "integer", "format": "int64"},
                    "blocked": {"type": "boolean", "description": "A blocked customer can neither earn nor redeem."},
                }},
                "Credit": {"type": "object", "required": ["entry_id", "customer_code", "points", "balance", "replayed"], "properties": {
                    "entry_id": {"type": "integer", "format": "int64"},
                    "customer_code": {"type": "string"},
                    "purchase": {"type": "integer", "format": "int64"},
                    "points": {"type": "integer", "format": "int64", "description": "Points credited: the base × the tier's multiplier, plus what campaigns added (`awards`)."},
                    "awards": {"type": "array", "items": {"$ref": "#/components/schemas/Award"}},
                    "balance": {"type": "integer", "format": "int64"},
                    "created_at": {"type": "integer", "format": "int64"},
                    "replayed": {"type": "boolean"},
                }},
            },
        },
    });
    let parts =
        [("paths", campaign_paths()), ("paths", admin_paths()), ("components", json!({"schemas": campaign_schemas()}))];
    for (at, more) in parts {
        let (Some(into), Value::Object(more)) = (doc.get_mut(at), more) else { continue };
        for (key, value) in more {
            match (into.get_mut(&key), value) {
                (Some(Value::Object(inner)), Value::Object(value)) => inner.extend(value),
                (_, value) => {
                    into[key] = value;
                }
            }
        }
    }
    doc
}

/// The routes of campaigns and birthdays (kept apart: one `json!` of the whole
/// document would pass the macro's recursion limit).
fn campaign_paths() -> Value {
    json!({
            "/api/v1/partner/campaigns": {
                "get": {
                    "summary": "The partner's campaigns (POS)",
                    "description": "Newest first (at most 100), each with what it has paid of its budget (`issued`).",
                    "tags": ["partner"],
                    "security": [{"bearer": []}],
                    "responses": with(error_responses(&[
                        ("401", "Missing or unknown API key (`invalid_api_key`)."),
                        ("500", "Permanent server failure."),
                        ("503", "Temporary failure; try again."),
                    ]), "200", json_ok("The campaigns.", "Campaigns")),
                },
                "post": {
                    "summary": "Propose a campaign at the partner's place (POS)",
                    "description": "The body is a campaign document (docs/RULES.md). The campaign waits for an admin's approval (`pending`) unless the program's rules let partners' campaigns run at once. Not idempotent: a retry makes a second campaign, which an admin can reject.",
                    "tags": ["partner"],
                    "security": [{"bearer": []}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CampaignDocument"}}}},
                    "responses": with(error_responses(&[
                        ("400", "The body is not UTF-8."),
                        ("401", "Missing or unknown API key (`invalid_api_key`)."),
                        ("403", "The partner is not approved, or the rules do not let partners run campaigns (`partner_campaigns_off`)."),
                        ("413", "Body over 1 MiB."),
                        ("415", "The body is not `application/json`."),
                        ("422", "Not a valid campaign document (`invalid_campaign`, with the reason)."),
                        ("500", "Permanent server failure."),
                        ("503", "Temporary failure; try again."),
                    ]), "201", json_ok("The campaign.", "Campaign")),
                },
            },
            "/api/v1/me/birthday": {"put": {
                "summary": "Set the customer's birthday",
                "description": "Once: a second call is a 409 `birthday_already_set` naming the birthday on record. Birthday campaigns pay on a purchase within their window from it.",
                "tags": ["customer"],
                "security": [{"tma": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Birthday"}}}},
                "responses": with(error_responses(&[
                    ("400", "Bad body, or a date that does not exist (`invalid_amount`)."),
                    ("401", "Missing, forged or stale `initData`."),
                    ("404", "Not signed up (`not_registered`)."),
                    ("409", "Already set (`birthday_already_set`)."),
                    ("415", "The body is not `application/json`."),
                    ("500", "Permanent server failure."),
                    ("503", "Temporary failure; try again."),
                ]), "200", json_ok("The birthday as saved.", "Birthday")),
            }}
    })
}

/// The schemas of [`campaign_paths`].
fn campaign_schemas() -> Value {
    json!({
                "Birthday": {"type": "object", "required": ["month", "day"], "additionalProperties": false, "properties": {
                    "month": {"type": "integer", "minimum": 1, "maximum": 12},
                    "day": {"type": "integer", "minimum": 1, "maximum": 31},
                }},
                "CampaignDocument": {"type": "object", "required": ["title", "kind", "starts", "ends", "budget"],
                    "description": "See docs/RULES.md: dates are local at `utc_offset_minutes`, both inclusive.",
                    "properties": {
                        "title": {"type": "object", "required": ["en"], "properties": {
                            "en": {"type": "string"}, "ru": {"type": "string"}, "vi": {"type": "string"}}},
                        "kind": {"type": "string", "enum": ["multiplier", "first_purchase", "birthday", "nth_visit"]},
                        "multiplier_bps": {"type": "integer", "minimum": 10001, "maximum": 100000},
                        "points": {"type": "integer", "format": "int64", "minimum": 1},
                        "n": {"type": "integer", "minimum": 2, "maximum": 1000},
                        "window_days": {"type": "integer", "minimum": 1, "maximum": 366},
                        "weekdays": {"type": "array", "items": {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
                        "hours": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 24}, "minItems": 2, "maxItems": 2},
                        "utc_offset_minutes": {"type": "integer", "minimum": -720, "maximum": 840},
                        "starts": {"type": "string", "format": "date"},
                        "ends": {"type": "string", "format": "date"},
                        "partner": {"type": "integer", "format": "int64"},
                        "tiers": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 10}},
                        "cap_per_customer": {"type": "integer", "format": "int64", "minimum": 1},
                        "budget": {"type": "integer", "format": "int64", "minimum": 1},
                    }},
                "Campaign": {"type": "object", "required": ["id", "terms", "status", "issued", "created_by", "created_at"], "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "terms": {"type": "object", "description": "The stored terms: the document with times (Unix seconds, `ends_at` exclusive) and bit masks for weekdays (bit 0 Monday) and tiers (bit t for tier t)."},
                    "status": {"type": "string", "enum": ["pending", "active", "rejected", "ended"]},
                    "issued": {"type": "integer", "format": "int64", "description": "Points paid, reversed purchases taken back; never above the budget."},
                    "created_by": {"type": "object"},
                    "created_at": {"type": "integer", "format": "int64"},
                }},
                "Award": {"type": "object", "description": "What one campaign added to a credit.",
                    "required": ["campaign", "kind", "title", "multiplier_bps", "points"], "properties": {
                    "campaign": {"type": "integer", "format": "int64"},
                    "kind": {"type": "string", "enum": ["multiplier", "first_purchase", "birthday", "nth_visit"]},
                    "title": {"type": "object"},
                    "multiplier_bps": {"type": "integer", "description": "10000 for a fixed bonus."},
                    "points": {"type": "integer", "format": "int64", "minimum": 1},
                }},
                "RulesVersion": {"type": "object", "required": ["version", "rules", "admin", "created_at"], "properties": {
                    "version": {"type": "integer", "minimum": 0, "description": "0: the defaults, before any change."},
                    "rules": {"type": "object", "description": "The rules document (docs/RULES.md)."},
                    "admin": {"type": ["integer", "null"], "format": "int64", "description": "The admin's Telegram id; null from the command line or the API."},
                    "created_at": {"type": ["integer", "null"], "format": "int64"},
                }},
                "Campaigns": {"type": "object", "required": ["campaigns"], "properties": {
                    "campaigns": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}}}}
    })
}

/// The admin routes: the rules and the campaigns, for the operator's tools.
fn admin_paths() -> Value {
    let errors = |more: &[(&str, &str)]| {
        let mut all = vec![
            ("401", "Missing or wrong token (`invalid_admin_token`)."),
            ("500", "Permanent server failure."),
            ("503", "`ADMIN_API_TOKEN` is not configured (`not_configured`), or a temporary failure."),
        ];
        all.extend_from_slice(more);
        error_responses(&all)
    };
    let decide = |summary: &str, refusal: &str| {
        json!({"post": {
            "summary": summary,
            "tags": ["admin"],
            "security": [{"admin": []}],
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}}],
            "responses": with(errors(&[("404", "No such campaign (`unknown_campaign`)."), ("409", refusal)]), "200", json_ok("The campaign after the decision.", "Campaign")),
        }})
    };
    json!({
        "/api/v1/admin/rules": {
            "get": {
                "summary": "The rules in force",
                "description": "Their version, document, author and date (docs/RULES.md): the export of the rules.",
                "tags": ["admin"],
                "security": [{"admin": []}],
                "responses": with(errors(&[]), "200", json_ok("The rules version in force.", "RulesVersion")),
            },
            "put": {
                "summary": "Set a new version of the rules",
                "description": "The body is the rules document (as `/rules` in the admin bot and `loyalty rules set` take it): the import. Unknown fields and values out of range are refused with the reason.",
                "tags": ["admin"],
                "security": [{"admin": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": with(errors(&[("400", "The body is not UTF-8."), ("415", "The body is not `application/json`."), ("422", "Not a valid document (`invalid_rules`, with the reason).")]), "200", json_ok("The new version.", "RulesVersion")),
            },
        },
        "/api/v1/admin/campaigns": {
            "get": {
                "summary": "Every campaign",
                "description": "Newest first (at most 100), each with what it has paid of its budget (`issued`).",
                "tags": ["admin"],
                "security": [{"admin": []}],
                "responses": with(errors(&[]), "200", json_ok("The campaigns.", "Campaigns")),
            },
            "post": {
                "summary": "Make a campaign",
                "description": "The body is a campaign document (docs/RULES.md); an admin's campaign runs at once. Not idempotent.",
                "tags": ["admin"],
                "security": [{"admin": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CampaignDocument"}}}},
                "responses": with(errors(&[("400", "The body is not UTF-8."), ("415", "The body is not `application/json`."), ("422", "Not a valid campaign document (`invalid_campaign`, with the reason).")]), "201", json_ok("The campaign.", "Campaign")),
            },
        },
        "/api/v1/admin/campaigns/{id}/approve": decide("Approve a partner's pending campaign", "Not pending (`campaign_closed`)."),
        "/api/v1/admin/campaigns/{id}/reject": decide("Reject a partner's pending campaign", "Not pending (`campaign_closed`)."),
        "/api/v1/admin/campaigns/{id}/end": decide("End a campaign", "Rejected or ended already (`campaign_closed`)."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn paths_and_methods_are_the_route_table() {
        let doc = document();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let table: BTreeSet<_> =
            crate::api::ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
        assert_eq!(documented, table);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for piece in text.split("\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(doc["components"]["schemas"].get(name).is_some(), "missing schema {name}");
        }
    }
}
