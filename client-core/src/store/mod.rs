//! The device's local store: one SQLite file holding documents (a compacted snapshot plus
//! appended changes), the document index, the heads the server acknowledged, photos and
//! the device identity. Every write is one SQLite transaction: a crash leaves either the
//! whole edit or none of it.

pub mod blobs;
mod cache;
pub mod index;
pub mod schema;
mod sync_state;
mod tx;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, ChangeHash};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::codec::{decode_heads, encode_heads, load_stored, split_change_chunks};
use crate::doc;
use crate::error::{Error, Result};
use crate::ids::{BlobHash, DocId, Timestamp};
pub use index::Summary;

/// Changes appended to a document before it is compacted into one snapshot.
pub const COMPACT_AFTER: i64 = 32;

/// The identity of this installation, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: String,
    pub actor: Vec<u8>,
    pub institution: String,
    pub user_id: String,
    pub user_name: String,
    pub roles: String,
    pub department: Option<String>,
    pub server_url: Option<String>,
    pub sync_cursor: i64,
    pub created_at: String,
}

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    docs: cache::DocCache,
}

impl Store {
    /// Opens (creating and migrating if needed) the store at `path`. A file that is not a
    /// SafeRound store, or is damaged, gives `Error::Corrupt` and is left untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let (conn, upgraded) = schema::open(&path)?;
        let store = Store {
            conn: Mutex::new(conn),
            path,
            docs: cache::DocCache::default(),
        };
        // The index is derived: if it lacks rows (a migration that added it, or a rebuild
        // cut short by a kill), rebuild it now rather than show partial lists.
        let stale = upgraded.rebuild_index || {
            let conn = store.conn();
            let docs: i64 = conn.query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0))?;
            let rows: i64 = conn.query_row("SELECT COUNT(*) FROM doc_index", [], |r| r.get(0))?;
            docs != rows
        };
        if stale {
            store.rebuild_index()?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (the transaction
        // rolls back on drop), so the connection is still good.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn device(&self) -> Result<Option<DeviceRow>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT device_id, actor, institution, user_id, user_name, roles, department,
                        server_url, sync_cursor, created_at FROM device WHERE id = 1",
                [],
                |r| {
                    Ok(DeviceRow {
                        device_id: r.get(0)?,
                        actor: r.get(1)?,
                        institution: r.get(2)?,
                        user_id: r.get(3)?,
                        user_name: r.get(4)?,
                        roles: r.get(5)?,
                        department: r.get(6)?,
                        server_url: r.get(7)?,
                        sync_cursor: r.get(8)?,
                        created_at: r.get(9)?,
                    })
                },
            )
            .optional()
            .map_err(|e| schema::corrupt_or_storage(&self.path, e))?;
        Ok(row)
    }

    /// Stores the identity of a new installation. Refuses to replace an existing one: the
    /// actor id must never be reused by, or taken from, another installation.
    pub fn init_device(&self, d: &DeviceRow) -> Result<()> {
        let conn = self.conn();
        let n = conn.execute(
            "INSERT OR IGNORE INTO device (id, device_id, actor, institution, user_id, user_name,
                roles, department, server_url, sync_cursor, created_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                d.device_id,
                d.actor,
                d.institution,
                d.user_id,
                d.user_name,
                d.roles,
                d.department,
                d.server_url,
                d.sync_cursor,
                d.created_at
            ],
        )?;
        if n == 0 {
            return Err(Error::State(format!(
                "{} already holds a device identity",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Loads a document, or `None` if the store does not have it.
    pub fn load(&self, id: DocId) -> Result<Option<AutoCommit>> {
        let conn = self.conn();
        // One read transaction: the snapshot and the changes after it as of one moment,
        // even if another process compacts the document in between.
        let tx = conn.unchecked_transaction()?;
        load_cached(&tx, &self.docs, id, &self.path)
    }

    /// Runs `f` in one write transaction, as `actor`, stamping changes with `at`. When `f`
    /// fails, nothing it did is kept.
    pub fn write<T>(
        &self,
        actor: &ActorId,
        at: Timestamp,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut w = self.tx_over(tx, actor, at);
        let out = f(&mut w)?;
        w.tx.commit()?;
        Ok(out)
    }

    /// A `Tx` over an open SQLite transaction of this store.
    fn tx_over<'c>(
        &'c self,
        tx: rusqlite::Transaction<'c>,
        actor: &ActorId,
        at: Timestamp,
    ) -> Tx<'c> {
        Tx {
            tx,
            actor: actor.clone(),
            time: at.0.timestamp(),
            path: &self.path,
            docs: &self.docs,
        }
    }

    /// Index rows of one kind matching `filter`, newest first.
    pub fn list(&self, kind: doc::DocKind, filter: &ListFilter) -> Result<Vec<Summary>> {
        let conn = self.conn();
        let mut sql = format!("SELECT {} FROM doc_index WHERE kind = ?1", index::COLUMNS);
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(kind.code())];
        if let Some(v) = &filter.statuses {
            // Codes come from the HazardStatus enum, never from the caller's text.
            let list: Vec<String> = v.iter().map(|s| format!("'{}'", s.code())).collect();
            sql.push_str(&format!(" AND status IN ({})", list.join(",")));
        }
        let mut add = |clause: &str, v: Box<dyn rusqlite::ToSql>| {
            args.push(v);
            sql.push_str(&format!(" AND {clause} ?{}", args.len()));
        };
        if let Some(v) = &filter.site_id {
            add("site_id =", Box::new(v.clone()));
        }
        if let Some(v) = &filter.category {
            add("category =", Box::new(v.clone()));
        }
        if let Some(v) = &filter.min_risk {
            add("risk_rank >=", Box::new(index::risk_rank(Some(v))));
        }
        if let Some(v) = &filter.campaign {
            add("campaign =", Box::new(v.clone()));
        }
        if let Some(v) = &filter.responsible {
            add("responsible =", Box::new(v.clone()));
        }
        if let Some(v) = &filter.reinspector {
            add("reinspector =", Box::new(v.clone()));
        }
        if let Some(v) = &filter.deadline_before {
            add("deadline <", Box::new(v.clone()));
        }
        if let Some(v) = &filter.deadline_on_or_before {
            add("deadline <=", Box::new(v.clone()));
        }
        if let Some(v) = &filter.created_from {
            add("created_at >=", Box::new(v.clone()));
        }
        if let Some(v) = &filter.created_before {
            add("created_at <", Box::new(v.clone()));
        }
        if let Some(v) = filter.submitted {
            add("submitted =", Box::new(v));
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC");
        if let Some(n) = filter.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(
                rusqlite::params_from_iter(args.iter().map(|b| b.as_ref())),
                index::from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Number of documents, per kind.
    pub fn counts(&self) -> Result<Vec<(String, i64)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT kind, COUNT(*) FROM documents GROUP BY kind ORDER BY kind")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Rebuilds the whole index from the documents (after a migration, or to check it).
    pub fn rebuild_index(&self) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids: Vec<String> = tx
            .prepare("SELECT id FROM documents")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        tx.execute("DELETE FROM doc_index", [])?;
        for id in &ids {
            // One unreadable document must not hide every other one from the lists.
            let indexed = id
                .parse::<DocId>()
                .map_err(|_| Error::Document(format!("bad document id {id}")))
                .and_then(|id| match load_doc(&tx, id, &self.path)? {
                    Some(mut d) => {
                        let h = crate::doc::header(&d)?;
                        index::write(&tx, id, &index::summarize(&mut d, &h, true, 0)?)
                    }
                    None => Ok(()),
                });
            if let Err(e) = indexed {
                tracing::error!(document = %id, "not indexed: {e}");
            }
        }
        tx.commit()?;
        Ok(ids.len())
    }

    /// Stores a photo (deduplicated by hash) after checking its size and type.
    pub fn put_blob(&self, bytes: &[u8], max: usize, now: Timestamp) -> Result<BlobHash> {
        if bytes.len() > max {
            return Err(Error::PhotoTooLarge {
                size: bytes.len(),
                limit: max,
            });
        }
        let content_type = blobs::sniff_image(bytes)?;
        let hash = BlobHash::of(bytes);
        self.conn().execute(
            "INSERT OR IGNORE INTO blobs (hash, bytes, size, content_type, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                hash.to_string(),
                bytes,
                bytes.len() as i64,
                content_type,
                now.to_string()
            ],
        )?;
        Ok(hash)
    }

    pub fn blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT bytes FROM blobs WHERE hash = ?1",
                [hash.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The current heads of a document as stored (sorted, 32 bytes each), or `None`.
    pub fn heads(&self, id: DocId) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT heads FROM documents WHERE id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?)
    }

    /// Photos not yet uploaded to the server: (hash, size).
    pub fn pending_blobs(&self) -> Result<Vec<(BlobHash, u64)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT hash, size FROM blobs WHERE uploaded = 0 ORDER BY created_at")?;
        let rows: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(h, n)| {
                h.parse()
                    .map(|h| (h, n as u64))
                    .map_err(|_| Error::Document(format!("bad photo hash {h} in store")))
            })
            .collect()
    }

    pub fn mark_blob_uploaded(&self, hash: &BlobHash) -> Result<()> {
        self.set_blob_uploaded(hash, true)
    }

    /// The server no longer holds the photo (it removes photos no record used in time):
    /// upload it again. A hash this store does not hold is ignored.
    pub fn mark_blob_pending(&self, hash: &BlobHash) -> Result<()> {
        self.set_blob_uploaded(hash, false)
    }

    fn set_blob_uploaded(&self, hash: &BlobHash, uploaded: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE blobs SET uploaded = ?2 WHERE hash = ?1",
            rusqlite::params![hash.to_string(), uploaded],
        )?;
        Ok(())
    }

    /// Runs SQLite's integrity check; `ok` when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// The device's sync configuration and progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSettings {
    pub server_url: Option<String>,
    pub token: Option<String>,
    pub cursor: u64,
    pub epoch: Option<String>,
}

