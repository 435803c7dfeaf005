//! Cashier accounts: invitations joined and revoked, the staff limit, cashiers
//! at the till recorded on what they make, the partner's redemption requests
//! seen at its till, everything else refused to them, and joins racing for
//! one link (or one user for many links).

use super::rewards::offer;
use super::*;
use loyalty_core::program::rewards::VoucherStatus;

/// A name of 70 characters, most of them more than one byte in UTF-8: its
/// first 64 characters are 86 bytes, so a cut by bytes shows.
const LONG_NAME: &str = "Đặng Thị Thu Hương Nguyễn Phương Linh Trần Đức Minh Phạm Quốc Bảo Lê V";

/// A partner that does not exist.
const NOBODY: PartnerRef = PartnerRef::Id(PartnerId(i64::MAX));

impl Ctx<'_> {
    /// A fresh invitation token's hash.
    fn token(&self) -> String {
        rules::hash_api_key(&format!("staff-token-{}", self.next()))
    }

    /// A Telegram user who is neither a customer nor a partner yet.
    pub(super) fn user(&self) -> TelegramUserId {
        TelegramUserId(700_000 + self.next())
    }

    /// `p`'s owner invites with `token` at `now`, for the usual 48 hours.
    fn invite_req(&self, p: &Partner, token: &str, now: Timestamp) -> InviteStaff {
        InviteStaff {
            partner: PartnerRef::Telegram(p.telegram_id),
            token_sha256_hex: token.into(),
            now,
            expires_at: now.plus(rules::STAFF_INVITE_TTL_SECS),
        }
    }

    /// A new invitation of `p`'s at `T0`, with its token.
    async fn invite(&self, p: &Partner) -> Result<(Staff, String), String> {
        let token = self.token();
        let staff = self.store.invite_staff(self.invite_req(p, &token, T0)).await.or_fail("invite_staff")?;
        Ok((staff, token))
    }

    fn join_req(&self, token: &str, user: TelegramUserId, name: &str, now: Timestamp) -> JoinStaff {
        JoinStaff { token_sha256_hex: token.into(), telegram_id: user, name: name.into(), now }
    }

    /// A new user who joined `p`'s staff a minute after `T0`: an active cashier.
    pub(super) async fn cashier(&self, p: &Partner) -> Result<Staff, String> {
        let (_, token) = self.invite(p).await?;
        let user = self.user();
        let joined =
            self.store.join_staff(self.join_req(&token, user, "Cashier", T0.plus(60))).await.or_fail("join_staff")?;
        ensure!(!joined.replayed && joined.staff.telegram_id == Some(user), "joined: {joined:?}");
        Ok(joined.staff)
    }

    pub(super) fn revoke_req(&self, p: &Partner, staff: StaffId, now: Timestamp) -> RevokeStaff {
        RevokeStaff { partner: PartnerRef::Telegram(p.telegram_id), staff, now }
    }

    /// `p`'s staff, as its owner sees them.
    async fn staff_of(&self, p: &Partner) -> Result<Vec<Staff>, String> {
        self.store.staff(PartnerRef::Id(p.id)).await.or_fail("staff")
    }
}

/// The Telegram user of a joined cashier.
pub(super) fn user_of(staff: &Staff) -> Result<TelegramUserId, String> {
    staff.telegram_id.ok_or_else(|| format!("staff {} has not joined", staff.id))
}

