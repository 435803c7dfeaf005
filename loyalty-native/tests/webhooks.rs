//! setWebhook / getWebhookInfo / deleteWebhook / setChatMenuButton helpers
//! against `FakeBotApi` over loopback HTTP.

use loyalty_core::config::{Config, Secret};
use loyalty_core::ports::TelegramError;

use loyalty_core::domain::BotKind;
use loyalty_core::domain::Language;
use loyalty_core::telegram::MenuButton;
use loyalty_core::webhook::webhook_secret;
use loyalty_native::fake_bot_api::FakeBotApi;
use loyalty_native::telegram::HttpTelegram;
use loyalty_native::webhooks::{
    ALLOWED_UPDATES, WebhookError, WebhookOptions, WebhookUrls, delete_webhooks, set_menu_buttons, set_webhooks,
    webhook_info,
};
use serde_json::json;

const CLIENT: &str = "2001:client-token";
const PARTNER: &str = "2002:partner-token";
const ADMIN: &str = "2003:admin-token";

fn config(api: &FakeBotApi) -> Config {
    let [client, partner, admin] = [CLIENT, PARTNER, ADMIN].map(|token| Some(Secret::new(token)));
    Config {
        token_client: client,
        token_partner: partner,
        admin_bot_token: admin,
        admin_chat_id: Some(-100500),
        telegram_api_url: api.url(),
        ..Config::default()
    }
}

fn telegram(config: &Config) -> HttpTelegram {
    HttpTelegram::new(config).unwrap()
}

#[tokio::test]
async fn set_webhooks_registers_every_bot_with_its_secret() {
    let api = FakeBotApi::start().await;
    let config = config(&api);
    let tg = telegram(&config);
    let urls = WebhookUrls::Base("https://bots.example.com/".into());
    let results = set_webhooks(&tg, &config, &urls, &WebhookOptions::default()).await.unwrap();
    let bots: Vec<BotKind> = results.iter().map(|(b, _)| *b).collect();
    assert_eq!(bots, vec![BotKind::Client, BotKind::Partner, BotKind::Admin]);

    for ((bot, result), token) in results.iter().zip([CLIENT, PARTNER, ADMIN]) {
        let expected_url = format!("https://bots.example.com/webhook/{}", bot.as_str());
        assert_eq!(result.as_ref().unwrap(), &expected_url);
        let hook = api.webhook(token).expect("webhook set");
        assert_eq!(hook.url, expected_url);
        let secret = webhook_secret(&config, *bot).unwrap();
        assert_eq!(hook.secret_token.as_deref(), Some(secret.expose()));
        assert_eq!(hook.allowed_updates, Some(ALLOWED_UPDATES.iter().map(|s| s.to_string()).collect()));
        assert_eq!(hook.max_connections, 40);

        let calls = api.calls_for(token);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "setWebhook");
        assert_eq!(calls[0].params["drop_pending_updates"], false);
        assert_eq!(calls[0].params["allowed_updates"], json!(["message", "callback_query", "my_chat_member"]));
    }
    // Secrets derived from the tokens differ per bot.
    assert_ne!(api.webhook(CLIENT).unwrap().secret_token, api.webhook(PARTNER).unwrap().secret_token);
}

