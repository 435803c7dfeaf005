//! The events a use case or a job publishes to the program's webhook
//! endpoints ([`OutgoingEvent`]): built here, from what the storage call
//! answered, once for every runtime and store.

use crate::domain::{Customer, LedgerEntry, PartnerId, Timestamp};
use crate::outgoing::{OutgoingEvent, WebhookEvent};
use crate::ports::{Credited, PointsExpired, RedemptionView, Registration, Reversed, Stamped, TierChange, VoucherView};
use serde_json::{Value, json};

/// An event of `kind` with `id`, at `created_at` and `partner`.
fn event(
    id: String,
    kind: WebhookEvent,
    created_at: Timestamp,
    partner: Option<PartnerId>,
    data: Value,
) -> OutgoingEvent {
    OutgoingEvent { id, event: kind, created_at, partner_id: partner, data }
}

/// A customer as events name them: id and card code.
fn customer(c: &Customer) -> Value {
    json!({"id": c.id, "code": c.code})
}

/// A ledger entry as events show it.
fn entry(e: &LedgerEntry) -> Value {
    json!({
        "id": e.id,
        "kind": e.kind,
        "amount": e.amount,
        "purchase": e.purchase,
        "partner_id": e.partner,
        "cashier_id": e.cashier,
        "reverses": e.reverses,
        "created_at": e.created_at,
    })
}

/// `tier.changed` for `c` moved from tier `from` by `cause` (an entry) or at `at`.
fn tier_changed(c: &Customer, from: u8, cause: Option<&LedgerEntry>, at: Timestamp) -> OutgoingEvent {
    let id = match cause {
        Some(e) => format!("evt_tier_e{}", e.id),
        None => format!("evt_tier_c{}_{}_{}", c.id, c.tier, at.0),
    };
    let data = json!({"customer": customer(c), "from": from, "to": c.tier, "entry_id": cause.map(|e| e.id)});
    event(id, WebhookEvent::TierChanged, at, None, data)
}

/// `customer.joined`, and `points.credited` for a referrer's bonus.
pub(crate) fn joined(reg: &Registration, now: Timestamp) -> Vec<OutgoingEvent> {
    let c = &reg.customer;
    let partner = reg.partner.as_ref().map(|p| p.id);
    let data = json!({
        "customer": customer(c),
        "language": c.language,
        "welcome_bonus": reg.welcome.as_ref().map_or(0, |e| e.amount),
        "balance": c.balance,
        "referred_by": reg.referral.as_ref().map(|(r, _)| customer(r)),
        "via_partner_id": partner,
    });
    let mut events = vec![event(format!("evt_joined_{}", c.id), WebhookEvent::CustomerJoined, now, partner, data)];
    if let Some((referrer, bonus)) = &reg.referral {
        events.push(credit_of(referrer, bonus));
    }
    events
}

/// `points.credited` for `e` (after which `c` has their balance).
fn credit_of(c: &Customer, e: &LedgerEntry) -> OutgoingEvent {
    let data = json!({"customer": customer(c), "entry": entry(e), "balance": c.balance});
    event(format!("evt_credited_{}", e.id), WebhookEvent::PointsCredited, e.created_at, e.partner, data)
}

/// `points.credited` (unless the purchase earned nothing) and `tier.changed`.
pub(crate) fn credited(c: &Credited) -> Vec<OutgoingEvent> {
    let mut events = Vec::new();
    if c.entry.amount != 0 {
        events.push(credit_of(&c.customer, &c.entry));
    }
    if c.customer.tier != c.tier_before {
        events.push(tier_changed(&c.customer, c.tier_before, Some(&c.entry), c.entry.created_at));
    }
    events
}

/// `points.redeemed` for a confirmed redemption request.
pub(crate) fn redeemed(v: &RedemptionView) -> Vec<OutgoingEvent> {
    let Some(e) = &v.entry else { return Vec::new() };
    let r = &v.request;
    let data = json!({
        "customer": customer(&v.customer),
        "entry": entry(e),
        "balance": v.customer.balance,
        "redemption_id": r.id,
        "purchase": r.purchase,
    });
    vec![event(format!("evt_redeemed_{}", e.id), WebhookEvent::PointsRedeemed, e.created_at, Some(r.partner), data)]
}

/// `points.reversed` and `tier.changed`.
pub(crate) fn reversed(r: &Reversed) -> Vec<OutgoingEvent> {
    let e = &r.reversal;
    let data = json!({"customer": customer(&r.customer), "entry": entry(e), "balance": r.customer.balance});
    let mut events = vec![event(
        format!("evt_reversed_{}", e.id),
        WebhookEvent::PointsReversed,
        e.created_at,
        Some(r.partner.id),
        data,
    )];
    if r.customer.tier != r.tier_before {
        events.push(tier_changed(&r.customer, r.tier_before, Some(e), e.created_at));
    }
    events
}

/// `points.expired`.
pub(crate) fn expired(x: &PointsExpired) -> OutgoingEvent {
    let e = &x.entry;
    let data = json!({"customer": customer(&x.customer), "entry": entry(e), "balance": x.customer.balance});
    event(format!("evt_expired_{}", e.id), WebhookEvent::PointsExpired, e.created_at, None, data)
}

/// `tier.changed` by the tier job (time moved a customer's tier) at `now`.
pub(crate) fn tier_refreshed(change: &TierChange, now: Timestamp) -> OutgoingEvent {
    tier_changed(&change.customer, change.from, None, now)
}

/// `reward.claimed`: a customer paid for a voucher.
pub(crate) fn claimed(v: &VoucherView) -> OutgoingEvent {
    let (voucher, reward) = (&v.voucher, &v.reward);
    let data = json!({
        "customer": customer(&v.customer),
        "reward": {"id": reward.id, "title": reward.offer.title.get(crate::domain::Language::En)},
        "voucher": {"id": voucher.id, "points": voucher.points, "entry_id": voucher.entry},
        "balance": v.customer.balance,
    });
    let id = format!("evt_claimed_{}", voucher.id);
    event(id, WebhookEvent::RewardClaimed, voucher.created_at, Some(voucher.partner), data)
}

/// `stamps.completed` when a stamp filled the card.
pub(crate) fn stamped(s: &Stamped, now: Timestamp) -> Vec<OutgoingEvent> {
    if !s.completed {
        return Vec::new();
    }
    let p = &s.progress;
    let partner = p.card.partner;
    let data = json!({
        "customer": customer(&s.customer),
        "needed": p.card.needed,
        "reward": p.card.reward,
        "cards_completed": p.completed,
    });
    let id = format!("evt_stamps_{partner}_{}_{}", s.customer.id, p.completed);
    vec![event(id, WebhookEvent::StampsCompleted, now, Some(partner), data)]
}
