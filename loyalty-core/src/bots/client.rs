//! The client bot (in progress).

use crate::engine::{Engine, Outbox};
use crate::error::Result;
use crate::telegram::Update;

pub(crate) async fn handle(_engine: &Engine, _update: &Update) -> Result<Outbox> {
    Ok(Outbox::default())
}

pub(crate) async fn answer_question(
    _engine: &Engine,
    _chat_id: i64,
    _customer: crate::domain::CustomerId,
    _language: crate::domain::Language,
    _question: &str,
) {
}
