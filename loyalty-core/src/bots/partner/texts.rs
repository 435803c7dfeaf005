//! The partner bot's text catalogue: one function per message, every language
//! spelled out. Texts are HTML; anything a person typed is escaped here.
//!
//! A few messages go to customers (through the client bot); they are written
//! in the customer's language and are marked so below.

use crate::bots::common::{fmt_points, fmt_signed};
use crate::domain::{EntryId, Language, Points, RedemptionId};
use crate::ports::PartnerStats;
use crate::telegram::escape_html;

use super::{APPLY_MARKER, CREDIT_MARKER, REDEEM_MARKER};

/// The introduction and the application prompt (sent with `force_reply`).
/// Starts with [`APPLY_MARKER`] so the answer is recognised.
pub(super) fn apply_prompt(lang: Language) -> String {
    let body = match lang {
        Language::En => {
            "<b>Become a partner of the loyalty program.</b>\nYour customers earn points on every purchase and pay \
             with them at your place; you credit and redeem points right here.\n\nTo apply, <b>reply to this \
             message</b> with your business name and category separated by a semicolon, for example:\n\
             <code>Pho 24; cafe</code>"
        }
        Language::Ru => {
            "<b>Станьте партнёром программы лояльности.</b>\nВаши клиенты получают баллы за покупки и оплачивают \
             ими часть следующих; начислять и списывать баллы можно прямо здесь.\n\nЧтобы подать заявку, \
             <b>ответьте на это сообщение</b>: название заведения и категория через точку с запятой, например:\n\
             <code>Кофейня Зерно; кафе</code>"
        }
        Language::Vi => {
            "<b>Trở thành đối tác của chương trình khách hàng thân thiết.</b>\nKhách hàng của bạn tích điểm khi mua \
             hàng và dùng điểm để thanh toán tại cửa hàng; bạn cộng và trừ điểm ngay tại đây.\n\nĐể đăng ký, hãy \
             <b>trả lời tin nhắn này</b> với tên cửa hàng và loại hình, cách nhau bằng dấu chấm phẩy, ví dụ:\n\
             <code>Phở 24; quán ăn</code>"
        }
    };
    format!("{APPLY_MARKER} {body}")
}

/// Placeholder in the input field for the application answer.
pub(super) fn apply_placeholder(lang: Language) -> String {
    match lang {
        Language::En => "Business name; category",
        Language::Ru => "Название; категория",
        Language::Vi => "Tên cửa hàng; loại hình",
    }
    .into()
}

/// The application could not be read; asks again (with `force_reply`).
pub(super) fn application_format_error(lang: Language) -> String {
    let body = match lang {
        Language::En => {
            "Please send the business name (up to 100 characters) and the category (up to 50) in one line, \
             separated by a semicolon, for example: <code>Pho 24; cafe</code>. Reply to this message."
        }
        Language::Ru => {
            "Пришлите название (до 100 символов) и категорию (до 50) одной строкой через точку с запятой, \
             например: <code>Кофейня Зерно; кафе</code>. Ответьте на это сообщение."
        }
        Language::Vi => {
            "Hãy gửi tên cửa hàng (tối đa 100 ký tự) và loại hình (tối đa 50 ký tự) trên một dòng, cách nhau \
             bằng dấu chấm phẩy, ví dụ: <code>Phở 24; quán ăn</code>. Hãy trả lời tin nhắn này."
        }
    };
    format!("{APPLY_MARKER} {body}")
}

/// The application was recorded.
pub(super) fn application_received(lang: Language, name: &str, category: &str) -> String {
    let (name, category) = (escape_html(name), escape_html(category));
    match lang {
        Language::En => format!(
            "✅ Application received: <b>{name}</b> ({category}).\nAn administrator will review it soon; \
             you will get a message here."
        ),
        Language::Ru => format!(
            "✅ Заявка принята: <b>{name}</b> ({category}).\nАдминистратор скоро её рассмотрит — \
             мы напишем вам здесь."
        ),
        Language::Vi => format!(
            "✅ Đã nhận đơn đăng ký: <b>{name}</b> ({category}).\nQuản trị viên sẽ sớm xem xét; \
             bạn sẽ nhận được tin nhắn tại đây."
        ),
    }
}

