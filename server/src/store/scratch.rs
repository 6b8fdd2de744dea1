//! Scratch PostgreSQL databases for tests and the load generator: a fresh database made
//! on a cluster named by an admin URL (`SAFEROUND_TEST_PG`, which
//! `scripts/with-postgres.sh` sets), used, and dropped. Shared by the storage suite
//! (`server/tests/storage.rs`), the end-to-end harness (`tests/src/lib.rs`) and `loadgen`.

use tokio_postgres::NoTls;

/// The admin URL of the test cluster, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const TEST_PG_ENV: &str = "SAFEROUND_TEST_PG";
/// `1`: PostgreSQL tests fail rather than skip when `SAFEROUND_TEST_PG` is unset (CI).
pub const REQUIRE_PG_ENV: &str = "SAFEROUND_REQUIRE_PG";

/// The test cluster's admin URL; `Ok(None)` when unset (the caller skips, saying so),
/// `Err` when unset but required.
pub fn admin_url_from_env() -> Result<Option<String>, String> {
    match std::env::var(TEST_PG_ENV) {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ if std::env::var(REQUIRE_PG_ENV).is_ok_and(|v| v == "1") => Err(format!(
            "{REQUIRE_PG_ENV}=1 but {TEST_PG_ENV} is unset: run under scripts/with-postgres.sh"
        )),
        _ => Ok(None),
    }
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let host = base.find("://").map_or(0, |i| i + 3);
    let path = base[host..].find('/').map_or(base.len(), |i| host + i);
    format!("{}/{db}{query}", &base[..path])
}

/// A client on `url`, its connection driven by a task of the current runtime.
pub async fn admin_client(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("scratch database admin connection: {e}");
        }
    });
    Ok(c)
}

/// Creates a fresh database `<prefix>_<random hex>` on the cluster of `admin`; returns
/// its name. `prefix` must be a plain identifier (letters, digits, `_`).
pub async fn create_database(admin: &str, prefix: &str) -> Result<String, tokio_postgres::Error> {
    debug_assert!(
        prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    );
    let db = format!("{prefix}_{:016x}", rand::random::<u64>());
    admin_client(admin)
        .await?
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
    Ok(db)
}

/// Drops the database `db` (made by `create_database`), closing its connections.
pub async fn drop_database(admin: &str, db: &str) -> Result<(), tokio_postgres::Error> {
    admin_client(admin)
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_of_a_url_is_replaced() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "x"),
            "postgres://u@h:5/x"
        );
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
