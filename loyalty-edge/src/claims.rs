//! The claims of the updates a Worker is processing, kept where a panic cannot
//! erase them: in a JavaScript global, `__loyalty_claims` (a `Map` from
//! `"<bot>:<update id>"` to the number of requests processing that update —
//! a duplicate delivery arriving while the first is processed counts too, so
//! that its end does not hide the first).
//!
//! A panic aborts the wasm instance, and with it every request running in it;
//! the JavaScript entry (`js/entry.mjs`) then takes the claims still in the set
//! and hands them to the fresh instance (`report_panic`), which releases them,
//! so that Telegram's retries of those updates are processed instead of being
//! taken for duplicates.

use loyalty_core::ClaimHook;
use loyalty_core::domain::BotKind;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/js/boundary.mjs")]
extern "C" {
    /// Adds `delta` to the count of `key` in the global `__loyalty_claims`
    /// (one call across the wasm boundary).
    #[wasm_bindgen(js_name = "trackClaim")]
    fn track_claim(key: &str, delta: i32);
}

/// A [`ClaimHook`] recording claims in the JavaScript global `__loyalty_claims`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsClaimHook;

fn key(bot: BotKind, update_id: i64) -> String {
    format!("{}:{update_id}", bot.as_str())
}

impl ClaimHook for JsClaimHook {
    fn claimed(&self, bot: BotKind, update_id: i64) {
        track_claim(&key(bot, update_id), 1);
    }

    fn settled(&self, bot: BotKind, update_id: i64) {
        track_claim(&key(bot, update_id), -1);
    }
}

/// Parses the list `report_panic` receives: `"<bot>:<update id>"` items joined
/// by commas. Malformed items are skipped.
pub(crate) fn parse(list: &str) -> Vec<(BotKind, i64)> {
    list.split(',')
        .filter_map(|item| {
            let (bot, id) = item.split_once(':')?;
            Some((BotKind::parse(bot)?, id.parse().ok()?))
        })
        .collect()
}
