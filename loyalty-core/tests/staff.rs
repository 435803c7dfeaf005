//! Cashier accounts through the bots: a partner invites a cashier with a
//! one-time link, the cashier credits and asks for payments in points for the
//! partner (every entry records them), is told the customer's answer at the
//! till, cannot see the figures or the key or manage staff; the partner
//! revokes them and they lose access at once. Bad input (a used, expired or
//! revoked link, an owner opening their own link, an unknown staff id, a
//! forged revoke button) gets a clear answer and changes nothing.

use loyalty_core::domain::BotKind::{Client, Partner};
use loyalty_core::domain::{EntryKind, PartnerId, StaffId, TelegramUserId, rules};
use loyalty_core::ports::{EntriesPage, PartnerRef};
use loyalty_testkit::scenario::{Delivery, Harness};
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser, callback};

/// The token of the invitation link in the partner's reply.
fn token(invited: &Delivery) -> String {
    let text = invited.all_text();
    let at = text.find("s_").unwrap_or_else(|| panic!("no link: {text}"));
    text[at + 2..].chars().take_while(char::is_ascii_hexdigit).collect()
}

#[tokio::test]
async fn a_cashier_works_the_till_and_is_recorded_until_revoked() {
    let h = Harness::new(TestEnv::new()).deliver_twice(true);
    let (anna, linh, minh, admin) = (
        TgUser::new(101, "Anna"),
        TgUser::new(201, "Linh"),
        TgUser::new(301, "Minh"),
        TgUser::new(ADMIN_CHAT, "Admin"),
    );
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.expect("registered");
    h.approved_partner(&linh, &admin, "Phở Hà Nội").await;

    let none = h.say(Partner, &linh, "/staff").await;
    assert!(none.all_text().contains("No cashiers yet"), "{}", none.all_text());
    let invited = h.say(Partner, &linh, "/staff invite").await;
    assert!(invited.all_text().contains("Invitation #1"), "{}", invited.all_text());
    let token = token(&invited);
    assert_eq!(token.len(), 32, "{}", invited.all_text());

    let joined = h.say(Partner, &minh, &format!("/start s_{token}")).await;
    assert!(
        joined.texts_to(minh.id).join("").contains("You are now a cashier at <b>Phở Hà Nội</b>"),
        "{}",
        joined.all_text()
    );
    assert!(joined.texts_to(linh.id).join("").contains("Minh joined as cashier #1"), "{}", joined.all_text());
    let again = h.say(Partner, &minh, &format!("/start s_{token}")).await;
    assert!(again.texts_to(minh.id).join("").contains("You are now a cashier"), "the link again: {}", again.all_text());
    assert!(again.texts_to(linh.id).is_empty(), "the owner is told once");
    let greeting = h.say(Partner, &minh, "/start").await;
    assert!(greeting.all_text().contains("You are a cashier at <b>Phở Hà Nội</b>"), "{}", greeting.all_text());

    // At the till: a scanned card, a credit (the customer told), recorded as the cashier's.
    let card = h.say(Partner, &minh, &format!("/start c_{code}")).await;
    assert!(card.button(minh.id, "cr:").is_some(), "the card opens for the cashier: {}", card.all_text());
    let credited = h.say(Partner, &minh, &format!("/credit {code} 1000")).await;
    assert!(credited.texts_to(anna.id).join("").contains("Phở Hà Nội"), "{}", credited.all_text());
    let customer = h.customer(&anna).await.unwrap().expect("registered").id;
    let entries = |before| EntriesPage { customer, before, limit: 10 };
    let accrual = h.env.storage.customer_entries(entries(None)).await.unwrap();
    let accrual = accrual.iter().find(|e| e.kind == EntryKind::Accrual).expect("an accrual").clone();
    assert_eq!(accrual.cashier, Some(StaffId(1)), "the entry records the cashier");
    let by_owner = h.say(Partner, &linh, &format!("/credit {code} 100")).await;
    assert!(by_owner.texts_to(linh.id).join("").contains("+5"), "{}", by_owner.all_text());
    let newest = h.env.storage.customer_entries(entries(None)).await.unwrap();
    assert_eq!(newest[0].cashier, None, "the owner's own credit has no cashier");

    // The owner's business is not the cashier's.
    for cmd in ["/stats", "/apikey", "/staff", "/staff invite", "/stamps 5 a coffee", "/campaigns", "/rewards"] {
        let refused = h.say(Partner, &minh, cmd).await;
        assert!(refused.all_text().contains("Only a partner's owner can do this"), "{cmd}: {}", refused.all_text());
    }
    let apply = h.say(Partner, &minh, "/apply Minh's Tea; cafe").await;
    assert!(apply.all_text().contains("already a cashier"), "{}", apply.all_text());
    let reverse = h.say(Partner, &minh, &format!("/reverse {}", accrual.id)).await;
    assert!(reverse.all_text().contains("Only a partner's owner"), "{}", reverse.all_text());
    let partner = h.env.storage.partner(PartnerRef::Telegram(TelegramUserId(linh.id))).await.unwrap().unwrap();
    assert!(!partner.has_api_key, "no key made by the cashier");
    assert_eq!(h.env.storage.staff(PartnerRef::Id(partner.id)).await.unwrap().len(), 1, "no invitation by the cashier");

    // A payment in points asked by the cashier: the answer reaches the till.
    let balance = h.balance(&anna).await;
    let asked = h.say(Partner, &minh, &format!("/redeem {code} 10 1000")).await;
    let confirm = asked.button(anna.id, "rc:").expect("the customer is asked");
    let confirmed = h.press(Client, &anna, &confirm).await;
    assert!(!confirmed.texts_to(minh.id).is_empty(), "the cashier hears the answer: {}", confirmed.all_text());
    assert!(confirmed.texts_to(linh.id).is_empty(), "not the owner: {}", confirmed.all_text());
    assert_eq!(h.balance(&anna).await, balance - 10);
    let newest = h.env.storage.customer_entries(entries(None)).await.unwrap();
    assert_eq!((newest[0].kind, newest[0].cashier), (EntryKind::Redemption, Some(StaffId(1))));

    // A request left unanswered expires: the cashier who asked is told, not the owner.
    h.say(Partner, &minh, &format!("/redeem {code} 10 1000")).await;
    h.advance(rules::REDEMPTION_TTL_SECS + 1);
    h.env.telegram.take();
    assert_eq!(h.env.engine.expire_redemptions().await.unwrap(), 1);
    let told: Vec<_> = h.env.telegram.take().iter().filter_map(|c| c.chat_id()).collect();
    assert_eq!(told, [minh.id], "the expiry reaches the till");
    // A credit's reply offers the cashier no undo (only the owner reverses).
    let credited = h.say(Partner, &minh, &format!("/credit {code} 100")).await;
    let reply = credited.texts_to(minh.id).join("");
    assert!(reply.contains("+5") && !reply.contains("/reverse"), "{reply}");
    // A request still open when its cashier is revoked: its answer goes to the owner.
    let pending = h.say(Partner, &minh, &format!("/redeem {code} 10 1000")).await;
    let late_confirm = pending.button(anna.id, "rc:").expect("the customer is asked");

    // Revoked from the list's button: access ends at once, the cashier is told.
    let list = h.say(Partner, &linh, "/staff").await;
    assert!(list.all_text().contains("#1 Minh — cashier"), "{}", list.all_text());
    let revoke = list.button(linh.id, "sr:").expect("a revoke button");
    assert_eq!(revoke, "sr:1");
    let revoked = h.press(Partner, &linh, &revoke).await;
    assert!(revoked.texts_to(linh.id).join("").contains("#1 Minh revoked"), "{}", revoked.all_text());
    assert!(revoked.texts_to(minh.id).join("").contains("no longer a cashier at Phở Hà Nội"), "{}", revoked.all_text());
    let balance = h.balance(&anna).await;
    let refused = h.say(Partner, &minh, &format!("/credit {code} 1000")).await;
    assert!(refused.all_text().contains("not a partner"), "{}", refused.all_text());
    assert_eq!(h.balance(&anna).await, balance, "nothing credited after revoking");
    let answered = h.press(Client, &anna, &late_confirm).await;
    assert!(answered.texts_to(minh.id).is_empty(), "not the revoked cashier: {}", answered.all_text());
    assert!(!answered.texts_to(linh.id).is_empty(), "the owner hears it: {}", answered.all_text());
    let back = h.say(Partner, &minh, &format!("/start s_{token}")).await;
    assert!(back.all_text().contains("invitation link is not valid"), "{}", back.all_text());
    let list = h.say(Partner, &linh, "/staff").await;
    assert!(list.all_text().contains("No cashiers yet"), "revoked ones leave the list: {}", list.all_text());
}

