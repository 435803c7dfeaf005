//! Property tests of the ledger invariants on [`MemoryStore`]: random sequences
//! of sign-ups, credits, redemptions, reversals, adjustments, expiries, blocks,
//! partner suspensions, time steps, replays of earlier idempotent calls and
//! conflicting reuses of their keys. After every step:
//!
//! - each balance equals the sum of that customer's entries and is never negative;
//! - balances equal an independent model built only from the entries the calls
//!   returned as new (so nothing is applied that a caller did not see);
//! - no idempotency key appears twice, no entry is reversed twice;
//! - no lot of points is consumed twice: each holds between 0 and what it was
//!   made with, and a customer's lots hold exactly the balance; right after an
//!   expiry run nothing past its date is left (under random rules versions);
//! - a rejected call, a replay and a conflicting key change no balance and add
//!   no entry; a replay of a successful call is flagged `replayed`.
//! - campaigns (random kinds, budgets, caps, birthdays) never pay past their
//!   budget or a customer's cap: what each has `issued` is the sum of its
//!   awards not reversed, an award is reversed exactly when its accrual is, and
//!   an accrual holds at least its awards.

use futures::executor::block_on;
use loyalty_core::MemoryStore;
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::program::ProgramRules;
use loyalty_core::program::campaigns::{Birthday, CampaignKind, CampaignTerms};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::{HashMap, HashSet};

const T0: Timestamp = Timestamp(1_700_006_400 + 30_000);
const ADMIN: TelegramUserId = TelegramUserId(1);

#[derive(Debug, Clone)]
enum Op {
    Register { referrer: Option<Index>, welcome: Points, referral: Points },
    Credit { partner: Index, customer: Index, purchase: Points },
    Open { partner: Index, customer: Index, points: Points, purchase: Points },
    Confirm { request: Index, pending_only: bool, other_customer: Option<Index> },
    Decline { request: Index },
    Reverse { entry: Index, own_partner: bool, partner: Index },
    Adjust { customer: Index, amount: Points },
    Expire,
    ExpirePoints,
    SetRules { days: Option<u32>, partner: Index, partner_days: Option<u32> },
    Block { customer: Index, blocked: bool },
    TogglePartner { partner: Index },
    Tick { secs: i64 },
    Campaign { kind: Index, budget: Points, cap: Option<Points>, partner: Option<Index> },
    Birthday { customer: Index, day: u8 },
    Replay { call: Index },
    Conflict { call: Index },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (proptest::option::of(any::<Index>()), 0..200i64, 0..100i64)
            .prop_map(|(referrer, welcome, referral)| Op::Register { referrer, welcome, referral }),
        5 => (any::<Index>(), any::<Index>(), 1..20_000i64)
            .prop_map(|(partner, customer, purchase)| Op::Credit { partner, customer, purchase }),
        4 => (any::<Index>(), any::<Index>(), 1..150i64, 100..3_000i64)
            .prop_map(|(partner, customer, points, purchase)| Op::Open { partner, customer, points, purchase }),
        4 => (any::<Index>(), proptest::bool::weighted(0.8), proptest::option::weighted(0.1, any::<Index>()))
            .prop_map(|(request, pending_only, other_customer)| Op::Confirm { request, pending_only, other_customer }),
        1 => any::<Index>().prop_map(|request| Op::Decline { request }),
        2 => (any::<Index>(), proptest::bool::weighted(0.8), any::<Index>())
            .prop_map(|(entry, own_partner, partner)| Op::Reverse { entry, own_partner, partner }),
        2 => (any::<Index>(), -400..400i64).prop_map(|(customer, amount)| Op::Adjust { customer, amount }),
        1 => Just(Op::Expire),
        2 => Just(Op::ExpirePoints),
        1 => (proptest::option::weighted(0.8, 1..5u32), any::<Index>(), proptest::option::of(1..3u32))
            .prop_map(|(days, partner, partner_days)| Op::SetRules { days, partner, partner_days }),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(customer, blocked)| Op::Block { customer, blocked }),
        1 => any::<Index>().prop_map(|partner| Op::TogglePartner { partner }),
        2 => prop_oneof![4 => 0..300i64, 1 => 0..100_000i64].prop_map(|secs| Op::Tick { secs }),
        1 => (any::<Index>(), 1..2_000i64, proptest::option::weighted(0.5, 1..500i64), proptest::option::of(any::<Index>()))
            .prop_map(|(kind, budget, cap, partner)| Op::Campaign { kind, budget, cap, partner }),
        1 => (any::<Index>(), 1..=28u8).prop_map(|(customer, day)| Op::Birthday { customer, day }),
        3 => any::<Index>().prop_map(|call| Op::Replay { call }),
        1 => any::<Index>().prop_map(|call| Op::Conflict { call }),
    ]
}

