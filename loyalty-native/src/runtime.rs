//! Putting a process together from the environment: configuration, storage
//! selection, the engine's ports, logging, and the CLI's exit codes.

use crate::assistant::OpenAiAssistant;
use crate::clock::{OsRandom, SystemClock};
use crate::legacy::{self, LegacyError, Outcome};
use crate::polling::{self, PollError, PollOptions};
use crate::sentry::SentryReporter;
use crate::server::{App, DEFAULT_DRAIN_TIMEOUT};
use crate::tasks::{OUTBOX_IDLE, TaskRunner, maintenance_loop, outbox_loop};
use crate::telegram::HttpTelegram;
use crate::webhooks;
use loyalty_core::adapters::sentry::Envelopes;
use loyalty_core::config::LogFormat;
use loyalty_core::domain::{BotKind, Language, Timestamp};
use loyalty_core::ports::{Assistant, Clock, ErrorReporter, NoReporter, Randomness, Storage, TelegramApi};
use loyalty_core::{Config, ConfigError, Engine, Ports, Secret};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The `loyalty` CLI's exit codes.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other failure (I/O, the listener, a failed simulation check, an
    /// import refused by `--strict`).
    pub const OTHER: u8 = 1;
    /// Wrong command-line usage (unknown command or option).
    pub const USAGE: u8 = 2;
    /// Configuration: a variable is missing or malformed (the message names it).
    pub const CONFIG: u8 = 3;
    /// Storage: the database cannot be opened, reached or migrated.
    pub const STORAGE: u8 = 4;
    /// Telegram: the Bot API refused or could not be reached.
    pub const TELEGRAM: u8 = 5;
    /// `loyalty import` or `loyalty export`: it ran, and the reconciliation
    /// found customers whose balance here is not the one in the other system
    /// (the report lists them).
    pub const MISMATCH: u8 = 6;
}

/// The exit codes as printed by `loyalty --help` and documented in
/// `docs/SELF_HOSTING.md`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (I/O, a failed simulation check, an import refused by --strict)
  2  usage error
  3  configuration error (the message names the variable)
  4  storage or migration error
  5  Telegram Bot API error
  6  import or export: the reconciliation found balances that differ (the report lists them)";

/// Why a command failed; each kind maps to an [exit code](exit).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A configuration variable is missing or malformed.
    #[error("{0}")]
    Config(String),
    /// Storage could not be opened, reached or migrated.
    #[error("{0}")]
    Storage(String),
    /// The Bot API refused or could not be reached.
    #[error("{0}")]
    Telegram(String),
    /// An import ran, and balances here differ from the other system's.
    #[error("{0}")]
    Mismatch(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl RunError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_) => exit::CONFIG,
            RunError::Storage(_) => exit::STORAGE,
            RunError::Telegram(_) => exit::TELEGRAM,
            RunError::Mismatch(_) => exit::MISMATCH,
            RunError::Other(_) => exit::OTHER,
        }
    }
}

impl From<ConfigError> for RunError {
    fn from(e: ConfigError) -> RunError {
        RunError::Config(e.to_string())
    }
}

/// Where the program's state lives, as chosen from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageChoice {
    /// `DATABASE_URL` is set: PostgreSQL.
    Postgres {
        /// The connection URL (a secret: it usually holds a password).
        url: Secret,
    },
    /// `SUPABASE_URL` and `SUPABASE_KEY` are set: Supabase's PostgREST.
    PostgRest {
        /// The project URL; PostgREST is under
        /// [`REST_PATH`](loyalty_core::stores::rest::REST_PATH) (`/rest/v1`).
        url: String,
        /// The service role / secret key.
        key: Secret,
    },
    /// Neither: a SQLite file, `LOYALTY_DB` or `./loyalty.db`.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
}

/// Only `set` of Supabase's two variables is: no silent fall-back to SQLite.
fn half_of_supabase(set: &str, missing: &str) -> RunError {
    RunError::Config(format!(
        "{set} is set but {missing} is not: Supabase storage needs both; \
         unset {set} to use the SQLite file (LOYALTY_DB) instead"
    ))
}

/// The SQLite file used when `LOYALTY_DB` is not set.
pub const DEFAULT_SQLITE_PATH: &str = "./loyalty.db";

