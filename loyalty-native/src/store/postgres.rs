//! Postgres storage: [`PgStore`] talks to PostgreSQL (Supabase or any other)
//! directly over the wire protocol, through a `deadpool-postgres` pool.
//!
//! Every [`Storage`] method is exactly one statement and one round trip:
//! `select loyalty.<method>($1::jsonb)::text`, where `$1` is the serde JSON of
//! the request and the result the serde JSON of the response. The SQL
//! functions, shipped as the migrations in `supabase/migrations/` (embedded in
//! this crate as [`MIGRATIONS`]), do the whole use case atomically, with row
//! locks and constraints, so the default READ COMMITTED isolation is enough and
//! concurrent calls with one idempotency key all get the first result.
//!
//! Errors: a rule of the program that refused the call raises SQLSTATE `LY001`
//! with the JSON of the [`Rejection`] as its message and becomes
//! [`StoreError::Rejected`]. A lost or closed connection, a pool timeout, a
//! server shutting down (`57P01`…`57P03`), class `08` (connection exception),
//! `53300` (too many connections), `57014` (statement cancelled) and serialization
//! failures or deadlocks (`40001`, `40P01`, first retried twice here) become
//! [`StoreError::Unavailable`]. Anything else is [`StoreError::Backend`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), loyalty_native::core::ports::StoreError> {
//! use loyalty_native::store::postgres::{migrate, PgStore};
//!
//! let url = "postgres://postgres@127.0.0.1:5432/loyalty";
//! let applied = migrate(url).await?; // what `loyalty migrate` runs
//! let store = PgStore::connect(url).await?;
//! # let _ = (applied, store);
//! # Ok(())
//! # }
//! ```
//!
//! Connections are plain TCP (`NoTls`): use a local database, a private network
//! or an SSL-terminating proxy. See `docs/SUPABASE.md`.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use loyalty_core::ports::*;
use loyalty_core::stores::rpc::RpcBackend;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, Row};

/// One SQL migration shipped with the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The 14-digit timestamp that orders the migrations (`supabase db push` uses it too).
    pub version: &'static str,
    /// A short name.
    pub name: &'static str,
    /// The SQL text, safe to run again (`if not exists`, `or replace`).
    pub sql: &'static str,
}

impl Migration {
    /// `<version>_<name>`, the file name without `.sql`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// The migration in `migrations/<version>_<name>.sql`.
macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $version, "_", $name, ".sql")),
        }
    };
}

/// The migrations in `supabase/migrations/`, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!("20261126090000", "loyalty_schema"),
    migration!("20261126090100", "loyalty_functions"),
    migration!("20261126090200", "loyalty_prune_update_claims"),
    migration!("20261126090300", "loyalty_call_claimed"),
    migration!("20261205090000", "loyalty_bot_updates"),
    migration!("20261205090100", "loyalty_import"),
    migration!("20261206090000", "loyalty_partner_calls"),
    migration!("20261206090100", "loyalty_export"),
    migration!("20261207090000", "loyalty_rules_and_lots"),
    migration!("20261207100000", "loyalty_campaigns"),
    migration!("20261208090000", "loyalty_job_state"),
    migration!("20261209090000", "loyalty_outbox"),
    migration!("20261210090000", "loyalty_rewards"),
    migration!("20261210090100", "loyalty_partner_entries"),
    migration!("20261210090200", "loyalty_prune_quotas"),
    migration!("20261210090300", "loyalty_export_page"),
    migration!("20261211090000", "loyalty_personal_data"),
    migration!("20261211090100", "loyalty_stamps"),
    migration!("20261211090200", "loyalty_lookup_stamps"),
    migration!("20261211090300", "loyalty_campaign_keys"),
    migration!("20261211090400", "loyalty_erasure_races"),
    migration!("20261212090000", "loyalty_staff"),
    migration!("20261212090100", "loyalty_webhooks"),
    migration!("20261212090200", "loyalty_staff_fixes"),
    migration!("20261212090300", "loyalty_webhook_keys"),
    migration!("20261212090400", "loyalty_daily_figures"),
    migration!("20261212090500", "loyalty_till_redemption"),
    migration!("20261212090600", "loyalty_customer_redemptions"),
    migration!("20261213090000", "loyalty_carried_finishes"),
    migration!("20261213090100", "loyalty_plpgsql_helpers"),
    migration!("20261214090000", "loyalty_finish_updates"),
    migration!("20261214090100", "loyalty_daily_totals"),
    migration!("20261215090000", "loyalty_plpgsql_path_helpers"),
    migration!("20261215090100", "loyalty_campaign_awards_reads"),
    migration!("20261216090000", "loyalty_enqueue_webhooks"),
    migration!("20261217090000", "loyalty_lots_walk"),
];

