//! The client bot's text catalogue: one function per message, each an
//! exhaustive `match` on [`Language`], so adding a language is a compile error
//! until every message is translated.
//!
//! Texts use Telegram's HTML parse mode. Arguments that come from people
//! (names, partner names) are escaped here; numbers are formatted with
//! [`fmt_points`].

use crate::bots::common::{entry_line, fmt_points};
use crate::domain::{Language, LedgerEntry, Partner, Points};
use crate::telegram::escape_html;

use Language::{En, Ru, Vi};

/// The first character of the "ask a question" prompt. A message replying to a
/// bot message that starts with it is a question for the assistant.
pub(super) const ASK_MARKER: &str = "❓";

/// The buttons of the main menu (a persistent reply keyboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Button {
    Balance,
    History,
    Card,
    Partners,
    Invite,
    Ask,
    Language,
    App,
}

impl Button {
    /// Every menu button, in menu order.
    pub(super) const ALL: [Button; 8] = [
        Button::Balance,
        Button::History,
        Button::Card,
        Button::Partners,
        Button::Invite,
        Button::Ask,
        Button::Language,
        Button::App,
    ];

    /// The button whose label (in any language) `text` is. Matching ignores
    /// case, surrounding spaces and the leading emoji, so a label typed by hand
    /// works too, and a user who just switched language can still press a
    /// button of an older keyboard.
    pub(super) fn from_label(text: &str) -> Option<Button> {
        let wanted = normalize(text);
        if wanted.is_empty() {
            return None;
        }
        Button::ALL.into_iter().find(|b| Language::ALL.into_iter().any(|lang| normalize(label(lang, *b)) == wanted))
    }
}

/// A label without its leading emoji and spaces, lower-cased.
fn normalize(s: &str) -> String {
    s.trim().trim_start_matches(|c: char| !c.is_alphanumeric()).trim().to_lowercase()
}

/// A menu button's label.
pub(super) fn label(lang: Language, b: Button) -> &'static str {
    match (lang, b) {
        (Ru, Button::Balance) => "💰 Баланс",
        (Ru, Button::History) => "📜 История",
        (Ru, Button::Card) => "💳 Моя карта",
        (Ru, Button::Partners) => "🏪 Партнёры",
        (Ru, Button::Invite) => "🎁 Пригласить друга",
        (Ru, Button::Ask) => "💬 Задать вопрос",
        (Ru, Button::Language) => "🌐 Язык",
        (Ru, Button::App) => "📱 Открыть приложение",
        (En, Button::Balance) => "💰 Balance",
        (En, Button::History) => "📜 History",
        (En, Button::Card) => "💳 My card",
        (En, Button::Partners) => "🏪 Partners",
        (En, Button::Invite) => "🎁 Invite a friend",
        (En, Button::Ask) => "💬 Ask a question",
        (En, Button::Language) => "🌐 Language",
        (En, Button::App) => "📱 Open app",
        (Vi, Button::Balance) => "💰 Số dư",
        (Vi, Button::History) => "📜 Lịch sử",
        (Vi, Button::Card) => "💳 Thẻ của tôi",
        (Vi, Button::Partners) => "🏪 Đối tác",
        (Vi, Button::Invite) => "🎁 Mời bạn bè",
        (Vi, Button::Ask) => "💬 Đặt câu hỏi",
        (Vi, Button::Language) => "🌐 Ngôn ngữ",
        (Vi, Button::App) => "📱 Mở ứng dụng",
    }
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

/// `n` followed by the word "points", with plural forms.
pub(super) fn points(lang: Language, n: Points) -> String {
    let word = match lang {
        Ru => ru_plural(n.unsigned_abs(), "балл", "балла", "баллов"),
        En => {
            if n.unsigned_abs() == 1 {
                "point"
            } else {
                "points"
            }
        }
        Vi => "điểm",
    };
    format!("{} {word}", fmt_points(n))
}