/// A successful idempotent call, kept to be replayed later.
#[derive(Debug, Clone)]
enum Call {
    Credit(CreditPurchase),
    Open(OpenRedemption),
    Reverse(ReverseEntry),
    Adjust(AdjustBalance),
    Confirm(AnswerRedemption),
    Decline(AnswerRedemption),
}

struct World {
    store: MemoryStore,
    now: Timestamp,
    seq: u32,
    partners: Vec<Partner>,
    requests: Vec<RedemptionId>,
    calls: Vec<Call>,
    /// Expected balances, from the new entries the calls returned.
    model: HashMap<CustomerId, Points>,
    model_entries: usize,
}

impl World {
    fn new() -> World {
        let mut w = World {
            store: MemoryStore::new(),
            now: T0,
            seq: 0,
            partners: Vec::new(),
            requests: Vec::new(),
            calls: Vec::new(),
            model: HashMap::new(),
            model_entries: 0,
        };
        for limit in [1_000_000, 300, 1_000_000] {
            let app = PartnerApplication {
                telegram_id: TelegramUserId(9_000 + w.partners.len() as i64),
                name: "P".into(),
                category: "shop".into(),
                terms: PartnerTerms { daily_credit_limit: limit, ..PartnerTerms::default() },
                language: Language::En,
                now: T0,
            };
            let p = block_on(w.store.apply_partner(app)).unwrap().partner;
            let p = block_on(w.store.decide_partner(DecidePartner {
                partner: p.id,
                decision: PartnerDecision::Approve,
                admin: ADMIN,
                now: T0,
            }))
            .unwrap()
            .partner;
            w.partners.push(p);
        }
        for _ in 0..2 {
            w.register(None, 100, 0);
        }
        w
    }

    fn key(&mut self, what: &str) -> String {
        self.seq += 1;
        format!("{what}-{}", self.seq)
    }

    fn customers(&self) -> Vec<Customer> {
        self.store.customers().unwrap()
    }

    fn customer(&self, i: &Index) -> Customer {
        let all = self.customers();
        all[i.index(all.len())].clone()
    }

    fn partner(&self, i: &Index) -> Partner {
        self.partners[i.index(self.partners.len())].clone()
    }

    fn learn(&mut self, e: &LedgerEntry) {
        *self.model.entry(e.customer).or_insert(0) += e.amount;
        self.model_entries += 1;
    }

    fn register(&mut self, referrer: Option<CustomerCode>, welcome: Points, referral: Points) {
        self.seq += 1;
        let n = self.seq;
        let b = n.to_be_bytes();
        let req = NewCustomer {
            telegram_id: TelegramUserId(100_000 + i64::from(n)),
            code: CustomerCode::from_random([7, b[0], b[1], b[2], b[3]]),
            first_name: "C".into(),
            username: None,
            language: Language::Ru,
            referrer,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: welcome,
            referral_bonus: referral,
            now: self.now,
        };
        let r = block_on(self.store.register_customer(req)).unwrap();
        assert!(r.created);
        self.model.entry(r.customer.id).or_insert(0);
        if let Some(e) = &r.welcome {
            self.learn(e);
        }
        if let Some((_, e)) = &r.referral {
            self.learn(e);
        }
    }