impl StorageChoice {
    /// Chooses storage from the variables `lookup` returns (empty counts as
    /// unset): `DATABASE_URL` → Postgres; else `SUPABASE_URL` + `SUPABASE_KEY`
    /// → PostgREST; else SQLite at `LOYALTY_DB` (default `./loyalty.db`).
    ///
    /// # Errors
    /// [`RunError::Config`] when `DATABASE_URL` is neither a `postgres://` or
    /// `postgresql://` URL nor libpq's `key=value` form, or when only one of
    /// `SUPABASE_URL` and `SUPABASE_KEY` is set (no silent fall-back to SQLite).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<StorageChoice, RunError> {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(url) = get("DATABASE_URL") {
            let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
            // libpq's key-value form: `host=… user=… dbname=…`.
            let is_key_value = !url.contains("://") && url.contains('=');
            if !(is_url || is_key_value) {
                return Err(RunError::Config(
                    "invalid value for DATABASE_URL: expected postgres://user:password@host:port/database \
                     (or libpq's `host=… dbname=…` form)"
                        .into(),
                ));
            }
            return Ok(StorageChoice::Postgres { url: Secret::new(url) });
        }
        match (get("SUPABASE_URL"), get("SUPABASE_KEY")) {
            (Some(url), Some(key)) => {
                return Ok(StorageChoice::PostgRest {
                    url: url.trim_end_matches('/').to_string(),
                    key: Secret::new(key),
                });
            }
            (Some(_), None) => return Err(half_of_supabase("SUPABASE_URL", "SUPABASE_KEY")),
            (None, Some(_)) => return Err(half_of_supabase("SUPABASE_KEY", "SUPABASE_URL")),
            (None, None) => {}
        }
        Ok(StorageChoice::Sqlite {
            path: get("LOYALTY_DB").map_or_else(|| PathBuf::from(DEFAULT_SQLITE_PATH), PathBuf::from),
        })
    }

    /// The kind of store, as `GET /ready` names it: `postgres`, `postgrest` or `sqlite`.
    pub fn kind(&self) -> &'static str {
        match self {
            StorageChoice::Postgres { .. } => "postgres",
            StorageChoice::PostgRest { .. } => "postgrest",
            StorageChoice::Sqlite { .. } => "sqlite",
        }
    }

    /// A short description for logs (never the URL, which may hold a password).
    pub fn describe(&self) -> String {
        match self {
            StorageChoice::Postgres { .. } => "PostgreSQL (DATABASE_URL)".into(),
            StorageChoice::PostgRest { .. } => "Supabase PostgREST (SUPABASE_URL)".into(),
            StorageChoice::Sqlite { path } => {
                format!("SQLite at {}", std::path::absolute(path).unwrap_or_else(|_| path.clone()).display())
            }
        }
    }

    /// [`RunError::Config`] for a backend this build lacks, naming its cargo feature.
    fn not_built_in(&self) -> RunError {
        let feature = self.kind();
        RunError::Config(format!(
            "the configuration selects {}, but this build of loyalty lacks the `{feature}` feature; \
             rebuild it with `--features {feature}` (e.g. `cargo install loyalty-native --features {feature}`)",
            self.describe()
        ))
    }
}

/// Opens the chosen storage, creating or migrating its schema where the
/// backend does that on open. PostgREST is checked with one read-only call
/// (`pending_broadcasts`), so a wrong key, a schema that is not exposed or
/// missing migrations stop the start.
///
/// # Errors
/// [`RunError::Storage`] when it cannot be opened; [`RunError::Config`] for an
/// unusable `SUPABASE_URL` or `SUPABASE_KEY`, or a backend this build lacks
/// (the message names its feature).
pub async fn open_storage(choice: &StorageChoice) -> Result<Arc<dyn Storage>, RunError> {
    match choice {
        #[cfg(feature = "postgrest")]
        StorageChoice::PostgRest { url, key } => {
            let store = crate::store::postgrest::PostgrestStore::new(
                format!("{url}{}", crate::store::postgrest::REST_PATH),
                key.clone(),
            )?;
            store
                .pending_broadcasts()
                .await
                .map_err(|e| RunError::Storage(format!("PostgREST storage (SUPABASE_URL): {e}")))?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "postgres")]
        StorageChoice::Postgres { url } => {
            let store = crate::store::postgres::PgStore::connect(url.expose())
                .await
                .map_err(|e| RunError::Storage(format!("PostgreSQL storage (DATABASE_URL): {e}")))?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "sqlite")]
        StorageChoice::Sqlite { path } => {
            let path = path.clone();
            let opened = tokio::task::spawn_blocking(move || crate::store::sqlite::SqliteStore::open(path))
                .await
                .map_err(|e| RunError::Other(format!("opening SQLite was interrupted: {e}")))?;
            let store = opened.map_err(|e| RunError::Storage(format!("SQLite storage (LOYALTY_DB): {e}")))?;
            Ok(Arc::new(store))
        }
        #[allow(unreachable_patterns)]
        other => Err(other.not_built_in()),
    }
}

