//! The schema and the rows of a server database as both backends describe them, for
//! the tests that compare databases: the migrations of SQLite and PostgreSQL
//! (`server/tests/storage`), and a database of the previous release migrated forward
//! against a fresh one (`tests/e2e/upgrade.rs`).

use std::collections::BTreeMap;

/// A table's shape, backend-neutral: columns (name, kind, not null), primary key, and
/// indexes (their columns and uniqueness; names may differ).
pub type Shape = std::collections::BTreeMap<String, TableShape>;

#[derive(Debug, PartialEq, Eq, Default)]
pub struct TableShape {
    pub columns: std::collections::BTreeSet<(String, &'static str, bool)>,
    pub primary_key: Vec<String>,
    pub indexes: std::collections::BTreeSet<(Vec<String>, bool)>,
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
pub fn without_feed_positions(t: &str, s: &TableShape) -> TableShape {
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

pub fn sqlite_shape(db: &std::path::Path) -> rusqlite::Result<Shape> {
    let c = rusqlite::Connection::open(db)?;
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?
        .into_iter()
        .filter(|t| !OWN_BOOKKEEPING.contains(&t.as_str()))
        .collect();
    let mut shape = Shape::new();
    for t in tables {
        let mut s = TableShape::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut cols = c.prepare(&format!("PRAGMA table_info(\"{t}\")"))?;
        let rows = cols.query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        for row in rows {
            let (name, ty, notnull, pk_pos) = row?;
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            s.columns.insert((name, kind(&ty), notnull || pk_pos > 0));
        }
        pk.sort();
        s.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let indexes: Vec<(String, bool, String)> = c
            .prepare(&format!("PRAGMA index_list(\"{t}\")"))?
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, unique, origin) in indexes {
            if origin == "pk" {
                continue; // the primary key, compared above
            }
            let cols: Vec<String> = c
                .prepare(&format!("PRAGMA index_info(\"{name}\")"))?
                .query_map([], |r| r.get(2))?
                .collect::<rusqlite::Result<_>>()?;
            s.indexes.insert((cols, unique));
        }
        shape.insert(t, s);
    }
    Ok(shape)
}

pub async fn postgres_shape(c: &tokio_postgres::Client) -> Result<Shape, tokio_postgres::Error> {
    let mut shape = Shape::new();
    for r in c
        .query(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
             WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            &[],
        )
        .await?
    {
        let t: String = r.try_get(0)?;
        if OWN_BOOKKEEPING.contains(&t.as_str()) {
            continue;
        }
        let (name, ty, nullable): (String, String, String) =
            (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
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
        .await?
    {
        let t: String = r.try_get(0)?;
        if OWN_BOOKKEEPING.contains(&t.as_str()) {
            continue;
        }
        let (primary, unique, cols): (bool, bool, Vec<String>) =
            (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let s = shape.entry(t).or_default();
        if primary {
            s.primary_key = cols;
        } else {
            s.indexes.insert((cols, unique));
        }
    }
    Ok(shape)
}

/// Every row of every table of `shape`, read as text (each column quoted, NULL as
/// `NULL`), only the columns `shape` names: what a database migrated since `shape` was
/// read must still hold.
pub type Rows = BTreeMap<String, Vec<String>>;

/// The rows of `shape`'s tables and columns in the SQLite file `db`, sorted.
pub fn sqlite_rows(db: &std::path::Path, shape: &Shape) -> rusqlite::Result<Rows> {
    let c = rusqlite::Connection::open(db)?;
    let mut out = Rows::new();
    for (t, s) in shape {
        let cols: Vec<String> = s
            .columns
            .iter()
            .map(|(name, _, _)| format!("quote(\"{name}\")"))
            .collect();
        let sql = format!(
            "SELECT {} FROM \"{t}\" ORDER BY 1",
            cols.join(" || '|' || ")
        );
        let mut rows: Vec<String> = c
            .prepare(&sql)?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        rows.sort();
        out.insert(t.clone(), rows);
    }
    Ok(out)
}

/// The rows of `shape`'s tables and columns in a PostgreSQL database, sorted.
pub async fn postgres_rows(
    c: &tokio_postgres::Client,
    shape: &Shape,
) -> Result<Rows, tokio_postgres::Error> {
    let mut out = Rows::new();
    for (t, s) in shape {
        let cols: Vec<String> = s
            .columns
            .iter()
            .map(|(name, _, _)| format!("quote_nullable(\"{name}\")"))
            .collect();
        let sql = format!("SELECT concat_ws('|', {}) FROM \"{t}\"", cols.join(", "));
        let mut rows: Vec<String> = c
            .query(&sql, &[])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        rows.sort();
        out.insert(t.clone(), rows);
    }
    Ok(out)
}

/// What of `before` is missing from `after`: each table's rows (with their number of
/// copies) that are gone. Empty when nothing was lost.
pub fn missing_rows(before: &Rows, after: &Rows) -> Vec<String> {
    let mut missing = Vec::new();
    for (t, rows) in before {
        let mut now: BTreeMap<&String, usize> = BTreeMap::new();
        for r in after.get(t).into_iter().flatten() {
            *now.entry(r).or_default() += 1;
        }
        for r in rows {
            match now.get_mut(r) {
                Some(n) if *n > 0 => *n -= 1,
                _ => missing.push(format!("{t}: {r}")),
            }
        }
    }
    missing
}

/// The differences between two shapes, each a line naming the table and what differs
/// (`a_name`, `b_name`: what to call the two sides). Empty when they are the same.
pub fn differences(a: &Shape, b: &Shape, a_name: &str, b_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (x, y) = (
            a.get(t).map(|s| without_feed_positions(t, s)),
            b.get(t).map(|s| without_feed_positions(t, s)),
        );
        match (x.as_ref(), y.as_ref()) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                for c in x.columns.symmetric_difference(&y.columns) {
                    let side = if x.columns.contains(c) {
                        a_name
                    } else {
                        b_name
                    };
                    out.push(format!("{t}: column {c:?} only on {side}"));
                }
                if x.primary_key != y.primary_key {
                    out.push(format!(
                        "{t}: primary key {:?} on {a_name}, {:?} on {b_name}",
                        x.primary_key, y.primary_key
                    ));
                }
                for i in x.indexes.symmetric_difference(&y.indexes) {
                    let side = if x.indexes.contains(i) {
                        a_name
                    } else {
                        b_name
                    };
                    out.push(format!("{t}: index {i:?} only on {side}"));
                }
            }
            (Some(_), None) => out.push(format!("{t}: table only on {a_name}")),
            (None, _) => out.push(format!("{t}: table only on {b_name}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gone_or_one_copy_fewer_is_missing_and_new_rows_are_not() {
        let rows = |v: &[&str]| -> Rows {
            BTreeMap::from([("t".to_string(), v.iter().map(|s| s.to_string()).collect())])
        };
        assert!(missing_rows(&rows(&["a", "b"]), &rows(&["a", "b", "c"])).is_empty());
        assert_eq!(missing_rows(&rows(&["a", "b"]), &rows(&["a"])), ["t: b"]);
        assert_eq!(missing_rows(&rows(&["a", "a"]), &rows(&["a"])), ["t: a"]);
        assert_eq!(missing_rows(&rows(&["a"]), &Rows::new()), ["t: a"]);
    }

    #[test]
    fn shapes_differ_by_column_key_index_and_table() {
        let mut a = Shape::new();
        let mut t = TableShape::default();
        t.columns.insert(("id".into(), "text", true));
        t.primary_key = vec!["id".into()];
        a.insert("t".into(), t);
        assert!(differences(&a, &a, "a", "b").is_empty());
        let mut b = Shape::new();
        let mut u = TableShape::default();
        u.columns.insert(("id".into(), "integer", true));
        u.indexes.insert((vec!["id".into()], true));
        b.insert("t".into(), u);
        b.insert("extra".into(), TableShape::default());
        let d = differences(&a, &b, "a", "b");
        assert_eq!(d.len(), 5, "{d:?}");
    }
}