/// A document the server refused, kept with the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quarantined {
    pub id: i64,
    pub doc_id: String,
    pub kind: String,
    pub code: String,
    pub reason: String,
    pub created_at: String,
}

/// Filters for `Store::list`; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub site_id: Option<String>,
    pub category: Option<String>,
    pub min_risk: Option<String>,
    pub statuses: Option<Vec<crate::model::HazardStatus>>,
    pub campaign: Option<String>,
    pub responsible: Option<String>,
    pub reinspector: Option<String>,
    pub deadline_before: Option<String>,
    pub deadline_on_or_before: Option<String>,
    pub created_from: Option<String>,
    pub created_before: Option<String>,
    pub submitted: Option<bool>,
    pub limit: Option<usize>,
}

/// One write transaction; documents loaded and saved through it commit together.
pub struct Tx<'c> {
    tx: rusqlite::Transaction<'c>,
    actor: ActorId,
    time: i64,
    path: &'c Path,
    docs: &'c cache::DocCache,
}

/// Removes every row of a document (its changes, index row, acknowledged heads).
fn delete_document(tx: &rusqlite::Transaction<'_>, id: DocId) -> Result<()> {
    let key = id.to_string();
    tx.execute("DELETE FROM changes WHERE doc_id = ?1", [&key])?;
    tx.execute("DELETE FROM doc_index WHERE id = ?1", [&key])?;
    tx.execute("DELETE FROM server_heads WHERE doc_id = ?1", [&key])?;
    tx.execute("DELETE FROM documents WHERE id = ?1", [&key])?;
    Ok(())
}