/// Migrates the chosen storage's schema to this version.
///
/// # Errors
/// [`RunError::Storage`] when the migration fails; [`RunError::Config`] for
/// PostgREST, which cannot run DDL (use `supabase db push` or `DATABASE_URL`).
pub async fn migrate(choice: &StorageChoice) -> Result<String, RunError> {
    match choice {
        #[cfg(feature = "sqlite")]
        StorageChoice::Sqlite { path } => {
            let p = path.clone();
            let version = tokio::task::spawn_blocking(move || crate::store::sqlite::migrate(p))
                .await
                .map_err(|e| RunError::Other(format!("the migration was interrupted: {e}")))?
                .map_err(|e| RunError::Storage(format!("SQLite storage (LOYALTY_DB): {e}")))?;
            Ok(format!("{}: schema version {version}, up to date", choice.describe()))
        }
        #[cfg(feature = "postgres")]
        StorageChoice::Postgres { url } => {
            let applied = crate::store::postgres::migrate(url.expose())
                .await
                .map_err(|e| RunError::Storage(format!("PostgreSQL storage (DATABASE_URL): migration failed: {e}")))?;
            Ok(if applied.is_empty() {
                format!("{}: schema is up to date", choice.describe())
            } else {
                format!("{}: applied {}; schema is up to date", choice.describe(), applied.join(", "))
            })
        }
        StorageChoice::PostgRest { .. } => Err(RunError::Config(
            "SUPABASE_URL and SUPABASE_KEY select the PostgREST storage, which cannot apply migrations over HTTP; \
             run `supabase db push`, or `loyalty migrate` with DATABASE_URL set to the project's Postgres \
             connection string (docs/SUPABASE.md)"
                .into(),
        )),
        #[allow(unreachable_patterns)]
        other => Err(other.not_built_in()),
    }
}

/// What reading and planning a legacy import left to do.
enum Planned {
    /// Apply the plan; the source as the report names it.
    Apply(legacy::Plan, String),
    /// Nothing to apply (a dry run, or `--strict` refused bad rows): the report.
    Done(legacy::Report),
}

/// The first half of every `loyalty import legacy`: reads `source`, plans it
/// with `planner` and ends the reading's progress, before anything else is
/// logged.
async fn read_and_plan(
    source: &legacy::Source,
    options: &legacy::Options,
    progress: &mut dyn legacy::Progress,
    planner: fn(&legacy::Snapshot, &legacy::Options, &dyn Randomness) -> Result<legacy::Plan, LegacyError>,
) -> Result<Planned, RunError> {
    let snapshot = source.read(progress).await.map_err(legacy_error)?;
    let plan = planner(&snapshot, options, &OsRandom).map_err(legacy_error)?;
    progress.finish();
    let described = source.describe();
    Ok(match legacy::unapplied_outcome(&plan, options) {
        Some(outcome) => Planned::Done(plan.unapplied_report(&described, outcome)),
        None => Planned::Apply(plan, described),
    })
}

/// `loyalty import legacy`: reads `source`, plans the import and, unless
/// `options` ask for a dry run or `--strict` refuses bad rows, opens the
/// chosen storage (only then) and applies the plan. Returns the report; see
/// [`import_verdict`] for the exit code it calls for.
///
/// # Errors
/// [`RunError::Config`] for an unusable source (a bad URL, a missing key, a
/// source this build lacks); [`RunError::Other`] when the source cannot be
/// read (a missing file, broken JSON, an unreachable database); storage
/// failures as [`RunError::Storage`].
pub async fn import_legacy(
    storage: &StorageChoice,
    source: &legacy::Source,
    options: &legacy::Options,
    progress: &mut dyn legacy::Progress,
) -> Result<legacy::Report, RunError> {
    let (plan, described) = match read_and_plan(source, options, progress, legacy::plan).await? {
        Planned::Apply(plan, described) => (plan, described),
        Planned::Done(report) => return Ok(report),
    };
    let store = open_storage(storage).await?;
    tracing::info!(storage = %storage.describe(), "importing");
    legacy::apply(&*store, &plan, &described, &OsRandom, progress).await.map_err(legacy_error)
}

/// A rules document given on the command line, parsed and checked.
fn rules_document(text: &str) -> Result<loyalty_core::program::ProgramRules, RunError> {
    loyalty_core::program::ProgramRules::from_json(text)
        .map_err(|reason| RunError::Config(format!("the rules document is invalid: {reason}")))
}

/// `loyalty export data`: the configured store's customers, partners and
/// entries into `dir` (created if missing) as `format` files, page by page.
///
/// # Errors
/// [`RunError::Storage`] when the store cannot be opened (or, for SQLite, does
/// not exist) or read; [`RunError::Other`] when a file cannot be written.
pub async fn export_data(
    storage: &StorageChoice,
    dir: &Path,
    format: crate::export::Format,
) -> Result<crate::export::Exported, RunError> {
    if let StorageChoice::Sqlite { path } = storage
        && !path.exists()
    {
        return Err(RunError::Storage(format!("{}: no such database, nothing to export", storage.describe())));
    }
    std::fs::create_dir_all(dir).map_err(|e| RunError::Other(format!("{}: {e}", dir.display())))?;
    let store = open_storage(storage).await?;
    crate::export::export(store.as_ref(), dir, format).await.map_err(|e| match e {
        crate::export::ExportError::Storage { .. } => RunError::Storage(e.to_string()),
        crate::export::ExportError::Io { .. } => RunError::Other(e.to_string()),
    })
}

/// `loyalty rules show`: the rules in force in the configured store.
///
/// # Errors
/// [`RunError::Storage`] when the store cannot be opened or read.
pub async fn program_rules(storage: &StorageChoice) -> Result<loyalty_core::program::RulesVersion, RunError> {
    let store = open_storage(storage).await?;
    store.program_rules().await.map_err(|e| RunError::Storage(format!("reading the rules: {e}")))
}

