//! The client bot: what customers see.
//!
//! Customers sign up with `/start` (optionally `/start ref_<code>` from a
//! friend's link), then use a persistent reply keyboard: balance, history,
//! their QR card, partners, an invitation link, questions to the assistant,
//! the language and the Mini App. They also confirm or decline partners'
//! redemption requests with inline buttons (`rc:<id>` / `rd:<id>`).
//!
//! The bot keeps no conversation state: the "ask a question" step is a
//! `force_reply` prompt starting with "❓", and a reply to it
//! is the question.

use crate::bots::common::parse_id;
use crate::bots::common::settle;
use crate::bots::rewards;
use crate::context::{Context, Outbox, Task};
use crate::domain::{Customer, CustomerCode, CustomerId, Language, PartnerStatus, RedemptionId, TelegramUserId};
use crate::domain::{RewardId, Timestamp, VoucherId};
use crate::error::{Error, Result};
use crate::ports::StoreResult;
use crate::ports::{
    AnswerRedemption, AssistantContext, CancelVoucher, CustomerRef, CustomerView, EraseCustomer, ErrorReport,
    ListRewards, ListVouchers, QuotaKind, QuotaUse, Rejection, SetBirthday, StoreError, ViewCustomer, VoucherView,
};
use crate::program::campaigns::Birthday;
use crate::program::rewards::{VoucherStatus, print_voucher_code};
use crate::usecases::{self, Done, SignUp};

use crate::domain::BotKind;
use crate::qr::QrMatrix;
use crate::telegram::{
    BotCall, CallbackQuery, Command, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
    MenuButton, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, ReplyMarkup, Update, UpdateKind, User, escape_html,
};
use crate::texts::{self, Button, Esc, Fixed};

/// The first character of the "ask a question" prompt. A message replying to a
/// bot message that starts with it is a question for the assistant.
const ASK_MARKER: &str = "❓";

/// Longest question passed to the assistant, in characters.
const MAX_QUESTION_CHARS: usize = 1000;

/// Entries shown under the balance.
const BALANCE_RECENT: u32 = 3;

/// Unused vouchers `/vouchers` lists at most.
const LISTED_VOUCHERS: u32 = 10;

/// Entries shown in the history.
const HISTORY_LEN: u32 = 10;

/// Partners listed at most (keeps the message under Telegram's 4096 characters).
const MAX_PARTNER_LINES: usize = 40;

/// Longest assistant answer sent, in characters (Telegram allows 4096).
const MAX_ANSWER_CHARS: usize = 3500;

/// Where storage failures are reported from.
const CONTEXT: &str = "webhook.client";

/// Handles one update to the client bot. See the [module docs](self).
pub(crate) async fn handle(cx: &Context, update: &Update) -> Result<Outbox> {
    match update.kind() {
        UpdateKind::Message(m) => on_message(cx, m).await,
        UpdateKind::CallbackQuery(q) => on_callback(cx, q).await,
        UpdateKind::EditedMessage(_) | UpdateKind::MyChatMember(_) | UpdateKind::Other => Ok(Outbox::default()),
    }
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// `/start` with its argument (`ref_<code>`, `c_<code>` or nothing).
    Start(String),
    /// `/help`, `/menu`.
    Menu,
    Balance,
    History,
    Card,
    Partners,
    Invite,
    /// `/ask`, the Ask button (no question yet) or a question.
    Ask(Option<String>),
    Language,
    App,
    /// `/birthday DD.MM`.
    Birthday(String),
    /// `/rewards [category]`, the Rewards button: the catalogue's first page.
    Rewards(String),
    /// `/vouchers`: the customer's unused vouchers.
    Vouchers,
    /// `/mydata`: everything held about the customer, as a JSON file.
    MyData,
    /// `/stamps`: the customer's stamp cards.
    Stamps,
    /// `/erase`: what erasure does, with the button that does it.
    Erase,
    /// Anything else.
    Unknown,
}

impl From<Button> for Action {
    fn from(b: Button) -> Action {
        match b {
            Button::Balance => Action::Balance,
            Button::History => Action::History,
            Button::Card => Action::Card,
            Button::Partners => Action::Partners,
            Button::Rewards => Action::Rewards(String::new()),
            Button::Invite => Action::Invite,
            Button::Ask => Action::Ask(None),
            Button::Language => Action::Language,
            Button::App => Action::App,
        }
    }
}

/// Commands first, then menu labels (in any language), then replies to the
/// question prompt; anything else is unknown.
fn route(m: &Message) -> Action {
    let Some(text) = m.text.as_deref() else {
        return Action::Unknown;
    };
    if let Some(cmd) = Command::parse(text) {
        return command(&cmd);
    }
    if let Some(b) = Button::from_label(text) {
        return b.into();
    }
    if replies_to_prompt(m) {
        return Action::Ask(Some(text.to_string()));
    }
    Action::Unknown
}

impl Button {
    /// The button whose label (in any language) `text` is. Matching ignores
    /// case, surrounding spaces and the leading emoji, so a label typed by hand
    /// works too, and a user who just switched language can still press a
    /// button of an older keyboard.
    fn from_label(text: &str) -> Option<Button> {
        let wanted = normalize(text);
        if wanted.is_empty() {
            return None;
        }
        Button::ALL.into_iter().find(|b| Language::ALL.into_iter().any(|l| normalize(l.texts().button(*b)) == wanted))
    }
}

/// A label without its leading emoji and spaces, lower-cased.
fn normalize(s: &str) -> String {
    s.trim().trim_start_matches(|c: char| !c.is_alphanumeric()).trim().to_lowercase()
}

