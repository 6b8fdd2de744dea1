//! Documents and the change feed: every document's stored bytes (a snapshot and the
//! changes after it), the compare-and-swap commit of a merge with its ledger rows, and
//! the feed devices page through, in the order changes were committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use saferound_core::ids::{DocId, InstitutionId};

use super::ledger::{LEDGER_TABLES, write_ledger};
use super::rows::{now, parse};
use super::sql::{Db, Dialect, Tx, args, postgres, statements};
use super::{Result, Store, StoreError};
use crate::ledger::LedgerRows;

/// Where the database records the version of the derivation its ledger was made by.
const LEDGER_VERSION_KEY: &str = "ledger_version";

/// Changes one feed page returns at most (besides its byte budget).
pub(crate) const FEED_PAGE_ROWS: usize = 2000;

/// A document as stored: its bytes (snapshot plus later changes, concatenated, as
/// Automerge loads them) and how many changes follow the snapshot.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    pub kind: String,
    pub bytes: Vec<u8>,
    pub heads: Vec<u8>,
    pub changes_after_snapshot: usize,
}

#[derive(Debug, Clone)]
pub struct NewChange {
    pub hash: [u8; 32],
    pub actor: Vec<u8>,
    pub bytes: Vec<u8>,
}

impl From<&automerge::Change> for NewChange {
    fn from(c: &automerge::Change) -> Self {
        NewChange {
            hash: c.hash().0,
            actor: c.actor_id().to_bytes().to_vec(),
            // Uncompressed: stored and sent on as devices send them.
            bytes: c.raw_bytes().to_vec(),
        }
    }
}

/// One document's merge, committed only if the stored heads are still `expected_heads`
/// (compare-and-swap: a concurrent merge of the same document makes it stale, and the
/// caller merges again).
#[derive(Debug, Clone)]
pub struct DocCommit {
    pub institution: InstitutionId,
    pub id: DocId,
    pub kind: String,
    /// `None`: the document must not exist yet.
    pub expected_heads: Option<Vec<u8>>,
    pub new_heads: Vec<u8>,
    pub changes: Vec<NewChange>,
    /// A fresh compacted save, replacing the snapshot and the changes before it.
    pub snapshot: Option<Vec<u8>>,
    pub bytes: usize,
    pub ledger: LedgerRows,
}

#[derive(Debug, Clone)]
pub struct FeedItem {
    pub seq: u64,
    pub doc_id: DocId,
    pub kind: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// The position to resume after: past every row examined, delivered or skipped.
    pub cursor: u64,
    pub more: bool,
}

statements! {
    DOCUMENT = "SELECT kind, snapshot, snapshot_seq, heads FROM documents WHERE institution = ?1 AND id = ?2";
    CHANGES_AFTER_SNAPSHOT = "SELECT bytes FROM changes
         WHERE institution = ?1 AND doc_id = ?2 AND seq > ?3 ORDER BY seq";
    /// The heads to compare and swap. On SQLite the one writer's immediate transaction
    /// keeps others out; PostgreSQL locks the row (`postgres::DOCUMENT_HEADS_FOR_UPDATE`).
    DOCUMENT_HEADS = "SELECT heads FROM documents WHERE institution = ?1 AND id = ?2";
    /// A concurrent commit creating the same document (PostgreSQL) makes this wait, then
    /// insert nothing once it commits: the stale case.
    INSERT_DOCUMENT = "INSERT INTO documents (institution, id, kind, snapshot, snapshot_seq, heads, bytes, updated_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
    UPDATE_DOCUMENT = "UPDATE documents SET heads = ?3, bytes = ?4, updated_at = ?5
         WHERE institution = ?1 AND id = ?2";
    /// A change already held inserts nothing. Its feed position: SQLite's rowid, handed
    /// out at insert by the one writer; PostgreSQL's at the end of the commit.
    INSERT_CHANGE = "INSERT INTO changes (institution, doc_id, hash, actor, bytes, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
    SET_SNAPSHOT = "UPDATE documents SET snapshot = ?3 WHERE institution = ?1 AND id = ?2";
    /// The snapshot covers every change of the document held now, so its position is
    /// the highest of them (known once the commit's changes have their positions).
    SET_SNAPSHOT_SEQ = "UPDATE documents SET snapshot_seq =
            (SELECT COALESCE(MAX(seq), 0) FROM changes WHERE institution = ?1 AND doc_id = ?2)
         WHERE institution = ?1 AND id = ?2";
    NEWEST_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE institution = ?1";
    /// The sizes first, to cut the page at its byte budget without reading the bytes of
    /// rows beyond it. The device's own changes are skipped in the query, not in pages:
    /// after a big push they would otherwise fill page after empty page, one round trip
    /// each, before the device heard it is up to date.
    FEED_SIZES = "SELECT seq, length(bytes) FROM changes
         WHERE institution = ?1 AND seq > ?2 AND seq <= ?3 AND actor <> ?4
         ORDER BY seq LIMIT ?5";
    FEED_ROWS = "SELECT c.seq, c.doc_id, d.kind, c.bytes FROM changes c
         JOIN documents d ON d.institution = c.institution AND d.id = c.doc_id
         WHERE c.institution = ?1 AND c.seq > ?2 AND c.seq <= ?3 AND c.actor <> ?4
         ORDER BY c.seq";
    ALL_DOCUMENTS = "SELECT institution, id FROM documents ORDER BY institution, id";
    POSITION = super::sql::META_VALUE;
    /// Only forward: a process that lost its turn cannot move it back.
    ADVANCE_POSITION = "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE CAST(meta.value AS BIGINT) < CAST(excluded.value AS BIGINT)";
}

