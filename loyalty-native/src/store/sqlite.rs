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
//! The store runs the statements of the D1 protocol
//! ([`loyalty_core::stores::d1`]), the ones the Workers run on Cloudflare D1:
//! every use case is a batch of SQLite statements that make every decision in
//! SQL, and the store implements [`RpcBackend`] by running that batch, so
//! [`Storage`](loyalty_core::ports::Storage) comes from
//! [`loyalty_core::stores::rpc`] — including
//! [`fold_claim`](loyalty_core::ports::Storage::fold_claim): an update's claim
//! rides in the batch of its first storage call. The semantics are those of
//! [`loyalty_core::MemoryStore`], whose documentation is the contract; the
//! storage conformance suite (`loyalty_testkit::conformance`, a dev-dependency) checks
//! both. Ids are SQLite row ids: they start at 1 and increase.
//!
//! # Transactions and concurrency
//!
//! Every call is one batch in one SQLite transaction. Batches that may write
//! run on a single writer connection behind a mutex, inside `BEGIN IMMEDIATE`,
//! so the whole read-decide-write of a use case holds SQLite's write lock and
//! is atomic, also against other processes using the same file. The batches
//! of the read-only use cases ([`d1::is_read_only`]: summaries, entries,
//! partner lookups, stats, pending broadcasts) run in a read transaction on a
//! small pool of read-only connections, which WAL mode lets proceed while a
//! write is in progress. Each connection has its own `TEMP` scratch table
//! ([`d1::TEMP_SCRATCH`]), so a call writes to the file only what its use
//! case changes.
//!
//! rusqlite is blocking, so each call runs on Tokio's blocking thread pool
//! ([`tokio::task::spawn_blocking`]); outside a Tokio runtime it runs inline.
//!
//! # The database file
//!
//! [`SqliteStore::open`] puts the database in WAL mode (`-wal` and `-shm` files
//! appear next to it), with `synchronous = FULL` (a committed call survives a
//! power loss), foreign keys on and a busy timeout of [`BUSY_TIMEOUT`]. The
//! schema is [`d1::SCHEMA`], the one D1 databases have (tables prefixed
//! `loyalty_`), versioned with `PRAGMA user_version` ([`SCHEMA_VERSION`]) and
//! stamped with `PRAGMA application_id` ([`APPLICATION_ID`]). Opening creates
//! it, or upgrades a file of schema version 1 (the tables without prefix of
//! earlier releases) in one transaction: the rows are copied into the new
//! tables — balances rebuilt from the ledger and checked against the old ones
//! — and the old tables dropped. Opening again is a no-op. A file that belongs
//! to another application, or whose schema is newer than this build, is
//! refused.
//!
//! Schema constraints back the rules: `CHECK (balance >= 0)`, unique
//! idempotency keys and API keys, an entry reversed at most once, foreign
//! keys, and triggers that keep `loyalty_customers.balance` equal to the sum of
//! the ledger and refuse updates or deletes of ledger entries.
//!
//! # Errors
//!
//! A rule of the program is [`StoreError::Rejected`]. `SQLITE_BUSY` (the
//! busy timeout passed while another process held the lock), `SQLITE_LOCKED`,
//! a full disk, or a failure to hand the work to a thread is
//! [`StoreError::Unavailable`]: nothing was applied and a retry may succeed.
//! Anything else (a file that is not a database, a failed constraint, an
//! unexpected value) is [`StoreError::Backend`].

