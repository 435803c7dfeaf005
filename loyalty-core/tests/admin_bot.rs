//! The admin bot and broadcast delivery, driven through
//! `Engine::handle_update` / `Engine::deliver_broadcast` over the in-memory
//! store and the testkit fakes.

use loyalty_core::domain::{BroadcastId, Customer, EntryKind, Language, PartnerStatus, TelegramUserId};
use loyalty_core::ports::{CustomerRef, EntriesPage, PartnerRef, TelegramError};

use loyalty_core::domain::BotKind;
use loyalty_core::telegram::{BotCall, Update};
use loyalty_core::{Outbox, Task};
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser, buttons, callback, first_text, text, text_json, texts_to};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};

fn uid() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

fn admin() -> TgUser {
    TgUser::new(ADMIN_CHAT, "Admin")
}

async fn handle(env: &TestEnv, bot: BotKind, update: Update) -> Outbox {
    env.engine.handle_update(bot, &update).await.expect("no temporary failure")
}

async fn admin_says(env: &TestEnv, msg: &str) -> Outbox {
    handle(env, BotKind::Admin, text(uid(), &admin(), msg)).await
}

async fn fetch(env: &TestEnv, c: &Customer) -> Customer {
    env.storage.customer_summary(CustomerRef::Id(c.id), 0).await.unwrap().unwrap().customer
}

async fn apply(env: &TestEnv, who: &TgUser, name: &str) {
    handle(env, BotKind::Partner, text(uid(), who, &format!("/apply {name}; cafe"))).await;
}

async fn status(env: &TestEnv, who: &TgUser) -> PartnerStatus {
    env.storage.partner(PartnerRef::Telegram(TelegramUserId(who.id))).await.unwrap().unwrap().status
}

/// A fresh engine with the customer Anna (101) and an applicant, `name`
/// (Telegram id `id`), whose business `business` waits for approval.
async fn anna_and_applicant(id: i64, name: &str, business: &str) -> (TestEnv, Customer, TgUser) {
    let env = TestEnv::new();
    let anna = env.customer(101, "Anna", Language::En).await;
    let applicant = TgUser::new(id, name);
    apply(&env, &applicant, business).await;
    (env, anna, applicant)
}

#[tokio::test]
async fn outsiders_get_nothing() {
    let (env, anna, linh) = anna_and_applicant(201, "Linh", "Pho").await;
    let stranger = TgUser::new(555, "Mallory");

    for cmd in
        ["/stats", "/pending", "/partners", &format!("/adjust {} 1000 gift", anna.code), "/broadcast customers hi"]
    {
        let out = handle(&env, BotKind::Admin, text(uid(), &stranger, cmd)).await;
        assert_eq!(out.calls.len(), 1, "{cmd}");
        assert!(out.tasks.is_empty());
        assert_eq!(out.calls[0].chat_id(), Some(stranger.id));
        assert_eq!(first_text(&out), "This bot serves the program's administrators only.");
    }
    // In a group that is not the admin chat: silence.
    let mut v = text_json(uid(), &admin(), "/stats");
    v["message"]["chat"] = json!({"id": -1001, "type": "supergroup", "title": "Other"});
    assert!(handle(&env, BotKind::Admin, serde_json::from_value(v).unwrap()).await.is_empty());
    // A button pressed outside the admin chat decides nothing.
    let out = handle(&env, BotKind::Admin, callback(uid(), &stranger, 5, "pa:1")).await;
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].method, "answerCallbackQuery");
    assert_eq!(status(&env, &linh).await, PartnerStatus::Applied);
    assert_eq!(fetch(&env, &anna).await.balance, 100);
}