#[tokio::test]
async fn options_shared_secret_and_explicit_urls() {
    let api = FakeBotApi::start().await;
    let config = Config { webhook_secret: Some(Secret::new("one-shared-secret")), ..config(&api) };
    let tg = telegram(&config);
    api.push_update(CLIENT, json!({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}));
    api.push_update(PARTNER, json!({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}));
    let urls = WebhookUrls::PerBot(vec![(BotKind::Client, "http://127.0.0.1:8080/hooks/c".into())]);
    let options = WebhookOptions { drop_pending_updates: true, max_connections: 5 };
    let results = set_webhooks(&tg, &config, &urls, &options).await.unwrap();
    assert_eq!(results, vec![(BotKind::Client, Ok("http://127.0.0.1:8080/hooks/c".to_string()))]);

    let hook = api.webhook(CLIENT).unwrap();
    assert_eq!(hook.url, "http://127.0.0.1:8080/hooks/c");
    assert_eq!(hook.secret_token.as_deref(), Some("one-shared-secret"));
    assert_eq!(hook.max_connections, 5);
    assert_eq!(api.pending_updates(CLIENT), 0, "drop_pending_updates dropped the queue");
    assert_eq!(api.webhook(PARTNER), None, "bots not listed are left alone");
    assert_eq!(api.pending_updates(PARTNER), 1);
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let api = FakeBotApi::start().await;
    let config = config(&api);
    let tg = telegram(&config);
    for base in ["http://bots.example.com", "https://bots.example.com:3000", "bots.example.com"] {
        let e =
            set_webhooks(&tg, &config, &WebhookUrls::Base(base.into()), &WebhookOptions::default()).await.unwrap_err();
        assert!(matches!(e, WebhookError::InvalidUrl { bot: "client", .. }), "{base}: {e:?}");
    }
    let e = set_webhooks(
        &tg,
        &config,
        &WebhookUrls::Base("https://bots.example.com".into()),
        &WebhookOptions { max_connections: 0, ..WebhookOptions::default() },
    )
    .await
    .unwrap_err();
    assert_eq!(e, WebhookError::InvalidMaxConnections(0));
    assert!(api.calls().is_empty());

    let empty = Config { telegram_api_url: api.url(), ..Config::default() };
    let none = telegram(&empty);
    let base = WebhookUrls::Base("https://bots.example.com".into());
    assert_eq!(set_webhooks(&none, &empty, &base, &WebhookOptions::default()).await, Err(WebhookError::NoBots));
    assert_eq!(webhook_info(&none, &empty).await.unwrap_err(), WebhookError::NoBots);
    assert_eq!(delete_webhooks(&none, &empty, false).await.unwrap_err(), WebhookError::NoBots);
}

#[tokio::test]
async fn one_bot_failing_does_not_hide_the_others() {
    let api = FakeBotApi::start().await;
    // The admin bot lacks ADMIN_CHAT_ID: it is not served, so its webhook is not set.
    let config = Config { admin_chat_id: None, ..config(&api) };
    let tg = telegram(&config);
    api.revoke(PARTNER);
    let urls = WebhookUrls::Base("https://bots.example.com".into());
    let results = set_webhooks(&tg, &config, &urls, &WebhookOptions::default()).await.unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[0].1.is_ok());
    assert_eq!(
        results[1],
        (BotKind::Partner, Err(TelegramError::Api { code: 401, description: "Unauthorized".into() }))
    );
    assert_eq!(api.webhook(ADMIN), None);
}

#[tokio::test]
async fn info_reports_the_webhook_and_pending_updates() {
    let api = FakeBotApi::start().await;
    let config = config(&api);
    let tg = telegram(&config);
    let before = webhook_info(&tg, &config).await.unwrap();
    assert_eq!(before.len(), 3);
    for (_, info) in &before {
        let info = info.as_ref().unwrap();
        assert!(!info.is_set());
        assert_eq!(info.pending_update_count, 0);
    }

    let urls = WebhookUrls::Base("https://bots.example.com".into());
    set_webhooks(&tg, &config, &urls, &WebhookOptions { max_connections: 10, ..WebhookOptions::default() })
        .await
        .unwrap();
    for i in 0..3 {
        api.push_update(
            PARTNER,
            json!({"message": {"message_id": i, "date": 0, "chat": {"id": 1, "type": "private"}}}),
        );
    }
    let after = webhook_info(&tg, &config).await.unwrap();
    let (bot, partner) = &after[1];
    assert_eq!(*bot, BotKind::Partner);
    let partner = partner.as_ref().unwrap();
    assert_eq!(partner.url, "https://bots.example.com/webhook/partner");
    assert!(partner.is_set());
    assert_eq!(partner.pending_update_count, 3);
    assert_eq!(partner.max_connections, Some(10));
    assert_eq!(
        partner.allowed_updates.as_deref(),
        Some(&["message".to_string(), "callback_query".into(), "my_chat_member".into()][..])
    );
    assert!(!partner.has_custom_certificate);
    assert_eq!(partner.last_error_message, None);
    assert!(api.calls().iter().filter(|c| c.method == "getWebhookInfo").count() == 6);
}

