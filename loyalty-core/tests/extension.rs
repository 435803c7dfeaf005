//! The engine's extension points: an `Extension` answers what the built-in
//! bots do not claim and hears of every committed use case once, whether the
//! change came from a bot or from the REST API, and however often Telegram or
//! a POS repeats itself.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use loyalty_core::domain::BotKind::{self, Admin, Client, Partner};
use loyalty_core::domain::EntryKind;
use loyalty_core::ports::{EntriesPage, StoreError};
use loyalty_core::telegram::{BotCall, Command, Update, UpdateKind};
use loyalty_core::{Bots, Context, Engine, Error, Event, Extension, Outbox, Result};
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Answers `/ping` in the client bot, records what it was asked and told,
/// and sends a message of its own for each credit.
#[derive(Debug, Default)]
struct Recorder {
    unclaimed: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
    fail_next: AtomicBool,
}

impl Recorder {
    fn unclaimed(&self) -> Vec<String> {
        self.unclaimed.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Extension for Recorder {
    async fn on_unclaimed(&self, _cx: &Context, bot: BotKind, update: &Update) -> Result<Option<Outbox>> {
        let seen = match update.kind() {
            UpdateKind::Message(m) => format!("{}:{}", bot.as_str(), m.text.as_deref().unwrap_or("")),
            UpdateKind::CallbackQuery(q) => format!("{}:button {}", bot.as_str(), q.data.as_deref().unwrap_or("")),
            _ => format!("{}:other", bot.as_str()),
        };
        self.unclaimed.lock().unwrap().push(seen);
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(Error::Store(StoreError::Unavailable("the extension's own service is down".into())));
        }
        let UpdateKind::Message(m) = update.kind() else { return Ok(None) };
        let ping = m.text.as_deref().and_then(Command::parse).is_some_and(|c| c.name == "ping");
        Ok((bot == Client && ping).then(|| Outbox::one(BotCall::send_message(bot, m.chat.id, "pong", None))))
    }

    fn on_event(&self, _cx: &Context, event: &Event<'_>) -> Vec<BotCall> {
        let (name, extra) = match event {
            Event::SignedUp(r) => ("signed_up", vec![r.customer.code.to_string()]),
            Event::Credited(c) => {
                let thanks = format!("thanks for {} points", c.entry.amount);
                let call = BotCall::send_message(Client, c.customer.telegram_id.0, thanks, None);
                self.events.lock().unwrap().push(format!("credited {}", c.entry.amount));
                return vec![call];
            }
            Event::RedemptionOpened(v) => ("redemption_opened", vec![v.request.points.to_string()]),
            Event::RedemptionAnswered { view, confirmed } => {
                ("redemption_answered", vec![view.request.points.to_string(), confirmed.to_string()])
            }
            Event::Reversed(r) => ("reversed", vec![r.reversal.amount.to_string()]),
            Event::Adjusted(a) => ("adjusted", vec![a.entry.amount.to_string()]),
            Event::PartnerApplied(a) => ("partner_applied", vec![a.partner.name.clone()]),
            Event::PartnerDecided(d) => ("partner_decided", vec![format!("{:?}", d.partner.status)]),
            _ => ("other", vec![]),
        };
        self.events.lock().unwrap().push(format!("{name} {}", extra.join(" ")).trim().to_string());
        Vec::new()
    }
}

fn harness(recorder: &Arc<Recorder>) -> Harness {
    let mut env = TestEnv::new();
    env.engine = env.engine.clone().with_extension(recorder.clone());
    Harness::new(env)
}

/// A harness whose engine serves only `bots` (a Worker's), with `recorder` as its extension.
fn serving(bots: Bots, recorder: Option<&Arc<Recorder>>) -> Harness {
    let mut env = TestEnv::new();
    let mut engine = Engine::serving(env.engine.config().clone(), env.engine.ports().clone(), bots);
    if let Some(recorder) = recorder {
        engine = engine.with_extension(recorder.clone());
    }
    env.engine = engine;
    Harness::new(env)
}

fn anna() -> TgUser {
    TgUser::new(101, "Anna")
}

fn linh() -> TgUser {
    TgUser::new(201, "Linh")
}

/// Linh applies and the admin approves her with the button.
async fn approve_linh(h: &Harness) {
    h.say(Partner, &linh(), "/apply Pho 24; cafe").await;
    let applied = h.say(Partner, &linh(), "/start").await;
    assert!(!applied.calls.is_empty());
    let id = h
        .engine()
        .storage()
        .list_partners(None)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.telegram_id.0 == linh().id)
        .expect("applied")
        .id;
    h.press(Admin, &TgUser::new(ADMIN_CHAT, "Admin"), &format!("pa:{id}")).await;
}