#[tokio::test]
async fn pending_partners_and_decisions() {
    let env = TestEnv::new();
    let (linh, mark) = (TgUser::new(201, "Linh").lang("vi"), TgUser::new(202, "Mark").lang("ru"));
    assert_eq!(first_text(&admin_says(&env, "/pending").await), "No applications are waiting.");
    apply(&env, &linh, "Phở 24").await;
    apply(&env, &mark, "Бар & <Гриль>").await;

    let out = admin_says(&env, "/pending").await;
    assert_eq!(out.calls.len(), 2);
    assert_eq!(buttons(&out.calls[0]), vec!["pa:1", "pr:1"]);
    assert_eq!(buttons(&out.calls[1]), vec!["pa:2", "pr:2"]);
    assert!(out.calls[1].text().unwrap().contains("Бар &amp; &lt;Гриль&gt;"));

    let out = handle(&env, BotKind::Admin, callback(uid(), &admin(), 31, "pr:2")).await;
    assert_eq!(out.calls[0].method, "answerCallbackQuery");
    assert!(texts_to(&out, BotKind::Partner, mark.id)[0].contains("отклонена"), "in the partner's language");
    assert_eq!(status(&env, &mark).await, PartnerStatus::Rejected);
    // Approving a rejected application is not a valid transition: a toast, nothing else.
    let out = handle(&env, BotKind::Admin, callback(uid(), &admin(), 31, "pa:2")).await;
    assert_eq!(out.calls.len(), 1);
    assert!(out.calls[0].params["text"].as_str().unwrap().contains("does not allow"));

    let out = admin_says(&env, "/approve 1").await;
    assert!(first_text(&out).contains("approved"));
    assert_eq!(texts_to(&out, BotKind::Partner, linh.id).len(), 1);
    let out = admin_says(&env, "/approve 1").await;
    assert!(first_text(&out).contains("already approved"));
    assert!(texts_to(&out, BotKind::Partner, linh.id).is_empty(), "told once");

    let out = admin_says(&env, "/partners").await;
    let list = first_text(&out);
    assert!(list.contains("Partners: 2") && list.contains("Phở 24") && list.contains("approved"), "{list}");
    assert!(list.contains("5\u{202F}%") && list.contains("rejected"), "{list}");

    assert!(first_text(&admin_says(&env, "/suspend").await).contains("Usage"));
    assert!(first_text(&admin_says(&env, "/suspend 99").await).contains("not registered"));
    admin_says(&env, "/suspend 1").await;
    assert_eq!(status(&env, &linh).await, PartnerStatus::Suspended);
}

#[tokio::test]
async fn adjustments_need_a_reason_and_never_go_below_zero() {
    let env = TestEnv::new();
    let anna = env.customer(101, "Anna", Language::Vi).await;
    let code = anna.code.to_string();

    let out = admin_says(&env, &format!("/adjust {code} 25")).await;
    assert!(first_text(&out).contains("reason is required"));
    assert_eq!(out.calls.len(), 1);
    assert_eq!(fetch(&env, &anna).await.balance, 100);

    let update = text(uid(), &admin(), &format!("/adjust {code} +25 goodwill <3"));
    let out = handle(&env, BotKind::Admin, update.clone()).await;
    assert!(first_text(&out).contains("125"), "{}", first_text(&out));
    let told = texts_to(&out, BotKind::Client, anna.telegram_id.0);
    assert!(told.len() == 1 && told[0].contains("goodwill &lt;3") && told[0].contains("Lý do"), "{told:?}");
    // The same update again: no second adjustment, no second message.
    let again = handle(&env, BotKind::Admin, update).await;
    assert!(texts_to(&again, BotKind::Client, anna.telegram_id.0).is_empty());
    assert_eq!(fetch(&env, &anna).await.balance, 125);

    let out = admin_says(&env, &format!("/adjust {code} -200 fraud")).await;
    assert!(first_text(&out).contains("Not enough points"), "{}", first_text(&out));
    assert_eq!(fetch(&env, &anna).await.balance, 125);
    admin_says(&env, &format!("/adjust {code} −125 closing the account")).await;
    assert_eq!(fetch(&env, &anna).await.balance, 0);

    let entries =
        env.storage.customer_entries(EntriesPage { customer: anna.id, limit: 10, before: None }).await.unwrap();
    let adjustments: Vec<_> = entries.iter().filter(|e| e.kind == EntryKind::Adjustment).collect();
    assert_eq!(adjustments.len(), 2);
    assert_eq!(adjustments[1].reason.as_deref(), Some("goodwill <3"));

    assert!(first_text(&admin_says(&env, "/adjust BADCODE! 5 x").await).contains("not a customer code"));
    assert!(first_text(&admin_says(&env, "/adjust ZZZZZZZZ 5 x").await).contains("No customer"));
}

