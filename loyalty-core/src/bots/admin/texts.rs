//! The admin bot's text catalogue: one function per message, every language
//! spelled out. Texts are HTML; anything a person typed is escaped here.
//!
//! Some messages go to partners (through the partner bot) or to customers
//! (through the client bot), in their own language; they are marked below.

use crate::bots::common::{fmt_points, fmt_signed};
use crate::domain::{Audience, BroadcastId, BroadcastJob, EntryId, Language, Partner, PartnerStatus, Points};
use crate::ports::ProgramStats;
use crate::telegram::escape_html;

/// Refusal for anyone writing to the admin bot outside the admin chat.
pub(super) fn refusal(lang: Language) -> String {
    match lang {
        Language::En => "This bot serves the program's administrators only.",
        Language::Ru => "Этот бот только для администраторов программы.",
        Language::Vi => "Bot này chỉ dành cho quản trị viên của chương trình.",
    }
    .into()
}

/// The command list.
pub(super) fn help(lang: Language) -> String {
    match lang {
        Language::En => {
            "<b>Admin commands</b>\n\
             /pending — applications waiting, with Approve / Reject buttons\n\
             /partners — all partners with status and terms\n\
             /approve <code>ID</code>, /reject <code>ID</code>, /suspend <code>ID</code> — decide about a partner\n\
             /adjust <code>CODE ±POINTS REASON</code> — correct a customer's balance\n\
             /block <code>CODE</code>, /unblock <code>CODE</code> — block or unblock a customer\n\
             /broadcast <code>customers|partners TEXT</code> — message everyone\n\
             /stats — program figures\n\
             /help — this list"
        }
        Language::Ru => {
            "<b>Команды администратора</b>\n\
             /pending — ожидающие заявки с кнопками «Одобрить» / «Отклонить»\n\
             /partners — все партнёры со статусом и условиями\n\
             /approve <code>ID</code>, /reject <code>ID</code>, /suspend <code>ID</code> — решение по партнёру\n\
             /adjust <code>КОД ±БАЛЛЫ ПРИЧИНА</code> — скорректировать баланс клиента\n\
             /block <code>КОД</code>, /unblock <code>КОД</code> — заблокировать или разблокировать клиента\n\
             /broadcast <code>customers|partners ТЕКСТ</code> — рассылка всем\n\
             /stats — показатели программы\n\
             /help — этот список"
        }
        Language::Vi => {
            "<b>Lệnh quản trị</b>\n\
             /pending — các đơn đang chờ, với nút Duyệt / Từ chối\n\
             /partners — tất cả đối tác cùng trạng thái và điều khoản\n\
             /approve <code>ID</code>, /reject <code>ID</code>, /suspend <code>ID</code> — quyết định về đối tác\n\
             /adjust <code>MÃ ±ĐIỂM LÝ_DO</code> — điều chỉnh số dư của khách\n\
             /block <code>MÃ</code>, /unblock <code>MÃ</code> — khóa hoặc mở khóa khách hàng\n\
             /broadcast <code>customers|partners NỘI_DUNG</code> — gửi tin cho tất cả\n\
             /stats — số liệu chương trình\n\
             /help — danh sách này"
        }
    }
    .into()
}

/// A partner's status in words.
pub(super) fn status_label(lang: Language, status: PartnerStatus) -> &'static str {
    use PartnerStatus::*;
    match (lang, status) {
        (Language::En, Applied) => "waiting",
        (Language::En, Approved) => "approved",
        (Language::En, Rejected) => "rejected",
        (Language::En, Suspended) => "suspended",
        (Language::Ru, Applied) => "ожидает",
        (Language::Ru, Approved) => "одобрен",
        (Language::Ru, Rejected) => "отклонён",
        (Language::Ru, Suspended) => "приостановлен",
        (Language::Vi, Applied) => "đang chờ",
        (Language::Vi, Approved) => "đã duyệt",
        (Language::Vi, Rejected) => "bị từ chối",
        (Language::Vi, Suspended) => "tạm ngưng",
    }
}

