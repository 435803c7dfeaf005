//! The Telegram side: lean Bot API types, outgoing calls and the webhook pipeline.

mod answer;
mod methods;
mod types;
mod webhook;

pub use answer::decode_answer;
pub use methods::*;
pub use types::*;
pub use webhook::*;
