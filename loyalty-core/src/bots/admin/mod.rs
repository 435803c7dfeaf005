//! The admin bot: decides on partner applications, corrects balances, blocks
//! customers, broadcasts and shows the program's figures.
//!
//! It obeys only updates from the chat configured as `ADMIN_CHAT_ID` (a
//! private chat or a group of admins). Anyone else gets a one-line refusal in
//! a private chat and nothing at all elsewhere; no data ever leaves the admin
//! chat through this bot.
//!
//! The program's outgoing webhooks are managed here too (`/webhooks`,
//! `/webhook_add`, `/webhook_remove`); a new endpoint's signing secret is
//! shown once, in the reply to `/webhook_add`.
//!
//! The Mini App opens with `?mode=admin` ([`Config::app_url_for`](crate::Config::app_url_for)):
//! the program's figures and the outstanding liability. Telegram opens a Mini
//! App from a button only in a private chat, so the bot offers an inline
//! `web_app` button (on `/app`, `/start` and `/help`) only when `ADMIN_CHAT_ID`
//! is a user (positive), and `loyalty webhooks set` sets that chat's menu
//! button ([`menu_button`]); a group admin chat opens the app from the bot's
//! profile, its Main Mini App set in BotFather (docs/MINI_APP.md).
//!
//! Messages the bot sends on its own initiative (new applications, broadcast
//! progress) are written in English; replies to commands use the
//! language of the admin who wrote.

use super::common::{parse_id, settle};
use crate::context::{Context, Outbox, Task};
use crate::domain::{Audience, CustomerCode, Language, PartnerId, PartnerStatus, Points, TelegramUserId, Timestamp};
use crate::error::Result;
use crate::ports::{
    AdjustBalance, AuditPage, CampaignActor, CustomerRef, DecidePartner, Decided, EraseCustomer, NewBroadcast,
    PartnerDecision, Rejection, SetBlocked, SetProgramRules, WebhookOwner,
};
use crate::program::ProgramRules;
use crate::texts::{self, Esc, Fixed, Pts, Signed, Texts};
use crate::usecases::{self, Done};

use crate::domain::BotKind;
use crate::telegram::{
    BotCall, CallbackQuery, Command, InlineKeyboardButton, InlineKeyboardMarkup, MenuButton, Message, ReplyMarkup,
    Update, UpdateKind, User, escape_html,
};

/// At most this many application cards per `/pending`.
const MAX_PENDING_SHOWN: usize = 20;

/// At most this many audit records per `/audit`.
const AUDIT_SHOWN: u32 = 20;

/// Longest admin reason for an adjustment, in characters.
const MAX_REASON_CHARS: usize = 200;

/// Longest broadcast text, in characters after HTML escaping (Telegram's limit).
const MAX_BROADCAST_CHARS: usize = 4096;

/// Message text above this size is split into several messages.
const CHUNK_CHARS: usize = 3500;

/// Handles one update of the admin bot.
pub(crate) async fn handle(cx: &Context, update: &Update) -> Result<Outbox> {
    let admin_chat = cx.config().admin_chat_id;
    match update.kind() {
        UpdateKind::Message(m) => {
            let Some(user) = m.from.as_ref().filter(|u| !u.is_bot) else { return Ok(Outbox::default()) };
            let lang = Language::from_code(user.language_code.as_deref());
            if admin_chat != Some(m.chat.id) {
                return Ok(if m.chat.is_private() {
                    Outbox::one(send(m.chat.id, lang.say(Fixed::Refusal), None))
                } else {
                    Outbox::default()
                });
            }
            let ctx = Ctx { cx, update_id: update.update_id, user, chat: m.chat.id, lang };
            ctx.on_message(m).await
        }
        UpdateKind::CallbackQuery(q) => {
            let lang = Language::from_code(q.from.language_code.as_deref());
            let chat = q.message.as_ref().map(|m| m.chat.id);
            match (chat, admin_chat) {
                (Some(chat), Some(admin)) if chat == admin && !q.from.is_bot => {
                    let ctx = Ctx { cx, update_id: update.update_id, user: &q.from, chat, lang };
                    ctx.on_callback(q).await
                }
                _ => Ok(Outbox::one(answer(q, Some(lang.say(Fixed::Refusal).into())))),
            }
        }
        _ => Ok(Outbox::default()),
    }
}