/// `loyalty rules set FILE`: parses and checks the document `text`, then
/// stores it as a new version (by the operator: no admin recorded).
///
/// # Errors
/// [`RunError::Config`] for a document that is not valid (nothing is stored),
/// [`RunError::Storage`] when the store cannot be opened or written.
pub async fn set_program_rules(
    storage: &StorageChoice,
    text: &str,
    now: Timestamp,
) -> Result<loyalty_core::program::RulesVersion, RunError> {
    let rules = rules_document(text)?;
    let store = open_storage(storage).await?;
    let req = loyalty_core::ports::SetProgramRules { rules, admin: None, now };
    store.set_program_rules(req).await.map_err(|e| RunError::Storage(format!("storing the rules: {e}")))
}

/// `loyalty whatif --rules FILE`: the configured store's ledger replayed,
/// read only, under the rules document `text` up to `now`
/// ([`loyalty_core::whatif`]).
///
/// # Errors
/// [`RunError::Config`] for a document that is not valid,
/// [`RunError::Storage`] when the store cannot be opened or read.
pub async fn what_if(
    storage: &StorageChoice,
    text: &str,
    now: Timestamp,
) -> Result<loyalty_core::whatif::WhatIf, RunError> {
    let rules = rules_document(text)?;
    let store = open_storage(storage).await?;
    loyalty_core::whatif::run(&*store, rules, now)
        .await
        .map_err(|e| RunError::Storage(format!("reading the ledger: {e}")))
}

/// Where `loyalty import legacy` sends its batches when the store is Cloudflare D1,
/// which it cannot reach: a SQL file to run with wrangler, and wrangler's answers back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum D1Step {
    /// `--d1-sql`: write the batches into this SQL file ([`legacy::d1_sql`]).
    Sql(PathBuf),
    /// `--d1-results`: reconcile with wrangler's `--json` output in this file
    /// ([`legacy::reconcile_d1_results`]).
    Results(PathBuf),
}

/// `loyalty import legacy … --d1-sql FILE` or `… --d1-results FILE`: reads
/// `source` and plans for D1 ([`legacy::d1_plan`]); then writes the SQL file
/// (the report's outcome is [`Outcome::D1Sql`]) or reconciles wrangler's
/// answers (as after an import). No store is opened.
///
/// # Errors
/// As [`import_legacy`]; [`RunError::Other`] when a file cannot be written or
/// read, or the answers are not the plan's; a batch D1 refused or failed as
/// [`RunError::Storage`].
pub async fn import_legacy_d1(
    step: &D1Step,
    source: &legacy::Source,
    options: &legacy::Options,
    progress: &mut dyn legacy::Progress,
) -> Result<legacy::Report, RunError> {
    let (plan, described) = match read_and_plan(source, options, progress, legacy::d1_plan).await? {
        Planned::Apply(plan, described) => (plan, described),
        Planned::Done(report) => return Ok(report),
    };
    match step {
        D1Step::Sql(path) => {
            let text = legacy::d1_sql(&plan, &described).map_err(legacy_error)?;
            std::fs::write(path, text).map_err(|e| RunError::Other(format!("cannot write {}: {e}", path.display())))?;
            tracing::info!(file = %path.display(), "wrote the import as SQL for D1");
            Ok(plan.unapplied_report(&described, Outcome::D1Sql))
        }
        D1Step::Results(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| RunError::Other(format!("cannot read {}: {e}", path.display())))?;
            let what = format!("wrangler's output {}", path.display());
            legacy::reconcile_d1_results(&plan, &described, &text, &what).map_err(legacy_error)
        }
    }
}

/// What an import's report means for the exit code: a `--strict` refusal is
/// [`RunError::Other`], balances that differ after the import are
/// [`RunError::Mismatch`] (exit 6).
///
/// # Errors
/// As above; `Ok` for a dry run and for an import whose balances all match.
pub fn import_verdict(report: &legacy::Report) -> Result<(), RunError> {
    match report.outcome {
        Outcome::Refused => Err(RunError::Other(format!(
            "--strict: the legacy data has {} bad rows (listed above); nothing was written",
            report.bad_rows()
        ))),
        Outcome::Imported if !report.mismatches.is_empty() => Err(RunError::Mismatch(format!(
            "reconciliation: {} imported customers have a balance here that differs from the legacy one (listed above)",
            report.mismatches.len()
        ))),
        _ => Ok(()),
    }
}

