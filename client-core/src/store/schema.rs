//! Opening the SQLite file: pragmas, sanity checks that never touch a file that is not
//! ours or is damaged, and numbered migrations, each applied in one transaction.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{Error, Result};

/// "SRND": marks a SQLite file as a SafeRound device store.
pub const APPLICATION_ID: i32 = 0x5352_4E44;

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_index_and_sync.sql"),
    include_str!("migrations/003_sync_client.sql"),
];

pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// What a caller must do after migrating (work that needs Rust, not SQL).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Upgraded {
    /// The document index did not exist or is stale: rebuild it from the documents.
    pub rebuild_index: bool,
}

pub fn open(path: &Path) -> Result<(Connection, Upgraded)> {
    check_file(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| corrupt_or_storage(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL: readers do not block the writer; synchronous=FULL: a committed record survives
    // power loss, not just a crash of the app.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| corrupt_or_storage(path, e))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every write runs the same dozen statements; keep them all prepared.
    conn.set_prepared_statement_cache_capacity(64);
    let upgraded = migrate(&conn, path, CURRENT_VERSION)?;
    Ok((conn, upgraded))
}

/// Refuses files that are not SQLite, are someone else's SQLite database, or are shorter
/// than their own header says (truncated). The file is only read.
fn check_file(path: &Path) -> Result<()> {
    use std::io::Read;
    let corrupt = |reason: &str| Error::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return Ok(()); // does not exist yet (or unreadable: SQLite will say)
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok(());
    }
    let mut header = [0u8; 100];
    if len < 100 || f.read_exact(&mut header).is_err() {
        return Err(corrupt("shorter than a SQLite header"));
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Err(corrupt("not a SQLite database"));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    let pages = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    // A checkpoint cut short may leave the header ahead of the file while the WAL still
    // holds the pages; SQLite recovers that, so only judge a file without a WAL.
    let wal = path.with_file_name(format!(
        "{}-wal",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let has_wal = std::fs::metadata(&wal)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if page_size < 512 || pages == 0 || (!has_wal && len < page_size * pages) {
        return Err(corrupt(&format!(
            "truncated: {len} bytes, the header says {} ",
            page_size * pages
        )));
    }
    let app_id = i32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(corrupt("a SQLite database of another application"));
    }
    Ok(())
}

pub(crate) fn corrupt_or_storage(path: &Path, e: rusqlite::Error) -> Error {
    if let rusqlite::Error::InvalidColumnType(..) = e {
        return Error::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
    }
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Error::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        _ => Error::Storage(e),
    }
}

/// Applies the migrations after the file's `user_version`, up to `target`.
pub fn migrate(conn: &Connection, path: &Path, target: i64) -> Result<Upgraded> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| corrupt_or_storage(path, e))?;
    if version > CURRENT_VERSION {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "schema version {version} is newer than this app ({CURRENT_VERSION}); update the app"
            ),
        });
    }
    let mut upgraded = Upgraded::default();
    for v in version..target {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(MIGRATIONS[v as usize])?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
        if v + 1 == 2 && version > 0 {
            upgraded.rebuild_index = true;
        }
        tracing::info!(from = v, to = v + 1, "migrated device store");
    }
    Ok(upgraded)
}
