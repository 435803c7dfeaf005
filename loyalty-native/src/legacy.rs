//! `loyalty import legacy`: bringing the Python program's customers, partners
//! and history over from its Supabase tables (and, in [`export`], `loyalty
//! export legacy`: the way back).
//!
//! Three steps, each usable on its own:
//!
//! 1. **Read** the legacy tables into a [`Snapshot`] of row objects: from a
//!    `backup_database.py` JSON file ([`Snapshot::from_backup_file`]), from its
//!    PostgreSQL database ([`read_postgres`], feature `postgres`) or from its
//!    Supabase Data API ([`read_supabase`]). Only the columns a deployment has
//!    are read; the import needs `users.chat_id`, `users.balance`,
//!    `partners.chat_id` and the transactions' two chat ids and points.
//! 2. **Plan** ([`plan`]): check every row, skip the bad ones (each with its
//!    table, row number and reason) and turn the rest into
//!    [`ImportBatch`]es of whole customers, each with all of its history.
//! 3. **Apply** ([`apply`]) the batches with [`Storage::import_batch`], then
//!    reconcile: the legacy balances against ours, customer by customer
//!    ([`Report`]).
//!
//! [`import`] does all of it against a store already open, as the tests do;
//! the `loyalty` binary goes through
//! [`runtime::import_legacy`](crate::runtime::import_legacy), which opens the
//! configured store only when something is to be written.
//!
//! A run can be repeated: the store remembers what it imported, so a second
//! run changes nothing and a later one brings only what changed in the legacy
//! program (new customers, balance changes, new transactions).
//!
//! ```
//! use loyalty_core::stores::memory::MemoryStore;
//! use loyalty_native::clock::OsRandom;
//! use loyalty_native::legacy::{self, NoProgress, Options, Snapshot};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let backup = r#"{"timestamp": "20251115_165410", "tables": {
//!     "users": {"table": "users", "count": 1, "data": [{"chat_id": "406631153", "name": "Anna", "balance": 80}]},
//!     "partners": {"table": "partners", "count": 0, "data": []},
//!     "transactions": {"table": "transactions", "count": 0, "data": []}}}"#;
//! let snapshot = Snapshot::from_backup_json(backup, "example backup")?;
//! let store = MemoryStore::new();
//! let options = Options { now: loyalty_core::domain::Timestamp(1_795_000_000), ..Options::default() };
//! let report = legacy::import(&store, &snapshot, &options, &OsRandom, &mut NoProgress).await?;
//! assert_eq!((report.legacy_total, report.ours_total), (80, Some(80)));
//! assert!(report.mismatches.is_empty());
//! # Ok::<(), legacy::LegacyError>(())
//! # }).unwrap();
//! ```

pub mod export;

use indicatif::{ProgressBar, ProgressStyle};
use loyalty_core::Secret;
use loyalty_core::domain::{CustomerCode, Language, PartnerStatus, PartnerTerms, Points, TelegramUserId, Timestamp};
use loyalty_core::ports::{
    ImportApplied, ImportBatch, ImportedCustomer, ImportedEntry, ImportedPartner, Randomness, Rejection, Storage,
    StoreError,
};
use loyalty_core::stores::{d1, rpc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::time::Duration;

/// One legacy row: column name → value, as the JSON of a backup or of
/// PostgreSQL's `to_jsonb` has it.
pub type Row = serde_json::Map<String, Value>;

/// The namespace of the imported customers and entries in our store
/// ([`ImportBatch::source`]).
pub const SOURCE: &str = "legacy";

/// Customers per [`ImportBatch`] unless [`Options::batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// Rows per request to the Supabase Data API unless [`SupabaseSource::page_size`]
/// says otherwise (Supabase's default most rows per answer).
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// The legacy tables the import reads, in the order it reads them.
pub const TABLES: [&str; 5] = ["users", "partners", "partner_applications", "transactions", "services"];

/// The tables without which there is nothing to import.
const REQUIRED_TABLES: [&str; 3] = ["users", "partners", "transactions"];

/// The columns the import uses, per table: only these are read from a
/// database, and only those that exist.
fn wanted_columns(table: &str) -> &'static [&'static str] {
    match table {
        "users" => &[
            "id",
            "chat_id",
            "name",
            "username",
            "balance",
            "lang_code",
            "reg_date",
            "referral_code",
            "referral_source",
            "referred_by_chat_id",
            "birthday",
        ],
        "partners" => {
            &["id", "chat_id", "name", "company_name", "business_type", "is_active", "created_at", "lang_code"]
        }
        "partner_applications" => {
            &["id", "chat_id", "name", "company_name", "business_type", "status", "created_at", "lang_code"]
        }
        "transactions" => &[
            "id",
            "client_chat_id",
            "partner_chat_id",
            "date_time",
            "total_amount",
            "earned_points",
            "spent_points",
            "operation_type",
            "description",
        ],
        "services" => &["id", "partner_chat_id", "title", "price_points", "is_active", "approval_status"],
        _ => &[],
    }
}

/// The columns a table must have when it has rows.
fn required_columns(table: &str) -> &'static [&'static str] {
    match table {
        "users" => &["chat_id", "balance"],
        "partners" => &["chat_id"],
        "transactions" => &["client_chat_id", "partner_chat_id", "earned_points", "spent_points"],
        _ => &[],
    }
}

/// The column a table's rows are read in order of (Supabase's `order=`).
fn order_column(table: &str) -> &'static str {
    match table {
        "transactions" | "services" => "id",
        _ => "chat_id",
    }
}

// ---------------------------------------------------------------------------
// Errors

/// Why an import could not run. Bad rows are not errors: they are skipped and
/// reported (or, with [`Options::strict`], refuse the run in the [`Report`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyError {
    /// The backup file cannot be read.
    #[error("cannot read the backup {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The backup (or an answer of the Data API) is not valid JSON.
    #[error("{what} is not valid JSON: {source}")]
    Json {
        /// What was being read.
        what: String,
        /// Where and why parsing stopped (line and column).
        source: serde_json::Error,
    },
    /// The data is not shaped like the legacy program's: a table or a column
    /// the import needs is missing, or the backup is not `backup_database.py`'s.
    #[error("{0}")]
    Format(String),
    /// The command is configured wrongly: a missing key, a bad URL, a source
    /// this build lacks.
    #[error("{0}")]
    Config(String),
    /// The legacy database or the Data API could not be read.
    #[error("{0}")]
    Source(String),
    /// Our store failed while an export read it.
    #[error("reading the store failed: {0}")]
    OurStore(StoreError),
    /// The legacy database could not be read or written by an export
    /// (nothing is written then: the export is one transaction).
    #[error("{0}")]
    Target(String),
    /// Our store refused or failed a batch; the batches before it are in.
    #[error("storage failed on batch {batch} of {batches}: {error} (the batches before it are imported; run again)")]
    Store {
        /// The batch, from 1.
        batch: usize,
        /// How many batches there were.
        batches: usize,
        /// What the store said.
        error: StoreError,
    },
}

// ---------------------------------------------------------------------------
// Progress

/// Hears how far an import got: rows read, batches applied.
pub trait Progress: Send {
    /// `rows` rows of `table` read so far.
    fn read(&mut self, table: &str, rows: usize);
    /// The batches are about to be sent: `batches` of them, `customers` in all.
    fn sending(&mut self, batches: usize, customers: usize);
    /// Batch `batch` (from 1) applied, with `customers` customers.
    fn applied(&mut self, batch: usize, customers: usize);
    /// The step under way (reading, or applying) is over: stop showing it.
    fn finish(&mut self);
    /// An export has written `rows` rows of the legacy `table` so far.
    fn writing(&mut self, table: &str, rows: usize) {
        let _ = (table, rows);
    }
}

/// A [`Progress`] that tells nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn read(&mut self, _: &str, _: usize) {}
    fn sending(&mut self, _: usize, _: usize) {}
    fn applied(&mut self, _: usize, _: usize) {}
    fn finish(&mut self) {}
}

/// Progress on stderr: a progress bar on a terminal, plain lines otherwise
/// (a log file, CI).
#[derive(Debug)]
pub struct StderrProgress {
    bar: Option<ProgressBar>,
    terminal: bool,
    batches: usize,
    table: String,
}

impl StderrProgress {
    /// A bar when stderr is a terminal, lines when it is not.
    pub fn new() -> StderrProgress {
        StderrProgress::with_terminal(std::io::stderr().is_terminal())
    }

    /// A bar (`terminal`) or lines, whatever stderr is.
    pub fn with_terminal(terminal: bool) -> StderrProgress {
        StderrProgress { bar: None, terminal, batches: 0, table: String::new() }
    }

    fn line(text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    fn close_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for StderrProgress {
    fn drop(&mut self) {
        self.close_bar();
    }
}

impl Default for StderrProgress {
    fn default() -> Self {
        StderrProgress::new()
    }
}

impl Progress for StderrProgress {
    fn read(&mut self, table: &str, rows: usize) {
        if self.terminal {
            if self.table != table {
                self.close_bar();
                let bar = ProgressBar::new_spinner();
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(bar);
                self.table = table.to_owned();
            }
            if let Some(bar) = &self.bar {
                bar.set_message(if rows == 0 {
                    format!("reading {table}…")
                } else {
                    format!("reading {table}: {rows} rows")
                });
            }
        } else if self.table != table {
            Self::line(&format!("reading {table}…"));
            self.table = table.to_owned();
        } else if rows > 0 && rows.is_multiple_of(10_000) {
            Self::line(&format!("reading {table}… {rows} rows"));
        }
    }

    fn sending(&mut self, batches: usize, customers: usize) {
        self.batches = batches;
        if self.terminal {
            self.close_bar();
            let bar = ProgressBar::new(customers as u64);
            if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} customers ({eta})") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(format!("importing: batch 0/{batches}"));
            self.bar = Some(bar);
        } else {
            Self::line(&format!("importing {customers} customers in {batches} batches"));
        }
    }

    fn applied(&mut self, batch: usize, customers: usize) {
        match &self.bar {
            Some(bar) if self.terminal => {
                bar.set_position(customers as u64);
                bar.set_message(format!("importing: batch {batch}/{}", self.batches));
            }
            _ => Self::line(&format!("batch {batch}/{} applied ({customers} customers so far)", self.batches)),
        }
    }

    fn finish(&mut self) {
        self.close_bar();
    }

    fn writing(&mut self, table: &str, rows: usize) {
        if self.terminal {
            if self.table != table || self.bar.is_none() {
                self.close_bar();
                let bar = ProgressBar::new_spinner();
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(bar);
                self.table = table.to_owned();
            }
            if let Some(bar) = &self.bar {
                bar.set_message(format!("writing {table}: {rows} rows"));
            }
        } else {
            Self::line(&format!("writing {table}… {rows} rows"));
            self.table = table.to_owned();
        }
    }
}

// ---------------------------------------------------------------------------
// Reading

/// The legacy tables as read: rows of each table present in the source, in
/// the source's order (row numbers in reports count from 1 in this order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Table name → its rows; a table the source lacks has no key.
    pub tables: BTreeMap<String, Vec<Row>>,
}

