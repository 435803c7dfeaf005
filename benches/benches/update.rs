//! Handling a typical update end to end (webhook checks, parsing,
//! de-duplication, the bot's logic, the in-memory store, building the
//! response) versus only parsing its JSON, side by side.
//!
//! Run: `cargo bench -p loyalty-benches --bench update`

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use loyalty_core::domain::BotKind;
use loyalty_core::telegram::Update;
use loyalty_testkit::scenario::Harness;
use loyalty_testkit::{TestEnv, TgUser, text_json};
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};

/// Makes the JSON body of the update with the given id.
type MakeBody<'a> = &'a dyn Fn(i64) -> Vec<u8>;

fn setup() -> (Harness, TgUser, TgUser, String) {
    let h = Harness::new(TestEnv::new());
    let customer = TgUser::new(10, "Anna");
    let partner = TgUser::new(20, "Pho 24");
    let admin = TgUser::new(loyalty_testkit::ADMIN_CHAT, "Admin");
    block_on(async {
        h.say(BotKind::Client, &customer, "/start").await;
        h.say(BotKind::Partner, &partner, "/apply Pho 24; cafe").await;
        let pending = h.say(BotKind::Admin, &admin, "/pending").await;
        let approve = pending.button(admin.id, "pa:").expect("approve button");
        h.press(BotKind::Admin, &admin, &approve).await;
    });
    let code = block_on(h.code(&customer)).expect("customer code").to_string();
    (h, customer, partner, code)
}

fn bench(c: &mut Criterion) {
    let (h, customer, partner, code) = setup();
    let ids = AtomicI64::new(1_000_000);
    let mut group = c.benchmark_group("update");

    let balance = |id: i64| serde_json::to_vec(&text_json(id, &customer, "/balance")).expect("json");
    let credit = |id: i64| serde_json::to_vec(&text_json(id, &partner, &format!("/credit {code} 1500"))).expect("json");
    let bodies: [(&str, MakeBody<'_>); 2] = [("balance", &balance), ("credit", &credit)];
    for (name, body) in bodies {
        group.bench_function(format!("parse_only/{name}"), |b| {
            b.iter_batched(
                || body(ids.fetch_add(1, Ordering::Relaxed)),
                |body| black_box(serde_json::from_slice::<Update>(&body).expect("parses")),
                BatchSize::SmallInput,
            )
        });
    }
    group.bench_function("end_to_end/balance", |b| {
        b.iter_batched(
            || h.webhook_request(BotKind::Client, balance(ids.fetch_add(1, Ordering::Relaxed))),
            |req| black_box(block_on(h.engine().handle_webhook(BotKind::Client, req))),
            BatchSize::SmallInput,
        )
    });

    group.bench_function("end_to_end/credit", |b| {
        b.iter_batched(
            || {
                // Move to the next day now and then so the daily credit limit never kicks in.
                let id = ids.fetch_add(1, Ordering::Relaxed);
                if id % 500 == 0 {
                    h.advance(86_400);
                }
                h.webhook_request(BotKind::Partner, credit(id))
            },
            |req| black_box(block_on(h.engine().handle_webhook(BotKind::Partner, req))),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
