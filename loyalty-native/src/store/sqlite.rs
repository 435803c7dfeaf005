//! [`SqliteStore`]: the embedded SQLite storage backend, the zero-setup
//! default for self-hosting (one file, no server).
//!
//! ```no_run
//! # async fn demo() -> Result<(), loyalty_core::ports::StoreError> {
//! use loyalty_native::store::sqlite::SqliteStore;
//!
//! // Creates the file and its schema if needed; upgrades an older schema.
//! let store = SqliteStore::open("loyalty.db")?;
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//!
//! Exactly those of [`loyalty_core::MemoryStore`], whose documentation is the
//! contract (order of checks, replays, idempotency conflicts, reserved keys,
//! daily limit net of reversals, stats, broadcast cursors, quotas, update
//! claims); the storage conformance suite (`loyalty_testkit::conformance`, a dev-dependency)
//! checks this backend against it. Ids are SQLite row ids: they start at 1 and
//! increase.
//!
//! # Transactions and concurrency
//!
//! Every [`Storage`] call is one SQLite transaction. Calls that may write run
//! on a single writer connection behind a mutex, inside `BEGIN IMMEDIATE`, so
//! the whole read-decide-write of a use case holds SQLite's write lock and is
//! atomic, also against other processes using the same file. Read-only calls
//! (`customer_summary`, `customer_entries`, `partner`, `list_partners`,
//! `partner_by_api_key`, `partner_stats`, `program_stats`,
//! `pending_broadcasts`) run in a read transaction on a small pool of separate
//! connections, which WAL mode lets proceed while a write is in progress.
//!
//! rusqlite is blocking, so each call runs on Tokio's blocking thread pool
//! ([`tokio::task::spawn_blocking`]); outside a Tokio runtime it runs inline.
//!
//! # The database file
//!
//! [`SqliteStore::open`] puts the database in WAL mode (`-wal` and `-shm` files
//! appear next to it), with `synchronous = FULL` (a committed call survives a
//! power loss), foreign keys on and a busy timeout of
//! [`BUSY_TIMEOUT`]. The schema is versioned with `PRAGMA user_version`
//! ([`SCHEMA_VERSION`]) and stamped with `PRAGMA application_id`
//! ([`APPLICATION_ID`]); opening applies the missing migrations in one
//! transaction, so opening again is a no-op. A file that belongs to another
//! application, or whose schema is newer than this build, is refused.
//!
//! Schema constraints are a second line of defence behind the Rust logic:
//! `CHECK (balance >= 0)`, unique idempotency keys, an entry reversed at most
//! once, foreign keys, and triggers that keep `customers.balance` equal to the
//! sum of the ledger and refuse updates or deletes of ledger entries.
//!
//! # Errors
//!
//! A rule of the program is [`StoreError::Rejected`]. `SQLITE_BUSY` (the
//! busy timeout passed while another process held the lock), `SQLITE_LOCKED`,
//! a full disk, or a failure to hand the work to a thread is
//! [`StoreError::Unavailable`]: nothing was applied and a retry may succeed.
//! Anything else (a file that is not a database, a failed constraint, an
//! unexpected value) is [`StoreError::Backend`].

mod ops;
mod rows;

use async_trait::async_trait;
use loyalty_core::domain::*;
use loyalty_core::memory::AuditRecord;
use loyalty_core::ports::*;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The schema version this build creates and expects (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// `PRAGMA application_id` of a loyalty-rs database: the ASCII bytes `LOYA`.
pub const APPLICATION_ID: i32 = 0x4C4F_5941;

/// How long a call waits for another process's write lock before giving up
/// with [`StoreError::Unavailable`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 128;

/// Idle read connections kept for reuse; more are opened under load.
const MAX_IDLE_READERS: usize = 4;

/// The migrations, in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [include_str!("sqlite/schema_v1.sql")];

/// Why a use case stopped, inside a transaction.
#[derive(Debug)]
enum Fail {
    /// A rule refused the call: roll back.
    Reject(Rejection),
    /// A rule refused the call after a change that must be kept (a request
    /// answered too late becomes expired): commit, then reject.
    Keep(Rejection),
    /// SQLite failed: roll back.
    Sql(rusqlite::Error),
    /// The data is not what the schema promises: roll back.
    Backend(String),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<Rejection> for Fail {
    fn from(r: Rejection) -> Self {
        Fail::Reject(r)
    }
}

impl From<Fail> for StoreError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Reject(r) | Fail::Keep(r) => StoreError::Rejected(r),
            Fail::Sql(e) => sql_error(e),
            Fail::Backend(m) => StoreError::Backend(m),
        }
    }
}

