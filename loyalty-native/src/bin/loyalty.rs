//! `loyalty`: run a loyalty program's bots and API on this machine.
//!
//! See `loyalty --help`, the crate's README and `docs/SELF_HOSTING.md`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use clap::{Args, Parser, Subcommand};
use loyalty_core::Config;
use loyalty_native::runtime::{self, EXIT_CODES_HELP, RunError, StorageChoice, exit};
use std::net::SocketAddr;
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
    runtime::init_logging(&config.log_level);
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
                    let report = runtime::set_webhooks(&config, &urls, a.drop_pending, a.max_connections).await?;
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
            runtime::init_logging(&env("LOG_LEVEL").unwrap_or_else(|| "warn".into()));
            let outcome = loyalty_native::simulate::run().await.map_err(|e| RunError::Other(e.to_string()))?;
            print!("{}", outcome.render());
            if outcome.passed() { Ok(()) } else { Err(RunError::Other("the simulation's checks failed".into())) }
        }
    }
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
