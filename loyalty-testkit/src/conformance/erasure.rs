//! A customer's own data, erasure under a tombstone, and the audit log.

use super::rewards::offer;
use super::*;
use loyalty_core::program::campaigns::Birthday;

impl Ctx<'_> {
    async fn personal(&self, who: CustomerRef) -> Result<PersonalData, String> {
        self.store.personal_data(who).await.or_missing("personal_data")
    }

    async fn erase(&self, who: CustomerRef, admin: Option<TelegramUserId>) -> StoreResult<Erased> {
        self.store.erase_customer(EraseCustomer { who, admin, now: T0.plus(600) }).await
    }

    async fn audit(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, String> {
        self.store.audit_log(AuditPage { before, limit }).await.or_fail("audit_log")
    }
}

pub(super) async fn personal_data_is_everything_held(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(500).await?;
    ctx.credit(&p, &c, 2_000, "mydata-credit").await?;
    let reward = ctx.reward(&p, offer(300, None)).await?;
    let voucher = ctx.claim(&c, reward.id).await?.voucher;
    let birthday = Birthday::new(5, 17).ok_or("a birthday")?;
    let set = SetBirthday { customer: CustomerRef::Id(c.id), birthday, now: T0 };
    s.set_birthday(set).await.or_fail("set_birthday")?;

    let data = ctx.personal(CustomerRef::Telegram(c.telegram_id)).await?;
    ensure_eq!(data.customer, ctx.summary(c.id).await?.customer, "the customer as now");
    ensure_eq!(data.birthday, Some(birthday), "the birthday");
    let mut entries = ctx.all_entries(c.id).await?;
    entries.reverse();
    ensure_eq!(data.entries, entries, "every entry, oldest first");
    ensure_eq!(data.vouchers, vec![voucher], "the voucher");
    ensure_eq!(ctx.personal(CustomerRef::Code(c.code.clone())).await?, data, "by code");

    let other = ctx.customer(0).await?;
    let theirs = ctx.personal(CustomerRef::Id(other.id)).await?;
    ensure!(theirs.entries.is_empty() && theirs.vouchers.is_empty(), "another customer's data is theirs only");
    ensure_eq!(theirs.birthday, None, "no birthday given");
    let unknown = s.personal_data(CustomerRef::Telegram(TelegramUserId(42))).await.or_fail("unknown")?;
    ensure_eq!(unknown, None, "no such customer");
    Ok(())
}