/// A rate in basis points as a percentage: `500` → `5 %`, `250` → `2.5 %`.
fn percent(bps: u32) -> String {
    let (int, frac) = (bps / 100, bps % 100);
    if frac == 0 {
        format!("{int}\u{202F}%")
    } else {
        let frac = format!("{frac:02}");
        format!("{int}.{}\u{202F}%", frac.trim_end_matches('0'))
    }
}

/// A link to a Telegram user, with their @username when known.
fn telegram_link(id: i64, username: Option<&str>) -> String {
    match username {
        Some(u) => format!("@{} (<a href=\"tg://user?id={id}\">{id}</a>)", escape_html(u)),
        None => format!("<a href=\"tg://user?id={id}\">{id}</a>"),
    }
}

/// A partner application as the admin chat sees it.
pub(super) fn application(lang: Language, p: &Partner, username: Option<&str>) -> String {
    let (name, category) = (escape_html(&p.name), escape_html(&p.category));
    let who = telegram_link(p.telegram_id.0, username);
    let (id, l) = (p.id, p.language.code());
    match lang {
        Language::En => {
            format!("📝 <b>Partner application #{id}</b>\n<b>{name}</b> ({category})\nTelegram: {who}\nLanguage: {l}")
        }
        Language::Ru => {
            format!("📝 <b>Заявка партнёра #{id}</b>\n<b>{name}</b> ({category})\nTelegram: {who}\nЯзык: {l}")
        }
        Language::Vi => {
            format!("📝 <b>Đơn đăng ký đối tác #{id}</b>\n<b>{name}</b> ({category})\nTelegram: {who}\nNgôn ngữ: {l}")
        }
    }
}

/// Label of the approve button.
pub(super) fn button_approve(lang: Language) -> String {
    match lang {
        Language::En => "✅ Approve",
        Language::Ru => "✅ Одобрить",
        Language::Vi => "✅ Duyệt",
    }
    .into()
}

/// Label of the reject button.
pub(super) fn button_reject(lang: Language) -> String {
    match lang {
        Language::En => "✖️ Reject",
        Language::Ru => "✖️ Отклонить",
        Language::Vi => "✖️ Từ chối",
    }
    .into()
}

/// `/pending` with nothing waiting.
pub(super) fn no_pending(lang: Language) -> String {
    match lang {
        Language::En => "No applications are waiting.",
        Language::Ru => "Нет ожидающих заявок.",
        Language::Vi => "Không có đơn nào đang chờ.",
    }
    .into()
}

/// `/pending` listed only the first ones.
pub(super) fn more_pending(lang: Language, more: usize) -> String {
    match lang {
        Language::En => format!("…and {more} more. Decide on these first, then send /pending again."),
        Language::Ru => format!("…и ещё {more}. Примите решение по этим и снова отправьте /pending."),
        Language::Vi => format!("…và {more} đơn nữa. Hãy xử lý các đơn này rồi gửi lại /pending."),
    }
}

/// The application message after a decision (buttons removed).
pub(super) fn decided(lang: Language, p: &Partner, by: &str) -> String {
    let by = escape_html(by);
    let verdict = match (lang, p.status) {
        (Language::En, PartnerStatus::Approved) => format!("✅ Approved by {by}"),
        (Language::En, PartnerStatus::Rejected) => format!("✖️ Rejected by {by}"),
        (Language::En, s) => format!("Now {} ({by})", status_label(lang, s)),
        (Language::Ru, PartnerStatus::Approved) => format!("✅ Одобрено: {by}"),
        (Language::Ru, PartnerStatus::Rejected) => format!("✖️ Отклонено: {by}"),
        (Language::Ru, s) => format!("Статус: {} ({by})", status_label(lang, s)),
        (Language::Vi, PartnerStatus::Approved) => format!("✅ Đã duyệt bởi {by}"),
        (Language::Vi, PartnerStatus::Rejected) => format!("✖️ Đã từ chối bởi {by}"),
        (Language::Vi, s) => format!("Trạng thái: {} ({by})", status_label(lang, s)),
    };
    format!("{}\n\n{verdict}", application(lang, p, None))
}