impl Snapshot {
    /// The rows of `table`, or `None` if the source lacks it.
    pub fn table(&self, table: &str) -> Option<&[Row]> {
        self.tables.get(table).map(Vec::as_slice)
    }

    /// Reads `backup_database.py`'s JSON:
    /// `{"timestamp", "datetime", "tables": {"<table>": {"table", "count", "data": [rows…]}}}`.
    /// `what` names the input in errors.
    ///
    /// # Errors
    /// [`LegacyError::Json`] for broken JSON (with line and column);
    /// [`LegacyError::Format`] when it is not shaped like a backup, when a
    /// table the import needs holds the `error` the backup met instead of its
    /// rows, or when a needed table or column is missing.
    pub fn from_backup_json(json: &str, what: &str) -> Result<Snapshot, LegacyError> {
        let value: Value =
            serde_json::from_str(json).map_err(|source| LegacyError::Json { what: what.to_owned(), source })?;
        let Some(tables) = value.get("tables").and_then(Value::as_object) else {
            return Err(LegacyError::Format(format!(
                "{what} is not a backup of the legacy program: no \"tables\" object \
                 (expected backup_database.py's {{\"timestamp\", \"tables\": {{\"users\": {{\"data\": […]}}, …}}}})"
            )));
        };
        let mut snapshot = Snapshot::default();
        for &table in &TABLES {
            let Some(entry) = tables.get(table) else { continue };
            if let Some(error) = entry.get("error").filter(|e| !e.is_null()) {
                return Err(LegacyError::Format(format!(
                    "{what}: the backup could not read table {table} ({}); make a new backup",
                    display_value(Some(error))
                )));
            }
            let Some(data) = entry.get("data").and_then(Value::as_array) else {
                return Err(LegacyError::Format(format!("{what}: table {table} has no \"data\" array")));
            };
            let mut rows = Vec::with_capacity(data.len());
            for (i, row) in data.iter().enumerate() {
                let Some(row) = row.as_object() else {
                    return Err(LegacyError::Format(format!("{what}: {table} row {} is not an object", i + 1)));
                };
                rows.push(keep_wanted(table, row.clone()));
            }
            snapshot.tables.insert(table.to_owned(), rows);
        }
        snapshot.check_shape(what)?;
        Ok(snapshot)
    }

    /// Reads a backup file ([`Snapshot::from_backup_json`]).
    ///
    /// # Errors
    /// [`LegacyError::Io`] when the file cannot be read; as
    /// [`Snapshot::from_backup_json`] otherwise.
    pub fn from_backup_file(path: &Path) -> Result<Snapshot, LegacyError> {
        let shown = path.display().to_string();
        let json = std::fs::read_to_string(path).map_err(|source| LegacyError::Io { path: shown.clone(), source })?;
        Snapshot::from_backup_json(&json, &format!("the backup {shown}"))
    }

    /// Checks that the tables and columns the import needs are there.
    ///
    /// # Errors
    /// [`LegacyError::Format`] naming the first missing table or column.
    pub fn check_shape(&self, what: &str) -> Result<(), LegacyError> {
        for table in REQUIRED_TABLES {
            if !self.tables.contains_key(table) {
                return Err(LegacyError::Format(format!("{what} has no table {table}, which the import needs")));
            }
        }
        for (table, rows) in &self.tables {
            if rows.is_empty() {
                continue;
            }
            for column in required_columns(table) {
                if !rows.iter().any(|r| r.contains_key(*column)) {
                    return Err(LegacyError::Format(format!(
                        "{what}: table {table} has no column {column}, which the import needs"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `row` without the columns the import does not use (phones, e-mails…).
fn keep_wanted(table: &str, mut row: Row) -> Row {
    let wanted = wanted_columns(table);
    row.retain(|k, _| wanted.contains(&k.as_str()));
    row
}

/// Where `loyalty import legacy` reads from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Source {
    /// A `backup_database.py` JSON file (`--from-backup`).
    Backup(std::path::PathBuf),
    /// The legacy PostgreSQL database (`--from-postgres`; feature `postgres`).
    Postgres(Secret),
    /// The legacy Supabase project's Data API (`--from-supabase`).
    Supabase(SupabaseSource),
}

impl Source {
    /// Reads the snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::from_backup_file`], [`read_postgres`] and
    /// [`read_supabase`]; [`LegacyError::Config`] for PostgreSQL in a build
    /// without the `postgres` feature.
    pub async fn read(&self, progress: &mut dyn Progress) -> Result<Snapshot, LegacyError> {
        match self {
            Source::Backup(path) => {
                progress.read("backup", 0);
                Snapshot::from_backup_file(path)
            }
            #[cfg(feature = "postgres")]
            Source::Postgres(url) => read_postgres(url.expose(), progress).await,
            #[cfg(not(feature = "postgres"))]
            Source::Postgres(_) => Err(LegacyError::Config(
                "--from-postgres needs the `postgres` feature, which this build of loyalty lacks; rebuild it with \
                 `--features postgres`, or use --from-supabase or --from-backup"
                    .into(),
            )),
            Source::Supabase(s) => read_supabase(s, progress).await,
        }
    }

    /// A short description for the report (never a password or key).
    pub fn describe(&self) -> String {
        match self {
            Source::Backup(path) => format!("backup {}", path.display()),
            Source::Postgres(_) => "legacy PostgreSQL database (--from-postgres)".into(),
            Source::Supabase(s) => format!("Supabase Data API at {}", s.url),
        }
    }
}

/// Double-quotes an SQL identifier.
#[cfg(feature = "postgres")]
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads the legacy tables from their PostgreSQL database (`url`, plain TCP
/// like [`store::postgres`](crate::store::postgres)): the tables of the
/// connection's current schema (`public` unless the URL's `options` set a
/// `search_path`), only the columns the import uses and the table has, each
/// row as `to_jsonb`.
///
/// # Errors
/// [`LegacyError::Source`] when the database cannot be reached or read;
/// [`LegacyError::Format`] when a needed table or column is missing.
#[cfg(feature = "postgres")]
pub async fn read_postgres(url: &str, progress: &mut dyn Progress) -> Result<Snapshot, LegacyError> {
    use futures::TryStreamExt;
    let secret = Secret::new(url);
    let failed = |e: tokio_postgres::Error| {
        LegacyError::Source(secret.redact(&format!("the legacy PostgreSQL database (--from-postgres): {e}")))
    };
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(failed)?;
    let driver = tokio::spawn(connection);
    let mut snapshot = Snapshot::default();
    for table in TABLES {
        let columns: Vec<String> = client
            .query(
                "select column_name::text from information_schema.columns \
                 where table_schema = current_schema() and table_name = $1 order by ordinal_position",
                &[&table],
            )
            .await
            .map_err(failed)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if columns.is_empty() {
            continue;
        }
        let selected: Vec<String> = wanted_columns(table)
            .iter()
            .filter(|c| columns.iter().any(|have| have == *c))
            .map(|c| quote_ident(c))
            .collect();
        let order = order_column(table);
        let order =
            if columns.iter().any(|c| c == order) { format!(" order by {}", quote_ident(order)) } else { "".into() };
        let sql = if selected.is_empty() {
            format!("select '{{}}'::text from {}", quote_ident(table))
        } else {
            format!(
                "select to_jsonb(t)::text from (select {} from {}{order}) t",
                selected.join(", "),
                quote_ident(table)
            )
        };
        let params: [&str; 0] = [];
        let stream = client.query_raw(sql.as_str(), params).await.map_err(failed)?;
        futures::pin_mut!(stream);
        let mut rows = Vec::new();
        progress.read(table, 0);
        while let Some(row) = stream.try_next().await.map_err(failed)? {
            let text: String = row.get(0);
            let value: Row = serde_json::from_str(&text)
                .map_err(|source| LegacyError::Json { what: format!("a {table} row from PostgreSQL"), source })?;
            rows.push(value);
            if rows.len().is_multiple_of(1000) {
                progress.read(table, rows.len());
            }
        }
        progress.read(table, rows.len());
        snapshot.tables.insert(table.to_owned(), rows);
    }
    drop(client);
    let _ = driver.await;
    snapshot.check_shape("the legacy PostgreSQL database")?;
    Ok(snapshot)
}

/// The legacy Supabase project's Data API (PostgREST).
#[derive(Debug, Clone)]
pub struct SupabaseSource {
    /// The project URL (`https://<ref>.supabase.co`); the tables are read at
    /// `<url>/rest/v1/<table>`. A URL already ending in `/rest/v1` is used as it is.
    pub url: String,
    /// A key that may read the tables (the service role key), sent as
    /// `apikey` and `Authorization: Bearer`.
    pub key: Secret,
    /// Rows per request ([`DEFAULT_PAGE_SIZE`]).
    pub page_size: usize,
}

impl SupabaseSource {
    /// The project at `url` with `key`, [`DEFAULT_PAGE_SIZE`] rows per request.
    pub fn new(url: impl Into<String>, key: Secret) -> SupabaseSource {
        SupabaseSource { url: url.into(), key, page_size: DEFAULT_PAGE_SIZE }
    }

    fn rest_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with("/rest/v1") { base.to_owned() } else { format!("{base}/rest/v1") }
    }
}

/// Reads the legacy tables over Supabase's Data API:
/// `GET <url>/rest/v1/<table>?select=*&order=<key>&limit=<page>&offset=<n>`,
/// page after page until a short one (or, when the server tells the total
/// with `Prefer: count=exact`, until all are read). A table the API does not
/// know (404) is absent.
///
/// # Errors
/// [`LegacyError::Config`] for an unusable URL; [`LegacyError::Source`] when
/// the API cannot be reached or refuses (the key is never in the message);
/// [`LegacyError::Format`] when a needed table or column is missing.
pub async fn read_supabase(source: &SupabaseSource, progress: &mut dyn Progress) -> Result<Snapshot, LegacyError> {
    let key = &source.key;
    if !(source.url.starts_with("https://") || source.url.starts_with("http://")) {
        return Err(LegacyError::Config(format!(
            "--from-supabase {}: expected the project's URL, https://<project>.supabase.co",
            source.url
        )));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| LegacyError::Source(format!("cannot set up the HTTP client: {e}")))?;
    let rest = source.rest_url();
    let page_size = source.page_size.max(1);
    let failed = |table: &str, e: &dyn fmt::Display| {
        LegacyError::Source(key.redact(&format!("the Supabase Data API (--from-supabase), table {table}: {e}")))
    };
    let mut snapshot = Snapshot::default();
    'tables: for table in TABLES {
        let mut rows: Vec<Row> = Vec::new();
        progress.read(table, 0);
        loop {
            let (limit, offset) = (page_size.to_string(), rows.len().to_string());
            let answer = http
                .get(format!("{rest}/{table}"))
                .query(&[("select", "*"), ("order", order_column(table)), ("limit", &limit), ("offset", &offset)])
                .header("apikey", key.expose())
                .bearer_auth(key.expose())
                .header("Prefer", "count=exact")
                .send()
                .await
                .map_err(|e| failed(table, &e))?;
            let status = answer.status();
            if status == reqwest::StatusCode::NOT_FOUND && rows.is_empty() {
                continue 'tables;
            }
            let total = answer
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit('/').next())
                .and_then(|t| t.parse::<usize>().ok());
            let body = answer.text().await.map_err(|e| failed(table, &e))?;
            if !status.is_success() {
                let body: String = body.chars().take(300).collect();
                return Err(failed(table, &format!("answered {status}: {body}")));
            }
            let page: Vec<Row> = serde_json::from_str(&body)
                .map_err(|source| LegacyError::Json { what: format!("the Data API's page of {table}"), source })?;
            let n = page.len();
            rows.extend(page.into_iter().map(|r| keep_wanted(table, r)));
            progress.read(table, rows.len());
            let more = match total {
                Some(total) => n > 0 && rows.len() < total,
                None => n == page_size,
            };
            if !more {
                break;
            }
        }
        snapshot.tables.insert(table.to_owned(), rows);
    }
    snapshot.check_shape("the Supabase Data API")?;
    Ok(snapshot)
}

// ---------------------------------------------------------------------------
// Values

/// A value as a report shows it: strings as they are, `null`, `missing`.
fn display_value(v: Option<&Value>) -> String {
    match v {
        None => "missing".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(v) => v.to_string(),
    }
}

/// An id as a report shows it: as the source wrote it, unquoted.
fn shown_id(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        v => display_value(v),
    }
}

/// Text: trimmed strings (empty is none) and numbers.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A Telegram chat id: a positive integer, as a number or as text.
fn chat_id(v: Option<&Value>) -> Option<TelegramUserId> {
    let id = match v? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    (id > 0).then_some(TelegramUserId(id))
}

/// An integer: a number without a fraction, or such text; `Ok(None)` for
/// null or a missing column.
fn integer(v: Option<&Value>) -> Result<Option<i64>, ()> {
    let whole = |f: f64| if f.fract() == 0.0 && f.abs() < 9.0e15 { Ok(Some(f as i64)) } else { Err(()) };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            None => whole(n.as_f64().ok_or(())?),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            match s.parse::<i64>() {
                Ok(i) => Ok(Some(i)),
                Err(_) => whole(s.parse::<f64>().map_err(|_| ())?),
            }
        }
        Some(_) => Err(()),
    }
}

/// A number, rounded to an integer (`total_amount`); `Ok(None)` for null.
fn rounded(v: Option<&Value>) -> Result<Option<i64>, ()> {
    let f = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().ok_or(())?,
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| ())?,
        Some(_) => return Err(()),
    };
    if f.is_finite() && f.abs() <= ImportBatch::MAX_POINTS as f64 { Ok(Some(f.round() as i64)) } else { Err(()) }
}

