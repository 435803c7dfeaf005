//! The rewards catalogue through the three bots: a partner publishes, the
//! admin approves, a customer browses the paged catalogue, claims (once per
//! card, however often the button is pressed), the cashier accepts the
//! voucher (once), and an unused voucher is cancelled for the points back;
//! bad input gets a clear answer and changes nothing.

use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::domain::{Language, TelegramUserId};
use loyalty_core::ports::{CustomerRef, ListVouchers};
use loyalty_core::program::rewards::{VoucherStatus, print_voucher_code};
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser, callback};

fn people() -> (TgUser, TgUser, TgUser, TgUser) {
    (
        TgUser::new(101, "Anna"),
        TgUser::new(201, "Linh").lang("vi"),
        TgUser::new(202, "Minh").lang("ru"),
        TgUser::new(ADMIN_CHAT, "Admin"),
    )
}

/// The customer's vouchers with `status`, as stored.
async fn vouchers(h: &Harness, who: &TgUser, status: VoucherStatus) -> Vec<String> {
    let req = ListVouchers { customer: CustomerRef::Telegram(TelegramUserId(who.id)), status: Some(status), limit: 50 };
    h.env.storage.vouchers(req).await.unwrap().into_iter().map(|v| v.voucher.code).collect()
}

#[tokio::test]
async fn a_reward_is_published_approved_claimed_once_and_used_once() {
    let h = Harness::new(TestEnv::new()).deliver_twice(true);
    let (anna, linh, minh, admin) = people();
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.expect("registered");
    h.approved_partner(&linh, &admin, "Phở Hà Nội").await;
    h.say(Partner, &linh, &format!("/credit {code} 20000")).await;
    let before = h.balance(&anna).await;
    assert_eq!(before, 100 + 1_000);

    // The partner publishes; it waits for the admins, who are told.
    let published = h
        .say(Partner, &linh, "/reward 300 stock=2 category=drinks\nCà phê sữa đá | Ly lớn\nen: Iced coffee | Large")
        .await;
    let to_linh = published.texts_to(linh.id).join("\n");
    assert!(to_linh.contains("Quản trị viên sẽ xem xét"), "{to_linh}");
    let told = published.texts_to(ADMIN_CHAT).join("\n");
    assert!(told.contains("Iced coffee") && told.contains("/reward_approve 1"), "{told}");
    // Customers see nothing yet.
    let none = h.say(Client, &anna, "/rewards").await;
    assert!(none.all_text().contains("No rewards to claim"), "{}", none.all_text());

    // A partner cannot approve its own; the admin can, and the partner hears.
    let refused = h.say(Partner, &linh, "/reward_approve 1").await;
    assert!(!refused.all_text().contains("đã được duyệt"), "{}", refused.all_text());
    let waiting = h.say(Admin, &admin, "/rewards").await;
    assert!(waiting.all_text().contains("waiting for approval"), "{}", waiting.all_text());
    let approved = h.say(Admin, &admin, "/reward_approve 1").await;
    assert!(approved.texts_to(linh.id).join("").contains("đã được duyệt"), "{}", approved.all_text());

    // Anna browses (her app speaks English), opens the card and claims.
    let page = h.say(Client, &anna, "🛍 Rewards").await;
    assert!(page.all_text().contains("Iced coffee") && page.all_text().contains("2 left"), "{}", page.all_text());
    let open = page.button(anna.id, "wv:").expect("a reward button");
    let card = h.press(Client, &anna, &open).await;
    assert!(card.all_text().contains("Large"), "{}", card.all_text());
    let claim = card.button(anna.id, "wc:").expect("the claim button");
    let issued = h.deliver(Client, &callback(9_001, &anna, 555, &claim)).await;
    assert!(issued.all_text().contains("Your voucher for <b>Iced coffee</b>"), "{}", issued.all_text());
    assert_eq!(h.balance(&anna).await, before - 300);
    let codes = vouchers(&h, &anna, VoucherStatus::Issued).await;
    assert_eq!(codes.len(), 1);
    // The same card's button again: the same voucher, paid once.
    let again = h.deliver(Client, &callback(9_002, &anna, 555, &claim)).await;
    assert!(again.all_text().contains("You already claimed"), "{}", again.all_text());
    assert!(again.all_text().contains(&print_voucher_code(&codes[0])));
    assert_eq!(h.balance(&anna).await, before - 300);

    // Another partner cannot accept it; Linh's cashier can, once.
    h.approved_partner(&minh, &admin, "Кофейня").await;
    let elsewhere = h.say(Partner, &minh, &format!("/voucher {}", codes[0])).await;
    assert!(elsewhere.all_text().contains("Такого ваучера здесь нет"), "{}", elsewhere.all_text());
    let accepted = h.say(Partner, &linh, &format!("/start v_{}", codes[0])).await;
    assert!(accepted.texts_to(linh.id).join("").contains("Đã nhận phiếu"), "{}", accepted.all_text());
    let told = accepted.texts_to(anna.id).join("");
    assert!(told.contains("was used at Phở Hà Nội"), "the customer is told: {}", accepted.all_text());
    let twice = h.say(Partner, &linh, &format!("/voucher {}", print_voucher_code(&codes[0]).to_lowercase())).await;
    assert!(twice.all_text().contains("đã được dùng"), "{}", twice.all_text());
    assert!(twice.texts_to(anna.id).is_empty(), "told once");
    assert_eq!(vouchers(&h, &anna, VoucherStatus::Used).await, codes);

    // A second claim from a new card, cancelled for the points back.
    let card = h.press(Client, &anna, &open).await;
    let claim = card.button(anna.id, "wc:").expect("the claim button");
    let issued = h.press(Client, &anna, &claim).await;
    let cancel = issued.button(anna.id, "wx:").expect("the cancel button");
    assert_eq!(h.balance(&anna).await, before - 600);
    let sold_out = h.press(Client, &anna, &claim.replace("wc:", "wv:")).await;
    assert!(sold_out.all_text().contains("cannot be claimed now"), "out of stock leaves the catalogue");
    let listed = h.say(Client, &anna, "/vouchers").await;
    assert!(listed.button(anna.id, "wx:").is_some(), "{}", listed.all_text());
    let cancelled = h.press(Client, &anna, &cancel).await;
    assert!(cancelled.all_text().contains("is cancelled: 300 points back"), "{}", cancelled.all_text());
    assert_eq!(h.balance(&anna).await, before - 300);
    h.press(Client, &anna, &cancel).await;
    assert_eq!(h.balance(&anna).await, before - 300, "a cancelled voucher is refunded once");
    let none = h.say(Client, &anna, "/vouchers").await;
    assert!(none.all_text().contains("You have no vouchers"), "{}", none.all_text());
}

