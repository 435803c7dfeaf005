//! The Workers' stores: [`d1::D1Store`] on the Worker's D1 binding (the
//! default) and [`supabase::SupabaseStore`], Supabase's Data API over `fetch`.
//! Both speak the SQL-function protocol of `loyalty_core::stores`.

pub mod d1;
pub mod supabase;
