//! The partner bot, driven through `Engine::handle_update` over the in-memory
//! store and the testkit fakes: applying and being approved, scanning a card,
//! crediting (by command and by prompt), the daily limit, redelivered updates,
//! redemption requests, reversals, figures, POS keys and expiry.

use loyalty_core::domain::{Customer, EntryKind, Language, PartnerId, PartnerStatus, TelegramUserId, rules};
use loyalty_core::ports::Clock;
use loyalty_core::ports::{EntriesPage, PartnerRef};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::{BotCall, Update};
use loyalty_core::{Outbox, Task};
use loyalty_testkit::{
    ADMIN_CHAT, TestEnv, TgUser, buttons, callback, first_text, forces_reply, reply, text, text_json, texts_to,
};
use std::sync::atomic::{AtomicI64, Ordering};

/// A fresh update id: idempotency keys derive from it, so each action needs its own.
fn uid() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

fn linh() -> TgUser {
    TgUser::new(201, "Linh").lang("vi")
}

fn merchant() -> TgUser {
    TgUser::new(202, "Mark")
}

fn admin() -> TgUser {
    TgUser::new(ADMIN_CHAT, "Admin")
}

async fn handle(env: &TestEnv, bot: BotKind, update: Update) -> Outbox {
    env.engine.handle_update(bot, &update).await.expect("no temporary failure")
}

async fn partner_says(env: &TestEnv, who: &TgUser, msg: &str) -> Outbox {
    handle(env, BotKind::Partner, text(uid(), who, msg)).await
}

async fn partner_status(env: &TestEnv, who: &TgUser) -> Option<PartnerStatus> {
    env.storage.partner(PartnerRef::Telegram(TelegramUserId(who.id))).await.unwrap().map(|p| p.status)
}

/// Applies with `/apply` and gets approved with the admin's button.
async fn approved_partner(env: &TestEnv, who: &TgUser) -> PartnerId {
    partner_says(env, who, "/apply Phở 24; cafe").await;
    let p = env.storage.partner(PartnerRef::Telegram(TelegramUserId(who.id))).await.unwrap().expect("applied");
    handle(env, BotKind::Admin, callback(uid(), &admin(), 77, &format!("pa:{}", p.id))).await;
    assert_eq!(partner_status(env, who).await, Some(PartnerStatus::Approved));
    p.id
}

/// A fresh engine with the customer Anna (101), named `name` and speaking
/// `language`, and Mark's approved business.
async fn anna_and_mark(name: &str, language: Language) -> (TestEnv, Customer, TgUser) {
    let env = TestEnv::new();
    let anna = env.customer(101, name, language).await;
    let mark = merchant();
    approved_partner(&env, &mark).await;
    (env, anna, mark)
}

#[tokio::test]
async fn apply_by_prompt_admin_approves_with_the_button() {
    let env = TestEnv::new();
    let linh = linh();
    let out = partner_says(&env, &linh, "/start").await;
    assert_eq!(out.calls.len(), 1);
    let prompt = first_text(&out);
    assert!(prompt.starts_with("📝") && forces_reply(&out.calls[0]), "{prompt}");
    assert!(prompt.contains("chấm phẩy"), "Vietnamese from the client's language_code: {prompt}");

    let out = handle(&env, BotKind::Partner, reply(uid(), &linh, &prompt, "Phở <Hà Nội>; quán ăn")).await;
    assert!(out.calls[0].bot == BotKind::Partner && out.calls[0].chat_id() == Some(linh.id));
    assert!(first_text(&out).contains("Phở &lt;Hà Nội&gt;"), "escaped: {}", first_text(&out));
    let notice = out.calls.iter().find(|c| c.bot == BotKind::Admin).expect("the admin chat is told");
    assert_eq!(notice.chat_id(), Some(ADMIN_CHAT));
    let p = env.storage.partner(PartnerRef::Telegram(TelegramUserId(linh.id))).await.unwrap().unwrap();
    assert_eq!((p.status, p.name.as_str(), p.category.as_str()), (PartnerStatus::Applied, "Phở <Hà Nội>", "quán ăn"));
    assert_eq!(p.language, Language::Vi);
    assert_eq!(buttons(notice), vec![format!("pa:{}", p.id), format!("pr:{}", p.id)]);
    assert!(notice.text().unwrap().contains(&linh.id.to_string()), "the applicant's Telegram is shown");

    // Applying again changes nothing and does not bother the admins twice.
    let again = partner_says(&env, &linh, "/apply Other; bar").await;
    assert_eq!(again.calls.len(), 1);
    assert!(first_text(&again).contains("Phở"), "{}", first_text(&again));

    // The admin presses Approve.
    let out = handle(&env, BotKind::Admin, callback(uid(), &admin(), 55, &format!("pa:{}", p.id))).await;
    assert_eq!(out.calls[0].method, "answerCallbackQuery");
    let edit = out.calls.iter().find(|c| c.method == "editMessageText").expect("the card shows the decision");
    assert_eq!(edit.params["message_id"], 55);
    assert!(buttons(edit).is_empty(), "buttons are gone");
    let told = texts_to(&out, BotKind::Partner, linh.id);
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("/credit") && told[0].contains("đối tác"), "how-to in Vietnamese: {}", told[0]);
    assert_eq!(partner_status(&env, &linh).await, Some(PartnerStatus::Approved));

    // A second press (another admin, or a double tap) tells nobody again.
    let out = handle(&env, BotKind::Admin, callback(uid(), &admin(), 55, &format!("pa:{}", p.id))).await;
    assert_eq!(out.calls.len(), 1, "only the callback answer: {:?}", out.calls);

    // An approved partner's /start is a greeting with the commands.
    assert!(first_text(&partner_says(&env, &linh, "/start").await).contains("/stats"));
}