/// A rate in basis points as a percentage with integer arithmetic only:
/// 500 → `5`, 550 → `5.5`, 1234 → `12.34` (`sep` is the decimal separator).
pub(super) fn percent(bps: u32, sep: char) -> String {
    let (whole, frac) = (bps / 100, bps % 100);
    if frac == 0 {
        format!("{whole}")
    } else if frac % 10 == 0 {
        format!("{whole}{sep}{}", frac / 10)
    } else {
        format!("{whole}{sep}{frac:02}")
    }
}

fn decimal_sep(lang: Language) -> char {
    match lang {
        Ru | Vi => ',',
        En => '.',
    }
}

/// Greeting for a new customer.
pub(super) fn welcome(lang: Language, first_name: &str, bonus: Points, balance: Points) -> String {
    let name = escape_html(first_name);
    let bonus_line = if bonus > 0 {
        match lang {
            Ru => format!("\n🎁 Приветственный бонус: <b>{}</b>.", points(lang, bonus)),
            En => format!("\n🎁 Welcome bonus: <b>{}</b>.", points(lang, bonus)),
            Vi => format!("\n🎁 Thưởng chào mừng: <b>{}</b>.", points(lang, bonus)),
        }
    } else {
        String::new()
    };
    match lang {
        Ru => format!(
            "👋 Добро пожаловать, {name}!\nВы в программе лояльности: копите баллы у партнёров и оплачивайте ими покупки.{bonus_line}\nВаш баланс: <b>{}</b>.\n\nНажмите «💳 Моя карта» и покажите QR-код на кассе.",
            points(lang, balance)
        ),
        En => format!(
            "👋 Welcome, {name}!\nYou have joined the loyalty program: earn points at our partners and pay with them.{bonus_line}\nYour balance: <b>{}</b>.\n\nTap “💳 My card” and show the QR code at the checkout.",
            points(lang, balance)
        ),
        Vi => format!(
            "👋 Chào mừng {name}!\nBạn đã tham gia chương trình khách hàng thân thiết: tích điểm tại các đối tác và dùng điểm để thanh toán.{bonus_line}\nSố dư của bạn: <b>{}</b>.\n\nNhấn “💳 Thẻ của tôi” và đưa mã QR khi thanh toán.",
            points(lang, balance)
        ),
    }
}

/// Greeting for a customer who sends `/start` again.
pub(super) fn welcome_back(lang: Language, first_name: &str, balance: Points) -> String {
    let name = escape_html(first_name);
    match lang {
        Ru => format!("👋 С возвращением, {name}! Ваш баланс: <b>{}</b>.", points(lang, balance)),
        En => format!("👋 Welcome back, {name}! Your balance: <b>{}</b>.", points(lang, balance)),
        Vi => format!("👋 Chào mừng {name} quay lại! Số dư của bạn: <b>{}</b>.", points(lang, balance)),
    }
}

/// Tells a referrer that a friend joined through their link.
pub(super) fn referral_credited(lang: Language, friend: &str, bonus: Points, balance: Points) -> String {
    let friend = escape_html(friend);
    match lang {
        Ru => format!(
            "🎉 {friend} присоединился по вашей ссылке! Вам начислено <b>{}</b>. Баланс: <b>{}</b>.",
            points(lang, bonus),
            points(lang, balance)
        ),
        En => format!(
            "🎉 {friend} joined through your link! You got <b>{}</b>. Balance: <b>{}</b>.",
            points(lang, bonus),
            points(lang, balance)
        ),
        Vi => format!(
            "🎉 {friend} đã tham gia qua liên kết của bạn! Bạn được cộng <b>{}</b>. Số dư: <b>{}</b>.",
            points(lang, bonus),
            points(lang, balance)
        ),
    }
}

