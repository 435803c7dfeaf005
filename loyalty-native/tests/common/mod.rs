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
