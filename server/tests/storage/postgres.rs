//! PostgreSQL only: replicas starting and listening together, and an unreachable database.

use super::*;
use crate::commits::next_named_notice;

// ---------------------------------------------------------------------------------------
// PostgreSQL only: start-up and errors

/// Two replicas starting together on an empty database: one migrates, the other waits
/// on the advisory lock and finds it done; both agree on the epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub(crate) async fn postgres_replicas_migrate_together_and_refuse_a_newer_schema() {
    let Some(pg) = postgres().await else { return };
    let (admin, db) = pg.pg.clone().unwrap();
    let fresh = format!("{db}_b");
    let c = scratch::admin_client(&admin).await.unwrap();
    c.batch_execute(&format!("CREATE DATABASE {fresh}"))
        .await
        .unwrap();
    let url = scratch::with_database(&admin, &fresh);
    let (a, b) = tokio::join!(Store::connect_postgres(&url), Store::connect_postgres(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.epoch().await.unwrap(), b.epoch().await.unwrap());
    // A schema from a newer server is refused, as SQLite refuses one.
    let db_b = scratch::admin_client(&url).await.unwrap();
    db_b.batch_execute("INSERT INTO schema_migrations VALUES (999, 'future')")
        .await
        .unwrap();
    match Store::connect_postgres(&url).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("a newer schema was accepted: {:?}", other.err()),
    }
    // Backups are pg_dump's; the refusal says so.
    let err = a.backup("/tmp/never".into()).await.unwrap_err();
    assert!(err.to_string().contains("pg_dump"), "{err}");
    // After pg_restore: a new epoch, and the database knows it was restored.
    let before = a.epoch().await.unwrap();
    let epoch = a.mark_restored().await.unwrap();
    assert_ne!(epoch, before);
    db_b.batch_execute("DELETE FROM schema_migrations WHERE version = 999")
        .await
        .unwrap();
    let again = Store::connect_postgres(&url).await.unwrap();
    assert!(again.restored().await.unwrap());
    assert_eq!(again.epoch().await.unwrap(), epoch);
    drop((a, b, again, db_b));
    c.batch_execute(&format!("DROP DATABASE {fresh} WITH (FORCE)"))
        .await
        .unwrap();
    pg.finish().await;
}

/// Two replicas on one database: a commit through one wakes the other's subscribers
/// (NOTIFY in the commit, LISTEN on the other's own connection), and the start-up lock
/// admits one process at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub(crate) async fn postgres_replicas_hear_each_others_commits_and_seed_one_at_a_time() {
    let Some(pg) = postgres().await else { return };
    let (admin, db) = pg.pg.clone().unwrap();
    let b = Store::connect_postgres(&scratch::with_database(&admin, &db))
        .await
        .unwrap();
    let mut heard_by_b = b.subscribe_changes();
    let inst = InstitutionId::new();
    let mut doc = TestDoc::plain(inst, &ActorId::random());
    commit_ok(pg.storage.as_ref(), vec![doc.commit(false)]).await;
    assert_eq!(next_named_notice(&mut heard_by_b).await, inst);

    // The listening connections lost (PostgreSQL restarting, a proxy cutting them): each
    // process listens again, says "anything may have changed", and hears commits again.
    let admin_c = scratch::admin_client(&admin).await.unwrap();
    let cut = admin_c
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND query = 'LISTEN saferound_changes'",
            &[&db],
        )
        .await
        .unwrap();
    assert_eq!(cut, 2, "one listening connection per storage");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    match tokio::time::timeout_at(deadline, heard_by_b.recv()).await {
        Ok(Ok(None)) => {}
        Ok(other) => panic!("expected the reconnection notice, got {other:?}"),
        Err(_) => panic!("B did not listen again within 10 s"),
    }
    doc.accepted();
    doc.edit(2);
    commit_ok(pg.storage.as_ref(), vec![doc.commit(false)]).await;
    assert_eq!(next_named_notice(&mut heard_by_b).await, inst);

    // While A holds the start-up lock, B waits for it; once A lets go, B has it.
    let held = pg.storage.lock(LockFor::Startup).await.unwrap();
    let waiting = tokio::spawn(async move {
        let lock = b.lock(LockFor::Startup).await.unwrap();
        drop(lock);
        b
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "B took the lock A holds");
    drop(held);
    let b = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("B gets the lock once A lets go")
        .unwrap();
    drop(b);
    pg.finish().await;
}

/// An unreachable database is a retryable 503, never a 500.
#[tokio::test]
pub(crate) async fn postgres_unreachable_is_transient_and_a_503() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let err = Store::connect_postgres("postgres://postgres@127.0.0.1:1/none")
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(err.transient(), "{err:?}");
    let response =
        axum::response::IntoResponse::into_response(saferound_server::http::ApiError::from(err));
    assert_eq!(
        response.status(),
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(response.headers().contains_key("retry-after"));
}
