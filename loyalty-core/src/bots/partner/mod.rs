//! The partner bot: merchants apply to join, scan customers' cards, credit
//! purchases, ask customers to pay with points, reverse mistakes, see their
//! figures and get a key for their POS system.
//!
//! The conversation is stateless. A question that waits for an answer is sent
//! with `force_reply` and starts with a marker — 📝 (application), 💳
//! (purchase amount) or 🎁 (points and purchase) — followed, for the last two,
//! by the customer's code. An answer is recognised by the marker of the message
//! it replies to, and the code is read back from that message, so nothing has
//! to be remembered between updates.
//!
//! Every update makes one storage call, which also checks who is asking: a
//! credit, a redemption, a reversal, a card lookup, the figures or a new key
//! are refused by the store for someone who is not an approved partner, so
//! nothing is looked up first; a refusal says where the partner stands. (Only
//! an application from someone who is a partner already costs a second read.)
//!
//! A partner's staff ([`Staff`](crate::domain::Staff)) use the same bot: the
//! owner invites with `/staff invite` (a one-time link `?start=s_<token>`),
//! lists and revokes with `/staff`; a cashier's till commands — a scanned
//! card, `/credit`, `/redeem`, `/stamp`, `/voucher` — name the partner by
//! [`PartnerRef::Till`], so the store resolves the cashier to their partner and
//! records them on what they make; everything else names it by its owner, so a
//! cashier is refused there.
//!
//! A partner's owner also registers HTTPS endpoints for the events of its
//! own business (`/webhooks`, `/webhook_add`, `/webhook_remove`; shared with
//! the admin bot), the signing secret shown once in `/webhook_add`'s reply.
//!
//! An approved partner's owner or cashier opens the Mini App from an inline
//! button under `/start`, `/help` and `/app`, at the app's address with
//! `?mode=partner` ([`Config::app_url_for`](crate::Config::app_url_for)),
//! or from the chat's menu button ([`menu_button`]).
//!
//! Every ledger write carries an idempotency key derived from the update
//! (`tg:<bot id>:<update_id>`, `…:redeem`, `…:reverse`): a redelivered update
//! returns the first result and notifies nobody twice.

use super::campaigns::CampaignCommand;
use super::common::{self, settle};
use super::rewards::RewardCommand;
use super::webhooks::WebhookCommand;
use crate::card::CardCodeError;
use crate::context::{Context, Outbox};
use crate::domain::{
    CustomerCode, EntryId, Language, Partner, PartnerStatus, Points, StaffId, StaffStatus, TelegramUserId, rules,
};
use crate::error::Result;
use crate::ports::{
    AddStamp, CampaignActor, CampaignDecision, CreditPurchase, CustomerRef, InviteStaff, JoinStaff, LookUpCustomer,
    OpenRedemption, PartnerRef, Rejection, ReverseEntry, RevokeStaff, RewardDecision, SetStampCard, StoreError,
    StoreResult, WebhookOwner,
};
use crate::program::stamps::check_card;
use crate::texts::{self, Button, Esc, Fixed, Pts, Signed};
use crate::usecases;

use crate::domain::BotKind;
use crate::telegram::{
    BotCall, CallbackQuery, Command, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, MenuButton, Message,
    ReplyMarkup, Update, UpdateKind, User,
};

/// Marks the application prompt.
pub(crate) const APPLY_MARKER: &str = "📝";
/// Marks the "purchase amount?" prompt; the customer code follows it.
pub(crate) const CREDIT_MARKER: &str = "💳";
/// Marks the "points and purchase?" prompt; the customer code follows it.
pub(crate) const REDEEM_MARKER: &str = "🎁";

/// Longest business name, in characters.
const MAX_NAME_CHARS: usize = 100;
/// Longest category, in characters.
const MAX_CATEGORY_CHARS: usize = 50;