pub(super) async fn staff_are_invited_joined_and_revoked(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let ttl = rules::STAFF_INVITE_TTL_SECS;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);

    // An invitation: no one yet, no name, open for 48 hours.
    let token = ctx.token();
    let invited = s.invite_staff(ctx.invite_req(&p, &token, T0)).await.or_fail("invite")?;
    let want = Staff {
        id: invited.id,
        partner: p.id,
        telegram_id: None,
        name: String::new(),
        invited_at: T0,
        expires_at: T0.plus(ttl),
        joined_at: None,
        revoked_at: None,
    };
    ensure_eq!(invited, want, "a new invitation");
    ensure_eq!(
        (invited.status(T0), invited.status(T0.plus(ttl)), invited.status(T0.plus(ttl + 1))),
        (StaffStatus::Invited, StaffStatus::Invited, StaffStatus::Expired),
        "an invitation's status over time"
    );
    ensure_eq!(ctx.staff_of(&p).await?, vec![invited.clone()], "listed");

    // Refused invitations: a hash used before (here or elsewhere), a partner
    // that is not approved (checked before the hash), no such partner.
    s.invite_staff(ctx.invite_req(&p, &token, T0.plus(1)))
        .await
        .rejects(Rejection::InvalidInvite, "the same token hash again")?;
    s.invite_staff(ctx.invite_req(&q, &token, T0.plus(1)))
        .await
        .rejects(Rejection::InvalidInvite, "the token hash at another partner")?;
    let applied = ctx.applied_partner(PartnerTerms::default()).await?;
    s.invite_staff(ctx.invite_req(&applied, &ctx.token(), T0))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "an applied partner")?;
    s.invite_staff(ctx.invite_req(&applied, &token, T0))
        .await
        .rejects(Rejection::PartnerNotApproved { status: PartnerStatus::Applied }, "status before the hash")?;
    let nobody = InviteStaff { partner: NOBODY, ..ctx.invite_req(&p, &ctx.token(), T0) };
    s.invite_staff(nobody).await.rejects(Rejection::UnknownPartner, "no such partner")?;
    ensure_eq!(ctx.staff_of(&p).await?, vec![invited.clone()], "refusals add no one");
    ensure!(ctx.staff_of(&applied).await?.is_empty(), "refusals add no one to the applied partner");

    // Joining: the name trimmed and cut to 64 characters (not bytes).
    let expected_name: String = LONG_NAME.chars().take(64).collect();
    ensure!(
        LONG_NAME.chars().count() == 70 && expected_name.len() > 64,
        "the test's premise: 70 characters, 64 of them more than 64 bytes"
    );
    let user = ctx.user();
    let padded = format!("\u{a0}\t {LONG_NAME}\u{3000}\n");
    let joined = s.join_staff(ctx.join_req(&token, user, &padded, T0.plus(60))).await.or_fail("join")?;
    let cashier =
        Staff { telegram_id: Some(user), name: expected_name, joined_at: Some(T0.plus(60)), ..invited.clone() };
    ensure_eq!(joined, StaffJoined { staff: cashier.clone(), partner: p.clone(), replayed: false }, "joined");
    ensure_eq!(cashier.status(T0.plus(ttl + 1)), StaffStatus::Active, "a cashier does not expire");

    // The same user with the same link: a replay, even past the link's
    // expiry, changing nothing (not the name).
    let again = s.join_staff(ctx.join_req(&token, user, "Someone else", T0.plus(ttl + 10))).await;
    let again = again.or_fail("the same user opens the link again")?;
    ensure_eq!(again, StaffJoined { staff: cashier.clone(), partner: p.clone(), replayed: true }, "a replay");

    // Someone else with a used link, an unknown link.
    let other = ctx.user();
    s.join_staff(ctx.join_req(&token, other, "Other", T0.plus(61)))
        .await
        .rejects(Rejection::InvalidInvite, "a link used by someone else")?;
    s.join_staff(ctx.join_req(&ctx.token(), other, "Other", T0.plus(61)))
        .await
        .rejects(Rejection::InvalidInvite, "an unknown link")?;
    s.join_staff(ctx.join_req(&token, q.telegram_id, "Owner", T0.plus(61)))
        .await
        .rejects(Rejection::InvalidInvite, "an owner with a used link (the link is checked first)")?;

    // Expiry: a link works until its `expires_at`, included.
    let short = |token: &str| InviteStaff { expires_at: T0.plus(100), ..ctx.invite_req(&p, token, T0) };
    let (late_token, edge_token) = (ctx.token(), ctx.token());
    let late = s.invite_staff(short(&late_token)).await.or_fail("a short invitation")?;
    ensure_eq!(late.expires_at, T0.plus(100), "expires_at as asked");
    s.join_staff(ctx.join_req(&late_token, other, "Other", T0.plus(101)))
        .await
        .rejects(Rejection::InvalidInvite, "an expired link")?;
    s.invite_staff(short(&edge_token)).await.or_fail("another short invitation")?;
    let edge = s.join_staff(ctx.join_req(&edge_token, other, "Other", T0.plus(100))).await;
    let edge = edge.or_fail("joining at the second the link expires")?;
    ensure_eq!((edge.staff.joined_at, edge.replayed), (Some(T0.plus(100)), false), "joined at the last second");

    // Owners of any partner, in any status, cannot be cashiers; cashiers
    // cannot be cashiers twice, here or elsewhere.
    let (open, open_token) = ctx.invite(&p).await?;
    let (_, q_token) = ctx.invite(&q).await?;
    for (owner, what) in [(p.telegram_id, "its own owner"), (q.telegram_id, "another partner's owner")] {
        s.join_staff(ctx.join_req(&open_token, owner, "Owner", T0.plus(62)))
            .await
            .rejects(Rejection::AlreadyPartner, what)?;
    }
    s.join_staff(ctx.join_req(&open_token, applied.telegram_id, "Owner", T0.plus(62)))
        .await
        .rejects(Rejection::AlreadyPartner, "an applied partner's owner")?;
    s.join_staff(ctx.join_req(&open_token, user, "Again", T0.plus(62)))
        .await
        .rejects(Rejection::AlreadyStaff, "a cashier of this partner with another link")?;
    s.join_staff(ctx.join_req(&q_token, user, "Again", T0.plus(62)))
        .await
        .rejects(Rejection::AlreadyStaff, "a cashier of this partner with another partner's link")?;
    ensure_eq!(
        ctx.staff_of(&p).await?.into_iter().find(|r| r.id == open.id),
        Some(open.clone()),
        "refused joins leave the link unused"
    );

    // An approved partner's link only: a suspended partner's link is refused
    // (after checking the link itself, before checking who opens it).
    let r = ctx.partner(PartnerTerms::default()).await?;
    let (_, r_token) = ctx.invite(&r).await?;
    let r_late = ctx.token();
    s.invite_staff(InviteStaff { expires_at: T0.plus(100), ..ctx.invite_req(&r, &r_late, T0) })
        .await
        .or_fail("a short invitation at r")?;
    ctx.suspend(&r).await?;
    let suspended = Rejection::PartnerNotApproved { status: PartnerStatus::Suspended };
    s.invite_staff(ctx.invite_req(&r, &ctx.token(), T0.plus(63)))
        .await
        .rejects(suspended.clone(), "a suspended partner invites")?;
    let newcomer = ctx.user();
    s.join_staff(ctx.join_req(&r_token, newcomer, "New", T0.plus(63)))
        .await
        .rejects(suspended.clone(), "a suspended partner's link")?;
    s.join_staff(ctx.join_req(&r_token, p.telegram_id, "Owner", T0.plus(63)))
        .await
        .rejects(suspended.clone(), "an owner with a suspended partner's link (status first)")?;
    s.join_staff(ctx.join_req(&r_late, newcomer, "New", T0.plus(101)))
        .await
        .rejects(Rejection::InvalidInvite, "an expired link of a suspended partner (expiry first)")?;

    // The staff listed active cashiers first, then the rest, each newest
    // first, by the owner's either reference.
    let listed = ctx.staff_of(&p).await?;
    ensure_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![edge.staff.id, cashier.id, open.id, late.id],
        "p's staff, cashiers first, each newest first"
    );
    ensure_eq!(listed[1], cashier, "the cashier as listed");
    ensure_eq!(listed[3], late, "the expired invitation as listed");
    ensure_eq!(listed[0], edge.staff, "the other cashier as listed");
    ensure_eq!(s.staff(PartnerRef::Telegram(p.telegram_id)).await.or_fail("staff by owner")?, listed, "by owner");
    ensure_eq!(late.status(T0.plus(101)), StaffStatus::Expired, "the unused short invitation expired");
    s.staff(NOBODY).await.rejects(Rejection::UnknownPartner, "the staff of no partner")?;
    s.staff(PartnerRef::Telegram(user)).await.rejects(Rejection::UnknownPartner, "a cashier is not an owner")?;

    // Revoking: at once, once; another partner's staff is unknown.
    s.revoke_staff(ctx.revoke_req(&q, cashier.id, T0.plus(200)))
        .await
        .rejects(Rejection::UnknownStaff, "another partner's cashier")?;
    s.revoke_staff(ctx.revoke_req(&p, StaffId(i64::MAX), T0.plus(200)))
        .await
        .rejects(Rejection::UnknownStaff, "no such staff")?;
    let nobody = RevokeStaff { partner: NOBODY, ..ctx.revoke_req(&p, cashier.id, T0.plus(200)) };
    s.revoke_staff(nobody).await.rejects(Rejection::UnknownPartner, "revoked by no partner")?;
    let revoked = s.revoke_staff(ctx.revoke_req(&p, cashier.id, T0.plus(200))).await.or_fail("revoke")?;
    let gone = Staff { revoked_at: Some(T0.plus(200)), ..cashier.clone() };
    ensure_eq!(revoked, StaffRevoked { staff: gone.clone(), partner: p.clone(), replayed: false }, "revoked");
    ensure_eq!(gone.status(T0.plus(200)), StaffStatus::Revoked, "status");
    let twice = s.revoke_staff(ctx.revoke_req(&p, cashier.id, T0.plus(300))).await.or_fail("revoke again")?;
    ensure_eq!(twice, StaffRevoked { staff: gone.clone(), partner: p.clone(), replayed: true }, "revoked twice");
    let by_id = RevokeStaff { partner: PartnerRef::Id(p.id), ..ctx.revoke_req(&p, cashier.id, T0.plus(300)) };
    ensure!(s.revoke_staff(by_id).await.or_fail("revoke by id")?.replayed, "revoked again, by id");
    s.join_staff(ctx.join_req(&token, user, "Back", T0.plus(301)))
        .await
        .rejects(Rejection::InvalidInvite, "a revoked cashier with their old link")?;

    // An invitation revoked before use cannot be used.
    let unused = s.revoke_staff(ctx.revoke_req(&p, open.id, T0.plus(302))).await.or_fail("revoke the invitation")?;
    ensure_eq!(unused.staff, Staff { revoked_at: Some(T0.plus(302)), ..open.clone() }, "the invitation revoked");
    s.join_staff(ctx.join_req(&open_token, newcomer, "New", T0.plus(303)))
        .await
        .rejects(Rejection::InvalidInvite, "a revoked link")?;

    // A revoked cashier may join again with a new link (here, or elsewhere).
    let back = s.join_staff(ctx.join_req(&q_token, user, "  Back  ", T0.plus(304))).await.or_fail("join q")?;
    ensure_eq!(
        (back.staff.partner, back.staff.telegram_id, back.staff.name.as_str(), back.replayed),
        (q.id, Some(user), "Back", false),
        "a revoked cashier joins another partner"
    );
    ensure_eq!(back.partner, q, "the partner they work for now");
    let listed = ctx.staff_of(&p).await?;
    ensure_eq!(listed.iter().find(|r| r.id == cashier.id), Some(&gone), "the revoked row stays listed");

    // Revoking and listing work in any partner status.
    ctx.suspend(&q).await?;
    let q_listed = ctx.staff_of(&q).await?;
    ensure_eq!(q_listed.len(), 1, "a suspended partner's staff: {q_listed:?}");
    ensure_eq!(q_listed[0], back.staff, "the cashier of the suspended partner");
    let q_revoked = s.revoke_staff(ctx.revoke_req(&q, back.staff.id, T0.plus(400))).await;
    let q_revoked = q_revoked.or_fail("a suspended partner revokes")?;
    ensure_eq!(
        (q_revoked.staff.revoked_at, q_revoked.partner.status, q_revoked.replayed),
        (Some(T0.plus(400)), PartnerStatus::Suspended, false),
        "revoked at a suspended partner"
    );
    ensure_eq!(ctx.staff_of(&r).await?.len(), 2, "the staff of a suspended partner, unused links too");
    Ok(())
}

