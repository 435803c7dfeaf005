//! Outgoing webhooks through the bots: the admin registers the program's
//! endpoints and a partner's owner its own (`/webhook_add`, the signing secret
//! shown once in the reply), lists them with how their last delivery went
//! (`/webhooks`, never the secret) and removes them (`/webhook_remove`); a
//! cashier, someone who is not a partner and a partner not approved are
//! refused, and bad input (plain HTTP, localhost, an unknown event, an 11th
//! endpoint, another owner's id, an id that is no number) gets a clear answer
//! and changes nothing. End to end: a partner's credit reaches its endpoint
//! signed with the secret the bot showed, and `/webhooks` shows the status.

use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::domain::TelegramUserId;
use loyalty_core::outgoing::{self, DEFAULT_TOLERANCE_SECS, MAX_WEBHOOKS, SIGNATURE_HEADER, WebhookEvent};
use loyalty_core::ports::{Clock, PartnerRef, WebhookOwner, WebhookPost, WebhookPostError};
use loyalty_testkit::scenario::{Delivery, Harness};
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser};
use serde_json::Value;

fn admin() -> TgUser {
    TgUser::new(ADMIN_CHAT, "Admin")
}

fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}

fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}

/// The signing secret in a reply (`whsec_` and 64 hex digits).
fn secret_in(reply: &Delivery) -> String {
    let text = reply.all_text();
    let at = text.find("whsec_").unwrap_or_else(|| panic!("no secret: {text}"));
    let secret: String = text[at..].chars().take("whsec_".len() + 64).collect();
    assert!(secret["whsec_".len()..].chars().all(|c| c.is_ascii_hexdigit()), "{text}");
    secret
}

fn linh_owner() -> WebhookOwner {
    WebhookOwner::Partner(PartnerRef::Telegram(TelegramUserId(linh().id)))
}

/// How many endpoints `owner` has (not removed).
async fn count(h: &Harness, owner: WebhookOwner) -> usize {
    h.env.storage.webhooks(owner).await.unwrap().len()
}

fn header<'a>(post: &'a WebhookPost, name: &str) -> &'a str {
    post.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or("")
}