#[tokio::test]
async fn rejected_applicant_may_apply_again() {
    let env = TestEnv::new();
    let mark = merchant();
    partner_says(&env, &mark, "/apply Mark's Bar; bar").await;
    let p = env.storage.partner(PartnerRef::Telegram(TelegramUserId(mark.id))).await.unwrap().unwrap();
    let out = handle(&env, BotKind::Admin, callback(uid(), &admin(), 5, &format!("pr:{}", p.id))).await;
    assert!(texts_to(&out, BotKind::Partner, mark.id)[0].contains("declined"));
    assert_eq!(partner_status(&env, &mark).await, Some(PartnerStatus::Rejected));

    let out = partner_says(&env, &mark, "/credit ABCD2345 100").await;
    assert!(first_text(&out).contains("declined"), "{}", first_text(&out));
    let out = partner_says(&env, &mark, "/start").await;
    assert!(out.calls.iter().any(forces_reply), "the application prompt again");

    let out = partner_says(&env, &mark, "/apply Mark's Grill; restaurant").await;
    assert_eq!(texts_to(&out, BotKind::Admin, ADMIN_CHAT).len(), 1, "a new application reaches the admins");
    assert_eq!(partner_status(&env, &mark).await, Some(PartnerStatus::Applied));
}

#[tokio::test]
async fn malformed_applications_are_explained() {
    let env = TestEnv::new();
    let mark = merchant();
    for bad in ["/apply Mark's Bar", "/apply ; bar", &format!("/apply {}; bar", "x".repeat(101))] {
        let out = partner_says(&env, &mark, bad).await;
        assert_eq!(out.calls.len(), 1);
        assert!(forces_reply(&out.calls[0]) && first_text(&out).starts_with("📝"), "{bad}");
        assert!(first_text(&out).contains("semicolon"));
    }
    assert_eq!(partner_status(&env, &mark).await, None);
}

#[tokio::test]
async fn only_approved_partners_operate() {
    let env = TestEnv::new();
    let anna = env.customer(101, "Anna", Language::En).await;
    let code = anna.code.to_string();
    let mark = merchant();

    let out = partner_says(&env, &mark, &format!("/credit {code} 1000")).await;
    assert!(first_text(&out).contains("/start"), "not a partner: {}", first_text(&out));
    partner_says(&env, &mark, "/apply Mark's Bar; bar").await;
    for cmd in [format!("/credit {code} 1000"), format!("/redeem {code} 10 1000"), "/stats".into(), "/apikey".into()] {
        let out = partner_says(&env, &mark, &cmd).await;
        assert_eq!(out.calls.len(), 1, "{cmd}");
        assert!(first_text(&out).contains("waiting for approval"), "{cmd}: {}", first_text(&out));
    }
    let out = handle(&env, BotKind::Partner, callback(uid(), &mark, 3, &format!("cr:{code}"))).await;
    assert_eq!(out.calls[0].method, "answerCallbackQuery");
    assert!(!out.calls.iter().any(forces_reply));
    assert_eq!(env.balance(&anna).await, 100, "nothing credited");

    // Suspension stops an approved partner too.
    let id = env.storage.partner(PartnerRef::Telegram(TelegramUserId(mark.id))).await.unwrap().unwrap().id;
    handle(&env, BotKind::Admin, text(uid(), &admin(), &format!("/approve {id}"))).await;
    partner_says(&env, &mark, &format!("/credit {code} 1000")).await;
    assert_eq!(env.balance(&anna).await, 150);
    let out = handle(&env, BotKind::Admin, text(uid(), &admin(), &format!("/suspend {id}"))).await;
    assert!(texts_to(&out, BotKind::Partner, mark.id)[0].contains("suspended"));
    let out = partner_says(&env, &mark, &format!("/credit {code} 1000")).await;
    assert!(first_text(&out).contains("suspended"));
    assert_eq!(env.balance(&anna).await, 150);
}