pub(super) async fn staff_limit(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let max = rules::MAX_STAFF;
    let limit = Rejection::StaffLimit { max };
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);

    // 20 at once: 5 cashiers, 14 invitations for 48 hours, one for 100 seconds.
    let mut cashiers = Vec::new();
    for _ in 0..5 {
        cashiers.push(ctx.cashier(&p).await?);
    }
    let mut open = Vec::new();
    for _ in 0..14 {
        open.push(ctx.invite(&p).await?.0);
    }
    let short = InviteStaff { expires_at: T0.plus(100), ..ctx.invite_req(&p, &ctx.token(), T0) };
    s.invite_staff(short).await.or_fail("the 20th")?;
    ensure_eq!(ctx.staff_of(&p).await?.len() as i64, max, "staff");
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), T0)).await.rejects(limit.clone(), "the 21st")?;
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), T0.plus(100)))
        .await
        .rejects(limit.clone(), "the 21st while the short invitation is still open, at its last second")?;
    let used = ctx.token();
    s.invite_staff(ctx.invite_req(&q, &used, T0)).await.or_fail("another partner's own limit")?;
    s.invite_staff(ctx.invite_req(&p, &used, T0))
        .await
        .rejects(Rejection::InvalidInvite, "a used hash at the limit (the hash first)")?;

    // An expired invitation frees a place.
    let t1 = T0.plus(101);
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), t1)).await.or_fail("a place once the short one expired")?;
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), t1)).await.rejects(limit.clone(), "full again")?;

    // A revoked invitation frees a place, and so does a revoked cashier.
    s.revoke_staff(ctx.revoke_req(&p, open[0].id, t1)).await.or_fail("revoke an invitation")?;
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), t1)).await.or_fail("a place once an invitation was revoked")?;
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), t1)).await.rejects(limit.clone(), "full again")?;
    s.revoke_staff(ctx.revoke_req(&p, cashiers[0].id, t1)).await.or_fail("revoke a cashier")?;
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), t1)).await.or_fail("a place once a cashier was revoked")?;
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), t1)).await.rejects(limit.clone(), "full again")?;

    // Once every invitation expired, the 4 cashiers left still count.
    let t2 = T0.plus(rules::STAFF_INVITE_TTL_SECS).plus(200);
    for i in 0..max - 4 {
        s.invite_staff(ctx.invite_req(&p, &ctx.token(), t2)).await.or_fail(&format!("place {i} after the expiry"))?;
    }
    s.invite_staff(ctx.invite_req(&p, &ctx.token(), t2)).await.rejects(limit.clone(), "4 cashiers and 16 links")?;

    // The list holds 100 rows, the active cashiers first (so none is ever
    // pushed out by old links), then the newest others: add links that
    // expire at once.
    let before = ctx.staff_of(&p).await?;
    let active: Vec<StaffId> =
        before.iter().filter(|r| r.joined_at.is_some() && r.revoked_at.is_none()).map(|r| r.id).collect();
    ensure!(!active.is_empty(), "cashiers among them");
    let mut ids: Vec<StaffId> = before.iter().map(|r| r.id).filter(|id| !active.contains(id)).collect();
    let mut now = t2.plus(rules::STAFF_INVITE_TTL_SECS + 1);
    while ids.len() <= 100 {
        let req = InviteStaff { expires_at: now, ..ctx.invite_req(&p, &ctx.token(), now) };
        ids.push(s.invite_staff(req).await.or_fail("a link for a second")?.id);
        now = now.plus(1);
    }
    ids.sort_by(|a, b| b.cmp(a));
    let mut active = active;
    active.sort_by(|a, b| b.cmp(a));
    let expected: Vec<StaffId> = active.iter().chain(&ids).copied().take(100).collect();
    let listed = ctx.staff_of(&p).await?;
    ensure_eq!(listed.len(), 100, "rows listed of {}", ids.len() + active.len());
    ensure_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        expected,
        "the cashiers, then the newest others, 100 of {} rows",
        ids.len() + active.len()
    );
    Ok(())
}

