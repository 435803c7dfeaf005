//! What D1 and PostgREST answer, decoded into the use cases' answer types:
//! any text, any status, any function name — a clear error or a value, never
//! a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loyalty_core::domain::LedgerEntry;
use loyalty_core::ports::*;
use loyalty_core::stores::d1::{self, Outcome};
use loyalty_core::stores::rest::decode_http_answer;
use loyalty_core::stores::rpc::decode_result;
use serde_json::Value;

/// Decodes `value` as the answers of a few use cases.
fn answers(value: Value) {
    let _ = decode_result::<Credited>("credit_purchase", value.clone());
    let _ = decode_result::<Option<CustomerView>>("customer_view", value.clone());
    let _ = decode_result::<RedemptionView>("open_redemption", value.clone());
    let _ = decode_result::<Vec<LedgerEntry>>("customer_entries", value.clone());
    let _ = decode_result::<Option<JobState>>("swap_job_state", value.clone());
    let _ = decode_result::<ProgramStats>("program_stats", value);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest).into_owned();
    let functions: Vec<&str> = d1::use_cases().collect();
    let function = functions[usize::from(selector) % functions.len()];
    // D1: the last statement's row.
    let outcome = match selector % 3 {
        0 => Outcome { answer: Some(text.clone()), fault: None },
        1 => Outcome { answer: None, fault: Some(text.clone()) },
        _ => Outcome { answer: Some(text.clone()), fault: Some(text.clone()) },
    };
    if let Ok(value) = d1::decode(function, Some(outcome)) {
        answers(value);
    }
    let _ = d1::classify_error(function, &text);
    // PostgREST: any status with any body.
    let status = [200, 201, 204, 300, 400, 401, 404, 409, 429, 500, 503][usize::from(selector) % 11];
    if let Ok(value) = decode_http_answer(function, status, &text) {
        answers(value);
    }
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        answers(value);
    }
});
