//! `loyalty`: run a loyalty program's bots and API on this machine.
//!
//! See `loyalty --help`, the crate's README and `docs/SELF_HOSTING.md`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use clap::{ArgGroup, Args, Parser, Subcommand};
use loyalty_core::config::LogFormat;
use loyalty_core::domain::Language;
use loyalty_core::ports::Clock;
use loyalty_core::{Config, Secret};
use loyalty_native::clock::SystemClock;
use loyalty_native::export;
use loyalty_native::legacy::{self, StderrProgress};
use loyalty_native::runtime::{self, EXIT_CODES_HELP, RunError, StorageChoice, exit};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Run a loyalty program's Telegram bots and REST API on this machine.
///
/// Configuration comes from environment variables (TOKEN_CLIENT, TOKEN_PARTNER,
/// ADMIN_BOT_TOKEN, ADMIN_CHAT_ID, …; see docs/CONFIGURATION.md). Storage:
/// DATABASE_URL selects PostgreSQL (feature `postgres`), SUPABASE_URL and
/// SUPABASE_KEY Supabase's PostgREST (feature `postgrest`), otherwise a SQLite
/// file at LOYALTY_DB, default ./loyalty.db (feature `sqlite`, the default).
#[derive(Debug, Parser)]
#[command(name = "loyalty", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve webhooks and the REST API over HTTP (put HTTPS in front of it).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        maintenance: Maintenance,
    },
    /// Fetch updates with long polling instead of webhooks (no public URL needed).
    Poll {
        #[command(flatten)]
        maintenance: Maintenance,
    },
    /// Set, inspect or delete the bots' webhooks.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksCommand,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Play the program's scenarios over real HTTP against a local fake Telegram; no accounts needed.
    Simulate,
    /// Bring customers, partners and history from another system into the configured store.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Write the configured store back into another system (the rollback).
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// Replay the stored ledger, read only, under a proposed rules document and print what it would
    /// have issued, expired and redeemed and the liability left, beside what actually happened.
    Whatif {
        /// The proposed rules document (JSON; `-`: standard input).
        #[arg(long, value_name = "FILE")]
        rules: PathBuf,
        /// Print the figures as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show or change the program's rules (a JSON document; see docs/RULES.md).
    Rules {
        #[command(subcommand)]
        action: RulesCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Print the rules in force as a JSON document (its version and date on stderr), e.g. to edit
    /// and set again, or to keep.
    Show,
    /// Store the JSON document in FILE (`-`: standard input) as a new version of the rules; points
    /// earned from then on follow it. A document that is not valid changes nothing.
    Set {
        /// The document.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Into the Python loyalty bot's tables, so going back to it keeps every point earned here: each
    /// customer's users row gets our balance (new customers are added with our code as referral_code),
    /// each entry made here becomes a transactions row marked "loyalty-rs entry …", partners and
    /// applications get their status. One transaction; running it again writes nothing. The report
    /// reconciles the legacy balances, read back, with ours.
    Legacy(ExportArgs),
    /// The program's data for accounting or a CRM: customers, partners and every ledger entry, one file
    /// per table (customers.csv, partners.csv, entries.csv, or .jsonl), streamed page by page from the
    /// configured store, so a ledger of any length fits. Times are Unix seconds (UTC).
    Data(DataArgs),
}

#[derive(Debug, Args)]
struct DataArgs {
    /// The directory to write into (created if missing; files of the same names are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// csv (a header row; spreadsheet formulas neutralised) or jsonl (one JSON object per line).
    #[arg(long, value_name = "FORMAT", default_value = "csv", value_parser = ["csv", "jsonl"])]
    format: String,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("to").required(true).args(["to_postgres", "to_backup"])))]