/// Handles one update of the partner bot. Only private chats are served.
pub(crate) async fn handle(cx: &Context, update: &Update) -> Result<Outbox> {
    match update.kind() {
        UpdateKind::Message(m) => on_message(cx, update.update_id, m).await,
        UpdateKind::CallbackQuery(q) => on_callback(cx, update.update_id, q).await,
        _ => Ok(Outbox::default()),
    }
}

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action<'a> {
    /// `/start`, with the customer code of a scanned card (`c_<code>`).
    Start(Option<&'a str>),
    /// `/apply`, with `name; category` or nothing (then the prompt).
    Apply(Option<&'a str>),
    /// `/credit <code> <amount>`.
    Credit(&'a str),
    /// `/redeem <code> <points>`.
    Redeem(&'a str),
    /// `/reverse <entry id>`.
    Reverse(&'a str),
    /// `/stats`.
    Stats,
    /// `/apikey` (a new key, the old one stops working), `/apikey revoke`.
    ApiKey(bool),
    /// `/campaign`, `/campaigns`, `/campaign_end <id>` (for its own place).
    Campaign(CampaignCommand<'a>),
    /// `/reward`, `/rewards`, `/reward_withdraw <id>`, `/voucher <code>`.
    Reward(RewardCommand<'a>),
    /// `/stamps <needed> <reward>`, `/stamps off`: the stamp card.
    Stamps(&'a str),
    /// `/stamp <code>`: a stamp for a visit.
    Stamp(&'a str),
    /// `/staff`, `/staff invite`, `/staff revoke <id>`: the partner's cashiers.
    Staff(&'a str),
    /// `/start s_<token>`: a staff invitation link opened.
    Join(&'a str),
    /// `/webhooks`, `/webhook_add <url> <events>`, `/webhook_remove <id>`:
    /// the partner's own endpoints (its owner's).
    Webhook(WebhookCommand<'a>),
    /// `/app`: a button that opens the Mini App as a partner (or cashier).
    App,
    /// Anything else: the person's status, or help.
    Help,
}

impl<'a> Action<'a> {
    /// The command's action; `None` for a command this bot does not know.
    pub(super) fn parse(cmd: &Command<'a>) -> Option<Action<'a>> {
        let args = cmd.args;
        Some(match cmd.name.as_str() {
            // A voucher's QR opens the partner bot with `v_<code>`.
            "start" if args.starts_with("v_") => Action::Reward(RewardCommand::Voucher(&args[2..])),
            "start" if args.starts_with("s_") => Action::Join(&args[2..]),
            "start" => Action::Start(args.strip_prefix("c_")),
            "apply" => Action::Apply((!args.is_empty()).then_some(args)),
            "credit" => Action::Credit(args),
            "redeem" => Action::Redeem(args),
            "reverse" => Action::Reverse(args),
            "stats" => Action::Stats,
            "apikey" => Action::ApiKey(args.trim().eq_ignore_ascii_case("revoke")),
            "stamps" => Action::Stamps(args),
            "stamp" => Action::Stamp(args),
            "staff" => Action::Staff(args),
            "webhooks" => Action::Webhook(WebhookCommand::List),
            "webhook_add" => Action::Webhook(WebhookCommand::Add(args)),
            "webhook_remove" => Action::Webhook(WebhookCommand::Remove(args)),
            "help" => Action::Help,
            "app" => Action::App,
            // Approving and rejecting campaigns and rewards is the admins'.
            name => match RewardCommand::parse(name, args) {
                Some(RewardCommand::Decide(RewardDecision::Approve | RewardDecision::Reject, _)) => return None,
                Some(cmd) => Action::Reward(cmd),
                None => match CampaignCommand::parse(name, args)? {
                    CampaignCommand::Decide(CampaignDecision::Approve | CampaignDecision::Reject, _) => return None,
                    cmd => Action::Campaign(cmd),
                },
            },
        })
    }
}

/// Whether `data` is one of this bot's buttons: [`parse_callback`]'s, a
/// stamp (`st:<code>`) or a revoke under `/staff` (`sr:<id>`).
pub(super) fn claims_callback(data: &str) -> bool {
    parse_callback(data).is_some() || data.starts_with("st:") || data.starts_with("sr:")
}

/// A button under a scanned card: the prompt's marker and the customer code
/// (`cr:<code>` to credit, `rq:<code>` to request a redemption).
pub(super) fn parse_callback(data: &str) -> Option<(&'static str, &str)> {
    match data.split_once(':')? {
        ("cr", code) => Some((CREDIT_MARKER, code)),
        ("rq", code) => Some((REDEEM_MARKER, code)),
        _ => None,
    }
}

/// Everything a handler needs about the person writing. Nothing is loaded
/// up front: each path makes the one storage call it needs, which also checks
/// who is asking (and the first call of an update claims it), so every update
/// costs one storage round trip.
struct Ctx<'a> {
    cx: &'a Context,
    update_id: i64,
    user: &'a User,
    /// The language of the person's Telegram app: replies before the partner
    /// is known, and refusals. Replies about a partner use its own language.
    lang: Language,
}

impl<'a> Ctx<'a> {
    fn new(cx: &'a Context, update_id: i64, user: &'a User) -> Ctx<'a> {
        Ctx { cx, update_id, user, lang: Language::from_code(user.language_code.as_deref()) }
    }
}

fn send(chat: i64, text: impl Into<String>, markup: Option<ReplyMarkup>) -> BotCall {
    BotCall::send_message(BotKind::Partner, chat, text, markup)
}

/// The inline button that opens the Mini App as a partner
/// ([`Config::app_url_for`](crate::Config::app_url_for)), labelled in
/// `lang`; none when there is no app.
fn app_markup(cx: &Context, lang: Language) -> Option<ReplyMarkup> {
    let url = cx.config().app_url_for(BotKind::Partner)?;
    let button = InlineKeyboardButton::web_app(lang.texts().button(Button::App), url);
    Some(ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard: vec![vec![button]] }))
}

/// The partner bot's chat menu button (`setChatMenuButton` without a chat,
/// sent by `loyalty webhooks set`): the Mini App opened as a partner
/// ([`Config::app_url_for`](crate::Config::app_url_for)), labelled in
/// `lang`, or without an app the command list (as the client bot's,
/// [`client::menu_button`](super::client::menu_button)).
///
/// ```
/// use loyalty_core::Config;
/// use loyalty_core::bots::partner::menu_button;
/// use loyalty_core::domain::Language;
/// use loyalty_core::telegram::MenuButton;
///
/// let config = Config { frontend_url: Some("https://app.example.com".into()), ..Config::default() };
/// let button = menu_button(&config, Language::Ru);
/// assert_eq!(button, MenuButton::web_app("📱 Открыть приложение", "https://app.example.com?mode=partner"));
/// assert_eq!(menu_button(&Config::default(), Language::Ru), MenuButton::Commands);
/// ```
pub fn menu_button(config: &crate::Config, lang: Language) -> MenuButton {
    match config.app_url_for(BotKind::Partner) {
        Some(url) => MenuButton::web_app(lang.texts().button(Button::App), url),
        None => MenuButton::Commands,
    }
}

fn force_reply(placeholder: &str) -> Option<ReplyMarkup> {
    Some(ReplyMarkup::ForceReply(ForceReply { force_reply: true, input_field_placeholder: Some(placeholder.into()) }))
}

async fn on_message(cx: &Context, update_id: i64, m: &Message) -> Result<Outbox> {
    let Some(user) = m.from.as_ref() else { return Ok(Outbox::default()) };
    if !m.chat.is_private() || user.is_bot {
        return Ok(Outbox::default());
    }
    let ctx = Ctx::new(cx, update_id, user);
    let Some(text) = m.text.as_deref() else { return ctx.standing(Action::Help).await };
    if let Some(cmd) = Command::parse(text) {
        return ctx.command(Action::parse(&cmd).unwrap_or(Action::Help)).await;
    }
    if let Some(prompt) = m.reply_to_message.as_deref().and_then(|r| r.text.as_deref()) {
        if prompt.starts_with(APPLY_MARKER) {
            return ctx.apply(text).await;
        }
        if let Some(rest) = prompt.strip_prefix(CREDIT_MARKER) {
            return ctx.credit_answer(rest, text).await;
        }
        if let Some(rest) = prompt.strip_prefix(REDEEM_MARKER) {
            return ctx.redeem_answer(rest, text).await;
        }
    }
    match cx.read_card(text) {
        Ok(code) => ctx.show_customer(code, false).await,
        // Text that is no card code at all: where the person stands, or help.
        Err(CardCodeError::Malformed) => ctx.standing(Action::Help).await,
        Err(CardCodeError::Expired) => ctx.mistake(Mistake::ExpiredCode).await,
        Err(_) => ctx.mistake(Mistake::BadCode(text)).await,
    }
}

async fn on_callback(cx: &Context, update_id: i64, q: &CallbackQuery) -> Result<Outbox> {
    let answer = BotCall::answer_callback(BotKind::Partner, q.id.clone(), None);
    if q.message.as_ref().is_some_and(|m| !m.chat.is_private()) || q.from.is_bot {
        return Ok(Outbox::one(answer));
    }
    let ctx = Ctx::new(cx, update_id, &q.from);
    if let Some(id) = q.data.as_deref().and_then(|d| d.strip_prefix("sr:")) {
        // A revoke button under `/staff`.
        let mut out = Outbox::one(answer);
        if let Some(id) = super::common::parse_id(id) {
            out.calls.extend(ctx.revoke(StaffId(id)).await?.calls);
        }
        return Ok(out);
    }
    if let Some(code) = q.data.as_deref().and_then(|d| d.strip_prefix("st:")) {
        // A stamp from a scanned card's button: once per card message, however often pressed.
        let mut out = Outbox::one(answer);
        let Some(code) = CustomerCode::parse(code) else { return Ok(out) };
        let place = q.message.as_ref().map_or_else(|| q.id.clone(), |m| format!("{}:{}", m.chat.id, m.message_id));
        let key = format!("stamp:{}:{place}", cx.config().bot_id(BotKind::Partner));
        out.calls.extend(ctx.give_stamp(code, key).await?.calls);
        return Ok(out);
    }
    let Some((kind, code)) = q.data.as_deref().and_then(parse_callback) else { return Ok(Outbox::one(answer)) };
    let mut out = Outbox::one(answer);
    let partner = match ctx.lookup().await? {
        Ok(partner) => partner,
        Err(text) => {
            out.push(ctx.reply(text));
            return Ok(out);
        }
    };
    out.push(match partner.as_ref().filter(|p| p.status == PartnerStatus::Approved) {
        Some(p) => match CustomerCode::parse(code) {
            Some(code) => ctx.prompt_for(p.language, kind, &code),
            None => ctx.reply(p.language.texts().partner_bad_code(Esc(code))),
        },
        None => ctx.reply(ctx.status_text(partner.as_ref())),
    });
    Ok(out)
}

/// The `force_reply` question for a credit ([`CREDIT_MARKER`]) or a redemption
/// ([`REDEEM_MARKER`]): marker, customer code, question; and its placeholder.
fn prompt_text(lang: Language, marker: &str, code: &str) -> (String, &'static str) {
    let t = lang.texts();
    let (question, placeholder) = if marker == CREDIT_MARKER {
        (t.fixed(Fixed::CreditPrompt), t.fixed(Fixed::AmountPlaceholder))
    } else {
        (t.fixed(Fixed::RedeemPrompt), t.fixed(Fixed::RedeemPlaceholder))
    };
    (format!("{marker} {code} — {question}"), placeholder)
}

/// Input a partner's command cannot use: answered without a use case.
enum Mistake<'a> {
    /// The command's usage text.
    Usage(Fixed),
    /// Not a customer code.
    BadCode(&'a str),
    /// A rotating code from the Mini App that has expired.
    ExpiredCode,
    /// Not an amount, then the command's usage text.
    BadAmount(Fixed),
    /// Not an amount in answer to a prompt: the prompt again.
    AskAgain(&'static str, CustomerCode),
}

impl Ctx<'_> {
    /// The customer behind a scanned or typed card code — the printed code or
    /// the Mini App's rotating one ([`Context::read_card`]) — or the mistake
    /// to answer.
    fn card<'s>(&self, input: &'s str) -> std::result::Result<CustomerCode, Mistake<'s>> {
        self.cx.read_card(input).map_err(|e| match e {
            CardCodeError::Expired => Mistake::ExpiredCode,
            _ => Mistake::BadCode(input),
        })
    }

    /// The partner this person owns, as the storage calls name it.
    fn me(&self) -> PartnerRef {
        PartnerRef::Telegram(TelegramUserId(self.user.id))
    }

    /// The partner at whose till this person works: the one they own, or the
    /// one they are a cashier of.
    fn till(&self) -> PartnerRef {
        PartnerRef::Till(TelegramUserId(self.user.id))
    }

    /// Whether this person owns `p` (else they are its cashier).
    fn owns(&self, p: &Partner) -> bool {
        p.telegram_id == TelegramUserId(self.user.id)
    }

    fn chat(&self) -> i64 {
        self.user.id
    }

    fn reply(&self, text: impl Into<String>) -> BotCall {
        send(self.chat(), text, None)
    }

    /// The reply, then a use case's notices.
    fn reply_with(&self, text: String, notices: Vec<BotCall>) -> Outbox {
        let mut out = Outbox::one(self.reply(text));
        out.calls.extend(notices);
        out
    }

    /// A storage call's result, or the text that tells the person why it was
    /// refused: someone who is not a partner is told how to become one, and a
    /// partner that is not approved where it stands (the refusal carries it).
    async fn settle<T>(&self, r: StoreResult<T>) -> Result<std::result::Result<T, String>> {
        match r {
            Err(StoreError::Rejected(Rejection::UnknownPartner)) => Ok(Err(self.lang.say(Fixed::NotAPartner).into())),
            Err(StoreError::Rejected(Rejection::PartnerNotApproved { status })) => Ok(Err(self
                .lang
                .say(match status {
                    PartnerStatus::Applied => Fixed::ApplicationWaiting,
                    PartnerStatus::Rejected => Fixed::ApplicationRejected,
                    PartnerStatus::Suspended => Fixed::Suspended,
                    PartnerStatus::Approved => Fixed::PartnerHelp,
                })
                .into())),
            r => settle(self.cx, self.lang, "bot.partner", r).await,
        }
    }

    /// [`settle`](Self::settle) for a call only a partner's owner may make:
    /// refused as an unknown partner, the person may be a cashier (the one
    /// storage call cannot tell), so they hear what only the owner does.
    async fn settle_owner<T>(&self, r: StoreResult<T>) -> Result<std::result::Result<T, String>> {
        match r {
            Err(StoreError::Rejected(Rejection::UnknownPartner)) => Ok(Err(self.lang.say(Fixed::OwnerOnly).into())),
            r => self.settle(r).await,
        }
    }

    /// Answers input a command cannot use. The one storage call of such an
    /// update is the partner's lookup: someone who is not an approved partner
    /// hears where they stand instead, a partner hears it in its language.
    async fn mistake(&self, mistake: Mistake<'_>) -> Result<Outbox> {
        let partner = match self.lookup().await? {
            Ok(partner) => partner,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let Some(lang) = partner.as_ref().filter(|p| p.status == PartnerStatus::Approved).map(|p| p.language) else {
            return Ok(Outbox::one(self.reply(self.status_text(partner.as_ref()))));
        };
        Ok(match mistake {
            Mistake::Usage(usage) => Outbox::one(self.reply(lang.say(usage))),
            Mistake::BadCode(code) => Outbox::one(self.reply(lang.texts().partner_bad_code(Esc(code)))),
            Mistake::ExpiredCode => Outbox::one(self.reply(lang.say(Fixed::CardCodeExpired))),
            Mistake::BadAmount(usage) => {
                Outbox::one(self.reply(format!("{}\n{}", lang.say(Fixed::BadAmount), lang.say(usage))))
            }
            Mistake::AskAgain(marker, code) => {
                let mut out = Outbox::one(self.reply(lang.say(Fixed::BadAmount)));
                out.push(self.prompt_for(lang, marker, &code));
                out
            }
        })
    }

    /// The partner at whose till this person works (`None` for someone who is
    /// neither a partner nor a cashier), or the text of a failure.
    async fn lookup(&self) -> Result<std::result::Result<Option<Partner>, String>> {
        self.settle(self.cx.storage().partner(self.till()).await).await
    }

    /// The idempotency key of this update's ledger write: the bot's id and
    /// the update's, so deployments sharing a database never collide.
    fn key(&self, suffix: &str) -> String {
        format!("tg:{}:{}{suffix}", self.cx.config().bot_id(BotKind::Partner), self.update_id)
    }

    /// What the person should know about their standing, as text (in the
    /// partner's language when there is a partner).
    fn status_text(&self, partner: Option<&Partner>) -> String {
        match partner {
            None => self.lang.say(Fixed::NotAPartner).into(),
            Some(p) => match p.status {
                PartnerStatus::Applied => p.language.texts().application_pending(Esc(&p.name)),
                PartnerStatus::Rejected => p.language.say(Fixed::ApplicationRejected).into(),
                PartnerStatus::Suspended => p.language.say(Fixed::Suspended).into(),
                PartnerStatus::Approved if !self.owns(p) => p.language.texts().cashier_greeting(Esc(&p.name)),
                PartnerStatus::Approved => p.language.say(Fixed::PartnerHelp).into(),
            },
        }
    }

    /// What an existing partner is told when it applies again: the greeting
    /// with the commands when approved, else its status.
    fn standing_text(&self, p: &Partner) -> String {
        match p.status {
            PartnerStatus::Approved => self.welcome_back(p),
            _ => self.status_text(Some(p)),
        }
    }

    /// Greeting of an approved partner, with the command list.
    fn welcome_back(&self, p: &Partner) -> String {
        let t = p.language.texts();
        if !self.owns(p) {
            return t.cashier_greeting(Esc(&p.name));
        }
        format!("{}\n\n{}", t.partner_greeting(Esc(&p.name)), t.fixed(Fixed::PartnerHelp))
    }

    fn apply_prompt(&self, lang: Language) -> BotCall {
        let text = format!("{APPLY_MARKER} {}", lang.say(Fixed::ApplyPrompt));
        send(self.chat(), text, force_reply(lang.say(Fixed::ApplyPlaceholder)))
    }

    /// The `force_reply` question for a credit ([`CREDIT_MARKER`]) or a redemption.
    fn prompt_for(&self, lang: Language, marker: &str, code: &CustomerCode) -> BotCall {
        let (text, placeholder) = prompt_text(lang, marker, code.as_str());
        send(self.chat(), text, force_reply(placeholder))
    }

    async fn command(&self, action: Action<'_>) -> Result<Outbox> {
        match action {
            Action::Start(Some(code)) => self.scan(code).await,
            Action::Start(None) | Action::Apply(None) | Action::Help => self.standing(action).await,
            Action::Apply(Some(input)) => self.apply(input).await,
            Action::Credit(args) => self.credit_command(args).await,
            Action::Redeem(args) => self.redeem_command(args).await,
            Action::Reverse(args) => self.reverse(args).await,
            Action::Stats => self.stats().await,
            Action::ApiKey(revoke) => self.api_key(revoke).await,
            Action::Stamps(args) => self.stamps(args).await,
            Action::Stamp(args) => self.stamp_command(args).await,
            Action::Staff(args) => self.staff(args).await,
            Action::Join(token) => self.join(token).await,
            Action::Webhook(cmd) => self.webhooks(cmd).await,
            Action::App => self.app().await,
            Action::Reward(cmd @ RewardCommand::Voucher(_)) => {
                // Accepting a voucher is the till's.
                let actor = CampaignActor::Partner(self.till());
                self.told(super::rewards::run(self.cx, self.lang, actor, cmd, self.key(":reward")).await, false).await
            }
            Action::Reward(cmd) => {
                let actor = CampaignActor::Partner(self.me());
                self.told(super::rewards::run(self.cx, self.lang, actor, cmd, self.key(":reward")).await, true).await
            }
            Action::Campaign(cmd) => {
                let actor = CampaignActor::Partner(self.me());
                self.told(super::campaigns::run(self.cx, self.lang, actor, cmd, self.key(":campaign")).await, true)
                    .await
            }
        }
    }

    /// The reply to a command that answered a text and notices for others (or
    /// a refusal, worded).
    async fn told(&self, done: StoreResult<(String, Vec<BotCall>)>, owner: bool) -> Result<Outbox> {
        let settled = if owner { self.settle_owner(done).await? } else { self.settle(done).await? };
        Ok(match settled {
            Ok((text, notices)) => self.reply_with(text, notices),
            Err(text) => Outbox::one(self.reply(text)),
        })
    }

    /// `/start`, `/apply` without details, `/help` and anything unrecognised:
    /// the person's standing, from one lookup.
    async fn standing(&self, action: Action<'_>) -> Result<Outbox> {
        let partner = match self.lookup().await? {
            Ok(partner) => partner,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let Some(p) = partner.as_ref() else {
            return Ok(match action {
                Action::Help => Outbox::one(self.reply(self.status_text(None))),
                _ => Outbox::one(self.apply_prompt(self.lang)),
            });
        };
        Ok(match (action, p.status) {
            (_, PartnerStatus::Approved) => {
                let text = if action == Action::Help { self.status_text(Some(p)) } else { self.standing_text(p) };
                Outbox::one(send(self.chat(), text, app_markup(self.cx, p.language)))
            }
            (Action::Help, _) => Outbox::one(self.reply(self.status_text(Some(p)))),
            (_, PartnerStatus::Rejected) => {
                let mut out = Outbox::one(self.reply(p.language.say(Fixed::ApplicationRejected)));
                out.push(self.apply_prompt(p.language));
                out
            }
            _ => Outbox::one(self.reply(self.standing_text(p))),
        })
    }

    /// `/app`: for an approved partner's owner or cashier, a message with the
    /// button that opens the Mini App as a partner (one lookup); anyone else
    /// hears where they stand.
    async fn app(&self) -> Result<Outbox> {
        let partner = match self.lookup().await? {
            Ok(partner) => partner,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let Some(p) = partner.as_ref().filter(|p| p.status == PartnerStatus::Approved) else {
            return Ok(Outbox::one(self.reply(self.status_text(partner.as_ref()))));
        };
        let lang = p.language;
        Ok(Outbox::one(match app_markup(self.cx, lang) {
            Some(markup) => send(self.chat(), lang.say(Fixed::AppOpen), Some(markup)),
            None => self.reply(lang.say(Fixed::AppUnavailable)),
        }))
    }

    /// An application (`/apply name; category` or an answer to the prompt).
    /// Someone who is a partner already hears where they stand: for input
    /// the form refuses, from the one lookup that update makes; for a
    /// well-formed application, from a second read after the store's
    /// `already_partner` (an application is made once in a partner's life).
    async fn apply(&self, input: &str) -> Result<Outbox> {
        let Some((name, category)) = parse_application(input) else {
            let partner = match self.lookup().await? {
                Ok(partner) => partner,
                Err(text) => return Ok(Outbox::one(self.reply(text))),
            };
            if let Some(p) = partner.as_ref().filter(|p| p.status != PartnerStatus::Rejected) {
                return Ok(Outbox::one(self.reply(self.standing_text(p))));
            }
            let lang = partner.as_ref().map_or(self.lang, |p| p.language);
            let text = format!("{APPLY_MARKER} {}", lang.say(Fixed::ApplicationFormatError));
            return Ok(Outbox::one(send(self.chat(), text, force_reply(lang.say(Fixed::ApplyPlaceholder)))));
        };
        let cx = self.cx;
        let req = crate::ports::PartnerApplication {
            telegram_id: TelegramUserId(self.user.id),
            name,
            category,
            terms: Default::default(),
            language: self.lang,
            now: cx.now(),
        };
        let username = self.user.username.as_deref();
        let done = match usecases::apply_partner(cx, req, username).await {
            Err(StoreError::Rejected(Rejection::AlreadyPartner)) => {
                return Ok(Outbox::one(self.reply(match self.lookup().await? {
                    Ok(Some(p)) => self.standing_text(&p),
                    Ok(None) => self.lang.texts().rejection(&Rejection::AlreadyPartner),
                    Err(text) => text,
                })));
            }
            applied => match self.settle(applied).await? {
                Ok(done) => done,
                Err(text) => return Ok(Outbox::one(self.reply(text))),
            },
        };
        let p = &done.outcome.partner;
        let t = p.language.texts();
        if !done.outcome.created {
            return Ok(Outbox::one(self.reply(t.application_pending(Esc(&p.name)))));
        }
        Ok(self.reply_with(t.application_received(Esc(&p.name), Esc(&p.category)), done.notices))
    }

    /// `/start c_<code>`: a scanned card (someone who is not a partner gets
    /// the application prompt, as with a plain `/start`).
    async fn scan(&self, code: &str) -> Result<Outbox> {
        match self.card(code) {
            Ok(code) => self.show_customer(code, true).await,
            Err(mistake) => self.mistake(mistake).await,
        }
    }

    /// A customer's card with Credit / Redeem buttons.
    async fn show_customer(&self, code: CustomerCode, from_start: bool) -> Result<Outbox> {
        let cx = self.cx;
        let req = LookUpCustomer { partner: self.till(), customer: CustomerRef::Code(code) };
        let card = match cx.storage().look_up_customer(req).await {
            Err(StoreError::Rejected(Rejection::UnknownPartner)) if from_start => {
                return Ok(Outbox::one(self.apply_prompt(self.lang)));
            }
            found => match self.settle(found).await? {
                Ok(card) => card,
                Err(text) => return Ok(Outbox::one(self.reply(text))),
            },
        };
        let (customer, lang) = (&card.customer, card.partner.language);
        let code = customer.code.as_str();
        let mut text = lang.texts().customer_card(Esc(&customer.first_name), code, Pts(customer.balance));
        if let Some(p) = &card.stamps {
            text = format!("{text}\n🎟 {} {}/{}", texts::stamp_dots(p.stamps, p.card.needed), p.stamps, p.card.needed);
        }
        if customer.blocked {
            text = format!("{text}\n{}", lang.say(Fixed::CustomerCardBlocked));
        }
        let markup = (!customer.blocked).then(|| {
            let mut inline_keyboard = vec![vec![
                InlineKeyboardButton::callback(lang.say(Fixed::ButtonCredit), format!("cr:{code}")),
                InlineKeyboardButton::callback(lang.say(Fixed::ButtonRedeem), format!("rq:{code}")),
            ]];
            if card.stamps.is_some() {
                inline_keyboard
                    .push(vec![InlineKeyboardButton::callback(lang.texts().stamp_button(), format!("st:{code}"))]);
            }
            ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard })
        });
        Ok(Outbox::one(send(self.chat(), text, markup)))
    }

    /// `/stamps <needed> <reward>` runs (or changes) the stamp card; `/stamps off` ends it.
    async fn stamps(&self, args: &str) -> Result<Outbox> {
        let args = args.trim();
        let (needed, reward) = if args.eq_ignore_ascii_case("off") {
            (0, "")
        } else {
            let (needed, reward) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            match needed.parse::<u32>() {
                Ok(needed) if check_card(needed, reward.trim()).is_ok() => (needed, reward.trim()),
                _ => return Ok(Outbox::one(self.reply(self.lang.texts().stamps_usage()))),
            }
        };
        let req = SetStampCard { partner: self.me(), needed, reward: reward.to_string(), now: self.cx.now() };
        let t = self.lang.texts();
        Ok(Outbox::one(self.reply(match self.settle_owner(self.cx.storage().set_stamp_card(req).await).await? {
            Ok(Some(card)) => t.stamp_card_set(card.needed, Esc(&card.reward)),
            Ok(None) => t.stamp_card_ended().to_string(),
            Err(text) => text,
        })))
    }

    /// `/stamp <code>`: a stamp for the customer's visit (once per update).
    async fn stamp_command(&self, args: &str) -> Result<Outbox> {
        let code = args.trim();
        if code.is_empty() {
            return Ok(Outbox::one(self.reply(self.lang.texts().stamp_usage())));
        }
        let code = match self.card(code) {
            Ok(code) => code,
            Err(mistake) => return self.mistake(mistake).await,
        };
        self.give_stamp(code, self.key(":stamp")).await
    }

    /// Gives the customer a stamp under `key`; the customer is told.
    async fn give_stamp(&self, code: CustomerCode, key: String) -> Result<Outbox> {
        let req = AddStamp {
            partner: self.till(),
            customer: CustomerRef::Code(code),
            idempotency_key: key,
            now: self.cx.now(),
        };
        let done = match self.settle(usecases::stamp(self.cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (s, t) = (&done.outcome, self.lang.texts());
        let (name, p) = (Esc(&s.customer.first_name), &s.progress);
        let text = if s.replayed && !self.cx.is_reprocessing() {
            t.stamp_given_before(name, &texts::stamp_dots(p.stamps, p.card.needed), p.stamps, p.card.needed)
        } else if s.completed {
            t.stamp_filled(name, Esc(&p.card.reward))
        } else {
            t.stamped(name, &texts::stamp_dots(p.stamps, p.card.needed), p.stamps, p.card.needed)
        };
        Ok(self.reply_with(text, done.notices))
    }

    /// `/credit <code> <purchase>`.
    async fn credit_command(&self, args: &str) -> Result<Outbox> {
        let (code, amount) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        if code.is_empty() || amount.trim().is_empty() {
            return self.mistake(Mistake::Usage(Fixed::UsageCredit)).await;
        }
        let code = match self.card(code) {
            Ok(code) => code,
            Err(mistake) => return self.mistake(mistake).await,
        };
        let Some(purchase) = common::parse_amount(amount) else {
            return self.mistake(Mistake::BadAmount(Fixed::UsageCredit)).await;
        };
        self.credit(code, purchase).await
    }

    /// An answer to a [`CREDIT_MARKER`] prompt.
    async fn credit_answer(&self, prompt: &str, text: &str) -> Result<Outbox> {
        let Some(code) = code_in_prompt(prompt) else {
            return self.mistake(Mistake::Usage(Fixed::UsageCredit)).await;
        };
        match common::parse_amount(text) {
            Some(purchase) => self.credit(code, purchase).await,
            None => self.mistake(Mistake::AskAgain(CREDIT_MARKER, code)).await,
        }
    }

    async fn credit(&self, code: CustomerCode, purchase: Points) -> Result<Outbox> {
        let cx = self.cx;
        let now = cx.now();
        let req = CreditPurchase {
            partner: self.till(),
            customer: CustomerRef::Code(code),
            purchase,
            idempotency_key: self.key(""),
            day_start: now.day_start(),
            now,
        };
        let done = match self.settle(usecases::credit(cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (customer, entry) = (&done.outcome.customer, &done.outcome.entry);
        let t = done.outcome.partner.language.texts();
        let code = customer.code.as_str();
        let mut text = if entry.amount == 0 {
            t.credited_nothing(code, Pts(purchase))
        } else {
            let (name, balance) = (Esc(&customer.first_name), Pts(customer.balance));
            // Only the owner reverses: a cashier is not offered the undo.
            let undo = entry.cashier.is_none();
            t.credited(Signed(entry.amount), name, code, Pts(purchase), balance, entry.id, undo)
        };
        // How the points were earned when a tier or a campaign counted
        // ("+150: 100 base × 1.5 Silver", "+150: 100 base + 50 First visit").
        let rules = if done.outcome.tier_before > 0 { cx.rules(entry.rules_version).await } else { None };
        let rules = rules.as_ref().map(|r| &r.rules);
        if let Some(formula) = texts::earned_formula(done.outcome.partner.language, &done.outcome, rules) {
            text = format!("{text}\n{}: {formula}", Signed(entry.amount));
        }
        Ok(self.reply_with(text, done.notices))
    }

    /// `/redeem <code> <points> <purchase>`.
    async fn redeem_command(&self, args: &str) -> Result<Outbox> {
        let [code, points, purchase] = args.split_whitespace().collect::<Vec<_>>()[..] else {
            return self.mistake(Mistake::Usage(Fixed::UsageRedeem)).await;
        };
        let code = match self.card(code) {
            Ok(code) => code,
            Err(mistake) => return self.mistake(mistake).await,
        };
        match (common::parse_amount(points), common::parse_amount(purchase)) {
            (Some(points), Some(purchase)) => self.redeem(code, points, purchase).await,
            _ => self.mistake(Mistake::BadAmount(Fixed::UsageRedeem)).await,
        }
    }

    /// An answer to a [`REDEEM_MARKER`] prompt: two numbers.
    async fn redeem_answer(&self, prompt: &str, text: &str) -> Result<Outbox> {
        let Some(code) = code_in_prompt(prompt) else {
            return self.mistake(Mistake::Usage(Fixed::UsageRedeem)).await;
        };
        let numbers: Vec<Option<Points>> = text.split_whitespace().map(common::parse_amount).collect();
        match numbers[..] {
            [Some(points), Some(purchase)] => self.redeem(code, points, purchase).await,
            _ => self.mistake(Mistake::AskAgain(REDEEM_MARKER, code)).await,
        }
    }

    async fn redeem(&self, code: CustomerCode, points: Points, purchase: Points) -> Result<Outbox> {
        let cx = self.cx;
        let now = cx.now();
        let req = OpenRedemption {
            partner: self.till(),
            customer: CustomerRef::Code(code),
            points,
            purchase,
            idempotency_key: self.key(":redeem"),
            now,
            expires_at: now.plus(rules::REDEMPTION_TTL_SECS),
        };
        let done = match self.settle(usecases::open_redemption(cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (r, customer) = (&done.outcome.request, &done.outcome.customer);
        let text = done.outcome.partner.language.texts().redemption_sent(
            r.id,
            Esc(&customer.first_name),
            customer.code.as_str(),
            Pts(r.points),
            Pts(r.purchase),
        );
        Ok(self.reply_with(text, done.notices))
    }

    /// `/reverse <entry id>`.
    async fn reverse(&self, args: &str) -> Result<Outbox> {
        let Some(entry) = parse_entry_id(args) else {
            return self.mistake(Mistake::Usage(Fixed::UsageReverse)).await;
        };
        let cx = self.cx;
        let now = cx.now();
        let req = ReverseEntry {
            entry,
            partner: self.me(),
            idempotency_key: self.key(":reverse"),
            not_before: now.plus(-rules::REVERSAL_WINDOW_SECS),
            now,
        };
        let done = match self.settle_owner(usecases::reverse(cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (r, c) = (&done.outcome, &done.outcome.customer);
        let t = r.partner.language.texts();
        let text = t.reversed(r.original.id, Signed(r.reversal.amount), c.code.as_str(), Pts(c.balance));
        Ok(self.reply_with(text, done.notices))
    }

    /// `/stats`: today and the last 7 days (the store returns the partner
    /// with its figures; only an approved partner is shown them).
    async fn stats(&self) -> Result<Outbox> {
        let cx = self.cx;
        let today = cx.now().day_start();
        let week = today.plus(-6 * crate::domain::Timestamp::DAY);
        let found = cx.storage().partner_stats(self.me(), today, week).await;
        Ok(Outbox::one(self.reply(match self.settle_owner(found).await? {
            Ok(s) if s.partner.status == PartnerStatus::Approved => {
                texts::partner_stats(s.partner.language.texts(), &s)
            }
            Ok(s) => self.status_text(Some(&s.partner)),
            Err(text) => text,
        })))
    }

    /// `/apikey`: a new POS key, shown once; only its hash is stored (the
    /// store refuses a partner that is not approved).
    /// `/apikey`: a new POS key (the old one stops working); `/apikey revoke`: none.
    async fn api_key(&self, revoke: bool) -> Result<Outbox> {
        let cx = self.cx;
        let key = (!revoke).then(|| format!("lk_{}", cx.random_hex(32)));
        let stored = cx.storage().set_partner_api_key(self.me(), key.as_deref().map(rules::hash_api_key)).await;
        Ok(Outbox::one(self.reply(match self.settle_owner(stored).await? {
            Ok(p) => match &key {
                Some(key) => p.language.texts().api_key(key),
                None => p.language.texts().api_key_revoked().to_owned(),
            },
            Err(text) => text,
        })))
    }
}

impl Ctx<'_> {
    /// `/staff` lists the partner's staff with a revoke button for each
    /// cashier and open invitation; `/staff invite` makes an invitation link;
    /// `/staff revoke <id>` revokes.
    async fn staff(&self, args: &str) -> Result<Outbox> {
        let (verb, rest) = args.trim().split_once(char::is_whitespace).unwrap_or((args.trim(), ""));
        match verb.to_lowercase().as_str() {
            "" => self.staff_list().await,
            "invite" => self.invite().await,
            "revoke" => match super::common::parse_id(rest) {
                Some(id) => self.revoke(StaffId(id)).await,
                None => Ok(Outbox::one(self.reply(self.lang.texts().staff_usage()))),
            },
            _ => Ok(Outbox::one(self.reply(self.lang.texts().staff_usage()))),
        }
    }

    async fn staff_list(&self) -> Result<Outbox> {
        let staff = match self.settle_owner(self.cx.storage().staff(self.me()).await).await? {
            Ok(staff) => staff,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (t, now) = (self.lang.texts(), self.cx.now());
        // Revoked members and expired invitations stay on record but off the list.
        let shown: Vec<_> =
            staff.iter().filter(|s| matches!(s.status(now), StaffStatus::Active | StaffStatus::Invited)).collect();
        let mut text = format!("{}\n", t.staff_title());
        if shown.is_empty() {
            text = format!("{text}{}\n", t.staff_none());
        }
        for s in &shown {
            text = format!("{text}{}\n", t.staff_line(s.id.0, Esc(&s.name), s.status(now)));
        }
        text = format!("{text}\n{}", t.staff_usage());
        let inline_keyboard: Vec<_> = shown
            .iter()
            .map(|s| {
                let label = t.staff_revoke_button(s.id.0, &s.name).trim_end().to_string();
                vec![InlineKeyboardButton::callback(label, format!("sr:{}", s.id))]
            })
            .collect();
        let markup =
            (!inline_keyboard.is_empty()).then_some(ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard }));
        Ok(Outbox::one(send(self.chat(), text, markup)))
    }

    /// `/staff invite`: a one-time link for a new cashier (only its token's
    /// hash is stored; a redelivered update makes another invitation, which
    /// expires unused).
    async fn invite(&self) -> Result<Outbox> {
        let cx = self.cx;
        let token = cx.random_hex(16);
        let now = cx.now();
        let req = InviteStaff {
            partner: self.me(),
            token_sha256_hex: rules::hash_api_key(&token),
            now,
            expires_at: now.plus(rules::STAFF_INVITE_TTL_SECS),
        };
        let staff = match self.settle_owner(cx.storage().invite_staff(req).await).await? {
            Ok(staff) => staff,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let link = match cx.config().partner_bot_username.as_deref() {
            Some(bot) => format!("https://t.me/{bot}?start=s_{token}"),
            None => format!("<code>/start s_{token}</code>"),
        };
        let hours = rules::STAFF_INVITE_TTL_SECS / 3600;
        Ok(Outbox::one(self.reply(self.lang.texts().staff_invited(staff.id.0, &link, hours))))
    }

    /// `/staff revoke <id>` or its button.
    async fn revoke(&self, staff: StaffId) -> Result<Outbox> {
        let req = RevokeStaff { partner: self.me(), staff, now: self.cx.now() };
        let done = match self.settle_owner(usecases::revoke_staff(self.cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (s, lang) = (&done.outcome.staff, done.outcome.partner.language);
        Ok(self.reply_with(lang.texts().staff_revoked(s.id.0, Esc(&s.name)), done.notices))
    }

    /// `/webhooks`, `/webhook_add`, `/webhook_remove`: the partner's own
    /// endpoints, by its owner (named by the owner's account, so a cashier
    /// hears that only the owner does this, and a partner not approved where
    /// it stands when it adds one).
    async fn webhooks(&self, cmd: WebhookCommand<'_>) -> Result<Outbox> {
        let owner = WebhookOwner::Partner(self.me());
        let done = super::webhooks::run(self.cx, self.lang, owner, cmd, self.key(":webhook")).await;
        Ok(Outbox::one(self.reply(match self.settle_owner(done).await? {
            Ok(text) | Err(text) => text,
        })))
    }

    /// `/start s_<token>`: an invitation link opened; the person becomes a
    /// cashier (their partner's owner is told).
    async fn join(&self, token: &str) -> Result<Outbox> {
        let req = JoinStaff {
            token_sha256_hex: rules::hash_api_key(token),
            telegram_id: TelegramUserId(self.user.id),
            name: self.user.first_name.clone(),
            now: self.cx.now(),
        };
        let done = match usecases::join_staff(self.cx, req).await {
            // Here the refusal is about the link, not about who is asking.
            Err(StoreError::Rejected(r @ Rejection::AlreadyPartner)) => {
                return Ok(Outbox::one(self.reply(self.lang.texts().rejection(&r))));
            }
            Err(StoreError::Rejected(Rejection::PartnerNotApproved { .. })) => {
                return Ok(Outbox::one(self.reply(self.lang.texts().rejection(&Rejection::InvalidInvite))));
            }
            done => match self.settle(done).await? {
                Ok(done) => done,
                Err(text) => return Ok(Outbox::one(self.reply(text))),
            },
        };
        let p = &done.outcome.partner;
        let t = self.lang.texts();
        let text = format!("{}\n\n{}", t.staff_joined(Esc(&p.name)), t.cashier_greeting(Esc(&p.name)));
        Ok(self.reply_with(text, done.notices))
    }
}

/// Splits an application into name and category: on the first `;`, else on
/// the first line break. Both parts are trimmed and must be 1..=100 and
/// 1..=50 characters without control characters.
fn parse_application(input: &str) -> Option<(String, String)> {
    let (name, category) = input.split_once(';').or_else(|| input.split_once('\n'))?;
    let (name, category) = (name.trim(), category.trim());
    let ok = |s: &str, max: usize| (1..=max).contains(&s.chars().count()) && !s.chars().any(char::is_control);
    (ok(name, MAX_NAME_CHARS) && ok(category, MAX_CATEGORY_CHARS)).then(|| (name.to_string(), category.to_string()))
}

/// The customer code in a prompt's text (after its marker): the first word
/// that is a valid code.
fn code_in_prompt(prompt: &str) -> Option<CustomerCode> {
    prompt.split_whitespace().find_map(CustomerCode::parse)
}

/// An entry id as typed: `42` or `#42`.
fn parse_entry_id(args: &str) -> Option<EntryId> {
    super::common::parse_id(args).map(EntryId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_applications() {
        assert_eq!(parse_application("Pho 24; cafe"), Some(("Pho 24".into(), "cafe".into())));
        assert_eq!(parse_application("Pho 24\ncafe"), Some(("Pho 24".into(), "cafe".into())));
        assert_eq!(
            parse_application("Bar, Grill & Co; restaurant; late"),
            Some(("Bar, Grill & Co".into(), "restaurant; late".into()))
        );
        assert_eq!(parse_application("Pho 24, cafe"), None, "a comma may be part of a name");
        assert_eq!(parse_application("; cafe"), None);
        assert_eq!(parse_application("Pho;  "), None);
        assert_eq!(parse_application(&format!("{}; cafe", "x".repeat(101))), None);
        assert!(parse_application(&format!("{}; {}", "я".repeat(100), "é".repeat(50))).is_some());
        assert_eq!(parse_application(&format!("Pho; {}", "x".repeat(51))), None);
        assert_eq!(parse_application("Pho; cafe\nbar"), None, "one line each");
    }

    #[test]
    fn reads_the_code_back_from_prompts() {
        for lang in Language::ALL {
            let code = CustomerCode::parse("ABCD2345");
            let (credit, _) = prompt_text(lang, CREDIT_MARKER, "ABCD2345");
            assert_eq!(code_in_prompt(credit.trim_start_matches(CREDIT_MARKER)), code);
            let (redeem, _) = prompt_text(lang, REDEEM_MARKER, "ABCD2345");
            assert_eq!(code_in_prompt(redeem.trim_start_matches(REDEEM_MARKER)), code);
        }
        assert_eq!(code_in_prompt(" purchase amount?"), None);
    }

    #[test]
    fn parses_entry_ids() {
        assert_eq!(parse_entry_id("42"), Some(EntryId(42)));
        assert_eq!(parse_entry_id(" #7 "), Some(EntryId(7)));
        assert_eq!(parse_entry_id("0"), None);
        assert_eq!(parse_entry_id("-3"), None);
        assert_eq!(parse_entry_id("abc"), None);
        assert_eq!(parse_entry_id(""), None);
    }

    #[test]
    fn callback_data_fits() {
        assert!(format!("cr:{}", "X".repeat(CustomerCode::LEN)).len() <= InlineKeyboardButton::MAX_CALLBACK_DATA);
        assert!(format!("rc:{}:en", i64::MAX).len() <= InlineKeyboardButton::MAX_CALLBACK_DATA);
    }
}
