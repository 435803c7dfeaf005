//! `whatif` on a generated history whose answers are known by hand.

use loyalty_core::MemoryStore;
use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_core::program::{DAY_SECS, ProgramRules};
use loyalty_core::whatif::{self, Figures};

const T0: Timestamp = Timestamp(1_700_006_400);
const ADMIN: TelegramUserId = TelegramUserId(1);

fn day(n: i64) -> Timestamp {
    T0.plus(n * DAY_SECS)
}

/// Ten customers with 100 welcome points on day 0 (no expiry in force);
/// customer 0 earns 100 at a partner on day 35; customers 0–4 redeem 50 on
/// day 40; an admin takes 30 from customer 9 on day 50.
async fn history() -> MemoryStore {
    let s = MemoryStore::new();
    let app = PartnerApplication {
        telegram_id: TelegramUserId(900),
        name: "Cafe".into(),
        category: "cafe".into(),
        terms: PartnerTerms::default(),
        language: Language::En,
        now: T0,
    };
    let p = s.apply_partner(app).await.unwrap().partner;
    let approve = DecidePartner { partner: p.id, decision: PartnerDecision::Approve, admin: ADMIN, now: T0 };
    let p = s.decide_partner(approve).await.unwrap().partner;
    let mut customers = Vec::new();
    for i in 0..10u8 {
        let req = NewCustomer {
            telegram_id: TelegramUserId(100 + i64::from(i)),
            code: CustomerCode::from_random([9, 9, 9, 9, i]),
            first_name: format!("C{i}"),
            username: None,
            language: Language::En,
            referrer: None,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 100,
            referral_bonus: 0,
            now: T0,
        };
        customers.push(s.register_customer(req).await.unwrap().customer);
    }
    let c0 = &customers[0];
    let credit = CreditPurchase {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c0.id),
        purchase: 2_000,
        idempotency_key: "credit".into(),
        day_start: day(35).day_start(),
        now: day(35),
    };
    assert_eq!(s.credit_purchase(credit).await.unwrap().entry.amount, 100);
    for (i, c) in customers.iter().take(5).enumerate() {
        let open = OpenRedemption {
            partner: PartnerRef::Id(p.id),
            customer: CustomerRef::Id(c.id),
            points: 50,
            purchase: 1_000,
            idempotency_key: format!("open-{i}"),
            now: day(40),
            expires_at: day(40).plus(600),
        };
        let id = s.open_redemption(open).await.unwrap().request.id;
        let answer = AnswerRedemption { id, customer: CustomerRef::Id(c.id), now: day(40).plus(60) };
        s.confirm_redemption(answer).await.unwrap();
    }
    let adjust = AdjustBalance {
        customer: CustomerRef::Id(customers[9].id),
        amount: -30,
        reason: "correction".into(),
        admin: ADMIN,
        idempotency_key: "adjust".into(),
        now: day(50),
    };
    s.adjust_balance(adjust).await.unwrap();
    s
}

fn rules(json: &str) -> ProgramRules {
    ProgramRules::from_json(json).unwrap()
}

fn balanced(f: &Figures) {
    assert_eq!(f.outstanding, f.earned - f.redeemed - f.reversed - f.debited - f.expired, "{f:?}");
}

#[tokio::test]
async fn the_actual_column_is_the_ledger_and_no_expiry_changes_nothing() {
    let s = history().await;
    let w = whatif::run(&s, ProgramRules::default(), day(100)).await.unwrap();
    let mut customers_by_tier = [0; 11];
    customers_by_tier[0] = 10;
    let actual = Figures {
        customers: 10,
        earned: 1_100,
        redeemed: 250,
        debited: 30,
        outstanding: 820,
        customers_by_tier,
        ..Figures::default()
    };
    assert_eq!(w.actual, actual);
    assert_eq!(w.proposed, actual, "the same rules replay to the same figures");
    balanced(&w.actual);
}