#[tokio::test]
async fn the_admin_registers_lists_and_removes_the_programs_endpoints() {
    // Every update delivered twice: a redelivered /webhook_add adds nothing.
    let h = Harness::new(TestEnv::new()).deliver_twice(true);
    let none = h.say(Admin, &admin(), "/webhooks").await;
    assert!(none.all_text().contains("No webhook endpoints yet."), "{}", none.all_text());
    assert!(none.all_text().contains("/webhook_add"), "the usage follows: {}", none.all_text());

    let added = h.say(Admin, &admin(), "/webhook_add https://crm.example.com/hooks all").await;
    let text = added.all_text();
    assert!(text.contains("Webhook endpoint #1 added") && text.contains("shown only this once"), "{text}");
    let secret = secret_in(&added);
    let stored = h.env.storage.webhooks(WebhookOwner::Program).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!((stored[0].secret.as_str(), stored[0].events.as_slice()), (secret.as_str(), &WebhookEvent::ALL[..]));
    assert_eq!(stored[0].url, "https://crm.example.com/hooks");

    let listed = h.say(Admin, &admin(), "/webhooks").await.all_text();
    for part in
        ["#1 <code>https://crm.example.com/hooks</code>", "Events: all", "Last attempt: never", "Last success: never"]
    {
        assert!(listed.contains(part), "{part}: {listed}");
    }
    assert!(!listed.contains("whsec_"), "the list never shows a secret: {listed}");

    // Bad input: a clear answer, nothing added.
    for (input, answer) in [
        ("/webhook_add http://crm.example.com/h all", "must start with https://"),
        ("/webhook_add https://localhost/h all", "localhost"),
        ("/webhook_add https://10.0.0.7/h all", "not a private or local one"),
        ("/webhook_add https://crm.example.com/h points.stolen", "unknown event: points.stolen"),
        ("/webhook_add https://crm.example.com/h", "Events: <code>customer.joined</code>"),
        ("/webhook_add", "/webhook_remove <code>ID</code>"),
    ] {
        let reply = h.say(Admin, &admin(), input).await.all_text();
        assert!(reply.contains(answer), "{input}: {reply}");
        assert!(!reply.contains("whsec_"), "{input}: {reply}");
        assert_eq!(count(&h, WebhookOwner::Program).await, 1, "{input} added nothing");
    }
    for input in ["/webhook_remove abc", "/webhook_remove", "/webhook_remove 0"] {
        let reply = h.say(Admin, &admin(), input).await.all_text();
        assert!(reply.contains("/webhook_remove <code>ID</code>"), "{input}: {reply}");
    }
    let unknown = h.say(Admin, &admin(), "/webhook_remove 99").await.all_text();
    assert!(unknown.contains("No such webhook endpoint."), "{unknown}");

    // Ten endpoints at most.
    for i in 2..=MAX_WEBHOOKS {
        let reply = h.say(Admin, &admin(), &format!("/webhook_add https://h{i}.example.com/x tier.changed")).await;
        assert!(reply.all_text().contains(&format!("#{i} added")), "{}", reply.all_text());
    }
    let eleventh = h.say(Admin, &admin(), "/webhook_add https://h11.example.com/x tier.changed").await.all_text();
    assert!(eleventh.contains("At most 10 webhook endpoints"), "{eleventh}");
    assert!(!eleventh.contains("whsec_"), "{eleventh}");
    assert_eq!(count(&h, WebhookOwner::Program).await, MAX_WEBHOOKS);

    let removed = h.say(Admin, &admin(), "/webhook_remove #1").await.all_text();
    assert!(removed.contains("#1") && removed.contains("removed"), "{removed}");
    let listed = h.say(Admin, &admin(), "/webhooks").await.all_text();
    assert!(!listed.contains("crm.example.com") && listed.contains("h10.example.com"), "{listed}");
    let again = h.say(Admin, &admin(), "/webhook_add https://h11.example.com/x tier.changed").await.all_text();
    assert!(again.contains("#11 added"), "room again after removing one: {again}");

    // In the admin's language.
    let ru = h.say(Admin, &admin().lang("ru"), "/webhooks").await.all_text();
    assert!(ru.contains("Вебхуки") && ru.contains("Последний успех: ещё не было"), "{ru}");
    let vi = h.say(Admin, &admin().lang("vi"), "/webhook_add ftp://x.example all").await.all_text();
    assert!(vi.contains("Địa chỉ webhook không hợp lệ") && vi.contains("https://"), "{vi}");
}

