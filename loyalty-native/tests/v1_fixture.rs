//! Generates the schema-v1 fixture databases of `tests/fixtures/` with the
//! schema-v1 `SqliteStore` (the store before it ran the D1 statements), and
//! `v1.json`, what the migration test expects to find in `v1.db` after the
//! upgrade. Ignored: the files are committed, and this test only makes sense
//! while the store writes schema v1. Run it with
//! `cargo test -p loyalty-native --test v1_fixture -- --ignored`.

use loyalty_core::domain::*;
use loyalty_core::ports::*;
use loyalty_native::store::sqlite::{SCHEMA_VERSION, SqliteStore};
use serde_json::{Value, json};
use std::path::Path;

/// The day everything happens on (00:00 UTC) and 09:00 on it.
const DAY: Timestamp = Timestamp(1_694_995_200);
const T0: Timestamp = Timestamp(1_694_995_200 + 9 * 3_600);
const ADMIN: TelegramUserId = TelegramUserId(1);

fn customer(tg: i64, seed: u8, language: Language, welcome: Points, referrer: Option<&Customer>) -> NewCustomer {
    NewCustomer {
        telegram_id: TelegramUserId(tg),
        code: CustomerCode::from_random([seed, 0, 0, 0, 7]),
        first_name: format!("Customer {tg}"),
        username: (seed % 2 == 1).then(|| format!("user{tg}")),
        language,
        referrer: referrer.map(|r| r.code.clone()),
        welcome_bonus: welcome,
        referral_bonus: 50,
        now: T0,
    }
}

async fn partner(s: &SqliteStore, tg: i64, name: &str, decisions: &[PartnerDecision]) -> Partner {
    let applied = s
        .apply_partner(PartnerApplication {
            telegram_id: TelegramUserId(tg),
            name: name.into(),
            category: "cafe".into(),
            terms: PartnerTerms { earn_rate_bps: 1_000, max_redeem_share_bps: 5_000, daily_credit_limit: 1_000_000 },
            language: Language::En,
            now: T0,
        })
        .await
        .unwrap();
    let mut p = applied.partner;
    for d in decisions {
        p = s.decide_partner(p.id, *d, ADMIN, T0).await.unwrap().partner;
    }
    p
}

fn credit(p: &Partner, c: &Customer, purchase: Points, key: &str) -> CreditPurchase {
    CreditPurchase {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c.id),
        purchase,
        idempotency_key: key.into(),
        day_start: DAY,
        now: T0,
    }
}

fn open(p: &Partner, c: &Customer, points: Points, key: &str, now: Timestamp) -> OpenRedemption {
    OpenRedemption {
        partner: PartnerRef::Id(p.id),
        customer: CustomerRef::Id(c.id),
        points,
        purchase: 1_000,
        idempotency_key: key.into(),
        now,
        expires_at: now.plus(rules::REDEMPTION_TTL_SECS),
    }
}

fn answer(r: &RedemptionView, now: Timestamp) -> AnswerRedemption {
    AnswerRedemption { id: r.request.id, customer: CustomerRef::Id(r.request.customer), now }
}

fn reverse(entry: &LedgerEntry, key: &str) -> ReverseEntry {
    ReverseEntry {
        entry: entry.id,
        partner: PartnerRef::Id(entry.partner.unwrap()),
        idempotency_key: key.into(),
        not_before: T0.plus(-rules::REVERSAL_WINDOW_SECS),
        now: T0.plus(300),
    }
}

fn adjust(c: &Customer, amount: Points, reason: &str, key: &str) -> AdjustBalance {
    AdjustBalance {
        customer: CustomerRef::Id(c.id),
        amount,
        reason: reason.into(),
        admin: ADMIN,
        idempotency_key: key.into(),
        now: T0.plus(600),
    }
}

fn broadcast(audience: Audience, text: &str, key: &str) -> NewBroadcast {
    NewBroadcast { audience, text: text.into(), admin_chat: ADMIN.0, idempotency_key: key.into(), now: T0 }
}