    /// Runs an idempotent call; returns whether it succeeded, whether it was
    /// flagged as a replay, and the new entry it returned (when not replayed).
    fn call(&mut self, call: &Call) -> Result<(bool, Option<LedgerEntry>), StoreError> {
        let s = &self.store;
        Ok(match call.clone() {
            Call::Credit(r) => {
                let c = block_on(s.credit_purchase(r))?;
                (c.replayed, Some(c.entry))
            }
            Call::Open(r) => {
                let v = block_on(s.open_redemption(r))?;
                if !v.replayed {
                    self.requests.push(v.request.id);
                }
                (v.replayed, None)
            }
            Call::Reverse(r) => {
                let v = block_on(s.reverse_entry(r))?;
                (v.replayed, Some(v.reversal))
            }
            Call::Adjust(r) => {
                let v = block_on(s.adjust_balance(r))?;
                (v.replayed, Some(v.entry))
            }
            Call::Confirm(r) => {
                let v = block_on(s.confirm_redemption(r))?;
                (v.replayed, v.entry)
            }
            Call::Decline(r) => {
                let v = block_on(s.decline_redemption(r))?;
                (v.replayed, None)
            }
        })
    }

    /// A fresh call: on success the new entry goes into the model and the call
    /// is kept for replays.
    /// Answering an already answered request the same way is a replay.
    fn fresh(&mut self, call: Call) {
        let before = self.snapshot();
        match self.call(&call) {
            Ok((false, entry)) => {
                if let Some(e) = entry {
                    self.learn(&e);
                }
                self.calls.push(call);
            }
            Ok((true, _)) => {
                assert!(matches!(call, Call::Confirm(_) | Call::Decline(_)), "a fresh call replayed: {call:?}");
                assert_eq!(self.snapshot(), before, "a repeated answer changed the ledger");
            }
            Err(_) => {}
        }
    }