#[tokio::test]
async fn a_partners_owner_manages_its_own_endpoints_and_nobody_else_can() {
    let h = Harness::new(TestEnv::new());
    let (bao, minh, tuan, stranger) =
        (TgUser::new(202, "Bao"), TgUser::new(301, "Minh"), TgUser::new(401, "Tuan"), TgUser::new(501, "Vy"));
    h.approved_partner(&linh(), &admin(), "Phở Hà Nội").await;
    h.approved_partner(&bao, &admin(), "Bánh Mì").await;
    h.say(Partner, &tuan, "/apply Trà Sữa; tea").await;
    // Minh becomes Linh's cashier.
    let invited = h.say(Partner, &linh(), "/staff invite").await.all_text();
    let token: String =
        invited[invited.find("s_").expect("a link") + 2..].chars().take_while(char::is_ascii_hexdigit).collect();
    h.say(Partner, &minh, &format!("/start s_{token}")).await;

    let added =
        h.say(Partner, &linh(), "/webhook_add https://pho.example.com/loyalty points.credited, points.redeemed").await;
    assert!(added.all_text().contains("Webhook endpoint #1 added"), "{}", added.all_text());
    let secret = secret_in(&added);
    let mine = h.env.storage.webhooks(linh_owner()).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].events, [WebhookEvent::PointsCredited, WebhookEvent::PointsRedeemed]);
    assert_eq!(mine[0].secret, secret);
    let listed = h.say(Partner, &linh(), "/webhooks").await.all_text();
    assert!(listed.contains("#1 <code>https://pho.example.com/loyalty</code>"), "{listed}");
    assert!(listed.contains("Events: points.credited, points.redeemed") && !listed.contains("whsec_"), "{listed}");
    let program = h.say(Admin, &admin(), "/webhooks").await.all_text();
    assert!(program.contains("No webhook endpoints yet."), "a partner's endpoint is not the program's: {program}");

    // A cashier and someone who is no partner hear that only the owner does this.
    for who in [&minh, &stranger] {
        for cmd in ["/webhooks", "/webhook_add https://minh.example.com/h all", "/webhook_remove 1"] {
            let refused = h.say(Partner, who, cmd).await.all_text();
            assert!(refused.contains("Only a partner's owner can do this"), "{} {cmd}: {refused}", who.first_name);
        }
    }
    assert_eq!(count(&h, linh_owner()).await, 1, "the cashier removed nothing");
    // A partner not approved yet is told where it stands.
    let waiting = h.say(Partner, &tuan, "/webhook_add https://tra.example.com/h all").await.all_text();
    assert!(waiting.contains("waiting for approval"), "{waiting}");
    let tuan_owner = WebhookOwner::Partner(PartnerRef::Telegram(TelegramUserId(tuan.id)));
    assert_eq!(count(&h, tuan_owner).await, 0);

    // Another partner's id, or the admin's, is no endpoint of theirs.
    let other = h.say(Partner, &bao, "/webhook_remove 1").await.all_text();
    assert!(other.contains("No such webhook endpoint."), "{other}");
    let by_admin = h.say(Admin, &admin(), "/webhook_remove 1").await.all_text();
    assert!(by_admin.contains("No such webhook endpoint."), "{by_admin}");
    assert_eq!(count(&h, linh_owner()).await, 1, "still Linh's");
    let bao_list = h.say(Partner, &bao, "/webhooks").await.all_text();
    assert!(!bao_list.contains("pho.example.com"), "{bao_list}");

    // Bad input from the owner, in Russian.
    let ru = linh().lang("ru");
    let bad = h.say(Partner, &ru, "/webhook_add https://pho.example.com/h points.stolen").await.all_text();
    assert!(bad.contains("unknown event: points.stolen") && bad.contains("/webhook_add"), "{bad}");
    let usage = h.say(Partner, &ru, "/webhook_remove abc").await.all_text();
    assert!(usage.contains("отключить адрес"), "{usage}");
    assert_eq!(count(&h, linh_owner()).await, 1);

    let removed = h.say(Partner, &linh(), "/webhook_remove 1").await.all_text();
    assert!(removed.contains("#1") && removed.contains("removed"), "{removed}");
    assert_eq!(count(&h, linh_owner()).await, 0);
}

#[tokio::test]
async fn a_credit_reaches_the_partners_endpoint_signed_and_webhooks_shows_how_it_went() {
    let h = Harness::new(TestEnv::new());
    h.say(Client, &anna(), "/start").await;
    let code = h.code(&anna()).await.expect("registered");
    h.approved_partner(&linh(), &admin(), "Phở Hà Nội").await;
    let added = h.say(Partner, &linh(), "/webhook_add https://pho.example.com/loyalty points.credited").await;
    let secret = secret_in(&added);
    let program = h.say(Admin, &admin(), "/webhook_add https://crm.example.com/hooks tier.changed").await;
    let program_secret = secret_in(&program);
    h.env.webhooks.take();

    let credited = h.say(Partner, &linh(), &format!("/credit {code} 50000")).await;
    assert!(credited.texts_to(anna().id).join("").contains("Phở Hà Nội"), "{}", credited.all_text());
    let posts = h.env.webhooks.take();
    assert_eq!(posts.len(), 1, "only the endpoint subscribed to credits: {posts:?}");
    let post = &posts[0];
    assert_eq!(post.url, "https://pho.example.com/loyalty");
    assert_eq!(header(post, "Loyalty-Event"), "points.credited");
    let now = h.env.clock.now();
    let signature = header(post, SIGNATURE_HEADER);
    assert_eq!(outgoing::verify(&secret, signature, &post.body, now, DEFAULT_TOLERANCE_SECS), Ok(now));
    assert!(
        outgoing::verify(&program_secret, signature, &post.body, now, DEFAULT_TOLERANCE_SECS).is_err(),
        "signed with this endpoint's own secret"
    );
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["type"], "points.credited", "{body}");

    let listed = h.say(Partner, &linh(), "/webhooks").await.all_text();
    let at = now.utc_minutes();
    assert!(listed.contains(&format!("Last attempt: {at} UTC · HTTP 200")), "{listed}");
    assert!(listed.contains(&format!("Last success: {at} UTC")), "{listed}");

    // A failing endpoint: the last attempt says so, the last success stays.
    h.advance(3_600);
    h.env.webhooks.answer_next(Ok(500));
    h.say(Partner, &linh(), &format!("/credit {code} 1000")).await;
    let failed = h.say(Partner, &linh(), "/webhooks").await.all_text();
    let later = h.env.clock.now().utc_minutes();
    assert!(failed.contains(&format!("Last attempt: {later} UTC · HTTP 500\n")), "{failed}");
    assert!(failed.contains(&format!("Last success: {at} UTC")), "{failed}");
    // No answer at all: said as such, with the reason.
    h.advance(3_600);
    h.env.webhooks.answer_next(Err(WebhookPostError::Unreachable("timed out".into())));
    h.say(Partner, &linh(), &format!("/credit {code} 1000")).await;
    let silent = h.say(Partner, &linh(), "/webhooks").await.all_text();
    assert!(silent.contains("UTC · no answer · no answer: timed out"), "{silent}");
}