#[tokio::test]
async fn bad_staff_input_gets_a_clear_answer_and_changes_nothing() {
    let h = Harness::new(TestEnv::new());
    let (linh, tuan, minh, bao, admin) = (
        TgUser::new(201, "Linh"),
        TgUser::new(202, "Tuan"),
        TgUser::new(301, "Minh"),
        TgUser::new(302, "Bao"),
        TgUser::new(ADMIN_CHAT, "Admin"),
    );
    h.approved_partner(&linh, &admin, "Phở").await;
    h.approved_partner(&tuan, &admin, "Bánh mì").await;
    let staff = |p: i64| h.env.storage.staff(PartnerRef::Id(PartnerId(p)));

    // Unknown and malformed links.
    for link in ["/start s_", "/start s_nope", &format!("/start s_{}", "0".repeat(32))] {
        let bad = h.say(Partner, &minh, link).await;
        assert!(bad.all_text().contains("invitation link is not valid"), "{link}: {}", bad.all_text());
    }
    // An owner opening their own link (or another partner's) stays an owner.
    let own = token(&h.say(Partner, &linh, "/staff invite").await);
    let mine = h.say(Partner, &linh, &format!("/start s_{own}")).await;
    assert!(mine.all_text().contains("already registered as a partner"), "{}", mine.all_text());
    let theirs = h.say(Partner, &tuan, &format!("/start s_{own}")).await;
    assert!(theirs.all_text().contains("already registered as a partner"), "{}", theirs.all_text());
    // Used once, the link is spent; a cashier cannot join a second partner.
    h.say(Partner, &minh, &format!("/start s_{own}")).await;
    let spent = h.say(Partner, &bao, &format!("/start s_{own}")).await;
    assert!(spent.all_text().contains("invitation link is not valid"), "{}", spent.all_text());
    let other = token(&h.say(Partner, &tuan, "/staff invite").await);
    let twice = h.say(Partner, &minh, &format!("/start s_{other}")).await;
    assert!(twice.all_text().contains("already a cashier"), "{}", twice.all_text());
    // Expired.
    h.advance(rules::STAFF_INVITE_TTL_SECS + 1);
    let late = h.say(Partner, &bao, &format!("/start s_{other}")).await;
    assert!(late.all_text().contains("invitation link is not valid"), "{}", late.all_text());
    assert_eq!(staff(2).await.unwrap()[0].telegram_id, None, "nobody joined Bánh mì");

    // Revoking what is not yours, or nothing.
    for bad in ["/staff revoke 2", "/staff revoke 99"] {
        let unknown = h.say(Partner, &linh, bad).await;
        assert!(unknown.all_text().contains("No such cashier"), "{bad}: {}", unknown.all_text());
    }
    for bad in ["/staff revoke", "/staff revoke x", "/staff fire 1"] {
        let usage = h.say(Partner, &linh, bad).await;
        assert!(usage.all_text().contains("/staff invite"), "{bad}: {}", usage.all_text());
    }
    let forged = h.deliver(Partner, &callback(9_001, &tuan, 700, "sr:1")).await;
    assert!(!forged.all_text().contains("revoked"), "{}", forged.all_text());
    let stranger = h.deliver(Partner, &callback(9_002, &bao, 701, "sr:1")).await;
    assert!(!stranger.all_text().contains("revoked"), "{}", stranger.all_text());
    assert_eq!(staff(1).await.unwrap()[0].revoked_at, None, "Minh still works for Phở");
    let junk = h.deliver(Partner, &callback(9_003, &linh, 702, "sr:junk")).await;
    assert!(junk.all_text().is_empty(), "{}", junk.all_text());
}
