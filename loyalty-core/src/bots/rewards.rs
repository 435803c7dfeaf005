//! The rewards catalogue in the bots.
//!
//! Partner and admin bots share the commands: a partner publishes with
//! `/reward <offer>`, lists its own with `/rewards`, takes one off with
//! `/reward_withdraw <id>` and accepts a customer's voucher with
//! `/voucher <code>`; an admin lists the rewards waiting with `/rewards` and
//! decides with `/reward_approve <id>` / `/reward_reject <id>` (or withdraws
//! any). Customers browse in the client bot with paged inline keyboards
//! (see [`Browse`]), claim a reward with its button and cancel an unused
//! voucher with the voucher's button.

use super::common::{list_text, parse_amount, parse_id};
use crate::context::Context;
use crate::domain::{Language, PartnerId, RewardId, Timestamp, VoucherId};
use crate::ports::{
    CampaignActor, DecideReward, ListRewards, PartnerRef, PublishReward, Rejection, RewardDecision, StoreResult,
    UseVoucher,
};
use crate::program::Localized;
use crate::program::rewards::{
    MAX_REWARDS_LISTED, RewardOffer, RewardStatus, is_category, parse_voucher_code, print_voucher_code,
};
use crate::telegram::{BotCall, InlineKeyboardButton, InlineKeyboardMarkup};
use crate::texts::{self, Esc};
use crate::usecases::{self, Done};

/// How many rewards `/rewards` lists to a partner or an admin.
const LISTED: u32 = 20;

/// Rewards on one page of the client bot's catalogue.
pub(crate) const PAGE: u32 = 5;

