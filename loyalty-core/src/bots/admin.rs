//! The admin bot (in progress).

use crate::engine::{Engine, Outbox};
use crate::error::Result;
use crate::telegram::Update;

pub(crate) async fn handle(_engine: &Engine, _update: &Update) -> Result<Outbox> {
    Ok(Outbox::default())
}

impl Engine {
    /// Delivers up to `max_batches` batches of a broadcast job.
    pub async fn deliver_broadcast(
        &self,
        _job: crate::domain::BroadcastId,
        _max_batches: u32,
    ) -> Option<crate::domain::BroadcastJob> {
        None
    }
}
