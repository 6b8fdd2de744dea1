//! One schema, two dialects: the migrations of both databases build the same tables.

use super::*;
use saferound_server::store::shape::{self, postgres_shape, sqlite_shape};

/// A freshly migrated SQLite database and a freshly migrated PostgreSQL one have the same
/// tables, columns (types by kind, nullability), primary keys and indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Some(pg) = postgres().await else { return };
    let (admin, db) = pg.pg.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.db");
    drop(Store::open_sqlite(&file).unwrap());
    let lite = sqlite_shape(&file).unwrap();
    let client = scratch::admin_client(&scratch::with_database(&admin, &db))
        .await
        .unwrap();
    let post = postgres_shape(&client).await.unwrap();
    let differences = shape::differences(&lite, &post, "SQLite", "PostgreSQL");
    drop(client);
    pg.finish().await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Each statement is written once for both databases: every one of them is valid on
/// this one, its tables, columns and (on PostgreSQL) parameter types resolved. What the
/// statements do is the business of the other tests here, which run on both.
pub(crate) async fn every_named_statement_prepares(s: Arc<Store>) {
    let n = s.prepare_statements().await.unwrap();
    assert!(n > 90, "only {n} statements were prepared");
}