/// A note for blocked customers.
pub(super) fn blocked(lang: Language) -> &'static str {
    match lang {
        Ru => "⛔ Ваш аккаунт заблокирован: начисление и списание баллов недоступны. Обратитесь в поддержку.",
        En => "⛔ Your account is blocked: you cannot earn or spend points. Please contact support.",
        Vi => "⛔ Tài khoản của bạn đã bị khóa: không thể tích hoặc dùng điểm. Vui lòng liên hệ hỗ trợ.",
    }
}

/// Asks an unregistered user to sign up first.
pub(super) fn need_start(lang: Language) -> &'static str {
    match lang {
        Ru => "Чтобы начать, отправьте /start.",
        En => "To get started, send /start.",
        Vi => "Để bắt đầu, hãy gửi /start.",
    }
}

/// What the bot can do (shown with the menu).
pub(super) fn help(lang: Language) -> String {
    let l = |b| label(lang, b);
    let (title, cmds) = match lang {
        Ru => ("Что я умею:", "Команды: /balance /history /card /partners /invite /ask /language /app /menu"),
        En => {
            ("Here is what I can do:", "Commands: /balance /history /card /partners /invite /ask /language /app /menu")
        }
        Vi => ("Tôi có thể giúp bạn:", "Lệnh: /balance /history /card /partners /invite /ask /language /app /menu"),
    };
    let lines = match lang {
        Ru => [
            "ваш баланс баллов",
            "последние операции",
            "QR-код для кассира",
            "где копить и тратить баллы",
            "ссылка для друзей",
            "вопрос помощнику",
            "сменить язык",
        ],
        En => [
            "your points balance",
            "recent operations",
            "QR code for the cashier",
            "where to earn and spend points",
            "a link for your friends",
            "ask the assistant",
            "change the language",
        ],
        Vi => [
            "số dư điểm của bạn",
            "các giao dịch gần đây",
            "mã QR cho thu ngân",
            "nơi tích và dùng điểm",
            "liên kết mời bạn bè",
            "hỏi trợ lý",
            "đổi ngôn ngữ",
        ],
    };
    let mut out = format!("{title}\n");
    for (b, what) in Button::ALL.into_iter().zip(lines) {
        out.push_str(&format!("{} — {what}\n", l(b)));
    }
    out.push('\n');
    out.push_str(cmds);
    out
}

/// Reply to text the bot does not understand.
pub(super) fn unknown(lang: Language) -> String {
    let head = match lang {
        Ru => "🤔 Не понял. Воспользуйтесь кнопками меню.",
        En => "🤔 Sorry, I did not get that. Please use the menu buttons.",
        Vi => "🤔 Xin lỗi, tôi chưa hiểu. Hãy dùng các nút trong menu.",
    };
    format!("{head}\n\n{}", help(lang))
}

/// The balance with a few recent entries.
pub(super) fn balance(lang: Language, balance: Points, recent: &[LedgerEntry]) -> String {
    let mut out = match lang {
        Ru => format!("💰 Ваш баланс: <b>{}</b>", points(lang, balance)),
        En => format!("💰 Your balance: <b>{}</b>", points(lang, balance)),
        Vi => format!("💰 Số dư của bạn: <b>{}</b>", points(lang, balance)),
    };
    if !recent.is_empty() {
        out.push_str(match lang {
            Ru => "\n\nПоследние операции:",
            En => "\n\nRecent operations:",
            Vi => "\n\nGiao dịch gần đây:",
        });
        for e in recent {
            out.push('\n');
            out.push_str(&entry_line(lang, e));
        }
    }
    out
}

/// The history, newest first.
pub(super) fn history(lang: Language, entries: &[LedgerEntry]) -> String {
    if entries.is_empty() {
        return match lang {
            Ru => "📜 Операций пока нет.",
            En => "📜 No operations yet.",
            Vi => "📜 Chưa có giao dịch nào.",
        }
        .to_string();
    }
    let mut out = match lang {
        Ru => "📜 Последние операции:",
        En => "📜 Recent operations:",
        Vi => "📜 Giao dịch gần đây:",
    }
    .to_string();
    for e in entries {
        out.push('\n');
        out.push_str(&entry_line(lang, e));
    }
    out
}