/// A command's action ([`Action::Unknown`] for one this bot does not know).
pub(super) fn command(cmd: &Command<'_>) -> Action {
    match cmd.name.as_str() {
        "start" => Action::Start(cmd.args.to_string()),
        "help" | "menu" => Action::Menu,
        "balance" => Action::Balance,
        "history" => Action::History,
        "card" => Action::Card,
        "partners" => Action::Partners,
        "invite" => Action::Invite,
        "ask" => Action::Ask((!cmd.args.is_empty()).then(|| cmd.args.to_string())),
        "language" | "lang" => Action::Language,
        "app" => Action::App,
        "birthday" => Action::Birthday(cmd.args.to_string()),
        "rewards" => Action::Rewards(cmd.args.to_string()),
        "vouchers" => Action::Vouchers,
        "mydata" => Action::MyData,
        "stamps" => Action::Stamps,
        "erase" => Action::Erase,
        _ => Action::Unknown,
    }
}

/// Whether `m` replies to one of the bot's question prompts.
fn replies_to_prompt(m: &Message) -> bool {
    m.reply_to_message.as_deref().is_some_and(|r| {
        r.from.as_ref().is_none_or(|u| u.is_bot) && r.text.as_deref().is_some_and(|t| t.starts_with(ASK_MARKER))
    })
}

fn say(chat: i64, text: impl Into<String>, markup: Option<ReplyMarkup>) -> BotCall {
    BotCall::send_message(BotKind::Client, chat, text, markup)
}

fn reply(chat: i64, text: impl Into<String>) -> Outbox {
    Outbox::one(say(chat, text, None))
}

/// The main menu: a persistent reply keyboard in `lang`. Every button sends
/// its label; "Open app" (shown only when there is an app,
/// [`Config::app_url`](crate::Config::app_url)) is answered with an inline
/// `web_app` button ([`Action::App`]), since an app opened from a reply
/// keyboard would not learn who the user is.
fn menu(cx: &Context, lang: Language) -> ReplyMarkup {
    let b = |b| KeyboardButton { text: lang.texts().button(b).to_string() };
    let mut keyboard = vec![
        vec![b(Button::Balance), b(Button::History)],
        vec![b(Button::Card), b(Button::Rewards)],
        vec![b(Button::Partners), b(Button::Invite)],
        vec![b(Button::Ask), b(Button::Language)],
    ];
    if cx.config().app_url().is_some()
        && let Some(last) = keyboard.last_mut()
    {
        last.push(b(Button::App));
    }
    ReplyMarkup::Keyboard(ReplyKeyboardMarkup { keyboard, resize_keyboard: true, is_persistent: true })
}

/// The client bot's chat menu button (`setChatMenuButton` without a chat,
/// sent by `loyalty webhooks set`): the Mini App at
/// [`Config::app_url`](crate::Config::app_url), labelled in `lang`, or
/// without an app the command list — Telegram's own default, and what
/// takes an app's button away again ([`MenuButton::Default`] would not: for
/// all chats Telegram ignores it).
///
/// ```
/// use loyalty_core::Config;
/// use loyalty_core::bots::client::menu_button;
/// use loyalty_core::domain::Language;
/// use loyalty_core::telegram::MenuButton;
///
/// let config = Config { public_url: Some("https://bots.example.com".into()), ..Config::default() };
/// assert_eq!(menu_button(&config, Language::En), MenuButton::web_app("📱 Open app", "https://bots.example.com/app/"));
/// assert_eq!(menu_button(&Config::default(), Language::En), MenuButton::Commands);
/// ```
pub fn menu_button(config: &crate::Config, lang: Language) -> MenuButton {
    match config.app_url_for(BotKind::Client) {
        Some(url) => MenuButton::web_app(lang.texts().button(Button::App), url),
        None => MenuButton::Commands,
    }
}

/// A page of the rewards catalogue (one storage call), in the language of the
/// person's Telegram app; as a new message, or in place of `edit`'s.
async fn rewards_page(
    cx: &Context,
    from: &User,
    chat: i64,
    browse: &rewards::Browse,
    edit: Option<i64>,
) -> Result<Outbox> {
    let lang = Language::from_code(from.language_code.as_deref());
    let found = match settle(cx, lang, CONTEXT, cx.storage().rewards(browse.request(cx.now())).await).await? {
        Ok(found) => found,
        Err(text) => return Ok(reply(chat, text)),
    };
    let (text, kb) = rewards::page(lang, browse, &found);
    Ok(Outbox::one(match edit {
        Some(message_id) => BotCall::edit_message_text(BotKind::Client, chat, message_id, text, Some(kb)),
        None => say(chat, text, Some(ReplyMarkup::Inline(kb))),
    }))
}

/// A call by the writer's Telegram id, settled ([`settle`]): someone who never
/// signed up (`UnknownCustomer`) is asked to `/start`.
async fn settle_customer<T>(cx: &Context, lang: Language, r: StoreResult<T>) -> Result<std::result::Result<T, String>> {
    match r {
        Err(StoreError::Rejected(Rejection::UnknownCustomer)) => Ok(Err(lang.say(Fixed::NeedStart).into())),
        r => settle(cx, lang, CONTEXT, r).await,
    }
}