/// The result of a decision, short (a toast or a reply).
pub(super) fn decision_result(lang: Language, p: &Partner, changed: bool) -> String {
    let name = escape_html(&p.name);
    let status = status_label(lang, p.status);
    match (lang, changed) {
        (Language::En, true) => format!("Partner #{} {name}: {status}.", p.id),
        (Language::En, false) => format!("Partner #{} {name} is already {status}.", p.id),
        (Language::Ru, true) => format!("Партнёр #{} {name}: {status}.", p.id),
        (Language::Ru, false) => format!("Партнёр #{} {name} уже {status}.", p.id),
        (Language::Vi, true) => format!("Đối tác #{} {name}: {status}.", p.id),
        (Language::Vi, false) => format!("Đối tác #{} {name} đã ở trạng thái {status}.", p.id),
    }
}

/// The result of a decision as a callback toast (plain text, no HTML).
pub(super) fn decision_toast(lang: Language, p: &Partner, changed: bool) -> String {
    let status = status_label(lang, p.status);
    match (lang, changed) {
        (Language::En, true) => format!("Partner #{}: {status}.", p.id),
        (Language::En, false) => format!("Partner #{} is already {status}.", p.id),
        (Language::Ru, true) => format!("Партнёр #{}: {status}.", p.id),
        (Language::Ru, false) => format!("Партнёр #{} уже {status}.", p.id),
        (Language::Vi, true) => format!("Đối tác #{}: {status}.", p.id),
        (Language::Vi, false) => format!("Đối tác #{} đã ở trạng thái {status}.", p.id),
    }
}

/// One line of `/partners`.
pub(super) fn partner_line(lang: Language, p: &Partner) -> String {
    let (name, category) = (escape_html(&p.name), escape_html(&p.category));
    let status = status_label(lang, p.status);
    let (earn, share, limit) =
        (percent(p.terms.earn_rate_bps), percent(p.terms.max_redeem_share_bps), fmt_points(p.terms.daily_credit_limit));
    let key = if p.has_api_key { " · 🔑" } else { "" };
    let tg = p.telegram_id.0;
    match lang {
        Language::En => format!(
            "#{} <b>{name}</b> ({category}) — {status}\n   earn {earn}, pay ≤ {share}, ≤ {limit} points/day · tg {tg}{key}",
            p.id
        ),
        Language::Ru => format!(
            "#{} <b>{name}</b> ({category}) — {status}\n   начисление {earn}, оплата ≤ {share}, ≤ {limit} баллов/день · tg {tg}{key}",
            p.id
        ),
        Language::Vi => format!(
            "#{} <b>{name}</b> ({category}) — {status}\n   tích {earn}, trả ≤ {share}, ≤ {limit} điểm/ngày · tg {tg}{key}",
            p.id
        ),
    }
}

/// Heading of `/partners`.
pub(super) fn partners_title(lang: Language, count: usize) -> String {
    match lang {
        Language::En => format!("<b>Partners: {count}</b>"),
        Language::Ru => format!("<b>Партнёров: {count}</b>"),
        Language::Vi => format!("<b>Đối tác: {count}</b>"),
    }
}

/// `/partners` with nobody yet.
pub(super) fn no_partners(lang: Language) -> String {
    match lang {
        Language::En => "No partners yet.",
        Language::Ru => "Партнёров пока нет.",
        Language::Vi => "Chưa có đối tác nào.",
    }
    .into()
}

/// How to use `/approve`, `/reject`, `/suspend`.
pub(super) fn usage_partner_id(lang: Language, command: &str) -> String {
    match lang {
        Language::En => format!("Usage: /{command} <code>ID</code> with the partner number from /partners."),
        Language::Ru => format!("Формат: /{command} <code>ID</code> — номер партнёра из /partners."),
        Language::Vi => format!("Cách dùng: /{command} <code>ID</code> với số đối tác trong /partners."),
    }
}