/// A timestamp; `Ok(None)` for null, a missing column or empty text.
fn timestamp(v: Option<&Value>) -> Result<Option<Timestamp>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_timestamp(s).map(Some).ok_or(()),
        Some(_) => Err(()),
    }
}

/// A boolean (`is_active`): JSON booleans, and `true`/`false`/`t`/`f`/`1`/`0` as text.
fn boolean(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => Some(true),
            "false" | "f" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A valid date at the start of `s` (`YYYY-MM-DD`), as midnight UTC.
fn parse_date(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 10 || !b[..10].is_ascii() || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r.clone()].iter().all(u8::is_ascii_digit).then(|| s[r].parse().ok()).flatten()
    };
    Timestamp::from_utc_date(i64::from(digits(0..4)?), digits(5..7)?, digits(8..10)?)
}

/// Parses the legacy program's timestamps: `YYYY-MM-DD`, optionally followed
/// by `T` or a space and `HH:MM[:SS[.fraction]]`, optionally followed by `Z`
/// or an offset `±HH[:MM]`; without an offset the time is taken as UTC.
///
/// ```
/// use loyalty_native::legacy::parse_timestamp;
///
/// let t = parse_timestamp("2025-10-20T22:34:13.952359+00:00").unwrap();
/// assert_eq!(t.utc_minutes(), "2025-10-20 22:34");
/// assert_eq!(parse_timestamp("2025-10-21 01:34:13+03"), Some(t));
/// assert_eq!(parse_timestamp("2025-11-15").unwrap().utc_minutes(), "2025-11-15 00:00");
/// assert_eq!(parse_timestamp("15.11.2025"), None);
/// ```
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if !s.is_ascii() {
        return None;
    }
    let day = parse_date(s)?;
    let two = |t: &str| -> Option<i64> {
        (t.len() >= 2 && t.as_bytes()[..2].iter().all(u8::is_ascii_digit)).then(|| t[..2].parse().ok()).flatten()
    };
    let mut rest = &s[10..];
    let mut secs = 0;
    if let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t')).or_else(|| rest.strip_prefix(' ')) {
        let (hh, mm) = (two(time)?, two(time.get(3..)?)?);
        if time.as_bytes().get(2) != Some(&b':') || hh > 23 || mm > 59 {
            return None;
        }
        secs = hh * 3600 + mm * 60;
        rest = &time[5..];
        if let Some(after) = rest.strip_prefix(':') {
            let ss = two(after)?;
            if ss > 60 {
                return None;
            }
            secs += ss.min(59);
            rest = &after[2..];
            if let Some(fraction) = rest.strip_prefix('.') {
                let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 {
                    return None;
                }
                rest = &fraction[n..];
            }
        }
    }
    let rest = rest.trim_start();
    let offset = match rest.as_bytes().first() {
        None => 0,
        Some(b'Z' | b'z') if rest.len() == 1 => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let body = &rest[1..];
            let hh = two(body)?;
            let mm = match &body[2..] {
                "" => 0,
                tail => two(tail.strip_prefix(':').unwrap_or(tail)).filter(|_| tail.len() <= 3)?,
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            let offset = hh * 3600 + mm * 60;
            if sign == b'-' { -offset } else { offset }
        }
        Some(_) => return None,
    };
    Some(Timestamp(day.0 + secs - offset))
}

/// The bots' language for a legacy `lang_code`: `ru`, `en` or `vi` by the
/// tag's first part (`ru-RU` is Russian), anything else English.
///
/// ```
/// use loyalty_core::domain::Language;
/// use loyalty_native::legacy::language;
///
/// assert_eq!(language(Some("ru-RU")), Language::Ru);
/// assert_eq!(language(Some("vi")), Language::Vi);
/// assert_eq!(language(Some("de")), Language::En);
/// assert_eq!(language(None), Language::En);
/// ```
pub fn language(code: Option<&str>) -> Language {
    let primary = code.unwrap_or("").trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    Language::parse(&primary).unwrap_or(Language::En)
}

/// `s` cut to `max` characters.
fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A fresh random customer code.
fn random_code(random: &dyn Randomness) -> CustomerCode {
    let mut bytes = [0u8; 5];
    random.fill(&mut bytes);
    CustomerCode::from_random(bytes)
}

// ---------------------------------------------------------------------------
// The report

/// A row the import skipped or imported with a warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowNote {
    /// The row's number in its table as read, from 1.
    pub row: usize,
    /// The row's id in the legacy table (its chat id, or the transaction id),
    /// as the source wrote it.
    pub id: String,
    /// Why.
    pub reason: String,
    /// A bad row (wrong data, which `--strict` refuses), rather than one left
    /// out by design (services: no rewards catalogue yet).
    pub bad: bool,
}

/// What became of one legacy table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// The table.
    pub table: String,
    /// Whether the source has it (an absent optional table reads as empty).
    pub present: bool,
    /// Rows read.
    pub read: usize,
    /// Rows sent to the store (`read = imported + skipped`).
    pub imported: usize,
    /// Rows not sent, each with its reason.
    pub skipped: Vec<RowNote>,
    /// Rows sent with part of their data left out (a bad birthday, an unknown
    /// referral code).
    pub warnings: Vec<RowNote>,
}

