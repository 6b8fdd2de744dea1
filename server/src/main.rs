//! `saferound-server`: serve (default), or administer the database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use saferound_server::store::{self, Store, User};
use saferound_server::{AppState, DEMO_PASSWORD, accounts, bootstrap_admin, http, load_demo};

#[derive(Parser)]
#[command(
    name = "saferound-server",
    version,
    about = "SafeRound server: the hazard ledger of every device's inspections"
)]
struct Cli {
    /// Address to listen on.
    #[arg(
        long,
        env = "SAFEROUND_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    listen: SocketAddr,
    /// The SQLite database file (created and migrated on first start), or a PostgreSQL
    /// database: postgres://user:password@host:port/database (migrated at start).
    #[arg(
        long,
        env = "SAFEROUND_DB",
        default_value = "saferound-server.db",
        global = true
    )]
    db: PathBuf,
    /// Directory for photo files.
    #[arg(
        long,
        env = "SAFEROUND_BLOBS",
        default_value = "saferound-blobs",
        global = true
    )]
    blobs: PathBuf,
    /// Log filter, e.g. info or saferound_server=debug.
    #[arg(long, env = "SAFEROUND_LOG", default_value = "info", global = true)]
    log: String,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); otherwise plain HTTP,
    /// for a reverse proxy in front.
    #[arg(long, env = "SAFEROUND_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, env = "SAFEROUND_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The address browsers use, e.g. https://safety.example.edu.cn behind a reverse
    /// proxy: a form posted from any other origin is refused, and with https the session
    /// cookie is Secure and HSTS is sent. Without it, a browser's request must come from
    /// the host it was sent to.
    #[arg(long, env = "SAFEROUND_PUBLIC_URL")]
    public_url: Option<String>,
    /// Open connections at once; one more is answered 503 and closed (each is a file
    /// descriptor: the server raises its open-file limit to the system's maximum at start).
    #[arg(long, env = "SAFEROUND_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a connection may take to send a complete request header (also how long
    /// an idle keep-alive connection stays open).
    #[arg(long, env = "SAFEROUND_HEADER_TIMEOUT", default_value_t = 30)]
    header_timeout: u64,
    /// Seconds a request's body may take to arrive, from its header.
    #[arg(long, env = "SAFEROUND_BODY_TIMEOUT", default_value_t = 120)]
    body_timeout: u64,
    /// MiB of photos one device may have uploaded (or be uploading) that no synced record
    /// uses yet; past it, uploads are refused (507) until records use them.
    #[arg(long, env = "SAFEROUND_DEVICE_PHOTO_QUOTA_MIB", default_value_t = 512)]
    device_photo_quota_mib: u64,
    /// The same for all devices of an institution together.
    #[arg(
        long,
        env = "SAFEROUND_INSTITUTION_PHOTO_QUOTA_MIB",
        default_value_t = 4096
    )]
    institution_photo_quota_mib: u64,
    /// Load the demo institution (departments, sites, people; password saferound-demo).
    #[arg(long, env = "SAFEROUND_DEMO")]
    demo: bool,
    /// With --demo: also report eight demo hazards and drive some through the loop, so the
    /// dashboard has something to show.
    #[arg(long, env = "SAFEROUND_DEMO_HAZARDS", requires = "demo")]
    demo_hazards: bool,
    /// Stand the clock still at this instant (RFC 3339, e.g. 2026-03-01T09:00:00+08:00)
    /// for overdue, due soon and deadlines: for tests and demonstrations only. Unset, the
    /// system clock is used.
    #[arg(long, env = "SAFEROUND_NOW", global = true)]
    now: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The bearer token a Prometheus scraper shows to read /metrics
    /// (`Authorization: Bearer <token>`). Without it, only an administrator signed in to
    /// the dashboard can read /metrics.
    #[arg(long, env = "SAFEROUND_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Called (POST, JSON) for every incident report the server receives.
    #[arg(long, env = "SAFEROUND_INCIDENT_WEBHOOK")]
    incident_webhook: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Rebuild every ledger table from the documents alone.
    RebuildLedger,
    /// Print the canonical ledger dump (every ledger table, ordered).
    DumpLedger,
    /// Take a consistent copy of the database while the server runs (and, with
    /// --blobs-to, copy the photo files the copy refers to).
    Backup {
        to: PathBuf,
        /// Also copy the photo files (from --blobs) into this directory, after the
        /// database copy; only files it lacks are copied.
        #[arg(long)]
        blobs_to: Option<PathBuf>,
    },
    /// Put a backup in place of the database (stop the server first). The current
    /// database is kept beside it; the restored one gets a new epoch, so every device
    /// pushes again what the backup lacks.
    Restore {
        from: PathBuf,
        /// Also copy photo files the --blobs directory lacks from this directory.
        #[arg(long)]
        blobs_from: Option<PathBuf>,
    },
    /// After a PostgreSQL database was restored with pg_restore (servers stopped): give
    /// it a new epoch, so every device pushes again what the dump lacks.
    MarkRestored,
    /// Administration without the dashboard.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Create an institution (time zone: a UTC offset, +08:00 unless told).
    CreateInstitution {
        name: String,
        #[arg(long, default_value = "+08:00", allow_hyphen_values = true)]
        utc_offset: String,
        #[arg(long, default_value = saferound_core::clock::DEFAULT_TIME_ZONE)]
        time_zone: String,
    },
    /// Set an institution's time zone: its UTC offset (e.g. +08:00) and a name for people.
    SetTimeZone {
        #[arg(long)]
        institution: saferound_core::ids::InstitutionId,
        #[arg(long, allow_hyphen_values = true)]
        utc_offset: String,
        #[arg(long, default_value = "")]
        time_zone: String,
    },
    /// Create a user: --institution <id> --login --name --roles inspector,safety_office …
    CreateUser {
        #[arg(long)]
        institution: Option<saferound_core::ids::InstitutionId>,
        #[arg(long)]
        department: Option<saferound_core::ids::DepartmentId>,
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',')]
        roles: Vec<saferound_core::model::Role>,
        /// Read from SAFEROUND_PASSWORD if not given.
        #[arg(long, env = "SAFEROUND_PASSWORD")]
        password: String,
    },
    /// Create a department of an institution.
    CreateDepartment {
        #[arg(long)]
        institution: saferound_core::ids::InstitutionId,
        #[arg(long)]
        name: String,
    },
    /// Create a site to inspect: --kind dorm|laboratory|hazardous_chemical_store|kitchen|…
    CreateSite {
        #[arg(long)]
        institution: saferound_core::ids::InstitutionId,
        #[arg(long)]
        department: saferound_core::ids::DepartmentId,
        #[arg(long)]
        name: String,
        #[arg(long)]
        kind: saferound_core::model::SiteKind,
        #[arg(long, default_value = "")]
        building: String,
        #[arg(long, default_value = "")]
        floor_room: String,
    },
    /// Set a user's password.
    ResetPassword {
        login: String,
        #[arg(long, env = "SAFEROUND_PASSWORD")]
        password: String,
    },
    /// Revoke a device (a lost phone): its token stops working at once.
    RevokeDevice { id: String },
}

