//! The Mini App's texts: what the page (`loyalty-app/web`) shows, taken from
//! the bots' own texts wherever the bots say the same thing, so the app and
//! the bots word an outcome alike.
//!
//! A bot text with arguments becomes a template: each argument is replaced
//! by a `{name}` placeholder the page fills in. Telegram's HTML tags are
//! removed (and its entities decoded); emoji stay, except in labels (menu
//! entries, headings, field names), which lose their leading emoji and
//! trailing colon. Which placeholders a template has, and what the page puts
//! there, is written next to each key below; `{…}` names that end in `_pts`
//! take a number only, the others as documented.

use super::*;
use crate::ports::PeriodStats;
use crate::telegram::html_to_plain as plain;
use serde_json::{Map, Value, json};

/// Distinct sentinel amounts: a bot text is formatted with them, and their
/// formatted forms are then replaced by placeholders.
const S: [i64; 10] = [
    901_234_501,
    901_234_502,
    901_234_503,
    901_234_504,
    901_234_505,
    901_234_506,
    901_234_507,
    901_234_508,
    901_234_509,
    901_234_510,
];

/// How a sentinel appears in a bot text.
enum Arg {
    /// [`Texts::points`]: the amount with the word "points" in its plural
    /// form; the page writes its own `points(n)` there.
    Points(i64),
    /// [`Pts`]: the amount alone, grouped.
    Pts(i64),
    /// [`Signed`]: the amount with its sign.
    Signed(i64),
    /// A plain integer (an id, a count).
    Int(i64),
}

/// The Mini App's texts, one object per language code (`ru`, `en`, `vi`),
/// as written to `loyalty-app/web/src/texts.json`.
///
/// Each language's object maps a key to a text; templates carry `{name}`
/// placeholders. `points` holds the word "points" in each plural category
/// of `Intl.PluralRules` (`one`, `few`, `many`, `other`), `decimal_sep` the
/// decimal separator of percentages, `kinds` the history's entry kinds by
/// their API names and `language_names` every language's own name.
///
/// ```
/// let texts = loyalty_core::app_texts();
/// assert_eq!(texts["en"]["button_confirm"], "✅ Confirm");
/// assert!(texts["ru"]["balance"].as_str().unwrap().contains("{balance}"));
/// ```
pub fn app_texts() -> Value {
    let mut all = Map::new();
    for lang in Language::ALL {
        all.insert(lang.code().into(), language(lang));
    }
    Value::Object(all)
}

/// Formats `text` with placeholders for the sentinels of `args`, in order,
/// and removes Telegram's HTML.
fn tpl(text: String, args: &[(&str, Arg)], t: &dyn Texts) -> String {
    let mut out = text;
    for (name, arg) in args {
        let needle = match arg {
            Arg::Points(n) => t.points(*n),
            Arg::Pts(n) => Pts(*n).to_string(),
            Arg::Signed(n) => Signed(*n).to_string(),
            Arg::Int(n) => n.to_string(),
        };
        out = out.replace(&needle, &format!("{{{name}}}"));
    }
    plain(&out)
}

/// A label: `text` without HTML, leading emoji and a trailing colon.
fn label(text: &str) -> String {
    let text = plain(text);
    let start = text.find(|c: char| c.is_alphanumeric() || c == '«' || c == '"').unwrap_or(0);
    text[start..].trim().trim_end_matches(':').trim_end().to_string()
}

/// The leading emoji of a label such as a menu button's (`💰 Balance` → `💰`).
fn icon(text: &str) -> String {
    let text = plain(text);
    let end = text.find(|c: char| c.is_alphanumeric()).unwrap_or(0);
    text[..end].trim().to_string()
}

/// `text` without the parenthesis that holds `{times}` (a tier's multiplier).
fn without_times(text: &str) -> String {
    let Some(at) = text.find("{times}") else { return text.to_string() };
    let (Some(open), Some(close)) = (text[..at].rfind('('), text[at..].find(')')) else { return text.to_string() };
    format!("{}{}", text[..open].trim_end(), &text[at + close + 1..])
}