    fn step(&mut self, op: &Op) {
        let now = self.now;
        match op {
            Op::Register { referrer, welcome, referral } => {
                let code = referrer.as_ref().map(|i| self.customer(i).code);
                self.register(code, *welcome, *referral);
            }
            Op::Credit { partner, customer, purchase } => {
                let req = CreditPurchase {
                    partner: PartnerRef::Id(self.partner(partner).id),
                    customer: CustomerRef::Code(self.customer(customer).code),
                    purchase: *purchase,
                    idempotency_key: self.key("credit"),
                    day_start: now.day_start(),
                    now,
                };
                self.fresh(Call::Credit(req));
            }
            Op::Open { partner, customer, points, purchase } => {
                let req = OpenRedemption {
                    partner: PartnerRef::Telegram(self.partner(partner).telegram_id),
                    customer: CustomerRef::Id(self.customer(customer).id),
                    points: *points,
                    purchase: *purchase,
                    idempotency_key: self.key("open"),
                    now,
                    expires_at: now.plus(rules::REDEMPTION_TTL_SECS),
                };
                self.fresh(Call::Open(req));
            }
            Op::Confirm { request, pending_only, other_customer } => {
                let all = self.store.redemptions().unwrap();
                let candidates: Vec<&RedemptionRequest> =
                    all.iter().filter(|r| !pending_only || r.status == RedemptionStatus::Pending).collect();
                if candidates.is_empty() {
                    return;
                }
                let (id, owner) = {
                    let r = candidates[request.index(candidates.len())];
                    (r.id, r.customer)
                };
                let customer = match other_customer {
                    Some(i) => CustomerRef::Id(self.customer(i).id),
                    None => CustomerRef::Id(owner),
                };
                self.fresh(Call::Confirm(AnswerRedemption { id, customer, now }));
            }
            Op::Decline { request } => {
                if self.requests.is_empty() {
                    return;
                }
                let id = self.requests[request.index(self.requests.len())];
                let owner = self.store.redemptions().unwrap()[(id.0 - 1) as usize].customer;
                self.fresh(Call::Decline(AnswerRedemption { id, customer: CustomerRef::Id(owner), now }));
            }
            Op::Reverse { entry, own_partner, partner } => {
                let entries = self.store.entries().unwrap();
                let e = &entries[entry.index(entries.len())];
                let p = match e.partner {
                    Some(p) if *own_partner => p,
                    _ => self.partner(partner).id,
                };
                let req = ReverseEntry {
                    entry: e.id,
                    partner: PartnerRef::Id(p),
                    idempotency_key: self.key("reverse"),
                    not_before: now.plus(-rules::REVERSAL_WINDOW_SECS),
                    now,
                };
                self.fresh(Call::Reverse(req));
            }
            Op::Adjust { customer, amount } => {
                let req = AdjustBalance {
                    customer: CustomerRef::Telegram(self.customer(customer).telegram_id),
                    amount: *amount,
                    reason: "prop".into(),
                    admin: ADMIN,
                    idempotency_key: self.key("adjust"),
                    now,
                };
                self.fresh(Call::Adjust(req));
            }
            Op::Campaign { kind, budget, cap, partner } => {
                let kinds = [
                    CampaignKind::Multiplier,
                    CampaignKind::FirstPurchase,
                    CampaignKind::Birthday,
                    CampaignKind::NthVisit,
                ];
                let kind = kinds[kind.index(kinds.len())];
                let multiplier = kind == CampaignKind::Multiplier;
                let terms = CampaignTerms {
                    multiplier_bps: if multiplier { 15_000 } else { 10_000 },
                    points: if multiplier { 0 } else { 7 },
                    nth: if kind == CampaignKind::NthVisit { 2 } else { 0 },
                    window_days: if kind == CampaignKind::Birthday { 30 } else { 0 },
                    partner: partner.as_ref().map(|p| self.partner(p).id),
                    cap_per_customer: *cap,
                    budget: *budget,
                    ..loyalty_testkit::requests::campaign_terms(kind, T0, 400)
                };
                let by = CampaignActor::Admin(ADMIN);
                block_on(self.store.create_campaign(CreateCampaign { terms, by, now, idempotency_key: None })).unwrap();
            }
            Op::Birthday { customer, day } => {
                // Birthdays near the tests' dates (November), so birthday campaigns pay.
                let birthday = Birthday::new(11, *day).unwrap();
                let req = SetBirthday { customer: CustomerRef::Id(self.customer(customer).id), birthday, now };
                let _ = block_on(self.store.set_birthday(req));
            }
            Op::Expire => {
                let expired = block_on(self.store.expire_redemptions(now)).unwrap();
                assert!(expired.iter().all(|r| r.expires_at < now && r.status == RedemptionStatus::Expired));
            }
            Op::ExpirePoints => {
                let expired = block_on(self.store.expire_points(ExpirePoints { now, limit: 500 })).unwrap();
                for e in &expired {
                    assert_eq!((e.entry.kind, e.entry.created_at), (EntryKind::Expiry, now));
                    assert!(e.entry.amount < 0, "an expiry takes points");
                    self.learn(&e.entry);
                }
                let again = block_on(self.store.expire_points(ExpirePoints { now, limit: 500 })).unwrap();
                assert!(again.is_empty(), "a second run at the same time finds nothing");
                let lots = self.store.lots().unwrap();
                assert!(
                    lots.iter().all(|l| l.remaining == 0 || l.expires_at.is_none_or(|at| at > now)),
                    "nothing past its date is left after a run"
                );
            }
            Op::SetRules { days, partner, partner_days } => {
                let mut rules = ProgramRules::default();
                rules.expiry.days = *days;
                if let Some(d) = partner_days {
                    rules.expiry.partners.insert(self.partner(partner).id, *d);
                }
                block_on(self.store.set_program_rules(SetProgramRules { rules, admin: Some(ADMIN), now })).unwrap();
            }
            Op::Block { customer, blocked } => {
                let c = self.customer(customer);
                block_on(self.store.set_blocked(SetBlocked {
                    who: CustomerRef::Id(c.id),
                    blocked: *blocked,
                    admin: ADMIN,
                    now,
                }))
                .unwrap();
            }
            Op::TogglePartner { partner } => {
                let p = block_on(self.store.partner(PartnerRef::Id(self.partner(partner).id))).unwrap().unwrap();
                let decision = match p.status {
                    PartnerStatus::Approved => PartnerDecision::Suspend,
                    _ => PartnerDecision::Approve,
                };
                block_on(self.store.decide_partner(DecidePartner { partner: p.id, decision, admin: ADMIN, now }))
                    .unwrap();
            }
            Op::Tick { secs } => self.now = now.plus(*secs),
            Op::Replay { call } => {
                if self.calls.is_empty() {
                    return;
                }
                let call = self.calls[call.index(self.calls.len())].clone();
                let call = with_now(call, now);
                let before = self.snapshot();
                let result = self.call(&call);
                assert!(matches!(result, Ok((true, _))), "replay of {call:?} gave {result:?}");
                assert_eq!(self.snapshot(), before, "a replay changed the ledger: {call:?}");
            }
            Op::Conflict { call } => {
                if self.calls.is_empty() {
                    return;
                }
                let Some(call) = conflicting(self.calls[call.index(self.calls.len())].clone()) else {
                    return;
                };
                let before = self.snapshot();
                let result = self.call(&call);
                assert!(
                    matches!(result, Err(StoreError::Rejected(Rejection::IdempotencyConflict))),
                    "conflicting {call:?} gave {result:?}"
                );
                assert_eq!(self.snapshot(), before, "a conflict changed the ledger");
            }
        }
    }