use async_trait::async_trait;
use loyalty_core::ports::{StoreError, StoreResult, UpdateClaim};
use loyalty_core::stores::d1::{self, Outcome};
use loyalty_core::stores::rpc::{self, RpcBackend};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params_from_iter};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The schema version this build creates and expects (`PRAGMA user_version`):
/// 15, [`d1::SCHEMA`]. Version 1 had the same tables without the `loyalty_`
/// prefix; version 2 kept update claims per bot kind (`loyalty_update_claims`)
/// instead of per bot id (`loyalty_bot_updates`); versions 2 and 3 had no
/// `import` and `legacy` entry kinds, and versions 2 to 4 neither the
/// program's rules, the lots of expiring points nor the `expiry` kind
/// ([`d1::entries_upgrade`]), versions up to 5 no jobs' states
/// (`loyalty_job_state`), versions up to 6 no outbox (`loyalty_outbox`,
/// `loyalty_update_bodies`), versions up to 7 no rewards catalogue
/// (`loyalty_rewards`, `loyalty_vouchers`), versions up to 8 no erasures
/// in the audit log ([`d1::audit_upgrade`]) and versions up to 9 no stamp
/// cards (`loyalty_stamp_cards`, `loyalty_stamps`, `loyalty_stamp_visits`) nor
/// campaigns' keys (`loyalty_campaign_keys`), versions up to 10 no staff
/// (`loyalty_staff`, `loyalty_entry_cashiers`, `loyalty_redemption_cashiers`), versions up to 11 no
/// webhook endpoints (`loyalty_webhooks`) and version 12 no idempotency keys
/// of their registrations ([`d1::webhook_keys_upgrade`]), versions up to 13 no
/// partners' running totals of the day (`loyalty_partner_days`), versions up to
/// 14 a lots' trigger that read every open lot ([`d1::lots_walk_upgrade`]). Opening
/// upgrades them all; the claims of updates handled before the upgrade are
/// not carried over (their bots' ids are not in the database), so upgrade
/// while no update is being processed (a stopped `loyalty serve`).
pub const SCHEMA_VERSION: u32 = 15;

/// What version 3 retired: the update claims kept per bot kind (version 1's
/// and version 2's).
const V2_RETIRED: &str = "DROP TABLE IF EXISTS loyalty_update_claims; DROP TABLE IF EXISTS update_claims";

/// `PRAGMA application_id` of a loyalty-rs database: the ASCII bytes `LOYA`.
pub const APPLICATION_ID: i32 = 0x4C4F_5941;

/// How long a call waits for another process's write lock before giving up
/// with [`StoreError::Unavailable`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements cached per connection: room for every statement of
/// every use case, so none is parsed twice.
const STATEMENT_CACHE: usize = 512;

/// Idle read connections kept for reuse; more are opened under load.
const MAX_IDLE_READERS: usize = 4;

/// The tables of schema version 1, parents first, with the columns copied
/// from each into its `loyalty_` table of [`d1::SCHEMA`] (the balance is not
/// copied: the ledger's trigger rebuilds it).
const V1_TABLES: [(&str, &str); 7] = [
    ("customers", "id, telegram_id, code, first_name, username, language, referrer, blocked, created_at"),
    (
        "partners",
        "id, telegram_id, name, category, status, earn_rate_bps, max_redeem_share_bps, daily_credit_limit, \
         language, api_key_sha256, created_at",
    ),
    (
        "entries",
        "id, customer, kind, amount, partner, purchase, idempotency_key, author_type, author_id, reverses, reason, \
         created_at",
    ),
    ("redemptions", "id, customer, partner, points, purchase, status, created_at, expires_at, entry, idempotency_key"),
    ("quotas", "kind, user_id, day, used"),
    ("broadcasts", "id, audience, text, admin_chat, total, sent, failed, cursor, done, created_at, idempotency_key"),
    ("audit_log", "id, admin, action, customer, partner, entry, amount, reason, blocked, decision, status, at"),
];

/// Version 1 let two partners share an API key hash (its lookup found the
/// lowest id); version 2's is unique, so the key stays with that partner.
const V1_SHARED_API_KEYS: &str = "UPDATE partners SET api_key_sha256 = NULL WHERE id > \
     (SELECT min(q.id) FROM partners q WHERE q.api_key_sha256 = partners.api_key_sha256)";

