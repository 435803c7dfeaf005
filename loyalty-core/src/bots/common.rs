//! Helpers shared by the three bots: formatting, rejection texts and the
//! split between "tell the user" and "let Telegram retry".

use crate::context::Context;
use crate::domain::{EntryKind, Language, LedgerEntry, Points, Timestamp};
use crate::error::{Error, Result};
use crate::ports::{ErrorReport, Rejection, StoreError, StoreResult};

/// Formats points with thin-space thousands separators: `1 234 567`.
pub(crate) fn fmt_points(p: Points) -> String {
    let digits = p.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if p < 0 {
        out.push('−');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(c);
    }
    out
}

/// A signed amount: `+50`, `−20`.
pub(crate) fn fmt_signed(p: Points) -> String {
    if p >= 0 { format!("+{}", fmt_points(p)) } else { fmt_points(p) }
}

/// `YYYY-MM-DD HH:MM` UTC for a timestamp (civil-from-days, no clock needed).
pub(crate) fn fmt_time(t: Timestamp) -> String {
    let days = t.0.div_euclid(86_400);
    let secs = t.0.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", secs / 3600, (secs % 3600) / 60)
}

/// Howard Hinnant's algorithm: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A ledger entry kind in the user's language.
pub(crate) fn entry_kind_label(lang: Language, kind: EntryKind) -> &'static str {
    use EntryKind::*;
    use Language::*;
    match (lang, kind) {
        (En, WelcomeBonus) => "Welcome bonus",
        (En, ReferralBonus) => "Referral bonus",
        (En, Accrual) => "Purchase",
        (En, Redemption) => "Paid with points",
        (En, Reversal) => "Correction",
        (En, Adjustment) => "Adjustment",
        (Ru, WelcomeBonus) => "Приветственный бонус",
        (Ru, ReferralBonus) => "Бонус за друга",
        (Ru, Accrual) => "Покупка",
        (Ru, Redemption) => "Оплата баллами",
        (Ru, Reversal) => "Отмена операции",
        (Ru, Adjustment) => "Корректировка",
        (Vi, WelcomeBonus) => "Thưởng chào mừng",
        (Vi, ReferralBonus) => "Thưởng giới thiệu",
        (Vi, Accrual) => "Mua hàng",
        (Vi, Redemption) => "Thanh toán bằng điểm",
        (Vi, Reversal) => "Hủy giao dịch",
        (Vi, Adjustment) => "Điều chỉnh",
    }
}

/// One history line: `2026-11-26 10:15  +50  Purchase (#123)`.
pub(crate) fn entry_line(lang: Language, e: &LedgerEntry) -> String {
    format!(
        "{}  <b>{}</b>  {} (#{})",
        fmt_time(e.created_at),
        fmt_signed(e.amount),
        entry_kind_label(lang, e.kind),
        e.id
    )
}

