//! How the bots open the Mini App: never from a reply keyboard (Telegram
//! gives such an app no user), always from an inline `web_app` button or
//! the chat's menu button, at `Config::app_url` — `FRONTEND_URL`, else
//! `<PUBLIC_URL>/app/` — and, from the partner bot, with `?mode=partner`.

use loyalty_core::bots::{admin, client, partner};
use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::domain::Language;
use loyalty_core::telegram::{BotCall, MenuButton, Update};
use loyalty_core::{Config, Engine};
use loyalty_testkit::scenario::{Delivery, Harness};
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser, test_config};
use serde_json::Value;

/// The three ways the app's address can be configured.
#[derive(Debug, Clone, Copy)]
enum App {
    /// `FRONTEND_URL` (and `PUBLIC_URL`, which it overrides).
    Hosted,
    /// `PUBLIC_URL` only: our own copy under `/app/`.
    Ours,
    /// Neither: no app.
    None,
}

impl App {
    fn config(self) -> Config {
        let base = test_config();
        let public_url = Some("https://bots.example.com".to_string());
        match self {
            App::Hosted => Config { public_url, ..base },
            App::Ours => Config { frontend_url: None, public_url, ..base },
            App::None => Config { frontend_url: None, public_url: None, ..base },
        }
    }

    /// The client bot's address of the app.
    fn url(self) -> Option<&'static str> {
        match self {
            App::Hosted => Some("https://app.example.com"),
            App::Ours => Some("https://bots.example.com/app/"),
            App::None => None,
        }
    }

    /// The partner bot's address of the app.
    fn partner_url(self) -> Option<&'static str> {
        match self {
            App::Hosted => Some("https://app.example.com?mode=partner"),
            App::Ours => Some("https://bots.example.com/app/?mode=partner"),
            App::None => None,
        }
    }

    fn harness(self) -> Harness {
        let mut env = TestEnv::new();
        let ports = env.engine.ports().clone();
        env.engine = Engine::new(self.config(), ports);
        Harness::new(env)
    }
}

const ALL: [App; 3] = [App::Hosted, App::Ours, App::None];

fn markup(call: &BotCall) -> &Value {
    call.params.get("reply_markup").unwrap_or(&Value::Null)
}

/// Every `web_app` URL of the inline keyboards of `calls`.
fn inline_app_urls<'a>(calls: impl IntoIterator<Item = &'a BotCall>) -> Vec<String> {
    calls
        .into_iter()
        .flat_map(|c| markup(c)["inline_keyboard"].as_array().cloned().unwrap_or_default())
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["web_app"]["url"].as_str().map(str::to_string))
        .collect()
}

