//! The claims of the updates a Worker is processing, kept where a panic cannot
//! erase them: in a JavaScript global, `__loyalty_claims` (a `Set` of
//! `"<bot>:<update id>"`).
//!
//! A panic aborts the wasm instance, and with it every request running in it;
//! the JavaScript entry (`js/entry.mjs`) then takes the claims still in the set
//! and hands them to the fresh instance (`report_panic`), which releases them,
//! so that Telegram's retries of those updates are processed instead of being
//! taken for duplicates.

use loyalty_core::ClaimHook;
use loyalty_core::ports::BotKind;
use wasm_bindgen::{JsCast, JsValue};

/// The name of the JavaScript global holding the claims.
const GLOBAL: &str = "__loyalty_claims";

/// A [`ClaimHook`] recording claims in the JavaScript global `__loyalty_claims`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsClaimHook;

/// The set, created on first use.
fn claims() -> Option<js_sys::Set> {
    let global = js_sys::global();
    let key = JsValue::from_str(GLOBAL);
    let value = js_sys::Reflect::get(&global, &key).ok()?;
    if value.is_undefined() {
        let set = js_sys::Set::new(&JsValue::UNDEFINED);
        js_sys::Reflect::set(&global, &key, &set).ok()?;
        return Some(set);
    }
    value.dyn_into().ok()
}

fn entry(bot: BotKind, update_id: i64) -> JsValue {
    JsValue::from_str(&format!("{}:{update_id}", bot.as_str()))
}

impl ClaimHook for JsClaimHook {
    fn claimed(&self, bot: BotKind, update_id: i64) {
        if let Some(set) = claims() {
            set.add(&entry(bot, update_id));
        }
    }

    fn settled(&self, bot: BotKind, update_id: i64) {
        if let Some(set) = claims() {
            set.delete(&entry(bot, update_id));
        }
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