/// Classifies a SQLite error: lock contention and a full disk are temporary.
fn sql_error(e: rusqlite::Error) -> StoreError {
    let temporary = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::DiskFull)
    );
    if temporary {
        StoreError::Unavailable(format!("sqlite: {e}"))
    } else {
        StoreError::Backend(format!("sqlite: {e}"))
    }
}

/// A SQLite error while opening `path`, with the path in the message.
fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match sql_error(e) {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{}: {m}", path.display())),
        other => StoreError::Backend(format!("cannot open the database {}: {other}", path.display())),
    }
}

/// The embedded SQLite [`Storage`] backend. See the [module documentation](self)
/// for the file format, transactions and error mapping.
///
/// Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The database file (`:memory:` for [`SqliteStore::open_in_memory`]).
    path: PathBuf,
    /// The one connection that writes.
    writer: Mutex<Connection>,
    /// Idle read connections; `None` for an in-memory database, whose reads
    /// go through the writer (another connection would see another database).
    readers: Option<Mutex<Vec<Connection>>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

/// Creates the database file at `path` if needed and brings its schema to
/// [`SCHEMA_VERSION`]; returns the version. Idempotent: the `loyalty migrate`
/// command calls it, and [`SqliteStore::open`] does the same on its own.
///
/// # Errors
///
/// [`StoreError::Backend`] when the file cannot be opened or created, is not a
/// SQLite database, belongs to another application or has a newer schema;
/// [`StoreError::Unavailable`] when another process held the lock longer than
/// [`BUSY_TIMEOUT`].
pub fn migrate(path: impl AsRef<Path>) -> Result<u32, StoreError> {
    let path = path.as_ref();
    let mut conn = open_writer(path)?;
    apply_migrations(&mut conn, path)?;
    Ok(SCHEMA_VERSION)
}

/// Opens the writer connection and sets the connection-wide pragmas.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    configure(&conn, false).map_err(|e| open_error(path, e))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(StoreError::Backend(format!(
            "cannot open the database {}: WAL mode refused (journal mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL").map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Opens one more read connection.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    configure(&conn, true).map_err(|e| open_error(path, e))?;
    Ok(conn)
}

fn configure(conn: &Connection, read_only: bool) -> rusqlite::Result<()> {
    // Room for every statement of the use cases, so none is parsed twice.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    }
    Ok(())
}