/// Advisory lock held while migrating, so concurrent `loyalty migrate` runs take turns.
const MIGRATION_LOCK: i64 = 0x6c6f_7961_6c74_7900;

/// SQLSTATE of a rejection raised by the functions.
const REJECTION: &str = "LY001";

/// Applies the [`MIGRATIONS`] that `database_url` has not recorded yet, each in
/// its own transaction, recording them in `loyalty.schema_migrations`. Returns
/// the ids (`<version>_<name>`) applied by this call; empty when up to date.
///
/// The role needs the right to create schemas, tables and functions (the
/// `postgres` role on Supabase) and, on plain Postgres, to create the
/// `anon`, `authenticated` and `service_role` roles when they are missing.
pub async fn migrate(database_url: &str) -> Result<Vec<String>, StoreError> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls).await.map_err(db_error)?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "migration connection ended with an error");
        }
    });
    let result = run_migrations(&mut client).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn run_migrations(client: &mut tokio_postgres::Client) -> Result<Vec<String>, StoreError> {
    client.execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db_error)?;
    client
        .batch_execute(
            "create schema if not exists loyalty;
             create table if not exists loyalty.schema_migrations (
               version text primary key,
               name text not null,
               applied_at timestamptz not null default now());",
        )
        .await
        .map_err(db_error)?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let tx = client.transaction().await.map_err(db_error)?;
        let done = tx
            .query_opt("select 1 from loyalty.schema_migrations where version = $1", &[&m.version])
            .await
            .map_err(db_error)?
            .is_some();
        if done {
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(|e| migration_error(m, e))?;
        tx.execute("insert into loyalty.schema_migrations (version, name) values ($1, $2)", &[&m.version, &m.name])
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        tracing::info!(migration = %m.id(), "applied migration");
        applied.push(m.id());
    }
    client.execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await.map_err(db_error)?;
    Ok(applied)
}

fn migration_error(m: &Migration, e: tokio_postgres::Error) -> StoreError {
    match db_error(e) {
        StoreError::Backend(msg) => StoreError::Backend(format!("migration {}: {msg}", m.id())),
        other => other,
    }
}

/// Connection pool settings of a [`PgStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections the pool opens (default 16).
    pub max_connections: usize,
    /// How long a call waits for a free connection before it fails as
    /// [`StoreError::Unavailable`] (default 30 s).
    pub acquire_timeout: Duration,
    /// How long opening a connection may take (default 10 s).
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The Postgres [`Storage`] backend. Cheap to share behind an `Arc`; every
/// method borrows a pooled connection for one statement.
pub struct PgStore {
    pool: Pool,
    round_trips: AtomicU64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.status()).field("round_trips", &self.round_trips()).finish()
    }
}

/// How many times a serialization failure or deadlock is retried inside the store.
const RETRIES: u32 = 2;

impl PgStore {
    /// Connects with default [`PgOptions`]. `database_url` is a libpq-style URL
    /// (`postgres://user:password@host:port/db`) or key-value string. Opens one
    /// connection to check the database is reachable.
    pub async fn connect(database_url: &str) -> Result<PgStore, StoreError> {
        PgStore::connect_with(database_url, PgOptions::default()).await
    }

