//! One use case, one wording: a credit from the partner bot and one from a
//! POS, and a redemption answered with the bot's button and in the Mini App,
//! tell the other person the same words — the bots and the REST API run the
//! same `loyalty_core::usecases`.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use loyalty_core::api::init_data::sign_init_data;
use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::telegram::BotCall;
use loyalty_core::{Engine, Task};
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser, test_config};
use serde_json::json;

fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}

fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}

/// A harness with Anna signed up and Linh an approved partner with a POS key.
async fn program() -> (Harness, String, String) {
    let h = Harness::new(TestEnv::new());
    h.say(Client, &anna(), "/start").await;
    h.say(Partner, &linh(), "/apply Pho 24; cafe").await;
    let id = h.engine().storage().list_partners(None).await.unwrap()[0].id;
    h.press(Admin, &TgUser::new(ADMIN_CHAT, "Admin"), &format!("pa:{id}")).await;
    let key = h.say(Partner, &linh(), "/apikey").await.texts_to(linh().id)[0]
        .split(['<', '>'])
        .find(|w| w.starts_with("lk_"))
        .expect("a key")
        .to_string();
    let code = h.code(&anna()).await.expect("registered").to_string();
    (h, key, code)
}

/// Sends an API request and runs its deferred work; the calls it made to `chat`.
async fn api(engine: &Engine, req: Request<Bytes>, chat: i64) -> Vec<BotCall> {
    let answered = engine.handle_api(req).await;
    assert_eq!(answered.response.status(), StatusCode::OK, "{:?}", answered.response.body());
    let calls: Vec<BotCall> = answered.deferred.iter().flat_map(Task::calls).collect();
    for task in answered.deferred {
        engine.run_task(task).await;
    }
    calls.into_iter().filter(|c| c.chat_id() == Some(chat)).collect()
}

/// `text` with every run of digits as `#`: the words, whatever the numbers.
fn words(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

fn post(path: &str, headers: &[(&str, &str)], body: String) -> Request<Bytes> {
    let mut b = Request::builder().method(Method::POST).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::from(body)).unwrap()
}

#[tokio::test]
async fn a_credit_tells_the_customer_the_same_words_from_the_bot_and_from_a_pos() {
    let (h, key, code) = program().await;
    let from_bot = h.say(Partner, &linh(), &format!("/credit {code} 2000")).await.texts_to(anna().id);
    let auth = format!("Bearer {key}");
    let headers = [("authorization", auth.as_str()), ("idempotency-key", "o-1"), ("content-type", "application/json")];
    let body = json!({"customer_code": code, "purchase": 2000}).to_string();
    let from_pos: Vec<String> = api(h.engine(), post("/api/v1/partner/credits", &headers, body), anna().id)
        .await
        .iter()
        .filter_map(|c| c.text().map(String::from))
        .collect();
    assert_eq!(from_bot.len(), 1, "{from_bot:?}");
    assert_eq!(from_pos.len(), 1, "{from_pos:?}");
    // The same words; the balance differs (it grew by the first credit).
    let (bot, pos) = (&from_bot[0], &from_pos[0]);
    assert_eq!(words(bot), words(pos), "\nbot: {bot}\npos: {pos}");
    assert!(bot.contains("Pho 24") && bot.contains("+100") && pos.contains("+100"), "{bot}");
}

#[tokio::test]
async fn an_answered_redemption_tells_the_partner_the_same_words_from_the_button_and_the_mini_app() {
    let (h, _key, code) = program().await;
    let asked = h.say(Partner, &linh(), &format!("/redeem {code} 10 100")).await;
    let confirm = asked.button(anna().id, "rc:").expect("a confirm button");
    let from_button = h.press(Client, &anna(), &confirm).await.texts_to(linh().id);

    let asked = h.say(Partner, &linh(), &format!("/redeem {code} 10 100")).await;
    let second = asked.button(anna().id, "rc:").expect("a confirm button");
    let id = second.trim_start_matches("rc:").split(':').next().expect("the request id");
    let now = h.engine().now().0.to_string();
    let user = json!({"id": anna().id, "first_name": "Anna"}).to_string();
    let token = test_config().token_client.expect("the client bot is configured");
    let init_data = sign_init_data(&[("user", &user), ("auth_date", &now)], token.expose());
    let auth = format!("tma {init_data}");
    let req = post(&format!("/api/v1/redemptions/{id}/confirm"), &[("authorization", &auth)], String::new());
    let from_app: Vec<String> =
        api(h.engine(), req, linh().id).await.iter().filter_map(|c| c.text().map(String::from)).collect();

    assert_eq!((from_button.len(), from_app.len()), (1, 1), "{from_button:?} {from_app:?}");
    // The same words; the request's id and the balance differ.
    assert_eq!(words(&from_button[0]), words(&from_app[0]), "\nbutton: {}\napp: {}", from_button[0], from_app[0]);
    assert!(from_app[0].contains("<b>10 points</b>"), "{}", from_app[0]);
}