struct ExportArgs {
    /// The legacy PostgreSQL database, postgres://user:password@host:port/database (plain TCP;
    /// feature `postgres`).
    #[arg(long, value_name = "URL")]
    to_postgres: Option<String>,
    /// Write a JSON file in the format of the legacy backup_database.py instead.
    #[arg(long, value_name = "FILE")]
    to_backup: Option<PathBuf>,
    /// Read the program from the SQL dump of its D1 database (`wrangler d1 export <database> --remote
    /// --output FILE`) instead of the configured store: for the Workers on D1.
    #[arg(long, value_name = "FILE")]
    from_d1_dump: Option<PathBuf>,
    /// Read and plan only: print what would be written, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// From the Python loyalty bot's Supabase tables (users, partners,
    /// partner_applications, transactions): customers with their balances,
    /// referrers and history, partners and applications. Bad rows are skipped
    /// and listed; the report reconciles the legacy balances with ours.
    /// Running it again changes nothing; a later run brings only what changed.
    Legacy(LegacyArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("from").required(true).args(["from_backup", "from_postgres", "from_supabase"])))]
struct LegacyArgs {
    /// A JSON file written by the legacy program's backup_database.py.
    #[arg(long, value_name = "FILE")]
    from_backup: Option<PathBuf>,
    /// The legacy PostgreSQL database, postgres://user:password@host:port/database (plain TCP;
    /// feature `postgres`).
    #[arg(long, value_name = "URL")]
    from_postgres: Option<String>,
    #[arg(
        long,
        value_name = "URL",
        help = "The legacy Supabase project, https://PROJECT.supabase.co, read over its Data API with the key \
                in LEGACY_SUPABASE_KEY (the service role key)"
    )]
    from_supabase: Option<String>,
    /// Refuse to write anything if any legacy row is bad (by default bad rows are skipped and listed).
    #[arg(long)]
    strict: bool,
    /// Read and plan only: print what would be sent, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// For Cloudflare D1, which the import cannot reach: write the batches into this SQL file, to run with
    /// `wrangler d1 execute <database> --remote --file FILE` (its header says how), instead of writing into a
    /// store.
    #[arg(long, value_name = "FILE", conflicts_with = "d1_results")]
    d1_sql: Option<PathBuf>,
    /// Reconcile a --d1-sql file run on D1: read wrangler's --json output with its answers (the file's
    /// header says how to get it); same source and options as for the file.
    #[arg(long, value_name = "FILE")]
    d1_results: Option<PathBuf>,
    /// Customers per atomic batch.
    #[arg(long, value_name = "N", default_value_t = legacy::DEFAULT_BATCH_SIZE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    batch_size: usize,
}

impl LegacyArgs {
    /// `--d1-sql` or `--d1-results`, if either.
    fn d1_step(&self) -> Option<runtime::D1Step> {
        let sql = self.d1_sql.clone().map(runtime::D1Step::Sql);
        sql.or_else(|| self.d1_results.clone().map(runtime::D1Step::Results))
    }

    /// The source asked for; the Supabase key comes from `LEGACY_SUPABASE_KEY`.
    fn source(&self) -> Result<legacy::Source, RunError> {
        if let Some(path) = &self.from_backup {
            return Ok(legacy::Source::Backup(path.clone()));
        }
        if let Some(url) = &self.from_postgres {
            return Ok(legacy::Source::Postgres(Secret::new(url.clone())));
        }
        let url = self.from_supabase.clone().unwrap_or_default();
        let Some(key) = env("LEGACY_SUPABASE_KEY").filter(|k| !k.trim().is_empty()) else {
            return Err(RunError::Config(
                "missing configuration variable LEGACY_SUPABASE_KEY: --from-supabase reads the legacy project with \
                 it (Supabase → Project Settings → API → service_role key)"
                    .into(),
            ));
        };
        Ok(legacy::Source::Supabase(legacy::SupabaseSource::new(url, Secret::new(key.trim()))))
    }
}

#[derive(Debug, Args)]
struct Maintenance {
    /// Seconds between maintenance passes (expire redemption requests, resume broadcasts).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    maintenance_interval: u64,
}

