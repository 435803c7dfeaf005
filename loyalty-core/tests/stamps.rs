//! Stamp cards through the bots: a partner runs a card, stamps visits (the
//! customer is told each time, and when the card is full), a button under a
//! scanned card stamps once however often it is pressed, the customer sees
//! their cards; bad input gets a clear answer and changes nothing.

use loyalty_core::domain::BotKind::{Client, Partner};
use loyalty_core::domain::TelegramUserId;
use loyalty_core::ports::CustomerRef;
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser, callback};

/// `(stamps, completed)` of `who` at every card, as stored.
async fn stamps(h: &Harness, who: &TgUser) -> Vec<(u32, u32)> {
    let cards = h.env.storage.stamp_cards(CustomerRef::Telegram(TelegramUserId(who.id))).await.unwrap();
    cards.iter().map(|c| (c.stamps, c.completed)).collect()
}

#[tokio::test]
async fn a_card_fills_with_stamps_and_starts_again() {
    let h = Harness::new(TestEnv::new()).deliver_twice(true);
    let (anna, linh, admin) = (TgUser::new(101, "Anna"), TgUser::new(201, "Linh"), TgUser::new(ADMIN_CHAT, "Admin"));
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.expect("registered");
    h.approved_partner(&linh, &admin, "Phở Hà Nội").await;
    let none = h.say(Client, &anna, "/stamps").await;
    assert!(none.all_text().contains("No partner runs a stamp card"), "{}", none.all_text());
    let refused = h.say(Partner, &linh, &format!("/stamp {code}")).await;
    assert!(refused.all_text().contains("runs no stamp card"), "{}", refused.all_text());

    let set = h.say(Partner, &linh, "/stamps 3 a free coffee").await;
    assert!(set.all_text().contains("3 stamps give <b>a free coffee</b>"), "{}", set.all_text());
    let first = h.say(Partner, &linh, &format!("/stamp {code}")).await;
    assert!(first.texts_to(linh.id).join("").contains("●○○ 1/3"), "{}", first.all_text());
    assert!(first.texts_to(anna.id).join("").contains("A stamp at Phở Hà Nội"), "{}", first.all_text());
    assert_eq!(stamps(&h, &anna).await, [(1, 0)], "one stamp, the update delivered twice");

    // The scanned card offers a stamp button; pressed twice, it stamps once.
    let card = h.say(Partner, &linh, &format!("/start c_{code}")).await;
    assert!(card.all_text().contains("●○○ 1/3"), "the card shows the stamps: {}", card.all_text());
    let button = card.button(linh.id, "st:").expect("a stamp button");
    h.deliver(Partner, &callback(9_001, &linh, 700, &button)).await;
    let twice = h.deliver(Partner, &callback(9_002, &linh, 700, &button)).await;
    assert_eq!(stamps(&h, &anna).await, [(2, 0)], "one stamp per card message");
    assert!(twice.all_text().contains("was given before"), "the cashier knows: {}", twice.all_text());
    assert!(twice.texts_to(anna.id).is_empty(), "the customer is not told twice");

    let full = h.say(Partner, &linh, &format!("/stamp {code}")).await;
    assert!(full.texts_to(linh.id).join("").contains("card is full: give <b>a free coffee</b>"), "{}", full.all_text());
    assert!(full.texts_to(anna.id).join("").contains("Your card at Phở Hà Nội is full"), "{}", full.all_text());
    assert_eq!(stamps(&h, &anna).await, [(0, 1)]);
    let mine = h.say(Client, &anna, "/stamps").await;
    assert!(mine.all_text().contains("○○○ 0/3 → a free coffee (filled 1×)"), "{}", mine.all_text());

    // Ended, the card refuses stamps and disappears; the stamps wait for it.
    h.say(Partner, &linh, &format!("/stamp {code}")).await;
    let ended = h.say(Partner, &linh, "/stamps off").await;
    assert!(ended.all_text().contains("has ended"), "{}", ended.all_text());
    let refused = h.say(Partner, &linh, &format!("/stamp {code}")).await;
    assert!(refused.all_text().contains("runs no stamp card"), "{}", refused.all_text());
    h.say(Partner, &linh, "/stamps 5 a cake").await;
    assert_eq!(stamps(&h, &anna).await, [(1, 1)], "kept");
}

#[tokio::test]
async fn bad_stamp_input_gets_a_clear_answer_and_changes_nothing() {
    let h = Harness::new(TestEnv::new());
    let (anna, linh, minh, admin) = (
        TgUser::new(101, "Anna"),
        TgUser::new(201, "Linh"),
        TgUser::new(202, "Minh"),
        TgUser::new(ADMIN_CHAT, "Admin"),
    );
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.expect("registered");
    h.approved_partner(&linh, &admin, "Phở").await;
    for bad in ["/stamps", "/stamps 1 coffee", "/stamps 51 coffee", "/stamps ten coffee", "/stamps 10"] {
        let usage = h.say(Partner, &linh, bad).await;
        assert!(usage.all_text().contains("Usage: /stamps"), "{bad}: {}", usage.all_text());
    }
    assert!(stamps(&h, &anna).await.is_empty(), "no card runs");
    h.say(Partner, &linh, "/stamps 10 a coffee").await;
    let usage = h.say(Partner, &linh, "/stamp").await;
    assert!(usage.all_text().contains("Usage: /stamp"), "{}", usage.all_text());
    let bad = h.say(Partner, &linh, "/stamp nope").await;
    assert!(bad.all_text().contains("nope"), "{}", bad.all_text());
    let unknown = h.say(Partner, &linh, "/stamp ABCD2345").await;
    assert!(unknown.all_text().contains("No customer with this code"), "{}", unknown.all_text());
    // Someone who is not a partner cannot run a card or stamp.
    let stranger = h.say(Partner, &minh, "/stamps 10 a coffee").await;
    assert!(!stranger.all_text().contains("stamp card runs"), "{}", stranger.all_text());
    h.say(Partner, &minh, &format!("/stamp {code}")).await;
    assert_eq!(stamps(&h, &anna).await, [(0, 0)], "nothing stamped");
    let forged = h.deliver(Partner, &callback(9_003, &minh, 701, &format!("st:{code}"))).await;
    assert!(!forged.all_text().contains("●"), "{}", forged.all_text());
    assert_eq!(stamps(&h, &anna).await, [(0, 0)], "a forged button stamps nothing");
}
