//! Storage backends for the Tokio runtime.

pub mod postgres;
pub mod sqlite;