impl TableReport {
    fn new(table: &str, rows: Option<&[Row]>) -> TableReport {
        TableReport {
            table: table.to_owned(),
            present: rows.is_some(),
            read: rows.map_or(0, <[Row]>::len),
            imported: 0,
            skipped: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn bad(&mut self, row: usize, id: String, reason: String) {
        self.skipped.push(RowNote { row, id, reason, bad: true });
    }

    fn left_out(&mut self, row: usize, id: String, reason: String) {
        self.skipped.push(RowNote { row, id, reason, bad: false });
    }

    fn warn(&mut self, row: usize, id: String, reason: String) {
        self.warnings.push(RowNote { row, id, reason, bad: false });
    }

    /// The bad rows among the skipped ones.
    pub fn bad_rows(&self) -> usize {
        self.skipped.iter().filter(|n| n.bad).count()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `--dry-run`: planned, nothing written.
    DryRun,
    /// `--strict` and bad rows: nothing written.
    Refused,
    /// The batches were applied.
    Imported,
    /// `--d1-sql`: the batches were written as a SQL file for D1 ([`d1_sql`]);
    /// nothing written to a store.
    D1Sql,
}

/// What the batches carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Batches.
    pub batches: usize,
    /// Partners (every status).
    pub partners: usize,
    /// Customers.
    pub customers: usize,
    /// History entries.
    pub history: usize,
}

/// What the store did, added up over the batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AppliedSummary {
    /// Partners created.
    pub partners_created: u64,
    /// Customers created.
    pub customers_created: u64,
    /// Customers whose balance changed (imported before, legacy balance changed since).
    pub balances_changed: u64,
    /// History entries created.
    pub history_created: u64,
}

/// Why a customer's balance here is not the legacy one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MismatchReason {
    /// The legacy balance changed by `change`, which would have made ours negative.
    Refused {
        /// The change asked for.
        change: Points,
    },
    /// The customer signed up here before being imported: left alone.
    NotImported,
    /// Imported before; the balance here moved since (points earned or spent
    /// here after the switch).
    Differs,
}

/// A customer whose balance here differs from the legacy one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The customer.
    pub telegram_id: TelegramUserId,
    /// The legacy balance.
    pub legacy: Points,
    /// The balance here.
    pub ours: Points,
    /// Why they differ.
    pub reason: MismatchReason,
}

/// A legacy customer whose balance is not the sum of their legacy
/// transactions: a fact about the legacy data, not an import problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Inconsistency {
    /// The customer.
    pub telegram_id: TelegramUserId,
    /// The legacy balance (what is imported).
    pub balance: Points,
    /// Earned minus spent over the customer's legacy transactions.
    pub transactions_sum: Points,
    /// How many transactions.
    pub transactions: usize,
}

/// The reconciliation report of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Where the data came from.
    pub source: String,
    /// How the run ended.
    pub outcome: Outcome,
    /// Per table: read, imported, skipped (with reasons), warnings.
    pub tables: Vec<TableReport>,
    /// What the batches carry.
    pub plan: PlanSummary,
    /// What the store did (`None` unless imported).
    pub applied: Option<AppliedSummary>,
    /// The sum of the imported customers' legacy balances.
    pub legacy_total: Points,
    /// The sum of their balances here after the run (`None` unless imported).
    pub ours_total: Option<Points>,
    /// The sum of the (non-negative, numeric) balances of skipped user rows:
    /// legacy points not brought over.
    pub skipped_total: Points,
    /// Customers whose balance here is not the legacy one.
    pub mismatches: Vec<Mismatch>,
    /// Customers whose legacy balance is not the sum of their legacy
    /// transactions (informational).
    pub inconsistent: Vec<Inconsistency>,
    /// The batches as they would be sent (`--dry-run` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches: Option<Vec<ImportBatch>>,
}

impl Report {
    /// Bad rows over every table.
    pub fn bad_rows(&self) -> usize {
        self.tables.iter().map(TableReport::bad_rows).sum()
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// Most bad rows and warnings the text report lists one by one (`--json` lists all).
const LISTED: usize = 50;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            Outcome::DryRun => "dry run: nothing written",
            Outcome::Refused => "refused (--strict, bad rows): nothing written",
            Outcome::Imported => "imported",
            Outcome::D1Sql => "written as SQL for D1: nothing written to a store yet",
        };
        writeln!(f, "Legacy import from {}: {outcome}", self.source)?;
        writeln!(f)?;
        writeln!(f, "{:<22}{:>9}{:>10}{:>9}", "table", "read", "imported", "skipped")?;
        for t in &self.tables {
            if t.present {
                writeln!(f, "{:<22}{:>9}{:>10}{:>9}", t.table, t.read, t.imported, t.skipped.len())?;
            } else {
                writeln!(f, "{:<22}{:>28}", t.table, "not in the source")?;
            }
        }
        let bad: Vec<(&str, &RowNote)> = self
            .tables
            .iter()
            .flat_map(|t| t.skipped.iter().filter(|n| n.bad).map(move |n| (t.table.as_str(), n)))
            .collect();
        if !bad.is_empty() {
            writeln!(f, "\nBad rows, skipped ({}):", bad.len())?;
            for (table, n) in bad.iter().take(LISTED) {
                writeln!(f, "  {table} row {} ({}): {}", n.row, n.id, n.reason)?;
            }
            if bad.len() > LISTED {
                writeln!(f, "  … and {} more (--json lists them all)", bad.len() - LISTED)?;
            }
        }
        let mut left_out: Vec<(&str, &str, Vec<usize>)> = Vec::new();
        for t in &self.tables {
            for n in t.skipped.iter().filter(|n| !n.bad) {
                match left_out.iter_mut().find(|(tb, r, _)| *tb == t.table && *r == n.reason) {
                    Some((_, _, rows)) => rows.push(n.row),
                    None => left_out.push((&t.table, &n.reason, vec![n.row])),
                }
            }
        }
        if !left_out.is_empty() {
            writeln!(f, "\nLeft out by design:")?;
            for (table, reason, rows) in &left_out {
                writeln!(f, "  {table}: {} — {reason} ({})", plural(rows.len(), "row"), row_list(rows))?;
            }
        }
        let warnings: Vec<(&str, &RowNote)> =
            self.tables.iter().flat_map(|t| t.warnings.iter().map(move |n| (t.table.as_str(), n))).collect();
        if !warnings.is_empty() {
            writeln!(f, "\nImported with a warning ({}):", warnings.len())?;
            for (table, n) in warnings.iter().take(LISTED) {
                writeln!(f, "  {table} row {} ({}): {}", n.row, n.id, n.reason)?;
            }
            if warnings.len() > LISTED {
                writeln!(f, "  … and {} more (--json lists them all)", warnings.len() - LISTED)?;
            }
        }
        let p = &self.plan;
        let verb = if self.outcome == Outcome::Imported { "Sent" } else { "To send" };
        writeln!(
            f,
            "\n{verb}: {} with {}, {} and {}",
            plural(p.batches, "batch"),
            plural(p.partners, "partner"),
            plural(p.customers, "customer"),
            plural(p.history, "history entry"),
        )?;
        if let Some(batches) = &self.batches {
            for (i, b) in batches.iter().enumerate() {
                let points: Points = b.customers.iter().map(|c| c.balance).sum();
                let history: usize = b.customers.iter().map(|c| c.history.len()).sum();
                writeln!(
                    f,
                    "  batch {}: {}, {} ({points} points), {}",
                    i + 1,
                    plural(b.partners.len(), "partner"),
                    plural(b.customers.len(), "customer"),
                    plural(history, "history entry"),
                )?;
            }
        }
        if let Some(a) = &self.applied {
            writeln!(
                f,
                "Applied: {} created, {} created, {} changed, {} created",
                plural(a.partners_created as usize, "partner"),
                plural(a.customers_created as usize, "customer"),
                plural(a.balances_changed as usize, "balance"),
                plural(a.history_created as usize, "history entry"),
            )?;
        }
        write!(f, "\nBalances: legacy {} points", self.legacy_total)?;
        if let Some(ours) = self.ours_total {
            write!(f, ", ours {ours} points")?;
        }
        if self.skipped_total != 0 {
            write!(f, " (skipped rows hold {} more legacy points)", self.skipped_total)?;
        }
        writeln!(f)?;
        if self.outcome == Outcome::Imported {
            if self.mismatches.is_empty() {
                writeln!(f, "Mismatches: none, every imported customer's balance here is the legacy one")?;
            } else {
                writeln!(f, "Mismatches ({}):", self.mismatches.len())?;
                for m in &self.mismatches {
                    let why = match m.reason {
                        MismatchReason::Refused { change } => {
                            format!("the legacy change of {change} would make ours negative: refused")
                        }
                        MismatchReason::NotImported => "signed up here before the import: left alone".into(),
                        MismatchReason::Differs => "moved here since it was imported".into(),
                    };
                    writeln!(f, "  {}: legacy {}, ours {} — {why}", m.telegram_id, m.legacy, m.ours)?;
                }
            }
        }
        if !self.inconsistent.is_empty() {
            writeln!(
                f,
                "\nLegacy balance ≠ sum of its legacy transactions ({}; informational, the balance is what counts):",
                self.inconsistent.len()
            )?;
            for i in self.inconsistent.iter().take(LISTED) {
                writeln!(
                    f,
                    "  {}: balance {}, {} sum to {}",
                    i.telegram_id,
                    i.balance,
                    plural(i.transactions, "transaction"),
                    i.transactions_sum
                )?;
            }
            if self.inconsistent.len() > LISTED {
                writeln!(f, "  … and {} more (--json lists them all)", self.inconsistent.len() - LISTED)?;
            }
        }
        Ok(())
    }
}