fn send(chat: i64, text: impl Into<String>, markup: Option<ReplyMarkup>) -> BotCall {
    BotCall::send_message(BotKind::Admin, chat, text, markup)
}

/// The inline button that opens the Mini App as the admin
/// ([`Config::app_url_for`](crate::Config::app_url_for)), labelled in `lang`,
/// for a private chat (`chat` > 0) only: Telegram opens no Mini App from a
/// group's button. None without an app.
fn app_markup(cx: &Context, chat: i64, lang: Language) -> Option<ReplyMarkup> {
    let url = cx.config().app_url_for(BotKind::Admin).filter(|_| chat > 0)?;
    let button = InlineKeyboardButton::web_app(lang.texts().button(texts::Button::App), url);
    Some(ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard: vec![vec![button]] }))
}

/// The admin chat's menu button (`setChatMenuButton` for the `ADMIN_CHAT_ID`
/// chat, sent by `loyalty webhooks set`): the Mini App opened as the admin
/// ([`Config::app_url_for`](crate::Config::app_url_for)), labelled in `lang`,
/// or without an app the command list. `None` when the admin chat is a group
/// (or not configured), which has no menu button of its own.
///
/// ```
/// use loyalty_core::Config;
/// use loyalty_core::bots::admin::menu_button;
/// use loyalty_core::domain::Language;
/// use loyalty_core::telegram::MenuButton;
///
/// let config = Config {
///     frontend_url: Some("https://app.example.com".into()),
///     admin_chat_id: Some(900),
///     ..Config::default()
/// };
/// let button = menu_button(&config, Language::En);
/// assert_eq!(button, Some((900, MenuButton::web_app("📱 Open app", "https://app.example.com?mode=admin"))));
/// let group = Config { admin_chat_id: Some(-100_123), ..config.clone() };
/// assert_eq!(menu_button(&group, Language::En), None);
/// let no_app = Config { frontend_url: None, ..config };
/// assert_eq!(menu_button(&no_app, Language::En), Some((900, MenuButton::Commands)));
/// ```
pub fn menu_button(config: &crate::Config, lang: Language) -> Option<(i64, MenuButton)> {
    let chat = config.admin_chat_id.filter(|c| *c > 0)?;
    Some((
        chat,
        match config.app_url_for(BotKind::Admin) {
            Some(url) => MenuButton::web_app(lang.texts().button(texts::Button::App), url),
            None => MenuButton::Commands,
        },
    ))
}

fn answer(q: &CallbackQuery, text: Option<String>) -> BotCall {
    BotCall::answer_callback(BotKind::Admin, q.id.clone(), text)
}