#[tokio::test]
async fn block_and_unblock() {
    let (env, anna, mark) = anna_and_applicant(202, "Mark", "Bar").await;
    admin_says(&env, "/approve 1").await;

    let out = admin_says(&env, &format!("/block {}", anna.code)).await;
    assert!(first_text(&out).contains("is blocked"));
    assert!(fetch(&env, &anna).await.blocked);
    let out = handle(&env, BotKind::Partner, text(uid(), &mark, &format!("/credit {} 1000", anna.code))).await;
    assert!(first_text(&out).contains("blocked"));
    assert_eq!(fetch(&env, &anna).await.balance, 100);

    admin_says(&env, &format!("/unblock {}", anna.code)).await;
    assert!(!fetch(&env, &anna).await.blocked);
    handle(&env, BotKind::Partner, text(uid(), &mark, &format!("/credit {} 1000", anna.code))).await;
    assert_eq!(fetch(&env, &anna).await.balance, 150);
    assert!(first_text(&admin_says(&env, "/block").await).contains("Usage"));
}

#[tokio::test]
async fn program_stats() {
    let env = TestEnv::new();
    let anna = env.customer(101, "Anna", Language::En).await;
    env.customer(102, "Boris", Language::En).await;
    let (mark, olga) = (TgUser::new(202, "Mark"), TgUser::new(203, "Olga"));
    apply(&env, &mark, "Bar").await;
    apply(&env, &olga, "Cafe").await;
    admin_says(&env, "/approve 1").await;
    handle(&env, BotKind::Partner, text(uid(), &mark, &format!("/credit {} 1000", anna.code))).await;

    let t = first_text(&admin_says(&env, "/stats").await);
    assert!(t.contains("Customers: <b>2</b>"), "{t}");
    assert!(t.contains("<b>1</b> approved, <b>1</b> waiting"), "{t}");
    assert!(t.contains("Points outstanding: <b>250</b>"), "{t}");
    assert!(t.contains("purchases: 1") && t.contains("Points issued: 50"), "{t}");
    assert!(first_text(&admin_says(&env, "/launch_missiles").await).contains("/broadcast"));
}

async fn queue_broadcast(env: &TestEnv, n: i64) -> BroadcastId {
    for i in 0..n {
        env.customer(10_000 + i, "C", Language::En).await;
    }
    let out = admin_says(env, "/broadcast customers Double points <this> weekend!").await;
    assert!(first_text(&out).contains(&format!("to {n} customers")), "{}", first_text(&out));
    match out.tasks[..] {
        [Task::Broadcast(id)] => id,
        ref other => panic!("expected one broadcast task, got {other:?}"),
    }
}

fn broadcast_messages(calls: &[BotCall]) -> Vec<&BotCall> {
    calls.iter().filter(|c| c.bot == BotKind::Client && c.text().is_some_and(|t| t.contains("Double points"))).collect()
}

#[tokio::test]
async fn broadcast_delivers_in_paced_batches() {
    let env = TestEnv::new();
    let id = queue_broadcast(&env, 60).await;
    let job = env.engine.deliver_broadcast(id, u32::MAX).await.expect("known job");
    assert!(job.done);
    assert_eq!((job.sent, job.failed, job.total), (60, 0, 60));

    let calls = env.telegram.take();
    let sent = broadcast_messages(&calls);
    assert_eq!(sent.len(), 60);
    let mut chats: Vec<i64> = sent.iter().filter_map(|c| c.chat_id()).collect();
    chats.dedup();
    assert_eq!(chats.len(), 60, "one message per customer");
    assert_eq!(sent[0].text(), Some("Double points &lt;this&gt; weekend!"), "sent as written");
    // Three batches (25 + 25 + 10) with a pause after each of the first two.
    let slept = env.clock.slept_millis();
    assert!((2000..3000).contains(&slept), "slept {slept} ms");
    let reports: Vec<_> = calls.iter().filter(|c| c.bot == BotKind::Admin && c.chat_id() == Some(ADMIN_CHAT)).collect();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].text().unwrap().contains("done: sent 60, failed 0 of 60"));

    // Delivering a finished job again sends nothing.
    let again = env.engine.deliver_broadcast(id, u32::MAX).await.expect("known job");
    assert_eq!(again.sent, 60);
    assert!(env.telegram.take().is_empty());
    assert!(env.engine.deliver_broadcast(BroadcastId(99), 1).await.is_none(), "unknown job");
}

