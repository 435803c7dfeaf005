//! A customer's own data and its erasure through the bots: `/mydata` sends
//! everything held as a JSON file, `/erase` asks and its button erases (once,
//! however often pressed), the admin erases on request with `/erase CODE
//! confirm` and reads it all in `/audit`; bad input gets a clear answer and
//! changes nothing.

use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::ports::{CustomerRef, PersonalData};
use loyalty_testkit::scenario::{Delivery, Harness};
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser};

/// Every text of a delivery, joined.
fn all_text(d: &Delivery) -> String {
    d.calls.iter().filter_map(|c| c.text()).collect::<Vec<_>>().join("\n---\n")
}

async fn onboard(h: &Harness, who: &TgUser, admin: &TgUser, name: &str) {
    h.say(Partner, who, &format!("/apply {name}; cafe")).await;
    let pending = h.say(Admin, admin, "/pending").await;
    let approve = pending.button(ADMIN_CHAT, "pa:").expect("approve button");
    h.press(Admin, admin, &approve).await;
}

#[tokio::test]
async fn a_customer_gets_their_data_and_erases_it() {
    let h = Harness::new(TestEnv::new()).deliver_twice(true);
    let (anna, linh, admin) =
        (TgUser::new(101, "Anna"), TgUser::new(201, "Linh").lang("vi"), TgUser::new(ADMIN_CHAT, "Admin"));
    let stranger = h.say(Client, &anna, "/mydata").await;
    assert!(all_text(&stranger).contains("/start"), "{}", all_text(&stranger));
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.expect("registered");
    onboard(&h, &linh, &admin, "Phở Hà Nội").await;
    h.say(Partner, &linh, &format!("/credit {code} 20000")).await;
    h.say(Client, &anna, "/birthday 17.05").await;

    let mydata = h.say(Client, &anna, "/mydata").await;
    let calls = mydata.calls_to(anna.id);
    let doc = calls.iter().find(|c| c.method == "sendDocument").expect("a document");
    let file = doc.file.as_ref().expect("a file");
    assert_eq!((file.field, file.content_type), ("document", "application/json"));
    let data: PersonalData = serde_json::from_slice(&file.data).expect("the file is the data");
    assert_eq!((data.customer.first_name.as_str(), data.customer.code.clone()), ("Anna", code.clone()));
    assert_eq!(data.entries.len(), 2, "the welcome bonus and the credit: {:?}", data.entries);
    assert_eq!(data.birthday.map(|b| (b.day, b.month)), Some((17, 5)));

    // /erase asks first; nothing changes until the button.
    let warned = h.say(Client, &anna, "/erase").await;
    assert!(all_text(&warned).contains("Erase your personal data?"), "{}", all_text(&warned));
    assert!(all_text(&warned).contains("100 points are lost"), "{}", all_text(&warned));
    let button = warned.button(anna.id, "er:").expect("the erase button");
    assert!(h.customer(&anna).await.unwrap().is_some(), "asked, not erased");

    let erased = h.press(Client, &anna, &button).await;
    assert!(all_text(&erased).contains("Your personal data is erased"), "{}", all_text(&erased));
    assert_eq!(h.customer(&anna).await.unwrap(), None, "the Telegram account finds no one");
    let again = h.press(Client, &anna, &button).await;
    assert!(all_text(&again).contains("Your personal data is erased"), "{}", all_text(&again));
    let tombstone = h.env.storage.personal_data(CustomerRef::Code(code.clone())).await.unwrap().expect("kept");
    assert!(tombstone.customer.is_erased() && tombstone.customer.first_name.is_empty(), "{tombstone:?}");
    assert_eq!((tombstone.customer.balance, tombstone.entries.len(), tombstone.birthday), (1_100, 2, None));

    // The card takes no more points; the admin sees who asked.
    h.say(Partner, &linh, &format!("/credit {code} 5000")).await;
    let still = h.env.storage.personal_data(CustomerRef::Code(code.clone())).await.unwrap().expect("kept");
    assert_eq!(still.customer.balance, 1_100, "nothing credited to a tombstone");
    let audit = h.say(Admin, &admin, "/audit").await;
    let id = tombstone.customer.id;
    assert!(all_text(&audit).contains(&format!("the customer · erased customer #{id}")), "{}", all_text(&audit));

    // Anna comes back as someone new.
    h.say(Client, &anna, "/start").await;
    let new_code = h.code(&anna).await.expect("registered again");
    assert_ne!(new_code, code);
    assert_eq!(h.balance(&anna).await, 100, "a new customer's welcome bonus only");
}

#[tokio::test]
async fn the_admin_erases_on_request_and_reads_the_audit_log() {
    let h = Harness::new(TestEnv::new());
    let (minh, admin) = (TgUser::new(102, "Minh").lang("ru"), TgUser::new(ADMIN_CHAT, "Admin"));
    h.say(Client, &minh, "/start").await;
    let code = h.code(&minh).await.expect("registered");

    for bad in ["/erase", "/erase a b c", &format!("/erase {code} now")] {
        let usage = h.say(Admin, &admin, bad).await;
        assert!(all_text(&usage).contains("/erase CODE confirm"), "{bad}: {}", all_text(&usage));
    }
    let not_code = h.say(Admin, &admin, "/erase nope confirm").await;
    assert!(all_text(&not_code).contains("nope"), "{}", all_text(&not_code));
    let unknown = h.say(Admin, &admin, "/erase ABCD2345 confirm").await;
    assert!(all_text(&unknown).contains("No customer with this code"), "{}", all_text(&unknown));
    let check = h.say(Admin, &admin, &format!("/erase {code}")).await;
    assert!(all_text(&check).contains(&format!("/erase {code} confirm")), "{}", all_text(&check));
    assert!(h.customer(&minh).await.unwrap().is_some(), "shown, not erased");

    let done = h.say(Admin, &admin, &format!("/erase {code} confirm")).await;
    assert!(all_text(&done).contains("is erased"), "{}", all_text(&done));
    assert_eq!(h.customer(&minh).await.unwrap(), None);
    let again = h.say(Admin, &admin, &format!("/erase {code} confirm")).await;
    assert!(all_text(&again).contains("was erased before"), "{}", all_text(&again));

    let audit = h.say(Admin, &admin, "/audit").await;
    let text = all_text(&audit);
    assert!(text.contains(&format!("admin {ADMIN_CHAT} · erased customer")), "{text}");
    assert_eq!(text.matches("erased customer").count(), 1, "the replay is not audited: {text}");
    let usage = h.say(Admin, &admin, "/audit yesterday").await;
    assert!(all_text(&usage).contains("Usage: /audit"), "{}", all_text(&usage));
    let older = h.say(Admin, &admin, "/audit 1").await;
    assert!(all_text(&older).contains("Nothing (more)"), "{}", all_text(&older));
}
