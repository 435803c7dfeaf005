//! The client bot, driven through `Engine::handle_update` over the in-memory
//! store and the testkit fakes: sign-up and referrals, every menu button in
//! every language, the QR card, questions to the assistant with the daily
//! quota, the language switch, and answers to redemption requests.

use loyalty_core::domain::{Language, PartnerId, PartnerTerms, Points, RedemptionId, TelegramUserId};
use loyalty_core::ports::{
    CreditPurchase, CustomerRef, DecidePartner, OpenRedemption, PartnerApplication, PartnerDecision, PartnerRef,
    SetBlocked,
};

use loyalty_core::domain::BotKind;
use loyalty_core::qr::QrMatrix;
use loyalty_core::telegram::{BotCall, Update};
use loyalty_core::{Engine, Outbox, Ports, Task};
use loyalty_testkit::{FakeAssistant, TestEnv, TgUser, callback, first_text, reply, test_config, text, text_json};
use serde_json::{Value, json};
use std::sync::Arc;

const PARTNER_TG: i64 = 500;

async fn handle(env: &TestEnv, update: Update) -> Outbox {
    env.engine.handle_update(BotKind::Client, &update).await.expect("no temporary failure")
}

async fn say(env: &TestEnv, id: i64, who: &TgUser, msg: &str) -> Outbox {
    handle(env, text(id, who, msg)).await
}

async fn balance(env: &TestEnv, who: &TgUser) -> Points {
    customer(env, who).await.map_or(0, |c| c.balance)
}

async fn customer(env: &TestEnv, who: &TgUser) -> Option<loyalty_core::domain::Customer> {
    env.storage
        .customer_summary(CustomerRef::Telegram(TelegramUserId(who.id)), 0)
        .await
        .expect("storage")
        .map(|s| s.customer)
}

async fn entries(env: &TestEnv, who: &TgUser) -> usize {
    env.storage
        .customer_summary(CustomerRef::Telegram(TelegramUserId(who.id)), 100)
        .await
        .expect("storage")
        .map_or(0, |s| s.recent.len())
}

async fn code(env: &TestEnv, who: &TgUser) -> String {
    customer(env, who).await.expect("registered").code.to_string()
}

/// An approved partner "Pho 24" (cafe, 5.5 % back, up to 30 %) operated by
/// Telegram user [`PARTNER_TG`], who reads Russian.
async fn partner(env: &TestEnv) -> PartnerId {
    let applied = env
        .storage
        .apply_partner(PartnerApplication {
            telegram_id: TelegramUserId(PARTNER_TG),
            name: "Pho 24".into(),
            category: "cafe".into(),
            terms: PartnerTerms { earn_rate_bps: 550, ..PartnerTerms::default() },
            language: Language::Ru,
            now: env.engine.now(),
        })
        .await
        .expect("apply");
    env.storage
        .decide_partner(DecidePartner {
            partner: applied.partner.id,
            decision: PartnerDecision::Approve,
            admin: TelegramUserId(1),
            now: env.engine.now(),
        })
        .await
        .expect("approve");
    applied.partner.id
}

/// The partner of [`partner`] and the customer `who`, as the storage names them.
fn parties(who: &TgUser) -> (PartnerRef, CustomerRef) {
    (PartnerRef::Telegram(TelegramUserId(PARTNER_TG)), CustomerRef::Telegram(TelegramUserId(who.id)))
}

async fn credit(env: &TestEnv, who: &TgUser, purchase: Points, key: &str) {
    let ((partner, customer), now) = (parties(who), env.engine.now());
    let req =
        CreditPurchase { partner, customer, purchase, idempotency_key: key.into(), day_start: now.day_start(), now };
    env.storage.credit_purchase(req).await.expect("credit");
}

async fn open(env: &TestEnv, who: &TgUser, points: Points, purchase: Points, key: &str) -> RedemptionId {
    let ((partner, customer), now) = (parties(who), env.engine.now());
    let (idempotency_key, expires_at) = (key.into(), now.plus(600));
    let req = OpenRedemption { partner, customer, points, purchase, idempotency_key, now, expires_at };
    env.storage.open_redemption(req).await.expect("open redemption").request.id
}

/// An environment whose engine has other ports than the standard test ones.
fn env_with(change: impl FnOnce(&mut Ports)) -> TestEnv {
    let mut env = TestEnv::new();
    let mut ports = env.engine.ports().clone();
    change(&mut ports);
    env.engine = Engine::new(test_config(), ports);
    env
}

fn reply_markup(call: &BotCall) -> &Value {
    call.params.get("reply_markup").unwrap_or(&Value::Null)
}

