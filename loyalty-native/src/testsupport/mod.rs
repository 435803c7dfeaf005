//! Support for tests that need real services (feature `test-support`):
//! PostgreSQL test databases and `postrust` (a PostgREST-compatible server) in
//! front of them; `workerd` running the built Workers. Used by this crate's tests and by `loyalty-edge`'s tests
//! against workerd. Not part of the runtime.

#![allow(missing_docs, clippy::missing_panics_doc)]

pub mod postgres;
pub mod postrust;
pub mod workerd;