/// `/vouchers`: the customer's unused vouchers, each with its cancel button
/// (one storage call).
async fn vouchers(cx: &Context, from: &User, chat: i64) -> Result<Outbox> {
    let lang = Language::from_code(from.language_code.as_deref());
    let req = ListVouchers {
        customer: CustomerRef::Telegram(TelegramUserId(from.id)),
        status: Some(VoucherStatus::Issued),
        limit: LISTED_VOUCHERS,
    };
    let found = match settle_customer(cx, lang, cx.storage().vouchers(req).await).await? {
        Ok(found) => found,
        Err(text) => return Ok(reply(chat, text)),
    };
    let Some(first) = found.first() else { return Ok(reply(chat, lang.texts().vouchers_none())) };
    let lang = first.customer.language;
    let mut out = reply(chat, lang.texts().vouchers_title());
    for v in &found {
        let (text, kb) = rewards::voucher(lang, v);
        out.push(say(chat, text, kb.map(ReplyMarkup::Inline)));
    }
    Ok(out)
}

/// A claimed reward's voucher: the QR of the partner bot's link that accepts
/// it (scanned at the counter), with the code and the cancel button.
async fn voucher_message(cx: &Context, chat: i64, v: &VoucherView) -> BotCall {
    let lang = v.customer.language;
    let (text, kb) = rewards::voucher(lang, v);
    let markup = kb.map(ReplyMarkup::Inline);
    let qr = match cx.bot_username(BotKind::Partner).await {
        Some(bot) => QrMatrix::encode(&format!("https://t.me/{bot}?start=v_{}", v.voucher.code)).ok(),
        None => None,
    };
    match qr {
        Some(qr) => BotCall::send_photo_png(BotKind::Client, chat, qr.to_png(8).into(), "voucher.png", text, markup),
        None => say(chat, text, markup),
    }
}

/// `/stamps`: the customer's stamp cards, one line each (one storage call).
async fn stamp_cards(cx: &Context, from: &User, chat: i64) -> Result<Outbox> {
    let lang = Language::from_code(from.language_code.as_deref());
    let found =
        match settle_customer(cx, lang, cx.storage().stamp_cards(CustomerRef::Telegram(TelegramUserId(from.id))).await)
            .await?
        {
            Ok(found) => found,
            Err(text) => return Ok(reply(chat, text)),
        };
    let t = lang.texts();
    if found.is_empty() {
        return Ok(reply(chat, t.stamp_cards_none()));
    }
    let lines = found.iter().map(|p| {
        let dots = texts::stamp_dots(p.stamps, p.card.needed);
        t.stamp_card_line(Esc(&p.partner_name), &dots, p.stamps, p.card.needed, Esc(&p.card.reward), p.completed)
    });
    Ok(reply(chat, std::iter::once(t.stamp_cards_title().to_string()).chain(lines).collect::<Vec<_>>().join("\n")))
}

/// `/mydata`: everything the program holds about the customer, as a JSON
/// file (one storage call).
async fn my_data(cx: &Context, from: &User, chat: i64) -> Result<Outbox> {
    let lang = Language::from_code(from.language_code.as_deref());
    let found = cx.storage().personal_data(CustomerRef::Telegram(TelegramUserId(from.id))).await;
    let data = match settle(cx, lang, CONTEXT, found).await? {
        Ok(Some(data)) => data,
        Ok(None) => return Ok(reply(chat, lang.say(Fixed::NeedStart))),
        Err(text) => return Ok(reply(chat, text)),
    };
    let lang = data.customer.language;
    let json = serde_json::to_vec_pretty(&data).map_err(|e| Error::Store(StoreError::Backend(e.to_string())))?;
    let file = format!("loyalty-data-{}.json", data.customer.code);
    let caption = lang.texts().mydata_caption();
    Ok(Outbox::one(BotCall::send_document(BotKind::Client, chat, json.into(), file, "application/json", caption)))
}

/// `/birthday DD.MM`: sets the customer's birthday, once (one storage call).
async fn birthday(cx: &Context, from: &User, chat: i64, args: &str) -> Result<Outbox> {
    let lang = Language::from_code(from.language_code.as_deref());
    let Some(birthday) = Birthday::parse(args) else { return Ok(reply(chat, lang.texts().birthday_usage())) };
    let req = SetBirthday { customer: CustomerRef::Telegram(TelegramUserId(from.id)), birthday, now: cx.now() };
    Ok(match settle_customer(cx, lang, cx.storage().set_birthday(req).await).await? {
        Ok(b) => reply(chat, lang.texts().birthday_set(b.day, b.month)),
        Err(text) => reply(chat, text),
    })
}