/// Every `callback_data` in a call's inline keyboard.
fn callback_data(call: &BotCall) -> Vec<String> {
    reply_markup(call)["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|b| b["callback_data"].as_str().map(str::to_string))
        .collect()
}

/// A fresh engine where Anna (10) has sent `/start` as update 1.
async fn anna_signed_up() -> (TestEnv, TgUser) {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna");
    say(&env, 1, &anna, "/start").await;
    (env, anna)
}

#[tokio::test]
async fn sign_up_gives_the_welcome_bonus_once() {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna");
    let out = say(&env, 1, &anna, "/start").await;
    let welcome = &out.calls[0];
    assert_eq!((welcome.bot, welcome.method, welcome.chat_id()), (BotKind::Client, "sendMessage", Some(10)));
    let t = first_text(&out);
    assert!(t.contains("Welcome, Anna") && t.contains("100 points"), "{t}");
    let kb = reply_markup(welcome);
    assert_eq!(kb["is_persistent"], true);
    assert_eq!(kb["resize_keyboard"], true);
    let labels: Vec<&Value> = kb["keyboard"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).collect();
    assert!(labels.iter().all(|b| b.get("web_app").is_none()), "no reply-keyboard app button: {kb}");
    assert!(labels.iter().any(|b| b["text"] == "📱 Open app"), "the app's text button: {kb}");
    assert_eq!(out.calls.len(), 1);
    assert!(out.tasks.is_empty());
    assert_eq!(balance(&env, &anna).await, 100);

    let again = say(&env, 2, &anna, "/start").await;
    assert!(first_text(&again).contains("Welcome back"), "{}", first_text(&again));
    assert!(reply_markup(&again.calls[0])["keyboard"].is_array(), "the menu comes back too");
    assert_eq!(balance(&env, &anna).await, 100);
    assert_eq!(entries(&env, &anna).await, 1, "one welcome bonus entry");

    // `/start c_<code>` (a partner's card link opened in the wrong bot) is just /start.
    let c = code(&env, &anna).await;
    assert!(first_text(&say(&env, 3, &anna, &format!("/start c_{c}")).await).contains("Welcome back"));
}

#[tokio::test]
async fn referral_credits_the_referrer_once_and_tells_them() {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna");
    let boris = TgUser::new(11, "<Boris>").lang("ru");
    say(&env, 1, &anna, "/start").await;
    let anna_code = code(&env, &anna).await;

    let out = say(&env, 2, &boris, &format!("/start ref_{anna_code}")).await;
    assert_eq!(out.calls.len(), 2, "{out:?}");
    assert_eq!(out.calls[0].chat_id(), Some(11), "the direct reply comes first");
    assert!(first_text(&out).contains("Добро пожаловать, &lt;Boris&gt;"), "{}", first_text(&out));
    let note = &out.calls[1];
    assert_eq!((note.bot, note.chat_id()), (BotKind::Client, Some(10)));
    let note = note.text().unwrap();
    assert!(note.contains("&lt;Boris&gt; joined") && note.contains("50 points") && note.contains("150"), "{note}");
    assert_eq!((balance(&env, &anna).await, balance(&env, &boris).await), (150, 100));

    // Again: nothing changes, nobody is told.
    let out = say(&env, 3, &boris, &format!("/start ref_{anna_code}")).await;
    assert_eq!(out.calls.len(), 1);
    // Lower-case codes from hand-typed links work like the original.
    let carl = TgUser::new(12, "Carl");
    let out = say(&env, 4, &carl, &format!("/start ref_{}", anna_code.to_lowercase())).await;
    assert_eq!(out.calls.len(), 2);
    assert_eq!(balance(&env, &anna).await, 200);
}

#[tokio::test]
async fn self_referral_and_unknown_codes_give_no_referral_bonus() {
    let (env, anna) = anna_signed_up().await;
    let own = code(&env, &anna).await;
    let out = say(&env, 2, &anna, &format!("/start ref_{own}")).await;
    assert_eq!(out.calls.len(), 1);
    assert_eq!(balance(&env, &anna).await, 100);

    for (i, arg) in ["ref_ZZZZZZZZ", "ref_!!", "ref_", "ref_ABCD23456789", "garbage"].into_iter().enumerate() {
        let who = TgUser::new(20 + i as i64, "X");
        let out = say(&env, 10 + i as i64, &who, &format!("/start {arg}")).await;
        assert_eq!(out.calls.len(), 1, "{arg}: no referrer notified");
        assert_eq!(balance(&env, &who).await, 100, "{arg}: welcome bonus only");
    }
    assert_eq!(balance(&env, &anna).await, 100);
}

#[tokio::test]
async fn every_menu_button_works_in_every_language() {
    let env = TestEnv::new();
    for (n, lang) in ["ru", "en", "vi"].into_iter().enumerate() {
        let user = TgUser::new(100 + n as i64, "U").lang(lang);
        let start = say(&env, 1000 * (n as i64 + 1), &user, "/start").await;
        let unknown = first_text(&say(&env, 1000 * (n as i64 + 1) + 1, &user, "qwerty").await);
        let unknown_head = unknown.lines().next().unwrap().to_string();
        let labels: Vec<String> = reply_markup(&start.calls[0])["keyboard"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap())
            .map(|b| b["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(labels.len(), 9, "{lang}: {labels:?}");
        for (i, label) in labels.iter().enumerate() {
            let out = say(&env, 1000 * (n as i64 + 1) + 10 + i as i64, &user, label).await;
            let first = out.calls.first().unwrap_or_else(|| panic!("{lang} {label}: no reply"));
            assert_eq!(first.chat_id(), Some(user.id));
            let t = first.text().unwrap_or_default();
            assert!(!t.is_empty(), "{lang} {label}: empty reply");
            assert!(!t.contains(&unknown_head), "{lang} {label}: not recognised: {t}");
        }
    }
    // A label of another language still works (an old keyboard after a switch).
    let ru = TgUser::new(100, "U").lang("ru");
    let out = say(&env, 9000, &ru, "💰 Balance").await;
    assert!(first_text(&out).contains("Ваш баланс: <b>100 баллов</b>"), "{}", first_text(&out));
    let out = say(&env, 9001, &ru, "💰 Số dư").await;
    assert!(first_text(&out).contains("Ваш баланс"), "{}", first_text(&out));
}

#[tokio::test]
async fn balance_and_history_list_entries() {
    let (env, anna) = anna_signed_up().await;
    partner(&env).await;
    for i in 0..12 {
        credit(&env, &anna, 1000, &format!("k{i}")).await;
    }
    let hist = first_text(&say(&env, 2, &anna, "/history").await);
    assert_eq!(hist.matches("Purchase").count(), 10, "{hist}");
    assert!(hist.contains("<b>+55</b>"), "{hist}");
    assert!(!hist.contains("Welcome bonus"), "only the newest 10: {hist}");

    let bal = first_text(&say(&env, 3, &anna, "/balance").await);
    assert!(bal.contains(&format!("{} points", 100 + 12 * 55)), "{bal}");
    assert_eq!(bal.matches("Purchase").count(), 3, "{bal}");

    let fresh = TgUser::new(11, "Boris").lang("vi");
    say(&env, 4, &fresh, "/start").await;
    let hist = first_text(&say(&env, 5, &fresh, "📜 Lịch sử").await);
    assert!(hist.contains("Thưởng chào mừng"), "{hist}");
}

#[tokio::test]
async fn card_is_a_png_qr_of_the_partner_bot_deep_link() {
    let (env, anna) = anna_signed_up().await;
    let c = code(&env, &anna).await;
    let out = say(&env, 2, &anna, "/card").await;
    assert_eq!(out.calls.len(), 1);
    let photo = &out.calls[0];
    assert_eq!((photo.bot, photo.method, photo.chat_id()), (BotKind::Client, "sendPhoto", Some(10)));
    let file = photo.file.as_ref().expect("an uploaded file");
    assert_eq!((file.field, file.content_type), ("photo", "image/png"));
    assert!(file.data.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    let expected = QrMatrix::encode(&format!("https://t.me/loyalty_partner_bot?start=c_{c}")).unwrap().to_png(8);
    assert_eq!(file.data.as_ref(), expected.as_slice(), "the QR encodes the partner bot's deep link");
    assert!(photo.text().unwrap().contains(&format!("<code>{c}</code>")));
    assert!(!photo.fits_webhook_reply(BotKind::Client), "a photo is sent after the webhook response");
}

#[tokio::test]
async fn card_asks_telegram_for_the_partner_bot_username_when_not_configured() {
    let mut config = test_config();
    config.partner_bot_username = None;
    let mut env = TestEnv::new();
    let ports = env.engine.ports().clone();
    env.engine = Engine::new(config, ports);
    let anna = TgUser::new(10, "Anna");
    say(&env, 1, &anna, "/start").await;
    let c = code(&env, &anna).await;
    let out = say(&env, 2, &anna, "/card").await;
    assert_eq!(out.calls[0].method, "sendPhoto");
    let expected = QrMatrix::encode(&format!("https://t.me/partner_test_bot?start=c_{c}")).unwrap().to_png(8);
    assert_eq!(out.calls[0].file.as_ref().unwrap().data.as_ref(), expected.as_slice());
}

#[tokio::test]
async fn partners_and_invite() {
    let (env, anna) = anna_signed_up().await;
    let none = first_text(&say(&env, 2, &anna, "/partners").await);
    assert!(none.contains("No partners yet"), "{none}");
    partner(&env).await;
    let list = first_text(&say(&env, 3, &anna, "🏪 Partners").await);
    assert!(list.contains("<b>Pho 24</b> (cafe): 5.5 % back, pay up to 30 %"), "{list}");

    let c = code(&env, &anna).await;
    let invite = first_text(&say(&env, 4, &anna, "/invite").await);
    assert!(invite.contains(&format!("https://t.me/loyalty_client_bot?start=ref_{c}")), "{invite}");
    assert!(invite.contains("50 points"), "{invite}");
}

#[tokio::test]
async fn ask_queues_an_answer_that_is_sent_later() {
    let (env, anna) = anna_signed_up().await;
    partner(&env).await;

    let prompt = say(&env, 2, &anna, "💬 Ask a question").await;
    let p = &prompt.calls[0];
    let prompt_text = p.text().unwrap().to_string();
    assert!(prompt_text.starts_with('❓'), "{prompt_text}");
    assert_eq!(reply_markup(p)["force_reply"], true);
    assert!(reply_markup(p)["input_field_placeholder"].is_string());
    assert!(prompt.tasks.is_empty());

    let out = handle(&env, reply(3, &anna, &prompt_text, "How do I <earn> points?")).await;
    assert!(first_text(&out).contains("Thinking"), "{}", first_text(&out));
    let [task] = out.tasks.as_slice() else { panic!("one task expected: {out:?}") };
    let Task::Answer { chat_id, language, question, .. } = task else { panic!("{task:?}") };
    assert_eq!((*chat_id, *language, question.as_str()), (10, Language::En, "How do I <earn> points?"));
    assert!(env.assistant.questions().is_empty(), "not answered inside the webhook");

    env.telegram.take();
    env.engine.run_task(task.clone()).await;
    let sent = env.telegram.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].bot, sent[0].chat_id()), (BotKind::Client, Some(10)));
    assert_eq!(sent[0].text(), Some("[en] How do I &lt;earn&gt; points? (balance 100)"), "escaped answer");
    let (q, ctx) = env.assistant.questions().pop().unwrap();
    assert_eq!(q, "How do I <earn> points?");
    assert_eq!(ctx.partners, vec!["Pho 24 (cafe): 5.5 %".to_string()]);
    assert_eq!((ctx.balance, ctx.language), (100, Language::En));
    assert!(!ctx.program.is_empty());

    // `/ask <question>` works directly.
    let out = say(&env, 4, &anna, "/ask what is my balance?").await;
    assert!(matches!(out.tasks.as_slice(), [Task::Answer { question, .. }] if question == "what is my balance?"));
    // A reply to some other message is not a question.
    let out = handle(&env, reply(5, &anna, "Hello", "what?")).await;
    assert!(out.tasks.is_empty());
}

#[tokio::test]
async fn long_questions_are_refused_without_using_the_quota() {
    let (env, anna) = anna_signed_up().await;
    let long = "x".repeat(1001);
    let out = say(&env, 2, &anna, &format!("/ask {long}")).await;
    assert!(out.tasks.is_empty());
    assert!(first_text(&out).contains("too long"), "{}", first_text(&out));
    for i in 0..3 {
        let out = say(&env, 10 + i, &anna, &format!("/ask {}", "y".repeat(1000))).await;
        assert_eq!(out.tasks.len(), 1, "the refused question did not count");
    }
}

#[tokio::test]
async fn daily_question_quota_resets_the_next_day() {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna").lang("ru");
    say(&env, 1, &anna, "/start").await;
    for i in 0..3 {
        let out = say(&env, 10 + i, &anna, &format!("/ask question {i}")).await;
        assert_eq!(out.tasks.len(), 1, "question {i} is within the limit of 3");
    }
    let out = say(&env, 20, &anna, "/ask one more").await;
    assert!(out.tasks.is_empty());
    assert!(first_text(&out).contains("дневной лимит"), "{}", first_text(&out));
    env.clock.advance(86_400);
    let out = say(&env, 21, &anna, "/ask next day").await;
    assert_eq!(out.tasks.len(), 1);
}

#[tokio::test]
async fn assistant_unavailable() {
    let env = env_with(|p| p.assistant = None);
    let anna = TgUser::new(10, "Anna");
    say(&env, 1, &anna, "/start").await;
    for msg in ["/ask", "/ask hello?", "💬 Ask a question"] {
        let out = say(&env, 2, &anna, msg).await;
        assert!(out.tasks.is_empty());
        assert!(first_text(&out).contains("not available"), "{msg}: {}", first_text(&out));
        assert!(reply_markup(&out.calls[0])["force_reply"].is_null());
    }
    // A task queued before the assistant went away still gets an answer.
    let id = customer(&env, &anna).await.unwrap().id;
    let task = Task::Answer { chat_id: 10, customer: id, language: Language::Vi, question: "?".into() };
    env.engine.run_task(task).await;
    let sent = env.telegram.take();
    assert!(sent[0].text().unwrap().contains("Trợ lý hiện không khả dụng"), "{sent:?}");
}

#[tokio::test]
async fn assistant_failure_is_apologised_for_and_reported() {
    let env = env_with(|p| p.assistant = Some(Arc::new(FakeAssistant::failing())));
    let anna = TgUser::new(10, "Anna");
    say(&env, 1, &anna, "/start").await;
    let out = say(&env, 2, &anna, "/ask hi").await;
    env.telegram.take();
    for task in out.tasks {
        env.engine.run_task(task).await;
    }
    let sent = env.telegram.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text().unwrap().contains("could not answer"), "{sent:?}");
    let reports = env.reporter.reports();
    assert!(reports.iter().any(|r| r.context == "assistant" && r.temporary), "{reports:?}");
}

