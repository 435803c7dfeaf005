//! The program's use cases, shared by the bots and the REST API: each makes
//! one storage call, and returns what storage answered with the messages the
//! change sends to other people — the customer told of a credit, the partner
//! told of an answer — plus what the program's [`Extension`] adds for it.
//!
//! The person who asked gets a reply shaped by the channel they used (a bot
//! message, a JSON body), which the caller writes; everything else about the
//! change is decided here, once. An embedder's own commands can call these
//! functions too.
//!
//! [`Extension`]: crate::Extension

pub(crate) mod events;

use crate::context::{Context, Event};
use crate::domain::RewardId;
use crate::domain::{Author, BotKind, Customer, CustomerCode, Language, PartnerId, PartnerStatus, TelegramUserId};
use crate::ports::{
    AddStamp, AdjustBalance, Adjusted, AnswerRedemption, Applied, CampaignActor, ClaimReward, CreateCampaign,
    CreditPurchase, Credited, CustomerRef, DecidePartner, DecideReward, Decided, JoinStaff, NewCustomer,
    OpenRedemption, PartnerApplication, PublishReward, RedemptionView, Registration, Rejection, ReverseEntry, Reversed,
    RevokeStaff, RewardDecided, RewardDecision, StaffJoined, StaffRevoked, Stamped, StoreError, StoreResult,
    UseVoucher, VoucherView,
};
use crate::program::RulesVersion;
use crate::program::campaigns::{Campaign, CampaignStatus};
use crate::program::rewards::{Reward, RewardStatus, voucher_code};
use crate::telegram::{BotCall, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};
use crate::texts::{self, Esc, Fixed, Pts, Signed};

/// A use case's result.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "the notices must be sent"]
pub struct Done<T> {
    /// What storage answered.
    pub outcome: T,
    /// Messages to other chats, to send after the reply to the person who
    /// asked: the built-in notifications, then the extension's calls. Empty
    /// for a replay (the first processing sent them).
    pub notices: Vec<BotCall>,
}

/// How many fresh customer codes [`sign_up`] tries when one is taken.
const CODE_ATTEMPTS: u32 = 3;

/// A person starting the client bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUp {
    /// Their Telegram id.
    pub telegram_id: TelegramUserId,
    /// Their first name.
    pub first_name: String,
    /// Their `@username`, if any.
    pub username: Option<String>,
    /// The language to serve them in.
    pub language: Language,
    /// The code of the customer whose link they followed (`/start ref_<code>`).
    pub referrer: Option<CustomerCode>,
    /// A `ref_<code>` link's code that is not one of ours: the referral code
    /// of a customer imported from the program this one replaced.
    pub legacy_referrer: Option<String>,
    /// The partner whose counter link they followed (`/start partner_<id>`).
    pub via_partner: Option<TelegramUserId>,
}

fn notify(bot: BotKind, to: TelegramUserId, text: String) -> BotCall {
    BotCall::send_message(bot, to.0, text, None)
}

/// Registers a customer (or finds them registered), with the configured
/// welcome bonus and, through a friend's link, the referral bonus; tells the
/// referrer.
pub async fn sign_up(cx: &Context, who: SignUp) -> StoreResult<Done<Registration>> {
    let config = cx.config();
    let mut attempt = 0;
    let reg = loop {
        attempt += 1;
        let req = NewCustomer {
            telegram_id: who.telegram_id,
            code: cx.random_code(),
            first_name: who.first_name.clone(),
            username: who.username.clone(),
            language: who.language,
            referrer: who.referrer.clone(),
            legacy_referrer: who.legacy_referrer.clone(),
            via_partner: who.via_partner,
            welcome_bonus: config.welcome_bonus,
            referral_bonus: config.referral_bonus,
            now: cx.now(),
        };
        match cx.storage().register_customer(req).await {
            Err(StoreError::Rejected(Rejection::CodeTaken)) if attempt < CODE_ATTEMPTS => continue,
            other => break other?,
        }
    };
    let mut notices = Vec::new();
    if let Some((referrer, entry)) = &reg.referral {
        let t = referrer.language.texts();
        notices.push(notify(
            BotKind::Client,
            referrer.telegram_id,
            t.referral_credited(Esc(&who.first_name), entry.amount, referrer.balance),
        ));
    }
    if reg.created {
        notices.extend(cx.emit(&Event::SignedUp(&reg)));
        cx.publish(events::joined(&reg, cx.now()));
    }
    Ok(Done { outcome: reg, notices })
}