async fn on_message(cx: &Context, m: &Message) -> Result<Outbox> {
    if !m.chat.is_private() {
        return Ok(Outbox::default());
    }
    let Some(from) = m.from.as_ref().filter(|u| !u.is_bot) else {
        return Ok(Outbox::default());
    };
    let chat = m.chat.id;
    let action = route(m);
    if let Action::Start(args) = &action {
        return start(cx, from, chat, args).await;
    }
    if let Action::Birthday(args) = &action {
        return birthday(cx, from, chat, args).await;
    }
    if let Action::Rewards(category) = &action {
        return rewards_page(cx, from, chat, &rewards::Browse::of_category(category), None).await;
    }
    if let Action::Vouchers = action {
        return vouchers(cx, from, chat).await;
    }
    if let Action::MyData = action {
        return my_data(cx, from, chat).await;
    }
    if let Action::Stamps = action {
        return stamp_cards(cx, from, chat).await;
    }

    let fallback = Language::from_code(from.language_code.as_deref());
    let recent = match action {
        Action::Balance => BALANCE_RECENT,
        Action::History => HISTORY_LEN,
        _ => 0,
    };
    // One storage call answers the message: the customer with what the
    // action needs (entries, the partners, a use of the assistant's quota).
    let quota = match &action {
        Action::Ask(Some(q)) if cx.ports().assistant.is_some() && question(q).is_ok() => Some(QuotaUse {
            kind: QuotaKind::Assistant,
            day: cx.now().day_start(),
            limit: cx.config().assistant_daily_limit,
        }),
        _ => None,
    };
    let who = CustomerRef::Telegram(TelegramUserId(from.id));
    let partners = matches!(action, Action::Partners);
    let (mut expiring, mut qualifying) = (Vec::new(), 0);
    let found = if partners || quota.is_some() {
        cx.storage().customer_view(ViewCustomer { who, recent, partners, quota }).await
    } else {
        // A plain read (stores may serve it from a read-only connection).
        cx.storage().customer_summary(who, recent).await.map(|found| {
            found.map(|s| {
                (expiring, qualifying) = (s.expiring, s.qualifying);
                CustomerView { customer: s.customer, recent: s.recent, partners: Vec::new(), quota: None }
            })
        })
    };
    let view = match settle(cx, fallback, CONTEXT, found).await? {
        Ok(view) => view,
        Err(text) => return Ok(reply(chat, text)),
    };
    let Some(CustomerView { customer, recent, partners, quota }) = view else {
        return Ok(reply(chat, fallback.say(Fixed::NeedStart)));
    };
    let lang = customer.language;

    match action {
        Action::Start(_)
        | Action::Birthday(_)
        | Action::Rewards(_)
        | Action::Vouchers
        | Action::MyData
        | Action::Stamps
        | Action::Menu => Ok(Outbox::one(say(chat, texts::client_help(lang.texts()), Some(menu(cx, lang))))),
        Action::Unknown => Ok(Outbox::one(say(
            chat,
            format!("{}\n\n{}", lang.say(Fixed::Unknown), texts::client_help(lang.texts())),
            Some(menu(cx, lang)),
        ))),
        Action::Balance => {
            let mut text = texts::balance(lang.texts(), customer.balance, &recent);
            if let Some(soon) = texts::expiring_soon(lang.texts(), &expiring, cx.now()) {
                text = format!("{text}\n\n{soon}");
            }
            // The tier under the rules of the newest entry (known from memory after the first time).
            if let Some(newest) = recent.first()
                && let Some(rules) = cx.rules(newest.rules_version).await
                && let Some(tier) = texts::tier_status(lang, customer.tier, qualifying, &rules.rules)
            {
                text = format!("{text}\n\n{tier}");
            }
            if customer.blocked {
                text = format!("{text}\n\n{}", lang.say(Fixed::Blocked));
            }
            Ok(reply(chat, text))
        }
        Action::History => Ok(reply(chat, texts::history(lang.texts(), &recent))),
        Action::Erase => {
            let button = InlineKeyboardButton::callback(lang.texts().erase_button(), format!("er:{}", cx.now().0));
            let kb = InlineKeyboardMarkup { inline_keyboard: vec![vec![button]] };
            Ok(Outbox::one(say(chat, lang.texts().erase_confirm(customer.balance), Some(ReplyMarkup::Inline(kb)))))
        }
        Action::Card if customer.blocked => Ok(reply(chat, lang.say(Fixed::Blocked))),
        Action::Card => Ok(card(cx, chat, &customer).await),
        Action::Partners => Ok(reply(chat, texts::partners(lang.texts(), &partners, MAX_PARTNER_LINES))),
        Action::Invite if customer.blocked => Ok(reply(chat, lang.say(Fixed::Blocked))),
        Action::Invite => {
            let (t, bonus) = (lang.texts(), cx.config().referral_bonus);
            let text = match cx.bot_username(BotKind::Client).await {
                Some(bot) => {
                    let reward = if bonus > 0 { t.invite_reward(bonus) } else { String::new() };
                    t.invite(Esc(&format!("https://t.me/{bot}?start=ref_{}", customer.code)), &reward)
                }
                None => {
                    let reward = if bonus > 0 { t.invite_code_reward(bonus) } else { String::new() };
                    t.invite_code_only(Esc(customer.code.as_str()), &reward)
                }
            };
            Ok(reply(chat, text))
        }
        Action::Ask(question) => Ok(ask(cx, chat, &customer, question.as_deref(), quota)),
        Action::Language => {
            let buttons = Language::ALL
                .into_iter()
                .map(|l| InlineKeyboardButton::callback(l.say(Fixed::LanguageName), format!("lang:{}", l.code())))
                .collect();
            let kb = InlineKeyboardMarkup { inline_keyboard: vec![buttons] };
            Ok(Outbox::one(say(chat, lang.say(Fixed::LanguageChoose), Some(ReplyMarkup::Inline(kb)))))
        }
        Action::App => Ok(Outbox::one(match cx.config().app_url_for(BotKind::Client) {
            Some(url) => {
                let button = InlineKeyboardButton::web_app(lang.texts().button(Button::App), url);
                let kb = InlineKeyboardMarkup { inline_keyboard: vec![vec![button]] };
                say(chat, lang.say(Fixed::AppOpen), Some(ReplyMarkup::Inline(kb)))
            }
            None => say(chat, lang.say(Fixed::AppUnavailable), None),
        })),
    }
}

/// The code of a `ref_<code>` link printed by the program this one replaced
/// (its codes were upper-case letters and digits, matched without case),
/// when it is not one of our customer codes.
fn legacy_referral_code(args: &str) -> Option<String> {
    let code = args.strip_prefix("ref_")?;
    let plausible = (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric());
    (plausible && CustomerCode::parse(code).is_none()).then(|| code.to_ascii_uppercase())
}

