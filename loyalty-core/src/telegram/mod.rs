//! The Telegram side: lean Bot API types and outgoing calls (the webhook
//! pipeline is [`crate::webhook`]).

mod answer;
mod methods;
mod types;

pub use answer::{TelegramError, decode_answer};
pub use methods::*;
pub use types::*;
