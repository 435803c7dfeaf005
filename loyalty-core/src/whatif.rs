//! What-if on history: the stored ledger replayed, read only, under a
//! proposed rules document, beside what actually happened — so an operator
//! sees what a rule would cost before switching it on (`loyalty whatif
//! --rules FILE`).
//!
//! Each customer's entries are replayed oldest first through the reference
//! [`Lots`] model under the proposed rules: every entry but the actual
//! `expiry` entries (those are the actual rules' doing) is applied at its
//! time, and before it whatever the proposed rules expire by then leaves as a
//! simulated expiry. A debit the proposed rules leave no points for (a
//! redemption of points that would have expired) is counted as refused and
//! skipped, with its reversal. At the end the lots expire up to `now`.
//!
//! Both columns obey `outstanding = earned − redeemed − reversed − debited −
//! expired`.
//!
//! **Tiers.** Both columns recompute each customer's tier along the replay
//! (`program::next_tier`, as the stores do with each purchase and reversal,
//! and once more at `now`) and count the customers per tier at the end — the
//! actual column under the tiers of the rules in force now, the proposed one
//! under the proposal's. A purchase's points are recomputed with the proposed
//! tier's multiplier: `earned(purchase, rate, proposed multiplier)` plus what
//! campaigns added, which is the recorded amount less
//! `earned(purchase, rate, actual multiplier)` — exact when the tiers now in
//! force are those the purchases were made under (in particular when there
//! were none: the usual question, "what would tiers cost?").

use crate::domain::{Author, Customer, EntryId, EntryKind, LedgerEntry, PartnerId, Points, Timestamp, rules};
use crate::ports::{EntriesPage, ExportCustomers, MAX_EXPORT_PAGE, Storage, StoreResult};
use crate::program::lots::Lots;
use crate::program::{DAY_SECS, EXPIRING_SOON_SECS, MAX_TIERS, ProgramRules, TierState, next_tier, tier_multiplier};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// The figures of one column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Customers replayed.
    pub customers: u64,
    /// Points issued: bonuses, purchases, positive adjustments and imported balances.
    pub earned: Points,
    /// Points paid at partners, net of reversed redemptions.
    pub redeemed: Points,
    /// Points of purchases reversed by partners.
    pub reversed: Points,
    /// Points taken by negative adjustments and imports.
    pub debited: Points,
    /// Points that expired.
    pub expired: Points,
    /// What the customers hold at the end: the outstanding liability.
    pub outstanding: Points,
    /// Of that, the points that expire before the start of `now`'s day + 30 days.
    pub expiring_30_days: Points,
    /// Debits the rules left no points for (proposed column only): how many…
    pub refused: u64,
    /// …and their points.
    pub refused_points: Points,
    /// Customers per tier at the end (index 0: no tier).
    pub customers_by_tier: [u64; MAX_TIERS + 1],
}

/// The answer: what happened, and what would have happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhatIf {
    /// The ledger as stored.
    pub actual: Figures,
    /// The ledger replayed under the proposed rules.
    pub proposed: Figures,
    /// The end of the replay.
    pub now: Timestamp,
}

/// A replay in progress: feed it every customer with [`Replay::customer`].
#[derive(Debug)]
pub struct Replay {
    rules: ProgramRules,
    now: Timestamp,
    actual: Figures,
    proposed: Figures,
    /// The rules in force now: the actual column's tiers.
    actual_rules: ProgramRules,
    /// Partners' earn rates, for the points of a purchase.
    rates: HashMap<PartnerId, u32>,
}

/// One column's tier along a customer's replay.
#[derive(Debug, Default)]
struct Tiering {
    state: TierState,
    /// What the purchases still counted (not reversed) count toward a tier, with their time.
    purchases: Vec<(EntryId, Timestamp, Points)>,
}

impl Tiering {
    /// The tier after the qualifying points change at `at`.
    fn refresh(&mut self, rules: &ProgramRules, at: Timestamp) {
        let window = rules.tiers.as_ref().map_or(0, |t| i64::from(t.window_days) * DAY_SECS);
        let since = at.plus(-window);
        let qualifying = self.purchases.iter().filter(|(_, t, _)| *t > since && *t <= at).map(|(_, _, p)| *p).sum();
        self.state = next_tier(rules.tiers.as_ref(), self.state, qualifying, at);
    }
}

fn tally(f: &mut Figures, e: &LedgerEntry, reverses: Option<EntryKind>) {
    let a = e.amount;
    match e.kind {
        EntryKind::Legacy => {}
        EntryKind::Expiry => f.expired += -a,
        EntryKind::Redemption => f.redeemed += -a,
        EntryKind::Reversal if reverses == Some(EntryKind::Redemption) => f.redeemed -= a,
        EntryKind::Reversal => f.reversed += -a,
        _ if a > 0 => f.earned += a,
        _ => f.debited += -a,
    }
}