/// Signs the user up (or greets them back) and credits a referrer.
async fn start(cx: &Context, from: &User, chat: i64, args: &str) -> Result<Outbox> {
    let language = Language::from_code(from.language_code.as_deref());
    let who = SignUp {
        telegram_id: TelegramUserId(from.id),
        first_name: from.first_name.clone(),
        username: from.username.clone(),
        language,
        referrer: args.strip_prefix("ref_").and_then(CustomerCode::parse),
        legacy_referrer: legacy_referral_code(args),
        via_partner: args.strip_prefix("partner_").and_then(|id| id.parse().ok()).map(TelegramUserId),
    };
    let Done { outcome: reg, notices } = match settle(cx, language, CONTEXT, usecases::sign_up(cx, who).await).await? {
        Ok(done) => done,
        Err(text) => return Ok(reply(chat, text)),
    };
    let c = &reg.customer;
    let lang = c.language;
    let mut text = if reg.created {
        let bonus = reg.welcome.as_ref().map_or(0, |e| e.amount);
        let bonus = if bonus > 0 { lang.texts().welcome_bonus(bonus) } else { String::new() };
        lang.texts().welcome(Esc(&from.first_name), &bonus, c.balance)
    } else {
        lang.texts().welcome_back(Esc(&from.first_name), c.balance)
    };
    if let Some(partner) = &reg.partner {
        text = format!("{text}\n\n{}", texts::came_from(lang.texts(), partner));
    }
    if c.blocked {
        text = format!("{text}\n\n{}", lang.say(Fixed::Blocked));
    }
    let mut out = Outbox::one(say(chat, text, Some(menu(cx, lang))));
    out.calls.extend(notices);
    Ok(out)
}

/// The QR card: a PNG of the partner bot's deep link for this customer.
async fn card(cx: &Context, chat: i64, customer: &Customer) -> Outbox {
    let lang = customer.language;
    let code = customer.code.as_str();
    let Some(partner_bot) = cx.bot_username(BotKind::Partner).await else {
        return reply(chat, lang.texts().card_code_only(Esc(code)));
    };
    let link = format!("https://t.me/{partner_bot}?start=c_{code}");
    match QrMatrix::encode(&link) {
        Ok(qr) => Outbox::one(BotCall::send_photo_png(
            BotKind::Client,
            chat,
            qr.to_png(8).into(),
            "card.png",
            lang.texts().card_caption(Esc(code)),
            None,
        )),
        Err(_) => reply(chat, lang.texts().card_code_only(Esc(code))),
    }
}

/// A question to the assistant, trimmed: `Err(true)` when empty, `Err(false)`
/// when longer than [`MAX_QUESTION_CHARS`].
fn question(q: &str) -> std::result::Result<&str, bool> {
    let q = q.trim();
    match q.chars().count() {
        0 => Err(true),
        n if n > MAX_QUESTION_CHARS => Err(false),
        _ => Ok(q),
    }
}

/// The Ask button, `/ask [question]` or a reply to the prompt. `quota` is
/// what the message's storage call said about the daily quota (asked for
/// only for a question that will be sent to a configured assistant).
fn ask(cx: &Context, chat: i64, customer: &Customer, asked: Option<&str>, quota: Option<bool>) -> Outbox {
    let lang = customer.language;
    if customer.blocked {
        return reply(chat, lang.say(Fixed::Blocked));
    }
    if cx.ports().assistant.is_none() {
        return reply(chat, lang.say(Fixed::AssistantUnavailable));
    }
    let question = match asked.map(question) {
        None | Some(Err(true)) => {
            let markup =
                ForceReply { force_reply: true, input_field_placeholder: Some(lang.say(Fixed::AskPlaceholder).into()) };
            return Outbox::one(say(
                chat,
                format!("{ASK_MARKER} {}", lang.say(Fixed::AskPrompt)),
                Some(ReplyMarkup::ForceReply(markup)),
            ));
        }
        Some(Err(_)) => return reply(chat, lang.texts().question_too_long(MAX_QUESTION_CHARS)),
        Some(Ok(q)) => q.to_string(),
    };
    match quota {
        Some(true) => {
            let mut out = reply(chat, lang.say(Fixed::Thinking));
            out.defer(Task::Answer { chat_id: chat, customer: customer.id, language: lang, question });
            out
        }
        Some(false) => reply(chat, lang.texts().quota_exhausted(cx.config().assistant_daily_limit)),
        // Not asked for: cannot happen past the checks above.
        None => reply(chat, lang.say(Fixed::AssistantUnavailable)),
    }
}

/// What an inline button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Callback {
    /// `lang:<code>`.
    Language(Language),
    /// `rc:<id>[:<lang>]`: confirm a redemption request. The language is the
    /// one the request was written in (buttons before it carried none): a
    /// refusal edits that message in its own language, with no lookup.
    Confirm(RedemptionId, Option<Language>),
    /// `rd:<id>[:<lang>]`: decline it.
    Decline(RedemptionId, Option<Language>),
    /// `wl:<after>:<partner>:<category>`: a page of the rewards catalogue.
    Rewards(rewards::Browse),
    /// `wv:<id>`: a reward's card.
    Reward(RewardId),
    /// `wc:<id>`: claim the reward.
    Claim(RewardId),
    /// `wx:<id>`: cancel the voucher.
    Cancel(VoucherId),
    /// `er:<unix time of the warning>`: erase the presser's personal data.
    Erase(Timestamp),
}

