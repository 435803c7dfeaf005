//! The lots of earned points: the reference model of the expiry rule, which
//! [`MemoryStore`](crate::stores::memory::MemoryStore) keeps and
//! [`whatif`](crate::whatif) replays (the SQL stores keep the same rule in
//! their triggers; the conformance suite checks that they agree).
//!
//! * A counted entry with a positive amount makes a lot of that many points,
//!   expiring at `created_at` + the days of the rules in force
//!   ([`expiry_date`]) — except a reversal of a redemption that took from
//!   lots, which gives each lot back what the redemption took.
//! * A counted entry with a negative amount takes its points from the
//!   customer's lots with points left: the lot of the entry it reverses
//!   first, then the soonest expiry date (lots that never expire last), then
//!   the oldest lot.

use super::{DAY_SECS, EXPIRING_DATES, ExpiringPoints, ProgramRules};
use crate::domain::{CustomerId, EntryId, EntryKind, LedgerEntry, Points, Timestamp};
use std::collections::{BTreeMap, HashMap};

/// Points earned by one entry, as far as they are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lot {
    /// Whose points.
    pub customer: CustomerId,
    /// The entry that made it.
    pub entry: EntryId,
    /// Points it was made with.
    pub amount: Points,
    /// Points left, `0..=amount`.
    pub remaining: Points,
    /// When what is left expires (`None`: never).
    pub expires_at: Option<Timestamp>,
    /// A reminder has announced its points.
    pub reminded: bool,
}

/// When the points of `entry` expire under `rules`: the partner's own period
/// for an entry with a partner listed in `expiry.partners`, else
/// `expiry.days`; `None`: never.
pub fn expiry_date(rules: &ProgramRules, entry: &LedgerEntry) -> Option<Timestamp> {
    let expiry = &rules.expiry;
    let days = entry.partner.and_then(|p| expiry.partners.get(&p)).or(expiry.days.as_ref());
    days.map(|d| entry.created_at.plus(i64::from(*d) * DAY_SECS))
}

/// Every customer's lots.
#[derive(Debug, Clone, Default)]
pub struct Lots {
    lots: Vec<Lot>,
    by_customer: HashMap<CustomerId, Vec<usize>>,
    /// What each entry took from which lot.
    uses: HashMap<EntryId, Vec<(usize, Points)>>,
}

impl Lots {
    /// No lots.
    pub fn new() -> Lots {
        Lots::default()
    }

    /// Every lot, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Lot> + '_ {
        self.lots.iter()
    }

    /// A customer's lots, oldest first.
    fn of(&self, customer: CustomerId) -> impl Iterator<Item = (usize, &Lot)> + '_ {
        self.by_customer.get(&customer).into_iter().flatten().map(|i| (*i, &self.lots[*i]))
    }

    /// Points left in a customer's lots (their balance, when every entry went through [`Lots::apply`]).
    pub fn held(&self, customer: CustomerId) -> Points {
        self.of(customer).fold(0, |sum: Points, (_, l)| sum.saturating_add(l.remaining))
    }

    /// Applies `entry` (the rule above) under `rules`.
    ///
    /// # Errors
    /// A debit the customer's lots cannot cover changes nothing and gives
    /// the points missing.
    pub fn apply(&mut self, entry: &LedgerEntry, rules: &ProgramRules) -> Result<(), Points> {
        if !entry.kind.counts() || entry.amount == 0 {
            return Ok(());
        }
        let customer = entry.customer;
        if entry.amount > 0 {
            let restore = entry.reverses.and_then(|r| self.uses.get(&r)).filter(|u| !u.is_empty());
            if entry.kind == EntryKind::Reversal
                && let Some(uses) = restore.cloned()
            {
                for (lot, points) in uses {
                    self.lots[lot].remaining += points;
                }
                return Ok(());
            }
            let amount = entry.amount;
            let expires_at = expiry_date(rules, entry);
            self.lots.push(Lot { customer, entry: entry.id, amount, remaining: amount, expires_at, reminded: false });
            self.by_customer.entry(customer).or_default().push(self.lots.len() - 1);
            return Ok(());
        }
        let need = entry.amount.saturating_neg();
        let held = self.held(customer);
        if held < need {
            return Err(need - held);
        }
        let mut order: Vec<(usize, &Lot)> = self.of(customer).filter(|(_, l)| l.remaining > 0).collect();
        order.sort_by_key(|(i, l)| (Some(l.entry) != entry.reverses, l.expires_at.is_none(), l.expires_at, *i));
        let order: Vec<usize> = order.into_iter().map(|(i, _)| i).collect();
        let (mut need, mut uses) = (need, Vec::new());
        for i in order {
            if need == 0 {
                break;
            }
            let lot = &mut self.lots[i];
            let take = need.min(lot.remaining);
            lot.remaining -= take;
            need -= take;
            uses.push((i, take));
        }
        self.uses.insert(entry.id, uses);
        Ok(())
    }

    /// Per customer (in id order), the points left in lots expiring at or before `now`.
    pub fn due(&self, now: Timestamp) -> BTreeMap<CustomerId, Points> {
        let mut due = BTreeMap::<CustomerId, Points>::new();
        for lot in self.lots.iter().filter(|l| l.remaining > 0 && l.expires_at.is_some_and(|at| at <= now)) {
            *due.entry(lot.customer).or_default() += lot.remaining;
        }
        due
    }

    /// A customer's points left by expiry date, soonest first, [`EXPIRING_DATES`] dates at most.
    pub fn expiring(&self, customer: CustomerId) -> Vec<ExpiringPoints> {
        let mut by_date = BTreeMap::<Timestamp, Points>::new();
        for (_, lot) in self.of(customer).filter(|(_, l)| l.remaining > 0) {
            if let Some(at) = lot.expires_at {
                *by_date.entry(at).or_default() += lot.remaining;
            }
        }
        by_date.into_iter().take(EXPIRING_DATES).map(|(at, points)| ExpiringPoints { points, at }).collect()
    }

    /// Points left in lots expiring before `until`, over every customer (saturating).
    pub fn expiring_before(&self, until: Timestamp) -> Points {
        self.lots
            .iter()
            .filter(|l| l.expires_at.is_some_and(|at| at < until))
            .fold(0, |sum: Points, l| sum.saturating_add(l.remaining))
    }

    /// Announces, for up to `limit` customers in id order for whom `told`
    /// holds, the unannounced points left in lots expiring in
    /// `(now, now + days]`: each customer's sum and soonest date. Those lots
    /// become announced.
    pub fn remind(
        &mut self,
        now: Timestamp,
        days: u32,
        limit: usize,
        told: impl Fn(CustomerId) -> bool,
    ) -> Vec<(CustomerId, Points, Timestamp)> {
        let until = now.plus(i64::from(days) * DAY_SECS);
        let mut due = BTreeMap::<CustomerId, Vec<usize>>::new();
        for (i, lot) in self.lots.iter().enumerate() {
            let window = lot.expires_at.is_some_and(|at| at > now && at <= until);
            if lot.remaining > 0 && !lot.reminded && window && told(lot.customer) {
                due.entry(lot.customer).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for (customer, lots) in due.into_iter().take(limit) {
            let (mut points, mut at) = (0, None::<Timestamp>);
            for i in lots {
                let lot = &mut self.lots[i];
                lot.reminded = true;
                points += lot.remaining;
                at = at.into_iter().chain(lot.expires_at).min();
            }
            if let Some(at) = at {
                out.push((customer, points, at));
            }
        }
        out
    }
}