#[tokio::test]
async fn language_switch_persists() {
    let (env, anna) = anna_signed_up().await;
    let out = say(&env, 2, &anna, "🌐 Language").await;
    let data = callback_data(&out.calls[0]);
    assert_eq!(data, vec!["lang:ru", "lang:en", "lang:vi"]);
    assert!(data.iter().all(|d| d.len() <= 64));

    let out = handle(&env, callback(3, &anna, 77, "lang:vi")).await;
    let methods: Vec<_> = out.calls.iter().map(|c| c.method).collect();
    assert_eq!(methods, vec!["answerCallbackQuery", "editMessageText", "sendMessage"]);
    assert_eq!(out.calls[1].params["message_id"], 77);
    assert_eq!(out.calls[1].chat_id(), Some(10));
    let menu = reply_markup(&out.calls[2]);
    assert_eq!(menu["keyboard"][0][0]["text"], "💰 Số dư");
    assert_eq!(customer(&env, &anna).await.unwrap().language, Language::Vi);

    // The client's language_code no longer matters.
    let bal = first_text(&say(&env, 4, &anna, "/balance").await);
    assert!(bal.contains("Số dư của bạn"), "{bal}");
    let back = first_text(&say(&env, 5, &anna, "/start").await);
    assert!(back.contains("quay lại"), "{back}");
}