/// The buttons of the reply keyboards of `calls`.
fn reply_keyboard_buttons(d: &Delivery) -> Vec<Value> {
    d.calls
        .iter()
        .flat_map(|c| markup(c)["keyboard"].as_array().cloned().unwrap_or_default())
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_client_bots_reply_keyboard_never_opens_the_app_itself() {
    for app in ALL {
        let h = app.harness();
        for (user, label) in [
            (TgUser::new(10, "Anna"), "📱 Open app"),
            (TgUser::new(11, "Boris").lang("ru"), "📱 Открыть приложение"),
            (TgUser::new(12, "Linh").lang("vi"), "📱 Mở ứng dụng"),
        ] {
            for msg in ["/start", "/menu", "what?"] {
                let d = h.say(Client, &user, msg).await;
                let buttons = reply_keyboard_buttons(&d);
                assert!(buttons.len() >= 8, "{app:?} {msg}: the menu comes with it: {buttons:?}");
                assert!(
                    buttons.iter().all(|b| b.as_object().is_some_and(|o| o.keys().all(|k| k == "text"))),
                    "{app:?} {msg}: text buttons only: {buttons:?}"
                );
                let has_app = buttons.iter().any(|b| b["text"] == label);
                assert_eq!(has_app, app.url().is_some(), "{app:?} {msg}: the app's text button iff there is an app");
            }
            // The text button (or /app) answers with the inline button that opens the app.
            for msg in [label, "/app"] {
                let d = h.say(Client, &user, msg).await;
                assert_eq!(d.calls.len(), 1, "{app:?} {msg}");
                assert_eq!(inline_app_urls(&d.calls), app.url().into_iter().map(String::from).collect::<Vec<_>>());
                match app.url() {
                    Some(_) => assert_eq!(markup(&d.calls[0])["inline_keyboard"][0][0]["text"], label),
                    None => assert!(d.all_text().contains("📱"), "{app:?}: not available: {}", d.all_text()),
                }
            }
        }
    }
}

#[tokio::test]
async fn partners_and_cashiers_open_the_app_as_partners() {
    for app in ALL {
        let h = app.harness();
        let (linh, minh, admin) =
            (TgUser::new(201, "Linh").lang("vi"), TgUser::new(301, "Minh"), TgUser::new(ADMIN_CHAT, "Admin"));
        let want: Vec<String> = app.partner_url().into_iter().map(String::from).collect();

        // Before approval: no app, whatever is asked.
        let applied = h.say(Partner, &linh, "/apply Phở Hà Nội; cafe").await;
        assert!(inline_app_urls(&applied.calls).is_empty(), "{app:?}");
        for msg in ["/start", "/help", "/app"] {
            let d = h.say(Partner, &linh, msg).await;
            assert!(inline_app_urls(&d.calls).is_empty(), "{app:?} {msg}: an applicant has no app");
        }
        let stranger = h.say(Partner, &minh, "/app").await;
        assert!(stranger.all_text().contains("not a partner"), "{app:?}: {}", stranger.all_text());
        assert!(inline_app_urls(&stranger.calls).is_empty());

        h.approved_partner(&linh, &admin, "Phở Hà Nội").await;
        for msg in ["/start", "/help", "/app"] {
            let d = h.say(Partner, &linh, msg).await;
            assert_eq!(inline_app_urls(&d.calls), want, "{app:?} {msg}");
            if app.url().is_some() {
                let label = &markup(&d.calls[0])["inline_keyboard"][0][0]["text"];
                assert_eq!(label, "📱 Mở ứng dụng", "{app:?} {msg}: in the partner's language");
            }
        }
        let help = h.say(Partner, &linh, "/help").await;
        assert!(help.all_text().contains("/credit") && help.all_text().contains("/app"), "{}", help.all_text());
        let opened = h.say(Partner, &linh, "/app").await;
        assert_eq!(opened.calls.len(), 1);
        let (text, available) = (opened.all_text(), app.url().is_some());
        assert!(text.starts_with("📱") && text.contains("chưa") != available, "{app:?}: {text}");

        // A cashier of the business gets the same button (and hears the business's language).
        let invited = h.say(Partner, &linh, "/staff invite").await;
        let text = invited.all_text();
        let at = text.find("s_").unwrap_or_else(|| panic!("no link: {text}"));
        let token: String = text[at + 2..].chars().take_while(char::is_ascii_hexdigit).collect();
        h.say(Partner, &minh, &format!("/start s_{token}")).await;
        for msg in ["/start", "/help", "/app"] {
            let d = h.say(Partner, &minh, msg).await;
            assert_eq!(inline_app_urls(&d.calls), want, "{app:?} cashier {msg}");
        }
        let greeting = h.say(Partner, &minh, "/help").await;
        assert!(
            greeting.all_text().contains("thu ngân") && greeting.all_text().contains("/app"),
            "{}",
            greeting.all_text()
        );
    }
}

#[test]
fn the_menu_buttons_follow_the_app_url() {
    for app in ALL {
        let config = app.config();
        let (client, partner) =
            (client::menu_button(&config, Language::En), partner::menu_button(&config, Language::En));
        match (app.url(), app.partner_url()) {
            (Some(url), Some(partner_url)) => {
                assert_eq!(client, MenuButton::web_app("📱 Open app", url));
                assert_eq!(partner, MenuButton::web_app("📱 Open app", partner_url));
            }
            _ => {
                assert_eq!((client, partner), (MenuButton::Commands, MenuButton::Commands), "taken away without an app")
            }
        }
    }
    let config = App::Ours.config();
    assert_eq!(
        client::menu_button(&config, Language::Ru),
        MenuButton::web_app("📱 Открыть приложение", "https://bots.example.com/app/")
    );
    let call = BotCall::set_chat_menu_button(Partner, None, partner::menu_button(&config, Language::Vi));
    assert_eq!((call.bot, call.method, call.chat_id()), (Partner, "setChatMenuButton", None));
    assert_eq!(
        Value::Object(call.params),
        serde_json::json!({"menu_button": {
            "type": "web_app",
            "text": "📱 Mở ứng dụng",
            "web_app": {"url": "https://bots.example.com/app/?mode=partner"},
        }})
    );
}

/// The admin bot's address of the app.
fn admin_url(app: App) -> Option<&'static str> {
    match app {
        App::Hosted => Some("https://app.example.com?mode=admin"),
        App::Ours => Some("https://bots.example.com/app/?mode=admin"),
        App::None => None,
    }
}

