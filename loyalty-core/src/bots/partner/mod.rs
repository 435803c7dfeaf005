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
//! Every ledger write carries an idempotency key derived from the update
//! (`tg:<bot id>:<update_id>`, `…:redeem`, `…:reverse`): a redelivered update
//! returns the first result and notifies nobody twice.

use super::common::{self, settle};
use crate::context::{Context, Outbox};
use crate::domain::{CustomerCode, EntryId, Language, Partner, PartnerStatus, Points, TelegramUserId, rules};
use crate::error::Result;
use crate::ports::{CreditPurchase, CustomerRef, OpenRedemption, PartnerRef, Rejection, ReverseEntry};
use crate::texts::{self, Esc, Fixed, Pts, Signed, Texts};
use crate::usecases;

use crate::domain::BotKind;
use crate::telegram::{
    BotCall, CallbackQuery, Command, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyMarkup,
    Update, UpdateKind, User,
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
    /// `/apikey`.
    ApiKey,
    /// Anything else: the person's status, or help.
    Help,
}

impl<'a> Action<'a> {
    /// The command's action; `None` for a command this bot does not know.
    pub(super) fn parse(cmd: &Command<'a>) -> Option<Action<'a>> {
        let args = cmd.args;
        Some(match cmd.name.as_str() {
            "start" => Action::Start(args.strip_prefix("c_")),
            "apply" => Action::Apply((!args.is_empty()).then_some(args)),
            "credit" => Action::Credit(args),
            "redeem" => Action::Redeem(args),
            "reverse" => Action::Reverse(args),
            "stats" => Action::Stats,
            "apikey" => Action::ApiKey,
            "help" => Action::Help,
            _ => return None,
        })
    }
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

/// Everything a handler needs about the person writing.
struct Ctx<'a> {
    cx: &'a Context,
    update_id: i64,
    user: &'a User,
    partner: Option<Partner>,
    lang: Language,
}

/// Loads the partner behind `user`; `Err` carries a message for the user.
async fn context<'a>(cx: &'a Context, update_id: i64, user: &'a User) -> Result<std::result::Result<Ctx<'a>, BotCall>> {
    let user_lang = Language::from_code(user.language_code.as_deref());
    let found = cx.storage().partner(PartnerRef::Telegram(TelegramUserId(user.id))).await;
    match settle(cx, user_lang, "bot.partner", found).await? {
        Ok(partner) => {
            let lang = partner.as_ref().map_or(user_lang, |p| p.language);
            Ok(Ok(Ctx { cx, update_id, user, partner, lang }))
        }
        Err(text) => Ok(Err(send(user.id, text, None))),
    }
}

fn send(chat: i64, text: impl Into<String>, markup: Option<ReplyMarkup>) -> BotCall {
    BotCall::send_message(BotKind::Partner, chat, text, markup)
}

fn force_reply(placeholder: &str) -> Option<ReplyMarkup> {
    Some(ReplyMarkup::ForceReply(ForceReply { force_reply: true, input_field_placeholder: Some(placeholder.into()) }))
}

async fn on_message(cx: &Context, update_id: i64, m: &Message) -> Result<Outbox> {
    let Some(user) = m.from.as_ref() else { return Ok(Outbox::default()) };
    if !m.chat.is_private() || user.is_bot {
        return Ok(Outbox::default());
    }
    let ctx = match context(cx, update_id, user).await? {
        Ok(ctx) => ctx,
        Err(call) => return Ok(Outbox::one(call)),
    };
    let Some(text) = m.text.as_deref() else { return Ok(ctx.status_or_help()) };
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
    if let Some(code) = CustomerCode::parse(text) {
        return ctx.show_customer(code).await;
    }
    Ok(ctx.status_or_help())
}

async fn on_callback(cx: &Context, update_id: i64, q: &CallbackQuery) -> Result<Outbox> {
    let answer = BotCall::answer_callback(BotKind::Partner, q.id.clone(), None);
    if q.message.as_ref().is_some_and(|m| !m.chat.is_private()) || q.from.is_bot {
        return Ok(Outbox::one(answer));
    }
    let ctx = match context(cx, update_id, &q.from).await? {
        Ok(ctx) => ctx,
        Err(call) => {
            let mut out = Outbox::one(answer);
            out.push(call);
            return Ok(out);
        }
    };
    let Some((kind, code)) = q.data.as_deref().and_then(parse_callback) else { return Ok(Outbox::one(answer)) };
    let mut out = Outbox::one(answer);
    if ctx.approved().is_none() {
        out.push(ctx.reply(ctx.status_text()));
        return Ok(out);
    }
    let Some(code) = CustomerCode::parse(code) else {
        out.push(ctx.reply(ctx.lang.texts().partner_bad_code(Esc(code))));
        return Ok(out);
    };
    out.push(ctx.prompt_for(kind, &code));
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

impl Ctx<'_> {
    /// The texts in the user's language.
    fn t(&self) -> &'static dyn Texts {
        self.lang.texts()
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

    /// The idempotency key of this update's ledger write: the bot's id and
    /// the update's, so deployments sharing a database never collide.
    fn key(&self, suffix: &str) -> String {
        format!("tg:{}:{}{suffix}", self.cx.config().bot_id(BotKind::Partner), self.update_id)
    }

    /// What the person should know about their standing, as text.
    fn status_text(&self) -> String {
        match &self.partner {
            None => self.lang.say(Fixed::NotAPartner).into(),
            Some(p) => match p.status {
                PartnerStatus::Applied => self.t().application_pending(Esc(&p.name)),
                PartnerStatus::Rejected => self.lang.say(Fixed::ApplicationRejected).into(),
                PartnerStatus::Suspended => self.lang.say(Fixed::Suspended).into(),
                PartnerStatus::Approved => self.lang.say(Fixed::PartnerHelp).into(),
            },
        }
    }

    /// Greeting of an approved partner, with the command list.
    fn welcome_back(&self, p: &Partner) -> String {
        let t = self.lang.texts();
        format!("{}\n\n{}", t.partner_greeting(Esc(&p.name)), t.fixed(Fixed::PartnerHelp))
    }

    fn status_or_help(&self) -> Outbox {
        Outbox::one(self.reply(self.status_text()))
    }

    /// The partner, when approved (else send [`Self::status_or_help`]).
    fn approved(&self) -> Option<&Partner> {
        self.partner.as_ref().filter(|p| p.status == PartnerStatus::Approved)
    }

    fn apply_prompt(&self) -> BotCall {
        let text = format!("{APPLY_MARKER} {}", self.lang.say(Fixed::ApplyPrompt));
        send(self.chat(), text, force_reply(self.lang.say(Fixed::ApplyPlaceholder)))
    }

    /// The `force_reply` question for a credit ([`CREDIT_MARKER`]) or a redemption.
    fn prompt_for(&self, marker: &str, code: &CustomerCode) -> BotCall {
        let (text, placeholder) = prompt_text(self.lang, marker, code.as_str());
        send(self.chat(), text, force_reply(placeholder))
    }

    async fn command(&self, action: Action<'_>) -> Result<Outbox> {
        match action {
            Action::Start(Some(code)) if self.partner.is_some() => self.scan(code).await,
            Action::Start(_) | Action::Apply(None) => Ok(self.start()),
            Action::Apply(Some(input)) => self.apply(input).await,
            Action::Credit(args) => self.credit_command(args).await,
            Action::Redeem(args) => self.redeem_command(args).await,
            Action::Reverse(args) => self.reverse(args).await,
            Action::Stats => self.stats().await,
            Action::ApiKey => self.api_key().await,
            Action::Help => Ok(self.status_or_help()),
        }
    }

    /// `/start`: the application prompt for newcomers, the status otherwise.
    fn start(&self) -> Outbox {
        match &self.partner {
            None => Outbox::one(self.apply_prompt()),
            Some(p) => match p.status {
                PartnerStatus::Rejected => {
                    let mut out = Outbox::one(self.reply(self.lang.say(Fixed::ApplicationRejected)));
                    out.push(self.apply_prompt());
                    out
                }
                PartnerStatus::Approved => Outbox::one(self.reply(self.welcome_back(p))),
                PartnerStatus::Applied | PartnerStatus::Suspended => self.status_or_help(),
            },
        }
    }

    /// An application (`/apply name; category` or an answer to the prompt).
    async fn apply(&self, input: &str) -> Result<Outbox> {
        if let Some(p) = &self.partner
            && p.status != PartnerStatus::Rejected
        {
            return Ok(match p.status {
                PartnerStatus::Approved => Outbox::one(self.reply(self.welcome_back(p))),
                _ => self.status_or_help(),
            });
        }
        let Some((name, category)) = parse_application(input) else {
            let text = format!("{APPLY_MARKER} {}", self.lang.say(Fixed::ApplicationFormatError));
            return Ok(Outbox::one(send(self.chat(), text, force_reply(self.lang.say(Fixed::ApplyPlaceholder)))));
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
        let done = match settle(cx, self.lang, "bot.partner", usecases::apply_partner(cx, req, username).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let p = &done.outcome.partner;
        if !done.outcome.created {
            return Ok(Outbox::one(self.reply(self.t().application_pending(Esc(&p.name)))));
        }
        Ok(self.reply_with(self.t().application_received(Esc(&p.name), Esc(&p.category)), done.notices))
    }

    /// `/start c_<code>`: a scanned card.
    async fn scan(&self, code: &str) -> Result<Outbox> {
        match CustomerCode::parse(code) {
            Some(code) => self.show_customer(code).await,
            None => Ok(Outbox::one(self.reply(self.t().partner_bad_code(Esc(code))))),
        }
    }

    /// A customer's card with Credit / Redeem buttons.
    async fn show_customer(&self, code: CustomerCode) -> Result<Outbox> {
        if self.approved().is_none() {
            return Ok(self.status_or_help());
        }
        let cx = self.cx;
        let found = cx.storage().customer_summary(CustomerRef::Code(code), 0).await;
        let customer = match settle(cx, self.lang, "bot.partner", found).await? {
            Ok(Some(s)) => s.customer,
            Ok(None) => {
                return Ok(Outbox::one(self.reply(self.t().rejection(&Rejection::UnknownCustomer))));
            }
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let code = customer.code.as_str();
        let mut text = self.t().customer_card(Esc(&customer.first_name), code, Pts(customer.balance));
        if customer.blocked {
            text = format!("{text}\n{}", self.lang.say(Fixed::CustomerCardBlocked));
        }
        let markup = (!customer.blocked).then(|| {
            ReplyMarkup::Inline(InlineKeyboardMarkup {
                inline_keyboard: vec![vec![
                    InlineKeyboardButton::callback(self.lang.say(Fixed::ButtonCredit), format!("cr:{code}")),
                    InlineKeyboardButton::callback(self.lang.say(Fixed::ButtonRedeem), format!("rq:{code}")),
                ]],
            })
        });
        Ok(Outbox::one(send(self.chat(), text, markup)))
    }

    /// `/credit <code> <purchase>`.
    async fn credit_command(&self, args: &str) -> Result<Outbox> {
        if self.approved().is_none() {
            return Ok(self.status_or_help());
        }
        let (code, amount) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        if code.is_empty() || amount.trim().is_empty() {
            return Ok(self.usage(self.lang.say(Fixed::UsageCredit)));
        }
        let Some(code) = CustomerCode::parse(code) else {
            return Ok(Outbox::one(self.reply(self.t().partner_bad_code(Esc(code)))));
        };
        let Some(purchase) = common::parse_amount(amount) else {
            return Ok(self.usage(format!(
                "{}\n{}",
                self.lang.say(Fixed::BadAmount),
                self.lang.say(Fixed::UsageCredit)
            )));
        };
        self.credit(code, purchase).await
    }

    /// An answer to a [`CREDIT_MARKER`] prompt.
    async fn credit_answer(&self, prompt: &str, text: &str) -> Result<Outbox> {
        if self.approved().is_none() {
            return Ok(self.status_or_help());
        }
        let Some(code) = code_in_prompt(prompt) else {
            return Ok(self.usage(self.lang.say(Fixed::UsageCredit)));
        };
        match common::parse_amount(text) {
            Some(purchase) => self.credit(code, purchase).await,
            None => {
                let mut out = Outbox::one(self.reply(self.lang.say(Fixed::BadAmount)));
                out.push(self.prompt_for(CREDIT_MARKER, &code));
                Ok(out)
            }
        }
    }

    fn usage(&self, text: impl Into<String>) -> Outbox {
        Outbox::one(self.reply(text))
    }

    async fn credit(&self, code: CustomerCode, purchase: Points) -> Result<Outbox> {
        if self.approved().is_none() {
            return Ok(self.status_or_help());
        }
        let cx = self.cx;
        let now = cx.now();
        let req = CreditPurchase {
            partner: PartnerRef::Telegram(TelegramUserId(self.user.id)),
            customer: CustomerRef::Code(code),
            purchase,
            idempotency_key: self.key(""),
            day_start: now.day_start(),
            now,
        };
        let done = match settle(cx, self.lang, "bot.partner", usecases::credit(cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (customer, entry) = (&done.outcome.customer, &done.outcome.entry);
        let code = customer.code.as_str();
        let text = if entry.amount == 0 {
            self.t().credited_nothing(code, Pts(purchase))
        } else {
            let (name, balance) = (Esc(&customer.first_name), Pts(customer.balance));
            self.t().credited(Signed(entry.amount), name, code, Pts(purchase), balance, entry.id)
        };
        Ok(self.reply_with(text, done.notices))
    }

    /// `/redeem <code> <points> <purchase>`.
    async fn redeem_command(&self, args: &str) -> Result<Outbox> {
        if self.approved().is_none() {
            return Ok(self.status_or_help());
        }
        let [code, points, purchase] = args.split_whitespace().collect::<Vec<_>>()[..] else {
            return Ok(self.usage(self.lang.say(Fixed::UsageRedeem)));
        };
        let Some(code) = CustomerCode::parse(code) else {
            return Ok(Outbox::one(self.reply(self.t().partner_bad_code(Esc(code)))));
        };
        match (common::parse_amount(points), common::parse_amount(purchase)) {
            (Some(points), Some(purchase)) => self.redeem(code, points, purchase).await,
            _ => Ok(self.usage(format!("{}\n{}", self.lang.say(Fixed::BadAmount), self.lang.say(Fixed::UsageRedeem)))),
        }
    }

    /// An answer to a [`REDEEM_MARKER`] prompt: two numbers.
    async fn redeem_answer(&self, prompt: &str, text: &str) -> Result<Outbox> {
        if self.approved().is_none() {
            return Ok(self.status_or_help());
        }
        let Some(code) = code_in_prompt(prompt) else {
            return Ok(self.usage(self.lang.say(Fixed::UsageRedeem)));
        };
        let numbers: Vec<Option<Points>> = text.split_whitespace().map(common::parse_amount).collect();
        match numbers[..] {
            [Some(points), Some(purchase)] => self.redeem(code, points, purchase).await,
            _ => {
                let mut out = Outbox::one(self.reply(self.lang.say(Fixed::BadAmount)));
                out.push(self.prompt_for(REDEEM_MARKER, &code));
                Ok(out)
            }
        }
    }

    async fn redeem(&self, code: CustomerCode, points: Points, purchase: Points) -> Result<Outbox> {
        if self.approved().is_none() {
            return Ok(self.status_or_help());
        }
        let cx = self.cx;
        let now = cx.now();
        let req = OpenRedemption {
            partner: PartnerRef::Telegram(TelegramUserId(self.user.id)),
            customer: CustomerRef::Code(code),
            points,
            purchase,
            idempotency_key: self.key(":redeem"),
            now,
            expires_at: now.plus(rules::REDEMPTION_TTL_SECS),
        };
        let done = match settle(cx, self.lang, "bot.partner", usecases::open_redemption(cx, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (r, customer) = (&done.outcome.request, &done.outcome.customer);
        let text = self.t().redemption_sent(
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
        let Some(partner) = self.approved() else { return Ok(self.status_or_help()) };
        let Some(entry) = parse_entry_id(args) else {
            return Ok(Outbox::one(self.reply(self.lang.say(Fixed::UsageReverse))));
        };
        let cx = self.cx;
        let now = cx.now();
        let req = ReverseEntry {
            entry,
            partner: PartnerRef::Telegram(TelegramUserId(self.user.id)),
            idempotency_key: self.key(":reverse"),
            not_before: now.plus(-rules::REVERSAL_WINDOW_SECS),
            now,
        };
        let done = match settle(cx, self.lang, "bot.partner", usecases::reverse(cx, partner, req).await).await? {
            Ok(done) => done,
            Err(text) => return Ok(Outbox::one(self.reply(text))),
        };
        let (r, c) = (&done.outcome, &done.outcome.customer);
        let text = self.t().reversed(r.original.id, Signed(r.reversal.amount), c.code.as_str(), Pts(c.balance));
        Ok(self.reply_with(text, done.notices))
    }

    /// `/stats`: today and the last 7 days.
    async fn stats(&self) -> Result<Outbox> {
        let Some(partner) = self.approved() else { return Ok(self.status_or_help()) };
        let cx = self.cx;
        let today = cx.now().day_start();
        let week = today.plus(-6 * crate::domain::Timestamp::DAY);
        let found = cx.storage().partner_stats(PartnerRef::Id(partner.id), today, week).await;
        Ok(Outbox::one(self.reply(match settle(cx, self.lang, "bot.partner", found).await? {
            Ok(s) => texts::partner_stats(self.lang.texts(), &s),
            Err(text) => text,
        })))
    }

    /// `/apikey`: a new POS key, shown once; only its hash is stored.
    async fn api_key(&self) -> Result<Outbox> {
        let Some(partner) = self.approved() else { return Ok(self.status_or_help()) };
        let cx = self.cx;
        let key = format!("lk_{}", cx.random_hex(32));
        let stored = cx.storage().set_partner_api_key(PartnerRef::Id(partner.id), rules::hash_api_key(&key)).await;
        Ok(Outbox::one(self.reply(match settle(cx, self.lang, "bot.partner", stored).await? {
            Ok(_) => self.t().api_key(&key),
            Err(text) => text,
        })))
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
    let s = args.trim();
    let s = s.strip_prefix('#').unwrap_or(s);
    s.parse::<i64>().ok().filter(|id| *id > 0).map(EntryId)
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
        assert!(format!("rc:{}", i64::MAX).len() <= InlineKeyboardButton::MAX_CALLBACK_DATA);
    }
}