/// A partner's offer without its leading name and category (`• {name} ({category}): `).
fn after_category(text: &str) -> String {
    match text.find("{category}").and_then(|at| text[at..].find(':').map(|colon| at + colon + 1)) {
        Some(end) => text[end..].trim_start().to_string(),
        None => text.to_string(),
    }
}

/// The word "points" for `n` ([`Texts::points`] without the number).
fn points_word(t: &dyn Texts, n: Points) -> String {
    let s = t.points(n);
    let number = Pts(n).to_string();
    s.strip_prefix(&number).unwrap_or(&s).trim().to_string()
}

fn language(lang: Language) -> Value {
    let t = lang.texts();
    let f = |m: Fixed| plain(t.fixed(m));
    let b = |b: Button| label(t.button(b));
    let bi = |b: Button| icon(t.button(b));
    let [a, b2, c, d, e, g, h, i, j, k] = S;
    let [_, _, _, stats_issued, stats_redeemed] = t.partner_stats_labels();
    let program = t.program_stats(&ProgramStats {
        customers: a as u64,
        partners_approved: b2 as u64,
        partners_pending: c as u64,
        points_outstanding: d,
        expiring_30_days: e,
        expiring_90_days: g,
        customers_by_tier: Default::default(),
        rules_version: 1,
        today: PeriodStats { customers: h as u64, purchases: i as u64, issued: j, redeemed: k },
    });
    let kinds: Map<String, Value> = [
        EntryKind::WelcomeBonus,
        EntryKind::ReferralBonus,
        EntryKind::Accrual,
        EntryKind::Redemption,
        EntryKind::Reversal,
        EntryKind::Adjustment,
        EntryKind::Import,
        EntryKind::Legacy,
        EntryKind::Expiry,
    ]
    .into_iter()
    .map(|kind| (kind.as_str().to_string(), json!(t.entry_kind(kind))))
    .collect();
    let language_names: Map<String, Value> =
        Language::ALL.into_iter().map(|l| (l.code().to_string(), json!(l.say(Fixed::LanguageName)))).collect();
    let app = app_only(lang);
    merge([
        json!({
        "lang": lang.code(),
        "points": {
            "one": points_word(t, 1),
            "few": points_word(t, 2),
            "many": points_word(t, 5),
            "other": points_word(t, 0),
        },
        "decimal_sep": t.decimal_sep().to_string(),
        "kinds": kinds,
        "language_names": language_names,

        }),
        json!({
        // ---------------------------------------------------- navigation
        "nav_card": b(Button::Card),
        "nav_card_icon": bi(Button::Card),
        "nav_history": b(Button::History),
        "nav_history_icon": bi(Button::History),
        "nav_partners": b(Button::Partners),
        "nav_partners_icon": bi(Button::Partners),
        "nav_settings": app.settings,
        "nav_settings_icon": "⚙️",

        }),
        json!({
        // ------------------------------------------------------ the card
        // {code}: the printed code.
        "card_caption": tpl(t.card_caption(Esc("{code}")), &[], t),
        "card_rotating": app.card_rotating,
        // {balance}: points(balance).
        "balance": tpl(t.balance(a), &[("balance", Arg::Points(a))], t),
        // {name}: the tier's name (tier_status without the multiplier).
        "tier_name": without_times(&tpl(t.tier_status(Esc("{name}"), "{times}"), &[], t)),
        // {tier}: the tier's number, when the program's tier names are not known.
        "tier_number": app.tier_number,
        "tier_none": app.tier_none,
        // {needed_pts}: qualifying points still needed, {next}: the next tier's name.
        "tier_progress": tpl(t.tier_progress(Pts(a), Esc("{next}")), &[("needed_pts", Arg::Pts(a))], t),
        // {needed_pts}: purchases still needed, {next}: the next tier's name.
        "tier_progress_spend": tpl(t.tier_progress_spend(Pts(a), Esc("{next}")), &[("needed_pts", Arg::Pts(a))], t),
        // {points}: points(the sum), {date}: the soonest date.
        "expiring": tpl(t.points_expiring_soon(a, "{date}"), &[("points", Arg::Points(a))], t),

        }),
        json!({
        // ------------------------------------------------------- history
        "history_title": label(t.fixed(Fixed::HistoryTitle)),
        "no_history": f(Fixed::NoHistory),

        }),
        json!({
        // ---------------------------------------------- partners, rewards
        "partners_title": label(t.fixed(Fixed::PartnersTitle)),
        "no_partners": f(Fixed::NoPartnersYet),
        // {name}, {category}, {earn} and {share} (percent, with decimal_sep).
        "partner_offer": tpl(t.partner_offer(Esc("{name}"), Esc("{category}"), "{earn}", "{share}"), &[], t),
        // {earn} and {share}: partner_offer after the name and category.
        "partner_terms": after_category(&tpl(t.partner_offer(Esc("{name}"), Esc("{category}"), "{earn}", "{share}"), &[], t)),
        "rewards_none": plain(t.rewards_none()),
        // {price_pts}: the reward's price.
        "reward_claim": tpl(t.reward_claim_button(Pts(a)), &[("price_pts", Arg::Pts(a))], t),
        // {title}, {partner}, {code}: the voucher's, {balance}: points(balance).
        "voucher_issued": tpl(
            t.voucher_issued(Esc("{title}"), Esc("{partner}"), "{code}", a),
            &[("balance", Arg::Points(a))],
            t,
        ),
        // {title}, {code}.
        "voucher_again": tpl(t.voucher_again(Esc("{title}"), "{code}"), &[], t),

        }),
        json!({
        // ------------------------------------------ a redemption request
        // {partner}; {points_pts}, {purchase_pts}, {balance_pts}: numbers.
        "redemption_request": tpl(
            t.customer_redemption_request(Esc("{partner}"), Pts(a), Pts(b2), Pts(c)),
            &[("points_pts", Arg::Pts(a)), ("purchase_pts", Arg::Pts(b2)), ("balance_pts", Arg::Pts(c))],
            t,
        ),
        "button_confirm": f(Fixed::ButtonConfirm),
        "button_decline": f(Fixed::ButtonDecline),
        // {partner}, {paid}: points(paid), {balance}: points(balance).
        "redemption_confirmed": tpl(
            t.redemption_confirmed(Esc("{partner}"), a, b2),
            &[("paid", Arg::Points(a)), ("balance", Arg::Points(b2))],
            t,
        ),
        // {partner}, {requested}: points(requested).
        "redemption_declined": tpl(
            t.redemption_declined(Esc("{partner}"), a),
            &[("requested", Arg::Points(a))],
            t,
        ),
        "redemption_expired": plain(&t.rejection(&Rejection::RedemptionExpired)),
        "redemption_closed": plain(&t.rejection(&Rejection::RedemptionClosed { status: crate::domain::RedemptionStatus::Confirmed })),

        }),
        json!({
        // ------------------------------------------------------ settings
        "language_choose": label(t.fixed(Fixed::LanguageChoose)),
        "language_set": f(Fixed::LanguageSet),
        "birthday": app.birthday,
        "birthday_day": app.day,
        "birthday_month": app.month,
        "birthday_once": app.birthday_once,
        // {day}, {month}: two digits each.
        "birthday_set": tpl(t.birthday_set(31, 12), &[("day", Arg::Int(31)), ("month", Arg::Int(12))], t),
        "save": app.save,

        }),
        json!({
        // ---------------------------------------------------- the partner
        "scan": app.scan,
        "scan_hint": app.scan_hint,
        "customer_code": app.customer_code,
        "open": app.open,
        // {name}, {code}, {balance_pts}.
        "customer_card": tpl(
            t.customer_card(Esc("{name}"), "{code}", Pts(a)),
            &[("balance_pts", Arg::Pts(a))],
            t,
        ),
        "customer_blocked": f(Fixed::CustomerCardBlocked),
        // {input}.
        "bad_code": tpl(t.partner_bad_code(Esc("{input}")), &[], t),
        "card_code_expired": f(Fixed::CardCodeExpired),
        "button_credit": f(Fixed::ButtonCredit),
        "button_redeem": f(Fixed::ButtonRedeem),
        "amount_placeholder": f(Fixed::AmountPlaceholder),
        "points_to_pay": app.points_to_pay,
        "bad_amount": f(Fixed::BadAmount),
        // {points}: the signed amount, {name}, {code}, {purchase_pts},
        // {balance_pts}, {entry}: the operation's id.
        "credited": tpl(
            t.credited(Signed(a), Esc("{name}"), "{code}", Pts(b2), Pts(c), EntryId(d), false),
            &[
                ("points", Arg::Signed(a)),
                ("purchase_pts", Arg::Pts(b2)),
                ("balance_pts", Arg::Pts(c)),
                ("entry", Arg::Int(d)),
            ],
            t,
        ),
        // {code}, {purchase_pts}.
        "credited_nothing": tpl(t.credited_nothing("{code}", Pts(a)), &[("purchase_pts", Arg::Pts(a))], t),
        // {id}, {name}, {code}, {points_pts}, {purchase_pts}.
        "redemption_sent": tpl(
            t.redemption_sent(RedemptionId(a), Esc("{name}"), "{code}", Pts(b2), Pts(c)),
            &[("id", Arg::Int(a)), ("points_pts", Arg::Pts(b2)), ("purchase_pts", Arg::Pts(c))],
            t,
        ),
        // {code}, {paid}: points(paid), {id}, {balance}: points(balance).
        "partner_confirmed": tpl(
            t.partner_confirmed(Esc("{code}"), a, b2, c),
            &[("paid", Arg::Points(a)), ("id", Arg::Int(b2)), ("balance", Arg::Points(c))],
            t,
        ),
        // {code}, {requested}: points(requested), {id}.
        "partner_declined": tpl(
            t.partner_declined(Esc("{code}"), a, b2),
            &[("requested", Arg::Points(a)), ("id", Arg::Int(b2))],
            t,
        ),
        // {id}, {points_pts}, {purchase_pts}.
        "partner_expired": tpl(
            t.redemption_expired(RedemptionId(a), Pts(b2), Pts(c)),
            &[("id", Arg::Int(a)), ("points_pts", Arg::Pts(b2)), ("purchase_pts", Arg::Pts(c))],
            t,
        ),
        "stats_issued": label(stats_issued),
        "stats_redeemed": label(stats_redeemed),
        "today": app.today,
        "last_30_days": app.last_30_days,

        }),
        json!({
        // ------------------------------------------------------- the admin
        // Lines; {customers}, {partners_approved}, {partners_pending},
        // {today_customers}, {today_purchases}: counts; {outstanding_pts}
        // (the liability), {expiring_30_pts}, {expiring_90_pts},
        // {today_issued_pts}, {today_redeemed_pts}: points.
        "program_stats": tpl(
            program,
            &[
                ("customers", Arg::Int(a)),
                ("partners_approved", Arg::Int(b2)),
                ("partners_pending", Arg::Int(c)),
                ("outstanding_pts", Arg::Pts(d)),
                ("expiring_30_pts", Arg::Pts(e)),
                ("expiring_90_pts", Arg::Pts(g)),
                ("today_customers", Arg::Int(h)),
                ("today_purchases", Arg::Int(i)),
                ("today_issued_pts", Arg::Pts(j)),
                ("today_redeemed_pts", Arg::Pts(k)),
            ],
            t,
        ),

        }),
        json!({
        // -------------------------------------------------------- errors
        "auth_error": app.auth_error,
        "outside_telegram": app.outside_telegram.replace("{button}", &plain(t.button(Button::App))),
        "network_error": app.network_error,
        "internal_error": f(Fixed::InternalError),
        "need_start": f(Fixed::NeedStart),
        "blocked": f(Fixed::Blocked),
        "refusal": f(Fixed::Refusal),
        "loading": app.loading,
        }),
    ])
}

