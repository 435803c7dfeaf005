//! Storage on Cloudflare D1, the Worker's zero-setup default.

use async_trait::async_trait;
use loyalty_core::ports::{StoreResult, UpdateClaim};
use loyalty_core::stores::d1::{self, Outcome};
use loyalty_core::stores::rpc::{self, RpcBackend};
use serde_json::Value;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

/// The name of the D1 binding the Workers use (`[[d1_databases]] binding = "DB"`).
pub const BINDING: &str = "DB";

/// [`Storage`](loyalty_core::ports::Storage) on a D1 database: every use case
/// is one `batch()` — one request, one transaction — of the statements of
/// [`loyalty_core::stores::d1`], which make every decision in SQL.
///
/// The schema is created on first use when it is missing (or ahead of time
/// with `wrangler d1 migrations apply`, from `loyalty-edge/migrations`).
#[derive(Debug)]
pub struct D1Store {
    db: D1Database,
    schema_checked: Cell<bool>,
    batches: AtomicU64,
    /// A metered store's running count, and how it reads a result's rows:
    /// a function pointer, so that a Worker which never meters does not link
    /// the reading of `meta`.
    meter: Option<(Cell<D1Rows>, RowsOf)>,
}

/// How a metered store reads the rows of one statement's result.
type RowsOf = fn(&D1Result) -> D1Rows;

/// The rows D1 reported its statements read and wrote — the figures
/// Cloudflare bills D1 by — summed over the batches of a
/// [metered](D1Store::metered) store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct D1Rows {
    /// The statements' `meta.rows_read`, summed.
    pub read: u64,
    /// The statements' `meta.rows_written`, summed.
    pub written: u64,
}

impl D1Store {
    /// A store on `db`.
    pub fn new(db: D1Database) -> D1Store {
        D1Store { db, schema_checked: Cell::new(false), batches: AtomicU64::new(0), meter: None }
    }

    /// A store on `db` that also sums the rows D1 says each statement read and
    /// wrote ([`D1Store::rows`]). Reading a statement's `meta` is a call into
    /// the runtime per statement, so the Workers' store does not; tests and
    /// benches do.
    pub fn metered(db: D1Database) -> D1Store {
        D1Store { meter: Some((Cell::new(D1Rows::default()), rows_of)), ..D1Store::new(db) }
    }

    /// The store on the Worker's D1 binding `binding` ([`BINDING`] for the
    /// examples), or `None` when the Worker has no such binding.
    pub fn from_env(env: &Env, binding: &str) -> Option<D1Store> {
        env.d1(binding).ok().map(D1Store::new)
    }

    /// Batches sent so far (one per storage call, plus one when the schema is created).
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// The rows read and written so far by the batches that succeeded, schema
    /// creation included, for a [metered](D1Store::metered) store; `None` for
    /// another. A statement whose result carries no `meta` counts none.
    pub fn rows(&self) -> Option<D1Rows> {
        self.meter.as_ref().map(|(rows, _)| rows.get())
    }

    /// Creates the schema where it is missing ([`d1::SCHEMA`], idempotent), in one batch.
    ///
    /// # Errors
    /// The batch failed (see [`d1::classify_error`]).
    pub async fn apply_schema(&self) -> StoreResult<()> {
        self.run(d1::SCHEMA, "", "").await.map_err(|e| d1::classify_error("schema", &e))?;
        self.schema_checked.set(true);
        Ok(())
    }

    /// Runs `statements` as one batch, binding `request` (and `claim`) where a
    /// statement takes them, and returns the last statement's row. Errors are D1's message.
    async fn run(&self, statements: &[&str], request: &str, claim: &str) -> Result<Option<Outcome>, String> {
        let args = [JsValue::from_str(request), JsValue::from_str(claim)];
        let prepared = statements
            .iter()
            .map(|sql| {
                let statement = self.db.prepare(*sql);
                match d1::bindings(sql) {
                    0 => Ok(statement),
                    n => statement.bind(&args[..n]),
                }
            })
            .collect::<worker::Result<Vec<D1PreparedStatement>>>()
            .map_err(message)?;
        self.batches.fetch_add(1, Ordering::Relaxed);
        let results = self.db.batch(prepared).await.map_err(message)?;
        if let Some((total, rows_of)) = &self.meter {
            let mut rows = total.get();
            for result in &results {
                let more = rows_of(result);
                rows.read = rows.read.saturating_add(more.read);
                rows.written = rows.written.saturating_add(more.written);
            }
            total.set(rows);
        }
        let last = results.last().ok_or("the batch returned no results")?;
        let rows: Vec<Outcome> = last.results().map_err(message)?;
        Ok(rows.into_iter().next())
    }
}

/// The rows one statement's result says it read and wrote (none without a `meta`).
fn rows_of(result: &D1Result) -> D1Rows {
    match result.meta() {
        Ok(Some(meta)) => D1Rows {
            read: meta.rows_read.unwrap_or(0) as u64,
            written: meta.rows_written.unwrap_or(0) as u64,
        },
        _ => D1Rows::default(),
    }
}

/// The text of a D1 error: the message and its cause (where D1 puts SQLite's).
fn message(e: worker::Error) -> String {
    match e {
        worker::Error::D1(d1) => {
            let error: &js_sys::Error = d1.as_ref();
            format!("{} ({})", String::from(error.message()), d1.cause())
        }
        other => other.to_string(),
    }
}

impl D1Store {
    /// One call: `statements` with `request` (and `claim`), creating the
    /// schema first when the database has none.
    async fn call(&self, function: &str, statements: &[&str], request: &str, claim: &str) -> StoreResult<Value> {
        let outcome = match self.run(statements, request, claim).await {
            // A fresh database: create the schema once, then run the call again.
            Err(e) if d1::is_missing_schema(&e) && !self.schema_checked.get() => {
                self.apply_schema().await?;
                self.run(statements, request, claim).await
            }
            other => other,
        };
        let outcome = outcome.map_err(|e| d1::classify_error(function, &e))?;
        d1::decode(function, outcome)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl RpcBackend for D1Store {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        self.call(function, &d1::batch(function)?, &request, "").await
    }

    async fn call_function_claimed(&self, claim: &UpdateClaim, func: &'static str, req: String) -> StoreResult<Value> {
        let claim = rpc::encode_claim(func, claim)?;
        self.call(func, &d1::claimed_batch(func)?, &req, &claim).await
    }
}