#[tokio::test]
async fn scanning_a_card_shows_the_customer_with_buttons() {
    let (env, anna, mark) = anna_and_mark("<Anna>", Language::En).await;

    let out = partner_says(&env, &mark, &format!("/start c_{}", anna.code)).await;
    assert_eq!(out.calls.len(), 1);
    let card = first_text(&out);
    assert!(card.contains("&lt;Anna&gt;") && card.contains(anna.code.as_str()) && card.contains("100"), "{card}");
    assert_eq!(buttons(&out.calls[0]), vec![format!("cr:{}", anna.code), format!("rq:{}", anna.code)]);

    // Typing the code (lower case, with a dash) works too.
    let typed = format!("{}-{}", &anna.code.as_str()[..4], &anna.code.as_str()[4..]).to_lowercase();
    let out = partner_says(&env, &mark, &typed).await;
    assert_eq!(buttons(&out.calls[0]).len(), 2);

    let out = partner_says(&env, &mark, "/start c_NOPE").await;
    assert!(first_text(&out).contains("not a customer code"));
    let out = partner_says(&env, &mark, "/start c_ZZZZZZZZ").await;
    assert!(first_text(&out).contains("No customer with this code"));
}

#[tokio::test]
async fn credit_by_command_and_by_prompt() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::Ru).await;

    let out = partner_says(&env, &mark, &format!("/credit {} 1999", anna.code)).await;
    let reply_text = first_text(&out);
    assert_eq!(out.calls[0].chat_id(), Some(mark.id));
    assert!(reply_text.contains("+99") && reply_text.contains("/reverse"), "{reply_text}");
    let told = texts_to(&out, BotKind::Client, anna.telegram_id.0);
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("+99") && told[0].contains("баланс"), "in the customer's language: {}", told[0]);
    assert_eq!(env.balance(&anna).await, 199);

    // Button → prompt with the code → answer with the amount.
    let out = handle(&env, BotKind::Partner, callback(uid(), &mark, 9, &format!("cr:{}", anna.code))).await;
    assert_eq!(out.calls[0].method, "answerCallbackQuery");
    let prompt_call = out.calls.iter().find(|c| forces_reply(c)).expect("amount prompt");
    let prompt = prompt_call.text().unwrap().to_string();
    assert!(prompt.starts_with(&format!("💳 {}", anna.code)), "{prompt}");

    let out = handle(&env, BotKind::Partner, reply(uid(), &mark, &prompt, "lots")).await;
    assert!(out.calls.iter().any(forces_reply), "asked again");
    assert_eq!(env.balance(&anna).await, 199);

    let out = handle(&env, BotKind::Partner, reply(uid(), &mark, &prompt, "2 000")).await;
    assert!(first_text(&out).contains("+100"), "{}", first_text(&out));
    assert_eq!(env.balance(&anna).await, 299);

    // Bad input changes nothing.
    for bad in ["/credit", "/credit XYZ 100", &format!("/credit {} -5", anna.code), &format!("/credit {} 0", anna.code)]
    {
        let out = partner_says(&env, &mark, bad).await;
        assert_eq!(out.calls.len(), 1, "{bad}");
    }
    assert_eq!(env.balance(&anna).await, 299);

    // A purchase too small for a point is said so, and the customer is not bothered.
    let out = partner_says(&env, &mark, &format!("/credit {} 10", anna.code)).await;
    assert_eq!(out.calls.len(), 1);
    assert!(first_text(&out).contains("too small"));
}