/// An application is waiting for an admin.
pub(super) fn application_pending(lang: Language, name: &str) -> String {
    let name = escape_html(name);
    match lang {
        Language::En => format!("⏳ Your application for <b>{name}</b> is waiting for approval. We will write here."),
        Language::Ru => format!("⏳ Ваша заявка на <b>{name}</b> ожидает одобрения. Мы напишем вам здесь."),
        Language::Vi => format!("⏳ Đơn đăng ký cho <b>{name}</b> đang chờ duyệt. Chúng tôi sẽ nhắn tại đây."),
    }
}

/// The application was rejected; a new one is possible.
pub(super) fn application_rejected(lang: Language) -> String {
    match lang {
        Language::En => "Your application was declined. You may apply again with /apply.",
        Language::Ru => "Ваша заявка отклонена. Вы можете подать новую командой /apply.",
        Language::Vi => "Đơn đăng ký của bạn đã bị từ chối. Bạn có thể đăng ký lại bằng lệnh /apply.",
    }
    .into()
}

/// The partner is suspended.
pub(super) fn suspended(lang: Language) -> String {
    match lang {
        Language::En => "⛔ Your partner account is suspended. Please contact the program's administrators.",
        Language::Ru => "⛔ Ваш аккаунт партнёра приостановлен. Обратитесь к администраторам программы.",
        Language::Vi => "⛔ Tài khoản đối tác của bạn đã bị tạm ngưng. Vui lòng liên hệ quản trị viên chương trình.",
    }
    .into()
}

/// Someone who has not applied tries to operate.
pub(super) fn not_a_partner(lang: Language) -> String {
    match lang {
        Language::En => "You are not a partner of the program yet. Send /start to apply.",
        Language::Ru => "Вы ещё не партнёр программы. Отправьте /start, чтобы подать заявку.",
        Language::Vi => "Bạn chưa là đối tác của chương trình. Gửi /start để đăng ký.",
    }
    .into()
}

/// Greeting of an approved partner.
pub(super) fn welcome_back(lang: Language, name: &str) -> String {
    let name = escape_html(name);
    let greeting = match lang {
        Language::En => format!("👋 <b>{name}</b>, you are a partner of the program."),
        Language::Ru => format!("👋 <b>{name}</b>, вы партнёр программы."),
        Language::Vi => format!("👋 <b>{name}</b>, bạn là đối tác của chương trình."),
    };
    format!("{greeting}\n\n{}", help(lang))
}

/// The command list.
pub(super) fn help(lang: Language) -> String {
    match lang {
        Language::En => {
            "<b>Commands</b>\n\
             Scan the customer's QR card, or send their code, to open it.\n\
             /credit <code>CODE PURCHASE</code> — credit points for a purchase\n\
             /redeem <code>CODE POINTS PURCHASE</code> — ask the customer to pay with points\n\
             /reverse <code>ID</code> — reverse an operation (within 24 h)\n\
             /stats — your figures for today and 7 days\n\
             /apikey — a key for your POS system\n\
             /help — this list"
        }
        Language::Ru => {
            "<b>Команды</b>\n\
             Отсканируйте QR-карту клиента или пришлите его код, чтобы открыть её.\n\
             /credit <code>КОД СУММА</code> — начислить баллы за покупку\n\
             /redeem <code>КОД БАЛЛЫ СУММА</code> — предложить клиенту оплатить баллами\n\
             /reverse <code>ID</code> — отменить операцию (в течение 24 ч)\n\
             /stats — ваши показатели за сегодня и 7 дней\n\
             /apikey — ключ для кассовой системы\n\
             /help — этот список"
        }
        Language::Vi => {
            "<b>Các lệnh</b>\n\
             Quét thẻ QR của khách hoặc gửi mã của khách để mở thẻ.\n\
             /credit <code>MÃ SỐ_TIỀN</code> — cộng điểm cho giao dịch\n\
             /redeem <code>MÃ ĐIỂM SỐ_TIỀN</code> — đề nghị khách thanh toán bằng điểm\n\
             /reverse <code>ID</code> — hủy giao dịch (trong vòng 24 giờ)\n\
             /stats — số liệu hôm nay và 7 ngày\n\
             /apikey — khóa cho hệ thống bán hàng (POS)\n\
             /help — danh sách này"
        }
    }
    .into()
}