#[tokio::test]
async fn bad_reward_input_gets_a_clear_answer_and_changes_nothing() {
    let h = Harness::new(TestEnv::new());
    let (anna, linh, _, admin) = people();
    h.approved_partner(&linh, &admin, "Phở").await;
    for (input, expected) in [
        ("/reward", "Đăng phần thưởng"),
        ("/reward abc\nCoffee", "price must be"),
        ("/reward 100 stock=lots\nCoffee", "stock must be"),
        ("/reward 0\nCoffee", "price must be"),
        ("/reward 100 photo=http://example.com/a.png\nCoffee", "photo"),
        ("/reward_withdraw 999", "Không có phần thưởng này"),
        ("/reward_withdraw x", "Đăng phần thưởng"),
        ("/voucher", "Cách dùng: /voucher"),
        ("/voucher 12345", "Cách dùng: /voucher"),
        ("/voucher ABCDE-FGHJK", "Không có phiếu này"),
    ] {
        let out = h.say(Partner, &linh, input).await;
        assert!(out.all_text().contains(expected), "{input:?}: {}", out.all_text());
    }
    assert!(h.env.storage.rewards(all()).await.unwrap().is_empty(), "nothing published");

    // Someone who never signed up: browsing works, claiming asks to sign up.
    h.say(Partner, &linh, "/reward 50\nTea").await;
    h.say(Admin, &admin, "/reward_approve 1").await;
    let page = h.say(Client, &anna, "/rewards").await;
    assert!(page.all_text().contains("Tea"), "{}", page.all_text());
    let out = h.press(Client, &anna, "wc:1").await;
    assert!(out.all_text().contains("/start"), "{}", out.all_text());
    // Signed up with too few points: an alert, nothing paid.
    h.say(Client, &anna, "/start").await;
    h.say(Admin, &admin, &format!("/adjust {} -100 test", h.code(&anna).await.unwrap())).await;
    let out = h.press(Client, &anna, "wc:1").await;
    assert!(out.all_text().contains("Not enough points"), "{}", out.all_text());
    for data in ["wc:999", "wv:999", "wx:999", "wl:x", "wc:-1"] {
        let out = h.press(Client, &anna, data).await;
        assert!(!out.all_text().is_empty(), "{data}: an answer");
    }
    assert_eq!(h.balance(&anna).await, 0);
    assert!(vouchers(&h, &anna, VoucherStatus::Issued).await.is_empty());
    // The admin withdraws it: customers no longer see it.
    h.say(Admin, &admin, "/reward_withdraw 1").await;
    let page = h.say(Client, &anna, "/rewards").await;
    assert!(page.all_text().contains("No rewards to claim"), "{}", page.all_text());
    let _ = Language::En;
}