pub(super) async fn cashiers_work_the_till_and_are_recorded(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(1_000).await?;
    let cashier = ctx.cashier(&p).await?;
    let till = PartnerRef::Till(user_of(&cashier)?);
    let owner_till = PartnerRef::Till(p.telegram_id);

    // The till's partner, and its lookup.
    ensure_eq!(s.partner(till).await.or_fail("partner at the till")?, Some(p.clone()), "a cashier's partner");
    ensure_eq!(s.partner(owner_till).await.or_fail("the owner at the till")?, Some(p.clone()), "the owner's");
    let card = s.look_up_customer(LookUpCustomer { partner: till, customer: CustomerRef::Code(c.code.clone()) });
    let card = card.await.or_fail("look_up_customer at the till")?;
    ensure_eq!((card.partner, card.customer.id), (p.clone(), c.id), "looked up at the till");

    // Credits: the cashier's are theirs; the owner's by any reference are not.
    let credit = |partner: PartnerRef, key: &str| CreditPurchase { partner, ..ctx.credit_req(&p, &c, 2_000, key) };
    let first = s.credit_purchase(credit(till, "till-credit")).await.or_fail("a cashier's credit")?;
    ensure_eq!(
        (first.entry.cashier, first.entry.partner, first.entry.author, first.entry.kind, first.replayed),
        (Some(cashier.id), Some(p.id), Author::Partner(p.id), EntryKind::Accrual, false),
        "a cashier's credit"
    );
    ensure_eq!((first.partner.id, first.entry.amount), (p.id, 100), "at the partner's terms");
    let replay = s.credit_purchase(credit(till, "till-credit")).await.or_fail("the credit again")?;
    ensure_eq!((replay.entry, replay.replayed), (first.entry.clone(), true), "a replay answers the first entry");
    let owner_replay = s.credit_purchase(credit(PartnerRef::Id(p.id), "till-credit")).await;
    let owner_replay = owner_replay.or_fail("the key again by the owner")?;
    ensure_eq!(
        (owner_replay.entry, owner_replay.replayed),
        (first.entry.clone(), true),
        "the key again, by the owner: the first entry, the cashier's"
    );
    for (who, key) in [
        (owner_till, "owner-till"),
        (PartnerRef::Telegram(p.telegram_id), "owner-tg"),
        (PartnerRef::Id(p.id), "owner-id"),
    ] {
        let own = s.credit_purchase(credit(who, key)).await.or_fail(key)?;
        ensure_eq!((own.entry.cashier, own.entry.partner), (None, Some(p.id)), "the owner's credit by {who:?}");
    }

    // The cashier is on the entry wherever it is listed.
    let listed = ctx.all_entries(c.id).await?;
    ensure_eq!(listed.iter().find(|e| e.id == first.entry.id), Some(&first.entry), "customer_entries");
    let by_partner = s.partner_entries(PartnerEntriesPage { partner: PartnerRef::Id(p.id), before: None, limit: 100 });
    let by_partner = by_partner.await.or_fail("partner_entries")?;
    ensure_eq!(by_partner.iter().find(|e| e.id == first.entry.id), Some(&first.entry), "partner_entries");
    ensure_eq!(
        by_partner.iter().map(|e| e.cashier).collect::<Vec<_>>(),
        vec![None, None, None, Some(cashier.id)],
        "partner_entries, newest first"
    );
    let recent = ctx.summary(c.id).await?.recent;
    ensure_eq!(recent.iter().find(|e| e.id == first.entry.id), Some(&first.entry), "customer_summary");

    // Redemptions: the cashier who asked is on the request, its views, its entry.
    let open = |partner: PartnerRef, key: &str| OpenRedemption { partner, ..ctx.open_req(&p, &c, 50, 1_000, key) };
    let asked = s.open_redemption(open(till, "till-open")).await.or_fail("a cashier's request")?;
    ensure_eq!(
        (asked.request.cashier, asked.cashier.clone(), asked.request.partner, asked.replayed),
        (Some(cashier.id), Some(cashier.clone()), p.id, false),
        "a cashier's request"
    );
    let again = s.open_redemption(open(till, "till-open")).await.or_fail("the request again")?;
    ensure_eq!(
        (again.request.clone(), again.cashier.clone(), again.replayed),
        (asked.request.clone(), Some(cashier.clone()), true),
        "a replayed request"
    );
    let at_till = s.open_redemption(open(owner_till, "owner-open")).await.or_fail("the owner's request at the till")?;
    ensure_eq!((at_till.request.cashier, at_till.cashier), (None, None), "the owner's request at the till");
    let owners = s.open_redemption(open(PartnerRef::Telegram(p.telegram_id), "owner-open-2")).await;
    let owners = owners.or_fail("the owner's request")?;
    ensure_eq!((owners.request.cashier, owners.cashier), (None, None), "the owner's request");

    let confirmed = s.confirm_redemption(ctx.answer(asked.request.id, &c)).await.or_fail("confirm")?;
    let debit = confirmed.entry.clone().ok_or("a confirmed request has its entry")?;
    ensure_eq!(
        (debit.cashier, debit.kind, debit.amount, confirmed.request.cashier, confirmed.cashier.clone()),
        (Some(cashier.id), EntryKind::Redemption, -50, Some(cashier.id), Some(cashier.clone())),
        "the cashier's redemption confirmed"
    );
    let replayed = s.confirm_redemption(ctx.answer(asked.request.id, &c)).await.or_fail("confirm again")?;
    ensure_eq!(
        (replayed.entry, replayed.cashier, replayed.replayed),
        (Some(debit.clone()), Some(cashier.clone()), true),
        "confirmed again"
    );
    let own_debit = s.confirm_redemption(ctx.answer(owners.request.id, &c)).await.or_fail("confirm the owner's")?;
    ensure_eq!(
        (own_debit.entry.map(|e| e.cashier), own_debit.cashier),
        (Some(None), None),
        "the owner's redemption confirmed"
    );
    for who in [PartnerRef::Id(p.id), PartnerRef::Telegram(p.telegram_id)] {
        let view = s.redemption(ViewRedemption { partner: who, id: asked.request.id }).await.or_fail("redemption")?;
        let view = view.ok_or("the partner sees its cashier's request")?;
        ensure_eq!(
            (view.request, view.entry, view.cashier),
            (confirmed.request.clone(), Some(debit.clone()), Some(cashier.clone())),
            "the request as its partner sees it"
        );
    }
    ensure!(ctx.all_entries(c.id).await?.contains(&debit), "the debit listed with its cashier");

    // A declined and an expired request keep their cashier too.
    let declined = s.open_redemption(open(till, "till-decline")).await.or_fail("another request")?;
    let declined = s.decline_redemption(ctx.answer(declined.request.id, &c)).await.or_fail("decline")?;
    ensure_eq!(
        (declined.request.status, declined.request.cashier, declined.cashier),
        (RedemptionStatus::Declined, Some(cashier.id), Some(cashier.clone())),
        "declined"
    );
    let lapsing = s.open_redemption(open(till, "till-expire")).await.or_fail("a request left to expire")?;
    let mut expired = s.expire_redemptions(lapsing.request.expires_at.plus(1)).await.or_fail("expire_redemptions")?;
    expired.sort_by_key(|r| r.id);
    ensure_eq!(
        expired.iter().map(|r| (r.id, r.status, r.cashier)).collect::<Vec<_>>(),
        vec![
            (at_till.request.id, RedemptionStatus::Expired, None),
            (lapsing.request.id, RedemptionStatus::Expired, Some(cashier.id))
        ],
        "the expired requests, the cashier's with its cashier"
    );

    // Stamps and vouchers at the till.
    let card = SetStampCard {
        partner: PartnerRef::Telegram(p.telegram_id),
        needed: 5,
        reward: "a free coffee".into(),
        now: T0,
    };
    s.set_stamp_card(card).await.or_fail("set_stamp_card")?;
    let stamp = |partner: PartnerRef, key: &str| AddStamp {
        partner,
        customer: CustomerRef::Code(c.code.clone()),
        idempotency_key: key.into(),
        now: T0.plus(30),
    };
    let stamped = s.add_stamp(stamp(till, "till-stamp")).await.or_fail("a cashier's stamp")?;
    ensure_eq!(
        (stamped.progress.card.partner, stamped.progress.stamps, stamped.customer.id, stamped.replayed),
        (p.id, 1, c.id, false),
        "stamped at the till"
    );
    let stamped = s.add_stamp(stamp(owner_till, "owner-stamp")).await.or_fail("the owner's stamp at the till")?;
    ensure_eq!(stamped.progress.stamps, 2, "stamped by the owner at the till");
    let reward = ctx.reward(&p, offer(100, None)).await?;
    let voucher = ctx.claim(&c, reward.id).await?.voucher;
    let use_it = UseVoucher { partner: till, code: voucher.code.clone(), now: T0.plus(120) };
    let used = s.use_voucher(use_it.clone()).await.or_fail("a cashier takes a voucher")?;
    ensure_eq!(
        (used.voucher.id, used.voucher.status, used.partner.id, used.replayed),
        (voucher.id, VoucherStatus::Used, p.id, false),
        "a voucher used at the till"
    );
    ensure!(s.use_voucher(use_it).await.or_fail("the voucher again")?.replayed, "a voucher used again");

    // A request opened before the cashier was revoked is confirmed as theirs.
    let pending = s.open_redemption(open(till, "till-last")).await.or_fail("a last request")?;
    let revoked = s.revoke_staff(ctx.revoke_req(&p, cashier.id, T0.plus(90))).await.or_fail("revoke")?.staff;
    let late = s.confirm_redemption(ctx.answer(pending.request.id, &c)).await.or_fail("confirm after revoking")?;
    ensure_eq!(
        (late.entry.and_then(|e| e.cashier), late.request.cashier, late.cashier),
        (Some(cashier.id), Some(cashier.id), Some(revoked)),
        "confirmed after the cashier was revoked: theirs, the staff row as it is now"
    );
    ensure!(ctx.all_entries(c.id).await?.contains(&first.entry), "the cashier's old entries keep them");
    Ok(())
}

