//! `initData` verification with any query string: never a panic, and never
//! accepted unless it carries the right signature. Data signed with the bot's
//! token (`sign_init_data`) is never refused for its signature.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loyalty_core::api::init_data::{InitDataError, sign_init_data, validate_init_data};
use loyalty_core::domain::Timestamp;

const TOKEN: &str = "1001:client-token";
const NOW: Timestamp = Timestamp(1_700_000_000);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // As it came: accepted only if it really is signed with the token.
    if validate_init_data(&text, TOKEN, NOW, 86_400).is_ok() {
        assert!(validate_init_data(&text, "1001:other-token", NOW, 86_400).is_err(), "accepted for any token");
    }
    // As pairs signed by "Telegram": never refused for the signature (duplicate
    // keys are refused earlier, as malformed).
    let pairs: Vec<(&str, &str)> =
        text.split('\n').filter_map(|line| line.split_once('=')).filter(|(k, _)| !k.is_empty()).collect();
    let signed = sign_init_data(&pairs, TOKEN);
    let refused = matches!(
        validate_init_data(&signed, TOKEN, NOW, 86_400),
        Err(InitDataError::SignatureMismatch | InitDataError::BadHash | InitDataError::MissingHash)
    );
    assert!(!refused, "data signed with the token was refused for its signature: {signed}");
});