/// Fills `s` with a bit of everything the schema holds and returns the
/// expectations of `v1.json`.
async fn populate(s: &SqliteStore) -> Value {
    use PartnerDecision::*;
    // Customers: one referred by another, one without bonus, one blocked, one blocked and unblocked.
    let ann = s.register_customer(customer(7001, 1, Language::En, 100, None)).await.unwrap().customer;
    let bob = s.register_customer(customer(7002, 2, Language::Ru, 100, Some(&ann))).await.unwrap().customer;
    let chi = s.register_customer(customer(7003, 3, Language::Vi, 0, None)).await.unwrap().customer;
    let dan = s.register_customer(customer(7004, 4, Language::En, 100, None)).await.unwrap().customer;
    let eve = s.register_customer(customer(7005, 5, Language::Ru, 100, None)).await.unwrap().customer;
    s.set_blocked(CustomerRef::Id(dan.id), true, ADMIN, T0).await.unwrap();
    s.set_blocked(CustomerRef::Id(eve.id), true, ADMIN, T0).await.unwrap();
    s.set_blocked(CustomerRef::Id(eve.id), false, ADMIN, T0).await.unwrap();

    // Partners in every status; three with a POS API key.
    let pho = partner(s, 8001, "Pho 24", &[Approve]).await;
    let tea = partner(s, 8002, "Tea House", &[Approve]).await;
    partner(s, 8003, "Newcomer", &[]).await;
    partner(s, 8004, "Declined", &[Reject]).await;
    let old = partner(s, 8005, "Old Shop", &[Approve]).await;
    let mut api_keys = serde_json::Map::new();
    for (p, key) in [(&pho, "pos-key-pho"), (&tea, "pos-key-tea"), (&old, "pos-key-old")] {
        let hash = rules::hash_api_key(key);
        s.set_partner_api_key(PartnerRef::Id(p.id), hash.clone()).await.unwrap();
        api_keys.insert(hash, json!(p.id));
    }

    // Accruals, one reversed; the suspended partner credited before its suspension.
    s.credit_purchase(credit(&pho, &ann, 20_000, "pos-1")).await.unwrap();
    let bob_accrual = s.credit_purchase(credit(&pho, &bob, 5_000, "pos-2")).await.unwrap().entry;
    s.reverse_entry(reverse(&bob_accrual, "rev-1")).await.unwrap();
    s.credit_purchase(credit(&tea, &chi, 3_000, "pos-3")).await.unwrap();
    s.credit_purchase(credit(&old, &eve, 1_000, "pos-4")).await.unwrap();
    s.decide_partner(old.id, Suspend, ADMIN, T0).await.unwrap();

    // Redemption requests: confirmed, confirmed then reversed, declined,
    // expired by the sweep, expired by a late answer, and one still open.
    let mut requests = Vec::new();
    let r = s.open_redemption(open(&pho, &ann, 400, "open-1", T0.plus(10))).await.unwrap();
    requests.push(s.confirm_redemption(answer(&r, T0.plus(20))).await.unwrap().request);
    let r = s.open_redemption(open(&tea, &ann, 100, "open-2", T0.plus(30))).await.unwrap();
    let confirmed = s.confirm_redemption(answer(&r, T0.plus(40))).await.unwrap();
    s.reverse_entry(reverse(confirmed.entry.as_ref().unwrap(), "rev-2")).await.unwrap();
    requests.push(confirmed.request);
    let r = s.open_redemption(open(&pho, &bob, 100, "open-3", T0.plus(50))).await.unwrap();
    requests.push(s.decline_redemption(answer(&r, T0.plus(60))).await.unwrap().request);
    s.open_redemption(open(&tea, &chi, 50, "open-4", T0.plus(60))).await.unwrap();
    let late = s.open_redemption(open(&pho, &eve, 50, "open-5", T0.plus(120))).await.unwrap();
    let too_late = answer(&late, late.request.expires_at.plus(1));
    assert_eq!(s.confirm_redemption(too_late).await, Err(StoreError::Rejected(Rejection::RedemptionExpired)));
    requests.push(RedemptionRequest { status: RedemptionStatus::Expired, ..late.request });
    requests.extend(s.expire_redemptions(T0.plus(3_600)).await.unwrap());
    let pending = s.open_redemption(open(&pho, &ann, 300, "open-6", T0.plus(7_200))).await.unwrap();
    requests.push(pending.request);
    requests.sort_by_key(|r| r.id);

    // Admin adjustments, up and down.
    s.adjust_balance(adjust(&chi, 250, "goodwill", "adj-1")).await.unwrap();
    s.adjust_balance(adjust(&bob, -30, "typo", "adj-2")).await.unwrap();

    // Update claims (one released again) and quotas.
    let claims = [(BotKind::Client, 101), (BotKind::Partner, 102), (BotKind::Admin, 103), (BotKind::Alerts, 104)];
    for (bot, id) in claims {
        assert!(s.claim_update(bot, id, T0).await.unwrap());
    }
    assert!(s.claim_update(BotKind::Client, 105, T0).await.unwrap());
    s.release_update(BotKind::Client, 105).await.unwrap();
    let quotas = [(ann.telegram_id, 3), (bob.telegram_id, 1)];
    for (user, used) in quotas {
        for _ in 0..used {
            assert!(s.consume_quota(QuotaKind::Assistant, user, DAY, 5).await.unwrap());
        }
    }

    // Broadcasts: one delivered, one half-way, one not started.
    let delivered = s.create_broadcast(broadcast(Audience::Customers, "Happy hour", "b-1")).await.unwrap();
    let batch = s.claim_broadcast_batch(delivered.id, 100).await.unwrap();
    assert!(batch.job.done);
    let delivered = s.record_broadcast(delivered.id, batch.recipients.len() as u32, 0).await.unwrap();
    let halfway = s.create_broadcast(broadcast(Audience::Partners, "New terms", "b-2")).await.unwrap();
    let batch = s.claim_broadcast_batch(halfway.id, 1).await.unwrap();
    assert!(!batch.job.done);
    let halfway = s.record_broadcast(halfway.id, 0, 1).await.unwrap();
    let fresh = s.create_broadcast(broadcast(Audience::Customers, "Weekend", "b-3")).await.unwrap();

    let mut customers = Vec::new();
    for c in [&ann, &bob, &chi, &dan, &eve] {
        customers.push(s.customer_summary(CustomerRef::Id(c.id), 1_000).await.unwrap().unwrap());
    }
    let audit: Vec<String> = s.audit_log().await.unwrap().iter().map(|r| format!("{r:?}")).collect();
    json!({
        "day": DAY,
        "t0": T0,
        "customers": customers,
        "partners": s.list_partners(None).await.unwrap(),
        "api_keys": api_keys,
        "redemptions": requests,
        "claims": claims.iter().map(|(bot, id)| json!({"bot": bot, "update_id": id})).collect::<Vec<_>>(),
        "released": [{"bot": BotKind::Client, "update_id": 105}],
        "quotas": quotas.iter().map(|(user, used)| json!({"kind": QuotaKind::Assistant, "user": user, "day": DAY, "used": used})).collect::<Vec<_>>(),
        "broadcasts": [delivered, halfway, fresh],
        "pending_broadcasts": s.pending_broadcasts().await.unwrap(),
        "audit": audit,
        "program_stats": s.program_stats(DAY).await.unwrap(),
    })
}