#[tokio::test]
async fn redemption_confirm_once_even_on_double_tap() {
    let (env, anna) = anna_signed_up().await;
    partner(&env).await;
    credit(&env, &anna, 2000, "buy").await; // +110
    let c = code(&env, &anna).await;
    let id = open(&env, &anna, 60, 1000, "r1").await;
    assert_eq!(balance(&env, &anna).await, 210);

    let out = handle(&env, callback(2, &anna, 55, &format!("rc:{}", id.0))).await;
    assert_eq!(out.calls.len(), 3, "{out:?}");
    let (ack, edit, note) = (&out.calls[0], &out.calls[1], &out.calls[2]);
    assert_eq!(ack.method, "answerCallbackQuery");
    assert_eq!(ack.params["callback_query_id"], "cb2");
    assert!(ack.fits_webhook_reply(BotKind::Client));
    assert_eq!((edit.method, edit.chat_id(), &edit.params["message_id"]), ("editMessageText", Some(10), &json!(55)));
    assert!(edit.text().unwrap().contains("You paid <b>60 points</b> at Pho 24"), "{:?}", edit.text());
    assert!(edit.text().unwrap().contains("150 points"));
    assert_eq!((note.bot, note.method, note.chat_id()), (BotKind::Partner, "sendMessage", Some(PARTNER_TG)));
    let note = note.text().unwrap();
    assert!(note.contains(&format!("<code>{c}</code>")) && note.contains("60 баллов"), "{note}");
    assert!(note.contains(&format!("#{}", id.0)) && note.contains("150"), "{note}");
    assert_eq!(balance(&env, &anna).await, 150);

    let again = handle(&env, callback(3, &anna, 55, &format!("rc:{}", id.0))).await;
    assert_eq!(again.calls.len(), 1, "{again:?}");
    assert_eq!(again.calls[0].method, "answerCallbackQuery");
    assert_eq!(again.calls[0].text(), Some("Already confirmed"));
    assert_eq!(balance(&env, &anna).await, 150, "debited once");

    // Declining a confirmed request is refused and debits nothing back.
    let late = handle(&env, callback(4, &anna, 55, &format!("rd:{}", id.0))).await;
    assert!(late.calls.iter().all(|c| c.bot == BotKind::Client));
    assert!(late.calls[0].text().unwrap().contains("already been answered"));
    assert_eq!(balance(&env, &anna).await, 150);
}