/// `n thing` / `n things` (`entry` → `entries`, `batch` → `batches`).
fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else if let Some(stem) = thing.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else if thing.ends_with("ch") {
        format!("{n} {thing}es")
    } else {
        format!("{n} {thing}s")
    }
}

/// `rows 1–3, 7` for sorted row numbers (ten ranges at most).
fn row_list(rows: &[usize]) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &r in rows {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == r => *end = r,
            _ => ranges.push((r, r)),
        }
    }
    let mut out = String::from(if rows.len() == 1 { "row " } else { "rows " });
    for (i, (a, b)) in ranges.iter().take(10).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if a == b {
            let _ = write!(out, "{a}");
        } else {
            let _ = write!(out, "{a}–{b}");
        }
    }
    if ranges.len() > 10 {
        out.push_str(", …");
    }
    out
}

// ---------------------------------------------------------------------------
// Planning

/// How to run an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Refuse the whole run, before writing anything, if any row is bad.
    pub strict: bool,
    /// Read and plan only: write nothing.
    pub dry_run: bool,
    /// Customers per batch ([`DEFAULT_BATCH_SIZE`]).
    pub batch_size: usize,
    /// The time of the run: of the balance entries, and the sign-up date of
    /// customers and partners the legacy program has none for.
    pub now: Timestamp,
}

impl Default for Options {
    fn default() -> Self {
        Options { strict: false, dry_run: false, batch_size: DEFAULT_BATCH_SIZE, now: Timestamp(0) }
    }
}

/// The batches to send and what planning found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The batches, in order: all partners ride in the first; a customer's
    /// referrer comes in the same batch or an earlier one.
    pub batches: Vec<ImportBatch>,
    /// Per table: read, imported, skipped, warnings.
    pub tables: Vec<TableReport>,
    /// Legacy balance ≠ sum of transactions.
    pub inconsistent: Vec<Inconsistency>,
    /// Balances of skipped user rows.
    pub skipped_total: Points,
}

impl Plan {
    /// Bad rows over every table.
    pub fn bad_rows(&self) -> usize {
        self.tables.iter().map(TableReport::bad_rows).sum()
    }

    /// What the batches carry.
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            batches: self.batches.len(),
            partners: self.batches.iter().map(|b| b.partners.len()).sum(),
            customers: self.batches.iter().map(|b| b.customers.len()).sum(),
            history: self.batches.iter().flat_map(|b| &b.customers).map(|c| c.history.len()).sum(),
        }
    }

    /// The sum of the legacy balances sent.
    pub fn legacy_total(&self) -> Points {
        self.batches.iter().flat_map(|b| &b.customers).map(|c| c.balance).sum()
    }

    /// The report of a run that wrote nothing ([`Outcome::DryRun`] carries the
    /// batches, [`Outcome::Refused`] does not).
    pub fn unapplied_report(&self, source: &str, outcome: Outcome) -> Report {
        Report {
            source: source.to_owned(),
            outcome,
            tables: self.tables.clone(),
            plan: self.summary(),
            applied: None,
            legacy_total: self.legacy_total(),
            ours_total: None,
            skipped_total: self.skipped_total,
            mismatches: Vec::new(),
            inconsistent: self.inconsistent.clone(),
            batches: (outcome == Outcome::DryRun).then(|| self.batches.clone()),
        }
    }
}

/// A legacy person (partner or application) read from a row.
struct PersonRow {
    id: TelegramUserId,
    name: String,
    category: String,
    created_at: Timestamp,
    lang: Option<String>,
}

/// The rows of `table` about people (partners, applications) with their row
/// number: each valid chat id once, the first row kept; bad and repeated rows
/// go to `report`.
fn people<'a>(
    snapshot: &'a Snapshot,
    table: &str,
    now: Timestamp,
    report: &mut TableReport,
) -> Vec<(usize, &'a Row, PersonRow)> {
    let mut first_row: HashMap<TelegramUserId, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, row) in snapshot.table(table).unwrap_or_default().iter().enumerate() {
        let n = i + 1;
        let raw_id = shown_id(row.get("chat_id"));
        let p = match person_row(row, now) {
            Ok(p) => p,
            Err(reason) => {
                report.bad(n, raw_id, reason);
                continue;
            }
        };
        if let Some(first) = first_row.get(&p.id) {
            report.bad(n, raw_id, format!("duplicate chat id {} (row {first} kept)", p.id));
            continue;
        }
        first_row.insert(p.id, n);
        out.push((n, row, p));
    }
    out
}

/// Checks a `partners` or `partner_applications` row; `Err` is the reason it is bad.
fn person_row(row: &Row, now: Timestamp) -> Result<PersonRow, String> {
    let id = chat_id(row.get("chat_id"))
        .ok_or_else(|| format!("chat id {} is not a positive number", display_value(row.get("chat_id"))))?;
    let created_at = timestamp(row.get("created_at"))
        .map_err(|()| format!("created_at {} is not a timestamp", display_value(row.get("created_at"))))?
        .unwrap_or(now);
    let name =
        text(row.get("company_name")).or_else(|| text(row.get("name"))).unwrap_or_else(|| format!("Partner {id}"));
    let category = text(row.get("business_type")).unwrap_or_else(|| "other".into());
    Ok(PersonRow {
        id,
        name: clip(&name, 256),
        category: clip(&category, 256),
        created_at,
        lang: text(row.get("lang_code")),
    })
}

/// A customer accepted by planning, before batching.
struct Planned {
    customer: ImportedCustomer,
    /// Its row in `users`, from 1.
    row: usize,
}