#[tokio::test]
async fn broadcast_waits_out_rate_limits_counts_blocked_users_and_resumes() {
    let env = TestEnv::new();
    let id = queue_broadcast(&env, 60).await;

    // One batch, with a 429 on the very first message.
    env.telegram.fail_next(TelegramError::RetryAfter(5));
    let job = env.engine.deliver_broadcast(id, 1).await.unwrap();
    assert_eq!((job.sent, job.failed, job.done), (25, 0, false));
    assert!(env.clock.slept_millis() >= 5000, "waited out retry_after");
    let calls = env.telegram.take();
    let sent = broadcast_messages(&calls);
    assert_eq!(sent.len(), 25);
    let first_chat = sent[0].chat_id();
    assert_eq!(sent.iter().filter(|c| c.chat_id() == first_chat).count(), 1, "delivered once");

    // The rest, with one customer who blocked the bot.
    env.telegram
        .fail_next(TelegramError::Api { code: 403, description: "Forbidden: bot was blocked by the user".into() });
    let job = env.engine.deliver_broadcast(id, 10).await.unwrap();
    assert!(job.done);
    assert_eq!((job.sent, job.failed), (59, 1));
    let calls = env.telegram.take();
    assert_eq!(broadcast_messages(&calls).len(), 34);
    let report = calls.iter().find(|c| c.bot == BotKind::Admin).and_then(BotCall::text).unwrap();
    assert!(report.contains("sent 59, failed 1 of 60"), "{report}");
    assert!(env.reporter.reports().is_empty(), "a blocked user is not an error worth reporting");
}

#[tokio::test]
async fn long_broadcasts_report_progress() {
    let env = TestEnv::new();
    let id = queue_broadcast(&env, 260).await;
    env.engine.run_task(Task::Broadcast(id)).await;
    let calls = env.telegram.take();
    assert_eq!(broadcast_messages(&calls).len(), 260);
    let reports: Vec<_> =
        calls.iter().filter(|c| c.bot == BotKind::Admin).filter_map(|c| c.text().map(str::to_string)).collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports[0].contains("sent 250, failed 0 of 260"), "after 10 batches: {reports:?}");
    assert!(reports[1].contains("done"));
    assert!(env.clock.slept_millis() >= 10_000, "11 batches take at least 10 s");
}

#[tokio::test]
async fn broadcast_commands_are_checked() {
    let env = TestEnv::new();
    env.customer(101, "Anna", Language::En).await;
    for bad in ["/broadcast", "/broadcast everyone hi", "/broadcast customers   "] {
        let out = admin_says(&env, bad).await;
        assert!(first_text(&out).contains("Usage") && out.tasks.is_empty(), "{bad}");
    }
    let out = admin_says(&env, &format!("/broadcast customers {}", "&".repeat(1000))).await;
    assert!(first_text(&out).contains("too long") && out.tasks.is_empty());

    // Partners get it through the partner bot.
    let mark = TgUser::new(202, "Mark");
    apply(&env, &mark, "Bar").await;
    admin_says(&env, "/approve 1").await;
    let update = text(uid(), &admin(), "/broadcast partners New terms from Monday");
    let out = handle(&env, BotKind::Admin, update.clone()).await;
    let again = handle(&env, BotKind::Admin, update).await;
    assert_eq!(first_text(&out), first_text(&again), "a redelivered command queues no second job");
    let [Task::Broadcast(id)] = out.tasks[..] else { panic!("{:?}", out.tasks) };
    env.telegram.take();
    env.engine.deliver_broadcast(id, 5).await.unwrap();
    let calls = env.telegram.take();
    let to_partner: Vec<_> = calls.iter().filter(|c| c.bot == BotKind::Partner).collect();
    assert_eq!(to_partner.len(), 1);
    assert_eq!(to_partner[0].chat_id(), Some(mark.id));
}

