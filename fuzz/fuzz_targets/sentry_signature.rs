//! The Sentry webhook's signature check with any secret, body and signature:
//! never a panic; a body's own signature is accepted, and any other body or
//! signature is refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loyalty_core::api::sentry::{sign, verify_signature};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let at = usize::from(split).min(rest.len());
    let (secret, body) = rest.split_at(at);
    let secret = String::from_utf8_lossy(secret);
    let given = String::from_utf8_lossy(body);
    // Any text as a signature: refused unless it is the body's own.
    if verify_signature(&secret, body, &given) {
        assert_eq!(given.to_ascii_lowercase(), sign(&secret, body), "accepted a signature that is not the body's");
    }
    let own = sign(&secret, body);
    assert!(verify_signature(&secret, body, &own), "refused the body's own signature");
    let mut altered = body.to_vec();
    altered.push(b'!');
    assert!(!verify_signature(&secret, &altered, &own), "accepted an altered body");
});