/// To the partner: approved, with a short how-to.
pub(super) fn partner_approved(lang: Language, name: &str) -> String {
    let name = escape_html(name);
    match lang {
        Language::En => format!(
            "🎉 <b>{name}</b> is now a partner of the program!\n\
             Scan a customer's QR card (or send their code) to credit a purchase or take points as payment.\n\
             /credit <code>CODE PURCHASE</code> — credit points\n\
             /redeem <code>CODE POINTS PURCHASE</code> — pay with points\n\
             /stats — your figures · /apikey — a key for your POS"
        ),
        Language::Ru => format!(
            "🎉 <b>{name}</b> теперь партнёр программы!\n\
             Отсканируйте QR-карту клиента (или пришлите его код), чтобы начислить баллы или принять оплату баллами.\n\
             /credit <code>КОД СУММА</code> — начислить баллы\n\
             /redeem <code>КОД БАЛЛЫ СУММА</code> — оплата баллами\n\
             /stats — ваши показатели · /apikey — ключ для кассы"
        ),
        Language::Vi => format!(
            "🎉 <b>{name}</b> đã trở thành đối tác của chương trình!\n\
             Quét thẻ QR của khách (hoặc gửi mã của khách) để cộng điểm hoặc nhận thanh toán bằng điểm.\n\
             /credit <code>MÃ SỐ_TIỀN</code> — cộng điểm\n\
             /redeem <code>MÃ ĐIỂM SỐ_TIỀN</code> — trả bằng điểm\n\
             /stats — số liệu · /apikey — khóa cho máy POS"
        ),
    }
}

/// To the partner: the application was rejected.
pub(super) fn partner_rejected(lang: Language, name: &str) -> String {
    let name = escape_html(name);
    match lang {
        Language::En => {
            format!("Sorry, the application for <b>{name}</b> was declined. You may apply again with /apply.")
        }
        Language::Ru => {
            format!("К сожалению, заявка на <b>{name}</b> отклонена. Вы можете подать новую командой /apply.")
        }
        Language::Vi => {
            format!("Rất tiếc, đơn đăng ký cho <b>{name}</b> đã bị từ chối. Bạn có thể đăng ký lại bằng /apply.")
        }
    }
}

/// To the partner: suspended.
pub(super) fn partner_suspended(lang: Language, name: &str) -> String {
    let name = escape_html(name);
    match lang {
        Language::En => {
            format!("⛔ The partner account of <b>{name}</b> has been suspended. Please contact the administrators.")
        }
        Language::Ru => format!("⛔ Аккаунт партнёра <b>{name}</b> приостановлен. Обратитесь к администраторам."),
        Language::Vi => format!("⛔ Tài khoản đối tác <b>{name}</b> đã bị tạm ngưng. Vui lòng liên hệ quản trị viên."),
    }
}

/// Not a customer code.
pub(super) fn bad_code(lang: Language, input: &str) -> String {
    let input = escape_html(input);
    match lang {
        Language::En => format!("«{input}» is not a customer code (8 letters and digits)."),
        Language::Ru => format!("«{input}» — не код клиента (8 букв и цифр)."),
        Language::Vi => format!("«{input}» không phải là mã khách hàng (8 chữ và số)."),
    }
}

/// How to use `/adjust`.
pub(super) fn usage_adjust(lang: Language) -> String {
    match lang {
        Language::En => {
            "Usage: /adjust <code>CODE ±POINTS REASON</code>, e.g. \
                         <code>/adjust ABCD2345 -50 duplicate purchase</code>"
        }
        Language::Ru => {
            "Формат: /adjust <code>КОД ±БАЛЛЫ ПРИЧИНА</code>, например \
                         <code>/adjust ABCD2345 -50 двойная покупка</code>"
        }
        Language::Vi => {
            "Cách dùng: /adjust <code>MÃ ±ĐIỂM LÝ_DO</code>, ví dụ \
                         <code>/adjust ABCD2345 -50 giao dịch trùng</code>"
        }
    }
    .into()
}

/// `/adjust` without a reason.
pub(super) fn reason_required(lang: Language) -> String {
    match lang {
        Language::En => "A reason is required (up to 200 characters); the customer will see it.",
        Language::Ru => "Укажите причину (до 200 символов) — клиент её увидит.",
        Language::Vi => "Cần ghi lý do (tối đa 200 ký tự); khách hàng sẽ thấy lý do này.",
    }
    .into()
}