#[tokio::test]
async fn daily_limit_is_explained() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;

    // 5 % of 1 900 000 = 95 000 of the 100 000 a day.
    partner_says(&env, &mark, &format!("/credit {} 1900000", anna.code)).await;
    let out = partner_says(&env, &mark, &format!("/credit {} 200000", anna.code)).await;
    let t = first_text(&out);
    assert!(t.contains("Daily credit limit") && t.contains("5\u{202F}000"), "{t}");
    assert_eq!(out.calls.len(), 1, "the customer is not told about a refusal");
    assert_eq!(env.balance(&anna).await, 100 + 95_000);

    env.clock.advance(86_400);
    partner_says(&env, &mark, &format!("/credit {} 200000", anna.code)).await;
    assert_eq!(env.balance(&anna).await, 100 + 95_000 + 10_000, "a new day, a new limit");
}

#[tokio::test]
async fn a_redelivered_update_credits_once() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;

    let update = text(uid(), &mark, &format!("/credit {} 1000", anna.code));
    let first = handle(&env, BotKind::Partner, update.clone()).await;
    let second = handle(&env, BotKind::Partner, update).await;
    assert_eq!(env.balance(&anna).await, 150);
    assert_eq!(first_text(&first), first_text(&second), "the same answer");
    assert_eq!(texts_to(&first, BotKind::Client, anna.telegram_id.0).len(), 1);
    assert!(texts_to(&second, BotKind::Client, anna.telegram_id.0).is_empty(), "told once");
    let entries =
        env.storage.customer_entries(EntriesPage { customer: anna.id, limit: 10, before: None }).await.unwrap();
    assert_eq!(entries.iter().filter(|e| e.kind == EntryKind::Accrual).count(), 1);
}

#[tokio::test]
async fn redeem_asks_the_customer_and_debits_nothing_yet() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;

    let out = partner_says(&env, &mark, &format!("/redeem {} 50 1000", anna.code)).await;
    assert!(first_text(&out).contains("Request #1"), "{}", first_text(&out));
    let ask = out.calls.iter().find(|c| c.bot == BotKind::Client).expect("the customer is asked");
    assert_eq!(ask.chat_id(), Some(anna.telegram_id.0));
    assert!(ask.text().unwrap().contains("Phở 24") && ask.text().unwrap().contains("50"));
    assert_eq!(buttons(ask), vec!["rc:1:en".to_string(), "rd:1:en".to_string()]);
    assert_eq!(env.balance(&anna).await, 100, "no debit before confirmation");

    // The customer confirms in the client bot.
    handle(&env, BotKind::Client, callback(uid(), &TgUser::new(101, "Anna"), 4, "rc:1")).await;
    assert_eq!(env.balance(&anna).await, 50);

    // Through the button and the prompt.
    let out = handle(&env, BotKind::Partner, callback(uid(), &mark, 9, &format!("rq:{}", anna.code))).await;
    let prompt = out.calls.iter().find(|c| forces_reply(c)).and_then(BotCall::text).unwrap().to_string();
    assert!(prompt.starts_with(&format!("🎁 {}", anna.code)), "{prompt}");
    let out = handle(&env, BotKind::Partner, reply(uid(), &mark, &prompt, "20 200")).await;
    assert_eq!(buttons(out.calls.iter().find(|c| c.bot == BotKind::Client).unwrap()), vec!["rc:2:en", "rd:2:en"]);

    // Rules are explained.
    let out = partner_says(&env, &mark, &format!("/redeem {} 400 1000", anna.code)).await;
    assert!(first_text(&out).contains("At most 300"), "{}", first_text(&out));
    let out = partner_says(&env, &mark, &format!("/redeem {} 60 1000", anna.code)).await;
    assert!(first_text(&out).contains("Not enough points"), "{}", first_text(&out));
    let out = partner_says(&env, &mark, &format!("/redeem {} 60", anna.code)).await;
    assert!(first_text(&out).contains("Usage"));
    assert_eq!(env.balance(&anna).await, 50);
}

#[tokio::test]
async fn reverse_within_24_hours_only() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;

    partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    partner_says(&env, &mark, &format!("/credit {} 4000", anna.code)).await;
    let entries =
        env.storage.customer_entries(EntriesPage { customer: anna.id, limit: 10, before: None }).await.unwrap();
    let accruals: Vec<_> = entries.iter().filter(|e| e.kind == EntryKind::Accrual).collect();
    assert_eq!(env.balance(&anna).await, 400);

    let out = partner_says(&env, &mark, &format!("/reverse #{}", accruals[0].id)).await;
    assert!(first_text(&out).contains("reversed"), "{}", first_text(&out));
    let told = texts_to(&out, BotKind::Client, anna.telegram_id.0);
    assert!(told.len() == 1 && told[0].contains("−200"), "{told:?}");
    assert_eq!(env.balance(&anna).await, 200);

    let out = partner_says(&env, &mark, &format!("/reverse {}", accruals[0].id)).await;
    assert!(first_text(&out).contains("already been reversed"));
    env.clock.advance(rules::REVERSAL_WINDOW_SECS + 60);
    let out = partner_says(&env, &mark, &format!("/reverse {}", accruals[1].id)).await;
    assert!(first_text(&out).contains("24 hours"), "{}", first_text(&out));
    assert_eq!(env.balance(&anna).await, 200);

    // Another partner cannot touch these entries; garbage is explained.
    let other = TgUser::new(203, "Olga");
    approved_partner(&env, &other).await;
    let out = partner_says(&env, &other, &format!("/reverse {}", accruals[1].id)).await;
    assert!(first_text(&out).contains("No such operation"));
    assert!(first_text(&partner_says(&env, &other, "/reverse last").await).contains("Usage"));
}