/// Caption of the QR card.
pub(super) fn card_caption(lang: Language, code: &str) -> String {
    let code = escape_html(code);
    match lang {
        Ru => format!("💳 Ваша карта. Покажите QR-код кассиру или назовите код: <code>{code}</code>"),
        En => format!("💳 Your card. Show the QR code to the cashier or tell them your code: <code>{code}</code>"),
        Vi => format!("💳 Thẻ của bạn. Đưa mã QR cho thu ngân hoặc đọc mã: <code>{code}</code>"),
    }
}

/// The card as text, when no QR image can be made.
pub(super) fn card_code_only(lang: Language, code: &str) -> String {
    let code = escape_html(code);
    match lang {
        Ru => format!("💳 Ваш код клиента: <code>{code}</code>\nНазовите его кассиру."),
        En => format!("💳 Your customer code: <code>{code}</code>\nTell it to the cashier."),
        Vi => format!("💳 Mã khách hàng của bạn: <code>{code}</code>\nHãy đọc mã này cho thu ngân."),
    }
}

/// The list of approved partners.
pub(super) fn partners(lang: Language, list: &[Partner], max_lines: usize) -> String {
    if list.is_empty() {
        return match lang {
            Ru => "🏪 Партнёров пока нет — скоро появятся!",
            En => "🏪 No partners yet — coming soon!",
            Vi => "🏪 Chưa có đối tác nào — sắp có!",
        }
        .to_string();
    }
    let mut out = match lang {
        Ru => "🏪 Где копить и тратить баллы:",
        En => "🏪 Where to earn and spend points:",
        Vi => "🏪 Nơi tích và dùng điểm:",
    }
    .to_string();
    let sep = decimal_sep(lang);
    for p in list.iter().take(max_lines) {
        let name = escape_html(&p.name);
        let cat = escape_html(&p.category);
        let earn = percent(p.terms.earn_rate_bps, sep);
        let share = percent(p.terms.max_redeem_share_bps, sep);
        out.push('\n');
        out.push_str(&match lang {
            Ru => {
                format!("• <b>{name}</b> ({cat}): возврат {earn} % баллами, баллами можно оплатить до {share} % чека")
            }
            En => format!("• <b>{name}</b> ({cat}): {earn} % back, pay up to {share} % of a purchase with points"),
            Vi => format!("• <b>{name}</b> ({cat}): tích {earn} %, thanh toán bằng điểm tối đa {share} % hóa đơn"),
        });
    }
    let more = list.len().saturating_sub(max_lines);
    if more > 0 {
        out.push('\n');
        out.push_str(&match lang {
            Ru => format!("…и ещё {more}"),
            En => format!("…and {more} more"),
            Vi => format!("…và {more} đối tác khác"),
        });
    }
    out
}

/// The personal referral link.
pub(super) fn invite(lang: Language, link: &str, bonus: Points) -> String {
    let link = escape_html(link);
    let reward = if bonus > 0 {
        match lang {
            Ru => format!(" Когда друг присоединится, вы получите <b>{}</b>.", points(lang, bonus)),
            En => format!(" When a friend joins, you get <b>{}</b>.", points(lang, bonus)),
            Vi => format!(" Khi bạn bè tham gia, bạn nhận được <b>{}</b>.", points(lang, bonus)),
        }
    } else {
        String::new()
    };
    match lang {
        Ru => format!("🎁 Пригласите друзей по вашей личной ссылке.{reward}\n\n{link}"),
        En => format!("🎁 Invite friends with your personal link.{reward}\n\n{link}"),
        Vi => format!("🎁 Mời bạn bè bằng liên kết cá nhân của bạn.{reward}\n\n{link}"),
    }
}

