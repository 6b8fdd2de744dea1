//! One schema, two dialects: the migrations of both databases build the same tables.

use super::*;

// ---------------------------------------------------------------------------------------
// One schema, two dialects

/// A table's shape, backend-neutral: columns (name, kind, not null), primary key, and
/// indexes (their columns and uniqueness; names may differ).
type Shape = std::collections::BTreeMap<String, TableShape>;

#[derive(Debug, PartialEq, Eq, Default)]
struct TableShape {
    columns: std::collections::BTreeSet<(String, &'static str, bool)>,
    primary_key: Vec<String>,
    indexes: std::collections::BTreeSet<(Vec<String>, bool)>,
}

/// A column type as both dialects mean it.
fn kind(t: &str) -> &'static str {
    let t = t.to_ascii_lowercase();
    if t.contains("int") || t == "serial" || t == "bigserial" {
        "integer"
    } else if t.contains("text") || t.contains("char") {
        "text"
    } else if t.contains("blob") || t == "bytea" {
        "bytes"
    } else if t.contains("real") || t.contains("double") || t.contains("float") {
        "real"
    } else if t.contains("bool") {
        // SQLite has no boolean type: its booleans are integers 0 and 1.
        "integer"
    } else {
        "other"
    }
}

/// Bookkeeping each backend keeps its own way, not part of the data's schema; and
/// `feed_counter`, which hands out feed positions on PostgreSQL, where SQLite uses the
/// `changes` table's rowid.
const OWN_BOOKKEEPING: &[&str] = &["schema_migrations", "sqlite_sequence", "feed_counter"];

/// Feed positions are one of the few things the backends do differently: on SQLite a
/// change's `seq` is its rowid (the primary key), on PostgreSQL a unique column set at
/// commit, with `(institution, doc_id, hash)` the key. Everything else of `changes` is
/// compared.
fn without_feed_positions(t: &str, s: &TableShape) -> TableShape {
    if t != "changes" {
        return TableShape {
            columns: s.columns.clone(),
            primary_key: s.primary_key.clone(),
            indexes: s.indexes.clone(),
        };
    }
    let key = vec!["institution".to_string(), "doc_id".into(), "hash".into()];
    TableShape {
        columns: s.columns.iter().filter(|c| c.0 != "seq").cloned().collect(),
        primary_key: Vec::new(),
        indexes: s
            .indexes
            .iter()
            .filter(|(cols, _)| *cols != key && *cols != ["seq"])
            .cloned()
            .collect(),
    }
}

fn sqlite_shape(db: &std::path::Path) -> Shape {
    let c = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|t: &String| !OWN_BOOKKEEPING.contains(&t.as_str()))
        .collect();
    let mut shape = Shape::new();
    for t in tables {
        let mut s = TableShape::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut cols = c.prepare(&format!("PRAGMA table_info(\"{t}\")")).unwrap();
        let rows = cols
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (name, ty, notnull, pk_pos) = row.unwrap();
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            s.columns.insert((name, kind(&ty), notnull || pk_pos > 0));
        }
        pk.sort();
        s.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let indexes: Vec<(String, bool, String)> = c
            .prepare(&format!("PRAGMA index_list(\"{t}\")"))
            .unwrap()
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (name, unique, origin) in indexes {
            if origin == "pk" {
                continue; // the primary key, compared above
            }
            let cols: Vec<String> = c
                .prepare(&format!("PRAGMA index_info(\"{name}\")"))
                .unwrap()
                .query_map([], |r| r.get(2))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            s.indexes.insert((cols, unique));
        }
        shape.insert(t, s);
    }
    shape
}

async fn postgres_shape(c: &tokio_postgres::Client) -> Shape {
    let mut shape = Shape::new();
    for r in c
        .query(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
             WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap()
    {
        let t: String = r.get(0);
        if OWN_BOOKKEEPING.contains(&t.as_str()) {
            continue;
        }
        let (name, ty, nullable): (String, String, String) = (r.get(1), r.get(2), r.get(3));
        shape
            .entry(t)
            .or_default()
            .columns
            .insert((name, kind(&ty), nullable == "NO"));
    }
    // Indexes by their columns in order; the primary key's is the one `indisprimary`.
    for r in c
        .query(
            "SELECT t.relname, ix.indisprimary, ix.indisunique,
                    array_agg(a.attname::text ORDER BY k.n)
             FROM pg_index ix
             JOIN pg_class t ON t.oid = ix.indrelid
             JOIN pg_namespace ns ON ns.oid = t.relnamespace AND ns.nspname = 'public'
             JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n) ON true
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             GROUP BY t.relname, ix.indexrelid, ix.indisprimary, ix.indisunique",
            &[],
        )
        .await
        .unwrap()
    {
        let t: String = r.get(0);
        if OWN_BOOKKEEPING.contains(&t.as_str()) {
            continue;
        }
        let (primary, unique, cols): (bool, bool, Vec<String>) = (r.get(1), r.get(2), r.get(3));
        let s = shape.entry(t).or_default();
        if primary {
            s.primary_key = cols;
        } else {
            s.indexes.insert((cols, unique));
        }
    }
    shape
}

/// A freshly migrated SQLite database and a freshly migrated PostgreSQL one have the same
/// tables, columns (types by kind, nullability), primary keys and indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Some(pg) = postgres().await else { return };
    let (admin, db) = pg.pg.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.db");
    drop(Store::open_sqlite(&file).unwrap());
    let lite = sqlite_shape(&file);
    let client = scratch::admin_client(&scratch::with_database(&admin, &db))
        .await
        .unwrap();
    let post = postgres_shape(&client).await;
    let mut differences = Vec::new();
    for t in lite
        .keys()
        .chain(post.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (lite_t, post_t) = (
            lite.get(t).map(|s| without_feed_positions(t, s)),
            post.get(t).map(|s| without_feed_positions(t, s)),
        );
        match (lite_t.as_ref(), post_t.as_ref()) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                for c in a.columns.symmetric_difference(&b.columns) {
                    let side = if a.columns.contains(c) {
                        "SQLite"
                    } else {
                        "PostgreSQL"
                    };
                    differences.push(format!("{t}: column {c:?} only on {side}"));
                }
                if a.primary_key != b.primary_key {
                    differences.push(format!(
                        "{t}: primary key {:?} on SQLite, {:?} on PostgreSQL",
                        a.primary_key, b.primary_key
                    ));
                }
                for i in a.indexes.symmetric_difference(&b.indexes) {
                    let side = if a.indexes.contains(i) {
                        "SQLite"
                    } else {
                        "PostgreSQL"
                    };
                    differences.push(format!("{t}: index {i:?} only on {side}"));
                }
            }
            (Some(_), None) => differences.push(format!("{t}: table only on SQLite")),
            (None, _) => differences.push(format!("{t}: table only on PostgreSQL")),
        }
    }
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