/// A customer's card as a partner sees it after scanning.
pub(super) fn customer_card(lang: Language, code: &str, first_name: &str, balance: Points, blocked: bool) -> String {
    let name = escape_html(first_name);
    let b = fmt_points(balance);
    let mut s = match lang {
        Language::En => format!("👤 <b>{name}</b>, card <code>{code}</code>\nBalance: <b>{b}</b> points"),
        Language::Ru => format!("👤 <b>{name}</b>, карта <code>{code}</code>\nБаланс: <b>{b}</b> баллов"),
        Language::Vi => format!("👤 <b>{name}</b>, thẻ <code>{code}</code>\nSố dư: <b>{b}</b> điểm"),
    };
    if blocked {
        s.push_str(match lang {
            Language::En => "\n⛔ This account is blocked: no points can be credited or redeemed.",
            Language::Ru => "\n⛔ Аккаунт заблокирован: начислять и списывать баллы нельзя.",
            Language::Vi => "\n⛔ Tài khoản này đã bị khóa: không thể cộng hoặc trừ điểm.",
        });
    }
    s
}

/// Label of the "credit a purchase" button.
pub(super) fn button_credit(lang: Language) -> String {
    match lang {
        Language::En => "➕ Credit purchase",
        Language::Ru => "➕ Начислить",
        Language::Vi => "➕ Cộng điểm",
    }
    .into()
}

/// Label of the "pay with points" button.
pub(super) fn button_redeem(lang: Language) -> String {
    match lang {
        Language::En => "🎁 Pay with points",
        Language::Ru => "🎁 Оплата баллами",
        Language::Vi => "🎁 Trả bằng điểm",
    }
    .into()
}

/// Asks for the purchase amount (with `force_reply`); the code follows the marker.
pub(super) fn credit_prompt(lang: Language, code: &str) -> String {
    match lang {
        Language::En => format!("{CREDIT_MARKER} {code} — purchase amount? Reply with a number, e.g. 1500."),
        Language::Ru => format!("{CREDIT_MARKER} {code} — сумма покупки? Ответьте числом, например 1500."),
        Language::Vi => format!("{CREDIT_MARKER} {code} — số tiền mua hàng? Trả lời bằng một số, ví dụ 1500."),
    }
}

/// Placeholder for the purchase amount.
pub(super) fn amount_placeholder(lang: Language) -> String {
    match lang {
        Language::En => "Purchase amount",
        Language::Ru => "Сумма покупки",
        Language::Vi => "Số tiền mua hàng",
    }
    .into()
}

/// Asks for points and purchase (with `force_reply`); the code follows the marker.
pub(super) fn redeem_prompt(lang: Language, code: &str) -> String {
    match lang {
        Language::En => format!(
            "{REDEEM_MARKER} {code} — points to pay and the purchase amount? Reply with two numbers, e.g. 100 5000."
        ),
        Language::Ru => format!(
            "{REDEEM_MARKER} {code} — сколько баллов списать и сумма покупки? Ответьте двумя числами, \
             например 100 5000."
        ),
        Language::Vi => format!(
            "{REDEEM_MARKER} {code} — số điểm cần trừ và số tiền mua hàng? Trả lời bằng hai số, ví dụ 100 5000."
        ),
    }
}