/// A document as stored. Call inside a read transaction (or with the document locked),
/// so the row and its changes are of one moment.
pub(crate) async fn load_doc(tx: &mut dyn Tx, inst: &str, id: &str) -> Result<Option<StoredDoc>> {
    let Some(mut r) = tx.query_opt(DOCUMENT, &args![inst, id]).await? else {
        return Ok(None);
    };
    let (kind, mut bytes, snapshot_seq, heads): (String, Vec<u8>, i64, Vec<u8>) =
        (r.get(0)?, r.take_bytes(1)?, r.get(2)?, r.take_bytes(3)?);
    let changes = tx
        .query(CHANGES_AFTER_SNAPSHOT, &args![inst, id, snapshot_seq])
        .await?;
    for c in &changes {
        bytes.extend_from_slice(c.bytes(0)?);
    }
    Ok(Some(StoredDoc {
        kind,
        bytes,
        heads,
        changes_after_snapshot: changes.len(),
    }))
}

/// The ledger rows of a stored document (for `rebuild_ledger`).
pub(crate) fn derive_ledger(id: &str, bytes: &[u8]) -> Result<LedgerRows> {
    let mut doc = saferound_core::codec::load_stored(bytes)
        .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))?;
    crate::ledger::derive(&mut doc, None)
        .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))
}

/// A feed position read from the database.
fn seq_of(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("bad seq {v}")))
}