impl Replay {
    /// A replay under `rules` up to `now`.
    pub fn new(rules: ProgramRules, now: Timestamp) -> Replay {
        let (actual_rules, rates) = (ProgramRules::default(), HashMap::new());
        Replay { rules, now, actual: Figures::default(), proposed: Figures::default(), actual_rules, rates }
    }

    /// A replay that knows the rules in force now (the actual column's tiers)
    /// and the partners' earn rates (to recompute purchases under the
    /// proposed tiers); without them ([`Replay::new`]) no tiers are actual and
    /// purchases keep their recorded points.
    pub fn with_history(mut self, actual_rules: ProgramRules, rates: HashMap<PartnerId, u32>) -> Replay {
        (self.actual_rules, self.rates) = (actual_rules, rates);
        self
    }

    /// The recorded and the proposed points of accrual `e`, with the tiers
    /// each column has reached before it.
    fn repriced(&self, e: &LedgerEntry, actual: u8, proposed: u8) -> Points {
        let (Some(purchase), Some(rate)) = (e.purchase, e.partner.and_then(|p| self.rates.get(&p))) else {
            return e.amount;
        };
        let as_recorded = rules::earned(purchase, *rate, tier_multiplier(&self.actual_rules, actual));
        let campaigns = e.amount.saturating_sub(as_recorded).max(0);
        rules::earned(purchase, *rate, tier_multiplier(&self.rules, proposed)).saturating_add(campaigns)
    }

    /// Replays one customer: `entries` are all of theirs, oldest first.
    pub fn customer(&mut self, customer: &Customer, entries: &[LedgerEntry]) {
        let kinds: std::collections::HashMap<EntryId, EntryKind> = entries.iter().map(|e| (e.id, e.kind)).collect();
        let kind_of = |id: EntryId| kinds.get(&id).copied();
        self.actual.customers += 1;
        self.actual.outstanding += customer.balance;
        for e in entries {
            tally(&mut self.actual, e, e.reverses.and_then(kind_of));
        }

        let (mut actual_tier, mut proposed_tier) = (Tiering::default(), Tiering::default());
        let mut repriced: HashMap<EntryId, Points> = HashMap::new();
        let (mut lots, mut skipped, mut seq) = (Lots::new(), HashSet::new(), 0_i64);
        let mut expire = |lots: &mut Lots, at: Timestamp, f: &mut Figures| {
            if let Some(points) = lots.due(at).remove(&customer.id) {
                seq += 1;
                let entry = simulated_expiry(customer, points, at, seq);
                // The due points come first in the lots' order: they are always there.
                let _ = lots.apply(&entry, &self.rules);
                f.expired += points;
            }
        };
        for e in entries.iter().filter(|e| e.kind.counts() && e.kind != EntryKind::Expiry) {
            expire(&mut lots, e.created_at, &mut self.proposed);
            if e.reverses.is_some_and(|r| skipped.contains(&r)) {
                continue;
            }
            // A purchase under the proposed tiers; its reversal takes back what it gave.
            let mut e = e.clone();
            if e.kind == EntryKind::Accrual {
                let points = self.repriced(&e, actual_tier.state.tier, proposed_tier.state.tier);
                let by = |rules: &ProgramRules| rules.tiers.as_ref().map(|t| t.qualify_by).unwrap_or_default();
                actual_tier.purchases.push((e.id, e.created_at, by(&self.actual_rules).of(&e)));
                repriced.insert(e.id, points);
                e.amount = points;
                proposed_tier.purchases.push((e.id, e.created_at, by(&self.rules).of(&e)));
            } else if let Some(points) = e.reverses.and_then(|r| repriced.get(&r)) {
                e.amount = -points;
                actual_tier.purchases.retain(|(id, _, _)| Some(*id) != e.reverses);
                proposed_tier.purchases.retain(|(id, _, _)| Some(*id) != e.reverses);
            }
            if lots.apply(&e, &self.rules).is_err() {
                skipped.insert(e.id);
                self.proposed.refused += 1;
                self.proposed.refused_points += -e.amount;
                continue;
            }
            if e.kind == EntryKind::Accrual || e.reverses.is_some_and(|r| repriced.contains_key(&r)) {
                actual_tier.refresh(&self.actual_rules, e.created_at);
                proposed_tier.refresh(&self.rules, e.created_at);
            }
            tally(&mut self.proposed, &e, e.reverses.and_then(kind_of));
        }
        expire(&mut lots, self.now, &mut self.proposed);
        proposed_tier.refresh(&self.rules, self.now);
        self.actual.customers_by_tier[usize::from(customer.tier).min(MAX_TIERS)] += 1;
        self.proposed.customers_by_tier[usize::from(proposed_tier.state.tier).min(MAX_TIERS)] += 1;
        self.proposed.customers += 1;
        self.proposed.outstanding += lots.held(customer.id);
        self.proposed.expiring_30_days += lots.expiring_before(self.now.day_start().plus(EXPIRING_SOON_SECS));
    }