/// Placeholder for points and purchase.
pub(super) fn redeem_placeholder(lang: Language) -> String {
    match lang {
        Language::En => "Points Purchase",
        Language::Ru => "Баллы Сумма",
        Language::Vi => "Điểm Số_tiền",
    }
    .into()
}

/// Not a customer code.
pub(super) fn bad_code(lang: Language, input: &str) -> String {
    let input = escape_html(input);
    match lang {
        Language::En => format!("«{input}» is not a customer code: a code has 8 letters and digits, e.g. ABCD2345."),
        Language::Ru => format!("«{input}» — не код клиента: код состоит из 8 букв и цифр, например ABCD2345."),
        Language::Vi => format!("«{input}» không phải là mã khách hàng: mã gồm 8 chữ và số, ví dụ ABCD2345."),
    }
}

/// Not a usable amount.
pub(super) fn bad_amount(lang: Language) -> String {
    match lang {
        Language::En => "Amounts are positive whole numbers, e.g. 1500 or 1 500.",
        Language::Ru => "Суммы — целые положительные числа, например 1500 или 1 500.",
        Language::Vi => "Số tiền phải là số nguyên dương, ví dụ 1500 hoặc 1 500.",
    }
    .into()
}

/// How to use /credit.
pub(super) fn usage_credit(lang: Language) -> String {
    match lang {
        Language::En => "Usage: /credit <code>CODE PURCHASE</code>, e.g. <code>/credit ABCD2345 1500</code>",
        Language::Ru => "Формат: /credit <code>КОД СУММА</code>, например <code>/credit ABCD2345 1500</code>",
        Language::Vi => "Cách dùng: /credit <code>MÃ SỐ_TIỀN</code>, ví dụ <code>/credit ABCD2345 1500</code>",
    }
    .into()
}

/// How to use /redeem.
pub(super) fn usage_redeem(lang: Language) -> String {
    match lang {
        Language::En => "Usage: /redeem <code>CODE POINTS PURCHASE</code>, e.g. <code>/redeem ABCD2345 100 5000</code>",
        Language::Ru => "Формат: /redeem <code>КОД БАЛЛЫ СУММА</code>, например <code>/redeem ABCD2345 100 5000</code>",
        Language::Vi => "Cách dùng: /redeem <code>MÃ ĐIỂM SỐ_TIỀN</code>, ví dụ <code>/redeem ABCD2345 100 5000</code>",
    }
    .into()
}

/// How to use /reverse.
pub(super) fn usage_reverse(lang: Language) -> String {
    match lang {
        Language::En => {
            "Usage: /reverse <code>ID</code> with the operation number from the confirmation, \
                         e.g. <code>/reverse 42</code>"
        }
        Language::Ru => {
            "Формат: /reverse <code>ID</code> — номер операции из подтверждения, \
                         например <code>/reverse 42</code>"
        }
        Language::Vi => {
            "Cách dùng: /reverse <code>ID</code> với số giao dịch trong tin xác nhận, \
                         ví dụ <code>/reverse 42</code>"
        }
    }
    .into()
}

/// A purchase was credited (to the partner).
pub(super) fn credited(
    lang: Language,
    points: Points,
    code: &str,
    first_name: &str,
    purchase: Points,
    balance: Points,
    entry: EntryId,
) -> String {
    let name = escape_html(first_name);
    let (p, pur, b) = (fmt_signed(points), fmt_points(purchase), fmt_points(balance));
    match lang {
        Language::En => format!(
            "✅ <b>{p}</b> points to {name} (<code>{code}</code>) for a purchase of {pur}.\n\
             Customer's balance: {b}. Operation #{entry}; to undo: /reverse {entry}"
        ),
        Language::Ru => format!(
            "✅ <b>{p}</b> баллов клиенту {name} (<code>{code}</code>) за покупку на {pur}.\n\
             Баланс клиента: {b}. Операция #{entry}; отменить: /reverse {entry}"
        ),
        Language::Vi => format!(
            "✅ <b>{p}</b> điểm cho {name} (<code>{code}</code>) với giao dịch {pur}.\n\
             Số dư của khách: {b}. Giao dịch #{entry}; để hủy: /reverse {entry}"
        ),
    }
}