pub(super) async fn cashiers_cannot_manage(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let p = ctx.partner(PartnerTerms::default()).await?;
    let c = ctx.customer(1_000).await?;
    let cashier = ctx.cashier(&p).await?;
    let user = user_of(&cashier)?;
    let till = PartnerRef::Till(user);
    let credit = |partner: PartnerRef, key: &str| CreditPurchase { partner, ..ctx.credit_req(&p, &c, 2_000, key) };
    let credited = s.credit_purchase(credit(till, "mgr-credit")).await.or_fail("a cashier's credit")?.entry;
    let opened = s.open_redemption(ctx.open_req(&p, &c, 50, 1_000, "mgr-open")).await.or_fail("the owner's request")?;
    let campaign_id = ctx.campaign(campaign(CampaignKind::FirstPurchase)).await?.id;
    let reward = ctx.reward(&p, offer(100, None)).await?;

    let partner_before = s.partner(PartnerRef::Id(p.id)).await.or_missing("partner")?;
    let staff_before = ctx.staff_of(&p).await?;
    let entries_before = ctx.all_entries(c.id).await?;
    let all_campaigns = ListCampaigns { partner: None, limit: MAX_CAMPAIGNS_LISTED };
    let campaigns_before = s.campaigns(all_campaigns.clone()).await.or_fail("campaigns")?;
    let all_rewards =
        ListRewards { partner: None, category: None, claimable_at: None, status: None, after: None, limit: 50 };
    let rewards_before = s.rewards(all_rewards.clone()).await.or_fail("rewards")?;

    // Everything but the till's calls answers a till reference (a cashier's,
    // or even the owner's) as it answers a partner that does not exist; so
    // does a cashier's account taken for an owner's.
    let unknown = Rejection::UnknownPartner;
    let refs = [
        ("a cashier at the till", till),
        ("the owner at the till", PartnerRef::Till(p.telegram_id)),
        ("a cashier as an owner", PartnerRef::Telegram(user)),
        ("no partner", NOBODY),
    ];
    for (who, r) in refs {
        let at = |what: &str| format!("{what} by {who}");
        s.partner_stats(r, DAY0, DAY0).await.rejects(unknown.clone(), &at("partner_stats"))?;
        s.set_partner_api_key(r, Some(rules::hash_api_key("a key")))
            .await
            .rejects(unknown.clone(), &at("set_partner_api_key"))?;
        s.set_partner_api_key(r, None).await.rejects(unknown.clone(), &at("set_partner_api_key (none)"))?;
        s.staff(r).await.rejects(unknown.clone(), &at("staff"))?;
        let invite = InviteStaff { partner: r, ..ctx.invite_req(&p, &ctx.token(), T0) };
        s.invite_staff(invite).await.rejects(unknown.clone(), &at("invite_staff"))?;
        let revoke = RevokeStaff { partner: r, staff: cashier.id, now: T0.plus(100) };
        s.revoke_staff(revoke).await.rejects(unknown.clone(), &at("revoke_staff"))?;
        for needed in [5, 0] {
            let card = SetStampCard { partner: r, needed, reward: "a free coffee".into(), now: T0 };
            s.set_stamp_card(card).await.rejects(unknown.clone(), &at("set_stamp_card"))?;
        }
        let by = CampaignActor::Partner(r);
        let create =
            CreateCampaign { terms: campaign(CampaignKind::NthVisit), by: by.clone(), now: T0, idempotency_key: None };
        s.create_campaign(create).await.rejects(unknown.clone(), &at("create_campaign"))?;
        let end = DecideCampaign { campaign: campaign_id, decision: CampaignDecision::End, by: by.clone(), now: T0 };
        s.decide_campaign(end).await.rejects(unknown.clone(), &at("decide_campaign"))?;
        let listing = ListCampaigns { partner: Some(r), ..all_campaigns.clone() };
        s.campaigns(listing).await.rejects(unknown.clone(), &at("campaigns"))?;
        let key = format!("mgr-reward-{}", ctx.next());
        let publish = PublishReward { partner: r, offer: offer(100, None), idempotency_key: key, now: T0 };
        s.publish_reward(publish).await.rejects(unknown.clone(), &at("publish_reward"))?;
        let withdraw = DecideReward { reward: reward.id, decision: RewardDecision::Withdraw, by, now: T0 };
        s.decide_reward(withdraw).await.rejects(unknown.clone(), &at("decide_reward"))?;
        let listing = ListRewards { partner: Some(r), ..all_rewards.clone() };
        s.rewards(listing).await.rejects(unknown.clone(), &at("rewards"))?;
        let reverse =
            ReverseEntry { partner: r, ..ctx.reverse_req(credited.id, &p, &format!("mgr-reverse-{}", ctx.next())) };
        s.reverse_entry(reverse).await.rejects(unknown.clone(), &at("reverse_entry"))?;
        let page = PartnerEntriesPage { partner: r, before: None, limit: 10 };
        s.partner_entries(page).await.rejects(unknown.clone(), &at("partner_entries"))?;
        let figures = DailyFigures { scope: FiguresScope::Partner(r), from: DAY0, days: 1 };
        s.daily_figures(figures).await.rejects(unknown.clone(), &at("daily_figures"))?;
    }
    // The partner's requests are the till's (cashiers_see_the_partners_requests),
    // not a cashier's account taken for an owner's.
    for (who, r) in [("a cashier as an owner", PartnerRef::Telegram(user)), ("no partner", NOBODY)] {
        let view = s.redemption(ViewRedemption { partner: r, id: opened.request.id }).await;
        ensure_eq!(view.or_fail(&format!("redemption by {who}"))?, None, "redemption by {who}");
    }

    // A cashier's own account is no partner at the owner's calls of the till either.
    ensure_eq!(s.partner(PartnerRef::Telegram(user)).await.or_fail("partner")?, None, "a cashier is not an owner");
    s.credit_purchase(credit(PartnerRef::Telegram(user), "mgr-as-owner"))
        .await
        .rejects(unknown.clone(), "a cashier's credit by an owner's reference")?;

    // A cashier cannot become an owner (the till would take them away from
    // their partner) until revoked.
    let apply = PartnerApplication { telegram_id: user, ..ctx.application(PartnerTerms::default()) };
    s.apply_partner(apply.clone()).await.rejects(Rejection::AlreadyStaff, "a cashier applies")?;

    // Nothing changed.
    ensure_eq!(s.partner(PartnerRef::Id(p.id)).await.or_missing("partner")?, partner_before, "the partner (no key)");
    ensure_eq!(ctx.staff_of(&p).await?, staff_before, "the staff");
    ensure_eq!(ctx.all_entries(c.id).await?, entries_before, "the entries (nothing reversed)");
    ensure_eq!(s.campaigns(all_campaigns).await.or_fail("campaigns")?, campaigns_before, "the campaigns");
    ensure_eq!(s.rewards(all_rewards).await.or_fail("rewards")?, rewards_before, "the rewards");
    ensure!(s.stamp_cards(CustomerRef::Id(c.id)).await.or_fail("stamp_cards")?.is_empty(), "no stamp card");

    // A revoked cashier is no one at the till.
    s.revoke_staff(ctx.revoke_req(&p, cashier.id, T0.plus(100))).await.or_fail("revoke")?;
    ensure_eq!(s.partner(till).await.or_fail("partner")?, None, "a revoked cashier's till");
    s.credit_purchase(credit(till, "mgr-revoked")).await.rejects(unknown.clone(), "a revoked cashier credits")?;
    let look = LookUpCustomer { partner: till, customer: CustomerRef::Code(c.code.clone()) };
    s.look_up_customer(look).await.rejects(unknown.clone(), "a revoked cashier looks up")?;
    let open = OpenRedemption { partner: till, ..ctx.open_req(&p, &c, 50, 1_000, "mgr-revoked-open") };
    s.open_redemption(open).await.rejects(unknown.clone(), "a revoked cashier asks to redeem")?;
    let stamp = AddStamp {
        partner: till,
        customer: CustomerRef::Code(c.code.clone()),
        idempotency_key: "mgr-revoked-stamp".into(),
        now: T0.plus(130),
    };
    s.add_stamp(stamp).await.rejects(unknown.clone(), "a revoked cashier stamps")?;
    let view = s.redemption(ViewRedemption { partner: till, id: opened.request.id }).await;
    ensure_eq!(view.or_fail("a revoked cashier's view")?, None, "a revoked cashier sees a request");
    let voucher = ctx.claim(&c, reward.id).await?.voucher;
    let use_it = UseVoucher { partner: till, code: voucher.code.clone(), now: T0.plus(130) };
    s.use_voucher(use_it).await.rejects(unknown.clone(), "a revoked cashier takes a voucher")?;
    let entries = ctx.all_entries(c.id).await?;
    ensure_eq!(entries.len(), entries_before.len() + 1, "only the voucher's payment was written");
    let applied = s.apply_partner(apply).await.or_fail("a revoked cashier applies")?;
    ensure_eq!((applied.created, applied.partner.telegram_id), (true, user), "their own application");

    // A suspended partner's cashier is its partner's, refused as it is.
    let q = ctx.partner(PartnerTerms::default()).await?;
    let theirs = ctx.cashier(&q).await?;
    let q_till = PartnerRef::Till(user_of(&theirs)?);
    ctx.suspend(&q).await?;
    let suspended = Rejection::PartnerNotApproved { status: PartnerStatus::Suspended };
    let q_now = s.partner(q_till).await.or_fail("partner")?;
    ensure_eq!(
        q_now.map(|now| (now.id, now.status)),
        Some((q.id, PartnerStatus::Suspended)),
        "a suspended partner's cashier's till"
    );
    let q_credit = CreditPurchase { partner: q_till, ..ctx.credit_req(&q, &c, 2_000, "mgr-suspended") };
    s.credit_purchase(q_credit).await.rejects(suspended.clone(), "a suspended partner's cashier credits")?;
    let look = LookUpCustomer { partner: q_till, customer: CustomerRef::Code(c.code.clone()) };
    s.look_up_customer(look).await.rejects(suspended.clone(), "a suspended partner's cashier looks up")?;
    let open = OpenRedemption { partner: q_till, ..ctx.open_req(&q, &c, 50, 1_000, "mgr-suspended-open") };
    s.open_redemption(open).await.rejects(suspended, "a suspended partner's cashier asks to redeem")?;
    ensure_eq!(ctx.all_entries(c.id).await?, entries, "nothing written");
    Ok(())
}

