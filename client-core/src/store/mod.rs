//! The device's local store: one SQLite file holding documents (a compacted snapshot plus
//! appended changes), the document index, the heads the server acknowledged, photos and
//! the device identity. Every write is one SQLite transaction: a crash leaves either the
//! whole edit or none of it.

pub mod blobs;
mod cache;
pub mod index;
pub mod schema;

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
        let mut w = Tx {
            tx,
            actor: actor.clone(),
            time: at.0.timestamp(),
            path: &self.path,
            docs: &self.docs,
        };
        let out = f(&mut w)?;
        w.tx.commit()?;
        Ok(out)
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

    /// Heads the server last acknowledged for a document (empty: never synced).
    pub fn acknowledged_heads(&self, id: DocId) -> Result<Vec<ChangeHash>> {
        let conn = self.conn();
        let bytes: Option<Vec<u8>> = conn
            .query_row(
                "SELECT heads FROM server_heads WHERE doc_id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        decode_heads(&bytes.unwrap_or_default())
    }

    /// Records many acknowledgements in one transaction. Heads the device does not know
    /// (the server has others' changes not received yet) are left out, so they never make
    /// local changes look synced.
    pub fn acknowledge(&self, acks: &[(DocId, Vec<ChangeHash>)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (id, heads) in acks {
            let ours: Option<Vec<u8>> = tx
                .prepare_cached("SELECT heads FROM documents WHERE id = ?1")?
                .query_row([id.to_string()], |r| r.get(0))
                .optional()?;
            let Some(ours) = ours else { continue };
            let known = if ours == encode_heads(heads) {
                heads.clone()
            } else {
                match load_doc(&tx, *id, &self.path)? {
                    Some(mut d) => heads
                        .iter()
                        .filter(|h| d.get_change_meta_by_hash(h).is_some())
                        .copied()
                        .collect(),
                    None => continue,
                }
            };
            tx.prepare_cached(
                "INSERT OR REPLACE INTO server_heads (doc_id, heads) VALUES (?1, ?2)",
            )?
            .execute(params![id.to_string(), encode_heads(&known)])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn set_acknowledged_heads(&self, id: DocId, heads: &[ChangeHash]) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO server_heads (doc_id, heads) VALUES (?1, ?2)",
            params![id.to_string(), encode_heads(heads)],
        )?;
        Ok(())
    }

    /// Documents whose current heads differ from what the server acknowledged: the only
    /// ones a sync needs to look at.
    pub fn unsynced(&self) -> Result<Vec<DocId>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT d.id FROM documents d LEFT JOIN server_heads s ON s.doc_id = d.id
             WHERE s.heads IS NULL OR s.heads != d.heads ORDER BY d.id",
        )?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| s.parse().ok()))
            .collect();
        Ok(ids)
    }

    /// The changes of a document the server has not acknowledged, as Automerge change
    /// bytes, in causal order.
    pub fn unacknowledged_changes(&self, id: DocId) -> Result<Vec<Vec<u8>>> {
        Ok(self.pending_push(id)?.map(|p| p.1).unwrap_or_default())
    }

    /// What a sync pushes for a document: its current heads and the changes the server
    /// has not acknowledged (one load of the document).
    pub fn pending_push(&self, id: DocId) -> Result<Option<(Vec<ChangeHash>, Vec<Vec<u8>>)>> {
        let acked = self.acknowledged_heads(id)?;
        if acked.is_empty() {
            // Never acknowledged and never compacted (a document made on this device and
            // not synced yet, the usual case): every change is in the appended chunks, so
            // they go as stored, without loading the document.
            if let Some(p) = self.unsnapshotted_changes(id)? {
                return Ok(Some(p));
            }
        }
        let Some(mut d) = self.load(id)? else {
            return Ok(None);
        };
        let heads = d.get_heads();
        // Only heads this document knows count: unknown ones (the server has changes we
        // have not received yet) must not make the whole history look unacknowledged.
        let known: Vec<ChangeHash> = acked
            .into_iter()
            .filter(|h| d.get_change_meta_by_hash(h).is_some())
            .collect();
        // Uncompressed chunks: the server never inflates what a device sends.
        let changes = d
            .get_changes(&known)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        Ok(Some((heads, changes)))
    }

    /// The heads and every change of a document stored without a snapshot, split into
    /// single changes; None if the document has a snapshot (or does not exist).
    fn unsnapshotted_changes(&self, id: DocId) -> Result<Option<(Vec<ChangeHash>, Vec<Vec<u8>>)>> {
        let conn = self.conn();
        let key = id.to_string();
        let row: Option<(i64, Vec<u8>)> = conn
            .prepare_cached("SELECT LENGTH(snapshot), heads FROM documents WHERE id = ?1")?
            .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((0, heads)) = row else {
            return Ok(None);
        };
        let mut stmt =
            conn.prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([&key])?;
        let mut changes = Vec::new();
        while let Some(r) = rows.next()? {
            let chunk = r.get_ref(0)?.as_blob().map_err(|_| Error::Corrupt {
                path: self.path.clone(),
                reason: format!("document {id} has a change that is not bytes"),
            })?;
            for c in split_change_chunks(chunk).map_err(|reason| Error::Corrupt {
                path: self.path.clone(),
                reason: format!("document {id}: {reason}"),
            })? {
                changes.push(c.to_vec());
            }
        }
        Ok(Some((decode_heads(&heads)?, changes)))
    }

    /// Bytes a document takes in the store (snapshot plus appended changes).
    pub fn stored_bytes(&self, id: DocId) -> Result<usize> {
        let n: i64 = self.conn().query_row(
            "SELECT COALESCE((SELECT LENGTH(snapshot) FROM documents WHERE id = ?1), 0)
                  + COALESCE((SELECT SUM(LENGTH(bytes)) FROM changes WHERE doc_id = ?1), 0)",
            [id.to_string()],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Where and as whom this device syncs, and the feed position it has reached.
    pub fn sync_settings(&self) -> Result<SyncSettings> {
        Ok(self.conn().query_row(
            "SELECT server_url, token, sync_cursor, server_epoch FROM device WHERE id = 1",
            [],
            |r| {
                Ok(SyncSettings {
                    server_url: r.get(0)?,
                    token: r.get(1)?,
                    cursor: r.get::<_, i64>(2)? as u64,
                    epoch: r.get(3)?,
                })
            },
        )?)
    }

    pub fn set_server(&self, url: &str, token: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE device SET server_url = ?1, token = ?2 WHERE id = 1",
            params![url, token],
        )?;
        Ok(())
    }

    pub fn set_cursor(&self, cursor: u64, epoch: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE device SET sync_cursor = ?1, server_epoch = ?2 WHERE id = 1",
            params![cursor as i64, epoch],
        )?;
        Ok(())
    }

    /// Forgets what the server acknowledged (the server was restored from a backup):
    /// the next sync pushes every change again, and the server keeps what it lacks.
    pub fn forget_acknowledgements(&self) -> Result<()> {
        self.conn().execute("DELETE FROM server_heads", [])?;
        Ok(())
    }

    /// Moves a refused document to the quarantine (kept, never deleted) and puts the
    /// server's copy in its place (or removes it when the server has none), in one
    /// transaction.
    pub fn quarantine(
        &self,
        id: DocId,
        code: &str,
        reason: &str,
        server_doc: &[u8],
        actor: &ActorId,
        now: Timestamp,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(mut local) = load_doc(&tx, id, &self.path)? else {
            return Ok(());
        };
        let kind = doc::header(&local)
            .map(|h| h.kind.code())
            .unwrap_or("unknown");
        tx.execute(
            "INSERT INTO quarantine (doc_id, kind, code, reason, document, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.to_string(),
                kind,
                code,
                reason,
                local.save(),
                now.to_string()
            ],
        )?;
        delete_document(&tx, id)?;
        if !server_doc.is_empty() {
            let mut w = Tx {
                tx,
                actor: actor.clone(),
                time: now.0.timestamp(),
                path: &self.path,
                docs: &self.docs,
            };
            w.merge(id, server_doc)?;
            let heads = w.load(id)?.map(|mut d| d.get_heads()).unwrap_or_default();
            w.tx.execute(
                "INSERT OR REPLACE INTO server_heads (doc_id, heads) VALUES (?1, ?2)",
                params![id.to_string(), encode_heads(&heads)],
            )?;
            w.tx.commit()?;
        } else {
            tx.commit()?;
        }
        Ok(())
    }

    /// Quarantined documents, newest first: (id, document id, kind, code, reason, when).
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, doc_id, kind, code, reason, created_at FROM quarantine ORDER BY id DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Quarantined {
                    id: r.get(0)?,
                    doc_id: r.get(1)?,
                    kind: r.get(2)?,
                    code: r.get(3)?,
                    reason: r.get(4)?,
                    created_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Replaces a document entirely with `bytes` (documents the server owns, such as the
    /// directory, are taken as the server has them, not merged).
    pub fn replace(&self, id: DocId, bytes: &[u8], actor: &ActorId, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        delete_document(&tx, id)?;
        let mut w = Tx {
            tx,
            actor: actor.clone(),
            time: now.0.timestamp(),
            path: &self.path,
            docs: &self.docs,
        };
        w.merge(id, bytes)?;
        w.tx.commit()?;
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

impl Tx<'_> {
    pub fn load(&self, id: DocId) -> Result<Option<AutoCommit>> {
        Ok(load_cached(&self.tx, self.docs, id, self.path)?
            .map(|d| d.with_actor(self.actor.clone())))
    }

    /// Edits an existing document and saves only the new changes.
    pub fn edit<T>(
        &mut self,
        id: DocId,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let mut d = self
            .load(id)?
            .ok_or_else(|| Error::not_found("document", id))?;
        let before = d.get_heads();
        let out = f(&mut d)?;
        self.save(id, &mut d, &before, Origin::Local)?;
        Ok(out)
    }

    /// Creates a document starting from `base` (empty, or a shared genesis). If the store
    /// already holds it (the same derived id written earlier), edits that one instead.
    pub fn create_or_edit<T>(
        &mut self,
        id: DocId,
        base: impl FnOnce() -> Result<AutoCommit>,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        if self.load(id)?.is_some() {
            return self.edit(id, f);
        }
        let mut d = base()?.with_actor(self.actor.clone());
        let out = f(&mut d)?;
        self.save(id, &mut d, &[], Origin::Local)?;
        Ok(out)
    }

    /// Creates a new document; an existing id is an error.
    pub fn create<T>(
        &mut self,
        id: DocId,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        if self.load(id)?.is_some() {
            return Err(Error::State(format!("document {id} already exists")));
        }
        self.create_or_edit(id, || Ok(AutoCommit::new()), f)
    }

    /// Merges saved-document or change bytes into the document `id` (creating it), and
    /// stores what is new. The result must still be a document with that id.
    pub fn merge(&mut self, id: DocId, bytes: &[u8]) -> Result<()> {
        let (mut d, before) = match self.load(id)? {
            Some(mut d) => {
                let before = d.get_heads();
                (d, before)
            }
            None => (AutoCommit::new().with_actor(self.actor.clone()), Vec::new()),
        };
        // Loaded on its own first: `load` refuses a payload that stops parsing halfway,
        // where `load_incremental` would keep the part before the damage and say nothing.
        let mut incoming = load_stored(bytes)
            .map_err(|e| Error::Document(format!("received data for {id} does not load: {e}")))?;
        d.merge(&mut incoming)?;
        if !d.get_missing_deps(&[]).is_empty() {
            return Err(Error::Document(format!(
                "changes for {id} depend on changes this device does not have"
            )));
        }
        self.save(id, &mut d, &before, Origin::Merged)
    }

    /// Applies individual changes (as the server sends them) to the document `id`,
    /// creating it. Each change is parsed on its own, so damage is an error, never a
    /// silently shortened history; changes whose dependencies are missing are an error.
    /// The bytes pass the same bounded framing check the server applies to a device's
    /// (`codec::check_change_chunk`) before Automerge parses them: Automerge 0.12 can panic
    /// or allocate without bound on crafted changes, and a phone trusts no network.
    pub fn apply_changes(&mut self, id: DocId, changes: &[Vec<u8>]) -> Result<()> {
        self.apply_received(id, changes).map(|_| ())
    }

    /// `apply_changes`, giving back the document as saved and the hashes of the changes.
    fn apply_received(
        &mut self,
        id: DocId,
        changes: &[Vec<u8>],
    ) -> Result<(AutoCommit, Vec<ChangeHash>)> {
        let parsed = changes
            .iter()
            .map(|c| {
                crate::codec::check_change_chunk(c)
                    .map_err(|e| Error::Document(format!("a change for {id} is refused: {e}")))?;
                automerge::Change::from_bytes(c.clone())
                    .map_err(|e| Error::Document(format!("a change for {id} does not parse: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let (mut d, before) = match self.load(id)? {
            Some(mut d) => {
                let before = d.get_heads();
                (d, before)
            }
            None => (AutoCommit::new().with_actor(self.actor.clone()), Vec::new()),
        };
        let hashes: Vec<ChangeHash> = parsed.iter().map(|c| c.hash()).collect();
        let mut distinct = hashes.clone();
        distinct.sort();
        distinct.dedup();
        let origin = Origin::Received {
            // Checked above: single uncompressed change chunks with a valid checksum.
            chunks: (distinct.len() == hashes.len()).then_some(changes),
            long_history: parsed.len() >= COMPACT_AFTER as usize,
        };
        d.apply_changes(parsed)?;
        if !d.get_missing_deps(&[]).is_empty() {
            return Err(Error::Document(format!(
                "changes for {id} depend on changes this device does not have"
            )));
        }
        self.save(id, &mut d, &before, origin)?;
        Ok((d, hashes))
    }

    /// Applies changes the server sent for `id` and records that the server holds them:
    /// they count as acknowledged with what was acknowledged before, so they are never
    /// pushed back.
    pub fn receive(&mut self, id: DocId, changes: &[Vec<u8>]) -> Result<()> {
        let (mut d, received) = self.apply_received(id, changes)?;
        let acked: Option<Vec<u8>> = self
            .tx
            .prepare_cached("SELECT heads FROM server_heads WHERE doc_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?;
        // What was acknowledged before, if the document still has it, and what was just
        // applied (certainly in it: looking each up again cost more than applying them).
        let mut have = decode_heads(&acked.unwrap_or_default())?;
        have.retain(|h| d.get_change_meta_by_hash(h).is_some());
        have.extend_from_slice(&received);
        have.sort();
        have.dedup();
        // The smallest set of heads that covers them: the document's own heads when it
        // holds nothing else (the usual case: they are among them), otherwise the heads
        // of that part.
        let current = d.get_heads();
        let heads = if current.iter().all(|h| have.binary_search(h).is_ok())
            || d.get_changes(&have).is_empty()
        {
            current
        } else {
            d.fork_at(&have)?.get_heads()
        };
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO server_heads (doc_id, heads) VALUES (?1, ?2)")?
            .execute(params![id.to_string(), encode_heads(&heads)])?;
        Ok(())
    }

    /// Commits pending operations and stores what is new since `before`; `origin` says
    /// where the new changes came from (see `Origin`).
    fn save(
        &mut self,
        id: DocId,
        d: &mut AutoCommit,
        before: &[ChangeHash],
        origin: Origin<'_>,
    ) -> Result<()> {
        // Received documents arrive by the hundred and are rarely opened next: caching
        // each (a copy) would only push out the ones being edited.
        let cache = !matches!(origin, Origin::Received { .. });
        let (merged, snapshot_if_new, chunks) = match origin {
            Origin::Local => (false, false, None),
            Origin::Merged => (true, true, None),
            Origin::Received {
                chunks,
                long_history,
            } => (true, long_history, chunks),
        };
        d.commit_with(CommitOptions::default().with_time(self.time));
        let heads = d.get_heads();
        if heads.as_slice() == before {
            return Ok(());
        }
        let h = doc::header(d)?;
        if h.id != id {
            return Err(Error::Document(format!(
                "document {} written under id {id}",
                h.id
            )));
        }
        let now = Timestamp(chrono::DateTime::from_timestamp(self.time, 0).unwrap_or_default());
        // Received whole with a long history: one snapshot loads fastest. A short one (a
        // colleague's new inspection) is stored as its change chunks like a document made
        // here, which spares compressing a snapshot for each of the many a sync brings.
        if before.is_empty() && snapshot_if_new {
            self.tx.prepare_cached(
                "INSERT INTO documents (id, kind, snapshot, heads, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?.execute(
                params![id.to_string(), h.kind.code(), d.save(), encode_heads(&heads), now.to_string()],
            )?;
        } else if before.is_empty() {
            // Made here (or received short): no snapshot, its changes as appended chunks,
            // so the first sync pushes them as stored without loading the document
            // (`pending_push`).
            self.tx.prepare_cached(
                "INSERT INTO documents (id, kind, snapshot, heads, updated_at) VALUES (?1, ?2, X'', ?3, ?4)",
            )?.execute(
                params![id.to_string(), h.kind.code(), encode_heads(&heads), now.to_string()],
            )?;
            self.tx
                .prepare_cached("INSERT INTO changes (doc_id, seq, bytes) VALUES (?1, 1, ?2)")?
                .execute(params![
                    id.to_string(),
                    chunks.map_or_else(|| d.save_after(&[]), <[Vec<u8>]>::concat)
                ])?;
        } else {
            let (seq, n): (i64, i64) = self
                .tx
                .prepare_cached(
                    "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM changes WHERE doc_id = ?1",
                )?
                .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if n + 1 >= COMPACT_AFTER {
                // Fold the appended changes into one snapshot: loading stays fast and
                // the file small.
                self.tx
                    .execute("DELETE FROM changes WHERE doc_id = ?1", [id.to_string()])?;
                self.tx.execute(
                    "UPDATE documents SET snapshot = ?2, heads = ?3, updated_at = ?4 WHERE id = ?1",
                    params![
                        id.to_string(),
                        d.save(),
                        encode_heads(&heads),
                        now.to_string()
                    ],
                )?;
            } else {
                self.tx
                    .prepare_cached("INSERT INTO changes (doc_id, seq, bytes) VALUES (?1, ?2, ?3)")?
                    .execute(params![id.to_string(), seq + 1, d.save_after(before)])?;
                self.tx
                    .prepare_cached(
                        "UPDATE documents SET heads = ?2, updated_at = ?3 WHERE id = ?1",
                    )?
                    .execute(params![
                        id.to_string(),
                        encode_heads(&heads),
                        now.to_string()
                    ])?;
            }
        }
        let previous: i64 = self
            .tx
            .prepare_cached("SELECT conflicts FROM doc_index WHERE id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        // Only concurrent changes make conflicts: a merged history without any (a
        // colleague's new inspection, a hazard edited by one device at a time) is not
        // scanned, which was most of the cost of receiving a document.
        let count = previous > 0 || (merged && crate::doc::conflicts::had_concurrency(d));
        index::write(
            &self.tx,
            id,
            &index::summarize(d, &h, count, previous as usize)?,
        )?;
        // Should this transaction roll back, the stored heads stay the old ones and the
        // entry is simply never matched.
        if cache {
            self.docs.put(id, encode_heads(&heads), d.clone());
        }
        Ok(())
    }

    pub fn blob_exists(&self, hash: &BlobHash) -> Result<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM blobs WHERE hash = ?1",
                [hash.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

/// Where the changes `Tx::save` stores came from.
enum Origin<'a> {
    /// Made on this device: no conflicts to look for unless some were there already.
    Local,
    /// A saved document merged in: conflicts are counted, and a document new to this
    /// store is kept as one snapshot.
    Merged,
    /// Changes the server sent: conflicts are counted; a new document with a long history
    /// is kept as one snapshot, a short one as its changes. `chunks`: those changes, all
    /// distinct, as received: stored as they are instead of encoded again from the
    /// document (what `save_after` does, a tenth of the cost of receiving).
    Received {
        chunks: Option<&'a [Vec<u8>]>,
        long_history: bool,
    },
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