/// A purchase too small to earn a point was recorded (to the partner).
pub(super) fn credited_nothing(lang: Language, code: &str, purchase: Points) -> String {
    let pur = fmt_points(purchase);
    match lang {
        Language::En => format!("A purchase of {pur} is too small to earn points; nothing was credited to {code}."),
        Language::Ru => {
            format!("Покупка на {pur} слишком мала для начисления баллов; клиенту {code} ничего не начислено.")
        }
        Language::Vi => format!("Giao dịch {pur} quá nhỏ để tích điểm; không cộng điểm cho {code}."),
    }
}

/// To the customer: points earned at a partner.
pub(super) fn customer_credited(lang: Language, points: Points, partner: &str, balance: Points) -> String {
    let partner = escape_html(partner);
    let (p, b) = (fmt_signed(points), fmt_points(balance));
    match lang {
        Language::En => format!("🎉 <b>{p}</b> points at {partner}. Your balance: <b>{b}</b>."),
        Language::Ru => format!("🎉 <b>{p}</b> баллов в {partner}. Ваш баланс: <b>{b}</b>."),
        Language::Vi => format!("🎉 <b>{p}</b> điểm tại {partner}. Số dư của bạn: <b>{b}</b>."),
    }
}

/// A redemption request went to the customer (to the partner).
pub(super) fn redemption_sent(
    lang: Language,
    id: RedemptionId,
    code: &str,
    first_name: &str,
    points: Points,
    purchase: Points,
) -> String {
    let name = escape_html(first_name);
    let (p, pur) = (fmt_points(points), fmt_points(purchase));
    match lang {
        Language::En => format!(
            "📨 Request #{id} sent to {name} (<code>{code}</code>): pay <b>{p}</b> points for a purchase of {pur}.\n\
             Waiting for the customer's confirmation (10 min); points are debited only when they confirm."
        ),
        Language::Ru => format!(
            "📨 Запрос #{id} отправлен клиенту {name} (<code>{code}</code>): оплатить <b>{p}</b> баллами покупку \
             на {pur}.\nЖдём подтверждения клиента (10 мин); баллы спишутся только после него."
        ),
        Language::Vi => format!(
            "📨 Đã gửi yêu cầu #{id} tới {name} (<code>{code}</code>): trả <b>{p}</b> điểm cho giao dịch {pur}.\n\
             Đang chờ khách xác nhận (10 phút); điểm chỉ bị trừ khi khách xác nhận."
        ),
    }
}

/// To the customer: a partner asks to pay with points.
pub(super) fn customer_redemption_request(
    lang: Language,
    partner: &str,
    points: Points,
    purchase: Points,
    balance: Points,
) -> String {
    let partner = escape_html(partner);
    let (p, pur, b) = (fmt_points(points), fmt_points(purchase), fmt_points(balance));
    match lang {
        Language::En => format!(
            "🎁 <b>{partner}</b> asks to pay <b>{p}</b> points for a purchase of {pur}.\n\
             Your balance: {b}. Confirm within 10 minutes?"
        ),
        Language::Ru => format!(
            "🎁 <b>{partner}</b> предлагает оплатить <b>{p}</b> баллами покупку на {pur}.\n\
             Ваш баланс: {b}. Подтвердите в течение 10 минут."
        ),
        Language::Vi => format!(
            "🎁 <b>{partner}</b> đề nghị trả <b>{p}</b> điểm cho giao dịch {pur}.\n\
             Số dư của bạn: {b}. Xác nhận trong vòng 10 phút?"
        ),
    }
}

/// To the customer: the confirm button.
pub(super) fn button_confirm(lang: Language) -> String {
    match lang {
        Language::En => "✅ Confirm",
        Language::Ru => "✅ Подтвердить",
        Language::Vi => "✅ Xác nhận",
    }
    .into()
}

