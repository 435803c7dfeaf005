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
use wasm_bindgen::{JsCast, JsValue};

/// The name of the JavaScript global holding the claims.
const GLOBAL: &str = "__loyalty_claims";

/// A [`ClaimHook`] recording claims in the JavaScript global `__loyalty_claims`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsClaimHook;

/// The map, created on first use.
fn claims() -> Option<js_sys::Map> {
    let global = js_sys::global();
    let key = JsValue::from_str(GLOBAL);
    let value = js_sys::Reflect::get(&global, &key).ok()?;
    if value.is_undefined() {
        let map = js_sys::Map::new();
        js_sys::Reflect::set(&global, &key, &map).ok()?;
        return Some(map);
    }
    value.dyn_into().ok()
}

/// The count recorded for `entry`.
fn count(map: &js_sys::Map, entry: &JsValue) -> f64 {
    map.get(entry).as_f64().unwrap_or(0.0)
}

fn entry(bot: BotKind, update_id: i64) -> JsValue {
    JsValue::from_str(&format!("{}:{update_id}", bot.as_str()))
}

impl ClaimHook for JsClaimHook {
    fn claimed(&self, bot: BotKind, update_id: i64) {
        if let Some(map) = claims() {
            let entry = entry(bot, update_id);
            map.set(&entry, &JsValue::from_f64(count(&map, &entry) + 1.0));
        }
    }

    fn settled(&self, bot: BotKind, update_id: i64) {
        if let Some(map) = claims() {
            let entry = entry(bot, update_id);
            let left = count(&map, &entry) - 1.0;
            if left > 0.0 {
                map.set(&entry, &JsValue::from_f64(left));
            } else {
                map.delete(&entry);
            }
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