/// Customers whose copied balance (rebuilt from the ledger) differs from the
/// stored one of version 1.
const V1_BALANCES_DIFFER: &str =
    "SELECT count(*) FROM customers c JOIN loyalty_customers n ON n.id = c.id WHERE n.balance <> c.balance";

/// Classifies a SQLite error of `what`: lock contention and a full disk are temporary.
fn sql_error(what: &str, e: rusqlite::Error) -> StoreError {
    let temporary = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::DiskFull)
    );
    if temporary {
        StoreError::Unavailable(format!("{what}: sqlite: {e}"))
    } else {
        StoreError::Backend(format!("{what}: sqlite: {e}"))
    }
}

/// A SQLite error while opening `path`, with the path in the message.
fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match sql_error(&path.display().to_string(), e) {
        StoreError::Backend(m) => StoreError::Backend(format!("cannot open the database {m}")),
        other => other,
    }
}

/// The embedded SQLite [`Storage`](loyalty_core::ports::Storage) backend. See
/// the [module documentation](self) for the file format, transactions and
/// error mapping.
///
/// Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The database file (`:memory:` for [`SqliteStore::open_in_memory`]).
    path: PathBuf,
    /// Idle read connections; `None` for an in-memory database, whose reads
    /// go through the writer (another connection would see another database).
    /// Declared before the writer so that they close first: the last
    /// connection to close checkpoints the WAL into the file, which a
    /// read-only one cannot do.
    readers: Option<Mutex<Vec<Connection>>>,
    /// The one connection that writes.
    writer: Mutex<Connection>,
    /// Batches run so far.
    batches: AtomicU64,
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
/// SQLite database, belongs to another application, has a newer schema or is
/// a version-1 database whose stored balances disagree with its ledger;
/// [`StoreError::Unavailable`] when another process held the lock longer than
/// [`BUSY_TIMEOUT`].
pub fn migrate(path: impl AsRef<Path>) -> Result<u32, StoreError> {
    let path = path.as_ref();
    let mut conn = open_writer(path)?;
    apply_migrations(&mut conn, path)?;
    Ok(SCHEMA_VERSION)
}

/// The D1 migration (in `loyalty-edge/migrations/`) after which a D1
/// database has this build's schema, [`SCHEMA_VERSION`]: the last one.
pub const D1_LATEST_MIGRATION: &str = "0014_lots_walk.sql";

/// Makes the loyalty-rs SQLite database `path` (which must not exist) from the
/// SQL dump of a Workers deployment's D1 database (`wrangler d1 export
/// <database> --remote --output dump.sql`): D1 is SQLite with the same schema,
/// so the dump loads as it is, and the file is then stamped as ours. The
/// native tools — `loyalty export legacy` — can then read what the Workers
/// wrote.
///
/// # Errors
///
/// [`StoreError::Backend`] when `path` exists, the dump does not load, it is
/// not of a loyalty-rs D1 database, or its migrations stop before
/// [`D1_LATEST_MIGRATION`] (apply them first). Nothing is left at `path` then.
pub fn from_d1_dump(dump: &str, path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Err(StoreError::Backend(format!("{} exists; refusing to overwrite it", path.display())));
    }
    let loaded = load_d1_dump(dump, path);
    if loaded.is_err() {
        remove_files(path);
    }
    loaded
}