    /// Connects with the given pool settings.
    pub async fn connect_with(database_url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config =
            database_url.parse().map_err(|e| StoreError::Backend(format!("invalid database url: {e}")))?;
        config.connect_timeout(options.connect_timeout);
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Backend(format!("connection pool: {e}")))?;
        drop(pool.get().await.map_err(pool_error)?);
        Ok(PgStore::with_pool(pool))
    }

    /// A store over an existing pool (which must have a runtime for its timeouts).
    pub fn with_pool(pool: Pool) -> PgStore {
        PgStore { pool, round_trips: AtomicU64::new(0) }
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Statements sent so far (one per storage call, plus retries).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Calls `loyalty.<function>(input)` and decodes its JSON result.
    /// One statement: `select loyalty.<function>($1::jsonb)`, retried on serialization failures and deadlocks.
    async fn call(&self, function: &str, body: String) -> StoreResult<Value> {
        let sql = format!("select loyalty.{function}($1::jsonb)::text");
        let mut attempt = 0;
        let rows = loop {
            let client = self.pool.get().await.map_err(pool_error)?;
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match client.query_typed(&sql, &[(&body, Type::TEXT)]).await {
                Ok(rows) => break rows,
                Err(e) if attempt < RETRIES && is_retryable(&e) => {
                    attempt += 1;
                    drop(client);
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                }
                Err(e) => return Err(db_error(e)),
            }
        };
        decode(function, &rows)
    }
}

/// The function's JSON result from its one row (`Null` for SQL `NULL`); the
/// answer type is decoded by [`decode_result`](loyalty_core::stores::rpc::decode_result).
fn decode(function: &str, rows: &[Row]) -> StoreResult<Value> {
    let text: Option<String> = match rows {
        [row] => row.try_get(0).map_err(|e| StoreError::Backend(format!("{function}: {e}")))?,
        _ => return Err(StoreError::Backend(format!("{function}: expected one row, got {}", rows.len()))),
    };
    match text {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Backend(format!("{function}: invalid JSON result: {e}"))),
        None => Ok(Value::Null),
    }
}

fn parse_rejection(json: &str) -> StoreError {
    match serde_json::from_str::<Rejection>(json) {
        Ok(r) => StoreError::Rejected(r),
        Err(e) => StoreError::Backend(format!("unreadable rejection {json}: {e}")),
    }
}

fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

/// Whether a SQLSTATE means "try again later".
fn is_temporary_state(code: &SqlState) -> bool {
    code.code().starts_with("08")
        || [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::QUERY_CANCELED,
            SqlState::IDLE_SESSION_TIMEOUT,
        ]
        .contains(code)
}

fn db_error(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code().code() == REJECTION {
            return parse_rejection(db.message());
        }
        let text = format!("{}: {}", db.code().code(), db.message());
        return if is_temporary_state(db.code()) { StoreError::Unavailable(text) } else { StoreError::Backend(text) };
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    let text = e.to_string();
    if e.is_closed() || io || text.starts_with("timeout") || text.starts_with("error connecting") {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => db_error(e),
        PoolError::Timeout(t) => StoreError::Unavailable(format!("connection pool timeout ({t:?})")),
        PoolError::Closed => StoreError::Unavailable("connection pool closed".into()),
        other => StoreError::Backend(format!("connection pool: {other}")),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl RpcBackend for PgStore {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        self.call(function, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_and_named_like_their_files() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "{:?} before {:?}", pair[0].id(), pair[1].id());
        }
        for m in MIGRATIONS {
            assert_eq!(m.version.len(), 14);
            assert!(m.version.bytes().all(|b| b.is_ascii_digit()));
            assert!(m.sql.contains("loyalty"), "{} looks empty", m.id());
        }
    }

    #[test]
    fn rejection_messages_and_returned_rejections_decode() {
        assert_eq!(
            parse_rejection(r#"{"code": "insufficient_balance", "balance": 5, "requested": 7}"#),
            StoreError::Rejected(Rejection::InsufficientBalance { balance: 5, requested: 7 })
        );
        assert_eq!(
            parse_rejection(r#"{"code": "redemption_closed", "status": "expired"}"#),
            StoreError::Rejected(Rejection::RedemptionClosed {
                status: loyalty_core::domain::RedemptionStatus::Expired
            })
        );
        assert!(matches!(parse_rejection(r#"{"code": "no_such_rule"}"#), StoreError::Backend(_)));
    }

    #[test]
    fn temporary_states() {
        assert!(is_temporary_state(&SqlState::T_R_SERIALIZATION_FAILURE));
        assert!(is_temporary_state(&SqlState::ADMIN_SHUTDOWN));
        assert!(is_temporary_state(&SqlState::CONNECTION_FAILURE));
        assert!(!is_temporary_state(&SqlState::UNIQUE_VIOLATION));
        assert!(!is_temporary_state(&SqlState::INSUFFICIENT_PRIVILEGE));
    }
}