#[tokio::test]
async fn stats_count_today_and_the_week() {
    let env = TestEnv::new();
    let anna = env.customer(101, "Anna", Language::En).await;
    let boris = env.customer(102, "Boris", Language::En).await;
    let mark = merchant();
    approved_partner(&env, &mark).await;

    partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await; // 100, 3 days ago
    env.clock.advance(3 * 86_400);
    partner_says(&env, &mark, &format!("/credit {} 4000", boris.code)).await; // 200
    partner_says(&env, &mark, &format!("/credit {} 1000", anna.code)).await; // 50
    let out = partner_says(&env, &mark, &format!("/redeem {} 30 1000", anna.code)).await;
    assert_eq!(buttons(&out.calls[1]), vec!["rc:1:en", "rd:1:en"]);
    handle(&env, BotKind::Client, callback(uid(), &TgUser::new(101, "Anna"), 4, "rc:1")).await;

    let t = first_text(&partner_says(&env, &mark, "/stats").await);
    assert!(t.contains("Customers: <b>2</b> / <b>2</b>"), "{t}");
    assert!(t.contains("Purchases: <b>2</b> / <b>3</b>"), "{t}");
    assert!(t.contains("Points issued: <b>250</b> / <b>350</b>"), "{t}");
    assert!(t.contains("Points redeemed: <b>30</b> / <b>30</b>"), "{t}");
}

#[tokio::test]
async fn api_key_is_shown_once_and_stored_hashed() {
    let env = TestEnv::new();
    let mark = merchant();
    let id = approved_partner(&env, &mark).await;

    let t = first_text(&partner_says(&env, &mark, "/apikey").await);
    let key = t.split(['<', '>']).find(|s| s.starts_with("lk_")).expect("the key is shown").to_string();
    assert_eq!(key.len(), 3 + 64);
    let found = env.storage.partner_by_api_key(&rules::hash_api_key(&key)).await.unwrap().expect("stored");
    assert_eq!(found.id, id);
    assert!(found.has_api_key);
    assert!(env.storage.partner_by_api_key(&key).await.unwrap().is_none(), "only the hash is stored");

    let t2 = first_text(&partner_says(&env, &mark, "/apikey").await);
    let key2 = t2.split(['<', '>']).find(|s| s.starts_with("lk_")).unwrap().to_string();
    assert_ne!(key, key2);
    assert!(env.storage.partner_by_api_key(&rules::hash_api_key(&key)).await.unwrap().is_none(), "replaced");
    assert!(env.storage.partner_by_api_key(&rules::hash_api_key(&key2)).await.unwrap().is_some());

    // Revoked: no key works until the next /apikey.
    let t3 = first_text(&partner_says(&env, &mark, "/apikey revoke").await);
    assert!(t3.contains("revoked") && !t3.contains("lk_"), "{t3}");
    assert!(env.storage.partner_by_api_key(&rules::hash_api_key(&key2)).await.unwrap().is_none(), "revoked");
    let p = env.storage.partner(PartnerRef::Id(id)).await.unwrap().unwrap();
    assert!(!p.has_api_key);
}

#[tokio::test]
async fn expired_requests_are_reported_to_the_partner() {
    let env = TestEnv::new();
    let anna = env.customer(101, "Anna", Language::En).await;
    let linh = linh();
    approved_partner(&env, &linh).await;
    partner_says(&env, &linh, &format!("/redeem {} 20 1000", anna.code)).await;
    env.telegram.take();

    assert_eq!(env.engine.expire_redemptions().await.unwrap(), 0, "not yet");
    env.clock.advance(rules::REDEMPTION_TTL_SECS + 1);
    assert_eq!(env.engine.expire_redemptions().await.unwrap(), 1);
    let calls = env.telegram.take();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].bot, calls[0].chat_id()), (BotKind::Partner, Some(linh.id)));
    assert!(calls[0].text().unwrap().contains("#1") && calls[0].text().unwrap().contains("hết hạn"));
    assert_eq!(env.engine.expire_redemptions().await.unwrap(), 0, "once");
    assert_eq!(env.balance(&anna).await, 100);
}

