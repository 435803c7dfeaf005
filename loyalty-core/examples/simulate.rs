//! Plays the program's main scenarios through the real webhook pipeline with
//! an in-memory store, a stepped clock and a recording Bot API, and prints the
//! conversation. No accounts, no network.
//!
//! Run: `cargo run -p loyalty-core --example simulate`
#![allow(clippy::print_stdout)]

use futures::executor::block_on;
use loyalty_core::domain::BotKind::{Admin, Client, Partner};
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{ADMIN_CHAT, TestEnv, TgUser};

fn main() {
    block_on(async {
        let h = Harness::new(TestEnv::new());
        let anna = TgUser::new(101, "Anna");
        let boris = TgUser::new(102, "Boris").lang("ru");
        let linh = TgUser::new(201, "Linh").lang("vi");
        let admin = TgUser::new(ADMIN_CHAT, "Admin");

        println!("1. Anna signs up");
        h.say(Client, &anna, "/start").await;
        let code = h.code(&anna).await.expect("Anna is registered");

        println!("2. Boris signs up with Anna's invitation link");
        h.say(Client, &boris, &format!("/start ref_{code}")).await;

        println!("3. Linh applies as a partner; the admin approves");
        let asked = h.say(Partner, &linh, "/start").await;
        let prompt = asked.prompt(linh.id).expect("application prompt");
        h.answer(Partner, &linh, &prompt, "Phở Hà Nội; cafe").await;
        let pending = h.say(Admin, &admin, "/pending").await;
        let approve = pending.button(admin.id, "pa:").expect("approve button");
        h.press(Admin, &admin, &approve).await;

        println!("4. Anna shows her card; Linh scans it and credits a purchase");
        h.say(Client, &anna, "/card").await;
        let scanned = h.say(Partner, &linh, &format!("/start c_{code}")).await;
        let credit = scanned.button(linh.id, "cr:").expect("credit button");
        let asked = h.press(Partner, &linh, &credit).await;
        let prompt = asked.prompt(linh.id).expect("amount prompt");
        h.answer(Partner, &linh, &prompt, "240000").await;

        println!("5. Anna pays with points and confirms in her own chat");
        let requested = h.say(Partner, &linh, &format!("/redeem {code} 100 50000")).await;
        let confirm = requested.button(anna.id, "rc:").expect("confirm button");
        h.press(Client, &anna, &confirm).await;
        h.say(Client, &anna, "/balance").await;

        println!("\n{}\n", h.transcript());
        println!("Balances: Anna {} points, Boris {} points.", h.balance(&anna).await, h.balance(&boris).await);
    });
}
