//! Scenario tests: simulated people talk to the three bots through the real
//! webhook entry point with a stepped clock. See `testkit::scenario`.

use bytes::Bytes;
use http::{Request, StatusCode};
use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::domain::{CustomerCode, EntryKind, PartnerStatus, RedemptionId, RedemptionStatus, TelegramUserId};
use loyalty_core::ports::{AnswerRedemption, CustomerRef, EntriesPage, PartnerRef, Rejection, StoreError};
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser, text_json};

fn people() -> (TgUser, TgUser, TgUser, TgUser) {
    (
        TgUser::new(101, "Anna"),
        TgUser::new(102, "Boris").lang("ru"),
        TgUser::new(201, "Linh").lang("vi"),
        TgUser::new(ADMIN_CHAT, "Admin"),
    )
}

/// Linh applies (force-reply prompt) and the admin approves with the button.
async fn onboard_partner(h: &Harness, linh: &TgUser, admin: &TgUser) {
    let asked = h.say(Partner, linh, "/start").await;
    let prompt = asked.prompt(linh.id).expect("application prompt");
    let applied = h.answer(Partner, linh, &prompt, "Phở Hà Nội; cafe").await;
    assert!(applied.button(ADMIN_CHAT, "pa:").is_some(), "the admin chat gets Approve/Reject buttons");
    let pending = h.say(Admin, admin, "/pending").await;
    let approve = pending.button(ADMIN_CHAT, "pa:").expect("approve button");
    let approved = h.press(Admin, admin, &approve).await;
    assert!(!approved.texts_to(linh.id).is_empty(), "the partner hears about the approval");
}

/// The whole program story; returns a snapshot of the end state.
async fn story(h: &Harness) -> String {
    let (anna, boris, linh, admin) = people();
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.expect("registered");
    h.say(Client, &boris, &format!("/start ref_{code}")).await;
    onboard_partner(h, &linh, &admin).await;

    let scanned = h.say(Partner, &linh, &format!("/start c_{code}")).await;
    let credit = scanned.button(linh.id, "cr:").expect("credit button");
    let asked = h.press(Partner, &linh, &credit).await;
    let prompt = asked.prompt(linh.id).expect("amount prompt");
    h.answer(Partner, &linh, &prompt, "10000").await;

    let requested = h.say(Partner, &linh, &format!("/redeem {code} 100 5000")).await;
    let confirm = requested.button(anna.id, "rc:").expect("confirm button");
    h.press(Client, &anna, &confirm).await;
    h.press(Client, &anna, &confirm).await; // a double tap
    h.say(Admin, &admin, &format!("/adjust {code} 25 goodwill")).await;
    h.say(Client, &anna, "/history").await;
    snapshot(h).await
}

async fn snapshot(h: &Harness) -> String {
    let (anna, boris, linh, _) = people();
    let s = &h.env.storage;
    let mut out = String::new();
    for who in [&anna, &boris] {
        let sum = s.customer_summary(CustomerRef::Telegram(TelegramUserId(who.id)), 100).await.expect("storage");
        out.push_str(&format!("{sum:?}\n"));
    }
    let p = s.partner(PartnerRef::Telegram(TelegramUserId(linh.id))).await.expect("storage");
    out.push_str(&format!("{p:?}\n{:?}\n", s.program_stats(h.engine().now().day_start()).await.expect("storage")));
    out
}

/// Anna has signed up and Linh's café is approved: the start of most journeys.
/// Returns the harness, Anna, Linh and Anna's card code.
async fn anna_and_linh() -> (Harness, TgUser, TgUser, CustomerCode) {
    let h = Harness::new(TestEnv::new());
    let (anna, _, linh, admin) = people();
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.unwrap();
    onboard_partner(&h, &linh, &admin).await;
    (h, anna, linh, code)
}

#[tokio::test]
async fn sign_up_with_referral() {
    let h = Harness::new(TestEnv::new());
    let (anna, boris, _, _) = people();
    let welcome = h.say(Client, &anna, "/start").await;
    assert_eq!(welcome.status, StatusCode::OK);
    assert_eq!(h.balance(&anna).await, 100, "welcome bonus");
    let code = h.code(&anna).await.unwrap();
    let joined = h.say(Client, &boris, &format!("/start ref_{code}")).await;
    assert_eq!(h.balance(&boris).await, 100);
    assert_eq!(h.balance(&anna).await, 150, "referral bonus to the referrer");
    assert!(!joined.texts_to(anna.id).is_empty(), "the referrer is told");
    // Starting again changes nothing.
    h.say(Client, &boris, &format!("/start ref_{code}")).await;
    h.say(Client, &anna, &format!("/start ref_{code}")).await;
    assert_eq!((h.balance(&anna).await, h.balance(&boris).await), (150, 100));
}

