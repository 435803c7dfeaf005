//! The webhook of each bot with any body (and any declared length): the body
//! reader, the update parser and the bots behind them, on the model store.
//! Never a panic; the answer is 200 (handled, ignored or a duplicate), 400
//! (not an update) or 413 (too large); nothing is ever sent for a refused body.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use loyalty_core::domain::BotKind;
use loyalty_core::webhook::webhook_secret;
use loyalty_testkit::TestEnv;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let bot = BotKind::WEBHOOK_BOTS[usize::from(selector % 3)];
    let env = TestEnv::new();
    let secret = webhook_secret(env.engine.config(), bot).expect("a secret for a configured bot");
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("/webhook/{}", bot.as_str()))
        .header("x-telegram-bot-api-secret-token", secret.expose())
        .header("content-type", "application/json");
    if selector & 0x80 != 0 {
        // A declared length that need not be the body's.
        req = req.header("content-length", (u32::from(selector) * 40_000).to_string());
    }
    let req = req.body(Bytes::copy_from_slice(body)).expect("a valid request");
    let answer = futures::executor::block_on(env.engine.handle_webhook(bot, req));
    let status = answer.response.status().as_u16();
    assert!(matches!(status, 200 | 400 | 413), "unexpected status {status}");
    if status != 200 {
        assert!(answer.deferred.is_empty() && env.telegram.calls().is_empty(), "a refused body sent something");
    }
});
