//! The Telegram side: lean Bot API types and outgoing calls (the webhook
//! pipeline is [`crate::webhook`]).

mod answer;
pub mod build;
mod methods;
mod types;

pub use answer::{TelegramError, decode_answer};
pub use methods::*;
pub use types::*;