    fn snapshot(&self) -> (Vec<Points>, usize) {
        (self.customers().iter().map(|c| c.balance).collect(), self.store.entries().unwrap().len())
    }

    fn check_invariants(&self) {
        let entries = self.store.entries().unwrap();
        let mut sums: HashMap<CustomerId, Points> = HashMap::new();
        let mut keys = HashSet::new();
        let mut reversed = HashSet::new();
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.id, EntryId(i as i64 + 1), "entry ids increase");
            *sums.entry(e.customer).or_insert(0) += e.amount;
            assert!(keys.insert(e.idempotency_key.as_str()), "key {} used twice", e.idempotency_key);
            if let Some(original) = e.reverses {
                assert!(reversed.insert(original), "entry {original} reversed twice");
                let o = &entries[(original.0 - 1) as usize];
                assert!(matches!(o.kind, EntryKind::Accrual | EntryKind::Redemption));
                assert_eq!((o.customer, o.amount), (e.customer, -e.amount));
            }
        }
        for c in self.customers() {
            let sum = sums.get(&c.id).copied().unwrap_or(0);
            assert_eq!(c.balance, sum, "balance of {} vs its entries", c.id);
            assert!(c.balance >= 0, "negative balance of {}", c.id);
            assert_eq!(self.model.get(&c.id).copied(), Some(c.balance), "balance of {} vs the model", c.id);
        }
        assert_eq!(entries.len(), self.model_entries, "entries nobody was told about");
        // Campaigns: issued = their awards not reversed, within the budget and every customer's cap.
        let awards = self.store.awards().unwrap();
        let campaigns =
            block_on(self.store.campaigns(ListCampaigns { partner: None, limit: MAX_CAMPAIGNS_LISTED })).unwrap();
        for c in &campaigns {
            let mine = awards.iter().filter(|a| a.campaign == c.id && !a.reversed);
            assert_eq!(c.issued, mine.clone().map(|a| a.points).sum::<Points>(), "issued by campaign {}", c.id);
            assert!(c.issued <= c.terms.budget, "campaign {} past its budget", c.id);
            if let Some(cap) = c.terms.cap_per_customer {
                let mut per: HashMap<CustomerId, Points> = HashMap::new();
                for a in mine {
                    *per.entry(a.customer).or_insert(0) += a.points;
                }
                assert!(per.values().all(|p| *p <= cap), "campaign {} past its cap: {per:?}", c.id);
            }
        }
        let mut paid: HashMap<EntryId, Points> = HashMap::new();
        for a in &awards {
            let e = &entries[(a.entry.0 - 1) as usize];
            assert_eq!((e.kind, e.customer), (EntryKind::Accrual, a.customer), "an award on {}", a.entry);
            assert_eq!(a.reversed, reversed.contains(&a.entry), "award on {} reversed with it", a.entry);
            *paid.entry(a.entry).or_insert(0) += a.points;
        }
        assert!(paid.iter().all(|(e, p)| entries[(e.0 - 1) as usize].amount >= *p), "an accrual holds its awards");
        // No lot gives more than it had, and the lots hold exactly the balance.
        let mut held: HashMap<CustomerId, Points> = HashMap::new();
        for lot in self.store.lots().unwrap() {
            assert!(
                (0..=lot.amount).contains(&lot.remaining),
                "lot of entry {} holds {} of {}",
                lot.entry,
                lot.remaining,
                lot.amount
            );
            *held.entry(lot.customer).or_insert(0) += lot.remaining;
        }
        for c in self.customers() {
            assert_eq!(held.get(&c.id).copied().unwrap_or(0), c.balance, "lots of {} vs its balance", c.id);
        }
        for r in self.store.redemptions().unwrap() {
            let confirmed = r.status == RedemptionStatus::Confirmed;
            assert_eq!(confirmed, r.entry.is_some(), "request {} status vs entry", r.id);
            if let Some(id) = r.entry {
                let e = &entries[(id.0 - 1) as usize];
                assert_eq!((e.kind, e.amount, e.customer), (EntryKind::Redemption, -r.points, r.customer));
            }
        }
    }
}