/// A balance was adjusted (to the admin).
pub(super) fn adjusted(
    lang: Language,
    code: &str,
    first_name: &str,
    amount: Points,
    balance: Points,
    entry: EntryId,
) -> String {
    let name = escape_html(first_name);
    let (a, b) = (fmt_signed(amount), fmt_points(balance));
    match lang {
        Language::En => {
            format!("✅ {a} points to {name} (<code>{code}</code>). New balance: <b>{b}</b>. Entry #{entry}.")
        }
        Language::Ru => {
            format!("✅ {a} баллов клиенту {name} (<code>{code}</code>). Новый баланс: <b>{b}</b>. Запись #{entry}.")
        }
        Language::Vi => {
            format!("✅ {a} điểm cho {name} (<code>{code}</code>). Số dư mới: <b>{b}</b>. Bút toán #{entry}.")
        }
    }
}

/// To the customer: an admin adjusted the balance.
pub(super) fn customer_adjusted(lang: Language, amount: Points, reason: &str, balance: Points) -> String {
    let reason = escape_html(reason);
    let (a, b) = (fmt_signed(amount), fmt_points(balance));
    match lang {
        Language::En => {
            format!("ℹ️ Your balance was adjusted: <b>{a}</b> points.\nReason: {reason}\nBalance: <b>{b}</b>.")
        }
        Language::Ru => {
            format!("ℹ️ Ваш баланс скорректирован: <b>{a}</b> баллов.\nПричина: {reason}\nБаланс: <b>{b}</b>.")
        }
        Language::Vi => {
            format!("ℹ️ Số dư của bạn đã được điều chỉnh: <b>{a}</b> điểm.\nLý do: {reason}\nSố dư: <b>{b}</b>.")
        }
    }
}

/// How to use `/block` and `/unblock`.
pub(super) fn usage_block(lang: Language, command: &str) -> String {
    match lang {
        Language::En => format!("Usage: /{command} <code>CODE</code>"),
        Language::Ru => format!("Формат: /{command} <code>КОД</code>"),
        Language::Vi => format!("Cách dùng: /{command} <code>MÃ</code>"),
    }
}

/// A customer was blocked or unblocked.
pub(super) fn blocked(lang: Language, code: &str, first_name: &str, blocked: bool) -> String {
    let name = escape_html(first_name);
    match (lang, blocked) {
        (Language::En, true) => format!("⛔ {name} (<code>{code}</code>) is blocked: no earning, no paying."),
        (Language::En, false) => format!("✅ {name} (<code>{code}</code>) is unblocked."),
        (Language::Ru, true) => format!("⛔ {name} (<code>{code}</code>) заблокирован: без начислений и списаний."),
        (Language::Ru, false) => format!("✅ {name} (<code>{code}</code>) разблокирован."),
        (Language::Vi, true) => format!("⛔ {name} (<code>{code}</code>) đã bị khóa: không tích và không dùng điểm."),
        (Language::Vi, false) => format!("✅ {name} (<code>{code}</code>) đã được mở khóa."),
    }
}

/// How to use `/broadcast`.
pub(super) fn usage_broadcast(lang: Language) -> String {
    match lang {
        Language::En => {
            "Usage: /broadcast <code>customers TEXT</code> or /broadcast <code>partners TEXT</code>. \
                         The text is sent as written."
        }
        Language::Ru => {
            "Формат: /broadcast <code>customers ТЕКСТ</code> или /broadcast <code>partners ТЕКСТ</code>. \
                         Текст отправляется как есть."
        }
        Language::Vi => {
            "Cách dùng: /broadcast <code>customers NỘI_DUNG</code> hoặc /broadcast \
                         <code>partners NỘI_DUNG</code>. Nội dung được gửi nguyên văn."
        }
    }
    .into()
}

/// The broadcast text is too long for one message.
pub(super) fn broadcast_too_long(lang: Language, max: usize) -> String {
    match lang {
        Language::En => format!("The text is too long: at most {max} characters."),
        Language::Ru => format!("Текст слишком длинный: не больше {max} символов."),
        Language::Vi => format!("Nội dung quá dài: tối đa {max} ký tự."),
    }
}