/// The text of the Bot API call riding in a webhook response's body.
fn body_text(res: &loyalty_core::webhook::WebhookResponse) -> String {
    let call: Value = serde_json::from_slice(res.response.body()).expect("a Bot API call in the body");
    call["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_webhook_add_whose_answer_was_lost_answers_the_same_endpoint_when_processed_again() {
    use loyalty_core::stores::memory::MemoryStore;
    use loyalty_testkit::FaultyStore;
    use std::sync::Arc;
    let update = |id: i64, text: &str| serde_json::to_vec(&loyalty_testkit::text_json(id, &admin(), text)).unwrap();
    let add = update(7_001, "/webhook_add https://crm.example.com/hooks points.credited tier.changed");

    // Which storage call of the update registers the endpoint (a healthy run on a fresh store).
    let probe_store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let probe = Harness::new(TestEnv::with(probe_store.clone(), loyalty_testkit::test_config()));
    let ok = probe.engine().handle_webhook(Admin, probe.webhook_request(Admin, add.clone())).await;
    assert_eq!(ok.response.status(), http::StatusCode::OK);
    let n = probe_store.log().iter().position(|m| *m == "add_webhook").expect("the update registers") + 1;

    // The store registers the endpoint but its answer is lost: the update fails (Telegram retries).
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let h = Harness::new(TestEnv::with(store.clone(), loyalty_testkit::test_config()));
    store.fail_call(n, true);
    let failed = h.engine().handle_webhook(Admin, h.webhook_request(Admin, add.clone())).await;
    assert_eq!(failed.response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    let stored = h.env.storage.webhooks(WebhookOwner::Program).await.unwrap();
    assert_eq!(stored.len(), 1, "registered before the answer was lost");

    // Telegram delivers the update again: the same endpoint and the secret it is signed with, nothing more.
    let retry = h.engine().handle_webhook(Admin, h.webhook_request(Admin, add.clone())).await;
    assert_eq!(retry.response.status(), http::StatusCode::OK);
    let text = body_text(&retry);
    assert!(text.contains("Webhook endpoint #1 added"), "{text}");
    assert!(text.contains(&stored[0].secret), "the stored secret is the one shown: {text}");
    assert_eq!(h.env.storage.webhooks(WebhookOwner::Program).await.unwrap(), stored, "one endpoint, unchanged");
    assert_eq!(store.log().iter().filter(|m| **m == "add_webhook").count(), 2, "registered again, and replayed");

    // Another update with the same command is another registration.
    let other = h
        .engine()
        .handle_webhook(
            Admin,
            h.webhook_request(
                Admin,
                update(7_002, "/webhook_add https://crm.example.com/hooks points.credited tier.changed"),
            ),
        )
        .await;
    assert!(body_text(&other).contains("#2 added"), "{}", body_text(&other));
    assert_eq!(count(&h, WebhookOwner::Program).await, 2);
}