/// Whether a use case tells the people involved: the first time it applies,
/// and again when a replay belongs to an update processed again
/// ([`Context::is_reprocessing`]), whose first messages may be lost. (The
/// program's [`Event`]s are heard once, when the write applies.)
fn tells(cx: &Context, replayed: bool) -> bool {
    !replayed || cx.is_reprocessing()
}

/// Credits a purchase; tells the customer how many points it earned.
pub async fn credit(cx: &Context, req: CreditPurchase) -> StoreResult<Done<Credited>> {
    let c = cx.storage().credit_purchase(req).await?;
    let mut notices = Vec::new();
    if tells(cx, c.replayed) {
        let (customer, entry) = (&c.customer, &c.entry);
        let lang = customer.language;
        let rules = if c.tier_before > 0 || customer.tier > 0 { cx.rules(entry.rules_version).await } else { None };
        if entry.amount > 0 {
            let t = lang.texts();
            let mut note = t.customer_credited(Signed(entry.amount), Esc(&c.partner.name), Pts(customer.balance));
            if let Some(formula) = texts::earned_formula(lang, &c, rules.as_ref().map(|r| &r.rules)) {
                note = format!("{note}\n({formula})");
            }
            notices.push(notify(BotKind::Client, customer.telegram_id, note));
        }
        if customer.tier != c.tier_before {
            notices.push(tier_notice(customer, c.tier_before, rules.as_deref()));
        }
        if !c.replayed {
            notices.extend(cx.emit(&Event::Credited(&c)));
        }
        cx.publish(events::credited(&c));
    }
    Ok(Done { outcome: c, notices })
}

/// Gives a customer a stamp; tells them how their card stands, or that it
/// is full.
pub async fn stamp(cx: &Context, req: AddStamp) -> StoreResult<Done<Stamped>> {
    let s = cx.storage().add_stamp(req).await?;
    let mut notices = Vec::new();
    if tells(cx, s.replayed) {
        let (customer, p) = (&s.customer, &s.progress);
        let t = customer.language.texts();
        let (partner, reward) = (Esc(&p.partner_name), Esc(&p.card.reward));
        let text = if s.completed {
            t.customer_stamp_filled(partner, reward)
        } else {
            t.customer_stamped(partner, &texts::stamp_dots(p.stamps, p.card.needed), p.stamps, p.card.needed, reward)
        };
        notices.push(notify(BotKind::Client, customer.telegram_id, text));
        if !s.replayed {
            notices.extend(cx.emit(&Event::Stamped(&s)));
            // A replay answers the card as it is now: its completion cannot be told apart from a later one.
            cx.publish(events::stamped(&s, cx.now()));
        }
    }
    Ok(Done { outcome: s, notices })
}

/// Tells a customer their tier changed from `from` to `customer.tier`.
pub(crate) fn tier_notice(customer: &Customer, from: u8, rules: Option<&RulesVersion>) -> BotCall {
    let lang = customer.language;
    let tiers = rules.and_then(|r| r.rules.tiers.as_ref());
    let name = tiers.and_then(|t| t.level(customer.tier)).map(|l| l.name.get(lang).to_owned());
    let text = lang.texts().tier_changed(customer.tier > from, name.as_deref().map(Esc));
    notify(BotKind::Client, customer.telegram_id, text)
}