#[tokio::test]
async fn what_the_bots_do_not_claim_goes_to_the_extension() {
    let recorder = Arc::new(Recorder::default());
    let h = harness(&recorder).deliver_twice(true);
    let anna = anna();

    assert_eq!(h.say(Client, &anna, "/ping").await.texts_to(anna.id), ["pong"]);
    // Built-in commands, plain text and the bots' own buttons stay the bots'.
    h.say(Client, &anna, "/start").await;
    h.say(Client, &anna, "/balance").await;
    h.say(Client, &anna, "hello there").await;
    h.press(Client, &anna, "lang:en").await;
    // What the extension leaves gets the built-in answer: the partner bot's help, a silent callback answer.
    let help = h.say(Partner, &linh(), "/ping").await;
    assert_eq!(help.texts_to(linh().id).len(), 1, "{:?}", help.calls);
    let pressed = h.press(Client, &anna, "coupon:7").await;
    assert!(pressed.calls.iter().any(|c| c.method == "answerCallbackQuery"), "{:?}", pressed.calls);
    h.say(Admin, &TgUser::new(ADMIN_CHAT, "Admin"), "/export").await;

    // Every update was delivered twice: the extension saw each unclaimed one once.
    assert_eq!(recorder.unclaimed(), ["client:/ping", "partner:/ping", "client:button coupon:7", "admin:/export"]);
}

/// The client Worker's engine runs the client bot only: another bot's update
/// goes to the extension alone (the built-in bot is not there to claim it),
/// and without an extension it is answered with nothing and changes nothing.
#[tokio::test]
async fn an_engine_serving_one_bot_leaves_the_others_updates_to_the_extension() {
    let recorder = Arc::new(Recorder::default());
    let h = serving(Bots::CLIENT, Some(&recorder)).deliver_twice(true);
    let admin = TgUser::new(ADMIN_CHAT, "Admin");
    assert!(h.engine().bots().serves(Client) && !h.engine().bots().serves(Partner));

    assert!(!h.say(Client, &anna(), "/start").await.calls.is_empty(), "its own bot answers");
    assert_eq!(h.say(Client, &anna(), "/ping").await.texts_to(anna().id), ["pong"]);
    let applied = h.say(Partner, &linh(), "/apply Pho 24; cafe").await;
    assert!(applied.calls.is_empty(), "no partner bot here: {:?}", applied.calls);
    assert!(h.press(Admin, &admin, "pa:1").await.calls.is_empty());
    assert!(h.engine().storage().list_partners(None).await.unwrap().is_empty(), "nobody applied");
    assert_eq!(recorder.unclaimed(), ["client:/ping", "partner:/apply Pho 24; cafe", "admin:button pa:1"]);

    let bare = serving(Bots::CLIENT, None);
    assert!(bare.say(Partner, &linh(), "/apply Pho 24; cafe").await.calls.is_empty());
    assert!(bare.engine().storage().list_partners(None).await.unwrap().is_empty());
    // The same update to an engine that serves the partner bot is the partner bot's.
    let partner = serving(Bots::CLIENT.union(Bots::PARTNER), Some(&recorder));
    assert!(!partner.say(Partner, &linh(), "/apply Pho 24; cafe").await.calls.is_empty());
    assert_eq!(partner.engine().storage().list_partners(None).await.unwrap().len(), 1);
    assert_eq!(recorder.unclaimed().len(), 3, "claimed by the partner bot");
}