#[tokio::test]
async fn the_admin_opens_the_app_from_a_private_admin_chat_only() {
    for app in ALL {
        // ADMIN_CHAT_ID is the admin's own (private) chat.
        let h = app.harness();
        let admin = TgUser::new(ADMIN_CHAT, "Admin").lang("ru");
        let want: Vec<String> = admin_url(app).into_iter().map(String::from).collect();
        for msg in ["/start", "/help", "/app", "hello"] {
            let d = h.say(Admin, &admin, msg).await;
            assert_eq!(inline_app_urls(&d.calls), want, "{app:?} {msg}");
            if app.url().is_some() {
                let label = &markup(&d.calls[0])["inline_keyboard"][0][0]["text"];
                assert_eq!(label, "📱 Открыть приложение", "{app:?} {msg}: in the admin's language");
            }
        }
        let opened = h.say(Admin, &admin, "/app").await;
        assert_eq!(opened.calls.len(), 1);
        assert!(opened.all_text().contains("недоступно") != app.url().is_some(), "{app:?}: {}", opened.all_text());
        // Anyone else is refused, with no button.
        let stranger = h.say(Admin, &TgUser::new(77, "Eve"), "/app").await;
        assert!(inline_app_urls(&stranger.calls).is_empty(), "{app:?}");

        // A group admin chat: Telegram opens no app from a group's button, so none is offered.
        let mut env = TestEnv::new();
        let ports = env.engine.ports().clone();
        env.engine = Engine::new(Config { admin_chat_id: Some(-100_500), ..app.config() }, ports);
        let h = Harness::new(env);
        for (i, msg) in ["/start", "/help", "/app"].into_iter().enumerate() {
            let update: Update = serde_json::from_value(serde_json::json!({
                "update_id": 7_000 + i,
                "message": {
                    "message_id": 1 + i, "date": 1_700_000_000, "text": msg,
                    "chat": {"id": -100_500, "type": "supergroup", "title": "Admins"},
                    "from": {"id": ADMIN_CHAT, "is_bot": false, "first_name": "Admin", "language_code": "en"},
                },
            }))
            .unwrap();
            let d = h.deliver(Admin, &update).await;
            assert!(inline_app_urls(&d.calls).is_empty(), "{app:?} group {msg}");
            if msg == "/app" {
                let text = d.all_text();
                match app.url() {
                    Some(_) => assert!(text.contains("Main Mini App"), "{app:?}: {text}"),
                    None => assert!(text.contains("not available"), "{app:?}: {text}"),
                }
            }
        }
    }
    // Its menu button: the private admin chat's own, none for a group.
    let private = App::Ours.config();
    assert_eq!(
        admin::menu_button(&private, Language::En),
        Some((ADMIN_CHAT, MenuButton::web_app("📱 Open app", "https://bots.example.com/app/?mode=admin")))
    );
    assert_eq!(admin::menu_button(&Config { admin_chat_id: Some(-100_500), ..private }, Language::En), None);
}