/// A refusal of a button press speaks the language of the message the button
/// was under (its data carries it), not the Telegram app's: nothing is looked
/// up before the one storage call.
#[tokio::test]
async fn a_refused_press_speaks_the_language_of_its_message() {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna").lang("ru");
    say(&env, 1, &anna, "/start").await;
    partner(&env).await;
    let id = open(&env, &anna, 30, 1000, "r1").await;
    // The customer's app is in English now; the request was written in Russian.
    let anna = anna.lang("en");
    handle(&env, callback(2, &anna, 55, &format!("rc:{}:ru", id.0))).await;
    let late = handle(&env, callback(3, &anna, 55, &format!("rd:{}:ru", id.0))).await;
    let edit = late.calls.iter().find(|c| c.method == "editMessageText").expect("the message is edited");
    let cyrillic = |t: &str| t.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)));
    let russian = edit.text().unwrap_or_default().to_string();
    assert!(cyrillic(&russian), "in the message's language: {russian}");
    // A button from before buttons carried a language: the app's.
    let older = handle(&env, callback(4, &anna, 55, &format!("rd:{}", id.0))).await;
    let english = older.calls[0].text().unwrap_or_default().to_string();
    assert!(!english.is_empty() && !cyrillic(&english), "in the app's language: {english}");
}

