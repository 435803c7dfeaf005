//! Every user-visible text: bot replies, notifications, rejection texts and
//! the REST API's error messages. [`Texts`] has one method per message (texts
//! without arguments are the variants of [`Fixed`], API errors those of
//! [`ApiText`]) and no default bodies; each language implements all of it in
//! its own file (`ru.rs`,
//! `en.rs`, `vi.rs`), so a missing translation does not compile. Adding a
//! language: a [`Language`] variant, a file here and one arm in
//! [`Language::texts`].
//!
//! Texts use Telegram's HTML parse mode. Arguments arrive ready to show:
//! what people typed is wrapped in [`Esc`] (escaped when formatted) and
//! amounts in [`Pts`] or [`Signed`]; the layout shared by all languages (lists,
//! the markers of `force_reply` prompts) is assembled by the functions below.

// Signatures say `Esc`, not `Esc<'_>`: less noise for translators.
#![allow(elided_lifetimes_in_paths)]

mod app;
mod en;
mod ru;
mod vi;

pub use app::app_texts;

use crate::domain::{
    Audience, BroadcastId, BroadcastJob, CampaignId, CustomerId, EntryId, EntryKind, Language, LedgerEntry, Partner,
    PartnerId, PartnerStatus, Points, RedemptionId, RewardId, StaffStatus, TelegramUserId,
};
use crate::outgoing::WebhookEvent;
use crate::ports::{AuditAction, AuditRecord, PartnerStats, ProgramStats, Rejection, Webhook};
use crate::program::campaigns::{Campaign, CampaignKind, CampaignStatus, WEEKDAYS};
use crate::program::rewards::{Reward, RewardStatus, VoucherStatus};
use crate::telegram::escape_html;
use std::fmt;

impl Language {
    /// The texts in this language.
    pub(crate) fn texts(self) -> &'static dyn Texts {
        match self {
            Language::Ru => &ru::Ru,
            Language::En => &en::En,
            Language::Vi => &vi::Vi,
        }
    }

    /// A text without arguments in this language.
    pub(crate) fn say(self, m: Fixed) -> &'static str {
        self.texts().fixed(m)
    }
}

/// The buttons of the client bot's main menu (a persistent reply keyboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Button {
    Balance,
    History,
    Card,
    Partners,
    Rewards,
    Invite,
    Ask,
    Language,
    App,
}

impl Button {
    /// Every menu button, in menu order.
    pub(crate) const ALL: [Button; 9] = [
        Button::Balance,
        Button::History,
        Button::Card,
        Button::Partners,
        Button::Rewards,
        Button::Invite,
        Button::Ask,
        Button::Language,
        Button::App,
    ];
}

/// The texts without arguments, answered by [`Texts::fixed`] (or [`Language::say`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixed {
    // ------------------------------------------------------ common
    /// A permanent internal failure (reported to the team).
    InternalError,
    /// The language's own name, on the language buttons.
    LanguageName,
    /// The language's English name, for the assistant's prompt.
    EnglishName,
    // -------------------------------------------------- client bot
    /// A note for blocked customers.
    Blocked,
    /// Asks an unregistered user to sign up first.
    NeedStart,
    /// The first line of the help.
    HelpTitle,
    /// The command list at the end of the help.
    HelpCommands,
    /// Reply to text the bot does not understand (the help follows).
    Unknown,
    /// Heading of the recent entries under the balance.
    BalanceRecent,
    /// The history is empty.
    NoHistory,
    /// Heading of the history.
    HistoryTitle,
    /// No approved partner yet.
    NoPartnersYet,
    /// Before the offer of the partner whose link the customer followed.
    CameFromPartner,
    /// Heading of the partner list.
    PartnersTitle,
    /// The prompt for a question (after the ❓ marker).
    AskPrompt,
    /// Placeholder while replying to the prompt (≤ 64 characters).
    AskPlaceholder,
    /// The assistant is not configured.
    AssistantUnavailable,
    /// Acknowledges a question; the answer follows.
    Thinking,
    /// The assistant failed to answer.
    AssistantFailed,
    /// The program's name for the assistant when the bot's name is unknown.
    ProgramFallback,
    /// Asks to pick a language.
    LanguageChoose,
    /// Confirms the new language, in that language.
    LanguageSet,
    /// Text with the "Open app" button.
    AppOpen,
    /// No front end is configured.
    AppUnavailable,
    /// The admin bot's `/app` in a group admin chat, where Telegram opens no
    /// Mini App from a button: the bot's profile opens it.
    AdminAppInGroup,
    /// A rotating card code from the app has expired (to the partner).
    CardCodeExpired,
    /// Toast after confirming a payment with points.
    RedemptionConfirmedToast,
    /// Toast after declining.
    RedemptionDeclinedToast,
    /// A second tap on "Confirm".
    AlreadyConfirmed,
    /// A second tap on "Decline".
    AlreadyDeclined,
    /// A button whose data the bot does not recognise (an old or forged message).
    StaleButton,
    // ------------------------------------------------- partner bot
    /// The introduction and the application prompt (after the 📝 marker).
    ApplyPrompt,
    /// Placeholder for the application answer.
    ApplyPlaceholder,
    /// The application could not be read; asks again (after the 📝 marker).
    ApplicationFormatError,
    /// The application was rejected; a new one is possible.
    ApplicationRejected,
    /// The application waits for the admin (a refusal's words, without the name).
    ApplicationWaiting,
    /// The partner is suspended.
    Suspended,
    /// Someone who has not applied tries to operate.
    NotAPartner,
    /// Partner bot: only a partner's owner may do this (to a cashier, or to
    /// someone who is not a partner).
    OwnerOnly,
    /// The partner bot's command list.
    PartnerHelp,
    /// Added to [`Texts::customer_card`] for a blocked customer.
    CustomerCardBlocked,
    /// Label of the "credit a purchase" button.
    ButtonCredit,
    /// Label of the "pay with points" button.
    ButtonRedeem,
    /// Asks for the purchase amount (after "💳 CODE — ").
    CreditPrompt,
    /// Placeholder for the purchase amount.
    AmountPlaceholder,
    /// Asks for points and purchase (after "🎁 CODE — ").
    RedeemPrompt,
    /// Placeholder for points and purchase.
    RedeemPlaceholder,
    /// Not a usable amount.
    BadAmount,
    /// How to use /credit.
    UsageCredit,
    /// How to use /redeem.
    UsageRedeem,
    /// How to use /reverse.
    UsageReverse,
    /// To the customer: the confirm button.
    ButtonConfirm,
    /// To the customer: the decline button.
    ButtonDecline,
    // --------------------------------------------------- admin bot
    /// Refusal for anyone writing to the admin bot outside the admin chat.
    Refusal,
    /// The admin bot's command list.
    AdminHelp,
    /// Label of the approve button.
    ButtonApprove,
    /// Label of the reject button.
    ButtonReject,
    /// `/pending` with nothing waiting.
    NoPending,
    /// `/partners` with nobody yet.
    NoPartners,
    /// How to use `/adjust`.
    UsageAdjust,
    /// `/adjust` without a reason.
    ReasonRequired,
    /// How to use `/broadcast`.
    UsageBroadcast,
}