/// Opens a redemption request; asks the customer to confirm or decline it
/// with two buttons.
pub async fn open_redemption(cx: &Context, req: OpenRedemption) -> StoreResult<Done<RedemptionView>> {
    let v = cx.storage().open_redemption(req).await?;
    let mut notices = Vec::new();
    if tells(cx, v.replayed) {
        let (r, customer) = (&v.request, &v.customer);
        let t = customer.language.texts();
        let ask =
            t.customer_redemption_request(Esc(&v.partner.name), Pts(r.points), Pts(r.purchase), Pts(customer.balance));
        let buttons = InlineKeyboardMarkup {
            inline_keyboard: vec![vec![
                InlineKeyboardButton::callback(
                    customer.language.say(Fixed::ButtonConfirm),
                    format!("rc:{}:{}", r.id, customer.language.code()),
                ),
                InlineKeyboardButton::callback(
                    customer.language.say(Fixed::ButtonDecline),
                    format!("rd:{}:{}", r.id, customer.language.code()),
                ),
            ]],
        };
        let markup = Some(ReplyMarkup::Inline(buttons));
        notices.push(BotCall::send_message(BotKind::Client, customer.telegram_id.0, ask, markup));
        if !v.replayed {
            notices.extend(cx.emit(&Event::RedemptionOpened(&v)));
        }
    }
    Ok(Done { outcome: v, notices })
}

/// The customer confirms (pays) or declines a redemption request; tells the
/// partner.
pub async fn answer_redemption(
    cx: &Context,
    req: AnswerRedemption,
    confirm: bool,
) -> StoreResult<Done<RedemptionView>> {
    let v = if confirm {
        cx.storage().confirm_redemption(req).await?
    } else {
        cx.storage().decline_redemption(req).await?
    };
    let mut notices = Vec::new();
    if tells(cx, v.replayed) {
        let (c, p, r) = (&v.customer, &v.partner, &v.request);
        let t = p.language.texts();
        let note = if confirm {
            t.partner_confirmed(Esc(c.code.as_str()), r.points, r.id.0, c.balance)
        } else {
            t.partner_declined(Esc(c.code.as_str()), r.points, r.id.0)
        };
        notices.push(notify(BotKind::Partner, v.till_chat(), note));
        if !v.replayed {
            notices.extend(cx.emit(&Event::RedemptionAnswered { view: &v, confirmed: confirm }));
        }
        if confirm {
            cx.publish(events::redeemed(&v));
        }
    }
    Ok(Done { outcome: v, notices })
}

/// Reverses one of a partner's operations; tells the customer.
pub async fn reverse(cx: &Context, req: ReverseEntry) -> StoreResult<Done<Reversed>> {
    let r = cx.storage().reverse_entry(req).await?;
    let mut notices = Vec::new();
    if tells(cx, r.replayed) {
        let (customer, amount) = (&r.customer, r.reversal.amount);
        if amount != 0 {
            let t = customer.language.texts();
            let note = t.customer_reversed(Esc(&r.partner.name), Signed(amount), Pts(customer.balance));
            notices.push(notify(BotKind::Client, customer.telegram_id, note));
        }
        if customer.tier != r.tier_before {
            let rules = cx.rules(r.reversal.rules_version).await;
            notices.push(tier_notice(customer, r.tier_before, rules.as_deref()));
        }
        if !r.replayed {
            notices.extend(cx.emit(&Event::Reversed(&r)));
        }
        cx.publish(events::reversed(&r));
    }
    Ok(Done { outcome: r, notices })
}

/// An admin adjusts a customer's balance; tells the customer, with the reason.
pub async fn adjust(cx: &Context, req: AdjustBalance) -> StoreResult<Done<Adjusted>> {
    let reason = req.reason.clone();
    let a = cx.storage().adjust_balance(req).await?;
    let mut notices = Vec::new();
    if tells(cx, a.replayed) {
        let c = &a.customer;
        let note = c.language.texts().customer_adjusted(Signed(a.entry.amount), Esc(&reason), Pts(c.balance));
        notices.push(notify(BotKind::Client, c.telegram_id, note));
        if !a.replayed {
            notices.extend(cx.emit(&Event::Adjusted(&a)));
        }
    }
    Ok(Done { outcome: a, notices })
}

/// The language of the messages the admin chat gets unprompted.
const ADMIN_LANGUAGE: Language = Language::En;

/// Approve / Reject buttons under an application (`pa:<id>`, `pr:<id>`).
pub(crate) fn decision_buttons(lang: Language, id: PartnerId) -> ReplyMarkup {
    ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![
            InlineKeyboardButton::callback(lang.say(Fixed::ButtonApprove), format!("pa:{id}")),
            InlineKeyboardButton::callback(lang.say(Fixed::ButtonReject), format!("pr:{id}")),
        ]],
    })
}