/// Checks every row and turns the good ones into batches (see the module's
/// documentation for what becomes what). `random` draws each customer's
/// code. Never fails on a bad row: it is skipped and listed in the plan's
/// tables.
///
/// # Errors
/// [`LegacyError::Format`] when the snapshot lacks a needed table or column.
pub fn plan(snapshot: &Snapshot, options: &Options, random: &dyn Randomness) -> Result<Plan, LegacyError> {
    snapshot.check_shape("the legacy data")?;
    let now = options.now;
    let users = snapshot.table("users").unwrap_or_default();
    let mut users_report = TableReport::new("users", snapshot.table("users"));

    // Languages by chat id, for partners whose rows have none.
    let user_lang: HashMap<TelegramUserId, String> =
        users.iter().filter_map(|r| Some((chat_id(r.get("chat_id"))?, text(r.get("lang_code"))?))).collect();

    // --- partners
    let mut partners: Vec<ImportedPartner> = Vec::new();
    let mut partners_report = TableReport::new("partners", snapshot.table("partners"));
    let partner_people = people(snapshot, "partners", now, &mut partners_report);
    let partner_rows: HashMap<TelegramUserId, usize> = partner_people.iter().map(|(n, _, p)| (p.id, *n)).collect();
    let imported = |p: PersonRow, status| {
        let lang = p.lang.as_deref().or(user_lang.get(&p.id).map(String::as_str));
        ImportedPartner {
            telegram_id: p.id,
            name: p.name,
            category: p.category,
            status,
            terms: PartnerTerms::default(),
            language: language(lang),
            created_at: p.created_at,
        }
    };
    for (_, row, p) in partner_people {
        let status = match boolean(row.get("is_active")) {
            Some(false) => PartnerStatus::Suspended,
            _ => PartnerStatus::Approved,
        };
        partners.push(imported(p, status));
        partners_report.imported += 1;
    }

    // --- partner applications
    let mut apps_report = TableReport::new("partner_applications", snapshot.table("partner_applications"));
    for (n, row, p) in people(snapshot, "partner_applications", now, &mut apps_report) {
        let raw_id = shown_id(row.get("chat_id"));
        let raw_status = text(row.get("status")).unwrap_or_else(|| "pending".into()).to_lowercase();
        let status = match raw_status.as_str() {
            "pending" => PartnerStatus::Applied,
            "approved" => PartnerStatus::Approved,
            "rejected" => PartnerStatus::Rejected,
            _ => {
                let shown = display_value(row.get("status"));
                apps_report.bad(n, raw_id, format!("status {shown} is not pending, approved or rejected"));
                continue;
            }
        };
        if let Some(row) = partner_rows.get(&p.id) {
            apps_report.left_out(n, raw_id, format!("already in partners (row {row}): imported from there"));
            continue;
        }
        partners.push(imported(p, status));
        apps_report.imported += 1;
    }
    let known_partners: HashSet<TelegramUserId> = partners.iter().map(|p| p.telegram_id).collect();

    // --- customers
    let mut planned: Vec<Planned> = Vec::new();
    let mut by_id: HashMap<TelegramUserId, usize> = HashMap::new(); // → index in `planned`
    let mut user_rows: HashMap<TelegramUserId, usize> = HashMap::new(); // first row of each id
    let mut skipped_users: HashMap<TelegramUserId, usize> = HashMap::new();
    let mut skipped_total: Points = 0;
    for (i, row) in users.iter().enumerate() {
        let n = i + 1;
        let raw_id = shown_id(row.get("chat_id"));
        let balance = integer(row.get("balance"));
        let mut skip = |report: &mut TableReport, id: Option<TelegramUserId>, reason: String| {
            if let Ok(Some(b)) = balance
                && b > 0
            {
                skipped_total += b;
            }
            if let Some(id) = id {
                skipped_users.entry(id).or_insert(n);
            }
            report.bad(n, raw_id.clone(), reason);
        };
        let Some(id) = chat_id(row.get("chat_id")) else {
            let reason = format!("chat id {} is not a positive number", display_value(row.get("chat_id")));
            skip(&mut users_report, None, reason);
            continue;
        };
        if let Some(first) = user_rows.get(&id) {
            let reason = format!("duplicate chat id {id} (row {first} kept)");
            skip(&mut users_report, None, reason);
            continue;
        }
        user_rows.insert(id, n);
        let balance = match balance {
            Ok(b) => b.unwrap_or(0),
            Err(()) => {
                let reason = format!("balance {} is not an integer", display_value(row.get("balance")));
                skip(&mut users_report, Some(id), reason);
                continue;
            }
        };
        if balance < 0 {
            skip(&mut users_report, Some(id), format!("negative balance {balance}"));
            continue;
        }
        if balance > ImportBatch::MAX_POINTS {
            skip(&mut users_report, Some(id), format!("balance {balance} is out of range"));
            continue;
        }
        let created_at = match timestamp(row.get("reg_date")) {
            Ok(t) => t.unwrap_or(now),
            Err(()) => {
                let reason = format!("reg_date {} is not a timestamp", display_value(row.get("reg_date")));
                skip(&mut users_report, Some(id), reason);
                continue;
            }
        };
        let birthday = match text(row.get("birthday")) {
            None => None,
            Some(b) if parse_date(&b).is_some() => Some(b[..10].to_owned()),
            Some(b) => {
                users_report.warn(n, raw_id.clone(), format!("birthday {b:?} is not a date: left out"));
                None
            }
        };
        let referral_code = match text(row.get("referral_code")) {
            Some(code) if code.len() > 64 => {
                users_report.warn(n, raw_id.clone(), "referral_code longer than 64 bytes: left out".into());
                None
            }
            code => code,
        };
        let username = text(row.get("username"))
            .map(|u| u.trim_start_matches('@').trim_matches('\'').trim().to_owned())
            .filter(|u| !u.is_empty())
            .map(|u| clip(&u, 64));
        let first_name = clip(&text(row.get("name")).unwrap_or_else(|| "Customer".into()), 256);
        by_id.insert(id, planned.len());
        planned.push(Planned {
            customer: ImportedCustomer {
                telegram_id: id,
                code: random_code(random),
                first_name,
                username,
                language: language(text(row.get("lang_code")).as_deref()),
                created_at,
                balance,
                referrer: None,
                referral_code,
                birthday,
                history: Vec::new(),
            },
            row: n,
        });
        users_report.imported += 1;
    }

    // Referrers: `referred_by_chat_id`, else `referral_source` = `ref_<code>`.
    let by_code: HashMap<&str, TelegramUserId> = {
        let mut m = HashMap::new();
        for p in &planned {
            if let Some(code) = &p.customer.referral_code {
                m.entry(code.as_str()).or_insert(p.customer.telegram_id);
            }
        }
        m
    };
    let mut referrers: Vec<Option<TelegramUserId>> = Vec::with_capacity(planned.len());
    for p in &planned {
        let row = &users[p.row - 1];
        let id = p.customer.telegram_id;
        let raw_id = shown_id(row.get("chat_id"));
        let referrer = if let Some(raw) = text(row.get("referred_by_chat_id")) {
            match chat_id(row.get("referred_by_chat_id")) {
                Some(r) if r != id => Some(r),
                Some(_) => None,
                None => {
                    users_report.warn(
                        p.row,
                        raw_id,
                        format!("referred_by_chat_id {raw:?} is not a chat id: no referrer"),
                    );
                    None
                }
            }
        } else if let Some(code) = text(row.get("referral_source")).as_deref().and_then(|s| s.strip_prefix("ref_")) {
            match by_code.get(code) {
                Some(&r) if r != id => Some(r),
                Some(_) => None,
                None => {
                    users_report.warn(p.row, raw_id, format!("referral_source ref_{code}: no customer has that code"));
                    None
                }
            }
        } else {
            None
        };
        referrers.push(referrer);
    }
    for (p, r) in planned.iter_mut().zip(&referrers) {
        p.customer.referrer = *r;
    }

    // --- transactions
    let mut tx_report = TableReport::new("transactions", snapshot.table("transactions"));
    let mut tx_ids: HashMap<String, usize> = HashMap::new();
    let mut legacy_sums: HashMap<TelegramUserId, (Points, usize)> = HashMap::new();
    for (i, row) in snapshot.table("transactions").unwrap_or_default().iter().enumerate() {
        let n = i + 1;
        let Some(source_id) = text(row.get("id")) else {
            tx_report.bad(n, shown_id(row.get("id")), "no id".into());
            continue;
        };
        let mut bad = |reason: String| tx_report.bad(n, source_id.clone(), reason);
        if source_id.len() > 64 {
            bad("id longer than 64 bytes".into());
            continue;
        }
        if let Some(first) = tx_ids.get(&source_id) {
            bad(format!("duplicate id {source_id} (row {first} kept)"));
            continue;
        }
        tx_ids.insert(source_id.clone(), n);
        let points = |column: &str| {
            integer(row.get(column))
                .map(|p| p.unwrap_or(0))
                .map_err(|()| format!("{column} {} is not an integer", display_value(row.get(column))))
        };
        let (earned, spent) = match (points("earned_points"), points("spent_points")) {
            (Ok(e), Ok(s)) => (e, s),
            (Err(reason), _) | (_, Err(reason)) => {
                bad(reason);
                continue;
            }
        };
        let amount = earned.checked_sub(spent).filter(|a| a.abs() <= ImportBatch::MAX_POINTS);
        let client = chat_id(row.get("client_chat_id"));
        if let (Some(client), Some(amount)) = (client, amount) {
            let sum = legacy_sums.entry(client).or_default();
            sum.0 += amount;
            sum.1 += 1;
        }
        let raw_client = display_value(row.get("client_chat_id"));
        let Some(customer) = client.and_then(|c| by_id.get(&c).copied()) else {
            match client.and_then(|c| skipped_users.get(&c)) {
                Some(row) => bad(format!("names customer {raw_client}, whose users row {row} is skipped")),
                None => bad(format!("names an unknown customer {raw_client}")),
            }
            continue;
        };
        let partner = match text(row.get("partner_chat_id")) {
            None => None,
            Some(raw) => match chat_id(row.get("partner_chat_id")).filter(|p| known_partners.contains(p)) {
                Some(p) => Some(p),
                None => {
                    bad(format!("names an unknown partner {raw:?}"));
                    continue;
                }
            },
        };
        let Some(amount) = amount else {
            bad(format!("earned {earned} minus spent {spent} is out of range"));
            continue;
        };
        let purchase = match rounded(row.get("total_amount")) {
            Ok(p) => p,
            Err(()) => {
                bad(format!("total_amount {} is not a number", display_value(row.get("total_amount"))));
                continue;
            }
        };
        let at = match timestamp(row.get("date_time")) {
            Ok(Some(t)) => t,
            Ok(None) => {
                bad("no date_time".into());
                continue;
            }
            Err(()) => {
                bad(format!("date_time {} is not a timestamp", display_value(row.get("date_time"))));
                continue;
            }
        };
        let note = match (text(row.get("operation_type")), text(row.get("description"))) {
            (Some(op), Some(d)) => Some(format!("{op}: {d}")),
            (op, d) => op.or(d),
        };
        planned[customer].customer.history.push(ImportedEntry {
            source_id,
            partner,
            amount,
            purchase,
            note: note.map(|n| clip(&n, 1024)),
            at,
        });
        tx_report.imported += 1;
    }
    for p in &mut planned {
        p.customer.history.sort_by_key(|h| h.at);
    }

    // --- services: no rewards catalogue yet.
    let mut services_report = TableReport::new("services", snapshot.table("services"));
    for (i, row) in snapshot.table("services").unwrap_or_default().iter().enumerate() {
        services_report.left_out(i + 1, shown_id(row.get("id")), "no rewards catalogue yet".into());
    }

    let inconsistent = planned
        .iter()
        .filter_map(|p| {
            let c = &p.customer;
            let (sum, count) = legacy_sums.get(&c.telegram_id).copied().unwrap_or((0, 0));
            (sum != c.balance).then_some(Inconsistency {
                telegram_id: c.telegram_id,
                balance: c.balance,
                transactions_sum: sum,
                transactions: count,
            })
        })
        .collect();

    // Referrers before the customers they invited: by depth in the referral
    // tree (a stable sort keeps the legacy order otherwise).
    let depth = referral_depths(&planned, &by_id);
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| depth[i]);
    let mut customers: Vec<Option<ImportedCustomer>> = planned.into_iter().map(|p| Some(p.customer)).collect();
    let customers: Vec<ImportedCustomer> = order.into_iter().filter_map(|i| customers[i].take()).collect();

    let batch_size = options.batch_size.max(1);
    let mut batches: Vec<ImportBatch> = customers
        .chunks(batch_size)
        .map(|chunk| ImportBatch { source: SOURCE.into(), partners: Vec::new(), customers: chunk.to_vec(), now })
        .collect();
    if !partners.is_empty() {
        if batches.is_empty() {
            batches.push(ImportBatch { source: SOURCE.into(), partners: Vec::new(), customers: Vec::new(), now });
        }
        batches[0].partners = partners;
    }
    if let Some(i) = batches.iter().position(|b| !b.check()) {
        return Err(LegacyError::Format(format!("internal: planned batch {} breaks ImportBatch::check", i + 1)));
    }
    Ok(Plan {
        batches,
        tables: vec![users_report, partners_report, apps_report, tx_report, services_report],
        inconsistent,
        skipped_total,
    })
}

/// Each planned customer's depth in the referral tree (0: invited by nobody
/// being imported); a cycle stops counting where it closes.
fn referral_depths(planned: &[Planned], by_id: &HashMap<TelegramUserId, usize>) -> Vec<usize> {
    let mut depth: Vec<Option<usize>> = vec![None; planned.len()];
    for start in 0..planned.len() {
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        let mut at = start;
        let base = loop {
            if let Some(d) = depth[at] {
                break d + 1;
            }
            if !seen.insert(at) {
                break 0;
            }
            chain.push(at);
            match planned[at].customer.referrer.and_then(|r| by_id.get(&r).copied()) {
                Some(next) => at = next,
                None => break 0,
            }
        };
        for (k, &i) in chain.iter().rev().enumerate() {
            depth[i].get_or_insert(base + k);
        }
    }
    depth.into_iter().map(Option::unwrap_or_default).collect()
}

// ---------------------------------------------------------------------------
// Applying

/// Attempts per batch at a store that is temporarily unavailable or at a code
/// already taken (each attempt draws new codes).
const ATTEMPTS: usize = 4;

