//! What the store keeps about syncing: the heads the server acknowledged, what is left to
//! push, the server's address and the feed cursor, and the quarantine of refused records.

use super::*;

impl Store {
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
            let mut w = self.tx_over(tx, actor, now);
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
        self.write(actor, now, |w| {
            delete_document(&w.tx, id)?;
            w.merge(id, bytes)
        })
    }
}