/// Applies the missing migrations in one `BEGIN IMMEDIATE` transaction.
fn apply_migrations(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |e| open_error(path, e);
    let refuse = |why: String| StoreError::Backend(format!("cannot open the database {}: {why}", path.display()));
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let app: i32 = tx.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(sql)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    let tables: i64 = tx
        .query_row("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", [], |r| {
            r.get(0)
        })
        .map_err(sql)?;
    if app != APPLICATION_ID && (app != 0 || tables > 0) {
        return Err(refuse(format!(
            "not a loyalty-rs database (application_id {app:#x}, {tables} tables); refusing to touch it"
        )));
    }
    let from = usize::try_from(version).map_err(|_| refuse(format!("invalid schema version {version}")))?;
    if from > MIGRATIONS.len() {
        return Err(refuse(format!(
            "schema version {version} is newer than this build supports ({SCHEMA_VERSION}); upgrade loyalty-rs"
        )));
    }
    for migration in &MIGRATIONS[from..] {
        tx.execute_batch(migration).map_err(sql)?;
    }
    if from < MIGRATIONS.len() {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(sql)?;
    }
    tx.commit().map_err(sql)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, in WAL mode,
    /// and brings its schema to [`SCHEMA_VERSION`] (see [`migrate`]). The
    /// parent directory must exist. Opening is blocking file I/O; do it at
    /// start-up.
    ///
    /// # Errors
    ///
    /// As [`migrate`]: [`StoreError::Backend`] for a path that cannot be
    /// opened or created, a file that is not a SQLite database, a database of
    /// another application or a newer schema; the message names the path.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut writer = open_writer(&path)?;
        apply_migrations(&mut writer, &path)?;
        // Fail now rather than on the first read if readers cannot open.
        let reader = open_reader(&path)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner { path, writer: Mutex::new(writer), readers: Some(Mutex::new(vec![reader])) }),
        })
    }

    /// A private in-memory database (for demos and tests): same schema and
    /// semantics, gone when the last clone is dropped. Reads share the writer
    /// connection.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if SQLite cannot create the schema.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let path = PathBuf::from(":memory:");
        let mut writer = Connection::open_in_memory().map_err(|e| open_error(&path, e))?;
        configure(&writer, false).map_err(|e| open_error(&path, e))?;
        apply_migrations(&mut writer, &path)?;
        Ok(SqliteStore { inner: Arc::new(Inner { path, writer: Mutex::new(writer), readers: None }) })
    }

    /// The database file (`:memory:` for an in-memory database).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The admin audit log, oldest first: adjustments, and block and partner
    /// decisions that changed something (as [`loyalty_core::MemoryStore::audit_log`]).
    pub async fn audit_log(&self) -> StoreResult<Vec<AuditRecord>> {
        self.read(ops::audit_log).await
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer connection.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
    {
        self.blocking(move |inner| inner.write(f)).await
    }

    /// Runs `f` in a read transaction on a read connection.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
    {
        self.blocking(move |inner| inner.read(f)).await
    }

    /// Runs blocking work on Tokio's blocking pool (inline without a runtime).
    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || f(&inner))
                .await
                .map_err(|e| StoreError::Unavailable(format!("sqlite worker failed: {e}")))?,
            Err(_) => f(&inner),
        }
    }
}