/// Deletes the database file `path` and the files SQLite keeps beside it
/// (`-wal`, `-shm`, `-journal`), where they exist.
pub fn remove_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn load_d1_dump(dump: &str, path: &Path) -> Result<(), StoreError> {
    let refuse = |why: String| StoreError::Backend(format!("the D1 dump: {why}"));
    let mut conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    // A dump lists the tables in the order the database holds them, a child
    // (`loyalty_lots`) before the table it references when that one was
    // rebuilt later (`loyalty_entries`): the references are checked once
    // everything is loaded, not row by row.
    conn.pragma_update(None, "foreign_keys", false).map_err(|e| open_error(path, e))?;
    let tx = conn.transaction().map_err(|e| open_error(path, e))?;
    tx.execute_batch(dump).map_err(|e| refuse(format!("it does not load into SQLite: {e}")))?;
    let broken: i64 = tx
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if broken > 0 {
        return Err(refuse(format!("{broken} rows reference rows the dump does not hold")));
    }
    let table = |name: &str| -> Result<bool, StoreError> {
        tx.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)", [name], |r| {
            r.get(0)
        })
        .map_err(|e| open_error(path, e))
    };
    if !table("loyalty_customers")? || !table("d1_migrations")? {
        return Err(refuse(
            "not a dump of a loyalty-rs D1 database (no loyalty_customers or d1_migrations table)".into(),
        ));
    }
    let latest: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM d1_migrations WHERE name = ?1)", [D1_LATEST_MIGRATION], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if !latest {
        return Err(refuse(format!(
            "the database lacks the migration {D1_LATEST_MIGRATION}: apply the D1 migrations \
             (wrangler d1 migrations apply <database> --remote) and export it again"
        )));
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(|e| open_error(path, e))?;
    tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(|e| open_error(path, e))?;
    tx.commit().map_err(|e| open_error(path, e))
}

/// Opens the writer connection and sets the connection-wide pragmas.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    configure(&conn).map_err(|e| open_error(path, e))?;
    conn.pragma_update(None, "foreign_keys", true).map_err(|e| open_error(path, e))?;
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

/// Opens one more read connection (read-only: only its `TEMP` scratch table
/// can change).
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    configure(&conn).map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// What every connection gets: the statement cache, the busy timeout and the
/// `TEMP` scratch table of the batches.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.execute_batch(d1::TEMP_SCRATCH)
}