/// A rule rejection explained to the user.
pub(crate) fn rejection_text(lang: Language, r: &Rejection) -> String {
    use Language::*;
    use Rejection::*;
    match (lang, r) {
        (En, UnknownCustomer) => "No customer with this code. Check the code on the customer's card.".into(),
        (Ru, UnknownCustomer) => "Клиент с таким кодом не найден. Проверьте код на карте клиента.".into(),
        (Vi, UnknownCustomer) => "Không tìm thấy khách hàng với mã này. Hãy kiểm tra mã trên thẻ.".into(),
        (En, UnknownPartner) => "This partner is not registered.".into(),
        (Ru, UnknownPartner) => "Такой партнёр не зарегистрирован.".into(),
        (Vi, UnknownPartner) => "Đối tác này chưa đăng ký.".into(),
        (En, UnknownEntry) => "No such operation of yours.".into(),
        (Ru, UnknownEntry) => "У вас нет такой операции.".into(),
        (Vi, UnknownEntry) => "Không có giao dịch này của bạn.".into(),
        (En, UnknownRedemption) => "This request no longer exists.".into(),
        (Ru, UnknownRedemption) => "Этот запрос больше не существует.".into(),
        (Vi, UnknownRedemption) => "Yêu cầu này không còn tồn tại.".into(),
        (En, CustomerBlocked) => "This account is blocked. Please contact support.".into(),
        (Ru, CustomerBlocked) => "Этот аккаунт заблокирован. Обратитесь в поддержку.".into(),
        (Vi, CustomerBlocked) => "Tài khoản này đã bị khóa. Vui lòng liên hệ hỗ trợ.".into(),
        (En, PartnerNotApproved) => "Your partner account is not approved yet.".into(),
        (Ru, PartnerNotApproved) => "Ваш аккаунт партнёра ещё не одобрен.".into(),
        (Vi, PartnerNotApproved) => "Tài khoản đối tác của bạn chưa được duyệt.".into(),
        (En, InsufficientBalance { balance, requested }) => {
            format!("Not enough points: the balance is {}, {} needed.", fmt_points(*balance), fmt_points(*requested))
        }
        (Ru, InsufficientBalance { balance, requested }) => {
            format!("Недостаточно баллов: на балансе {}, нужно {}.", fmt_points(*balance), fmt_points(*requested))
        }
        (Vi, InsufficientBalance { balance, requested }) => {
            format!("Không đủ điểm: số dư {}, cần {}.", fmt_points(*balance), fmt_points(*requested))
        }
        (En, ExceedsMaxShare { max }) => format!("At most {} points can pay for this purchase.", fmt_points(*max)),
        (Ru, ExceedsMaxShare { max }) => format!("Этой покупкой можно оплатить не больше {} баллов.", fmt_points(*max)),
        (Vi, ExceedsMaxShare { max }) => format!("Chỉ có thể dùng tối đa {} điểm cho giao dịch này.", fmt_points(*max)),
        (En, DailyLimitExceeded { remaining }) => {
            format!("Daily credit limit reached: {} points left today.", fmt_points(*remaining))
        }
        (Ru, DailyLimitExceeded { remaining }) => {
            format!("Достигнут дневной лимит начислений: сегодня осталось {} баллов.", fmt_points(*remaining))
        }
        (Vi, DailyLimitExceeded { remaining }) => {
            format!("Đã đạt hạn mức cộng điểm trong ngày: còn {} điểm hôm nay.", fmt_points(*remaining))
        }
        (En, InvalidAmount) => "The amount must be a positive whole number.".into(),
        (Ru, InvalidAmount) => "Сумма должна быть целым положительным числом.".into(),
        (Vi, InvalidAmount) => "Số tiền phải là số nguyên dương.".into(),
        (En, AlreadyReversed) => "This operation has already been reversed.".into(),
        (Ru, AlreadyReversed) => "Эта операция уже отменена.".into(),
        (Vi, AlreadyReversed) => "Giao dịch này đã được hủy.".into(),
        (En, NotReversible) => "Only purchases and payments with points can be reversed.".into(),
        (Ru, NotReversible) => "Отменить можно только начисление за покупку или оплату баллами.".into(),
        (Vi, NotReversible) => "Chỉ có thể hủy giao dịch mua hàng hoặc thanh toán bằng điểm.".into(),
        (En, ReversalWindowClosed) => "Operations can be reversed only within 24 hours.".into(),
        (Ru, ReversalWindowClosed) => "Отменить операцию можно только в течение 24 часов.".into(),
        (Vi, ReversalWindowClosed) => "Chỉ có thể hủy giao dịch trong vòng 24 giờ.".into(),
        (En, RedemptionExpired) => "This request has expired. Ask the cashier to send a new one.".into(),
        (Ru, RedemptionExpired) => "Срок запроса истёк. Попросите кассира отправить новый.".into(),
        (Vi, RedemptionExpired) => "Yêu cầu đã hết hạn. Hãy nhờ thu ngân gửi yêu cầu mới.".into(),
        (En, RedemptionClosed { .. }) => "This request has already been answered.".into(),
        (Ru, RedemptionClosed { .. }) => "На этот запрос уже ответили.".into(),
        (Vi, RedemptionClosed { .. }) => "Yêu cầu này đã được trả lời.".into(),
        (En, NotYourRedemption) => "This request is addressed to someone else.".into(),
        (Ru, NotYourRedemption) => "Этот запрос адресован другому человеку.".into(),
        (Vi, NotYourRedemption) => "Yêu cầu này dành cho người khác.".into(),
        (En, IdempotencyConflict) => "This operation was already submitted with different details.".into(),
        (Ru, IdempotencyConflict) => "Эта операция уже была отправлена с другими данными.".into(),
        (Vi, IdempotencyConflict) => "Giao dịch này đã được gửi với thông tin khác.".into(),
        (En, CodeTaken) => "Please try again.".into(),
        (Ru, CodeTaken) => "Пожалуйста, попробуйте ещё раз.".into(),
        (Vi, CodeTaken) => "Vui lòng thử lại.".into(),
        (En, InvalidTransition) => "This partner's status does not allow that.".into(),
        (Ru, InvalidTransition) => "Статус партнёра не позволяет это сделать.".into(),
        (Vi, InvalidTransition) => "Trạng thái đối tác không cho phép thao tác này.".into(),
        (En, AlreadyPartner) => "You are already registered as a partner.".into(),
        (Ru, AlreadyPartner) => "Вы уже зарегистрированы как партнёр.".into(),
        (Vi, AlreadyPartner) => "Bạn đã đăng ký làm đối tác.".into(),
    }
}