impl Inner {
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T, Fail>) -> StoreResult<T> {
        // A panic while the lock was held cannot have left a transaction open
        // (dropping rusqlite's `Transaction` rolls back), but check anyway.
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK").map_err(sql_error)?;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
        match f(&tx) {
            Ok(v) => {
                tx.commit().map_err(sql_error)?;
                Ok(v)
            }
            Err(Fail::Keep(r)) => {
                tx.commit().map_err(sql_error)?;
                Err(StoreError::Rejected(r))
            }
            Err(other) => {
                // Dropping `tx` rolls back; a failed rollback leaves nothing applied either.
                let _ = tx.rollback();
                Err(other.into())
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, Fail>) -> StoreResult<T> {
        let Some(pool) = &self.readers else {
            return self.write(f);
        };
        let idle = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = (|| {
            let tx = conn.transaction().map_err(sql_error)?;
            let v = f(&tx)?;
            tx.commit().map_err(sql_error)?;
            Ok(v)
        })();
        if conn.is_autocommit() {
            let mut idle = pool.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }
}

#[async_trait]
impl Storage for SqliteStore {
    async fn register_customer(&self, req: NewCustomer) -> StoreResult<Registration> {
        self.write(move |c| ops::register_customer(c, req)).await
    }

    async fn customer_summary(&self, who: CustomerRef, recent: u32) -> StoreResult<Option<CustomerSummary>> {
        self.read(move |c| ops::customer_summary(c, &who, recent)).await
    }

    async fn customer_entries(
        &self,
        customer: CustomerId,
        limit: u32,
        before: Option<EntryId>,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.read(move |c| ops::customer_entries(c, customer, limit, before)).await
    }

    async fn set_language(&self, who: CustomerRef, language: Language) -> StoreResult<Customer> {
        self.write(move |c| ops::set_language(c, &who, language)).await
    }

    async fn set_blocked(
        &self,
        who: CustomerRef,
        blocked: bool,
        admin: TelegramUserId,
        now: Timestamp,
    ) -> StoreResult<Customer> {
        self.write(move |c| ops::set_blocked(c, &who, blocked, admin, now)).await
    }

    async fn credit_purchase(&self, req: CreditPurchase) -> StoreResult<Credited> {
        self.write(move |c| ops::credit_purchase(c, req)).await
    }

    async fn open_redemption(&self, req: OpenRedemption) -> StoreResult<RedemptionView> {
        self.write(move |c| ops::open_redemption(c, req)).await
    }

    async fn confirm_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.write(move |c| ops::confirm_redemption(c, req)).await
    }

    async fn decline_redemption(&self, req: AnswerRedemption) -> StoreResult<RedemptionView> {
        self.write(move |c| ops::decline_redemption(c, req)).await
    }

    async fn expire_redemptions(&self, now: Timestamp) -> StoreResult<Vec<RedemptionRequest>> {
        self.write(move |c| ops::expire_redemptions(c, now)).await
    }

    async fn reverse_entry(&self, req: ReverseEntry) -> StoreResult<Reversed> {
        self.write(move |c| ops::reverse_entry(c, req)).await
    }

    async fn adjust_balance(&self, req: AdjustBalance) -> StoreResult<Adjusted> {
        self.write(move |c| ops::adjust_balance(c, req)).await
    }

    async fn apply_partner(&self, req: PartnerApplication) -> StoreResult<Applied> {
        self.write(move |c| ops::apply_partner(c, req)).await
    }

    async fn decide_partner(
        &self,
        partner: PartnerId,
        decision: PartnerDecision,
        admin: TelegramUserId,
        now: Timestamp,
    ) -> StoreResult<Decided> {
        self.write(move |c| ops::decide_partner(c, partner, decision, admin, now)).await
    }

    async fn partner(&self, who: PartnerRef) -> StoreResult<Option<Partner>> {
        self.read(move |c| ops::partner(c, who)).await
    }

    async fn list_partners(&self, status: Option<PartnerStatus>) -> StoreResult<Vec<Partner>> {
        self.read(move |c| ops::list_partners(c, status)).await
    }

    async fn set_partner_api_key(&self, who: PartnerRef, key_sha256_hex: String) -> StoreResult<Partner> {
        self.write(move |c| ops::set_partner_api_key(c, who, &key_sha256_hex)).await
    }

    async fn partner_by_api_key(&self, key_sha256_hex: &str) -> StoreResult<Option<Partner>> {
        let key = key_sha256_hex.to_owned();
        self.read(move |c| ops::partner_by_api_key(c, &key)).await
    }

    async fn partner_stats(&self, who: PartnerRef, today: Timestamp, week: Timestamp) -> StoreResult<PartnerStats> {
        self.read(move |c| ops::partner_stats(c, who, today, week)).await
    }

    async fn program_stats(&self, today: Timestamp) -> StoreResult<ProgramStats> {
        self.read(move |c| ops::program_stats(c, today)).await
    }

    async fn claim_update(&self, bot: BotKind, update_id: i64, now: Timestamp) -> StoreResult<bool> {
        self.write(move |c| ops::claim_update(c, bot, update_id, now)).await
    }

    async fn release_update(&self, bot: BotKind, update_id: i64) -> StoreResult<()> {
        self.write(move |c| ops::release_update(c, bot, update_id)).await
    }

    async fn prune_update_claims(&self, before: Timestamp) -> StoreResult<u64> {
        self.write(move |c| ops::prune_update_claims(c, before)).await
    }

    async fn consume_quota(
        &self,
        kind: QuotaKind,
        user: TelegramUserId,
        day: Timestamp,
        limit: u32,
    ) -> StoreResult<bool> {
        self.write(move |c| ops::consume_quota(c, kind, user, day, limit)).await
    }

    async fn create_broadcast(&self, req: NewBroadcast) -> StoreResult<BroadcastJob> {
        self.write(move |c| ops::create_broadcast(c, req)).await
    }

    async fn claim_broadcast_batch(&self, job: BroadcastId, limit: u32) -> StoreResult<BroadcastBatch> {
        self.write(move |c| ops::claim_broadcast_batch(c, job, limit)).await
    }

    async fn record_broadcast(&self, job: BroadcastId, sent: u32, failed: u32) -> StoreResult<BroadcastJob> {
        self.write(move |c| ops::record_broadcast(c, job, sent, failed)).await
    }

    async fn pending_broadcasts(&self) -> StoreResult<Vec<BroadcastJob>> {
        self.read(ops::pending_broadcasts).await
    }
}