fn all() -> loyalty_core::ports::ListRewards {
    loyalty_core::ports::ListRewards {
        partner: None,
        category: None,
        claimable_at: None,
        status: None,
        after: None,
        limit: 50,
    }
}

#[tokio::test]
async fn the_catalogue_pages_by_partner_and_category() {
    let h = Harness::new(TestEnv::new());
    let (anna, linh, minh, admin) = people();
    h.say(Client, &anna, "/start").await;
    h.approved_partner(&linh, &admin, "Phở").await;
    h.approved_partner(&minh, &admin, "Кофейня").await;
    h.say(Admin, &admin, r#"/rules {"rewards": {"moderation": "open"}}"#).await;
    for i in 1..=7 {
        let (who, category) = if i % 2 == 0 { (&minh, "food") } else { (&linh, "drinks") };
        h.say(Partner, who, &format!("/reward {} category={category}\nReward {i}", 10 * i)).await;
    }
    let first = h.say(Client, &anna, "/rewards").await;
    let text = first.all_text();
    assert!(text.contains("Reward 1") && text.contains("Reward 5") && !text.contains("Reward 6"), "{text}");
    let more = first.button(anna.id, "wl:5:").expect("a next page");
    assert!(first.button(anna.id, "wl:0:0:food").is_some(), "category buttons");
    let second = h.press(Client, &anna, &more).await;
    let text = second.all_text();
    assert!(text.contains("Reward 6") && text.contains("Reward 7") && !text.contains("Reward 5"), "{text}");
    assert!(second.button(anna.id, "wl:0:0:").is_some(), "back to the first page");
    let food = h.say(Client, &anna, "/rewards food").await;
    let text = food.all_text();
    assert!(text.contains("Reward 2") && text.contains("Reward 6") && !text.contains("Reward 1"), "{text}");
    let card = h.press(Client, &anna, "wv:1").await;
    let at_partner = card.button(anna.id, "wl:0:").expect("the partner's rewards");
    let theirs = h.press(Client, &anna, &at_partner).await;
    let text = theirs.all_text();
    assert!(text.contains("Reward 3") && !text.contains("Reward 2"), "{text}");
}