/// To the customer: the decline button.
pub(super) fn button_decline(lang: Language) -> String {
    match lang {
        Language::En => "✖️ Decline",
        Language::Ru => "✖️ Отклонить",
        Language::Vi => "✖️ Từ chối",
    }
    .into()
}

/// An operation was reversed (to the partner).
pub(super) fn reversed(lang: Language, original: EntryId, amount: Points, code: &str, balance: Points) -> String {
    let (a, b) = (fmt_signed(amount), fmt_points(balance));
    match lang {
        Language::En => format!("↩️ Operation #{original} reversed: {a} points to <code>{code}</code>. Balance: {b}."),
        Language::Ru => {
            format!("↩️ Операция #{original} отменена: {a} баллов клиенту <code>{code}</code>. Баланс: {b}.")
        }
        Language::Vi => format!("↩️ Đã hủy giao dịch #{original}: {a} điểm cho <code>{code}</code>. Số dư: {b}."),
    }
}

/// To the customer: a partner reversed an operation.
pub(super) fn customer_reversed(lang: Language, partner: &str, amount: Points, balance: Points) -> String {
    let partner = escape_html(partner);
    let (a, b) = (fmt_signed(amount), fmt_points(balance));
    match lang {
        Language::En => format!("↩️ {partner} cancelled an operation: <b>{a}</b> points. Your balance: <b>{b}</b>."),
        Language::Ru => format!("↩️ {partner} отменил операцию: <b>{a}</b> баллов. Ваш баланс: <b>{b}</b>."),
        Language::Vi => format!("↩️ {partner} đã hủy một giao dịch: <b>{a}</b> điểm. Số dư của bạn: <b>{b}</b>."),
    }
}

/// The partner's figures.
pub(super) fn stats(lang: Language, s: &PartnerStats) -> String {
    let (t, w) = (&s.today, &s.week);
    let row = |label: &str, a: String, b: String| format!("{label}: <b>{a}</b> / <b>{b}</b>");
    let (title, customers, purchases, issued, redeemed) = match lang {
        Language::En => ("📊 <b>Today / 7 days</b>", "Customers", "Purchases", "Points issued", "Points redeemed"),
        Language::Ru => ("📊 <b>Сегодня / 7 дней</b>", "Клиенты", "Покупки", "Начислено баллов", "Списано баллов"),
        Language::Vi => ("📊 <b>Hôm nay / 7 ngày</b>", "Khách hàng", "Giao dịch", "Điểm đã cộng", "Điểm đã dùng"),
    };
    [
        title.to_string(),
        row(customers, t.customers.to_string(), w.customers.to_string()),
        row(purchases, t.purchases.to_string(), w.purchases.to_string()),
        row(issued, fmt_points(t.issued), fmt_points(w.issued)),
        row(redeemed, fmt_points(t.redeemed), fmt_points(w.redeemed)),
    ]
    .join("\n")
}

/// A new POS API key, shown once.
pub(super) fn api_key(lang: Language, key: &str) -> String {
    match lang {
        Language::En => format!(
            "🔑 Your POS API key:\n<code>{key}</code>\n\nIt is shown only once: store it safely and keep it secret. \
             Send it as <code>Authorization: Bearer …</code>. A new /apikey replaces this key."
        ),
        Language::Ru => format!(
            "🔑 Ваш API-ключ для кассы:\n<code>{key}</code>\n\nОн показан один раз: сохраните его и никому не \
             сообщайте. Передавайте его как <code>Authorization: Bearer …</code>. Новый /apikey заменит этот ключ."
        ),
        Language::Vi => format!(
            "🔑 Khóa API cho máy POS của bạn:\n<code>{key}</code>\n\nKhóa chỉ hiển thị một lần: hãy lưu lại và giữ \
             bí mật. Gửi dưới dạng <code>Authorization: Bearer …</code>. Lệnh /apikey mới sẽ thay thế khóa này."
        ),
    }
}