/// The same call made later: times move, the parameters compared do not.
fn with_now(call: Call, now: Timestamp) -> Call {
    match call {
        Call::Credit(r) => Call::Credit(CreditPurchase { now, day_start: now.day_start(), ..r }),
        Call::Open(r) => Call::Open(OpenRedemption { now, expires_at: now.plus(600), ..r }),
        Call::Reverse(r) => Call::Reverse(ReverseEntry { now, not_before: now, ..r }),
        Call::Adjust(r) => Call::Adjust(AdjustBalance { now, ..r }),
        Call::Confirm(r) => Call::Confirm(AnswerRedemption { now, ..r }),
        Call::Decline(r) => Call::Decline(AnswerRedemption { now, ..r }),
    }
}

/// The call's key with different parameters, for calls that have a key.
fn conflicting(call: Call) -> Option<Call> {
    Some(match call {
        Call::Credit(r) => Call::Credit(CreditPurchase { purchase: r.purchase + 1, ..r }),
        Call::Open(r) => Call::Open(OpenRedemption { points: r.points + 1, ..r }),
        Call::Reverse(r) => Call::Reverse(ReverseEntry { entry: EntryId(r.entry.0 + 1), ..r }),
        Call::Adjust(r) => Call::Adjust(AdjustBalance { amount: r.amount + 1, ..r }),
        Call::Confirm(_) | Call::Decline(_) => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn ledger_invariants_hold(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        world.check_invariants();
        for op in &ops {
            let before = world.snapshot();
            let calls = world.calls.len();
            world.step(op);
            // A rejected fresh call changes nothing.
            if world.calls.len() == calls && matches!(op, Op::Credit { .. } | Op::Open { .. } | Op::Confirm { .. }
                | Op::Decline { .. } | Op::Reverse { .. } | Op::Adjust { .. }) {
                prop_assert_eq!(world.snapshot(), before, "a rejected {:?} changed the ledger", op);
            }
            world.check_invariants();
        }
    }
}

proptest! {
    /// The one formula of earning (`rules::earned`): at 1× it is the base; a
    /// tier never earns less than the base nor more than the multiplier
    /// allows; more purchase or a higher multiplier never earns less; the
    /// result is the exact floor of purchase × rate × multiplier / 10⁸ taken
    /// in two steps, within one base point of the one-step floor; and no
    /// input overflows.
    #[test]
    fn earning_is_the_base_times_the_tier(
        purchase in 0..=rules::MAX_PURCHASE,
        more in 0..=1_000_000i64,
        rate in 0..=1_000_000u32,
        multiplier in 10_000..=100_000u32,
        higher in 0..=10_000u32,
    ) {
        let base = rules::accrual(purchase, rate);
        let earned = rules::earned(purchase, rate, multiplier);
        prop_assert_eq!(rules::earned(purchase, rate, 10_000), base);
        prop_assert!(earned >= base && i128::from(earned) <= i128::from(base) * 10);
        prop_assert!(rules::earned(purchase + more, rate, multiplier) >= earned);
        prop_assert!(rules::earned(purchase, rate, (multiplier + higher).min(100_000)) >= earned);
        let exact = i128::from(purchase) * i128::from(rate) * i128::from(multiplier) / 100_000_000;
        prop_assert!(i128::from(earned) <= exact && exact - i128::from(earned) <= i128::from(multiplier) / 10_000 + 1);
        prop_assert_eq!(rules::earned(Points::MAX, u32::MAX, u32::MAX), Points::MAX);
    }
}

proptest! {
    /// The stacking rule (`rules::stacked`): a campaign's multiplier applies
    /// to the tier's points, each step rounded down. At 1× either step is the
    /// other alone; a campaign never lowers the tier's points; more base, a
    /// higher tier or a higher campaign never earns less; the result is at
    /// most the exact product and less than it by under 1 + the campaign's
    /// factor; what a campaign pays — `floor(n × (bps − 10 000) / 10 000)` on
    /// the tier's points `n`, as the SQL stores compute it — is exactly the
    /// difference; and no input overflows.
    #[test]
    fn stacking_multiplies_the_tier_then_the_campaign(
        base in 0..=10_000_000_000_000i64,
        more in 0..=1_000_000i64,
        tier in 10_000..=100_000u32,
        campaign in 10_000..=100_000u32,
        higher in 0..=10_000u32,
    ) {
        let tiered = rules::accrual(base, tier);
        let total = rules::stacked(base, tier, campaign);
        prop_assert_eq!(rules::stacked(base, tier, 10_000), tiered);
        prop_assert_eq!(rules::stacked(base, 10_000, campaign), rules::accrual(base, campaign));
        prop_assert!(total >= tiered);
        prop_assert!(rules::stacked(base + more, tier, campaign) >= total);
        prop_assert!(rules::stacked(base, (tier + higher).min(100_000), campaign) >= total);
        prop_assert!(rules::stacked(base, tier, (campaign + higher).min(100_000)) >= total);
        let exact = i128::from(base) * i128::from(tier) * i128::from(campaign) / 100_000_000;
        prop_assert!(i128::from(total) <= exact);
        prop_assert!(exact - i128::from(total) <= 1 + i128::from(campaign) / 10_000);
        prop_assert_eq!(rules::accrual(tiered, campaign - 10_000), total - tiered);
        prop_assert_eq!(rules::stacked(Points::MAX, u32::MAX, u32::MAX), Points::MAX);
    }
}