/// The referral instructions when the bot's username is unknown.
pub(super) fn invite_code_only(lang: Language, code: &str, bonus: Points) -> String {
    let code = escape_html(code);
    let reward = if bonus > 0 {
        match lang {
            Ru => format!(" Вы получите <b>{}</b>.", points(lang, bonus)),
            En => format!(" You will get <b>{}</b>.", points(lang, bonus)),
            Vi => format!(" Bạn sẽ nhận được <b>{}</b>.", points(lang, bonus)),
        }
    } else {
        String::new()
    };
    match lang {
        Ru => format!("🎁 Попросите друга отправить этому боту: <code>/start ref_{code}</code>.{reward}"),
        En => format!("🎁 Ask a friend to send this bot: <code>/start ref_{code}</code>.{reward}"),
        Vi => format!("🎁 Hãy nhờ bạn bè gửi cho bot này: <code>/start ref_{code}</code>.{reward}"),
    }
}

/// The prompt for a question; starts with [`ASK_MARKER`].
pub(super) fn ask_prompt(lang: Language) -> String {
    let body = match lang {
        Ru => "Задайте вопрос о программе — ответьте на это сообщение.",
        En => "Ask a question about the program — reply to this message.",
        Vi => "Hãy đặt câu hỏi về chương trình — trả lời tin nhắn này.",
    };
    format!("{ASK_MARKER} {body}")
}

/// Placeholder in the input field while replying to the prompt (≤ 64 characters).
pub(super) fn ask_placeholder(lang: Language) -> &'static str {
    match lang {
        Ru => "Ваш вопрос",
        En => "Your question",
        Vi => "Câu hỏi của bạn",
    }
}

/// The assistant is not configured.
pub(super) fn assistant_unavailable(lang: Language) -> &'static str {
    match lang {
        Ru => "💬 Помощник сейчас недоступен. Загляните в «🏪 Партнёры» или спросите на кассе.",
        En => "💬 The assistant is not available right now. See “🏪 Partners” or ask at the checkout.",
        Vi => "💬 Trợ lý hiện không khả dụng. Hãy xem “🏪 Đối tác” hoặc hỏi tại quầy thu ngân.",
    }
}

/// The question is longer than `max` characters.
pub(super) fn question_too_long(lang: Language, max: usize) -> String {
    match lang {
        Ru => format!("✂️ Вопрос слишком длинный. Пожалуйста, уложитесь в {max} символов."),
        En => format!("✂️ That question is too long. Please keep it under {max} characters."),
        Vi => format!("✂️ Câu hỏi quá dài. Vui lòng viết ngắn hơn {max} ký tự."),
    }
}

/// The daily question limit is reached.
pub(super) fn quota_exhausted(lang: Language, limit: u32) -> String {
    match lang {
        Ru => format!(
            "⏳ Сегодня вы уже задали {limit} {} — это дневной лимит. Возвращайтесь завтра!",
            ru_plural(u64::from(limit), "вопрос", "вопроса", "вопросов")
        ),
        En => format!(
            "⏳ You have asked {limit} {} today, which is the daily limit. Come back tomorrow!",
            if limit == 1 { "question" } else { "questions" }
        ),
        Vi => format!("⏳ Hôm nay bạn đã hỏi {limit} câu, đạt giới hạn trong ngày. Hãy quay lại vào ngày mai!"),
    }
}

/// Acknowledges a question; the answer follows.
pub(super) fn thinking(lang: Language) -> &'static str {
    match lang {
        Ru => "🤔 Думаю…",
        En => "🤔 Thinking…",
        Vi => "🤔 Đang suy nghĩ…",
    }
}

/// The assistant failed to answer.
pub(super) fn assistant_failed(lang: Language) -> &'static str {
    match lang {
        Ru => "😔 Не получилось ответить на вопрос. Попробуйте ещё раз чуть позже.",
        En => "😔 Sorry, I could not answer that right now. Please try again a bit later.",
        Vi => "😔 Xin lỗi, hiện tôi chưa thể trả lời. Vui lòng thử lại sau.",
    }
}