/// How long `/erase`'s button works: an old warning pressed later (after
/// signing up again, say) must not erase without a fresh one.
const ERASE_BUTTON_SECS: i64 = 600;

impl Callback {
    pub(super) fn parse(data: &str) -> Option<Callback> {
        let (kind, arg) = data.split_once(':')?;
        let answer = || {
            let (id, lang) = match arg.split_once(':') {
                Some((id, code)) => (id, Some(Language::parse(code)?)),
                None => (arg, None),
            };
            let id = id.parse::<i64>().ok().filter(|n| *n > 0).map(RedemptionId)?;
            Some((id, lang))
        };
        match kind {
            "lang" => Language::parse(arg).map(Callback::Language),
            "rc" => answer().map(|(id, lang)| Callback::Confirm(id, lang)),
            "rd" => answer().map(|(id, lang)| Callback::Decline(id, lang)),
            "wl" => rewards::Browse::parse(arg).map(Callback::Rewards),
            "wv" => parse_id(arg).map(|id| Callback::Reward(RewardId(id))),
            "wc" => parse_id(arg).map(|id| Callback::Claim(RewardId(id))),
            "wx" => parse_id(arg).map(|id| Callback::Cancel(VoucherId(id))),
            "er" => arg.parse::<i64>().ok().map(|t| Callback::Erase(Timestamp(t))),
            _ => None,
        }
    }
}

/// A callback's answer shown as an alert: a refusal the person must read.
fn answer_alert(q: &CallbackQuery, text: &str) -> BotCall {
    let mut call = BotCall::answer_callback(BotKind::Client, q.id.clone(), Some(text.to_string()));
    call.params.insert("show_alert".into(), true.into());
    call
}