/// Sends the plan's batches to `store` in order, then reconciles the legacy
/// balances with ours. A batch whose codes are taken is sent again with new
/// ones; one the store cannot take for now is tried again after a pause.
///
/// # Errors
/// [`LegacyError::Store`] when a batch fails for good: the batches before it
/// are in, and running the import again carries on where it stopped.
pub async fn apply(
    store: &dyn Storage,
    plan: &Plan,
    source: &str,
    random: &dyn Randomness,
    progress: &mut dyn Progress,
) -> Result<Report, LegacyError> {
    let total = plan.batches.len();
    let mut answers: Vec<ImportApplied> = Vec::with_capacity(total);
    progress.sending(total, plan.summary().customers);
    let mut customers = 0;
    for (i, batch) in plan.batches.iter().enumerate() {
        let mut batch = batch.clone();
        let mut attempt = 1;
        let answer = loop {
            match store.import_batch(batch.clone()).await {
                Ok(answer) => break answer,
                Err(StoreError::Rejected(Rejection::CodeTaken)) if attempt < ATTEMPTS => {
                    for c in &mut batch.customers {
                        c.code = random_code(random);
                    }
                }
                Err(e) if e.is_temporary() && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
                Err(error) => {
                    progress.finish();
                    return Err(LegacyError::Store { batch: i + 1, batches: total, error });
                }
            }
            attempt += 1;
        };
        customers += batch.customers.len();
        progress.applied(i + 1, customers);
        answers.push(answer);
    }
    progress.finish();
    Ok(reconciled(plan, source, &answers))
}

/// The report of the plan's batches applied with these answers, one per
/// batch in order: what the store did, and the legacy balances against ours.
fn reconciled(plan: &Plan, source: &str, answers: &[ImportApplied]) -> Report {
    let mut applied = AppliedSummary::default();
    for answer in answers {
        applied.partners_created += answer.partners_created;
        applied.customers_created += answer.customers_created;
        applied.balances_changed += answer.balances_changed;
        applied.history_created += answer.history_created;
    }
    let mut mismatches = Vec::new();
    let mut ours_total = 0;
    for (batch, answer) in plan.batches.iter().zip(answers) {
        let ours: HashMap<TelegramUserId, Points> =
            answer.balances.iter().map(|b| (b.telegram_id, b.balance)).collect();
        for c in &batch.customers {
            let balance = ours.get(&c.telegram_id).copied().unwrap_or(0);
            ours_total += balance;
            if balance == c.balance {
                continue;
            }
            let reason = if let Some(r) = answer.refused.iter().find(|r| r.telegram_id == c.telegram_id) {
                MismatchReason::Refused { change: r.change }
            } else if answer.not_imported.contains(&c.telegram_id) {
                MismatchReason::NotImported
            } else {
                MismatchReason::Differs
            };
            mismatches.push(Mismatch { telegram_id: c.telegram_id, legacy: c.balance, ours: balance, reason });
        }
    }
    Report {
        applied: Some(applied),
        ours_total: Some(ours_total),
        mismatches,
        ..plan.unapplied_report(source, Outcome::Imported)
    }
}

/// Plans `snapshot` and, unless [`Options::dry_run`] or a [`Options::strict`]
/// refusal stops it, applies the plan to `store`.
///
/// # Errors
/// As [`plan`] and [`apply`].
pub async fn import(
    store: &dyn Storage,
    snapshot: &Snapshot,
    options: &Options,
    random: &dyn Randomness,
    progress: &mut dyn Progress,
) -> Result<Report, LegacyError> {
    import_described(store, snapshot, "the legacy data", options, random, progress).await
}

/// [`import`], naming the source in the report.
///
/// # Errors
/// As [`plan`] and [`apply`].
pub async fn import_described(
    store: &dyn Storage,
    snapshot: &Snapshot,
    source: &str,
    options: &Options,
    random: &dyn Randomness,
    progress: &mut dyn Progress,
) -> Result<Report, LegacyError> {
    let plan = plan(snapshot, options, random)?;
    match unapplied_outcome(&plan, options) {
        Some(outcome) => Ok(plan.unapplied_report(source, outcome)),
        None => apply(store, &plan, source, random, progress).await,
    }
}