/// The program's name for the assistant when the bot's name is unknown.
pub(super) fn program_fallback(lang: Language) -> &'static str {
    match lang {
        Ru => "программа лояльности",
        En => "loyalty program",
        Vi => "chương trình khách hàng thân thiết",
    }
}

/// Asks to pick a language.
pub(super) fn language_choose(lang: Language) -> &'static str {
    match lang {
        Ru => "🌐 Выберите язык:",
        En => "🌐 Choose your language:",
        Vi => "🌐 Chọn ngôn ngữ:",
    }
}

/// A language's own name, for the language buttons.
pub(super) fn language_name(lang: Language) -> &'static str {
    match lang {
        Ru => "🇷🇺 Русский",
        En => "🇬🇧 English",
        Vi => "🇻🇳 Tiếng Việt",
    }
}

/// Confirms the new language, in that language.
pub(super) fn language_set(lang: Language) -> &'static str {
    match lang {
        Ru => "✅ Язык: русский.",
        En => "✅ Language: English.",
        Vi => "✅ Ngôn ngữ: Tiếng Việt.",
    }
}

/// Text with the "Open app" button.
pub(super) fn app_open(lang: Language) -> &'static str {
    match lang {
        Ru => "📱 Откройте приложение программы:",
        En => "📱 Open the program's app:",
        Vi => "📱 Mở ứng dụng của chương trình:",
    }
}

/// No front end is configured.
pub(super) fn app_unavailable(lang: Language) -> &'static str {
    match lang {
        Ru => "📱 Приложение пока недоступно — всё можно сделать здесь, в чате.",
        En => "📱 The app is not available yet — you can do everything right here in the chat.",
        Vi => "📱 Ứng dụng chưa khả dụng — bạn có thể làm mọi thứ ngay trong cuộc trò chuyện này.",
    }
}

/// Toast after confirming a payment with points.
pub(super) fn redemption_confirmed_toast(lang: Language) -> &'static str {
    match lang {
        Ru => "✅ Оплата подтверждена",
        En => "✅ Payment confirmed",
        Vi => "✅ Đã xác nhận thanh toán",
    }
}

/// The request message after confirming.
pub(super) fn redemption_confirmed(lang: Language, partner: &str, paid: Points, balance: Points) -> String {
    let partner = escape_html(partner);
    match lang {
        Ru => format!(
            "✅ Вы оплатили <b>{}</b> в «{partner}».\nБаланс: <b>{}</b>.",
            points(lang, paid),
            points(lang, balance)
        ),
        En => format!(
            "✅ You paid <b>{}</b> at {partner}.\nBalance: <b>{}</b>.",
            points(lang, paid),
            points(lang, balance)
        ),
        Vi => format!(
            "✅ Bạn đã thanh toán <b>{}</b> tại {partner}.\nSố dư: <b>{}</b>.",
            points(lang, paid),
            points(lang, balance)
        ),
    }
}

/// Toast after declining.
pub(super) fn redemption_declined_toast(lang: Language) -> &'static str {
    match lang {
        Ru => "Запрос отклонён",
        En => "Request declined",
        Vi => "Đã từ chối yêu cầu",
    }
}

/// The request message after declining.
pub(super) fn redemption_declined(lang: Language, partner: &str, requested: Points) -> String {
    let partner = escape_html(partner);
    match lang {
        Ru => format!("❌ Вы отклонили списание <b>{}</b> в «{partner}». Баллы не списаны.", points(lang, requested)),
        En => format!("❌ You declined paying <b>{}</b> at {partner}. No points were taken.", points(lang, requested)),
        Vi => format!(
            "❌ Bạn đã từ chối thanh toán <b>{}</b> tại {partner}. Không có điểm nào bị trừ.",
            points(lang, requested)
        ),
    }
}