/// `loyalty export legacy`: opens the chosen storage (a SQLite file must
/// exist: an export never creates one), reads it through the [`Storage`]
/// port and writes it to `target` ([`legacy::export::export`]). Returns the
/// report; see [`export_verdict`] for the exit code it calls for.
///
/// # Errors
/// [`RunError::Storage`] when the store cannot be opened or read;
/// [`RunError::Config`] for a target this build lacks; [`RunError::Other`]
/// when the target cannot be written (nothing is written then) or lacks a
/// table or column the export needs.
pub async fn export_legacy(
    storage: &StorageChoice,
    target: &legacy::export::Target,
    options: &legacy::export::ExportOptions,
    progress: &mut dyn legacy::Progress,
) -> Result<legacy::export::ExportReport, RunError> {
    if let StorageChoice::Sqlite { path } = storage
        && !path.exists()
    {
        return Err(RunError::Storage(format!(
            "{}: no such database, nothing to export (set LOYALTY_DB, DATABASE_URL or SUPABASE_URL to the store \
             the bots ran on)",
            storage.describe()
        )));
    }
    let store = open_storage(storage).await?;
    tracing::info!(storage = %storage.describe(), target = %target.describe(), "exporting");
    legacy::export::export(&*store, target, options, progress).await.map_err(legacy_error)
}

/// `loyalty export legacy --from-d1-dump FILE`: loads the SQL dump of a D1
/// database into a scratch SQLite file (`store::sqlite::from_d1_dump`), exports it
/// like [`export_legacy`], and removes the scratch file.
///
/// # Errors
/// [`RunError::Storage`] when the dump cannot be read or is not of a
/// loyalty-rs D1 database with every migration; as [`export_legacy`] otherwise.
pub async fn export_legacy_from_d1_dump(
    dump: &std::path::Path,
    target: &legacy::export::Target,
    options: &legacy::export::ExportOptions,
    progress: &mut dyn legacy::Progress,
) -> Result<legacy::export::ExportReport, RunError> {
    #[cfg(feature = "sqlite")]
    {
        let sql = std::fs::read_to_string(dump)
            .map_err(|e| RunError::Storage(format!("cannot read the D1 dump {}: {e}", dump.display())))?;
        let scratch = std::env::temp_dir().join(format!("loyalty-d1-dump-{}.db", std::process::id()));
        crate::store::sqlite::remove_files(&scratch);
        crate::store::sqlite::from_d1_dump(&sql, &scratch)
            .map_err(|e| RunError::Storage(format!("{}: {e}", dump.display())))?;
        let exported = export_legacy(&StorageChoice::Sqlite { path: scratch.clone() }, target, options, progress).await;
        crate::store::sqlite::remove_files(&scratch);
        exported
    }
    #[cfg(not(feature = "sqlite"))]
    {
        let _ = (dump, target, options, progress);
        Err(RunError::Config("--from-d1-dump needs a build with the feature `sqlite`".into()))
    }
}

/// What an export's report means for the exit code: a customer whose legacy
/// balance, read back after the write, is not ours is [`RunError::Mismatch`]
/// (exit 6).
///
/// # Errors
/// As above; `Ok` for a dry run and for an export whose balances all match.
pub fn export_verdict(report: &legacy::export::ExportReport) -> Result<(), RunError> {
    if report.mismatches.is_empty() {
        Ok(())
    } else {
        Err(RunError::Mismatch(format!(
            "reconciliation: {} customers have a legacy balance that differs from ours after the export \
             (listed above)",
            report.mismatches.len()
        )))
    }
}

fn legacy_error(e: LegacyError) -> RunError {
    match e {
        LegacyError::Config(m) => RunError::Config(m),
        e @ (LegacyError::Store { .. } | LegacyError::OurStore(_)) => RunError::Storage(e.to_string()),
        e => RunError::Other(e.to_string()),
    }
}

/// The Bot API client for `config` (`TELEGRAM_API_URL` and the bots' tokens).
///
/// # Errors
/// [`RunError::Telegram`] when the HTTP client cannot be built.
pub fn telegram(config: &Config) -> Result<HttpTelegram, RunError> {
    HttpTelegram::new(config).map_err(|e| RunError::Telegram(format!("cannot set up the Bot API client: {e}")))
}

/// `loyalty serve`: opens storage, then serves webhooks, the API and
/// `/metrics` on `listen` until `shutdown` completes, with the maintenance pass every
/// `maintenance_every`.
///
/// # Errors
/// Storage, Telegram client and listener failures, each as its [`RunError`] kind.
pub async fn serve(
    config: Config,
    storage: &StorageChoice,
    listen: SocketAddr,
    maintenance_every: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let store = open_storage(storage).await?;
    let telegram = Arc::new(telegram(&config)?);
    let bots = config.enabled_bots();
    if bots.is_empty() {
        tracing::warn!("no bot is configured (TOKEN_CLIENT, TOKEN_PARTNER, ADMIN_BOT_TOKEN): serving the API only");
    }
    let listener =
        TcpListener::bind(listen).await.map_err(|e| RunError::Other(format!("cannot listen on {listen}: {e}")))?;
    let local = listener.local_addr().map_err(|e| RunError::Other(format!("no local address: {e}")))?;
    let names: Vec<&str> = bots.iter().map(|b| b.as_str()).collect();
    tracing::info!(storage = %storage.describe(), bots = ?names, "listening on http://{local}");
    let app = App::new(engine(config, store, telegram)?)
        .with_maintenance_interval(Some(maintenance_every))
        .with_storage_kind(storage.kind())
        .with_metrics(crate::metrics::install());
    let drained = crate::server::serve(listener, app, shutdown)
        .await
        .map_err(|e| RunError::Other(format!("the server failed: {e}")))?;
    tracing::info!(complete = drained.complete, abandoned = drained.abandoned, "stopped");
    Ok(())
}