/// A redemption request expired unanswered (to the partner).
pub(crate) fn redemption_expired(lang: Language, id: RedemptionId, points: Points, purchase: Points) -> String {
    let (p, pur) = (fmt_points(points), fmt_points(purchase));
    match lang {
        Language::En => format!(
            "⌛ Request #{id} ({p} points for a purchase of {pur}) expired: the customer did not confirm in time. \
             No points were debited."
        ),
        Language::Ru => format!(
            "⌛ Запрос #{id} ({p} баллов за покупку на {pur}) истёк: клиент не подтвердил вовремя. \
             Баллы не списаны."
        ),
        Language::Vi => format!(
            "⌛ Yêu cầu #{id} ({p} điểm cho giao dịch {pur}) đã hết hạn: khách không xác nhận kịp. \
             Không có điểm nào bị trừ."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language::*;

    /// Every message exists in every language, differs between languages
    /// and is non-empty; prompts keep their markers.
    #[test]
    fn catalogue_is_complete() {
        let stats_v = PartnerStats::default();
        let all = |l: Language| -> Vec<String> {
            vec![
                apply_prompt(l),
                apply_placeholder(l),
                application_format_error(l),
                application_received(l, "A", "b"),
                application_pending(l, "A"),
                application_rejected(l),
                suspended(l),
                not_a_partner(l),
                welcome_back(l, "A"),
                help(l),
                customer_card(l, "ABCD2345", "Anna", 5, true),
                button_credit(l),
                button_redeem(l),
                credit_prompt(l, "ABCD2345"),
                amount_placeholder(l),
                redeem_prompt(l, "ABCD2345"),
                redeem_placeholder(l),
                bad_code(l, "x"),
                bad_amount(l),
                usage_credit(l),
                usage_redeem(l),
                usage_reverse(l),
                credited(l, 5, "ABCD2345", "Anna", 100, 5, EntryId(1)),
                credited_nothing(l, "ABCD2345", 1),
                customer_credited(l, 5, "P", 10),
                redemption_sent(l, RedemptionId(1), "ABCD2345", "Anna", 5, 100),
                customer_redemption_request(l, "P", 5, 100, 10),
                button_confirm(l),
                button_decline(l),
                reversed(l, EntryId(1), -5, "ABCD2345", 0),
                customer_reversed(l, "P", -5, 0),
                stats(l, &stats_v),
                api_key(l, "lk_x"),
                redemption_expired(l, RedemptionId(1), 5, 100),
            ]
        };
        let (ru, en, vi) = (all(Ru), all(En), all(Vi));
        for i in 0..en.len() {
            assert!(!en[i].is_empty() && !ru[i].is_empty() && !vi[i].is_empty(), "message {i}");
            assert_ne!(en[i], ru[i], "message {i} is not translated to ru");
            assert_ne!(en[i], vi[i], "message {i} is not translated to vi");
        }
        for l in Language::ALL {
            assert!(apply_prompt(l).starts_with(APPLY_MARKER));
            assert!(application_format_error(l).starts_with(APPLY_MARKER));
            assert!(credit_prompt(l, "ABCD2345").starts_with(&format!("{CREDIT_MARKER} ABCD2345")));
            assert!(redeem_prompt(l, "ABCD2345").starts_with(&format!("{REDEEM_MARKER} ABCD2345")));
            for p in [apply_placeholder(l), amount_placeholder(l), redeem_placeholder(l)] {
                assert!(p.chars().count() <= 64);
            }
        }
    }

    #[test]
    fn user_text_is_escaped() {
        for l in Language::ALL {
            assert!(application_received(l, "<b>", "&").contains("&lt;b&gt;"));
            assert!(customer_card(l, "ABCD2345", "<i>", 0, false).contains("&lt;i&gt;"));
            assert!(!customer_redemption_request(l, "<script>", 1, 1, 1).contains("<script>"));
        }
    }
}