/// A second tap on "Confirm".
pub(super) fn already_confirmed(lang: Language) -> &'static str {
    match lang {
        Ru => "Уже подтверждено",
        En => "Already confirmed",
        Vi => "Đã xác nhận rồi",
    }
}

/// A second tap on "Decline".
pub(super) fn already_declined(lang: Language) -> &'static str {
    match lang {
        Ru => "Уже отклонено",
        En => "Already declined",
        Vi => "Đã từ chối rồi",
    }
}

/// A button whose data the bot does not recognise (an old or forged message).
pub(super) fn stale_button(lang: Language) -> &'static str {
    match lang {
        Ru => "Эта кнопка больше не действует.",
        En => "This button is no longer active.",
        Vi => "Nút này không còn hiệu lực.",
    }
}

/// To the partner: the customer confirmed a redemption.
pub(super) fn partner_confirmed(lang: Language, code: &str, paid: Points, request: i64, balance: Points) -> String {
    let code = escape_html(code);
    match lang {
        Ru => format!(
            "✅ Клиент <code>{code}</code> оплатил <b>{}</b> по запросу #{request}. Его баланс: {}.",
            points(lang, paid),
            points(lang, balance)
        ),
        En => format!(
            "✅ Customer <code>{code}</code> paid <b>{}</b> for request #{request}. Their balance: {}.",
            points(lang, paid),
            points(lang, balance)
        ),
        Vi => format!(
            "✅ Khách hàng <code>{code}</code> đã thanh toán <b>{}</b> cho yêu cầu #{request}. Số dư của khách: {}.",
            points(lang, paid),
            points(lang, balance)
        ),
    }
}