#[tokio::test]
async fn partner_applies_and_admin_approves() {
    let h = Harness::new(TestEnv::new());
    let (_, _, linh, admin) = people();
    onboard_partner(&h, &linh, &admin).await;
    let p = h.env.storage.partner(PartnerRef::Telegram(TelegramUserId(linh.id))).await.unwrap().unwrap();
    assert_eq!(p.status, PartnerStatus::Approved);
    assert_eq!(p.name, "Phở Hà Nội");
}

#[tokio::test]
async fn scan_card_credit_and_redeem_with_confirmation() {
    let (h, anna, linh, code) = anna_and_linh().await;

    h.say(Partner, &linh, &format!("/credit {code} 1999")).await;
    assert_eq!(h.balance(&anna).await, 100 + 99, "5 % of 1999, floored");

    let requested = h.say(Partner, &linh, &format!("/redeem {code} 50 1000")).await;
    assert_eq!(h.balance(&anna).await, 199, "nothing moves before the customer confirms");
    let confirm = requested.button(anna.id, "rc:").expect("confirm button to the customer");
    let confirmed = h.press(Client, &anna, &confirm).await;
    assert_eq!(h.balance(&anna).await, 149);
    assert!(!confirmed.texts_to(linh.id).is_empty(), "the partner is told");
    let again = h.press(Client, &anna, &confirm).await;
    assert_eq!(h.balance(&anna).await, 149, "a double tap applies once");
    assert!(again.texts_to(linh.id).is_empty(), "and tells nobody twice");
}

#[tokio::test]
async fn decline_and_expiry() {
    let (h, anna, linh, code) = anna_and_linh().await;

    let r = h.say(Partner, &linh, &format!("/redeem {code} 30 1000")).await;
    let decline = r.button(anna.id, "rd:").expect("decline button");
    h.press(Client, &anna, &decline).await;
    assert_eq!(h.balance(&anna).await, 100);

    let r = h.say(Partner, &linh, &format!("/redeem {code} 30 1000")).await;
    let confirm = r.button(anna.id, "rc:").expect("confirm button");
    h.advance(11 * 60);
    h.press(Client, &anna, &confirm).await;
    assert_eq!(h.balance(&anna).await, 100, "an expired request debits nothing");
    let id: i64 = confirm.trim_start_matches("rc:").split(':').next().unwrap().parse().unwrap();
    let cust = h.customer(&anna).await.unwrap().unwrap();
    let answer = h
        .env
        .storage
        .confirm_redemption(AnswerRedemption {
            id: RedemptionId(id),
            customer: CustomerRef::Id(cust.id),
            now: h.engine().now(),
        })
        .await;
    assert!(
        matches!(answer, Err(StoreError::Rejected(Rejection::RedemptionClosed { status: RedemptionStatus::Expired }))),
        "{answer:?}"
    );
}

#[tokio::test]
async fn reversal_within_a_day_only() {
    let (h, anna, linh, code) = anna_and_linh().await;
    h.say(Partner, &linh, &format!("/credit {code} 2000")).await;
    h.say(Partner, &linh, &format!("/credit {code} 4000")).await;
    let id = h.customer(&anna).await.unwrap().unwrap().id;
    let entries = h.env.storage.customer_entries(EntriesPage { customer: id, limit: 10, before: None }).await.unwrap();
    let accruals: Vec<_> = entries.iter().filter(|e| e.kind == EntryKind::Accrual).collect();
    assert_eq!(accruals.len(), 2);
    assert_eq!(h.balance(&anna).await, 100 + 100 + 200);

    h.say(Partner, &linh, &format!("/reverse {}", accruals[0].id)).await; // the newest: 200
    assert_eq!(h.balance(&anna).await, 200);
    h.say(Partner, &linh, &format!("/reverse {}", accruals[0].id)).await;
    assert_eq!(h.balance(&anna).await, 200, "reversed once only");
    h.advance(25 * 3600);
    h.say(Partner, &linh, &format!("/reverse {}", accruals[1].id)).await;
    assert_eq!(h.balance(&anna).await, 200, "not after 24 h");
}