/// The REST API's error messages (the stable `code` is chosen separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiText {
    /// A setting the route needs is missing (its environment variable).
    NotConfigured(&'static str),
    /// The client bot has no token.
    ClientBotNotConfigured,
    /// The Sentry alert bot has no token.
    AlertBotNotConfigured,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is larger than 1 MiB.
    PayloadTooLarge,
    /// The path exists with other methods.
    MethodNotAllowed(Vec<&'static str>),
    /// No route has this path.
    NotFound,
    /// No `Authorization: tma …` header.
    MissingAuth,
    /// The Mini App's `initData` failed validation (the reason, in English).
    InvalidInitData(String),
    /// The `initData` names no user.
    InitDataWithoutUser,
    /// The `initData` is signed for another of the program's bots than the
    /// one whose users the route serves.
    WrongBot {
        /// The bot that signed it.
        signer: crate::domain::BotKind,
        /// The bot the route takes.
        wanted: crate::domain::BotKind,
    },
    /// The route takes the partner's API key, not the Mini App's `initData`.
    ApiKeyRequired,
    /// The admin bot's Mini App was opened by someone who is not an admin.
    NotAdmin,
    /// The Telegram user has no customer account.
    NotRegistered,
    /// The query string cannot be parsed.
    MalformedQuery,
    /// `limit` is out of range.
    InvalidLimit,
    /// `before` is not an entry id.
    InvalidBefore,
    /// A query parameter is out of its range (its name and the range, in English).
    InvalidParameter(&'static str, &'static str),
    /// A language other than `ru`, `en` or `vi` was asked for.
    InvalidLanguage,
    /// The partner bot's username could not be fetched.
    PartnerBotUnknown,
    /// The card's QR code could not be drawn.
    CardFailed,
    /// No valid POS API key.
    InvalidApiKey,
    /// Too many requests with this POS key this minute (the limit).
    RateLimited(u32),
    /// No valid `ADMIN_API_TOKEN`.
    InvalidAdminToken,
    /// No valid `Idempotency-Key`.
    InvalidIdempotencyKey,
    /// The JSON body does not parse (the parser's reason, in English).
    InvalidBody(String),
    /// `customer_code` is not a card code.
    InvalidCustomerCode,
    /// `customer_code` is a rotating code that has expired.
    CardCodeExpired,
    /// The Sentry signature is missing or wrong.
    InvalidSignature,
    /// The Sentry hook's body is not JSON.
    BodyNotJson,
    /// A temporary storage failure.
    Unavailable,
    /// A permanent internal failure.
    Internal,
    /// CORS refuses the origin.
    CorsForbidden,
    /// A rule rejection, worded as in the bots.
    Rejected(Rejection),
}

/// Points as shown: thin-space thousands separators (`1 234 567`), `−` when negative.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pts(pub(crate) Points);

/// A signed amount: `+50`, `−20`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signed(pub(crate) Points);

/// Text a person typed (a name, a reason), HTML-escaped when formatted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Esc<'a>(pub(crate) &'a str);

/// `#id name`, or `#id` without a name (an invitation not used yet).
pub(crate) fn numbered(id: i64, name: Esc) -> String {
    if name.0.is_empty() { format!("#{id}") } else { format!("#{id} {name}") }
}

impl fmt::Display for Pts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        if self.0 < 0 {
            f.write_str("−")?;
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_str("\u{202F}")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 0 { write!(f, "+{}", Pts(self.0)) } else { Pts(self.0).fmt(f) }
    }
}

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_html(self.0))
    }
}

/// Every message in one language. Sections: common, client bot, partner bot,
/// admin bot, API errors.
pub(crate) trait Texts: Sync {
    // ------------------------------------------------------------ common
    /// A text without arguments.
    fn fixed(&self, m: Fixed) -> &'static str;
    /// `n` followed by the word "points", with plural forms (client bot).
    fn points(&self, n: Points) -> String;
    /// The decimal separator of percentages in the client bot.
    fn decimal_sep(&self) -> char;
    /// A ledger entry kind, in history lines.
    fn entry_kind(&self, kind: EntryKind) -> &'static str;
    /// A rule rejection explained to the user (bots and API).
    fn rejection(&self, r: &Rejection) -> String;