/// To the partner: the customer declined a redemption.
pub(super) fn partner_declined(lang: Language, code: &str, requested: Points, request: i64) -> String {
    let code = escape_html(code);
    match lang {
        Ru => format!(
            "❌ Клиент <code>{code}</code> отклонил списание <b>{}</b> по запросу #{request}.",
            points(lang, requested)
        ),
        En => format!(
            "❌ Customer <code>{code}</code> declined paying <b>{}</b> for request #{request}.",
            points(lang, requested)
        ),
        Vi => format!(
            "❌ Khách hàng <code>{code}</code> đã từ chối thanh toán <b>{}</b> cho yêu cầu #{request}.",
            points(lang, requested)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PartnerId, PartnerStatus, PartnerTerms, Timestamp};

    #[test]
    fn labels_are_unique_and_round_trip_in_every_language() {
        let mut seen = std::collections::HashSet::new();
        for lang in Language::ALL {
            for b in Button::ALL {
                let l = label(lang, b);
                assert!(seen.insert(normalize(l)), "duplicate label {l}");
                assert_eq!(Button::from_label(l), Some(b));
                assert_eq!(Button::from_label(&format!("  {}  ", l.to_uppercase())), Some(b));
            }
        }
        assert_eq!(Button::from_label("balance"), Some(Button::Balance));
        assert_eq!(Button::from_label("баланс"), Some(Button::Balance));
        assert_eq!(Button::from_label("💰"), None);
        assert_eq!(Button::from_label(""), None);
        assert_eq!(Button::from_label("balance please"), None);
    }

    #[test]
    fn percentages_use_integers() {
        assert_eq!(percent(500, '.'), "5");
        assert_eq!(percent(550, '.'), "5.5");
        assert_eq!(percent(1234, ','), "12,34");
        assert_eq!(percent(5, '.'), "0.05");
        assert_eq!(percent(10_000, '.'), "100");
        assert_eq!(percent(u32::MAX, '.'), "42949672.95");
    }

    #[test]
    fn russian_plurals() {
        assert_eq!(points(Ru, 1), "1 балл");
        assert_eq!(points(Ru, 3), "3 балла");
        assert_eq!(points(Ru, 5), "5 баллов");
        assert_eq!(points(Ru, 11), "11 баллов");
        assert_eq!(points(Ru, 21), "21 балл");
        assert_eq!(points(Ru, 112), "112 баллов");
        assert_eq!(points(Ru, -2), "−2 балла");
        assert!(quota_exhausted(Ru, 3).contains("3 вопроса"));
        assert!(quota_exhausted(Ru, 20).contains("20 вопросов"));
        assert!(quota_exhausted(En, 1).contains("1 question today"));
        assert_eq!(points(En, 1), "1 point");
        assert_eq!(points(En, 2), "2 points");
        assert_eq!(points(Vi, 2), "2 điểm");
    }

    #[test]
    fn every_text_differs_between_languages() {
        let partner = Partner {
            id: PartnerId(1),
            telegram_id: crate::domain::TelegramUserId(2),
            name: "Pho <24>".into(),
            category: "cafe".into(),
            status: PartnerStatus::Approved,
            terms: PartnerTerms::default(),
            language: En,
            has_api_key: false,
            created_at: Timestamp(0),
        };
        let texts = |lang: Language| -> Vec<String> {
            vec![
                welcome(lang, "A", 100, 100),
                welcome(lang, "A", 0, 0),
                welcome_back(lang, "A", 5),
                referral_credited(lang, "A", 50, 50),
                blocked(lang).into(),
                need_start(lang).into(),
                help(lang),
                unknown(lang),
                balance(lang, 5, &[]),
                history(lang, &[]),
                card_caption(lang, "ABCD2345"),
                card_code_only(lang, "ABCD2345"),
                partners(lang, &[], 10),
                partners(lang, std::slice::from_ref(&partner), 10),
                invite(lang, "https://t.me/x?start=ref_ABCD2345", 50),
                invite_code_only(lang, "ABCD2345", 50),
                ask_prompt(lang),
                ask_placeholder(lang).into(),
                assistant_unavailable(lang).into(),
                question_too_long(lang, 1000),
                quota_exhausted(lang, 3),
                thinking(lang).into(),
                assistant_failed(lang).into(),
                program_fallback(lang).into(),
                language_choose(lang).into(),
                language_name(lang).into(),
                language_set(lang).into(),
                app_open(lang).into(),
                app_unavailable(lang).into(),
                redemption_confirmed_toast(lang).into(),
                redemption_confirmed(lang, "P", 10, 90),
                redemption_declined_toast(lang).into(),
                redemption_declined(lang, "P", 10),
                already_confirmed(lang).into(),
                already_declined(lang).into(),
                stale_button(lang).into(),
                partner_confirmed(lang, "ABCD2345", 10, 7, 90),
                partner_declined(lang, "ABCD2345", 10, 7),
            ]
        };
        let (ru, en, vi) = (texts(Ru), texts(En), texts(Vi));
        for i in 0..en.len() {
            assert!(!en[i].is_empty() && !ru[i].is_empty() && !vi[i].is_empty(), "text {i} is empty");
            assert_ne!(en[i], ru[i], "text {i} is not translated to ru");
            assert_ne!(en[i], vi[i], "text {i} is not translated to vi");
        }
        for lang in Language::ALL {
            assert!(ask_prompt(lang).starts_with(ASK_MARKER));
            assert!(ask_placeholder(lang).chars().count() <= 64);
            let p = partners(lang, std::slice::from_ref(&partner), 10);
            assert!(p.contains("Pho &lt;24&gt;") && !p.contains("<24>"), "partner names are escaped: {p}");
        }
    }

    #[test]
    fn partner_list_is_capped() {
        let p = Partner {
            id: PartnerId(1),
            telegram_id: crate::domain::TelegramUserId(2),
            name: "P".into(),
            category: "c".into(),
            status: PartnerStatus::Approved,
            terms: PartnerTerms::default(),
            language: En,
            has_api_key: false,
            created_at: Timestamp(0),
        };
        let list = vec![p; 5];
        let out = partners(En, &list, 3);
        assert_eq!(out.matches("• ").count(), 3);
        assert!(out.ends_with("…and 2 more"));
    }
}
