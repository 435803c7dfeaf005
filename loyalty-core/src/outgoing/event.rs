//! What the outbox keeps of an event for the webhook endpoints: the event
//! ([`OutgoingEvent`], its deliveries' body) and one endpoint's delivery of
//! it ([`WebhookDelivery`]).

use super::WebhookEvent;
use crate::domain::{PartnerId, Timestamp, WebhookId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event, as its deliveries' JSON body:
/// `{"id": "evt_credited_42", "type": "points.credited", "created_at": 1700000000, "partner_id": 3, "data": {…}}`.
///
/// `id` is stable: the same change is the same id however often it is
/// delivered (a retry, an update processed again), so a receiver keeps the
/// ids it has handled and ignores one seen before. `data` names customers by
/// id and card code only; see `docs/WEBHOOKS.md` for each type's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutgoingEvent {
    /// The event's id (`evt_…`), the same for every delivery of it.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event: WebhookEvent,
    /// When it happened (Unix seconds).
    pub created_at: Timestamp,
    /// The partner it happened at, if any: that partner's endpoints receive it
    /// too (the program's receive every event).
    pub partner_id: Option<PartnerId>,
    /// The details.
    pub data: Value,
}

impl OutgoingEvent {
    /// The delivery body: this event as compact JSON.
    pub fn body(&self) -> Vec<u8> {
        // A struct of plain fields and a `Value` always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// One endpoint's delivery of an event, as the outbox keeps it (the
/// endpoint's URL and secret are read from the store, never kept here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The endpoint.
    pub endpoint: WebhookId,
    /// The event.
    pub event: OutgoingEvent,
    /// When the event was fanned out: retries stop a day after.
    pub first_at: Timestamp,
}

/// The value of the `User-Agent` header of deliveries.
pub const USER_AGENT: &str = concat!("loyalty-rs/", env!("CARGO_PKG_VERSION"));
