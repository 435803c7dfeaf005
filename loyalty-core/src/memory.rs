//! In-memory storage (in progress).