/// Rows per table of a v1 file, read directly.
fn row_counts(path: &Path) -> Value {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables =
        ["customers", "partners", "entries", "redemptions", "update_claims", "quotas", "broadcasts", "audit_log"];
    let counts: serde_json::Map<String, Value> = tables
        .iter()
        .map(|t| {
            let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0)).unwrap();
            (t.to_string(), json!(n))
        })
        .collect();
    Value::Object(counts)
}

#[tokio::test]
#[ignore = "writes the committed tests/fixtures/v1*.db with the schema-v1 SqliteStore; run it only while that store exists"]
async fn generate_the_v1_fixtures() {
    assert_eq!(SCHEMA_VERSION, 1, "this generator writes schema-v1 files only");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["v1.db", "v1-empty.db"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    // An empty v1 database, and one with data; dropping the store closes
    // every connection, which checkpoints the WAL into the file.
    drop(SqliteStore::open(dir.join("v1-empty.db")).unwrap());
    let store = SqliteStore::open(dir.join("v1.db")).unwrap();
    let mut expected = populate(&store).await;
    drop(store);
    for name in ["v1.db", "v1-empty.db"] {
        assert!(!dir.join(format!("{name}-wal")).exists(), "{name}: the WAL was not checkpointed");
    }
    expected["rows"] = row_counts(&dir.join("v1.db"));
    let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
    std::fs::write(dir.join("v1.json"), text).unwrap();
}