#[tokio::test]
async fn delete_keeps_or_drops_pending_updates() {
    let api = FakeBotApi::start().await;
    let config = Config { admin_chat_id: None, ..config(&api) };
    let tg = telegram(&config);
    let urls = WebhookUrls::Base("https://bots.example.com".into());
    set_webhooks(&tg, &config, &urls, &WebhookOptions::default()).await.unwrap();
    let update = json!({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}});
    api.push_update(CLIENT, update.clone());
    api.push_update(PARTNER, update.clone());

    let results = delete_webhooks(&tg, &config, false).await.unwrap();
    // Every bot with a token, including the admin bot whose configuration is incomplete.
    assert_eq!(results, vec![(BotKind::Client, Ok(())), (BotKind::Partner, Ok(())), (BotKind::Admin, Ok(()))]);
    assert_eq!(api.webhook(CLIENT), None);
    assert_eq!(api.webhook(PARTNER), None);
    assert_eq!(api.pending_updates(CLIENT), 1);
    assert_eq!(api.pending_updates(PARTNER), 1);
    assert_eq!(api.calls_for(CLIENT).last().unwrap().params["drop_pending_updates"], false);

    let results = delete_webhooks(&tg, &config, true).await.unwrap();
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(api.pending_updates(CLIENT), 0);
    assert_eq!(api.pending_updates(PARTNER), 0);
    // Polling works again once the webhook is gone.
    api.push_update(CLIENT, update);
    let batch = tg.get_updates(BotKind::Client, 0, 0, ALLOWED_UPDATES).await.unwrap();
    assert_eq!(batch.updates.len(), 1);
}