fn audience_label(lang: Language, audience: Audience) -> &'static str {
    match (lang, audience) {
        (Language::En, Audience::Customers) => "customers",
        (Language::En, Audience::Partners) => "partners",
        (Language::Ru, Audience::Customers) => "клиентам",
        (Language::Ru, Audience::Partners) => "партнёрам",
        (Language::Vi, Audience::Customers) => "khách hàng",
        (Language::Vi, Audience::Partners) => "đối tác",
    }
}

/// A broadcast was queued.
pub(super) fn broadcast_queued(lang: Language, id: BroadcastId, audience: Audience, total: u32) -> String {
    let to = audience_label(lang, audience);
    match lang {
        Language::En => format!("📣 Broadcast #{id} queued to {total} {to}. Progress will be reported here."),
        Language::Ru => {
            format!("📣 Рассылка #{id} поставлена в очередь: {total} получателей ({to}). Ход рассылки — здесь.")
        }
        Language::Vi => format!("📣 Đã xếp hàng thông báo #{id} tới {total} {to}. Tiến độ sẽ được báo tại đây."),
    }
}

/// Progress of a broadcast.
pub(crate) fn broadcast_progress(lang: Language, job: &BroadcastJob) -> String {
    let (id, sent, failed, total) = (job.id, job.sent, job.failed, job.total);
    match lang {
        Language::En => format!("📣 Broadcast #{id}: sent {sent}, failed {failed} of {total}…"),
        Language::Ru => format!("📣 Рассылка #{id}: отправлено {sent}, ошибок {failed} из {total}…"),
        Language::Vi => format!("📣 Thông báo #{id}: đã gửi {sent}, lỗi {failed} trên {total}…"),
    }
}

/// A broadcast finished.
pub(crate) fn broadcast_done(lang: Language, job: &BroadcastJob) -> String {
    let (id, sent, failed, total) = (job.id, job.sent, job.failed, job.total);
    match lang {
        Language::En => format!("✅ Broadcast #{id} done: sent {sent}, failed {failed} of {total}."),
        Language::Ru => format!("✅ Рассылка #{id} завершена: отправлено {sent}, ошибок {failed} из {total}."),
        Language::Vi => format!("✅ Thông báo #{id} hoàn tất: đã gửi {sent}, lỗi {failed} trên {total}."),
    }
}

/// A broadcast stopped on a storage failure; it resumes on the next run.
pub(crate) fn broadcast_paused(lang: Language, id: BroadcastId) -> String {
    match lang {
        Language::En => format!("⚠️ Broadcast #{id} paused after a storage error; it will resume where it stopped."),
        Language::Ru => {
            format!("⚠️ Рассылка #{id} приостановлена из-за ошибки хранилища; она продолжится с того же места.")
        }
        Language::Vi => format!("⚠️ Thông báo #{id} tạm dừng do lỗi lưu trữ; sẽ tiếp tục từ chỗ đã dừng."),
    }
}

