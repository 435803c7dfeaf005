//! Delivering events through the outbox: an event written with its update's
//! or request's messages ([`Task::Event`](crate::Task::Event)) is fanned out
//! into one [`WebhookDelivery`] per subscribed endpoint, each posted signed,
//! recorded on its endpoint, and retried on [`next_attempt`]'s schedule.

use crate::context::{Context, Task, encode};
use crate::domain::{PartnerId, Timestamp};
use crate::outgoing::{
    OutgoingEvent, SIGNATURE_HEADER, USER_AGENT, WebhookDelivery, WebhookEvent, check_url, next_attempt, sign,
};
use crate::ports::{
    EnqueueMessages, ErrorReport, MessageOutcome, OutboxMessage, RecordWebhook, StoreError, Webhook, WebhookPost,
    WebhookTargets,
};

/// The longest error kept on an endpoint ([`RecordWebhook::error`]), in characters.
const MAX_ERROR_CHARS: usize = 200;

/// The endpoints read during one batch of deliveries, by event and partner,
/// so a batch reads each set once — and those that gave no answer in it,
/// whose other deliveries of the batch wait for their retries unposted (an
/// endpoint that hangs costs a batch one timeout, not one per delivery).
#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    read: Vec<(Audience, Vec<Webhook>)>,
    silent: Vec<crate::domain::WebhookId>,
    /// The store said no endpoint was registered: every event goes to none,
    /// and the store is not asked.
    none_registered: bool,
}

/// Who receives an event: its type and the partner it happened at.
type Audience = (WebhookEvent, Option<PartnerId>);

impl Endpoints {
    /// For messages the store added when no endpoint was registered
    /// ([`Enqueued::webhooks`](crate::ports::Enqueued::webhooks)): every
    /// event goes to none, as [`Storage::webhook_targets`](crate::ports::Storage::webhook_targets)
    /// would have answered then.
    pub(crate) fn none_registered() -> Endpoints {
        Endpoints { none_registered: true, ..Endpoints::default() }
    }

    /// The endpoints receiving `event` at `partner`, read once per batch.
    async fn get(
        &mut self,
        cx: &Context,
        event: WebhookEvent,
        partner: Option<PartnerId>,
    ) -> Result<&[Webhook], StoreError> {
        if self.none_registered {
            return Ok(&[]);
        }
        let key = (event, partner);
        let at = match self.read.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let targets = cx.storage().webhook_targets(WebhookTargets { event, partner }).await?;
                self.read.push((key, targets));
                self.read.len() - 1
            }
        };
        Ok(&self.read[at].1)
    }
}

/// Fans the event kept as outbox message `message` out: one delivery per
/// endpoint subscribed to it, written to the outbox under the source
/// `event:<message>` (so doing it again adds nothing) and leased to this
/// process until `lease_until`. Returns the deliveries added, to send now.
pub(crate) async fn fan_out(
    cx: &Context,
    message: crate::domain::MessageId,
    event: &OutgoingEvent,
    lease_until: Timestamp,
    endpoints: &mut Endpoints,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let now = cx.now();
    let targets = endpoints.get(cx, event.event, event.partner_id).await?;
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let messages = targets
        .iter()
        .filter_map(|w| encode(&Task::Webhook(WebhookDelivery { endpoint: w.id, event: event.clone(), first_at: now })))
        .collect();
    let req = EnqueueMessages { source: format!("event:{message}"), updates: Vec::new(), messages, now, lease_until };
    cx.storage().enqueue_messages(req).await.map(|added| added.messages)
}

/// Posts `delivery` (attempt number `attempts`) to its endpoint, signed now,
/// records the attempt on the endpoint and says what becomes of the outbox
/// message: sent on a 2xx answer; else tried again on [`next_attempt`]'s
/// schedule, failed once that is over. An endpoint removed since (or no
/// longer subscribed, or its partner no longer approved) fails it unsent.
pub(crate) async fn post(
    cx: &Context,
    delivery: &WebhookDelivery,
    attempts: u32,
    endpoints: &mut Endpoints,
) -> MessageOutcome {
    let retry = |error: String| match next_attempt(delivery.first_at, attempts, cx.now()) {
        Some(at) => MessageOutcome::Retry { at },
        None => MessageOutcome::Failed { error },
    };
    let Some(sender) = cx.ports().webhooks.clone() else {
        // A process without a sender took it: one with a sender takes it later.
        return retry("this process posts no webhooks".to_string());
    };
    let event = &delivery.event;
    let endpoint = match endpoints.get(cx, event.event, event.partner_id).await {
        Ok(targets) => targets.iter().find(|w| w.id == delivery.endpoint).cloned(),
        Err(e) => return retry(format!("could not read the endpoint: {e}")),
    };
    let Some(endpoint) = endpoint else {
        return MessageOutcome::Failed { error: "the endpoint was removed or no longer receives this event".into() };
    };
    if endpoints.silent.contains(&endpoint.id) {
        return retry("the endpoint gave no answer to an earlier delivery of this batch".to_string());
    }
    let (status, error) = match check_url(&endpoint.url) {
        // Registered before the checks refused it: no attempt will succeed.
        Err(reason) => return MessageOutcome::Failed { error: format!("refused URL: {reason}") },
        Ok(()) => {
            let body = event.body();
            let now = cx.now();
            let post = WebhookPost {
                url: endpoint.url.clone(),
                headers: vec![
                    (SIGNATURE_HEADER, sign(&endpoint.secret, now, &body)),
                    ("Loyalty-Event", event.event.as_str().to_string()),
                    ("Loyalty-Event-Id", event.id.clone()),
                    ("User-Agent", USER_AGENT.to_string()),
                ],
                body: body.into(),
            };
            match sender.post(&post).await {
                Ok(status) if (200..300).contains(&status) => (Some(status), None),
                Ok(status) => (Some(status), Some(format!("HTTP {status}"))),
                Err(e) => {
                    endpoints.silent.push(endpoint.id);
                    (None, Some(e.to_string()))
                }
            }
        }
    };
    let error = error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect::<String>());
    let record = RecordWebhook { id: endpoint.id, at: cx.now(), status, error: error.clone() };
    crate::observe::webhook_posted(event.event, status, error.is_none());
    if let Err(e) = cx.storage().record_webhook(record).await {
        let message = format!("could not record a delivery to webhook {}: {e}", endpoint.id);
        cx.report(ErrorReport::new(message, "outbox", e.is_temporary())).await;
    }
    match error {
        None => MessageOutcome::Sent,
        Some(error) => retry(error),
    }
}

/// Delivers `event` once to every endpoint subscribed to it, outside the
/// outbox (the store refused to keep it): at most once.
pub(crate) async fn post_directly(cx: &Context, event: OutgoingEvent) {
    let mut endpoints = Endpoints::default();
    let targets = match endpoints.get(cx, event.event, event.partner_id).await {
        Ok(targets) => targets.to_vec(),
        Err(e) => {
            let message = format!("could not read the endpoints of event {}: {e}", event.id);
            cx.report(ErrorReport::new(message, "outbox", e.is_temporary())).await;
            return;
        }
    };
    let now = cx.now();
    for w in targets {
        let delivery = WebhookDelivery { endpoint: w.id, event: event.clone(), first_at: now };
        // Its outcome is not kept: nothing tries it again.
        post(cx, &delivery, u32::MAX, &mut endpoints).await;
    }
}
