//! Storage backends for the Tokio runtime, each behind its own feature.
//!
//! | Module | Feature | Backend | Selected by |
//! |---|---|---|---|
//! | [`sqlite`] | `sqlite` (default) | a SQLite file | `LOYALTY_DB` (or neither below) |
//! | [`postgres`] | `postgres` | PostgreSQL over its wire protocol | `DATABASE_URL` |
//! | [`postgrest`] | `postgrest` | Supabase's Data API (PostgREST) over HTTP | `SUPABASE_URL` + `SUPABASE_KEY` |

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgrest")]
pub mod postgrest;
#[cfg(feature = "sqlite")]
pub mod sqlite;