#[tokio::test]
async fn broadcast_reaches_every_customer() {
    let h = Harness::new(TestEnv::new());
    let admin = TgUser::new(ADMIN_CHAT, "Admin");
    for i in 0..30 {
        h.say(Client, &TgUser::new(1000 + i, "C"), "/start").await;
    }
    let d = h.say(Admin, &admin, "/broadcast customers Double points this weekend!").await;
    let delivered =
        d.calls.iter().filter(|c| c.bot == Client && c.text().is_some_and(|t| t.contains("Double points"))).count();
    assert_eq!(delivered, 30);
    assert!(d.texts_to(ADMIN_CHAT).len() >= 2, "queued + progress/done reported to the admin chat");
}

#[tokio::test]
async fn every_update_delivered_twice_ends_in_the_same_state() {
    let once = Harness::new(TestEnv::new());
    let twice = Harness::new(TestEnv::new()).deliver_twice(true);
    let a = story(&once).await;
    let b = story(&twice).await;
    assert_eq!(a, b);
    assert!(a.contains("balance"), "the snapshot has content: {a}");
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let h = Harness::new(TestEnv::new());
    let (anna, _, linh, admin) = people();
    h.say(Client, &anna, "/start").await;
    onboard_partner(&h, &linh, &admin).await;
    let code = h.code(&anna).await.unwrap();
    let before = snapshot(&h).await;

    let credit = serde_json::to_vec(&text_json(9000, &linh, &format!("/credit {code} 5000"))).unwrap();
    // Wrong secret.
    let mut req = h.webhook_request(Partner, credit.clone());
    req.headers_mut().insert("x-telegram-bot-api-secret-token", "wrong".parse().unwrap());
    assert_eq!(h.post(Partner, req).await.status, StatusCode::UNAUTHORIZED);
    // No secret.
    let mut req = h.webhook_request(Partner, credit.clone());
    req.headers_mut().remove("x-telegram-bot-api-secret-token");
    assert_eq!(h.post(Partner, req).await.status, StatusCode::UNAUTHORIZED);
    // Malformed JSON.
    assert_eq!(
        h.post(Partner, h.webhook_request(Partner, "{\"update_id\": 1, ")).await.status,
        StatusCode::BAD_REQUEST
    );
    // Oversized body.
    let huge = vec![b' '; (1 << 20) + 1];
    assert_eq!(h.post(Partner, h.webhook_request(Partner, huge)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Unknown commands get help and change nothing.
    let d = h.say(Partner, &linh, "/frobnicate 1 2 3").await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(!d.texts_to(linh.id).is_empty());
    h.say(Client, &anna, "/nonsense").await;
    h.say(Admin, &admin, "/launch_missiles").await;
    // Forged initData.
    let req = Request::builder()
        .uri("/api/v1/me")
        .header("authorization", format!("tma user=%7B%22id%22%3A{}%7D&auth_date=1795683600&hash=00ff", anna.id))
        .body(Bytes::new())
        .unwrap();
    assert_eq!(h.engine().handle_api(req).await.response.status(), StatusCode::UNAUTHORIZED);
    // Bad Sentry signature.
    let req = Request::builder()
        .method("POST")
        .uri("/hooks/sentry")
        .header("content-type", "application/json")
        .header("sentry-hook-resource", "event_alert")
        .header("sentry-hook-signature", "00".repeat(32))
        .body(Bytes::from_static(b"{\"action\":\"triggered\",\"data\":{}}"))
        .unwrap();
    let out = h.engine().handle_api(req).await;
    assert_eq!(out.response.status(), StatusCode::UNAUTHORIZED);
    assert!(out.deferred.is_empty());

    assert_eq!(snapshot(&h).await, before);
}

#[tokio::test]
async fn a_month_of_a_cafe_with_rules_tiers_and_campaigns() {
    let env = loyalty_testkit::TestEnv::new();
    let month = loyalty_testkit::cafe_month::play(&env).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(month.campaigns.len(), 3);
    assert!(month.nightly_messages > 0, "reminders, expiries and tier changes reach the customers");
}
