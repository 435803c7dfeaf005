//! A customer's own data and its erasure through the bots: `/mydata` sends
//! everything held as a JSON file, `/erase` asks and its button erases (once,
//! however often pressed), the admin erases on request with `/erase CODE
//! confirm` and reads it all in `/audit`; bad input gets a clear answer and
//! changes nothing.

use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_core::ports::{CustomerRef, PersonalData};
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser};

#[tokio::test]
async fn a_customer_gets_their_data_and_erases_it() {
    let h = Harness::new(TestEnv::new()).deliver_twice(true);
    let (anna, linh, admin) =
        (TgUser::new(101, "Anna"), TgUser::new(201, "Linh").lang("vi"), TgUser::new(ADMIN_CHAT, "Admin"));
    let stranger = h.say(Client, &anna, "/mydata").await;
    assert!(stranger.all_text().contains("/start"), "{}", stranger.all_text());
    h.say(Client, &anna, "/start").await;
    let code = h.code(&anna).await.expect("registered");
    h.approved_partner(&linh, &admin, "Phở Hà Nội").await;
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
    assert!(warned.all_text().contains("Erase your personal data?"), "{}", warned.all_text());
    assert!(warned.all_text().contains("100 points are lost"), "{}", warned.all_text());
    let stale = warned.button(anna.id, "er:").expect("the erase button");
    assert!(h.customer(&anna).await.unwrap().is_some(), "asked, not erased");
    // A warning pressed long after (say, after signing up again) erases nothing.
    h.advance(3_600);
    let expired = h.press(Client, &anna, &stale).await;
    assert!(expired.all_text().contains("This button has expired"), "{}", expired.all_text());
    assert!(h.customer(&anna).await.unwrap().is_some(), "nothing erased");
    let forged = h.press(Client, &anna, "er:nonsense").await;
    assert!(!forged.all_text().contains("erased"), "{}", forged.all_text());
    assert!(h.customer(&anna).await.unwrap().is_some(), "nothing erased");
    let warned = h.say(Client, &anna, "/erase").await;
    let button = warned.button(anna.id, "er:").expect("a fresh button");

    let erased = h.press(Client, &anna, &button).await;
    assert!(erased.all_text().contains("Your personal data is erased"), "{}", erased.all_text());
    assert_eq!(h.customer(&anna).await.unwrap(), None, "the Telegram account finds no one");
    let again = h.press(Client, &anna, &button).await;
    assert!(again.all_text().contains("Your personal data is erased"), "{}", again.all_text());
    let tombstone = h.env.storage.personal_data(CustomerRef::Code(code.clone())).await.unwrap().expect("kept");
    assert!(tombstone.customer.is_erased() && tombstone.customer.first_name.is_empty(), "{tombstone:?}");
    assert_eq!((tombstone.customer.balance, tombstone.entries.len(), tombstone.birthday), (1_100, 2, None));

    // The card takes no more points; the admin sees who asked.
    h.say(Partner, &linh, &format!("/credit {code} 5000")).await;
    let still = h.env.storage.personal_data(CustomerRef::Code(code.clone())).await.unwrap().expect("kept");
    assert_eq!(still.customer.balance, 1_100, "nothing credited to a tombstone");
    let audit = h.say(Admin, &admin, "/audit").await;
    let id = tombstone.customer.id;
    assert!(audit.all_text().contains(&format!("the customer · erased customer #{id}")), "{}", audit.all_text());

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
        assert!(usage.all_text().contains("/erase CODE confirm"), "{bad}: {}", usage.all_text());
    }
    let not_code = h.say(Admin, &admin, "/erase nope confirm").await;
    assert!(not_code.all_text().contains("nope"), "{}", not_code.all_text());
    let unknown = h.say(Admin, &admin, "/erase ABCD2345 confirm").await;
    assert!(unknown.all_text().contains("No customer with this code"), "{}", unknown.all_text());
    let check = h.say(Admin, &admin, &format!("/erase {code}")).await;
    assert!(check.all_text().contains(&format!("/erase {code} confirm")), "{}", check.all_text());
    assert!(h.customer(&minh).await.unwrap().is_some(), "shown, not erased");

    let done = h.say(Admin, &admin, &format!("/erase {code} confirm")).await;
    assert!(done.all_text().contains("is erased"), "{}", done.all_text());
    assert_eq!(h.customer(&minh).await.unwrap(), None);
    let again = h.say(Admin, &admin, &format!("/erase {code} confirm")).await;
    assert!(again.all_text().contains("was erased before"), "{}", again.all_text());

    let audit = h.say(Admin, &admin, "/audit").await;
    let text = audit.all_text();
    assert!(text.contains(&format!("admin {ADMIN_CHAT} · erased customer")), "{text}");
    assert_eq!(text.matches("erased customer").count(), 1, "the replay is not audited: {text}");
    let usage = h.say(Admin, &admin, "/audit yesterday").await;
    assert!(usage.all_text().contains("Usage: /audit"), "{}", usage.all_text());
    let older = h.say(Admin, &admin, "/audit 1").await;
    assert!(older.all_text().contains("Nothing (more)"), "{}", older.all_text());
}