/// Joins lines into messages of at most about [`CHUNK_CHARS`] characters.
fn chunks(lines: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if !current.is_empty() && current.chars().count() + line.chars().count() + 1 > CHUNK_CHARS {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

struct Ctx<'a> {
    cx: &'a Context,
    update_id: i64,
    user: &'a User,
    chat: i64,
    lang: Language,
}

impl Ctx<'_> {
    /// The texts in the user's language.
    fn t(&self) -> &'static dyn Texts {
        self.lang.texts()
    }

    fn reply(&self, text: impl Into<String>) -> Outbox {
        Outbox::one(send(self.chat, text, None))
    }

    fn admin(&self) -> TelegramUserId {
        TelegramUserId(self.user.id)
    }

    /// The idempotency key of this update's ledger write: the bot's id and
    /// the update's, so deployments sharing a database never collide.
    fn key(&self) -> String {
        format!("tg:{}:{}", self.cx.config().bot_id(BotKind::Admin), self.update_id)
    }

    /// The reply to a command that answered a text and notices for others (or
    /// a refusal, worded).
    async fn told(&self, done: crate::ports::StoreResult<(String, Vec<BotCall>)>) -> Result<Outbox> {
        Ok(match settle(self.cx, self.lang, "bot.admin", done).await? {
            Ok((text, notices)) => {
                let mut out = self.reply(text);
                out.calls.extend(notices);
                out
            }
            Err(text) => self.reply(text),
        })
    }

    async fn on_message(&self, m: &Message) -> Result<Outbox> {
        let Some(cmd) = m.text.as_deref().and_then(Command::parse) else {
            // In a group, admins talk among themselves; only a private admin chat gets help.
            return Ok(if m.chat.is_private() { self.help() } else { Outbox::default() });
        };
        if let Some(mention) = cmd.mention
            && let Some(me) = self.cx.bot_username(BotKind::Admin).await
            && !me.eq_ignore_ascii_case(mention)
        {
            return Ok(Outbox::default());
        }
        match Action::parse(&cmd).unwrap_or(Action::Help) {
            Action::Pending => self.pending().await,
            Action::Partners => self.partners().await,
            Action::Decide(name, decision, args) => self.decide_command(name, args, decision).await,
            Action::Adjust(args) => self.adjust(args).await,
            Action::Block(name, blocked, args) => self.block(name, args, blocked).await,
            Action::Broadcast(args) => self.broadcast(args).await,
            Action::Stats => self.stats().await,
            Action::Rules(args) => self.rules(args).await,
            Action::Audit(args) => self.audit(args).await,
            Action::Erase(args) => self.erase(args).await,
            Action::Campaign(cmd) => {
                let actor = CampaignActor::Admin(self.admin());
                self.told(super::campaigns::run(self.cx, self.lang, actor, cmd, self.key()).await).await
            }
            Action::Reward(cmd) => {
                let actor = CampaignActor::Admin(self.admin());
                self.told(super::rewards::run(self.cx, self.lang, actor, cmd, self.key()).await).await
            }
            Action::Webhook(cmd) => {
                let done = super::webhooks::run(self.cx, self.lang, WebhookOwner::Program, cmd, self.key()).await;
                self.told(done.map(|text| (text, Vec::new()))).await
            }
            Action::App => Ok(Outbox::one(match app_markup(self.cx, self.chat, self.lang) {
                Some(markup) => send(self.chat, self.lang.say(Fixed::AppOpen), Some(markup)),
                None if self.cx.config().app_url().is_some() => {
                    send(self.chat, self.lang.say(Fixed::AdminAppInGroup), None)
                }
                None => send(self.chat, self.lang.say(Fixed::AppUnavailable), None),
            })),
            Action::Help => Ok(self.help()),
        }
    }

    /// The help (`/help`, `/start`, an unknown command), with the Mini App's
    /// button in a private admin chat.
    fn help(&self) -> Outbox {
        Outbox::one(send(self.chat, self.lang.say(Fixed::AdminHelp), app_markup(self.cx, self.chat, self.lang)))
    }

    async fn on_callback(&self, q: &CallbackQuery) -> Result<Outbox> {
        let Some((decision, id)) = q.data.as_deref().and_then(parse_callback) else {
            return Ok(Outbox::one(answer(q, None)));
        };
        let Done { outcome: d, notices } = match self.decide(id, decision).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(answer(q, Some(text)))),
        };
        let mut out = Outbox::one(answer(q, Some(self.t().decision_toast(&d.partner, d.changed))));
        if d.changed
            && let Some(m) = &q.message
        {
            let text = texts::decided(self.lang.texts(), &d.partner, &self.user.first_name);
            out.push(BotCall::edit_message_text(BotKind::Admin, m.chat.id, m.message_id, text, None));
        }
        out.calls.extend(notices);
        Ok(out)
    }

    async fn decide(
        &self,
        id: PartnerId,
        decision: PartnerDecision,
    ) -> Result<std::result::Result<Done<Decided>, String>> {
        let cx = self.cx;
        let req = DecidePartner { partner: id, decision, admin: self.admin(), now: cx.now() };
        settle(cx, self.lang, "bot.admin", usecases::decide_partner(cx, req).await).await
    }

    /// `/approve`, `/reject`, `/suspend` with a partner id.
    async fn decide_command(&self, name: &str, args: &str, decision: PartnerDecision) -> Result<Outbox> {
        let Some(id) = parse_id(args) else { return Ok(self.reply(self.t().usage_partner_id(name))) };
        let Done { outcome: d, notices } = match self.decide(PartnerId(id), decision).await? {
            Ok(done) => done,
            Err(text) => return Ok(self.reply(text)),
        };
        let mut out = self.reply(self.t().decision_result(&d.partner, d.changed));
        out.calls.extend(notices);
        Ok(out)
    }

    /// `/pending`: one card per waiting application.
    async fn pending(&self) -> Result<Outbox> {
        let cx = self.cx;
        let listed = cx.storage().list_partners(Some(PartnerStatus::Applied)).await;
        let partners = match settle(cx, self.lang, "bot.admin", listed).await? {
            Ok(p) => p,
            Err(text) => return Ok(self.reply(text)),
        };
        if partners.is_empty() {
            return Ok(self.reply(self.lang.say(Fixed::NoPending)));
        }
        let mut out = Outbox::default();
        for p in partners.iter().take(MAX_PENDING_SHOWN) {
            let text = texts::application(self.lang.texts(), p, None);
            out.push(send(self.chat, text, Some(usecases::decision_buttons(self.lang, p.id))));
        }
        if partners.len() > MAX_PENDING_SHOWN {
            out.push(send(self.chat, self.t().more_pending(partners.len() - MAX_PENDING_SHOWN), None));
        }
        Ok(out)
    }

    /// `/partners`: everyone, with status and terms.
    async fn partners(&self) -> Result<Outbox> {
        let cx = self.cx;
        let listed = cx.storage().list_partners(None).await;
        let partners = match settle(cx, self.lang, "bot.admin", listed).await? {
            Ok(p) => p,
            Err(text) => return Ok(self.reply(text)),
        };
        if partners.is_empty() {
            return Ok(self.reply(self.lang.say(Fixed::NoPartners)));
        }
        let lines = std::iter::once(self.t().partners_count(partners.len()))
            .chain(partners.iter().map(|p| texts::partner_line(self.lang.texts(), p)));
        let mut out = Outbox::default();
        for chunk in chunks(lines) {
            out.push(send(self.chat, chunk, None));
        }
        Ok(out)
    }

    /// `/adjust <code> <±points> <reason…>`.
    async fn adjust(&self, args: &str) -> Result<Outbox> {
        let (code, amount, reason) = match parse_adjust(args) {
            Ok(parts) => parts,
            Err(AdjustError::Usage) => return Ok(self.reply(self.lang.say(Fixed::UsageAdjust))),
            Err(AdjustError::Reason) => {
                return Ok(self.reply(format!(
                    "{}\n{}",
                    self.lang.say(Fixed::ReasonRequired),
                    self.lang.say(Fixed::UsageAdjust)
                )));
            }
        };
        let Some(code) = CustomerCode::parse(code) else {
            return Ok(self.reply(self.t().not_a_code(Esc(code))));
        };
        let cx = self.cx;
        let req = AdjustBalance {
            customer: CustomerRef::Code(code),
            amount,
            reason: reason.to_string(),
            admin: self.admin(),
            idempotency_key: self.key(),
            now: cx.now(),
        };
        let done = match settle(cx, self.lang, "bot.admin", usecases::adjust(cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(self.reply(text)),
        };
        let (a, c) = (&done.outcome, &done.outcome.customer);
        let text =
            self.t().adjusted(Signed(a.entry.amount), Esc(&c.first_name), c.code.as_str(), Pts(c.balance), a.entry.id);
        let mut out = self.reply(text);
        out.calls.extend(done.notices);
        Ok(out)
    }

    /// `/block <code>` and `/unblock <code>`.
    async fn block(&self, name: &str, args: &str, blocked: bool) -> Result<Outbox> {
        let mut words = args.split_whitespace();
        let (Some(code), None) = (words.next(), words.next()) else {
            return Ok(self.reply(self.t().usage_block(name)));
        };
        let Some(code) = CustomerCode::parse(code) else {
            return Ok(self.reply(self.t().not_a_code(Esc(code))));
        };
        let cx = self.cx;
        let changed = cx
            .storage()
            .set_blocked(SetBlocked { who: CustomerRef::Code(code), blocked, admin: self.admin(), now: cx.now() })
            .await;
        Ok(self.reply(match settle(cx, self.lang, "bot.admin", changed).await? {
            Ok(c) => self.t().customer_blocked(Esc(&c.first_name), c.code.as_str(), c.blocked),
            Err(text) => text,
        }))
    }

    /// `/audit [ID]`: the audit log, newest first (before record `ID`, if given).
    async fn audit(&self, args: &str) -> Result<Outbox> {
        let before = match args.trim() {
            "" => None,
            id => match parse_id(id) {
                Some(id) => Some(id),
                None => return Ok(self.reply(self.t().audit_usage())),
            },
        };
        let cx = self.cx;
        let found = cx.storage().audit_log(AuditPage { before, limit: AUDIT_SHOWN }).await;
        let records = match settle(cx, self.lang, "bot.admin", found).await? {
            Ok(records) => records,
            Err(text) => return Ok(self.reply(text)),
        };
        if records.is_empty() {
            return Ok(self.reply(self.t().audit_none()));
        }
        let mut lines = vec![self.t().audit_title().to_string()];
        lines.extend(records.iter().map(|r| texts::audit_line(self.t(), r)));
        if let Some(last) = records.last().filter(|_| records.len() == AUDIT_SHOWN as usize) {
            lines.push(self.t().audit_more(last.id));
        }
        Ok(Outbox {
            calls: chunks(lines).into_iter().map(|text| send(self.chat, text, None)).collect(),
            ..Outbox::default()
        })
    }

    /// `/erase <code>` shows whom `/erase <code> confirm` erases (on the
    /// customer's request, made to the admins by other means).
    async fn erase(&self, args: &str) -> Result<Outbox> {
        let mut words = args.split_whitespace();
        let (code, confirmed) = match (words.next(), words.next(), words.next()) {
            (Some(code), None, None) => (code, false),
            (Some(code), Some(word), None) if word.eq_ignore_ascii_case("confirm") => (code, true),
            _ => return Ok(self.reply(self.t().erase_usage())),
        };
        let Some(code) = CustomerCode::parse(code) else {
            return Ok(self.reply(self.t().not_a_code(Esc(code))));
        };
        let (cx, who) = (self.cx, CustomerRef::Code(code.clone()));
        if confirmed {
            let req = EraseCustomer { who, admin: Some(self.admin()), now: cx.now() };
            return Ok(self.reply(
                match settle(cx, self.lang, "bot.admin", cx.storage().erase_customer(req).await).await? {
                    Ok(erased) => self.t().customer_erased(erased.customer.id, erased.replayed),
                    Err(text) => text,
                },
            ));
        }
        let found = cx.storage().customer_summary(who, 0).await;
        Ok(self.reply(match settle(cx, self.lang, "bot.admin", found).await? {
            Ok(Some(s)) if s.customer.is_erased() => self.t().customer_erased(s.customer.id, true),
            Ok(Some(s)) => self.t().erase_check(Esc(&s.customer.first_name), code.as_str(), s.customer.balance),
            Ok(None) => self.t().rejection(&Rejection::UnknownCustomer),
            Err(text) => text,
        }))
    }

    /// `/broadcast customers|partners <text>`: queues a job and defers its delivery.
    async fn broadcast(&self, args: &str) -> Result<Outbox> {
        let Some((audience, text)) = parse_broadcast(args) else {
            return Ok(self.reply(self.lang.say(Fixed::UsageBroadcast)));
        };
        if escape_html(text).chars().count() > MAX_BROADCAST_CHARS {
            return Ok(self.reply(self.t().broadcast_too_long(MAX_BROADCAST_CHARS)));
        }
        let cx = self.cx;
        let req = NewBroadcast {
            audience,
            text: text.to_string(),
            admin_chat: self.chat,
            idempotency_key: self.key(),
            now: cx.now(),
        };
        let job = match settle(cx, self.lang, "bot.admin", cx.storage().create_broadcast(req).await).await? {
            Ok(job) => job,
            Err(text) => return Ok(self.reply(text)),
        };
        let mut out = self.reply(self.t().broadcast_queued(job.id, job.total, self.t().audience(job.audience)));
        if !job.done {
            out.defer(Task::Broadcast(job.id));
        }
        Ok(out)
    }

    /// `/stats`.
    async fn stats(&self) -> Result<Outbox> {
        let cx = self.cx;
        let stats = cx.storage().program_stats(cx.now().day_start()).await;
        let s = match settle(cx, self.lang, "bot.admin", stats).await? {
            Ok(s) => s,
            Err(text) => return Ok(self.reply(text)),
        };
        let mut text = self.t().program_stats(&s);
        // Customers per tier, named by the rules in force (known from memory after `/rules`).
        if s.rules_version > 0
            && let Some(rules) = cx.rules(s.rules_version).await
            && let Some(tiers) = texts::tier_counts(self.lang, &s.customers_by_tier, &rules.rules)
        {
            text = format!("{text}\n{tiers}");
        }
        Ok(self.reply(text))
    }

    /// `/rules`: the rules in force; `/rules <JSON>`: a new version of them.
    async fn rules(&self, args: &str) -> Result<Outbox> {
        let cx = self.cx;
        let args = args.trim();
        let outcome = if args.is_empty() {
            cx.storage().program_rules().await
        } else {
            let rules = match ProgramRules::from_json(args) {
                Ok(rules) => rules,
                Err(reason) => return Ok(self.reply(self.t().rejection(&Rejection::InvalidRules { reason }))),
            };
            cx.storage().set_program_rules(SetProgramRules { rules, admin: Some(self.admin()), now: cx.now() }).await
        };
        let v = match settle(cx, self.lang, "bot.admin", outcome).await? {
            Ok(v) => v,
            Err(text) => return Ok(self.reply(text)),
        };
        cx.remember_rules(&v);
        let since = v.created_at.map(Timestamp::utc_minutes);
        let shown = self.t().rules_version(v.version, since.as_deref(), Esc(&fitting_document(&v.rules)));
        Ok(self.reply(if args.is_empty() { shown } else { format!("{}\n\n{shown}", self.t().rules_set(v.version)) }))
    }
}

