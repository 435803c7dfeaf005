//! The crate's error type.

use crate::config::ConfigError;
use crate::ports::{AssistantError, StoreError, TelegramError};

/// Anything that can go wrong in the core. The one question that matters to
/// an adapter is [`Error::is_temporary`]: a temporary failure while handling a
/// webhook becomes a 5xx so Telegram delivers the update again (idempotency
/// keys make that safe); anything else is answered and dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the storage port.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// From the Telegram port.
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    /// From the assistant port.
    #[error(transparent)]
    Assistant(#[from] AssistantError),
    /// Missing or invalid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Error {
    /// Whether the same operation may succeed if retried later.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Store(e) => e.is_temporary(),
            Error::Telegram(e) => e.is_temporary(),
            Error::Assistant(AssistantError::Failed(_)) => true,
            Error::Assistant(_) | Error::Config(_) => false,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