impl Maintenance {
    fn every(&self) -> Duration {
        Duration::from_secs(self.maintenance_interval)
    }
}

#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// Point every configured bot at this server (`<base-url>/webhook/<bot>`).
    Set(SetArgs),
    /// Show each configured bot's webhook as Telegram reports it.
    Info,
    /// Remove the webhooks (to switch back to `loyalty poll`).
    Delete {
        /// Also drop the updates Telegram is holding for the bots.
        #[arg(long)]
        drop_pending: bool,
    },
}

#[derive(Debug, Args)]
struct SetArgs {
    #[arg(long, help = "Public HTTPS base URL of this server, e.g. https://loyalty.example.com")]
    base_url: String,
    /// Webhook URL of the client bot (default `<base-url>/webhook/client`).
    #[arg(long)]
    client_url: Option<String>,
    /// Webhook URL of the partner bot (default `<base-url>/webhook/partner`).
    #[arg(long)]
    partner_url: Option<String>,
    /// Webhook URL of the admin bot (default `<base-url>/webhook/admin`).
    #[arg(long)]
    admin_url: Option<String>,
    /// Drop the updates Telegram is holding for the bots.
    #[arg(long)]
    drop_pending: bool,
    /// Most simultaneous webhook connections Telegram opens per bot (1–100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_connections: Option<u32>,
    /// Language of the label on the client and partner bots' menu button that opens the Mini App
    /// (ru, en, vi); the button is set from PUBLIC_URL or FRONTEND_URL, or reset without them.
    #[arg(long, value_name = "LANG", default_value = "en", value_parser = menu_language)]
    menu_language: Language,
}