/// mimalloc (v2) instead of glibc's malloc: the merge threads allocate and free many
/// small objects (Automerge's op columns and hydrated values), and glibc's malloc and
/// free took about 15 % of the server's CPU in a 5,000-inspection sync. Server CPU of a
/// 1,000-inspection sync, same machine and day: 3.06–3.10 s with glibc, 1.78–2.60 s with
/// mimalloc v2 (v3: 2.27–2.63 s). See `return_freed_memory_at_once` for its memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc gives freed pages back to the system 10 ms after they are freed (longer for
/// its arenas); with no delay the server's peak memory in a 1,000-inspection sync is
/// 60–63 MB instead of 91–97 MB (glibc: 48 MB), for no measurable CPU. It also hands
/// argon2's 19 MiB per password check back, which glibc kept once its mmap threshold had
/// risen (20 logins took glibc's server from 56 MB to 407 MB for good).
fn return_freed_memory_at_once() {
    // `mi_option_purge_delay` in mimalloc v2's `mi_option_e`; the crate leaves
    // experimental options without constants and says to pass their numbers.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets an allocator option; called once at the start of `main`, before any
    // other thread exists (mi_option_set is not thread-safe).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

fn main() -> std::process::ExitCode {
    return_freed_memory_at_once();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    // Checked before anything opens (and so creates) the database.
    let metrics_token = cli.metrics_token.as_deref().map(str::trim);
    if metrics_token.is_some_and(|t| t.len() < 16) {
        return Err("--metrics-token must be at least 16 characters".into());
    }
    let origin = saferound_server::http::origin::Origin::new(
        cli.public_url.as_deref(),
        cli.tls_cert.is_some(),
    )?;
    let pg_url = cli.db.to_str().filter(|d| store::is_url(d));
    // Before anything opens (and so creates) the database.
    if let (Some(Command::Restore { .. }), Some(_)) = (&cli.command, pg_url) {
        return Err(
            "the database is PostgreSQL: restore a pg_dump with pg_restore (servers stopped), \
                    then run `saferound-server --db <url> mark-restored`"
                .into(),
        );
    }
    if let (Some(Command::Backup { .. }), Some(_)) = (&cli.command, pg_url) {
        return Err("the database is PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc -f saferound.dump <url>) \
                    and copy the --blobs directory"
            .into());
    }
    if let (Some(Command::MarkRestored), None) = (&cli.command, pg_url) {
        return Err(
            "mark-restored is for PostgreSQL; a SQLite backup is put back with `restore`".into(),
        );
    }
    if let Some(Command::Restore { from, blobs_from }) = &cli.command {
        let epoch = Store::restore_sqlite(from, &cli.db)?;
        println!(
            "restored {} from {}; new epoch {epoch}: devices will push again what it lacks",
            cli.db.display(),
            from.display()
        );
        if let Some(dir) = blobs_from {
            let n = saferound_server::backup::copy_blobs(dir, &cli.blobs)?;
            println!("copied {n} photo files into {}", cli.blobs.display());
        }
        return Ok(());
    }
    let storage: Arc<Store> = match pg_url {
        Some(url) => {
            let pg = Store::connect_postgres(url).await?;
            if let Some(Command::MarkRestored) = cli.command {
                let epoch = pg.mark_restored().await?;
                println!(
                    "marked as restored; new epoch {epoch}: devices will push again what it lacks"
                );
                return Ok(());
            }
            Arc::new(pg)
        }
        None => Arc::new(Store::open_sqlite(&cli.db)?),
    };
    let mut state = AppState::new(storage.clone(), cli.blobs.clone())
        .with_origin(origin)
        .with_photo_quota(http::admission::PhotoQuota {
            device: cli.device_photo_quota_mib.saturating_mul(1 << 20),
            institution: cli.institution_photo_quota_mib.saturating_mul(1 << 20),
        });
    if let Some(token) = metrics_token {
        state = state.with_metrics_token(token);
    }
    if let Some(now) = cli.now {
        tracing::warn!(%now, "the clock is fixed by --now / SAFEROUND_NOW");
        state = state.with_clock(Arc::new(saferound_core::FixedClock::new(now.to_utc())));
    }
    match cli.command {
        None => {
            let tls = cli.tls_cert.zip(cli.tls_key);
            serve(
                cli.listen,
                cli.demo,
                cli.demo_hazards,
                tls,
                cli.incident_webhook,
                http::serve::Limits {
                    max_connections: cli.max_connections.max(1),
                    header: std::time::Duration::from_secs(cli.header_timeout.max(1)),
                    body: std::time::Duration::from_secs(cli.body_timeout.max(1)),
                    ..Default::default()
                },
                state,
            )
            .await
        }
        Some(Command::RebuildLedger) => {
            let n = storage.rebuild_ledger().await?;
            println!("rebuilt the ledger from {n} documents");
            Ok(())
        }
        Some(Command::DumpLedger) => {
            print!("{}", storage.ledger_dump().await?);
            Ok(())
        }
        Some(Command::Backup { to, blobs_to }) => {
            if to.exists() {
                return Err(format!("{} exists; choose a new file", to.display()).into());
            }
            storage.backup(to.clone()).await?;
            println!("backup written to {}", to.display());
            // After the database copy: every photo it refers to is already a file.
            if let Some(dir) = blobs_to {
                let n = saferound_server::backup::copy_blobs(&cli.blobs, &dir)?;
                println!("copied {n} photo files to {}", dir.display());
            }
            Ok(())
        }
        Some(Command::Restore { .. }) | Some(Command::MarkRestored) => Ok(()),
        Some(Command::Admin(a)) => admin(&state, a).await,
    }
}

async fn admin(state: &AppState, a: Admin) -> Result<(), Box<dyn std::error::Error>> {
    let s = state.storage.as_ref();
    match a {
        Admin::CreateInstitution {
            name,
            utc_offset,
            time_zone,
        } => {
            let minutes = saferound_server::parse_offset(&utc_offset)
                .ok_or("--utc-offset: like +08:00, within ±14:00")?;
            let id = saferound_core::ids::InstitutionId::new();
            let now = saferound_core::ids::Timestamp(state.now()).to_string();
            s.create_institution(id, &name, &now).await?;
            saferound_server::set_time_zone(state, id, minutes, &time_zone).await?;
            println!("{id}");
        }
        Admin::SetTimeZone {
            institution,
            utc_offset,
            time_zone,
        } => {
            let minutes = saferound_server::parse_offset(&utc_offset)
                .ok_or("--utc-offset: like +08:00, within ±14:00")?;
            let name = if time_zone.is_empty() {
                format!("UTC{utc_offset}")
            } else {
                time_zone
            };
            if !saferound_server::set_time_zone(state, institution, minutes, &name).await? {
                return Err(format!("no institution {institution}").into());
            }
            println!("time zone of {institution}: {utc_offset} ({name})");
        }
        Admin::CreateUser {
            institution,
            department,
            login,
            name,
            roles,
            password,
        } => {
            if let Some(p) = accounts::password_problem(&password, &login) {
                return Err(p.into());
            }
            let id = saferound_core::ids::UserId::new();
            s.create_user(&User {
                id,
                institution,
                department,
                login,
                name,
                roles,
                password_hash: accounts::hash_password(&password),
                active: true,
            })
            .await?;
            if let Some(i) = institution {
                saferound_server::directory::refresh(state, i).await?;
            }
            println!("{id}");
        }
        Admin::CreateDepartment { institution, name } => {
            let id = saferound_core::ids::DepartmentId::new();
            s.create_department(&saferound_server::store::Department {
                id,
                institution,
                name,
            })
            .await?;
            saferound_server::directory::refresh(state, institution).await?;
            println!("{id}");
        }
        Admin::CreateSite {
            institution,
            department,
            name,
            kind,
            building,
            floor_room,
        } => {
            let id = saferound_core::ids::SiteId::new();
            s.create_site(&saferound_server::store::Site {
                id,
                institution,
                department,
                name,
                kind,
                building,
                floor_room,
            })
            .await?;
            saferound_server::directory::refresh(state, institution).await?;
            println!("{id}");
        }
        Admin::ResetPassword { login, password } => {
            if let Some(p) = accounts::password_problem(&password, &login) {
                return Err(p.into());
            }
            // The user's sessions end and their devices are revoked with the old password.
            if !s
                .set_password(&login, &accounts::hash_password(&password))
                .await?
            {
                return Err(format!("no user '{login}'").into());
            }
            println!("password of {login} changed");
        }
        Admin::RevokeDevice { id } => {
            if !s.revoke_device(None, &id).await? {
                return Err(format!("no active device '{id}'").into());
            }
            println!("device {id} revoked");
        }
    }
    Ok(())
}

async fn serve(
    listen: SocketAddr,
    demo: bool,
    demo_hazards: bool,
    tls: Option<(PathBuf, PathBuf)>,
    webhook: Option<String>,
    limits: http::serve::Limits,
    state: AppState,
) -> Result<(), Box<dyn std::error::Error>> {
    // Replicas on one PostgreSQL database may start together: each seeds under a lock
    // shared through the database, so the first creates the administrator and the demo
    // institution and the others, once it is done, find them there and skip (both check
    // before writing). Without it two would both see an empty database and the second
    // would fail on the first's rows — or, worse, refresh the directory from half of
    // them. SQLite has one serving process, so the lock is nothing there.
    let seeding = state
        .storage
        .lock(saferound_server::store::LockFor::Startup)
        .await?;
    // A ledger an older derivation made is derived again from the documents first, so
    // the pages show what this release projects for every record, not only for those
    // that change from now on.
    if let Some(n) = state.storage.rebuild_ledger_if_older().await?
        && n > 0
    {
        println!("Rebuilt the ledger from {n} documents for this release.");
    }
    if let Some(password) = bootstrap_admin(&state).await? {
        println!(
            "Created the administrator: login 'admin', one-time password '{password}'. Change it after first login."
        );
    }
    if demo {
        tracing::warn!(
            "--demo: the demo logins share the published password '{DEMO_PASSWORD}'; never use --demo in production"
        );
    }
    if demo && load_demo(&state).await? {
        println!(
            "Loaded the demo institution; logins {}; password '{DEMO_PASSWORD}'.",
            saferound_server::seed::demo_logins().join(", ")
        );
    }
    if demo && demo_hazards {
        let n = saferound_server::web::demo::seed(&state).await?;
        if n > 0 {
            println!("Loaded {n} demo hazards; the dashboard is at /login (login office).");
        } else {
            // Said, not skipped silently: the sample hazards would mix with real ones.
            println!(
                "--demo-hazards: the demo institution already has hazards, so no sample hazards were added (they go only into an empty ledger)."
            );
        }
    }
    if webhook.is_some() {
        // Under the same lock: replicas starting together agree on where the webhook
        // starts, and no incident falls between one's start and the other's.
        saferound_server::incidents::webhook_cursor(&state).await?;
    }
    drop(seeding);
    if let Some(url) = webhook {
        tokio::spawn(saferound_server::incidents::run_webhook(state.clone(), url));
    }
    // Photos no record used in time and stale partial uploads: at start, then hourly.
    tokio::spawn(http::blobs::sweep_every(
        state.clone(),
        std::time::Duration::from_secs(3600),
    ));
    let app = saferound_server::app::app(AppState { demo, ..state });
    let acceptor = match tls {
        Some((cert, key)) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| format!("cannot load the TLS certificate or key: {e}"))?;
            // HTTP/1.1 is what is served: a client must not negotiate h2.
            let mut c = (*config.get_inner()).clone();
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(c)))
        }
        None => None,
    };
    let open_files = http::serve::raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    // Tests and scripts read this line to find the port when listening on port 0.
    println!("listening on {scheme}://{addr}");
    tracing::info!(%addr, scheme, ?limits, ?open_files, "SafeRound server started");
    http::serve::serve(listener, app, acceptor, limits, shutdown()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish in-flight requests.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
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
        _ = ctrl_c => {},
        _ = term => {},
    }
}