/// `loyalty poll`: opens storage, then polls every configured bot until
/// `shutdown` completes, running the maintenance pass every
/// `maintenance_every` alongside; then drains
/// deferred tasks (up to [`DEFAULT_DRAIN_TIMEOUT`]).
///
/// # Errors
/// Storage failures; [`RunError::Config`] when no bot is configured;
/// [`RunError::Telegram`] when Telegram refuses (a webhook is set, a token is wrong).
pub async fn poll(
    config: Config,
    storage: &StorageChoice,
    maintenance_every: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    if config.enabled_bots().is_empty() {
        return Err(RunError::Config(PollError::NoBots.to_string()));
    }
    let store = open_storage(storage).await?;
    let telegram = Arc::new(telegram(&config)?);
    let engine = engine(config, store, telegram.clone())?;
    let stop = CancellationToken::new();
    let signalled = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        signalled.cancel();
    });
    let maintenance = tokio::spawn(maintenance_loop(engine.clone(), maintenance_every, stop.clone().cancelled_owned()));
    let dispatcher = tokio::spawn(outbox_loop(engine.clone(), OUTBOX_IDLE, stop.clone()));
    let tasks = TaskRunner::new();
    tracing::info!(storage = %storage.describe(), "long polling");
    let result = polling::poll(engine, telegram, tasks.clone(), PollOptions::default(), stop.clone()).await;
    stop.cancel();
    let _ = tokio::time::timeout(DEFAULT_DRAIN_TIMEOUT, maintenance).await;
    let _ = tokio::time::timeout(DEFAULT_DRAIN_TIMEOUT, dispatcher).await;
    let drained = tasks.shutdown(DEFAULT_DRAIN_TIMEOUT).await;
    tracing::info!(complete = drained.complete, abandoned = drained.abandoned, "stopped");
    result.map_err(|e| match e {
        PollError::NoBots => RunError::Config(e.to_string()),
        e => RunError::Telegram(e.to_string()),
    })
}

/// Where `loyalty webhooks set` points each bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrls {
    /// Base URL: bots default to `<base_url>/webhook/<bot>`.
    pub base_url: String,
    /// The client bot's URL, when not the default.
    pub client: Option<String>,
    /// The partner bot's URL, when not the default.
    pub partner: Option<String>,
    /// The admin bot's URL, when not the default.
    pub admin: Option<String>,
}

impl WebhookUrls {
    /// The URL of each configured bot.
    fn resolve(&self, config: &Config) -> webhooks::WebhookUrls {
        let list = config
            .enabled_bots()
            .into_iter()
            .map(|bot| {
                let explicit = match bot {
                    BotKind::Client => self.client.clone(),
                    BotKind::Partner => self.partner.clone(),
                    BotKind::Admin => self.admin.clone(),
                    BotKind::Alerts => None,
                };
                (bot, explicit.unwrap_or_else(|| webhooks::webhook_url(&self.base_url, bot)))
            })
            .collect();
        webhooks::WebhookUrls::PerBot(list)
    }
}

/// One line per bot, or the first error with its exit code.
fn per_bot<T>(results: webhooks::PerBot<T>, line: impl Fn(BotKind, T) -> String) -> Result<String, RunError> {
    report(results.into_iter().map(|(bot, result)| {
        let line = result.map(|v| line(bot, v)).map_err(|e| format!("{}: failed: {e}", bot.as_str()));
        (bot, line)
    }))
}

/// The lines of a report, each a success or a failure; a failure makes the
/// whole an error that names the bots Telegram refused (each once).
fn report(lines: impl IntoIterator<Item = (BotKind, Result<String, String>)>) -> Result<String, RunError> {
    let mut text = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for (bot, line) in lines {
        match line {
            Ok(line) => text.push(line),
            Err(line) => {
                text.push(line);
                let who = format!("{} ({})", bot.as_str(), Config::token_variable(bot));
                if !failed.contains(&who) {
                    failed.push(who);
                }
            }
        }
    }
    if failed.is_empty() {
        Ok(text.join("\n"))
    } else {
        Err(RunError::Telegram(format!("{}\nTelegram refused for: {}", text.join("\n"), failed.join(", "))))
    }
}

fn webhook_error(e: webhooks::WebhookError) -> RunError {
    RunError::Config(e.to_string())
}