/// `load_doc` through the cache of recently used documents (see `cache`).
fn load_cached(
    conn: &Connection,
    docs: &cache::DocCache,
    id: DocId,
    path: &Path,
) -> Result<Option<AutoCommit>> {
    let heads: Option<Vec<u8>> = conn
        .prepare_cached("SELECT heads FROM documents WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()
        .map_err(|e| schema::corrupt_or_storage(path, e))?;
    let Some(heads) = heads else {
        return Ok(None);
    };
    if let Some(d) = docs.get(id, &heads) {
        return Ok(Some(d));
    }
    let d = load_doc(conn, id, path)?;
    if let Some(d) = &d {
        docs.put(id, heads, d.clone());
    }
    Ok(d)
}

fn load_doc(conn: &Connection, id: DocId, path: &Path) -> Result<Option<AutoCommit>> {
    let key = id.to_string();
    let snapshot: Option<Vec<u8>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
        .query_row([&key], |r| r.get(0))
        .optional()
        .map_err(|e| schema::corrupt_or_storage(path, e))?;
    let Some(mut bytes) = snapshot else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([&key])?;
    while let Some(r) = rows.next()? {
        let chunk = r.get_ref(0)?;
        let chunk = chunk.as_blob().map_err(|_| Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("document {id} has a change that is not bytes"),
        })?;
        bytes.extend_from_slice(chunk);
    }
    load_stored(&bytes).map(Some).map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        reason: format!("document {id} does not load: {e}"),
    })
}