#[tokio::test]
async fn redemption_decline_notifies_the_partner() {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna").lang("vi");
    say(&env, 1, &anna, "/start").await;
    partner(&env).await;
    let id = open(&env, &anna, 30, 1000, "r1").await;

    let out = handle(&env, callback(2, &anna, 55, &format!("rd:{}", id.0))).await;
    let methods: Vec<_> = out.calls.iter().map(|c| (c.bot, c.method)).collect();
    assert_eq!(
        methods,
        vec![
            (BotKind::Client, "answerCallbackQuery"),
            (BotKind::Client, "editMessageText"),
            (BotKind::Partner, "sendMessage")
        ]
    );
    assert!(out.calls[1].text().unwrap().contains("từ chối"), "{:?}", out.calls[1].text());
    assert!(out.calls[2].text().unwrap().contains("отклонил"), "in the partner's language");
    assert_eq!(balance(&env, &anna).await, 100);

    let again = handle(&env, callback(3, &anna, 55, &format!("rd:{}", id.0))).await;
    assert_eq!(again.calls.len(), 1);
    assert_eq!(again.calls[0].text(), Some("Đã từ chối rồi"));

    let confirm = handle(&env, callback(4, &anna, 55, &format!("rc:{}", id.0))).await;
    assert!(confirm.calls.iter().all(|c| c.bot == BotKind::Client), "the partner hears nothing more");
    assert_eq!(balance(&env, &anna).await, 100);
}

#[tokio::test]
async fn redemption_rejections_are_explained() {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna");
    let boris = TgUser::new(11, "Boris");
    say(&env, 1, &anna, "/start").await;
    say(&env, 2, &boris, "/start").await;
    partner(&env).await;

    // Someone else's request: refused, the message stays as it is.
    let id = open(&env, &anna, 30, 1000, "r1").await;
    let out = handle(&env, callback(3, &boris, 55, &format!("rc:{}", id.0))).await;
    assert_eq!(out.calls.len(), 1);
    assert!(out.calls[0].text().unwrap().contains("someone else"));
    assert_eq!((balance(&env, &anna).await, balance(&env, &boris).await), (100, 100));

    // Expired.
    env.clock.advance(11 * 60);
    let out = handle(&env, callback(4, &anna, 55, &format!("rc:{}", id.0))).await;
    assert!(out.calls[0].text().unwrap().contains("expired"), "{out:?}");
    assert_eq!(out.calls[1].method, "editMessageText", "the stale buttons go away");
    assert!(out.calls.iter().all(|c| c.bot == BotKind::Client));
    assert_eq!(balance(&env, &anna).await, 100);

    // Insufficient balance at confirmation time.
    let a = open(&env, &anna, 60, 1000, "r2").await;
    let b = open(&env, &anna, 60, 1000, "r3").await;
    handle(&env, callback(5, &anna, 56, &format!("rc:{}", a.0))).await;
    assert_eq!(balance(&env, &anna).await, 40);
    let out = handle(&env, callback(6, &anna, 57, &format!("rc:{}", b.0))).await;
    assert!(out.calls[0].text().unwrap().contains("Not enough points"), "{out:?}");
    assert_eq!(balance(&env, &anna).await, 40);

    // Unknown request id.
    let out = handle(&env, callback(7, &anna, 58, "rc:999999")).await;
    assert!(out.calls[0].text().unwrap().contains("no longer exists"), "{out:?}");
}

#[tokio::test]
async fn malformed_callbacks_are_answered_without_effect() {
    let (env, anna) = anna_signed_up().await;
    for (i, data) in ["", "rc:", "rc:abc", "rc:-5", "lang:de", "zz:1", &"x".repeat(64)].into_iter().enumerate() {
        let out = handle(&env, callback(10 + i as i64, &anna, 5, data)).await;
        assert_eq!(out.calls.len(), 1, "{data}");
        assert_eq!(out.calls[0].method, "answerCallbackQuery");
        assert_eq!(out.calls[0].text(), Some("This button is no longer active."));
    }
    assert_eq!(customer(&env, &anna).await.unwrap().language, Language::En);
    // An unregistered user pressing a valid button is asked to sign up.
    let out = handle(&env, callback(30, &TgUser::new(99, "Z"), 5, "lang:ru")).await;
    assert_eq!(out.calls[0].text(), Some("To get started, send /start."));
}

#[tokio::test]
async fn unknown_input_gets_help_and_unregistered_users_are_sent_to_start() {
    let env = TestEnv::new();
    let stranger = TgUser::new(99, "Zed").lang("ru");
    for msg in ["/balance", "💳 My card", "hello", "/ask hi"] {
        let out = say(&env, 1, &stranger, msg).await;
        assert_eq!(first_text(&out), "Чтобы начать, отправьте /start.", "{msg}");
        assert!(out.tasks.is_empty());
    }
    assert!(customer(&env, &stranger).await.is_none(), "only /start registers");

    let anna = TgUser::new(10, "Anna");
    say(&env, 2, &anna, "/start").await;
    for msg in ["/frobnicate", "random words"] {
        let out = say(&env, 3, &anna, msg).await;
        let t = first_text(&out);
        assert!(t.contains("did not get that") && t.contains("/balance"), "{t}");
        assert!(reply_markup(&out.calls[0])["keyboard"].is_array(), "with the menu");
    }
    let help = say(&env, 4, &anna, "/help").await;
    assert!(first_text(&help).contains("Here is what I can do"));
    assert!(reply_markup(&help.calls[0])["is_persistent"].as_bool().unwrap());
}