#[tokio::test]
async fn groups_are_ignored_and_help_is_given() {
    let env = TestEnv::new();
    let mark = merchant();
    approved_partner(&env, &mark).await;
    let mut v = text_json(uid(), &mark, "/stats");
    v["message"]["chat"] = serde_json::json!({"id": -100, "type": "supergroup", "title": "Staff"});
    let group: Update = serde_json::from_value(v).unwrap();
    assert!(handle(&env, BotKind::Partner, group).await.is_empty());

    for msg in ["/frobnicate", "/help", "hello"] {
        let out = partner_says(&env, &mark, msg).await;
        assert!(first_text(&out).contains("/credit"), "{msg}");
        assert!(out.tasks.is_empty() || matches!(out.tasks[0], Task::Call(_)));
    }
}

/// Nothing is looked up before a command's one storage call, yet people hear
/// what they heard before: a partner its own language, someone who is not an
/// approved partner where they stand — for mistakes too.
#[tokio::test]
async fn mistakes_and_second_applications_hear_where_they_stand() {
    let env = TestEnv::new();
    let stranger = TgUser::new(303, "Stranger");
    for cmd in ["/credit", "/credit ABC 1", "/redeem x", "/reverse abc"] {
        let out = partner_says(&env, &stranger, cmd).await;
        assert!(first_text(&out).contains("/start"), "{cmd}: not a partner: {}", first_text(&out));
    }

    // Mark applied in Vietnamese; his app is in English now.
    let mark = merchant().lang("vi");
    approved_partner(&env, &mark).await;
    let mark = mark.lang("en");
    let vi_usage = {
        let out = partner_says(&env, &mark, "/credit").await;
        first_text(&out)
    };
    let en = TgUser::new(404, "Other").lang("en");
    approved_partner(&env, &en).await;
    let en_usage = first_text(&partner_says(&env, &en, "/credit").await);
    assert_ne!(vi_usage, en_usage, "the usage text in the partner's language, not the app's");
    let bad_amount = partner_says(&env, &mark, "/credit ABCD2345 zero").await;
    assert!(first_text(&bad_amount).contains(&vi_usage), "{}", first_text(&bad_amount));

    // Applying again: the greeting with the commands, or the suspension.
    let out = partner_says(&env, &mark, "/apply Phở 25; bar").await;
    assert!(first_text(&out).contains("Phở 24"), "an approved partner is greeted: {}", first_text(&out));
    let out = partner_says(&env, &mark, "/apply no semicolon here").await;
    assert!(first_text(&out).contains("Phở 24"), "also for a malformed application: {}", first_text(&out));
    let id = env.storage.partner(PartnerRef::Telegram(TelegramUserId(mark.id))).await.unwrap().unwrap().id;
    handle(&env, BotKind::Admin, text(uid(), &admin(), &format!("/suspend {id}"))).await;
    let suspended = first_text(&partner_says(&env, &mark, "/credit").await);
    let out = partner_says(&env, &mark, "/apply Phở 25; bar").await;
    assert_eq!(first_text(&out), suspended, "a suspended partner hears it is suspended");
    assert_eq!(partner_status(&env, &mark).await, Some(PartnerStatus::Suspended), "nothing changed");
}