/// Creates or upgrades the schema in one `BEGIN IMMEDIATE` transaction.
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
    match version {
        v if v == i64::from(SCHEMA_VERSION) => return Ok(()),
        0..=14 => {}
        v if v > i64::from(SCHEMA_VERSION) => {
            return Err(refuse(format!(
                "schema version {v} is newer than this build supports ({SCHEMA_VERSION}); upgrade loyalty-rs"
            )));
        }
        v => return Err(refuse(format!("invalid schema version {v}"))),
    }
    if (2..=4).contains(&version) {
        for statement in d1::entries_upgrade() {
            tx.execute_batch(statement).map_err(sql)?;
        }
    }
    if (2..=8).contains(&version) {
        for statement in d1::audit_upgrade() {
            tx.execute_batch(statement).map_err(sql)?;
        }
    }
    if version == 12 {
        for statement in d1::webhook_keys_upgrade() {
            tx.execute_batch(statement).map_err(sql)?;
        }
    }
    // Schema 15: the lots' walk replaces the trigger every earlier schema has (a no-op on a new file);
    // SCHEMA below creates it, once every table it names exists.
    let [drop_the_old_trigger, _] = d1::lots_walk_upgrade();
    tx.execute_batch(drop_the_old_trigger).map_err(sql)?;
    for statement in d1::SCHEMA {
        tx.execute_batch(statement).map_err(sql)?;
    }
    tx.execute_batch(V2_RETIRED).map_err(sql)?;
    if version == 1 {
        tx.execute_batch(V1_SHARED_API_KEYS).map_err(sql)?;
        for (table, columns) in V1_TABLES {
            let copy = format!("INSERT INTO loyalty_{table} ({columns}) SELECT {columns} FROM {table} ORDER BY 1");
            tx.execute_batch(&copy).map_err(sql)?;
        }
        let differ: i64 = tx.query_row(V1_BALANCES_DIFFER, [], |r| r.get(0)).map_err(sql)?;
        if differ > 0 {
            return Err(refuse(format!(
                "cannot upgrade schema version 1: {differ} customers' balances differ from the sum of their \
                 ledger entries; nothing was changed"
            )));
        }
        for (table, _) in V1_TABLES.iter().rev() {
            tx.execute_batch(&format!("DROP TABLE {table}")).map_err(sql)?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(sql)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(sql)?;
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
        Ok(SqliteStore::new(path, writer, Some(vec![reader])))
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
        configure(&writer).map_err(|e| open_error(&path, e))?;
        writer.pragma_update(None, "foreign_keys", true).map_err(|e| open_error(&path, e))?;
        apply_migrations(&mut writer, &path)?;
        Ok(SqliteStore::new(path, writer, None))
    }

    fn new(path: PathBuf, writer: Connection, readers: Option<Vec<Connection>>) -> SqliteStore {
        let inner =
            Inner { path, writer: Mutex::new(writer), readers: readers.map(Mutex::new), batches: AtomicU64::new(0) };
        SqliteStore { inner: Arc::new(inner) }
    }

    /// The database file (`:memory:` for an in-memory database).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Batches run so far: one transaction per storage call (an update's
    /// claim rides in its first call's batch).
    pub fn batches(&self) -> u64 {
        self.inner.batches.load(Ordering::Relaxed)
    }

    /// Runs `statements`, the batch of use case `function`, with `request`
    /// (and `claim`) and decodes its answer.
    async fn call(
        &self,
        function: &'static str,
        statements: Vec<&'static str>,
        request: String,
        claim: String,
    ) -> StoreResult<Value> {
        let read_only = claim.is_empty() && d1::is_read_only(function);
        let outcome = self
            .blocking(move |inner| {
                inner.batches.fetch_add(1, Ordering::Relaxed);
                let run = |c: &Connection| run_batch(c, &statements, &request, &claim);
                if read_only { inner.read(function, run) } else { inner.write(function, run) }
            })
            .await?;
        d1::decode(function, outcome)
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

/// Runs the statements of a batch in order on `c` (inside the caller's
/// transaction), binding the request and the claim where a statement takes
/// them, and returns the row of the last one.
fn run_batch(c: &Connection, statements: &[&str], request: &str, claim: &str) -> rusqlite::Result<Option<Outcome>> {
    let Some((last, body)) = statements.split_last() else {
        return Ok(None);
    };
    let args = [request, claim];
    for statement in body {
        c.prepare_cached(statement)?.execute(params_from_iter(&args[..d1::bindings(statement)]))?;
    }
    c.prepare_cached(last)?
        .query_row(params_from_iter(&args[..d1::bindings(last)]), |r| {
            Ok(Outcome { answer: r.get(0)?, fault: r.get(1)? })
        })
        .optional()
}

impl Inner {
    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer connection.
    fn write<T>(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        // A panic while the lock was held cannot have left a transaction open
        // (dropping rusqlite's `Transaction` rolls back), but check anyway.
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let result = (|| {
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")?;
            }
            // Dropping `tx` on an error rolls back; a failed rollback leaves nothing applied either.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        })();
        result.map_err(|e| sql_error(what, e))
    }

    /// Runs `f` in a read transaction on a read connection.
    fn read<T>(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let Some(pool) = &self.readers else {
            return self.write(what, f);
        };
        let idle = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = (|| {
            let tx = conn.transaction()?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        })();
        if conn.is_autocommit() {
            let mut idle = pool.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result.map_err(|e| sql_error(what, e))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl RpcBackend for SqliteStore {
    async fn call_function(&self, function: &'static str, request: String) -> StoreResult<Value> {
        self.call(function, d1::batch(function)?, request, String::new()).await
    }

    async fn call_function_claimed(&self, claim: &UpdateClaim, func: &'static str, req: String) -> StoreResult<Value> {
        let claim = rpc::encode_claim(func, claim)?;
        self.call(func, d1::claimed_batch(func)?, req, claim).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_cache_holds_every_statement() {
        let mut statements = std::collections::HashSet::new();
        for function in d1::use_cases() {
            statements.extend(d1::claimed_batch(function).unwrap());
        }
        assert!(statements.len() <= STATEMENT_CACHE, "{} statements", statements.len());
    }
}
