//! One write transaction: documents loaded, edited, merged or received through it and
//! saved together, with the index and the document cache kept in step.

use super::*;

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