#[tokio::test]
async fn broadcast_failures_are_retried_then_counted_and_reported_once() {
    let env = TestEnv::new();
    let id = queue_broadcast(&env, 3).await;
    // A transient failure is retried; a missing token fails every message but is reported once.
    env.telegram.fail_next(TelegramError::Transport("connection reset".into()));
    let job = env.engine.deliver_broadcast(id, 1).await.unwrap();
    assert_eq!((job.sent, job.failed), (3, 0));
    assert!(env.reporter.reports().is_empty());

    let id = {
        let out = admin_says(&env, "/broadcast customers Double points, again").await;
        let [Task::Broadcast(id)] = out.tasks[..] else { panic!("{:?}", out.tasks) };
        id
    };
    for _ in 0..3 {
        env.telegram.fail_next(TelegramError::NoToken("client"));
    }
    let job = env.engine.deliver_broadcast(id, 1).await.unwrap();
    assert_eq!((job.sent, job.failed, job.done), (0, 3, true));
    let reports = env.reporter.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].context, "broadcast");
}

#[tokio::test]
async fn rules_make_points_expire_with_a_reminder_first() {
    const DAY: i64 = 86_400;
    let env = TestEnv::new();
    let shown = texts_to(&admin_says(&env, "/rules").await, BotKind::Admin, ADMIN_CHAT).join("\n");
    assert!(shown.contains("version 0") && shown.contains("the defaults"), "{shown}");
    let refused = texts_to(&admin_says(&env, r#"/rules {"expiry": {"days": 0}}"#).await, BotKind::Admin, ADMIN_CHAT);
    assert!(refused[0].contains("expiry.days must be between 1 and 3650 days, not 0"), "{refused:?}");
    let refused = texts_to(&admin_says(&env, "/rules {\"expiry\": {\"dayz\": 3}}").await, BotKind::Admin, ADMIN_CHAT);
    assert!(refused[0].contains("unknown field `dayz`"), "{refused:?}");
    assert_eq!(env.storage.program_rules().await.unwrap().version, 0, "a refused document changes nothing");

    let set = r#"/rules {"expiry": {"days": 30, "remind_days_before": 7}}"#;
    let said = texts_to(&admin_says(&env, set).await, BotKind::Admin, ADMIN_CHAT).join("\n");
    assert!(said.contains("Rules version 1 is in force") && said.contains("&quot;days&quot;: 30"), "{said}");
    let anna = env.customer(101, "Anna", Language::En).await;
    assert!(balance_of_101(&env).await.contains("100 points expire within 30 days"), "/balance tells");

    env.clock.advance(23 * DAY);
    env.telegram.take();
    env.engine.maintenance_pass(0).await;
    let told = env.telegram.take();
    let texts: Vec<&str> = told.iter().filter(|c| c.chat_id() == Some(101)).filter_map(|c| c.text()).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Reminder: 100 points expire on"), "{texts:?}");
    assert!(balance_of_101(&env).await.contains("100 points expire within 30 days"), "/balance says it too");
    env.engine.maintenance_pass(0).await;
    assert!(env.telegram.take().iter().all(|c| c.chat_id() != Some(101)), "told once");

    env.clock.advance(7 * DAY);
    env.engine.maintenance_pass(0).await;
    let told = env.telegram.take();
    let texts: Vec<&str> = told.iter().filter(|c| c.chat_id() == Some(101)).filter_map(|c| c.text()).collect();
    assert_eq!(texts, ["⌛ 100 points expired unused. Your balance: <b>0 points</b>."]);
    assert_eq!(fetch(&env, &anna).await.balance, 0);
    let entries =
        env.storage.customer_entries(EntriesPage { customer: anna.id, limit: 5, before: None }).await.unwrap();
    assert_eq!((entries[0].kind, entries[0].amount, entries[0].rules_version), (EntryKind::Expiry, -100, 1));
    env.engine.maintenance_pass(0).await;
    assert!(env.telegram.take().iter().all(|c| c.chat_id() != Some(101)), "expired once");
}

async fn balance_of_101(env: &TestEnv) -> String {
    let update = text(uid(), &TgUser::new(101, "Anna"), "/balance");
    texts_to(&handle(env, BotKind::Client, update).await, BotKind::Client, 101).join("\n")
}

#[tokio::test]
async fn a_long_list_of_campaigns_fits_one_message() {
    let env = TestEnv::new();
    let (today, later) = (env.engine.now().utc_date(), env.engine.now().plus(10 * 86_400).utc_date());
    let title = "T".repeat(190);
    for _ in 0..20 {
        let doc = format!(
            r#"/campaign {{"title": {{"en": "{title}"}}, "kind": "first_purchase", "points": 5, "starts": "{today}", "ends": "{later}", "budget": 100}}"#
        );
        admin_says(&env, &doc).await;
    }
    let listed = texts_to(&admin_says(&env, "/campaigns").await, BotKind::Admin, ADMIN_CHAT);
    assert_eq!(listed.len(), 1);
    let chars = listed[0].chars().count();
    assert!(chars <= 4096 && listed[0].ends_with('…') && listed[0].starts_with("<b>#20 "), "{chars}: {}", listed[0]);
}

#[tokio::test]
async fn a_large_rules_document_is_shown_within_one_message() {
    let env = TestEnv::new();
    let name = "N".repeat(200);
    let levels: Vec<String> = (1..=10)
        .map(|i| {
            format!(
                r#"{{"name": {{"en": "{name}", "ru": "{name}", "vi": "{name}"}}, "threshold": {}, "multiplier_bps": 10000,
                    "perks": {{"en": "{name}", "ru": "{name}", "vi": "{name}"}}}}"#,
                i * 100
            )
        })
        .collect();
    let doc = format!(r#"/rules {{"tiers": {{"window_days": 30, "levels": [{}]}}}}"#, levels.join(","));
    let said = texts_to(&admin_says(&env, &doc).await, BotKind::Admin, ADMIN_CHAT);
    assert_eq!(env.storage.program_rules().await.unwrap().version, 1, "set");
    let visible = said[0].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    assert!(visible.chars().count() <= 4096 && said[0].contains(" …"), "{}", visible.chars().count());
}

/// Two servers (two engines) on one store take the maintenance pass in turns:
/// one pass per period, whoever ticks first; the next period's tick runs again.
#[tokio::test]
async fn the_maintenance_pass_runs_once_per_period_among_servers() {
    let one = TestEnv::new();
    let two = TestEnv::with(one.storage.clone(), loyalty_testkit::test_config());
    two.clock.advance(one.engine.now().0 - two.engine.now().0);
    // Each pass asks for the three bots' webhooks (the watchdog): a pass is three getWebhookInfo calls.
    let passes = |env: &TestEnv| env.telegram.take().iter().filter(|c| c.method == "getWebhookInfo").count() / 3;
    let start = one.engine.now().0;
    let period = 60;
    // Align to the start of a window, then tick both servers a few times within it.
    let into_window = start.rem_euclid(period);
    one.clock.advance(period - into_window);
    two.clock.advance(period - into_window);
    assert!(one.engine.maintenance_turn(60, 0).await, "the first tick of a period runs");
    assert!(!two.engine.maintenance_turn(60, 0).await, "the other server skips it");
    one.clock.advance(59);
    two.clock.advance(30);
    assert!(!one.engine.maintenance_turn(60, 0).await && !two.engine.maintenance_turn(60, 0).await);
    assert_eq!((passes(&one), passes(&two)), (1, 0));
    // The next period: whoever ticks first runs it, once.
    two.clock.advance(30);
    assert!(two.engine.maintenance_turn(60, 0).await);
    one.clock.advance(1);
    assert!(!one.engine.maintenance_turn(60, 0).await);
    assert_eq!((passes(&one), passes(&two)), (0, 1));
    // Another period (5 min) runs at a different cadence: its own turn.
    assert!(one.engine.maintenance_turn(300, 0).await);
}

/// A store that cannot take the turn: unreachable, the pass is skipped; without
/// the turn's function (a database not migrated yet), the pass runs anyway.
#[tokio::test]
async fn the_maintenance_turn_falls_back_to_running_the_pass() {
    use loyalty_core::ports::StoreError;
    let store = std::sync::Arc::new(loyalty_testkit::FaultyStore::new(loyalty_core::MemoryStore::new()));
    let env = TestEnv::with(store.clone(), loyalty_testkit::test_config());
    store.fail_all(Some(StoreError::Unavailable("connection refused".into())));
    assert!(!env.engine.maintenance_turn(60, 0).await);
    store.fail_all(Some(StoreError::Backend("function loyalty.swap_job_state(jsonb) does not exist".into())));
    assert!(env.engine.maintenance_turn(60, 0).await);
    let reports = env.reporter.reports();
    assert!(reports.iter().any(|r| r.message.contains("taking the maintenance turn failed") && !r.temporary));
}
