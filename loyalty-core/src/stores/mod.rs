//! The reference store and the storage protocols shared by both runtimes,
//! without an HTTP client or a database driver: the runtimes
//! (`loyalty-native`, `loyalty-edge`) carry the requests out.
//!
//! | Module | Implements |
//! |---|---|
//! | [`memory`] | [`Storage`](crate::ports::Storage) in process memory: the reference every other store is checked against |
//! | [`rpc`] | [`Storage`](crate::ports::Storage) for any [`rpc::RpcBackend`]: the use cases mapped to the SQL functions of `supabase/migrations` |
//! | [`rest`] | nothing by itself: the PostgREST protocol of those functions (URL, headers, body, answers) |
//! | [`d1`] | nothing by itself: the use cases as SQLite statements run as one batch, for Cloudflare D1 (`loyalty-edge`) and the embedded SQLite store (`loyalty-native`) |
//!
//! The backends themselves live in the runtimes: `loyalty_native::store::{sqlite, postgres, postgrest}`
//! and `loyalty_edge::store::{d1, supabase}`.

pub mod d1;
pub mod memory;
pub mod rest;
pub mod rpc;