/// A rewards command of the partner or the admin bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RewardCommand<'a> {
    /// `/reward [<offer>]` (partners).
    Publish(&'a str),
    /// `/rewards`: a partner's own, the admins' waiting ones.
    List,
    /// `/reward_withdraw`, `/reward_approve`, `/reward_reject <id>`.
    Decide(RewardDecision, &'a str),
    /// `/voucher <code>` (partners).
    Voucher(&'a str),
}

impl<'a> RewardCommand<'a> {
    /// The command named `name` (without the slash), if it is one.
    pub(crate) fn parse(name: &str, args: &'a str) -> Option<RewardCommand<'a>> {
        Some(match name {
            "reward" => RewardCommand::Publish(args),
            "rewards" => RewardCommand::List,
            "reward_withdraw" => RewardCommand::Decide(RewardDecision::Withdraw, args),
            "reward_approve" => RewardCommand::Decide(RewardDecision::Approve, args),
            "reward_reject" => RewardCommand::Decide(RewardDecision::Reject, args),
            "voucher" => RewardCommand::Voucher(args),
            _ => return None,
        })
    }
}

/// Runs `cmd` for `actor` in `lang`: the reply and the use case's notices; a
/// store's refusal is the caller's to word (`Err`). `key` is the update's
/// idempotency key for a publication.
pub(crate) async fn run(
    cx: &Context,
    lang: Language,
    actor: CampaignActor,
    cmd: RewardCommand<'_>,
    key: String,
) -> StoreResult<(String, Vec<BotCall>)> {
    let t = lang.texts();
    let now = cx.now();
    match (cmd, &actor) {
        (RewardCommand::Publish(_) | RewardCommand::Voucher(_), CampaignActor::Admin(_)) => {
            Ok((lang.say(crate::texts::Fixed::AdminHelp).to_owned(), Vec::new()))
        }
        (RewardCommand::Publish(args), CampaignActor::Partner(me)) => {
            if args.trim().is_empty() {
                return Ok((t.reward_usage().to_owned(), Vec::new()));
            }
            let offer = match parse_offer(args) {
                Ok(offer) => offer,
                Err(reason) => {
                    return Ok((
                        format!("{}\n\n{}", t.rejection(&Rejection::InvalidReward { reason }), t.reward_usage()),
                        Vec::new(),
                    ));
                }
            };
            let req = PublishReward { partner: *me, offer, idempotency_key: key, now };
            let Done { outcome: r, notices } = usecases::publish_reward(cx, req).await?;
            let line = texts::reward_line(lang, &r, true);
            Ok((format!("{}\n\n{line}", t.reward_published(r.status == RewardStatus::Pending)), notices))
        }
        (RewardCommand::List, _) => {
            let (partner, status) = match &actor {
                CampaignActor::Partner(p) => (Some(*p), None),
                CampaignActor::Admin(_) => (None, Some(RewardStatus::Pending)),
            };
            let req = ListRewards { partner, category: None, claimable_at: None, status, after: None, limit: LISTED };
            let list = cx.storage().rewards(req).await?;
            let text = list_text(list.iter().map(|r| texts::reward_line(lang, r, true)));
            Ok((text.unwrap_or_else(|| t.rewards_none_listed().to_owned()), Vec::new()))
        }
        (RewardCommand::Decide(decision, args), _) => {
            let Some(id) = parse_id(args) else { return Ok((t.reward_usage().to_owned(), Vec::new())) };
            let req = DecideReward { reward: RewardId(id), decision, by: actor.clone(), now };
            let Done { outcome: d, notices } = usecases::decide_reward(cx, req).await?;
            Ok((texts::reward_line(lang, &d.reward, true), notices))
        }
        (RewardCommand::Voucher(args), CampaignActor::Partner(me)) => {
            let Some(code) = parse_voucher_code(args) else { return Ok((t.voucher_usage().to_owned(), Vec::new())) };
            let Done { outcome: v, notices } =
                usecases::use_voucher(cx, UseVoucher { partner: *me, code, now }).await?;
            let title = Esc(v.reward.offer.title.get(lang));
            if v.replayed && !cx.is_reprocessing() {
                let when = v.voucher.closed_at.map(minutes).unwrap_or_default();
                return Ok((t.voucher_used_before(title, &when), notices));
            }
            Ok((t.voucher_accepted(title, Esc(&v.customer.first_name)), notices))
        }
    }
}

/// `YYYY-MM-DD HH:MM` (UTC).
fn minutes(at: Timestamp) -> String {
    let secs = at.0.rem_euclid(Timestamp::DAY);
    format!("{} {:02}:{:02}", at.utc_date(), secs / 3600, secs % 3600 / 60)
}

/// Reads a partner's `/reward` arguments (see [`Texts::reward_usage`](crate::texts::Texts::reward_usage)):
/// the price and options on the first line, then one line per language,
/// `title | description`, the first untagged (or `en:`) one serving every
/// language without its own. The error says what is wrong, in English.
pub(crate) fn parse_offer(args: &str) -> Result<RewardOffer, String> {
    let mut lines = args.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines.next().ok_or("the price is missing")?;
    // The price (it may be written `1 500`), then the options (`name=value`).
    let (amount, options): (Vec<&str>, Vec<&str>) = head.split_whitespace().partition(|w| !w.contains('='));
    let price = parse_amount(&amount.join(" ")).ok_or("the price must be a positive whole number")?;
    let mut offer = RewardOffer {
        title: Localized { en: String::new(), ru: None, vi: None },
        description: None,
        category: None,
        price,
        stock: None,
        available_from: None,
        available_until: None,
        photo: None,
    };
    let date = |field: &str, v: &str| {
        let mut parts = v.splitn(3, '-').map(str::parse::<u32>);
        let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{field} must be a date YYYY-MM-DD, not {v:?}"));
        };
        Timestamp::from_utc_date(i64::from(y), m, d).ok_or_else(|| format!("{field}: no such date {v:?}"))
    };
    for word in options {
        let (name, value) = word.split_once('=').ok_or_else(|| format!("unknown option {word:?}"))?;
        match name {
            "stock" => {
                offer.stock = Some(value.parse().map_err(|_| format!("stock must be a whole number, not {value:?}"))?);
            }
            "category" => {
                let value = value.to_lowercase();
                if !is_category(&value) {
                    return Err(format!("category: letters a-z, digits, '-' and '_' only, not {value:?}"));
                }
                offer.category = Some(value);
            }
            "from" => offer.available_from = Some(date("from", value)?),
            // The last day counts: claimable until the next day begins (UTC).
            "until" => offer.available_until = Some(date("until", value)?.plus(Timestamp::DAY)),
            "photo" => offer.photo = Some(value.to_owned()),
            _ => return Err(format!("unknown option {name:?}")),
        }
    }
    let mut texts: Vec<(Option<Language>, &str, &str)> = Vec::new();
    for line in lines {
        let (lang, rest) = match line.split_once(':') {
            Some((tag, rest)) if tag.len() == 2 && Language::parse(&tag.to_lowercase()).is_some() => {
                (Language::parse(&tag.to_lowercase()), rest.trim())
            }
            _ => (None, line),
        };
        let (title, description) = rest.split_once('|').map_or((rest, ""), |(a, b)| (a.trim(), b.trim()));
        texts.push((lang, title, description));
    }
    let fallback = texts
        .iter()
        .find(|(l, ..)| *l == Some(Language::En))
        .or_else(|| texts.iter().find(|(l, ..)| l.is_none()))
        .or_else(|| texts.first())
        .ok_or("the title is missing (on the line after the price)")?;
    // The title (`1`) or the description (`2`) of `lang`'s own line.
    let tagged = |lang: Language, field: usize| {
        let line = texts.iter().find(|t| t.0 == Some(lang))?;
        let text = if field == 1 { line.1 } else { line.2 };
        (!text.is_empty()).then(|| text.to_owned())
    };
    offer.title = Localized { en: fallback.1.to_owned(), ru: tagged(Language::Ru, 1), vi: tagged(Language::Vi, 1) };
    let described = texts.iter().map(|t| t.2).find(|d| !d.is_empty());
    if let Some(first) = described {
        let en = if fallback.2.is_empty() { first } else { fallback.2 };
        offer.description =
            Some(Localized { en: en.to_owned(), ru: tagged(Language::Ru, 2), vi: tagged(Language::Vi, 2) });
    }
    offer.check()?;
    Ok(offer)
}

/// A page of the client bot's catalogue: `wl:<after>:<partner>:<category>`
/// (0 and empty for none), which the next page's button carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Browse {
    /// Rewards after this id.
    pub(crate) after: i64,
    /// Only this partner's (0: all).
    pub(crate) partner: i64,
    /// Only this category (empty: all).
    pub(crate) category: String,
}

impl Browse {
    /// The first page of `category` (as typed after `/rewards`).
    pub(crate) fn of_category(category: &str) -> Browse {
        let category = category.trim().to_lowercase();
        Browse { category: if is_category(&category) { category } else { String::new() }, ..Browse::default() }
    }

    /// The page a button's data names.
    pub(crate) fn parse(arg: &str) -> Option<Browse> {
        let mut parts = arg.splitn(3, ':');
        let after = parts.next()?.parse::<i64>().ok().filter(|n| *n >= 0)?;
        let partner = parts.next()?.parse::<i64>().ok().filter(|n| *n >= 0)?;
        let category = parts.next().unwrap_or_default();
        (category.is_empty() || is_category(category)).then(|| Browse { after, partner, category: category.to_owned() })
    }

    /// The button data of this page.
    pub(crate) fn data(&self) -> String {
        format!("wl:{}:{}:{}", self.after, self.partner, self.category)
    }

    /// The storage request of this page, at `now`.
    pub(crate) fn request(&self, now: Timestamp) -> ListRewards {
        ListRewards {
            partner: (self.partner > 0).then_some(PartnerRef::Id(PartnerId(self.partner))),
            category: (!self.category.is_empty()).then(|| self.category.clone()),
            claimable_at: Some(now),
            status: None,
            after: (self.after > 0).then_some(RewardId(self.after)),
            limit: PAGE + 1,
        }
    }
}

/// A page of the catalogue for a customer: the text and its keyboard — one
/// button per reward, then the next page's and the first page's buttons.
/// `found` holds up to [`PAGE`] + 1 rewards (one more tells there is a next page).
pub(crate) fn page(
    lang: Language,
    browse: &Browse,
    found: &[crate::program::rewards::Reward],
) -> (String, InlineKeyboardMarkup) {
    let t = lang.texts();
    let shown = &found[..found.len().min(PAGE as usize)];
    if shown.is_empty() {
        let mut rows = Vec::new();
        if *browse != Browse::default() {
            rows.push(vec![InlineKeyboardButton::callback(t.rewards_first(), Browse::default().data())]);
        }
        return (t.rewards_none().to_owned(), InlineKeyboardMarkup { inline_keyboard: rows });
    }
    let category = (!browse.category.is_empty()).then_some(Esc(&browse.category));
    let mut text = t.rewards_title(category);
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Vec::new();
    for r in shown {
        text.push_str("\n\n");
        text.push_str(&texts::reward_line(lang, r, false));
        let label = format!("🎁 {} · {}", r.offer.title.get(lang), texts::Pts(r.offer.price));
        rows.push(vec![InlineKeyboardButton::callback(label, format!("wv:{}", r.id))]);
    }
    let mut nav = Vec::new();
    if browse.after > 0 {
        nav.push(InlineKeyboardButton::callback(t.rewards_first(), Browse { after: 0, ..browse.clone() }.data()));
    }
    if found.len() > PAGE as usize
        && let Some(last) = shown.last()
    {
        nav.push(InlineKeyboardButton::callback(
            t.rewards_more(),
            Browse { after: last.id.0, ..browse.clone() }.data(),
        ));
    }
    if !nav.is_empty() {
        rows.push(nav);
    }
    // The categories of this page, to browse one.
    if browse.category.is_empty() {
        let mut categories: Vec<&str> = shown.iter().filter_map(|r| r.offer.category.as_deref()).collect();
        categories.sort_unstable();
        categories.dedup();
        if categories.len() > 1 {
            rows.push(
                categories
                    .into_iter()
                    .take(4)
                    .map(|c| InlineKeyboardButton::callback(format!("#{c}"), Browse::of_category(c).data()))
                    .collect(),
            );
        }
    }
    (text, InlineKeyboardMarkup { inline_keyboard: rows })
}

/// A reward opened from the catalogue: its card, with the buttons to claim
/// it and to browse its partner's.
pub(crate) fn card(lang: Language, r: &crate::program::rewards::Reward) -> (String, InlineKeyboardMarkup) {
    let t = lang.texts();
    let description = r.offer.description.as_ref().map(|d| d.get(lang)).unwrap_or_default();
    let text = t.reward_card(&texts::reward_line(lang, r, false), Esc(description));
    let rows = vec![
        vec![InlineKeyboardButton::callback(t.reward_claim_button(texts::Pts(r.offer.price)), format!("wc:{}", r.id))],
        vec![InlineKeyboardButton::callback(
            t.rewards_at(&r.partner_name),
            Browse { partner: r.partner.0, ..Browse::default() }.data(),
        )],
    ];
    (text, InlineKeyboardMarkup { inline_keyboard: rows })
}

/// A voucher's message: what to show at the counter, and its cancel button
/// while it is issued.
pub(crate) fn voucher(lang: Language, v: &crate::ports::VoucherView) -> (String, Option<InlineKeyboardMarkup>) {
    let t = lang.texts();
    let title = Esc(v.reward.offer.title.get(lang));
    let text = t.voucher_issued(title, Esc(&v.partner.name), &print_voucher_code(&v.voucher.code), v.customer.balance);
    (text, Some(cancel_button(lang, v.voucher.id)))
}

/// The button that cancels voucher `id`.
pub(crate) fn cancel_button(lang: Language, id: VoucherId) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup {
        inline_keyboard: vec![vec![InlineKeyboardButton::callback(
            lang.texts().voucher_cancel_button(),
            format!("wx:{id}"),
        )]],
    }
}