impl Store {
    pub async fn load_documents(
        &self,
        institution: InstitutionId,
        ids: Vec<DocId>,
    ) -> Result<HashMap<DocId, StoredDoc>> {
        // One read transaction, so a document's heads and its bytes (two statements)
        // are of one moment: heads newer than the bytes would let a merge built on the
        // older bytes pass the compare-and-swap and commit heads that drop a concurrent
        // change (caught by the storage suite's concurrent writers).
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let inst = institution.to_string();
                    let mut out = HashMap::new();
                    for id in ids {
                        if let Some(d) = load_doc(tx, &inst, &id.to_string()).await? {
                            out.insert(id, d);
                        }
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// Commits every non-stale document in one transaction; returns the stale ones, in
    /// the order of the request. On PostgreSQL a transaction that loses a serialization
    /// race or a deadlock is run again whole (it left nothing behind).
    pub async fn commit(&self, commits: Vec<DocCommit>) -> Result<Vec<DocId>> {
        let commits = Arc::new(commits);
        let mut attempt = 0;
        let stale = loop {
            attempt += 1;
            let these = commits.clone();
            let result = self
                .db
                .write(move |tx| Box::pin(async move { commit_in(tx, &these).await }))
                .await;
            match result {
                Err(e) if attempt <= postgres::RETRIES && postgres::is_race(&e) => {
                    tracing::debug!(attempt, "commit lost a race, running it again: {e}");
                    // A short, growing pause with jitter, so two losers do not meet again.
                    let ms = 5 * u64::from(attempt) + rand::random::<u64>() % 10;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                other => break other?,
            }
        };
        if let Db::Sqlite(d) = &self.db {
            // PostgreSQL announced the commit inside it (to every replica); SQLite's
            // subscribers are all in this process.
            for i in changed_institutions(&commits, &stale) {
                // No subscriber is not an error.
                let _ = d.changes.send(Some(i));
            }
        }
        Ok(stale)
    }

    pub async fn feed(
        &self,
        institution: InstitutionId,
        after: u64,
        skip_actor: Vec<u8>,
        max_bytes: usize,
    ) -> Result<FeedPage> {
        let after_i = i64::try_from(after)
            .map_err(|_| StoreError::Corrupt(format!("feed cursor {after}")))?;
        // One snapshot for `newest` and the rows: the page covers changes up to the
        // newest now, so a change committed while it is read waits for the next sync.
        // Positions become visible in order (see `postgres::assign_feed_positions`), so
        // every change up to `newest` is in the snapshot.
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let inst = institution.to_string();
                    let newest: i64 = tx.query_one(NEWEST_SEQ, &args![&inst]).await?.get(0)?;
                    let sizes = tx
                        .query(
                            FEED_SIZES,
                            &args![&inst, after_i, newest, &skip_actor, FEED_PAGE_ROWS as i64],
                        )
                        .await?;
                    let mut page = FeedPage {
                        items: Vec::new(),
                        cursor: after,
                        more: false,
                    };
                    let (mut bytes, mut take, mut last) = (0usize, 0usize, after_i);
                    for r in &sizes {
                        let len: usize = r.get(1)?;
                        if bytes + len > max_bytes && take > 0 {
                            page.more = true;
                            break;
                        }
                        bytes += len;
                        take += 1;
                        last = r.get(0)?;
                    }
                    if take > 0 {
                        let rows = tx
                            .query(FEED_ROWS, &args![&inst, after_i, last, &skip_actor])
                            .await?;
                        for mut r in rows {
                            let seq = seq_of(r.get(0)?)?;
                            page.items.push(FeedItem {
                                seq,
                                doc_id: parse(&r.get::<String>(1)?, "document id")?,
                                kind: r.get(2)?,
                                bytes: r.take_bytes(3)?,
                            });
                            page.cursor = seq;
                        }
                    }
                    if page.more {
                        return Ok(page);
                    }
                    if page.items.len() == FEED_PAGE_ROWS {
                        page.more = true;
                    } else {
                        // Everything up to `newest` was seen: the rest is the device's own.
                        page.cursor = page.cursor.max(seq_of(newest)?);
                    }
                    Ok(page)
                })
            })
            .await
    }

    /// Rebuilds every ledger row from the documents; returns how many documents.
    pub async fn rebuild_ledger(&self) -> Result<usize> {
        let n = self
            .db
            .write(move |tx| {
                Box::pin(async move {
                    if tx.dialect() == Dialect::Postgres {
                        tx.execute(postgres::EXCLUDE_COMMITS, &[]).await?;
                    }
                    let docs = tx.query(ALL_DOCUMENTS, &[]).await?;
                    for t in &LEDGER_TABLES {
                        tx.execute(&format!("DELETE FROM {}", t.name), &[]).await?;
                    }
                    for r in &docs {
                        let (inst, id): (String, String) = (r.get(0)?, r.get(1)?);
                        let Some(stored) = load_doc(tx, &inst, &id).await? else {
                            continue;
                        };
                        let rows = derive_ledger(&id, &stored.bytes)?;
                        write_ledger(tx, &inst, &id, &rows, false).await?;
                    }
                    super::serials::number_unnumbered(tx).await?;
                    Ok(docs.len())
                })
            })
            .await?;
        // This release's derivation made it (see `rebuild_ledger_if_older`).
        self.advance_position(LEDGER_VERSION_KEY, crate::ledger::LEDGER_VERSION)
            .await?;
        Ok(n)
    }

    /// Rebuilds the ledger when an older derivation than this release's
    /// (`ledger::LEDGER_VERSION`) made it, or none is recorded (a database from before
    /// versions were kept). The number of documents derived again, or `None` when the
    /// ledger was current. Run at start, under `LockFor::Startup`.
    pub async fn rebuild_ledger_if_older(&self) -> Result<Option<usize>> {
        if self
            .position(LEDGER_VERSION_KEY)
            .await?
            .is_some_and(|v| v >= crate::ledger::LEDGER_VERSION)
        {
            return Ok(None);
        }
        Ok(Some(self.rebuild_ledger().await?))
    }

    /// A position the database keeps for the server's own bookkeeping (in `meta`), e.g.
    /// the webhook's cursor.
    pub async fn position(&self, key: &str) -> Result<Option<i64>> {
        let Some(r) = self.db.query_opt(POSITION, &args![key]).await? else {
            return Ok(None);
        };
        let v: String = r.get(0)?;
        v.parse()
            .map(Some)
            .map_err(|_| StoreError::Conflict(format!("{key} is not a number: {v}")))
    }

    /// Moves the position `key` to `value` if that is further (or sets it, if unset): a
    /// process that lost its turn cannot move it back.
    pub async fn advance_position(&self, key: &str, value: i64) -> Result<()> {
        self.db
            .execute(ADVANCE_POSITION, &args![key, value.to_string()])
            .await?;
        Ok(())
    }
}