/// `--menu-language`: `ru`, `en` or `vi`.
fn menu_language(code: &str) -> Result<Language, String> {
    Language::parse(code.trim()).ok_or_else(|| "expected ru, en or vi".to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the Tokio runtime: {e}");
            return ExitCode::from(exit::OTHER);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Configuration from the environment, with logging set up from `LOG_LEVEL`;
/// a half-configured bot stops the command.
fn config() -> Result<Config, RunError> {
    let config = Config::from_lookup(env)?;
    config.check_complete()?;
    runtime::init_logging_as(&config.log_level, config.log_format);
    Ok(config)
}

async fn run(command: Command) -> Result<(), RunError> {
    match command {
        Command::Serve { listen, maintenance } => {
            let config = config()?;
            let storage = StorageChoice::from_lookup(env)?;
            runtime::serve(config, &storage, listen, maintenance.every(), shutdown_signal()).await
        }
        Command::Poll { maintenance } => {
            let config = config()?;
            let storage = StorageChoice::from_lookup(env)?;
            runtime::poll(config, &storage, maintenance.every(), shutdown_signal()).await
        }
        Command::Webhooks { action } => {
            let config = config()?;
            match action {
                WebhooksCommand::Set(a) => {
                    let urls = runtime::WebhookUrls {
                        base_url: a.base_url,
                        client: a.client_url,
                        partner: a.partner_url,
                        admin: a.admin_url,
                    };
                    let report =
                        runtime::set_webhooks(&config, &urls, a.drop_pending, a.max_connections, a.menu_language)
                            .await?;
                    println!("{report}");
                }
                WebhooksCommand::Info => println!("{}", runtime::webhook_info(&config).await?),
                WebhooksCommand::Delete { drop_pending } => {
                    println!("{}", runtime::delete_webhooks(&config, drop_pending).await?);
                }
            }
            Ok(())
        }
        Command::Migrate => {
            let _ = config()?;
            let storage = StorageChoice::from_lookup(env)?;
            println!("{}", runtime::migrate(&storage).await?);
            Ok(())
        }
        Command::Simulate => {
            let format = env("LOG_FORMAT").and_then(|f| LogFormat::parse(&f)).unwrap_or_default();
            runtime::init_logging_as(&env("LOG_LEVEL").unwrap_or_else(|| "warn".into()), format);
            let outcome = loyalty_native::simulate::run().await.map_err(|e| RunError::Other(e.to_string()))?;
            print!("{}", outcome.render());
            if outcome.passed() { Ok(()) } else { Err(RunError::Other("the simulation's checks failed".into())) }
        }
        Command::Import { what: ImportCommand::Legacy(args) } => {
            let _ = config()?;
            let source = args.source()?;
            let options = legacy::Options {
                strict: args.strict,
                dry_run: args.dry_run,
                batch_size: args.batch_size,
                now: SystemClock.now(),
            };
            let mut progress = StderrProgress::new();
            let report = match args.d1_step() {
                Some(step) => runtime::import_legacy_d1(&step, &source, &options, &mut progress).await?,
                None => {
                    let storage = StorageChoice::from_lookup(env)?;
                    runtime::import_legacy(&storage, &source, &options, &mut progress).await?
                }
            };
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{report}");
            }
            runtime::import_verdict(&report)
        }
        Command::Whatif { rules, json } => {
            let _ = config()?;
            let storage = StorageChoice::from_lookup(env)?;
            let text = read_document(&rules)?;
            let answer = runtime::what_if(&storage, &text, SystemClock.now()).await?;
            if json {
                println!("{}", answer.to_json());
            } else {
                print!("{answer}");
            }
            Ok(())
        }
        Command::Rules { action } => {
            let _ = config()?;
            let storage = StorageChoice::from_lookup(env)?;
            let version = match action {
                RulesCommand::Show => runtime::program_rules(&storage).await?,
                RulesCommand::Set { file } => {
                    runtime::set_program_rules(&storage, &read_document(&file)?, SystemClock.now()).await?
                }
            };
            let since = version.created_at.map_or_else(|| "the defaults".to_owned(), |t| t.utc_minutes() + " UTC");
            eprintln!("rules version {} ({since})", version.version);
            println!("{}", version.rules.to_pretty_json());
            Ok(())
        }
        Command::Export { what: ExportCommand::Data(args) } => {
            let _ = config()?;
            let storage = StorageChoice::from_lookup(env)?;
            let format = if args.format == "jsonl" { export::Format::JsonLines } else { export::Format::Csv };
            let exported = runtime::export_data(&storage, &args.out, format).await?;
            for (table, path, rows) in exported.files {
                println!("{table}: {rows} rows → {}", path.display());
            }
            Ok(())
        }
        Command::Export { what: ExportCommand::Legacy(args) } => {
            let _ = config()?;
            let target = match (args.to_postgres, args.to_backup) {
                (Some(url), _) => legacy::export::Target::Postgres(Secret::new(url)),
                (None, Some(path)) => legacy::export::Target::Backup(path),
                (None, None) => return Err(RunError::Config("--to-postgres or --to-backup is required".into())),
            };
            let options = legacy::export::ExportOptions { dry_run: args.dry_run, now: SystemClock.now() };
            let mut progress = StderrProgress::new();
            let report = match &args.from_d1_dump {
                Some(dump) => runtime::export_legacy_from_d1_dump(dump, &target, &options, &mut progress).await?,
                None => {
                    let storage = StorageChoice::from_lookup(env)?;
                    runtime::export_legacy(&storage, &target, &options, &mut progress).await?
                }
            };
            drop(progress);
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{report}");
            }
            runtime::export_verdict(&report)
        }
    }
}

/// The text of a document named on the command line (`-`: standard input).
fn read_document(file: &std::path::Path) -> Result<String, RunError> {
    if file.as_os_str() == "-" { std::io::read_to_string(std::io::stdin()) } else { std::fs::read_to_string(file) }
        .map_err(|e| RunError::Config(format!("cannot read {}: {e}", file.display())))
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown signal received");
}