#[tokio::test]
async fn non_private_chats_and_other_updates_are_ignored() {
    let env = TestEnv::new();
    let anna = TgUser::new(10, "Anna");
    let mut group = text_json(1, &anna, "/start");
    group["message"]["chat"] = json!({"id": -100123, "type": "supergroup", "title": "G"});
    let out = handle(&env, serde_json::from_value(group).unwrap()).await;
    assert!(out.is_empty());
    assert!(customer(&env, &anna).await.is_none());

    let mut edited = text_json(2, &anna, "/start");
    edited["edited_message"] = edited["message"].take();
    edited.as_object_mut().unwrap().remove("message");
    assert!(handle(&env, serde_json::from_value(edited).unwrap()).await.is_empty());

    let kicked: Update = serde_json::from_value(json!({
        "update_id": 3,
        "my_chat_member": {
            "chat": {"id": 10, "type": "private"},
            "from": {"id": 10, "is_bot": false, "first_name": "Anna"},
            "date": 1,
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": true, "first_name": "bot"}},
            "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": true, "first_name": "bot"}}
        }
    }))
    .unwrap();
    assert!(handle(&env, kicked).await.is_empty());
    let poll: Update = serde_json::from_value(json!({"update_id": 4, "poll": {"id": "1"}})).unwrap();
    assert!(handle(&env, poll).await.is_empty());
}

#[tokio::test]
async fn blocked_customers_see_their_balance_but_cannot_use_the_card() {
    let (env, anna) = anna_signed_up().await;
    env.storage
        .set_blocked(SetBlocked {
            who: CustomerRef::Telegram(TelegramUserId(10)),
            blocked: true,
            admin: TelegramUserId(1),
            now: env.engine.now(),
        })
        .await
        .unwrap();
    let bal = first_text(&say(&env, 2, &anna, "/balance").await);
    assert!(bal.contains("100 points") && bal.contains("blocked"), "{bal}");
    for msg in ["/card", "/ask hi", "💬 Ask a question", "/invite"] {
        let out = say(&env, 3, &anna, msg).await;
        assert!(first_text(&out).contains("blocked"), "{msg}: {}", first_text(&out));
        assert_eq!(out.calls[0].method, "sendMessage");
        assert!(out.tasks.is_empty());
    }
}

#[tokio::test]
async fn open_app_uses_the_frontend_url_when_set() {
    let (env, anna) = anna_signed_up().await;
    for msg in ["/app", "📱 Open app", "📱 Открыть приложение"] {
        let out = say(&env, 2, &anna, msg).await;
        let button = &reply_markup(&out.calls[0])["inline_keyboard"][0][0];
        assert_eq!(button["web_app"]["url"], "https://app.example.com", "{msg}");
        assert_eq!(button["text"], "📱 Open app", "{msg}: in the customer's language");
    }

    let mut config = test_config();
    config.frontend_url = None;
    let mut env = TestEnv::new();
    let ports = env.engine.ports().clone();
    env.engine = Engine::new(config, ports);
    let start = say(&env, 1, &anna, "/start").await;
    let kb = reply_markup(&start.calls[0]).to_string();
    assert!(!kb.contains("web_app") && !kb.contains("Open app"), "no app button without an app: {kb}");
    let out = say(&env, 2, &anna, "📱 Open app").await;
    assert!(first_text(&out).contains("not available"), "{}", first_text(&out));
}

#[tokio::test]
async fn through_the_webhook_with_every_update_delivered_twice() {
    use loyalty_testkit::scenario::Harness;
    let h = Harness::new(TestEnv::new()).deliver_twice(true);
    let anna = TgUser::new(10, "Anna");
    let boris = TgUser::new(11, "Boris");
    let welcome = h.say(BotKind::Client, &anna, "/start").await;
    assert_eq!(welcome.texts_to(10).len(), 1);
    let c = code(&h.env, &anna).await;
    let joined = h.say(BotKind::Client, &boris, &format!("/start ref_{c}")).await;
    assert_eq!(joined.texts_to(10).len(), 1, "the referrer is told once");
    assert_eq!((balance(&h.env, &anna).await, balance(&h.env, &boris).await), (150, 100));

    let card = h.say(BotKind::Client, &anna, "💳 My card").await;
    assert_eq!(card.calls.len(), 1);
    assert_eq!(card.calls[0].method, "sendPhoto");

    let asked = h.say(BotKind::Client, &anna, "/ask").await;
    let prompt = asked.prompt(10).expect("a force_reply prompt");
    let answered = h.answer(BotKind::Client, &anna, &prompt, "Where can I eat?").await;
    let texts = answered.texts_to(10);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Thinking"));
    assert_eq!(texts[1], "[en] Where can I eat? (balance 150)");
    assert_eq!(h.env.assistant.questions().len(), 1, "asked once despite the redelivery");
}

