//! What the tests on SQLite files share (each test crate uses part of it).

#![allow(dead_code)]

#[cfg(feature = "postgres")]
pub(crate) mod legacy;

use loyalty_native::store::sqlite::SqliteStore;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A unique scratch directory under the system temp dir, removed on drop.
pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
    files: AtomicUsize,
}

impl Scratch {
    pub(crate) fn new(name: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("loyalty-sqlite-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch { dir, files: AtomicUsize::new(0) }
    }

    /// A fresh database path in the directory.
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.join(format!("db-{}.sqlite", self.files.fetch_add(1, Ordering::Relaxed)))
    }

    /// A fresh, empty store on a new file.
    pub(crate) async fn store(&self) -> Result<SqliteStore, String> {
        SqliteStore::open(self.db()).map_err(|e| e.to_string())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The rest of a child's stderr, line by line.
pub(crate) type Lines = std::io::Lines<std::io::BufReader<std::process::ChildStderr>>;

/// Spawns `cmd` — a `loyalty serve … --listen 127.0.0.1:0` — with its stderr
/// piped and waits until it says where it listens: the child, its address
/// and the rest of its log.
pub(crate) async fn spawn_listening(mut cmd: std::process::Command) -> (std::process::Child, String, Lines) {
    use std::io::BufRead;
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run loyalty serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (addr, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.expect("a log line");
            if let Some(at) = line.find("listening on http://") {
                // Text on a terminal, JSON lines here (stderr is a pipe): the address ends either way.
                let rest = &line[at + "listening on http://".len()..];
                let addr: String = rest.chars().take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':')).collect();
                return (addr, lines);
            }
        }
        panic!("the server never said where it listens");
    })
    .await
    .expect("the log reader");
    (child, addr, rest)
}
