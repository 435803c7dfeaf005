//! Runs the embedding example: the engine on an SQLite file (`LOYALTY_DB`,
//! default `embed.db`), the configuration from the environment (the same
//! variables as `loyalty serve`), on `LISTEN` (default `127.0.0.1:8080`), with
//! the maintenance pass every minute and a graceful stop on Ctrl-C.

use loyalty_core::Config;
use loyalty_embed_example::{LoggingStore, Milestones, app, engine};
use loyalty_native::server::App;
use loyalty_native::store::sqlite::SqliteStore;
use loyalty_native::{runtime, tasks};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[tokio::main]
async fn main() -> ExitCode {
    runtime::init_logging(&std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into()));
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let config = Config::from_lookup(|k| std::env::var(k).ok()).map_err(|e| e.to_string())?;
    let path = std::env::var("LOYALTY_DB").unwrap_or_else(|_| "embed.db".into());
    let store = Arc::new(LoggingStore::new(SqliteStore::open(&path).map_err(|e| e.to_string())?));
    let telegram = Arc::new(runtime::telegram(&config).map_err(|e| e.to_string())?);
    let core = runtime::engine(config, store.clone(), telegram).map_err(|e| e.to_string())?;
    let the_app = App::new(engine(core, Milestones::default()));

    let (stop, mut stopped) = watch::channel(false);
    let until_stopped = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let maintenance =
        tokio::spawn(tasks::maintenance_loop(the_app.engine().clone(), Duration::from_secs(60), until_stopped));
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener =
        tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!("listening on http://{listen}");
    axum::serve(listener, app(the_app.clone(), store))
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
        })
        .await
        .map_err(|e| e.to_string())?;
    let _ = maintenance.await;
    // Notifications still being sent finish before the process ends.
    the_app.tasks().shutdown(Duration::from_secs(20)).await;
    Ok(())
}