/// The codes the engine of a fresh [`TestEnv`] will draw, in order (its
/// randomness is `SeqRandom::new(7)` and a code takes one 5-byte draw).
fn upcoming_codes(n: usize) -> Vec<loyalty_core::domain::CustomerCode> {
    use loyalty_core::ports::Randomness;
    let random = loyalty_testkit::SeqRandom::new(7);
    (0..n)
        .map(|_| {
            let mut b = [0u8; 5];
            random.fill(&mut b);
            loyalty_core::domain::CustomerCode::from_random(b)
        })
        .collect()
}

async fn register_with_code(env: &TestEnv, telegram_id: i64, code: loyalty_core::domain::CustomerCode) {
    let reg = env
        .storage
        .register_customer(loyalty_core::ports::NewCustomer {
            telegram_id: TelegramUserId(telegram_id),
            code,
            first_name: "Taken".into(),
            username: None,
            language: Language::En,
            referrer: None,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 0,
            referral_bonus: 0,
            now: env.engine.now(),
        })
        .await
        .expect("register");
    assert!(reg.created);
}

#[tokio::test]
async fn sign_up_retries_when_the_code_is_taken() {
    let env = TestEnv::new();
    let codes = upcoming_codes(2);
    register_with_code(&env, 1, codes[0].clone()).await;
    let anna = TgUser::new(10, "Anna");
    let out = say(&env, 1, &anna, "/start").await;
    assert!(first_text(&out).contains("Welcome, Anna"), "{}", first_text(&out));
    assert_eq!(customer(&env, &anna).await.unwrap().code, codes[1], "the second draw");
    assert_eq!(balance(&env, &anna).await, 100);
}

#[tokio::test]
async fn sign_up_gives_up_after_three_taken_codes() {
    let env = TestEnv::new();
    for (i, c) in upcoming_codes(3).into_iter().enumerate() {
        register_with_code(&env, 1 + i as i64, c).await;
    }
    let anna = TgUser::new(10, "Anna");
    let out = say(&env, 1, &anna, "/start").await;
    assert_eq!(first_text(&out), "Please try again.");
    assert!(customer(&env, &anna).await.is_none());
    // The next attempt draws a fresh code and succeeds.
    let out = say(&env, 2, &anna, "/start").await;
    assert!(first_text(&out).contains("Welcome, Anna"));
}

/// A `ref_<code>` link printed by the program this one replaced credits the
/// imported customer who owns that code (its codes are matched without case);
/// the imported customer pressing /start gets no welcome bonus.
#[tokio::test]
async fn legacy_referral_links_credit_the_imported_owner() {
    use loyalty_core::domain::{CustomerCode, Timestamp};
    use loyalty_core::ports::{ImportBatch, ImportedCustomer};
    let env = TestEnv::new();
    let owner = ImportedCustomer {
        telegram_id: TelegramUserId(30),
        code: CustomerCode::parse("ABCD2345").unwrap(),
        first_name: "Vera".into(),
        username: None,
        language: Language::En,
        created_at: Timestamp(1_600_000_000),
        balance: 80,
        referrer: None,
        referral_code: Some("A1B2C3".into()),
        birthday: None,
        history: vec![],
    };
    let batch = ImportBatch {
        source: "legacy".into(),
        partners: vec![],
        customers: vec![owner],
        now: Timestamp(1_700_000_000),
    };
    env.storage.import_batch(batch).await.unwrap();
    let vera = TgUser::new(30, "Vera");
    let out = say(&env, 1, &vera, "/start").await;
    assert!(first_text(&out).contains("Welcome back"), "{}", first_text(&out));
    assert_eq!(balance(&env, &vera).await, 80, "no welcome bonus for an imported customer");

    let newcomer = TgUser::new(31, "Gleb");
    let out = say(&env, 2, &newcomer, "/start ref_a1b2c3").await;
    assert_eq!(out.calls.len(), 2, "the owner is told: {out:?}");
    assert_eq!(out.calls[1].chat_id(), Some(30));
    assert_eq!((balance(&env, &vera).await, balance(&env, &newcomer).await), (130, 100));
}

/// A partner's counter link (`/start partner_<id>`, printed on the other
/// program's QR codes) signs the customer up and shows that partner's offer;
/// an unknown or unapproved partner is just /start.
#[tokio::test]
async fn partner_links_show_the_partner() {
    let env = TestEnv::new();
    partner(&env).await;
    let anna = TgUser::new(40, "Anna");
    let out = say(&env, 1, &anna, &format!("/start partner_{PARTNER_TG}")).await;
    let text = first_text(&out);
    assert!(text.contains("Welcome") && text.contains("You came from this partner"), "{text}");
    assert!(text.contains("Pho 24") && text.contains("5.5 %"), "{text}");
    assert_eq!(balance(&env, &anna).await, 100);
    let boris = TgUser::new(41, "Boris");
    for (n, arg) in ["partner_999", "partner_", "partner_x"].into_iter().enumerate() {
        let text = first_text(&say(&env, 2 + n as i64, &boris, &format!("/start {arg}")).await).to_string();
        assert!(!text.contains("You came from"), "{arg}: {text}");
    }
}