#[tokio::test]
async fn thirty_days_expire_the_welcome_points_and_refuse_four_redemptions() {
    let s = history().await;
    let w = whatif::run(&s, rules(r#"{"expiry": {"days": 30}}"#), day(100)).await.unwrap();
    // Customer 0: the welcome 100 expire on day 30; the 100 earned on day 35
    // pay the 50 on day 40 and the other 50 expire on day 65. Customers 1–4:
    // nothing left on day 40 (4 refused, 200 points); 5–9: 100 expire each,
    // customer 9's debit on day 50 finds nothing (refused too).
    let p = w.proposed;
    assert_eq!((p.earned, p.redeemed, p.debited, p.expired, p.outstanding), (1_100, 50, 0, 1_050, 0), "{p:?}");
    assert_eq!((p.refused, p.refused_points), (5, 230));
    balanced(&p);
    let text = w.to_string();
    assert!(text.contains("points expired") && text.contains("+1050"), "{text}");
    assert!(text.contains("5 debits would have found their points expired"), "{text}");
    assert!(w.to_json().contains("\"refused_points\": 230"));
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/RULES.md")).unwrap();
    assert!(doc.contains(&text), "docs/RULES.md shows this very table:\n{text}");
}

#[tokio::test]
async fn sixty_days_let_the_redemptions_through_and_partner_periods_apply() {
    let s = history().await;
    let w = whatif::run(&s, rules(r#"{"expiry": {"days": 60}}"#), day(100)).await.unwrap();
    // Customer 0: the 50 on day 40 come from the welcome lot (soonest); its
    // other 50 expire on day 60, the 100 of day 35 on day 95. Customers 1–4:
    // 50 expire each on day 60; 5–8: 100 each; 9: 70 after the debit.
    let p = w.proposed;
    assert_eq!((p.redeemed, p.debited, p.expired, p.outstanding, p.refused), (250, 30, 820, 0, 0), "{p:?}");
    balanced(&p);

    // The partner's own period: its points last 90 days, the rest 60.
    let w = whatif::run(&s, rules(r#"{"expiry": {"days": 60, "partners": {"1": 90}}}"#), day(100)).await.unwrap();
    assert_eq!((w.proposed.expired, w.proposed.outstanding), (720, 100), "{:?}", w.proposed);
    // Seen on day 100 the partner's 100 expire on day 125: within 30 days.
    assert_eq!(w.proposed.expiring_30_days, 100);
    balanced(&w.proposed);
}

#[tokio::test]
async fn proposed_tiers_multiply_the_purchases_after_the_threshold_and_count_the_customers() {
    let s = history().await;
    // A second purchase of customer 0 on day 36: 100 points at 1×, as recorded.
    let p = s.list_partners(None).await.unwrap()[0].clone();
    let c0 = s.customer_summary(CustomerRef::Telegram(TelegramUserId(100)), 0).await.unwrap().unwrap().customer;
    let credit = CreditPurchase {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c0.id),
        purchase: 2_000,
        idempotency_key: "credit-2".into(),
        day_start: day(36).day_start(),
        now: day(36),
    };
    assert_eq!(s.credit_purchase(credit).await.unwrap().entry.amount, 100);
    let tiers = r#"{"tiers": {"window_days": 365, "levels": [
        {"name": {"en": "Silver"}, "threshold": 100, "multiplier_bps": 15000},
        {"name": {"en": "Gold"}, "threshold": 1000, "multiplier_bps": 20000}]}}"#;
    let w = whatif::run(&s, rules(tiers), day(100)).await.unwrap();
    // The first purchase (day 35) reaches Silver; the second earns 100 × 1.5 = 150.
    assert_eq!((w.actual.earned, w.proposed.earned), (1_200, 1_250), "{w:?}");
    assert_eq!((w.actual.outstanding, w.proposed.outstanding), (920, 970));
    assert_eq!(&w.actual.customers_by_tier[..3], &[10, 0, 0]);
    assert_eq!(&w.proposed.customers_by_tier[..3], &[9, 1, 0], "customer 0 in Silver");
    balanced(&w.proposed);
    let text = w.to_string();
    assert!(text.contains("actual:   none 10") && text.contains("proposed: none 9 · 1: 1"), "{text}");
    // A window that has slid past the purchases by day 100 leaves nobody in a tier.
    let short = r#"{"tiers": {"window_days": 30, "levels": [{"name": {"en": "Silver"}, "threshold": 100, "multiplier_bps": 15000}]}}"#;
    let w = whatif::run(&s, rules(short), day(100)).await.unwrap();
    assert_eq!((w.proposed.earned, w.proposed.customers_by_tier[0]), (1_250, 10), "{w:?}");
}
