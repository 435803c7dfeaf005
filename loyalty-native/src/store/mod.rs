//! Storage backends for the Tokio runtime.
//!
//! | Module | Backend | Selected by |
//! |---|---|---|
//! | [`sqlite`] | a SQLite file | `LOYALTY_DB` (or neither below) |
//! | [`postgres`] | PostgreSQL over its wire protocol | `DATABASE_URL` |
//! | [`postgrest`] | Supabase's Data API (PostgREST) over HTTP | `SUPABASE_URL` + `SUPABASE_KEY` |

pub mod postgres;
pub mod postgrest;
pub mod sqlite;