/// A merchant applies to join (or finds their application already made);
/// a new application goes to the admin chat, when one is configured, with
/// Approve / Reject buttons. `username` is the applicant's `@username`.
pub async fn apply_partner(
    cx: &Context,
    req: PartnerApplication,
    username: Option<&str>,
) -> StoreResult<Done<Applied>> {
    let applied = cx.storage().apply_partner(req).await?;
    let mut notices = Vec::new();
    if applied.created {
        let p = &applied.partner;
        if let Some(chat) = cx.config().admin_chat_id {
            let text = texts::application(ADMIN_LANGUAGE.texts(), p, username);
            let buttons = Some(decision_buttons(ADMIN_LANGUAGE, p.id));
            notices.push(BotCall::send_message(BotKind::Admin, chat, text, buttons));
        }
        notices.extend(cx.emit(&Event::PartnerApplied(&applied)));
    }
    Ok(Done { outcome: applied, notices })
}

/// Makes a campaign; a partner's waiting for approval is shown to the admins
/// (in the admin chat) with the commands that decide it.
pub async fn create_campaign(cx: &Context, req: CreateCampaign) -> StoreResult<Done<Campaign>> {
    let c = cx.storage().create_campaign(req).await?;
    let mut notices = Vec::new();
    if let (CampaignStatus::Pending, Author::Partner(partner), Some(chat)) =
        (c.status, c.created_by, cx.config().admin_chat_id)
    {
        let line = texts::campaign_line(ADMIN_LANGUAGE, &c, cx.now());
        let text = ADMIN_LANGUAGE.texts().campaign_proposed(partner, &line, c.id);
        notices.push(BotCall::send_message(BotKind::Admin, chat, text, None));
    }
    Ok(Done { outcome: c, notices })
}

/// An admin approves, rejects or suspends a partner; a change is told to the
/// partner through the partner bot.
pub async fn decide_partner(cx: &Context, req: DecidePartner) -> StoreResult<Done<Decided>> {
    let d = cx.storage().decide_partner(req).await?;
    let mut notices = Vec::new();
    if d.changed {
        let (p, t) = (&d.partner, d.partner.language.texts());
        let text = match p.status {
            PartnerStatus::Approved => Some(t.partner_approved(Esc(&p.name))),
            PartnerStatus::Rejected => Some(t.partner_rejected(Esc(&p.name))),
            PartnerStatus::Suspended => Some(t.partner_suspended(Esc(&p.name))),
            PartnerStatus::Applied => None,
        };
        notices.extend(text.map(|text| notify(BotKind::Partner, p.telegram_id, text)));
        notices.extend(cx.emit(&Event::PartnerDecided(&d)));
    }
    Ok(Done { outcome: d, notices })
}

/// How many fresh voucher codes [`claim_reward`] tries when one is taken.
const VOUCHER_CODE_ATTEMPTS: u32 = 3;

/// A partner publishes a reward; when it waits for approval, the admins are
/// told (with the commands that decide it).
pub async fn publish_reward(cx: &Context, req: PublishReward) -> StoreResult<Done<Reward>> {
    let r = cx.storage().publish_reward(req).await?;
    let mut notices = Vec::new();
    if let (RewardStatus::Pending, Some(chat)) = (r.status, cx.config().admin_chat_id) {
        let line = texts::reward_line(ADMIN_LANGUAGE, &r, false);
        notices.push(BotCall::send_message(
            BotKind::Admin,
            chat,
            ADMIN_LANGUAGE.texts().reward_proposed(&line, r.id),
            None,
        ));
    }
    Ok(Done { outcome: r, notices })
}

/// Decides a reward; an admin's approval or refusal is told to its partner.
pub async fn decide_reward(cx: &Context, req: DecideReward) -> StoreResult<Done<RewardDecided>> {
    let by_admin = matches!(req.by, CampaignActor::Admin(_));
    let decision = req.decision;
    let d = cx.storage().decide_reward(req).await?;
    let mut notices = Vec::new();
    if by_admin && matches!(decision, RewardDecision::Approve | RewardDecision::Reject) {
        let (p, r) = (&d.partner, &d.reward);
        let title = Esc(r.offer.title.get(p.language));
        let text = p.language.texts().reward_decided(title, r.status == RewardStatus::Active);
        notices.push(notify(BotKind::Partner, p.telegram_id, text));
    }
    Ok(Done { outcome: d, notices })
}