pub(super) async fn erasure_keeps_the_books(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(500).await?;
    ctx.credit(&p, &c, 2_000, "erase-credit").await?;
    let birthday = Birthday::new(1, 2).ok_or("a birthday")?;
    s.set_birthday(SetBirthday { customer: CustomerRef::Id(c.id), birthday, now: T0 }).await.or_fail("birthday")?;
    let pending = ctx.open(&p, &c, 100, 1_000).await?;
    let to_them = vec![message(Some(c.telegram_id.0), "to the customer"), message(Some(7), "to someone else")];
    s.enqueue_messages(enqueue("erase:1", None, to_them, T0)).await.or_fail("enqueue")?;
    let before = s.program_stats(DAY0).await.or_fail("stats before")?;
    let held = ctx.personal(CustomerRef::Id(c.id)).await?;

    let erased = ctx.erase(CustomerRef::Telegram(c.telegram_id), None).await.or_fail("erase")?;
    ensure!(!erased.replayed, "the first erasure applies");
    let t = &erased.customer;
    ensure_eq!(t.id, c.id, "the tombstone keeps the internal id");
    ensure_eq!(t.telegram_id, TelegramUserId(-c.id.0), "no Telegram id left");
    ensure!(t.is_erased(), "a tombstone");
    ensure_eq!((t.first_name.as_str(), t.username.as_deref()), ("", None), "no name left");
    ensure!(t.blocked, "the tombstone is blocked");
    ensure_eq!(t.balance, held.customer.balance, "the points stay on the tombstone");
    let now = ctx.personal(CustomerRef::Id(c.id)).await?;
    ensure_eq!(now.customer, *t, "the tombstone as stored");
    ensure_eq!(now.birthday, None, "the birthday is gone");
    ensure_eq!(now.entries, held.entries, "every entry stays, under the tombstone");
    ensure_eq!(s.program_stats(DAY0).await.or_fail("stats after")?, before, "the program's figures add up as before");

    let unknown = s.personal_data(CustomerRef::Telegram(c.telegram_id)).await.or_fail("by the old Telegram id")?;
    ensure_eq!(unknown, None, "the Telegram id no longer finds anyone");
    ctx.erase(CustomerRef::Telegram(c.telegram_id), None)
        .await
        .rejects(Rejection::UnknownCustomer, "erasing by the old Telegram id")?;
    let again = ctx.erase(CustomerRef::Id(c.id), Some(ADMIN)).await.or_fail("erase again")?;
    ensure!(again.replayed && again.customer == *t, "erasing a tombstone changes nothing");
    s.credit_purchase(ctx.credit_req(&p, &c, 1_000, "erase-credit-2"))
        .await
        .rejects(Rejection::CustomerBlocked, "a credit on the tombstone's card")?;
    let view = ViewRedemption { partner: PartnerRef::Id(p.id), id: pending };
    let request = s.redemption(view).await.or_missing("the pending request")?.request;
    ensure_eq!(request.status, RedemptionStatus::Declined, "the pending request is declined");

    let taken = s.take_messages(take(T0.plus(3_600), 10)).await.or_fail("take")?;
    ensure_eq!(payloads(&taken), [("to someone else".into(), 2)], "nothing more goes to the erased chat");

    let back = ctx.register(ctx.new_customer_with(c.telegram_id, 0)).await.or_fail("sign up again")?;
    ensure!(back.customer.id != c.id && back.customer.balance == 0, "the person comes back as a new customer");

    let audit = ctx.audit(None, 10).await?;
    let erasures: Vec<_> = audit.iter().filter(|r| matches!(r.action, AuditAction::Erased { .. })).collect();
    ensure_eq!(erasures.len(), 1, "one erasure audited, the replay not");
    ensure_eq!((erasures[0].admin, erasures[0].at), (None, T0.plus(600)), "asked by the customer");
    ensure_eq!(erasures[0].action, AuditAction::Erased { customer: c.id }, "the tombstone's id");

    ctx.erase(CustomerRef::Id(CustomerId(i64::MAX)), None).await.rejects(Rejection::UnknownCustomer, "no such id")?;
    Ok(())
}

pub(super) async fn audit_log_pages_newest_first(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    for limit in [0, MAX_AUDIT_PAGE + 1] {
        let page = AuditPage { before: None, limit };
        s.audit_log(page).await.rejects(Rejection::InvalidAmount, "a limit out of range")?;
    }
    ensure!(ctx.audit(None, 10).await?.is_empty(), "nothing audited yet");
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(100).await?;
    let adjusted = s.adjust_balance(ctx.adjust_req(&c, 50, "audit-adjust")).await.or_fail("adjust")?;
    ctx.block(&c, true).await?;
    ctx.block(&c, true).await?;
    let erased = ctx.erase(CustomerRef::Id(c.id), Some(ADMIN)).await.or_fail("erase")?;

    let all = ctx.audit(None, MAX_AUDIT_PAGE).await?;
    let actions: Vec<AuditAction> = all.iter().map(|r| r.action.clone()).collect();
    let want = vec![
        AuditAction::Erased { customer: erased.customer.id },
        AuditAction::Blocked { customer: c.id, blocked: true },
        AuditAction::Adjusted { customer: c.id, entry: adjusted.entry.id, amount: 50, reason: "correction".into() },
        AuditAction::PartnerDecided {
            partner: p.id,
            decision: PartnerDecision::Approve,
            status: PartnerStatus::Approved,
        },
    ];
    ensure_eq!(actions, want, "newest first, changes only");
    ensure!(all.iter().all(|r| r.admin == Some(ADMIN)), "each by the admin");
    ensure!(all.windows(2).all(|w| w[0].id > w[1].id), "ids fall");
    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = ctx.audit(before, 3).await?;
        ensure!(page.len() <= 3, "a page is at most `limit` records");
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        paged.extend(page);
    }
    ensure_eq!(paged, all, "page by page or at once");
    Ok(())
}