/// Characters of a rules document `/rules` shows (Telegram allows 4096 in a message).
const MAX_DOCUMENT_CHARS: usize = 3_500;

/// The document as `/rules` shows it: pretty, or compact when that is too
/// long, or cut (`loyalty rules show` and `GET /api/v1/admin/rules` give it whole).
fn fitting_document(rules: &ProgramRules) -> String {
    let pretty = rules.to_pretty_json();
    if pretty.chars().count() <= MAX_DOCUMENT_CHARS {
        return pretty;
    }
    let compact = serde_json::to_string(rules).unwrap_or_default();
    if compact.chars().count() <= MAX_DOCUMENT_CHARS {
        return compact;
    }
    let cut: String = compact.chars().take(MAX_DOCUMENT_CHARS).collect();
    format!("{cut} …")
}

/// What a command asks for (each with its arguments as typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action<'a> {
    /// `/pending`.
    Pending,
    /// `/partners`.
    Partners,
    /// `/approve`, `/reject`, `/suspend <partner id>`: the command's name and its decision.
    Decide(&'static str, PartnerDecision, &'a str),
    /// `/adjust <code> <±points> <reason>`.
    Adjust(&'a str),
    /// `/block`, `/unblock <code>`: the command's name and whether it blocks.
    Block(&'static str, bool, &'a str),
    /// `/broadcast customers|partners <text>`.
    Broadcast(&'a str),
    /// `/stats`.
    Stats,
    /// `/rules [<JSON document>]`.
    Rules(&'a str),
    /// `/audit [<record id>]`.
    Audit(&'a str),
    /// `/erase <code> [confirm]`.
    Erase(&'a str),
    /// `/campaign`, `/campaigns`, `/campaign_end|approve|reject <id>`.
    Campaign(super::campaigns::CampaignCommand<'a>),
    /// `/rewards` (those waiting), `/reward_approve|reject|withdraw <id>`.
    Reward(super::rewards::RewardCommand<'a>),
    /// `/webhooks`, `/webhook_add <url> <events>`, `/webhook_remove <id>`:
    /// the program's endpoints.
    Webhook(super::webhooks::WebhookCommand<'a>),
    /// `/app`: the Mini App's button (in a private admin chat).
    App,
    /// Anything else.
    Help,
}

impl<'a> Action<'a> {
    /// The command's action; `None` for a command this bot does not know.
    pub(super) fn parse(cmd: &Command<'a>) -> Option<Action<'a>> {
        let args = cmd.args;
        Some(match cmd.name.as_str() {
            "pending" => Action::Pending,
            "partners" => Action::Partners,
            "approve" => Action::Decide("approve", PartnerDecision::Approve, args),
            "reject" => Action::Decide("reject", PartnerDecision::Reject, args),
            "suspend" => Action::Decide("suspend", PartnerDecision::Suspend, args),
            "adjust" => Action::Adjust(args),
            "block" => Action::Block("block", true, args),
            "unblock" => Action::Block("unblock", false, args),
            "broadcast" => Action::Broadcast(args),
            "stats" => Action::Stats,
            "rules" => Action::Rules(args),
            "audit" => Action::Audit(args),
            "erase" => Action::Erase(args),
            "help" => Action::Help,
            "app" => Action::App,
            "webhooks" => Action::Webhook(super::webhooks::WebhookCommand::List),
            "webhook_add" => Action::Webhook(super::webhooks::WebhookCommand::Add(args)),
            "webhook_remove" => Action::Webhook(super::webhooks::WebhookCommand::Remove(args)),
            name => match super::rewards::RewardCommand::parse(name, args) {
                // Rewards are published and vouchers accepted by partners.
                Some(super::rewards::RewardCommand::Publish(_) | super::rewards::RewardCommand::Voucher(_)) => {
                    return None;
                }
                Some(cmd) => Action::Reward(cmd),
                None => Action::Campaign(super::campaigns::CampaignCommand::parse(name, args)?),
            },
        })
    }
}

/// A decision button under an application: `pa:<id>` approves, `pr:<id>` rejects.
pub(super) fn parse_callback(data: &str) -> Option<(PartnerDecision, PartnerId)> {
    let (kind, id) = data.split_once(':')?;
    let decision = match kind {
        "pa" => PartnerDecision::Approve,
        "pr" => PartnerDecision::Reject,
        _ => return None,
    };
    Some((decision, PartnerId(parse_id(id)?)))
}

/// A signed whole number of points: `50`, `+50`, `-50`, `−50`.
fn parse_signed(s: &str) -> Option<Points> {
    let (negative, digits) = if let Some(d) = s.strip_prefix('-').or_else(|| s.strip_prefix('−')) {
        (true, d)
    } else {
        (false, s.strip_prefix('+').unwrap_or(s))
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: Points = digits.parse().ok()?;
    (n != 0).then_some(if negative { -n } else { n })
}

#[derive(Debug, PartialEq, Eq)]
enum AdjustError {
    /// Missing or malformed code or amount.
    Usage,
    /// The reason is missing or too long.
    Reason,
}

/// `CODE ±POINTS REASON…` → its parts (the code still unparsed).
fn parse_adjust(args: &str) -> std::result::Result<(&str, Points, &str), AdjustError> {
    let (code, rest) = args.split_once(char::is_whitespace).ok_or(AdjustError::Usage)?;
    let rest = rest.trim_start();
    let (amount, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let amount = parse_signed(amount).ok_or(AdjustError::Usage)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(AdjustError::Reason);
    }
    Ok((code, amount, reason))
}

/// `customers|partners TEXT` → audience and text (kept as written, trimmed).
fn parse_broadcast(args: &str) -> Option<(Audience, &str)> {
    let (audience, text) = args.split_once(char::is_whitespace)?;
    let audience = match audience.to_lowercase().as_str() {
        "customers" | "clients" => Audience::Customers,
        "partners" => Audience::Partners,
        _ => return None,
    };
    let text = text.trim();
    (!text.is_empty()).then_some((audience, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_adjust_arguments() {
        assert_eq!(parse_adjust("ABCD2345 -50 duplicate purchase"), Ok(("ABCD2345", -50, "duplicate purchase")));
        assert_eq!(parse_adjust("ABCD2345 +25  goodwill "), Ok(("ABCD2345", 25, "goodwill")));
        assert_eq!(parse_adjust("ABCD2345 −7 typo"), Ok(("ABCD2345", -7, "typo")));
        assert_eq!(parse_adjust("ABCD2345 25"), Err(AdjustError::Reason));
        assert_eq!(parse_adjust(&format!("ABCD2345 25 {}", "x".repeat(201))), Err(AdjustError::Reason));
        assert_eq!(parse_adjust("ABCD2345 0 zero"), Err(AdjustError::Usage));
        assert_eq!(parse_adjust("ABCD2345 1.5 half"), Err(AdjustError::Usage));
        assert_eq!(parse_adjust("ABCD2345"), Err(AdjustError::Usage));
        assert_eq!(parse_adjust(""), Err(AdjustError::Usage));
        assert_eq!(parse_adjust("ABCD2345 99999999999999999999 big"), Err(AdjustError::Usage));
    }

    #[test]
    fn parses_broadcast_arguments() {
        assert_eq!(parse_broadcast("customers Hello\nworld"), Some((Audience::Customers, "Hello\nworld")));
        assert_eq!(parse_broadcast("Partners  hi"), Some((Audience::Partners, "hi")));
        assert_eq!(parse_broadcast("everyone hi"), None);
        assert_eq!(parse_broadcast("customers"), None);
        assert_eq!(parse_broadcast("customers   "), None);
    }

    #[test]
    fn parses_ids() {
        assert_eq!(parse_id("12"), Some(12));
        assert_eq!(parse_id("#3"), Some(3));
        assert_eq!(parse_id("0"), None);
        assert_eq!(parse_id("x"), None);
    }

    #[test]
    fn splits_long_lists() {
        let lines = (0..200).map(|i| format!("line {i} {}", "x".repeat(40)));
        let parts = chunks(lines);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.chars().count() <= CHUNK_CHARS));
        assert_eq!(parts.join("\n").lines().count(), 200);
        assert!(chunks(Vec::new()).is_empty());
    }
}