/// A customer claims a reward: pays its price and gets a voucher (a taken
/// code is drawn again).
pub async fn claim_reward(
    cx: &Context,
    customer: CustomerRef,
    reward: RewardId,
    idempotency_key: String,
) -> StoreResult<Done<VoucherView>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut random = [0u8; 16];
        cx.fill_random(&mut random);
        let req = ClaimReward {
            customer: customer.clone(),
            reward,
            code: voucher_code(random),
            idempotency_key: idempotency_key.clone(),
            now: cx.now(),
        };
        match cx.storage().claim_reward(req).await {
            Err(StoreError::Rejected(Rejection::CodeTaken)) if attempt < VOUCHER_CODE_ATTEMPTS => continue,
            other => {
                let v = other?;
                if tells(cx, v.replayed) {
                    cx.publish(vec![events::claimed(&v)]);
                }
                return Ok(Done { outcome: v, notices: Vec::new() });
            }
        }
    }
}

/// Someone opens a staff invitation link and joins the partner's staff as a
/// cashier; the partner's owner is told.
pub async fn join_staff(cx: &Context, req: JoinStaff) -> StoreResult<Done<StaffJoined>> {
    let j = cx.storage().join_staff(req).await?;
    let mut notices = Vec::new();
    if tells(cx, j.replayed) {
        let p = &j.partner;
        let text = p.language.texts().staff_joined_owner(j.staff.id.0, Esc(&j.staff.name));
        notices.push(notify(BotKind::Partner, p.telegram_id, text));
    }
    Ok(Done { outcome: j, notices })
}

/// A partner revokes a cashier or an invitation; a cashier is told (in the
/// partner's language).
pub async fn revoke_staff(cx: &Context, req: RevokeStaff) -> StoreResult<Done<StaffRevoked>> {
    let r = cx.storage().revoke_staff(req).await?;
    let mut notices = Vec::new();
    if tells(cx, r.replayed)
        && let Some(cashier) = r.staff.telegram_id
    {
        let text = r.partner.language.texts().staff_revoked_cashier(Esc(&r.partner.name));
        notices.push(notify(BotKind::Partner, cashier, text));
    }
    Ok(Done { outcome: r, notices })
}

/// A partner accepts a customer's voucher; the customer is told.
pub async fn use_voucher(cx: &Context, req: UseVoucher) -> StoreResult<Done<VoucherView>> {
    let v = cx.storage().use_voucher(req).await?;
    let mut notices = Vec::new();
    if tells(cx, v.replayed) {
        let (c, lang) = (&v.customer, v.customer.language);
        let text = lang.texts().voucher_used_notice(Esc(v.reward.offer.title.get(lang)), Esc(&v.partner.name));
        notices.push(notify(BotKind::Client, c.telegram_id, text));
    }
    Ok(Done { outcome: v, notices })
}

/// Registers a webhook endpoint for `owner` — the program, or a partner by
/// its owner — receiving `events` at `url`, with a fresh signing secret
/// (answered in the [`Webhook`](crate::ports::Webhook): show it to the owner
/// only). The URL, the events, the key and the limit are checked by the store
/// ([`Rejection::InvalidWebhook`], [`Rejection::WebhookLimit`]).
/// `idempotency_key` is the owner's key of this registration (an update's, a
/// POS request's): the same key again answers the endpoint it made, with its
/// own secret (`replayed`), or [`Rejection::IdempotencyConflict`] for
/// another URL or other events ([`AddWebhook`](crate::ports::AddWebhook)).
pub async fn add_webhook(
    cx: &Context,
    owner: crate::ports::WebhookOwner,
    url: &str,
    events: Vec<crate::outgoing::WebhookEvent>,
    idempotency_key: String,
) -> StoreResult<crate::ports::WebhookAdded> {
    let mut random = [0u8; 32];
    cx.fill_random(&mut random);
    let req = crate::ports::AddWebhook {
        owner,
        url: url.trim().to_string(),
        events,
        secret: crate::outgoing::new_secret(random),
        now: cx.now(),
        idempotency_key,
    };
    cx.storage().add_webhook(req).await
}