/// `/stats`.
pub(super) fn stats(lang: Language, s: &ProgramStats) -> String {
    let t = &s.today;
    let (c, pa, pp, out) = (s.customers, s.partners_approved, s.partners_pending, fmt_points(s.points_outstanding));
    let (tc, tp, ti, tr) = (t.customers, t.purchases, fmt_points(t.issued), fmt_points(t.redeemed));
    match lang {
        Language::En => format!(
            "📊 <b>Program</b>\nCustomers: <b>{c}</b>\nPartners: <b>{pa}</b> approved, <b>{pp}</b> waiting\n\
             Points outstanding: <b>{out}</b>\n\n<b>Today</b>\nCustomers: {tc} · purchases: {tp}\n\
             Points issued: {ti} · redeemed: {tr}"
        ),
        Language::Ru => format!(
            "📊 <b>Программа</b>\nКлиентов: <b>{c}</b>\nПартнёров: <b>{pa}</b> одобрено, <b>{pp}</b> ожидают\n\
             Баллов на балансах: <b>{out}</b>\n\n<b>Сегодня</b>\nКлиентов: {tc} · покупок: {tp}\n\
             Начислено: {ti} · списано: {tr}"
        ),
        Language::Vi => format!(
            "📊 <b>Chương trình</b>\nKhách hàng: <b>{c}</b>\nĐối tác: <b>{pa}</b> đã duyệt, <b>{pp}</b> đang chờ\n\
             Điểm đang lưu hành: <b>{out}</b>\n\n<b>Hôm nay</b>\nKhách hàng: {tc} · giao dịch: {tp}\n\
             Điểm đã cộng: {ti} · đã dùng: {tr}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PartnerId, PartnerTerms, TelegramUserId, Timestamp};
    use Language::*;

    fn partner(status: PartnerStatus) -> Partner {
        Partner {
            id: PartnerId(3),
            telegram_id: TelegramUserId(77),
            name: "<Pho>".into(),
            category: "cafe & bar".into(),
            status,
            terms: PartnerTerms::default(),
            language: Language::Vi,
            has_api_key: true,
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn catalogue_is_complete() {
        let job = BroadcastJob {
            id: BroadcastId(1),
            audience: Audience::Customers,
            text: "x".into(),
            admin_chat: 1,
            total: 3,
            sent: 2,
            failed: 1,
            cursor: 3,
            done: true,
            created_at: Timestamp(0),
        };
        let all = |l: Language| -> Vec<String> {
            let mut v = vec![
                refusal(l),
                help(l),
                application(l, &partner(PartnerStatus::Applied), Some("linh")),
                button_approve(l),
                button_reject(l),
                no_pending(l),
                more_pending(l, 2),
                decision_result(l, &partner(PartnerStatus::Approved), true),
                decision_result(l, &partner(PartnerStatus::Approved), false),
                decision_toast(l, &partner(PartnerStatus::Approved), true),
                decision_toast(l, &partner(PartnerStatus::Approved), false),
                partner_line(l, &partner(PartnerStatus::Approved)),
                partners_title(l, 1),
                no_partners(l),
                usage_partner_id(l, "approve"),
                partner_approved(l, "P"),
                partner_rejected(l, "P"),
                partner_suspended(l, "P"),
                bad_code(l, "x"),
                usage_adjust(l),
                reason_required(l),
                adjusted(l, "ABCD2345", "Anna", -5, 10, EntryId(1)),
                customer_adjusted(l, 5, "r", 10),
                usage_block(l, "block"),
                blocked(l, "ABCD2345", "Anna", true),
                blocked(l, "ABCD2345", "Anna", false),
                usage_broadcast(l),
                broadcast_too_long(l, 10),
                broadcast_queued(l, BroadcastId(1), Audience::Partners, 2),
                broadcast_progress(l, &job),
                broadcast_done(l, &job),
                broadcast_paused(l, BroadcastId(1)),
                stats(l, &ProgramStats::default()),
            ];
            for s in
                [PartnerStatus::Applied, PartnerStatus::Approved, PartnerStatus::Rejected, PartnerStatus::Suspended]
            {
                v.push(status_label(l, s).to_string());
                v.push(decided(l, &partner(s), "Admin"));
            }
            v
        };
        let (ru, en, vi) = (all(Ru), all(En), all(Vi));
        for i in 0..en.len() {
            assert!(!en[i].is_empty() && !ru[i].is_empty() && !vi[i].is_empty(), "message {i}");
            assert_ne!(en[i], ru[i], "message {i} is not translated to ru");
            assert_ne!(en[i], vi[i], "message {i} is not translated to vi");
        }
    }

    #[test]
    fn percentages_and_escaping() {
        assert_eq!(percent(500), "5\u{202F}%");
        assert_eq!(percent(250), "2.5\u{202F}%");
        assert_eq!(percent(333), "3.33\u{202F}%");
        assert_eq!(percent(0), "0\u{202F}%");
        for l in Language::ALL {
            let text = application(l, &partner(PartnerStatus::Applied), Some("a<b"));
            assert!(text.contains("&lt;Pho&gt;") && text.contains("cafe &amp; bar") && text.contains("a&lt;b"));
            assert!(customer_adjusted(l, 1, "<x>", 1).contains("&lt;x&gt;"));
        }
    }
}
