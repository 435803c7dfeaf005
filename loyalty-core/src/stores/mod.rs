//! Storage backends shared by both runtimes, each behind its own feature.
//!
//! | Module | Feature | Implements |
//! |---|---|---|
//! | [`rpc`] | — | [`Storage`](crate::ports::Storage) for any [`rpc::RpcBackend`]: the use cases mapped to the SQL functions of `supabase/migrations` |
//! | [`rest`] | — | nothing by itself: the PostgREST protocol of those functions (URL, headers, body, answers), without an HTTP client |
//! | [`d1`] | — | nothing by itself: the use cases as SQLite statements run as one batch, for Cloudflare D1 (`loyalty-edge`) and the embedded SQLite store (`loyalty-native`) |
//! | [`postgrest`] | `postgrest` | [`Storage`](crate::ports::Storage) over Supabase's Data API (PostgREST RPC) |
//!
//! They speak HTTP only, so they build for native targets as well as
//! `wasm32-unknown-unknown`, where the HTTP client runs on the `fetch` API of
//! the Workers runtime. The backends that need sockets or files (Postgres over
//! its wire protocol, SQLite) live in `loyalty-native`.

pub mod d1;
pub mod rest;
pub mod rpc;

#[cfg(feature = "postgrest")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgrest")))]
pub mod postgrest;