#[tokio::test]
async fn an_extension_failure_is_retried_like_a_bots() {
    let recorder = Arc::new(Recorder::default());
    let h = harness(&recorder);
    recorder.fail_next.store(true, Ordering::SeqCst);
    let body = serde_json::to_vec(&loyalty_core::telegram::build::text_json(5, &anna(), "/ping")).unwrap();
    let failed = h.post(Client, h.webhook_request(Client, body.clone())).await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE, "Telegram will deliver it again");
    let retried = h.post(Client, h.webhook_request(Client, body)).await;
    assert_eq!((retried.status, retried.texts_to(anna().id)), (StatusCode::OK, vec!["pong".to_string()]));
    assert_eq!(recorder.unclaimed().len(), 2);
}

#[tokio::test]
async fn every_committed_use_case_is_told_once() {
    let recorder = Arc::new(Recorder::default());
    let h = harness(&recorder).deliver_twice(true);
    let anna = anna();
    h.say(Client, &anna, "/start").await;
    h.say(Client, &anna, "/start").await; // already registered: nothing new
    approve_linh(&h).await;
    let code = h.code(&anna).await.expect("registered");

    // A credit from the bot: the built-in notice, then the extension's own message.
    let credit = h.say(Partner, &linh(), &format!("/credit {code} 2000")).await;
    let to_anna = credit.texts_to(anna.id);
    assert_eq!(to_anna.len(), 2, "{to_anna:?}");
    assert_eq!(to_anna[1], "thanks for 100 points");

    // A credit from a POS, sent twice with one Idempotency-Key: told once.
    let key = h.say(Partner, &linh(), "/apikey").await.texts_to(linh().id)[0]
        .split(['<', '>'])
        .find(|w| w.starts_with("lk_"))
        .expect("a key in the reply")
        .to_string();
    for _ in 0..2 {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/partner/credits")
            .header("authorization", format!("Bearer {key}"))
            .header("idempotency-key", "order-1")
            .header("content-type", "application/json")
            .body(Bytes::from(format!(r#"{{"customer_code":"{code}","purchase":1000}}"#)))
            .unwrap();
        let answered = h.engine().handle_api(req).await;
        assert_eq!(answered.response.status(), StatusCode::OK);
    }

    // A redemption, confirmed with the button; then the partner reverses the credit; an admin adjusts.
    let asked = h.say(Partner, &linh(), &format!("/redeem {code} 30 1000")).await;
    let confirm = asked.button(anna.id, "rc:").expect("a confirm button");
    h.press(Client, &anna, &confirm).await;
    let history = h
        .engine()
        .storage()
        .customer_entries(EntriesPage {
            customer: h.customer(&anna).await.unwrap().unwrap().id,
            limit: 10,
            before: None,
        })
        .await;
    let accrual =
        history.unwrap().into_iter().rev().find(|e| e.kind == EntryKind::Accrual).expect("the bot's credit").id;
    h.say(Partner, &linh(), &format!("/reverse {accrual}")).await;
    h.say(Admin, &TgUser::new(ADMIN_CHAT, "Admin"), &format!("/adjust {code} +5 goodwill")).await;

    let code = code.to_string();
    assert_eq!(
        recorder.events(),
        [
            format!("signed_up {code}"),
            "partner_applied Pho 24".into(),
            "partner_decided Approved".into(),
            "credited 100".into(),
            "credited 50".into(),
            "redemption_opened 30".into(),
            "redemption_answered 30 true".into(),
            "reversed -100".into(),
            "adjusted 5".into(),
        ]
    );
}