/// The rewards shown per page cannot exceed what one storage call lists.
const _: () = assert!(PAGE < MAX_REWARDS_LISTED);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_offer_in_several_languages() {
        let offer = parse_offer(
            "500 stock=20 category=Drinks until=2027-01-31\nFree coffee | Any size\nru: Кофе в подарок | Любой размер\nvi: Cà phê",
        )
        .unwrap();
        assert_eq!(offer.price, 500);
        assert_eq!((offer.stock, offer.category.as_deref()), (Some(20), Some("drinks")));
        assert_eq!(offer.available_until, Timestamp::from_utc_date(2027, 2, 1));
        assert_eq!(offer.title.get(Language::Ru), "Кофе в подарок");
        assert_eq!(offer.title.get(Language::Vi), "Cà phê");
        assert_eq!(offer.title.get(Language::En), "Free coffee");
        let description = offer.description.unwrap();
        assert_eq!((description.get(Language::Vi), description.get(Language::Ru)), ("Any size", "Любой размер"));
    }

    #[test]
    fn a_single_tagged_line_serves_every_language() {
        let offer = parse_offer("1 000\nru: Кофе").unwrap();
        assert_eq!((offer.price, offer.title.get(Language::En), offer.description), (1000, "Кофе", None));
    }

    #[test]
    fn refuses_bad_offers_with_a_reason() {
        for (args, reason) in [
            ("", "price is missing"),
            ("abc\nCoffee", "price must be"),
            ("500", "title is missing"),
            ("500 stock=-1\nCoffee", "stock must be"),
            ("500 colour=red\nCoffee", "unknown option"),
            ("500 from=2027-02-30\nCoffee", "no such date"),
            ("500 category=кофе\nCoffee", "category"),
            ("500 photo=http://x/y.png\nCoffee", "photo"),
            ("500 from=2027-02-01 until=2027-01-01\nCoffee", "available_from"),
        ] {
            let err = parse_offer(args).unwrap_err();
            assert!(err.contains(reason), "{args:?}: {err}");
        }
    }

    #[test]
    fn pages_round_trip_through_button_data() {
        let b = Browse { after: 12, partner: 3, category: "drinks".into() };
        assert_eq!(Browse::parse(b.data().strip_prefix("wl:").unwrap()), Some(b.clone()));
        assert!(b.data().len() <= 64);
        assert_eq!(Browse::parse("x:1:"), None);
        assert_eq!(Browse::parse("1:2:Bad Category"), None);
        assert_eq!(Browse::of_category(" Food "), Browse { category: "food".into(), ..Browse::default() });
        assert_eq!(Browse::of_category("??"), Browse::default());
    }
}