async fn on_callback(cx: &Context, q: &CallbackQuery) -> Result<Outbox> {
    let answer = |text: &str| BotCall::answer_callback(BotKind::Client, q.id.clone(), Some(text.to_string()));
    // Nothing is looked up first: the one call a button makes finds the
    // customer (someone who never signed up is refused with `UnknownCustomer`),
    // and the answer speaks the customer's language from its outcome. A
    // refusal speaks the language the button's message was written in (its
    // data carries it); a stale or older button the Telegram app's.
    let lang = Language::from_code(q.from.language_code.as_deref());
    let who = CustomerRef::Telegram(TelegramUserId(q.from.id));
    let Some(callback) = q.data.as_deref().and_then(Callback::parse) else {
        return Ok(Outbox::one(answer(lang.say(Fixed::StaleButton))));
    };
    // The message with the button (absent for inline-mode messages).
    let target = q.message.as_ref().map(|m| (m.chat.id, m.message_id));
    let edit =
        |text: String| target.map(|(chat, id)| BotCall::edit_message_text(BotKind::Client, chat, id, text, None));

    match callback {
        Callback::Language(new) => {
            let result = match cx.storage().set_language(who, new).await {
                Err(StoreError::Rejected(Rejection::UnknownCustomer)) => {
                    return Ok(Outbox::one(answer(lang.say(Fixed::NeedStart))));
                }
                result => result,
            };
            match settle(cx, lang, CONTEXT, result).await? {
                Ok(c) => {
                    let lang = c.language;
                    let mut out = Outbox::one(answer(lang.say(Fixed::LanguageSet)));
                    if let Some(e) = edit(lang.say(Fixed::LanguageSet).to_string()) {
                        out.push(e);
                    }
                    out.push(say(q.from.id, texts::client_help(lang.texts()), Some(menu(cx, lang))));
                    Ok(out)
                }
                Err(text) => Ok(Outbox::one(answer(&text))),
            }
        }
        Callback::Rewards(browse) => {
            let mut out = Outbox::one(answer(""));
            let chat = target.map_or(q.from.id, |(chat, _)| chat);
            out.calls.extend(rewards_page(cx, &q.from, chat, &browse, target.map(|(_, id)| id)).await?.calls);
            Ok(out)
        }
        Callback::Reward(id) => {
            let req = ListRewards {
                partner: None,
                category: None,
                claimable_at: Some(cx.now()),
                status: None,
                after: Some(RewardId(id.0 - 1)),
                limit: 1,
            };
            let found = match settle(cx, lang, CONTEXT, cx.storage().rewards(req).await).await? {
                Ok(found) => found,
                Err(text) => return Ok(Outbox::one(answer(&text))),
            };
            let Some(r) = found.into_iter().find(|r| r.id == id) else {
                return Ok(Outbox::one(answer(&lang.texts().rejection(&Rejection::RewardUnavailable))));
            };
            let (text, kb) = rewards::card(lang, &r);
            let markup = Some(ReplyMarkup::Inline(kb));
            let card = match &r.offer.photo {
                Some(photo) if photo.starts_with("https://") => {
                    BotCall::send_photo_url(BotKind::Client, q.from.id, photo.clone(), text, markup)
                }
                _ => say(q.from.id, text, markup),
            };
            Ok(Outbox { calls: vec![answer(""), card], ..Outbox::default() })
        }
        Callback::Claim(reward) => {
            // Pressing the same card's button again claims once: the key is the card's message.
            let place = target.map_or_else(|| q.id.clone(), |(chat, message)| format!("{chat}:{message}"));
            let key = format!("claim:{}:{place}:{reward}", cx.config().bot_id(BotKind::Client));
            let claimed = usecases::claim_reward(cx, who, reward, key).await;
            let v = match claimed {
                Err(StoreError::Rejected(Rejection::UnknownCustomer)) => {
                    return Ok(Outbox::one(answer(lang.say(Fixed::NeedStart))));
                }
                r => match settle(cx, lang, CONTEXT, r).await? {
                    Ok(Done { outcome, .. }) => outcome,
                    Err(text) => return Ok(Outbox::one(answer_alert(q, &text))),
                },
            };
            let lang = v.customer.language;
            if v.replayed && !cx.is_reprocessing() {
                let code = print_voucher_code(&v.voucher.code);
                let text = lang.texts().voucher_again(Esc(v.reward.offer.title.get(lang)), &code);
                return Ok(Outbox { calls: vec![answer(""), say(q.from.id, text, None)], ..Outbox::default() });
            }
            let message = voucher_message(cx, q.from.id, &v).await;
            Ok(Outbox { calls: vec![answer(""), message], ..Outbox::default() })
        }
        Callback::Erase(warned) => {
            // Whoever presses erases themselves, within minutes of the warning;
            // pressed again (or by someone never signed up) there is nothing
            // left: the same goodbye.
            let age = cx.now().0 - warned.0;
            if !(-60..=ERASE_BUTTON_SECS).contains(&age) {
                return Ok(Outbox::one(answer_alert(q, lang.texts().erase_expired())));
            }
            let req = EraseCustomer { who, admin: None, now: cx.now() };
            let lang = match cx.storage().erase_customer(req).await {
                Err(StoreError::Rejected(Rejection::UnknownCustomer)) => lang,
                r => match settle(cx, lang, CONTEXT, r).await? {
                    Ok(erased) => erased.customer.language,
                    Err(text) => return Ok(Outbox::one(answer_alert(q, &text))),
                },
            };
            let text = lang.texts().erased();
            let mut out = Outbox::one(answer(""));
            let goodbye = || {
                let remove = ReplyMarkup::Remove(ReplyKeyboardRemove { remove_keyboard: true });
                say(q.from.id, text, Some(remove))
            };
            out.push(edit(text.to_string()).unwrap_or_else(goodbye));
            Ok(out)
        }
        Callback::Cancel(voucher) => {
            let req = CancelVoucher { customer: who, voucher, now: cx.now() };
            let v = match cx.storage().cancel_voucher(req).await {
                Err(StoreError::Rejected(Rejection::UnknownCustomer)) => {
                    return Ok(Outbox::one(answer(lang.say(Fixed::NeedStart))));
                }
                r => match settle(cx, lang, CONTEXT, r).await? {
                    Ok(v) => v,
                    Err(text) => return Ok(Outbox::one(answer_alert(q, &text))),
                },
            };
            let lang = v.customer.language;
            let title = Esc(v.reward.offer.title.get(lang));
            let text = lang.texts().voucher_cancelled(title, v.voucher.points, v.customer.balance);
            let mut out = Outbox::one(answer(""));
            // The voucher's message is a photo (its caption) or a text.
            out.push(match target {
                Some((chat, id)) if q.message.as_ref().is_some_and(|m| m.text.is_none()) => {
                    BotCall::edit_message_caption(BotKind::Client, chat, id, text)
                }
                Some((chat, id)) => BotCall::edit_message_text(BotKind::Client, chat, id, text, None),
                None => say(q.from.id, text, None),
            });
            Ok(out)
        }
        Callback::Confirm(id, written_in) | Callback::Decline(id, written_in) => {
            let confirm = matches!(callback, Callback::Confirm(..));
            let lang = written_in.unwrap_or(lang);
            let req = AnswerRedemption { id, customer: who, now: cx.now() };
            let Done { outcome: view, notices } = match usecases::answer_redemption(cx, req, confirm).await {
                Ok(done) => done,
                Err(StoreError::Rejected(Rejection::UnknownCustomer)) => {
                    return Ok(Outbox::one(answer(lang.say(Fixed::NeedStart))));
                }
                Err(StoreError::Rejected(r)) => {
                    let text = lang.texts().rejection(&r);
                    let mut out = Outbox::one(answer(&text));
                    // A request that can no longer be answered loses its buttons;
                    // someone else's request (a forged press) leaves the message alone.
                    if !matches!(r, Rejection::NotYourRedemption)
                        && let Some(e) = edit(text)
                    {
                        out.push(e);
                    }
                    return Ok(out);
                }
                Err(e) if e.is_temporary() => return Err(Error::Store(e)),
                Err(e) => {
                    cx.report(ErrorReport {
                        message: e.to_string(),
                        context: CONTEXT,
                        update_kind: Some("callback_query"),
                        temporary: false,
                        breadcrumbs: Vec::new(),
                    })
                    .await;
                    return Ok(Outbox::one(answer(lang.say(Fixed::InternalError))));
                }
            };
            let (c, p, r) = (&view.customer, &view.partner, &view.request);
            if view.replayed {
                let text = if confirm {
                    c.language.say(Fixed::AlreadyConfirmed)
                } else {
                    c.language.say(Fixed::AlreadyDeclined)
                };
                return Ok(Outbox::one(answer(text)));
            }
            let (toast, edited) = if confirm {
                (
                    c.language.say(Fixed::RedemptionConfirmedToast),
                    c.language.texts().redemption_confirmed(Esc(&p.name), r.points, c.balance),
                )
            } else {
                (
                    c.language.say(Fixed::RedemptionDeclinedToast),
                    c.language.texts().redemption_declined(Esc(&p.name), r.points),
                )
            };
            let mut out = Outbox::one(answer(toast));
            if let Some(e) = edit(edited) {
                out.push(e);
            }
            out.calls.extend(notices);
            Ok(out)
        }
    }
}