#[tokio::test]
async fn tiers_multiply_credits_with_the_formula_shown_and_the_customer_told() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;
    let tiers = r#"/rules {"tiers": {"window_days": 30, "grace_days": 0, "levels": [
        {"name": {"en": "Silver", "ru": "Серебро"}, "threshold": 100, "multiplier_bps": 15000,
         "perks": {"en": "A free coffee on Fridays"}},
        {"name": {"en": "Gold"}, "threshold": 1000, "multiplier_bps": 20000}]}}"#;
    handle(&env, BotKind::Admin, text(uid(), &admin(), tiers)).await;
    assert_eq!(env.storage.program_rules().await.unwrap().version, 1, "the admin set the tiers");

    // 5 % of 2000 = 100 points at 1×: Silver reached.
    let out = partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    let to_anna = texts_to(&out, BotKind::Client, 101);
    assert!(to_anna.iter().any(|t| t.contains("Your tier is now <b>Silver</b>")), "{to_anna:?}");
    assert!(!first_text(&out).contains("base"), "no formula at 1×: {}", first_text(&out));

    // The next 2000 earn 100 base × 1.5 = 150, and both sides see how.
    let out = partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    let reply = first_text(&out);
    assert!(reply.contains("+150") && reply.contains("100 base × 1.5 Silver"), "{reply}");
    let to_anna = texts_to(&out, BotKind::Client, 101);
    assert!(to_anna.iter().any(|t| t.contains("<b>+150</b>") && t.contains("(100 base × 1.5 Silver)")), "{to_anna:?}");

    let anna_tg = TgUser::new(101, "Anna");
    let balance =
        texts_to(&handle(&env, BotKind::Client, text(uid(), &anna_tg, "/balance")).await, BotKind::Client, 101);
    let balance = balance.join("\n");
    assert!(balance.contains("Tier: <b>Silver</b> (points × 1.5)"), "{balance}");
    assert!(balance.contains("A free coffee on Fridays"), "{balance}");
    assert!(balance.contains("750 more qualifying points to <b>Gold</b>"), "{balance}");
    let stats =
        texts_to(&handle(&env, BotKind::Admin, text(uid(), &admin(), "/stats")).await, BotKind::Admin, ADMIN_CHAT);
    assert!(stats[0].contains("Customers per tier: Silver 1 · Gold 0"), "{stats:?}");

    // Thirty days on the purchases leave the window: the job takes the tier (no grace) and says so.
    env.clock.advance(31 * 86_400);
    env.telegram.take();
    env.engine.maintenance_pass(0).await;
    let told: Vec<String> = env
        .telegram
        .take()
        .iter()
        .filter(|c| c.chat_id() == Some(101))
        .filter_map(|c| c.text().map(String::from))
        .collect();
    assert!(told.iter().any(|t| t.contains("Your tier has ended")), "{told:?}");
    let c = env.storage.customer_summary(loyalty_core::ports::CustomerRef::Id(anna.id), 0).await.unwrap().unwrap();
    assert_eq!(c.customer.tier, 0);
}

#[tokio::test]
async fn a_partners_campaign_pays_once_approved_with_the_formula_shown_and_stops_when_ended() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;
    let today = env.clock.now().utc_date();
    let later = env.clock.now().plus(30 * 86_400).utc_date();
    let doc = format!(
        r#"/campaign {{"title": {{"en": "Double week", "ru": "Двойная неделя"}}, "kind": "multiplier",
            "multiplier_bps": 20000, "starts": "{today}", "ends": "{later}", "budget": 900}}"#
    );
    let out = partner_says(&env, &mark, &doc).await;
    let reply = first_text(&out);
    assert!(reply.contains("sent to the program's admins for approval") && reply.contains("×2 points"), "{reply}");
    let to_admins = texts_to(&out, BotKind::Admin, ADMIN_CHAT).join("\n");
    assert!(to_admins.contains("proposes a campaign") && to_admins.contains("/campaign_approve 1"), "{to_admins}");
    // Waiting: the purchase earns its base only.
    let out = partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    assert!(first_text(&out).contains("+100") && !first_text(&out).contains("Double week"), "{}", first_text(&out));
    // A partner cannot approve its own; the admin can.
    assert!(first_text(&partner_says(&env, &mark, "/campaign_approve 1").await).contains("Commands"));
    let out = handle(&env, BotKind::Admin, text(uid(), &admin(), "/campaign_approve 1")).await;
    assert!(texts_to(&out, BotKind::Admin, ADMIN_CHAT)[0].contains("running"), "{out:?}");

    let out = partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    let reply = first_text(&out);
    assert!(reply.contains("+200") && reply.contains("100 base × 2 Double week"), "{reply}");
    let to_anna = texts_to(&out, BotKind::Client, 101);
    assert!(
        to_anna.iter().any(|t| t.contains("<b>+200</b>") && t.contains("(100 base × 2 Double week)")),
        "{to_anna:?}"
    );
    let listed = first_text(&partner_says(&env, &mark, "/campaigns").await);
    assert!(listed.contains("#1 Double week") && listed.contains("Paid 100 of 900 points"), "{listed}");
    let all = handle(&env, BotKind::Admin, text(uid(), &admin(), "/campaigns")).await;
    assert!(texts_to(&all, BotKind::Admin, ADMIN_CHAT)[0].contains("Paid 100 of 900 points"), "{all:?}");

    // The partner ends it: purchases earn their base again.
    assert!(first_text(&partner_says(&env, &mark, "/campaign_end 1").await).contains("ended"));
    let out = partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    assert!(first_text(&out).contains("+100"), "{}", first_text(&out));
    // A bad document says why and makes nothing.
    let bad = partner_says(&env, &mark, r#"/campaign {"title": {"en": "X"}, "kind": "birthday"}"#).await;
    assert!(first_text(&bad).contains("The campaign is invalid"), "{}", first_text(&bad));
    assert!(first_text(&partner_says(&env, &mark, "/campaign").await).contains("\"kind\": \"multiplier\""));
}