pub(super) async fn cashiers_see_the_partners_requests(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);
    let c = ctx.customer(1_000).await?;
    let (cashier, other, gone) = (ctx.cashier(&p).await?, ctx.cashier(&p).await?, ctx.cashier(&p).await?);
    let (theirs, gone_id) = (ctx.cashier(&q).await?, gone.id);
    let (cashier, other, gone, theirs) = (user_of(&cashier)?, user_of(&other)?, user_of(&gone)?, user_of(&theirs)?);
    let stranger = ctx.user();

    // The owner's request, another cashier's (confirmed since), and one of
    // another partner's; then a cashier leaves.
    let owners = s.open_redemption(ctx.open_req(&p, &c, 30, 1_000, "see-owner")).await.or_fail("the owner's")?;
    let at_till = OpenRedemption { partner: PartnerRef::Till(other), ..ctx.open_req(&p, &c, 20, 1_000, "see-other") };
    let others = s.open_redemption(at_till).await.or_fail("another cashier's")?;
    s.confirm_redemption(ctx.answer(others.request.id, &c)).await.or_fail("confirm")?;
    let q_open = OpenRedemption { partner: PartnerRef::Till(theirs), ..ctx.open_req(&q, &c, 10, 1_000, "see-q") };
    let qs = s.open_redemption(q_open).await.or_fail("another partner's")?;
    s.revoke_staff(ctx.revoke_req(&p, gone_id, T0.plus(90))).await.or_fail("revoke")?;

    let view = |partner: PartnerRef, id: RedemptionId| s.redemption(ViewRedemption { partner, id });
    let (p_ids, q_id) = ([owners.request.id, others.request.id], qs.request.id);
    let mut as_owner = Vec::new();
    for id in p_ids {
        as_owner.push(view(PartnerRef::Id(p.id), id).await.or_missing("the owner's view")?);
    }
    ensure_eq!(
        as_owner
            .iter()
            .map(|v| (v.request.cashier, v.cashier.as_ref().and_then(|m| m.telegram_id)))
            .collect::<Vec<_>>(),
        vec![(None, None), (others.request.cashier, Some(other))],
        "the requests and who asked"
    );
    // Everyone at the partner's till sees all its requests, as its owner does.
    let at_p = [
        ("the owner", PartnerRef::Telegram(p.telegram_id)),
        ("the owner at the till", PartnerRef::Till(p.telegram_id)),
        ("a cashier who asked nothing", PartnerRef::Till(cashier)),
        ("the cashier who asked", PartnerRef::Till(other)),
    ];
    for (who, r) in at_p {
        for (id, want) in p_ids.iter().zip(&as_owner) {
            ensure_eq!(view(r, *id).await.or_fail(who)?, Some(want.clone()), "request {id} seen by {who}");
        }
        ensure_eq!(view(r, q_id).await.or_fail(who)?, None, "another partner's request seen by {who}");
        ensure_eq!(view(r, RedemptionId(i64::MAX)).await.or_fail(who)?, None, "no such request, by {who}");
    }
    // No one else sees them.
    let not_p = [
        ("a revoked cashier", PartnerRef::Till(gone)),
        ("a stranger at the till", PartnerRef::Till(stranger)),
        ("a stranger as an owner", PartnerRef::Telegram(stranger)),
        ("a cashier as an owner", PartnerRef::Telegram(cashier)),
        ("another partner's cashier", PartnerRef::Till(theirs)),
        ("another partner", PartnerRef::Id(q.id)),
        ("another partner at its till", PartnerRef::Till(q.telegram_id)),
        ("no partner", NOBODY),
    ];
    for (who, r) in not_p {
        for id in p_ids {
            ensure_eq!(view(r, id).await.or_fail(who)?, None, "request {id} seen by {who}");
        }
    }
    // The other partner's cashier sees that partner's.
    let q_view = view(PartnerRef::Till(theirs), q_id).await.or_missing("another partner's cashier's view")?;
    ensure_eq!(q_view.request, qs.request, "another partner's request at its till");
    Ok(())
}

