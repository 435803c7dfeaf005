//! `tracing` on Workers: a subscriber that writes each event at or above
//! `LOG_LEVEL` to the console as one object, which Workers Logs (and
//! `wrangler tail`) show with its fields indexed — among them the per-update
//! and per-request events of [`loyalty_core::observe`] (`surface`, `bot`,
//! `kind`, `outcome`, `duration_ms`, `store_calls`, …).
//!
//! Installed by `loyalty_edge::engine` when an isolate builds its engine, with the
//! level of its configuration; `LOG_LEVEL=off` installs nothing.

use serde_json::{Map, Value};
use std::fmt::Debug;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Writes events at or above a level to the console as objects.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleSubscriber {
    max: LevelFilter,
}

impl ConsoleSubscriber {
    /// A subscriber for `level` (`LOG_LEVEL`: `trace` … `error`, or `off`;
    /// anything else is `info`).
    pub fn new(level: &str) -> ConsoleSubscriber {
        ConsoleSubscriber { max: level.trim().parse().unwrap_or(LevelFilter::INFO) }
    }

    /// Installs it as this isolate's subscriber, unless `LOG_LEVEL` is `off`
    /// or one is installed already.
    pub fn install(level: &str) {
        let subscriber = ConsoleSubscriber::new(level);
        if subscriber.max != LevelFilter::OFF {
            let _ = tracing::subscriber::set_global_default(subscriber);
        }
    }

    /// The object written for an event: `level`, `target`, `message` and
    /// the event's own fields.
    pub fn to_object(event: &Event<'_>) -> Map<String, Value> {
        let mut fields = Fields(Map::new());
        let meta = event.metadata();
        fields.0.insert("level".into(), meta.level().as_str().into());
        fields.0.insert("target".into(), meta.target().into());
        event.record(&mut fields);
        fields.0
    }
}

/// Collects an event's fields as JSON values.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

impl Subscriber for ConsoleSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.max >= *meta.level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    // Spans are not recorded: every event carries its own fields.
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let text = Value::Object(ConsoleSubscriber::to_object(event)).to_string();
        write(*event.metadata().level(), &text);
    }
}

/// Writes `json` (an object's text) to the console as an object.
#[cfg(target_arch = "wasm32")]
fn write(level: Level, json: &str) {
    let value = js_sys::JSON::parse(json).unwrap_or_else(|_| json.into());
    match level {
        Level::ERROR => web_sys::console::error_1(&value),
        Level::WARN => web_sys::console::warn_1(&value),
        _ => web_sys::console::log_1(&value),
    }
}

/// Off Workers there is no console to write to (the host builds this module
/// for its tests only).
#[cfg(not(target_arch = "wasm32"))]
fn write(level: Level, json: &str) {
    let _ = (level, json);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_filter_and_unknown_levels_are_info() {
        let at = |level: &str| ConsoleSubscriber::new(level).max;
        assert_eq!(at("debug"), LevelFilter::DEBUG);
        assert_eq!(at(" warn "), LevelFilter::WARN);
        assert_eq!(at("off"), LevelFilter::OFF);
        assert_eq!(at("loud"), LevelFilter::INFO);
        let warn = ConsoleSubscriber::new("warn");
        assert!(warn.max >= Level::ERROR && warn.max >= Level::WARN && warn.max < Level::INFO);
    }
}