/// A webhook receiver: records (secret header, update) and answers with `reply`'s status and body.
async fn receiver(
    status: u16,
    reply: serde_json::Value,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, serde_json::Value)>>>) {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, serde_json::Value)>>>;
    let seen: Seen = Default::default();
    let app = axum::Router::new()
        .route(
            "/webhook/{bot}",
            axum::routing::post(
                move |State(seen): State<Seen>, headers: HeaderMap, body: axum::Json<serde_json::Value>| {
                    let reply = reply.clone();
                    async move {
                        let secret = headers
                            .get("x-telegram-bot-api-secret-token")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        seen.lock().unwrap().push((secret, body.0));
                        (StatusCode::from_u16(status).unwrap(), axum::Json(reply))
                    }
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn the_fake_delivers_updates_to_the_webhook_and_runs_the_reply() {
    let api = FakeBotApi::start().await;
    let config = config(&api);
    let tg = telegram(&config);
    let (base, seen) = receiver(200, json!({"method": "sendMessage", "chat_id": 5, "text": "hi from the reply"})).await;
    set_webhooks(&tg, &config, &WebhookUrls::Base(base), &WebhookOptions::default()).await.unwrap();
    let id = api.push_update(
        CLIENT,
        json!({"message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "/start"}}),
    );
    api.push_update(
        CLIENT,
        json!({"message": {"message_id": 2, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "again"}}),
    );

    let deliveries = api.deliver_webhook(CLIENT).await;
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].update_id, id);
    assert_eq!(deliveries[0].status, Some(200));
    assert_eq!(deliveries[0].reply_method.as_deref(), Some("sendMessage"));
    assert_eq!(api.pending_updates(CLIENT), 0);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let secret = webhook_secret(&config, BotKind::Client).unwrap();
    assert_eq!(seen[0].0.as_deref(), Some(secret.expose()));
    assert_eq!(seen[0].1["update_id"], id);
    assert_eq!(seen[0].1["message"]["text"], "/start");

    let replies: Vec<_> = api.calls_for(CLIENT).into_iter().filter(|c| c.via_webhook_reply).collect();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].method, "sendMessage");
    assert_eq!(replies[0].params["text"], "hi from the reply");
    assert!(replies[0].succeeded());
}

#[tokio::test]
async fn failed_deliveries_stay_queued_and_show_in_webhook_info() {
    let api = FakeBotApi::start().await;
    let config = config(&api);
    let tg = telegram(&config);
    let (base, seen) = receiver(500, json!({})).await;
    set_webhooks(&tg, &config, &WebhookUrls::Base(base), &WebhookOptions::default()).await.unwrap();
    api.push_update(PARTNER, json!({"message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}}}));
    api.push_update(PARTNER, json!({"message": {"message_id": 2, "date": 0, "chat": {"id": 5, "type": "private"}}}));

    let deliveries = api.deliver_webhook(PARTNER).await;
    assert_eq!(deliveries.len(), 1, "delivery stops at the first failure");
    assert_eq!(deliveries[0].status, Some(500));
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(api.pending_updates(PARTNER), 2);

    let info = webhook_info(&tg, &config).await.unwrap();
    let partner = info[1].1.as_ref().unwrap();
    assert_eq!(partner.pending_update_count, 2);
    assert!(partner.last_error_date.is_some_and(|d| d > 0));
    assert_eq!(
        partner.last_error_message.as_deref(),
        Some("Wrong response from the webhook: 500 Internal Server Error")
    );
    assert!(api.deliver_webhook(CLIENT).await.is_empty(), "nothing queued for the client bot");

    // `loyalty webhooks info` says when the last error happened.
    let report = loyalty_native::runtime::webhook_info(&config).await.unwrap();
    let at = loyalty_core::domain::Timestamp(partner.last_error_date.unwrap()).utc_minutes();
    let line = report.lines().find(|l| l.starts_with("partner:")).unwrap_or_default();
    assert!(
        line.ends_with(&format!(
            "; last error at {at} UTC: Wrong response from the webhook: 500 Internal Server Error"
        )),
        "{report}"
    );
}

/// The menu button that opens the app: `setChatMenuButton` without a chat.
fn app_button(text: &str, url: &str) -> serde_json::Value {
    json!({"type": "web_app", "text": text, "web_app": {"url": url}})
}

#[tokio::test]
async fn menu_buttons_open_the_app_as_customer_and_as_partner() {
    let api = FakeBotApi::start().await;
    let config = Config { public_url: Some("https://bots.example.com".into()), ..config(&api) };
    let tg = telegram(&config);
    let all = [BotKind::Client, BotKind::Partner, BotKind::Admin];
    let results = set_menu_buttons(&tg, &config, &all, Language::En).await;
    assert_eq!(
        results,
        vec![
            (BotKind::Client, Ok(MenuButton::web_app("📱 Open app", "https://bots.example.com/app/"))),
            (BotKind::Partner, Ok(MenuButton::web_app("📱 Open app", "https://bots.example.com/app/?mode=partner"))),
        ],
        "a group admin chat has no menu button"
    );
    for (token, url) in
        [(CLIENT, "https://bots.example.com/app/"), (PARTNER, "https://bots.example.com/app/?mode=partner")]
    {
        let calls = api.calls_for(token);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "setChatMenuButton");
        assert!(calls[0].succeeded());
        assert_eq!(calls[0].chat_id(), None, "the default of every private chat");
        assert_eq!(calls[0].params["menu_button"], app_button("📱 Open app", url));
        assert_eq!(api.menu_button(token, None), app_button("📱 Open app", url));
    }
    assert!(api.calls_for(ADMIN).is_empty());

    // FRONTEND_URL wins; the label follows the language asked for.
    let hosted = Config { frontend_url: Some("https://app.example.com/mini/".into()), ..config.clone() };
    set_menu_buttons(&tg, &hosted, &[BotKind::Partner], Language::Vi).await;
    assert_eq!(
        api.menu_button(PARTNER, None),
        app_button("📱 Mở ứng dụng", "https://app.example.com/mini/?mode=partner")
    );

    // Without an app the button goes back to the commands; a `default` for
    // all chats would have left the app's button in place.
    let none = Config { public_url: None, ..config.clone() };
    let results = set_menu_buttons(&tg, &none, &all, Language::En).await;
    assert_eq!(
        results,
        vec![(BotKind::Client, Ok(MenuButton::Commands)), (BotKind::Partner, Ok(MenuButton::Commands))]
    );
    for token in [CLIENT, PARTNER] {
        assert_eq!(api.calls_for(token).last().unwrap().params["menu_button"], json!({"type": "commands"}));
        assert_eq!(api.menu_button(token, None), json!({"type": "commands"}));
    }
}

#[tokio::test]
async fn a_private_admin_chat_gets_its_own_menu_button_to_the_admin_app() {
    let api = FakeBotApi::start().await;
    let config =
        Config { public_url: Some("https://bots.example.com".into()), admin_chat_id: Some(900), ..config(&api) };
    let tg = telegram(&config);
    let results = set_menu_buttons(&tg, &config, &[BotKind::Admin], Language::En).await;
    let url = "https://bots.example.com/app/?mode=admin";
    assert_eq!(results, vec![(BotKind::Admin, Ok(MenuButton::web_app("📱 Open app", url)))]);
    let calls = api.calls_for(ADMIN);
    assert_eq!((calls.len(), calls[0].chat_id()), (1, Some(900)), "that chat's button only");
    assert!(calls[0].succeeded());
    assert_eq!(api.menu_button(ADMIN, Some(900)), app_button("📱 Open app", url));
    assert_eq!(api.menu_button(ADMIN, None), json!({"type": "commands"}), "no other chat's");
}

#[tokio::test]
async fn telegram_refuses_a_menu_button_that_is_not_https() {
    let api = FakeBotApi::start().await;
    // Config::from_lookup refuses http; a Config built by hand can still carry it.
    let config = Config { public_url: Some("http://bots.example.com".into()), ..config(&api) };
    let tg = telegram(&config);
    let results = set_menu_buttons(&tg, &config, &[BotKind::Client], Language::En).await;
    let description = "Bad Request: menu button Web App URL 'http://bots.example.com/app/' is invalid: \
                       Only HTTPS links are allowed";
    assert_eq!(
        results,
        vec![(BotKind::Client, Err(TelegramError::Api { code: 400, description: description.into() }))]
    );
    assert_eq!(api.menu_button(CLIENT, None), json!({"type": "commands"}), "nothing changed");
}

#[tokio::test]
async fn loyalty_webhooks_set_reports_the_menu_buttons_per_bot() {
    let api = FakeBotApi::start().await;
    let config = Config { public_url: Some("https://bots.example.com".into()), ..config(&api) };
    let urls = loyalty_native::runtime::WebhookUrls {
        base_url: "https://bots.example.com".into(),
        client: None,
        partner: None,
        admin: None,
    };
    let report = loyalty_native::runtime::set_webhooks(&config, &urls, false, None, Language::Ru).await.unwrap();
    assert_eq!(
        report.lines().collect::<Vec<_>>(),
        [
            "client: webhook set to https://bots.example.com/webhook/client",
            "client: menu button opens https://bots.example.com/app/",
            "partner: webhook set to https://bots.example.com/webhook/partner",
            "partner: menu button opens https://bots.example.com/app/?mode=partner",
            "admin: webhook set to https://bots.example.com/webhook/admin",
        ]
    );
    let methods: Vec<String> = api.calls_for(CLIENT).into_iter().map(|c| c.method).collect();
    assert_eq!(methods, ["setWebhook", "setChatMenuButton"]);
    assert_eq!(api.menu_button(CLIENT, None), app_button("📱 Открыть приложение", "https://bots.example.com/app/"));
    assert_eq!(api.webhook(ADMIN).unwrap().url, "https://bots.example.com/webhook/admin");
    assert!(api.calls_for(ADMIN).iter().all(|c| c.method != "setChatMenuButton"));

    // The setting removed: the next run takes the button away.
    let none = Config { public_url: None, ..config.clone() };
    let report = loyalty_native::runtime::set_webhooks(&none, &urls, false, None, Language::En).await.unwrap();
    assert!(
        report.contains(
            "client: menu button shows the commands (no Mini App: neither PUBLIC_URL nor FRONTEND_URL is set)"
        ),
        "{report}"
    );
    assert_eq!(api.menu_button(CLIENT, None), json!({"type": "commands"}));
    assert_eq!(api.menu_button(PARTNER, None), json!({"type": "commands"}));

    // A refusal fails the command and names the bot once, with both of its lines.
    api.revoke(PARTNER);
    let e = loyalty_native::runtime::set_webhooks(&config, &urls, false, None, Language::En).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("partner: failed: ") && text.contains("partner: menu button failed: "), "{text}");
    assert!(text.contains("client: menu button opens https://bots.example.com/app/"), "{text}");
    assert!(text.ends_with("Telegram refused for: partner (TOKEN_PARTNER)"), "{text}");
}