pub(super) async fn concurrent_joins(ctx: &Ctx<'_>) -> CheckResult {
    let s = ctx.store;
    let (p, q) = (ctx.partner(PartnerTerms::default()).await?, ctx.partner(PartnerTerms::default()).await?);

    // Eight users open one link at once: one joins.
    let (_, token) = ctx.invite(&p).await?;
    let users: Vec<TelegramUserId> = (0..8).map(|_| ctx.user()).collect();
    let reqs: Vec<JoinStaff> = users.iter().map(|u| ctx.join_req(&token, *u, "Racer", T0.plus(10))).collect();
    let results = join_all(reqs.into_iter().map(|r| s.join_staff(r))).await;
    let mut winners = Vec::new();
    for r in results {
        match r {
            Ok(joined) => {
                ensure!(!joined.replayed, "a first join flagged as a replay: {joined:?}");
                winners.push(joined.staff);
            }
            Err(StoreError::Rejected(Rejection::InvalidInvite)) => {}
            Err(e) => return Err(format!("one link, many users: unexpected {e:?}")),
        }
    }
    ensure_eq!(winners.len(), 1, "users who joined with one link");
    let winner = winners.remove(0);
    ensure!(winner.telegram_id.is_some_and(|u| users.contains(&u)), "joined by one of them: {winner:?}");
    ensure_eq!(ctx.staff_of(&p).await?, vec![winner.clone()], "one cashier");
    let at_till = s.partner(PartnerRef::Till(user_of(&winner)?)).await.or_fail("partner")?;
    ensure_eq!(at_till.map(|p| p.id), Some(p.id), "the winner at the till");

    // One user opens five links (of two partners) at once: joins one.
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(ctx.invite(if i % 2 == 0 { &p } else { &q }).await?.1);
    }
    let user = ctx.user();
    let reqs: Vec<JoinStaff> = tokens.iter().map(|t| ctx.join_req(t, user, "Busy", T0.plus(20))).collect();
    let results = join_all(reqs.into_iter().map(|r| s.join_staff(r))).await;
    let mut joined = Vec::new();
    let mut unused = Vec::new();
    for (r, token) in results.into_iter().zip(&tokens) {
        match r {
            Ok(j) => {
                ensure!(!j.replayed, "a first join flagged as a replay: {j:?}");
                joined.push(j.staff);
            }
            Err(StoreError::Rejected(Rejection::AlreadyStaff)) => unused.push(token.clone()),
            Err(e) => return Err(format!("one user, many links: unexpected {e:?}")),
        }
    }
    ensure_eq!(joined.len(), 1, "links one user joined with");
    let mut rows = ctx.staff_of(&p).await?;
    rows.extend(ctx.staff_of(&q).await?);
    let theirs: Vec<Staff> = rows.into_iter().filter(|r| r.telegram_id == Some(user)).collect();
    ensure_eq!(theirs, joined, "the user's one staff row");
    ensure_eq!(ctx.staff_of(&q).await?.len(), 2, "q's two links listed");

    // The links refused to them are still open to others.
    let token = unused.first().ok_or("four links were refused")?;
    let other = s.join_staff(ctx.join_req(token, ctx.user(), "Later", T0.plus(30))).await;
    ensure!(other.or_fail("another user with a refused link")?.staff.joined_at.is_some(), "joined");
    Ok(())
}
