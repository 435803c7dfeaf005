//! The REST API (in progress).
