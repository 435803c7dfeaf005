//! Test databases on a real PostgreSQL server: one migrated template per
//! process, a fresh copy per test, stale copies of dead processes dropped.
//! The server is `LOYALTY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, trust authentication).

use super::postrust::{AUTHENTICATOR, Postrust};
use loyalty_core::ports::StoreError;
use loyalty_native::store::postgres::{MIGRATIONS, migrate};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

/// The test server: `LOYALTY_TEST_DATABASE_URL` or the local default.
pub fn server_url() -> String {
    std::env::var("LOYALTY_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The test server's connection settings.
pub fn server_config() -> tokio_postgres::Config {
    server_url().parse().expect("valid LOYALTY_TEST_DATABASE_URL")
}

/// The test server's host and port.
pub fn host_port() -> (String, u16) {
    let config = server_config();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// `server_url` with another database name.
pub fn url_for(db: &str) -> String {
    let config = server_config();
    let mut url = String::from("postgres://");
    if let Some(user) = config.get_user() {
        url.push_str(user);
        if let Some(pw) = config.get_password() {
            url.push(':');
            url.push_str(&String::from_utf8_lossy(pw));
        }
        url.push('@');
    }
    let (host, port) = host_port();
    format!("{url}{host}:{port}/{db}")
}

/// A URL for `db` as `user`, without a password.
pub fn url_for_user(db: &str, user: &str) -> String {
    let (host, port) = host_port();
    format!("postgres://{user}@{host}:{port}/{db}")
}

/// How long [`connect`] and the template's migration wait for the server to
/// have a free connection slot.
const FULL_SERVER_PATIENCE: Duration = Duration::from_secs(60);

/// Whether `e` says the server has no free connection slot (SQLSTATE 53300,
/// "sorry, too many clients already"): temporary while other test processes
/// share the server.
fn is_server_full(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::TOO_MANY_CONNECTIONS)
        || e.to_string().contains("too many clients")
}

/// Runs `attempt` until it succeeds or fails for another reason than
/// `is_full`, or [`FULL_SERVER_PATIENCE`] has passed, backing off from 50 ms
/// to 1 s between attempts.
async fn while_server_full<T, E, F: std::future::Future<Output = Result<T, E>>>(
    is_full: impl Fn(&E) -> bool,
    mut attempt: impl FnMut() -> F,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match attempt().await {
            Err(e) if is_full(&e) && started.elapsed() < FULL_SERVER_PATIENCE => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// A client for `url` (its connection runs on a spawned task). Every test
/// process shares the server, so a connection refused for want of a free slot
/// (53300) is tried again for up to a minute before the test fails.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    connect_driven(url).await.0
}

/// [`connect`], and the task driving the connection, which ends when the
/// client is dropped and the connection closed.
async fn connect_driven(url: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (client, connection) = while_server_full(is_server_full, || tokio_postgres::connect(url, NoTls))
        .await
        .unwrap_or_else(|e| panic!("connect to the test server: {e:?}"));
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, driver)
}

/// How many admin statements (create, copy or drop a database) a test process
/// runs at once, each on a connection of its own. The server's connections are
/// shared by every test process: a test dropping its ~90 databases all at once
/// (the conformance suite) took every slot, and another test's connection
/// failed with "too many clients".
static ADMIN_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Runs `sql` on a connection of its own to the server's default database,
/// taking one of the process's [`ADMIN_SLOTS`] until the connection is closed.
async fn admin(sql: &str) -> Result<(), tokio_postgres::Error> {
    let _slot = ADMIN_SLOTS.acquire().await.expect("the semaphore is never closed");
    let (client, driver) = connect_driven(&server_url()).await;
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    result
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The migrated template database of this process, and the authenticator role.
pub async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let admin = connect(&server_url()).await;
            drop_stale_databases(&admin).await;
            let name = format!("loyalty_t_{}_tmpl", std::process::id());
            admin.batch_execute(&format!("drop database if exists {name} with (force)")).await.expect("drop old tmpl");
            admin.batch_execute(&format!("create database {name}")).await.expect("create template database");
            // A full server fails the migration's connection as unavailable (53300); the
            // migrations are idempotent, so a later attempt picks up where this one stopped.
            let url = url_for(&name);
            let applied = while_server_full(
                |e| matches!(e, StoreError::Unavailable(text) if text.starts_with("53300")),
                || migrate(&url),
            )
            .await
            .expect("migrate the template");
            assert_eq!(applied.len(), MIGRATIONS.len(), "every migration applied to the template");
            // Roles are shared by the whole server, and other test processes may be here at once.
            let setup = format!(
                "do $$ begin
                   create role {AUTHENTICATOR} login noinherit;
                 exception when duplicate_object or unique_violation then null;
                 end $$;
                 grant anon, authenticated, service_role to {AUTHENTICATOR};"
            );
            let mut attempt = 0;
            while let Err(e) = admin.batch_execute(&setup).await {
                attempt += 1;
                assert!(attempt < 10, "cannot set up {AUTHENTICATOR}: {e:?}");
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            name
        })
        .await
}

/// Drops databases left behind by test processes that no longer run.
async fn drop_stale_databases(admin: &tokio_postgres::Client) {
    let rows = admin
        .query("select datname from pg_database where datname like 'loyalty\\_t\\_%'", &[])
        .await
        .expect("list databases");
    for row in rows {
        let name: String = row.get(0);
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = admin.batch_execute(&format!("drop database if exists {name} with (force)")).await;
        }
    }
}

/// A fresh name for a test database of this process.
fn next_name() -> String {
    format!("loyalty_t_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed))
}

/// A test database of this process (dropped with [`Database::drop_db`];
/// one left behind is dropped by the next test process).
#[derive(Debug)]
pub struct Database {
    /// The database's name.
    pub name: String,
}

impl Database {
    /// A fresh copy of the migrated template.
    pub async fn migrated() -> Database {
        let template = template().await;
        let name = next_name();
        admin(&format!("create database {name} template {template}")).await.expect("copy the template");
        Database { name }
    }

    /// A new, empty database (not migrated).
    pub async fn empty() -> Database {
        let name = next_name();
        admin(&format!("create database {name}")).await.expect("create database");
        Database { name }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        url_for(&self.name)
    }

    /// A client of the database.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url()).await
    }

    /// Drops the database (closing its connections).
    pub async fn drop_db(self) {
        let _ = admin(&format!("drop database if exists {} with (force)", self.name)).await;
    }
}

/// A fresh database copied from the template, with `postrust` in front of it.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// The `postrust` in front of it.
    pub server: Postrust,
}

impl TestDb {
    /// A fresh migrated database with `postrust` in front of it.
    pub async fn new() -> TestDb {
        TestDb::prepared("").await
    }

    /// Like [`TestDb::new`], running `sql` on the copy before `postrust` starts.
    pub async fn prepared(sql: &str) -> TestDb {
        let Database { name } = Database::migrated().await;
        if !sql.is_empty() {
            connect(&url_for(&name)).await.batch_execute(sql).await.expect("prepare the database");
        }
        let server = Postrust::start(&name).await;
        TestDb { name, server }
    }

    /// A client of the database.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&url_for(&self.name)).await
    }

    /// Stops `postrust` and drops the database.
    pub async fn drop_db(self) {
        let TestDb { name, server } = self;
        server.stop().await;
        Database { name }.drop_db().await;
    }
}