/// [`Outcome::DryRun`] or [`Outcome::Refused`] when `plan` is not to be
/// applied under `options`; `None` when it is.
pub fn unapplied_outcome(plan: &Plan, options: &Options) -> Option<Outcome> {
    if options.dry_run {
        Some(Outcome::DryRun)
    } else if options.strict && plan.bad_rows() > 0 {
        Some(Outcome::Refused)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Cloudflare D1, through SQL files

/// The table a D1 SQL file ([`d1_sql`]) keeps its batches' answers in, by
/// plan ([`d1_run`]) and batch: `wrangler d1 execute --remote --file` reports
/// only counts, so the answers are read back from it afterwards
/// ([`d1_results_query`]). It is not part of the schema; drop it once the
/// import is reconciled.
pub const D1_ANSWERS: &str = "loyalty_import_answers";

/// D1's longest SQL statement, in bytes: a rendered batch's statements carry
/// its request's JSON.
pub const D1_MAX_STATEMENT: usize = 100_000;

/// The table of [`D1_ANSWERS`].
const D1_ANSWERS_TABLE: &str = "CREATE TABLE IF NOT EXISTS loyalty_import_answers (
    run    TEXT    NOT NULL,
    batch  INTEGER NOT NULL,
    answer TEXT,
    fault  TEXT,
    PRIMARY KEY (run, batch)
) STRICT";

/// [`plan`] for a D1 SQL file: while a rendered statement of a batch is
/// longer than [`D1_MAX_STATEMENT`], plans again with half the customers per
/// batch. The same data and options give the same batches (codes aside), so
/// `--d1-results` finds the plan `--d1-sql` wrote.
///
/// # Errors
/// As [`plan`]; [`LegacyError::Format`] when a single customer's batch is too long.
pub fn d1_plan(snapshot: &Snapshot, options: &Options, random: &dyn Randomness) -> Result<Plan, LegacyError> {
    let mut options = *options;
    loop {
        let plan = plan(snapshot, &options, random)?;
        let lengths = plan.batches.iter().map(|b| rendered(b).map(|s| longest_statement(&s)));
        match lengths.collect::<Result<Vec<usize>, _>>()?.into_iter().max() {
            Some(n) if n > D1_MAX_STATEMENT && options.batch_size > 1 => options.batch_size /= 2,
            Some(n) if n > D1_MAX_STATEMENT => {
                return Err(LegacyError::Format(format!(
                    "a customer's history makes a D1 statement of {n} bytes, more than D1 takes \
                     ({D1_MAX_STATEMENT}); import this data into SQLite and upload the file instead"
                )));
            }
            _ => return Ok(plan),
        }
    }
}

fn longest_statement(statements: &[String]) -> usize {
    statements.iter().map(String::len).max().unwrap_or(0)
}

/// The statements of one batch's `import_batch` call, its request written in.
fn rendered(batch: &ImportBatch) -> Result<Vec<String>, LegacyError> {
    let request =
        serde_json::to_string(batch).map_err(|e| LegacyError::Format(format!("cannot encode a batch: {e}")))?;
    d1::render_batch("import_batch", &request).map_err(|e| LegacyError::Format(e.to_string()))
}

/// The name of `plan` in [`D1_ANSWERS`]: a digest of its batches'
/// customers and legacy balances and of its partners (not of the codes,
/// which are drawn anew on every run), as 16 hex digits.
pub fn d1_run(plan: &Plan) -> String {
    // FNV-1a, 64 bits: stable across builds, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |n: i64| {
        for byte in n.to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for batch in &plan.batches {
        feed(-1);
        for p in &batch.partners {
            feed(p.telegram_id.0);
        }
        feed(-2);
        for c in &batch.customers {
            feed(c.telegram_id.0);
            feed(c.balance);
        }
    }
    format!("{hash:016x}")
}

/// The query that reads `plan`'s answers back from [`D1_ANSWERS`], for
/// `wrangler d1 execute <database> --remote --json --command "…"`.
pub fn d1_results_query(plan: &Plan) -> String {
    format!("SELECT run, batch, answer, fault FROM {D1_ANSWERS} WHERE run = '{}' ORDER BY batch", d1_run(plan))
}

/// `plan` as one SQL file for Cloudflare D1 (`wrangler d1 execute <database>
/// --remote --file`): a header saying how to run it and read the answers
/// back, the [`D1_ANSWERS`] table, then each batch's `import_batch` call as
/// [rendered statements](d1::render_batch) that also keep the batch's answer
/// in [`D1_ANSWERS`]. wrangler runs the file as one transaction; running it
/// again is safe (the import is idempotent, and a batch's answer is replaced).
///
/// # Errors
/// [`LegacyError::Format`] when a batch cannot be rendered.
pub fn d1_sql(plan: &Plan, source: &str) -> Result<String, LegacyError> {
    let run = d1_run(plan);
    let summary = plan.summary();
    let mut text = String::new();
    let _ = write!(
        text,
        "-- loyalty import legacy: {source} for Cloudflare D1, plan {run}: {} of {} customers, {} partners.\n\
         -- 1. Apply the D1 migrations first (0004 at least): wrangler d1 migrations apply <database> --remote\n\
         -- 2. Run this file (one transaction; running it again is safe):\n\
         --      wrangler d1 execute <database> --remote --file THIS.sql\n\
         -- 3. Read the answers back (a remote --file run reports only counts):\n\
         --      wrangler d1 execute <database> --remote --json --command \"{query}\" > results.json\n\
         --    (against a local database, `wrangler d1 execute <database> --local --file THIS.sql --json > results.json`\n\
         --    gives them directly)\n\
         -- 4. Reconcile, with the same source and options as for this file:\n\
         --      loyalty import legacy … --d1-results results.json\n\
         -- Then {D1_ANSWERS} may be dropped.\n\n{D1_ANSWERS_TABLE};\n",
        plural(summary.batches, "batch"),
        summary.customers,
        summary.partners,
        query = d1_results_query(plan),
    );
    for (i, batch) in plan.batches.iter().enumerate() {
        let mut statements = rendered(batch)?;
        let keep = d1::keep_outcome(D1_ANSWERS, &format!("'{run}', {}", i + 1));
        statements.insert(statements.len() - 1, keep);
        let _ = writeln!(
            text,
            "\n-- batch {} of {}: {} customers, {} partners",
            i + 1,
            plan.batches.len(),
            batch.customers.len(),
            batch.partners.len()
        );
        for statement in statements {
            text.push_str(&statement);
            text.push_str(";\n");
        }
    }
    Ok(text)
}

/// The answer rows in wrangler's `--json` output (or in D1's own result
/// objects): every row with an `answer` column, from an array of result
/// objects, one result object, or an HTTP API envelope (`{"result": …}`).
fn answer_rows(results: &Value) -> Vec<&Row> {
    let objects: Vec<&Value> = match results {
        Value::Array(items) => items.iter().collect(),
        Value::Object(o) => match o.get("result") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => vec![results],
        },
        _ => Vec::new(),
    };
    objects
        .into_iter()
        .filter_map(|o| o.get("results").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
        .filter(|row| row.contains_key("answer"))
        .collect()
}

/// Reconciles `plan` (planned again from the same source, with [`d1_plan`])
/// with the answers of its D1 SQL file in `results`: wrangler's `--json`
/// output of the [`d1_results_query`] (rows `run`, `batch`, `answer`,
/// `fault`), or of a run of the file that returns its statements' rows
/// (`--local`, Miniflare's `batch`), whose last statements' rows carry
/// `answer` and `fault` in batch order. Each answer is decoded as a store
/// decodes it: a rejection or a fault fails that batch.
///
/// # Errors
/// [`LegacyError::Json`] for output that is not JSON; [`LegacyError::Format`]
/// for output without the plan's answers (another plan, a remote `--file`
/// run's counts, a batch missing); [`LegacyError::Store`] for a batch the
/// store refused or failed.
pub fn reconcile_d1_results(plan: &Plan, source: &str, results: &str, what: &str) -> Result<Report, LegacyError> {
    let results: Value =
        serde_json::from_str(results).map_err(|e| LegacyError::Json { what: what.to_owned(), source: e })?;
    let run = d1_run(plan);
    let rows = answer_rows(&results);
    let total = plan.batches.len();
    let keyed = rows.iter().any(|r| r.contains_key("batch"));
    let mut outcomes: Vec<Option<d1::Outcome>> = vec![None; total];
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    if keyed {
        for row in rows.iter().filter(|r| r.get("run").and_then(Value::as_str) == Some(run.as_str())) {
            let slot = row.get("batch").and_then(Value::as_u64).and_then(|b| usize::try_from(b).ok());
            if let Some(slot) = slot.and_then(|b| b.checked_sub(1)).and_then(|b| outcomes.get_mut(b)) {
                *slot = Some(d1::Outcome { answer: text(row.get("answer")), fault: text(row.get("fault")) });
            }
        }
    } else if rows.len() == total {
        for (slot, row) in outcomes.iter_mut().zip(&rows) {
            *slot = Some(d1::Outcome { answer: text(row.get("answer")), fault: text(row.get("fault")) });
        }
    }
    let missing = outcomes.iter().filter(|o| o.is_none()).count();
    if missing > 0 {
        let why = if rows.is_empty() && results.to_string().contains("Total queries executed") {
            "it is the summary of a remote --file run, which carries no answers; read them with \
             `wrangler d1 execute <database> --remote --json --command \"QUERY\"`"
                .to_owned()
        } else {
            format!(
                "it has the answers of {} of the plan's {total} batches (plan {run}: was the SQL file made from \
                 this source with these options, and has it run?); read them with `wrangler d1 execute \
                 <database> --remote --json --command \"QUERY\"`",
                total - missing
            )
        };
        return Err(LegacyError::Format(format!("{what}: {}", why.replace("QUERY", &d1_results_query(plan)))));
    }
    let mut answers = Vec::with_capacity(total);
    for (i, (batch, outcome)) in plan.batches.iter().zip(outcomes).enumerate() {
        let answer: ImportApplied = d1::decode("import_batch", outcome)
            .and_then(|value| rpc::decode_result("import_batch", value))
            .map_err(|error| LegacyError::Store { batch: i + 1, batches: total, error })?;
        let ours: HashSet<TelegramUserId> = answer.balances.iter().map(|b| b.telegram_id).collect();
        let legacy: HashSet<TelegramUserId> = batch.customers.iter().map(|c| c.telegram_id).collect();
        if ours != legacy {
            return Err(LegacyError::Format(format!(
                "{what}: the answer of batch {} is about other customers than the plan's batch (plan {run}); \
                 make the SQL file again from this source with these options",
                i + 1
            )));
        }
        answers.push(answer);
    }
    Ok(reconciled(plan, source, &answers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_of_the_legacy_program() {
        let t = |s: &str| parse_timestamp(s).map(|t| t.utc_minutes());
        assert_eq!(t("2025-10-20T22:34:13.952359+00:00").as_deref(), Some("2025-10-20 22:34"));
        assert_eq!(t("2025-11-06T17:31:40.243446").as_deref(), Some("2025-11-06 17:31"));
        assert_eq!(t("2025-11-07T09:23:55.9033+00:00").as_deref(), Some("2025-11-07 09:23"));
        assert_eq!(t("2025-11-07 12:23:55+03:00").as_deref(), Some("2025-11-07 09:23"));
        assert_eq!(t("2025-11-07T09:23:55Z").as_deref(), Some("2025-11-07 09:23"));
        assert_eq!(t("2025-11-07T09:23-0130").as_deref(), Some("2025-11-07 10:53"));
        assert_eq!(t("2024-02-29").as_deref(), Some("2024-02-29 00:00"));
        assert_eq!(t("1969-12-31T23:59:59Z").map(|_| ()), Some(()));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(parse_timestamp("2026-11-18T11:06:40Z"), Some(Timestamp(1_795_000_000)));
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-02-30",
            "2023-02-29",
            "2025-11-07T25:00",
            "2025-11-07T09:23:55+",
            "2025-11-07T09:23:55 PM",
            "2025-11-07T09:23:55.",
            "2025-11-07Т09:23",
            "2025/11/07",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn value_parsing_is_lenient_where_it_is_safe() {
        assert_eq!(chat_id(Some(&json!("406631153"))), Some(TelegramUserId(406_631_153)));
        assert_eq!(chat_id(Some(&json!(406_631_153))), Some(TelegramUserId(406_631_153)));
        assert_eq!(chat_id(Some(&json!(" 42 "))), Some(TelegramUserId(42)));
        for bad in [json!("partner_nail_001"), json!("VIA_PARTNER_7983"), json!(0), json!(-5), json!(1.5), json!(null)]
        {
            assert_eq!(chat_id(Some(&bad)), None, "{bad}");
        }
        assert_eq!(integer(Some(&json!(80))), Ok(Some(80)));
        assert_eq!(integer(Some(&json!(80.0))), Ok(Some(80)));
        assert_eq!(integer(Some(&json!("80"))), Ok(Some(80)));
        assert_eq!(integer(Some(&json!(null))), Ok(None));
        assert_eq!(integer(None), Ok(None));
        assert_eq!(integer(Some(&json!(80.5))), Err(()));
        assert_eq!(integer(Some(&json!("eighty"))), Err(()));
        assert_eq!(rounded(Some(&json!(80.5))), Ok(Some(81)));
        assert_eq!(rounded(Some(&json!("1234.4"))), Ok(Some(1234)));
        assert_eq!(boolean(Some(&json!("f"))), Some(false));
        assert_eq!(text(Some(&json!("  "))), None);
    }

    #[test]
    fn reports_word_counts_and_rows() {
        assert_eq!(plural(1, "history entry"), "1 history entry");
        assert_eq!(plural(2, "history entry"), "2 history entries");
        assert_eq!(plural(3, "batch"), "3 batches");
        assert_eq!(plural(0, "partner"), "0 partners");
        assert_eq!(row_list(&[1, 2, 3, 7, 9, 10]), "rows 1–3, 7, 9–10");
        assert_eq!(row_list(&[4]), "row 4");
    }

    #[test]
    fn referrers_come_before_the_customers_they_invited() {
        // 3 invited by 2, 2 by 1, 1 by nobody; 4 and 5 invite each other.
        let users: Vec<Value> = vec![
            json!({"chat_id": "3", "balance": 0, "referred_by_chat_id": "2"}),
            json!({"chat_id": "2", "balance": 0, "referral_source": "ref_ONE"}),
            json!({"chat_id": "1", "balance": 0, "referral_code": "ONE"}),
            json!({"chat_id": "4", "balance": 0, "referred_by_chat_id": "5"}),
            json!({"chat_id": "5", "balance": 0, "referred_by_chat_id": "4"}),
        ];
        let backup = json!({"tables": {
            "users": {"data": users}, "partners": {"data": []}, "transactions": {"data": []}
        }});
        let snapshot = Snapshot::from_backup_json(&backup.to_string(), "test").unwrap();
        let options = Options { batch_size: 1, ..Options::default() };
        let plan = plan(&snapshot, &options, &crate::clock::OsRandom).unwrap();
        let order: Vec<i64> = plan.batches.iter().map(|b| b.customers[0].telegram_id.0).collect();
        let pos = |id: i64| order.iter().position(|&x| x == id).unwrap();
        assert!(pos(1) < pos(2) && pos(2) < pos(3), "{order:?}");
        assert_eq!(order.len(), 5);
        let referrer =
            |id: i64| plan.batches.iter().flat_map(|b| &b.customers).find(|c| c.telegram_id.0 == id).unwrap().referrer;
        assert_eq!(referrer(2), Some(TelegramUserId(1)));
        assert_eq!(referrer(5), Some(TelegramUserId(4)));
    }
}