#[tokio::test]
async fn a_birthday_is_set_once_and_its_campaign_pays_in_the_window() {
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;
    let anna_tg = TgUser::new(101, "Anna");
    let say = |msg: &'static str| handle(&env, BotKind::Client, text(uid(), &anna_tg, msg));
    assert!(first_text(&say("/birthday").await).contains("/birthday DD.MM"));
    assert!(first_text(&say("/birthday 31.02").await).contains("/birthday DD.MM"), "no such date");
    let (_, month, day) = {
        let date = env.clock.now().utc_date();
        let parts: Vec<u32> = date.split('-').map(|p| p.parse().unwrap()).collect();
        (parts[0], parts[1], parts[2])
    };
    let set = handle(&env, BotKind::Client, text(uid(), &anna_tg, &format!("/birthday {day:02}.{month:02}"))).await;
    assert!(first_text(&set).contains("Your birthday is saved"), "{}", first_text(&set));
    let again = first_text(&say("/birthday 01.01").await);
    assert!(again.contains("already set") && again.contains(&format!("{day:02}.{month:02}")), "{again}");

    let (today, later) = (env.clock.now().utc_date(), env.clock.now().plus(90 * 86_400).utc_date());
    let doc = format!(
        r#"/campaign {{"title": {{"en": "Happy birthday"}}, "kind": "birthday", "points": 300, "window_days": 7,
            "starts": "{today}", "ends": "{later}", "budget": 10000}}"#
    );
    let out = handle(&env, BotKind::Admin, text(uid(), &admin(), &doc)).await;
    assert!(texts_to(&out, BotKind::Admin, ADMIN_CHAT)[0].contains("Campaign created"), "{out:?}");
    let out = partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    assert!(first_text(&out).contains("+400") && first_text(&out).contains("100 base + 300 Happy birthday"));
    let out = partner_says(&env, &mark, &format!("/credit {} 2000", anna.code)).await;
    assert!(first_text(&out).contains("+100"), "once a year: {}", first_text(&out));
}

#[tokio::test]
async fn the_apps_rotating_card_code_works_until_it_expires() {
    use loyalty_core::card::CardKey;
    let (env, anna, mark) = anna_and_mark("Anna", Language::En).await;
    let key = CardKey::from_client_token("1001:client-token");
    let shown = key.issue(&anna.code, env.engine.now());

    // Scanned (the deep link), typed, or in a command: the customer it names.
    let out = partner_says(&env, &mark, &format!("/start c_{}", shown.text)).await;
    assert_eq!(buttons(&out.calls[0]), vec![format!("cr:{}", anna.code), format!("rq:{}", anna.code)]);
    let out = partner_says(&env, &mark, &shown.text.to_lowercase()).await;
    assert_eq!(buttons(&out.calls[0]).len(), 2, "{}", first_text(&out));
    partner_says(&env, &mark, &format!("/credit {} 1000", shown.text)).await;
    assert_eq!(env.balance(&anna).await, 150);

    // After its time: told to ask for the card again, and nothing credited.
    env.clock.advance(shown.expires_at.0 - env.engine.now().0 + 1);
    for msg in [format!("/start c_{}", shown.text), shown.text.clone(), format!("/credit {} 1000", shown.text)] {
        let out = partner_says(&env, &mark, &msg).await;
        assert!(first_text(&out).contains("expired"), "{msg}: {}", first_text(&out));
    }
    assert_eq!(env.balance(&anna).await, 150);
    // A forged signature is no customer code; the printed code still works.
    let forged = format!("{}-ABCDEFGH", anna.code);
    let out = partner_says(&env, &mark, &format!("/credit {forged} 1000")).await;
    assert!(first_text(&out).contains("not a customer code"), "{}", first_text(&out));
    partner_says(&env, &mark, &format!("/credit {} 1000", anna.code)).await;
    assert_eq!(env.balance(&anna).await, 200);
}