/// Text for a permanent internal failure (reported to the team).
pub(crate) fn internal_error_text(lang: Language) -> &'static str {
    match lang {
        Language::En => "Something went wrong on our side. The team has been notified; please try again later.",
        Language::Ru => "Что-то пошло не так. Команда уже уведомлена, попробуйте позже.",
        Language::Vi => "Đã xảy ra lỗi từ phía chúng tôi. Đội ngũ đã được thông báo, vui lòng thử lại sau.",
    }
}

/// Splits a storage result three ways:
/// - success → `Ok(Ok(value))`;
/// - a rule rejection → `Ok(Err(text))`, a helpful message for the user;
/// - a permanent backend failure → `Ok(Err(text))` as well, after reporting it;
/// - a temporary failure → `Err(_)`, so the webhook answers 5xx and Telegram retries.
pub(crate) async fn settle<T>(
    cx: &Context,
    lang: Language,
    context: &'static str,
    r: StoreResult<T>,
) -> Result<std::result::Result<T, String>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(StoreError::Rejected(rej)) => Ok(Err(rejection_text(lang, &rej))),
        // A duplicate delivery: the engine drops the whole update.
        Err(e @ StoreError::DuplicateUpdate) => Err(Error::Store(e)),
        Err(e) if e.is_temporary() => Err(Error::Store(e)),
        Err(e) => {
            cx.report(ErrorReport { message: e.to_string(), context, update_kind: None, temporary: false }).await;
            Ok(Err(internal_error_text(lang).to_string()))
        }
    }
}

/// Parses a positive whole amount typed by a person: digits with optional
/// spaces, dots, commas or underscores as thousands separators (`1 500`,
/// `1.500`, `1,500`). Rejects signs, decimals with other lengths, and zero.
pub(crate) fn parse_amount(s: &str) -> Option<Points> {
    let s = s.trim();
    if s.is_empty() || s.len() > 24 {
        return None;
    }
    let mut digits = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '_' | '.' | ',' | '\u{202F}' | '\u{00A0}' => {}
            _ => return None,
        }
    }
    let n: Points = digits.parse().ok()?;
    (n > 0 && n <= crate::domain::rules::MAX_PURCHASE).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_points() {
        assert_eq!(fmt_points(0), "0");
        assert_eq!(fmt_points(999), "999");
        assert_eq!(fmt_points(1234567), "1\u{202F}234\u{202F}567");
        assert_eq!(fmt_signed(-1500), "−1\u{202F}500");
        assert_eq!(fmt_signed(5), "+5");
    }

    #[test]
    fn formats_time() {
        assert_eq!(fmt_time(Timestamp(0)), "1970-01-01 00:00");
        assert_eq!(fmt_time(Timestamp(1_795_000_000)), "2026-11-18 11:06");
    }

    #[test]
    fn parses_amounts() {
        assert_eq!(parse_amount("1500"), Some(1500));
        assert_eq!(parse_amount("1 500"), Some(1500));
        assert_eq!(parse_amount("1,500"), Some(1500));
        assert_eq!(parse_amount("0"), None);
        assert_eq!(parse_amount("-5"), None);
        assert_eq!(parse_amount("abc"), None);
        assert_eq!(parse_amount("99999999999999999999"), None);
    }

    #[test]
    fn every_rejection_is_translated() {
        let all = [
            Rejection::UnknownCustomer,
            Rejection::InsufficientBalance { balance: 1, requested: 2 },
            Rejection::DailyLimitExceeded { remaining: 3 },
            Rejection::RedemptionExpired,
        ];
        for r in &all {
            let en = rejection_text(Language::En, r);
            assert_ne!(en, rejection_text(Language::Ru, r));
            assert_ne!(en, rejection_text(Language::Vi, r));
        }
    }
}