/// The objects' entries in one object.
fn merge<const N: usize>(parts: [Value; N]) -> Value {
    let mut out = Map::new();
    for part in parts {
        if let Value::Object(m) = part {
            out.extend(m);
        }
    }
    Value::Object(out)
}

/// What only the app says (the bots have no such text).
struct AppOnly {
    settings: &'static str,
    card_rotating: &'static str,
    tier_number: &'static str,
    tier_none: &'static str,
    birthday: &'static str,
    day: &'static str,
    month: &'static str,
    birthday_once: &'static str,
    save: &'static str,
    scan: &'static str,
    scan_hint: &'static str,
    customer_code: &'static str,
    open: &'static str,
    points_to_pay: &'static str,
    today: &'static str,
    last_30_days: &'static str,
    auth_error: &'static str,
    outside_telegram: &'static str,
    network_error: &'static str,
    loading: &'static str,
}

fn app_only(lang: Language) -> AppOnly {
    match lang {
        Language::En => AppOnly {
            settings: "Settings",
            card_rotating: "The code changes every 30 seconds, so a screenshot of it will not work.",
            tier_number: "🏅 Tier {tier}",
            tier_none: "🏅 No tier yet",
            birthday: "Birthday",
            day: "Day",
            month: "Month",
            birthday_once: "It can be set only once.",
            save: "Save",
            scan: "📷 Scan the customer's card",
            scan_hint: "Point the camera at the QR code in the customer's app",
            customer_code: "Customer code",
            open: "Open",
            points_to_pay: "Points to pay",
            today: "Today",
            last_30_days: "Last 30 days",
            auth_error: "Telegram could not confirm who you are, so nothing is shown. Close the app and open it again from the bot.",
            outside_telegram: "This page works inside Telegram: open it with the bot's “{button}” button.",
            network_error: "No connection to the server. Check your internet and try again.",
            loading: "Loading…",
        },
        Language::Ru => AppOnly {
            settings: "Настройки",
            card_rotating: "Код меняется каждые 30 секунд, поэтому его скриншот не сработает.",
            tier_number: "🏅 Уровень {tier}",
            tier_none: "🏅 Уровня пока нет",
            birthday: "День рождения",
            day: "День",
            month: "Месяц",
            birthday_once: "Его можно указать только один раз.",
            save: "Сохранить",
            scan: "📷 Сканировать карту клиента",
            scan_hint: "Наведите камеру на QR-код в приложении клиента",
            customer_code: "Код клиента",
            open: "Открыть",
            points_to_pay: "Баллов к оплате",
            today: "Сегодня",
            last_30_days: "Последние 30 дней",
            auth_error: "Telegram не подтвердил, кто вы, поэтому данные не показаны. Закройте приложение и откройте его снова из бота.",
            outside_telegram: "Эта страница работает внутри Telegram: откройте её кнопкой бота «{button}».",
            network_error: "Нет связи с сервером. Проверьте интернет и попробуйте ещё раз.",
            loading: "Загрузка…",
        },
        Language::Vi => AppOnly {
            settings: "Cài đặt",
            card_rotating: "Mã thay đổi sau mỗi 30 giây, vì vậy ảnh chụp màn hình sẽ không dùng được.",
            tier_number: "🏅 Hạng {tier}",
            tier_none: "🏅 Chưa có hạng",
            birthday: "Sinh nhật",
            day: "Ngày",
            month: "Tháng",
            birthday_once: "Chỉ có thể đặt một lần.",
            save: "Lưu",
            scan: "📷 Quét thẻ của khách",
            scan_hint: "Hướng camera vào mã QR trong ứng dụng của khách",
            customer_code: "Mã khách hàng",
            open: "Mở",
            points_to_pay: "Số điểm thanh toán",
            today: "Hôm nay",
            last_30_days: "30 ngày qua",
            auth_error: "Telegram không xác nhận được bạn là ai nên không hiển thị dữ liệu. Hãy đóng ứng dụng và mở lại từ bot.",
            outside_telegram: "Trang này chạy trong Telegram: hãy mở bằng nút “{button}” của bot.",
            network_error: "Không kết nối được máy chủ. Hãy kiểm tra internet và thử lại.",
            loading: "Đang tải…",
        },
    }
}