    // -------------------------------------------------------- client bot
    /// A main-menu button's label.
    fn button(&self, b: Button) -> &'static str;
    /// Greeting for a new customer; `bonus_line` is [`Texts::welcome_bonus`] or empty.
    fn welcome(&self, name: Esc, bonus_line: &str, balance: Points) -> String;
    /// The welcome bonus line of [`Texts::welcome`].
    fn welcome_bonus(&self, bonus: Points) -> String;
    /// Greeting for a customer who sends `/start` again.
    fn welcome_back(&self, name: Esc, balance: Points) -> String;
    /// Tells a referrer that a friend joined through their link.
    fn referral_credited(&self, friend: Esc, bonus: Points, balance: Points) -> String;
    /// What the first seven menu buttons do, in menu order (the help).
    fn help_lines(&self) -> [&'static str; 8];
    /// The balance (recent entries may follow).
    fn balance(&self, balance: Points) -> String;
    /// Caption of the QR card.
    fn card_caption(&self, code: Esc) -> String;
    /// The card as text, when no QR image can be made.
    fn card_code_only(&self, code: Esc) -> String;
    /// One partner of the list, with its rates in percent.
    fn partner_offer(&self, name: Esc, category: Esc, earn: &str, share: &str) -> String;
    /// The partner list was cut after the first ones.
    fn partners_more(&self, more: usize) -> String;
    /// The personal referral link; `reward` is [`Texts::invite_reward`] or empty.
    fn invite(&self, link: Esc, reward: &str) -> String;
    /// The reward sentence of [`Texts::invite`].
    fn invite_reward(&self, bonus: Points) -> String;
    /// The referral instructions when the bot's username is unknown.
    fn invite_code_only(&self, code: Esc, reward: &str) -> String;
    /// The reward sentence of [`Texts::invite_code_only`].
    fn invite_code_reward(&self, bonus: Points) -> String;
    /// The question is longer than `max` characters.
    fn question_too_long(&self, max: usize) -> String;
    /// The daily question limit is reached.
    fn quota_exhausted(&self, limit: u32) -> String;
    /// The request message after confirming.
    fn redemption_confirmed(&self, partner: Esc, paid: Points, balance: Points) -> String;
    /// The request message after declining.
    fn redemption_declined(&self, partner: Esc, requested: Points) -> String;
    /// To the partner: the customer confirmed a redemption in the bot.
    fn partner_confirmed(&self, code: Esc, paid: Points, request: i64, balance: Points) -> String;
    /// To the partner: the customer declined a redemption in the bot.
    fn partner_declined(&self, code: Esc, requested: Points, request: i64) -> String;

    // ------------------------------------------------------- partner bot
    /// The application was recorded.
    fn application_received(&self, name: Esc, category: Esc) -> String;
    /// An application is waiting for an admin.
    fn application_pending(&self, name: Esc) -> String;
    /// Greeting of an approved partner (the command list follows).
    fn partner_greeting(&self, name: Esc) -> String;
    /// A customer's card as a partner sees it after scanning.
    fn customer_card(&self, name: Esc, code: &str, balance: Pts) -> String;
    /// The partner bot got something that is not a customer code.
    fn partner_bad_code(&self, input: Esc) -> String;
    /// A purchase was credited (to the partner).
    /// (`undo`: the partner's owner is told how to reverse it; a cashier is not.)
    #[allow(clippy::too_many_arguments)]
    fn credited(
        &self,
        points: Signed,
        name: Esc,
        code: &str,
        purchase: Pts,
        balance: Pts,
        entry: EntryId,
        undo: bool,
    ) -> String;
    /// A purchase too small to earn a point was recorded (to the partner).
    fn credited_nothing(&self, code: &str, purchase: Pts) -> String;
    /// To the customer: points earned at a partner.
    fn customer_credited(&self, points: Signed, partner: Esc, balance: Pts) -> String;
    /// A redemption request went to the customer (to the partner).
    fn redemption_sent(&self, id: RedemptionId, name: Esc, code: &str, points: Pts, purchase: Pts) -> String;
    /// To the customer: a partner asks to pay with points.
    fn customer_redemption_request(&self, partner: Esc, points: Pts, purchase: Pts, balance: Pts) -> String;
    /// An operation was reversed (to the partner).
    fn reversed(&self, original: EntryId, amount: Signed, code: &str, balance: Pts) -> String;
    /// To the customer: a partner reversed an operation.
    fn customer_reversed(&self, partner: Esc, amount: Signed, balance: Pts) -> String;
    /// `/stats` of a partner: title and the labels of the four rows.
    fn partner_stats_labels(&self) -> [&'static str; 5];
    /// A new POS API key, shown once.
    fn api_key(&self, key: &str) -> String;
    /// `/apikey revoke`: no key works now.
    fn api_key_revoked(&self) -> &'static str;
    /// A redemption request expired unanswered (to the partner).
    fn redemption_expired(&self, id: RedemptionId, points: Pts, purchase: Pts) -> String;
    /// `/balance`: points that expire within 30 days, the soonest on `date`.
    fn points_expiring_soon(&self, points: Points, date: &str) -> String;
    /// To a customer once, before the date: `points` expire on `date`.
    fn expiry_reminder(&self, points: Points, date: &str) -> String;
    /// To a customer: `points` expired unused; the balance now.
    fn points_expired(&self, points: Points, balance: Points) -> String;
    /// To a customer: their tier went up (`up`) or down, to `name` (`None`: no tier).
    fn tier_changed(&self, up: bool, name: Option<Esc>) -> String;
    /// How a credit was earned: `base` points × `times` for tier `tier`.
    fn earned_base(&self, base: Pts) -> String;
    /// A campaign's status, as a word ("running", "ended").
    fn campaign_status(&self, status: CampaignStatus) -> &'static str;
    /// `/balance`: the customer's tier and its multiplier.
    fn tier_status(&self, name: Esc, times: &str) -> String;
    /// What a campaign pays ("×2 points", "+50 on a first purchase").
    fn campaign_offer(&self, kind: CampaignKind, times: &str, points: Pts, n: u32, window_days: u32) -> String;
    /// One campaign in a list: id, title, status, offer, period, paid of budget.
    #[allow(clippy::too_many_arguments)]
    fn campaign_line(
        &self,
        id: CampaignId,
        title: Esc,
        status: &str,
        offer: &str,
        when: &str,
        issued: Pts,
        budget: Pts,
    ) -> String;
    /// `/campaign` made one: running, or waiting for the admins.
    fn campaign_created(&self, pending: bool) -> &'static str;
    /// `/campaigns` with none.
    fn campaigns_none(&self) -> &'static str;
    /// `/campaign` without a document: how to write one.
    fn campaign_usage(&self, example: &str) -> String;
    /// To the admins: a partner proposes campaign `id`.
    fn campaign_proposed(&self, partner: PartnerId, line: &str, id: CampaignId) -> String;
    /// `/birthday DD.MM` saved it.
    fn birthday_set(&self, day: u8, month: u8) -> String;
    /// `/birthday` without a date.
    fn birthday_usage(&self) -> &'static str;
    /// `/balance`: qualifying points still `needed` for tier `next`.
    fn tier_progress(&self, needed: Pts, next: Esc) -> String;
    /// `/balance`: purchases still `needed` for tier `next` (tiers by purchase amount).
    fn tier_progress_spend(&self, needed: Pts, next: Esc) -> String;
    /// The admin's `/stats`: customers per tier, already listed.
    fn tiers_line(&self, counts: &str) -> String;

    // ------------------------------------------------- rewards catalogue
    /// A reward's status, as a word.
    fn reward_status(&self, status: RewardStatus) -> &'static str;
    /// A reward's first line and partner line: title, price, partner, id.
    fn reward_head(&self, id: RewardId, title: Esc, partner: Esc, price: Pts) -> String;
    /// How many of a reward are left ("3 left").
    fn reward_left(&self, left: u32) -> String;
    /// `/rewards` in the client bot: the heading of a page (`category`, when browsing one).
    fn rewards_title(&self, category: Option<Esc>) -> String;
    /// `/rewards` with nothing to claim.
    fn rewards_none(&self) -> &'static str;
    /// Buttons of the rewards' pages: the next page, the first one, one partner's.
    fn rewards_more(&self) -> &'static str;
    /// See [`Texts::rewards_more`].
    fn rewards_first(&self) -> &'static str;
    /// See [`Texts::rewards_more`].
    fn rewards_at(&self, partner: &str) -> String;
    /// A reward opened from a list, with its description (may be empty).
    fn reward_card(&self, line: &str, description: Esc) -> String;
    /// The button that claims a reward.
    fn reward_claim_button(&self, price: Pts) -> String;
    /// A claim issued a voucher: its code, where to show it, the balance now.
    fn voucher_issued(&self, title: Esc, partner: Esc, code: &str, balance: Points) -> String;
    /// A claim pressed again: the voucher it issued.
    fn voucher_again(&self, title: Esc, code: &str) -> String;
    /// The button that cancels a voucher.
    fn voucher_cancel_button(&self) -> &'static str;
    /// A voucher cancelled: points back, the balance now.
    fn voucher_cancelled(&self, title: Esc, points: Points, balance: Points) -> String;
    /// `/vouchers`: the heading and one line per voucher (code, title, partner).
    fn vouchers_title(&self) -> &'static str;
    /// `/vouchers` without any.
    fn vouchers_none(&self) -> &'static str;
    /// To a customer: their voucher was used at the partner.
    fn voucher_used_notice(&self, title: Esc, partner: Esc) -> String;
    /// `/mydata`: the caption of the JSON file of everything held about the customer.
    fn mydata_caption(&self) -> &'static str;
    /// `/erase`: what erasure does, with the points it gives up, above the button.
    fn erase_confirm(&self, balance: Points) -> String;
    /// The button that erases the customer's data.
    fn erase_button(&self) -> &'static str;
    /// After the erasure (or on the button pressed again).
    fn erased(&self) -> &'static str;
    /// `/erase`'s button pressed too long after the warning.
    fn erase_expired(&self) -> &'static str;
    /// Partner bot: the stamp of this update or button was given before.
    fn stamp_given_before(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String;
    /// Admin bot: `/erase` without a code.
    fn erase_usage(&self) -> &'static str;
    /// Admin bot: what `/erase CODE confirm` will do to this customer.
    fn erase_check(&self, name: Esc, code: &str, balance: Points) -> String;
    /// Admin bot: the customer is erased (now the tombstone `id`); `replayed`: they were before.
    fn customer_erased(&self, id: CustomerId, replayed: bool) -> String;
    /// Admin bot: `/audit`'s heading, and its answer when nothing is recorded.
    fn audit_title(&self) -> &'static str;
    /// Admin bot: `/audit` with nothing (more) recorded.
    fn audit_none(&self) -> &'static str;
    /// Admin bot: `/audit` with something else than a record id.
    fn audit_usage(&self) -> &'static str;
    /// Partner bot: `/stamps` without terms, or bad ones (and how to stamp).
    fn stamps_usage(&self) -> &'static str;
    /// Partner bot: the stamp card runs with these terms.
    fn stamp_card_set(&self, needed: u32, reward: Esc) -> String;
    /// Partner bot: the stamp card ended (customers keep their stamps).
    fn stamp_card_ended(&self) -> &'static str;
    /// Partner bot: `/stamp` without a code.
    fn stamp_usage(&self) -> &'static str;
    /// The button under a scanned card that gives a stamp.
    fn stamp_button(&self) -> &'static str;
    /// Partner bot: a stamp given, `stamps` of `needed` now (`dots` drawn).
    fn stamped(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String;
    /// Partner bot: the stamp filled the customer's card: give the reward.
    fn stamp_filled(&self, name: Esc, reward: Esc) -> String;
    /// To a customer: a stamp at `partner`.
    fn customer_stamped(&self, partner: Esc, dots: &str, stamps: u32, needed: u32, reward: Esc) -> String;
    /// To a customer: their card at `partner` is full.
    fn customer_stamp_filled(&self, partner: Esc, reward: Esc) -> String;
    /// Client bot: `/stamps`' heading.
    fn stamp_cards_title(&self) -> &'static str;
    /// Client bot: `/stamps` when no partner runs a card.
    fn stamp_cards_none(&self) -> &'static str;
    /// Client bot: one card's line (`completed` cards filled so far).
    fn stamp_card_line(
        &self,
        partner: Esc,
        dots: &str,
        stamps: u32,
        needed: u32,
        reward: Esc,
        completed: u32,
    ) -> String;
    /// Partner bot: a cashier's greeting, with what they can do.
    fn cashier_greeting(&self, partner: Esc) -> String;
    /// Partner bot: `/staff`'s heading.
    fn staff_title(&self) -> &'static str;
    /// Partner bot: `/staff` with no staff yet.
    fn staff_none(&self) -> &'static str;
    /// Partner bot: how to invite and revoke (under `/staff`).
    fn staff_usage(&self) -> &'static str;
    /// Partner bot: one staff member's line (`name` empty for an invitation).
    fn staff_line(&self, id: i64, name: Esc, status: StaffStatus) -> String;
    /// The button that revokes a staff member or an invitation (plain text:
    /// `name` as is).
    fn staff_revoke_button(&self, id: i64, name: &str) -> String;
    /// Partner bot: a new invitation: the link (or the command) to pass on, valid `hours`.
    fn staff_invited(&self, id: i64, link: &str, hours: i64) -> String;
    /// Partner bot: the invitation link was opened; they are a cashier now.
    fn staff_joined(&self, partner: Esc) -> String;
    /// To a partner's owner: `name` joined as cashier `id`.
    fn staff_joined_owner(&self, id: i64, name: Esc) -> String;
    /// Partner bot: a staff member (or invitation) revoked.
    fn staff_revoked(&self, id: i64, name: Esc) -> String;
    /// To a revoked cashier.
    fn staff_revoked_cashier(&self, partner: Esc) -> String;
    /// Admin and partner bots: `/webhooks`' heading.
    fn webhooks_title(&self) -> &'static str;
    /// Admin and partner bots: `/webhooks` with no endpoint yet.
    fn webhooks_none(&self) -> &'static str;
    /// Admin and partner bots: how to add and remove webhook endpoints
    /// (under `/webhooks`, and for input the commands cannot use); `events`
    /// names every event.
    fn webhooks_usage(&self, events: &str) -> String;
    /// One endpoint of `/webhooks`: id, URL, events, its last attempt
    /// ([`webhook_attempt`]; `None`: never tried) and its last success
    /// (UTC; `None`: never).
    fn webhook_line(&self, id: i64, url: Esc, events: &str, attempt: Option<&str>, success: Option<&str>) -> String;
    /// What a delivery attempt that got no HTTP answer got ([`webhook_attempt`]).
    fn webhook_no_answer(&self) -> &'static str;
    /// An endpoint registered: its id, URL, events and signing secret, which
    /// this reply shows once.
    fn webhook_added(&self, id: i64, url: Esc, events: &str, secret: &str) -> String;
    /// An endpoint removed.
    fn webhook_removed(&self, id: i64, url: Esc) -> String;
    /// Admin bot: who acted (`None`: the customer themselves).
    fn audit_by(&self, admin: Option<TelegramUserId>) -> String;
    /// Admin bot: what an audited action did.
    fn audit_action(&self, action: &AuditAction) -> String;
    /// Admin bot: the command that shows the records before id `before`.
    fn audit_more(&self, before: i64) -> String;
    /// Partner bot: `/reward` without an offer, or a bad one.
    fn reward_usage(&self) -> &'static str;
    /// Partner bot: `/reward` published one; waiting for the admins or shown.
    fn reward_published(&self, pending: bool) -> &'static str;
    /// `/rewards` of a partner, or the admin's pending ones, when there are none.
    fn rewards_none_listed(&self) -> &'static str;
    /// Partner bot: `/voucher` without a code.
    fn voucher_usage(&self) -> &'static str;
    /// Partner bot: a voucher used now: what to hand over, to whom.
    fn voucher_accepted(&self, title: Esc, customer: Esc) -> String;
    /// Partner bot: the voucher was used before, at `when` (UTC).
    fn voucher_used_before(&self, title: Esc, when: &str) -> String;
    /// To the admins: a partner proposes reward `id`.
    fn reward_proposed(&self, line: &str, id: RewardId) -> String;
    /// To a partner: the admins decided on its reward.
    fn reward_decided(&self, title: Esc, approved: bool) -> String;

    // --------------------------------------------------------- admin bot
    /// A partner's status in words.
    fn status(&self, status: PartnerStatus) -> &'static str;
    /// A partner application as the admin chat sees it.
    fn application(&self, id: PartnerId, name: Esc, category: Esc, who: &str, language: &str) -> String;
    /// `/pending` listed only the first ones.
    fn more_pending(&self, more: usize) -> String;
    /// Under an application after a decision (buttons removed).
    fn verdict(&self, status: PartnerStatus, by: Esc) -> String;
    /// The result of a decision, short (a reply).
    fn decision_result(&self, p: &Partner, changed: bool) -> String;
    /// The result of a decision as a callback toast (plain text, no HTML).
    fn decision_toast(&self, p: &Partner, changed: bool) -> String;
    /// The terms in a line of `/partners`.
    fn partner_terms(&self, earn: &str, share: &str, limit: Pts) -> String;
    /// Heading of `/partners`.
    fn partners_count(&self, count: usize) -> String;
    /// How to use `/approve`, `/reject`, `/suspend`.
    fn usage_partner_id(&self, command: &str) -> String;
    /// `/rules`: the version in force (`since`: when it was set, `None` for the defaults) and its document.
    fn rules_version(&self, version: u32, since: Option<&str>, json: Esc) -> String;
    /// `/rules <JSON>`: the new version is in force.
    fn rules_set(&self, version: u32) -> String;
    /// To the partner: approved, with a short how-to.
    fn partner_approved(&self, name: Esc) -> String;
    /// To the partner: the application was rejected.
    fn partner_rejected(&self, name: Esc) -> String;
    /// To the partner: suspended.
    fn partner_suspended(&self, name: Esc) -> String;
    /// The admin bot got something that is not a customer code.
    fn not_a_code(&self, input: Esc) -> String;
    /// A balance was adjusted (to the admin).
    fn adjusted(&self, amount: Signed, name: Esc, code: &str, balance: Pts, entry: EntryId) -> String;
    /// To the customer: an admin adjusted the balance.
    fn customer_adjusted(&self, amount: Signed, reason: Esc, balance: Pts) -> String;
    /// How to use `/block` and `/unblock`.
    fn usage_block(&self, command: &str) -> String;
    /// A customer was blocked or unblocked.
    fn customer_blocked(&self, name: Esc, code: &str, blocked: bool) -> String;
    /// The broadcast text is too long for one message.
    fn broadcast_too_long(&self, max: usize) -> String;
    /// Who a broadcast goes to.
    fn audience(&self, audience: Audience) -> &'static str;
    /// A broadcast was queued.
    fn broadcast_queued(&self, id: BroadcastId, total: u32, to: &str) -> String;
    /// Progress of a broadcast.
    fn broadcast_progress(&self, job: &BroadcastJob) -> String;
    /// A broadcast finished.
    fn broadcast_done(&self, job: &BroadcastJob) -> String;
    /// A broadcast stopped on a storage failure; it resumes on the next run.
    fn broadcast_paused(&self, id: BroadcastId) -> String;
    /// `/stats` of the program.
    fn program_stats(&self, s: &ProgramStats) -> String;
    /// The webhook watchdog: `bot`'s webhook has `pending` updates waiting
    /// and, if `error` is given, Telegram's last delivery error.
    fn webhook_alert(&self, bot: &str, pending: u64, error: Option<&str>) -> String;
    /// The webhook watchdog: `bot`'s webhook is healthy again.
    fn webhook_cleared(&self, bot: &str, pending: u64) -> String;

    // -------------------------------------------------------- API errors
    /// The `message` of an API error.
    fn api(&self, m: &ApiText) -> String;
}

/// The language for an API answer from `Accept-Language`: the listed tag with
/// the highest q-value (the first among equals) whose primary subtag is one
/// we speak; English without one.
pub(crate) fn accept_language(header: Option<&str>) -> Language {
    let mut best: Option<(u16, Language)> = None;
    for item in header.unwrap_or("").split(',') {
        let mut parts = item.split(';').map(str::trim);
        let primary = parts.next().unwrap_or("").split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        let q = parts.find_map(|p| p.strip_prefix("q=")).map_or(Some(1000), qvalue);
        if let (Some(lang), Some(q)) = (Language::parse(&primary), q.filter(|q| *q > 0))
            && best.is_none_or(|(b, _)| q > b)
        {
            best = Some((q, lang));
        }
    }
    best.map_or(Language::En, |(_, lang)| lang)
}

/// A q-value (RFC 9110: `0`, `0.5`, `0.125`, `1`, `1.000`) in thousandths;
/// `None` when malformed. Parsed by hand: float parsing would add kilobytes
/// to every Worker.
fn qvalue(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths =
        frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A rate in basis points as a percentage with integer arithmetic only:
/// 500 → `5`, 550 → `5.5`, 1234 → `12.34` (`sep` is the decimal separator).
pub(crate) fn percent(bps: u32, sep: char) -> String {
    let (whole, frac) = (bps / 100, bps % 100);
    if frac == 0 {
        format!("{whole}")
    } else if frac % 10 == 0 {
        format!("{whole}{sep}{}", frac / 10)
    } else {
        format!("{whole}{sep}{frac:02}")
    }
}

/// A multiplier in basis points as a factor: 15 000 → `1.5`, 12 500 → `1.25`.
pub(crate) fn times(bps: u32, sep: char) -> String {
    percent(bps / 100, sep)
}

/// How a credit's points were earned — the one formula
/// ([`rules::earned`](crate::domain::rules::earned), then
/// [`rules::stacked`](crate::domain::rules::stacked) and the fixed bonuses) —
/// when anything but the base counted: "100 base × 1.5 Silver × 2 Mornings +
/// 50 First visit", in `lang`; `None` when the points are the base alone.
pub(crate) fn earned_formula(
    lang: Language,
    credited: &crate::ports::Credited,
    rules: Option<&crate::program::ProgramRules>,
) -> Option<String> {
    let t = lang.texts();
    let purchase = credited.entry.purchase?;
    let base = crate::domain::rules::accrual(purchase, credited.partner.terms.earn_rate_bps);
    let mut formula = t.earned_base(Pts(base));
    let level = rules.and_then(|r| r.tiers.as_ref()?.level(credited.tier_before));
    if let Some(level) = level.filter(|l| l.multiplier_bps != 10_000) {
        formula += &format!(" × {} {}", times(level.multiplier_bps, t.decimal_sep()), Esc(level.name.get(lang)));
    }
    for a in credited.awards.iter().filter(|a| a.multiplier_bps != 10_000) {
        formula += &format!(" × {} {}", times(a.multiplier_bps, t.decimal_sep()), Esc(a.title.get(lang)));
    }
    for a in credited.awards.iter().filter(|a| a.multiplier_bps == 10_000) {
        formula += &format!(" + {} {}", Pts(a.points), Esc(a.title.get(lang)));
    }
    (formula.len() > t.earned_base(Pts(base)).len()).then_some(formula)
}

/// A campaign as a list shows it at `now`, in `lang`: offer, period (local dates),
/// weekdays and hours when narrowed, what it paid of its budget.
pub(crate) fn campaign_line(lang: Language, c: &Campaign, now: crate::domain::Timestamp) -> String {
    let (t, terms) = (lang.texts(), &c.terms);
    let offer = t.campaign_offer(
        terms.kind,
        &times(terms.multiplier_bps, t.decimal_sep()),
        Pts(terms.points),
        terms.nth,
        terms.window_days,
    );
    let offset = i64::from(terms.utc_offset_minutes) * 60;
    let last_day = terms.ends_at.plus(offset - 1).utc_date();
    let mut when = format!("{} – {last_day}", terms.starts_at.plus(offset).utc_date());
    if terms.weekdays != crate::program::campaigns::ALL_WEEKDAYS {
        let days: Vec<&str> =
            WEEKDAYS.iter().enumerate().filter(|(i, _)| terms.weekdays & 1 << i != 0).map(|(_, d)| *d).collect();
        when += &format!(" · {}", days.join(", "));
    }
    if (terms.hour_from, terms.hour_to) != (0, 24) {
        when += &format!(" · {:02}:00–{:02}:00", terms.hour_from, terms.hour_to);
    }
    if terms.utc_offset_minutes != 0 {
        let m = terms.utc_offset_minutes;
        when += &format!(" (UTC{}{:02}:{:02})", if m < 0 { '-' } else { '+' }, m.abs() / 60, m.abs() % 60);
    }
    // A running campaign past its end reads as ended.
    let status =
        if c.status == CampaignStatus::Active && now >= terms.ends_at { CampaignStatus::Ended } else { c.status };
    t.campaign_line(
        c.id,
        Esc(terms.title.get(lang)),
        t.campaign_status(status),
        &offer,
        &when,
        Pts(c.issued),
        Pts(terms.budget),
    )
}

/// A reward as a list shows it in `lang`: its title, partner, price, what
/// is left, its window (UTC dates), and its status when `with_status`.
pub(crate) fn reward_line(lang: Language, r: &Reward, with_status: bool) -> String {
    let t = lang.texts();
    let offer = &r.offer;
    // The window's first and last days (UTC); an open end left blank.
    let day = |at: Option<crate::domain::Timestamp>| at.map(|at| at.utc_date()).unwrap_or_default();
    let when = (offer.available_from.is_some() || offer.available_until.is_some())
        .then(|| format!("{} – {}", day(offer.available_from), day(offer.available_until.map(|u| u.plus(-1)))));
    let mut line = t.reward_head(r.id, Esc(offer.title.get(lang)), Esc(&r.partner_name), Pts(offer.price));
    let status = with_status.then(|| t.reward_status(r.status).to_owned());
    for part in [r.left().map(|left| t.reward_left(left)), when, status].into_iter().flatten() {
        line += " · ";
        line += &part;
    }
    line
}

/// The customer's tier and progress for `/balance` (none without tiers).
pub(crate) fn tier_status(
    lang: Language,
    tier: u8,
    qualifying: Points,
    rules: &crate::program::ProgramRules,
) -> Option<String> {
    let tiers = rules.tiers.as_ref()?;
    let t = lang.texts();
    let mut lines = Vec::new();
    if let Some(level) = tiers.level(tier) {
        lines.push(t.tier_status(Esc(level.name.get(lang)), &times(level.multiplier_bps, t.decimal_sep())));
        if let Some(perks) = &level.perks {
            lines.push(format!("{}", Esc(perks.get(lang))));
        }
    }
    if let Some(next) = tiers.level(tier.saturating_add(1)) {
        let needed = Pts(next.threshold.saturating_sub(qualifying).max(0));
        lines.push(match tiers.qualify_by {
            crate::program::QualifyBy::Points => t.tier_progress(needed, Esc(next.name.get(lang))),
            crate::program::QualifyBy::Purchases => t.tier_progress_spend(needed, Esc(next.name.get(lang))),
        });
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The admin's `/stats` line of customers per tier ("Silver 12 · Gold 3"); `None` without tiers.
pub(crate) fn tier_counts(lang: Language, counts: &[u64], rules: &crate::program::ProgramRules) -> Option<String> {
    let tiers = rules.tiers.as_ref()?;
    let listed: Vec<String> =
        tiers.levels.iter().zip(counts).map(|(l, n)| format!("{} {n}", Esc(l.name.get(lang)))).collect();
    Some(lang.texts().tiers_line(&listed.join(" · ")))
}

/// The Russian plural form for `n`: `one` (1, 21), `few` (2–4, 22–24) or `many` (0, 5–20, 25…).
fn ru_plural(n: u64, one: &'static str, few: &'static str, many: &'static str) -> &'static str {
    let (m100, m10) = (n % 100, n % 10);
    if (11..=14).contains(&m100) {
        many
    } else if m10 == 1 {
        one
    } else if (2..=4).contains(&m10) {
        few
    } else {
        many
    }
}

/// One history line: `2026-11-26 10:15  +50  Purchase (#123)`.
pub(crate) fn entry_line(t: &dyn Texts, e: &LedgerEntry) -> String {
    format!("{}  <b>{}</b>  {} (#{})", e.created_at.utc_minutes(), Signed(e.amount), t.entry_kind(e.kind), e.id)
}

/// `head` followed by one history line per entry.
fn with_entries(t: &dyn Texts, head: String, entries: &[LedgerEntry]) -> String {
    entries.iter().fold(head, |out, e| format!("{out}\n{}", entry_line(t, e)))
}

/// What the client bot can do (shown with the menu).
pub(crate) fn client_help(t: &dyn Texts) -> String {
    let lines = Button::ALL.into_iter().zip(t.help_lines()).map(|(b, what)| format!("{} — {what}\n", t.button(b)));
    format!("{}\n{}\n{}", t.fixed(Fixed::HelpTitle), lines.collect::<String>(), t.fixed(Fixed::HelpCommands))
}

/// The client bot's balance with a few recent entries.
pub(crate) fn balance(t: &dyn Texts, balance: Points, recent: &[LedgerEntry]) -> String {
    let head = t.balance(balance);
    if recent.is_empty() {
        head
    } else {
        with_entries(t, format!("{head}\n\n{}", t.fixed(Fixed::BalanceRecent)), recent)
    }
}

/// The line of `/balance` about points expiring within
/// [`EXPIRING_SOON_SECS`](crate::program::EXPIRING_SOON_SECS) of `now`, if any.
pub(crate) fn expiring_soon(
    t: &dyn Texts,
    expiring: &[crate::ports::ExpiringPoints],
    now: crate::domain::Timestamp,
) -> Option<String> {
    let soon: Vec<_> = expiring.iter().filter(|e| e.at <= now.plus(crate::program::EXPIRING_SOON_SECS)).collect();
    let first = soon.iter().map(|e| e.at).min()?;
    Some(t.points_expiring_soon(soon.iter().map(|e| e.points).sum(), &first.utc_date()))
}

/// A stamp card drawn: `●` per stamp, `○` per stamp still needed.
pub(crate) fn stamp_dots(stamps: u32, needed: u32) -> String {
    let filled = stamps.min(needed) as usize;
    format!("{}{}", "●".repeat(filled), "○".repeat(needed as usize - filled))
}

/// One record of the admin's `/audit`: id, time (UTC), who, what.
pub(crate) fn audit_line(t: &dyn Texts, r: &AuditRecord) -> String {
    format!("#{} · {} · {} · {}", r.id, r.at.utc_minutes(), t.audit_by(r.admin), t.audit_action(&r.action))
}

/// An endpoint's events as the bots show them: their names, or `all` when
/// it receives every event.
pub(crate) fn webhook_events(events: &[WebhookEvent]) -> String {
    if WebhookEvent::ALL.iter().all(|e| events.contains(e)) {
        return "all".into();
    }
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
}

/// Every event's name, for the usage of `/webhook_add`.
pub(crate) fn webhook_event_names() -> String {
    WebhookEvent::ALL.iter().map(|e| format!("<code>{e}</code>")).collect::<Vec<_>>().join(", ")
}

/// A delivery attempt as `/webhooks` shows it: when (UTC), the endpoint's
/// HTTP status (`None`: no answer) and what went wrong, if anything.
pub(crate) fn webhook_attempt(t: &dyn Texts, at: &str, status: Option<u16>, error: Option<Esc>) -> String {
    let answer = status.map_or_else(|| t.webhook_no_answer().to_string(), |s| format!("HTTP {s}"));
    match error {
        Some(error) => format!("{at} UTC · {answer} · {error}"),
        None => format!("{at} UTC · {answer}"),
    }
}

/// One endpoint of `/webhooks` (never its secret): id, URL, events, how its
/// last delivery went and when one last succeeded.
pub(crate) fn webhook_line(t: &dyn Texts, w: &Webhook) -> String {
    // The error a status alone made ("HTTP 500") is said by the status.
    let said = w.last_status.map(|s| format!("HTTP {s}"));
    let error = w.last_error.as_deref().filter(|e| !e.is_empty() && Some(*e) != said.as_deref());
    let attempt = w.last_attempt_at.map(|at| webhook_attempt(t, &at.utc_minutes(), w.last_status, error.map(Esc)));
    let success = w.last_success_at.map(|at| at.utc_minutes());
    t.webhook_line(w.id.0, Esc(&w.url), &webhook_events(&w.events), attempt.as_deref(), success.as_deref())
}

/// The client bot's history, newest first.
pub(crate) fn history(t: &dyn Texts, entries: &[LedgerEntry]) -> String {
    if entries.is_empty() {
        t.fixed(Fixed::NoHistory).into()
    } else {
        with_entries(t, t.fixed(Fixed::HistoryTitle).into(), entries)
    }
}

/// The partner whose counter link a customer followed, with its offer.
pub(crate) fn came_from(t: &dyn Texts, p: &Partner) -> String {
    let (earn, share) =
        (percent(p.terms.earn_rate_bps, t.decimal_sep()), percent(p.terms.max_redeem_share_bps, t.decimal_sep()));
    format!("{}\n{}", t.fixed(Fixed::CameFromPartner), t.partner_offer(Esc(&p.name), Esc(&p.category), &earn, &share))
}

/// The approved partners, at most `max_lines` of them.
pub(crate) fn partners(t: &dyn Texts, list: &[Partner], max_lines: usize) -> String {
    if list.is_empty() {
        return t.fixed(Fixed::NoPartnersYet).into();
    }
    let mut out = t.fixed(Fixed::PartnersTitle).to_string();
    for p in list.iter().take(max_lines) {
        let (earn, share) =
            (percent(p.terms.earn_rate_bps, t.decimal_sep()), percent(p.terms.max_redeem_share_bps, t.decimal_sep()));
        out = format!("{out}\n{}", t.partner_offer(Esc(&p.name), Esc(&p.category), &earn, &share));
    }
    match list.len().saturating_sub(max_lines) {
        0 => out,
        more => format!("{out}\n{}", t.partners_more(more)),
    }
}

/// A partner's figures, today / 7 days.
pub(crate) fn partner_stats(t: &dyn Texts, s: &PartnerStats) -> String {
    let (w, d) = (&s.week, &s.today);
    let [title, customers, purchases, issued, redeemed] = t.partner_stats_labels();
    let row = |label: &str, a: &dyn fmt::Display, b: &dyn fmt::Display| format!("\n{label}: <b>{a}</b> / <b>{b}</b>");
    title.to_string()
        + &row(customers, &d.customers, &w.customers)
        + &row(purchases, &d.purchases, &w.purchases)
        + &row(issued, &Pts(d.issued), &Pts(w.issued))
        + &row(redeemed, &Pts(d.redeemed), &Pts(w.redeemed))
}

/// A link to a Telegram user, with their @username when known.
fn telegram_link(id: i64, username: Option<&str>) -> String {
    match username {
        Some(u) => format!("@{} (<a href=\"tg://user?id={id}\">{id}</a>)", escape_html(u)),
        None => format!("<a href=\"tg://user?id={id}\">{id}</a>"),
    }
}

/// A partner application as the admin chat sees it.
pub(crate) fn application(t: &dyn Texts, p: &Partner, username: Option<&str>) -> String {
    let who = telegram_link(p.telegram_id.0, username);
    t.application(p.id, Esc(&p.name), Esc(&p.category), &who, p.language.code())
}

/// The application message after a decision (buttons removed).
pub(crate) fn decided(t: &dyn Texts, p: &Partner, by: &str) -> String {
    format!("{}\n\n{}", application(t, p, None), t.verdict(p.status, Esc(by)))
}

/// One line of the admin bot's `/partners`.
pub(crate) fn partner_line(t: &dyn Texts, p: &Partner) -> String {
    let pc = |bps| format!("{}\u{202F}%", percent(bps, '.'));
    let terms =
        t.partner_terms(&pc(p.terms.earn_rate_bps), &pc(p.terms.max_redeem_share_bps), Pts(p.terms.daily_credit_limit));
    let key = if p.has_api_key { " · 🔑" } else { "" };
    let (name, category, status) = (Esc(&p.name), Esc(&p.category), t.status(p.status));
    format!("#{} <b>{name}</b> ({category}) — {status}\n   {terms} · tg {}{key}", p.id, p.telegram_id.0)
}

#[cfg(test)]
mod tests;
