//! Harness for end-to-end tests and the load generator: a real `saferound-server`
//! process on a free loopback port with its own database, and devices that are real
//! store files driven by the core's API and its sync client.

// The test harness: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod hostile;
pub mod proxy;

use saferound_core::{Device, SystemClock};
use saferound_server::store::scratch;

/// The `--metrics-token` of every server the harness starts (`Server::metrics`).
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// The password of every demo person on a `--demo` server.
pub const DEMO_PASSWORD: &str = saferound_server::DEMO_PASSWORD;

/// `SAFEROUND_SERVER_BINARY`: a `saferound-server` binary to run instead of this
/// build's — the previous release's, when its databases are written as upgrade fixtures
/// (`tests/e2e/upgrade.rs`).
pub const SERVER_BINARY_ENV: &str = "SAFEROUND_SERVER_BINARY";

/// The `saferound-server` binary of this build, brought up to date once per test run
/// (a no-op when it is; it keeps tests from running a stale server), or the one
/// `SAFEROUND_SERVER_BINARY` names.
pub fn server_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(other) = std::env::var_os(SERVER_BINARY_ENV) {
                return PathBuf::from(other);
            }
            let exe = std::env::current_exe().expect("test executable");
            // target/<profile>/deps/<test> or target/<profile>/<bin> → target/<profile>
            let mut dir = exe.parent().expect("target dir");
            if dir.ends_with("deps") {
                dir = dir.parent().expect("target dir");
            }
            let mut c = Command::new(env!("CARGO"));
            c.args([
                "build",
                "-q",
                "-p",
                "saferound-server",
                "--bin",
                "saferound-server",
            ]);
            if dir.ends_with("release") {
                c.arg("--release");
            }
            let status = c.status().expect("cargo build");
            assert!(status.success(), "building saferound-server failed");
            dir.join(format!("saferound-server{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

/// A running server process; killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    /// The database: a SQLite file, or a `postgres://` URL (see `start_with_db`).
    pub db: PathBuf,
    pub dir: PathBuf,
    /// The photo directory (`dir/blobs`), shared by replicas of one database.
    pub blobs: PathBuf,
    /// What the server printed before it listened (the administrator's one-time
    /// password on a new database, the demo's logins).
    pub startup: Vec<String>,
}

impl Server {
    /// Starts a server with the demo institution on a free port, its database in `dir`.
    pub fn start(dir: &Path) -> Server {
        Self::start_with(dir, &["--demo"])
    }

    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        Self::start_env(dir, extra, &[])
    }

    /// `start_with`, with environment variables for the server process.
    pub fn start_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::spawn(&dir.join("server.db"), dir, extra, env)
    }

    /// A server on the database `db` — a SQLite file or a `postgres://` URL (see
    /// `PgDatabase`) — with its photos in `dir/blobs`. Several servers on one PostgreSQL
    /// URL and one `dir` are replicas: one database, the same photo files.
    pub fn start_with_db(dir: &Path, db: &str, extra: &[&str]) -> Server {
        Self::spawn(Path::new(db), dir, extra, &[])
    }

    /// `n` replicas on the PostgreSQL database `db`, started at the same moment (as a
    /// service manager would), each on a free port of its own.
    pub fn start_replicas(dir: &Path, db: &str, n: usize, extra: &[&str]) -> Vec<Server> {
        std::thread::scope(|s| {
            let started: Vec<_> = (0..n)
                .map(|_| s.spawn(|| Self::start_with_db(dir, db, extra)))
                .collect();
            started
                .into_iter()
                .map(|h| h.join().expect("a replica failed to start"))
                .collect()
        })
    }

    fn spawn(db: &Path, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let blobs = dir.join("blobs");
        let mut child = Command::new(server_binary())
            .env("SAFEROUND_METRICS_TOKEN", METRICS_TOKEN)
            .envs(env.iter().copied())
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .arg("--blobs")
            .arg(&blobs)
            .arg("--log")
            .arg(std::env::var("SAFEROUND_TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start saferound-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut startup = Vec::new();
        let url = loop {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not start");
            }
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(u) = line.strip_prefix("listening on ") {
                        break u.trim().to_string();
                    }
                    startup.push(line);
                }
                _ => {
                    let _ = child.wait();
                    panic!("server exited before listening");
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child: Some(child),
            url,
            db: db.to_path_buf(),
            dir: dir.to_path_buf(),
            blobs,
            startup,
        }
    }

    /// The server's `/metrics` text, read as a scraper with `METRICS_TOKEN`.
    pub fn metrics(&self) -> Option<String> {
        let mut r = agent()
            .get(format!("{}/metrics", self.url))
            .header("Authorization", format!("Bearer {METRICS_TOKEN}"))
            .call()
            .ok()?;
        if r.status() != 200 {
            return None;
        }
        r.body_mut().read_to_string().ok()
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The server's peak resident memory so far, in MB (Linux).
    pub fn peak_rss_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    /// CPU time the server process has used so far (user + system), in milliseconds.
    pub fn cpu_ms(&self) -> Option<u64> {
        process_cpu_ms(self.pid()?)
    }

    /// SIGTERM, as a service manager stops it; waits for the exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same database (a new port).
    pub fn restart(&mut self) {
        self.kill();
        let s = Server::spawn(&self.db.clone(), &self.dir.clone(), &[], &[]);
        *self = s;
    }

    /// Runs `saferound-server <args>` against this server's database.
    pub fn admin(&self, args: &[&str]) -> String {
        admin_on(&self.db, &self.blobs, args)
    }

    pub fn dump_ledger(&self) -> String {
        self.admin(&["dump-ledger"])
    }

    /// The rows of one document in the canonical ledger dump.
    pub fn ledger_rows(&self, id: saferound_core::ids::DocId) -> String {
        let id = id.to_string();
        self.dump_ledger()
            .lines()
            .filter(|l| l.contains(&id))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Asserts the ledger is a projection of the documents: rebuilt from them alone, it
    /// is the same, row for row.
    pub fn assert_ledger_equals_a_rebuild(&self) {
        let live = self.dump_ledger();
        self.admin(&["rebuild-ledger"]);
        assert_eq!(self.dump_ledger(), live, "the ledger equals one rebuilt");
    }
}

/// Runs `saferound-server <args>` against the database `db` and photo directory `blobs`,
/// asserting that it succeeds; its standard output.
pub fn admin_on(db: &Path, blobs: &Path, args: &[&str]) -> String {
    let out = Command::new(server_binary())
        .arg("--db")
        .arg(db)
        .arg("--blobs")
        .arg(blobs)
        .args(["--log", "warn"])
        .args(args)
        .env("SAFEROUND_PASSWORD", "long-enough-pw")
        .output()
        .expect("run admin command");
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh PostgreSQL database on the test cluster (`SAFEROUND_TEST_PG`, set by
/// `scripts/with-postgres.sh`), dropped with this value. For servers on PostgreSQL:
/// `Server::start_with_db(dir, &db.url, …)`.
pub struct PgDatabase {
    /// The database's URL, for `--db`.
    pub url: String,
    admin: String,
    name: String,
}

impl PgDatabase {
    /// A database for the test `test`; `None` (after saying so) when `SAFEROUND_TEST_PG` is
    /// unset, and a failure instead when `SAFEROUND_REQUIRE_PG=1` (CI) — the convention of
    /// `server/tests/storage.rs`.
    pub fn for_test(test: &str) -> Option<PgDatabase> {
        match scratch::admin_url_from_env() {
            Err(e) => panic!("{test}: {e}"),
            Ok(None) => {
                eprintln!("{test}: skipped: {} unset", scratch::TEST_PG_ENV);
                None
            }
            Ok(Some(admin)) => {
                Some(Self::create(&admin, "sr_e2e").unwrap_or_else(|e| panic!("{test}: {e}")))
            }
        }
    }

    /// A fresh database `<prefix>_<random>` on the cluster of the admin URL `admin`.
    pub fn create(admin: &str, prefix: &str) -> Result<PgDatabase, String> {
        let name = block_on(scratch::create_database(admin, prefix))
            .map_err(|e| format!("creating a database on {admin}: {e}"))?;
        Ok(PgDatabase {
            url: scratch::with_database(admin, &name),
            admin: admin.to_string(),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // WITH (FORCE): servers still connected (a killed one's connections linger until
        // PostgreSQL notices) do not keep it.
        if let Err(e) = block_on(scratch::drop_database(&self.admin, &self.name)) {
            eprintln!("dropping the test database {}: {e}", self.name);
        }
    }
}

/// Runs a future of the scratch-database helpers (tokio-postgres) to completion on a
/// runtime of its own: the tests and the load generator are otherwise synchronous.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
        .block_on(f)
}

/// `PRAGMA integrity_check` of a SQLite file, read-only ("ok" when sound).
pub fn integrity_check(db: &Path) -> String {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database read-only");
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}

/// The server database's epoch (`meta`), read-only.
pub fn server_epoch(db: &Path) -> String {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database read-only");
    c.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
        r.get(0)
    })
    .expect("epoch")
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Enrolls a new device for `login` into a store file in `dir`, and syncs it once (it
/// receives the directory), as the apps do.
pub fn enroll(server: &Server, dir: &Path, name: &str, login: &str, password: &str) -> Device {
    let d = saferound_core::sync::client::enroll(
        dir.join(format!("{name}.db")),
        &server.url,
        login,
        password,
        name,
        Arc::new(SystemClock),
    )
    .unwrap_or_else(|e| panic!("enrol {login}: {e}"));
    sync(&d);
    d
}

/// Syncs a device with whatever server it is enrolled with.
pub fn sync(d: &Device) -> saferound_core::sync::client::SyncReport {
    saferound_core::sync::client::sync(d, &mut |_| {}).unwrap_or_else(|e| panic!("sync: {e}"))
}

/// An HTTP client that returns 4xx and 5xx answers instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A JSON GET with the device's token.
pub fn get_json(server: &Server, d: &Device, path: &str) -> (u16, serde_json::Value) {
    let agent = agent();
    let mut r = agent
        .get(format!("{}{path}", server.url))
        .header("Authorization", format!("Bearer {}", token(d)))
        .call()
        .expect("GET");
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A raw GET of bytes with the device's token: (status, body).
pub fn get_bytes(server: &Server, d: &Device, path: &str) -> (u16, Vec<u8>) {
    let agent = agent();
    let mut r = agent
        .get(format!("{}{path}", server.url))
        .header("Authorization", format!("Bearer {}", token(d)))
        .call()
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_vec().unwrap_or_default())
}

/// A raw PUT with headers.
pub fn put_raw(
    server: &Server,
    path: &str,
    token: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let agent = agent();
    let mut req = agent
        .put(format!("{}{path}", server.url))
        .header("Authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let mut r = req.send(body).expect("PUT");
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// A raw POST, for hostile bodies.
pub fn post_raw(server: &Server, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let agent = agent();
    let mut req = agent
        .post(format!("{}{path}", server.url))
        .header("Content-Type", saferound_core::sync::wire::CONTENT_TYPE);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut r = req.send(body).expect("POST");
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

pub fn token(d: &Device) -> String {
    d.store().sync_settings().unwrap().token.unwrap()
}

/// CPU time a process has used so far (user + system), in milliseconds.
pub fn process_cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): utime is the 14th field
    // of the line, stime the 15th, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10)
}
