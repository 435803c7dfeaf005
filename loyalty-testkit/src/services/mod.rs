//! Real services for tests on the host (feature `services`, not on wasm32):
//! PostgreSQL test databases and `postrust` (a PostgREST-compatible server) in
//! front of them; `workerd` and Miniflare running the built Workers. Used by
//! loyalty-native's and loyalty-edge's tests and by the edge benchmark.

#![allow(missing_docs, clippy::missing_panics_doc)]

pub mod http;
pub mod pg_checks;
pub mod postgres;
pub mod postrust;
pub mod workerd;