/// `loyalty webhooks set`: sets each bot's webhook, then the chat menu
/// button of the client and partner bots among them (and of a private admin
/// chat)
/// ([`webhooks::set_menu_buttons`]: the Mini App labelled in
/// `menu_language`, or the command list without an app), and returns a
/// report for people (never the secrets), each bot's lines together.
///
/// # Errors
/// [`RunError::Config`] for a bad URL or no configured bot; [`RunError::Telegram`] when Telegram refuses.
pub async fn set_webhooks(
    config: &Config,
    urls: &WebhookUrls,
    drop_pending: bool,
    max_connections: Option<u32>,
    menu_language: Language,
) -> Result<String, RunError> {
    let telegram = telegram(config)?;
    let options = webhooks::WebhookOptions {
        drop_pending_updates: drop_pending,
        max_connections: max_connections.unwrap_or(webhooks::DEFAULT_MAX_CONNECTIONS),
    };
    let results =
        webhooks::set_webhooks(&telegram, config, &urls.resolve(config), &options).await.map_err(webhook_error)?;
    let bots: Vec<BotKind> = results.iter().map(|(bot, _)| *bot).collect();
    let mut menus = webhooks::set_menu_buttons(&telegram, config, &bots, menu_language).await;
    let mut lines = Vec::new();
    for (bot, result) in results {
        let line = match result {
            Ok(url) => Ok(format!("{}: webhook set to {url}", bot.as_str())),
            Err(e) => Err(format!("{}: failed: {e}", bot.as_str())),
        };
        lines.push((bot, line));
        if let Some(at) = menus.iter().position(|(b, _)| *b == bot) {
            let (_, menu) = menus.remove(at);
            let line = match menu {
                Ok(button) => Ok(match button.url() {
                    Some(url) => format!("{}: menu button opens {url}", bot.as_str()),
                    None => format!(
                        "{}: menu button shows the commands (no Mini App: neither PUBLIC_URL nor FRONTEND_URL is set)",
                        bot.as_str()
                    ),
                }),
                Err(e) => Err(format!("{}: menu button failed: {e}", bot.as_str())),
            };
            lines.push((bot, line));
        }
    }
    report(lines)
}

/// `loyalty webhooks info`: returns a report for people.
///
/// # Errors
/// [`RunError::Telegram`] when Telegram cannot be asked.
pub async fn webhook_info(config: &Config) -> Result<String, RunError> {
    let telegram = telegram(config)?;
    let results = webhooks::webhook_info(&telegram, config).await.map_err(webhook_error)?;
    per_bot(results, |bot, info| {
        let mut line = if info.is_set() {
            format!("{}: webhook {} ({} pending", bot.as_str(), info.url, info.pending_update_count)
        } else {
            format!("{}: no webhook, polling ({} pending", bot.as_str(), info.pending_update_count)
        };
        if let Some(n) = info.max_connections {
            line.push_str(&format!(", max_connections {n}"));
        }
        line.push(')');
        if let Some(e) = info.last_error_message {
            match info.last_error_date.filter(|d| *d > 0) {
                Some(date) => line.push_str(&format!("; last error at {} UTC: {e}", Timestamp(date).utc_minutes())),
                None => line.push_str(&format!("; last error: {e}")),
            }
        }
        line
    })
}

/// `loyalty webhooks delete`: returns a report for people.
///
/// # Errors
/// [`RunError::Telegram`] when Telegram refuses.
pub async fn delete_webhooks(config: &Config, drop_pending: bool) -> Result<String, RunError> {
    let telegram = telegram(config)?;
    let results = webhooks::delete_webhooks(&telegram, config, drop_pending).await.map_err(webhook_error)?;
    per_bot(results, |bot, ()| {
        let dropped = if drop_pending { ", pending updates dropped" } else { "" };
        format!("{}: webhook deleted{dropped}; run `loyalty poll` to fetch updates", bot.as_str())
    })
}

/// The engine for a process: `config`, `storage`, `telegram` and the rest of
/// [`ports`].
///
/// # Errors
/// [`RunError::Config`] when `SENTRY_DSN` is malformed.
pub fn engine(config: Config, storage: Arc<dyn Storage>, telegram: Arc<dyn TelegramApi>) -> Result<Engine, RunError> {
    let ports = ports(&config, storage, telegram)?;
    Ok(Engine::new(config, ports))
}

/// The ports of a process: `storage` and `telegram`, the system clock, the
/// OS's randomness, the OpenAI assistant when `OPENAI_API_KEY` is set, and
/// the Sentry reporter when `SENTRY_DSN` is set (reports always go to the
/// logs too), and the outgoing webhooks' sender
/// ([`HttpWebhookSender`](crate::outgoing::HttpWebhookSender): public
/// addresses only).
///
/// # Errors
/// [`RunError::Config`] when `SENTRY_DSN` is malformed; [`RunError::Other`]
/// when the webhooks' HTTP client cannot be built.
pub fn ports(config: &Config, storage: Arc<dyn Storage>, telegram: Arc<dyn TelegramApi>) -> Result<Ports, RunError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let random: Arc<dyn Randomness> = Arc::new(OsRandom);
    let reporter: Arc<dyn ErrorReporter> = match Envelopes::from_config(config, clock.clone(), random.clone()) {
        Ok(Some(envelopes)) => Arc::new(SentryReporter::new(envelopes, crate::sentry::DEFAULT_TIMEOUT)),
        Ok(None) => Arc::new(NoReporter),
        Err(e) => return Err(RunError::Config(format!("invalid value for SENTRY_DSN: {e}"))),
    };
    let assistant = OpenAiAssistant::from_config(config).map(|a| Arc::new(a) as Arc<dyn Assistant>);
    let webhooks = crate::outgoing::HttpWebhookSender::new().map_err(|e| RunError::Other(e.to_string()))?;
    let webhooks: Option<Arc<dyn loyalty_core::ports::WebhookSender>> = Some(Arc::new(webhooks));
    Ok(Ports { storage, telegram, assistant, reporter, clock, random, webhooks })
}