    /// The figures; `actual_expiring_30_days` is the store's own figure
    /// ([`ProgramStats::expiring_30_days`](crate::ports::ProgramStats::expiring_30_days)
    /// for `now`'s day).
    pub fn finish(mut self, actual_expiring_30_days: Points) -> WhatIf {
        self.actual.expiring_30_days = actual_expiring_30_days;
        WhatIf { actual: self.actual, proposed: self.proposed, now: self.now }
    }
}

fn simulated_expiry(customer: &Customer, points: Points, at: Timestamp, seq: i64) -> LedgerEntry {
    LedgerEntry {
        id: EntryId(-seq),
        customer: customer.id,
        kind: EntryKind::Expiry,
        amount: -points,
        partner: None,
        purchase: None,
        idempotency_key: format!("whatif:{seq}"),
        author: Author::System,
        reverses: None,
        reason: None,
        created_at: at,
        rules_version: 0,
        cashier: None,
    }
}

/// Replays every customer of `store` (read only: pages of
/// [`Storage::export_customers`] and [`Storage::customer_entries`]) under
/// `rules` up to `now`.
///
/// # Errors
/// The first storage failure.
pub async fn run(store: &dyn Storage, rules: ProgramRules, now: Timestamp) -> StoreResult<WhatIf> {
    const PAGE: u32 = 100;
    let actual = store.program_rules().await?.rules;
    let rates = store.list_partners(None).await?.into_iter().map(|p| (p.id, p.terms.earn_rate_bps)).collect();
    let mut replay = Replay::new(rules, now).with_history(actual, rates);
    let mut after = None;
    loop {
        let page = store.export_customers(ExportCustomers { after, limit: MAX_EXPORT_PAGE }).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer.id);
        for history in &page {
            let mut entries: Vec<LedgerEntry> = Vec::new();
            let mut before = None;
            loop {
                let customer = history.customer.id;
                let got = store.customer_entries(EntriesPage { customer, limit: PAGE, before }).await?;
                let done = got.len() < PAGE as usize;
                before = got.last().map(|e| e.id);
                entries.extend(got);
                if done {
                    break;
                }
            }
            entries.reverse();
            replay.customer(&history.customer, &entries);
        }
    }
    let stats = store.program_stats(now.day_start()).await?;
    Ok(replay.finish(stats.expiring_30_days))
}

impl fmt::Display for WhatIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, p) = (&self.actual, &self.proposed);
        writeln!(f, "What-if up to {} UTC ({} customers)", self.now.utc_minutes(), a.customers)?;
        writeln!(f, "{:<28} {:>16} {:>16} {:>16}", "", "actual", "proposed", "difference")?;
        let rows: [(&str, Points, Points); 8] = [
            ("points issued", a.earned, p.earned),
            ("points redeemed", a.redeemed, p.redeemed),
            ("purchases reversed", a.reversed, p.reversed),
            ("debited by admins/imports", a.debited, p.debited),
            ("points expired", a.expired, p.expired),
            ("outstanding liability", a.outstanding, p.outstanding),
            ("expiring within 30 days", a.expiring_30_days, p.expiring_30_days),
            ("redemptions refused", a.refused_points, p.refused_points),
        ];
        for (name, actual, proposed) in rows {
            writeln!(f, "{name:<28} {actual:>16} {proposed:>16} {:>+16}", i128::from(proposed) - i128::from(actual))?;
        }
        if p.refused > 0 {
            writeln!(f, "{} debits would have found their points expired and been refused.", p.refused)?;
        }
        let tiers = |c: &Figures| {
            let counted = c.customers_by_tier.iter().enumerate().filter(|(_, n)| **n > 0);
            counted.map(|(t, n)| if t == 0 { format!("none {n}") } else { format!("{t}: {n}") }).collect::<Vec<_>>()
        };
        if a.customers_by_tier[1..].iter().chain(&p.customers_by_tier[1..]).any(|n| *n > 0) {
            writeln!(f, "{:<28} {:>16} {:>16}", "customers per tier", "", "")?;
            writeln!(f, "  actual:   {}", tiers(a).join(" · "))?;
            writeln!(f, "  proposed: {}", tiers(p).join(" · "))?;
        }
        Ok(())
    }
}

impl WhatIf {
    /// The answer as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }
}
