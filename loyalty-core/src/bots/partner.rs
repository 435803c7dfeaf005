//! The partner bot (in progress).

use crate::engine::{Engine, Outbox};
use crate::error::Result;
use crate::telegram::Update;

pub(crate) async fn handle(_engine: &Engine, _update: &Update) -> Result<Outbox> {
    Ok(Outbox::default())
}