/// The institutions whose documents a commit changed (those not stale), once each.
fn changed_institutions(commits: &[DocCommit], stale: &[DocId]) -> Vec<InstitutionId> {
    let mut changed: Vec<InstitutionId> = commits
        .iter()
        .filter(|d| !stale.contains(&d.id))
        .map(|d| d.institution)
        .collect();
    changed.sort_unstable();
    changed.dedup();
    changed
}

/// One try of `Store::commit`, inside its transaction.
async fn commit_in(tx: &mut dyn Tx, commits: &[DocCommit]) -> Result<Vec<DocId>> {
    let postgres = tx.dialect() == Dialect::Postgres;
    let heads_sql = if postgres {
        postgres::DOCUMENT_HEADS_FOR_UPDATE
    } else {
        DOCUMENT_HEADS
    };
    let received = now();
    // Documents are locked in one order (institution, id) whatever the request's, so two
    // commits of the same documents wait for each other instead of deadlocking.
    let keys: Vec<(String, String)> = commits
        .iter()
        .map(|d| (d.institution.to_string(), d.id.to_string()))
        .collect();
    let mut order: Vec<usize> = (0..commits.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let mut stale = Vec::new();
    // Changes this transaction added (not already held), waiting for feed positions.
    let mut added = Vec::new();
    let mut snapshots = Vec::new();
    for i in order {
        let d = &commits[i];
        let (inst, id) = &keys[i];
        let current: Option<Vec<u8>> = tx
            .query_opt(heads_sql, &args![inst, id])
            .await?
            .map(|r| r.get(0))
            .transpose()?;
        if current != d.expected_heads {
            stale.push(i);
            continue;
        }
        let bytes = d.bytes as i64;
        if current.is_none() {
            let n = tx
                .execute(
                    INSERT_DOCUMENT,
                    &args![
                        inst,
                        id,
                        &d.kind,
                        Vec::<u8>::new(),
                        &d.new_heads,
                        bytes,
                        &received
                    ],
                )
                .await?;
            if n == 0 {
                stale.push(i);
                continue;
            }
        } else {
            tx.execute(
                UPDATE_DOCUMENT,
                &args![inst, id, &d.new_heads, bytes, &received],
            )
            .await?;
        }
        for ch in &d.changes {
            let n = tx
                .execute(
                    INSERT_CHANGE,
                    &args![inst, id, ch.hash, &ch.actor, &ch.bytes, &received],
                )
                .await?;
            if n == 1 && postgres {
                added.push(postgres::NewChangeKey {
                    institution: inst.clone(),
                    doc_id: id.clone(),
                    hash: ch.hash.to_vec(),
                });
            }
        }
        if let Some(snapshot) = &d.snapshot {
            tx.execute(SET_SNAPSHOT, &args![inst, id, snapshot]).await?;
            snapshots.push(i);
        }
        write_ledger(tx, inst, id, &d.ledger, current.is_some()).await?;
        if current.is_none() && d.ledger.hazard.is_some() {
            super::serials::number(tx, inst, id, &received).await?;
        }
    }
    if postgres {
        postgres::assign_feed_positions(tx, &added).await?;
    }
    for i in snapshots {
        let (inst, id) = &keys[i];
        tx.execute(SET_SNAPSHOT_SEQ, &args![inst, id]).await?;
    }
    // In the order of the request.
    stale.sort_unstable();
    let stale: Vec<DocId> = stale.into_iter().map(|i| commits[i].id).collect();
    if postgres {
        let changed: Vec<String> = changed_institutions(commits, &stale)
            .iter()
            .map(|i| i.to_string())
            .collect();
        postgres::announce(tx, &changed).await?;
    }
    Ok(stale)
}
