//! A real PostgREST-compatible server, `postrust` (installed by
//! `scripts/postrust.sh`), in front of a [test database](super::postgres),
//! configured like Supabase's Data API: JWT secret, anon role `anon`, exposed
//! schemas `public,loyalty`, compatibility mode. Keys are HS256 JWTs naming
//! the role, minted here.

use super::postgres::url_for_user;
use hmac::{Hmac, Mac};
use loyalty_core::Secret;
use loyalty_native::store::postgrest::PostgrestStore;
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The JWT secret of the test server (Supabase: Project Settings → API → JWT secret).
pub const JWT_SECRET: &str = "loyalty-rs-test-jwt-secret-at-least-32-characters";
/// The role `postrust` logs in as; like Supabase's `authenticator`, it may only switch roles.
pub const AUTHENTICATOR: &str = "loyalty_test_authenticator";

/// The `postrust` binary, or a failure saying how to get it.
pub fn postrust_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("POSTRUST_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "POSTRUST_BIN={} does not exist: run scripts/postrust.sh", bin.display());
        return bin;
    }
    let cache = std::env::var_os("LOYALTY_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/loyalty-rs")))
        .unwrap_or_else(|| PathBuf::from(".cache/loyalty-rs"));
    for name in ["postrust", "postrust-server"] {
        let bin = cache.join("postrust/bin").join(name);
        if bin.is_file() {
            return bin;
        }
    }
    panic!(
        "the PostgREST tests need the postrust server, which is not installed: run scripts/postrust.sh \
         (or set POSTRUST_BIN to its binary); looked in {}",
        cache.join("postrust/bin").display()
    );
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An HS256 JWT with `claims`, signed with `secret`.
pub fn jwt(claims: serde_json::Value, secret: &str) -> String {
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", b64url(&mac.finalize().into_bytes()))
}

/// A key shaped like Supabase's legacy keys: a JWT naming the role.
pub fn key_for(role: &str, secret: &str) -> String {
    jwt(
        serde_json::json!({"iss": "supabase", "ref": "loyalty-test", "role": role, "iat": 1_700_000_000, "exp": 4_000_000_000u64}),
        secret,
    )
}

/// A service-role key for the test server.
pub fn service_key() -> String {
    key_for("service_role", JWT_SECRET)
}

/// Runs `postrust` (`$0`) until it exits or our end of its stdin closes — when
/// the `Postrust` is dropped, or when this test process dies, even by SIGKILL —
/// so no server outlives its test. Its first line on stdout is the server's
/// process id.
const GUARD: &str = r#"exec 3<&0
"$0" </dev/null >/dev/null & pid=$!
echo "$pid"
exec >/dev/null
(read -r _ <&3; kill -KILL "$pid" 2>/dev/null) &
wait "$pid""#;

/// The loopback TCP port that process `pid` listens on, if it listens yet
/// (from `/proc`).
#[cfg(target_os = "linux")]
fn listening_port(pid: u32) -> Option<u16> {
    let sockets: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| Some(link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.to_string()))
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).ok()?;
    // `sl local_address rem_address st … inode`: state 0A is LISTEN; the port is the address's hex suffix.
    table.lines().skip(1).map(|line| line.split_whitespace().collect::<Vec<_>>()).find_map(|f| {
        (f.len() > 9 && f[3] == "0A" && sockets.contains(f[9]))
            .then(|| u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok())
            .flatten()
    })
}

/// A running `postrust` in front of one database; killed on drop.
pub struct Postrust {
    child: std::process::Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Postrust {
    /// Starts `postrust` for `db` and waits until it answers.
    ///
    /// On Linux the server binds port 0 and the port it got is read from
    /// `/proc`: a port picked here and bound later could be taken in between
    /// by another test's server, which would then answer the health check and
    /// the test's requests. Elsewhere a free port is picked, and the start is
    /// tried again when the server exits (losing the port).
    pub async fn start(db: &str) -> Postrust {
        let mut last = String::new();
        for _ in 0..3 {
            match Postrust::try_start(db).await {
                Ok(p) => return p,
                Err(e) => last = e,
            }
        }
        panic!("postrust did not start: {last}");
    }

    async fn try_start(db: &str) -> Result<Postrust, String> {
        let port = if cfg!(target_os = "linux") {
            0
        } else {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg(postrust_bin())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", url_for_user(db, AUTHENTICATOR))
            .env("PGRST_DB_SCHEMAS", "public,loyalty")
            .env("PGRST_DB_ANON_ROLE", "anon")
            .env("PGRST_JWT_SECRET", JWT_SECRET)
            .env("PGRST_SERVER_HOST", "127.0.0.1")
            .env("PGRST_SERVER_PORT", port.to_string())
            .env("PGRST_COMPAT_MODE", "true")
            .env("PGRST_DB_POOL", "16")
            .env("PGRST_LOG_LEVEL", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", postrust_bin().display()))?;
        let mut pid = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut pid);
        }
        let pid: Option<u32> = pid.trim().parse().ok();
        #[cfg(not(target_os = "linux"))]
        let _ = pid;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if log.len() > 64 * 1024 {
                        let cut = log.len() - 32 * 1024;
                        let cut = (cut..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(0);
                        log.drain(..cut);
                    }
                }
            });
        }
        let mut p = Postrust { child, port, log };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = p.child.try_wait() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(format!("postrust exited with {status}: {}", p.log()));
            }
            #[cfg(target_os = "linux")]
            if p.port == 0 {
                match pid.and_then(listening_port) {
                    Some(port) => p.port = port,
                    None => {
                        tokio::time::sleep(Duration::from_millis(25)).await;
                        continue;
                    }
                }
            }
            if let Ok(r) = http.get(format!("{}/healthz", p.url())).send().await
                && r.status().is_success()
            {
                return Ok(p);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("postrust did not answer within 60 s: {}", p.log()))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A store with the service key.
    pub fn store(&self) -> PostgrestStore {
        PostgrestStore::new(self.url(), Secret::new(service_key())).expect("store")
    }

    pub async fn stop(self) {
        drop(self);
    }
}

impl Drop for Postrust {
    fn drop(&mut self) {
        // Closing its stdin makes the guard kill the server; then the guard exits.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