/// Installs the `tracing` subscriber: `level` is `LOG_LEVEL` (`trace` …
/// `error`, or `off`), written to stderr as text on a terminal and as JSON
/// lines otherwise ([`init_logging_as`] with [`LogFormat::Auto`]). Does
/// nothing if one is installed.
pub fn init_logging(level: &str) {
    init_logging_as(level, LogFormat::Auto);
}

/// Installs the `tracing` subscriber writing to stderr at `level` in
/// `format` (`LOG_FORMAT`): text (colours only on a terminal) or one JSON
/// object per line with the event's fields at the top level — `timestamp`,
/// `level`, `target`, `message` and, for the per-update events of
/// [`loyalty_core::observe`], `surface`, `bot`, `kind`, `outcome`,
/// `duration_ms`, `store_calls`, … Does nothing if one is installed.
pub fn init_logging_as(level: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !terminal,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(false).with_span_list(false).try_init()
    } else {
        builder.with_target(false).with_ansi(terminal).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(pairs: &[(&str, &str)]) -> Result<StorageChoice, RunError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        StorageChoice::from_lookup(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn storage_selection() {
        assert_eq!(choose(&[]).unwrap(), StorageChoice::Sqlite { path: PathBuf::from("./loyalty.db") });
        assert_eq!(
            choose(&[("LOYALTY_DB", "/var/lib/l.db")]).unwrap(),
            StorageChoice::Sqlite { path: PathBuf::from("/var/lib/l.db") }
        );
        // Half of Supabase's pair is an error naming the other half, never a silent SQLite.
        for (set, missing) in [("SUPABASE_URL", "SUPABASE_KEY"), ("SUPABASE_KEY", "SUPABASE_URL")] {
            let half = choose(&[(set, "sb_secret_half")]).unwrap_err();
            assert_eq!(half.exit_code(), exit::CONFIG);
            let text = half.to_string();
            assert!(text.contains(missing) && !text.contains("sb_secret_half"), "{text}");
        }
        assert_eq!(
            choose(&[("SUPABASE_URL", "https://x.supabase.co/"), ("SUPABASE_KEY", "k")]).unwrap(),
            StorageChoice::PostgRest { url: "https://x.supabase.co".into(), key: Secret::new("k") }
        );
        let debug = format!("{:?}", choose(&[("SUPABASE_URL", "https://x"), ("SUPABASE_KEY", "sb_secret_xyz")]));
        assert!(!debug.contains("sb_secret_xyz"), "{debug}");
        let pg = choose(&[("DATABASE_URL", "postgres://u:p@h/db"), ("SUPABASE_URL", "x"), ("SUPABASE_KEY", "k")]);
        assert!(matches!(pg, Ok(StorageChoice::Postgres { .. })));
        assert!(matches!(choose(&[("DATABASE_URL", "host=/tmp dbname=x")]), Ok(StorageChoice::Postgres { .. })));
        assert!(choose(&[("DATABASE_URL", "loyalty.db")]).is_err());
        let bad = choose(&[("DATABASE_URL", "mysql://u:secret@h/db")]).unwrap_err();
        assert_eq!(bad.exit_code(), exit::CONFIG);
        assert!(bad.to_string().contains("DATABASE_URL") && !bad.to_string().contains("secret"));
        assert!(!format!("{:?}", choose(&[("DATABASE_URL", "postgres://u:pw@h/db")])).contains("pw"));
    }

    #[test]
    fn a_backend_not_built_in_names_its_feature() {
        for (choice, feature) in [
            (choose(&[("DATABASE_URL", "postgres://u:pw@h/db")]).unwrap(), "postgres"),
            (choose(&[("SUPABASE_URL", "https://x"), ("SUPABASE_KEY", "sb_secret_xyz")]).unwrap(), "postgrest"),
            (choose(&[]).unwrap(), "sqlite"),
        ] {
            let e = choice.not_built_in();
            assert_eq!(e.exit_code(), exit::CONFIG);
            let text = e.to_string();
            assert!(text.contains(&format!("lacks the `{feature}` feature")), "{text}");
            assert!(text.contains(&format!("--features {feature}")), "{text}");
            assert!(!text.contains("pw") && !text.contains("sb_secret_xyz"), "{text}");
        }
    }
}