/// Answers a queued question ([`Task::Answer`]) and sends the answer to
/// `chat_id`. Failures are reported and, where possible, apologised for.
pub(crate) async fn answer_question(
    cx: &Context,
    chat_id: i64,
    customer: CustomerId,
    language: Language,
    question: &str,
) {
    let text = match compose_answer(cx, customer, language, question).await {
        Ok(answer) if !answer.trim().is_empty() => escape_html(&truncate_chars(answer.trim(), MAX_ANSWER_CHARS)),
        // Telegram refuses empty messages; an empty answer is no answer.
        Ok(_) => language.say(Fixed::AssistantFailed).to_string(),
        Err(e) => {
            cx.report(ErrorReport::new(e.to_string(), "assistant", e.is_temporary())).await;
            match e {
                Error::Assistant(crate::ports::AssistantError::Unavailable) => {
                    language.say(Fixed::AssistantUnavailable).to_string()
                }
                _ => language.say(Fixed::AssistantFailed).to_string(),
            }
        }
    };
    if let Err(e) = cx.send(&say(chat_id, text, None)).await {
        cx.report(ErrorReport::new(format!("sendMessage via client bot failed: {e}"), "assistant", e.is_temporary()))
            .await;
    }
}

/// Builds the assistant's context and asks it.
async fn compose_answer(cx: &Context, customer: CustomerId, language: Language, question: &str) -> Result<String> {
    let Some(assistant) = cx.ports().assistant.clone() else {
        return Err(crate::ports::AssistantError::Unavailable.into());
    };
    let summary = cx.storage().customer_summary(CustomerRef::Id(customer), 0).await?;
    let balance = summary.map_or(0, |s| s.customer.balance);
    let partners = cx
        .storage()
        .list_partners(Some(PartnerStatus::Approved))
        .await?
        .iter()
        .map(|p| format!("{} ({}): {} %", p.name, p.category, texts::percent(p.terms.earn_rate_bps, '.')))
        .collect();
    let program =
        cx.bot_display_name(BotKind::Client).await.unwrap_or_else(|| language.say(Fixed::ProgramFallback).to_string());
    let context = AssistantContext { program, language, balance, partners };
    Ok(assistant.answer(question, &context).await?)
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str, reply_to: Option<(&str, bool)>) -> Message {
        let mut v = serde_json::json!({
            "message_id": 1, "date": 0, "text": text,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": false, "first_name": "A"},
        });
        if let Some((t, bot)) = reply_to {
            v["reply_to_message"] = serde_json::json!({
                "message_id": 0, "date": 0, "text": t, "chat": {"id": 5, "type": "private"},
                "from": {"id": 1, "is_bot": bot, "first_name": "B"},
            });
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn routes_commands_labels_and_replies() {
        assert_eq!(route(&msg("/start ref_ABCD2345", None)), Action::Start("ref_ABCD2345".into()));
        assert_eq!(route(&msg("/ask", None)), Action::Ask(None));
        assert_eq!(route(&msg("/ask how?", None)), Action::Ask(Some("how?".into())));
        assert_eq!(route(&msg("/HISTORY@loyalty_client_bot", None)), Action::History);
        assert_eq!(route(&msg("/nope", None)), Action::Unknown);
        assert_eq!(route(&msg("💳 Thẻ của tôi", None)), Action::Card);
        assert_eq!(route(&msg("how?", Some(("❓ Ask", true)))), Action::Ask(Some("how?".into())));
        assert_eq!(route(&msg("how?", Some(("❓ Ask", false)))), Action::Unknown);
        assert_eq!(route(&msg("how?", Some(("Ask", true)))), Action::Unknown);
        // A menu button pressed while replying to the prompt is still a button.
        assert_eq!(route(&msg("💰 Balance", Some(("❓ Ask", true)))), Action::Balance);
        assert_eq!(route(&msg("hello", None)), Action::Unknown);
    }

    #[test]
    fn labels_are_unique_and_round_trip_in_every_language() {
        let mut seen = std::collections::HashSet::new();
        for l in Language::ALL.into_iter().flat_map(|lang| Button::ALL.map(|b| (lang.texts().button(b), b))) {
            assert!(seen.insert(normalize(l.0)), "duplicate label {}", l.0);
            assert_eq!(Button::from_label(l.0), Some(l.1));
            assert_eq!(Button::from_label(&format!("  {}  ", l.0.to_uppercase())), Some(l.1));
        }
        for (text, b) in
            [("balance", Some(Button::Balance)), ("баланс", Some(Button::Balance)), ("💰", None), ("", None)]
        {
            assert_eq!(Button::from_label(text), b);
        }
    }

    #[test]
    fn parses_callback_data() {
        assert_eq!(Callback::parse("lang:vi"), Some(Callback::Language(Language::Vi)));
        assert_eq!(Callback::parse("rc:42"), Some(Callback::Confirm(RedemptionId(42), None)));
        assert_eq!(Callback::parse("rd:7"), Some(Callback::Decline(RedemptionId(7), None)));
        assert_eq!(Callback::parse("rc:42:vi"), Some(Callback::Confirm(RedemptionId(42), Some(Language::Vi))));
        assert_eq!(Callback::parse("rd:7:ru"), Some(Callback::Decline(RedemptionId(7), Some(Language::Ru))));
        for bad in
            ["", "lang:de", "rc:", "rc:-1", "rc:0", "rc:x", "rd:99999999999999999999", "zz:1", "rc", "rc:4:de", "rc:4:"]
        {
            assert_eq!(Callback::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 2), "hé…");
    }
}
