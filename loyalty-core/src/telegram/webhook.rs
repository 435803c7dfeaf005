//! The webhook pipeline (in progress).
